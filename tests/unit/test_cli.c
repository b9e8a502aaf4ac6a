/* The prunescope program as a user runs it: exit statuses and messages. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int run(const char *args, char **out)
{
    const char *bin = getenv("PRUNESCOPE_BIN");
    cr_assert_not_null(bin, "PRUNESCOPE_BIN is not set (run through make check)");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s </dev/null", bin, args);
    return tu_run_capture(cmd, out);
}

Test(cli, describes_a_model_with_its_parameter_count)
{
    char *out, args[4096];
    snprintf(args, sizeof args, "-e info '%s'", tu_src_path("tests/fixtures/mlp_gemm/model.onnx"));
    cr_expect_eq(run(args, &out), 0, "%s", out);
    cr_expect(strstr(out, "params   2778"), "%s", out); /* 64*32+32+32*16+16+16*10+10 */
    cr_expect(strstr(out, "input    input [N,64] float32"), "%s", out);
    cr_expect(strstr(out, "Gemm"), "%s", out);
    free(out);
}

Test(cli, unsupported_op_exits_1_naming_the_node)
{
    char *out, args[4096];
    snprintf(args, sizeof args, "'%s'", tu_src_path("tests/fixtures/errors/unsupported_op.onnx"));
    cr_expect_eq(run(args, &out), 1, "%s", out);
    cr_expect(strstr(out, "einsum_1") && strstr(out, "'Einsum'") && strstr(out, "supported ops"),
              "%s", out);
    free(out);
}

Test(cli, empty_and_truncated_files_exit_1)
{
    char *p = tu_write_temp("", 0, ".onnx"), *out, args[4096];
    snprintf(args, sizeof args, "'%s'", p);
    cr_expect_eq(run(args, &out), 1, "%s", out);
    cr_expect(strstr(out, "empty"), "%s", out);
    free(out);
    unlink(p);
    free(p);
    const char *junk = "\x0a\xff\xff\xff\xff\x0f garbage";
    p = tu_write_temp(junk, strlen(junk), ".onnx");
    snprintf(args, sizeof args, "'%s'", p);
    cr_expect_eq(run(args, &out), 1, "%s", out);
    cr_expect(strstr(out, p), "%s", out);
    free(out);
    unlink(p);
    free(p);
}

Test(cli, bad_usage_exits_2)
{
    char *out;
    cr_expect_eq(run("a.onnx b.csv c.csv", &out), 2, "%s", out);
    cr_expect(strstr(out, "too many arguments"), "%s", out);
    free(out);
    cr_expect_eq(run("-e info -b script.txt", &out), 2, "%s", out);
    free(out);
    cr_expect_eq(run("--label y model.onnx", &out), 2, "%s", out);
    cr_expect(strstr(out, "DATA.csv"), "%s", out);
    free(out);
    cr_expect_eq(run("--threads zero model.onnx", &out), 2, "%s", out);
    cr_expect(strstr(out, "--threads"), "%s", out);
    free(out);
    cr_expect_eq(run("--no-such-option", &out), 2, "%s", out);
    free(out);
    cr_expect_eq(run("--help", &out), 0, "%s", out);
    cr_expect(strstr(out, "Usage: prunescope"), "%s", out);
    free(out);
}

/* Each bad file gives status 1 and a message with the file's name and the reason. */
static void expect_load_failure(const char *path, const char *reason)
{
    char *out, args[4096];
    snprintf(args, sizeof args, "'%s'", path);
    cr_expect_eq(run(args, &out), 1, "%s: %s", path, out);
    cr_expect(strstr(out, path), "message lacks the file name: %s", out);
    cr_expect(strstr(out, reason), "message lacks '%s': %s", reason, out);
    free(out);
}

Test(cli, non_onnx_and_inconsistent_models_exit_1_with_the_reason)
{
    expect_load_failure(tu_src_path("README.md"), "not a valid ONNX model");
    expect_load_failure(tu_src_path("tests/fixtures/errors/bad_initializer.onnx"), "fc.weight");
    expect_load_failure(tu_src_path("tests/fixtures/errors/bad_initializer_typed.onnx"),
                        "holds 7 FLOAT values");
    expect_load_failure(tu_src_path("tests/fixtures/errors/node_missing_input.onnx"), "ghost");
}

Test(cli, model_cut_short_at_many_points_exits_1)
{
    /* A real model truncated at several lengths: never a crash, always status 1. */
    FILE *f = fopen(tu_src_path("tests/fixtures/cnn_bn/model.onnx"), "rb");
    cr_assert_not_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert_gt(n, 1000u);
    const size_t cuts[] = {1, 7, 100, n / 3, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char *p = tu_write_temp(buf, cuts[i], ".onnx"), *out, args[4096];
        snprintf(args, sizeof args, "'%s'", p);
        int status = run(args, &out);
        cr_expect_eq(status, 1, "cut at %zu bytes: status %d: %s", cuts[i], status, out);
        free(out);
        unlink(p);
        free(p);
    }
}
