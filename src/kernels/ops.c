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
extern const struct op_def op_sin, op_cos, op_tan, op_asin, op_acos, op_atan;
extern const struct op_def op_sinh, op_cosh, op_asinh, op_acosh, op_atanh;
extern const struct op_def op_sign, op_round, op_isnan, op_isinf, op_mod, op_shrink;
extern const struct op_def op_selu, op_celu, op_thresholdedrelu;
extern const struct op_def op_size, op_range, op_argmax, op_argmin, op_topk, op_gatherelements;
extern const struct op_def op_onehot, op_trilu, op_cumsum, op_nonzero;
extern const struct op_def op_depthtospace, op_spacetodepth, op_globalmaxpool, op_hardmax;
extern const struct op_def op_sum, op_mean, op_meanvariancenormalization, op_lrn;
extern const struct op_def op_reducelogsum, op_reducelogsumexp;

static const struct op_def *const OPS[] = {
    &op_abs,
    &op_acos,
    &op_acosh,
    &op_add,
    &op_and,
    &op_argmax,
    &op_argmin,
    &op_asin,
    &op_asinh,
    &op_atan,
    &op_atanh,
    &op_averagepool,
    &op_batchnormalization,
    &op_cast,
    &op_castlike,
    &op_ceil,
    &op_celu,
    &op_clip,
    &op_concat,
    &op_constant,
    &op_constantofshape,
    &op_conv,
    &op_convtranspose,
    &op_cos,
    &op_cosh,
    &op_cumsum,
    &op_depthtospace,
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
    &op_gatherelements,
    &op_gelu,
    &op_gemm,
    &op_globalaveragepool,
    &op_globalmaxpool,
    &op_greater,
    &op_greaterorequal,
    &op_hardmax,
    &op_hardsigmoid,
    &op_hardswish,
    &op_identity,
    &op_instancenormalization,
    &op_isinf,
    &op_isnan,
    &op_layernormalization,
    &op_leakyrelu,
    &op_less,
    &op_lessorequal,
    &op_log,
    &op_logsoftmax,
    &op_lrn,
    &op_matmul,
    &op_max,
    &op_maxpool,
    &op_mean,
    &op_meanvariancenormalization,
    &op_min,
    &op_mod,
    &op_mul,
    &op_neg,
    &op_nonzero,
    &op_not,
    &op_onehot,
    &op_or,
    &op_pad,
    &op_pow,
    &op_prelu,
    &op_range,
    &op_reciprocal,
    &op_reducel1,
    &op_reducel2,
    &op_reducelogsum,
    &op_reducelogsumexp,
    &op_reducemax,
    &op_reducemean,
    &op_reducemin,
    &op_reduceprod,
    &op_reducesum,
    &op_reducesumsquare,
    &op_relu,
    &op_reshape,
    &op_resize,
    &op_round,
    &op_selu,
    &op_shape,
    &op_shrink,
    &op_sigmoid,
    &op_sign,
    &op_sin,
    &op_sinh,
    &op_size,
    &op_slice,
    &op_softmax,
    &op_softplus,
    &op_softsign,
    &op_spacetodepth,
    &op_split,
    &op_sqrt,
    &op_squeeze,
    &op_sub,
    &op_sum,
    &op_tan,
    &op_tanh,
    &op_thresholdedrelu,
    &op_tile,
    &op_topk,
    &op_transpose,
    &op_trilu,
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
