/* BatchNormalization in inference mode: y = (x - mean) / sqrt(var + epsilon) * scale + B per
 * channel (axis 1). Not training mode, whose batch statistics and running-stat outputs are
 * refused as unsupported. */
#include <math.h>

#include "kernels/op.h"

static int bn_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 5, 5, err) < 0)
        return -1;
    for (int i = 0; i < 5; i++)
        if (op_check_input(io, i, DTYPE_FLOAT, err) < 0)
            return -1;
    if (node_attr_int(io->node, "training_mode", 0) != 0)
        return op_unsupported(io, err, "training_mode = 1 (batch statistics)");
    if (io->opset < 7 && node_attr(io->node, "is_test") &&
        node_attr_int(io->node, "is_test", 0) == 0)
        return op_unsupported(io, err, "is_test = 0 (training)");
    if (io->opset < 9 && node_attr_int(io->node, "spatial", 1) == 0)
        return op_unsupported(io, err, "spatial = 0 (per-element statistics)");
    for (int i = 1; i < io->n_out; i++)
        if (io->out[i])
            return op_unsupported(io, err, "output %d (running statistics of training)", i);
    const struct shape *x = &io->in[0]->shape;
    char sx[96], sp[96];
    if (x->ndim < 2)
        return op_fail(io, err, "input X of shape %s must be [N, C, ...]",
                       shape_format(x, sx, sizeof sx));
    static const char *const names[] = {"X", "scale", "B", "input_mean", "input_var"};
    for (int i = 1; i < 5; i++) {
        const struct shape *p = &io->in[i]->shape;
        if (p->ndim != 1 || p->dims[0] != x->dims[1])
            return op_fail(io, err, "%s of shape %s must be [%lld], one value per channel of X %s",
                           names[i], shape_format(p, sp, sizeof sp), (long long)x->dims[1],
                           shape_format(x, sx, sizeof sx));
    }
    op_set_out(io, 0, DTYPE_FLOAT, x);
    io->scratch_bytes = 2 * (size_t)(x->ndim > 1 ? x->dims[1] : 1) * sizeof(float);
    return 0;
}

/* dst[k] = src[k] * a + b for k < n. */
static void scale_shift(float *restrict dst, const float *restrict src, int64_t n, float a, float b)
{
    for (int64_t k = 0; k < n; k++)
        dst[k] = src[k] * a + b;
}

void op_batchnorm_affine(const struct op_io *io, float *a, float *b)
{
    int64_t c = io->in[0]->shape.dims[1];
    float eps = node_attr_float(io->node, "epsilon", 1e-5f);
    const float *scale = tensor_f32(io->in[1]), *bias = tensor_f32(io->in[2]);
    const float *mean = tensor_f32(io->in[3]), *var = tensor_f32(io->in[4]);
    for (int64_t ch = 0; ch < c; ch++) {
        a[ch] = scale[ch] / sqrtf(var[ch] + eps);
        b[ch] = bias[ch] - mean[ch] * a[ch];
    }
}

static int bn_run(struct op_io *io, struct err *err)
{
    const struct shape *x = &io->in[0]->shape;
    int64_t n = x->dims[0], c = x->dims[1], vol = 1;
    for (int i = 2; i < x->ndim; i++)
        vol *= x->dims[i];
    const float *xv = tensor_f32(io->in[0]);
    float *y = tensor_f32(io->out[0]);
    /* Folded into one multiply-add per element; the rounding differs from the literal
     * formula by a few ulps, far inside any comparison tolerance. */
    float *a = io->scratch, *b = a + c;
    op_batchnorm_affine(io, a, b);
    /* Image by image in memory order; 1x1 planes (the last layers of most CNNs) as one
     * loop over the channels. */
    for (int64_t i = 0; i < n; i++) {
        const float *src = xv + i * c * vol;
        float *dst = y + i * c * vol;
        if (vol == 1) {
            for (int64_t ch = 0; ch < c; ch++)
                dst[ch] = src[ch] * a[ch] + b[ch];
            continue;
        }
        for (int64_t ch = 0; ch < c; ch++)
            scale_shift(dst + ch * vol, src + ch * vol, vol, a[ch], b[ch]);
    }
    return 0;
}

/* Inference mode is a per-channel affine map: dx = dy * scale / sqrt(var + eps). The
 * parameters' own gradients are not needed (they are not prunable weights). */
static int bn_backward(const struct op_io *io, const struct tensor *const *dout,
                       struct tensor *const *din, struct err *err)
{
    if (!din[0])
        return 0;
    const struct shape *x = &io->in[0]->shape;
    int64_t n = x->dims[0], c = x->dims[1], vol = 1;
    for (int i = 2; i < x->ndim; i++)
        vol *= x->dims[i];
    float eps = node_attr_float(io->node, "epsilon", 1e-5f);
    const float *scale = tensor_f32(io->in[1]), *var = tensor_f32(io->in[4]);
    const float *dy = tensor_f32(dout[0]);
    float *dx = tensor_f32(din[0]);
    for (int64_t ch = 0; ch < c; ch++) {
        float a = scale[ch] / sqrtf(var[ch] + eps);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < vol; k++)
                dx[(i * c + ch) * vol + k] += a * dy[(i * c + ch) * vol + k];
    }
    return 0;
}

const struct op_def op_batchnormalization = {
    .name = "BatchNormalization", .shape = bn_shape, .run = bn_run, .backward = bn_backward};
