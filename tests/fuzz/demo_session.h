/* What the session harnesses share: the demo session (the digits MLP and its validation
 * CSV, as `prunescope` opens it), a memory file to hand a fuzz input to a reader that takes
 * a path, and the output sink the commands print into. */
#ifndef PRUNESCOPE_TESTS_FUZZ_DEMO_SESSION_H
#define PRUNESCOPE_TESTS_FUZZ_DEMO_SESSION_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "commands/command.h"
#include "session/session.h"

/* A session with data/digits_mlp.onnx and csv (NULL: data/digits.csv) loaded (data/ of
 * PRUNESCOPE_SRCDIR, else of the source tree configure saw), one thread, stopped by
 * *cancel. Aborts on failure. */
struct session *fuzz_demo_session(const char *csv, const volatile sig_atomic_t *cancel);

/* Write the header and the first `rows` rows of data/NAME to path. Aborts on failure. */
void fuzz_demo_head(const char *name, size_t rows, const char *path);

/* A memory file: its path in /proc/self/fd, rewritten with each input. */
const char *fuzz_memfile(const char *name);
void fuzz_memfile_write(const uint8_t *data, size_t size);

/* An output sink writing to /dev/null, with JSON or text as asked. */
void fuzz_out(struct out *o, int json);

#endif
