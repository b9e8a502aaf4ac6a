/* The command table, the tokenizer, and running lines and scripts through the output
 * sink. Not any one command (cmd_*.c). */
#include "commands/command.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cmd_def *const COMMANDS[] = {
    &cmd_load,        &cmd_data,   &cmd_info,   &cmd_layers,  &cmd_eval,     &cmd_set,
    &cmd_method,      &cmd_global, &cmd_undo,   &cmd_redo,    &cmd_reset,    &cmd_storage,
    &cmd_sensitivity, &cmd_auto,   &cmd_curve,  &cmd_profile, &cmd_estimate, &cmd_calibrate,
    &cmd_bench,       &cmd_finetune, &cmd_iterate, &cmd_reconstruct, &cmd_export, &cmd_import, &cmd_help,    &cmd_history,  &cmd_quit,
};

#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

const struct cmd_def *cmd_find(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(COMMANDS[i]->name, name) == 0)
            return COMMANDS[i];
    return NULL;
}

size_t cmd_count(void)
{
    return N_COMMANDS;
}

const struct cmd_def *cmd_at(size_t i)
{
    return i < N_COMMANDS ? COMMANDS[i] : NULL;
}

void cmd_free_words(int argc, char **argv)
{
    if (!argv)
        return;
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}

int cmd_split_words(const char *line, int *argc, char ***argv, struct err *err)
{
    size_t len = strlen(line);
    /* No line has more words than half its characters plus one. */
    char **words = calloc(len / 2 + 2, sizeof *words);
    char *buf = malloc(len + 1);
    int n = 0;
    if (!words || !buf) {
        free(words);
        free(buf);
        return err_oom(err, "command line", len);
    }
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p || *p == '#')
            break;
        size_t used = 0;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            if (*p == '\'' || *p == '"') {
                char q = *p++;
                while (*p && *p != q) {
                    if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
                        p++;
                    buf[used++] = *p++;
                }
                if (!*p) {
                    free(buf);
                    cmd_free_words(n, words);
                    return err_set(err, "unterminated %s quote", q == '"' ? "double" : "single");
                }
                p++;
            } else if (*p == '\\' && p[1]) {
                buf[used++] = p[1];
                p += 2;
            } else {
                buf[used++] = *p++;
            }
        }
        buf[used] = '\0';
        if (!(words[n] = strdup(buf))) {
            free(buf);
            cmd_free_words(n, words);
            return err_oom(err, "command line", used);
        }
        n++;
    }
    free(buf);
    *argc = n;
    *argv = words;
    return 0;
}

/* "did you mean" for an unknown command: the commands it is a prefix of. */
static void unknown_command(const char *name, struct err *err)
{
    char hint[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strncmp(COMMANDS[i]->name, name, strlen(name)) == 0 && used < sizeof hint)
            used += (size_t)snprintf(hint + used, sizeof hint - used, "%s%s",
                                     used ? ", " : "; did you mean ", COMMANDS[i]->name);
    err_set(err, "unknown command '%s'%s (help lists the commands)", name, hint);
}

int cmd_run_line(struct cmd_ctx *c, const char *line, struct err *err)
{
    int argc;
    char **argv;
    err_clear(err);
    if (cmd_split_words(line, &argc, &argv, err) < 0) {
        out_begin(c->o);
        out_end(c->o, "?", err->msg);
        return -1;
    }
    if (argc == 0) {
        cmd_free_words(argc, argv);
        return 0;
    }
    int rc = cmd_run_argv(c, argc, argv, err);
    cmd_free_words(argc, argv);
    return rc;
}

int cmd_run_argv(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    err_clear(err);
    const struct cmd_def *def = cmd_find(argv[0]);
    out_begin(c->o);
    int rc;
    if (!def) {
        unknown_command(argv[0], err);
        rc = -1;
    } else {
        if (strcmp(def->name, "history") != 0) {
            /* The history holds the command as it could be typed again. */
            char line[4096];
            size_t used = 0;
            for (int i = 0; i < argc && used + 2 < sizeof line; i++) {
                if (i)
                    line[used++] = ' ';
                cmd_quote_word(argv[i], line + used, sizeof line - used);
                used += strlen(line + used);
            }
            line[used < sizeof line ? used : sizeof line - 1] = '\0';
            struct err ignored;
            session_add_history(c->s, line, &ignored);
        }
        rc = def->run(c, argc, argv, err);
        if (rc < 0 && err->msg[0] == '\0')
            err_set(err, "failed");
    }
    out_end(c->o, argv[0], rc < 0 ? err->msg : NULL);
    return rc;
}

int cmd_run_script(struct cmd_ctx *c, const char *text, const char *where, bool keep_going)
{
    int failed = 0;
    size_t line_no = 1, len = strlen(text);
    char *cmd = malloc(len + 1);
    if (!cmd) {
        fprintf(c->o->diag, "prunescope: %s: out of memory\n", where);
        return -1;
    }
    const char *p = text;
    while (*p && !c->s->quit) {
        /* One command: up to ';' or a newline outside quotes, or a comment. */
        size_t used = 0, start_line = line_no;
        char quote = 0;
        bool comment = false;
        for (; *p; p++) {
            if (comment) {
                if (*p == '\n')
                    break;
                continue;
            }
            if (quote) {
                if (*p == '\\' && quote == '"' && p[1]) {
                    cmd[used++] = *p++;
                } else if (*p == quote) {
                    quote = 0;
                }
            } else if (*p == '\'' || *p == '"') {
                quote = *p;
            } else if (*p == '#') {
                comment = true;
                continue;
            } else if (*p == ';' || *p == '\n') {
                break;
            } else if (*p == '\\' && p[1]) {
                cmd[used++] = *p++;
            }
            if (*p == '\n')
                line_no++;
            cmd[used++] = *p;
        }
        cmd[used] = '\0';
        if (*p == '\n')
            line_no++;
        if (*p)
            p++;
        struct err err;
        if (where)
            snprintf(c->o->where, sizeof c->o->where, "%s:%zu", where, start_line);
        int rc = cmd_run_line(c, cmd, &err);
        c->o->where[0] = '\0';
        if (rc < 0) {
            failed++;
            if (!keep_going)
                break;
        }
    }
    free(cmd);
    return failed;
}

bool cmd_parse_int(const char *text, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

const char *cmd_count_text(double v, char *buf, size_t size)
{
    if (v < 9999.5)
        snprintf(buf, size, "%.0f", v);
    else if (v < 999950.0)
        snprintf(buf, size, "%.1fk", v / 1e3);
    else if (v < 999.95e6)
        snprintf(buf, size, "%.2fM", v / 1e6);
    else
        snprintf(buf, size, "%.2fG", v / 1e9);
    return buf;
}

void cmd_quote_word(const char *word, char *buf, size_t size)
{
    if (size == 0)
        return;
    bool plain = word[0] && strpbrk(word, " \t'\";#\\") == NULL;
    if (plain || !strchr(word, '\'')) {
        snprintf(buf, size, plain ? "%s" : "'%s'", word);
        return;
    }
    /* A single quote inside: every special character escaped instead. */
    size_t n = 0;
    for (const char *p = word; *p && n + 2 < size; p++) {
        if (strchr(" \t'\";#\\", *p))
            buf[n++] = '\\';
        buf[n++] = *p;
    }
    buf[n] = '\0';
}
