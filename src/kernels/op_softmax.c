/* Softmax and LogSoftmax: normalize exponentials across one axis (opset 13 on) or across
 * the trailing dims of a 2-D coercion (before 13). Not for elementwise activations. */
#include <math.h>

#include "kernels/op.h"

/* The input seen as [outer, n, inner]: normalization runs over the n entries of each
 * (outer, inner) pair, which sit inner elements apart. From opset 13 n is the one dim at
 * `axis` (default -1); before 13 the input is coerced to 2-D at `axis` (default 1), so n is
 * the product of dims [axis, rank) and inner is 1. */
struct sm_geom {
    size_t outer, n, inner;
};

static int sm_geometry(const struct op_io *io, struct sm_geom *g, struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    bool coerce = io->opset < 13;
    int64_t attr = node_attr_int(io->node, "axis", coerce ? 1 : -1);
    int64_t axis = attr < 0 ? attr + s->ndim : attr;
    if (axis < 0 || axis >= s->ndim) {
        char sb[96];
        return op_fail(io, err,
                       "axis %lld is out of range for input of shape %s (rank %d "
                       "accepts %d..%d)",
                       (long long)attr, shape_format(s, sb, sizeof sb), s->ndim, -s->ndim,
                       s->ndim - 1);
    }
    g->outer = 1;
    g->n = 1;
    g->inner = 1;
    for (int i = 0; i < s->ndim; i++) {
        size_t d = (size_t)s->dims[i];
        if (i < axis)
            g->outer *= d;
        else if (i == axis || coerce)
            g->n *= d;
        else
            g->inner *= d;
    }
    return 0;
}

static int sm_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0 || op_check_input(io, 0, DTYPE_FLOAT, err) < 0)
        return -1;
    struct sm_geom g;
    if (sm_geometry(io, &g, err) < 0)
        return -1;
    op_set_out(io, 0, DTYPE_FLOAT, &io->in[0]->shape);
    return 0;
}

/* One normalization of n values at stride `step`. Subtracting the max keeps exp() from
 * overflowing; the sum is accumulated in double so long rows keep their precision. */
static void sm_line(const float *x, float *y, size_t n, size_t step, bool log_out)
{
    float max = x[0];
    for (size_t k = 1; k < n; k++)
        if (x[k * step] > max)
            max = x[k * step];
    double sum = 0.0;
    if (log_out) {
        for (size_t k = 0; k < n; k++)
            sum += exp((double)(x[k * step] - max));
        float log_sum = (float)log(sum);
        for (size_t k = 0; k < n; k++)
            y[k * step] = (x[k * step] - max) - log_sum;
    } else {
        for (size_t k = 0; k < n; k++) {
            float e = expf(x[k * step] - max);
            y[k * step] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (size_t k = 0; k < n; k++)
            y[k * step] *= inv;
    }
}

static int sm_run_common(struct op_io *io, bool log_out, struct err *err)
{
    struct sm_geom g;
    if (sm_geometry(io, &g, err) < 0)
        return -1;
    if (g.n == 0)
        return 0;
    const float *x = tensor_f32(io->in[0]);
    float *y = tensor_f32(io->out[0]);
    for (size_t o = 0; o < g.outer; o++) {
        size_t base = o * g.n * g.inner;
        for (size_t j = 0; j < g.inner; j++)
            sm_line(x + base + j, y + base + j, g.n, g.inner, log_out);
    }
    return 0;
}

static int softmax_run(struct op_io *io, struct err *err)
{
    return sm_run_common(io, false, err);
}
static int logsoftmax_run(struct op_io *io, struct err *err)
{
    return sm_run_common(io, true, err);
}

/* Softmax: dx = y (dy - sum(dy y)); LogSoftmax: dx = dy - exp(y) sum(dy), along each line. */
static int sm_backward_common(const struct op_io *io, const struct tensor *const *dout,
                              struct tensor *const *din, bool log_out, struct err *err)
{
    if (!din[0])
        return 0;
    struct sm_geom g;
    if (sm_geometry(io, &g, err) < 0)
        return -1;
    const float *y = tensor_f32(io->out[0]), *dy = tensor_f32(dout[0]);
    float *dx = tensor_f32(din[0]);
    for (size_t o = 0; o < g.outer; o++)
        for (size_t j = 0; j < g.inner; j++) {
            size_t base = o * g.n * g.inner + j;
            double sum = 0.0;
            for (size_t k = 0; k < g.n; k++) {
                size_t at = base + k * g.inner;
                sum += log_out ? (double)dy[at] : (double)dy[at] * y[at];
            }
            for (size_t k = 0; k < g.n; k++) {
                size_t at = base + k * g.inner;
                dx[at] += log_out ? (float)(dy[at] - exp((double)y[at]) * sum)
                                  : (float)(y[at] * (dy[at] - sum));
            }
        }
    return 0;
}

static int softmax_backward(const struct op_io *io, const struct tensor *const *dout,
                            struct tensor *const *din, struct err *err)
{
    return sm_backward_common(io, dout, din, false, err);
}

static int logsoftmax_backward(const struct op_io *io, const struct tensor *const *dout,
                               struct tensor *const *din, struct err *err)
{
    return sm_backward_common(io, dout, din, true, err);
}

const struct op_def op_softmax = {
    .name = "Softmax", .shape = sm_shape, .run = softmax_run, .backward = softmax_backward};
const struct op_def op_logsoftmax = {.name = "LogSoftmax",
                                     .shape = sm_shape,
                                     .run = logsoftmax_run,
                                     .backward = logsoftmax_backward};
