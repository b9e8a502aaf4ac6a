/* The REPL on GNU Readline's callback interface, so a SIGINT can be handled between
 * characters: it drops the line being typed, or (through the session's cancel flag) stops
 * the command that is running. Not command parsing. */
#include "repl/repl.h"

#include <errno.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>

/* Readline's callbacks take no user data, so the loop's state lives here for the length of
 * one repl_run call. */
static struct {
    struct cmd_ctx *c;
    volatile sig_atomic_t *interrupted;
    char history_path[4096];
    bool have_history;
    bool eof;
    int failed;
} R;

/* Completion's state, shared with the screen's prompt. */
static struct cmd_ctx *completion_ctx;
static enum repl_complete_mode completion_mode = REPL_COMPLETE_COMMANDS;

int repl_history_path(char *buf, size_t size)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (state && state[0] == '/')
        snprintf(buf, size, "%s/prunescope/history", state);
    else if (home && home[0])
        snprintf(buf, size, "%s/.local/state/prunescope/history", home);
    else
        return -1;
    return 0;
}

/* mkdir -p of the directory part of path. */
static void make_parent_dirs(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    }
    mkdir(dir, 0700);
}

static char *command_generator(const char *text, int state)
{
    static size_t i;
    if (state == 0)
        i = 0;
    size_t len = strlen(text);
    while (i < cmd_count()) {
        const struct cmd_def *d = cmd_at(i++);
        if (strncmp(d->name, text, len) == 0)
            return strdup(d->name);
    }
    return NULL;
}

static char *layer_generator(const char *text, int state)
{
    static size_t i;
    if (state == 0)
        i = 0;
    const struct layer_list *ll = &completion_ctx->s->layers;
    size_t len = strlen(text);
    while (i < ll->count) {
        const struct layer *l = &ll->items[i++];
        if (strncmp(l->name, text, len) == 0)
            return strdup(l->name);
    }
    return NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    if (completion_mode == REPL_COMPLETE_FILES)
        return NULL; /* readline's own file name completion */
    if (completion_mode == REPL_COMPLETE_NOTHING) {
        rl_attempted_completion_over = 1;
        return NULL;
    }
    /* The first word is the command. */
    const char *line = rl_line_buffer;
    size_t skip = strspn(line, " \t");
    if ((size_t)start <= skip) {
        rl_attempted_completion_over = 1;
        return rl_completion_matches(text, command_generator);
    }
    char name[64];
    size_t n = strcspn(line + skip, " \t");
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), line + skip);
    const struct cmd_def *d = cmd_find(name);
    if (d && d->complete == CMD_COMPLETE_FILE)
        return NULL; /* readline's own file name completion */
    rl_attempted_completion_over = 1;
    if (d && d->complete == CMD_COMPLETE_LAYER)
        return rl_completion_matches(text, layer_generator);
    if (d && d->complete == CMD_COMPLETE_COMMAND)
        return rl_completion_matches(text, command_generator);
    return NULL;
}

void repl_completion(struct cmd_ctx *c)
{
    completion_ctx = c;
    completion_mode = REPL_COMPLETE_COMMANDS;
    rl_attempted_completion_function = complete;
}

void repl_completion_mode(enum repl_complete_mode mode)
{
    completion_mode = mode;
}

static void on_line(char *line)
{
    if (!line) {
        R.eof = true;
        fputc('\n', stdout);
        return;
    }
    /* Completion leaves a space after a word; the history keeps the command itself. */
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        line[--len] = '\0';
    if (line[strspn(line, " \t")] != '\0') {
        add_history(line);
        if (R.have_history)
            append_history(1, R.history_path);
    }
    *R.interrupted = 0;
    struct err err;
    if (cmd_run_line(R.c, line, &err) < 0)
        R.failed++;
    *R.interrupted = 0;
    free(line);
    if (R.c->s->quit)
        rl_callback_handler_remove();
}

int repl_run(struct cmd_ctx *c, volatile sig_atomic_t *interrupted)
{
    memset(&R, 0, sizeof R);
    R.c = c;
    R.interrupted = interrupted;
    rl_readline_name = "prunescope";
    rl_catch_signals = 0;
    repl_completion(c);
    using_history();
    if (repl_history_path(R.history_path, sizeof R.history_path) == 0) {
        make_parent_dirs(R.history_path);
        FILE *f = fopen(R.history_path, "a");
        if (f) {
            fclose(f);
            R.have_history = true;
            read_history(R.history_path);
        }
    }
    rl_callback_handler_install("prunescope> ", on_line);
    while (!R.eof && !c->s->quit) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fileno(rl_instream), &fds);
        int r = select(fileno(rl_instream) + 1, &fds, NULL, NULL, NULL);
        if (r < 0 && errno == EINTR) {
            if (*interrupted) {
                /* Ctrl-C at the prompt: drop what was typed, show a fresh prompt. */
                *interrupted = 0;
                rl_free_line_state();
                rl_callback_sigcleanup();
                rl_crlf();
                rl_replace_line("", 0);
                rl_on_new_line();
                rl_redisplay();
            }
            continue;
        }
        if (r < 0)
            break;
        rl_callback_read_char();
    }
    if (!c->s->quit)
        rl_callback_handler_remove();
    if (R.have_history)
        history_truncate_file(R.history_path, 1000);
    return R.failed;
}
