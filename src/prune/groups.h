/* Dependency groups: which output channels (filters of Conv, neurons of Gemm/MatMul) of the
 * prunable layers are coupled through the graph, so that a structured removal takes every
 * coupled slice at once, and what stops a group from being removed. Not choosing what to
 * remove (prune.c ranks, the session decides) and not editing files (export/).
 *
 * The analysis follows every output channel through the graph on the plan of one row: each
 * prunable layer's output channels get labels, and the labels travel with the data through
 * element-wise ops, normalizations, pooling, concatenations, slices and reshapes (the
 * data-movement ops are run on the labels themselves). Two channels that meet in an
 * element-wise op of two activations (a residual Add, a squeeze-and-excitation Mul) are
 * coupled; so are a depthwise convolution's filters and its input channels, and the same
 * position in every group of a grouped convolution or of an even split. A set of coupled
 * channels is a unit; the layers whose channels share units form a group, pruned as one.
 *
 * Removing a unit removes, from every member, the filters or neurons of its channels (and
 * their biases), from every consumer the input columns that read them (a Conv's input
 * channels, a Gemm's inputs, after a Flatten each channel's block of features), and from
 * every per-channel constant (BatchNormalization, bias Adds, Mul/Div scales, PRelu slopes)
 * its entries. What a removed channel holds before its consumers never matters then, so
 * the masked model (entries zeroed) and the physically smaller one compute the same. */
#ifndef PRUNESCOPE_PRUNE_GROUPS_H
#define PRUNESCOPE_PRUNE_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "engine/plan.h"
#include "model/graph.h"
#include "model/layers.h"

/* A constant (initializer) whose entries along one axis follow channels. */
struct group_const {
    int value;     /* graph value id of the initializer */
    int node;      /* the node that reads it with the channels */
    int axis;      /* its axis indexed by channel */
    bool zeroable; /* a bias or a scale: zeroing a removed entry keeps values finite */
    size_t len;    /* entries along axis */
    int *unit;     /* per index along axis: the unit, or -1 */
};

/* An entry of an int64 constant written in the file that counts channels: a Reshape's
 * target size of an axis of channels, a Slice's start or end on one, a Split's part size.
 * On export it becomes the number of entries kept among positions [from, upto) of that
 * axis. */
struct group_shape_edit {
    int value;         /* the constant: an initializer or a Constant node's output */
    int node;          /* the node reading it */
    size_t index;      /* the entry */
    size_t len;        /* entries along the axis */
    size_t from, upto; /* the positions it counts */
    int *unit;         /* per position along the axis: the unit, or -1 */
};

struct prune_group {
    size_t *members; /* layer indices whose output channels are this group's units */
    size_t n_members;
    size_t *units; /* unit ids, ordered by their first channel (layer order, then index) */
    size_t n_units;
    bool blocked;  /* cannot be pruned structurally; why says which node stops it */
    char why[256];
};

struct group_set {
    size_t n_layers;
    size_t *out_count; /* per layer: output channels (units of prune_view) */
    size_t *slot_base; /* per layer: slot of its output channel 0 */
    size_t n_slots;
    int *slot_unit; /* per slot: its unit */
    size_t n_units;
    int *unit_group; /* per unit: its group */
    int *layer_group; /* per layer: the group of its output channels */
    int **in_unit;    /* per layer: per input column (Conv input channel, Gemm/MatMul input),
                         the unit it reads, or -1; NULL when it reads no tracked channel */
    size_t *in_count;
    bool *depthwise;  /* per layer: a Conv with one input channel per group */
    struct group_const *consts;
    size_t n_consts;
    struct group_shape_edit *edits;
    size_t n_edits;
    struct prune_group *groups;
    size_t n_groups;
};

/* Analyse g on plan p (a plan of one row: shapes and the values known before running) for
 * the prunable layers. Fails only on out of memory or a plan that does not match g; what
 * the analysis cannot follow blocks the groups concerned, with the reason. */
int groups_find(const struct graph *g, const struct plan *p, const struct layer_list *layers,
                struct group_set *gs, struct err *err);
void groups_fini(struct group_set *gs);

/* The unit of layer li's output channel c. */
static inline int groups_unit_of(const struct group_set *gs, size_t li, size_t c)
{
    return gs->slot_unit[gs->slot_base[li] + c];
}

/* Zero, in g's initializers, everything the units flagged in removed (n_units entries)
 * reach: member filters or neurons and their biases, consumer input columns, zeroable
 * per-channel constants. */
void groups_zero(const struct group_set *gs, struct graph *g, const struct layer_list *layers,
                 const bool *removed);

/* The group of layer li's output channels, or NULL when there is none: gs NULL (no
 * analysis), or a layer without output channels of its own. */
const struct prune_group *groups_layer_group(const struct group_set *gs, size_t li);
/* Whether layer li of layers can take a structured setting; err says why not, naming the
 * layer and the node that stops its group. gs NULL means there is no analysis, for the
 * reason `unavailable`. */
int groups_check_structured(const struct group_set *gs, const char *unavailable,
                            const struct layer_list *layers, size_t li, struct err *err);

/* Channel pruning of the layers' inputs is not a group; nor is unstructured pruning. */

#endif
