/* ONNX export through protobuf-c: unpack the loaded file again, replace the initializers
 * pruning changed, cut removed units out of their dependency groups, drop the now stale
 * intermediate shapes (value_info), pack and write atomically. Not pruning decisions. */
#include "export/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Cuts the removed units of layer li out of its group. Returns 1 when shrunk, 0 when the
 * group can only be masked (noted in sum). */
static int shrink_layer(const struct session *s, size_t li, struct work *w,
                        struct model_export_summary *sum, struct err *err)
{
    const struct graph *g = engine_graph(s->engine);
    const struct layer *l = &s->layers.items[li];
    struct weight_view v;
    struct err ignored;
    if (prune_view(g, l, &v, &ignored) < 0)
        return 0;
    bool *removed = calloc(v.units + 1, sizeof *removed);
    if (!removed)
        return err_oom(err, "export", v.units);
    struct prune_reach r;
    int n = session_removed_units(s, li, removed, v.units, &r, err);
    int rc = 0;
    if (n <= 0) {
        rc = n;
        goto done;
    }
    size_t used = strlen(sum->masked_only);
    if (!r.safe) {
        snprintf(sum->masked_only + used, sizeof sum->masked_only - used, "%s%s (%s)",
                 used ? "; " : "", l->name, r.why);
        goto done;
    }
    const struct layer *c = &s->layers.items[r.consumer];
    struct weight_view cv;
    if (prune_view(g, c, &cv, &ignored) < 0 || cv.channels % v.units != 0 ||
        (strcmp(c->op, "Conv") == 0 && cv.channels != v.units) ||
        (strcmp(l->op, "Conv") == 0 && node_attr_int(&g->nodes[l->node], "group", 1) != 1)) {
        snprintf(sum->masked_only + used, sizeof sum->masked_only - used,
                 "%s%s (the inputs of '%s' do not line up with its units)", used ? "; " : "",
                 l->name, c->name);
        goto done;
    }
    size_t per_unit = cv.channels / v.units;
    struct work *t = work_get(w, g, l->weight, err);
    if (!t || slice_axis(t, unit_axis(g, l), removed, 1, err) < 0) {
        rc = -1;
        goto done;
    }
    int group_vals[5] = {r.bias, r.bn[0], r.bn[1], r.bn[2], r.bn[3]};
    for (int k = 0; k < 5; k++) {
        if (group_vals[k] < 0 || !g->values[group_vals[k]].constant)
            continue;
        if (tensor_numel(g->values[group_vals[k]].constant) != v.units)
            continue;
        if (!(t = work_get(w, g, group_vals[k], err)) || slice_axis(t, 0, removed, 1, err) < 0) {
            rc = -1;
            goto done;
        }
    }
    int axis = input_axis(g, c);
    if (strcmp(c->op, "Conv") == 0)
        per_unit = 1;
    if (!(t = work_get(w, g, c->weight, err)) || slice_axis(t, axis, removed, per_unit, err) < 0) {
        rc = -1;
        goto done;
    }
    sum->units_removed += (size_t)n;
    sum->layers_shrunk++;
    rc = 1;
done:
    free(removed);
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
    for (size_t li = 0; li < s->layers.count; li++)
        if (shrink_layer(s, li, w, sum, err) < 0)
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
