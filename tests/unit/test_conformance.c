/* The ONNX project's per-operator test vectors (../shared/onnx-node-tests, when present):
 * every case whose op, attributes and element types prunescope supports must match the
 * expected outputs with rtol 1e-3 / atol 1e-5. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the test_* folders of root (caller frees each and the array). */
static char **case_names(const char *root, size_t *count)
{
    DIR *d = opendir(root);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, "test_", 5) != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            names = realloc(names, cap * sizeof *names);
        }
        names[n++] = strdup(de->d_name);
    }
    if (d)
        closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    *count = n;
    return names;
}

static bool has_name(char *const *names, size_t n, const char *name)
{
    return n && bsearch(&name, names, n, sizeof *names, cmp_names) != NULL;
}

struct tally {
    int passed, failed, skipped;
};

/* Runs the cases of root, leaving out those named in skip (already run from another
 * folder). */
static void run_folder(const char *root, char *const *skip, size_t n_skip, struct tally *t)
{
    size_t n;
    char **names = case_names(root, &n);
    char msg[1024], path[4096];
    for (size_t i = 0; i < n; i++) {
        if (has_name(skip, n_skip, names[i])) {
            free(names[i]);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        enum tu_case_result r = tu_run_case(path, 1e-3, 1e-5, false, 1, msg, sizeof msg);
        if (r == TU_PASS) {
            t->passed++;
        } else if (r == TU_UNSUPPORTED) {
            t->skipped++;
            printf("conformance: unsupported %s: %s\n", names[i], msg);
        } else {
            t->failed++;
            printf("conformance: FAILED %s: %s\n", names[i], msg);
        }
        free(names[i]);
    }
    free(names);
}

/* Two sources of ONNX node tests: the selection beside the project
 * (../shared/onnx-node-tests) and, when PRUNESCOPE_NODE_TESTS names a folder, the whole
 * set generated from the ONNX package's own test-case definitions (scripts/node-tests).
 * A case in both runs once. */
Test(conformance, every_supported_onnx_node_test_passes, .timeout = 600)
{
    const char *shared = tu_node_tests_dir();
    const char *generated = getenv("PRUNESCOPE_NODE_TESTS");
    struct stat st;
    if (generated && (!*generated || stat(generated, &st) != 0 || !S_ISDIR(st.st_mode)))
        generated = NULL;
    if (!shared && !generated) {
        printf("conformance: no ONNX node tests (../shared/onnx-node-tests, "
               "PRUNESCOPE_NODE_TESTS); skipping them\n");
        cr_skip_test("no ONNX node tests found");
    }
    struct tally t = {0};
    size_t n_shared = 0;
    char **shared_names = shared ? case_names(shared, &n_shared) : NULL;
    if (shared)
        run_folder(shared, NULL, 0, &t);
    if (generated)
        run_folder(generated, shared_names, n_shared, &t);
    for (size_t i = 0; i < n_shared; i++)
        free(shared_names[i]);
    free(shared_names);
    printf("conformance: %d passed, %d failed, %d skipped (unsupported)%s%s\n", t.passed,
           t.failed, t.skipped, shared ? "" : " [generated set only]",
           generated ? "" : " [selection only]");
    fflush(stdout);
    cr_expect(t.passed > 0, "no ONNX node test ran");
    cr_expect_eq(t.failed, 0, "%d ONNX node tests of supported ops failed (see the log)", t.failed);
}
