/* `make bench`, architecture part: the torchvision models of tests/fixtures/arch evaluated on
 * 2,000 rows with 2 threads by prunescope and by onnxruntime (bench/ort_time.js). Not a test:
 * it never fails on time, only when a model will not run or its correct rows do not add up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/sensitivity.h"
#include "core/timer.h"
#include "session/session.h"

#define REPEAT  10 /* the 200 rows of each data.csv, 10 times over */
#define PASSES  3
#define THREADS 2

static const char *const MODELS[] = {"mobilenet_v2",    "mobilenet_v3_small", "mnasnet0_5",
                                     "efficientnet_b0", "resnet18",           "regnet_x_400mf",
                                     "squeezenet1_1",   "shufflenet_v2_x0_5"};
#define N_MODELS (sizeof MODELS / sizeof MODELS[0])

static const double TARGET_RATIO = 1.25; /* per model, prunescope time / onnxruntime time */
static const double TARGET_MEDIAN = 1.0;

struct result {
    const char *model;
    double macs;       /* per row */
    size_t rows;       /* evaluated */
    double ms, ort_ms; /* best of PASSES; ort_ms 0 when onnxruntime did not run */
};

/* Where onnxruntime-node is: a node_modules folder for NODE_PATH. */
struct ort {
    char modules[4096]; /* empty: onnxruntime's column is left out */
    char why[512];      /* why, then */
    char script[4096];
};

static int file_exists(const char *path)
{
    return access(path, R_OK) == 0;
}

static int has_ort(const char *modules)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/onnxruntime-node/package.json", modules);
    return file_exists(p);
}

/* $PRUNESCOPE_ORT, else the source tree's .tools/node_modules, else the build tree's, which
 * is installed with npm when missing. */
static void ort_find(struct ort *o, const char *srcdir, const char *builddir)
{
    o->modules[0] = o->why[0] = 0;
    snprintf(o->script, sizeof o->script, "%s/bench/ort_time.js", srcdir);
    const char *env = getenv("PRUNESCOPE_ORT");
    if (env && *env) {
        if (has_ort(env))
            snprintf(o->modules, sizeof o->modules, "%s", env);
        else
            snprintf(o->why, sizeof o->why, "PRUNESCOPE_ORT=%s holds no onnxruntime-node", env);
        return;
    }
    if (system("command -v node >/dev/null 2>&1") != 0) {
        snprintf(o->why, sizeof o->why, "node is not installed");
        return;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/.tools/node_modules", srcdir);
    if (has_ort(dir)) {
        snprintf(o->modules, sizeof o->modules, "%s", dir);
        return;
    }
    snprintf(dir, sizeof dir, "%s/.tools/node_modules", builddir);
    if (has_ort(dir)) {
        snprintf(o->modules, sizeof o->modules, "%s", dir);
        return;
    }
    if (system("command -v npm >/dev/null 2>&1") != 0) {
        snprintf(o->why, sizeof o->why,
                 "onnxruntime-node is not in %s/.tools/node_modules and npm is not installed",
                 srcdir);
        return;
    }
    fprintf(stderr,
            "bench_arch: onnxruntime-node is missing; installing onnxruntime-node@1.30.0 "
            "into %s/.tools with npm\n",
            builddir);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "npm install --prefix '%s/.tools' --ignore-scripts --no-audit --no-fund "
             "onnxruntime-node@1.30.0 1>&2",
             builddir);
    if (system(cmd) != 0 || !has_ort(dir)) {
        snprintf(o->why, sizeof o->why, "npm could not install onnxruntime-node into %s/.tools",
                 builddir);
        return;
    }
    snprintf(o->modules, sizeof o->modules, "%s", dir);
}

/* Best time of ort_time.js on csv, in ms; correct receives its correct rows. -1 with why
 * filled when it did not run. */
static double ort_time_passes(const struct ort *o, const char *model, const char *csv,
                              const struct shape *row, int passes, size_t *correct,
                              double *total_ms, char *why, size_t why_size)
{
    char shape[128] = "";
    for (int d = 0; d < row->ndim; d++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? "," : "",
                 (long long)row->dims[d]);
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "NODE_PATH='%s' node '%s' '%s' '%s' %s %d 2>&1", o->modules,
             o->script, model, csv, shape, passes);
    FILE *p = popen(cmd, "r");
    if (!p) {
        snprintf(why, why_size, "cannot run node");
        return -1;
    }
    char line[1024], last[1024] = "";
    double ms = -1;
    size_t rows = 0;
    while (fgets(line, sizeof line, p)) {
        if (sscanf(line, "ort ms %lf rows %zu correct %zu total %lf", &ms, &rows, correct,
                   total_ms) != 4 &&
            *line)
            snprintf(last, sizeof last, "%s", line);
    }
    int status = pclose(p);
    if (status != 0 || ms < 0) {
        last[strcspn(last, "\n")] = 0;
        snprintf(why, why_size, "ort_time.js: %s", *last ? last : "no time printed");
        return -1;
    }
    return ms;
}

static double ort_time(const struct ort *o, const char *model, const char *csv,
                       const struct shape *row, size_t *correct, char *why, size_t why_size)
{
    double total;
    return ort_time_passes(o, model, csv, row, 3, correct, &total, why, why_size);
}

/* csv's header and then its rows REPEAT times, into a new file under /tmp named in out. */
static int repeat_csv(const char *csv, char *out, size_t out_size, struct err *err)
{
    FILE *f = fopen(csv, "rb");
    if (!f) {
        err_set(err, "%s: cannot open", csv);
        return -1;
    }
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 > cap) {
            cap = (cap + 65536) * 2;
            char *t = realloc(text, cap);
            if (!t) {
                free(text);
                fclose(f);
                err_set(err, "%s: out of memory", csv);
                return -1;
            }
            text = t;
        }
        size_t got = fread(text + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    char *body = memchr(text, '\n', n);
    if (!body || n == 0 || text[n - 1] != '\n') {
        free(text);
        err_set(err, "%s: expected a header line and rows ending in a newline", csv);
        return -1;
    }
    body++;
    snprintf(out, out_size, "/tmp/prunescope-bench-arch-XXXXXX.csv");
    int fd = mkstemps(out, 4);
    FILE *w = fd >= 0 ? fdopen(fd, "wb") : NULL;
    int rc = w ? 0 : -1;
    if (w) {
        rc |= fwrite(text, 1, (size_t)(body - text), w) != (size_t)(body - text);
        for (int k = 0; k < REPEAT; k++)
            rc |= fwrite(body, 1, n - (size_t)(body - text), w) != n - (size_t)(body - text);
        rc |= fclose(w) != 0;
    } else if (fd >= 0) {
        close(fd);
    }
    free(text);
    if (rc) {
        if (fd >= 0)
            unlink(out);
        err_set(err, "%s: cannot write", out);
        return -1;
    }
    return 0;
}

static int eval_correct(struct session *s, const char *csv, size_t *rows, size_t *correct,
                        struct err *err)
{
    struct dataset_options opt = {0};
    struct metrics m;
    double ms;
    if (session_load_data(s, csv, &opt, NULL, err) < 0 || session_eval(s, 0, &m, &ms, err) < 0)
        return -1;
    *rows = m.rows;
    *correct = m.correct;
    return 0;
}

static int bench_model(const char *srcdir, const char *name, const struct ort *o,
                       struct result *res)
{
    char model[4096], csv[4096], big[64] = "";
    snprintf(model, sizeof model, "%s/tests/fixtures/arch/%s/model.onnx", srcdir, name);
    snprintf(csv, sizeof csv, "%s/tests/fixtures/arch/%s/data.csv", srcdir, name);
    struct err err;
    struct session *s = session_new(THREADS, NULL, &err);
    size_t rows1, correct1, correct = 0;
    if (!s || session_load_model(s, model, NULL, 0, &err) < 0 ||
        eval_correct(s, csv, &rows1, &correct1, &err) < 0 ||
        repeat_csv(csv, big, sizeof big, &err) < 0)
        goto fail;
    /* The 200-row evaluation above warmed the engine; now the timed passes. */
    struct dataset_options opt = {0};
    if (session_load_data(s, big, &opt, NULL, &err) < 0)
        goto fail;
    res->model = name;
    res->macs = engine_macs_per_row(s->engine);
    res->ms = 1e300;
    for (int p = 0; p < PASSES; p++) {
        struct metrics m;
        double ms;
        if (session_eval(s, 0, &m, &ms, &err) < 0)
            goto fail;
        if (m.rows != REPEAT * rows1 || m.correct != REPEAT * correct1) {
            err_set(&err, "%zu of %zu rows correct, expected %d x %zu of %zu", m.correct, m.rows,
                    REPEAT, correct1, rows1);
            goto fail;
        }
        correct = m.correct;
        res->rows = m.rows;
        res->ms = ms < res->ms ? ms : res->ms;
    }
    res->ort_ms = 0;
    if (o->modules[0]) {
        char why[2048];
        size_t ort_correct = 0;
        double ms = ort_time(o, model, big, &s->row_shape, &ort_correct, why, sizeof why);
        if (ms < 0)
            fprintf(stderr, "bench_arch: %s: onnxruntime did not run: %s\n", name, why);
        else
            res->ort_ms = ms;
        if (ms >= 0 && ort_correct != correct)
            fprintf(stderr, "bench_arch: %s: onnxruntime has %zu rows correct, prunescope %zu\n",
                    name, ort_correct, correct);
    }
    unlink(big);
    session_free(s);
    return 0;
fail:
    fprintf(stderr, "bench_arch: %s: %s\n", name, err.msg);
    if (*big)
        unlink(big);
    session_free(s);
    return -1;
}

/* The sensitivity sweep of mobilenet_v2 over the 10,000 Fashion-MNIST test rows (every
 * layer, the 11 default levels, L1 unstructured) against the loop a user would write with
 * onnxruntime: one whole-model evaluation of the same rows per (layer, level). onnxruntime
 * runs PRUNESCOPE_BENCH_SWEEP_EVALS of those evaluations (default 10; the time of one does
 * not depend on the weights' values) and the loop's time is their mean times the pairs. */
static const double SWEEP_TARGET = 5.0;
static const double SWEEP_LEVELS[] = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95};

/* The session's rows as a CSV for ort_time.js (features, then the label), into out. */
static int write_rows_csv(const struct dataset *d, char *out, size_t out_size, struct err *err)
{
    snprintf(out, out_size, "/tmp/prunescope-bench-sweep-XXXXXX.csv");
    int fd = mkstemps(out, 4);
    FILE *w = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!w) {
        if (fd >= 0)
            close(fd);
        return err_set(err, "%s: cannot write", out);
    }
    for (size_t i = 0; i < d->n_features; i++)
        fprintf(w, "f%zu,", i);
    fprintf(w, "label\n");
    for (size_t r = 0; r < d->rows; r++) {
        for (size_t i = 0; i < d->n_features; i++)
            fprintf(w, "%.9g,", d->features[r * d->n_features + i]);
        fprintf(w, "%lld\n", (long long)d->labels[r]);
    }
    if (fclose(w) != 0) {
        unlink(out);
        return err_set(err, "%s: cannot write", out);
    }
    return 0;
}

static int bench_sweep(const char *srcdir, const struct ort *o)
{
    char model[4096], data[4096], csv[64] = "";
    snprintf(model, sizeof model, "%s/tests/fixtures/arch/mobilenet_v2/model.onnx", srcdir);
    snprintf(data, sizeof data, "%s/data/fashion-mnist-test.csv.gz", srcdir);
    struct err err;
    struct session *s = session_new(THREADS, NULL, &err);
    struct dataset_options opt = {.label = "label", .scale = 1.0f / 255.0f};
    struct sens_result r = {0};
    if (!s || session_load_model(s, model, NULL, 0, &err) < 0 ||
        session_load_data(s, data, &opt, NULL, &err) < 0)
        goto fail;
    struct sens_options so = {.n_levels = sizeof SWEEP_LEVELS / sizeof SWEEP_LEVELS[0],
                              .has_method = true,
                              .criterion = CRIT_L1,
                              .granularity = GRAN_UNSTRUCTURED,
                              .fresh = true};
    memcpy(so.levels, SWEEP_LEVELS, sizeof SWEEP_LEVELS);
    struct analysis_subject sub;
    session_subject(s, &sub);
    double t0 = timer_now_s();
    if (sens_run(&sub, &so, NULL, NULL, &r, &err) < 0)
        goto fail;
    double ps = timer_now_s() - t0;
    size_t pairs = r.n_layers * r.n_levels;
    printf("sensitivity sweep, mobilenet_v2, %zu rows, %zu layers x %zu levels (%zu pairs), "
           "%d threads\n",
           r.rows, r.n_layers, r.n_levels, pairs, THREADS);
    printf("prunescope sweep                          %9.1f s\n", ps);
    if (!o->modules[0]) {
        printf("no onnxruntime column: %s\n", o->why);
    } else if (write_rows_csv(s->data, csv, sizeof csv, &err) < 0) {
        goto fail;
    } else {
        const char *env = getenv("PRUNESCOPE_BENCH_SWEEP_EVALS");
        int evals = env && atoi(env) > 0 ? atoi(env) : 10;
        size_t correct = 0;
        double total = 0;
        char why[2048];
        double best = ort_time_passes(o, model, csv, &s->row_shape, evals, &correct, &total, why,
                                      sizeof why);
        if (best < 0) {
            printf("onnxruntime did not run: %s\n", why);
        } else {
            double each = total / evals / 1e3, naive = each * (double)pairs;
            printf("onnxruntime, one evaluation per pair      %9.1f s (%zu x %.3f s, the mean of "
                   "%d evaluations)\n",
                   naive, pairs, each, evals);
            printf("target: the sweep at least %.0fx faster than the onnxruntime loop: %.2fx, "
                   "%s\n",
                   SWEEP_TARGET, naive / ps, naive / ps >= SWEEP_TARGET ? "met" : "MISSED");
            if (correct != r.baseline_correct)
                fprintf(stderr, "bench_arch: sweep: onnxruntime has %zu rows correct, "
                                "prunescope's baseline %zu\n",
                        correct, r.baseline_correct);
        }
        unlink(csv);
    }
    sens_result_fini(&r);
    session_free(s);
    return 0;
fail:
    fprintf(stderr, "bench_arch: sweep: %s\n", err.msg);
    if (*csv)
        unlink(csv);
    sens_result_fini(&r);
    session_free(s);
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Whether name is in the comma-separated list (NULL or empty: every model). */
static int selected(const char *list, const char *name)
{
    if (!list || !*list)
        return 1;
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, n) == 0)
            return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

/* PRUNESCOPE_BENCH_ARCH, when set, names the models to run (comma-separated). */
int main(void)
{
    const char *srcdir = getenv("PRUNESCOPE_SRCDIR");
    const char *builddir = getenv("PRUNESCOPE_BUILDDIR");
    const char *list = getenv("PRUNESCOPE_BENCH_ARCH");
    if (!srcdir)
        srcdir = ".";
    if (!builddir)
        builddir = ".";
    for (const char *p = list ? list : ""; *p;) {
        size_t n = strcspn(p, ",");
        int known = 0;
        for (size_t i = 0; i < N_MODELS; i++)
            known |= strlen(MODELS[i]) == n && strncmp(p, MODELS[i], n) == 0;
        if (!known && n > 0) {
            fprintf(stderr,
                    "bench_arch: PRUNESCOPE_BENCH_ARCH: unknown model '%.*s' (known:", (int)n, p);
            for (size_t i = 0; i < N_MODELS; i++)
                fprintf(stderr, " %s", MODELS[i]);
            fprintf(stderr, ")\n");
            return 2;
        }
        p += n + (p[n] == ',');
    }

    struct ort o;
    ort_find(&o, srcdir, builddir);
    if (!o.modules[0])
        fprintf(stderr, "bench_arch: no onnxruntime column: %s\n", o.why);

    printf("prunescope vs onnxruntime 1.30, torchvision architectures, %d x 200 rows, %d threads, "
           "best of %d\n",
           REPEAT, THREADS, PASSES);
    printf("%-20s %10s %14s %15s %7s %9s\n", "model", "MACs/row", "prunescope ms", "onnxruntime ms",
           "ratio", "GFLOP/s");
    struct result res[N_MODELS];
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < N_MODELS; i++) {
        if (!selected(list, MODELS[i]))
            continue;
        struct result *r = &res[n];
        if (bench_model(srcdir, MODELS[i], &o, r) < 0) {
            rc = 1;
            continue;
        }
        n++;
        double gflops = 2.0 * r->macs * (double)r->rows / (r->ms / 1e3) / 1e9;
        if (r->ort_ms > 0)
            printf("%-20s %10.0f %14.1f %15.1f %6.2fx %9.1f\n", r->model, r->macs, r->ms, r->ort_ms,
                   r->ms / r->ort_ms, gflops);
        else
            printf("%-20s %10.0f %14.1f %15s %7s %9.1f\n", r->model, r->macs, r->ms, "-", "-",
                   gflops);
        fflush(stdout);
    }

    double ratios[N_MODELS];
    size_t n_ratios = 0;
    for (size_t i = 0; i < n; i++)
        if (res[i].ort_ms > 0)
            ratios[n_ratios++] = res[i].ms / res[i].ort_ms;
    if (n_ratios == 0) {
        if (!o.modules[0])
            printf("no onnxruntime column: %s\n", o.why);
        goto sweep;
    }
    qsort(ratios, n_ratios, sizeof ratios[0], cmp_double);
    double median =
        n_ratios % 2 ? ratios[n_ratios / 2] : (ratios[n_ratios / 2 - 1] + ratios[n_ratios / 2]) / 2;
    printf("median ratio %.2fx over %zu models (prunescope time / onnxruntime time)\n", median,
           n_ratios);
    for (size_t i = 0; i < n; i++) {
        if (res[i].ort_ms <= 0)
            continue;
        double ratio = res[i].ms / res[i].ort_ms;
        printf("%-20s target: within %.2fx of onnxruntime with %d threads: %.2fx, %s\n",
               res[i].model, TARGET_RATIO, THREADS, ratio,
               ratio <= TARGET_RATIO ? "met" : "MISSED");
    }
    printf("%-20s target: median ratio at or below %.1fx: %.2fx, %s\n", "median", TARGET_MEDIAN,
           median, median <= TARGET_MEDIAN ? "met" : "MISSED");
sweep:;
    const char *sweep_env = getenv("PRUNESCOPE_BENCH_SWEEP");
    if (!(sweep_env && strcmp(sweep_env, "0") == 0)) {
        printf("\n");
        rc |= bench_sweep(srcdir, &o) < 0;
    }
    return rc;
}
