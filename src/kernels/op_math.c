/* Elementwise math beyond op_unary.c: trigonometric and hyperbolic functions, Sign, Round,
 * IsNaN, IsInf, the Selu, Celu, ThresholdedRelu and Shrink activations, and the broadcasting
 * two-input Mod. Not for the ops of op_unary.c (Softsign lives there) or op_activation.c. */
#include <math.h>
#include <stdint.h>

#include "kernels/broadcast.h"
#include "kernels/elementwise.h"
#include "kernels/op.h"

static bool numeric_dtype(enum dtype t)
{
    return t == DTYPE_FLOAT || t == DTYPE_INT64 || t == DTYPE_INT32;
}

/* One input, output of the input's type (or out_type when not UNDEFINED). float_only ops
 * refuse the integer types, which ONNX allows for some of them but not these. */
static int one_input(struct op_io *io, bool float_only, enum dtype out_type, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0)
        return -1;
    enum dtype t = io->in[0]->dtype;
    if (float_only ? t != DTYPE_FLOAT : !numeric_dtype(t))
        return op_unsupported(io, err, "element type %s of input 0 (expected %s)", dtype_name(t),
                              float_only ? "float32" : "float32, int64 or int32");
    op_set_out(io, 0, out_type == DTYPE_UNDEFINED ? t : out_type, &io->in[0]->shape);
    return 0;
}

static int float_shape(struct op_io *io, struct err *err)
{
    return one_input(io, true, DTYPE_UNDEFINED, err);
}

static int numeric_shape(struct op_io *io, struct err *err)
{
    return one_input(io, false, DTYPE_UNDEFINED, err);
}

static int predicate_shape(struct op_io *io, struct err *err)
{
    return one_input(io, true, DTYPE_BOOL, err);
}

/* Selu's defaults are the float32 values of the constants of Klambauer et al., as the spec
 * writes them. */
#define SELU_ALPHA 1.67326319217681884765625f
#define SELU_GAMMA 1.05070102214813232421875f

#define SELU_PREP                                                                                  \
    float alpha = node_attr_float(io->node, "alpha", SELU_ALPHA);                                  \
    float gamma = node_attr_float(io->node, "gamma", SELU_GAMMA)

DEFINE_FLOAT_RUN(sin, (void)0, sinf(v))
DEFINE_FLOAT_RUN(cos, (void)0, cosf(v))
DEFINE_FLOAT_RUN(tan, (void)0, tanf(v))
DEFINE_FLOAT_RUN(asin, (void)0, asinf(v))
DEFINE_FLOAT_RUN(acos, (void)0, acosf(v))
DEFINE_FLOAT_RUN(atan, (void)0, atanf(v))
DEFINE_FLOAT_RUN(sinh, (void)0, sinhf(v))
DEFINE_FLOAT_RUN(cosh, (void)0, coshf(v))
DEFINE_FLOAT_RUN(asinh, (void)0, asinhf(v))
DEFINE_FLOAT_RUN(acosh, (void)0, acoshf(v))
DEFINE_FLOAT_RUN(atanh, (void)0, atanhf(v))
/* nearbyintf rounds in the current mode, which is round-half-to-even unless someone changed
 * it (nothing in prunescope does): 2.5 -> 2, -1.5 -> -2, as the spec asks. */
DEFINE_FLOAT_RUN(round, (void)0, nearbyintf(v))
DEFINE_FLOAT_RUN(selu, SELU_PREP, v > 0.0f ? gamma * v : gamma * (alpha * expf(v) - alpha))
/* max(0, x) + min(0, alpha (e^(x/alpha) - 1)); expm1f keeps small negative x precise. */
DEFINE_FLOAT_RUN(celu, float alpha = node_attr_float(io->node, "alpha", 1.0f),
                 v > 0.0f ? v : alpha * expm1f(v / alpha))
DEFINE_FLOAT_RUN(thresholdedrelu, float alpha = node_attr_float(io->node, "alpha", 1.0f),
                 v > alpha ? v : 0.0f)

DEFINE_FLOAT_BACKWARD(sin, (void)0, cosf(v))
DEFINE_FLOAT_BACKWARD(cos, (void)0, -sinf(v))
/* For x <= 0, gamma alpha e^x = y + gamma alpha. */
DEFINE_FLOAT_BACKWARD(selu, SELU_PREP, v > 0.0f ? gamma : o + gamma * alpha)
/* For x <= 0, e^(x/alpha) = y / alpha + 1. */
DEFINE_FLOAT_BACKWARD(celu, float alpha = node_attr_float(io->node, "alpha", 1.0f),
                      v > 0.0f ? 1.0f : o / alpha + 1.0f)
DEFINE_FLOAT_BACKWARD(thresholdedrelu, float alpha = node_attr_float(io->node, "alpha", 1.0f),
                      v > alpha ? 1.0f : 0.0f)

static int celu_shape(struct op_io *io, struct err *err)
{
    float alpha = node_attr_float(io->node, "alpha", 1.0f);
    if (alpha == 0.0f)
        return op_fail(io, err, "attribute alpha is 0 (Celu divides by it)");
    return float_shape(io, err);
}

static int isnan_run(struct op_io *io, struct err *err)
{
    const float *x = tensor_f32(io->in[0]);
    uint8_t *y = tensor_bool(io->out[0]);
    size_t n = tensor_numel(io->in[0]);
    for (size_t i = 0; i < n; i++)
        y[i] = isnan(x[i]) ? 1 : 0;
    return 0;
}

static int isinf_run(struct op_io *io, struct err *err)
{
    bool pos = node_attr_int(io->node, "detect_positive", 1) != 0;
    bool neg = node_attr_int(io->node, "detect_negative", 1) != 0;
    const float *x = tensor_f32(io->in[0]);
    uint8_t *y = tensor_bool(io->out[0]);
    size_t n = tensor_numel(io->in[0]);
    for (size_t i = 0; i < n; i++)
        y[i] = isinf(x[i]) && (x[i] > 0.0f ? pos : neg) ? 1 : 0;
    return 0;
}

/* Sign on any numeric type; NaN stays NaN (as numpy's sign). */
static int sign_run(struct op_io *io, struct err *err)
{
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    size_t n = tensor_numel(x);
    for (size_t i = 0; i < n; i++) {
        switch (x->dtype) {
        case DTYPE_INT64: {
            int64_t v = tensor_i64(x)[i];
            tensor_i64(y)[i] = (v > 0) - (v < 0);
            break;
        }
        case DTYPE_INT32: {
            int32_t v = tensor_i32(x)[i];
            tensor_i32(y)[i] = (v > 0) - (v < 0);
            break;
        }
        default: {
            float v = tensor_f32(x)[i];
            tensor_f32(y)[i] = isnan(v) ? v : (float)((v > 0.0f) - (v < 0.0f));
            break;
        }
        }
    }
    return 0;
}

/* A double truncated toward zero into int64, saturating (C leaves overflow undefined). */
static int64_t to_int(double v)
{
    if (isnan(v))
        return 0;
    if (v >= 0x1p63)
        return INT64_MAX;
    if (v < -0x1p63)
        return INT64_MIN;
    return (int64_t)v;
}

/* Shrink: x + bias below -lambd, x - bias above lambd, 0 between. Integer inputs compute
 * in double and truncate back, as onnxruntime casts its float result to the input type. */
static int shrink_run(struct op_io *io, struct err *err)
{
    double lambd = node_attr_float(io->node, "lambd", 0.5f);
    double bias = node_attr_float(io->node, "bias", 0.0f);
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    size_t n = tensor_numel(x);
    if (x->dtype == DTYPE_FLOAT) {
        float l = (float)lambd, b = (float)bias;
        const float *xv = tensor_f32(x);
        float *yv = tensor_f32(y);
        for (size_t i = 0; i < n; i++)
            yv[i] = xv[i] < -l ? xv[i] + b : (xv[i] > l ? xv[i] - b : 0.0f);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        double v = x->dtype == DTYPE_INT64 ? (double)tensor_i64(x)[i] : tensor_i32(x)[i];
        int64_t r = to_int(v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0));
        if (x->dtype == DTYPE_INT64)
            tensor_i64(y)[i] = r;
        else
            tensor_i32(y)[i] =
                (int32_t)(r > INT32_MAX ? INT32_MAX : (r < INT32_MIN ? INT32_MIN : r));
    }
    return 0;
}

#define FLOAT_OP(VAR, NAME, RUN)                                                                   \
    const struct op_def VAR = {.name = NAME, .shape = float_shape, .run = RUN##_run}
#define FLOAT_OP_GRAD(VAR, NAME, SHAPE, RUN)                                                       \
    const struct op_def VAR = {                                                                    \
        .name = NAME, .shape = SHAPE, .run = RUN##_run, .backward = RUN##_backward}

FLOAT_OP_GRAD(op_sin, "Sin", float_shape, sin);
FLOAT_OP_GRAD(op_cos, "Cos", float_shape, cos);
FLOAT_OP(op_tan, "Tan", tan);
FLOAT_OP(op_asin, "Asin", asin);
FLOAT_OP(op_acos, "Acos", acos);
FLOAT_OP(op_atan, "Atan", atan);
FLOAT_OP(op_sinh, "Sinh", sinh);
FLOAT_OP(op_cosh, "Cosh", cosh);
FLOAT_OP(op_asinh, "Asinh", asinh);
FLOAT_OP(op_acosh, "Acosh", acosh);
FLOAT_OP(op_atanh, "Atanh", atanh);
FLOAT_OP(op_round, "Round", round);
FLOAT_OP_GRAD(op_selu, "Selu", float_shape, selu);
FLOAT_OP_GRAD(op_celu, "Celu", celu_shape, celu);
FLOAT_OP_GRAD(op_thresholdedrelu, "ThresholdedRelu", float_shape, thresholdedrelu);
const struct op_def op_isnan = {.name = "IsNaN", .shape = predicate_shape, .run = isnan_run};
const struct op_def op_isinf = {.name = "IsInf", .shape = predicate_shape, .run = isinf_run};
const struct op_def op_sign = {.name = "Sign", .shape = numeric_shape, .run = sign_run};
const struct op_def op_shrink = {.name = "Shrink", .shape = numeric_shape, .run = shrink_run};

/* ---- Mod: A mod B, broadcast. fmod = 0 (integers only) takes the divisor's sign, like
 * Python's %; fmod = 1 takes the dividend's, like C's fmod and %. An integer divisor of 0
 * gives 0 (ONNX leaves it undefined; C would trap). */

struct mod_ctx {
    const void *a, *b;
    void *out;
    bool c_style;
};

#define DEFINE_MOD_INNER(NAME, T)                                                                  \
    static void NAME(void *opaque, size_t oa, size_t ob, size_t oo, size_t n, size_t sa,           \
                     size_t sb)                                                                    \
    {                                                                                              \
        const struct mod_ctx *c = opaque;                                                          \
        const T *a = c->a, *b = c->b;                                                              \
        T *o = (T *)c->out + oo;                                                                   \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = a[oa + i * sa], y = b[ob + i * sb];                                              \
            /* y == -1 also avoids MIN % -1, which overflows. */                                   \
            T r = (y == 0 || y == -1) ? 0 : x % y;                                                 \
            if (!c->c_style && r != 0 && ((r < 0) != (y < 0)))                                     \
                r += y;                                                                            \
            o[i] = r;                                                                              \
        }                                                                                          \
    }

DEFINE_MOD_INNER(mod_i64, int64_t)
DEFINE_MOD_INNER(mod_i32, int32_t)

static void mod_f32(void *opaque, size_t oa, size_t ob, size_t oo, size_t n, size_t sa, size_t sb)
{
    const struct mod_ctx *c = opaque;
    const float *a = c->a, *b = c->b;
    float *o = (float *)c->out + oo;
    for (size_t i = 0; i < n; i++)
        o[i] = fmodf(a[oa + i * sa], b[ob + i * sb]);
}

static int mod_fmod(const struct op_io *io, bool *c_style, struct err *err)
{
    int64_t f = node_attr_int(io->node, "fmod", 0);
    if (f != 0 && f != 1)
        return op_fail(io, err, "attribute fmod is %lld, expected 0 or 1", (long long)f);
    if (f == 0 && io->in[0]->dtype == DTYPE_FLOAT)
        return op_fail(io, err, "attribute fmod is 0, but must be 1 for float32 inputs");
    *c_style = f == 1;
    return 0;
}

static int mod_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0)
        return -1;
    const struct tensor *a = io->in[0], *b = io->in[1];
    if (!numeric_dtype(a->dtype))
        return op_unsupported(io, err, "element type %s (expected float32, int64 or int32)",
                              dtype_name(a->dtype));
    if (a->dtype != b->dtype)
        return op_fail(io, err, "inputs have different element types (%s and %s)",
                       dtype_name(a->dtype), dtype_name(b->dtype));
    bool c_style;
    if (mod_fmod(io, &c_style, err) < 0)
        return -1;
    struct shape out;
    if (op_broadcast_inputs(io, &out, err) < 0)
        return -1;
    op_set_out(io, 0, a->dtype, &out);
    return 0;
}

static int mod_run(struct op_io *io, struct err *err)
{
    const struct tensor *a = io->in[0], *b = io->in[1];
    struct tensor *o = io->out[0];
    struct mod_ctx c = {.a = a->data, .b = b->data, .out = o->data};
    if (mod_fmod(io, &c.c_style, err) < 0)
        return -1;
    bcast_inner_fn inner = a->dtype == DTYPE_FLOAT   ? mod_f32
                           : a->dtype == DTYPE_INT32 ? mod_i32
                                                     : mod_i64;
    struct bcast bc;
    bcast_init(&bc, &a->shape, &b->shape, &o->shape);
    bcast_for_each(&bc, inner, &c);
    return 0;
}

const struct op_def op_mod = {.name = "Mod", .shape = mod_shape, .run = mod_run};
