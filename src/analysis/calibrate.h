/* calibrate: measures this machine with prunescope's own kernels (layers of the shapes
 * models run, dense and on the sparse kernels, at batch 1 through the engine) and makes the
 * `host` profile from them, its figures fitted so that the cost model reproduces what was
 * measured. Not the profile's file format (profile.h). */
#ifndef PRUNESCOPE_ANALYSIS_CALIBRATE_H
#define PRUNESCOPE_ANALYSIS_CALIBRATE_H

#include "analysis/profile.h"
#include "core/err.h"

typedef void (*calibrate_progress_fn)(void *ctx, size_t done, size_t total, double elapsed_s);

/* One measured figure, for the report. */
struct calibrate_item {
    char what[96];
    double value;
    const char *unit;
};

#define CALIBRATE_MAX_ITEMS 32

struct calibrate_result {
    struct calibrate_item items[CALIBRATE_MAX_ITEMS];
    size_t n_items;
    double elapsed_s;
};

/* Measures and writes the host profile to path (atomically, its folder made), filling p
 * with what was written (sources included) and r with the measurements. */
int calibrate_host(const char *path, calibrate_progress_fn progress, void *ctx, struct profile *p,
                   struct calibrate_result *r, struct err *err);

#endif
