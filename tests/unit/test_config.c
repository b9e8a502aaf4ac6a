/* Configuration files through the program: export, import and export again give the same
 * bytes; a config for another model, a corrupt one and a foreign JSON file are refused
 * with the reason and the session keeps its configuration. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int run(const char *script, const char *model, char **out)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' -e \"%s\" %s 2>&1", tu_src_path("."),
             getenv("PRUNESCOPE_BIN"), script, model);
    return tu_run_capture(cmd, out);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

Test(config, export_import_export_round_trips_exactly)
{
    char dir[] = "/tmp/prunescope-config-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char script[4096], *out;
    snprintf(script, sizeof script,
             "method /fc1/Gemm l2 neuron; set /fc1/Gemm 0.25; set 2 0.7; method 3 random; "
             "set 3 0.3; storage csr; export config %s/a.json; reset; import config %s/a.json; "
             "export config %s/b.json; global 0.61; export config %s/c.json; reset; "
             "import config %s/c.json; export config %s/d.json",
             dir, dir, dir, dir, dir, dir);
    int status = run(script, "--seed 42 data/digits_mlp.onnx data/digits.csv", &out);
    cr_assert_eq(status, 0, "%s", out);
    char pa[512], pb[512], pc[512], pd[512];
    snprintf(pa, sizeof pa, "%s/a.json", dir);
    snprintf(pb, sizeof pb, "%s/b.json", dir);
    snprintf(pc, sizeof pc, "%s/c.json", dir);
    snprintf(pd, sizeof pd, "%s/d.json", dir);
    char *a = slurp(pa), *b = slurp(pb), *c = slurp(pc), *d = slurp(pd);
    cr_expect_str_eq(a, b, "per-layer config did not round-trip");
    cr_expect_str_eq(c, d, "global config did not round-trip");
    cr_expect(strstr(a, "\"granularity\": \"neuron\"") && strstr(a, "\"seed\": 42") &&
                  strstr(a, "\"correct\":"),
              "%s", a);
    cr_expect(strstr(c, "\"global\": 0.60999999999999999"), "%s", c);
    free(a), free(b), free(c), free(d), free(out);
    unlink(pa), unlink(pb), unlink(pc), unlink(pd);
    rmdir(dir);
}

Test(config, foreign_corrupt_and_unrelated_files_are_refused_changing_nothing)
{
    char dir[] = "/tmp/prunescope-config-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char script[4096], *out, path[512];
    /* A config made for the tiny CSV test model. */
    snprintf(script, sizeof script, "set fc 0.5; export config %s/tiny.json", dir);
    cr_assert_eq(run(script, "tests/fixtures/csv/tiny.onnx", &out), 0, "%s", out);
    free(out);
    /* A truncated copy and a JSON file that is something else. */
    snprintf(path, sizeof path, "%s/tiny.json", dir);
    char *good = slurp(path);
    snprintf(path, sizeof path, "%s/cut.json", dir);
    FILE *f = fopen(path, "w");
    fwrite(good, 1, strlen(good) / 2, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/other.json", dir);
    f = fopen(path, "w");
    fputs("{\"format\": \"something-else\", \"layers\": []}\n", f);
    fclose(f);
    free(good);

    snprintf(script, sizeof script,
             "set 2 0.5; import config %s/tiny.json; import config %s/cut.json; "
             "import config %s/other.json; layers 2",
             dir, dir, dir);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' -k -e \"%s\" data/digits_mlp.onnx 2>&1",
             tu_src_path("."), getenv("PRUNESCOPE_BIN"), script);
    int status = tu_run_capture(cmd, &out);
    cr_expect_eq(status, 1, "%s", out);
    cr_expect(strstr(out, "tiny.json was made for another model (tests/fixtures/csv/tiny.onnx"),
              "%s", out);
    cr_expect(strstr(out, "cut.json:") && strstr(out, "not valid JSON"), "%s", out);
    cr_expect(strstr(out, "other.json: not a prunescope configuration"), "%s", out);
    /* The configuration stayed: layer 2 at 50%. */
    cr_expect(strstr(out, "50.0%  g2    l1 unstructured"), "%s", out);
    free(out);
    const char *names[] = {"tiny.json", "cut.json", "other.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

Test(config, never_overwrites_the_model_or_an_existing_file_without_force)
{
    char *out;
    int status = run("export config data/digits_mlp.onnx --force", "data/digits_mlp.onnx", &out);
    cr_expect_eq(status, 1, "%s", out);
    cr_expect(strstr(out, "is the model that was loaded"), "%s", out);
    free(out);
    status = run("export config data/README.md", "data/digits_mlp.onnx", &out);
    cr_expect_eq(status, 1, "%s", out);
    cr_expect(strstr(out, "data/README.md exists; add --force to replace it"), "%s", out);
    free(out);
}
