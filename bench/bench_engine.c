/* `make bench`: dense inference speed of every committed model over 10,000 rows with 1 and
 * 2 threads, in rows per second and effective GFLOP/s. Not a test: it never fails on time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "engine/engine.h"

#define ROWS    10000
#define REPEATS 7

struct target {
    const char *model;
    double seconds; /* 2 threads, 10,000 rows */
};

static const struct target TARGETS[] = {{"bench_cnn", 0.12}, {"bench_mlp", 0.05}};

static const char *const MODELS[] = {"bench_mlp",      "bench_cnn", "mlp_gemm", "cnn_bn",
                                     "matmul_softmax", "cnn_view",  "cnn_gap"};

static int bench_model(const char *root, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s/model.onnx", root, name);
    double best[3] = {0};
    double macs = 0;
    for (int threads = 1; threads <= 2; threads++) {
        struct err err;
        struct engine *e = engine_open(path, threads, &err);
        if (!e) {
            fprintf(stderr, "bench: %s\n", err.msg);
            return -1;
        }
        const struct graph *g = engine_graph(e);
        struct shape s = g->values[g->inputs[0]].shape;
        for (int d = 0; d < s.ndim; d++)
            if (s.dims[d] < 0)
                s.dims[d] = d == 0 ? ROWS : 1;
        s.dims[0] = ROWS;
        struct tensor *x = tensor_new(DTYPE_FLOAT, &s, &err);
        if (!x) {
            fprintf(stderr, "bench: %s\n", err.msg);
            engine_free(e);
            return -1;
        }
        unsigned seed = 42;
        for (size_t i = 0; i < tensor_numel(x); i++) {
            seed = seed * 1664525u + 1013904223u;
            tensor_f32(x)[i] = (float)(seed >> 8) / (float)(1u << 24);
        }
        macs = engine_macs_per_row(e);
        double fastest = 1e30;
        for (int r = 0; r < REPEATS + 1; r++) {
            struct tensor *out[16];
            double t0 = timer_now_s();
            if (engine_run_rows(e, x, out, &err) < 0) {
                fprintf(stderr, "bench: %s: %s\n", name, err.msg);
                tensor_free(x);
                engine_free(e);
                return -1;
            }
            double dt = timer_now_s() - t0;
            for (int k = 0; k < g->n_outputs; k++)
                tensor_free(out[k]);
            if (r > 0 && dt < fastest) /* the first run warms caches and plans */
                fastest = dt;
        }
        best[threads] = fastest;
        printf("%-16s threads=%d  %8.4f s  %10.0f rows/s  %7.2f GFLOP/s  (chunk %zu rows)\n", name,
               threads, fastest, ROWS / fastest, 2.0 * macs * ROWS / fastest / 1e9,
               engine_chunk_rows(e));
        tensor_free(x);
        engine_free(e);
    }
    for (size_t i = 0; i < sizeof TARGETS / sizeof TARGETS[0]; i++)
        if (strcmp(TARGETS[i].model, name) == 0)
            printf("%-16s target: %d rows in < %.3f s with 2 threads: %.4f s, %s\n", name, ROWS,
                   TARGETS[i].seconds, best[2], best[2] < TARGETS[i].seconds ? "met" : "MISSED");
    printf("%-16s %.0f MACs per row\n", name, macs);
    return 0;
}

/* Arguments, when given, name the models to run (default: all committed ones). */
int main(int argc, char **argv)
{
    const char *root = getenv("PRUNESCOPE_SRCDIR");
    if (!root)
        root = ".";
    printf("prunescope dense inference, %d rows, best of %d runs\n", ROWS, REPEATS);
    int rc = 0;
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            rc |= bench_model(root, argv[i]) < 0;
    else
        for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++)
            rc |= bench_model(root, MODELS[i]) < 0;
    return rc;
}
