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

#include "session/sensitivity.h"
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
    cr_assert_eq(sens_run(s, &o, NULL, NULL, &r, &err), 0, "%s", err.msg);
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
    cr_assert_eq(sens_run(s, &o, NULL, NULL, &again, &err), 0, "%s", err.msg);
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
    cr_assert_eq(sens_run(s, &o, NULL, NULL, &r, &err), 0, "%s", err.msg);
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
    cr_assert_eq(sens_run(s, &sample, NULL, NULL, &r, &err), 0, "%s", err.msg);
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
    cr_expect_eq(sens_run(s, &o, NULL, NULL, &r, &err), -1);
    tu_expect_error(&err, "level 1 is outside [0, 1)", NULL);
    o.n_levels = 0;
    cr_expect_eq(sens_run(s, &o, NULL, NULL, &r, &err), -1);
    tu_expect_error(&err, "the list of levels is empty", NULL);
    o = (struct sens_options){.levels = {0.5}, .n_levels = 1, .rows = 361};
    cr_expect_eq(sens_run(s, &o, NULL, NULL, &r, &err), -1);
    tu_expect_error(&err, "--rows 361 is more than the 360 rows", NULL);
    o.rows = 0;
    cr_assert_eq(sens_run(s, &o, NULL, NULL, &r, &err), 0, "%s", err.msg);
    char path[4096];
    snprintf(path, sizeof path, "%s", r.cache_path);
    size_t want = r.correct[0];
    sens_result_fini(&r);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs("{\"key\": \"garbage", f);
    fclose(f);
    cr_assert_eq(sens_run(s, &o, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_expect(!r.from_cache);
    cr_expect(strstr(r.cache_note, "damaged"), "%s", r.cache_note);
    cr_expect_eq(r.correct[0], want);
    sens_result_fini(&r);
    session_free(s);
}
