/* `make bench`, sparse convolution part: on mobilenet_v2 and resnet18 (tests/fixtures/arch),
 * the 3x3 and the 1x1 convolution with the most multiply-adds per row, each pruned alone
 * (L1, unstructured) to 80% and 90%, timed over 2,000 rows on one thread with the dense
 * kernels (PRUNESCOPE_SPARSE=never) and with the kernel prunescope chooses, against the
 * unpruned layer. Not a test: it never fails on time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "session/session.h"

#define ROWS    2000
#define REPEATS 5

static const char *const MODELS[] = {"mobilenet_v2", "resnet18"};
static const double LEVELS[] = {0.8, 0.9};
static const double TARGET = 1.5; /* dense time / sparse time at both levels */

static uint32_t lcg = 1;

static float next_value(void)
{
    lcg = lcg * 1664525u + 1013904223u;
    return (float)(lcg >> 8) / 16777216.0f;
}

/* Best over REPEATS runs of ROWS rows: the node's time in ms. */
static double time_node(struct session *s, const struct tensor *x, int node, const char *mode)
{
    if (mode)
        setenv("PRUNESCOPE_SPARSE", mode, 1);
    else
        unsetenv("PRUNESCOPE_SPARSE");
    engine_weights_changed(s->engine, NULL);
    const struct graph *g = engine_graph(s->engine);
    struct engine_node_time *t = calloc((size_t)g->n_nodes, sizeof *t);
    struct err err;
    double best = -1;
    for (int r = 0; r < REPEATS && t; r++) {
        struct tensor *out[8] = {NULL};
        if (engine_set_timing(s->engine, true, &err) < 0 ||
            engine_run_rows(s->engine, x, out, &err) < 0) {
            fprintf(stderr, "bench_conv: %s\n", err.msg);
            break;
        }
        engine_set_timing(s->engine, false, &err);
        for (int k = 0; k < g->n_outputs; k++)
            tensor_free(out[k]);
        engine_node_times(s->engine, t, NULL);
        if (best < 0 || t[node].ms < best)
            best = t[node].ms;
    }
    free(t);
    unsetenv("PRUNESCOPE_SPARSE");
    engine_weights_changed(s->engine, NULL);
    return best;
}

static int set_level(struct session *s, size_t li, double level)
{
    struct prune_config next;
    struct err err;
    if (session_config_copy(s, &next, &err) < 0)
        return -1;
    for (size_t i = 0; i < s->layers.count; i++)
        next.settings[i] = (struct prune_setting){i == li ? level : 0.0, CRIT_L1,
                                                  GRAN_UNSTRUCTURED};
    int rc = session_configure(s, &next, &err);
    free(next.settings);
    if (rc < 0)
        fprintf(stderr, "bench_conv: %s\n", err.msg);
    return rc;
}

/* The Conv layer with a k x k kernel and the most multiply-adds per row (then weights). */
static long pick(const struct session *s, int64_t k)
{
    long best = -1;
    double best_macs = -1;
    for (size_t i = 0; i < s->layers.count; i++) {
        const struct layer *l = &s->layers.items[i];
        if (strcmp(l->op, "Conv") != 0 || l->shape.ndim != 4 || l->shape.dims[2] != k ||
            l->shape.dims[3] != k)
            continue;
        double macs = session_layer_macs(s, l);
        if (macs > best_macs ||
            (macs == best_macs && l->params > s->layers.items[(size_t)best].params)) {
            best = (long)i;
            best_macs = macs;
        }
    }
    return best;
}

static int bench_model(const char *srcdir, const char *name, int *met, int *total)
{
    char model[4096];
    snprintf(model, sizeof model, "%s/tests/fixtures/arch/%s/model.onnx", srcdir, name);
    struct err err;
    struct session *s = session_new(1, NULL, &err);
    if (!s || session_load_model(s, model, NULL, 0, &err) < 0) {
        fprintf(stderr, "bench_conv: %s: %s\n", name, err.msg);
        session_free(s);
        return -1;
    }
    struct tensor *x = session_input_rows(s, ROWS, &err);
    size_t features = x ? tensor_numel(x) / ROWS : 0;
    if (!x) {
        fprintf(stderr, "bench_conv: %s\n", err.msg);
        session_free(s);
        return -1;
    }
    for (size_t i = 0; i < (size_t)ROWS * features; i++)
        tensor_f32(x)[i] = next_value();
    for (int64_t k = 3; k >= 1; k -= 2) {
        long li = pick(s, k);
        if (li < 0)
            continue;
        const struct layer *l = &s->layers.items[li];
        const struct graph *g = engine_graph(s->engine);
        int64_t group = node_attr_int(&g->nodes[l->node], "group", 1);
        char shape[96];
        shape_format(&l->shape, shape, sizeof shape);
        if (set_level(s, (size_t)li, 0.0) < 0)
            break;
        double dense = time_node(s, x, l->node, "never");
        for (size_t lv = 0; lv < sizeof LEVELS / sizeof LEVELS[0]; lv++) {
            if (set_level(s, (size_t)li, LEVELS[lv]) < 0)
                break;
            double never = time_node(s, x, l->node, "never");
            double chosen = time_node(s, x, l->node, NULL);
            double speedup = chosen > 0 ? dense / chosen : 0;
            printf("%-13s %-20s %-18s %-9s %3.0f%% %9.2f %11.2f %10.2f %-6s %7.2fx\n", name,
                   l->display, shape, group > 1 ? "depthwise" : "", 100 * LEVELS[lv], dense,
                   never, chosen, session_layer_kernel(s, l), speedup);
            *met += speedup >= TARGET;
            ++*total;
        }
        set_level(s, (size_t)li, 0.0);
    }
    tensor_free(x);
    session_free(s);
    return 0;
}

int main(void)
{
    const char *srcdir = getenv("PRUNESCOPE_SRCDIR");
    if (!srcdir)
        srcdir = ".";
    printf("sparse convolutions: the largest 3x3 and 1x1 layer (by MACs/row) pruned alone, "
           "%d rows, 1 thread, best of %d (ms in the layer)\n",
           ROWS, REPEATS);
    printf("%-13s %-20s %-18s %-9s %4s %9s %11s %10s %-6s %8s\n", "model", "layer", "weight", "",
           "zero", "dense 0%", "dense kern", "chosen", "kernel", "speedup");
    int met = 0, total = 0, rc = 0;
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++)
        rc |= bench_model(srcdir, MODELS[i], &met, &total) < 0;
    printf("target: every layer at 80%% and 90%% at least %.1fx faster than dense: %d of %d, %s\n",
           TARGET, met, total, met == total && total > 0 ? "met" : "MISSED");
    return rc;
}
