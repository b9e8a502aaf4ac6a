/* ConvTranspose (1-D to 3-D, groups, strides, dilations, pads, output_padding, output_shape,
 * auto_pad): per image and group one CBLAS GEMM W^T X into columns, then col2im adds each
 * column into the output. Not Conv (op_conv.c), whose adjoint this is. */
#include <stdlib.h>
#include <string.h>

#include "kernels/blas.h"
#include "kernels/window.h"

/* The geometry as the Conv whose input gradient ConvTranspose computes: the window's "in"
 * is the ConvTranspose output (spatial), its "out" the ConvTranspose input, so output index
 * y = i * stride - pad_begin + k * dilation for input index i and tap k. */
struct ct_geom {
    struct window w;
    int64_t n, c, m, group, cg, mg; /* batch, channels in/out, groups, per group */
    bool direct;                    /* 1x1 kernel, stride 1, no pads: the GEMM writes Y */
};

/* floor(a / 2) for either sign, as ONNX's formulas (written in Python) mean it. */
static inline int64_t floor_half(int64_t a)
{
    return a >= 0 ? a / 2 : -((-a + 1) / 2);
}

static int ct_geometry(const struct op_io *io, struct ct_geom *g, struct err *err)
{
    const struct shape *x = &io->in[0]->shape, *wt = &io->in[1]->shape;
    char sx[96], sw[96];
    int nsp = x->ndim - 2;
    if (nsp < 1 || nsp > WIN_MAX_SPATIAL)
        return op_unsupported(io, err,
                              "input X of shape %s (rank 3 to 5 expected: [N, C, "
                              "spatial...])",
                              shape_format(x, sx, sizeof sx));
    if (wt->ndim != x->ndim)
        return op_fail(io, err, "weight W of shape %s must have the rank of X %s",
                       shape_format(wt, sw, sizeof sw), shape_format(x, sx, sizeof sx));
    int64_t group = node_attr_int(io->node, "group", 1);
    if (group < 1)
        return op_fail(io, err, "attribute group = %lld must be positive", (long long)group);
    g->n = x->dims[0];
    g->c = x->dims[1];
    g->group = group;
    g->mg = wt->dims[1];
    g->m = g->mg * group;
    if (g->c % group != 0)
        return op_fail(io, err, "group = %lld does not divide the %lld input channels",
                       (long long)group, (long long)g->c);
    g->cg = g->c / group;
    if (wt->dims[0] != g->c)
        return op_fail(io, err,
                       "weight W of shape %s must be [C, M/group, kernel...] with C = %lld, "
                       "the channels of X %s",
                       shape_format(wt, sw, sizeof sw), (long long)g->c,
                       shape_format(x, sx, sizeof sx));
    size_t n = (size_t)nsp, nk;
    const int64_t *ks = node_attr_ints(io->node, "kernel_shape", &nk);
    if (ks) {
        if (nk != n)
            return op_fail(io, err, "kernel_shape has %zu values for %d spatial dims", nk, nsp);
        for (int i = 0; i < nsp; i++)
            if (ks[i] != wt->dims[2 + i])
                return op_fail(io, err,
                               "kernel_shape[%d] = %lld disagrees with the weight W of shape %s", i,
                               (long long)ks[i], shape_format(wt, sw, sizeof sw));
    }
    int64_t strides[WIN_MAX_SPATIAL], dil[WIN_MAX_SPATIAL], pads[2 * WIN_MAX_SPATIAL];
    int64_t opad[WIN_MAX_SPATIAL], oshape[WIN_MAX_SPATIAL];
    if (win_attr_ints(io, "strides", n, strides, 1, 1, err) < 0 ||
        win_attr_ints(io, "dilations", n, dil, 1, 1, err) < 0 ||
        win_attr_ints(io, "pads", 2 * n, pads, 0, 0, err) < 0 ||
        win_attr_ints(io, "output_padding", n, opad, 0, 0, err) < 0)
        return -1;
    for (int i = 0; i < nsp; i++)
        if (opad[i] >= strides[i] && opad[i] >= dil[i])
            return op_fail(io, err,
                           "output_padding[%d] = %lld must be smaller than the stride (%lld) "
                           "or the dilation (%lld)",
                           i, (long long)opad[i], (long long)strides[i], (long long)dil[i]);
    /* output_shape may list the spatial dims only or, as some exporters write it, N and C
     * too. */
    size_t no;
    const int64_t *os = node_attr_ints(io->node, "output_shape", &no);
    if (os && no != n && no != n + 2)
        return op_fail(io, err, "attribute output_shape has %zu values for %d spatial dims", no,
                       nsp);
    for (int i = 0; os && i < nsp; i++) {
        oshape[i] = os[no - n + (size_t)i];
        if (oshape[i] < 0)
            return op_fail(io, err, "output_shape[%zu] = %lld must not be negative",
                           no - n + (size_t)i, (long long)oshape[i]);
    }
    const char *auto_pad = node_attr_string(io->node, "auto_pad", "NOTSET");
    bool same_upper = strcmp(auto_pad, "SAME_UPPER") == 0;
    bool same = same_upper || strcmp(auto_pad, "SAME_LOWER") == 0;
    bool valid = strcmp(auto_pad, "VALID") == 0;
    if (!same && !valid && strcmp(auto_pad, "NOTSET") != 0 && auto_pad[0] != '\0')
        return op_fail(io, err,
                       "auto_pad is '%s'; expected NOTSET, SAME_UPPER, SAME_LOWER or VALID",
                       auto_pad);

    struct window *w = &g->w;
    memset(w, 0, sizeof *w);
    w->nsp = nsp;
    int off = WIN_MAX_SPATIAL - nsp;
    for (int d = 0; d < off; d++)
        w->in[d] = w->out[d] = w->kernel[d] = w->stride[d] = w->dilation[d] = 1;
    for (int i = 0; i < nsp; i++) {
        int d = off + i;
        int64_t in = x->dims[2 + i], k = wt->dims[2 + i], s = strides[i], dl = dil[i];
        if (k < 1)
            return op_fail(io, err, "kernel size %lld in spatial dim %d must be positive",
                           (long long)k, i);
        int64_t full = s * (in - 1) + opad[i] + (k - 1) * dl + 1, pb, pe, out;
        if (os || same) {
            /* The pads that give the requested size, split as the ONNX formulas split
             * them (the odd one at the end for SAME_UPPER, at the beginning otherwise). */
            out = os ? oshape[i] : in * s;
            int64_t total = full - out;
            pb = same_upper ? floor_half(total) : total - floor_half(total);
            pe = total - pb;
        } else {
            pb = valid ? 0 : pads[i];
            pe = valid ? 0 : pads[nsp + i];
            out = full - pb - pe;
        }
        if (out < 0)
            return op_fail(io, err,
                           "the output would have %lld elements in spatial dim %d (pads %lld "
                           "and %lld exceed the size)",
                           (long long)out, i, (long long)pb, (long long)pe);
        w->in[d] = out;
        w->out[d] = in;
        w->kernel[d] = k;
        w->stride[d] = s;
        w->dilation[d] = dl;
        w->pad_begin[d] = pb;
        w->pad_end[d] = pe;
    }
    g->direct = true;
    for (int d = 0; d < WIN_MAX_SPATIAL; d++)
        if (w->kernel[d] != 1 || w->stride[d] != 1 || w->pad_begin[d] != 0 || w->in[d] != w->out[d])
            g->direct = false;
    return 0;
}

static int ct_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 3, err) < 0)
        return -1;
    for (int i = 0; i < io->n_in; i++)
        if (op_has_in(io, i) && op_check_input(io, i, DTYPE_FLOAT, err) < 0)
            return -1;
    struct ct_geom g;
    if (ct_geometry(io, &g, err) < 0)
        return -1;
    if (win_check_bias(io, g.m, err) < 0)
        return -1;
    struct shape out = {.ndim = io->in[0]->shape.ndim};
    out.dims[0] = g.n;
    out.dims[1] = g.m;
    for (int i = 0; i < g.w.nsp; i++)
        out.dims[2 + i] = g.w.in[WIN_MAX_SPATIAL - g.w.nsp + i];
    op_set_out(io, 0, DTYPE_FLOAT, &out);
    if (!g.direct)
        io->scratch_bytes =
            (size_t)(g.mg * win_kernel_volume(&g.w) * win_out_volume(&g.w)) * sizeof(float);
    return 0;
}

/* Ceiling of a / b for b > 0 and any sign of a. */
static inline int64_t ceil_div(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

/* The input indices [lo, hi) of one dim whose output index i*s - pad + kd falls inside
 * [0, len). */
static inline void valid_range(int64_t len, int64_t n, int64_t s, int64_t pad, int64_t kd,
                               int64_t *lo, int64_t *hi)
{
    int64_t l = ceil_div(pad - kd, s), h = ceil_div(len + pad - kd, s);
    if (l < 0)
        l = 0;
    if (h > n)
        h = n;
    if (h < l)
        h = l;
    *lo = l;
    *hi = h;
}

/* Adds the columns col: [mg * kernel volume, input volume], row (m, k0, k1, k2), into y:
 * [mg, output volume], skipping the taps that fall into the pads. */
static void col2im_add(const float *col, int64_t mg, const struct window *w, float *y)
{
    const int64_t n_vol = win_out_volume(w), y_vol = win_in_volume(w);
    const float *src = col;
    for (int64_t m = 0; m < mg; m++) {
        float *ym = y + m * y_vol;
        for (int64_t k0 = 0; k0 < w->kernel[0]; k0++) {
            int64_t lo0, hi0, kd0 = k0 * w->dilation[0];
            valid_range(w->in[0], w->out[0], w->stride[0], w->pad_begin[0], kd0, &lo0, &hi0);
            for (int64_t k1 = 0; k1 < w->kernel[1]; k1++) {
                int64_t lo1, hi1, kd1 = k1 * w->dilation[1];
                valid_range(w->in[1], w->out[1], w->stride[1], w->pad_begin[1], kd1, &lo1, &hi1);
                for (int64_t k2 = 0; k2 < w->kernel[2]; k2++, src += n_vol) {
                    int64_t lo2, hi2, kd2 = k2 * w->dilation[2], s2 = w->stride[2];
                    valid_range(w->in[2], w->out[2], s2, w->pad_begin[2], kd2, &lo2, &hi2);
                    for (int64_t i0 = lo0; i0 < hi0; i0++) {
                        int64_t y0 = i0 * w->stride[0] - w->pad_begin[0] + kd0;
                        for (int64_t i1 = lo1; i1 < hi1; i1++) {
                            int64_t y1 = i1 * w->stride[1] - w->pad_begin[1] + kd1;
                            const float *c = src + (i0 * w->out[1] + i1) * w->out[2];
                            float *dst =
                                ym + (y0 * w->in[1] + y1) * w->in[2] - w->pad_begin[2] + kd2;
                            for (int64_t i2 = lo2; i2 < hi2; i2++)
                                dst[i2 * s2] += c[i2];
                        }
                    }
                }
            }
        }
    }
}

static int ct_run(struct op_io *io, struct err *err)
{
    struct ct_geom g;
    if (ct_geometry(io, &g, err) < 0)
        return -1;
    const struct window *w = &g.w;
    const float *x = tensor_f32(io->in[0]), *wt = tensor_f32(io->in[1]);
    const float *b = op_has_in(io, 2) ? tensor_f32(io->in[2]) : NULL;
    float *y = tensor_f32(io->out[0]);
    const int64_t x_vol = win_out_volume(w), y_vol = win_in_volume(w);
    const int64_t rows = g.mg * win_kernel_volume(w);
    if (g.n == 0 || g.m == 0 || y_vol == 0)
        return 0;
    float *col = io->scratch, *owned = NULL;
    size_t need = (size_t)(rows * x_vol) * sizeof *col;
    if (!g.direct && (!col || io->scratch_bytes < need)) {
        if (!(col = owned = malloc(need ? need : 1)))
            return err_oom(err, "transposed convolution columns", need);
    }
    for (int64_t n = 0; n < g.n; n++)
        for (int64_t gi = 0; gi < g.group; gi++) {
            const float *xg = x + (n * g.c + gi * g.cg) * x_vol;
            const float *wg = wt + gi * g.cg * rows; /* [cg, mg * kernel volume] */
            float *yg = y + (n * g.m + gi * g.mg) * y_vol;
            for (int64_t m = 0; m < g.mg; m++) {
                float v = b ? b[gi * g.mg + m] : 0.0f;
                for (int64_t i = 0; i < y_vol; i++)
                    yg[m * y_vol + i] = v;
            }
            if (x_vol == 0 || g.cg == 0)
                continue;
            /* col = Wg^T Xg: [mg * kernel volume, cg] x [cg, input volume]; with a 1x1
             * kernel, stride 1 and no pads the columns are the output itself. */
            blas_sgemm(true, false, (int)rows, (int)x_vol, (int)g.cg, 1.0f, wg, (int)rows, xg,
                       (int)x_vol, g.direct ? 1.0f : 0.0f, g.direct ? yg : col, (int)x_vol);
            if (!g.direct)
                col2im_add(col, g.mg, w, yg);
        }
    free(owned);
    return 0;
}

/* Every input element meets every weight of its group once: numel(X) * M/group * kernel
 * volume, the count of the Conv it is the adjoint of. */
static double ct_macs(const struct op_io *io)
{
    const struct shape *wt = &io->in[1]->shape;
    double per_in = 1.0;
    for (int i = 1; i < wt->ndim; i++)
        per_in *= (double)wt->dims[i];
    return (double)shape_numel(&io->in[0]->shape) * per_in;
}

const struct op_def op_convtranspose = {
    .name = "ConvTranspose", .shape = ct_shape, .run = ct_run, .macs = ct_macs};
