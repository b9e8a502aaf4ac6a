/* profile and estimate: the hardware profiles and the cost model's figures on them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/command.h"

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

/* A layer's short name for the table, or the op for nodes that are not layers. */
static const char *row_name(const struct session *s, const struct cost_row *r)
{
    for (size_t i = 0; i < s->layers.count; i++)
        if (s->layers.items[i].node == r->node)
            return s->layers.items[i].display ? s->layers.items[i].display
                                              : s->layers.items[i].name;
    return engine_graph(s->engine)->nodes[r->node].name;
}

static json_t *totals_json(const struct profile *p, const struct cost_estimate *e)
{
    return json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:b, s:b}", "profile", p->name, "latency_ms",
                     e->latency_s * 1e3, "energy_uj", e->energy_uj, "inferences_per_mwh",
                     e->inferences_per_mwh, "flash_bytes", e->flash_bytes, "sram_bytes",
                     e->sram_bytes, "fits_flash", e->fits_flash, "fits_sram", e->fits_sram);
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
        int len = (int)strlen(row_name(c->s, &e.rows[i]));
        if (len > width)
            width = len < 40 ? len : 40;
    }
    out_printf(c->o, "%-*s %-18s %12s %12s %10s %10s  %s\n", width, "name", "op", "MACs", "bytes",
               "ms", "uJ", "bound");
    json_t *rows = json_array();
    for (size_t i = 0; i < e.n_rows; i++) {
        const struct cost_row *r = &e.rows[i];
        const char *name = row_name(c->s, r);
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
    json_t *t = totals_json(p, &e);
    const char *key;
    json_t *v;
    json_object_foreach(t, key, v) out_set(c->o, key, json_incref(v));
    json_decref(t);
    out_set(c->o, "layers", rows);
    cost_estimate_fini(&e);
    return 0;
}

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
