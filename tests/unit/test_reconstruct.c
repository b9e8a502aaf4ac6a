/* Reconstruction: the least-squares solution satisfies its normal equations (checked here
 * from the data, not from the solver), a full mask gives back the dense weights, and on the
 * bundled models at 90% it beats one-shot pruning; its checks of the input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/reconstruct.h"
#include "commands/command.h"
#include "testutil.h"

/* A deterministic pseudo-random number in [-1, 1). */
static double rnd(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (double)(*state >> 8) / (double)(1u << 23) - 1.0;
}

/* 2 units x 5 inputs, 40 rows; the pruned model's inputs x differ from the dense ones xd.
 * Unit 0 keeps inputs 0, 2, 3; unit 1 keeps 1 and 4. The solution w_K must make the
 * gradient of ||X_K w_K - X_d w_d||^2 + lambda ||w_K||^2 vanish, computed here directly
 * from the rows. */
Test(reconstruct, the_solution_satisfies_the_damped_normal_equations)
{
    enum { ROWS = 40, K = 5, UNITS = 2 };
    float x[ROWS * K], xd[ROWS * K], wd[UNITS * K];
    uint32_t st = 7;
    for (size_t i = 0; i < ROWS * K; i++) {
        xd[i] = (float)rnd(&st);
        x[i] = xd[i] + 0.3f * (float)rnd(&st);
    }
    for (size_t i = 0; i < UNITS * K; i++)
        wd[i] = (float)rnd(&st);
    float w[UNITS * K] = {wd[0], 0, wd[2], wd[3], 0, 0, wd[6], 0, 0, wd[9]};
    struct recon_geom gm = {.k = K, .kfull = K, .groups = 1, .in_numel = K};
    struct recon_stats stats;
    struct err err;
    cr_assert_eq(recon_stats_init(&stats, K, &err), 0);
    cr_assert_eq(recon_accumulate(&stats, &gm, x, xd, ROWS, &err), 0);
    cr_expect_eq(stats.samples, ROWS);
    struct weight_view v = {.units = UNITS, .inputs = K, .unit_stride = K, .in_stride = 1};
    size_t skipped;
    const double damp = 0.01;
    cr_assert_eq(recon_solve(&stats, &v, wd, w, damp, &skipped, &err), 0);
    cr_expect_eq(skipped, 0);
    double diag = 0;
    for (size_t r = 0; r < ROWS; r++)
        for (size_t j = 0; j < K; j++)
            diag += (double)x[r * K + j] * x[r * K + j];
    double lambda = damp * diag / K + 1e-12;
    for (size_t u = 0; u < UNITS; u++)
        for (size_t j = 0; j < K; j++) {
            if (w[u * K + j] == 0.0f)
                continue; /* pruned: stays 0, no condition */
            double grad = lambda * w[u * K + j];
            for (size_t r = 0; r < ROWS; r++) {
                double pred = 0, want = 0;
                for (size_t i = 0; i < K; i++) {
                    pred += (double)x[r * K + i] * w[u * K + i];
                    want += (double)xd[r * K + i] * wd[u * K + i];
                }
                grad += (pred - want) * x[r * K + j];
            }
            cr_expect(fabs(grad) < 1e-4, "unit %zu input %zu: gradient %.3g", u, j, grad);
        }
    cr_expect_eq(w[1], 0.0f);
    cr_expect_eq(w[4], 0.0f);
    cr_expect_eq(w[5], 0.0f);
    recon_stats_fini(&stats);
}

/* Nothing pruned and the same inputs, no damping: the dense weights come back, also through
 * a padded, strided convolution's unfolded windows. */
Test(reconstruct, a_full_mask_on_unchanged_inputs_gives_back_the_dense_weights)
{
    /* A 2-channel 5x5 input, 3x3 windows, stride 2, pads 1: 3x3 outputs, k = 18. */
    enum { ROWS = 12, C = 2, H = 5, W = 5, K = C * 9, UNITS = 3 };
    float x[ROWS * C * H * W], wd[UNITS * K], w[UNITS * K];
    uint32_t st = 11;
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = (float)rnd(&st);
    for (size_t i = 0; i < UNITS * K; i++)
        w[i] = wd[i] = (float)rnd(&st);
    struct recon_geom gm = {.conv = true,
                            .k = K,
                            .kfull = K,
                            .groups = 1,
                            .in_numel = C * H * W,
                            .c = C,
                            .h = H,
                            .w = W,
                            .kh = 3,
                            .kw = 3,
                            .sh = 2,
                            .sw = 2,
                            .dh = 1,
                            .dw = 1,
                            .pt = 1,
                            .pl = 1,
                            .oh = 3,
                            .ow = 3};
    struct recon_stats stats;
    struct err err;
    cr_assert_eq(recon_stats_init(&stats, K, &err), 0);
    cr_assert_eq(recon_accumulate(&stats, &gm, x, x, ROWS, &err), 0);
    cr_expect_eq(stats.samples, ROWS * 9);
    struct weight_view v = {.units = UNITS, .inputs = K, .unit_stride = K, .in_stride = 1};
    size_t skipped;
    cr_assert_eq(recon_solve(&stats, &v, wd, w, 0.0, &skipped, &err), 0);
    for (size_t i = 0; i < UNITS * K; i++)
        cr_expect(fabs(w[i] - wd[i]) < 1e-4, "w[%zu] %.6f, dense %.6f", i, w[i], wd[i]);
    recon_stats_fini(&stats);
}

/* 90% with the guided allocation: reconstruct is more accurate than one-shot, the mask is
 * kept, and undo brings back the one-shot weights. */
static void beats_one_shot(const char *model, const char *data, float scale, const char *calib)
{
    tu_private_cache();
    struct session *s = tu_open_session(model, data, scale, 2);
    struct err err;
    cr_assert_eq(tu_run_line(s, "auto --params 90%", &err), 0, "%s", err.msg);
    struct metrics one_shot, rebuilt, back;
    struct weight_stats before, after;
    cr_assert_eq(session_eval(s, 0, &one_shot, NULL, &err), 0);
    session_weight_stats(s, &before);
    char line[4096];
    snprintf(line, sizeof line, "reconstruct --data %s", tu_src_path(calib));
    cr_assert_eq(tu_run_line(s, line, &err), 0, "%s", err.msg);
    cr_assert_eq(session_eval(s, 0, &rebuilt, NULL, &err), 0);
    session_weight_stats(s, &after);
    cr_expect(rebuilt.correct > one_shot.correct, "%s: reconstructed %.2f%%, one-shot %.2f%%",
              model, 100 * rebuilt.accuracy, 100 * one_shot.accuracy);
    cr_expect_eq(after.prunable_zeros, before.prunable_zeros, "the mask is kept");
    cr_assert_eq(session_undo(s, &err), 0, "%s", err.msg);
    cr_assert_eq(session_eval(s, 0, &back, NULL, &err), 0);
    cr_expect_eq(back.loss, one_shot.loss);
    session_free(s);
    tu_remove_cache();
}

Test(reconstruct, beats_one_shot_at_90_percent_on_the_digits_mlp, .timeout = 120)
{
    beats_one_shot("data/digits_mlp.onnx", "data/digits.csv", 0, "data/digits-train.csv");
}

Test(reconstruct, beats_one_shot_at_90_percent_on_the_fashion_cnn, .timeout = 300)
{
    beats_one_shot("data/fashion_cnn.onnx", "data/fashion-mnist-test.csv.gz", 0.00392156862745098f,
                   "data/fashion-mnist-train.csv.gz");
}

Test(reconstruct, refuses_the_validation_file_nothing_pruned_and_bad_options)
{
    struct session *s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    struct err err;
    char line[4096];
    snprintf(line, sizeof line, "reconstruct --data %s", tu_src_path("data/digits-train.csv"));
    cr_assert_eq(tu_run_line(s, line, &err), -1);
    cr_expect(strstr(err.msg, "nothing is pruned"), "%s", err.msg);
    cr_assert_eq(tu_run_line(s, "set all 50%", &err), 0);
    snprintf(line, sizeof line, "reconstruct --data %s", tu_src_path("data/digits.csv"));
    cr_assert_eq(tu_run_line(s, line, &err), -1);
    cr_expect(strstr(err.msg, "is the validation data"), "%s", err.msg);
    snprintf(line, sizeof line, "reconstruct --data %s --damp -1",
             tu_src_path("data/digits-train.csv"));
    cr_assert_eq(tu_run_line(s, line, &err), -1);
    cr_expect(strstr(err.msg, "--damp"), "%s", err.msg);
    cr_assert_eq(tu_run_line(s, "reconstruct", &err), -1);
    cr_expect(strstr(err.msg, "--data CALIB.csv") && strstr(err.msg, "--rows N"), "%s", err.msg);
    session_free(s);
}

/* Held-out validation rows: the first 120 calibrate, the other 240 are measured from then
 * on (eval agrees), the re-fit beats one-shot on them, and holding out every row is
 * refused. */
Test(reconstruct, on_held_out_validation_rows_measures_on_the_others)
{
    struct session *s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    struct err err;
    cr_assert_eq(tu_run_line(s, "auto --params 90%", &err), 0, "%s", err.msg);
    cr_assert_eq(tu_run_line(s, "reconstruct --rows 360", &err), -1);
    cr_expect(strstr(err.msg, "leave none of the 360"), "%s", err.msg);
    cr_expect_eq(s->data->rows, 360, "a refused hold-out changes nothing");
    /* One-shot on the rows that will be measured: rows 121..360. */
    struct session *ref = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    cr_assert_eq(tu_run_line(ref, "auto --params 90%", &err), 0, "%s", err.msg);
    cr_assert_eq(session_hold_out(ref, 120, &err), 0, "%s", err.msg);
    struct metrics one_shot, rebuilt;
    cr_assert_eq(session_eval(ref, 0, &one_shot, NULL, &err), 0);
    cr_expect_eq(one_shot.rows, 240);
    cr_assert_eq(tu_run_line(s, "reconstruct --rows 120", &err), 0, "%s", err.msg);
    cr_assert_eq(session_eval(s, 0, &rebuilt, NULL, &err), 0);
    cr_expect_eq(rebuilt.rows, 240, "measured on the 240 rows not held out");
    cr_expect(rebuilt.correct > one_shot.correct, "reconstructed %zu, one-shot %zu of 240",
              rebuilt.correct, one_shot.correct);
    cr_expect_eq(s->data->labels[0], s->data_all->labels[120], "row 121 is the first measured");
    session_free(ref);
    session_free(s);
}
