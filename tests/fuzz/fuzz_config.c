/* libFuzzer harness of configuration import, as deep as `import config FILE` goes on the
 * demo session: config_read (JSON, the model's SHA-256, layer names, each setting) makes
 * the file the session's configuration, the pruned model is evaluated on the validation
 * set, and undo goes back to the dense model for the next input. Not a check of the
 * figures: only that nothing crashes, leaks or trips a sanitizer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/err.h"
#include "dataset/metrics.h"
#include "demo_session.h"
#include "export/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct session *demo;
static const char *path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    demo = fuzz_demo_session(NULL, NULL);
    path = fuzz_memfile("config.json");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_memfile_write(data, size);
    struct err err;
    if (config_read(demo, path, &err) < 0)
        return 0;
    struct metrics m;
    double ms;
    session_eval(demo, 0, &m, &ms, &err);
    if (session_undo(demo, &err) < 0)
        abort(); /* the import was undoable: undo must succeed */
    return 0;
}
