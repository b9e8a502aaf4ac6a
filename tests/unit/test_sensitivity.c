/* The sensitivity sweep: its table equals per-layer pruning evaluated independently
 * (PyTorch's counts in tests/fixtures/prune for the digits MLP; full evaluations through
 * the session for the Fashion-MNIST CNN), it is cached and reloaded, and bad requests are
 * refused. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/sensitivity.h"
#include "testutil.h"

static struct session *open_demo(const char *model, const char *csv, float scale)
{
    return tu_open_session(model, csv, scale, 2);
}

Test(sensitivity, digits_table_equals_pytorch_per_layer_pruning, .init = tu_private_cache,
     .fini = tu_remove_cache)
{
    json_error_t je;
    json_t *root = json_load_file(tu_src_path("tests/fixtures/prune/digits_prune.json"), 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    struct session *s = open_demo("data/digits_mlp.onnx", "data/digits.csv", 1.0f);
    struct sens_options o = {.levels = {0, 0.5, 0.7, 0.9, 0.95}, .n_levels = 5};
    struct sens_result r;
    struct err err;
    cr_assert_eq(sens_run(tu_subject(s), &o, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.layers_done, 3);
    cr_expect_eq(r.baseline_correct, 351);
    json_t *configs = json_object_get(root, "configs");
    const char *short_names[] = {"fc1", "fc2", "fc3"};
    for (size_t li = 0; li < 3; li++) {
        cr_expect_eq(r.correct[li * 5], 351, "level 0 is the unpruned model");
        for (size_t lv = 1; lv < 5; lv++) {
            char name[64];
            snprintf(name, sizeof name, "unstructured-%s-%g", short_names[li], o.levels[lv]);
            json_int_t want = -1;
            for (size_t k = 0; k < json_array_size(configs); k++) {
                json_t *c = json_array_get(configs, k);
                if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
                    want = json_integer_value(json_object_get(c, "correct"));
            }
            cr_assert_geq(want, 0, "no fixture %s", name);
            cr_expect_eq((json_int_t)r.correct[li * 5 + lv], want, "%s: %zu correct, PyTorch %lld",
                         name, r.correct[li * 5 + lv], (long long)want);
        }
    }
    /* The session's own configuration is back on the weights. */
    struct weight_stats ws;
    session_weight_stats(s, &ws);
    cr_expect_eq(ws.prunable_zeros, 0);
    sens_result_fini(&r);

    /* A second run comes from the cache with the same table. */
    struct sens_result again;
    cr_assert_eq(sens_run(tu_subject(s), &o, NULL, NULL, &again, &err), 0, "%s", err.msg);
    cr_expect(again.from_cache);
    cr_expect_eq(again.correct[1 * 5 + 3], 302);
    sens_result_fini(&again);
    session_free(s);
    json_decref(root);
}

Test(sensitivity, cnn_downstream_runs_equal_full_evaluations, .init = tu_private_cache,
     .fini = tu_remove_cache)
{
    const float scale = 0.00392156862745098f;
    struct session *s = open_demo("data/fashion_cnn.onnx", "data/fashion-mnist-test.csv.gz", scale);
    struct sens_options o = {.levels = {0.5, 0.9}, .n_levels = 2};
    struct sens_result r;
    struct err err;
    cr_assert_eq(sens_run(tu_subject(s), &o, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.rows, 10000);
    cr_expect_eq(r.baseline_correct, 8899);
    /* Each entry again, as a whole-model evaluation of a configuration with only that
     * layer set. */
    for (size_t li = 0; li < s->layers.count; li++)
        for (size_t lv = 0; lv < 2; lv++) {
            struct prune_config cfg;
            cr_assert_eq(session_config_copy(s, &cfg, &err), 0);
            memset(cfg.settings, 0, s->layers.count * sizeof *cfg.settings);
            cfg.settings[li].sparsity = o.levels[lv];
            cr_assert_eq(session_configure(s, &cfg, &err), 0, "%s", err.msg);
            free(cfg.settings);
            struct metrics m;
            double ms;
            cr_assert_eq(session_eval(s, 0, &m, &ms, &err), 0, "%s", err.msg);
            cr_expect_eq(r.correct[li * 2 + lv], m.correct, "%s at %g: sweep %zu, full run %zu",
                         r.names[li], o.levels[lv], r.correct[li * 2 + lv], m.correct);
        }
    sens_result_fini(&r);

    /* A stratified sample keeps every class in proportion (1,000 rows per class here). */
    struct sens_options sample = {.levels = {0}, .n_levels = 1, .rows = 500};
    cr_assert_eq(sens_run(tu_subject(s), &sample, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_expect_eq(r.rows, 500);
    sens_result_fini(&r);
    session_free(s);
}

Test(sensitivity, refuses_bad_requests_and_recomputes_a_damaged_cache, .init = tu_private_cache,
     .fini = tu_remove_cache)
{
    struct session *s = open_demo("data/digits_mlp.onnx", "data/digits.csv", 1.0f);
    struct sens_result r;
    struct err err;
    struct sens_options o = {.levels = {0.5, 1.0}, .n_levels = 2};
    cr_expect_eq(sens_run(tu_subject(s), &o, NULL, NULL, &r, &err), -1);
    tu_expect_error(&err, "level 1 is outside [0, 1)", NULL);
    o.n_levels = 0;
    cr_expect_eq(sens_run(tu_subject(s), &o, NULL, NULL, &r, &err), -1);
    tu_expect_error(&err, "the list of levels is empty", NULL);
    o = (struct sens_options){.levels = {0.5}, .n_levels = 1, .rows = 361};
    cr_expect_eq(sens_run(tu_subject(s), &o, NULL, NULL, &r, &err), -1);
    tu_expect_error(&err, "--rows 361 is more than the 360 rows", NULL);
    o.rows = 0;
    cr_assert_eq(sens_run(tu_subject(s), &o, NULL, NULL, &r, &err), 0, "%s", err.msg);
    char path[4096];
    snprintf(path, sizeof path, "%s", r.cache_path);
    size_t want = r.correct[0];
    sens_result_fini(&r);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs("{\"key\": \"garbage", f);
    fclose(f);
    cr_assert_eq(sens_run(tu_subject(s), &o, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_expect(!r.from_cache);
    cr_expect(strstr(r.cache_note, "damaged"), "%s", r.cache_note);
    cr_expect_eq(r.correct[0], want);
    sens_result_fini(&r);
    session_free(s);
}

/* Ctrl-C (the session's cancel flag, set here from the progress callback as the signal
 * handler would) stops the sweep between evaluations: the finished layers equal an
 * uninterrupted sweep, nothing is cached, and the session's weights are its own again. */
static volatile sig_atomic_t cancel_flag;

static void cancel_after(void *ctx, size_t done, size_t total, double elapsed_s)
{
    (void)total, (void)elapsed_s;
    if (done >= *(const size_t *)ctx)
        cancel_flag = 1;
}

static void check_cancel(const char *model, const char *csv, float scale, int threads,
                         size_t rows, size_t at, size_t exact_layers)
{
    struct err err;
    tu_remove_cache(); /* no table from the case before */
    cancel_flag = 0;
    struct session *s = session_new(threads, &cancel_flag, &err);
    cr_assert_not_null(s, "%s", err.msg);
    struct dataset_options opt = {.scale = scale};
    cr_assert_eq(session_load_model(s, tu_src_path(model), NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(session_load_data(s, tu_src_path(csv), &opt, NULL, &err), 0, "%s", err.msg);
    struct metrics before, after;
    cr_assert_eq(session_eval(s, 0, &before, NULL, &err), 0, "%s", err.msg);
    struct sens_options o = {
        .levels = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95}, .n_levels = 11, .rows = rows};
    if (!exact_layers) {
        /* 60 levels a layer: far more work than a stop at the first report leaves done,
         * however the two threads are scheduled. */
        o.n_levels = 60;
        for (size_t i = 0; i < o.n_levels; i++)
            o.levels[i] = 0.016 * (double)i;
    }
    struct sens_result cut, full;
    cr_assert_eq(sens_run(tu_subject(s), &o, cancel_after, &at, &cut, &err), 0, "%s", err.msg);
    cr_expect_lt(cut.layers_done, cut.n_layers, "%s, %d threads: the sweep was not stopped",
                 model, threads);
    if (exact_layers)
        cr_expect_eq(cut.layers_done, exact_layers, "%s: %zu layers finished", model,
                     cut.layers_done);
    cr_expect(strstr(cut.cache_note, "cancelled") != NULL, "note: %s", cut.cache_note);
    cancel_flag = 0;
    cr_assert_eq(session_eval(s, 0, &after, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(after.correct, before.correct, "the weights are the session's again");
    cr_assert_eq(sens_run(tu_subject(s), &o, NULL, NULL, &full, &err), 0, "%s", err.msg);
    cr_expect_not(full.from_cache, "a cancelled sweep left a cache file");
    cr_expect_eq(full.layers_done, full.n_layers);
    for (size_t i = 0; i < cut.layers_done * o.n_levels; i++)
        cr_expect_eq(cut.correct[i], full.correct[i], "%s: layer %zu level %zu", model,
                     i / o.n_levels, i % o.n_levels);
    sens_result_fini(&cut);
    sens_result_fini(&full);
    session_free(s);
}

Test(sensitivity, ctrl_c_keeps_the_finished_layers, .init = tu_private_cache,
     .fini = tu_remove_cache)
{
    /* One thread: evaluations in order, so stopping after the first layer's 11 and one
     * more leaves exactly the first layer. */
    check_cancel("data/digits_mlp.onnx", "data/digits.csv", 1.0f, 1, 0, 12, 1);
    /* Two threads on the small model: two copies share the pairs out and only the first
     * reports, so the stop comes at its first report and the layers it leaves depend on
     * timing. */
    check_cancel("data/digits_mlp.onnx", "data/digits.csv", 1.0f, 2, 0, 1, 0);
    /* Two threads splitting rows (the CNN on a 1,000-row sample): in order again. */
    check_cancel("data/fashion_cnn.onnx", "data/fashion-mnist-test.csv.gz", 1.0f / 255.0f, 2,
                 1000, 12, 1);
}
