/* reconstruct: re-fit the kept weights of the pruned layers by least squares on
 * calibration rows, with the accuracy before and after. Not the arithmetic
 * (analysis/reconstruct.c) or the captures (session.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/command.h"

static int reconstruct_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    const char *data = NULL;
    long long rows = 2048;
    double damp = 0.01;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return err_set(err, "%s needs a value (usage: %s)", a, cmd_reconstruct.usage);
        i++;
        if (strcmp(a, "--data") == 0) {
            data = v;
        } else if (strcmp(a, "--rows") == 0) {
            if (!cmd_parse_int(v, 1, 1LL << 40, &rows))
                return err_set(err, "--rows expects a number of rows from 1, got '%s'", v);
        } else if (strcmp(a, "--damp") == 0) {
            char *end;
            errno = 0;
            damp = strtod(v, &end);
            if (end == v || *end || errno || !isfinite(damp) || damp < 0)
                return err_set(err, "--damp expects a non-negative number, got '%s'", v);
        } else {
            return err_set(err, "unknown option '%s' (usage: %s)", a, cmd_reconstruct.usage);
        }
    }
    if (!data)
        return err_set(err,
                       "reconstruct needs calibration rows from a file of their own: --data "
                       "CALIB.csv (for example the training data; held-out validation rows are "
                       "not supported yet)");
    struct session *s = c->s;
    struct metrics before, after;
    if (session_eval(s, 0, &before, NULL, err) < 0)
        return -1;
    struct recon_report r;
    if (session_reconstruct(s, data, (size_t)rows, damp, &r, err) < 0)
        return -1;
    if (session_eval(s, 0, &after, NULL, err) < 0) {
        recon_report_fini(&r);
        return -1;
    }
    json_t *layers = json_array();
    for (size_t i = 0; i < r.n_layers; i++) {
        const struct recon_layer_report *lr = &r.layers[i];
        const struct layer *l = &s->layers.items[lr->layer];
        out_printf(c->o, "%-24s %8zu weights re-fitted on %zu samples%s\n", l->display, lr->kept,
                   lr->samples, lr->skipped ? " (some units kept their weights)" : "");
        json_array_append_new(layers,
                              json_pack("{s:s, s:I, s:I, s:I}", "name", l->display, "kept",
                                        (json_int_t)lr->kept, "samples", (json_int_t)lr->samples,
                                        "skipped_units", (json_int_t)lr->skipped));
    }
    out_printf(c->o,
               "calibration: the first %zu rows of %s; accuracy on the %zu rows of %s: %.2f%% "
               "before, %.2f%% after (%.2f s; undo brings the weights back)\n",
               r.rows, data, after.rows, s->data_path, 100 * before.accuracy, 100 * after.accuracy,
               r.elapsed_s);
    out_set(c->o, "calibration", json_pack("{s:s, s:I}", "data", data, "rows", (json_int_t)r.rows));
    out_set(c->o, "layers", layers);
    out_set(c->o, "damp", json_real(damp));
    out_set(c->o, "accuracy_before", json_real(before.accuracy));
    out_set(c->o, "accuracy_after", json_real(after.accuracy));
    out_set(c->o, "correct_after", json_integer((json_int_t)after.correct));
    out_set(c->o, "elapsed_s", json_real(r.elapsed_s));
    recon_report_fini(&r);
    return 0;
}

const struct cmd_def cmd_reconstruct = {
    .name = "reconstruct",
    .usage = "reconstruct --data CALIB.csv [--rows N] [--damp X]",
    .summary = "re-fit the pruned layers' kept weights by least squares on calibration rows",
    .help = "Without training: for every layer pruning changed, in graph order, each unit's\n"
            "kept weights are re-fitted so that the layer, fed what the layers before it\n"
            "(pruned and re-fitted) give it, reproduces the dense layer's output on the\n"
            "dense model's inputs: (X_K^T X_K + lambda I) w_K = X_K^T X_d w, lambda = X\n"
            "(default 0.01) times the mean of diag(X^T X), solved by LAPACK's Cholesky\n"
            "(dposv). Calibration: the first N rows (default 2048) of CALIB.csv, read and\n"
            "checked like the validation data (which it must not be); the accuracy before\n"
            "and after is measured on the validation data. The mask stays; the re-fitted\n"
            "weights become what configurations prune; undo brings back the old ones.",
    .complete = CMD_COMPLETE_FILE,
    .run = reconstruct_run,
};
