/* The screen's state shared by its files (tui.c runs the loop and the actions, keys.c maps
 * keys to them, draw.c paints): what is selected and scrolled, what is being typed, the
 * last message, and the snapshot it draws from. Not part of any other layer's API. */
#ifndef PRUNESCOPE_TUI_SCREEN_H
#define PRUNESCOPE_TUI_SCREEN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "commands/command.h"
#include "session/worker.h"
#include "tui/job.h"
#include "tui/snapshot.h"

/* The smallest terminal the screen draws on. */
#define TUI_MIN_COLS 80
#define TUI_MIN_ROWS 24

/* What the panel beside (or under) the layer table shows. */
enum view {
    VIEW_METRICS,
    VIEW_CURVE,   /* size vs accuracy: uniform and guided */
    VIEW_LAYER,   /* the selected layer's accuracy vs sparsity */
    VIEW_HEATMAP, /* every layer x level */
    VIEW_COUNT,
};

/* What a key does while a question is open. */
enum ask {
    ASK_NONE,
    ASK_QUIT,       /* unexported changes: y quits */
    ASK_REPLACE,    /* the export's file exists: y replaces */
    ASK_AUTO_KIND,  /* p b l e d: which target auto takes */
    ASK_EXPORT_KIND /* c m t n v: what export writes */
};

/* What the open prompt's line becomes. */
enum prompt_use {
    USE_COMMAND, /* : a command line */
    USE_SET,     /* sparsity of the selected layer */
    USE_GLOBAL,
    USE_AUTO,
    USE_METHOD,
    USE_EXPORT,
};

struct tui {
    struct cmd_ctx *c;
    struct session *s;
    volatile sig_atomic_t *interrupted;
    struct worker *worker;
    struct job *job;
    struct snapshot snap;

    bool unicode, color, mouse;
    size_t sel, top;        /* selected layer and first row shown */
    int table_rows;         /* rows of layers the last frame showed */
    int table_y;            /* screen row of the first layer */
    int slider_x, slider_w; /* where the sliders are, for the mouse */
    enum view view;
    /* Output of the last `:` command when it had more than one line. */
    char **pager;
    size_t pager_n, pager_top;
    char pager_title[256];

    char count[16]; /* digits typed: a count for the arrows, or a value for Enter */
    bool count_active;

    char status[512];
    bool status_error;
    char last_command[256];

    enum ask ask;
    enum prompt_use use;
    char auto_kind[16];   /* --params ... for USE_AUTO */
    char export_kind[24]; /* config, model, recipe torch, ... for USE_EXPORT */
    char export_path[4096];

    /* The configuration's generation: bumped by every command that may change it. */
    uint64_t gen, exported_gen;
    uint64_t fingerprint; /* of the configuration measured last (tui.c) */
    bool measuring;
    bool have_measured;
    uint64_t measured_gen;
    struct metrics measured;
    double measured_ms;
    char measure_error[1024];
    double baseline_measured; /* accuracy with nothing pruned, measured at start; NaN */

    bool job_quiet; /* the running job's output goes to the status line only */
    bool quit;

    /* Replay: keys from a script at given times, and a log of when figures were drawn. */
    FILE *replay_log;
    double replay_t0;
    double key_time; /* when the key being served was read */
    char key_name[32];
    bool want_pred_log, want_meas_log;
    uint64_t want_meas_gen;
};

/* tui.c: the actions keys run. */
void tui_run_command(struct tui *t, const char *line, bool quiet);
void tui_message(struct tui *t, bool error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tui_select(struct tui *t, long delta);
void tui_move_slider(struct tui *t, double delta);
void tui_set_selected(struct tui *t, double sparsity);
void tui_open_prompt(struct tui *t, enum prompt_use use, const char *label, const char *initial);
void tui_answer(struct tui *t, int key);
/* Show text (lines) full screen until a key other than the scrolling ones. */
void tui_open_pager(struct tui *t, const char *title, const char *text);
/* The help: every key of keys.c, wrapped to the terminal's width. */
void tui_show_help(struct tui *t);
bool tui_job_running(struct tui *t);
/* Whether the configuration has pruning that was not exported since it last changed. */
bool tui_unexported(const struct tui *t);

/* keys.c */
struct key_def {
    const char *keys; /* as the help screen shows them */
    const char *help;
};
/* Runs what key does in the normal state (no prompt, no question, no help). */
void keys_dispatch(struct tui *t, int key);
size_t keys_count(void);
const struct key_def *keys_at(size_t i);

/* draw.c */
void draw_frame(struct tui *t);

#endif
