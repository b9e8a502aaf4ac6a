/* Hardware profiles: what a target device computes and stores, read from JSON files (the
 * bundled ones and the user's own, which shadow bundled ones of the same name). Not the
 * estimate made with them (cost.h). */
#ifndef PRUNESCOPE_ANALYSIS_PROFILE_H
#define PRUNESCOPE_ANALYSIS_PROFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* The sparse storage formats a profile rates, in this order. */
enum profile_sparse { PROFILE_CSR, PROFILE_BITMASK, PROFILE_NM, PROFILE_BLOCK, PROFILE_N_SPARSE };
const char *profile_sparse_name(enum profile_sparse f);

struct profile {
    char name[64];
    char description[256];
    char core[64];
    double clock_mhz;
    double macs_fp32, macs_int8; /* sustained multiply-accumulates per second */
    double bw_sram, bw_flash;    /* sustained bytes per second */
    double sram_bytes, flash_bytes;
    double layer_overhead_s; /* per layer (operator) run */
    struct {
        double efficiency; /* share of the dense MAC rate per non-zero */
        double break_even; /* sparsity above which the format's kernel beats dense */
    } sparse[PROFILE_N_SPARSE];
    double pj_mac_fp32, pj_mac_int8, pj_byte_sram, pj_byte_flash;
    /* The optional "kernels" object: how the device's kernels treat kinds of layers. */
    double depthwise_efficiency; /* share of the dense MAC rate depthwise layers reach (1) */
    double sparse_min_weights;   /* a layer with fewer weights stays dense (0) */
    bool sparse_depthwise;       /* depthwise layers take the sparse kernels (true) */
    json_t *sources;             /* figure group -> the public document it comes from (owned) */
    char path[4096];             /* the file it was read from */
    bool user;                   /* from the user's folder (else bundled) */
};

/* Reads and checks one profile file: every field present, numbers positive (efficiency in
 * (0, 1], break_even in [0, 1)), no unknown field, a source for each figure, and the name
 * equal to the file's name without ".json"; "kernels" (depthwise_efficiency in (0, 1],
 * sparse_min_weights >= 0, sparse_depthwise true or false, and its source) may be left out.
 * Errors name the file and the field. */
int profile_read(const char *path, struct profile *p, struct err *err);
void profile_fini(struct profile *p);
/* The checks of profile_read on a JSON object already in memory (path names it in
 * messages), without the file-name rule. */
int profile_from_json(const char *path, json_t *root, struct profile *p, struct err *err);

struct profile_list {
    struct profile *items; /* by name */
    size_t count;
};

/* Every *.json of bundled_dir, then of user_dir (either may be NULL or absent), a user
 * profile replacing the bundled one of its name. A file that does not read is an error. */
int profile_list_load(struct profile_list *l, const char *bundled_dir, const char *user_dir,
                      struct err *err);
void profile_list_fini(struct profile_list *l);
const struct profile *profile_find(const struct profile_list *l, const char *name);
/* "a, b and c": the names, for messages. */
void profile_names(const struct profile_list *l, char *buf, size_t size);

/* The bundled profiles: $PRUNESCOPE_DATADIR/profiles, the source tree's data/profiles
 * (when run from the build tree), else the installed package data directory's. */
void profile_bundled_dir(char *buf, size_t size);
/* $XDG_CONFIG_HOME/prunescope/profiles, else ~/.config/prunescope/profiles. */
void profile_user_dir(char *buf, size_t size);

#endif
