/* Fusion (engine/plan.c): a Conv with the BatchNormalization and the Relu or Clip after it
 * runs as one step, and computes to the bit what the three nodes compute one after the
 * other: on
 * torchvision architectures, after their weights and BatchNormalization parameters change
 * (pruning), and when a run keeps or gives a value that fusion would not store. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/plan.h"
#include "model/onnx_reader.h"
#include "testutil.h"

struct fixture {
    struct engine *e;
    struct tensor *input; /* PyTorch's test input of the architecture */
};

static struct fixture open_arch(const char *arch)
{
    char rel[256];
    struct err err;
    struct fixture f;
    snprintf(rel, sizeof rel, "tests/fixtures/arch/%s/model.onnx", arch);
    f.e = engine_open(tu_src_path(rel), 1, &err);
    cr_assert_not_null(f.e, "%s: %s", arch, err.msg);
    snprintf(rel, sizeof rel, "tests/fixtures/arch/%s/test_data_set_0/input_0.pb", arch);
    f.input = onnx_read_tensor_file(tu_src_path(rel), NULL, NULL, &err);
    cr_assert_not_null(f.input, "%s: %s", arch, err.msg);
    return f;
}

static struct plan *make_plan(const struct fixture *f, bool fuse)
{
    struct err err;
    struct plan_opts o = {.fuse = fuse};
    enum dtype dt = DTYPE_FLOAT;
    struct plan *p =
        plan_new_opts(engine_graph(f->e), engine_ops(f->e), &f->input->shape, &dt, NULL, &o, &err);
    cr_assert_not_null(p, "%s", err.msg);
    return p;
}

/* Output 0 of plan p on the fixture's input, copied. */
static struct tensor *run_plan(const struct fixture *f, const struct plan *p)
{
    struct err err;
    struct workspace *w = workspace_new(p, &err);
    cr_assert_not_null(w, "%s", err.msg);
    const struct tensor *ins[] = {f->input};
    cr_assert_eq(workspace_run(w, ins, &err), 0, "%s", err.msg);
    const struct tensor *y = &w->values[engine_graph(f->e)->outputs[0]];
    struct tensor *copy = tensor_new(y->dtype, &y->shape, &err);
    cr_assert_not_null(copy);
    memcpy(copy->data, y->data, tensor_bytes(y));
    workspace_free(w);
    return copy;
}

static int count_op(const struct graph *g, const char *op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += strcmp(g->nodes[i].op_type, op) == 0;
    return n;
}

static void expect_close(const struct tensor *got, const struct tensor *want, double tol,
                         const char *what)
{
    struct tu_compare cmp = tu_compare(got, want, tol, tol);
    cr_expect(cmp.ok, "%s: %s", what, cmp.why);
}

/* The fused step computes each op's own expression in the op's order: the same floats. */
static void expect_same(const struct tensor *got, const struct tensor *want, const char *what)
{
    expect_close(got, want, 0.0, what);
}

/* Every BatchNormalization of these models follows a Conv whose output nothing else reads,
 * and every Relu or Clip follows such a BatchNormalization or Conv: fusion takes them all. */
Test(fusion, fused_plans_compute_the_nodes_outputs_on_real_architectures, .timeout = 120)
{
    static const char *const archs[] = {"mobilenet_v2", "resnet18", "mnasnet0_5", "squeezenet1_1"};
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
        struct fixture f = open_arch(archs[a]);
        const struct graph *g = engine_graph(f.e);
        struct plan *fused = make_plan(&f, true), *plain = make_plan(&f, false);
        int n_fused = 0, n_steps = 0;
        for (int s = 0; s < fused->n_steps; s++)
            n_fused += fused->steps[s].n_fused;
        n_steps = fused->n_steps + n_fused;
        int bn = count_op(g, "BatchNormalization"), act = count_op(g, "Relu") + count_op(g, "Clip");
        /* squeezenet1_1 has none: its Relu nodes follow the Conv nodes directly. */
        cr_expect(bn > 0 || strcmp(archs[a], "squeezenet1_1") == 0,
                  "%s has BatchNormalization nodes", archs[a]);
        if (strcmp(archs[a], "resnet18") == 0)
            act -= 8; /* the Relu after each residual Add follows no BatchNormalization */
        cr_expect_eq(n_fused, bn + act, "%s: %d nodes fused, %d BatchNormalization + %d Relu/Clip",
                     archs[a], n_fused, bn, act);
        cr_expect_eq(n_steps, plain->n_steps, "%s: the fused steps and the nodes they took",
                     archs[a]);
        cr_expect(fused->activation_bytes <= plain->activation_bytes);
        /* The same floats as the nodes one by one, and PyTorch's outputs as the fixtures'
         * tolerance. */
        char rel[256], what[64];
        struct err err;
        snprintf(rel, sizeof rel, "tests/fixtures/arch/%s/test_data_set_0/output_0.pb", archs[a]);
        struct tensor *want = onnx_read_tensor_file(tu_src_path(rel), NULL, NULL, &err);
        cr_assert_not_null(want, "%s", err.msg);
        struct tensor *yf = run_plan(&f, fused), *yp = run_plan(&f, plain);
        snprintf(what, sizeof what, "%s fused against unfused", archs[a]);
        expect_same(yf, yp, what);
        snprintf(what, sizeof what, "%s fused against PyTorch", archs[a]);
        expect_close(yf, want, 1e-4, what);
        tensor_free(want);
        tensor_free(yf);
        tensor_free(yp);
        plan_free(fused);
        plan_free(plain);
        tensor_free(f.input);
        engine_free(f.e);
    }
}

/* Pruning changes the weights in place and refreshes what the plans prepared: a fused step
 * follows both its Conv's new weights and its BatchNormalization's new parameters. */
Test(fusion, fused_steps_follow_changed_weights_and_batchnorm_parameters)
{
    struct fixture f = open_arch("mobilenet_v2");
    struct graph *g = (struct graph *)engine_graph(f.e);
    struct plan *fused = make_plan(&f, true), *plain = make_plan(&f, false);
    bool *changed = calloc((size_t)g->n_values, sizeof *changed);
    cr_assert_not_null(changed);
    int touched = 0;
    for (int s = 0; s < fused->n_steps; s++) {
        const struct plan_step *st = &fused->steps[s];
        if (st->n_fused == 0 || strcmp(g->nodes[st->fused[0]].op_type, "BatchNormalization"))
            continue;
        /* Of every three fused steps, the first has 80% of its weights zeroed (the sparse
         * kernels take it) and its BatchNormalization's scale halved and B moved, the
         * second only the latter, the third nothing. */
        int k = touched++ % 3;
        if (k == 2)
            continue;
        int wv = g->nodes[st->node].inputs[1];
        struct tensor *w = (struct tensor *)g->values[wv].constant;
        float *wd = tensor_f32(w);
        for (size_t i = 0; i < tensor_numel(w) && k == 0; i++)
            if (i % 5)
                wd[i] = 0.0f;
        changed[wv] = changed[wv] || k == 0;
        const struct node *bn = &g->nodes[st->fused[0]];
        struct tensor *scale = (struct tensor *)g->values[bn->inputs[1]].constant;
        struct tensor *shift = (struct tensor *)g->values[bn->inputs[2]].constant;
        for (size_t i = 0; i < tensor_numel(scale); i++) {
            tensor_f32(scale)[i] *= 0.5f;
            tensor_f32(shift)[i] += 0.25f;
        }
        changed[bn->inputs[1]] = changed[bn->inputs[2]] = true;
    }
    cr_assert(touched > 10);
    struct err err;
    cr_assert_eq(plan_refresh_prepared(fused, changed, &err), 0, "%s", err.msg);
    cr_assert_eq(plan_refresh_prepared(plain, changed, &err), 0, "%s", err.msg);
    struct tensor *yf = run_plan(&f, fused), *yp = run_plan(&f, plain);
    struct plan *fresh = make_plan(&f, false);
    struct tensor *yn = run_plan(&f, fresh);
    expect_same(yp, yn, "the unfused plan after its refresh");
    expect_same(yf, yn, "the fused plan after its refresh");
    tensor_free(yf), tensor_free(yp), tensor_free(yn);
    plan_free(fused), plan_free(plain), plan_free(fresh);
    free(changed);
    tensor_free(f.input);
    engine_free(f.e);
}

/* A run that keeps a Conv's own output (which a fused plan never stores) gets it, from a
 * plan that does not fuse that Conv, with the same model outputs. */
Test(fusion, keeping_a_fused_away_value_runs_it_unfused)
{
    struct fixture f = open_arch("mobilenet_v2");
    const struct graph *g = engine_graph(f.e);
    struct plan *fused = make_plan(&f, true), *plain = make_plan(&f, false);
    int v = -1;
    for (int s = 0; s < fused->n_steps && v < 0; s++)
        if (fused->steps[s].n_fused == 2)
            v = g->nodes[fused->steps[s].node].outputs[0];
    cr_assert(v >= 0 && fused->fused_away[v]);
    struct err err;
    struct tensor *kept = NULL, *outs[4] = {NULL};
    struct engine_rows_opts o = {.n_capture = 1, .capture_values = &v, .captured = &kept};
    cr_assert_eq(engine_run_rows_ex(f.e, f.input, &o, outs, &err), 0, "%s", err.msg);
    cr_assert_not_null(kept);
    /* The same value from the unfused plan's own workspace. */
    struct workspace *w = workspace_new(plain, &err);
    cr_assert_not_null(w);
    const struct tensor *ins[] = {f.input};
    void *dst[] = {malloc(tensor_bytes(kept))};
    cr_assert_eq(workspace_run_subset(w, ins, NULL, 1, &v, dst, &err), 0, "%s", err.msg);
    struct tensor want = *kept;
    want.data = dst[0];
    want.owns_data = false;
    /* The engine's chunks of rows may take the batched kernels, which round differently. */
    expect_close(kept, &want, 1e-5, "the kept Conv output");
    struct tensor *y = run_plan(&f, plain);
    expect_close(outs[0], y, 1e-5, "the model output of the run that kept it");
    tensor_free(y);
    free(dst[0]);
    workspace_free(w);
    tensor_free(kept);
    tensor_free(outs[0]);
    plan_free(fused), plan_free(plain);
    tensor_free(f.input);
    engine_free(f.e);
}
