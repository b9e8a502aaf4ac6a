/* The pruned model as an ONNX file: the original model with its pruned weights, and with
 * the units removed by neuron and filter pruning cut out of every tensor of their group
 * (weights, biases, BatchNormalization parameters, the next layer's inputs), so the file
 * and the computation are physically smaller. Not configurations (config.h). */
#ifndef PRUNESCOPE_EXPORT_MODEL_H
#define PRUNESCOPE_EXPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "session/session.h"

struct model_export_summary {
    size_t bytes_before, bytes_after; /* file sizes */
    size_t units_removed;             /* neurons and filters cut out */
    size_t layers_shrunk;
    char masked_only[1024]; /* groups that could only be masked, and why */
};

/* Writes the session's model with its current configuration to path (atomically; never
 * over the loaded model; an existing file only with force). */
int model_export(const struct session *s, const char *path, bool force,
                 struct model_export_summary *sum, struct err *err);

/* The engine that runs the configuration as deployed: with units removed by neuron or
 * filter pruning, the exported (physically smaller) model, written to a temporary file and
 * opened into *own (the caller frees it); else the session's own engine (*own NULL). NULL
 * with err set on failure. */
struct engine *model_deployed_engine(struct session *s, struct engine **own, struct err *err);

#endif
