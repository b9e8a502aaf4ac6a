/* The gradient pass against PyTorch autograd (tests/fixtures/grad): for the CNN fixtures
 * (Conv, BatchNormalization, Relu, MaxPool, Flatten, Gemm; strided and depthwise Conv,
 * HardSigmoid * x, LeakyRelu, AveragePool, Sigmoid, Reshape, LogSoftmax), the gradient of a
 * fixed linear function of the outputs with respect to every Conv and Gemm weight. (Finite
 * differences are no reference here: ReLU and max-pooling kinks make them unreliable.) */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backward.h"
#include "model/layers.h"
#include "model/onnx_reader.h"
#include "testutil.h"

/* L = sum over outputs of c_j * out_j with c_j = cos(j): dL/dout = c. */
static int linear_loss(const struct tensor *output, size_t row0, struct tensor *dout, void *ctx,
                       struct err *err)
{
    (void)ctx, (void)err;
    size_t per_row = tensor_numel(output) / (size_t)output->shape.dims[0];
    for (size_t i = 0; i < tensor_numel(output); i++)
        tensor_f32(dout)[i] = (float)cos((double)(row0 * per_row + i));
    return 0;
}

/* Gradients of every prunable weight equal PyTorch autograd's (tests/fixtures/grad). */
static void check_model(const char *name)
{
    json_error_t je;
    json_t *root = json_load_file(tu_src_path("tests/fixtures/grad/grads.json"), 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    int rows = (int)json_integer_value(json_object_get(root, "rows"));
    json_t *want = json_object_get(json_object_get(root, "models"), name);
    char path[512];
    struct err err;
    snprintf(path, sizeof path, "tests/fixtures/%s/model.onnx", name);
    struct engine *e = engine_open(tu_src_path(path), 1, &err);
    cr_assert_not_null(e, "%s", err.msg);
    snprintf(path, sizeof path, "tests/fixtures/%s/test_data_set_0/input_0.pb", name);
    struct tensor *all = onnx_read_tensor_file(tu_src_path(path), NULL, NULL, &err);
    cr_assert_not_null(all, "%s", err.msg);
    struct tensor x = *all;
    x.owns_data = false;
    x.shape.dims[0] = rows;
    const struct graph *g = engine_graph(e);
    struct layer_list ll;
    cr_assert_eq(layers_find(g, &ll, &err), 0);
    bool *want_v = calloc((size_t)g->n_values, sizeof *want_v);
    struct tensor **grads = calloc((size_t)g->n_values, sizeof *grads);
    for (size_t i = 0; i < ll.count; i++)
        want_v[ll.items[i].weight] = true;
    char blocked[256];
    cr_assert_eq(
        engine_gradients(e, &x, linear_loss, NULL, want_v, grads, blocked, sizeof blocked, &err), 0,
        "%s", err.msg);
    cr_expect_str_empty(blocked, "%s", blocked);
    cr_assert_eq(json_object_size(want), ll.count);
    for (size_t li = 0; li < ll.count; li++) {
        const struct layer *l = &ll.items[li];
        json_t *arr = json_object_get(want, l->weight_name);
        cr_assert_not_null(grads[l->weight], "%s: no gradient", l->name);
        cr_assert_eq(json_array_size(arr), (size_t)l->params, "%s", l->weight_name);
        size_t bad = 0;
        for (int64_t k = 0; k < l->params; k++) {
            double w = json_number_value(json_array_get(arr, (size_t)k));
            double got = tensor_f32(grads[l->weight])[k];
            if (fabs(got - w) > 1e-4 * (1.0 + fabs(w)) && bad++ < 3)
                cr_expect(false, "%s %s[%lld]: %.7g, PyTorch %.7g", name, l->weight_name,
                          (long long)k, got, w);
        }
        cr_expect_eq(bad, 0, "%s %s: %zu of %lld gradients differ", name, l->weight_name, bad,
                     (long long)l->params);
    }
    for (int v = 0; v < g->n_values; v++)
        tensor_free(grads[v]);
    free(grads);
    free(want_v);
    layers_fini(&ll);
    tensor_free(all);
    engine_free(e);
    json_decref(root);
}

Test(backward, cnn_with_batchnorm_and_maxpool_equals_pytorch_autograd)
{
    check_model("cnn_bn");
}

Test(backward, cnn_with_depthwise_conv_hardswish_and_average_pool_equals_pytorch_autograd)
{
    check_model("cnn_view");
}

Test(backward, op_without_backward_stops_gradients_and_says_where)
{
    /* cnn_gap has PRelu and Clip, which have no backward: the Gemm before Clip gets no
     * gradient and the blocker is named. */
    struct err err;
    struct engine *e = engine_open(tu_src_path("tests/fixtures/cnn_gap/model.onnx"), 1, &err);
    cr_assert_not_null(e, "%s", err.msg);
    struct tensor *all = onnx_read_tensor_file(
        tu_src_path("tests/fixtures/cnn_gap/test_data_set_0/input_0.pb"), NULL, NULL, &err);
    cr_assert_not_null(all);
    const struct graph *g = engine_graph(e);
    struct layer_list ll;
    cr_assert_eq(layers_find(g, &ll, &err), 0);
    bool *want = calloc((size_t)g->n_values, sizeof *want);
    struct tensor **grads = calloc((size_t)g->n_values, sizeof *grads);
    for (size_t i = 0; i < ll.count; i++)
        want[ll.items[i].weight] = true;
    char blocked[256];
    cr_assert_eq(
        engine_gradients(e, all, linear_loss, NULL, want, grads, blocked, sizeof blocked, &err), 0,
        "%s", err.msg);
    cr_expect(strstr(blocked, "(Clip)"), "blocked: '%s'", blocked);
    for (size_t i = 0; i < ll.count; i++)
        cr_expect_null(grads[ll.items[i].weight], "%s got a gradient through Clip",
                       ll.items[i].name);
    for (int v = 0; v < g->n_values; v++)
        tensor_free(grads[v]);
    free(grads), free(want);
    layers_fini(&ll);
    tensor_free(all);
    engine_free(e);
}
