/* Models exported by PyTorch (tests/fixtures/make_fixtures.py) with PyTorch's own outputs
 * for a few hundred rows: prunescope must reproduce them within 1e-4, whether the rows run
 * at once, in chunks on one thread, or in chunks on two, with and without SIMD kernels. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "testutil.h"

static void check_model(const char *name, const char *const *must_have_ops)
{
    char rel[256], msg[1024];
    snprintf(rel, sizeof rel, "tests/fixtures/%s", name);
    const char *dir = tu_src_path(rel);
    enum tu_case_result r = tu_run_case(dir, 0.0, 1e-4, false, 1, msg, sizeof msg);
    cr_expect_eq(r, TU_PASS, "%s, all rows at once: %s", name, msg);
    r = tu_run_case(dir, 0.0, 1e-4, true, 1, msg, sizeof msg);
    cr_expect_eq(r, TU_PASS, "%s, chunked rows on 1 thread: %s", name, msg);
    r = tu_run_case(dir, 0.0, 1e-4, true, 2, msg, sizeof msg);
    cr_expect_eq(r, TU_PASS, "%s, chunked rows on 2 threads: %s", name, msg);
    /* Again without the SIMD convolution kernel, so the portable im2col + GEMM path that
     * CPUs without AVX2 take is checked on every machine. */
    setenv("PRUNESCOPE_SIMD", "0", 1);
    r = tu_run_case(dir, 0.0, 1e-4, true, 2, msg, sizeof msg);
    unsetenv("PRUNESCOPE_SIMD");
    cr_expect_eq(r, TU_PASS, "%s, chunked rows on 2 threads, no SIMD: %s", name, msg);

    /* The fixture must exercise what it claims to. */
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    struct err err;
    struct engine *e = engine_open(path, 1, &err);
    cr_assert_not_null(e, "%s", err.msg);
    const struct graph *g = engine_graph(e);
    for (const char *const *op = must_have_ops; *op; op++) {
        bool found = false;
        for (int n = 0; n < g->n_nodes; n++)
            found |= strcmp(g->nodes[n].op_type, *op) == 0;
        cr_expect(found, "%s has no %s node", name, *op);
    }
    engine_free(e);
}

Test(models, pytorch_mlp_with_gemm_matches_pytorch)
{
    check_model("mlp_gemm", (const char *[]){"Gemm", "Relu", "Tanh", NULL});
}

Test(models, pytorch_cnn_with_batchnorm_and_maxpool_matches_pytorch)
{
    check_model("cnn_bn", (const char *[]){"Conv", "BatchNormalization", "Relu", "MaxPool",
                                           "Flatten", "Gemm", NULL});
}

Test(models, pytorch_matmul_add_softmax_opset13_matches_pytorch)
{
    check_model("matmul_softmax", (const char *[]){"MatMul", "Add", "Softmax", NULL});
}

Test(models, pytorch_matmul_add_softmax_opset11_matches_pytorch)
{
    check_model("matmul_softmax_op11", (const char *[]){"MatMul", "Add", "Softmax", NULL});
}

Test(models, pytorch_cnn_with_view_chain_and_depthwise_conv_matches_pytorch)
{
    check_model("cnn_view",
                (const char *[]){"Conv", "HardSigmoid", "Mul", "LeakyRelu", "AveragePool",
                                 "Sigmoid", "Shape", "Gather", "Reshape", "LogSoftmax", NULL});
}

Test(models, pytorch_cnn_with_prelu_and_global_pool_matches_pytorch)
{
    check_model("cnn_gap", (const char *[]){"Conv", "PRelu", "HardSigmoid", "GlobalAveragePool",
                                            "Gemm", "Clip", NULL});
}

Test(models, bench_mlp_matches_pytorch)
{
    check_model("bench_mlp", (const char *[]){"Gemm", "Relu", NULL});
}

Test(models, bench_cnn_matches_pytorch)
{
    check_model("bench_cnn", (const char *[]){"Conv", "MaxPool", "Gemm", NULL});
}
