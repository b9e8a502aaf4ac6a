/* finetune: train the weights on a training CSV, holding the pruning, with the
 * validation accuracy after every epoch. Not the training (analysis/finetune.c) or what
 * happens to the weights afterwards (session.c). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/command.h"
#include "core/timer.h"

struct epoch_ctx {
    struct cmd_ctx *c;
    size_t epochs;
    double t0;
    json_t *rows;
};

static int on_epoch(void *opaque, size_t epoch, double train_loss, struct err *err)
{
    struct epoch_ctx *x = opaque;
    struct metrics m;
    if (session_eval(x->c->s, 0, &m, NULL, err) < 0)
        return -1;
    double elapsed = timer_now_s() - x->t0;
    double left = elapsed / (double)epoch * (double)(x->epochs - epoch);
    out_printf(x->c->o,
               "epoch %zu/%zu: training loss %.6f, validation accuracy %.2f%% (%zu of %zu), "
               "loss %.6f, %.1f s (about %.1f s left)\n",
               epoch, x->epochs, train_loss, 100.0 * m.accuracy, m.correct, m.rows, m.loss, elapsed,
               left);
    json_array_append_new(x->rows,
                          json_pack("{s:I, s:f, s:f, s:I, s:f, s:f}", "epoch", (json_int_t)epoch,
                                    "train_loss", train_loss, "accuracy", m.accuracy, "correct",
                                    (json_int_t)m.correct, "loss", m.loss, "elapsed_s", elapsed));
    return 0;
}

static void on_batch(void *opaque, size_t epoch, size_t batch, size_t batches, double elapsed_s)
{
    struct epoch_ctx *x = opaque;
    char what[48];
    snprintf(what, sizeof what, "finetune epoch %zu/%zu", epoch, x->epochs);
    out_progress(x->c->o, what, batch, batches, elapsed_s);
}

/* A number option's value: a finite double, > 0 unless zero_ok. */
static int number(const char *opt, const char *text, bool zero_ok, double *out, struct err *err)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v) || v < 0 || (!zero_ok && v == 0))
        return err_set(err, "%s expects a %s number, got '%s'", opt,
                       zero_ok ? "non-negative" : "positive", text);
    *out = v;
    return 0;
}

static int finetune_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    struct ft_options o;
    ft_options_default(&o);
    const char *data = NULL;
    bool lr_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (!v)
            return err_set(err, "%s needs a value (usage: %s)", a, cmd_finetune.usage);
        i++;
        if (strcmp(a, "--data") == 0) {
            data = v;
        } else if (strcmp(a, "--epochs") == 0) {
            if (!cmd_parse_int(v, 1, 100000, &n))
                return err_set(err, "--epochs expects a number of epochs from 1, got '%s'", v);
            o.epochs = (size_t)n;
        } else if (strcmp(a, "--batch") == 0) {
            if (!cmd_parse_int(v, 1, 1 << 20, &n))
                return err_set(err, "--batch expects a number of rows from 1, got '%s'", v);
            o.batch = (size_t)n;
        } else if (strcmp(a, "--lr") == 0) {
            if (number("--lr", v, false, &o.lr, err) < 0)
                return -1;
            lr_given = true;
        } else if (strcmp(a, "--momentum") == 0) {
            if (number("--momentum", v, true, &o.momentum, err) < 0)
                return -1;
            if (o.momentum >= 1)
                return err_set(err, "--momentum must be below 1, got '%s'", v);
        } else if (strcmp(a, "--weight-decay") == 0) {
            if (number("--weight-decay", v, true, &o.weight_decay, err) < 0)
                return -1;
        } else if (strcmp(a, "--seed") == 0) {
            if (!cmd_parse_int(v, 0, LLONG_MAX, &n))
                return err_set(err, "--seed expects a non-negative integer, got '%s'", v);
            o.seed = (uint64_t)n;
        } else if (strcmp(a, "--optimizer") == 0) {
            if (strcmp(v, "sgd") == 0)
                o.optimizer = FT_SGD;
            else if (strcmp(v, "adam") == 0)
                o.optimizer = FT_ADAM;
            else
                return err_set(err, "--optimizer is sgd or adam, got '%s'", v);
        } else {
            return err_set(err, "unknown option '%s' (usage: %s)", a, cmd_finetune.usage);
        }
    }
    if (!data)
        return err_set(err, "finetune needs the training data: --data TRAIN.csv");
    if (o.optimizer == FT_ADAM && !lr_given)
        o.lr = 0.001;
    struct epoch_ctx x = {.c = c, .epochs = o.epochs, .t0 = timer_now_s(), .rows = json_array()};
    struct ft_result r;
    if (session_finetune(c->s, data, &o, on_epoch, on_batch, &x, &r, err) < 0) {
        json_decref(x.rows);
        return -1;
    }
    if (r.cancelled)
        out_printf(c->o, "cancelled: %s\n",
                   r.epochs_done ? "the weights of the last completed epoch are kept"
                                 : "no epoch completed, the weights are as they were");
    out_printf(c->o, "%zu epochs (%zu steps) in %.1f s; undo brings the weights back\n",
               r.epochs_done, r.steps, r.elapsed_s);
    out_set(c->o, "data", json_string(data));
    out_set(c->o, "optimizer", json_string(o.optimizer == FT_ADAM ? "adam" : "sgd"));
    out_set(c->o, "lr", json_real(o.lr));
    out_set(c->o, "batch", json_integer((json_int_t)o.batch));
    out_set(c->o, "epochs", x.rows);
    out_set(c->o, "steps", json_integer((json_int_t)r.steps));
    out_set(c->o, "cancelled", json_boolean(r.cancelled));
    out_set(c->o, "elapsed_s", json_real(r.elapsed_s));
    return 0;
}

const struct cmd_def cmd_finetune = {
    .name = "finetune",
    .usage = "finetune --data TRAIN.csv [--epochs N] [--lr X] [--batch B] [--optimizer sgd|adam] "
             "[--momentum M] [--weight-decay W] [--seed S]",
    .summary = "train the weights on a training CSV, holding the pruning",
    .help = "Trains every Conv, Gemm and MatMul weight and bias and BatchNormalization's\n"
            "scale and bias on TRAIN.csv (read like the validation data, and checked\n"
            "against it: same features and classes; the validation file itself is\n"
            "refused) in mini-batches (default 32 rows, shuffled by --seed), minimizing\n"
            "the mean cross-entropy: SGD (default; lr 0.01, momentum 0.9) or Adam (lr\n"
            "0.001, betas 0.9 and 0.999), as torch.optim computes them, --weight-decay\n"
            "adding W x w to each gradient. Pruned weights and the parameters of removed\n"
            "units stay 0 after every step; BatchNormalization keeps its statistics. Each\n"
            "epoch (default 1) prints its training loss and the validation accuracy.\n"
            "Ctrl-C stops after the current batch and keeps the last completed epoch.\n"
            "The trained weights are what later configurations prune; undo brings back\n"
            "the weights from before.",
    .complete = CMD_COMPLETE_FILE,
    .run = finetune_run,
};
