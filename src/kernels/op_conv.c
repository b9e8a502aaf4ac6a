/* Conv (1-D to 3-D, groups, dilations, pads, auto_pad): im2col + CBLAS GEMM per image and
 * group, with direct paths for pointwise (1x1) and depthwise convolutions. Not ConvTranspose
 * and not the pooling ops (op_pool.c). */
#include <stdlib.h>
#include <string.h>

#include "kernels/blas.h"
#include "kernels/conv_simd.h"
#include "kernels/sparse.h"
#include "kernels/window.h"

/* Input positions per image up to which a depthwise convolution runs channels-last, the
 * channels in the inner loop (small planes leave the per-channel loops nothing to do). On
 * mobilenet_v2 at 28x28 the channels-last kernel took half the time of the per-channel one
 * on 14x14 planes too (features.1.conv.0: 2.2 against 4.0 ms for 200 rows); 32x32 is the
 * largest plane measured. */
#define DW_NHWC_MAX_INPUTS 1024

/* Output positions per image up to which the images of a run share one GEMM (with 256,
 * regnet_x_400mf's 14x14 layers moved its outputs 2.7e-4 from PyTorch's through the
 * changed rounding, past the fixtures' 1e-4), and the most columns that GEMM takes (its
 * column matrix is kdim x columns). */
#define BATCHED_MAX_OUTPUTS 64
#define BATCHED_MAX_COLUMNS 16384
/* The batched path builds and multiplies the column matrix a block of images at a time,
 * the block's columns and product together about this many bytes (so that they stay in
 * the L2 cache between the gather and the GEMM), but with at least BATCHED_MIN_COLUMNS
 * columns (a narrower GEMM wastes its packing). */
#define BATCHED_BLOCK_BYTES (384 * 1024)
#define BATCHED_MIN_COLUMNS 128

static int64_t batched_plane_floats(const struct window *w);

/* Everything a run needs, derived from the shapes and attributes once per call. */
struct conv_geom {
    struct window w;
    int64_t n, c, m, group, cg, mg; /* batch, channels in/out, groups, per group */
    bool pointwise;                 /* 1x1 kernel, stride 1, no pads: X itself is the column */
    bool depthwise;                 /* one input and one output channel per group */
    bool wide;                      /* 2-D (or 1-D) with stride 1: the "wide" im2col below */
    bool simd;                      /* wide, computed directly by conv_simd_wide */
    bool batched;                   /* few outputs per image: one GEMM over all images */
    int64_t hp, wp;                 /* wide: padded input height and width */
    const struct op_post *post;     /* what fused nodes compute after the sum, or NULL */
};

static int conv_geometry(const struct op_io *io, struct conv_geom *g, struct err *err)
{
    const struct shape *x = &io->in[0]->shape, *wt = &io->in[1]->shape;
    char sx[96], sw[96];
    if (x->ndim < 3)
        return op_fail(io, err, "input X of shape %s must be [N, C, spatial...]",
                       shape_format(x, sx, sizeof sx));
    if (wt->ndim != x->ndim)
        return op_fail(io, err, "weight W of shape %s must have the rank of X %s",
                       shape_format(wt, sw, sizeof sw), shape_format(x, sx, sizeof sx));
    int nsp = x->ndim - 2;
    int64_t group = node_attr_int(io->node, "group", 1);
    if (group < 1)
        return op_fail(io, err, "attribute group = %lld must be positive", (long long)group);
    g->post = io->post;
    g->n = x->dims[0];
    g->c = x->dims[1];
    g->m = wt->dims[0];
    g->group = group;
    if (g->c % group != 0 || g->m % group != 0)
        return op_fail(io, err,
                       "group = %lld does not divide the %lld input channels and %lld "
                       "output channels",
                       (long long)group, (long long)g->c, (long long)g->m);
    g->cg = g->c / group;
    g->mg = g->m / group;
    if (wt->dims[1] != g->cg)
        return op_fail(io, err,
                       "weight W of shape %s has %lld input channels per group; X %s "
                       "with group = %lld needs %lld",
                       shape_format(wt, sw, sizeof sw), (long long)wt->dims[1],
                       shape_format(x, sx, sizeof sx), (long long)group, (long long)g->cg);
    size_t nk;
    const int64_t *ks = node_attr_ints(io->node, "kernel_shape", &nk);
    if (ks) {
        if (nk != (size_t)nsp)
            return op_fail(io, err, "kernel_shape has %zu values for %d spatial dims", nk, nsp);
        for (int i = 0; i < nsp; i++)
            if (ks[i] != wt->dims[2 + i])
                return op_fail(io, err,
                               "kernel_shape[%d] = %lld disagrees with the weight W "
                               "of shape %s",
                               i, (long long)ks[i], shape_format(wt, sw, sizeof sw));
    }
    if (win_resolve(io, wt->dims + 2, false, true, &g->w, err) < 0)
        return -1;
    const struct window *w = &g->w;
    g->pointwise = true;
    for (int d = 0; d < WIN_MAX_SPATIAL; d++)
        if (w->kernel[d] != 1 || w->stride[d] != 1 || w->pad_begin[d] != 0 || w->pad_end[d] != 0)
            g->pointwise = false;
    g->depthwise = g->cg == 1 && g->mg == 1 && group > 1;
    g->wide = !g->pointwise && !g->depthwise && w->kernel[0] == 1 && w->in[0] == 1 &&
              w->stride[1] == 1 && w->stride[2] == 1;
    g->hp = w->in[1] + w->pad_begin[1] + w->pad_end[1];
    g->wp = w->in[2] + w->pad_begin[2] + w->pad_end[2];
    g->simd = g->wide && conv_simd_available() &&
              g->cg * g->hp * g->wp + g->wp * g->w.kernel[1] * g->w.dilation[1] < INT32_MAX;
    /* A GEMM per image with few output positions is a matrix-vector product; with the
     * images side by side in the columns it is one real GEMM (per group). */
    g->batched = !g->depthwise && g->n >= 1 && win_out_volume(w) <= BATCHED_MAX_OUTPUTS &&
                 g->n * win_out_volume(w) <= BATCHED_MAX_COLUMNS;
    if (g->batched)
        g->wide = g->simd = false;
    return 0;
}

/* Images per block of the batched path (see BATCHED_BLOCK_BYTES): a function of the
 * geometry only, so that the plan's CSR offsets (sparse_offsets) and the runs agree. */
static int64_t batched_block(const struct conv_geom *g)
{
    const int64_t out_vol = win_out_volume(&g->w);
    const int64_t per_image = (g->cg * win_kernel_volume(&g->w) + g->mg) * out_vol * 4;
    int64_t nb = per_image > 0 ? BATCHED_BLOCK_BYTES / per_image : g->n;
    int64_t least = out_vol > 0 ? (BATCHED_MIN_COLUMNS + out_vol - 1) / out_vol : 1;
    if (nb < least)
        nb = least;
    return nb < 1 ? 1 : nb > g->n ? g->n : nb;
}

/* Scratch floats of the wide path: the padded input of one group (plus a tail that the
 * last rows read past the end), then either its column matrix for GEMM or, for the direct
 * SIMD kernel, tap offsets, packed weights and bias; then the wide output. */
struct wide_layout {
    int64_t n_wide; /* out_h * wp positions, rounded up to CONV_SIMD_NV for SIMD */
    int64_t m_rows; /* output channels, rounded up to CONV_SIMD_MB for SIMD */
    int64_t pad, col, off, ntaps, wpack, bias, ywide; /* float offsets into scratch */
    int64_t total;
};

static void wide_layout(const struct conv_geom *g, struct wide_layout *l)
{
    int64_t kdim = g->cg * win_kernel_volume(&g->w);
    int64_t eff_w = (g->w.kernel[2] - 1) * g->w.dilation[2] + 1;
    l->n_wide = g->w.out[1] * g->wp;
    l->m_rows = g->mg;
    if (g->simd) {
        l->n_wide = (l->n_wide + CONV_SIMD_NV - 1) / CONV_SIMD_NV * CONV_SIMD_NV;
        l->m_rows = (g->mg + CONV_SIMD_MB - 1) / CONV_SIMD_MB * CONV_SIMD_MB;
    }
    l->pad = 0;
    l->col = l->pad + g->cg * g->hp * g->wp + eff_w + CONV_SIMD_NV;
    l->off = l->col + (g->simd ? 0 : kdim * l->n_wide);
    l->ntaps = l->off + (g->simd ? l->m_rows / CONV_SIMD_MB * kdim : 0);
    l->wpack = l->ntaps + (g->simd ? l->m_rows / CONV_SIMD_MB : 0);
    l->bias = l->wpack + (g->simd ? l->m_rows * kdim : 0);
    l->ywide = l->bias + (g->simd ? l->m_rows : 0);
    l->total = l->ywide + l->m_rows * l->n_wide;
}

static int conv_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 3, err) < 0)
        return -1;
    for (int i = 0; i < io->n_in; i++)
        if (op_has_in(io, i) && op_check_input(io, i, DTYPE_FLOAT, err) < 0)
            return -1;
    struct conv_geom g;
    if (conv_geometry(io, &g, err) < 0)
        return -1;
    if (win_check_bias(io, g.m, err) < 0)
        return -1;
    struct shape out = {.ndim = io->in[0]->shape.ndim};
    out.dims[0] = g.n;
    out.dims[1] = g.m;
    for (int i = 0; i < g.w.nsp; i++)
        out.dims[2 + i] = g.w.out[WIN_MAX_SPATIAL - g.w.nsp + i];
    op_set_out(io, 0, DTYPE_FLOAT, &out);
    struct wide_layout l;
    if (g.batched) {
        /* The column matrix of a block of images for one group, then its product before
         * it goes to NCHW. */
        int64_t cols = batched_block(&g) * win_out_volume(&g.w);
        /* ... the weights without dead taps, and the gather table with one channel's
         * plane (gather_table). */
        int64_t k_vol = win_kernel_volume(&g.w);
        io->scratch_bytes = (size_t)((g.cg * k_vol + g.mg) * cols + g.mg * g.cg * k_vol +
                                     k_vol * win_out_volume(&g.w) + batched_plane_floats(&g.w)) *
                            sizeof(float);
        /* One position per image: room for csr_gemm's tiles, should the weights turn out
         * mostly zeros. */
        size_t tiles = (size_t)(g.cg * k_vol * CSR_TILE) * sizeof(float);
        if (win_in_volume(&g.w) == 1 && win_out_volume(&g.w) == 1 && io->scratch_bytes < tiles)
            io->scratch_bytes = tiles;
    } else if (g.depthwise && win_in_volume(&g.w) <= DW_NHWC_MAX_INPUTS) {
        /* One image channels-last (input and output), the weights tap by tap and the bias,
         * then the taps of each output (depthwise_nhwc). */
        int64_t out_vol = win_out_volume(&g.w), k_vol = win_kernel_volume(&g.w);
        io->scratch_bytes = (size_t)((win_in_volume(&g.w) + out_vol + k_vol + 1) * g.c + out_vol +
                                     1 + 2 * out_vol * k_vol) *
                            sizeof(float);
    } else if (g.wide) {
        wide_layout(&g, &l);
        io->scratch_bytes = (size_t)l.total * sizeof(float);
    } else if (!g.pointwise && !g.depthwise)
        io->scratch_bytes =
            (size_t)(g.cg * win_kernel_volume(&g.w) * win_out_volume(&g.w)) * sizeof(float);
    return 0;
}

/* Ceiling of a / b for b > 0 and any sign of a. */
static inline int64_t ceil_div(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

/* The range [lo, hi) of outputs o along one dim whose input index o*s - pad + k*d falls
 * inside [0, in). */
static inline void valid_outputs(int64_t in, int64_t out, int64_t s, int64_t pad, int64_t kd,
                                 int64_t *lo, int64_t *hi)
{
    int64_t l = ceil_div(pad - kd, s), h = ceil_div(in + pad - kd, s);
    if (l < 0)
        l = 0;
    if (h > out)
        h = out;
    if (h < l)
        h = l;
    *lo = l;
    *hi = h;
}

static void fill(float *restrict y, int64_t n, float v)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = v;
}

static inline void copy_row(float *restrict dst, const float *restrict src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = src[i];
}

/* Unfolds the cg channels of one image (x: [cg, in volume]) into col: [cg * kernel volume,
 * out volume], row (c, k0, k1, k2), column (o0, o1, o2); padding positions are zeros.
 * Rows are ld floats apart (ld >= out volume: several images side by side). */
static void im2col_rows(const float *x, int64_t cg, const struct window *w, float *col, int64_t ld)
{
    const int64_t out_vol = win_out_volume(w);
    const int64_t in1 = w->in[1], in2 = w->in[2], out1 = w->out[1], out2 = w->out[2];
    const int64_t s2 = w->stride[2];
    float *dst = col;
    for (int64_t c = 0; c < cg; c++) {
        const float *xc = x + c * win_in_volume(w);
        for (int64_t k0 = 0; k0 < w->kernel[0]; k0++) {
            int64_t lo0, hi0;
            valid_outputs(w->in[0], w->out[0], w->stride[0], w->pad_begin[0], k0 * w->dilation[0],
                          &lo0, &hi0);
            for (int64_t k1 = 0; k1 < w->kernel[1]; k1++) {
                int64_t lo1, hi1;
                valid_outputs(in1, out1, w->stride[1], w->pad_begin[1], k1 * w->dilation[1], &lo1,
                              &hi1);
                for (int64_t k2 = 0; k2 < w->kernel[2]; k2++, dst += ld - out_vol) {
                    int64_t kd2 = k2 * w->dilation[2], lo2, hi2;
                    valid_outputs(in2, out2, s2, w->pad_begin[2], kd2, &lo2, &hi2);
                    for (int64_t o0 = 0; o0 < w->out[0]; o0++) {
                        if (o0 < lo0 || o0 >= hi0) {
                            memset(dst, 0, (size_t)(out1 * out2) * sizeof *dst);
                            dst += out1 * out2;
                            continue;
                        }
                        int64_t i0 = o0 * w->stride[0] - w->pad_begin[0] + k0 * w->dilation[0];
                        for (int64_t o1 = 0; o1 < out1; o1++) {
                            if (o1 < lo1 || o1 >= hi1) {
                                memset(dst, 0, (size_t)out2 * sizeof *dst);
                                dst += out2;
                                continue;
                            }
                            int64_t i1 = o1 * w->stride[1] - w->pad_begin[1] + k1 * w->dilation[1];
                            const float *src = xc + (i0 * in1 + i1) * in2 - w->pad_begin[2] + kd2;
                            int64_t o2 = 0;
                            for (; o2 < lo2; o2++)
                                *dst++ = 0.0f;
                            if (s2 == 1) {
                                /* Rows are short (tens of values): an inline loop beats a
                                 * memcpy call. */
                                copy_row(dst, src + lo2, hi2 - lo2);
                                dst += hi2 - lo2;
                                o2 = hi2;
                            } else {
                                for (; o2 < hi2; o2++)
                                    *dst++ = src[o2 * s2];
                            }
                            for (; o2 < out2; o2++)
                                *dst++ = 0.0f;
                        }
                    }
                }
            }
        }
    }
}

static void im2col_ld(const float *x, int64_t cg, const struct window *w, float *col, int64_t ld)
{
    im2col_rows(x, cg, w, col, ld);
}

static void im2col(const float *x, int64_t cg, const struct window *w, float *col)
{
    im2col_ld(x, cg, w, col, win_out_volume(w));
}

/* Which kernel taps reach at least one output (the others only ever read padding, as a 3x3
 * kernel over a 1x1 plane does for 8 of its 9 taps); returns their count. */
static int64_t live_taps(const struct window *w, bool *live)
{
    int64_t n = 0, k = 0;
    for (int64_t k0 = 0; k0 < w->kernel[0]; k0++)
        for (int64_t k1 = 0; k1 < w->kernel[1]; k1++)
            for (int64_t k2 = 0; k2 < w->kernel[2]; k2++, k++) {
                int64_t kk[WIN_MAX_SPATIAL] = {k0, k1, k2}, lo, hi;
                live[k] = true;
                for (int d = 0; d < WIN_MAX_SPATIAL; d++) {
                    valid_outputs(w->in[d], w->out[d], w->stride[d], w->pad_begin[d],
                                  kk[d] * w->dilation[d], &lo, &hi);
                    live[k] = live[k] && hi > lo;
                }
                n += live[k];
            }
    return n;
}

/* For the small planes of the batched path: the input position each output reads at each
 * kernel tap (only the live ones when live is not NULL), in_volume for padding; row t of
 * table holds the out volume positions of tap t. Returns the taps written. */
static int64_t gather_table(const struct window *w, const bool *live, int32_t *table)
{
    int64_t t = 0, k = 0;
    for (int64_t k0 = 0; k0 < w->kernel[0]; k0++)
        for (int64_t k1 = 0; k1 < w->kernel[1]; k1++)
            for (int64_t k2 = 0; k2 < w->kernel[2]; k2++, k++) {
                if (live && !live[k])
                    continue;
                int32_t *row = table + t++ * win_out_volume(w);
                for (int64_t o0 = 0; o0 < w->out[0]; o0++)
                    for (int64_t o1 = 0; o1 < w->out[1]; o1++)
                        for (int64_t o2 = 0; o2 < w->out[2]; o2++) {
                            *row++ = win_tap_input(w, o0, o1, o2, k0, k1, k2);
                        }
            }
    return t;
}

/* The batched path's gather for a window over at most two dims (kernel[0] = 1 over one
 * plane): one channel's plane is copied once, zero-padded and split by the stride into
 * its column phases (phase p holds the padded columns p, p + s2, ...), so that every
 * output row of every tap reads consecutive values of one phase, copied a vector at a
 * time instead of value by value through a gather table. */
#define PHASE_SLACK 8 /* floats read past a phase's last row by the vector copies */

static bool phase_gather(const struct window *w)
{
    return w->kernel[0] == 1 && w->in[0] == 1 && w->out[0] == 1;
}

/* Padded rows and the width of each phase of phase_gather's plane. */
static void phase_dims(const struct window *w, int64_t *hp, int64_t *wq)
{
    int64_t wp;
    win_padded_plane(w, hp, &wp);
    *wq = (wp + w->stride[2] - 1) / w->stride[2];
}

/* Floats of phase_gather's plane, its slack included. */
static int64_t phase_plane_floats(const struct window *w)
{
    int64_t hp, wq;
    phase_dims(w, &hp, &wq);
    return w->stride[2] * hp * wq + PHASE_SLACK;
}

/* Floats of the batched path's plane: the table gather's plane with a zero after it, or
 * phase_gather's. */
static int64_t batched_plane_floats(const struct window *w)
{
    int64_t n = win_in_volume(w) + 1;
    if (phase_gather(w) && phase_plane_floats(w) > n)
        n = phase_plane_floats(w);
    return n;
}

/* Eight consecutive floats: one vector move where the target has them. */
static inline void copy8(float *dst, const float *src)
{
    memcpy(dst, src, 8 * sizeof *dst);
}

/* Writes the rows (c, tap) of the cg channels of one image x into col (rows ld floats
 * apart, this image's out volume of each), the live taps only when live is not NULL.
 * A row's vector copies may run up to 7 values past its output row; those land on the
 * output rows of the same tap written after it, so only a row whose copies would pass
 * the end of the tap's row is copied value by value. */
static void gather_phases(const float *x, int64_t cg, const struct window *w, const bool *live,
                          float *plane, float *col, int64_t ld)
{
    int64_t hp, wq;
    phase_dims(w, &hp, &wq);
    const int64_t s1 = w->stride[1], s2 = w->stride[2], d1 = w->dilation[1], d2 = w->dilation[2];
    const int64_t in1 = w->in[1], in2 = w->in[2], pt = w->pad_begin[1], pl = w->pad_begin[2];
    const int64_t out1 = w->out[1], out2 = w->out[2], out_vol = out1 * out2;
    const int64_t wide = (out2 + 7) / 8 * 8; /* what a row's vector copies write */
    memset(plane + s2 * hp * wq, 0, PHASE_SLACK * sizeof *plane);
    float *dst = col;
    for (int64_t c = 0; c < cg; c++) {
        const float *xc = x + c * in1 * in2;
        for (int64_t p = 0; p < s2; p++)
            for (int64_t r = 0; r < hp; r++) {
                float *row = plane + (p * hp + r) * wq;
                const int64_t ir = r - pt;
                if (ir < 0 || ir >= in1) {
                    memset(row, 0, (size_t)wq * sizeof *row);
                    continue;
                }
                const float *xr = xc + ir * in2;
                for (int64_t q = 0; q < wq; q++) {
                    int64_t ic = q * s2 + p - pl;
                    row[q] = ic >= 0 && ic < in2 ? xr[ic] : 0.0f;
                }
            }
        for (int64_t k1 = 0; k1 < w->kernel[1]; k1++)
            for (int64_t k2 = 0; k2 < w->kernel[2]; k2++) {
                if (live && !live[k1 * w->kernel[2] + k2])
                    continue;
                const int64_t kk = k2 * d2;
                const float *src = plane + (kk % s2) * hp * wq + k1 * d1 * wq + kk / s2;
                for (int64_t o1 = 0; o1 < out1; o1++) {
                    const float *s = src + o1 * s1 * wq;
                    float *d = dst + o1 * out2;
                    if (o1 * out2 + wide <= out_vol)
                        for (int64_t i = 0; i < out2; i += 8)
                            copy8(d + i, s + i);
                    else
                        copy_row(d, s, out2);
                }
                dst += ld;
            }
    }
}

/* What a plan prepares from a convolution's weights, once (again when they change):
 * - for a batched convolution with taps that only read padding, its weights without them,
 *   [group][mg][cg * live taps];
 * - for weights that are mostly zeros (sparse_worthwhile), a CSR copy with one unit per
 *   output channel over the inputs of its group's column matrix (the packed ones when
 *   there are), and where each of those inputs' rows starts in what the run gives it. */
struct conv_prep {
    int64_t n_live;
    float *w;
    struct csr *csr;
    int64_t *off; /* csr->inputs offsets */
    /* A depthwise convolution run channels-last (depthwise_nhwc): its weights as [tap,
     * channel] and which taps reach each output (dw_lists), so that a run at batch 1 does
     * not redo them. */
    float *dw_w;
    int32_t *dw_lists;
    /* A depthwise convolution with mostly-zero weights (sparse_depthwise_worthwhile): it
     * runs channel by channel, each over its non-zero taps only, not channels-last. */
    bool dw_sparse;
    /* The geometry of the plan's shapes (input x_shape), worked out once: a run with that
     * input takes it instead of reading the attributes again. */
    struct conv_geom geom;
    struct shape x_shape;
};

static int dw_prepare(const struct conv_geom *g, const float *wt, struct conv_prep *p,
                      struct err *err);

/* Packs wg ([mg][cg][k_vol]) into dst keeping the live taps. */
static void pack_live(const float *wg, int64_t mg, int64_t cg, int64_t k_vol, const bool *live,
                      float *dst)
{
    for (int64_t m = 0; m < mg; m++)
        for (int64_t c = 0; c < cg; c++)
            for (int64_t k = 0; k < k_vol; k++)
                if (live[k])
                    *dst++ = wg[(m * cg + c) * k_vol + k];
}

/* The images side by side in a GEMM, a block of nb at a time (batched_block): the column
 * matrix holds image j of the block's columns at j * out volume, rows cols apart, so
 * Y' = W x col is [m, nb * out volume], moved to NCHW with the bias. */
static void conv_batched(const struct conv_geom *g, const float *x, const float *wt, const float *b,
                         const struct conv_prep *prep, float *scratch, float *y)
{
    const struct window *w = &g->w;
    const int64_t in_vol = win_in_volume(w), out_vol = win_out_volume(w);
    const int64_t nb = batched_block(g);
    const int64_t k_vol = win_kernel_volume(w), cols = nb * out_vol;
    /* Taps that only read padding add nothing: their rows and weights are left out. */
    bool live_stack[64], *live = k_vol <= 64 ? live_stack : malloc((size_t)k_vol * sizeof *live);
    int64_t n_live = live ? live_taps(w, live) : k_vol;
    bool skip = live && n_live < k_vol && !g->pointwise;
    const int64_t kdim = g->cg * (skip ? n_live : k_vol);
    float *col = scratch, *prod = scratch + g->cg * k_vol * cols, *wpack = prod + g->mg * cols;
    int32_t *table = (int32_t *)(wpack + g->mg * g->cg * k_vol);
    float *plane = (float *)(table + k_vol * out_vol);
    const bool phased = !g->pointwise && phase_gather(w);
    int64_t n_taps = 1;
    if (phased)
        n_taps = skip ? n_live : k_vol;
    else if (!g->pointwise)
        n_taps = gather_table(w, skip ? live : NULL, table);
    for (int64_t gi = 0; gi < g->group; gi++) {
        const float *wg = wt + gi * g->mg * g->cg * k_vol;
        if (skip && prep && prep->w && prep->n_live == n_live) {
            wg = prep->w + gi * g->mg * kdim;
        } else if (skip) {
            pack_live(wg, g->mg, g->cg, k_vol, live, wpack);
            wg = wpack;
        }
        if (in_vol == 1 && out_vol == 1 && kdim == g->cg && prep && prep->csr && g->group == 1) {
            /* The same with mostly-zero weights: the sparse product of a Gemm layer, over
             * the images as rows. */
            for (int64_t n = 0; n < g->n; n++)
                for (int64_t m = 0; m < g->m; m++)
                    y[n * g->m + m] = b ? b[m] : 0.0f;
            csr_gemm(prep->csr, x, (size_t)g->n, (size_t)g->c, 1.0f, y, (size_t)g->m, true,
                     scratch);
            for (int64_t n = 0; n < g->n; n++)
                op_post_image(g->post, y + n * g->m, 0, g->m, 1);
            break;
        }
        if (in_vol == 1 && out_vol == 1 && kdim == g->cg && !(prep && prep->csr)) {
            /* One position in and out (a 1x1 plane, or a kernel of which only the tap over
             * the input is live): image n's column is its channel vector, so the group's
             * outputs are X W^T, written straight into y with the bias, without a column
             * matrix or a copy out. */
            for (int64_t n = 0; n < g->n; n++)
                for (int64_t m = 0; m < g->mg; m++)
                    y[n * g->m + gi * g->mg + m] = b ? b[gi * g->mg + m] : 0.0f;
            blas_sgemm(false, true, (int)g->n, (int)g->mg, (int)kdim, 1.0f, x + gi * g->cg,
                       (int)g->c, wg, (int)kdim, 1.0f, y + gi * g->mg, (int)g->m);
            for (int64_t n = 0; n < g->n && gi == g->group - 1; n++)
                op_post_image(g->post, y + n * g->m, 0, g->m, 1);
            continue;
        }
        for (int64_t n0 = 0; n0 < g->n; n0 += nb) {
            const int64_t nk = g->n - n0 < nb ? g->n - n0 : nb, used = nk * out_vol;
            for (int64_t j = 0; j < nk; j++) {
                const float *xn = x + ((n0 + j) * g->c + gi * g->cg) * in_vol;
                if (g->pointwise)
                    for (int64_t c = 0; c < g->cg; c++)
                        copy_row(col + c * cols + j * out_vol, xn + c * in_vol, out_vol);
                else if (phased)
                    gather_phases(xn, g->cg, w, skip ? live : NULL, plane, col + j * out_vol, cols);
                else
                    for (int64_t c = 0; c < g->cg; c++) {
                        /* The plane with a zero after it, where the table sends padding. */
                        copy_row(plane, xn + c * in_vol, in_vol);
                        plane[in_vol] = 0.0f;
                        for (int64_t t = 0; t < n_taps; t++) {
                            float *restrict dst = col + (c * n_taps + t) * cols + j * out_vol;
                            const int32_t *restrict src = table + t * out_vol;
                            for (int64_t o = 0; o < out_vol; o++)
                                dst[o] = plane[src[o]];
                        }
                    }
            }
            if (prep && prep->csr)
                csr_rows(prep->csr, (size_t)(gi * g->mg), (size_t)((gi + 1) * g->mg), col,
                         prep->off, (size_t)used, NULL, prod, (size_t)cols);
            else
                blas_sgemm(false, false, (int)g->mg, (int)used, (int)kdim, 1.0f, wg, (int)kdim,
                           col, (int)cols, 0.0f, prod, (int)cols);
            for (int64_t j = 0; j < nk; j++) {
                float *yn = y + ((n0 + j) * g->m + gi * g->mg) * out_vol;
                for (int64_t m = 0; m < g->mg; m++) {
                    const float *src = prod + m * cols + j * out_vol;
                    float *dst = yn + m * out_vol;
                    float bias = b ? b[gi * g->mg + m] : 0.0f;
                    for (int64_t o = 0; o < out_vol; o++)
                        dst[o] = src[o] + bias;
                }
                op_post_image(g->post, yn, gi * g->mg, g->mg, out_vol);
            }
        }
    }
    if (live != live_stack)
        free(live);
}

static void conv_release(void *prepared)
{
    struct conv_prep *p = prepared;
    if (p) {
        free(p->w);
        csr_free(p->csr);
        free(p->off);
        free(p->dw_w);
        free(p->dw_lists);
    }
    free(p);
}

/* Where the row of each CSR input starts in what the sparse run multiplies: the batched
 * column matrix (rows cols apart), the image itself for a pointwise convolution, the
 * zero-padded image of the wide path (tap (c, kh, kw) shifted by its offset), or the
 * column matrix of one image. */
static void sparse_offsets(const struct conv_geom *g, int64_t inputs, int64_t *off)
{
    const struct window *w = &g->w;
    int64_t step = win_out_volume(w);
    if (g->batched)
        step = batched_block(g) * win_out_volume(w);
    else if (g->pointwise)
        step = win_in_volume(w);
    if (!g->batched && g->wide) {
        int64_t k = 0;
        for (int64_t c = 0; c < g->cg; c++)
            for (int64_t kh = 0; kh < w->kernel[1]; kh++)
                for (int64_t kw = 0; kw < w->kernel[2]; kw++)
                    off[k++] =
                        c * g->hp * g->wp + kh * w->dilation[1] * g->wp + kw * w->dilation[2];
        return;
    }
    for (int64_t i = 0; i < inputs; i++)
        off[i] = i * step;
}

static int conv_prepare(const struct op_io *io, void **out, struct err *err)
{
    *out = NULL;
    struct conv_geom g;
    if (!io->in[1]->data || conv_geometry(io, &g, err) < 0)
        return 0;
    /* Depthwise convolutions have no sparse kernel: with nine weights per channel they
     * move more activations than they multiply (README, "Speed"). Over small planes their
     * weights are laid out channels-last once. */
    if (g.depthwise) {
        struct conv_prep *p = calloc(1, sizeof *p);
        if (!p)
            return err_oom(err, "convolution weights", sizeof *p);
        p->geom = g;
        p->x_shape = io->in[0]->shape;
        /* Over small planes: the weights channels-last, or sparse enough to skip taps. */
        bool small = win_in_volume(&g.w) <= DW_NHWC_MAX_INPUTS && g.c > 0;
        p->dw_sparse = small && sparse_depthwise_worthwhile(tensor_f32(io->in[1]),
                                                            (size_t)(g.c * win_kernel_volume(&g.w)));
        if (small && !p->dw_sparse && dw_prepare(&g, tensor_f32(io->in[1]), p, err) < 0) {
            conv_release(p);
            return -1;
        }
        *out = p;
        return 0;
    }
    const int64_t k_vol = win_kernel_volume(&g.w);
    const float *wt = tensor_f32(io->in[1]);
    const size_t n_weights = (size_t)(g.m * g.cg * k_vol);
    bool sparse =
        n_weights > 0 && sparse_worthwhile(sparse_zero_fraction(wt, n_weights), n_weights);
    bool live_stack[64], *live = k_vol <= 64 ? live_stack : malloc((size_t)k_vol * sizeof *live);
    if (!live)
        return err_oom(err, "convolution weights", (size_t)k_vol);
    int64_t n_live = g.batched && !g.pointwise ? live_taps(&g.w, live) : k_vol;
    bool packed = n_live < k_vol;
    int rc = 0;
    struct conv_prep *p = calloc(1, sizeof *p);
    if (!p) {
        rc = err_oom(err, "convolution weights", sizeof *p);
        goto done;
    }
    p->n_live = n_live;
    p->geom = g;
    p->x_shape = io->in[0]->shape;
    if (packed) {
        size_t n = (size_t)(g.group * g.mg * g.cg * n_live);
        if (!(p->w = malloc((n ? n : 1) * sizeof *p->w))) {
            rc = err_oom(err, "convolution weights", n * sizeof(float));
            goto done;
        }
        for (int64_t gi = 0; gi < g.group; gi++)
            pack_live(wt + gi * g.mg * g.cg * k_vol, g.mg, g.cg, k_vol, live,
                      p->w + gi * g.mg * g.cg * n_live);
    }
    if (sparse) {
        int64_t inputs = g.cg * n_live;
        p->csr =
            csr_from_dense(packed ? p->w : wt, (size_t)g.m, (size_t)inputs, (size_t)inputs, 1, err);
        p->off = malloc((size_t)(inputs ? inputs : 1) * sizeof *p->off);
        if (!p->csr || !p->off) {
            rc = p->csr ? err_oom(err, "sparse convolution", (size_t)inputs * 8) : -1;
            goto done;
        }
        sparse_offsets(&g, inputs, p->off);
    }
done:
    if (live != live_stack)
        free(live);
    if (rc < 0)
        conv_release(p);
    else
        *out = p;
    return rc;
}

/* A kernel tap of a depthwise convolution with the outputs it reaches: [lo, hi) per dim,
 * and its offset into the input of output 0 (which may lie before the input). */
struct dw_tap {
    int64_t k;
    int64_t lo[WIN_MAX_SPATIAL], hi[WIN_MAX_SPATIAL];
    int64_t base[WIN_MAX_SPATIAL]; /* input index of output 0 along each dim */
};

/* The taps that reach at least one output, worked out once per call (they depend only on
 * the window). Returns their count; taps has room for the kernel volume. */
static int64_t depthwise_taps(const struct window *w, struct dw_tap *taps)
{
    int64_t n = 0;
    for (int64_t k0 = 0; k0 < w->kernel[0]; k0++)
        for (int64_t k1 = 0; k1 < w->kernel[1]; k1++)
            for (int64_t k2 = 0; k2 < w->kernel[2]; k2++) {
                struct dw_tap *t = &taps[n];
                int64_t kk[WIN_MAX_SPATIAL] = {k0, k1, k2};
                bool empty = false;
                for (int d = 0; d < WIN_MAX_SPATIAL; d++) {
                    int64_t kd = kk[d] * w->dilation[d];
                    valid_outputs(w->in[d], w->out[d], w->stride[d], w->pad_begin[d], kd, &t->lo[d],
                                  &t->hi[d]);
                    t->base[d] = kd - w->pad_begin[d];
                    empty |= t->hi[d] <= t->lo[d];
                }
                t->k = (k0 * w->kernel[1] + k1) * w->kernel[2] + k2;
                n += !empty;
            }
    return n;
}

/* One output channel of a depthwise convolution, computed directly: y[o] = b + sum over the
 * taps that reach o of w[k] * x[i(o, k)]. */
static void depthwise_channel(const float *x, const float *wk, float bias, const struct window *w,
                              const struct dw_tap *taps, int64_t n_taps, float *y)
{
    const int64_t out_vol = win_out_volume(w);
    const int64_t s0 = w->stride[0], s1 = w->stride[1], s2 = w->stride[2];
    for (int64_t i = 0; i < out_vol; i++)
        y[i] = bias;
    for (int64_t t = 0; t < n_taps; t++) {
        const struct dw_tap *tp = &taps[t];
        const float wv = wk[tp->k];
        if (wv == 0.0f)
            continue; /* a pruned tap adds nothing to a finite input */
        for (int64_t o0 = tp->lo[0]; o0 < tp->hi[0]; o0++) {
            int64_t i0 = o0 * s0 + tp->base[0];
            for (int64_t o1 = tp->lo[1]; o1 < tp->hi[1]; o1++) {
                int64_t i1 = o1 * s1 + tp->base[1];
                const float *restrict src = x + (i0 * w->in[1] + i1) * w->in[2] + tp->base[2];
                float *restrict dst = y + (o0 * w->out[1] + o1) * w->out[2];
                if (s2 == 1)
                    for (int64_t o2 = tp->lo[2]; o2 < tp->hi[2]; o2++)
                        dst[o2] += wv * src[o2];
                else
                    for (int64_t o2 = tp->lo[2]; o2 < tp->hi[2]; o2++)
                        dst[o2] += wv * src[o2 * s2];
            }
        }
    }
}

/* dst[i * ld] = src[i] for i < n: one channel into a channels-last plane. */
static void gather_column(float *restrict dst, int64_t ld, const float *restrict src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i * ld] = src[i];
}

/* dst[i] = src[i * ld] for i < n: one channel out of a channels-last plane. */
static void scatter_column(float *restrict dst, const float *restrict src, int64_t ld, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = src[i * ld];
}

/* Entries of the tap lists of a depthwise window: out volume + 1 starts, then a tap and
 * an input position per (output, tap reaching it). */
static int64_t dw_list_size(const struct window *w)
{
    return win_out_volume(w) + 1 + 2 * win_out_volume(w) * win_kernel_volume(w);
}

/* Which taps reach each output o of a depthwise window: entries start[o] to start[o + 1]
 * of tap (the tap) and pos (the input position it reads). */
static void dw_lists(const struct window *w, const struct dw_tap *taps, int64_t n_taps,
                     int32_t *start, int32_t *tap, int32_t *pos)
{
    int32_t e = 0;
    for (int64_t o0 = 0, o = 0; o0 < w->out[0]; o0++)
        for (int64_t o1 = 0; o1 < w->out[1]; o1++)
            for (int64_t o2 = 0; o2 < w->out[2]; o2++, o++) {
                start[o] = e;
                for (int64_t t = 0; t < n_taps; t++) {
                    const struct dw_tap *tp = &taps[t];
                    if (o0 < tp->lo[0] || o0 >= tp->hi[0] || o1 < tp->lo[1] || o1 >= tp->hi[1] ||
                        o2 < tp->lo[2] || o2 >= tp->hi[2])
                        continue;
                    int64_t i0 = o0 * w->stride[0] + tp->base[0];
                    int64_t i1 = o1 * w->stride[1] + tp->base[1];
                    int64_t i2 = o2 * w->stride[2] + tp->base[2];
                    tap[e] = (int32_t)tp->k;
                    pos[e++] = (int32_t)((i0 * w->in[1] + i1) * w->in[2] + i2);
                }
            }
    start[win_out_volume(w)] = e;
}

/* wtt[k][ch] = wt[ch][k]: the weights of c channels as [tap, channel]. */
static void dw_transpose(const float *wt, int64_t k_vol, int64_t c, float *wtt)
{
    for (int64_t k = 0; k < k_vol; k++)
        for (int64_t ch = 0; ch < c; ch++)
            wtt[k * c + ch] = wt[ch * k_vol + k];
}

static int dw_prepare(const struct conv_geom *g, const float *wt, struct conv_prep *p,
                      struct err *err)
{
    const int64_t k_vol = win_kernel_volume(&g->w), n_lists = dw_list_size(&g->w);
    struct dw_tap stack_taps[64], *taps = stack_taps;
    p->dw_w = malloc((size_t)(k_vol * g->c) * sizeof *p->dw_w);
    p->dw_lists = malloc((size_t)n_lists * sizeof *p->dw_lists);
    if (k_vol > 64)
        taps = malloc((size_t)k_vol * sizeof *taps);
    if (!p->dw_w || !p->dw_lists || !taps) {
        if (taps != stack_taps)
            free(taps);
        return err_oom(err, "depthwise convolution", (size_t)(k_vol * g->c) * sizeof(float));
    }
    int64_t n_taps = depthwise_taps(&g->w, taps);
    int64_t out_vol = win_out_volume(&g->w);
    dw_transpose(wt, k_vol, g->c, p->dw_w);
    dw_lists(&g->w, taps, n_taps, p->dw_lists, p->dw_lists + out_vol + 1,
             p->dw_lists + out_vol + 1 + out_vol * k_vol);
    if (taps != stack_taps)
        free(taps);
    return 0;
}

/* A depthwise convolution over small planes, one image at a time channels-last: the input
 * and output planes transposed to [position, channel] and the weights to [tap, channel], so
 * that each output sums its taps for many channels at once, in registers
 * (conv_simd_depthwise) or in a loop the compiler vectorizes. Which taps reach each output
 * is listed once per run, or taken with the weights from prep (dw_prepare). Same sums in
 * the same order per output as depthwise_channel. */
static void depthwise_nhwc(const struct conv_geom *g, const float *x, const float *wt,
                           const float *b, const struct dw_tap *taps, int64_t n_taps,
                           const struct conv_prep *prep, float *scratch, float *y)
{
    const struct window *w = &g->w;
    const int64_t c = g->c, in_vol = win_in_volume(w), out_vol = win_out_volume(w);
    const int64_t k_vol = win_kernel_volume(w);
    float *xt = scratch, *yt = xt + in_vol * c, *wtt = yt + out_vol * c, *bias = wtt + k_vol * c;
    int32_t *start = (int32_t *)(bias + c), *tap = start + out_vol + 1,
            *pos = tap + out_vol * k_vol;
    if (prep && prep->dw_w) {
        wtt = prep->dw_w;
        start = prep->dw_lists;
        tap = start + out_vol + 1;
        pos = tap + out_vol * k_vol;
    } else {
        dw_transpose(wt, k_vol, c, wtt);
        dw_lists(w, taps, n_taps, start, tap, pos);
    }
    for (int64_t ch = 0; ch < c; ch++)
        bias[ch] = b ? b[ch] : 0.0f;
    const bool simd = conv_simd_available();
    for (int64_t n = 0; n < g->n; n++) {
        const float *xn = x + n * c * in_vol;
        float *yn = y + n * c * out_vol;
        if (simd) {
            conv_simd_to_channels_last(xn, in_vol, c, xt);
            conv_simd_depthwise(xt, wtt, bias, start, tap, pos, out_vol, c, yt);
            conv_simd_from_channels_last(yt, out_vol, c, yn);
            op_post_image(g->post, yn, 0, c, out_vol);
            continue;
        }
        for (int64_t ch = 0; ch < c; ch++)
            gather_column(xt + ch, c, xn + ch * in_vol, in_vol);
        for (int64_t o = 0; o < out_vol; o++) {
            float *restrict yo = yt + o * c;
            for (int64_t ch = 0; ch < c; ch++)
                yo[ch] = bias[ch];
            for (int32_t k = start[o]; k < start[o + 1]; k++) {
                const float *restrict wk = wtt + tap[k] * c, *restrict xi = xt + pos[k] * c;
                for (int64_t ch = 0; ch < c; ch++)
                    yo[ch] += wk[ch] * xi[ch];
            }
        }
        for (int64_t ch = 0; ch < c; ch++)
            scatter_column(yn + ch * out_vol, yt + ch, c, out_vol);
        op_post_image(g->post, yn, 0, c, out_vol);
    }
}

/* Convolution with stride 1 over one group of one image, without the short copies of a
 * plain im2col. The input is copied once into a zero-padded buffer of rows wp wide. Then
 * the column row of tap (c, kh, kw) is ONE contiguous run of that buffer, starting at
 * kh*dh*wp + kw*dw: output (oh, ow) reads padded input (oh + kh*dh, ow + kw*dw). Columns are
 * computed for all wp positions of each output row, so the product is "wide" (out_h x wp)
 * and the last wp - out_w columns of each row are discarded when copying out. */
static void conv_wide(const struct conv_geom *g, const float *x, const float *wg, const float *b,
                      float *scratch, float *y, bool first)
{
    const struct window *w = &g->w;
    struct wide_layout l;
    wide_layout(g, &l);
    float *xpad = scratch + l.pad, *ywide = scratch + l.ywide;
    const int64_t hp = g->hp, wp = g->wp, out_h = w->out[1], out_w = w->out[2];
    const int64_t n_wide = l.n_wide, kdim = g->cg * win_kernel_volume(w);

    /* The padding (and the packed weights below) stay as they are from one image to the
     * next of the same group: only the first call of a run sets them. */
    if (first)
        memset(xpad, 0, (size_t)(l.col - l.pad) * sizeof *xpad);
    for (int64_t c = 0; c < g->cg; c++)
        for (int64_t i = 0; i < w->in[1]; i++)
            copy_row(xpad + (c * hp + i + w->pad_begin[1]) * wp + w->pad_begin[2],
                     x + (c * w->in[1] + i) * w->in[2], w->in[2]);
    if (g->simd) {
        /* Taps in (c, kh, kw) order, the order of W's rows; weights packed per block of
         * CONV_SIMD_MB output channels so the kernel reads them contiguously. A block
         * keeps only the taps where one of its weights is not zero: a pruned layer costs
         * what its weights leave (and a zero weight adds exactly nothing to a finite
         * input, so the result is the same). */
        int32_t *off = (int32_t *)(scratch + l.off), *ntaps = (int32_t *)(scratch + l.ntaps);
        float *wpack = scratch + l.wpack, *bias = scratch + l.bias;
        for (int64_t m = 0; m < l.m_rows && first; m++)
            bias[m] = b && m < g->mg ? b[m] : 0.0f;
        for (int64_t mb = 0; mb < l.m_rows / CONV_SIMD_MB && first; mb++) {
            int32_t *boff = off + mb * kdim;
            float *dst = wpack + mb * kdim * CONV_SIMD_MB;
            int64_t t = 0, k = 0;
            for (int64_t c = 0; c < g->cg; c++)
                for (int64_t kh = 0; kh < w->kernel[1]; kh++)
                    for (int64_t kw = 0; kw < w->kernel[2]; kw++, k++) {
                        bool any = false;
                        for (int64_t j = 0; j < CONV_SIMD_MB; j++) {
                            int64_t m = mb * CONV_SIMD_MB + j;
                            dst[t * CONV_SIMD_MB + j] = m < g->mg ? wg[m * kdim + k] : 0.0f;
                            any |= dst[t * CONV_SIMD_MB + j] != 0.0f;
                        }
                        if (!any)
                            continue;
                        boff[t++] =
                            (int32_t)(c * hp * wp + kh * w->dilation[1] * wp + kw * w->dilation[2]);
                    }
            ntaps[mb] = (int32_t)t;
        }
        conv_simd_wide(xpad, off, ntaps, kdim, wpack, bias, l.m_rows / CONV_SIMD_MB, n_wide, ywide,
                       n_wide);
    } else {
        float *dst = scratch + l.col;
        for (int64_t c = 0; c < g->cg; c++)
            for (int64_t kh = 0; kh < w->kernel[1]; kh++)
                for (int64_t kw = 0; kw < w->kernel[2]; kw++) {
                    copy_row(dst,
                             xpad + c * hp * wp + kh * w->dilation[1] * wp + kw * w->dilation[2],
                             n_wide);
                    dst += n_wide;
                }
        for (int64_t m = 0; m < g->mg; m++)
            fill(ywide + m * n_wide, n_wide, b ? b[m] : 0.0f);
        blas_sgemm(false, false, (int)g->mg, (int)n_wide, (int)kdim, 1.0f, wg, (int)kdim,
                   scratch + l.col, (int)n_wide, 1.0f, ywide, (int)n_wide);
    }
    for (int64_t m = 0; m < g->mg; m++)
        for (int64_t oh = 0; oh < out_h; oh++)
            copy_row(y + (m * out_h + oh) * out_w, ywide + m * n_wide + oh * wp, out_w);
}

/* A convolution with mostly-zero weights, image by image and group by group: each output
 * channel is the sum of its non-zero weights times their rows (csr_rows), taken from the
 * image itself (pointwise), from shifted views of the zero-padded image (stride 1, the
 * wide layout above) or from the image's column matrix. */
static void conv_sparse(const struct conv_geom *g, const float *x, const float *b,
                        const struct conv_prep *prep, float *scratch, float *y)
{
    const struct window *w = &g->w;
    const int64_t in_vol = win_in_volume(w), out_vol = win_out_volume(w);
    struct wide_layout l;
    if (g->wide)
        wide_layout(g, &l);
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t gi = 0; gi < g->group; gi++) {
            const float *xg = x + (n * g->c + gi * g->cg) * in_vol;
            float *yg = y + (n * g->m + gi * g->mg) * out_vol;
            size_t u0 = (size_t)(gi * g->mg), u1 = (size_t)((gi + 1) * g->mg);
            if (g->pointwise) {
                csr_rows(prep->csr, u0, u1, xg, prep->off, (size_t)out_vol, b, yg, (size_t)out_vol);
            } else if (g->wide) {
                float *xpad = scratch + l.pad, *ywide = scratch + l.ywide;
                const int64_t hp = g->hp, wp = g->wp, out_h = w->out[1], out_w = w->out[2];
                if (n == 0 && gi == 0)
                    memset(xpad, 0, (size_t)(l.col - l.pad) * sizeof *xpad);
                for (int64_t c = 0; c < g->cg; c++)
                    for (int64_t i = 0; i < w->in[1]; i++)
                        copy_row(xpad + (c * hp + i + w->pad_begin[1]) * wp + w->pad_begin[2],
                                 xg + (c * w->in[1] + i) * w->in[2], w->in[2]);
                int64_t n_wide = out_h * wp;
                csr_rows(prep->csr, u0, u1, xpad, prep->off, (size_t)n_wide, b, ywide,
                         (size_t)n_wide);
                for (int64_t m = 0; m < g->mg; m++)
                    for (int64_t oh = 0; oh < out_h; oh++)
                        copy_row(yg + (m * out_h + oh) * out_w, ywide + m * n_wide + oh * wp,
                                 out_w);
            } else {
                im2col(xg, g->cg, w, scratch);
                csr_rows(prep->csr, u0, u1, scratch, prep->off, (size_t)out_vol, b, yg,
                         (size_t)out_vol);
            }
            if (gi == g->group - 1)
                op_post_image(g->post, y + n * g->m * out_vol, 0, g->m, out_vol);
        }
}

static int conv_run(struct op_io *io, struct err *err)
{
    struct conv_geom g;
    const struct conv_prep *pg = io->prepared;
    if (pg && shape_equal(&pg->x_shape, &io->in[0]->shape)) {
        g = pg->geom; /* the plan's shapes: the attributes as they were read */
        g.post = io->post;
    } else if (conv_geometry(io, &g, err) < 0) {
        return -1;
    }
    const struct window *w = &g.w;
    const float *x = tensor_f32(io->in[0]), *wt = tensor_f32(io->in[1]);
    const float *b = op_has_in(io, 2) ? tensor_f32(io->in[2]) : NULL;
    float *y = tensor_f32(io->out[0]);
    const int64_t in_vol = win_in_volume(w), out_vol = win_out_volume(w);
    const int64_t k_vol = win_kernel_volume(w), kdim = g.cg * k_vol;
    if (g.n == 0 || g.m == 0 || out_vol == 0)
        return 0;
    if (in_vol == 0 || g.c == 0) {
        /* An empty input (a zero spatial dim, or no channels) padded to a non-empty output:
         * every window reads padding only, so every output is its channel's bias. The input
         * has no data (NULL) for the paths below to index. */
        for (int64_t n = 0; n < g.n; n++) {
            float *yn = y + n * g.m * out_vol;
            for (int64_t m = 0; m < g.m; m++)
                for (int64_t o = 0; o < out_vol; o++)
                    yn[m * out_vol + o] = b ? b[m] : 0.0f;
            op_post_image(g.post, yn, 0, g.m, out_vol);
        }
        return 0;
    }
    float *col = io->scratch;
    if (g.batched && kdim > 0) {
        conv_batched(&g, x, wt, b, io->prepared, col, y);
        return 0;
    }
    const struct conv_prep *prep = io->prepared;
    if (prep && prep->csr && !g.depthwise && kdim > 0) {
        conv_sparse(&g, x, b, prep, col, y);
        return 0;
    }
    if (g.depthwise) {
        struct dw_tap stack_taps[64], *taps = stack_taps;
        if (k_vol > 64 && !(taps = malloc((size_t)k_vol * sizeof *taps)))
            return err_oom(err, "depthwise convolution", (size_t)k_vol * sizeof *taps);
        int64_t n_taps = depthwise_taps(w, taps);
        if (in_vol <= DW_NHWC_MAX_INPUTS && io->scratch && !(prep && prep->dw_sparse)) {
            depthwise_nhwc(&g, x, wt, b, taps, n_taps, prep, col, y);
            if (taps != stack_taps)
                free(taps);
            return 0;
        }
        for (int64_t n = 0; n < g.n; n++) {
            for (int64_t gi = 0; gi < g.group; gi++)
                depthwise_channel(x + (n * g.c + gi) * in_vol, wt + gi * k_vol, b ? b[gi] : 0.0f, w,
                                  taps, n_taps, y + (n * g.m + gi) * out_vol);
            op_post_image(g.post, y + n * g.m * out_vol, 0, g.m, out_vol);
        }
        if (taps != stack_taps)
            free(taps);
        return 0;
    }
    for (int64_t n = 0; n < g.n; n++) {
        for (int64_t gi = 0; gi < g.group; gi++) {
            const float *xg = x + (n * g.c + gi * g.cg) * in_vol;
            const float *wg = wt + gi * g.mg * kdim;
            float *yg = y + (n * g.m + gi * g.mg) * out_vol;
            if (g.wide && kdim > 0) {
                conv_wide(&g, xg, wg, b ? b + gi * g.mg : NULL, col, yg, n == 0 || g.group > 1);
                continue;
            }
            const float *src = xg;
            if (!g.pointwise) {
                im2col(xg, g.cg, w, col);
                src = col;
            }
            /* The bias goes in first and the product is accumulated onto it (beta 1),
             * which saves BLAS a pass that would zero the output. */
            float beta = 0.0f;
            if (b) {
                for (int64_t j = 0; j < g.mg; j++)
                    fill(yg + j * out_vol, out_vol, b[gi * g.mg + j]);
                beta = 1.0f;
            }
            if (kdim == 0 && !b)
                memset(yg, 0, (size_t)(g.mg * out_vol) * sizeof *yg);
            else if (kdim > 0)
                blas_sgemm(false, false, (int)g.mg, (int)out_vol, (int)kdim, 1.0f, wg, (int)kdim,
                           src, (int)out_vol, beta, yg, (int)out_vol);
        }
        op_post_image(g.post, y + n * g.m * out_vol, 0, g.m, out_vol);
    }
    return 0;
}

static double conv_macs(const struct op_io *io)
{
    const struct shape *wt = &io->in[1]->shape;
    double per_out = 1.0;
    for (int i = 1; i < wt->ndim; i++)
        per_out *= (double)wt->dims[i];
    return (double)shape_numel(&io->out[0]->shape) * per_out;
}

/* The adjoint of im2col: every column entry is added back into the input element it was
 * copied from (padding entries are dropped). */
static void col2im(const float *col, int64_t cg, const struct window *w, float *dx)
{
    const float *src = col;
    for (int64_t c = 0; c < cg; c++) {
        float *xc = dx + c * win_in_volume(w);
        for (int64_t k0 = 0; k0 < w->kernel[0]; k0++)
            for (int64_t k1 = 0; k1 < w->kernel[1]; k1++)
                for (int64_t k2 = 0; k2 < w->kernel[2]; k2++)
                    for (int64_t o0 = 0; o0 < w->out[0]; o0++) {
                        int64_t i0 = o0 * w->stride[0] - w->pad_begin[0] + k0 * w->dilation[0];
                        for (int64_t o1 = 0; o1 < w->out[1]; o1++) {
                            int64_t i1 = o1 * w->stride[1] - w->pad_begin[1] + k1 * w->dilation[1];
                            bool row_in = i0 >= 0 && i0 < w->in[0] && i1 >= 0 && i1 < w->in[1];
                            for (int64_t o2 = 0; o2 < w->out[2]; o2++, src++) {
                                int64_t i2 =
                                    o2 * w->stride[2] - w->pad_begin[2] + k2 * w->dilation[2];
                                if (row_in && i2 >= 0 && i2 < w->in[2])
                                    xc[(i0 * w->in[1] + i1) * w->in[2] + i2] += *src;
                            }
                        }
                    }
    }
}

/* Per image and group: dW += dY col^T, dB += the sums of dY, dX += col2im(W^T dY). */
static int conv_backward(const struct op_io *io, const struct tensor *const *dout,
                         struct tensor *const *din, struct err *err)
{
    struct conv_geom g;
    if (conv_geometry(io, &g, err) < 0)
        return -1;
    const struct window *w = &g.w;
    const int64_t in_vol = win_in_volume(w), out_vol = win_out_volume(w);
    const int64_t kdim = g.cg * win_kernel_volume(w);
    if (g.n == 0 || out_vol == 0 || kdim == 0)
        return 0;
    float *col = malloc((size_t)(kdim * out_vol) * sizeof *col);
    if (!col)
        return err_oom(err, "convolution gradient", (size_t)(kdim * out_vol) * sizeof *col);
    const float *x = tensor_f32(io->in[0]), *wt = tensor_f32(io->in[1]);
    const float *dy = tensor_f32(dout[0]);
    for (int64_t n = 0; n < g.n; n++)
        for (int64_t gi = 0; gi < g.group; gi++) {
            const float *dyg = dy + (n * g.m + gi * g.mg) * out_vol;
            if (din[1]) {
                im2col(x + (n * g.c + gi * g.cg) * in_vol, g.cg, w, col);
                blas_sgemm(false, true, (int)g.mg, (int)kdim, (int)out_vol, 1.0f, dyg, (int)out_vol,
                           col, (int)out_vol, 1.0f, tensor_f32(din[1]) + gi * g.mg * kdim,
                           (int)kdim);
            }
            if (io->n_in > 2 && din[2])
                for (int64_t m = 0; m < g.mg; m++) {
                    double sum = 0.0;
                    for (int64_t i = 0; i < out_vol; i++)
                        sum += dyg[m * out_vol + i];
                    tensor_f32(din[2])[gi * g.mg + m] += (float)sum;
                }
            if (din[0]) {
                blas_sgemm(true, false, (int)kdim, (int)out_vol, (int)g.mg, 1.0f,
                           wt + gi * g.mg * kdim, (int)kdim, dyg, (int)out_vol, 0.0f, col,
                           (int)out_vol);
                col2im(col, g.cg, w, tensor_f32(din[0]) + (n * g.c + gi * g.cg) * in_vol);
            }
        }
    free(col);
    return 0;
}

const struct op_def op_conv = {.name = "Conv",
                               .shape = conv_shape,
                               .run = conv_run,
                               .flags = OP_FUSES_POST,
                               .prepare = conv_prepare,
                               .release = conv_release,
                               .macs = conv_macs,
                               .backward = conv_backward};
