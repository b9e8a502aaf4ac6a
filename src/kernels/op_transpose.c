/* Transpose: permute the axes of a float32, int64, int32 or bool tensor (attribute perm,
 * default the dims reversed). Not for ops that keep the data order (op_reshape.c). */
#include <string.h>

#include "kernels/op.h"

/* perm from the attribute, or the reversed axes when absent; validated as a permutation
 * of [0, rank). */
static int tr_perm(const struct op_io *io, int64_t perm[TENSOR_MAX_DIMS], struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    size_t n;
    const int64_t *p = node_attr_ints(io->node, "perm", &n);
    if (!p) {
        for (int i = 0; i < s->ndim; i++)
            perm[i] = s->ndim - 1 - i;
        return 0;
    }
    char sb[96];
    if (n != (size_t)s->ndim)
        return op_fail(io, err, "perm has %zu entries but the input of shape %s has rank %d", n,
                       shape_format(s, sb, sizeof sb), s->ndim);
    bool seen[TENSOR_MAX_DIMS] = {false};
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0 || p[i] >= s->ndim)
            return op_fail(io, err,
                           "perm[%zu] = %lld is out of range for the input of shape %s "
                           "(expected 0..%d)",
                           i, (long long)p[i], shape_format(s, sb, sizeof sb), s->ndim - 1);
        if (seen[p[i]])
            return op_fail(io, err, "perm is not a permutation: axis %lld appears twice",
                           (long long)p[i]);
        seen[p[i]] = true;
        perm[i] = p[i];
    }
    return 0;
}

static int tr_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0)
        return -1;
    const struct tensor *x = io->in[0];
    if (x->dtype != DTYPE_FLOAT && x->dtype != DTYPE_INT64 && x->dtype != DTYPE_INT32 &&
        x->dtype != DTYPE_BOOL)
        return op_unsupported(io, err, "element type %s", dtype_name(x->dtype));
    int64_t perm[TENSOR_MAX_DIMS];
    if (tr_perm(io, perm, err) < 0)
        return -1;
    struct shape out = {.ndim = x->shape.ndim};
    for (int i = 0; i < out.ndim; i++)
        out.dims[i] = x->shape.dims[perm[i]];
    op_set_out(io, 0, x->dtype, &out);
    return 0;
}

/* The transposition reduced to its essentials: output axes in order, each with its size and
 * the input stride it walks. Size-1 axes are dropped and output axes that are consecutive
 * in the input too are merged, so [N,C,H,W] -> [N,H,W,C] becomes a batch of [C,HW] -> [HW,C]
 * and an identity becomes one contiguous run. */
struct tr_plan {
    int ndim;
    size_t dims[TENSOR_MAX_DIMS];
    size_t in_strides[TENSOR_MAX_DIMS];
};

static void tr_reduce(const struct shape *s, const int64_t *perm, struct tr_plan *tp)
{
    size_t stride[TENSOR_MAX_DIMS];
    size_t acc = 1;
    for (int i = s->ndim - 1; i >= 0; i--) {
        stride[i] = acc;
        acc *= (size_t)s->dims[i];
    }
    tp->ndim = 0;
    for (int i = 0; i < s->ndim; i++) {
        size_t d = (size_t)s->dims[perm[i]], st = stride[perm[i]];
        if (d == 1)
            continue;
        int k = tp->ndim;
        if (k > 0 && tp->in_strides[k - 1] == st * d) {
            tp->dims[k - 1] *= d;
            tp->in_strides[k - 1] = st;
            continue;
        }
        tp->dims[k] = d;
        tp->in_strides[k] = st;
        tp->ndim++;
    }
}

/* Tiles keep both the rows read and the rows written within a few cache lines. */
#define TR_TILE 32

#define DEFINE_TRANSPOSE(SUFFIX, T)                                                                \
    /* batch blocks of y[c][r] = x[r][c], x being rows x cols. */                                  \
    static void tr_2d_##SUFFIX(const T *x, T *y, size_t batch, size_t rows, size_t cols)           \
    {                                                                                              \
        for (size_t b = 0; b < batch; b++, x += rows * cols, y += rows * cols)                     \
            for (size_t r0 = 0; r0 < rows; r0 += TR_TILE)                                          \
                for (size_t c0 = 0; c0 < cols; c0 += TR_TILE) {                                    \
                    size_t r1 = r0 + TR_TILE < rows ? r0 + TR_TILE : rows;                         \
                    size_t c1 = c0 + TR_TILE < cols ? c0 + TR_TILE : cols;                         \
                    for (size_t c = c0; c < c1; c++)                                               \
                        for (size_t r = r0; r < r1; r++)                                           \
                            y[c * rows + r] = x[r * cols + c];                                     \
                }                                                                                  \
    }                                                                                              \
                                                                                                   \
    /* Any permutation: walk the output in order, the last axis in the inner loop. */              \
    static void tr_nd_##SUFFIX(const T *x, T *y, const struct tr_plan *tp)                         \
    {                                                                                              \
        int last = tp->ndim - 1;                                                                   \
        size_t idx[TENSOR_MAX_DIMS] = {0};                                                         \
        size_t n = tp->dims[last], step = tp->in_strides[last], off = 0;                           \
        for (;;) {                                                                                 \
            for (size_t j = 0; j < n; j++)                                                         \
                y[j] = x[off + j * step];                                                          \
            y += n;                                                                                \
            int k = last - 1;                                                                      \
            for (; k >= 0; k--) {                                                                  \
                off += tp->in_strides[k];                                                          \
                if (++idx[k] < tp->dims[k])                                                        \
                    break;                                                                         \
                off -= idx[k] * tp->in_strides[k];                                                 \
                idx[k] = 0;                                                                        \
            }                                                                                      \
            if (k < 0)                                                                             \
                return;                                                                            \
        }                                                                                          \
    }

DEFINE_TRANSPOSE(f32, float)
DEFINE_TRANSPOSE(i64, int64_t)
DEFINE_TRANSPOSE(i32, int32_t)
DEFINE_TRANSPOSE(u8, uint8_t)

static int tr_run(struct op_io *io, struct err *err)
{
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    if (tensor_numel(x) == 0)
        return 0;
    int64_t perm[TENSOR_MAX_DIMS];
    if (tr_perm(io, perm, err) < 0)
        return -1;
    struct tr_plan tp;
    tr_reduce(&x->shape, perm, &tp);
    /* Nothing left to permute: one axis covering every element has stride 1. */
    if (tp.ndim <= 1) {
        memcpy(y->data, x->data, tensor_bytes(x));
        return 0;
    }
    /* [rows, cols] -> [cols, rows], possibly repeated over a leading batch axis. */
    bool batched = tp.ndim == 3 && tp.in_strides[0] == tp.dims[1] * tp.dims[2];
    if ((tp.ndim == 2 || batched) && tp.in_strides[tp.ndim - 1] == tp.dims[tp.ndim - 2]) {
        size_t batch = batched ? tp.dims[0] : 1;
        size_t rows = tp.dims[tp.ndim - 1], cols = tp.dims[tp.ndim - 2];
        switch (x->dtype) {
        case DTYPE_FLOAT: tr_2d_f32(tensor_f32(x), tensor_f32(y), batch, rows, cols); break;
        case DTYPE_INT64: tr_2d_i64(tensor_i64(x), tensor_i64(y), batch, rows, cols); break;
        case DTYPE_INT32: tr_2d_i32(tensor_i32(x), tensor_i32(y), batch, rows, cols); break;
        case DTYPE_BOOL: tr_2d_u8(tensor_bool(x), tensor_bool(y), batch, rows, cols); break;
        default: return op_unsupported(io, err, "element type %s", dtype_name(x->dtype));
        }
        return 0;
    }
    switch (x->dtype) {
    case DTYPE_FLOAT: tr_nd_f32(tensor_f32(x), tensor_f32(y), &tp); break;
    case DTYPE_INT64: tr_nd_i64(tensor_i64(x), tensor_i64(y), &tp); break;
    case DTYPE_INT32: tr_nd_i32(tensor_i32(x), tensor_i32(y), &tp); break;
    case DTYPE_BOOL: tr_nd_u8(tensor_bool(x), tensor_bool(y), &tp); break;
    default: return op_unsupported(io, err, "element type %s", dtype_name(x->dtype));
    }
    return 0;
}

const struct op_def op_transpose = {.name = "Transpose", .shape = tr_shape, .run = tr_run};
