/* set, method, global, undo, redo, reset and storage: changing the pruning configuration.
 * Not the mask selection (prune/) or applying it (session/). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/command.h"

/* "0.5" or "50%" as a fraction; refuses values outside [0, 1). */
static int parse_sparsity(const char *text, double *out, struct err *err)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    bool percent = *end == '%';
    if (percent)
        end++;
    if (end == text || *end || errno || !isfinite(v))
        return err_set(err, "'%s' is not a sparsity (write 0.5 or 50%%)", text);
    if (percent)
        v /= 100.0;
    if (v < 0.0 || v >= 1.0)
        return err_set(err, "sparsity %s is outside [0, 1) (0%% to below 100%%)", text);
    *out = v;
    return 0;
}

static int need_model(const struct cmd_ctx *c, struct err *err)
{
    if (!c->s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    return 0;
}

/* The layers LAYER names (all: every one) as flags in `pick`. */
static int pick_layers(const struct session *s, const char *key, bool *pick, struct err *err)
{
    if (strcmp(key, "all") == 0) {
        for (size_t i = 0; i < s->layers.count; i++)
            pick[i] = true;
        return 0;
    }
    const struct layer *l = layers_lookup(&s->layers, key);
    if (!l)
        return err_set(
            err,
            "no prunable layer '%s' (a name, a node name, a weight name, an index from 1 "
            "to %zu, or all)",
            key, s->layers.count);
    pick[l - s->layers.items] = true;
    return 0;
}

/* A per-layer change after `global`: every layer starts from the sparsity global gave it,
 * as unstructured magnitude pruning (which selects the same weights within a layer). */
static void leave_global(const struct session *s, struct prune_config *next)
{
    if (!next->global)
        return;
    for (size_t i = 0; i < s->layers.count; i++) {
        const struct layer *l = &s->layers.items[i];
        next->settings[i].sparsity = (double)session_layer_zeros(s, l) / (double)l->params;
        next->settings[i].criterion = CRIT_L1;
        next->settings[i].granularity = GRAN_UNSTRUCTURED;
    }
    next->global = false;
}

static bool is_conv(const struct layer *l)
{
    return strcmp(l->op, "Conv") == 0;
}

static bool unit_granularity(enum prune_granularity g)
{
    return g == GRAN_NEURON || g == GRAN_FILTER;
}

/* A structured change to a layer is a change to its whole dependency group: every member
 * takes the same sparsity and criterion, with filters on Conv and neurons on Gemm/MatMul.
 * was[] holds the settings before the change. */
static void spread_to_groups(const struct session *s, const bool *pick,
                             const struct prune_setting *was, struct prune_config *next)
{
    for (size_t i = 0; i < s->layers.count; i++) {
        if (!pick[i])
            continue;
        const struct prune_setting *st = &next->settings[i];
        if (!unit_granularity(st->granularity) && !unit_granularity(was[i].granularity))
            continue;
        const struct prune_group *pg = session_layer_group(s, i);
        for (size_t m = 0; pg && m < pg->n_members; m++) {
            size_t j = pg->members[m];
            if (j == i || (pick[j] && unit_granularity(next->settings[j].granularity)))
                continue;
            if (!unit_granularity(st->granularity) &&
                !unit_granularity(next->settings[j].granularity))
                continue;
            next->settings[j].sparsity = st->sparsity;
            next->settings[j].criterion = st->criterion;
            next->settings[j].granularity =
                unit_granularity(st->granularity)
                    ? (is_conv(&s->layers.items[j]) ? GRAN_FILTER : GRAN_NEURON)
                    : st->granularity;
        }
    }
}

/* After a structured change to one layer: its group's members, in one line. */
static void say_group(struct cmd_ctx *c, size_t li)
{
    const struct session *s = c->s;
    const struct prune_group *pg = session_layer_group(s, li);
    const struct prune_setting *st = &s->config.settings[li];
    if (!pg || pg->n_members < 2 || !unit_granularity(st->granularity))
        return;
    char line[512];
    size_t used = 0;
    for (size_t m = 0; m < pg->n_members && used < sizeof line; m++) {
        if (m == 6) {
            used += (size_t)snprintf(line + used, sizeof line - used, ", ...");
            break;
        }
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%s", m ? ", " : "",
                                 s->layers.items[pg->members[m]].display);
    }
    out_printf(c->o, "group     g%zu, %zu layers at %.0f%% of %zu units (%s): %s\n",
               (size_t)(pg - s->groups.groups) + 1, pg->n_members, 100.0 * st->sparsity,
               pg->n_units, prune_criterion_name(st->criterion), line);
}

/* After `set all`: structured layers whose group cannot be pruned stay at 0%, each group
 * said once in one line. */
static void keep_blocked(struct cmd_ctx *c, struct prune_config *next)
{
    const struct session *s = c->s;
    const struct prune_group *said[8];
    size_t n_said = 0, more = 0;
    for (size_t i = 0; i < s->layers.count; i++) {
        struct prune_setting *st = &next->settings[i];
        struct err why;
        if (!session_setting_structured(st) || session_check_structured(s, i, &why) == 0)
            continue;
        st->sparsity = 0.0;
        const struct prune_group *pg = session_layer_group(s, i);
        bool seen = false;
        for (size_t k = 0; k < n_said; k++)
            seen |= said[k] == pg;
        if (seen)
            continue;
        if (n_said < 8 && pg) {
            said[n_said++] = pg;
            out_printf(c->o, "kept      %s at 0%%: %s\n", s->layers.items[i].display,
                       pg->blocked ? pg->why : why.msg);
        } else if (!pg) {
            out_printf(c->o, "kept      %s at 0%%: %s\n", s->layers.items[i].display, why.msg);
        } else {
            more++;
        }
    }
    if (more)
        out_printf(c->o, "kept      %zu more groups at 0%% (layers --groups says why)\n", more);
}

/* Reports the configuration after a change: per-layer settings in JSON, a summary line. */
static void report(struct cmd_ctx *c)
{
    const struct session *s = c->s;
    struct weight_stats ws;
    session_weight_stats(s, &ws);
    double sparsity =
        ws.prunable_params ? (double)ws.prunable_zeros / (double)ws.prunable_params : 0.0;
    out_printf(c->o, "sparsity  %.1f%% of %zu prunable weights (%zu non-zero parameters)\n",
               100.0 * sparsity, ws.prunable_params, ws.nonzero_params);
    out_set(c->o, "sparsity", json_real(sparsity));
    out_set(c->o, "nonzero_params", json_integer((json_int_t)ws.nonzero_params));
    out_set(c->o, "global", s->config.global ? json_real(s->config.global_sparsity) : json_null());
    json_t *arr = json_array();
    for (size_t i = 0; i < s->layers.count; i++) {
        const struct layer *l = &s->layers.items[i];
        const struct prune_setting *st = &s->config.settings[i];
        json_array_append_new(
            arr, json_pack("{s:s, s:f, s:f, s:s, s:s}", "name", l->name, "sparsity",
                           (double)session_layer_zeros(s, l) / (double)l->params, "setting",
                           st->sparsity, "criterion", prune_criterion_name(st->criterion),
                           "granularity", prune_granularity_name(st->granularity)));
    }
    out_set(c->o, "layers", arr);
}

static int set_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc != 3)
        return err_set(err, "usage: %s", cmd_set.usage);
    if (need_model(c, err) < 0)
        return -1;
    double v;
    if (parse_sparsity(argv[2], &v, err) < 0)
        return -1;
    struct session *s = c->s;
    bool *pick = calloc(s->layers.count + 1, sizeof *pick);
    struct prune_config next;
    if (!pick)
        return err_oom(err, "layers", s->layers.count);
    if (pick_layers(s, argv[1], pick, err) < 0 || session_config_copy(s, &next, err) < 0) {
        free(pick);
        return -1;
    }
    leave_global(s, &next);
    struct prune_setting *was = malloc((s->layers.count + 1) * sizeof *was);
    if (!was) {
        free(next.settings);
        free(pick);
        return err_oom(err, "layers", s->layers.count);
    }
    memcpy(was, next.settings, s->layers.count * sizeof *was);
    for (size_t i = 0; i < s->layers.count; i++)
        if (pick[i])
            next.settings[i].sparsity = v;
    spread_to_groups(s, pick, was, &next);
    if (strcmp(argv[1], "all") == 0)
        keep_blocked(c, &next);
    free(was);
    int rc = session_configure(s, &next, err);
    free(next.settings);
    if (rc == 0 && strcmp(argv[1], "all") != 0)
        for (size_t i = 0; i < s->layers.count; i++)
            if (pick[i])
                say_group(c, i);
    free(pick);
    if (rc < 0)
        return -1;
    report(c);
    return 0;
}

static int method_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc < 3 || argc > 4)
        return err_set(err, "usage: %s", cmd_method.usage);
    if (need_model(c, err) < 0)
        return -1;
    enum prune_criterion crit;
    enum prune_granularity gran = GRAN_UNSTRUCTURED;
    bool structured = argc == 4 && strcmp(argv[3], "structured") == 0;
    if (prune_criterion_parse(argv[2], &crit) < 0)
        return err_set(err, "unknown criterion '%s' (l1, l2, random, taylor or wanda)", argv[2]);
    if (argc == 4 && !structured && prune_granularity_parse(argv[3], &gran) < 0)
        return err_set(err,
                       "unknown granularity '%s' (unstructured, structured, neuron, filter, "
                       "channel, 2:4, 4:8, block1x4 or block4x4)",
                       argv[3]);
    struct session *s = c->s;
    bool *pick = calloc(s->layers.count + 1, sizeof *pick);
    struct prune_setting *was = malloc((s->layers.count + 1) * sizeof *was);
    struct prune_config next;
    if (!pick || !was) {
        free(pick);
        free(was);
        return err_oom(err, "layers", s->layers.count);
    }
    if (pick_layers(s, argv[1], pick, err) < 0 || session_config_copy(s, &next, err) < 0) {
        free(pick);
        free(was);
        return -1;
    }
    leave_global(s, &next);
    memcpy(was, next.settings, s->layers.count * sizeof *was);
    /* With all, a granularity for one kind of layer applies to that kind; the others are
     * named and left as they were. */
    bool all = strcmp(argv[1], "all") == 0;
    size_t skipped = 0;
    char names[512] = "";
    for (size_t i = 0; i < s->layers.count; i++) {
        if (!pick[i])
            continue;
        const struct layer *l = &s->layers.items[i];
        enum prune_granularity g = structured ? (is_conv(l) ? GRAN_FILTER : GRAN_NEURON) : gran;
        bool fits = !((g == GRAN_FILTER || g == GRAN_CHANNEL) && !is_conv(l)) &&
                    !(g == GRAN_NEURON && is_conv(l));
        if (all && !fits) {
            pick[i] = false;
            size_t used = strlen(names);
            if (skipped < 6 && used < sizeof names)
                snprintf(names + used, sizeof names - used, "%s%s", skipped ? ", " : "",
                         l->display);
            skipped++;
            continue;
        }
        next.settings[i].criterion = crit;
        next.settings[i].granularity = g;
    }
    spread_to_groups(s, pick, was, &next);
    free(was);
    int rc = session_configure(s, &next, err);
    free(next.settings);
    free(pick);
    if (rc < 0)
        return -1;
    if (skipped)
        out_printf(c->o, "skipped   %zu %s layers (%s applies to %s): %s%s\n", skipped,
                   gran == GRAN_NEURON ? "Conv" : "Gemm/MatMul", argv[3],
                   gran == GRAN_NEURON ? "Gemm/MatMul" : "Conv", names, skipped > 6 ? ", ..." : "");
    report(c);
    return 0;
}

static int global_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc != 2)
        return err_set(err, "usage: %s", cmd_global.usage);
    if (need_model(c, err) < 0)
        return -1;
    double v;
    struct prune_config next;
    if (parse_sparsity(argv[1], &v, err) < 0 || session_config_copy(c->s, &next, err) < 0)
        return -1;
    next.global = true;
    next.global_sparsity = v;
    int rc = session_configure(c->s, &next, err);
    free(next.settings);
    if (rc < 0)
        return -1;
    report(c);
    return 0;
}

static int reset_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc != 1)
        return err_set(err, "usage: %s", cmd_reset.usage);
    if (need_model(c, err) < 0)
        return -1;
    struct prune_config next;
    if (session_config_copy(c->s, &next, err) < 0)
        return -1;
    next.global = false;
    next.global_sparsity = 0.0;
    memset(next.settings, 0, c->s->layers.count * sizeof *next.settings);
    int rc = session_configure(c->s, &next, err);
    free(next.settings);
    if (rc < 0)
        return -1;
    report(c);
    return 0;
}

static int undo_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc != 1)
        return err_set(err, "usage: %s", cmd_undo.usage);
    if (session_undo(c->s, err) < 0)
        return -1;
    report(c);
    return 0;
}

static int redo_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc != 1)
        return err_set(err, "usage: %s", cmd_redo.usage);
    if (session_redo(c->s, err) < 0)
        return -1;
    report(c);
    return 0;
}

static int storage_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc > 2)
        return err_set(err, "usage: %s", cmd_storage.usage);
    if (argc == 2 && storage_parse(argv[1], &c->s->storage) < 0)
        return err_set(err,
                       "unknown storage format '%s' (dense-fp32, dense-fp16, dense-int8, "
                       "csr, bitmask, nm or block)",
                       argv[1]);
    size_t bytes = session_weight_bytes(c->s);
    out_printf(c->o, "storage   %s: %zu bytes of weights\n", storage_name(c->s->storage), bytes);
    out_set(c->o, "storage", json_string(storage_name(c->s->storage)));
    out_set(c->o, "weight_bytes", json_integer((json_int_t)bytes));
    return 0;
}

const struct cmd_def cmd_set = {
    .name = "set",
    .usage = "set LAYER|all SPARSITY",
    .summary = "set the sparsity of a layer (or all), as 0.5 or 50%",
    .help = "Applies the layer's method (see method) to its original weights. Unstructured\n"
            "magnitude pruning of n weights at sparsity s zeroes the floor(s*n) smallest\n"
            "|w|, ties by lowest index; neuron and filter pruning remove floor(s*units)\n"
            "units with the smallest L1 or L2 norm, with their biases and the matching\n"
            "inputs of the next layer. After global, set starts from what global gave.",
    .complete = CMD_COMPLETE_LAYER,
    .run = set_run,
};

const struct cmd_def cmd_method = {
    .name = "method",
    .usage = "method LAYER|all CRITERION [GRANULARITY]",
    .summary = "choose how a layer is pruned: l1 l2 random taylor wanda; unstructured neuron ...",
    .help = "CRITERION: l1, l2 (magnitude, or norm of a group), random (seeded, --seed),\n"
            "taylor (|w * dL/dw| on the validation data, summed over a group; needs data),\n"
            "wanda (|w| x the L2 norm of the weight's input over the validation rows, of\n"
            "the dense model; summed over a group; needs data).\n"
            "GRANULARITY: unstructured (default), neuron\n"
            "(Gemm/MatMul output units), filter and channel (Conv), structured (filter on\n"
            "Conv, neuron on Gemm/MatMul), 2:4 and 4:8 (N:M along the inputs: 50% of each\n"
            "group of M), block1x4 and block4x4. With all, filter and channel apply to the\n"
            "Conv layers and neuron to the others (the rest are named and left as they\n"
            "were). Neuron and filter pruning work on dependency groups (layers --groups):\n"
            "setting one member sets every layer whose channels are coupled to it.",
    .complete = CMD_COMPLETE_LAYER,
    .run = method_run,
};

const struct cmd_def cmd_global = {
    .name = "global",
    .usage = "global SPARSITY",
    .summary = "global magnitude pruning: one sparsity over all prunable weights together",
    .help = "Zeroes the floor(s*total) smallest |w| over all prunable weight tensors taken\n"
            "together, ties broken by the layers' graph order, then flat index.",
    .complete = CMD_COMPLETE_NONE,
    .run = global_run,
};

const struct cmd_def cmd_reset = {
    .name = "reset",
    .usage = "reset",
    .summary = "clear every sparsity and method back to the defaults (undo brings it back)",
    .help = "Defaults: sparsity 0, criterion l1, granularity unstructured.",
    .complete = CMD_COMPLETE_NONE,
    .run = reset_run,
};

const struct cmd_def cmd_undo = {
    .name = "undo",
    .usage = "undo",
    .summary = "go back to the configuration before the last change",
    .help = "set, method, global and reset are changes; undo and redo step through them.",
    .complete = CMD_COMPLETE_NONE,
    .run = undo_run,
};

const struct cmd_def cmd_redo = {
    .name = "redo",
    .usage = "redo",
    .summary = "redo the change that undo took back",
    .help = "A new change after undo drops what could have been redone.",
    .complete = CMD_COMPLETE_NONE,
    .run = redo_run,
};

const struct cmd_def cmd_storage = {
    .name = "storage",
    .usage = "storage [dense-fp32|dense-fp16|dense-int8|csr|bitmask|nm|block]",
    .summary = "choose the storage format weight_bytes is counted in",
    .help = "csr: 4-byte values, a column index per value and a row pointer per unit + 1,\n"
            "each index at the narrowest of 1, 2, 4 or 8 bytes that fits. bitmask: values\n"
            "plus one bit per weight. nm: N of every M values plus 2 (2:4) or 3 (4:8) bits of\n"
            "position each, for layers pruned N:M (others dense). block: non-zero blocks\n"
            "with CSR indices over blocks, for layers pruned in blocks (others dense).\n"
            "dense-int8 adds one float scale per tensor. Parameters outside the prunable\n"
            "layers are dense at the format's element width (fp32 for sparse formats).",
    .complete = CMD_COMPLETE_NONE,
    .run = storage_run,
};
