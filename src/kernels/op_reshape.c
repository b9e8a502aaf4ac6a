/* Ops that keep the data and change only the shape: Flatten, Reshape, Squeeze, Unsqueeze,
 * Identity and Dropout (inference). Not for ops that reorder data (op_transpose.c). */
#include <string.h>

#include "kernels/op.h"

/* These ops only move bytes, so every element type prunescope knows passes through. */
static int any_dtype(const struct op_io *io, int i, struct err *err)
{
    if (!op_has_in(io, i))
        return op_fail(io, err, "input %d is missing", i);
    if (dtype_size(io->in[i]->dtype) == 0)
        return op_unsupported(io, err, "element type %s of input %d", dtype_name(io->in[i]->dtype),
                              i);
    return 0;
}

/* tensor_bytes counts each type's own element size (1 for bool, 4 for int32). */
static int copy_run(struct op_io *io, struct err *err)
{
    if (io->out[0]->data != io->in[0]->data && tensor_bytes(io->in[0]))
        memcpy(io->out[0]->data, io->in[0]->data, tensor_bytes(io->in[0]));
    return 0;
}

/* Reshapes keep the elements in order: the gradient passes through unchanged. */
static int copy_backward(const struct op_io *io, const struct tensor *const *dout,
                         struct tensor *const *din, struct err *err)
{
    /* Only float32 data carries a gradient; int and bool tensors are shapes and masks. */
    if (!din[0] || din[0]->dtype != DTYPE_FLOAT || dout[0]->dtype != DTYPE_FLOAT)
        return 0;
    const float *dy = tensor_f32(dout[0]);
    float *dx = tensor_f32(din[0]);
    size_t n = tensor_numel(din[0]);
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i];
    return 0;
}

static int flatten_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0 || any_dtype(io, 0, err) < 0)
        return -1;
    const struct shape *s = &io->in[0]->shape;
    int64_t axis = node_attr_int(io->node, "axis", 1);
    if (axis < 0)
        axis += s->ndim;
    if (axis < 0 || axis > s->ndim)
        return op_fail(io, err, "axis %lld is out of range for rank %d",
                       (long long)node_attr_int(io->node, "axis", 1), s->ndim);
    struct shape out = {.ndim = 2, .dims = {1, 1}};
    for (int i = 0; i < s->ndim; i++)
        out.dims[i < axis ? 0 : 1] *= s->dims[i];
    op_set_out(io, 0, io->in[0]->dtype, &out);
    return 0;
}

const struct op_def op_flatten = {
    .name = "Flatten", .shape = flatten_shape, .run = copy_run, .backward = copy_backward};

static int reshape_shape(struct op_io *io, struct err *err)
{
    const int64_t *req;
    size_t n;
    struct op_ints keep;
    if (io->opset < 5) {
        if (op_check_arity(io, 1, 1, err) < 0 || any_dtype(io, 0, err) < 0)
            return -1;
        req = node_attr_ints(io->node, "shape", &n);
    } else {
        if (op_check_arity(io, 2, 2, err) < 0 || any_dtype(io, 0, err) < 0 ||
            op_const_ints(io, 1, &keep, &req, &n, err) < 0)
            return -1;
    }
    const struct shape *s = &io->in[0]->shape;
    if (n > TENSOR_MAX_DIMS)
        return op_fail(io, err, "target rank %zu exceeds %d", n, TENSOR_MAX_DIMS);
    bool allowzero = node_attr_int(io->node, "allowzero", 0) != 0;
    struct shape out = {.ndim = (int)n};
    int infer = -1;
    size_t known = 1;
    for (size_t i = 0; i < n; i++) {
        int64_t d = req[i];
        if (d == 0 && !allowzero) {
            if ((int)i >= s->ndim)
                return op_fail(io, err, "target dim %zu is 0 (copy) but the input has rank %d", i,
                               s->ndim);
            d = s->dims[i];
        } else if (d == -1) {
            if (infer >= 0)
                return op_fail(io, err, "target shape has more than one -1");
            infer = (int)i;
            d = 1;
        } else if (d < 0) {
            return op_fail(io, err, "target dim %zu is %lld", i, (long long)d);
        }
        out.dims[i] = d;
        if (infer != (int)i)
            known *= (size_t)d;
    }
    size_t total = shape_numel(s);
    if (infer >= 0) {
        if (known == 0 || total % known != 0) {
            char si[96];
            return op_fail(io, err,
                           "cannot infer the -1 dimension: %zu elements of %s do not "
                           "divide by %zu",
                           total, shape_format(s, si, sizeof si), known);
        }
        out.dims[infer] = (int64_t)(total / known);
    }
    if (shape_numel(&out) != total) {
        char si[96], so[96];
        return op_fail(io, err, "cannot reshape %s (%zu elements) to %s",
                       shape_format(s, si, sizeof si), total, shape_format(&out, so, sizeof so));
    }
    op_set_out(io, 0, io->in[0]->dtype, &out);
    return 0;
}

const struct op_def op_reshape = {
    .name = "Reshape", .shape = reshape_shape, .run = copy_run, .backward = copy_backward};

/* Axes of Squeeze/Unsqueeze: an attribute before opset 13, input 1 from 13 on. */
static int axes_of(const struct op_io *io, struct op_ints *keep, const int64_t **axes, size_t *n,
                   struct err *err)
{
    if (io->opset < 13) {
        *axes = node_attr_ints(io->node, "axes", n);
        return 0;
    }
    if (!op_has_in(io, 1)) {
        *axes = NULL;
        *n = 0;
        return 0;
    }
    return op_const_ints(io, 1, keep, axes, n, err);
}

static int squeeze_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 2, err) < 0 || any_dtype(io, 0, err) < 0)
        return -1;
    const int64_t *axes;
    size_t n;
    struct op_ints keep;
    if (axes_of(io, &keep, &axes, &n, err) < 0)
        return -1;
    const struct shape *s = &io->in[0]->shape;
    bool drop[TENSOR_MAX_DIMS] = {false};
    for (size_t i = 0; i < n; i++) {
        int64_t a;
        if (op_axis(io, axes[i], s->ndim, &a, err) < 0)
            return -1;
        if (s->dims[a] != 1)
            return op_fail(io, err, "cannot squeeze axis %lld of size %lld", (long long)axes[i],
                           (long long)s->dims[a]);
        drop[a] = true;
    }
    struct shape out = {.ndim = 0};
    for (int i = 0; i < s->ndim; i++) {
        bool gone = n ? drop[i] : s->dims[i] == 1;
        if (!gone)
            out.dims[out.ndim++] = s->dims[i];
    }
    op_set_out(io, 0, io->in[0]->dtype, &out);
    return 0;
}

const struct op_def op_squeeze = {
    .name = "Squeeze", .shape = squeeze_shape, .run = copy_run, .backward = copy_backward};

static int unsqueeze_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 2, err) < 0 || any_dtype(io, 0, err) < 0)
        return -1;
    const int64_t *axes;
    size_t n;
    struct op_ints keep;
    if (axes_of(io, &keep, &axes, &n, err) < 0)
        return -1;
    const struct shape *s = &io->in[0]->shape;
    if (n == 0)
        return op_fail(io, err, "axes are required");
    int rank = s->ndim + (int)n;
    if (rank > TENSOR_MAX_DIMS)
        return op_fail(io, err, "result rank %d exceeds %d", rank, TENSOR_MAX_DIMS);
    bool ins[TENSOR_MAX_DIMS] = {false};
    for (size_t i = 0; i < n; i++) {
        int64_t a;
        if (op_axis(io, axes[i], rank, &a, err) < 0)
            return -1;
        if (ins[a])
            return op_fail(io, err, "axis %lld appears twice", (long long)axes[i]);
        ins[a] = true;
    }
    struct shape out = {.ndim = rank};
    for (int i = 0, j = 0; i < rank; i++)
        out.dims[i] = ins[i] ? 1 : s->dims[j++];
    op_set_out(io, 0, io->in[0]->dtype, &out);
    return 0;
}

const struct op_def op_unsqueeze = {
    .name = "Unsqueeze", .shape = unsqueeze_shape, .run = copy_run, .backward = copy_backward};

static int identity_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0 || any_dtype(io, 0, err) < 0)
        return -1;
    op_set_out(io, 0, io->in[0]->dtype, &io->in[0]->shape);
    return 0;
}

const struct op_def op_identity = {
    .name = "Identity", .shape = identity_shape, .run = copy_run, .backward = copy_backward};

/* Dropout at inference is the identity; training mode and the mask output are refused.
 * training_mode (input 2, opset 12 on) is a bool scalar; int64 is accepted too for models
 * that wrote it that way. It must be known at planning time, because the plan is the
 * identity only when it is false. */
static int dropout_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 3, err) < 0 || any_dtype(io, 0, err) < 0)
        return -1;
    if (io->n_out > 1 && io->out[1])
        return op_unsupported(io, err, "the mask output (training)");
    if (op_has_in(io, 2)) {
        const struct tensor *t = io->in[2];
        if (t->dtype != DTYPE_BOOL && t->dtype != DTYPE_INT64 && t->dtype != DTYPE_INT32)
            return op_fail(io, err, "training_mode (input 2) must be a bool, is %s",
                           dtype_name(t->dtype));
        if (tensor_numel(t) != 1) {
            char sb[96];
            return op_fail(io, err, "training_mode (input 2) must be a scalar, has shape %s",
                           shape_format(&t->shape, sb, sizeof sb));
        }
        if (!t->data)
            return op_unsupported(io, err, "a training_mode known only when running");
        bool training = t->dtype == DTYPE_BOOL    ? tensor_bool(t)[0] != 0
                        : t->dtype == DTYPE_INT32 ? tensor_i32(t)[0] != 0
                                                  : tensor_i64(t)[0] != 0;
        if (training)
            return op_unsupported(io, err, "training mode");
    }
    if (node_attr_int(io->node, "is_test", 1) == 0 && io->opset < 7)
        return op_unsupported(io, err, "training mode (is_test=0)");
    op_set_out(io, 0, io->in[0]->dtype, &io->in[0]->shape);
    return 0;
}

const struct op_def op_dropout = {
    .name = "Dropout", .shape = dropout_shape, .run = copy_run, .backward = copy_backward};
