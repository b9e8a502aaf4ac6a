/* Metrics of a model's outputs against a dataset's labels: accuracy, top-k, cross-entropy,
 * binary threshold, MSE/MAE. Not running the model (engine/) and not reading data. */
#ifndef PRUNESCOPE_DATASET_METRICS_H
#define PRUNESCOPE_DATASET_METRICS_H

#include <stddef.h>

#include "core/err.h"
#include "dataset/dataset.h"

/* What the model's output holds, decided by the caller from the graph's last op. */
enum output_kind {
    OUTPUT_LOGITS,   /* scores: softmax (or, for one output, sigmoid) is applied */
    OUTPUT_PROBS,    /* probabilities (Softmax or Sigmoid last) */
    OUTPUT_LOGPROBS, /* log-probabilities (LogSoftmax last) */
};

enum task {
    TASK_CLASSIFY, /* n_out >= 2 outputs, class labels: argmax */
    TASK_BINARY,   /* one output, labels 0/1: positive when probability >= 0.5 */
    TASK_REGRESS,  /* one output, LABEL_VALUE labels (or integer labels with n_out 1 that
                      are not all 0/1): MSE and MAE */
};

struct metrics {
    enum task task;
    size_t rows;
    size_t correct;    /* classify/binary: rows whose prediction equals the label */
    double accuracy;   /* correct / rows */
    double loss;       /* mean cross-entropy (natural log), binary: mean BCE; regress: MSE */
    int top_k;         /* 0 when not asked for */
    size_t correct_k;  /* rows whose label is among the top_k largest outputs */
    double accuracy_k; /* correct_k / rows */
    double mse, mae;   /* regression only */
};

/* out is rows x n_out (rows == d->rows). Ties in argmax go to the lowest index, as in
 * numpy and PyTorch. Cross-entropy uses log-softmax computed stably (max subtracted); a
 * probability of 0 for the true class gives a loss of -log(FLT_MIN) for that row rather
 * than infinity. top_k > n_out is an error. */
int metrics_compute(const float *out, size_t rows, size_t n_out, enum output_kind kind,
                    const struct dataset *d, int top_k, struct metrics *m, struct err *err);

/* The gradient of the mean loss metrics_compute reports (over `total_rows` rows) with
 * respect to the model's output, for the rows row0 .. row0 + rows: out and dout are
 * rows x n_out. */
int metrics_loss_gradient(const float *out, size_t rows, size_t n_out, enum output_kind kind,
                          const struct dataset *d, size_t row0, size_t total_rows, float *dout,
                          struct err *err);

#endif
