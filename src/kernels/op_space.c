/* Ops that rearrange or normalize across channels and spatial positions: DepthToSpace,
 * SpaceToDepth, GlobalMaxPool, Hardmax, the variadic Sum and Mean, MeanVarianceNormalization
 * and LRN. Not the windowed pools (op_pool.c), Softmax (op_softmax.c) or the Reduce* family
 * (op_reduce.c). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/broadcast.h"
#include "kernels/op.h"

static bool known_dtype(enum dtype t)
{
    return t == DTYPE_FLOAT || t == DTYPE_INT64 || t == DTYPE_INT32 || t == DTYPE_BOOL;
}

/* ---- DepthToSpace and SpaceToDepth on [N, C, H, W], any element type. */

static int block_size(const struct op_io *io, int64_t *b, struct err *err)
{
    if (!node_attr(io->node, "blocksize"))
        return op_fail(io, err, "the blocksize attribute is required");
    *b = node_attr_int(io->node, "blocksize", 0);
    if (*b < 1)
        return op_fail(io, err, "attribute blocksize is %lld, expected a positive number",
                       (long long)*b);
    return 0;
}

static int nchw_input(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0)
        return -1;
    const struct tensor *x = io->in[0];
    if (!known_dtype(x->dtype))
        return op_unsupported(io, err, "element type %s of input 0", dtype_name(x->dtype));
    if (x->shape.ndim != 4) {
        char sb[96];
        return op_fail(io, err, "input of shape %s must be [N, C, H, W]",
                       shape_format(&x->shape, sb, sizeof sb));
    }
    return 0;
}

/* DCR (the default) reads the depth as [blocksize, blocksize, C'], CRD as [C', blocksize,
 * blocksize]. */
static int d2s_mode(const struct op_io *io, bool *crd, struct err *err)
{
    const char *m = node_attr_string(io->node, "mode", "DCR");
    if (strcmp(m, "DCR") != 0 && strcmp(m, "CRD") != 0)
        return op_fail(io, err, "attribute mode is '%s', expected 'DCR' or 'CRD'", m);
    *crd = strcmp(m, "CRD") == 0;
    return 0;
}

static int depthtospace_shape(struct op_io *io, struct err *err)
{
    int64_t b;
    bool crd;
    if (nchw_input(io, err) < 0 || block_size(io, &b, err) < 0 || d2s_mode(io, &crd, err) < 0)
        return -1;
    struct shape s = io->in[0]->shape;
    if (s.dims[1] % (b * b) != 0)
        return op_fail(io, err, "%lld channels are not a multiple of blocksize^2 = %lld",
                       (long long)s.dims[1], (long long)(b * b));
    s.dims[1] /= b * b;
    s.dims[2] *= b;
    s.dims[3] *= b;
    op_set_out(io, 0, io->in[0]->dtype, &s);
    return 0;
}

static int spacetodepth_shape(struct op_io *io, struct err *err)
{
    int64_t b;
    if (nchw_input(io, err) < 0 || block_size(io, &b, err) < 0)
        return -1;
    struct shape s = io->in[0]->shape;
    if (s.dims[2] % b != 0 || s.dims[3] % b != 0) {
        char sb[96];
        return op_fail(io, err,
                       "height and width of the input of shape %s are not multiples "
                       "of blocksize %lld",
                       shape_format(&s, sb, sizeof sb), (long long)b);
    }
    s.dims[1] *= b * b;
    s.dims[2] /= b;
    s.dims[3] /= b;
    op_set_out(io, 0, io->in[0]->dtype, &s);
    return 0;
}

/* Moves elements between the small tensor [N, C, H, W] (depth side) and the large one
 * [N, C / b^2, H b, W b] (space side): space[n, c, h b + i, w b + j] = depth[n, ch, h, w]
 * with ch = (i b + j) C' + c for DCR and c b^2 + i b + j for CRD. */
static void d2s_move(const struct tensor *depth_t, const struct tensor *space_t, int64_t b,
                     bool crd, bool to_space)
{
    const struct shape *ds = &depth_t->shape;
    int64_t n = ds->dims[0], c_depth = ds->dims[1], h = ds->dims[2], w = ds->dims[3];
    int64_t cs = c_depth / (b * b);
    size_t es = dtype_size(depth_t->dtype);
    char *dp = depth_t->data, *sp = space_t->data;
    for (int64_t in = 0; in < n; in++)
        for (int64_t c = 0; c < cs; c++)
            for (int64_t i = 0; i < b; i++)
                for (int64_t j = 0; j < b; j++) {
                    int64_t ch = crd ? c * b * b + i * b + j : (i * b + j) * cs + c;
                    for (int64_t y = 0; y < h; y++)
                        for (int64_t x = 0; x < w; x++) {
                            size_t d_at = (size_t)(((in * c_depth + ch) * h + y) * w + x);
                            size_t s_at =
                                (size_t)(((in * cs + c) * h * b + y * b + i) * w * b + x * b + j);
                            if (to_space)
                                memcpy(sp + s_at * es, dp + d_at * es, es);
                            else
                                memcpy(dp + d_at * es, sp + s_at * es, es);
                        }
                }
}

static int depthtospace_run(struct op_io *io, struct err *err)
{
    int64_t b;
    bool crd;
    if (block_size(io, &b, err) < 0 || d2s_mode(io, &crd, err) < 0)
        return -1;
    d2s_move(io->in[0], io->out[0], b, crd, true);
    return 0;
}

/* SpaceToDepth is DepthToSpace's inverse in DCR order. */
static int spacetodepth_run(struct op_io *io, struct err *err)
{
    int64_t b;
    if (block_size(io, &b, err) < 0)
        return -1;
    d2s_move(io->out[0], io->in[0], b, false, false);
    return 0;
}

const struct op_def op_depthtospace = {
    .name = "DepthToSpace", .shape = depthtospace_shape, .run = depthtospace_run};
const struct op_def op_spacetodepth = {
    .name = "SpaceToDepth", .shape = spacetodepth_shape, .run = spacetodepth_run};

/* ---- GlobalMaxPool: the maximum of each channel's spatial volume; NaN wins, as in
 * MaxPool. */

static int float_input(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0)
        return -1;
    if (io->in[0]->dtype != DTYPE_FLOAT)
        return op_unsupported(io, err, "element type %s of input 0 (expected float32)",
                              dtype_name(io->in[0]->dtype));
    return 0;
}

static int nc_spatial(struct op_io *io, struct err *err)
{
    if (io->in[0]->shape.ndim < 3) {
        char sb[96];
        return op_fail(io, err, "input of shape %s must be [N, C, spatial...]",
                       shape_format(&io->in[0]->shape, sb, sizeof sb));
    }
    return 0;
}

static int gmp_shape(struct op_io *io, struct err *err)
{
    if (float_input(io, err) < 0 || nc_spatial(io, err) < 0)
        return -1;
    struct shape out = io->in[0]->shape;
    for (int i = 2; i < out.ndim; i++)
        out.dims[i] = 1;
    op_set_out(io, 0, DTYPE_FLOAT, &out);
    return 0;
}

static int gmp_run(struct op_io *io, struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    size_t planes = (size_t)(s->dims[0] * s->dims[1]), vol = 1;
    for (int i = 2; i < s->ndim; i++)
        vol *= (size_t)s->dims[i];
    const float *x = tensor_f32(io->in[0]);
    float *y = tensor_f32(io->out[0]);
    for (size_t p = 0; p < planes; p++) {
        float m = -INFINITY;
        for (size_t i = 0; i < vol; i++) {
            float v = x[p * vol + i];
            if (v > m || isnan(v))
                m = v;
            if (isnan(m))
                break;
        }
        y[p] = m;
    }
    return 0;
}

const struct op_def op_globalmaxpool = {
    .name = "GlobalMaxPool", .shape = gmp_shape, .run = gmp_run};

/* ---- Hardmax: 1 at the first maximum along the axis, 0 elsewhere. From opset 13 the axis
 * is one dim (default -1); before, the input is coerced to 2-D at axis (default 1), as for
 * Softmax. A NaN counts as the maximum (numpy's argmax, the reference). */

struct hm_geom {
    size_t outer, n, inner;
};

static int hm_geometry(const struct op_io *io, struct hm_geom *g, struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    bool coerce = io->opset < 13;
    int64_t axis;
    if (op_axis(io, node_attr_int(io->node, "axis", coerce ? 1 : -1), s->ndim, &axis, err) < 0)
        return -1;
    *g = (struct hm_geom){1, 1, 1};
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

static int hardmax_shape(struct op_io *io, struct err *err)
{
    struct hm_geom g;
    if (float_input(io, err) < 0 || hm_geometry(io, &g, err) < 0)
        return -1;
    op_set_out(io, 0, DTYPE_FLOAT, &io->in[0]->shape);
    return 0;
}

static int hardmax_run(struct op_io *io, struct err *err)
{
    struct hm_geom g;
    if (hm_geometry(io, &g, err) < 0)
        return -1;
    const float *x = tensor_f32(io->in[0]);
    float *y = tensor_f32(io->out[0]);
    if (tensor_numel(io->out[0]) == 0)
        return 0;
    memset(y, 0, tensor_bytes(io->out[0]));
    for (size_t o = 0; o < g.outer; o++)
        for (size_t j = 0; j < g.inner; j++) {
            size_t base = o * g.n * g.inner + j, at = 0;
            float best = x[base];
            for (size_t k = 1; k < g.n && !isnan(best); k++) {
                float v = x[base + k * g.inner];
                if (v > best || isnan(v)) {
                    best = v;
                    at = k;
                }
            }
            y[base + at * g.inner] = 1.0f;
        }
    return 0;
}

const struct op_def op_hardmax = {.name = "Hardmax", .shape = hardmax_shape, .run = hardmax_run};

/* ---- Sum and Mean: any number of float32 inputs, all broadcast together. */

static int summean_shape(struct op_io *io, struct err *err)
{
    if (io->n_in < 1)
        return op_fail(io, err, "expects at least 1 input, has 0");
    struct shape out;
    for (int i = 0; i < io->n_in; i++) {
        if (!io->in[i])
            return op_fail(io, err, "input %d is missing", i);
        if (io->in[i]->dtype != DTYPE_FLOAT)
            return op_unsupported(io, err, "element type %s of input %d (expected float32)",
                                  dtype_name(io->in[i]->dtype), i);
        struct shape next;
        if (i == 0) {
            out = io->in[0]->shape;
        } else if (op_broadcast_shape(&out, &io->in[i]->shape, &next) < 0) {
            char sa[96], sb[96];
            return op_fail(io, err, "shapes %s and %s (input %d) cannot be broadcast together",
                           shape_format(&out, sa, sizeof sa),
                           shape_format(&io->in[i]->shape, sb, sizeof sb), i);
        } else {
            out = next;
        }
    }
    op_set_out(io, 0, DTYPE_FLOAT, &out);
    return 0;
}

struct sum_ctx {
    const float *a, *b;
    float *out;
    bool copy; /* out = a only (a single input) */
};

static void sum_inner(void *opaque, size_t oa, size_t ob, size_t oo, size_t n, size_t sa, size_t sb)
{
    const struct sum_ctx *c = opaque;
    for (size_t i = 0; i < n; i++)
        c->out[oo + i] = c->copy ? c->a[oa + i * sa] : c->a[oa + i * sa] + c->b[ob + i * sb];
}

/* out = in0 + in1, then out += ink in place: out has the full shape, so its offsets in the
 * fold are the output's own. */
static int summean_run(struct op_io *io, bool mean)
{
    struct tensor *o = io->out[0];
    const struct tensor *first = io->in[0], *second = io->n_in > 1 ? io->in[1] : io->in[0];
    struct sum_ctx c = {tensor_f32(first), tensor_f32(second), tensor_f32(o), io->n_in == 1};
    struct bcast bc;
    bcast_init(&bc, &first->shape, &second->shape, &o->shape);
    bcast_for_each(&bc, sum_inner, &c);
    for (int i = 2; i < io->n_in; i++) {
        c = (struct sum_ctx){tensor_f32(o), tensor_f32(io->in[i]), tensor_f32(o), false};
        bcast_init(&bc, &o->shape, &io->in[i]->shape, &o->shape);
        bcast_for_each(&bc, sum_inner, &c);
    }
    if (mean) {
        size_t n = tensor_numel(o);
        for (size_t i = 0; i < n; i++)
            tensor_f32(o)[i] /= (float)io->n_in;
    }
    return 0;
}

static int sum_run(struct op_io *io, struct err *err)
{
    return summean_run(io, false);
}

static int mean_run(struct op_io *io, struct err *err)
{
    return summean_run(io, true);
}

const struct op_def op_sum = {.name = "Sum", .shape = summean_shape, .run = sum_run};
const struct op_def op_mean = {.name = "Mean", .shape = summean_shape, .run = mean_run};

/* ---- MeanVarianceNormalization: (X - E[X]) / (sqrt(Var[X]) + 1e-9) over the axes (default
 * [0, 2, 3]), the epsilon of the spec's function body. The variance is the mean squared
 * deviation, computed in double in a second pass rather than as E[X^2] - E[X]^2, which can
 * come out negative. */

#define MVN_EPSILON 1e-9

static int mvn_axes(const struct op_io *io, bool reduce[TENSOR_MAX_DIMS], struct err *err)
{
    static const int64_t dflt[] = {0, 2, 3};
    const struct shape *s = &io->in[0]->shape;
    size_t n;
    const int64_t *axes = node_attr_ints(io->node, "axes", &n);
    if (!axes) {
        axes = dflt;
        n = 3;
    }
    for (int d = 0; d < TENSOR_MAX_DIMS; d++)
        reduce[d] = false;
    for (size_t i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + s->ndim : axes[i];
        if (a < 0 || a >= s->ndim) {
            char sb[96];
            return op_fail(io, err,
                           "attribute axes[%zu] = %lld is out of range for the input of shape %s",
                           i, (long long)axes[i], shape_format(s, sb, sizeof sb));
        }
        reduce[a] = true;
    }
    return 0;
}

static int mvn_shape(struct op_io *io, struct err *err)
{
    bool reduce[TENSOR_MAX_DIMS];
    if (float_input(io, err) < 0 || mvn_axes(io, reduce, err) < 0)
        return -1;
    op_set_out(io, 0, DTYPE_FLOAT, &io->in[0]->shape);
    return 0;
}

/* Group of each input element in odometer order: the index into the kept dims. */
struct mvn_walk {
    int ndim;
    int64_t dims[TENSOR_MAX_DIMS];
    size_t gstride[TENSOR_MAX_DIMS]; /* 0 on reduced dims */
};

static size_t mvn_walk_init(struct mvn_walk *w, const struct shape *s, const bool *reduce)
{
    size_t groups = 1;
    w->ndim = s->ndim;
    for (int d = s->ndim - 1; d >= 0; d--) {
        w->dims[d] = s->dims[d];
        w->gstride[d] = reduce[d] ? 0 : groups;
        if (!reduce[d])
            groups *= (size_t)s->dims[d];
    }
    return groups;
}

/* Advance idx one element; returns the new group offset given the old one. */
static size_t mvn_step(const struct mvn_walk *w, int64_t *idx, size_t g)
{
    for (int d = w->ndim - 1; d >= 0; d--) {
        g += w->gstride[d];
        if (++idx[d] < w->dims[d])
            return g;
        g -= (size_t)idx[d] * w->gstride[d];
        idx[d] = 0;
    }
    return g;
}

static int mvn_run(struct op_io *io, struct err *err)
{
    bool reduce[TENSOR_MAX_DIMS];
    if (mvn_axes(io, reduce, err) < 0)
        return -1;
    const struct tensor *xt = io->in[0];
    size_t n = tensor_numel(xt);
    if (n == 0)
        return 0;
    struct mvn_walk w;
    size_t groups = mvn_walk_init(&w, &xt->shape, reduce);
    double *mean = calloc(2 * groups, sizeof *mean);
    if (!mean)
        return err_oom(err, "MeanVarianceNormalization", 2 * groups * sizeof *mean);
    double *var = mean + groups, count = (double)(n / groups);
    const float *x = tensor_f32(xt);
    float *y = tensor_f32(io->out[0]);
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    size_t g = 0;
    for (size_t i = 0; i < n; i++, g = mvn_step(&w, idx, g))
        mean[g] += x[i];
    for (size_t k = 0; k < groups; k++)
        mean[k] /= count;
    g = 0;
    for (size_t i = 0; i < n; i++, g = mvn_step(&w, idx, g)) {
        double dv = x[i] - mean[g];
        var[g] += dv * dv;
    }
    for (size_t k = 0; k < groups; k++)
        var[k] = sqrt(var[k] / count) + MVN_EPSILON;
    g = 0;
    for (size_t i = 0; i < n; i++, g = mvn_step(&w, idx, g))
        y[i] = (float)((x[i] - mean[g]) / var[g]);
    free(mean);
    return 0;
}

const struct op_def op_meanvariancenormalization = {
    .name = "MeanVarianceNormalization", .shape = mvn_shape, .run = mvn_run};

/* ---- LRN: y = x / (bias + alpha / size * sum of x^2 over the channels
 * [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta, the window clipped to [0, C). */

static int lrn_size(const struct op_io *io, int64_t *size, struct err *err)
{
    if (!node_attr(io->node, "size"))
        return op_fail(io, err, "the size attribute is required");
    *size = node_attr_int(io->node, "size", 0);
    if (*size < 1)
        return op_fail(io, err, "attribute size is %lld, expected a positive number",
                       (long long)*size);
    return 0;
}

static int lrn_shape(struct op_io *io, struct err *err)
{
    int64_t size;
    if (float_input(io, err) < 0 || lrn_size(io, &size, err) < 0)
        return -1;
    if (io->in[0]->shape.ndim < 2) {
        char sb[96];
        return op_fail(io, err, "input of shape %s must be [N, C, ...]",
                       shape_format(&io->in[0]->shape, sb, sizeof sb));
    }
    op_set_out(io, 0, DTYPE_FLOAT, &io->in[0]->shape);
    return 0;
}

static int lrn_run(struct op_io *io, struct err *err)
{
    int64_t size;
    if (lrn_size(io, &size, err) < 0)
        return -1;
    double alpha = node_attr_float(io->node, "alpha", 1e-4f);
    double beta = node_attr_float(io->node, "beta", 0.75f);
    double bias = node_attr_float(io->node, "bias", 1.0f);
    const struct shape *s = &io->in[0]->shape;
    int64_t n = s->dims[0], c = s->dims[1], vol = 1;
    for (int i = 2; i < s->ndim; i++)
        vol *= s->dims[i];
    int64_t before = (size - 1) / 2, after = size / 2; /* floor and ceil of (size - 1) / 2 */
    const float *x = tensor_f32(io->in[0]);
    float *y = tensor_f32(io->out[0]);
    for (int64_t in = 0; in < n; in++)
        for (int64_t ic = 0; ic < c; ic++) {
            int64_t lo = ic - before < 0 ? 0 : ic - before;
            int64_t hi = ic + after > c - 1 ? c - 1 : ic + after;
            for (int64_t p = 0; p < vol; p++) {
                double sq = 0.0;
                for (int64_t k = lo; k <= hi; k++) {
                    double v = x[(in * c + k) * vol + p];
                    sq += v * v;
                }
                size_t at = (size_t)((in * c + ic) * vol + p);
                y[at] = (float)(x[at] / pow(bias + alpha / (double)size * sq, beta));
            }
        }
    return 0;
}

const struct op_def op_lrn = {.name = "LRN", .shape = lrn_shape, .run = lrn_run};
