/* Sensitivity sweeps: every prunable layer pruned alone at each level and measured on the
 * validation rows, re-running only the graph downstream of the layer from activations kept
 * from one full run; results cached on disk. It takes the model, data and configuration as
 * an analysis_subject and applies configurations (with their dependency groups) through the
 * subject's owner, which keeps the table. Not allocation to a target. */
#ifndef PRUNESCOPE_ANALYSIS_SENSITIVITY_H
#define PRUNESCOPE_ANALYSIS_SENSITIVITY_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/subject.h"
#include "core/err.h"
#include "prune/prune.h"

#define SENS_MAX_LEVELS 64

struct sens_options {
    double levels[SENS_MAX_LEVELS];
    size_t n_levels;
    size_t rows;     /* 0: all rows; else a seeded stratified sample of this many */
    bool has_method; /* use criterion/granularity below for every layer, not each layer's */
    enum prune_criterion criterion;
    enum prune_granularity granularity;
    bool structured; /* with has_method: filters on Conv, neurons on Gemm/MatMul */
    bool fresh; /* ignore the cache */
};

/* The table has one row per layer swept; with a structured method (neuron, filter) one
 * row per dependency group instead, which prunes the whole group, named after its first
 * member. n_layers counts the rows. */
struct sens_result {
    size_t n_layers, n_levels, layers_done, rows;
    double levels[SENS_MAX_LEVELS];
    double baseline_accuracy, baseline_loss;
    size_t baseline_correct;
    char **names, **weights;       /* per row: the node and weight of its (first) layer */
    size_t *row_layer;             /* per row: that layer's index */
    size_t *row_members;           /* per row: the layers it prunes (1, or the group's) */
    int *layer_row;                /* per layer of the model: the row pruning it, or -1 */
    size_t n_model_layers;         /* entries of layer_row and methods */
    struct prune_setting *methods; /* per layer of the model: the criterion and granularity
                                      swept */
    double *accuracy, *loss;       /* n_layers x n_levels */
    double *removed;               /* n_layers x n_levels: prunable weights each level zeroes */
    size_t *correct;
    double elapsed_ms;
    bool from_cache;
    char cache_path[4096];
    char cache_note[4600]; /* why a cache file was not used, when it existed */
};

/* Called after every evaluation: done of total evaluations, seconds so far. */
typedef void (*sens_progress_fn)(void *ctx, size_t done, size_t total, double elapsed_s);

/* Runs (or loads from the cache) the sweep for the subject's model and data. Levels must
 * be in [0, 1) and rows at most the data's. Ctrl-C (the subject's cancel flag) stops it
 * between evaluations: the layers finished so far are kept (layers_done) and the result
 * is not cached. Small runs share the work with the subject's twin (ops->twin) on a second
 * thread, each thread on its own subject. The subject's configuration is on the weights
 * again afterwards. */
int sens_run(const struct analysis_subject *s, const struct sens_options *o,
             sens_progress_fn progress, void *ctx, struct sens_result *r, struct err *err);
void sens_result_fini(struct sens_result *r);

/* "level,accuracy,loss" table per layer as CSV: layer,weight,level,accuracy,correct,loss. */
int sens_write_csv(const struct sens_result *r, const char *path, bool force, const char *protect,
                   struct err *err);

#endif
