/* Vectorized element-wise math (see vmath.h): a portable loop and an AVX2/FMA one compiled
 * with a target attribute. Not a general libm: only what the hot activations need. */
#include "kernels/vmath.h"

#include <math.h>
#include <stdbool.h>

#include "kernels/conv_simd.h"

static float sigmoid1(float v)
{
    float e = expf(-fabsf(v)); /* in (0, 1]: no overflow on either side */
    return v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* exp(x) for x <= 0: x = k ln2 + r with |r| <= ln2 / 2, e^r from its Taylor polynomial to
 * degree 7 (Horner, FMA), times 2^k as two powers of two built in the exponent bits (so
 * results below float's normal range come out as the denormals they are; below -104 the
 * result is 0). Relative error under 3e-7 (2.5 float ulps) in the normal range. */
__attribute__((target("avx2,fma"))) static inline __m256 exp_nonpos(__m256 x)
{
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 ln2_hi = _mm256_set1_ps(0.693359375f), ln2_lo = _mm256_set1_ps(-2.12194440e-4f);
    x = _mm256_max_ps(x, _mm256_set1_ps(-104.0f));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, ln2_hi, x);
    r = _mm256_fnmadd_ps(k, ln2_lo, r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i ki = _mm256_cvtps_epi32(k);
    __m256i k1 = _mm256_srai_epi32(ki, 1), k2 = _mm256_sub_epi32(ki, k1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

__attribute__((target("avx2,fma"))) static void sigmoid_avx2(const float *x, float *y, size_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = exp_nonpos(_mm256_or_ps(v, sign)); /* exp(-|v|) */
        __m256 d = _mm256_add_ps(one, e);
        __m256 pos = _mm256_div_ps(one, d), neg = _mm256_div_ps(e, d);
        __m256 out = _mm256_blendv_ps(neg, pos, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ));
        /* NaN: neither compare holds, so blendv picked e / (1 + e) of a NaN: NaN. */
        out = _mm256_blendv_ps(out, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        _mm256_storeu_ps(y + i, out);
    }
    for (; i < n; i++)
        y[i] = sigmoid1(x[i]);
}

void vmath_sigmoid(const float *x, float *y, size_t n)
{
    if (conv_simd_available()) {
        sigmoid_avx2(x, y, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        y[i] = sigmoid1(x[i]);
}

#else

void vmath_sigmoid(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = sigmoid1(x[i]);
}

#endif
