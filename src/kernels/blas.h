/* The one matrix product the kernels call: cblas_sgemm, row-major, except where one side
 * of the product is a single row or column, which goes to cblas_sgemv instead (one call
 * per row for a few rows against transposed weights). OpenBLAS 0.3.21's sgemm packs B
 * for such shapes, which for a layer of 1,280 x 160 weights at batch 1 takes ten times
 * the matrix-vector product (README, "Speed"). Not the choice of sparse or dense kernels
 * (sparse.h). */
#ifndef PRUNESCOPE_KERNELS_BLAS_H
#define PRUNESCOPE_KERNELS_BLAS_H

#include <stdbool.h>

/* C[m, n] = alpha op(A)[m, k] op(B)[k, n] + beta C, every matrix row-major with its
 * leading dimension; op transposes when ta / tb. */
void blas_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc);

#endif
