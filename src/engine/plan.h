/* A graph specialized to concrete input shapes: every value's shape, the nodes folded at
 * planning time (constants, shape arithmetic), and a buffer assignment for the rest.
 * Not for running (engine.c) and not cached here (the engine keeps plans by input shape). */
#ifndef PRUNESCOPE_ENGINE_PLAN_H
#define PRUNESCOPE_ENGINE_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/tensor.h"
#include "kernels/op.h"
#include "model/graph.h"

struct plan_step {
    int node; /* index into graph nodes */
    const struct op_def *op;
    size_t scratch_bytes;
    void *prepared; /* from op->prepare, released with the plan */
    /* Nodes run inside this step's run call (plan_opts.fuse): a BatchNormalization and/or
     * a Relu or Clip after a Conv, in order; the step then writes out_value, the last
     * one's output, and post holds what they compute (its arrays owned). */
    int n_fused;
    int fused[2];
    int out_value;
    struct op_post *post;
};

struct plan {
    const struct graph *graph;
    int64_t opset;
    struct shape *input_shapes; /* the key: one per graph input */
    /* Per value: dtype and shape; data non-NULL when known at planning time (borrowed
     * from the graph's initializers or owned when folded, see owned[]). */
    struct tensor *values;
    bool *known;
    bool *owned;
    int *buffer; /* per value: workspace buffer index, or -1 (known, or absent) */
    size_t *buffer_bytes;
    int n_buffers;
    struct plan_step *steps; /* nodes left to run, in order */
    int n_steps;
    size_t max_scratch_bytes;
    size_t activation_bytes; /* total of buffer_bytes: the workspace size */
    bool folds_float;        /* some folded node read float data (weights) */
    /* Per value: computed inside a fused step and never stored (NULL when nothing was
     * fused). */
    bool *fused_away;
};

/* The value output o of step st writes: for a fused step, output 0 is the last fused
 * node's. */
int plan_step_output(const struct plan *p, const struct plan_step *st, int o);

/* Each value's lifetime over the steps: first[v] the step that writes it (0 for a graph
 * input given at run time; -1 for values no step writes), last[v] the last step that reads
 * it (p->n_steps for a graph output, alive to the end; -1 when none). Both arrays have
 * one entry per graph value. The buffers are assigned from these, and the cost model's
 * SRAM arena too. */
void plan_lifetimes(const struct plan *p, int *first, int *last);

/* Multiply-adds of step st with the plan's shapes (0 for ops that count none). */
double plan_step_macs(const struct plan *p, const struct plan_step *st);
/* The elements the step's op reads without MACs (its work function), or 0. */
double plan_step_work(const struct plan *p, const struct plan_step *st);

/* After the graph's weights changed in place: make the ops' prepared data again (of the
 * steps reading a value flagged in changed; NULL: all). Returns
 * 1 when the plan cannot follow the change (it folded weights, or needs more scratch) and
 * must be made anew, -1 on error. */
int plan_refresh_prepared(struct plan *p, const bool *changed, struct err *err);

/* Specialize g for these input shapes (one per graph input, in order) and dtypes. ops holds
 * the resolved op of every node. int64 inputs are shape-like parameters (a Reshape target,
 * Unsqueeze axes): when input_values is non-NULL their values are copied into the plan and
 * treated as known, and become part of its key. Fails with the node's name for shape
 * errors. */
struct plan *plan_new(const struct graph *g, const struct op_def *const *ops,
                      const struct shape *input_shapes, const enum dtype *input_dtypes,
                      const struct tensor *const *input_values, struct err *err);

/* What plan_new_opts may do beyond plan_new, and what it reports. */
struct plan_opts {
    /* Dim 0 of graph input 0 may differ from the fixed size the file declares (a model
     * exported for a batch of B planned for another row count). */
    bool free_batch;
    /* When non-NULL (one per graph value): every value's shape as far as planning got,
     * also on failure; ndim is -1 for values it did not reach. */
    struct shape *shapes;
    /* Out: the node whose shape function failed, or -1. */
    int failed_node;
    /* Run a BatchNormalization and an activation after a Conv inside its run call when
     * the Conv's output has no other reader (the engine's plans; the gradient pass keeps
     * every value). Values flagged in keep (per graph value; NULL: none) are never fused
     * away. */
    bool fuse;
    const bool *keep;
};

/* plan_new with options (NULL: none, the same as plan_new). */
struct plan *plan_new_opts(const struct graph *g, const struct op_def *const *ops,
                           const struct shape *input_shapes, const enum dtype *input_dtypes,
                           const struct tensor *const *input_values, struct plan_opts *opts,
                           struct err *err);
void plan_free(struct plan *p);

/* Same shapes, and the same values for int64 inputs (input_values may be NULL when the
 * graph has no int64 inputs). */
bool plan_matches(const struct plan *p, const struct shape *input_shapes,
                  const struct tensor *const *input_values);

/* What the steps of one node added up to over the timed runs of a workspace. */
struct plan_node_time {
    double ms;          /* wall time in the op's run call */
    double macs;        /* multiply-adds by the op's macs function (0 when it has none) */
    unsigned long runs; /* run calls */
};

/* Buffers for one worker running one plan. */
struct workspace {
    const struct plan *plan;
    struct tensor *values; /* per value; views into bufs, the plan's constants or inputs */
    void **bufs;
    void *scratch;
    /* NULL, or accumulators indexed by graph node (borrowed; the caller sets this before
     * each run, and gives each thread its own): every step run adds its time to its node's
     * entry. NULL costs one branch per step. */
    struct plan_node_time *times;
};

struct workspace *workspace_new(const struct plan *p, struct err *err);
void workspace_free(struct workspace *w);

/* Run the plan's steps. inputs[i] binds graph input i (borrowed; shapes as planned). The
 * graph outputs are then in w->values[g->outputs[k]]. Steps are timed into w->times when
 * it is set. */
int workspace_run(struct workspace *w, const struct tensor *const *inputs, struct err *err);
/* The same, running only the steps of nodes with run_node[node] (NULL: all), and copying
 * each of the n_capture values capture_values[c] to capture_dst[c] as soon as it is
 * computed (buffers are reused once a value is dead). */
int workspace_run_subset(struct workspace *w, const struct tensor *const *inputs,
                         const bool *run_node, int n_capture, const int *capture_values,
                         void *const *capture_dst, struct err *err);

#endif
