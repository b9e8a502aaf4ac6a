/* Comparisons that yield bool (Equal, Less, Greater, LessOrEqual, GreaterOrEqual), the logic
 * ops on bool (Not, And, Or, Xor) and Where, all with numpy-style broadcasting. Not for
 * arithmetic or Min/Max (op_binary.c). */
#include <string.h>

#include "kernels/broadcast.h"
#include "kernels/op.h"

enum cmp { CMP_EQ, CMP_LT, CMP_GT, CMP_LE, CMP_GE, CMP_AND, CMP_OR, CMP_XOR };

struct cmp_ctx {
    const void *a, *b;
    uint8_t *out;
};

/* Inner loop of one comparison on one element type; steps are 0 or 1. */
#define DEFINE_CMP(NAME, T, EXPR)                                                                  \
    static void NAME(void *opaque, size_t oa, size_t ob, size_t oo, size_t n, size_t sa,           \
                     size_t sb)                                                                    \
    {                                                                                              \
        const struct cmp_ctx *c = opaque;                                                          \
        const T *a = (const T *)c->a + oa, *b = (const T *)c->b + ob;                              \
        uint8_t *o = c->out + oo;                                                                  \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = a[i * sa], y = b[i * sb];                                                        \
            o[i] = (EXPR) ? 1 : 0;                                                                 \
        }                                                                                          \
    }

#define DEFINE_CMP_ALL(OP, EXPR)                                                                   \
    DEFINE_CMP(OP##_f32, float, EXPR)                                                              \
    DEFINE_CMP(OP##_i64, int64_t, EXPR)                                                            \
    DEFINE_CMP(OP##_i32, int32_t, EXPR)                                                            \
    DEFINE_CMP(OP##_b8, uint8_t, EXPR)

/* Float comparisons with a NaN are false (Equal too), as IEEE and numpy say. */
DEFINE_CMP_ALL(eq, x == y)
DEFINE_CMP_ALL(lt, x < y)
DEFINE_CMP_ALL(gt, x > y)
DEFINE_CMP_ALL(le, x <= y)
DEFINE_CMP_ALL(ge, x >= y)
DEFINE_CMP(and_b8, uint8_t, x &&y)
DEFINE_CMP(or_b8, uint8_t, x || y)
DEFINE_CMP(xor_b8, uint8_t, !x != !y)

/* Indexed by enum cmp, then by float32, int64, int32, bool. */
static const bcast_inner_fn CMP_INNER[][4] = {
    [CMP_EQ] = {eq_f32, eq_i64, eq_i32, eq_b8}, [CMP_LT] = {lt_f32, lt_i64, lt_i32, lt_b8},
    [CMP_GT] = {gt_f32, gt_i64, gt_i32, gt_b8}, [CMP_LE] = {le_f32, le_i64, le_i32, le_b8},
    [CMP_GE] = {ge_f32, ge_i64, ge_i32, ge_b8}, [CMP_AND] = {NULL, NULL, NULL, and_b8},
    [CMP_OR] = {NULL, NULL, NULL, or_b8},       [CMP_XOR] = {NULL, NULL, NULL, xor_b8},
};

static int type_column(enum dtype t)
{
    switch (t) {
    case DTYPE_FLOAT: return 0;
    case DTYPE_INT64: return 1;
    case DTYPE_INT32: return 2;
    case DTYPE_BOOL: return 3;
    default: return -1;
    }
}

/* Which element types op accepts, for the shape check and the refusal message. Equal takes
 * bool from opset 11 on; the ordering comparisons never do. */
static bool cmp_accepts(enum cmp op, enum dtype t)
{
    if (op >= CMP_AND)
        return t == DTYPE_BOOL;
    if (t == DTYPE_BOOL)
        return op == CMP_EQ;
    return type_column(t) >= 0;
}

static int cmp_shape(struct op_io *io, enum cmp op, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0)
        return -1;
    const struct tensor *a = io->in[0], *b = io->in[1];
    if (a->dtype != b->dtype)
        return op_fail(io, err, "inputs have different element types (%s and %s)",
                       dtype_name(a->dtype), dtype_name(b->dtype));
    if (!cmp_accepts(op, a->dtype))
        return op_unsupported(io, err, "element type %s (expected %s)", dtype_name(a->dtype),
                              op >= CMP_AND  ? "bool"
                              : op == CMP_EQ ? "float32, int64, int32 or bool"
                                             : "float32, int64 or int32");
    struct shape out;
    if (op_broadcast_inputs(io, &out, err) < 0)
        return -1;
    op_set_out(io, 0, DTYPE_BOOL, &out);
    return 0;
}

static int cmp_run(struct op_io *io, enum cmp op)
{
    const struct tensor *a = io->in[0], *b = io->in[1];
    struct tensor *o = io->out[0];
    struct cmp_ctx c = {a->data, b->data, tensor_bool(o)};
    struct bcast bc;
    bcast_init(&bc, &a->shape, &b->shape, &o->shape);
    bcast_for_each(&bc, CMP_INNER[op][type_column(a->dtype)], &c);
    return 0;
}

#define DEFINE_CMP_OP(VAR, NAME, OP)                                                               \
    static int VAR##_shape(struct op_io *io, struct err *err)                                      \
    {                                                                                              \
        return cmp_shape(io, OP, err);                                                             \
    }                                                                                              \
    static int VAR##_run(struct op_io *io, struct err *err)                                        \
    {                                                                                              \
        (void)err;                                                                                 \
        return cmp_run(io, OP);                                                                    \
    }                                                                                              \
    const struct op_def op_##VAR = {.name = NAME, .shape = VAR##_shape, .run = VAR##_run}

DEFINE_CMP_OP(equal, "Equal", CMP_EQ);
DEFINE_CMP_OP(less, "Less", CMP_LT);
DEFINE_CMP_OP(greater, "Greater", CMP_GT);
DEFINE_CMP_OP(lessorequal, "LessOrEqual", CMP_LE);
DEFINE_CMP_OP(greaterorequal, "GreaterOrEqual", CMP_GE);
DEFINE_CMP_OP(and, "And", CMP_AND);
DEFINE_CMP_OP(or, "Or", CMP_OR);
DEFINE_CMP_OP(xor, "Xor", CMP_XOR);

static int not_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0)
        return -1;
    if (io->in[0]->dtype != DTYPE_BOOL)
        return op_unsupported(io, err, "element type %s (expected bool)",
                              dtype_name(io->in[0]->dtype));
    op_set_out(io, 0, DTYPE_BOOL, &io->in[0]->shape);
    return 0;
}

static int not_run(struct op_io *io, struct err *err)
{
    (void)err;
    const uint8_t *x = tensor_bool(io->in[0]);
    uint8_t *y = tensor_bool(io->out[0]);
    size_t n = tensor_numel(io->in[0]);
    for (size_t i = 0; i < n; i++)
        y[i] = !x[i];
    return 0;
}

const struct op_def op_not = {.name = "Not", .shape = not_shape, .run = not_run};

/* Where(condition, X, Y): X where the condition holds, else Y; the three broadcast
 * together and X and Y share an element type, which is the output's. */
static int where_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 3, 3, err) < 0)
        return -1;
    const struct tensor *c = io->in[0], *x = io->in[1], *y = io->in[2];
    if (c->dtype != DTYPE_BOOL)
        return op_fail(io, err, "condition has element type %s, expected bool",
                       dtype_name(c->dtype));
    if (x->dtype != y->dtype)
        return op_fail(io, err, "X and Y have different element types (%s and %s)",
                       dtype_name(x->dtype), dtype_name(y->dtype));
    if (type_column(x->dtype) < 0)
        return op_unsupported(io, err, "element type %s (expected float32, int64, int32 or bool)",
                              dtype_name(x->dtype));
    struct shape xy, out;
    char s1[96], s2[96], s3[96];
    if (op_broadcast_shape(&x->shape, &y->shape, &xy) < 0 ||
        op_broadcast_shape(&c->shape, &xy, &out) < 0)
        return op_fail(io, err, "shapes %s, %s and %s cannot be broadcast together",
                       shape_format(&c->shape, s1, sizeof s1),
                       shape_format(&x->shape, s2, sizeof s2),
                       shape_format(&y->shape, s3, sizeof s3));
    op_set_out(io, 0, x->dtype, &out);
    return 0;
}

/* An odometer over the output with one offset per operand; the strides come from
 * bcast_init, which gives 0 along broadcast dimensions. */
static int where_run(struct op_io *io, struct err *err)
{
    (void)err;
    const struct tensor *c = io->in[0], *x = io->in[1], *y = io->in[2];
    struct tensor *o = io->out[0];
    size_t es = dtype_size(o->dtype), total = tensor_numel(o);
    struct bcast cx, yy;
    bcast_init(&cx, &c->shape, &x->shape, &o->shape);
    bcast_init(&yy, &y->shape, &y->shape, &o->shape);
    const uint8_t *cond = tensor_bool(c);
    const char *xd = x->data, *yd = y->data;
    char *od = o->data;
    int n = o->shape.ndim;
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    size_t oc = 0, ox = 0, oy = 0;
    for (size_t i = 0; i < total; i++) {
        memcpy(od + i * es, cond[oc] ? xd + ox * es : yd + oy * es, es);
        for (int d = n - 1; d >= 0; d--) {
            idx[d]++;
            oc += (size_t)cx.sa[d];
            ox += (size_t)cx.sb[d];
            oy += (size_t)yy.sa[d];
            if (idx[d] < o->shape.dims[d])
                break;
            oc -= (size_t)(cx.sa[d] * o->shape.dims[d]);
            ox -= (size_t)(cx.sb[d] * o->shape.dims[d]);
            oy -= (size_t)(yy.sa[d] * o->shape.dims[d]);
            idx[d] = 0;
        }
    }
    return 0;
}

/* dX gets dY where the condition holds and dY the rest, each summed over the dimensions
 * it was broadcast along. */
static int where_backward(const struct op_io *io, const struct tensor *const *dout,
                          struct tensor *const *din, struct err *err)
{
    (void)err;
    const struct tensor *c = io->in[0], *x = io->in[1], *y = io->in[2];
    const struct tensor *o = io->out[0];
    float *dx = din[1] ? tensor_f32(din[1]) : NULL, *dyy = din[2] ? tensor_f32(din[2]) : NULL;
    if (!dx && !dyy)
        return 0;
    const float *g = tensor_f32(dout[0]);
    size_t total = tensor_numel(o);
    struct bcast cx, yy;
    bcast_init(&cx, &c->shape, &x->shape, &o->shape);
    bcast_init(&yy, &y->shape, &y->shape, &o->shape);
    const uint8_t *cond = tensor_bool(c);
    int n = o->shape.ndim;
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    size_t oc = 0, ox = 0, oy = 0;
    for (size_t i = 0; i < total; i++) {
        if (cond[oc]) {
            if (dx)
                dx[ox] += g[i];
        } else if (dyy) {
            dyy[oy] += g[i];
        }
        for (int d = n - 1; d >= 0; d--) {
            idx[d]++;
            oc += (size_t)cx.sa[d];
            ox += (size_t)cx.sb[d];
            oy += (size_t)yy.sa[d];
            if (idx[d] < o->shape.dims[d])
                break;
            oc -= (size_t)(cx.sa[d] * o->shape.dims[d]);
            ox -= (size_t)(cx.sb[d] * o->shape.dims[d]);
            oy -= (size_t)(yy.sa[d] * o->shape.dims[d]);
            idx[d] = 0;
        }
    }
    return 0;
}

const struct op_def op_where = {
    .name = "Where", .shape = where_shape, .run = where_run, .backward = where_backward};
