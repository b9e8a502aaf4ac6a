/* Text graphics as strings: sparklines, shades, braille/ASCII canvases and axis ticks.
 * Not for putting anything on the screen or choosing colours (the TUI does that). */
#include "tui/plot.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK_BYTES 5 /* one UTF-8 character and its NUL */

static const char *const spark_unicode[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
static const char spark_ascii[] = "_.:-=+*#";
static const char *const shade_unicode[5] = {" ", "░", "▒", "▓", "█"};
static const char *const shade_ascii[5] = {" ", ".", ":", "*", "#"};
static const char series_chars[] = "*+ox%#@&";

/* Braille dot bits by [column][row] inside a cell: dots 1-2-3-7 down the left column,
 * 4-5-6-8 down the right, as the Unicode braille block numbers them. */
static const uint8_t braille_bit[2][4] = {{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}};

struct cell {
    uint8_t dots;          /* braille bits; in ASCII mode 1 when the dot is lit */
    int8_t dot_series;     /* series of the last dot drawn into the cell */
    int8_t mark_series;    /* series of the mark */
    char mark[MARK_BYTES]; /* whole-cell glyph over the dots, "" when none */
};

struct plot_canvas {
    int cols, rows;
    int dot_w, dot_h; /* dots per cell: 2 x 4 in unicode mode, 1 x 1 in ASCII */
    bool unicode;
    double xmin, xmax, ymin, ymax;
    struct cell *cells;
};

/* Empty the buffer after a failed write, keeping the "always NUL-terminated" promise. */
static int no_fit(char *buf, size_t size)
{
    if (size > 0)
        buf[0] = '\0';
    return -1;
}

/* An empty range [v, v] becomes [v - 0.5, v + 0.5] so positions stay defined. */
static void widen(double *lo, double *hi)
{
    if (*lo == *hi) {
        *lo -= 0.5;
        *hi += 0.5;
    }
}

/* Equal-width bin of t in [0, 1] among n; t == 1 falls in the last. -1 for NaN. */
static int bin_of(double t, int n)
{
    if (isnan(t))
        return -1;
    if (t <= 0)
        return 0;
    if (t >= 1)
        return n - 1;
    int b = (int)floor(t * n);
    return b < n ? b : n - 1;
}

static int series_index(int series)
{
    return (int)((unsigned)series % PLOT_SERIES);
}

int plot_sparkline(const double *v, size_t n, double lo, double hi, bool unicode, char *buf,
                   size_t size, size_t *offsets)
{
    widen(&lo, &hi);
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        int b = bin_of((v[i] - lo) / (hi - lo), 8);
        const char *g = " ";
        char one[2] = {0, 0};
        if (b >= 0 && unicode) {
            g = spark_unicode[b];
        } else if (b >= 0) {
            one[0] = spark_ascii[b];
            g = one;
        }
        size_t len = strlen(g);
        if (used + len + 1 > size)
            return no_fit(buf, size);
        memcpy(buf + used, g, len);
        used += len;
    }
    if (used + 1 > size)
        return no_fit(buf, size);
    buf[used] = '\0';
    /* A second pass for the offsets, so a failed call leaves the caller's array alone. */
    if (offsets) {
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            offsets[i] = at;
            at += unicode && !isnan((v[i] - lo) / (hi - lo)) ? 3 : 1;
        }
        offsets[n] = at;
    }
    return (int)used;
}

const char *plot_shade(double t, bool unicode)
{
    int b = bin_of(t, 5);
    if (b < 0)
        return "?";
    return unicode ? shade_unicode[b] : shade_ascii[b];
}

char plot_series_char(int series)
{
    return series_chars[series_index(series)];
}

struct plot_canvas *plot_new(int cols, int rows, bool unicode, struct err *err)
{
    if (cols < 1 || rows < 1 || cols > PLOT_MAX_CELLS || rows > PLOT_MAX_CELLS) {
        err_set(err, "plot canvas of %d x %d cells: columns and rows must be between 1 and %d",
                cols, rows, PLOT_MAX_CELLS);
        return NULL;
    }
    struct plot_canvas *c = calloc(1, sizeof *c);
    if (!c) {
        err_oom(err, "plot canvas", sizeof *c);
        return NULL;
    }
    size_t n = (size_t)cols * (size_t)rows;
    c->cells = calloc(n, sizeof *c->cells);
    if (!c->cells) {
        err_oom(err, "plot canvas cells", n * sizeof *c->cells);
        free(c);
        return NULL;
    }
    c->cols = cols;
    c->rows = rows;
    c->unicode = unicode;
    c->dot_w = unicode ? 2 : 1;
    c->dot_h = unicode ? 4 : 1;
    c->xmin = c->ymin = 0;
    c->xmax = c->ymax = 1;
    plot_clear(c);
    return c;
}

void plot_free(struct plot_canvas *c)
{
    if (!c)
        return;
    free(c->cells);
    free(c);
}

void plot_set_range(struct plot_canvas *c, double xmin, double xmax, double ymin, double ymax)
{
    if (!isfinite(xmin) || !isfinite(xmax) || !isfinite(ymin) || !isfinite(ymax))
        return;
    widen(&xmin, &xmax);
    widen(&ymin, &ymax);
    c->xmin = xmin;
    c->xmax = xmax;
    c->ymin = ymin;
    c->ymax = ymax;
}

void plot_clear(struct plot_canvas *c)
{
    size_t n = (size_t)c->cols * (size_t)c->rows;
    for (size_t i = 0; i < n; i++) {
        c->cells[i].dots = 0;
        c->cells[i].mark[0] = '\0';
    }
}

/* Data point to continuous dot-grid position: u in [0, W] left to right, v in [0, H] top to
 * bottom for points inside the range (W, H the dot grid size). False when not finite. */
static bool to_grid(const struct plot_canvas *c, double x, double y, double *u, double *v)
{
    *u = (x - c->xmin) / (c->xmax - c->xmin) * (c->cols * c->dot_w);
    *v = (c->ymax - y) / (c->ymax - c->ymin) * (c->rows * c->dot_h);
    return isfinite(*u) && isfinite(*v);
}

/* The dot holding grid position p along an axis of n dots; the far edge p == n belongs to
 * the last dot. Callers have checked 0 <= p <= n (give or take rounding). */
static int dot_of(double p, int n)
{
    int d = (int)floor(p);
    if (d < 0)
        return 0;
    return d < n ? d : n - 1;
}

static bool inside(const struct plot_canvas *c, double u, double v)
{
    return u >= 0 && v >= 0 && u <= c->cols * c->dot_w && v <= c->rows * c->dot_h;
}

/* The cell at (col, row); the caller has checked both are on the canvas. */
static struct cell *cell_at(const struct plot_canvas *c, int col, int row)
{
    return &c->cells[(size_t)row * (size_t)c->cols + (size_t)col];
}

static void set_dot(struct plot_canvas *c, int dx, int dy, int series)
{
    struct cell *cell = cell_at(c, dx / c->dot_w, dy / c->dot_h);
    cell->dots |= c->unicode ? braille_bit[dx % 2][dy % 4] : 1;
    cell->dot_series = (int8_t)series_index(series);
}

/* Liang-Barsky: one side of the clip box. The segment is p(t) = start + t * d for t in
 * [t0, t1]; q is the start's distance inside this side. False when the segment is wholly
 * outside. */
static bool clip_side(double d, double q, double *t0, double *t1)
{
    if (d == 0)
        return q >= 0;
    double t = q / d;
    if (d < 0) {
        if (t > *t1)
            return false;
        if (t > *t0)
            *t0 = t;
    } else {
        if (t < *t0)
            return false;
        if (t < *t1)
            *t1 = t;
    }
    return true;
}

/* The segment is clipped in continuous grid coordinates first, so an end far outside never
 * walks the dot loop and every dot Bresenham visits lies on the canvas. The clipped ends are
 * then snapped to their dots. */
void plot_line(struct plot_canvas *c, double x0, double y0, double x1, double y1, int series)
{
    double u0, v0, u1, v1;
    if (!to_grid(c, x0, y0, &u0, &v0) || !to_grid(c, x1, y1, &u1, &v1))
        return;
    int w = c->cols * c->dot_w, h = c->rows * c->dot_h;
    double du = u1 - u0, dv = v1 - v0, t0 = 0, t1 = 1;
    if (!clip_side(-du, u0, &t0, &t1) || !clip_side(du, w - u0, &t0, &t1) ||
        !clip_side(-dv, v0, &t0, &t1) || !clip_side(dv, h - v0, &t0, &t1))
        return;
    int ax = dot_of(u0 + t0 * du, w), ay = dot_of(v0 + t0 * dv, h);
    int bx = dot_of(u0 + t1 * du, w), by = dot_of(v0 + t1 * dv, h);

    /* All-octant Bresenham: e tracks the error of both axes at once. */
    int dx = abs(bx - ax), sx = ax < bx ? 1 : -1;
    int dy = -abs(by - ay), sy = ay < by ? 1 : -1;
    int e = dx + dy;
    for (;;) {
        set_dot(c, ax, ay, series);
        if (ax == bx && ay == by)
            break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            ax += sx;
        }
        if (e2 <= dx) {
            e += dx;
            ay += sy;
        }
    }
}

void plot_point(struct plot_canvas *c, double x, double y, int series)
{
    double u, v;
    if (!to_grid(c, x, y, &u, &v) || !inside(c, u, v))
        return;
    set_dot(c, dot_of(u, c->cols * c->dot_w), dot_of(v, c->rows * c->dot_h), series);
}

/* Copy the first UTF-8 character of s into out (MARK_BYTES); "?" when it is malformed. */
static void first_char(const char *s, char *out)
{
    unsigned char b = (unsigned char)s[0];
    int len = 0;
    if (b < 0x80)
        len = 1;
    else if ((b & 0xE0) == 0xC0)
        len = 2;
    else if ((b & 0xF0) == 0xE0)
        len = 3;
    else if ((b & 0xF8) == 0xF0)
        len = 4;
    for (int i = 1; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            len = 0;
    }
    if (len == 0) {
        strcpy(out, "?");
        return;
    }
    memcpy(out, s, (size_t)len);
    out[len] = '\0';
}

void plot_mark(struct plot_canvas *c, double x, double y, const char *glyph, int series)
{
    double u, v;
    if (!to_grid(c, x, y, &u, &v) || !inside(c, u, v))
        return;
    int col = dot_of(u, c->cols * c->dot_w) / c->dot_w;
    int row = dot_of(v, c->rows * c->dot_h) / c->dot_h;
    struct cell *cell = cell_at(c, col, row);
    if (!glyph || !glyph[0]) {
        cell->mark[0] = '\0';
        return;
    }
    first_char(glyph, cell->mark);
    cell->mark_series = (int8_t)series_index(series);
}

int plot_cell_series(const struct plot_canvas *c, int col, int row)
{
    if (col < 0 || row < 0 || col >= c->cols || row >= c->rows)
        return -1;
    const struct cell *cell = cell_at(c, col, row);
    if (cell->mark[0])
        return cell->mark_series;
    return cell->dots ? cell->dot_series : -1;
}

/* The UTF-8 text of one cell into out (at least MARK_BYTES); returns its length. */
static size_t cell_text(const struct plot_canvas *c, const struct cell *cell, char *out)
{
    if (cell->mark[0]) {
        strcpy(out, cell->mark);
    } else if (!cell->dots) {
        strcpy(out, " ");
    } else if (c->unicode) {
        unsigned cp = 0x2800u + cell->dots;
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        out[3] = '\0';
    } else {
        out[0] = plot_series_char(cell->dot_series);
        out[1] = '\0';
    }
    return strlen(out);
}

int plot_row(const struct plot_canvas *c, int row, char *buf, size_t size)
{
    if (row < 0 || row >= c->rows)
        return no_fit(buf, size);
    size_t used = 0;
    for (int col = 0; col < c->cols; col++) {
        char text[MARK_BYTES];
        size_t len = cell_text(c, cell_at(c, col, row), text);
        if (used + len + 1 > size)
            return no_fit(buf, size);
        memcpy(buf + used, text, len);
        used += len;
    }
    buf[used] = '\0';
    return (int)used;
}

int plot_cell(const struct plot_canvas *c, int col, int row, char *buf, size_t size)
{
    if (col < 0 || row < 0 || col >= c->cols || row >= c->rows)
        return no_fit(buf, size);
    char text[MARK_BYTES];
    size_t len = cell_text(c, cell_at(c, col, row), text);
    if (len + 1 > size)
        return no_fit(buf, size);
    memcpy(buf, text, len + 1);
    return (int)len;
}

/* 10^k, exact for the |k| <= 22 that matter here. */
static double pow10_int(int k)
{
    double p = 1;
    for (int i = 0; i < abs(k); i++)
        p *= 10;
    return k < 0 ? 1 / p : p;
}

/* A tick step m * 10^k, with m one of 1, 2, 5. */
struct step {
    int m, k;
};

/* i * step, computed as an integer times (or over) a power of ten so the result is the
 * double nearest the decimal value. */
static double step_times(struct step s, double i)
{
    double whole = i * s.m;
    return s.k < 0 ? whole / pow10_int(-s.k) : whole * pow10_int(s.k);
}

/* Indices of the first and last multiples of the step inside [lo, hi]. The slack of a
 * billionth of an index keeps bounds that are multiples themselves (1 / 0.2) from being
 * lost to rounding. */
static void step_span(struct step s, double lo, double hi, double *first, double *last)
{
    double size = step_times(s, 1);
    double a = lo / size, b = hi / size;
    *first = ceil(a - 1e-9 * fmax(1, fabs(a)));
    *last = floor(b + 1e-9 * fmax(1, fabs(b)));
}

/* Steps grow 1, 2, 5, 10, ... from one that gives about ten times too many ticks; the first
 * giving at most max wins. A step can leave no multiple inside the range (max 1 over
 * [6, 8]: 2 gives two, 5 gives none); then the previous step's first ticks are used. */
int plot_ticks(double lo, double hi, int max_ticks, double *ticks, int cap)
{
    if (!isfinite(lo) || !isfinite(hi) || max_ticks < 1 || cap < 1 || !ticks)
        return 0;
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    widen(&lo, &hi);
    int max = max_ticks < cap ? max_ticks : cap;
    double k0 = floor(log10((hi - lo) / max)) - 1;
    if (!isfinite(k0) || fabs(k0) > 300)
        return 0;
    static const int mant[3] = {1, 2, 5};
    struct step s = {1, (int)k0};
    struct step prev = s;
    double first = 0, last = -1;
    for (int i = 0; i < 3 * 40; i++) {
        s.m = mant[i % 3];
        if (i > 0 && i % 3 == 0)
            s.k++;
        step_span(s, lo, hi, &first, &last);
        double count = last - first + 1;
        if (count < 1 && i > 0) {
            s = prev;
            step_span(s, lo, hi, &first, &last);
            break;
        }
        if (count <= max)
            break;
        prev = s;
    }
    /* Indices beyond 2^53 would repeat: a range too narrow for its magnitude. */
    if (fabs(first) > 0x1p53 || fabs(last) > 0x1p53)
        return 0;
    int n = 0;
    for (double i = first; i <= last && n < max; i++)
        ticks[n++] = step_times(s, i);
    return n;
}

void plot_format_tick(double v, double step, char *buf, size_t size)
{
    if (size == 0)
        return;
    if (!(step > 0) || !isfinite(step)) {
        snprintf(buf, size, "%g", v);
        return;
    }
    /* The fewest decimals that write the step itself exactly (0.2 -> 1, 0.05 -> 2), with a
     * relative slack for a step measured as a difference of ticks. */
    int d = 0;
    for (; d < 15; d++) {
        double scaled = step * pow10_int(d);
        if (fabs(scaled - nearbyint(scaled)) <= 1e-6 * scaled)
            break;
    }
    if (fabs(v) < 0.5 * pow10_int(-d))
        v = 0;
    snprintf(buf, size, "%.*f", d, v);
}
