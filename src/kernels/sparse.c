/* CSR weights and their product with a batch: a tile of CSR_TILE rows is transposed so each
 * non-zero weight multiplies CSR_TILE contiguous inputs (one broadcast, four 8-wide fused
 * multiply-adds with AVX2, chosen at run time; a portable loop otherwise). */
#include "kernels/sparse.h"

#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define SPARSE_X86 1
#include <immintrin.h>
#endif

bool sparse_worthwhile(double zero_fraction, size_t n)
{
    const char *env = getenv("PRUNESCOPE_SPARSE");
    if (env && strcmp(env, "never") == 0)
        return false;
    if (env && strcmp(env, "always") == 0)
        return true;
    return zero_fraction >= SPARSE_MIN_ZEROS && n >= SPARSE_MIN_WEIGHTS;
}

double sparse_zero_fraction(const float *w, size_t n)
{
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++)
        zeros += w[i] == 0.0f;
    return n ? (double)zeros / (double)n : 0.0;
}

struct csr *csr_from_dense(const float *w, size_t units, size_t inputs, size_t unit_stride,
                           size_t in_stride, struct err *err)
{
    size_t nnz = 0;
    for (size_t u = 0; u < units; u++)
        for (size_t i = 0; i < inputs; i++)
            nnz += w[u * unit_stride + i * in_stride] != 0.0f;
    struct csr *m = calloc(1, sizeof *m);
    if (m) {
        m->row_ptr = malloc((units + 1) * sizeof *m->row_ptr);
        m->col = malloc((nnz + 1) * sizeof *m->col);
        m->val = malloc((nnz + 1) * sizeof *m->val);
    }
    if (!m || !m->row_ptr || !m->col || !m->val || nnz > UINT32_MAX) {
        csr_free(m);
        err_oom(err, "sparse weights", nnz * 8);
        return NULL;
    }
    m->units = units;
    m->inputs = inputs;
    m->nnz = nnz;
    size_t at = 0;
    for (size_t u = 0; u < units; u++) {
        m->row_ptr[u] = (uint32_t)at;
        for (size_t i = 0; i < inputs; i++) {
            float v = w[u * unit_stride + i * in_stride];
            if (v != 0.0f) {
                m->col[at] = (uint32_t)i;
                m->val[at++] = v;
            }
        }
    }
    m->row_ptr[units] = (uint32_t)at;
    return m;
}

void csr_free(struct csr *m)
{
    if (!m)
        return;
    free(m->row_ptr);
    free(m->col);
    free(m->val);
    free(m);
}

/* acc[t] = sum over the unit's non-zeros of val * xt[col][t], t < CSR_TILE. */
static void unit_portable(const struct csr *w, size_t u, const float *xt, float *acc)
{
    for (int t = 0; t < CSR_TILE; t++)
        acc[t] = 0.0f;
    for (uint32_t p = w->row_ptr[u]; p < w->row_ptr[u + 1]; p++) {
        const float v = w->val[p];
        const float *src = xt + (size_t)w->col[p] * CSR_TILE;
        for (int t = 0; t < CSR_TILE; t++)
            acc[t] += v * src[t];
    }
}

#ifdef SPARSE_X86
__attribute__((target("avx2,fma"))) static void unit_avx2(const struct csr *w, size_t u,
                                                          const float *xt, float *acc)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (uint32_t p = w->row_ptr[u]; p < w->row_ptr[u + 1]; p++) {
        __m256 v = _mm256_broadcast_ss(&w->val[p]);
        const float *src = xt + (size_t)w->col[p] * CSR_TILE;
        a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(src), a0);
        a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(src + 8), a1);
        a2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(src + 16), a2);
        a3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(src + 24), a3);
    }
    _mm256_storeu_ps(acc, a0);
    _mm256_storeu_ps(acc + 8, a1);
    _mm256_storeu_ps(acc + 16, a2);
    _mm256_storeu_ps(acc + 24, a3);
}

static bool have_avx2(void)
{
    const char *env = getenv("PRUNESCOPE_SIMD");
    if (env && strcmp(env, "0") == 0)
        return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

void csr_gemm(const struct csr *w, const float *x, size_t rows, size_t ldx, float alpha, float *y,
              size_t ldy, bool accumulate, float *scratch)
{
    /* The scratch is 64-byte aligned by the workspace; xt rows are CSR_TILE floats. */
    float *xt = scratch;
    float acc[CSR_TILE];
    void (*unit)(const struct csr *, size_t, const float *, float *) = unit_portable;
#ifdef SPARSE_X86
    if (have_avx2())
        unit = unit_avx2;
#endif
    for (size_t m0 = 0; m0 < rows; m0 += CSR_TILE) {
        size_t tile = rows - m0 < CSR_TILE ? rows - m0 : CSR_TILE;
        for (size_t i = 0; i < w->inputs; i++) {
            float *dst = xt + i * CSR_TILE;
            for (size_t t = 0; t < tile; t++)
                dst[t] = x[(m0 + t) * ldx + i];
            for (size_t t = tile; t < CSR_TILE; t++)
                dst[t] = 0.0f;
        }
        for (size_t u = 0; u < w->units; u++) {
            unit(w, u, xt, acc);
            for (size_t t = 0; t < tile; t++) {
                float *o = y + (m0 + t) * ldy + u;
                *o = (accumulate ? *o : 0.0f) + alpha * acc[t];
            }
        }
    }
}
