/* One exploration: the model, the validation data, the per-layer settings and the history
 * of commands. The front ends share it through the command table. Not parsing commands
 * (commands/) and not drawing anything. */
#ifndef PRUNESCOPE_SESSION_SESSION_H
#define PRUNESCOPE_SESSION_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "analysis/allocate.h"
#include "analysis/cost.h"
#include "analysis/finetune.h"
#include "analysis/profile.h"
#include "analysis/subject.h"
#include "core/err.h"
#include "dataset/dataset.h"
#include "dataset/metrics.h"
#include "engine/engine.h"
#include "model/layers.h"
#include "prune/groups.h"
#include "prune/prune.h"

struct curve_result;

/* A layer's ranking kept between configurations: masks at another sparsity with the same
 * method need no new sort. */
struct layer_rank {
    struct prune_rank rank;
    bool valid;
    uint64_t seed;
    unsigned saliency_gen; /* of the saliency a taylor ranking was made from */
};

/* A dependency group's ranking of its units, kept like layer_rank. */
struct group_rank {
    size_t *order; /* the group's units in removal order */
    bool valid;
    enum prune_criterion criterion;
    uint64_t seed;
    unsigned saliency_gen;
};

struct session {
    int threads;
    const volatile sig_atomic_t *cancel; /* set by the front end's SIGINT handler */

    char *model_path;
    char model_sha256[65]; /* of the model file as loaded */
    char data_sha256[65];  /* of the data file as loaded */
    char data_key[65];     /* what the sensitivity cache knows the data by: data_sha256, or
                              with held-out rows a digest of it and their count */
    struct engine *engine; /* NULL until a model is loaded */
    struct layer_list layers;
    enum output_kind output_kind;

    char *data_path;
    struct dataset *data;   /* what is measured on: data_all, or its rows after the held out */
    struct dataset *data_all; /* the validation file as loaded (owned); NULL until loaded */
    size_t holdout;           /* data_all's first rows, held out (reconstruct's calibration) */
    struct dataset *recover_data; /* curve --recover's data (owned), read once */
    char *recover_path;
    struct shape recover_shape;
    struct shape row_shape; /* per-row input shape the data is reshaped to */
    struct dataset_options data_opt;

    struct prune_config config;        /* what is applied to the weights now */
    float **original;                  /* per graph value: the float initializer as loaded */
    bool *dirty;                       /* per graph value: differs from original now */
    struct layer_rank *ranks;          /* per layer: the ranking last used on it */
    unsigned saliency_gen;             /* counts saliency computations */
    struct prune_config *undo;         /* configurations before each change */
    size_t n_undo, cap_undo, undo_pos; /* undo[undo_pos..n_undo) are redo states */
    /* Per undo entry: NULL, or (a change of the weights themselves: fine-tuning) the
     * originals of the other side of it, per graph value (NULL where unchanged). */
    float ***undo_originals;
    int weights_trained; /* fine-tunings the originals carry (0: the file's weights) */
    char weights_sha256[65]; /* of the originals: the file's SHA-256 until trained */
    uint64_t seed;                     /* of the random criterion */
    enum storage storage;
    struct group_set groups; /* dependency groups of the layers' output channels */
    bool groups_ok;          /* false: no analysis (groups_error says why) */
    char groups_error[256];
    struct group_rank *group_ranks; /* per group */
    bool *removed;                  /* per unit: removed by the configuration applied now */
    float **saliency;               /* per layer |w * dL/dw| on the data (taylor), or NULL */
    bool saliency_done;             /* computed for the current model and data */
    char taylor_blocked[512];       /* the node without a backward that stopped gradients */
    float **wanda;                  /* per layer |w| x the norm of its input (wanda), or NULL */
    bool wanda_done;                /* computed for the current model and data */
    struct sens_result *sens;       /* the last sensitivity table (owned), or NULL */
    struct predict_fit pred;        /* online refinement of predictions from sens */

    struct session *twin; /* session_twin's, or NULL */

    struct curve_result *curve; /* the last size-vs-accuracy curve (owned), or NULL */
    /* Counts the changes of the weights as configured (configure, undo, redo, fine-tuning,
     * a new model), so that a figure measured on them can tell it is out of date. */
    unsigned weights_gen;
    double bench_ms;      /* bench's batch-1 median per row on this machine (0: none), */
    unsigned bench_gen;   /* measured at weights_gen bench_gen */

    struct profile_list profiles; /* bundled and the user's, read on first use */
    bool profiles_loaded;
    char profile[64]; /* the selected profile's name; "" until one is selected */

    char **history;
    size_t n_history, cap_history;
    bool quit; /* set by the quit command */
};

/* threads <= 0 means all cores; cancel (borrowed, may be NULL) stops long work. */
struct session *session_new(int threads, const volatile sig_atomic_t *cancel, struct err *err);
void session_free(struct session *s);

/* Load a model, replacing the current one only on success. A loaded dataset stays when
 * it still fits the new model; otherwise it is dropped and *dropped_data says why (may be
 * NULL). */
int session_load_model(struct session *s, const char *path, char *dropped_data, size_t dropped_size,
                       struct err *err);

/* Load a CSV validation set for the current model (which must be loaded). row_shape,
 * when non-NULL, overrides the per-row input shape inferred from the model (needed when
 * the model's input dims are symbolic beyond the batch). Replaces the current data only
 * on success. */
int session_load_data(struct session *s, const char *path, const struct dataset_options *opt,
                      const struct shape *row_shape, struct err *err);

/* Features per row the model's input takes (product of its dims after the batch); 0 with
 * err set when a dim is symbolic. */
size_t session_model_features(const struct session *s, struct shape *row_shape, struct err *err);
/* Numbers of outputs per row of graph output 0. */
size_t session_model_outputs(const struct session *s);

/* Run the model on all rows of the data and compute metrics (top_k 0: none). elapsed_ms
 * receives the time of the run and the metrics. */
int session_eval(struct session *s, int top_k, struct metrics *m, double *elapsed_ms,
                 struct err *err);

/* Weight statistics of the current model. */
struct weight_stats {
    size_t params;          /* elements of all float initializers */
    size_t nonzero_params;  /* of which are not 0 */
    size_t prunable_params; /* elements of the prunable layers' weights */
    size_t prunable_zeros;  /* of which are 0 */
};
void session_weight_stats(const struct session *s, struct weight_stats *ws);

/* MACs per row of one layer (from the planned shapes). */
double session_layer_macs(const struct session *s, const struct layer *l);

/* Change the configuration: validate every setting against its layer, apply it to the
 * weights (from the originals), and remember the previous one for undo. On error nothing
 * changes. `next` is copied. */
int session_configure(struct session *s, const struct prune_config *next, struct err *err);
/* Put cfg on the weights without making it the configuration (no undo entry); the
 * configuration comes back with session_apply_temporary(s, &s->config, ...). For
 * measurements such as sensitivity sweeps. */
int session_apply_temporary(struct session *s, const struct prune_config *cfg, struct err *err);

/* A copy of the current configuration (caller frees settings with free()). */
int session_config_copy(const struct session *s, struct prune_config *out, struct err *err);
int session_undo(struct session *s, struct err *err);
int session_redo(struct session *s, struct err *err);

/* Whether a setting removes whole filters or neurons (and so works through the layer's
 * dependency group). */
bool session_setting_structured(const struct prune_setting *st);
/* The dependency group of layer li's output channels, or NULL when there is none (no
 * analysis, or a layer without output channels of its own). */
const struct prune_group *session_layer_group(const struct session *s, size_t li);
/* Whether layer li can take a structured setting; err says why not (naming the layer and
 * the node that stops its group). */
int session_check_structured(const struct session *s, size_t li, struct err *err);
/* Units (of s->groups) the configuration applied now removes, one flag per unit; NULL when
 * there is no analysis. */
const bool *session_removed_units(const struct session *s);

/* Dense and effective (non-zero weights only) MACs per row of the prunable layers. */
void session_macs(const struct session *s, double *dense, double *effective);
/* Bytes of all float parameters under the session's storage format (index and metadata
 * bytes included). */
size_t session_weight_bytes(const struct session *s);
/* The kernel a layer runs with now: "csr" or "dense". */
const char *session_layer_kernel(const struct session *s, const struct layer *l);

/* Zeros in a layer's weight now. */
size_t session_layer_zeros(const struct session *s, const struct layer *l);

/* A second session on the same model (the file read again and checked against the
 * SHA-256 loaded) with weights and an engine of its own on one thread, sharing s's data
 * (borrowed: it is never freed through the twin): for work split by tasks, not rows,
 * when a run is too small to share out. Kept in s until the model or data changes. NULL
 * with err set when it cannot be made. */
struct session *session_twin(struct session *s, struct err *err);

/* What the analysis (analysis/) reads of s, borrowed, and its operations on s: apply is
 * session_apply_temporary, eval session_eval, estimate session_estimate, weight_bytes
 * session_weight_bytes, twin the subject of session_twin. It follows s's configuration;
 * fill another after s loads a model or data or keeps another sensitivity table. */
void session_subject(struct session *s, struct analysis_subject *out);

/* A zeroed tensor of n rows of the model's input: each row shaped as the data's rows when
 * data is loaded, else as the model plans one row. For benchmarks. */
struct tensor *session_input_rows(struct session *s, size_t n, struct err *err);

/* The hardware profiles (read from the bundled and the user's folders on first use). */
const struct profile_list *session_profiles(struct session *s, struct err *err);
/* Selects profile name; fails naming the available ones. */
int session_select_profile(struct session *s, const char *name, struct err *err);
/* The selected profile, or by default `host` when calibrate has written it, else
 * cortex-m7 (else the first there is). NULL with err set when there are none. */
const struct profile *session_profile(struct session *s, struct err *err);
/* The cost model's estimate of the model as configured now, in the session's storage
 * format, on profile p (cost_estimate_fini frees it). */
int session_estimate(struct session *s, const struct profile *p, struct cost_estimate *out,
                     struct err *err);

/* Fine-tune the weights on the training CSV at train_path (read with the validation data's
 * options; checked against the model and the data: same features, classes within the
 * model's outputs, not the validation file itself), holding the configuration's pruning:
 * the pruned weights and the parameters of removed units stay 0. Trains every Conv, Gemm
 * and constant MatMul weight and bias and BatchNormalization's scale and bias (its
 * statistics stay as they are). The trained weights become the session's originals (later
 * configurations prune them); undo brings the previous weights back. On_epoch, progress
 * and ctx go to ft_run; Ctrl-C keeps the last completed epoch (none: nothing changes). */
int session_finetune(struct session *s, const char *train_path, const struct ft_options *o,
                     ft_epoch_fn on_epoch, ft_progress_fn progress, void *ctx,
                     struct ft_result *r, struct err *err);

/* What reconstruct did to one layer. */
struct recon_layer_report {
    size_t layer;  /* index into layers */
    size_t kept;   /* weights re-fitted */
    size_t samples, skipped; /* calibration samples; units LAPACK could not solve */
};
struct recon_report {
    size_t rows; /* calibration rows used */
    size_t n_unfit;  /* pruned layers left as they were (grouped convolutions) */
    char unfit[1024]; /* why, for the first of them */
    size_t n_layers;
    struct recon_layer_report *layers; /* (owned) */
    double elapsed_s;
};
/* Re-fit the kept weights of every layer pruning changed, in graph order, by least squares
 * (analysis/reconstruct.h) on the first `rows` rows (0: all) of the calibration CSV at
 * calib_path (read and checked as for session_finetune), with damping damp. The inputs of
 * the dense model are captured once; each layer is then fed what the layers before it,
 * pruned and already re-fitted, give it. The re-fitted weights become the originals, as
 * after fine-tuning (undo brings the old ones back). */
int session_reconstruct(struct session *s, const char *calib_path, size_t rows, double damp,
                        struct recon_report *r, struct err *err);
/* Hold out the validation file's first n rows from measurement (for calibration): every
 * measurement after it is on the other rows, and what was measured before (the
 * sensitivity table, predictions, gradients) goes. n must leave a row to measure; 0 ends
 * holding out. */
int session_hold_out(struct session *s, size_t n, struct err *err);
void recon_report_fini(struct recon_report *r);

/* Remember a command line; returns -1 only on out of memory. */
int session_add_history(struct session *s, const char *line, struct err *err);

#endif
