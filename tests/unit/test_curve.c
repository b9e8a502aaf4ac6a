/* curve: every uniform point of the digits MLP has PyTorch's correct-row count
 * (tests/fixtures/prune/digits_prune.json), every prediction is the table's baseline
 * minus the interpolated drops, the error summary is the median of the points' errors,
 * guided beats uniform at 80% and 90% on both bundled models with a median prediction
 * error under 2 points up to 80%, and the session's weights are untouched afterwards.
 * Also the online refinement of predictions. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/allocate.h"
#include "analysis/curve.h"
#include "analysis/sensitivity.h"
#include "testutil.h"

static struct session *open_session(const char *model, const char *csv, float scale)
{
    struct err err;
    struct session *s = tu_open_session(model, csv, scale, 2);
    struct sens_options o = {.levels = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95},
                             .n_levels = 11};
    s->sens = calloc(1, sizeof *s->sens);
    cr_assert_eq(sens_run(tu_subject(s), &o, NULL, NULL, s->sens, &err), 0, "%s", err.msg);
    return s;
}

/* The profile the curve command estimates on (NULL without profiles). */
static const struct profile *profile_of(struct session *s)
{
    struct err none;
    return session_profile(s, &none);
}

/* The table's accuracy of layer li at x, interpolated between the levels (which are
 * sorted here), clamped to the last. */
static double table_acc(const struct sens_result *r, size_t li, double x)
{
    const double *a = r->accuracy + li * r->n_levels;
    for (size_t k = 0; k + 1 < r->n_levels; k++)
        if (x >= r->levels[k] && x <= r->levels[k + 1])
            return a[k] +
                   (a[k + 1] - a[k]) * (x - r->levels[k]) / (r->levels[k + 1] - r->levels[k]);
    return a[r->n_levels - 1];
}

static double table_min(const struct sens_result *r)
{
    double lo = r->baseline_accuracy;
    for (size_t i = 0; i < r->n_layers * r->n_levels; i++)
        lo = fmin(lo, r->accuracy[i]);
    return lo;
}

static const struct curve_point *point_at(const struct curve_result *c, double target, bool guided)
{
    for (size_t i = 0; i < c->n; i++)
        if (fabs(c->points[i].target - target) < 1e-9 && c->points[i].guided == guided)
            return &c->points[i];
    cr_assert_fail("no %s point at %g", guided ? "guided" : "uniform", target);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Guided >= uniform at 80%, > at 90%; median error < 2 points; summary recomputed. */
static void check_curve(struct session *s, const struct curve_result *c, const char *what)
{
    const struct sens_result *r = s->sens;
    cr_assert_eq(c->n, 40);
    double errs[40];
    size_t n_err = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct curve_point *p = &c->points[i];
        cr_assert(p->reached, "%s: %s %g not reached", what, p->guided ? "guided" : "uniform",
                  p->target);
        cr_expect_float_eq(p->accuracy, (double)p->correct / (double)s->data->rows, 1e-12);
        if (!p->guided) {
            /* Uniform: the baseline minus every layer's drop at the target. */
            double want = r->baseline_accuracy;
            for (size_t li = 0; li < r->n_layers; li++)
                want -= r->baseline_accuracy - table_acc(r, li, p->target);
            want = fmax(want, table_min(r));
            cr_expect_float_eq(p->predicted, want, 1e-9, "%s uniform %g: predicted %g, want %g",
                               what, p->target, p->predicted, want);
            cr_expect(fabs(p->sparsity - p->target) < 0.002, "%s: sparsity %g at target %g", what,
                      p->sparsity, p->target);
        } else {
            cr_expect_geq(p->sparsity, point_at(c, p->target, false)->sparsity - 1e-12,
                          "%s: guided removes less than uniform at %g", what, p->target);
        }
        if (p->target <= 0.8 + 1e-9)
            errs[n_err++] = fabs(p->predicted - p->accuracy);
    }
    cr_assert_eq(n_err, c->n_error);
    qsort(errs, n_err, sizeof *errs, by_value);
    double median = (errs[n_err / 2 - 1] + errs[n_err / 2]) / 2; /* 34 points: even */
    cr_expect_float_eq(c->median_error, median, 1e-12);
    cr_expect_float_eq(c->max_error, errs[n_err - 1], 1e-12);
    cr_expect_lt(c->median_error, 0.02, "%s: median prediction error %.2f points", what,
                 100 * c->median_error);
    const struct curve_point *g8 = point_at(c, 0.8, true), *u8 = point_at(c, 0.8, false);
    const struct curve_point *g9 = point_at(c, 0.9, true), *u9 = point_at(c, 0.9, false);
    cr_expect_geq(g8->correct, u8->correct, "%s 80%%: guided %zu, uniform %zu", what, g8->correct,
                  u8->correct);
    cr_expect_gt(g9->correct, u9->correct, "%s 90%%: guided %zu, uniform %zu", what, g9->correct,
                 u9->correct);
}

Test(curve, digits_uniform_points_match_pytorch, .init = tu_private_cache, .fini = tu_remove_cache)
{
    struct err err;
    struct session *s = open_session("data/digits_mlp.onnx", "data/digits.csv", 1.0f);
    float *before = malloc(s->layers.items[0].params * sizeof *before);
    memcpy(before, s->original[s->layers.items[0].weight],
           s->layers.items[0].params * sizeof *before);
    struct curve_result c;
    cr_assert_eq(curve_run(tu_subject(s), 20, profile_of(s), NULL, NULL, NULL, &c, &err), 0, "%s",
                 err.msg);
    check_curve(s, &c, "digits");

    json_error_t je;
    json_t *root = json_load_file(tu_src_path("tests/fixtures/prune/digits_prune.json"), 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    static const struct {
        const char *name;
        double target;
    } want[] = {{"unstructured-all-0.5", 0.5},
                {"unstructured-all-0.7", 0.7},
                {"unstructured-all-0.9", 0.9},
                {"unstructured-all-0.95", 0.95}};
    size_t matched = 0;
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        size_t i;
        json_t *cfg;
        json_array_foreach(json_object_get(root, "configs"), i, cfg)
        {
            if (strcmp(json_string_value(json_object_get(cfg, "name")), want[k].name) != 0)
                continue;
            size_t correct = (size_t)json_integer_value(json_object_get(cfg, "correct"));
            cr_expect_eq(point_at(&c, want[k].target, false)->correct, correct,
                         "uniform %g: %zu correct, PyTorch %zu", want[k].target,
                         point_at(&c, want[k].target, false)->correct, correct);
            matched++;
        }
    }
    cr_expect_eq(matched, 4);
    json_decref(root);

    /* The configuration (none) is back on the weights. */
    const float *w =
        tensor_f32(engine_graph(s->engine)->values[s->layers.items[0].weight].constant);
    cr_expect_eq(memcmp(w, before, s->layers.items[0].params * sizeof *before), 0);
    free(before);
    curve_result_fini(&c);
    session_free(s);
}

Test(curve, fashion_guided_beats_uniform_and_predicts_within_2_points, .init = tu_private_cache,
     .fini = tu_remove_cache)
{
    struct err err;
    struct session *s = open_session("data/fashion_cnn.onnx", "data/fashion-mnist-test.csv.gz",
                                     0.00392156862745098f);
    struct curve_result c;
    cr_assert_eq(curve_run(tu_subject(s), 20, profile_of(s), NULL, NULL, NULL, &c, &err), 0, "%s",
                 err.msg);
    check_curve(s, &c, "fashion");
    curve_result_fini(&c);
    session_free(s);
}

Test(curve, bad_requests, .init = tu_private_cache, .fini = tu_remove_cache)
{
    struct err err;
    struct session *s = session_new(1, NULL, &err);
    struct dataset_options opt = {0};
    struct curve_result c;
    cr_assert_eq(session_load_model(s, tu_src_path("data/digits_mlp.onnx"), NULL, 0, &err), 0);
    cr_assert_eq(session_load_data(s, tu_src_path("data/digits.csv"), &opt, NULL, &err), 0);
    cr_expect_eq(curve_run(tu_subject(s), 20, profile_of(s), NULL, NULL, NULL, &c, &err), -1);
    tu_expect_error(&err, "sensitivity table", "run sensitivity");
    /* An incomplete (cancelled) table is refused too. */
    struct sens_options o = {.levels = {0, 0.5}, .n_levels = 2};
    s->sens = calloc(1, sizeof *s->sens);
    cr_assert_eq(sens_run(tu_subject(s), &o, NULL, NULL, s->sens, &err), 0, "%s", err.msg);
    cr_expect_eq(curve_run(tu_subject(s), 1, profile_of(s), NULL, NULL, NULL, &c, &err), -1);
    tu_expect_error(&err, "--points", "2 to 1000");
    s->sens->layers_done = 2;
    cr_expect_eq(curve_run(tu_subject(s), 5, profile_of(s), NULL, NULL, NULL, &c, &err), -1);
    tu_expect_error(&err, "complete sensitivity table", "");
    s->sens->layers_done = 3;
    /* Levels up to 50%: the guided points above it are out of reach, uniform ones not. */
    cr_assert_eq(curve_run(tu_subject(s), 3, profile_of(s), NULL, NULL, NULL, &c, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(c.n, 6);
    cr_expect(c.points[4].reached && !c.points[4].guided);
    cr_expect(!c.points[5].reached && c.points[5].guided); /* 95% */
    cr_expect(c.points[3].reached);                        /* 47.5% */
    curve_result_fini(&c);
    session_free(s);
}

/* The refinement: with no measurement the prediction is the raw one (scale 1); after
 * measurements whose drops are twice the predicted ones, the scale moves toward 2 by
 * least squares with the prior: (p0^2 + sum d*m) / (p0^2 + sum d^2), p0 = 0.01. */
Test(curve, predictions_are_refined_by_measurements)
{
    struct err err;
    struct session *s = session_new(1, NULL, &err);
    struct dataset_options opt = {0};
    cr_assert_eq(session_load_model(s, tu_src_path("data/digits_mlp.onnx"), NULL, 0, &err), 0);
    cr_assert_eq(session_load_data(s, tu_src_path("data/digits.csv"), &opt, NULL, &err), 0);
    struct prediction p;
    cr_expect_eq(predict_config(tu_subject(s), &p, &err), -1);
    tu_expect_error(&err, "sensitivity", "");
    /* A table made by hand: 3 layers, levels 0 and 0.5, losing 0.1, 0.1 and 0.4 at 0.5
     * (so predictions are floored at 0.5). */
    struct sens_result *r = calloc(1, sizeof *r);
    r->n_layers = r->layers_done = 3;
    r->n_levels = 2;
    r->levels[1] = 0.5;
    r->baseline_accuracy = 0.9;
    r->accuracy = calloc(6, sizeof *r->accuracy);
    r->loss = calloc(6, sizeof *r->loss);
    r->correct = calloc(6, sizeof *r->correct);
    for (int i = 0; i < 3; i++)
        r->accuracy[2 * i] = 0.9, r->accuracy[2 * i + 1] = 0.8;
    r->accuracy[5] = 0.5;
    r->n_model_layers = 3; /* one row per layer */
    r->row_layer = calloc(3, sizeof *r->row_layer);
    r->row_members = calloc(3, sizeof *r->row_members);
    r->layer_row = calloc(3, sizeof *r->layer_row);
    for (int i = 0; i < 3; i++)
        r->row_layer[i] = (size_t)i, r->row_members[i] = 1, r->layer_row[i] = i;
    s->sens = r;
    struct prune_config cfg;
    cr_assert_eq(session_config_copy(s, &cfg, &err), 0);
    cfg.settings[0].sparsity = 0.25; /* predicted drop 0.05 */
    cr_assert_eq(session_configure(s, &cfg, &err), 0, "%s", err.msg);
    cr_assert_eq(predict_config(tu_subject(s), &p, &err), 0, "%s", err.msg);
    cr_expect_float_eq(p.raw, 0.85, 1e-12);
    cr_expect_float_eq(p.refined, 0.85, 1e-12);
    cr_expect_float_eq(p.scale, 1.0, 1e-12);
    predict_learn(&s->pred, &p, 0.8); /* measured drop 0.1 */
    predict_learn(&s->pred, &p, 0.8); /* the same configuration again: counted once */
    cr_assert_eq(predict_config(tu_subject(s), &p, &err), 0);
    double k = (1e-4 + 0.05 * 0.1) / (1e-4 + 0.05 * 0.05);
    cr_expect_eq(p.measured, 1);
    cr_expect_float_eq(p.scale, k, 1e-12);
    cr_expect_float_eq(p.refined, 0.9 - k * 0.05, 1e-12);
    cfg.settings[1].sparsity = 0.5; /* predicted drop 0.05 + 0.1 */
    cr_assert_eq(session_configure(s, &cfg, &err), 0);
    cr_assert_eq(predict_config(tu_subject(s), &p, &err), 0);
    cr_expect_float_eq(p.raw, 0.75, 1e-12);
    predict_learn(&s->pred, &p, 0.6); /* measured drop 0.3 */
    cr_assert_eq(predict_config(tu_subject(s), &p, &err), 0);
    k = (1e-4 + 0.05 * 0.1 + 0.15 * 0.3) / (1e-4 + 0.05 * 0.05 + 0.15 * 0.15);
    cr_expect_float_eq(p.scale, k, 1e-12);
    cfg.settings[2].sparsity = 0.5; /* drop 0.55: below the table's lowest accuracy */
    cr_assert_eq(session_configure(s, &cfg, &err), 0);
    cr_assert_eq(predict_config(tu_subject(s), &p, &err), 0);
    cr_expect_float_eq(p.raw, 0.5, 1e-12);
    cr_expect_float_eq(p.refined, 0.5, 1e-12);
    /* Global pruning reads each layer's zeros. */
    struct prune_config glob = cfg;
    glob.global = true;
    glob.global_sparsity = 0.5;
    cr_assert_eq(session_configure(s, &glob, &err), 0);
    double sp[3];
    alloc_config_sparsity(tu_subject(s), sp);
    for (size_t i = 0; i < 3; i++)
        cr_expect_float_eq(sp[i],
                           (double)session_layer_zeros(s, &s->layers.items[i]) /
                               (double)s->layers.items[i].params,
                           1e-12);
    cr_expect_float_eq(sp[0] * 2048 + sp[1] * 512 + sp[2] * 160, floor(0.5 * 2720), 1e-6);
    free(cfg.settings);
    session_free(s);
}

/* --recover reconstruct: every point is re-fitted on the training split and measured
 * again; at 47.5% removed (uniform) the re-fit is more accurate than one-shot, and the
 * weights are the configuration's again afterwards. */
Test(curve, recover_reconstruct_measures_each_point_again_and_puts_the_weights_back, .timeout = 120)
{
    tu_private_cache();
    struct session *s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    struct err err;
    cr_assert_eq(tu_run_line(s, "sensitivity", &err), 0, "%s", err.msg);
    struct metrics before, after;
    cr_assert_eq(session_eval(s, 0, &before, NULL, &err), 0);
    struct recover_spec rec = {
        .kind = RECOVER_RECONSTRUCT, .data = tu_src_path("data/digits-train.csv"), .damp = 0.01};
    struct curve_result c;
    cr_assert_eq(curve_run(tu_subject(s), 3, NULL, &rec, NULL, NULL, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.n, 6);
    const struct curve_point *mid = &c.points[2]; /* uniform at 47.5% */
    cr_expect(mid->target > 0.47 && mid->target < 0.48);
    cr_expect(!mid->guided);
    cr_expect(mid->recovered_correct > mid->correct, "re-fitted %zu, one-shot %zu correct",
              mid->recovered_correct, mid->correct);
    cr_expect_eq(c.points[0].recovered_correct, c.points[0].correct,
                 "nothing pruned: nothing re-fitted");
    cr_assert_eq(session_eval(s, 0, &after, NULL, &err), 0);
    cr_expect_eq(after.loss, before.loss, "the configuration's weights are back");
    curve_result_fini(&c);
    session_free(s);
    tu_remove_cache();
}
