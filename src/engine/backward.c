/* The gradient pass: a plan per chunk of rows, every value in its own buffer so the
 * backward functions see the forward activations, then reverse-mode accumulation. With two
 * or more engine threads a chunk is split in two halves run side by side, each into
 * gradients of its own that are then added; the loss is called one half at a time. Memory
 * grows with the chunk (GRAD_CHUNK rows). */
#include "engine/backward.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/plan.h"

#define GRAD_CHUNK 128

static int grad_chunk(struct engine *e, const struct tensor *chunk, size_t row0, loss_grad_fn loss,
                      void *ctx, const bool *want, struct tensor **grads, char *blocked,
                      size_t blocked_size, pthread_mutex_t *lock, struct err *err)
{
    const struct graph *g = engine_graph(e);
    enum dtype dt = chunk->dtype;
    /* A fixed batch the engine re-plans is planned for the chunk's rows here too. */
    struct plan_opts opts = {.free_batch = engine_batch_fixed(e) > 0 &&
                                           strcmp(engine_batch_mode(e), "re-planned") == 0};
    struct plan *p = plan_new_opts(g, engine_ops(e), &chunk->shape, &dt, NULL, &opts, err);
    if (!p)
        return -1;
    int nv = g->n_values, rc = -1;
    struct tensor *vals = calloc((size_t)nv + 1, sizeof *vals);
    struct tensor **dv = calloc((size_t)nv + 1, sizeof *dv);
    bool *owned = calloc((size_t)nv + 1, sizeof *owned);
    void *scratch = NULL;
    const struct tensor **ins = calloc(64, sizeof *ins);
    struct tensor **outs = calloc(64, sizeof *outs);
    const struct tensor **douts = calloc(64, sizeof *douts);
    struct tensor **dins = calloc(64, sizeof *dins);
    if (!vals || !dv || !owned || !ins || !outs || !douts || !dins ||
        (p->max_scratch_bytes &&
         posix_memalign(&scratch, 64, (p->max_scratch_bytes + 63) / 64 * 64) != 0)) {
        err_oom(err, "gradient pass", 0);
        goto done;
    }
    for (int v = 0; v < nv; v++) {
        vals[v] = p->values[v];
        vals[v].owns_data = false;
        if (p->known[v] || p->values[v].dtype == DTYPE_UNDEFINED)
            continue;
        if (v == g->inputs[0]) {
            vals[v].data = chunk->data;
            continue;
        }
        size_t bytes = tensor_bytes(&p->values[v]);
        if (bytes && !(vals[v].data = calloc(1, bytes))) {
            err_oom(err, "activations", bytes);
            goto done;
        }
        owned[v] = true;
    }
    for (int si = 0; si < p->n_steps; si++) {
        const struct plan_step *st = &p->steps[si];
        const struct node *nd = &g->nodes[st->node];
        for (int k = 0; k < nd->n_inputs && k < 64; k++)
            ins[k] = nd->inputs[k] >= 0 ? &vals[nd->inputs[k]] : NULL;
        for (int o = 0; o < nd->n_outputs && o < 64; o++)
            outs[o] = nd->outputs[o] >= 0 ? &vals[nd->outputs[o]] : NULL;
        struct op_io io = {.node = nd,
                           .opset = p->opset,
                           .n_in = nd->n_inputs,
                           .in = ins,
                           .n_out = nd->n_outputs,
                           .out = outs,
                           .scratch = scratch,
                           .scratch_bytes = st->scratch_bytes,
                           .prepared = st->prepared};
        if (st->op->run(&io, err) < 0)
            goto done;
    }
    int out_v = g->outputs[0];
    if (!(dv[out_v] = tensor_new(DTYPE_FLOAT, &vals[out_v].shape, err)))
        goto done;
    if (lock)
        pthread_mutex_lock(lock);
    int lrc = loss(&vals[out_v], row0, dv[out_v], ctx, err);
    if (lock)
        pthread_mutex_unlock(lock);
    if (lrc < 0)
        goto done;
    for (int si = p->n_steps - 1; si >= 0; si--) {
        const struct plan_step *st = &p->steps[si];
        const struct node *nd = &g->nodes[st->node];
        if (nd->n_outputs < 1 || nd->outputs[0] < 0 || !dv[nd->outputs[0]])
            continue;
        bool any = false;
        for (int k = 0; k < nd->n_inputs && k < 64; k++) {
            int v = nd->inputs[k];
            dins[k] = NULL;
            ins[k] = v >= 0 ? &vals[v] : NULL;
            if (v < 0 || vals[v].dtype != DTYPE_FLOAT)
                continue;
            bool activation = !p->known[v] && v != g->inputs[0];
            if (!activation && !want[v])
                continue;
            if (!dv[v] && !(dv[v] = tensor_new(DTYPE_FLOAT, &vals[v].shape, err)))
                goto done;
            dins[k] = dv[v];
            any = true;
        }
        if (!any)
            continue;
        if (!st->op->backward) {
            if (blocked && !blocked[0])
                snprintf(blocked, blocked_size, "node '%s' (%s)", nd->name, nd->op_type);
            for (int k = 0; k < nd->n_inputs; k++)
                if (dins[k] && nd->inputs[k] >= 0 && !want[nd->inputs[k]]) {
                    tensor_free(dv[nd->inputs[k]]);
                    dv[nd->inputs[k]] = NULL;
                }
            continue;
        }
        for (int o = 0; o < nd->n_outputs && o < 64; o++) {
            outs[o] = nd->outputs[o] >= 0 ? &vals[nd->outputs[o]] : NULL;
            douts[o] = nd->outputs[o] >= 0 ? dv[nd->outputs[o]] : NULL;
        }
        struct op_io io = {.node = nd,
                           .opset = p->opset,
                           .n_in = nd->n_inputs,
                           .in = ins,
                           .n_out = nd->n_outputs,
                           .out = outs,
                           .scratch = scratch,
                           .scratch_bytes = st->scratch_bytes,
                           .prepared = st->prepared};
        if (st->op->backward(&io, douts, dins, err) < 0) {
            if (err->code != ERR_UNSUPPORTED)
                goto done;
            if (blocked && !blocked[0])
                snprintf(blocked, blocked_size, "node '%s' (%s): %s", nd->name, nd->op_type,
                         err->msg);
            for (int k = 0; k < nd->n_inputs; k++)
                if (dins[k] && nd->inputs[k] >= 0 && !want[nd->inputs[k]]) {
                    tensor_free(dv[nd->inputs[k]]);
                    dv[nd->inputs[k]] = NULL;
                }
            err_clear(err);
        }
    }
    for (int v = 0; v < nv; v++) {
        if (!want[v] || !dv[v])
            continue;
        if (!grads[v] && !(grads[v] = tensor_new(DTYPE_FLOAT, &vals[v].shape, err)))
            goto done;
        float *dst = tensor_f32(grads[v]);
        const float *src = tensor_f32(dv[v]);
        for (size_t i = 0; i < tensor_numel(dv[v]); i++)
            dst[i] += src[i];
    }
    rc = 0;
done:
    for (int v = 0; vals && v < nv; v++) {
        if (owned && owned[v])
            free(vals[v].data);
        if (dv)
            tensor_free(dv[v]);
    }
    free(vals), free(dv), free(owned), free(scratch);
    free(ins), free(outs), free(douts), free(dins);
    plan_free(p);
    return rc;
}

struct half {
    struct engine *e;
    struct tensor chunk;
    size_t row0;
    loss_grad_fn loss;
    void *ctx;
    const bool *want;
    struct tensor **grads;
    char blocked[256];
    pthread_mutex_t *lock;
    struct err err;
    int rc;
};

static void *half_main(void *arg)
{
    struct half *h = arg;
    h->rc = grad_chunk(h->e, &h->chunk, h->row0, h->loss, h->ctx, h->want, h->grads, h->blocked,
                       sizeof h->blocked, h->lock, &h->err);
    return NULL;
}

/* A chunk's first half on this thread, its second on another, into gradients of its own
 * that are then added to grads. */
static int grad_halves(struct engine *e, const struct tensor *chunk, size_t row0, loss_grad_fn loss,
                       void *ctx, const bool *want, struct tensor **grads, char *blocked,
                       size_t blocked_size, struct err *err)
{
    const struct graph *g = engine_graph(e);
    size_t n = (size_t)chunk->shape.dims[0], first = n / 2;
    size_t row_bytes = tensor_bytes(chunk) / n;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    struct tensor **other = calloc((size_t)g->n_values + 1, sizeof *other);
    if (!other)
        return err_oom(err, "gradients", (size_t)g->n_values);
    struct half h = {.e = e,
                     .chunk = *chunk,
                     .row0 = row0 + first,
                     .loss = loss,
                     .ctx = ctx,
                     .want = want,
                     .grads = other,
                     .lock = &lock};
    h.chunk.shape.dims[0] = (int64_t)(n - first);
    h.chunk.data = (char *)chunk->data + first * row_bytes;
    pthread_t t;
    bool threaded = pthread_create(&t, NULL, half_main, &h) == 0;
    struct tensor mine = *chunk;
    mine.shape.dims[0] = (int64_t)first;
    int rc = grad_chunk(e, &mine, row0, loss, ctx, want, grads, blocked, blocked_size, &lock, err);
    if (threaded)
        pthread_join(t, NULL);
    else
        half_main(&h);
    if (rc == 0 && h.rc < 0) {
        *err = h.err;
        rc = -1;
    }
    if (rc == 0 && blocked && blocked_size && !blocked[0] && h.blocked[0])
        snprintf(blocked, blocked_size, "%s", h.blocked);
    for (int v = 0; v < g->n_values; v++) {
        if (rc == 0 && other[v]) {
            if (!grads[v]) {
                grads[v] = other[v];
                other[v] = NULL;
                continue;
            }
            float *dst = tensor_f32(grads[v]);
            const float *src = tensor_f32(other[v]);
            for (size_t k = 0; k < tensor_numel(grads[v]); k++)
                dst[k] += src[k];
        }
        tensor_free(other[v]);
    }
    free(other);
    pthread_mutex_destroy(&lock);
    return rc;
}

int engine_gradients(struct engine *e, const struct tensor *input, loss_grad_fn loss, void *ctx,
                     const bool *want, struct tensor **grads, char *blocked, size_t blocked_size,
                     struct err *err)
{
    const struct graph *g = engine_graph(e);
    if (g->n_inputs != 1 || g->n_outputs < 1)
        return err_set(err, "gradients need a model with one input and an output");
    if (blocked && blocked_size)
        blocked[0] = '\0';
    size_t rows = (size_t)input->shape.dims[0];
    size_t row_bytes = rows ? tensor_bytes(input) / rows : 0;
    /* A model run B rows at a time takes its gradients B rows at a time too. */
    size_t step = GRAD_CHUNK;
    int64_t fixed = engine_batch_fixed(e);
    if (fixed > 0 && strcmp(engine_batch_mode(e), "re-planned") != 0) {
        step = (size_t)fixed;
        if (rows % step != 0)
            return err_unsupported(err,
                                   "gradients of a model that runs %zu rows at a time (%s) "
                                   "need a multiple of %zu rows; the data has %zu",
                                   step, engine_batch_reason(e), step, rows);
    }
    /* Halves side by side when there are threads for them and rows to share (a fixed
     * batch runs whole). */
    bool split = engine_threads(e) > 1 && fixed <= 0;
    for (size_t r0 = 0; r0 < rows; r0 += step) {
        struct tensor chunk = *input;
        chunk.owns_data = false;
        size_t n = rows - r0 < step ? rows - r0 : step;
        chunk.shape.dims[0] = (int64_t)n;
        chunk.data = (char *)input->data + r0 * row_bytes;
        if (!split || n < 8) {
            if (grad_chunk(e, &chunk, r0, loss, ctx, want, grads, blocked, blocked_size, NULL,
                           err) < 0)
                return -1;
            continue;
        }
        if (grad_halves(e, &chunk, r0, loss, ctx, want, grads, blocked, blocked_size, err) < 0)
            return -1;
    }
    return 0;
}
