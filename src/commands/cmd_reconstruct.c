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
    long long rows = 0;
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
    if (!data && rows == 0)
        return err_set(err, "reconstruct needs calibration rows: --data CALIB.csv (for example the "
                            "training data), or --rows N validation rows to hold out");
    if (data && rows == 0)
        rows = 2048;
    struct session *s = c->s;
    if (!s->data)
        return err_set(err, "reconstruct is measured on the validation data: load it first "
                            "(data FILE.csv)");
    if (!data && (size_t)rows >= s->data_all->rows)
        return err_set(err,
                       "--rows %lld would leave none of the %zu validation rows to measure on; "
                       "hold out fewer (or give --data CALIB.csv)",
                       rows, s->data_all->rows);
    struct metrics before, after;
    size_t held_before = s->holdout;
    if (!data && session_hold_out(s, (size_t)rows, err) < 0)
        return -1;
    /* Before and after on the rows measured from now on. */
    if (session_eval(s, 0, &before, NULL, err) < 0)
        return -1;
    struct recon_report r;
    if (session_reconstruct(s, data, (size_t)rows, damp, &r, err) < 0) {
        struct err ignored;
        if (!data)
            session_hold_out(s, held_before, &ignored);
        return -1;
    }
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
    if (r.n_unfit)
        out_warn(c->o, "%zu pruned layers keep their weights (%s)", r.n_unfit, r.unfit);
    if (data)
        out_printf(c->o, "calibration: the first %zu rows of %s; ", r.rows, data);
    else
        out_printf(c->o,
                   "calibration: rows 1-%zu of %s, held out from now on (measurements use its "
                   "other %zu rows); ",
                   r.rows, s->data_path, after.rows);
    out_printf(c->o,
               "accuracy on the %zu rows measured: %.2f%% before, %.2f%% after (%.2f s; undo "
               "brings the weights back)\n",
               after.rows, 100 * before.accuracy, 100 * after.accuracy, r.elapsed_s);
    out_set(c->o, "calibration",
            json_pack("{s:s, s:I, s:b}", "data", data ? data : s->data_path, "rows",
                      (json_int_t)r.rows, "held_out", data == NULL));
    out_set(c->o, "measured_rows", json_integer((json_int_t)after.rows));
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
    .usage = "reconstruct --data CALIB.csv [--rows N] [--damp X] | reconstruct --rows N [--damp X]",
    .summary = "re-fit the pruned layers' kept weights by least squares on calibration rows",
    .help = "Without training: for every layer pruning changed, in graph order, each unit's\n"
            "kept weights are re-fitted so that the layer, fed what the layers before it\n"
            "(pruned and re-fitted) give it, reproduces the dense layer's output on the\n"
            "dense model's inputs: (X_K^T X_K + lambda I) w_K = X_K^T X_d w, lambda = X\n"
            "(default 0.01) times the mean of diag(X^T X), solved by LAPACK's Cholesky\n"
            "(dposv). Calibration: the first N rows (default 2048) of CALIB.csv, read and\n"
            "checked like the validation data (which it must not be); or, without --data,\n"
            "the validation data's first N rows, held out from then on: every later\n"
            "measurement is on the other rows (data FILE.csv again ends it). The accuracy\n"
            "before and after is measured on the rows measured. The mask stays; the\n"
            "re-fitted weights become what configurations prune; undo brings back the old\n"
            "ones (the held-out rows stay held out).",
    .complete = CMD_COMPLETE_FILE,
    .run = reconstruct_run,
};
