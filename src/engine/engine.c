/* Execution of a loaded model: op resolution, a small cache of plans keyed by input shapes,
 * and the split of many rows into cache-sized chunks run on the thread pool.
 * Not for planning itself (plan.c) or op arithmetic (kernels/). */
#include "engine/engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "engine/plan.h"
#include "kernels/ops.h"
#include "model/onnx_reader.h"

#define MAX_PLANS 8
/* The least work (multiply-adds) worth a chunk of its own on another thread: waking a
 * thread and joining it costs some microseconds. */
#define MIN_CHUNK_MACS 1048576.0

/* Activation bytes one chunk of rows may use: about the size of a core's L2 cache. */
#define CHUNK_BUDGET_BYTES (1024u * 1024u)

struct cached_plan {
    struct plan *plan;
    struct workspace **ws; /* one per thread, made on first use */
    unsigned long last_used;
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

/* The plan for these input shapes, made (evicting the least recently used) when absent. */
static struct cached_plan *get_plan(struct engine *e, const struct shape *shapes,
                                    const enum dtype *dtypes, const struct tensor *const *values,
                                    struct err *err)
{
    struct cached_plan *slot = &e->plans[0];
    for (int i = 0; i < MAX_PLANS; i++) {
        struct cached_plan *c = &e->plans[i];
        if (c->plan && plan_matches(c->plan, shapes, values)) {
            c->last_used = ++e->clock;
            return c;
        }
        if (!c->plan || (slot->plan && c->last_used < slot->last_used))
            slot = c;
    }
    cached_plan_fini(e, slot);
    slot->plan = plan_new(e->g, e->ops, shapes, dtypes, values, err);
    if (!slot->plan)
        return NULL;
    slot->ws = calloc((size_t)e->threads, sizeof *slot->ws);
    if (!slot->ws) {
        cached_plan_fini(e, slot);
        err_oom(err, "workspaces", 0);
        return NULL;
    }
    slot->last_used = ++e->clock;
    return slot;
}

static struct workspace *get_workspace(struct cached_plan *c, int worker, struct err *err)
{
    if (!c->ws[worker])
        c->ws[worker] = workspace_new(c->plan, err);
    return c->ws[worker];
}

/* Shapes of the graph inputs for `rows` rows: declared dims, with symbolic ones set to
 * rows in dim 0 and 1 elsewhere. */
static int input_shapes_for_rows(const struct graph *g, int64_t rows, struct shape *shapes,
                                 enum dtype *dtypes, struct err *err)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const struct value *v = &g->values[g->inputs[i]];
        if (!v->has_shape)
            return err_set(err, "input '%s' declares no shape", v->name);
        shapes[i] = v->shape;
        for (int d = 0; d < v->shape.ndim; d++)
            if (shapes[i].dims[d] < 0)
                shapes[i].dims[d] = d == 0 ? rows : 1;
        dtypes[i] = v->dtype == DTYPE_UNDEFINED ? DTYPE_FLOAT : v->dtype;
    }
    return 0;
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
        if (input_shapes_for_rows(g, 1, shapes, dtypes, err) < 0 ||
            !get_plan(e, shapes, dtypes, NULL, err)) {
            engine_free(e);
            return NULL;
        }
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
    if (!w || workspace_run(w, inputs, err) < 0)
        return -1;
    return copy_outputs(e, w, outputs, err);
}

static double node_macs_per_row(struct engine *e, double *macs);

size_t engine_chunk_rows(struct engine *e)
{
    if (e->chunk_rows)
        return e->chunk_rows;
    struct shape shapes[64];
    enum dtype dtypes[64];
    struct err ignored;
    size_t rows = 64;
    if (e->g->n_inputs <= 64 && input_shapes_for_rows(e->g, 1, shapes, dtypes, &ignored) == 0) {
        struct cached_plan *c = get_plan(e, shapes, dtypes, NULL, &ignored);
        if (c) {
            size_t per_row = c->plan->activation_bytes + c->plan->max_scratch_bytes;
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
    struct cached_plan *full, *tail;
    pthread_mutex_t lock;
    int failed;
    struct err err;
};

static void rows_task(void *arg, size_t task, int worker)
{
    struct rows_job *j = arg;
    if (__atomic_load_n(&j->failed, __ATOMIC_RELAXED))
        return;
    if (j->e->cancel && *j->e->cancel) {
        pthread_mutex_lock(&j->lock);
        if (!j->failed) {
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
            err_set(&j->err, "cancelled");
            j->err.code = ERR_CANCELLED;
        }
        pthread_mutex_unlock(&j->lock);
        return;
    }
    const struct graph *g = j->e->g;
    size_t start = task * j->chunk;
    size_t n = j->rows - start < j->chunk ? j->rows - start : j->chunk;
    struct cached_plan *c = n == j->chunk ? j->full : j->tail;
    struct workspace *w = c->ws[worker];
    size_t in_row_bytes = tensor_bytes(j->input) / j->rows;
    struct tensor view = {.dtype = j->input->dtype,
                          .shape = j->input->shape,
                          .data = (char *)j->input->data + start * in_row_bytes};
    view.shape.dims[0] = (int64_t)n;
    if (!j->input->data)
        view.data = NULL; /* a partial run that never reads the model's input */
    const struct tensor *ins[1] = {&view};
    struct err err;
    const struct engine_rows_opts *o = j->opts;
    /* Values given from outside (the activations a partial run starts from) point into
     * the caller's rows for this chunk, and are set back after the run. */
    void *saved[16];
    for (int b = 0; o && b < o->n_bind && b < 16; b++) {
        struct tensor *v = &w->values[o->bind_values[b]];
        saved[b] = v->data;
        size_t row_bytes = tensor_bytes(o->bind[b]) / j->rows;
        v->data = (char *)o->bind[b]->data + start * row_bytes;
    }
    void *dst[64];
    int n_cap = o ? (o->n_capture < 64 ? o->n_capture : 64) : 0;
    for (int k = 0; k < n_cap; k++) {
        size_t row_bytes = tensor_bytes(o->captured[k]) / j->rows;
        dst[k] = (char *)o->captured[k]->data + start * row_bytes;
    }
    int rc = workspace_run_subset(w, ins, o ? o->run_node : NULL, n_cap,
                                  o ? o->capture_values : NULL, dst, &err);
    for (int b = 0; o && b < o->n_bind && b < 16; b++)
        w->values[o->bind_values[b]].data = saved[b];
    if (rc < 0) {
        pthread_mutex_lock(&j->lock);
        if (!j->failed) {
            __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
            j->err = err;
        }
        pthread_mutex_unlock(&j->lock);
        return;
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const struct tensor *src = &w->values[g->outputs[k]];
        size_t row_bytes = tensor_bytes(src) / n;
        memcpy((char *)j->outputs[k]->data + start * row_bytes, src->data, n * row_bytes);
    }
}

int engine_run_rows(struct engine *e, const struct tensor *input, struct tensor **outputs,
                    struct err *err)
{
    return engine_run_rows_ex(e, input, NULL, outputs, err);
}

int engine_run_rows_ex(struct engine *e, const struct tensor *input,
                       const struct engine_rows_opts *opts, struct tensor **outputs,
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
    const struct value *iv = &g->values[g->inputs[0]];
    if (iv->has_shape && iv->shape.ndim > 0 && iv->shape.dims[0] >= 0)
        chunk = (size_t)iv->shape.dims[0]; /* a fixed batch size: run that many at a time */
    if (rows % chunk != 0 && iv->has_shape && iv->shape.ndim > 0 && iv->shape.dims[0] >= 0)
        return err_set(err,
                       "the model's input '%s' has a fixed batch of %lld rows; %zu rows "
                       "do not divide into it",
                       iv->name, (long long)iv->shape.dims[0], rows);
    /* Keep every thread busy: no fewer than 4 chunks per thread when rows allow, but no
     * chunk so small that handing it to a thread costs more than its work. */
    size_t min_chunks = e->threads > 1 ? (size_t)e->threads * 4 : 1;
    double macs_row = 0; /* of the nodes this run executes */
    for (int n = 0; e->node_macs && n < g->n_nodes; n++)
        if (!opts || !opts->run_node || opts->run_node[n])
            macs_row += e->node_macs[n];
    if (iv->shape.ndim == 0 || iv->shape.dims[0] < 0) {
        while (chunk > 8 && (rows + chunk - 1) / chunk < min_chunks &&
               (double)(chunk / 2) * macs_row >= MIN_CHUNK_MACS)
            chunk /= 2;
    }
    if (chunk > rows)
        chunk = rows;
    size_t n_chunks = (rows + chunk - 1) / chunk;
    struct shape shape = input->shape;
    enum dtype dt = input->dtype;
    struct rows_job j = {
        .e = e, .input = input, .opts = opts, .outputs = outputs, .rows = rows, .chunk = chunk};
    if (opts && (opts->n_bind > 16 || opts->n_capture > 64))
        return err_set(err, "a partial run takes at most 16 values from outside and keeps at "
                            "most 64");
    shape.dims[0] = (int64_t)chunk;
    j.full = get_plan(e, &shape, &dt, NULL, err);
    if (!j.full)
        return -1;
    j.tail = j.full;
    if (rows % chunk) {
        shape.dims[0] = (int64_t)(rows % chunk);
        j.tail = get_plan(e, &shape, &dt, NULL, err);
        if (!j.tail)
            return -1;
        /* get_plan may have evicted the first plan; look it up again. */
        shape.dims[0] = (int64_t)chunk;
        j.full = get_plan(e, &shape, &dt, NULL, err);
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
        if (o->shape.ndim < 1 || o->shape.dims[0] != (int64_t)chunk) {
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
        if (o->shape.ndim < 1 || o->shape.dims[0] != (int64_t)chunk) {
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

bool engine_value_known(struct engine *e, int v)
{
    struct shape shapes[64];
    enum dtype dtypes[64];
    struct err ignored;
    if (e->g->n_inputs > 64 || input_shapes_for_rows(e->g, 1, shapes, dtypes, &ignored) < 0)
        return false;
    struct cached_plan *c = get_plan(e, shapes, dtypes, NULL, &ignored);
    return c && c->plan->known[v];
}

int engine_value_shape(struct engine *e, int v, int64_t rows, struct shape *out, struct err *err)
{
    struct shape shapes[64];
    enum dtype dtypes[64];
    if (e->g->n_inputs > 64 || input_shapes_for_rows(e->g, rows, shapes, dtypes, err) < 0)
        return -1;
    struct cached_plan *c = get_plan(e, shapes, dtypes, NULL, err);
    if (!c)
        return -1;
    *out = c->plan->values[v].shape;
    return 0;
}

/* Multiply-adds per row of every node (0 for those without a count) into macs
 * (g->n_nodes entries); the total, or 0 when no 1-row plan can be made. */
static double node_macs_per_row(struct engine *e, double *macs)
{
    struct shape shapes[64];
    enum dtype dtypes[64];
    struct err ignored;
    if (e->g->n_inputs > 64 || input_shapes_for_rows(e->g, 1, shapes, dtypes, &ignored) < 0)
        return 0;
    struct cached_plan *c = get_plan(e, shapes, dtypes, NULL, &ignored);
    if (!c)
        return 0;
    const struct plan *p = c->plan;
    double total = 0;
    for (int s = 0; s < p->n_steps; s++) {
        const struct plan_step *st = &p->steps[s];
        if (!st->op->macs)
            continue;
        const struct node *nd = &e->g->nodes[st->node];
        const struct tensor *ins[64];
        struct tensor *outs[64];
        for (int k = 0; k < nd->n_inputs && k < 64; k++)
            ins[k] = nd->inputs[k] >= 0 ? &p->values[nd->inputs[k]] : NULL;
        for (int o = 0; o < nd->n_outputs && o < 64; o++)
            outs[o] = nd->outputs[o] >= 0 ? &p->values[nd->outputs[o]] : NULL;
        struct op_io io = {.node = nd,
                           .opset = p->opset,
                           .n_in = nd->n_inputs,
                           .in = ins,
                           .n_out = nd->n_outputs,
                           .out = outs};
        double m = st->op->macs(&io);
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
