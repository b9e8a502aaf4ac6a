/* The full-screen interface (ncursesw): the layer table with a slider per layer, the
 * metrics of the configuration, curves and a heat map, over the same session and command
 * table as the REPL. Every action is a command line of that table; the figures come from
 * the session and its background measurement. Not the commands and not the REPL. */
#ifndef PRUNESCOPE_TUI_TUI_H
#define PRUNESCOPE_TUI_TUI_H

#include <signal.h>

#include "commands/command.h"

struct tui_options {
    const char *replay;     /* keys with times to play instead of the keyboard, or NULL */
    const char *replay_log; /* where replay writes when figures were drawn (NULL: stderr) */
};

/* Runs the screen on the terminal until q. interrupted is the flag the program's SIGINT
 * handler sets (installed without SA_RESTART), which is also the session's cancel flag.
 * Returns 0, or -1 with err set when the screen could not start (no terminal, too old a
 * terminfo, a replay file that does not read). */
int tui_run(struct cmd_ctx *c, volatile sig_atomic_t *interrupted, const struct tui_options *o,
            struct err *err);

#endif
