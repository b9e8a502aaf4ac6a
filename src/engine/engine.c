/* Execution of a loaded model: op resolution, a small cache of plans keyed by input shapes,
 * and the split of many rows into cache-sized chunks run on the thread pool.
 * Not for planning itself (plan.c) or op arithmetic (kernels/). */
#include "engine/engine.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "core/timer.h"
#include "engine/plan.h"
#include "kernels/ops.h"
#include "model/onnx_reader.h"

#define MAX_PLANS 8
/* The least work (multiply-adds) worth a chunk of its own on another thread: waking a
 * thread and joining it costs some microseconds. */
#define MIN_CHUNK_MACS 1048576.0

/* Activation bytes one chunk of rows may use. A core's L2 (1 MiB here) was the first
 * choice, but the GEMMs of few columns it left (4 rows of efficientnet_b0, 7 of resnet18)
 * spent their time packing the weights: with 8 MiB (part of the shared L3) the CPU time of
 * evaluating 800 rows on one thread fell from 1.56 to 0.89 s on efficientnet_b0, 0.29 to
 * 0.24 s on mobilenet_v2, 1.56 to 1.38 s on resnet18 and 0.85 to 0.69 s on
 * regnet_x_400mf (4 and 16 MiB measured too). */
#define CHUNK_BUDGET_BYTES (8u * 1024u * 1024u)

/* The most multiply-adds spent at load time checking that a fixed-batch model gives the
 * same rows batched as in the file's own batch (3B+1 rows are run). */
#define BATCH_CHECK_MACS 5e8
/* What one pooling window read counts for in that bound: a read costs less than a MAC on
 * its own, but the pooling paths read through tables and, under the sanitizers, far more
 * slowly (a MaxPool [47,90,49,28] with pads [2,2,80,2] took 28 s to load under ASan with
 * reads counted as MACs). */
#define BATCH_CHECK_READ_WEIGHT 16.0

enum batch_mode {
    BATCH_DYNAMIC,   /* dim 0 of input 0 is symbolic */
    BATCH_REPLANNED, /* fixed B in the file, planned for any row count */
    BATCH_FIXED,     /* fixed B in the file, run B rows at a time */
};

struct cached_plan {
    struct plan *plan;
    struct workspace **ws; /* one per thread, made on first use */
    unsigned long last_used;
    bool fused; /* planned with plan_opts.fuse */
};

struct engine {
    struct graph *g;
    const struct op_def **ops;
    int threads;
    struct threadpool *pool;
    struct cached_plan plans[MAX_PLANS];
    unsigned long clock;
    size_t chunk_rows;
    double *node_macs; /* per node, multiply-adds per row; set with chunk_rows */
    const volatile sig_atomic_t *cancel;
    bool fuse; /* plans fuse Conv with what follows (PRUNESCOPE_FUSE=0 turns it off) */
    enum batch_mode batch_mode;
    int64_t fixed_batch;    /* dim 0 that graph input 0 declares, or 0 when symbolic */
    char batch_text[48];    /* engine_batch_mode */
    char batch_reason[320]; /* engine_batch_reason */
    /* engine_set_timing: per thread, one row of timing_stride accumulators indexed by
     * node (rows padded apart so threads never share a cache line); NULL until first on. */
    bool timing_on;
    struct plan_node_time *timing;
    size_t timing_stride;
    struct engine_timing timing_total; /* nodes_ms is filled by engine_node_times */
};

static void cached_plan_fini(struct engine *e, struct cached_plan *c)
{
    if (c->ws)
        for (int t = 0; t < e->threads; t++)
            workspace_free(c->ws[t]);
    free(c->ws);
    plan_free(c->plan);
    memset(c, 0, sizeof *c);
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    for (int i = 0; i < MAX_PLANS; i++)
        cached_plan_fini(e, &e->plans[i]);
    pool_free(e->pool);
    free(e->timing);
    free(e->node_macs);
    free(e->ops);
    graph_free(e->g);
    free(e);
}

void engine_weights_changed(struct engine *e, const bool *changed)
{
    /* Plans keep pointing at the weights; only what ops prepared from them (sparse copies)
     * is made again, unless a plan folded weights or needs another scratch size. */
    for (int i = 0; i < MAX_PLANS; i++) {
        struct cached_plan *c = &e->plans[i];
        if (!c->plan)
            continue;
        struct err ignored;
        if (c->plan->folds_float || plan_refresh_prepared(c->plan, changed, &ignored) != 0)
            cached_plan_fini(e, c);
    }
}

void engine_set_cancel(struct engine *e, const volatile sig_atomic_t *flag)
{
    e->cancel = flag;
}

int engine_set_timing(struct engine *e, bool on, struct err *err)
{
    if (!on) {
        e->timing_on = false;
        return 0;
    }
    /* Three spare entries (72 bytes) after each thread's row keep rows off shared lines. */
    size_t stride = (size_t)e->g->n_nodes + 3, n = stride * (size_t)e->threads;
    if (!e->timing) {
        e->timing = calloc(n, sizeof *e->timing);
        if (!e->timing) {
            e->timing_on = false;
            return err_oom(err, "timing accumulators", n * sizeof *e->timing);
        }
    } else {
        memset(e->timing, 0, n * sizeof *e->timing);
    }
    e->timing_stride = stride;
    memset(&e->timing_total, 0, sizeof e->timing_total);
    e->timing_on = true;
    return 0;
}

bool engine_timing_on(const struct engine *e)
{
    return e->timing_on;
}

void engine_node_times(const struct engine *e, struct engine_node_time *times,
                       struct engine_timing *total)
{
    double nodes_ms = 0;
    for (int n = 0; n < e->g->n_nodes; n++) {
        struct engine_node_time sum = {0};
        for (int t = 0; e->timing && t < e->threads; t++) {
            const struct plan_node_time *a = &e->timing[(size_t)t * e->timing_stride + (size_t)n];
            sum.ms += a->ms;
            sum.macs += a->macs;
            sum.runs += a->runs;
        }
        nodes_ms += sum.ms;
        if (times)
            times[n] = sum;
    }
    if (total) {
        *total = e->timing_total;
        total->nodes_ms = nodes_ms;
    }
}

/* Worker's accumulators while timing is on, else NULL (set before every run). */
static struct plan_node_time *timing_row(const struct engine *e, int worker)
{
    return e->timing_on ? e->timing + (size_t)worker * e->timing_stride : NULL;
}

const struct op_def *const *engine_ops(const struct engine *e)
{
    return e->ops;
}

const struct graph *engine_graph(const struct engine *e)
{
    return e->g;
}
int engine_threads(const struct engine *e)
{
    return e->threads;
}

const char *engine_batch_mode(const struct engine *e)
{
    return e->batch_text;
}

int64_t engine_batch_fixed(const struct engine *e)
{
    return e->fixed_batch;
}

const char *engine_batch_reason(const struct engine *e)
{
    return e->batch_reason;
}

/* The plan for these input shapes, fused (plan_opts.fuse) when asked and the engine fuses
 * (or always, with force), made (evicting the least recently used) when absent. */
static struct cached_plan *get_plan_mode(struct engine *e, const struct shape *shapes,
                                         const enum dtype *dtypes,
                                         const struct tensor *const *values, bool fuse, bool force,
                                         struct err *err)
{
    fuse = fuse && (e->fuse || force);
    struct cached_plan *slot = &e->plans[0];
    for (int i = 0; i < MAX_PLANS; i++) {
        struct cached_plan *c = &e->plans[i];
        if (c->plan && c->fused == fuse && plan_matches(c->plan, shapes, values)) {
            c->last_used = ++e->clock;
            return c;
        }
        if (!c->plan || (slot->plan && c->last_used < slot->last_used))
            slot = c;
    }
    cached_plan_fini(e, slot);
    struct plan_opts opts = {.free_batch = e->batch_mode == BATCH_REPLANNED, .fuse = fuse};
    slot->plan = plan_new_opts(e->g, e->ops, shapes, dtypes, values, &opts, err);
    if (!slot->plan)
        return NULL;
    slot->fused = fuse;
    slot->ws = calloc((size_t)e->threads, sizeof *slot->ws);
    if (!slot->ws) {
        cached_plan_fini(e, slot);
        err_oom(err, "workspaces", 0);
        return NULL;
    }
    slot->last_used = ++e->clock;
    return slot;
}

static struct cached_plan *get_plan(struct engine *e, const struct shape *shapes,
                                    const enum dtype *dtypes, const struct tensor *const *values,
                                    struct err *err)
{
    return get_plan_mode(e, shapes, dtypes, values, true, false, err);
}

/* Whether a partial run needs what plan p fused away: a value it keeps or gives, or a
 * fused node run apart from the node it was fused into. */
static bool needs_unfused(const struct plan *p, const struct engine_rows_opts *o)
{
    if (!o || !p->fused_away)
        return false;
    for (int k = 0; k < o->n_capture; k++)
        if (p->fused_away[o->capture_values[k]])
            return true;
    for (int b = 0; b < o->n_bind; b++)
        if (p->fused_away[o->bind_values[b]])
            return true;
    for (int s = 0; o->run_node && s < p->n_steps; s++)
        for (int f = 0; f < p->steps[s].n_fused; f++)
            if (o->run_node[p->steps[s].fused[f]] != o->run_node[p->steps[s].node])
                return true;
    return false;
}

static struct workspace *get_workspace(struct cached_plan *c, int worker, struct err *err)
{
    if (!c->ws[worker])
        c->ws[worker] = workspace_new(c->plan, err);
    return c->ws[worker];
}

/* Shapes of the graph inputs for `rows` rows: declared dims, with symbolic ones set to
 * rows in dim 0 and 1 elsewhere; with free_batch, dim 0 of input 0 is rows even when the
 * file fixes it. */
static int input_shapes(const struct graph *g, int64_t rows, bool free_batch, struct shape *shapes,
                        enum dtype *dtypes, struct err *err)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const struct value *v = &g->values[g->inputs[i]];
        if (!v->has_shape)
            return err_set(err, "input '%s' declares no shape", v->name);
        shapes[i] = v->shape;
        for (int d = 0; d < v->shape.ndim; d++)
            if (shapes[i].dims[d] < 0 || (free_batch && i == 0 && d == 0))
                shapes[i].dims[d] = d == 0 ? rows : 1;
        dtypes[i] = v->dtype == DTYPE_UNDEFINED ? DTYPE_FLOAT : v->dtype;
    }
    return 0;
}

/* The same for the engine's batch mode: the file's fixed batch unless re-planned. */
static int input_shapes_for_rows(const struct engine *e, int64_t rows, struct shape *shapes,
                                 enum dtype *dtypes, struct err *err)
{
    return input_shapes(e->g, rows, e->batch_mode == BATCH_REPLANNED, shapes, dtypes, err);
}

static double node_macs_per_row(struct engine *e, double *macs);

/* Whether some dim of a value planned for `rows` rows follows the batch: dim 0 scaling with
 * it (rows per row, or rows times something merged into it), or any dim equal to the row
 * count where the file's batch plan has B (the batch moved by a Transpose). ref is the
 * value's shape in the plan for the file's batch of B. */
static bool follows_batch(const struct shape *s, const struct shape *ref, int64_t rows, int64_t b)
{
    if (s->ndim < 1 || s->ndim != ref->ndim)
        return false;
    if (s->dims[0] != ref->dims[0] && s->dims[0] * b == ref->dims[0] * rows)
        return true;
    for (int d = 0; d < s->ndim; d++)
        if (s->dims[d] == rows && ref->dims[d] == b)
            return true;
    return false;
}

/* Plans the graph for `rows` rows with the batch free and says whether every runtime value
 * that planning reached keeps the batch somewhere and every output keeps it in dim 0. On
 * false, why names the first node whose output lost the batch, else the output or the
 * planning error. */
static bool batch_probe(struct engine *e, const struct plan *ref, int64_t rows, char *why,
                        size_t why_size)
{
    const struct graph *g = e->g;
    int64_t b = e->fixed_batch;
    struct shape shapes[64];
    enum dtype dtypes[64];
    struct err err;
    struct shape *vs = malloc(((size_t)g->n_values + 1) * sizeof *vs);
    if (!vs) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    for (int v = 0; v < g->n_values; v++)
        vs[v].ndim = -1;
    struct plan_opts opts = {.free_batch = true, .shapes = vs};
    struct plan *p = NULL;
    if (input_shapes(g, rows, true, shapes, dtypes, &err) == 0)
        p = plan_new_opts(g, e->ops, shapes, dtypes, NULL, &opts, &err);
    bool ok = p != NULL;
    why[0] = '\0';
    int last = p || opts.failed_node < 0 ? g->n_nodes : opts.failed_node;
    for (int n = 0; n < last && !why[0]; n++) {
        const struct node *nd = &g->nodes[n];
        bool batch_in = false;
        for (int k = 0; k < nd->n_inputs; k++) {
            int v = nd->inputs[k];
            batch_in |=
                v >= 0 && !ref->known[v] && follows_batch(&vs[v], &ref->values[v].shape, rows, b);
        }
        for (int o = 0; batch_in && o < nd->n_outputs && !why[0]; o++) {
            int v = nd->outputs[o];
            if (v < 0 || ref->known[v] || vs[v].ndim < 0)
                continue;
            if (!follows_batch(&vs[v], &ref->values[v].shape, rows, b))
                snprintf(why, why_size, "node '%s' hard-codes it", nd->name);
        }
    }
    for (int k = 0; p && k < g->n_outputs && !why[0]; k++) {
        const struct tensor *o = &p->values[g->outputs[k]];
        if (o->shape.ndim < 1 || o->shape.dims[0] != rows)
            snprintf(why, why_size, "output '%s' does not follow the batch",
                     g->values[g->outputs[k]].name);
    }
    if (!p && !why[0])
        snprintf(why, why_size, "a batch of %lld rows does not plan: %.240s", (long long)rows,
                 err.msg);
    plan_free(p);
    free(vs);
    return ok && !why[0];
}

/* Deterministic values in [-1, 1) for the batch check. */
static void fill_probe_rows(float *x, size_t n)
{
    uint32_t state = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        x[i] = (float)((double)state / 2147483648.0 - 1.0);
    }
}

/* Whether elems values of got from element off agree with want's first elems. */
static bool close_rows(const struct tensor *got, size_t off, const struct tensor *want,
                       size_t elems)
{
    if (got->dtype != DTYPE_FLOAT)
        return memcmp((const char *)got->data + off * dtype_size(got->dtype), want->data,
                      elems * dtype_size(got->dtype)) == 0;
    const float *a = (const float *)got->data + off, *w = want->data;
    for (size_t i = 0; i < elems; i++) {
        if (isnan(a[i]) && isnan(w[i]))
            continue;
        if (a[i] == w[i])
            continue;
        if (!(fabsf(a[i] - w[i]) <= 1e-4f + 1e-3f * fmaxf(fabsf(a[i]), fabsf(w[i]))))
            return false;
    }
    return true;
}

/* Runs B+1 probe rows batched and the file's own batch of B on rows [0, B) and [1, B+1),
 * and says whether every output row agrees (rows that influence each other do not). */
static bool batch_same_rows(struct engine *e, struct cached_plan *ref, char *why, size_t why_size)
{
    const struct graph *g = e->g;
    int64_t b = e->fixed_batch, rows = b + 1;
    struct shape shapes[64];
    enum dtype dtypes[64];
    struct err err;
    struct plan_opts opts = {.free_batch = true};
    struct plan *p = NULL;
    struct workspace *w = NULL, *wr = get_workspace(ref, 0, &err);
    float *x = NULL;
    bool ok = false;
    if (input_shapes(g, rows, true, shapes, dtypes, &err) < 0 || !wr ||
        !(p = plan_new_opts(g, e->ops, shapes, dtypes, NULL, &opts, &err)) ||
        !(w = workspace_new(p, &err)))
        goto done;
    size_t row_elems = shape_numel(&shapes[0]) / (size_t)rows;
    if (!(x = malloc((size_t)rows * row_elems * sizeof *x))) {
        err_oom(&err, "batch check rows", 0);
        goto done;
    }
    fill_probe_rows(x, (size_t)rows * row_elems);
    wr->times = NULL; /* a check at load time, not a measured run */
    struct tensor all = {.dtype = DTYPE_FLOAT, .shape = shapes[0], .data = x};
    const struct tensor *ins[1] = {&all};
    if (workspace_run(w, ins, &err) < 0)
        goto done;
    for (int64_t start = 0; start <= 1; start++) {
        struct tensor part = all;
        part.shape.dims[0] = b;
        part.data = x + (size_t)start * row_elems;
        ins[0] = &part;
        if (workspace_run(wr, ins, &err) < 0)
            goto done;
        for (int k = 0; k < g->n_outputs; k++) {
            const struct tensor *got = &w->values[g->outputs[k]];
            const struct tensor *want = &wr->values[g->outputs[k]];
            size_t elems = tensor_numel(got) / (size_t)rows;
            if (tensor_numel(want) != elems * (size_t)b || got->dtype != want->dtype ||
                !close_rows(got, (size_t)start * elems, want, elems * (size_t)b)) {
                snprintf(why, why_size, "output '%s' batched differs from the file's batch of %lld",
                         g->values[g->outputs[k]].name, (long long)b);
                ok = false;
                err.msg[0] = '\0';
                goto done;
            }
        }
    }
    ok = true;
done:
    if (!ok && !why[0])
        snprintf(why, why_size, "checking a batch of %lld rows failed: %.240s", (long long)rows,
                 err.msg);
    free(x);
    workspace_free(w);
    plan_free(p);
    return ok;
}

/* What the ops without MACs read per row in plan p of b rows (pooling windows). */
static double work_per_row(const struct plan *p, int64_t b)
{
    double total = 0;
    for (int s = 0; s < p->n_steps; s++)
        total += plan_step_work(p, &p->steps[s]);
    return b > 0 ? total / (double)b : total;
}

/* How a model whose input 0 declares a fixed batch B runs over rows (engine_batch_mode).
 * Re-planning is accepted when the graph plans for B+1 and 2B+1 rows with every runtime
 * value keeping the batch in some dim and every output in dim 0, and when B+1 rows batched
 * together give what the file's own batch gives on each window of B of them (skipped when
 * that would cost more than BATCH_CHECK_MACS, MACs and pooling windows' reads, or the
 * input is not float). Otherwise the file's batch stays in charge and the reason is kept
 * for `info`. ref is the cached plan for the file's batch (NULL: no checks, the file's
 * batch stays). */
static void decide_batch_mode(struct engine *e, struct cached_plan *ref)
{
    const struct graph *g = e->g;
    e->batch_mode = BATCH_DYNAMIC;
    snprintf(e->batch_text, sizeof e->batch_text, "dynamic");
    if (g->n_inputs < 1)
        return;
    const struct value *iv = &g->values[g->inputs[0]];
    if (!iv->has_shape || iv->shape.ndim < 1 || iv->shape.dims[0] < 0)
        return;
    int64_t b = iv->shape.dims[0];
    e->fixed_batch = b;
    e->batch_mode = BATCH_FIXED;
    snprintf(e->batch_text, sizeof e->batch_text, "%lld row%s at a time", (long long)b,
             b == 1 ? "" : "s");
    if (b < 1) {
        snprintf(e->batch_reason, sizeof e->batch_reason, "input '%s' declares no rows", iv->name);
        return;
    }
    if (!ref) {
        snprintf(e->batch_reason, sizeof e->batch_reason,
                 "the model's inputs are not planned before running");
        return;
    }
    if (g->n_inputs != 1) {
        snprintf(e->batch_reason, sizeof e->batch_reason, "the model has %d inputs", g->n_inputs);
        return;
    }
    char *why = e->batch_reason;
    size_t size = sizeof e->batch_reason;
    if (!batch_probe(e, ref->plan, b + 1, why, size) ||
        !batch_probe(e, ref->plan, 2 * b + 1, why, size))
        return;
    double check_macs =
        (node_macs_per_row(e, NULL) + BATCH_CHECK_READ_WEIGHT * work_per_row(ref->plan, b)) *
        (double)(3 * b + 1);
    if (iv->dtype != DTYPE_UNDEFINED && iv->dtype != DTYPE_FLOAT)
        check_macs = 0; /* no probe rows for other input types: the structure decides */
    else if (check_macs <= BATCH_CHECK_MACS && !batch_same_rows(e, ref, why, size))
        return;
    why[0] = '\0';
    e->batch_mode = BATCH_REPLANNED;
    snprintf(e->batch_text, sizeof e->batch_text, "re-planned");
    e->chunk_rows = 0; /* fitted again for plans of any row count */
}

static int resolve_ops(struct engine *e, struct err *err)
{
    struct graph *g = e->g;
    e->ops = calloc((size_t)g->n_nodes + 1, sizeof *e->ops);
    if (!e->ops)
        return err_oom(err, "op table", 0);
    for (int n = 0; n < g->n_nodes; n++) {
        const struct node *nd = &g->nodes[n];
        bool default_domain = !*nd->domain || strcmp(nd->domain, "ai.onnx") == 0;
        e->ops[n] = default_domain ? ops_find(nd->op_type) : NULL;
        if (!e->ops[n]) {
            char list[1024];
            return err_unsupported(err,
                                   "node '%s' has op type '%s'%s%s%s, which prunescope does not "
                                   "support; supported ops: %s",
                                   nd->name, nd->op_type, default_domain ? "" : " (domain '",
                                   default_domain ? "" : nd->domain, default_domain ? "" : "')",
                                   ops_supported_list(list, sizeof list));
        }
        /* Every op writes its output 0 (later ones may be optional): the kernels take it
         * as given. */
        if (nd->n_outputs < 1 || nd->outputs[0] < 0)
            return err_set(err, "node '%s' (%s) has no output; its first output is required",
                           nd->name, nd->op_type);
    }
    return 0;
}

struct engine *engine_new(struct graph *g, int threads, struct err *err)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e) {
        graph_free(g);
        err_oom(err, "engine", sizeof *e);
        return NULL;
    }
    e->g = g;
    e->threads = threads > 0 ? threads : pool_cpu_count();
    const char *fuse = getenv("PRUNESCOPE_FUSE");
    e->fuse = !(fuse && strcmp(fuse, "0") == 0);
    ops_blas_single_thread();
    if (resolve_ops(e, err) < 0 || !(e->pool = pool_new(e->threads, err))) {
        engine_free(e);
        return NULL;
    }
    /* Check the whole graph now, for one row, so shape errors surface at load time. */
    bool shaped = true;
    for (int i = 0; i < g->n_inputs; i++)
        shaped &= g->values[g->inputs[i]].has_shape && g->values[g->inputs[i]].dtype != DTYPE_INT64;
    if (shaped) {
        struct shape shapes[64];
        enum dtype dtypes[64];
        if (g->n_inputs > 64) {
            err_set(err, "the model has %d inputs; at most 64 are supported", g->n_inputs);
            engine_free(e);
            return NULL;
        }
        struct cached_plan *c;
        if (input_shapes_for_rows(e, 1, shapes, dtypes, err) < 0 ||
            !(c = get_plan(e, shapes, dtypes, NULL, err))) {
            engine_free(e);
            return NULL;
        }
        decide_batch_mode(e, c);
    } else {
        decide_batch_mode(e, NULL);
    }
    return e;
}

struct engine *engine_open(const char *path, int threads, struct err *err)
{
    struct graph *g = onnx_read_model_file(path, err);
    if (!g)
        return NULL;
    struct engine *e = engine_new(g, threads, err);
    if (!e)
        err_prefix(err, "%s: ", path);
    return e;
}

static int copy_outputs(const struct engine *e, const struct workspace *w, struct tensor **outputs,
                        struct err *err)
{
    const struct graph *g = e->g;
    for (int k = 0; k < g->n_outputs; k++)
        outputs[k] = NULL;
    for (int k = 0; k < g->n_outputs; k++) {
        outputs[k] = tensor_clone(&w->values[g->outputs[k]], err);
        if (!outputs[k]) {
            for (int j = 0; j < k; j++)
                tensor_free(outputs[j]);
            return -1;
        }
    }
    return 0;
}

int engine_run(struct engine *e, const struct tensor *const *inputs, struct tensor **outputs,
               struct err *err)
{
    const struct graph *g = e->g;
    struct shape shapes[64];
    enum dtype dtypes[64];
    if (g->n_inputs > 64)
        return err_set(err, "the model has %d inputs; at most 64 are supported", g->n_inputs);
    for (int i = 0; i < g->n_inputs; i++) {
        shapes[i] = inputs[i]->shape;
        dtypes[i] = inputs[i]->dtype;
    }
    struct cached_plan *c = get_plan(e, shapes, dtypes, inputs, err);
    if (!c)
        return -1;
    struct workspace *w = get_workspace(c, 0, err);
    if (!w)
        return -1;
    double t0 = e->timing_on ? timer_now_s() : 0;
    w->times = timing_row(e, 0);
    if (workspace_run(w, inputs, err) < 0)
        return -1;
    if (e->timing_on) {
        e->timing_total.run_ms += (timer_now_s() - t0) * 1000.0;
        e->timing_total.calls++;
        if (e->timing_total.workers < 1)
            e->timing_total.workers = 1;
    }
    return copy_outputs(e, w, outputs, err);
}

size_t engine_chunk_rows(struct engine *e)
{
    if (e->chunk_rows)
        return e->chunk_rows;
    struct shape shapes[64];
    enum dtype dtypes[64];
    struct err ignored;
    size_t rows = 64;
    if (e->g->n_inputs <= 64 && input_shapes_for_rows(e, 1, shapes, dtypes, &ignored) == 0) {
        struct cached_plan *c = get_plan(e, shapes, dtypes, NULL, &ignored);
        if (c) {
            size_t one = c->plan->activation_bytes + c->plan->max_scratch_bytes;
            size_t per_row = one;
            if (e->batch_mode == BATCH_FIXED) {
                per_row /= (size_t)e->fixed_batch; /* the plan is for the file's B rows */
            } else {
                /* What a row adds, between plans for 2 and 4 rows: scratch that does not
                 * grow with the rows (packed weights) is not a row's share of the cache. */
                size_t at[2] = {0, 0};
                for (int k = 0; k < 2; k++) {
                    struct cached_plan *ck = NULL;
                    if (input_shapes_for_rows(e, 2 + 2 * k, shapes, dtypes, &ignored) == 0)
                        ck = get_plan(e, shapes, dtypes, NULL, &ignored);
                    at[k] = ck ? ck->plan->activation_bytes + ck->plan->max_scratch_bytes : 0;
                }
                if (at[0] && at[1] > at[0])
                    per_row = (at[1] - at[0]) / 2;
            }
            rows = per_row ? CHUNK_BUDGET_BYTES / per_row : 256;
            free(e->node_macs);
            e->node_macs = calloc((size_t)e->g->n_nodes + 1, sizeof *e->node_macs);
            if (e->node_macs)
                node_macs_per_row(e, e->node_macs);
        }
    }
    if (rows < 4)
        rows = 4;
    if (rows > 256)
        rows = 256;
    e->chunk_rows = rows;
    return rows;
}

struct rows_job {
    struct engine *e;
    const struct tensor *input;
    const struct engine_rows_opts *opts;
    struct tensor **outputs;
    size_t rows, chunk;
    size_t group; /* run B rows at a time: the file's batch B; else 0 (a chunk at once) */
    struct cached_plan *full, *tail;
    pthread_mutex_t lock;
    int failed;
    struct err err;
};

static void rows_fail(struct rows_job *j, const struct err *err)
{
    pthread_mutex_lock(&j->lock);
    if (!j->failed) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        j->err = *err;
    }
    pthread_mutex_unlock(&j->lock);
}

/* Rows [start, start + n) of t (dim 0 counts j->rows rows) as `planned` rows at dst; rows
 * past n repeat row start + n - 1. dst NULL: a view of the rows themselves. */
static void *rows_at(const struct rows_job *j, const struct tensor *t, size_t start, size_t n,
                     size_t planned, char *dst)
{
    size_t row_bytes = tensor_bytes(t) / j->rows;
    const char *src = (const char *)t->data + start * row_bytes;
    if (!dst)
        return (void *)src;
    memcpy(dst, src, n * row_bytes);
    for (size_t r = n; r < planned; r++)
        memcpy(dst + r * row_bytes, src + (n - 1) * row_bytes, row_bytes);
    return dst;
}

/* Run plan c on rows [start, start + n) with worker's workspace. n may be below the plan's
 * row count (the last group when running B rows at a time): the rows are then copied and
 * padded with copies of the last one, and only n rows of each result are kept. */
static int run_group(struct rows_job *j, struct cached_plan *c, int worker, size_t start, size_t n,
                     struct err *err)
{
    const struct graph *g = j->e->g;
    const struct engine_rows_opts *o = j->opts;
    struct workspace *w = c->ws[worker];
    w->times = timing_row(j->e, worker);
    size_t planned = (size_t)c->plan->input_shapes[0].dims[0];
    bool pad = n < planned;
    int n_bind = o ? (o->n_bind < 16 ? o->n_bind : 16) : 0;
    int n_cap = o ? (o->n_capture < 64 ? o->n_capture : 64) : 0;
    /* One block for the padded copies: input, bound values, captured values. */
    size_t in_row_bytes = tensor_bytes(j->input) / j->rows, need = 0;
    char *block = NULL, *at;
    if (pad) {
        need = planned * in_row_bytes;
        for (int b = 0; b < n_bind; b++)
            need += planned * (tensor_bytes(o->bind[b]) / j->rows);
        for (int k = 0; k < n_cap; k++)
            need += planned * (tensor_bytes(o->captured[k]) / j->rows);
        if (!(block = malloc(need ? need : 1)))
            return err_oom(err, "padded rows", need);
    }
    at = block;
    struct tensor view = {.dtype = j->input->dtype, .shape = j->input->shape};
    view.shape.dims[0] = (int64_t)planned;
    if (j->input->data) {
        view.data = rows_at(j, j->input, start, n, planned, at);
        at = pad ? at + planned * in_row_bytes : NULL;
    } /* else a partial run that never reads the model's input */
    const struct tensor *ins[1] = {&view};
    /* Values given from outside (the activations a partial run starts from) point into
     * the caller's rows for this chunk, and are set back after the run. */
    void *saved[16];
    for (int b = 0; b < n_bind; b++) {
        struct tensor *v = &w->values[o->bind_values[b]];
        saved[b] = v->data;
        v->data = rows_at(j, o->bind[b], start, n, planned, at);
        at = pad ? at + planned * (tensor_bytes(o->bind[b]) / j->rows) : NULL;
    }
    void *dst[64];
    for (int k = 0; k < n_cap; k++) {
        size_t row_bytes = tensor_bytes(o->captured[k]) / j->rows;
        dst[k] = pad ? at : (char *)o->captured[k]->data + start * row_bytes;
        at = pad ? at + planned * row_bytes : NULL;
    }
    int rc = workspace_run_subset(w, ins, o ? o->run_node : NULL, n_cap,
                                  o ? o->capture_values : NULL, dst, err);
    for (int b = 0; b < n_bind; b++)
        w->values[o->bind_values[b]].data = saved[b];
    if (rc == 0) {
        for (int k = 0; k < n_cap && pad; k++) {
            size_t row_bytes = tensor_bytes(o->captured[k]) / j->rows;
            memcpy((char *)o->captured[k]->data + start * row_bytes, dst[k], n * row_bytes);
        }
        for (int k = 0; k < g->n_outputs; k++) {
            const struct tensor *src = &w->values[g->outputs[k]];
            size_t row_bytes = tensor_bytes(src) / planned;
            memcpy((char *)j->outputs[k]->data + start * row_bytes, src->data, n * row_bytes);
        }
    }
    free(block);
    return rc;
}

static void rows_task(void *arg, size_t task, int worker)
{
    struct rows_job *j = arg;
    if (__atomic_load_n(&j->failed, __ATOMIC_RELAXED))
        return;
    struct err err;
    if (j->e->cancel && *j->e->cancel) {
        err_set(&err, "cancelled");
        err.code = ERR_CANCELLED;
        rows_fail(j, &err);
        return;
    }
    size_t start = task * j->chunk;
    size_t n = j->rows - start < j->chunk ? j->rows - start : j->chunk;
    if (!j->group) {
        if (run_group(j, n == j->chunk ? j->full : j->tail, worker, start, n, &err) < 0)
            rows_fail(j, &err);
        return;
    }
    for (size_t g0 = start; g0 < start + n; g0 += j->group) {
        size_t m = start + n - g0 < j->group ? start + n - g0 : j->group;
        if (run_group(j, j->full, worker, g0, m, &err) < 0) {
            rows_fail(j, &err);
            return;
        }
    }
}

int engine_run_rows(struct engine *e, const struct tensor *input, struct tensor **outputs,
                    struct err *err)
{
    return engine_run_rows_ex(e, input, NULL, outputs, err);
}

/* engine_run_rows_ex; *threads_used is set to the threads the rows ran on. */
static int run_rows(struct engine *e, const struct tensor *input,
                    const struct engine_rows_opts *opts, struct tensor **outputs, int *threads_used,
                    struct err *err)
{
    const struct graph *g = e->g;
    if (g->n_inputs != 1)
        return err_set(err, "the model has %d inputs; row-wise execution needs exactly one",
                       g->n_inputs);
    if (input->shape.ndim < 1 || input->shape.dims[0] < 1)
        return err_set(err, "no rows to run");
    size_t rows = (size_t)input->shape.dims[0];
    size_t chunk = engine_chunk_rows(e);
    bool fixed = e->batch_mode == BATCH_FIXED;
    size_t group = fixed ? (size_t)e->fixed_batch : 0;
    if (fixed && group < 1)
        return err_set(err, "the model's input '%s' declares a batch of no rows",
                       g->values[g->inputs[0]].name);
    /* Run B rows at a time: a chunk is a whole number of groups of B. */
    if (fixed)
        chunk = chunk < group ? group : chunk / group * group;
    /* Keep every thread busy: no fewer than 4 chunks per thread when rows allow, but no
     * chunk so small that handing it to a thread costs more than its work. */
    size_t min_chunks = e->threads > 1 ? (size_t)e->threads * 4 : 1;
    double macs_row = 0; /* of the nodes this run executes */
    for (int n = 0; e->node_macs && n < g->n_nodes; n++)
        if (!opts || !opts->run_node || opts->run_node[n])
            macs_row += e->node_macs[n];
    size_t least = fixed ? group : 8;
    while (chunk > least && (rows + chunk - 1) / chunk < min_chunks &&
           (double)(chunk / 2) * macs_row >= MIN_CHUNK_MACS)
        chunk = !fixed ? chunk / 2 : chunk / 2 < group ? group : chunk / 2 / group * group;
    if (chunk > rows && !fixed)
        chunk = rows;
    if (chunk > rows && fixed)
        chunk = (rows + group - 1) / group * group;
    size_t n_chunks = (rows + chunk - 1) / chunk;
    struct shape shape = input->shape;
    enum dtype dt = input->dtype;
    struct rows_job j = {.e = e,
                         .input = input,
                         .opts = opts,
                         .outputs = outputs,
                         .rows = rows,
                         .chunk = chunk,
                         .group = group};
    if (opts && (opts->n_bind > 16 || opts->n_capture > 64))
        return err_set(err, "a partial run takes at most 16 values from outside and keeps at "
                            "most 64");
    size_t planned = fixed ? group : chunk; /* rows of the full plan */
    shape.dims[0] = (int64_t)planned;
    j.full = get_plan(e, &shape, &dt, NULL, err);
    if (!j.full)
        return -1;
    bool fuse = !needs_unfused(j.full->plan, opts);
    if (!fuse && !(j.full = get_plan_mode(e, &shape, &dt, NULL, false, false, err)))
        return -1;
    j.tail = j.full;
    if (!fixed && rows % chunk) {
        shape.dims[0] = (int64_t)(rows % chunk);
        j.tail = get_plan_mode(e, &shape, &dt, NULL, fuse, false, err);
        if (!j.tail)
            return -1;
        /* get_plan may have evicted the first plan; look it up again. */
        shape.dims[0] = (int64_t)chunk;
        j.full = get_plan_mode(e, &shape, &dt, NULL, fuse, false, err);
        if (!j.full)
            return -1;
    }
    int workers = e->threads < (int)n_chunks ? e->threads : (int)n_chunks;
    if (e->node_macs && (double)rows * macs_row < 2 * MIN_CHUNK_MACS)
        workers = 1; /* too little work to share */
    for (int t = 0; t < e->threads && t < workers + 1; t++) {
        if (t >= workers)
            break;
        if (!get_workspace(j.full, t, err) || !get_workspace(j.tail, t, err))
            return -1;
    }
    for (int k = 0; k < g->n_outputs; k++)
        outputs[k] = NULL;
    for (int k = 0; k < g->n_outputs; k++) {
        const struct tensor *o = &j.full->plan->values[g->outputs[k]];
        if (o->shape.ndim < 1 || o->shape.dims[0] != (int64_t)planned) {
            err_set(err, "output '%s' does not keep the rows in its first dimension",
                    g->values[g->outputs[k]].name);
            goto fail;
        }
        struct shape os = o->shape;
        os.dims[0] = (int64_t)rows;
        if (!(outputs[k] = tensor_new(o->dtype, &os, err)))
            goto fail;
    }
    for (int k = 0; opts && k < opts->n_capture; k++) {
        const struct tensor *o = &j.full->plan->values[opts->capture_values[k]];
        if (o->shape.ndim < 1 || o->shape.dims[0] != (int64_t)planned) {
            err_set(err, "value '%s' does not keep the rows in its first dimension",
                    g->values[opts->capture_values[k]].name);
            goto fail;
        }
        struct shape cs = o->shape;
        cs.dims[0] = (int64_t)rows;
        if (!opts->captured[k] && !(opts->captured[k] = tensor_new(o->dtype, &cs, err)))
            goto fail;
    }
    pthread_mutex_init(&j.lock, NULL);
    *threads_used = workers < e->threads ? 1 : e->threads;
    if (workers < e->threads) {
        for (size_t t = 0; t < n_chunks; t++)
            rows_task(&j, t, 0);
    } else {
        pool_run(e->pool, n_chunks, rows_task, &j);
    }
    pthread_mutex_destroy(&j.lock);
    if (j.failed) {
        *err = j.err;
        goto fail;
    }
    return 0;
fail:
    for (int k = 0; k < g->n_outputs; k++) {
        tensor_free(outputs[k]);
        outputs[k] = NULL;
    }
    return -1;
}

int engine_run_rows_ex(struct engine *e, const struct tensor *input,
                       const struct engine_rows_opts *opts, struct tensor **outputs,
                       struct err *err)
{
    if (!e->timing_on) {
        int ignored;
        return run_rows(e, input, opts, outputs, &ignored, err);
    }
    int threads_used = 0;
    double t0 = timer_now_s();
    int rc = run_rows(e, input, opts, outputs, &threads_used, err);
    e->timing_total.run_ms += (timer_now_s() - t0) * 1000.0;
    e->timing_total.calls++;
    if (threads_used > e->timing_total.workers)
        e->timing_total.workers = threads_used;
    return rc;
}

bool engine_value_known(struct engine *e, int v)
{
    struct shape shapes[64];
    enum dtype dtypes[64];
    struct err ignored;
    if (e->g->n_inputs > 64 || input_shapes_for_rows(e, 1, shapes, dtypes, &ignored) < 0)
        return false;
    struct cached_plan *c = get_plan(e, shapes, dtypes, NULL, &ignored);
    return c && c->plan->known[v];
}

int engine_value_shape(struct engine *e, int v, int64_t rows, struct shape *out, struct err *err)
{
    struct shape shapes[64];
    enum dtype dtypes[64];
    if (e->g->n_inputs > 64 || input_shapes_for_rows(e, rows, shapes, dtypes, err) < 0)
        return -1;
    struct cached_plan *c = get_plan(e, shapes, dtypes, NULL, err);
    if (!c)
        return -1;
    *out = c->plan->values[v].shape;
    return 0;
}

size_t engine_outputs_per_row(struct engine *e)
{
    struct shape out;
    struct err ignored;
    if (e->g->n_outputs < 1 || engine_value_shape(e, e->g->outputs[0], 1, &out, &ignored) < 0)
        return 0;
    size_t n = 1;
    for (int d = 1; d < out.ndim; d++)
        n *= (size_t)out.dims[d];
    return n;
}

/* Multiply-adds per row of every node (0 for those without a count) into macs
 * (g->n_nodes entries); the total, or 0 when no 1-row plan can be made. */
static double node_macs_per_row(struct engine *e, double *macs)
{
    struct shape shapes[64];
    enum dtype dtypes[64];
    struct err ignored;
    if (e->g->n_inputs > 64 || input_shapes_for_rows(e, 1, shapes, dtypes, &ignored) < 0)
        return 0;
    struct cached_plan *c = get_plan(e, shapes, dtypes, NULL, &ignored);
    if (!c)
        return 0;
    const struct plan *p = c->plan;
    double total = 0;
    /* Run B rows at a time, the "one row" plan is the file's batch of B. */
    double per_plan_rows = e->batch_mode == BATCH_FIXED ? (double)e->fixed_batch : 1.0;
    for (int s = 0; s < p->n_steps; s++) {
        const struct plan_step *st = &p->steps[s];
        if (!st->op->macs)
            continue;
        double m = plan_step_macs(p, st) / per_plan_rows;
        if (macs)
            macs[st->node] = m;
        total += m;
    }
    return total;
}

double engine_macs_per_row(struct engine *e)
{
    return node_macs_per_row(e, NULL);
}

const struct plan *engine_plan_rows(struct engine *e, int64_t rows, struct err *err)
{
    struct shape shapes[64];
    enum dtype dtypes[64];
    if (e->g->n_inputs > 64)
        return err_set(err, "the model has more than 64 inputs"), NULL;
    if (input_shapes_for_rows(e, rows, shapes, dtypes, err) < 0)
        return NULL;
    struct cached_plan *c = get_plan(e, shapes, dtypes, NULL, err);
    return c ? c->plan : NULL;
}

const struct plan *engine_plan_deployed(struct engine *e, int64_t *rows_per_plan, struct err *err)
{
    struct shape shapes[64];
    enum dtype dtypes[64];
    if (e->g->n_inputs > 64)
        return err_set(err, "the model has more than 64 inputs"), NULL;
    if (input_shapes_for_rows(e, 1, shapes, dtypes, err) < 0)
        return NULL;
    struct cached_plan *c = get_plan_mode(e, shapes, dtypes, NULL, true, true, err);
    /* Run B rows at a time, the one-row plan is the file's batch of B. */
    *rows_per_plan = e->batch_mode == BATCH_FIXED ? e->fixed_batch : 1;
    return c ? c->plan : NULL;
}
