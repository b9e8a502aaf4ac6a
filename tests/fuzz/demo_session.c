/* The demo session and memory file of the session harnesses (see demo_session.h). */
#include "demo_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/err.h"

static int memfd = -1;
static char mempath[64];

static void src_path(const char *rel, char *buf, size_t size)
{
    const char *dir = getenv("PRUNESCOPE_SRCDIR");
    if (dir)
        snprintf(buf, size, "%s/data/%s", dir, rel);
    else
        snprintf(buf, size, "%s/%s", SRCDATADIR, rel);
}

struct session *fuzz_demo_session(const char *csv, const volatile sig_atomic_t *cancel)
{
    struct err err;
    char model[4096], data[4096];
    src_path("digits_mlp.onnx", model, sizeof model);
    src_path("digits.csv", data, sizeof data);
    struct dataset_options opt = {0};
    struct session *s = session_new(1, cancel, &err);
    if (!s || session_load_model(s, model, NULL, 0, &err) < 0 ||
        session_load_data(s, csv ? csv : data, &opt, NULL, &err) < 0) {
        fprintf(stderr, "fuzz: cannot open the demo session: %s\n", err.msg);
        abort();
    }
    return s;
}

void fuzz_demo_head(const char *name, size_t rows, const char *path)
{
    char src[4096], line[65536];
    src_path(name, src, sizeof src);
    FILE *in = fopen(src, "r"), *out = fopen(path, "w");
    if (!in || !out)
        abort();
    for (size_t i = 0; i <= rows && fgets(line, sizeof line, in); i++)
        fputs(line, out);
    fclose(in);
    if (fclose(out) != 0)
        abort();
}

const char *fuzz_memfile(const char *name)
{
    memfd = memfd_create(name, 0);
    if (memfd < 0) {
        perror("fuzz: memfd_create");
        abort();
    }
    snprintf(mempath, sizeof mempath, "/proc/self/fd/%d", memfd);
    return mempath;
}

void fuzz_memfile_write(const uint8_t *data, size_t size)
{
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        abort();
}

void fuzz_out(struct out *o, int json)
{
    static FILE *sink;
    if (!sink && !(sink = fopen("/dev/null", "w")))
        abort();
    out_init(o, json != 0, sink, sink);
}
