/* The command language shared by the REPL, batch mode and (later) the TUI: one table of
 * commands (name, usage, help, completion, run function), the tokenizer, and running a
 * line or a script. Not reading input (repl/, main.c) and not the work itself (session/). */
#ifndef PRUNESCOPE_COMMANDS_COMMAND_H
#define PRUNESCOPE_COMMANDS_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "commands/output.h"
#include "core/err.h"
#include "session/session.h"

struct cmd_ctx {
    struct session *s;
    struct out *o;
};

/* What a command's arguments complete to in the REPL. */
enum cmd_complete {
    CMD_COMPLETE_NONE,
    CMD_COMPLETE_FILE,
    CMD_COMPLETE_LAYER,
    CMD_COMPLETE_COMMAND,
};

struct cmd_def {
    const char *name;
    const char *usage;   /* "data FILE.csv [--label COL] ..." */
    const char *summary; /* one line */
    const char *help;    /* paragraphs after the usage line */
    enum cmd_complete complete;
    /* argv[0] is the command name. Fills c->o; returns 0, or -1 with err set. */
    int (*run)(struct cmd_ctx *c, int argc, char **argv, struct err *err);
};

const struct cmd_def *cmd_find(const char *name);
size_t cmd_count(void);
const struct cmd_def *cmd_at(size_t i);

/* Split a line into words: blanks separate, '...' and "..." quote, backslash escapes the
 * next character (outside single quotes). *argv (malloc'd, with the words) is freed by
 * cmd_free_words. Fails on an unterminated quote. */
int cmd_split_words(const char *line, int *argc, char ***argv, struct err *err);
void cmd_free_words(int argc, char **argv);
/* word as cmd_split_words reads it back as one word: as it is when plain, else in single
 * quotes, else (a single quote inside) with backslashes. Truncated to size. */
void cmd_quote_word(const char *word, char *buf, size_t size);

/* Run one command line (no ';'): print its result or error through c->o and record it in
 * the history. Blank lines and comments (#...) do nothing. Returns 0 or -1 (the error has
 * been printed, and is also left in err). */
int cmd_run_line(struct cmd_ctx *c, const char *line, struct err *err);

/* Run one command given as words (argv[0] the name), as cmd_run_line does. */
int cmd_run_argv(struct cmd_ctx *c, int argc, char **argv, struct err *err);

/* Run a script: commands separated by newlines or ';' (outside quotes), '#' comments.
 * `where` (NULL: none) names the source in error messages, with the line of the
 * failing command ("script.txt:3: eval: ..."). Stops at the first failure unless keep_going, and
 * after quit. Returns the number of failed commands, or -1 when the script itself cannot be parsed.
 */
int cmd_run_script(struct cmd_ctx *c, const char *text, const char *where, bool keep_going);

/* Make sure the session has a complete sensitivity table: when it has none, run the
 * default sweep (usually from the cache) and say so in one line. For auto and curve. */
int cmd_need_sensitivity(struct cmd_ctx *c, struct err *err);

/* A node's name in tables: a layer's short display name, else the node's own. */
const char *cmd_node_name(const struct session *s, int node);

/* The cost model's totals as JSON keys of the command's object (profile, latency_ms,
 * energy_uj, inferences_per_mwh, flash_bytes, sram_bytes, fits_flash, fits_sram); each
 * null when p or e is NULL (no profiles). For estimate and eval. */
void cmd_set_estimate(struct cmd_ctx *c, const struct profile *p, const struct cost_estimate *e);

/* A count for people: 9999, 10.2k, 1.25M (tables and the screen). Returns buf. */
const char *cmd_count_text(double v, char *buf, size_t size);

/* A whole decimal integer in [lo, hi], nothing after it: the numeric options' values
 * (--top, --points, --rows). False otherwise; the caller names the option in its message. */
bool cmd_parse_int(const char *text, long long lo, long long hi, long long *out);

/* Commands of the table (one file each or per small family). */
extern const struct cmd_def cmd_load, cmd_data, cmd_info, cmd_layers, cmd_eval, cmd_set, cmd_method,
    cmd_global, cmd_undo, cmd_redo, cmd_reset, cmd_storage, cmd_sensitivity, cmd_auto, cmd_curve,
    cmd_finetune, cmd_iterate, cmd_reconstruct, cmd_export, cmd_import, cmd_profile, cmd_estimate, cmd_calibrate, cmd_bench, cmd_help,
    cmd_history, cmd_quit;

#endif
