/* The session keeps each layer's ranking between configurations: whatever was kept, the
 * weights after a change equal the original weights masked by prune_mask computed from
 * scratch, across sparsities, criteria, granularities, seeds and taylor saliency; and the
 * engine's prepared (sparse) copies follow the change, so evaluations match a fresh
 * session configured the same way. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void configure_one(struct session *s, size_t li, double sp, enum prune_criterion c,
                          enum prune_granularity g)
{
    struct err err;
    struct prune_config cfg;
    cr_assert_eq(session_config_copy(s, &cfg, &err), 0);
    memset(cfg.settings, 0, s->layers.count * sizeof *cfg.settings);
    cfg.settings[li] = (struct prune_setting){sp, c, g};
    cr_assert_eq(session_configure(s, &cfg, &err), 0, "%s", err.msg);
    free(cfg.settings);
}

/* The weights of layer li equal the original masked by a mask made from scratch. */
static void expect_fresh_mask(struct session *s, size_t li)
{
    struct err err;
    const struct layer *l = &s->layers.items[li];
    const struct graph *g = engine_graph(s->engine);
    uint8_t *mask = malloc((size_t)l->params);
    cr_assert_eq(prune_mask(g, l, s->original[l->weight], s->saliency ? s->saliency[li] : NULL,
                            &s->config.settings[li], s->seed, mask, NULL, NULL, &err),
                 0, "%s", err.msg);
    const float *w = tensor_f32(g->values[l->weight].constant);
    for (int64_t k = 0; k < l->params; k++)
        cr_assert_eq(w[k], mask[k] ? s->original[l->weight][k] : 0.0f, "%s[%lld]", l->name,
                     (long long)k);
    free(mask);
}

Test(rank_cache, masks_equal_fresh_ones_after_any_change)
{
    struct session *s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 1.0f, 1);
    static const struct {
        double sp;
        enum prune_criterion c;
        enum prune_granularity g;
        uint64_t seed;
    } steps[] = {
        {0.5, CRIT_L1, GRAN_UNSTRUCTURED, 0}, {0.9, CRIT_L1, GRAN_UNSTRUCTURED, 0},
        {0.3, CRIT_L1, GRAN_UNSTRUCTURED, 0}, {0.5, CRIT_L2, GRAN_NEURON, 0},
        {0.25, CRIT_L2, GRAN_NEURON, 0},      {0.5, CRIT_RANDOM, GRAN_UNSTRUCTURED, 1},
        {0.5, CRIT_RANDOM, GRAN_UNSTRUCTURED, 2}, {0.5, CRIT_TAYLOR, GRAN_UNSTRUCTURED, 2},
        {0.8, CRIT_TAYLOR, GRAN_UNSTRUCTURED, 2}, {0.5, CRIT_L1, GRAN_2_4, 2},
        {0.5, CRIT_L1, GRAN_BLOCK_1X4, 2},    {0.0, CRIT_L1, GRAN_UNSTRUCTURED, 2},
    };
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        s->seed = steps[k].seed;
        configure_one(s, 0, steps[k].sp, steps[k].c, steps[k].g);
        expect_fresh_mask(s, 0);
        /* The rest of the model is back to its original weights. */
        const struct graph *g = engine_graph(s->engine);
        for (size_t li = 1; li < s->layers.count; li++) {
            const struct layer *l = &s->layers.items[li];
            if (steps[k].g == GRAN_NEURON && li == 1)
                continue; /* fc2's inputs from removed fc1 units go with them */
            cr_expect_eq(memcmp(g->values[l->weight].constant->data, s->original[l->weight],
                                (size_t)l->params * sizeof(float)),
                         0, "step %zu: %s changed", k, l->name);
        }
    }
    session_free(s);
}

/* Evaluations after a chain of changes (with sparse copies made and dropped on the way)
 * equal those of a fresh session given only the last configuration. */
Test(rank_cache, evaluations_follow_the_weights)
{
    struct err err;
    struct session *s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 1.0f, 2);
    double levels[] = {0.95, 0.2, 0.9, 0.75};
    for (size_t li = 0; li < s->layers.count; li++)
        for (size_t k = 0; k < 4; k++)
            configure_one(s, li, levels[k], CRIT_L1, GRAN_UNSTRUCTURED);
    struct metrics m, want;
    cr_assert_eq(session_eval(s, 0, &m, NULL, &err), 0, "%s", err.msg);
    struct session *f = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 1.0f, 2);
    configure_one(f, s->layers.count - 1, 0.75, CRIT_L1, GRAN_UNSTRUCTURED);
    cr_assert_eq(session_eval(f, 0, &want, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(m.correct, want.correct);
    cr_expect_float_eq(m.loss, want.loss, 1e-12);
    session_free(f);
    session_free(s);
}
