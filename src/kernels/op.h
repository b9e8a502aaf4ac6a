/* The contract of one operator: a shape function and a run function over a node's inputs
 * and outputs. Not the registry (ops.h lists them) and not graph traversal (engine/). */
#ifndef PRUNESCOPE_KERNELS_OP_H
#define PRUNESCOPE_KERNELS_OP_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/tensor.h"
#include "model/graph.h"

/* What an op's functions see of one node.
 *
 * In a shape call, every present input has its dtype and shape set; its data is non-NULL
 * only when the value is known before running (an initializer or a folded constant), which
 * is how Reshape reads its target shape. The function sets each present output's dtype and
 * shape, and may raise scratch_bytes to ask for per-worker scratch memory in run calls.
 *
 * In a run call, inputs hold data and outputs are allocated with the shapes the shape call
 * gave; the function fills them. Omitted optional inputs and outputs are NULL. */
struct op_io {
    const struct node *node;
    int64_t opset;
    int n_in;
    const struct tensor *const *in;
    int n_out;
    struct tensor *const *out;
    void *scratch;
    size_t scratch_bytes;
    /* What the op's prepare function made for this node when the plan was made (a sparse
     * copy of a constant weight), or NULL. */
    const void *prepared;
    /* Nodes that follow this one and run inside its run call (OP_FUSES_POST), or NULL: set
     * in its run calls. out[0] is then the last fused node's output. */
    const struct op_post *post;
};

/* What a convolution computes after its own sum when the plan fused the nodes after it
 * (engine/plan.c): per output channel the affine map of a BatchNormalization in inference
 * mode, y a + b, then a clamp to [lo, hi] (Relu is [0, inf), Clip its bounds), each
 * computed exactly as those ops compute it, so the results are the same to the bit. */
struct op_post {
    const float *scale, *shift; /* a and b, one per output channel; NULL: no affine map */
    bool clamp;
    float lo, hi;
};

/* The post of channel ch over its n outputs at y, in one pass (without a clamp the bounds
 * are -inf and inf, which leave every value as it is). */
static inline void op_post_channel(const struct op_post *p, int64_t ch, float *y, int64_t n)
{
    if (!p)
        return;
    const float lo = p->clamp ? p->lo : -INFINITY, hi = p->clamp ? p->hi : INFINITY;
    if (p->scale) {
        const float a = p->scale[ch], b = p->shift[ch];
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] * a + b;
            v = v < lo ? lo : v;
            y[i] = v > hi ? hi : v;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float v = y[i] < lo ? lo : y[i];
        y[i] = v > hi ? hi : v;
    }
}

/* The post of one image's outputs at y: channels ch0 .. ch0 + channels - 1, vol each,
 * channel-major (NCHW). A clamp alone is one pass over the whole block. */
static inline void op_post_image(const struct op_post *p, float *y, int64_t ch0, int64_t channels,
                                 int64_t vol)
{
    if (!p)
        return;
    if (!p->scale) {
        op_post_channel(p, 0, y, channels * vol);
        return;
    }
    if (vol > 1) {
        for (int64_t ch = 0; ch < channels; ch++)
            op_post_channel(p, ch0 + ch, y + ch * vol, vol);
        return;
    }
    const float lo = p->clamp ? p->lo : -INFINITY, hi = p->clamp ? p->hi : INFINITY;
    for (int64_t ch = 0; ch < channels; ch++) {
        float v = y[ch] * p->scale[ch0 + ch] + p->shift[ch0 + ch];
        v = v < lo ? lo : v;
        y[ch] = v > hi ? hi : v;
    }
}

/* Flags of an op_def. */
enum {
    /* The run function reads only its inputs' shapes (Shape), so its output is known at
     * planning time even when the input's data is not. */
    OP_READS_SHAPE_ONLY = 1u << 0,
    /* The op applies io->post (a BatchNormalization's map and a clamp) to its output 0. */
    OP_FUSES_POST = 1u << 1,
};

struct op_def {
    const char *name;
    int (*shape)(struct op_io *io, struct err *err);
    int (*run)(struct op_io *io, struct err *err);
    unsigned flags;
    /* Multiply-accumulates of one run with the shapes of io (NULL: not a dense layer). */
    double (*macs)(const struct op_io *io);
    /* Elements an op without MACs reads in one run (a pooling window's), or NULL: what
     * the load-time batch check counts with the MACs to bound its cost. */
    double (*work)(const struct op_io *io);
    /* Optional, called once per plan after shape with the same io (constant inputs have
     * their data): may set *out to data the run calls receive as io->prepared, freed with
     * release. Leaving *out NULL means nothing to prepare. */
    int (*prepare)(const struct op_io *io, void **out, struct err *err);
    void (*release)(void *prepared);
    /* Optional gradients of a run (NULL: the op has no backward yet). io holds the forward
     * inputs and outputs; dout[o] is dL/d(output o). Adds dL/d(input k) into din[k], which
     * has input k's shape, for every din[k] that is not NULL. */
    int (*backward)(const struct op_io *io, const struct tensor *const *dout,
                    struct tensor *const *din, struct err *err);
};

/* Helpers shared by op files. All set err naming the node on failure. */

/* Input i present (not omitted)? */
static inline bool op_has_in(const struct op_io *io, int i)
{
    return i < io->n_in && io->in[i] != NULL;
}

/* Fail unless the node has between lo and hi inputs (counting omitted ones). */
int op_check_arity(const struct op_io *io, int lo, int hi, struct err *err);
/* Fail unless input i is present and of dtype t. */
int op_check_input(const struct op_io *io, int i, enum dtype t, struct err *err);
/* Normalize axis into [0, rank); fail naming the attribute otherwise. */
int op_axis(const struct op_io *io, int64_t axis, int rank, int64_t *out, struct err *err);
/* An error message that starts with the node's name and op type. Returns -1. */
int op_fail(const struct op_io *io, struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like op_fail for a valid model using a feature prunescope does not implement (the
 * error's code is ERR_UNSUPPORTED). */
int op_unsupported(const struct op_io *io, struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set output i to dtype and shape. */
void op_set_out(struct op_io *io, int i, enum dtype t, const struct shape *s);

/* Numpy-style multidirectional broadcasting of two shapes. */
int op_broadcast_shape(const struct shape *a, const struct shape *b, struct shape *out);
/* The broadcast shape of inputs 0 and 1; sets err naming the node and both shapes when
 * they do not broadcast. */
int op_broadcast_inputs(const struct op_io *io, struct shape *out, struct err *err);

/* The per-channel map of a BatchNormalization node in inference mode (io as in its shape
 * call, with its parameters known): a[c] = scale / sqrt(var + epsilon), b[c] = B - mean a[c],
 * so that y = x a + b. */
void op_batchnorm_affine(const struct op_io *io, float *a, float *b);
/* The bounds of a Clip node (attributes before opset 11, constant inputs from 11 on;
 * -FLT_MAX and FLT_MAX when absent, as Clip runs). False when a bound input is not known before
 * running. */
bool op_clip_bounds(const struct op_io *io, float *lo, float *hi);

/* Room for the widened values of an int32 input (the caller's, e.g. on its stack). */
#define OP_INTS_MAX 32
struct op_ints {
    int64_t v[OP_INTS_MAX];
};

/* Integer values of a constant int64 or int32 input (e.g. Reshape's shape) as int64: *vals
 * points into the input, or for int32 into keep, which must outlive their use. Fails when
 * the input is not known at planning time; an int32 input of more than OP_INTS_MAX values
 * is unsupported. */
int op_const_ints(const struct op_io *io, int i, struct op_ints *keep, const int64_t **vals,
                  size_t *count, struct err *err);

#endif
