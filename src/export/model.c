/* ONNX export through protobuf-c: unpack the loaded file again, replace the initializers
 * pruning changed, cut removed units out of their dependency groups, drop the now stale
 * intermediate shapes (value_info), pack and write atomically. Not pruning decisions. */
#include "export/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/files.h"
#include "model/onnx_reader.h"
#include "onnx.pb-c.h"

/* A tensor being reshaped by the export (per graph value). */
struct work {
    bool touched;
    struct shape shape;
    float *data;
};

static struct work *work_get(struct work *w, const struct graph *g, int v, struct err *err)
{
    struct work *t = &w[v];
    if (t->touched)
        return t;
    const struct tensor *c = g->values[v].constant;
    t->shape = c->shape;
    t->data = malloc(tensor_bytes(c) + 1);
    if (!t->data) {
        err_oom(err, "export", tensor_bytes(c));
        return NULL;
    }
    memcpy(t->data, c->data, tensor_bytes(c));
    t->touched = true;
    return t;
}

/* Removes, along axis, the groups of `group` consecutive indices flagged in remove. */
static int slice_axis(struct work *t, int axis, const bool *remove, size_t group, struct err *err)
{
    size_t outer = 1, inner = 1, d = (size_t)t->shape.dims[axis];
    for (int i = 0; i < axis; i++)
        outer *= (size_t)t->shape.dims[i];
    for (int i = axis + 1; i < t->shape.ndim; i++)
        inner *= (size_t)t->shape.dims[i];
    size_t kept = 0;
    for (size_t i = 0; i < d; i++)
        kept += !remove[i / group];
    float *out = malloc(outer * kept * inner * sizeof *out + 1);
    if (!out)
        return err_oom(err, "export", outer * kept * inner * sizeof *out);
    float *dst = out;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < d; i++)
            if (!remove[i / group]) {
                memcpy(dst, t->data + (o * d + i) * inner, inner * sizeof *dst);
                dst += inner;
            }
    free(t->data);
    t->data = out;
    t->shape.dims[axis] = (int64_t)kept;
    return 0;
}

/* The axis of a layer's weight that indexes its units, and the one that indexes inputs. */
static int unit_axis(const struct graph *g, const struct layer *l)
{
    if (strcmp(l->op, "Conv") == 0)
        return 0;
    if (strcmp(l->op, "Gemm") == 0 && node_attr_int(&g->nodes[l->node], "transB", 0))
        return 0;
    return l->shape.ndim - 1;
}

static int input_axis(const struct graph *g, const struct layer *l)
{
    if (strcmp(l->op, "Conv") == 0)
        return 1;
    return unit_axis(g, l) == 0 ? 1 : l->shape.ndim - 2;
}

/* The node of mp writing value name (as its first output), or NULL. */
static Onnx__NodeProto *proto_node(Onnx__ModelProto *mp, const char *name)
{
    for (size_t i = 0; i < mp->graph->n_node; i++) {
        Onnx__NodeProto *np = mp->graph->node[i];
        if (np->n_output > 0 && strcmp(np->output[0], name) == 0)
            return np;
    }
    return NULL;
}

/* Sets the int attribute `name` of np (which must have it). */
static int set_int_attr(Onnx__NodeProto *np, const char *name, int64_t value, struct err *err)
{
    for (size_t i = 0; i < np->n_attribute; i++)
        if (strcmp(np->attribute[i]->name, name) == 0) {
            np->attribute[i]->i = value;
            np->attribute[i]->has_i = 1;
            return 0;
        }
    return err_set(err, "node '%s' has no attribute '%s' to update", np->name, name);
}

/* The TensorProto holding constant value `name`: an initializer, or a Constant node's
 * value; NULL when neither. */
static Onnx__TensorProto *proto_constant(Onnx__ModelProto *mp, const char *name)
{
    for (size_t i = 0; i < mp->graph->n_initializer; i++)
        if (strcmp(mp->graph->initializer[i]->name, name) == 0)
            return mp->graph->initializer[i];
    Onnx__NodeProto *np = proto_node(mp, name);
    if (!np || strcmp(np->op_type, "Constant") != 0)
        return NULL;
    for (size_t i = 0; i < np->n_attribute; i++)
        if (strcmp(np->attribute[i]->name, "value") == 0)
            return np->attribute[i]->t;
    return NULL;
}

/* Entry index of an int64 TensorProto set to v (raw_data is little-endian, as is this
 * host). */
static int set_int64_entry(Onnx__TensorProto *tp, size_t index, int64_t v, struct err *err)
{
    if (tp->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
        return err_set(err, "constant '%s' is not int64", tp->name ? tp->name : "?");
    if (tp->has_raw_data && tp->raw_data.len >= (index + 1) * sizeof v) {
        memcpy(tp->raw_data.data + index * sizeof v, &v, sizeof v);
        return 0;
    }
    if (index < tp->n_int64_data) {
        tp->int64_data[index] = v;
        return 0;
    }
    return err_set(err, "constant '%s' has no entry %zu", tp->name ? tp->name : "?", index);
}

/* Target shapes written in the file that size an axis of channels get the kept count. */
static int rewrite_shapes(const struct session *s, Onnx__ModelProto *mp, const bool *removed,
                          struct err *err)
{
    const struct group_set *gs = &s->groups;
    const struct graph *g = engine_graph(s->engine);
    for (size_t k = 0; k < gs->n_edits; k++) {
        const struct group_shape_edit *e = &gs->edits[k];
        size_t kept = 0, all = 0;
        for (size_t i = e->from; i < e->upto && i < e->len; i++) {
            kept += e->unit[i] < 0 || !removed[e->unit[i]];
            all++;
        }
        if (kept == all)
            continue;
        Onnx__TensorProto *tp = proto_constant(mp, g->values[e->value].name);
        if (!tp)
            return err_set(err, "the target shape of node '%s' is not found in the file again",
                           g->nodes[e->node].name);
        if (set_int64_entry(tp, e->index, (int64_t)kept, err) < 0)
            return -1;
    }
    return 0;
}

/* Cuts the removed units out of every tensor they reach: the members' filters or neurons,
 * the consumers' input columns, the per-channel constants; a depthwise convolution's group
 * count follows its channels. */
static int shrink(const struct session *s, Onnx__ModelProto *mp, struct work *w,
                  struct model_export_summary *sum, struct err *err)
{
    const bool *removed = session_removed_units(s);
    const struct group_set *gs = &s->groups;
    if (!removed)
        return 0;
    bool any = false;
    for (size_t u = 0; u < gs->n_units && !any; u++)
        any = removed[u];
    if (!any)
        return 0;
    const struct graph *g = engine_graph(s->engine);
    int rc = -1;
    size_t cap = 1;
    for (size_t li = 0; li < s->layers.count; li++) {
        if (gs->out_count[li] > cap)
            cap = gs->out_count[li];
        if (gs->in_count[li] > cap)
            cap = gs->in_count[li];
    }
    bool *flags = calloc(cap + 1, sizeof *flags);
    if (!flags)
        return err_oom(err, "export", cap);
    for (size_t li = 0; li < s->layers.count; li++) {
        const struct layer *l = &s->layers.items[li];
        struct weight_view v;
        struct err ignored;
        if (prune_view(g, l, &v, &ignored) < 0)
            continue;
        size_t n_out = 0, n_in = 0;
        for (size_t u = 0; u < gs->out_count[li]; u++)
            n_out += flags[u] = removed[groups_unit_of(gs, li, u)];
        struct work *t = NULL;
        if (n_out) {
            if (!(t = work_get(w, g, l->weight, err)) ||
                slice_axis(t, unit_axis(g, l), flags, 1, err) < 0)
                goto done;
        }
        bool conv = strcmp(l->op, "Conv") == 0;
        size_t cols = gs->in_unit[li] ? gs->in_count[li] : 0;
        for (size_t j = 0; j < cols; j++) {
            int u = gs->in_unit[li][j];
            n_in += u >= 0 && removed[u];
        }
        if (n_in && !gs->depthwise[li]) {
            /* A grouped convolution loses the same positions in every group. */
            size_t width = conv ? v.channels : cols;
            memset(flags, 0, width * sizeof *flags);
            for (size_t j = 0; j < cols; j++) {
                int u = gs->in_unit[li][j];
                if (u >= 0 && removed[u])
                    flags[j % width] = true;
            }
            if (!(t = work_get(w, g, l->weight, err)) ||
                slice_axis(t, input_axis(g, l), flags, 1, err) < 0)
                goto done;
        }
        if (gs->depthwise[li] && n_in) {
            const struct node *nd = &g->nodes[l->node];
            Onnx__NodeProto *np = proto_node(mp, g->values[nd->outputs[0]].name);
            int64_t groups = node_attr_int(nd, "group", 1);
            if (!np || set_int_attr(np, "group", groups - (int64_t)n_in, err) < 0) {
                if (!np)
                    err_set(err, "node '%s' not found in the file again", l->name);
                goto done;
            }
        }
        if (n_out || n_in) {
            sum->layers_shrunk++;
            sum->units_removed += n_out;
        }
    }
    for (size_t k = 0; k < gs->n_consts; k++) {
        const struct group_const *gc = &gs->consts[k];
        bool cut = false;
        bool *f = calloc(gc->len + 1, sizeof *f);
        if (!f) {
            err_oom(err, "export", gc->len);
            goto done;
        }
        for (size_t i = 0; i < gc->len; i++)
            cut |= f[i] = gc->unit[i] >= 0 && removed[gc->unit[i]];
        struct work *t = NULL;
        int r = 0;
        if (cut &&
            (!(t = work_get(w, g, gc->value, err)) || slice_axis(t, gc->axis, f, 1, err) < 0))
            r = -1;
        free(f);
        if (r < 0)
            goto done;
    }
    rc = rewrite_shapes(s, mp, removed, err);
done:
    free(flags);
    return rc;
}

/* Puts a work tensor (or the session's current data) into an initializer proto. */
static int set_initializer(Onnx__TensorProto *tp, const struct shape *shape, const float *data,
                           struct err *err)
{
    size_t n = shape_numel(shape);
    int64_t *dims = malloc((size_t)(shape->ndim + 1) * sizeof *dims);
    uint8_t *raw = malloc(n * sizeof(float) + 1);
    if (!dims || !raw) {
        free(dims);
        free(raw);
        return err_oom(err, "export", n * sizeof(float));
    }
    for (int d = 0; d < shape->ndim; d++)
        dims[d] = shape->dims[d];
    memcpy(raw, data, n * sizeof(float)); /* raw_data is little-endian, as is this host */
    free(tp->dims);
    tp->dims = dims;
    tp->n_dims = (size_t)shape->ndim;
    free(tp->raw_data.data);
    tp->raw_data.data = raw;
    tp->raw_data.len = n * sizeof(float);
    tp->has_raw_data = 1;
    free(tp->float_data);
    tp->float_data = NULL;
    tp->n_float_data = 0;
    free(tp->double_data);
    tp->double_data = NULL;
    tp->n_double_data = 0;
    tp->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    return 0;
}

int model_export(const struct session *s, const char *path, bool force,
                 struct model_export_summary *sum, struct err *err)
{
    memset(sum, 0, sizeof *sum);
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    const struct graph *g = engine_graph(s->engine);
    size_t len;
    uint8_t *buf = onnx_slurp(s->model_path, &len, err);
    if (!buf)
        return -1;
    sum->bytes_before = len;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!mp || !mp->graph)
        return err_set(err, "%s: could not be read again for export", s->model_path);
    struct work *w = calloc((size_t)g->n_values + 1, sizeof *w);
    int rc = -1;
    uint8_t *out = NULL;
    if (!w) {
        err_oom(err, "export", 0);
        goto done;
    }
    if (shrink(s, mp, w, sum, err) < 0)
        goto done;
    for (size_t i = 0; i < mp->graph->n_initializer; i++) {
        Onnx__TensorProto *tp = mp->graph->initializer[i];
        int v = graph_find_value(g, tp->name);
        if (v < 0 || !s->original[v])
            continue;
        const struct tensor *cur = g->values[v].constant;
        if (w[v].touched) {
            if (set_initializer(tp, &w[v].shape, w[v].data, err) < 0)
                goto done;
        } else if (memcmp(cur->data, s->original[v], tensor_bytes(cur)) != 0) {
            if (set_initializer(tp, &cur->shape, tensor_f32(cur), err) < 0)
                goto done;
        }
    }
    /* Shapes of intermediate values may have changed; they are optional, so drop them. */
    if (sum->layers_shrunk) {
        for (size_t i = 0; i < mp->graph->n_value_info; i++)
            onnx__value_info_proto__free_unpacked(mp->graph->value_info[i], NULL);
        free(mp->graph->value_info);
        mp->graph->value_info = NULL;
        mp->graph->n_value_info = 0;
    }
    size_t n = onnx__model_proto__get_packed_size(mp);
    out = malloc(n + 1);
    if (!out) {
        err_oom(err, "export", n);
        goto done;
    }
    onnx__model_proto__pack(mp, out);
    if (files_write_atomic(path, out, n, force, s->model_path, err) < 0)
        goto done;
    sum->bytes_after = n;
    rc = 0;
done:
    for (int v = 0; w && v < g->n_values; v++)
        free(w[v].data);
    free(w);
    free(out);
    onnx__model_proto__free_unpacked(mp, NULL);
    return rc;
}

struct engine *model_deployed_engine(struct session *s, struct engine **own, struct err *err)
{
    *own = NULL;
    bool structured = false;
    for (size_t i = 0; i < s->layers.count && !s->config.global; i++)
        structured |= s->config.settings[i].sparsity > 0 &&
                      session_setting_structured(&s->config.settings[i]);
    if (!structured)
        return s->engine;
    char tmp[] = "/tmp/prunescope-deployed-XXXXXX.onnx";
    int fd = mkstemps(tmp, 5);
    if (fd < 0) {
        err_set(err, "%s: cannot make a temporary file: %s", tmp, strerror(errno));
        return NULL;
    }
    close(fd);
    struct model_export_summary sum;
    if (model_export(s, tmp, true, &sum, err) == 0)
        *own = engine_open(tmp, s->threads, err);
    unlink(tmp);
    return *own;
}
