/* The Reduce* family (Sum, Mean, Max, Min, Prod, L1, L2, SumSquare, LogSum, LogSumExp) over
 * some axes of a float32 (Mean, LogSum, LogSumExp) or float32/int64 tensor (the others), keeping
 * the reduced axes as size-1 dims or dropping them; gradients for Sum, Mean and Max. Not for
 * pooling windows (op_pool.c) or ArgMax. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"

enum rd_kind {
    RD_SUM,
    RD_MEAN,
    RD_MAX,
    RD_MIN,
    RD_PROD,
    RD_L1,
    RD_L2,
    RD_SUMSQ,
    RD_LOGSUM,
    RD_LOGSUMEXP
};

/* Kinds computed in float32 only. */
static bool rd_float_only(enum rd_kind k)
{
    return k == RD_MEAN || k == RD_LOGSUM || k == RD_LOGSUMEXP;
}

/* The opset from which each op takes its axes as input 1 instead of an attribute (and
 * gains noop_with_empty_axes). */
static int64_t rd_axes_input_opset(enum rd_kind k)
{
    return k == RD_SUM ? 13 : 18;
}

/* Which axes to reduce. No axes means every axis, unless noop_with_empty_axes (from the
 * opset where axes became an input) asks for the input unchanged, in which case *noop is
 * set. */
static int rd_axes(const struct op_io *io, enum rd_kind kind, bool reduce[TENSOR_MAX_DIMS],
                   bool *noop, struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    int rank = s->ndim;
    const int64_t *axes = NULL;
    size_t n = 0;
    struct op_ints keep;
    bool from_input = io->opset >= rd_axes_input_opset(kind);
    if (!from_input)
        axes = node_attr_ints(io->node, "axes", &n);
    else if (op_has_in(io, 1) && op_const_ints(io, 1, &keep, &axes, &n, err) < 0)
        return -1;
    *noop = false;
    for (int d = 0; d < TENSOR_MAX_DIMS; d++)
        reduce[d] = n == 0 && d < rank;
    if (n == 0) {
        *noop = from_input && node_attr_int(io->node, "noop_with_empty_axes", 0) != 0;
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

static int rd_shape(struct op_io *io, enum rd_kind kind, struct err *err)
{
    if (op_check_arity(io, 1, io->opset < rd_axes_input_opset(kind) ? 1 : 2, err) < 0)
        return -1;
    enum dtype t = io->in[0]->dtype;
    /* Valid ONNX, but these are computed in float32 only. */
    if (rd_float_only(kind) && t != DTYPE_FLOAT)
        return op_unsupported(io, err, "element type %s of input 0 (%s needs float32)",
                              dtype_name(t), io->node->op_type);
    if (t != DTYPE_FLOAT && t != DTYPE_INT64)
        return op_unsupported(io, err, "element type %s of input 0", dtype_name(t));
    bool reduce[TENSOR_MAX_DIMS], noop;
    if (rd_axes(io, kind, reduce, &noop, err) < 0)
        return -1;
    const struct shape *s = &io->in[0]->shape;
    if (noop) {
        op_set_out(io, 0, t, s);
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
    op_set_out(io, 0, t, &out);
    return 0;
}

/* The input as alternating runs of kept and reduced axes, neighbours of the same kind
 * merged (size-1 axes dropped), so the common cases (over H and W of NCHW, or over the last
 * axis) become one contiguous inner reduction per output element. A tensor of one element
 * is one reduced run of length 1. */
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
    if (rp->ndim == 0) {
        rp->ndim = 1;
        rp->dims[0] = 1;
        rp->reduced[0] = true;
    }
    size_t out_acc = 1;
    for (int k = rp->ndim - 1; k >= 0; k--) {
        rp->out_strides[k] = rp->reduced[k] ? 0 : out_acc;
        if (!rp->reduced[k])
            out_acc *= rp->dims[k];
    }
}

/* Reads the input once in order: visit gets each run of the last merged axis (its input
 * and output element offsets and length), which is reduced into one output element or
 * combined elementwise with a row of outputs. */
typedef void (*rd_visit_fn)(void *ctx, size_t in_off, size_t out_off, size_t n, bool reduced);

static void rd_walk(const struct rd_plan *rp, rd_visit_fn visit, void *ctx)
{
    int last = rp->ndim - 1;
    size_t n = rp->dims[last];
    size_t idx[TENSOR_MAX_DIMS] = {0};
    size_t in_off = 0, out_off = 0;
    for (;;) {
        visit(ctx, in_off, out_off, n, rp->reduced[last]);
        in_off += n;
        int k = last - 1;
        for (; k >= 0; k--) {
            out_off += rp->out_strides[k];
            if (++idx[k] < rp->dims[k])
                break;
            out_off -= idx[k] * rp->out_strides[k];
            idx[k] = 0;
        }
        if (k < 0)
            break;
    }
}

/* The inner loops, one pair per kind and element type: fold reduces a run into *acc,
 * each combines a run elementwise into acc[0..n). F(A, a, v) gives accumulator a (of type
 * A) combined with element v. Float folds accumulate in double; int64 sums, products and
 * squares wrap around in uint64_t as two's complement int64 does. */
#define RD_KERNELS(NAME, T, FA, EA, F)                                                             \
    static void NAME##_fold(void *accp, const void *xp, size_t n)                                  \
    {                                                                                              \
        T *acc = accp;                                                                             \
        const T *x = xp;                                                                           \
        FA a = (FA)*acc;                                                                           \
        for (size_t j = 0; j < n; j++)                                                             \
            a = F(FA, a, x[j]);                                                                    \
        *acc = (T)a;                                                                               \
    }                                                                                              \
    static void NAME##_each(void *accp, const void *xp, size_t n)                                  \
    {                                                                                              \
        T *acc = accp;                                                                             \
        const T *x = xp;                                                                           \
        for (size_t j = 0; j < n; j++)                                                             \
            acc[j] = (T)F(EA, (EA)acc[j], x[j]);                                                   \
    }

#define F_SUM(A, a, v)   ((a) + (A)(v))
#define F_SUMSQ(A, a, v) ((a) + (A)(v) * (A)(v))
#define F_PROD(A, a, v)  ((a) * (A)(v))
#define F_L1_F(A, a, v)  ((a) + (A)fabsf(v))
#define F_L1_I(A, a, v)  ((a) + ((v) < 0 ? (A)0 - (A)(v) : (A)(v)))
/* NaN wins, as in numpy. */
#define F_MAX_F(A, a, v) ((v) > (a) || isnan(v) ? (A)(v) : (a))
#define F_MIN_F(A, a, v) ((v) < (a) || isnan(v) ? (A)(v) : (a))
#define F_MAX_I(A, a, v) ((v) > (a) ? (A)(v) : (a))
#define F_MIN_I(A, a, v) ((v) < (a) ? (A)(v) : (a))

RD_KERNELS(sum_f, float, double, float, F_SUM)
RD_KERNELS(sumsq_f, float, double, float, F_SUMSQ)
RD_KERNELS(prod_f, float, double, float, F_PROD)
RD_KERNELS(l1_f, float, double, float, F_L1_F)
RD_KERNELS(max_f, float, float, float, F_MAX_F)
RD_KERNELS(min_f, float, float, float, F_MIN_F)
RD_KERNELS(sum_i, int64_t, uint64_t, uint64_t, F_SUM)
RD_KERNELS(sumsq_i, int64_t, uint64_t, uint64_t, F_SUMSQ)
RD_KERNELS(prod_i, int64_t, uint64_t, uint64_t, F_PROD)
RD_KERNELS(l1_i, int64_t, uint64_t, uint64_t, F_L1_I)
RD_KERNELS(max_i, int64_t, int64_t, int64_t, F_MAX_I)
RD_KERNELS(min_i, int64_t, int64_t, int64_t, F_MIN_I)

typedef void (*rd_kernel_fn)(void *acc, const void *x, size_t n);

struct rd_run_ctx {
    rd_kernel_fn fold, each;
    const char *in;
    char *out;
    size_t es;
};

static void rd_run_visit(void *ctx, size_t in_off, size_t out_off, size_t n, bool reduced)
{
    struct rd_run_ctx *c = ctx;
    (reduced ? c->fold : c->each)(c->out + out_off * c->es, c->in + in_off * c->es, n);
}

/* Fills out with the kind's identity: the value of a reduction over nothing (the spec's
 * values: 0 for sums, 1 for the product, -inf / +inf, or the type's extremes, for Max and
 * Min; Mean gets NaN afterwards). */
static void rd_init(enum rd_kind kind, enum dtype t, void *out, size_t n)
{
    if (t == DTYPE_FLOAT) {
        float v = kind == RD_PROD  ? 1.0f
                  : kind == RD_MAX ? -INFINITY
                  : kind == RD_MIN ? INFINITY
                                   : 0.0f;
        float *o = out;
        for (size_t i = 0; i < n; i++)
            o[i] = v;
    } else {
        int64_t v = kind == RD_PROD  ? 1
                    : kind == RD_MAX ? INT64_MIN
                    : kind == RD_MIN ? INT64_MAX
                                     : 0;
        int64_t *o = out;
        for (size_t i = 0; i < n; i++)
            o[i] = v;
    }
}

/* LogSumExp: m + log(sum(exp(x - m))) with m the maximum of the reduced elements, so
 * large inputs do not overflow exp. An infinite or NaN m is the result itself (all -inf
 * gives -inf; any +inf gives +inf; NaN stays NaN). */
struct rd_lse_ctx {
    const float *x, *max;
    double *sum;
};

static void rd_lse_visit(void *ctx, size_t in_off, size_t out_off, size_t n, bool reduced)
{
    struct rd_lse_ctx *c = ctx;
    const float *x = c->x + in_off, *m = c->max + out_off;
    double *s = c->sum + out_off;
    for (size_t j = 0; j < n; j++) {
        size_t o = reduced ? 0 : j;
        if (isfinite(m[o]))
            s[o] += exp((double)x[j] - (double)m[o]);
    }
}

static int rd_logsumexp(const struct tensor *x, struct tensor *y, const struct rd_plan *rp,
                        struct err *err)
{
    size_t n_out = tensor_numel(y);
    float *out = tensor_f32(y);
    struct rd_lse_ctx c = {.x = tensor_f32(x), .max = out, .sum = calloc(n_out, sizeof(double))};
    if (!c.sum)
        return err_oom(err, "ReduceLogSumExp", n_out * sizeof(double));
    rd_init(RD_MAX, DTYPE_FLOAT, out, n_out);
    struct rd_run_ctx mc = {
        .fold = max_f_fold, .each = max_f_each, .in = x->data, .out = y->data, .es = sizeof(float)};
    rd_walk(rp, rd_run_visit, &mc);
    rd_walk(rp, rd_lse_visit, &c);
    for (size_t i = 0; i < n_out; i++)
        if (isfinite(out[i]))
            out[i] = (float)((double)out[i] + log(c.sum[i]));
    free(c.sum);
    return 0;
}

static int rd_run(struct op_io *io, enum rd_kind kind, struct err *err)
{
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    bool reduce[TENSOR_MAX_DIMS], noop;
    if (rd_axes(io, kind, reduce, &noop, err) < 0)
        return -1;
    size_t n_out = tensor_numel(y);
    if (n_out == 0)
        return 0;
    if (noop) {
        memcpy(y->data, x->data, tensor_bytes(x));
        return 0;
    }
    bool is_f = x->dtype == DTYPE_FLOAT;
    size_t count = 1;
    for (int d = 0; d < x->shape.ndim; d++)
        if (reduce[d])
            count *= (size_t)x->shape.dims[d];
    rd_init(kind, x->dtype, y->data, n_out);
    if (count > 0) {
        struct rd_run_ctx c = {.in = x->data, .out = y->data, .es = dtype_size(x->dtype)};
        switch (kind) {
        case RD_LOGSUMEXP: /* handled below */
        case RD_SUM:
        case RD_LOGSUM:
        case RD_MEAN:
            c.fold = is_f ? sum_f_fold : sum_i_fold;
            c.each = is_f ? sum_f_each : sum_i_each;
            break;
        case RD_L2:
        case RD_SUMSQ:
            c.fold = is_f ? sumsq_f_fold : sumsq_i_fold;
            c.each = is_f ? sumsq_f_each : sumsq_i_each;
            break;
        case RD_L1:
            c.fold = is_f ? l1_f_fold : l1_i_fold;
            c.each = is_f ? l1_f_each : l1_i_each;
            break;
        case RD_PROD:
            c.fold = is_f ? prod_f_fold : prod_i_fold;
            c.each = is_f ? prod_f_each : prod_i_each;
            break;
        case RD_MAX:
            c.fold = is_f ? max_f_fold : max_i_fold;
            c.each = is_f ? max_f_each : max_i_each;
            break;
        case RD_MIN:
            c.fold = is_f ? min_f_fold : min_i_fold;
            c.each = is_f ? min_f_each : min_i_each;
            break;
        }
        struct rd_plan rp;
        rd_plan_make(&x->shape, reduce, &rp);
        if (kind == RD_LOGSUMEXP)
            return rd_logsumexp(x, y, &rp, err);
        rd_walk(&rp, rd_run_visit, &c);
    }
    if (kind == RD_LOGSUM || kind == RD_LOGSUMEXP) {
        /* log of the sum; a reduction over nothing gives log 0 = -inf, as the spec's
         * empty-set cases do. */
        float *out = tensor_f32(y);
        for (size_t i = 0; i < n_out; i++)
            out[i] = logf(out[i]);
    } else if (kind == RD_MEAN) {
        /* The mean of nothing is NaN, as numpy and the ONNX reference give it. */
        float *out = tensor_f32(y);
        for (size_t i = 0; i < n_out; i++)
            out[i] = count ? out[i] / (float)count : NAN;
    } else if (kind == RD_L2 && is_f) {
        float *out = tensor_f32(y);
        for (size_t i = 0; i < n_out; i++)
            out[i] = sqrtf(out[i]);
    } else if (kind == RD_L2) {
        /* As the ONNX reference: the square root of the int64 sum, truncated. */
        int64_t *out = tensor_i64(y);
        for (size_t i = 0; i < n_out; i++)
            out[i] = (int64_t)sqrt((double)out[i]);
    }
    return 0;
}

/* ---- Gradients ---- */

/* Sum and Mean: every input element gets its output's gradient, times scale. Max: the
 * gradient is shared evenly among the elements equal to their output (as PyTorch's amax),
 * so ties (and the ReLU-like plateaus exporters make) get a well-defined split. */
struct rd_grad_ctx {
    enum rd_kind kind;
    const float *x, *y, *dy;
    float *dx;
    float *ties; /* Max: per output, the number of inputs equal to it, then dy / that */
    float scale;
    bool counting;
};

static void rd_grad_visit(void *ctx, size_t in_off, size_t out_off, size_t n, bool reduced)
{
    struct rd_grad_ctx *c = ctx;
    float *dx = c->dx + in_off;
    const float *x = c->x + in_off;
    if (c->kind != RD_MAX) {
        const float *dy = c->dy + out_off;
        for (size_t j = 0; j < n; j++)
            dx[j] += c->scale * dy[reduced ? 0 : j];
        return;
    }
    const float *y = c->y + out_off;
    float *t = c->ties + out_off;
    for (size_t j = 0; j < n; j++) {
        size_t o = reduced ? 0 : j;
        if (x[j] == y[o]) {
            if (c->counting)
                t[o] += 1.0f;
            else
                dx[j] += t[o];
        }
    }
}

static int rd_backward(const struct op_io *io, enum rd_kind kind, const struct tensor *const *dout,
                       struct tensor *const *din, struct err *err)
{
    if (!din[0] || !dout[0])
        return 0;
    const struct tensor *x = io->in[0];
    bool reduce[TENSOR_MAX_DIMS], noop;
    if (rd_axes(io, kind, reduce, &noop, err) < 0)
        return -1;
    size_t n_in = tensor_numel(x), n_out = tensor_numel(dout[0]);
    if (n_in == 0 || n_out == 0)
        return 0;
    float *dx = tensor_f32(din[0]);
    const float *dy = tensor_f32(dout[0]);
    if (noop) {
        for (size_t i = 0; i < n_in; i++)
            dx[i] += dy[i];
        return 0;
    }
    struct rd_grad_ctx c = {.kind = kind,
                            .x = tensor_f32(x),
                            .y = tensor_f32(io->out[0]),
                            .dy = dy,
                            .dx = dx,
                            .scale = kind == RD_MEAN ? (float)n_out / (float)n_in : 1.0f};
    struct rd_plan rp;
    rd_plan_make(&x->shape, reduce, &rp);
    if (kind == RD_MAX) {
        c.ties = calloc(n_out, sizeof *c.ties);
        if (!c.ties)
            return err_oom(err, "ReduceMax gradient", n_out * sizeof *c.ties);
        c.counting = true;
        rd_walk(&rp, rd_grad_visit, &c);
        for (size_t i = 0; i < n_out; i++)
            c.ties[i] = c.ties[i] > 0 ? dy[i] / c.ties[i] : 0.0f;
        c.counting = false;
    }
    rd_walk(&rp, rd_grad_visit, &c);
    free(c.ties);
    return 0;
}

#define RD_OP(VAR, KIND)                                                                           \
    static int VAR##_shape(struct op_io *io, struct err *err)                                      \
    {                                                                                              \
        return rd_shape(io, KIND, err);                                                            \
    }                                                                                              \
    static int VAR##_run(struct op_io *io, struct err *err)                                        \
    {                                                                                              \
        return rd_run(io, KIND, err);                                                              \
    }
#define RD_GRAD(VAR, KIND)                                                                         \
    static int VAR##_backward(const struct op_io *io, const struct tensor *const *dout,            \
                              struct tensor *const *din, struct err *err)                          \
    {                                                                                              \
        if (io->in[0]->dtype != DTYPE_FLOAT)                                                       \
            return op_unsupported(io, err, "the gradient of int64 data");                          \
        return rd_backward(io, KIND, dout, din, err);                                              \
    }

RD_OP(reducemean, RD_MEAN)
RD_OP(reducesum, RD_SUM)
RD_OP(reducemax, RD_MAX)
RD_OP(reducemin, RD_MIN)
RD_OP(reduceprod, RD_PROD)
RD_OP(reducel1, RD_L1)
RD_OP(reducel2, RD_L2)
RD_OP(reducesumsquare, RD_SUMSQ)
RD_OP(reducelogsum, RD_LOGSUM)
RD_OP(reducelogsumexp, RD_LOGSUMEXP)
RD_GRAD(reducemean, RD_MEAN)
RD_GRAD(reducesum, RD_SUM)
RD_GRAD(reducemax, RD_MAX)

const struct op_def op_reducemean = {.name = "ReduceMean",
                                     .shape = reducemean_shape,
                                     .run = reducemean_run,
                                     .backward = reducemean_backward};
const struct op_def op_reducesum = {.name = "ReduceSum",
                                    .shape = reducesum_shape,
                                    .run = reducesum_run,
                                    .backward = reducesum_backward};
const struct op_def op_reducemax = {.name = "ReduceMax",
                                    .shape = reducemax_shape,
                                    .run = reducemax_run,
                                    .backward = reducemax_backward};
const struct op_def op_reducemin = {
    .name = "ReduceMin", .shape = reducemin_shape, .run = reducemin_run};
const struct op_def op_reduceprod = {
    .name = "ReduceProd", .shape = reduceprod_shape, .run = reduceprod_run};
const struct op_def op_reducel1 = {
    .name = "ReduceL1", .shape = reducel1_shape, .run = reducel1_run};
const struct op_def op_reducel2 = {
    .name = "ReduceL2", .shape = reducel2_shape, .run = reducel2_run};
const struct op_def op_reducesumsquare = {
    .name = "ReduceSumSquare", .shape = reducesumsquare_shape, .run = reducesumsquare_run};
const struct op_def op_reducelogsum = {
    .name = "ReduceLogSum", .shape = reducelogsum_shape, .run = reducelogsum_run};
const struct op_def op_reducelogsumexp = {
    .name = "ReduceLogSumExp", .shape = reducelogsumexp_shape, .run = reducelogsumexp_run};
