/* A one-line prompt inside the screen, edited by GNU Readline through its callback
 * interface: the screen hands it each key, Readline keeps the line, its history and its
 * completion, and the screen draws the line. Not the command table (the `:` prompt's
 * completion is the REPL's) and not running what was typed. */
#ifndef PRUNESCOPE_TUI_PROMPT_H
#define PRUNESCOPE_TUI_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "commands/command.h"

enum prompt_complete {
    PROMPT_COMPLETE_NONE,
    PROMPT_COMPLETE_COMMAND, /* commands, then their arguments, as in the REPL */
    PROMPT_COMPLETE_FILE,
};

/* Set Readline up for use inside the screen (no terminal handling, no signals, no
 * output) and read the REPL's history file. Once per screen. */
void prompt_setup(struct cmd_ctx *c);
/* Write the history back. */
void prompt_teardown(void);

/* Start editing: label shown before the line, initial text (may be NULL). */
void prompt_open(const char *label, const char *initial, enum prompt_complete complete);
bool prompt_active(void);
/* Feed one key of getch (KEY_* codes included). Esc cancels. */
void prompt_key(int key);
/* After Enter: the line (caller frees), and the prompt closes; NULL while editing or when
 * it was cancelled (then *cancelled is true). */
char *prompt_take(bool *cancelled);

/* What to draw: the label, the line, the cursor's byte offset in it, and the candidates
 * the last Tab listed ("" when none). */
const char *prompt_label(void);
const char *prompt_text(size_t *cursor);
const char *prompt_matches(void);

#endif
