/* Writing output files safely: atomic replacement (temporary file + rename), no overwrite
 * without --force, never over a protected input; and SHA-256 of a file. Not formats. */
#ifndef PRUNESCOPE_CORE_FILES_H
#define PRUNESCOPE_CORE_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* Write len bytes to path through a temporary file in the same directory, renamed over
 * path at the end, so a crash never leaves half a file. Refuses an existing path unless
 * force, and always refuses the file `protect` (the input model; may be NULL). */
int files_write_atomic(const char *path, const void *data, size_t len, bool force,
                       const char *protect, struct err *err);

/* Lowercase hex SHA-256 of a file's bytes into hex (65 bytes). */
int files_sha256(const char *path, char hex[65], struct err *err);

/* Lowercase hex SHA-256 of a string. */
void files_sha256_text(const char *text, char hex[65]);
/* The SHA-256 of n buffers one after the other, as hex. */
void files_sha256_parts(const void *const *parts, const size_t *sizes, size_t n, char hex[65]);

#endif
