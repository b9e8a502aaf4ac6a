/* Hardware profiles from JSON (jansson): strict reading, and the list of bundled and user
 * profiles. */
#include "analysis/profile.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const SPARSE_NAMES[PROFILE_N_SPARSE + 1] = {"csr", "bitmask", "nm", "block",
                                                               NULL};

const char *profile_sparse_name(enum profile_sparse f)
{
    return f < PROFILE_N_SPARSE ? SPARSE_NAMES[f] : "?";
}

/* Figure groups that need a source, in the order a profile lists them. */
static const char *const SOURCED[] = {"clock_mhz",  "macs_per_s",  "bandwidth",
                                      "sram_bytes", "flash_bytes", "layer_overhead_s",
                                      "sparse",     "energy_pj",   NULL};

/* Fails unless obj has exactly the keys in names (NULL-terminated), give or take
 * `optional` (NULL: none), which it may leave out. where names obj in messages. */
static int check_keys(const char *path, json_t *obj, const char *where, const char *const *names,
                      const char *optional, struct err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool known = optional && strcmp(key, optional) == 0;
        for (const char *const *n = names; *n && !known; n++)
            known = strcmp(*n, key) == 0;
        if (!known)
            return err_set(err, "%s: unknown field '%s%s'", path, where, key);
    }
    for (const char *const *n = names; *n; n++)
        if (!json_object_get(obj, *n))
            return err_set(err, "%s: field '%s%s' is missing", path, where, *n);
    return 0;
}

/* obj[key] as a number in (lo, hi] (or [lo, hi) when lo_closed). */
static int get_number(const char *path, json_t *obj, const char *where, const char *key, double lo,
                      bool lo_closed, double hi, bool hi_closed, double *out, struct err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return err_set(err, "%s: field '%s%s' must be a number", path, where, key);
    double x = json_number_value(v);
    bool ok = isfinite(x) && (lo_closed ? x >= lo : x > lo) && (hi_closed ? x <= hi : x < hi);
    if (!ok) {
        char range[64];
        if (!lo_closed && hi == INFINITY)
            snprintf(range, sizeof range, "a positive number");
        else
            snprintf(range, sizeof range, "in %c%g, %g%c", lo_closed ? '[' : '(', lo, hi,
                     hi_closed ? ']' : ')');
        return err_set(err, "%s: field '%s%s' must be %s (got %g)", path, where, key, range, x);
    }
    *out = x;
    return 0;
}

static int get_positive(const char *path, json_t *obj, const char *where, const char *key,
                        double *out, struct err *err)
{
    return get_number(path, obj, where, key, 0.0, false, INFINITY, false, out, err);
}

static int get_string(const char *path, json_t *obj, const char *key, char *dst, size_t size,
                      struct err *err)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return err_set(err, "%s: field '%s' must be a non-empty string", path, key);
    if (json_string_length(v) >= size)
        return err_set(err, "%s: field '%s' is longer than %zu characters", path, key, size - 1);
    snprintf(dst, size, "%s", json_string_value(v));
    return 0;
}

/* The object obj[key] with exactly the keys names. */
static json_t *get_object(const char *path, json_t *obj, const char *key, const char *const *names,
                          struct err *err)
{
    json_t *v = json_object_get(obj, key);
    char where[64];
    if (!json_is_object(v)) {
        err_set(err, "%s: field '%s' must be an object", path, key);
        return NULL;
    }
    snprintf(where, sizeof where, "%s.", key);
    return check_keys(path, v, where, names, NULL, err) < 0 ? NULL : v;
}

int profile_from_json(const char *path, json_t *root, struct profile *p, struct err *err)
{
    static const char *const top[] = {
        "format",           "version",    "name",      "description", "core",
        "clock_mhz",        "macs_per_s", "bandwidth", "sram_bytes",  "flash_bytes",
        "layer_overhead_s", "sparse",     "energy_pj", "sources",     NULL};
    static const char *const dtypes[] = {"fp32", "int8", NULL};
    static const char *const levels[] = {"sram", "flash", NULL};
    static const char *const energy[] = {"mac_fp32", "mac_int8", "byte_sram", "byte_flash", NULL};
    static const char *const rate[] = {"efficiency", "break_even", NULL};
    if (!json_is_object(root))
        return err_set(err, "%s: expected a JSON object", path);
    if (check_keys(path, root, "", top, "kernels", err) < 0)
        return -1;
    json_t *fmt = json_object_get(root, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "prunescope-profile") != 0)
        return err_set(err, "%s: field 'format' must be \"prunescope-profile\"", path);
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1)
        return err_set(err, "%s: field 'version' must be 1", path);
    if (get_string(path, root, "name", p->name, sizeof p->name, err) < 0 ||
        get_string(path, root, "description", p->description, sizeof p->description, err) < 0 ||
        get_string(path, root, "core", p->core, sizeof p->core, err) < 0 ||
        get_positive(path, root, "", "clock_mhz", &p->clock_mhz, err) < 0 ||
        get_positive(path, root, "", "sram_bytes", &p->sram_bytes, err) < 0 ||
        get_positive(path, root, "", "flash_bytes", &p->flash_bytes, err) < 0 ||
        get_positive(path, root, "", "layer_overhead_s", &p->layer_overhead_s, err) < 0)
        return -1;
    json_t *o;
    if (!(o = get_object(path, root, "macs_per_s", dtypes, err)) ||
        get_positive(path, o, "macs_per_s.", "fp32", &p->macs_fp32, err) < 0 ||
        get_positive(path, o, "macs_per_s.", "int8", &p->macs_int8, err) < 0)
        return -1;
    if (!(o = get_object(path, root, "bandwidth", levels, err)) ||
        get_positive(path, o, "bandwidth.", "sram", &p->bw_sram, err) < 0 ||
        get_positive(path, o, "bandwidth.", "flash", &p->bw_flash, err) < 0)
        return -1;
    if (!(o = get_object(path, root, "energy_pj", energy, err)) ||
        get_positive(path, o, "energy_pj.", "mac_fp32", &p->pj_mac_fp32, err) < 0 ||
        get_positive(path, o, "energy_pj.", "mac_int8", &p->pj_mac_int8, err) < 0 ||
        get_positive(path, o, "energy_pj.", "byte_sram", &p->pj_byte_sram, err) < 0 ||
        get_positive(path, o, "energy_pj.", "byte_flash", &p->pj_byte_flash, err) < 0)
        return -1;
    json_t *sp = get_object(path, root, "sparse", SPARSE_NAMES, err);
    if (!sp)
        return -1;
    for (int f = 0; f < PROFILE_N_SPARSE; f++) {
        char where[64];
        snprintf(where, sizeof where, "sparse.%s", SPARSE_NAMES[f]);
        json_t *r = json_object_get(sp, SPARSE_NAMES[f]);
        if (!json_is_object(r))
            return err_set(err, "%s: field '%s' must be an object", path, where);
        strcat(where, ".");
        if (check_keys(path, r, where, rate, NULL, err) < 0 ||
            get_number(path, r, where, "efficiency", 0.0, false, 1.0, true,
                       &p->sparse[f].efficiency, err) < 0 ||
            get_number(path, r, where, "break_even", 0.0, true, 1.0, false,
                       &p->sparse[f].break_even, err) < 0)
            return -1;
    }
    p->depthwise_efficiency = 1.0;
    p->sparse_min_weights = 0;
    p->sparse_depthwise = true;
    json_t *kn = json_object_get(root, "kernels");
    if (kn) {
        static const char *const kernel_keys[] = {"depthwise_efficiency", "sparse_min_weights",
                                                  "sparse_depthwise", NULL};
        if (!(kn = get_object(path, root, "kernels", kernel_keys, err)) ||
            get_number(path, kn, "kernels.", "depthwise_efficiency", 0.0, false, 1.0, true,
                       &p->depthwise_efficiency, err) < 0 ||
            get_number(path, kn, "kernels.", "sparse_min_weights", 0.0, true, INFINITY, false,
                       &p->sparse_min_weights, err) < 0)
            return -1;
        json_t *b = json_object_get(kn, "sparse_depthwise");
        if (!json_is_boolean(b))
            return err_set(err, "%s: field 'kernels.sparse_depthwise' must be true or false", path);
        p->sparse_depthwise = json_is_true(b);
    }
    /* sources has a key per figure group, and "kernels" exactly when the profile does. */
    json_t *src = json_object_get(root, "sources");
    if (!json_is_object(src))
        return err_set(err, "%s: field 'sources' must be an object", path);
    if (check_keys(path, src, "sources.", SOURCED, kn ? "kernels" : NULL, err) < 0)
        return -1;
    json_t *src_kernels = json_object_get(src, "kernels");
    if (kn && (!json_is_string(src_kernels) || json_string_length(src_kernels) == 0))
        return err_set(err, "%s: field 'sources.kernels' must name the figure's public source",
                       path);
    for (const char *const *n = SOURCED; *n; n++) {
        json_t *s = json_object_get(src, *n);
        if (!json_is_string(s) || json_string_length(s) == 0)
            return err_set(err, "%s: field 'sources.%s' must name the figure's public source", path,
                           *n);
    }
    p->sources = json_incref(src);
    return 0;
}

int profile_read(const char *path, struct profile *p, struct err *err)
{
    memset(p, 0, sizeof *p);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return err_set(err, "%s: line %d column %d: %s", path, je.line, je.column, je.text);
    int rc = profile_from_json(path, root, p, err);
    json_decref(root);
    if (rc == 0) {
        /* The name is what --profile and `profile NAME` look for, and what shadows. */
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t len = strlen(base);
        if (len < 5 || strcmp(base + len - 5, ".json") != 0 || strlen(p->name) != len - 5 ||
            strncmp(base, p->name, len - 5) != 0)
            rc = err_set(err, "%s: field 'name' is \"%s\", but the file must then be %s.json", path,
                         p->name, p->name);
    }
    if (rc == 0)
        snprintf(p->path, sizeof p->path, "%s", path);
    else
        profile_fini(p);
    return rc;
}

void profile_fini(struct profile *p)
{
    json_decref(p->sources);
    p->sources = NULL;
}

void profile_list_fini(struct profile_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        profile_fini(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct profile *)a)->name, ((const struct profile *)b)->name);
}

static int by_file(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the profiles of dir (absent: none), replacing those of the same name. */
static int load_dir(struct profile_list *l, const char *dir, bool user, struct err *err)
{
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d)
        return 0;
    char **files = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0 || de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(files, cap * sizeof *files);
            if (!grown) {
                rc = err_oom(err, "profiles", cap * sizeof *files);
                break;
            }
            files = grown;
        }
        if (!(files[n] = strdup(de->d_name))) {
            rc = err_oom(err, "profiles", len);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0)
        qsort(files, n, sizeof *files, by_file); /* the same order on every machine */
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        struct profile p;
        if ((rc = profile_read(path, &p, err)) < 0)
            break;
        p.user = user;
        size_t k = 0;
        while (k < l->count && strcmp(l->items[k].name, p.name) != 0)
            k++;
        if (k == l->count) {
            struct profile *grown = realloc(l->items, (l->count + 1) * sizeof *grown);
            if (!grown) {
                profile_fini(&p);
                rc = err_oom(err, "profiles", (l->count + 1) * sizeof *grown);
                break;
            }
            l->items = grown;
            l->count++;
        } else {
            profile_fini(&l->items[k]);
        }
        l->items[k] = p;
    }
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    return rc;
}

int profile_list_load(struct profile_list *l, const char *bundled_dir, const char *user_dir,
                      struct err *err)
{
    memset(l, 0, sizeof *l);
    if (load_dir(l, bundled_dir, false, err) < 0 || load_dir(l, user_dir, true, err) < 0) {
        profile_list_fini(l);
        return -1;
    }
    if (l->count)
        qsort(l->items, l->count, sizeof *l->items, by_name);
    return 0;
}

const struct profile *profile_find(const struct profile_list *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return &l->items[i];
    return NULL;
}

void profile_names(const struct profile_list *l, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < l->count && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", l->items[i].name);
    if (l->count == 0)
        snprintf(buf, size, "none");
}

void profile_user_dir(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, size, "%s/prunescope/profiles", xdg);
    else
        snprintf(buf, size, "%s/.config/prunescope/profiles", home && *home ? home : ".");
}

void profile_bundled_dir(char *buf, size_t size)
{
    const char *env = getenv("PRUNESCOPE_DATADIR");
    struct stat st;
    if (env && *env)
        snprintf(buf, size, "%s/profiles", env);
    else if (stat(SRCDATADIR "/digits_mlp.onnx", &st) == 0)
        snprintf(buf, size, "%s/profiles", SRCDATADIR);
    else
        snprintf(buf, size, "%s/profiles", PKGDATADIR);
}
