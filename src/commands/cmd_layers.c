/* layers: the table of prunable layers, their full names, and their dependency groups.
 * Not changing settings (cmd_prune.c). */
#include <stdio.h>
#include <string.h>

#include "commands/command.h"

/* The table fits this many columns; names longer than the room left are shortened from
 * the left with "..". */
#define TABLE_WIDTH 100

static json_t *layer_json(const struct session *s, size_t i)
{
    const struct layer *l = &s->layers.items[i];
    json_t *shape = json_array();
    for (int d = 0; d < l->shape.ndim; d++)
        json_array_append_new(shape, json_integer(l->shape.dims[d]));
    size_t zeros = session_layer_zeros(s, l);
    double sparsity = l->params ? (double)zeros / (double)l->params : 0.0;
    const struct prune_setting *st = &s->config.settings[i];
    const struct prune_group *pg = session_layer_group(s, i);
    json_t *j = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:o, s:I, s:f, s:f, s:I, s:s, s:s, s:s}", "index",
        (json_int_t)(i + 1), "name", l->display, "node", l->name, "op", l->op, "weight",
        l->weight_name, "shape", shape, "params", (json_int_t)l->params, "macs",
        session_layer_macs(s, l), "sparsity", sparsity, "zeros", (json_int_t)zeros, "criterion",
        s->config.global ? "l1" : prune_criterion_name(st->criterion), "granularity",
        s->config.global ? "global" : prune_granularity_name(st->granularity), "kernel",
        session_layer_kernel(s, l));
    json_object_set_new(j, "group",
                        pg ? json_integer((json_int_t)(pg - s->groups.groups) + 1) : json_null());
    return j;
}

/* name fitted into width columns: kept whole when it fits, else its end after "..". */
static const char *fit(const char *name, int width, char *buf, size_t size)
{
    int n = (int)strlen(name);
    if (n <= width)
        return name;
    snprintf(buf, size, "..%s", name + n - (width - 2));
    return buf;
}

static void group_label(const struct session *s, size_t i, char *buf, size_t size)
{
    const struct prune_group *pg = session_layer_group(s, i);
    if (!pg)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "g%zu%s", (size_t)(pg - s->groups.groups) + 1, pg->blocked ? "!" : "");
}

static int list_groups(struct cmd_ctx *c)
{
    const struct session *s = c->s;
    if (!s->groups_ok) {
        out_printf(c->o, "%s\n", s->groups_error);
        out_set(c->o, "groups", json_array());
        return 0;
    }
    const struct group_set *gs = &s->groups;
    size_t blocked = 0;
    json_t *arr = json_array();
    for (size_t gi = 0; gi < gs->n_groups; gi++) {
        const struct prune_group *pg = &gs->groups[gi];
        blocked += pg->blocked;
        char line[1024];
        size_t used =
            (size_t)snprintf(line, sizeof line, "g%-4zu %3zu layer%s %5zu unit%s  ", gi + 1,
                             pg->n_members, pg->n_members == 1 ? " " : "s", pg->n_units,
                             pg->n_units == 1 ? " " : "s");
        json_t *members = json_array();
        for (size_t m = 0; m < pg->n_members; m++) {
            const struct layer *l = &s->layers.items[pg->members[m]];
            json_array_append_new(members, json_string(l->display));
            if (used < sizeof line)
                used += (size_t)snprintf(line + used, sizeof line - used, "%s%s", m ? ", " : "",
                                         l->display);
        }
        out_printf(c->o, "%s\n", line);
        if (pg->blocked)
            out_printf(c->o, "      not prunable: %s\n", pg->why);
        json_array_append_new(arr, json_pack("{s:I, s:I, s:o, s:b, s:s?}", "index",
                                             (json_int_t)gi + 1, "units",
                                             (json_int_t)pg->n_units, "members", members,
                                             "prunable", !pg->blocked, "reason",
                                             pg->blocked ? pg->why : NULL));
    }
    out_printf(c->o, "%zu groups over %zu layers, %zu not prunable\n", gs->n_groups,
               s->layers.count, blocked);
    out_set(c->o, "groups", arr);
    return 0;
}

static int layers_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (!c->s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    const struct session *s = c->s;
    bool long_names = false, groups = false;
    const char *key = NULL;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--long") == 0)
            long_names = true;
        else if (strcmp(argv[a], "--groups") == 0)
            groups = true;
        else if (argv[a][0] == '-' || key)
            return err_set(err, "usage: %s", cmd_layers.usage);
        else
            key = argv[a];
    }
    if (groups)
        return list_groups(c);
    size_t lo = 0, hi = s->layers.count;
    if (key) {
        const struct layer *l = layers_lookup(&s->layers, key);
        if (!l)
            return err_set(err,
                           "no prunable layer '%s' (a name, a node name, a weight name or an "
                           "index from 1 to %zu)",
                           key, s->layers.count);
        lo = (size_t)(l - s->layers.items);
        hi = lo + 1;
    }
    int w_node = 4;
    for (size_t i = lo; i < hi && long_names; i++) {
        int n = (int)strlen(s->layers.items[i].name);
        w_node = n > w_node ? n : w_node;
    }
    if (long_names)
        out_printf(c->o, "%3s  %-*s %s\n", "#", w_node, "node", "weight");
    /* Column widths from the rows, the name taking what is left of the table width. */
    int w_name = 5, w_shape = 5, w_group = 5, w_method = 6;
    for (size_t i = lo; i < hi && !long_names; i++) {
        const struct layer *l = &s->layers.items[i];
        char sb[64], gb[16];
        const struct prune_setting *st = &s->config.settings[i];
        int n = (int)strlen(l->display), m;
        w_name = n > w_name ? n : w_name;
        n = (int)strlen(shape_format(&l->shape, sb, sizeof sb));
        w_shape = n > w_shape ? n : w_shape;
        group_label(s, i, gb, sizeof gb);
        n = (int)strlen(gb);
        w_group = n > w_group ? n : w_group;
        m = (int)strlen(s->config.global ? "l1 global"
                                          : prune_granularity_name(st->granularity)) +
            1 + (int)strlen(prune_criterion_name(st->criterion));
        w_method = m > w_method ? m : w_method;
    }
    /* #, name, op, shape, params, macs/row, sparse, group, method and the spaces. */
    int fixed = 3 + 2 + 1 + 6 + 1 + w_shape + 1 + 7 + 1 + 8 + 1 + 6 + 2 + w_group + 1 + w_method;
    if (w_name > TABLE_WIDTH - fixed)
        w_name = TABLE_WIDTH - fixed > 12 ? TABLE_WIDTH - fixed : 12;
    if (!long_names)
        out_printf(c->o, "%3s  %-*s %-6s %-*s %7s %8s %6s  %-*s %s\n", "#", w_name, "layer", "op",
                   w_shape, "shape", "params", "macs/row", "sparse", w_group, "group", "method");
    json_t *arr = json_array();
    for (size_t i = lo; i < hi; i++) {
        json_t *j = layer_json(s, i);
        const struct layer *l = &s->layers.items[i];
        if (long_names) {
            out_printf(c->o, "%3zu  %-*s %s\n", i + 1, w_node, l->name, l->weight_name);
            json_array_append_new(arr, j);
            continue;
        }
        char sb[64], nb[64], gb[16], pb[16], mb[16];
        const char *kernel = json_string_value(json_object_get(j, "kernel"));
        char runs[48] = "";
        if (strcmp(kernel, "dense") != 0)
            snprintf(runs, sizeof runs, " (runs as %s)",
                     strcmp(kernel, "csr") == 0 ? "CSR" : kernel);
        group_label(s, i, gb, sizeof gb);
        out_printf(c->o, "%3zu  %-*s %-6s %-*s %7s %8s %5.1f%%  %-*s %s %s%s\n", i + 1, w_name,
                   fit(l->display, w_name, nb, sizeof nb), l->op, w_shape,
                   shape_format(&l->shape, sb, sizeof sb), cmd_count_text((double)l->params, pb, sizeof pb),
                   cmd_count_text(json_real_value(json_object_get(j, "macs")), mb, sizeof mb),
                   100.0 * json_real_value(json_object_get(j, "sparsity")), w_group, gb,
                   json_string_value(json_object_get(j, "criterion")),
                   json_string_value(json_object_get(j, "granularity")), runs);
        json_array_append_new(arr, j);
    }
    out_set(c->o, "layers", arr);
    return 0;
}

const struct cmd_def cmd_layers = {
    .name = "layers",
    .usage = "layers [LAYER] [--long] | layers --groups",
    .summary = "list the prunable layers (Gemm, MatMul with a constant weight, Conv)",
    .help = "LAYER is a name, a node name, a weight tensor name or a 1-based index; with it,\n"
            "only that layer is shown. Names are short (for PyTorch exports the module\n"
            "path); --long lists the full node and weight names. Sparse is the share of\n"
            "weights that are zero. Group is the layer's dependency group (! when it cannot\n"
            "be pruned by filters or neurons); --groups lists every group with its members,\n"
            "its units (the channels removed together) and, for those that cannot be\n"
            "pruned, the node that stops them.",
    .complete = CMD_COMPLETE_LAYER,
    .run = layers_run,
};
