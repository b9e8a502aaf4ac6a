/* Prediction from sensitivity curves and Lagrangian allocation over their levels. Not
 * measuring anything. */
#include "analysis/allocate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The drop of layer li at sparsity x, interpolated on its curve. */
static double drop_at(const struct sens_result *r, size_t li, double x)
{
    size_t m = r->n_levels;
    const double *acc = r->accuracy + li * m;
    /* Levels may come in any order: find the neighbours of x. */
    double lo_x = -1.0, hi_x = 2.0, lo_a = r->baseline_accuracy, hi_a = r->baseline_accuracy;
    bool have_lo = false, have_hi = false;
    double top_x = -1.0, top_a = r->baseline_accuracy;
    for (size_t k = 0; k < m; k++) {
        double l = r->levels[k];
        if (l <= x && (!have_lo || l > lo_x)) {
            lo_x = l, lo_a = acc[k], have_lo = true;
        }
        if (l >= x && (!have_hi || l < hi_x)) {
            hi_x = l, hi_a = acc[k], have_hi = true;
        }
        if (l > top_x)
            top_x = l, top_a = acc[k];
    }
    if (!have_lo) {
        lo_x = 0.0;
        lo_a = r->baseline_accuracy;
    }
    double a;
    if (!have_hi)
        a = top_a;
    else if (hi_x == lo_x)
        a = hi_a;
    else
        a = lo_a + (hi_a - lo_a) * (x - lo_x) / (hi_x - lo_x);
    return r->baseline_accuracy - a;
}

/* The lowest accuracy of the table: where a broken model lands (about chance), below
 * which summed drops say nothing. */
static double predict_floor(const struct sens_result *r)
{
    double lo = r->baseline_accuracy;
    for (size_t i = 0; i < r->layers_done * r->n_levels; i++)
        lo = fmin(lo, r->accuracy[i]);
    return lo;
}

double alloc_row_drop(const struct sens_result *r, size_t row, double x)
{
    return drop_at(r, row, x);
}

double alloc_predict(const struct sens_result *r, const double *sparsity)
{
    double acc = r->baseline_accuracy;
    for (size_t i = 0; i < r->layers_done; i++)
        acc -= drop_at(r, i, sparsity[r->row_layer[i]]);
    return fmax(acc, predict_floor(r));
}

double alloc_removed(const struct analysis_subject *s, size_t li, double level)
{
    return (double)prune_count(level, (size_t)s->layers->items[li].params);
}

static bool group_row(const struct sens_result *r, size_t row)
{
    const struct prune_setting *m = &r->methods[r->row_layer[row]];
    return r->row_members[row] > 1 || m->granularity == GRAN_NEURON ||
           m->granularity == GRAN_FILTER;
}

double alloc_row_removed(const struct analysis_subject *s, const struct sens_result *r, size_t row,
                         double level)
{
    if (!group_row(r, row))
        return alloc_removed(s, r->row_layer[row], level);
    /* Measured at the table's levels; linear in between, the last level's beyond. */
    double lo_x = 0, lo_v = 0, hi_x = 2, hi_v = 0;
    bool have_hi = false;
    for (size_t k = 0; k < r->n_levels; k++) {
        double x = r->levels[k], v = r->removed[row * r->n_levels + k];
        if (x == level)
            return v;
        if (x < level && x >= lo_x) {
            lo_x = x;
            lo_v = v;
        }
        if (x > level && x < hi_x) {
            hi_x = x;
            hi_v = v;
            have_hi = true;
        }
    }
    if (!have_hi)
        return lo_v;
    return lo_v + (hi_v - lo_v) * (level - lo_x) / (hi_x - lo_x);
}

double alloc_removed_all(const struct analysis_subject *s, const struct sens_result *r,
                         const double *level)
{
    double total = 0;
    for (size_t i = 0; i < r->layers_done; i++)
        total += alloc_row_removed(s, r, i, level[r->row_layer[i]]);
    return total;
}

void alloc_levels_to_config(const struct analysis_subject *s, const struct sens_result *r,
                            const double *level, struct prune_config *cfg)
{
    cfg->global = false;
    for (size_t i = 0; i < s->layers->count && i < r->n_model_layers; i++) {
        cfg->settings[i] = r->methods[i];
        cfg->settings[i].sparsity = r->layer_row[i] >= 0 ? level[i] : 0.0;
    }
}

/* Bytes of layer li's weight at `level` under the subject's storage (nnz estimated as
 * the weights the level keeps). */
static double layer_bytes_at(const struct analysis_subject *s, size_t li, double level)
{
    const struct layer *l = &s->layers->items[li];
    double n = (double)l->params, nnz = n - alloc_removed(s, li, level);
    struct weight_view v;
    struct err ignored;
    if (prune_view(engine_graph(s->engine), l, &v, &ignored) < 0) {
        v.units = (size_t)l->shape.dims[0];
        v.inputs = (size_t)(n / (double)(v.units ? v.units : 1));
    }
    double wi = v.inputs <= 256 ? 1 : v.inputs <= 65536 ? 2 : 4;
    double wp = nnz <= 255 ? 1 : nnz <= 65535 ? 2 : 4;
    switch (s->storage) {
    case STORAGE_DENSE_FP32: return 4 * n;
    case STORAGE_DENSE_FP16: return 2 * n;
    case STORAGE_DENSE_INT8: return n + 4;
    case STORAGE_BITMASK: return 4 * nnz + ceil(n / 8);
    case STORAGE_CSR: return 4 * nnz + nnz * wi + ((double)v.units + 1) * wp;
    case STORAGE_NM:
    case STORAGE_BLOCK: return 4 * n; /* counted dense unless pruned in that pattern */
    }
    return 4 * n;
}

struct choice {
    size_t n, m;
    double *drop, *gain; /* n x m: predicted drop, and what the level buys */
    size_t *order;       /* level indices by increasing level */
};

/* For price lambda, each layer's level minimizing drop - lambda * gain; totals out. */
static void relax(const struct choice *c, double lambda, size_t *pick, double *gain, double *drop)
{
    *gain = *drop = 0.0;
    for (size_t i = 0; i < c->n; i++) {
        size_t best = c->order[0];
        double best_v = c->drop[i * c->m + best] - lambda * c->gain[i * c->m + best];
        for (size_t j = 1; j < c->m; j++) {
            size_t k = c->order[j];
            double v = c->drop[i * c->m + k] - lambda * c->gain[i * c->m + k];
            if (v < best_v - 1e-15) {
                best = k;
                best_v = v;
            }
        }
        pick[i] = best;
        *gain += c->gain[i * c->m + best];
        *drop += c->drop[i * c->m + best];
    }
}

int alloc_solve(const struct analysis_subject *s, const struct sens_result *r, enum alloc_kind kind,
                double value, const double *cost_saved, double *level, struct err *err)
{
    if (kind == ALLOC_COST && !cost_saved)
        return err_set(err, "a cost target needs the savings of the table's levels");
    size_t n = r->n_layers, m = r->n_levels;
    if (r->layers_done != n)
        return err_set(err,
                       "the sensitivity table is incomplete (%zu of %zu layers); run "
                       "sensitivity again",
                       r->layers_done, n);
    struct choice c = {.n = n, .m = m};
    c.drop = calloc(n * m + 1, sizeof *c.drop);
    c.gain = calloc(n * m + 1, sizeof *c.gain);
    c.order = calloc(m + 1, sizeof *c.order);
    size_t *pick = calloc(n + 1, sizeof *pick), *trial = calloc(n + 1, sizeof *trial);
    int rc = -1;
    if (!c.drop || !c.gain || !c.order || !pick || !trial) {
        err_oom(err, "allocation", n * m);
        goto done;
    }
    for (size_t k = 0; k < m; k++)
        c.order[k] = k;
    for (size_t a = 1; a < m; a++) /* by level */
        for (size_t b = a; b > 0 && r->levels[c.order[b - 1]] > r->levels[c.order[b]]; b--) {
            size_t t = c.order[b];
            c.order[b] = c.order[b - 1];
            c.order[b - 1] = t;
        }
    double total_params = 0, base_bytes = 0, max_gain = 0;
    for (size_t j = 0; j < s->layers->count; j++) {
        total_params += (double)s->layers->items[j].params;
        base_bytes += layer_bytes_at(s, j, 0.0);
    }
    /* Bytes a group row saves: its removed weights at the format's element width. */
    double width = s->storage == STORAGE_DENSE_FP16 ? 2 : s->storage == STORAGE_DENSE_INT8 ? 1 : 4;
    for (size_t i = 0; i < n; i++) {
        size_t li = r->row_layer[i];
        double best = 0;
        for (size_t k = 0; k < m; k++) {
            c.drop[i * m + k] = r->baseline_accuracy - r->accuracy[i * m + k];
            double removed = alloc_row_removed(s, r, i, r->levels[k]);
            c.gain[i * m + k] = kind == ALLOC_COST    ? cost_saved[i * m + k]
                                : kind != ALLOC_BYTES ? removed
                                : group_row(r, i)     ? width * removed
                                                      : layer_bytes_at(s, li, 0.0) -
                                                        layer_bytes_at(s, li, r->levels[k]);
            if (c.gain[i * m + k] > best)
                best = c.gain[i * m + k];
        }
        max_gain += best;
    }
    /* What the target asks for, in the units of gain. */
    double need = 0;
    if (kind == ALLOC_PARAMS) {
        /* A fraction asks for what uniform pruning at it removes: each layer's count is
         * rounded down on its own, so 95% stays reachable at a 95% level. */
        need = value;
        if (value < 1.0) {
            need = 0;
            for (size_t i = 0; i < n; i++)
                need += alloc_row_removed(s, r, i, value);
        }
        if (need > max_gain + 1e-9) {
            err_set(err,
                    "removing %.0f weights (%.1f%%) is out of reach: at the table's levels "
                    "at most %.0f (%.1f%%) can go; run sensitivity with higher levels",
                    need, 100 * need / total_params, max_gain, 100 * max_gain / total_params);
            goto done;
        }
    } else if (kind == ALLOC_COST) {
        need = value;
        if (need > max_gain + 1e-12) {
            err_set(err, "a saving of %g is out of reach: at the table's levels at most %g", need,
                    max_gain);
            goto done;
        }
    } else if (kind == ALLOC_BYTES) {
        size_t now = s->ops->weight_bytes(s->ctx);
        double others = (double)now; /* the non-layer part: bytes now minus the layers' */
        for (size_t j = 0; j < s->layers->count; j++)
            others -= layer_bytes_at(s, j, 0.0);
        need = base_bytes + others - value;
        if (need > max_gain + 1e-9) {
            err_set(err,
                    "%.0f bytes of weights is out of reach under %s storage: the smallest "
                    "the table's levels give is %.0f bytes",
                    value, storage_name(s->storage), base_bytes + others - max_gain);
            goto done;
        }
    }
    if (kind == ALLOC_MAX_DROP) {
        /* The largest price whose choice stays within the drop. */
        double lo = 0, hi = 1;
        double g, d;
        relax(&c, 0, pick, &g, &d);
        if (d > value + 1e-12) {
            err_set(err, "no choice of levels stays within a drop of %g", value);
            goto done;
        }
        for (int it = 0; it < 200; it++) {
            relax(&c, hi, trial, &g, &d);
            if (d > value || hi > 1e12)
                break;
            hi *= 4;
        }
        for (int it = 0; it < 200; it++) {
            double mid = (lo + hi) / 2;
            relax(&c, mid, trial, &g, &d);
            if (d <= value + 1e-12) {
                lo = mid;
                memcpy(pick, trial, n * sizeof *pick);
            } else {
                hi = mid;
            }
        }
        /* Greedy: raise layers one level at a time while the drop allows, best ratio first. */
        for (;;) {
            double cur_d = 0;
            for (size_t i = 0; i < n; i++)
                cur_d += c.drop[i * m + pick[i]];
            size_t bi = n, bk = 0;
            double best = 0;
            for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < m; k++) {
                    double dg = c.gain[i * m + k] - c.gain[i * m + pick[i]];
                    double dd = c.drop[i * m + k] - c.drop[i * m + pick[i]];
                    if (dg <= 0 || cur_d + dd > value + 1e-12)
                        continue;
                    double score = dd <= 0 ? 1e300 : dg / dd;
                    if (score > best) {
                        best = score;
                        bi = i;
                        bk = k;
                    }
                }
            if (bi == n)
                break;
            pick[bi] = bk;
        }
    } else {
        /* The smallest price whose choice meets the target. */
        double lo = 0, hi = 1, g, d;
        for (int it = 0; it < 200; it++) {
            relax(&c, hi, trial, &g, &d);
            if (g >= need - 1e-9 || hi > 1e12)
                break;
            hi *= 4;
        }
        relax(&c, hi, pick, &g, &d);
        for (int it = 0; it < 200; it++) {
            double mid = (lo + hi) / 2;
            relax(&c, mid, trial, &g, &d);
            if (g >= need - 1e-9) {
                hi = mid;
                memcpy(pick, trial, n * sizeof *pick);
            } else {
                lo = mid;
            }
        }
        /* Complete greedily when the relaxation skips over the target, then lower any
         * layer whose level is not needed. */
        for (;;) {
            double cur_g = 0;
            for (size_t i = 0; i < n; i++)
                cur_g += c.gain[i * m + pick[i]];
            if (cur_g >= need - 1e-9)
                break;
            size_t bi = n, bk = 0;
            double best = -1;
            for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < m; k++) {
                    double dg = c.gain[i * m + k] - c.gain[i * m + pick[i]];
                    double dd = c.drop[i * m + k] - c.drop[i * m + pick[i]];
                    if (dg <= 0)
                        continue;
                    double score = dd <= 0 ? 1e300 : dg / dd;
                    if (score > best) {
                        best = score;
                        bi = i;
                        bk = k;
                    }
                }
            if (bi == n)
                break;
            pick[bi] = bk;
        }
        for (bool changed = true; changed;) {
            changed = false;
            double cur_g = 0;
            for (size_t i = 0; i < n; i++)
                cur_g += c.gain[i * m + pick[i]];
            for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < m; k++) {
                    double dg = c.gain[i * m + k] - c.gain[i * m + pick[i]];
                    double dd = c.drop[i * m + k] - c.drop[i * m + pick[i]];
                    if (dd < -1e-12 && cur_g + dg >= need - 1e-9) {
                        cur_g += dg;
                        pick[i] = k;
                        changed = true;
                    }
                }
        }
    }
    for (size_t j = 0; j < s->layers->count; j++)
        level[j] = r->layer_row[j] >= 0 ? r->levels[pick[r->layer_row[j]]] : 0.0;
    rc = 0;
done:
    free(c.drop), free(c.gain), free(c.order), free(pick), free(trial);
    return rc;
}

void alloc_config_sparsity(const struct analysis_subject *s, double *sparsity)
{
    for (size_t i = 0; i < s->layers->count; i++) {
        const struct layer *l = &s->layers->items[i];
        sparsity[i] = !s->config->global ? s->config->settings[i].sparsity
                      : l->params
                          ? (double)prune_zeros(engine_graph(s->engine), l) / (double)l->params
                          : 0.0;
    }
}

/* The prior: k = 1 weighted as one measured drop of 1 point of accuracy. */
#define PRIOR_DROP 0.01

int predict_config(const struct analysis_subject *s, struct prediction *p, struct err *why)
{
    memset(p, 0, sizeof *p);
    const struct sens_result *r = s->sens;
    if (!s->engine || !r)
        return err_set(why, "no sensitivity table (run sensitivity)");
    if (r->n_model_layers != s->layers->count || r->layers_done != r->n_layers)
        return err_set(why, "the sensitivity table is incomplete or for another model");
    double *sp = calloc(s->layers->count + 1, sizeof *sp);
    if (!sp)
        return err_oom(why, "prediction", s->layers->count);
    alloc_config_sparsity(s, sp);
    p->baseline = r->baseline_accuracy;
    p->raw = alloc_predict(r, sp);
    p->drop = p->baseline - p->raw;
    free(sp);
    const struct predict_fit *f = s->pred;
    p->scale = (PRIOR_DROP * PRIOR_DROP + f->sxy) / (PRIOR_DROP * PRIOR_DROP + f->sxx);
    p->refined = fmax(p->baseline - p->scale * p->drop, predict_floor(r));
    p->measured = f->measured;
    return 0;
}

void predict_learn(struct predict_fit *f, const struct prediction *p, double measured)
{
    if (f->measured && fabs(p->drop - f->last_drop) < 1e-12)
        return;
    f->sxy += p->drop * (p->baseline - measured);
    f->sxx += p->drop * p->drop;
    f->last_drop = p->drop;
    f->measured++;
}

void predict_reset(struct predict_fit *f)
{
    f->sxy = f->sxx = f->last_drop = 0.0;
    f->measured = 0;
}

int alloc_cost_savings(const struct analysis_subject *s, const struct sens_result *r,
                       const struct profile *p, bool energy, double *saved, double *base,
                       double *max, struct err *err)
{
    size_t n = r->n_layers, m = r->n_levels, nl = s->layers->count;
    double *level = calloc(nl + 1, sizeof *level);
    struct prune_config cfg;
    if (!level)
        return err_oom(err, "allocation", nl);
    if (!s->engine) {
        free(level);
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    }
    if (prune_config_copy(s->config, nl, &cfg, err) < 0) {
        free(level);
        return -1;
    }
    int rc = 0;
    *max = 0;
    /* Row n stands for nothing pruned: the base, estimated first. */
    for (size_t i = n + 1; i-- > 0 && rc == 0;) {
        double best = 0;
        for (size_t k = 0; k < (i == n ? 1 : m) && rc == 0; k++) {
            for (size_t j = 0; j < nl; j++)
                level[j] = i < n && r->layer_row[j] == (int)i ? r->levels[k] : 0.0;
            alloc_levels_to_config(s, r, level, &cfg);
            struct cost_estimate e;
            if ((rc = s->ops->apply(s->ctx, &cfg, err)) < 0 ||
                (rc = s->ops->estimate(s->ctx, p, &e, err)) < 0)
                break;
            double cost = energy ? e.energy_uj : e.latency_s;
            cost_estimate_fini(&e);
            if (i == n) {
                *base = cost;
                continue;
            }
            saved[i * m + k] = *base - cost;
            if (saved[i * m + k] > best)
                best = saved[i * m + k];
        }
        *max += best;
    }
    struct err ignored;
    if (s->ops->apply(s->ctx, s->config, rc < 0 ? &ignored : err) < 0 && rc == 0)
        rc = -1;
    free(cfg.settings);
    free(level);
    return rc;
}
