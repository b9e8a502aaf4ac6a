/* Elementwise Add, Sub, Mul, Div and Pow, and the variadic Min and Max, with numpy-style
 * broadcasting on float32, int64 and int32. Not for PRelu's one-directional broadcasting
 * (op_activation.c) or for comparisons that yield bool (op_compare.c). */
#include <math.h>
#include <string.h>

#include "kernels/broadcast.h"
#include "kernels/op.h"

enum binop { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

struct bin_ctx {
    enum binop op;
    const void *a, *b;
    void *out;
};

#define DEFINE_INNER(NAME, T, EXPR)                                                                \
    static void NAME(void *opaque, size_t oa, size_t ob, size_t oo, size_t n, size_t sa,           \
                     size_t sb)                                                                    \
    {                                                                                              \
        const struct bin_ctx *c = opaque;                                                          \
        const T *a = (const T *)c->a + oa, *b = (const T *)c->b + ob;                              \
        T *o = (T *)c->out + oo;                                                                   \
        if (sa == 1 && sb == 1) {                                                                  \
            for (size_t i = 0; i < n; i++) {                                                       \
                T x = a[i], y = b[i];                                                              \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
        } else if (sa == 1) {                                                                      \
            T y = b[0];                                                                            \
            for (size_t i = 0; i < n; i++) {                                                       \
                T x = a[i];                                                                        \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
        } else {                                                                                   \
            for (size_t i = 0; i < n; i++) {                                                       \
                T x = a[i * sa], y = b[i * sb];                                                    \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_INNER(add_f32, float, x + y)
DEFINE_INNER(sub_f32, float, x - y)
DEFINE_INNER(mul_f32, float, x *y)
DEFINE_INNER(div_f32, float, x / y)
DEFINE_INNER(add_i64, int64_t, x + y)
DEFINE_INNER(sub_i64, int64_t, x - y)
DEFINE_INNER(mul_i64, int64_t, x *y)
DEFINE_INNER(div_i64, int64_t, y == 0 ? 0 : x / y)
DEFINE_INNER(add_i32, int32_t, x + y)
DEFINE_INNER(sub_i32, int32_t, x - y)
DEFINE_INNER(mul_i32, int32_t, x *y)
DEFINE_INNER(div_i32, int32_t, y == 0 ? 0 : x / y)

static const bcast_inner_fn INNER_F32[] = {add_f32, sub_f32, mul_f32, div_f32};
static const bcast_inner_fn INNER_I64[] = {add_i64, sub_i64, mul_i64, div_i64};
static const bcast_inner_fn INNER_I32[] = {add_i32, sub_i32, mul_i32, div_i32};

static bool numeric_dtype(enum dtype t)
{
    return t == DTYPE_FLOAT || t == DTYPE_INT64 || t == DTYPE_INT32;
}

/* The broadcast shape of inputs lo..n_in-1 into *out; fails naming the first that does not
 * fit. */
static int broadcast_inputs(const struct op_io *io, int lo, struct shape *out, struct err *err)
{
    *out = io->in[lo]->shape;
    for (int i = lo + 1; i < io->n_in; i++) {
        struct shape next;
        if (op_broadcast_shape(out, &io->in[i]->shape, &next) < 0) {
            char sa[96], sb[96];
            return op_fail(io, err, "shapes %s and %s (input %d) cannot be broadcast together",
                           shape_format(out, sa, sizeof sa),
                           shape_format(&io->in[i]->shape, sb, sizeof sb), i);
        }
        *out = next;
    }
    return 0;
}

static int binary_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0)
        return -1;
    const struct tensor *a = io->in[0], *b = io->in[1];
    if (a->dtype != b->dtype)
        return op_fail(io, err, "inputs have different element types (%s and %s)",
                       dtype_name(a->dtype), dtype_name(b->dtype));
    if (!numeric_dtype(a->dtype))
        return op_unsupported(io, err, "element type %s (expected float32, int64 or int32)",
                              dtype_name(a->dtype));
    struct shape out;
    if (op_broadcast_inputs(io, &out, err) < 0)
        return -1;
    op_set_out(io, 0, a->dtype, &out);
    return 0;
}

static int binary_run(struct op_io *io, enum binop op)
{
    const struct tensor *a = io->in[0], *b = io->in[1];
    struct tensor *o = io->out[0];
    struct bin_ctx c = {.op = op, .a = a->data, .b = b->data, .out = o->data};
    bcast_inner_fn inner = a->dtype == DTYPE_FLOAT   ? INNER_F32[op]
                           : a->dtype == DTYPE_INT32 ? INNER_I32[op]
                                                     : INNER_I64[op];
    /* b broadcast as the left operand is rare; swap strides only for commutative ops. */
    struct bcast bc;
    bcast_init(&bc, &a->shape, &b->shape, &o->shape);
    bcast_for_each(&bc, inner, &c);
    return 0;
}

static int add_run(struct op_io *io, struct err *err)
{
    return binary_run(io, BIN_ADD);
}
static int sub_run(struct op_io *io, struct err *err)
{
    return binary_run(io, BIN_SUB);
}
static int mul_run(struct op_io *io, struct err *err)
{
    return binary_run(io, BIN_MUL);
}
static int div_run(struct op_io *io, struct err *err)
{
    return binary_run(io, BIN_DIV);
}

/* Add and Sub: each input's gradient is the output's, summed over the dims it was broadcast
 * along (negated for Sub's second input). */
struct bin_grad {
    const float *dy;
    float *da, *db;
    float sign_b;
};

static void add_grad_inner(void *opaque, size_t oa, size_t ob, size_t oo, size_t n, size_t sa,
                           size_t sb)
{
    const struct bin_grad *c = opaque;
    for (size_t i = 0; i < n; i++) {
        float g = c->dy[oo + i];
        if (c->da)
            c->da[oa + i * sa] += g;
        if (c->db)
            c->db[ob + i * sb] += c->sign_b * g;
    }
}

static int addsub_backward(const struct op_io *io, const struct tensor *const *dout,
                           struct tensor *const *din, float sign_b, struct err *err)
{
    if (io->in[0]->dtype != DTYPE_FLOAT)
        return op_unsupported(io, err, "the gradient of integer %s", io->node->op_type);
    struct bin_grad c = {.dy = tensor_f32(dout[0]),
                         .da = din[0] ? tensor_f32(din[0]) : NULL,
                         .db = din[1] ? tensor_f32(din[1]) : NULL,
                         .sign_b = sign_b};
    struct bcast bc;
    bcast_init(&bc, &io->in[0]->shape, &io->in[1]->shape, &io->out[0]->shape);
    bcast_for_each(&bc, add_grad_inner, &c);
    return 0;
}

static int add_backward(const struct op_io *io, const struct tensor *const *dout,
                        struct tensor *const *din, struct err *err)
{
    return addsub_backward(io, dout, din, 1.0f, err);
}

static int sub_backward(const struct op_io *io, const struct tensor *const *dout,
                        struct tensor *const *din, struct err *err)
{
    return addsub_backward(io, dout, din, -1.0f, err);
}

/* Mul: dA = dY * B and dB = dY * A, each summed over the dims it was broadcast along. */
struct mul_grad {
    const float *dy, *a, *b;
    float *da, *db;
    const struct bcast *bc;
};

static void mul_grad_inner(void *opaque, size_t oa, size_t ob, size_t oo, size_t n, size_t sa,
                           size_t sb)
{
    const struct mul_grad *c = opaque;
    for (size_t i = 0; i < n; i++) {
        float g = c->dy[oo + i];
        if (c->da)
            c->da[oa + i * sa] += g * c->b[ob + i * sb];
        if (c->db)
            c->db[ob + i * sb] += g * c->a[oa + i * sa];
    }
}

static int mul_backward(const struct op_io *io, const struct tensor *const *dout,
                        struct tensor *const *din, struct err *err)
{
    if (io->in[0]->dtype != DTYPE_FLOAT)
        return op_unsupported(io, err, "the gradient of integer Mul");
    struct bcast bc;
    bcast_init(&bc, &io->in[0]->shape, &io->in[1]->shape, &io->out[0]->shape);
    struct mul_grad c = {.dy = tensor_f32(dout[0]),
                         .a = tensor_f32(io->in[0]),
                         .b = tensor_f32(io->in[1]),
                         .da = din[0] ? tensor_f32(din[0]) : NULL,
                         .db = din[1] ? tensor_f32(din[1]) : NULL,
                         .bc = &bc};
    bcast_for_each(&bc, mul_grad_inner, &c);
    return 0;
}

const struct op_def op_add = {
    .name = "Add", .shape = binary_shape, .run = add_run, .backward = add_backward};
const struct op_def op_sub = {
    .name = "Sub", .shape = binary_shape, .run = sub_run, .backward = sub_backward};
const struct op_def op_mul = {
    .name = "Mul", .shape = binary_shape, .run = mul_run, .backward = mul_backward};
const struct op_def op_div = {.name = "Div", .shape = binary_shape, .run = div_run};

/* ---- Pow: the base's type is the output's; the exponent may be of another numeric type. */

/* Element i of a numeric tensor's data as a double (int64 beyond 2^53 rounds). */
static inline double num_at(const void *data, enum dtype t, size_t i)
{
    switch (t) {
    case DTYPE_FLOAT: return ((const float *)data)[i];
    case DTYPE_INT32: return ((const int32_t *)data)[i];
    default: return (double)((const int64_t *)data)[i];
    }
}

static inline int64_t int_at(const void *data, enum dtype t, size_t i)
{
    return t == DTYPE_INT32 ? ((const int32_t *)data)[i] : ((const int64_t *)data)[i];
}

/* base^e in integers, wrapping on overflow as two's complement does. A negative exponent
 * gives the quotient 1 / base^-e truncated: 1 for base 1, +-1 for base -1, otherwise 0. */
static int64_t ipow(int64_t base, int64_t e)
{
    if (e < 0)
        return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)base;
    for (uint64_t k = (uint64_t)e; k; k >>= 1) {
        if (k & 1)
            r *= b;
        b *= b;
    }
    return (int64_t)r;
}

/* A double truncated toward zero, saturating at the int64 range; NaN becomes 0 (C leaves
 * both undefined). */
static int64_t trunc_to_int(double v)
{
    if (isnan(v))
        return 0;
    if (v >= 0x1p63)
        return INT64_MAX;
    if (v < -0x1p63)
        return INT64_MIN;
    return (int64_t)v;
}

struct pow_ctx {
    const void *a, *b;
    void *out;
    enum dtype ta, tb;
};

static void pow_inner(void *opaque, size_t oa, size_t ob, size_t oo, size_t n, size_t sa, size_t sb)
{
    const struct pow_ctx *c = opaque;
    if (c->ta == DTYPE_FLOAT && c->tb == DTYPE_FLOAT) {
        const float *a = c->a, *b = c->b;
        float *o = (float *)c->out + oo;
        for (size_t i = 0; i < n; i++)
            o[i] = powf(a[oa + i * sa], b[ob + i * sb]);
        return;
    }
    bool int_exp = c->tb != DTYPE_FLOAT;
    for (size_t i = 0; i < n; i++) {
        size_t ia = oa + i * sa, ib = ob + i * sb;
        if (c->ta == DTYPE_FLOAT) {
            ((float *)c->out)[oo + i] =
                (float)pow(((const float *)c->a)[ia], num_at(c->b, c->tb, ib));
            continue;
        }
        int64_t r = int_exp ? ipow(int_at(c->a, c->ta, ia), int_at(c->b, c->tb, ib))
                            : trunc_to_int(pow(num_at(c->a, c->ta, ia), num_at(c->b, c->tb, ib)));
        if (c->ta == DTYPE_INT32)
            ((int32_t *)c->out)[oo + i] = (int32_t)(uint32_t)(uint64_t)r;
        else
            ((int64_t *)c->out)[oo + i] = r;
    }
}

static int pow_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0)
        return -1;
    for (int i = 0; i < 2; i++)
        if (!numeric_dtype(io->in[i]->dtype))
            return op_unsupported(io, err,
                                  "element type %s of the %s (expected float32, int64 or "
                                  "int32)",
                                  dtype_name(io->in[i]->dtype), i ? "exponent" : "base");
    struct shape out;
    if (broadcast_inputs(io, 0, &out, err) < 0)
        return -1;
    op_set_out(io, 0, io->in[0]->dtype, &out);
    return 0;
}

static int pow_run(struct op_io *io, struct err *err)
{
    const struct tensor *a = io->in[0], *b = io->in[1];
    struct tensor *o = io->out[0];
    struct pow_ctx c = {a->data, b->data, o->data, a->dtype, b->dtype};
    struct bcast bc;
    bcast_init(&bc, &a->shape, &b->shape, &o->shape);
    bcast_for_each(&bc, pow_inner, &c);
    return 0;
}

/* Pow of a float base: dA = dY * e * x^(e-1); for a float exponent also
 * dE = dY * y * ln(x), taken as 0 where x <= 0 (where x^e is not differentiable in e). */
struct pow_grad {
    const float *dy, *x, *y;
    const void *e;
    enum dtype te;
    float *dx, *de;
};

static void pow_grad_inner(void *opaque, size_t oa, size_t ob, size_t oo, size_t n, size_t sa,
                           size_t sb)
{
    const struct pow_grad *c = opaque;
    for (size_t i = 0; i < n; i++) {
        size_t ia = oa + i * sa, ib = ob + i * sb;
        float g = c->dy[oo + i], x = c->x[ia];
        float e = (float)num_at(c->e, c->te, ib);
        if (c->dx)
            c->dx[ia] += g * e * powf(x, e - 1.0f);
        if (c->de && x > 0.0f)
            c->de[ib] += g * c->y[oo + i] * logf(x);
    }
}

static int pow_backward(const struct op_io *io, const struct tensor *const *dout,
                        struct tensor *const *din, struct err *err)
{
    if (io->in[0]->dtype != DTYPE_FLOAT)
        return op_unsupported(io, err, "the gradient of integer Pow");
    struct pow_grad c = {.dy = tensor_f32(dout[0]),
                         .x = tensor_f32(io->in[0]),
                         .y = tensor_f32(io->out[0]),
                         .e = io->in[1]->data,
                         .te = io->in[1]->dtype,
                         .dx = din[0] ? tensor_f32(din[0]) : NULL,
                         .de =
                             din[1] && io->in[1]->dtype == DTYPE_FLOAT ? tensor_f32(din[1]) : NULL};
    struct bcast bc;
    bcast_init(&bc, &io->in[0]->shape, &io->in[1]->shape, &io->out[0]->shape);
    bcast_for_each(&bc, pow_grad_inner, &c);
    return 0;
}

const struct op_def op_pow = {
    .name = "Pow", .shape = pow_shape, .run = pow_run, .backward = pow_backward};

/* ---- Min and Max: any number of inputs of one type, all broadcast together. A NaN operand
 * gives NaN, as numpy's minimum and maximum do. */

DEFINE_INNER(min_f32, float, isnan(x) || x < y ? x : y)
DEFINE_INNER(max_f32, float, isnan(x) || x > y ? x : y)
DEFINE_INNER(min_i64, int64_t, x < y ? x : y)
DEFINE_INNER(max_i64, int64_t, x > y ? x : y)
DEFINE_INNER(min_i32, int32_t, x < y ? x : y)
DEFINE_INNER(max_i32, int32_t, x > y ? x : y)

static int minmax_shape(struct op_io *io, struct err *err)
{
    if (io->n_in < 1)
        return op_fail(io, err, "expects at least 1 input, has 0");
    for (int i = 0; i < io->n_in; i++) {
        if (!io->in[i])
            return op_fail(io, err, "input %d is missing", i);
        if (io->in[i]->dtype != io->in[0]->dtype)
            return op_fail(io, err, "input %d has element type %s, input 0 has %s", i,
                           dtype_name(io->in[i]->dtype), dtype_name(io->in[0]->dtype));
    }
    if (!numeric_dtype(io->in[0]->dtype))
        return op_unsupported(io, err, "element type %s (expected float32, int64 or int32)",
                              dtype_name(io->in[0]->dtype));
    struct shape out;
    if (broadcast_inputs(io, 0, &out, err) < 0)
        return -1;
    op_set_out(io, 0, io->in[0]->dtype, &out);
    return 0;
}

/* out = f(in0, in1), then out = f(out, ink) in place for the rest: out has the full shape,
 * so its offsets in the fold are the output's own. */
static int minmax_run(struct op_io *io, bool is_max)
{
    struct tensor *o = io->out[0];
    enum dtype t = o->dtype;
    bcast_inner_fn inner = t == DTYPE_FLOAT   ? (is_max ? max_f32 : min_f32)
                           : t == DTYPE_INT32 ? (is_max ? max_i32 : min_i32)
                                              : (is_max ? max_i64 : min_i64);
    const struct tensor *first = io->in[0], *second = io->n_in > 1 ? io->in[1] : io->in[0];
    struct bin_ctx c = {.a = first->data, .b = second->data, .out = o->data};
    struct bcast bc;
    bcast_init(&bc, &first->shape, &second->shape, &o->shape);
    bcast_for_each(&bc, inner, &c);
    for (int i = 2; i < io->n_in; i++) {
        c = (struct bin_ctx){.a = o->data, .b = io->in[i]->data, .out = o->data};
        bcast_init(&bc, &o->shape, &io->in[i]->shape, &o->shape);
        bcast_for_each(&bc, inner, &c);
    }
    return 0;
}

static int min_run(struct op_io *io, struct err *err)
{
    (void)err;
    return minmax_run(io, false);
}

static int max_run(struct op_io *io, struct err *err)
{
    (void)err;
    return minmax_run(io, true);
}

const struct op_def op_min = {.name = "Min", .shape = minmax_shape, .run = min_run};
const struct op_def op_max = {.name = "Max", .shape = minmax_shape, .run = max_run};
