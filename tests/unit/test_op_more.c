/* The ops of op_math.c, op_index.c and op_space.c and the ReduceLogSum pair, one at a time,
 * against values worked out by hand in each test or computed here with libm, plus their
 * refusals (which name the node and the attribute or input at fault). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"
#include "kernels/ops.h"
#include "testutil.h"

extern const struct op_def op_sin, op_cos, op_tan, op_asin, op_acos, op_atan;
extern const struct op_def op_sinh, op_cosh, op_asinh, op_acosh, op_atanh;
extern const struct op_def op_sign, op_round, op_isnan, op_isinf, op_mod, op_shrink;
extern const struct op_def op_selu, op_celu, op_thresholdedrelu;
extern const struct op_def op_size, op_range, op_argmax, op_argmin, op_topk, op_gatherelements;
extern const struct op_def op_onehot, op_trilu, op_cumsum, op_nonzero;
extern const struct op_def op_depthtospace, op_spacetodepth, op_globalmaxpool, op_hardmax;
extern const struct op_def op_sum, op_mean, op_meanvariancenormalization, op_lrn;
extern const struct op_def op_reducelogsum, op_reducelogsumexp;

#define I32(...) ((const int32_t[]){__VA_ARGS__})
#define B8(...)  ((const uint8_t[]){__VA_ARGS__})

#define F(n, ...)     tu_tensor(DTYPE_FLOAT, 1, I64(n), F32(__VA_ARGS__))
#define L(n, ...)     tu_tensor(DTYPE_INT64, 1, I64(n), I64(__VA_ARGS__))
#define SF(v)         tu_tensor(DTYPE_FLOAT, 0, NULL, F32(v))
#define SL(v)         tu_tensor(DTYPE_INT64, 0, NULL, I64(v))
#define NODE(op)      (&(struct node){.name = "n", .op_type = op})
#define NODE_A(op, a) (&(struct node){.name = "n", .op_type = op, ATTRS(a)})

/* What the shape call sees of the inputs' values: as the planner sees graph inputs (float
 * data unknown, integer and bool data known), everything (constants), or nothing. */
enum seen { SEEN_INTS, SEEN_ALL, SEEN_NONE };

/* The engine's sequence: a shape call with the inputs as `seen`, allocation of the outputs,
 * then the run call. outs[k] are NULL when the shape call fails. */
static int run_seen(const struct op_def *op, const struct node *nd, int64_t opset,
                    struct tensor *const *ins, int n_in, struct tensor **outs, int n_out,
                    enum seen seen, struct err *err)
{
    struct tensor shown[8], planned[4] = {{0}};
    const struct tensor *shape_in[8];
    struct tensor *out_ptrs[4];
    cr_assert_leq(n_in, 8);
    cr_assert_leq(n_out, 4);
    for (int i = 0; i < n_in; i++) {
        shape_in[i] = NULL;
        if (!ins[i])
            continue;
        shown[i] = *ins[i];
        if (seen == SEEN_NONE || (seen == SEEN_INTS && shown[i].dtype == DTYPE_FLOAT))
            shown[i].data = NULL;
        shape_in[i] = &shown[i];
    }
    for (int k = 0; k < n_out; k++) {
        outs[k] = NULL;
        out_ptrs[k] = &planned[k];
    }
    struct op_io io = {
        .node = nd, .opset = opset, .n_in = n_in, .in = shape_in, .n_out = n_out, .out = out_ptrs};
    if (op->shape(&io, err) < 0)
        return -1;
    for (int k = 0; k < n_out; k++) {
        cr_assert_neq(planned[k].dtype, DTYPE_UNDEFINED, "shape call set no dtype for output %d",
                      k);
        outs[k] = tensor_new(planned[k].dtype, &planned[k].shape, err);
        cr_assert_not_null(outs[k], "%s", err->msg);
        out_ptrs[k] = outs[k];
    }
    io.in = (const struct tensor *const *)ins;
    return op->run(&io, err);
}

/* Runs op at opset 18 on ins (freed here) and returns its one output, asserting success. */
static struct tensor *run_ok(const struct op_def *op, const struct node *nd, int64_t opset,
                             enum seen seen, struct tensor *const *ins, int n_in)
{
    struct tensor *y;
    struct err err;
    int rc = run_seen(op, nd, opset, ins, n_in, &y, 1, seen, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    for (int i = 0; i < n_in; i++)
        tensor_free(ins[i]);
    return y;
}

#define N_ARGS(...) ((int)(sizeof((struct tensor *const[]){__VA_ARGS__}) / sizeof(struct tensor *)))
#define RUN(op, nd, ...)                                                                           \
    run_ok(&op, nd, 18, SEEN_INTS, (struct tensor *const[]){__VA_ARGS__}, N_ARGS(__VA_ARGS__))
#define RUN_AT(op, nd, opset, seen, ...)                                                           \
    run_ok(&op, nd, opset, seen, (struct tensor *const[]){__VA_ARGS__}, N_ARGS(__VA_ARGS__))

/* Runs op expecting a failure; returns the error (inputs freed). */
static struct err run_fails(const struct op_def *op, const struct node *nd, enum seen seen,
                            struct tensor *const *ins, int n_in)
{
    struct tensor *y[2];
    struct err err;
    cr_expect_lt(run_seen(op, nd, 18, ins, n_in, y, 1, seen, &err), 0,
                 "the op accepted what it should refuse");
    tensor_free(y[0]);
    for (int i = 0; i < n_in; i++)
        tensor_free(ins[i]);
    return err;
}
#define FAILS(op, nd, ...)                                                                         \
    run_fails(&op, nd, SEEN_INTS, (struct tensor *const[]){__VA_ARGS__}, N_ARGS(__VA_ARGS__))
#define FAILS_SEEN(op, nd, seen, ...)                                                              \
    run_fails(&op, nd, seen, (struct tensor *const[]){__VA_ARGS__}, N_ARGS(__VA_ARGS__))

static void expect_f(struct tensor *t, const float *want, size_t n, float tol)
{
    cr_expect_eq(t->dtype, DTYPE_FLOAT, "dtype %s, expected float32", dtype_name(t->dtype));
    tu_expect_floats(t, want, n, tol);
    tensor_free(t);
}

static void expect_l(struct tensor *t, const int64_t *want, size_t n)
{
    cr_expect_eq(t->dtype, DTYPE_INT64, "dtype %s, expected int64", dtype_name(t->dtype));
    tu_expect_ints(t, want, n);
    tensor_free(t);
}

static void expect_i32(struct tensor *t, const int32_t *want, size_t n)
{
    tu_expect_i32(t, want, n);
    tensor_free(t);
}

static void expect_bools(struct tensor *t, const uint8_t *want, size_t n)
{
    tu_expect_bools(t, want, n);
    tensor_free(t);
}

/* ---- op_math.c ---- */

Test(math, trigonometric_and_hyperbolic_functions_match_libm)
{
    const float v[] = {-0.75f, 0.0f, 0.5f, 0.9f};
    struct {
        const struct op_def *op;
        double (*f)(double);
        float shift; /* added to the inputs, to put them in the domain */
    } cases[] = {{&op_sin, sin, 0},     {&op_cos, cos, 0},    {&op_tan, tan, 0},
                 {&op_asin, asin, 0},   {&op_acos, acos, 0},  {&op_atan, atan, 0},
                 {&op_sinh, sinh, 0},   {&op_cosh, cosh, 0},  {&op_asinh, asinh, 0},
                 {&op_acosh, acosh, 2}, {&op_atanh, atanh, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float in[4], want[4];
        for (int i = 0; i < 4; i++) {
            in[i] = v[i] + cases[c].shift;
            want[i] = (float)cases[c].f(in[i]);
        }
        struct node nd = {.name = "n", .op_type = (char *)cases[c].op->name};
        struct tensor *y = RUN(*cases[c].op, &nd, F(4, in[0], in[1], in[2], in[3]));
        tu_expect_shape(y, 1, I64(4));
        expect_f(y, want, 4, 1e-6f);
    }
    /* Outside the domain: NaN, as libm gives it. */
    expect_f(RUN(op_asin, NODE("Asin"), F(1, 2)), F32(NAN), 1, 0);
}

Test(math, sign_gives_minus_one_zero_or_one_and_keeps_nan)
{
    expect_f(RUN(op_sign, NODE("Sign"), F(5, -3.5f, 0, 2, -0.0f, NAN)), F32(-1, 0, 1, 0, NAN), 5,
             0);
    expect_l(RUN(op_sign, NODE("Sign"), L(3, -7, 0, INT64_MAX)), I64(-1, 0, 1), 3);
    expect_i32(RUN(op_sign, NODE("Sign"), tu_tensor(DTYPE_INT32, 1, I64(2), I32(-2, 5))),
               I32(-1, 1), 2);
}

Test(math, round_sends_halves_to_the_even_neighbour)
{
    expect_f(RUN(op_round, NODE("Round"), F(8, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4f, -2.6f)),
             F32(0, 2, 2, 0, -2, -2, 2, -3), 8, 0);
}

Test(math, isnan_and_isinf_flag_elements_and_isinf_honours_its_directions)
{
    expect_bools(RUN(op_isnan, NODE("IsNaN"), F(4, 1, NAN, INFINITY, -NAN)), B8(0, 1, 0, 1), 4);
    expect_bools(RUN(op_isinf, NODE("IsInf"), F(4, 1, NAN, INFINITY, -INFINITY)), B8(0, 0, 1, 1),
                 4);
    struct attr pos_only[] = {A_INT("detect_negative", 0)};
    expect_bools(RUN(op_isinf, NODE_A("IsInf", pos_only), F(3, INFINITY, -INFINITY, 0)),
                 B8(1, 0, 0), 3);
    struct attr neg_only[] = {A_INT("detect_positive", 0)};
    expect_bools(RUN(op_isinf, NODE_A("IsInf", neg_only), F(3, INFINITY, -INFINITY, 0)),
                 B8(0, 1, 0), 3);
}

Test(math, selu_celu_and_thresholdedrelu_match_their_formulas)
{
    /* Selu defaults: gamma x above 0, gamma alpha (e^x - 1) below. */
    const double a = 1.67326319217681884765625, g = 1.05070102214813232421875;
    expect_f(RUN(op_selu, NODE("Selu"), F(3, -1, 0, 2)),
             F32((float)(g * a * (exp(-1.0) - 1)), 0, (float)(g * 2)), 3, 1e-6f);
    struct attr sa[] = {A_FLOAT("alpha", 2.0f), A_FLOAT("gamma", 3.0f)};
    /* 3 (2 e^-1 - 2) and 3 * 0.5. */
    expect_f(RUN(op_selu, NODE_A("Selu", sa), F(2, -1, 0.5f)),
             F32((float)(3 * (2 * exp(-1.0) - 2)), 1.5f), 2, 1e-6f);
    /* Celu alpha 2: x above 0, 2 (e^(x/2) - 1) below. */
    struct attr ca[] = {A_FLOAT("alpha", 2.0f)};
    expect_f(RUN(op_celu, NODE_A("Celu", ca), F(3, -2, 0, 3)),
             F32((float)(2 * (exp(-1.0) - 1)), 0, 3), 3, 1e-6f);
    /* ThresholdedRelu: x where x > alpha (default 1), 0 elsewhere (alpha itself included). */
    expect_f(RUN(op_thresholdedrelu, NODE("ThresholdedRelu"), F(4, -2, 1, 1.5f, 3)),
             F32(0, 0, 1.5f, 3), 4, 0);
    struct attr ta[] = {A_FLOAT("alpha", -1.0f)};
    expect_f(RUN(op_thresholdedrelu, NODE_A("ThresholdedRelu", ta), F(2, -2, -0.5f)), F32(0, -0.5f),
             2, 0);
}

Test(math, celu_refuses_an_alpha_of_zero_naming_the_attribute)
{
    struct attr ca[] = {A_FLOAT("alpha", 0.0f)};
    struct node nd = {.name = "celu3", .op_type = "Celu", ATTRS(ca)};
    struct err e = FAILS(op_celu, &nd, F(1, 1));
    tu_expect_error(&e, "celu3", "alpha");
}

Test(math, gradients_match_central_differences)
{
    struct attr sa[] = {A_FLOAT("alpha", 1.5f), A_FLOAT("gamma", 2.0f)};
    struct attr ca[] = {A_FLOAT("alpha", 0.7f)};
    struct attr ta[] = {A_FLOAT("alpha", 0.2f)};
    const float points[] = {-1.3f, 0.7f, 2.1f};
    for (size_t i = 0; i < 3; i++) {
        float v = points[i];
        tu_expect_gradient_matches_difference(&op_sin, NODE("Sin"), v);
        tu_expect_gradient_matches_difference(&op_cos, NODE("Cos"), v);
        tu_expect_gradient_matches_difference(&op_selu, NODE("Selu"), v);
        tu_expect_gradient_matches_difference(&op_selu, NODE_A("Selu", sa), v);
        tu_expect_gradient_matches_difference(&op_celu, NODE_A("Celu", ca), v);
        tu_expect_gradient_matches_difference(&op_thresholdedrelu, NODE_A("ThresholdedRelu", ta),
                                              v);
    }
}

Test(math, mod_takes_the_divisors_sign_unless_fmod_is_set)
{
    /* Python's %: -7 % 3 = 2, 7 % -3 = -2; C's: -7 % 3 = -1, 7 % -3 = 1. */
    expect_l(RUN(op_mod, NODE("Mod"), L(4, -7, 7, 7, -7), L(4, 3, -3, 3, -3)), I64(2, -2, 1, -1),
             4);
    struct attr fm[] = {A_INT("fmod", 1)};
    expect_l(RUN(op_mod, NODE_A("Mod", fm), L(4, -7, 7, 7, -7), L(4, 3, -3, 3, -3)),
             I64(-1, 1, 1, -1), 4);
    /* int32 broadcast of a [2,2] against a [2]; a divisor of 0 gives 0; MIN % -1 is 0. */
    struct tensor *a = tu_tensor(DTYPE_INT32, 2, I64(2, 2), I32(5, -5, 9, INT32_MIN));
    struct tensor *b = tu_tensor(DTYPE_INT32, 1, I64(2), I32(0, -1));
    struct tensor *y = RUN(op_mod, NODE("Mod"), a, b);
    tu_expect_shape(y, 2, I64(2, 2));
    expect_i32(y, I32(0, 0, 0, 0), 4);
    /* Float fmod: fmod(-4.5, 2) = -0.5, fmod(5.5, -2) = 1.5. */
    expect_f(RUN(op_mod, NODE_A("Mod", fm), F(2, -4.5f, 5.5f), F(2, 2, -2)), F32(-0.5f, 1.5f), 2,
             0);
}

Test(math, mod_refuses_float_inputs_without_fmod_naming_the_attribute)
{
    struct node nd = {.name = "mod1", .op_type = "Mod"};
    struct err e = FAILS(op_mod, &nd, F(1, 1), F(1, 2));
    tu_expect_error(&e, "mod1", "fmod");
    struct attr bad[] = {A_INT("fmod", 2)};
    struct node nd2 = {.name = "mod2", .op_type = "Mod", ATTRS(bad)};
    e = FAILS(op_mod, &nd2, L(1, 1), L(1, 2));
    tu_expect_error(&e, "mod2", "fmod is 2");
    e = FAILS(op_mod, &nd2, L(1, 1), F(1, 2));
    tu_expect_error(&e, "mod2", "different element types");
}

Test(math, shrink_zeroes_the_band_and_moves_the_rest_toward_zero)
{
    /* Hard (bias 0, lambd 1.5) and soft (bias = lambd = 1.5). */
    struct attr hard[] = {A_FLOAT("lambd", 1.5f)};
    expect_f(RUN(op_shrink, NODE_A("Shrink", hard), F(5, -2, -1, 0, 1, 2)), F32(-2, 0, 0, 0, 2), 5,
             0);
    struct attr soft[] = {A_FLOAT("lambd", 1.5f), A_FLOAT("bias", 1.5f)};
    expect_f(RUN(op_shrink, NODE_A("Shrink", soft), F(5, -2, -1, 0, 1, 2)),
             F32(-0.5f, 0, 0, 0, 0.5f), 5, 0);
    /* int64 with the defaults (lambd 0.5, bias 0): only 0 is in the band. */
    expect_l(RUN(op_shrink, NODE("Shrink"), L(3, -2, 0, 3)), I64(-2, 0, 3), 3);
}

Test(math, float_only_ops_refuse_integers_as_unsupported)
{
    const struct op_def *ops[] = {&op_sin, &op_round, &op_isnan, &op_selu, &op_celu};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        struct node nd = {.name = "m9", .op_type = (char *)ops[i]->name};
        struct err e = FAILS(*ops[i], &nd, L(1, 1));
        cr_expect_eq(e.code, ERR_UNSUPPORTED, "%s: %s", ops[i]->name, e.msg);
        tu_expect_error(&e, "m9", "int64");
    }
}

/* ---- op_index.c ---- */

Test(size, counts_elements_from_the_shape_alone)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(2, 3, 4), NULL);
    struct tensor *y = RUN_AT(op_size, NODE("Size"), 13, SEEN_NONE, x);
    tu_expect_shape(y, 0, NULL);
    expect_l(y, I64(24), 1);
    cr_expect(op_size.flags & OP_READS_SHAPE_ONLY);
}

Test(range, counts_down_with_a_negative_delta)
{
    /* 10, 7, 4, 1: ceil((0 - 10) / -3) = 4 elements. */
    struct tensor *y = RUN(op_range, NODE("Range"), SL(10), SL(0), SL(-3));
    tu_expect_shape(y, 1, I64(4));
    expect_l(y, I64(10, 7, 4, 1), 4);
}

Test(range, steps_floats_and_int32_up_to_but_excluding_the_limit)
{
    /* ceil((5 - 1) / 1.5) = 3: 1, 2.5, 4. */
    struct tensor *y = RUN_AT(op_range, NODE("Range"), 11, SEEN_ALL, SF(1), SF(5), SF(1.5f));
    tu_expect_shape(y, 1, I64(3));
    expect_f(y, F32(1, 2.5f, 4), 3, 0);
    struct tensor *s = tu_tensor(DTYPE_INT32, 0, NULL, I32(-2)),
                  *l = tu_tensor(DTYPE_INT32, 0, NULL, I32(3));
    struct tensor *d = tu_tensor(DTYPE_INT32, 0, NULL, I32(2));
    expect_i32(RUN_AT(op_range, NODE("Range"), 11, SEEN_ALL, s, l, d), I32(-2, 0, 2), 3);
}

Test(range, is_empty_when_the_limit_lies_behind_the_start)
{
    struct tensor *y = RUN(op_range, NODE("Range"), SL(5), SL(1), SL(2));
    tu_expect_shape(y, 1, I64(0));
    tensor_free(y);
}

Test(range, refuses_inputs_unknown_at_planning_as_unsupported)
{
    struct node nd = {.name = "rng", .op_type = "Range"};
    struct err e = FAILS(op_range, &nd, SF(0), SF(3), SF(1));
    cr_expect_eq(e.code, ERR_UNSUPPORTED);
    tu_expect_error(&e, "rng", "not all known");
}

Test(range, refuses_a_zero_delta_and_mixed_types)
{
    struct node nd = {.name = "rng", .op_type = "Range"};
    struct err e = FAILS(op_range, &nd, SL(0), SL(3), SL(0));
    tu_expect_error(&e, "rng", "delta");
    e = FAILS_SEEN(op_range, &nd, SEEN_ALL, SL(0), SF(3), SL(1));
    tu_expect_error(&e, "rng", "limit");
}

Test(argmax, keeps_the_axis_and_picks_the_first_or_last_of_equals)
{
    /* [[2, 5, 5], [7, 1, 7]] along axis 1. */
    struct attr a1[] = {A_INT("axis", 1)};
    struct tensor *y = RUN(op_argmax, NODE_A("ArgMax", a1),
                           tu_tensor(DTYPE_FLOAT, 2, I64(2, 3), F32(2, 5, 5, 7, 1, 7)));
    tu_expect_shape(y, 2, I64(2, 1));
    expect_l(y, I64(1, 0), 2);
    struct attr last[] = {A_INT("axis", 1), A_INT("select_last_index", 1)};
    expect_l(RUN(op_argmax, NODE_A("ArgMax", last),
                 tu_tensor(DTYPE_FLOAT, 2, I64(2, 3), F32(2, 5, 5, 7, 1, 7))),
             I64(2, 2), 2);
}

Test(argmax, treats_nan_as_the_largest_like_numpy)
{
    expect_l(RUN(op_argmax, NODE("ArgMax"), F(4, 1, NAN, 9, NAN)), I64(1), 1);
}

Test(argmin, drops_the_axis_without_keepdims_on_int64)
{
    /* [[4, -1], [0, 3], [-5, 8]] along axis 0: column minima at rows 2 and 0. */
    struct attr a[] = {A_INT("axis", 0), A_INT("keepdims", 0)};
    struct tensor *y = RUN(op_argmin, NODE_A("ArgMin", a),
                           tu_tensor(DTYPE_INT64, 2, I64(3, 2), I64(4, -1, 0, 3, -5, 8)));
    tu_expect_shape(y, 1, I64(2));
    expect_l(y, I64(2, 0), 2);
    struct attr neg[] = {A_INT("axis", -1), A_INT("keepdims", 0)};
    expect_l(RUN(op_argmin, NODE_A("ArgMin", neg),
                 tu_tensor(DTYPE_INT32, 2, I64(2, 2), I32(3, 3, 9, -9))),
             I64(0, 1), 2);
}

Test(argmax, refuses_an_axis_out_of_range_naming_it)
{
    struct attr a[] = {A_INT("axis", 2)};
    struct node nd = {.name = "am", .op_type = "ArgMax", ATTRS(a)};
    struct err e = FAILS(op_argmax, &nd, tu_tensor(DTYPE_FLOAT, 2, I64(2, 2), F32(0, 0, 0, 0)));
    tu_expect_error(&e, "am", "axis 2");
}

/* Runs TopK with K known, returning values and indices. */
static void topk(const struct node *nd, int64_t opset, struct tensor *x, struct tensor *k,
                 struct tensor **vals, struct tensor **inds)
{
    struct tensor *outs[2];
    struct err err;
    struct tensor *ins[] = {x, k};
    cr_assert_eq(run_seen(&op_topk, nd, opset, ins, k ? 2 : 1, outs, 2, SEEN_INTS, &err), 0, "%s",
                 err.msg);
    *vals = outs[0];
    *inds = outs[1];
    tensor_free(x), tensor_free(k);
}

Test(topk, returns_the_largest_in_order_with_ties_in_index_order)
{
    struct tensor *v, *i;
    topk(NODE("TopK"), 11, F(6, 3, 9, 1, 9, 3, 7), L(1, 4), &v, &i);
    tu_expect_shape(v, 1, I64(4));
    expect_f(v, F32(9, 9, 7, 3), 4, 0);
    expect_l(i, I64(1, 3, 5, 0), 4);
}

Test(topk, returns_the_smallest_along_axis_0)
{
    /* [[5, 1], [2, 8], [2, 0]] along axis 0, k = 2, smallest. */
    struct attr a[] = {A_INT("axis", 0), A_INT("largest", 0)};
    struct tensor *v, *i;
    topk(NODE_A("TopK", a), 11, tu_tensor(DTYPE_INT64, 2, I64(3, 2), I64(5, 1, 2, 8, 2, 0)),
         L(1, 2), &v, &i);
    tu_expect_shape(v, 2, I64(2, 2));
    expect_l(v, I64(2, 0, 2, 1), 4);
    expect_l(i, I64(1, 2, 2, 0), 4);
}

Test(topk, takes_k_from_the_attribute_before_opset_10)
{
    struct attr a[] = {A_INT("k", 1)};
    struct tensor *v, *i;
    topk(NODE_A("TopK", a), 1, F(3, 1, 4, 2), NULL, &v, &i);
    expect_f(v, F32(4), 1, 0);
    expect_l(i, I64(1), 1);
}

Test(topk, refuses_a_k_larger_than_the_axis_naming_it)
{
    struct node nd = {.name = "tk", .op_type = "TopK"};
    struct tensor *outs[2];
    struct err err;
    struct tensor *x = F(3, 1, 2, 3), *k = L(1, 4);
    struct tensor *ins[] = {x, k};
    cr_expect_lt(run_seen(&op_topk, &nd, 11, ins, 2, outs, 2, SEEN_INTS, &err), 0);
    tu_expect_error(&err, "tk", "K = 4");
    tensor_free(x), tensor_free(k);
}

Test(gatherelements, picks_along_the_axis_with_negative_indices)
{
    /* data [[1,2],[3,4]], indices [[0,0],[1,0]] on axis 1 -> [[1,1],[4,3]]. */
    struct attr a1[] = {A_INT("axis", 1)};
    struct tensor *y = RUN(op_gatherelements, NODE_A("GatherElements", a1),
                           tu_tensor(DTYPE_FLOAT, 2, I64(2, 2), F32(1, 2, 3, 4)),
                           tu_tensor(DTYPE_INT64, 2, I64(2, 2), I64(0, 0, 1, 0)));
    expect_f(y, F32(1, 1, 4, 3), 4, 0);
    /* data [[1,2,3],[4,5,6],[7,8,9]], int32 indices [[1,2,0],[-1,0,0]] on axis 0. */
    y = RUN(op_gatherelements, NODE("GatherElements"),
            tu_tensor(DTYPE_INT64, 2, I64(3, 3), I64(1, 2, 3, 4, 5, 6, 7, 8, 9)),
            tu_tensor(DTYPE_INT32, 2, I64(2, 3), I32(1, 2, 0, -1, 0, 0)));
    tu_expect_shape(y, 2, I64(2, 3));
    expect_l(y, I64(4, 8, 3, 7, 2, 3), 6);
}

Test(gatherelements, refuses_an_index_out_of_range)
{
    struct node nd = {.name = "ge", .op_type = "GatherElements"};
    struct err e = FAILS(op_gatherelements, &nd, F(2, 1, 2), L(1, 2));
    tu_expect_error(&e, "ge", "index 2 is out of range");
    e = FAILS(op_gatherelements, &nd, F(2, 1, 2), tu_tensor(DTYPE_INT64, 2, I64(1, 1), I64(0)));
    tu_expect_error(&e, "ge", "same rank");
}

Test(onehot, puts_on_values_on_a_new_last_axis)
{
    /* indices [0, 2, -1] with depth 3: -1 is the last class; values (off, on) = (2, 5). */
    struct tensor *y = RUN(op_onehot, NODE("OneHot"), L(3, 0, 2, -1), SL(3), L(2, 2, 5));
    tu_expect_shape(y, 2, I64(3, 3));
    expect_l(y, I64(5, 2, 2, 2, 2, 5, 2, 2, 5), 9);
}

Test(onehot, inserts_the_axis_where_asked_and_skips_indices_out_of_range)
{
    /* Float indices [1, 7] with depth 4 on axis 0: a [4, 2] output; 7 gives a column of off. */
    struct attr a[] = {A_INT("axis", 0)};
    struct tensor *y = RUN_AT(op_onehot, NODE_A("OneHot", a), 11, SEEN_INTS, F(2, 1, 7),
                              tu_tensor(DTYPE_INT64, 1, I64(1), I64(4)), F(2, 0, 1));
    tu_expect_shape(y, 2, I64(4, 2));
    expect_f(y, F32(0, 0, 1, 0, 0, 0, 0, 0), 8, 0);
}

Test(onehot, refuses_a_depth_unknown_at_planning_and_a_bad_axis)
{
    struct node nd = {.name = "oh", .op_type = "OneHot"};
    struct err e = FAILS(op_onehot, &nd, L(1, 0), SF(3), F(2, 0, 1));
    cr_expect_eq(e.code, ERR_UNSUPPORTED);
    tu_expect_error(&e, "oh", "depth");
    struct attr a[] = {A_INT("axis", 3)};
    struct node nd2 = {.name = "oh2", .op_type = "OneHot", ATTRS(a)};
    e = FAILS(op_onehot, &nd2, L(1, 0), SL(3), F(2, 0, 1));
    tu_expect_error(&e, "oh2", "axis = 3");
}

Test(trilu, keeps_the_upper_or_lower_triangle_shifted_by_k)
{
    /* [[1,2,3],[4,5,6]]: upper with k=1 keeps j - i >= 1; lower with k=-1 keeps j - i <= -1. */
    struct tensor *y = RUN(op_trilu, NODE("Trilu"),
                           tu_tensor(DTYPE_INT64, 2, I64(2, 3), I64(1, 2, 3, 4, 5, 6)), SL(1));
    expect_l(y, I64(0, 2, 3, 0, 0, 6), 6);
    struct attr lo[] = {A_INT("upper", 0)};
    y = RUN(op_trilu, NODE_A("Trilu", lo),
            tu_tensor(DTYPE_FLOAT, 3, I64(1, 2, 3), F32(1, 2, 3, 4, 5, 6)), SL(-1));
    tu_expect_shape(y, 3, I64(1, 2, 3));
    expect_f(y, F32(0, 0, 0, 4, 0, 0), 6, 0);
    /* Without k: the main diagonal and above, on bool. */
    expect_bools(RUN(op_trilu, NODE("Trilu"), tu_tensor(DTYPE_BOOL, 2, I64(2, 2), B8(1, 1, 1, 1))),
                 B8(1, 1, 0, 1), 4);
}

Test(trilu, refuses_a_vector_naming_its_shape)
{
    struct node nd = {.name = "tri", .op_type = "Trilu"};
    struct err e = FAILS(op_trilu, &nd, F(3, 1, 2, 3));
    tu_expect_error(&e, "tri", "[3]");
}

Test(cumsum, runs_inclusive_exclusive_and_reversed)
{
    expect_f(RUN(op_cumsum, NODE("CumSum"), F(4, 1, 2, 3, 4), SL(0)), F32(1, 3, 6, 10), 4, 0);
    struct attr ex[] = {A_INT("exclusive", 1)};
    expect_f(RUN(op_cumsum, NODE_A("CumSum", ex), F(4, 1, 2, 3, 4), SL(0)), F32(0, 1, 3, 6), 4, 0);
    struct attr rv[] = {A_INT("reverse", 1)};
    expect_f(RUN(op_cumsum, NODE_A("CumSum", rv), F(4, 1, 2, 3, 4), SL(0)), F32(10, 9, 7, 4), 4, 0);
    struct attr both[] = {A_INT("reverse", 1), A_INT("exclusive", 1)};
    expect_f(RUN(op_cumsum, NODE_A("CumSum", both), F(4, 1, 2, 3, 4), SL(0)), F32(9, 7, 4, 0), 4,
             0);
}

Test(cumsum, sums_along_a_negative_axis_of_int32)
{
    /* [[1,2,3],[4,5,6]] along axis -1 (given as int32). */
    struct tensor *y =
        RUN(op_cumsum, NODE("CumSum"), tu_tensor(DTYPE_INT32, 2, I64(2, 3), I32(1, 2, 3, 4, 5, 6)),
            tu_tensor(DTYPE_INT32, 0, NULL, I32(-1)));
    expect_i32(y, I32(1, 3, 6, 4, 9, 15), 6);
    struct node nd = {.name = "cs", .op_type = "CumSum"};
    struct err e = FAILS(op_cumsum, &nd, F(2, 1, 2), SL(1));
    tu_expect_error(&e, "cs", "axis 1");
}

Test(nonzero, lists_coordinates_of_a_known_input_in_row_major_order)
{
    /* [[1, 0], [0, 3], [2, 0]]: non-zeros at (0,0), (1,1), (2,0). */
    struct tensor *y = RUN_AT(op_nonzero, NODE("NonZero"), 13, SEEN_ALL,
                              tu_tensor(DTYPE_FLOAT, 2, I64(3, 2), F32(1, 0, 0, 3, 2, 0)));
    tu_expect_shape(y, 2, I64(2, 3));
    expect_l(y, I64(0, 1, 2, 0, 1, 0), 6);
}

Test(nonzero, refuses_an_input_unknown_at_planning_as_unsupported)
{
    struct node nd = {.name = "nz", .op_type = "NonZero"};
    struct err e = FAILS(op_nonzero, &nd, F(2, 1, 0));
    cr_expect_eq(e.code, ERR_UNSUPPORTED);
    tu_expect_error(&e, "nz", "not known");
}

/* ---- op_space.c ---- */

Test(depthtospace, reads_the_depth_in_dcr_or_crd_order)
{
    /* x[c] = c on [1, 8, 1, 1], blocksize 2 -> [1, 2, 2, 2]. DCR: y[c', i, j] =
     * x[(2i + j) 2 + c']; CRD: y[c', i, j] = x[4c' + 2i + j]. */
    const float x[] = {0, 1, 2, 3, 4, 5, 6, 7};
    struct attr dcr[] = {A_INT("blocksize", 2)};
    struct tensor *y = RUN(op_depthtospace, NODE_A("DepthToSpace", dcr),
                           tu_tensor(DTYPE_FLOAT, 4, I64(1, 8, 1, 1), x));
    tu_expect_shape(y, 4, I64(1, 2, 2, 2));
    expect_f(y, F32(0, 2, 4, 6, 1, 3, 5, 7), 8, 0);
    struct attr crd[] = {A_INT("blocksize", 2), A_STR("mode", "CRD")};
    expect_f(RUN(op_depthtospace, NODE_A("DepthToSpace", crd),
                 tu_tensor(DTYPE_FLOAT, 4, I64(1, 8, 1, 1), x)),
             F32(0, 1, 2, 3, 4, 5, 6, 7), 8, 0);
}

Test(depthtospace, interleaves_blocks_across_width)
{
    /* x[c, 0, w] = 10c + w on [1, 4, 1, 2]: y rows are [0,10,1,11] and [20,30,21,31]. */
    struct attr a[] = {A_INT("blocksize", 2)};
    struct tensor *y =
        RUN(op_depthtospace, NODE_A("DepthToSpace", a),
            tu_tensor(DTYPE_INT64, 4, I64(1, 4, 1, 2), I64(0, 1, 10, 11, 20, 21, 30, 31)));
    tu_expect_shape(y, 4, I64(1, 1, 2, 4));
    expect_l(y, I64(0, 10, 1, 11, 20, 30, 21, 31), 8);
}

Test(spacetodepth, undoes_depthtospace_in_dcr_order)
{
    struct attr a[] = {A_INT("blocksize", 2)};
    struct tensor *y =
        RUN(op_spacetodepth, NODE_A("SpaceToDepth", a),
            tu_tensor(DTYPE_INT64, 4, I64(1, 1, 2, 4), I64(0, 10, 1, 11, 20, 30, 21, 31)));
    tu_expect_shape(y, 4, I64(1, 4, 1, 2));
    expect_l(y, I64(0, 1, 10, 11, 20, 21, 30, 31), 8);
}

Test(depthtospace, refuses_a_bad_mode_and_an_indivisible_depth)
{
    struct attr m[] = {A_INT("blocksize", 2), A_STR("mode", "RDC")};
    struct node nd = {.name = "d2s", .op_type = "DepthToSpace", ATTRS(m)};
    struct err e = FAILS(op_depthtospace, &nd, tu_tensor(DTYPE_FLOAT, 4, I64(1, 4, 1, 1), NULL));
    tu_expect_error(&e, "d2s", "mode");
    struct attr b[] = {A_INT("blocksize", 2)};
    struct node nd2 = {.name = "d2s", .op_type = "DepthToSpace", ATTRS(b)};
    e = FAILS(op_depthtospace, &nd2, tu_tensor(DTYPE_FLOAT, 4, I64(1, 6, 1, 1), NULL));
    tu_expect_error(&e, "d2s", "blocksize^2");
    struct node nd3 = {.name = "s2d", .op_type = "SpaceToDepth"};
    e = FAILS(op_spacetodepth, &nd3, tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), NULL));
    tu_expect_error(&e, "s2d", "blocksize");
}

Test(globalmaxpool, takes_the_maximum_of_each_channel_and_nan_wins)
{
    struct tensor *y = RUN(op_globalmaxpool, NODE("GlobalMaxPool"),
                           tu_tensor(DTYPE_FLOAT, 4, I64(1, 3, 1, 2), F32(-1, -3, 2, 7, NAN, 1)));
    tu_expect_shape(y, 4, I64(1, 3, 1, 1));
    expect_f(y, F32(-1, 7, NAN), 3, 0);
}

Test(hardmax, marks_the_first_maximum_along_the_axis)
{
    /* Rows [1, 3, 3] and [4, 0, -1]; opset 13 default axis -1. */
    struct tensor *y = RUN_AT(op_hardmax, NODE("Hardmax"), 13, SEEN_INTS,
                              tu_tensor(DTYPE_FLOAT, 2, I64(2, 3), F32(1, 3, 3, 4, 0, -1)));
    expect_f(y, F32(0, 1, 0, 1, 0, 0), 6, 0);
    /* Along axis 0: column maxima at rows 1, 0, 0. */
    struct attr a0[] = {A_INT("axis", 0)};
    expect_f(RUN_AT(op_hardmax, NODE_A("Hardmax", a0), 13, SEEN_INTS,
                    tu_tensor(DTYPE_FLOAT, 2, I64(2, 3), F32(1, 3, 3, 4, 0, -1))),
             F32(0, 1, 1, 1, 0, 0), 6, 0);
}

Test(hardmax, coerces_to_2d_before_opset_13)
{
    /* [2, 2, 2] at axis 1 (the default) is 2 rows of 4. */
    struct tensor *y = RUN_AT(op_hardmax, NODE("Hardmax"), 11, SEEN_INTS,
                              tu_tensor(DTYPE_FLOAT, 3, I64(2, 2, 2), F32(0, 1, 5, 2, 9, 1, 1, 9)));
    expect_f(y, F32(0, 0, 1, 0, 1, 0, 0, 0), 8, 0);
}

Test(sum, adds_three_broadcast_inputs)
{
    /* [2,1] + [3] + scalar. */
    struct tensor *y = RUN(op_sum, NODE("Sum"), tu_tensor(DTYPE_FLOAT, 2, I64(2, 1), F32(10, 20)),
                           F(3, 1, 2, 3), SF(0.5f));
    tu_expect_shape(y, 2, I64(2, 3));
    expect_f(y, F32(11.5f, 12.5f, 13.5f, 21.5f, 22.5f, 23.5f), 6, 0);
    expect_f(RUN(op_sum, NODE("Sum"), F(2, 1, 2)), F32(1, 2), 2, 0);
}

Test(mean, averages_its_inputs_and_copies_a_single_one)
{
    expect_f(RUN(op_mean, NODE("Mean"), F(2, 1, 2), F(2, 3, 4), F(1, 5)), F32(3, 11.0f / 3), 2,
             1e-6f);
    expect_f(RUN(op_mean, NODE("Mean"), F(2, 1, 2)), F32(1, 2), 2, 0);
}

Test(sum, refuses_integers_as_unsupported_and_unbroadcastable_shapes)
{
    struct node nd = {.name = "s3", .op_type = "Sum"};
    struct err e = FAILS(op_sum, &nd, L(1, 1), L(1, 2));
    cr_expect_eq(e.code, ERR_UNSUPPORTED);
    tu_expect_error(&e, "s3", "int64");
    e = FAILS(op_mean, &nd, F(2, 1, 2), F(3, 1, 2, 3));
    tu_expect_error(&e, "s3", "input 1");
}

Test(meanvariancenormalization, normalizes_each_channel_over_n_h_and_w)
{
    /* [1, 2, 1, 2]: channel 0 (1, 3) has mean 2 and std 1 -> (-1, 1); channel 1 (2, 2) has
     * std 0 -> 0 / 1e-9 = 0. */
    struct tensor *y = RUN(op_meanvariancenormalization, NODE("MeanVarianceNormalization"),
                           tu_tensor(DTYPE_FLOAT, 4, I64(1, 2, 1, 2), F32(1, 3, 2, 2)));
    expect_f(y, F32(-1, 1, 0, 0), 4, 1e-6f);
    /* axes [1] of [2, 3]: rows (0, 3, 6) -> mean 3, std sqrt(6). */
    struct attr a[] = {A_INTS("axes", 1)};
    float s6 = sqrtf(6);
    expect_f(RUN(op_meanvariancenormalization, NODE_A("MeanVarianceNormalization", a),
                 tu_tensor(DTYPE_FLOAT, 2, I64(2, 3), F32(0, 3, 6, 1, 1, 1))),
             F32(-3 / s6, 0, 3 / s6, 0, 0, 0), 6, 1e-6f);
}

Test(meanvariancenormalization, refuses_default_axes_on_a_matrix_naming_them)
{
    struct node nd = {.name = "mvn", .op_type = "MeanVarianceNormalization"};
    struct err e =
        FAILS(op_meanvariancenormalization, &nd, tu_tensor(DTYPE_FLOAT, 2, I64(2, 2), NULL));
    tu_expect_error(&e, "mvn", "axes[1] = 2");
}

Test(lrn, divides_by_the_sum_of_squares_of_neighbouring_channels)
{
    /* Channels 1, 2, 3 with size 3, alpha 3 (alpha / size = 1), beta 1, bias 1:
     * 1 / (1 + 1 + 4), 2 / (1 + 1 + 4 + 9), 3 / (1 + 4 + 9). */
    struct attr a[] = {A_INT("size", 3), A_FLOAT("alpha", 3), A_FLOAT("beta", 1)};
    struct tensor *y =
        RUN(op_lrn, NODE_A("LRN", a), tu_tensor(DTYPE_FLOAT, 4, I64(1, 3, 1, 1), F32(1, 2, 3)));
    expect_f(y, F32(1 / 6.0f, 2 / 15.0f, 3 / 14.0f), 3, 1e-6f);
    /* Size 2 looks at the channel and the next one (floor 0 before, ceil 1 after); defaults
     * alpha 1e-4, beta 0.75, bias 1. */
    struct attr b[] = {A_INT("size", 2)};
    float d0 = powf(1 + 1e-4f / 2 * (4 + 16), 0.75f), d1 = powf(1 + 1e-4f / 2 * 16, 0.75f);
    expect_f(RUN(op_lrn, NODE_A("LRN", b), tu_tensor(DTYPE_FLOAT, 3, I64(1, 2, 1), F32(2, 4))),
             F32(2 / d0, 4 / d1), 2, 1e-6f);
}

Test(lrn, refuses_a_missing_size_naming_the_attribute)
{
    struct node nd = {.name = "lrn1", .op_type = "LRN"};
    struct err e = FAILS(op_lrn, &nd, tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 1, 1), NULL));
    tu_expect_error(&e, "lrn1", "size");
}

Test(reducelogsum, takes_the_log_of_the_sum_over_the_axes)
{
    /* [[1, 2], [3, 4]] over axis 1 (opset 18: axes as input): log 3, log 7. */
    struct attr k0[] = {A_INT("keepdims", 0)};
    struct tensor *y = RUN(op_reducelogsum, NODE_A("ReduceLogSum", k0),
                           tu_tensor(DTYPE_FLOAT, 2, I64(2, 2), F32(1, 2, 3, 4)), L(1, 1));
    tu_expect_shape(y, 1, I64(2));
    expect_f(y, F32(logf(3), logf(7)), 2, 1e-6f);
    /* Opset 13: axes attribute, keepdims by default; all axes: log 10. */
    y = RUN_AT(op_reducelogsum, NODE("ReduceLogSum"), 13, SEEN_INTS,
               tu_tensor(DTYPE_FLOAT, 2, I64(2, 2), F32(1, 2, 3, 4)));
    tu_expect_shape(y, 2, I64(1, 1));
    expect_f(y, F32(logf(10)), 1, 1e-6f);
}

Test(reducelogsumexp, does_not_overflow_on_large_inputs)
{
    /* log(e^1000 + e^1000) = 1000 + log 2; log(e^0 + e^ln3) = log 4; all -inf gives -inf. */
    struct attr a[] = {A_INTS("axes", 0)};
    struct tensor *y = RUN_AT(
        op_reducelogsumexp, NODE_A("ReduceLogSumExp", a), 13, SEEN_INTS,
        tu_tensor(DTYPE_FLOAT, 2, I64(2, 3), F32(1000, 0, -INFINITY, 1000, logf(3), -INFINITY)));
    tu_expect_shape(y, 2, I64(1, 3));
    const float *v = tensor_f32(y);
    cr_expect(fabsf(v[0] - (1000 + logf(2))) <= 1e-3f, "got %.9g", v[0]);
    cr_expect(fabsf(v[1] - logf(4)) <= 1e-6f, "got %.9g", v[1]);
    cr_expect(isinf(v[2]) && v[2] < 0, "got %g", v[2]);
    tensor_free(y);
}

Test(reducelogsumexp, refuses_int64_as_unsupported)
{
    struct node nd = {.name = "lse", .op_type = "ReduceLogSumExp"};
    struct err e = FAILS(op_reducelogsumexp, &nd, L(2, 1, 2));
    cr_expect_eq(e.code, ERR_UNSUPPORTED);
    tu_expect_error(&e, "lse", "int64");
}

Test(ops_table, finds_every_op_added_here_by_its_onnx_name)
{
    const char *names[] = {"Sin",
                           "Cos",
                           "Tan",
                           "Asin",
                           "Acos",
                           "Atan",
                           "Sinh",
                           "Cosh",
                           "Asinh",
                           "Acosh",
                           "Atanh",
                           "Sign",
                           "Round",
                           "IsNaN",
                           "IsInf",
                           "Selu",
                           "Celu",
                           "ThresholdedRelu",
                           "Mod",
                           "Shrink",
                           "Size",
                           "Range",
                           "ArgMax",
                           "ArgMin",
                           "TopK",
                           "GatherElements",
                           "OneHot",
                           "Trilu",
                           "CumSum",
                           "NonZero",
                           "DepthToSpace",
                           "SpaceToDepth",
                           "GlobalMaxPool",
                           "Hardmax",
                           "Sum",
                           "Mean",
                           "MeanVarianceNormalization",
                           "LRN",
                           "ReduceLogSum",
                           "ReduceLogSumExp"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const struct op_def *op = ops_find(names[i]);
        cr_expect_not_null(op, "%s missing from the op table", names[i]);
        if (op)
            cr_expect_str_eq(op->name, names[i]);
    }
}
