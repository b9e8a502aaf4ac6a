/* AVX2/FMA direct convolution over a padded input (see conv_simd.h), compiled for those
 * instructions with a target attribute and used only when the CPU reports them. Not a
 * general GEMM: the "B matrix" here is the input read at per-tap offsets, which is what
 * lets a convolution skip building an im2col matrix. */
#include "kernels/conv_simd.h"

#include <math.h>
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

/* Channels ch0..ch0+8*NV of one output of a depthwise convolution (the last vector masked
 * when MASKED). */
#define DW_LOAD(p, v, NV, MASKED)                                                               \
    ((MASKED) && (v) == (NV)-1 ? _mm256_maskload_ps((p) + 8 * (v), mask)                        \
                               : _mm256_loadu_ps((p) + 8 * (v)))
#define DEFINE_DW_AVX2(NAME, NV, MASKED)                                                        \
    __attribute__((target("avx2,fma"))) static void NAME(                                       \
        const float *x, const float *w, const float *bias, const int32_t *tap,                 \
        const int32_t *pos, int32_t n, int64_t c, __m256i mask, float *y)                      \
    {                                                                                           \
        (void)mask;                                                                             \
        __m256 a0 = DW_LOAD(bias, 0, NV, MASKED), a1 = a0, a2 = a0, a3 = a0;                    \
        if (NV > 1)                                                                             \
            a1 = DW_LOAD(bias, 1, NV, MASKED);                                                  \
        if (NV > 2)                                                                             \
            a2 = DW_LOAD(bias, 2, NV, MASKED);                                                  \
        if (NV > 3)                                                                             \
            a3 = DW_LOAD(bias, 3, NV, MASKED);                                                  \
        for (int32_t e = 0; e < n; e++) {                                                       \
            const float *wk = w + tap[e] * c, *xi = x + pos[e] * c;                             \
            a0 = _mm256_fmadd_ps(DW_LOAD(wk, 0, NV, MASKED), DW_LOAD(xi, 0, NV, MASKED), a0);   \
            if (NV > 1)                                                                         \
                a1 = _mm256_fmadd_ps(DW_LOAD(wk, 1, NV, MASKED), DW_LOAD(xi, 1, NV, MASKED),    \
                                     a1);                                                       \
            if (NV > 2)                                                                         \
                a2 = _mm256_fmadd_ps(DW_LOAD(wk, 2, NV, MASKED), DW_LOAD(xi, 2, NV, MASKED),    \
                                     a2);                                                       \
            if (NV > 3)                                                                         \
                a3 = _mm256_fmadd_ps(DW_LOAD(wk, 3, NV, MASKED), DW_LOAD(xi, 3, NV, MASKED),    \
                                     a3);                                                       \
        }                                                                                       \
        __m256 out[4] = {a0, a1, a2, a3};                                                       \
        for (int v = 0; v < NV; v++) {                                                          \
            if (MASKED && v == NV - 1)                                                          \
                _mm256_maskstore_ps(y + 8 * v, mask, out[v]);                                   \
            else                                                                                \
                _mm256_storeu_ps(y + 8 * v, out[v]);                                            \
        }                                                                                       \
    }

DEFINE_DW_AVX2(dw_full, 4, false)
DEFINE_DW_AVX2(dw_8, 1, false)
DEFINE_DW_AVX2(dw_tail, 1, true)

/* An 8x8 block: r[k] holds row k; on return r[k] holds column k. */
__attribute__((target("avx2,fma"))) static inline void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

__attribute__((target("avx2,fma"))) void conv_simd_to_channels_last(const float *src, int64_t n,
                                                                     int64_t c, float *dst)
{
    int64_t j = 0;
    for (; j + 8 <= c; j += 8) {
        const float *row[8];
        for (int k = 0; k < 8; k++)
            row[k] = src + (j + k) * n;
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 r[8];
            for (int k = 0; k < 8; k++)
                r[k] = _mm256_loadu_ps(row[k] + i);
            transpose8(r);
            for (int k = 0; k < 8; k++)
                _mm256_storeu_ps(dst + (i + k) * c + j, r[k]);
        }
        for (; i < n; i++)
            for (int k = 0; k < 8; k++)
                dst[i * c + j + k] = row[k][i];
    }
    for (; j < c; j++) {
        const float *row = src + j * n;
        for (int64_t i = 0; i < n; i++)
            dst[i * c + j] = row[i];
    }
}

__attribute__((target("avx2,fma"))) void conv_simd_from_channels_last(const float *src, int64_t n,
                                                                       int64_t c, float *dst)
{
    int64_t j = 0;
    for (; j + 8 <= c; j += 8) {
        float *row[8];
        for (int k = 0; k < 8; k++)
            row[k] = dst + (j + k) * n;
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 r[8];
            for (int k = 0; k < 8; k++)
                r[k] = _mm256_loadu_ps(src + (i + k) * c + j);
            transpose8(r);
            for (int k = 0; k < 8; k++)
                _mm256_storeu_ps(row[k] + i, r[k]);
        }
        for (; i < n; i++)
            for (int k = 0; k < 8; k++)
                row[k][i] = src[i * c + j + k];
    }
    for (; j < c; j++) {
        float *row = dst + j * n;
        for (int64_t i = 0; i < n; i++)
            row[i] = src[i * c + j];
    }
}

__attribute__((target("avx2,fma"))) bool conv_simd_pool(const float *x, const int32_t *start,
                                                       const int32_t *pos, const float *count,
                                                       int64_t out_vol, int64_t c, bool max,
                                                       float *y)
{
    const int rest = (int)(c % 8);
    const __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(rest), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 nan = _mm256_setzero_ps();
    for (int64_t o = 0; o < out_vol; o++) {
        const int32_t *p = pos + start[o];
        const int32_t n = start[o + 1] - start[o];
        float *yo = y + o * c;
        const __m256 div = _mm256_set1_ps(max ? 1.0f : count[o]);
        for (int64_t ch = 0; ch < c; ch += 8) {
            const bool tail = ch + 8 > c;
            __m256 a = _mm256_set1_ps(max ? -INFINITY : 0.0f);
            for (int32_t e = 0; e < n; e++) {
                const float *xi = x + p[e] * c + ch;
                __m256 v = tail ? _mm256_maskload_ps(xi, mask) : _mm256_loadu_ps(xi);
                if (max) {
                    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                    a = _mm256_max_ps(v, a); /* v > a ? v : a */
                } else {
                    a = _mm256_add_ps(a, v);
                }
            }
            if (!max)
                a = count[o] > 0.0f ? _mm256_div_ps(a, div) : _mm256_setzero_ps();
            if (tail)
                _mm256_maskstore_ps(yo + ch, mask, a);
            else
                _mm256_storeu_ps(yo + ch, a);
        }
    }
    return _mm256_movemask_ps(nan) == 0;
}

__attribute__((target("avx2,fma"))) void conv_simd_depthwise(const float *x, const float *w, const float *bias, const int32_t *start,
                         const int32_t *tap, const int32_t *pos, int64_t out_vol, int64_t c,
                         float *y)
{
    const int rest = (int)(c % 8);
    const __m256i all = _mm256_set1_epi32(-1);
    const __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(rest), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int64_t o = 0; o < out_vol; o++) {
        const int32_t *t = tap + start[o], *p = pos + start[o];
        const int32_t n = start[o + 1] - start[o];
        float *yo = y + o * c;
        int64_t ch = 0;
        for (; ch + 32 <= c; ch += 32)
            dw_full(x + ch, w + ch, bias + ch, t, p, n, c, all, yo + ch);
        for (; ch + 8 <= c; ch += 8)
            dw_8(x + ch, w + ch, bias + ch, t, p, n, c, all, yo + ch);
        if (ch < c)
            dw_tail(x + ch, w + ch, bias + ch, t, p, n, c, mask, yo + ch);
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

void conv_simd_depthwise(const float *x, const float *w, const float *bias, const int32_t *start,
                         const int32_t *tap, const int32_t *pos, int64_t out_vol, int64_t c,
                         float *y)
{
    (void)x, (void)w, (void)bias, (void)start, (void)tap, (void)pos, (void)out_vol, (void)c,
        (void)y;
}

void conv_simd_to_channels_last(const float *src, int64_t n, int64_t c, float *dst)
{
    (void)src, (void)n, (void)c, (void)dst;
}

bool conv_simd_pool(const float *x, const int32_t *start, const int32_t *pos, const float *count,
                    int64_t out_vol, int64_t c, bool max, float *y)
{
    (void)x, (void)start, (void)pos, (void)count, (void)out_vol, (void)c, (void)max, (void)y;
    return false;
}

void conv_simd_from_channels_last(const float *src, int64_t n, int64_t c, float *dst)
{
    (void)src, (void)n, (void)c, (void)dst;
}

#endif
