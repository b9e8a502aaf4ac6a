/* The session: model and data loading with their compatibility checks, evaluation, weight
 * statistics and history. Not command parsing or output formatting. */
#include "session/session.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/reconstruct.h"
#include "analysis/sensitivity.h"
#include "core/files.h"
#include "engine/backward.h"
#include "analysis/curve.h"
#include "core/timer.h"
#include "engine/plan.h"
#include "kernels/sparse.h"

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

static void drop_twin(struct session *s)
{
    if (s->twin) {
        s->twin->data = NULL; /* borrowed */
        session_free(s->twin);
        s->twin = NULL;
    }
}

static void drop_recover(struct session *s)
{
    dataset_free(s->recover_data);
    free(s->recover_path);
    s->recover_data = NULL;
    s->recover_path = NULL;
}

static void drop_data(struct session *s)
{
    drop_twin(s);
    drop_recover(s);
    if (s->data != s->data_all)
        free(s->data); /* a view of data_all's rows */
    dataset_free(s->data_all);
    s->data = s->data_all = NULL;
    s->holdout = 0;
    free(s->data_path);
    s->data_path = NULL;
    free((char *)s->data_opt.label);
    memset(&s->data_opt, 0, sizeof s->data_opt);
}

static void free_originals(float **orig, int n_values)
{
    for (int v = 0; orig && v < n_values; v++)
        free(orig[v]);
    free(orig);
}

static void drop_saliency(struct session *s)
{
    for (size_t i = 0; s->saliency && i < s->layers.count; i++)
        free(s->saliency[i]);
    free(s->saliency);
    s->saliency = NULL;
    s->saliency_done = false;
    for (size_t i = 0; s->wanda && i < s->layers.count; i++)
        free(s->wanda[i]);
    free(s->wanda);
    s->wanda = NULL;
    s->wanda_done = false;
    s->taylor_blocked[0] = '\0';
}

static void drop_sensitivity(struct session *s)
{
    if (s->sens) {
        sens_result_fini(s->sens);
        free(s->sens);
        s->sens = NULL;
    }
    if (s->curve) {
        curve_result_fini(s->curve);
        free(s->curve);
        s->curve = NULL;
    }
    predict_reset(&s->pred);
}

static void drop_pruning(struct session *s)
{
    drop_twin(s);
    drop_recover(s);
    drop_saliency(s);
    drop_sensitivity(s);
    if (s->engine)
        free_originals(s->original, engine_graph(s->engine)->n_values);
    s->original = NULL;
    for (size_t i = 0; s->ranks && i < s->layers.count; i++)
        prune_rank_fini(&s->ranks[i].rank);
    free(s->ranks);
    s->ranks = NULL;
    free(s->dirty);
    s->dirty = NULL;
    free(s->config.settings);
    memset(&s->config, 0, sizeof s->config);
    for (size_t i = 0; i < s->n_undo; i++) {
        free(s->undo[i].settings);
        if (s->engine && s->undo_originals)
            free_originals(s->undo_originals[i], engine_graph(s->engine)->n_values);
    }
    free(s->undo);
    s->undo = NULL;
    free(s->undo_originals);
    s->undo_originals = NULL;
    s->n_undo = s->cap_undo = s->undo_pos = 0;
    s->weights_trained = 0;
    for (size_t gi = 0; s->group_ranks && gi < s->groups.n_groups; gi++)
        free(s->group_ranks[gi].order);
    free(s->group_ranks);
    s->group_ranks = NULL;
    free(s->removed);
    s->removed = NULL;
    groups_fini(&s->groups);
    s->groups_ok = false;
    s->groups_error[0] = '\0';
}

void session_free(struct session *s)
{
    if (!s)
        return;
    drop_pruning(s);
    drop_data(s);
    engine_free(s->engine);
    layers_fini(&s->layers);
    free(s->model_path);
    profile_list_fini(&s->profiles);
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
    return engine_outputs_per_row(s->engine);
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

/* The dependency groups of the model just loaded, on the plan of one row. Without them
 * (a model that cannot be planned for one row) structured pruning is refused, with the
 * reason kept in groups_error. */
static void find_groups(struct session *s)
{
    struct err err;
    const struct plan *p = engine_plan_rows(s->engine, 1, &err);
    if (!p || groups_find(engine_graph(s->engine), p, &s->layers, &s->groups, &err) < 0) {
        snprintf(s->groups_error, sizeof s->groups_error, "no dependency analysis: %.200s",
                 err.msg);
        return;
    }
    s->group_ranks = calloc(s->groups.n_groups + 1, sizeof *s->group_ranks);
    s->removed = calloc(s->groups.n_units + 1, sizeof *s->removed);
    if (!s->group_ranks || !s->removed) {
        snprintf(s->groups_error, sizeof s->groups_error, "no dependency analysis: out of memory");
        free(s->group_ranks);
        free(s->removed);
        s->group_ranks = NULL;
        s->removed = NULL;
        groups_fini(&s->groups);
        return;
    }
    s->groups_ok = true;
}

int session_load_model(struct session *s, const char *path, char *dropped_data, size_t dropped_size,
                       struct err *err)
{
    if (dropped_data && dropped_size)
        dropped_data[0] = '\0';
    char sha[65];
    struct engine *e = engine_open(path, s->threads, err);
    if (!e)
        return -1;
    if (files_sha256(path, sha, err) < 0) {
        engine_free(e);
        return -1;
    }
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
    const struct graph *ng = engine_graph(e);
    float **orig = calloc((size_t)ng->n_values + 1, sizeof *orig);
    struct prune_setting *settings = calloc(layers.count + 1, sizeof *settings);
    struct layer_rank *ranks = calloc(layers.count + 1, sizeof *ranks);
    bool *dirty = calloc((size_t)ng->n_values + 1, sizeof *dirty);
    bool ok = orig && settings && ranks && dirty;
    for (int v = 0; ok && v < ng->n_values; v++) {
        const struct tensor *t = ng->values[v].constant;
        if (!t || t->dtype != DTYPE_FLOAT || tensor_numel(t) == 0)
            continue;
        ok = (orig[v] = malloc(tensor_bytes(t))) != NULL;
        if (ok)
            memcpy(orig[v], t->data, tensor_bytes(t));
    }
    if (!ok) {
        free_originals(orig, ng->n_values);
        free(settings);
        free(ranks);
        free(dirty);
        free(p);
        layers_fini(&layers);
        engine_free(e);
        return err_oom(err, "a copy of the weights", 0);
    }
    engine_set_cancel(e, s->cancel);
    drop_pruning(s);
    engine_free(s->engine);
    layers_fini(&s->layers);
    free(s->model_path);
    s->original = orig;
    s->ranks = ranks;
    s->dirty = dirty;
    s->config.settings = settings;
    memcpy(s->model_sha256, sha, sizeof sha);
    memcpy(s->weights_sha256, sha, sizeof sha);
    s->engine = e;
    s->layers = layers;
    s->model_path = p;
    s->output_kind = output_kind_of(engine_graph(e));
    find_groups(s);
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
    char sha[65];
    if (files_sha256(path, sha, err) < 0)
        return -1;
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
    drop_saliency(s);
    drop_sensitivity(s);
    s->data = s->data_all = d;
    s->data_path = p;
    memcpy(s->data_sha256, sha, sizeof sha);
    memcpy(s->data_key, sha, sizeof sha);
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

struct session *session_twin(struct session *s, struct err *err)
{
    if (!s->engine || !s->data) {
        err_set(err, "no model or data to share");
        return NULL;
    }
    if (s->weights_trained) {
        /* A twin reads the file, whose weights these no longer are. */
        err_set(err, "the weights were fine-tuned since %s was read", s->model_path);
        return NULL;
    }
    if (!s->twin) {
        struct session *t = session_new(1, s->cancel, err);
        if (!t)
            return NULL;
        if (session_load_model(t, s->model_path, NULL, 0, err) < 0) {
            session_free(t);
            return NULL;
        }
        if (strcmp(t->model_sha256, s->model_sha256) != 0 || t->layers.count != s->layers.count) {
            session_free(t);
            err_set(err, "%s changed on disk since it was loaded", s->model_path);
            return NULL;
        }
        s->twin = t;
    }
    s->twin->data = s->data;
    s->twin->row_shape = s->row_shape;
    s->twin->seed = s->seed;
    return s->twin;
}

/* The groups when there are some: what groups_layer_group and groups_check_structured
 * take. */
static const struct group_set *groups_of(const struct session *s)
{
    return s->groups_ok ? &s->groups : NULL;
}

/* The operations of session_subject: ctx is the session. */
static int subject_apply(void *ctx, const struct prune_config *cfg, struct err *err)
{
    return session_apply_temporary(ctx, cfg, err);
}

static int subject_eval(void *ctx, struct metrics *m, struct err *err)
{
    return session_eval(ctx, 0, m, NULL, err);
}

static int subject_estimate(void *ctx, const struct profile *p, struct cost_estimate *out,
                            struct err *err)
{
    return session_estimate(ctx, p, out, err);
}

static size_t subject_weight_bytes(void *ctx)
{
    return session_weight_bytes(ctx);
}

static int subject_twin(void *ctx, struct analysis_subject *out, struct err *err)
{
    struct session *t = session_twin(ctx, err);
    if (!t)
        return -1;
    session_subject(t, out);
    return 0;
}

static int refit_applied(struct session *s, const struct prune_config *applied,
                         const struct dataset *cd, size_t rows, struct shape rs, double damp,
                         struct recon_report *r, bool *changed_out, struct err *err);
static int train_applied(struct session *s, const struct prune_config *applied,
                         const struct dataset *train, const struct shape *rs,
                         const struct ft_options *o, ft_epoch_fn on_epoch,
                         ft_progress_fn progress, void *ctx, struct ft_result *r, bool *trainable,
                         struct err *err);
static struct dataset *load_training(struct session *s, const char *train_path, const char *what,
                                     struct shape *rs, struct err *err);

/* The recovery's data, read once per path and kept until the data or model changes. */
static const struct dataset *recover_data(struct session *s, const char *path, struct shape *rs,
                                          struct err *err)
{
    if (s->recover_data && s->recover_path && strcmp(s->recover_path, path) == 0) {
        *rs = s->recover_shape;
        return s->recover_data;
    }
    struct dataset *d = load_training(s, path, "recovery", rs, err);
    char *p = d ? strdup(path) : NULL;
    if (!d || !p) {
        dataset_free(d);
        if (d)
            err_oom(err, "path", strlen(path));
        return NULL;
    }
    dataset_free(s->recover_data);
    free(s->recover_path);
    s->recover_data = d;
    s->recover_path = p;
    s->recover_shape = *rs;
    return d;
}

static int subject_recover(void *ctx, const struct prune_config *cfg,
                           const struct recover_spec *spec, struct err *err)
{
    struct session *s = ctx;
    struct shape rs;
    const struct dataset *d = recover_data(s, spec->data, &rs, err);
    if (!d)
        return -1;
    const struct graph *g = engine_graph(s->engine);
    bool *changed = calloc((size_t)g->n_values + 1, sizeof *changed);
    if (!changed)
        return err_oom(err, "recovery", (size_t)g->n_values);
    int rc;
    if (spec->kind == RECOVER_RECONSTRUCT) {
        struct recon_report r;
        rc = refit_applied(s, cfg, d, spec->rows, rs, spec->damp, &r, changed, err);
        recon_report_fini(&r);
    } else {
        struct ft_result r;
        rc = train_applied(s, cfg, d, &rs, &spec->ft, NULL, NULL, NULL, &r, changed, err);
    }
    /* The next apply restores these from the originals. */
    for (int v = 0; v < g->n_values; v++)
        s->dirty[v] |= changed[v];
    free(changed);
    return rc;
}

static const struct analysis_ops SUBJECT_OPS = {
    .recover = subject_recover,
    .apply = subject_apply,
    .eval = subject_eval,
    .estimate = subject_estimate,
    .weight_bytes = subject_weight_bytes,
    .twin = subject_twin,
};

void session_subject(struct session *s, struct analysis_subject *out)
{
    *out = (struct analysis_subject){
        .engine = s->engine,
        .layers = &s->layers,
        .output_kind = s->output_kind,
        .model_sha256 = s->weights_sha256,
        .groups = groups_of(s),
        .groups_error = s->groups_error,
        .data = s->data,
        .data_path = s->data_path,
        .data_sha256 = s->data_key,
        .data_opt = &s->data_opt,
        .row_shape = s->row_shape,
        .config = &s->config,
        .storage = s->storage,
        .seed = s->seed,
        .threads = s->threads,
        .cancel = s->cancel,
        .sens = s->sens,
        .pred = &s->pred,
        .ops = &SUBJECT_OPS,
        .ctx = s,
    };
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

/* ---- pruning ---- */

static struct tensor *value_tensor(const struct session *s, int v)
{
    return engine_graph(s->engine)->values[v].constant;
}

struct loss_ctx {
    const struct session *s;
    size_t n_out;
};

static int loss_gradient(const struct tensor *output, size_t row0, struct tensor *dout,
                         void *opaque, struct err *err)
{
    const struct loss_ctx *c = opaque;
    size_t rows = (size_t)output->shape.dims[0];
    return metrics_loss_gradient(tensor_f32(output), rows, c->n_out, c->s->output_kind, c->s->data,
                                 row0, c->s->data->rows, tensor_f32(dout), err);
}

/* First-order Taylor saliency |w * dL/dw| of every prunable weight, with the gradient of
 * the mean loss over all validation rows, at the original weights (which apply_config has
 * just restored). Layers the gradient does not reach keep NULL. */
static int compute_saliency(struct session *s, struct err *err)
{
    if (s->saliency_done)
        return 0;
    if (!s->data)
        return err_set(err, "the taylor criterion needs validation data for its gradients "
                            "(data FILE.csv)");
    const struct graph *g = engine_graph(s->engine);
    size_t nl = s->layers.count;
    bool *want = calloc((size_t)g->n_values + 1, sizeof *want);
    struct tensor **grads = calloc((size_t)g->n_values + 1, sizeof *grads);
    float **sal = calloc(nl + 1, sizeof *sal);
    int rc = -1;
    if (!want || !grads || !sal) {
        err_oom(err, "gradients", 0);
        goto done;
    }
    for (size_t i = 0; i < nl; i++)
        want[s->layers.items[i].weight] = true;
    struct tensor view = {.dtype = DTYPE_FLOAT, .data = s->data->features};
    view.shape.ndim = s->row_shape.ndim + 1;
    view.shape.dims[0] = (int64_t)s->data->rows;
    for (int d = 0; d < s->row_shape.ndim; d++)
        view.shape.dims[d + 1] = s->row_shape.dims[d];
    struct loss_ctx ctx = {.s = s, .n_out = session_model_outputs(s)};
    if (engine_gradients(s->engine, &view, loss_gradient, &ctx, want, grads, s->taylor_blocked,
                         sizeof s->taylor_blocked, err) < 0)
        goto done;
    for (size_t i = 0; i < nl; i++) {
        const struct layer *l = &s->layers.items[i];
        const struct tensor *gt = grads[l->weight];
        if (!gt)
            continue;
        if (!(sal[i] = malloc((size_t)l->params * sizeof **sal))) {
            err_oom(err, "saliency", (size_t)l->params * sizeof **sal);
            goto done;
        }
        const float *w = s->original[l->weight], *gv = tensor_f32(gt);
        for (int64_t k = 0; k < l->params; k++)
            sal[i][k] = fabsf(w[k] * gv[k]);
    }
    for (size_t i = 0; s->saliency && i < nl; i++)
        free(s->saliency[i]);
    free(s->saliency);
    s->saliency = sal;
    s->saliency_gen++;
    sal = NULL;
    s->saliency_done = true;
    rc = 0;
done:
    for (size_t i = 0; sal && i < nl; i++)
        free(sal[i]);
    free(sal);
    for (int v = 0; grads && v < g->n_values; v++)
        tensor_free(grads[v]);
    free(grads);
    free(want);
    return rc;
}

static int capture(struct session *s, const struct tensor *input, int n, const int *vals,
                   struct tensor **got, struct err *err);

/* The wanda scores |w_ij| x ||x_j||_2 of every prunable layer, x_j the layer's input j (for
 * a convolution, j one of its unfolded window's entries) over the validation rows, on the
 * original weights (which apply_config has put on the engine). A layer whose inputs cannot
 * be read that way (a grouped convolution) gets none. */
static int compute_wanda(struct session *s, struct err *err)
{
    if (s->wanda_done)
        return 0;
    if (!s->data)
        return err_set(err, "the wanda criterion needs validation data for the layers' inputs "
                            "(data FILE.csv)");
    const struct graph *g = engine_graph(s->engine);
    size_t nl = s->layers.count;
    float **scores = calloc(nl + 1, sizeof *scores);
    int *vals = calloc(nl + 1, sizeof *vals);
    struct tensor **in = calloc(nl + 1, sizeof *in);
    int rc = 0;
    if (!scores || !vals || !in) {
        rc = err_oom(err, "wanda", nl);
        goto done;
    }
    for (size_t i = 0; i < nl; i++)
        vals[i] = g->nodes[s->layers.items[i].node].inputs[0];
    struct tensor view = {.dtype = DTYPE_FLOAT, .data = s->data->features};
    view.shape.ndim = s->row_shape.ndim + 1;
    view.shape.dims[0] = (int64_t)s->data->rows;
    for (int d = 0; d < s->row_shape.ndim; d++)
        view.shape.dims[d + 1] = s->row_shape.dims[d];
    /* In chunks of layers, to keep the captured inputs within 64 at a time. */
    for (size_t first = 0; first < nl && rc == 0; first += 64) {
        int n = (int)(nl - first < 64 ? nl - first : 64);
        if ((rc = capture(s, &view, n, vals + first, in + first, err)) < 0)
            break;
        for (size_t i = first; i < first + (size_t)n && rc == 0; i++) {
            const struct layer *l = &s->layers.items[i];
            struct shape row = in[i]->shape;
            for (int d = 0; d + 1 < row.ndim; d++)
                row.dims[d] = row.dims[d + 1];
            row.ndim--;
            struct recon_geom gm;
            struct weight_view v;
            struct err why;
            if (recon_geom_of(g, l, &row, &gm, &why) == 0 && prune_view(g, l, &v, &why) == 0) {
                double *sq = calloc(gm.kfull + 1, sizeof *sq);
                scores[i] = malloc(((size_t)l->params + 1) * sizeof **scores);
                if (!sq || !scores[i])
                    rc = err_oom(err, "wanda", gm.k);
                else
                    rc = recon_input_sq(&gm, tensor_f32(in[i]), s->data->rows, sq, err);
                const float *w = s->original[l->weight];
                size_t per_group = v.units / (size_t)gm.groups;
                for (size_t u = 0; rc == 0 && u < v.units; u++)
                    for (size_t j = 0; j < v.inputs; j++) {
                        size_t at = u * v.unit_stride + j * v.in_stride;
                        size_t col = (u / per_group) * gm.k + j; /* its group's window entry */
                        scores[i][at] = (float)(fabs((double)w[at]) * sqrt(sq[col]));
                    }
                free(sq);
            }
            tensor_free(in[i]);
            in[i] = NULL;
        }
    }
    if (rc == 0) {
        for (size_t i = 0; s->wanda && i < nl; i++)
            free(s->wanda[i]);
        free(s->wanda);
        s->wanda = scores;
        scores = NULL;
        s->wanda_done = true;
        s->saliency_gen++;
    }
done:
    for (size_t i = 0; scores && i < nl; i++)
        free(scores[i]);
    free(scores);
    for (size_t i = 0; in && i < nl; i++)
        tensor_free(in[i]);
    free(in);
    free(vals);
    return rc;
}

/* The per-weight scores criterion c ranks layer i by (NULL: none, or c does not use
 * them). */
static const float *layer_scores(const struct session *s, size_t i, enum prune_criterion c)
{
    float **all = c == CRIT_TAYLOR ? s->saliency : c == CRIT_WANDA ? s->wanda : NULL;
    return all ? all[i] : NULL;
}

/* The ranking of layer i for setting st, made when the kept one does not fit. */
static const struct prune_rank *layer_rank(struct session *s, size_t i,
                                           const struct prune_setting *st, struct err *err)
{
    struct layer_rank *lr = &s->ranks[i];
    if (lr->valid && lr->rank.criterion == st->criterion &&
        lr->rank.granularity == st->granularity && lr->seed == s->seed &&
        (!prune_criterion_scored(st->criterion) || lr->saliency_gen == s->saliency_gen))
        return &lr->rank;
    prune_rank_fini(&lr->rank);
    lr->valid = false;
    const struct layer *l = &s->layers.items[i];
    if (prune_rank_make(engine_graph(s->engine), l, s->original[l->weight],
                        layer_scores(s, i, st->criterion), st->criterion, st->granularity,
                        s->seed, &lr->rank, err) < 0)
        return NULL;
    lr->valid = true;
    lr->seed = s->seed;
    lr->saliency_gen = s->saliency_gen;
    return &lr->rank;
}

/* Tell the engine which weights changed: those pruned before (restored) and now. */
static void weights_changed(struct session *s, bool *changed)
{
    s->weights_gen++;
    const struct graph *g = engine_graph(s->engine);
    for (int v = 0; v < g->n_values; v++) {
        if (!s->original[v])
            continue;
        bool differs = memcmp(g->values[v].constant->data, s->original[v],
                              tensor_bytes(g->values[v].constant)) != 0;
        changed[v] = changed[v] || differs;
        s->dirty[v] = differs;
    }
    engine_weights_changed(s->engine, changed);
}

static int apply_masks(struct session *s, const struct prune_config *cfg, struct err *err);

/* Restore the original weights and apply cfg to them. */
static int apply_config(struct session *s, const struct prune_config *cfg, struct err *err)
{
    const struct graph *g = engine_graph(s->engine);
    bool *changed = calloc((size_t)g->n_values + 1, sizeof *changed);
    if (!changed)
        return err_oom(err, "weights", (size_t)g->n_values);
    for (int v = 0; v < g->n_values; v++)
        if (s->original[v] && s->dirty[v]) {
            memcpy(g->values[v].constant->data, s->original[v],
                   tensor_bytes(g->values[v].constant));
            changed[v] = true;
        }
    /* Gradients for taylor are taken on the original model: the engine must see the
     * restored weights first. */
    bool taylor = false, wanda = false;
    for (size_t i = 0; !cfg->global && i < s->layers.count; i++) {
        taylor |= cfg->settings[i].criterion == CRIT_TAYLOR && cfg->settings[i].sparsity > 0;
        wanda |= cfg->settings[i].criterion == CRIT_WANDA && cfg->settings[i].sparsity > 0;
    }
    if ((taylor && !s->saliency_done) || (wanda && !s->wanda_done))
        weights_changed(s, changed);
    int rc = apply_masks(s, cfg, err);
    weights_changed(s, changed);
    free(changed);
    return rc;
}

bool session_setting_structured(const struct prune_setting *st)
{
    return st->sparsity > 0.0 && (st->granularity == GRAN_NEURON || st->granularity == GRAN_FILTER);
}

const struct prune_group *session_layer_group(const struct session *s, size_t li)
{
    return groups_layer_group(groups_of(s), li);
}

int session_check_structured(const struct session *s, size_t li, struct err *err)
{
    return groups_check_structured(groups_of(s), s->groups_error, &s->layers, li, err);
}

const bool *session_removed_units(const struct session *s)
{
    return s->groups_ok ? s->removed : NULL;
}

/* The order of group gi's units for setting st, made when the kept one does not fit. */
static const size_t *group_order(struct session *s, size_t gi, const struct prune_setting *st,
                                 struct err *err)
{
    struct group_rank *gr = &s->group_ranks[gi];
    if (gr->valid && gr->criterion == st->criterion && gr->seed == s->seed &&
        (!prune_criterion_scored(st->criterion) || gr->saliency_gen == s->saliency_gen))
        return gr->order;
    const struct prune_group *pg = &s->groups.groups[gi];
    gr->valid = false;
    free(gr->order);
    gr->order = malloc((pg->n_units + 1) * sizeof *gr->order);
    const float **w = calloc(s->layers.count + 1, sizeof *w);
    if (!gr->order || !w) {
        free(w);
        err_oom(err, "group ranking", pg->n_units);
        return NULL;
    }
    for (size_t i = 0; i < s->layers.count; i++)
        w[i] = s->original[s->layers.items[i].weight];
    int rc = prune_group_order(engine_graph(s->engine), &s->layers, &s->groups, gi, w,
                               (const float *const *)(st->criterion == CRIT_WANDA ? s->wanda
                                                                                  : s->saliency),
                               st->criterion, s->seed, gr->order,
                               err);
    free(w);
    if (rc < 0)
        return NULL;
    gr->valid = true;
    gr->criterion = st->criterion;
    gr->seed = s->seed;
    gr->saliency_gen = s->saliency_gen;
    return gr->order;
}

/* Structured settings, group by group: a group takes the setting of its first member (in
 * layer order) that has one, and loses that share of its units from every member, consumer
 * and per-channel constant. */
static int apply_groups(struct session *s, const struct prune_config *cfg, struct err *err)
{
    if (!s->groups_ok)
        return 0;
    memset(s->removed, 0, s->groups.n_units * sizeof *s->removed);
    bool any = false;
    for (size_t gi = 0; gi < s->groups.n_groups; gi++) {
        const struct prune_group *pg = &s->groups.groups[gi];
        const struct prune_setting *st = NULL;
        for (size_t m = 0; m < pg->n_members && !st; m++)
            if (session_setting_structured(&cfg->settings[pg->members[m]]))
                st = &cfg->settings[pg->members[m]];
        if (!st || pg->blocked)
            continue;
        const size_t *order = group_order(s, gi, st, err);
        if (!order)
            return -1;
        size_t k = prune_count(st->sparsity, pg->n_units);
        for (size_t j = 0; j < k; j++)
            s->removed[order[j]] = true;
        any = any || k > 0;
    }
    if (any)
        groups_zero(&s->groups, (struct graph *)engine_graph(s->engine), &s->layers, s->removed);
    return 0;
}

/* Structured settings need their layer's group; taylor needs the gradients first. */
static int check_config(const struct session *s, const struct prune_config *cfg, struct err *err)
{
    const struct graph *g = engine_graph(s->engine);
    for (size_t i = 0; !cfg->global && i < s->layers.count; i++) {
        if (prune_check(g, &s->layers.items[i], &cfg->settings[i], err) < 0)
            return -1;
        if (session_setting_structured(&cfg->settings[i]) &&
            session_check_structured(s, i, err) < 0)
            return -1;
    }
    return 0;
}

/* Apply cfg to the original weights (restored by the caller). */
static int apply_masks(struct session *s, const struct prune_config *cfg, struct err *err)
{
    const struct graph *g = engine_graph(s->engine);
    size_t nl = s->layers.count;
    int rc = 0;
    bool taylor = false, wanda = false;
    for (size_t i = 0; !cfg->global && i < nl; i++) {
        taylor |= cfg->settings[i].criterion == CRIT_TAYLOR && cfg->settings[i].sparsity > 0;
        wanda |= cfg->settings[i].criterion == CRIT_WANDA && cfg->settings[i].sparsity > 0;
    }
    if (taylor && compute_saliency(s, err) < 0)
        return -1;
    if (wanda && compute_wanda(s, err) < 0)
        return -1;
    if (cfg->global) {
        const float **w = calloc(nl + 1, sizeof *w);
        uint8_t **masks = calloc(nl + 1, sizeof *masks);
        bool ok = w && masks;
        for (size_t i = 0; ok && i < nl; i++) {
            w[i] = s->original[s->layers.items[i].weight];
            ok = (masks[i] = malloc((size_t)s->layers.items[i].params)) != NULL;
        }
        if (!ok)
            rc = err_oom(err, "masks", 0);
        else
            rc = prune_global_masks(&s->layers, w, cfg->global_sparsity, masks, err);
        for (size_t i = 0; rc == 0 && i < nl; i++) {
            float *dst = tensor_f32(value_tensor(s, s->layers.items[i].weight));
            for (int64_t k = 0; k < s->layers.items[i].params; k++)
                if (!masks[i][k])
                    dst[k] = 0.0f;
        }
        for (size_t i = 0; masks && i < nl; i++)
            free(masks[i]);
        free(masks);
        free(w);
    } else {
        rc = apply_groups(s, cfg, err);
        for (size_t i = 0; rc == 0 && i < nl; i++) {
            const struct prune_setting *st = &cfg->settings[i];
            if (st->sparsity <= 0.0 || session_setting_structured(st))
                continue;
            const struct layer *l = &s->layers.items[i];
            uint8_t *mask = malloc((size_t)l->params);
            if (!mask) {
                rc = err_oom(err, "mask", (size_t)l->params);
                break;
            }
            const float *sal = s->saliency ? s->saliency[i] : NULL;
            if (st->criterion == CRIT_WANDA && !layer_scores(s, i, CRIT_WANDA)) {
                free(mask);
                rc = err_set(err,
                             "layer '%s': wanda reads a layer's inputs as rows or as a "
                             "convolution's windows of one group; this one is neither",
                             l->name);
                break;
            }
            if (st->criterion == CRIT_TAYLOR && !sal) {
                free(mask);
                rc = err_set(err,
                             "layer '%s': taylor has no gradients for it: %s between it and "
                             "the output has no backward yet",
                             l->name, s->taylor_blocked[0] ? s->taylor_blocked : "a node");
                break;
            }
            const struct prune_rank *rank =
                prune_check(g, l, st, err) < 0 ? NULL : layer_rank(s, i, st, err);
            rc = rank ? prune_rank_mask(rank, st->sparsity, mask, NULL, NULL, err) : -1;
            if (rc == 0) {
                float *dst = tensor_f32(value_tensor(s, l->weight));
                for (int64_t k = 0; k < l->params; k++)
                    if (!mask[k])
                        dst[k] = 0.0f;
            }
            free(mask);
        }
    }
    return rc;
}

int session_apply_temporary(struct session *s, const struct prune_config *cfg, struct err *err)
{
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    if (check_config(s, cfg, err) < 0)
        return -1;
    return apply_config(s, cfg, err);
}

int session_config_copy(const struct session *s, struct prune_config *out, struct err *err)
{
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    return prune_config_copy(&s->config, s->layers.count, out, err);
}

/* Room for one more undo entry. */
static int grow_undo(struct session *s, struct err *err)
{
    if (s->undo_pos < s->cap_undo)
        return 0;
    size_t cap = s->cap_undo ? 2 * s->cap_undo : 16;
    struct prune_config *u = realloc(s->undo, cap * sizeof *u);
    if (!u)
        return err_oom(err, "undo history", cap * sizeof *u);
    s->undo = u;
    float ***w = realloc(s->undo_originals, cap * sizeof *w);
    if (!w)
        return err_oom(err, "undo history", cap * sizeof *w);
    for (size_t i = s->cap_undo; i < cap; i++)
        w[i] = NULL;
    s->undo_originals = w;
    s->cap_undo = cap;
    return 0;
}

/* Remember prev (and the originals before a change of the weights, or NULL; both owned
 * from here) as the state before the change just made; the redo states go. */
static void push_undo(struct session *s, struct prune_config prev, float **originals)
{
    int nv = engine_graph(s->engine)->n_values;
    for (size_t i = s->undo_pos; i < s->n_undo; i++) {
        free(s->undo[i].settings);
        free_originals(s->undo_originals[i], nv);
        s->undo_originals[i] = NULL;
    }
    s->undo_originals[s->undo_pos] = originals;
    s->undo[s->undo_pos++] = prev;
    s->n_undo = s->undo_pos;
}

/* The weights the configurations prune changed (fine-tuning, or its undo): what was
 * computed from the old ones goes, and the digest the sensitivity cache is keyed on
 * follows them. */
static void originals_changed(struct session *s)
{
    drop_twin(s);
    drop_saliency(s);
    drop_sensitivity(s);
    for (size_t i = 0; s->ranks && i < s->layers.count; i++)
        s->ranks[i].valid = false;
    for (size_t gi = 0; s->group_ranks && gi < s->groups.n_groups; gi++)
        s->group_ranks[gi].valid = false;
    if (!s->weights_trained) {
        memcpy(s->weights_sha256, s->model_sha256, sizeof s->weights_sha256);
        return;
    }
    /* The digest of the file's digest and every float original. */
    const struct graph *g = engine_graph(s->engine);
    const void **parts = malloc(((size_t)g->n_values + 1) * sizeof *parts);
    size_t *sizes = malloc(((size_t)g->n_values + 1) * sizeof *sizes), n = 0;
    if (!parts || !sizes) {
        snprintf(s->weights_sha256, sizeof s->weights_sha256, "trained");
    } else {
        parts[n] = s->model_sha256;
        sizes[n++] = 64;
        for (int v = 0; v < g->n_values; v++)
            if (s->original[v]) {
                parts[n] = s->original[v];
                sizes[n++] = tensor_bytes(g->values[v].constant);
            }
        files_sha256_parts(parts, sizes, n, s->weights_sha256);
    }
    free(parts);
    free(sizes);
}

/* Undo (back) or redo entry k with originals: they and the session's change places. */
static void swap_originals(struct session *s, size_t k, bool back)
{
    float **other = s->undo_originals[k];
    if (!other)
        return;
    const struct graph *g = engine_graph(s->engine);
    for (int v = 0; v < g->n_values; v++)
        if (other[v]) {
            float *t = s->original[v];
            s->original[v] = other[v];
            other[v] = t;
            s->dirty[v] = true;
        }
    s->weights_trained += back ? -1 : 1;
    originals_changed(s);
}

int session_configure(struct session *s, const struct prune_config *next, struct err *err)
{
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    size_t n = s->layers.count;
    if (check_config(s, next, err) < 0)
        return -1;
    struct prune_config copy, prev;
    if (prune_config_copy(next, n, &copy, err) < 0)
        return -1;
    if (grow_undo(s, err) < 0) {
        free(copy.settings);
        return -1;
    }
    if (apply_config(s, &copy, err) < 0) {
        free(copy.settings);
        struct err ignored;
        apply_config(s, &s->config, &ignored);
        return -1;
    }
    prev = s->config;
    s->config = copy;
    push_undo(s, prev, NULL);
    return 0;
}

int session_undo(struct session *s, struct err *err)
{
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    if (s->undo_pos == 0)
        return err_set(err, "nothing to undo");
    struct prune_config target = s->undo[s->undo_pos - 1];
    swap_originals(s, s->undo_pos - 1, true);
    if (apply_config(s, &target, err) < 0) {
        swap_originals(s, s->undo_pos - 1, false);
        return -1;
    }
    /* Swap: the slot now holds the state to redo. */
    s->undo[s->undo_pos - 1] = s->config;
    s->config = target;
    s->undo_pos--;
    return 0;
}

int session_redo(struct session *s, struct err *err)
{
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    if (s->undo_pos == s->n_undo)
        return err_set(err, "nothing to redo");
    struct prune_config target = s->undo[s->undo_pos];
    swap_originals(s, s->undo_pos, false);
    if (apply_config(s, &target, err) < 0) {
        swap_originals(s, s->undo_pos, true);
        return -1;
    }
    s->undo[s->undo_pos] = s->config;
    s->config = target;
    s->undo_pos++;
    return 0;
}

size_t session_layer_zeros(const struct session *s, const struct layer *l)
{
    return prune_zeros(engine_graph(s->engine), l);
}

void session_macs(const struct session *s, double *dense, double *effective)
{
    *dense = *effective = 0.0;
    for (size_t i = 0; s->engine && i < s->layers.count; i++) {
        const struct layer *l = &s->layers.items[i];
        double m = session_layer_macs(s, l);
        *dense += m;
        if (l->params > 0)
            *effective +=
                m * (double)((size_t)l->params - session_layer_zeros(s, l)) / (double)l->params;
    }
}

/* Bytes of an unsigned integer able to hold values up to max. */
/* Bytes of one prunable layer's weight under st. */
static size_t layer_bytes(const struct session *s, size_t li, enum storage st)
{
    const struct graph *g = engine_graph(s->engine);
    const struct layer *l = &s->layers.items[li];
    size_t n = (size_t)l->params, nnz = n - session_layer_zeros(s, l);
    struct weight_view v;
    struct err ignored;
    bool have_view = prune_view(g, l, &v, &ignored) == 0;
    if (!have_view) { /* rank > 2 MatMul weights: rows of the last dim */
        v.inputs = (size_t)l->shape.dims[l->shape.ndim - 1];
        v.units = n / (v.inputs ? v.inputs : 1);
    }
    const float *w = tensor_f32(value_tensor(s, l->weight));
    const struct prune_setting *cfg = &s->config.settings[li];
    switch (st) {
    case STORAGE_DENSE_FP32: return 4 * n;
    case STORAGE_DENSE_FP16: return 2 * n;
    case STORAGE_DENSE_INT8: return n + 4; /* one float scale per tensor */
    case STORAGE_BITMASK: return 4 * nnz + (n + 7) / 8;
    case STORAGE_CSR:
        return (size_t)cost_csr_bytes(nnz, v.units, v.inputs);
    case STORAGE_NM:
        if (!s->config.global && cfg->sparsity > 0 &&
            (cfg->granularity == GRAN_2_4 || cfg->granularity == GRAN_4_8)) {
            size_t m = cfg->granularity == GRAN_2_4 ? 4 : 8, bits = m == 4 ? 2 : 3;
            size_t kept = n / 2; /* N of every M */
            return 4 * kept + (kept * bits + 7) / 8;
        }
        return 4 * n; /* not N:M: stored dense */
    case STORAGE_BLOCK: {
        bool blocks = !s->config.global && cfg->sparsity > 0 &&
                      (cfg->granularity == GRAN_BLOCK_1X4 || cfg->granularity == GRAN_BLOCK_4X4);
        if (!blocks || !have_view)
            return 4 * n;
        size_t bu = cfg->granularity == GRAN_BLOCK_4X4 ? 4 : 1, bi = 4;
        size_t brows = v.units / bu, bcols = v.inputs / bi, nzb = 0;
        for (size_t br = 0; br < brows; br++)
            for (size_t bc = 0; bc < bcols; bc++) {
                bool any = false;
                for (size_t u = br * bu; u < (br + 1) * bu && !any; u++)
                    for (size_t i = bc * bi; i < (bc + 1) * bi && !any; i++)
                        any = w[u * v.unit_stride + i * v.in_stride] != 0.0f;
                nzb += any;
            }
        return 4 * nzb * bu * bi + nzb * cost_index_bytes(bcols ? bcols - 1 : 0) +
               (brows + 1) * cost_index_bytes(nzb);
    }
    }
    return 4 * n;
}

size_t session_weight_bytes(const struct session *s)
{
    if (!s->engine)
        return 0;
    const struct graph *g = engine_graph(s->engine);
    size_t total = 0, in_layers = 0;
    for (size_t i = 0; i < s->layers.count; i++) {
        total += layer_bytes(s, i, s->storage);
        in_layers += (size_t)s->layers.items[i].params;
    }
    /* Other float parameters (biases, BatchNormalization) stay dense at the format's
     * element width (fp32 for the sparse formats). */
    size_t others = 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].constant && g->values[v].constant->dtype == DTYPE_FLOAT)
            others += tensor_numel(g->values[v].constant);
    others -= in_layers;
    size_t width = s->storage == STORAGE_DENSE_FP16 ? 2 : s->storage == STORAGE_DENSE_INT8 ? 1 : 4;
    return total + others * width;
}

const char *session_layer_kernel(const struct session *s, const struct layer *l)
{
    const struct graph *g = engine_graph(s->engine);
    const struct node *nd = &g->nodes[l->node];
    const float *w = tensor_f32(g->values[l->weight].constant);
    if (strcmp(l->op, "Conv") == 0) {
        /* As op_conv.c chooses: CSR for mostly-zero weights, and for depthwise ones their
         * own kernel over each channel's non-zero taps. */
        int64_t group = node_attr_int(nd, "group", 1);
        bool depthwise = group > 1 && l->shape.dims[1] == 1 && l->shape.dims[0] == group;
        size_t n = (size_t)l->params;
        if (depthwise)
            return sparse_depthwise_worthwhile(w, n) ? "taps" : "dense";
        return sparse_worthwhile(sparse_zero_fraction(w, n), n) ? "csr" : "dense";
    }
    if (strcmp(l->op, "Gemm") != 0 || node_attr_int(nd, "transA", 0) != 0 || l->shape.ndim != 2)
        return "dense";
    bool tb = node_attr_int(nd, "transB", 0) != 0;
    size_t r = (size_t)l->shape.dims[0], c = (size_t)l->shape.dims[1];
    return sparse_kernel_name(tb ? sparse_choose(w, r, c, c, 1) : sparse_choose(w, c, r, 1, c));
}

const struct profile_list *session_profiles(struct session *s, struct err *err)
{
    if (!s->profiles_loaded) {
        char bundled[4096], user[4096];
        profile_bundled_dir(bundled, sizeof bundled);
        profile_user_dir(user, sizeof user);
        if (profile_list_load(&s->profiles, bundled, user, err) < 0)
            return NULL;
        s->profiles_loaded = true;
    }
    return &s->profiles;
}

int session_select_profile(struct session *s, const char *name, struct err *err)
{
    const struct profile_list *l = session_profiles(s, err);
    if (!l)
        return -1;
    if (!profile_find(l, name)) {
        char names[1024];
        profile_names(l, names, sizeof names);
        return err_set(err, "unknown profile '%s' (available: %s)", name, names);
    }
    snprintf(s->profile, sizeof s->profile, "%s", name);
    return 0;
}

const struct profile *session_profile(struct session *s, struct err *err)
{
    const struct profile_list *l = session_profiles(s, err);
    if (!l)
        return NULL;
    const struct profile *p = s->profile[0] ? profile_find(l, s->profile) : NULL;
    if (!p)
        p = profile_find(l, "host");
    if (!p)
        p = profile_find(l, "cortex-m7");
    if (!p && l->count)
        p = &l->items[0];
    if (!p) {
        char dir[4096];
        profile_bundled_dir(dir, sizeof dir);
        char user[4096];
        profile_user_dir(user, sizeof user);
        err_set(err, "no hardware profiles: none in %s nor in %s", dir, user);
    }
    return p;
}

int session_estimate(struct session *s, const struct profile *p, struct cost_estimate *out,
                     struct err *err)
{
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    int64_t rows = 1;
    const struct plan *plan = engine_plan_deployed(s->engine, &rows, err);
    if (!plan)
        return -1;
    static const struct cost_format formats[] = {
        [STORAGE_DENSE_FP32] = {COST_FP32, -1},           [STORAGE_DENSE_FP16] = {COST_FP16, -1},
        [STORAGE_DENSE_INT8] = {COST_INT8, -1},           [STORAGE_CSR] = {COST_FP32, PROFILE_CSR},
        [STORAGE_BITMASK] = {COST_FP32, PROFILE_BITMASK}, [STORAGE_NM] = {COST_FP32, PROFILE_NM},
        [STORAGE_BLOCK] = {COST_FP32, PROFILE_BLOCK},
    };
    double *bytes = calloc(s->layers.count + 1, sizeof *bytes);
    if (!bytes)
        return err_oom(err, "estimate", s->layers.count * sizeof *bytes);
    for (size_t i = 0; i < s->layers.count; i++)
        bytes[i] = (double)layer_bytes(s, i, s->storage);
    int rc = cost_estimate(engine_graph(s->engine), plan, (double)rows, &s->layers, bytes, 0,
                           &formats[s->storage], p, out, err);
    free(bytes);
    return rc;
}

struct tensor *session_input_rows(struct session *s, size_t n, struct err *err)
{
    if (!s->engine) {
        err_set(err, "no model is loaded (use: load MODEL.onnx)");
        return NULL;
    }
    struct shape row;
    if (s->data) {
        row = s->row_shape;
    } else {
        const struct graph *g = engine_graph(s->engine);
        if (g->n_inputs != 1) {
            err_set(err, "the model has %d inputs; rows need exactly one", g->n_inputs);
            return NULL;
        }
        if (engine_value_shape(s->engine, g->inputs[0], 1, &row, err) < 0)
            return NULL;
        for (int d = 0; d + 1 < row.ndim; d++) /* without the batch dimension */
            row.dims[d] = row.dims[d + 1];
        row.ndim--;
    }
    struct shape sh = {.ndim = row.ndim + 1};
    sh.dims[0] = (int64_t)n;
    for (int d = 0; d < row.ndim; d++)
        sh.dims[d + 1] = row.dims[d];
    return tensor_new(DTYPE_FLOAT, &sh, err);
}

/* ---- fine-tuning and reconstruction ---- */

/* The weights of the values flagged in changed, as the engine holds them now, become the
 * originals the configurations prune; the old originals go to a new undo entry (with the
 * configuration, which stays). On failure the configuration is put back on the old ones. */
static int adopt_weights(struct session *s, const bool *changed, struct err *err)
{
    const struct graph *g = engine_graph(s->engine);
    const int nv = g->n_values;
    float **before = calloc((size_t)nv + 1, sizeof *before);
    struct prune_config prev = {0};
    int rc = 0;
    if (!before)
        rc = err_oom(err, "weights", (size_t)nv);
    if (rc == 0)
        rc = prune_config_copy(&s->config, s->layers.count, &prev, err);
    if (rc == 0)
        rc = grow_undo(s, err);
    for (int v = 0; v < nv && rc == 0; v++) {
        if (!changed[v] || !s->original[v])
            continue;
        size_t bytes = tensor_bytes(g->values[v].constant);
        float *now = malloc(bytes);
        if (!now) {
            rc = err_oom(err, "weights", bytes);
            break;
        }
        memcpy(now, g->values[v].constant->data, bytes);
        before[v] = s->original[v];
        s->original[v] = now;
        s->dirty[v] = false;
    }
    if (rc < 0) {
        for (int v = 0; before && v < nv; v++)
            if (before[v]) {
                free(s->original[v]);
                s->original[v] = before[v];
                before[v] = NULL;
            }
        for (int v = 0; v < nv; v++)
            s->dirty[v] |= changed[v];
        struct err ignored;
        apply_config(s, &s->config, &ignored);
        free(prev.settings);
        free(before);
        return -1;
    }
    s->weights_trained++;
    originals_changed(s);
    push_undo(s, prev, before);
    return 0;
}

/* The parameters fine-tuning trains: Conv's and Gemm's weight and bias, a constant
 * MatMul operand and the constant added to a MatMul's result, BatchNormalization's scale
 * and bias. */
static void trainable_values(const struct graph *g, bool *trainable)
{
    for (int n = 0; n < g->n_nodes; n++) {
        const struct node *nd = &g->nodes[n];
        int from = 0, to = -1;
        if (strcmp(nd->op_type, "Conv") == 0 || strcmp(nd->op_type, "Gemm") == 0)
            from = 1, to = 2;
        else if (strcmp(nd->op_type, "MatMul") == 0)
            from = 0, to = 1;
        else if (strcmp(nd->op_type, "BatchNormalization") == 0)
            from = 1, to = 2;
        else if (strcmp(nd->op_type, "Add") == 0 && nd->n_inputs == 2) {
            /* A bias: the other operand comes from a MatMul. */
            for (int k = 0; k < 2; k++) {
                int other = nd->inputs[1 - k];
                for (int m = 0; other >= 0 && m < g->n_nodes; m++)
                    if (strcmp(g->nodes[m].op_type, "MatMul") == 0 && g->nodes[m].n_outputs > 0 &&
                        g->nodes[m].outputs[0] == other)
                        from = to = k;
            }
        }
        for (int k = from; k <= to && k < nd->n_inputs; k++) {
            int v = nd->inputs[k];
            if (v >= 0 && g->values[v].constant && g->values[v].constant->dtype == DTYPE_FLOAT)
                trainable[v] = true;
        }
    }
}

/* A training or calibration file for the model and its validation data (what for names
 * the use in messages): read with the data's options, the same features and classes, and
 * not the validation file itself. */
static struct dataset *load_training(struct session *s, const char *train_path, const char *what,
                                     struct shape *rs, struct err *err)
{
    char sha[65];
    if (files_sha256(train_path, sha, err) < 0)
        return NULL;
    if (strcmp(sha, s->data_sha256) == 0) {
        err_set(err,
                "%s is the validation data (%s): %s on it would make the accuracy measured on "
                "it meaningless; give a separate file",
                train_path, s->data_path, what);
        return NULL;
    }
    struct dataset *train = dataset_load(train_path, &s->data_opt, err);
    if (!train)
        return NULL;
    int rc = check_fit(s, train, &s->row_shape, rs, err);
    if (rc == 0 && (train->class_names != NULL) != (s->data->class_names != NULL))
        rc = err_set(err, "%s has %s labels and %s %s ones: they must be the same classes",
                     train_path, train->class_names ? "text" : "numeric", s->data_path,
                     s->data->class_names ? "text" : "numeric");
    for (size_t c = 0; rc == 0 && train->class_names && c < train->n_classes; c++)
        if (c >= s->data->n_classes || strcmp(train->class_names[c], s->data->class_names[c]))
            rc = err_set(err, "%s has class '%s', which %s does not (its classes must be the "
                              "validation data's)",
                         train_path, train->class_names[c], s->data_path);
    if (rc < 0) {
        dataset_free(train);
        return NULL;
    }
    return train;
}

/* Train the weights as applied now (applied: the configuration on them) on train in place,
 * holding applied's pruning; trainable receives the values trained. On failure, or with
 * no epoch completed, the weights are applied's again. */
static int train_applied(struct session *s, const struct prune_config *applied,
                         const struct dataset *train, const struct shape *rs,
                         const struct ft_options *o, ft_epoch_fn on_epoch,
                         ft_progress_fn progress, void *ctx, struct ft_result *r, bool *trainable,
                         struct err *err)
{
    const struct graph *g = engine_graph(s->engine);
    const int nv = g->n_values;
    uint8_t **keep = calloc((size_t)nv + 1, sizeof *keep);
    bool *pruned_layer = calloc((size_t)nv + 1, sizeof *pruned_layer);
    int rc = 0;
    if (!keep || !pruned_layer) {
        rc = err_oom(err, "fine-tuning", (size_t)nv);
        goto done;
    }
    trainable_values(g, trainable);
    /* What pruning holds at 0: every weight of a pruned layer that is 0, and any other
     * parameter that pruning made 0 (the units removed with their group). */
    for (size_t i = 0; i < s->layers.count; i++)
        pruned_layer[s->layers.items[i].weight] =
            applied->global ? applied->global_sparsity > 0 : applied->settings[i].sparsity > 0;
    for (int v = 0; v < nv && rc == 0; v++) {
        if (!trainable[v])
            continue;
        const float *w = tensor_f32(g->values[v].constant), *orig = s->original[v];
        size_t n = tensor_numel(g->values[v].constant);
        if (!(keep[v] = malloc(n + 1))) {
            rc = err_oom(err, "masks", n);
            break;
        }
        for (size_t k = 0; k < n; k++)
            keep[v][k] = !(w[k] == 0.0f && (pruned_layer[v] || (orig && orig[k] != 0.0f)));
    }
    if (rc < 0)
        goto done;
    engine_set_cancel(s->engine, s->cancel);
    rc = ft_run(s->engine, train, rs, s->output_kind, trainable, keep, o, s->cancel, on_epoch,
                progress, ctx, r, err);
    if (rc < 0 || r->epochs_done == 0) {
        /* Nothing kept: the weights as the configuration makes them. */
        struct err ignored;
        for (int v = 0; v < nv; v++)
            s->dirty[v] |= trainable[v];
        apply_config(s, applied, rc < 0 ? &ignored : err);
    }
done:
    for (int v = 0; keep && v < nv; v++)
        free(keep[v]);
    free(keep);
    free(pruned_layer);
    return rc;
}

int session_finetune(struct session *s, const char *train_path, const struct ft_options *o,
                     ft_epoch_fn on_epoch, ft_progress_fn progress, void *ctx,
                     struct ft_result *r, struct err *err)
{
    memset(r, 0, sizeof *r);
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    if (!s->data)
        return err_set(err, "fine-tuning is measured on the validation data: load it first "
                            "(data FILE.csv)");
    struct shape rs;
    struct dataset *train = load_training(s, train_path, "fine-tuning", &rs, err);
    if (!train)
        return -1;
    bool *trainable = calloc((size_t)engine_graph(s->engine)->n_values + 1, sizeof *trainable);
    int rc = trainable ? train_applied(s, &s->config, train, &rs, o, on_epoch, progress, ctx, r,
                                       trainable, err)
                       : err_oom(err, "fine-tuning", 0);
    if (rc == 0 && r->epochs_done > 0)
        rc = adopt_weights(s, trainable, err);
    free(trainable);
    dataset_free(train);
    return rc;
}

void recon_report_fini(struct recon_report *r)
{
    free(r->layers);
    memset(r, 0, sizeof *r);
}

/* Run the model on input capturing values vals (n of them) into got (all rows). The
 * model's input itself is copied from input (a run does not capture it). */
static int capture(struct session *s, const struct tensor *input, int n, const int *vals,
                   struct tensor **got, struct err *err)
{
    const struct graph *g = engine_graph(s->engine);
    struct tensor *outs[64] = {NULL};
    if (g->n_outputs > 64 || n > 64)
        return err_set(err, "the model has more than 64 outputs or layers to capture");
    int run_vals[64], slot[64], m = 0;
    for (int i = 0; i < n; i++) {
        if (vals[i] == g->inputs[0]) {
            if (!(got[i] = tensor_new(DTYPE_FLOAT, &input->shape, err)))
                return -1;
            memcpy(got[i]->data, input->data, tensor_bytes(got[i]));
            continue;
        }
        run_vals[m] = vals[i];
        slot[m++] = i;
    }
    if (m == 0)
        return 0;
    struct tensor *cap[64] = {NULL};
    struct engine_rows_opts o = {.n_capture = m, .capture_values = run_vals, .captured = cap};
    int rc = engine_run_rows_ex(s->engine, input, &o, outs, err);
    for (int k = 0; k < g->n_outputs; k++)
        tensor_free(outs[k]);
    for (int i = 0; i < m; i++)
        got[slot[i]] = cap[i];
    return rc;
}

int session_hold_out(struct session *s, size_t n, struct err *err)
{
    if (!s->data_all)
        return err_set(err, "no data is loaded (use: data FILE.csv)");
    if (n >= s->data_all->rows)
        return err_set(err,
                       "%zu rows held out would leave none of the %zu of %s to measure on; "
                       "hold out fewer",
                       n, s->data_all->rows, s->data_path);
    if (n == s->holdout)
        return 0;
    struct dataset *view = s->data_all;
    if (n > 0) {
        if (!(view = malloc(sizeof *view)))
            return err_oom(err, "held-out rows", sizeof *view);
        *view = *s->data_all;
        size_t nf = view->n_features;
        view->rows -= n;
        view->features += n * nf;
        if (view->labels)
            view->labels += n;
        if (view->values)
            view->values += n;
        if (view->row_line)
            view->row_line += n;
    }
    if (s->data != s->data_all)
        free(s->data);
    s->data = view;
    s->holdout = n;
    if (n == 0) {
        memcpy(s->data_key, s->data_sha256, sizeof s->data_key);
    } else {
        char text[128];
        snprintf(text, sizeof text, "%s held out %zu", s->data_sha256, n);
        files_sha256_text(text, s->data_key);
    }
    drop_twin(s);
    drop_saliency(s);
    drop_sensitivity(s);
    return 0;
}

/* Re-fit the weights as applied now (applied: the configuration on them) on the first
 * rows of cd (rows shaped rs), in place; changed_out (one flag per value, may be NULL)
 * receives the weights re-fitted. On failure the weights are applied's again. */
static int refit_applied(struct session *s, const struct prune_config *applied,
                         const struct dataset *cd, size_t rows, struct shape rs, double damp,
                         struct recon_report *r, bool *changed_out, struct err *err)
{
    memset(r, 0, sizeof *r);
    double t0 = timer_now_s();
    if (rows == 0 || rows > cd->rows)
        rows = cd->rows;
    const struct graph *g = engine_graph(s->engine);
    const size_t nl = s->layers.count;
    /* The layers pruning changed: a weight 0 that was not in the original. */
    size_t *todo = calloc(nl + 1, sizeof *todo), n_todo = 0;
    int *in_vals = calloc(nl + 1, sizeof *in_vals);
    struct tensor **dense_in = calloc(nl + 1, sizeof *dense_in);
    bool *changed = calloc((size_t)g->n_values + 1, sizeof *changed);
    r->layers = calloc(nl + 1, sizeof *r->layers);
    int rc = 0;
    if (!todo || !in_vals || !dense_in || !changed || !r->layers) {
        rc = err_oom(err, "reconstruction", nl);
        goto done;
    }
    for (size_t i = 0; i < nl; i++) {
        const struct layer *l = &s->layers.items[i];
        const float *w = tensor_f32(g->values[l->weight].constant), *o = s->original[l->weight];
        bool pruned = false;
        for (int64_t k = 0; k < l->params && !pruned; k++)
            pruned = w[k] == 0.0f && o[k] != 0.0f;
        if (pruned) {
            todo[n_todo] = i;
            in_vals[n_todo++] = g->nodes[l->node].inputs[0];
        }
    }
    if (n_todo == 0)
        goto done; /* nothing pruned: nothing to re-fit */
    struct tensor input = {.dtype = DTYPE_FLOAT, .data = cd->features};
    input.shape.ndim = rs.ndim + 1;
    input.shape.dims[0] = (int64_t)rows;
    for (int d = 0; d < rs.ndim; d++)
        input.shape.dims[d + 1] = rs.dims[d];
    /* The dense model's inputs of those layers, all at once. */
    struct prune_config dense = {0};
    if ((rc = prune_config_copy(applied, nl, &dense, err)) < 0)
        goto done;
    dense.global = false;
    memset(dense.settings, 0, nl * sizeof *dense.settings);
    for (size_t i = 0; i < nl; i++)
        dense.settings[i] = (struct prune_setting){0, applied->settings[i].criterion,
                                                   applied->settings[i].granularity};
    rc = session_apply_temporary(s, &dense, err);
    free(dense.settings);
    if (rc == 0)
        rc = capture(s, &input, (int)n_todo, in_vals, dense_in, err);
    struct err ignored;
    if (session_apply_temporary(s, applied, rc < 0 ? &ignored : err) < 0 && rc == 0)
        rc = -1;
    if (rc < 0)
        goto done;
    /* Layer by layer in graph order: its inputs from the model as re-fitted so far. */
    for (size_t t = 0; t < n_todo && rc == 0; t++) {
        const struct layer *l = &s->layers.items[todo[t]];
        struct tensor *now = NULL;
        struct recon_geom gm;
        struct recon_stats st = {0};
        struct weight_view v;
        struct shape row = dense_in[t]->shape;
        for (int d = 0; d + 1 < row.ndim; d++)
            row.dims[d] = row.dims[d + 1];
        row.ndim--;
        struct err why;
        if (recon_geom_of(g, l, &row, &gm, &why) < 0 ||
            (gm.groups > 1 && err_set(&why, "layer '%s': grouped convolutions are not "
                                            "re-fitted yet", l->name) < 0)) {
            /* A layer whose inputs are not rows or one group's windows keeps its weights. */
            if (r->n_unfit++ == 0)
                memcpy(r->unfit, why.msg, sizeof r->unfit);
            continue;
        }
        if ((rc = prune_view(g, l, &v, err)) < 0 || (rc = recon_stats_init(&st, gm.k, err)) < 0)
            break;
        if ((rc = capture(s, &input, 1, &in_vals[t], &now, err)) == 0)
            rc = recon_accumulate(&st, &gm, tensor_f32(now), tensor_f32(dense_in[t]), rows, err);
        tensor_free(now);
        struct recon_layer_report *lr = &r->layers[r->n_layers];
        float *w = tensor_f32(g->values[l->weight].constant);
        if (rc == 0)
            rc = recon_solve(&st, &v, s->original[l->weight], w, damp, &lr->skipped, err);
        if (rc == 0) {
            lr->layer = todo[t];
            lr->samples = st.samples;
            for (int64_t k = 0; k < l->params; k++)
                lr->kept += w[k] != 0.0f;
            r->n_layers++;
            changed[l->weight] = true;
            weights_changed(s, changed);
        }
        recon_stats_fini(&st);
    }
    if (rc < 0) {
        /* Back to the configuration on the originals. */
        for (int v = 0; v < g->n_values; v++)
            s->dirty[v] |= changed[v];
        apply_config(s, applied, &ignored);
        goto done;
    }
    r->rows = rows;
    if (changed_out)
        memcpy(changed_out, changed, (size_t)g->n_values * sizeof *changed);
done:
    for (size_t t = 0; dense_in && t < n_todo; t++)
        tensor_free(dense_in[t]);
    free(dense_in), free(todo), free(in_vals), free(changed);
    if (rc < 0)
        recon_report_fini(r);
    r->elapsed_s = timer_now_s() - t0;
    return rc;
}

int session_reconstruct(struct session *s, const char *calib_path, size_t rows, double damp,
                        struct recon_report *r, struct err *err)
{
    memset(r, 0, sizeof *r);
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    if (!s->data)
        return err_set(err, "reconstruct is measured on the validation data: load it first "
                            "(data FILE.csv)");
    struct shape rs = s->row_shape;
    struct dataset *calib = NULL;
    if (calib_path) {
        if (!(calib = load_training(s, calib_path, "reconstruction", &rs, err)))
            return -1;
    } else {
        /* The validation file's first rows, held out from measurement from now on. */
        if (rows == 0)
            return err_set(err, "reconstruct on held-out rows needs how many (--rows N)");
        if (session_hold_out(s, rows, err) < 0)
            return -1;
    }
    bool *changed = calloc((size_t)engine_graph(s->engine)->n_values + 1, sizeof *changed);
    int rc = changed ? refit_applied(s, &s->config, calib ? calib : s->data_all, rows, rs, damp,
                                     r, changed, err)
                     : err_oom(err, "reconstruction", 0);
    if (rc == 0 && r->n_layers == 0) {
        rc = r->n_unfit ? err_set(err, "no pruned layer can be re-fitted: %s", r->unfit)
                        : err_set(err, "nothing is pruned: there is nothing to reconstruct");
        recon_report_fini(r);
    }
    if (rc == 0 && (rc = adopt_weights(s, changed, err)) < 0)
        recon_report_fini(r);
    free(changed);
    dataset_free(calib);
    return rc;
}
