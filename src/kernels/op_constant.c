/* Constant (a value held in attributes) and ConstantOfShape (a filled tensor).
 * Not for initializers, which the model reader turns into constants directly. */
#include <string.h>

#include "kernels/op.h"

/* The attribute holding the constant, with its shape and type. */
static int constant_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 0, 0, err) < 0)
        return -1;
    const struct node *n = io->node;
    const struct attr *a;
    if ((a = node_attr(n, "value")) && a->type == ATTR_TENSOR && a->t) {
        /* The run copies the attribute's bytes into an output of this dtype and shape, so
         * both must describe exactly those bytes. */
        if (dtype_size(a->t->dtype) == 0)
            return op_unsupported(io, err, "a value of element type %s", dtype_name(a->t->dtype));
        op_set_out(io, 0, a->t->dtype, &a->t->shape);
    } else if ((a = node_attr(n, "value_float")) && a->type == ATTR_FLOAT) {
        op_set_out(io, 0, DTYPE_FLOAT, &(struct shape){.ndim = 0});
    } else if ((a = node_attr(n, "value_int")) && a->type == ATTR_INT) {
        op_set_out(io, 0, DTYPE_INT64, &(struct shape){.ndim = 0});
    } else if ((a = node_attr(n, "value_floats")) && a->type == ATTR_FLOATS) {
        op_set_out(io, 0, DTYPE_FLOAT, &(struct shape){.ndim = 1, .dims = {(int64_t)a->n}});
    } else if ((a = node_attr(n, "value_ints")) && a->type == ATTR_INTS) {
        op_set_out(io, 0, DTYPE_INT64, &(struct shape){.ndim = 1, .dims = {(int64_t)a->n}});
    } else if (node_attr(n, "value_string") || node_attr(n, "value_strings") ||
               node_attr(n, "sparse_value")) {
        return op_unsupported(io, err, "a string or sparse value");
    } else {
        return op_fail(io, err,
                       "no supported value attribute (value, value_float, "
                       "value_floats, value_int, value_ints)");
    }
    return 0;
}

static int constant_run(struct op_io *io, struct err *err)
{
    const struct node *n = io->node;
    const struct attr *a;
    void *out = io->out[0]->data;
    if ((a = node_attr(n, "value")) && a->type == ATTR_TENSOR && a->t) {
        if (io->out[0]->dtype != a->t->dtype || tensor_bytes(io->out[0]) != tensor_bytes(a->t))
            return op_fail(io, err, "value (%s) does not match the planned output (%s)",
                           dtype_name(a->t->dtype), dtype_name(io->out[0]->dtype));
        if (tensor_bytes(a->t))
            memcpy(out, a->t->data, tensor_bytes(a->t));
    } else if ((a = node_attr(n, "value_float")) && a->type == ATTR_FLOAT) {
        *(float *)out = a->f;
    } else if ((a = node_attr(n, "value_int")) && a->type == ATTR_INT) {
        *(int64_t *)out = a->i;
    } else if ((a = node_attr(n, "value_floats")) && a->type == ATTR_FLOATS) {
        if (a->n)
            memcpy(out, a->floats, a->n * sizeof(float));
    } else if ((a = node_attr(n, "value_ints")) && a->type == ATTR_INTS) {
        if (a->n)
            memcpy(out, a->ints, a->n * sizeof(int64_t));
    }
    return 0;
}

const struct op_def op_constant = {
    .name = "Constant", .shape = constant_shape, .run = constant_run};

static int constantofshape_shape(struct op_io *io, struct err *err)
{
    const int64_t *dims;
    size_t n;
    struct op_ints keep;
    if (op_check_arity(io, 1, 1, err) < 0 || op_const_ints(io, 0, &keep, &dims, &n, err) < 0)
        return -1;
    if (n > TENSOR_MAX_DIMS)
        return op_fail(io, err, "rank %zu exceeds %d", n, TENSOR_MAX_DIMS);
    struct shape out = {.ndim = (int)n};
    for (size_t i = 0; i < n; i++) {
        if (dims[i] < 0)
            return op_fail(io, err, "dimension %zu is negative (%lld)", i, (long long)dims[i]);
        out.dims[i] = dims[i];
    }
    const struct attr *a = node_attr(io->node, "value");
    enum dtype t = DTYPE_FLOAT;
    if (a && a->type == ATTR_TENSOR && a->t) {
        if (tensor_numel(a->t) != 1)
            return op_fail(io, err, "value must hold exactly one element");
        t = a->t->dtype;
        if (t != DTYPE_FLOAT && t != DTYPE_INT64 && t != DTYPE_INT32 && t != DTYPE_BOOL)
            return op_unsupported(io, err, "a value of element type %s", dtype_name(t));
    }
    op_set_out(io, 0, t, &out);
    return 0;
}

/* The fill value is the attribute's one element of the output's own type (float32 0 when the
 * attribute is absent); each type is written with its own element size. */
static int constantofshape_run(struct op_io *io, struct err *err)
{
    const struct attr *a = node_attr(io->node, "value");
    const struct tensor *v = a && a->type == ATTR_TENSOR ? a->t : NULL;
    struct tensor *o = io->out[0];
    size_t n = tensor_numel(o);
    if (v ? v->dtype != o->dtype || tensor_numel(v) != 1 : o->dtype != DTYPE_FLOAT)
        return op_fail(io, err, "value (%s) does not match the planned output (%s)",
                       dtype_name(v ? v->dtype : DTYPE_FLOAT), dtype_name(o->dtype));
    switch (o->dtype) {
    case DTYPE_FLOAT: {
        float x = v ? tensor_f32(v)[0] : 0.0f;
        for (size_t i = 0; i < n; i++)
            tensor_f32(o)[i] = x;
        break;
    }
    case DTYPE_INT64: {
        int64_t x = tensor_i64(v)[0];
        for (size_t i = 0; i < n; i++)
            tensor_i64(o)[i] = x;
        break;
    }
    case DTYPE_INT32: {
        int32_t x = tensor_i32(v)[0];
        for (size_t i = 0; i < n; i++)
            tensor_i32(o)[i] = x;
        break;
    }
    case DTYPE_BOOL: memset(tensor_bool(o), tensor_bool(v)[0] ? 1 : 0, n); break;
    default: return op_unsupported(io, err, "a value of element type %s", dtype_name(o->dtype));
    }
    return 0;
}

const struct op_def op_constantofshape = {
    .name = "ConstantOfShape", .shape = constantofshape_shape, .run = constantofshape_run};
