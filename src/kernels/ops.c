/* The operator table: one line per op. Adding an op is one op_*.c file and one line here.
 * Not the ops' arithmetic. */
#include "kernels/ops.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct op_def op_add, op_sub, op_mul, op_div;
extern const struct op_def op_relu, op_leakyrelu, op_prelu, op_sigmoid, op_tanh;
extern const struct op_def op_hardsigmoid, op_hardswish, op_clip;
extern const struct op_def op_softmax, op_logsoftmax;
extern const struct op_def op_gemm, op_matmul, op_conv;
extern const struct op_def op_maxpool, op_averagepool, op_globalaveragepool;
extern const struct op_def op_batchnormalization;
extern const struct op_def op_flatten, op_reshape, op_squeeze, op_unsqueeze;
extern const struct op_def op_identity, op_dropout;
extern const struct op_def op_transpose, op_concat, op_pad;
extern const struct op_def op_constant, op_constantofshape, op_shape, op_gather;
extern const struct op_def op_reducemean;

static const struct op_def *const OPS[] = {
    &op_add,
    &op_averagepool,
    &op_batchnormalization,
    &op_clip,
    &op_concat,
    &op_constant,
    &op_constantofshape,
    &op_conv,
    &op_div,
    &op_dropout,
    &op_flatten,
    &op_gather,
    &op_gemm,
    &op_globalaveragepool,
    &op_hardsigmoid,
    &op_hardswish,
    &op_identity,
    &op_leakyrelu,
    &op_logsoftmax,
    &op_matmul,
    &op_maxpool,
    &op_mul,
    &op_pad,
    &op_prelu,
    &op_reducemean,
    &op_relu,
    &op_reshape,
    &op_shape,
    &op_sigmoid,
    &op_softmax,
    &op_squeeze,
    &op_sub,
    &op_tanh,
    &op_transpose,
    &op_unsqueeze,
};

#define N_OPS (sizeof OPS / sizeof OPS[0])

const struct op_def *ops_find(const char *op_type)
{
    for (size_t i = 0; i < N_OPS; i++)
        if (strcmp(OPS[i]->name, op_type) == 0)
            return OPS[i];
    return NULL;
}

size_t ops_count(void)
{
    return N_OPS;
}

const struct op_def *ops_at(size_t i)
{
    return i < N_OPS ? OPS[i] : NULL;
}

char *ops_supported_list(char *buf, size_t size)
{
    size_t used = 0;
    if (size)
        buf[0] = '\0';
    for (size_t i = 0; i < N_OPS && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", OPS[i]->name);
    return buf;
}

void ops_blas_single_thread(void)
{
    openblas_set_num_threads(1);
}
