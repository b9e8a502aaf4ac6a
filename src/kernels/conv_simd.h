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

#endif
