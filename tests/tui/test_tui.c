/* The full-screen interface as a person uses it: tmux runs prunescope on a private server
 * (its own socket, XDG folders and locale), keys go in with send-keys and the screen comes
 * back with capture-pane. Every figure expected on the screen comes from a batch run (-e) of
 * the same binary. Skipped (with a message) when tmux is not installed. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/timer.h"
#include "../unit/testutil.h"

/* Generous: the suite also runs under AddressSanitizer. */
#define WAIT_S 30.0

#define DEMO_MODEL     "data/digits_mlp.onnx"
#define DEMO_DATA      "data/digits.csv"
#define FASHION        "data/fashion_cnn.onnx"
#define FASHION_DATA   "data/fashion-mnist-test.csv.gz"
#define FASHION_SCALE  "--scale 0.00392156862745098"
#define RESNET         "tests/fixtures/arch/resnet18/model.onnx"
#define RESNET_DATA    "tests/fixtures/arch/resnet18/data.csv"
#define MOBILENET      "tests/fixtures/arch/mobilenet_v2/model.onnx"
#define MOBILENET_DATA "tests/fixtures/arch/mobilenet_v2/data.csv"

/* The terminal of the running test: one per test process, so that .fini finds it. */
static struct {
    char socket[300]; /* tmux's, in dir: a server of the test's own */
    char dir[256];    /* XDG homes, exported files, the exit status */
    int cols, rows;
} T;

static bool have_tmux(void)
{
    return system("command -v tmux >/dev/null 2>&1") == 0;
}

static const char *bin(void)
{
    const char *b = getenv("PRUNESCOPE_BIN");
    cr_assert(b && *b, "PRUNESCOPE_BIN is not set (run through make check)");
    return b;
}

static void tmux(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void tmux(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "tmux -u -f /dev/null -S '%s' %s >/dev/null 2>&1", T.socket, args);
    cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

/* tmux key names (Down, C-r, Escape) or, with keys_text, characters as typed. */
static void keys(const char *names)
{
    tmux("send-keys -t ps %s", names);
}

static void keys_text(const char *text)
{
    tmux("send-keys -t ps -l '%s'", text);
}

/* The visible screen (malloc'd), or the escape sequences too (with_attrs). */
static char *capture(bool with_attrs)
{
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "tmux -u -f /dev/null -S '%s' capture-pane -p %s-t ps 2>&1", T.socket,
             with_attrs ? "-e " : "");
    tu_run_capture(cmd, &out);
    return out;
}

static char *exit_file(void)
{
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "cat '%s/status' 2>/dev/null", T.dir);
    tu_run_capture(cmd, &out);
    return out;
}

typedef bool (*screen_test)(const char *screen, const void *arg);

/* Polls the screen until test holds (up to WAIT_S); returns that screen (malloc'd). Fails
 * the test with the last screen otherwise. */
static char *wait_until(screen_test test, const void *arg, const char *what)
{
    double t0 = timer_now_s();
    for (;;) {
        char *s = capture(false);
        if (s && test(s, arg))
            return s;
        if (timer_now_s() - t0 > WAIT_S) {
            char *st = exit_file();
            cr_assert_fail("after %.0f s, still not %s; the screen (%dx%d):\n%s\n(program: %s)",
                           WAIT_S, what, T.cols, T.rows, s ? s : "", st && *st ? st : "running");
        }
        free(s);
        usleep(50 * 1000);
    }
}

static bool has_text(const char *s, const void *text)
{
    return strstr(s, text) != NULL;
}

static char *wait_text(const char *text)
{
    char what[600];
    snprintf(what, sizeof what, "showing '%.500s'", text);
    return wait_until(has_text, text, what);
}

/* Line n (0-based) of a screen, without its newline, in buf; false past the end. */
static bool line_at(const char *s, int n, char *buf, size_t size)
{
    for (int i = 0; i < n; i++) {
        s = strchr(s, '\n');
        if (!s)
            return false;
        s++;
    }
    if (!*s)
        return false;
    size_t len = strcspn(s, "\n");
    if (len >= size)
        len = size - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Columns of a line: its characters (the screen draws none wider than one cell). */
static size_t columns(const char *line)
{
    size_t n = 0;
    for (; *line; line++)
        n += ((unsigned char)*line & 0xC0) != 0x80;
    return n;
}

static size_t widest_line(const char *s)
{
    size_t w = 0;
    char line[4096];
    for (int i = 0; line_at(s, i, line, sizeof line); i++)
        if (columns(line) > w)
            w = columns(line);
    return w;
}

/* A line of the screen equal to text once trailing blanks are dropped. */
static bool has_line(const char *s, const void *text)
{
    char line[4096];
    for (int i = 0; line_at(s, i, line, sizeof line); i++) {
        size_t len = strlen(line);
        while (len && line[len - 1] == ' ')
            line[--len] = '\0';
        if (strcmp(line, text) == 0)
            return true;
    }
    return false;
}

/* The per-test folder, the tmux server and what runs in it. cwd NULL: the folder. */
static void start_in(const char *cwd, int cols, int rows, const char *env, const char *args)
{
    char tmpl[] = "/tmp/prunescope-tui-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl), "cannot make a temporary folder");
    snprintf(T.dir, sizeof T.dir, "%s", tmpl);
    snprintf(T.socket, sizeof T.socket, "%s/tmux", T.dir);
    T.cols = cols;
    T.rows = rows;
    /* The pane's program, in a script so that nothing needs quoting twice. The pane stays
     * a while after the program ends, showing what the shell printed after it. */
    char script[512];
    snprintf(script, sizeof script, "%s/run.sh", T.dir);
    FILE *f = fopen(script, "w");
    cr_assert_not_null(f, "cannot write %s", script);
    fprintf(f,
            "cd '%s' || exit 1\n"
            "env -u PRUNESCOPE_DATADIR -u NO_COLOR -u LC_ALL -u LC_CTYPE -u LANG -u COLUMNS "
            "-u LINES XDG_CONFIG_HOME='%s/config' XDG_CACHE_HOME='%s/cache' "
            "XDG_STATE_HOME='%s/state' %s '%s' %s\n"
            "s=$?\n"
            "echo \"EXIT=$s\" > '%s/status'\n"
            "echo \"EXIT=$s\"\n"
            "sleep 120\n",
            cwd ? cwd : T.dir, T.dir, T.dir, T.dir, env, bin(), args, T.dir);
    fclose(f);
    tmux("new-session -d -s ps -x %d -y %d \"sh '%s'\"", cols, rows, script);
}

static void start(int cols, int rows, const char *env, const char *args)
{
    start_in(NULL, cols, rows, env, args);
}

static void stop(void)
{
    if (!T.socket[0])
        return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "tmux -f /dev/null -S '%s' kill-server >/dev/null 2>&1; rm -rf '%s'",
             T.socket, T.dir);
    if (system(cmd) != 0) {
        /* the server had already gone */
    }
    T.socket[0] = '\0';
}

TestSuite(tui, .fini = stop);

#define UTF8 "LANG=C.UTF-8 LC_ALL=C.UTF-8"

/* Batch mode (the same private folders, another cache): cmds on args; asserts success. */
static char *batch(const char *cmds, const char *args)
{
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && env -u PRUNESCOPE_DATADIR XDG_CONFIG_HOME='%s/config' "
             "XDG_CACHE_HOME='%s/batch-cache' XDG_STATE_HOME='%s/state' '%s' -e '%s' %s",
             T.dir[0] ? T.dir : "/tmp", T.dir, T.dir, T.dir, bin(), cmds, args);
    int rc = tu_run_capture(cmd, &out);
    cr_assert_eq(rc, 0, "%s\nexited with %d:\n%s", cmd, rc, out ? out : "");
    return out;
}

/* A model and its data as arguments. */
static const char *files(const char *model, const char *data, const char *extra)
{
    static char buf[4][4096];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, 4096, "'%s' '%s' %s", tu_src_path(model), tu_src_path(data), extra);
    return b;
}

struct figures {
    char accuracy[16]; /* "97.50", as both faces print it */
    size_t correct, rows, params, nonzero;
};

/* The figures of the last eval in batch output. */
static struct figures batch_figures(const char *out)
{
    struct figures f;
    memset(&f, 0, sizeof f);
    const char *at = out, *p;
    while ((p = strstr(at, "\naccuracy  ")))
        at = p + 1;
    cr_assert(
        sscanf(at, "accuracy %15[0-9.]%% (%zu of %zu rows)", f.accuracy, &f.correct, &f.rows) == 3,
        "no accuracy in:\n%s", out);
    p = strstr(at, "\nparams ");
    cr_assert(p && sscanf(p + 1, "params %zu (%zu non-zero)", &f.params, &f.nonzero) == 2,
              "no params in:\n%s", out);
    return f;
}

static struct figures batch_eval(const char *cmds, const char *args)
{
    char *out = batch(cmds, args);
    struct figures f = batch_figures(out);
    free(out);
    return f;
}

/* The figures on the screen, when the accuracy is measured. */
static bool screen_figures(const char *s, struct figures *f)
{
    const char *a = strstr(s, "accuracy  "), *p = strstr(s, "params    ");
    return a && p &&
           sscanf(a, "accuracy %15[0-9.]%% (%zu of %zu)", f->accuracy, &f->correct, &f->rows) ==
               3 &&
           sscanf(p, "params %zu, %zu non-zero", &f->params, &f->nonzero) == 2;
}

static bool measured(const char *s, const void *arg)
{
    struct figures f;
    (void)arg;
    return screen_figures(s, &f);
}

/* Waits until the metrics panel shows exactly these figures; returns the screen. */
static char *wait_figures(const struct figures *f)
{
    char params[128], acc[128];
    snprintf(params, sizeof params, "params    %zu, %zu non-zero", f->params, f->nonzero);
    snprintf(acc, sizeof acc, "accuracy  %s%% (%zu of %zu)", f->accuracy, f->correct, f->rows);
    free(wait_text(params));
    return wait_text(acc);
}

/* The prunable layers' names, from batch `layers`. */
struct layer_names {
    size_t n;
    char name[256][128];
};

static void batch_layers(const char *model, struct layer_names *l)
{
    char args[4200];
    snprintf(args, sizeof args, "'%s'", tu_src_path(model));
    char *out = batch("layers", args);
    l->n = 0;
    for (const char *p = out; *p && l->n < 256; p += strcspn(p, "\n"), p += *p == '\n') {
        size_t idx;
        char name[128];
        if (sscanf(p, " %zu %127s", &idx, name) == 2) {
            cr_assert_eq(idx, l->n + 1, "layers listed out of order:\n%s", out);
            snprintf(l->name[l->n++], sizeof l->name[0], "%s", name);
        }
    }
    cr_assert_gt(l->n, 0, "no layers in:\n%s", out);
    free(out);
}

/* The table shows name in its column, cut with '~' when the column is narrower. */
static bool name_shown(const char *shown, const char *name)
{
    size_t n = strlen(shown);
    if (strcmp(shown, name) == 0)
        return true;
    return n > 1 && shown[n - 1] == '~' && strncmp(shown, name, n - 1) == 0;
}

/* The table row of layer idx (1-based) on the screen, copied to row; false when not shown. */
static bool find_row(const char *s, size_t idx, const char *name, char *row, size_t size)
{
    char line[4096];
    for (int i = 0; line_at(s, i, line, sizeof line); i++) {
        size_t k;
        char shown[128];
        if (sscanf(line, " %zu %127s", &k, shown) == 2 && k == idx && name_shown(shown, name)) {
            snprintf(row, size, "%s", line);
            return true;
        }
    }
    return false;
}

/* The row's sparsity ("15.0%": the first percentage on it), or "" when none. */
static void row_percent(const char *row, char *pct, size_t size)
{
    const char *p = strchr(row, '%');
    pct[0] = '\0';
    if (!p)
        return;
    const char *b = p;
    while (b > row && (b[-1] == '.' || (b[-1] >= '0' && b[-1] <= '9')))
        b--;
    snprintf(pct, size, "%.*s", (int)(p - b + 1), b);
}

struct want_row {
    size_t idx;
    const char *name;
    const char *pct; /* NULL: any */
};

static bool shows_row(const char *s, const void *arg)
{
    const struct want_row *w = arg;
    char row[4096], pct[32];
    if (!find_row(s, w->idx, w->name, row, sizeof row))
        return false;
    row_percent(row, pct, sizeof pct);
    return !w->pct || strcmp(pct, w->pct) == 0;
}

/* Waits until layer idx's row shows pct (NULL: is shown at all); returns the screen. */
static char *wait_row(const struct layer_names *l, size_t idx, const char *pct)
{
    struct want_row w = {idx, l->name[idx - 1], pct};
    char what[512];
    snprintf(what, sizeof what, "showing layer %zu (%.200s) at %.200s", idx, l->name[idx - 1],
             pct ? pct : "any sparsity");
    return wait_until(shows_row, &w, what);
}

/* Header on the first line, the key hints on the last, the metrics somewhere, nothing wider
 * than the terminal. */
struct want_layout {
    int cols, rows;
    const char *model;
};

static bool whole_layout(const char *s, const void *arg)
{
    const struct want_layout *w = arg;
    char first[4096], last[4096];
    return count_lines(s) == w->rows && line_at(s, 0, first, sizeof first) &&
           strstr(first, w->model) && strstr(first, "baseline") &&
           line_at(s, w->rows - 1, last, sizeof last) && strncmp(last, "arrows", 6) == 0 &&
           strstr(s, "accuracy  ") && widest_line(s) <= (size_t)w->cols;
}

static char *wait_layout(int cols, int rows, const char *model)
{
    struct want_layout w = {cols, rows, model};
    char what[256];
    snprintf(what, sizeof what, "the whole layout at %dx%d", cols, rows);
    return wait_until(whole_layout, &w, what);
}

static void resize(int cols, int rows)
{
    tmux("resize-window -t ps -x %d -y %d", cols, rows);
    T.cols = cols;
    T.rows = rows;
}

/* Start-up: every layer named, and the baseline of batch eval in the header and measured. */
static void check_start_up(const char *model, const char *data, const char *extra, bool demo)
{
    struct layer_names l;
    batch_layers(model, &l);
    struct figures want = batch_eval("eval", files(model, data, extra));
    char args[8192], dir[4096];
    snprintf(args, sizeof args, "%s", demo ? "" : files(model, data, extra));
    /* The demo runs from the build folder, as after make. */
    snprintf(dir, sizeof dir, "%s", bin());
    *strrchr(dir, '/') = '\0';
    start_in(demo ? dir : NULL, 80, 24, UTF8, args);
    char *s = wait_figures(&want);
    char header[4096], base[64];
    line_at(s, 0, header, sizeof header);
    const char *slash = strrchr(model, '/');
    cr_expect(strstr(header, slash + 1), "the header does not name %s:\n%s", slash + 1, s);
    snprintf(base, sizeof base, "baseline %s%%", want.accuracy);
    cr_expect(strstr(header, base), "the header does not show '%s':\n%s", base, s);
    for (size_t i = 0; i < l.n; i++) {
        char row[4096];
        cr_expect(find_row(s, i + 1, l.name[i], row, sizeof row), "no row for layer %zu (%s):\n%s",
                  i + 1, l.name[i], s);
    }
    free(s);
}

Test(tui, opens_the_demo_with_every_layer_and_the_batch_baseline)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    check_start_up(DEMO_MODEL, DEMO_DATA, "", true);
}

Test(tui, opens_fashion_cnn_with_every_layer_and_the_batch_baseline)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    check_start_up(FASHION, FASHION_DATA, FASHION_SCALE, false);
}

/* The demo on 80x24, its accuracy measured; l receives its layers. */
static void start_demo(const char *env, struct layer_names *l)
{
    batch_layers(DEMO_MODEL, l);
    start(80, 24, env, files(DEMO_MODEL, DEMO_DATA, ""));
    free(wait_until(measured, NULL, "showing the measured accuracy"));
}

/* Layer idx from from*5% to to*5%, one Right at a time (each waits for the row, so that no
 * key meets a command still running). */
static void step_right(const struct layer_names *l, size_t idx, int from, int to)
{
    for (int k = from + 1; k <= to; k++) {
        char pct[16];
        snprintf(pct, sizeof pct, "%.1f%%", 5.0 * k);
        keys("Right");
        free(wait_row(l, idx, pct));
    }
}

Test(tui, right_moves_a_slider_by_5_percent_and_the_figures_match_batch_mode)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct layer_names l;
    start_demo(UTF8, &l);
    cr_assert_geq(l.n, 3);
    struct figures dense = batch_eval("eval", files(DEMO_MODEL, DEMO_DATA, ""));
    struct figures want = batch_eval("set 3 15%; eval", files(DEMO_MODEL, DEMO_DATA, ""));
    keys("Down Down");
    step_right(&l, 3, 0, 3);
    char *s = wait_figures(&want);
    cr_expect_neq(want.nonzero, dense.nonzero, "15%% on layer 3 removes nothing");
    for (size_t i = 1; i <= l.n; i++) {
        char row[4096], pct[32];
        cr_assert(find_row(s, i, l.name[i - 1], row, sizeof row), "no row %zu:\n%s", i, s);
        row_percent(row, pct, sizeof pct);
        cr_expect_str_eq(pct, i == 3 ? "15.0%" : "0.0%", "layer %zu:\n%s", i, s);
    }
    free(s);
}

Test(tui, u_undoes_the_last_step_and_ctrl_r_redoes_it)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct layer_names l;
    start_demo(UTF8, &l);
    struct figures at10 = batch_eval("set 3 10%; eval", files(DEMO_MODEL, DEMO_DATA, ""));
    struct figures at15 = batch_eval("set 3 15%; eval", files(DEMO_MODEL, DEMO_DATA, ""));
    keys("Down Down");
    step_right(&l, 3, 0, 3);
    free(wait_figures(&at15));
    keys("u");
    free(wait_row(&l, 3, "10.0%"));
    free(wait_figures(&at10));
    keys("C-r");
    free(wait_row(&l, 3, "15.0%"));
    free(wait_figures(&at15));
}

Test(tui, a_colon_command_line_sets_a_layer_as_in_batch_mode)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct layer_names l;
    start_demo(UTF8, &l);
    struct figures want = batch_eval("set 1 50%; eval", files(DEMO_MODEL, DEMO_DATA, ""));
    keys(":");
    keys_text("set 1 50%");
    free(wait_until(has_line, ":set 1 50%", "showing the prompt ':set 1 50%'"));
    keys("Enter");
    free(wait_row(&l, 1, "50.0%"));
    free(wait_figures(&want));
}

/* e c, the prompt cleared (Ctrl-A Ctrl-K) and path typed, Enter. */
static void export_config(const char *path)
{
    keys("e");
    free(wait_text("c config"));
    keys("c");
    free(wait_text("export config to: prunescope-config.json"));
    keys("C-a C-k");
    keys_text(path);
    char line[4200];
    snprintf(line, sizeof line, "export config to: %s", path);
    free(wait_until(has_line, line, "showing the prompt with the path alone"));
    keys("Enter");
}

static char *slurp(const char *path)
{
    char cmd[4200], *out = NULL;
    snprintf(cmd, sizeof cmd, "cat '%s'", path);
    cr_assert_eq(tu_run_capture(cmd, &out), 0, "cannot read %s", path);
    return out;
}

/* What the screen shows once layer idx is at pct and measured. */
static struct figures shown_figures(const struct layer_names *l, size_t idx, const char *pct)
{
    free(wait_row(l, idx, pct));
    /* The row is drawn from the same snapshot that dropped the old measurement. */
    char *s = wait_until(measured, NULL, "showing the measured accuracy");
    struct figures f;
    screen_figures(s, &f);
    free(s);
    return f;
}

static void expect_same_figures(const struct figures *got, const struct figures *want,
                                const char *what)
{
    cr_expect_str_eq(got->accuracy, want->accuracy, "%s: accuracy %s%%, the screen %s%%", what,
                     got->accuracy, want->accuracy);
    cr_expect_eq(got->correct, want->correct, "%s: correct %zu, the screen %zu", what, got->correct,
                 want->correct);
    cr_expect_eq(got->nonzero, want->nonzero, "%s: non-zero %zu, the screen %zu", what,
                 got->nonzero, want->nonzero);
    cr_expect_eq(got->params, want->params, "%s: params", what);
}

/* After the program: the shell's echo on the pane, the screen gone, status 0. */
static void expect_exited_cleanly(void)
{
    char *s = wait_text("EXIT=");
    cr_expect(strstr(s, "EXIT=0"), "exit status not 0:\n%s", s);
    cr_expect(!strstr(s, "baseline") && !strstr(s, "arrows"),
              "the screen is still shown after the program left:\n%s", s);
    free(s);
    char *st = exit_file();
    cr_expect(st && strncmp(st, "EXIT=0", 6) == 0, "status file: %s", st ? st : "(none)");
    free(st);
}

Test(tui, exports_a_config_that_batch_mode_imports_and_asks_before_replacing)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct layer_names l;
    start_demo(UTF8, &l);
    step_right(&l, 1, 0, 2);
    struct figures first = shown_figures(&l, 1, "10.0%");
    char path[512], import[1024], msg[1024];
    snprintf(path, sizeof path, "%s/exported.json", T.dir);
    snprintf(import, sizeof import, "import config %s; eval", path);
    export_config(path);
    snprintf(msg, sizeof msg, "wrote %s", path);
    free(wait_text(msg));
    struct figures back = batch_eval(import, files(DEMO_MODEL, DEMO_DATA, ""));
    expect_same_figures(&back, &first, "imported after the first export");

    /* A change, then the same file: n keeps it as it was. */
    step_right(&l, 1, 2, 3);
    struct figures second = shown_figures(&l, 1, "15.0%");
    cr_expect_neq(second.nonzero, first.nonzero);
    char *before = slurp(path);
    struct stat st0, st1;
    cr_assert_eq(stat(path, &st0), 0);
    export_config(path);
    snprintf(msg, sizeof msg, "%s exists: replace it? (y/n)", path);
    free(wait_text(msg));
    keys("n");
    snprintf(msg, sizeof msg, "%s kept as it was", path);
    free(wait_text(msg));
    char *after = slurp(path);
    cr_assert_eq(stat(path, &st1), 0);
    cr_expect_str_eq(after, before, "n changed the file");
    cr_expect(st1.st_ino == st0.st_ino && st1.st_mtim.tv_sec == st0.st_mtim.tv_sec &&
                  st1.st_mtim.tv_nsec == st0.st_mtim.tv_nsec,
              "n rewrote the file");
    free(after);

    /* y replaces it with the configuration shown. */
    export_config(path);
    snprintf(msg, sizeof msg, "%s exists: replace it? (y/n)", path);
    free(wait_text(msg));
    keys("y");
    snprintf(msg, sizeof msg, "wrote %s", path);
    free(wait_text(msg));
    after = slurp(path);
    cr_expect_str_neq(after, before, "y left the file as it was");
    back = batch_eval(import, files(DEMO_MODEL, DEMO_DATA, ""));
    expect_same_figures(&back, &second, "imported after replacing");
    free(before);
    free(after);

    /* Exported: q leaves without asking. */
    keys("q");
    expect_exited_cleanly();
}

Test(tui, scrolls_a_53_layer_model_on_80x24_keeping_header_and_hints)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct layer_names l;
    batch_layers(MOBILENET, &l);
    cr_assert_geq(l.n, 50, "only %zu layers: not a test of scrolling", l.n);
    start(80, 24, UTF8, files(MOBILENET, MOBILENET_DATA, ""));
    char *s = wait_layout(80, 24, "model.onnx");
    char row[4096];
    cr_expect(find_row(s, 1, l.name[0], row, sizeof row), "layer 1 is not shown first:\n%s", s);
    cr_expect(!find_row(s, l.n, l.name[l.n - 1], row, sizeof row),
              "the last layer fits on 24 lines: nothing to scroll:\n%s", s);
    free(s);
    keys("End");
    free(wait_row(&l, l.n, NULL));
    /* Selected: Right moves its slider. */
    keys("Right");
    free(wait_row(&l, l.n, "5.0%"));
    s = wait_layout(80, 24, "model.onnx");
    cr_expect(find_row(s, l.n, l.name[l.n - 1], row, sizeof row), "lost the last row:\n%s", s);
    cr_expect(!find_row(s, 1, l.name[0], row, sizeof row), "layer 1 still shown:\n%s", s);
    cr_expect_leq(widest_line(s), 80, "a line wider than 80 columns:\n%s", s);
    free(s);
    keys("Home");
    free(wait_row(&l, 1, NULL));
    keys("Right");
    free(wait_row(&l, 1, "5.0%"));
}

Test(tui, redraws_whole_after_resizes_and_asks_for_80x24_when_smaller)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct layer_names l;
    start_demo(UTF8, &l);
    free(wait_layout(80, 24, "digits_mlp.onnx"));
    resize(200, 60);
    char *s = wait_layout(200, 60, "digits_mlp.onnx");
    for (size_t i = 0; i < l.n; i++) {
        char row[4096];
        cr_expect(find_row(s, i + 1, l.name[i], row, sizeof row), "no row %zu at 200x60:\n%s",
                  i + 1, s);
    }
    free(s);
    resize(80, 24);
    free(wait_layout(80, 24, "digits_mlp.onnx"));
    resize(60, 20);
    s = wait_text("needs a terminal of at least 80x24");
    cr_expect(strstr(s, "60x20"), "the message does not say the size:\n%s", s);
    cr_expect_leq(widest_line(s), 60, "a line wider than 60 columns:\n%s", s);
    free(s);
    resize(80, 24);
    s = wait_layout(80, 24, "digits_mlp.onnx");
    cr_expect(!strstr(s, "needs a terminal"), "the message stayed:\n%s", s);
    free(s);
}

Test(tui, q_quits_at_once_with_nothing_changed)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct layer_names l;
    start_demo(UTF8, &l);
    keys("q");
    expect_exited_cleanly();
}

Test(tui, q_asks_after_a_change_and_n_stays_y_leaves)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct layer_names l;
    start_demo(UTF8, &l);
    step_right(&l, 1, 0, 1);
    keys("q");
    free(wait_text("quit anyway? (y/n)"));
    keys("n");
    char *s = wait_text("not quitting");
    free(s);
    /* Still running: a key still moves a slider. */
    step_right(&l, 1, 1, 2);
    char *st = exit_file();
    cr_expect(!st || !*st, "the program ended after n: %s", st ? st : "");
    free(st);
    keys("q");
    free(wait_text("quit anyway? (y/n)"));
    keys("y");
    expect_exited_cleanly();
}

/* Batch sensitivity's accuracy (%) of layer name at level pct ("50%") and its baseline. */
static void batch_sensitivity(const char *name, const char *pct, double *acc, double *baseline)
{
    char *out = batch("sensitivity", files(DEMO_MODEL, DEMO_DATA, ""));
    const char *b = strstr(out, "baseline ");
    cr_assert(b && sscanf(b, "baseline %lf%%", baseline) == 1, "no baseline:\n%s", out);
    const char *h = strstr(out, "at level");
    cr_assert_not_null(h, "no levels:\n%s", out);
    /* The column of pct among the levels. */
    int col = -1, k = 0;
    char tok[64];
    const char *p = h + strlen("at level");
    int used;
    while (*p != '\n' && sscanf(p, "%63s%n", tok, &used) == 1) {
        if (strcmp(tok, pct) == 0)
            col = k;
        k++;
        p += used;
        while (*p == ' ')
            p++;
    }
    cr_assert_geq(col, 0, "no level %s:\n%s", pct, out);
    char needle[160];
    snprintf(needle, sizeof needle, "\n%s ", name);
    const char *r = strstr(out, needle);
    cr_assert_not_null(r, "no row for %s:\n%s", name, out);
    p = r + strlen(needle);
    for (int i = 0; i <= col; i++) {
        cr_assert(sscanf(p, "%lf%n", acc, &used) == 1, "short row for %s:\n%s", name, out);
        p += used;
    }
    free(out);
}

/* The number in the drop column of a row: the first number after its sparsity. */
static bool row_drop(const char *row, double *drop)
{
    const char *p = strchr(row, '%');
    if (!p)
        return false;
    for (p++; *p;) {
        char tok[64];
        int used;
        if (sscanf(p, "%63s%n", tok, &used) != 1)
            return false;
        char *end;
        double v = strtod(tok, &end);
        if (end != tok && *end == '\0') {
            *drop = v;
            return true;
        }
        p += used;
    }
    return false;
}

static bool shows_drops(const char *s, const void *arg)
{
    const struct layer_names *l = arg;
    char header[4096];
    if (!line_at(s, 1, header, sizeof header) || !strstr(header, "sensitivity") ||
        !strstr(header, "drop"))
        return false;
    for (size_t i = 0; i < l->n; i++) {
        char row[4096];
        double d;
        if (!find_row(s, i + 1, l->name[i], row, sizeof row) || !row_drop(row, &d))
            return false;
    }
    return true;
}

Test(tui, s_runs_the_sweep_and_the_table_shows_sparklines_and_drops)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct layer_names l;
    start_demo(UTF8, &l);
    double acc50, baseline;
    batch_sensitivity(l.name[0], "50%", &acc50, &baseline);
    keys("s");
    char *s = wait_until(shows_drops, &l, "showing the sensitivity column and a drop per layer");
    for (size_t i = 0; i < l.n; i++) {
        char row[4096];
        double d = NAN;
        find_row(s, i + 1, l.name[i], row, sizeof row);
        row_drop(row, &d);
        cr_expect(d == 0.0, "layer %zu is dense, its drop %g:\n%s", i + 1, d, s);
    }
    free(s);
    /* Layer 1 to 50% (typed): its drop is the table's at 50%. */
    keys_text("50");
    keys("Enter");
    s = wait_row(&l, 1, "50.0%");
    char row[4096];
    double d = NAN;
    find_row(s, 1, l.name[0], row, sizeof row);
    cr_assert(row_drop(row, &d), "no drop on layer 1:\n%s", s);
    /* Both from figures with two decimals: within a rounding step. */
    cr_expect(fabs(d - (acc50 - baseline)) < 0.0101, "drop %.2f, batch table %.2f - %.2f:\n%s", d,
              acc50, baseline, s);
    free(s);
}

static bool sweep_progress(const char *s, const void *arg)
{
    char line[4096];
    (void)arg;
    return line_at(s, T.rows - 2, line, sizeof line) && strstr(line, "sensitivity") &&
           strstr(line, "Esc cancels");
}

static bool cancelled(const char *s, const void *arg)
{
    char line[4096];
    (void)arg;
    return line_at(s, T.rows - 2, line, sizeof line) && strstr(line, "cancelled");
}

Test(tui, esc_cancels_a_sweep_and_the_screen_goes_on)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct layer_names l;
    /* resnet18 on its 200 rows: a sweep of about 10 s, long enough to be seen running on
     * a fast machine (the bundled CNN's takes 1 s). */
    batch_layers(RESNET, &l);
    start(80, 24, UTF8, files(RESNET, RESNET_DATA, ""));
    free(wait_until(measured, NULL, "showing the measured accuracy"));
    keys("S"); /* fresh: a sweep cached by an earlier test would answer at once */
    free(wait_until(sweep_progress, NULL, "showing the sweep's progress line"));
    keys("Escape");
    free(wait_until(cancelled, NULL, "saying the sweep was cancelled"));
    keys("Down");
    step_right(&l, 2, 0, 1);
    char *st = exit_file();
    cr_expect(!st || !*st, "the program ended: %s", st ? st : "");
    free(st);
}

/* Only ASCII on the screen, and no colour in its escape sequences. */
static void expect_ascii_without_colour(void)
{
    char *s = capture(false);
    for (const char *p = s; *p; p++)
        cr_assert((unsigned char)*p < 0x80, "a non-ASCII byte under LANG=C:\n%s", s);
    free(s);
    char *e = capture(true);
    for (const char *p = e; (p = strstr(p, "\033[")); p += 2) {
        const char *q = p + 2;
        while (*q && *q != 'm' && strchr("0123456789;", *q)) {
            char *end;
            long v = strtol(q, &end, 10);
            q = end;
            bool colour = (v >= 30 && v <= 38) || (v >= 40 && v <= 48) || (v >= 90 && v <= 107);
            cr_expect(!colour, "colour %ld under NO_COLOR:\n%s", v, e);
            if (*q == ';')
                q++;
        }
    }
    free(e);
}

Test(tui, draws_in_ascii_without_colour_and_a_slider_still_moves)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct layer_names l;
    start_demo("NO_COLOR=1 LANG=C", &l);
    char *s = wait_row(&l, 1, "0.0%");
    char row[4096];
    find_row(s, 1, l.name[0], row, sizeof row);
    cr_expect(strstr(row, "------------"), "no ASCII slider on layer 1:\n%s", s);
    free(s);
    expect_ascii_without_colour();
    step_right(&l, 1, 0, 4);
    s = wait_row(&l, 1, "20.0%");
    find_row(s, 1, l.name[0], row, sizeof row);
    cr_expect(strstr(row, "#-"), "no filled ASCII slider on layer 1:\n%s", s);
    free(s);
    expect_ascii_without_colour();
}
