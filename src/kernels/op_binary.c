/* Elementwise Add, Sub, Mul and Div with numpy-style broadcasting, on float32 and int64.
 * Not for PRelu's one-directional broadcasting (op_activation.c). */
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

static const bcast_inner_fn INNER_F32[] = {add_f32, sub_f32, mul_f32, div_f32};
static const bcast_inner_fn INNER_I64[] = {add_i64, sub_i64, mul_i64, div_i64};

static int binary_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0)
        return -1;
    const struct tensor *a = io->in[0], *b = io->in[1];
    if (a->dtype != b->dtype)
        return op_fail(io, err, "inputs have different element types (%s and %s)",
                       dtype_name(a->dtype), dtype_name(b->dtype));
    struct shape out;
    if (op_broadcast_shape(&a->shape, &b->shape, &out) < 0) {
        char sa[96], sb[96];
        return op_fail(io, err, "shapes %s and %s cannot be broadcast together",
                       shape_format(&a->shape, sa, sizeof sa),
                       shape_format(&b->shape, sb, sizeof sb));
    }
    op_set_out(io, 0, a->dtype, &out);
    return 0;
}

static int binary_run(struct op_io *io, enum binop op)
{
    const struct tensor *a = io->in[0], *b = io->in[1];
    struct tensor *o = io->out[0];
    struct bin_ctx c = {.op = op, .a = a->data, .b = b->data, .out = o->data};
    bcast_inner_fn inner = a->dtype == DTYPE_FLOAT ? INNER_F32[op] : INNER_I64[op];
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
