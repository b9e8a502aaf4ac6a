/* The prunable layers of a graph: every Gemm, MatMul with a constant weight, and Conv, with
 * its weight tensor. Not pruning itself (prune/, later) and not MACs, which need shapes
 * (engine/). */
#ifndef PRUNESCOPE_MODEL_LAYERS_H
#define PRUNESCOPE_MODEL_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/graph.h"

struct layer {
    int node;         /* index into graph nodes */
    int weight;       /* value id of the weight initializer */
    const char *name; /* the node's name (borrowed from the graph) */
    char *display;    /* a short unique name: for PyTorch exports the module path, e.g.
                         features.2.conv.1 for /features/features.2/conv/conv.1/conv.1.0/Conv
                         (owned by the list) */
    const char *op;   /* Gemm, MatMul or Conv */
    const char *weight_name;
    struct shape shape; /* of the weight */
    int64_t params;     /* elements of the weight */
};

struct layer_list {
    struct layer *items;
    size_t count;
};

/* Fills list with the prunable layers of g in node order. A Gemm whose B or a MatMul whose
 * second input is not an initializer is not prunable (it multiplies two activations). */
int layers_find(const struct graph *g, struct layer_list *list, struct err *err);
void layers_fini(struct layer_list *list);

/* A layer by node name, display name, weight name or 1-based index written in decimal;
 * NULL when none. */
const struct layer *layers_lookup(const struct layer_list *list, const char *key);

#endif
