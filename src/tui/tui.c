/* tui.h: the loop (keys, the command thread, the background measurement, a frame per
 * turn), the actions keys call, and the terminal's set-up and restoring, also on a fatal
 * signal. */
#include "tui/tui.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "core/timer.h"
#include "analysis/allocate.h"
#include "tui/prompt.h"
#include "tui/screen.h"

/* The terminal as it was, for the fatal-signal handler (which may use only
 * async-signal-safe calls: write and tcsetattr). */
static struct termios saved_termios;
static bool have_termios;
static volatile sig_atomic_t terminate;

static const char RESTORE[] = "\033[?1002l\033[?1000l\033[?1049l\033[?25h\033[0m\r\n";

static void on_fatal(int sig)
{
    if (have_termios)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
    ssize_t ignored = write(STDOUT_FILENO, RESTORE, sizeof RESTORE - 1);
    (void)ignored;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_terminate(int sig)
{
    (void)sig;
    terminate = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND;
    int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        sigaction(fatal[i], &sa, NULL);
    sa.sa_handler = on_terminate;
    sa.sa_flags = 0;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void restore_signals(void)
{
    int all[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        signal(all[i], SIG_DFL);
}

void tui_message(struct tui *t, bool error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->status, sizeof t->status, fmt, ap);
    va_end(ap);
    t->status_error = error;
}

bool tui_job_running(struct tui *t)
{
    return job_busy(t->job);
}

/* What the configuration is: when it changes, the measurement is out of date. */
static uint64_t fingerprint(const struct session *s)
{
    uint64_t h = 1469598103934665603ull;
#define MIX(v)                                                                                     \
    do {                                                                                           \
        h ^= (uint64_t)(v);                                                                        \
        h *= 1099511628211ull;                                                                     \
    } while (0)
    MIX((uintptr_t)s->engine);
    MIX((uintptr_t)s->data);
    for (const char *c = s->weights_sha256; *c; c++) /* fine-tuning changes the weights */
        MIX((unsigned char)*c);
    MIX(s->config.global);
    uint64_t bits;
    memcpy(&bits, &s->config.global_sparsity, sizeof bits);
    MIX(bits);
    for (size_t i = 0; s->engine && i < s->layers.count; i++) {
        const struct prune_setting *st = &s->config.settings[i];
        memcpy(&bits, &st->sparsity, sizeof bits);
        MIX(bits);
        MIX(st->criterion);
        MIX(st->granularity);
    }
#undef MIX
    return h;
}

static bool all_dense(const struct snapshot *sn)
{
    if (sn->global && sn->global_sparsity > 0)
        return false;
    for (size_t i = 0; i < sn->n_layers; i++)
        if (sn->layers[i].sparsity > 0)
            return false;
    return true;
}

void tui_show_help(struct tui *t)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    int width = COLS - 2 > 40 ? COLS - 2 : 40, indent = 20;
    for (size_t i = 0; i < keys_count(); i++) {
        const struct key_def *k = keys_at(i);
        fprintf(f, "  %-*s", indent - 2, k->keys);
        /* Wrap the explanation at word boundaries under its own column. */
        const char *p = k->help;
        int col = indent;
        while (*p) {
            size_t word = strcspn(p, " ");
            if (col + (int)word > width && col > indent) {
                fprintf(f, "\n%*s", indent, "");
                col = indent;
            }
            fprintf(f, "%.*s", (int)word, p);
            col += (int)word;
            p += word;
            if (*p == ' ') {
                fputc(' ', f);
                col++;
                p++;
            }
        }
        fputc('\n', f);
    }
    fclose(f);
    tui_open_pager(t, "prunescope: keys", text);
    free(text);
}

bool tui_unexported(const struct tui *t)
{
    return t->gen != t->exported_gen && !all_dense(&t->snap);
}

static void refresh_snapshot(struct tui *t)
{
    struct err err;
    if (snapshot_take(&t->snap, t->s, &err) < 0)
        tui_message(t, true, "%s", err.msg);
    if (t->sel >= t->snap.n_layers)
        t->sel = t->snap.n_layers ? t->snap.n_layers - 1 : 0;
}

static void start_measuring(struct tui *t)
{
    t->measuring = false;
    if (!t->s->engine || !t->s->data)
        return;
    struct err err;
    if (worker_start(t->worker, t->gen, &err) < 0) {
        snprintf(t->measure_error, sizeof t->measure_error, "%s", err.msg);
        return;
    }
    t->measuring = true;
    t->measure_error[0] = '\0';
}

/* The pager: the output's lines. */
void tui_open_pager(struct tui *t, const char *title, const char *text)
{
    snprintf(t->pager_title, sizeof t->pager_title, "%s", title);
    for (size_t i = 0; i < t->pager_n; i++)
        free(t->pager[i]);
    free(t->pager);
    t->pager = NULL;
    t->pager_n = t->pager_top = 0;
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    t->pager = calloc(n, sizeof *t->pager);
    if (!t->pager)
        return;
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, "\n");
        char *line = strndup(p, len);
        if (!line)
            break;
        /* Progress lines redrawn with \r: keep what the last redraw left. */
        char *cr = strrchr(line, '\r');
        if (cr)
            memmove(line, cr + 1, strlen(cr + 1) + 1);
        t->pager[t->pager_n++] = line;
        p += len;
        if (*p == '\n')
            p++;
    }
}

/* The command thread finished: show what it said, read the session again, and measure
 * the configuration when it changed. */
static void finish_job(struct tui *t)
{
    char *output = NULL;
    struct err err;
    int rc = job_collect(t->job, &output, &err);
    *t->interrupted = 0;
    if (rc < 0) {
        tui_message(t, true, "%s: %s", t->last_command, err.msg);
    } else if (output && *output) {
        /* The last line it printed. */
        size_t len = strlen(output);
        while (len > 0 && output[len - 1] == '\n')
            len--;
        size_t start = len;
        while (start > 0 && output[start - 1] != '\n' && output[start - 1] != '\r')
            start--;
        bool several = memchr(output, '\n', len) != NULL;
        tui_message(t, false, "%.*s", (int)(len - start), output + start);
        if (several && !t->job_quiet)
            tui_open_pager(t, t->last_command, output);
    } else {
        tui_message(t, false, "%s: done", t->last_command);
    }
    if (rc == 0 && (strncmp(t->last_command, "export config", 13) == 0 ||
                    strncmp(t->last_command, "export model", 12) == 0))
        t->exported_gen = t->gen;
    free(output);
    uint64_t fp = fingerprint(t->s);
    if (fp != t->fingerprint) {
        t->fingerprint = fp;
        t->gen++;
        t->have_measured = false;
    }
    refresh_snapshot(t);
    if (t->replay_log)
        t->want_pred_log = true;
    if (!t->have_measured)
        start_measuring(t);
}

void tui_run_command(struct tui *t, const char *line, bool quiet)
{
    if (job_busy(t->job)) {
        tui_message(t, true, "still running: %s (Esc cancels)", t->last_command);
        return;
    }
    worker_cancel(t->worker);
    t->measuring = false;
    snprintf(t->last_command, sizeof t->last_command, "%s", line);
    t->job_quiet = quiet;
    struct err err;
    if (job_start(t->job, line, &err) < 0) {
        tui_message(t, true, "%s", err.msg);
        if (!t->have_measured)
            start_measuring(t);
        return;
    }
    /* Most commands take a few milliseconds: wait for them, so that the figures move in
     * the same frame as the key. */
    if (job_wait(t->job, 150))
        finish_job(t);
    else
        tui_message(t, false, "running: %s", line);
}

void tui_select(struct tui *t, long delta)
{
    if (t->snap.n_layers == 0)
        return;
    long sel = (long)t->sel + delta;
    if (sel < 0)
        sel = 0;
    if (sel >= (long)t->snap.n_layers)
        sel = (long)t->snap.n_layers - 1;
    t->sel = (size_t)sel;
}

void tui_set_selected(struct tui *t, double sparsity)
{
    if (t->snap.n_layers == 0)
        return;
    if (sparsity < 0)
        sparsity = 0;
    if (sparsity > 0.99)
        sparsity = 0.99;
    char line[64];
    /* A percentage with up to two decimals names the value exactly as typed. */
    snprintf(line, sizeof line, "set %zu %.4g%%", t->sel + 1, 100.0 * sparsity);
    tui_run_command(t, line, true);
}

void tui_move_slider(struct tui *t, double delta)
{
    if (t->snap.n_layers == 0)
        return;
    double now = t->snap.layers[t->sel].sparsity;
    /* Steps land on multiples of the step, from wherever the slider is. */
    double step = fabs(delta);
    double next =
        delta > 0 ? floor(now / step + 1e-9) * step + step : ceil(now / step - 1e-9) * step - step;
    tui_set_selected(t, next);
}

void tui_open_prompt(struct tui *t, enum prompt_use use, const char *label, const char *initial)
{
    t->use = use;
    prompt_open(label, initial,
                use == USE_COMMAND  ? PROMPT_COMPLETE_COMMAND
                : use == USE_EXPORT ? PROMPT_COMPLETE_FILE
                                    : PROMPT_COMPLETE_NONE);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The export's command line for the path typed. */
static void run_export(struct tui *t, bool force)
{
    char line[8400], path[8200];
    cmd_quote_word(t->export_path, path, sizeof path);
    snprintf(line, sizeof line, "export %s %s%s", t->export_kind, path, force ? " --force" : "");
    tui_run_command(t, line, true);
}

/* Enter in the prompt: what the line was for. */
static void prompt_finished(struct tui *t, char *line)
{
    char cmd[4200];
    const char *text = line + strspn(line, " \t");
    if (!*text && t->use != USE_COMMAND) {
        tui_message(t, false, "nothing typed: nothing done");
        return;
    }
    switch (t->use) {
    case USE_COMMAND:
        if (*text)
            tui_run_command(t, text, false);
        break;
    case USE_SET: {
        char *end;
        double v = strtod(text, &end);
        if (end == text || (*end && strcmp(end, "%") != 0)) {
            tui_message(t, true, "a sparsity is a percentage from 0 to 99, got '%s'", text);
            break;
        }
        tui_set_selected(t, v / 100.0);
        break;
    }
    case USE_GLOBAL:
        snprintf(cmd, sizeof cmd, "global %s%s", text, strchr(text, '%') ? "" : "%");
        tui_run_command(t, cmd, true);
        break;
    case USE_AUTO:
        snprintf(cmd, sizeof cmd, "auto %s %s", t->auto_kind, text);
        tui_run_command(t, cmd, true);
        break;
    case USE_METHOD:
        snprintf(cmd, sizeof cmd, "method %zu %s", t->sel + 1, text);
        tui_run_command(t, cmd, true);
        break;
    case USE_EXPORT:
        snprintf(t->export_path, sizeof t->export_path, "%s", text);
        if (file_exists(t->export_path)) {
            t->ask = ASK_REPLACE;
            tui_message(t, false, "%s exists: replace it? (y/n)", t->export_path);
        } else {
            run_export(t, false);
        }
        break;
    }
}

void tui_answer(struct tui *t, int key)
{
    enum ask ask = t->ask;
    t->ask = ASK_NONE;
    switch (ask) {
    case ASK_NONE: break;
    case ASK_QUIT:
        if (key == 'y' || key == 'Y')
            t->quit = true;
        else
            tui_message(t, false, "not quitting");
        break;
    case ASK_REPLACE:
        if (key == 'y' || key == 'Y')
            run_export(t, true);
        else
            tui_message(t, false, "%s kept as it was", t->export_path);
        break;
    case ASK_AUTO_KIND: {
        static const struct {
            int key;
            const char *option, *label, *initial;
        } kinds[] = {
            {'p', "--params", "auto: remove at least (weights, or a %): ", "80%"},
            {'b', "--bytes", "auto: weights at most (bytes): ", ""},
            {'l', "--latency", "auto: estimated latency at most (ms, or a % of dense): ", "50%"},
            {'e', "--energy", "auto: energy per inference at most (uJ, or a % of dense): ", "50%"},
            {'d', "--max-drop", "auto: predicted accuracy drop at most (%): ", "1%"},
        };
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            if (key == kinds[i].key) {
                snprintf(t->auto_kind, sizeof t->auto_kind, "%s", kinds[i].option);
                tui_open_prompt(t, USE_AUTO, kinds[i].label, kinds[i].initial);
                return;
            }
        tui_message(t, false, "auto: nothing done");
        break;
    }
    case ASK_EXPORT_KIND: {
        static const struct {
            int key;
            const char *kind, *file;
        } kinds[] = {
            {'c', "config", "prunescope-config.json"}, {'m', "model", "pruned.onnx"},
            {'t', "recipe torch", "prune_recipe.py"},  {'n', "recipe nni", "nni_config.json"},
            {'v', "curve", "sensitivity.csv"},
        };
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
            if (key == kinds[i].key) {
                snprintf(t->export_kind, sizeof t->export_kind, "%s", kinds[i].kind);
                char label[64];
                snprintf(label, sizeof label, "export %s to: ", kinds[i].kind);
                tui_open_prompt(t, USE_EXPORT, label, kinds[i].file);
                return;
            }
        tui_message(t, false, "export: nothing written");
        break;
    }
    }
}

/* The background measurement: take its result when it is for the configuration shown. */
static void poll_worker(struct tui *t)
{
    if (!t->measuring)
        return;
    struct worker_result r;
    enum worker_state st = worker_poll(t->worker, &r);
    if (st == WORKER_RUNNING || st == WORKER_IDLE)
        return;
    t->measuring = false;
    if (r.tag != t->gen)
        return;
    if (st == WORKER_DONE) {
        t->measured = r.m;
        t->measured_ms = r.elapsed_ms;
        t->have_measured = true;
        t->measured_gen = r.tag;
        if (all_dense(&t->snap))
            t->baseline_measured = r.m.accuracy;
        struct prediction p;
        struct err why;
        struct analysis_subject sub;
        session_subject(t->s, &sub);
        if (predict_config(&sub, &p, &why) == 0) {
            predict_learn(&t->s->pred, &p, r.m.accuracy);
            refresh_snapshot(t);
        }
        if (t->replay_log) {
            t->want_meas_log = true;
            t->want_meas_gen = r.tag;
        }
    } else if (st == WORKER_FAILED) {
        snprintf(t->measure_error, sizeof t->measure_error, "%s", r.err.msg);
    }
}

/* Replay: one key per line, "MS KEY" (milliseconds from the start; KEY a character, a
 * name such as right, left, shift-right, up, down, pgup, pgdn, home, end, enter, esc, tab,
 * ctrl-r, or text:WORDS to type). KEY idle waits until no command and no measurement runs;
 * the keys after it keep their spacing, shifted by the wait. */
#define REPLAY_IDLE (-2)

struct replay {
    FILE *f;
    double at_ms, shift_ms;
    int keys[256];
    int n_keys, next;
    size_t lineno;
    bool have, done;
    char name[32];
};

static int key_code(const char *name, int *keys, int cap)
{
    static const struct {
        const char *name;
        int key;
    } named[] = {
        {"right", KEY_RIGHT},
        {"left", KEY_LEFT},
        {"up", KEY_UP},
        {"down", KEY_DOWN},
        {"shift-right", KEY_SRIGHT},
        {"shift-left", KEY_SLEFT},
        {"pgup", KEY_PPAGE},
        {"pgdn", KEY_NPAGE},
        {"home", KEY_HOME},
        {"end", KEY_END},
        {"enter", '\n'},
        {"esc", 27},
        {"tab", '\t'},
        {"ctrl-r", 18},
        {"space", ' '},
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strcmp(name, named[i].name) == 0) {
            keys[0] = named[i].key;
            return 1;
        }
    if (strcmp(name, "idle") == 0) {
        keys[0] = REPLAY_IDLE;
        return 1;
    }
    if (strncmp(name, "text:", 5) == 0) {
        int n = 0;
        for (const char *p = name + 5; *p && n < cap; p++)
            keys[n++] = (unsigned char)*p;
        return n;
    }
    if (name[0] && !name[1]) {
        keys[0] = (unsigned char)name[0];
        return 1;
    }
    return -1;
}

static int replay_next(struct replay *r, struct err *err)
{
    char line[512];
    while (fgets(line, sizeof line, r->f)) {
        size_t lineno = ++r->lineno;
        line[strcspn(line, "\n")] = '\0';
        char *p = line + strspn(line, " \t");
        if (!*p || *p == '#')
            continue;
        char *end;
        double ms = strtod(p, &end);
        if (end == p || (*end != ' ' && *end != '\t'))
            return err_set(err, "replay line %zu: expected 'MS KEY', got '%s'", lineno, line);
        end += strspn(end, " \t");
        int n = key_code(end, r->keys, 256);
        if (n < 0)
            return err_set(err, "replay line %zu: unknown key '%s'", lineno, end);
        r->at_ms = ms;
        r->n_keys = n;
        r->next = 0;
        r->have = true;
        snprintf(r->name, sizeof r->name, "%s", end);
        return 0;
    }
    r->have = false;
    r->done = true;
    return 0;
}

static void setup_colors(struct tui *t)
{
    const char *no_color = getenv("NO_COLOR");
    t->color = has_colors() && !(no_color && *no_color);
    if (!t->color)
        return;
    start_color();
    use_default_colors();
    init_pair(1, COLOR_BLACK, COLOR_CYAN);  /* header */
    init_pair(2, COLOR_GREEN, -1);          /* filled slider, fits */
    init_pair(3, COLOR_RED, -1);            /* errors, does not fit */
    init_pair(4, COLOR_YELLOW, -1);         /* the guided curve, the mark */
    init_pair(5, COLOR_CYAN, -1);           /* the uniform curve, sparklines */
    init_pair(6, COLOR_MAGENTA, -1);        /* the selected layer's group */
    init_pair(7, COLOR_BLACK, COLOR_WHITE); /* the selected row */
}

static void handle_key(struct tui *t, int key)
{
    if (key == KEY_RESIZE)
        return;
    if (key == KEY_MOUSE) {
        keys_dispatch(t, key);
        return;
    }
    if (COLS < TUI_MIN_COLS || LINES < TUI_MIN_ROWS) {
        /* Nothing shows what other keys would do: only quitting, and its question. */
        if (t->ask == ASK_QUIT)
            tui_answer(t, key);
        else if (key == 'q' || key == 'Q')
            keys_dispatch(t, key);
        return;
    }
    if (t->pager) {
        int h = LINES - 3;
        if (key == KEY_DOWN || key == 'j')
            t->pager_top += t->pager_top + (size_t)h < t->pager_n;
        else if (key == KEY_UP || key == 'k')
            t->pager_top -= t->pager_top > 0;
        else if (key == KEY_NPAGE || key == ' ')
            t->pager_top = t->pager_top + 2 * (size_t)h < t->pager_n
                               ? t->pager_top + (size_t)h
                               : (t->pager_n > (size_t)h ? t->pager_n - (size_t)h : 0);
        else if (key == KEY_PPAGE)
            t->pager_top = t->pager_top > (size_t)h ? t->pager_top - (size_t)h : 0;
        else {
            for (size_t i = 0; i < t->pager_n; i++)
                free(t->pager[i]);
            free(t->pager);
            t->pager = NULL;
            t->pager_n = 0;
        }
        return;
    }
    if (prompt_active()) {
        prompt_key(key);
        bool cancelled;
        char *line = prompt_take(&cancelled);
        if (line) {
            prompt_finished(t, line);
            free(line);
        } else if (cancelled) {
            tui_message(t, false, "cancelled");
        }
        return;
    }
    if (t->ask != ASK_NONE) {
        tui_answer(t, key);
        return;
    }
    if (job_busy(t->job) && (key == 27 || key == 3)) {
        *t->interrupted = 1;
        tui_message(t, false, "cancelling %s...", t->last_command);
        return;
    }
    keys_dispatch(t, key);
}

static void log_drawn(struct tui *t)
{
    double now = (timer_now_s() - t->replay_t0) * 1e3;
    if (t->want_pred_log) {
        fprintf(t->replay_log, "predicted %s key_ms=%.3f drawn_ms=%.3f\n", t->key_name, t->key_time,
                now);
        t->want_pred_log = false;
    }
    if (t->want_meas_log) {
        fprintf(t->replay_log, "measured %s key_ms=%.3f drawn_ms=%.3f gen=%llu\n", t->key_name,
                t->key_time, now, (unsigned long long)t->want_meas_gen);
        t->want_meas_log = false;
    }
    fflush(t->replay_log);
}

int tui_run(struct cmd_ctx *c, volatile sig_atomic_t *interrupted, const struct tui_options *o,
            struct err *err)
{
    struct tui *t = calloc(1, sizeof *t);
    if (!t)
        return err_oom(err, "screen", sizeof *t);
    t->c = c;
    t->s = c->s;
    t->interrupted = interrupted;
    t->baseline_measured = NAN;
    struct replay rp = {0};
    int rc = 0;
    if (o && o->replay) {
        rp.f = fopen(o->replay, "r");
        if (!rp.f) {
            free(t);
            return err_set(err, "%s: cannot read the replay file", o->replay);
        }
        t->replay_log = o->replay_log ? fopen(o->replay_log, "w") : stderr;
        if (!t->replay_log || replay_next(&rp, err) < 0) {
            if (!t->replay_log)
                err_set(err, "%s: cannot write the replay log", o->replay_log);
            fclose(rp.f);
            free(t);
            return -1;
        }
    }
    if (!(t->worker = worker_new(t->s, err)) || !(t->job = job_new(t->s, err))) {
        worker_free(t->worker);
        if (rp.f)
            fclose(rp.f);
        free(t);
        return -1;
    }

    setlocale(LC_ALL, "");
    setlocale(LC_NUMERIC, "C"); /* numbers in commands and output keep their '.' */
    const char *codeset = nl_langinfo(CODESET);
    t->unicode = codeset && strcmp(codeset, "UTF-8") == 0;
    have_termios = tcgetattr(STDIN_FILENO, &saved_termios) == 0;
    install_signals();
    if (!initscr()) {
        restore_signals();
        job_free(t->job);
        worker_free(t->worker);
        free(t);
        return err_set(err, "cannot start the screen (TERM=%s)", getenv("TERM"));
    }
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    setup_colors(t);
    mmask_t got = mousemask(BUTTON1_PRESSED | BUTTON1_RELEASED | BUTTON1_CLICKED |
                                REPORT_MOUSE_POSITION | BUTTON4_PRESSED | BUTTON5_PRESSED,
                            NULL);
    t->mouse = got != 0;
    if (t->mouse) {
        mouseinterval(0);
        /* Button-event tracking: drags on a slider report the pointer as it moves. */
        fputs("\033[?1002h", stdout);
        fflush(stdout);
    }
    prompt_setup(c);

    t->fingerprint = fingerprint(t->s);
    refresh_snapshot(t);
    start_measuring(t);
    tui_message(t, false, "%s", t->snap.have_model ? "? lists the keys" : "no model: use :load");
    t->replay_t0 = timer_now_s();

    while (!t->quit && !terminate) {
        if (job_busy(t->job) && job_wait(t->job, 0))
            finish_job(t);
        poll_worker(t);
        if (*interrupted && !job_busy(t->job)) {
            *interrupted = 0;
            if (tui_unexported(t)) {
                t->ask = ASK_QUIT;
                tui_message(t, false, "the configuration was not exported: quit anyway? (y/n)");
            } else {
                t->quit = true;
            }
        }
        draw_frame(t);
        if (t->replay_log)
            log_drawn(t);
        if (t->quit)
            break;
        int key;
        if (rp.f) {
            double now = (timer_now_s() - t->replay_t0) * 1e3;
            timeout(0);
            key = getch(); /* resizes and the like still arrive */
            if (key == ERR && rp.have && now >= rp.at_ms + rp.shift_ms &&
                rp.keys[rp.next] == REPLAY_IDLE) {
                if (!job_busy(t->job) && !t->measuring) {
                    rp.shift_ms = now - rp.at_ms;
                    rp.next++;
                    if (rp.next == rp.n_keys && replay_next(&rp, err) < 0) {
                        rc = -1;
                        break;
                    }
                } else {
                    napms(1);
                }
                continue;
            }
            if (key == ERR && rp.have && now >= rp.at_ms + rp.shift_ms) {
                key = rp.keys[rp.next++];
                t->key_time = now;
                snprintf(t->key_name, sizeof t->key_name, "%s", rp.name);
                if (rp.next == rp.n_keys && replay_next(&rp, err) < 0) {
                    rc = -1;
                    break;
                }
            } else if (key == ERR) {
                napms(1);
                if (rp.done && !job_busy(t->job) && !t->measuring)
                    t->quit = true; /* the script is over and nothing runs */
                continue;
            }
        } else {
            timeout(job_busy(t->job) || t->measuring ? 50 : 250);
            key = getch();
        }
        if (key != ERR)
            handle_key(t, key);
    }

    worker_cancel(t->worker);
    if (job_busy(t->job)) {
        *interrupted = 1;
        job_wait(t->job, 60000);
    }
    if (t->mouse) {
        fputs("\033[?1002l", stdout);
        fflush(stdout);
    }
    prompt_teardown();
    endwin();
    restore_signals();
    job_free(t->job);
    worker_free(t->worker);
    *interrupted = 0;
    if (rp.f)
        fclose(rp.f);
    if (t->replay_log && t->replay_log != stderr)
        fclose(t->replay_log);
    for (size_t i = 0; i < t->pager_n; i++)
        free(t->pager[i]);
    free(t->pager);
    snapshot_fini(&t->snap);
    free(t);
    return rc;
}
