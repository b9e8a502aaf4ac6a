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

/* Readline's completion as the REPL does it (commands, then file names, layer names or
 * commands as the command takes them), on c's session; for the screen's prompt too. */
void repl_completion(struct cmd_ctx *c);
enum repl_complete_mode {
    REPL_COMPLETE_COMMANDS, /* the command line (the default) */
    REPL_COMPLETE_FILES,    /* file names only */
    REPL_COMPLETE_NOTHING,
};
void repl_completion_mode(enum repl_complete_mode mode);

#endif
