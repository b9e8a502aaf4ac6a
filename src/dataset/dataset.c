/* CSV validation sets: streaming through zlib (plain or gzip) into libcsv, header and
 * label detection, numeric parsing, and the checks against a model. Not metrics. */
#include "dataset/dataset.h"

#include <csv.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#define READ_BYTES (64u * 1024u)

/* A growable array of bytes (cell text of the first rows, label text). */
struct bytes {
    char *data;
    size_t len, cap;
};

static int bytes_add(struct bytes *b, const void *src, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* The first two rows are kept as text until the header and label column are decided. */
struct held_row {
    struct bytes text; /* cells, each NUL-terminated */
    size_t *offs;
    size_t n, cap;
    size_t line;
};

struct reader {
    const char *path;
    const struct dataset_options *opt;
    struct dataset *d;
    struct err *err;
    bool failed;

    size_t line;        /* physical line being fed to libcsv (1-based) */
    size_t embedded_nl; /* newlines inside quoted fields of the current record */
    size_t col;         /* fields seen in the current record */
    size_t records;     /* records completed */
    struct held_row held[2];
    bool decided;     /* header and label column known; rows stream straight in */
    size_t ncols;     /* cells per row */
    size_t label_col; /* 0-based */
    char **header;    /* header names (ncols), when has_header */

    size_t cap_rows;
    float *row; /* features of the current record */
    size_t row_nf;
    struct bytes labels; /* label text of every row, NUL-separated */
    size_t *label_off;   /* per row */
    double *label_num;   /* per row: the numeric value, or NAN when not a number */
    bool any_string_label;
    float scale;
};

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct reader *r, const char *fmt, ...)
{
    if (r->failed)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    err_vset(r->err, fmt, ap);
    va_end(ap);
    r->failed = true;
    return -1;
}

/* Line where the current record started. */
static size_t record_line(const struct reader *r)
{
    return r->line - r->embedded_nl;
}

/* "pixel3" or "column 4" (1-based) for messages. */
static const char *col_name(const struct reader *r, size_t col, char *buf, size_t size)
{
    if (r->header && col < r->ncols)
        return r->header[col];
    snprintf(buf, size, "column %zu", col + 1);
    return buf;
}

/* Parses a number: integers exactly without strtof (the common case of pixel data), the
 * rest with strtof. Surrounding blanks are allowed. Returns false when s is not a number. */
static bool parse_float(const char *s, float *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    const char *p = s;
    bool neg = false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (*p >= '0' && *p <= '9') {
        long v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 8) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        const char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '\0' && !(*p >= '0' && *p <= '9')) {
            *out = (float)(neg ? -v : v); /* below 2^24: exact */
            return true;
        }
    }
    if (*s == '\0')
        return false;
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (end == s)
        return false;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_number(const char *s)
{
    float ignored;
    return parse_float(s, &ignored);
}

static int grow_rows(struct reader *r)
{
    struct dataset *d = r->d;
    if (d->rows < r->cap_rows)
        return 0;
    size_t cap = r->cap_rows ? 2 * r->cap_rows : 1024;
    float *f = realloc(d->features, cap * d->n_features * sizeof *f);
    if (f)
        d->features = f;
    size_t *lines = realloc(d->row_line, cap * sizeof *lines);
    if (lines)
        d->row_line = lines;
    size_t *lo = realloc(r->label_off, cap * sizeof *lo);
    if (lo)
        r->label_off = lo;
    double *ln = realloc(r->label_num, cap * sizeof *ln);
    if (ln)
        r->label_num = ln;
    if (!f || !lines || !lo || !ln) {
        err_oom(r->err, "rows", cap * d->n_features * sizeof *f);
        r->failed = true;
        return -1;
    }
    r->cap_rows = cap;
    return 0;
}

/* One cell of a data row, at 0-based column col. */
static int data_cell(struct reader *r, const char *s, size_t len, size_t col, size_t line)
{
    char nb[32];
    if (col >= r->ncols)
        return 0; /* counted; the ragged row is reported at its end */
    if (col == r->label_col) {
        size_t off = r->labels.len;
        if (bytes_add(&r->labels, s, len + 1) < 0) {
            err_oom(r->err, "labels", len);
            r->failed = true;
            return -1;
        }
        r->label_off[r->d->rows] = off;
        float v;
        if (len > 0 && parse_float(s, &v)) {
            if (!isfinite(v))
                return fail(r, "%s:%zu:%zu (%s): the label is '%s'; labels must be finite", r->path,
                            line, col + 1, col_name(r, col, nb, sizeof nb), s);
            r->label_num[r->d->rows] = v;
        } else {
            if (len == 0)
                return fail(r, "%s:%zu:%zu (%s): the label cell is empty", r->path, line, col + 1,
                            col_name(r, col, nb, sizeof nb));
            r->label_num[r->d->rows] = NAN;
            r->any_string_label = true;
        }
        return 0;
    }
    float v;
    if (len == 0)
        return fail(r, "%s:%zu:%zu (%s): expected a number, found an empty cell", r->path, line,
                    col + 1, col_name(r, col, nb, sizeof nb));
    if (!parse_float(s, &v)) {
        return fail(r, "%s:%zu:%zu (%s): expected a number, found '%.40s%s'", r->path, line,
                    col + 1, col_name(r, col, nb, sizeof nb), s, len > 40 ? "..." : "");
    }
    if (!isfinite(v) && !r->opt->allow_nonfinite)
        return fail(r,
                    "%s:%zu:%zu (%s): the feature is '%s' (NaN and infinity are refused; "
                    "data --allow-nonfinite accepts them)",
                    r->path, line, col + 1, col_name(r, col, nb, sizeof nb), s);
    size_t k = col < r->label_col ? col : col - 1;
    r->row[k] = v * r->scale;
    return 0;
}

/* A data row is complete: check its width and append it. */
static int end_data_row(struct reader *r, size_t cells, size_t line)
{
    if (cells != r->ncols) {
        if (r->d->has_header)
            return fail(r, "%s:%zu: the row has %zu cells, the header has %zu", r->path, line,
                        cells, r->ncols);
        return fail(r, "%s:%zu: the row has %zu cells, the first row has %zu", r->path, line, cells,
                    r->ncols);
    }
    struct dataset *d = r->d;
    memcpy(d->features + d->rows * d->n_features, r->row, d->n_features * sizeof *r->row);
    d->row_line[d->rows] = line;
    d->rows++;
    return grow_rows(r);
}

/* Picks the label column among ncols, from the option, the header names, or the last. */
static int choose_label(struct reader *r)
{
    const char *want = r->opt->label;
    char names[512];
    if (want) {
        for (size_t c = 0; r->header && c < r->ncols; c++)
            if (strcmp(r->header[c], want) == 0) {
                r->label_col = c;
                return 0;
            }
        char *end;
        long n = strtol(want, &end, 10);
        if (*want && !*end) {
            if (n < 1 || (size_t)n > r->ncols)
                return fail(r, "%s: --label %s is outside the %zu columns", r->path, want,
                            r->ncols);
            r->label_col = (size_t)n - 1;
            return 0;
        }
        if (!r->header)
            return fail(r,
                        "%s: --label '%s' names a column, but the file has no header (give "
                        "a 1-based column number)",
                        r->path, want);
        size_t used = 0;
        for (size_t c = 0; c < r->ncols && used < sizeof names - 8; c++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", c ? ", " : "",
                                     r->header[c]);
        if (used >= sizeof names - 8)
            snprintf(names + sizeof names - 8, 8, ", ...");
        return fail(r, "%s: no column named '%s'; the header has %zu columns: %s", r->path, want,
                    r->ncols, names);
    }
    static const char *const usual[] = {"label", "target", "class", "y"};
    for (size_t u = 0; r->header && u < 4; u++)
        for (size_t c = 0; c < r->ncols; c++)
            if (strcasecmp(r->header[c], usual[u]) == 0) {
                r->label_col = c;
                return 0;
            }
    r->label_col = r->ncols - 1;
    return 0;
}

/* With the first rows held (n_held of them), decide the header and the label column,
 * then feed the held data rows through as data. */
static int decide(struct reader *r, int n_held)
{
    struct held_row *h0 = &r->held[0], *h1 = &r->held[1];
    size_t non0 = 0, non1 = 0;
    for (size_t c = 0; c < h0->n; c++)
        non0 += !is_number(h0->text.data + h0->offs[c]);
    for (size_t c = 0; n_held > 1 && c < h1->n; c++)
        non1 += !is_number(h1->text.data + h1->offs[c]);
    struct dataset *d = r->d;
    d->has_header = n_held > 1 ? non0 > non1 : non0 == h0->n;
    r->ncols = h0->n;
    if (r->ncols < 2)
        return fail(r,
                    "%s:%zu: the first row has %zu column%s; a label and at least one "
                    "feature are needed",
                    r->path, h0->line, r->ncols, r->ncols == 1 ? "" : "s");
    if (d->has_header) {
        r->header = calloc(r->ncols, sizeof *r->header);
        if (!r->header)
            return fail(r, "out of memory");
        for (size_t c = 0; c < r->ncols; c++)
            if (!(r->header[c] = strdup(h0->text.data + h0->offs[c])))
                return fail(r, "out of memory");
        if (n_held < 2)
            return fail(r, "%s: a header but no data rows", r->path);
    }
    if (choose_label(r) < 0)
        return -1;
    d->n_features = r->ncols - 1;
    d->label_column = r->label_col + 1;
    char nb[32];
    d->label_name = strdup(col_name(r, r->label_col, nb, sizeof nb));
    r->row = malloc(d->n_features * sizeof *r->row);
    if (!d->label_name || !r->row || grow_rows(r) < 0)
        return fail(r, "out of memory");
    r->decided = true;
    for (int i = d->has_header ? 1 : 0; i < n_held; i++) {
        struct held_row *h = &r->held[i];
        for (size_t c = 0; c < h->n; c++)
            if (data_cell(r, h->text.data + h->offs[c], strlen(h->text.data + h->offs[c]), c,
                          h->line) < 0)
                return -1;
        if (end_data_row(r, h->n, h->line) < 0)
            return -1;
    }
    return 0;
}

static void on_field(void *s, size_t len, void *data)
{
    struct reader *r = data;
    if (r->failed)
        return;
    const char *text = s ? s : "";
    for (size_t i = 0; i < len; i++)
        r->embedded_nl += text[i] == '\n';
    size_t col = r->col++;
    if (r->decided) {
        data_cell(r, text, len, col, record_line(r));
        return;
    }
    struct held_row *h = &r->held[r->records];
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        size_t *o = realloc(h->offs, cap * sizeof *o);
        if (!o) {
            fail(r, "out of memory");
            return;
        }
        h->offs = o;
        h->cap = cap;
    }
    h->offs[h->n++] = h->text.len;
    if (bytes_add(&h->text, text, len) < 0 || bytes_add(&h->text, "", 1) < 0)
        fail(r, "out of memory");
}

static void on_record(int c, void *data)
{
    struct reader *r = data;
    (void)c;
    if (r->failed)
        return;
    size_t line = record_line(r), cells = r->col;
    r->col = 0;
    r->embedded_nl = 0;
    if (r->decided) {
        end_data_row(r, cells, line);
    } else {
        r->held[r->records].line = line;
        if (r->records == 1)
            decide(r, 2);
    }
    r->records++;
}

struct dataset *dataset_load(const char *path, const struct dataset_options *opt, struct err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        err_set(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set(err, "%s: not a regular file", path);
        return NULL;
    }
    if (st.st_size == 0) {
        err_set(err, "%s: the file is empty", path);
        return NULL;
    }
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        err_set(err, "%s: %s", path, errno ? strerror(errno) : "cannot open");
        return NULL;
    }
    gzbuffer(gz, 256u * 1024u);
    struct dataset *d = calloc(1, sizeof *d);
    struct csv_parser parser;
    bool parser_ready = false;
    struct reader r = {.path = path, .opt = opt, .d = d, .err = err, .line = 1};
    r.scale = opt->scale != 0.0f ? opt->scale : 1.0f;
    char *buf = malloc(READ_BYTES);
    if (!d || !buf || !(d->path = strdup(path))) {
        err_oom(err, "dataset", READ_BYTES);
        goto fail;
    }
    d->file_bytes = (uint64_t)st.st_size;
    if (csv_init(&parser, CSV_APPEND_NULL | CSV_STRICT | CSV_STRICT_FINI) != 0) {
        err_oom(err, "CSV parser", sizeof parser);
        goto fail;
    }
    parser_ready = true;
    bool first = true;
    for (;;) {
        int n = gzread(gz, buf, READ_BYTES);
        if (n < 0) {
            int code;
            const char *msg = gzerror(gz, &code);
            err_set(err, "%s: cannot read the compressed data (%s)", path,
                    code == Z_ERRNO ? strerror(errno) : msg);
            goto fail;
        }
        if (n == 0)
            break;
        d->text_bytes += (uint64_t)n;
        char *p = buf, *end = buf + n;
        if (first && n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
            p += 3; /* a UTF-8 byte order mark */
        first = false;
        /* Fed a line at a time, so the callbacks know which line they are on. */
        while (p < end && !r.failed) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
            if (csv_parse(&parser, p, len, on_field, on_record, &r) != len) {
                if (csv_error(&parser) == CSV_EPARSE)
                    err_set(err,
                            "%s:%zu: malformed quoting (a quote inside an unquoted field, "
                            "or text after a closing quote)",
                            path, r.line);
                else
                    err_set(err, "%s:%zu: %s", path, r.line, csv_strerror(csv_error(&parser)));
                goto fail;
            }
            if (nl)
                r.line++;
            p += len;
        }
        if (r.failed)
            goto fail;
    }
    int code;
    const char *zmsg = gzerror(gz, &code);
    if (code != Z_OK && code != Z_BUF_ERROR) {
        err_set(err, "%s: cannot read the compressed data (%s)", path, zmsg);
        goto fail;
    }
    if (code == Z_BUF_ERROR) {
        err_set(err, "%s: the compressed data ends early (the .gz file is truncated)", path);
        goto fail;
    }
    if (csv_fini(&parser, on_field, on_record, &r) != 0) {
        err_set(err, "%s:%zu: a quoted field is not closed before the end of the file", path,
                r.line > 1 ? r.line - 1 : r.line);
        goto fail;
    }
    if (r.failed)
        goto fail;
    if (!r.decided) {
        if (r.records == 0) {
            err_set(err, "%s: the file is empty", path);
            goto fail;
        }
        if (decide(&r, (int)r.records) < 0)
            goto fail;
    }
    if (d->rows == 0) {
        err_set(err, "%s: a header but no data rows", path);
        goto fail;
    }
    /* Labels: strings (any non-numeric cell) become sorted classes, integers are class
     * indices, other numbers are regression targets. */
    if (r.any_string_label) {
        char **names = malloc(d->rows * sizeof *names);
        if (!names) {
            err_oom(err, "labels", d->rows * sizeof *names);
            goto fail;
        }
        for (size_t i = 0; i < d->rows; i++)
            names[i] = r.labels.data + r.label_off[i];
        qsort(names, d->rows, sizeof *names, strcmp_ptr);
        size_t u = 0;
        for (size_t i = 0; i < d->rows; i++)
            if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
                names[u++] = names[i];
        d->class_names = calloc(u, sizeof *d->class_names);
        d->labels = malloc(d->rows * sizeof *d->labels);
        if (!d->class_names || !d->labels) {
            free(names);
            err_oom(err, "labels", d->rows * sizeof *d->labels);
            goto fail;
        }
        d->n_classes = u;
        for (size_t k = 0; k < u; k++)
            if (!(d->class_names[k] = strdup(names[k]))) {
                free(names);
                err_oom(err, "labels", 0);
                goto fail;
            }
        for (size_t i = 0; i < d->rows; i++) {
            const char *key = r.labels.data + r.label_off[i];
            char **hit = bsearch(&key, names, u, sizeof *names, strcmp_ptr);
            d->labels[i] = hit ? (int64_t)(hit - names) : 0;
        }
        free(names);
        d->kind = LABEL_CLASS;
    } else {
        bool integers = true;
        for (size_t i = 0; i < d->rows && integers; i++)
            integers = r.label_num[i] == floor(r.label_num[i]) && fabs(r.label_num[i]) < 1e9;
        if (integers) {
            d->kind = LABEL_CLASS;
            d->labels = malloc(d->rows * sizeof *d->labels);
            if (!d->labels) {
                err_oom(err, "labels", d->rows * sizeof *d->labels);
                goto fail;
            }
            int64_t max = 0;
            for (size_t i = 0; i < d->rows; i++) {
                d->labels[i] = (int64_t)r.label_num[i];
                if (d->labels[i] < 0) {
                    err_set(err, "%s:%zu:%zu (%s): the label is %lld; class labels start at 0",
                            path, d->row_line[i], d->label_column, d->label_name,
                            (long long)d->labels[i]);
                    goto fail;
                }
                if (d->labels[i] > max)
                    max = d->labels[i];
            }
            d->n_classes = (size_t)max + 1;
        } else {
            d->kind = LABEL_VALUE;
            d->values = malloc(d->rows * sizeof *d->values);
            if (!d->values) {
                err_oom(err, "labels", d->rows * sizeof *d->values);
                goto fail;
            }
            for (size_t i = 0; i < d->rows; i++)
                d->values[i] = (float)r.label_num[i];
        }
    }
    goto done;
fail:
    dataset_free(d);
    d = NULL;
done:
    if (parser_ready)
        csv_free(&parser);
    gzclose(gz);
    free(buf);
    for (int i = 0; i < 2; i++) {
        free(r.held[i].text.data);
        free(r.held[i].offs);
    }
    for (size_t c = 0; r.header && c < r.ncols; c++)
        free(r.header[c]);
    free(r.header);
    free(r.row);
    free(r.labels.data);
    free(r.label_off);
    free(r.label_num);
    return d;
}

void dataset_free(struct dataset *d)
{
    if (!d)
        return;
    free(d->path);
    free(d->features);
    free(d->labels);
    free(d->values);
    for (size_t k = 0; d->class_names && k < d->n_classes; k++)
        free(d->class_names[k]);
    free(d->class_names);
    free(d->label_name);
    free(d->row_line);
    free(d);
}

int dataset_check_features(const struct dataset *d, size_t n_features, const char *model_shape,
                           struct err *err)
{
    if (d->n_features == n_features)
        return 0;
    return err_set(err,
                   "%s: rows have %zu features (the columns other than the label, "
                   "column %zu), but the model's input %s takes %zu per row",
                   d->path, d->n_features, d->label_column, model_shape, n_features);
}

int dataset_check_classes(const struct dataset *d, size_t n_classes, struct err *err)
{
    if (d->kind != LABEL_CLASS)
        return 0;
    for (size_t i = 0; i < d->rows; i++) {
        if ((size_t)d->labels[i] < n_classes)
            continue;
        if (d->class_names)
            return err_set(err,
                           "%s:%zu:%zu (%s): the label '%s' is class %lld in sorted order, "
                           "but the model has %zu classes (0 to %zu); the file has %zu distinct "
                           "labels",
                           d->path, d->row_line[i], d->label_column, d->label_name,
                           d->class_names[d->labels[i]], (long long)d->labels[i], n_classes,
                           n_classes - 1, d->n_classes);
        return err_set(err,
                       "%s:%zu:%zu (%s): the label %lld is out of range for a model with "
                       "%zu classes (0 to %zu)",
                       d->path, d->row_line[i], d->label_column, d->label_name,
                       (long long)d->labels[i], n_classes, n_classes - 1);
    }
    return 0;
}
