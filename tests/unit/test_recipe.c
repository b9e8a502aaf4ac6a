/* The torch recipe, applied by Debian's python3-torch to the digits MLP that
 * data/make_data.py defines (loaded with the ONNX weights), gives the masks and the
 * accuracy of the independent PyTorch reference (tests/fixtures/prune/check_recipe.py).
 * Skipped when python3-torch is absent. The NNI recipe is checked as JSON here. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static bool have_torch(void)
{
    return access("/usr/bin/python3", X_OK) == 0 &&
           system("/usr/bin/python3 -c 'import torch, onnx, numpy' >/dev/null 2>&1") == 0;
}

static void check(const char *commands, const char *config_name)
{
    if (!have_torch())
        cr_skip_test("Debian's python3-torch is not installed");
    char recipe[] = "/tmp/prunescope-recipe-XXXXXX.py";
    int fd = mkstemps(recipe, 3);
    cr_assert_geq(fd, 0);
    close(fd);
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' -e '%s; export recipe torch %s --force' data/digits_mlp.onnx 2>&1",
             tu_src_path("."), getenv("PRUNESCOPE_BIN"), commands, recipe);
    cr_assert_eq(tu_run_capture(cmd, &out), 0, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && /usr/bin/python3 tests/fixtures/prune/check_recipe.py %s %s 2>&1",
             tu_src_path("."), recipe, config_name);
    cr_expect_eq(tu_run_capture(cmd, &out), 0, "%s", out);
    free(out);
    unlink(recipe);
}

Test(recipe, torch_recipe_gives_the_reference_masks_for_neuron_pruning)
{
    check("method /fc1/Gemm l2 neuron; set /fc1/Gemm 0.25", "neuron-l2-fc1-0.25");
}

Test(recipe, torch_recipe_gives_the_reference_masks_for_unstructured_pruning)
{
    check("set all 0.7", "unstructured-all-0.7");
}

Test(recipe, torch_recipe_gives_the_reference_masks_for_global_pruning)
{
    check("global 0.9", "global-0.9");
}

Test(recipe, nni_config_list_has_one_entry_per_pruned_layer)
{
    char path[] = "/tmp/prunescope-recipe-XXXXXX.json";
    int fd = mkstemps(path, 5);
    close(fd);
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' -e 'set 1 0.5; set 3 25%%; export recipe nni %s --force' "
             "data/digits_mlp.onnx 2>&1",
             tu_src_path("."), getenv("PRUNESCOPE_BIN"), path);
    cr_assert_eq(tu_run_capture(cmd, &out), 0, "%s", out);
    free(out);
    json_error_t je;
    json_t *list = json_load_file(path, 0, &je);
    cr_assert(json_is_array(list), "%s", je.text);
    cr_assert_eq(json_array_size(list), 2);
    json_t *a = json_array_get(list, 0), *b = json_array_get(list, 1);
    cr_expect_eq(json_real_value(json_object_get(a, "sparsity_per_layer")), 0.5);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(a, "op_names"), 0)), "fc1");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(a, "op_types"), 0)),
                     "Linear");
    cr_expect_eq(json_real_value(json_object_get(b, "sparsity_per_layer")), 0.25);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(b, "op_names"), 0)), "fc3");
    json_decref(list);
    unlink(path);
}
