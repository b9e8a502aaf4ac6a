/* iterate: gradual pruning to a target in steps (a cubic or linear schedule), fine-tuning
 * between steps, with a table per step. Not the fine-tuning (analysis/finetune.c) or the
 * allocation (analysis/allocate.c). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/allocate.h"
#include "commands/command.h"
#include "core/timer.h"

enum allocation { ALLOC_UNIFORM, ALLOC_GUIDED, ALLOC_GLOBAL };

/* The configuration for sparsity x under the allocation: every layer at x with its method,
 * global magnitude pruning at x, or the sensitivity table's allocation to x. */
static int prune_to(struct cmd_ctx *c, enum allocation how, double x, struct err *err)
{
    struct session *s = c->s;
    struct prune_config next;
    if (session_config_copy(s, &next, err) < 0)
        return -1;
    int rc = 0;
    if (how == ALLOC_GLOBAL) {
        next.global = true;
        next.global_sparsity = x;
    } else if (how == ALLOC_UNIFORM) {
        next.global = false;
        for (size_t i = 0; i < s->layers.count; i++) {
            next.settings[i].sparsity = x;
            /* A structured method on a layer whose group cannot lose units: left out, as
             * `set all` leaves it. */
            struct err why;
            if (session_setting_structured(&next.settings[i]) &&
                session_check_structured(s, i, &why) < 0)
                next.settings[i].sparsity = 0;
        }
    } else {
        double *level = calloc(s->layers.count + 1, sizeof *level);
        struct analysis_subject sub;
        if (!level)
            rc = err_oom(err, "allocation", s->layers.count);
        else if ((rc = cmd_need_sensitivity(c, err)) == 0) {
            session_subject(s, &sub);
            if ((rc = alloc_solve(&sub, s->sens, ALLOC_PARAMS, x, NULL, level, err)) == 0)
                alloc_levels_to_config(&sub, s->sens, level, &next);
        }
        free(level);
    }
    if (rc == 0)
        rc = session_configure(s, &next, err);
    free(next.settings);
    return rc;
}

static void on_batch(void *opaque, size_t epoch, size_t batch, size_t batches, double elapsed_s)
{
    (void)epoch;
    out_progress(opaque, "iterate: fine-tuning", batch, batches, elapsed_s);
}

static int iterate_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    struct session *s = c->s;
    struct ft_options o;
    ft_options_default(&o);
    double target = -1;
    long long steps = 0;
    bool cubic = true, lr_given = false;
    enum allocation how = ALLOC_UNIFORM;
    const char *data = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (!v)
            return err_set(err, "%s needs a value (usage: %s)", a, cmd_iterate.usage);
        i++;
        char *end;
        errno = 0;
        if (strcmp(a, "--target") == 0) {
            target = strtod(v, &end);
            if (*end == '%')
                target /= 100.0, end++;
            if (end == v || *end || errno || !(target > 0 && target < 1))
                return err_set(err, "--target is a sparsity in (0, 1) or (0%%, 100%%), got '%s'",
                               v);
        } else if (strcmp(a, "--steps") == 0) {
            if (!cmd_parse_int(v, 1, 1000, &steps))
                return err_set(err, "--steps expects a number of steps from 1, got '%s'", v);
        } else if (strcmp(a, "--epochs") == 0) {
            if (!cmd_parse_int(v, 1, 100000, &n))
                return err_set(err, "--epochs expects a number of epochs from 1, got '%s'", v);
            o.epochs = (size_t)n;
        } else if (strcmp(a, "--schedule") == 0) {
            if (strcmp(v, "cubic") && strcmp(v, "linear"))
                return err_set(err, "--schedule is cubic or linear, got '%s'", v);
            cubic = strcmp(v, "cubic") == 0;
        } else if (strcmp(a, "--allocation") == 0) {
            if (strcmp(v, "uniform") == 0)
                how = ALLOC_UNIFORM;
            else if (strcmp(v, "guided") == 0)
                how = ALLOC_GUIDED;
            else if (strcmp(v, "global") == 0)
                how = ALLOC_GLOBAL;
            else
                return err_set(err, "--allocation is uniform, guided or global, got '%s'", v);
        } else if (strcmp(a, "--data") == 0) {
            data = v;
        } else if (strcmp(a, "--lr") == 0) {
            o.lr = strtod(v, &end);
            if (end == v || *end || errno || !(o.lr > 0) || !isfinite(o.lr))
                return err_set(err, "--lr expects a positive number, got '%s'", v);
            lr_given = true;
        } else if (strcmp(a, "--batch") == 0) {
            if (!cmd_parse_int(v, 1, 1 << 20, &n))
                return err_set(err, "--batch expects a number of rows from 1, got '%s'", v);
            o.batch = (size_t)n;
        } else if (strcmp(a, "--optimizer") == 0) {
            if (strcmp(v, "sgd") && strcmp(v, "adam"))
                return err_set(err, "--optimizer is sgd or adam, got '%s'", v);
            o.optimizer = strcmp(v, "adam") == 0 ? FT_ADAM : FT_SGD;
        } else if (strcmp(a, "--seed") == 0) {
            if (!cmd_parse_int(v, 0, LLONG_MAX, &n))
                return err_set(err, "--seed expects a non-negative integer, got '%s'", v);
            o.seed = (uint64_t)n;
        } else {
            return err_set(err, "unknown option '%s' (usage: %s)", a, cmd_iterate.usage);
        }
    }
    if (target < 0 || steps == 0 || !data)
        return err_set(err, "usage: %s", cmd_iterate.usage);
    if (o.optimizer == FT_ADAM && !lr_given)
        o.lr = 0.001;
    if (!s->engine || !s->data)
        return err_set(err, "iterate needs a model and data (use: load MODEL.onnx; data FILE.csv)");
    struct weight_stats ws;
    session_weight_stats(s, &ws);
    double s0 = ws.prunable_params ? (double)ws.prunable_zeros / (double)ws.prunable_params : 0;
    if (target <= s0)
        return err_set(err, "the model is already at %.1f%% sparsity, past --target %.1f%%",
                       100 * s0, 100 * target);
    out_printf(c->o, "%4s  %8s  %8s  %10s  %10s  %7s\n", "step", "target", "sparsity", "pruned",
               "fine-tuned", "time");
    json_t *rows = json_array();
    double t0 = timer_now_s();
    size_t undo_from = s->undo_pos;
    int rc = 0;
    for (long long k = 1; k <= steps && rc == 0; k++) {
        double t_step = timer_now_s();
        double x = ft_schedule(s0, target, (size_t)k, (size_t)steps, cubic);
        struct metrics pruned, tuned;
        struct ft_result r;
        if ((rc = prune_to(c, how, x, err)) < 0 ||
            (rc = session_eval(s, 0, &pruned, NULL, err)) < 0)
            break;
        o.first_epoch = (size_t)(k - 1) * o.epochs; /* each step's epochs take new orders */
        if ((rc = session_finetune(s, data, &o, NULL, on_batch, c->o, &r, err)) < 0 ||
            (rc = session_eval(s, 0, &tuned, NULL, err)) < 0)
            break;
        session_weight_stats(s, &ws);
        double now = (double)ws.prunable_zeros / (double)ws.prunable_params;
        double secs = timer_now_s() - t_step;
        out_printf(c->o, "%4lld  %7.2f%%  %7.2f%%  %9.2f%%  %9.2f%%  %6.1fs\n", k, 100 * x,
                   100 * now, 100 * pruned.accuracy, 100 * tuned.accuracy, secs);
        json_array_append_new(rows, json_pack("{s:I, s:f, s:f, s:f, s:I, s:f, s:I, s:f}", "step",
                                              (json_int_t)k, "target", x, "sparsity", now,
                                              "accuracy_pruned", pruned.accuracy, "correct_pruned",
                                              (json_int_t)pruned.correct, "accuracy_finetuned",
                                              tuned.accuracy, "correct_finetuned",
                                              (json_int_t)tuned.correct, "elapsed_s", secs));
        if (r.cancelled) {
            rc = err_set(err, "cancelled after step %lld of %lld (undo goes back step by step)", k,
                         steps);
            err->code = ERR_CANCELLED;
        }
    }
    if (rc < 0) {
        json_decref(rows);
        return -1;
    }
    out_printf(c->o, "%lld steps in %.1f s (%zu undo steps back to where it started)\n", steps,
               timer_now_s() - t0, s->undo_pos - undo_from);
    out_set(c->o, "steps", rows);
    out_set(c->o, "schedule", json_string(cubic ? "cubic" : "linear"));
    out_set(c->o, "allocation",
            json_string(how == ALLOC_GUIDED   ? "guided"
                        : how == ALLOC_GLOBAL ? "global"
                                              : "uniform"));
    out_set(c->o, "elapsed_s", json_real(timer_now_s() - t0));
    return 0;
}

const struct cmd_def cmd_iterate = {
    .name = "iterate",
    .usage = "iterate --target X --steps K --data TRAIN.csv [--epochs E] [--schedule cubic|linear] "
             "[--allocation uniform|guided|global] [--lr X] [--batch B] [--optimizer sgd|adam] "
             "[--seed S]",
    .summary = "prune gradually to a target, fine-tuning between steps",
    .help = "From the model's sparsity now to X in K steps: step k prunes to s_k =\n"
            "X + (s_0 - X) (1 - k/K)^3 (cubic, Zhu and Gupta's gradual pruning; or linear),\n"
            "every layer at s_k with its method (uniform), global magnitude pruning at s_k\n"
            "(global), or the sensitivity table's allocation to s_k (guided: the sweep is\n"
            "made again on the fine-tuned weights), then fine-tunes E epochs (default 1)\n"
            "on TRAIN.csv as finetune does, the epochs going on through the steps (their\n"
            "row orders are those of finetune --epochs KE). A row per step: target,\n"
            "sparsity reached, accuracy after pruning and after fine-tuning, time. Each\n"
            "step is two undo steps (the pruning, the fine-tuning).",
    .complete = CMD_COMPLETE_FILE,
    .run = iterate_run,
};
