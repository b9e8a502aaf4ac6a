/* Planning: shape inference over the sorted graph, folding of what is known before running,
 * and a liveness-based assignment of activation buffers. Not the execution loop over rows
 * (engine.c). */
#include "engine/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "model/onnx_reader.h"

void plan_free(struct plan *p)
{
    if (!p)
        return;
    if (p->values) {
        for (int v = 0; v < p->graph->n_values; v++)
            if (p->owned[v])
                free(p->values[v].data);
    }
    free(p->values);
    free(p->known);
    free(p->owned);
    free(p->buffer);
    free(p->buffer_bytes);
    for (int i = 0; p->steps && i < p->n_steps; i++) {
        if (p->steps[i].prepared && p->steps[i].op->release)
            p->steps[i].op->release(p->steps[i].prepared);
        free(p->steps[i].post);
    }
    free(p->steps);
    free(p->fused_away);
    free(p->input_shapes);
    free(p);
}

bool plan_matches(const struct plan *p, const struct shape *input_shapes,
                  const struct tensor *const *input_values)
{
    const struct graph *g = p->graph;
    for (int i = 0; i < g->n_inputs; i++) {
        if (!shape_equal(&p->input_shapes[i], &input_shapes[i]))
            return false;
        const struct tensor *mine = &p->values[g->inputs[i]];
        if (mine->dtype != DTYPE_INT64)
            continue;
        const struct tensor *theirs = input_values ? input_values[i] : NULL;
        bool have = p->known[g->inputs[i]], given = theirs && theirs->data;
        if (have != given)
            return false;
        if (have && tensor_bytes(mine) && memcmp(mine->data, theirs->data, tensor_bytes(mine)) != 0)
            return false;
    }
    return true;
}

static int check_input(const struct graph *g, int i, const struct shape *s, enum dtype dt,
                       bool free_batch, struct err *err)
{
    const struct value *v = &g->values[g->inputs[i]];
    char want[128], got[128];
    if (v->onnx_elem_type && v->dtype != dt)
        return err_unsupported(err,
                               "input '%s' has element type %s, which prunescope does not support "
                               "as a model input",
                               v->name, onnx_elem_type_name(v->onnx_elem_type));
    if (!v->has_shape)
        return 0;
    bool ok = v->shape.ndim == s->ndim;
    for (int d = 0; ok && d < s->ndim; d++)
        if (v->shape.dims[d] >= 0 && v->shape.dims[d] != s->dims[d] &&
            !(free_batch && i == 0 && d == 0))
            ok = false;
    if (!ok) {
        size_t used = 0;
        used += (size_t)snprintf(want + used, sizeof want - used, "[");
        for (int d = 0; d < v->shape.ndim && used < sizeof want; d++) {
            if (v->shape.dims[d] >= 0)
                used += (size_t)snprintf(want + used, sizeof want - used, "%s%lld", d ? "," : "",
                                         (long long)v->shape.dims[d]);
            else
                used += (size_t)snprintf(want + used, sizeof want - used, "%s%s", d ? "," : "",
                                         v->dim_param[d] ? v->dim_param[d] : "?");
        }
        if (used < sizeof want)
            snprintf(want + used, sizeof want - used, "]");
        return err_set(err, "input '%s' expects shape %s, got %s", v->name, want,
                       shape_format(s, got, sizeof got));
    }
    return 0;
}

/* Run one node at planning time into owned storage (its inputs are all known). */
static int fold_node(struct plan *p, const struct node *nd, const struct op_def *op,
                     const struct tensor *const *ins, struct tensor *const *outs,
                     size_t scratch_bytes, struct err *err)
{
    for (int k = 0; k < nd->n_inputs; k++)
        if (ins[k] && ins[k]->dtype == DTYPE_FLOAT)
            p->folds_float = true;
    for (int o = 0; o < nd->n_outputs; o++) {
        struct tensor *t = outs[o];
        if (!t)
            continue;
        size_t bytes = tensor_bytes(t);
        t->data = calloc(1, bytes ? bytes : 1);
        if (!t->data)
            return err_oom(err, "folded constant", bytes);
        p->owned[nd->outputs[o]] = true;
        p->known[nd->outputs[o]] = true;
    }
    void *scratch = NULL;
    if (scratch_bytes && !(scratch = malloc(scratch_bytes)))
        return err_oom(err, "scratch", scratch_bytes);
    struct op_io io = {.node = nd,
                       .opset = p->opset,
                       .n_in = nd->n_inputs,
                       .in = ins,
                       .n_out = nd->n_outputs,
                       .out = outs,
                       .scratch = scratch,
                       .scratch_bytes = scratch_bytes};
    int rc = op->run(&io, err);
    free(scratch);
    return rc;
}

int plan_step_output(const struct plan *p, const struct plan_step *st, int o)
{
    return o == 0 && st->n_fused ? st->out_value : p->graph->nodes[st->node].outputs[o];
}

void plan_lifetimes(const struct plan *p, int *first, int *last)
{
    const struct graph *g = p->graph;
    for (int v = 0; v < g->n_values; v++)
        first[v] = last[v] = -1;
    for (int i = 0; i < g->n_inputs; i++)
        if (!p->known[g->inputs[i]])
            first[g->inputs[i]] = 0;
    for (int s = 0; s < p->n_steps; s++) {
        const struct node *nd = &g->nodes[p->steps[s].node];
        for (int o = 0; o < nd->n_outputs; o++) {
            int v = plan_step_output(p, &p->steps[s], o);
            if (v >= 0 && first[v] < 0)
                first[v] = s;
        }
        for (int k = 0; k < nd->n_inputs; k++)
            if (nd->inputs[k] >= 0)
                last[nd->inputs[k]] = s;
    }
    for (int k = 0; k < g->n_outputs; k++)
        last[g->outputs[k]] = p->n_steps;
}

/* Give every runtime value a buffer, reusing one whose last reader has run. Graph outputs
 * keep theirs to the end. */
static int assign_buffers(struct plan *p, struct err *err)
{
    const struct graph *g = p->graph;
    int nv = g->n_values;
    int *first = malloc(((size_t)nv + 1) * sizeof *first);
    int *last_use = malloc(((size_t)nv + 1) * sizeof *last_use);
    int *free_list = malloc(((size_t)nv + 1) * sizeof *free_list);
    p->buffer_bytes = calloc((size_t)nv + 1, sizeof *p->buffer_bytes);
    if (!first || !last_use || !free_list || !p->buffer_bytes) {
        free(first);
        free(last_use);
        free(free_list);
        return err_oom(err, "buffer plan", (size_t)nv * sizeof *last_use);
    }
    plan_lifetimes(p, first, last_use);
    free(first);
    int n_free = 0;
    for (int s = 0; s < p->n_steps; s++) {
        const struct node *nd = &g->nodes[p->steps[s].node];
        for (int o = 0; o < nd->n_outputs; o++) {
            int v = plan_step_output(p, &p->steps[s], o);
            if (v < 0)
                continue;
            size_t need = tensor_bytes(&p->values[v]);
            /* Best fit: the smallest free buffer that is large enough, else the largest
             * free one (grown). */
            int best = -1;
            for (int f = 0; f < n_free; f++) {
                size_t have = p->buffer_bytes[free_list[f]];
                if (best < 0) {
                    best = f;
                    continue;
                }
                size_t cur = p->buffer_bytes[free_list[best]];
                bool fits = have >= need, cur_fits = cur >= need;
                if ((fits && (!cur_fits || have < cur)) || (!fits && !cur_fits && have > cur))
                    best = f;
            }
            int b;
            if (best >= 0) {
                b = free_list[best];
                free_list[best] = free_list[--n_free];
            } else {
                b = p->n_buffers++;
            }
            if (p->buffer_bytes[b] < need)
                p->buffer_bytes[b] = need;
            p->buffer[v] = b;
        }
        /* Release inputs read for the last time here (after outputs took theirs, so a
         * node never writes into a buffer it reads). Also release unread outputs. */
        for (int k = 0; k < nd->n_inputs; k++) {
            int v = nd->inputs[k];
            if (v < 0 || p->buffer[v] < 0 || last_use[v] != s)
                continue;
            bool dup = false;
            for (int f = 0; f < n_free; f++)
                dup |= free_list[f] == p->buffer[v];
            if (!dup)
                free_list[n_free++] = p->buffer[v];
            last_use[v] = -2;
        }
        for (int o = 0; o < nd->n_outputs; o++) {
            int v = plan_step_output(p, &p->steps[s], o);
            if (v >= 0 && last_use[v] == -1)
                free_list[n_free++] = p->buffer[v];
        }
    }
    p->activation_bytes = 0;
    for (int b = 0; b < p->n_buffers; b++)
        p->activation_bytes += p->buffer_bytes[b];
    free(last_use);
    free(free_list);
    return 0;
}

struct plan *plan_new(const struct graph *g, const struct op_def *const *ops,
                      const struct shape *input_shapes, const enum dtype *input_dtypes,
                      const struct tensor *const *input_values, struct err *err)
{
    return plan_new_opts(g, ops, input_shapes, input_dtypes, input_values, NULL, err);
}

/* Copy the shapes planning reached into opts->shapes (ndim -1 for the others). */
static void report_shapes(const struct plan *p, struct plan_opts *opts)
{
    if (!opts || !opts->shapes)
        return;
    for (int v = 0; v < p->graph->n_values; v++) {
        opts->shapes[v] = p->values[v].shape;
        if (p->values[v].dtype == DTYPE_UNDEFINED)
            opts->shapes[v].ndim = -1;
    }
}

/* An op_io over the plan's values for node nd (in and out have room for its inputs and
 * outputs). */
static struct op_io plan_io(struct plan *p, const struct node *nd, const struct tensor **in,
                            struct tensor **out)
{
    for (int k = 0; k < nd->n_inputs; k++)
        in[k] = nd->inputs[k] >= 0 ? &p->values[nd->inputs[k]] : NULL;
    for (int o = 0; o < nd->n_outputs; o++)
        out[o] = nd->outputs[o] >= 0 ? &p->values[nd->outputs[o]] : NULL;
    return (struct op_io){.node = nd,
                          .opset = p->opset,
                          .n_in = nd->n_inputs,
                          .in = in,
                          .n_out = nd->n_outputs,
                          .out = out};
}

/* fn (an op's macs or work function, which only read the shapes) on step st, or 0. */
static double step_count(const struct plan *p, const struct plan_step *st,
                         double (*fn)(const struct op_io *))
{
    const struct node *nd = &p->graph->nodes[st->node];
    const struct tensor *in[64];
    struct tensor *out[64];
    if (!fn || nd->n_inputs > 64 || nd->n_outputs > 64)
        return 0.0;
    struct op_io io = plan_io((struct plan *)p, nd, in, out);
    return fn(&io);
}

double plan_step_macs(const struct plan *p, const struct plan_step *st)
{
    return step_count(p, st, st->op->macs);
}

double plan_step_work(const struct plan *p, const struct plan_step *st)
{
    return step_count(p, st, st->op->work);
}

static bool node_is(const struct node *nd, const char *op_type)
{
    return strcmp(nd->op_type, op_type) == 0;
}

/* Fills a fused step's post from its fused nodes: the BatchNormalization's per-channel map
 * (from its parameters as they are now) and the activation's bounds. */
static int make_post(struct plan *p, struct plan_step *st, struct err *err)
{
    const struct graph *g = p->graph;
    const struct tensor *in[8];
    struct tensor *out[8];
    for (int f = 0; f < st->n_fused; f++) {
        const struct node *nd = &g->nodes[st->fused[f]];
        if (nd->n_inputs > 8 || nd->n_outputs > 8)
            return err_set(err, "node '%s' has too many inputs to fuse", nd->name);
        struct op_io io = plan_io(p, nd, in, out);
        if (node_is(nd, "BatchNormalization")) {
            op_batchnorm_affine(&io, (float *)st->post->scale, (float *)st->post->shift);
        } else if (node_is(nd, "Relu")) {
            st->post->clamp = true;
            st->post->lo = 0.0f;
            st->post->hi = INFINITY;
        } else {
            st->post->clamp = true;
            if (!op_clip_bounds(&io, &st->post->lo, &st->post->hi))
                return err_set(err, "node '%s': its bounds are not known", nd->name);
        }
    }
    return 0;
}

/* The step that reads value v (at reader[v]) when it is the only reader, v is no graph
 * output, and v may be fused away; else -1. */
static int sole_reader(const struct plan *p, const int *readers, const int *reader, int v,
                       const bool *keep)
{
    if (v < 0 || readers[v] != 1 || (keep && keep[v]) || p->values[v].dtype != DTYPE_FLOAT)
        return -1;
    return reader[v];
}

/* All inputs of nd after the first known before running. */
static bool params_known(const struct plan *p, const struct node *nd, int from)
{
    for (int k = from; k < nd->n_inputs; k++)
        if (nd->inputs[k] >= 0 && !p->known[nd->inputs[k]])
            return false;
    return true;
}

/* A node reading one value into its one output, as the activations we fuse do. */
static bool one_in_one_out(const struct node *nd, int v)
{
    if (nd->n_inputs < 1 || nd->inputs[0] != v || nd->n_outputs < 1 || nd->outputs[0] < 0)
        return false;
    for (int o = 1; o < nd->n_outputs; o++)
        if (nd->outputs[o] >= 0)
            return false;
    return true;
}

/* Fuse into each step whose op takes OP_FUSES_POST (Conv) the BatchNormalization that alone reads
 * its output, then the Relu or Clip (constant bounds) that alone reads the result: computed on each
 * image's outputs while they are in cache instead of in passes of their own over the whole chunk,
 * and the intermediate values never stored. The fused nodes' steps are removed;
 * plan_refresh_prepared fills in their post. */
static int fuse_steps(struct plan *p, const struct op_def *const *ops, const bool *keep,
                      struct err *err)
{
    const struct graph *g = p->graph;
    int nv = g->n_values, rc = 0;
    int *readers = calloc((size_t)nv + 1, sizeof *readers);
    int *reader = calloc((size_t)nv + 1, sizeof *reader);
    bool *gone = calloc((size_t)p->n_steps + 1, sizeof *gone);
    p->fused_away = calloc((size_t)nv + 1, sizeof *p->fused_away);
    if (!readers || !reader || !gone || !p->fused_away) {
        rc = err_oom(err, "fusion", (size_t)nv * sizeof *readers);
        goto done;
    }
    for (int s = 0; s < p->n_steps; s++) {
        const struct node *nd = &g->nodes[p->steps[s].node];
        for (int k = 0; k < nd->n_inputs; k++)
            if (nd->inputs[k] >= 0) {
                readers[nd->inputs[k]]++;
                reader[nd->inputs[k]] = s;
            }
    }
    for (int k = 0; k < g->n_outputs; k++)
        readers[g->outputs[k]] += 2;
    for (int s = 0; s < p->n_steps; s++) {
        struct plan_step *st = &p->steps[s];
        const struct node *nd = &g->nodes[st->node];
        if (gone[s] || !(ops[st->node]->flags & OP_FUSES_POST) || nd->n_outputs != 1)
            continue;
        int cur = nd->outputs[0], n = 0, fused[2], at[2];
        bool bn = false;
        int r = sole_reader(p, readers, reader, cur, keep);
        const struct node *rn = r >= 0 ? &g->nodes[p->steps[r].node] : NULL;
        if (rn && node_is(rn, "BatchNormalization") && one_in_one_out(rn, cur) &&
            params_known(p, rn, 1)) {
            at[n] = r;
            fused[n++] = p->steps[r].node;
            cur = rn->outputs[0];
            bn = true;
            r = sole_reader(p, readers, reader, cur, keep);
            rn = r >= 0 ? &g->nodes[p->steps[r].node] : NULL;
        }
        if (rn && one_in_one_out(rn, cur) &&
            (node_is(rn, "Relu") || (node_is(rn, "Clip") && params_known(p, rn, 1)))) {
            at[n] = r;
            fused[n++] = p->steps[r].node;
            cur = rn->outputs[0];
        }
        if (n == 0)
            continue;
        int64_t m = p->values[nd->outputs[0]].shape.dims[1];
        size_t floats = bn ? 2 * (size_t)m : 0;
        st->post = calloc(1, sizeof *st->post + floats * sizeof(float));
        if (!st->post) {
            rc = err_oom(err, "fusion", floats * sizeof(float));
            goto done;
        }
        if (bn) {
            float *ab = (float *)(st->post + 1);
            st->post->scale = ab;
            st->post->shift = ab + m;
        }
        st->n_fused = n;
        st->out_value = cur;
        for (int f = 0; f < n; f++) {
            st->fused[f] = fused[f];
            gone[at[f]] = true;
        }
        p->fused_away[nd->outputs[0]] = true;
        if (n == 2)
            p->fused_away[g->nodes[fused[0]].outputs[0]] = true;
    }
    int kept = 0;
    for (int s = 0; s < p->n_steps; s++)
        if (!gone[s])
            p->steps[kept++] = p->steps[s];
    p->n_steps = kept;
done:
    free(readers);
    free(reader);
    free(gone);
    return rc;
}

struct plan *plan_new_opts(const struct graph *g, const struct op_def *const *ops,
                           const struct shape *input_shapes, const enum dtype *input_dtypes,
                           const struct tensor *const *input_values, struct plan_opts *opts,
                           struct err *err)
{
    bool free_batch = opts && opts->free_batch;
    if (opts)
        opts->failed_node = -1;
    struct plan *p = calloc(1, sizeof *p);
    if (!p) {
        err_oom(err, "plan", sizeof *p);
        return NULL;
    }
    int nv = g->n_values;
    p->graph = g;
    p->opset = g->opset;
    p->input_shapes = calloc((size_t)g->n_inputs + 1, sizeof *p->input_shapes);
    p->values = calloc((size_t)nv + 1, sizeof *p->values);
    p->known = calloc((size_t)nv + 1, sizeof *p->known);
    p->owned = calloc((size_t)nv + 1, sizeof *p->owned);
    p->buffer = malloc(((size_t)nv + 1) * sizeof *p->buffer);
    p->steps = calloc((size_t)g->n_nodes + 1, sizeof *p->steps);
    if (!p->input_shapes || !p->values || !p->known || !p->owned || !p->buffer || !p->steps) {
        plan_free(p);
        err_oom(err, "plan", (size_t)nv * sizeof *p->values);
        return NULL;
    }
    for (int v = 0; v < nv; v++) {
        p->buffer[v] = -1;
        const struct tensor *c = g->values[v].constant;
        if (c) {
            p->values[v] = *c;
            p->values[v].owns_data = false;
            p->known[v] = true;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        if (check_input(g, i, &input_shapes[i], input_dtypes[i], free_batch, err) < 0) {
            report_shapes(p, opts);
            plan_free(p);
            return NULL;
        }
        int v = g->inputs[i];
        p->input_shapes[i] = input_shapes[i];
        p->values[v].dtype = input_dtypes[i];
        p->values[v].shape = input_shapes[i];
        if (input_dtypes[i] == DTYPE_INT64 && input_values && input_values[i] &&
            input_values[i]->data) {
            size_t bytes = tensor_bytes(&p->values[v]);
            p->values[v].data = malloc(bytes ? bytes : 1);
            if (!p->values[v].data) {
                plan_free(p);
                err_oom(err, "input value", bytes);
                return NULL;
            }
            if (bytes)
                memcpy(p->values[v].data, input_values[i]->data, bytes);
            p->owned[v] = true;
            p->known[v] = true;
        }
    }

    const struct tensor **ins = NULL;
    struct tensor **outs = NULL;
    size_t max_io = 1;
    for (int n = 0; n < g->n_nodes; n++) {
        size_t k = (size_t)(g->nodes[n].n_inputs > g->nodes[n].n_outputs ? g->nodes[n].n_inputs
                                                                         : g->nodes[n].n_outputs);
        if (k > max_io)
            max_io = k;
    }
    ins = calloc(max_io, sizeof *ins);
    outs = calloc(max_io, sizeof *outs);
    if (!ins || !outs)
        goto oom;

    for (int n = 0; n < g->n_nodes; n++) {
        const struct node *nd = &g->nodes[n];
        const struct op_def *op = ops[n];
        bool all_known = true;
        for (int k = 0; k < nd->n_inputs; k++) {
            int v = nd->inputs[k];
            ins[k] = v >= 0 ? &p->values[v] : NULL;
            if (v >= 0 && !p->known[v])
                all_known = false;
        }
        for (int o = 0; o < nd->n_outputs; o++) {
            int v = nd->outputs[o];
            outs[o] = v >= 0 ? &p->values[v] : NULL;
        }
        struct op_io io = {.node = nd,
                           .opset = g->opset,
                           .n_in = nd->n_inputs,
                           .in = ins,
                           .n_out = nd->n_outputs,
                           .out = outs};
        if (op->shape(&io, err) < 0) {
            if (opts)
                opts->failed_node = n;
            goto fail;
        }
        for (int o = 0; o < nd->n_outputs; o++)
            if (outs[o] && outs[o]->dtype == DTYPE_UNDEFINED) {
                err_set(err, "node '%s' (%s): output %d was given no type", nd->name, nd->op_type,
                        o);
                goto fail;
            }
        bool foldable = all_known || ((op->flags & OP_READS_SHAPE_ONLY) && nd->n_inputs > 0);
        if (foldable) {
            if (fold_node(p, nd, op, ins, outs, io.scratch_bytes, err) < 0)
                goto fail;
            continue;
        }
        struct plan_step *st = &p->steps[p->n_steps++];
        st->node = n;
        st->op = op;
        st->scratch_bytes = io.scratch_bytes;
        if (io.scratch_bytes > p->max_scratch_bytes)
            p->max_scratch_bytes = io.scratch_bytes;
    }
    free(ins);
    free(outs);
    report_shapes(p, opts);
    if ((opts && opts->fuse && fuse_steps(p, ops, opts->keep, err) < 0) ||
        plan_refresh_prepared(p, NULL, err) < 0 || assign_buffers(p, err) < 0) {
        plan_free(p);
        return NULL;
    }
    return p;
oom:
    err_oom(err, "plan", 0);
fail:
    free(ins);
    free(outs);
    report_shapes(p, opts);
    plan_free(p);
    return NULL;
}

int plan_refresh_prepared(struct plan *p, const bool *changed, struct err *err)
{
    const struct graph *g = p->graph;
    const struct tensor *ins[64];
    struct tensor *outs[64];
    for (int i = 0; i < p->n_steps; i++) {
        struct plan_step *st = &p->steps[i];
        /* The fused nodes' parameters (a BatchNormalization's, pruned with its channels). */
        bool post_changed = !changed;
        for (int f = 0; f < st->n_fused && !post_changed; f++) {
            const struct node *fn = &g->nodes[st->fused[f]];
            for (int k = 1; k < fn->n_inputs && !post_changed; k++)
                post_changed = fn->inputs[k] >= 0 && changed[fn->inputs[k]];
        }
        if (st->n_fused && post_changed && make_post(p, st, err) < 0)
            return -1;
        if (!st->op->prepare)
            continue;
        const struct node *nd = &g->nodes[st->node];
        if (nd->n_inputs > 64 || nd->n_outputs > 64)
            return err_set(err, "node '%s' has too many inputs", nd->name);
        bool reads_changed = !changed;
        for (int k = 0; k < nd->n_inputs && !reads_changed; k++)
            reads_changed = nd->inputs[k] >= 0 && changed[nd->inputs[k]];
        if (!reads_changed)
            continue;
        struct op_io io = plan_io(p, nd, ins, outs);
        if (st->prepared && st->op->release)
            st->op->release(st->prepared);
        st->prepared = NULL;
        /* The scratch size was set for the kernel chosen at planning; a sparse kernel
         * chosen now needs no more than the largest sparse scratch the shape call gives. */
        struct op_io shape_io = io;
        struct tensor shadow[64];
        struct tensor *shadow_outs[64];
        for (int o = 0; o < nd->n_outputs; o++) {
            shadow[o] = outs[o] ? *outs[o] : (struct tensor){0};
            shadow_outs[o] = outs[o] ? &shadow[o] : NULL;
        }
        shape_io.out = shadow_outs;
        if (st->op->shape(&shape_io, err) < 0)
            return -1;
        if (shape_io.scratch_bytes > st->scratch_bytes)
            return 1; /* needs a new plan (bigger scratch) */
        if (st->op->prepare(&io, &st->prepared, err) < 0)
            return -1;
    }
    return 0;
}

struct workspace *workspace_new(const struct plan *p, struct err *err)
{
    const struct graph *g = p->graph;
    struct workspace *w = calloc(1, sizeof *w);
    if (!w) {
        err_oom(err, "workspace", sizeof *w);
        return NULL;
    }
    w->plan = p;
    w->values = calloc((size_t)g->n_values + 1, sizeof *w->values);
    w->bufs = calloc((size_t)p->n_buffers + 1, sizeof *w->bufs);
    if (!w->values || !w->bufs)
        goto oom;
    for (int b = 0; b < p->n_buffers; b++) {
        /* 64-byte alignment helps the vector kernels. */
        size_t bytes = (p->buffer_bytes[b] + 63) / 64 * 64;
        if (posix_memalign(&w->bufs[b], 64, bytes ? bytes : 64) != 0)
            goto oom;
    }
    if (p->max_scratch_bytes &&
        posix_memalign(&w->scratch, 64, (p->max_scratch_bytes + 63) / 64 * 64) != 0)
        goto oom;
    for (int v = 0; v < g->n_values; v++) {
        w->values[v] = p->values[v];
        w->values[v].owns_data = false;
        if (p->buffer[v] >= 0)
            w->values[v].data = w->bufs[p->buffer[v]];
    }
    return w;
oom:
    workspace_free(w);
    err_oom(err, "workspace buffers", p->activation_bytes);
    return NULL;
}

void workspace_free(struct workspace *w)
{
    if (!w)
        return;
    if (w->bufs)
        for (int b = 0; b < w->plan->n_buffers; b++)
            free(w->bufs[b]);
    free(w->bufs);
    free(w->scratch);
    free(w->values);
    free(w);
}

int workspace_run(struct workspace *w, const struct tensor *const *inputs, struct err *err)
{
    return workspace_run_subset(w, inputs, NULL, 0, NULL, NULL, err);
}

/* Copies value v out to dst if it is one of the captured values (right after its step:
 * its buffer may be reused once it is dead). */
static void capture(const struct workspace *w, int v, int n_capture, const int *capture_values,
                    void *const *capture_dst)
{
    for (int c = 0; c < n_capture; c++)
        if (capture_values[c] == v)
            memcpy(capture_dst[c], w->values[v].data, tensor_bytes(&w->values[v]));
}

/* One step's run call, its wall time and multiply-adds added to its node's entry. The MACs
 * are counted outside the timed interval. */
static int run_timed(struct workspace *w, const struct plan_step *st, struct op_io *io,
                     struct err *err)
{
    double t0 = timer_now_s();
    int rc = st->op->run(io, err);
    double t1 = timer_now_s();
    struct plan_node_time *t = &w->times[st->node];
    t->ms += (t1 - t0) * 1000.0;
    t->runs++;
    if (rc == 0 && st->op->macs)
        t->macs += st->op->macs(io);
    return rc;
}

int workspace_run_subset(struct workspace *w, const struct tensor *const *inputs,
                         const bool *run_node, int n_capture, const int *capture_values,
                         void *const *capture_dst, struct err *err)
{
    const struct plan *p = w->plan;
    const struct graph *g = p->graph;
    for (int i = 0; i < g->n_inputs; i++)
        if (!p->known[g->inputs[i]])
            w->values[g->inputs[i]].data = inputs[i]->data;
    const struct tensor *ins[64];
    struct tensor *outs[64];
    for (int s = 0; s < p->n_steps; s++) {
        const struct plan_step *st = &p->steps[s];
        const struct node *nd = &g->nodes[st->node];
        if (run_node && !run_node[st->node])
            continue;
        if (nd->n_inputs > 64 || nd->n_outputs > 64)
            return err_set(err, "node '%s' (%s) has too many inputs or outputs", nd->name,
                           nd->op_type);
        for (int k = 0; k < nd->n_inputs; k++)
            ins[k] = nd->inputs[k] >= 0 ? &w->values[nd->inputs[k]] : NULL;
        for (int o = 0; o < nd->n_outputs; o++) {
            int v = plan_step_output(p, st, o);
            outs[o] = v >= 0 ? &w->values[v] : NULL;
        }
        struct op_io io = {.node = nd,
                           .opset = p->opset,
                           .n_in = nd->n_inputs,
                           .in = ins,
                           .n_out = nd->n_outputs,
                           .out = outs,
                           .scratch = w->scratch,
                           .scratch_bytes = st->scratch_bytes,
                           .prepared = st->prepared,
                           .post = st->post};
        if ((w->times ? run_timed(w, st, &io, err) : st->op->run(&io, err)) < 0)
            return -1;
        for (int o = 0; n_capture && o < nd->n_outputs; o++)
            if (plan_step_output(p, st, o) >= 0)
                capture(w, plan_step_output(p, st, o), n_capture, capture_values, capture_dst);
    }
    return 0;
}
