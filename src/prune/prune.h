/* Pruning masks: criteria, granularities and their exact selection rules, per layer and
 * global, the configuration they make up, and the dependency group a structured removal
 * reaches. Not the session's undo history and not exporting (export/, later). */
#ifndef PRUNESCOPE_PRUNE_PRUNE_H
#define PRUNESCOPE_PRUNE_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/graph.h"
#include "model/layers.h"
#include "prune/groups.h"

enum prune_criterion { CRIT_L1, CRIT_L2, CRIT_RANDOM, CRIT_TAYLOR, CRIT_WANDA };
/* Whether the criterion ranks by scores given per weight (taylor: |w * dL/dw|; wanda:
 * |w| x the L2 norm of the weight's input over the data) rather than by the weights. */
bool prune_criterion_scored(enum prune_criterion c);

enum prune_granularity {
    GRAN_UNSTRUCTURED,
    GRAN_NEURON,  /* output units of Gemm/MatMul */
    GRAN_FILTER,  /* output channels of Conv */
    GRAN_CHANNEL, /* input channels of Conv */
    GRAN_2_4,     /* N:M along the input dimension */
    GRAN_4_8,
    GRAN_BLOCK_1X4, /* blocks of (units x inputs) */
    GRAN_BLOCK_4X4,
};

const char *prune_criterion_name(enum prune_criterion c);
const char *prune_granularity_name(enum prune_granularity g);
/* Names as in the command language: l1 l2 random taylor; unstructured neuron filter
 * channel 2:4 4:8 block1x4 block4x4. Return -1 for an unknown name. */
int prune_criterion_parse(const char *s, enum prune_criterion *out);
int prune_granularity_parse(const char *s, enum prune_granularity *out);

struct prune_setting {
    double sparsity; /* fraction in [0, 1) */
    enum prune_criterion criterion;
    enum prune_granularity granularity;
};

/* The pruning configuration: one setting per prunable layer, or one global sparsity. */
struct prune_config {
    struct prune_setting *settings; /* layers.count */
    bool global;                    /* the last change was `global`: global magnitude */
    double global_sparsity;
};

/* dst becomes a copy of src with its n settings (malloc'd: the caller frees
 * dst->settings). */
int prune_config_copy(const struct prune_config *src, size_t n, struct prune_config *dst,
                      struct err *err);

/* A layer's weight seen as a matrix of units x inputs: element (u, i) is
 * w[u * unit_stride + i * in_stride]. For Conv, units are filters and inputs run over
 * (input channel in group, kernel position); channels = input channels per group and kvol
 * the kernel volume, so input i belongs to channel i / kvol. */
struct weight_view {
    size_t units, inputs;
    size_t unit_stride, in_stride;
    size_t channels, kvol;
};

int prune_view(const struct graph *g, const struct layer *l, struct weight_view *v,
               struct err *err);

/* Whether setting s can apply to layer l: the granularity fits the op (neuron on
 * Gemm/MatMul, filter and channel on Conv) and the shape (N:M and blocks need the input
 * dimension, and blocks the units, divisible by their size), the criterion is available,
 * the sparsity is in [0, 1). Messages name the layer. */
int prune_check(const struct graph *g, const struct layer *l, const struct prune_setting *s,
                struct err *err);

/* Number of weights, units, channels or blocks a setting removes: floor(s * count). */
size_t prune_count(double sparsity, size_t count);

/* Zeros in layer l's weight as g holds it now. */
size_t prune_zeros(const struct graph *g, const struct layer *l);

/* The keep-mask of a layer's weight (1 keep, 0 prune; params bytes) for setting s, from
 * the weights w. Selection: the floor(s * count) items (weights, units, channels or blocks)
 * with the smallest score (|w|; L1 or L2 norm of a group; a seeded random score; for taylor
 * the first-order saliency |w * dL/dw| given in saliency (params entries), summed over a
 * group), ties by lowest index; N:M keeps the N largest |w| of every M consecutive inputs of each
 * unit. removed_units (units entries, may be NULL) is set for neuron and filter pruning,
 * removed_channels (channels entries, may be NULL) for channel pruning. */
int prune_mask(const struct graph *g, const struct layer *l, const float *w, const float *saliency,
               const struct prune_setting *s, uint64_t seed, uint8_t *mask, bool *removed_units,
               bool *removed_channels, struct err *err);

/* A layer's items (weights, units, channels or blocks) ranked once for one criterion and
 * granularity, by increasing score with ties by lowest index, so masks at many sparsities
 * cost no more sorting (sweeps, slider moves). prune_mask is make + mask + fini. */
struct prune_rank {
    enum prune_criterion criterion;
    enum prune_granularity granularity;
    size_t params, count;
    struct weight_view view;
    size_t *order;    /* count items, the first floor(s * count) go at sparsity s */
    uint8_t *nm_mask; /* N:M: the one keep-mask (the sparsity does not change it) */
};
int prune_rank_make(const struct graph *g, const struct layer *l, const float *w,
                    const float *saliency, enum prune_criterion criterion,
                    enum prune_granularity granularity, uint64_t seed, struct prune_rank *r,
                    struct err *err);
void prune_rank_fini(struct prune_rank *r);
/* The keep-mask at sparsity s, as prune_mask gives it. */
int prune_rank_mask(const struct prune_rank *r, double sparsity, uint8_t *mask,
                    bool *removed_units, bool *removed_channels, struct err *err);

/* Global magnitude pruning: keep-masks of all layers (masks[i] has layers[i].params bytes)
 * zeroing the floor(s * total) smallest |w| over all weights together, ties by layer order
 * then flat index. weights[i] are the layers' current weights. */
int prune_global_masks(const struct layer_list *layers, const float *const *weights,
                       double sparsity, uint8_t *const *masks, struct err *err);

/* The units of group gi of gs in the order a structured removal takes them: by increasing
 * score, ties by lowest unit (the first channel's layer order, then index). The score sums
 * over the group's members the norm of each channel's incoming weights (L1: sum |w|; L2: the
 * L2 norm of each filter or neuron, summed), or its taylor saliency (sum |w * dL/dw|), or is
 * a seeded random number; for a group of one layer this is exactly filter / neuron pruning.
 * weights[li] and saliency[li] (NULL when absent) are per layer. order receives the
 * group's n_units unit ids. */
int prune_group_order(const struct graph *g, const struct layer_list *layers,
                      const struct group_set *gs, size_t gi, const float *const *weights,
                      const float *const *saliency, enum prune_criterion criterion, uint64_t seed,
                      size_t *order, struct err *err);

/* Where the removal of units (or channels) of a layer reaches: the bias entries, the
 * BatchNormalization channels and the consumer layer's input columns that must go with
 * them so the pruned model equals the physically smaller one. */
struct prune_reach {
    int bias;        /* value id of the layer's bias, or -1 */
    int bn[4];       /* BatchNormalization scale, bias: value ids (-1 when none) */
    int consumer;    /* index into the layer list of the next prunable layer, or -1 */
    size_t per_unit; /* consumer inputs per removed unit (e.g. H*W after Flatten) */
    bool safe;       /* false: an op on the way does not map 0 to 0 (or mixes
                        branches), so the group is only masked */
    char why[160];   /* when !safe: what stopped it */
};

/* Follows the output of layer index li through ops that keep zeros zero and channels in
 * place (activations with f(0) = 0, pooling, BatchNormalization, Flatten, Dropout,
 * Identity) to the next prunable layer. */
void prune_find_reach(const struct graph *g, const struct layer_list *layers, size_t li,
                      struct prune_reach *r);

#endif
