/* The cost model: a model's latency, energy, flash and SRAM on a hardware profile, per
 * layer and in total, for the weights as they are now (pruned in place) and a storage
 * format. It takes the graph, its one-row plan and the prunable layers as arguments; not
 * the session (which owns the result) and not the profiles' files (profile.h). */
#ifndef PRUNESCOPE_ANALYSIS_COST_H
#define PRUNESCOPE_ANALYSIS_COST_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/profile.h"
#include "core/err.h"
#include "engine/plan.h"
#include "model/layers.h"

/* How the weights would be stored on the device, for their bytes and the estimate. */
enum storage {
    STORAGE_DENSE_FP32,
    STORAGE_DENSE_FP16,
    STORAGE_DENSE_INT8,
    STORAGE_CSR,
    STORAGE_BITMASK,
    STORAGE_NM,
    STORAGE_BLOCK,
};
/* Names as in the command language: dense-fp32 dense-fp16 dense-int8 csr bitmask nm block;
 * storage_parse returns -1 for an unknown name. */
const char *storage_name(enum storage st);
int storage_parse(const char *s, enum storage *out);

/* Element type of weights and activations on the device. */
enum cost_dtype { COST_FP32, COST_FP16, COST_INT8 };

/* How the weights are stored: a dtype, and a sparse format (one of enum profile_sparse)
 * or -1 for dense. */
struct cost_format {
    enum cost_dtype dtype;
    int sparse;
};

/* One step of the execution order (a node, with the nodes fused into it). */
struct cost_row {
    int node;
    const char *op;
    double macs;         /* executed: structured removal and a sparse kernel leave out MACs */
    double weight_bytes; /* read from flash (or DRAM): weights in the format (dense when the
                            layer runs its dense kernel), other params */
    double act_bytes;    /* activations read and written */
    double compute_s, memory_s, time_s;
    double energy_uj;
    const char *bottleneck; /* "compute" or "memory" */
};

struct cost_estimate {
    struct cost_row *rows;
    size_t n_rows;
    double latency_s, energy_uj, inferences_per_mwh;
    double flash_bytes;    /* weights and parameters in the storage format */
    double sram_bytes;     /* arena of the greedy-by-size planner */
    double sram_peak_live; /* the most bytes live at once (the planner's lower bound) */
    bool fits_flash, fits_sram;
};

/* What a pruned layer executes: its weight's units (rows) and input channels that are all
 * zero are removed outright (as export removes them); of what remains, the share that is
 * not zero. */
struct cost_kept {
    double kept_fraction; /* kept weights / all weights (units x channels kept) */
    double density;       /* non-zero weights / kept weights */
};
int cost_layer_kept(const struct graph *g, const struct layer *l, struct cost_kept *out,
                    struct err *err);

/* The estimate of one row of g on prof, p being planned for `rows` rows (a model that runs a
 * fixed batch of B rows has its one-row plan for B: MACs, activation bytes and buffers are
 * then per row, weights still read once per row). layer_bytes[i] is layers[i]'s weight
 * in the format (indices included), which a dense format scales by the kept fraction (an
 * export drops the removed units and channels); flash_bytes, when > 0, the total the
 * caller counts (else the sum over the steps). Per step: MACs (a layer's dense MACs times its kept
 * fraction, and times its density too when the format is sparse and its sparsity at or
 * past the format's break-even), compute = MACs / the dtype's MAC rate (/ the format's
 * efficiency on the sparse kernel), memory = weight bytes / flash bandwidth + activation
 * bytes / SRAM bandwidth, time = max(compute, memory) + the per-layer overhead, energy =
 * MACs x pJ/MAC + weight bytes x pJ/byte (flash) + activation bytes x pJ/byte (SRAM).
 * SRAM: every activation buffer placed by cost_plan_arena. */
int cost_estimate(const struct graph *g, const struct plan *p, double rows,
                  const struct layer_list *layers, const double *layer_bytes, double flash_bytes,
                  const struct cost_format *fmt, const struct profile *prof,
                  struct cost_estimate *out, struct err *err);
void cost_estimate_fini(struct cost_estimate *e);

/* Bytes of a weight in CSR: 4-byte values, a column index per value and a row pointer per
 * unit plus one, each index as narrow as it can be (1, 2, 4 or 8 bytes). */
double cost_csr_bytes(size_t nnz, size_t units, size_t inputs);
/* Bytes of an index that counts up to max: 1, 2, 4 or 8. */
size_t cost_index_bytes(size_t max);

/* Greedy-by-size arena planning (as TensorFlow Lite Micro's greedy memory planner does):
 * buffers in decreasing size, each at the lowest offset where it overlaps no placed
 * buffer alive at the same time; buffer i lives over steps [first[i], last[i]]. Writes
 * each offset (may be NULL) and returns the arena size; *peak gets the most bytes alive at
 * one step. */
double cost_plan_arena(size_t n, const double *size, const int *first, const int *last,
                       double *offset, double *peak, struct err *err);

#endif
