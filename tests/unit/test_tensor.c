/* Tensors and shapes: element counts, formatting, broadcasting rules. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/tensor.h"
#include "kernels/op.h"

Test(tensor, scalar_has_one_element_and_zero_dim_has_none)
{
    struct shape scalar = {.ndim = 0};
    struct shape empty = {.ndim = 2, .dims = {3, 0}};
    cr_expect_eq(shape_numel(&scalar), 1);
    cr_expect_eq(shape_numel(&empty), 0);
}

Test(tensor, shape_formats_as_bracketed_list)
{
    struct shape s = {.ndim = 3, .dims = {2, 16, 7}};
    char buf[64];
    cr_expect_str_eq(shape_format(&s, buf, sizeof buf), "[2,16,7]");
}

Test(tensor, new_tensor_is_zeroed_and_refuses_negative_dims)
{
    struct err err;
    struct shape s = {.ndim = 2, .dims = {3, 4}};
    struct tensor *t = tensor_new(DTYPE_FLOAT, &s, &err);
    cr_assert_not_null(t);
    for (size_t i = 0; i < 12; i++)
        cr_expect_eq(tensor_f32(t)[i], 0.0f);
    cr_expect_eq(tensor_bytes(t), 48);
    tensor_free(t);
    struct shape bad = {.ndim = 1, .dims = {-2}};
    cr_expect_null(tensor_new(DTYPE_FLOAT, &bad, &err));
    cr_expect(strstr(err.msg, "negative"), "%s", err.msg);
}

Test(tensor, broadcasting_follows_numpy_rules)
{
    struct shape a = {.ndim = 3, .dims = {4, 1, 3}}, b = {.ndim = 2, .dims = {5, 1}}, out;
    cr_assert_eq(op_broadcast_shape(&a, &b, &out), 0);
    cr_expect_eq(out.ndim, 3);
    cr_expect_eq(out.dims[0], 4);
    cr_expect_eq(out.dims[1], 5);
    cr_expect_eq(out.dims[2], 3);
    struct shape c = {.ndim = 1, .dims = {2}};
    cr_expect_eq(op_broadcast_shape(&a, &c, &out), -1);
}
