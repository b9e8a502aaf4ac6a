/* Pruning the bundled digits MLP agrees with PyTorch (tests/fixtures/prune/digits_prune.json,
 * made by make_prune_fixtures.py with numpy and torch): the same count of correct rows and
 * the same masks, element by element, for unstructured per-layer, global magnitude and
 * neuron pruning. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "session/session.h"
#include "testutil.h"

static struct session *open_digits(void)
{
    struct err err;
    struct session *s = session_new(2, NULL, &err);
    cr_assert_not_null(s);
    struct dataset_options opt = {0};
    cr_assert_eq(session_load_model(s, tu_src_path("data/digits_mlp.onnx"), NULL, 0, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(session_load_data(s, tu_src_path("data/digits.csv"), &opt, NULL, &err), 0, "%s",
                 err.msg);
    return s;
}

/* Applies one fixture configuration through the session. */
static void configure(struct session *s, json_t *cfg)
{
    struct err err;
    struct prune_config next;
    cr_assert_eq(session_config_copy(s, &next, &err), 0);
    memset(next.settings, 0, s->layers.count * sizeof *next.settings);
    next.global = false;
    const char *kind = json_string_value(json_object_get(cfg, "kind"));
    const char *crit = json_string_value(json_object_get(cfg, "criterion"));
    json_t *layers = json_object_get(cfg, "layers");
    if (strcmp(kind, "global") == 0) {
        next.global = true;
        next.global_sparsity = json_number_value(json_object_get(layers, "global"));
    } else {
        const char *name;
        json_t *v;
        json_object_foreach(layers, name, v)
        {
            const struct layer *l = layers_lookup(&s->layers, name);
            cr_assert_not_null(l, "no layer %s", name);
            struct prune_setting *st = &next.settings[l - s->layers.items];
            st->sparsity = json_number_value(v);
            cr_assert_eq(prune_criterion_parse(crit, &st->criterion), 0);
            st->granularity = strcmp(kind, "neuron") == 0 ? GRAN_NEURON : GRAN_UNSTRUCTURED;
        }
    }
    cr_assert_eq(session_configure(s, &next, &err), 0, "%s", err.msg);
    free(next.settings);
}

static void expect_masks(struct session *s, json_t *cfg, const char *name)
{
    json_t *masks = json_object_get(cfg, "masks");
    const struct graph *g = engine_graph(s->engine);
    for (size_t i = 0; i < s->layers.count; i++) {
        const struct layer *l = &s->layers.items[i];
        const char *hex = json_string_value(json_object_get(masks, l->weight_name));
        cr_assert_not_null(hex, "%s: no mask for %s", name, l->weight_name);
        const float *w = tensor_f32(g->values[l->weight].constant);
        size_t diffs = 0, first = 0;
        for (int64_t k = 0; k < l->params; k++) {
            unsigned byte;
            sscanf(hex + 2 * (k / 8), "%2x", &byte);
            bool keep = (byte >> (7 - k % 8)) & 1;
            if (keep != (w[k] != 0.0f) && diffs++ == 0)
                first = (size_t)k;
        }
        cr_expect_eq(diffs, 0, "%s: %s differs from PyTorch's mask in %zu elements (first %zu)",
                     name, l->weight_name, diffs, first);
    }
}

static void compare_all(void)
{
    json_error_t je;
    json_t *root = json_load_file(tu_src_path("tests/fixtures/prune/digits_prune.json"), 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    /* No weight of the model is exactly zero, so a kept weight is a non-zero one. */
    json_t *z;
    const char *k;
    json_object_foreach(json_object_get(root, "original_zero_weights"), k, z)
        cr_assert_eq(json_integer_value(z), 0, "%s has zeros; masks would be ambiguous", k);
    struct session *s = open_digits();
    json_t *configs = json_object_get(root, "configs");
    cr_assert_geq(json_array_size(configs), 20);
    for (size_t i = 0; i < json_array_size(configs); i++) {
        json_t *cfg = json_array_get(configs, i);
        const char *name = json_string_value(json_object_get(cfg, "name"));
        configure(s, cfg);
        struct metrics m;
        struct err err;
        double ms;
        cr_assert_eq(session_eval(s, 0, &m, &ms, &err), 0, "%s", err.msg);
        json_int_t want = json_integer_value(json_object_get(cfg, "correct"));
        cr_expect_eq((json_int_t)m.correct, want, "%s: %zu correct, PyTorch %lld", name, m.correct,
                     (long long)want);
        double want_loss = json_number_value(json_object_get(cfg, "loss"));
        cr_expect(fabs(m.loss - want_loss) < 1e-5, "%s: loss %.8f, PyTorch %.8f", name, m.loss,
                  want_loss);
        expect_masks(s, cfg, name);
    }
    session_free(s);
    json_decref(root);
}

Test(prune_pytorch, correct_rows_and_masks_equal_pytorch_for_every_config)
{
    setenv("PRUNESCOPE_SPARSE", "never", 1);
    compare_all();
}

Test(prune_pytorch, the_same_with_every_gemm_running_as_csr)
{
    setenv("PRUNESCOPE_SPARSE", "always", 1);
    compare_all();
}

/* The first-order Taylor saliency |w * dL/dw| (the gradient of the mean cross-entropy over
 * the 360 rows) equals PyTorch's autograd within float rounding. */
Test(prune_pytorch, taylor_saliency_equals_pytorch_autograd)
{
    json_error_t je;
    json_t *root = json_load_file(tu_src_path("tests/fixtures/prune/digits_prune.json"), 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    struct session *s = open_digits();
    struct err err;
    struct prune_config next;
    cr_assert_eq(session_config_copy(s, &next, &err), 0);
    next.settings[0] = (struct prune_setting){0.1, CRIT_TAYLOR, GRAN_UNSTRUCTURED};
    cr_assert_eq(session_configure(s, &next, &err), 0, "%s", err.msg);
    free(next.settings);
    cr_assert_not_null(s->saliency);
    json_t *want = json_object_get(root, "saliency");
    for (size_t i = 0; i < s->layers.count; i++) {
        const struct layer *l = &s->layers.items[i];
        json_t *arr = json_object_get(want, l->weight_name);
        cr_assert_eq(json_array_size(arr), (size_t)l->params);
        cr_assert_not_null(s->saliency[i], "no saliency for %s", l->name);
        size_t bad = 0;
        for (int64_t k = 0; k < l->params; k++) {
            double w = json_number_value(json_array_get(arr, (size_t)k));
            if (fabs(s->saliency[i][k] - w) > 1e-3 * fabs(w) + 1e-8 && bad++ < 3)
                cr_expect(false, "%s[%lld]: %.9g, PyTorch %.9g", l->weight_name, (long long)k,
                          s->saliency[i][k], w);
        }
        cr_expect_eq(bad, 0, "%s: %zu saliencies differ", l->weight_name, bad);
    }
    session_free(s);
    json_decref(root);
}
