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
 * the L1 cache), every output a graph output. */
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
        struct node n = {.name = strdup(name), .domain = strdup("")};
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
            n.op_type = strdup("Gemm");
            int64_t wd[2] = {spec->m, spec->c}, bd[1] = {spec->m};
            n.inputs[n.n_inputs++] = add_constant(g, wname, wd, 2, spec->zeros, err);
            n.inputs[n.n_inputs++] = add_constant(g, bname, bd, 1, 0, err);
            n.attrs[n.n_attrs++] = int_attr("transB", 1);
        } else {
            n.op_type = strdup("Conv");
            int64_t wd[4] = {spec->m, spec->c / spec->group, spec->k, spec->k}, bd[1] = {spec->m};
            n.inputs[n.n_inputs++] = add_constant(g, wname, wd, 4, spec->zeros, err);
            n.inputs[n.n_inputs++] = add_constant(g, bname, bd, 1, 0, err);
            n.attrs[n.n_attrs++] = ints_attr("kernel_shape", spec->k, spec->k, 2);
            n.attrs[n.n_attrs++] = ints_attr("strides", spec->stride, spec->stride, 2);
            n.attrs[n.n_attrs++] = ints_attr("pads", spec->k / 2, spec->k / 2, 4);
            n.attrs[n.n_attrs++] = int_attr("group", spec->group);
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

static double spec_macs(const struct shape_spec *s)
{
    if (strcmp(s->op, "Gemm") == 0)
        return (double)s->c * (double)s->m;
    double oh = (double)((s->h + 2 * (s->k / 2) - s->k) / s->stride + 1);
    double ow = (double)((s->w + 2 * (s->k / 2) - s->k) / s->stride + 1);
    return oh * ow * (double)s->m * (double)(s->c / s->group) * (double)(s->k * s->k);
}

/* Best time of COPIES layers of shape s side by side, per layer. */
static int time_spec(const struct shape_spec *s, double budget_s, double *t, struct err *err)
{
    struct engine *e = build(s, COPIES, err);
    if (!e)
        return -1;
    int64_t dims[4] = {1, s->c, s->h, s->w};
    int rc = best_run(e, dims, strcmp(s->op, "Gemm") == 0 ? 2 : 4, budget_s, t, err);
    *t /= COPIES;
    engine_free(e);
    return rc;
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

int calibrate_host(const char *path, calibrate_progress_fn progress, void *ctx, struct profile *p,
                   struct calibrate_result *r, struct err *err)
{
    memset(r, 0, sizeof *r);
    memset(p, 0, sizeof *p);
    double t0 = timer_now_s();
    /* Layers of the shapes the bundled and torchvision models run at 28x28. */
    static const struct shape_spec dense[] = {
        {"3x3 conv 16->16 on 14x14", "Conv", 16, 14, 14, 16, 3, 1, 1, 0},
        {"3x3 conv 32->64 stride 2 on 14x14", "Conv", 32, 14, 14, 64, 3, 2, 1, 0},
        {"1x1 conv 96->24 on 7x7", "Conv", 96, 7, 7, 24, 1, 1, 1, 0},
        {"1x1 conv 64->384 on 4x4", "Conv", 64, 4, 4, 384, 1, 1, 1, 0},
        {"3x3 depthwise conv of 96 on 7x7", "Conv", 96, 7, 7, 96, 3, 1, 96, 0},
        {"Gemm 784->128", "Gemm", 784, 1, 1, 128, 1, 1, 1, 0},
    };
    const size_t n_dense = sizeof dense / sizeof dense[0];
    const size_t total = 2 * n_dense + 2;
    size_t done = 0;
    double rates[8], t;
    int rc = 0;
#define STEP()                                                                                     \
    do {                                                                                           \
        if (progress)                                                                              \
            progress(ctx, ++done, total, timer_now_s() - t0);                                      \
    } while (0)

    /* The cost of running one layer: a 1x1 convolution of one channel on one position. */
    static const struct shape_spec tiny = {"1x1 conv of one value", "Conv", 1, 1, 1, 1, 1, 1, 1, 0};
    if (time_spec(&tiny, 0.5, &t, err) < 0)
        return -1;
    double overhead = t;
    note(r, "per-layer overhead (a convolution of one value)", overhead * 1e6, "us");
    STEP();
    double gemv_s = 1;
    for (size_t i = 0; i < n_dense && rc == 0; i++) {
        if ((rc = time_spec(&dense[i], 1.0, &t, err)) < 0)
            break;
        double busy = t - overhead > t * 0.1 ? t - overhead : t * 0.1;
        rates[i] = spec_macs(&dense[i]) / busy;
        if (strcmp(dense[i].op, "Gemm") == 0)
            gemv_s = busy;
        note(r, dense[i].what, rates[i] / 1e9, "G MAC/s");
        STEP();
    }
    /* The same layers with 90% of their weights zero (the depthwise one stays dense in
     * prunescope): the sparse kernels' efficiency, dense time x density / sparse time. */
    double eff[8], dense_t[8];
    size_t n_eff = 0;
    for (size_t i = 0; i < n_dense && rc == 0; i++) {
        struct shape_spec z = dense[i];
        z.zeros = 0.9;
        if (z.group > 1 || (rc = time_spec(&dense[i], 0.5, &dense_t[i], err)) < 0)
            continue;
        double ts;
        if ((rc = time_spec(&z, 0.5, &ts, err)) < 0)
            break;
        STEP();
        double e = (dense_t[i] - overhead) * (1 - z.zeros) / (ts - overhead);
        eff[n_eff++] = e > 0 ? fmin(1.0, e) : 0.05;
        char what[96];
        snprintf(what, sizeof what, "%s at 90%% zeros: sparse / dense time", dense[i].what);
        note(r, what, ts / dense_t[i], "x");
    }
    if (rc < 0)
        return -1;
    double bw_l2 = copy_bandwidth(256 * 1024, 0.5);
    STEP();
    double bw_big = copy_bandwidth(16u * 1024 * 1024, 1.0);
    STEP();
    note(r, "copy within the L2 cache", bw_l2 / 1e9, "GB/s");
    note(r, "copy of 16 MB buffers", bw_big / 1e9, "GB/s");
    /* The MAC rate: the median of the four dense convolutions. The depthwise one as a
     * share of it; the matrix-vector product reads its weights once, so it gives the
     * bandwidth at which layers stream weights. */
    const size_t dw = 4, gemv = 5;
    double conv_rates[4];
    memcpy(conv_rates, rates, sizeof conv_rates);
    double rate = bench_stat_of(conv_rates, 4).median;
    double weight_bw = (double)(dense[gemv].c * dense[gemv].m) * 4.0 / gemv_s;
    note(r, "weights streamed by the Gemm", weight_bw / 1e9, "GB/s");
    double efficiency = bench_stat_of(eff, n_eff).median;

    /* The profile. */
    snprintf(p->name, sizeof p->name, "host");
    double mhz;
    cpu_info(p->core, sizeof p->core, &mhz);
    p->clock_mhz = mhz;
    snprintf(p->description, sizeof p->description,
             "this machine as prunescope runs it: one thread at batch 1 (%s)", p->core);
    p->macs_fp32 = rate;
    p->macs_int8 = rate; /* prunescope has no int8 kernels: int8 runs as fp32 here */
    p->bw_sram = bw_l2;
    p->bw_flash = weight_bw;
    p->depthwise_efficiency = fmin(1.0, rates[dw] / rate);
    p->sparse_min_weights = SPARSE_MIN_WEIGHTS;
    p->sparse_depthwise = false; /* op_conv.c runs depthwise convolutions dense */
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE), pages = sysconf(_SC_PHYS_PAGES),
         page = sysconf(_SC_PAGESIZE);
    p->sram_bytes = pages > 0 && page > 0 ? (double)pages * (double)page : 1e9;
    p->flash_bytes = p->sram_bytes;
    p->layer_overhead_s = overhead;
    for (int f = 0; f < PROFILE_N_SPARSE; f++) {
        p->sparse[f].efficiency = efficiency;
        p->sparse[f].break_even = fmax(0.0, fmin(0.99, 1.0 - efficiency));
    }
    /* No power meter here: a desktop or server core draws about 5 W busy. */
    p->pj_mac_fp32 = p->pj_mac_int8 = 5.0 / rate * 1e12;
    p->pj_byte_sram = 1.0;
    p->pj_byte_flash = 20.0;
    char src[8][512];
    snprintf(src[0], sizeof src[0], "/proc/cpuinfo (cpu MHz of the first CPU)");
    snprintf(src[1], sizeof src[1],
             "calibrate: median of %zu layers run at batch 1 on one thread through "
             "prunescope's engine (3x3, strided, 1x1 and depthwise convolutions, a Gemm), "
             "MACs / (best time - per-node overhead); int8 is the fp32 rate (prunescope "
             "has no int8 kernels)",
             n_dense);
    snprintf(src[2], sizeof src[2],
             "calibrate: sram: memcpy of 256 KB (in the L2 cache), bytes read and written over "
             "the best time; flash: the weight bytes of the %lldx%lld Gemm at batch 1 over its "
             "time, how fast a layer streams its weights (memcpy of 16 MB: %.3g bytes/s)",
             (long long)dense[gemv].c, (long long)dense[gemv].m, bw_big);
    snprintf(src[3], sizeof src[3],
             "sysconf(_SC_PHYS_PAGES) x page size: the machine's memory (L2 cache: %ld bytes)", l2);
    snprintf(src[4], sizeof src[4], "the machine's memory, as sram_bytes");
    snprintf(src[5], sizeof src[5],
             "calibrate: %d 1x1 convolutions of one value side by side run through the "
             "engine, best time / %d",
             COPIES, COPIES);
    snprintf(src[6], sizeof src[6],
             "calibrate: the dense layers above (but the depthwise one) at 90%% zeros against "
             "dense (prunescope's CSR kernels), efficiency = dense time x density / sparse "
             "time, the median; break_even = 1 - efficiency; the other formats run CSR here");
    snprintf(src[7], sizeof src[7],
             "estimate, not measured (no power meter): 5 W for one busy core / the MAC rate; "
             "1 pJ per byte in the L2 cache and 20 pJ per byte from DRAM (Horowitz, "
             "Computing's energy problem, ISSCC 2014, scaled)");
    static const char *const keys[] = {"clock_mhz",  "macs_per_s",  "bandwidth",
                                       "sram_bytes", "flash_bytes", "layer_overhead_s",
                                       "sparse",     "energy_pj",   "kernels"};
    char kernels_src[512];
    snprintf(kernels_src, sizeof kernels_src,
             "calibrate: depthwise_efficiency = the depthwise convolution's MAC rate / the "
             "dense ones'; sparse_min_weights and sparse_depthwise are prunescope's own rules "
             "(kernels/sparse.h: CSR from %d weights and %.0f%% zeros; depthwise "
             "convolutions stay dense)",
             SPARSE_MIN_WEIGHTS, 100 * SPARSE_MIN_ZEROS);
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
