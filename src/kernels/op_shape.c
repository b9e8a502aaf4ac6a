/* Shape (the dims of a tensor, as int64) and Gather (take entries of any element type along
 * an axis, by int64 or int32 indices), the ops exporters chain in front of Reshape.
 * Not for reshaping itself (op_reshape.c). */
#include <string.h>

#include "kernels/op.h"

static void shape_range(const struct op_io *io, int rank, int64_t *start, int64_t *end)
{
    int64_t s = node_attr_int(io->node, "start", 0);
    int64_t e = node_attr_int(io->node, "end", rank);
    if (s < 0)
        s += rank;
    if (e < 0)
        e += rank;
    s = s < 0 ? 0 : s > rank ? rank : s;
    e = e < 0 ? 0 : e > rank ? rank : e;
    *start = s;
    *end = e < s ? s : e;
}

static int shape_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0)
        return -1;
    int64_t s, e;
    shape_range(io, io->in[0]->shape.ndim, &s, &e);
    op_set_out(io, 0, DTYPE_INT64, &(struct shape){.ndim = 1, .dims = {e - s}});
    return 0;
}

static int shape_run(struct op_io *io, struct err *err)
{
    int64_t s, e;
    shape_range(io, io->in[0]->shape.ndim, &s, &e);
    for (int64_t i = s; i < e; i++)
        tensor_i64(io->out[0])[i - s] = io->in[0]->shape.dims[i];
    return 0;
}

const struct op_def op_shape = {
    .name = "Shape", .shape = shape_shape, .run = shape_run, .flags = OP_READS_SHAPE_ONLY};

static int gather_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0)
        return -1;
    const struct tensor *d = io->in[0], *ix = io->in[1];
    if (ix->dtype != DTYPE_INT64 && ix->dtype != DTYPE_INT32)
        return op_fail(io, err, "indices (input 1) must be int64 or int32, is %s",
                       dtype_name(ix->dtype));
    /* The run copies whole elements, so any element type is data. */
    if (dtype_size(d->dtype) == 0)
        return op_unsupported(io, err, "data of element type %s", dtype_name(d->dtype));
    int64_t axis;
    if (op_axis(io, node_attr_int(io->node, "axis", 0), d->shape.ndim, &axis, err) < 0)
        return -1;
    int rank = d->shape.ndim - 1 + ix->shape.ndim;
    if (rank > TENSOR_MAX_DIMS)
        return op_fail(io, err, "result rank %d exceeds %d", rank, TENSOR_MAX_DIMS);
    struct shape out = {.ndim = 0};
    for (int i = 0; i < axis; i++)
        out.dims[out.ndim++] = d->shape.dims[i];
    for (int i = 0; i < ix->shape.ndim; i++)
        out.dims[out.ndim++] = ix->shape.dims[i];
    for (int i = (int)axis + 1; i < d->shape.ndim; i++)
        out.dims[out.ndim++] = d->shape.dims[i];
    op_set_out(io, 0, d->dtype, &out);
    return 0;
}

static int gather_run(struct op_io *io, struct err *err)
{
    const struct tensor *d = io->in[0], *ix = io->in[1];
    int64_t axis;
    op_axis(io, node_attr_int(io->node, "axis", 0), d->shape.ndim, &axis, err);
    size_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= (size_t)d->shape.dims[i];
    for (int i = (int)axis + 1; i < d->shape.ndim; i++)
        inner *= (size_t)d->shape.dims[i];
    int64_t len = d->shape.dims[axis];
    size_t nidx = tensor_numel(ix), es = dtype_size(d->dtype);
    const char *src = d->data;
    char *dst = io->out[0]->data;
    for (size_t o = 0; o < outer; o++) {
        for (size_t k = 0; k < nidx; k++) {
            int64_t j = ix->dtype == DTYPE_INT32 ? tensor_i32(ix)[k] : tensor_i64(ix)[k];
            if (j < -len || j >= len)
                return op_fail(io, err, "index %lld is out of range for axis of size %lld",
                               (long long)j, (long long)len);
            if (j < 0)
                j += len;
            /* Data with a zero dim after the axis has no rows to copy, and no storage (NULL)
             * to index; the indices are checked all the same. */
            if (inner > 0)
                memcpy(dst + ((o * nidx + k) * inner) * es,
                       src + ((o * (size_t)len + (size_t)j) * inner) * es, inner * es);
        }
    }
    return 0;
}

const struct op_def op_gather = {.name = "Gather", .shape = gather_shape, .run = gather_run};
