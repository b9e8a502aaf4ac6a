/* Loading ONNX files: what a good model turns into, and clear failures (never crashes) for
 * empty, truncated, corrupt, non-ONNX and inconsistent files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "model/onnx_reader.h"
#include "testutil.h"

static const char *mlp_path(void)
{
    return tu_src_path("tests/fixtures/mlp_gemm/model.onnx");
}

Test(onnx_reader, reads_mlp_initializers_inputs_and_nodes)
{
    struct err err;
    struct graph *g = onnx_read_model_file(mlp_path(), &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_expect_eq(g->n_inputs, 1);
    cr_expect_eq(g->n_outputs, 1);
    const struct value *in = &g->values[g->inputs[0]];
    cr_expect_str_eq(in->name, "input");
    cr_expect_eq(in->shape.ndim, 2);
    cr_expect_eq(in->shape.dims[0], -1, "the batch dimension is symbolic");
    cr_expect_str_eq(in->dim_param[0], "N");
    cr_expect_eq(in->shape.dims[1], 64);
    cr_expect_eq(g->opset, 13);
    /* 64*32+32 + 32*16+16 + 16*10+10 parameters, by hand. */
    cr_expect_eq(graph_param_count(g), 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10);
    int gemms = 0;
    for (int n = 0; n < g->n_nodes; n++)
        gemms += strcmp(g->nodes[n].op_type, "Gemm") == 0;
    cr_expect_eq(gemms, 3);
    graph_free(g);
}

static void expect_load_error(const char *path, const char *const *needles)
{
    struct err err;
    struct engine *e = engine_open(path, 1, &err);
    cr_expect_null(e, "%s loaded but should not", path);
    engine_free(e);
    for (const char *const *n = needles; *n; n++)
        cr_expect(strstr(err.msg, *n) != NULL, "message '%s' lacks '%s'", err.msg, *n);
}

Test(onnx_reader, empty_file_is_refused_with_its_name)
{
    char *p = tu_write_temp("", 0, ".onnx");
    expect_load_error(p, (const char *[]){p, "empty", NULL});
    unlink(p);
    free(p);
}

Test(onnx_reader, non_onnx_text_file_is_refused)
{
    const char *text = "name,age\nalice,31\nbob,42\n";
    char *p = tu_write_temp(text, strlen(text), ".onnx");
    expect_load_error(p, (const char *[]){p, "not", "ONNX", NULL});
    unlink(p);
    free(p);
}

Test(onnx_reader, truncated_model_is_refused_at_every_cut)
{
    size_t len;
    struct err err;
    uint8_t *buf = onnx_slurp(mlp_path(), &len, &err);
    cr_assert_not_null(buf, "%s", err.msg);
    /* Cut at many points: each must give an error, none a crash or a silent success. */
    for (size_t cut = 1; cut < len; cut += len / 37 + 1) {
        struct graph *g = onnx_read_model(buf, cut, "cut.onnx", &err);
        if (g) {
            struct engine *e = engine_new(g, 1, &err);
            cr_expect_null(e, "model cut at %zu of %zu bytes loaded", cut, len);
            engine_free(e);
        }
        cr_expect(strstr(err.msg, "cut.onnx") != NULL, "cut %zu: '%s'", cut, err.msg);
    }
    free(buf);
}

Test(onnx_reader, corrupt_bytes_give_an_error_not_a_crash)
{
    size_t len;
    struct err err;
    uint8_t *buf = onnx_slurp(mlp_path(), &len, &err);
    cr_assert_not_null(buf, "%s", err.msg);
    unsigned seed = 12345;
    int refused = 0;
    for (int trial = 0; trial < 200; trial++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, buf, len);
        for (int k = 0; k < 8; k++) {
            seed = seed * 1103515245u + 12345u;
            copy[(seed >> 8) % len] ^= (uint8_t)(seed >> 3);
        }
        struct graph *g = onnx_read_model(copy, len, "corrupt.onnx", &err);
        struct engine *e = g ? engine_new(g, 1, &err) : NULL;
        refused += e == NULL;
        engine_free(e);
        free(copy);
    }
    /* Flipped bytes inside weights still make a valid model; structure damage must not. */
    cr_expect(refused > 0, "no corrupted copy was refused");
    free(buf);
}

Test(onnx_reader, initializer_raw_data_shorter_than_shape_is_refused)
{
    expect_load_error(tu_src_path("tests/fixtures/errors/bad_initializer.onnx"),
                      (const char *[]){"fc.weight", "[3,4]", "raw_data holds 40 bytes", NULL});
}

Test(onnx_reader, initializer_typed_data_count_mismatch_is_refused)
{
    expect_load_error(tu_src_path("tests/fixtures/errors/bad_initializer_typed.onnx"),
                      (const char *[]){"fc.weight", "[3,4]", "holds 7", NULL});
}

Test(onnx_reader, unsupported_op_names_node_op_and_supported_list)
{
    expect_load_error(
        tu_src_path("tests/fixtures/errors/unsupported_op.onnx"),
        (const char *[]){"einsum_1", "'Einsum'", "supported ops:", "Conv", "Gemm", NULL});
}

Test(onnx_reader, input_nobody_produces_is_named)
{
    expect_load_error(tu_src_path("tests/fixtures/errors/node_missing_input.onnx"),
                      (const char *[]){"ghost", NULL});
}

Test(onnx_reader, missing_file_names_the_path)
{
    expect_load_error("/nonexistent/dir/model.onnx",
                      (const char *[]){"/nonexistent/dir/model.onnx", "cannot open", NULL});
}
