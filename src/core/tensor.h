/* n-dimensional arrays of float32, int64, int32 or bool with their shape; the unit of data
 * everywhere.
 * Not for graph bookkeeping (model/graph.h) or for knowing what op made a tensor. */
#ifndef PRUNESCOPE_CORE_TENSOR_H
#define PRUNESCOPE_CORE_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define TENSOR_MAX_DIMS 8

/* Element types; the numbers are ONNX's TensorProto.DataType codes. Computation is in
 * float32; int64 carries shapes, indices and axes; int32 and bool (one byte, 0 or 1) are
 * what comparisons, masks and casts in exported models produce and consume. */
enum dtype {
    DTYPE_UNDEFINED = 0,
    DTYPE_FLOAT = 1,
    DTYPE_INT32 = 6,
    DTYPE_INT64 = 7,
    DTYPE_BOOL = 9,
};

struct shape {
    int ndim;
    int64_t dims[TENSOR_MAX_DIMS];
};

struct tensor {
    enum dtype dtype;
    struct shape shape;
    void *data;      /* numel elements of dtype, or NULL when numel is 0 */
    size_t capacity; /* bytes allocated (0 for views) */
    bool owns_data;
};

const char *dtype_name(enum dtype t);
size_t dtype_size(enum dtype t);

/* Number of elements; 1 for a scalar (ndim 0). */
size_t shape_numel(const struct shape *s);
bool shape_equal(const struct shape *a, const struct shape *b);
/* Writes "[2,3,4]" into buf (always terminated). Returns buf. */
char *shape_format(const struct shape *s, char *buf, size_t size);
struct shape shape_make(int ndim, const int64_t *dims);

/* A zero-filled tensor that owns its data. NULL with err set on bad shape or OOM. */
struct tensor *tensor_new(enum dtype t, const struct shape *shape, struct err *err);
/* A deep copy. */
struct tensor *tensor_clone(const struct tensor *src, struct err *err);
/* A tensor that borrows data (never freed by tensor_free). */
struct tensor *tensor_view(enum dtype t, const struct shape *shape, void *data, struct err *err);
void tensor_free(struct tensor *t);

/* Change shape and dtype, growing the owned buffer when needed (contents unspecified after
 * growth). Only for tensors that own their data. */
int tensor_reshape_alloc(struct tensor *t, enum dtype dt, const struct shape *shape,
                         struct err *err);

size_t tensor_numel(const struct tensor *t);
size_t tensor_bytes(const struct tensor *t);
static inline float *tensor_f32(const struct tensor *t)
{
    return (float *)t->data;
}
static inline int64_t *tensor_i64(const struct tensor *t)
{
    return (int64_t *)t->data;
}
static inline int32_t *tensor_i32(const struct tensor *t)
{
    return (int32_t *)t->data;
}
/* Bool elements are bytes holding 0 or 1 (ONNX's layout), not C's bool. */
static inline uint8_t *tensor_bool(const struct tensor *t)
{
    return (uint8_t *)t->data;
}

#endif
