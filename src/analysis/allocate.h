/* Predicted accuracy of a configuration from the sensitivity table, and allocation of
 * per-layer sparsity to a target (parameters removed, weight bytes, or an accuracy floor)
 * by Lagrangian relaxation over the table's levels. Not measuring (sensitivity.c). */
#ifndef PRUNESCOPE_ANALYSIS_ALLOCATE_H
#define PRUNESCOPE_ANALYSIS_ALLOCATE_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/profile.h"
#include "analysis/sensitivity.h"
#include "analysis/subject.h"
#include "core/err.h"
#include "prune/prune.h"

/* Baseline accuracy minus the sum of each layer's drop at its sparsity, the drop read from
 * the layer's curve and interpolated linearly between measured levels (beyond the last
 * level: the last level's drop), and not below the table's lowest accuracy (about chance:
 * summed drops say nothing below it). sparsity has one entry per layer of the model; a
 * group's row reads its first member's. */
double alloc_predict(const struct sens_result *r, const double *sparsity);

/* The accuracy drop row `row` of the table predicts at sparsity x (alloc_predict's per-row
 * term). */
double alloc_row_drop(const struct sens_result *r, size_t row, double x);

/* Per-layer sparsity of the subject's configuration as the curves read it: each layer's
 * setting, or under global pruning the share of the layer's weights that are 0. */
void alloc_config_sparsity(const struct analysis_subject *s, double *sparsity);

/* Predicted accuracy of the subject's configuration from its sensitivity table. raw is
 * alloc_predict's; refined scales the summed drop by k, fitted by least squares (through
 * the origin, with a prior of k = 1 worth one 1-point drop) to the drops measured so far
 * (predict_learn). */
struct prediction {
    double baseline, drop; /* the table's baseline and the predicted drop */
    double raw, refined, scale;
    size_t measured; /* evaluations the scale was fitted on */
};
/* What the refinement has learnt: sums over measured evaluations of predicted drop x
 * measured drop and of predicted drop squared, the last predicted drop and the count.
 * Zeroed (or predict_reset) it has learnt nothing; the owner of the table keeps it. */
struct predict_fit {
    double sxy, sxx, last_drop;
    size_t measured;
};
/* 0, or -1 with why set when no complete table for this model exists. The scale comes
 * from s->pred. */
int predict_config(const struct analysis_subject *s, struct prediction *p, struct err *why);
/* Refine with a measured accuracy for the configuration p was predicted for. Repeated
 * measurements of the same predicted drop count once in a row. */
void predict_learn(struct predict_fit *f, const struct prediction *p, double measured);
/* Forget what was learnt (a new table or model). */
void predict_reset(struct predict_fit *f);

enum alloc_kind {
    ALLOC_PARAMS,   /* remove at least value prunable weights (value < 1: a fraction, as
                       many as uniform pruning at it removes: the sum of floor(value * params)
                       over layers) */
    ALLOC_BYTES,    /* weights at most value bytes under the subject's storage format */
    ALLOC_MAX_DROP, /* the most weights removed with a predicted drop of at most value */
    ALLOC_COST,     /* save at least value of an estimated cost (latency or energy), the
                       saving of each (row, level) given in cost_saved (alloc_cost_savings) */
};

/* Chooses one of the table's levels per row, written per layer into level[] (every layer
 * of a group's row gets the row's level; layers without a row 0): for ALLOC_PARAMS and
 * ALLOC_BYTES the smallest predicted accuracy loss that meets the target, for
 * ALLOC_MAX_DROP the most weights removed within the drop. Lagrangian relaxation: for a
 * price lambda every layer independently takes the level minimizing
 * drop - lambda * weights removed; lambda is bisected until the target is met, then the
 * choice is completed greedily by the cheapest remaining steps. Fails, naming what can
 * be reached, when the target is out of reach at the table's levels. */
int alloc_solve(const struct analysis_subject *s, const struct sens_result *r, enum alloc_kind kind,
                double value, const double *cost_saved, double *level, struct err *err);

/* For ALLOC_COST: what each row of the table saves alone at each level (n_layers x
 * n_levels, row-major) of the cost model's latency in seconds (or, with energy, its
 * energy in uJ) on profile p, against *base, the cost with nothing pruned, and the
 * most all rows save together (*max, the sum of each row's best). Each row's layers are
 * put on the weights at each level and estimated (ops->apply, ops->estimate); the
 * subject's configuration is on the weights again afterwards. */
int alloc_cost_savings(const struct analysis_subject *s, const struct sens_result *r,
                       const struct profile *p, bool energy, double *saved, double *base,
                       double *max, struct err *err);

/* Weights a level removes from layer li (floor(level * params)). */
double alloc_removed(const struct analysis_subject *s, size_t li, double level);
/* Weights a row of the table removes at level: floor(level * params) for a layer, as
 * measured for a dependency group (interpolated between the table's levels). */
double alloc_row_removed(const struct analysis_subject *s, const struct sens_result *r, size_t row,
                         double level);
/* Weights all rows remove at the per-layer levels (as alloc_solve gives them). */
double alloc_removed_all(const struct analysis_subject *s, const struct sens_result *r,
                         const double *level);
/* cfg's settings for per-layer levels: each layer's swept method at its level; layers no
 * row prunes (groups that cannot be pruned) at 0. */
void alloc_levels_to_config(const struct analysis_subject *s, const struct sens_result *r,
                            const double *level, struct prune_config *cfg);

#endif
