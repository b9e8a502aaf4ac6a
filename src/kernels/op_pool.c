/* MaxPool, AveragePool (count_include_pad, ceil_mode, dilations) and GlobalAveragePool over
 * 1 to 3 spatial dims. Not Conv (op_conv.c) and not MaxPool's Indices output, which is
 * refused as unsupported. */
#include <math.h>
#include <string.h>

#include "kernels/conv_simd.h"
#include "kernels/window.h"

enum pool_kind { POOL_MAX, POOL_AVG };

static int pool_geometry(const struct op_io *io, struct window *w, struct err *err)
{
    const struct shape *x = &io->in[0]->shape;
    size_t nk;
    const int64_t *ks = node_attr_ints(io->node, "kernel_shape", &nk);
    if (!ks)
        return op_fail(io, err, "the kernel_shape attribute is required");
    if (x->ndim < 3 || nk != (size_t)(x->ndim - 2)) {
        char sb[96];
        return op_fail(io, err,
                       "kernel_shape has %zu values but the input of shape %s has %d "
                       "spatial dims",
                       nk, shape_format(x, sb, sizeof sb), x->ndim < 2 ? 0 : x->ndim - 2);
    }
    bool is_avg = strcmp(io->node->op_type, "AveragePool") == 0;
    return win_resolve(io, ks, io->opset >= 10, !is_avg || io->opset >= 19, w, err);
}

static bool is_plain_2x2(const struct window *w);

/* Table entries (outputs x kernel taps) up to which a pooling runs from a gather table. */
#define POOL_TABLE_MAX (1 << 18)

static bool uses_table(const struct window *w)
{
    return !is_plain_2x2(w) && win_out_volume(w) * win_kernel_volume(w) <= POOL_TABLE_MAX;
}

/* A 2-D (or 1-D) window other than plain 2x2: a maximum over it runs as a maximum over
 * the kernel's rows and then over its columns (max_separable). */
static bool separable(const struct window *w)
{
    return w->in[0] == 1 && w->out[0] == 1 && w->kernel[0] == 1 && !is_plain_2x2(w) &&
           uses_table(w);
}

/* Input positions per plane up to which a pooling runs an image at a time channels-last
 * with AVX2 (conv_simd_pool), as small depthwise convolutions do. */
#define POOL_NHWC_MAX_INPUTS 1024

static bool channels_last(const struct window *w)
{
    return uses_table(w) && win_in_volume(w) <= POOL_NHWC_MAX_INPUTS;
}

static int pool_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0 || op_check_input(io, 0, DTYPE_FLOAT, err) < 0)
        return -1;
    if (io->n_out > 1 && io->out[1])
        return op_unsupported(io, err, "the Indices output");
    if (node_attr_int(io->node, "storage_order", 0) != 0 && io->n_out > 1)
        return op_unsupported(io, err, "storage_order = 1");
    struct window w;
    if (pool_geometry(io, &w, err) < 0)
        return -1;
    struct shape out = io->in[0]->shape;
    for (int i = 0; i < w.nsp; i++)
        out.dims[2 + i] = w.out[WIN_MAX_SPATIAL - w.nsp + i];
    op_set_out(io, 0, DTYPE_FLOAT, &out);
    if (uses_table(&w))
        io->scratch_bytes = (size_t)(win_out_volume(&w) * (win_kernel_volume(&w) + 1) +
                                     win_in_volume(&w) + 1) *
                            sizeof(float);
    if (separable(&w) && strcmp(io->node->op_type, "MaxPool") == 0) {
        int64_t hp, wp;
        win_padded_plane(&w, &hp, &wp);
        io->scratch_bytes += (size_t)((hp + 1) * wp) * sizeof(float);
    }
    if (channels_last(&w)) {
        int64_t c = io->in[0]->shape.dims[1], out_vol = win_out_volume(&w);
        io->scratch_bytes += (size_t)((win_in_volume(&w) + out_vol) * c + out_vol + 1 +
                                      out_vol * win_kernel_volume(&w)) *
                             sizeof(float);
    }
    return 0;
}

/* Smallest k with o*s - pad + k*d >= lo, and smallest k with it >= hi, clamped to
 * [0, kernel]: the taps of one output that land in [lo, hi) of the input axis. */
static inline void tap_range(int64_t o, int64_t s, int64_t pad, int64_t d, int64_t kernel,
                             int64_t lo, int64_t hi, int64_t *klo, int64_t *khi)
{
    int64_t start = o * s - pad;
    int64_t a = lo - start, b = hi - start;
    int64_t l = a <= 0 ? 0 : (a + d - 1) / d;
    int64_t h = b <= 0 ? 0 : (b + d - 1) / d;
    if (l > kernel)
        l = kernel;
    if (h > kernel)
        h = kernel;
    if (h < l)
        h = l;
    *klo = l;
    *khi = h;
}

/* The larger of a and b, NaN when either is (as PyTorch and onnxruntime propagate it). */
static inline float nan_max(float a, float b)
{
    return (a > b || a != a) ? a : b;
}

/* One channel: x has the input volume, y the output volume. */
static void pool_channel(const float *x, float *y, const struct window *w, enum pool_kind kind,
                         bool include_pad)
{
    for (int64_t o0 = 0; o0 < w->out[0]; o0++) {
        int64_t a0, b0, p0, q0;
        tap_range(o0, w->stride[0], w->pad_begin[0], w->dilation[0], w->kernel[0], 0, w->in[0], &a0,
                  &b0);
        tap_range(o0, w->stride[0], w->pad_begin[0], w->dilation[0], w->kernel[0], -w->pad_begin[0],
                  w->in[0] + w->pad_end[0], &p0, &q0);
        int64_t base0 = o0 * w->stride[0] - w->pad_begin[0];
        for (int64_t o1 = 0; o1 < w->out[1]; o1++) {
            int64_t a1, b1, p1, q1;
            tap_range(o1, w->stride[1], w->pad_begin[1], w->dilation[1], w->kernel[1], 0, w->in[1],
                      &a1, &b1);
            tap_range(o1, w->stride[1], w->pad_begin[1], w->dilation[1], w->kernel[1],
                      -w->pad_begin[1], w->in[1] + w->pad_end[1], &p1, &q1);
            int64_t base1 = o1 * w->stride[1] - w->pad_begin[1];
            for (int64_t o2 = 0; o2 < w->out[2]; o2++) {
                int64_t a2, b2, p2, q2;
                tap_range(o2, w->stride[2], w->pad_begin[2], w->dilation[2], w->kernel[2], 0,
                          w->in[2], &a2, &b2);
                int64_t base2 = o2 * w->stride[2] - w->pad_begin[2];
                float acc = kind == POOL_MAX ? -INFINITY : 0.0f;
                for (int64_t k0 = a0; k0 < b0; k0++) {
                    int64_t i0 = base0 + k0 * w->dilation[0];
                    for (int64_t k1 = a1; k1 < b1; k1++) {
                        int64_t i1 = base1 + k1 * w->dilation[1];
                        const float *row = x + (i0 * w->in[1] + i1) * w->in[2] + base2;
                        if (kind == POOL_MAX) {
                            for (int64_t k2 = a2; k2 < b2; k2++) {
                                float v = row[k2 * w->dilation[2]];
                                acc = nan_max(v, acc);
                            }
                        } else {
                            for (int64_t k2 = a2; k2 < b2; k2++)
                                acc += row[k2 * w->dilation[2]];
                        }
                    }
                }
                if (kind == POOL_AVG) {
                    int64_t count;
                    if (include_pad) {
                        tap_range(o2, w->stride[2], w->pad_begin[2], w->dilation[2], w->kernel[2],
                                  -w->pad_begin[2], w->in[2] + w->pad_end[2], &p2, &q2);
                        count = (q0 - p0) * (q1 - p1) * (q2 - p2);
                    } else {
                        count = (b0 - a0) * (b1 - a1) * (b2 - a2);
                    }
                    acc = count > 0 ? acc / (float)count : 0.0f;
                }
                *y++ = acc;
            }
        }
    }
}

/* 2x2 windows with stride 2 and no padding, the common MaxPool2d(2) of small CNNs. */
static void maxpool_2x2(const float *x, float *y, const struct window *w)
{
    const int64_t in2 = w->in[2];
    for (int64_t o1 = 0; o1 < w->out[1]; o1++) {
        const float *r0 = x + 2 * o1 * in2, *r1 = r0 + in2;
        for (int64_t o2 = 0; o2 < w->out[2]; o2++) {
            float a = r0[2 * o2], b = r0[2 * o2 + 1], c = r1[2 * o2], d = r1[2 * o2 + 1];
            /* Plain comparisons compile to branch-free max instructions; the NaN test
             * is almost never taken, so it costs little as a branch. */
            float ab = a > b ? a : b, cd = c > d ? c : d, m = ab > cd ? ab : cd;
            if (a != a || b != b || c != c || d != d)
                m = NAN;
            *y++ = m;
        }
    }
}

static bool is_plain_2x2(const struct window *w)
{
    if (w->nsp != 2)
        return false;
    for (int d = 1; d < WIN_MAX_SPATIAL; d++)
        if (w->kernel[d] != 2 || w->stride[d] != 2 || w->dilation[d] != 1 || w->pad_begin[d] != 0 ||
            w->out[d] * 2 > w->in[d])
            return false;
    return true;
}

/* The gather table of a window, made once per run: for each output, the input position of
 * each kernel tap in order (in volume for a tap outside the input, where the plane copy
 * holds the value that changes nothing: -inf for max, 0 for the average's sum), and for
 * the average the count it divides by (as pool_channel counts). */
static void pool_table(const struct window *w, bool include_pad, int32_t *table, float *count)
{
    const int64_t k_vol = win_kernel_volume(w);
    int64_t o = 0;
    for (int64_t o0 = 0; o0 < w->out[0]; o0++)
        for (int64_t o1 = 0; o1 < w->out[1]; o1++)
            for (int64_t o2 = 0; o2 < w->out[2]; o2++, o++) {
                int64_t oo[WIN_MAX_SPATIAL] = {o0, o1, o2}, valid = 1, padded = 1;
                for (int d = 0; d < WIN_MAX_SPATIAL; d++) {
                    int64_t a, b, p, q;
                    tap_range(oo[d], w->stride[d], w->pad_begin[d], w->dilation[d], w->kernel[d],
                              0, w->in[d], &a, &b);
                    tap_range(oo[d], w->stride[d], w->pad_begin[d], w->dilation[d], w->kernel[d],
                              -w->pad_begin[d], w->in[d] + w->pad_end[d], &p, &q);
                    valid *= b - a;
                    padded *= q - p;
                }
                count[o] = (float)(include_pad ? padded : valid);
                int32_t *row = table + o * k_vol;
                for (int64_t k0 = 0; k0 < w->kernel[0]; k0++)
                    for (int64_t k1 = 0; k1 < w->kernel[1]; k1++)
                        for (int64_t k2 = 0; k2 < w->kernel[2]; k2++) {
                            *row++ = win_tap_input(w, o0, o1, o2, k0, k1, k2);
                        }
            }
}

/* One channel through the table: the same values in the same order as pool_channel. */
static void pool_channel_table(const float *x, float *y, const struct window *w,
                               enum pool_kind kind, const int32_t *table, const float *count,
                               float *plane)
{
    const int64_t in_vol = win_in_volume(w), out_vol = win_out_volume(w);
    const int64_t k_vol = win_kernel_volume(w);
    memcpy(plane, x, (size_t)in_vol * sizeof *plane);
    if (kind == POOL_MAX) {
        plane[in_vol] = -INFINITY;
        for (int64_t o = 0; o < out_vol; o++) {
            const int32_t *t = table + o * k_vol;
            /* Branch-free maximum; a NaN among the values (rare) takes the loop that
             * returns the first one, as pool_channel does. */
            float acc = -INFINITY;
            bool nan = false;
            for (int64_t k = 0; k < k_vol; k++) {
                float v = plane[t[k]];
                acc = v > acc ? v : acc;
                nan |= v != v;
            }
            if (nan) {
                acc = -INFINITY;
                for (int64_t k = 0; k < k_vol; k++)
                    acc = nan_max(plane[t[k]], acc);
            }
            y[o] = acc;
        }
    } else {
        plane[in_vol] = 0.0f;
        for (int64_t o = 0; o < out_vol; o++) {
            const int32_t *t = table + o * k_vol;
            float acc = 0.0f;
            for (int64_t k = 0; k < k_vol; k++)
                acc += plane[t[k]];
            y[o] = count[o] > 0.0f ? acc / count[o] : 0.0f;
        }
    }
}

/* MaxPool of one plane as two passes over a copy padded with -inf: the maximum over the
 * kernel's rows for every column of each output row (contiguous, so the compiler
 * vectorizes it), then over the kernel's columns. The maximum of the same values as
 * pool_channel takes (only the sign of a zero among equal zeros may differ). Returns false
 * when a NaN was read, which these maxima do not carry: the caller computes the plane
 * again the way that propagates it. */
static bool max_separable(const float *x, float *y, const struct window *w, float *scratch)
{
    int64_t hp, wp;
    win_padded_plane(w, &hp, &wp);
    float *plane = scratch, *rowmax = scratch + hp * wp;
    const int64_t pt = w->pad_begin[1], pl = w->pad_begin[2];
    for (int64_t r = 0; r < hp; r++) {
        float *dst = plane + r * wp;
        const int64_t ir = r - pt;
        if (ir < 0 || ir >= w->in[1]) {
            for (int64_t c = 0; c < wp; c++)
                dst[c] = -INFINITY;
            continue;
        }
        for (int64_t c = 0; c < pl; c++)
            dst[c] = -INFINITY;
        memcpy(dst + pl, x + ir * w->in[2], (size_t)w->in[2] * sizeof *dst);
        for (int64_t c = pl + w->in[2]; c < wp; c++)
            dst[c] = -INFINITY;
    }
    unsigned nan = 0;
    for (int64_t oh = 0; oh < w->out[1]; oh++) {
        const float *first = plane + oh * w->stride[1] * wp;
        for (int64_t c = 0; c < wp; c++) {
            rowmax[c] = first[c];
            nan |= (unsigned)(first[c] != first[c]);
        }
        for (int64_t kh = 1; kh < w->kernel[1]; kh++) {
            const float *restrict row = first + kh * w->dilation[1] * wp;
            float *restrict m = rowmax;
            for (int64_t c = 0; c < wp; c++) {
                m[c] = row[c] > m[c] ? row[c] : m[c];
                nan |= (unsigned)(row[c] != row[c]);
            }
        }
        float *yo = y + oh * w->out[2];
        for (int64_t ow = 0; ow < w->out[2]; ow++) {
            const float *v = rowmax + ow * w->stride[2];
            float acc = v[0];
            for (int64_t kw = 1; kw < w->kernel[2]; kw++) {
                float e = v[kw * w->dilation[2]];
                acc = e > acc ? e : acc;
            }
            yo[ow] = acc;
        }
    }
    return nan == 0;
}

static int pool_run(struct op_io *io, struct err *err, enum pool_kind kind)
{
    struct window w;
    if (pool_geometry(io, &w, err) < 0)
        return -1;
    const struct shape *s = &io->in[0]->shape;
    int64_t planes = s->dims[0] * s->dims[1];
    int64_t in_vol = win_in_volume(&w), out_vol = win_out_volume(&w);
    /* No planes (a zero batch or no channels) or no outputs: nothing to compute, and the
     * empty tensors have no data to index. */
    if (planes == 0 || out_vol == 0)
        return 0;
    bool include_pad = node_attr_int(io->node, "count_include_pad", 0) != 0;
    /* An empty plane padded to outputs: every window reads padding only, so no element of
     * x is read; the paths below offset x all the same, so it must not be NULL. */
    static const float no_input = 0.0f;
    const float *x = in_vol == 0 ? &no_input : tensor_f32(io->in[0]);
    float *y = tensor_f32(io->out[0]);
    bool fast = kind == POOL_MAX && is_plain_2x2(&w);
    if (!fast && uses_table(&w) && io->scratch) {
        int32_t *table = io->scratch;
        float *count = (float *)(table + out_vol * win_kernel_volume(&w));
        float *plane = count + out_vol;
        pool_table(&w, include_pad, table, count);
        bool two_pass = kind == POOL_MAX && separable(&w);
        float *sep = plane + in_vol + 1;
        if (channels_last(&w) && conv_simd_available()) {
            int64_t hp = 0, wp = 0;
            if (kind == POOL_MAX && separable(&w))
                win_padded_plane(&w, &hp, &wp);
            int64_t c = s->dims[1], k_vol = win_kernel_volume(&w);
            float *xt = sep + (kind == POOL_MAX && separable(&w) ? (hp + 1) * wp : 0);
            float *yt = xt + in_vol * c;
            int32_t *start = (int32_t *)(yt + out_vol * c), *pos = start + out_vol + 1;
            int32_t e = 0;
            for (int64_t o = 0; o < out_vol; o++) {
                start[o] = e;
                for (int64_t k = 0; k < k_vol; k++)
                    if (table[o * k_vol + k] != in_vol)
                        pos[e++] = table[o * k_vol + k];
            }
            start[out_vol] = e;
            for (int64_t n = 0; n < s->dims[0]; n++) {
                const float *xn = x + n * c * in_vol;
                float *yn = y + n * c * out_vol;
                conv_simd_to_channels_last(xn, in_vol, c, xt);
                if (conv_simd_pool(xt, start, pos, count, out_vol, c, kind == POOL_MAX, yt)) {
                    conv_simd_from_channels_last(yt, out_vol, c, yn);
                    continue;
                }
                for (int64_t ch = 0; ch < c; ch++) /* a NaN: plane by plane */
                    pool_channel_table(xn + ch * in_vol, yn + ch * out_vol, &w, kind, table,
                                       count, plane);
            }
            return 0;
        }
        for (int64_t p = 0; p < planes; p++) {
            const float *xp = x + p * in_vol;
            if (!two_pass || !max_separable(xp, y + p * out_vol, &w, sep))
                pool_channel_table(xp, y + p * out_vol, &w, kind, table, count, plane);
        }
        return 0;
    }
    for (int64_t p = 0; p < planes; p++) {
        if (fast)
            maxpool_2x2(x + p * in_vol, y + p * out_vol, &w);
        else
            pool_channel(x + p * in_vol, y + p * out_vol, &w, kind, include_pad);
    }
    return 0;
}

static int maxpool_run(struct op_io *io, struct err *err)
{
    return pool_run(io, err, POOL_MAX);
}

static int averagepool_run(struct op_io *io, struct err *err)
{
    return pool_run(io, err, POOL_AVG);
}

static int gap_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0 || op_check_input(io, 0, DTYPE_FLOAT, err) < 0)
        return -1;
    struct shape out = io->in[0]->shape;
    if (out.ndim < 3) {
        char sb[96];
        return op_fail(io, err, "input of shape %s must be [N, C, spatial...]",
                       shape_format(&out, sb, sizeof sb));
    }
    for (int i = 2; i < out.ndim; i++)
        out.dims[i] = 1;
    op_set_out(io, 0, DTYPE_FLOAT, &out);
    return 0;
}

static int gap_run(struct op_io *io, struct err *err)
{
    const struct shape *s = &io->in[0]->shape;
    int64_t planes = s->dims[0] * s->dims[1], vol = 1;
    for (int i = 2; i < s->ndim; i++)
        vol *= s->dims[i];
    const float *x = tensor_f32(io->in[0]);
    float *y = tensor_f32(io->out[0]);
    for (int64_t p = 0; p < planes; p++) {
        double sum = 0.0;
        for (int64_t i = 0; i < vol; i++)
            sum += x[p * vol + i];
        y[p] = vol > 0 ? (float)(sum / (double)vol) : 0.0f;
    }
    return 0;
}

/* One channel's gradient: MaxPool routes each output's gradient to the first input that
 * holds the window's maximum; AveragePool spreads it over the window with the forward
 * divisor. */
static void pool_channel_backward(const float *x, const float *dy, float *dx,
                                  const struct window *w, enum pool_kind kind, bool include_pad)
{
    for (int64_t o0 = 0; o0 < w->out[0]; o0++) {
        int64_t a0, b0, p0, q0;
        tap_range(o0, w->stride[0], w->pad_begin[0], w->dilation[0], w->kernel[0], 0, w->in[0], &a0,
                  &b0);
        tap_range(o0, w->stride[0], w->pad_begin[0], w->dilation[0], w->kernel[0], -w->pad_begin[0],
                  w->in[0] + w->pad_end[0], &p0, &q0);
        int64_t base0 = o0 * w->stride[0] - w->pad_begin[0];
        for (int64_t o1 = 0; o1 < w->out[1]; o1++) {
            int64_t a1, b1, p1, q1;
            tap_range(o1, w->stride[1], w->pad_begin[1], w->dilation[1], w->kernel[1], 0, w->in[1],
                      &a1, &b1);
            tap_range(o1, w->stride[1], w->pad_begin[1], w->dilation[1], w->kernel[1],
                      -w->pad_begin[1], w->in[1] + w->pad_end[1], &p1, &q1);
            int64_t base1 = o1 * w->stride[1] - w->pad_begin[1];
            for (int64_t o2 = 0; o2 < w->out[2]; o2++, dy++) {
                int64_t a2, b2, p2, q2;
                tap_range(o2, w->stride[2], w->pad_begin[2], w->dilation[2], w->kernel[2], 0,
                          w->in[2], &a2, &b2);
                tap_range(o2, w->stride[2], w->pad_begin[2], w->dilation[2], w->kernel[2],
                          -w->pad_begin[2], w->in[2] + w->pad_end[2], &p2, &q2);
                int64_t base2 = o2 * w->stride[2] - w->pad_begin[2];
                float g = *dy, best = -INFINITY;
                int64_t at = -1;
                int64_t count = include_pad ? (q0 - p0) * (q1 - p1) * (q2 - p2)
                                            : (b0 - a0) * (b1 - a1) * (b2 - a2);
                for (int64_t k0 = a0; k0 < b0; k0++)
                    for (int64_t k1 = a1; k1 < b1; k1++)
                        for (int64_t k2 = a2; k2 < b2; k2++) {
                            int64_t i = ((base0 + k0 * w->dilation[0]) * w->in[1] + base1 +
                                         k1 * w->dilation[1]) *
                                            w->in[2] +
                                        base2 + k2 * w->dilation[2];
                            if (kind == POOL_AVG) {
                                dx[i] += count > 0 ? g / (float)count : 0.0f;
                            } else if (at < 0 || x[i] > best || (x[i] != x[i] && best == best)) {
                                best = x[i];
                                at = i;
                            }
                        }
                if (kind == POOL_MAX && at >= 0)
                    dx[at] += g;
            }
        }
    }
}

static int pool_backward(const struct op_io *io, const struct tensor *const *dout,
                         struct tensor *const *din, enum pool_kind kind, struct err *err)
{
    if (!din[0])
        return 0;
    struct window w;
    if (pool_geometry(io, &w, err) < 0)
        return -1;
    const struct shape *s = &io->in[0]->shape;
    int64_t planes = s->dims[0] * s->dims[1];
    int64_t in_vol = win_in_volume(&w), out_vol = win_out_volume(&w);
    bool include_pad = node_attr_int(io->node, "count_include_pad", 0) != 0;
    for (int64_t p = 0; p < planes; p++)
        pool_channel_backward(tensor_f32(io->in[0]) + p * in_vol, tensor_f32(dout[0]) + p * out_vol,
                              tensor_f32(din[0]) + p * in_vol, &w, kind, include_pad);
    return 0;
}

static int maxpool_backward(const struct op_io *io, const struct tensor *const *dout,
                            struct tensor *const *din, struct err *err)
{
    return pool_backward(io, dout, din, POOL_MAX, err);
}

static int averagepool_backward(const struct op_io *io, const struct tensor *const *dout,
                                struct tensor *const *din, struct err *err)
{
    return pool_backward(io, dout, din, POOL_AVG, err);
}

static int gap_backward(const struct op_io *io, const struct tensor *const *dout,
                        struct tensor *const *din, struct err *err)
{
    if (!din[0])
        return 0;
    const struct shape *s = &io->in[0]->shape;
    int64_t planes = s->dims[0] * s->dims[1], vol = 1;
    for (int i = 2; i < s->ndim; i++)
        vol *= s->dims[i];
    const float *dy = tensor_f32(dout[0]);
    float *dx = tensor_f32(din[0]);
    for (int64_t p = 0; p < planes; p++)
        for (int64_t i = 0; i < vol; i++)
            dx[p * vol + i] += dy[p] / (float)vol;
    return 0;
}

/* Every output reads its window: planes x outputs x kernel volume. */
static double pool_work(const struct op_io *io)
{
    struct window w;
    struct err ignored;
    const struct shape *s = &io->in[0]->shape;
    if (s->ndim < 3 || pool_geometry(io, &w, &ignored) < 0)
        return 0.0;
    return (double)s->dims[0] * (double)s->dims[1] * (double)win_out_volume(&w) *
           (double)win_kernel_volume(&w);
}

const struct op_def op_maxpool = {.name = "MaxPool",
                                  .shape = pool_shape,
                                  .run = maxpool_run,
                                  .backward = maxpool_backward,
                                  .work = pool_work};
const struct op_def op_averagepool = {.name = "AveragePool",
                                      .shape = pool_shape,
                                      .run = averagepool_run,
                                      .backward = averagepool_backward,
                                      .work = pool_work};
const struct op_def op_globalaveragepool = {
    .name = "GlobalAveragePool", .shape = gap_shape, .run = gap_run, .backward = gap_backward};
