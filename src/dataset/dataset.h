/* A labelled validation set read from CSV (plain or gzip-compressed) through libcsv: the
 * feature matrix, the labels, and where each row came from. Not metrics (metrics.h) and not
 * the model: checks against a model's input and classes are separate calls. */
#ifndef PRUNESCOPE_DATASET_DATASET_H
#define PRUNESCOPE_DATASET_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum label_kind {
    LABEL_CLASS, /* class indices: integer labels as given, string labels in sorted order */
    LABEL_VALUE, /* regression targets: numeric labels that are not all integers */
};

struct dataset_options {
    /* Label column: a header name, or a 1-based column number written in decimal; NULL
     * picks a column named label, target, class or y (case-insensitive), else the last. */
    const char *label;
    /* Features are multiplied by this (0 means 1). */
    float scale;
    /* Accept NaN and infinite feature cells (rejected by default, naming the row). */
    bool allow_nonfinite;
};

struct dataset {
    char *path;
    size_t rows;
    size_t n_features;
    float *features; /* rows x n_features, row-major, already scaled */
    enum label_kind kind;
    int64_t *labels; /* LABEL_CLASS: rows class indices, else NULL */
    float *values;   /* LABEL_VALUE: rows targets, else NULL */
    /* String labels: n_classes names; labels index into them (sorted by strcmp). NULL for
     * numeric labels. */
    char **class_names;
    size_t n_classes; /* string labels: names; numeric: 1 + the largest label */
    bool has_header;
    size_t label_column; /* 1-based column number in the file */
    char *label_name;    /* header name of the label column, or "column N" */
    size_t *row_line;    /* per row, the 1-based line of the file where it starts */
    uint64_t file_bytes; /* bytes of the file as stored (compressed when gzip) */
    uint64_t text_bytes; /* bytes of CSV text read (after decompression) */
};

/* Reads path (gzip-compressed when it starts with the gzip magic, whatever its name) in one
 * streaming pass: the text is never held whole in memory. The first row is a header when
 * it has more non-numeric cells than the second row (a UTF-8 BOM is skipped; CRLF and LF
 * line ends and RFC 4180 quoting are accepted). Errors name the file, line and column
 * ("data.csv:12:5: expected a number, found 'abc'"): ragged rows, non-numeric features,
 * NaN/inf features (unless allowed), an empty file, a header with no rows, a missing label
 * column. */
struct dataset *dataset_load(const char *path, const struct dataset_options *opt, struct err *err);
void dataset_free(struct dataset *d);

/* Fails unless every row has exactly n_features features: "data.csv: rows have 63
 * features, the model's input [N,64] needs 64". model_shape names the input in the
 * message (e.g. "[N,1,28,28]"). */
int dataset_check_features(const struct dataset *d, size_t n_features, const char *model_shape,
                           struct err *err);
/* Fails unless every class label lies in [0, n_classes), naming the first offending row's
 * line and the label column: "data.csv:57:65: label 12 is out of range for a model with
 * 10 classes" (string labels: "label 'zebra' (class 11) ..."). */
int dataset_check_classes(const struct dataset *d, size_t n_classes, struct err *err);

#endif
