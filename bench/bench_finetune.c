/* `make bench`, fine-tuning speed: one epoch of masked fine-tuning of the bundled
 * Fashion-MNIST CNN (every layer at 90%, SGD lr 0.01 momentum 0.9, batch 32) over the
 * 10,000 rows of data/fashion-mnist-train.csv.gz, best of 3 epochs, beside PyTorch's same
 * epoch with 2 threads (bench/finetune_torch.py, when /usr/bin/python3 has torch and
 * onnx); and reconstruct at 90%. Targets: the epoch no slower than PyTorch's, reconstruct
 * under 5 s. Not a test: it never fails on time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/command.h"
#include "core/timer.h"

static int run(struct session *s, const char *line)
{
    FILE *sink = fopen("/dev/null", "w");
    struct out o;
    out_init(&o, false, sink, sink);
    struct cmd_ctx c = {.s = s, .o = &o};
    struct err err;
    int rc = cmd_run_line(&c, line, &err);
    fclose(sink);
    if (rc < 0)
        fprintf(stderr, "bench_finetune: %s: %s\n", line, err.msg);
    return rc;
}

static struct session *open_cnn(const char *src)
{
    struct err err;
    struct session *s = session_new(0, NULL, &err);
    char line[8192];
    snprintf(line, sizeof line, "load %s/data/fashion_cnn.onnx", src);
    if (!s || run(s, line) < 0)
        return NULL;
    snprintf(line, sizeof line,
             "data %s/data/fashion-mnist-test.csv.gz --scale 0.00392156862745098", src);
    if (run(s, line) < 0 || run(s, "set all 90%") < 0) {
        session_free(s);
        return NULL;
    }
    return s;
}

static int best_epoch(void *ctx, size_t epoch, double loss, struct err *err)
{
    (void)loss, (void)err;
    double *t = ctx, now = timer_now_s();
    double took = now - t[0];
    if (epoch == 1 || took < t[1])
        t[1] = took;
    t[0] = now;
    return 0;
}

int main(void)
{
    const char *src = getenv("PRUNESCOPE_SRCDIR");
    if (!src)
        src = ".";
    struct session *s = open_cnn(src);
    if (!s)
        return 1;
    char train[4096];
    snprintf(train, sizeof train, "%s/data/fashion-mnist-train.csv.gz", src);
    struct ft_options o;
    ft_options_default(&o);
    o.epochs = 3;
    double t[2] = {timer_now_s(), 0};
    struct ft_result r;
    struct err err;
    if (session_finetune(s, train, &o, best_epoch, NULL, t, &r, &err) < 0) {
        fprintf(stderr, "bench_finetune: %s\n", err.msg);
        return 1;
    }
    session_free(s);
    /* The first epoch's time includes reading the training file: it counts too. */
    double ours = t[1];
    double torch = -1;
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import torch, onnx' 2>/dev/null && /usr/bin/python3 "
             "'%s/bench/finetune_torch.py' '%s' 2>/dev/null",
             src, src);
    FILE *p = popen(cmd, "r");
    char line[256];
    while (p && fgets(line, sizeof line, p))
        sscanf(line, "torch_epoch_s %lf", &torch);
    if (p)
        pclose(p);
    printf("fine-tuning: one epoch of the Fashion-MNIST CNN at 90%% over 10000 rows, batch 32\n");
    if (torch > 0)
        printf("prunescope %.2f s, PyTorch (2 threads) %.2f s: %.2fx (target: at most 1.0x): %s\n",
               ours, torch, ours / torch, ours <= torch ? "met" : "MISSED");
    else
        printf("prunescope %.2f s; PyTorch not available (/usr/bin/python3 with torch and onnx)\n",
               ours);
    /* reconstruct at 90% on 2048 calibration rows. */
    if (!(s = open_cnn(src)))
        return 1;
    snprintf(cmd, sizeof cmd, "reconstruct --data %s", train);
    double t0 = timer_now_s();
    int rc = run(s, cmd);
    double took = timer_now_s() - t0;
    session_free(s);
    if (rc < 0)
        return 1;
    printf("reconstruct at 90%% on 2048 rows: %.2f s (target: under 5 s): %s\n", took,
           took < 5 ? "met" : "MISSED");
    return 0;
}
