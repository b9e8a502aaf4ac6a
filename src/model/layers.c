/* Discovery of prunable layers (Gemm, MatMul with a constant weight, Conv) and lookup by
 * name or index. Not pruning. */
#include "model/layers.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The module path a PyTorch export writes into a node name: scopes such as
 * /features/features.2/conv/conv.1/conv.1.0/Conv, each scope qualifying the one before it,
 * give features.2.conv.1.0. Writes "" when the name has no scopes. */
static void scope_path(const char *name, char *out, size_t size)
{
    out[0] = '\0';
    if (name[0] != '/')
        return;
    const char *last = strrchr(name, '/');
    size_t used = 0;
    char prev[256] = "";
    for (const char *p = name + 1; p < last;) {
        const char *end = strchr(p, '/');
        size_t n = (size_t)(end - p);
        char comp[256];
        if (n >= sizeof comp)
            n = sizeof comp - 1;
        memcpy(comp, p, n);
        comp[n] = '\0';
        size_t pl = strlen(prev);
        const char *add = comp;
        if (pl && strncmp(comp, prev, pl) == 0 && comp[pl] == '.')
            add = comp + pl; /* ".2" of features.2 after features */
        else if (used)
            used += (size_t)snprintf(out + used, used < size ? size - used : 0, ".");
        if (used < size)
            used += (size_t)snprintf(out + used, size - used, "%s", add);
        snprintf(prev, sizeof prev, "%s", comp);
        p = end + 1;
    }
}

/* The short name of layer l before uniqueness is settled. */
static void short_name(const struct layer *l, char *out, size_t size)
{
    size_t wn = strlen(l->weight_name);
    const char *suffix = ".weight";
    size_t sn = strlen(suffix);
    if (wn > sn && strcmp(l->weight_name + wn - sn, suffix) == 0 && !strpbrk(l->weight_name, "/:")) {
        snprintf(out, size, "%.*s", (int)(wn - sn), l->weight_name);
        return;
    }
    scope_path(l->name, out, size);
    if (out[0])
        return;
    /* A parameter named like an identifier (w1, dense.kernel) reads better than a node name
     * without scopes. */
    bool plain = wn > 0 && wn < 64;
    for (const char *p = l->weight_name; plain && *p; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '_' || *p == '.';
    snprintf(out, size, "%s", plain ? l->weight_name : l->name);
}

static bool name_taken(const struct layer_list *list, size_t upto, const char *name)
{
    for (size_t i = 0; i < upto; i++)
        if (list->items[i].display && strcmp(list->items[i].display, name) == 0)
            return true;
    return false;
}

/* Display names: the short name, without a trailing ".0" (the convolution inside a
 * Conv-BN-activation block) when that stays unique; a name two layers would share falls
 * back to the node name. */
static int set_display_names(const struct graph *g, struct layer_list *list, struct err *err)
{
    (void)g;
    size_t n = list->count;
    char (*names)[256] = calloc(n + 1, sizeof *names);
    if (!names)
        return err_oom(err, "layer names", n);
    for (size_t i = 0; i < n; i++) {
        short_name(&list->items[i], names[i], sizeof names[i]);
        size_t len = strlen(names[i]);
        if (len > 2 && strcmp(names[i] + len - 2, ".0") == 0) {
            char cut[256];
            snprintf(cut, sizeof cut, "%.*s", (int)(len - 2), names[i]);
            bool clash = false;
            for (size_t j = 0; j < n && !clash; j++) {
                char other[256];
                short_name(&list->items[j], other, sizeof other);
                clash = j != i && strcmp(other, cut) == 0;
            }
            if (!clash)
                snprintf(names[i], sizeof names[i], "%s", cut);
        }
    }
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = j != i && strcmp(names[i], names[j]) == 0;
        const char *pick = dup || name_taken(list, i, names[i]) ? list->items[i].name : names[i];
        if (!(list->items[i].display = strdup(pick))) {
            free(names);
            return err_oom(err, "layer names", n);
        }
    }
    free(names);
    return 0;
}

int layers_find(const struct graph *g, struct layer_list *list, struct err *err)
{
    list->items = NULL;
    list->count = 0;
    if (g->n_nodes == 0)
        return 0;
    list->items = calloc((size_t)g->n_nodes, sizeof *list->items);
    if (!list->items)
        return err_oom(err, "layer list", (size_t)g->n_nodes * sizeof *list->items);
    for (int n = 0; n < g->n_nodes; n++) {
        const struct node *nd = &g->nodes[n];
        bool known = strcmp(nd->op_type, "Gemm") == 0 || strcmp(nd->op_type, "MatMul") == 0 ||
                     strcmp(nd->op_type, "Conv") == 0;
        if (!known || nd->n_inputs < 2 || nd->inputs[1] < 0)
            continue;
        const struct value *w = &g->values[nd->inputs[1]];
        if (!w->constant || w->constant->dtype != DTYPE_FLOAT)
            continue;
        struct layer *l = &list->items[list->count++];
        l->node = n;
        l->weight = nd->inputs[1];
        l->name = nd->name && nd->name[0] ? nd->name : w->name;
        l->op = nd->op_type;
        l->weight_name = w->name;
        l->shape = w->constant->shape;
        l->params = (int64_t)tensor_numel(w->constant);
    }
    if (set_display_names(g, list, err) < 0) {
        layers_fini(list);
        return -1;
    }
    return 0;
}

void layers_fini(struct layer_list *list)
{
    for (size_t i = 0; list->items && i < list->count; i++)
        free(list->items[i].display);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

const struct layer *layers_lookup(const struct layer_list *list, const char *key)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].name, key) == 0 || strcmp(list->items[i].weight_name, key) == 0)
            return &list->items[i];
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].display && strcmp(list->items[i].display, key) == 0)
            return &list->items[i];
    char *end;
    long idx = strtol(key, &end, 10);
    if (*key && !*end && idx >= 1 && (size_t)idx <= list->count)
        return &list->items[idx - 1];
    return NULL;
}
