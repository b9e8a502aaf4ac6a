/* help, history and quit: commands about the session itself. */
#include <stdio.h>
#include <string.h>

#include "commands/command.h"

static int help_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc > 2)
        return err_set(err, "usage: %s", cmd_help.usage);
    if (argc == 2) {
        const struct cmd_def *d = cmd_find(argv[1]);
        if (!d)
            return err_set(err, "no command '%s' (help lists the commands)", argv[1]);
        out_printf(c->o, "usage: %s\n%s.\n\n%s\n", d->usage, d->summary, d->help);
        out_set(c->o, "name", json_string(d->name));
        out_set(c->o, "usage", json_string(d->usage));
        out_set(c->o, "summary", json_string(d->summary));
        out_set(c->o, "help", json_string(d->help));
        return 0;
    }
    json_t *arr = json_array();
    out_printf(c->o, "Commands (help CMD for details):\n");
    for (size_t i = 0; i < cmd_count(); i++) {
        const struct cmd_def *d = cmd_at(i);
        out_printf(c->o, "  %-9s %s\n", d->name, d->summary);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "name", d->name, "usage", d->usage,
                                             "summary", d->summary));
    }
    out_set(c->o, "commands", arr);
    return 0;
}

static int history_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc != 1)
        return err_set(err, "usage: %s", cmd_history.usage);
    json_t *arr = json_array();
    for (size_t i = 0; i < c->s->n_history; i++) {
        out_printf(c->o, "%5zu  %s\n", i + 1, c->s->history[i]);
        json_array_append_new(arr, json_string(c->s->history[i]));
    }
    out_set(c->o, "history", arr);
    return 0;
}

static int quit_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc != 1)
        return err_set(err, "usage: %s", cmd_quit.usage);
    c->s->quit = true;
    return 0;
}

const struct cmd_def cmd_help = {
    .name = "help",
    .usage = "help [COMMAND]",
    .summary = "list the commands, or explain one",
    .help = "Without an argument, one line per command; with one, its usage and details.",
    .complete = CMD_COMPLETE_COMMAND,
    .run = help_run,
};

const struct cmd_def cmd_history = {
    .name = "history",
    .usage = "history",
    .summary = "list the commands run in this session",
    .help = "The REPL also keeps its line history across sessions in\n"
            "$XDG_STATE_HOME/prunescope/history (~/.local/state when unset).",
    .complete = CMD_COMPLETE_NONE,
    .run = history_run,
};

const struct cmd_def cmd_quit = {
    .name = "quit",
    .usage = "quit",
    .summary = "leave prunescope (Ctrl-D does the same in the REPL)",
    .help = "In a script, the commands after quit are not run.",
    .complete = CMD_COMPLETE_NONE,
    .run = quit_run,
};
