/* The cost model and hardware profiles (src/analysis): the estimate of a hand-computed
 * layer on two profiles (MACs, bytes, max(compute, memory), the break-even rule, energy),
 * the greedy-by-size SRAM arena of a graph whose residual Add keeps a value alive, fits and
 * does not fit; profile files that are wrong in each way, named in the error with the
 * field; a user profile shadowing a bundled one; an unknown --profile naming the others. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/cost.h"
#include "analysis/profile.h"
#include "commands/command.h"
#include "engine/engine.h"
#include "session/session.h"
#include "testutil.h"

/* Two made-up profiles with round figures, so every number below is worked out by hand. */
static struct profile fast_compute(void)
{
    struct profile p = {.name = "p1",
                        .macs_fp32 = 1e6,
                        .macs_int8 = 4e6,
                        .bw_sram = 2e6,
                        .bw_flash = 1e6,
                        .sram_bytes = 96,
                        .flash_bytes = 1000,
                        .layer_overhead_s = 1e-5,
                        .pj_mac_fp32 = 100,
                        .pj_mac_int8 = 25,
                        .pj_byte_sram = 2,
                        .pj_byte_flash = 10,
                        .depthwise_efficiency = 1,
                        .sparse_depthwise = true};
    for (int f = 0; f < PROFILE_N_SPARSE; f++) {
        p.sparse[f].efficiency = 0.5;
        p.sparse[f].break_even = 0.7;
    }
    return p;
}

static struct profile slow_compute(void)
{
    struct profile p = fast_compute();
    snprintf(p.name, sizeof p.name, "p2");
    p.macs_fp32 = 1e5;
    p.pj_mac_fp32 = 50;
    p.sram_bytes = 95;
    p.flash_bytes = 100;
    for (int f = 0; f < PROFILE_N_SPARSE; f++)
        p.sparse[f].break_even = 0.8;
    return p;
}

struct model {
    struct engine *e;
    struct graph *g;
    struct layer_list layers;
    const struct plan *plan;
};

static struct model open_model(void)
{
    struct model m;
    struct err err;
    m.e = engine_open(tu_src_path("tests/fixtures/cost_residual/model.onnx"), 1, &err);
    cr_assert_not_null(m.e, "%s", err.msg);
    m.g = (struct graph *)engine_graph(m.e);
    cr_assert_eq(layers_find(m.g, &m.layers, &err), 0, "%s", err.msg);
    cr_assert_eq(m.layers.count, 2);
    m.plan = engine_plan_rows(m.e, 1, &err);
    cr_assert_not_null(m.plan, "%s", err.msg);
    cr_assert_eq(m.plan->n_steps, 4, "fc1, relu, add, fc2");
    return m;
}

static void close_model(struct model *m)
{
    layers_fini(&m->layers);
    engine_free(m->e);
}

/* fc1's 8x8 weight with 16 non-zeros, every row and column live: the diagonal and the one
 * right of it. fc2's first row all zero (one unit of four removed). */
static void prune_by_hand(struct model *m)
{
    float *w1 = tensor_f32(m->g->values[m->layers.items[0].weight].constant);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            w1[i * 8 + j] = (j == i || j == (i + 1) % 8) ? 1.0f : 0.0f;
    float *w2 = tensor_f32(m->g->values[m->layers.items[1].weight].constant);
    for (int j = 0; j < 8; j++)
        w2[j] = 0.0f;
}

static void expect_near(double got, double want, const char *what)
{
    cr_expect(fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want)), "%s: %.12g, expected %.12g", what,
              got, want);
}

Test(cost, a_hand_computed_layer_on_two_profiles)
{
    struct model m = open_model();
    prune_by_hand(&m);
    struct err err;
    struct cost_kept k;
    cr_assert_eq(cost_layer_kept(m.g, &m.layers.items[0], &k, &err), 0);
    expect_near(k.kept_fraction, 1.0, "fc1 kept");
    expect_near(k.density, 0.25, "fc1 density");
    cr_assert_eq(cost_layer_kept(m.g, &m.layers.items[1], &k, &err), 0);
    expect_near(k.kept_fraction, 0.75, "fc2 kept (one unit of four is zero)");
    expect_near(k.density, 1.0, "fc2 density");

    /* CSR at 75%: the caller's 100 bytes for fc1's weight, its 8 fp32 biases. */
    double layer_bytes[2] = {100, 40};
    struct cost_format csr = {COST_FP32, PROFILE_CSR};
    struct profile p1 = fast_compute(), p2 = slow_compute();
    struct cost_estimate e;
    cr_assert_eq(cost_estimate(m.g, m.plan, 1, &m.layers, layer_bytes, 0, &csr, &p1, &e, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(e.n_rows, 4);
    const struct cost_row *r = &e.rows[0];
    /* 75% >= break-even 70%: 64 x 0.25 = 16 MACs at half the rate. */
    expect_near(r->macs, 16, "p1 fc1 MACs");
    expect_near(r->compute_s, 16 / (1e6 * 0.5), "p1 fc1 compute");
    expect_near(r->weight_bytes, 100 + 8 * 4, "p1 fc1 weight bytes");
    expect_near(r->act_bytes, (8 + 8) * 4, "p1 fc1 activation bytes");
    expect_near(r->memory_s, 132 / 1e6 + 64 / 2e6, "p1 fc1 memory");
    expect_near(r->time_s, 164e-6 + 1e-5, "p1 fc1 time = memory + overhead");
    cr_expect_str_eq(r->bottleneck, "memory");
    expect_near(r->energy_uj, (16 * 100 + 132 * 10 + 64 * 2) * 1e-6, "p1 fc1 energy");
    /* fc2: one unit removed outright (24 of 32 MACs), dense past that: its dense kernel
     * reads the 24 kept weights and 4 biases at 4 bytes (flash keeps the caller's 40). */
    expect_near(e.rows[3].macs, 24, "p1 fc2 MACs");
    expect_near(e.rows[3].weight_bytes, 24 * 4 + 4 * 4, "p1 fc2 weight bytes read");
    /* Relu and Add: element traffic only. */
    expect_near(e.rows[1].macs, 0, "relu MACs");
    expect_near(e.rows[1].act_bytes, 16 * 4, "relu bytes");
    expect_near(e.rows[2].act_bytes, 24 * 4, "add bytes");
    expect_near(e.rows[2].time_s, 96 / 2e6 + 1e-5, "add time");
    double total = 0, energy = 0;
    for (size_t i = 0; i < e.n_rows; i++)
        total += e.rows[i].time_s, energy += e.rows[i].energy_uj;
    expect_near(e.latency_s, total, "latency is the sum");
    expect_near(e.energy_uj, energy, "energy is the sum");
    expect_near(e.inferences_per_mwh, 3.6e6 / energy, "inferences per mWh");
    expect_near(e.flash_bytes, 132 + 56, "flash = the steps' weights as stored");
    /* x [0,0], h [0,2] (the Add reads it), r [1,2], s [2,3], y [3,3], 32 bytes each but y
     * (16): h, r and s are alive together at the Add. */
    expect_near(e.sram_bytes, 96, "arena");
    expect_near(e.sram_peak_live, 96, "peak live");
    cr_expect(e.fits_sram, "96 bytes fit p1's 96");
    cr_expect(e.fits_flash, "188 bytes fit p1's 1000");
    cost_estimate_fini(&e);

    /* p2's break-even of 80% is past fc1's 75%: dense MACs, all 64 weights read at 4 bytes
     * (288 with the biases), and compute bound. */
    cr_assert_eq(cost_estimate(m.g, m.plan, 1, &m.layers, layer_bytes, 0, &csr, &p2, &e, &err), 0);
    r = &e.rows[0];
    expect_near(r->macs, 64, "p2 fc1 MACs");
    expect_near(r->compute_s, 64 / 1e5, "p2 fc1 compute");
    expect_near(r->time_s, 640e-6 + 1e-5, "p2 fc1 time = compute + overhead");
    cr_expect_str_eq(r->bottleneck, "compute");
    expect_near(r->weight_bytes, 64 * 4 + 8 * 4, "p2 fc1 weight bytes read");
    expect_near(r->memory_s, 288 / 1e6 + 64 / 2e6, "p2 fc1 memory");
    expect_near(r->energy_uj, (64 * 50 + 288 * 10 + 64 * 2) * 1e-6, "p2 fc1 energy");
    cr_expect(!e.fits_sram, "96 bytes do not fit p2's 95");
    cr_expect(!e.fits_flash, "188 bytes do not fit p2's 100");
    cost_estimate_fini(&e);

    /* Dense int8: the int8 rate, 1-byte activations and parameters; a flash total given by
     * the caller is the one reported. */
    struct cost_format int8 = {COST_INT8, -1};
    double int8_bytes[2] = {68, 36};
    cr_assert_eq(cost_estimate(m.g, m.plan, 1, &m.layers, int8_bytes, 500, &int8, &p1, &e, &err), 0);
    r = &e.rows[0];
    expect_near(r->macs, 64, "int8 fc1 MACs (a dense format runs the zeros)");
    expect_near(r->compute_s, 64 / 4e6, "int8 fc1 compute");
    expect_near(r->weight_bytes, 68 + 8, "int8 fc1 weight bytes");
    expect_near(r->act_bytes, 16, "int8 fc1 activation bytes");
    expect_near(r->energy_uj, (64 * 25 + 76 * 10 + 16 * 2) * 1e-6, "int8 fc1 energy");
    expect_near(e.sram_bytes, 24, "int8 arena (a quarter)");
    expect_near(e.flash_bytes, 500, "the caller's flash total");
    cost_estimate_fini(&e);
    close_model(&m);
}

/* Greedy by size against hand placement of [size, steps alive]: A [100, 0-2], B [60, 1-3],
 * C [50, 3-4], D [40, 0-0]. A at 0; B is alive with A: 100; C only with B: 0, below it;
 * D only with A: 100 (B is not alive yet). Arena 160, the most alive at once (A + B). */
Test(cost, greedy_arena_places_by_size_around_lifetimes)
{
    double size[] = {100, 60, 50, 40}, off[4], peak;
    int first[] = {0, 1, 3, 0}, last[] = {2, 3, 4, 0};
    struct err err;
    double arena = cost_plan_arena(4, size, first, last, off, &peak, &err);
    expect_near(off[0], 0, "A");
    expect_near(off[1], 100, "B");
    expect_near(off[2], 0, "C");
    expect_near(off[3], 100, "D: below B's start, after A");
    expect_near(arena, 160, "arena");
    expect_near(peak, 160, "peak live");
}

/* A valid profile as text, with key replaced by value (value NULL: key removed). */
static char *profile_text(const char *name, const char *key, const char *value)
{
    static const char *const fields[][2] = {
        {"format", "\"prunescope-profile\""},
        {"version", "1"},
        {"name", NULL},
        {"description", "\"made-up board\""},
        {"core", "\"Cortex-M7\""},
        {"clock_mhz", "280"},
        {"macs_per_s", "{\"fp32\": 1.4e8, \"int8\": 2.3e8}"},
        {"bandwidth", "{\"sram\": 1.1e9, \"flash\": 5.6e8}"},
        {"sram_bytes", "1441792"},
        {"flash_bytes", "2097152"},
        {"layer_overhead_s", "2e-5"},
        {"sparse", "{\"csr\": {\"efficiency\": 0.25, \"break_even\": 0.75}, \"bitmask\": "
                   "{\"efficiency\": 0.3, \"break_even\": 0.7}, \"nm\": {\"efficiency\": 0.45, "
                   "\"break_even\": 0.5}, \"block\": {\"efficiency\": 0.5, \"break_even\": 0.5}}"},
        {"energy_pj", "{\"mac_fp32\": 700, \"mac_int8\": 500, \"byte_sram\": 10, "
                      "\"byte_flash\": 40}"},
        {"sources", "{\"clock_mhz\": \"a\", \"macs_per_s\": \"b\", \"bandwidth\": \"c\", "
                    "\"sram_bytes\": \"d\", \"flash_bytes\": \"e\", \"layer_overhead_s\": \"f\", "
                    "\"sparse\": \"g\", \"energy_pj\": \"h\"}"},
    };
    size_t cap = 8192, used = 0;
    char *s = malloc(cap);
    used += (size_t)snprintf(s + used, cap - used, "{");
    bool first = true, replaced = false;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = fields[i][1];
        char quoted[128];
        if (!v) {
            snprintf(quoted, sizeof quoted, "\"%s\"", name);
            v = quoted;
        }
        if (key && strcmp(key, fields[i][0]) == 0) {
            replaced = true;
            if (!value)
                continue;
            v = value;
        }
        used += (size_t)snprintf(s + used, cap - used, "%s\"%s\": %s", first ? "" : ", ",
                                 fields[i][0], v);
        first = false;
    }
    if (key && !replaced) /* a key of its own */
        used += (size_t)snprintf(s + used, cap - used, ", \"%s\": %s", key, value);
    snprintf(s + used, cap - used, "}\n");
    return s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static char *scratch_dir(const char *tag)
{
    char *d = malloc(256);
    snprintf(d, 256, "/tmp/prunescope-cost-%s-XXXXXX", tag);
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static void expect_rejected(const char *key, const char *value, const char *want)
{
    char *dir = scratch_dir("bad"), path[512];
    snprintf(path, sizeof path, "%s/board.json", dir);
    char *text = profile_text("board", key, value);
    write_text(path, text);
    struct profile p;
    struct err err;
    cr_expect_eq(profile_read(path, &p, &err), -1, "%s = %s was accepted", key,
                 value ? value : "(missing)");
    cr_expect(strstr(err.msg, path) != NULL, "the message names the file: %s", err.msg);
    cr_expect(strstr(err.msg, want) != NULL, "the message names '%s': %s", want, err.msg);
    unlink(path);
    rmdir(dir);
    free(text);
    free(dir);
}

Test(cost, bad_profiles_are_rejected_naming_the_file_and_the_field)
{
    /* The valid text itself reads. */
    char *dir = scratch_dir("good"), path[512];
    snprintf(path, sizeof path, "%s/board.json", dir);
    char *text = profile_text("board", NULL, NULL);
    write_text(path, text);
    struct profile p;
    struct err err;
    cr_assert_eq(profile_read(path, &p, &err), 0, "%s", err.msg);
    expect_near(p.macs_int8, 2.3e8, "int8 rate");
    expect_near(p.sparse[PROFILE_NM].break_even, 0.5, "nm break-even");
    profile_fini(&p);
    unlink(path);
    rmdir(dir);
    free(text), free(dir);

    expect_rejected("clock_mhz", NULL, "'clock_mhz' is missing");
    expect_rejected("macs_per_s", "{\"fp32\": 1.4e8}", "'macs_per_s.int8' is missing");
    expect_rejected("flash_bytes", "0", "'flash_bytes' must be a positive number (got 0)");
    expect_rejected("layer_overhead_s", "-1e-5", "'layer_overhead_s' must be a positive number");
    expect_rejected("bandwidth", "{\"sram\": 1e9, \"flash\": \"fast\"}",
                    "'bandwidth.flash' must be a number");
    expect_rejected("sparse",
                    "{\"csr\": {\"efficiency\": 1.5, \"break_even\": 0.7}, \"bitmask\": "
                    "{\"efficiency\": 0.3, \"break_even\": 0.7}, \"nm\": {\"efficiency\": 0.4, "
                    "\"break_even\": 0.5}, \"block\": {\"efficiency\": 0.5, \"break_even\": 0.5}}",
                    "'sparse.csr.efficiency' must be in (0, 1]");
    expect_rejected("turbo", "true", "unknown field 'turbo'");
    expect_rejected("energy_pj",
                    "{\"mac_fp32\": 1, \"mac_int8\": 1, \"byte_sram\": 1, \"byte_flash\": 1, "
                    "\"byte_dram\": 1}",
                    "unknown field 'energy_pj.byte_dram'");
    expect_rejected("sources", "{\"clock_mhz\": \"a\"}", "'sources.macs_per_s' is missing");
    expect_rejected("name", "\"other\"", "field 'name' is \"other\"");
    expect_rejected("version", "2", "'version' must be 1");
    /* Not JSON at all: the line and column. */
    dir = scratch_dir("json");
    snprintf(path, sizeof path, "%s/board.json", dir);
    write_text(path, "{\"name\": \"board\",\n  \"core\": }\n");
    cr_expect_eq(profile_read(path, &p, &err), -1);
    cr_expect(strstr(err.msg, path) && strstr(err.msg, "line 2"), "%s", err.msg);
    unlink(path);
    rmdir(dir);
    free(dir);
}

Test(cost, a_user_profile_shadows_the_bundled_one_and_unknown_names_list_the_others)
{
    char *bundled = scratch_dir("bundled"), *config = scratch_dir("config");
    char path[1024], user_dir[512];
    snprintf(path, sizeof path, "%s/alpha.json", bundled);
    char *a = profile_text("alpha", "clock_mhz", "100");
    write_text(path, a);
    snprintf(path, sizeof path, "%s/beta.json", bundled);
    char *b = profile_text("beta", NULL, NULL);
    write_text(path, b);
    snprintf(user_dir, sizeof user_dir, "%s/prunescope", config);
    mkdir(user_dir, 0755);
    snprintf(user_dir, sizeof user_dir, "%s/prunescope/profiles", config);
    mkdir(user_dir, 0755);
    snprintf(path, sizeof path, "%s/alpha.json", user_dir);
    char *mine = profile_text("alpha", "clock_mhz", "200");
    write_text(path, mine);

    struct profile_list l;
    struct err err;
    cr_assert_eq(profile_list_load(&l, bundled, user_dir, &err), 0, "%s", err.msg);
    cr_assert_eq(l.count, 2);
    const struct profile *alpha = profile_find(&l, "alpha");
    cr_assert_not_null(alpha);
    expect_near(alpha->clock_mhz, 200, "the user's alpha");
    cr_expect(alpha->user);
    cr_expect(!profile_find(&l, "beta")->user);
    profile_list_fini(&l);

    /* Through the session, as --profile and `profile NAME` see them: the bundled folder
     * is PRUNESCOPE_DATADIR/profiles. */
    char datadir[512], link_path[600];
    snprintf(datadir, sizeof datadir, "%s/data", config);
    mkdir(datadir, 0755);
    snprintf(link_path, sizeof link_path, "%s/profiles", datadir);
    cr_assert_eq(symlink(bundled, link_path), 0);
    setenv("PRUNESCOPE_DATADIR", datadir, 1);
    setenv("XDG_CONFIG_HOME", config, 1);
    struct session *s = session_new(1, NULL, &err);
    cr_assert_not_null(s);
    cr_expect_eq(session_select_profile(s, "nosuch", &err), -1);
    cr_expect(strstr(err.msg, "unknown profile 'nosuch' (available: alpha, beta)"), "%s", err.msg);
    cr_assert_eq(session_select_profile(s, "alpha", &err), 0, "%s", err.msg);
    expect_near(session_profile(s, &err)->clock_mhz, 200, "the session's alpha is the user's");
    session_free(s);
    unsetenv("PRUNESCOPE_DATADIR");
    unsetenv("XDG_CONFIG_HOME");
    free(a), free(b), free(mine), free(bundled), free(config);
}

/* MLPerf Tiny v1.0, closed division, STMicroelectronics with X-CUBE-AI 7.3: latency = 1000
 * / the median throughput in closed/STMicroelectronics/results/BOARD/BENCH/performance/
 * results.txt of mlcommons/tiny_results_v1.0, and the energy per inference of ic. */
static const struct {
    const char *profile, *bench;
    double ms, uj; /* uj 0: not compared */
} TINY[] = {
    {"cortex-m4f", "ad", 7.58, 0},  {"cortex-m4f", "ic", 226.9, 10682},
    {"cortex-m4f", "kws", 75.1, 0}, {"cortex-m4f", "vww", 230.5, 0},
    {"cortex-m7", "ad", 1.83, 0},   {"cortex-m7", "ic", 54.3, 8707},
    {"cortex-m7", "kws", 16.8, 0},  {"cortex-m7", "vww", 50.7, 0},
    {"cortex-m33", "ad", 4.85, 0},  {"cortex-m33", "ic", 139.7, 3642},
    {"cortex-m33", "kws", 44.2, 0}, {"cortex-m33", "vww", 133.4, 0},
};

/* The four reference networks (tests/fixtures/mlperf_tiny, rebuilt from their published
 * architectures) in dense int8 on the bundled STM32 profiles, one profile per board for all
 * four: every latency, and the ic energies, within a factor of 2 of the published ones. */
Test(cost, mlperf_tiny_latencies_on_the_stm32_profiles_are_within_2x_of_published)
{
    setenv("XDG_CONFIG_HOME", "/nonexistent", 1); /* the bundled profiles only */
    unsetenv("PRUNESCOPE_DATADIR");
    struct err err;
    for (size_t i = 0; i < sizeof TINY / sizeof TINY[0]; i++) {
        struct session *s = session_new(1, NULL, &err);
        cr_assert_not_null(s);
        char rel[256];
        snprintf(rel, sizeof rel, "tests/fixtures/mlperf_tiny/%s/model.onnx", TINY[i].bench);
        cr_assert_eq(session_load_model(s, tu_src_path(rel), NULL, 0, &err), 0, "%s", err.msg);
        cr_assert_eq(storage_parse("dense-int8", &s->storage), 0);
        cr_assert_eq(session_select_profile(s, TINY[i].profile, &err), 0, "%s", err.msg);
        struct cost_estimate e;
        cr_assert_eq(session_estimate(s, session_profile(s, &err), &e, &err), 0, "%s", err.msg);
        double ratio = e.latency_s * 1e3 / TINY[i].ms;
        cr_expect(ratio >= 0.5 && ratio <= 2.0, "%s %s: %.3g ms estimated, %.3g published (%.2fx)",
                  TINY[i].profile, TINY[i].bench, e.latency_s * 1e3, TINY[i].ms, ratio);
        if (TINY[i].uj > 0) {
            double er = e.energy_uj / TINY[i].uj;
            cr_expect(er >= 0.5 && er <= 2.0, "%s %s: %.4g uJ estimated, %.4g published (%.2fx)",
                      TINY[i].profile, TINY[i].bench, e.energy_uj, TINY[i].uj, er);
        }
        cr_expect(e.fits_flash && e.fits_sram, "%s fits %s", TINY[i].bench, TINY[i].profile);
        cost_estimate_fini(&e);
        session_free(s);
    }
    unsetenv("XDG_CONFIG_HOME");
}

static void run_commands(struct session *s, const char *line)
{
    FILE *sink = fopen("/dev/null", "w");
    struct out o;
    out_init(&o, false, sink, sink);
    struct cmd_ctx c = {.s = s, .o = &o};
    cr_assert_eq(cmd_run_script(&c, line, "test", false), 0, "%s", line);
    fclose(sink);
}

static double estimated(struct session *s, bool energy)
{
    struct err err;
    struct cost_estimate e;
    cr_assert_eq(session_estimate(s, session_profile(s, &err), &e, &err), 0, "%s", err.msg);
    double v = energy ? e.energy_uj : e.latency_s;
    cost_estimate_fini(&e);
    return v;
}

/* auto --latency and --energy: the configuration they choose is estimated at or below the
 * target, a share of the figure with nothing pruned; the digits MLP's hidden layers pruned
 * by neurons, whose removal takes MACs and weight bytes out. */
Test(cost, auto_meets_latency_and_energy_targets, .init = tu_private_cache)
{
    setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
    struct err err;
    struct session *s = session_new(1, NULL, &err);
    cr_assert_not_null(s);
    char line[2048];
    snprintf(line, sizeof line,
             "load %s; data %s; method fc1 l2 neuron; method fc2 l2 neuron; sensitivity",
             tu_src_path("data/digits_mlp.onnx"), tu_src_path("data/digits.csv"));
    run_commands(s, line);
    double base_ms = estimated(s, false), base_uj = estimated(s, true);
    run_commands(s, "auto --latency 80%");
    cr_expect(estimated(s, false) <= 0.8 * base_ms * (1 + 1e-9), "%.6g ms against %.6g",
              estimated(s, false) * 1e3, 0.8 * base_ms * 1e3);
    cr_expect(s->config.settings[0].sparsity > 0, "fc1 pruned");
    run_commands(s, "reset; auto --energy 40%");
    cr_expect(estimated(s, true) <= 0.4 * base_uj * (1 + 1e-9), "%.6g uJ against %.6g",
              estimated(s, true), 0.4 * base_uj);
    /* An absolute target in ms, met the same way. */
    snprintf(line, sizeof line, "reset; auto --latency %.6f", 0.9 * base_ms * 1e3);
    run_commands(s, line);
    cr_expect(estimated(s, false) <= 0.9 * base_ms * (1 + 1e-6));
    session_free(s);
    unsetenv("XDG_CONFIG_HOME");
}

/* calibrate writes a host profile the reader accepts, with measured figures of the right
 * magnitude for a CPU, sourced; bench then gives its measurement beside the host estimate,
 * with the JSON keys the design lists (how close they are is make bench's business). */
Test(cost, calibrate_writes_a_host_profile_that_bench_compares_with, .timeout = 300)
{
    char *config = scratch_dir("calibrate");
    setenv("XDG_CONFIG_HOME", config, 1);
    struct err err;
    struct session *s = session_new(1, NULL, &err);
    cr_assert_not_null(s);
    FILE *mem_out;
    char *text = NULL;
    size_t len = 0;
    cr_assert_not_null(mem_out = open_memstream(&text, &len));
    struct out o;
    out_init(&o, true, mem_out, mem_out);
    struct cmd_ctx c = {.s = s, .o = &o};
    char line[2048];
    snprintf(line, sizeof line, "calibrate; load %s; bench --rows 5 --repeat 2",
             tu_src_path("data/fashion_cnn.onnx"));
    cr_assert_eq(cmd_run_script(&c, line, "test", false), 0);
    fclose(mem_out);
    char path[1024];
    snprintf(path, sizeof path, "%s/prunescope/profiles/host.json", config);
    struct profile p;
    cr_assert_eq(profile_read(path, &p, &err), 0, "%s", err.msg);
    cr_expect(p.macs_fp32 > 1e8 && p.macs_fp32 < 1e13, "%g MAC/s", p.macs_fp32);
    cr_expect(p.layer_overhead_s > 0 && p.layer_overhead_s < 1e-3, "%g s", p.layer_overhead_s);
    cr_expect(p.bw_sram > 1e8 && p.bw_flash > 1e8, "L2 %g, weights %g", p.bw_sram, p.bw_flash);
    cr_expect(p.sparse_min_weights == 1024 && !p.sparse_depthwise);
    cr_expect(json_is_string(json_object_get(p.sources, "kernels")));
    profile_fini(&p);
    /* The last line is bench's object. */
    char *last = text + strlen(text) - 1;
    while (last > text && last[-1] != '\n')
        last--;
    json_error_t je;
    json_t *b = json_loads(last, 0, &je);
    cr_assert_not_null(b, "%s", last);
    cr_expect_eq(json_integer_value(json_object_get(b, "rows")), 5);
    json_t *b1 = json_object_get(b, "batch1_ms");
    double median = json_number_value(json_object_get(b1, "median"));
    cr_expect(median > 0 && json_number_value(json_object_get(b1, "min")) <= median &&
              median <= json_number_value(json_object_get(b1, "max")));
    cr_expect(json_is_object(json_object_get(b, "batched_ms_per_row")));
    cr_expect(json_number_value(json_object_get(b, "estimate_ms")) > 0);
    cr_expect(json_is_number(json_object_get(b, "error")));
    json_t *layers = json_object_get(b, "layers");
    cr_expect_eq(json_array_size(layers), 8, "fashion_cnn's steps");
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *l = json_array_get(layers, i);
        cr_expect(json_number_value(json_object_get(l, "measured_ms")) >= 0 &&
                      json_number_value(json_object_get(l, "estimate_ms")) > 0,
                  "layer %zu", i);
    }
    json_decref(b);
    free(text);
    session_free(s);
    unlink(path);
    unsetenv("XDG_CONFIG_HOME");
    free(config);
}

/* A model whose file fixes a batch of 4 runs 4 rows a plan: the estimate is of one row
 * (MACs as the engine counts them per row, a quarter of the plan's activations). */
Test(cost, a_fixed_batch_model_is_estimated_per_row)
{
    setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
    struct err err;
    struct session *s = session_new(1, NULL, &err);
    cr_assert_not_null(s);
    cr_assert_eq(session_load_model(
                     s, tu_src_path("tests/fixtures/exports/fixed_batch4_reshape/model.onnx"),
                     NULL, 0, &err),
                 0, "%s", err.msg);
    cr_assert_str_eq(engine_batch_mode(s->engine), "4 rows at a time");
    const struct profile *p = session_profile(s, &err);
    cr_assert_not_null(p, "%s", err.msg);
    struct cost_estimate e, whole;
    cr_assert_eq(session_estimate(s, p, &e, &err), 0, "%s", err.msg);
    double macs = 0;
    for (size_t i = 0; i < e.n_rows; i++)
        macs += e.rows[i].macs;
    expect_near(macs, engine_macs_per_row(s->engine), "MACs per row");
    int64_t rows;
    const struct plan *plan = engine_plan_deployed(s->engine, &rows, &err);
    cr_assert_eq(rows, 4);
    double *bytes = calloc(s->layers.count + 1, sizeof *bytes);
    for (size_t i = 0; i < s->layers.count; i++)
        bytes[i] = 4.0 * (double)s->layers.items[i].params;
    struct cost_format fp32 = {COST_FP32, -1};
    cr_assert_eq(cost_estimate(engine_graph(s->engine), plan, 1, &s->layers, bytes, 0, &fp32, p,
                               &whole, &err),
                 0, "%s", err.msg);
    expect_near(4 * e.sram_bytes, whole.sram_bytes, "the plan's arena is 4 rows'");
    cost_estimate_fini(&e);
    cost_estimate_fini(&whole);
    free(bytes);
    session_free(s);
    unsetenv("XDG_CONFIG_HOME");
}
