/* What the screen shows, read from the session in one go after each command: the header,
 * one row per layer, the metrics and the curves. The screen draws only from it, so it can
 * keep drawing while a command runs on the session. Not drawing (draw.c) and not
 * computing figures: every value comes from the session and the analysis layer. */
#ifndef PRUNESCOPE_TUI_SNAPSHOT_H
#define PRUNESCOPE_TUI_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/sensitivity.h"
#include "session/session.h"

struct snap_layer {
    char name[64]; /* the layer's short display name */
    char op[12];
    char shape[40];
    int64_t params;
    size_t zeros;
    double sparsity;               /* the setting (under global: the share of zeros) */
    char method[40];               /* "l1 unstructured" */
    int group;                     /* 1-based dependency group, 0: none */
    size_t group_size;             /* layers in the group */
    bool structured;               /* its setting removes whole units (moves the group) */
    double curve[SENS_MAX_LEVELS]; /* accuracy at each level of the table; NaN: none */
    double drop;                   /* predicted accuracy drop at its sparsity; NaN: no table */
};

struct snap_point {
    double sparsity, accuracy, predicted;
    bool guided, reached;
};

struct snapshot {
    char model[256], data[256];
    size_t rows;
    char profile[64], storage[24];
    char profiles[32][64]; /* every profile's name, for p */
    size_t n_profiles;
    bool global;
    double global_sparsity;

    size_t n_layers;
    struct snap_layer *layers;

    /* The sensitivity table. */
    bool have_sens, sens_partial;
    size_t n_levels, sens_rows;
    double levels[SENS_MAX_LEVELS];
    double baseline; /* the table's baseline accuracy, NaN: none */

    /* Metrics of the configuration. */
    size_t params, nonzero, prunable, prunable_zeros;
    double macs_dense, macs_effective;
    size_t weight_bytes;
    bool have_estimate;
    double latency_ms, energy_uj, flash_bytes, sram_bytes, flash_cap, sram_cap;
    bool fits_flash, fits_sram;
    char estimate_note[1024]; /* why there is no estimate */
    bool have_host;           /* bench measured the weights as they are */
    double host_ms;
    bool have_prediction;
    double predicted, predicted_raw; /* accuracy */
    size_t prediction_measured;

    /* The last size-vs-accuracy curve. */
    size_t n_points;
    struct snap_point *points;

    size_t undo_pos, n_undo;
    bool have_model, have_data;
};

/* Fill (replacing what it held) from s. Call only when nothing else uses s. */
int snapshot_take(struct snapshot *sn, struct session *s, struct err *err);
void snapshot_fini(struct snapshot *sn);

#endif
