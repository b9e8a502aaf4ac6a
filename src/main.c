/* The prunescope command line: options, the model and data given as arguments, then the
 * screen, the REPL or a batch of commands. Not the commands themselves (commands/), the
 * REPL (repl/) or the screen (tui/). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands/command.h"
#include "config.h"
#include "kernels/ops.h"
#include "repl/repl.h"
#include "tui/tui.h"
#include "session/session.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: prunescope [OPTIONS] [MODEL.onnx [DATA.csv]]\n"
            "Explore pruning of an ONNX model against a labelled CSV validation set.\n"
            "\n"
            "With no MODEL (and no -e/-b), the bundled demo model and data are opened.\n"
            "On a terminal the full screen opens (? there lists its keys); commands\n"
            "come from -e, -b, the REPL (-r), or standard input when it is not a\n"
            "terminal. `help` lists the commands.\n"
            "\n"
            "Options:\n"
            "  -r, --repl           the REPL (GNU Readline) instead of the screen\n"
            "  -b, --batch FILE     run the commands in FILE ('-' = standard input), then exit\n"
            "  -e, --execute CMDS   run these commands ('cmd; cmd'), then exit\n"
            "      --json           one JSON object per command, on one line\n"
            "  -k, --keep-going     in -e/-b, run the remaining commands after a failure\n"
            "      --label COL      label column of DATA.csv (name or 1-based number)\n"
            "      --shape D,D,...  per-row input shape for DATA.csv (e.g. 1,28,28)\n"
            "      --scale X        multiply DATA.csv's features by X\n"
            "  -t, --threads N      worker threads (default: all cores)\n"
            "      --seed N         seed of the random pruning criterion (default 0)\n"
            "      --profile NAME   hardware profile of the estimates (see `profile`)\n"
            "      --replay FILE    play the screen's keys from FILE ('MS KEY' lines)\n"
            "      --replay-log FILE  where --replay writes when figures were drawn\n"
            "      --ops            list the supported ONNX operators and exit\n"
            "  -h, --help           show this help and exit\n"
            "  -V, --version        show the version and exit\n"
            "\n"
            "Exit status: 0 on success, 1 when a command failed (or the model or data\n"
            "could not be loaded), 2 for bad usage.\n");
}

/* The bundled demo's folder: $PRUNESCOPE_DATADIR, the source tree's data/ (when run from
 * the build tree), else the installed package data directory. */
static const char *demo_dir(void)
{
    const char *env = getenv("PRUNESCOPE_DATADIR");
    struct stat st;
    if (env && *env)
        return env;
    if (stat(SRCDATADIR "/digits_mlp.onnx", &st) == 0)
        return SRCDATADIR;
    return PKGDATADIR;
}

/* Whole file (or standard input for "-") as a string. */
static char *slurp(const char *path, struct err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        err_set(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len + 1 < cap)
            break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    bool failed = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf) {
        err_oom(err, path, cap);
        return NULL;
    }
    if (failed) {
        free(buf);
        err_set(err, "%s: read error", path);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

struct options {
    bool repl, json, keep_going;
    const char *batch, *execute;
    const char *label, *shape, *scale, *profile;
    const char *replay, *replay_log;
    int threads;
    uint64_t seed;
};

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"repl", no_argument, NULL, 'r'},
        {"batch", required_argument, NULL, 'b'},
        {"execute", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"keep-going", no_argument, NULL, 'k'},
        {"label", required_argument, NULL, 'l'},
        {"shape", required_argument, NULL, 's'},
        {"scale", required_argument, NULL, 'x'},
        {"threads", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 'S'},
        {"profile", required_argument, NULL, 'p'},
        {"replay", required_argument, NULL, 'P'},
        {"replay-log", required_argument, NULL, 'L'},
        {"ops", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "rb:e:kt:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': o->repl = true; break;
        case 'b': o->batch = optarg; break;
        case 'e': o->execute = optarg; break;
        case 'j': o->json = true; break;
        case 'k': o->keep_going = true; break;
        case 'l': o->label = optarg; break;
        case 's': o->shape = optarg; break;
        case 'x': o->scale = optarg; break;
        case 'p': o->profile = optarg; break;
        case 'P': o->replay = optarg; break;
        case 'L': o->replay_log = optarg; break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 256) {
                fprintf(stderr, "prunescope: --threads expects a number from 1 to 256, got '%s'\n",
                        optarg);
                return 2;
            }
            o->threads = (int)v;
            break;
        }
        case 'S': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || end == optarg || errno || optarg[0] == '-') {
                fprintf(stderr, "prunescope: --seed expects a non-negative integer, got '%s'\n",
                        optarg);
                return 2;
            }
            o->seed = (uint64_t)v;
            break;
        }
        case 'o':
            for (size_t i = 0; i < ops_count(); i++)
                printf("%s\n", ops_at(i)->name);
            return 0;
        case 'h': usage(stdout); return 0;
        case 'V': printf("prunescope %s\n", PACKAGE_VERSION); return 0;
        default: fprintf(stderr, "Try 'prunescope --help'.\n"); return 2;
        }
    }
    if (argc - optind > 2) {
        fprintf(stderr, "prunescope: too many arguments (a model and a CSV file at most)\n"
                        "Try 'prunescope --help'.\n");
        return 2;
    }
    if (o->batch && o->execute) {
        fprintf(stderr, "prunescope: give either -e or -b, not both\n");
        return 2;
    }
    if (o->repl && (o->batch || o->execute)) {
        fprintf(stderr, "prunescope: --repl cannot be combined with -e or -b\n");
        return 2;
    }
    if (o->replay && (o->repl || o->batch || o->execute)) {
        fprintf(stderr, "prunescope: --replay plays keys on the screen; it cannot be combined "
                        "with -r, -e or -b\n");
        return 2;
    }
    if (o->replay_log && !o->replay) {
        fprintf(stderr, "prunescope: --replay-log needs --replay\n");
        return 2;
    }
    if ((o->label || o->shape || o->scale) && argc - optind < 2) {
        fprintf(stderr, "prunescope: --label, --shape and --scale apply to a DATA.csv "
                        "argument, and none was given (inside commands, use: data FILE "
                        "--label COL)\n");
        return 2;
    }
    return -1;
}

/* load and data for the files named on the command line; their results are shown only
 * in an interactive session (errors always). */
static int load_arguments(struct cmd_ctx *c, const struct options *o, const char *model,
                          const char *data, bool show)
{
    struct err err;
    bool was_quiet = c->o->quiet;
    c->o->quiet = !show;
    char *load_argv[] = {"load", (char *)model};
    int rc = cmd_run_argv(c, 2, load_argv, &err);
    if (rc == 0 && data) {
        char *argv[10] = {"data", (char *)data};
        int n = 2;
        if (o->label)
            argv[n++] = "--label", argv[n++] = (char *)o->label;
        if (o->shape)
            argv[n++] = "--shape", argv[n++] = (char *)o->shape;
        if (o->scale)
            argv[n++] = "--scale", argv[n++] = (char *)o->scale;
        rc = cmd_run_argv(c, n, argv, &err);
    }
    c->o->quiet = was_quiet;
    return rc;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read or select returns to check the flag */
    sigaction(SIGINT, &sa, NULL);

    struct err err;
    struct session *s = session_new(o.threads, &interrupted, &err);
    if (!s) {
        fprintf(stderr, "prunescope: %s\n", err.msg);
        return 1;
    }
    s->seed = o.seed;
    if (o.profile && session_select_profile(s, o.profile, &err) < 0) {
        fprintf(stderr, "prunescope: --profile: %s\n", err.msg);
        session_free(s);
        return 2;
    }
    struct out out;
    out_init(&out, o.json, stdout, stderr);
    struct cmd_ctx ctx = {.s = s, .o = &out};

    const char *model = optind < argc ? argv[optind] : NULL;
    const char *data = optind + 1 < argc ? argv[optind + 1] : NULL;
    char demo_model[4096], demo_data[4096];
    if (!model && !o.batch && !o.execute) {
        const char *dir = demo_dir();
        snprintf(demo_model, sizeof demo_model, "%s/digits_mlp.onnx", dir);
        snprintf(demo_data, sizeof demo_data, "%s/digits.csv", dir);
        model = demo_model;
        data = demo_data;
    }
    int failed = 0;
    bool interactive = o.repl || o.replay || (!o.batch && !o.execute && isatty(STDIN_FILENO));
    /* The screen on a terminal; the REPL when asked for, or when the output is not one. */
    bool screen = o.replay || (interactive && !o.repl && isatty(STDOUT_FILENO));
    if (model && load_arguments(&ctx, &o, model, data, interactive && !screen) < 0) {
        session_free(s);
        return 1;
    }
    if (o.execute) {
        failed = cmd_run_script(&ctx, o.execute, NULL, o.keep_going);
    } else if (o.batch) {
        char *text = slurp(o.batch, &err);
        if (!text) {
            fprintf(stderr, "prunescope: %s\n", err.msg);
            session_free(s);
            return 1;
        }
        failed =
            cmd_run_script(&ctx, text, strcmp(o.batch, "-") == 0 ? "stdin" : o.batch, o.keep_going);
        free(text);
    } else if (screen) {
        struct tui_options to = {.replay = o.replay, .replay_log = o.replay_log};
        if (tui_run(&ctx, &interrupted, &to, &err) < 0) {
            fprintf(stderr, "prunescope: %s\n", err.msg);
            failed = 1;
        }
    } else if (interactive) {
        /* A mistyped command in a REPL is not the program's failure: exit status 0. */
        repl_run(&ctx, &interrupted);
    } else {
        char *text = slurp("-", &err);
        if (!text) {
            fprintf(stderr, "prunescope: %s\n", err.msg);
            session_free(s);
            return 1;
        }
        failed = cmd_run_script(&ctx, text, "stdin", o.keep_going);
        free(text);
    }
    session_free(s);
    return failed == 0 ? 0 : 1;
}
