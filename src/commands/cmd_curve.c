/* curve: measured size-vs-accuracy for uniform and sensitivity-guided pruning, with the
 * error of the predictions. Not the measuring (analysis/curve.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/curve.h"
#include "commands/command.h"

static void show_progress(void *ctx, size_t done, size_t total, double elapsed_s)
{
    out_progress(ctx, "curve", done, total, elapsed_s);
}

static json_t *point_json(const struct curve_point *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "target", json_real(p->target));
    json_object_set_new(o, "allocation", json_string(p->guided ? "guided" : "uniform"));
    json_object_set_new(o, "reached", json_boolean(p->reached));
    if (!p->reached)
        return o;
    json_object_set_new(o, "sparsity", json_real(p->sparsity));
    json_object_set_new(o, "accuracy", json_real(p->accuracy));
    json_object_set_new(o, "correct", json_integer((json_int_t)p->correct));
    json_object_set_new(o, "loss", json_real(p->loss));
    json_object_set_new(o, "predicted_accuracy", json_real(p->predicted));
    json_object_set_new(o, "weight_bytes", json_integer((json_int_t)p->weight_bytes));
    json_object_set_new(o, "latency_ms",
                        isnan(p->latency_ms) ? json_null() : json_real(p->latency_ms));
    json_object_set_new(o, "energy_uj",
                        isnan(p->energy_uj) ? json_null() : json_real(p->energy_uj));
    if (!isnan(p->recovered)) {
        json_object_set_new(o, "recovered_accuracy", json_real(p->recovered));
        json_object_set_new(o, "recovered_correct", json_integer((json_int_t)p->recovered_correct));
    }
    return o;
}

static int curve_cmd(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    size_t points = 20;
    struct recover_spec rec = {.kind = RECOVER_NONE, .rows = 2048, .damp = 0.01};
    ft_options_default(&rec.ft);
    rec.ft.epochs = 2;
    for (int i = 1; i < argc; i++) {
        long long n;
        if (strcmp(argv[i], "--points") == 0 && i + 1 < argc) {
            if (!cmd_parse_int(argv[++i], 2, 1000, &n))
                return err_set(err, "--points expects a number from 2 to 1000, got '%s'", argv[i]);
            points = (size_t)n;
        } else if (strcmp(argv[i], "--recover") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "reconstruct") == 0)
                rec.kind = RECOVER_RECONSTRUCT;
            else if (strcmp(argv[i], "finetune") == 0)
                rec.kind = RECOVER_FINETUNE;
            else
                return err_set(err, "--recover is reconstruct or finetune, got '%s'", argv[i]);
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            rec.data = argv[++i];
        } else if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc) {
            if (!cmd_parse_int(argv[++i], 1, 100000, &n))
                return err_set(err, "--epochs expects a number of epochs from 1, got '%s'",
                               argv[i]);
            rec.ft.epochs = (size_t)n;
        } else {
            return err_set(err, "usage: %s", cmd_curve.usage);
        }
    }
    if (!c->s->engine || !c->s->data)
        return err_set(err, "curve needs a model and data (use: load MODEL.onnx; data FILE.csv)");
    if (rec.kind != RECOVER_NONE && !rec.data)
        return err_set(err, "--recover needs the data to recover on: --data TRAIN.csv");
    if (cmd_need_sensitivity(c, err) < 0)
        return -1;
    /* Latency and energy on the selected profile, NaN without profiles. */
    struct err none;
    const struct profile *prof = session_profile(c->s, &none);
    struct analysis_subject sub;
    session_subject(c->s, &sub);
    struct curve_result r;
    if (curve_run(&sub, points, prof, rec.kind != RECOVER_NONE ? &rec : NULL, show_progress, c->o,
                  &r, err) < 0)
        return -1;
    bool rv = rec.kind != RECOVER_NONE;
    const char *rname = rec.kind == RECOVER_FINETUNE ? "finetuned" : "rebuilt";
    out_printf(c->o, "%-8s  %-*s  %s\n", "removed", rv ? 48 : 38, "uniform", "sensitivity-guided");
    out_printf(c->o, "%-8s  %8s %9s %9s %9s", "target", "accuracy", "predicted", "bytes",
               "est. ms");
    if (rv)
        out_printf(c->o, " %9s", rname);
    out_printf(c->o, "  %8s %9s %9s %9s", "accuracy", "predicted", "bytes", "est. ms");
    out_printf(c->o, rv ? " %9s\n" : "%s\n", rv ? rname : "");
    json_t *arr = json_array();
    for (size_t t = 0; t + 1 < r.n; t += 2) {
        const struct curve_point *u = &r.points[t], *g = &r.points[t + 1];
        out_printf(c->o, "%7.1f%%  %7.2f%% %8.2f%% %9zu %9.4g", 100.0 * u->target,
                   100.0 * u->accuracy, 100.0 * u->predicted, u->weight_bytes, u->latency_ms);
        if (rv)
            out_printf(c->o, " %8.2f%%", 100.0 * u->recovered);
        if (g->reached) {
            out_printf(c->o, "  %7.2f%% %8.2f%% %9zu %9.4g", 100.0 * g->accuracy,
                       100.0 * g->predicted, g->weight_bytes, g->latency_ms);
            if (rv)
                out_printf(c->o, " %8.2f%%", 100.0 * g->recovered);
            out_printf(c->o, "\n");
        } else {
            out_printf(c->o, "  out of reach at the table's levels\n");
        }
        json_array_append_new(arr, point_json(u));
        json_array_append_new(arr, point_json(g));
    }
    out_printf(c->o,
               "prediction error up to %.0f%% removed: median %.2f, largest %.2f points of "
               "accuracy over %zu points\n",
               100.0 * r.error_upto, 100.0 * r.median_error, 100.0 * r.max_error, r.n_error);
    out_printf(c->o, "%zu evaluations of %zu rows in %.0f ms\n", r.n, c->s->data->rows,
               r.elapsed_ms);
    out_set(c->o, "points", arr);
    out_set(c->o, "prediction_error",
            json_pack("{s:f, s:f, s:f, s:I}", "up_to", r.error_upto, "median", r.median_error,
                      "max", r.max_error, "points", (json_int_t)r.n_error));
    out_set(c->o, "rows", json_integer((json_int_t)c->s->data->rows));
    out_set(c->o, "elapsed_ms", json_real(r.elapsed_ms));
    /* The session keeps it for the screen's curve view (until the table goes). */
    struct curve_result *kept = malloc(sizeof *kept);
    if (kept) {
        *kept = r;
        if (c->s->curve) {
            curve_result_fini(c->s->curve);
            free(c->s->curve);
        }
        c->s->curve = kept;
    } else {
        curve_result_fini(&r);
    }
    return 0;
}

const struct cmd_def cmd_curve = {
    .name = "curve",
    .usage = "curve [--points N] [--recover reconstruct|finetune --data FILE.csv [--epochs E]]",
    .summary = "measure size vs accuracy: uniform and sensitivity-guided pruning",
    .help = "N targets (default 20) evenly spaced from 0 to 95% of the prunable weights\n"
            "removed. At each, uniform pruning (every layer at the target) and\n"
            "sensitivity-guided allocation (as auto --params) are both measured on all\n"
            "rows, beside the accuracy the sensitivity curves predict and the latency the\n"
            "cost model estimates on the selected profile; the median and\n"
            "largest prediction error up to 80% removed close the table. Each layer keeps\n"
            "the method it was swept with. --recover reconstruct (or finetune, E epochs,\n"
            "default 2) re-fits (or fine-tunes) each point on FILE.csv and measures it again\n"
            "(the rebuilt or finetuned columns), as reconstruct and finetune do but without\n"
            "keeping the weights. Without a sensitivity table the default sweep\n"
            "runs first. The configuration is unchanged afterwards; Ctrl-C cancels.",
    .complete = CMD_COMPLETE_NONE,
    .run = curve_cmd,
};
