/* A loaded model ready to run: ops resolved, plans per input shape, worker buffers, and
 * execution over batches of rows on all cores. Not for reading files (model/) or measuring
 * accuracy (dataset/, later). */
#ifndef PRUNESCOPE_ENGINE_ENGINE_H
#define PRUNESCOPE_ENGINE_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/tensor.h"
#include "kernels/op.h"
#include "model/graph.h"

struct engine;

/* Takes ownership of g (freed by engine_free, or here on failure). Fails naming the node,
 * its op type and the supported list when an op is outside the table, naming the node
 * when it has no (first) output, and with the shape error when the graph does not check
 * out for a batch of one row. threads <= 0 means all cores. */
struct engine *engine_new(struct graph *g, int threads, struct err *err);
void engine_free(struct engine *e);

/* Load an ONNX file and make an engine of it. */
struct engine *engine_open(const char *path, int threads, struct err *err);

const struct graph *engine_graph(const struct engine *e);
/* The resolved op of every node (for the gradient pass). */
const struct op_def *const *engine_ops(const struct engine *e);
int engine_threads(const struct engine *e);

/* Run once on exactly these inputs (one per graph input, borrowed), single-threaded.
 * outputs[k] receives a new tensor for graph output k (caller frees). */
int engine_run(struct engine *e, const struct tensor *const *inputs, struct tensor **outputs,
               struct err *err);

/* Run a single-input model over many rows: input's dim 0 counts rows, which are split
 * into chunks across the threads. Every graph output must keep dim 0 as the row
 * dimension. outputs[k] receives a new tensor (caller frees). How chunks are planned
 * follows engine_batch_mode: any row count runs; when the model runs B rows at a time and
 * B does not divide the rows, the last group is padded with copies of its last row and the
 * padded rows' outputs are dropped (a model whose rows influence each other then sees
 * those copies). */
int engine_run_rows(struct engine *e, const struct tensor *input, struct tensor **outputs,
                    struct err *err);

/* How engine_run_rows treats the batch dimension (dim 0 of graph input 0), decided once
 * at engine_new:
 *   "dynamic"          the file leaves dim 0 symbolic: chunks are planned for their rows;
 *   "re-planned"       the file fixes dim 0 to B, but the graph plans for other row counts
 *                      (B+1 and 2B+1 tried) with every runtime value keeping the batch in
 *                      some dim and every output in dim 0, and B+1 probe rows batched give
 *                      what the file's batch of B gives on them (this check is skipped for
 *                      non-float inputs and when it would cost over 5e8 multiply-adds):
 *                      chunks are planned as for "dynamic";
 *   "B rows at a time" (e.g. "1 row at a time") anything else, typically a Reshape whose
 *                      target hard-codes the batch: the file's plan for B rows runs once
 *                      per group of B rows, groups split into chunks across the threads.
 * Shapes from engine_value_shape, the chunk size and the MACs per row follow the mode (B
 * rows at a time: shapes are those of the file's batch, MACs divided by B). The string is
 * owned by the engine. */
const char *engine_batch_mode(const struct engine *e);
/* The batch the file fixes on graph input 0, or 0 when dim 0 is symbolic. */
int64_t engine_batch_fixed(const struct engine *e);
/* Why a fixed batch is not re-planned ("node '/Reshape' hard-codes it"); "" otherwise. */
const char *engine_batch_reason(const struct engine *e);

/* Initializer values of the graph were changed in place (pruning): what ops prepared
 * from them (sparse copies) is made again, and plans that folded them are made again on
 * next use. changed (one flag per graph value; NULL: all) limits this to the nodes that
 * read a changed value. */
void engine_weights_changed(struct engine *e, const bool *changed);

/* While *flag is non-zero, engine_run_rows stops between chunks and fails with code
 * ERR_CANCELLED ("cancelled"). flag (borrowed) is typically set by a SIGINT handler; NULL
 * turns the check off. */
void engine_set_cancel(struct engine *e, const volatile sig_atomic_t *flag);

/* Options of a run over rows. A partial run executes only the nodes flagged in run_node,
 * taking the values bind_values[i] (whatever nodes would produce them) from bind[i], which
 * hold all rows; captured[i] (allocated here when NULL) receives all rows of
 * capture_values[i]. These are how a change to one layer re-runs only the graph
 * downstream of it. */
struct engine_rows_opts {
    const bool *run_node;
    int n_bind;
    const int *bind_values;
    const struct tensor *const *bind;
    int n_capture;
    const int *capture_values;
    struct tensor **captured;
};

/* engine_run_rows with options (NULL: none). input gives the rows and their shape; its data
 * is only read when a node that reads it runs. */
int engine_run_rows_ex(struct engine *e, const struct tensor *input,
                       const struct engine_rows_opts *opts, struct tensor **outputs,
                       struct err *err);

/* Rows per chunk that engine_run_rows uses (fitted to the cache). */
size_t engine_chunk_rows(struct engine *e);

/* Shape of graph value `v` for a batch of `rows` rows, from the plan (for `info`). Returns
 * -1 when the model cannot be planned. */
int engine_value_shape(struct engine *e, int v, int64_t rows, struct shape *out, struct err *err);
/* Numbers per row of graph output 0 (the product of its dims after the batch, from the
 * one-row plan); 0 when there is no output or the model cannot be planned. */
size_t engine_outputs_per_row(struct engine *e);

struct plan;
/* The plan for a batch of `rows` rows: every value's shape and the values known before
 * running (constants, folded shape arithmetic). Owned by the engine; valid until its
 * weights change or it is freed. NULL with err set when the model cannot be planned. */
const struct plan *engine_plan_rows(struct engine *e, int64_t rows, struct err *err);

/* The plan a device would run one row with: fused (whatever PRUNESCOPE_FUSE says), for
 * the file's batch of B rows when the engine runs B rows at a time (*rows_per_plan B,
 * else 1). Owned by the engine, as engine_plan_rows's. */
const struct plan *engine_plan_deployed(struct engine *e, int64_t *rows_per_plan, struct err *err);

/* Whether value v is known before running (a constant, or folded from constants and
 * shapes). */
bool engine_value_known(struct engine *e, int v);

/* Multiply-accumulates per row of the model's dense computation (Gemm, MatMul, Conv). */
double engine_macs_per_row(struct engine *e);

/* Per-node timing: where the time of engine_run_rows, engine_run_rows_ex and engine_run
 * goes, node by node. Each thread adds to accumulators of its own (no locks while running);
 * engine_node_times merges them. Off by default; when off a step costs one branch more. */

/* What one node cost over the measured runs. */
struct engine_node_time {
    double ms;          /* wall time in the node's op, summed over chunks and threads */
    double macs;        /* multiply-adds it did, by its op's macs function (0: no count) */
    unsigned long runs; /* times it ran: 0 for a node folded at planning, or not run */
};

/* The totals over the measured runs. */
struct engine_timing {
    double nodes_ms;     /* sum of the nodes' ms (thread time: up to workers x run_ms) */
    double run_ms;       /* wall time inside the measured calls */
    int workers;         /* the most threads one measured call ran on */
    unsigned long calls; /* measured calls */
};

/* on: clear the accumulators and measure every run from now on; off: stop measuring,
 * keeping what was measured for engine_node_times. Fails only when out of memory (for
 * the accumulators, threads x nodes entries), leaving timing off. */
int engine_set_timing(struct engine *e, bool on, struct err *err);
bool engine_timing_on(const struct engine *e);

/* Copies what was measured since timing was last turned on (zeros when it never was):
 * times (NULL: not wanted) receives one entry per graph node, in node order, and
 * total (NULL: not wanted) the totals. Both are the caller's. */
void engine_node_times(const struct engine *e, struct engine_node_time *times,
                       struct engine_timing *total);

#endif
