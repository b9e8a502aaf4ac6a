/* CSV validation sets: header and label detection, exact parsing, line numbers, streaming
 * across read blocks, gzip, and the errors a user meets. Expected values are worked out by
 * hand from the CSV text in each test. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset/dataset.h"
#include "testutil.h"

static struct dataset *load_text(const char *text, const struct dataset_options *opt,
                                 struct err *err, char **path)
{
    *path = tu_write_temp(text, strlen(text), ".csv");
    struct dataset_options dflt = {0};
    return dataset_load(*path, opt ? opt : &dflt, err);
}

static void done(struct dataset *d, char *path)
{
    dataset_free(d);
    unlink(path);
    free(path);
}

/* The message must start with the file name and contain want. */
static void expect_fail(const char *text, const struct dataset_options *opt, const char *want)
{
    struct err err;
    char *path;
    struct dataset *d = load_text(text, opt, &err, &path);
    cr_expect_null(d, "loaded, expected an error with '%s'", want);
    cr_expect(strncmp(err.msg, path, strlen(path)) == 0, "message does not start with the path: %s",
              err.msg);
    cr_expect(strstr(err.msg, want), "'%s' missing from: %s", want, err.msg);
    done(d, path);
}

Test(dataset, header_and_default_label_named_target)
{
    struct err err;
    char *path;
    struct dataset *d = load_text("Target,x1,x2\n1,0.5,-2\n0,3,4e2\n", NULL, &err, &path);
    cr_assert_not_null(d, "%s", err.msg);
    cr_expect(d->has_header);
    cr_expect_eq(d->rows, 2);
    cr_expect_eq(d->n_features, 2);
    cr_expect_eq(d->label_column, 1);
    cr_expect_str_eq(d->label_name, "Target");
    cr_expect_eq(d->kind, LABEL_CLASS);
    cr_expect_eq(d->n_classes, 2);
    cr_expect_eq(d->labels[0], 1);
    cr_expect_eq(d->labels[1], 0);
    const float want[] = {0.5f, -2.0f, 3.0f, 400.0f};
    for (int i = 0; i < 4; i++)
        cr_expect_eq(d->features[i], want[i], "feature %d: %g", i, d->features[i]);
    done(d, path);
}

Test(dataset, label_by_name_by_number_and_last_by_default)
{
    const char *text = "a,b,c\n1,2,3\n4,5,6\n";
    struct err err;
    char *path;
    struct dataset *d = load_text(text, NULL, &err, &path);
    cr_assert_not_null(d, "%s", err.msg);
    cr_expect_eq(d->label_column, 3); /* no usual name: the last column */
    cr_expect_eq(d->labels[1], 6);
    cr_expect_eq(d->features[0], 1.0f);
    done(d, path);
    struct dataset_options by_name = {.label = "a"};
    d = load_text(text, &by_name, &err, &path);
    cr_assert_not_null(d, "%s", err.msg);
    cr_expect_eq(d->label_column, 1);
    cr_expect_eq(d->labels[0], 1);
    cr_expect_eq(d->features[0], 2.0f);
    cr_expect_eq(d->features[1], 3.0f);
    done(d, path);
    struct dataset_options by_number = {.label = "2"};
    d = load_text(text, &by_number, &err, &path);
    cr_assert_not_null(d, "%s", err.msg);
    cr_expect_eq(d->label_column, 2);
    cr_expect_eq(d->labels[1], 5);
    cr_expect_eq(d->features[2], 4.0f);
    cr_expect_eq(d->features[3], 6.0f);
    done(d, path);
    struct dataset_options missing = {.label = "zzz"};
    expect_fail(text, &missing, "no column named 'zzz'; the header has 3 columns: a, b, c");
    struct dataset_options outside = {.label = "7"};
    expect_fail(text, &outside, "--label 7 is outside the 3 columns");
}

Test(dataset, numbers_parse_exactly_and_scale_in_float32)
{
    struct err err;
    char *path;
    struct dataset_options opt = {.scale = 0.00392156862745098f};
    struct dataset *d =
        load_text("p0,p1,p2,p3,label\n255, -0012 ,16777217,1.5e-3,3\n", &opt, &err, &path);
    cr_assert_not_null(d, "%s", err.msg);
    float s = 0.00392156862745098f;
    cr_expect_eq(d->features[0], 255.0f * s);
    cr_expect_eq(d->features[1], -12.0f * s);
    cr_expect_eq(d->features[2], strtof("16777217", NULL) * s); /* beyond 2^24: rounded */
    cr_expect_eq(d->features[3], strtof("1.5e-3", NULL) * s);
    done(d, path);
}

Test(dataset, non_integer_labels_are_regression_targets)
{
    struct err err;
    char *path;
    struct dataset *d = load_text("x,y\n1,0.25\n2,3\n", NULL, &err, &path);
    cr_assert_not_null(d, "%s", err.msg);
    cr_expect_eq(d->kind, LABEL_VALUE);
    cr_expect_null(d->labels);
    cr_expect_eq(d->values[0], 0.25f);
    cr_expect_eq(d->values[1], 3.0f);
    done(d, path);
}

Test(dataset, string_labels_are_sorted_classes)
{
    struct err err;
    char *path;
    struct dataset *d =
        load_text("f,label\n1,zebra\n2,\"ant, red\"\n3,zebra\n4,bee\n", NULL, &err, &path);
    cr_assert_not_null(d, "%s", err.msg);
    cr_expect_eq(d->kind, LABEL_CLASS);
    cr_assert_eq(d->n_classes, 3);
    cr_expect_str_eq(d->class_names[0], "ant, red");
    cr_expect_str_eq(d->class_names[1], "bee");
    cr_expect_str_eq(d->class_names[2], "zebra");
    const int64_t want[] = {2, 0, 2, 1};
    for (int i = 0; i < 4; i++)
        cr_expect_eq(d->labels[i], want[i]);
    done(d, path);
}

Test(dataset, line_numbers_count_blank_lines_crlf_and_quoted_newlines)
{
    /* Line 1 header, 2 a row, 3 blank, 4-5 a row whose label holds a newline, 6 a ragged
     * row (CRLF ends throughout). */
    expect_fail("a,b,label\r\n1,2,x\r\n\r\n3,4,\"two\r\nlines\"\r\n5,6\r\n", NULL,
                ":6: the row has 2 cells, the header has 3");
    /* The row starting on line 4 spans two lines; its bad feature is on line 4. */
    expect_fail("a,b,label\n1,2,x\n\n3,oops,\"two\nlines\"\n", NULL,
                ":4:2 (b): expected a number, found 'oops'");
}

Test(dataset, utf8_bom_is_not_part_of_the_first_name)
{
    struct err err;
    char *path;
    struct dataset *d = load_text("\xEF\xBB\xBFlabel,x\n1,2\n", NULL, &err, &path);
    cr_assert_not_null(d, "%s", err.msg);
    cr_expect_str_eq(d->label_name, "label");
    cr_expect_eq(d->label_column, 1);
    done(d, path);
}

Test(dataset, refuses_bad_cells_naming_line_and_column)
{
    expect_fail("a,b,label\n1,2,0\n1,,1\n", NULL,
                ":3:2 (b): expected a number, found an empty cell");
    expect_fail("a,b,label\n1,2,0\n1,2,-1\n", NULL,
                ":3:3 (label): the label is -1; class labels start at 0");
    expect_fail("a,b,label\n1,2,0\n1,2,\n", NULL, ":3:3 (label): the label cell is empty");
    expect_fail("a,b,label\n1,inf,0\n", NULL, ":2:2 (b): the feature is 'inf'");
    expect_fail("1,2,0\nNaN,2,1\n", NULL, ":2:1 (column 1): the feature is 'NaN'");
    expect_fail("a,b,label\n1,2,0\n1,2,0,9\n", NULL, ":3: the row has 4 cells, the header has 3");
    expect_fail("only\n", NULL, "1 column");
    expect_fail("a,b,label\n1,2,\"open\n", NULL, "a quoted field is not closed");
    expect_fail("a,b,label\n1,2,0\n1,2\"x,1\n", NULL, ":3: malformed quoting");
    expect_fail("\n\n", NULL, "the file is empty");
}

Test(dataset, nonfinite_cells_accepted_on_request)
{
    struct err err;
    char *path;
    struct dataset_options opt = {.allow_nonfinite = true};
    struct dataset *d = load_text("a,label\nnan,0\n-inf,1\n", &opt, &err, &path);
    cr_assert_not_null(d, "%s", err.msg);
    cr_expect(isnan(d->features[0]));
    cr_expect(isinf(d->features[1]) && d->features[1] < 0);
    done(d, path);
}

/* Rows spanning many read blocks: every value and line number is where the text put it. */
Test(dataset, streams_a_file_larger_than_the_read_block)
{
    size_t rows = 20000, cap = rows * 40 + 64, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "x,y,label\n");
    for (size_t i = 0; i < rows; i++)
        len += (size_t)snprintf(text + len, cap - len, "%zu,%zu.5,%zu\n", i, i % 977, i % 10);
    struct err err;
    char *path;
    struct dataset *d = load_text(text, NULL, &err, &path);
    free(text);
    cr_assert_not_null(d, "%s", err.msg);
    cr_assert_eq(d->rows, rows);
    for (size_t i = 0; i < rows; i += 997) {
        cr_expect_eq(d->features[2 * i], (float)i);
        cr_expect_eq(d->features[2 * i + 1], (float)(i % 977) + 0.5f);
        cr_expect_eq(d->labels[i], (int64_t)(i % 10));
        cr_expect_eq(d->row_line[i], i + 2);
    }
    done(d, path);
}

static char *write_gzip(const char *text, size_t keep_bytes)
{
    char *path = tu_write_temp("", 0, ".csv.gz");
    gzFile g = gzopen(path, "wb");
    gzwrite(g, text, (unsigned)strlen(text));
    gzclose(g);
    if (keep_bytes) {
        cr_assert_eq(truncate(path, (off_t)keep_bytes), 0);
    }
    return path;
}

Test(dataset, reads_gzip_and_refuses_truncated_or_corrupt_gzip)
{
    struct err err;
    struct dataset_options opt = {0};
    char text[8192] = "a,label\n";
    for (int i = 0; i < 500; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%d,%d\n", i, i % 3);
    char *path = write_gzip(text, 0);
    struct dataset *d = dataset_load(path, &opt, &err);
    cr_assert_not_null(d, "%s", err.msg);
    cr_expect_eq(d->rows, 500);
    cr_expect_eq(d->features[499], 499.0f);
    dataset_free(d);
    unlink(path);
    free(path);

    path = write_gzip(text, 60);
    d = dataset_load(path, &opt, &err);
    cr_expect_null(d);
    cr_expect(strstr(err.msg, path) && strstr(err.msg, "truncated"), "%s", err.msg);
    dataset_free(d);
    unlink(path);
    free(path);

    const char bad[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage that is not deflate";
    path = tu_write_temp(bad, sizeof bad - 1, ".csv.gz");
    d = dataset_load(path, &opt, &err);
    cr_expect_null(d);
    cr_expect(strstr(err.msg, path) && strstr(err.msg, "compressed"), "%s", err.msg);
    dataset_free(d);
    unlink(path);
    free(path);
}

Test(dataset, checks_against_a_model_name_the_row)
{
    struct err err;
    char *path;
    struct dataset *d = load_text("a,b,label\n1,2,0\n3,4,1\n\n5,6,4\n", NULL, &err, &path);
    cr_assert_not_null(d, "%s", err.msg);
    cr_expect_eq(dataset_check_features(d, 2, "[N,2]", &err), 0);
    cr_expect_eq(dataset_check_features(d, 3, "[N,3]", &err), -1);
    cr_expect(strstr(err.msg, "rows have 2 features") && strstr(err.msg, "[N,3] takes 3"), "%s",
              err.msg);
    cr_expect_eq(dataset_check_classes(d, 5, &err), 0);
    cr_expect_eq(dataset_check_classes(d, 3, &err), -1);
    cr_expect(strstr(err.msg, ":5:3 (label): the label 4 is out of range for a model with 3 "
                              "classes (0 to 2)"),
              "%s", err.msg);
    done(d, path);
}
