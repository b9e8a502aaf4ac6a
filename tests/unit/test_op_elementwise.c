/* The elementwise ops one at a time: unary math, Pow, Min/Max, comparisons, logic, Where and
 * Cast, on float32, int64, int32 and bool, against hand calculations or libm called here, plus
 * the bool/int32 element types in the reader and the refusals. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/op.h"
#include "model/onnx_reader.h"
#include "testutil.h"

extern const struct op_def op_sqrt, op_reciprocal, op_exp, op_log, op_neg, op_abs, op_erf;
extern const struct op_def op_gelu, op_elu, op_softplus, op_floor, op_ceil, op_softsign;
extern const struct op_def op_pow, op_min, op_max, op_add, op_div;
extern const struct op_def op_equal, op_less, op_greater, op_lessorequal, op_greaterorequal;
extern const struct op_def op_not, op_and, op_or, op_xor, op_where, op_cast, op_castlike;

#define F(n, ...) tu_tensor(DTYPE_FLOAT, 1, I64(n), F32(__VA_ARGS__))
#define L(n, ...) tu_tensor(DTYPE_INT64, 1, I64(n), I64(__VA_ARGS__))
#define I32(...)  ((const int32_t[]){__VA_ARGS__})
#define B8(...)   ((const uint8_t[]){__VA_ARGS__})

/* The engine's sequence: a shape call that sees float inputs without data and integer and
 * bool inputs with it (as the planner does for shape chains), output allocation, run. *out
 * is NULL when the shape call fails. */
static int run_op(const struct op_def *op, const struct node *nd, const struct tensor *const *ins,
                  int n_in, struct tensor **out, struct err *err)
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
        .node = nd, .opset = 18, .n_in = n_in, .in = shape_in, .n_out = 1, .out = outs};
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

/* Runs op on ins (freed here) and returns its output, asserting success. */
static struct tensor *run_ok(const struct op_def *op, const struct node *nd,
                             struct tensor *const *ins, int n_in)
{
    struct tensor *y;
    struct err err;
    int rc = run_op(op, nd, (const struct tensor *const *)ins, n_in, &y, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    for (int i = 0; i < n_in; i++)
        tensor_free(ins[i]);
    return y;
}

#define NODE(op_name) (&(struct node){.name = "n", .op_type = op_name})
#define RUN(op, nd, ...)                                                                           \
    run_ok(&op, nd, (struct tensor *const[]){__VA_ARGS__},                                         \
           (int)(sizeof((struct tensor *const[]){__VA_ARGS__}) / sizeof(struct tensor *)))

/* Runs op expecting the shape call to fail; returns the error (inputs freed). */
static struct err run_fails(const struct op_def *op, const struct node *nd,
                            struct tensor *const *ins, int n_in)
{
    struct tensor *y;
    struct err err;
    cr_expect_lt(run_op(op, nd, (const struct tensor *const *)ins, n_in, &y, &err), 0,
                 "the op accepted what it should refuse");
    tensor_free(y);
    for (int i = 0; i < n_in; i++)
        tensor_free(ins[i]);
    return err;
}
#define FAILS(op, nd, ...)                                                                         \
    run_fails(&op, nd, (struct tensor *const[]){__VA_ARGS__},                                      \
              (int)(sizeof((struct tensor *const[]){__VA_ARGS__}) / sizeof(struct tensor *)))

static void expect_bools(struct tensor *t, const uint8_t *want, size_t n)
{
    tu_expect_bools(t, want, n);
    tensor_free(t);
}

static void expect_i32(struct tensor *t, const int32_t *want, size_t n)
{
    tu_expect_i32(t, want, n);
    tensor_free(t);
}

static void expect_f(struct tensor *t, const float *want, size_t n, float tol)
{
    tu_expect_floats(t, want, n, tol);
    tensor_free(t);
}

static void expect_l(struct tensor *t, const int64_t *want, size_t n)
{
    tu_expect_ints(t, want, n);
    tensor_free(t);
}

/* ---- element types ---- */

Test(elementwise_dtype, bool_and_int32_have_onnx_codes_sizes_and_names)
{
    cr_expect_eq(DTYPE_BOOL, 9);
    cr_expect_eq(DTYPE_INT32, 6);
    cr_expect_eq(dtype_size(DTYPE_BOOL), 1);
    cr_expect_eq(dtype_size(DTYPE_INT32), 4);
    cr_expect_str_eq(dtype_name(DTYPE_BOOL), "bool");
    cr_expect_str_eq(dtype_name(DTYPE_INT32), "int32");
    cr_expect_eq(dtype_size(DTYPE_FLOAT), 4);
    cr_expect_eq(dtype_size(DTYPE_INT64), 8);
    struct tensor *b = tu_tensor(DTYPE_BOOL, 2, I64(2, 3), NULL);
    cr_expect_eq(tensor_bytes(b), 6);
    tensor_free(b);
}

/* Reads a hand-encoded TensorProto: field 1 dims, 2 data_type, 8 name, 9 raw_data. */
static struct tensor *read_proto(const uint8_t *bytes, size_t len, int *elem_type)
{
    char *p = tu_write_temp(bytes, len, ".pb");
    cr_assert_not_null(p);
    struct err err;
    struct tensor *t = onnx_read_tensor_file(p, NULL, elem_type, &err);
    unlink(p);
    free(p);
    cr_assert_not_null(t, "%s", err.msg);
    return t;
}

Test(elementwise_dtype, reader_keeps_bool_raw_data_as_bytes_of_zero_or_one)
{
    /* dims [4], BOOL, raw bytes 1 0 2 1 (any nonzero byte is true). */
    static const uint8_t pb[] = {0x08, 4, 0x10, 9, 0x4a, 4, 1, 0, 2, 1};
    int et;
    struct tensor *t = read_proto(pb, sizeof pb, &et);
    cr_expect_eq(et, 9);
    expect_bools(t, B8(1, 0, 1, 1), 4);
}

Test(elementwise_dtype, reader_keeps_int32_raw_and_typed_data_as_int32)
{
    /* dims [2], INT32, raw little-endian 7 and -2. */
    static const uint8_t raw[] = {0x08, 2, 0x10, 6, 0x4a, 8, 7, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff};
    int et;
    expect_i32(read_proto(raw, sizeof raw, &et), I32(7, -2), 2);
    cr_expect_eq(et, 6);
    /* dims [2], INT32, int32_data (field 5, packed) 3 and 300 (varint 0xac 0x02). */
    static const uint8_t typed[] = {0x08, 2, 0x10, 6, 0x2a, 3, 3, 0xac, 0x02};
    expect_i32(read_proto(typed, sizeof typed, &et), I32(3, 300), 2);
}

/* ---- unary math ---- */

Test(elementwise_unary, sqrt_reciprocal_exp_and_log_match_libm)
{
    expect_f(RUN(op_sqrt, NODE("Sqrt"), F(3, 4, 2, 0)), F32(2, sqrtf(2), 0), 3, 1e-6f);
    expect_f(RUN(op_reciprocal, NODE("Reciprocal"), F(3, 4, -0.5f, 3)), F32(0.25f, -2, 1 / 3.0f), 3,
             1e-6f);
    expect_f(RUN(op_exp, NODE("Exp"), F(3, 0, 1, -2)), F32(1, expf(1), expf(-2)), 3, 1e-6f);
    expect_f(RUN(op_log, NODE("Log"), F(3, 1, expf(2), 0.5f)), F32(0, 2, logf(0.5f)), 3, 1e-6f);
    expect_f(RUN(op_sqrt, NODE("Sqrt"), F(1, -1)), F32(NAN), 1, 0);
}

Test(elementwise_unary, erf_softplus_and_softsign_match_libm)
{
    expect_f(RUN(op_erf, NODE("Erf"), F(3, 0, 0.5f, -2)), F32(0, erff(0.5f), erff(-2)), 3, 1e-6f);
    /* softplus(0) = ln 2; for large x it is x, for very negative x it is e^x. */
    expect_f(RUN(op_softplus, NODE("Softplus"), F(4, 0, 1, 100, -30)),
             F32(0.69314718f, logf(1 + expf(1)), 100, expf(-30)), 4, 1e-6f);
    expect_f(RUN(op_softsign, NODE("Softsign"), F(3, 1, -3, 0)), F32(0.5f, -0.75f, 0), 3, 1e-7f);
}

Test(elementwise_unary, elu_uses_alpha_below_zero)
{
    struct attr at[] = {A_FLOAT("alpha", 2.0f)};
    struct node nd = {.name = "n", .op_type = "Elu", ATTRS(at)};
    expect_f(RUN(op_elu, &nd, F(3, -1, 0, 3)), F32(2 * (expf(-1) - 1), 0, 3), 3, 1e-6f);
    expect_f(RUN(op_elu, NODE("Elu"), F(1, -1)), F32(expf(-1) - 1), 1, 1e-6f);
}

Test(elementwise_unary, gelu_exact_and_tanh_forms_match_their_formulas)
{
    float x = 1.5f;
    float exact = 0.5f * x * (1 + erff(x / sqrtf(2)));
    float approx = 0.5f * x * (1 + tanhf(sqrtf(2 / 3.14159265f) * (x + 0.044715f * x * x * x)));
    expect_f(RUN(op_gelu, NODE("Gelu"), F(3, x, 0, -x)), F32(exact, 0, -x + exact), 3, 1e-6f);
    struct attr at[] = {A_STR("approximate", "tanh")};
    struct node nd = {.name = "n", .op_type = "Gelu", ATTRS(at)};
    expect_f(RUN(op_gelu, &nd, F(1, x)), F32(approx), 1, 1e-6f);
}

Test(elementwise_unary, gelu_refuses_an_unknown_approximation)
{
    struct attr at[] = {A_STR("approximate", "fast")};
    struct node nd = {.name = "g", .op_type = "Gelu", ATTRS(at)};
    struct err err = FAILS(op_gelu, &nd, F(1, 1));
    tu_expect_error(&err, "'fast'", "tanh");
}

Test(elementwise_unary, floor_and_ceil_round_toward_minus_and_plus_infinity)
{
    expect_f(RUN(op_floor, NODE("Floor"), F(4, 1.5f, -1.5f, 2, -0.0f)), F32(1, -2, 2, 0), 4, 0);
    expect_f(RUN(op_ceil, NODE("Ceil"), F(4, 1.5f, -1.5f, 2, 0.2f)), F32(2, -1, 2, 1), 4, 0);
}

Test(elementwise_unary, neg_and_abs_work_on_float_int64_and_int32)
{
    expect_f(RUN(op_neg, NODE("Neg"), F(2, 1.5f, -2)), F32(-1.5f, 2), 2, 0);
    expect_l(RUN(op_neg, NODE("Neg"), L(3, 4, -7, 0)), I64(-4, 7, 0), 3);
    expect_l(RUN(op_abs, NODE("Abs"), L(3, 4, -7, INT64_MIN + 1)), I64(4, 7, INT64_MAX), 3);
    expect_i32(RUN(op_abs, NODE("Abs"), tu_tensor(DTYPE_INT32, 1, I64(2), I32(-3, 3))), I32(3, 3),
               2);
    expect_i32(RUN(op_neg, NODE("Neg"), tu_tensor(DTYPE_INT32, 1, I64(2), I32(-3, 5))), I32(3, -5),
               2);
    expect_f(RUN(op_abs, NODE("Abs"), F(2, -0.25f, 3)), F32(0.25f, 3), 2, 0);
}

Test(elementwise_unary, float_only_ops_refuse_int64_naming_the_type)
{
    struct err err = FAILS(op_sqrt, NODE("Sqrt"), L(1, 4));
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "Sqrt", "int64");
    err = FAILS(op_neg, NODE("Neg"), tu_tensor(DTYPE_BOOL, 1, I64(1), B8(1)));
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "bool", NULL);
}

Test(elementwise_unary, gradients_match_central_differences)
{
    struct attr tanh_at[] = {A_STR("approximate", "tanh")};
    struct node gelu_tanh = {.name = "n", .op_type = "Gelu", ATTRS(tanh_at)};
    struct attr elu_at[] = {A_FLOAT("alpha", 0.5f)};
    struct node elu = {.name = "n", .op_type = "Elu", ATTRS(elu_at)};
    const float points[] = {-1.3f, 0.7f, 2.1f};
    for (size_t i = 0; i < 3; i++) {
        float v = points[i];
        tu_expect_gradient_matches_difference(&op_sqrt, NODE("Sqrt"), fabsf(v));
        tu_expect_gradient_matches_difference(&op_reciprocal, NODE("Reciprocal"), v);
        tu_expect_gradient_matches_difference(&op_exp, NODE("Exp"), v);
        tu_expect_gradient_matches_difference(&op_log, NODE("Log"), fabsf(v));
        tu_expect_gradient_matches_difference(&op_erf, NODE("Erf"), v);
        tu_expect_gradient_matches_difference(&op_gelu, NODE("Gelu"), v);
        tu_expect_gradient_matches_difference(&op_gelu, &gelu_tanh, v);
        tu_expect_gradient_matches_difference(&op_elu, &elu, v);
        tu_expect_gradient_matches_difference(&op_softplus, NODE("Softplus"), v);
        tu_expect_gradient_matches_difference(&op_softsign, NODE("Softsign"), v);
        tu_expect_gradient_matches_difference(&op_neg, NODE("Neg"), v);
        tu_expect_gradient_matches_difference(&op_abs, NODE("Abs"), v);
        tu_expect_gradient_matches_difference(&op_floor, NODE("Floor"), v);
    }
}

/* ---- Pow ---- */

Test(elementwise_pow, raises_floats_to_float_powers)
{
    expect_f(RUN(op_pow, NODE("Pow"), F(3, 2, 9, -2), F(3, 3, 0.5f, 2)), F32(8, 3, 4), 3, 1e-5f);
    expect_f(RUN(op_pow, NODE("Pow"), F(1, -8), F(1, 1 / 3.0f)), F32(NAN), 1, 0);
}

Test(elementwise_pow, broadcasts_an_int64_exponent)
{
    /* [[1,2,3],[4,5,6]] ^ [2,0,-1] row-wise. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 2, I64(2, 3), F32(1, 2, 3, 4, 5, 6));
    struct tensor *y = RUN(op_pow, NODE("Pow"), x, L(3, 2, 0, -1));
    tu_expect_shape(y, 2, I64(2, 3));
    expect_f(y, F32(1, 1, 1 / 3.0f, 16, 1, 1 / 6.0f), 6, 1e-6f);
    /* A scalar int32 exponent. */
    expect_f(RUN(op_pow, NODE("Pow"), F(2, 3, -2), tu_tensor(DTYPE_INT32, 0, NULL, I32(3))),
             F32(27, -8), 2, 0);
}

Test(elementwise_pow, int64_base_with_int64_exponent_stays_exact)
{
    /* 3^39 = 4052555153018976267 is beyond a double's 53-bit mantissa. */
    expect_l(RUN(op_pow, NODE("Pow"), L(4, 3, 2, -2, 5), L(4, 39, 10, 3, 0)),
             I64(4052555153018976267LL, 1024, -8, 1), 4);
    expect_l(RUN(op_pow, NODE("Pow"), L(3, 2, 1, -1), L(3, -1, -5, -3)), I64(0, 1, -1), 3);
    expect_l(RUN(op_pow, NODE("Pow"), L(2, 4, 10), F(2, 0.5f, 2)), I64(2, 100), 2);
}

Test(elementwise_pow, gradient_of_a_constant_exponent_is_e_x_to_the_e_minus_1)
{
    struct tensor *x = F(2, 3, 0.5f), *e = L(1, 3);
    struct tensor *y = RUN(op_pow, NODE("Pow"), F(2, 3, 0.5f), L(1, 3));
    struct tensor *dy = F(2, 1, 2), *dx = F(2, 0, 0);
    const struct tensor *ins[] = {x, e};
    struct tensor *outs[] = {y};
    struct op_io io = {
        .node = NODE("Pow"), .opset = 18, .n_in = 2, .in = ins, .n_out = 1, .out = outs};
    struct err err;
    cr_assert_eq(op_pow.backward(&io, (const struct tensor *const[]){dy},
                                 (struct tensor *const[]){dx, NULL}, &err),
                 0, "%s", err.msg);
    /* 3 x^2: 27 at 3, 0.75 at 0.5 (times dY = 2). */
    expect_f(dx, F32(27, 1.5f), 2, 1e-5f);
    tensor_free(x), tensor_free(e), tensor_free(y), tensor_free(dy);
}

Test(elementwise_pow, gradient_of_a_float_exponent_is_y_ln_x)
{
    struct tensor *x = F(1, 2), *e = F(1, 3);
    struct tensor *y = RUN(op_pow, NODE("Pow"), F(1, 2), F(1, 3));
    struct tensor *dy = F(1, 1), *dx = F(1, 0), *de = F(1, 0);
    const struct tensor *ins[] = {x, e};
    struct tensor *outs[] = {y};
    struct op_io io = {
        .node = NODE("Pow"), .opset = 18, .n_in = 2, .in = ins, .n_out = 1, .out = outs};
    struct err err;
    cr_assert_eq(op_pow.backward(&io, (const struct tensor *const[]){dy},
                                 (struct tensor *const[]){dx, de}, &err),
                 0, "%s", err.msg);
    expect_f(dx, F32(12), 1, 1e-5f);
    expect_f(de, F32(8 * logf(2)), 1, 1e-5f);
    tensor_free(x), tensor_free(e), tensor_free(y), tensor_free(dy);
}

Test(elementwise_pow, refuses_a_bool_base_naming_the_type)
{
    struct err err = FAILS(op_pow, NODE("Pow"), tu_tensor(DTYPE_BOOL, 1, I64(1), B8(1)), F(1, 2));
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "bool", "base");
}

/* ---- Min and Max ---- */

Test(elementwise_minmax, max_of_three_inputs_broadcasts_them_together)
{
    /* [2,1] , [3] and a scalar: out[i][j] = max(a[i], b[j], 2). */
    struct tensor *a = tu_tensor(DTYPE_FLOAT, 2, I64(2, 1), F32(1, 5));
    struct tensor *y =
        RUN(op_max, NODE("Max"), a, F(3, 0, 3, 6), tu_tensor(DTYPE_FLOAT, 0, NULL, F32(2)));
    tu_expect_shape(y, 2, I64(2, 3));
    expect_f(y, F32(2, 3, 6, 5, 5, 6), 6, 0);
    struct tensor *m = tu_tensor(DTYPE_FLOAT, 2, I64(2, 1), F32(1, 5));
    expect_f(RUN(op_min, NODE("Min"), m, F(3, 0, 3, 6), tu_tensor(DTYPE_FLOAT, 0, NULL, F32(2))),
             F32(0, 1, 1, 0, 2, 2), 6, 0);
}

Test(elementwise_minmax, min_and_max_take_int64_and_int32)
{
    expect_l(RUN(op_min, NODE("Min"), L(3, 4, -2, 9), L(3, 5, -3, 1)), I64(4, -3, 1), 3);
    expect_l(RUN(op_max, NODE("Max"), L(3, 4, -2, 9), L(1, 5)), I64(5, 5, 9), 3);
    expect_i32(RUN(op_max, NODE("Max"), tu_tensor(DTYPE_INT32, 1, I64(2), I32(-1, 7)),
                   tu_tensor(DTYPE_INT32, 1, I64(2), I32(3, 2))),
               I32(3, 7), 2);
}

Test(elementwise_minmax, one_input_is_copied_and_nan_wins)
{
    expect_f(RUN(op_min, NODE("Min"), F(2, 3, -1)), F32(3, -1), 2, 0);
    expect_f(RUN(op_max, NODE("Max"), F(2, NAN, 1), F(2, 1, NAN)), F32(NAN, NAN), 2, 0);
    expect_f(RUN(op_min, NODE("Min"), F(2, NAN, 1), F(2, 1, NAN)), F32(NAN, NAN), 2, 0);
}

Test(elementwise_minmax, refuses_mixed_types_and_bool)
{
    struct err err = FAILS(op_max, NODE("Max"), F(1, 1), L(1, 1));
    tu_expect_error(&err, "int64", "float32");
    err = FAILS(op_min, NODE("Min"), tu_tensor(DTYPE_BOOL, 1, I64(1), B8(1)));
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "bool", NULL);
}

/* ---- Add..Div on int32 and their refusal of bool ---- */

Test(elementwise_binary, int32_div_truncates_toward_zero)
{
    expect_i32(RUN(op_div, NODE("Div"), tu_tensor(DTYPE_INT32, 1, I64(3), I32(7, -7, 6)),
                   tu_tensor(DTYPE_INT32, 1, I64(3), I32(2, 2, -4))),
               I32(3, -3, -1), 3);
    expect_i32(RUN(op_add, NODE("Add"), tu_tensor(DTYPE_INT32, 1, I64(2), I32(7, -7)),
                   tu_tensor(DTYPE_INT32, 0, NULL, I32(10))),
               I32(17, 3), 2);
}

Test(elementwise_binary, add_refuses_bool_as_unsupported)
{
    struct err err = FAILS(op_add, NODE("Add"), tu_tensor(DTYPE_BOOL, 1, I64(1), B8(1)),
                           tu_tensor(DTYPE_BOOL, 1, I64(1), B8(1)));
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "bool", NULL);
}

/* ---- comparisons ---- */

Test(elementwise_compare, ordering_comparisons_broadcast_floats_to_bool)
{
    /* [[1,2,3],[4,5,6]] against [2,5,3] row-wise. */
#define X23 tu_tensor(DTYPE_FLOAT, 2, I64(2, 3), F32(1, 2, 3, 4, 5, 6))
    struct tensor *y = RUN(op_less, NODE("Less"), X23, F(3, 2, 5, 3));
    tu_expect_shape(y, 2, I64(2, 3));
    expect_bools(y, B8(1, 1, 0, 0, 0, 0), 6);
    expect_bools(RUN(op_greater, NODE("Greater"), X23, F(3, 2, 5, 3)), B8(0, 0, 0, 1, 0, 1), 6);
    expect_bools(RUN(op_lessorequal, NODE("LessOrEqual"), X23, F(3, 2, 5, 3)), B8(1, 1, 1, 0, 1, 0),
                 6);
    expect_bools(RUN(op_greaterorequal, NODE("GreaterOrEqual"), X23, F(3, 2, 5, 3)),
                 B8(0, 0, 1, 1, 1, 1), 6);
    expect_bools(RUN(op_equal, NODE("Equal"), X23, F(3, 2, 5, 3)), B8(0, 0, 1, 0, 1, 0), 6);
#undef X23
}

Test(elementwise_compare, equal_and_less_take_int64_and_int32)
{
    expect_bools(RUN(op_equal, NODE("Equal"), L(4, 1, 3, -1, 224), L(1, -1)), B8(0, 0, 1, 0), 4);
    expect_bools(RUN(op_less, NODE("Less"), tu_tensor(DTYPE_INT32, 1, I64(3), I32(-5, 0, 5)),
                     tu_tensor(DTYPE_INT32, 0, NULL, I32(0))),
                 B8(1, 0, 0), 3);
}

Test(elementwise_compare, equal_accepts_bool_and_less_refuses_it)
{
    expect_bools(RUN(op_equal, NODE("Equal"), tu_tensor(DTYPE_BOOL, 1, I64(4), B8(0, 0, 1, 1)),
                     tu_tensor(DTYPE_BOOL, 1, I64(4), B8(0, 1, 0, 1))),
                 B8(1, 0, 0, 1), 4);
    struct err err = FAILS(op_less, NODE("Less"), tu_tensor(DTYPE_BOOL, 1, I64(1), B8(1)),
                           tu_tensor(DTYPE_BOOL, 1, I64(1), B8(1)));
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "bool", "Less");
}

Test(elementwise_compare, comparisons_with_nan_are_false_and_types_must_agree)
{
    expect_bools(RUN(op_equal, NODE("Equal"), F(2, NAN, 1), F(2, NAN, 1)), B8(0, 1), 2);
    expect_bools(RUN(op_greaterorequal, NODE("GreaterOrEqual"), F(1, NAN), F(1, 0)), B8(0), 1);
    struct err err = FAILS(op_equal, NODE("Equal"), F(1, 1), L(1, 1));
    tu_expect_error(&err, "float32", "int64");
}

/* ---- logic ---- */

Test(elementwise_logic, not_and_or_xor_follow_their_truth_tables)
{
#define P tu_tensor(DTYPE_BOOL, 1, I64(4), B8(0, 0, 1, 1))
#define Q tu_tensor(DTYPE_BOOL, 1, I64(4), B8(0, 1, 0, 1))
    expect_bools(RUN(op_and, NODE("And"), P, Q), B8(0, 0, 0, 1), 4);
    expect_bools(RUN(op_or, NODE("Or"), P, Q), B8(0, 1, 1, 1), 4);
    expect_bools(RUN(op_xor, NODE("Xor"), P, Q), B8(0, 1, 1, 0), 4);
    expect_bools(RUN(op_not, NODE("Not"), P), B8(1, 1, 0, 0), 4);
#undef P
#undef Q
}

Test(elementwise_logic, and_broadcasts_a_column)
{
    struct tensor *a = tu_tensor(DTYPE_BOOL, 2, I64(2, 2), B8(1, 1, 0, 1));
    struct tensor *col = tu_tensor(DTYPE_BOOL, 2, I64(2, 1), B8(1, 0));
    expect_bools(RUN(op_and, NODE("And"), a, col), B8(1, 1, 0, 0), 4);
}

Test(elementwise_logic, refuses_anything_but_bool)
{
    struct err err = FAILS(op_and, NODE("And"), L(1, 1), L(1, 1));
    cr_expect_eq(err.code, ERR_UNSUPPORTED);
    tu_expect_error(&err, "int64", "bool");
    err = FAILS(op_not, NODE("Not"), F(1, 1));
    tu_expect_error(&err, "float32", "bool");
}

/* ---- Where ---- */

Test(elementwise_where, picks_x_or_y_with_three_way_broadcasting)
{
    /* condition [2,1], X [3], Y scalar -> [2,3]. */
    struct tensor *c = tu_tensor(DTYPE_BOOL, 2, I64(2, 1), B8(1, 0));
    struct tensor *y =
        RUN(op_where, NODE("Where"), c, F(3, 1, 2, 3), tu_tensor(DTYPE_FLOAT, 0, NULL, F32(-1)));
    tu_expect_shape(y, 2, I64(2, 3));
    expect_f(y, F32(1, 2, 3, -1, -1, -1), 6, 0);
    struct tensor *c2 = tu_tensor(DTYPE_BOOL, 1, I64(3), B8(0, 1, 0));
    struct tensor *x2 = tu_tensor(DTYPE_INT32, 2, I64(2, 3), I32(1, 2, 3, 4, 5, 6));
    expect_i32(RUN(op_where, NODE("Where"), c2, x2, tu_tensor(DTYPE_INT32, 1, I64(1), I32(0))),
               I32(0, 2, 0, 0, 5, 0), 6);
}

Test(elementwise_where, replaces_minus_one_in_an_int64_shape_like_pytorch_exports)
{
    /* Where(Equal(shape, -1), 1, shape): the chain a planner folds on Shape outputs. */
    struct tensor *mask = RUN(op_equal, NODE("Equal"), L(3, 2, -1, 8), L(1, -1));
    struct tensor *y = RUN(op_where, NODE("Where"), mask, L(1, 1), L(3, 2, -1, 8));
    expect_l(y, I64(2, 1, 8), 3);
    struct tensor *as_f = RUN(op_cast,
                              (&(struct node){.name = "c",
                                              .op_type = "Cast",
                                              .n_attrs = 1,
                                              .attrs = (struct attr[]){A_INT("to", 1)}}),
                              L(2, 3, -4));
    expect_f(as_f, F32(3, -4), 2, 0);
}

Test(elementwise_where, refuses_a_float_condition_and_mixed_branches)
{
    struct err err = FAILS(op_where, NODE("Where"), F(1, 1), F(1, 1), F(1, 2));
    tu_expect_error(&err, "condition", "float32");
    err = FAILS(op_where, NODE("Where"), tu_tensor(DTYPE_BOOL, 1, I64(1), B8(1)), F(1, 1), L(1, 2));
    tu_expect_error(&err, "float32", "int64");
}

Test(elementwise_where, gradient_goes_to_the_selected_branch)
{
    struct tensor *c = tu_tensor(DTYPE_BOOL, 1, I64(3), B8(1, 0, 1));
    struct tensor *x = F(3, 1, 2, 3), *s = tu_tensor(DTYPE_FLOAT, 0, NULL, F32(9));
    struct tensor *y = RUN(op_where, NODE("Where"), tu_tensor(DTYPE_BOOL, 1, I64(3), B8(1, 0, 1)),
                           F(3, 1, 2, 3), tu_tensor(DTYPE_FLOAT, 0, NULL, F32(9)));
    expect_f(tensor_clone(y, NULL), F32(1, 9, 3), 3, 0);
    struct tensor *dy = F(3, 10, 20, 30), *dx = F(3, 0, 0, 0),
                  *ds = tu_tensor(DTYPE_FLOAT, 0, NULL, F32(0));
    const struct tensor *ins[] = {c, x, s};
    struct tensor *outs[] = {y};
    struct op_io io = {
        .node = NODE("Where"), .opset = 18, .n_in = 3, .in = ins, .n_out = 1, .out = outs};
    struct err err;
    cr_assert_eq(op_where.backward(&io, (const struct tensor *const[]){dy},
                                   (struct tensor *const[]){NULL, dx, ds}, &err),
                 0, "%s", err.msg);
    expect_f(dx, F32(10, 0, 30), 3, 0);
    expect_f(ds, F32(20), 1, 0);
    tensor_free(c), tensor_free(x), tensor_free(s), tensor_free(y), tensor_free(dy);
}

/* ---- Cast ---- */

static struct node *cast_to(int to)
{
    static struct attr at;
    static struct node nd;
    at = (struct attr){.name = "to", .type = ATTR_INT, .i = to};
    nd = (struct node){.name = "cast", .op_type = "Cast", .n_attrs = 1, .attrs = &at};
    return &nd;
}

Test(elementwise_cast, float_to_integers_truncates_toward_zero)
{
    expect_l(RUN(op_cast, cast_to(7), F(5, 2.9f, -2.9f, 0.5f, -0.5f, 1e6f)),
             I64(2, -2, 0, 0, 1000000), 5);
    expect_i32(RUN(op_cast, cast_to(6), F(3, 7.99f, -7.99f, 3e9f)), I32(7, -7, INT32_MAX), 3);
}

Test(elementwise_cast, to_bool_is_nonzero)
{
    expect_bools(RUN(op_cast, cast_to(9), F(4, 0, -0.0f, 0.1f, NAN)), B8(0, 0, 1, 1), 4);
    expect_bools(RUN(op_cast, cast_to(9), L(3, 0, 5, -1)), B8(0, 1, 1), 3);
    expect_bools(RUN(op_cast, cast_to(9), tu_tensor(DTYPE_INT32, 1, I64(2), I32(0, 2))), B8(0, 1),
                 2);
}

Test(elementwise_cast, bool_and_int32_widen_to_float_and_int64)
{
    expect_f(RUN(op_cast, cast_to(1), tu_tensor(DTYPE_BOOL, 1, I64(2), B8(1, 0))), F32(1, 0), 2, 0);
    expect_l(RUN(op_cast, cast_to(7), tu_tensor(DTYPE_BOOL, 1, I64(2), B8(0, 1))), I64(0, 1), 2);
    expect_l(RUN(op_cast, cast_to(7), tu_tensor(DTYPE_INT32, 1, I64(2), I32(-3, 70000))),
             I64(-3, 70000), 2);
    expect_f(RUN(op_cast, cast_to(1), tu_tensor(DTYPE_INT32, 1, I64(2), I32(-3, 16777217))),
             F32(-3, 16777216), 2, 0);
    expect_i32(RUN(op_cast, cast_to(6), L(2, -5, 4294967297LL)), I32(-5, 1), 2);
    expect_i32(RUN(op_cast, cast_to(6), tu_tensor(DTYPE_BOOL, 1, I64(2), B8(1, 0))), I32(1, 0), 2);
    expect_f(RUN(op_cast, cast_to(1), F(1, 2.5f)), F32(2.5f), 1, 0);
}

Test(elementwise_cast, refuses_double_float16_and_string_as_unsupported)
{
    const int codes[] = {11, 10, 8, 16};
    const char *names[] = {"DOUBLE", "FLOAT16", "STRING", "BFLOAT16"};
    for (int i = 0; i < 4; i++) {
        struct err err = FAILS(op_cast, cast_to(codes[i]), F(1, 1));
        cr_expect_eq(err.code, ERR_UNSUPPORTED, "to=%d", codes[i]);
        tu_expect_error(&err, names[i], "cast");
    }
    struct node nd = {.name = "c", .op_type = "Cast"};
    struct err err = FAILS(op_cast, &nd, F(1, 1));
    tu_expect_error(&err, "'to'", NULL);
}

Test(elementwise_cast, castlike_takes_the_type_of_its_second_input)
{
    expect_l(RUN(op_castlike, NODE("CastLike"), F(2, 1.7f, -1.7f), L(1, 0)), I64(1, -1), 2);
    expect_bools(
        RUN(op_castlike, NODE("CastLike"), L(2, 0, 3), tu_tensor(DTYPE_BOOL, 0, NULL, B8(0))),
        B8(0, 1), 2);
}

#include "kernels/vmath.h"

/* The vectorized sigmoid against libm's formula computed here in double: 40,001 values over
 * [-100, 100] (both tails, the reduction's every range of k), odd lengths for the scalar
 * tail, and infinities, zeros and NaN. */
Test(vmath, sigmoid_matches_libm_within_3e7_relative)
{
    size_t n = 40001;
    float *x = malloc((n + 7) * sizeof *x), *y = malloc((n + 7) * sizeof *y);
    cr_assert(x && y);
    for (size_t i = 0; i < n; i++)
        x[i] = -100.0f + 0.005f * (float)i;
    const float special[7] = {INFINITY, -INFINITY, 0.0f, -0.0f, NAN, 88.0f, -88.0f};
    for (int k = 0; k < 7; k++)
        x[n + (size_t)k] = special[k];
    vmath_sigmoid(x, y, n + 7);
    double worst = 0;
    for (size_t i = 0; i < n + 7; i++) {
        double v = (double)x[i], want = 1.0 / (1.0 + exp(-v));
        if (isnan(v)) {
            cr_expect(isnan(y[i]), "sigmoid(NaN) = %g", (double)y[i]);
            continue;
        }
        double rel = fabs((double)y[i] - want) / fmax(want, 1e-38);
        if (want < 1.2e-38) /* below float's normal range: within a few denormal steps */
            rel = fabs((double)y[i] - want) / 1e-44 * 3e-7;
        worst = fmax(worst, rel);
        cr_expect_leq(rel, 3e-7, "sigmoid(%.9g) = %.9g, libm %.9g", v, (double)y[i], want);
    }
    cr_log_info("sigmoid: worst relative error %.3g", worst);
    /* In place, and a length the vector loop does not divide. */
    float z[13];
    for (int i = 0; i < 13; i++)
        z[i] = (float)i - 6.0f;
    vmath_sigmoid(z, z, 13);
    for (int i = 0; i < 13; i++)
        cr_expect_float_eq(z[i], (float)(1.0 / (1.0 + exp(-((double)i - 6.0)))), 3e-7);
    free(x);
    free(y);
}
