/* `make bench`, host estimate part: calibrate (into a private profile folder), then on the
 * bundled models and three torchvision architectures, each at 0/50/80/90/95% unstructured
 * sparsity and with filter/neuron pruning at 25% and 50% (measured as exported, physically
 * smaller), in CSR storage: the host
 * profile's estimate against bench's measured batch-1 latency, the median relative error
 * and the Spearman rank correlation. Targets: median within 25%, correlation at least 0.9.
 * Not a test: it never fails on time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/bench.h"
#include "analysis/calibrate.h"
#include "commands/command.h"
#include "export/model.h"
#include "session/session.h"

#define ROWS   20
#define REPEAT 3

static const char *const MODELS[] = {
    "data/digits_mlp.onnx", "data/fashion_cnn.onnx", "tests/fixtures/arch/mobilenet_v2/model.onnx",
    "tests/fixtures/arch/resnet18/model.onnx", "tests/fixtures/arch/squeezenet1_1/model.onnx"};
static const struct {
    const char *name;
    bool structured;
    double level;
} CONFIGS[] = {{"dense", false, 0},      {"50%", false, 0.5},  {"80%", false, 0.8},
               {"90%", false, 0.9},      {"95%", false, 0.95}, {"filter 25%", true, 0.25},
               {"filter 50%", true, 0.5}};

#define N_MODELS  (sizeof MODELS / sizeof MODELS[0])
#define N_CONFIGS (sizeof CONFIGS / sizeof CONFIGS[0])

static int run(struct session *s, const char *line)
{
    FILE *sink = fopen("/dev/null", "w");
    struct out o;
    out_init(&o, false, sink, sink);
    struct cmd_ctx c = {.s = s, .o = &o};
    int rc = cmd_run_script(&c, line, "bench", true);
    fclose(sink);
    return rc;
}

/* Ranks of v (ties share their mean rank). */
static void ranks(const double *v, size_t n, double *r)
{
    for (size_t i = 0; i < n; i++) {
        double below = 0, same = 0;
        for (size_t j = 0; j < n; j++) {
            below += v[j] < v[i];
            same += v[j] == v[i];
        }
        r[i] = below + (same + 1) / 2;
    }
}

static double spearman(const double *a, const double *b, size_t n)
{
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb);
    ranks(a, n, ra);
    ranks(b, n, rb);
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++)
        ma += ra[i] / (double)n, mb += rb[i] / (double)n;
    for (size_t i = 0; i < n; i++) {
        sab += (ra[i] - ma) * (rb[i] - mb);
        saa += (ra[i] - ma) * (ra[i] - ma);
        sbb += (rb[i] - mb) * (rb[i] - mb);
    }
    free(ra), free(rb);
    return sab / sqrt(saa * sbb);
}

int main(void)
{
    const char *src = getenv("PRUNESCOPE_SRCDIR");
    if (!src)
        src = ".";
    char config_home[] = "/tmp/prunescope-bench-host-XXXXXX";
    if (!mkdtemp(config_home)) {
        perror("bench_host: mkdtemp");
        return 1;
    }
    setenv("XDG_CONFIG_HOME", config_home, 1);
    struct err err;
    char path[4096];
    snprintf(path, sizeof path, "%s/prunescope/profiles/host.json", config_home);
    struct profile host;
    struct calibrate_result cr;
    if (calibrate_host(path, NULL, NULL, &host, &cr, &err) < 0) {
        fprintf(stderr, "bench_host: calibrate: %s\n", err.msg);
        return 1;
    }
    printf("host estimate against bench (batch 1, one thread, %d rows x %d, CSR storage); "
           "calibrate took %.1f s: %.3g MAC/s, %.3g s per layer\n",
           ROWS, REPEAT, cr.elapsed_s, host.macs_fp32, host.layer_overhead_s);
    profile_fini(&host);
    printf("%-16s %-12s %12s %12s %8s\n", "model", "config", "measured ms", "estimate ms", "error");
    double measured[N_MODELS * N_CONFIGS], estimated[N_MODELS * N_CONFIGS],
        errors[N_MODELS * N_CONFIGS];
    size_t n = 0;
    for (size_t m = 0; m < N_MODELS; m++) {
        const char *base = strrchr(MODELS[m], '/') + 1;
        char short_name[64];
        snprintf(short_name, sizeof short_name, "%s", base);
        if (strcmp(base, "model.onnx") == 0) { /* the architecture's folder */
            const char *end = strrchr(MODELS[m], '/'), *start = end;
            while (start > MODELS[m] && start[-1] != '/')
                start--;
            snprintf(short_name, sizeof short_name, "%.*s", (int)(end - start), start);
        }
        for (size_t k = 0; k < N_CONFIGS; k++) {
            struct session *s = session_new(1, NULL, &err);
            char line[8192];
            snprintf(line, sizeof line, "load %s/%s; storage csr; profile host", src, MODELS[m]);
            if (!s || run(s, line) < 0) {
                fprintf(stderr, "bench_host: %s: cannot load\n", MODELS[m]);
                return 1;
            }
            /* Every layer but the last (the classifier, whose outputs stay). */
            size_t last = s->layers.count;
            for (size_t i = 1; i < last && CONFIGS[k].level > 0; i++) {
                snprintf(line, sizeof line, "method %zu %s; set %zu %g", i,
                         CONFIGS[k].structured ? "l2 structured" : "l1 unstructured", i,
                         CONFIGS[k].level);
                run(s, line); /* a layer that cannot take it stays as it is */
            }
            struct tensor *x = session_input_rows(s, ROWS, &err);
            const struct profile *prof = session_profile(s, &err);
            if (!x || !prof) {
                fprintf(stderr, "bench_host: %s: %s\n", MODELS[m], err.msg);
                return 1;
            }
            float *xv = tensor_f32(x);
            for (size_t i = 0; i < tensor_numel(x); i++)
                xv[i] = (float)((i * 37) % 101) / 101.0f;
            struct bench_result b;
            struct cost_estimate e;
            /* Neuron and filter pruning run as exported: physically smaller. */
            struct engine *own, *run_on = model_deployed_engine(s, &own, &err);
            if (!run_on || bench_run(run_on, x, REPEAT, &b, &err) < 0 ||
                session_estimate(s, prof, &e, &err) < 0) {
                fprintf(stderr, "bench_host: %s: %s\n", MODELS[m], err.msg);
                return 1;
            }
            measured[n] = b.batch1_ms.median;
            estimated[n] = e.latency_s * 1e3;
            errors[n] = (estimated[n] - measured[n]) / measured[n];
            printf("%-16s %-12s %12.4f %12.4f %+7.1f%%\n", short_name, CONFIGS[k].name, measured[n],
                   estimated[n], 100 * errors[n]);
            n++;
            cost_estimate_fini(&e);
            bench_result_fini(&b);
            engine_free(own);
            tensor_free(x);
            session_free(s);
        }
    }
    double abs_err[N_MODELS * N_CONFIGS];
    for (size_t i = 0; i < n; i++)
        abs_err[i] = fabs(errors[i]);
    double median = bench_stat_of(abs_err, n).median;
    double rho = spearman(estimated, measured, n);
    printf("median |error| %.1f%% over %zu configurations (target: within 25%%): %s\n",
           100 * median, n, median <= 0.25 ? "met" : "MISSED");
    printf("Spearman rank correlation %.3f (target: at least 0.9): %s\n", rho,
           rho >= 0.9 ? "met" : "MISSED");
    unlink(path);
    snprintf(path, sizeof path, "%s/prunescope/profiles", config_home);
    rmdir(path);
    snprintf(path, sizeof path, "%s/prunescope", config_home);
    rmdir(path);
    rmdir(config_home);
    return 0;
}
