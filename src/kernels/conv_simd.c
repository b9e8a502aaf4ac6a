/* AVX2/FMA direct convolution over a padded input (see conv_simd.h), compiled for those
 * instructions with a target attribute and used only when the CPU reports them. Not a
 * general GEMM: the "B matrix" here is the input read at per-tap offsets, which is what
 * lets a convolution skip building an im2col matrix. */
#include "kernels/conv_simd.h"

#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define CONV_SIMD_X86 1
#include <immintrin.h>
#endif

#ifdef CONV_SIMD_X86

bool conv_simd_available(void)
{
    const char *env = getenv("PRUNESCOPE_SIMD");
    if (env && strcmp(env, "0") == 0)
        return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* 24 positions for one block of 4 channels: 12 accumulators in registers, and per tap 3
 * input loads, 4 weight broadcasts and 12 fused multiply-adds. Written out by hand because
 * the compiler keeps loop-indexed accumulator arrays in memory. */
__attribute__((target("avx2,fma"))) static void block_3(const float *x, const int32_t *off,
                                                        int64_t taps, const float *w,
                                                        const float *bias, float *y, int64_t ldy)
{
    __m256 b0 = _mm256_set1_ps(bias[0]), b1 = _mm256_set1_ps(bias[1]);
    __m256 b2 = _mm256_set1_ps(bias[2]), b3 = _mm256_set1_ps(bias[3]);
    __m256 a00 = b0, a01 = b0, a02 = b0, a10 = b1, a11 = b1, a12 = b1;
    __m256 a20 = b2, a21 = b2, a22 = b2, a30 = b3, a31 = b3, a32 = b3;
    for (int64_t t = 0; t < taps; t++) {
        const float *xp = x + off[t];
        const float *wt = w + t * CONV_SIMD_MB;
        __m256 x0 = _mm256_loadu_ps(xp), x1 = _mm256_loadu_ps(xp + 8);
        __m256 x2 = _mm256_loadu_ps(xp + 16);
        __m256 wv = _mm256_broadcast_ss(wt);
        a00 = _mm256_fmadd_ps(wv, x0, a00);
        a01 = _mm256_fmadd_ps(wv, x1, a01);
        a02 = _mm256_fmadd_ps(wv, x2, a02);
        wv = _mm256_broadcast_ss(wt + 1);
        a10 = _mm256_fmadd_ps(wv, x0, a10);
        a11 = _mm256_fmadd_ps(wv, x1, a11);
        a12 = _mm256_fmadd_ps(wv, x2, a12);
        wv = _mm256_broadcast_ss(wt + 2);
        a20 = _mm256_fmadd_ps(wv, x0, a20);
        a21 = _mm256_fmadd_ps(wv, x1, a21);
        a22 = _mm256_fmadd_ps(wv, x2, a22);
        wv = _mm256_broadcast_ss(wt + 3);
        a30 = _mm256_fmadd_ps(wv, x0, a30);
        a31 = _mm256_fmadd_ps(wv, x1, a31);
        a32 = _mm256_fmadd_ps(wv, x2, a32);
    }
    _mm256_storeu_ps(y, a00);
    _mm256_storeu_ps(y + 8, a01);
    _mm256_storeu_ps(y + 16, a02);
    _mm256_storeu_ps(y + ldy, a10);
    _mm256_storeu_ps(y + ldy + 8, a11);
    _mm256_storeu_ps(y + ldy + 16, a12);
    _mm256_storeu_ps(y + 2 * ldy, a20);
    _mm256_storeu_ps(y + 2 * ldy + 8, a21);
    _mm256_storeu_ps(y + 2 * ldy + 16, a22);
    _mm256_storeu_ps(y + 3 * ldy, a30);
    _mm256_storeu_ps(y + 3 * ldy + 8, a31);
    _mm256_storeu_ps(y + 3 * ldy + 16, a32);
}

/* 8 positions for one block of 4 channels (the tail of a row of outputs). */
__attribute__((target("avx2,fma"))) static void block_1(const float *x, const int32_t *off,
                                                        int64_t taps, const float *w,
                                                        const float *bias, float *y, int64_t ldy)
{
    __m256 a0 = _mm256_set1_ps(bias[0]), a1 = _mm256_set1_ps(bias[1]);
    __m256 a2 = _mm256_set1_ps(bias[2]), a3 = _mm256_set1_ps(bias[3]);
    for (int64_t t = 0; t < taps; t++) {
        __m256 x0 = _mm256_loadu_ps(x + off[t]);
        const float *wt = w + t * CONV_SIMD_MB;
        a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(wt), x0, a0);
        a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(wt + 1), x0, a1);
        a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(wt + 2), x0, a2);
        a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(wt + 3), x0, a3);
    }
    _mm256_storeu_ps(y, a0);
    _mm256_storeu_ps(y + ldy, a1);
    _mm256_storeu_ps(y + 2 * ldy, a2);
    _mm256_storeu_ps(y + 3 * ldy, a3);
}

void conv_simd_wide(const float *x, const int32_t *off, const int32_t *taps, int64_t stride,
                    const float *wpack, const float *bias, int64_t mb_count, int64_t n, float *y,
                    int64_t ldy)
{
    for (int64_t mb = 0; mb < mb_count; mb++) {
        const float *w = wpack + mb * stride * CONV_SIMD_MB;
        const int32_t *o = off + mb * stride;
        const float *b = bias + mb * CONV_SIMD_MB;
        float *yb = y + mb * CONV_SIMD_MB * ldy;
        int64_t j = 0;
        for (; j + 24 <= n; j += 24)
            block_3(x + j, o, taps[mb], w, b, yb + j, ldy);
        for (; j < n; j += 8)
            block_1(x + j, o, taps[mb], w, b, yb + j, ldy);
    }
}

#else

bool conv_simd_available(void)
{
    return false;
}

void conv_simd_wide(const float *x, const int32_t *off, const int32_t *taps, int64_t stride,
                    const float *wpack, const float *bias, int64_t mb_count, int64_t n, float *y,
                    int64_t ldy)
{
    (void)x, (void)off, (void)taps, (void)stride, (void)wpack, (void)bias, (void)mb_count,
        (void)n, (void)y, (void)ldy;
}

#endif
