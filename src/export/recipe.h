/* Recipes for other tools: a Python snippet that applies the session's masks to the user's
 * PyTorch model with torch.nn.utils.prune, and NNI's config_list. Module names come from
 * the ONNX initializer names ("fc1.weight" is parameter weight of module fc1). Not the
 * ONNX or configuration exports. */
#ifndef PRUNESCOPE_EXPORT_RECIPE_H
#define PRUNESCOPE_EXPORT_RECIPE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "session/session.h"

struct recipe_summary {
    size_t tensors;     /* parameters given a mask (torch) or layers listed (nni) */
    char skipped[1024]; /* initializers whose names give no module, and why */
};

/* A Python file defining apply(model): prune.custom_from_mask with the exact masks of
 * every pruned parameter (weights, and the biases and BatchNorm entries of removed units).
 */
int recipe_torch(const struct session *s, const char *path, bool force, struct recipe_summary *sum,
                 struct err *err);

/* NNI's config_list: one {"sparsity_per_layer", "op_names", "op_types"} entry per pruned
 * layer, or one {"total_sparsity", ...} entry for global pruning. */
int recipe_nni(const struct session *s, const char *path, bool force, struct recipe_summary *sum,
               struct err *err);

#endif
