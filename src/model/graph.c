/* Graph IR storage: values, nodes, attributes, lookup and topological ordering.
 * Not for reading files (onnx_reader.c) or inferring shapes (shape_infer.c). */
#include "model/graph.h"

#include <stdlib.h>
#include <string.h>

struct graph *graph_new(struct err *err)
{
    struct graph *g = calloc(1, sizeof *g);
    if (!g)
        err_oom(err, "graph", sizeof *g);
    return g;
}

void attr_fini(struct attr *a)
{
    free(a->name);
    free(a->s);
    free(a->floats);
    free(a->ints);
    tensor_free(a->t);
}

void node_fini(struct node *n)
{
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->inputs);
    free(n->outputs);
    for (int i = 0; i < n->n_attrs; i++)
        attr_fini(&n->attrs[i]);
    free(n->attrs);
}

void graph_free(struct graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_values; i++) {
        free(g->values[i].name);
        for (int d = 0; d < TENSOR_MAX_DIMS; d++)
            free(g->values[i].dim_param[d]);
        tensor_free(g->values[i].constant);
    }
    free(g->values);
    for (int i = 0; i < g->n_nodes; i++)
        node_fini(&g->nodes[i]);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->name);
    free(g->producer);
    free(g);
}

int graph_find_value(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0)
            return i;
    return -1;
}

int graph_intern_value(struct graph *g, const char *name, struct err *err)
{
    int id = graph_find_value(g, name);
    if (id >= 0)
        return id;
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? 2 * g->cap_values : 32;
        struct value *v = realloc(g->values, (size_t)cap * sizeof *v);
        if (!v)
            return err_oom(err, "graph values", (size_t)cap * sizeof *v);
        g->values = v;
        g->cap_values = cap;
    }
    struct value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    if (!v->name)
        return err_oom(err, "value name", strlen(name) + 1);
    v->producer = -1;
    return g->n_values++;
}

int graph_add_node(struct graph *g, struct node *n, struct err *err)
{
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 32;
        struct node *p = realloc(g->nodes, (size_t)cap * sizeof *p);
        if (!p)
            return err_oom(err, "graph nodes", (size_t)cap * sizeof *p);
        g->nodes = p;
        g->cap_nodes = cap;
    }
    g->nodes[g->n_nodes] = *n;
    memset(n, 0, sizeof *n);
    return g->n_nodes++;
}

static bool is_graph_input(const struct graph *g, int id)
{
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == id)
            return true;
    return false;
}

/* Kahn's algorithm over the node list, keeping the file's order among ready nodes so a
 * model that is already sorted keeps its order exactly. */
int graph_sort(struct graph *g, struct err *err)
{
    int n = g->n_nodes;
    for (int v = 0; v < g->n_values; v++)
        g->values[v].producer = -1;
    for (int i = 0; i < n; i++) {
        for (int o = 0; o < g->nodes[i].n_outputs; o++) {
            int v = g->nodes[i].outputs[o];
            if (v < 0)
                continue;
            if (g->values[v].producer >= 0)
                return err_set(err, "value '%s' is produced by two nodes ('%s' and '%s')",
                               g->values[v].name, g->nodes[g->values[v].producer].name,
                               g->nodes[i].name);
            if (g->values[v].constant || is_graph_input(g, v))
                return err_set(err,
                               "node '%s' (%s) writes '%s', which is a graph input or "
                               "initializer",
                               g->nodes[i].name, g->nodes[i].op_type, g->values[v].name);
            g->values[v].producer = i;
        }
    }
    for (int i = 0; i < n; i++) {
        const struct node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++) {
            int v = nd->inputs[k];
            if (v < 0)
                continue;
            if (g->values[v].producer < 0 && !g->values[v].constant && !is_graph_input(g, v))
                return err_set(err,
                               "node '%s' (%s) reads '%s', which no node produces and "
                               "which is neither an initializer nor a graph input",
                               nd->name, nd->op_type, g->values[v].name);
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        if (g->values[v].producer < 0 && !g->values[v].constant && !is_graph_input(g, v))
            return err_set(err,
                           "graph output '%s' is produced by no node and is neither an "
                           "initializer nor a graph input",
                           g->values[v].name);
    }
    bool *placed = calloc((size_t)n + 1, sizeof *placed);
    struct node *sorted = malloc(((size_t)n + 1) * sizeof *sorted);
    int *new_index = malloc(((size_t)n + 1) * sizeof *new_index);
    if (!placed || !sorted || !new_index) {
        free(placed);
        free(sorted);
        free(new_index);
        return err_oom(err, "node ordering", (size_t)n * sizeof *sorted);
    }
    int done = 0;
    while (done < n) {
        int progress = 0;
        for (int i = 0; i < n; i++) {
            if (placed[i])
                continue;
            bool ready = true;
            const struct node *nd = &g->nodes[i];
            for (int k = 0; k < nd->n_inputs && ready; k++) {
                int v = nd->inputs[k];
                if (v >= 0 && g->values[v].producer >= 0 && !placed[g->values[v].producer])
                    ready = false;
            }
            if (!ready)
                continue;
            placed[i] = true;
            new_index[i] = done;
            sorted[done++] = *nd;
            progress++;
        }
        if (!progress) {
            int stuck = 0;
            while (placed[stuck])
                stuck++;
            err_set(err, "the graph has a cycle through node '%s' (%s)", g->nodes[stuck].name,
                    g->nodes[stuck].op_type);
            free(placed);
            free(sorted);
            free(new_index);
            return -1;
        }
    }
    if (n > 0) /* a graph of no nodes has no node array: memcpy must not see its NULL */
        memcpy(g->nodes, sorted, (size_t)n * sizeof *sorted);
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].producer >= 0)
            g->values[v].producer = new_index[g->values[v].producer];
    free(placed);
    free(sorted);
    free(new_index);
    return 0;
}

const struct attr *node_attr(const struct node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t node_attr_int(const struct node *n, const char *name, int64_t dflt)
{
    const struct attr *a = node_attr(n, name);
    return a && a->type == ATTR_INT ? a->i : dflt;
}

float node_attr_float(const struct node *n, const char *name, float dflt)
{
    const struct attr *a = node_attr(n, name);
    if (!a)
        return dflt;
    if (a->type == ATTR_FLOAT)
        return a->f;
    if (a->type == ATTR_INT)
        return (float)a->i;
    return dflt;
}

const char *node_attr_string(const struct node *n, const char *name, const char *dflt)
{
    const struct attr *a = node_attr(n, name);
    return a && a->type == ATTR_STRING && a->s ? a->s : dflt;
}

const int64_t *node_attr_ints(const struct node *n, const char *name, size_t *count)
{
    const struct attr *a = node_attr(n, name);
    if (!a || a->type != ATTR_INTS) {
        *count = 0;
        return NULL;
    }
    *count = a->n;
    return a->ints;
}

size_t graph_param_count(const struct graph *g)
{
    size_t total = 0;
    for (int i = 0; i < g->n_values; i++) {
        const struct tensor *t = g->values[i].constant;
        if (t && t->dtype == DTYPE_FLOAT)
            total += tensor_numel(t);
    }
    return total;
}
