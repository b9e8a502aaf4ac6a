/* export model: a neuron-pruned MLP and a filter-pruned CNN come out physically smaller,
 * reload with the same count of correct rows, compute the same outputs as the masked model
 * (within 1e-4) and pass onnx.checker when Debian's python3-onnx is there. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/model.h"
#include "session/session.h"
#include "testutil.h"

static struct session *open_demo(const char *model, const char *csv, float scale)
{
    struct err err;
    struct session *s = session_new(2, NULL, &err);
    struct dataset_options opt = {.scale = scale};
    cr_assert_eq(session_load_model(s, tu_src_path(model), NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(session_load_data(s, tu_src_path(csv), &opt, NULL, &err), 0, "%s", err.msg);
    return s;
}

static void set_layer(struct session *s, const char *name, double sp, enum prune_criterion c,
                      enum prune_granularity g)
{
    struct err err;
    struct prune_config next;
    cr_assert_eq(session_config_copy(s, &next, &err), 0);
    const struct layer *l = layers_lookup(&s->layers, name);
    cr_assert_not_null(l, "%s", name);
    next.settings[l - s->layers.items] = (struct prune_setting){sp, c, g};
    cr_assert_eq(session_configure(s, &next, &err), 0, "%s", err.msg);
    free(next.settings);
}

static void check_export(struct session *s, const char *model, const char *csv, float scale,
                         const int64_t *const *want_shapes)
{
    char path[] = "/tmp/prunescope-export-XXXXXX.onnx";
    int fd = mkstemps(path, 5);
    cr_assert_geq(fd, 0);
    close(fd);
    struct err err;
    struct model_export_summary sum;
    cr_assert_eq(model_export(s, path, true, &sum, &err), 0, "%s", err.msg);
    cr_expect_lt(sum.bytes_after, sum.bytes_before);
    cr_expect_gt(sum.units_removed, 0);
    cr_expect_str_empty(sum.masked_only, "%s", sum.masked_only);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq((size_t)st.st_size, sum.bytes_after);

    struct metrics masked, shrunk;
    double ms;
    cr_assert_eq(session_eval(s, 0, &masked, &ms, &err), 0, "%s", err.msg);
    struct tensor *a = tu_outputs(s);

    struct session *r = session_new(2, NULL, &err);
    struct dataset_options opt = {.scale = scale};
    cr_assert_eq(session_load_model(r, path, NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(session_load_data(r, tu_src_path(csv), &opt, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(session_eval(r, 0, &shrunk, &ms, &err), 0, "%s", err.msg);
    cr_expect_eq(shrunk.correct, masked.correct, "%s: %zu correct after export, %zu masked", model,
                 shrunk.correct, masked.correct);
    for (size_t i = 0; i < r->layers.count && want_shapes[i]; i++) {
        struct shape want = shape_make((int)want_shapes[i][0], want_shapes[i] + 1);
        char g[64], w[64];
        cr_expect(shape_equal(&r->layers.items[i].shape, &want), "layer %zu: %s, expected %s", i,
                  shape_format(&r->layers.items[i].shape, g, sizeof g),
                  shape_format(&want, w, sizeof w));
    }
    struct tensor *b = tu_outputs(r);
    struct tu_compare cmp = tu_compare(b, a, 0.0, 1e-4);
    cr_expect(cmp.ok, "outputs differ from the masked model: %s", cmp.why);
    tensor_free(a);
    tensor_free(b);
    session_free(r);

    if (access("/usr/bin/python3", X_OK) == 0 &&
        system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import onnx; onnx.checker.check_model(onnx.load('%s'), "
                 "full_check=True)\" 2>&1",
                 path);
        char *out = NULL;
        cr_expect_eq(tu_run_capture(cmd, &out), 0, "onnx.checker: %s", out);
        free(out);
    } else {
        cr_log_warn("python3-onnx is not installed: onnx.checker not run");
    }
    unlink(path);
}

Test(export, neuron_pruned_mlp_is_smaller_and_computes_the_same)
{
    struct session *s = open_demo("data/digits_mlp.onnx", "data/digits.csv", 1.0f);
    set_layer(s, "/fc1/Gemm", 0.5, CRIT_L2, GRAN_NEURON);
    set_layer(s, "/fc2/Gemm", 0.25, CRIT_L2, GRAN_NEURON);
    /* fc1 loses 16 of 32 units; fc2 loses 4 of 16 units and 16 inputs; fc3 4 inputs. */
    const int64_t *shapes[] = {(int64_t[]){2, 16, 64}, (int64_t[]){2, 12, 16},
                               (int64_t[]){2, 10, 12}, NULL};
    check_export(s, "digits", "data/digits.csv", 1.0f, shapes);
    session_free(s);
}

Test(export, filter_pruned_cnn_is_smaller_and_computes_the_same)
{
    const float scale = 0.00392156862745098f;
    struct session *s = open_demo("data/fashion_cnn.onnx", "data/fashion-mnist-test.csv.gz", scale);
    set_layer(s, "/conv1/Conv", 0.25, CRIT_L1, GRAN_FILTER);
    set_layer(s, "/conv2/Conv", 0.5, CRIT_L2, GRAN_FILTER);
    /* conv1 8 -> 6 filters; conv2 16 -> 8 filters of 6 channels; fc1 loses the 8 removed
     * channels' 49 inputs each (784 -> 392). */
    const int64_t *shapes[] = {(int64_t[]){4, 6, 1, 3, 3}, (int64_t[]){4, 8, 6, 3, 3},
                               (int64_t[]){2, 64, 392}, (int64_t[]){2, 10, 64}, NULL};
    check_export(s, "fashion", "data/fashion-mnist-test.csv.gz", scale, shapes);
    session_free(s);
}

Test(export, masked_export_keeps_shapes_and_accuracy)
{
    struct session *s = open_demo("data/digits_mlp.onnx", "data/digits.csv", 1.0f);
    struct err err;
    struct prune_config next;
    cr_assert_eq(session_config_copy(s, &next, &err), 0);
    next.global = true;
    next.global_sparsity = 0.8;
    cr_assert_eq(session_configure(s, &next, &err), 0, "%s", err.msg);
    free(next.settings);
    char path[] = "/tmp/prunescope-export-XXXXXX.onnx";
    int fd = mkstemps(path, 5);
    close(fd);
    struct model_export_summary sum;
    cr_assert_eq(model_export(s, path, true, &sum, &err), 0, "%s", err.msg);
    cr_expect_eq(sum.units_removed, 0);
    struct session *r = open_demo("data/digits_mlp.onnx", "data/digits.csv", 1.0f);
    cr_assert_eq(session_load_model(r, path, NULL, 0, &err), 0, "%s", err.msg);
    struct metrics m1, m2;
    double ms;
    cr_assert_eq(session_eval(s, 0, &m1, &ms, &err), 0);
    cr_assert_eq(session_eval(r, 0, &m2, &ms, &err), 0);
    cr_expect_eq(m1.correct, m2.correct);
    struct weight_stats ws;
    session_weight_stats(r, &ws);
    cr_expect_eq(ws.prunable_zeros, 2176, "global 0.8 of 2720 weights zeroes 2176");
    session_free(r);
    session_free(s);
    unlink(path);
}
