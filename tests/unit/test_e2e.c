/* End-to-end runs of the prunescope program from golden files in tests/e2e/: each NAME.test
 * gives the arguments, the standard input, the expected exit status and the expected
 * standard output and error, line by line, where '*' in an expected line matches any run
 * of characters (for timings and paths). Not unit tests of modules. */
#include <criterion/criterion.h>
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* '*' matches any run of characters; everything else literally. */
static bool glob_line(const char *pat, const char *s)
{
    if (*pat == '\0')
        return *s == '\0';
    if (*pat == '*') {
        for (const char *t = s;; t++) {
            if (glob_line(pat + 1, t))
                return true;
            if (*t == '\0')
                return false;
        }
    }
    return *s == *pat && glob_line(pat + 1, s + 1);
}

struct e2e_case {
    char args[4096];
    int status;
    char *in, *out, *errs; /* sections, malloc'd */
};

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

/* Parses a .test file: "args: ..." and "status: N" header lines, then sections starting
 * with "<<< stdin", ">>> stdout" and ">>> stderr". Lines starting with '#' before the
 * sections are comments. */
static void parse_case(const char *text, struct e2e_case *c)
{
    memset(c, 0, sizeof *c);
    c->in = strdup("");
    c->out = strdup("");
    c->errs = strdup("");
    char **section = NULL;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[8192];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        p += len + (nl ? 1 : 0);
        if (strcmp(line, "<<< stdin") == 0) {
            section = &c->in;
        } else if (strcmp(line, ">>> stdout") == 0) {
            section = &c->out;
        } else if (strcmp(line, ">>> stderr") == 0) {
            section = &c->errs;
        } else if (section) {
            size_t old = strlen(*section);
            *section = realloc(*section, old + len + 2);
            memcpy(*section + old, line, len);
            (*section)[old + len] = '\n';
            (*section)[old + len + 1] = '\0';
        } else if (strncmp(line, "args:", 5) == 0) {
            size_t n = strlen(line + 5);
            cr_assert_lt(n, sizeof c->args, "args line too long");
            memcpy(c->args, line + 5, n + 1);
        } else if (strncmp(line, "status:", 7) == 0) {
            c->status = atoi(line + 7);
        }
    }
}

/* Compares output with expected, line by line; reports the first difference. */
static void expect_lines(const char *name, const char *what, const char *got, const char *want)
{
    const char *g = got, *w = want;
    int line = 1;
    while (*g || *w) {
        const char *gn = strchr(g, '\n'), *wn = strchr(w, '\n');
        size_t gl = gn ? (size_t)(gn - g) : strlen(g), wl = wn ? (size_t)(wn - w) : strlen(w);
        char gs[8192], ws[8192];
        snprintf(gs, sizeof gs, "%.*s", (int)gl, g);
        snprintf(ws, sizeof ws, "%.*s", (int)wl, w);
        if (!*w) {
            cr_expect(false, "%s: %s line %d is extra: '%s'\n--- got:\n%s", name, what, line, gs,
                      got);
            return;
        }
        if (!*g) {
            cr_expect(false, "%s: %s ends before line %d, expected '%s'\n--- got:\n%s", name, what,
                      line, ws, got);
            return;
        }
        if (!glob_line(ws, gs)) {
            cr_expect(false, "%s: %s line %d:\n  got      '%s'\n  expected '%s'\n--- got:\n%s",
                      name, what, line, gs, ws, got);
            return;
        }
        g += gl + (gn ? 1 : 0);
        w += wl + (wn ? 1 : 0);
        line++;
    }
}

static void run_case(const char *dir, const char *file)
{
    char path[8192];
    cr_assert_lt(strlen(dir) + strlen(file) + 2, sizeof path);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *text = read_all(path);
    cr_assert_not_null(text, "cannot read %s", path);
    struct e2e_case c;
    parse_case(text, &c);
    free(text);
    char *in = tu_write_temp(c.in, strlen(c.in), ".in");
    char *out = tu_write_temp("", 0, ".out"), *errs = tu_write_temp("", 0, ".err");
    char home[] = "/tmp/prunescope-e2e-home-XXXXXX";
    cr_assert_not_null(mkdtemp(home), "mkdtemp: %s", strerror(errno));
    char cmd[16384];
    /* From the source tree, so paths in the test files are relative to it; a private,
     * empty home (state, cache and config), so no REPL history, cached sweep or hardware
     * profile of the user's is touched or used. */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && HOME='%s' XDG_STATE_HOME='%s/state' XDG_CACHE_HOME='%s/cache' "
             "XDG_CONFIG_HOME='%s/config' '%s' %s "
             "<'%s' >'%s' 2>'%s'",
             tu_src_path("."), home, home, home, home, getenv("PRUNESCOPE_BIN"), c.args, in, out,
             errs);
    int raw = system(cmd);
    int status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    char *got_out = read_all(out), *got_err = read_all(errs);
    cr_expect_eq(status, c.status,
                 "%s: exit status %d, expected %d\n--- stdout:\n%s--- stderr:\n%s", file, status,
                 c.status, got_out, got_err);
    expect_lines(file, "stdout", got_out, c.out);
    expect_lines(file, "stderr", got_err, c.errs);
    unlink(in), unlink(out), unlink(errs);
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf '%s'", home);
    cr_expect_eq(system(rm), 0);
    free(in), free(out), free(errs), free(got_out), free(got_err);
    free(c.in), free(c.out), free(c.errs);
}

Test(e2e, golden_files_in_tests_e2e)
{
    cr_assert_not_null(getenv("PRUNESCOPE_BIN"),
                       "PRUNESCOPE_BIN is not set (run through make check)");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_src_path("tests/e2e")); /* its buffer is reused */
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    struct dirent *ent;
    char names[256][256];
    int n = 0;
    while ((ent = readdir(d)) && n < 256) {
        size_t len = strlen(ent->d_name);
        if (len > 5 && strcmp(ent->d_name + len - 5, ".test") == 0)
            snprintf(names[n++], sizeof names[0], "%s", ent->d_name);
    }
    closedir(d);
    cr_assert_gt(n, 0, "no .test files in %s", dir);
    for (int i = 0; i < n; i++)
        run_case(dir, names[i]);
}
