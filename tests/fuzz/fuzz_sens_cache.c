/* libFuzzer harness of the sensitivity cache reader, as deep as the program goes with a
 * cache file: the input is written where the demo session's sweep keeps its cache (under
 * a scratch XDG_CACHE_HOME), `sensitivity --rows 10 --levels 0,0.5,0.9` reads it (or,
 * when it refuses the file, measures the sweep again and rewrites it), and `auto
 * --max-drop 2` or `auto --params 50%` (by the input's length) allocates from the table it
 * loaded; undo goes back to the dense model. Not a check of the figures: only that
 * nothing crashes, leaks or trips a sanitizer. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/sensitivity.h"
#include "core/err.h"
#include "demo_session.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SWEEP "sensitivity --rows 10 --levels 0,0.5,0.9"

static struct session *demo;
static char cache[4096];

static int run(const char *line)
{
    struct out o;
    fuzz_out(&o, 0);
    struct cmd_ctx c = {.s = demo, .o = &o};
    struct err err;
    return cmd_run_line(&c, line, &err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    static char tmpl[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpl, sizeof tmpl, "%s/prunescope-fuzz-cache.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpl) || setenv("XDG_CACHE_HOME", tmpl, 1) != 0)
        abort();
    demo = fuzz_demo_session(NULL, NULL);
    /* The first sweep measures and writes the cache file: its path is the one to fill. */
    if (run(SWEEP) < 0 || !demo->sens || !demo->sens->cache_path[0]) {
        fprintf(stderr, "fuzz_sens_cache: the demo sweep did not write a cache file\n");
        abort();
    }
    snprintf(cache, sizeof cache, "%s", demo->sens->cache_path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(cache, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    /* A refused file is measured again: only a table read from the file goes on. */
    if (run(SWEEP) < 0 || !demo->sens || !demo->sens->from_cache)
        return 0;
    struct err err;
    if (run(size % 2 ? "auto --max-drop 2" : "auto --params 50%") == 0)
        session_undo(demo, &err);
    return 0;
}
