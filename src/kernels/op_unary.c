/* Elementwise math of one input: Sqrt, Reciprocal, Exp, Log, Neg, Abs, Erf, Gelu, Elu,
 * Softplus, Floor, Ceil, Softsign, with their gradients where they are simple. Not the
 * activations with slopes and clamps (op_activation.c) or ops that read two inputs. */
#include <math.h>
#include <string.h>

#include "kernels/elementwise.h"
#include "kernels/op.h"

/* Float-only ops; Neg and Abs also take int64 and int32 (float_only false). */
static int unary_check(struct op_io *io, bool float_only, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0)
        return -1;
    enum dtype t = io->in[0]->dtype;
    if (t != DTYPE_FLOAT && (float_only || (t != DTYPE_INT64 && t != DTYPE_INT32)))
        return op_unsupported(io, err, "element type %s (expected %s)", dtype_name(t),
                              float_only ? "float32" : "float32, int64 or int32");
    op_set_out(io, 0, t, &io->in[0]->shape);
    return 0;
}

static int float_shape(struct op_io *io, struct err *err)
{
    return unary_check(io, true, err);
}

static int numeric_shape(struct op_io *io, struct err *err)
{
    return unary_check(io, false, err);
}

/* Gelu's approximate attribute must be "none" or "tanh"; read by shape and run alike. */
static int gelu_tanh(const struct op_io *io, bool *tanh_form, struct err *err)
{
    const char *a = node_attr_string(io->node, "approximate", "none");
    if (strcmp(a, "none") != 0 && strcmp(a, "tanh") != 0)
        return op_fail(io, err, "attribute approximate is '%s', expected 'none' or 'tanh'", a);
    *tanh_form = strcmp(a, "tanh") == 0;
    return 0;
}

static int gelu_shape(struct op_io *io, struct err *err)
{
    bool tanh_form;
    if (gelu_tanh(io, &tanh_form, err) < 0)
        return -1;
    return unary_check(io, true, err);
}

#define SQRT1_2          0.70710678118654752f /* 1/sqrt(2) */
#define INV_SQRT_2PI     0.3989422804014327f  /* 1/sqrt(2 pi) */
#define SQRT_2_OVER_PI   0.7978845608028654f
#define TWO_OVER_SQRT_PI 1.1283791670955126f
#define GELU_C           0.044715f

/* log(1 + e^v) without overflow for large v or loss of precision for very negative v. */
static inline float softplus(float v)
{
    return v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v));
}

static inline float sigmoid(float v)
{
    return v >= 0.0f ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
}

DEFINE_FLOAT_RUN(sqrt, (void)0, sqrtf(v))
DEFINE_FLOAT_RUN(reciprocal, (void)0, 1.0f / v)
DEFINE_FLOAT_RUN(exp, (void)0, expf(v))
DEFINE_FLOAT_RUN(log, (void)0, logf(v))
DEFINE_FLOAT_RUN(erf, (void)0, erff(v))
DEFINE_FLOAT_RUN(elu, float alpha = node_attr_float(io->node, "alpha", 1.0f),
                 v < 0.0f ? alpha * expm1f(v) : v)
DEFINE_FLOAT_RUN(softplus, (void)0, softplus(v))
DEFINE_FLOAT_RUN(floor, (void)0, floorf(v))
DEFINE_FLOAT_RUN(ceil, (void)0, ceilf(v))
DEFINE_FLOAT_RUN(softsign, (void)0, v / (1.0f + fabsf(v)))

DEFINE_FLOAT_BACKWARD(sqrt, (void)0, 0.5f / o)
DEFINE_FLOAT_BACKWARD(reciprocal, (void)0, -o *o)
DEFINE_FLOAT_BACKWARD(exp, (void)0, o)
DEFINE_FLOAT_BACKWARD(log, (void)0, 1.0f / v)
DEFINE_FLOAT_BACKWARD(erf, (void)0, TWO_OVER_SQRT_PI *expf(-v *v))
/* For v < 0, alpha e^v = y + alpha. */
DEFINE_FLOAT_BACKWARD(elu, float alpha = node_attr_float(io->node, "alpha", 1.0f),
                      v < 0.0f ? o + alpha : 1.0f)
DEFINE_FLOAT_BACKWARD(softplus, (void)0, sigmoid(v))
DEFINE_FLOAT_BACKWARD(rounding, (void)0, 0.0f)
DEFINE_FLOAT_BACKWARD(softsign, float d, (d = 1.0f + fabsf(v), 1.0f / (d * d)))
DEFINE_FLOAT_BACKWARD(neg, (void)0, -1.0f)
/* The subgradient 0 at 0, as PyTorch uses. */
DEFINE_FLOAT_BACKWARD(abs, (void)0, v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f))

/* Gelu: x Phi(x) exactly (erf) or with the tanh approximation. */
static int gelu_run(struct op_io *io, struct err *err)
{
    bool tanh_form;
    if (gelu_tanh(io, &tanh_form, err) < 0)
        return -1;
    const float *x = tensor_f32(io->in[0]);
    float *y = tensor_f32(io->out[0]);
    size_t n = tensor_numel(io->in[0]);
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float t = tanh_form ? tanhf(SQRT_2_OVER_PI * (v + GELU_C * v * v * v)) : erff(v * SQRT1_2);
        y[i] = 0.5f * v * (1.0f + t);
    }
    return 0;
}

static int gelu_backward(const struct op_io *io, const struct tensor *const *dout,
                         struct tensor *const *din, struct err *err)
{
    if (!din[0])
        return 0;
    bool tanh_form;
    if (gelu_tanh(io, &tanh_form, err) < 0)
        return -1;
    const float *x = tensor_f32(io->in[0]), *dy = tensor_f32(dout[0]);
    float *dx = tensor_f32(din[0]);
    size_t n = tensor_numel(io->in[0]);
    for (size_t i = 0; i < n; i++) {
        float v = x[i], d;
        if (tanh_form) {
            float u = SQRT_2_OVER_PI * (v + GELU_C * v * v * v);
            float t = tanhf(u);
            float du = SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_C * v * v);
            d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du;
        } else {
            d = 0.5f * (1.0f + erff(v * SQRT1_2)) + v * INV_SQRT_2PI * expf(-0.5f * v * v);
        }
        dx[i] += dy[i] * d;
    }
    return 0;
}

/* Neg and Abs on any numeric type. Negating INT64_MIN wraps (as two's complement does in
 * onnxruntime) rather than being undefined. */
static int neg_run(struct op_io *io, struct err *err)
{
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    size_t n = tensor_numel(x);
    for (size_t i = 0; i < n; i++) {
        switch (x->dtype) {
        case DTYPE_INT64: tensor_i64(y)[i] = (int64_t)(0u - (uint64_t)tensor_i64(x)[i]); break;
        case DTYPE_INT32: tensor_i32(y)[i] = (int32_t)(0u - (uint32_t)tensor_i32(x)[i]); break;
        default: tensor_f32(y)[i] = -tensor_f32(x)[i]; break;
        }
    }
    return 0;
}

static int abs_run(struct op_io *io, struct err *err)
{
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    size_t n = tensor_numel(x);
    for (size_t i = 0; i < n; i++) {
        switch (x->dtype) {
        case DTYPE_INT64: {
            int64_t v = tensor_i64(x)[i];
            tensor_i64(y)[i] = v < 0 ? (int64_t)(0u - (uint64_t)v) : v;
            break;
        }
        case DTYPE_INT32: {
            int32_t v = tensor_i32(x)[i];
            tensor_i32(y)[i] = v < 0 ? (int32_t)(0u - (uint32_t)v) : v;
            break;
        }
        default: tensor_f32(y)[i] = fabsf(tensor_f32(x)[i]); break;
        }
    }
    return 0;
}

#define FLOAT_OP(VAR, NAME, RUN, BACKWARD)                                                         \
    const struct op_def VAR = {                                                                    \
        .name = NAME, .shape = float_shape, .run = RUN##_run, .backward = BACKWARD##_backward}

FLOAT_OP(op_sqrt, "Sqrt", sqrt, sqrt);
FLOAT_OP(op_reciprocal, "Reciprocal", reciprocal, reciprocal);
FLOAT_OP(op_exp, "Exp", exp, exp);
FLOAT_OP(op_log, "Log", log, log);
FLOAT_OP(op_erf, "Erf", erf, erf);
FLOAT_OP(op_elu, "Elu", elu, elu);
FLOAT_OP(op_softplus, "Softplus", softplus, softplus);
FLOAT_OP(op_floor, "Floor", floor, rounding);
FLOAT_OP(op_ceil, "Ceil", ceil, rounding);
FLOAT_OP(op_softsign, "Softsign", softsign, softsign);
const struct op_def op_gelu = {
    .name = "Gelu", .shape = gelu_shape, .run = gelu_run, .backward = gelu_backward};
const struct op_def op_neg = {
    .name = "Neg", .shape = numeric_shape, .run = neg_run, .backward = neg_backward};
const struct op_def op_abs = {
    .name = "Abs", .shape = numeric_shape, .run = abs_run, .backward = abs_backward};
