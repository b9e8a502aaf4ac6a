/* Fine-tuning: mini-batch training of a model's parameters on a training set with SGD
 * (momentum) or Adam, holding pruning fixed (a mask per parameter is applied after every
 * step), BatchNormalization in inference mode. The optimizers' arithmetic is
 * torch.optim's. Not the loss (metrics.c) or the gradients (engine/backward.c), and not
 * what the session does with the weights afterwards. */
#ifndef PRUNESCOPE_ANALYSIS_FINETUNE_H
#define PRUNESCOPE_ANALYSIS_FINETUNE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "dataset/dataset.h"
#include "dataset/metrics.h"
#include "engine/engine.h"

enum ft_optimizer { FT_SGD, FT_ADAM };

struct ft_options {
    size_t epochs; /* >= 1 */
    size_t batch;  /* rows per step (the last may be smaller) */
    enum ft_optimizer optimizer;
    double lr;                /* > 0 */
    double momentum;          /* SGD: 0 for none */
    double weight_decay;      /* L2, added to the gradient (torch's weight_decay) */
    double beta1, beta2, eps; /* Adam */
    uint64_t seed;            /* of the row order of each epoch */
    /* The number of the first epoch in the seeded orders (0): iterate's step k continues
     * at epoch (k - 1) E, so that K steps of E epochs take the row orders one run of K E
     * epochs takes. */
    size_t first_epoch;
    /* Tests: epochs x train rows, the order to take rows in (NULL: shuffled by seed). */
    const size_t *order;
};

/* Defaults: 1 epoch, batch 32, SGD with momentum 0.9, lr 0.01, no weight decay, Adam's
 * betas 0.9 and 0.999, eps 1e-8, seed 0. */
void ft_options_default(struct ft_options *o);

/* One optimizer step on n parameters w with gradient g; state holds 2n floats (zeroed
 * before the first step) and step counts the steps taken (1 for the first). keep (may be
 * NULL) is 0 for the entries that stay 0 after the step. */
void ft_sgd_step(float *w, const float *g, float *state, size_t n, const struct ft_options *o,
                 size_t step, const uint8_t *keep);
void ft_adam_step(float *w, const float *g, float *state, size_t n, const struct ft_options *o,
                  size_t step, const uint8_t *keep);

/* After each epoch: its mean training loss (over rows). Returns 0 to go on, 1 to stop, -1
 * with err set to fail. */
typedef int (*ft_epoch_fn)(void *ctx, size_t epoch, double train_loss, struct err *err);
/* During an epoch: batches done of the epoch's, seconds so far in all. */
typedef void (*ft_progress_fn)(void *ctx, size_t epoch, size_t batch, size_t batches,
                               double elapsed_s);

struct ft_result {
    size_t epochs_done; /* completed epochs (their weights are the engine's now) */
    size_t steps;
    double last_loss; /* mean training loss of the last completed epoch */
    bool cancelled;   /* stopped by *cancel during an epoch: that epoch was undone */
    double elapsed_s;
};

/* Trains the parameters of e's graph marked in trainable (one flag per graph value; float
 * constants) on train (rows shaped as row_shape), in place. keep[v] (NULL, or NULL for a
 * value: no mask) is 0 for the elements of value v that stay 0. The model's output 0 is
 * scored as kind against train's labels (mean cross-entropy over a batch, as
 * metrics_loss_gradient). *cancel (may be NULL) stops it after the current batch; the
 * weights of the last completed epoch are restored. A parameter the backward pass gives no
 * gradient is left as it is. */
int ft_run(struct engine *e, const struct dataset *train, const struct shape *row_shape,
           enum output_kind kind, const bool *trainable, uint8_t *const *keep,
           const struct ft_options *o, const volatile sig_atomic_t *cancel, ft_epoch_fn on_epoch,
           ft_progress_fn progress, void *ctx, struct ft_result *r, struct err *err);

/* Gradual pruning's target at step k of steps (1-based) from sparsity s0 to s1: cubic,
 * s1 + (s0 - s1) (1 - k / steps)^3 (Zhu and Gupta's automated gradual pruning), or
 * linear. */
double ft_schedule(double s0, double s1, size_t k, size_t steps, bool cubic);

#endif
