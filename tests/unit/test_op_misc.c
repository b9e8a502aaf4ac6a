/* Softmax, LogSoftmax, Transpose, Concat, Pad and ReduceMean checked one at a time against
 * values worked out by hand (or by a naive loop written here), plus their refusals. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"
#include "testutil.h"

extern const struct op_def op_softmax, op_logsoftmax, op_transpose, op_concat, op_pad,
    op_reducemean;

static struct tensor *mk(enum dtype t, int ndim, const int64_t *dims, const void *vals)
{
    struct err err;
    struct shape s = shape_make(ndim, dims);
    struct tensor *x = tensor_new(t, &s, &err);
    cr_assert_not_null(x, "%s", err.msg);
    if (vals && tensor_bytes(x))
        memcpy(x->data, vals, tensor_bytes(x));
    return x;
}

static struct tensor *mk_f32(int ndim, const int64_t *dims, const float *vals)
{
    return mk(DTYPE_FLOAT, ndim, dims, vals);
}

static struct tensor *mk_i64(int ndim, const int64_t *dims, const int64_t *vals)
{
    return mk(DTYPE_INT64, ndim, dims, vals);
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
    struct tensor *x = mk(t, ndim, dims, NULL);
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

Test(pad, refuses_reflect_mode_as_unsupported)
{
    struct tensor *x = mk_f32(1, I64(3), NULL);
    struct tensor *pads = mk_i64(1, I64(2), I64(1, 1));
    struct attr at[] = {{.name = "mode", .type = ATTR_STRING, .s = "reflect"}};
    struct node nd = {.name = "pad", .op_type = "Pad", .n_attrs = 1, .attrs = at};
    const struct tensor *ins[] = {x, pads};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_op(&op_pad, &nd, 13, ins, 2, &y, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "reflect", "not supported");
    at[0].s = "mirror";
    cr_expect_eq(run_op(&op_pad, &nd, 13, ins, 2, &y, &err), -1);
    cr_expect_eq(err.code, ERR_FAILED);
    tu_expect_error(&err, "unknown mode 'mirror'", NULL);
    tensor_free(x), tensor_free(pads);
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
