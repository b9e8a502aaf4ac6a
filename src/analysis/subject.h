/* What an analysis (sweep, allocation, curve, prediction) works on: one exploration's model,
 * data and configuration, borrowed, and the few operations that must go through their
 * owner. The session fills one (session_subject) right before each analysis; the analysis
 * never sees the session. Not the analyses themselves (sensitivity.h, allocate.h, curve.h). */
#ifndef PRUNESCOPE_ANALYSIS_SUBJECT_H
#define PRUNESCOPE_ANALYSIS_SUBJECT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/cost.h"
#include "analysis/finetune.h"
#include "analysis/profile.h"
#include "core/err.h"
#include "dataset/dataset.h"
#include "dataset/metrics.h"
#include "engine/engine.h"
#include "model/layers.h"
#include "prune/groups.h"
#include "prune/prune.h"

struct analysis_subject;
struct sens_result;
struct predict_fit;

/* How accuracy is recovered after pruning (curve --recover). */
enum recover_kind { RECOVER_NONE, RECOVER_RECONSTRUCT, RECOVER_FINETUNE };
struct recover_spec {
    enum recover_kind kind;
    const char *data;     /* the calibration or training CSV */
    size_t rows;          /* reconstruct: calibration rows (0: all) */
    double damp;          /* reconstruct */
    struct ft_options ft; /* finetune */
};

/* What only the owner can do, each on the owner's weights and engine (ctx is the subject's
 * ctx). One thread at a time per subject. */
struct analysis_ops {
    /* Put cfg on the weights (with its dependency groups) without making it the
     * configuration; the configuration comes back with apply(ctx, subject->config). */
    int (*apply)(void *ctx, const struct prune_config *cfg, struct err *err);
    /* Metrics of the weights as they are now on all rows of the data (no top-k). */
    int (*eval)(void *ctx, struct metrics *m, struct err *err);
    /* The cost model's estimate of the weights as they are now on profile p, in the
     * subject's storage format (cost_estimate_fini frees it). */
    int (*estimate)(void *ctx, const struct profile *p, struct cost_estimate *out, struct err *err);
    /* Bytes of all float parameters as they are now under the subject's storage format. */
    size_t (*weight_bytes)(void *ctx);
    /* A second subject on the same model, with weights and an engine of its own on one
     * thread and the same data (borrowed), kept by the owner: for work split by tasks on
     * a second thread. -1 with err set when there is none. */
    int (*twin)(void *ctx, struct analysis_subject *out, struct err *err);
    /* Re-fit (reconstruct) or fine-tune the weights as cfg puts them now, in place and
     * holding cfg's pruning, as spec says; the next apply puts a configuration back from
     * the owner's own weights. */
    int (*recover)(void *ctx, const struct prune_config *cfg, const struct recover_spec *spec,
                   struct err *err);
};

/* Everything is borrowed from the owner and valid until it loads another model or data
 * or keeps another sensitivity table (config follows the owner's configuration). The
 * analysis changes the weights only through ops->apply and puts config back on them
 * before it returns. */
struct analysis_subject {
    struct engine *engine; /* NULL until a model is loaded */
    const struct layer_list *layers;
    enum output_kind output_kind;
    const char *model_sha256;       /* of the model file as loaded */
    const struct group_set *groups; /* the layers' dependency groups; NULL: no analysis */
    const char *groups_error;       /* why there are no groups */

    const struct dataset *data; /* NULL until data is loaded */
    const char *data_path;
    const char *data_sha256; /* of the data file as loaded */
    const struct dataset_options *data_opt;
    struct shape row_shape; /* per-row input shape the data is reshaped to */

    const struct prune_config *config; /* what is on the weights when no analysis runs */
    enum storage storage;
    uint64_t seed; /* of the random criterion and of row samples */
    int threads;   /* as the owner runs: <= 0 all cores, 1 keeps the analysis on one */
    const volatile sig_atomic_t *cancel; /* Ctrl-C (may be NULL) */

    const struct sens_result *sens; /* the owner's sensitivity table, or NULL */
    struct predict_fit *pred;       /* the owner's refinement of predictions */

    const struct analysis_ops *ops;
    void *ctx;
};

#endif
