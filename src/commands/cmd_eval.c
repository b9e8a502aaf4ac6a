/* eval: run the model on the data and report accuracy, loss and the weights' footprint.
 * Not the metrics' arithmetic (dataset/metrics.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/command.h"
#include "session/allocate.h"

static int eval_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    int top_k = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
            long long k;
            if (!cmd_parse_int(argv[++i], 1, 1000, &k))
                return err_set(err, "--top expects a number from 1 to 1000, got '%s'", argv[i]);
            top_k = (int)k;
        } else {
            return err_set(err, "usage: %s", cmd_eval.usage);
        }
    }
    /* Predicted before measuring, so the error is that of a real prediction. */
    struct prediction pred;
    struct err why;
    bool predicted = predict_config(c->s, &pred, &why) == 0;
    struct metrics m;
    double ms;
    if (session_eval(c->s, top_k, &m, &ms, err) < 0)
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
            out_printf(c->o,
                       "predicted %.2f%% from the sensitivity curves (error %+.2f points",
                       100.0 * pred.refined, 100.0 * (pred.refined - m.accuracy));
            if (pred.measured)
                out_printf(c->o, "; drop scaled by %.2f after %zu measured", pred.scale,
                           pred.measured);
            out_printf(c->o, ")\n");
            predict_learn(c->s, &pred, m.accuracy);
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
    /* No hardware profile exists yet, so there is no latency estimate to give. */
    out_set(c->o, "latency_ms", json_null());
    out_set(c->o, "profile", json_null());
    out_set(c->o, "elapsed_ms", json_real(ms));
    return 0;
}

const struct cmd_def cmd_eval = {
    .name = "eval",
    .usage = "eval [--top K]",
    .summary = "run the model on the data: accuracy, loss, parameters, footprint",
    .help = "Classifiers (two or more outputs): top-1 accuracy and mean cross-entropy, with\n"
            "softmax applied unless the model ends in Softmax or LogSoftmax; --top K adds\n"
            "top-K accuracy. One output with 0/1 labels: probability >= 0.5 is positive\n"
            "(sigmoid applied unless the model ends in Sigmoid), binary cross-entropy.\n"
            "One output with other numeric labels: mean squared and absolute error.\n"
            "With a sensitivity table, also the accuracy predicted from its curves (the\n"
            "baseline minus each layer's drop at its sparsity, the drops scaled by a factor\n"
            "fitted to the evaluations measured so far) and that prediction's error.\n"
            "Ctrl-C cancels a running evaluation.",
    .complete = CMD_COMPLETE_NONE,
    .run = eval_run,
};
