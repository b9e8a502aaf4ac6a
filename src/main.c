/* The prunescope command line: options, then loading a model and describing it.
 * Not for the commands themselves (a command layer comes with the REPL and batch mode). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/err.h"
#include "core/timer.h"
#include "engine/engine.h"
#include "kernels/ops.h"
#include "model/graph.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: prunescope [OPTIONS] MODEL.onnx\n"
            "Load an ONNX model and describe it: inputs, outputs, nodes and parameters.\n"
            "\n"
            "Options:\n"
            "  -t, --threads N   worker threads (default: all cores)\n"
            "      --ops         list the supported ONNX operators and exit\n"
            "  -h, --help        show this help and exit\n"
            "  -V, --version     show the version and exit\n"
            "\n"
            "Exit status: 0 on success, 1 when the model cannot be loaded, 2 for bad usage.\n");
}

static void print_value(struct engine *e, int v, const char *kind)
{
    const struct graph *g = engine_graph(e);
    const struct value *val = &g->values[v];
    struct shape s;
    struct err err;
    printf("  %-6s %-24s ", kind, val->name);
    if (engine_value_shape(e, v, 1, &s, &err) == 0) {
        /* Dims that scale with the batch are shown as the model names them. */
        struct shape s2;
        engine_value_shape(e, v, 2, &s2, &err);
        printf("[");
        for (int d = 0; d < s.ndim; d++) {
            if (s2.dims[d] != s.dims[d])
                printf("%s%s", d ? "," : "", s.dims[d] == 1 ? "N" : "N*?");
            else
                printf("%s%lld", d ? "," : "", (long long)s.dims[d]);
        }
        printf("] %s\n", dtype_name(g->values[v].dtype == DTYPE_UNDEFINED ? DTYPE_FLOAT
                                                                          : g->values[v].dtype));
    } else {
        printf("(shape unknown)\n");
    }
}

static int describe(const char *path, int threads)
{
    struct err err;
    double t0 = timer_now_s();
    struct engine *e = engine_open(path, threads, &err);
    if (!e) {
        fprintf(stderr, "prunescope: %s\n", err.msg);
        return 1;
    }
    double load_ms = (timer_now_s() - t0) * 1e3;
    const struct graph *g = engine_graph(e);
    printf("model    %s\n", path);
    printf("producer %s\n", *g->producer ? g->producer : "(unknown)");
    printf("opset    %lld (IR version %lld)\n", (long long)g->opset, (long long)g->ir_version);
    for (int i = 0; i < g->n_inputs; i++)
        print_value(e, g->inputs[i], "input");
    for (int i = 0; i < g->n_outputs; i++)
        print_value(e, g->outputs[i], "output");
    printf("nodes    %d\n", g->n_nodes);
    for (int n = 0; n < g->n_nodes; n++) {
        const struct node *nd = &g->nodes[n];
        printf("  %3d  %-20s %s\n", n + 1, nd->op_type, nd->name);
    }
    printf("params   %zu\n", graph_param_count(g));
    printf("macs     %.0f per row\n", engine_macs_per_row(e));
    printf("loaded   in %.1f ms\n", load_ms);
    engine_free(e);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"threads", required_argument, NULL, 't'},
        {"ops", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int threads = 0, c;
    while ((c = getopt_long(argc, argv, "t:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 256) {
                fprintf(stderr,
                        "prunescope: --threads expects a number from 1 to 256, got "
                        "'%s'\n",
                        optarg);
                return 2;
            }
            threads = (int)v;
            break;
        }
        case 'o': {
            for (size_t i = 0; i < ops_count(); i++)
                printf("%s\n", ops_at(i)->name);
            return 0;
        }
        case 'h': usage(stdout); return 0;
        case 'V': printf("prunescope %s\n", PACKAGE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return 2;
    }
    return describe(argv[optind], threads);
}
