/* Text graphics for the terminal screen: sparklines, heat-map shades, braille or ASCII line
 * charts and axis ticks, as plain UTF-8 strings. Not for drawing (no ncurses) or colours. */
#ifndef PRUNESCOPE_TUI_PLOT_H
#define PRUNESCOPE_TUI_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* Series numbers a canvas tells apart (for the caller's colours). Others are reduced
 * modulo PLOT_SERIES as unsigned (9 -> 1, -1 -> 7). */
#define PLOT_SERIES 8
/* Largest canvas side in cells accepted by plot_new. */
#define PLOT_MAX_CELLS 10000

/* Every function writing into (buf, size) follows one contract: it returns the bytes written
 * excluding the NUL, or -1 when the text plus its NUL does not fit (then buf holds the empty
 * string). buf is always NUL-terminated when size > 0. */

/* One character per value. Values are placed in 8 equal-width bins between lo and hi
 * (bin = floor(8 * (v - lo) / (hi - lo)), clamped to 0..7, so lo gives the first glyph and
 * hi the last, also when lo > hi): unicode "▁▂▃▄▅▆▇█" (3 bytes each), ASCII "_.:-=+*#".
 * NaN (and any value whose position is not a number, as with infinite lo or hi) is a space.
 * lo == hi is read as [lo - 0.5, lo + 0.5]. n == 0 gives the empty string.
 * offsets: NULL, or room for n + 1 byte offsets: offsets[i] is where value i's character
 * starts in buf and offsets[n] the length, so the caller can colour the current level
 * (bytes offsets[i] .. offsets[i + 1]). Filled only on success. */
int plot_sparkline(const double *v, size_t n, double lo, double hi, bool unicode, char *buf,
                   size_t size, size_t *offsets);

/* A static glyph for a heat-map cell: t in [0, 1] (clamped) in 5 equal-width bins,
 * unicode " ", "░", "▒", "▓", "█", ASCII " ", ".", ":", "*", "#". NaN is "?" in both
 * modes, so a missing value differs from a zero. */
const char *plot_shade(double t, bool unicode);

/* A grid of cols x rows character cells to draw line charts on. In unicode mode each cell
 * holds 2 x 4 braille dots (dot grid 2*cols x 4*rows); in ASCII mode one dot per cell, drawn
 * with the series character (plot_series_char). Opaque; create with plot_new. */
struct plot_canvas;

/* A blank canvas with data range [0, 1] x [0, 1]. cols and rows must be in
 * 1..PLOT_MAX_CELLS. Returns NULL with err set on bad sizes or out of memory. */
struct plot_canvas *plot_new(int cols, int rows, bool unicode, struct err *err);
void plot_free(struct plot_canvas *c);

/* The data rectangle the canvas shows; y grows upward on screen. A reversed range mirrors
 * the axis; an empty one (xmin == xmax) is read as the value +- 0.5. A call with a
 * non-finite bound is ignored. The drawing already on the canvas stays where it is. */
void plot_set_range(struct plot_canvas *c, double xmin, double xmax, double ymin, double ymax);

/* Drawing. The range is cut into equal-width bins, one per dot (both bounds included), so a
 * value on xmax lands in the last dot column. Lines are Bresenham on the dot grid, clipped
 * to the range; a line, point or mark with a non-finite coordinate is ignored, and so is
 * a point or mark outside the range. The cell drawn into remembers the series. */
void plot_line(struct plot_canvas *c, double x0, double y0, double x1, double y1, int series);
void plot_point(struct plot_canvas *c, double x, double y, int series);

/* Put glyph (its first UTF-8 character, which should be one column wide; "?" if that is not
 * valid UTF-8; copied) over the whole cell holding (x, y), hiding the dots there. The mark
 * keeps its series: dots drawn later into the cell do not change it. NULL or "" removes the
 * cell's mark, uncovering its dots and their series. */
void plot_mark(struct plot_canvas *c, double x, double y, const char *glyph, int series);

/* Remove every dot and mark. */
void plot_clear(struct plot_canvas *c);

/* The series of a cell's mark, else of the last dot drawn into it, or -1 for an empty cell or a
 * cell outside the canvas. */
int plot_cell_series(const struct plot_canvas *c, int col, int row);

/* Row row (0 = top) as exactly cols characters: marks, braille patterns (U+2800 + dot bits)
 * or series characters, and a space (never U+2800) for an empty cell. At most
 * 4 * cols + 1 bytes are needed. -1 also for a row outside the canvas. */
int plot_row(const struct plot_canvas *c, int row, char *buf, size_t size);

/* One cell's character, for colouring cell by cell. -1 also for a cell outside the canvas. */
int plot_cell(const struct plot_canvas *c, int col, int row, char *buf, size_t size);

/* The ASCII-mode character of a series: "*+ox%#@&"[series % PLOT_SERIES]. */
char plot_series_char(int series);

/* "Nice" tick values for an axis over [lo, hi] (swapped if lo > hi; lo == hi is read as
 * lo +- 0.5): every multiple of the smallest step of the form 1, 2 or 5 x 10^k that gives
 * at most min(max_ticks, cap) ticks, in increasing order. Returns how many were written
 * into ticks; 0 for non-finite bounds or max_ticks or cap < 1. Values are computed as
 * (i * m) / 10^-k, so 0.6 is the double nearest 0.6, not 3 * 0.2. With max 1 the step that
 * fits may have no multiple in range (max 1 over [6, 8]: 2 gives two, 5 none); then the first
 * tick of the smaller step is returned. */
int plot_ticks(double lo, double hi, int max_ticks, double *ticks, int cap);

/* v with just the decimals needed to tell ticks step apart (step 20 -> "80", step 0.2 ->
 * "0.6", step 0.05 -> "0.25"); step is the spacing, ticks[1] - ticks[0], and a step <= 0
 * or non-finite formats with "%g". A value that rounds to zero prints without a sign.
 * Truncated to size like snprintf. */
void plot_format_tick(double v, double step, char *buf, size_t size);

#endif
