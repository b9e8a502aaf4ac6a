/* Mask selection for every criterion and granularity with the exact tie rules, global
 * magnitude selection, and the dependency reach of structured removals. Not applying
 * masks to a session (session.c) and not exporting. */
#include "prune/prune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CRIT_NAMES[] = {"l1", "l2", "random", "taylor", "wanda"};

bool prune_criterion_scored(enum prune_criterion c)
{
    return c == CRIT_TAYLOR || c == CRIT_WANDA;
}
static const char *const GRAN_NAMES[] = {"unstructured", "neuron", "filter",   "channel",
                                         "2:4",          "4:8",    "block1x4", "block4x4"};

const char *prune_criterion_name(enum prune_criterion c)
{
    return CRIT_NAMES[c];
}
const char *prune_granularity_name(enum prune_granularity g)
{
    return GRAN_NAMES[g];
}

int prune_criterion_parse(const char *s, enum prune_criterion *out)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, CRIT_NAMES[i]) == 0) {
            *out = (enum prune_criterion)i;
            return 0;
        }
    return -1;
}

int prune_granularity_parse(const char *s, enum prune_granularity *out)
{
    for (int i = 0; i < 8; i++)
        if (strcmp(s, GRAN_NAMES[i]) == 0) {
            *out = (enum prune_granularity)i;
            return 0;
        }
    return -1;
}

int prune_config_copy(const struct prune_config *src, size_t n, struct prune_config *dst,
                      struct err *err)
{
    *dst = *src;
    dst->settings = malloc((n + 1) * sizeof *dst->settings);
    if (!dst->settings)
        return err_oom(err, "configuration", n * sizeof *dst->settings);
    if (n)
        memcpy(dst->settings, src->settings, n * sizeof *dst->settings);
    return 0;
}

size_t prune_count(double sparsity, size_t count)
{
    /* floor(s * n); the small slack keeps k/n * n from rounding down to k - 1. */
    double k = floor(sparsity * (double)count + 1e-9);
    return k < 0 ? 0 : k > (double)count ? count : (size_t)k;
}

size_t prune_zeros(const struct graph *g, const struct layer *l)
{
    const float *w = tensor_f32(g->values[l->weight].constant);
    size_t zeros = 0;
    for (int64_t k = 0; k < l->params; k++)
        zeros += w[k] == 0.0f;
    return zeros;
}

int prune_view(const struct graph *g, const struct layer *l, struct weight_view *v, struct err *err)
{
    const struct node *nd = &g->nodes[l->node];
    const struct shape *s = &l->shape;
    memset(v, 0, sizeof *v);
    v->kvol = 1;
    if (strcmp(l->op, "Conv") == 0) {
        v->units = (size_t)s->dims[0];
        v->channels = (size_t)s->dims[1];
        for (int d = 2; d < s->ndim; d++)
            v->kvol *= (size_t)s->dims[d];
        v->inputs = v->channels * v->kvol;
        v->unit_stride = v->inputs;
        v->in_stride = 1;
        return 0;
    }
    if (s->ndim != 2)
        return err_set(err,
                       "layer '%s': its %s weight '%s' has rank %d; structured pruning "
                       "needs a 2-D weight",
                       l->name, l->op, l->weight_name, s->ndim);
    bool trans = strcmp(l->op, "Gemm") == 0 && node_attr_int(nd, "transB", 0) != 0;
    /* Gemm with transB: W is [N, K], units are rows. Otherwise [K, N], units columns. */
    v->units = (size_t)(trans ? s->dims[0] : s->dims[1]);
    v->inputs = (size_t)(trans ? s->dims[1] : s->dims[0]);
    v->unit_stride = trans ? v->inputs : 1;
    v->in_stride = trans ? 1 : v->units;
    v->channels = v->inputs;
    return 0;
}

int prune_check(const struct graph *g, const struct layer *l, const struct prune_setting *s,
                struct err *err)
{
    if (!(s->sparsity >= 0.0 && s->sparsity < 1.0))
        return err_set(err, "layer '%s': sparsity %g is outside [0, 1) (write 0.5 or 50%%)",
                       l->name, s->sparsity);
    bool conv = strcmp(l->op, "Conv") == 0;
    enum prune_granularity gr = s->granularity;
    if (gr == GRAN_UNSTRUCTURED)
        return 0;
    if (gr == GRAN_NEURON && conv)
        return err_set(err,
                       "layer '%s' is a Conv: its output units are filters (use filter or "
                       "channel, not neuron)",
                       l->name);
    if ((gr == GRAN_FILTER || gr == GRAN_CHANNEL) && !conv)
        return err_set(err,
                       "layer '%s' is a %s: %s pruning applies to Conv layers (use neuron "
                       "for output units)",
                       l->name, l->op, prune_granularity_name(gr));
    struct weight_view v;
    if (prune_view(g, l, &v, err) < 0)
        return -1;
    size_t m = gr == GRAN_2_4 ? 4 : gr == GRAN_4_8 ? 8 : 0;
    if (m && v.inputs % m != 0)
        return err_set(err,
                       "layer '%s': %s groups %zu consecutive inputs, but each unit has %zu "
                       "inputs, which %zu does not divide",
                       l->name, prune_granularity_name(gr), m, v.inputs, m);
    if ((gr == GRAN_BLOCK_1X4 || gr == GRAN_BLOCK_4X4) && v.inputs % 4 != 0)
        return err_set(err, "layer '%s': %s needs the %zu inputs per unit to be a multiple of 4",
                       l->name, prune_granularity_name(gr), v.inputs);
    if (gr == GRAN_BLOCK_4X4 && v.units % 4 != 0)
        return err_set(err, "layer '%s': block4x4 needs the %zu units to be a multiple of 4",
                       l->name, v.units);
    return 0;
}

/* A uniform score in [0, 1) for item i of a seeded random selection (splitmix64). */
static double random_score(uint64_t seed, uint64_t salt, uint64_t i)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (i + 1) + salt * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

struct scored {
    double score;
    size_t index;
};

static int by_score_then_index(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static double group_norm(double sum_abs, double sum_sq, enum prune_criterion c)
{
    return c == CRIT_L2 ? sqrt(sum_sq) : sum_abs;
}

/* The item (weight, unit, channel or block) element (u, i) belongs to. */
static size_t item_of(const struct prune_rank *r, size_t u, size_t i)
{
    size_t bu = r->granularity == GRAN_BLOCK_4X4 ? 4 : 1, bi = 4;
    switch (r->granularity) {
    case GRAN_NEURON:
    case GRAN_FILTER: return u;
    case GRAN_CHANNEL: return i / r->view.kvol;
    default: return (u / bu) * (r->view.inputs / bi) + i / bi;
    }
}

int prune_rank_make(const struct graph *g, const struct layer *l, const float *w,
                    const float *saliency, enum prune_criterion criterion,
                    enum prune_granularity gr, uint64_t seed, struct prune_rank *r,
                    struct err *err)
{
    memset(r, 0, sizeof *r);
    struct prune_setting probe = {.sparsity = 0.5, .criterion = criterion, .granularity = gr};
    if (prune_check(g, l, &probe, err) < 0)
        return -1;
    if (prune_criterion_scored(criterion) && !saliency)
        return err_set(err,
                       criterion == CRIT_TAYLOR
                           ? "layer '%s': the taylor criterion needs the gradients of the loss "
                             "on validation data"
                           : "layer '%s': the wanda criterion needs the layer's inputs on "
                             "validation data",
                       l->name);
    size_t n = (size_t)l->params;
    r->criterion = criterion;
    r->granularity = gr;
    r->params = n;
    uint64_t salt = (uint64_t)l->weight;
    if (gr != GRAN_UNSTRUCTURED && prune_view(g, l, &r->view, err) < 0)
        return -1;
    const struct weight_view *v = &r->view;

    if (gr == GRAN_2_4 || gr == GRAN_4_8) {
        /* The mask does not depend on the sparsity: keep it. */
        if (!(r->nm_mask = malloc(n ? n : 1)))
            return err_oom(err, "N:M mask", n);
        memset(r->nm_mask, 1, n);
        size_t m = gr == GRAN_2_4 ? 4 : 8, drop = m / 2;
        for (size_t u = 0; u < v->units; u++)
            for (size_t i0 = 0; i0 < v->inputs; i0 += m) {
                struct scored grp[8];
                for (size_t j = 0; j < m; j++) {
                    size_t at = u * v->unit_stride + (i0 + j) * v->in_stride;
                    grp[j].score = criterion == CRIT_RANDOM   ? random_score(seed, salt, at)
                                   : prune_criterion_scored(criterion) ? (double)saliency[at]
                                                              : fabs((double)w[at]);
                    grp[j].index = at;
                }
                qsort(grp, m, sizeof *grp, by_score_then_index);
                for (size_t j = 0; j < drop; j++)
                    r->nm_mask[grp[j].index] = 0;
            }
        return 0;
    }

    /* Items: weights, units, channels or blocks, each a score. */
    size_t bu = gr == GRAN_BLOCK_4X4 ? 4 : 1, bi = 4;
    size_t count = gr == GRAN_UNSTRUCTURED                  ? n
                   : gr == GRAN_NEURON || gr == GRAN_FILTER ? v->units
                   : gr == GRAN_CHANNEL                     ? v->channels
                                                            : (v->units / bu) * (v->inputs / bi);
    struct scored *items = malloc((count ? count : 1) * sizeof *items);
    r->order = malloc((count ? count : 1) * sizeof *r->order);
    if (!items || !r->order) {
        free(items);
        prune_rank_fini(r);
        return err_oom(err, "pruning scores", count * sizeof *items);
    }
    r->count = count;
    for (size_t i = 0; i < count; i++) {
        items[i].index = i;
        items[i].score = 0.0;
    }
    if (criterion == CRIT_RANDOM) {
        for (size_t i = 0; i < count; i++)
            items[i].score = random_score(seed, salt, i);
    } else if (gr == GRAN_UNSTRUCTURED) {
        for (size_t i = 0; i < n; i++)
            items[i].score =
                prune_criterion_scored(criterion) ? (double)saliency[i] : fabs((double)w[i]);
    } else {
        double *sa = calloc(count, sizeof *sa), *sq = calloc(count, sizeof *sq);
        if (!sa || !sq) {
            free(sa), free(sq), free(items);
            prune_rank_fini(r);
            return err_oom(err, "pruning scores", count * sizeof *sa);
        }
        for (size_t u = 0; u < v->units; u++)
            for (size_t i = 0; i < v->inputs; i++) {
                size_t at = u * v->unit_stride + i * v->in_stride;
                double x = prune_criterion_scored(criterion) ? (double)saliency[at] : (double)w[at];
                size_t item = item_of(r, u, i);
                sa[item] += fabs(x);
                sq[item] += x * x;
            }
        for (size_t i = 0; i < count; i++)
            items[i].score = group_norm(sa[i], sq[i], criterion);
        free(sa);
        free(sq);
    }
    qsort(items, count, sizeof *items, by_score_then_index);
    for (size_t i = 0; i < count; i++)
        r->order[i] = items[i].index;
    free(items);
    return 0;
}

void prune_rank_fini(struct prune_rank *r)
{
    free(r->order);
    free(r->nm_mask);
    memset(r, 0, sizeof *r);
}

int prune_rank_mask(const struct prune_rank *r, double sparsity, uint8_t *mask,
                    bool *removed_units, bool *removed_channels, struct err *err)
{
    if (!(sparsity >= 0.0 && sparsity < 1.0))
        return err_set(err, "sparsity %g is outside [0, 1) (write 0.5 or 50%%)", sparsity);
    const struct weight_view *v = &r->view;
    size_t n = r->params;
    memset(mask, 1, n);
    if (removed_units && v->units)
        memset(removed_units, 0, v->units * sizeof *removed_units);
    if (removed_channels && v->channels)
        memset(removed_channels, 0, v->channels * sizeof *removed_channels);
    if (sparsity <= 0.0)
        return 0;
    if (r->nm_mask) {
        memcpy(mask, r->nm_mask, n);
        return 0;
    }
    size_t k = prune_count(sparsity, r->count);
    if (r->granularity == GRAN_UNSTRUCTURED) {
        for (size_t j = 0; j < k; j++)
            mask[r->order[j]] = 0;
        return 0;
    }
    bool *pick = calloc(r->count + 1, sizeof *pick);
    if (!pick)
        return err_oom(err, "pruning mask", r->count);
    for (size_t j = 0; j < k; j++)
        pick[r->order[j]] = true;
    for (size_t u = 0; u < v->units; u++)
        for (size_t i = 0; i < v->inputs; i++)
            if (pick[item_of(r, u, i)])
                mask[u * v->unit_stride + i * v->in_stride] = 0;
    bool units = r->granularity == GRAN_NEURON || r->granularity == GRAN_FILTER;
    if (removed_units && units)
        for (size_t u = 0; u < v->units; u++)
            removed_units[u] = pick[u];
    if (removed_channels && r->granularity == GRAN_CHANNEL)
        for (size_t c = 0; c < v->channels; c++)
            removed_channels[c] = pick[c];
    free(pick);
    return 0;
}

int prune_mask(const struct graph *g, const struct layer *l, const float *w, const float *saliency,
               const struct prune_setting *s, uint64_t seed, uint8_t *mask, bool *removed_units,
               bool *removed_channels, struct err *err)
{
    if (prune_check(g, l, s, err) < 0)
        return -1;
    struct prune_rank r;
    if (prune_rank_make(g, l, w, saliency, s->criterion, s->granularity, seed, &r, err) < 0)
        return -1;
    int rc = prune_rank_mask(&r, s->sparsity, mask, removed_units, removed_channels, err);
    prune_rank_fini(&r);
    return rc;
}

int prune_global_masks(const struct layer_list *layers, const float *const *weights,
                       double sparsity, uint8_t *const *masks, struct err *err)
{
    if (!(sparsity >= 0.0 && sparsity < 1.0))
        return err_set(err, "sparsity %g is outside [0, 1) (write 0.5 or 50%%)", sparsity);
    size_t total = 0;
    for (size_t li = 0; li < layers->count; li++)
        total += (size_t)layers->items[li].params;
    struct scored *items = malloc((total ? total : 1) * sizeof *items);
    if (!items)
        return err_oom(err, "global pruning", total * sizeof *items);
    size_t at = 0;
    for (size_t li = 0; li < layers->count; li++) {
        size_t n = (size_t)layers->items[li].params;
        memset(masks[li], 1, n);
        for (size_t i = 0; i < n; i++, at++) {
            items[at].score = fabs((double)weights[li][i]);
            items[at].index = at; /* layer order, then flat index */
        }
    }
    size_t k = prune_count(sparsity, total);
    qsort(items, total, sizeof *items, by_score_then_index);
    for (size_t j = 0; j < k; j++) {
        size_t idx = items[j].index, li = 0;
        while (idx >= (size_t)layers->items[li].params) {
            idx -= (size_t)layers->items[li].params;
            li++;
        }
        masks[li][idx] = 0;
    }
    free(items);
    return 0;
}

int prune_group_order(const struct graph *g, const struct layer_list *layers,
                      const struct group_set *gs, size_t gi, const float *const *weights,
                      const float *const *saliency, enum prune_criterion criterion, uint64_t seed,
                      size_t *order, struct err *err)
{
    const struct prune_group *pg = &gs->groups[gi];
    size_t n = pg->n_units;
    struct scored *items = malloc((n ? n : 1) * sizeof *items);
    double *score = calloc(gs->n_units + 1, sizeof *score);
    if (!items || !score) {
        free(items);
        free(score);
        return err_oom(err, "group scores", n * sizeof *items);
    }
    if (criterion != CRIT_RANDOM)
        for (size_t m = 0; m < pg->n_members; m++) {
            size_t li = pg->members[m];
            const struct layer *l = &layers->items[li];
            const float *src = prune_criterion_scored(criterion)
                                   ? (saliency ? saliency[li] : NULL)
                                   : weights[li];
            struct weight_view v;
            if (!src) {
                free(items);
                free(score);
                return err_set(err,
                               "layer '%s': the %s criterion needs its scores on validation "
                               "data",
                               l->name, CRIT_NAMES[criterion]);
            }
            if (prune_view(g, l, &v, err) < 0) {
                free(items);
                free(score);
                return -1;
            }
            for (size_t u = 0; u < gs->out_count[li] && u < v.units; u++) {
                double sa = 0.0, sq = 0.0;
                for (size_t i = 0; i < v.inputs; i++) {
                    double x = (double)src[u * v.unit_stride + i * v.in_stride];
                    sa += fabs(x);
                    sq += x * x;
                }
                score[groups_unit_of(gs, li, u)] += group_norm(sa, sq, criterion);
            }
        }
    /* Random scores as filter / neuron pruning draws them for the first member's units. */
    uint64_t salt = pg->n_members ? (uint64_t)layers->items[pg->members[0]].weight : 0;
    for (size_t j = 0; j < n; j++) {
        items[j].index = pg->units[j];
        items[j].score = criterion == CRIT_RANDOM ? random_score(seed, salt, j)
                                                  : score[pg->units[j]];
    }
    qsort(items, n, sizeof *items, by_score_then_index);
    for (size_t j = 0; j < n; j++)
        order[j] = items[j].index;
    free(items);
    free(score);
    return 0;
}

/* The only node reading value v, or -1 (none, or several: *several set). */
static int sole_consumer(const struct graph *g, int v, bool *several)
{
    int found = -1;
    *several = false;
    for (int n = 0; n < g->n_nodes; n++)
        for (int k = 0; k < g->nodes[n].n_inputs; k++)
            if (g->nodes[n].inputs[k] == v) {
                if (found >= 0 && found != n)
                    *several = true;
                found = n;
            }
    return found;
}

static bool zero_preserving(const char *op)
{
    static const char *const OPS[] = {"Relu",        "LeakyRelu",         "PRelu",   "Tanh",
                                      "HardSwish",   "Identity",          "Dropout", "MaxPool",
                                      "AveragePool", "GlobalAveragePool", NULL};
    for (const char *const *o = OPS; *o; o++)
        if (strcmp(op, *o) == 0)
            return true;
    return false;
}

void prune_find_reach(const struct graph *g, const struct layer_list *layers, size_t li,
                      struct prune_reach *r)
{
    const struct layer *l = &layers->items[li];
    const struct node *nd = &g->nodes[l->node];
    memset(r, 0, sizeof *r);
    r->bias = -1;
    r->consumer = -1;
    r->per_unit = 1;
    for (int i = 0; i < 4; i++)
        r->bn[i] = -1;
    if (nd->n_inputs > 2 && nd->inputs[2] >= 0 && g->values[nd->inputs[2]].constant &&
        g->values[nd->inputs[2]].constant->shape.ndim == 1)
        r->bias = nd->inputs[2];
    int v = nd->outputs[0];
    bool flattened = false;
    for (;;) {
        for (int o = 0; o < g->n_outputs; o++)
            if (g->outputs[o] == v) {
                snprintf(r->why, sizeof r->why, "its units are outputs of the model");
                return;
            }
        bool several;
        int c = sole_consumer(g, v, &several);
        if (c < 0) {
            snprintf(r->why, sizeof r->why, "nothing reads its output");
            return;
        }
        const struct node *cn = &g->nodes[c];
        if (several) {
            snprintf(r->why, sizeof r->why, "its output feeds several nodes");
            return;
        }
        if (cn->inputs[0] != v) {
            snprintf(r->why, sizeof r->why, "node '%s' (%s) reads it as input other than the first",
                     cn->name, cn->op_type);
            return;
        }
        for (size_t k = 0; k < layers->count; k++)
            if (layers->items[k].node == c) {
                r->consumer = (int)k;
                r->safe = true;
                (void)flattened;
                return;
            }
        if (strcmp(cn->op_type, "BatchNormalization") == 0) {
            for (int k = 0; k < 4; k++)
                r->bn[k] = cn->inputs[k + 1];
        } else if (strcmp(cn->op_type, "Flatten") == 0) {
            flattened = true;
        } else if (!zero_preserving(cn->op_type)) {
            snprintf(r->why, sizeof r->why, "node '%s' (%s) does not keep a removed unit at zero",
                     cn->name, cn->op_type);
            return;
        }
        v = cn->outputs[0];
    }
}
