/* Conv, MaxPool, AveragePool, GlobalAveragePool and BatchNormalization checked against
 * values worked out by hand in the comments, and Conv against a naive direct-convolution
 * loop written here (no im2col, no GEMM) over seeded random shapes, plus their refusals. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"
#include "testutil.h"

extern const struct op_def op_conv, op_maxpool, op_averagepool, op_globalaveragepool,
    op_batchnormalization;

/* ---- Conv: hand-checked cases ---- */

/* The 3x3 image used below: X[i][j] = 3i + j + 1, i.e.
 *   1 2 3
 *   4 5 6
 *   7 8 9 */
#define X3x3 F32(1, 2, 3, 4, 5, 6, 7, 8, 9)

Test(conv, basic_2d_with_bias)
{
    /* W0 = [[1,2],[3,4]], b0 = 0.5: y = x[i][j] + 2x[i][j+1] + 3x[i+1][j] + 4x[i+1][j+1] + .5
     *   (0,0): 1+4+12+20 = 37   (0,1): 2+6+15+24 = 47
     *   (1,0): 4+10+21+32 = 67  (1,1): 5+12+24+36 = 77
     * W1 = [[0,0],[0,1]], b1 = -1: y = x[i+1][j+1] - 1 = 4, 5, 7, 8. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(2, 1, 2, 2), F32(1, 2, 3, 4, 0, 0, 0, 1));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(0.5f, -1));
    struct node nd = {.name = "conv", .op_type = "Conv"};
    const struct tensor *ins[] = {x, w, b};
    tu_check_op(&op_conv, &nd, 13, ins, 3, 4, I64(1, 2, 2, 2),
                F32(37.5f, 47.5f, 67.5f, 77.5f, 4, 5, 7, 8), 1e-5f);
    tensor_free(x), tensor_free(w), tensor_free(b);
}

Test(conv, without_bias)
{
    /* Two inputs only: the W0 sums above, no bias. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), F32(1, 2, 3, 4));
    struct node nd = {.name = "conv", .op_type = "Conv"};
    const struct tensor *ins[] = {x, w};
    tu_check_op(&op_conv, &nd, 13, ins, 2, 4, I64(1, 1, 2, 2), F32(37, 47, 67, 77), 1e-5f);
    tensor_free(x), tensor_free(w);
}

Test(conv, asymmetric_pads_and_strides)
{
    /* pads [top 1, left 0, bottom 0, right 1], strides 2: the padded image is
     *   0 0 0 0
     *   1 2 3 0
     *   4 5 6 0
     *   7 8 9 0
     * (4x4; (4-2)/2+1 = 2 outputs per dim), windows at rows {0,2} x cols {0,2} with
     * W = [[1,2],[3,4]]:
     *   (0,0): 0+0+3*1+4*2 = 11    (0,1): 0+0+3*3+4*0 = 9
     *   (1,0): 4+10+21+32 = 67     (1,1): 6+0+27+0 = 33 */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), F32(1, 2, 3, 4));
    struct attr at[] = {A_INTS("pads", 1, 0, 0, 1), A_INTS("strides", 2, 2)};
    struct node nd = {.name = "conv", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    tu_check_op(&op_conv, &nd, 13, ins, 2, 4, I64(1, 1, 2, 2), F32(11, 9, 67, 33), 1e-5f);
    tensor_free(x), tensor_free(w);
}

Test(conv, dilations_per_dim)
{
    /* X 4x4 with v = X[i][j] = 4i + j; W = [[1,2],[3,4]], dilations [2,1]: the taps are
     * (i,j), (i,j+1), (i+2,j), (i+2,j+1), so the effective kernel is 3x2 and the output is
     * 2x3. y = v + 2(v+1) + 3(v+8) + 4(v+9) = 10v + 62 for v = 0,1,2,4,5,6. */
    float xv[16];
    for (int i = 0; i < 16; i++)
        xv[i] = (float)i;
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 4, 4), xv);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), F32(1, 2, 3, 4));
    struct attr at[] = {A_INTS("dilations", 2, 1)};
    struct node nd = {.name = "conv", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    tu_check_op(&op_conv, &nd, 13, ins, 2, 4, I64(1, 1, 2, 3), F32(62, 72, 82, 102, 112, 122),
                1e-5f);
    tensor_free(x), tensor_free(w);
}

Test(conv, group_2)
{
    /* C = 4, M = 4, group 2: outputs 0,1 see channels 0,1 only, outputs 2,3 channels 2,3.
     * X channels (1x2 each): c0 = [1,2], c1 = [3,4], c2 = [5,6], c3 = [7,8]; W is [4,2,1,2]:
     *   y0 = c0.[1,0] + c1.[0,1]  = 1 + 4           = 5,    + 0.5 = 5.5
     *   y1 = c0.[1,1] + c1.[1,1]  = 3 + 7           = 10,   + 0   = 10
     *   y2 = c2.[1,1] + c3.[-1,2] = 11 + (-7 + 16)  = 20,   + 0   = 20
     *   y3 = c2.[0,-1] + c3.[0,0] = -6              = -6,   + 1   = -5
     * (Ignoring group would make W's 2 channels disagree with C = 4.) */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 4, 1, 2), F32(1, 2, 3, 4, 5, 6, 7, 8));
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(4, 2, 1, 2),
                                 F32(1, 0, 0, 1, 1, 1, 1, 1, 1, 1, -1, 2, 0, -1, 0, 0));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(4), F32(0.5f, 0, 0, 1));
    struct attr at[] = {A_INT("group", 2)};
    struct node nd = {.name = "conv", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w, b};
    tu_check_op(&op_conv, &nd, 13, ins, 3, 4, I64(1, 4, 1, 1), F32(5.5f, 10, 20, -5), 1e-5f);
    tensor_free(x), tensor_free(w), tensor_free(b);
}

Test(conv, depthwise_group_equals_channels)
{
    /* group = C = 2, M = 2: each channel convolved with its own 2x2 kernel.
     * c0 = X3x3 with [[1,2],[3,4]] -> 37 47 67 77, bias +1 -> 38 48 68 78.
     * c1 = 10 * X3x3 with [[0,0],[0,1]] -> bottom-right taps 50 60 80 90, bias -1. */
    float xv[18];
    for (int i = 0; i < 9; i++) {
        xv[i] = (float)(i + 1);
        xv[9 + i] = 10.0f * (float)(i + 1);
    }
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 2, 3, 3), xv);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(2, 1, 2, 2), F32(1, 2, 3, 4, 0, 0, 0, 1));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(1, -1));
    struct attr at[] = {A_INT("group", 2)};
    struct node nd = {.name = "dw", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w, b};
    tu_check_op(&op_conv, &nd, 13, ins, 3, 4, I64(1, 2, 2, 2), F32(38, 48, 68, 78, 49, 59, 79, 89),
                1e-5f);
    tensor_free(x), tensor_free(w), tensor_free(b);
}

Test(conv, depthwise_with_padding)
{
    /* group = C = 2, pads 1: channel 0 (X3x3) with a 3x3 all-ones kernel gives the box sums
     * of each clipped 3x3 neighbourhood, channel 1 (X3x3 again) with a centre-only kernel
     * gives itself back. Box sums: corners 1+2+4+5 = 12, 2+3+5+6 = 16, 4+5+7+8 = 24,
     * 5+6+8+9 = 28; edges 1+2+3+4+5+6 = 21 (top), 1+2+4+5+7+8 = 27 (left),
     * 2+3+5+6+8+9 = 33 (right), 4+5+6+7+8+9 = 39 (bottom); centre 45. */
    float xv[18];
    for (int i = 0; i < 9; i++)
        xv[i] = xv[9 + i] = (float)(i + 1);
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 2, 3, 3), xv);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(2, 1, 3, 3),
                                 F32(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0));
    struct attr at[] = {A_INT("group", 2), A_INTS("pads", 1, 1, 1, 1)};
    struct node nd = {.name = "dw", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    tu_check_op(&op_conv, &nd, 13, ins, 2, 4, I64(1, 2, 3, 3),
                F32(12, 21, 16, 27, 45, 33, 24, 39, 28, 1, 2, 3, 4, 5, 6, 7, 8, 9), 1e-5f);
    tensor_free(x), tensor_free(w);
}

Test(conv, pointwise_1x1_over_a_batch)
{
    /* X [2,3,2,2]: image 0 has c0 = 1..4, c1 = 10..40, c2 = 100..400; image 1 = -image 0.
     * W0 = [1,1,1], b0 = 0: 111 222 333 444 (image 1: negated).
     * W1 = [1,-1,0.5], b1 = 1: 1-10+50 = 41 -> 42, 82 -> 83, 123 -> 124, 164 -> 165;
     * image 1: -41+1 = -40, -81, -122, -163. */
    float xv[24];
    for (int i = 0; i < 4; i++) {
        xv[i] = (float)(i + 1);
        xv[4 + i] = 10.0f * (float)(i + 1);
        xv[8 + i] = 100.0f * (float)(i + 1);
    }
    for (int i = 0; i < 12; i++)
        xv[12 + i] = -xv[i];
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(2, 3, 2, 2), xv);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(2, 3, 1, 1), F32(1, 1, 1, 1, -1, 0.5f));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(0, 1));
    struct node nd = {.name = "pw", .op_type = "Conv"};
    const struct tensor *ins[] = {x, w, b};
    tu_check_op(
        &op_conv, &nd, 13, ins, 3, 4, I64(2, 2, 2, 2),
        F32(111, 222, 333, 444, 42, 83, 124, 165, -111, -222, -333, -444, -40, -81, -122, -163),
        1e-4f);
    tensor_free(x), tensor_free(w), tensor_free(b);
}

Test(conv, one_dimensional)
{
    /* X = [1,2,3,4,5], W = [1,0,-1], pads [1,1], strides 2: padded 0 1 2 3 4 5 0 (7), so
     * (7-3)/2+1 = 3 windows starting at 0, 2, 4: 0-2 = -2, 2-4 = -2, 4-0 = 4. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 5), F32(1, 2, 3, 4, 5));
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 3), F32(1, 0, -1));
    struct attr at[] = {A_INTS("pads", 1, 1), A_INTS("strides", 2)};
    struct node nd = {.name = "c1d", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    tu_check_op(&op_conv, &nd, 13, ins, 2, 3, I64(1, 1, 3), F32(-2, -2, 4), 1e-5f);
    tensor_free(x), tensor_free(w);
}

Test(conv, auto_pad_same_upper_puts_the_odd_pad_at_the_end)
{
    /* 2x2 kernel, stride 1 on 3x3: output 3x3, total pad (3-1)+2-3 = 1 per dim, put at the
     * end (bottom/right) by SAME_UPPER. Padded image = X3x3 with a zero row below and a zero
     * column right; with W = [[1,2],[3,4]]:
     *   37 47 3+18=21 / 67 77 6+27=33 / 7+16=23 8+18=26 9 */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), F32(1, 2, 3, 4));
    struct attr at[] = {A_STR("auto_pad", "SAME_UPPER")};
    struct node nd = {.name = "conv", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    tu_check_op(&op_conv, &nd, 13, ins, 2, 4, I64(1, 1, 3, 3),
                F32(37, 47, 21, 67, 77, 33, 23, 26, 9), 1e-5f);
    tensor_free(x), tensor_free(w);
}

Test(conv, auto_pad_same_lower_puts_the_odd_pad_at_the_begin)
{
    /* As above with the zero row on top and the zero column left:
     *   (0,0): 4*1 = 4          (0,1): 3*1+4*2 = 11     (0,2): 3*2+4*3 = 18
     *   (1,0): 2*1+4*4 = 18     (1,1): 37               (1,2): 47
     *   (2,0): 2*4+4*7 = 36     (2,1): 67               (2,2): 77 */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), F32(1, 2, 3, 4));
    struct attr at[] = {A_STR("auto_pad", "SAME_LOWER")};
    struct node nd = {.name = "conv", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    tu_check_op(&op_conv, &nd, 13, ins, 2, 4, I64(1, 1, 3, 3),
                F32(4, 11, 18, 18, 37, 47, 36, 67, 77), 1e-5f);
    tensor_free(x), tensor_free(w);
}

Test(conv, auto_pad_same_with_stride_2_in_1d)
{
    /* X = 1..5, W = [1,10], stride 2: output ceil(5/2) = 3, total pad (3-1)*2+2-5 = 1.
     * SAME_UPPER (pad end): windows (1,2) (3,4) (5,0): 21, 43, 5.
     * SAME_LOWER (pad begin): windows (0,1) (2,3) (4,5): 10, 32, 54. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 5), F32(1, 2, 3, 4, 5));
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 2), F32(1, 10));
    const struct tensor *ins[] = {x, w};
    struct attr up[] = {A_STR("auto_pad", "SAME_UPPER"), A_INTS("strides", 2)};
    struct node nu = {.name = "up", .op_type = "Conv", ATTRS(up)};
    tu_check_op(&op_conv, &nu, 13, ins, 2, 3, I64(1, 1, 3), F32(21, 43, 5), 1e-5f);
    struct attr lo[] = {A_STR("auto_pad", "SAME_LOWER"), A_INTS("strides", 2)};
    struct node nl = {.name = "lo", .op_type = "Conv", ATTRS(lo)};
    tu_check_op(&op_conv, &nl, 13, ins, 2, 3, I64(1, 1, 3), F32(10, 32, 54), 1e-5f);
    tensor_free(x), tensor_free(w);
}

Test(conv, auto_pad_valid_ignores_pads)
{
    /* VALID: no padding at all, whatever the pads attribute says: the 2x2 basic result. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), F32(1, 2, 3, 4));
    struct attr at[] = {A_STR("auto_pad", "VALID")};
    struct node nd = {.name = "conv", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    tu_check_op(&op_conv, &nd, 13, ins, 2, 4, I64(1, 1, 2, 2), F32(37, 47, 67, 77), 1e-5f);
    tensor_free(x), tensor_free(w);
}

Test(conv, matching_kernel_shape_is_accepted)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), F32(1, 2, 3, 4));
    struct attr at[] = {A_INTS("kernel_shape", 2, 2)};
    struct node nd = {.name = "conv", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    tu_check_op(&op_conv, &nd, 13, ins, 2, 4, I64(1, 1, 2, 2), F32(37, 47, 67, 77), 1e-5f);
    tensor_free(x), tensor_free(w);
}

Test(conv, padding_makes_room_for_a_kernel_larger_than_the_input)
{
    /* 2x2 input [[1,2],[3,4]], 3x3 all-ones kernel, pads 1: padded 4x4, 2x2 outputs whose
     * windows each cover the whole input: 1+2+3+4 = 10. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), F32(1, 2, 3, 4));
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), F32(1, 1, 1, 1, 1, 1, 1, 1, 1));
    struct attr at[] = {A_INTS("pads", 1, 1, 1, 1)};
    struct node nd = {.name = "conv", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    tu_check_op(&op_conv, &nd, 13, ins, 2, 4, I64(1, 1, 2, 2), F32(10, 10, 10, 10), 1e-5f);
    tensor_free(x), tensor_free(w);
}

/* ---- Conv: against a naive reference over random cases ---- */

/* A small LCG (Numerical Recipes constants): values in [-1, 1). */
static uint32_t lcg_state;

static float lcg_float(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)(lcg_state >> 8) / 8388608.0f - 1.0f;
}

struct conv_case {
    int nsp;
    int64_t n, c, m, group;
    int64_t in[3], k[3], stride[3], dil[3];
    int64_t pads[6]; /* nsp begins, then nsp ends */
    bool bias;
    bool kernel_shape_attr;
    float zeros; /* this share of the weights set to 0, and output channels 4-7 all 0 */
};

/* Output size of one dim by the ONNX formula floor((in + pb + pe - ((k-1)d+1)) / s) + 1. */
static int64_t ref_out_dim(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe)
{
    return (in + pb + pe - ((k - 1) * d + 1)) / s + 1;
}

/* The definition of Conv, one output element at a time:
 *   y[n][m][o] = b[m] + sum over ci < C/group, kernel taps k of
 *                w[m][ci][k] * x[n][g*C/group + ci][o*s - pad_begin + k*d]
 * with g = m / (M/group) and taps outside the input contributing nothing. Spatial dims past
 * nsp are treated as size 1 (appended at the end), accumulation is in double. */
static void ref_conv(const struct conv_case *cc, const float *x, const float *w, const float *b,
                     float *y)
{
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, out[3] = {1, 1, 1};
    for (int i = 0; i < cc->nsp; i++) {
        in[i] = cc->in[i], k[i] = cc->k[i], s[i] = cc->stride[i], d[i] = cc->dil[i];
        pb[i] = cc->pads[i];
        out[i] = ref_out_dim(in[i], k[i], s[i], d[i], cc->pads[i], cc->pads[cc->nsp + i]);
    }
    int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
    for (int64_t n = 0; n < cc->n; n++)
        for (int64_t m = 0; m < cc->m; m++)
            for (int64_t o0 = 0; o0 < out[0]; o0++)
                for (int64_t o1 = 0; o1 < out[1]; o1++)
                    for (int64_t o2 = 0; o2 < out[2]; o2++) {
                        double acc = b ? b[m] : 0.0;
                        int64_t g = m / mg;
                        for (int64_t ci = 0; ci < cg; ci++)
                            for (int64_t k0 = 0; k0 < k[0]; k0++)
                                for (int64_t k1 = 0; k1 < k[1]; k1++)
                                    for (int64_t k2 = 0; k2 < k[2]; k2++) {
                                        int64_t i0 = o0 * s[0] - pb[0] + k0 * d[0];
                                        int64_t i1 = o1 * s[1] - pb[1] + k1 * d[1];
                                        int64_t i2 = o2 * s[2] - pb[2] + k2 * d[2];
                                        if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] ||
                                            i2 < 0 || i2 >= in[2])
                                            continue;
                                        int64_t xc = n * cc->c + g * cg + ci;
                                        double xv =
                                            x[((xc * in[0] + i0) * in[1] + i1) * in[2] + i2];
                                        double wv =
                                            w[(((m * cg + ci) * k[0] + k0) * k[1] + k1) * k[2] +
                                              k2];
                                        acc += xv * wv;
                                    }
                        y[(((n * cc->m + m) * out[0] + o0) * out[1] + o1) * out[2] + o2] =
                            (float)acc;
                    }
}

static void run_random_case(const struct conv_case *cc, uint32_t seed)
{
    int nsp = cc->nsp, rank = nsp + 2;
    int64_t xd[5] = {cc->n, cc->c}, wd[5] = {cc->m, cc->c / cc->group}, yd[5] = {cc->n, cc->m};
    for (int i = 0; i < nsp; i++) {
        xd[2 + i] = cc->in[i];
        wd[2 + i] = cc->k[i];
        yd[2 + i] = ref_out_dim(cc->in[i], cc->k[i], cc->stride[i], cc->dil[i], cc->pads[i],
                                cc->pads[nsp + i]);
    }
    struct shape xs = shape_make(rank, xd), ws = shape_make(rank, wd), ys = shape_make(rank, yd);
    size_t nx = shape_numel(&xs), nw = shape_numel(&ws), ny = shape_numel(&ys);
    float *xv = malloc(nx * sizeof *xv), *wv = malloc(nw * sizeof *wv);
    float *bv = malloc((size_t)cc->m * sizeof *bv), *yv = malloc(ny * sizeof *yv);
    cr_assert(xv && wv && bv && yv);
    lcg_state = seed;
    for (size_t i = 0; i < nx; i++)
        xv[i] = lcg_float();
    for (size_t i = 0; i < nw; i++)
        wv[i] = lcg_float();
    if (cc->zeros > 0) {
        size_t per_m = nw / (size_t)cc->m;
        for (size_t i = 0; i < nw; i++)
            if ((lcg_float() + 1.0f) / 2.0f < cc->zeros || (i / per_m >= 4 && i / per_m < 8))
                wv[i] = 0.0f;
    }
    for (int64_t i = 0; i < cc->m; i++)
        bv[i] = lcg_float();
    ref_conv(cc, xv, wv, cc->bias ? bv : NULL, yv);

    int64_t strides[3], dil[3], pads[6], ks[3];
    memcpy(strides, cc->stride, sizeof strides);
    memcpy(dil, cc->dil, sizeof dil);
    memcpy(pads, cc->pads, sizeof pads);
    memcpy(ks, cc->k, sizeof ks);
    struct attr at[5] = {
        {.name = "strides", .type = ATTR_INTS, .ints = strides, .n = (size_t)nsp},
        {.name = "dilations", .type = ATTR_INTS, .ints = dil, .n = (size_t)nsp},
        {.name = "pads", .type = ATTR_INTS, .ints = pads, .n = 2 * (size_t)nsp},
        {.name = "group", .type = ATTR_INT, .i = cc->group},
        {.name = "kernel_shape", .type = ATTR_INTS, .ints = ks, .n = (size_t)nsp},
    };
    /* ONNX pads are [begin..., end...]: copy them in that order (cc->pads already is). */
    struct node nd = {
        .name = "rconv", .op_type = "Conv", .n_attrs = cc->kernel_shape_attr ? 5 : 4, .attrs = at};
    struct tensor *x = tu_tensor(DTYPE_FLOAT, rank, xd, xv),
                  *w = tu_tensor(DTYPE_FLOAT, rank, wd, wv);
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(cc->m), bv),
                  *want = tu_tensor(DTYPE_FLOAT, rank, yd, yv);
    const struct tensor *ins[] = {x, w, b};
    struct tensor *y;
    struct err err;
    cr_assert_eq(tu_run1(&op_conv, &nd, 13, ins, cc->bias ? 3 : 2, &y, &err), 0, "seed %u: %s",
                 seed, err.msg);
    struct tu_compare cmp = tu_compare(y, want, 1e-4, 1e-4);
    cr_expect(cmp.ok, "seed %u (nsp %d, group %lld): %s", seed, nsp, (long long)cc->group, cmp.why);
    tensor_free(x), tensor_free(w), tensor_free(b), tensor_free(want), tensor_free(y);
    free(xv), free(wv), free(bv), free(yv);
}

Test(conv, matches_a_naive_reference_on_random_cases)
{
    static const struct conv_case cases[] = {
        /* 2-D, batch 3, group 2 (2 in / 3 out channels per group), mixed strides,
         * dilations and asymmetric pads. */
        {.nsp = 2,
         .n = 3,
         .c = 4,
         .m = 6,
         .group = 2,
         .in = {5, 6},
         .k = {3, 2},
         .stride = {2, 1},
         .dil = {1, 2},
         .pads = {1, 0, 2, 1},
         .bias = true},
        /* 1-D with stride 3, dilation 2, uneven pads. */
        {.nsp = 1,
         .n = 1,
         .c = 3,
         .m = 5,
         .group = 1,
         .in = {11},
         .k = {4},
         .stride = {3},
         .dil = {2},
         .pads = {2, 1},
         .bias = true,
         .kernel_shape_attr = true},
        /* 3-D, batch 2, no bias. */
        {.nsp = 3,
         .n = 2,
         .c = 2,
         .m = 4,
         .group = 1,
         .in = {4, 5, 3},
         .k = {2, 3, 2},
         .stride = {1, 2, 1},
         .dil = {1, 1, 1},
         .pads = {1, 0, 1, 0, 1, 1}},
        /* Depthwise (group = C = M), batch 3, stride 2, dilation in W, pads 1. */
        {.nsp = 2,
         .n = 3,
         .c = 3,
         .m = 3,
         .group = 3,
         .in = {7, 6},
         .k = {3, 3},
         .stride = {2, 2},
         .dil = {1, 2},
         .pads = {1, 1, 1, 1},
         .bias = true,
         .kernel_shape_attr = true},
        /* Depthwise with a channel multiplier of 2 (group = C, M = 2C). */
        {.nsp = 2,
         .n = 2,
         .c = 2,
         .m = 4,
         .group = 2,
         .in = {4, 4},
         .k = {2, 2},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {0, 0, 0, 0},
         .bias = true},
        /* Pointwise 1x1, batch 3. */
        {.nsp = 2,
         .n = 3,
         .c = 5,
         .m = 7,
         .group = 1,
         .in = {3, 4},
         .k = {1, 1},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {0, 0, 0, 0},
         .bias = true},
        /* 1x1 with stride 2 (not a plain pointwise copy). */
        {.nsp = 2,
         .n = 1,
         .c = 3,
         .m = 2,
         .group = 1,
         .in = {5, 5},
         .k = {1, 1},
         .stride = {2, 2},
         .dil = {1, 1},
         .pads = {0, 0, 0, 0}},
        /* 1x1 with pads: the border outputs are the bias alone. */
        {.nsp = 2,
         .n = 2,
         .c = 2,
         .m = 3,
         .group = 1,
         .in = {2, 3},
         .k = {1, 1},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {1, 0, 0, 2},
         .bias = true},
        /* Pads larger than the kernel: whole rows/columns of windows in the padding. */
        {.nsp = 2,
         .n = 1,
         .c = 2,
         .m = 3,
         .group = 1,
         .in = {3, 3},
         .k = {2, 2},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {3, 0, 0, 3},
         .bias = true},
        /* 1-D depthwise, batch 2, stride 3, dilation 2, end pad only. */
        {.nsp = 1,
         .n = 2,
         .c = 4,
         .m = 4,
         .group = 4,
         .in = {10},
         .k = {3},
         .stride = {3},
         .dil = {2},
         .pads = {0, 2},
         .bias = true},
        /* 3-D depthwise. */
        {.nsp = 3,
         .n = 1,
         .c = 2,
         .m = 2,
         .group = 2,
         .in = {3, 4, 5},
         .k = {2, 2, 3},
         .stride = {2, 1, 2},
         .dil = {1, 2, 1},
         .pads = {0, 1, 1, 1, 0, 1}},
        /* group 3 with 2 in / 2 out channels per group, batch 3. */
        {.nsp = 2,
         .n = 3,
         .c = 6,
         .m = 6,
         .group = 3,
         .in = {4, 5},
         .k = {2, 3},
         .stride = {1, 2},
         .dil = {1, 1},
         .pads = {0, 1, 1, 0},
         .bias = true},
        /* A kernel as large as the padded input: a single output per image. */
        {.nsp = 2,
         .n = 3,
         .c = 3,
         .m = 2,
         .group = 1,
         .in = {3, 4},
         .k = {4, 4},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {1, 0, 0, 0},
         .bias = true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_random_case(&cases[i], 12345u + 7919u * (uint32_t)i);
}

/* Pruned weights: the direct stride-1 path leaves out the taps whose weights are all zero in
 * a block of output channels (and a block of channels with no weight at all), its padded
 * input and packed weights set once for a whole batch. */
Test(conv, pruned_weights_match_a_naive_reference)
{
    static const struct conv_case cases[] = {
        /* 10 output channels: blocks 0-3 (sparse), 4-7 (all zero), 8-9 (+ 2 padding). */
        {.nsp = 2,
         .n = 3,
         .c = 3,
         .m = 10,
         .group = 1,
         .in = {9, 11},
         .k = {3, 3},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {1, 1, 1, 1},
         .bias = true,
         .zeros = 0.7f},
        /* Two groups of 8 output channels, no bias, 90% zeros, a dilated kernel. */
        {.nsp = 2,
         .n = 2,
         .c = 4,
         .m = 16,
         .group = 2,
         .in = {8, 7},
         .k = {2, 3},
         .stride = {1, 1},
         .dil = {2, 1},
         .pads = {0, 1, 1, 0},
         .zeros = 0.9f},
        /* Every weight zero: the bias alone. */
        {.nsp = 2,
         .n = 2,
         .c = 2,
         .m = 5,
         .group = 1,
         .in = {6, 6},
         .k = {3, 3},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {1, 1, 1, 1},
         .bias = true,
         .zeros = 1.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_random_case(&cases[i], 777u + 104729u * (uint32_t)i);
}

/* Mostly-zero weights run as CSR (PRUNESCOPE_SPARSE=always takes it for any size): the
 * product reads its rows from the batched column matrix, from the image itself
 * (pointwise), from shifted views of the padded image (stride 1) or from one image's
 * column matrix (strided), for every group; with one position per image, the images are
 * the rows of a Gemm-like sparse product. Each case against the definition. */
Test(conv, sparse_weights_match_a_naive_reference_on_every_path)
{
    static const struct conv_case cases[] = {
        /* Batched (4 outputs per image), 3x3 with pads: dead taps packed out. */
        {.nsp = 2,
         .n = 5,
         .c = 6,
         .m = 9,
         .group = 1,
         .in = {2, 2},
         .k = {3, 3},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {1, 1, 1, 1},
         .bias = true,
         .zeros = 0.8f},
        /* Batched 3x3 over 40 images of 4x4, past one block of images (batched_block: 17
         * a block here, so 17, 17 and 6), sparse and dense. */
        {.nsp = 2,
         .n = 40,
         .c = 32,
         .m = 48,
         .group = 1,
         .in = {4, 4},
         .k = {3, 3},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {1, 1, 1, 1},
         .bias = true,
         .zeros = 0.8f},
        {.nsp = 2,
         .n = 40,
         .c = 32,
         .m = 48,
         .group = 1,
         .in = {4, 4},
         .k = {3, 3},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {1, 1, 1, 1},
         .bias = true,
         .zeros = 0.0f},
        /* Batched 1x1 with two groups. */
        {.nsp = 2,
         .n = 3,
         .c = 8,
         .m = 12,
         .group = 2,
         .in = {3, 3},
         .k = {1, 1},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {0, 0, 0, 0},
         .bias = true,
         .zeros = 0.85f},
        /* One position per image (a 1x1 plane): the images as the rows of a sparse
         * product, for a 1x1 kernel and for a 3x3 one whose centre alone is live. */
        {.nsp = 2,
         .n = 37,
         .c = 24,
         .m = 10,
         .group = 1,
         .in = {1, 1},
         .k = {1, 1},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {0, 0, 0, 0},
         .bias = true,
         .zeros = 0.8f},
        {.nsp = 2,
         .n = 6,
         .c = 9,
         .m = 12,
         .group = 1,
         .in = {1, 1},
         .k = {3, 3},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {1, 1, 1, 1},
         .zeros = 0.8f},
        /* Pointwise over 81 positions (past the batched limit), no bias. */
        {.nsp = 2,
         .n = 2,
         .c = 7,
         .m = 10,
         .group = 1,
         .in = {9, 9},
         .k = {1, 1},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {0, 0, 0, 0},
         .zeros = 0.9f},
        /* Stride 1 over a 10x11 plane (the padded-image views), dilated, two groups. */
        {.nsp = 2,
         .n = 2,
         .c = 4,
         .m = 10,
         .group = 2,
         .in = {10, 11},
         .k = {3, 3},
         .stride = {1, 1},
         .dil = {1, 2},
         .pads = {1, 2, 1, 2},
         .bias = true,
         .zeros = 0.75f},
        /* Stride 2 over 17x17 (one image's column matrix), asymmetric pads. */
        {.nsp = 2,
         .n = 2,
         .c = 3,
         .m = 11,
         .group = 1,
         .in = {17, 17},
         .k = {3, 3},
         .stride = {2, 2},
         .dil = {1, 1},
         .pads = {1, 0, 1, 0},
         .bias = true,
         .zeros = 0.8f},
        /* 1-D, 100 positions, stride 1. */
        {.nsp = 1,
         .n = 3,
         .c = 5,
         .m = 6,
         .group = 1,
         .in = {100},
         .k = {5},
         .stride = {1},
         .dil = {1},
         .pads = {2, 2},
         .bias = true,
         .zeros = 0.9f},
        /* Depthwise, 20 channels (two blocks of 8 and a tail), stride 2: no sparse kernel,
         * the channels-last one over mostly-zero weights. */
        {.nsp = 2,
         .n = 3,
         .c = 20,
         .m = 20,
         .group = 20,
         .in = {7, 7},
         .k = {3, 3},
         .stride = {2, 2},
         .dil = {1, 1},
         .pads = {1, 1, 1, 1},
         .bias = true,
         .zeros = 0.85f},
        /* Depthwise 5x5, stride 1, 9x9 planes, no bias. */
        {.nsp = 2,
         .n = 2,
         .c = 16,
         .m = 16,
         .group = 16,
         .in = {9, 9},
         .k = {5, 5},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {2, 2, 2, 2},
         .zeros = 0.75f},
        /* Every weight zero: the bias alone, on the padded-image path. */
        {.nsp = 2,
         .n = 2,
         .c = 2,
         .m = 5,
         .group = 1,
         .in = {12, 12},
         .k = {3, 3},
         .stride = {1, 1},
         .dil = {1, 1},
         .pads = {1, 1, 1, 1},
         .bias = true,
         .zeros = 1.0f},
    };
    setenv("PRUNESCOPE_SPARSE", "always", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_random_case(&cases[i], 4242u + 31337u * (uint32_t)i);
    /* Without AVX2: the portable loop. */
    setenv("PRUNESCOPE_SIMD", "0", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_random_case(&cases[i], 4242u + 31337u * (uint32_t)i);
    unsetenv("PRUNESCOPE_SIMD");
    unsetenv("PRUNESCOPE_SPARSE");
}

/* ---- Conv: refusals ---- */

Test(conv, refuses_weight_channels_not_matching_c_over_group)
{
    /* C = 4, group = 2 needs W[:, 2]; W has 4. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 4, 3, 3), NULL);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(2, 4, 2, 2), NULL);
    struct attr at[] = {A_INT("group", 2)};
    struct node nd = {.name = "conv_g", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    struct err err;
    tu_check_fails(&op_conv, &nd, 13, ins, 2, ERR_FAILED, &err);
    tu_expect_error(&err, "conv_g", "[2,4,2,2]");
    tu_expect_error(&err, "group = 2", "needs 2");
    tensor_free(x), tensor_free(w);
}

Test(conv, refuses_weight_channels_not_matching_c)
{
    /* group 1: C = 3 but W has 2 input channels. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 3, 3, 3), NULL);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(1, 2, 2, 2), NULL);
    struct node nd = {.name = "conv_c", .op_type = "Conv"};
    const struct tensor *ins[] = {x, w};
    struct err err;
    tu_check_fails(&op_conv, &nd, 13, ins, 2, ERR_FAILED, &err);
    tu_expect_error(&err, "conv_c", "needs 3");
    tensor_free(x), tensor_free(w);
}

Test(conv, refuses_a_bias_of_the_wrong_length)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), NULL);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(2, 1, 2, 2), NULL);
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(3), NULL);
    struct node nd = {.name = "conv_b", .op_type = "Conv"};
    const struct tensor *ins[] = {x, w, b};
    struct err err;
    tu_check_fails(&op_conv, &nd, 13, ins, 3, ERR_FAILED, &err);
    tu_expect_error(&err, "conv_b", "bias");
    tu_expect_error(&err, "[3]", "[2]");
    tensor_free(x), tensor_free(w), tensor_free(b);
}

Test(conv, refuses_kernel_shape_disagreeing_with_the_weight)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 4, 4), NULL);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), NULL);
    struct attr at[] = {A_INTS("kernel_shape", 2, 3)};
    struct node nd = {.name = "conv_k", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    struct err err;
    tu_check_fails(&op_conv, &nd, 13, ins, 2, ERR_FAILED, &err);
    tu_expect_error(&err, "conv_k", "kernel_shape");
    tu_expect_error(&err, "[1,1,2,2]", NULL);
    tensor_free(x), tensor_free(w);
}

Test(conv, refuses_a_window_larger_than_the_padded_input)
{
    /* 3x3 kernel on 2x2 without pads (with pads 1 it fits: see above). */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 2), NULL);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), NULL);
    struct node nd = {.name = "conv_big", .op_type = "Conv"};
    const struct tensor *ins[] = {x, w};
    struct err err;
    tu_check_fails(&op_conv, &nd, 13, ins, 2, ERR_FAILED, &err);
    tu_expect_error(&err, "conv_big", "larger than the padded input");
    tensor_free(x), tensor_free(w);
}

Test(conv, refuses_a_dilated_window_larger_than_the_input)
{
    /* Kernel 2 with dilation 4 spans 5 > 4. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 4), NULL);
    struct tensor *w = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 2), NULL);
    struct attr at[] = {A_INTS("dilations", 4)};
    struct node nd = {.name = "conv_dil", .op_type = "Conv", ATTRS(at)};
    const struct tensor *ins[] = {x, w};
    struct err err;
    tu_check_fails(&op_conv, &nd, 13, ins, 2, ERR_FAILED, &err);
    tu_expect_error(&err, "conv_dil", "larger than the padded input");
    tensor_free(x), tensor_free(w);
}

/* ---- MaxPool ---- */

Test(maxpool, plain_2x2_stride_2)
{
    /* Channel 0: -1..-16 row-major, so each 2x2 block's max is its top-left:
     * -1, -3, -9, -11. Channel 1:
     *    3 -1 |  4  1
     *   -5  9 | -2  6
     *   ------+------
     *    5  3 | -5  8
     *   -9  7 |  9 -3      -> 9, 6, 7, 9 */
    float xv[32];
    for (int i = 0; i < 16; i++)
        xv[i] = -(float)(i + 1);
    memcpy(xv + 16, F32(3, -1, 4, 1, -5, 9, -2, 6, 5, 3, -5, 8, -9, 7, 9, -3), 16 * sizeof(float));
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 2, 4, 4), xv);
    struct attr at[] = {A_INTS("kernel_shape", 2, 2), A_INTS("strides", 2, 2)};
    struct node nd = {.name = "mp", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nd, 12, ins, 1, 4, I64(1, 2, 2, 2), F32(-1, -3, -9, -11, 9, 6, 7, 9),
                0);
    tensor_free(x);
}

Test(maxpool, plain_2x2_drops_an_odd_last_row_and_column)
{
    /* 3x5 -> floor: 1x2; the last row and column are never read (they hold 100). */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 5),
                                 F32(1, 2, 3, 4, 100, 5, 0, 0, 7, 100, 100, 100, 100, 100, 100));
    struct attr at[] = {A_INTS("kernel_shape", 2, 2), A_INTS("strides", 2, 2)};
    struct node nd = {.name = "mp", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nd, 12, ins, 1, 4, I64(1, 1, 1, 2), F32(5, 7), 0);
    tensor_free(x);
}

Test(maxpool, kernel_3_stride_1_pads_1_ignores_the_padding)
{
    /* X = -X3x3; padding never wins even though every value is negative. Each output is
     * the max of the 3x3 neighbourhood clipped to the image:
     *   -1 -1 -2 / -1 -1 -2 / -4 -4 -5 */
    float xv[9];
    for (int i = 0; i < 9; i++)
        xv[i] = -(float)(i + 1);
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), xv);
    struct attr at[] = {A_INTS("kernel_shape", 3, 3), A_INTS("pads", 1, 1, 1, 1)};
    struct node nd = {.name = "mp", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nd, 12, ins, 1, 4, I64(1, 1, 3, 3),
                F32(-1, -1, -2, -1, -1, -2, -4, -4, -5), 0);
    tensor_free(x);
}

Test(maxpool, ceil_mode_adds_a_partial_window)
{
    /* 4x4 with v = 4i + j, kernel 3, stride 2, no pads: floor gives (4-3)/2+1 = 1 output
     * per dim, ceil gives ceil(1/2)+1 = 2; the second window starts at 2 (inside the input)
     * and covers rows/cols 2..3 only. Windows: rows {0..2, 2..3} x cols {0..2, 2..3}:
     *   max = v(2,2) = 10, v(2,3) = 11, v(3,2) = 14, v(3,3) = 15. */
    float xv[16];
    for (int i = 0; i < 16; i++)
        xv[i] = (float)i;
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 4, 4), xv);
    const struct tensor *ins[] = {x};
    struct attr fl[] = {A_INTS("kernel_shape", 3, 3), A_INTS("strides", 2, 2)};
    struct node nf = {.name = "mp", .op_type = "MaxPool", ATTRS(fl)};
    tu_check_op(&op_maxpool, &nf, 12, ins, 1, 4, I64(1, 1, 1, 1), F32(10), 0);
    struct attr ce[] = {A_INTS("kernel_shape", 3, 3), A_INTS("strides", 2, 2),
                        A_INT("ceil_mode", 1)};
    struct node nc = {.name = "mp", .op_type = "MaxPool", ATTRS(ce)};
    tu_check_op(&op_maxpool, &nc, 12, ins, 1, 4, I64(1, 1, 2, 2), F32(10, 11, 14, 15), 0);
    tensor_free(x);
}

Test(maxpool, ceil_mode_drops_a_window_starting_in_the_end_padding)
{
    /* PyTorch's rule (torch.nn.MaxPool2d docs: "sliding windows that would start in the
     * right padded region are ignored"): in ceil mode a last window is kept only when it
     * starts inside the input or the begin padding, i.e. dropped when
     * (out-1)*stride >= in + pad_begin. The bare ONNX ceil formula would give 3 in W.
     * 4x4 with v = 4i + j, kernel 3x3, strides 2, pads [0,0,0,2] (2 at the right end only):
     *   H: (4-3)/2 = 0.5 -> ceil 1 -> 2 outputs, last start 2 < 4: kept.
     *   W: (4+2-3)/2 = 1.5 -> ceil 2 -> 3 outputs, but the third starts at 4 >= 4 + 0, the
     *      first end-padding column: dropped, 2 outputs (the same as floor).
     * Windows rows {0..2, 2..3} x cols {0..2, 2..4 (4 is padding)}: 10, 11, 14, 15. */
    float xv[16];
    for (int i = 0; i < 16; i++)
        xv[i] = (float)i;
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 4, 4), xv);
    struct attr at[] = {A_INTS("kernel_shape", 3, 3), A_INTS("strides", 2, 2),
                        A_INTS("pads", 0, 0, 0, 2), A_INT("ceil_mode", 1)};
    struct node nd = {.name = "mp", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nd, 12, ins, 1, 4, I64(1, 1, 2, 2), F32(10, 11, 14, 15), 0);
    tensor_free(x);
}

Test(maxpool, ceil_mode_drops_a_window_starting_past_the_input_in_1d)
{
    /* in 4, kernel 2, stride 3, pads [1,1]: padded length 6, (6-2)/3 = 1.33 -> ceil 2 ->
     * 3 outputs, but the third starts at 6 (padded) = input index 5 >= 4: dropped.
     * Windows over padded [-inf,1,8,3,5,-inf]: starts 0 and 3: max(-inf,1) = 1,
     * max(3,5) = 5. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 4), F32(1, 8, 3, 5));
    struct attr at[] = {A_INTS("kernel_shape", 2), A_INTS("strides", 3), A_INTS("pads", 1, 1),
                        A_INT("ceil_mode", 1)};
    struct node nd = {.name = "mp", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nd, 12, ins, 1, 3, I64(1, 1, 2), F32(1, 5), 0);
    tensor_free(x);
}

Test(maxpool, nan_propagates_on_the_2x2_path)
{
    /* Blocks: {NaN,1,0,0} -> NaN (NaN first), {2,3,6,7} -> 7, {4,5,8,NaN} -> NaN (last). */
    struct tensor *x =
        tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 2, 6), F32(NAN, 1, 2, 3, 4, 5, 0, 0, 6, 7, 8, NAN));
    struct attr at[] = {A_INTS("kernel_shape", 2, 2), A_INTS("strides", 2, 2)};
    struct node nd = {.name = "mp", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nd, 12, ins, 1, 4, I64(1, 1, 1, 3), F32(NAN, 7, NAN), 0);
    tensor_free(x);
}

Test(maxpool, nan_propagates_on_the_general_path)
{
    /* 1-D kernel 2 stride 1 over [1, NaN, 3, 2]: (1,NaN) NaN, (NaN,3) NaN, (3,2) 3. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 4), F32(1, NAN, 3, 2));
    struct attr at[] = {A_INTS("kernel_shape", 2)};
    struct node nd = {.name = "mp", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nd, 12, ins, 1, 3, I64(1, 1, 3), F32(NAN, NAN, 3), 0);
    tensor_free(x);
}

Test(maxpool, one_dimensional_with_pad_and_stride)
{
    /* [1,5,2,4,3,0], kernel 3, stride 2, pads [1,0]: padded [-inf,1,5,2,4,3,0] (7),
     * (7-3)/2+1 = 3 windows at 0,2,4: max(-inf,1,5) = 5, max(5,2,4) = 5, max(4,3,0) = 4. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 6), F32(1, 5, 2, 4, 3, 0));
    struct attr at[] = {A_INTS("kernel_shape", 3), A_INTS("strides", 2), A_INTS("pads", 1, 0)};
    struct node nd = {.name = "mp", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nd, 12, ins, 1, 3, I64(1, 1, 3), F32(5, 5, 4), 0);
    tensor_free(x);
}

Test(maxpool, three_dimensional)
{
    /* X [1,1,2,2,3]: depth 0 = [[1,3,2],[3,4,8]], depth 1 = [[7,0,5],[6,2,1]]; kernel
     * [2,1,2] -> output [1,1,1,2,2]: max over both depths and 2 adjacent columns:
     *   h0: {1,3,7,0} = 7, {3,2,0,5} = 5;  h1: {3,4,6,2} = 6, {4,8,2,1} = 8. */
    struct tensor *x =
        tu_tensor(DTYPE_FLOAT, 5, I64(1, 1, 2, 2, 3), F32(1, 3, 2, 3, 4, 8, 7, 0, 5, 6, 2, 1));
    struct attr at[] = {A_INTS("kernel_shape", 2, 1, 2)};
    struct node nd = {.name = "mp3", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nd, 12, ins, 1, 5, I64(1, 1, 1, 2, 2), F32(7, 5, 6, 8), 0);
    tensor_free(x);
}

Test(maxpool, dilations)
{
    /* [1,5,2,4,3], kernel 2, dilation 2: pairs (x0,x2) (x1,x3) (x2,x4) = 2, 5, 3. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 5), F32(1, 5, 2, 4, 3));
    struct attr at[] = {A_INTS("kernel_shape", 2), A_INTS("dilations", 2)};
    struct node nd = {.name = "mp", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nd, 12, ins, 1, 3, I64(1, 1, 3), F32(2, 5, 3), 0);
    tensor_free(x);
}

Test(maxpool, dilations_in_2d)
{
    /* 4x4 with v = 4i + j, kernel 2x2, dilations 2: taps (i,j) (i,j+2) (i+2,j) (i+2,j+2),
     * max = v(i+2,j+2) = v + 10 for v = 0, 1, 4, 5 -> 10, 11, 14, 15. */
    float xv[16];
    for (int i = 0; i < 16; i++)
        xv[i] = (float)i;
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 4, 4), xv);
    struct attr at[] = {A_INTS("kernel_shape", 2, 2), A_INTS("dilations", 2, 2)};
    struct node nd = {.name = "mp", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_maxpool, &nd, 12, ins, 1, 4, I64(1, 1, 2, 2), F32(10, 11, 14, 15), 0);
    tensor_free(x);
}

Test(maxpool, refuses_the_indices_output_as_unsupported)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 4, 4), NULL);
    struct attr at[] = {A_INTS("kernel_shape", 2, 2), A_INTS("strides", 2, 2)};
    struct node nd = {.name = "mp_idx", .op_type = "MaxPool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    struct tensor *outs[2] = {NULL, NULL};
    struct err err;
    err_clear(&err);
    cr_expect_eq(tu_op_run(&op_maxpool, &nd, 12, ins, 1, outs, 2, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED, "code %d: %s", (int)err.code, err.msg);
    tu_expect_error(&err, "mp_idx", "Indices");
    tensor_free(outs[0]), tensor_free(outs[1]);
    tensor_free(x);
}

Test(maxpool, refuses_a_missing_kernel_shape)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 4, 4), NULL);
    struct node nd = {.name = "mp_nok", .op_type = "MaxPool"};
    const struct tensor *ins[] = {x};
    struct err err;
    tu_check_fails(&op_maxpool, &nd, 12, ins, 1, ERR_FAILED, &err);
    tu_expect_error(&err, "mp_nok", "kernel_shape");
    tensor_free(x);
}

/* ---- AveragePool ---- */

Test(averagepool, count_include_pad_0_divides_by_the_valid_taps)
{
    /* X3x3, kernel 3x3, stride 1, pads 1: each output averages its clipped neighbourhood.
     *   corners: {1,2,4,5}/4 = 3, {2,3,5,6}/4 = 4, {4,5,7,8}/4 = 6, {5,6,8,9}/4 = 7
     *   edges:   21/6 = 3.5 (top), 27/6 = 4.5 (left), 33/6 = 5.5 (right), 39/6 = 6.5 (bottom)
     *   centre:  45/9 = 5 */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct attr at[] = {A_INTS("kernel_shape", 3, 3), A_INTS("pads", 1, 1, 1, 1),
                        A_INT("count_include_pad", 0)};
    struct node nd = {.name = "ap", .op_type = "AveragePool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_averagepool, &nd, 11, ins, 1, 4, I64(1, 1, 3, 3),
                F32(3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7), 1e-5f);
    tensor_free(x);
}

Test(averagepool, count_include_pad_defaults_to_0)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct attr at[] = {A_INTS("kernel_shape", 3, 3), A_INTS("pads", 1, 1, 1, 1)};
    struct node nd = {.name = "ap", .op_type = "AveragePool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_averagepool, &nd, 11, ins, 1, 4, I64(1, 1, 3, 3),
                F32(3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7), 1e-5f);
    tensor_free(x);
}

Test(averagepool, count_include_pad_1_divides_by_the_whole_window)
{
    /* The same sums as above, all divided by 9 (padding zeros count):
     *   12/9 21/9 16/9 / 27/9 45/9 33/9 / 24/9 39/9 28/9 */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct attr at[] = {A_INTS("kernel_shape", 3, 3), A_INTS("pads", 1, 1, 1, 1),
                        A_INT("count_include_pad", 1)};
    struct node nd = {.name = "ap", .op_type = "AveragePool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(
        &op_averagepool, &nd, 11, ins, 1, 4, I64(1, 1, 3, 3),
        F32(12 / 9.0f, 21 / 9.0f, 16 / 9.0f, 3, 5, 33 / 9.0f, 24 / 9.0f, 39 / 9.0f, 28 / 9.0f),
        1e-5f);
    tensor_free(x);
}

Test(averagepool, ceil_mode_partial_last_window)
{
    /* [1,2,3,4,5], kernel 2, stride 2: floor -> (1+2)/2, (3+4)/2 = 1.5, 3.5; ceil adds a
     * third window starting at 4 (inside the input) holding only x4 = 5, and past the input
     * end there is no padding to count, so its divisor is 1 either way -> 5. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 5), F32(1, 2, 3, 4, 5));
    const struct tensor *ins[] = {x};
    struct attr fl[] = {A_INTS("kernel_shape", 2), A_INTS("strides", 2)};
    struct node nf = {.name = "ap", .op_type = "AveragePool", ATTRS(fl)};
    tu_check_op(&op_averagepool, &nf, 11, ins, 1, 3, I64(1, 1, 2), F32(1.5f, 3.5f), 1e-6f);
    struct attr ce[] = {A_INTS("kernel_shape", 2), A_INTS("strides", 2), A_INT("ceil_mode", 1)};
    struct node nc = {.name = "ap", .op_type = "AveragePool", ATTRS(ce)};
    tu_check_op(&op_averagepool, &nc, 11, ins, 1, 3, I64(1, 1, 3), F32(1.5f, 3.5f, 5), 1e-6f);
    struct attr ci[] = {A_INTS("kernel_shape", 2), A_INTS("strides", 2), A_INT("ceil_mode", 1),
                        A_INT("count_include_pad", 1)};
    struct node nci = {.name = "ap", .op_type = "AveragePool", ATTRS(ci)};
    tu_check_op(&op_averagepool, &nci, 11, ins, 1, 3, I64(1, 1, 3), F32(1.5f, 3.5f, 5), 1e-6f);
    tensor_free(x);
}

Test(averagepool, ceil_mode_with_end_padding)
{
    /* [1,2,3,4], kernel 3, stride 2, pads [0,2], ceil: (4+2-3)/2 = 1.5 -> ceil 2 -> 3, but
     * the third window would start at 4 (the end padding) and is dropped: 2 outputs.
     *   window 0 = {1,2,3}: 6/3 = 2
     *   window 1 = {3,4,pad}: count_include_pad 0 -> 7/2 = 3.5; 1 -> 7/3 */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 4), F32(1, 2, 3, 4));
    const struct tensor *ins[] = {x};
    struct attr a0[] = {A_INTS("kernel_shape", 3), A_INTS("strides", 2), A_INTS("pads", 0, 2),
                        A_INT("ceil_mode", 1)};
    struct node n0 = {.name = "ap", .op_type = "AveragePool", ATTRS(a0)};
    tu_check_op(&op_averagepool, &n0, 11, ins, 1, 3, I64(1, 1, 2), F32(2, 3.5f), 1e-6f);
    struct attr a1[] = {A_INTS("kernel_shape", 3), A_INTS("strides", 2), A_INTS("pads", 0, 2),
                        A_INT("ceil_mode", 1), A_INT("count_include_pad", 1)};
    struct node n1 = {.name = "ap", .op_type = "AveragePool", ATTRS(a1)};
    tu_check_op(&op_averagepool, &n1, 11, ins, 1, 3, I64(1, 1, 2), F32(2, 7 / 3.0f), 1e-6f);
    tensor_free(x);
}

Test(averagepool, auto_pad_same_upper)
{
    /* X3x3, kernel 2x2, stride 1: total pad 1 per dim, at the end (bottom/right); padding
     * not counted (count_include_pad 0):
     *   {1,2,4,5}/4 = 3   {2,3,5,6}/4 = 4   {3,6}/2 = 4.5
     *   {4,5,7,8}/4 = 6   {5,6,8,9}/4 = 7   {6,9}/2 = 7.5
     *   {7,8}/2 = 7.5     {8,9}/2 = 8.5     {9}/1 = 9 */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct attr at[] = {A_INTS("kernel_shape", 2, 2), A_STR("auto_pad", "SAME_UPPER")};
    struct node nd = {.name = "ap", .op_type = "AveragePool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_averagepool, &nd, 11, ins, 1, 4, I64(1, 1, 3, 3),
                F32(3, 4, 4.5f, 6, 7, 7.5f, 7.5f, 8.5f, 9), 1e-5f);
    tensor_free(x);
}

Test(averagepool, auto_pad_same_lower)
{
    /* As above with the pad at the begin (top/left):
     *   {1}/1 = 1         {1,2}/2 = 1.5     {2,3}/2 = 2.5
     *   {1,4}/2 = 2.5     {1,2,4,5}/4 = 3   {2,3,5,6}/4 = 4
     *   {4,7}/2 = 5.5     {4,5,7,8}/4 = 6   {5,6,8,9}/4 = 7 */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 1, 3, 3), X3x3);
    struct attr at[] = {A_INTS("kernel_shape", 2, 2), A_STR("auto_pad", "SAME_LOWER")};
    struct node nd = {.name = "ap", .op_type = "AveragePool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_averagepool, &nd, 11, ins, 1, 4, I64(1, 1, 3, 3),
                F32(1, 1.5f, 2.5f, 2.5f, 3, 4, 5.5f, 6, 7), 1e-5f);
    tensor_free(x);
}

Test(averagepool, dilations_need_opset_19)
{
    /* [1,2,3,4,5], kernel 2, dilation 2: pairs (x0,x2) (x1,x3) (x2,x4) -> 2, 3, 4 at opset
     * 19; before 19 AveragePool has no dilations attribute. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 5), F32(1, 2, 3, 4, 5));
    struct attr at[] = {A_INTS("kernel_shape", 2), A_INTS("dilations", 2)};
    struct node nd = {.name = "ap_dil", .op_type = "AveragePool", ATTRS(at)};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_averagepool, &nd, 19, ins, 1, 3, I64(1, 1, 3), F32(2, 3, 4), 1e-6f);
    struct err err;
    tu_check_fails(&op_averagepool, &nd, 18, ins, 1, ERR_UNSUPPORTED, &err);
    tu_expect_error(&err, "ap_dil", "dilations");
    tensor_free(x);
}

/* ---- GlobalAveragePool ---- */

Test(globalaveragepool, means_of_each_plane)
{
    /* X [2,3,2,2] with x[i] = i^2 (flat index i): plane p holds (4p..4p+3)^2 whose sum is
     * 64p^2 + 48p + 14, mean 16p^2 + 12p + 3.5: 3.5, 31.5, 91.5, 183.5, 307.5, 463.5. */
    float xv[24];
    for (int i = 0; i < 24; i++)
        xv[i] = (float)(i * i);
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(2, 3, 2, 2), xv);
    struct node nd = {.name = "gap", .op_type = "GlobalAveragePool"};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_globalaveragepool, &nd, 13, ins, 1, 4, I64(2, 3, 1, 1),
                F32(3.5f, 31.5f, 91.5f, 183.5f, 307.5f, 463.5f), 1e-4f);
    tensor_free(x);
}

Test(globalaveragepool, three_spatial_dims)
{
    /* [1,2,2,1,2]: channel 0 = {1,2,3,6} -> 3, channel 1 = {-1,-1,0,10} -> 2. */
    struct tensor *x =
        tu_tensor(DTYPE_FLOAT, 5, I64(1, 2, 2, 1, 2), F32(1, 2, 3, 6, -1, -1, 0, 10));
    struct node nd = {.name = "gap", .op_type = "GlobalAveragePool"};
    const struct tensor *ins[] = {x};
    tu_check_op(&op_globalaveragepool, &nd, 13, ins, 1, 5, I64(1, 2, 1, 1, 1), F32(3, 2), 1e-6f);
    tensor_free(x);
}

Test(globalaveragepool, refuses_a_rank_2_input)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 2, I64(2, 3), NULL);
    struct node nd = {.name = "gap2", .op_type = "GlobalAveragePool"};
    const struct tensor *ins[] = {x};
    struct err err;
    tu_check_fails(&op_globalaveragepool, &nd, 13, ins, 1, ERR_FAILED, &err);
    tu_expect_error(&err, "gap2", NULL);
    tensor_free(x);
}

/* ---- BatchNormalization ---- */

Test(batchnorm, per_channel_with_a_non_default_epsilon)
{
    /* epsilon 0.5 with var [3.5, 0.5] gives sqrt(var + eps) = [2, 1] (with the default
     * 1e-5 it would be sqrt(3.5) = 1.87, far outside the tolerance).
     * scale [2, 0.5], B [1, -1], mean [1, 0]:
     *   c0: (x-1)/2*2+1 = x     -> image 0 [1,3] -> 1, 3;     image 1 [5,-1] -> 5, -1
     *   c1: x/1*0.5-1           -> image 0 [2,-2] -> 0, -2;   image 1 [1,0] -> -0.5, -1 */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(2, 2, 1, 2), F32(1, 3, 2, -2, 5, -1, 1, 0));
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(2, 0.5f));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(1, -1));
    struct tensor *mean = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(1, 0));
    struct tensor *var = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(3.5f, 0.5f));
    struct attr at[] = {A_FLOAT("epsilon", 0.5f)};
    struct node nd = {.name = "bn", .op_type = "BatchNormalization", ATTRS(at)};
    const struct tensor *ins[] = {x, sc, b, mean, var};
    tu_check_op(&op_batchnormalization, &nd, 15, ins, 5, 4, I64(2, 2, 1, 2),
                F32(1, 3, 0, -2, 5, -1, -0.5f, -1), 1e-5f);
    tensor_free(x), tensor_free(sc), tensor_free(b), tensor_free(mean), tensor_free(var);
}

Test(batchnorm, rank_2_input)
{
    /* X [3,2] = [[1,2],[3,4],[5,6]], epsilon 0.25, var [3.75, 0.75] -> sqrt = [2, 1],
     * scale [1,2], B [0,1], mean [3,4]:
     *   c0: (x-3)/2      -> -1, 0, 1
     *   c1: (x-4)*2 + 1  -> -3, 1, 5 */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 2, I64(3, 2), F32(1, 2, 3, 4, 5, 6));
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(1, 2));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(0, 1));
    struct tensor *mean = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(3, 4));
    struct tensor *var = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(3.75f, 0.75f));
    struct attr at[] = {A_FLOAT("epsilon", 0.25f)};
    struct node nd = {.name = "bn", .op_type = "BatchNormalization", ATTRS(at)};
    const struct tensor *ins[] = {x, sc, b, mean, var};
    tu_check_op(&op_batchnormalization, &nd, 15, ins, 5, 2, I64(3, 2), F32(-1, -3, 0, 1, 1, 5),
                1e-5f);
    tensor_free(x), tensor_free(sc), tensor_free(b), tensor_free(mean), tensor_free(var);
}

Test(batchnorm, default_epsilon_is_1e_5)
{
    /* var = 1 - 1e-5 so var + 1e-5 = 1 (to float precision): y = (x - mean) * scale + B =
     * (4 - 1) * 2 + 0.5 = 6.5. */
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 3, I64(1, 1, 1), F32(4));
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(2));
    struct tensor *b = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(0.5f));
    struct tensor *mean = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(1));
    struct tensor *var = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(1 - 1e-5f));
    struct node nd = {.name = "bn", .op_type = "BatchNormalization"};
    const struct tensor *ins[] = {x, sc, b, mean, var};
    tu_check_op(&op_batchnormalization, &nd, 15, ins, 5, 3, I64(1, 1, 1), F32(6.5f), 1e-5f);
    tensor_free(x), tensor_free(sc), tensor_free(b), tensor_free(mean), tensor_free(var);
}

Test(batchnorm, refuses_training_mode_as_unsupported)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 2, 1, 1), NULL);
    struct tensor *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(1, 1));
    struct attr at[] = {A_INT("training_mode", 1)};
    struct node nd = {.name = "bn_train", .op_type = "BatchNormalization", ATTRS(at)};
    const struct tensor *ins[] = {x, p[0], p[1], p[2], p[3]};
    struct err err;
    tu_check_fails(&op_batchnormalization, &nd, 15, ins, 5, ERR_UNSUPPORTED, &err);
    tu_expect_error(&err, "bn_train", "training_mode");
    tensor_free(x);
    for (int i = 0; i < 4; i++)
        tensor_free(p[i]);
}

Test(batchnorm, refuses_a_scale_of_the_wrong_length)
{
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 4, I64(1, 2, 1, 1), NULL);
    struct tensor *sc = tu_tensor(DTYPE_FLOAT, 1, I64(3), F32(1, 1, 1));
    struct tensor *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = tu_tensor(DTYPE_FLOAT, 1, I64(2), F32(1, 1));
    struct node nd = {.name = "bn_scale", .op_type = "BatchNormalization"};
    const struct tensor *ins[] = {x, sc, p[0], p[1], p[2]};
    struct err err;
    tu_check_fails(&op_batchnormalization, &nd, 15, ins, 5, ERR_FAILED, &err);
    tu_expect_error(&err, "bn_scale", "scale");
    tu_expect_error(&err, "[3]", "[2]");
    tensor_free(x), tensor_free(sc);
    for (int i = 0; i < 3; i++)
        tensor_free(p[i]);
}
