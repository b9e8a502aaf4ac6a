/* draw.c: one frame of the screen from the snapshot and the screen's state: header, layer
 * table, metrics panel or a view, status line, and over them the help, a pager, or the
 * message for a terminal too small. Reads nothing from the session. */
#include <curses.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/plot.h"
#include "tui/prompt.h"
#include "tui/screen.h"

static attr_t pair(const struct tui *t, int n)
{
    return t->color ? COLOR_PAIR(n) : A_NORMAL;
}

/* Characters (not bytes) of a UTF-8 string. */
static size_t u8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Bytes of the first `cols` characters of s. */
static size_t u8_prefix(const char *s, size_t cols)
{
    size_t i = 0, n = 0;
    while (s[i]) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (n == cols)
                break;
            n++;
        }
        i++;
    }
    return i;
}

/* Text at (y, x), at most w columns, padded with spaces to w when pad. */
static void put(int y, int x, int w, bool pad, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void put(int y, int x, int w, bool pad, const char *fmt, ...)
{
    if (w <= 0)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = u8_len(buf);
    if (n > (size_t)w) {
        /* Cut, ending with an ellipsis so the cut shows. */
        size_t keep = u8_prefix(buf, (size_t)w - 1);
        buf[keep] = '\0';
        mvaddstr(y, x, buf);
        addstr("~");
        return;
    }
    mvaddstr(y, x, buf);
    if (pad)
        for (size_t i = n; i < (size_t)w; i++)
            addch(' ');
}

/* A count or a byte figure for people, "-" when it is not a number. */
static void human(double v, char *buf, size_t size)
{
    if (!isfinite(v) || v < 0)
        snprintf(buf, size, "-");
    else
        cmd_count_text(v, buf, size);
}

static void bytes_text(double v, char *buf, size_t size)
{
    if (!isfinite(v))
        snprintf(buf, size, "-");
    else if (v < 10000)
        snprintf(buf, size, "%.0f B", v);
    else if (v < 10e6)
        snprintf(buf, size, "%.1f kB", v / 1e3);
    else if (v < 10e9)
        snprintf(buf, size, "%.1f MB", v / 1e6);
    else
        snprintf(buf, size, "%.1f GB", v / 1e9);
}

/* A bar of w cells filled to frac (clamped). */
static void bar(const struct tui *t, int y, int x, int w, double frac, attr_t fill_attr)
{
    if (w <= 0)
        return;
    if (!(frac >= 0))
        frac = 0;
    int filled = (int)lround(fmin(frac, 1.0) * w);
    move(y, x);
    attron(fill_attr);
    for (int i = 0; i < filled; i++)
        addstr(t->unicode ? "█" : "#");
    attroff(fill_attr);
    for (int i = filled; i < w; i++)
        addstr(t->unicode ? "░" : "-");
}

static void header(const struct tui *t, int w)
{
    const struct snapshot *sn = &t->snap;
    attron(pair(t, 1) | A_BOLD);
    if (!t->color)
        attron(A_REVERSE);
    char base[32] = "-";
    double b = isfinite(sn->baseline) ? sn->baseline : t->baseline_measured;
    if (isfinite(b))
        snprintf(base, sizeof base, "%.2f%%", 100.0 * b);
    char rows[32] = "";
    if (sn->have_data)
        snprintf(rows, sizeof rows, " %zu rows", sn->rows);
    const char *sep = t->unicode ? " · " : " | ";
    char rest[256];
    const char *lead = w >= 120 ? " prunescope · " : " ";
    const char *model = sn->have_model ? sn->model : "no model";
    const char *data = sn->have_data ? sn->data : "no data";
    /* The data file's name gives way when the line is too long: its start and end stay. */
    snprintf(rest, sizeof rest, "%s%sbaseline %s%s%s%s%s", rows, sep, base, sep,
             sn->profile[0] ? sn->profile : "no profile", sep, sn->storage);
    int room = w - (int)u8_len(lead) - (int)u8_len(model) - (int)u8_len(sep) - (int)u8_len(rest);
    char shown[600];
    size_t dl = u8_len(data);
    if (room >= (int)dl || room < 4) {
        snprintf(shown, sizeof shown, "%s", data);
    } else {
        size_t head = (size_t)(room - 1) / 2, tail = (size_t)(room - 1) - head;
        snprintf(shown, sizeof shown, "%.*s~%s", (int)u8_prefix(data, head), data,
                 data + u8_prefix(data, dl - tail));
    }
    if (!t->unicode)
        lead = w >= 120 ? " prunescope | " : " ";
    put(0, 0, w, true, "%s%s%s%s%s", lead, model, sep, shown, rest);
    attroff(pair(t, 1) | A_BOLD | A_REVERSE);
}

/* Columns of the layer table for a width. */
struct columns {
    int idx, name, op, shape, params, slider, pct, spark, drop, group, method;
};

static struct columns columns_for(int w, size_t n_levels)
{
    struct columns c = {.idx = 3, .name = 16, .params = 7, .slider = 12, .pct = 6, .drop = 6};
    c.spark = n_levels ? (int)n_levels : 11;
    if (w >= 110) {
        c.name = 24;
        c.op = 4;
        c.shape = 12;
        c.group = 6;
        c.slider = 16;
    }
    if (w >= 150)
        c.name = 30;
    if (n_levels == 0) {
        /* No sweep yet: its columns go to the names. */
        c.name += c.spark + c.drop - 3;
        c.spark = c.drop = 0;
    }
    int used =
        c.idx + c.name + c.op + c.shape + c.params + c.slider + c.pct + c.spark + c.drop + c.group;
    int gaps = 9 + (c.op > 0) + (c.shape > 0) + (c.group > 0);
    c.method = w - used - gaps;
    if (c.method < 6)
        c.method = 6;
    return c;
}

static void table(struct tui *t, int y0, int h, int w)
{
    const struct snapshot *sn = &t->snap;
    struct columns c = columns_for(w, sn->have_sens ? sn->n_levels : 0);
    int x = 0;
    attron(A_BOLD | A_UNDERLINE);
    move(y0, 0);
    for (int i = 0; i < w; i++)
        addch(' ');
    put(y0, x, c.idx, false, "%*s", c.idx, "#");
    x += c.idx + 1;
    put(y0, x, c.name, false, "layer");
    x += c.name + 1;
    if (c.op) {
        put(y0, x, c.op, false, "op");
        x += c.op + 1;
    }
    if (c.shape) {
        put(y0, x, c.shape, false, "shape");
        x += c.shape + 1;
    }
    put(y0, x, c.params, false, "%*s", c.params, "params");
    x += c.params + 1;
    put(y0, x, c.slider + c.pct + 1, false, "sparsity");
    x += c.slider + c.pct + 2;
    put(y0, x, c.spark, false, "%s", sn->have_sens ? "sensitivity" : "");
    x += c.spark + 1;
    put(y0, x, c.drop, false, "%*s", c.drop, sn->have_sens ? "drop" : "");
    x += c.drop + 1;
    if (c.group) {
        put(y0, x, c.group, false, "group");
        x += c.group + 1;
    }
    put(y0, x, c.method, false, "method");
    attroff(A_BOLD | A_UNDERLINE);

    int rows = h - 1;
    t->table_y = y0 + 1;
    t->table_rows = rows;
    if (sn->n_layers == 0) {
        put(y0 + 1, 1, w - 2, true, "%s",
            sn->have_model ? "this model has no prunable layers" : "no model loaded (:load FILE)");
        return;
    }
    /* Keep the selection in view. */
    if (t->sel < t->top)
        t->top = t->sel;
    if (t->sel >= t->top + (size_t)rows)
        t->top = t->sel - (size_t)rows + 1;
    if (t->top + (size_t)rows > sn->n_layers)
        t->top = sn->n_layers > (size_t)rows ? sn->n_layers - (size_t)rows : 0;
    const struct snap_layer *selected = &sn->layers[t->sel];
    for (int r = 0; r < rows; r++) {
        size_t i = t->top + (size_t)r;
        int y = y0 + 1 + r;
        move(y, 0);
        clrtoeol();
        if (i >= sn->n_layers)
            continue;
        const struct snap_layer *l = &sn->layers[i];
        bool is_sel = i == t->sel;
        /* Members of the selected layer's group move with it under a structured method. */
        bool coupled =
            !is_sel && selected->group && l->group == selected->group && selected->group_size > 1;
        attr_t base = is_sel ? (t->color ? pair(t, 7) : A_REVERSE) : A_NORMAL;
        attron(base);
        if (coupled)
            attron(pair(t, 6));
        x = 0;
        char params[16];
        human((double)l->params, params, sizeof params);
        put(y, x, c.idx + 1, true, "%*zu", c.idx, i + 1);
        x += c.idx + 1;
        /* Long names keep their end, where PyTorch paths differ. */
        size_t nl = u8_len(l->name);
        if (nl > (size_t)c.name)
            put(y, x, c.name + 1, true, "~%s",
                l->name + u8_prefix(l->name, nl - (size_t)c.name + 1));
        else
            put(y, x, c.name + 1, true, "%s", l->name);
        x += c.name + 1;
        if (c.op) {
            put(y, x, c.op + 1, true, "%s", l->op);
            x += c.op + 1;
        }
        if (c.shape) {
            put(y, x, c.shape + 1, true, "%s", l->shape);
            x += c.shape + 1;
        }
        put(y, x, c.params + 1, true, "%*s", c.params, params);
        x += c.params + 1;
        attroff(base);
        if (coupled)
            attroff(pair(t, 6));
        t->slider_x = x;
        t->slider_w = c.slider;
        bar(t, y, x, c.slider, l->sparsity, pair(t, 2));
        x += c.slider + 1;
        attron(base);
        put(y, x - 1, 1, true, " ");
        put(y, x, c.pct + 1, true, "%5.1f%%", 100.0 * l->sparsity);
        x += c.pct + 1;
        attroff(base);
        char spark[256];
        size_t offs[SENS_MAX_LEVELS + 1];
        if (sn->have_sens && isfinite(l->curve[0]) &&
            plot_sparkline(l->curve, sn->n_levels, sn->baseline - 0.5 * sn->baseline, sn->baseline,
                           t->unicode, spark, sizeof spark, offs) >= 0) {
            /* The level nearest the layer's sparsity, marked. */
            size_t mark = 0;
            for (size_t k = 1; k < sn->n_levels; k++)
                if (fabs(sn->levels[k] - l->sparsity) < fabs(sn->levels[mark] - l->sparsity))
                    mark = k;
            move(y, x);
            attron(pair(t, 5));
            addnstr(spark, (int)offs[mark]);
            attroff(pair(t, 5));
            attron(A_REVERSE | pair(t, 4));
            addnstr(spark + offs[mark], (int)(offs[mark + 1] - offs[mark]));
            attroff(A_REVERSE | pair(t, 4));
            attron(pair(t, 5));
            addstr(spark + offs[mark + 1]);
            attroff(pair(t, 5));
        } else {
            put(y, x, c.spark, true, "%s", "");
        }
        x += c.spark + 1;
        attron(base);
        put(y, x - 1, 1, true, " ");
        if (isfinite(l->drop))
            put(y, x, c.drop + 1, true, "%*.2f", c.drop,
                fabs(l->drop) < 5e-5 ? 0.0 : -100.0 * l->drop);
        else
            put(y, x, c.drop + 1, true, "%*s", c.drop, "");
        x += c.drop + 1;
        if (c.group) {
            char g[48] = "";
            if (l->group && l->group_size > 1)
                snprintf(g, sizeof g, "g%d(%zu)", l->group, l->group_size);
            else if (l->group)
                snprintf(g, sizeof g, "g%d", l->group);
            put(y, x, c.group + 1, true, "%s", g);
            x += c.group + 1;
        }
        char method[48];
        snprintf(method, sizeof method, "%s", l->method);
        char *unstructured = strstr(method, "unstructured");
        if (unstructured && w - x < 16)
            strcpy(unstructured, "unstr.");
        put(y, x, w - x, true, "%s", method);
        attroff(base);
    }
}

/* Label and value pairs of the metrics panel, in two columns when wide enough. */
static void metrics(const struct tui *t, int y0, int x0, int h, int w)
{
    const struct snapshot *sn = &t->snap;
    char a[32], b[32], line[160];
    int lines = 0;
    char text[12][1200];
    attr_t attrs[12] = {0};
    /* Accuracy: measured (or measuring), predicted and its error. */
    if (t->have_measured) {
        double base = isfinite(sn->baseline) ? sn->baseline : t->baseline_measured;
        char delta[48] = "";
        if (isfinite(base))
            snprintf(delta, sizeof delta, " %+.2f", 100.0 * (t->measured.accuracy - base));
        snprintf(text[lines++], sizeof text[0], "accuracy  %.2f%% (%zu of %zu)%s",
                 100.0 * t->measured.accuracy, t->measured.correct, t->measured.rows, delta);
    } else if (t->measure_error[0]) {
        attrs[lines] = pair(t, 3);
        snprintf(text[lines++], sizeof text[0], "accuracy  %s", t->measure_error);
    } else {
        snprintf(text[lines++], sizeof text[0], "accuracy  %s",
                 sn->have_data ? (t->unicode ? "measuring…" : "measuring...") : "no data");
    }
    if (sn->have_prediction) {
        char err[48] = "";
        if (t->have_measured)
            snprintf(err, sizeof err, ", error %+.2f",
                     100.0 * (sn->predicted - t->measured.accuracy));
        snprintf(text[lines++], sizeof text[0], "predicted %.2f%%%s", 100.0 * sn->predicted, err);
    } else {
        snprintf(text[lines++], sizeof text[0], "predicted -  (s runs the sweep)");
    }
    if (t->have_measured)
        snprintf(text[lines++], sizeof text[0], "loss      %.6f (%.0f ms)", t->measured.loss,
                 t->measured_ms);
    else
        snprintf(text[lines++], sizeof text[0], "loss      -");
    snprintf(text[lines++], sizeof text[0], "params    %zu, %zu non-zero", sn->params, sn->nonzero);
    human((double)sn->prunable, a, sizeof a);
    snprintf(text[lines++], sizeof text[0], "sparsity  %.1f%% of %s prunable",
             sn->prunable ? 100.0 * (double)sn->prunable_zeros / (double)sn->prunable : 0.0, a);
    human(sn->macs_dense, a, sizeof a);
    human(sn->macs_effective, b, sizeof b);
    snprintf(text[lines++], sizeof text[0], "MACs/row  %s, %s effective", a, b);
    int left_lines = lines;
    /* The device: flash and SRAM meters, latency and energy. */
    bytes_text((double)sn->weight_bytes, a, sizeof a);
    snprintf(text[lines++], sizeof text[0], "weights   %s %s", a, sn->storage);
    int meters_at = lines;
    if (sn->have_estimate) {
        snprintf(text[lines++], sizeof text[0], "flash");
        snprintf(text[lines++], sizeof text[0], "SRAM");
        snprintf(text[lines++], sizeof text[0], "latency   %.4g ms on %s", sn->latency_ms,
                 sn->profile);
        snprintf(text[lines++], sizeof text[0], "energy    %.4g uJ / inference", sn->energy_uj);
        if (sn->have_host)
            snprintf(text[lines++], sizeof text[0], "host      %.4g ms measured (bench)",
                     sn->host_ms);
        else
            snprintf(text[lines++], sizeof text[0], "host      - (:bench measures it)");
    } else {
        snprintf(text[lines++], sizeof text[0], "estimate  %s", sn->estimate_note);
    }
    bool two = w >= 78;
    int col_w = two ? w / 2 : w;
    for (int i = 0; i < lines; i++) {
        int col = two && i >= left_lines ? 1 : 0;
        int row = col ? i - left_lines : i;
        if (!two && row >= h)
            break;
        if (row >= h)
            continue;
        int x = x0 + col * col_w, y = y0 + row;
        move(y, x);
        for (int k = 0; k < col_w; k++)
            addch(' ');
        if (sn->have_estimate && (i == meters_at || i == meters_at + 1)) {
            bool flash = i == meters_at;
            double used = flash ? sn->flash_bytes : sn->sram_bytes;
            double cap = flash ? sn->flash_cap : sn->sram_cap;
            bool fits = flash ? sn->fits_flash : sn->fits_sram;
            human(used, a, sizeof a);
            human(cap, b, sizeof b);
            put(y, x, 10, false, "%s", flash ? "flash" : "SRAM");
            int bw = col_w - 10 - 22;
            if (bw < 5)
                bw = 5;
            bar(t, y, x + 10, bw, cap > 0 ? used / cap : 0, pair(t, fits ? 2 : 3));
            attron(pair(t, fits ? 2 : 3));
            snprintf(line, sizeof line, " %s/%sB %s", a, b, fits ? "fits" : "too big");
            put(y, x + 10 + bw, col_w - 11 - bw, false, "%s", line);
            attroff(pair(t, fits ? 2 : 3));
            continue;
        }
        attron(attrs[i]);
        put(y, x, col_w - 1, false, "%s", text[i]);
        attroff(attrs[i]);
    }
}

/* A braille (or ASCII) chart of the curve or a layer's sweep in the box given. */
struct series {
    const double *x, *y;
    size_t n;
    int id;
};

static void chart(const struct tui *t, int y0, int x0, int h, int w, const char *title,
                  const struct series *s, size_t n_series, double mark_x, double mark_y,
                  const char *legend)
{
    put(y0, x0, w, true, "%s", title);
    int ch = h - 2, cw = w - 8;
    if (ch < 2 || cw < 8)
        return;
    double ymin = INFINITY, ymax = -INFINITY;
    for (size_t k = 0; k < n_series; k++)
        for (size_t i = 0; i < s[k].n; i++)
            if (isfinite(s[k].y[i])) {
                ymin = fmin(ymin, s[k].y[i]);
                ymax = fmax(ymax, s[k].y[i]);
            }
    if (!isfinite(ymin)) {
        put(y0 + 1, x0, w, true, "nothing to draw yet");
        return;
    }
    ymin = floor(ymin * 20.0) / 20.0;
    ymax = ceil(ymax * 20.0) / 20.0;
    if (ymax - ymin < 0.05)
        ymax = ymin + 0.05;
    struct err err;
    /* Braille tells the series apart by colour only: without colours, one character each. */
    struct plot_canvas *cv = plot_new(cw, ch, t->unicode && t->color, &err);
    if (!cv)
        return;
    plot_set_range(cv, 0.0, 1.0, ymin, ymax);
    for (size_t k = 0; k < n_series; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            if (i + 1 < s[k].n)
                plot_line(cv, s[k].x[i], s[k].y[i], s[k].x[i + 1], s[k].y[i + 1], s[k].id);
            else
                plot_point(cv, s[k].x[i], s[k].y[i], s[k].id);
        }
    if (isfinite(mark_x) && isfinite(mark_y))
        plot_mark(cv, mark_x, fmin(fmax(mark_y, ymin), ymax), t->unicode && t->color ? "◆" : "@",
                  2);
    double ticks[8];
    int nt = plot_ticks(ymin * 100, ymax * 100, ch > 6 ? 4 : 2, ticks, 8);
    for (int r = 0; r < ch; r++) {
        int y = y0 + 1 + r;
        /* The tick nearest this row, when one is. */
        char label[16] = "";
        double top = ymax * 100 - (double)r * (ymax - ymin) * 100 / ch;
        double bottom = top - (ymax - ymin) * 100 / ch;
        for (int k = 0; k < nt; k++)
            if (ticks[k] <= top && ticks[k] > bottom)
                plot_format_tick(ticks[k], nt > 1 ? ticks[1] - ticks[0] : 1, label, sizeof label);
        put(y, x0, 7, true, "%6s%s", label, t->unicode ? "│" : "|");
        move(y, x0 + 7);
        for (int col = 0; col < cw; col++) {
            char cell[8];
            if (plot_cell(cv, col, r, cell, sizeof cell) < 0)
                continue;
            int sid = plot_cell_series(cv, col, r);
            attr_t at = sid == 0 ? pair(t, 5) : sid == 1 ? pair(t, 4) : sid == 2 ? A_BOLD : 0;
            attron(at);
            addstr(cell);
            attroff(at);
        }
    }
    int pad = cw - 2 - (int)u8_len(legend);
    put(y0 + h - 1, x0, w, true, "%7s0%%%*s%s", "", pad > 0 ? pad : 1, "", legend);
    plot_free(cv);
}

static void view_curve(const struct tui *t, int y0, int x0, int h, int w)
{
    const struct snapshot *sn = &t->snap;
    if (sn->n_points == 0) {
        put(y0, x0, w, true, "size vs accuracy: no curve yet (c measures it)");
        return;
    }
    double ux[512], uy[512], gx[512], gy[512];
    size_t nu = 0, ng = 0;
    for (size_t i = 0; i < sn->n_points && nu < 512 && ng < 512; i++) {
        const struct snap_point *p = &sn->points[i];
        if (!p->guided) {
            ux[nu] = p->sparsity, uy[nu++] = p->accuracy;
        } else if (p->reached) {
            gx[ng] = p->sparsity, gy[ng++] = p->accuracy;
        }
    }
    struct series s[2] = {{ux, uy, nu, 0}, {gx, gy, ng, 1}};
    double cur_x = sn->prunable ? (double)sn->prunable_zeros / (double)sn->prunable : NAN;
    double cur_y = t->have_measured ? t->measured.accuracy : sn->predicted;
    chart(t, y0, x0, h, w,
          t->color ? "accuracy % vs removed: uniform cyan, guided yellow, now ◆"
                   : "accuracy (%) vs weights removed: uniform *, guided +, now @",
          s, 2, cur_x, cur_y, t->unicode ? "removed → 100%" : "removed -> 100%");
}

static void view_layer(const struct tui *t, int y0, int x0, int h, int w)
{
    const struct snapshot *sn = &t->snap;
    if (!sn->have_sens || sn->n_layers == 0 || !isfinite(sn->layers[t->sel].curve[0])) {
        put(y0, x0, w, true, "the selected layer's sensitivity: no table yet (s runs the sweep)");
        return;
    }
    const struct snap_layer *l = &sn->layers[t->sel];
    struct series s = {sn->levels, l->curve, sn->n_levels, 0};
    char title[128];
    snprintf(title, sizeof title, "%s: accuracy (%%) pruned alone vs its sparsity", l->name);
    double mark_y = isfinite(l->drop) ? sn->baseline - l->drop : NAN;
    chart(t, y0, x0, h, w, title, &s, 1, l->sparsity, mark_y,
          t->unicode ? "sparsity →  100%" : "sparsity -> 100%");
}

static void view_heatmap(struct tui *t, int y0, int x0, int h, int w)
{
    const struct snapshot *sn = &t->snap;
    if (!sn->have_sens) {
        put(y0, x0, w, true, "heat map: no sensitivity table yet (s runs the sweep)");
        return;
    }
    put(y0, x0, w, true, "accuracy drop per layer (rows) and level (columns), %zu rows%s",
        sn->sens_rows, sn->sens_partial ? ", unfinished" : "");
    int cell = (w - 20) / (int)(sn->n_levels ? sn->n_levels : 1);
    if (cell > 4)
        cell = 4;
    if (cell < 1)
        cell = 1;
    move(y0 + 1, x0);
    put(y0 + 1, x0, 19, true, "%-18s", "level");
    for (size_t k = 0; k < sn->n_levels; k++)
        put(y0 + 1, x0 + 19 + (int)k * cell, cell, true, "%*.0f", cell, 100 * sn->levels[k]);
    int rows = h - 2;
    /* The rows around the selected layer. */
    size_t first = t->sel >= (size_t)rows / 2 ? t->sel - (size_t)rows / 2 : 0;
    if (first + (size_t)rows > sn->n_layers)
        first = sn->n_layers > (size_t)rows ? sn->n_layers - (size_t)rows : 0;
    for (int r = 0; r < rows; r++) {
        size_t i = first + (size_t)r;
        int y = y0 + 2 + r;
        move(y, x0);
        for (int k = 0; k < w; k++)
            addch(' ');
        if (i >= sn->n_layers)
            continue;
        const struct snap_layer *l = &sn->layers[i];
        attr_t at = i == t->sel ? A_BOLD : 0;
        attron(at);
        put(y, x0, 19, true, "%-18s", l->name);
        attroff(at);
        for (size_t k = 0; k < sn->n_levels; k++) {
            /* Darker: a larger drop; a drop of 20 points or more is the darkest. */
            double drop = sn->baseline - l->curve[k];
            double v = isfinite(drop) ? fmin(1.0, fmax(0.0, drop / 0.2)) : NAN;
            const char *g = plot_shade(v, t->unicode);
            move(y, x0 + 19 + (int)k * cell);
            attron(pair(t, v > 0.25 ? 3 : 2));
            for (int c = 0; c < cell; c++)
                addstr(g);
            attroff(pair(t, v > 0.25 ? 3 : 2));
        }
    }
}

static void panel(struct tui *t, int y0, int x0, int h, int w)
{
    for (int y = y0; y < y0 + h; y++) {
        move(y, x0);
        for (int k = 0; k < w; k++)
            addch(' ');
    }
    switch (t->view) {
    case VIEW_METRICS:
    case VIEW_COUNT: metrics(t, y0, x0, h, w); break;
    case VIEW_CURVE: view_curve(t, y0, x0, h, w); break;
    case VIEW_LAYER: view_layer(t, y0, x0, h, w); break;
    case VIEW_HEATMAP: view_heatmap(t, y0, x0, h, w); break;
    }
}

static void status(struct tui *t, int y, int w)
{
    move(y, 0);
    clrtoeol();
    if (prompt_active()) {
        size_t cursor;
        const char *text = prompt_text(&cursor);
        const char *label = prompt_label();
        int lw = (int)u8_len(label);
        /* Scroll the line so the cursor stays in view. */
        int room = w - lw - 1;
        size_t start = cursor > (size_t)room ? cursor - (size_t)room : 0;
        put(y, 0, lw, false, "%s", label);
        put(y, lw, room, false, "%s", text + start);
        move(y, lw + (int)(cursor - start));
        curs_set(1);
        const char *m = prompt_matches();
        move(y + 1, 0);
        clrtoeol();
        put(y + 1, 0, w, true, "%s", *m ? m : "Enter runs, Esc cancels, Tab completes");
        move(y, lw + (int)(cursor - start));
        return;
    }
    curs_set(0);
    if (tui_job_running(t)) {
        char what[64], line[256];
        size_t done, total;
        double elapsed;
        job_progress(t->job, what, sizeof what, &done, &total, &elapsed);
        job_line(t->job, line, sizeof line);
        if (total > 0) {
            double left = done ? elapsed * (double)(total - done) / (double)done : 0;
            int bw = 24;
            put(y, 0, 14, true, "%s", what);
            bar(t, y, 14, bw, (double)done / (double)total, pair(t, 2));
            put(y, 14 + bw, w - 14 - bw, true, " %3.0f%% (%zu/%zu, %.0f s left) Esc cancels",
                100.0 * (double)done / (double)total, done, total, left);
        } else {
            put(y, 0, w, true, "running: %s (Esc cancels)", line);
        }
    } else {
        attron(t->status_error ? pair(t, 3) | A_BOLD : 0);
        put(y, 0, w, true, "%s", t->status);
        attroff(pair(t, 3) | A_BOLD);
    }
    move(y + 1, 0);
    clrtoeol();
    attron(A_DIM);
    put(y + 1, 0, w, true, "%s",
        w >= 120
            ? "arrows select/move  0-9 value  g global  a auto  m method  s sweep  c curve  "
              "Tab view  p profile  f format  u/^R undo/redo  e export  : command  ? help  q quit"
            : "arrows 0-9 g a m s c Tab p f u ^R e : ? q   (? lists the keys)");
    attroff(A_DIM);
}

static void pager_screen(const struct tui *t, int h, int w)
{
    erase();
    attron(A_BOLD);
    put(0, 0, w, true, "%s", t->pager_title);
    attroff(A_BOLD);
    for (int r = 0; r < h - 2; r++) {
        size_t i = t->pager_top + (size_t)r;
        if (i < t->pager_n)
            put(1 + r, 0, w, false, "%s", t->pager[i]);
    }
    attron(A_DIM);
    put(h - 1, 0, w, true, "lines %zu-%zu of %zu: Up/Down/PgUp/PgDn scroll, any other key closes",
        t->pager_n ? t->pager_top + 1 : 0,
        t->pager_top + (size_t)(h - 2) < t->pager_n ? t->pager_top + (size_t)(h - 2) : t->pager_n,
        t->pager_n);
    attroff(A_DIM);
}

void draw_frame(struct tui *t)
{
    int h = LINES, w = COLS;
    erase();
    if (w < TUI_MIN_COLS || h < TUI_MIN_ROWS) {
        curs_set(0);
        put(0, 0, w, false, "prunescope needs a terminal of at least %dx%d;", TUI_MIN_COLS,
            TUI_MIN_ROWS);
        put(1, 0, w, false, "this one is %dx%d. Enlarge it (q quits).", w, h);
        if (t->ask != ASK_NONE)
            put(3, 0, w, false, "%s", t->status);
        refresh();
        return;
    }
    if (t->pager) {
        pager_screen(t, h, w);
        refresh();
        return;
    }
    header(t, w);
    int body_y = 1, body_h = h - 3;
    if (w >= 150) {
        /* Wide: the table on the left, metrics over the view on the right. */
        int right = w >= 200 ? 80 : 64;
        int tw = w - right - 1;
        table(t, body_y, body_h, tw);
        for (int y = body_y; y < body_y + body_h; y++)
            mvaddstr(y, tw, t->unicode ? "│" : "|");
        int mh = right >= 78 ? 7 : 12; /* the metrics in two columns, or in one */
        enum view v = t->view;
        t->view = VIEW_METRICS;
        panel(t, body_y, tw + 1, mh, right);
        t->view = v == VIEW_METRICS ? VIEW_CURVE : v;
        panel(t, body_y + mh + 1, tw + 1, body_h - mh - 1, right);
        t->view = v;
    } else {
        /* Narrow: the table over the panel; a view takes more of the height. */
        int ph = t->view == VIEW_METRICS ? 6 : body_h / 2 + 2;
        if (h >= 40)
            ph += (h - 40) / 3 + 4;
        int th = body_h - ph - 1;
        table(t, body_y, th, w);
        move(body_y + th, 0);
        for (int k = 0; k < w; k++)
            addstr(t->unicode ? "─" : "-");
        panel(t, body_y + th + 1, 0, ph, w);
    }
    status(t, h - 2, w);
    refresh();
}
