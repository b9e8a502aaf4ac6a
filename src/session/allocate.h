/* Predicted accuracy of a configuration from the sensitivity table, and allocation of
 * per-layer sparsity to a target (parameters removed, weight bytes, or an accuracy floor)
 * by Lagrangian relaxation over the table's levels. Not measuring (sensitivity.c). */
#ifndef PRUNESCOPE_SESSION_ALLOCATE_H
#define PRUNESCOPE_SESSION_ALLOCATE_H

#include "core/err.h"
#include "session/sensitivity.h"
#include "session/session.h"

/* Baseline accuracy minus the sum of each layer's drop at its sparsity, the drop read from
 * the layer's curve and interpolated linearly between measured levels (beyond the last
 * level: the last level's drop). sparsity has one entry per layer. */
double alloc_predict(const struct sens_result *r, const double *sparsity);

enum alloc_kind {
    ALLOC_PARAMS,   /* remove at least value prunable weights (value < 1: a fraction) */
    ALLOC_BYTES,    /* weights at most value bytes under the session's storage format */
    ALLOC_MAX_DROP, /* the most weights removed with a predicted drop of at most value */
};

/* Chooses one of the table's levels per layer into level[]: for ALLOC_PARAMS and
 * ALLOC_BYTES the smallest predicted accuracy loss that meets the target, for
 * ALLOC_MAX_DROP the most weights removed within the drop. Lagrangian relaxation: for a
 * price lambda every layer independently takes the level minimizing
 * drop - lambda * weights removed; lambda is bisected until the target is met, then the
 * choice is completed greedily by the cheapest remaining steps. Fails, naming what can
 * be reached, when the target is out of reach at the table's levels. */
int alloc_solve(const struct session *s, const struct sens_result *r, enum alloc_kind kind,
                double value, double *level, struct err *err);

/* Weights a level removes from layer li (floor(level * params)). */
double alloc_removed(const struct session *s, size_t li, double level);

#endif
