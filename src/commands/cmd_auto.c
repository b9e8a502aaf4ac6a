/* auto: per-layer sparsity allocated to a target from the sensitivity table. Not the
 * allocation itself (session/allocate.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/command.h"
#include "session/allocate.h"

/* "0.8", "80%" or a count. */
static int parse_amount(const char *text, double *out, struct err *err)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*end == '%') {
        v /= 100.0;
        end++;
    }
    if (end == text || *end || errno || !isfinite(v) || v < 0)
        return err_set(err, "'%s' is not an amount (a fraction, a percentage or a count)", text);
    *out = v;
    return 0;
}

static int auto_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc != 3)
        return err_set(err, "usage: %s", cmd_auto.usage);
    struct session *s = c->s;
    enum alloc_kind kind;
    if (strcmp(argv[1], "--params") == 0)
        kind = ALLOC_PARAMS;
    else if (strcmp(argv[1], "--bytes") == 0)
        kind = ALLOC_BYTES;
    else if (strcmp(argv[1], "--max-drop") == 0)
        kind = ALLOC_MAX_DROP;
    else if (strcmp(argv[1], "--latency") == 0)
        return err_set(err, "--latency needs a hardware profile, which this release does not "
                            "have yet; use --params, --bytes or --max-drop");
    else
        return err_set(err, "usage: %s", cmd_auto.usage);
    double value = 0.0;
    if (parse_amount(argv[2], &value, err) < 0)
        return -1;
    if (kind == ALLOC_PARAMS && value >= 1.0 && floor(value) != value)
        return err_set(err,
                       "--params %s: give a fraction below 1 (or a percentage) or a whole "
                       "number of weights",
                       argv[2]);
    if (cmd_need_sensitivity(c, err) < 0)
        return -1;
    double *level = calloc(s->layers.count + 1, sizeof *level);
    struct prune_config next;
    if (!level)
        return err_oom(err, "allocation", s->layers.count);
    if (alloc_solve(s, s->sens, kind, value, level, err) < 0 ||
        session_config_copy(s, &next, err) < 0) {
        free(level);
        return -1;
    }
    alloc_levels_to_config(s, s->sens, level, &next);
    double predicted = alloc_predict(s->sens, level);
    int rc = session_configure(s, &next, err);
    free(next.settings);
    if (rc < 0) {
        free(level);
        return -1;
    }
    json_t *layers = json_array();
    double removed = 0, total = 0;
    for (size_t i = 0; i < s->layers.count; i++) {
        const struct layer *l = &s->layers.items[i];
        out_printf(c->o, "%-24s %5.1f%%  %s %s\n", l->display, 100.0 * level[i],
                   prune_criterion_name(s->config.settings[i].criterion),
                   prune_granularity_name(s->config.settings[i].granularity));
        json_array_append_new(layers,
                              json_pack("{s:s, s:f}", "name", l->name, "sparsity", level[i]));
        total += (double)l->params;
    }
    removed = alloc_removed_all(s, s->sens, level);
    struct weight_stats ws;
    session_weight_stats(s, &ws);
    out_printf(c->o, "removed   %.0f of %.0f prunable weights (%.1f%%); weights %zu bytes (%s)\n",
               removed, total, 100.0 * removed / total, session_weight_bytes(s),
               storage_name(s->storage));
    out_printf(c->o, "predicted accuracy %.2f%% (baseline %.2f%%)\n", 100.0 * predicted,
               100.0 * s->sens->baseline_accuracy);
    out_set(c->o, "layers", layers);
    out_set(c->o, "removed", json_real(removed));
    out_set(c->o, "sparsity", json_real(removed / total));
    out_set(c->o, "weight_bytes", json_integer((json_int_t)session_weight_bytes(s)));
    out_set(c->o, "predicted_accuracy", json_real(predicted));
    free(level);
    return 0;
}

const struct cmd_def cmd_auto = {
    .name = "auto",
    .usage = "auto --params X | --bytes X | --latency X | --max-drop X",
    .summary = "allocate per-layer sparsity to a target from the sensitivity table",
    .help = "--params: remove at least X prunable weights (0.8 or 80%: a fraction; else a\n"
            "count); --bytes: weights at most X bytes under the current storage format;\n"
            "--max-drop: remove the most weights with a predicted accuracy drop of at most X\n"
            "(0.02 or 2%). Each layer gets one of the sensitivity table's levels, with the\n"
            "method it was swept with, minimizing the predicted accuracy loss by Lagrangian\n"
            "relaxation (each layer picks the level minimizing drop - lambda * weights\n"
            "removed; lambda is bisected to meet the target, then completed greedily).\n"
            "--latency needs hardware profiles (not available yet). Without a sensitivity\n"
            "table, the default sweep runs first (or comes from the cache). undo takes it\n"
            "back.",
    .complete = CMD_COMPLETE_NONE,
    .run = auto_run,
};
