/* Dependency groups: what the analysis couples on real graphs, and neuron pruning of
 * MatMul + Add layers against an independent numpy computation
 * (tests/fixtures/matmul_add/make_matmul_add.py). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/model.h"
#include "session/session.h"
#include "testutil.h"

Test(groups, neuron_pruning_of_matmul_add_removes_the_bias_with_the_unit)
{
    json_error_t je;
    json_t *exp = json_load_file(tu_src_path("tests/fixtures/matmul_add/expected.json"), 0, &je);
    cr_assert_not_null(exp, "%s", je.text);
    struct session *s = tu_open_session("tests/fixtures/matmul_add/model.onnx",
                                        "tests/fixtures/matmul_add/data.csv", 0, 2);
    json_t *cases = json_object_get(exp, "cases");
    cr_assert_eq(json_array_size(cases), 4);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cs = json_array_get(cases, c);
        size_t layer = (size_t)json_integer_value(json_object_get(cs, "layer")) - 1;
        double sp = json_number_value(json_object_get(cs, "sparsity"));
        struct err err;
        struct prune_config cfg;
        cr_assert_eq(session_config_copy(s, &cfg, &err), 0);
        memset(cfg.settings, 0, s->layers.count * sizeof *cfg.settings);
        cfg.settings[layer] = (struct prune_setting){sp, CRIT_L1, GRAN_NEURON};
        cr_assert_eq(session_configure(s, &cfg, &err), 0, "%s", err.msg);
        free(cfg.settings);
        /* The removed units are the fixture's. */
        const bool *removed = session_removed_units(s);
        json_t *want_rm = json_object_get(cs, "removed");
        size_t n_rm = 0;
        for (size_t u = 0; u < s->groups.out_count[layer]; u++)
            if (removed[groups_unit_of(&s->groups, layer, u)]) {
                cr_expect_lt(n_rm, json_array_size(want_rm));
                cr_expect_eq((json_int_t)u, json_integer_value(json_array_get(want_rm, n_rm)),
                             "layer %zu at %g: removed unit %zu is not the fixture's", layer + 1,
                             sp, u);
                n_rm++;
            }
        cr_expect_eq(n_rm, json_array_size(want_rm));
        /* The masked model computes what the smaller model computes (numpy). */
        struct tensor *y = tu_outputs(s);
        json_t *want = json_object_get(cs, "outputs");
        cr_assert_eq(tensor_numel(y), json_array_size(want));
        double worst = 0;
        for (size_t i = 0; i < tensor_numel(y); i++)
            worst = fmax(worst, fabs(tensor_f32(y)[i] -
                                     json_number_value(json_array_get(want, i))));
        cr_expect_lt(worst, 1e-5, "layer %zu at %g: masked outputs differ by %g (keeping the "
                                  "bias would differ by %g)",
                     layer + 1, sp, worst,
                     json_number_value(json_object_get(cs, "max_difference_if_bias_kept")));
        /* And so does the exported file. */
        char path[] = "/tmp/prunescope-mm-XXXXXX.onnx";
        int fd = mkstemps(path, 5);
        close(fd);
        struct model_export_summary sum;
        cr_assert_eq(model_export(s, path, true, &sum, &err), 0, "%s", err.msg);
        cr_expect_eq(sum.units_removed, json_array_size(want_rm));
        struct session *e = session_new(1, NULL, &err);
        struct dataset_options opt = {0};
        cr_assert_eq(session_load_model(e, path, NULL, 0, &err), 0, "%s", err.msg);
        cr_assert_eq(session_load_data(e, tu_src_path("tests/fixtures/matmul_add/data.csv"), &opt,
                                       NULL, &err),
                     0, "%s", err.msg);
        const struct graph *eg = engine_graph(e->engine);
        size_t units = s->groups.out_count[layer];
        cr_expect_eq(e->groups.out_count[layer], units - n_rm, "the file keeps %zu units",
                     e->groups.out_count[layer]);
        (void)eg;
        struct tensor *z = tu_outputs(e);
        double worst_e = 0;
        for (size_t i = 0; i < tensor_numel(z); i++)
            worst_e = fmax(worst_e, fabs(tensor_f32(z)[i] -
                                         json_number_value(json_array_get(want, i))));
        cr_expect_lt(worst_e, 1e-5, "exported: outputs differ by %g", worst_e);
        tensor_free(z);
        tensor_free(y);
        session_free(e);
        unlink(path);
    }
    json_decref(exp);
    session_free(s);
}

/* Group counts from the structure of torchvision's models, worked out by hand: resnet18 has
 * one group per stage (the stem or downsampling convolution, every block's second
 * convolution and the residual adds joining them) and one per block's first convolution,
 * plus the classifier; mobilenet_v2 couples each depthwise convolution to the expansion
 * before it and joins the projections of each stage's residual blocks. */
Test(groups, residual_and_depthwise_coupling_on_torchvision_models)
{
    struct {
        const char *arch;
        size_t groups;
        const char *a, *b; /* two layers that must share a group */
        const char *c;     /* and one that must not share it */
    } cases[] = {
        {"resnet18", 13, "layer2.0.downsample", "layer2.1.conv2", "layer2.1.conv1"},
        {"mobilenet_v2", 26, "features.2.conv.0", "features.2.conv.1", "features.2.conv.2"},
        {"mobilenet_v2", 26, "features.2.conv.2", "features.3.conv.2", "features.4.conv.2"},
        {"efficientnet_b0", 41, "features.1.0.block.0", "features.1.0.block.1.fc2",
         "features.1.0.block.1.fc1"},
        {"squeezenet1_1", 26, "features.3.expand1x1", "features.3.expand1x1",
         "features.3.expand3x3"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char model[256];
        snprintf(model, sizeof model, "tests/fixtures/arch/%s/model.onnx", cases[k].arch);
        struct err err;
        struct session *s = session_new(1, NULL, &err);
        cr_assert_eq(session_load_model(s, tu_src_path(model), NULL, 0, &err), 0, "%s", err.msg);
        cr_assert(s->groups_ok, "%s", s->groups_error);
        cr_expect_eq(s->groups.n_groups, cases[k].groups, "%s: %zu groups", cases[k].arch,
                     s->groups.n_groups);
        const struct layer *a = layers_lookup(&s->layers, cases[k].a);
        const struct layer *b = layers_lookup(&s->layers, cases[k].b);
        const struct layer *c = layers_lookup(&s->layers, cases[k].c);
        cr_assert(a && b && c, "%s: %s, %s or %s not found", cases[k].arch, cases[k].a,
                  cases[k].b, cases[k].c);
        int ga = s->groups.layer_group[a - s->layers.items];
        cr_expect_eq(ga, s->groups.layer_group[b - s->layers.items], "%s: %s and %s",
                     cases[k].arch, cases[k].a, cases[k].b);
        cr_expect_neq(ga, s->groups.layer_group[c - s->layers.items], "%s: %s and %s",
                      cases[k].arch, cases[k].a, cases[k].c);
        session_free(s);
    }
}

/* A flatten written as x.view(-1, 16 * 2 * 2) puts the feature count in a constant target
 * shape: filter pruning of the convolution before it rewrites that entry on export, so the
 * smaller file runs and computes the masked model's outputs. */
Test(groups, a_reshape_target_written_in_the_file_is_rewritten_on_export)
{
    struct session *s = tu_open_session("tests/fixtures/literal_reshape/model.onnx",
                                        "tests/fixtures/literal_reshape/data.csv", 0, 1);
    cr_assert(s->groups_ok, "%s", s->groups_error);
    const struct layer *conv2 = layers_lookup(&s->layers, "conv2");
    cr_assert_not_null(conv2);
    const struct prune_group *pg = session_layer_group(s, (size_t)(conv2 - s->layers.items));
    cr_assert_not_null(pg);
    cr_expect(!pg->blocked, "%s", pg->why);
    cr_expect_eq(s->groups.n_edits, 1);
    struct err err;
    struct prune_config cfg;
    cr_assert_eq(session_config_copy(s, &cfg, &err), 0);
    cfg.settings[conv2 - s->layers.items] = (struct prune_setting){0.5, CRIT_L1, GRAN_FILTER};
    cr_assert_eq(session_configure(s, &cfg, &err), 0, "%s", err.msg);
    free(cfg.settings);
    struct tensor *masked = tu_outputs(s);
    char path[] = "/tmp/prunescope-lr-XXXXXX.onnx";
    int fd = mkstemps(path, 5);
    close(fd);
    struct model_export_summary sum;
    cr_assert_eq(model_export(s, path, true, &sum, &err), 0, "%s", err.msg);
    struct session *e = session_new(1, NULL, &err);
    struct dataset_options opt = {0};
    cr_assert_eq(session_load_model(e, path, NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(session_load_data(e, tu_src_path("tests/fixtures/literal_reshape/data.csv"), &opt,
                                   NULL, &err),
                 0, "%s", err.msg);
    /* 8 of 16 filters stay: the target's 64 (16 x 2 x 2) is now 32. */
    const struct graph *eg = engine_graph(e->engine);
    int reshape = -1;
    for (int n = 0; n < eg->n_nodes; n++)
        if (strcmp(eg->nodes[n].op_type, "Reshape") == 0)
            reshape = n;
    cr_assert_geq(reshape, 0);
    struct shape out;
    cr_assert_eq(engine_value_shape(e->engine, eg->nodes[reshape].outputs[0], 1, &out, &err), 0);
    cr_expect_eq(out.dims[1], 32, "the Reshape gives %lld features", (long long)out.dims[1]);
    struct tensor *shrunk = tu_outputs(e);
    struct tu_compare c = tu_compare(shrunk, masked, 1e-5, 1e-5);
    cr_expect(c.ok, "%s", c.why);
    tensor_free(shrunk);
    tensor_free(masked);
    session_free(e);
    session_free(s);
    unlink(path);
}

/* x[:, :6], x[:, 6:] and torch.split(x, [4, 12]) write channel positions and sizes in the
 * file: pruning the convolution before them rewrites the end of the first slice, the
 * start of the second and both split sizes, and the file computes the masked outputs. */
Test(groups, slice_bounds_and_split_sizes_written_in_the_file_are_rewritten)
{
    struct session *s = tu_open_session("tests/fixtures/literal_reshape/slices.onnx",
                                        "tests/fixtures/literal_reshape/slices.csv", 0, 1);
    cr_assert(s->groups_ok, "%s", s->groups_error);
    const struct layer *c1 = layers_lookup(&s->layers, "c1");
    cr_assert_not_null(c1);
    const struct prune_group *pg = session_layer_group(s, (size_t)(c1 - s->layers.items));
    cr_expect(!pg->blocked, "%s", pg->why);
    cr_expect_eq(s->groups.n_edits, 4, "%zu entries to rewrite", s->groups.n_edits);
    struct err err;
    struct prune_config cfg;
    cr_assert_eq(session_config_copy(s, &cfg, &err), 0);
    cfg.settings[c1 - s->layers.items] = (struct prune_setting){0.5, CRIT_L2, GRAN_FILTER};
    cr_assert_eq(session_configure(s, &cfg, &err), 0, "%s", err.msg);
    free(cfg.settings);
    struct tensor *masked = tu_outputs(s);
    char path[] = "/tmp/prunescope-sl-XXXXXX.onnx";
    int fd = mkstemps(path, 5);
    close(fd);
    struct model_export_summary sum;
    cr_assert_eq(model_export(s, path, true, &sum, &err), 0, "%s", err.msg);
    cr_expect_eq(sum.units_removed, 8);
    struct session *e = session_new(1, NULL, &err);
    struct dataset_options opt = {0};
    cr_assert_eq(session_load_model(e, path, NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(session_load_data(e, tu_src_path("tests/fixtures/literal_reshape/slices.csv"),
                                   &opt, NULL, &err),
                 0, "%s", err.msg);
    struct tensor *shrunk = tu_outputs(e);
    struct tu_compare c = tu_compare(shrunk, masked, 1e-5, 1e-5);
    cr_expect(c.ok, "%s", c.why);
    /* The four consumers read 16 - 8 channels in all. */
    size_t cols = 0;
    const char *readers[] = {"a", "b", "d", "e"};
    for (int k = 0; k < 4; k++) {
        const struct layer *l = layers_lookup(&e->layers, readers[k]);
        cr_assert_not_null(l);
        cols += (size_t)l->shape.dims[1];
    }
    cr_expect_eq(cols, 16, "the pieces hold %zu channels (8 kept, read twice)", cols);
    tensor_free(shrunk);
    tensor_free(masked);
    session_free(e);
    session_free(s);
    unlink(path);
}
