/* One-shot reconstruction of a pruned layer (as OBS and SparseGPT do, without their
 * ordering): on calibration rows, each unit's kept weights are re-fitted by least squares
 * so that the layer, fed the inputs the pruned model gives it, reproduces what the dense
 * layer gave on the dense model's inputs; the normal equations with damping are solved
 * through LAPACK (OpenBLAS). Not running the model (the session captures the inputs) and
 * not choosing what is pruned. */
#ifndef PRUNESCOPE_ANALYSIS_RECONSTRUCT_H
#define PRUNESCOPE_ANALYSIS_RECONSTRUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/graph.h"
#include "model/layers.h"
#include "prune/prune.h"

/* How a layer reads its input: a matrix product over the last dimension (Gemm, MatMul), or
 * a 2-D convolution of one group (its input windows unfolded, im2col). */
struct recon_geom {
    bool conv;
    size_t k;        /* inputs per unit: weight_view.inputs */
    size_t kfull;    /* entries of an unfolded window over all channels (k x groups) */
    int64_t groups;  /* a convolution's groups: reconstruction takes 1 only */
    size_t in_numel; /* input elements per row */
    /* conv */
    int64_t c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow;
};

/* The geometry of layer l whose input has in_row (the shape of one row). Fails naming the
 * layer for what it cannot read (a Gemm with transA, a convolution not 2-D). A grouped
 * convolution is described (groups > 1) but only its input norms can be taken. */
int recon_geom_of(const struct graph *g, const struct layer *l, const struct shape *in_row,
                  struct recon_geom *out, struct err *err);

/* Sums over the calibration samples (rows, or row x output position for a convolution)
 * of x x^T and x x_dense^T, k x k each, in double. */
struct recon_stats {
    size_t k, samples;
    double *xx, *xd;
};
int recon_stats_init(struct recon_stats *st, size_t k, struct err *err);
void recon_stats_fini(struct recon_stats *st);

/* Add rows rows of the layer's input as the pruned model gives it (x) and as the dense
 * model gave it (xd), each rows x in_numel. */
int recon_accumulate(struct recon_stats *st, const struct recon_geom *gm, const float *x,
                     const float *xd, size_t rows, struct err *err);

/* Add to sq[j] (kfull entries), for each entry j of the layer's unfolded input, the sum of
 * squares of what it reads over rows rows of x (rows x in_numel): over the rows, and for a
 * convolution over every output position too (its unfolded windows, all channels). For
 * the wanda criterion: unit u of group u / (units / groups) reads entries
 * (group x k) .. (group x k + k). */
int recon_input_sq(const struct recon_geom *gm, const float *x, size_t rows, double *sq,
                   struct err *err);

/* For every unit of view v: the weights w holds that are not 0 (the kept ones) become the
 * solution of (X_K^T X_K + lambda I) w_K = X_K^T X_d w_dense, lambda = damp x the mean of
 * diag(X^T X) (at least a tiny absolute floor); the others stay 0. w and w_dense are laid
 * out as v says. Units whose system LAPACK cannot factor keep their weights (counted in
 * *skipped). */
int recon_solve(const struct recon_stats *st, const struct weight_view *v, const float *w_dense,
                float *w, double damp, size_t *skipped, struct err *err);

#endif
