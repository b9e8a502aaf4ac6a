/* `make bench`, the screen's responsiveness: the Fashion-MNIST CNN on its 10,000 rows in
 * the screen (run in tmux), 52 slider moves played by --replay, and from its log the time
 * from each key to the redrawn predicted figures and to the redrawn measured accuracy,
 * median and worst. Targets: 20 ms and 300 ms. Not a test: it never fails on time; without
 * tmux it says so and stops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/bench.h"

#define MAX_MOVES 256

static int write_keys(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    /* Each layer: 7 steps right, 6 back; 0.6 s apart so each measurement can finish. */
    double t = 2000;
    fprintf(f, "# 52 slider moves over the 4 layers of the Fashion-MNIST CNN\n");
    for (int layer = 0; layer < 4; layer++) {
        if (layer) {
            fprintf(f, "%.0f down\n", t);
            t += 300;
        }
        for (int i = 0; i < 13; i++) {
            fprintf(f, "%.0f %s\n", t, i < 7 ? "right" : "left");
            t += 600;
        }
    }
    fprintf(f, "%.0f Q\n", t + 1000);
    return fclose(f);
}

int main(void)
{
    const char *src = getenv("PRUNESCOPE_SRCDIR"), *build = getenv("PRUNESCOPE_BUILDDIR");
    if (!src)
        src = ".";
    if (!build)
        build = ".";
    if (system("command -v tmux >/dev/null 2>&1") != 0) {
        printf("screen responsiveness: tmux is not installed, skipped\n");
        return 0;
    }
    char dir[] = "/tmp/prunescope-bench-tui-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char keys[4200], log[4200], cmd[16384];
    snprintf(keys, sizeof keys, "%s/keys.txt", dir);
    snprintf(log, sizeof log, "%s/replay.log", dir);
    if (write_keys(keys) < 0) {
        perror(keys);
        return 1;
    }
    snprintf(cmd, sizeof cmd,
             "tmux -L prunescope-bench-tui new-session -d -x 120 -y 40 "
             "\"XDG_CONFIG_HOME=%s XDG_CACHE_HOME=%s XDG_STATE_HOME=%s '%s/prunescope' "
             "--replay '%s' --replay-log '%s' '%s/data/fashion_cnn.onnx' "
             "'%s/data/fashion-mnist-test.csv.gz' --scale 0.00392156862745098; "
             "echo $? > '%s/status'\"",
             dir, dir, dir, build, keys, log, src, src, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_tui: cannot start tmux\n");
        return 1;
    }
    /* Wait for the screen to quit (the script takes about 37 s). */
    char status[4200];
    snprintf(status, sizeof status, "%s/status", dir);
    for (int i = 0; i < 1200 && access(status, F_OK) != 0; i++)
        usleep(100000);
    system("tmux -L prunescope-bench-tui kill-server >/dev/null 2>&1");
    FILE *f = fopen(log, "r");
    if (!f) {
        fprintf(stderr, "bench_tui: no replay log (%s)\n", log);
        return 1;
    }
    double pred[MAX_MOVES], meas[MAX_MOVES];
    size_t np = 0, nm = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char what[32], key[32];
        double key_ms, drawn_ms;
        if (sscanf(line, "%31s %31s key_ms=%lf drawn_ms=%lf", what, key, &key_ms, &drawn_ms) != 4)
            continue;
        if (strcmp(key, "right") != 0 && strcmp(key, "left") != 0)
            continue;
        if (strcmp(what, "predicted") == 0 && np < MAX_MOVES)
            pred[np++] = drawn_ms - key_ms;
        else if (strcmp(what, "measured") == 0 && nm < MAX_MOVES)
            meas[nm++] = drawn_ms - key_ms;
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    system(cmd);
    if (np == 0 || nm == 0) {
        fprintf(stderr, "bench_tui: the log holds no slider moves\n");
        return 1;
    }
    struct bench_stat p = bench_stat_of(pred, np), m = bench_stat_of(meas, nm);
    printf("screen responsiveness, Fashion-MNIST CNN on 10000 rows, %zu slider moves (--replay "
           "in tmux)\n",
           np);
    printf("key to predicted figures drawn: median %.1f ms, worst %.1f ms (target: under 20 ms): "
           "%s\n",
           p.median, p.max, p.median < 20 && p.max < 20 ? "met" : "MISSED");
    printf("key to measured accuracy drawn: median %.1f ms, worst %.1f ms over %zu (target: "
           "under 300 ms): %s\n",
           m.median, m.max, nm, m.median < 300 && m.max < 300 ? "met" : "MISSED");
    return 0;
}
