/* Where a command's results go: text for people, or one JSON object per command on one
 * line (--json). Commands fill both through this sink; it prints the one that was asked
 * for. Not the commands themselves and not terminal handling. */
#ifndef PRUNESCOPE_COMMANDS_OUTPUT_H
#define PRUNESCOPE_COMMANDS_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct out {
    bool json;
    bool quiet;      /* print errors only (commands implied by the command line) */
    FILE *fp;        /* results (standard output) */
    FILE *diag;      /* text-mode errors and warnings (standard error) */
    json_t *result;  /* the running command's object; NULL between commands */
    char where[256]; /* "script.txt:3" while a script runs, else empty */
    /* When set, out_progress reports here instead of printing (the screen draws a bar).
     * Called on the thread that runs the command. */
    void (*progress)(void *ctx, const char *what, size_t done, size_t total, double elapsed_s);
    void *progress_ctx;
};

void out_init(struct out *o, bool json, FILE *fp, FILE *diag);

/* Text for people; nothing in JSON mode. */
void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set key in the running command's JSON object (takes the reference of v). Also fine in
 * text mode, where the object is built and dropped. */
void out_set(struct out *o, const char *key, json_t *v);

/* A warning: "prunescope: warning: ..." on diag in text mode, an entry of the "warnings"
 * array in JSON mode. */
void out_warn(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress of long work on one line of diag ("WHAT: 40% (4 of 10 evaluations, about 2.0 s
 * left)"), redrawn in place; only in text mode when diag is a terminal. The line ends
 * when done == total. With o->progress set, it goes there instead (in any mode). */
void out_progress(struct out *o, const char *what, size_t done, size_t total, double elapsed_s);

/* Start and finish one command. out_end prints the JSON object (with "command": name)
 * in JSON mode, or on failure the error: "prunescope: [WHERE: ]NAME: message" on diag in text mode,
 * {"error": message, "command": NAME[, "where": WHERE]} in JSON mode. */
void out_begin(struct out *o);
void out_end(struct out *o, const char *name, const char *error);

#endif
