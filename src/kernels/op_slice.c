/* Slice (a strided sub-tensor along some axes) and Split (consecutive parts along one axis)
 * of float32 or int64 tensors, with their gradients. Not for gathering by index
 * (op_shape.c's Gather) or for joining (op_concat.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"

/* The element types these ops move. Both only copy bytes, but other types are refused
 * until the rest of the engine knows them. */
static int data_dtype(const struct op_io *io, struct err *err)
{
    enum dtype t = io->in[0]->dtype;
    if (t != DTYPE_FLOAT && t != DTYPE_INT64)
        return op_unsupported(io, err, "element type %s of input 0", dtype_name(t));
    return 0;
}

/* Integer list input i (starts, ends, axes, steps, split) known at planning time. int32
 * lists are valid ONNX but not a type prunescope has yet. */
static int const_list(const struct op_io *io, int i, const char *what, const int64_t **vals,
                      size_t *n, struct err *err)
{
    const struct tensor *t = io->in[i];
    if (t->dtype != DTYPE_INT64) {
        if (t->dtype == DTYPE_FLOAT)
            return op_fail(io, err, "%s (input %d) must be int64 or int32, is float32", what, i);
        return op_unsupported(io, err, "element type %s of %s (input %d)", dtype_name(t->dtype),
                              what, i);
    }
    if (t->shape.ndim != 1)
        return op_fail(io, err, "%s (input %d) must be a 1-D tensor, has rank %d", what, i,
                       t->shape.ndim);
    if (!t->data && tensor_numel(t) > 0)
        return op_fail(io, err,
                       "%s (input %d) must be known when the model is loaded (a constant or "
                       "computed from shapes only)",
                       what, i);
    *vals = tensor_i64(t);
    *n = tensor_numel(t);
    return 0;
}

/* ---- Slice ---- */

/* Per axis of the input: the first index read, the step between reads and how many
 * are read (the output's dim). Axes not named are read whole. */
struct sl_plan {
    int ndim;
    int64_t start[TENSOR_MAX_DIMS];
    int64_t step[TENSOR_MAX_DIMS];
    int64_t count[TENSOR_MAX_DIMS];
};

/* The spec's clamping: negative starts and ends count from the back; then starts are
 * clamped into [0, dim] ([0, dim-1] when stepping backwards) and ends into [0, dim]
 * ([-1, dim-1] backwards), so out-of-range values select up to the edge. */
static int64_t sl_count(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *first)
{
    if (start < 0)
        start += dim;
    if (end < 0)
        end += dim;
    int64_t lo_s = 0, hi_s = step > 0 ? dim : dim - 1;
    int64_t lo_e = step > 0 ? 0 : -1, hi_e = step > 0 ? dim : dim - 1;
    start = start < lo_s ? lo_s : start > hi_s ? hi_s : start;
    end = end < lo_e ? lo_e : end > hi_e ? hi_e : end;
    *first = start < 0 ? 0 : start;
    if (dim == 0)
        return 0;
    /* The distance covered is at most dim + 1, so comparing before dividing keeps steps
     * near INT64_MIN from overflowing. */
    int64_t range = step > 0 ? end - start : start - end;
    if (range <= 0)
        return 0;
    if (step > range || step < -range)
        return 1;
    int64_t mag = step > 0 ? step : -step;
    return (range + mag - 1) / mag;
}

/* starts, ends, axes and steps: attributes before opset 10, inputs 1-4 from then on. */
static int sl_plan_make(const struct op_io *io, struct sl_plan *sp, struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    int rank = s->ndim;
    const int64_t *starts, *ends, *axes = NULL, *steps = NULL;
    size_t n_starts, n_ends, n_axes = 0, n_steps = 0;
    if (io->opset < 10) {
        if (op_check_arity(io, 1, 1, err) < 0)
            return -1;
        starts = node_attr_ints(io->node, "starts", &n_starts);
        ends = node_attr_ints(io->node, "ends", &n_ends);
        axes = node_attr_ints(io->node, "axes", &n_axes);
        if (!starts || !ends)
            return op_fail(io, err, "the %s attribute is required", starts ? "ends" : "starts");
    } else {
        if (op_check_arity(io, 3, 5, err) < 0 ||
            const_list(io, 1, "starts", &starts, &n_starts, err) < 0 ||
            const_list(io, 2, "ends", &ends, &n_ends, err) < 0)
            return -1;
        if (op_has_in(io, 3) && const_list(io, 3, "axes", &axes, &n_axes, err) < 0)
            return -1;
        if (op_has_in(io, 4) && const_list(io, 4, "steps", &steps, &n_steps, err) < 0)
            return -1;
        if (!op_has_in(io, 3))
            axes = NULL;
        if (!op_has_in(io, 4))
            steps = NULL;
    }
    if (n_ends != n_starts)
        return op_fail(io, err, "starts has %zu entries but ends has %zu", n_starts, n_ends);
    if (axes && n_axes != n_starts)
        return op_fail(io, err, "starts has %zu entries but axes has %zu", n_starts, n_axes);
    if (steps && n_steps != n_starts)
        return op_fail(io, err, "starts has %zu entries but steps has %zu", n_starts, n_steps);
    if (!axes && n_starts > (size_t)rank)
        return op_fail(io, err, "starts has %zu entries for an input of rank %d", n_starts, rank);
    sp->ndim = rank;
    for (int d = 0; d < rank; d++) {
        sp->start[d] = 0;
        sp->step[d] = 1;
        sp->count[d] = s->dims[d];
    }
    bool named[TENSOR_MAX_DIMS] = {false};
    char sb[96];
    for (size_t i = 0; i < n_starts; i++) {
        int64_t a = axes ? axes[i] : (int64_t)i;
        int64_t ax = a < 0 ? a + rank : a;
        if (ax < 0 || ax >= rank)
            return op_fail(io, err,
                           "axes[%zu] = %lld is out of range for the input of shape %s "
                           "(accepted %d..%d)",
                           i, (long long)a, shape_format(s, sb, sizeof sb), -rank, rank - 1);
        if (named[ax])
            return op_fail(io, err, "axes names axis %lld twice", (long long)ax);
        named[ax] = true;
        int64_t step = steps ? steps[i] : 1;
        if (step == 0)
            return op_fail(io, err, "steps[%zu] is 0", i);
        sp->step[ax] = step;
        sp->count[ax] = sl_count(s->dims[ax], starts[i], ends[i], step, &sp->start[ax]);
    }
    return 0;
}

static int slice_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 5, err) < 0 || data_dtype(io, err) < 0)
        return -1;
    struct sl_plan sp;
    if (sl_plan_make(io, &sp, err) < 0)
        return -1;
    struct shape out = {.ndim = sp.ndim};
    for (int d = 0; d < sp.ndim; d++)
        out.dims[d] = sp.count[d];
    op_set_out(io, 0, io->in[0]->dtype, &out);
    return 0;
}

/* The output is visited in order as runs: the innermost axes read whole form a contiguous
 * block, and the axis just outside them extends it when its step is 1. visit gets the run's
 * element offsets in the input and output, its length and the input step between its
 * elements (1, or the axis's step when the block is one element). */
typedef void (*sl_visit_fn)(void *ctx, int64_t in_off, size_t out_off, size_t n, int64_t step);

static void sl_walk(const struct sl_plan *sp, const struct shape *in, sl_visit_fn visit, void *ctx)
{
    int nd = sp->ndim;
    int64_t stride[TENSOR_MAX_DIMS];
    int64_t acc = 1;
    for (int d = nd - 1; d >= 0; d--) {
        stride[d] = acc;
        acc *= in->dims[d];
    }
    size_t total = 1;
    for (int d = 0; d < nd; d++)
        total *= (size_t)sp->count[d];
    if (total == 0)
        return;
    /* Axes k+1.. are read whole: a block of `block` elements. */
    int k = nd - 1;
    size_t block = 1;
    while (k >= 0 && sp->start[k] == 0 && sp->step[k] == 1 && sp->count[k] == in->dims[k]) {
        block *= (size_t)in->dims[k];
        k--;
    }
    if (k < 0) {
        visit(ctx, 0, 0, total, 1);
        return;
    }
    int64_t base = 0;
    for (int d = 0; d <= k; d++)
        base += sp->start[d] * stride[d];
    size_t inner_n;     /* elements per visit */
    int64_t inner_step; /* input step within a visit */
    int outer;          /* axes [0, outer) are walked by the odometer */
    if (sp->step[k] == 1) {
        inner_n = (size_t)sp->count[k] * block;
        inner_step = 1;
        outer = k;
    } else if (block == 1) {
        inner_n = (size_t)sp->count[k];
        inner_step = sp->step[k];
        outer = k;
    } else {
        inner_n = block;
        inner_step = 1;
        outer = k + 1;
    }
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    int64_t in_off = base;
    size_t runs = total / inner_n;
    size_t out_off = 0;
    for (size_t r = 0; r < runs; r++) {
        visit(ctx, in_off, out_off, inner_n, inner_step);
        out_off += inner_n;
        for (int d = outer - 1; d >= 0; d--) {
            in_off += sp->step[d] * stride[d];
            if (++idx[d] < sp->count[d])
                break;
            in_off -= idx[d] * sp->step[d] * stride[d];
            idx[d] = 0;
        }
    }
}

struct sl_copy {
    const char *src;
    char *dst;
    size_t es;
};

static void sl_copy_run(void *ctx, int64_t in_off, size_t out_off, size_t n, int64_t step)
{
    struct sl_copy *c = ctx;
    const char *src = c->src + in_off * (int64_t)c->es;
    char *dst = c->dst + out_off * c->es;
    if (step == 1) {
        memcpy(dst, src, n * c->es);
    } else if (c->es == sizeof(int64_t)) {
        const int64_t *s = (const int64_t *)(const void *)src;
        int64_t *o = (int64_t *)(void *)dst;
        for (size_t j = 0; j < n; j++)
            o[j] = s[(int64_t)j * step];
    } else {
        const float *s = (const float *)(const void *)src;
        float *o = (float *)(void *)dst;
        for (size_t j = 0; j < n; j++)
            o[j] = s[(int64_t)j * step];
    }
}

static int slice_run(struct op_io *io, struct err *err)
{
    struct sl_plan sp;
    if (sl_plan_make(io, &sp, err) < 0)
        return -1;
    struct sl_copy c = {io->in[0]->data, io->out[0]->data, dtype_size(io->in[0]->dtype)};
    sl_walk(&sp, &io->in[0]->shape, sl_copy_run, &c);
    return 0;
}

struct sl_grad {
    float *dx;
    const float *dy;
};

static void sl_grad_run(void *ctx, int64_t in_off, size_t out_off, size_t n, int64_t step)
{
    struct sl_grad *g = ctx;
    float *dx = g->dx + in_off;
    const float *dy = g->dy + out_off;
    if (step == 1)
        for (size_t j = 0; j < n; j++)
            dx[j] += dy[j];
    else
        for (size_t j = 0; j < n; j++)
            dx[(int64_t)j * step] += dy[j];
}

/* Each output element is one input element: its gradient goes back to where it was read
 * (no two outputs read the same element). */
static int slice_backward(const struct op_io *io, const struct tensor *const *dout,
                          struct tensor *const *din, struct err *err)
{
    if (!din[0] || !dout[0])
        return 0;
    struct sl_plan sp;
    if (sl_plan_make(io, &sp, err) < 0)
        return -1;
    struct sl_grad g = {tensor_f32(din[0]), tensor_f32(dout[0])};
    sl_walk(&sp, &io->in[0]->shape, sl_grad_run, &g);
    return 0;
}

const struct op_def op_slice = {
    .name = "Slice", .shape = slice_shape, .run = slice_run, .backward = slice_backward};

/* ---- Split ---- */

#define SPLIT_MAX_PARTS 1024

/* The axis and the size of every part. The sizes come from the split attribute (opset 2
 * to 12) or input 1 (13 on); otherwise the parts are equal, one per output: they must
 * divide the axis exactly before opset 18, where num_outputs may name the count and the
 * last part takes what is left. */
static int sp_parts(const struct op_io *io, int64_t *axis, int64_t *sizes, struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    int rank = s->ndim;
    int64_t a = node_attr_int(io->node, "axis", 0);
    int64_t ax = a < 0 ? a + rank : a;
    char sb[96];
    if (ax < 0 || ax >= rank)
        return op_fail(io, err,
                       "axis %lld is out of range for the input of shape %s (accepted %d..%d)",
                       (long long)a, shape_format(s, sb, sizeof sb), -rank, rank - 1);
    *axis = ax;
    int64_t dim = s->dims[ax];
    int n_out = io->n_out;
    const int64_t *split = NULL;
    size_t n_split = 0;
    bool given = false;
    if (io->opset < 13) {
        if (op_has_in(io, 1) && io->opset < 2)
            return op_unsupported(io, err, "the split sizes as input 1 (opset 1)");
        if (op_has_in(io, 1))
            return op_fail(io, err,
                           "takes the split sizes as an attribute before opset 13, "
                           "not as input 1");
        split = node_attr_ints(io->node, "split", &n_split);
        given = split != NULL;
    } else if (op_has_in(io, 1)) {
        if (const_list(io, 1, "split", &split, &n_split, err) < 0)
            return -1;
        given = true;
    }
    const struct attr *num = io->opset >= 18 ? node_attr(io->node, "num_outputs") : NULL;
    if (given && num)
        return op_fail(io, err, "has both the split input and the num_outputs attribute");
    if (given) {
        if (n_split != (size_t)n_out)
            return op_fail(io, err, "split has %zu entries but the node has %d outputs", n_split,
                           n_out);
        int64_t sum = 0;
        for (size_t i = 0; i < n_split; i++) {
            if (split[i] < 0)
                return op_fail(io, err, "split[%zu] = %lld is negative", i, (long long)split[i]);
            sizes[i] = split[i];
            sum += split[i];
        }
        if (sum != dim)
            return op_fail(io, err,
                           "split sizes add up to %lld but axis %lld of the input of shape %s "
                           "has %lld",
                           (long long)sum, (long long)ax, shape_format(s, sb, sizeof sb),
                           (long long)dim);
        return 0;
    }
    if (num) {
        if (num->type != ATTR_INT || num->i < 1)
            return op_fail(io, err, "the num_outputs attribute must be a positive integer");
        if (num->i != n_out)
            return op_fail(io, err, "num_outputs is %lld but the node has %d outputs",
                           (long long)num->i, n_out);
    }
    int64_t part = dim / n_out, last = part;
    if (dim % n_out != 0) {
        if (!num)
            return op_fail(io, err,
                           "axis %lld of the input of shape %s (%lld) does not split into %d "
                           "equal parts",
                           (long long)ax, shape_format(s, sb, sizeof sb), (long long)dim, n_out);
        part = dim / n_out + 1;
        last = dim - part * (n_out - 1);
        if (last < 0)
            return op_fail(io, err,
                           "axis %lld (%lld) cannot be split into %d parts of %lld with a "
                           "smaller last one",
                           (long long)ax, (long long)dim, n_out, (long long)part);
    }
    for (int o = 0; o < n_out; o++)
        sizes[o] = o == n_out - 1 ? last : part;
    return 0;
}

static int split_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 2, err) < 0 || data_dtype(io, err) < 0)
        return -1;
    if (io->n_out < 1 || io->n_out > SPLIT_MAX_PARTS)
        return op_fail(io, err, "has %d outputs (expected 1 to %d)", io->n_out, SPLIT_MAX_PARTS);
    int64_t axis, sizes[SPLIT_MAX_PARTS];
    if (sp_parts(io, &axis, sizes, err) < 0)
        return -1;
    struct shape out = io->in[0]->shape;
    for (int o = 0; o < io->n_out; o++) {
        out.dims[axis] = sizes[o];
        op_set_out(io, o, io->in[0]->dtype, &out);
    }
    return 0;
}

/* The input is outer blocks of [dim x inner]; part o is rows [off_o, off_o + size_o) of
 * every block, a contiguous chunk. */
struct sp_layout {
    size_t outer, inner, dim;
};

static struct sp_layout sp_layout(const struct shape *s, int64_t axis)
{
    struct sp_layout l = {1, 1, (size_t)s->dims[axis]};
    for (int d = 0; d < s->ndim; d++) {
        if (d < axis)
            l.outer *= (size_t)s->dims[d];
        else if (d > axis)
            l.inner *= (size_t)s->dims[d];
    }
    return l;
}

static int split_run(struct op_io *io, struct err *err)
{
    int64_t axis, sizes[SPLIT_MAX_PARTS];
    if (sp_parts(io, &axis, sizes, err) < 0)
        return -1;
    struct sp_layout l = sp_layout(&io->in[0]->shape, axis);
    size_t es = dtype_size(io->in[0]->dtype);
    const char *src = io->in[0]->data;
    size_t off = 0;
    for (int o = 0; o < io->n_out; o++) {
        size_t chunk = (size_t)sizes[o] * l.inner * es;
        struct tensor *y = io->out[o];
        if (y && chunk) {
            char *dst = y->data;
            for (size_t b = 0; b < l.outer; b++)
                memcpy(dst + b * chunk, src + (b * l.dim + off) * l.inner * es, chunk);
        }
        off += (size_t)sizes[o];
    }
    return 0;
}

static int split_backward(const struct op_io *io, const struct tensor *const *dout,
                          struct tensor *const *din, struct err *err)
{
    if (!din[0])
        return 0;
    int64_t axis, sizes[SPLIT_MAX_PARTS];
    if (sp_parts(io, &axis, sizes, err) < 0)
        return -1;
    struct sp_layout l = sp_layout(&io->in[0]->shape, axis);
    float *dx = tensor_f32(din[0]);
    size_t off = 0;
    for (int o = 0; o < io->n_out; o++) {
        size_t chunk = (size_t)sizes[o] * l.inner;
        if (dout[o] && chunk) {
            const float *dy = tensor_f32(dout[o]);
            for (size_t b = 0; b < l.outer; b++) {
                float *d = dx + (b * l.dim + off) * l.inner;
                const float *g = dy + b * chunk;
                for (size_t j = 0; j < chunk; j++)
                    d[j] += g[j];
            }
        }
        off += (size_t)sizes[o];
    }
    return 0;
}

const struct op_def op_split = {
    .name = "Split", .shape = split_shape, .run = split_run, .backward = split_backward};
