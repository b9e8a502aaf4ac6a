/* Sparse weights for execution: a CSR copy of a pruned weight matrix (units x inputs) and
 * the product of a batch of rows with it, faster than dense GEMM when most weights are
 * zero. Not the choice of when to use it (op_gemm.c) and not pruning. */
#ifndef PRUNESCOPE_KERNELS_SPARSE_H
#define PRUNESCOPE_KERNELS_SPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Rows of the batch one pass of csr_gemm works on; the scratch it needs is
 * inputs * CSR_TILE floats. */
#define CSR_TILE 32

struct csr {
    size_t units, inputs, nnz;
    uint32_t *row_ptr; /* units + 1 */
    uint32_t *col;     /* nnz input indices */
    float *val;        /* nnz values */
};

/* The non-zero weights of w, where element (u, i) is w[u * unit_stride + i * in_stride]. */
struct csr *csr_from_dense(const float *w, size_t units, size_t inputs, size_t unit_stride,
                           size_t in_stride, struct err *err);
void csr_free(struct csr *m);

/* For the rows m < rows of x (row m at x + m * ldx, inputs values):
 *   y[m * ldy + u] = (accumulate ? y[m * ldy + u] : 0) + alpha * sum_i W(u, i) * x[m, i].
 * scratch holds inputs * CSR_TILE floats. */
void csr_gemm(const struct csr *w, const float *x, size_t rows, size_t ldx, float alpha, float *y,
              size_t ldy, bool accumulate, float *scratch);

/* The product of units [u0, u1) of w with inputs given as rows of n values, the row of
 * input i starting at x + off[i] (the rows of a column matrix, or shifted views of a padded
 * image for a convolution's taps): for j < n,
 *   y[(u - u0) * ldy + j] = (bias ? bias[u] : 0) + sum_i W(u, i) * x[off[i] + j]. */
void csr_rows(const struct csr *w, size_t u0, size_t u1, const float *x, const int64_t *off,
              size_t n, const float *bias, float *y, size_t ldy);

/* Block-sparse weights: units x inputs cut into blocks of bu units x 4 inputs (bu 1 or 4);
 * only blocks with a non-zero are kept, with CSR indices over blocks. */
struct bsr {
    size_t units, inputs, bu, nblocks;
    uint32_t *brow_ptr; /* units / bu + 1 */
    uint32_t *bcol;     /* nblocks: input block index (input / 4) */
    float *val;         /* nblocks * bu * 4, row-major within a block */
};

/* NULL with err set when units is not a multiple of bu or inputs of 4. */
struct bsr *bsr_from_dense(const float *w, size_t units, size_t inputs, size_t unit_stride,
                           size_t in_stride, size_t bu, struct err *err);
void bsr_free(struct bsr *m);
/* As csr_gemm, for a block-sparse weight. */
void bsr_gemm(const struct bsr *w, const float *x, size_t rows, size_t ldx, float alpha, float *y,
              size_t ldy, bool accumulate, float *scratch);
/* The fraction of bu x 4 blocks that are all zero (0 when the shape does not divide). */
double sparse_zero_block_fraction(const float *w, size_t units, size_t inputs, size_t unit_stride,
                                  size_t in_stride, size_t bu);

/* Measured by `make bench` (bench_sparse) on the 2-core development machine: the CSR
 * product beats OpenBLAS's dense one from about 60-75% zeros on layers of 1,000+ weights
 * (256x784 at 80%: 1.9x, at 90%: 2.9x), while on smaller layers neither matters and
 * dense is as fast. */
#define SPARSE_MIN_ZEROS   0.70
#define SPARSE_MIN_WEIGHTS 1024

/* Whether a weight of n elements with this fraction of zeros runs as CSR: from
 * SPARSE_MIN_ZEROS and SPARSE_MIN_WEIGHTS on, unless PRUNESCOPE_SPARSE says "never" or
 * "always". */
bool sparse_worthwhile(double zero_fraction, size_t n);

/* Whether a depthwise convolution's n weights are zero enough (SPARSE_DW_MIN_ZEROS, or
 * PRUNESCOPE_SPARSE) to run channel by channel over each channel's non-zero taps rather
 * than all taps channels-last; at any weight count. Measured on mobilenet_v2's
 * features.3.conv.1 (96 channels on 7x7, one thread): 1.0-1.1x the channels-last kernel
 * at 80% zeros, 1.5-1.6x at 90%. */
#define SPARSE_DW_MIN_ZEROS 0.80
bool sparse_depthwise_worthwhile(const float *w, size_t n);

enum sparse_kernel { SPARSE_DENSE, SPARSE_CSR, SPARSE_BSR1, SPARSE_BSR4 };

/* The kernel a units x inputs weight (strides as above) runs with: dense below the
 * thresholds (sparse_worthwhile), else block-sparse (1x4) when all its zeros lie in whole
 * 1x4 blocks, else CSR. (SPARSE_BSR4 is measured by make bench but never chosen: it was
 * slower than CSR and 1x4 blocks on every bundled layer.) */
enum sparse_kernel sparse_choose(const float *w, size_t units, size_t inputs, size_t unit_stride,
                                 size_t in_stride);
const char *sparse_kernel_name(enum sparse_kernel k);

/* The fraction of zeros in a weight matrix given as above. */
double sparse_zero_fraction(const float *w, size_t n);

#endif
