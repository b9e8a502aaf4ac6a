/* The bundled demo models evaluated on their CSVs give exactly what PyTorch measured when
 * data/make_data.py made them (data/reference.json), through the program as a user runs
 * it with --json. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static json_t *reference(const char *model)
{
    json_error_t je;
    json_t *all = json_load_file(tu_src_path("data/reference.json"), 0, &je);
    cr_assert_not_null(all, "data/reference.json: %s (line %d)", je.text, je.line);
    json_t *r = json_incref(json_object_get(all, model));
    json_decref(all);
    cr_assert_not_null(r, "data/reference.json has no %s", model);
    return r;
}

/* Runs prunescope --json -e CMDS MODEL CSV [--scale X] and returns its lines parsed. */
static json_t *run_json(const char *cmds, json_t *ref, int *status)
{
    char cmd[8192], scale[64] = "";
    double s = json_number_value(json_object_get(ref, "scale"));
    if (s != 1.0)
        snprintf(scale, sizeof scale, "--scale %.17g", s);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && XDG_CONFIG_HOME=/nonexistent '%s' --json %s -e '%s' data/%s data/%s 2>&1",
             tu_src_path("."), getenv("PRUNESCOPE_BIN"), scale, cmds,
             json_string_value(json_object_get(ref, "model")),
             json_string_value(json_object_get(ref, "csv")));
    char *out = NULL;
    *status = tu_run_capture(cmd, &out);
    json_t *lines = json_array();
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *obj = json_loads(line, 0, &je);
        cr_assert_not_null(obj, "not one JSON object per line: '%s' (%s)", line, je.text);
        json_array_append_new(lines, obj);
    }
    free(out);
    return lines;
}

static void expect_keys(json_t *obj, const char *const *keys)
{
    for (const char *const *k = keys; *k; k++)
        cr_expect(json_object_get(obj, *k) != NULL, "key '%s' missing from %s", *k,
                  json_dumps(obj, JSON_COMPACT));
}

static void check_demo(const char *model)
{
    json_t *ref = reference(model);
    int status;
    json_t *lines = run_json("info; layers; eval", ref, &status);
    cr_assert_eq(status, 0);
    cr_assert_eq(json_array_size(lines), 3, "one object per command expected");
    json_t *info = json_array_get(lines, 0), *layers = json_array_get(lines, 1),
           *eval = json_array_get(lines, 2);
    cr_expect_str_eq(json_string_value(json_object_get(info, "command")), "info");
    expect_keys(info, (const char *[]){"model", "inputs", "outputs", "nodes", "params",
                                       "prunable_layers", "macs_per_row", "data", NULL});
    json_t *arr = json_object_get(layers, "layers");
    cr_assert(json_array_size(arr) >= 2);
    for (size_t i = 0; i < json_array_size(arr); i++)
        expect_keys(json_array_get(arr, i),
                    (const char *[]){"index", "name", "op", "weight", "shape", "params", "sparsity",
                                     "criterion", "granularity", NULL});
    expect_keys(eval, (const char *[]){"accuracy", "correct", "rows", "loss", "params",
                                       "nonzero_params", "sparsity", "weight_bytes", "storage",
                                       "latency_ms", "energy_uj", "flash_bytes", "sram_bytes",
                                       "fits_flash", "fits_sram", "profile", "elapsed_ms", NULL});
    /* The bundled profiles are there: the default one's estimate, flash as weight_bytes. */
    cr_expect_str_eq(json_string_value(json_object_get(eval, "profile")), "cortex-m7");
    cr_expect(json_number_value(json_object_get(eval, "latency_ms")) > 0);
    cr_expect_eq(json_number_value(json_object_get(eval, "flash_bytes")),
                 (double)json_integer_value(json_object_get(eval, "weight_bytes")));
    /* Exactly PyTorch's count of correct rows; the loss to float precision. */
    json_int_t want_correct = json_integer_value(json_object_get(ref, "correct"));
    json_int_t want_rows = json_integer_value(json_object_get(ref, "rows"));
    cr_expect_eq(json_integer_value(json_object_get(eval, "correct")), want_correct,
                 "%s: %lld correct, PyTorch %lld", model,
                 (long long)json_integer_value(json_object_get(eval, "correct")),
                 (long long)want_correct);
    cr_expect_eq(json_integer_value(json_object_get(eval, "rows")), want_rows);
    double loss = json_real_value(json_object_get(eval, "loss"));
    double want_loss = json_real_value(json_object_get(ref, "loss"));
    cr_expect(fabs(loss - want_loss) < 1e-5, "%s: loss %.9f, PyTorch %.9f", model, loss, want_loss);
    json_decref(lines);
    json_decref(ref);
}

Test(demo, digits_mlp_accuracy_equals_pytorch)
{
    check_demo("digits_mlp");
}

Test(demo, fashion_cnn_accuracy_equals_pytorch_on_10000_rows)
{
    check_demo("fashion_cnn");
}

Test(demo, no_arguments_opens_the_demo)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "cd /tmp && echo 'eval' | '%s' 2>&1", getenv("PRUNESCOPE_BIN"));
    cr_expect_eq(tu_run_capture(cmd, &out), 0, "%s", out);
    json_t *ref = reference("digits_mlp");
    char want[128];
    snprintf(want, sizeof want, "(%lld of %lld rows)",
             (long long)json_integer_value(json_object_get(ref, "correct")),
             (long long)json_integer_value(json_object_get(ref, "rows")));
    cr_expect(strstr(out, want), "expected '%s' in:\n%s", want, out);
    json_decref(ref);
    free(out);
}
