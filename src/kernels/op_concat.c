/* Concat: join tensors of one element type (float32, int64, int32, bool) along one axis.
 * Not for stacking along a new axis (exporters do that with Unsqueeze + Concat) or for
 * splitting. */
#include <string.h>

#include "kernels/op.h"

/* The axis attribute normalized against rank. It is required from opset 4 on; opset 1
 * defaulted it to 1. */
static int cc_axis(const struct op_io *io, int rank, int64_t *axis, struct err *err)
{
    const struct attr *a = node_attr(io->node, "axis");
    if (!a && io->opset >= 4)
        return op_fail(io, err, "the axis attribute is required");
    if (a && a->type != ATTR_INT)
        return op_fail(io, err, "the axis attribute must be an integer");
    int64_t v = a ? a->i : 1;
    int64_t norm = v < 0 ? v + rank : v;
    if (norm < 0 || norm >= rank) {
        char sb[96];
        return op_fail(io, err,
                       "axis %lld is out of range for inputs of rank %d (input 0 has "
                       "shape %s; accepted %d..%d)",
                       (long long)v, rank, shape_format(&io->in[0]->shape, sb, sizeof sb), -rank,
                       rank - 1);
    }
    *axis = norm;
    return 0;
}

static int cc_shape(struct op_io *io, struct err *err)
{
    if (io->n_in < 1)
        return op_fail(io, err, "expects at least one input, has none");
    for (int i = 0; i < io->n_in; i++)
        if (!io->in[i])
            return op_fail(io, err, "input %d is missing", i);
    const struct tensor *x0 = io->in[0];
    /* The run copies bytes by element size, so any element type joins. */
    if (dtype_size(x0->dtype) == 0)
        return op_unsupported(io, err, "element type %s", dtype_name(x0->dtype));
    int rank = x0->shape.ndim;
    if (rank == 0)
        return op_fail(io, err, "input 0 is a scalar; Concat needs inputs of rank 1 or more");
    int64_t axis;
    if (cc_axis(io, rank, &axis, err) < 0)
        return -1;
    struct shape out = x0->shape;
    char s0[96], si[96];
    for (int i = 1; i < io->n_in; i++) {
        const struct tensor *x = io->in[i];
        if (x->dtype != x0->dtype)
            return op_fail(io, err, "input %d has element type %s but input 0 has %s", i,
                           dtype_name(x->dtype), dtype_name(x0->dtype));
        if (x->shape.ndim != rank)
            return op_fail(io, err,
                           "input %d of shape %s has rank %d but input 0 of shape %s "
                           "has rank %d",
                           i, shape_format(&x->shape, si, sizeof si), x->shape.ndim,
                           shape_format(&x0->shape, s0, sizeof s0), rank);
        for (int d = 0; d < rank; d++)
            if (d != axis && x->shape.dims[d] != x0->shape.dims[d])
                return op_fail(io, err,
                               "input %d of shape %s differs from input 0 of shape %s "
                               "in dim %d (only axis %lld may differ)",
                               i, shape_format(&x->shape, si, sizeof si),
                               shape_format(&x0->shape, s0, sizeof s0), d, (long long)axis);
        out.dims[axis] += x->shape.dims[axis];
    }
    op_set_out(io, 0, x0->dtype, &out);
    return 0;
}

/* The output is outer blocks of [sum of axis dims x inner]; each block takes one slice of
 * axis dim x inner elements from every input in turn. */
static int cc_run(struct op_io *io, struct err *err)
{
    struct tensor *y = io->out[0];
    if (tensor_numel(y) == 0)
        return 0;
    int64_t axis;
    if (cc_axis(io, y->shape.ndim, &axis, err) < 0)
        return -1;
    size_t outer = 1, inner_bytes = dtype_size(y->dtype);
    for (int d = 0; d < y->shape.ndim; d++) {
        if (d < axis)
            outer *= (size_t)y->shape.dims[d];
        else if (d > axis)
            inner_bytes *= (size_t)y->shape.dims[d];
    }
    size_t out_block = (size_t)y->shape.dims[axis] * inner_bytes;
    char *dst = y->data;
    size_t at = 0; /* byte offset of the current input's slice within an output block */
    for (int i = 0; i < io->n_in; i++) {
        const struct tensor *x = io->in[i];
        size_t chunk = (size_t)x->shape.dims[axis] * inner_bytes;
        if (chunk == 0)
            continue;
        const char *src = x->data;
        for (size_t o = 0; o < outer; o++)
            memcpy(dst + o * out_block + at, src + o * chunk, chunk);
        at += chunk;
    }
    return 0;
}

const struct op_def op_concat = {.name = "Concat", .shape = cc_shape, .run = cc_run};
