/* Ops about positions and counts: Size, Range, ArgMax, ArgMin, TopK, GatherElements, OneHot,
 * Trilu, CumSum and NonZero (only when its input is known at planning time). Not Gather
 * (op_shape.c) or the reductions that return values rather than indices (op_reduce.c). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"

static bool numeric_dtype(enum dtype t)
{
    return t == DTYPE_FLOAT || t == DTYPE_INT64 || t == DTYPE_INT32;
}

static bool known_dtype(enum dtype t)
{
    return numeric_dtype(t) || t == DTYPE_BOOL;
}

/* Element i of a numeric tensor as a double (int64 beyond 2^53 rounds). */
static double num_at(const struct tensor *t, size_t i)
{
    switch (t->dtype) {
    case DTYPE_FLOAT: return tensor_f32(t)[i];
    case DTYPE_INT32: return tensor_i32(t)[i];
    case DTYPE_BOOL: return tensor_bool(t)[i];
    default: return (double)tensor_i64(t)[i];
    }
}

/* Element i of an int64 or int32 tensor. */
static int64_t int_at(const struct tensor *t, size_t i)
{
    return t->dtype == DTYPE_INT32 ? tensor_i32(t)[i] : tensor_i64(t)[i];
}

/* The tensor seen as [outer, n, inner] around axis. */
struct line_geom {
    size_t outer, n, inner;
};

static struct line_geom line_geometry(const struct shape *s, int64_t axis)
{
    struct line_geom g = {1, 1, 1};
    for (int d = 0; d < s->ndim; d++) {
        size_t v = (size_t)s->dims[d];
        if (d < axis)
            g.outer *= v;
        else if (d == axis)
            g.n = v;
        else
            g.inner *= v;
    }
    return g;
}

/* ---- Size: the number of elements, as an int64 scalar. Reads only the input's shape. */

static int size_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0)
        return -1;
    struct shape scalar = {.ndim = 0};
    op_set_out(io, 0, DTYPE_INT64, &scalar);
    return 0;
}

static int size_run(struct op_io *io, struct err *err)
{
    tensor_i64(io->out[0])[0] = (int64_t)tensor_numel(io->in[0]);
    return 0;
}

const struct op_def op_size = {
    .name = "Size", .shape = size_shape, .run = size_run, .flags = OP_READS_SHAPE_ONLY};

/* ---- Range: start, start + delta, ... up to but excluding limit. The length depends on
 * the values, so they must be known when the plan is made (the planner then folds the node).
 * Float lengths and values are computed in double, as numpy's arange (the reference) does;
 * each value is start + i delta rather than a running sum, so errors do not accumulate. */

static int range_check(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 3, 3, err) < 0)
        return -1;
    static const char *const names[] = {"start", "limit", "delta"};
    enum dtype t = io->in[0]->dtype;
    if (!numeric_dtype(t))
        return op_unsupported(io, err, "element type %s (expected float32, int64 or int32)",
                              dtype_name(t));
    for (int i = 0; i < 3; i++) {
        if (io->in[i]->dtype != t)
            return op_fail(io, err, "input %d (%s) has element type %s, start has %s", i, names[i],
                           dtype_name(io->in[i]->dtype), dtype_name(t));
        if (tensor_numel(io->in[i]) != 1) {
            char sb[96];
            return op_fail(io, err, "input %d (%s) of shape %s must be a scalar", i, names[i],
                           shape_format(&io->in[i]->shape, sb, sizeof sb));
        }
    }
    return 0;
}

static int range_count(const struct op_io *io, int64_t *count, struct err *err)
{
    const struct tensor *start = io->in[0], *limit = io->in[1], *delta = io->in[2];
    if (start->dtype == DTYPE_FLOAT) {
        double s = tensor_f32(start)[0], l = tensor_f32(limit)[0], d = tensor_f32(delta)[0];
        if (d == 0.0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
            return op_fail(io, err, "start %g, limit %g and delta %g do not make a finite range", s,
                           l, d);
        double n = ceil((l - s) / d);
        if (n > 0x1p62)
            return op_fail(io, err, "start %g, limit %g and delta %g make %g elements", s, l, d, n);
        *count = n > 0 ? (int64_t)n : 0;
        return 0;
    }
    int64_t s = int_at(start, 0), l = int_at(limit, 0), d = int_at(delta, 0), diff;
    if (d == 0)
        return op_fail(io, err, "input 2 (delta) is 0");
    if (__builtin_sub_overflow(l, s, &diff))
        return op_fail(io, err, "limit %lld - start %lld overflows int64", (long long)l,
                       (long long)s);
    /* ceil(diff / d) for diff and d of the same sign, without overflowing diff + d - 1. */
    if (d > 0)
        *count = diff > 0 ? (diff - 1) / d + 1 : 0;
    else
        *count = diff < 0 ? (diff + 1) / d + 1 : 0;
    return 0;
}

static int range_shape(struct op_io *io, struct err *err)
{
    if (range_check(io, err) < 0)
        return -1;
    for (int i = 0; i < 3; i++)
        if (!io->in[i]->data)
            return op_unsupported(io, err,
                                  "a Range whose start, limit and delta are not all known when "
                                  "the model is loaded (its length depends on them)");
    int64_t n = 0;
    if (range_count(io, &n, err) < 0)
        return -1;
    struct shape out = {.ndim = 1, .dims = {n}};
    op_set_out(io, 0, io->in[0]->dtype, &out);
    return 0;
}

static int range_run(struct op_io *io, struct err *err)
{
    const struct tensor *start = io->in[0], *delta = io->in[2];
    struct tensor *y = io->out[0];
    size_t n = tensor_numel(y);
    if (y->dtype == DTYPE_FLOAT) {
        double s = tensor_f32(start)[0], d = tensor_f32(delta)[0];
        for (size_t i = 0; i < n; i++)
            tensor_f32(y)[i] = (float)(s + (double)i * d);
        return 0;
    }
    /* In uint64 so the step past the last value cannot overflow; every value written is in
     * the range of the type. */
    uint64_t s = (uint64_t)int_at(start, 0), d = (uint64_t)int_at(delta, 0);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = s + (uint64_t)i * d;
        if (y->dtype == DTYPE_INT64)
            tensor_i64(y)[i] = (int64_t)v;
        else
            tensor_i32(y)[i] = (int32_t)(uint32_t)v;
    }
    return 0;
}

const struct op_def op_range = {.name = "Range", .shape = range_shape, .run = range_run};

/* ---- ArgMax and ArgMin: the index of the largest (smallest) element along axis; the first
 * one among equals, or the last with select_last_index. A NaN counts as the extreme, as in
 * numpy. */

static int arg_geometry(const struct op_io *io, int64_t *axis, bool *keep, bool *last,
                        struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    int rank = s->ndim > 0 ? s->ndim : 1;
    if (op_axis(io, node_attr_int(io->node, "axis", 0), rank, axis, err) < 0)
        return -1;
    *keep = node_attr_int(io->node, "keepdims", 1) != 0;
    *last = node_attr_int(io->node, "select_last_index", 0) != 0;
    return 0;
}

static int arg_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0)
        return -1;
    const struct tensor *x = io->in[0];
    if (!numeric_dtype(x->dtype))
        return op_unsupported(io, err, "element type %s (expected float32, int64 or int32)",
                              dtype_name(x->dtype));
    int64_t axis;
    bool keep, last;
    if (arg_geometry(io, &axis, &keep, &last, err) < 0)
        return -1;
    const struct shape *s = &x->shape;
    if (s->ndim > 0 && s->dims[axis] == 0) {
        char sb[96];
        return op_fail(io, err, "axis %lld of the input of shape %s is empty", (long long)axis,
                       shape_format(s, sb, sizeof sb));
    }
    struct shape out = {.ndim = 0};
    for (int d = 0; d < s->ndim; d++) {
        if (d != axis)
            out.dims[out.ndim++] = s->dims[d];
        else if (keep)
            out.dims[out.ndim++] = 1;
    }
    op_set_out(io, 0, DTYPE_INT64, &out);
    return 0;
}

/* Whether v replaces the best so far. */
#define ARG_BETTER_INT(v, best, is_max, last)                                                      \
    ((is_max) ? ((last) ? (v) >= (best) : (v) > (best)) : ((last) ? (v) <= (best) : (v) < (best)))

static inline bool arg_better_f(float v, float best, bool is_max, bool last)
{
    if (isnan(best))
        return last && isnan(v);
    if (isnan(v))
        return true;
    return ARG_BETTER_INT(v, best, is_max, last);
}

#define ARG_LOOP(T, BETTER)                                                                        \
    do {                                                                                           \
        const T *x = (const T *)io->in[0]->data;                                                   \
        for (size_t o = 0; o < g.outer; o++)                                                       \
            for (size_t j = 0; j < g.inner; j++) {                                                 \
                const T *line = x + o * g.n * g.inner + j;                                         \
                T best = line[0];                                                                  \
                size_t at = 0;                                                                     \
                for (size_t k = 1; k < g.n; k++) {                                                 \
                    T v = line[k * g.inner];                                                       \
                    if (BETTER(v, best, is_max, last)) {                                           \
                        best = v;                                                                  \
                        at = k;                                                                    \
                    }                                                                              \
                }                                                                                  \
                y[o * g.inner + j] = (int64_t)at;                                                  \
            }                                                                                      \
    } while (0)

static int arg_run(struct op_io *io, bool is_max, struct err *err)
{
    int64_t axis;
    bool keep, last;
    if (arg_geometry(io, &axis, &keep, &last, err) < 0)
        return -1;
    struct line_geom g = line_geometry(&io->in[0]->shape, axis);
    int64_t *y = tensor_i64(io->out[0]);
    switch (io->in[0]->dtype) {
    case DTYPE_FLOAT: ARG_LOOP(float, arg_better_f); break;
    case DTYPE_INT32: ARG_LOOP(int32_t, ARG_BETTER_INT); break;
    default: ARG_LOOP(int64_t, ARG_BETTER_INT); break;
    }
    return 0;
}

static int argmax_run(struct op_io *io, struct err *err)
{
    return arg_run(io, true, err);
}

static int argmin_run(struct op_io *io, struct err *err)
{
    return arg_run(io, false, err);
}

const struct op_def op_argmax = {.name = "ArgMax", .shape = arg_shape, .run = argmax_run};
const struct op_def op_argmin = {.name = "ArgMin", .shape = arg_shape, .run = argmin_run};

/* ---- TopK: the k largest (or smallest) elements along axis and their int64 indices, in
 * order; equal elements in index order (the spec's tie rule). K is the input K from opset 10
 * (it must be known when the plan is made: it sets the output shape), the attribute k before.
 * NaN orders above every number, for largest and smallest alike. sorted = 0 allows any order,
 * so the sorted one is given. */

static int topk_params(const struct op_io *io, int64_t *axis, int64_t *k, struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    if (s->ndim == 0)
        return op_fail(io, err, "input 0 is a scalar; TopK needs at least one axis");
    if (op_axis(io, node_attr_int(io->node, "axis", -1), s->ndim, axis, err) < 0)
        return -1;
    if (io->opset >= 10) {
        const int64_t *vals;
        size_t n;
        struct op_ints keep;
        if (op_const_ints(io, 1, &keep, &vals, &n, err) < 0)
            return -1;
        if (n != 1)
            return op_fail(io, err, "input 1 (K) has %zu values, expected 1", n);
        *k = vals[0];
    } else {
        if (!node_attr(io->node, "k"))
            return op_fail(io, err, "the k attribute is required before opset 10");
        *k = node_attr_int(io->node, "k", 0);
    }
    if (*k < 0 || *k > s->dims[*axis]) {
        char sb[96];
        return op_fail(io, err, "K = %lld is out of range for axis %lld of the input of shape %s",
                       (long long)*k, (long long)*axis, shape_format(s, sb, sizeof sb));
    }
    return 0;
}

static int topk_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, io->opset >= 10 ? 2 : 1, io->opset >= 10 ? 2 : 1, err) < 0)
        return -1;
    const struct tensor *x = io->in[0];
    if (!numeric_dtype(x->dtype))
        return op_unsupported(io, err, "element type %s (expected float32, int64 or int32)",
                              dtype_name(x->dtype));
    int64_t axis, k;
    if (topk_params(io, &axis, &k, err) < 0)
        return -1;
    struct shape out = x->shape;
    out.dims[axis] = k;
    op_set_out(io, 0, x->dtype, &out);
    op_set_out(io, 1, DTYPE_INT64, &out);
    return 0;
}

struct topk_line {
    const struct tensor *x;
    size_t base, step;
    bool largest;
};

/* Whether element a goes before element b (positions along the line). Ties are not
 * "before", so the stable merge keeps index order among equals. */
static bool topk_before(const struct topk_line *l, size_t a, size_t b)
{
    size_t ia = l->base + a * l->step, ib = l->base + b * l->step;
    int c;
    if (l->x->dtype == DTYPE_FLOAT) {
        float va = tensor_f32(l->x)[ia], vb = tensor_f32(l->x)[ib];
        bool na = isnan(va), nb = isnan(vb);
        c = na || nb ? (int)na - (int)nb : (va > vb) - (va < vb);
    } else {
        int64_t va = int_at(l->x, ia), vb = int_at(l->x, ib);
        c = (va > vb) - (va < vb);
    }
    return l->largest ? c > 0 : c < 0;
}

/* Stable merge sort of idx[0..n) with tmp as room for n more. */
static void topk_sort(const struct topk_line *l, size_t *idx, size_t *tmp, size_t n)
{
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                tmp[o++] = topk_before(l, idx[j], idx[i]) ? idx[j++] : idx[i++];
            while (i < mid)
                tmp[o++] = idx[i++];
            while (j < hi)
                tmp[o++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
}

static int topk_run(struct op_io *io, struct err *err)
{
    int64_t axis, k;
    if (topk_params(io, &axis, &k, err) < 0)
        return -1;
    const struct tensor *x = io->in[0];
    struct line_geom g = line_geometry(&x->shape, axis);
    if (k == 0 || g.outer * g.inner == 0)
        return 0;
    size_t *idx = malloc(2 * g.n * sizeof *idx);
    if (!idx)
        return err_oom(err, "TopK", 2 * g.n * sizeof *idx);
    struct tensor *vals = io->n_out > 0 ? io->out[0] : NULL;
    struct tensor *inds = io->n_out > 1 ? io->out[1] : NULL;
    size_t es = dtype_size(x->dtype), kk = (size_t)k;
    struct topk_line l = {
        .x = x, .step = g.inner, .largest = node_attr_int(io->node, "largest", 1) != 0};
    for (size_t o = 0; o < g.outer; o++)
        for (size_t j = 0; j < g.inner; j++) {
            l.base = o * g.n * g.inner + j;
            for (size_t m = 0; m < g.n; m++)
                idx[m] = m;
            topk_sort(&l, idx, idx + g.n, g.n);
            for (size_t m = 0; m < kk; m++) {
                size_t at = o * kk * g.inner + m * g.inner + j;
                if (vals)
                    memcpy((char *)vals->data + at * es,
                           (const char *)x->data + (l.base + idx[m] * g.inner) * es, es);
                if (inds)
                    tensor_i64(inds)[at] = (int64_t)idx[m];
            }
        }
    free(idx);
    return 0;
}

const struct op_def op_topk = {.name = "TopK", .shape = topk_shape, .run = topk_run};

/* ---- GatherElements: out[i][j][k] = data[indices[i][j][k]][j][k] for axis 0, and so on;
 * the output has the indices' shape. Negative indices count from the end. */

static int gatherelements_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0)
        return -1;
    const struct tensor *data = io->in[0], *ind = io->in[1];
    if (!known_dtype(data->dtype))
        return op_unsupported(io, err, "element type %s of input 0", dtype_name(data->dtype));
    if (ind->dtype != DTYPE_INT64 && ind->dtype != DTYPE_INT32)
        return op_fail(io, err, "input 1 (indices) must be int64 or int32, is %s",
                       dtype_name(ind->dtype));
    char sa[96], sb[96];
    const struct shape *ds = &data->shape, *is = &ind->shape;
    if (ds->ndim < 1 || ds->ndim != is->ndim)
        return op_fail(io, err,
                       "data of shape %s and indices of shape %s must have the same rank "
                       "(at least 1)",
                       shape_format(ds, sa, sizeof sa), shape_format(is, sb, sizeof sb));
    int64_t axis;
    if (op_axis(io, node_attr_int(io->node, "axis", 0), ds->ndim, &axis, err) < 0)
        return -1;
    for (int d = 0; d < ds->ndim; d++)
        if (d != axis && is->dims[d] > ds->dims[d])
            return op_fail(io, err,
                           "indices of shape %s are larger than data of shape %s on axis %d",
                           shape_format(is, sb, sizeof sb), shape_format(ds, sa, sizeof sa), d);
    op_set_out(io, 0, data->dtype, is);
    return 0;
}

static int gatherelements_run(struct op_io *io, struct err *err)
{
    const struct tensor *data = io->in[0], *ind = io->in[1];
    const struct shape *ds = &data->shape, *is = &ind->shape;
    int64_t axis;
    if (op_axis(io, node_attr_int(io->node, "axis", 0), ds->ndim, &axis, err) < 0)
        return -1;
    size_t n = tensor_numel(ind), es = dtype_size(data->dtype);
    if (n == 0)
        return 0;
    int64_t dstride[TENSOR_MAX_DIMS], idx[TENSOR_MAX_DIMS] = {0};
    int64_t acc = 1;
    for (int d = ds->ndim - 1; d >= 0; d--) {
        dstride[d] = acc;
        acc *= ds->dims[d];
    }
    int64_t dim = ds->dims[axis];
    for (size_t i = 0; i < n; i++) {
        int64_t v = int_at(ind, i), at = v < 0 ? v + dim : v;
        if (at < 0 || at >= dim)
            return op_fail(io, err, "index %lld is out of range for axis %lld of size %lld",
                           (long long)v, (long long)axis, (long long)dim);
        int64_t off = 0;
        for (int d = 0; d < ds->ndim; d++)
            off += (d == axis ? at : idx[d]) * dstride[d];
        memcpy((char *)io->out[0]->data + i * es, (const char *)data->data + (size_t)off * es, es);
        for (int d = is->ndim - 1; d >= 0; d--) {
            if (++idx[d] < is->dims[d])
                break;
            idx[d] = 0;
        }
    }
    return 0;
}

const struct op_def op_gatherelements = {
    .name = "GatherElements", .shape = gatherelements_shape, .run = gatherelements_run};

/* ---- OneHot: a new axis of depth entries, on_value where the index is, off_value
 * elsewhere. Indices in [-depth, depth) count negative ones from the end; others give a row
 * of off_value. depth sets the output shape, so it must be known when the plan is made.
 * Float indices and depth are truncated toward zero, as onnxruntime casts them. */

static int onehot_depth(const struct op_io *io, int64_t *depth, struct err *err)
{
    const struct tensor *d = io->in[1];
    if (!numeric_dtype(d->dtype))
        return op_unsupported(io, err, "element type %s of input 1 (depth)", dtype_name(d->dtype));
    if (tensor_numel(d) != 1)
        return op_fail(io, err, "input 1 (depth) has %zu values, expected 1", tensor_numel(d));
    if (!d->data)
        return op_unsupported(io, err,
                              "a depth not known when the model is loaded (it sets the "
                              "output's shape)");
    double v = num_at(d, 0);
    if (!(v >= 1.0 && v < 0x1p62))
        return op_fail(io, err, "input 1 (depth) is %g, expected a positive number", v);
    *depth = (int64_t)v;
    return 0;
}

static int onehot_axis(const struct op_io *io, int64_t *axis, struct err *err)
{
    int rank = io->in[0]->shape.ndim;
    int64_t a = node_attr_int(io->node, "axis", -1);
    int64_t at = a < 0 ? a + rank + 1 : a;
    if (at < 0 || at > rank)
        return op_fail(io, err,
                       "attribute axis = %lld is out of range for indices of rank %d "
                       "(accepted %d..%d)",
                       (long long)a, rank, -rank - 1, rank);
    *axis = at;
    return 0;
}

static int onehot_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 3, 3, err) < 0)
        return -1;
    const struct tensor *ind = io->in[0], *values = io->in[2];
    if (!numeric_dtype(ind->dtype))
        return op_unsupported(io, err, "element type %s of input 0 (indices)",
                              dtype_name(ind->dtype));
    if (!known_dtype(values->dtype))
        return op_unsupported(io, err, "element type %s of input 2 (values)",
                              dtype_name(values->dtype));
    if (tensor_numel(values) != 2)
        return op_fail(io, err, "input 2 (values) has %zu elements, expected 2 (off, on)",
                       tensor_numel(values));
    if (ind->shape.ndim + 1 > TENSOR_MAX_DIMS)
        return op_unsupported(io, err, "an output of more than %d dims", TENSOR_MAX_DIMS);
    int64_t depth, axis;
    if (onehot_depth(io, &depth, err) < 0 || onehot_axis(io, &axis, err) < 0)
        return -1;
    struct shape out = {.ndim = ind->shape.ndim + 1};
    for (int d = 0, k = 0; d < out.ndim; d++)
        out.dims[d] = d == axis ? depth : ind->shape.dims[k++];
    op_set_out(io, 0, values->dtype, &out);
    return 0;
}

static int onehot_run(struct op_io *io, struct err *err)
{
    const struct tensor *ind = io->in[0], *values = io->in[2];
    struct tensor *y = io->out[0];
    int64_t depth, axis;
    if (onehot_depth(io, &depth, err) < 0 || onehot_axis(io, &axis, err) < 0)
        return -1;
    size_t es = dtype_size(y->dtype), n_out = tensor_numel(y);
    const char *off = values->data, *on = (const char *)values->data + es;
    char *out = y->data;
    for (size_t i = 0; i < n_out; i++)
        memcpy(out + i * es, off, es);
    /* Indices as [outer, inner] split at axis; the output is [outer, depth, inner]. */
    struct line_geom g = {1, (size_t)depth, 1};
    for (int d = 0; d < ind->shape.ndim; d++)
        if (d < axis)
            g.outer *= (size_t)ind->shape.dims[d];
        else
            g.inner *= (size_t)ind->shape.dims[d];
    for (size_t o = 0; o < g.outer; o++)
        for (size_t j = 0; j < g.inner; j++) {
            double v = num_at(ind, o * g.inner + j);
            if (!(fabs(v) < 0x1p62))
                continue;
            int64_t at = (int64_t)v;
            if (at < 0)
                at += depth;
            if (at < 0 || at >= depth)
                continue;
            memcpy(out + ((o * g.n + (size_t)at) * g.inner + j) * es, on, es);
        }
    return 0;
}

const struct op_def op_onehot = {.name = "OneHot", .shape = onehot_shape, .run = onehot_run};

/* ---- Trilu: the upper (j - i >= k) or lower (j - i <= k) triangle of each of the last two
 * dims' matrices, the rest zeroed. k is an optional int64 scalar input (default 0). */

static int trilu_k(const struct op_io *io, int64_t *k, struct err *err)
{
    *k = 0;
    if (!op_has_in(io, 1))
        return 0;
    const struct tensor *t = io->in[1];
    if (t->dtype != DTYPE_INT64)
        return op_fail(io, err, "input 1 (k) must be int64, is %s", dtype_name(t->dtype));
    if (tensor_numel(t) != 1)
        return op_fail(io, err, "input 1 (k) has %zu values, expected 1", tensor_numel(t));
    if (t->data)
        *k = tensor_i64(t)[0];
    return 0;
}

static int trilu_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 2, err) < 0)
        return -1;
    const struct tensor *x = io->in[0];
    if (!known_dtype(x->dtype))
        return op_unsupported(io, err, "element type %s of input 0", dtype_name(x->dtype));
    if (x->shape.ndim < 2) {
        char sb[96];
        return op_fail(io, err, "input 0 of shape %s must have at least 2 dims",
                       shape_format(&x->shape, sb, sizeof sb));
    }
    int64_t k;
    if (trilu_k(io, &k, err) < 0)
        return -1;
    op_set_out(io, 0, x->dtype, &x->shape);
    return 0;
}

static int trilu_run(struct op_io *io, struct err *err)
{
    int64_t k;
    if (trilu_k(io, &k, err) < 0)
        return -1;
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    bool upper = node_attr_int(io->node, "upper", 1) != 0;
    int r = x->shape.ndim;
    int64_t rows = x->shape.dims[r - 2], cols = x->shape.dims[r - 1];
    size_t es = dtype_size(x->dtype), n = tensor_numel(x);
    size_t mat = (size_t)(rows * cols);
    if (n == 0)
        return 0;
    memcpy(y->data, x->data, tensor_bytes(x));
    for (size_t b = 0; b < n / mat; b++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                bool keep = upper ? j - i >= k : j - i <= k;
                if (!keep)
                    memset((char *)y->data + (b * mat + (size_t)(i * cols + j)) * es, 0, es);
            }
    return 0;
}

const struct op_def op_trilu = {.name = "Trilu", .shape = trilu_shape, .run = trilu_run};

/* ---- CumSum: running sums along the axis given as input 1, optionally excluding the
 * element itself (exclusive) or running from the end (reverse). Floats accumulate in double;
 * integers wrap as two's complement. */

static int cumsum_axis(const struct op_io *io, int64_t *axis, struct err *err)
{
    const struct tensor *a = io->in[1];
    if (a->dtype != DTYPE_INT64 && a->dtype != DTYPE_INT32)
        return op_fail(io, err, "input 1 (axis) must be int64 or int32, is %s",
                       dtype_name(a->dtype));
    if (tensor_numel(a) != 1)
        return op_fail(io, err, "input 1 (axis) has %zu values, expected 1", tensor_numel(a));
    *axis = -1;
    if (!a->data)
        return 0;
    return op_axis(io, int_at(a, 0), io->in[0]->shape.ndim, axis, err);
}

static int cumsum_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0)
        return -1;
    const struct tensor *x = io->in[0];
    if (!numeric_dtype(x->dtype))
        return op_unsupported(io, err, "element type %s (expected float32, int64 or int32)",
                              dtype_name(x->dtype));
    if (x->shape.ndim == 0)
        return op_fail(io, err, "input 0 is a scalar; CumSum needs at least one axis");
    int64_t axis;
    if (cumsum_axis(io, &axis, err) < 0)
        return -1;
    op_set_out(io, 0, x->dtype, &x->shape);
    return 0;
}

static int cumsum_run(struct op_io *io, struct err *err)
{
    int64_t axis;
    if (cumsum_axis(io, &axis, err) < 0)
        return -1;
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    bool exclusive = node_attr_int(io->node, "exclusive", 0) != 0;
    bool reverse = node_attr_int(io->node, "reverse", 0) != 0;
    struct line_geom g = line_geometry(&x->shape, axis);
    for (size_t o = 0; o < g.outer; o++)
        for (size_t j = 0; j < g.inner; j++) {
            size_t base = o * g.n * g.inner + j;
            double fsum = 0.0;
            uint64_t isum = 0;
            for (size_t m = 0; m < g.n; m++) {
                size_t at = base + (reverse ? g.n - 1 - m : m) * g.inner;
                switch (x->dtype) {
                case DTYPE_FLOAT:
                    if (!exclusive)
                        fsum += tensor_f32(x)[at];
                    tensor_f32(y)[at] = (float)fsum;
                    if (exclusive)
                        fsum += tensor_f32(x)[at];
                    break;
                default: {
                    uint64_t v = (uint64_t)int_at(x, at);
                    if (!exclusive)
                        isum += v;
                    if (x->dtype == DTYPE_INT64)
                        tensor_i64(y)[at] = (int64_t)isum;
                    else
                        tensor_i32(y)[at] = (int32_t)(uint32_t)isum;
                    if (exclusive)
                        isum += v;
                    break;
                }
                }
            }
        }
    return 0;
}

const struct op_def op_cumsum = {.name = "CumSum", .shape = cumsum_shape, .run = cumsum_run};

/* ---- NonZero: the [rank, count] int64 coordinates of the non-zero elements, in row-major
 * order. count depends on the values, so the input must be known when the plan is made (the
 * planner then folds the node); otherwise the node is refused as unsupported. A scalar is
 * taken as a 1-D tensor of one element, as numpy's nonzero does. */

static bool nonzero_at(const struct tensor *x, size_t i)
{
    return num_at(x, i) != 0.0 || (x->dtype == DTYPE_FLOAT && isnan(tensor_f32(x)[i]));
}

static int nonzero_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0)
        return -1;
    const struct tensor *x = io->in[0];
    if (!known_dtype(x->dtype))
        return op_unsupported(io, err, "element type %s of input 0", dtype_name(x->dtype));
    size_t n = tensor_numel(x), count = 0;
    if (!x->data && n > 0)
        return op_unsupported(io, err,
                              "a NonZero whose input is not known when the model is loaded "
                              "(its output's shape depends on the values)");
    for (size_t i = 0; i < n; i++)
        count += nonzero_at(x, i);
    struct shape out = {.ndim = 2, .dims = {x->shape.ndim > 0 ? x->shape.ndim : 1, (int64_t)count}};
    op_set_out(io, 0, DTYPE_INT64, &out);
    return 0;
}

static int nonzero_run(struct op_io *io, struct err *err)
{
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    size_t n = tensor_numel(x), count = (size_t)y->shape.dims[1], c = 0;
    int rank = x->shape.ndim;
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    for (size_t i = 0; i < n && c < count; i++) {
        if (nonzero_at(x, i)) {
            for (int d = 0; d < (rank > 0 ? rank : 1); d++)
                tensor_i64(y)[(size_t)d * count + c] = rank > 0 ? idx[d] : 0;
            c++;
        }
        for (int d = rank - 1; d >= 0; d--) {
            if (++idx[d] < x->shape.dims[d])
                break;
            idx[d] = 0;
        }
    }
    return 0;
}

const struct op_def op_nonzero = {.name = "NonZero", .shape = nonzero_shape, .run = nonzero_run};
