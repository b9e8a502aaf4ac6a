/* Expand (broadcast a tensor to a shape) and Tile (repeat a tensor along every axis) of
 * float32 or int64 tensors, with their gradients. Not for elementwise arithmetic, which
 * broadcasts by itself (broadcast.h). */
#include <stdint.h>
#include <string.h>

#include "kernels/op.h"

static int data_dtype(const struct op_io *io, struct err *err)
{
    enum dtype t = io->in[0]->dtype;
    if (t != DTYPE_FLOAT && t != DTYPE_INT64)
        return op_unsupported(io, err, "element type %s of input 0", dtype_name(t));
    return 0;
}

/* Input 1 (Expand's shape, Tile's repeats): int64, 1-D and known at planning time. */
static int const_list(const struct op_io *io, const char *what, const int64_t **vals, size_t *n,
                      struct err *err)
{
    const struct tensor *t = io->in[1];
    if (t->dtype != DTYPE_INT64)
        return op_fail(io, err, "%s (input 1) must be int64, is %s", what, dtype_name(t->dtype));
    if (t->shape.ndim != 1)
        return op_fail(io, err, "%s (input 1) must be a 1-D tensor, has rank %d", what,
                       t->shape.ndim);
    if (!t->data && tensor_numel(t) > 0)
        return op_fail(io, err,
                       "%s (input 1) must be known when the model is loaded (a constant or "
                       "computed from shapes only)",
                       what);
    *vals = tensor_i64(t);
    *n = tensor_numel(t);
    for (size_t i = 0; i < *n; i++)
        if ((*vals)[i] < 0)
            return op_fail(io, err, "%s[%zu] = %lld is negative", what, i, (long long)(*vals)[i]);
    return 0;
}

/* Copies the first `unit` bytes of dst over the next n-1 units, doubling the copied span
 * each time, so a small unit repeated many times costs a few large memcpys. */
static void replicate(char *dst, size_t unit, size_t n)
{
    size_t total = unit * n, filled = unit;
    while (filled < total) {
        size_t c = filled < total - filled ? filled : total - filled;
        memcpy(dst + filled, dst, c);
        filled += c;
    }
}

/* Both ops as a walk over the output's axes. Per axis: the input and output dims and the
 * size of one step along it (elements, in the input and in the output). Axes from tail on
 * are the same in input and output, one contiguous block of tail_n elements. */
struct ex_plan {
    int ndim, tail;
    int64_t in_dims[TENSOR_MAX_DIMS], out_dims[TENSOR_MAX_DIMS], reps[TENSOR_MAX_DIMS];
    size_t in_slab[TENSOR_MAX_DIMS], out_slab[TENSOR_MAX_DIMS];
    size_t tail_n;
};

static void ex_plan_finish(struct ex_plan *p)
{
    size_t in_acc = 1, out_acc = 1;
    for (int d = p->ndim - 1; d >= 0; d--) {
        p->in_slab[d] = in_acc;
        p->out_slab[d] = out_acc;
        in_acc *= (size_t)p->in_dims[d];
        out_acc *= (size_t)p->out_dims[d];
    }
    p->tail = p->ndim;
    p->tail_n = 1;
    while (p->tail > 0 && p->in_dims[p->tail - 1] == p->out_dims[p->tail - 1]) {
        p->tail--;
        p->tail_n *= (size_t)p->in_dims[p->tail];
    }
}

/* ---- Expand ---- */

static int expand_plan(const struct op_io *io, struct ex_plan *p, struct err *err)
{
    const int64_t *dims;
    size_t n;
    if (const_list(io, "shape", &dims, &n, err) < 0)
        return -1;
    if (n > TENSOR_MAX_DIMS)
        return op_fail(io, err, "shape has %zu entries; at most %d dims are supported", n,
                       TENSOR_MAX_DIMS);
    const struct shape *s = &io->in[0]->shape;
    struct shape want = shape_make((int)n, dims), out;
    if (op_broadcast_shape(s, &want, &out) < 0) {
        char si[96], sw[96];
        return op_fail(io, err, "cannot broadcast the input of shape %s to shape %s",
                       shape_format(s, si, sizeof si), shape_format(&want, sw, sizeof sw));
    }
    p->ndim = out.ndim;
    for (int d = 0; d < out.ndim; d++) {
        int di = d - (out.ndim - s->ndim);
        p->in_dims[d] = di >= 0 ? s->dims[di] : 1;
        p->out_dims[d] = out.dims[d];
        p->reps[d] = 1;
    }
    ex_plan_finish(p);
    return 0;
}

static int expand_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0 || data_dtype(io, err) < 0)
        return -1;
    struct ex_plan p;
    if (expand_plan(io, &p, err) < 0)
        return -1;
    struct shape out = shape_make(p.ndim, p.out_dims);
    op_set_out(io, 0, io->in[0]->dtype, &out);
    return 0;
}

/* Axes where the input has size 1 are filled once and replicated. */
static void expand_fill(const struct ex_plan *p, int d, const char *src, char *dst, size_t es)
{
    if (d == p->tail) {
        memcpy(dst, src, p->tail_n * es);
        return;
    }
    size_t n = (size_t)p->out_dims[d];
    if (p->in_dims[d] == 1) {
        expand_fill(p, d + 1, src, dst, es);
        replicate(dst, p->out_slab[d] * es, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        expand_fill(p, d + 1, src + i * p->in_slab[d] * es, dst + i * p->out_slab[d] * es, es);
}

static int expand_run(struct op_io *io, struct err *err)
{
    struct ex_plan p;
    if (expand_plan(io, &p, err) < 0)
        return -1;
    if (tensor_numel(io->out[0]) == 0)
        return 0;
    expand_fill(&p, 0, io->in[0]->data, io->out[0]->data, dtype_size(io->in[0]->dtype));
    return 0;
}

/* dx sums dy over the broadcast axes. */
static void expand_grad(const struct ex_plan *p, int d, float *dx, const float *dy)
{
    if (d == p->tail) {
        for (size_t j = 0; j < p->tail_n; j++)
            dx[j] += dy[j];
        return;
    }
    size_t n = (size_t)p->out_dims[d];
    if (p->in_dims[d] == 1 && d + 1 == p->tail) {
        for (size_t i = 0; i < n; i++) {
            const float *g = dy + i * p->out_slab[d];
            for (size_t j = 0; j < p->tail_n; j++)
                dx[j] += g[j];
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        expand_grad(p, d + 1, p->in_dims[d] == 1 ? dx : dx + i * p->in_slab[d],
                    dy + i * p->out_slab[d]);
}

static int expand_backward(const struct op_io *io, const struct tensor *const *dout,
                           struct tensor *const *din, struct err *err)
{
    if (!din[0] || !dout[0])
        return 0;
    struct ex_plan p;
    if (expand_plan(io, &p, err) < 0)
        return -1;
    if (tensor_numel(dout[0]) == 0)
        return 0;
    expand_grad(&p, 0, tensor_f32(din[0]), tensor_f32(dout[0]));
    return 0;
}

const struct op_def op_expand = {
    .name = "Expand", .shape = expand_shape, .run = expand_run, .backward = expand_backward};

/* ---- Tile ---- */

static int tile_plan(const struct op_io *io, struct ex_plan *p, struct err *err)
{
    if (io->opset < 6)
        return op_unsupported(io, err, "Tile before opset 6 (tiles and axis inputs)");
    const int64_t *reps;
    size_t n;
    if (const_list(io, "repeats", &reps, &n, err) < 0)
        return -1;
    const struct shape *s = &io->in[0]->shape;
    if (n != (size_t)s->ndim) {
        char sb[96];
        return op_fail(io, err, "repeats has %zu entries but the input of shape %s has rank %d", n,
                       shape_format(s, sb, sizeof sb), s->ndim);
    }
    p->ndim = s->ndim;
    for (int d = 0; d < s->ndim; d++) {
        p->in_dims[d] = s->dims[d];
        p->reps[d] = reps[d];
        p->out_dims[d] = s->dims[d] * reps[d];
    }
    /* The tail (axes equal in input and output) is where every repeat is 1. */
    ex_plan_finish(p);
    return 0;
}

static int tile_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0 || data_dtype(io, err) < 0)
        return -1;
    struct ex_plan p;
    if (tile_plan(io, &p, err) < 0)
        return -1;
    struct shape out = shape_make(p.ndim, p.out_dims);
    op_set_out(io, 0, io->in[0]->dtype, &out);
    return 0;
}

/* Along axis d the output is reps[d] copies of the input's in_dims[d] sub-blocks: the
 * first copy is built, then replicated. */
static void tile_fill(const struct ex_plan *p, int d, const char *src, char *dst, size_t es)
{
    if (d >= p->tail) {
        memcpy(dst, src, p->tail_n * es);
        return;
    }
    size_t n = (size_t)p->in_dims[d];
    for (size_t i = 0; i < n; i++)
        tile_fill(p, d + 1, src + i * p->in_slab[d] * es, dst + i * p->out_slab[d] * es, es);
    replicate(dst, n * p->out_slab[d] * es, (size_t)p->reps[d]);
}

static int tile_run(struct op_io *io, struct err *err)
{
    struct ex_plan p;
    if (tile_plan(io, &p, err) < 0)
        return -1;
    if (tensor_numel(io->out[0]) == 0)
        return 0;
    tile_fill(&p, 0, io->in[0]->data, io->out[0]->data, dtype_size(io->in[0]->dtype));
    return 0;
}

static void tile_grad(const struct ex_plan *p, int d, float *dx, const float *dy)
{
    if (d >= p->tail) {
        for (size_t j = 0; j < p->tail_n; j++)
            dx[j] += dy[j];
        return;
    }
    size_t n = (size_t)p->in_dims[d];
    for (size_t r = 0; r < (size_t)p->reps[d]; r++)
        for (size_t i = 0; i < n; i++)
            tile_grad(p, d + 1, dx + i * p->in_slab[d], dy + (r * n + i) * p->out_slab[d]);
}

static int tile_backward(const struct op_io *io, const struct tensor *const *dout,
                         struct tensor *const *din, struct err *err)
{
    if (!din[0] || !dout[0])
        return 0;
    struct ex_plan p;
    if (tile_plan(io, &p, err) < 0)
        return -1;
    if (tensor_numel(dout[0]) == 0)
        return 0;
    tile_grad(&p, 0, tensor_f32(din[0]), tensor_f32(dout[0]));
    return 0;
}

const struct op_def op_tile = {
    .name = "Tile", .shape = tile_shape, .run = tile_run, .backward = tile_backward};
