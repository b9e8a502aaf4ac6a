/* Configuration files: JSON through jansson, written atomically, read back exactly (doubles
 * printed with 17 significant digits round-trip). Not the session's logic. */
#include "export/config.h"

#include <stdlib.h>
#include <string.h>

#include "core/files.h"

json_t *config_to_json(const struct session *s, json_t *measured)
{
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string("prunescope-config"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "model", json_string(s->model_path));
    json_object_set_new(root, "model_sha256", json_string(s->model_sha256));
    json_object_set_new(root, "data", s->data_path ? json_string(s->data_path) : json_null());
    json_object_set_new(root, "profile", json_null());
    json_object_set_new(root, "storage", json_string(storage_name(s->storage)));
    json_object_set_new(root, "seed", json_integer((json_int_t)s->seed));
    json_object_set_new(root, "global",
                        s->config.global ? json_real(s->config.global_sparsity) : json_null());
    json_t *layers = json_array();
    for (size_t i = 0; i < s->layers.count; i++) {
        const struct layer *l = &s->layers.items[i];
        const struct prune_setting *st = &s->config.settings[i];
        json_array_append_new(layers, json_pack("{s:s, s:s, s:s, s:s, s:f}", "name", l->name,
                                                "weight", l->weight_name, "criterion",
                                                prune_criterion_name(st->criterion), "granularity",
                                                prune_granularity_name(st->granularity), "sparsity",
                                                st->sparsity));
    }
    json_object_set_new(root, "layers", layers);
    /* Weights fine-tuned or re-fitted in the session: their digest and the commands. */
    json_t *weights = json_null();
    if (s->weights_trained > 0) {
        json_t *cmds = json_array();
        for (size_t i = 0; i < s->n_history; i++) {
            const char *h = s->history[i];
            if (strncmp(h, "finetune", 8) == 0 || strncmp(h, "reconstruct", 11) == 0 ||
                strncmp(h, "iterate", 7) == 0)
                json_array_append_new(cmds, json_string(h));
        }
        weights = json_pack("{s:s, s:o}", "sha256", s->weights_sha256, "commands", cmds);
    }
    json_object_set_new(root, "weights", weights);
    if (measured)
        json_object_set(root, "measured", measured);
    return root;
}

int config_write(const struct session *s, json_t *measured, const char *path, bool force,
                 struct err *err)
{
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    json_t *root = config_to_json(s, measured);
    char *text = root ? json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(root);
    if (!text)
        return err_oom(err, "configuration", 0);
    size_t len = strlen(text);
    char *with_nl = realloc(text, len + 2);
    if (!with_nl) {
        free(text);
        return err_oom(err, "configuration", len);
    }
    with_nl[len] = '\n';
    with_nl[len + 1] = '\0';
    int rc = files_write_atomic(path, with_nl, len + 1, force, s->model_path, err);
    free(with_nl);
    return rc;
}

static const char *get_string(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int config_read(struct session *s, const char *path, struct err *err)
{
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return err_set(err, "%s:%d:%d: not valid JSON: %s", path, je.line, je.column, je.text);
    struct prune_config next = {0};
    int rc = -1;
    const char *fmt = get_string(root, "format");
    json_t *ver = json_object_get(root, "version");
    if (!json_is_object(root) || !fmt || strcmp(fmt, "prunescope-config") != 0) {
        err_set(err,
                "%s: not a prunescope configuration (\"format\" is not "
                "\"prunescope-config\")",
                path);
        goto done;
    }
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        err_set(err, "%s: \"version\" must be 1; this prunescope reads version 1", path);
        goto done;
    }
    const char *sha = get_string(root, "model_sha256");
    if (!sha) {
        err_set(err, "%s: \"model_sha256\" is missing", path);
        goto done;
    }
    if (strcmp(sha, s->model_sha256) != 0) {
        const char *model = get_string(root, "model");
        err_set(err,
                "%s was made for another model (%s, SHA-256 %.12s...); the loaded model %s "
                "has SHA-256 %.12s...",
                path, model ? model : "unnamed", sha, s->model_path, s->model_sha256);
        goto done;
    }
    json_t *weights = json_object_get(root, "weights");
    if (json_is_object(weights)) {
        const char *wsha = json_string_value(json_object_get(weights, "sha256"));
        if (!wsha || strcmp(wsha, s->weights_sha256) != 0) {
            err_set(err,
                    "%s was made on weights fine-tuned or reconstructed in its session, which "
                    "the loaded model does not have: load the model that export model wrote "
                    "from that session, or run its commands again (see \"weights\" in the file)",
                    path);
            goto done;
        }
    }
    if (session_config_copy(s, &next, err) < 0)
        goto done;
    memset(next.settings, 0, s->layers.count * sizeof *next.settings);
    json_t *g = json_object_get(root, "global");
    next.global = json_is_number(g);
    next.global_sparsity = next.global ? json_number_value(g) : 0.0;
    json_t *layers = json_object_get(root, "layers");
    if (!json_is_array(layers)) {
        err_set(err, "%s: \"layers\" must be an array", path);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *e = json_array_get(layers, i);
        const char *name = get_string(e, "name"), *crit = get_string(e, "criterion");
        const char *gran = get_string(e, "granularity");
        json_t *sp = json_object_get(e, "sparsity");
        if (!name || !crit || !gran || !json_is_number(sp)) {
            err_set(err,
                    "%s: layers[%zu] needs \"name\", \"criterion\", \"granularity\" and a "
                    "numeric \"sparsity\"",
                    path, i);
            goto done;
        }
        const struct layer *l = layers_lookup(&s->layers, name);
        if (!l) {
            err_set(err, "%s: layers[%zu]: the model has no prunable layer '%s'", path, i, name);
            goto done;
        }
        struct prune_setting *st = &next.settings[l - s->layers.items];
        st->sparsity = json_number_value(sp);
        if (prune_criterion_parse(crit, &st->criterion) < 0 ||
            prune_granularity_parse(gran, &st->granularity) < 0) {
            err_set(err, "%s: layers[%zu] ('%s'): unknown criterion '%s' or granularity '%s'", path,
                    i, name, crit, gran);
            goto done;
        }
    }
    const char *storage = get_string(root, "storage");
    enum storage st_fmt = s->storage;
    if (storage && storage_parse(storage, &st_fmt) < 0) {
        err_set(err, "%s: unknown \"storage\" '%s'", path, storage);
        goto done;
    }
    json_t *seed = json_object_get(root, "seed");
    uint64_t old_seed = s->seed;
    if (json_is_integer(seed))
        s->seed = (uint64_t)json_integer_value(seed);
    if (session_configure(s, &next, err) < 0) {
        s->seed = old_seed;
        err_prefix(err, "%s: ", path);
        goto done;
    }
    s->storage = st_fmt;
    rc = 0;
done:
    free(next.settings);
    json_decref(root);
    return rc;
}
