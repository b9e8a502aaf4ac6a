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
extern const struct op_def op_layernormalization, op_instancenormalization;
extern const struct op_def op_resize, op_upsample, op_convtranspose;
extern const struct op_def op_flatten, op_reshape, op_squeeze, op_unsqueeze;
extern const struct op_def op_identity, op_dropout;
extern const struct op_def op_transpose, op_concat, op_pad;
extern const struct op_def op_constant, op_constantofshape, op_shape, op_gather;
extern const struct op_def op_reducemean;
extern const struct op_def op_reducesum, op_reducemax, op_reducemin, op_reduceprod;
extern const struct op_def op_reducel1, op_reducel2, op_reducesumsquare;
extern const struct op_def op_slice, op_split, op_expand, op_tile;
extern const struct op_def op_sqrt, op_reciprocal, op_exp, op_log, op_neg, op_abs, op_erf;
extern const struct op_def op_gelu, op_elu, op_softplus, op_floor, op_ceil, op_softsign;
extern const struct op_def op_pow, op_min, op_max;
extern const struct op_def op_equal, op_less, op_greater, op_lessorequal, op_greaterorequal;
extern const struct op_def op_not, op_and, op_or, op_xor, op_where, op_cast, op_castlike;

static const struct op_def *const OPS[] = {
    &op_abs,
    &op_add,
    &op_and,
    &op_averagepool,
    &op_batchnormalization,
    &op_cast,
    &op_castlike,
    &op_ceil,
    &op_clip,
    &op_concat,
    &op_constant,
    &op_constantofshape,
    &op_conv,
    &op_convtranspose,
    &op_div,
    &op_dropout,
    &op_elu,
    &op_equal,
    &op_erf,
    &op_exp,
    &op_expand,
    &op_flatten,
    &op_floor,
    &op_gather,
    &op_gelu,
    &op_gemm,
    &op_globalaveragepool,
    &op_greater,
    &op_greaterorequal,
    &op_hardsigmoid,
    &op_hardswish,
    &op_identity,
    &op_instancenormalization,
    &op_layernormalization,
    &op_leakyrelu,
    &op_less,
    &op_lessorequal,
    &op_log,
    &op_logsoftmax,
    &op_matmul,
    &op_max,
    &op_maxpool,
    &op_min,
    &op_mul,
    &op_neg,
    &op_not,
    &op_or,
    &op_pad,
    &op_pow,
    &op_prelu,
    &op_reciprocal,
    &op_reducel1,
    &op_reducel2,
    &op_reducemax,
    &op_reducemean,
    &op_reducemin,
    &op_reduceprod,
    &op_reducesum,
    &op_reducesumsquare,
    &op_relu,
    &op_reshape,
    &op_resize,
    &op_shape,
    &op_sigmoid,
    &op_slice,
    &op_softmax,
    &op_softplus,
    &op_softsign,
    &op_split,
    &op_sqrt,
    &op_squeeze,
    &op_sub,
    &op_tanh,
    &op_tile,
    &op_transpose,
    &op_unsqueeze,
    &op_upsample,
    &op_where,
    &op_xor,
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
