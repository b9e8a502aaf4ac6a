/* snapshot.h: copies of the session's names and settings, and the figures of its
 * functions (weight statistics, MACs, the cost estimate, the prediction), for the screen. */
#include "tui/snapshot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/allocate.h"
#include "analysis/curve.h"

/* The last path component. */
static const char *base_name(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    return slash ? slash + 1 : path ? path : "";
}

static void layer_row(struct snapshot *sn, struct session *s, size_t i)
{
    const struct layer *l = &s->layers.items[i];
    struct snap_layer *r = &sn->layers[i];
    snprintf(r->name, sizeof r->name, "%s", l->display ? l->display : l->name);
    snprintf(r->op, sizeof r->op, "%s", l->op);
    size_t used = 0;
    r->shape[0] = '\0';
    for (int d = 0; d < l->shape.ndim && used < sizeof r->shape; d++)
        used += (size_t)snprintf(r->shape + used, sizeof r->shape - used, "%s%lld", d ? "x" : "",
                                 (long long)l->shape.dims[d]);
    r->params = l->params;
    r->zeros = session_layer_zeros(s, l);
    const struct prune_setting *st = &s->config.settings[i];
    r->sparsity =
        s->config.global && l->params ? (double)r->zeros / (double)l->params : st->sparsity;
    snprintf(r->method, sizeof r->method, "%s %s", prune_criterion_name(st->criterion),
             prune_granularity_name(st->granularity));
    r->structured = session_setting_structured(st);
    r->group = 0;
    r->group_size = 0;
    const struct prune_group *pg = session_layer_group(s, i);
    if (pg && s->groups_ok) {
        r->group = (int)(pg - s->groups.groups) + 1;
        r->group_size = pg->n_members;
    }
    for (size_t k = 0; k < SENS_MAX_LEVELS; k++)
        r->curve[k] = NAN;
    r->drop = NAN;
    const struct sens_result *t = s->sens;
    if (sn->have_sens && t->layer_row && t->layer_row[i] >= 0 &&
        (size_t)t->layer_row[i] < t->layers_done) {
        size_t row = (size_t)t->layer_row[i];
        for (size_t k = 0; k < t->n_levels; k++)
            r->curve[k] = t->accuracy[row * t->n_levels + k];
        r->drop = alloc_row_drop(t, row, r->sparsity);
    }
}

static void estimate(struct snapshot *sn, struct session *s)
{
    struct err err;
    const struct profile_list *all = session_profiles(s, &err);
    for (size_t i = 0; all && i < all->count && sn->n_profiles < 32; i++)
        snprintf(sn->profiles[sn->n_profiles++], sizeof sn->profiles[0], "%s", all->items[i].name);
    const struct profile *p = session_profile(s, &err);
    if (!p) {
        snprintf(sn->estimate_note, sizeof sn->estimate_note, "%s", err.msg);
        return;
    }
    snprintf(sn->profile, sizeof sn->profile, "%s", p->name);
    sn->flash_cap = p->flash_bytes;
    sn->sram_cap = p->sram_bytes;
    struct cost_estimate e;
    if (session_estimate(s, p, &e, &err) < 0) {
        snprintf(sn->estimate_note, sizeof sn->estimate_note, "%s", err.msg);
        return;
    }
    sn->have_estimate = true;
    sn->latency_ms = e.latency_s * 1e3;
    sn->energy_uj = e.energy_uj;
    sn->flash_bytes = e.flash_bytes;
    sn->sram_bytes = e.sram_bytes;
    sn->fits_flash = e.fits_flash;
    sn->fits_sram = e.fits_sram;
    cost_estimate_fini(&e);
}

static int curve_points(struct snapshot *sn, const struct session *s, struct err *err)
{
    const struct curve_result *c = s->curve;
    if (!c || c->n == 0)
        return 0;
    sn->points = calloc(c->n, sizeof *sn->points);
    if (!sn->points)
        return err_oom(err, "curve", c->n * sizeof *sn->points);
    for (size_t i = 0; i < c->n; i++) {
        const struct curve_point *p = &c->points[i];
        sn->points[i] = (struct snap_point){.sparsity = p->sparsity,
                                            .accuracy = p->accuracy,
                                            .predicted = p->predicted,
                                            .guided = p->guided,
                                            .reached = p->reached};
    }
    sn->n_points = c->n;
    return 0;
}

int snapshot_take(struct snapshot *sn, struct session *s, struct err *err)
{
    snapshot_fini(sn);
    sn->baseline = NAN;
    sn->have_model = s->engine != NULL;
    sn->have_data = s->data != NULL;
    snprintf(sn->model, sizeof sn->model, "%s", base_name(s->model_path));
    snprintf(sn->data, sizeof sn->data, "%s", base_name(s->data_path));
    sn->rows = s->data ? s->data->rows : 0;
    snprintf(sn->storage, sizeof sn->storage, "%s", storage_name(s->storage));
    sn->undo_pos = s->undo_pos;
    sn->n_undo = s->n_undo;
    if (!s->engine)
        return 0;
    sn->global = s->config.global;
    sn->global_sparsity = s->config.global_sparsity;
    const struct sens_result *t = s->sens;
    if (t && t->n_model_layers == s->layers.count && t->layers_done > 0) {
        sn->have_sens = true;
        sn->sens_partial = t->layers_done < t->n_layers;
        sn->n_levels = t->n_levels;
        sn->sens_rows = t->rows;
        memcpy(sn->levels, t->levels, t->n_levels * sizeof *t->levels);
        sn->baseline = t->baseline_accuracy;
    }
    sn->layers = calloc(s->layers.count + 1, sizeof *sn->layers);
    if (!sn->layers)
        return err_oom(err, "screen rows", s->layers.count * sizeof *sn->layers);
    sn->n_layers = s->layers.count;
    for (size_t i = 0; i < s->layers.count; i++)
        layer_row(sn, s, i);

    struct weight_stats ws;
    session_weight_stats(s, &ws);
    sn->params = ws.params;
    sn->nonzero = ws.nonzero_params;
    sn->prunable = ws.prunable_params;
    sn->prunable_zeros = ws.prunable_zeros;
    session_macs(s, &sn->macs_dense, &sn->macs_effective);
    sn->weight_bytes = session_weight_bytes(s);
    estimate(sn, s);
    sn->have_host = s->bench_ms > 0 && s->bench_gen == s->weights_gen;
    sn->host_ms = s->bench_ms;
    struct prediction p;
    struct err why;
    struct analysis_subject sub;
    session_subject(s, &sub);
    if (predict_config(&sub, &p, &why) == 0) {
        sn->have_prediction = true;
        sn->predicted = p.refined;
        sn->predicted_raw = p.raw;
        sn->prediction_measured = p.measured;
    }
    return curve_points(sn, s, err);
}

void snapshot_fini(struct snapshot *sn)
{
    free(sn->layers);
    free(sn->points);
    memset(sn, 0, sizeof *sn);
}
