/* ReduceMean: the mean of a float32 tensor over some axes, keeping them as size-1 dims or
 * dropping them. Not for pooling windows (GlobalAveragePool has its own op). */
#include <math.h>
#include <string.h>

#include "kernels/op.h"

/* Which axes to reduce. Axes come from the attribute before opset 18 and from optional
 * input 1 from 18 on. No axes means every axis, unless noop_with_empty_axes (opset 18) asks
 * for the input unchanged, in which case *noop is set. */
static int rd_axes(const struct op_io *io, bool reduce[TENSOR_MAX_DIMS], bool *noop,
                   struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    int rank = s->ndim;
    const int64_t *axes = NULL;
    size_t n = 0;
    if (io->opset < 18)
        axes = node_attr_ints(io->node, "axes", &n);
    else if (op_has_in(io, 1) && op_const_ints(io, 1, &axes, &n, err) < 0)
        return -1;
    *noop = false;
    for (int d = 0; d < TENSOR_MAX_DIMS; d++)
        reduce[d] = n == 0 && d < rank;
    if (n == 0) {
        *noop = io->opset >= 18 && node_attr_int(io->node, "noop_with_empty_axes", 0) != 0;
        return 0;
    }
    char sb[96];
    for (size_t i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank)
            return op_fail(io, err,
                           "axes[%zu] = %lld is out of range for the input of shape %s "
                           "(accepted %d..%d)",
                           i, (long long)axes[i], shape_format(s, sb, sizeof sb), -rank, rank - 1);
        if (reduce[a])
            return op_fail(io, err, "axes names axis %lld twice", (long long)a);
        reduce[a] = true;
    }
    return 0;
}

static int rd_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, io->opset < 18 ? 1 : 2, err) < 0 ||
        op_check_input(io, 0, DTYPE_FLOAT, err) < 0)
        return -1;
    bool reduce[TENSOR_MAX_DIMS], noop;
    if (rd_axes(io, reduce, &noop, err) < 0)
        return -1;
    const struct shape *s = &io->in[0]->shape;
    if (noop) {
        op_set_out(io, 0, DTYPE_FLOAT, s);
        return 0;
    }
    bool keep = node_attr_int(io->node, "keepdims", 1) != 0;
    struct shape out = {.ndim = 0};
    for (int d = 0; d < s->ndim; d++) {
        if (!reduce[d])
            out.dims[out.ndim++] = s->dims[d];
        else if (keep)
            out.dims[out.ndim++] = 1;
    }
    op_set_out(io, 0, DTYPE_FLOAT, &out);
    return 0;
}

/* The input as alternating runs of kept and reduced axes, neighbours of the same kind
 * merged (size-1 axes dropped), so the common cases (the mean over H and W of NCHW, or over
 * the last axis) become one contiguous inner sum per output element. */
struct rd_plan {
    int ndim;
    size_t dims[TENSOR_MAX_DIMS];
    size_t out_strides[TENSOR_MAX_DIMS]; /* 0 on reduced axes */
    bool reduced[TENSOR_MAX_DIMS];
};

static void rd_plan_make(const struct shape *s, const bool *reduce, struct rd_plan *rp)
{
    rp->ndim = 0;
    for (int d = 0; d < s->ndim; d++) {
        size_t n = (size_t)s->dims[d];
        if (n == 1)
            continue;
        int k = rp->ndim;
        if (k > 0 && rp->reduced[k - 1] == reduce[d]) {
            rp->dims[k - 1] *= n;
            continue;
        }
        rp->dims[k] = n;
        rp->reduced[k] = reduce[d];
        rp->ndim++;
    }
    size_t out_acc = 1;
    for (int k = rp->ndim - 1; k >= 0; k--) {
        rp->out_strides[k] = rp->reduced[k] ? 0 : out_acc;
        if (!rp->reduced[k])
            out_acc *= rp->dims[k];
    }
}

static int rd_run(struct op_io *io, struct err *err)
{
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    bool reduce[TENSOR_MAX_DIMS], noop;
    if (rd_axes(io, reduce, &noop, err) < 0)
        return -1;
    size_t n_out = tensor_numel(y);
    if (n_out == 0)
        return 0;
    if (noop) {
        memcpy(y->data, x->data, tensor_bytes(x));
        return 0;
    }
    float *out = tensor_f32(y);
    size_t count = 1;
    for (int d = 0; d < x->shape.ndim; d++)
        if (reduce[d])
            count *= (size_t)x->shape.dims[d];
    if (count == 0) {
        /* The mean of nothing, as numpy and the ONNX reference give it. */
        for (size_t i = 0; i < n_out; i++)
            out[i] = NAN;
        return 0;
    }
    memset(out, 0, n_out * sizeof *out);
    struct rd_plan rp;
    rd_plan_make(&x->shape, reduce, &rp);
    const float *in = tensor_f32(x);
    if (rp.ndim == 0) {
        out[0] = in[0];
        return 0;
    }
    /* The input is read once in order. Odometer over all but the last merged axis; the last
     * one is the inner loop, a contiguous sum (accumulated in double) when reduced, an elementwise
     * add otherwise. */
    int last = rp.ndim - 1;
    size_t n = rp.dims[last];
    size_t idx[TENSOR_MAX_DIMS] = {0};
    size_t in_off = 0, out_off = 0;
    for (;;) {
        const float *xr = in + in_off;
        if (rp.reduced[last]) {
            double sum = 0.0;
            for (size_t j = 0; j < n; j++)
                sum += xr[j];
            out[out_off] += (float)sum;
        } else {
            float *yr = out + out_off;
            for (size_t j = 0; j < n; j++)
                yr[j] += xr[j];
        }
        in_off += n;
        int k = last - 1;
        for (; k >= 0; k--) {
            out_off += rp.out_strides[k];
            if (++idx[k] < rp.dims[k])
                break;
            out_off -= idx[k] * rp.out_strides[k];
            idx[k] = 0;
        }
        if (k < 0)
            break;
    }
    for (size_t i = 0; i < n_out; i++)
        out[i] /= (float)count;
    return 0;
}

const struct op_def op_reducemean = {.name = "ReduceMean", .shape = rd_shape, .run = rd_run};
