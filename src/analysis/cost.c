/* The cost model of cost.h: per step of the one-row plan, compute against memory time and
 * energy on a profile, and the activation arena of a greedy-by-size planner. */
#include "analysis/cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune/prune.h"

static const char *const STORAGE_NAMES[] = {"dense-fp32", "dense-fp16", "dense-int8", "csr",
                                            "bitmask",    "nm",         "block"};

const char *storage_name(enum storage st)
{
    return STORAGE_NAMES[st];
}

int storage_parse(const char *name, enum storage *out)
{
    for (int i = 0; i < 7; i++)
        if (strcmp(name, STORAGE_NAMES[i]) == 0) {
            *out = (enum storage)i;
            return 0;
        }
    return -1;
}

static double dtype_bytes(enum cost_dtype d)
{
    return d == COST_INT8 ? 1.0 : d == COST_FP16 ? 2.0 : 4.0;
}

size_t cost_index_bytes(size_t max)
{
    return max <= 0xFF ? 1 : max <= 0xFFFF ? 2 : max <= 0xFFFFFFFFu ? 4 : 8;
}

double cost_csr_bytes(size_t nnz, size_t units, size_t inputs)
{
    return (double)(4 * nnz + nnz * cost_index_bytes(inputs ? inputs - 1 : 0) +
                    (units + 1) * cost_index_bytes(nnz));
}

int cost_layer_kept(const struct graph *g, const struct layer *l, struct cost_kept *out,
                    struct err *err)
{
    const struct tensor *t = g->values[l->weight].constant;
    if (!t || t->dtype != DTYPE_FLOAT)
        return err_set(err, "layer '%s' has no float weight", l->name);
    const float *w = tensor_f32(t);
    size_t n = tensor_numel(t), nnz = 0;
    for (size_t i = 0; i < n; i++)
        nnz += w[i] != 0.0f;
    out->kept_fraction = 1.0;
    out->density = n ? (double)nnz / (double)n : 1.0;
    struct weight_view v;
    struct err ignored;
    if (n == 0 || prune_view(g, l, &v, &ignored) < 0 || v.units == 0 || v.channels == 0)
        return 0; /* no unit structure to remove along */
    bool *unit_live = calloc(v.units, sizeof *unit_live);
    bool *chan_live = calloc(v.channels, sizeof *chan_live);
    if (!unit_live || !chan_live) {
        free(unit_live), free(chan_live);
        return err_oom(err, "cost", v.units + v.channels);
    }
    /* Input i is tap i % kvol of channel (i / kvol) % channels: walked channel by channel,
     * without a division per weight (resnet18's 11 million weights at every eval). */
    const size_t kv = v.kvol ? v.kvol : 1, groups = v.inputs / kv;
    for (size_t u = 0; u < v.units; u++) {
        const float *row = w + u * v.unit_stride;
        for (size_t q = 0, i = 0; q < groups; q++) {
            bool any = false;
            for (size_t k = 0; k < kv; k++, i++)
                any |= row[i * v.in_stride] != 0.0f;
            if (any) {
                unit_live[u] = true;
                chan_live[q % v.channels] = true;
            }
        }
        for (size_t i = groups * kv; i < v.inputs; i++) /* none when kvol divides inputs */
            if (row[i * v.in_stride] != 0.0f) {
                unit_live[u] = true;
                chan_live[(i / kv) % v.channels] = true;
            }
    }
    size_t units = 0, chans = 0;
    for (size_t u = 0; u < v.units; u++)
        units += unit_live[u];
    for (size_t c = 0; c < v.channels; c++)
        chans += chan_live[c];
    free(unit_live), free(chan_live);
    double kept = (double)units * (double)chans / ((double)v.units * (double)v.channels);
    out->kept_fraction = kept;
    out->density = kept > 0 ? (double)nnz / (kept * (double)n) : 1.0;
    if (out->density > 1.0)
        out->density = 1.0;
    return 0;
}

/* Bytes of the float constants node nd reads, skipping input `skip` (its weight), at the
 * width given. */
static double param_bytes(const struct graph *g, const struct node *nd, int skip, double width)
{
    double b = 0;
    for (int k = 0; k < nd->n_inputs; k++) {
        int v = nd->inputs[k];
        if (k != skip && v >= 0 && g->values[v].constant &&
            g->values[v].constant->dtype == DTYPE_FLOAT)
            b += (double)tensor_numel(g->values[v].constant) * width;
    }
    return b;
}

/* Whether value v is computed while running (not a constant or folded). */
static bool runtime_value(const struct plan *p, int v)
{
    return v >= 0 && !p->known[v] && p->values[v].dtype != DTYPE_UNDEFINED;
}

static int estimate_rows(const struct graph *g, const struct plan *p, double rows,
                         const struct layer_list *layers, const double *layer_bytes,
                         const struct cost_format *fmt, const struct profile *prof,
                         struct cost_estimate *out, struct err *err)
{
    const double act = dtype_bytes(fmt->dtype);
    /* Parameters other than the layers' weights keep the format's element width, fp32 for
     * the sparse formats (as the session counts weight bytes). */
    const double width = fmt->sparse >= 0 ? 4.0 : dtype_bytes(fmt->dtype);
    const bool int8 = fmt->dtype == COST_INT8;
    const double rate = int8 ? prof->macs_int8 : prof->macs_fp32;
    const double pj_mac = int8 ? prof->pj_mac_int8 : prof->pj_mac_fp32;
    for (int s = 0; s < p->n_steps; s++) {
        const struct plan_step *st = &p->steps[s];
        const struct node *nd = &g->nodes[st->node];
        struct cost_row *r = &out->rows[out->n_rows++];
        r->node = st->node;
        r->op = nd->op_type;
        double macs = plan_step_macs(p, st) / rows, compute = 0, stored = 0;
        int li = -1;
        for (size_t i = 0; i < layers->count && li < 0; i++)
            if (layers->items[i].node == st->node)
                li = (int)i;
        if (li >= 0) {
            const struct layer *l = &layers->items[li];
            struct cost_kept k;
            if (cost_layer_kept(g, l, &k, err) < 0)
                return -1;
            /* A depthwise convolution: one input channel per group, a group per channel. */
            int64_t group = node_attr_int(nd, "group", 1);
            bool depthwise = strcmp(l->op, "Conv") == 0 && group > 1 && l->shape.ndim > 1 &&
                             l->shape.dims[1] == 1 && l->shape.dims[0] == group;
            double layer_rate = depthwise ? rate * prof->depthwise_efficiency : rate;
            macs *= k.kept_fraction;
            compute = macs / layer_rate;
            bool sparse_kernel = fmt->sparse >= 0 &&
                                 (double)l->params >= prof->sparse_min_weights &&
                                 (!depthwise || prof->sparse_depthwise);
            bool sparse_run =
                sparse_kernel && 1.0 - k.density >= prof->sparse[fmt->sparse].break_even;
            if (sparse_run) {
                macs *= k.density;
                compute = macs / (layer_rate * prof->sparse[fmt->sparse].efficiency);
            }
            int wk = -1;
            for (int kk = 0; kk < nd->n_inputs && wk < 0; kk++)
                if (nd->inputs[kk] == l->weight)
                    wk = kk;
            /* Dense formats store what an export keeps: the removed units and channels
             * go (the sparse formats' bytes count the non-zeros already). A layer that
             * runs its dense kernel reads its kept weights dense, whatever the format. */
            double kept = fmt->sparse < 0 ? k.kept_fraction : 1.0;
            double params = param_bytes(g, nd, wk, width);
            stored = layer_bytes[li] * kept + params;
            double wbytes = layer_bytes[li] * kept;
            if (fmt->sparse >= 0 && !sparse_run)
                wbytes = (double)l->params * k.kept_fraction * width;
            r->weight_bytes = wbytes + params;
        } else {
            compute = macs / rate;
            r->weight_bytes = stored = param_bytes(g, nd, -1, width);
        }
        for (int f = 0; f < st->n_fused; f++) {
            double fb = param_bytes(g, &g->nodes[st->fused[f]], -1, width);
            r->weight_bytes += fb;
            stored += fb;
        }
        double elems = 0;
        for (int k = 0; k < nd->n_inputs; k++)
            if (runtime_value(p, nd->inputs[k]))
                elems += (double)tensor_numel(&p->values[nd->inputs[k]]);
        for (int o = 0; o < nd->n_outputs; o++) {
            int v = plan_step_output(p, st, o);
            if (runtime_value(p, v))
                elems += (double)tensor_numel(&p->values[v]);
        }
        r->macs = macs;
        r->act_bytes = elems * act / rows;
        r->compute_s = compute;
        r->memory_s = r->weight_bytes / prof->bw_flash + r->act_bytes / prof->bw_sram;
        r->time_s = fmax(r->compute_s, r->memory_s) + prof->layer_overhead_s;
        r->bottleneck = r->compute_s >= r->memory_s ? "compute" : "memory";
        r->energy_uj = (macs * pj_mac + r->weight_bytes * prof->pj_byte_flash +
                        r->act_bytes * prof->pj_byte_sram) *
                       1e-6;
        out->latency_s += r->time_s;
        out->energy_uj += r->energy_uj;
        out->flash_bytes += stored;
    }
    return 0;
}

/* The activation buffers of the plan's steps (every runtime value over its lifetime, as
 * the plan's own buffers are assigned) into the arena planner. */
static int plan_sram(const struct plan *p, double act, double rows, struct cost_estimate *out,
                     struct err *err)
{
    const struct graph *g = p->graph;
    int nv = g->n_values;
    int *first = malloc(((size_t)nv + 1) * sizeof *first);
    int *last = malloc(((size_t)nv + 1) * sizeof *last);
    double *size = malloc(((size_t)nv + 1) * sizeof *size);
    int rc = 0;
    if (!first || !last || !size) {
        rc = err_oom(err, "SRAM plan", (size_t)nv * sizeof *size);
        goto done;
    }
    plan_lifetimes(p, first, last);
    size_t n = 0;
    for (int v = 0; v < nv; v++) {
        if (first[v] < 0 || !runtime_value(p, v))
            continue;
        int end = last[v] < first[v] ? first[v] : last[v]; /* unread: its own step */
        if (end >= p->n_steps)
            end = p->n_steps - 1; /* a graph output: to the last step */
        first[n] = first[v];
        last[n] = end;
        size[n++] = (double)tensor_numel(&p->values[v]) * act / rows;
    }
    double arena = cost_plan_arena(n, size, first, last, NULL, &out->sram_peak_live, err);
    if (arena < 0)
        rc = -1;
    else
        out->sram_bytes = arena;
done:
    free(first), free(last), free(size);
    return rc;
}

int cost_estimate(const struct graph *g, const struct plan *p, double rows,
                  const struct layer_list *layers, const double *layer_bytes, double flash_bytes,
                  const struct cost_format *fmt, const struct profile *prof,
                  struct cost_estimate *out, struct err *err)
{
    memset(out, 0, sizeof *out);
    if (!(rows >= 1))
        return err_set(err, "a plan of %g rows", rows);
    if (fmt->sparse >= PROFILE_N_SPARSE)
        return err_set(err, "unknown sparse format %d", fmt->sparse);
    out->rows = calloc((size_t)p->n_steps + 1, sizeof *out->rows);
    if (!out->rows)
        return err_oom(err, "estimate", (size_t)p->n_steps * sizeof *out->rows);
    if (estimate_rows(g, p, rows, layers, layer_bytes, fmt, prof, out, err) < 0 ||
        plan_sram(p, dtype_bytes(fmt->dtype), rows, out, err) < 0) {
        cost_estimate_fini(out);
        return -1;
    }
    if (flash_bytes > 0)
        out->flash_bytes = flash_bytes;
    out->inferences_per_mwh = out->energy_uj > 0 ? 3.6e6 / out->energy_uj : 0.0;
    out->fits_flash = out->flash_bytes <= prof->flash_bytes;
    out->fits_sram = out->sram_bytes <= prof->sram_bytes;
    return 0;
}

void cost_estimate_fini(struct cost_estimate *e)
{
    free(e->rows);
    e->rows = NULL;
    e->n_rows = 0;
}

struct by_size_ctx {
    size_t i;
    double size;
    int first;
};

static int by_size(const void *a, const void *b)
{
    const struct by_size_ctx *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int by_offset(const void *a, const void *b)
{
    const double *x = a, *y = b; /* pairs (offset, end) */
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

double cost_plan_arena(size_t n, const double *size, const int *first, const int *last,
                       double *offset, double *peak, struct err *err)
{
    struct by_size_ctx *order = malloc((n + 1) * sizeof *order);
    double *off = malloc((n + 1) * sizeof *off), *busy = malloc((2 * n + 2) * sizeof *busy);
    bool *placed = calloc(n + 1, sizeof *placed);
    if (!order || !off || !busy || !placed) {
        free(order), free(off), free(busy), free(placed);
        err_oom(err, "SRAM plan", n * sizeof *order);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (struct by_size_ctx){.i = i, .size = size[i], .first = first[i]};
    qsort(order, n, sizeof *order, by_size);
    double arena = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k].i;
        /* The placed buffers alive at the same time as i, by offset. */
        size_t nb = 0;
        for (size_t j = 0; j < n; j++)
            if (placed[j] && first[j] <= last[i] && first[i] <= last[j]) {
                busy[2 * nb] = off[j];
                busy[2 * nb + 1] = off[j] + size[j];
                nb++;
            }
        qsort(busy, nb, 2 * sizeof *busy, by_offset);
        double at = 0;
        for (size_t b = 0; b < nb; b++) {
            if (busy[2 * b] >= at + size[i])
                break; /* the gap before this one fits */
            if (busy[2 * b + 1] > at)
                at = busy[2 * b + 1];
        }
        off[i] = at;
        placed[i] = true;
        if (at + size[i] > arena)
            arena = at + size[i];
    }
    if (peak) {
        int steps = 0;
        for (size_t i = 0; i < n; i++)
            if (last[i] + 1 > steps)
                steps = last[i] + 1;
        *peak = 0;
        for (int s = 0; s < steps; s++) {
            double live = 0;
            for (size_t i = 0; i < n; i++)
                if (first[i] <= s && s <= last[i])
                    live += size[i];
            if (live > *peak)
                *peak = live;
        }
    }
    if (offset)
        memcpy(offset, off, n * sizeof *off);
    free(order), free(off), free(busy), free(placed);
    return arena;
}
