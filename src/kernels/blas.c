/* blas_sgemm of blas.h. */
#include "kernels/blas.h"

#include <cblas.h>
#include <string.h>

/* Rows of A at and below which a product with transposed B runs as that many
 * matrix-vector products: against 160x1280 weights, 8 rows took 57 us as sgemv calls and
 * 73 us in one sgemm, 12 rows 85 against 76 (OpenBLAS 0.3.21, one thread). */
#define GEMV_ROWS 8

void blas_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k > 0 && !ta && (m == 1 || (tb && m <= GEMV_ROWS))) {
        /* Row i of C = alpha a_i op(B) + beta c_i: B [n, k] times the row as it is, or
         * B [k, n] transposed. */
        for (int i = 0; i < m; i++) {
            if (beta == 0.0f) /* C is written, never read: what it held may be NaN */
                memset(c + (long)i * ldc, 0, (size_t)n * sizeof *c);
            cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? n : k, tb ? k : n,
                        alpha, b, ldb, a + (long)i * lda, 1, beta, c + (long)i * ldc, 1);
        }
        return;
    }
    if (k > 0 && n == 1) {
        /* One column: C = alpha op(A) b + beta c, b read down its column (stride ldb) or
         * along its row. */
        if (beta == 0.0f)
            for (int i = 0; i < m; i++)
                c[(long)i * ldc] = 0.0f;
        cblas_sgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, ta ? k : m, ta ? m : k, alpha, a,
                    lda, b, tb ? 1 : ldb, beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
}
