/* blas_sgemm against a plain triple loop in double, for the shapes it sends to sgemv (one
 * row, a few rows against transposed B, one column) and those it leaves to sgemm, every
 * transpose, with beta 0 over a C that holds NaN (which must not leak into the result). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels/blas.h"

static uint32_t lcg = 777;
static float next_value(void)
{
    lcg = lcg * 1664525u + 1013904223u;
    return (float)(lcg >> 8) / 16777216.0f * 2.0f - 1.0f;
}

static void check(bool ta, bool tb, int m, int n, int k, float alpha, float beta)
{
    /* op(A) is m x k: A is [m][k] or, transposed, [k][m]; leading dims one wider than
     * needed so that strides are exercised. */
    int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 3;
    float *a = malloc((size_t)(ta ? k : m) * lda * sizeof *a);
    float *b = malloc((size_t)(tb ? n : k) * ldb * sizeof *b);
    float *c = malloc((size_t)m * ldc * sizeof *c), *want = malloc((size_t)m * ldc * sizeof *c);
    for (int i = 0; i < (ta ? k : m) * lda; i++)
        a[i] = next_value();
    for (int i = 0; i < (tb ? n : k) * ldb; i++)
        b[i] = next_value();
    for (int i = 0; i < m * ldc; i++)
        c[i] = want[i] = beta == 0.0f ? NAN : next_value();
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double acc = 0;
            for (int p = 0; p < k; p++)
                acc += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
                       (tb ? b[j * ldb + p] : b[p * ldb + j]);
            want[i * ldc + j] =
                (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * want[i * ldc + j]));
        }
    blas_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            cr_assert(fabsf(c[i * ldc + j] - want[i * ldc + j]) <=
                          1e-5f * (1 + fabsf(want[i * ldc + j])),
                      "ta %d tb %d %dx%dx%d: C[%d][%d] is %g, expected %g", ta, tb, m, n, k, i, j,
                      c[i * ldc + j], want[i * ldc + j]);
    /* The padding between rows of C is never written. */
    for (int i = 0; i < m; i++)
        for (int j = n; j < ldc; j++)
            cr_assert(isnan(want[i * ldc + j]) ? isnan(c[i * ldc + j])
                                               : c[i * ldc + j] == want[i * ldc + j],
                      "ta %d tb %d %dx%dx%d: padding C[%d][%d] written", ta, tb, m, n, k, i, j);
    free(a), free(b), free(c), free(want);
}

Test(blas, matches_a_plain_loop_on_every_path)
{
    static const int shapes[][3] = {{1, 1280, 160}, {1, 7, 5},    {3, 640, 64},
                                    {8, 33, 17},    {9, 40, 12},  {5, 1, 70},
                                    {1, 1, 9},      {64, 50, 30}, {2, 3, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            check(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f);
            check(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], -0.5f, 1.0f);
            check(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 2.0f, 0.25f);
        }
}
