/* Per-node timing (engine_set_timing, eval --timing): every node that runs is measured and
 * no other, the tables add up, and measuring changes no result. No thresholds on times. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/plan.h"
#include "session/session.h"
#include "testutil.h"

static const char *const MLP = "data/digits_mlp.onnx", *const MLP_CSV = "data/digits.csv";
static const char *const MOBILENET = "tests/fixtures/arch/mobilenet_v2/model.onnx",
                         *const MOBILENET_CSV = "tests/fixtures/arch/mobilenet_v2/data.csv";

/* Whether node n is one of the steps of the plan for the chunks the session runs. */
static bool *step_nodes(struct engine *e)
{
    struct err err;
    const struct plan *p = engine_plan_rows(e, (int64_t)engine_chunk_rows(e), &err);
    cr_assert_not_null(p, "%s", err.msg);
    const struct graph *g = engine_graph(e);
    bool *run = calloc((size_t)g->n_nodes + 1, sizeof *run);
    cr_assert_not_null(run);
    for (int s = 0; s < p->n_steps; s++)
        run[p->steps[s].node] = true;
    return run;
}

/* One timed evaluation of the session's data; times (one per node) and total filled. */
static void timed_eval(struct session *s, struct engine_node_time *times,
                       struct engine_timing *total)
{
    struct err err;
    struct metrics m;
    cr_assert_eq(engine_set_timing(s->engine, true, &err), 0, "%s", err.msg);
    cr_assert(engine_timing_on(s->engine));
    cr_assert_eq(session_eval(s, 0, &m, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(engine_set_timing(s->engine, false, &err), 0);
    cr_assert_not(engine_timing_on(s->engine));
    engine_node_times(s->engine, times, total);
}

static void expect_nodes_that_run_are_timed(const char *model, const char *csv, bool has_folded)
{
    struct session *s = tu_open_session(model, csv, 0, 2);
    const struct graph *g = engine_graph(s->engine);
    struct engine_node_time *times = calloc((size_t)g->n_nodes, sizeof *times);
    cr_assert_not_null(times);
    struct engine_timing total;
    timed_eval(s, times, &total);
    bool *run = step_nodes(s->engine);
    int folded = 0;
    double sum_ms = 0, sum_macs = 0;
    for (int n = 0; n < g->n_nodes; n++) {
        const char *name = g->nodes[n].name;
        cr_expect_geq(times[n].ms, 0.0, "%s: node '%s' took %g ms", model, name, times[n].ms);
        cr_expect(isfinite(times[n].ms), "%s: node '%s'", model, name);
        if (run[n]) {
            cr_expect_gt(times[n].runs, 0, "%s: node '%s' (%s) runs but has no time", model, name,
                         g->nodes[n].op_type);
        } else {
            folded++;
            cr_expect_eq(times[n].runs, 0, "%s: folded node '%s' ran %lu times", model, name,
                         times[n].runs);
            cr_expect_eq(times[n].ms, 0.0, "%s: folded node '%s' has %g ms", model, name,
                         times[n].ms);
        }
        sum_ms += times[n].ms;
        sum_macs += times[n].macs;
    }
    if (has_folded)
        cr_expect_gt(folded, 0, "%s: no folded node to check", model);
    cr_expect_eq(total.nodes_ms, sum_ms, "%s: total %g, nodes %g", model, total.nodes_ms, sum_ms);
    cr_expect_eq(total.calls, 1);
    cr_expect_geq(total.run_ms, 0.0);
    cr_expect(total.workers >= 1 && total.workers <= 2, "%s: %d workers", model, total.workers);
    /* What the ops' macs functions counted is the model's MACs per row over all rows. */
    double want = engine_macs_per_row(s->engine) * (double)s->data->rows;
    cr_expect(fabs(sum_macs - want) <= 1e-9 * want, "%s: %.17g MACs timed, %.17g per row x rows",
              model, sum_macs, want);
    free(run);
    free(times);
    session_free(s);
}

Test(timing, every_node_that_runs_gets_a_time_and_folded_nodes_none, .timeout = 120)
{
    expect_nodes_that_run_are_timed(MLP, MLP_CSV, false);
    expect_nodes_that_run_are_timed(MOBILENET, MOBILENET_CSV, true);
}

Test(timing, turning_it_on_again_starts_from_zero_and_off_measures_nothing, .timeout = 120)
{
    struct session *s = tu_open_session(MOBILENET, MOBILENET_CSV, 0, 2);
    const struct graph *g = engine_graph(s->engine);
    struct engine_node_time *a = calloc((size_t)g->n_nodes, sizeof *a),
                            *b = calloc((size_t)g->n_nodes, sizeof *b);
    cr_assert(a && b);
    struct engine_timing ta, tb;
    timed_eval(s, a, &ta);
    /* An evaluation with timing off adds nothing. */
    struct err err;
    struct metrics m;
    cr_assert_eq(session_eval(s, 0, &m, NULL, &err), 0, "%s", err.msg);
    engine_node_times(s->engine, b, &tb);
    for (int n = 0; n < g->n_nodes; n++)
        cr_expect(b[n].runs == a[n].runs && b[n].ms == a[n].ms, "node '%s' changed while off",
                  g->nodes[n].name);
    cr_expect_eq(tb.calls, ta.calls);
    /* On again: the counts start over, so one more evaluation gives the same counts. */
    timed_eval(s, b, &tb);
    for (int n = 0; n < g->n_nodes; n++)
        cr_expect_eq(b[n].runs, a[n].runs, "node '%s': %lu runs, first time %lu", g->nodes[n].name,
                     b[n].runs, a[n].runs);
    cr_expect_eq(tb.calls, 1);
    free(a);
    free(b);
    session_free(s);
}

/* Runs prunescope -t 2 [--json] -e CMD MODEL CSV; the whole output (caller frees). */
static char *run_cli(const char *model, const char *csv, bool json, const char *cmd)
{
    const char *bin = getenv("PRUNESCOPE_BIN");
    cr_assert_not_null(bin, "PRUNESCOPE_BIN is not set (run through make check)");
    char line[8192];
    snprintf(line, sizeof line, "'%s' %s-t 2 -e '%s' '%s' '%s' 2>&1 </dev/null", bin,
             json ? "--json " : "", cmd, tu_src_path(model), tu_src_path(csv));
    char *out = NULL;
    int status = tu_run_capture(line, &out);
    cr_assert_eq(status, 0, "%s: %s", line, out);
    return out;
}

/* The JSON objects of a --json run, one per line, as an array. */
static json_t *json_lines(char *out)
{
    json_t *all = json_array();
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *obj = json_loads(line, 0, &je);
        cr_assert_not_null(obj, "not JSON: '%s' (%s)", line, je.text);
        json_array_append_new(all, obj);
    }
    return all;
}

/* The eval objects of the run, in order. */
static json_t *evals(const char *model, const char *csv, const char *cmd)
{
    char *out = run_cli(model, csv, true, cmd);
    json_t *all = json_lines(out), *keep = json_array();
    free(out);
    size_t i;
    json_t *obj;
    json_array_foreach(all, i, obj)
    {
        const char *name = json_string_value(json_object_get(obj, "command"));
        cr_assert(!json_object_get(obj, "error"), "%s", json_dumps(obj, 0));
        if (name && strcmp(name, "eval") == 0)
            json_array_append(keep, obj);
    }
    json_decref(all);
    return keep;
}

static double real(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    cr_assert(json_is_number(v), "key %s is not a number", key);
    return json_number_value(v);
}

static void expect_timing_json(const char *model, const json_t *timing)
{
    cr_assert(json_is_object(timing), "%s: no timing object", model);
    const json_t *ops = json_object_get(timing, "ops"), *nodes = json_object_get(timing, "nodes");
    cr_assert(json_is_array(ops) && json_array_size(ops) > 0, "%s: no ops", model);
    cr_assert(json_is_array(nodes) && json_array_size(nodes) > 0, "%s: no nodes", model);
    double nodes_ms = real(timing, "nodes_ms");
    cr_expect_geq(real(timing, "elapsed_ms"), 0.0);
    cr_expect_geq(nodes_ms, 0.0);
    double ops_ms = 0, ops_share = 0, node_ms = 0, node_share = 0, prev = INFINITY;
    json_int_t op_nodes = 0;
    size_t i, k;
    const json_t *o, *n;
    json_array_foreach(ops, i, o)
    {
        const char *op = json_string_value(json_object_get(o, "op"));
        cr_assert_not_null(op);
        double ms = real(o, "ms");
        cr_expect_leq(ms, prev, "%s: ops not sorted by time at %s", model, op);
        prev = ms;
        ops_ms += ms;
        ops_share += real(o, "share");
        op_nodes += json_integer_value(json_object_get(o, "nodes"));
        const json_t *gf = json_object_get(o, "gflops");
        bool dense =
            strcmp(op, "Conv") == 0 || strcmp(op, "Gemm") == 0 || strcmp(op, "MatMul") == 0;
        cr_expect(dense ? json_is_number(gf) : json_is_null(gf), "%s: gflops of %s", model, op);
        /* This op's nodes add up to its row. */
        double sum = 0;
        json_int_t count = 0;
        json_array_foreach(nodes, k, n)
        {
            if (strcmp(json_string_value(json_object_get(n, "op")), op) == 0) {
                sum += real(n, "ms");
                count++;
            }
        }
        cr_expect(fabs(sum - ms) <= 1e-9 * (ms > 1 ? ms : 1), "%s: %s is %.17g ms, its nodes %.17g",
                  model, op, ms, sum);
        cr_expect_eq(count, json_integer_value(json_object_get(o, "nodes")), "%s: %s", model, op);
    }
    prev = INFINITY;
    json_array_foreach(nodes, k, n)
    {
        cr_expect(json_is_string(json_object_get(n, "name")), "%s: node %zu name", model, k);
        cr_expect(json_is_string(json_object_get(n, "node")), "%s: node %zu node", model, k);
        cr_expect(json_is_string(json_object_get(n, "op")), "%s: node %zu op", model, k);
        double ms = real(n, "ms");
        cr_expect_geq(ms, 0.0, "%s: node %zu", model, k);
        cr_expect_leq(ms, prev, "%s: nodes not sorted by time at %zu", model, k);
        prev = ms;
        node_ms += ms;
        node_share += real(n, "share");
    }
    cr_expect_eq(op_nodes, (json_int_t)json_array_size(nodes), "%s", model);
    double tol = 1e-9 * (nodes_ms > 1 ? nodes_ms : 1);
    cr_expect(fabs(ops_ms - nodes_ms) <= tol, "%s: ops %.17g, nodes_ms %.17g", model, ops_ms,
              nodes_ms);
    cr_expect(fabs(node_ms - nodes_ms) <= tol, "%s: nodes %.17g, nodes_ms %.17g", model, node_ms,
              nodes_ms);
    if (nodes_ms > 0) {
        cr_expect(fabs(ops_share - 1) < 1e-9, "%s: op shares add to %.17g", model, ops_share);
        cr_expect(fabs(node_share - 1) < 1e-9, "%s: node shares add to %.17g", model, node_share);
    }
}

Test(timing, per_op_sums_equal_per_node_sums_in_json, .timeout = 120)
{
    const char *models[][2] = {{MLP, MLP_CSV}, {MOBILENET, MOBILENET_CSV}};
    for (size_t i = 0; i < 2; i++) {
        json_t *e = evals(models[i][0], models[i][1], "eval --timing");
        cr_assert_eq(json_array_size(e), 1);
        expect_timing_json(models[i][0], json_object_get(json_array_get(e, 0), "timing"));
        json_decref(e);
    }
}

Test(timing, accuracy_and_correct_rows_are_the_same_with_and_without_timing, .timeout = 120)
{
    const char *models[][2] = {{MLP, MLP_CSV}, {MOBILENET, MOBILENET_CSV}};
    for (size_t i = 0; i < 2; i++) {
        json_t *e = evals(models[i][0], models[i][1], "eval; eval --timing; eval");
        cr_assert_eq(json_array_size(e), 3);
        const json_t *plain = json_array_get(e, 0);
        cr_expect_null(json_object_get(plain, "timing"), "%s: timing without --timing",
                       models[i][0]);
        for (size_t k = 1; k < 3; k++) {
            const json_t *other = json_array_get(e, k);
            cr_expect_eq(real(other, "accuracy"), real(plain, "accuracy"), "%s", models[i][0]);
            cr_expect_eq(json_integer_value(json_object_get(other, "correct")),
                         json_integer_value(json_object_get(plain, "correct")), "%s", models[i][0]);
            cr_expect_eq(real(other, "loss"), real(plain, "loss"), "%s", models[i][0]);
            cr_expect_eq(json_integer_value(json_object_get(other, "rows")),
                         json_integer_value(json_object_get(plain, "rows")), "%s", models[i][0]);
        }
        json_decref(e);
    }
}

Test(timing, eval_timing_text_has_the_tables_and_the_totals, .timeout = 120)
{
    char *plain = run_cli(MOBILENET, MOBILENET_CSV, false, "eval");
    char *out = run_cli(MOBILENET, MOBILENET_CSV, false, "eval --timing");
    /* The usual output comes first, unchanged but for the time it took. */
    const char *acc = strstr(plain, "accuracy  ");
    cr_assert_not_null(acc, "%s", plain);
    cr_expect(strncmp(out, plain, (size_t)(strchr(acc, '\n') - plain)) == 0, "%s", out);
    cr_expect_null(strstr(plain, "time per op type"), "%s", plain);
    const char *ops = strstr(out, "time per op type");
    cr_assert_not_null(ops, "%s", out);
    cr_expect(strstr(ops, "GFLOP/s") && strstr(ops, "share"), "%s", out);
    cr_expect(strstr(ops, "\nConv "), "%s", out);
    const char *slow = strstr(out, "15 slowest nodes of ");
    cr_assert_not_null(slow, "%s", out);
    cr_expect(slow > ops, "%s", out);
    /* 15 rows after the table's header, each with an op, an output shape and a share. */
    const char *row = strchr(strchr(slow, '\n') + 1, '\n') + 1;
    for (int i = 0; i < 15; i++) {
        const char *end = strchr(row, '\n');
        cr_assert_not_null(end, "%s", out);
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(end - row), row);
        cr_expect(strstr(line, "[N,") && strchr(line, '%'), "row %d: '%s'", i + 1, line);
        row = end + 1;
    }
    /* Conv layers are shown by their short names (features.*), not their node paths. */
    cr_expect(strstr(slow, "\nfeatures."), "%s", out);
    const char *nodes = strstr(out, "\nnodes     ");
    cr_assert_not_null(nodes, "%s", out);
    cr_expect(strstr(nodes, "ms elapsed") && strstr(nodes, "\nrest      "), "%s", out);
    free(plain);
    free(out);
}

Test(timing, help_and_usage_name_the_option)
{
    char *out = run_cli(MLP, MLP_CSV, false, "help eval");
    cr_expect(strstr(out, "eval [--top K] [--timing]") && strstr(out, "--timing adds"), "%s", out);
    free(out);
    char *bad = NULL, line[4096];
    snprintf(line, sizeof line, "'%s' -e 'eval --timings' '%s' '%s' 2>&1 </dev/null",
             getenv("PRUNESCOPE_BIN"), tu_src_path(MLP), tu_src_path(MLP_CSV));
    cr_expect_neq(tu_run_capture(line, &bad), 0);
    cr_expect(strstr(bad, "usage: eval [--top K] [--timing]"), "%s", bad);
    free(bad);
}
