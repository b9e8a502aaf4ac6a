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
/* Reads the optional ints attribute name of exactly want entries (one per spatial dim, or
 * begins then ends for pads) into dst, each at least min; dflt for every entry when it is
 * absent. Sets err naming the node and attribute otherwise. */
int win_attr_ints(const struct op_io *io, const char *name, size_t want, int64_t *dst,
                  int64_t dflt, int64_t min, struct err *err);

/* The optional bias (input 2) of Conv or ConvTranspose: absent, or of shape [m]. */
int win_check_bias(const struct op_io *io, int64_t m, struct err *err);

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

/* The rows and columns of the plane (dims 1 and 2) that every window of w lies in, padding
 * included (ceil_mode's last windows may reach past the end padding). */
static inline void win_padded_plane(const struct window *w, int64_t *hp, int64_t *wp)
{
    *hp = (w->out[1] - 1) * w->stride[1] + (w->kernel[1] - 1) * w->dilation[1] + 1;
    *wp = (w->out[2] - 1) * w->stride[2] + (w->kernel[2] - 1) * w->dilation[2] + 1;
    if (*hp < w->pad_begin[1] + w->in[1])
        *hp = w->pad_begin[1] + w->in[1];
    if (*wp < w->pad_begin[2] + w->in[2])
        *wp = w->pad_begin[2] + w->in[2];
}

/* The input position (row-major over the input volume) that output (o0, o1, o2) reads at
 * kernel tap (k0, k1, k2), or the input volume when that tap lands in the padding. */
static inline int32_t win_tap_input(const struct window *w, int64_t o0, int64_t o1, int64_t o2,
                                    int64_t k0, int64_t k1, int64_t k2)
{
    int64_t i0 = o0 * w->stride[0] - w->pad_begin[0] + k0 * w->dilation[0];
    int64_t i1 = o1 * w->stride[1] - w->pad_begin[1] + k1 * w->dilation[1];
    int64_t i2 = o2 * w->stride[2] - w->pad_begin[2] + k2 * w->dilation[2];
    bool in = i0 >= 0 && i0 < w->in[0] && i1 >= 0 && i1 < w->in[1] && i2 >= 0 && i2 < w->in[2];
    return (int32_t)(in ? (i0 * w->in[1] + i1) * w->in[2] + i2 : win_in_volume(w));
}

#endif
