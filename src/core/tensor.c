/* Tensor allocation, shapes and their formatting.
 * Not for arithmetic: kernels own that. */
#include "core/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dtype_name(enum dtype t)
{
    switch (t) {
    case DTYPE_FLOAT: return "float32";
    case DTYPE_INT64: return "int64";
    case DTYPE_INT32: return "int32";
    case DTYPE_BOOL: return "bool";
    default: return "undefined";
    }
}

size_t dtype_size(enum dtype t)
{
    switch (t) {
    case DTYPE_FLOAT: return 4;
    case DTYPE_INT64: return 8;
    case DTYPE_INT32: return 4;
    case DTYPE_BOOL: return 1;
    default: return 0;
    }
}

size_t shape_numel(const struct shape *s)
{
    size_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= (size_t)(s->dims[i] < 0 ? 0 : s->dims[i]);
    return n;
}

bool shape_equal(const struct shape *a, const struct shape *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

char *shape_format(const struct shape *s, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf + used, size - used, "[");
    for (int i = 0; i < s->ndim && used < size; i++)
        used +=
            (size_t)snprintf(buf + used, size - used, i ? ",%lld" : "%lld", (long long)s->dims[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

struct shape shape_make(int ndim, const int64_t *dims)
{
    struct shape s = {.ndim = ndim};
    for (int i = 0; i < ndim && i < TENSOR_MAX_DIMS; i++)
        s.dims[i] = dims[i];
    return s;
}

static int check_shape(const struct shape *shape, struct err *err)
{
    if (shape->ndim < 0 || shape->ndim > TENSOR_MAX_DIMS)
        return err_set(err, "tensor rank %d is outside 0..%d", shape->ndim, TENSOR_MAX_DIMS);
    for (int i = 0; i < shape->ndim; i++)
        if (shape->dims[i] < 0)
            return err_set(err, "tensor dimension %d is negative (%lld)", i,
                           (long long)shape->dims[i]);
    return 0;
}

struct tensor *tensor_new(enum dtype t, const struct shape *shape, struct err *err)
{
    if (check_shape(shape, err) < 0)
        return NULL;
    struct tensor *x = calloc(1, sizeof *x);
    if (!x) {
        err_oom(err, "tensor", sizeof *x);
        return NULL;
    }
    x->dtype = t;
    x->shape = *shape;
    x->owns_data = true;
    size_t bytes = shape_numel(shape) * dtype_size(t);
    if (bytes) {
        x->data = calloc(1, bytes);
        if (!x->data) {
            free(x);
            err_oom(err, "tensor data", bytes);
            return NULL;
        }
        x->capacity = bytes;
    }
    return x;
}

struct tensor *tensor_clone(const struct tensor *src, struct err *err)
{
    struct tensor *x = tensor_new(src->dtype, &src->shape, err);
    if (x && tensor_bytes(src))
        memcpy(x->data, src->data, tensor_bytes(src));
    return x;
}

struct tensor *tensor_view(enum dtype t, const struct shape *shape, void *data, struct err *err)
{
    if (check_shape(shape, err) < 0)
        return NULL;
    struct tensor *x = calloc(1, sizeof *x);
    if (!x) {
        err_oom(err, "tensor view", sizeof *x);
        return NULL;
    }
    x->dtype = t;
    x->shape = *shape;
    x->data = data;
    return x;
}

void tensor_free(struct tensor *t)
{
    if (!t)
        return;
    if (t->owns_data)
        free(t->data);
    free(t);
}

int tensor_reshape_alloc(struct tensor *t, enum dtype dt, const struct shape *shape,
                         struct err *err)
{
    if (check_shape(shape, err) < 0)
        return -1;
    size_t bytes = shape_numel(shape) * dtype_size(dt);
    if (bytes > t->capacity) {
        void *p = realloc(t->owns_data ? t->data : NULL, bytes);
        if (!p)
            return err_oom(err, "tensor data", bytes);
        t->data = p;
        t->capacity = bytes;
        t->owns_data = true;
    }
    t->dtype = dt;
    t->shape = *shape;
    return 0;
}

size_t tensor_numel(const struct tensor *t)
{
    return shape_numel(&t->shape);
}

size_t tensor_bytes(const struct tensor *t)
{
    return tensor_numel(t) * dtype_size(t->dtype);
}
