/* The inner loop of stride-1 convolution computed directly from a padded input with AVX2
 * and FMA, chosen at run time when the CPU has them. Not the geometry (op_conv.c). */
#ifndef PRUNESCOPE_KERNELS_CONV_SIMD_H
#define PRUNESCOPE_KERNELS_CONV_SIMD_H

#include <stdbool.h>
#include <stdint.h>

/* Output channels one pass of the kernel computes; weights are packed in blocks of it. */
#define CONV_SIMD_MB 4
/* Output positions are computed in runs of this many (n is rounded up to it). */
#define CONV_SIMD_NV 8

/* Whether this build and CPU can run conv_simd_wide, and the environment does not turn it
 * off (PRUNESCOPE_SIMD=0). */
bool conv_simd_available(void);

/* For m < mb_count * CONV_SIMD_MB and j < n (a multiple of CONV_SIMD_NV), with block
 * b = m / CONV_SIMD_MB:
 *   y[m * ldy + j] = bias[m] + sum over t < taps[b] of wpack(m, t) * x[off[b * stride + t] + j]
 * where wpack holds, per block of CONV_SIMD_MB channels (stride * CONV_SIMD_MB floats
 * apart), taps[b] rows of CONV_SIMD_MB weights (zeros for padding channels). bias has
 * mb_count * CONV_SIMD_MB entries. x must be readable up to max(off) + n. */
void conv_simd_wide(const float *x, const int32_t *off, const int32_t *taps, int64_t stride,
                    const float *wpack, const float *bias, int64_t mb_count, int64_t n, float *y,
                    int64_t ldy);

/* A depthwise convolution over one image held channels-last (x: [input position][c],
 * w: [tap][c], y: [output position][c]): for o < out_vol and ch < c,
 *   y[o * c + ch] = bias[ch] + sum over e in [start[o], start[o + 1]) of
 *                   w[tap[e] * c + ch] * x[pos[e] * c + ch],
 * the taps of each output in order, the channels 8 at a time. */
void conv_simd_depthwise(const float *x, const float *w, const float *bias, const int32_t *start,
                         const int32_t *tap, const int32_t *pos, int64_t out_vol, int64_t c,
                         float *y);
/* MaxPool (max) or AveragePool over one image held channels-last, the windows given as
 * lists of the input positions each output reads (start, pos as for conv_simd_depthwise,
 * padding left out): y[o * c + ch] is the maximum of x[pos[e] * c + ch] over output o's
 * entries (from -inf), or their sum divided by count[o] (0 when count[o] is 0). Returns
 * false when a maximum read a NaN, which _mm256_max_ps does not carry: the caller then
 * computes the image again. */
bool conv_simd_pool(const float *x, const int32_t *start, const int32_t *pos, const float *count,
                    int64_t out_vol, int64_t c, bool max, float *y);

/* Planes of n values per channel to channels-last and back, 8x8 blocks at a time:
 *   to:   dst[i * c + ch] = src[ch * n + i]
 *   from: dst[ch * n + i] = src[i * c + ch]
 * for i < n, ch < c. */
void conv_simd_to_channels_last(const float *src, int64_t n, int64_t c, float *dst);
void conv_simd_from_channels_last(const float *src, int64_t n, int64_t c, float *dst);

#endif
