/* Sliding-window geometry shared by Conv and the pooling ops: kernel, strides, dilations,
 * explicit or automatic pads, ceil mode, and the output size they give. Not the arithmetic. */
#ifndef PRUNESCOPE_KERNELS_WINDOW_H
#define PRUNESCOPE_KERNELS_WINDOW_H

#include <stdbool.h>

#include "kernels/op.h"

/* At most three spatial dims (1-D, 2-D and 3-D convolution and pooling). Geometry of fewer
 * dims is stored right-aligned in 3 with the leading unused dims of size 1, so one loop nest
 * serves all ranks. */
#define WIN_MAX_SPATIAL 3

struct window {
    int nsp;                      /* spatial dims actually present (1..3) */
    int64_t in[WIN_MAX_SPATIAL];  /* input size per dim */
    int64_t out[WIN_MAX_SPATIAL]; /* output size per dim */
    int64_t kernel[WIN_MAX_SPATIAL];
    int64_t stride[WIN_MAX_SPATIAL];
    int64_t dilation[WIN_MAX_SPATIAL];
    int64_t pad_begin[WIN_MAX_SPATIAL];
    int64_t pad_end[WIN_MAX_SPATIAL];
};

/* Resolve the window of a node whose input 0 is [N, C, spatial...]. kernel is the kernel
 * size per spatial dim (from the kernel_shape attribute or, for Conv, the weight's shape);
 * ceil_mode is read from the node when allow_ceil. Sets err naming the node and attribute
 * on bad values. */
int win_resolve(const struct op_io *io, const int64_t *kernel, bool allow_ceil,
                bool allow_dilations, struct window *w, struct err *err);

static inline int64_t win_in_volume(const struct window *w)
{
    return w->in[0] * w->in[1] * w->in[2];
}

static inline int64_t win_out_volume(const struct window *w)
{
    return w->out[0] * w->out[1] * w->out[2];
}

static inline int64_t win_kernel_volume(const struct window *w)
{
    return w->kernel[0] * w->kernel[1] * w->kernel[2];
}

#endif
