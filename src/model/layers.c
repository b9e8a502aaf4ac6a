/* Discovery of prunable layers (Gemm, MatMul with a constant weight, Conv) and lookup by
 * name or index. Not pruning. */
#include "model/layers.h"

#include <stdlib.h>
#include <string.h>

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
    return 0;
}

void layers_fini(struct layer_list *list)
{
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

const struct layer *layers_lookup(const struct layer_list *list, const char *key)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].name, key) == 0 || strcmp(list->items[i].weight_name, key) == 0)
            return &list->items[i];
    char *end;
    long idx = strtol(key, &end, 10);
    if (*key && !*end && idx >= 1 && (size_t)idx <= list->count)
        return &list->items[idx - 1];
    return NULL;
}
