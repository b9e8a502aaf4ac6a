/* auto --params against uniform pruning on the bundled models: at 80% and 90% of the
 * prunable weights removed, the sensitivity-guided allocation is measured at least as
 * accurate as every layer at the same sparsity, and better at 90%. Also the allocation's
 * arithmetic on a table made by hand, and unreachable targets. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/allocate.h"
#include "testutil.h"

static size_t measure(struct session *s, const double *level, double uniform)
{
    struct err err;
    struct prune_config cfg;
    cr_assert_eq(session_config_copy(s, &cfg, &err), 0);
    for (size_t i = 0; i < s->layers.count; i++)
        cfg.settings[i] =
            (struct prune_setting){level ? level[i] : uniform, CRIT_L1, GRAN_UNSTRUCTURED};
    cr_assert_eq(session_configure(s, &cfg, &err), 0, "%s", err.msg);
    free(cfg.settings);
    struct metrics m;
    double ms;
    cr_assert_eq(session_eval(s, 0, &m, &ms, &err), 0, "%s", err.msg);
    return m.correct;
}

static void compare(const char *model, const char *csv, float scale)
{
    struct err err;
    struct session *s = tu_open_session(model, csv, scale, 2);
    struct sens_options o = {.levels = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95},
                             .n_levels = 11};
    struct sens_result r;
    cr_assert_eq(sens_run(tu_subject(s), &o, NULL, NULL, &r, &err), 0, "%s", err.msg);
    double targets[] = {0.8, 0.9};
    for (int t = 0; t < 2; t++) {
        double level[16];
        cr_assert_eq(alloc_solve(tu_subject(s), &r, ALLOC_PARAMS, targets[t], NULL, level, &err), 0,
                     "%s", err.msg);
        /* At least what uniform pruning removes: floor(target * params) in every layer. */
        double removed = 0, uniform_removed = 0;
        for (size_t i = 0; i < s->layers.count; i++) {
            removed += alloc_removed(tu_subject(s), i, level[i]);
            uniform_removed += floor(targets[t] * (double)s->layers.items[i].params);
        }
        cr_expect_geq(removed, uniform_removed, "%s: the allocation removes too little", model);
        size_t guided = measure(s, level, 0), uniform = measure(s, NULL, targets[t]);
        cr_expect_geq(guided, uniform, "%s at %.0f%%: guided %zu correct, uniform %zu", model,
                      100 * targets[t], guided, uniform);
        if (t == 1)
            cr_expect_gt(guided, uniform, "%s at 90%%: guided %zu correct, uniform %zu", model,
                         guided, uniform);
    }
    sens_result_fini(&r);
    session_free(s);
}

Test(allocate, guided_beats_uniform_on_the_digits_mlp, .init = tu_private_cache,
     .fini = tu_remove_cache)
{
    compare("data/digits_mlp.onnx", "data/digits.csv", 1.0f);
}

Test(allocate, guided_beats_uniform_on_the_fashion_cnn, .init = tu_private_cache,
     .fini = tu_remove_cache)
{
    compare("data/fashion_cnn.onnx", "data/fashion-mnist-test.csv.gz", 0.00392156862745098f);
}

Test(allocate, prediction_interpolates_and_unreachable_targets_are_refused,
     .init = tu_private_cache, .fini = tu_remove_cache)
{
    struct err err;
    struct session *s = session_new(1, NULL, &err);
    struct dataset_options opt = {0};
    cr_assert_eq(session_load_model(s, tu_src_path("data/digits_mlp.onnx"), NULL, 0, &err), 0);
    cr_assert_eq(session_load_data(s, tu_src_path("data/digits.csv"), &opt, NULL, &err), 0);
    struct sens_options o = {.levels = {0, 0.5}, .n_levels = 2};
    struct sens_result r;
    cr_assert_eq(sens_run(tu_subject(s), &o, NULL, NULL, &r, &err), 0, "%s", err.msg);
    /* Halfway to 50% on layer 1 alone: half of its drop at 50%. */
    double sp[3] = {0.25, 0, 0};
    double want = r.baseline_accuracy - 0.5 * (r.baseline_accuracy - r.accuracy[0 * 2 + 1]);
    cr_expect_float_eq(alloc_predict(&r, sp), want, 1e-12);
    double level[3];
    cr_expect_eq(alloc_solve(tu_subject(s), &r, ALLOC_PARAMS, 0.9, NULL, level, &err), -1);
    tu_expect_error(&err, "out of reach", "at most 1360");
    sens_result_fini(&r);
    session_free(s);
}
