/* The graph IR: value interning, topological ordering and its failure messages. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "model/graph.h"

/* Adds node `name` computing out = op(in...). */
static void add(struct graph *g, const char *name, const char *op, const char *in0, const char *in1,
                const char *out)
{
    struct err err;
    struct node n = {0};
    n.name = strdup(name);
    n.op_type = strdup(op);
    n.domain = strdup("");
    n.inputs = malloc(2 * sizeof *n.inputs);
    n.outputs = malloc(sizeof *n.outputs);
    n.inputs[n.n_inputs++] = graph_intern_value(g, in0, &err);
    if (in1)
        n.inputs[n.n_inputs++] = graph_intern_value(g, in1, &err);
    n.outputs[n.n_outputs++] = graph_intern_value(g, out, &err);
    cr_assert_geq(graph_add_node(g, &n, &err), 0);
}

static struct graph *graph_with_input(const char *name)
{
    struct err err;
    struct graph *g = graph_new(&err);
    g->inputs = malloc(sizeof *g->inputs);
    g->inputs[g->n_inputs++] = graph_intern_value(g, name, &err);
    return g;
}

Test(graph, sort_puts_producers_before_consumers)
{
    struct graph *g = graph_with_input("x");
    add(g, "second", "Relu", "h", NULL, "y");
    add(g, "first", "Relu", "x", NULL, "h");
    struct err err;
    cr_assert_eq(graph_sort(g, &err), 0, "%s", err.msg);
    cr_expect_str_eq(g->nodes[0].name, "first");
    cr_expect_str_eq(g->nodes[1].name, "second");
    cr_expect_eq(g->values[graph_find_value(g, "y")].producer, 1);
    graph_free(g);
}

Test(graph, sort_reports_a_cycle_with_a_node_name)
{
    struct graph *g = graph_with_input("x");
    add(g, "a", "Add", "x", "c", "b");
    add(g, "b", "Relu", "b", NULL, "c");
    struct err err;
    cr_expect_eq(graph_sort(g, &err), -1);
    cr_expect(strstr(err.msg, "cycle"), "%s", err.msg);
    graph_free(g);
}

Test(graph, sort_names_an_input_that_nothing_produces)
{
    struct graph *g = graph_with_input("x");
    add(g, "lonely", "Add", "x", "nowhere", "y");
    struct err err;
    cr_expect_eq(graph_sort(g, &err), -1);
    cr_expect(strstr(err.msg, "lonely") && strstr(err.msg, "nowhere"), "%s", err.msg);
    graph_free(g);
}

Test(graph, attributes_fall_back_to_defaults)
{
    struct attr at[] = {{.name = "axis", .type = ATTR_INT, .i = -1},
                        {.name = "alpha", .type = ATTR_FLOAT, .f = 0.25f}};
    struct node n = {.name = "n", .op_type = "X", .n_attrs = 2, .attrs = at};
    cr_expect_eq(node_attr_int(&n, "axis", 1), -1);
    cr_expect_eq(node_attr_int(&n, "missing", 7), 7);
    cr_expect_eq(node_attr_float(&n, "alpha", 1.0f), 0.25f);
    size_t cnt = 99;
    cr_expect_null(node_attr_ints(&n, "pads", &cnt));
    cr_expect_eq(cnt, 0);
}
