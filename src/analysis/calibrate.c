/* calibrate of calibrate.h: small graphs built in memory and run through the engine at
 * batch 1, timed best of several runs; memory bandwidth by copying buffers that stay in
 * the L2 cache and buffers that do not. */
#include "analysis/calibrate.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/bench.h"
#include "analysis/cost.h"
#include "core/files.h"
#include "core/timer.h"
#include "engine/engine.h"
#include "kernels/sparse.h"

/* What one timed layer is: a Conv (kernel k, stride, group) or a Gemm (c inputs, m
 * outputs), on a c x h x w input, with a share of its weights zero. */
/* Layers timed side by side in one run. */
#define COPIES 8

struct shape_spec {
    const char *what;
    const char *op;
    int64_t c, h, w, m, k, stride, group;
    double zeros;
};

static int add_value(struct graph *g, const char *name, const int64_t *dims, int ndim,
                     struct err *err)
{
    int v = graph_intern_value(g, name, err);
    if (v < 0)
        return -1;
    g->values[v].dtype = DTYPE_FLOAT;
    if (dims) {
        g->values[v].has_shape = true;
        g->values[v].shape.ndim = ndim;
        for (int d = 0; d < ndim; d++)
            g->values[v].shape.dims[d] = dims[d];
    }
    return v;
}

/* A constant of the given shape, every element 0.01 x a small pseudo-random integer, with
 * the share `zeros` of them 0 (spread evenly). */
static int add_constant(struct graph *g, const char *name, const int64_t *dims, int ndim,
                        double zeros, struct err *err)
{
    int v = add_value(g, name, NULL, 0, err);
    if (v < 0)
        return -1;
    struct shape s = {.ndim = ndim};
    for (int d = 0; d < ndim; d++)
        s.dims[d] = dims[d];
    if (!(g->values[v].constant = tensor_new(DTYPE_FLOAT, &s, err)))
        return -1;
    float *x = tensor_f32(g->values[v].constant);
    size_t n = tensor_numel(g->values[v].constant);
    uint32_t state = 12345;
    for (size_t i = 0; i < n; i++) {
        state = state * 1664525u + 1013904223u;
        bool zero = zeros > 0 && fmod((double)i * 0.6180339887, 1.0) < zeros;
        x[i] = zero ? 0.0f : 0.01f * (float)((int)(state >> 24) - 128);
    }
    return v;
}

static struct attr int_attr(const char *name, int64_t v)
{
    return (struct attr){.name = strdup(name), .type = ATTR_INT, .i = v};
}

static struct attr ints_attr(const char *name, int64_t a, int64_t b, int n)
{
    struct attr at = {.name = strdup(name), .type = ATTR_INTS};
    at.ints = malloc(4 * sizeof *at.ints);
    if (at.ints) {
        at.ints[0] = a, at.ints[1] = b, at.ints[2] = a, at.ints[3] = b;
        at.n = (size_t)n;
    }
    return at;
}

/* An engine running `copies` layers of spec side by side on the same input, each with
 * weights of its own (so that, as in a model, each layer's weights come from farther than
 * the L1 cache). Only the last one's output is the graph's, so that a run copies out one
 * tensor, as a model's run does. */
static struct engine *build(const struct shape_spec *spec, int copies, struct err *err)
{
    struct graph *g = graph_new(err);
    if (!g)
        return NULL;
    g->opset = 13;
    g->name = strdup("calibrate");
    int64_t in_dims[4] = {1, spec->c, spec->h, spec->w};
    bool gemm = strcmp(spec->op, "Gemm") == 0;
    int x = add_value(g, "x", in_dims, gemm ? 2 : 4, err);
    g->inputs = malloc(sizeof *g->inputs);
    g->outputs = malloc((size_t)copies * sizeof *g->outputs);
    if (x < 0 || !g->inputs || !g->outputs)
        goto fail;
    g->inputs[g->n_inputs++] = x;
    for (int i = 0; i < copies; i++) {
        char name[32], wname[32], bname[32];
        snprintf(name, sizeof name, "v%d", i);
        snprintf(wname, sizeof wname, "w%d", i);
        snprintf(bname, sizeof bname, "b%d", i);
        int y = add_value(g, name, NULL, 0, err);
        struct node n = {.name = strdup(name), .domain = strdup(""), .op_type = strdup(spec->op)};
        n.inputs = malloc(3 * sizeof *n.inputs);
        n.outputs = malloc(sizeof *n.outputs);
        n.attrs = calloc(4, sizeof *n.attrs);
        if (y < 0 || !n.inputs || !n.outputs || !n.attrs) {
            node_fini(&n);
            goto fail;
        }
        n.outputs[n.n_outputs++] = y;
        n.inputs[n.n_inputs++] = x;
        if (gemm) {
            int64_t wd[2] = {spec->m, spec->c}, bd[1] = {spec->m};
            n.inputs[n.n_inputs++] = add_constant(g, wname, wd, 2, spec->zeros, err);
            n.inputs[n.n_inputs++] = add_constant(g, bname, bd, 1, 0, err);
            n.attrs[n.n_attrs++] = int_attr("transB", 1);
        } else if (strcmp(spec->op, "Conv") == 0) {
            int64_t wd[4] = {spec->m, spec->c / spec->group, spec->k, spec->k}, bd[1] = {spec->m};
            n.inputs[n.n_inputs++] = add_constant(g, wname, wd, 4, spec->zeros, err);
            n.inputs[n.n_inputs++] = add_constant(g, bname, bd, 1, 0, err);
            n.attrs[n.n_attrs++] = ints_attr("kernel_shape", spec->k, spec->k, 2);
            n.attrs[n.n_attrs++] = ints_attr("strides", spec->stride, spec->stride, 2);
            n.attrs[n.n_attrs++] = ints_attr("pads", spec->k / 2, spec->k / 2, 4);
            n.attrs[n.n_attrs++] = int_attr("group", spec->group);
        } else if (strcmp(spec->op, "MaxPool") == 0) {
            n.attrs[n.n_attrs++] = ints_attr("kernel_shape", spec->k, spec->k, 2);
            n.attrs[n.n_attrs++] = ints_attr("strides", spec->stride, spec->stride, 2);
            n.attrs[n.n_attrs++] = ints_attr("pads", spec->k / 2, spec->k / 2, 4);
        } else if (strcmp(spec->op, "Add") == 0) {
            n.inputs[n.n_inputs++] = x;
        }
        bool whole = n.name && n.op_type && n.domain;
        for (int k = 1; k < n.n_inputs; k++)
            whole &= n.inputs[k] >= 0;
        for (int a = 0; a < n.n_attrs; a++)
            whole &= n.attrs[a].name && (n.attrs[a].type != ATTR_INTS || n.attrs[a].ints);
        if (!whole) {
            node_fini(&n);
            err_oom(err, "calibration graph", 0); /* what failed was an allocation */
            goto fail;
        }
        if (graph_add_node(g, &n, err) < 0) {
            node_fini(&n);
            goto fail;
        }
        if (i == copies - 1)
            g->outputs[g->n_outputs++] = y;
    }
    if (graph_sort(g, err) < 0)
        goto fail;
    return engine_new(g, 1, err);
fail:
    graph_free(g);
    return NULL;
}

/* Best time of one batch-1 run of e, in seconds, over runs repeated for about budget_s. */
static int best_run(struct engine *e, const int64_t *dims, int ndim, double budget_s, double *best,
                    struct err *err)
{
    struct shape s = {.ndim = ndim};
    for (int d = 0; d < ndim; d++)
        s.dims[d] = dims[d];
    struct tensor *x = tensor_new(DTYPE_FLOAT, &s, err);
    if (!x)
        return -1;
    float *xv = tensor_f32(x);
    for (size_t i = 0; i < tensor_numel(x); i++)
        xv[i] = (float)((i * 7) % 13) * 0.1f;
    const struct tensor *ins[1] = {x};
    struct tensor *outs[COPIES] = {NULL};
    *best = INFINITY;
    double start = timer_now_s();
    int rc = 0;
    for (int r = 0; r < 3 || (timer_now_s() - start < budget_s && r < 100000); r++) {
        double t0 = timer_now_s();
        if ((rc = engine_run(e, ins, outs, err)) < 0)
            break;
        double t = timer_now_s() - t0;
        for (int k = 0; k < engine_graph(e)->n_outputs; k++)
            tensor_free(outs[k]);
        if (t < *best)
            *best = t;
    }
    tensor_free(x);
    return rc;
}

/* One measured layer kept for the fit: its engine and plan, what the cost model needs, and
 * its best time per copy. */
struct fit_case {
    const struct shape_spec *spec;
    struct engine *e;
    const struct plan *plan;
    int64_t rows;
    struct layer_list layers;
    double *bytes; /* per layer: its weight in the case's format */
    struct cost_format fmt;
    double measured_s;
};

static void fit_case_fini(struct fit_case *fc)
{
    layers_fini(&fc->layers);
    free(fc->bytes);
    engine_free(fc->e);
    memset(fc, 0, sizeof *fc);
}

/* Build and time COPIES layers of shape s side by side; keep them for the fit. A layer
 * with zeros is stored as CSR (the sparse kernel's format), else dense fp32. */
static int measure_case(const struct shape_spec *s, double budget_s, struct fit_case *fc,
                        struct err *err)
{
    memset(fc, 0, sizeof *fc);
    fc->spec = s;
    if (!(fc->e = build(s, COPIES, err)))
        return -1;
    int64_t dims[4] = {1, s->c, s->h, s->w};
    const struct graph *g = engine_graph(fc->e);
    if (best_run(fc->e, dims, strcmp(s->op, "Gemm") == 0 ? 2 : 4, budget_s, &fc->measured_s, err) <
            0 ||
        !(fc->plan = engine_plan_deployed(fc->e, &fc->rows, err)) ||
        layers_find(g, &fc->layers, err) < 0) {
        fit_case_fini(fc);
        return -1;
    }
    fc->measured_s /= COPIES;
    fc->fmt = (struct cost_format){COST_FP32, s->zeros > 0 ? PROFILE_CSR : -1};
    fc->bytes = calloc(fc->layers.count + 1, sizeof *fc->bytes);
    if (!fc->bytes) {
        fit_case_fini(fc);
        return err_oom(err, "calibration", fc->layers.count * sizeof *fc->bytes);
    }
    for (size_t i = 0; i < fc->layers.count; i++) {
        const struct layer *l = &fc->layers.items[i];
        const struct tensor *w = g->values[l->weight].constant;
        size_t n = tensor_numel(w), nnz = 0, units = (size_t)l->shape.dims[0];
        for (size_t k = 0; k < n; k++)
            nnz += tensor_f32(w)[k] != 0.0f;
        fc->bytes[i] =
            s->zeros > 0 ? cost_csr_bytes(nnz, units, units ? n / units : 0) : 4.0 * (double)n;
    }
    return 0;
}

/* The cost model's time for one copy of the case on profile p, or NAN. */
static double case_estimate(const struct fit_case *fc, const struct profile *p)
{
    struct cost_estimate e;
    struct err ignored;
    if (cost_estimate(engine_graph(fc->e), fc->plan, (double)fc->rows, &fc->layers, fc->bytes, 0,
                      &fc->fmt, p, &e, &ignored) < 0)
        return NAN;
    double t = e.latency_s / COPIES;
    cost_estimate_fini(&e);
    return t;
}

/* Sum over the cases of the squared log of estimate / measurement. */
static double fit_loss(const struct fit_case *cases, size_t n, const struct profile *p)
{
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        double r = log(case_estimate(&cases[i], p) / cases[i].measured_s);
        loss += isfinite(r) ? r * r : 1e9;
    }
    return loss;
}

/* The profile's figures the fit moves, and their bounds. */
static double *fit_param(struct profile *p, int k)
{
    switch (k) {
    case 0: return &p->macs_fp32;
    case 1: return &p->depthwise_efficiency;
    case 2: return &p->bw_sram;
    default: return &p->sparse[PROFILE_CSR].efficiency;
    }
}
#define FIT_PARAMS 4

/* Coordinate descent in log space: each figure in turn multiplied or divided by a factor
 * while that lowers the loss, the factor shrinking from 2 to 1.01. Efficiencies stay in
 * (0, 1]. */
static void fit_profile(const struct fit_case *cases, size_t n, struct profile *p)
{
    double best = fit_loss(cases, n, p);
    for (double f = 2.0; f > 1.01; f = sqrt(f)) {
        bool moved = true;
        for (int round = 0; moved && round < 50; round++) {
            moved = false;
            for (int k = 0; k < FIT_PARAMS; k++) {
                double *v = fit_param(p, k), was = *v;
                for (int dir = 0; dir < 2; dir++) {
                    double next = dir == 0 ? was * f : was / f;
                    if ((k == 1 || k == 3) && next > 1.0)
                        next = 1.0;
                    *v = next;
                    double l = fit_loss(cases, n, p);
                    if (l < best - 1e-12) {
                        best = l;
                        was = next;
                        moved = true;
                        break;
                    }
                    *v = was;
                }
            }
        }
    }
}

/* Bytes per second copying a buffer of `bytes` to another, best of repeats over about
 * budget_s. */
static double copy_bandwidth(size_t bytes, double budget_s)
{
    char *a = malloc(bytes), *b = malloc(bytes);
    if (!a || !b) {
        free(a), free(b);
        return 0;
    }
    memset(a, 1, bytes);
    memset(b, 2, bytes);
    double best = INFINITY, start = timer_now_s();
    for (int r = 0; r < 3 || timer_now_s() - start < budget_s; r++) {
        double t0 = timer_now_s();
        memcpy(b, a, bytes);
        a[r % bytes] = b[(r * 7) % bytes]; /* keeps the copies */
        double t = timer_now_s() - t0;
        if (t < best)
            best = t;
    }
    free(a), free(b);
    return 2.0 * (double)bytes / best; /* read and written */
}

static void note(struct calibrate_result *r, const char *what, double value, const char *unit)
{
    if (r->n_items < CALIBRATE_MAX_ITEMS) {
        struct calibrate_item *it = &r->items[r->n_items++];
        snprintf(it->what, sizeof it->what, "%s", what);
        it->value = value;
        it->unit = unit;
    }
}

/* The CPU's name and clock from /proc/cpuinfo, when there is one. */
static void cpu_info(char *core, size_t size, double *mhz)
{
    snprintf(core, size, "host CPU");
    *mhz = 1000;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    bool have_name = false, have_mhz = false;
    while (fgets(line, sizeof line, f) && !(have_name && have_mhz)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *val = colon + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        val[strcspn(val, "\n")] = '\0';
        if (!have_name && strncmp(line, "model name", 10) == 0 && *val) {
            snprintf(core, size, "%s", val);
            have_name = true;
        } else if (!have_mhz && strncmp(line, "cpu MHz", 7) == 0) {
            double v = strtod(val, NULL);
            if (v > 0) {
                *mhz = v;
                have_mhz = true;
            }
        }
    }
    fclose(f);
}

/* mkdir -p of path's folder. */
static int make_parent(const char *path, struct err *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return err_set(err, "%s: cannot make the folder: %s", dir, strerror(errno));
            *p = '/';
        }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return err_set(err, "%s: cannot make the folder: %s", dir, strerror(errno));
    return 0;
}

/* Layers of the shapes the bundled and torchvision models run at 28x28 and below: dense
 * convolutions (3x3, strided, 1x1 from small to weight-heavy, depthwise) and matrix-vector
 * products, then layers without weights. */
static const struct shape_spec SPECS[] = {
    {"1x1 conv of one value", "Conv", 1, 1, 1, 1, 1, 1, 1, 0},
    {"3x3 conv 16->16 on 14x14", "Conv", 16, 14, 14, 16, 3, 1, 1, 0},
    {"3x3 conv 32->64 stride 2 on 14x14", "Conv", 32, 14, 14, 64, 3, 2, 1, 0},
    {"3x3 conv 64->64 on 7x7", "Conv", 64, 7, 7, 64, 3, 1, 1, 0},
    {"1x1 conv 96->24 on 7x7", "Conv", 96, 7, 7, 24, 1, 1, 1, 0},
    {"1x1 conv 64->384 on 4x4", "Conv", 64, 4, 4, 384, 1, 1, 1, 0},
    {"1x1 conv 16->96 on 4x4", "Conv", 16, 4, 4, 96, 1, 1, 1, 0},
    {"1x1 conv 160->640 on 1x1", "Conv", 160, 1, 1, 640, 1, 1, 1, 0},
    {"1x1 conv 160->1280 on 1x1", "Conv", 160, 1, 1, 1280, 1, 1, 1, 0},
    {"3x3 depthwise conv of 96 on 7x7", "Conv", 96, 7, 7, 96, 3, 1, 96, 0},
    {"3x3 depthwise conv of 192 on 4x4", "Conv", 192, 4, 4, 192, 3, 1, 192, 0},
    {"3x3 depthwise conv of 48 stride 2 on 14x14", "Conv", 48, 14, 14, 48, 3, 2, 48, 0},
    {"Gemm 784->128", "Gemm", 784, 1, 1, 128, 1, 1, 1, 0},
    {"Gemm 512->64", "Gemm", 512, 1, 1, 64, 1, 1, 1, 0},
    {"3x3 max pool stride 2 of 64 on 14x14", "MaxPool", 64, 14, 14, 64, 3, 2, 1, 0},
    {"Add of 96 on 7x7", "Add", 96, 7, 7, 96, 1, 1, 1, 0},
    {"Relu of 64 on 14x14", "Relu", 64, 14, 14, 64, 1, 1, 1, 0},
};
#define N_SPECS (sizeof SPECS / sizeof SPECS[0])

/* The index in SPECS (and so in the cases) of the layer named what. */
static size_t spec_index(const char *what)
{
    size_t i = 0;
    while (i + 1 < N_SPECS && strcmp(SPECS[i].what, what) != 0)
        i++;
    return i;
}

/* The sparse kernels are timed on the layers with weights that are not depthwise, at these
 * shares of zeros (spread evenly, so CSR it is). */
static const double SPARSE_LEVELS[] = {0.8, 0.9, 0.95};
#define N_LEVELS  (sizeof SPARSE_LEVELS / sizeof SPARSE_LEVELS[0])
#define MAX_CASES (N_SPECS * (1 + N_LEVELS))

int calibrate_host(const char *path, calibrate_progress_fn progress, void *ctx, struct profile *p,
                   struct calibrate_result *r, struct err *err)
{
    memset(r, 0, sizeof *r);
    memset(p, 0, sizeof *p);
    double t0 = timer_now_s();
    struct shape_spec sparse_specs[MAX_CASES];
    size_t n_sparse = 0;
    for (size_t i = 0; i < N_SPECS; i++) {
        const struct shape_spec *sp = &SPECS[i];
        bool weights = strcmp(sp->op, "Conv") == 0 || strcmp(sp->op, "Gemm") == 0;
        double n_weights = (double)sp->m * (double)(sp->c / sp->group) * (double)(sp->k * sp->k);
        if (!weights || sp->group > 1 || n_weights < SPARSE_MIN_WEIGHTS)
            continue; /* runs dense whatever its zeros */
        for (size_t k = 0; k < N_LEVELS; k++) {
            sparse_specs[n_sparse] = *sp;
            sparse_specs[n_sparse++].zeros = SPARSE_LEVELS[k];
        }
    }
    const size_t n_cases = N_SPECS + n_sparse, total = n_cases + 3;
    struct fit_case *cases = calloc(n_cases, sizeof *cases);
    if (!cases)
        return err_oom(err, "calibration", n_cases * sizeof *cases);
    size_t done = 0, measured = 0;
    int rc = 0;
#define STEP()                                                                                     \
    do {                                                                                           \
        if (progress)                                                                              \
            progress(ctx, ++done, total, timer_now_s() - t0);                                      \
    } while (0)

    for (size_t i = 0; i < n_cases && rc == 0; i++, measured++) {
        const struct shape_spec *sp = i < N_SPECS ? &SPECS[i] : &sparse_specs[i - N_SPECS];
        rc = measure_case(sp, i < N_SPECS ? 0.3 : 0.15, &cases[i], err);
        STEP();
    }
    if (rc < 0) {
        for (size_t i = 0; i < measured; i++)
            fit_case_fini(&cases[i]);
        free(cases);
        return -1;
    }
    double bw_l2 = copy_bandwidth(256 * 1024, 0.5);
    STEP();
    double bw_big = copy_bandwidth(16u * 1024 * 1024, 1.0);
    STEP();

    /* Starting figures: the dense 3x3 convolution's MAC rate, the depthwise one as a share
     * of it, the Gemm's weight bytes over its time, copies in the L2 cache, the cost of the
     * smallest layer, and the sparse kernel's time per non-zero at 90% zeros. */
    snprintf(p->name, sizeof p->name, "host");
    p->macs_fp32 =
        16.0 * 16 * 9 * 14 * 14 / cases[spec_index("3x3 conv 16->16 on 14x14")].measured_s;
    p->depthwise_efficiency = 0.3;
    p->bw_sram = bw_l2;
    p->bw_flash = 4.0 * 784 * 128 / cases[spec_index("Gemm 784->128")].measured_s;
    p->layer_overhead_s = cases[spec_index("1x1 conv of one value")].measured_s;
    p->sparse_min_weights = SPARSE_MIN_WEIGHTS;
    /* Not timed here: op_conv.c's depthwise kernel over non-zero taps (from 80% zeros) is
     * estimated as the dense depthwise kernel. */
    p->sparse_depthwise = false;
    for (int f = 0; f < PROFILE_N_SPARSE; f++) {
        p->sparse[f].efficiency = 0.25;
        p->sparse[f].break_even = SPARSE_MIN_ZEROS; /* where the engine switches to CSR */
    }
    fit_profile(cases, n_cases, p);
    STEP();
    for (int f = 0; f < PROFILE_N_SPARSE; f++)
        p->sparse[f].efficiency = p->sparse[PROFILE_CSR].efficiency;
    p->macs_int8 = p->macs_fp32; /* prunescope has no int8 kernels: int8 runs as fp32 here */

    /* How well the fitted figures reproduce what was measured. */
    double errs[MAX_CASES];
    for (size_t i = 0; i < n_cases; i++) {
        double est = case_estimate(&cases[i], p);
        errs[i] = fabs(est / cases[i].measured_s - 1.0);
        if (i < N_SPECS)
            note(r, cases[i].spec->what, cases[i].measured_s * 1e6, "us");
    }
    struct bench_stat fit_err = bench_stat_of(errs, n_cases);
    note(r, "fitted MAC rate", p->macs_fp32 / 1e9, "G MAC/s");
    note(r, "fitted depthwise efficiency", p->depthwise_efficiency, "");
    note(r, "fitted activation bandwidth", p->bw_sram / 1e9, "GB/s");
    note(r, "fitted weight bandwidth", p->bw_flash / 1e9, "GB/s");
    note(r, "fitted per-layer overhead", p->layer_overhead_s * 1e6, "us");
    note(r, "fitted CSR efficiency", p->sparse[PROFILE_CSR].efficiency, "");
    note(r, "fit: median error over the layers timed", 100.0 * fit_err.median, "%");
    note(r, "copy within the L2 cache", bw_l2 / 1e9, "GB/s");
    note(r, "copy of 16 MB buffers", bw_big / 1e9, "GB/s");
    for (size_t i = 0; i < n_cases; i++)
        fit_case_fini(&cases[i]);
    free(cases);

    double mhz;
    cpu_info(p->core, sizeof p->core, &mhz);
    p->clock_mhz = mhz;
    snprintf(p->description, sizeof p->description,
             "this machine as prunescope runs it: one thread at batch 1 (%s)", p->core);
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE), pages = sysconf(_SC_PHYS_PAGES),
         page = sysconf(_SC_PAGESIZE);
    p->sram_bytes = pages > 0 && page > 0 ? (double)pages * (double)page : 1e9;
    p->flash_bytes = p->sram_bytes;
    /* No power meter here: a desktop or server core draws about 5 W busy. */
    p->pj_mac_fp32 = p->pj_mac_int8 = 5.0 / p->macs_fp32 * 1e12;
    p->pj_byte_sram = 1.0;
    p->pj_byte_flash = 20.0;
    char src[8][640];
    snprintf(src[0], sizeof src[0], "/proc/cpuinfo (cpu MHz of the first CPU)");
    snprintf(src[1], sizeof src[1],
             "calibrate: fitted with the cost model's own formulas to %zu layers run at batch 1 "
             "on one thread through prunescope's engine (%zu dense: 3x3, strided, 1x1 and "
             "depthwise convolutions, matrix-vector products, max pooling, Add, Relu; %zu "
             "at 80/90/95%% zeros on the CSR kernels), least squares on the log of estimate "
             "/ measurement (median error %.0f%%); int8 is the fp32 rate (prunescope has no "
             "int8 kernels)",
             n_cases, (size_t)N_SPECS, n_sparse, 100.0 * fit_err.median);
    snprintf(src[2], sizeof src[2],
             "calibrate: fitted as the MAC rate (sram: how fast layers move their activations; "
             "flash: how fast they stream their weights); memcpy for comparison: %.3g bytes/s "
             "within the L2 cache, %.3g bytes/s for 16 MB buffers",
             bw_l2, bw_big);
    snprintf(src[3], sizeof src[3],
             "sysconf(_SC_PHYS_PAGES) x page size: the machine's memory (L2 cache: %ld bytes)", l2);
    snprintf(src[4], sizeof src[4], "the machine's memory, as sram_bytes");
    snprintf(src[5], sizeof src[5], "calibrate: fitted as the MAC rate");
    snprintf(src[6], sizeof src[6],
             "calibrate: the CSR kernels' efficiency fitted as the MAC rate; break_even is "
             "prunescope's own switch to CSR (kernels/sparse.h: %.0f%% zeros); the other "
             "formats run CSR here",
             100 * SPARSE_MIN_ZEROS);
    snprintf(src[7], sizeof src[7],
             "estimate, not measured (no power meter): 5 W for one busy core / the MAC rate; "
             "1 pJ per byte in the L2 cache and 20 pJ per byte from DRAM (Horowitz, "
             "Computing's energy problem, ISSCC 2014, scaled)");
    static const char *const keys[] = {"clock_mhz",  "macs_per_s",  "bandwidth",
                                       "sram_bytes", "flash_bytes", "layer_overhead_s",
                                       "sparse",     "energy_pj",   "kernels"};
    char kernels_src[512];
    snprintf(kernels_src, sizeof kernels_src,
             "calibrate: depthwise_efficiency fitted as the MAC rate; sparse_min_weights and "
             "sparse_depthwise are prunescope's own rules "
             "(kernels/sparse.h: CSR from %d weights and %.0f%% zeros; depthwise "
             "convolutions are estimated dense, their kernel over non-zero taps from %.0f%% "
             "zeros not being timed)",
             SPARSE_MIN_WEIGHTS, 100 * SPARSE_MIN_ZEROS, 100 * SPARSE_DW_MIN_ZEROS);
    p->sources = json_object();
    for (int k = 0; k < 9; k++)
        json_object_set_new(p->sources, keys[k], json_string(k < 8 ? src[k] : kernels_src));

    json_t *sparse_obj = json_object();
    for (int f = 0; f < PROFILE_N_SPARSE; f++)
        json_object_set_new(sparse_obj, profile_sparse_name(f),
                            json_pack("{s:f, s:f}", "efficiency", p->sparse[f].efficiency,
                                      "break_even", p->sparse[f].break_even));
    json_t *root = json_pack(
        "{s:s, s:i, s:s, s:s, s:s, s:f, s:{s:f, s:f}, s:{s:f, s:f}, s:f, s:f, s:f, s:o, "
        "s:{s:f, s:f, s:f, s:f}, s:{s:f, s:f, s:b}, s:O}",
        "format", "prunescope-profile", "version", 1, "name", p->name, "description",
        p->description, "core", p->core, "clock_mhz", p->clock_mhz, "macs_per_s", "fp32",
        p->macs_fp32, "int8", p->macs_int8, "bandwidth", "sram", p->bw_sram, "flash", p->bw_flash,
        "sram_bytes", p->sram_bytes, "flash_bytes", p->flash_bytes, "layer_overhead_s",
        p->layer_overhead_s, "sparse", sparse_obj, "energy_pj", "mac_fp32", p->pj_mac_fp32,
        "mac_int8", p->pj_mac_int8, "byte_sram", p->pj_byte_sram, "byte_flash", p->pj_byte_flash,
        "kernels", "depthwise_efficiency", p->depthwise_efficiency, "sparse_min_weights",
        p->sparse_min_weights, "sparse_depthwise", p->sparse_depthwise, "sources", p->sources);
    /* What was measured must make a profile that reads back: a figure that came out as
     * zero or not a number is refused here, naming it, instead of in every later run. */
    if (!root) {
        profile_fini(p);
        return err_set(err,
                       "calibrate: a measurement is not a finite number (MAC rate %g, "
                       "bandwidths %g and %g, overhead %g s)",
                       p->macs_fp32, p->bw_sram, p->bw_flash, p->layer_overhead_s);
    }
    struct profile check;
    if (profile_from_json("calibrate's host profile", root, &check, err) < 0) {
        json_decref(root);
        profile_fini(p);
        return -1;
    }
    profile_fini(&check);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text) {
        profile_fini(p);
        return err_oom(err, "host profile", 0);
    }
    size_t len = strlen(text);
    rc = make_parent(path, err) < 0 ? -1 : files_write_atomic(path, text, len, true, NULL, err);
    free(text);
    if (rc < 0) {
        profile_fini(p);
        return -1;
    }
    snprintf(p->path, sizeof p->path, "%s", path);
    p->user = true;
    r->elapsed_s = timer_now_s() - t0;
    return 0;
#undef STEP
}
