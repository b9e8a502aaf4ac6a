/* plot: sparkline bins, clamping, NaN and byte offsets; heat-map shades; braille code points
 * of hand-placed lines and points (diagonal, top row, corner, clipped, outside), the ASCII
 * canvas, marks over dots, cell series, degenerate ranges and sizes, short buffers; nice
 * ticks and their formatting. Every expected string is worked out in the comment above it. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "tui/plot.h"

/* Bins are floor(8 t) for t = (v - lo) / (hi - lo): 0 -> bin 0 "▁", 1 -> bin 8 clamped to 7
 * "█", and 0.5 -> 8 * 0.5 = 4 exactly, the lower edge of bin 4, the fifth glyph "▅". Three
 * 3-byte glyphs: 9 bytes. */
Test(plot, sparkline_puts_low_middle_and_high_in_first_fifth_and_last_glyph)
{
    const double v[] = {0, 0.5, 1};
    char buf[32];
    cr_assert_eq(plot_sparkline(v, 3, 0, 1, true, buf, sizeof buf, NULL), 9);
    cr_assert_str_eq(buf, "▁▅█");
}

/* The middle of bin i is t = (i + 0.5) / 8 (exact in binary), so these eight values walk the
 * whole ramp once in each mode. */
Test(plot, sparkline_bin_midpoints_walk_the_unicode_and_ascii_ramps)
{
    double v[8];
    for (int i = 0; i < 8; i++)
        v[i] = (i + 0.5) / 8;
    char buf[64];
    cr_assert_eq(plot_sparkline(v, 8, 0, 1, true, buf, sizeof buf, NULL), 24);
    cr_assert_str_eq(buf, "▁▂▃▄▅▆▇█");
    cr_assert_eq(plot_sparkline(v, 8, 0, 1, false, buf, sizeof buf, NULL), 8);
    cr_assert_str_eq(buf, "_.:-=+*#");
}

/* -3 is below lo and 7 above hi: clamped to the ends. NaN is a space (1 byte). */
Test(plot, sparkline_clamps_out_of_range_values_and_draws_nan_as_a_space)
{
    const double v[] = {-3, NAN, 7};
    char buf[32];
    cr_assert_eq(plot_sparkline(v, 3, 0, 1, true, buf, sizeof buf, NULL), 7);
    cr_assert_str_eq(buf, "▁ █");
    cr_assert_eq(plot_sparkline(v, 3, 0, 1, false, buf, sizeof buf, NULL), 3);
    cr_assert_str_eq(buf, "_ #");
}

/* "▁ █": the first glyph starts at 0 and takes 3 bytes, the space at 3 takes 1, "█" starts at
 * 4 and ends at 7. In ASCII every character is one byte: 0, 1, 2, 3. */
Test(plot, sparkline_offsets_locate_each_value_for_colouring)
{
    const double v[] = {0, NAN, 1};
    char buf[32];
    size_t off[4];
    cr_assert_eq(plot_sparkline(v, 3, 0, 1, true, buf, sizeof buf, off), 7);
    cr_assert_eq(off[0], 0);
    cr_assert_eq(off[1], 3);
    cr_assert_eq(off[2], 4);
    cr_assert_eq(off[3], 7);
    cr_assert_eq(memcmp(buf + off[2], "█", off[3] - off[2]), 0);
    cr_assert_eq(plot_sparkline(v, 3, 0, 1, false, buf, sizeof buf, off), 3);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(off[i], i);
}

/* Nothing to draw gives "" (one byte for the NUL); with no room even for that, -1. */
Test(plot, sparkline_of_no_values_is_the_empty_string)
{
    char buf[4] = "xyz";
    size_t off[1] = {99};
    cr_assert_eq(plot_sparkline(NULL, 0, 0, 1, true, buf, sizeof buf, off), 0);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(off[0], 0);
    cr_assert_eq(plot_sparkline(NULL, 0, 0, 1, true, buf, 0, NULL), -1);
}

/* Three glyphs are 9 bytes plus the NUL: 10 fits exactly, 9 does not (buf left as "", the
 * offsets untouched). */
Test(plot, sparkline_returns_minus_one_when_the_buffer_is_one_byte_short)
{
    const double v[] = {0, 0.5, 1};
    char buf[10];
    size_t off[4] = {42, 42, 42, 42};
    cr_assert_eq(plot_sparkline(v, 3, 0, 1, true, buf, 9, off), -1);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(off[0], 42);
    cr_assert_eq(off[3], 42);
    cr_assert_eq(plot_sparkline(v, 3, 0, 1, true, buf, 10, off), 9);
    cr_assert_str_eq(buf, "▁▅█");
}

/* lo == hi == 5 is read as [4.5, 5.5]: 4.6 -> t = 0.1, 8t = 0.8 -> bin 0 "▁"; 5 -> t = 0.5
 * -> bin 4 "▅"; 5.4 -> t = 0.9, 8t = 7.2 -> bin 7 "█". */
Test(plot, sparkline_with_equal_bounds_centres_the_range_on_the_value)
{
    const double v[] = {4.6, 5, 5.4};
    char buf[32];
    cr_assert_eq(plot_sparkline(v, 3, 5, 5, true, buf, sizeof buf, NULL), 9);
    cr_assert_str_eq(buf, "▁▅█");
}

/* Five bins of width 0.2, floor(5t): 0.1 -> 0, 0.3 -> 1.5 -> 1, 0.5 -> 2.5 -> 2,
 * 0.7 -> 3.5 -> 3, 1 -> 5 clamped to 4; -1 and 1.5 clamp to the ends; NaN is "?". */
Test(plot, shade_cuts_zero_to_one_into_five_bins_and_marks_nan)
{
    const double t[] = {-1, 0.1, 0.3, 0.5, 0.7, 1, 1.5};
    const char *uni[] = {" ", " ", "░", "▒", "▓", "█", "█"};
    const char *asc[] = {" ", " ", ".", ":", "*", "#", "#"};
    for (int i = 0; i < 7; i++) {
        cr_assert_str_eq(plot_shade(t[i], true), uni[i], "t = %g", t[i]);
        cr_assert_str_eq(plot_shade(t[i], false), asc[i], "t = %g", t[i]);
    }
    cr_assert_str_eq(plot_shade(NAN, true), "?");
    cr_assert_str_eq(plot_shade(NAN, false), "?");
}

/* A 1x1 braille canvas is a 2x4 dot grid over [0, 1]^2. (0, 0) is dot column 0, row
 * floor(4 * 1) = 4 clamped to 3 (bottom-left); (1, 1) is column 2 clamped to 1, row 0
 * (top-right). Bresenham from (0,3) to (1,0) (dx = 1, dy = 3) visits (0,3) (0,2) (1,1) (1,0):
 * bits 0x40 + 0x04 + 0x10 + 0x08 = 0x5C, so U+285C "⡜". */
Test(plot, braille_diagonal_lights_four_dots_as_u285c)
{
    struct err err;
    struct plot_canvas *c = plot_new(1, 1, true, &err);
    cr_assert_not_null(c, "%s", err.msg);
    plot_line(c, 0, 0, 1, 1, 0);
    char buf[8];
    cr_assert_eq(plot_row(c, 0, buf, sizeof buf), 3);
    cr_assert_str_eq(buf, "\u285C");
    /* The other direction visits the same four dots. */
    plot_clear(c);
    plot_line(c, 1, 1, 0, 0, 0);
    plot_row(c, 0, buf, sizeof buf);
    cr_assert_str_eq(buf, "\u285C");
    plot_free(c);
}

/* A 2x1 canvas has 4x4 dots. y = 1 (ymax) is dot row 0; x = 0..1 covers dot columns 0..3.
 * Each cell gets its top-left 0x01 and top-right 0x08: U+2809 "⠉" twice, 6 bytes. */
Test(plot, braille_horizontal_line_at_the_top_fills_the_top_dot_row_of_both_cells)
{
    struct err err;
    struct plot_canvas *c = plot_new(2, 1, true, &err);
    cr_assert_not_null(c, "%s", err.msg);
    plot_line(c, 0, 1, 1, 1, 0);
    char buf[16];
    cr_assert_eq(plot_row(c, 0, buf, sizeof buf), 6);
    cr_assert_str_eq(buf, "\u2809\u2809");
    plot_free(c);
}

/* (1, 0) on a 1x1 canvas is the bottom-right dot, dot 8 = bit 0x80: U+2880 "⢀". */
Test(plot, braille_point_at_the_bottom_right_corner_is_dot_eight)
{
    struct err err;
    struct plot_canvas *c = plot_new(1, 1, true, &err);
    cr_assert_not_null(c, "%s", err.msg);
    plot_point(c, 1, 0, 0);
    char buf[8];
    cr_assert_eq(plot_cell(c, 0, 0, buf, sizeof buf), 3);
    cr_assert_str_eq(buf, "\u2880");
    plot_free(c);
}

/* ASCII 3x3 over [0, 1]^2 is one dot per cell: (0, 0) is column 0, row 3 clamped to 2;
 * (1, 1) is column 2, row 0. Bresenham (dx = 2, dy = 2) steps diagonally through (1, 1).
 * Series 1 draws '+'. */
Test(plot, ascii_diagonal_draws_the_series_character_one_cell_per_dot)
{
    struct err err;
    struct plot_canvas *c = plot_new(3, 3, false, &err);
    cr_assert_not_null(c, "%s", err.msg);
    cr_assert_eq(plot_series_char(1), '+');
    plot_line(c, 0, 0, 1, 1, 1);
    const char *want[] = {"  +", " + ", "+  "};
    char buf[8];
    for (int r = 0; r < 3; r++) {
        cr_assert_eq(plot_row(c, r, buf, sizeof buf), 3);
        cr_assert_str_eq(buf, want[r], "row %d", r);
    }
    plot_free(c);
}

/* (2, 2)-(3, 3) lies above and right of [0, 1]^2, (-1, 0.5)-(-0.5, 0.9) left of it; a NaN end
 * or a point outside draws nothing either. Every cell stays a space with series -1. */
Test(plot, line_entirely_outside_the_range_draws_nothing)
{
    struct err err;
    struct plot_canvas *c = plot_new(2, 1, true, &err);
    cr_assert_not_null(c, "%s", err.msg);
    plot_line(c, 2, 2, 3, 3, 0);
    plot_line(c, -1, 0.5, -0.5, 0.9, 0);
    plot_line(c, 0, 0, NAN, 1, 0);
    plot_line(c, 0, 0, 1, INFINITY, 0);
    plot_point(c, 1.5, 0.5, 0);
    plot_point(c, NAN, 0.5, 0);
    char buf[16];
    cr_assert_eq(plot_row(c, 0, buf, sizeof buf), 2);
    cr_assert_str_eq(buf, "  ");
    cr_assert_eq(plot_cell_series(c, 0, 0), -1);
    cr_assert_eq(plot_cell_series(c, 1, 0), -1);
    plot_free(c);
}

/* y = 0.5 on a 4-dot-high grid is v = 2, dot row 2. From x = -1 to 2 (grid u = -2 .. 8) the
 * line is cut at t = 0.2 and t = 0.6, u = 0 .. 4, dot columns 0 .. 3. Each cell gets row-2
 * bits 0x04 (left) + 0x20 (right) = 0x24: U+2824 "⠤" twice. */
Test(plot, line_crossing_the_range_is_clipped_to_the_canvas)
{
    struct err err;
    struct plot_canvas *c = plot_new(2, 1, true, &err);
    cr_assert_not_null(c, "%s", err.msg);
    plot_line(c, -1, 0.5, 2, 0.5, 4);
    char buf[16];
    cr_assert_eq(plot_row(c, 0, buf, sizeof buf), 6);
    cr_assert_str_eq(buf, "\u2824\u2824");
    cr_assert_eq(plot_cell_series(c, 0, 0), 4);
    cr_assert_eq(plot_cell_series(c, 1, 0), 4);
    plot_free(c);
}

/* (0.9, 0.5) is grid u = 3.6, dot column 3, cell column 1: the mark replaces "⠉" there. A
 * later line in series 5 recolours cell 0 but not the marked cell; removing the mark shows
 * the dots again with the series that drew them last. */
Test(plot, mark_hides_the_dots_of_its_cell_and_keeps_its_series)
{
    struct err err;
    struct plot_canvas *c = plot_new(2, 1, true, &err);
    cr_assert_not_null(c, "%s", err.msg);
    plot_line(c, 0, 1, 1, 1, 0);
    plot_mark(c, 0.9, 0.5, "◆", 3);
    char buf[16];
    cr_assert_eq(plot_row(c, 0, buf, sizeof buf), 6);
    cr_assert_str_eq(buf, "\u2809◆");
    cr_assert_eq(plot_cell(c, 1, 0, buf, sizeof buf), 3);
    cr_assert_str_eq(buf, "◆");
    cr_assert_eq(plot_cell_series(c, 1, 0), 3);
    plot_line(c, 0, 1, 1, 1, 5);
    cr_assert_eq(plot_cell_series(c, 0, 0), 5);
    cr_assert_eq(plot_cell_series(c, 1, 0), 3);
    plot_mark(c, 0.9, 0.5, NULL, 0);
    plot_row(c, 0, buf, sizeof buf);
    cr_assert_str_eq(buf, "\u2809\u2809");
    cr_assert_eq(plot_cell_series(c, 1, 0), 5);
    /* Only the first character of a longer glyph is kept, so the row stays 2 columns. */
    plot_mark(c, 0, 0, "XYZ", 1);
    plot_row(c, 0, buf, sizeof buf);
    cr_assert_str_eq(buf, "X\u2809");
    plot_free(c);
}

/* An ASCII mark replaces the series character in its cell too. */
Test(plot, ascii_mark_overrides_the_series_character)
{
    struct err err;
    struct plot_canvas *c = plot_new(3, 1, false, &err);
    cr_assert_not_null(c, "%s", err.msg);
    plot_line(c, 0, 0.5, 1, 0.5, 0);
    plot_mark(c, 0.5, 0.5, "X", 2);
    char buf[8];
    cr_assert_eq(plot_row(c, 0, buf, sizeof buf), 3);
    cr_assert_str_eq(buf, "*X*");
    cr_assert_eq(plot_cell_series(c, 1, 0), 2);
    plot_free(c);
}

/* (0, 0) and (0.1, 0.1) fall in cell (0, 0) (grid u 0 and 0.4, v 4 clamped to 3 and 3.6);
 * the second draw wins. Series 9 is reduced to 9 % 8 = 1. Cells off the canvas are -1. */
Test(plot, cell_series_follows_the_last_series_drawn_and_is_minus_one_elsewhere)
{
    struct err err;
    struct plot_canvas *c = plot_new(2, 1, true, &err);
    cr_assert_not_null(c, "%s", err.msg);
    cr_assert_eq(plot_cell_series(c, 0, 0), -1);
    plot_point(c, 0, 0, 2);
    cr_assert_eq(plot_cell_series(c, 0, 0), 2);
    plot_point(c, 0.1, 0.1, 6);
    cr_assert_eq(plot_cell_series(c, 0, 0), 6);
    cr_assert_eq(plot_cell_series(c, 1, 0), -1);
    plot_point(c, 1, 1, 9);
    cr_assert_eq(plot_cell_series(c, 1, 0), 1);
    cr_assert_eq(plot_cell_series(c, -1, 0), -1);
    cr_assert_eq(plot_cell_series(c, 2, 0), -1);
    cr_assert_eq(plot_cell_series(c, 0, 1), -1);
    plot_free(c);
}

Test(plot, new_rejects_sizes_outside_one_to_the_maximum_and_names_them)
{
    struct err err;
    cr_assert_null(plot_new(0, 3, true, &err));
    cr_assert(strstr(err.msg, "0 x 3 cells"), "%s", err.msg);
    cr_assert(strstr(err.msg, "between 1 and"), "%s", err.msg);
    cr_assert_null(plot_new(-2, 1, false, &err));
    cr_assert(strstr(err.msg, "-2 x 1"), "%s", err.msg);
    cr_assert_null(plot_new(5, 0, true, &err));
    cr_assert_null(plot_new(PLOT_MAX_CELLS + 1, 1, true, &err));
    cr_assert_null(plot_new(0, 0, true, NULL));
    plot_free(NULL);
}

/* "⠉⠉" is 6 bytes plus the NUL: 7 fits, 6 does not. One cell is 3 + 1 bytes. Rows and cells
 * off the canvas are -1 as well. An empty ASCII row is its spaces. */
Test(plot, row_and_cell_return_minus_one_when_the_buffer_is_too_small)
{
    struct err err;
    struct plot_canvas *c = plot_new(2, 1, true, &err);
    cr_assert_not_null(c, "%s", err.msg);
    plot_line(c, 0, 1, 1, 1, 0);
    char buf[16];
    cr_assert_eq(plot_row(c, 0, buf, 6), -1);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(plot_row(c, 0, buf, 7), 6);
    cr_assert_eq(plot_row(c, 1, buf, sizeof buf), -1);
    cr_assert_eq(plot_row(c, -1, buf, sizeof buf), -1);
    cr_assert_eq(plot_cell(c, 0, 0, buf, 3), -1);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(plot_cell(c, 0, 0, buf, 4), 3);
    cr_assert_eq(plot_cell(c, 2, 0, buf, sizeof buf), -1);
    plot_free(c);

    c = plot_new(3, 2, false, &err);
    cr_assert_not_null(c, "%s", err.msg);
    cr_assert_eq(plot_row(c, 1, buf, sizeof buf), 3);
    cr_assert_str_eq(buf, "   ");
    plot_free(c);
}

/* x range [2, 2] becomes [1.5, 2.5] and y [3, 3] becomes [2.5, 3.5]. On a 1x1 canvas (2x4
 * dots) (2, 3) is u = 0.5 * 2 = 1, v = 0.5 * 4 = 2: right column, third row, 0x20, U+2820.
 * (2.5, 3.5) is the top-right corner, 0x08: together 0x28, U+2828. A non-finite range is
 * ignored, so the last good one still places the points. */
Test(plot, empty_range_is_read_as_the_value_plus_minus_half)
{
    struct err err;
    struct plot_canvas *c = plot_new(1, 1, true, &err);
    cr_assert_not_null(c, "%s", err.msg);
    plot_set_range(c, 2, 2, 3, 3);
    plot_set_range(c, NAN, 1, 0, 1);
    plot_point(c, 2, 3, 0);
    char buf[8];
    plot_cell(c, 0, 0, buf, sizeof buf);
    cr_assert_str_eq(buf, "\u2820");
    plot_point(c, 2.5, 3.5, 0);
    plot_cell(c, 0, 0, buf, sizeof buf);
    cr_assert_str_eq(buf, "\u2828");
    plot_free(c);
}

Test(plot, clear_removes_every_dot_and_mark)
{
    struct err err;
    struct plot_canvas *c = plot_new(2, 2, true, &err);
    cr_assert_not_null(c, "%s", err.msg);
    plot_line(c, 0, 0, 1, 1, 0);
    plot_mark(c, 0, 1, "*", 1);
    plot_clear(c);
    char buf[16];
    for (int r = 0; r < 2; r++) {
        cr_assert_eq(plot_row(c, r, buf, sizeof buf), 2);
        cr_assert_str_eq(buf, "  ");
        cr_assert_eq(plot_cell_series(c, 0, r), -1);
        cr_assert_eq(plot_cell_series(c, 1, r), -1);
    }
    plot_free(c);
}

/* Steps tried 0.01 (101 ticks), 0.02 (51), 0.05 (21), 0.1 (11), 0.2 (6 <= 6). */
Test(plot, ticks_over_zero_to_one_with_at_most_six_are_fifths)
{
    double t[16];
    const double want[] = {0, 0.2, 0.4, 0.6, 0.8, 1};
    cr_assert_eq(plot_ticks(0, 1, 6, t, 16), 6);
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(t[i], want[i], 1e-12, "tick %d is %.17g", i, t[i]);
}

/* 95 / 5 = 19: steps 1 (96), 2 (48), 5 (20), 10 (10), 20 (0..80, 5 <= 5). */
Test(plot, ticks_over_zero_to_ninety_five_with_at_most_five_are_twenties)
{
    double t[16];
    const double want[] = {0, 20, 40, 60, 80};
    cr_assert_eq(plot_ticks(0, 95, 5, t, 16), 5);
    for (int i = 0; i < 5; i++)
        cr_assert_float_eq(t[i], want[i], 1e-12, "tick %d is %.17g", i, t[i]);
}

/* [1, -1] is swapped to [-1, 1]: step 0.2 gives 11, 0.5 gives 5. A cap of 3 over [0, 1] acts
 * as max 3: 0.2 gives 6, 0.5 gives 3. [3, 3] is [2.5, 3.5]: 0.1 gives 11, 0.2 gives 2.6 ..
 * 3.4, 5. Max 1 over [6, 8]: 2 gives 6 and 8, 5 gives none, so the first tick of step 2. */
Test(plot, ticks_handle_reversed_ranges_caps_empty_ranges_and_bad_input)
{
    double t[16];
    const double sym[] = {-1, -0.5, 0, 0.5, 1};
    cr_assert_eq(plot_ticks(1, -1, 5, t, 16), 5);
    for (int i = 0; i < 5; i++)
        cr_assert_float_eq(t[i], sym[i], 1e-12, "tick %d is %.17g", i, t[i]);
    const double halves[] = {0, 0.5, 1};
    cr_assert_eq(plot_ticks(0, 1, 6, t, 3), 3);
    for (int i = 0; i < 3; i++)
        cr_assert_float_eq(t[i], halves[i], 1e-12, "tick %d is %.17g", i, t[i]);
    const double around[] = {2.6, 2.8, 3.0, 3.2, 3.4};
    cr_assert_eq(plot_ticks(3, 3, 6, t, 16), 5);
    for (int i = 0; i < 5; i++)
        cr_assert_float_eq(t[i], around[i], 1e-12, "tick %d is %.17g", i, t[i]);
    cr_assert_eq(plot_ticks(6, 8, 1, t, 16), 1);
    cr_assert_float_eq(t[0], 6, 1e-12);
    cr_assert_eq(plot_ticks(0, INFINITY, 5, t, 16), 0);
    cr_assert_eq(plot_ticks(NAN, 1, 5, t, 16), 0);
    cr_assert_eq(plot_ticks(0, 1, 0, t, 16), 0);
    cr_assert_eq(plot_ticks(0, 1, 5, t, 0), 0);
}

/* Step 20 needs no decimals, 0.2 one, 0.05 two; 0.6 - 0.4 is 0.19999999999999996 and still
 * reads as one decimal. A value that rounds to zero loses its minus sign. Step 0 falls back
 * to %g. */
Test(plot, format_tick_prints_just_the_decimals_of_the_step)
{
    char buf[32];
    plot_format_tick(80, 20, buf, sizeof buf);
    cr_assert_str_eq(buf, "80");
    plot_format_tick(0.6, 0.2, buf, sizeof buf);
    cr_assert_str_eq(buf, "0.6");
    plot_format_tick(1, 0.2, buf, sizeof buf);
    cr_assert_str_eq(buf, "1.0");
    plot_format_tick(0.25, 0.05, buf, sizeof buf);
    cr_assert_str_eq(buf, "0.25");
    plot_format_tick(0.6, 0.6 - 0.4, buf, sizeof buf);
    cr_assert_str_eq(buf, "0.6");
    plot_format_tick(-1e-17, 0.2, buf, sizeof buf);
    cr_assert_str_eq(buf, "0.0");
    plot_format_tick(-0.5, 0.5, buf, sizeof buf);
    cr_assert_str_eq(buf, "-0.5");
    plot_format_tick(1234.5, 0, buf, sizeof buf);
    cr_assert_str_eq(buf, "1234.5");
    plot_format_tick(0.25, 0.05, buf, 3);
    cr_assert_str_eq(buf, "0.");
}
