/* eval: run the model on the data and report accuracy, loss and the weights' footprint,
 * and with --timing where the engine's time went. Not the metrics' arithmetic
 * (dataset/metrics.c) and not the measuring itself (engine/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/allocate.h"
#include "commands/command.h"
#include "engine/plan.h"

/* Slowest nodes the text shows (JSON lists every node that ran). */
#define TIMING_TEXT_NODES 15

/* One op type's share of the measured time. */
struct op_time {
    const char *op; /* borrowed from the graph */
    int nodes;
    double ms, macs;
};

/* A node that ran, for sorting. */
struct node_rank {
    int node;
    double ms;
};

static int by_op_ms(const void *a, const void *b)
{
    const struct op_time *x = a, *y = b;
    if (x->ms != y->ms)
        return x->ms < y->ms ? 1 : -1;
    return strcmp(x->op, y->op);
}

static int by_node_ms(const void *a, const void *b)
{
    const struct node_rank *x = a, *y = b;
    if (x->ms != y->ms)
        return x->ms < y->ms ? 1 : -1;
    return x->node - y->node;
}

/* Output 0 of a node for a batch of N rows as "[N,32,112,112]" (dims that follow the
 * batch written N), and the same as a JSON array. */
static json_t *output_shape(struct engine *e, int node, char *text, size_t size)
{
    const struct node *nd = &engine_graph(e)->nodes[node];
    struct shape s1, s2;
    struct err ignored;
    json_t *arr = json_array();
    if (nd->n_outputs < 1 || nd->outputs[0] < 0 ||
        engine_value_shape(e, nd->outputs[0], 1, &s1, &ignored) < 0 ||
        engine_value_shape(e, nd->outputs[0], 2, &s2, &ignored) < 0) {
        snprintf(text, size, "?");
        return arr;
    }
    size_t used = (size_t)snprintf(text, size, "[");
    for (int d = 0; d < s1.ndim && used < size; d++) {
        if (s1.dims[d] != s2.dims[d]) {
            used += (size_t)snprintf(text + used, size - used, "%sN", d ? "," : "");
            json_array_append_new(arr, json_string("N"));
        } else {
            used += (size_t)snprintf(text + used, size - used, "%s%lld", d ? "," : "",
                                     (long long)s1.dims[d]);
            json_array_append_new(arr, json_integer(s1.dims[d]));
        }
    }
    if (used < size)
        snprintf(text + used, size - used, "]");
    return arr;
}

/* GFLOP/s of a dense op over its summed thread time (2 per multiply-add), or 0. */
static double gflops(double macs, double ms)
{
    return macs > 0 && ms > 0 ? 2.0 * macs / (ms * 1e6) : 0.0;
}

/* The --timing report: time per op type, the slowest nodes, and the nodes' total against
 * the evaluation's elapsed time. times holds one entry per graph node. */
static int report_timing(struct cmd_ctx *c, const struct engine_node_time *times,
                         const struct engine_timing *total, double elapsed_ms, struct err *err)
{
    struct engine *e = c->s->engine;
    const struct graph *g = engine_graph(e);
    struct op_time *ops = calloc((size_t)g->n_nodes + 1, sizeof *ops);
    struct node_rank *ranked = calloc((size_t)g->n_nodes + 1, sizeof *ranked);
    if (!ops || !ranked) {
        free(ops);
        free(ranked);
        return err_oom(err, "timing table", (size_t)g->n_nodes * sizeof *ops);
    }
    int n_ops = 0, n_ran = 0;
    for (int n = 0; n < g->n_nodes; n++) {
        if (!times[n].runs)
            continue;
        ranked[n_ran++] = (struct node_rank){.node = n, .ms = times[n].ms};
        int k = 0;
        while (k < n_ops && strcmp(ops[k].op, g->nodes[n].op_type) != 0)
            k++;
        if (k == n_ops)
            ops[n_ops++].op = g->nodes[n].op_type;
        ops[k].nodes++;
        ops[k].ms += times[n].ms;
        ops[k].macs += times[n].macs;
    }
    qsort(ops, (size_t)n_ops, sizeof *ops, by_op_ms);
    qsort(ranked, (size_t)n_ran, sizeof *ranked, by_node_ms);
    double all = total->nodes_ms;
    double share_div = all > 0 ? all : 1;
    int workers = total->workers > 0 ? total->workers : 1;

    json_t *jops = json_array();
    out_printf(c->o, "\ntime per op type (summed over %d thread%s)\n", workers,
               workers == 1 ? "" : "s");
    out_printf(c->o, "%-20s %6s %11s %7s %9s\n", "op", "nodes", "ms", "share", "GFLOP/s");
    for (int k = 0; k < n_ops; k++) {
        double gf = gflops(ops[k].macs, ops[k].ms), share = ops[k].ms / share_div;
        char gtext[32] = "-";
        if (ops[k].macs > 0)
            snprintf(gtext, sizeof gtext, "%.2f", gf);
        out_printf(c->o, "%-20s %6d %11.3f %6.1f%% %9s\n", ops[k].op, ops[k].nodes, ops[k].ms,
                   100.0 * share, gtext);
        json_array_append_new(jops,
                              json_pack("{s:s, s:i, s:f, s:f, s:o}", "op", ops[k].op, "nodes",
                                        ops[k].nodes, "ms", ops[k].ms, "share", share, "gflops",
                                        ops[k].macs > 0 ? json_real(gf) : json_null()));
    }

    int shown = n_ran < TIMING_TEXT_NODES ? n_ran : TIMING_TEXT_NODES, width = 4;
    for (int i = 0; i < shown; i++) {
        int len = (int)strlen(cmd_node_name(c->s, ranked[i].node));
        if (len > width)
            width = len < 48 ? len : 48;
    }
    json_t *jnodes = json_array();
    out_printf(c->o, "\n%d slowest node%s of %d\n", shown, shown == 1 ? "" : "s", n_ran);
    out_printf(c->o, "%-*s %-20s %-20s %11s %7s\n", width, "name", "op", "output", "ms", "share");
    for (int i = 0; i < n_ran; i++) {
        int n = ranked[i].node;
        const char *name = cmd_node_name(c->s, n);
        char shape[128];
        json_t *jshape = output_shape(e, n, shape, sizeof shape);
        double share = times[n].ms / share_div;
        if (i < shown)
            out_printf(c->o, "%-*s %-20s %-20s %11.3f %6.1f%%\n", width, name, g->nodes[n].op_type,
                       shape, times[n].ms, 100.0 * share);
        json_array_append_new(jnodes,
                              json_pack("{s:s, s:s, s:s, s:o, s:f, s:f}", "name", name, "node",
                                        g->nodes[n].name, "op", g->nodes[n].op_type, "shape",
                                        jshape, "ms", times[n].ms, "share", share));
    }

    /* The nodes' time is thread time; per thread it is what the wall clock saw of them. */
    double per_thread = all / workers, rest = elapsed_ms - per_thread;
    double engine_rest = total->run_ms - per_thread, outside = elapsed_ms - total->run_ms;
    out_printf(c->o,
               "\nnodes     %.3f ms over %d thread%s (%.3f ms per thread) of %.3f ms elapsed\n",
               all, workers, workers == 1 ? "" : "s", per_thread, elapsed_ms);
    out_printf(c->o, "rest      %.3f ms (%.1f%%): %.3f ms in the engine around the nodes\n", rest,
               elapsed_ms > 0 ? 100.0 * rest / elapsed_ms : 0.0, engine_rest);
    out_printf(c->o, "          (chunking, thread hand-off), %.3f ms outside it (metrics)\n",
               outside);
    /* Nodes run inside the Conv before them (engine/plan.c) add their time to it. */
    json_t *jfused = json_object();
    struct err ignored;
    const struct plan *p = engine_plan_rows(e, 1, &ignored);
    for (int s = 0; p && s < p->n_steps; s++)
        for (int f = 0; f < p->steps[s].n_fused; f++) {
            const char *op = g->nodes[p->steps[s].fused[f]].op_type;
            json_t *have = json_object_get(jfused, op);
            json_object_set_new(jfused, op, json_integer(have ? json_integer_value(have) + 1 : 1));
        }
    if (json_object_size(jfused) > 0) {
        const char *op, *sep = "";
        json_t *count;
        out_printf(c->o, "fused    ");
        json_object_foreach(jfused, op, count)
        {
            out_printf(c->o, "%s %lld %s", sep, (long long)json_integer_value(count), op);
            sep = ",";
        }
        out_printf(c->o, ": timed with the Conv each follows\n");
    }
    out_set(c->o, "timing",
            json_pack("{s:o, s:o, s:f, s:f, s:f, s:i, s:o}", "ops", jops, "nodes", jnodes,
                      "nodes_ms", all, "elapsed_ms", elapsed_ms, "run_ms", total->run_ms, "threads",
                      workers, "fused", jfused));
    free(ops);
    free(ranked);
    return 0;
}

static int eval_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    int top_k = 0;
    bool timing = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
            long long k;
            if (!cmd_parse_int(argv[++i], 1, 1000, &k))
                return err_set(err, "--top expects a number from 1 to 1000, got '%s'", argv[i]);
            top_k = (int)k;
        } else if (strcmp(argv[i], "--timing") == 0) {
            timing = true;
        } else {
            return err_set(err, "usage: %s", cmd_eval.usage);
        }
    }
    /* Predicted before measuring, so the error is that of a real prediction. */
    struct prediction pred;
    struct err why;
    struct analysis_subject sub;
    session_subject(c->s, &sub);
    bool predicted = predict_config(&sub, &pred, &why) == 0;
    struct metrics m;
    double ms;
    if (timing && (!c->s->engine ? err_set(err, "no model is loaded (use: load MODEL.onnx)")
                                 : engine_set_timing(c->s->engine, true, err)) < 0)
        return -1;
    int rc = session_eval(c->s, top_k, &m, &ms, err);
    struct engine_node_time *times = NULL;
    struct engine_timing total;
    if (timing) {
        engine_set_timing(c->s->engine, false, err);
        if (rc == 0) {
            size_t n = (size_t)engine_graph(c->s->engine)->n_nodes + 1;
            if (!(times = calloc(n, sizeof *times)))
                rc = err_oom(err, "node times", n * sizeof *times);
            else
                engine_node_times(c->s->engine, times, &total);
        }
    }
    if (rc < 0)
        return -1;
    struct weight_stats ws;
    session_weight_stats(c->s, &ws);
    double sparsity =
        ws.prunable_params ? (double)ws.prunable_zeros / (double)ws.prunable_params : 0.0;
    size_t weight_bytes = session_weight_bytes(c->s);
    double macs, effective;
    session_macs(c->s, &macs, &effective);
    if (m.task == TASK_REGRESS) {
        out_printf(c->o, "mse       %.6g\nmae       %.6g\n", m.mse, m.mae);
        out_set(c->o, "mse", json_real(m.mse));
        out_set(c->o, "mae", json_real(m.mae));
        out_set(c->o, "accuracy", json_null());
        out_set(c->o, "correct", json_null());
    } else {
        out_printf(c->o, "accuracy  %.2f%% (%zu of %zu rows)\n", 100.0 * m.accuracy, m.correct,
                   m.rows);
        out_set(c->o, "accuracy", json_real(m.accuracy));
        out_set(c->o, "correct", json_integer((json_int_t)m.correct));
        predicted = predicted && m.task != TASK_REGRESS;
        if (predicted) {
            out_printf(c->o, "predicted %.2f%% from the sensitivity curves (error %+.2f points",
                       100.0 * pred.refined, 100.0 * (pred.refined - m.accuracy));
            if (pred.measured)
                out_printf(c->o, "; drop scaled by %.2f after %zu measured", pred.scale,
                           pred.measured);
            out_printf(c->o, ")\n");
            predict_learn(&c->s->pred, &pred, m.accuracy);
        }
    }
    out_set(c->o, "predicted_accuracy", predicted ? json_real(pred.refined) : json_null());
    out_set(c->o, "prediction_error",
            predicted ? json_real(pred.refined - m.accuracy) : json_null());
    out_set(c->o, "rows", json_integer((json_int_t)m.rows));
    out_printf(c->o, "loss      %.6f (%s)\n", m.loss,
               m.task == TASK_REGRESS  ? "mean squared error"
               : m.task == TASK_BINARY ? "binary cross-entropy"
                                       : "cross-entropy");
    out_set(c->o, "loss", json_real(m.loss));
    if (top_k) {
        out_printf(c->o, "top-%d     %.2f%% (%zu rows)\n", top_k, 100.0 * m.accuracy_k,
                   m.correct_k);
        out_set(c->o, "top_k", json_integer(top_k));
        out_set(c->o, "top_k_accuracy", json_real(m.accuracy_k));
        out_set(c->o, "top_k_correct", json_integer((json_int_t)m.correct_k));
    }
    out_printf(c->o, "params    %zu (%zu non-zero)\n", ws.params, ws.nonzero_params);
    out_printf(c->o, "sparsity  %.1f%% of %zu prunable weights\n", 100.0 * sparsity,
               ws.prunable_params);
    out_printf(c->o, "macs      %.0f per row (%.0f effective)\n", macs, effective);
    out_printf(c->o, "weights   %zu bytes (%s)\n", weight_bytes, storage_name(c->s->storage));
    out_printf(c->o, "time      %.1f ms\n", ms);
    out_set(c->o, "task",
            json_string(m.task == TASK_REGRESS  ? "regression"
                        : m.task == TASK_BINARY ? "binary"
                                                : "classification"));
    out_set(c->o, "params", json_integer((json_int_t)ws.params));
    out_set(c->o, "nonzero_params", json_integer((json_int_t)ws.nonzero_params));
    out_set(c->o, "sparsity", json_real(sparsity));
    out_set(c->o, "weight_bytes", json_integer((json_int_t)weight_bytes));
    out_set(c->o, "macs", json_real(macs));
    out_set(c->o, "effective_macs", json_real(effective));
    out_set(c->o, "storage", json_string(storage_name(c->s->storage)));
    /* The cost model's figures on the selected profile (null without profiles). */
    struct err none;
    const struct profile *prof = session_profile(c->s, &none);
    struct cost_estimate est;
    if (prof && session_estimate(c->s, prof, &est, &none) == 0) {
        out_printf(c->o,
                   "estimate  %s: %.4g ms, %.4g uJ; flash %.0f bytes %s, SRAM %.0f bytes %s\n",
                   prof->name, est.latency_s * 1e3, est.energy_uj, est.flash_bytes,
                   est.fits_flash ? "fits" : "does not fit", est.sram_bytes,
                   est.fits_sram ? "fits" : "does not fit");
        cmd_set_estimate(c, prof, &est);
        cost_estimate_fini(&est);
    } else {
        cmd_set_estimate(c, NULL, NULL);
    }
    out_set(c->o, "elapsed_ms", json_real(ms));
    if (timing) {
        rc = report_timing(c, times, &total, ms, err);
        free(times);
    }
    return rc;
}

const struct cmd_def cmd_eval = {
    .name = "eval",
    .usage = "eval [--top K] [--timing]",
    .summary = "run the model on the data: accuracy, loss, parameters, footprint",
    .help = "Classifiers (two or more outputs): top-1 accuracy and mean cross-entropy, with\n"
            "softmax applied unless the model ends in Softmax or LogSoftmax; --top K adds\n"
            "top-K accuracy. One output with 0/1 labels: probability >= 0.5 is positive\n"
            "(sigmoid applied unless the model ends in Sigmoid), binary cross-entropy.\n"
            "One output with other numeric labels: mean squared and absolute error.\n"
            "With a sensitivity table, also the accuracy predicted from its curves (the\n"
            "baseline minus each layer's drop at its sparsity, the drops scaled by a factor\n"
            "fitted to the evaluations measured so far) and that prediction's error.\n"
            "The estimate line gives the cost model's latency, energy, flash and SRAM on\n"
            "the selected profile (see estimate and profile).\n"
            "--timing adds where the time went: per op type (nodes, ms, share, and GFLOP/s\n"
            "of Conv, Gemm and MatMul, 2 per multiply-add), the 15 slowest nodes, and the\n"
            "nodes' total (thread time, summed over threads) against the elapsed time.\n"
            "A BatchNormalization, Relu or Clip fused into the Conv before it is timed\n"
            "with that Conv (the `fused` line counts them).\n"
            "Ctrl-C cancels a running evaluation.",
    .complete = CMD_COMPLETE_NONE,
    .run = eval_run,
};
