/* Size-vs-accuracy curve: uniform and guided configurations applied temporarily and
 * measured one after the other. Not the allocation (allocate.c). */
#include "analysis/curve.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/allocate.h"
#include "analysis/sensitivity.h"
#include "core/timer.h"

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
static int measure(const struct analysis_subject *s, const struct prune_config *cfg,
                   const struct profile *prof, struct curve_point *p, struct err *err)
{
    struct metrics m;
    if (s->ops->apply(s->ctx, cfg, err) < 0 || s->ops->eval(s->ctx, &m, err) < 0)
        return -1;
    const struct graph *g = engine_graph(s->engine);
    size_t zeros = 0, params = 0;
    for (size_t i = 0; i < s->layers->count; i++) {
        zeros += prune_zeros(g, &s->layers->items[i]);
        params += (size_t)s->layers->items[i].params;
    }
    p->sparsity = params ? (double)zeros / (double)params : 0;
    p->accuracy = m.accuracy;
    p->loss = m.loss;
    p->correct = m.correct;
    p->weight_bytes = s->ops->weight_bytes(s->ctx);
    /* The cost model's figures on the profile (NaN without one). */
    struct err none;
    struct cost_estimate e;
    p->latency_ms = p->energy_uj = NAN;
    if (prof && s->ops->estimate(s->ctx, prof, &e, &none) == 0) {
        p->latency_ms = e.latency_s * 1e3;
        p->energy_uj = e.energy_uj;
        cost_estimate_fini(&e);
    }
    return 0;
}

int curve_run(const struct analysis_subject *s, size_t n_targets, const struct profile *prof,
              const struct recover_spec *recover, curve_progress_fn progress, void *ctx,
              struct curve_result *out, struct err *err)
{
    memset(out, 0, sizeof *out);
    const struct sens_result *r = s->sens;
    if (!s->engine || !s->data)
        return err_set(err, "curve needs a model and data");
    if (!r || r->n_model_layers != s->layers->count || r->layers_done != r->n_layers)
        return err_set(err, "curve needs a complete sensitivity table for this model "
                            "(run sensitivity)");
    if (n_targets < 2 || n_targets > 1000)
        return err_set(err, "--points expects 2 to 1000 points, got %zu", n_targets);
    size_t nl = s->layers->count;
    out->points = calloc(2 * n_targets, sizeof *out->points);
    double *level = calloc(nl + 1, sizeof *level);
    double *errors = calloc(2 * n_targets, sizeof *errors);
    struct prune_config cfg = {0};
    int rc = -1;
    if (!out->points || !level || !errors) {
        err_oom(err, "curve", n_targets);
        goto done;
    }
    if (prune_config_copy(s->config, nl, &cfg, err) < 0)
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
            if (measure(s, &cfg, prof, p, err) < 0)
                goto done;
            p->recovered = NAN;
            if (recover && recover->kind != RECOVER_NONE) {
                struct metrics m;
                if (s->ops->recover(s->ctx, &cfg, recover, err) < 0 ||
                    s->ops->eval(s->ctx, &m, err) < 0)
                    goto done;
                p->recovered = m.accuracy;
                p->recovered_correct = m.correct;
            }
            struct prediction pr = {.baseline = r->baseline_accuracy,
                                    .drop = r->baseline_accuracy - p->predicted};
            predict_learn(s->pred, &pr, p->accuracy);
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
    if (s->config->settings) {
        struct err ignored;
        s->ops->apply(s->ctx, s->config, &ignored);
    }
    free(cfg.settings);
    free(level);
    free(errors);
    if (rc < 0)
        curve_result_fini(out);
    return rc;
}
