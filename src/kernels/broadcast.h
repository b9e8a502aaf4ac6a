/* Strided iteration over two broadcast operands, shared by elementwise binary ops.
 * Not the arithmetic: callers pass the inner loop. */
#ifndef PRUNESCOPE_KERNELS_BROADCAST_H
#define PRUNESCOPE_KERNELS_BROADCAST_H

#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"

/* Element strides of a and b against the output shape (0 where broadcast). */
struct bcast {
    int ndim;
    int64_t dims[TENSOR_MAX_DIMS];
    int64_t sa[TENSOR_MAX_DIMS];
    int64_t sb[TENSOR_MAX_DIMS];
};

void bcast_init(struct bcast *bc, const struct shape *a, const struct shape *b,
                const struct shape *out);

/* Calls inner(ctx, off_a, off_b, off_out, n, step_a, step_b) for each contiguous run of the
 * last dimension; step is 0 or 1. */
typedef void (*bcast_inner_fn)(void *ctx, size_t oa, size_t ob, size_t oo, size_t n, size_t step_a,
                               size_t step_b);
void bcast_for_each(const struct bcast *bc, bcast_inner_fn inner, void *ctx);

#endif
