/* Mask selection against hand-worked cases: ties by lowest index, group norms, N:M,
 * blocks, channels, global order, and the refusals. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "model/layers.h"
#include "prune/prune.h"
#include "testutil.h"

/* A graph with one Gemm (transB as given) whose weight holds w, or one Conv. */
static struct graph *one_layer(const char *op, int ndim, const int64_t *dims, const float *w,
                               int trans_b)
{
    struct err err;
    struct graph *g = graph_new(&err);
    cr_assert_not_null(g);
    int x = graph_intern_value(g, "x", &err), wv = graph_intern_value(g, "w", &err);
    int y = graph_intern_value(g, "y", &err);
    struct shape s = shape_make(ndim, dims);
    g->values[wv].constant = tensor_new(DTYPE_FLOAT, &s, &err);
    g->values[wv].dtype = DTYPE_FLOAT;
    memcpy(g->values[wv].constant->data, w, tensor_bytes(g->values[wv].constant));
    struct node n = {.name = strdup("L"), .op_type = strdup(op), .domain = strdup("")};
    n.n_inputs = 2;
    n.inputs = malloc(2 * sizeof *n.inputs);
    n.inputs[0] = x;
    n.inputs[1] = wv;
    n.n_outputs = 1;
    n.outputs = malloc(sizeof *n.outputs);
    n.outputs[0] = y;
    if (trans_b) {
        n.n_attrs = 1;
        n.attrs = calloc(1, sizeof *n.attrs);
        n.attrs[0].name = strdup("transB");
        n.attrs[0].type = ATTR_INT;
        n.attrs[0].i = 1;
    }
    cr_assert_geq(graph_add_node(g, &n, &err), 0, "%s", err.msg);
    return g;
}

static void masks_of(struct graph *g, const struct prune_setting *st, uint8_t *mask, bool *units,
                     bool *channels)
{
    struct layer_list ll;
    struct err err;
    cr_assert_eq(layers_find(g, &ll, &err), 0);
    cr_assert_eq(ll.count, 1);
    const float *w = tensor_f32(g->values[ll.items[0].weight].constant);
    cr_assert_eq(prune_mask(g, &ll.items[0], w, NULL, st, 7, mask, units, channels, &err), 0, "%s",
                 err.msg);
    layers_fini(&ll);
}

static void expect_mask(const uint8_t *got, const uint8_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(got[i], want[i], "element %zu: kept %d, expected %d", i, got[i], want[i]);
}

Test(prune, unstructured_zeroes_smallest_magnitudes_ties_to_lowest_index)
{
    /* |w| = 3 1 2 1 0.5 1: at 50%, k = 3: 0.5 (index 4), then the 1s at 1 and 3 (index 5,
     * the third 1, stays). */
    const float w[] = {3, -1, 2, 1, -0.5f, 1};
    struct graph *g = one_layer("Gemm", 2, I64(2, 3), w, 0);
    uint8_t mask[6];
    struct prune_setting st = {.sparsity = 0.5};
    masks_of(g, &st, mask, NULL, NULL);
    expect_mask(mask, (const uint8_t[]){1, 0, 1, 0, 0, 1}, 6);
    /* 0.34 of 6 = 2.04: floor gives 2. */
    st.sparsity = 0.34;
    masks_of(g, &st, mask, NULL, NULL);
    expect_mask(mask, (const uint8_t[]){1, 0, 1, 1, 0, 1}, 6);
    graph_free(g);
}

Test(prune, neuron_l1_and_l2_differ_and_remove_whole_units)
{
    /* Gemm with transB: rows are units. Unit 0 (3, 0): L1 3, L2 3. Unit 1 (2, 2): L1 4,
     * L2 2.83. Unit 2 (1, 3): L1 4, L2 3.16. At 1/3 (one unit): L1 removes unit 0, L2
     * removes unit 1. */
    const float w[] = {3, 0, 2, 2, 1, 3};
    struct graph *g = one_layer("Gemm", 2, I64(3, 2), w, 1);
    uint8_t mask[6];
    bool units[3];
    struct prune_setting st = {.sparsity = 0.34, .criterion = CRIT_L1, .granularity = GRAN_NEURON};
    masks_of(g, &st, mask, units, NULL);
    expect_mask(mask, (const uint8_t[]){0, 0, 1, 1, 1, 1}, 6);
    cr_expect(units[0] && !units[1] && !units[2]);
    st.criterion = CRIT_L2;
    masks_of(g, &st, mask, units, NULL);
    expect_mask(mask, (const uint8_t[]){1, 1, 0, 0, 1, 1}, 6);
    cr_expect(!units[0] && units[1] && !units[2]);
    graph_free(g);
}

Test(prune, neuron_of_untransposed_weight_is_a_column)
{
    /* Without transB, W is [K=2, N=3]: unit j is column j. Column norms (L1): 1+4=5,
     * 2+0=2, 3+3=6; one unit goes: column 1. */
    const float w[] = {1, 2, 3, 4, 0, 3};
    struct graph *g = one_layer("Gemm", 2, I64(2, 3), w, 0);
    uint8_t mask[6];
    bool units[3];
    struct prune_setting st = {.sparsity = 0.34, .granularity = GRAN_NEURON};
    masks_of(g, &st, mask, units, NULL);
    expect_mask(mask, (const uint8_t[]){1, 0, 1, 1, 0, 1}, 6);
    graph_free(g);
}

Test(prune, two_of_four_keeps_the_two_largest_of_each_group)
{
    /* One unit (transB) of 8 inputs: groups (4, -1, 3, 0.5) and (1, 1, 2, -2): drop the
     * two smallest of each; in the second group the two 1s tie and both go. */
    const float w[] = {4, -1, 3, 0.5f, 1, 1, 2, -2};
    struct graph *g = one_layer("Gemm", 2, I64(1, 8), w, 1);
    uint8_t mask[8];
    struct prune_setting st = {.sparsity = 0.5, .granularity = GRAN_2_4};
    masks_of(g, &st, mask, NULL, NULL);
    expect_mask(mask, (const uint8_t[]){1, 0, 1, 0, 0, 0, 1, 1}, 8);
    graph_free(g);
}

Test(prune, blocks_of_one_by_four)
{
    /* Two units x 8 inputs: blocks (u0: 1 1 1 1 = 4), (u0: 5 0 0 0 = 5), (u1: 0 0 0 1 = 1),
     * (u1: 2 2 2 2 = 8). At 50%, two blocks go: the norms 1 and 4. */
    const float w[] = {1, 1, 1, 1, 5, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2};
    struct graph *g = one_layer("Gemm", 2, I64(2, 8), w, 1);
    uint8_t mask[16];
    struct prune_setting st = {.sparsity = 0.5, .granularity = GRAN_BLOCK_1X4};
    masks_of(g, &st, mask, NULL, NULL);
    expect_mask(mask, (const uint8_t[]){0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1}, 16);
    graph_free(g);
}

Test(prune, conv_filters_and_channels)
{
    /* W [2 filters, 2 channels, 1x2]: filter 0 = (1 1 | 0 0), filter 1 = (3 0 | 1 1).
     * Filter L1: 2, 5 -> filter 0 goes. Channel L1: c0 = 1+1+3+0 = 5, c1 = 0+0+1+1 = 2 ->
     * channel 1 goes (inputs 2, 3 of each filter). */
    const float w[] = {1, 1, 0, 0, 3, 0, 1, 1};
    struct graph *g = one_layer("Conv", 4, I64(2, 2, 1, 2), w, 0);
    uint8_t mask[8];
    bool units[2], channels[2];
    struct prune_setting st = {.sparsity = 0.5, .granularity = GRAN_FILTER};
    masks_of(g, &st, mask, units, channels);
    expect_mask(mask, (const uint8_t[]){0, 0, 0, 0, 1, 1, 1, 1}, 8);
    cr_expect(units[0] && !units[1]);
    st.granularity = GRAN_CHANNEL;
    masks_of(g, &st, mask, units, channels);
    expect_mask(mask, (const uint8_t[]){1, 1, 0, 0, 1, 1, 0, 0}, 8);
    cr_expect(!channels[0] && channels[1]);
    graph_free(g);
}

Test(prune, random_is_seeded_and_counts_exactly)
{
    float w[100];
    for (int i = 0; i < 100; i++)
        w[i] = (float)(i + 1);
    struct graph *g = one_layer("Gemm", 2, I64(10, 10), w, 1);
    uint8_t a[100], b[100];
    struct prune_setting st = {.sparsity = 0.3, .criterion = CRIT_RANDOM};
    masks_of(g, &st, a, NULL, NULL);
    masks_of(g, &st, b, NULL, NULL);
    int zeros = 0, low = 0;
    for (int i = 0; i < 100; i++) {
        zeros += !a[i];
        low += !a[i] && i < 30;
        cr_expect_eq(a[i], b[i], "same seed, different mask at %d", i);
    }
    cr_expect_eq(zeros, 30);
    cr_expect_lt(low, 30, "random chose exactly the smallest weights");
    graph_free(g);
}

Test(prune, global_orders_by_magnitude_then_layer_then_index)
{
    /* Two layers: A = (1, 5), B = (1, 2, 0.5). At 40% of 5 weights, k = 2: 0.5 (B[2]) and
     * then the 1 of A (layer order wins the tie with B[0]). */
    struct layer items[2] = {{.params = 2}, {.params = 3}};
    struct layer_list ll = {.items = items, .count = 2};
    const float a[] = {1, 5}, b[] = {1, 2, 0.5f};
    const float *const w[] = {a, b};
    uint8_t ma[2], mb[3];
    uint8_t *const masks[] = {ma, mb};
    struct err err;
    cr_assert_eq(prune_global_masks(&ll, w, 0.4, masks, &err), 0, "%s", err.msg);
    expect_mask(ma, (const uint8_t[]){0, 1}, 2);
    expect_mask(mb, (const uint8_t[]){1, 1, 0}, 3);
}

Test(prune, refuses_what_a_layer_cannot_take)
{
    const float w[6] = {1, 2, 3, 4, 5, 6};
    struct graph *g = one_layer("Gemm", 2, I64(2, 3), w, 1);
    struct layer_list ll;
    struct err err;
    cr_assert_eq(layers_find(g, &ll, &err), 0);
    const struct layer *l = &ll.items[0];
    struct prune_setting st = {.sparsity = 0.5, .granularity = GRAN_FILTER};
    cr_expect_eq(prune_check(g, l, &st, &err), -1);
    tu_expect_error(&err, "layer 'L' is a Gemm", "use neuron");
    st.granularity = GRAN_2_4;
    cr_expect_eq(prune_check(g, l, &st, &err), -1);
    tu_expect_error(&err, "2:4 groups 4 consecutive inputs", "3 inputs");
    st.granularity = GRAN_UNSTRUCTURED;
    st.sparsity = 1.0;
    cr_expect_eq(prune_check(g, l, &st, &err), -1);
    tu_expect_error(&err, "outside [0, 1)", NULL);
    st.sparsity = 0.5;
    st.criterion = CRIT_TAYLOR;
    uint8_t mask[6];
    cr_expect_eq(prune_mask(g, l, w, NULL, &st, 0, mask, NULL, NULL, &err), -1);
    tu_expect_error(&err, "taylor criterion needs the gradients", NULL);
    layers_fini(&ll);
    graph_free(g);
}

/* wanda on the digits MLP: the masks of an independent numpy computation
 * (tests/fixtures/wanda/make_wanda.py: |w| x the L2 norm of each input over the 360
 * validation rows of the dense model) at 50% and 90% unstructured and 2:4. */
static void wanda_masks(const char *key, const char *granularity, double sparsity)
{
    json_error_t je;
    json_t *root = json_load_file(tu_src_path("tests/fixtures/wanda/wanda.json"), 0, &je);
    cr_assert(root, "%s", je.text);
    struct session *s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    struct err err;
    char line[128];
    snprintf(line, sizeof line, "method all wanda %s", granularity);
    cr_assert_eq(tu_run_line(s, line, &err), 0, "%s", err.msg);
    snprintf(line, sizeof line, "set all %g", sparsity);
    cr_assert_eq(tu_run_line(s, line, &err), 0, "%s", err.msg);
    const struct graph *g = engine_graph(s->engine);
    size_t i;
    json_t *layer;
    json_array_foreach(json_object_get(root, "layers"), i, layer)
    {
        const char *name = json_string_value(json_object_get(layer, "name"));
        const struct layer *l = layers_lookup(&s->layers, name);
        cr_assert(l, "no layer %s", name);
        const float *w = tensor_f32(g->values[l->weight].constant);
        json_t *zeros = json_object_get(json_object_get(layer, "masks"), key);
        bool *want = calloc((size_t)l->params, sizeof *want);
        size_t k;
        json_t *z;
        json_array_foreach(zeros, k, z) want[json_integer_value(z)] = true;
        for (int64_t j = 0; j < l->params; j++)
            cr_expect_eq(w[j] == 0.0f, want[j], "%s %s: weight %lld is %s, numpy says %s", name,
                         key, (long long)j, w[j] == 0.0f ? "pruned" : "kept",
                         want[j] ? "pruned" : "kept");
        free(want);
    }
    session_free(s);
    json_decref(root);
}

Test(prune, wanda_masks_at_50_percent_equal_numpy)
{
    wanda_masks("unstructured-0.5", "unstructured", 0.5);
}

Test(prune, wanda_masks_at_90_percent_equal_numpy)
{
    wanda_masks("unstructured-0.9", "unstructured", 0.9);
}

Test(prune, wanda_2_4_masks_equal_numpy)
{
    wanda_masks("2:4", "2:4", 0.5);
}
