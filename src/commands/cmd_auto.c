/* auto: per-layer sparsity allocated to a target from the sensitivity table. Not the
 * allocation itself (analysis/allocate.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/allocate.h"
#include "commands/command.h"

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
    bool latency = strcmp(argv[1], "--latency") == 0, energy = strcmp(argv[1], "--energy") == 0;
    if (strcmp(argv[1], "--params") == 0)
        kind = ALLOC_PARAMS;
    else if (strcmp(argv[1], "--bytes") == 0)
        kind = ALLOC_BYTES;
    else if (strcmp(argv[1], "--max-drop") == 0)
        kind = ALLOC_MAX_DROP;
    else if (latency || energy)
        kind = ALLOC_COST;
    else
        return err_set(err, "usage: %s", cmd_auto.usage);
    double value = 0.0;
    if (parse_amount(argv[2], &value, err) < 0)
        return -1;
    bool percent = argv[2][0] && argv[2][strlen(argv[2]) - 1] == '%';
    if (kind == ALLOC_PARAMS && value >= 1.0 && floor(value) != value)
        return err_set(err,
                       "--params %s: give a fraction below 1 (or a percentage) or a whole "
                       "number of weights",
                       argv[2]);
    if (cmd_need_sensitivity(c, err) < 0)
        return -1;
    struct analysis_subject sub;
    session_subject(s, &sub);
    /* A latency (ms) or energy (uJ) target, or a share of the dense figure: the saving
     * each row's levels give on the selected profile, and the saving asked for. */
    const struct profile *prof = NULL;
    double *saved = NULL, base = 0, most = 0, need = value;
    if (kind == ALLOC_COST) {
        size_t cells = s->sens->n_layers * s->sens->n_levels;
        if (!(prof = session_profile(s, err)))
            return -1;
        if (!(saved = calloc(cells + 1, sizeof *saved)))
            return err_oom(err, "allocation", cells);
        if (alloc_cost_savings(&sub, s->sens, prof, energy, saved, &base, &most, err) < 0) {
            free(saved);
            return -1;
        }
        double unit = energy ? 1.0 : 1e-3; /* uJ, or ms in seconds */
        double target = percent ? value * base : value * unit;
        need = base - target;
        if (need > most + 1e-12) {
            free(saved);
            return err_set(err,
                           "%s %s is out of reach on %s under %s storage: the table's levels "
                           "give at best %.4g %s (from %.4g %s with nothing pruned)",
                           argv[1], argv[2], prof->name, storage_name(s->storage),
                           (base - most) / unit, energy ? "uJ" : "ms", base / unit,
                           energy ? "uJ" : "ms");
        }
        if (need < 0)
            need = 0;
    }
    double *level = calloc(s->layers.count + 1, sizeof *level);
    struct prune_config next;
    if (!level) {
        free(saved);
        return err_oom(err, "allocation", s->layers.count);
    }
    if (session_config_copy(s, &next, err) < 0) {
        free(saved), free(level);
        return -1;
    }
    /* The rows' savings add up only roughly (removing a layer's units and the next
     * layer's inputs save in the same layer): the choice is estimated as a whole, and the
     * saving asked for raised by what it missed, a few times over. */
    double target = base - need, got = 0;
    int solved = 0;
    for (int round = 0; round < 8; round++) {
        if ((solved = alloc_solve(&sub, s->sens, kind, need, saved, level, err)) < 0)
            break;
        alloc_levels_to_config(&sub, s->sens, level, &next);
        if (kind != ALLOC_COST)
            break;
        struct cost_estimate e;
        if ((solved = session_apply_temporary(s, &next, err)) < 0 ||
            (solved = session_estimate(s, prof, &e, err)) < 0)
            break;
        got = energy ? e.energy_uj : e.latency_s;
        cost_estimate_fini(&e);
        if (got <= target * (1 + 1e-9) || need >= most)
            break;
        need = fmin(most, need + (got - target));
    }
    free(saved);
    struct err ignored;
    if (kind == ALLOC_COST &&
        session_apply_temporary(s, &s->config, solved < 0 ? &ignored : err) < 0)
        solved = -1; /* the weights are not the configuration's: say so */
    if (solved < 0) {
        free(next.settings), free(level);
        return -1;
    }
    if (kind == ALLOC_COST && got > target * (1 + 1e-9)) {
        free(next.settings), free(level);
        return err_set(err,
                       "%s %s is out of reach on %s: the closest choice of the table's levels "
                       "estimates %.4g %s",
                       argv[1], argv[2], prof->name, energy ? got : got * 1e3,
                       energy ? "uJ" : "ms");
    }
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
    removed = alloc_removed_all(&sub, s->sens, level);
    struct weight_stats ws;
    session_weight_stats(s, &ws);
    out_printf(c->o, "removed   %.0f of %.0f prunable weights (%.1f%%); weights %zu bytes (%s)\n",
               removed, total, 100.0 * removed / total, session_weight_bytes(s),
               storage_name(s->storage));
    out_printf(c->o, "predicted accuracy %.2f%% (baseline %.2f%%)\n", 100.0 * predicted,
               100.0 * s->sens->baseline_accuracy);
    struct cost_estimate est;
    if (prof && session_estimate(s, prof, &est, err) == 0) {
        out_printf(c->o, "estimated %.4g ms, %.4g uJ on %s (from %.4g %s with nothing pruned)\n",
                   est.latency_s * 1e3, est.energy_uj, prof->name, energy ? base : base * 1e3,
                   energy ? "uJ" : "ms");
        out_set(c->o, "latency_ms", json_real(est.latency_s * 1e3));
        out_set(c->o, "energy_uj", json_real(est.energy_uj));
        out_set(c->o, "profile", json_string(prof->name));
        cost_estimate_fini(&est);
    }
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
    .usage = "auto --params X | --bytes X | --latency X | --energy X | --max-drop X",
    .summary = "allocate per-layer sparsity to a target from the sensitivity table",
    .help = "--params: remove at least X prunable weights (0.8 or 80%: a fraction; else a\n"
            "count); --bytes: weights at most X bytes under the current storage format;\n"
            "--max-drop: remove the most weights with a predicted accuracy drop of at most X\n"
            "(0.02 or 2%). Each layer gets one of the sensitivity table's levels, with the\n"
            "method it was swept with, minimizing the predicted accuracy loss by Lagrangian\n"
            "relaxation (each layer picks the level minimizing drop - lambda * weights\n"
            "removed; lambda is bisected to meet the target, then completed greedily).\n"
            "--latency: estimated latency at most X ms on the selected profile (or X% of\n"
            "the latency with nothing pruned); --energy: the same for the energy per\n"
            "inference in uJ. What each layer's levels save is estimated on the weights\n"
            "(under dense storage only removed units and channels save time; a sparse\n"
            "format saves past its break-even). Without a sensitivity table, the default\n"
            "sweep runs first (or comes from the cache). undo takes it back.",
    .complete = CMD_COMPLETE_NONE,
    .run = auto_run,
};
