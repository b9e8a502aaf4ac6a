/* Softmax, LogSoftmax, Transpose, Concat, Pad and ReduceMean checked one at a time against
 * values worked out by hand (or by a naive loop written here), plus their refusals; and the
 * int32 and bool element types through Constant, ConstantOfShape, Dropout, Gather and the
 * ops that only move elements (Reshape and its kin, Concat, Transpose, Pad). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"
#include "testutil.h"

extern const struct op_def op_softmax, op_logsoftmax, op_transpose, op_concat, op_pad,
    op_reducemean;
extern const struct op_def op_constant, op_constantofshape, op_dropout, op_gather, op_reshape,
    op_flatten, op_squeeze, op_unsqueeze, op_identity;

static struct tensor *mk_f32(int ndim, const int64_t *dims, const float *vals)
{
    return tu_tensor(DTYPE_FLOAT, ndim, dims, vals);
}

static struct tensor *mk_i64(int ndim, const int64_t *dims, const int64_t *vals)
{
    return tu_tensor(DTYPE_INT64, ndim, dims, vals);
}

/* Shape call only, with the inputs exactly as given (data NULL means "value unknown"). */
static int shape_only(const struct op_def *op, const struct node *nd, int64_t opset,
                      const struct tensor *const *ins, int n_in, struct shape *out, struct err *err)
{
    struct tensor planned = {0};
    struct tensor *outs[] = {&planned};
    struct op_io io = {
        .node = nd, .opset = opset, .n_in = n_in, .in = ins, .n_out = 1, .out = outs};
    int rc = op->shape(&io, err);
    if (out)
        *out = planned.shape;
    return rc;
}

/* The engine's sequence: a shape call that sees float inputs as shape-only and int64
 * inputs with their values (as the planner does for graph inputs), allocation of the
 * output, then the run call. *out is NULL when the shape call fails. */
static int run_op(const struct op_def *op, const struct node *nd, int64_t opset,
                  const struct tensor *const *ins, int n_in, struct tensor **out, struct err *err)
{
    struct tensor seen[8];
    const struct tensor *shape_in[8];
    cr_assert_leq(n_in, 8);
    for (int i = 0; i < n_in; i++) {
        shape_in[i] = NULL;
        if (!ins[i])
            continue;
        seen[i] = *ins[i];
        if (seen[i].dtype == DTYPE_FLOAT)
            seen[i].data = NULL;
        shape_in[i] = &seen[i];
    }
    struct tensor planned = {0};
    struct tensor *outs[] = {&planned};
    struct op_io io = {
        .node = nd, .opset = opset, .n_in = n_in, .in = shape_in, .n_out = 1, .out = outs};
    *out = NULL;
    if (op->shape(&io, err) < 0)
        return -1;
    cr_assert_neq(planned.dtype, DTYPE_UNDEFINED, "shape call set no output dtype");
    *out = tensor_new(planned.dtype, &planned.shape, err);
    cr_assert_not_null(*out, "%s", err->msg);
    outs[0] = *out;
    io.in = ins;
    return op->run(&io, err);
}

/* ---- Softmax / LogSoftmax ---- */

#define LN2 0.69314718f
#define LN3 1.09861229f

Test(softmax, opset13_normalizes_along_the_given_axis)
{
    /* Columns of [[0,0,1],[ln3,0,1]]: exps (1,3) -> (1/4,3/4); equal pairs -> 1/2 each. */
    struct tensor *x = mk_f32(2, I64(2, 3), F32(0, 0, 1, LN3, 0, 1));
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = 0}};
    struct node nd = {.name = "sm", .op_type = "Softmax", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_softmax, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 3));
    tu_expect_floats(y, F32(0.25f, 0.5f, 0.5f, 0.75f, 0.5f, 0.5f), 6, 1e-6f);
    tensor_free(x), tensor_free(y);
}

Test(softmax, opset13_defaults_to_the_last_axis)
{
    struct tensor *x = mk_f32(2, I64(2, 2), F32(0, LN3, 5, 5));
    struct node nd = {.name = "sm", .op_type = "Softmax"};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_softmax, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(0.25f, 0.75f, 0.5f, 0.5f), 4, 1e-6f);
    tensor_free(x), tensor_free(y);
}

Test(softmax, opset11_coerces_to_2d_at_axis)
{
    /* [2,2,2] at axis 1 is 2 rows of 4: row 0 exps (1,3,1,1)/6, row 1 all equal. */
    struct tensor *x = mk_f32(3, I64(2, 2, 2), F32(0, LN3, 0, 0, LN2, LN2, LN2, LN2));
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = 1}};
    struct node nd = {.name = "sm", .op_type = "Softmax", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_softmax, &nd, 11, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 3, I64(2, 2, 2));
    tu_expect_floats(y, F32(1 / 6.0f, 0.5f, 1 / 6.0f, 1 / 6.0f, 0.25f, 0.25f, 0.25f, 0.25f), 8,
                     1e-6f);
    tensor_free(x), tensor_free(y);
}

Test(softmax, opset13_same_axis_normalizes_only_that_dim)
{
    /* The input of the opset-11 test at opset 13: pairs x[n,:,k] are normalized alone:
     * (0,0) -> 1/2 each, (ln3,0) -> (3/4,1/4). */
    struct tensor *x = mk_f32(3, I64(2, 2, 2), F32(0, LN3, 0, 0, LN2, LN2, LN2, LN2));
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = 1}};
    struct node nd = {.name = "sm", .op_type = "Softmax", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_softmax, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(0.5f, 0.75f, 0.5f, 0.25f, 0.5f, 0.5f, 0.5f, 0.5f), 8, 1e-6f);
    tensor_free(x), tensor_free(y);
}

Test(softmax, opset11_defaults_axis_to_1)
{
    /* [2,1,2] coerced at 1: each batch entry's two values form one row. */
    struct tensor *x = mk_f32(3, I64(2, 1, 2), F32(LN3, 0, 7, 7));
    struct node nd = {.name = "sm", .op_type = "Softmax"};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_softmax, &nd, 11, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(0.75f, 0.25f, 0.5f, 0.5f), 4, 1e-6f);
    tensor_free(x), tensor_free(y);
}

Test(softmax, stays_finite_for_large_inputs)
{
    /* exp(10000) overflows float; after subtracting the max the exps are (1, 1, e). */
    struct tensor *x = mk_f32(1, I64(3), F32(10000, 10000, 10001));
    struct node nd = {.name = "sm", .op_type = "Softmax"};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_softmax, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    float e = (float)exp(1.0);
    tu_expect_floats(y, F32(1 / (2 + e), 1 / (2 + e), e / (2 + e)), 3, 1e-6f);
    tensor_free(x), tensor_free(y);
}

Test(softmax, rejects_axis_out_of_range_naming_the_shape)
{
    struct tensor *x = mk_f32(2, I64(2, 3), NULL);
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = 2}};
    struct node nd = {.name = "sm7", .op_type = "Softmax", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_softmax, &nd, 13, ins, 1, &y, &err), -1);
    tu_expect_error(&err, "sm7", "axis 2");
    tu_expect_error(&err, "[2,3]", NULL);
    tensor_free(x), tensor_free(y);
}

Test(softmax, rejects_int64_input)
{
    struct tensor *x = mk_i64(1, I64(2), I64(1, 2));
    struct node nd = {.name = "sm", .op_type = "Softmax"};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_softmax, &nd, 13, ins, 1, &y, &err), -1);
    tu_expect_error(&err, "int64", NULL);
    tensor_free(x), tensor_free(y);
}

Test(logsoftmax, equals_x_minus_max_minus_log_sum_exp)
{
    struct tensor *x = mk_f32(2, I64(1, 3), F32(1, 2, 3));
    struct node nd = {.name = "lsm", .op_type = "LogSoftmax"};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_logsoftmax, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    double lse = log(exp(-2.0) + exp(-1.0) + 1.0); /* max is 3 */
    tu_expect_floats(y, F32((float)(-2 - lse), (float)(-1 - lse), (float)(-lse)), 3, 1e-6f);
    tensor_free(x), tensor_free(y);
}

Test(logsoftmax, keeps_precision_for_large_inputs)
{
    struct tensor *x = mk_f32(1, I64(2), F32(10000, 10001));
    struct node nd = {.name = "lsm", .op_type = "LogSoftmax"};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_logsoftmax, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    double l = log(1.0 + exp(-1.0));
    tu_expect_floats(y, F32((float)(-1 - l), (float)(-l)), 2, 1e-6f);
    tensor_free(x), tensor_free(y);
}

Test(logsoftmax, opset11_coerces_to_2d_at_axis)
{
    /* [1,2,2] at axis 1 is one row of 4 equal values: each is log(1/4). */
    struct tensor *x = mk_f32(3, I64(1, 2, 2), F32(3, 3, 3, 3));
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = 1}};
    struct node nd = {.name = "lsm", .op_type = "LogSoftmax", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_logsoftmax, &nd, 11, ins, 1, &y, &err), 0, "%s", err.msg);
    float l4 = -2 * LN2;
    tu_expect_floats(y, F32(l4, l4, l4, l4), 4, 1e-6f);
    tensor_free(x), tensor_free(y);
}

/* ---- Transpose ---- */

/* Independent reference: for every output index, unravel it, map through perm, ravel into
 * the input. */
static void naive_transpose(const struct tensor *x, const int64_t *perm, int64_t *want)
{
    const struct shape *s = &x->shape;
    int r = s->ndim;
    size_t n = tensor_numel(x);
    for (size_t o = 0; o < n; o++) {
        int64_t oc[TENSOR_MAX_DIMS], ic[TENSOR_MAX_DIMS];
        size_t rest = o;
        for (int i = r - 1; i >= 0; i--) {
            int64_t d = s->dims[perm[i]];
            oc[i] = (int64_t)(rest % (size_t)d);
            rest /= (size_t)d;
        }
        for (int i = 0; i < r; i++)
            ic[perm[i]] = oc[i];
        size_t flat = 0;
        for (int i = 0; i < r; i++)
            flat = flat * (size_t)s->dims[i] + (size_t)ic[i];
        want[o] = x->dtype == DTYPE_INT64 ? tensor_i64(x)[flat] : (int64_t)tensor_f32(x)[flat];
    }
}

static struct tensor *iota(enum dtype t, int ndim, const int64_t *dims)
{
    struct tensor *x = tu_tensor(t, ndim, dims, NULL);
    for (size_t i = 0; i < tensor_numel(x); i++) {
        if (t == DTYPE_FLOAT)
            tensor_f32(x)[i] = (float)i;
        else
            tensor_i64(x)[i] = (int64_t)i * 7 - 3;
    }
    return x;
}

static void check_transpose_against_naive(enum dtype t, int ndim, const int64_t *dims,
                                          const int64_t *perm)
{
    struct tensor *x = iota(t, ndim, dims);
    struct attr at[] = {
        {.name = "perm", .type = ATTR_INTS, .ints = (int64_t *)perm, .n = (size_t)ndim}};
    struct node nd = {.name = "tr", .op_type = "Transpose", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_transpose, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    for (int i = 0; i < ndim; i++)
        cr_expect_eq(y->shape.dims[i], dims[perm[i]], "dim %d", i);
    size_t n = tensor_numel(x);
    int64_t *want = malloc(n * sizeof *want);
    cr_assert_not_null(want);
    naive_transpose(x, perm, want);
    for (size_t i = 0; i < n; i++) {
        int64_t got = t == DTYPE_INT64 ? tensor_i64(y)[i] : (int64_t)tensor_f32(y)[i];
        cr_expect_eq(got, want[i], "element %zu: %lld, expected %lld", i, (long long)got,
                     (long long)want[i]);
    }
    free(want);
    tensor_free(x), tensor_free(y);
}

Test(transpose, swaps_a_2d_matrix)
{
    struct tensor *x = mk_f32(2, I64(2, 3), F32(1, 2, 3, 4, 5, 6));
    struct node nd = {.name = "tr", .op_type = "Transpose"};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_transpose, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(3, 2));
    tu_expect_floats(y, F32(1, 4, 2, 5, 3, 6), 6, 0);
    tensor_free(x), tensor_free(y);
}

Test(transpose, default_perm_reverses_the_dims)
{
    /* [2,1,3] reversed is [3,1,2]: y[k][0][i] = x[i][0][k]. */
    struct tensor *x = mk_i64(3, I64(2, 1, 3), I64(1, 2, 3, 4, 5, 6));
    struct node nd = {.name = "tr", .op_type = "Transpose"};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_transpose, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 3, I64(3, 1, 2));
    tu_expect_ints(y, I64(1, 4, 2, 5, 3, 6), 6);
    tensor_free(x), tensor_free(y);
}

Test(transpose, large_2d_matches_naive_reference_across_tile_edges)
{
    check_transpose_against_naive(DTYPE_FLOAT, 2, I64(37, 70), I64(1, 0));
}

Test(transpose, batched_last_two_axes_match_naive_reference)
{
    check_transpose_against_naive(DTYPE_INT64, 3, I64(3, 33, 40), I64(0, 2, 1));
}

Test(transpose, nchw_to_nhwc_int64_matches_naive_reference)
{
    check_transpose_against_naive(DTYPE_INT64, 4, I64(2, 3, 4, 5), I64(0, 2, 3, 1));
}

Test(transpose, general_perm_with_unit_dims_matches_naive_reference)
{
    check_transpose_against_naive(DTYPE_FLOAT, 5, I64(2, 1, 3, 4, 5), I64(3, 1, 4, 0, 2));
}

Test(transpose, identity_perm_copies)
{
    check_transpose_against_naive(DTYPE_FLOAT, 3, I64(2, 3, 4), I64(0, 1, 2));
}

Test(transpose, rejects_perm_that_repeats_an_axis)
{
    struct tensor *x = mk_f32(3, I64(2, 3, 4), NULL);
    struct attr at[] = {{.name = "perm", .type = ATTR_INTS, INTS(0, 1, 1)}};
    struct node nd = {.name = "tr3", .op_type = "Transpose", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_transpose, &nd, 13, ins, 1, &y, &err), -1);
    tu_expect_error(&err, "tr3", "not a permutation");
    tensor_free(x), tensor_free(y);
}

Test(transpose, rejects_perm_of_the_wrong_length_naming_the_shape)
{
    struct tensor *x = mk_f32(3, I64(2, 3, 4), NULL);
    struct attr at[] = {{.name = "perm", .type = ATTR_INTS, INTS(1, 0)}};
    struct node nd = {.name = "tr", .op_type = "Transpose", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_transpose, &nd, 13, ins, 1, &y, &err), -1);
    tu_expect_error(&err, "perm has 2 entries", "[2,3,4]");
    tensor_free(x), tensor_free(y);
}

Test(transpose, rejects_negative_or_too_large_perm_entries)
{
    struct tensor *x = mk_f32(2, I64(2, 3), NULL);
    struct attr neg[] = {{.name = "perm", .type = ATTR_INTS, INTS(-1, 0)}};
    struct attr big[] = {{.name = "perm", .type = ATTR_INTS, INTS(0, 9)}};
    struct node nd = {.name = "tr", .op_type = "Transpose", .n_attrs = 1, .attrs = neg};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_transpose, &nd, 13, ins, 1, &y, &err), -1);
    tu_expect_error(&err, "perm[0] = -1", NULL);
    nd.attrs = big;
    cr_expect_eq(run_op(&op_transpose, &nd, 13, ins, 1, &y, &err), -1);
    tu_expect_error(&err, "perm[1] = 9", NULL);
    tensor_free(x);
}

/* ---- Concat ---- */

Test(concat, joins_along_axis_1)
{
    struct tensor *a = mk_f32(2, I64(2, 2), F32(1, 2, 3, 4));
    struct tensor *b = mk_f32(2, I64(2, 1), F32(5, 6));
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = 1}};
    struct node nd = {.name = "cat", .op_type = "Concat", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {a, b};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_concat, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 3));
    tu_expect_floats(y, F32(1, 2, 5, 3, 4, 6), 6, 0);
    tensor_free(a), tensor_free(b), tensor_free(y);
}

Test(concat, accepts_a_negative_axis_and_three_int64_inputs)
{
    struct tensor *a = mk_i64(2, I64(1, 2), I64(1, 2));
    struct tensor *b = mk_i64(2, I64(2, 2), I64(3, 4, 5, 6));
    struct tensor *c = mk_i64(2, I64(1, 2), I64(7, 8));
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = -2}};
    struct node nd = {.name = "cat", .op_type = "Concat", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {a, b, c};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_concat, &nd, 13, ins, 3, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(4, 2));
    tu_expect_ints(y, I64(1, 2, 3, 4, 5, 6, 7, 8), 8);
    tensor_free(a), tensor_free(b), tensor_free(c), tensor_free(y);
}

Test(concat, skips_inputs_that_are_empty_on_the_axis)
{
    struct tensor *a = mk_f32(2, I64(2, 0), NULL);
    struct tensor *b = mk_f32(2, I64(2, 2), F32(1, 2, 3, 4));
    struct tensor *c = mk_f32(2, I64(2, 0), NULL);
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = 1}};
    struct node nd = {.name = "cat", .op_type = "Concat", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {a, b, c};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_concat, &nd, 13, ins, 3, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 2));
    tu_expect_floats(y, F32(1, 2, 3, 4), 4, 0);
    tensor_free(a), tensor_free(b), tensor_free(c), tensor_free(y);
}

Test(concat, gives_an_empty_result_when_a_shared_dim_is_zero)
{
    struct tensor *a = mk_f32(2, I64(0, 2), NULL);
    struct tensor *b = mk_f32(2, I64(0, 3), NULL);
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = 1}};
    struct node nd = {.name = "cat", .op_type = "Concat", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {a, b};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_concat, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(0, 5));
    tensor_free(a), tensor_free(b), tensor_free(y);
}

Test(concat, rejects_dims_that_differ_off_the_axis_naming_both_shapes)
{
    struct tensor *a = mk_f32(2, I64(2, 2), NULL);
    struct tensor *b = mk_f32(2, I64(3, 2), NULL);
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = 1}};
    struct node nd = {.name = "cat5", .op_type = "Concat", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {a, b};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_concat, &nd, 13, ins, 2, &y, &err), -1);
    tu_expect_error(&err, "cat5", "[3,2]");
    tu_expect_error(&err, "[2,2]", "dim 0");
    tensor_free(a), tensor_free(b), tensor_free(y);
}

Test(concat, rejects_a_missing_axis_from_opset_4)
{
    struct tensor *a = mk_f32(1, I64(2), NULL);
    struct node nd = {.name = "cat", .op_type = "Concat"};
    const struct tensor *ins[] = {a, a};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_concat, &nd, 13, ins, 2, &y, &err), -1);
    tu_expect_error(&err, "axis attribute is required", NULL);
    tensor_free(a), tensor_free(y);
}

Test(concat, rejects_axis_out_of_range_rank_and_type_mismatches)
{
    struct tensor *a = mk_f32(2, I64(2, 2), NULL);
    struct tensor *b = mk_f32(1, I64(2), NULL);
    struct tensor *c = mk_i64(2, I64(2, 2), NULL);
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = -3}};
    struct node nd = {.name = "cat", .op_type = "Concat", .n_attrs = 1, .attrs = at};
    struct tensor *y;
    struct err err;
    const struct tensor *same[] = {a, a};
    cr_expect_eq(run_op(&op_concat, &nd, 13, same, 2, &y, &err), -1);
    tu_expect_error(&err, "axis -3", "rank 2");
    at[0].i = 0;
    const struct tensor *ranks[] = {a, b};
    cr_expect_eq(run_op(&op_concat, &nd, 13, ranks, 2, &y, &err), -1);
    tu_expect_error(&err, "rank 1", "[2]");
    const struct tensor *types[] = {a, c};
    cr_expect_eq(run_op(&op_concat, &nd, 13, types, 2, &y, &err), -1);
    tu_expect_error(&err, "int64", "float");
    tensor_free(a), tensor_free(b), tensor_free(c);
}

/* ---- Pad ---- */

Test(pad, opset2_reads_pads_and_value_attributes)
{
    /* pads [top, left, bottom, right] = [1, 0, 0, 1]. */
    struct tensor *x = mk_f32(2, I64(2, 2), F32(1, 2, 3, 4));
    struct attr at[] = {{.name = "pads", .type = ATTR_INTS, INTS(1, 0, 0, 1)},
                        {.name = "value", .type = ATTR_FLOAT, .f = 9}};
    struct node nd = {.name = "pad", .op_type = "Pad", .n_attrs = 2, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_pad, &nd, 2, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(3, 3));
    tu_expect_floats(y, F32(9, 9, 9, 1, 2, 9, 3, 4, 9), 9, 0);
    tensor_free(x), tensor_free(y);
}

Test(pad, opset11_reads_pads_and_constant_value_inputs)
{
    struct tensor *x = mk_f32(1, I64(2), F32(1, 2));
    struct tensor *pads = mk_i64(1, I64(2), I64(2, 1));
    struct tensor *v = mk_f32(0, NULL, F32(-1));
    struct node nd = {.name = "pad", .op_type = "Pad"};
    const struct tensor *ins[] = {x, pads, v};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_pad, &nd, 11, ins, 3, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 1, I64(5));
    tu_expect_floats(y, F32(-1, -1, 1, 2, -1), 5, 0);
    tensor_free(x), tensor_free(pads), tensor_free(v), tensor_free(y);
}

Test(pad, opset13_int64_data_defaults_the_value_to_zero)
{
    struct tensor *x = mk_i64(2, I64(1, 2), I64(5, 6));
    struct tensor *pads = mk_i64(1, I64(4), I64(0, 1, 1, 0));
    struct node nd = {.name = "pad", .op_type = "Pad"};
    const struct tensor *ins[] = {x, pads};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_pad, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 3));
    tu_expect_ints(y, I64(0, 5, 6, 0, 0, 0), 6);
    tensor_free(x), tensor_free(pads), tensor_free(y);
}

Test(pad, negative_pads_crop)
{
    /* x is 3x4 = [[0..3],[4..7],[8..11]]; pads (begin r,c; end r,c) = (-1, 1; 0, -2): drop
     * row 0, add one column of fill in front, drop the last two columns. */
    struct tensor *x = mk_f32(2, I64(3, 4), F32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
    struct tensor *pads = mk_i64(1, I64(4), I64(-1, 1, 0, -2));
    struct tensor *v = mk_f32(1, I64(1), F32(-5));
    struct node nd = {.name = "pad", .op_type = "Pad"};
    const struct tensor *ins[] = {x, pads, v};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_pad, &nd, 13, ins, 3, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 3));
    tu_expect_floats(y, F32(-5, 4, 5, -5, 8, 9), 6, 0);
    tensor_free(x), tensor_free(pads), tensor_free(v), tensor_free(y);
}

Test(pad, opset18_axes_input_picks_the_padded_axes_and_may_be_negative)
{
    struct tensor *x = mk_f32(3, I64(1, 2, 2), F32(1, 2, 3, 4));
    struct tensor *pads = mk_i64(1, I64(2), I64(1, 2));
    struct tensor *v = mk_f32(0, NULL, F32(7));
    struct tensor *axes = mk_i64(1, I64(1), I64(-1));
    struct node nd = {.name = "pad", .op_type = "Pad"};
    const struct tensor *ins[] = {x, pads, v, axes};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_pad, &nd, 18, ins, 4, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 3, I64(1, 2, 5));
    tu_expect_floats(y, F32(7, 1, 2, 7, 7, 7, 3, 4, 7, 7), 10, 0);
    tensor_free(x), tensor_free(pads), tensor_free(v), tensor_free(axes), tensor_free(y);
}

/* [1 2 3] padded by 2 in front and 3 behind, worked out by hand: edge repeats the border,
 * reflect mirrors around it without repeating it, wrap starts again from the other end. */
Test(pad, edge_reflect_and_wrap_modes_fill_from_the_input)
{
    struct tensor *x = mk_f32(1, I64(3), F32(1, 2, 3));
    struct tensor *pads = mk_i64(1, I64(2), I64(2, 3));
    const struct tensor *ins[] = {x, pads};
    struct {
        const char *mode;
        float want[8];
    } cases[] = {
        {"edge", {1, 1, 1, 2, 3, 3, 3, 3}},
        {"reflect", {3, 2, 1, 2, 3, 2, 1, 2}},
        {"wrap", {2, 3, 1, 2, 3, 1, 2, 3}},
    };
    for (size_t k = 0; k < 3; k++) {
        struct attr at[] = {{.name = "mode", .type = ATTR_STRING, .s = (char *)cases[k].mode}};
        struct node nd = {.name = "pad", .op_type = "Pad", .n_attrs = 1, .attrs = at};
        struct tensor *y;
        struct err err;
        cr_assert_eq(run_op(&op_pad, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
        tu_expect_shape(y, 1, I64(8));
        for (int i = 0; i < 8; i++)
            cr_expect_float_eq(tensor_f32(y)[i], cases[k].want[i], 0, "%s [%d]", cases[k].mode, i);
        tensor_free(y);
    }
    /* Two axes: edge on a 2x2 input padded by one on every side. */
    struct tensor *x2 = mk_f32(2, I64(2, 2), F32(1, 2, 3, 4));
    struct tensor *p2 = mk_i64(1, I64(4), I64(1, 1, 1, 1));
    const struct tensor *ins2[] = {x2, p2};
    struct attr at2[] = {{.name = "mode", .type = ATTR_STRING, .s = "edge"}};
    struct node nd2 = {.name = "pad", .op_type = "Pad", .n_attrs = 1, .attrs = at2};
    struct tensor *y2;
    struct err err;
    cr_assert_eq(run_op(&op_pad, &nd2, 13, ins2, 2, &y2, &err), 0, "%s", err.msg);
    const float want2[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    for (int i = 0; i < 16; i++)
        cr_expect_float_eq(tensor_f32(y2)[i], want2[i], 0, "[%d]", i);
    tensor_free(y2);
    at2[0].s = "mirror";
    cr_expect_eq(run_op(&op_pad, &nd2, 13, ins2, 2, &y2, &err), -1);
    cr_expect_eq(err.code, ERR_FAILED);
    tu_expect_error(&err, "unknown mode 'mirror'", NULL);
    tensor_free(x), tensor_free(pads), tensor_free(x2), tensor_free(p2);
}

Test(pad, rejects_pads_of_the_wrong_length_naming_the_shape)
{
    struct tensor *x = mk_f32(2, I64(2, 3), NULL);
    struct tensor *pads = mk_i64(1, I64(2), I64(1, 1));
    struct node nd = {.name = "pad4", .op_type = "Pad"};
    const struct tensor *ins[] = {x, pads};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_pad, &nd, 13, ins, 2, &y, &err), -1);
    tu_expect_error(&err, "pad4", "pads has 2 entries, expected 4");
    tu_expect_error(&err, "[2,3]", NULL);
    tensor_free(x), tensor_free(pads), tensor_free(y);
}

Test(pad, rejects_crops_past_zero)
{
    struct tensor *x = mk_f32(1, I64(3), NULL);
    struct tensor *pads = mk_i64(1, I64(2), I64(-2, -2));
    struct node nd = {.name = "pad", .op_type = "Pad"};
    const struct tensor *ins[] = {x, pads};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_pad, &nd, 13, ins, 2, &y, &err), -1);
    tu_expect_error(&err, "negative size -1", "[3]");
    tensor_free(x), tensor_free(pads), tensor_free(y);
}

Test(pad, rejects_pads_unknown_at_planning_time)
{
    struct tensor x = {.dtype = DTYPE_FLOAT, .shape = {.ndim = 1, .dims = {3}}};
    struct tensor pads = {.dtype = DTYPE_INT64, .shape = {.ndim = 1, .dims = {2}}};
    struct node nd = {.name = "pad", .op_type = "Pad"};
    const struct tensor *ins[] = {&x, &pads};
    struct err err;
    cr_expect_eq(shape_only(&op_pad, &nd, 13, ins, 2, NULL, &err), -1);
    tu_expect_error(&err, "input 1 must be known", NULL);
}

Test(pad, rejects_repeated_axes_and_a_non_scalar_value)
{
    struct tensor *x = mk_f32(2, I64(2, 3), NULL);
    struct tensor *pads = mk_i64(1, I64(4), I64(1, 1, 1, 1));
    struct tensor *axes = mk_i64(1, I64(2), I64(1, -1));
    struct tensor *v2 = mk_f32(1, I64(2), NULL);
    struct node nd = {.name = "pad", .op_type = "Pad"};
    struct tensor *y;
    struct err err;
    const struct tensor *dup[] = {x, pads, NULL, axes};
    cr_expect_eq(run_op(&op_pad, &nd, 18, dup, 4, &y, &err), -1);
    tu_expect_error(&err, "axis 1 twice", NULL);
    const struct tensor *vec[] = {x, pads, v2};
    cr_expect_eq(run_op(&op_pad, &nd, 13, vec, 3, &y, &err), -1);
    tu_expect_error(&err, "constant_value must be a scalar", "[2]");
    tensor_free(x), tensor_free(pads), tensor_free(axes), tensor_free(v2);
}

/* ---- ReduceMean ---- */

Test(reducemean, averages_listed_axes_and_keeps_them_as_ones)
{
    struct tensor *x = mk_f32(2, I64(2, 3), F32(1, 2, 3, 4, 5, 9));
    struct attr at[] = {{.name = "axes", .type = ATTR_INTS, INTS(1)}};
    struct node nd = {.name = "rm", .op_type = "ReduceMean", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_reducemean, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 1));
    tu_expect_floats(y, F32(2, 6), 2, 1e-6f);
    tensor_free(x), tensor_free(y);
}

Test(reducemean, drops_reduced_dims_when_keepdims_is_0)
{
    struct tensor *x = mk_f32(2, I64(2, 3), F32(1, 2, 3, 4, 5, 9));
    struct attr at[] = {{.name = "axes", .type = ATTR_INTS, INTS(-2)},
                        {.name = "keepdims", .type = ATTR_INT, .i = 0}};
    struct node nd = {.name = "rm", .op_type = "ReduceMean", .n_attrs = 2, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_reducemean, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 1, I64(3));
    tu_expect_floats(y, F32(2.5f, 3.5f, 6), 3, 1e-6f);
    tensor_free(x), tensor_free(y);
}

Test(reducemean, reduces_every_axis_when_axes_are_absent)
{
    struct tensor *x = mk_f32(2, I64(2, 3), F32(1, 2, 3, 4, 5, 9));
    struct node nd = {.name = "rm", .op_type = "ReduceMean"};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_reducemean, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(1, 1));
    tu_expect_floats(y, F32(4), 1, 1e-6f);
    tensor_free(x), tensor_free(y);
}

Test(reducemean, outer_and_inner_axes_match_a_naive_loop)
{
    /* x[i][j][k] = i*100 + j*10 + k over [2,3,4]; mean over i and k for each j. */
    float vals[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                vals[(i * 3 + j) * 4 + k] = (float)(i * 100 + j * 10 + k);
    float want[3];
    for (int j = 0; j < 3; j++) {
        double s = 0;
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 4; k++)
                s += vals[(i * 3 + j) * 4 + k];
        want[j] = (float)(s / 8);
    }
    struct tensor *x = mk_f32(3, I64(2, 3, 4), vals);
    struct attr at[] = {{.name = "axes", .type = ATTR_INTS, INTS(2, 0)}};
    struct node nd = {.name = "rm", .op_type = "ReduceMean", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_reducemean, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 3, I64(1, 3, 1));
    tu_expect_floats(y, want, 3, 1e-5f);
    tensor_free(x), tensor_free(y);
}

Test(reducemean, opset18_reads_axes_from_input_1)
{
    struct tensor *x = mk_f32(2, I64(2, 3), F32(1, 2, 3, 4, 5, 9));
    struct tensor *axes = mk_i64(1, I64(1), I64(-1));
    struct attr at[] = {{.name = "keepdims", .type = ATTR_INT, .i = 0}};
    struct node nd = {.name = "rm", .op_type = "ReduceMean", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x, axes};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_reducemean, &nd, 18, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 1, I64(2));
    tu_expect_floats(y, F32(2, 6), 2, 1e-6f);
    tensor_free(x), tensor_free(axes), tensor_free(y);
}

Test(reducemean, opset18_empty_axes_reduce_everything_unless_noop_is_set)
{
    struct tensor *x = mk_f32(1, I64(4), F32(1, 2, 3, 6));
    struct tensor *axes = mk_i64(1, I64(0), NULL);
    struct attr at[] = {{.name = "noop_with_empty_axes", .type = ATTR_INT, .i = 0}};
    struct node nd = {.name = "rm", .op_type = "ReduceMean", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x, axes};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_reducemean, &nd, 18, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 1, I64(1));
    tu_expect_floats(y, F32(3), 1, 1e-6f);
    tensor_free(y);
    at[0].i = 1;
    cr_assert_eq(run_op(&op_reducemean, &nd, 18, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 1, I64(4));
    tu_expect_floats(y, F32(1, 2, 3, 6), 4, 0);
    tensor_free(x), tensor_free(axes), tensor_free(y);
}

Test(reducemean, rejects_repeated_and_out_of_range_axes_naming_the_shape)
{
    struct tensor *x = mk_f32(2, I64(2, 3), NULL);
    struct attr at[] = {{.name = "axes", .type = ATTR_INTS, INTS(1, -1)}};
    struct node nd = {.name = "rm2", .op_type = "ReduceMean", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_reducemean, &nd, 13, ins, 1, &y, &err), -1);
    tu_expect_error(&err, "rm2", "axis 1 twice");
    at[0].ints[1] = 2;
    cr_expect_eq(run_op(&op_reducemean, &nd, 13, ins, 1, &y, &err), -1);
    tu_expect_error(&err, "axes[1] = 2", "[2,3]");
    tensor_free(x);
}

Test(reducemean, rejects_int64_data_and_axes_unknown_at_planning_time)
{
    struct tensor *xi = mk_i64(1, I64(2), I64(1, 2));
    struct node nd = {.name = "rm", .op_type = "ReduceMean"};
    struct tensor *y;
    struct err err;
    const struct tensor *ints[] = {xi};
    cr_expect_eq(run_op(&op_reducemean, &nd, 13, ints, 1, &y, &err), -1);
    tu_expect_error(&err, "int64", "float32");
    struct tensor x = {.dtype = DTYPE_FLOAT, .shape = {.ndim = 1, .dims = {3}}};
    struct tensor axes = {.dtype = DTYPE_INT64, .shape = {.ndim = 1, .dims = {1}}};
    const struct tensor *unknown[] = {&x, &axes};
    cr_expect_eq(shape_only(&op_reducemean, &nd, 18, unknown, 2, NULL, &err), -1);
    tu_expect_error(&err, "input 1 must be known", NULL);
    tensor_free(xi);
}

/* ---- int32 and bool elements ---- */

#define I32(...) ((const int32_t[]){__VA_ARGS__})
#define B8(...)  ((const uint8_t[]){__VA_ARGS__})

static struct tensor *mk_i32(int ndim, const int64_t *dims, const int32_t *vals)
{
    return tu_tensor(DTYPE_INT32, ndim, dims, vals);
}

static struct tensor *mk_bool(int ndim, const int64_t *dims, const uint8_t *vals)
{
    return tu_tensor(DTYPE_BOOL, ndim, dims, vals);
}

Test(constantofshape, fills_each_one_byte_bool_element_with_the_value)
{
    /* 64 elements: a float fill would write 256 bytes into this 64-byte buffer. */
    struct tensor *dims = mk_i64(1, I64(2), I64(8, 8));
    struct tensor *one = mk_bool(1, I64(1), B8(1));
    struct attr at[] = {{.name = "value", .type = ATTR_TENSOR, .t = one}};
    struct node nd = {.name = "cos", .op_type = "ConstantOfShape", ATTRS(at)};
    const struct tensor *ins[] = {dims};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_constantofshape, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(8, 8));
    uint8_t want[64];
    memset(want, 1, sizeof want);
    tu_expect_bools(y, want, 64);
    tensor_free(y);
    tensor_bool(one)[0] = 0;
    cr_assert_eq(run_op(&op_constantofshape, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    memset(want, 0, sizeof want);
    tu_expect_bools(y, want, 64);
    tensor_free(dims), tensor_free(one), tensor_free(y);
}

Test(constantofshape, fills_each_int32_element_with_the_value)
{
    struct tensor *dims = mk_i64(1, I64(2), I64(2, 3));
    struct tensor *v = mk_i32(1, I64(1), I32(-70000));
    struct attr at[] = {{.name = "value", .type = ATTR_TENSOR, .t = v}};
    struct node nd = {.name = "cos", .op_type = "ConstantOfShape", ATTRS(at)};
    const struct tensor *ins[] = {dims};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_constantofshape, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 3));
    tu_expect_i32(y, I32(-70000, -70000, -70000, -70000, -70000, -70000), 6);
    tensor_free(dims), tensor_free(v), tensor_free(y);
}

Test(constantofshape, fills_int64_values_and_defaults_to_float_zero)
{
    struct tensor *dims = mk_i64(1, I64(1), I64(3));
    struct tensor *v = mk_i64(1, I64(1), I64(INT64_C(1) << 40));
    struct attr at[] = {{.name = "value", .type = ATTR_TENSOR, .t = v}};
    struct node nd = {.name = "cos", .op_type = "ConstantOfShape", ATTRS(at)};
    const struct tensor *ins[] = {dims};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_constantofshape, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    int64_t big = INT64_C(1) << 40;
    tu_expect_ints(y, I64(big, big, big), 3);
    tensor_free(y);
    struct node bare = {.name = "cos0", .op_type = "ConstantOfShape"};
    cr_assert_eq(run_op(&op_constantofshape, &bare, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    cr_expect_eq(y->dtype, DTYPE_FLOAT);
    tu_expect_floats(y, F32(0, 0, 0), 3, 0);
    tensor_free(dims), tensor_free(v), tensor_free(y);
}

Test(constantofshape, refuses_a_value_of_an_element_type_it_does_not_know)
{
    struct tensor *dims = mk_i64(1, I64(1), I64(3));
    struct tensor *v = tu_tensor(DTYPE_UNDEFINED, 1, I64(1), NULL);
    struct attr at[] = {{.name = "value", .type = ATTR_TENSOR, .t = v}};
    struct node nd = {.name = "cos", .op_type = "ConstantOfShape", ATTRS(at)};
    const struct tensor *ins[] = {dims};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_constantofshape, &nd, 13, ins, 1, &y, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "cos", "element type undefined");
    tensor_free(dims), tensor_free(v);
}

Test(constant, copies_bool_and_int32_value_tensors_element_by_element)
{
    struct tensor *mask = mk_bool(2, I64(2, 2), B8(1, 0, 0, 1));
    struct tensor *ints = mk_i32(1, I64(3), I32(-1, 0, 70000));
    struct attr at[] = {{.name = "value", .type = ATTR_TENSOR, .t = mask}};
    struct node nd = {.name = "c", .op_type = "Constant", ATTRS(at)};
    const struct tensor *none[1] = {NULL};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_constant, &nd, 13, none, 0, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 2));
    tu_expect_bools(y, B8(1, 0, 0, 1), 4);
    tensor_free(y);
    at[0].t = ints;
    cr_assert_eq(run_op(&op_constant, &nd, 13, none, 0, &y, &err), 0, "%s", err.msg);
    tu_expect_i32(y, I32(-1, 0, 70000), 3);
    tensor_free(mask), tensor_free(ints), tensor_free(y);
}

Test(constant, value_int_and_value_floats_keep_their_own_types)
{
    struct attr at[] = {{.name = "value_int", .type = ATTR_INT, .i = -3}};
    struct node nd = {.name = "c", .op_type = "Constant", ATTRS(at)};
    const struct tensor *none[1] = {NULL};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_constant, &nd, 13, none, 0, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 0, NULL);
    tu_expect_ints(y, I64(-3), 1);
    tensor_free(y);
    struct attr fl[] = {
        {.name = "value_floats", .type = ATTR_FLOATS, .floats = (float[]){0.5f, -2}, .n = 2}};
    struct node nf = {.name = "c", .op_type = "Constant", ATTRS(fl)};
    cr_assert_eq(run_op(&op_constant, &nf, 13, none, 0, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(0.5f, -2), 2, 0);
    tensor_free(y);
}

Test(constant, refuses_a_string_value_as_unsupported)
{
    struct attr at[] = {{.name = "value_string", .type = ATTR_STRING, .s = "hi"}};
    struct node nd = {.name = "c", .op_type = "Constant", ATTRS(at)};
    const struct tensor *none[1] = {NULL};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_constant, &nd, 13, none, 0, &y, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "string", "not supported");
}

Test(dropout, refuses_a_training_mode_known_only_when_running)
{
    struct tensor x = {.dtype = DTYPE_FLOAT, .shape = {.ndim = 1, .dims = {4}}};
    struct tensor mode = {.dtype = DTYPE_BOOL, .shape = {.ndim = 0}};
    struct node nd = {.name = "drop", .op_type = "Dropout"};
    const struct tensor *ins[] = {&x, NULL, &mode};
    struct err err;
    cr_expect_eq(shape_only(&op_dropout, &nd, 13, ins, 3, NULL, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "drop", "a training_mode known only when running is not supported");
}

Test(dropout, refuses_a_true_training_mode_as_bool_or_int64)
{
    struct tensor *x = mk_f32(1, I64(4), F32(1, 2, 3, 4));
    struct tensor *on = mk_bool(0, NULL, B8(1));
    struct tensor *on64 = mk_i64(0, NULL, I64(2));
    struct node nd = {.name = "drop", .op_type = "Dropout"};
    struct tensor *y;
    struct err err;
    const struct tensor *b[] = {x, NULL, on};
    cr_expect_eq(run_op(&op_dropout, &nd, 13, b, 3, &y, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "training mode is not supported", NULL);
    const struct tensor *i[] = {x, NULL, on64};
    cr_expect_eq(run_op(&op_dropout, &nd, 13, i, 3, &y, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "training mode is not supported", NULL);
    tensor_free(x), tensor_free(on), tensor_free(on64);
}

Test(dropout, passes_data_through_when_training_mode_is_false)
{
    struct tensor *x = mk_f32(2, I64(2, 2), F32(1, -2, 3, -4));
    struct tensor *ratio = mk_f32(0, NULL, F32(0.5f));
    struct tensor *off = mk_bool(0, NULL, B8(0));
    struct node nd = {.name = "drop", .op_type = "Dropout"};
    const struct tensor *ins[] = {x, ratio, off};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_dropout, &nd, 13, ins, 3, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 2));
    tu_expect_floats(y, F32(1, -2, 3, -4), 4, 0);
    tensor_free(x), tensor_free(ratio), tensor_free(off), tensor_free(y);
}

Test(dropout, rejects_a_float_training_mode_as_invalid)
{
    struct tensor *x = mk_f32(1, I64(2), NULL);
    struct tensor *mode = mk_f32(0, NULL, F32(0));
    struct node nd = {.name = "drop", .op_type = "Dropout"};
    const struct tensor *ins[] = {x, NULL, mode};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_dropout, &nd, 13, ins, 3, &y, &err), -1);
    cr_expect_eq(err.code, ERR_FAILED);
    tu_expect_error(&err, "training_mode (input 2) must be a bool", "float32");
    tensor_free(x), tensor_free(mode);
}

Test(gather, takes_rows_by_int32_indices_counting_negative_ones_from_the_end)
{
    struct tensor *d = mk_f32(2, I64(3, 2), F32(1, 2, 3, 4, 5, 6));
    struct tensor *ix = mk_i32(1, I64(3), I32(2, -3, 1));
    struct node nd = {.name = "g", .op_type = "Gather"};
    const struct tensor *ins[] = {d, ix};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_gather, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(3, 2));
    tu_expect_floats(y, F32(5, 6, 1, 2, 3, 4), 6, 0);
    tensor_free(d), tensor_free(ix), tensor_free(y);
}

Test(gather, moves_int32_and_bool_data_along_axis_1)
{
    struct tensor *d = mk_i32(2, I64(2, 3), I32(1, 2, 3, 4, 5, 6));
    struct tensor *m = mk_bool(2, I64(2, 3), B8(1, 0, 0, 0, 1, 1));
    struct tensor *ix = mk_i32(1, I64(2), I32(2, 0));
    struct attr at[] = {A_INT("axis", 1)};
    struct node nd = {.name = "g", .op_type = "Gather", ATTRS(at)};
    struct tensor *y;
    struct err err;
    const struct tensor *ints[] = {d, ix};
    cr_assert_eq(run_op(&op_gather, &nd, 13, ints, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 2));
    tu_expect_i32(y, I32(3, 1, 6, 4), 4);
    tensor_free(y);
    const struct tensor *bools[] = {m, ix};
    cr_assert_eq(run_op(&op_gather, &nd, 13, bools, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_bools(y, B8(0, 1, 1, 0), 4);
    tensor_free(d), tensor_free(m), tensor_free(ix), tensor_free(y);
}

Test(gather, rejects_an_int32_index_out_of_range_and_float_indices)
{
    struct tensor *d = mk_f32(1, I64(3), F32(1, 2, 3));
    struct tensor *ix = mk_i32(1, I64(1), I32(-4));
    struct tensor *fx = mk_f32(1, I64(1), F32(0));
    struct node nd = {.name = "g", .op_type = "Gather"};
    struct tensor *y;
    struct err err;
    const struct tensor *ins[] = {d, ix};
    cr_expect_eq(run_op(&op_gather, &nd, 13, ins, 2, &y, &err), -1);
    tu_expect_error(&err, "index -4 is out of range", NULL);
    tensor_free(y);
    const struct tensor *fl[] = {d, fx};
    cr_expect_eq(run_op(&op_gather, &nd, 13, fl, 2, &y, &err), -1);
    tu_expect_error(&err, "indices (input 1) must be int64 or int32", "float32");
    tensor_free(d), tensor_free(ix), tensor_free(fx);
}

Test(reshape, keeps_bool_and_int32_elements_in_order)
{
    struct tensor *m = mk_bool(2, I64(2, 3), B8(1, 0, 1, 1, 0, 0));
    struct tensor *v = mk_i32(1, I64(6), I32(-1, 2, -3, 4, -5, 6));
    struct tensor *target = mk_i64(1, I64(2), I64(3, -1));
    struct node nd = {.name = "rs", .op_type = "Reshape"};
    struct tensor *y;
    struct err err;
    const struct tensor *b[] = {m, target};
    cr_assert_eq(run_op(&op_reshape, &nd, 13, b, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(3, 2));
    tu_expect_bools(y, B8(1, 0, 1, 1, 0, 0), 6);
    tensor_free(y);
    const struct tensor *i[] = {v, target};
    cr_assert_eq(run_op(&op_reshape, &nd, 13, i, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(3, 2));
    tu_expect_i32(y, I32(-1, 2, -3, 4, -5, 6), 6);
    tensor_free(m), tensor_free(v), tensor_free(target), tensor_free(y);
}

Test(reshape, reads_an_int32_target_shape)
{
    /* ONNX says int64; an int32 list is widened rather than refused. */
    struct tensor *v = mk_i32(1, I64(4), I32(1, 2, 3, 4));
    struct tensor *target = mk_i32(1, I64(2), I32(2, 2));
    struct node nd = {.name = "rs", .op_type = "Reshape"};
    const struct tensor *ins[] = {v, target};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_reshape, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 2));
    tu_expect_i32(y, I32(1, 2, 3, 4), 4);
    tensor_free(v), tensor_free(target), tensor_free(y);
}

Test(reshape, flatten_squeeze_unsqueeze_and_identity_move_bool_and_int32_data)
{
    struct tensor *m = mk_bool(3, I64(1, 2, 2), B8(0, 1, 1, 0));
    struct tensor *v = mk_i32(3, I64(1, 2, 2), I32(7, -8, 9, -10));
    struct tensor *axes = mk_i32(1, I64(1), I32(0));
    struct tensor *y;
    struct err err;
    struct node fl = {.name = "fl", .op_type = "Flatten"};
    const struct tensor *mb[] = {m, axes};
    cr_assert_eq(run_op(&op_flatten, &fl, 13, mb, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(1, 4));
    tu_expect_bools(y, B8(0, 1, 1, 0), 4);
    tensor_free(y);
    struct node sq = {.name = "sq", .op_type = "Squeeze"};
    cr_assert_eq(run_op(&op_squeeze, &sq, 13, mb, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 2));
    tu_expect_bools(y, B8(0, 1, 1, 0), 4);
    tensor_free(y);
    struct node un = {.name = "un", .op_type = "Unsqueeze"};
    const struct tensor *vb[] = {v, axes};
    cr_assert_eq(run_op(&op_unsqueeze, &un, 13, vb, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 4, I64(1, 1, 2, 2));
    tu_expect_i32(y, I32(7, -8, 9, -10), 4);
    tensor_free(y);
    struct node id = {.name = "id", .op_type = "Identity"};
    cr_assert_eq(run_op(&op_identity, &id, 13, vb, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 3, I64(1, 2, 2));
    tu_expect_i32(y, I32(7, -8, 9, -10), 4);
    tensor_free(m), tensor_free(v), tensor_free(axes), tensor_free(y);
}

Test(concat, joins_bool_and_int32_tensors_along_axis_1)
{
    struct tensor *a = mk_bool(2, I64(2, 1), B8(1, 0));
    struct tensor *b = mk_bool(2, I64(2, 2), B8(0, 0, 1, 1));
    struct tensor *c = mk_i32(2, I64(2, 1), I32(-1, -2));
    struct tensor *d = mk_i32(2, I64(2, 2), I32(10, 20, 30, 40));
    struct attr at[] = {A_INT("axis", 1)};
    struct node nd = {.name = "cat", .op_type = "Concat", ATTRS(at)};
    struct tensor *y;
    struct err err;
    const struct tensor *bools[] = {a, b, a};
    cr_assert_eq(run_op(&op_concat, &nd, 13, bools, 3, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 4));
    tu_expect_bools(y, B8(1, 0, 0, 1, 0, 1, 1, 0), 8);
    tensor_free(y);
    const struct tensor *ints[] = {d, c};
    cr_assert_eq(run_op(&op_concat, &nd, 13, ints, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 3));
    tu_expect_i32(y, I32(10, 20, -1, 30, 40, -2), 6);
    tensor_free(y);
    const struct tensor *mixed[] = {a, c};
    cr_expect_eq(run_op(&op_concat, &nd, 13, mixed, 2, &y, &err), -1);
    tu_expect_error(&err, "int32", "bool");
    tensor_free(a), tensor_free(b), tensor_free(c), tensor_free(d);
}

Test(transpose, permutes_bool_and_int32_tensors)
{
    /* [2,3] -> [3,2] (the 2-D path) and [2,1,3] with perm (2,0,1) -> [3,2,1] (general). */
    struct tensor *m = mk_bool(2, I64(2, 3), B8(1, 1, 0, 0, 0, 1));
    struct tensor *v = mk_i32(3, I64(2, 1, 3), I32(1, 2, 3, 4, 5, 6));
    struct node nd = {.name = "tr", .op_type = "Transpose"};
    struct tensor *y;
    struct err err;
    const struct tensor *b[] = {m};
    cr_assert_eq(run_op(&op_transpose, &nd, 13, b, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(3, 2));
    tu_expect_bools(y, B8(1, 0, 1, 0, 0, 1), 6);
    tensor_free(y);
    struct attr at[] = {A_INTS("perm", 2, 0, 1)};
    struct node np = {.name = "tr", .op_type = "Transpose", ATTRS(at)};
    const struct tensor *i[] = {v};
    cr_assert_eq(run_op(&op_transpose, &np, 13, i, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 3, I64(3, 2, 1));
    tu_expect_i32(y, I32(1, 4, 2, 5, 3, 6), 6);
    tensor_free(m), tensor_free(v), tensor_free(y);
}

Test(transpose, nchw_to_nhwc_of_int32_matches_hand_written_values)
{
    /* [1,2,2,3] -> [1,2,3,2]: the batched [C, HW] -> [HW, C] path. */
    struct tensor *x = mk_i32(4, I64(1, 2, 2, 3), I32(0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15));
    struct attr at[] = {A_INTS("perm", 0, 2, 3, 1)};
    struct node nd = {.name = "tr", .op_type = "Transpose", ATTRS(at)};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_transpose, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 4, I64(1, 2, 3, 2));
    tu_expect_i32(y, I32(0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15), 12);
    tensor_free(x), tensor_free(y);
}

Test(pad, fills_bool_data_with_a_bool_constant_value)
{
    struct tensor *x = mk_bool(2, I64(2, 2), B8(0, 1, 1, 0));
    struct tensor *pads = mk_i64(1, I64(4), I64(0, 1, 1, 0));
    struct tensor *v = mk_bool(0, NULL, B8(1));
    struct node nd = {.name = "pad", .op_type = "Pad"};
    struct tensor *y;
    struct err err;
    const struct tensor *ins[] = {x, pads, v};
    cr_assert_eq(run_op(&op_pad, &nd, 13, ins, 3, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(3, 3));
    tu_expect_bools(y, B8(1, 0, 1, 1, 1, 0, 1, 1, 1), 9);
    tensor_free(y);
    const struct tensor *zero[] = {x, pads};
    cr_assert_eq(run_op(&op_pad, &nd, 13, zero, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_bools(y, B8(0, 0, 1, 0, 1, 0, 0, 0, 0), 9);
    tensor_free(x), tensor_free(pads), tensor_free(v), tensor_free(y);
}

Test(pad, crops_and_fills_int32_data_with_an_int32_constant_value)
{
    /* [2,3]: crop the first column, add a column at the end and a row on top. */
    struct tensor *x = mk_i32(2, I64(2, 3), I32(1, 2, 3, 4, 5, 6));
    struct tensor *pads = mk_i64(1, I64(4), I64(1, -1, 0, 1));
    struct tensor *v = mk_i32(0, NULL, I32(-9));
    struct node nd = {.name = "pad", .op_type = "Pad"};
    const struct tensor *ins[] = {x, pads, v};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_pad, &nd, 13, ins, 3, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(3, 3));
    tu_expect_i32(y, I32(-9, -9, -9, 2, 3, -9, 5, 6, -9), 9);
    tensor_free(x), tensor_free(pads), tensor_free(v), tensor_free(y);
}

Test(pad, opset18_reads_int32_axes_together_with_int32_pads)
{
    /* axes may be int32 from opset 18; both lists are widened and read in one call. */
    struct tensor *x = mk_i32(2, I64(2, 2), I32(1, 2, 3, 4));
    struct tensor *pads = mk_i32(1, I64(2), I32(1, 0));
    struct tensor *axes = mk_i32(1, I64(1), I32(-2));
    struct node nd = {.name = "pad", .op_type = "Pad"};
    const struct tensor *ins[] = {x, pads, NULL, axes};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_op(&op_pad, &nd, 18, ins, 4, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(3, 2));
    tu_expect_i32(y, I32(0, 0, 1, 2, 3, 4), 6);
    tensor_free(x), tensor_free(pads), tensor_free(axes), tensor_free(y);
}

Test(pad, rejects_a_constant_value_of_another_type_than_the_data)
{
    struct tensor *x = mk_bool(1, I64(2), B8(1, 1));
    struct tensor *pads = mk_i64(1, I64(2), I64(1, 1));
    struct tensor *v = mk_i32(0, NULL, I32(1));
    struct node nd = {.name = "pad", .op_type = "Pad"};
    const struct tensor *ins[] = {x, pads, v};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_pad, &nd, 13, ins, 3, &y, &err), -1);
    cr_expect_eq(err.code, ERR_FAILED);
    tu_expect_error(&err, "constant_value has element type int32", "the data has bool");
    tensor_free(x), tensor_free(pads), tensor_free(v);
}
