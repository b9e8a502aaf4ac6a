/* Sensitivity sweeps: every prunable layer pruned alone at each level and measured on the
 * validation rows, re-running only the graph downstream of the layer from activations kept
 * from one full run; results cached on disk. It lives with the session because it applies
 * configurations (with their dependency groups) through it. Not allocation to a target. */
#ifndef PRUNESCOPE_SESSION_SENSITIVITY_H
#define PRUNESCOPE_SESSION_SENSITIVITY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "session/session.h"

#define SENS_MAX_LEVELS 64

struct sens_options {
    double levels[SENS_MAX_LEVELS];
    size_t n_levels;
    size_t rows;     /* 0: all rows; else a seeded stratified sample of this many */
    bool has_method; /* use criterion/granularity below for every layer, not each layer's */
    enum prune_criterion criterion;
    enum prune_granularity granularity;
    bool fresh; /* ignore the cache */
};

struct sens_result {
    size_t n_layers, n_levels, layers_done, rows;
    double levels[SENS_MAX_LEVELS];
    double baseline_accuracy, baseline_loss;
    size_t baseline_correct;
    char **names, **weights;       /* n_layers each */
    struct prune_setting *methods; /* n_layers: the criterion and granularity swept */
    double *accuracy, *loss;       /* n_layers x n_levels */
    size_t *correct;
    double elapsed_ms;
    bool from_cache;
    char cache_path[4096];
    char cache_note[4600]; /* why a cache file was not used, when it existed */
};

/* Called after every evaluation: done of total evaluations, seconds so far. */
typedef void (*sens_progress_fn)(void *ctx, size_t done, size_t total, double elapsed_s);

/* Runs (or loads from the cache) the sweep for the session's model and data. Levels must
 * be in [0, 1) and rows at most the data's. Ctrl-C (the session's cancel flag) stops it
 * between evaluations: the layers finished so far are kept (layers_done) and the result
 * is not cached. The session's configuration is on the weights again afterwards. */
int sens_run(struct session *s, const struct sens_options *o, sens_progress_fn progress, void *ctx,
             struct sens_result *r, struct err *err);
void sens_result_fini(struct sens_result *r);

/* "level,accuracy,loss" table per layer as CSV: layer,weight,level,accuracy,correct,loss. */
int sens_write_csv(const struct sens_result *r, const char *path, bool force, const char *protect,
                   struct err *err);

#endif
