/* `make bench`, sparse part: for each bundled model at 0/50/80/90/95% unstructured sparsity
 * (every layer), the time of each Gemm layer over 10,000 rows with OpenBLAS's dense product
 * and with the CSR product (one thread), the kernel prunescope chooses, and the whole
 * model's time with sparse kernels off and on (2 threads). Not a test. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "kernels/ops.h"
#include "kernels/sparse.h"
#include "session/session.h"

#define ROWS    10000
#define CHUNK   256
#define REPEATS 5

static const double LEVELS[] = {0.0, 0.5, 0.8, 0.9, 0.95};

struct model {
    const char *path, *csv;
    float scale;
};

static const struct model MODELS[] = {
    {"data/digits_mlp.onnx", "data/digits.csv", 1.0f},
    {"data/fashion_cnn.onnx", "data/fashion-mnist-test.csv.gz", 0.00392156862745098f},
    {"tests/fixtures/bench_mlp/model.onnx", NULL, 1.0f},
};

/* Best time of REPEATS runs of the layer over ROWS rows in CHUNK-row pieces. */
static double time_layer(const float *w, size_t units, size_t inputs, bool trans_b, const float *x,
                         float *y, const struct csr *m, const struct bsr *bm, float *scratch)
{
    double best = 1e9;
    for (int r = 0; r < REPEATS; r++) {
        double t0 = timer_now_s();
        for (size_t m0 = 0; m0 < ROWS; m0 += CHUNK) {
            const float *xc = x + m0 * inputs;
            float *yc = y + m0 * units;
            size_t n = ROWS - m0 < CHUNK ? ROWS - m0 : CHUNK;
            if (m)
                csr_gemm(m, xc, n, inputs, 1.0f, yc, units, false, scratch);
            else if (bm)
                bsr_gemm(bm, xc, n, inputs, 1.0f, yc, units, false, scratch);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                            (int)n, (int)units, (int)inputs, 1.0f, xc, (int)inputs, w,
                            trans_b ? (int)inputs : (int)units, 0.0f, yc, (int)units);
        }
        double t = timer_now_s() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

static double time_model(struct session *s, const char *sparse_mode)
{
    setenv("PRUNESCOPE_SPARSE", sparse_mode, 1);
    engine_weights_changed(s->engine, NULL);
    const struct graph *g = engine_graph(s->engine);
    struct err err;
    struct tensor *x = session_input_rows(s, ROWS, &err);
    size_t features = x ? tensor_numel(x) / ROWS : 0;
    for (size_t i = 0; i < (size_t)ROWS * features; i++)
        tensor_f32(x)[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    double best = 1e9;
    for (int r = 0; r < REPEATS; r++) {
        struct tensor *out[8] = {NULL};
        double t0 = timer_now_s();
        if (engine_run_rows(s->engine, x, out, &err) < 0) {
            fprintf(stderr, "bench: %s\n", err.msg);
            break;
        }
        double t = timer_now_s() - t0;
        for (int k = 0; k < g->n_outputs; k++)
            tensor_free(out[k]);
        if (t < best)
            best = t;
    }
    tensor_free(x);
    unsetenv("PRUNESCOPE_SPARSE");
    engine_weights_changed(s->engine, NULL);
    return best;
}

/* One pass over the levels with every layer at granularity gran (layers that cannot take it
 * stay unstructured): each Gemm layer's time dense, as CSR and (for block granularities) as
 * block-sparse, the kernel chosen, and the whole model's time. */
static int bench_levels(struct session *s, const struct model *md, enum prune_granularity gran,
                        const double *levels, size_t n_levels)
{
    const struct graph *g = engine_graph(s->engine);
    struct err err;
    for (size_t li = 0; li < n_levels; li++) {
        struct prune_config next;
        session_config_copy(s, &next, &err);
        for (size_t i = 0; i < s->layers.count; i++) {
            next.settings[i] = (struct prune_setting){levels[li], CRIT_L1, gran};
            if (prune_check(g, &s->layers.items[i], &next.settings[i], &err) < 0)
                next.settings[i].granularity = GRAN_UNSTRUCTURED;
        }
        int rc = session_configure(s, &next, &err);
        free(next.settings);
        if (rc < 0) {
            fprintf(stderr, "bench: %s\n", err.msg);
            return -1;
        }
        for (size_t i = 0; i < s->layers.count; i++) {
            const struct layer *l = &s->layers.items[i];
            const float *w = tensor_f32(g->values[l->weight].constant);
            double zeros = sparse_zero_fraction(w, (size_t)l->params);
            if (strcmp(l->op, "Gemm") != 0 || node_attr_int(&g->nodes[l->node], "transA", 0)) {
                printf("sparse    %-28s %-10s %3.0f%%  %s: dense only (no sparse %s kernel yet)\n",
                       md->path, l->name, 100 * levels[li], l->op, l->op);
                continue;
            }
            bool tb = node_attr_int(&g->nodes[l->node], "transB", 0) != 0;
            size_t units = (size_t)(tb ? l->shape.dims[0] : l->shape.dims[1]);
            size_t inputs = (size_t)(tb ? l->shape.dims[1] : l->shape.dims[0]);
            size_t us = tb ? inputs : 1, is = tb ? 1 : units;
            float *x = malloc((size_t)ROWS * inputs * sizeof *x);
            float *y = malloc((size_t)ROWS * units * sizeof *y);
            float *scratch = aligned_alloc(64, (inputs * CSR_TILE * sizeof(float) + 63) / 64 * 64);
            for (size_t k = 0; k < (size_t)ROWS * inputs; k++)
                x[k] = (float)((k * 2654435761u) % 1000) / 1000.0f;
            struct csr *m = csr_from_dense(w, units, inputs, us, is, &err);
            double dense = time_layer(w, units, inputs, tb, x, y, NULL, NULL, scratch);
            double sp = time_layer(w, units, inputs, tb, x, y, m, NULL, scratch);
            enum sparse_kernel k = sparse_choose(w, units, inputs, us, is);
            char blk[96] = "";
            bool blocks = gran == GRAN_BLOCK_1X4 || gran == GRAN_BLOCK_4X4;
            if (blocks && s->config.settings[i].granularity == gran) {
                struct bsr *bm =
                    bsr_from_dense(w, units, inputs, us, is, gran == GRAN_BLOCK_4X4 ? 4 : 1, &err);
                double bt = bm ? time_layer(w, units, inputs, tb, x, y, NULL, bm, scratch) : 0;
                snprintf(blk, sizeof blk, ", %s %.4f s (%.2fx)", prune_granularity_name(gran), bt,
                         bt > 0 ? dense / bt : 0.0);
                bsr_free(bm);
            }
            printf("sparse    %-28s %-10s %3.0f%% %-12s [%zux%zu] dense %.4f s, csr %.4f s "
                   "(%.2fx)%s per %d rows; chosen: %s\n",
                   md->path, l->name, 100 * zeros, prune_granularity_name(gran), units, inputs,
                   dense, sp, dense / sp, blk, ROWS, sparse_kernel_name(k));
            csr_free(m);
            free(x), free(y), free(scratch);
        }
        double t_dense = time_model(s, "never"), t_auto = time_model(s, "auto");
        printf("sparse    %-28s whole model, %s at %3.0f%%: dense %.4f s, chosen kernels %.4f s "
               "per %d rows (2 threads)\n",
               md->path, prune_granularity_name(gran), 100 * levels[li], t_dense, t_auto, ROWS);
    }
    return 0;
}

static int bench_model(const char *root, const struct model *md)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, md->path);
    struct err err;
    struct session *s = session_new(2, NULL, &err);
    if (!s || session_load_model(s, path, NULL, 0, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        session_free(s);
        return -1;
    }
    static const double BLOCK_LEVELS[] = {0.8, 0.9, 0.95};
    int rc = bench_levels(s, md, GRAN_UNSTRUCTURED, LEVELS, sizeof LEVELS / sizeof LEVELS[0]);
    if (rc == 0)
        rc = bench_levels(s, md, GRAN_BLOCK_4X4, BLOCK_LEVELS, 3);
    if (rc == 0)
        rc = bench_levels(s, md, GRAN_BLOCK_1X4, BLOCK_LEVELS, 3);
    /* N:M prunes 50% of every group: below where any sparse kernel here beats OpenBLAS. */
    static const double NM_LEVEL[] = {0.5};
    if (rc == 0)
        rc = bench_levels(s, md, GRAN_2_4, NM_LEVEL, 1);
    session_free(s);
    return rc;
}

int main(void)
{
    const char *root = getenv("PRUNESCOPE_SRCDIR");
    ops_blas_single_thread();
    printf("prunescope sparse kernels: best of %d runs; layers on 1 thread in %d-row chunks; "
           "CSR chosen from %.0f%% zeros in layers of %d+ weights\n",
           REPEATS, CHUNK, 100 * SPARSE_MIN_ZEROS, SPARSE_MIN_WEIGHTS);
    int rc = 0;
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++)
        rc |= bench_model(root ? root : ".", &MODELS[i]) < 0;
    return rc;
}
