/* The host benchmark of bench.h. */
#include "analysis/bench.h"

#include <stdlib.h>
#include <string.h>

#include "core/timer.h"

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct bench_stat bench_stat_of(double *v, size_t n)
{
    struct bench_stat s = {0, 0, 0};
    if (n == 0)
        return s;
    qsort(v, n, sizeof *v, by_value);
    s.min = v[0];
    s.max = v[n - 1];
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

/* One pass over the rows one at a time; ms per row. */
static int one_by_one(struct engine *e, const struct tensor *rows, double *ms, struct err *err)
{
    const struct graph *g = engine_graph(e);
    size_t n = (size_t)rows->shape.dims[0], row_bytes = tensor_bytes(rows) / n;
    struct tensor view = *rows;
    view.owns_data = false;
    view.shape.dims[0] = 1;
    const struct tensor *ins[1] = {&view};
    struct tensor *outs[64] = {NULL};
    /* A model whose file fixes a batch of B runs B rows at a time: one row is padded to B
     * by the row-wise run. */
    bool padded = engine_batch_fixed(e) > 1 && strcmp(engine_batch_mode(e), "re-planned") != 0;
    double t0 = timer_now_s();
    for (size_t r = 0; r < n; r++) {
        view.data = (char *)rows->data + r * row_bytes;
        if ((padded ? engine_run_rows(e, &view, outs, err) : engine_run(e, ins, outs, err)) < 0)
            return -1;
        for (int k = 0; k < g->n_outputs; k++)
            tensor_free(outs[k]);
    }
    *ms = (timer_now_s() - t0) * 1e3 / (double)n;
    return 0;
}

int bench_run(struct engine *e, const struct tensor *rows, size_t repeat, struct bench_result *out,
              struct err *err)
{
    memset(out, 0, sizeof *out);
    const struct graph *g = engine_graph(e);
    if (g->n_inputs != 1)
        return err_set(err, "bench runs models with one input; this one has %d", g->n_inputs);
    if (g->n_outputs > 64)
        return err_set(err, "bench runs models with at most 64 outputs; this one has %d",
                       g->n_outputs);
    if (rows->shape.ndim < 1 || rows->shape.dims[0] < 1 || repeat < 1)
        return err_set(err, "bench needs at least one row and one repeat");
    size_t n = (size_t)rows->shape.dims[0];
    double *one = calloc(repeat, sizeof *one), *many = calloc(repeat, sizeof *many);
    out->node_ms = calloc((size_t)g->n_nodes + 1, sizeof *out->node_ms);
    struct engine_node_time *times = calloc((size_t)g->n_nodes + 1, sizeof *times);
    int rc = -1;
    if (!one || !many || !out->node_ms || !times) {
        err_oom(err, "bench", repeat * sizeof *one);
        goto done;
    }
    out->rows = n;
    out->repeat = repeat;
    out->n_nodes = g->n_nodes;
    double ignored;
    if (one_by_one(e, rows, &ignored, err) < 0) /* plans made and caches warm */
        goto done;
    for (size_t r = 0; r < repeat; r++) {
        if (one_by_one(e, rows, &one[r], err) < 0)
            goto done;
        struct tensor *outs[64] = {NULL};
        double t0 = timer_now_s();
        if (engine_run_rows(e, rows, outs, err) < 0)
            goto done;
        many[r] = (timer_now_s() - t0) * 1e3 / (double)n;
        for (int k = 0; k < g->n_outputs; k++)
            tensor_free(outs[k]);
    }
    /* Per node: the mean over as many timed passes as there were repeats. */
    if (engine_set_timing(e, true, err) < 0)
        goto done;
    int timed = 0;
    for (size_t r = 0; r < repeat && timed == 0; r++)
        timed = one_by_one(e, rows, &ignored, err);
    engine_set_timing(e, false, NULL); /* turning it off cannot fail */
    if (timed < 0)
        goto done;
    engine_node_times(e, times, NULL);
    for (int k = 0; k < g->n_nodes; k++)
        out->node_ms[k] = times[k].ms / (double)(n * repeat);
    out->batch1_ms = bench_stat_of(one, repeat);
    out->batched_ms_per_row = bench_stat_of(many, repeat);
    rc = 0;
done:
    free(one), free(many), free(times);
    if (rc < 0)
        bench_result_fini(out);
    return rc;
}

void bench_result_fini(struct bench_result *r)
{
    free(r->node_ms);
    r->node_ms = NULL;
}
