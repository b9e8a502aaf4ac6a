/* load and info: the model and what it holds. Not the data (cmd_data.c) or the layer
 * table (cmd_layers.c). */
#include <stdio.h>
#include <string.h>

#include "commands/command.h"
#include "model/graph.h"

static int need_model(const struct cmd_ctx *c, struct err *err)
{
    if (!c->s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    return 0;
}

static int load_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc != 2)
        return err_set(err, "usage: %s", cmd_load.usage);
    char dropped[1024];
    if (session_load_model(c->s, argv[1], dropped, sizeof dropped, err) < 0)
        return -1;
    const struct graph *g = engine_graph(c->s->engine);
    size_t params = graph_param_count(g);
    out_set(c->o, "model", json_string(argv[1]));
    out_set(c->o, "nodes", json_integer(g->n_nodes));
    out_set(c->o, "params", json_integer((json_int_t)params));
    out_set(c->o, "layers", json_integer((json_int_t)c->s->layers.count));
    out_printf(c->o, "loaded %s: %d nodes, %zu parameters, %zu prunable layers\n", argv[1],
               g->n_nodes, params, c->s->layers.count);
    if (dropped[0])
        out_warn(c->o, "the data no longer fits and was dropped: %s", dropped);
    return 0;
}

/* A value's shape for a batch of N rows: "[N,1,28,28]" and the JSON array (dims that scale
 * with the batch as the string "N"). */
static json_t *value_shape(struct engine *e, int v, char *text, size_t size)
{
    struct shape s1, s2;
    struct err ignored;
    json_t *arr = json_array();
    if (engine_value_shape(e, v, 1, &s1, &ignored) < 0 ||
        engine_value_shape(e, v, 2, &s2, &ignored) < 0) {
        snprintf(text, size, "(shape unknown)");
        return arr;
    }
    size_t used = (size_t)snprintf(text, size, "[");
    for (int d = 0; d < s1.ndim && used < size; d++) {
        bool batch = s1.dims[d] != s2.dims[d];
        if (batch) {
            used += (size_t)snprintf(text + used, size - used, "%sN", d ? "," : "");
            json_array_append_new(arr, json_string("N"));
        } else {
            used += (size_t)snprintf(text + used, size - used, "%s%lld", d ? "," : "",
                                     (long long)s1.dims[d]);
            json_array_append_new(arr, json_integer(s1.dims[d]));
        }
    }
    if (used < size)
        snprintf(text + used, size - used, "]");
    return arr;
}

static json_t *describe_values(struct cmd_ctx *c, const int *ids, int n, const char *kind)
{
    const struct graph *g = engine_graph(c->s->engine);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        const struct value *v = &g->values[ids[i]];
        char text[256];
        json_t *shape = value_shape(c->s->engine, ids[i], text, sizeof text);
        const char *dt = dtype_name(v->dtype == DTYPE_UNDEFINED ? DTYPE_FLOAT : v->dtype);
        out_printf(c->o, "%-8s %s %s %s\n", kind, v->name, text, dt);
        json_array_append_new(
            arr, json_pack("{s:s, s:o, s:s}", "name", v->name, "shape", shape, "dtype", dt));
    }
    return arr;
}

static int info_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc != 1)
        return err_set(err, "usage: %s", cmd_info.usage);
    if (need_model(c, err) < 0)
        return -1;
    struct session *s = c->s;
    const struct graph *g = engine_graph(s->engine);
    out_printf(c->o, "model    %s\n", s->model_path);
    out_printf(c->o, "producer %s\n", *g->producer ? g->producer : "(unknown)");
    out_printf(c->o, "opset    %lld (IR version %lld)\n", (long long)g->opset,
               (long long)g->ir_version);
    out_set(c->o, "model", json_string(s->model_path));
    out_set(c->o, "producer", json_string(g->producer));
    out_set(c->o, "opset", json_integer(g->opset));
    out_set(c->o, "inputs", describe_values(c, g->inputs, g->n_inputs, "input"));
    out_set(c->o, "outputs", describe_values(c, g->outputs, g->n_outputs, "output"));
    /* Only a batch fixed in the file is worth a line; JSON always says. */
    const char *mode = engine_batch_mode(s->engine), *why = engine_batch_reason(s->engine);
    long long fixed = (long long)engine_batch_fixed(s->engine);
    if (fixed > 0 && strcmp(mode, "re-planned") == 0)
        out_printf(c->o, "batch    fixed %lld in the file; re-planned per chunk\n", fixed);
    else if (fixed > 0)
        out_printf(c->o, "batch    fixed %lld in the file; run %s%s%s%s\n", fixed, mode,
                   *why ? " (" : "", why, *why ? ")" : "");
    out_set(c->o, "batch",
            json_pack("{s:s, s:o, s:o}", "mode", mode, "fixed",
                      fixed > 0 ? json_integer(fixed) : json_null(), "reason",
                      *why ? json_string(why) : json_null()));
    out_printf(c->o, "nodes    %d\n", g->n_nodes);
    json_t *nodes = json_array();
    for (int n = 0; n < g->n_nodes; n++) {
        const struct node *nd = &g->nodes[n];
        out_printf(c->o, "  %3d  %-20s %s\n", n + 1, nd->op_type, nd->name);
        json_array_append_new(nodes, json_pack("{s:s, s:s}", "name", nd->name, "op", nd->op_type));
    }
    out_set(c->o, "nodes", nodes);
    struct weight_stats ws;
    session_weight_stats(s, &ws);
    double macs = engine_macs_per_row(s->engine);
    out_printf(c->o, "params   %zu\n", ws.params);
    out_printf(c->o, "layers   %zu prunable, %zu weights\n", s->layers.count, ws.prunable_params);
    out_printf(c->o, "macs     %.0f per row\n", macs);
    if (s->groups_ok) {
        size_t blocked = 0;
        for (size_t gi = 0; gi < s->groups.n_groups; gi++)
            blocked += s->groups.groups[gi].blocked;
        out_printf(c->o, "groups   %zu dependency group%s, %zu not prunable (layers --groups)\n",
                   s->groups.n_groups, s->groups.n_groups == 1 ? "" : "s", blocked);
        out_set(c->o, "groups", json_integer((json_int_t)s->groups.n_groups));
    } else {
        out_printf(c->o, "groups   %s\n", s->groups_error);
        out_set(c->o, "groups", json_null());
    }
    out_set(c->o, "params", json_integer((json_int_t)ws.params));
    out_set(c->o, "prunable_layers", json_integer((json_int_t)s->layers.count));
    out_set(c->o, "prunable_params", json_integer((json_int_t)ws.prunable_params));
    out_set(c->o, "macs_per_row", json_real(macs));
    const struct dataset *d = s->data;
    if (!d) {
        out_printf(c->o, "data     (none; use: data FILE.csv)\n");
        out_set(c->o, "data", json_null());
        return 0;
    }
    out_printf(c->o, "data     %s: %zu rows, %zu features, label column %zu (%s)\n", s->data_path,
               d->rows, d->n_features, d->label_column, d->label_name);
    out_set(c->o, "data",
            json_pack("{s:s, s:I, s:I, s:I, s:s, s:I}", "path", s->data_path, "rows",
                      (json_int_t)d->rows, "features", (json_int_t)d->n_features, "label_column",
                      (json_int_t)d->label_column, "label", d->label_name, "classes",
                      (json_int_t)d->n_classes));
    return 0;
}

const struct cmd_def cmd_load = {
    .name = "load",
    .usage = "load MODEL.onnx",
    .summary = "load an ONNX model (the current data stays when it still fits)",
    .help = "Reads the model, checks every node against the operator table and plans it for\n"
            "a batch of one row. On failure the current model stays.",
    .complete = CMD_COMPLETE_FILE,
    .run = load_run,
};

const struct cmd_def cmd_info = {
    .name = "info",
    .usage = "info",
    .summary = "describe the model and the data: inputs, outputs, nodes, parameters",
    .help = "Shapes show the batch dimension as N. MACs count the multiply-accumulates of\n"
            "Gemm, MatMul and Conv for one row. A batch the file fixes gets a line saying\n"
            "whether it is re-planned per chunk or run that many rows at a time (and why).",
    .complete = CMD_COMPLETE_NONE,
    .run = info_run,
};

