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

/* PRUNESCOPE_SPARSE: -1 "never", 1 "always", 0 the thresholds decide. */
static int sparse_override(void)
{
    const char *env = getenv("PRUNESCOPE_SPARSE");
    return !env ? 0 : strcmp(env, "never") == 0 ? -1 : strcmp(env, "always") == 0 ? 1 : 0;
}

bool sparse_worthwhile(double zero_fraction, size_t n)
{
    int o = sparse_override();
    return o ? o > 0 : zero_fraction >= SPARSE_MIN_ZEROS && n >= SPARSE_MIN_WEIGHTS;
}

bool sparse_depthwise_worthwhile(const float *w, size_t n)
{
    int o = sparse_override();
    return o ? o > 0 : n > 0 && sparse_zero_fraction(w, n) >= SPARSE_DW_MIN_ZEROS;
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

/* Sum over unit u's non-zeros of val * x[col]: one row of the batch, read where the column
 * indices say (four partial sums, so that no add waits on the one before). */
static float dot_portable(const struct csr *w, size_t u, const float *x)
{
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    uint32_t p = w->row_ptr[u];
    const uint32_t end = w->row_ptr[u + 1];
    for (; p + 4 <= end; p += 4) {
        s0 += w->val[p] * x[w->col[p]];
        s1 += w->val[p + 1] * x[w->col[p + 1]];
        s2 += w->val[p + 2] * x[w->col[p + 2]];
        s3 += w->val[p + 3] * x[w->col[p + 3]];
    }
    for (; p < end; p++)
        s0 += w->val[p] * x[w->col[p]];
    return (s0 + s1) + (s2 + s3);
}

#ifdef SPARSE_X86
/* dot_portable with AVX2: eight non-zeros at a time, their inputs gathered. */
__attribute__((target("avx2,fma"))) static float dot_avx2(const struct csr *w, size_t u,
                                                          const float *x)
{
    __m256 a = _mm256_setzero_ps(), b = a;
    uint32_t p = w->row_ptr[u];
    const uint32_t end = w->row_ptr[u + 1];
    for (; p + 16 <= end; p += 16) {
        __m256i i0 = _mm256_loadu_si256((const __m256i *)(w->col + p));
        __m256i i1 = _mm256_loadu_si256((const __m256i *)(w->col + p + 8));
        a = _mm256_fmadd_ps(_mm256_loadu_ps(w->val + p), _mm256_i32gather_ps(x, i0, 4), a);
        b = _mm256_fmadd_ps(_mm256_loadu_ps(w->val + p + 8), _mm256_i32gather_ps(x, i1, 4), b);
    }
    if (p + 8 <= end) {
        __m256i i0 = _mm256_loadu_si256((const __m256i *)(w->col + p));
        a = _mm256_fmadd_ps(_mm256_loadu_ps(w->val + p), _mm256_i32gather_ps(x, i0, 4), a);
        p += 8;
    }
    a = _mm256_add_ps(a, b);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; p < end; p++)
        s += w->val[p] * x[w->col[p]];
    return s;
}
#endif

/* Fewer rows than this in a tile are multiplied row by row (dot products over the
 * non-zeros) instead of transposed into a tile whose other lanes would be zeros. */
#define CSR_DOT_ROWS 4

void csr_gemm(const struct csr *w, const float *x, size_t rows, size_t ldx, float alpha, float *y,
              size_t ldy, bool accumulate, float *scratch)
{
    /* The scratch is 64-byte aligned by the workspace; xt rows are CSR_TILE floats. */
    float *xt = scratch;
    float acc[CSR_TILE];
    void (*unit)(const struct csr *, size_t, const float *, float *) = unit_portable;
    float (*dot)(const struct csr *, size_t, const float *) = dot_portable;
#ifdef SPARSE_X86
    if (have_avx2()) {
        unit = unit_avx2;
        if (w->inputs <= INT32_MAX) /* the gather's offsets are signed 32-bit */
            dot = dot_avx2;
    }
#endif
    for (size_t m0 = 0; m0 < rows; m0 += CSR_TILE) {
        size_t tile = rows - m0 < CSR_TILE ? rows - m0 : CSR_TILE;
        if (tile < CSR_DOT_ROWS) {
            for (size_t t = 0; t < tile; t++)
                for (size_t u = 0; u < w->units; u++) {
                    float *o = y + (m0 + t) * ldy + u;
                    *o = (accumulate ? *o : 0.0f) + alpha * dot(w, u, x + (m0 + t) * ldx);
                }
            continue;
        }
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

/* Columns one pass of csr_rows works on: four 8-wide accumulators. */
#define ROWS_BLOCK 32

/* acc[j] = base + sum over unit u's non-zeros of val * x[off[col] + j0 + j], j < width. */
static void rows_portable(const struct csr *w, size_t u, const float *x, const int64_t *off,
                          size_t j0, size_t width, float base, float *y)
{
    float acc[ROWS_BLOCK];
    for (size_t j = 0; j < width; j++)
        acc[j] = base;
    for (uint32_t p = w->row_ptr[u]; p < w->row_ptr[u + 1]; p++) {
        const float v = w->val[p];
        const float *src = x + off[w->col[p]] + j0;
        for (size_t j = 0; j < width; j++)
            acc[j] += v * src[j];
    }
    for (size_t j = 0; j < width; j++)
        y[j] = acc[j];
}

#ifdef SPARSE_X86
/* rows_portable with AVX2 for NV (1 to 4) vectors of 8 columns, the last one masked when
 * MASKED (lanes past the width are neither read nor written). The non-zeros go two at a
 * time into two sets of accumulators, added at the end, so that no chain of fused
 * multiply-adds waits on the one before when the block is narrow. Accumulators are named
 * variables, not an array: the compiler keeps arrays of vectors in memory. */
#define ROWS_LOAD(s, v, NV, MASKED)                                                             \
    ((MASKED) && (v) == (NV)-1 ? _mm256_maskload_ps((s) + 8 * (v), mask)                        \
                               : _mm256_loadu_ps((s) + 8 * (v)))
#define ROWS_STORE(v, sum, NV, MASKED)                                                          \
    do {                                                                                        \
        if ((MASKED) && (v) == (NV)-1)                                                          \
            _mm256_maskstore_ps(y + 8 * (v), mask, sum);                                        \
        else                                                                                    \
            _mm256_storeu_ps(y + 8 * (v), sum);                                                 \
    } while (0)
#define DEFINE_ROWS_AVX2(NAME, NV, MASKED)                                                      \
    __attribute__((target("avx2,fma"))) static void NAME(                                       \
        const struct csr *w, size_t u, const float *x, const int64_t *off, size_t j0,           \
        __m256i mask, float base, float *y)                                                    \
    {                                                                                           \
        (void)mask;                                                                             \
        __m256 a0 = _mm256_set1_ps(base), a1 = a0, a2 = a0, a3 = a0;                            \
        __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;                             \
        uint32_t p = w->row_ptr[u];                                                             \
        const uint32_t end = w->row_ptr[u + 1];                                                 \
        for (; p + 2 <= end; p += 2) {                                                          \
            const __m256 w0 = _mm256_broadcast_ss(&w->val[p]);                                  \
            const __m256 w1 = _mm256_broadcast_ss(&w->val[p + 1]);                              \
            const float *s0 = x + off[w->col[p]] + j0, *s1 = x + off[w->col[p + 1]] + j0;       \
            a0 = _mm256_fmadd_ps(w0, ROWS_LOAD(s0, 0, NV, MASKED), a0);                         \
            b0 = _mm256_fmadd_ps(w1, ROWS_LOAD(s1, 0, NV, MASKED), b0);                         \
            if (NV > 1) {                                                                       \
                a1 = _mm256_fmadd_ps(w0, ROWS_LOAD(s0, 1, NV, MASKED), a1);                     \
                b1 = _mm256_fmadd_ps(w1, ROWS_LOAD(s1, 1, NV, MASKED), b1);                     \
            }                                                                                   \
            if (NV > 2) {                                                                       \
                a2 = _mm256_fmadd_ps(w0, ROWS_LOAD(s0, 2, NV, MASKED), a2);                     \
                b2 = _mm256_fmadd_ps(w1, ROWS_LOAD(s1, 2, NV, MASKED), b2);                     \
            }                                                                                   \
            if (NV > 3) {                                                                       \
                a3 = _mm256_fmadd_ps(w0, ROWS_LOAD(s0, 3, NV, MASKED), a3);                     \
                b3 = _mm256_fmadd_ps(w1, ROWS_LOAD(s1, 3, NV, MASKED), b3);                     \
            }                                                                                   \
        }                                                                                       \
        if (p < end) {                                                                          \
            const __m256 w0 = _mm256_broadcast_ss(&w->val[p]);                                  \
            const float *s0 = x + off[w->col[p]] + j0;                                          \
            a0 = _mm256_fmadd_ps(w0, ROWS_LOAD(s0, 0, NV, MASKED), a0);                         \
            if (NV > 1)                                                                         \
                a1 = _mm256_fmadd_ps(w0, ROWS_LOAD(s0, 1, NV, MASKED), a1);                     \
            if (NV > 2)                                                                         \
                a2 = _mm256_fmadd_ps(w0, ROWS_LOAD(s0, 2, NV, MASKED), a2);                     \
            if (NV > 3)                                                                         \
                a3 = _mm256_fmadd_ps(w0, ROWS_LOAD(s0, 3, NV, MASKED), a3);                     \
        }                                                                                       \
        ROWS_STORE(0, _mm256_add_ps(a0, b0), NV, MASKED);                                       \
        if (NV > 1)                                                                             \
            ROWS_STORE(1, _mm256_add_ps(a1, b1), NV, MASKED);                                   \
        if (NV > 2)                                                                             \
            ROWS_STORE(2, _mm256_add_ps(a2, b2), NV, MASKED);                                   \
        if (NV > 3)                                                                             \
            ROWS_STORE(3, _mm256_add_ps(a3, b3), NV, MASKED);                                   \
    }

DEFINE_ROWS_AVX2(rows_full, 4, false)
DEFINE_ROWS_AVX2(rows_1, 1, true)
DEFINE_ROWS_AVX2(rows_2, 2, true)
DEFINE_ROWS_AVX2(rows_3, 3, true)
DEFINE_ROWS_AVX2(rows_4, 4, true)

/* rows_portable for a block of up to ROWS_BLOCK columns. */
__attribute__((target("avx2,fma"))) static void rows_avx2(const struct csr *w, size_t u,
                                                          const float *x, const int64_t *off,
                                                          size_t j0, size_t width, float base,
                                                          float *y)
{
    if (width == ROWS_BLOCK) {
        rows_full(w, u, x, off, j0, _mm256_set1_epi32(-1), base, y);
        return;
    }
    /* Lanes of the last vector that hold columns: 1 to 8. */
    const int rest = (int)(width - (width - 1) / 8 * 8);
    const __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(rest), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    switch ((width + 7) / 8) {
    case 1:
        rows_1(w, u, x, off, j0, mask, base, y);
        break;
    case 2:
        rows_2(w, u, x, off, j0, mask, base, y);
        break;
    case 3:
        rows_3(w, u, x, off, j0, mask, base, y);
        break;
    default:
        rows_4(w, u, x, off, j0, mask, base, y);
        break;
    }
}
#endif

void csr_rows(const struct csr *w, size_t u0, size_t u1, const float *x, const int64_t *off,
              size_t n, const float *bias, float *y, size_t ldy)
{
    void (*kernel)(const struct csr *, size_t, const float *, const int64_t *, size_t, size_t,
                   float, float *) = rows_portable;
#ifdef SPARSE_X86
    if (have_avx2())
        kernel = rows_avx2;
#endif
    /* Column blocks outside, units inside: the block's inputs (inputs x ROWS_BLOCK values)
     * stay in cache while every unit reads them. */
    for (size_t j0 = 0; j0 < n; j0 += ROWS_BLOCK) {
        size_t width = n - j0 < ROWS_BLOCK ? n - j0 : ROWS_BLOCK;
        for (size_t u = u0; u < u1; u++)
            kernel(w, u, x, off, j0, width, bias ? bias[u] : 0.0f, y + (u - u0) * ldy + j0);
    }
}

double sparse_zero_block_fraction(const float *w, size_t units, size_t inputs, size_t unit_stride,
                                  size_t in_stride, size_t bu)
{
    if (bu == 0 || units % bu != 0 || inputs % 4 != 0 || units == 0 || inputs == 0)
        return 0.0;
    size_t zero = 0, total = (units / bu) * (inputs / 4);
    for (size_t br = 0; br < units / bu; br++)
        for (size_t bc = 0; bc < inputs / 4; bc++) {
            bool any = false;
            for (size_t u = br * bu; u < (br + 1) * bu && !any; u++)
                for (size_t i = bc * 4; i < bc * 4 + 4 && !any; i++)
                    any = w[u * unit_stride + i * in_stride] != 0.0f;
            zero += !any;
        }
    return (double)zero / (double)total;
}

struct bsr *bsr_from_dense(const float *w, size_t units, size_t inputs, size_t unit_stride,
                           size_t in_stride, size_t bu, struct err *err)
{
    if ((bu != 1 && bu != 4) || units % bu != 0 || inputs % 4 != 0) {
        err_set(err, "a %zux%zu weight does not split into %zux4 blocks", units, inputs, bu);
        return NULL;
    }
    size_t nbr = units / bu, nbc = inputs / 4, nb = 0;
    struct bsr *m = calloc(1, sizeof *m);
    if (!m) {
        err_oom(err, "block-sparse weights", sizeof *m);
        return NULL;
    }
    double zero = sparse_zero_block_fraction(w, units, inputs, unit_stride, in_stride, bu);
    nb = (size_t)((1.0 - zero) * (double)(nbr * nbc) + 0.5);
    m->brow_ptr = malloc((nbr + 1) * sizeof *m->brow_ptr);
    m->bcol = malloc((nb + 1) * sizeof *m->bcol);
    m->val = malloc((nb * bu * 4 + 1) * sizeof *m->val);
    if (!m->brow_ptr || !m->bcol || !m->val) {
        bsr_free(m);
        err_oom(err, "block-sparse weights", nb * bu * 16);
        return NULL;
    }
    m->units = units;
    m->inputs = inputs;
    m->bu = bu;
    size_t at = 0;
    for (size_t br = 0; br < nbr; br++) {
        m->brow_ptr[br] = (uint32_t)at;
        for (size_t bc = 0; bc < nbc; bc++) {
            bool any = false;
            for (size_t u = br * bu; u < (br + 1) * bu && !any; u++)
                for (size_t i = bc * 4; i < bc * 4 + 4 && !any; i++)
                    any = w[u * unit_stride + i * in_stride] != 0.0f;
            if (!any)
                continue;
            m->bcol[at] = (uint32_t)bc;
            for (size_t u = 0; u < bu; u++)
                for (size_t i = 0; i < 4; i++)
                    m->val[(at * bu + u) * 4 + i] =
                        w[(br * bu + u) * unit_stride + (bc * 4 + i) * in_stride];
            at++;
        }
    }
    m->brow_ptr[nbr] = (uint32_t)at;
    m->nblocks = at;
    return m;
}

void bsr_free(struct bsr *m)
{
    if (!m)
        return;
    free(m->brow_ptr);
    free(m->bcol);
    free(m->val);
    free(m);
}

/* acc[u][t] for the bu units of block row br over the CSR_TILE rows of xt. */
static void brow_portable(const struct bsr *w, size_t br, const float *xt, float *acc)
{
    const size_t bu = w->bu;
    for (size_t i = 0; i < bu * CSR_TILE; i++)
        acc[i] = 0.0f;
    for (uint32_t b = w->brow_ptr[br]; b < w->brow_ptr[br + 1]; b++) {
        const float *v = w->val + (size_t)b * bu * 4;
        const float *src = xt + (size_t)w->bcol[b] * 4 * CSR_TILE;
        for (size_t c = 0; c < 4; c++)
            for (size_t u = 0; u < bu; u++) {
                float vv = v[u * 4 + c];
                for (int t = 0; t < CSR_TILE; t++)
                    acc[u * CSR_TILE + t] += vv * src[c * CSR_TILE + t];
            }
    }
}

#ifdef SPARSE_X86
/* Four units share each loaded input row: per block, 4 x 2 loads feed 32 multiply-adds for
 * each 16-row half of the tile. */
__attribute__((target("avx2,fma"))) static void brow4_avx2(const struct bsr *w, size_t br,
                                                           const float *xt, float *acc)
{
    for (int half = 0; half < 2; half++) {
        __m256 a[4][2];
        for (int u = 0; u < 4; u++)
            a[u][0] = a[u][1] = _mm256_setzero_ps();
        for (uint32_t b = w->brow_ptr[br]; b < w->brow_ptr[br + 1]; b++) {
            const float *v = w->val + (size_t)b * 16;
            const float *src = xt + (size_t)w->bcol[b] * 4 * CSR_TILE + half * 16;
            for (int c = 0; c < 4; c++) {
                __m256 x0 = _mm256_loadu_ps(src + c * CSR_TILE);
                __m256 x1 = _mm256_loadu_ps(src + c * CSR_TILE + 8);
                __m256 v0 = _mm256_broadcast_ss(v + c), v1 = _mm256_broadcast_ss(v + 4 + c);
                __m256 v2 = _mm256_broadcast_ss(v + 8 + c), v3 = _mm256_broadcast_ss(v + 12 + c);
                a[0][0] = _mm256_fmadd_ps(v0, x0, a[0][0]);
                a[0][1] = _mm256_fmadd_ps(v0, x1, a[0][1]);
                a[1][0] = _mm256_fmadd_ps(v1, x0, a[1][0]);
                a[1][1] = _mm256_fmadd_ps(v1, x1, a[1][1]);
                a[2][0] = _mm256_fmadd_ps(v2, x0, a[2][0]);
                a[2][1] = _mm256_fmadd_ps(v2, x1, a[2][1]);
                a[3][0] = _mm256_fmadd_ps(v3, x0, a[3][0]);
                a[3][1] = _mm256_fmadd_ps(v3, x1, a[3][1]);
            }
        }
        for (int u = 0; u < 4; u++) {
            _mm256_storeu_ps(acc + u * CSR_TILE + half * 16, a[u][0]);
            _mm256_storeu_ps(acc + u * CSR_TILE + half * 16 + 8, a[u][1]);
        }
    }
}

__attribute__((target("avx2,fma"))) static void brow1_avx2(const struct bsr *w, size_t br,
                                                           const float *xt, float *acc)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (uint32_t b = w->brow_ptr[br]; b < w->brow_ptr[br + 1]; b++) {
        const float *v = w->val + (size_t)b * 4;
        const float *src = xt + (size_t)w->bcol[b] * 4 * CSR_TILE;
        for (int c = 0; c < 4; c++) {
            __m256 vv = _mm256_broadcast_ss(v + c);
            const float *s = src + c * CSR_TILE;
            a0 = _mm256_fmadd_ps(vv, _mm256_loadu_ps(s), a0);
            a1 = _mm256_fmadd_ps(vv, _mm256_loadu_ps(s + 8), a1);
            a2 = _mm256_fmadd_ps(vv, _mm256_loadu_ps(s + 16), a2);
            a3 = _mm256_fmadd_ps(vv, _mm256_loadu_ps(s + 24), a3);
        }
    }
    _mm256_storeu_ps(acc, a0);
    _mm256_storeu_ps(acc + 8, a1);
    _mm256_storeu_ps(acc + 16, a2);
    _mm256_storeu_ps(acc + 24, a3);
}
#endif

void bsr_gemm(const struct bsr *w, const float *x, size_t rows, size_t ldx, float alpha, float *y,
              size_t ldy, bool accumulate, float *scratch)
{
    float *xt = scratch;
    float acc[4 * CSR_TILE];
    void (*brow)(const struct bsr *, size_t, const float *, float *) = brow_portable;
#ifdef SPARSE_X86
    if (have_avx2())
        brow = w->bu == 4 ? brow4_avx2 : brow1_avx2;
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
        for (size_t br = 0; br < w->units / w->bu; br++) {
            brow(w, br, xt, acc);
            for (size_t u = 0; u < w->bu; u++)
                for (size_t t = 0; t < tile; t++) {
                    float *o = y + (m0 + t) * ldy + br * w->bu + u;
                    *o = (accumulate ? *o : 0.0f) + alpha * acc[u * CSR_TILE + t];
                }
        }
    }
}

const char *sparse_kernel_name(enum sparse_kernel k)
{
    static const char *const NAMES[] = {"dense", "csr", "block1x4", "block4x4"};
    return NAMES[k];
}

/* Zeros among the weights (a plain loop over contiguous rows the compiler vectorizes:
 * this runs again each time a layer's mask changes). */
static size_t count_zeros(const float *w, size_t units, size_t inputs, size_t unit_stride,
                          size_t in_stride)
{
    size_t zeros = 0;
    if (in_stride == 1) {
        for (size_t u = 0; u < units; u++) {
            const float *row = w + u * unit_stride;
            unsigned z = 0;
            for (size_t i = 0; i < inputs; i++)
                z += row[i] == 0.0f;
            zeros += z;
        }
        return zeros;
    }
    for (size_t u = 0; u < units; u++)
        for (size_t i = 0; i < inputs; i++)
            zeros += w[u * unit_stride + i * in_stride] == 0.0f;
    return zeros;
}

/* Whether every 1x4 block (inputs % 4 == 0) holds four zeros or none; stops at the first
 * that does not. */
static bool zeros_in_whole_blocks(const float *w, size_t units, size_t inputs,
                                  size_t unit_stride, size_t in_stride)
{
    for (size_t u = 0; u < units; u++)
        for (size_t i = 0; i < inputs; i += 4) {
            const float *b = w + u * unit_stride + i * in_stride;
            int z = (b[0] == 0.0f) + (b[in_stride] == 0.0f) + (b[2 * in_stride] == 0.0f) +
                    (b[3 * in_stride] == 0.0f);
            if (z != 0 && z != 4)
                return false;
        }
    return true;
}

enum sparse_kernel sparse_choose(const float *w, size_t units, size_t inputs, size_t unit_stride,
                                 size_t in_stride)
{
    size_t n = units * inputs, zeros = count_zeros(w, units, inputs, unit_stride, in_stride);
    double z = n ? (double)zeros / (double)n : 0.0;
    if (!sparse_worthwhile(z, n))
        return SPARSE_DENSE;
    /* The block kernel only when no zero lies outside an all-zero 1x4 block (else CSR does
     * the same work with fewer values). 4x4-block patterns also take the 1x4 kernel:
     * bench_sparse measured the 4x4 kernel 5-10% slower than CSR and the 1x4 one on the
     * bundled layers (256x784 at 90%: CSR 2.97x, 1x4 about 3x, 4x4 2.70x dense speed). */
    if (zeros > 0 && inputs % 4 == 0 &&
        zeros_in_whole_blocks(w, units, inputs, unit_stride, in_stride))
        return SPARSE_BSR1;
    return SPARSE_CSR;
}
