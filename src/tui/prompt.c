/* prompt.h: Readline's callback interface with its input, output and redisplay turned
 * over to the screen. Readline's state is global, and so is this module's: the screen has
 * one prompt. */
#include "tui/prompt.h"

#include <curses.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/repl.h"

static struct {
    bool active, done, cancelled;
    int key;
    bool have_key;
    char *line;
    char label[128];
    char matches[512];
    char history_path[4096];
    bool have_history;
    FILE *sink;
} P;

static int getc_hook(FILE *f)
{
    (void)f;
    P.have_key = false;
    return P.key;
}

static int input_available(void)
{
    return P.have_key;
}

static void redisplay(void)
{
    /* The screen draws rl_line_buffer itself. */
}

static void no_prep(int meta)
{
    (void)meta;
}

static void no_deprep(void) {}

/* Tab with several candidates: keep them for the status line instead of printing. */
static void show_matches(char **matches, int n, int longest)
{
    (void)longest;
    size_t used = 0;
    P.matches[0] = '\0';
    for (int i = 1; i <= n && used + 1 < sizeof P.matches; i++)
        used += (size_t)snprintf(P.matches + used, sizeof P.matches - used, "%s%s",
                                 i > 1 ? "  " : "", matches[i]);
}

static void on_line(char *line)
{
    P.line = line;
    P.done = true;
    P.active = false;
    rl_callback_handler_remove();
}

void prompt_setup(struct cmd_ctx *c)
{
    memset(&P, 0, sizeof P);
    rl_readline_name = "prunescope";
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_prep_term_function = no_prep;
    rl_deprep_term_function = no_deprep;
    rl_getc_function = getc_hook;
    rl_input_available_hook = input_available;
    rl_redisplay_function = redisplay;
    rl_completion_display_matches_hook = show_matches;
    P.sink = fopen("/dev/null", "w");
    if (P.sink)
        rl_outstream = P.sink;
    repl_completion(c);
    using_history();
    if (repl_history_path(P.history_path, sizeof P.history_path) == 0) {
        FILE *f = fopen(P.history_path, "r");
        if (f) {
            fclose(f);
            P.have_history = true;
            read_history(P.history_path);
        }
    }
}

void prompt_teardown(void)
{
    if (P.active)
        rl_callback_handler_remove();
    free(P.line);
    P.line = NULL;
    if (P.have_history)
        history_truncate_file(P.history_path, 1000);
    rl_outstream = NULL;
    if (P.sink)
        fclose(P.sink);
    P.sink = NULL;
}

void prompt_open(const char *label, const char *initial, enum prompt_complete complete)
{
    free(P.line);
    P.line = NULL;
    P.done = P.cancelled = false;
    P.matches[0] = '\0';
    snprintf(P.label, sizeof P.label, "%s", label);
    repl_completion_mode(complete == PROMPT_COMPLETE_COMMAND ? REPL_COMPLETE_COMMANDS
                         : complete == PROMPT_COMPLETE_FILE  ? REPL_COMPLETE_FILES
                                                             : REPL_COMPLETE_NOTHING);
    rl_callback_handler_install("", on_line);
    if (initial && *initial) {
        rl_insert_text(initial);
        rl_point = rl_end;
    }
    P.active = true;
}

bool prompt_active(void)
{
    return P.active;
}

static void feed(int ch)
{
    P.key = ch;
    P.have_key = true;
    rl_callback_read_char();
}

void prompt_key(int key)
{
    if (!P.active)
        return;
    if (key != '\t')
        P.matches[0] = '\0';
    switch (key) {
    case 27: /* Esc */
        rl_callback_handler_remove();
        P.active = false;
        P.cancelled = true;
        return;
    case KEY_ENTER:
    case '\n': feed('\r'); break;
    case KEY_LEFT: rl_backward_char(1, 0); break;
    case KEY_RIGHT: rl_forward_char(1, 0); break;
    case KEY_HOME: rl_beg_of_line(1, 0); break;
    case KEY_END: rl_end_of_line(1, 0); break;
    case KEY_UP: rl_get_previous_history(1, 0); break;
    case KEY_DOWN: rl_get_next_history(1, 0); break;
    case KEY_DC: rl_delete(1, 0); break;
    case KEY_BACKSPACE:
    case 8: rl_rubout(1, 0); break;
    default:
        if (key >= 0 && key < 256)
            feed(key);
        break;
    }
}

char *prompt_take(bool *cancelled)
{
    *cancelled = P.cancelled;
    if (!P.done)
        return NULL;
    P.done = false;
    char *line = P.line;
    P.line = NULL;
    if (line) {
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        if (line[strspn(line, " \t")] && P.label[0] == ':') {
            add_history(line);
            if (P.have_history)
                append_history(1, P.history_path);
        }
    } else {
        *cancelled = true;
    }
    return line;
}

const char *prompt_label(void)
{
    return P.label;
}

const char *prompt_text(size_t *cursor)
{
    *cursor = P.active && rl_line_buffer ? (size_t)rl_point : 0;
    return P.active && rl_line_buffer ? rl_line_buffer : "";
}

const char *prompt_matches(void)
{
    return P.matches;
}
