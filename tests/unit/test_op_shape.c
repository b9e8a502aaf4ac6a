/* Slice, Split, Expand, Tile and the Reduce* family checked one at a time against values
 * worked out by hand (or by a naive loop written here), on float32 and int64, with their
 * gradients and refusals, plus a PyTorch-style shape chain folded at planning time. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/plan.h"
#include "kernels/op.h"
#include "kernels/ops.h"
#include "testutil.h"

extern const struct op_def op_slice, op_split, op_expand, op_tile;
extern const struct op_def op_reducesum, op_reducemean, op_reducemax, op_reducemin, op_reduceprod,
    op_reducel1, op_reducel2, op_reducesumsquare;

#define BIG   INT64_MAX
#define SMALL INT64_MIN

static struct tensor *f32(int ndim, const int64_t *dims, const float *vals)
{
    return tu_tensor(DTYPE_FLOAT, ndim, dims, vals);
}

static struct tensor *i64(int ndim, const int64_t *dims, const int64_t *vals)
{
    return tu_tensor(DTYPE_INT64, ndim, dims, vals);
}

/* A 1-D int64 list (starts, axes, shape...). */
#define LIST(...)                                                                                  \
    i64(1, I64((int64_t)(sizeof(I64(__VA_ARGS__)) / sizeof(int64_t))), I64(__VA_ARGS__))

/* The engine's sequence for n_out outputs: a shape call that sees float inputs as
 * shape-only and int64 inputs with their values (as the planner does for graph inputs),
 * allocation of the outputs, then the run call. outs[k] are NULL when the shape call
 * fails; the caller frees them otherwise. */
static int run_n(const struct op_def *op, const struct node *nd, int64_t opset,
                 const struct tensor *const *ins, int n_in, struct tensor **outs, int n_out,
                 struct err *err)
{
    struct tensor seen[8], planned[8] = {{0}};
    const struct tensor *shape_in[8];
    struct tensor *pouts[8];
    cr_assert_leq(n_in, 8);
    cr_assert_leq(n_out, 8);
    for (int i = 0; i < n_in; i++) {
        shape_in[i] = NULL;
        if (!ins[i])
            continue;
        seen[i] = *ins[i];
        if (seen[i].dtype == DTYPE_FLOAT)
            seen[i].data = NULL;
        shape_in[i] = &seen[i];
    }
    for (int k = 0; k < n_out; k++) {
        outs[k] = NULL;
        pouts[k] = &planned[k];
    }
    struct op_io io = {
        .node = nd, .opset = opset, .n_in = n_in, .in = shape_in, .n_out = n_out, .out = pouts};
    if (op->shape(&io, err) < 0)
        return -1;
    for (int k = 0; k < n_out; k++) {
        cr_assert_neq(planned[k].dtype, DTYPE_UNDEFINED, "shape call set no dtype for output %d",
                      k);
        outs[k] = tensor_new(planned[k].dtype, &planned[k].shape, err);
        cr_assert_not_null(outs[k], "%s", err->msg);
    }
    io.in = ins;
    io.out = outs;
    return op->run(&io, err);
}

static int run_1(const struct op_def *op, const struct node *nd, int64_t opset,
                 const struct tensor *const *ins, int n_in, struct tensor **out, struct err *err)
{
    return run_n(op, nd, opset, ins, n_in, out, 1, err);
}

/* Gradients of one run: din[k] (zeros, input k's shape) for every float input k < n_grad,
 * filled by the op's backward from douts. */
static void grads(const struct op_def *op, const struct node *nd, int64_t opset,
                  const struct tensor *const *ins, int n_in, struct tensor *const *outs, int n_out,
                  const struct tensor *const *douts, struct tensor **din, int n_grad)
{
    struct err err;
    struct tensor *dins[8] = {NULL};
    for (int k = 0; k < n_grad; k++)
        dins[k] = din[k] = tensor_new(DTYPE_FLOAT, &ins[k]->shape, &err);
    struct op_io io = {
        .node = nd, .opset = opset, .n_in = n_in, .in = ins, .n_out = n_out, .out = outs};
    cr_assert_not_null(op->backward, "%s has no backward", op->name);
    cr_assert_eq(op->backward(&io, douts, dins, &err), 0, "%s", err.msg);
}

/* ---- Slice ---- */

Test(slice, opset13_takes_a_strided_window_of_a_matrix)
{
    /* x = 0..11 as 3x4; rows 0:3:2 = {0, 2}, columns 1:4:2 = {1, 3}. */
    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)i;
    struct tensor *x = f32(2, I64(3, 4), v);
    struct tensor *st = LIST(0, 1), *en = LIST(3, 4), *ax = LIST(0, 1), *sp = LIST(2, 2);
    struct node nd = {.name = "sl", .op_type = "Slice"};
    const struct tensor *ins[] = {x, st, en, ax, sp};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_slice, &nd, 13, ins, 5, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 2));
    tu_expect_floats(y, F32(1, 3, 9, 11), 4, 0);
    tensor_free(x), tensor_free(st), tensor_free(en), tensor_free(ax), tensor_free(sp);
    tensor_free(y);
}

Test(slice, clamps_out_of_range_starts_and_ends)
{
    struct tensor *x = f32(1, I64(5), F32(10, 11, 12, 13, 14));
    struct node nd = {.name = "sl", .op_type = "Slice"};
    struct err err;
    struct tensor *y;
    /* -10 + 5 = -5 clamps to 0 and 100 to 5: everything. */
    struct tensor *st = LIST(-10), *en = LIST(100);
    const struct tensor *ins[] = {x, st, en};
    cr_assert_eq(run_1(&op_slice, &nd, 13, ins, 3, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(10, 11, 12, 13, 14), 5, 0);
    tensor_free(y), tensor_free(st), tensor_free(en);
    /* A start past the end (7 -> 5) gives an empty slice. */
    st = LIST(7), en = LIST(BIG);
    const struct tensor *ins2[] = {x, st, en};
    cr_assert_eq(run_1(&op_slice, &nd, 13, ins2, 3, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 1, I64(0));
    tensor_free(y), tensor_free(st), tensor_free(en);
    /* ends below starts: empty too. */
    st = LIST(3), en = LIST(-4);
    const struct tensor *ins3[] = {x, st, en};
    cr_assert_eq(run_1(&op_slice, &nd, 13, ins3, 3, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 1, I64(0));
    tensor_free(y), tensor_free(st), tensor_free(en), tensor_free(x);
}

Test(slice, negative_steps_walk_backwards_to_the_front)
{
    struct tensor *x = f32(1, I64(5), F32(10, 11, 12, 13, 14));
    struct node nd = {.name = "sl", .op_type = "Slice"};
    struct err err;
    struct tensor *y;
    /* -1 -> 4; INT64_MIN clamps to -1 (before the front): 4, 2, 0. */
    struct tensor *st = LIST(-1), *en = LIST(SMALL), *ax = LIST(0), *sp = LIST(-2);
    const struct tensor *ins[] = {x, st, en, ax, sp};
    cr_assert_eq(run_1(&op_slice, &nd, 13, ins, 5, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(14, 12, 10), 3, 0);
    tensor_free(y), tensor_free(st), tensor_free(en), tensor_free(sp);
    /* A start of 100 clamps to 4 when stepping back; end 1 is exclusive: 4, 3, 2. */
    st = LIST(100), en = LIST(1), sp = LIST(-1);
    const struct tensor *ins2[] = {x, st, en, ax, sp};
    cr_assert_eq(run_1(&op_slice, &nd, 13, ins2, 5, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(14, 13, 12), 3, 0);
    /* A step larger than the range takes just the start. */
    tensor_free(y), tensor_free(sp);
    sp = LIST(SMALL);
    const struct tensor *ins3[] = {x, st, en, ax, sp};
    cr_assert_eq(run_1(&op_slice, &nd, 13, ins3, 5, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(14), 1, 0);
    tensor_free(y), tensor_free(st), tensor_free(en), tensor_free(ax), tensor_free(sp);
    tensor_free(x);
}

Test(slice, negative_axes_count_from_the_back)
{
    struct tensor *x = f32(2, I64(2, 3), F32(0, 1, 2, 3, 4, 5));
    struct tensor *st = LIST(1), *en = LIST(3), *ax = LIST(-1);
    struct node nd = {.name = "sl", .op_type = "Slice"};
    const struct tensor *ins[] = {x, st, en, ax};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_slice, &nd, 13, ins, 4, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 2));
    tu_expect_floats(y, F32(1, 2, 4, 5), 4, 0);
    tensor_free(x), tensor_free(st), tensor_free(en), tensor_free(ax), tensor_free(y);
}

Test(slice, opset1_reads_starts_ends_and_axes_attributes_on_int64)
{
    /* The tail of a shape, as PyTorch exports x.shape[2:]: [1,3,28,28][2:] = [28,28]. */
    struct tensor *x = i64(1, I64(4), I64(1, 3, 28, 28));
    struct attr at[] = {A_INTS("starts", 2), A_INTS("ends", BIG), A_INTS("axes", 0)};
    struct node nd = {.name = "sl", .op_type = "Slice", ATTRS(at)};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_slice, &nd, 1, ins, 1, &y, &err), 0, "%s", err.msg);
    cr_expect_eq(y->dtype, DTYPE_INT64);
    tu_expect_ints(y, I64(28, 28), 2);
    tensor_free(y);
    /* Without axes, starts[i] applies to axis i. */
    struct attr at2[] = {A_INTS("starts", -3), A_INTS("ends", -1)};
    struct node nd2 = {.name = "sl", .op_type = "Slice", ATTRS(at2)};
    cr_assert_eq(run_1(&op_slice, &nd2, 9, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_ints(y, I64(3, 28), 2);
    tensor_free(x), tensor_free(y);
}

/* The test value of x[i][j][k][l]: i*1000 + j*100 + k*10 + l. */
static float at4(const int64_t *idx)
{
    return (float)(idx[0] * 1000 + idx[1] * 100 + idx[2] * 10 + idx[3]);
}

Test(slice, a_4d_mix_of_steps_matches_a_naive_loop)
{
    const int64_t dims[4] = {2, 3, 4, 5};
    float v[120];
    int64_t idx[4];
    int n = 0;
    for (idx[0] = 0; idx[0] < 2; idx[0]++)
        for (idx[1] = 0; idx[1] < 3; idx[1]++)
            for (idx[2] = 0; idx[2] < 4; idx[2]++)
                for (idx[3] = 0; idx[3] < 5; idx[3]++)
                    v[n++] = at4(idx);
    /* Axis 1 from 2 down to 0 (step -1), axis 3 from 1 to 5 by 3 (1, 4); axes 0 and 2
     * whole. */
    float want[2 * 2 * 4 * 5]; /* the larger of the two results */
    n = 0;
    for (idx[0] = 0; idx[0] < 2; idx[0]++)
        for (int64_t j = 2; j >= 0; j--)
            for (idx[2] = 0; idx[2] < 4; idx[2]++)
                for (int64_t l = 1; l < 5; l += 3) {
                    idx[1] = j, idx[3] = l;
                    want[n++] = at4(idx);
                }
    struct tensor *x = f32(4, dims, v);
    struct tensor *st = LIST(1, -1), *en = LIST(BIG, SMALL), *ax = LIST(3, 1), *sp = LIST(3, -1);
    struct node nd = {.name = "sl", .op_type = "Slice"};
    const struct tensor *ins[] = {x, st, en, ax, sp};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_slice, &nd, 13, ins, 5, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 4, I64(2, 3, 4, 2));
    tu_expect_floats(y, want, (size_t)n, 0);
    tensor_free(y), tensor_free(st), tensor_free(en), tensor_free(ax), tensor_free(sp);
    /* The channel half shufflenet takes: axis 1 from 1 to 3, a contiguous run per image. */
    n = 0;
    for (idx[0] = 0; idx[0] < 2; idx[0]++)
        for (idx[1] = 1; idx[1] < 3; idx[1]++)
            for (idx[2] = 0; idx[2] < 4; idx[2]++)
                for (idx[3] = 0; idx[3] < 5; idx[3]++)
                    want[n++] = at4(idx);
    st = LIST(1), en = LIST(3), ax = LIST(1);
    const struct tensor *ins2[] = {x, st, en, ax};
    cr_assert_eq(run_1(&op_slice, &nd, 13, ins2, 4, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 4, I64(2, 2, 4, 5));
    tu_expect_floats(y, want, (size_t)n, 0);
    tensor_free(y), tensor_free(st), tensor_free(en), tensor_free(ax), tensor_free(x);
}

Test(slice, gradient_goes_back_to_the_elements_read)
{
    /* y = x[4:0:-2] = (x4, x2); dy = (1, 2) lands on x4 and x2. */
    struct tensor *x = f32(1, I64(5), F32(0, 1, 2, 3, 4));
    struct tensor *st = LIST(4), *en = LIST(0), *ax = LIST(0), *sp = LIST(-2);
    struct node nd = {.name = "sl", .op_type = "Slice"};
    const struct tensor *ins[] = {x, st, en, ax, sp};
    struct tensor *y, *dx;
    struct err err;
    cr_assert_eq(run_1(&op_slice, &nd, 13, ins, 5, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(4, 2), 2, 0);
    struct tensor *dy = f32(1, I64(2), F32(1, 2));
    const struct tensor *douts[] = {dy};
    grads(&op_slice, &nd, 13, ins, 5, &y, 1, douts, &dx, 1);
    tu_expect_floats(dx, F32(0, 0, 2, 0, 1), 5, 0);
    tensor_free(x), tensor_free(st), tensor_free(en), tensor_free(ax), tensor_free(sp);
    tensor_free(y), tensor_free(dy), tensor_free(dx);
}

Test(slice, rejects_zero_steps_repeated_axes_and_unknown_starts_naming_the_node)
{
    struct tensor *x = f32(2, I64(2, 3), NULL);
    struct node nd = {.name = "cut7", .op_type = "Slice"};
    struct tensor *y;
    struct err err;
    struct tensor *st = LIST(0, 0), *en = LIST(1, 1), *ax = LIST(1, -1), *sp = LIST(1, 1);
    const struct tensor *ins[] = {x, st, en, ax, sp};
    cr_expect_eq(run_1(&op_slice, &nd, 13, ins, 5, &y, &err), -1);
    tu_expect_error(&err, "node 'cut7' (Slice)", "axis 1 twice");
    tensor_i64(ax)[1] = 0;
    tensor_i64(sp)[0] = 0;
    cr_expect_eq(run_1(&op_slice, &nd, 13, ins, 5, &y, &err), -1);
    tu_expect_error(&err, "cut7", "steps[0] is 0");
    tensor_i64(sp)[0] = 1;
    tensor_i64(ax)[1] = 2;
    cr_expect_eq(run_1(&op_slice, &nd, 13, ins, 5, &y, &err), -1);
    tu_expect_error(&err, "axes[1] = 2", "[2,3]");
    struct tensor unknown = {.dtype = DTYPE_INT64, .shape = {.ndim = 1, .dims = {2}}};
    const struct tensor *ins2[] = {x, &unknown, en};
    cr_expect_eq(run_1(&op_slice, &nd, 13, ins2, 3, &y, &err), -1);
    tu_expect_error(&err, "starts (input 1) must be known", NULL);
    struct tensor *fst = f32(1, I64(2), F32(0, 0));
    const struct tensor *ins3[] = {x, st, fst};
    cr_expect_eq(run_1(&op_slice, &nd, 13, ins3, 3, &y, &err), -1);
    tu_expect_error(&err, "ends (input 2) must be int64", NULL);
    struct tensor *en3 = LIST(1, 1, 1);
    const struct tensor *ins4[] = {x, st, en3};
    cr_expect_eq(run_1(&op_slice, &nd, 13, ins4, 3, &y, &err), -1);
    tu_expect_error(&err, "starts has 2 entries but ends has 3", NULL);
    struct attr at[] = {A_INTS("ends", 1)};
    struct node nd1 = {.name = "cut1", .op_type = "Slice", ATTRS(at)};
    cr_expect_eq(run_1(&op_slice, &nd1, 1, ins, 1, &y, &err), -1);
    tu_expect_error(&err, "cut1", "starts attribute is required");
    tensor_free(x), tensor_free(st), tensor_free(en), tensor_free(ax), tensor_free(sp);
    tensor_free(fst), tensor_free(en3);
}

/* ---- Split ---- */

Test(split, splits_into_equal_parts_by_default)
{
    struct tensor *x = f32(2, I64(2, 6), F32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
    struct attr at[] = {A_INT("axis", 1)};
    struct node nd = {.name = "sp", .op_type = "Split", ATTRS(at)};
    const struct tensor *ins[] = {x};
    struct tensor *y[3];
    struct err err;
    cr_assert_eq(run_n(&op_split, &nd, 13, ins, 1, y, 3, &err), 0, "%s", err.msg);
    for (int k = 0; k < 3; k++)
        tu_expect_shape(y[k], 2, I64(2, 2));
    tu_expect_floats(y[0], F32(0, 1, 6, 7), 4, 0);
    tu_expect_floats(y[1], F32(2, 3, 8, 9), 4, 0);
    tu_expect_floats(y[2], F32(4, 5, 10, 11), 4, 0);
    for (int k = 0; k < 3; k++)
        tensor_free(y[k]);
    tensor_free(x);
}

Test(split, opset13_reads_variable_parts_from_input_1_on_int64)
{
    struct tensor *x = i64(1, I64(6), I64(1, 2, 3, 4, 5, 6));
    struct tensor *parts = LIST(2, 0, 4);
    struct node nd = {.name = "sp", .op_type = "Split"};
    const struct tensor *ins[] = {x, parts};
    struct tensor *y[3];
    struct err err;
    cr_assert_eq(run_n(&op_split, &nd, 13, ins, 2, y, 3, &err), 0, "%s", err.msg);
    tu_expect_ints(y[0], I64(1, 2), 2);
    tu_expect_shape(y[1], 1, I64(0));
    tu_expect_ints(y[2], I64(3, 4, 5, 6), 4);
    for (int k = 0; k < 3; k++)
        tensor_free(y[k]);
    tensor_free(x), tensor_free(parts);
}

Test(split, opset11_reads_the_split_attribute_and_a_negative_axis)
{
    struct tensor *x = f32(2, I64(2, 3), F32(0, 1, 2, 3, 4, 5));
    struct attr at[] = {A_INT("axis", -1), A_INTS("split", 1, 2)};
    struct node nd = {.name = "sp", .op_type = "Split", ATTRS(at)};
    const struct tensor *ins[] = {x};
    struct tensor *y[2];
    struct err err;
    cr_assert_eq(run_n(&op_split, &nd, 11, ins, 1, y, 2, &err), 0, "%s", err.msg);
    tu_expect_shape(y[0], 2, I64(2, 1));
    tu_expect_floats(y[0], F32(0, 3), 2, 0);
    tu_expect_floats(y[1], F32(1, 2, 4, 5), 4, 0);
    tensor_free(y[0]), tensor_free(y[1]), tensor_free(x);
}

Test(split, opset18_num_outputs_leaves_the_last_part_smaller)
{
    /* 7 into 3: ceil(7/3) = 3, 3, and the 1 left. */
    struct tensor *x = f32(1, I64(7), F32(0, 1, 2, 3, 4, 5, 6));
    struct attr at[] = {A_INT("num_outputs", 3)};
    struct node nd = {.name = "sp", .op_type = "Split", ATTRS(at)};
    const struct tensor *ins[] = {x};
    struct tensor *y[3];
    struct err err;
    cr_assert_eq(run_n(&op_split, &nd, 18, ins, 1, y, 3, &err), 0, "%s", err.msg);
    tu_expect_floats(y[0], F32(0, 1, 2), 3, 0);
    tu_expect_floats(y[1], F32(3, 4, 5), 3, 0);
    tu_expect_shape(y[2], 1, I64(1));
    tu_expect_floats(y[2], F32(6), 1, 0);
    for (int k = 0; k < 3; k++)
        tensor_free(y[k]);
    tensor_free(x);
}

Test(split, gradient_of_each_part_flows_back_to_its_columns)
{
    struct tensor *x = f32(2, I64(2, 3), F32(0, 1, 2, 3, 4, 5));
    struct tensor *parts = LIST(2, 1);
    struct attr at[] = {A_INT("axis", 1)};
    struct node nd = {.name = "sp", .op_type = "Split", ATTRS(at)};
    const struct tensor *ins[] = {x, parts};
    struct tensor *y[2], *dx;
    struct err err;
    cr_assert_eq(run_n(&op_split, &nd, 13, ins, 2, y, 2, &err), 0, "%s", err.msg);
    /* Only part 0 has a gradient: part 1's column stays 0. */
    struct tensor *dy0 = f32(2, I64(2, 2), F32(1, 2, 3, 4));
    const struct tensor *douts[] = {dy0, NULL};
    grads(&op_split, &nd, 13, ins, 2, y, 2, douts, &dx, 1);
    tu_expect_floats(dx, F32(1, 2, 0, 3, 4, 0), 6, 0);
    tensor_free(dx);
    struct tensor *dy1 = f32(2, I64(2, 1), F32(5, 6));
    const struct tensor *douts2[] = {dy0, dy1};
    grads(&op_split, &nd, 13, ins, 2, y, 2, douts2, &dx, 1);
    tu_expect_floats(dx, F32(1, 2, 5, 3, 4, 6), 6, 0);
    tensor_free(dx), tensor_free(dy0), tensor_free(dy1), tensor_free(y[0]), tensor_free(y[1]);
    tensor_free(x), tensor_free(parts);
}

Test(split, rejects_parts_that_do_not_fit_naming_the_node_and_shape)
{
    struct tensor *x = f32(2, I64(2, 5), NULL);
    struct attr at[] = {A_INT("axis", 1)};
    struct node nd = {.name = "halves", .op_type = "Split", ATTRS(at)};
    struct tensor *y[3];
    struct err err;
    struct tensor *parts = LIST(2, 2);
    const struct tensor *ins[] = {x, parts};
    cr_expect_eq(run_n(&op_split, &nd, 13, ins, 2, y, 2, &err), -1);
    tu_expect_error(&err, "node 'halves' (Split)",
                    "add up to 4 but axis 1 of the input of shape [2,5]");
    const struct tensor *ins1[] = {x};
    cr_expect_eq(run_n(&op_split, &nd, 13, ins1, 1, y, 2, &err), -1);
    tu_expect_error(&err, "halves", "does not split into 2 equal parts");
    cr_expect_eq(run_n(&op_split, &nd, 13, ins, 2, y, 3, &err), -1);
    tu_expect_error(&err, "split has 2 entries but the node has 3 outputs", NULL);
    struct attr at2[] = {A_INT("axis", 2)};
    struct node nd2 = {.name = "halves", .op_type = "Split", ATTRS(at2)};
    cr_expect_eq(run_n(&op_split, &nd2, 13, ins1, 1, y, 2, &err), -1);
    tu_expect_error(&err, "axis 2 is out of range", "[2,5]");
    struct attr at3[] = {A_INT("num_outputs", 2)};
    struct node nd3 = {.name = "halves", .op_type = "Split", ATTRS(at3)};
    cr_expect_eq(run_n(&op_split, &nd3, 18, ins, 2, y, 2, &err), -1);
    tu_expect_error(&err, "both the split input and the num_outputs attribute", NULL);
    tensor_free(x), tensor_free(parts);
}

/* ---- Expand ---- */

Test(expand, broadcasts_a_column_under_a_new_leading_axis)
{
    /* [3,1] to [2,1,6]: the broadcast shape is [2,3,6], y[i][j][k] = x[j]. */
    struct tensor *x = f32(2, I64(3, 1), F32(1, 2, 3));
    struct tensor *s = LIST(2, 1, 6);
    struct node nd = {.name = "ex", .op_type = "Expand"};
    const struct tensor *ins[] = {x, s};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_expand, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 3, I64(2, 3, 6));
    float want[36];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 6; k++)
                want[(i * 3 + j) * 6 + k] = (float)(j + 1);
    tu_expect_floats(y, want, 36, 0);
    tensor_free(x), tensor_free(s), tensor_free(y);
}

Test(expand, keeps_input_dims_where_the_shape_is_shorter_or_says_1_on_int64)
{
    /* [2,3] with shape [1] stays [2,3]; a row [1,3] with shape [2,1] becomes [2,3]. */
    struct tensor *x = i64(2, I64(1, 3), I64(7, 8, 9));
    struct tensor *s = LIST(2, 1);
    struct node nd = {.name = "ex", .op_type = "Expand"};
    const struct tensor *ins[] = {x, s};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_expand, &nd, 8, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 3));
    tu_expect_ints(y, I64(7, 8, 9, 7, 8, 9), 6);
    tensor_free(y), tensor_free(s);
    struct tensor *x2 = i64(2, I64(2, 3), I64(1, 2, 3, 4, 5, 6));
    s = LIST(1);
    const struct tensor *ins2[] = {x2, s};
    cr_assert_eq(run_1(&op_expand, &nd, 13, ins2, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(2, 3));
    tu_expect_ints(y, I64(1, 2, 3, 4, 5, 6), 6);
    tensor_free(y), tensor_free(s), tensor_free(x), tensor_free(x2);
}

Test(expand, gradient_sums_over_the_broadcast_axes)
{
    struct tensor *x = f32(2, I64(2, 1), F32(5, 6));
    struct tensor *s = LIST(3, 2, 2);
    struct node nd = {.name = "ex", .op_type = "Expand"};
    const struct tensor *ins[] = {x, s};
    struct tensor *y, *dx;
    struct err err;
    cr_assert_eq(run_1(&op_expand, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    /* dy[i][j][k] = i*4 + j*2 + k; dx[j] = sum over i, k: j=0: 0+1+4+5+8+9 = 27,
     * j=1: 2+3+6+7+10+11 = 39. */
    float g[12];
    for (int i = 0; i < 12; i++)
        g[i] = (float)i;
    struct tensor *dy = f32(3, I64(3, 2, 2), g);
    const struct tensor *douts[] = {dy};
    grads(&op_expand, &nd, 13, ins, 2, &y, 1, douts, &dx, 1);
    tu_expect_floats(dx, F32(27, 39), 2, 0);
    tensor_free(x), tensor_free(s), tensor_free(y), tensor_free(dy), tensor_free(dx);
}

Test(expand, rejects_shapes_that_do_not_broadcast_naming_both)
{
    struct tensor *x = f32(2, I64(3, 2), NULL);
    struct tensor *s = LIST(4, 3);
    struct node nd = {.name = "grow", .op_type = "Expand"};
    const struct tensor *ins[] = {x, s};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_1(&op_expand, &nd, 13, ins, 2, &y, &err), -1);
    tu_expect_error(&err, "node 'grow' (Expand)", "input of shape [3,2] to shape [4,3]");
    tensor_i64(s)[1] = -2;
    cr_expect_eq(run_1(&op_expand, &nd, 13, ins, 2, &y, &err), -1);
    tu_expect_error(&err, "grow", "shape[1] = -2 is negative");
    tensor_free(x), tensor_free(s);
}

/* ---- Tile ---- */

Test(tile, repeats_every_axis)
{
    /* [[1,2],[3,4]] tiled (2,3): rows repeat the pattern 1 2 1 2 1 2 / 3 4 3 4 3 4. */
    struct tensor *x = f32(2, I64(2, 2), F32(1, 2, 3, 4));
    struct tensor *r = LIST(2, 3);
    struct node nd = {.name = "tl", .op_type = "Tile"};
    const struct tensor *ins[] = {x, r};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_tile, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(4, 6));
    tu_expect_floats(y, F32(1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4),
                     24, 0);
    tensor_free(x), tensor_free(r), tensor_free(y);
}

Test(tile, a_3d_int64_tile_matches_a_naive_loop)
{
    /* Repeats (2,1,3) over [2,3,2]: y[i][j][k] = x[i % 2][j][k % 2]. */
    int64_t v[12];
    for (int i = 0; i < 12; i++)
        v[i] = i * 10;
    struct tensor *x = i64(3, I64(2, 3, 2), v);
    struct tensor *r = LIST(2, 1, 3);
    struct node nd = {.name = "tl", .op_type = "Tile"};
    const struct tensor *ins[] = {x, r};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_tile, &nd, 6, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 3, I64(4, 3, 6));
    int64_t want[72];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 6; k++)
                want[(i * 3 + j) * 6 + k] = v[((i % 2) * 3 + j) * 2 + k % 2];
    tu_expect_ints(y, want, 72);
    tensor_free(x), tensor_free(r), tensor_free(y);
}

Test(tile, gradient_sums_the_copies)
{
    struct tensor *x = f32(1, I64(2), F32(1, 2));
    struct tensor *r = LIST(3);
    struct node nd = {.name = "tl", .op_type = "Tile"};
    const struct tensor *ins[] = {x, r};
    struct tensor *y, *dx;
    struct err err;
    cr_assert_eq(run_1(&op_tile, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(1, 2, 1, 2, 1, 2), 6, 0);
    struct tensor *dy = f32(1, I64(6), F32(1, 2, 3, 4, 5, 6));
    const struct tensor *douts[] = {dy};
    grads(&op_tile, &nd, 13, ins, 2, &y, 1, douts, &dx, 1);
    tu_expect_floats(dx, F32(9, 12), 2, 0);
    tensor_free(x), tensor_free(r), tensor_free(y), tensor_free(dy), tensor_free(dx);
}

Test(tile, rejects_repeats_of_the_wrong_length_naming_the_shape)
{
    struct tensor *x = f32(2, I64(2, 2), NULL);
    struct tensor *r = LIST(2);
    struct node nd = {.name = "rep", .op_type = "Tile"};
    const struct tensor *ins[] = {x, r};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_1(&op_tile, &nd, 13, ins, 2, &y, &err), -1);
    tu_expect_error(&err, "node 'rep' (Tile)",
                    "repeats has 1 entries but the input of shape [2,2]");
    struct tensor *neg = LIST(1, -1);
    const struct tensor *ins2[] = {x, neg};
    cr_expect_eq(run_1(&op_tile, &nd, 13, ins2, 2, &y, &err), -1);
    tu_expect_error(&err, "rep", "repeats[1] = -1 is negative");
    tensor_free(x), tensor_free(r), tensor_free(neg);
}

/* ---- Reduce* ---- */

Test(reducesum, opset13_reads_axes_from_input_1)
{
    struct tensor *x = f32(2, I64(2, 3), F32(1, 2, 3, 4, 5, 9));
    struct tensor *axes = LIST(-1);
    struct attr at[] = {A_INT("keepdims", 0)};
    struct node nd = {.name = "rs", .op_type = "ReduceSum", ATTRS(at)};
    const struct tensor *ins[] = {x, axes};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_reducesum, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 1, I64(2));
    tu_expect_floats(y, F32(6, 18), 2, 0);
    tensor_free(x), tensor_free(axes), tensor_free(y);
}

Test(reducesum, opset11_reads_the_axes_attribute_on_int64)
{
    struct tensor *x = i64(2, I64(2, 3), I64(1, 2, 3, 4, 5, 9));
    struct attr at[] = {A_INTS("axes", 0)};
    struct node nd = {.name = "rs", .op_type = "ReduceSum", ATTRS(at)};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_reducesum, &nd, 11, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(1, 3));
    tu_expect_ints(y, I64(5, 7, 12), 3);
    tensor_free(x), tensor_free(y);
}

Test(reducesum, empty_axes_reduce_everything_unless_noop_is_set)
{
    struct tensor *x = f32(1, I64(4), F32(1, 2, 3, 6));
    struct tensor *axes = i64(1, I64(0), NULL);
    struct attr at[] = {A_INT("noop_with_empty_axes", 0)};
    struct node nd = {.name = "rs", .op_type = "ReduceSum", ATTRS(at)};
    const struct tensor *ins[] = {x, axes};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_reducesum, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 1, I64(1));
    tu_expect_floats(y, F32(12), 1, 0);
    tensor_free(y);
    at[0].i = 1;
    cr_assert_eq(run_1(&op_reducesum, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 1, I64(4));
    tu_expect_floats(y, F32(1, 2, 3, 6), 4, 0);
    tensor_free(y), tensor_free(x), tensor_free(axes);
}

Test(reducemax, takes_the_largest_along_a_negative_axis_on_float_and_int64)
{
    struct tensor *x = f32(2, I64(2, 3), F32(1, -7, 3, 4, 5, -9));
    struct attr at[] = {A_INTS("axes", -2)};
    struct node nd = {.name = "mx", .op_type = "ReduceMax", ATTRS(at)};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_reducemax, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(1, 3));
    tu_expect_floats(y, F32(4, 5, 3), 3, 0);
    tensor_free(y);
    struct tensor *xi = i64(2, I64(2, 3), I64(1, -7, 3, 4, 5, -9));
    const struct tensor *ins2[] = {xi};
    cr_assert_eq(run_1(&op_reducemin, &nd, 13, ins2, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_ints(y, I64(1, -7, -9), 3);
    tensor_free(y), tensor_free(x), tensor_free(xi);
}

Test(reducemax, over_nothing_gives_minus_infinity_and_min_plus_infinity)
{
    struct tensor *x = f32(2, I64(0, 2), NULL);
    struct attr at[] = {A_INTS("axes", 0)};
    struct node nd = {.name = "mx", .op_type = "ReduceMax", ATTRS(at)};
    const struct tensor *ins[] = {x};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_reducemax, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 2, I64(1, 2));
    cr_expect(isinf(tensor_f32(y)[0]) && tensor_f32(y)[0] < 0, "%g", tensor_f32(y)[0]);
    cr_expect(isinf(tensor_f32(y)[1]) && tensor_f32(y)[1] < 0, "%g", tensor_f32(y)[1]);
    tensor_free(y);
    cr_assert_eq(run_1(&op_reducemin, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    cr_expect(isinf(tensor_f32(y)[0]) && tensor_f32(y)[0] > 0, "%g", tensor_f32(y)[0]);
    tensor_free(y);
    cr_assert_eq(run_1(&op_reduceprod, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(1, 1), 2, 0);
    tensor_free(y), tensor_free(x);
}

Test(reducel2, norms_and_products_by_hand_on_float_and_int64)
{
    /* Rows (3, -4) and (1, 2): L1 7 and 3, L2 5 and sqrt 5, sum of squares 25 and 5,
     * product -12 and 2. */
    struct tensor *x = f32(2, I64(2, 2), F32(3, -4, 1, 2));
    struct tensor *xi = i64(2, I64(2, 2), I64(3, -4, 1, 2));
    struct attr at[] = {A_INTS("axes", 1), A_INT("keepdims", 0)};
    struct node nd = {.name = "n", .op_type = "ReduceL2", ATTRS(at)};
    const struct tensor *ins[] = {x}, *insi[] = {xi};
    struct tensor *y;
    struct err err;
    cr_assert_eq(run_1(&op_reducel1, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(7, 3), 2, 0);
    tensor_free(y);
    cr_assert_eq(run_1(&op_reducel2, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, 1, I64(2));
    tu_expect_floats(y, F32(5, sqrtf(5)), 2, 1e-6f);
    tensor_free(y);
    cr_assert_eq(run_1(&op_reducesumsquare, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(25, 5), 2, 0);
    tensor_free(y);
    cr_assert_eq(run_1(&op_reduceprod, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(-12, 2), 2, 0);
    tensor_free(y);
    cr_assert_eq(run_1(&op_reducel1, &nd, 13, insi, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_ints(y, I64(7, 3), 2);
    tensor_free(y);
    /* sqrt(5) truncated to 2, as the ONNX reference casts back to int64. */
    cr_assert_eq(run_1(&op_reducel2, &nd, 13, insi, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_ints(y, I64(5, 2), 2);
    tensor_free(y);
    cr_assert_eq(run_1(&op_reducesumsquare, &nd, 13, insi, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_ints(y, I64(25, 5), 2);
    tensor_free(y);
    cr_assert_eq(run_1(&op_reduceprod, &nd, 13, insi, 1, &y, &err), 0, "%s", err.msg);
    tu_expect_ints(y, I64(-12, 2), 2);
    tensor_free(y), tensor_free(x), tensor_free(xi);
}

/* The naive reductions of x[i][j][k] (shape [2,3,4]) over i and k, one per j. */
static float naive(int kind, const float *x, int j)
{
    double acc = kind == 4 ? 1 : kind == 2 ? -INFINITY : kind == 3 ? INFINITY : 0;
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++) {
            double v = x[(i * 3 + j) * 4 + k];
            switch (kind) {
            case 0: acc += v; break;
            case 1: acc += v * v; break;
            case 2: acc = v > acc ? v : acc; break;
            case 3: acc = v < acc ? v : acc; break;
            case 4: acc *= v; break;
            case 5: acc += fabs(v); break;
            }
        }
    return (float)acc;
}

Test(reducesum, outer_and_inner_axes_match_a_naive_loop_for_every_kind)
{
    float v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (float)((i * 7) % 11) / 4.0f - 1.0f;
    struct tensor *x = f32(3, I64(2, 3, 4), v);
    const struct op_def *ops[] = {&op_reducesum, &op_reducesumsquare, &op_reducemax,
                                  &op_reducemin, &op_reduceprod,      &op_reducel1};
    struct attr at[] = {A_INTS("axes", 2, 0)};
    struct node nd = {.name = "r", .op_type = "Reduce", ATTRS(at)};
    const struct tensor *ins[] = {x};
    for (int kind = 0; kind < 6; kind++) {
        struct tensor *y;
        struct err err;
        cr_assert_eq(run_1(ops[kind], &nd, 11, ins, 1, &y, &err), 0, "%s", err.msg);
        tu_expect_shape(y, 3, I64(1, 3, 1));
        float want[3];
        for (int j = 0; j < 3; j++)
            want[j] = naive(kind, v, j);
        tu_expect_floats(y, want, 3, 1e-5f);
        tensor_free(y);
    }
    tensor_free(x);
}

Test(reducemax, gradient_is_shared_among_ties)
{
    /* Row (1, 5, 5): the two 5s share dy = 4; row (2, 0, 1): all of dy = 3 to the 2. */
    struct tensor *x = f32(2, I64(2, 3), F32(1, 5, 5, 2, 0, 1));
    struct attr at[] = {A_INTS("axes", 1)};
    struct node nd = {.name = "mx", .op_type = "ReduceMax", ATTRS(at)};
    const struct tensor *ins[] = {x};
    struct tensor *y, *dx;
    struct err err;
    cr_assert_eq(run_1(&op_reducemax, &nd, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    struct tensor *dy = f32(2, I64(2, 1), F32(4, 3));
    const struct tensor *douts[] = {dy};
    grads(&op_reducemax, &nd, 13, ins, 1, &y, 1, douts, &dx, 1);
    tu_expect_floats(dx, F32(0, 2, 2, 3, 0, 0), 6, 0);
    tensor_free(x), tensor_free(y), tensor_free(dy), tensor_free(dx);
}

Test(reducesum, gradient_broadcasts_back_and_mean_scales_it)
{
    struct tensor *x = f32(2, I64(2, 2), F32(1, 2, 3, 4));
    struct tensor *axes = LIST(0);
    struct node nd = {.name = "rs", .op_type = "ReduceSum"};
    const struct tensor *ins[] = {x, axes};
    struct tensor *y, *dx;
    struct err err;
    cr_assert_eq(run_1(&op_reducesum, &nd, 13, ins, 2, &y, &err), 0, "%s", err.msg);
    tu_expect_floats(y, F32(4, 6), 2, 0);
    struct tensor *dy = f32(2, I64(1, 2), F32(1, 2));
    const struct tensor *douts[] = {dy};
    grads(&op_reducesum, &nd, 13, ins, 2, &y, 1, douts, &dx, 1);
    tu_expect_floats(dx, F32(1, 2, 1, 2), 4, 0);
    tensor_free(dx), tensor_free(y);
    struct attr at[] = {A_INTS("axes", 0)};
    struct node ndm = {.name = "rm", .op_type = "ReduceMean", ATTRS(at)};
    cr_assert_eq(run_1(&op_reducemean, &ndm, 13, ins, 1, &y, &err), 0, "%s", err.msg);
    grads(&op_reducemean, &ndm, 13, ins, 1, &y, 1, douts, &dx, 1);
    tu_expect_floats(dx, F32(0.5f, 1, 0.5f, 1), 4, 0);
    tensor_free(x), tensor_free(axes), tensor_free(y), tensor_free(dy), tensor_free(dx);
}

Test(reducesum, rejects_unknown_axes_and_axes_inputs_before_their_opset)
{
    struct tensor x = {.dtype = DTYPE_FLOAT, .shape = {.ndim = 1, .dims = {3}}};
    struct tensor axes = {.dtype = DTYPE_INT64, .shape = {.ndim = 1, .dims = {1}}};
    const struct tensor *ins[] = {&x, &axes};
    struct node nd = {.name = "sum3", .op_type = "ReduceSum"};
    struct tensor *y;
    struct err err;
    cr_expect_eq(run_1(&op_reducesum, &nd, 13, ins, 2, &y, &err), -1);
    tu_expect_error(&err, "node 'sum3' (ReduceSum)", "input 1 must be known");
    struct node ndx = {.name = "max3", .op_type = "ReduceMax"};
    cr_expect_eq(run_1(&op_reducemax, &ndx, 13, ins, 2, &y, &err), -1);
    tu_expect_error(&err, "max3", "expects 1 input(s), has 2");
    struct attr at[] = {A_INTS("axes", 1, 1)};
    struct node ndr = {.name = "min3", .op_type = "ReduceMin", ATTRS(at)};
    struct tensor *x2 = f32(2, I64(2, 3), NULL);
    const struct tensor *ins2[] = {x2};
    cr_expect_eq(run_1(&op_reducemin, &ndr, 13, ins2, 1, &y, &err), -1);
    tu_expect_error(&err, "min3", "axis 1 twice");
    tensor_free(x2);
}

/* ---- Element types not supported yet ---- */

Test(slice, int32_data_and_int32_starts_are_reported_as_unsupported)
{
    /* ONNX's int32 (code 6): valid in every one of these ops, not computed on yet. */
    const enum dtype int32 = (enum dtype)6;
    struct tensor x = {.dtype = int32, .shape = {.ndim = 1, .dims = {4}}};
    struct tensor *st = LIST(0), *en = LIST(2), *r = LIST(2), *sh = LIST(4);
    struct node nd = {.name = "cast_me", .op_type = "Slice"};
    struct tensor *y[2];
    struct err err;
    const struct tensor *ins[] = {&x, st, en};
    cr_expect_eq(run_1(&op_slice, &nd, 13, ins, 3, y, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED, "%s", err.msg);
    tu_expect_error(&err, "node 'cast_me' (Slice)", "is not supported");
    struct tensor *xf = f32(1, I64(4), NULL);
    struct tensor st32 = {.dtype = int32, .shape = {.ndim = 1, .dims = {1}}};
    const struct tensor *ins2[] = {xf, &st32, en};
    cr_expect_eq(run_1(&op_slice, &nd, 13, ins2, 3, y, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED, "%s", err.msg);
    tu_expect_error(&err, "of starts (input 1)", "is not supported");
    const struct tensor *one[] = {&x}, *rep[] = {&x, r}, *shp[] = {&x, sh};
    struct node ns = {.name = "n", .op_type = "Split"};
    cr_expect_eq(run_n(&op_split, &ns, 13, one, 1, y, 2, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED, "Split: %s", err.msg);
    cr_expect_eq(run_1(&op_tile, &ns, 13, rep, 2, y, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED, "Tile: %s", err.msg);
    cr_expect_eq(run_1(&op_expand, &ns, 13, shp, 2, y, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED, "Expand: %s", err.msg);
    cr_expect_eq(run_1(&op_reducesum, &ns, 13, one, 1, y, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED, "ReduceSum: %s", err.msg);
    cr_expect_eq(run_1(&op_reducemax, &ns, 13, one, 1, y, &err), -1);
    cr_expect_eq(err.code, ERR_UNSUPPORTED, "ReduceMax: %s", err.msg);
    tensor_free(st), tensor_free(en), tensor_free(r), tensor_free(sh), tensor_free(xf);
}

/* ---- Folding at planning time ---- */

static int val(struct graph *g, const char *name)
{
    struct err err;
    int v = graph_intern_value(g, name, &err);
    cr_assert_geq(v, 0);
    return v;
}

static void constant(struct graph *g, const char *name, size_t n, const int64_t *vals)
{
    int v = val(g, name);
    g->values[v].constant = i64(1, I64((int64_t)n), vals);
    g->values[v].dtype = DTYPE_INT64;
}

static void add_node(struct graph *g, const char *name, const char *op, int n_in,
                     const char *const *ins, const char *out, const char *attr, int64_t attr_val)
{
    struct err err;
    struct node n = {.name = strdup(name), .op_type = strdup(op), .domain = strdup("")};
    n.inputs = malloc((size_t)n_in * sizeof *n.inputs);
    for (int i = 0; i < n_in; i++)
        n.inputs[n.n_inputs++] = val(g, ins[i]);
    n.outputs = malloc(sizeof *n.outputs);
    n.outputs[n.n_outputs++] = val(g, out);
    if (attr) {
        n.attrs = calloc(1, sizeof *n.attrs);
        n.attrs[0].name = strdup(attr);
        n.attrs[0].type = ATTR_INT;
        n.attrs[0].i = attr_val;
        n.n_attrs = 1;
    }
    cr_assert_geq(graph_add_node(g, &n, &err), 0, "%s", err.msg);
}

Test(slice, shape_chains_of_slice_reduceprod_and_concat_fold_at_planning_time)
{
    /* PyTorch's x.reshape(x.shape[0], -1) spelled out: Shape -> Slice [0:1] and Slice [1:]
     * -> ReduceProd -> Concat -> Reshape. Only the Reshape is left to run, to [2,12]. */
    struct err err;
    struct graph *g = graph_new(&err);
    cr_assert_not_null(g);
    g->opset = 13;
    g->inputs = malloc(sizeof *g->inputs);
    g->inputs[g->n_inputs++] = val(g, "x");
    constant(g, "zero", 1, I64(0));
    constant(g, "one", 1, I64(1));
    constant(g, "end", 1, I64(BIG));
    add_node(g, "shape", "Shape", 1, (const char *[]){"x"}, "s", NULL, 0);
    add_node(g, "head", "Slice", 3, (const char *[]){"s", "zero", "one"}, "n", NULL, 0);
    add_node(g, "tail", "Slice", 3, (const char *[]){"s", "one", "end"}, "rest", NULL, 0);
    add_node(g, "prod", "ReduceProd", 1, (const char *[]){"rest"}, "m", NULL, 0);
    add_node(g, "cat", "Concat", 2, (const char *[]){"n", "m"}, "target", "axis", 0);
    add_node(g, "flat", "Reshape", 2, (const char *[]){"x", "target"}, "y", NULL, 0);
    g->outputs = malloc(sizeof *g->outputs);
    g->outputs[g->n_outputs++] = val(g, "y");
    cr_assert_eq(graph_sort(g, &err), 0, "%s", err.msg);
    const struct op_def *ops[6];
    for (int i = 0; i < g->n_nodes; i++)
        cr_assert_not_null(ops[i] = ops_find(g->nodes[i].op_type), "%s", g->nodes[i].op_type);
    struct shape in = shape_make(3, I64(2, 3, 4));
    enum dtype dt = DTYPE_FLOAT;
    struct plan *p = plan_new(g, ops, &in, &dt, NULL, &err);
    cr_assert_not_null(p, "%s", err.msg);
    cr_expect_eq(p->n_steps, 1);
    cr_expect_str_eq(g->nodes[p->steps[0].node].name, "flat");
    int t = graph_find_value(g, "target");
    cr_expect(p->known[t]);
    tu_expect_ints(&p->values[t], I64(2, 12), 2);
    tu_expect_shape(&p->values[graph_find_value(g, "y")], 2, I64(2, 12));
    plan_free(p);
    graph_free(g);
}
