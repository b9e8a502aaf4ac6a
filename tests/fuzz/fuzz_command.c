/* libFuzzer harness of the command language: each line of the input (up to 8) goes through
 * the tokenizer and, unless refused below, cmd_run_line on a fresh demo session (the
 * digits MLP and the first rows of its validation CSV), as the REPL and batch mode run it,
 * in text or JSON output (by the input's first byte). Files the commands write or read
 * stay in a scratch directory: the harness runs there, refuses lines with a '/', and
 * resets the directory after each input (train.csv, the first rows of the demo's training
 * split, is there for finetune). A watchdog cancels work that runs past 2 s, as Ctrl-C
 * does. Not a check of the results: only that nothing crashes, leaks, hangs or trips a
 * sanitizer. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "demo_session.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES  8
#define MAX_LINE   512
#define WATCHDOG_S 2.0

static char scratch[4096];
static volatile sig_atomic_t cancel;
static _Atomic double started; /* CLOCK_MONOTONIC seconds of the running input, 0 idle */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        usleep(20000);
        double t = atomic_load(&started);
        if (t > 0 && now() - t > WATCHDOG_S)
            cancel = 1;
    }
    return NULL;
}

/* Commands left out: calibrate times this machine for half a minute whatever its
 * arguments, and bench's repeats are timing loops that no cancel stops. */
static int refused(const char *line)
{
    if (strchr(line, '/'))
        return 1;
    int argc;
    char **argv;
    struct err err;
    if (cmd_split_words(line, &argc, &argv, &err) < 0)
        return 1;
    int no = argc > 0 && (strcmp(argv[0], "calibrate") == 0 || strcmp(argv[0], "bench") == 0);
    cmd_free_words(argc, argv);
    return no;
}

/* The session's data: the header and first VAL_ROWS rows of the demo's validation CSV,
 * and the first TRAIN_ROWS rows of its training split (parsing the whole files for every
 * input would take most of the time), written once next to the scratch directory. */
#define VAL_ROWS   60
#define TRAIN_ROWS 200
static char val_csv[4200], train_csv[4200];

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    size_t n;
    if (!in || !out)
        abort();
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            abort();
    fclose(in);
    if (fclose(out) != 0)
        abort();
}

/* Empties the scratch directory (caches and profiles included: each input starts as the
 * first did), then puts the training rows there as train.csv for finetune, iterate and
 * curve --recover: a copy, so that a command writing to train.csv changes only that. */
static void reset_scratch(void)
{
    DIR *d = opendir(".");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && unlink(e->d_name) != 0) {
            /* a directory a command made (the cache's prunescope/...): remove the tree */
            char cmd[600];
            snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", e->d_name);
            if (system(cmd) != 0)
                abort();
        }
    if (d)
        closedir(d);
    copy_file(train_csv, "train.csv");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/prunescope-fuzz-cmd.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    pthread_t t;
    if (!mkdtemp(scratch) || setenv("XDG_CACHE_HOME", scratch, 1) != 0 ||
        setenv("XDG_CONFIG_HOME", scratch, 1) != 0 || setenv("HOME", scratch, 1) != 0)
        abort();
    snprintf(val_csv, sizeof val_csv, "%s.val.csv", scratch);
    snprintf(train_csv, sizeof train_csv, "%s.train.csv", scratch);
    fuzz_demo_head("digits.csv", VAL_ROWS, val_csv);
    fuzz_demo_head("digits-train.csv", TRAIN_ROWS, train_csv);
    if (chdir(scratch) != 0 || pthread_create(&t, NULL, watchdog, NULL) != 0)
        abort();
    pthread_detach(t);
    reset_scratch();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    cancel = 0;
    atomic_store(&started, now());
    struct session *s = fuzz_demo_session(val_csv, &cancel);
    struct out o;
    fuzz_out(&o, data[0] & 1);
    struct cmd_ctx c = {.s = s, .o = &o};
    size_t pos = 1;
    for (int n = 0; n < MAX_LINES && pos < size; n++) {
        char line[MAX_LINE];
        size_t len = 0;
        while (pos < size && data[pos] != '\n') {
            if (len + 1 < sizeof line)
                line[len++] = data[pos] ? (char)data[pos] : ' ';
            pos++;
        }
        pos++; /* the newline */
        line[len] = '\0';
        struct err err;
        if (!refused(line))
            cmd_run_line(&c, line, &err);
    }
    session_free(s);
    atomic_store(&started, 0.0);
    reset_scratch();
    return 0;
}
