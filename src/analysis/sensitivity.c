/* The sensitivity sweep: one full run keeps the activations each layer's downstream graph
 * starts from; each (layer, level) then applies only that layer's pruning (with its group)
 * and re-runs only the nodes downstream of it. Cached as JSON under
 * $XDG_CACHE_HOME/prunescope/. Not allocation or prediction. */
#include "analysis/sensitivity.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/files.h"
#include "core/threadpool.h"
#include "core/timer.h"

void sens_result_fini(struct sens_result *r)
{
    for (size_t i = 0; r->names && i < r->n_layers; i++)
        free(r->names[i]);
    for (size_t i = 0; r->weights && i < r->n_layers; i++)
        free(r->weights[i]);
    free(r->names);
    free(r->weights);
    free(r->methods);
    free(r->row_layer);
    free(r->row_members);
    free(r->layer_row);
    free(r->removed);
    free(r->accuracy);
    free(r->loss);
    free(r->correct);
    memset(r, 0, sizeof *r);
}

/* The method a layer is swept with. */
static struct prune_setting method_of(const struct analysis_subject *s,
                                      const struct sens_options *o, size_t li, double level)
{
    struct prune_setting st = {.sparsity = level};
    if (o->has_method) {
        st.criterion = o->criterion;
        st.granularity = o->granularity;
        if (o->structured)
            st.granularity =
                strcmp(s->layers->items[li].op, "Conv") == 0 ? GRAN_FILTER : GRAN_NEURON;
    } else if (!s->config->global) {
        st.criterion = s->config->settings[li].criterion;
        st.granularity = s->config->settings[li].granularity;
    }
    return st;
}

static bool unit_method(const struct prune_setting *st)
{
    return st->granularity == GRAN_NEURON || st->granularity == GRAN_FILTER;
}

/* The rows: every layer with a method of its own, and for structured methods one row per
 * dependency group that can be pruned, led by its first member with a structured method.
 * Groups that cannot be pruned get no row (their layers stay unpruned in allocations). */
static int alloc_result(struct sens_result *r, const struct analysis_subject *s,
                        const struct sens_options *o, struct err *err)
{
    memset(r, 0, sizeof *r);
    size_t nl = s->layers->count;
    r->n_levels = o->n_levels;
    r->n_model_layers = nl;
    memcpy(r->levels, o->levels, o->n_levels * sizeof *o->levels);
    r->methods = calloc(nl + 1, sizeof *r->methods);
    r->layer_row = calloc(nl + 1, sizeof *r->layer_row);
    r->row_layer = calloc(nl + 1, sizeof *r->row_layer);
    r->row_members = calloc(nl + 1, sizeof *r->row_members);
    if (!r->methods || !r->layer_row || !r->row_layer || !r->row_members)
        return err_oom(err, "sensitivity table", nl);
    for (size_t i = 0; i < nl; i++) {
        r->methods[i] = method_of(s, o, i, 0.0);
        r->layer_row[i] = -1;
    }
    for (size_t i = 0; i < nl; i++) {
        if (!unit_method(&r->methods[i])) {
            r->layer_row[i] = (int)r->n_layers;
            r->row_members[r->n_layers] = 1;
            r->row_layer[r->n_layers++] = i;
            continue;
        }
        const struct prune_group *pg = groups_layer_group(s->groups, i);
        if (!pg) {
            struct err why;
            groups_check_structured(s->groups, s->groups_error, s->layers, i, &why);
            return err_set(err, "%s", why.msg);
        }
        if (pg->blocked || r->layer_row[i] >= 0)
            continue;
        /* i is the group's first member with a structured method: its row covers every
         * member. */
        size_t row = r->n_layers++;
        r->row_layer[row] = i;
        for (size_t m = 0; m < pg->n_members; m++) {
            size_t j = pg->members[m];
            r->layer_row[j] = (int)row;
            r->row_members[row]++;
            r->methods[j].criterion = r->methods[i].criterion;
            r->methods[j].granularity =
                strcmp(s->layers->items[j].op, "Conv") == 0 ? GRAN_FILTER : GRAN_NEURON;
        }
    }
    size_t cells = r->n_layers * r->n_levels + 1;
    r->names = calloc(r->n_layers + 1, sizeof *r->names);
    r->weights = calloc(r->n_layers + 1, sizeof *r->weights);
    r->accuracy = calloc(cells, sizeof *r->accuracy);
    r->loss = calloc(cells, sizeof *r->loss);
    r->correct = calloc(cells, sizeof *r->correct);
    r->removed = calloc(cells, sizeof *r->removed);
    if (!r->names || !r->weights || !r->accuracy || !r->loss || !r->correct || !r->removed)
        return err_oom(err, "sensitivity table", cells * 32);
    for (size_t i = 0; i < r->n_layers; i++) {
        const struct layer *l = &s->layers->items[r->row_layer[i]];
        if (!(r->names[i] = strdup(l->name)) || !(r->weights[i] = strdup(l->weight_name)))
            return err_oom(err, "sensitivity table", 0);
        /* Unstructured rows remove floor(level * n) weights; group rows are counted as
         * they are measured. */
        if (r->row_members[i] == 1 && !unit_method(&r->methods[r->row_layer[i]]))
            for (size_t k = 0; k < r->n_levels; k++)
                r->removed[i * r->n_levels + k] =
                    (double)prune_count(r->levels[k], (size_t)l->params);
    }
    return 0;
}

/* ---- cache ---- */

static int cache_key(const struct analysis_subject *s, const struct sens_options *o, char *key,
                     size_t size, struct err *err)
{
    char shape[128];
    shape_format(&s->row_shape, shape, sizeof shape);
    size_t used = (size_t)snprintf(
        key, size,
        "prunescope-sensitivity-2|%s|%s|label=%s|scale=%.9g|"
        "shape=%s|rows=%zu|seed=%llu|levels=",
        s->model_sha256, s->data_sha256, s->data_opt->label ? s->data_opt->label : "",
        (double)s->data_opt->scale, shape, o->rows, (unsigned long long)s->seed);
    for (size_t i = 0; i < o->n_levels && used < size; i++)
        used += (size_t)snprintf(key + used, size - used, "%s%.17g", i ? "," : "", o->levels[i]);
    for (size_t i = 0; i < s->layers->count && used < size; i++) {
        struct prune_setting st = method_of(s, o, i, 0.0);
        used += (size_t)snprintf(key + used, size - used, "|%s:%s:%s", s->layers->items[i].name,
                                 prune_criterion_name(st.criterion),
                                 prune_granularity_name(st.granularity));
    }
    if (used >= size)
        return err_set(err, "sensitivity cache key too long");
    return 0;
}

static void cache_path(const char *key, char *path, size_t size)
{
    char hex[65];
    files_sha256_text(key, hex);
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(path, size, "%s/prunescope/sensitivity-%.32s.json", xdg, hex);
    else if (home && home[0])
        snprintf(path, size, "%s/.cache/prunescope/sensitivity-%.32s.json", home, hex);
    else
        path[0] = '\0';
}

static json_t *real_array(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

static void cache_write(const struct sens_result *r, const char *key)
{
    if (!r->cache_path[0])
        return;
    json_t *root =
        json_pack("{s:s, s:I, s:f, s:f, s:I, s:o}", "key", key, "rows", (json_int_t)r->rows,
                  "baseline_accuracy", r->baseline_accuracy, "baseline_loss", r->baseline_loss,
                  "baseline_correct", (json_int_t)r->baseline_correct, "levels",
                  real_array(r->levels, r->n_levels));
    json_t *layers = json_array();
    for (size_t i = 0; i < r->n_layers; i++) {
        json_t *correct = json_array();
        for (size_t k = 0; k < r->n_levels; k++)
            json_array_append_new(correct,
                                  json_integer((json_int_t)r->correct[i * r->n_levels + k]));
        json_array_append_new(
            layers, json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", r->names[i], "accuracy",
                              real_array(r->accuracy + i * r->n_levels, r->n_levels), "loss",
                              real_array(r->loss + i * r->n_levels, r->n_levels), "correct",
                              correct, "removed",
                              real_array(r->removed + i * r->n_levels, r->n_levels)));
    }
    json_object_set_new(root, "layers", layers);
    char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!text)
        return;
    /* mkdir -p of the cache directory */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", r->cache_path);
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    struct err ignored;
    files_write_atomic(r->cache_path, text, strlen(text), true, NULL, &ignored);
    free(text);
}

/* Fills r from the cache file when it holds this key; notes why not otherwise. */
static bool cache_read(struct sens_result *r, const char *key)
{
    struct stat st;
    if (!r->cache_path[0] || stat(r->cache_path, &st) != 0)
        return false;
    json_error_t je;
    json_t *root = json_load_file(r->cache_path, 0, &je);
    bool ok = false;
    json_t *layers = root ? json_object_get(root, "layers") : NULL;
    const char *k = root ? json_string_value(json_object_get(root, "key")) : NULL;
    if (!root || !k || !json_is_array(layers) || json_array_size(layers) != r->n_layers) {
        snprintf(r->cache_note, sizeof r->cache_note,
                 "the cache file %s is damaged%s%s; recomputing", r->cache_path, root ? "" : ": ",
                 root ? "" : je.text);
        goto done;
    }
    if (strcmp(k, key) != 0)
        goto done; /* a hash collision of the file name: just recompute */
    r->rows = (size_t)json_integer_value(json_object_get(root, "rows"));
    r->baseline_accuracy = json_number_value(json_object_get(root, "baseline_accuracy"));
    r->baseline_loss = json_number_value(json_object_get(root, "baseline_loss"));
    r->baseline_correct = (size_t)json_integer_value(json_object_get(root, "baseline_correct"));
    for (size_t i = 0; i < r->n_layers; i++) {
        json_t *e = json_array_get(layers, i);
        json_t *acc = json_object_get(e, "accuracy"), *loss = json_object_get(e, "loss");
        json_t *cor = json_object_get(e, "correct"), *rem = json_object_get(e, "removed");
        const char *nm = json_string_value(json_object_get(e, "name"));
        if (json_array_size(acc) != r->n_levels || json_array_size(loss) != r->n_levels ||
            json_array_size(cor) != r->n_levels || json_array_size(rem) != r->n_levels || !nm ||
            strcmp(nm, r->names[i]) != 0) {
            snprintf(r->cache_note, sizeof r->cache_note,
                     "the cache file %s is damaged (layer %zu); recomputing", r->cache_path, i);
            goto done;
        }
        for (size_t l = 0; l < r->n_levels; l++) {
            r->accuracy[i * r->n_levels + l] = json_number_value(json_array_get(acc, l));
            r->loss[i * r->n_levels + l] = json_number_value(json_array_get(loss, l));
            r->correct[i * r->n_levels + l] = (size_t)json_integer_value(json_array_get(cor, l));
            r->removed[i * r->n_levels + l] = json_number_value(json_array_get(rem, l));
        }
    }
    r->layers_done = r->n_layers;
    r->from_cache = true;
    ok = true;
done:
    json_decref(root);
    return ok;
}

/* ---- rows ---- */

static uint64_t mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A seeded sample of n rows, stratified by class: rows of each class in a seeded random
 * order, taken one class after another in turn until n. Sorted, so the sample keeps the
 * file's order. */
static int sample_rows(const struct dataset *d, size_t n, uint64_t seed, size_t *pick,
                       struct err *err)
{
    size_t nc = d->kind == LABEL_CLASS ? d->n_classes : 1;
    size_t *order = malloc(d->rows * sizeof *order), *start = calloc(nc + 1, sizeof *start);
    size_t *next = calloc(nc + 1, sizeof *next);
    uint64_t *keys = malloc(d->rows * sizeof *keys);
    if (!order || !start || !next || !keys) {
        free(order), free(start), free(next), free(keys);
        return err_oom(err, "sample", d->rows * sizeof *order);
    }
    for (size_t i = 0; i < d->rows; i++)
        start[(d->kind == LABEL_CLASS ? (size_t)d->labels[i] : 0) + 1]++;
    for (size_t c = 0; c < nc; c++)
        start[c + 1] += start[c];
    for (size_t i = 0; i < d->rows; i++) {
        size_t c = d->kind == LABEL_CLASS ? (size_t)d->labels[i] : 0;
        order[start[c] + next[c]++] = i;
        keys[i] = mix(seed ^ mix(i));
    }
    /* Shuffle each class by sorting on its random keys (insertion sort per class is too slow
     * for big classes: use qsort on pairs). */
    for (size_t c = 0; c < nc; c++) {
        size_t lo = start[c], hi = start[c + 1];
        for (size_t a = lo + 1; a < hi; a++) { /* keys are distinct with high probability */
            size_t v = order[a], b = a;
            while (b > lo && keys[order[b - 1]] > keys[v]) {
                order[b] = order[b - 1];
                b--;
            }
            order[b] = v;
        }
        next[c] = lo;
    }
    size_t got = 0;
    while (got < n) {
        for (size_t c = 0; c < nc && got < n; c++)
            if (next[c] < start[c + 1])
                pick[got++] = order[next[c]++];
    }
    free(order), free(start), free(next), free(keys);
    /* Back to file order. */
    for (size_t a = 1; a < n; a++) {
        size_t v = pick[a], b = a;
        while (b > 0 && pick[b - 1] > v) {
            pick[b] = pick[b - 1];
            b--;
        }
        pick[b] = v;
    }
    return 0;
}

/* ---- the sweep ---- */

#define MAX_FRONTIER 32

/* Nodes downstream of the start nodes (them included), and the values they read that are
 * computed outside that set (the frontier). */
static int downstream(struct engine *e, const int *starts, int n_starts, bool *run, int *frontier,
                      int *n_frontier, struct err *err)
{
    const struct graph *g = engine_graph(e);
    bool *reach = calloc((size_t)g->n_values + 1, sizeof *reach);
    if (!reach)
        return err_oom(err, "sweep", (size_t)g->n_values);
    memset(run, 0, (size_t)g->n_nodes * sizeof *run);
    int first = g->n_nodes;
    for (int i = 0; i < n_starts; i++) {
        run[starts[i]] = true;
        if (starts[i] < first)
            first = starts[i];
    }
    for (int n = first; n < g->n_nodes; n++) {
        const struct node *nd = &g->nodes[n];
        for (int k = 0; k < nd->n_inputs && !run[n]; k++)
            run[n] = nd->inputs[k] >= 0 && reach[nd->inputs[k]];
        if (run[n])
            for (int o = 0; o < nd->n_outputs; o++)
                if (nd->outputs[o] >= 0)
                    reach[nd->outputs[o]] = true;
    }
    *n_frontier = 0;
    for (int n = first; n < g->n_nodes; n++) {
        if (!run[n])
            continue;
        const struct node *nd = &g->nodes[n];
        for (int k = 0; k < nd->n_inputs; k++) {
            int v = nd->inputs[k];
            if (v < 0 || reach[v] || v == g->inputs[0] || engine_value_known(e, v))
                continue; /* the model's input comes with every run */
            bool seen = false;
            for (int f = 0; f < *n_frontier; f++)
                seen |= frontier[f] == v;
            if (!seen) {
                if (*n_frontier == MAX_FRONTIER) {
                    free(reach);
                    return err_set(err,
                                   "node '%s' has more than %d values flowing into its "
                                   "downstream graph",
                                   g->nodes[first].name, MAX_FRONTIER);
                }
                frontier[(*n_frontier)++] = v;
            }
        }
    }
    free(reach);
    return 0;
}

/* The nodes whose inputs a row's pruning changes: its layer, and for a group the other
 * members, every layer reading the group's channels and every node reading a per-channel
 * constant of the group. nodes has room for n_nodes entries; returns the count. */
static int row_starts(const struct analysis_subject *s, const struct sens_result *r, size_t row,
                      int *nodes)
{
    size_t li = r->row_layer[row];
    int n = 0;
    nodes[n++] = s->layers->items[li].node;
    const struct prune_group *pg = groups_layer_group(s->groups, li);
    if (r->row_members[row] == 1 && !unit_method(&r->methods[li]))
        return n;
    if (!pg)
        return n;
    const struct group_set *gs = s->groups;
    int gi = (int)(pg - gs->groups);
    int n_nodes = engine_graph(s->engine)->n_nodes;
    bool *mark = calloc((size_t)n_nodes + 1, sizeof *mark);
    if (!mark)
        return n; /* the member's own downstream still covers most; measured as such */
    mark[nodes[0]] = true;
    for (size_t j = 0; j < s->layers->count; j++) {
        bool hit = gs->layer_group[j] == gi;
        for (size_t k = 0; !hit && gs->in_unit[j] && k < gs->in_count[j]; k++)
            hit = gs->in_unit[j][k] >= 0 && gs->unit_group[gs->in_unit[j][k]] == gi;
        if (hit)
            mark[s->layers->items[j].node] = true;
    }
    for (size_t k = 0; k < gs->n_consts; k++)
        for (size_t i = 0; i < gs->consts[k].len; i++) {
            int u = gs->consts[k].unit[i];
            if (u >= 0 && gs->unit_group[u] == gi) {
                mark[gs->consts[k].node] = true;
                break;
            }
        }
    for (int v = 0; v < n_nodes; v++)
        if (mark[v] && v != nodes[0])
            nodes[n++] = v;
    free(mark);
    return n;
}

static size_t prunable_zeros(const struct analysis_subject *s)
{
    const struct graph *g = engine_graph(s->engine);
    size_t z = 0;
    for (size_t i = 0; i < s->layers->count; i++)
        z += prune_zeros(g, &s->layers->items[i]);
    return z;
}

/* Below this many multiply-adds a whole run stays on one thread (as in the engine), so a
 * sweep shares its (layer, level) pairs out between two subjects instead. */
#define SMALL_RUN_MACS 2097152.0

/* What the threads of one sweep share. */
struct sweep {
    const struct analysis_subject *s;
    const struct sens_options *o;
    struct sens_result *r;
    const struct tensor *input;
    const struct dataset *d;
    size_t n_out;
    const bool *runs;        /* per layer, the nodes its levels run (n_nodes each) */
    int *frontier, *n_front; /* MAX_FRONTIER per row, and their counts */
    size_t base_zeros;       /* prunable weights that are 0 with nothing pruned */
    int *cap_values;
    struct tensor **captured; /* the baseline run's activations (read only) */
    int n_cap;
    struct metrics base;
    size_t total;
    sens_progress_fn progress;
    void *ctx;
    double t0;
    atomic_size_t next_task, done_evals;
    atomic_int stop;  /* a thread failed or was cancelled */
    atomic_int ready; /* the baseline run's activations are kept */
    atomic_size_t *levels_done; /* per layer */
    size_t reported; /* the last count the reporting thread showed */
};

/* Sweep (layer, level) pairs taken one at a time from the shared counter, in layer order,
 * on subject ss (the sweep's own or its twin, whose graph has the same node and value
 * numbers), which only this thread uses. */
static int sweep_layers(struct sweep *sw, const struct analysis_subject *ss, bool report,
                        struct err *err)
{
    const struct graph *g = engine_graph(ss->engine);
    const struct sens_options *o = sw->o;
    struct sens_result *r = sw->r;
    size_t nl = ss->layers->count, n_rows = r->n_layers;
    struct prune_setting *settings = calloc(nl + 1, sizeof *settings);
    struct prune_config cfg = {.settings = settings};
    const struct tensor *bind[MAX_FRONTIER];
    struct engine_rows_opts part = {.bind = bind};
    size_t cur = (size_t)-1; /* the layer part and bind[] are for */
    int rc = 0;
    if (!settings) {
        atomic_store(&sw->stop, 1);
        return err_oom(err, "sweep", nl);
    }
    for (;;) {
        size_t task = atomic_fetch_add(&sw->next_task, 1);
        if (task >= n_rows * o->n_levels)
            break;
        size_t li = task / o->n_levels, lv = task % o->n_levels;
        if ((sw->s->cancel && *sw->s->cancel) || atomic_load(&sw->stop)) {
            err_set(err, "cancelled");
            err->code = ERR_CANCELLED;
            rc = -1;
            break;
        }
        if (o->levels[lv] != 0.0) { /* level 0 is the baseline, filled in at the end */
            /* Layers downstream of others read the baseline run's activations. */
            while (sw->n_front[li] > 0 && !atomic_load(&sw->ready) && !atomic_load(&sw->stop) &&
                   !(sw->s->cancel && *sw->s->cancel))
                sched_yield();
            if (sw->n_front[li] > 0 && !atomic_load(&sw->ready)) {
                err_set(err, "cancelled");
                err->code = ERR_CANCELLED;
                rc = -1;
                break;
            }
            if (li != cur) {
                const int *front = sw->frontier + li * MAX_FRONTIER;
                for (int f = 0; f < sw->n_front[li]; f++)
                    for (int c = 0; c < sw->n_cap; c++)
                        if (sw->cap_values[c] == front[f])
                            bind[f] = sw->captured[c];
                part.run_node = sw->runs + li * (size_t)g->n_nodes;
                part.n_bind = sw->n_front[li];
                part.bind_values = front;
                memset(settings, 0, nl * sizeof *settings);
                cur = li;
            }
            size_t lay = r->row_layer[li];
            settings[lay] = r->methods[lay];
            settings[lay].sparsity = o->levels[lv];
            struct metrics ml;
            struct tensor *outs[64] = {NULL};
            if (ss->ops->apply(ss->ctx, &cfg, err) < 0 ||
                engine_run_rows_ex(ss->engine, sw->input, &part, outs, err) < 0) {
                rc = -1; /* Ctrl-C inside a run: ERR_CANCELLED */
                break;
            }
            if (r->row_members[li] > 1 || unit_method(&r->methods[lay]))
                r->removed[task] = (double)prunable_zeros(ss) - (double)sw->base_zeros;
            rc = metrics_compute(tensor_f32(outs[0]), sw->d->rows, sw->n_out, ss->output_kind,
                                 sw->d, 0, &ml, err);
            for (int k = 0; k < g->n_outputs; k++)
                tensor_free(outs[k]);
            if (rc < 0)
                break;
            r->accuracy[task] = ml.accuracy;
            r->loss[task] = ml.loss;
            r->correct[task] = ml.correct;
        }
        atomic_fetch_add(&sw->levels_done[li], 1);
        size_t done = atomic_fetch_add(&sw->done_evals, 1) + 1;
        if (report && sw->progress && done > sw->reported) {
            sw->reported = done;
            sw->progress(sw->ctx, done, sw->total, timer_now_s() - sw->t0);
        }
    }
    if (rc < 0)
        atomic_store(&sw->stop, 1);
    free(settings);
    return rc;
}

struct helper_arg {
    struct sweep *sw;
    const struct analysis_subject *twin;
    int rc;
    struct err err;
};

static void *helper_main(void *p)
{
    struct helper_arg *a = p;
    a->rc = sweep_layers(a->sw, a->twin, false, &a->err);
    return NULL;
}

int sens_run(const struct analysis_subject *s, const struct sens_options *o,
             sens_progress_fn progress, void *ctx, struct sens_result *r, struct err *err)
{
    memset(r, 0, sizeof *r);
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    if (!s->data)
        return err_set(err, "no data is loaded (use: data FILE.csv)");
    if (o->n_levels == 0)
        return err_set(err, "the list of levels is empty");
    for (size_t i = 0; i < o->n_levels; i++)
        if (!(o->levels[i] >= 0.0 && o->levels[i] < 1.0))
            return err_set(err, "level %g is outside [0, 1)", o->levels[i]);
    if (o->rows > s->data->rows)
        return err_set(err, "--rows %zu is more than the %zu rows of %s", o->rows, s->data->rows,
                       s->data_path);
    if (s->layers->count == 0)
        return err_set(err, "the model has no prunable layers");
    const struct graph *g = engine_graph(s->engine);
    if (g->n_outputs > 64)
        return err_set(err, "a sweep runs models with at most 64 outputs; this one has %d",
                       g->n_outputs);
    /* Every layer must take its method. */
    for (size_t i = 0; i < s->layers->count; i++) {
        struct prune_setting st = method_of(s, o, i, o->levels[o->n_levels - 1]);
        if (prune_check(g, &s->layers->items[i], &st, err) < 0)
            return -1;
    }
    if (alloc_result(r, s, o, err) < 0) {
        sens_result_fini(r);
        return -1;
    }
    double t0 = timer_now_s();
    char key[16384];
    if (cache_key(s, o, key, sizeof key, err) < 0) {
        sens_result_fini(r);
        return -1;
    }
    cache_path(key, r->cache_path, sizeof r->cache_path);
    if (!o->fresh && cache_read(r, key)) {
        r->elapsed_ms = (timer_now_s() - t0) * 1e3;
        return 0;
    }

    /* The rows: all, or a stratified sample in a dataset of their own. */
    struct dataset sub = *s->data;
    const struct dataset *d = s->data;
    size_t *pick = NULL;
    int rc = -1;
    struct tensor *captured[MAX_FRONTIER * 64] = {NULL};
    int cap_values[MAX_FRONTIER * 64];
    int n_cap = 0;
    /* Per layer, the nodes downstream of it: what each of its levels runs. */
    bool *run = calloc(s->layers->count * (size_t)g->n_nodes + 1, sizeof *run);
    struct prune_config cfg = {0};
    if (!run || prune_config_copy(s->config, s->layers->count, &cfg, err) < 0)
        goto done;
    cfg.global = false;
    sub.features = NULL;
    sub.labels = NULL;
    sub.values = NULL;
    sub.row_line = NULL;
    if (o->rows && o->rows < s->data->rows) {
        size_t nf = s->data->n_features;
        pick = malloc(o->rows * sizeof *pick);
        sub.rows = o->rows;
        sub.features = malloc(o->rows * nf * sizeof *sub.features);
        sub.row_line = malloc(o->rows * sizeof *sub.row_line);
        if (s->data->labels)
            sub.labels = malloc(o->rows * sizeof *sub.labels);
        if (s->data->values)
            sub.values = malloc(o->rows * sizeof *sub.values);
        if (!pick || !sub.features || !sub.row_line || (s->data->labels && !sub.labels) ||
            (s->data->values && !sub.values)) {
            err_oom(err, "sample", o->rows * nf * sizeof *sub.features);
            goto done;
        }
        if (sample_rows(s->data, o->rows, s->seed, pick, err) < 0)
            goto done;
        for (size_t i = 0; i < o->rows; i++) {
            memcpy(sub.features + i * nf, s->data->features + pick[i] * nf, nf * sizeof(float));
            sub.row_line[i] = s->data->row_line[pick[i]];
            if (sub.labels)
                sub.labels[i] = s->data->labels[pick[i]];
            if (sub.values)
                sub.values[i] = s->data->values[pick[i]];
        }
        d = &sub;
    }
    r->rows = d->rows;
    struct tensor input = {.dtype = DTYPE_FLOAT, .data = d->features};
    input.shape.ndim = s->row_shape.ndim + 1;
    input.shape.dims[0] = (int64_t)d->rows;
    for (int k = 0; k < s->row_shape.ndim; k++)
        input.shape.dims[k + 1] = s->row_shape.dims[k];

    /* Frontier of every row; the baseline run keeps all of them. */
    size_t n_rows = r->n_layers;
    int *frontier = calloc(n_rows * MAX_FRONTIER + 1, sizeof *frontier);
    int *n_front = calloc(n_rows + 1, sizeof *n_front);
    int *starts = calloc((size_t)g->n_nodes + 1, sizeof *starts);
    if (!frontier || !n_front || !starts) {
        free(frontier), free(n_front), free(starts);
        err_oom(err, "sweep", 0);
        goto done;
    }
    for (size_t li = 0; li < n_rows; li++) {
        int n_starts = row_starts(s, r, li, starts);
        if (downstream(s->engine, starts, n_starts, run + li * (size_t)g->n_nodes,
                       frontier + li * MAX_FRONTIER, &n_front[li], err) < 0) {
            free(frontier), free(n_front), free(starts);
            goto done;
        }
        for (int f = 0; f < n_front[li]; f++) {
            int v = frontier[li * MAX_FRONTIER + f];
            bool seen = false;
            for (int c = 0; c < n_cap; c++)
                seen |= cap_values[c] == v;
            if (!seen && n_cap == MAX_FRONTIER * 64) {
                free(frontier), free(n_front);
                err_set(err, "too many activations to keep for the sweep");
                goto done;
            }
            if (!seen)
                cap_values[n_cap++] = v;
        }
    }
    free(starts);
    size_t n_out = engine_outputs_per_row(s->engine);
    struct sweep sw = {.s = s,
                       .o = o,
                       .r = r,
                       .input = &input,
                       .d = d,
                       .runs = run,
                       .n_out = n_out,
                       .frontier = frontier,
                       .n_front = n_front,
                       .cap_values = cap_values,
                       .captured = captured,
                       .n_cap = n_cap,
                       .total = n_rows * o->n_levels,
                       .progress = progress,
                       .ctx = ctx,
                       .t0 = t0};
    atomic_init(&sw.next_task, 0);
    atomic_init(&sw.done_evals, 0);
    atomic_init(&sw.stop, 0);
    atomic_init(&sw.ready, 0);
    sw.levels_done = calloc(n_rows + 1, sizeof *sw.levels_done);
    if (sw.levels_done)
        for (size_t i = 0; i < n_rows; i++)
            atomic_init(&sw.levels_done[i], 0);
    if (!sw.levels_done) {
        free(frontier), free(n_front);
        err_oom(err, "sweep", s->layers->count);
        goto done;
    }
    /* Runs too small to share out by rows share out by (layer, level) pairs: a twin subject
     * (weights and engine of its own) takes pairs on a second thread, starting with those
     * of layers that read only the model's input while this thread makes the baseline run
     * that keeps the activations the others need. */
    struct analysis_subject twin;
    bool have_twin = false, taylor = false;
    for (size_t i = 0; i < s->layers->count; i++)
        taylor |= prune_criterion_scored(r->methods[i].criterion);
    double work = (double)d->rows * engine_macs_per_row(s->engine);
    if (s->threads != 1 && pool_cpu_count() > 1 && sw.total > 1 && !taylor &&
        work < SMALL_RUN_MACS) {
        struct err ignored;
        have_twin = s->ops->twin(s->ctx, &twin, &ignored) == 0;
    }
    pthread_t helper;
    struct helper_arg ha = {.sw = &sw, .twin = &twin, .rc = 0};
    bool helping = have_twin && pthread_create(&helper, NULL, helper_main, &ha) == 0;

    memset(cfg.settings, 0, s->layers->count * sizeof *cfg.settings);
    struct tensor *outs[64] = {NULL};
    struct engine_rows_opts base = {
        .n_capture = n_cap, .capture_values = cap_values, .captured = captured};
    int mrc = -1;
    bool base_ok = s->ops->apply(s->ctx, &cfg, err) == 0;
    sw.base_zeros = prunable_zeros(s);
    if (base_ok && engine_run_rows_ex(s->engine, &input, &base, outs, err) == 0) {
        mrc = metrics_compute(tensor_f32(outs[0]), d->rows, n_out, s->output_kind, d, 0,
                              &sw.base, err);
        for (int k = 0; k < g->n_outputs; k++)
            tensor_free(outs[k]);
    }
    if (mrc < 0) {
        atomic_store(&sw.stop, 1);
        if (helping)
            pthread_join(helper, NULL);
        free(sw.levels_done);
        free(frontier), free(n_front);
        goto done;
    }
    atomic_store(&sw.ready, 1);
    r->baseline_accuracy = sw.base.accuracy;
    r->baseline_loss = sw.base.loss;
    r->baseline_correct = sw.base.correct;
    mrc = sweep_layers(&sw, s, true, err);
    if (helping)
        pthread_join(helper, NULL);
    /* Level 0 prunes nothing: the baseline. */
    for (size_t li = 0; li < n_rows; li++)
        for (size_t lv = 0; lv < o->n_levels; lv++)
            if (o->levels[lv] == 0.0) {
                r->accuracy[li * o->n_levels + lv] = sw.base.accuracy;
                r->loss[li * o->n_levels + lv] = sw.base.loss;
                r->correct[li * o->n_levels + lv] = sw.base.correct;
            }
    size_t all = atomic_load(&sw.done_evals);
    if (progress && all > sw.reported)
        progress(ctx, all, sw.total, timer_now_s() - t0); /* the helper finished last */
    bool failed = mrc < 0 && err->code != ERR_CANCELLED;
    if (!failed && helping && ha.rc < 0 && ha.err.code != ERR_CANCELLED) {
        *err = ha.err;
        failed = true;
    }
    bool cancelled = !failed && (mrc < 0 || (helping && ha.rc < 0));
    while (r->layers_done < n_rows &&
           atomic_load(&sw.levels_done[r->layers_done]) == o->n_levels)
        r->layers_done++;
    free(sw.levels_done);
    free(frontier);
    free(n_front);
    if (failed)
        goto done;
    r->elapsed_ms = (timer_now_s() - t0) * 1e3;
    if (!cancelled)
        cache_write(r, key);
    else
        snprintf(r->cache_note, sizeof r->cache_note,
                 "cancelled after %zu of %zu rows; nothing cached", r->layers_done, n_rows);
    rc = 0;
done : {
    struct err ignored;
    if (s->engine && s->config->settings)
        s->ops->apply(s->ctx, s->config, &ignored);
}
    for (int c = 0; c < n_cap; c++)
        tensor_free(captured[c]);
    free(cfg.settings);
    free(run);
    free(pick);
    if (d == &sub) {
        free(sub.features), free(sub.labels), free(sub.values), free(sub.row_line);
    }
    if (rc < 0)
        sens_result_fini(r);
    return rc;
}

int sens_write_csv(const struct sens_result *r, const char *path, bool force, const char *protect,
                   struct err *err)
{
    size_t cap = 256 + r->n_layers * r->n_levels * 256, used = 0;
    char *text = malloc(cap);
    if (!text)
        return err_oom(err, "curve", cap);
    used += (size_t)snprintf(text, cap, "layer,weight,level,accuracy,correct,rows,loss\n");
    for (size_t i = 0; i < r->layers_done; i++)
        for (size_t l = 0; l < r->n_levels; l++) {
            size_t at = i * r->n_levels + l;
            /* Layer names may hold commas or quotes: quote them as RFC 4180 says. */
            used += (size_t)snprintf(text + used, cap - used, "\"");
            for (const char *p = r->names[i]; *p && used + 2 < cap; p++) {
                if (*p == '"')
                    text[used++] = '"';
                text[used++] = *p;
            }
            used += (size_t)snprintf(text + used, cap - used, "\",%s,%.6g,%.9g,%zu,%zu,%.9g\n",
                                     r->weights[i], r->levels[l], r->accuracy[at], r->correct[at],
                                     r->rows, r->loss[at]);
        }
    int rc = files_write_atomic(path, text, used, force, protect, err);
    free(text);
    return rc;
}
