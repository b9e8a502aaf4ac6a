/* Gradients of a loss with respect to a model's weights: a forward pass that keeps every
 * activation, then the ops' backward functions in reverse order. Not the loss (the caller
 * gives its gradient) and not what the gradients are used for (pruning criteria). */
#ifndef PRUNESCOPE_ENGINE_BACKWARD_H
#define PRUNESCOPE_ENGINE_BACKWARD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/tensor.h"
#include "engine/engine.h"

/* Writes into dout dL/d(output 0) for the rows row0 .. row0 + rows of output (dout has the
 * output's shape and is zeroed). */
typedef int (*loss_grad_fn)(const struct tensor *output, size_t row0, struct tensor *dout,
                            void *ctx, struct err *err);

/* Runs the model on input (dim 0 counts rows) in chunks and accumulates, for every value v
 * with want[v], dL/dv into grads[v] (allocated here with v's shape when NULL; the caller
 * frees). With two engine threads each chunk's halves run side by side; loss is called for
 * one of them at a time, never concurrently. When an op on the way back has no backward,
 * gradients stop there: the weights before it get none (grads[v] stays NULL) and blocked
 * receives "node 'X' (Op)". */
int engine_gradients(struct engine *e, const struct tensor *input, loss_grad_fn loss, void *ctx,
                     const bool *want, struct tensor **grads, char *blocked, size_t blocked_size,
                     struct err *err);

#endif
