/* Resize, Upsample, LayerNormalization, InstanceNormalization and ConvTranspose checked
 * against values worked out by hand in the comments, ConvTranspose against a naive
 * scatter-add loop written here over seeded random shapes, the normalizations' backward
 * against finite differences, and the 1-D forms of Conv and the pooling ops; plus their
 * refusals. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"
#include "testutil.h"

extern const struct op_def op_resize, op_upsample, op_layernormalization, op_instancenormalization,
    op_convtranspose, op_conv, op_maxpool, op_averagepool, op_globalaveragepool;

/* A small LCG (Numerical Recipes constants): values in [-1, 1). */
static uint32_t lcg_state;

static float lcg_float(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)(lcg_state >> 8) / 8388608.0f - 1.0f;
}

static void fill_random(struct tensor *t)
{
    for (size_t i = 0; i < tensor_numel(t); i++)
        tensor_f32(t)[i] = lcg_float();
}

/* ---- Resize ---- */

Test(resize, bilinear_half_pixel_matches_a_hand_computed_2x2)
{
    /* [[1,2],[3,4]] doubled. half_pixel maps output o to (o + 0.5) / 2 - 0.5 = -0.25, 0.25,
     * 0.75, 1.25; clamped to the edge, a row [a, b] becomes [a, .75a + .25b, .25a + .75b, b]:
     *   [1,2] -> [1, 1.25, 1.75, 2]      [3,4] -> [3, 3.25, 3.75, 4]
     * and the same weights down the columns give rows r0, .75r0 + .25r1, .25r0 + .75r1, r1. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), F32(1, 2, 3, 4));
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(4), F32(1, 1, 2, 2));
    struct attr at[] = {A_STR("mode", "linear")};
    struct node nd = {.name = "up", .op_type = "Resize", ATTRS(at)};
    const struct tensor *ins[] = {x, NULL, sc};
    tu_check_op(&op_resize, &nd, 13, ins, 3, 4, I64(1, 1, 4, 4),
                F32(1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3,
                    3.25f, 3.75f, 4),
                1e-6f);
    tensor_free(x), tensor_free(sc);
}

Test(resize, nearest_modes_round_ties_their_own_way)
{
    /* asymmetric with scale 2 maps o to o / 2 = 0, .5, 1, 1.5, 2, 2.5, 3, 3.5: the halves
     * go down with round_prefer_floor and floor, up with round_prefer_ceil and ceil (the
     * last clamped to index 3). */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 1, I64(4), F32(10, 20, 30, 40));
    struct tensor *sz = tu_tensor(DTYPE_INT64, 1, I64(1), (const int64_t[]){8});
    static const struct {
        const char *mode;
        float want[8];
    } cases[] = {
        {"round_prefer_floor", {10, 10, 20, 20, 30, 30, 40, 40}},
        {"floor", {10, 10, 20, 20, 30, 30, 40, 40}},
        {"round_prefer_ceil", {10, 20, 20, 30, 30, 40, 40, 40}},
        {"ceil", {10, 20, 20, 30, 30, 40, 40, 40}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct attr at[] = {A_STR("coordinate_transformation_mode", "asymmetric"),
                            A_STR("nearest_mode", (char *)cases[i].mode)};
        struct node nd = {.name = "nn", .op_type = "Resize", ATTRS(at)};
        const struct tensor *ins[] = {x, NULL, NULL, sz};
        tu_check_op(&op_resize, &nd, 13, ins, 4, 1, I64(8), cases[i].want, 0.0f);
    }
    tensor_free(x), tensor_free(sz);
}

Test(resize, nearest_half_pixel_floor_and_ceil_differ_off_the_ties)
{
    /* half_pixel with scale 2: o -> -0.25, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25.
     *   floor: -1(->0), 0, 0, 1, 1, 2, 2, 3      ceil: 0, 1, 1, 2, 2, 3, 3, 4(->3) */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 1, I64(4), F32(10, 20, 30, 40));
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(2));
    struct attr fl[] = {A_STR("nearest_mode", "floor")};
    struct attr ce[] = {A_STR("nearest_mode", "ceil")};
    struct node nf = {.name = "nf", .op_type = "Resize", ATTRS(fl)};
    struct node nc = {.name = "nc", .op_type = "Resize", ATTRS(ce)};
    const struct tensor *ins[] = {x, NULL, sc};
    tu_check_op(&op_resize, &nf, 13, ins, 3, 1, I64(8), F32(10, 10, 10, 20, 20, 30, 30, 40), 0.0f);
    tu_check_op(&op_resize, &nc, 13, ins, 3, 1, I64(8), F32(10, 20, 20, 30, 30, 40, 40, 40), 0.0f);
    tensor_free(x), tensor_free(sc);
}

Test(resize, linear_align_corners_keeps_the_end_points)
{
    /* [1,2,3] to 5: o -> o * (3 - 1) / (5 - 1) = 0, .5, 1, 1.5, 2. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 1, I64(3), F32(1, 2, 3));
    struct tensor *sz = tu_tensor(DTYPE_INT64, 1, I64(1), (const int64_t[]){5});
    struct attr at[] = {A_STR("mode", "linear"),
                        A_STR("coordinate_transformation_mode", "align_corners")};
    struct node nd = {.name = "ac", .op_type = "Resize", ATTRS(at)};
    const struct tensor *ins[] = {x, NULL, NULL, sz};
    tu_check_op(&op_resize, &nd, 13, ins, 4, 1, I64(5), F32(1, 1.5f, 2, 2.5f, 3), 1e-6f);
    tensor_free(x), tensor_free(sz);
}

Test(resize, pytorch_half_pixel_takes_the_first_pixel_for_a_single_output)
{
    /* [1,2,3,4] to 1: pytorch_half_pixel puts the one output at -0.5 (clamped: 1), where
     * half_pixel puts it at (0 + 0.5) / 0.25 - 0.5 = 1.5, between 2 and 3: 2.5. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 1, I64(4), F32(1, 2, 3, 4));
    struct tensor *sz = tu_tensor(DTYPE_INT64, 1, I64(1), (const int64_t[]){1});
    struct attr pt[] = {A_STR("mode", "linear"),
                        A_STR("coordinate_transformation_mode", "pytorch_half_pixel")};
    struct attr hp[] = {A_STR("mode", "linear")};
    struct node np = {.name = "pt", .op_type = "Resize", ATTRS(pt)};
    struct node nh = {.name = "hp", .op_type = "Resize", ATTRS(hp)};
    const struct tensor *ins[] = {x, NULL, NULL, sz};
    tu_check_op(&op_resize, &np, 13, ins, 4, 1, I64(1), F32(1), 1e-6f);
    tu_check_op(&op_resize, &nh, 13, ins, 4, 1, I64(1), F32(2.5f), 1e-6f);
    tensor_free(x), tensor_free(sz);
}

Test(resize, tf_half_pixel_for_nearest_shifts_by_half_an_input_pixel)
{
    /* scale 0.5: o -> (o + 0.5) / 0.5 = 1, 3, whole numbers, so indices 1 and 3. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 1, I64(4), F32(1, 2, 3, 4));
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(0.5f));
    struct attr at[] = {A_STR("coordinate_transformation_mode", "tf_half_pixel_for_nearest")};
    struct node nd = {.name = "tf", .op_type = "Resize", ATTRS(at)};
    const struct tensor *ins[] = {x, NULL, sc};
    tu_check_op(&op_resize, &nd, 13, ins, 3, 1, I64(2), F32(2, 4), 0.0f);
    tensor_free(x), tensor_free(sc);
}

Test(resize, downscaling_floors_the_output_size)
{
    /* [1,1,2,4] by 0.6: floor(1.2) = 1 row, floor(2.4) = 2 columns. Nearest half_pixel:
     * row 0 -> 0.5 / 0.6 - 0.5 = 0.33 -> 0; columns -> 0.33 -> 0 and 2.0 -> 2: [1, 3]. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 4), F32(1, 2, 3, 4, 5, 6, 7, 8));
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(4), F32(1, 1, 0.6f, 0.6f));
    struct node nd = {.name = "down", .op_type = "Resize"};
    const struct tensor *ins[] = {x, NULL, sc};
    tu_check_op(&op_resize, &nd, 13, ins, 3, 4, I64(1, 1, 1, 2), F32(1, 3), 0.0f);
    tensor_free(x), tensor_free(sc);
}

Test(resize, tf_crop_and_resize_fills_outside_the_roi_with_the_extrapolation_value)
{
    /* roi [-0.25, 1.25] of [1,2,3,4,5] (length 5) to 4 outputs:
     *   o -> o * 1.5 * 4 / 3 - 0.25 * 4 = 2o - 1 = -1, 1, 3, 5
     * -1 and 5 fall outside [0, 4] and take the extrapolation value 9. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 1, I64(5), F32(1, 2, 3, 4, 5));
    struct tensor *roi = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(-0.25f, 1.25f));
    struct tensor *sz = tu_tensor(DTYPE_INT64, 1, I64(1), (const int64_t[]){4});
    struct attr at[] = {A_STR("mode", "linear"),
                        A_STR("coordinate_transformation_mode", "tf_crop_and_resize"),
                        A_FLOAT("extrapolation_value", 9.0f)};
    struct node nd = {.name = "crop", .op_type = "Resize", ATTRS(at)};
    const struct tensor *ins[] = {x, roi, NULL, sz};
    tu_check_op(&op_resize, &nd, 13, ins, 4, 1, I64(4), F32(9, 2, 4, 9), 1e-6f);
    tensor_free(x), tensor_free(roi), tensor_free(sz);
}

Test(resize, opset10_is_asymmetric)
{
    /* Resize-10 (X, scales) maps o to o / 2: [1,2] -> 0, .5, 1, 1.5 -> [1, 1.5, 2, 2]. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(1, 2));
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(2));
    struct attr at[] = {A_STR("mode", "linear")};
    struct node nd = {.name = "r10", .op_type = "Resize", ATTRS(at)};
    const struct tensor *ins[] = {x, sc};
    tu_check_op(&op_resize, &nd, 10, ins, 2, 1, I64(4), F32(1, 1.5f, 2, 2), 1e-6f);
    tensor_free(x), tensor_free(sc);
}

Test(resize, opset18_axes_and_keep_aspect_ratio_policy)
{
    /* X [1,1,2,4], sizes [4,4] for axes [2,3]: the scales would be 2 and 1. not_larger
     * keeps 1 for both (out 2x4), not_smaller takes 2 for both (out round(4) x round(8)). */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 4), F32(1, 2, 3, 4, 5, 6, 7, 8));
    struct tensor *sz = tu_tensor(DTYPE_INT64, 1, I64(2), I64(4, 4));
    struct attr nl[] = {A_INTS("axes", 2, 3), A_STR("keep_aspect_ratio_policy", "not_larger")};
    struct attr ns[] = {A_INTS("axes", -2, -1), A_STR("keep_aspect_ratio_policy", "not_smaller"),
                        A_STR("coordinate_transformation_mode", "asymmetric")};
    struct node nd1 = {.name = "nl", .op_type = "Resize", ATTRS(nl)};
    struct node nd2 = {.name = "ns", .op_type = "Resize", ATTRS(ns)};
    const struct tensor *ins[] = {x, NULL, NULL, sz};
    tu_check_op(&op_resize, &nd1, 18, ins, 4, 4, I64(1, 1, 2, 4), F32(1, 2, 3, 4, 5, 6, 7, 8),
                0.0f);
    /* Asymmetric nearest with scale 2 repeats every element twice along both axes. */
    tu_check_op(&op_resize, &nd2, 18, ins, 4, 4, I64(1, 1, 4, 8),
                F32(1, 1, 2, 2, 3, 3, 4, 4, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 5, 5, 6,
                    6, 7, 7, 8, 8),
                0.0f);
    tensor_free(x), tensor_free(sz);
}

Test(resize, trilinear_on_a_5d_input_matches_a_separable_hand_computation)
{
    /* [1,1,2,1,2] = [[a b], [c d]] with a..d = 0, 1, 2, 3, doubled along dims 2 and 4 with
     * align_corners to 3: positions 0, .5, 1 on each, so the 3x3 grid holds the bilinear
     * blend: row 0 [0, .5, 1], row 1 [1, 1.5, 2], row 2 [2, 2.5, 3]. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 5, I64(1, 1, 2, 1, 2), F32(0, 1, 2, 3));
    struct tensor *sz = tu_tensor(DTYPE_INT64, 1, I64(5), I64(1, 1, 3, 1, 3));
    struct attr at[] = {A_STR("mode", "linear"),
                        A_STR("coordinate_transformation_mode", "align_corners")};
    struct node nd = {.name = "tri", .op_type = "Resize", ATTRS(at)};
    const struct tensor *ins[] = {x, NULL, NULL, sz};
    tu_check_op(&op_resize, &nd, 13, ins, 4, 5, I64(1, 1, 3, 1, 3),
                F32(0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3), 1e-6f);
    tensor_free(x), tensor_free(sz);
}

Test(resize, refuses_cubic_as_unsupported_naming_the_node)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), F32(1, 2, 3, 4));
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(4), F32(1, 1, 2, 2));
    struct attr at[] = {A_STR("mode", "cubic")};
    struct node nd = {.name = "cub", .op_type = "Resize", ATTRS(at)};
    const struct tensor *ins[] = {x, NULL, sc};
    struct err err;
    tu_check_fails(&op_resize, &nd, 13, ins, 3, ERR_UNSUPPORTED, &err);
    tu_expect_error(&err, "node 'cub' (Resize)", "cubic");
    tensor_free(x), tensor_free(sc);
}

Test(resize, refuses_scales_not_known_at_planning_as_unsupported)
{
    /* A float scales input without data is what the planner shows for a graph input. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(1, 2));
    struct tensor sc = {.dtype = DTYPE_FLOAT, .shape = shape_make(1, I64(1))};
    struct node nd = {.name = "late", .op_type = "Resize"};
    const struct tensor *ins[] = {x, NULL, &sc};
    struct tensor planned = {0};
    struct tensor *outs[] = {&planned};
    struct op_io io = {.node = &nd, .opset = 13, .n_in = 3, .in = ins, .n_out = 1, .out = outs};
    struct err err;
    err_clear(&err);
    cr_expect_eq(op_resize.shape(&io, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED, "%s", err.msg);
    tu_expect_error(&err, "node 'late' (Resize)", "scales");
    tensor_free(x);
}

Test(resize, refuses_bad_attributes_and_inputs_naming_them)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 2, I64(2, 2), F32(1, 2, 3, 4));
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(2, 2));
    struct tensor *sc3 = tu_tensor(DTYPE_FLOAT, 1, I64(3), F32(1, 2, 2));
    struct tensor *sz = tu_tensor(DTYPE_INT64, 1, I64(2), I64(4, 4));
    struct err err;

    struct attr ctm[] = {A_STR("coordinate_transformation_mode", "sideways")};
    struct node n1 = {.name = "r1", .op_type = "Resize", ATTRS(ctm)};
    const struct tensor *i1[] = {x, NULL, sc};
    tu_check_fails(&op_resize, &n1, 13, i1, 3, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'r1' (Resize)", "coordinate_transformation_mode is 'sideways'");

    struct attr nm[] = {A_STR("nearest_mode", "nearest")};
    struct node n2 = {.name = "r2", .op_type = "Resize", ATTRS(nm)};
    tu_check_fails(&op_resize, &n2, 13, i1, 3, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'r2' (Resize)", "nearest_mode");

    struct node n3 = {.name = "r3", .op_type = "Resize"};
    const struct tensor *i3[] = {x, NULL, sc, sz};
    tu_check_fails(&op_resize, &n3, 13, i3, 4, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'r3' (Resize)", "scales and sizes");

    const struct tensor *i4[] = {x, NULL, sc3};
    tu_check_fails(&op_resize, &n3, 13, i4, 3, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'r3' (Resize)", "scales has 3 values");

    struct attr aa[] = {A_STR("mode", "linear"), A_INT("antialias", 1)};
    struct node n5 = {.name = "r5", .op_type = "Resize", ATTRS(aa)};
    struct tensor *half = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(0.5f, 0.5f));
    const struct tensor *i5[] = {x, NULL, half};
    tu_check_fails(&op_resize, &n5, 18, i5, 3, ERR_UNSUPPORTED, &err);
    tu_expect_error(&err, "node 'r5' (Resize)", "antialias");

    tensor_free(x), tensor_free(sc), tensor_free(sc3), tensor_free(sz), tensor_free(half);
}

/* ---- Upsample ---- */

Test(upsample, opset7_scales_attribute_repeats_nearest_pixels)
{
    /* [[1,2],[3,4]] by scales [1,1,2,3] (asymmetric, floor): rows o/2 -> 0,0,1,1 and
     * columns o/3 -> 0,0,0,1,1,1. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), F32(1, 2, 3, 4));
    struct attr at[] = {
        {.name = "scales", .type = ATTR_FLOATS, .floats = (float[]){1, 1, 2, 3}, .n = 4}};
    struct node nd = {.name = "up7", .op_type = "Upsample", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_upsample, &nd, 7, ins, 1, 4, I64(1, 1, 4, 6),
                F32(1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4), 0.0f);
    tensor_free(x);
}

Test(upsample, opset9_linear_scales_input_is_asymmetric)
{
    /* [1,3] by 2 linear: o/2 -> 0, .5, 1, 1.5 -> [1, 2, 3, 3]. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 2, I64(1, 2), F32(1, 3));
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(1, 2));
    struct attr at[] = {A_STR("mode", "linear")};
    struct node nd = {.name = "up9", .op_type = "Upsample", ATTRS(at)};
    const struct tensor *ins[] = {x, sc};
    tu_check_op(&op_upsample, &nd, 9, ins, 2, 2, I64(1, 4), F32(1, 2, 3, 3), 1e-6f);
    tensor_free(x), tensor_free(sc);
}

Test(upsample, opset7_refuses_a_missing_scales_attribute)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 2, I64(1, 2), F32(1, 3));
    struct node nd = {.name = "up", .op_type = "Upsample"};
    const struct tensor *ins[] = {x};
    struct err err;
    tu_check_fails(&op_upsample, &nd, 7, ins, 1, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'up' (Upsample)", "scales");
    tensor_free(x);
}

/* ---- LayerNormalization ---- */

Test(layernorm, matches_a_hand_computed_2x3_with_mean_and_inv_std_dev)
{
    /* epsilon 0. Row [1,2,3]: mean 2, variance (1 + 0 + 1) / 3 = 2/3, 1/std = sqrt(1.5) =
     * 1.2247449, normalized [-1.2247449, 0, 1.2247449]. Row [2,4,6]: mean 4, variance 8/3,
     * 1/std = sqrt(3/8) = 0.6123724, the same normalized row. With Scale [1,2,3] and
     * B [0.5, 0, -0.5]: [-0.7247449, 0, 3.1742346] for both. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 2, I64(2, 3), F32(1, 2, 3, 2, 4, 6));
    struct tensor *s = tu_tensor(DTYPE_FLOAT, 1, I64(3), F32(1, 2, 3));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(3), F32(0.5f, 0, -0.5f));
    struct attr at[] = {A_FLOAT("epsilon", 0.0f)};
    struct node nd = {.name = "ln", .op_type = "LayerNormalization", ATTRS(at)};
    const struct tensor *ins[] = {x, s, b};
    struct tensor *outs[3];
    struct err err;
    cr_assert_eq(tu_op_run(&op_layernormalization, &nd, 17, ins, 3, outs, 3, &err), 0, "%s",
                 err.msg);
    tu_expect_shape(outs[0], 2, I64(2, 3));
    tu_expect_floats(outs[0], F32(-0.7247449f, 0, 3.1742346f, -0.7247449f, 0, 3.1742346f), 6,
                     1e-5f);
    tu_expect_shape(outs[1], 2, I64(2, 1));
    tu_expect_floats(outs[1], F32(2, 4), 2, 1e-6f);
    tu_expect_shape(outs[2], 2, I64(2, 1));
    tu_expect_floats(outs[2], F32(1.2247449f, 0.6123724f), 2, 1e-6f);
    for (int i = 0; i < 3; i++)
        tensor_free(outs[i]);
    tensor_free(x), tensor_free(s), tensor_free(b);
}

Test(layernorm, axis_1_normalizes_the_trailing_dims_together)
{
    /* X [2,2,2] = 0..7, axis 1: each row of 4 (0..3, 4..7) has mean 1.5 (5.5) and
     * variance 1.25, so both normalize to (k - 1.5) / sqrt(1.25) for k = 0..3:
     * -1.3416408, -0.4472136, 0.4472136, 1.3416408. Scale is [2,2] of ones, no B. */
    float xv[8];
    for (int i = 0; i < 8; i++)
        xv[i] = (float)i;
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(2, 2, 2), xv);
    struct tensor *s = tu_tensor(DTYPE_FLOAT, 2, I64(2, 2), F32(1, 1, 1, 1));
    struct attr at[] = {A_INT("axis", 1), A_FLOAT("epsilon", 0.0f)};
    struct node nd = {.name = "ln", .op_type = "LayerNormalization", ATTRS(at)};
    const struct tensor *ins[] = {x, s};
    const float r[] = {-1.3416408f, -0.4472136f, 0.4472136f, 1.3416408f};
    tu_check_op(&op_layernormalization, &nd, 17, ins, 2, 3, I64(2, 2, 2),
                F32(r[0], r[1], r[2], r[3], r[0], r[1], r[2], r[3]), 1e-5f);
    tensor_free(x), tensor_free(s);
}

Test(layernorm, broadcasts_a_scale_of_fewer_dims)
{
    /* Scale [1] (one value, 3) over rows of 2: [1,3] -> [-1, 1] * 3 (epsilon 0). */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 2, I64(2, 2), F32(1, 3, 5, 9));
    struct tensor *s = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(3));
    struct attr at[] = {A_FLOAT("epsilon", 0.0f)};
    struct node nd = {.name = "ln", .op_type = "LayerNormalization", ATTRS(at)};
    const struct tensor *ins[] = {x, s};
    tu_check_op(&op_layernormalization, &nd, 17, ins, 2, 2, I64(2, 2), F32(-3, 3, -3, 3), 1e-5f);
    tensor_free(x), tensor_free(s);
}

Test(layernorm, refuses_bad_scale_axis_and_stash_type_naming_them)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 2, I64(2, 3), NULL);
    struct tensor *s2 = tu_tensor(DTYPE_FLOAT, 1, I64(2), NULL);
    struct tensor *s3 = tu_tensor(DTYPE_FLOAT, 1, I64(3), NULL);
    struct err err;
    struct node nd = {.name = "ln", .op_type = "LayerNormalization"};
    const struct tensor *i1[] = {x, s2};
    tu_check_fails(&op_layernormalization, &nd, 17, i1, 2, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'ln' (LayerNormalization)", "Scale of shape [2]");

    struct attr ax[] = {A_INT("axis", 2)};
    struct node na = {.name = "lna", .op_type = "LayerNormalization", ATTRS(ax)};
    const struct tensor *i2[] = {x, s3};
    tu_check_fails(&op_layernormalization, &na, 17, i2, 2, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'lna' (LayerNormalization)", "axis 2");

    struct attr st[] = {A_INT("stash_type", 11)};
    struct node ns = {.name = "lns", .op_type = "LayerNormalization", ATTRS(st)};
    tu_check_fails(&op_layernormalization, &ns, 17, i2, 2, ERR_UNSUPPORTED, &err);
    tu_expect_error(&err, "node 'lns' (LayerNormalization)", "stash_type");
    tensor_free(x), tensor_free(s2), tensor_free(s3);
}

/* Compares op's backward with central finite differences of L = sum over outputs o of
 * sum(dout_o * Y_o), for every element of every input. */
static void check_backward_numerically(const struct op_def *op, const struct node *nd,
                                       int64_t opset, struct tensor **ins, int n_in, int n_out,
                                       uint32_t seed)
{
    struct err err;
    struct tensor *outs[4], *dout[4], *din[4];
    lcg_state = seed;
    cr_assert_eq(
        tu_op_run(op, nd, opset, (const struct tensor *const *)ins, n_in, outs, n_out, &err), 0,
        "%s", err.msg);
    for (int o = 0; o < n_out; o++) {
        dout[o] = tensor_new(DTYPE_FLOAT, &outs[o]->shape, &err);
        cr_assert_not_null(dout[o]);
        fill_random(dout[o]);
    }
    for (int i = 0; i < n_in; i++) {
        din[i] = tensor_new(DTYPE_FLOAT, &ins[i]->shape, &err);
        cr_assert_not_null(din[i]);
    }
    struct op_io io = {.node = nd,
                       .opset = opset,
                       .n_in = n_in,
                       .in = (const struct tensor *const *)ins,
                       .n_out = n_out,
                       .out = outs};
    cr_assert_eq(op->backward(&io, (const struct tensor *const *)dout, din, &err), 0, "%s",
                 err.msg);
    const float h = 1e-2f;
    for (int i = 0; i < n_in; i++)
        for (size_t k = 0; k < tensor_numel(ins[i]); k++) {
            float *p = &tensor_f32(ins[i])[k], keep = *p;
            double loss[2];
            for (int side = 0; side < 2; side++) {
                *p = keep + (side ? h : -h);
                struct tensor *o2[4];
                cr_assert_eq(tu_op_run(op, nd, opset, (const struct tensor *const *)ins, n_in, o2,
                                       n_out, &err),
                             0, "%s", err.msg);
                loss[side] = 0.0;
                for (int o = 0; o < n_out; o++) {
                    for (size_t j = 0; j < tensor_numel(o2[o]); j++)
                        loss[side] += (double)tensor_f32(dout[o])[j] * tensor_f32(o2[o])[j];
                    tensor_free(o2[o]);
                }
            }
            *p = keep;
            double num = (loss[1] - loss[0]) / (2.0 * h), got = tensor_f32(din[i])[k];
            cr_expect(fabs(num - got) <= 2e-3 + 1e-2 * fabs(num),
                      "%s: d/d input %d [%zu]: backward %g, finite differences %g", nd->op_type, i,
                      k, got, num);
        }
    for (int o = 0; o < n_out; o++)
        tensor_free(outs[o]), tensor_free(dout[o]);
    for (int i = 0; i < n_in; i++)
        tensor_free(din[i]);
}

Test(layernorm, backward_matches_finite_differences_with_all_three_outputs)
{
    lcg_state = 11;
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 2, I64(3, 4), NULL),
                  *s = tu_tensor(DTYPE_FLOAT, 1, I64(4), NULL);
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(4), NULL);
    fill_random(x), fill_random(s), fill_random(b);
    struct node nd = {.name = "ln", .op_type = "LayerNormalization"};
    struct tensor *ins[] = {x, s, b};
    check_backward_numerically(&op_layernormalization, &nd, 17, ins, 3, 3, 5);
    tensor_free(x), tensor_free(s), tensor_free(b);
}

Test(layernorm, backward_matches_finite_differences_over_two_dims_with_a_broadcast_bias)
{
    lcg_state = 23;
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(2, 3, 2), NULL),
                  *s = tu_tensor(DTYPE_FLOAT, 2, I64(3, 2), NULL);
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 2, I64(1, 2), NULL);
    fill_random(x), fill_random(s), fill_random(b);
    struct attr at[] = {A_INT("axis", -2)};
    struct node nd = {.name = "ln", .op_type = "LayerNormalization", ATTRS(at)};
    struct tensor *ins[] = {x, s, b};
    check_backward_numerically(&op_layernormalization, &nd, 17, ins, 3, 1, 7);
    tensor_free(x), tensor_free(s), tensor_free(b);
}

/* ---- InstanceNormalization ---- */

Test(instancenorm, normalizes_each_channel_of_each_image)
{
    /* X [1,2,3]: channel 0 [1,2,3] -> mean 2, variance 2/3, 1/std = 1/sqrt(2/3 + 1e-5) =
     * 1.2247357; scale 2, B 1: 1 + 2 * 1.2247357 * [-1, 0, 1] = [-1.4494714, 1, 3.4494714].
     * Channel 1 [5,5,5] has variance 0: only B = -1 remains. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 2, 3), F32(1, 2, 3, 5, 5, 5));
    struct tensor *s = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(2, 4));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(1, -1));
    struct node nd = {.name = "in", .op_type = "InstanceNormalization"};
    const struct tensor *ins[] = {x, s, b};
    tu_check_op(&op_instancenormalization, &nd, 6, ins, 3, 3, I64(1, 2, 3),
                F32(-1.4494714f, 1, 3.4494714f, -1, -1, -1), 1e-5f);
    tensor_free(x), tensor_free(s), tensor_free(b);
}

Test(instancenorm, refuses_a_scale_not_one_per_channel)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 3, 2, 2), NULL);
    struct tensor *s = tu_tensor(DTYPE_FLOAT, 1, I64(2), NULL),
                  *b = tu_tensor(DTYPE_FLOAT, 1, I64(3), NULL);
    struct node nd = {.name = "inorm", .op_type = "InstanceNormalization"};
    const struct tensor *ins[] = {x, s, b};
    struct err err;
    tu_check_fails(&op_instancenormalization, &nd, 6, ins, 3, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'inorm' (InstanceNormalization)", "scale of shape [2]");
    tensor_free(x), tensor_free(s), tensor_free(b);
}

Test(instancenorm, backward_matches_finite_differences)
{
    lcg_state = 31;
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(2, 3, 2, 2), NULL),
                  *s = tu_tensor(DTYPE_FLOAT, 1, I64(3), NULL);
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(3), NULL);
    fill_random(x), fill_random(s), fill_random(b);
    struct node nd = {.name = "in", .op_type = "InstanceNormalization"};
    struct tensor *ins[] = {x, s, b};
    check_backward_numerically(&op_instancenormalization, &nd, 6, ins, 3, 1, 9);
    tensor_free(x), tensor_free(s), tensor_free(b);
}

/* ---- ConvTranspose ---- */

Test(convtranspose, strided_1d_spreads_each_input_over_the_kernel)
{
    /* X [1,2,3], W [1,1] (C 1, M 1): y[i*s + k] += x[i] * w[k].
     *   stride 2: out 2*(3-1) + 2 = 6 -> [1,1,2,2,3,3] (+ bias 0.5)
     *   stride 1: out 4              -> [1, 1+2, 2+3, 3] = [1,3,5,3] */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 3), F32(1, 2, 3));
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 2), F32(1, 1));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(0.5f));
    struct attr at[] = {A_INTS("strides", 2)};
    struct node n2 = {.name = "ct", .op_type = "ConvTranspose", ATTRS(at)};
    struct node n1 = {.name = "ct", .op_type = "ConvTranspose"};
    const struct tensor *ins[] = {x, w, b};
    tu_check_op(&op_convtranspose, &n2, 11, ins, 3, 3, I64(1, 1, 6),
                F32(1.5f, 1.5f, 2.5f, 2.5f, 3.5f, 3.5f), 1e-6f);
    tu_check_op(&op_convtranspose, &n1, 11, ins, 2, 3, I64(1, 1, 4), F32(1, 3, 5, 3), 1e-6f);
    tensor_free(x), tensor_free(w), tensor_free(b);
}

Test(convtranspose, output_shape_pads_the_end_with_bias)
{
    /* The stride-2 case above asked for 7 outputs: the total padding 6 - 7 = -1 goes to
     * the end (pads begin = -1 - floor(-1/2) = 0), so a 7th output holds the bias alone. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 3), F32(1, 2, 3));
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 2), F32(1, 1));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(0.5f));
    struct attr at[] = {A_INTS("strides", 2), A_INTS("output_shape", 7)};
    struct node nd = {.name = "ct", .op_type = "ConvTranspose", ATTRS(at)};
    const struct tensor *ins[] = {x, w, b};
    tu_check_op(&op_convtranspose, &nd, 11, ins, 3, 3, I64(1, 1, 7),
                F32(1.5f, 1.5f, 2.5f, 2.5f, 3.5f, 3.5f, 0.5f), 1e-6f);
    tensor_free(x), tensor_free(w), tensor_free(b);
}

struct ct_case {
    int nsp;
    int64_t n, c, m, group; /* m: all output channels */
    int64_t in[3], k[3], stride[3], dil[3], opad[3];
    int64_t pads[6];
    const char *auto_pad; /* NULL: explicit pads */
    bool output_shape;    /* ask for out_req instead of giving pads */
    int64_t out_req[3];
    bool bias;
};

/* Pads the ONNX formulas give for a requested size (Python's floor division). */
static void ref_pads(const struct ct_case *cc, int i, int64_t full, int64_t out, int64_t *pb,
                     int64_t *pe)
{
    int64_t total = full - out;
    int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
    bool upper = cc->auto_pad && strcmp(cc->auto_pad, "SAME_UPPER") == 0;
    *pb = upper ? half : total - half;
    *pe = total - *pb;
    (void)i;
}

/* The definition of ConvTranspose as a scatter: every input element x[n][c][i] adds
 * x * w[c][m][k] to y[n][g*M/group + m][i*s - pad_begin + k*d] for each tap k inside the
 * output, where g is c's group. */
static void run_ct_case(const struct ct_case *cc, uint32_t seed)
{
    int nsp = cc->nsp, rank = nsp + 2;
    int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, out[3] = {1, 1, 1};
    int64_t xd[5] = {cc->n, cc->c}, wd[5] = {cc->c, mg}, yd[5] = {cc->n, cc->m};
    for (int i = 0; i < nsp; i++) {
        in[i] = cc->in[i], k[i] = cc->k[i], s[i] = cc->stride[i], d[i] = cc->dil[i];
        int64_t full = s[i] * (in[i] - 1) + cc->opad[i] + (k[i] - 1) * d[i] + 1, pe;
        bool same = cc->auto_pad && strncmp(cc->auto_pad, "SAME", 4) == 0;
        if (cc->output_shape || same) {
            out[i] = cc->output_shape ? cc->out_req[i] : in[i] * s[i];
            ref_pads(cc, i, full, out[i], &pb[i], &pe);
        } else {
            pb[i] = cc->pads[i];
            out[i] = full - cc->pads[i] - cc->pads[nsp + i];
        }
        xd[2 + i] = in[i], wd[2 + i] = k[i], yd[2 + i] = out[i];
    }
    struct shape xs = shape_make(rank, xd), ws = shape_make(rank, wd), ys = shape_make(rank, yd);
    struct tensor *x = tu_tensor(DTYPE_FLOAT, rank, xd, NULL),
                  *w = tu_tensor(DTYPE_FLOAT, rank, wd, NULL);
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(cc->m), NULL);
    lcg_state = seed;
    fill_random(x), fill_random(w), fill_random(b);
    size_t ny = shape_numel(&ys);
    double *acc = calloc(ny, sizeof *acc);
    float *yv = malloc(ny * sizeof *yv);
    cr_assert(acc && yv);
    const float *xv = tensor_f32(x), *wv = tensor_f32(w), *bv = tensor_f32(b);
    for (int64_t n = 0; n < cc->n; n++)
        for (int64_t c = 0; c < cc->c; c++)
            for (int64_t i0 = 0; i0 < in[0]; i0++)
                for (int64_t i1 = 0; i1 < in[1]; i1++)
                    for (int64_t i2 = 0; i2 < in[2]; i2++) {
                        double xval =
                            xv[(((n * cc->c + c) * in[0] + i0) * in[1] + i1) * in[2] + i2];
                        int64_t g = c / cg;
                        for (int64_t m = 0; m < mg; m++)
                            for (int64_t k0 = 0; k0 < k[0]; k0++)
                                for (int64_t k1 = 0; k1 < k[1]; k1++)
                                    for (int64_t k2 = 0; k2 < k[2]; k2++) {
                                        int64_t y0 = i0 * s[0] - pb[0] + k0 * d[0];
                                        int64_t y1 = i1 * s[1] - pb[1] + k1 * d[1];
                                        int64_t y2 = i2 * s[2] - pb[2] + k2 * d[2];
                                        if (y0 < 0 || y0 >= out[0] || y1 < 0 || y1 >= out[1] ||
                                            y2 < 0 || y2 >= out[2])
                                            continue;
                                        int64_t mo = g * mg + m;
                                        double wval =
                                            wv[(((c * mg + m) * k[0] + k0) * k[1] + k1) * k[2] +
                                               k2];
                                        acc[(((n * cc->m + mo) * out[0] + y0) * out[1] + y1) *
                                                out[2] +
                                            y2] += xval * wval;
                                    }
                    }
    int64_t vol = (int64_t)(ny / (size_t)(cc->n * cc->m));
    for (size_t j = 0; j < ny; j++)
        yv[j] = (float)(acc[j] + (cc->bias ? bv[(int64_t)j / vol % cc->m] : 0.0));

    int64_t strides[3], dil[3], pads[6], opad[3], oshape[3];
    memcpy(strides, cc->stride, sizeof strides);
    memcpy(dil, cc->dil, sizeof dil);
    memcpy(pads, cc->pads, sizeof pads);
    memcpy(opad, cc->opad, sizeof opad);
    memcpy(oshape, cc->out_req, sizeof oshape);
    struct attr at[7] = {
        {.name = "strides", .type = ATTR_INTS, .ints = strides, .n = (size_t)nsp},
        {.name = "dilations", .type = ATTR_INTS, .ints = dil, .n = (size_t)nsp},
        {.name = "output_padding", .type = ATTR_INTS, .ints = opad, .n = (size_t)nsp},
        {.name = "group", .type = ATTR_INT, .i = cc->group},
    };
    int n_at = 4;
    if (cc->output_shape)
        at[n_at++] = (struct attr){
            .name = "output_shape", .type = ATTR_INTS, .ints = oshape, .n = (size_t)nsp};
    if (cc->auto_pad)
        at[n_at++] =
            (struct attr){.name = "auto_pad", .type = ATTR_STRING, .s = (char *)cc->auto_pad};
    else if (!cc->output_shape)
        at[n_at++] =
            (struct attr){.name = "pads", .type = ATTR_INTS, .ints = pads, .n = 2 * (size_t)nsp};
    struct node nd = {.name = "rct", .op_type = "ConvTranspose", .n_attrs = n_at, .attrs = at};
    struct tensor *want = tu_tensor(DTYPE_FLOAT, rank, yd, yv);
    const struct tensor *ins[] = {x, w, b};
    struct tensor *y;
    struct err err;
    cr_assert_eq(tu_run1(&op_convtranspose, &nd, 11, ins, cc->bias ? 3 : 2, &y, &err), 0,
                 "seed %u: %s", seed, err.msg);
    struct tu_compare cmp = tu_compare(y, want, 1e-4, 1e-4);
    cr_expect(cmp.ok, "seed %u (nsp %d, group %lld): %s", seed, nsp, (long long)cc->group, cmp.why);
    struct op_io io = {.node = &nd, .opset = 11, .n_in = 2, .in = ins, .n_out = 1, .out = &y};
    cr_expect_float_eq(op_convtranspose.macs(&io),
                       (double)shape_numel(&xs) * (double)shape_numel(&ws) / (double)cc->c, 1e-9);
    tensor_free(x), tensor_free(w), tensor_free(b), tensor_free(want), tensor_free(y);
    free(acc), free(yv);
}

Test(convtranspose, matches_a_naive_scatter_add_on_random_cases)
{
    static const struct ct_case cases[] = {
        /* 2-D, batch 2, group 2, strides and dilations per dim, asymmetric pads,
         * output_padding. */
        {.nsp = 2,
         .n = 2,
         .c = 4,
         .m = 6,
         .group = 2,
         .in = {3, 4},
         .k = {3, 2},
         .stride = {2, 3},
         .dil = {1, 2},
         .opad = {1, 2},
         .pads = {1, 0, 2, 1},
         .bias = true},
        /* 1-D, stride 3, dilation 2, uneven pads, no bias. */
        {.nsp = 1,
         .n = 3,
         .c = 2,
         .m = 3,
         .group = 1,
         .in = {5},
         .k = {4},
         .stride = {3},
         .dil = {2},
         .opad = {1},
         .pads = {2, 1}},
        /* 3-D, group 1, strides 2 and 1. */
        {.nsp = 3,
         .n = 1,
         .c = 3,
         .m = 2,
         .group = 1,
         .in = {2, 3, 2},
         .k = {2, 2, 3},
         .stride = {2, 1, 2},
         .dil = {1, 1, 1},
         .pads = {0, 1, 1, 1, 0, 0},
         .bias = true},
        /* Depthwise (group = C, one output per group), 2-D, SAME_UPPER. */
        {.nsp = 2,
         .n = 1,
         .c = 3,
         .m = 3,
         .group = 3,
         .in = {3, 3},
         .k = {3, 3},
         .stride = {2, 2},
         .dil = {1, 1},
         .auto_pad = "SAME_UPPER",
         .bias = true},
        /* SAME_LOWER with odd total padding, 1-D. */
        {.nsp = 1,
         .n = 2,
         .c = 2,
         .m = 2,
         .group = 1,
         .in = {4},
         .k = {4},
         .stride = {2},
         .dil = {1},
         .auto_pad = "SAME_LOWER"},
        /* output_shape larger and smaller than the natural size. */
        {.nsp = 2,
         .n = 1,
         .c = 2,
         .m = 4,
         .group = 2,
         .in = {3, 3},
         .k = {3, 3},
         .stride = {3, 2},
         .dil = {1, 1},
         .output_shape = true,
         .out_req = {10, 6},
         .bias = true},
        /* 1x1 kernel, stride 1, no pads: the GEMM writes the output directly. */
        {.nsp = 2,
         .n = 2,
         .c = 3,
         .m = 4,
         .group = 1,
         .in = {2, 3},
         .k = {1, 1},
         .stride = {1, 1},
         .dil = {1, 1},
         .bias = true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_ct_case(&cases[i], 4242u + 7919u * (uint32_t)i);
}

Test(convtranspose, refuses_bad_weights_and_attributes_naming_them)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 4, 3, 3), NULL);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(2, 1, 2, 2), NULL);
    struct tensor *w4 = tu_tensor(DTYPE_FLOAT, 4, I64(4, 1, 2, 2), NULL);
    struct err err;
    struct node nd = {.name = "dec", .op_type = "ConvTranspose"};
    const struct tensor *i1[] = {x, w};
    tu_check_fails(&op_convtranspose, &nd, 11, i1, 2, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'dec' (ConvTranspose)", "C = 4");

    struct attr op[] = {A_INTS("strides", 2, 2), A_INTS("output_padding", 2, 0)};
    struct node no = {.name = "dec2", .op_type = "ConvTranspose", ATTRS(op)};
    const struct tensor *i2[] = {x, w4};
    tu_check_fails(&op_convtranspose, &no, 11, i2, 2, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'dec2' (ConvTranspose)", "output_padding[0] = 2");

    struct attr ap[] = {A_STR("auto_pad", "SAME")};
    struct node na = {.name = "dec3", .op_type = "ConvTranspose", ATTRS(ap)};
    tu_check_fails(&op_convtranspose, &na, 11, i2, 2, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'dec3' (ConvTranspose)", "auto_pad is 'SAME'");

    struct attr gr[] = {A_INT("group", 3)};
    struct node ng = {.name = "dec4", .op_type = "ConvTranspose", ATTRS(gr)};
    tu_check_fails(&op_convtranspose, &ng, 11, i2, 2, ERR_FAILED, &err);
    tu_expect_error(&err, "node 'dec4' (ConvTranspose)", "group = 3");
    tensor_free(x), tensor_free(w), tensor_free(w4);
}

/* ---- 1-D Conv and pooling (audio models) ---- */

Test(spatial_1d, conv_with_stride_pads_and_dilation)
{
    /* X [1,2,3,4,5], W [1,0,-1] dilation 2 (taps i, i+2, i+4), pads [2,2], stride 2:
     * padded 0 0 1 2 3 4 5 0 0, windows at 0, 2, 4: 0 - 3 = -3, 1 - 5 = -4, 3 - 0 = 3;
     * plus bias 1. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 5), F32(1, 2, 3, 4, 5));
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 3), F32(1, 0, -1));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(1));
    struct attr at[] = {A_INTS("pads", 2, 2), A_INTS("strides", 2), A_INTS("dilations", 2)};
    struct node nd = {.name = "c1", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w, b};
    tu_check_op(&op_conv, &nd, 13, ins, 3, 3, I64(1, 1, 3), F32(-2, -3, 4), 1e-6f);
    tensor_free(x), tensor_free(w), tensor_free(b);
}

Test(spatial_1d, maxpool_and_averagepool_with_pads)
{
    /* X [1,5,2,4], kernel 2, stride 2, pads [1,1]: windows {pad,1}, {5,2}, {4,pad}.
     *   MaxPool: 1, 5, 4
     *   AveragePool: 1, 3.5, 4 (pads not counted); with count_include_pad: .5, 3.5, 2 */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 4), F32(1, 5, 2, 4));
    struct attr at[] = {A_INTS("kernel_shape", 2), A_INTS("strides", 2), A_INTS("pads", 1, 1)};
    struct attr ac[] = {A_INTS("kernel_shape", 2), A_INTS("strides", 2), A_INTS("pads", 1, 1),
                        A_INT("count_include_pad", 1)};
    struct node nm = {.name = "mp", .op_type = "MaxPool", ATTRS(at)};
    struct node na = {.name = "ap", .op_type = "AveragePool", ATTRS(at)};
    struct node nc = {.name = "ap", .op_type = "AveragePool", ATTRS(ac)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nm, 12, ins, 1, 3, I64(1, 1, 3), F32(1, 5, 4), 0.0f);
    tu_check_op(&op_averagepool, &na, 11, ins, 1, 3, I64(1, 1, 3), F32(1, 3.5f, 4), 1e-6f);
    tu_check_op(&op_averagepool, &nc, 11, ins, 1, 3, I64(1, 1, 3), F32(0.5f, 3.5f, 2), 1e-6f);
    tensor_free(x);
}

Test(spatial_1d, global_average_pool_over_time)
{
    /* [N 1, C 2, T 4]: means 2.5 and -1. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 2, 4), F32(1, 2, 3, 4, -1, -2, 0, -1));
    struct node nd = {.name = "gap", .op_type = "GlobalAveragePool"};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_globalaveragepool, &nd, 11, ins, 1, 3, I64(1, 2, 1), F32(2.5f, -1), 1e-6f);
    tensor_free(x);
}
