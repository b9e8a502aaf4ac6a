/* The CSR product against a plain triple loop, with and without AVX2, for shapes that leave
 * partial tiles; and whole models run with sparse kernels give the dense outputs within
 * 1e-4. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sparse.h"
#include "session/session.h"
#include "testutil.h"

static uint32_t lcg = 12345;
static float next_value(void)
{
    lcg = lcg * 1664525u + 1013904223u;
    return (float)(lcg >> 8) / 16777216.0f * 2.0f - 1.0f;
}

static void check_product(size_t units, size_t inputs, size_t rows, double zeros, bool trans,
                          bool accumulate, float alpha)
{
    float *w = malloc(units * inputs * sizeof *w), *x = malloc(rows * inputs * sizeof *x);
    float *y = malloc(rows * units * sizeof *y), *want = malloc(rows * units * sizeof *want);
    float *scratch = aligned_alloc(64, (inputs * CSR_TILE * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; i < units * inputs; i++) {
        float v = next_value();
        w[i] = fabsf(v) < zeros ? 0.0f : v; /* |v| uniform in [0, 1): about `zeros` zero */
    }
    for (size_t i = 0; i < rows * inputs; i++)
        x[i] = next_value();
    for (size_t i = 0; i < rows * units; i++)
        y[i] = want[i] = next_value();
    /* trans: w is [units, inputs]; else [inputs, units]. */
    for (size_t m = 0; m < rows; m++)
        for (size_t u = 0; u < units; u++) {
            double acc = 0.0;
            for (size_t i = 0; i < inputs; i++)
                acc += (double)(trans ? w[u * inputs + i] : w[i * units + u]) * x[m * inputs + i];
            want[m * units + u] = (float)((accumulate ? want[m * units + u] : 0.0) + alpha * acc);
        }
    struct err err;
    struct csr *c = trans ? csr_from_dense(w, units, inputs, inputs, 1, &err)
                          : csr_from_dense(w, units, inputs, 1, units, &err);
    cr_assert_not_null(c, "%s", err.msg);
    csr_gemm(c, x, rows, inputs, alpha, y, units, accumulate, scratch);
    for (size_t i = 0; i < rows * units; i++)
        cr_assert(fabsf(y[i] - want[i]) <= 1e-4f * (1 + fabsf(want[i])),
                  "[%zux%zu] rows %zu: element %zu is %g, expected %g", units, inputs, rows, i,
                  y[i], want[i]);
    csr_free(c);
    free(w), free(x), free(y), free(want), free(scratch);
}

/* The block-sparse product against the same loop, on weights zeroed in whole blocks. */
static void check_blocks(size_t units, size_t inputs, size_t rows, size_t bu, double zeros)
{
    float *w = malloc(units * inputs * sizeof *w), *x = malloc(rows * inputs * sizeof *x);
    float *y = malloc(rows * units * sizeof *y), *want = malloc(rows * units * sizeof *want);
    float *scratch = aligned_alloc(64, (inputs * CSR_TILE * sizeof(float) + 63) / 64 * 64);
    for (size_t br = 0; br < units / bu; br++)
        for (size_t bc = 0; bc < inputs / 4; bc++) {
            bool dead = fabsf(next_value()) < zeros;
            for (size_t u = br * bu; u < (br + 1) * bu; u++)
                for (size_t i = bc * 4; i < bc * 4 + 4; i++)
                    w[u * inputs + i] = dead ? 0.0f : next_value();
        }
    for (size_t i = 0; i < rows * inputs; i++)
        x[i] = next_value();
    for (size_t m = 0; m < rows; m++)
        for (size_t u = 0; u < units; u++) {
            double acc = 0.0;
            for (size_t i = 0; i < inputs; i++)
                acc += (double)w[u * inputs + i] * x[m * inputs + i];
            want[m * units + u] = (float)acc;
        }
    struct err err;
    cr_expect_eq(sparse_choose(w, units, inputs, inputs, 1),
                 zeros >= 0.75 ? SPARSE_BSR1 : SPARSE_DENSE, "[%zux%zu] %zux4 blocks at %.2f",
                 units, inputs, bu, zeros);
    struct bsr *b = bsr_from_dense(w, units, inputs, inputs, 1, bu, &err);
    cr_assert_not_null(b, "%s", err.msg);
    bsr_gemm(b, x, rows, inputs, 1.0f, y, units, false, scratch);
    for (size_t i = 0; i < rows * units; i++)
        cr_assert(fabsf(y[i] - want[i]) <= 1e-4f * (1 + fabsf(want[i])),
                  "bsr %zu [%zux%zu] rows %zu: element %zu is %g, expected %g", bu, units, inputs,
                  rows, i, y[i], want[i]);
    bsr_free(b);
    free(w), free(x), free(y), free(want), free(scratch);
}

static void all_shapes(void)
{
    check_blocks(64, 128, 45, 4, 0.9);
    check_blocks(32, 64, 70, 1, 0.8);
    check_blocks(8, 16, 3, 4, 0.3);
    check_product(7, 13, 1, 0.5, true, false, 1.0f);
    check_product(64, 100, 33, 0.9, true, false, 1.0f);
    check_product(10, 128, 70, 0.95, false, true, 0.5f);
    check_product(3, 5, 32, 0.0, true, true, -2.0f);
    check_product(16, 40, 65, 1.0, false, false, 1.0f); /* all zero */
    /* One to three rows: gathered dot products (16 and 8 non-zeros at a time, the rest one
     * by one), and a chunk whose last tile has three rows. */
    check_product(128, 784, 1, 0.8, true, false, 1.0f);
    check_product(50, 37, 3, 0.3, true, true, 0.5f);
    check_product(33, 70, 2, 0.6, false, false, -1.0f);
    check_product(20, 64, 35, 0.7, true, false, 1.0f);
}

Test(sparse, csr_product_matches_a_plain_loop)
{
    all_shapes();
}

Test(sparse, csr_product_matches_without_avx2)
{
    setenv("PRUNESCOPE_SIMD", "0", 1);
    all_shapes();
}

/* Output 0 of a model on rows of a deterministic input, with sparse kernels per mode. */
static struct tensor *run_model(struct session *s, const char *mode, size_t rows)
{
    setenv("PRUNESCOPE_SPARSE", mode, 1);
    engine_weights_changed(s->engine, NULL);
    struct err err;
    struct shape in;
    size_t f = session_model_features(s, &in, &err);
    struct shape sh = {.ndim = in.ndim + 1};
    sh.dims[0] = (int64_t)rows;
    for (int d = 0; d < in.ndim; d++)
        sh.dims[d + 1] = in.dims[d];
    struct tensor *x = tensor_new(DTYPE_FLOAT, &sh, &err), *out[4] = {NULL};
    for (size_t i = 0; i < rows * f; i++)
        tensor_f32(x)[i] = next_value();
    cr_assert_eq(engine_run_rows(s->engine, x, out, &err), 0, "%s", err.msg);
    tensor_free(x);
    return out[0];
}

Test(sparse, pruned_mlp_runs_the_same_with_sparse_kernels)
{
    struct err err;
    struct session *s = session_new(2, NULL, &err);
    cr_assert_eq(
        session_load_model(s, tu_src_path("tests/fixtures/bench_mlp/model.onnx"), NULL, 0, &err), 0,
        "%s", err.msg);
    struct prune_config next;
    cr_assert_eq(session_config_copy(s, &next, &err), 0);
    next.global = true;
    next.global_sparsity = 0.9;
    cr_assert_eq(session_configure(s, &next, &err), 0, "%s", err.msg);
    free(next.settings);
    cr_expect_str_eq(session_layer_kernel(s, &s->layers.items[0]), "csr");
    lcg = 99;
    struct tensor *dense = run_model(s, "never", 1000);
    lcg = 99;
    struct tensor *sparse = run_model(s, "always", 1000);
    struct tu_compare cmp = tu_compare(sparse, dense, 0.0, 1e-4);
    cr_expect(cmp.ok, "%s", cmp.why);
    tensor_free(dense);
    tensor_free(sparse);
    session_free(s);
}

Test(sparse, block_pruned_mlp_runs_the_same_with_block_kernels)
{
    struct err err;
    struct session *s = session_new(2, NULL, &err);
    cr_assert_eq(
        session_load_model(s, tu_src_path("tests/fixtures/bench_mlp/model.onnx"), NULL, 0, &err), 0,
        "%s", err.msg);
    struct prune_config next;
    cr_assert_eq(session_config_copy(s, &next, &err), 0);
    next.settings[0] = (struct prune_setting){0.9, CRIT_L2, GRAN_BLOCK_4X4};
    next.settings[1] = (struct prune_setting){0.8, CRIT_L1, GRAN_BLOCK_1X4};
    cr_assert_eq(session_configure(s, &next, &err), 0, "%s", err.msg);
    free(next.settings);
    cr_expect_str_eq(session_layer_kernel(s, &s->layers.items[0]), "block1x4");
    cr_expect_str_eq(session_layer_kernel(s, &s->layers.items[1]), "block1x4");
    lcg = 7;
    struct tensor *dense = run_model(s, "never", 500);
    lcg = 7;
    struct tensor *sparse = run_model(s, "auto", 500);
    struct tu_compare cmp = tu_compare(sparse, dense, 0.0, 1e-4);
    cr_expect(cmp.ok, "%s", cmp.why);
    tensor_free(dense);
    tensor_free(sparse);
    session_free(s);
}

/* A real architecture with every convolution at 85% zeros: the CSR convolutions (pointwise,
 * batched and strided ones in mobilenet_v2) and the depthwise ones over their non-zero taps
 * give the dense kernels' outputs. */
Test(sparse, pruned_mobilenet_v2_runs_the_same_with_sparse_convolutions, .timeout = 120)
{
    struct err err;
    struct session *s = session_new(2, NULL, &err);
    cr_assert_eq(session_load_model(s, tu_src_path("tests/fixtures/arch/mobilenet_v2/model.onnx"),
                                    NULL, 0, &err),
                 0, "%s", err.msg);
    struct prune_config next;
    cr_assert_eq(session_config_copy(s, &next, &err), 0);
    for (size_t i = 0; i < s->layers.count; i++)
        next.settings[i] = (struct prune_setting){0.85, CRIT_L1, GRAN_UNSTRUCTURED};
    cr_assert_eq(session_configure(s, &next, &err), 0, "%s", err.msg);
    free(next.settings);
    const struct layer *pw = layers_lookup(&s->layers, "features.18");
    const struct layer *dw = layers_lookup(&s->layers, "features.17.conv.1");
    cr_assert(pw && dw);
    cr_expect_str_eq(session_layer_kernel(s, pw), "csr");
    cr_expect_str_eq(session_layer_kernel(s, dw), "taps");
    lcg = 5;
    struct tensor *dense = run_model(s, "never", 96);
    lcg = 5;
    struct tensor *sparse = run_model(s, "auto", 96);
    struct tu_compare cmp = tu_compare(sparse, dense, 1e-5, 1e-4);
    cr_expect(cmp.ok, "%s", cmp.why);
    tensor_free(dense);
    tensor_free(sparse);
    session_free(s);
}
