/* The documentation tells the truth: every command of the table and every option of
 * --help is in the man page, and the README's test command is what CI runs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/command.h"
#include "testutil.h"

static char *read_file(const char *rel)
{
    FILE *f = fopen(tu_src_path(rel), "rb");
    cr_assert_not_null(f, "cannot open %s", rel);
    static char buf[1 << 18];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strdup(buf);
}

Test(docs, man_page_documents_every_command)
{
    char *man = read_file("man/prunescope.1");
    for (size_t i = 0; i < cmd_count(); i++) {
        const struct cmd_def *d = cmd_at(i);
        char b[128], bi[128];
        snprintf(b, sizeof b, "\n.B %s\n", d->name);
        snprintf(bi, sizeof bi, "\n.BI %s ", d->name);
        cr_expect(strstr(man, b) || strstr(man, bi), "man page lacks the command %s", d->name);
    }
    free(man);
}

Test(docs, man_page_documents_every_option_of_help)
{
    char *man = read_file("man/prunescope.1"), *help = NULL, cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' --help", getenv("PRUNESCOPE_BIN"));
    cr_assert_eq(tu_run_capture(cmd, &help), 0);
    int seen = 0;
    for (const char *p = help; (p = strstr(p, "--")); p += 2) {
        char opt[64], esc[80];
        size_t n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
        if (n == 0)
            continue;
        snprintf(opt, sizeof opt, "%.*s", (int)n, p + 2);
        /* troff writes each '-' as "\-". */
        size_t used = (size_t)snprintf(esc, sizeof esc, "\\-\\-");
        for (size_t k = 0; k < n && used + 3 < sizeof esc; k++)
            used += (size_t)snprintf(esc + used, sizeof esc - used, "%s",
                                     opt[k] == '-' ? "\\-" : (char[]){opt[k], 0});
        cr_expect(strstr(man, esc), "man page lacks --%s", opt);
        seen++;
    }
    cr_expect_gt(seen, 8, "--help lists too few options:\n%s", help);
    free(help);
    free(man);
}

Test(docs, ci_runs_the_readme_test_command)
{
    char *readme = read_file("README.md"), *ci = read_file(".ci/run");
    cr_expect(strstr(readme, "sh scripts/test"), "README's Quick start lacks sh scripts/test");
    cr_expect(strstr(ci, "sh scripts/test"), ".ci/run does not call sh scripts/test");
    free(readme);
    free(ci);
}
