/* libFuzzer harness of the CSV reader, as deep as `prunescope MODEL DATA` goes with a file:
 * dataset_load (through a memory file, so gzip input is read too), the checks against the
 * digits MLP's 64 features and 10 classes, then the model's outputs on the rows and their
 * metrics. Not a check of the figures: only that nothing crashes, leaks or trips a
 * sanitizer. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/err.h"
#include "core/tensor.h"
#include "dataset/dataset.h"
#include "dataset/metrics.h"
#include "engine/engine.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Only this many rows are run through the model: the reader is what is fuzzed. */
#define FUZZ_MAX_ROWS 64

static int fd = -1;
static char path[64];
static struct engine *model; /* the digits MLP: 64 features, 10 classes */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct err err;
    const char *dir = getenv("PRUNESCOPE_SRCDIR");
    char model_path[4096];
    if (dir)
        snprintf(model_path, sizeof model_path, "%s/data/digits_mlp.onnx", dir);
    else
        snprintf(model_path, sizeof model_path, "%s/digits_mlp.onnx", SRCDATADIR);
    fd = memfd_create("fuzz.csv", 0);
    if (fd < 0 || !(model = engine_open(model_path, 1, &err))) {
        fprintf(stderr, "fuzz_csv: %s\n", fd < 0 ? "memfd_create failed" : err.msg);
        abort();
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return 0;
}

/* The digits MLP's outputs on the first rows of d and their metrics. */
static void evaluate(const struct dataset *d)
{
    struct err err;
    size_t rows = d->rows < FUZZ_MAX_ROWS ? d->rows : FUZZ_MAX_ROWS;
    struct shape s = shape_make(2, (int64_t[]){(int64_t)rows, 64});
    struct tensor *in = tensor_view(DTYPE_FLOAT, &s, d->features, &err), *out = NULL;
    if (in && engine_run_rows(model, in, &out, &err) == 0) {
        struct dataset head = *d;
        head.rows = rows;
        struct metrics m;
        metrics_compute(out->data, rows, 10, OUTPUT_LOGITS, &head, 3, &m, &err);
    }
    tensor_free(out);
    tensor_free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    /* An odd length also accepts NaN and infinite features: both paths get inputs. */
    struct dataset_options opt = {.allow_nonfinite = size % 2 == 1};
    struct err err;
    struct dataset *d = dataset_load(path, &opt, &err);
    if (!d)
        return 0;
    /* As the session does: regression targets do not fit a model with 10 outputs. */
    if (dataset_check_features(d, 64, "[N,64]", &err) == 0 && d->kind == LABEL_CLASS &&
        dataset_check_classes(d, 10, &err) == 0)
        evaluate(d);
    dataset_free(d);
    return 0;
}
