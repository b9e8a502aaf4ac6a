/* Models exported with a fixed batch dimension (tests/fixtures/exports/, made from PyTorch by
 * make_exports.py) still run over every row: re-planned per chunk when the graph allows it,
 * B rows at a time (the last group padded) when a Reshape hard-codes the batch. Expected
 * values are PyTorch's outputs and argmax counts (expected.json). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "kernels/ops.h"
#include "model/onnx_reader.h"
#include "session/session.h"
#include "testutil.h"

#define TOL 1e-4

static const char *export_path(const char *name, const char *file)
{
    char rel[512];
    snprintf(rel, sizeof rel, "tests/fixtures/exports/%s%s%s", name, *file ? "/" : "", file);
    return tu_src_path(rel);
}

/* NAME/model.onnx, or NAME itself when it names a .onnx file. */
static struct engine *open_export(const char *name, int threads)
{
    struct err err;
    bool file = strstr(name, ".onnx") != NULL;
    struct engine *e = engine_open(export_path(name, file ? "" : "model.onnx"), threads, &err);
    cr_assert_not_null(e, "%s: %s", name, err.msg);
    return e;
}

static struct tensor *read_pb(const char *name, const char *file)
{
    struct err err;
    struct tensor *t = onnx_read_tensor_file(export_path(name, file), NULL, NULL, &err);
    cr_assert_not_null(t, "%s/%s: %s", name, file, err.msg);
    return t;
}

/* The first `rows` rows of t, the rows repeated when t has fewer. */
static struct tensor *first_rows(const struct tensor *t, int64_t rows)
{
    struct shape s = t->shape;
    s.dims[0] = rows;
    struct err err;
    struct tensor *r = tensor_new(t->dtype, &s, &err);
    cr_assert_not_null(r, "%s", err.msg);
    size_t row_bytes = tensor_bytes(t) / (size_t)t->shape.dims[0];
    for (int64_t i = 0; i < rows; i++)
        memcpy((char *)r->data + (size_t)i * row_bytes,
               (const char *)t->data + (size_t)(i % t->shape.dims[0]) * row_bytes, row_bytes);
    return r;
}

/* engine_run_rows over the first `rows` rows of the fixture's input (repeated past its
 * end: enough rows make the engine share them among the threads) against PyTorch's outputs
 * for them; returns the largest |engine - PyTorch|. */
static double expect_rows(const char *name, int threads, int64_t rows)
{
    struct engine *e = open_export(name, threads);
    struct tensor *in = read_pb(name, "test_data_set_0/input_0.pb");
    struct tensor *want = read_pb(name, "test_data_set_0/output_0.pb");
    struct tensor *vin = first_rows(in, rows), *vwant = first_rows(want, rows);
    struct tensor *got[1] = {NULL};
    struct err err;
    cr_assert_eq(engine_run_rows(e, vin, got, &err), 0, "%s: %s", name, err.msg);
    struct tu_compare c = tu_compare(got[0], vwant, 0, TOL);
    cr_expect(c.ok, "%s, %d threads, %lld rows (%s): %s", name, threads, (long long)rows,
              engine_batch_mode(e), c.why);
    cr_log_info("%s, %d thread(s), %lld rows, %s: max |engine - PyTorch| = %.3g", name, threads,
                (long long)rows, engine_batch_mode(e), c.worst_abs);
    tensor_free(got[0]);
    tensor_free(vin);
    tensor_free(vwant);
    tensor_free(in);
    tensor_free(want);
    engine_free(e);
    return c.worst_abs;
}

static void expect_mode(const char *name, const char *mode, int64_t fixed, const char *reason)
{
    struct engine *e = open_export(name, 1);
    cr_expect_str_eq(engine_batch_mode(e), mode, "%s", name);
    cr_expect_eq(engine_batch_fixed(e), fixed, "%s", name);
    if (reason)
        cr_expect(strstr(engine_batch_reason(e), reason), "%s: reason '%s' lacks '%s'", name,
                  engine_batch_reason(e), reason);
    else
        cr_expect_str_eq(engine_batch_reason(e), "", "%s", name);
    engine_free(e);
}

static void expect_case(const char *name, bool by_rows, int threads)
{
    char msg[1024] = "";
    enum tu_case_result r =
        tu_run_case(export_path(name, ""), 0, TOL, by_rows, threads, msg, sizeof msg);
    cr_expect_eq(r, TU_PASS, "%s (%s, %d threads): %s", name,
                 by_rows ? "engine_run_rows" : "engine_run", threads, msg);
}

Test(batch, fixed_batch_cnn_is_replanned_and_matches_pytorch)
{
    expect_mode("fixed_batch_cnn", "re-planned", 1, NULL);
    for (int threads = 1; threads <= 2; threads++) {
        expect_rows("fixed_batch_cnn", threads, 64);
        expect_rows("fixed_batch_cnn", threads, 63);
        expect_rows("fixed_batch_cnn", threads, 1);
        expect_rows("fixed_batch_cnn", threads, 509);
        expect_case("fixed_batch_cnn", true, threads);
    }
    /* Re-planned, one call on all 64 rows plans for them too. */
    expect_case("fixed_batch_cnn", false, 1);
}

Test(batch, hard_coded_reshape_runs_one_row_at_a_time)
{
    expect_mode("fixed_batch_reshape", "1 row at a time", 1, "node '/Reshape' hard-codes it");
    for (int threads = 1; threads <= 2; threads++) {
        expect_rows("fixed_batch_reshape", threads, 64);
        expect_rows("fixed_batch_reshape", threads, 7);
        expect_rows("fixed_batch_reshape", threads, 509);
        expect_case("fixed_batch_reshape", true, threads);
    }
}

Test(batch, batch_of_four_pads_the_last_group)
{
    expect_mode("fixed_batch4_reshape", "4 rows at a time", 4, "node '/Reshape' hard-codes it");
    const int64_t counts[] = {64, 63, 62, 61, 9, 5, 3, 1, 512, 509};
    for (int threads = 1; threads <= 2; threads++)
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
            expect_rows("fixed_batch4_reshape", threads, counts[i]);
}

/* A partial-run capture of an inner value keeps only the real rows of a padded group. */
Test(batch, padded_group_captures_only_the_real_rows)
{
    struct engine *e = open_export("fixed_batch4_reshape", 2);
    const struct graph *g = engine_graph(e);
    int relu = -1;
    for (int n = 0; n < g->n_nodes && relu < 0; n++)
        if (strcmp(g->nodes[n].op_type, "Relu") == 0)
            relu = g->nodes[n].outputs[0];
    cr_assert_geq(relu, 0);
    struct tensor *in = read_pb("fixed_batch4_reshape", "test_data_set_0/input_0.pb");
    struct tensor *all[1] = {NULL}, *part[1] = {NULL}, *out[1] = {NULL};
    struct err err;
    struct engine_rows_opts opts = {.n_capture = 1, .capture_values = &relu, .captured = all};
    cr_assert_eq(engine_run_rows_ex(e, in, &opts, out, &err), 0, "%s", err.msg);
    tensor_free(out[0]);
    struct tensor v = *in;
    v.owns_data = false;
    v.shape.dims[0] = 61;
    opts.captured = part;
    cr_assert_eq(engine_run_rows_ex(e, &v, &opts, out, &err), 0, "%s", err.msg);
    cr_assert_eq(part[0]->shape.dims[0], 61);
    cr_expect(memcmp(part[0]->data, all[0]->data, tensor_bytes(part[0])) == 0,
              "the first 61 rows of the captured Relu output differ");
    tensor_free(out[0]);
    tensor_free(all[0]);
    tensor_free(part[0]);
    tensor_free(in);
    engine_free(e);
}

Test(batch, rows_that_mix_in_a_batch_are_not_replanned)
{
    expect_mode("mix_rows.onnx", "1 row at a time", 1, "batched differs");
}

Test(batch, dynamic_layernorm_kws_matches_pytorch)
{
    const char *need[] = {"ReduceMean", "Sub", "Pow", "Sqrt", "Div", "Mul", "Add", "Transpose"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!ops_find(need[i]))
            cr_skip_test("op %s is not in the operator table yet", need[i]);
    expect_mode("layernorm_kws", "dynamic", 0, NULL);
    for (int threads = 1; threads <= 2; threads++) {
        expect_rows("layernorm_kws", threads, 16);
        expect_rows("layernorm_kws", threads, 5);
        expect_rows("layernorm_kws", threads, 64);
        expect_case("layernorm_kws", true, threads);
    }
    expect_case("layernorm_kws", false, 1);
}

static json_t *expected(const char *name)
{
    json_error_t je;
    json_t *all = json_load_file(export_path("expected.json", ""), 0, &je);
    cr_assert_not_null(all, "expected.json: %s (line %d)", je.text, je.line);
    json_t *r = json_incref(json_object_get(all, name));
    json_decref(all);
    cr_assert_not_null(r, "expected.json has no %s", name);
    return r;
}

/* Runs prunescope --json -t threads -e CMD on the fixture's model and data; the last line. */
static json_t *run_json(const char *name, const char *cmd, int threads)
{
    json_t *ref = expected(name);
    const char *csv = json_string_value(json_object_get(ref, "csv"));
    char line[8192], data[4096] = "";
    if (csv)
        snprintf(data, sizeof data, "'%s'", export_path(name, csv));
    snprintf(line, sizeof line, "'%s' --json -t %d -e '%s' '%s' %s 2>&1", getenv("PRUNESCOPE_BIN"),
             threads, cmd, export_path(name, "model.onnx"), data);
    json_decref(ref);
    char *out = NULL;
    int status = tu_run_capture(line, &out);
    cr_assert_eq(status, 0, "%s: %s", line, out);
    char *last = out, *nl;
    while ((nl = strchr(last, '\n')) && nl[1])
        last = nl + 1;
    json_error_t je;
    json_t *obj = json_loads(last, 0, &je);
    cr_assert_not_null(obj, "not JSON: '%s' (%s)", last, je.text);
    free(out);
    return obj;
}

static void expect_eval(const char *name)
{
    json_t *ref = expected(name);
    for (int threads = 1; threads <= 2; threads++) {
        json_t *got = run_json(name, "eval", threads);
        cr_expect_eq(json_integer_value(json_object_get(got, "correct")),
                     json_integer_value(json_object_get(ref, "correct")),
                     "%s, %d threads: %lld correct, PyTorch %lld", name, threads,
                     json_integer_value(json_object_get(got, "correct")),
                     json_integer_value(json_object_get(ref, "correct")));
        cr_expect_eq(json_integer_value(json_object_get(got, "rows")),
                     json_integer_value(json_object_get(ref, "rows")), "%s", name);
        json_decref(got);
    }
    json_decref(ref);
}

Test(batch, eval_counts_the_rows_pytorch_gets_right)
{
    expect_eval("fixed_batch_cnn");
    expect_eval("fixed_batch_reshape");
    if (ops_find("Pow") && ops_find("Sqrt"))
        expect_eval("layernorm_kws");
}

Test(batch, info_says_how_the_batch_runs)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' -e info '%s' '%s' 2>&1", getenv("PRUNESCOPE_BIN"),
             export_path("fixed_batch_cnn", "model.onnx"),
             export_path("fixed_batch_reshape", "data.csv"));
    cr_assert_eq(tu_run_capture(cmd, &out), 0, "%s", out);
    cr_expect(strstr(out, "\ninput    input [N,1,16,16] float32\n"), "%s", out);
    cr_expect(strstr(out, "\nbatch    fixed 1 in the file; re-planned per chunk\n"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' -e info '%s' 2>&1", getenv("PRUNESCOPE_BIN"),
             export_path("fixed_batch_reshape", "model.onnx"));
    cr_assert_eq(tu_run_capture(cmd, &out), 0, "%s", out);
    cr_expect(strstr(out, "\nbatch    fixed 1 in the file; run 1 row at a time (node '/Reshape' "
                          "hard-codes it)\n"),
              "%s", out);
    free(out);
    json_t *j = run_json("fixed_batch4_reshape", "info", 1);
    json_t *b = json_object_get(j, "batch");
    cr_expect_str_eq(json_string_value(json_object_get(b, "mode")), "4 rows at a time");
    cr_expect_eq(json_integer_value(json_object_get(b, "fixed")), 4);
    cr_expect_str_eq(json_string_value(json_object_get(b, "reason")),
                     "node '/Reshape' hard-codes it");
    json_decref(j);
}

/* The batch-agnostic CNN declared for a fixed batch of 4 (its graph read, the input's and
 * output's batch set to 4): rows do not depend on each other, so it is re-planned, and
 * every row still equals PyTorch's. */
Test(batch, a_fixed_batch_of_four_without_hard_coding_is_replanned)
{
    struct err err;
    struct graph *g = onnx_read_model_file(export_path("fixed_batch_cnn", "model.onnx"), &err);
    cr_assert_not_null(g, "%s", err.msg);
    g->values[g->inputs[0]].shape.dims[0] = 4;
    g->values[g->outputs[0]].shape.dims[0] = 4;
    struct engine *e = engine_new(g, 2, &err);
    cr_assert_not_null(e, "%s", err.msg);
    cr_expect_str_eq(engine_batch_mode(e), "re-planned", "%s", engine_batch_reason(e));
    cr_expect_eq(engine_batch_fixed(e), 4);
    struct tensor *in = read_pb("fixed_batch_cnn", "test_data_set_0/input_0.pb");
    struct tensor *want = read_pb("fixed_batch_cnn", "test_data_set_0/output_0.pb");
    struct tensor *got[1] = {NULL};
    cr_assert_eq(engine_run_rows(e, in, got, &err), 0, "%s", err.msg);
    struct tu_compare c = tu_compare(got[0], want, 0, TOL);
    cr_expect(c.ok, "%s", c.why);
    tensor_free(got[0]);
    tensor_free(in);
    tensor_free(want);
    engine_free(e);
}

/* Taylor saliency on fixed-batch models: the re-planned CNN takes its gradients in chunks,
 * the one whose Reshape hard-codes the batch one row at a time; both hold the same weights
 * (the same seed), so filter pruning by taylor must pick the same filters. */
Test(batch, taylor_gradients_follow_the_batch_mode)
{
    struct session *s[2];
    const char *names[2] = {"fixed_batch_cnn", "fixed_batch_reshape"};
    for (int i = 0; i < 2; i++) {
        char model[256], csv[256];
        snprintf(model, sizeof model, "tests/fixtures/exports/%s/model.onnx", names[i]);
        snprintf(csv, sizeof csv, "tests/fixtures/exports/%s/data.csv", names[i]);
        s[i] = tu_open_session(model, csv, 0, 2);
        struct err err;
        struct prune_config cfg;
        cr_assert_eq(session_config_copy(s[i], &cfg, &err), 0);
        cfg.settings[0] = (struct prune_setting){0.3, CRIT_TAYLOR, GRAN_FILTER};
        cr_assert_eq(session_configure(s[i], &cfg, &err), 0, "%s: %s", names[i], err.msg);
        free(cfg.settings);
    }
    const struct layer *l0 = &s[0]->layers.items[0], *l1 = &s[1]->layers.items[0];
    const float *w0 = tensor_f32(engine_graph(s[0]->engine)->values[l0->weight].constant);
    const float *w1 = tensor_f32(engine_graph(s[1]->engine)->values[l1->weight].constant);
    cr_assert_eq(l0->params, l1->params);
    size_t zeros = 0;
    for (int64_t k = 0; k < l0->params; k++) {
        cr_expect_eq(w0[k] == 0.0f, w1[k] == 0.0f, "weight %lld pruned in one model only",
                     (long long)k);
        zeros += w0[k] == 0.0f;
    }
    cr_expect_gt(zeros, 0);
    struct metrics m[2];
    for (int i = 0; i < 2; i++) {
        struct err err;
        double ms;
        cr_assert_eq(session_eval(s[i], 0, &m[i], &ms, &err), 0, "%s", err.msg);
    }
    cr_expect_eq(m[0].correct, m[1].correct);
    session_free(s[0]);
    session_free(s[1]);
}
