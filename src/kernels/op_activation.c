/* Elementwise activations: Relu, LeakyRelu, PRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Clip.
 * Not for Softmax-like ops that look across an axis (op_softmax.c). */
#include <float.h>
#include <math.h>

#include "kernels/broadcast.h"
#include "kernels/elementwise.h"
#include "kernels/op.h"
#include "kernels/vmath.h"

static int unary_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0 || op_check_input(io, 0, DTYPE_FLOAT, err) < 0)
        return -1;
    op_set_out(io, 0, DTYPE_FLOAT, &io->in[0]->shape);
    return 0;
}

/* t limited to [0, 1]; NaN passes through. Plain comparisons (unlike fminf/fmaxf, which
 * drop NaN and are library calls) compile to vector min/max. */
static inline float clamp01(float t)
{
    return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
}

/* NaN passes through, as in PyTorch and onnxruntime. */
DEFINE_FLOAT_RUN(relu, (void)0, v < 0.0f ? 0.0f : v)
DEFINE_FLOAT_RUN(leakyrelu, float alpha = node_attr_float(io->node, "alpha", 0.01f),
                 v >= 0.0f ? v : alpha * v)
/* Eight at a time where the CPU allows (vmath.h). */
static int sigmoid_run(struct op_io *io, struct err *err)
{
    (void)err;
    vmath_sigmoid(tensor_f32(io->in[0]), tensor_f32(io->out[0]), tensor_numel(io->in[0]));
    return 0;
}
DEFINE_FLOAT_RUN(tanh, (void)0, tanhf(v))
DEFINE_FLOAT_RUN(hardsigmoid, float alpha = node_attr_float(io->node, "alpha", 0.2f);
                 float beta = node_attr_float(io->node, "beta", 0.5f), clamp01(alpha *v + beta))
DEFINE_FLOAT_RUN(hardswish, (void)0, v *clamp01(v / 6.0f + 0.5f))

DEFINE_FLOAT_BACKWARD(relu, (void)0, v > 0.0f ? 1.0f : 0.0f)
DEFINE_FLOAT_BACKWARD(leakyrelu, float alpha = node_attr_float(io->node, "alpha", 0.01f),
                      v >= 0.0f ? 1.0f : alpha)
DEFINE_FLOAT_BACKWARD(sigmoid, (void)0, o *(1.0f - o))
DEFINE_FLOAT_BACKWARD(tanh, (void)0, 1.0f - o * o)
DEFINE_FLOAT_BACKWARD(hardsigmoid, float alpha = node_attr_float(io->node, "alpha", 0.2f),
                      (o > 0.0f && o < 1.0f) ? alpha : 0.0f)

const struct op_def op_relu = {
    .name = "Relu", .shape = unary_shape, .run = relu_run, .backward = relu_backward};
const struct op_def op_leakyrelu = {.name = "LeakyRelu",
                                    .shape = unary_shape,
                                    .run = leakyrelu_run,
                                    .backward = leakyrelu_backward};
const struct op_def op_sigmoid = {
    .name = "Sigmoid", .shape = unary_shape, .run = sigmoid_run, .backward = sigmoid_backward};
const struct op_def op_tanh = {
    .name = "Tanh", .shape = unary_shape, .run = tanh_run, .backward = tanh_backward};
const struct op_def op_hardsigmoid = {.name = "HardSigmoid",
                                      .shape = unary_shape,
                                      .run = hardsigmoid_run,
                                      .backward = hardsigmoid_backward};
const struct op_def op_hardswish = {
    .name = "HardSwish", .shape = unary_shape, .run = hardswish_run};

/* Clip: bounds are attributes before opset 11 and optional scalar inputs from 11 on. */
static int clip_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 3, err) < 0 || op_check_input(io, 0, DTYPE_FLOAT, err) < 0)
        return -1;
    for (int i = 1; i < io->n_in; i++) {
        if (!op_has_in(io, i))
            continue;
        if (io->in[i]->dtype != DTYPE_FLOAT)
            return op_fail(io, err, "bound input %d must be float32", i);
        if (tensor_numel(io->in[i]) != 1)
            return op_fail(io, err, "bound input %d must be a scalar", i);
    }
    op_set_out(io, 0, DTYPE_FLOAT, &io->in[0]->shape);
    return 0;
}

bool op_clip_bounds(const struct op_io *io, float *lo, float *hi)
{
    *lo = -FLT_MAX;
    *hi = FLT_MAX;
    if (io->opset < 11) {
        *lo = node_attr_float(io->node, "min", -FLT_MAX);
        *hi = node_attr_float(io->node, "max", FLT_MAX);
        return true;
    }
    for (int i = 1; i < 3; i++)
        if (op_has_in(io, i) && !io->in[i]->data)
            return false;
    if (op_has_in(io, 1))
        *lo = tensor_f32(io->in[1])[0];
    if (op_has_in(io, 2))
        *hi = tensor_f32(io->in[2])[0];
    return true;
}

static int clip_run(struct op_io *io, struct err *err)
{
    (void)err;
    float lo, hi;
    op_clip_bounds(io, &lo, &hi);
    const float *x = tensor_f32(io->in[0]);
    float *y = tensor_f32(io->out[0]);
    size_t n = tensor_numel(io->in[0]);
    /* ONNX defines Clip as min(max(x, lo), hi), so hi wins when lo > hi. */
    for (size_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
    }
    return 0;
}

const struct op_def op_clip = {.name = "Clip", .shape = clip_shape, .run = clip_run};

/* PRelu: slope broadcasts to X in one direction (X's shape is the output's). */
static int prelu_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0 || op_check_input(io, 0, DTYPE_FLOAT, err) < 0 ||
        op_check_input(io, 1, DTYPE_FLOAT, err) < 0)
        return -1;
    struct shape out;
    const struct shape *xs = &io->in[0]->shape, *ss = &io->in[1]->shape;
    if (op_broadcast_shape(xs, ss, &out) < 0 || !shape_equal(&out, xs)) {
        char a[96], b[96];
        return op_fail(io, err, "slope of shape %s does not broadcast to input shape %s",
                       shape_format(ss, b, sizeof b), shape_format(xs, a, sizeof a));
    }
    op_set_out(io, 0, DTYPE_FLOAT, xs);
    return 0;
}

struct prelu_ctx {
    const float *x, *slope;
    float *y;
};

static void prelu_inner(void *opaque, size_t oa, size_t ob, size_t oo, size_t n, size_t sa,
                        size_t sb)
{
    const struct prelu_ctx *c = opaque;
    for (size_t i = 0; i < n; i++) {
        float v = c->x[oa + i * sa];
        c->y[oo + i] = v >= 0.0f ? v : v * c->slope[ob + i * sb];
    }
}

static int prelu_run(struct op_io *io, struct err *err)
{
    struct prelu_ctx c = {tensor_f32(io->in[0]), tensor_f32(io->in[1]), tensor_f32(io->out[0])};
    struct bcast bc;
    bcast_init(&bc, &io->in[0]->shape, &io->in[1]->shape, &io->out[0]->shape);
    bcast_for_each(&bc, prelu_inner, &c);
    return 0;
}

const struct op_def op_prelu = {.name = "PRelu", .shape = prelu_shape, .run = prelu_run};
