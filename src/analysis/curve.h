/* The size-vs-accuracy curve: for targets from 0 to 95% of the prunable weights removed,
 * uniform pruning and sensitivity-guided allocation, each measured on the data beside the
 * accuracy the sensitivity curves predict. Not the allocation (allocate.c). */
#ifndef PRUNESCOPE_ANALYSIS_CURVE_H
#define PRUNESCOPE_ANALYSIS_CURVE_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/profile.h"
#include "analysis/subject.h"
#include "core/err.h"

struct curve_point {
    double target;   /* fraction of the prunable weights asked to be removed */
    bool guided;     /* sensitivity-guided allocation, else uniform */
    bool reached;    /* false: the table's levels cannot reach the target (guided only) */
    double sparsity; /* zeros / prunable weights on the weights measured */
    double accuracy, loss, predicted;
    size_t correct, weight_bytes;
    double latency_ms, energy_uj; /* estimated on the profile given; NaN: none */
    double recovered;             /* accuracy after the recovery asked for; NaN: none */
    size_t recovered_correct;
};

struct curve_result {
    size_t n; /* points: uniform then guided for each target */
    struct curve_point *points;
    double error_upto;              /* targets up to this count in the error figures */
    double median_error, max_error; /* |predicted - measured| accuracy, fractions */
    size_t n_error;
    double elapsed_ms;
};

typedef void (*curve_progress_fn)(void *ctx, size_t done, size_t total, double elapsed_s);

/* Measures n_targets targets evenly spaced from 0 to 0.95 (n_targets >= 2) with the
 * subject's sensitivity table (which must be complete and for this model); each layer is
 * pruned with the method it was swept with, and each point is measured (ops->eval) and
 * estimated on profile prof (ops->estimate; prof NULL: latency and energy NaN). The
 * measurements refine later predictions (predict_learn on s->pred). With recover (NULL:
 * none), each point's weights are then re-fitted or fine-tuned (ops->recover) and measured
 * again (recovered). The subject's configuration is on the weights again afterwards.
 * Ctrl-C (the subject's cancel flag) stops it with ERR_CANCELLED. */
int curve_run(const struct analysis_subject *s, size_t n_targets, const struct profile *prof,
              const struct recover_spec *recover, curve_progress_fn progress, void *ctx,
              struct curve_result *out, struct err *err);
void curve_result_fini(struct curve_result *r);

#endif
