/* The session: model and data loading with their compatibility checks, evaluation, weight
 * statistics and history. Not command parsing or output formatting. */
#include "session/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"

struct session *session_new(int threads, const volatile sig_atomic_t *cancel, struct err *err)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s) {
        err_oom(err, "session", sizeof *s);
        return NULL;
    }
    s->threads = threads;
    s->cancel = cancel;
    return s;
}

static void drop_data(struct session *s)
{
    dataset_free(s->data);
    s->data = NULL;
    free(s->data_path);
    s->data_path = NULL;
    free((char *)s->data_opt.label);
    memset(&s->data_opt, 0, sizeof s->data_opt);
}

void session_free(struct session *s)
{
    if (!s)
        return;
    drop_data(s);
    engine_free(s->engine);
    layers_fini(&s->layers);
    free(s->model_path);
    for (size_t i = 0; i < s->n_history; i++)
        free(s->history[i]);
    free(s->history);
    free(s);
}

/* What output 0 holds, from the op that produces it. */
static enum output_kind output_kind_of(const struct graph *g)
{
    if (g->n_outputs < 1)
        return OUTPUT_LOGITS;
    int p = g->values[g->outputs[0]].producer;
    if (p < 0)
        return OUTPUT_LOGITS;
    const char *op = g->nodes[p].op_type;
    if (strcmp(op, "Softmax") == 0 || strcmp(op, "Sigmoid") == 0)
        return OUTPUT_PROBS;
    if (strcmp(op, "LogSoftmax") == 0)
        return OUTPUT_LOGPROBS;
    return OUTPUT_LOGITS;
}

/* The model input's shape with the batch dim, as text ("[N,1,28,28]"). */
static void input_shape_text(const struct graph *g, char *buf, size_t size)
{
    const struct value *v = &g->values[g->inputs[0]];
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < v->shape.ndim && used < size; d++) {
        if (v->shape.dims[d] >= 0)
            used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? "," : "",
                                     (long long)v->shape.dims[d]);
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%s", d ? "," : "",
                                     d == 0 ? "N" : (v->dim_param[d] ? v->dim_param[d] : "?"));
    }
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

size_t session_model_features(const struct session *s, struct shape *row_shape, struct err *err)
{
    if (!s->engine) {
        err_set(err, "no model is loaded (use: load MODEL.onnx)");
        return 0;
    }
    const struct graph *g = engine_graph(s->engine);
    if (g->n_inputs != 1) {
        err_set(err, "the model has %d inputs; evaluation on CSV rows needs exactly one",
                g->n_inputs);
        return 0;
    }
    const struct value *v = &g->values[g->inputs[0]];
    if (!v->has_shape || v->shape.ndim < 1) {
        err_set(err, "the model's input '%s' declares no shape; give one with --shape", v->name);
        return 0;
    }
    size_t n = 1;
    row_shape->ndim = v->shape.ndim - 1;
    for (int d = 1; d < v->shape.ndim; d++) {
        if (v->shape.dims[d] < 0) {
            char sb[256];
            input_shape_text(g, sb, sizeof sb);
            err_set(err,
                    "the model's input '%s' %s has a symbolic dim %d; give the row shape "
                    "with --shape",
                    v->name, sb, d);
            return 0;
        }
        row_shape->dims[d - 1] = v->shape.dims[d];
        n *= (size_t)v->shape.dims[d];
    }
    return n;
}

size_t session_model_outputs(const struct session *s)
{
    const struct graph *g = engine_graph(s->engine);
    struct shape out;
    struct err ignored;
    if (g->n_outputs < 1 || engine_value_shape(s->engine, g->outputs[0], 1, &out, &ignored) < 0)
        return 0;
    size_t n = 1;
    for (int d = 1; d < out.ndim; d++)
        n *= (size_t)out.dims[d];
    return n;
}

/* Check d against the current model; row_shape receives the per-row input shape. */
static int check_fit(struct session *s, const struct dataset *d, const struct shape *forced,
                     struct shape *row_shape, struct err *err)
{
    const struct graph *g = engine_graph(s->engine);
    char sb[256];
    input_shape_text(g, sb, sizeof sb);
    size_t want;
    if (forced) {
        want = shape_numel(forced);
        *row_shape = *forced;
        const struct value *v = &g->values[g->inputs[0]];
        bool ok = g->n_inputs == 1 && (!v->has_shape || v->shape.ndim == forced->ndim + 1);
        for (int i = 0; ok && v->has_shape && i < forced->ndim; i++)
            ok = v->shape.dims[i + 1] < 0 || v->shape.dims[i + 1] == forced->dims[i];
        if (!ok) {
            char fb[128];
            return err_set(err, "--shape %s does not fit the model's input %s",
                           shape_format(forced, fb, sizeof fb), sb);
        }
    } else {
        struct err e2;
        want = session_model_features(s, row_shape, &e2);
        if (!want) {
            *err = e2;
            return -1;
        }
    }
    if (dataset_check_features(d, want, sb, err) < 0)
        return -1;
    size_t n_out = session_model_outputs(s);
    if (d->kind == LABEL_CLASS && n_out >= 2 && dataset_check_classes(d, n_out, err) < 0)
        return -1;
    if (d->kind == LABEL_VALUE && n_out >= 2)
        return err_set(err,
                       "%s: the labels in column %zu (%s) are not integers (regression "
                       "targets), but the model has %zu outputs; regression needs one",
                       d->path, d->label_column, d->label_name, n_out);
    return 0;
}

int session_load_model(struct session *s, const char *path, char *dropped_data, size_t dropped_size,
                       struct err *err)
{
    if (dropped_data && dropped_size)
        dropped_data[0] = '\0';
    struct engine *e = engine_open(path, s->threads, err);
    if (!e)
        return -1;
    struct layer_list layers;
    if (layers_find(engine_graph(e), &layers, err) < 0) {
        engine_free(e);
        return -1;
    }
    char *p = strdup(path);
    if (!p) {
        layers_fini(&layers);
        engine_free(e);
        return err_oom(err, "path", strlen(path));
    }
    engine_set_cancel(e, s->cancel);
    engine_free(s->engine);
    layers_fini(&s->layers);
    free(s->model_path);
    s->engine = e;
    s->layers = layers;
    s->model_path = p;
    s->output_kind = output_kind_of(engine_graph(e));
    if (s->data) {
        struct err why;
        struct shape rs;
        if (check_fit(s, s->data, NULL, &rs, &why) < 0) {
            if (dropped_data)
                snprintf(dropped_data, dropped_size, "%s", why.msg);
            drop_data(s);
        } else {
            s->row_shape = rs;
        }
    }
    return 0;
}

int session_load_data(struct session *s, const char *path, const struct dataset_options *opt,
                      const struct shape *row_shape, struct err *err)
{
    if (!s->engine)
        return err_set(err, "load a model first (load MODEL.onnx), so the data can be checked "
                            "against its input");
    struct dataset *d = dataset_load(path, opt, err);
    if (!d)
        return -1;
    struct shape rs;
    if (check_fit(s, d, row_shape, &rs, err) < 0) {
        dataset_free(d);
        return -1;
    }
    char *p = strdup(path), *label = opt->label ? strdup(opt->label) : NULL;
    if (!p || (opt->label && !label)) {
        free(p);
        free(label);
        dataset_free(d);
        return err_oom(err, "path", strlen(path));
    }
    drop_data(s);
    s->data = d;
    s->data_path = p;
    s->data_opt = *opt;
    s->data_opt.label = label;
    s->row_shape = rs;
    return 0;
}

int session_eval(struct session *s, int top_k, struct metrics *m, double *elapsed_ms,
                 struct err *err)
{
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    if (!s->data)
        return err_set(err, "no data is loaded (use: data FILE.csv)");
    double t0 = timer_now_s();
    const struct graph *g = engine_graph(s->engine);
    struct tensor view = {.dtype = DTYPE_FLOAT, .data = s->data->features};
    view.shape.ndim = s->row_shape.ndim + 1;
    view.shape.dims[0] = (int64_t)s->data->rows;
    for (int d = 0; d < s->row_shape.ndim; d++)
        view.shape.dims[d + 1] = s->row_shape.dims[d];
    struct tensor **outs = calloc((size_t)g->n_outputs + 1, sizeof *outs);
    if (!outs)
        return err_oom(err, "outputs", sizeof *outs);
    int rc = engine_run_rows(s->engine, &view, outs, err);
    if (rc == 0) {
        const struct tensor *o = outs[0];
        size_t n_out = o->shape.ndim > 1 ? tensor_numel(o) / (size_t)o->shape.dims[0] : 1;
        rc = metrics_compute(tensor_f32(o), s->data->rows, n_out, s->output_kind, s->data, top_k, m,
                             err);
    }
    for (int k = 0; k < g->n_outputs; k++)
        tensor_free(outs[k]);
    free(outs);
    if (elapsed_ms)
        *elapsed_ms = (timer_now_s() - t0) * 1000.0;
    return rc;
}

void session_weight_stats(const struct session *s, struct weight_stats *ws)
{
    memset(ws, 0, sizeof *ws);
    if (!s->engine)
        return;
    const struct graph *g = engine_graph(s->engine);
    for (int v = 0; v < g->n_values; v++) {
        const struct tensor *t = g->values[v].constant;
        if (!t || t->dtype != DTYPE_FLOAT)
            continue;
        size_t n = tensor_numel(t);
        ws->params += n;
        const float *x = tensor_f32(t);
        for (size_t i = 0; i < n; i++)
            ws->nonzero_params += x[i] != 0.0f;
    }
    for (size_t i = 0; i < s->layers.count; i++) {
        const struct tensor *t = g->values[s->layers.items[i].weight].constant;
        size_t n = tensor_numel(t);
        ws->prunable_params += n;
        const float *x = tensor_f32(t);
        for (size_t k = 0; k < n; k++)
            ws->prunable_zeros += x[k] == 0.0f;
    }
}

double session_layer_macs(const struct session *s, const struct layer *l)
{
    const struct graph *g = engine_graph(s->engine);
    const struct node *nd = &g->nodes[l->node];
    struct shape out;
    struct err ignored;
    if (nd->n_outputs < 1 || engine_value_shape(s->engine, nd->outputs[0], 1, &out, &ignored) < 0)
        return 0.0;
    double out_elems = (double)shape_numel(&out);
    if (strcmp(l->op, "Conv") == 0) {
        double per = 1.0; /* C/group * kernel volume */
        for (int d = 1; d < l->shape.ndim; d++)
            per *= (double)l->shape.dims[d];
        return out_elems * per;
    }
    /* Gemm and MatMul: every output element takes K products. */
    int64_t k = l->shape.dims[0];
    if (strcmp(l->op, "Gemm") == 0 && node_attr_int(nd, "transB", 0))
        k = l->shape.ndim > 1 ? l->shape.dims[1] : 1;
    if (strcmp(l->op, "MatMul") == 0 && l->shape.ndim >= 2)
        k = l->shape.dims[l->shape.ndim - 2];
    return out_elems * (double)k;
}

int session_add_history(struct session *s, const char *line, struct err *err)
{
    if (s->n_history == s->cap_history) {
        size_t cap = s->cap_history ? 2 * s->cap_history : 32;
        char **h = realloc(s->history, cap * sizeof *h);
        if (!h)
            return err_oom(err, "history", cap * sizeof *h);
        s->history = h;
        s->cap_history = cap;
    }
    if (!(s->history[s->n_history] = strdup(line)))
        return err_oom(err, "history", strlen(line));
    s->n_history++;
    return 0;
}
