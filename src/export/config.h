/* Pruning configurations as JSON files ("format": "prunescope-config", "version": 1):
 * the model's path and SHA-256, the data, per layer its name, weight, criterion,
 * granularity and sparsity, the seed and storage, and the figures measured when saved.
 * Not the other exports (model.h, recipe.h). */
#ifndef PRUNESCOPE_EXPORT_CONFIG_H
#define PRUNESCOPE_EXPORT_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"
#include "session/session.h"

/* The configuration as a JSON object; measured (may be NULL, borrowed) is stored under
 * "measured". */
json_t *config_to_json(const struct session *s, json_t *measured);

/* Write it to path atomically (see files_write_atomic). */
int config_write(const struct session *s, json_t *measured, const char *path, bool force,
                 struct err *err);

/* Read path and make it the session's configuration (undoable). Refuses, changing
 * nothing: a file that is not a prunescope config, a config for another model (by
 * SHA-256), a layer the model does not have, a setting a layer cannot take. Errors name
 * the file and the field. */
int config_read(struct session *s, const char *path, struct err *err);

#endif
