/* The REPL as a person uses it, on a real terminal: tmux runs prunescope --repl, keys are
 * sent with send-keys and the screen read with capture-pane. Skipped (with a message) when
 * tmux is not installed. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/timer.h"
#include "testutil.h"

struct term {
    char socket[64];
    char state_dir[256];
};

static bool have_tmux(void)
{
    return system("command -v tmux >/dev/null 2>&1") == 0;
}

static void tmux(const struct term *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tmux(const struct term *t, const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "tmux -L '%s' %s >/dev/null 2>&1", t->socket, args);
    cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

/* The visible screen (malloc'd). */
static char *screen(const struct term *t)
{
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "tmux -L '%s' capture-pane -p -t ps", t->socket);
    tu_run_capture(cmd, &out);
    return out;
}

/* Waits up to 10 s for text to appear on the screen; returns the screen. */
static char *wait_for(const struct term *t, const char *text)
{
    double t0 = timer_now_s();
    for (;;) {
        char *s = screen(t);
        if (s && strstr(s, text))
            return s;
        if (timer_now_s() - t0 > 10.0) {
            cr_assert_fail("'%s' did not appear on the screen:\n%s", text, s ? s : "");
        }
        free(s);
        usleep(50 * 1000);
    }
}

/* Counts occurrences of text on the screen. */
static int count(const char *s, const char *text)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, text)); p += strlen(text))
        n++;
    return n;
}

static void start(struct term *t, const char *args)
{
    snprintf(t->socket, sizeof t->socket, "prunescope-test-%d", (int)getpid());
    snprintf(t->state_dir, sizeof t->state_dir, "/tmp/prunescope-repl-%d", (int)getpid());
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", t->state_dir, t->state_dir);
    cr_assert_eq(system(cmd), 0);
    tmux(t,
         "new-session -d -s ps -x 120 -y 40 \"cd '%s' && XDG_STATE_HOME='%s' '%s' --repl %s; "
         "echo EXITED-\\$?; sleep 30\"",
         tu_src_path("."), t->state_dir, getenv("PRUNESCOPE_BIN"), args);
}

static void stop(struct term *t)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "tmux -L '%s' kill-server >/dev/null 2>&1; rm -rf '%s'", t->socket,
             t->state_dir);
    if (system(cmd) != 0)
        return;
}

Test(repl, completes_commands_and_layer_names_and_keeps_history)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct term t;
    start(&t, "tests/fixtures/mlp_gemm/model.onnx");
    free(wait_for(&t, "prunescope>"));

    /* A command name: "inf" + Tab completes to "info". */
    tmux(&t, "send-keys -t ps 'inf' Tab");
    free(wait_for(&t, "prunescope> info"));
    tmux(&t, "send-keys -t ps Enter");
    free(wait_for(&t, "params   2778"));

    /* A layer name: "layers /fc2" + Tab completes to "/fc2/Gemm". */
    tmux(&t, "send-keys -t ps 'layers /fc2' Tab");
    free(wait_for(&t, "prunescope> layers /fc2/Gemm"));
    tmux(&t, "send-keys -t ps Enter");
    free(wait_for(&t, "[16,32]"));

    /* Ctrl-C drops the line being typed; the REPL goes on. */
    tmux(&t, "send-keys -t ps 'this is not run' C-c");
    tmux(&t, "send-keys -t ps 'help' Enter");
    char *s = wait_for(&t, "Commands (help CMD for details)");
    cr_expect_eq(count(s, "unknown command"), 0, "the interrupted line ran:\n%s", s);
    free(s);

    tmux(&t, "send-keys -t ps 'quit' Enter");
    free(wait_for(&t, "EXITED-0"));
    char path[512], *hist = NULL;
    snprintf(path, sizeof path, "cat '%s/prunescope/history'", t.state_dir);
    tu_run_capture(path, &hist);
    cr_expect(hist && strstr(hist, "info\n") && strstr(hist, "layers /fc2/Gemm\n") &&
                  strstr(hist, "quit\n"),
              "history file: %s", hist ? hist : "(none)");
    free(hist);
    stop(&t);
}

Test(repl, errors_do_not_end_the_session_and_ctrl_d_leaves)
{
    if (!have_tmux())
        cr_skip_test("tmux is not installed");
    struct term t;
    start(&t, "tests/fixtures/mlp_gemm/model.onnx");
    free(wait_for(&t, "prunescope>"));
    tmux(&t, "send-keys -t ps 'evl' Enter");
    free(wait_for(&t, "unknown command 'evl'"));
    tmux(&t, "send-keys -t ps 'eval' Enter");
    free(wait_for(&t, "no data is loaded"));
    tmux(&t, "send-keys -t ps C-d");
    free(wait_for(&t, "EXITED-0"));
    stop(&t);
}
