/* Recipes: the torch snippet (masks packed as hex, one bit per element, MSB first) and NNI's
 * config_list (jansson). Not pruning. */
#include "export/recipe.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/files.h"

/* A growable text buffer. */
struct text {
    char *s;
    size_t len, cap;
    bool oom;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap <= t->len + (size_t)n)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->oom = true;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

/* "fc1.weight" -> module "fc1", parameter "weight"; false when there is no dot or the name
 * does not look like a module path (ONNX-generated names such as "onnx::Gemm_12"). */
static bool module_of(const char *name, char *module, size_t size, const char **param)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name || !dot[1] || strchr(name, ':') || strchr(name, '/'))
        return false;
    snprintf(module, size, "%.*s", (int)(dot - name), name);
    *param = dot + 1;
    return true;
}

static void note(char *buf, size_t size, const char *fmt, const char *a)
{
    size_t used = strlen(buf);
    if (used + 4 < size)
        snprintf(buf + used, size - used, fmt, used ? "; " : "", a);
}

int recipe_torch(const struct session *s, const char *path, bool force, struct recipe_summary *sum,
                 struct err *err)
{
    memset(sum, 0, sizeof *sum);
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    const struct graph *g = engine_graph(s->engine);
    struct text t = {0};
    add(&t,
        "# prunescope recipe: apply the pruning masks found by prunescope to the PyTorch\n"
        "# model the ONNX file was exported from, with torch.nn.utils.prune.\n"
        "#   model: %s (SHA-256 %s)\n"
        "# Usage:\n"
        "#   import recipe; recipe.apply(model)   # then prune.remove(...) to make it final\n"
        "# Each mask keeps 1 and prunes 0; it is stored as hex, one bit per element in\n"
        "# row-major order, most significant bit first.\n",
        s->model_path, s->model_sha256);
    for (size_t i = 0; i < s->layers.count; i++) {
        const struct prune_setting *st = &s->config.settings[i];
        if (s->config.global)
            break;
        if (st->sparsity > 0)
            add(&t, "#   %s: %s %s at %.6g\n", s->layers.items[i].name,
                prune_criterion_name(st->criterion), prune_granularity_name(st->granularity),
                st->sparsity);
    }
    if (s->config.global)
        add(&t, "#   global magnitude pruning at %.6g\n", s->config.global_sparsity);
    add(&t, "import torch\nfrom torch.nn.utils import prune\n\nMASKS = {\n");
    for (int v = 0; v < g->n_values; v++) {
        const struct tensor *cur = g->values[v].constant;
        const float *orig = s->original[v];
        if (!orig || memcmp(cur->data, orig, tensor_bytes(cur)) == 0)
            continue;
        char module[512];
        const char *param;
        if (!module_of(g->values[v].name, module, sizeof module, &param)) {
            note(sum->skipped, sizeof sum->skipped, "%s%s (no module name in it)",
                 g->values[v].name);
            continue;
        }
        add(&t, "    \"%s\": ((", g->values[v].name);
        for (int d = 0; d < cur->shape.ndim; d++)
            add(&t, "%lld,%s", (long long)cur->shape.dims[d], d + 1 < cur->shape.ndim ? " " : "");
        add(&t, "), \"");
        size_t n = tensor_numel(cur);
        const float *w = tensor_f32(cur);
        for (size_t k = 0; k < n; k += 8) {
            unsigned byte = 0;
            for (size_t b = 0; b < 8; b++) {
                bool keep = k + b >= n || !(orig[k + b] != 0.0f && w[k + b] == 0.0f);
                byte |= (unsigned)(keep && k + b < n) << (7 - b);
            }
            add(&t, "%02x", byte);
        }
        add(&t, "\"),\n");
        sum->tensors++;
    }
    add(&t,
        "}\n\n\n"
        "def mask(shape, bits):\n"
        "    \"\"\"The 0/1 float mask of the given shape from its hex bits.\"\"\"\n"
        "    n = 1\n"
        "    for d in shape:\n"
        "        n *= d\n"
        "    raw = torch.tensor(list(bytes.fromhex(bits)), dtype=torch.uint8)\n"
        "    shifts = torch.arange(7, -1, -1, dtype=torch.uint8)\n"
        "    flags = (raw.unsqueeze(1) >> shifts) & 1\n"
        "    return flags.flatten()[:n].reshape(shape).to(torch.float32)\n\n\n"
        "def apply(model):\n"
        "    \"\"\"Prune model in place with the masks above; returns it.\"\"\"\n"
        "    modules = dict(model.named_modules())\n"
        "    for name, (shape, bits) in MASKS.items():\n"
        "        module_name, _, param = name.rpartition(\".\")\n"
        "        if module_name not in modules:\n"
        "            raise KeyError(f\"the model has no module {module_name!r} (for {name})\")\n"
        "        module = modules[module_name]\n"
        "        have = tuple(getattr(module, param).shape)\n"
        "        if have != tuple(shape):\n"
        "            raise ValueError(f\"{name} has shape {have}, the recipe {tuple(shape)}\")\n"
        "        prune.custom_from_mask(module, param, mask(shape, bits))\n"
        "    return model\n");
    if (t.oom) {
        free(t.s);
        return err_oom(err, "recipe", t.cap);
    }
    int rc = files_write_atomic(path, t.s, t.len, force, s->model_path, err);
    free(t.s);
    return rc;
}

/* NNI's op type for a layer: torch.nn module class names. */
static const char *nni_op_type(const struct layer *l)
{
    if (strcmp(l->op, "Conv") != 0)
        return "Linear";
    return l->shape.ndim == 3 ? "Conv1d" : l->shape.ndim == 5 ? "Conv3d" : "Conv2d";
}

int recipe_nni(const struct session *s, const char *path, bool force, struct recipe_summary *sum,
               struct err *err)
{
    memset(sum, 0, sizeof *sum);
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    json_t *list = json_array();
    json_t *all_names = json_array(), *all_types = json_array();
    for (size_t i = 0; i < s->layers.count; i++) {
        const struct layer *l = &s->layers.items[i];
        const struct prune_setting *st = &s->config.settings[i];
        char module[512];
        const char *param;
        if (!module_of(l->weight_name, module, sizeof module, &param)) {
            note(sum->skipped, sizeof sum->skipped, "%s%s (no module name in it)", l->weight_name);
            continue;
        }
        json_array_append_new(all_names, json_string(module));
        bool seen = false;
        for (size_t k = 0; k < json_array_size(all_types); k++)
            seen |= strcmp(json_string_value(json_array_get(all_types, k)), nni_op_type(l)) == 0;
        if (!seen)
            json_array_append_new(all_types, json_string(nni_op_type(l)));
        if (s->config.global || st->sparsity <= 0)
            continue;
        json_array_append_new(list,
                              json_pack("{s:f, s:[s], s:[s]}", "sparsity_per_layer", st->sparsity,
                                        "op_types", nni_op_type(l), "op_names", module));
        sum->tensors++;
    }
    if (s->config.global) {
        json_array_append_new(list, json_pack("{s:f, s:O, s:O}", "total_sparsity",
                                              s->config.global_sparsity, "op_types", all_types,
                                              "op_names", all_names));
        sum->tensors = json_array_size(all_names);
    }
    json_decref(all_names);
    json_decref(all_types);
    char *text = json_dumps(list, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(list);
    if (!text)
        return err_oom(err, "recipe", 0);
    size_t len = strlen(text);
    char *nl = realloc(text, len + 2);
    if (!nl) {
        free(text);
        return err_oom(err, "recipe", len);
    }
    nl[len] = '\n';
    nl[len + 1] = '\0';
    int rc = files_write_atomic(path, nl, len + 1, force, s->model_path, err);
    free(nl);
    return rc;
}
