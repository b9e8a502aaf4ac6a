/* profile and estimate: the hardware profiles and the cost model's figures on them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/bench.h"
#include "analysis/calibrate.h"
#include "commands/command.h"
#include "core/timer.h"
#include "export/model.h"

static int profile_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc > 2)
        return err_set(err, "usage: %s", cmd_profile.usage);
    if (argc == 2 && session_select_profile(c->s, argv[1], err) < 0)
        return -1;
    const struct profile_list *l = session_profiles(c->s, err);
    const struct profile *sel = l ? session_profile(c->s, err) : NULL;
    if (!sel)
        return -1;
    json_t *arr = json_array();
    out_printf(c->o, "  %-12s %-14s %9s %12s %12s  %s\n", "name", "core", "MHz", "flash", "SRAM",
               "source");
    for (size_t i = 0; i < l->count; i++) {
        const struct profile *p = &l->items[i];
        out_printf(c->o, "%c %-12s %-14s %9.0f %12.0f %12.0f  %s\n", p == sel ? '*' : ' ', p->name,
                   p->core, p->clock_mhz, p->flash_bytes, p->sram_bytes,
                   p->user ? p->path : "bundled");
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:s, s:O}", "name",
                                             p->name, "description", p->description, "core",
                                             p->core, "clock_mhz", p->clock_mhz, "flash_bytes",
                                             p->flash_bytes, "sram_bytes", p->sram_bytes, "source",
                                             p->user ? p->path : "bundled", "sources", p->sources));
    }
    out_printf(c->o, "selected: %s (%s)\n", sel->name, sel->description);
    out_set(c->o, "profiles", arr);
    out_set(c->o, "selected", json_string(sel->name));
    return 0;
}

const char *cmd_node_name(const struct session *s, int node)
{
    for (size_t i = 0; i < s->layers.count; i++)
        if (s->layers.items[i].node == node)
            return s->layers.items[i].display ? s->layers.items[i].display
                                              : s->layers.items[i].name;
    return engine_graph(s->engine)->nodes[node].name;
}

static json_t *totals_json(const struct profile *p, const struct cost_estimate *e)
{
    return json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:b, s:b}", "profile", p->name, "latency_ms",
                     e->latency_s * 1e3, "energy_uj", e->energy_uj, "inferences_per_mwh",
                     e->inferences_per_mwh, "flash_bytes", e->flash_bytes, "sram_bytes",
                     e->sram_bytes, "fits_flash", e->fits_flash, "fits_sram", e->fits_sram);
}

void cmd_set_estimate(struct cmd_ctx *c, const struct profile *p, const struct cost_estimate *e)
{
    static const char *const keys[] = {
        "profile",    "latency_ms", "energy_uj", "inferences_per_mwh", "flash_bytes", "sram_bytes",
        "fits_flash", "fits_sram",  NULL};
    json_t *t = p && e ? totals_json(p, e) : NULL;
    for (const char *const *k = keys; *k; k++) {
        json_t *v = t ? json_object_get(t, *k) : NULL;
        out_set(c->o, *k, v ? json_incref(v) : json_null());
    }
    json_decref(t);
}

/* One line per profile: the same model on every device. */
static int estimate_all(struct cmd_ctx *c, struct err *err)
{
    const struct profile_list *l = session_profiles(c->s, err);
    if (!l)
        return -1;
    json_t *arr = json_array();
    out_printf(c->o, "%-12s %12s %12s %12s %12s %5s %12s %5s\n", "profile", "latency ms",
               "energy uJ", "inf/mWh", "flash", "fits", "SRAM", "fits");
    for (size_t i = 0; i < l->count; i++) {
        struct cost_estimate e;
        if (session_estimate(c->s, &l->items[i], &e, err) < 0) {
            json_decref(arr);
            return -1;
        }
        out_printf(c->o, "%-12s %12.4g %12.4g %12.4g %12.0f %5s %12.0f %5s\n", l->items[i].name,
                   e.latency_s * 1e3, e.energy_uj, e.inferences_per_mwh, e.flash_bytes,
                   e.fits_flash ? "yes" : "no", e.sram_bytes, e.fits_sram ? "yes" : "no");
        json_array_append_new(arr, totals_json(&l->items[i], &e));
        cost_estimate_fini(&e);
    }
    out_set(c->o, "profiles", arr);
    return 0;
}

static int estimate_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc == 3 && strcmp(argv[1], "--profiles") == 0 && strcmp(argv[2], "all") == 0)
        return estimate_all(c, err);
    if (argc != 1)
        return err_set(err, "usage: %s", cmd_estimate.usage);
    const struct profile *p = session_profile(c->s, err);
    struct cost_estimate e;
    if (!p || session_estimate(c->s, p, &e, err) < 0)
        return -1;
    out_printf(c->o, "profile   %s (%s), storage %s\n", p->name, p->description,
               storage_name(c->s->storage));
    int width = 4;
    for (size_t i = 0; i < e.n_rows; i++) {
        int len = (int)strlen(cmd_node_name(c->s, e.rows[i].node));
        if (len > width)
            width = len < 40 ? len : 40;
    }
    out_printf(c->o, "%-*s %-18s %12s %12s %10s %10s  %s\n", width, "name", "op", "MACs", "bytes",
               "ms", "uJ", "bound");
    json_t *rows = json_array();
    for (size_t i = 0; i < e.n_rows; i++) {
        const struct cost_row *r = &e.rows[i];
        const char *name = cmd_node_name(c->s, r->node);
        out_printf(c->o, "%-*.*s %-18s %12.0f %12.0f %10.4f %10.4g  %s\n", width, width, name,
                   r->op, r->macs, r->weight_bytes + r->act_bytes, r->time_s * 1e3, r->energy_uj,
                   r->bottleneck);
        json_array_append_new(
            rows, json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:s}", "name", name, "op", r->op,
                            "macs", r->macs, "bytes", r->weight_bytes + r->act_bytes,
                            "weight_bytes", r->weight_bytes, "time_ms", r->time_s * 1e3,
                            "energy_uj", r->energy_uj, "bottleneck", r->bottleneck));
    }
    out_printf(c->o,
               "latency   %.4g ms\nenergy    %.4g uJ per inference (%.4g inferences per mWh)\n",
               e.latency_s * 1e3, e.energy_uj, e.inferences_per_mwh);
    out_printf(c->o, "flash     %.0f of %.0f bytes: %s (margin %.0f)\n", e.flash_bytes,
               p->flash_bytes, e.fits_flash ? "fits" : "does not fit",
               p->flash_bytes - e.flash_bytes);
    out_printf(c->o,
               "SRAM      %.0f of %.0f bytes of activations (greedy by size; %.0f live at "
               "most): %s (margin %.0f)\n",
               e.sram_bytes, p->sram_bytes, e.sram_peak_live, e.fits_sram ? "fits" : "does not fit",
               p->sram_bytes - e.sram_bytes);
    cmd_set_estimate(c, p, &e);
    out_set(c->o, "layers", rows);
    cost_estimate_fini(&e);
    return 0;
}

static void show_progress(void *ctx, size_t done, size_t total, double elapsed_s)
{
    out_progress(ctx, "calibrate", done, total, elapsed_s);
}

static int calibrate_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    (void)argv;
    if (argc != 1)
        return err_set(err, "usage: %s", cmd_calibrate.usage);
    char dir[4096], path[4200];
    profile_user_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/host.json", dir);
    struct profile p;
    struct calibrate_result r;
    if (calibrate_host(path, show_progress, c->o, &p, &r, err) < 0)
        return -1;
    json_t *items = json_array();
    for (size_t i = 0; i < r.n_items; i++) {
        out_printf(c->o, "%-48s %10.4g %s\n", r.items[i].what, r.items[i].value, r.items[i].unit);
        json_array_append_new(items, json_pack("{s:s, s:f, s:s}", "what", r.items[i].what, "value",
                                               r.items[i].value, "unit", r.items[i].unit));
    }
    out_printf(c->o,
               "wrote %s in %.1f s: %.3g MAC/s, %.3g s per node, L2 %.3g and memory %.3g "
               "bytes/s, sparse efficiency %.2f\n",
               path, r.elapsed_s, p.macs_fp32, p.layer_overhead_s, p.bw_sram, p.bw_flash,
               p.sparse[PROFILE_CSR].efficiency);
    out_set(c->o, "path", json_string(path));
    out_set(c->o, "measurements", items);
    out_set(c->o, "elapsed_ms", json_real(r.elapsed_s * 1e3));
    profile_fini(&p);
    /* The new host profile is read with the others from now on. */
    profile_list_fini(&c->s->profiles);
    c->s->profiles_loaded = false;
    return 0;
}

/* N rows to time: the data's first N, or zeros without data. */
static struct tensor *bench_rows(struct session *s, size_t n, struct err *err)
{
    if (s->data && n > s->data->rows)
        n = s->data->rows;
    struct tensor *t = session_input_rows(s, n, err);
    if (t && s->data)
        memcpy(t->data, s->data->features, tensor_bytes(t));
    return t;
}

static int bench_cmd(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    long long rows = 50, repeat = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
            if (!cmd_parse_int(argv[++i], 1, 100000, &rows))
                return err_set(err, "--rows expects a number from 1 to 100000, got '%s'", argv[i]);
        } else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            if (!cmd_parse_int(argv[++i], 1, 1000, &repeat))
                return err_set(err, "--repeat expects a number from 1 to 1000, got '%s'", argv[i]);
        } else {
            return err_set(err, "usage: %s", cmd_bench.usage);
        }
    }
    struct session *s = c->s;
    if (!s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    struct tensor *x = bench_rows(s, (size_t)rows, err);
    if (!x)
        return -1;
    struct bench_result b;
    struct engine *own, *e_run = model_deployed_engine(s, &own, err);
    int rc = e_run ? bench_run(e_run, x, (size_t)repeat, &b, err) : -1;
    tensor_free(x);
    if (rc < 0) {
        engine_free(own);
        return -1;
    }
    /* The host estimate beside it, once calibrate has made the host profile; a profile
     * that does not read, or an estimate that fails, is an error of its own. */
    const struct profile_list *l = session_profiles(s, err);
    const struct profile *host = l ? profile_find(l, "host") : NULL;
    struct cost_estimate e = {0};
    if (!l || (host && session_estimate(s, host, &e, err) < 0)) {
        bench_result_fini(&b);
        engine_free(own);
        return -1;
    }
    bool have = host != NULL;
    c->s->bench_ms = b.batch1_ms.median;
    c->s->bench_gen = c->s->weights_gen;
    out_printf(c->o,
               "%zu rows x %zu: batch 1 %.4g ms per row (min %.4g, max %.4g); batched "
               "%.4g ms per row\n",
               b.rows, b.repeat, b.batch1_ms.median, b.batch1_ms.min, b.batch1_ms.max,
               b.batched_ms_per_row.median);
    json_t *layers = json_array();
    if (have) {
        double err_rel = (e.latency_s * 1e3 - b.batch1_ms.median) / b.batch1_ms.median;
        out_printf(c->o, "estimate  %.4g ms on host (%+.1f%% of the measured batch 1)\n",
                   e.latency_s * 1e3, 100.0 * err_rel);
        out_printf(c->o, "%-40s %12s %12s\n", "name", "measured ms", "estimate ms");
        for (size_t i = 0; i < e.n_rows; i++) {
            const struct cost_row *r = &e.rows[i];
            const char *name = cmd_node_name(s, r->node);
            /* Node numbers are the session's (the exported model's differ). */
            double ms = !own && r->node < b.n_nodes ? b.node_ms[r->node] : NAN;
            out_printf(c->o, "%-40.40s %12.4f %12.4f\n", name, ms, r->time_s * 1e3);
            json_array_append_new(layers, json_pack("{s:s, s:o, s:f}", "name", name, "measured_ms",
                                                    isnan(ms) ? json_null() : json_real(ms),
                                                    "estimate_ms", r->time_s * 1e3));
        }
        out_set(c->o, "estimate_ms", json_real(e.latency_s * 1e3));
        out_set(c->o, "error", json_real(err_rel));
        cost_estimate_fini(&e);
    } else {
        out_printf(c->o, "no host estimate: run calibrate first\n");
        out_set(c->o, "estimate_ms", json_null());
        out_set(c->o, "error", json_null());
    }
    struct bench_stat *st[2] = {&b.batch1_ms, &b.batched_ms_per_row};
    const char *keys[2] = {"batch1_ms", "batched_ms_per_row"};
    for (int k = 0; k < 2; k++)
        out_set(c->o, keys[k],
                json_pack("{s:f, s:f, s:f}", "median", st[k]->median, "min", st[k]->min, "max",
                          st[k]->max));
    out_set(c->o, "rows", json_integer((json_int_t)b.rows));
    out_set(c->o, "layers", layers);
    out_set(c->o, "exported", json_boolean(own != NULL));
    if (own)
        out_printf(c->o, "(measured on the exported model: neuron and filter pruning take the "
                         "units out)\n");
    bench_result_fini(&b);
    engine_free(own);
    return 0;
}

const struct cmd_def cmd_calibrate = {
    .name = "calibrate",
    .usage = "calibrate",
    .summary = "measure this machine and write the host profile",
    .help = "Runs layers of the shapes small models use through prunescope's engine at\n"
            "batch 1 on one thread (convolutions, a depthwise one, a Gemm), the CSR\n"
            "kernels at 90% zeros against dense, memory copies in and beyond the L2\n"
            "cache, and a chain of nodes for the per-node cost, and writes the host\n"
            "profile to $XDG_CONFIG_HOME/prunescope/profiles/host.json (energy figures\n"
            "are estimates: there is no power meter). bench then compares.",
    .complete = CMD_COMPLETE_NONE,
    .run = calibrate_run,
};

const struct cmd_def cmd_bench = {
    .name = "bench",
    .usage = "bench [--rows N] [--repeat R]",
    .summary = "measured latency of the model as configured, beside the host estimate",
    .help = "Runs N rows (default 50: the data's first, or zeros without data) one at a\n"
            "time on one thread (batch 1) and all at once (batched), R times (default 5):\n"
            "the median, min and max per row; then per node the time measured at batch 1\n"
            "beside the host profile's estimate (after calibrate), and the error of the\n"
            "estimate relative to the measured median. With neuron or filter pruning the\n"
            "exported, physically smaller model is measured (the totals only).",
    .complete = CMD_COMPLETE_NONE,
    .run = bench_cmd,
};

const struct cmd_def cmd_profile = {
    .name = "profile",
    .usage = "profile [NAME]",
    .summary = "list the hardware profiles, or select the one estimates are made for",
    .help = "Profiles are JSON files: the bundled ones, and the user's own in\n"
            "$XDG_CONFIG_HOME/prunescope/profiles/ (which replace bundled ones of the same\n"
            "name). Without a selection, estimates use host when calibrate has written it,\n"
            "else cortex-m7. The man page gives the format.",
    .complete = CMD_COMPLETE_NONE,
    .run = profile_run,
};

const struct cmd_def cmd_estimate = {
    .name = "estimate",
    .usage = "estimate [--profiles all]",
    .summary = "estimated latency, energy, flash and SRAM on the selected profile",
    .help = "Per step of the execution order: MACs executed, bytes moved, time, energy and\n"
            "whether compute or memory bounds it; then the totals and whether the weights\n"
            "fit the profile's flash and the activations its SRAM. time = max(MACs / MAC\n"
            "rate, weight bytes / flash bandwidth + activation bytes / SRAM bandwidth) +\n"
            "the per-layer overhead; energy = MACs x pJ/MAC + bytes x pJ/byte. Weight\n"
            "units and input channels that are all zero are removed MACs; a sparse storage\n"
            "format saves the rest of the zeros' MACs only at or past its break-even\n"
            "sparsity, at its efficiency. int8 storage uses the int8 MAC rate and 1-byte\n"
            "activations. --profiles all: one line per profile.",
    .complete = CMD_COMPLETE_NONE,
    .run = estimate_run,
};
