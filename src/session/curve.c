/* Size-vs-accuracy curve: uniform and guided configurations applied temporarily and
 * measured one after the other. Not the allocation (allocate.c). */
#include "session/curve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "session/allocate.h"
#include "session/sensitivity.h"

void curve_result_fini(struct curve_result *r)
{
    free(r->points);
    memset(r, 0, sizeof *r);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Puts cfg on the weights and measures it into p. */
static int measure(struct session *s, const struct prune_config *cfg, struct curve_point *p,
                   struct err *err)
{
    struct metrics m;
    if (session_apply_temporary(s, cfg, err) < 0 || session_eval(s, 0, &m, NULL, err) < 0)
        return -1;
    struct weight_stats ws;
    session_weight_stats(s, &ws);
    p->sparsity = ws.prunable_params ? (double)ws.prunable_zeros / (double)ws.prunable_params : 0;
    p->accuracy = m.accuracy;
    p->loss = m.loss;
    p->correct = m.correct;
    p->weight_bytes = session_weight_bytes(s);
    /* The cost model's figures on the session's profile (NaN without profiles). */
    struct err none;
    const struct profile *prof = session_profile(s, &none);
    struct cost_estimate e;
    p->latency_ms = p->energy_uj = NAN;
    if (prof && session_estimate(s, prof, &e, &none) == 0) {
        p->latency_ms = e.latency_s * 1e3;
        p->energy_uj = e.energy_uj;
        cost_estimate_fini(&e);
    }
    return 0;
}

int curve_run(struct session *s, size_t n_targets, curve_progress_fn progress, void *ctx,
              struct curve_result *out, struct err *err)
{
    memset(out, 0, sizeof *out);
    const struct sens_result *r = s->sens;
    if (!s->engine || !s->data)
        return err_set(err, "curve needs a model and data");
    if (!r || r->n_model_layers != s->layers.count || r->layers_done != r->n_layers)
        return err_set(err, "curve needs a complete sensitivity table for this model "
                            "(run sensitivity)");
    if (n_targets < 2 || n_targets > 1000)
        return err_set(err, "--points expects 2 to 1000 points, got %zu", n_targets);
    size_t nl = s->layers.count;
    out->points = calloc(2 * n_targets, sizeof *out->points);
    double *level = calloc(nl + 1, sizeof *level);
    double *errors = calloc(2 * n_targets, sizeof *errors);
    struct prune_config cfg = {0};
    int rc = -1;
    if (!out->points || !level || !errors) {
        err_oom(err, "curve", n_targets);
        goto done;
    }
    if (session_config_copy(s, &cfg, err) < 0)
        goto done;
    cfg.global = false;
    out->n = 2 * n_targets;
    out->error_upto = 0.8;
    double t0 = timer_now_s();
    for (size_t t = 0; t < n_targets; t++) {
        double target = 0.95 * (double)t / (double)(n_targets - 1);
        for (int guided = 0; guided < 2; guided++) {
            struct curve_point *p = &out->points[2 * t + (size_t)guided];
            p->target = target;
            p->guided = guided;
            p->reached = true;
            if (s->cancel && *s->cancel) {
                err_set(err, "cancelled");
                err->code = ERR_CANCELLED;
                goto done;
            }
            for (size_t i = 0; i < nl; i++)
                level[i] = target;
            if (guided) {
                struct err why;
                if (alloc_solve(s, r, ALLOC_PARAMS, target, NULL, level, &why) < 0) {
                    p->reached = false;
                    p->accuracy = p->predicted = NAN;
                    continue;
                }
            }
            alloc_levels_to_config(s, r, level, &cfg);
            p->predicted = alloc_predict(r, level);
            if (measure(s, &cfg, p, err) < 0)
                goto done;
            struct prediction pr = {.baseline = r->baseline_accuracy,
                                    .drop = r->baseline_accuracy - p->predicted};
            predict_learn(s, &pr, p->accuracy);
            if (target <= out->error_upto + 1e-9)
                errors[out->n_error++] = fabs(p->predicted - p->accuracy);
            if (progress)
                progress(ctx, 2 * t + (size_t)guided + 1, out->n, timer_now_s() - t0);
        }
    }
    if (out->n_error) {
        qsort(errors, out->n_error, sizeof *errors, by_value);
        size_t h = out->n_error / 2;
        out->median_error = out->n_error % 2 ? errors[h] : (errors[h - 1] + errors[h]) / 2.0;
        out->max_error = errors[out->n_error - 1];
    }
    out->elapsed_ms = (timer_now_s() - t0) * 1e3;
    rc = 0;
done:
    if (s->config.settings) {
        struct err ignored;
        session_apply_temporary(s, &s->config, &ignored);
    }
    free(cfg.settings);
    free(level);
    free(errors);
    if (rc < 0)
        curve_result_fini(out);
    return rc;
}
