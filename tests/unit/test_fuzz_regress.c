/* The reproducers the fuzz harnesses (tests/fuzz/) found, each held as the bytes of the
 * input and checked for what the program should do with it. The defects were undefined
 * behaviour, leaks and wild reads, so some of these fail only in the sanitizer build
 * (scripts/test --sanitize), where they did before their fix. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "core/tensor.h"
#include "engine/engine.h"
#include "model/onnx_reader.h"
#include "testutil.h"

/* The bytes of a ModelProto written as a C string (sizeof - 1: no terminating zero). */
#define MODEL(s) (const uint8_t *)(s), sizeof(s) - 1

/* A graph with no node at all: input x [N,4] is also the output. The topological sort
 * passed the graph's NULL node array to memcpy (undefined behaviour, even for 0 bytes). */
static const char no_nodes[] =
    "\x08\x07\x3a\x2f\x12\x01\x67\x5a\x14\x0a\x01\x78\x12\x0f\x0a\x0d\x08\x01\x12\x09\x0a\x03"
    "\x12\x01\x4e\x0a\x02\x08\x04\x62\x14\x0a\x01\x78\x12\x0f\x0a\x0d\x08\x01\x12\x09\x0a\x03"
    "\x12\x01\x4e\x0a\x02\x08\x04\x42\x02\x10\x0d";

Test(fuzz_regress, graph_without_nodes_passes_its_input_through)
{
    struct err err;
    struct graph *g = onnx_read_model(MODEL(no_nodes), "no_nodes.onnx", &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_expect_eq(g->n_nodes, 0);
    struct engine *e = engine_new(g, 1, &err);
    cr_assert_not_null(e, "%s", err.msg);
    float x[8] = {1, -2, 3, -4, 5, -6, 7, -8};
    struct shape s = shape_make(2, (int64_t[]){2, 4});
    struct tensor *in = tensor_view(DTYPE_FLOAT, &s, x, &err), *out = NULL;
    cr_assert_not_null(in, "%s", err.msg);
    cr_assert_eq(engine_run(e, (const struct tensor *const *)&in, &out, &err), 0, "%s", err.msg);
    cr_expect(shape_equal(&out->shape, &s));
    cr_expect_eq(memcmp(out->data, x, sizeof x), 0, "the output is the input");
    tensor_free(out);
    tensor_free(in);
    engine_free(e);
}

/* Input x declared twice, first as [N,4], then as [3,4]. The reader overwrote the dims
 * without freeing the first declaration's dim names: a leak when both name a dim (an input
 * that is also an output, as no_nodes above), a stale "N" for a dim now fixed to 3 here. */
static const char declared_twice[] =
    "\x08\x07\x3a\x52\x0a\x0c\x0a\x01\x78\x12\x01\x79\x22\x04\x52\x65\x6c\x75\x12\x01\x67\x5a"
    "\x14\x0a\x01\x78\x12\x0f\x0a\x0d\x08\x01\x12\x09\x0a\x03\x12\x01\x4e\x0a\x02\x08\x04\x5a"
    "\x13\x0a\x01\x78\x12\x0e\x0a\x0c\x08\x01\x12\x08\x0a\x02\x08\x03\x0a\x02\x08\x04\x62\x14"
    "\x0a\x01\x79\x12\x0f\x0a\x0d\x08\x01\x12\x09\x0a\x03\x12\x01\x4e\x0a\x02\x08\x04\x42\x02"
    "\x10\x0d";

Test(fuzz_regress, value_declared_twice_takes_the_last_shape_and_its_dim_names)
{
    struct err err;
    struct graph *g = onnx_read_model(MODEL(declared_twice), "declared_twice.onnx", &err);
    cr_assert_not_null(g, "%s", err.msg);
    const struct value *x = &g->values[graph_find_value(g, "x")];
    cr_expect_eq(x->shape.ndim, 2);
    cr_expect_eq(x->shape.dims[0], 3);
    cr_expect_null(x->dim_param[0], "dim 0 is 3 now, not 'N'");
    graph_free(g);
}

/* Softmax 's' with no output beside Relu 'r' writing y. The kernels take output 0 as
 * given: the run read the tensor past the end of the node's empty output list. */
static const char node_without_output[] =
    "\x08\x07\x3a\x51\x0a\x0f\x0a\x01\x78\x1a\x01\x73\x22\x07\x53\x6f\x66\x74\x6d\x61\x78\x0a"
    "\x0f\x0a\x01\x78\x12\x01\x79\x1a\x01\x72\x22\x04\x52\x65\x6c\x75\x12\x01\x67\x5a\x14\x0a"
    "\x01\x78\x12\x0f\x0a\x0d\x08\x01\x12\x09\x0a\x03\x12\x01\x4e\x0a\x02\x08\x04\x62\x14\x0a"
    "\x01\x79\x12\x0f\x0a\x0d\x08\x01\x12\x09\x0a\x03\x12\x01\x4e\x0a\x02\x08\x04\x42\x02\x10"
    "\x0d";

Test(fuzz_regress, node_without_output_is_refused_by_name)
{
    struct err err;
    struct graph *g = onnx_read_model(MODEL(node_without_output), "m.onnx", &err);
    cr_assert_not_null(g, "%s", err.msg);
    struct engine *e = engine_new(g, 1, &err);
    cr_expect_null(e, "a node without output planned");
    engine_free(e);
    cr_expect(strstr(err.msg, "node 's' (Softmax) has no output") != NULL, "%s", err.msg);
}

/* Relu 'r' writes z, but the graph declares output y, which nothing writes: the model
 * loaded and its output was a buffer nobody filled. */
static const char output_not_produced[] =
    "\x08\x07\x3a\x40\x0a\x0f\x0a\x01\x78\x12\x01\x7a\x1a\x01\x72\x22\x04\x52\x65\x6c\x75\x12"
    "\x01\x67\x5a\x14\x0a\x01\x78\x12\x0f\x0a\x0d\x08\x01\x12\x09\x0a\x03\x12\x01\x4e\x0a\x02"
    "\x08\x04\x62\x14\x0a\x01\x79\x12\x0f\x0a\x0d\x08\x01\x12\x09\x0a\x03\x12\x01\x4e\x0a\x02"
    "\x08\x04\x42\x02\x10\x0d";

Test(fuzz_regress, graph_output_nobody_produces_is_refused_by_name)
{
    struct err err;
    struct graph *g = onnx_read_model(MODEL(output_not_produced), "m.onnx", &err);
    cr_expect_null(g, "a graph whose output nobody writes loaded");
    graph_free(g);
    cr_expect(strstr(err.msg, "graph output 'y' is produced by no node") != NULL, "%s", err.msg);
}

/* The file the ONNX harness wrote first (both defects above at once: a Softmax whose
 * output was mutated into its name). */
Test(fuzz_regress, first_onnx_finding_is_refused)
{
    struct err err;
    struct engine *e =
        engine_open(tu_src_path("tests/fixtures/fuzz/onnx-softmax-no-output.onnx"), 1, &err);
    cr_expect_null(e, "the fuzzer's Softmax without output planned");
    engine_free(e);
}

/* Conv of x [1,1,0,5] (an empty plane) with pads making y [1,1,3,7]: the kernels indexed
 * the empty input's NULL data (undefined behaviour). Every window reads padding only, so
 * y is the bias, here none: zeros. */
Test(fuzz_regress, conv_of_an_empty_plane_is_its_bias)
{
    struct err err;
    struct engine *e =
        engine_open(tu_src_path("tests/fixtures/fuzz/onnx-conv-empty-input.onnx"), 1, &err);
    cr_assert_not_null(e, "%s", err.msg);
    float w[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    struct shape xs = shape_make(4, (int64_t[]){1, 1, 0, 5});
    struct shape ws = shape_make(4, (int64_t[]){1, 1, 3, 3});
    struct tensor *ins[2] = {tensor_new(DTYPE_FLOAT, &xs, &err),
                             tensor_view(DTYPE_FLOAT, &ws, w, &err)};
    struct tensor *y = NULL;
    cr_assert(ins[0] && ins[1], "%s", err.msg);
    cr_assert_eq(engine_run(e, (const struct tensor *const *)ins, &y, &err), 0, "%s", err.msg);
    struct shape want = shape_make(4, (int64_t[]){1, 1, 3, 7});
    cr_expect(shape_equal(&y->shape, &want));
    for (size_t i = 0; i < shape_numel(&y->shape); i++)
        cr_expect_eq(((float *)y->data)[i], 0.0f, "y[%zu]", i);
    tensor_free(y);
    tensor_free(ins[0]);
    tensor_free(ins[1]);
    engine_free(e);
}

/* Gather from data [5,0,3,2] (no elements) with 3 indices: the copy indexed the empty
 * data's NULL storage (undefined behaviour). The output is [3,0,3,2], and an index out of
 * range is still an error. */
Test(fuzz_regress, gather_from_empty_data_checks_indices_and_copies_nothing)
{
    struct err err;
    struct engine *e =
        engine_open(tu_src_path("tests/fixtures/fuzz/onnx-gather-empty-data.onnx"), 1, &err);
    cr_assert_not_null(e, "%s", err.msg);
    struct shape ds = shape_make(4, (int64_t[]){5, 0, 3, 2});
    struct shape is = shape_make(1, (int64_t[]){3});
    int64_t good[3] = {0, 4, -1}, bad[3] = {0, 5, 1};
    struct tensor *ins[2] = {tensor_new(DTYPE_FLOAT, &ds, &err),
                             tensor_view(DTYPE_INT64, &is, good, &err)};
    struct tensor *y = NULL;
    cr_assert(ins[0] && ins[1], "%s", err.msg);
    cr_assert_eq(engine_run(e, (const struct tensor *const *)ins, &y, &err), 0, "%s", err.msg);
    struct shape want = shape_make(4, (int64_t[]){3, 0, 3, 2});
    cr_expect(shape_equal(&y->shape, &want));
    tensor_free(y);
    tensor_free(ins[1]);
    ins[1] = tensor_view(DTYPE_INT64, &is, bad, &err);
    y = NULL;
    cr_expect_eq(engine_run(e, (const struct tensor *const *)ins, &y, &err), -1);
    cr_expect(strstr(err.msg, "index 5 is out of range") != NULL, "%s", err.msg);
    tensor_free(y);
    tensor_free(ins[0]);
    tensor_free(ins[1]);
    engine_free(e);
}

/* AveragePool (kernel 3x3, stride 2, ceil mode) of x [4,0,5,74]: no channels, so no
 * elements and NULL data, which the channels-last path indexed (undefined behaviour). The
 * output is [4,0,2,37], empty as well. */
Test(fuzz_regress, pooling_no_channels_computes_nothing)
{
    struct err err;
    struct engine *e =
        engine_open(tu_src_path("tests/fixtures/fuzz/onnx-averagepool-no-channels.onnx"), 1, &err);
    cr_assert_not_null(e, "%s", err.msg);
    struct shape xs = shape_make(4, (int64_t[]){4, 0, 5, 74});
    struct tensor *x = tensor_new(DTYPE_FLOAT, &xs, &err), *y = NULL;
    cr_assert_not_null(x, "%s", err.msg);
    cr_assert_eq(engine_run(e, (const struct tensor *const *)&x, &y, &err), 0, "%s", err.msg);
    struct shape want = shape_make(4, (int64_t[]){4, 0, 2, 37});
    char got[96];
    cr_expect(shape_equal(&y->shape, &want), "y is %s", shape_format(&y->shape, got, sizeof got));
    tensor_free(y);
    tensor_free(x);
    engine_free(e);
}
