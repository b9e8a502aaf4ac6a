/* The ONNX project's per-operator test vectors (../shared/onnx-node-tests, when present):
 * every case whose op, attributes and element types prunescope supports must match the
 * expected outputs with rtol 1e-3 / atol 1e-5. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(conformance, every_supported_onnx_node_test_passes, .timeout = 300)
{
    const char *root = tu_node_tests_dir();
    if (!root) {
        printf("conformance: ../shared/onnx-node-tests not found; skipping the ONNX node tests\n");
        cr_skip_test("../shared/onnx-node-tests not found");
    }
    DIR *d = opendir(root);
    cr_assert_not_null(d);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "test_", 5) != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            names = realloc(names, cap * sizeof *names);
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);

    int passed = 0, failed = 0, skipped = 0;
    char msg[1024], path[4096];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        enum tu_case_result r = tu_run_case(path, 1e-3, 1e-5, false, 1, msg, sizeof msg);
        if (r == TU_PASS) {
            passed++;
        } else if (r == TU_UNSUPPORTED) {
            skipped++;
            printf("conformance: unsupported %s: %s\n", names[i], msg);
        } else {
            failed++;
            printf("conformance: FAILED %s: %s\n", names[i], msg);
        }
        free(names[i]);
    }
    free(names);
    printf("conformance: %d passed, %d failed, %d skipped (unsupported)\n", passed, failed,
           skipped);
    fflush(stdout);
    cr_expect(passed > 0, "no ONNX node test ran");
    cr_expect_eq(failed, 0, "%d ONNX node tests of supported ops failed (see the log)", failed);
}
