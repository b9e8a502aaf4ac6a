/* Sliding-window geometry of Conv and pooling: attributes to sizes and pads, with the ONNX
 * rules for auto_pad and ceil_mode. Not the arithmetic of any op. */
#include "kernels/window.h"

#include <string.h>

int win_attr_ints(const struct op_io *io, const char *name, size_t want, int64_t *dst,
                    int64_t dflt, int64_t min, struct err *err)
{
    size_t n;
    const int64_t *v = node_attr_ints(io->node, name, &n);
    if (!v) {
        for (size_t i = 0; i < want; i++)
            dst[i] = dflt;
        return 0;
    }
    if (n != want)
        return op_fail(io, err,
                       "attribute %s has %zu values, expected %zu (one per spatial "
                       "dim%s)",
                       name, n, want, want > 3 ? ", begins then ends" : "");
    for (size_t i = 0; i < n; i++) {
        if (v[i] < min)
            return op_fail(io, err, "attribute %s[%zu] = %lld, must be at least %lld", name, i,
                           (long long)v[i], (long long)min);
        dst[i] = v[i];
    }
    return 0;
}

int win_resolve(const struct op_io *io, const int64_t *kernel, bool allow_ceil,
                bool allow_dilations, struct window *w, struct err *err)
{
    const struct shape *x = &io->in[0]->shape;
    char sb[96];
    int nsp = x->ndim - 2;
    if (nsp < 1 || nsp > WIN_MAX_SPATIAL)
        return op_unsupported(io, err,
                              "input of shape %s (rank %d; rank 3 to 5 expected: "
                              "[N, C, spatial...])",
                              shape_format(x, sb, sizeof sb), x->ndim);
    int64_t strides[WIN_MAX_SPATIAL], dil[WIN_MAX_SPATIAL], pads[2 * WIN_MAX_SPATIAL];
    size_t n = (size_t)nsp;
    if (win_attr_ints(io, "strides", n, strides, 1, 1, err) < 0 ||
        win_attr_ints(io, "dilations", n, dil, 1, 1, err) < 0 ||
        win_attr_ints(io, "pads", 2 * n, pads, 0, 0, err) < 0)
        return -1;
    if (!allow_dilations && node_attr(io->node, "dilations"))
        for (size_t i = 0; i < n; i++)
            if (dil[i] != 1)
                return op_unsupported(io, err, "dilations before opset 19");
    bool ceil_mode = allow_ceil && node_attr_int(io->node, "ceil_mode", 0) != 0;
    const char *auto_pad = node_attr_string(io->node, "auto_pad", "NOTSET");
    enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } mode;
    if (strcmp(auto_pad, "NOTSET") == 0 || auto_pad[0] == '\0')
        mode = PAD_NOTSET;
    else if (strcmp(auto_pad, "SAME_UPPER") == 0)
        mode = PAD_SAME_UPPER;
    else if (strcmp(auto_pad, "SAME_LOWER") == 0)
        mode = PAD_SAME_LOWER;
    else if (strcmp(auto_pad, "VALID") == 0)
        mode = PAD_VALID;
    else
        return op_fail(io, err,
                       "auto_pad is '%s'; expected NOTSET, SAME_UPPER, SAME_LOWER "
                       "or VALID",
                       auto_pad);

    memset(w, 0, sizeof *w);
    w->nsp = nsp;
    int off = WIN_MAX_SPATIAL - nsp;
    for (int d = 0; d < off; d++) {
        w->in[d] = w->out[d] = w->kernel[d] = w->stride[d] = w->dilation[d] = 1;
    }
    for (int i = 0; i < nsp; i++) {
        int d = off + i;
        int64_t in = x->dims[2 + i], k = kernel[i], s = strides[i], dl = dil[i];
        if (k < 1)
            return op_fail(io, err, "kernel size %lld in spatial dim %d must be positive",
                           (long long)k, i);
        int64_t eff = (k - 1) * dl + 1;
        int64_t pb = pads[i], pe = pads[i + nsp], out;
        if (mode == PAD_SAME_UPPER || mode == PAD_SAME_LOWER) {
            out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + eff - in;
            if (total < 0)
                total = 0;
            pb = mode == PAD_SAME_UPPER ? total / 2 : (total + 1) / 2;
            pe = total - pb;
        } else {
            if (mode == PAD_VALID)
                pb = pe = 0;
            int64_t span = in + pb + pe - eff;
            if (span < 0)
                return op_fail(io, err,
                               "the window (kernel %lld, dilation %lld) is larger than the "
                               "padded input (%lld + %lld + %lld) in spatial dim %d of input %s",
                               (long long)k, (long long)dl, (long long)in, (long long)pb,
                               (long long)pe, i, shape_format(x, sb, sizeof sb));
            if (ceil_mode) {
                out = (span + s - 1) / s + 1;
                /* The last window must start inside the input or the begin padding. */
                if ((out - 1) * s >= in + pb)
                    out--;
            } else {
                out = span / s + 1;
            }
        }
        w->in[d] = in;
        w->out[d] = out;
        w->kernel[d] = k;
        w->stride[d] = s;
        w->dilation[d] = dl;
        w->pad_begin[d] = pb;
        w->pad_end[d] = pe;
    }
    return 0;
}

int win_check_bias(const struct op_io *io, int64_t m, struct err *err)
{
    if (!op_has_in(io, 2))
        return 0;
    const struct shape *b = &io->in[2]->shape;
    if (b->ndim != 1 || b->dims[0] != m) {
        char sb[96];
        return op_fail(io, err, "bias B of shape %s must be [%lld]",
                       shape_format(b, sb, sizeof sb), (long long)m);
    }
    return 0;
}
