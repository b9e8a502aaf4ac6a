/* The interactive front end: GNU Readline with history kept across sessions, completion of
 * commands, layer names and file paths, and Ctrl-C that cancels the running command or the
 * line being typed, never the program. Not the commands (commands/). */
#ifndef PRUNESCOPE_REPL_REPL_H
#define PRUNESCOPE_REPL_REPL_H

#include <signal.h>

#include "commands/command.h"

/* Reads and runs commands until quit or end of input. interrupted is the flag the
 * program's SIGINT handler sets (installed without SA_RESTART); the REPL clears it.
 * Returns the number of commands that failed. */
int repl_run(struct cmd_ctx *c, volatile sig_atomic_t *interrupted);

/* The history file: $XDG_STATE_HOME/prunescope/history, or ~/.local/state/prunescope/
 * history. Writes the path into buf; returns -1 when neither variable is set. */
int repl_history_path(char *buf, size_t size);

#endif
