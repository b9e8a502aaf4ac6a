/* Pad: grow (positive pads) or crop (negative pads) each axis of a float32, int64, int32 or
 * bool tensor, filling new cells with one value of the data's type (constant mode) or with
 * the border, its mirror or the other end (edge, reflect, wrap). Not the implicit padding
 * of Conv and pooling. */
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"

/* Larger pads than this cannot describe a tensor that fits in memory; refusing them keeps
 * the size arithmetic far from overflow. */
#define PAD_LIMIT (INT64_C(1) << 40)

/* Begin and end pads of every axis, after resolving where they come from:
 * before opset 11 the `pads` attribute (`paddings` in opset 1), from 11 input 1, and from
 * 18 input 3 `axes` choosing which axes the pads are for (the others get 0). */
struct pad_spec {
    int64_t begin[TENSOR_MAX_DIMS];
    int64_t end[TENSOR_MAX_DIMS];
};

static int pad_resolve(const struct op_io *io, struct pad_spec *ps, struct shape *out,
                       struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    int rank = s->ndim;
    const int64_t *pads;
    size_t n_pads;
    struct op_ints keep_pads, keep_axes;
    if (io->opset < 11) {
        pads = node_attr_ints(io->node, "pads", &n_pads);
        if (!pads)
            pads = node_attr_ints(io->node, "paddings", &n_pads);
        if (!pads && rank > 0)
            return op_fail(io, err, "the pads attribute is required");
    } else if (op_const_ints(io, 1, &keep_pads, &pads, &n_pads, err) < 0) {
        return -1;
    }

    int axes[TENSOR_MAX_DIMS];
    size_t n_axes = (size_t)rank;
    for (int i = 0; i < rank; i++)
        axes[i] = i;
    char sb[96];
    if (io->opset >= 18 && op_has_in(io, 3)) {
        const int64_t *req;
        size_t n_req;
        if (op_const_ints(io, 3, &keep_axes, &req, &n_req, err) < 0)
            return -1;
        if (n_req > (size_t)rank)
            return op_fail(io, err, "axes has %zu entries but the data of shape %s has rank %d",
                           n_req, shape_format(s, sb, sizeof sb), rank);
        bool seen[TENSOR_MAX_DIMS] = {false};
        for (size_t i = 0; i < n_req; i++) {
            int64_t a = req[i] < 0 ? req[i] + rank : req[i];
            if (a < 0 || a >= rank)
                return op_fail(io, err,
                               "axes[%zu] = %lld is out of range for the data of shape "
                               "%s (accepted %d..%d)",
                               i, (long long)req[i], shape_format(s, sb, sizeof sb), -rank,
                               rank - 1);
            if (seen[a])
                return op_fail(io, err, "axes names axis %lld twice", (long long)a);
            seen[a] = true;
            axes[i] = (int)a;
        }
        n_axes = n_req;
    }
    if (n_pads != 2 * n_axes)
        return op_fail(io, err,
                       "pads has %zu entries, expected %zu (2 x %s %zu) for the data of "
                       "shape %s",
                       n_pads, 2 * n_axes, n_axes == (size_t)rank ? "rank" : "number of axes",
                       n_axes, shape_format(s, sb, sizeof sb));

    memset(ps, 0, sizeof *ps);
    for (size_t i = 0; i < n_axes; i++) {
        int64_t b = pads[i], e = pads[i + n_axes];
        if (b < -PAD_LIMIT || b > PAD_LIMIT || e < -PAD_LIMIT || e > PAD_LIMIT)
            return op_fail(io, err, "pads for axis %d (%lld, %lld) are out of range", axes[i],
                           (long long)b, (long long)e);
        ps->begin[axes[i]] = b;
        ps->end[axes[i]] = e;
    }
    *out = *s;
    for (int d = 0; d < rank; d++) {
        out->dims[d] = s->dims[d] + ps->begin[d] + ps->end[d];
        if (out->dims[d] < 0)
            return op_fail(io, err,
                           "pads (%lld, %lld) crop axis %d of the data of shape %s to "
                           "a negative size %lld",
                           (long long)ps->begin[d], (long long)ps->end[d], d,
                           shape_format(s, sb, sizeof sb), (long long)out->dims[d]);
    }
    return 0;
}

static int pad_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, io->opset < 11 ? 1 : 2,
                       io->opset < 11   ? 1
                       : io->opset < 18 ? 3
                                        : 4,
                       err) < 0)
        return -1;
    const struct tensor *x = io->in[0];
    if (x->dtype != DTYPE_FLOAT && x->dtype != DTYPE_INT64 && x->dtype != DTYPE_INT32 &&
        x->dtype != DTYPE_BOOL)
        return op_unsupported(io, err, "element type %s", dtype_name(x->dtype));
    const char *mode = node_attr_string(io->node, "mode", "constant");
    if (strcmp(mode, "constant") != 0 && strcmp(mode, "reflect") != 0 &&
        strcmp(mode, "edge") != 0 && strcmp(mode, "wrap") != 0)
        return op_fail(io, err, "unknown mode '%s' (expected constant, reflect, edge or wrap)",
                       mode);
    if (op_has_in(io, 2)) {
        const struct tensor *v = io->in[2];
        if (v->dtype != x->dtype)
            return op_fail(io, err, "constant_value has element type %s but the data has %s",
                           dtype_name(v->dtype), dtype_name(x->dtype));
        if (tensor_numel(v) != 1) {
            char sb[96];
            return op_fail(io, err, "constant_value must be a scalar, has shape %s",
                           shape_format(&v->shape, sb, sizeof sb));
        }
    }
    struct pad_spec ps;
    struct shape out;
    if (pad_resolve(io, &ps, &out, err) < 0)
        return -1;
    if (strcmp(mode, "constant") != 0)
        for (int d = 0; d < x->shape.ndim; d++)
            if (x->shape.dims[d] == 0 && out.dims[d] > 0)
                return op_fail(io, err, "mode '%s' cannot pad axis %d, which is empty", mode, d);
    op_set_out(io, 0, x->dtype, &out);
    return 0;
}

/* Input coordinate of output coordinate o on an axis of n entries padded by `begin` in
 * front: edge repeats the border, reflect mirrors around it (without repeating it), wrap
 * starts again from the other end. */
static int64_t pad_source(int64_t o, int64_t begin, int64_t n, char mode)
{
    int64_t c = o - begin;
    if (c >= 0 && c < n)
        return c;
    if (mode == 'e')
        return c < 0 ? 0 : n - 1;
    if (mode == 'w')
        return ((c % n) + n) % n;
    if (n == 1)
        return 0;
    int64_t period = 2 * (n - 1);
    c = ((c % period) + period) % period;
    return c < n ? c : period - c;
}

/* Pad in edge, reflect or wrap mode, for elements of any size: every output element
 * copies the input element its coordinates map to. */
static int pad_mapped(const struct tensor *x, struct tensor *y, const struct pad_spec *ps,
                      char mode, struct err *err)
{
    int rank = y->shape.ndim;
    size_t es = dtype_size(x->dtype);
    if (rank == 0) {
        memcpy(y->data, x->data, es);
        return 0;
    }
    int64_t n = y->shape.dims[rank - 1], in_n = x->shape.dims[rank - 1];
    int64_t *col = malloc((size_t)(n ? n : 1) * sizeof *col);
    if (!col)
        return err_oom(err, "Pad", (size_t)n * sizeof *col);
    for (int64_t j = 0; j < n; j++)
        col[j] = pad_source(j, ps->begin[rank - 1], in_n, mode);
    size_t in_stride[TENSOR_MAX_DIMS], acc = 1, rows = 1;
    for (int d = rank - 1; d >= 0; d--) {
        in_stride[d] = acc;
        acc *= (size_t)x->shape.dims[d];
    }
    for (int d = 0; d < rank - 1; d++)
        rows *= (size_t)y->shape.dims[d];
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    const char *src = x->data;
    char *dst = y->data;
    for (size_t r = 0; r < rows; r++) {
        size_t off = 0;
        for (int d = 0; d < rank - 1; d++)
            off += (size_t)pad_source(idx[d], ps->begin[d], x->shape.dims[d], mode) * in_stride[d];
        for (int64_t j = 0; j < n; j++, dst += es)
            memcpy(dst, src + (off + (size_t)col[j]) * es, es);
        for (int d = rank - 2; d >= 0; d--) {
            if (++idx[d] < y->shape.dims[d])
                break;
            idx[d] = 0;
        }
    }
    free(col);
    return 0;
}

/* Walk the output one row (last axis) at a time. A row whose leading coordinates fall in the
 * padding is all fill; otherwise it is fill, a copied run of the input row, and fill. Output
 * coordinate c on an axis reads input coordinate c - begin. */
#define DEFINE_PAD(SUFFIX, T)                                                                      \
    static void pad_##SUFFIX(const T *x, const struct shape *xs, T *y, const struct shape *ys,     \
                             const struct pad_spec *ps, T fill)                                    \
    {                                                                                              \
        int rank = ys->ndim;                                                                       \
        if (rank == 0) {                                                                           \
            y[0] = x[0];                                                                           \
            return;                                                                                \
        }                                                                                          \
        size_t in_stride[TENSOR_MAX_DIMS];                                                         \
        size_t acc = 1;                                                                            \
        for (int d = rank - 1; d >= 0; d--) {                                                      \
            in_stride[d] = acc;                                                                    \
            acc *= (size_t)xs->dims[d];                                                            \
        }                                                                                          \
        int64_t n = ys->dims[rank - 1], b = ps->begin[rank - 1], in_n = xs->dims[rank - 1];        \
        int64_t lo = b > 0 ? b : 0, hi = b + in_n < n ? b + in_n : n;                              \
        if (hi < lo)                                                                               \
            hi = lo;                                                                               \
        size_t rows = 1;                                                                           \
        for (int d = 0; d < rank - 1; d++)                                                         \
            rows *= (size_t)ys->dims[d];                                                           \
        int64_t idx[TENSOR_MAX_DIMS] = {0};                                                        \
        for (size_t r = 0; r < rows; r++, y += n) {                                                \
            bool inside = true;                                                                    \
            size_t off = 0;                                                                        \
            for (int d = 0; d < rank - 1 && inside; d++) {                                         \
                int64_t c = idx[d] - ps->begin[d];                                                 \
                inside = c >= 0 && c < xs->dims[d];                                                \
                off += (size_t)c * in_stride[d];                                                   \
            }                                                                                      \
            if (!inside) {                                                                         \
                for (int64_t j = 0; j < n; j++)                                                    \
                    y[j] = fill;                                                                   \
            } else {                                                                               \
                for (int64_t j = 0; j < lo; j++)                                                   \
                    y[j] = fill;                                                                   \
                if (hi > lo)                                                                       \
                    memcpy(y + lo, x + off + (lo - b), (size_t)(hi - lo) * sizeof(T));             \
                for (int64_t j = hi; j < n; j++)                                                   \
                    y[j] = fill;                                                                   \
            }                                                                                      \
            for (int d = rank - 2; d >= 0; d--) {                                                  \
                if (++idx[d] < ys->dims[d])                                                        \
                    break;                                                                         \
                idx[d] = 0;                                                                        \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_PAD(f32, float)
DEFINE_PAD(i64, int64_t)
DEFINE_PAD(i32, int32_t)
DEFINE_PAD(u8, uint8_t)

static int pad_run(struct op_io *io, struct err *err)
{
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    if (tensor_numel(y) == 0)
        return 0;
    struct pad_spec ps;
    struct shape out;
    if (pad_resolve(io, &ps, &out, err) < 0)
        return -1;
    const char *mode = node_attr_string(io->node, "mode", "constant");
    if (strcmp(mode, "constant") != 0)
        return pad_mapped(x, y, &ps, mode[0], err);
    /* Before opset 11 the value is a float attribute, also for integer data; from 11 on it
     * is input 2, of the data's type (pad_shape checked), and 0 when omitted. */
    double attr_value = io->opset < 11 ? node_attr_float(io->node, "value", 0.0f) : 0.0;
    const struct tensor *v = io->opset >= 11 && op_has_in(io, 2) ? io->in[2] : NULL;
    if (v && (v->dtype != x->dtype || tensor_numel(v) != 1))
        return op_fail(io, err, "constant_value (%s) does not match the data (%s)",
                       dtype_name(v->dtype), dtype_name(x->dtype));
    switch (x->dtype) {
    case DTYPE_FLOAT:
        pad_f32(tensor_f32(x), &x->shape, tensor_f32(y), &y->shape, &ps,
                v ? tensor_f32(v)[0] : (float)attr_value);
        break;
    case DTYPE_INT64:
        pad_i64(tensor_i64(x), &x->shape, tensor_i64(y), &y->shape, &ps,
                v ? tensor_i64(v)[0] : (int64_t)attr_value);
        break;
    case DTYPE_INT32:
        pad_i32(tensor_i32(x), &x->shape, tensor_i32(y), &y->shape, &ps,
                v ? tensor_i32(v)[0] : (int32_t)attr_value);
        break;
    case DTYPE_BOOL:
        pad_u8(tensor_bool(x), &x->shape, tensor_bool(y), &y->shape, &ps,
               (v ? tensor_bool(v)[0] != 0 : attr_value != 0.0) ? 1 : 0);
        break;
    default: return op_unsupported(io, err, "element type %s", dtype_name(x->dtype));
    }
    return 0;
}

const struct op_def op_pad = {.name = "Pad", .shape = pad_shape, .run = pad_run};
