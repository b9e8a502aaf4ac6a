/* The host benchmark: measured latency of a model as its weights are now, with
 * prunescope's own engine, one row at a time (batch 1) and in chunks of rows, per node and
 * in total. Not the estimate it is compared with (cost.h). */
#ifndef PRUNESCOPE_ANALYSIS_BENCH_H
#define PRUNESCOPE_ANALYSIS_BENCH_H

#include <stddef.h>

#include "core/err.h"
#include "engine/engine.h"

struct bench_stat {
    double median, min, max;
};

struct bench_result {
    size_t rows, repeat;
    struct bench_stat batch1_ms;          /* per row, one row per run */
    struct bench_stat batched_ms_per_row; /* per row, all rows in one engine_run_rows */
    double *node_ms; /* per graph node: ms per row at batch 1 (fused nodes count in theirs) */
    int n_nodes;
};

/* Runs rows (a tensor of N rows) R times over at batch 1 and batched, and R times more at
 * batch 1 with per-node timing (node_ms: their mean). The engine's timing state is left
 * off. */
int bench_run(struct engine *e, const struct tensor *rows, size_t repeat, struct bench_result *out,
              struct err *err);
void bench_result_fini(struct bench_result *r);

/* Median, min and max of v[0..n) (reordered). */
struct bench_stat bench_stat_of(double *v, size_t n);

#endif
