/* The graph IR: named values (tensors flowing between nodes), nodes with attributes,
 * constants, graph inputs and outputs. Not tied to ONNX's protobuf types (onnx_reader.c
 * converts) and not executable by itself (engine/ runs it). */
#ifndef PRUNESCOPE_MODEL_GRAPH_H
#define PRUNESCOPE_MODEL_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/tensor.h"

enum attr_type {
    ATTR_FLOAT = 1,
    ATTR_INT = 2,
    ATTR_STRING = 3,
    ATTR_TENSOR = 4,
    ATTR_FLOATS = 6,
    ATTR_INTS = 7,
    ATTR_STRINGS = 8,
    ATTR_OTHER = 100, /* graphs, sparse tensors, type protos: kept by name only */
};

struct attr {
    char *name;
    enum attr_type type;
    float f;
    int64_t i;
    char *s;
    float *floats;
    int64_t *ints;
    size_t n; /* length of floats / ints */
    struct tensor *t;
};

/* A value: one edge of the graph. Its declared shape may hold -1 for a dimension the model
 * names symbolically (dim_param, e.g. the batch) or leaves unknown. */
struct value {
    char *name;
    enum dtype dtype;
    int onnx_elem_type; /* as declared (0 when not declared); may be outside enum dtype */
    bool has_shape;     /* a declared shape exists */
    struct shape shape;
    char *dim_param[TENSOR_MAX_DIMS]; /* symbolic names of declared dims, or NULL */
    struct tensor *constant;          /* data when the value is an initializer (owned) */
    int producer;                     /* index of the producing node, or -1 */
};

struct node {
    char *name;
    char *op_type;
    char *domain;
    int n_inputs;
    int *inputs; /* value ids; -1 for an omitted optional input */
    int n_outputs;
    int *outputs; /* value ids; -1 for an omitted optional output */
    int n_attrs;
    struct attr *attrs;
};

struct graph {
    char *name;
    char *producer; /* producer_name and version of the exporter */
    int64_t opset;  /* of the default ("" / "ai.onnx") domain */
    int64_t ir_version;
    struct value *values;
    int n_values, cap_values;
    struct node *nodes; /* in a topological order after graph_sort */
    int n_nodes, cap_nodes;
    int *inputs; /* graph inputs that are not initializers */
    int n_inputs;
    int *outputs;
    int n_outputs;
};

struct graph *graph_new(struct err *err);
void graph_free(struct graph *g);

/* Value id by name, or -1. */
int graph_find_value(const struct graph *g, const char *name);
/* Value id by name, creating an empty value when absent. -1 on OOM. */
int graph_intern_value(struct graph *g, const char *name, struct err *err);
/* Append a node (fields are taken over by the graph); returns its index or -1. */
int graph_add_node(struct graph *g, struct node *n, struct err *err);

/* Order the nodes so every node comes after the producers of its inputs; fills
 * value.producer. Fails naming the node when an input has no producer, initializer or
 * graph input, naming the output when a graph output has none of them, or on a cycle. */
int graph_sort(struct graph *g, struct err *err);

const struct attr *node_attr(const struct node *n, const char *name);
int64_t node_attr_int(const struct node *n, const char *name, int64_t dflt);
float node_attr_float(const struct node *n, const char *name, float dflt);
const char *node_attr_string(const struct node *n, const char *name, const char *dflt);
/* The ints of an INTS attribute, or NULL (with *count 0) when absent. */
const int64_t *node_attr_ints(const struct node *n, const char *name, size_t *count);

/* Number of float32 elements in initializers (the model's parameter count). */
size_t graph_param_count(const struct graph *g);

void attr_fini(struct attr *a);
void node_fini(struct node *n);

#endif
