/* sensitivity: the per-layer sweep, shown as a table of accuracy by level. Not the sweep
 * (analysis/sensitivity.c). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/allocate.h"
#include "analysis/sensitivity.h"
#include "commands/command.h"

/* "0,0.1,0.5" or "0%,50%" into levels. */
static int parse_levels(const char *text, struct sens_options *o, struct err *err)
{
    o->n_levels = 0;
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno)
            return err_set(err,
                           "--levels expects numbers separated by commas, like "
                           "0,0.5,0.9; got '%s'",
                           text);
        if (*end == '%') {
            v /= 100.0;
            end++;
        }
        if (*end && *end != ',')
            return err_set(err, "--levels expects numbers separated by commas, got '%s'", text);
        if (!(v >= 0.0 && v < 1.0))
            return err_set(err, "level %g in --levels is outside [0, 1)", v);
        if (o->n_levels == SENS_MAX_LEVELS)
            return err_set(err, "--levels takes at most %d levels", SENS_MAX_LEVELS);
        o->levels[o->n_levels++] = v;
        p = *end ? end + 1 : end;
    }
    if (o->n_levels == 0)
        return err_set(err, "--levels is empty");
    return 0;
}

static void show_progress(void *ctx, size_t done, size_t total, double elapsed_s)
{
    out_progress(ctx, "sensitivity", done, total, elapsed_s);
}

static json_t *reals(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

static const double DEFAULT_LEVELS[] = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95};

/* Make r the session's table. */
static void keep_table(struct session *s, struct sens_result *r)
{
    if (s->sens) {
        sens_result_fini(s->sens);
        free(s->sens);
    }
    s->sens = r;
    predict_reset(&s->pred);
}

int cmd_need_sensitivity(struct cmd_ctx *c, struct err *err)
{
    struct session *s = c->s;
    if (s->sens && s->sens->n_model_layers == s->layers.count &&
        s->sens->layers_done == s->sens->n_layers)
        return 0;
    struct sens_options o = {.n_levels = sizeof DEFAULT_LEVELS / sizeof DEFAULT_LEVELS[0]};
    memcpy(o.levels, DEFAULT_LEVELS, sizeof DEFAULT_LEVELS);
    struct sens_result *r = calloc(1, sizeof *r);
    if (!r)
        return err_oom(err, "sensitivity", sizeof *r);
    struct analysis_subject sub;
    session_subject(s, &sub);
    if (sens_run(&sub, &o, show_progress, c->o, r, err) < 0) {
        free(r);
        return err_prefix(err, "the default sensitivity sweep failed: ");
    }
    if (r->layers_done != r->n_layers) {
        sens_result_fini(r);
        free(r);
        return err_set(err, "the sensitivity sweep was cancelled");
    }
    out_printf(c->o, "sensitivity: %zu layers x %zu levels on %zu rows (%s)\n", r->n_layers,
               r->n_levels, r->rows, r->from_cache ? "from the cache" : "measured now");
    keep_table(s, r);
    return 0;
}

static int sensitivity_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    struct sens_options o = {.n_levels = sizeof DEFAULT_LEVELS / sizeof DEFAULT_LEVELS[0]};
    memcpy(o.levels, DEFAULT_LEVELS, sizeof DEFAULT_LEVELS);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--levels") == 0 && i + 1 < argc) {
            if (parse_levels(argv[++i], &o, err) < 0)
                return -1;
        } else if (strcmp(a, "--rows") == 0 && i + 1 < argc) {
            long long n;
            if (!cmd_parse_int(argv[++i], 1, LLONG_MAX, &n))
                return err_set(err, "--rows expects a positive number of rows, got '%s'", argv[i]);
            o.rows = (size_t)n;
        } else if (strcmp(a, "--method") == 0 && i + 2 < argc) {
            if (prune_criterion_parse(argv[i + 1], &o.criterion) < 0)
                return err_set(err, "unknown criterion '%s' (l1, l2, random, taylor or wanda)",
                               argv[i + 1]);
            o.structured = strcmp(argv[i + 2], "structured") == 0;
            if (!o.structured && prune_granularity_parse(argv[i + 2], &o.granularity) < 0)
                return err_set(err, "unknown granularity '%s'", argv[i + 2]);
            o.has_method = true;
            i += 2;
        } else if (strcmp(a, "--fresh") == 0) {
            o.fresh = true;
        } else {
            return err_set(err, "usage: %s", cmd_sensitivity.usage);
        }
    }
    struct sens_result *r = calloc(1, sizeof *r);
    if (!r)
        return err_oom(err, "sensitivity", sizeof *r);
    struct analysis_subject sub;
    session_subject(c->s, &sub);
    if (sens_run(&sub, &o, show_progress, c->o, r, err) < 0) {
        free(r);
        return -1;
    }
    if (r->cache_note[0])
        out_warn(c->o, "%s", r->cache_note);
    out_printf(c->o, "baseline  %.2f%% (%zu of %zu rows)%s\n", 100.0 * r->baseline_accuracy,
               r->baseline_correct, r->rows, r->from_cache ? ", from the cache" : "");
    out_printf(c->o, "%-24s", "accuracy % at level");
    for (size_t l = 0; l < r->n_levels; l++)
        out_printf(c->o, " %6.0f%%", 100.0 * r->levels[l]);
    out_printf(c->o, "\n");
    json_t *layers = json_array();
    for (size_t i = 0; i < r->layers_done; i++) {
        const struct layer *rl = &c->s->layers.items[r->row_layer[i]];
        char name[96];
        if (r->row_members[i] > 1)
            snprintf(name, sizeof name, "%s +%zu", rl->display, r->row_members[i] - 1);
        else
            snprintf(name, sizeof name, "%s", rl->display);
        out_printf(c->o, "%-24s", name);
        json_t *correct = json_array();
        for (size_t l = 0; l < r->n_levels; l++) {
            out_printf(c->o, " %7.2f", 100.0 * r->accuracy[i * r->n_levels + l]);
            json_array_append_new(correct,
                                  json_integer((json_int_t)r->correct[i * r->n_levels + l]));
        }
        out_printf(c->o, "\n");
        json_t *members = json_array();
        for (size_t j = 0; j < c->s->layers.count; j++)
            if (r->layer_row[j] == (int)i)
                json_array_append_new(members, json_string(c->s->layers.items[j].display));
        json_array_append_new(
            layers,
            json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "name", rl->display, "node",
                      r->names[i], "weight", r->weights[i], "members", members, "accuracy",
                      reals(r->accuracy + i * r->n_levels, r->n_levels), "correct", correct, "loss",
                      reals(r->loss + i * r->n_levels, r->n_levels), "removed",
                      reals(r->removed + i * r->n_levels, r->n_levels)));
    }
    out_printf(c->o, "%zu layers x %zu levels on %zu rows in %.0f ms%s\n", r->layers_done,
               r->n_levels, r->rows, r->elapsed_ms,
               r->layers_done < r->n_layers ? " (cancelled: the layers above are complete)" : "");
    out_set(c->o, "baseline",
            json_pack("{s:f, s:I, s:f}", "accuracy", r->baseline_accuracy, "correct",
                      (json_int_t)r->baseline_correct, "loss", r->baseline_loss));
    out_set(c->o, "rows", json_integer((json_int_t)r->rows));
    out_set(c->o, "levels", reals(r->levels, r->n_levels));
    out_set(c->o, "layers", layers);
    out_set(c->o, "elapsed_ms", json_real(r->elapsed_ms));
    out_set(c->o, "cached", json_boolean(r->from_cache));
    out_set(c->o, "complete", json_boolean(r->layers_done == r->n_layers));
    keep_table(c->s, r);
    return 0;
}

const struct cmd_def cmd_sensitivity = {
    .name = "sensitivity",
    .usage = "sensitivity [--levels 0,0.1,...] [--rows N] [--method CRITERION GRANULARITY] "
             "[--fresh]",
    .summary = "prune each layer alone at each level and measure accuracy and loss",
    .help = "Default levels 0, 0.1, ..., 0.9, 0.95; each layer's own method unless --method.\n"
            "--rows N measures on a seeded sample of N rows stratified by class. The\n"
            "activations at each layer's input are computed once, so each evaluation runs\n"
            "only the graph downstream of the layer. Results are cached under\n"
            "$XDG_CACHE_HOME/prunescope/ (model, data, rows, levels and methods); --fresh\n"
            "recomputes. Ctrl-C stops the sweep and keeps the layers finished.",
    .complete = CMD_COMPLETE_NONE,
    .run = sensitivity_run,
};
