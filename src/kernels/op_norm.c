/* LayerNormalization (opset 17, with its optional Mean and InvStdDev outputs) and
 * InstanceNormalization, forward and float backward. Not BatchNormalization, whose statistics
 * are fixed parameters (op_batchnorm.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"

/* How a parameter (Scale or B) broadcast unidirectionally to X is indexed: element strides
 * per dim of X, 0 where the parameter has size 1 or no dim. When the parameter is exactly
 * the normalized dims (the usual [axis:] shape, maybe with leading 1s), element (row, col)
 * reads it at col and `by_col` is set. */
struct param_map {
    int64_t stride[TENSOR_MAX_DIMS];
    bool by_col;
};

/* The input seen as [rows, cols]: each row of cols consecutive elements is normalized. */
struct ln_geom {
    int axis, rank;
    int64_t rows, cols;
    struct param_map scale, bias;
};

static int param_map_init(const struct op_io *io, int i, const char *name, int axis,
                          struct param_map *pm, struct err *err)
{
    const struct shape *x = &io->in[0]->shape, *p = &io->in[i]->shape;
    char sx[96], sp[96];
    if (p->ndim > x->ndim)
        return op_fail(io, err, "%s of shape %s has more dims than X %s", name,
                       shape_format(p, sp, sizeof sp), shape_format(x, sx, sizeof sx));
    int64_t step = 1, want = 1;
    pm->by_col = true;
    for (int d = x->ndim - 1; d >= 0; d--) {
        int pd = d - (x->ndim - p->ndim);
        int64_t n = pd >= 0 ? p->dims[pd] : 1;
        if (n != 1 && n != x->dims[d])
            return op_fail(io, err,
                           "%s of shape %s does not broadcast to X %s (dim %d is %lld, "
                           "expected 1 or %lld)",
                           name, shape_format(p, sp, sizeof sp), shape_format(x, sx, sizeof sx), d,
                           (long long)n, (long long)x->dims[d]);
        pm->stride[d] = n == 1 ? 0 : step;
        /* by_col: dims from axis on read the parameter contiguously, dims before it not. */
        if (d >= axis ? (x->dims[d] != 1 && pm->stride[d] != want) : pm->stride[d] != 0)
            pm->by_col = false;
        if (d >= axis)
            want *= x->dims[d];
        step *= n;
    }
    return 0;
}

static int ln_geometry(const struct op_io *io, struct ln_geom *g, struct err *err)
{
    const struct shape *x = &io->in[0]->shape;
    int64_t axis;
    if (x->ndim < 1)
        return op_fail(io, err, "input X must have at least one dim");
    if (op_axis(io, node_attr_int(io->node, "axis", -1), x->ndim, &axis, err) < 0)
        return -1;
    g->axis = (int)axis;
    g->rank = x->ndim;
    g->rows = 1;
    g->cols = 1;
    for (int d = 0; d < x->ndim; d++)
        *(d < axis ? &g->rows : &g->cols) *= x->dims[d];
    if (param_map_init(io, 1, "Scale", g->axis, &g->scale, err) < 0)
        return -1;
    if (op_has_in(io, 2) && param_map_init(io, 2, "B", g->axis, &g->bias, err) < 0)
        return -1;
    return 0;
}

/* Offset of element (row, col) of X into a parameter. Only for maps without by_col. */
static int64_t param_offset(const struct param_map *pm, const struct shape *x, int64_t row,
                            int64_t col, int axis)
{
    int64_t off = 0;
    for (int d = x->ndim - 1; d >= 0; d--) {
        int64_t *rest = d >= axis ? &col : &row;
        off += (*rest % x->dims[d]) * pm->stride[d];
        *rest /= x->dims[d];
    }
    return off;
}

static inline int64_t param_at(const struct param_map *pm, const struct shape *x, int64_t row,
                               int64_t col, int axis)
{
    return pm->by_col ? col : param_offset(pm, x, row, col, axis);
}

/* Mean and 1 / sqrt(variance + eps) of n values, accumulated in double (two passes, so a
 * large mean costs no precision in the variance). */
static void moments(const float *x, int64_t n, float eps, double *mean, double *inv_std)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    double mu = n > 0 ? sum / (double)n : 0.0, sq = 0.0;
    for (int64_t i = 0; i < n; i++)
        sq += ((double)x[i] - mu) * ((double)x[i] - mu);
    double var = n > 0 ? sq / (double)n : 0.0;
    *mean = mu;
    *inv_std = 1.0 / sqrt(var + (double)eps);
}

static int ln_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 3, err) < 0)
        return -1;
    for (int i = 0; i < io->n_in; i++)
        if (op_has_in(io, i) && op_check_input(io, i, DTYPE_FLOAT, err) < 0)
            return -1;
    int64_t stash = node_attr_int(io->node, "stash_type", 1);
    if (stash != 1)
        return op_unsupported(io, err, "stash_type = %lld (only 1, float32)", (long long)stash);
    struct ln_geom g;
    if (ln_geometry(io, &g, err) < 0)
        return -1;
    const struct shape *x = &io->in[0]->shape;
    op_set_out(io, 0, DTYPE_FLOAT, x);
    struct shape stat = *x;
    for (int d = g.axis; d < x->ndim; d++)
        stat.dims[d] = 1;
    op_set_out(io, 1, DTYPE_FLOAT, &stat);
    op_set_out(io, 2, DTYPE_FLOAT, &stat);
    return 0;
}

static int ln_run(struct op_io *io, struct err *err)
{
    struct ln_geom g;
    if (ln_geometry(io, &g, err) < 0)
        return -1;
    const struct shape *xs = &io->in[0]->shape;
    float eps = node_attr_float(io->node, "epsilon", 1e-5f);
    const float *x = tensor_f32(io->in[0]), *s = tensor_f32(io->in[1]);
    const float *b = op_has_in(io, 2) ? tensor_f32(io->in[2]) : NULL;
    float *y = tensor_f32(io->out[0]);
    float *mean_out = io->n_out > 1 && io->out[1] ? tensor_f32(io->out[1]) : NULL;
    float *rstd_out = io->n_out > 2 && io->out[2] ? tensor_f32(io->out[2]) : NULL;
    for (int64_t r = 0; r < g.rows; r++) {
        const float *xr = x + r * g.cols;
        float *yr = y + r * g.cols;
        double mu, rstd;
        moments(xr, g.cols, eps, &mu, &rstd);
        if (mean_out)
            mean_out[r] = (float)mu;
        if (rstd_out)
            rstd_out[r] = (float)rstd;
        if (g.scale.by_col && (!b || g.bias.by_col)) {
            for (int64_t c = 0; c < g.cols; c++)
                yr[c] = (float)(((double)xr[c] - mu) * rstd) * s[c] + (b ? b[c] : 0.0f);
            continue;
        }
        for (int64_t c = 0; c < g.cols; c++) {
            float v =
                (float)(((double)xr[c] - mu) * rstd) * s[param_at(&g.scale, xs, r, c, g.axis)];
            yr[c] = b ? v + b[param_at(&g.bias, xs, r, c, g.axis)] : v;
        }
    }
    return 0;
}

/* Gradients of one normalized line of n values x with xhat = (x - mean) * rstd and
 * y = xhat * s + b, where g = dy * s is given:
 *   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
 * plus, when the Mean and InvStdDev outputs have gradients dm and dr (d mean / dx = 1 / n,
 * d rstd / dx = -rstd^2 * xhat / n):
 *   dx += dm / n - dr * rstd^2 * xhat / n. */
static void norm_line_backward(const float *x, const double *gline, int64_t n, double mu,
                               double rstd, double dm, double dr, float *dx)
{
    double sum_g = 0.0, sum_gx = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double xhat = ((double)x[i] - mu) * rstd;
        sum_g += gline[i];
        sum_gx += gline[i] * xhat;
    }
    double inv_n = n > 0 ? 1.0 / (double)n : 0.0;
    for (int64_t i = 0; i < n; i++) {
        double xhat = ((double)x[i] - mu) * rstd;
        double v = rstd * (gline[i] - sum_g * inv_n - xhat * sum_gx * inv_n);
        v += dm * inv_n - dr * rstd * rstd * xhat * inv_n;
        dx[i] += (float)v;
    }
}

static int ln_backward(const struct op_io *io, const struct tensor *const *dout,
                       struct tensor *const *din, struct err *err)
{
    struct ln_geom g;
    if (ln_geometry(io, &g, err) < 0)
        return -1;
    const struct shape *xs = &io->in[0]->shape;
    float eps = node_attr_float(io->node, "epsilon", 1e-5f);
    const float *x = tensor_f32(io->in[0]), *s = tensor_f32(io->in[1]);
    const float *dy = dout[0] ? tensor_f32(dout[0]) : NULL;
    const float *dmean = io->n_out > 1 && dout[1] ? tensor_f32(dout[1]) : NULL;
    const float *drstd = io->n_out > 2 && dout[2] ? tensor_f32(dout[2]) : NULL;
    float *dx = din[0] ? tensor_f32(din[0]) : NULL;
    float *ds = io->n_in > 1 && din[1] ? tensor_f32(din[1]) : NULL;
    float *db = io->n_in > 2 && din[2] ? tensor_f32(din[2]) : NULL;
    double *gline = NULL;
    if (dx) {
        size_t bytes = (size_t)(g.cols > 0 ? g.cols : 1) * sizeof *gline;
        if (io->scratch && io->scratch_bytes >= bytes)
            gline = io->scratch;
        else if (!(gline = malloc(bytes)))
            return err_oom(err, "layer normalization gradient", bytes);
    }
    for (int64_t r = 0; r < g.rows; r++) {
        const float *xr = x + r * g.cols;
        double mu, rstd;
        moments(xr, g.cols, eps, &mu, &rstd);
        for (int64_t c = 0; c < g.cols && (dy || dx); c++) {
            double d = dy ? dy[r * g.cols + c] : 0.0;
            int64_t so = param_at(&g.scale, xs, r, c, g.axis);
            if (ds)
                ds[so] += (float)(d * ((double)xr[c] - mu) * rstd);
            if (db)
                db[param_at(&g.bias, xs, r, c, g.axis)] += (float)d;
            if (gline)
                gline[c] = d * s[so];
        }
        if (dx)
            norm_line_backward(xr, gline, g.cols, mu, rstd, dmean ? dmean[r] : 0.0,
                               drstd ? drstd[r] : 0.0, dx + r * g.cols);
    }
    if (gline && gline != io->scratch)
        free(gline);
    return 0;
}

/* ---- InstanceNormalization: each (image, channel) plane normalized over its spatial
 * dims, then scaled and shifted per channel. ---- */

static int in_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 3, 3, err) < 0)
        return -1;
    for (int i = 0; i < 3; i++)
        if (op_check_input(io, i, DTYPE_FLOAT, err) < 0)
            return -1;
    const struct shape *x = &io->in[0]->shape;
    char sx[96], sp[96];
    if (x->ndim < 2)
        return op_fail(io, err, "input of shape %s must be [N, C, spatial...]",
                       shape_format(x, sx, sizeof sx));
    static const char *const names[] = {"input", "scale", "B"};
    for (int i = 1; i < 3; i++) {
        const struct shape *p = &io->in[i]->shape;
        if (p->ndim != 1 || p->dims[0] != x->dims[1])
            return op_fail(io, err, "%s of shape %s must be [%lld], one value per channel of %s",
                           names[i], shape_format(p, sp, sizeof sp), (long long)x->dims[1],
                           shape_format(x, sx, sizeof sx));
    }
    op_set_out(io, 0, DTYPE_FLOAT, x);
    return 0;
}

static void in_dims(const struct shape *x, int64_t *planes, int64_t *channels, int64_t *vol)
{
    *channels = x->dims[1];
    *planes = x->dims[0] * x->dims[1];
    *vol = 1;
    for (int d = 2; d < x->ndim; d++)
        *vol *= x->dims[d];
}

static int in_run(struct op_io *io, struct err *err)
{
    (void)err;
    int64_t planes, channels, vol;
    in_dims(&io->in[0]->shape, &planes, &channels, &vol);
    float eps = node_attr_float(io->node, "epsilon", 1e-5f);
    const float *x = tensor_f32(io->in[0]), *s = tensor_f32(io->in[1]);
    const float *b = tensor_f32(io->in[2]);
    float *y = tensor_f32(io->out[0]);
    for (int64_t p = 0; p < planes; p++) {
        int64_t c = p % channels;
        double mu, rstd;
        moments(x + p * vol, vol, eps, &mu, &rstd);
        for (int64_t i = 0; i < vol; i++)
            y[p * vol + i] = (float)(((double)x[p * vol + i] - mu) * rstd) * s[c] + b[c];
    }
    return 0;
}

static int in_backward(const struct op_io *io, const struct tensor *const *dout,
                       struct tensor *const *din, struct err *err)
{
    int64_t planes, channels, vol;
    in_dims(&io->in[0]->shape, &planes, &channels, &vol);
    float eps = node_attr_float(io->node, "epsilon", 1e-5f);
    const float *x = tensor_f32(io->in[0]), *s = tensor_f32(io->in[1]);
    const float *dy = tensor_f32(dout[0]);
    float *dx = din[0] ? tensor_f32(din[0]) : NULL;
    float *ds = din[1] ? tensor_f32(din[1]) : NULL, *db = din[2] ? tensor_f32(din[2]) : NULL;
    double *gline = NULL;
    if (dx) {
        size_t bytes = (size_t)(vol > 0 ? vol : 1) * sizeof *gline;
        if (io->scratch && io->scratch_bytes >= bytes)
            gline = io->scratch;
        else if (!(gline = malloc(bytes)))
            return err_oom(err, "instance normalization gradient", bytes);
    }
    for (int64_t p = 0; p < planes; p++) {
        int64_t c = p % channels;
        const float *xp = x + p * vol, *dyp = dy + p * vol;
        double mu, rstd, sum_dy = 0.0, sum_dyx = 0.0;
        moments(xp, vol, eps, &mu, &rstd);
        for (int64_t i = 0; i < vol; i++) {
            sum_dy += dyp[i];
            sum_dyx += dyp[i] * ((double)xp[i] - mu) * rstd;
            if (gline)
                gline[i] = (double)dyp[i] * s[c];
        }
        if (ds)
            ds[c] += (float)sum_dyx;
        if (db)
            db[c] += (float)sum_dy;
        if (dx)
            norm_line_backward(xp, gline, vol, mu, rstd, 0.0, 0.0, dx + p * vol);
    }
    if (gline && gline != io->scratch)
        free(gline);
    return 0;
}

const struct op_def op_layernormalization = {
    .name = "LayerNormalization", .shape = ln_shape, .run = ln_run, .backward = ln_backward};
const struct op_def op_instancenormalization = {
    .name = "InstanceNormalization", .shape = in_shape, .run = in_run, .backward = in_backward};
