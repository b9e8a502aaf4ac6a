/* Cast and CastLike between float32, int64, int32 and bool. Not for the other ONNX element
 * types (double, float16, strings...), which prunescope does not hold: those are refused as
 * unsupported. */
#include <math.h>
#include <string.h>

#include "kernels/op.h"
#include "model/onnx_reader.h"

static bool castable(int t)
{
    return t == DTYPE_FLOAT || t == DTYPE_INT64 || t == DTYPE_INT32 || t == DTYPE_BOOL;
}

static int cast_check(struct op_io *io, int target, struct err *err)
{
    enum dtype from = io->in[0]->dtype;
    if (!castable(from))
        return op_unsupported(io, err, "casting from element type %s", dtype_name(from));
    if (!castable(target))
        return op_unsupported(io, err, "casting to element type %s", onnx_elem_type_name(target));
    op_set_out(io, 0, (enum dtype)target, &io->in[0]->shape);
    return 0;
}

/* The `to` attribute holds an ONNX element type code, which is also our dtype's number. */
static int cast_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 1, 1, err) < 0)
        return -1;
    const struct attr *a = node_attr(io->node, "to");
    if (!a || a->type != ATTR_INT)
        return op_fail(io, err, "attribute 'to' (the target element type) is missing");
    if (a->i < 0 || a->i > 64)
        return op_fail(io, err, "attribute 'to' is %lld, not an ONNX element type",
                       (long long)a->i);
    return cast_check(io, (int)a->i, err);
}

static int castlike_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0)
        return -1;
    return cast_check(io, io->in[1]->dtype, err);
}

/* Float to integer truncates toward zero as C and ONNX do; NaN gives 0 and values beyond
 * the target's range saturate (C leaves both undefined). */
static int64_t float_to_i64(float v)
{
    if (isnan(v))
        return 0;
    if (v >= 0x1p63f)
        return INT64_MAX;
    if (v < -0x1p63f)
        return INT64_MIN;
    return (int64_t)v;
}

static int32_t float_to_i32(float v)
{
    if (isnan(v))
        return 0;
    if (v >= 0x1p31f)
        return INT32_MAX;
    if (v < -0x1p31f)
        return INT32_MIN;
    return (int32_t)v;
}

/* Element i read as double and as int64 (a bool is 0 or 1). */
static double as_double(const struct tensor *t, size_t i)
{
    switch (t->dtype) {
    case DTYPE_FLOAT: return tensor_f32(t)[i];
    case DTYPE_INT64: return (double)tensor_i64(t)[i];
    case DTYPE_INT32: return tensor_i32(t)[i];
    default: return tensor_bool(t)[i] != 0;
    }
}

static int64_t as_i64(const struct tensor *t, size_t i)
{
    switch (t->dtype) {
    case DTYPE_FLOAT: return float_to_i64(tensor_f32(t)[i]);
    case DTYPE_INT64: return tensor_i64(t)[i];
    case DTYPE_INT32: return tensor_i32(t)[i];
    default: return tensor_bool(t)[i] != 0;
    }
}

static int cast_run(struct op_io *io, struct err *err)
{
    (void)err;
    const struct tensor *x = io->in[0];
    struct tensor *y = io->out[0];
    size_t n = tensor_numel(x);
    if (x->dtype == y->dtype) {
        if (y->data != x->data && tensor_bytes(x))
            memcpy(y->data, x->data, tensor_bytes(x));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        switch (y->dtype) {
        case DTYPE_FLOAT:
            /* int64 to float rounds once, not via double twice. */
            tensor_f32(y)[i] =
                x->dtype == DTYPE_INT64 ? (float)tensor_i64(x)[i] : (float)as_double(x, i);
            break;
        case DTYPE_INT64: tensor_i64(y)[i] = as_i64(x, i); break;
        case DTYPE_INT32:
            /* int64 to int32 keeps the low 32 bits, as a C cast on two's complement does. */
            tensor_i32(y)[i] = x->dtype == DTYPE_FLOAT ? float_to_i32(tensor_f32(x)[i])
                                                       : (int32_t)(uint32_t)(uint64_t)as_i64(x, i);
            break;
        default:
            /* Anything nonzero is true, NaN included. */
            tensor_bool(y)[i] =
                x->dtype == DTYPE_FLOAT ? tensor_f32(x)[i] != 0.0f : as_i64(x, i) != 0;
            break;
        }
    }
    return 0;
}

/* Only a float-to-float cast passes a gradient; to or from an integer there is none. */
static int cast_backward(const struct op_io *io, const struct tensor *const *dout,
                         struct tensor *const *din, struct err *err)
{
    if (!din[0])
        return 0;
    if (io->out[0]->dtype != DTYPE_FLOAT)
        return op_unsupported(io, err, "the gradient of a cast to %s",
                              dtype_name(io->out[0]->dtype));
    const float *dy = tensor_f32(dout[0]);
    float *dx = tensor_f32(din[0]);
    size_t n = tensor_numel(din[0]);
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i];
    return 0;
}

const struct op_def op_cast = {
    .name = "Cast", .shape = cast_shape, .run = cast_run, .backward = cast_backward};
const struct op_def op_castlike = {
    .name = "CastLike", .shape = castlike_shape, .run = cast_run, .backward = cast_backward};
