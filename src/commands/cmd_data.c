/* data: load a CSV validation set for the current model. Not the CSV reading itself
 * (dataset/). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/command.h"

/* "1,28,28" into a shape of positive dims. */
static int parse_shape(const char *text, struct shape *s, struct err *err)
{
    s->ndim = 0;
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 1 || v > (1LL << 31) || (*end && *end != ','))
            return err_set(err,
                           "--shape expects positive integers separated by commas, like "
                           "1,28,28; got '%s'",
                           text);
        if (s->ndim == TENSOR_MAX_DIMS - 1)
            return err_set(err, "--shape '%s' has more than %d dims", text, TENSOR_MAX_DIMS - 1);
        s->dims[s->ndim++] = v;
        p = *end ? end + 1 : end;
    }
    if (s->ndim == 0)
        return err_set(err,
                       "--shape expects positive integers separated by commas, like "
                       "1,28,28; got '%s'",
                       text);
    return 0;
}

static int data_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    struct dataset_options opt = {.scale = 1.0f};
    struct shape shape;
    bool have_shape = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool takes =
            strcmp(a, "--label") == 0 || strcmp(a, "--shape") == 0 || strcmp(a, "--scale") == 0;
        if (takes && i + 1 >= argc)
            return err_set(err, "%s needs a value", a);
        if (strcmp(a, "--label") == 0) {
            opt.label = argv[++i];
        } else if (strcmp(a, "--shape") == 0) {
            if (parse_shape(argv[++i], &shape, err) < 0)
                return -1;
            have_shape = true;
        } else if (strcmp(a, "--scale") == 0) {
            char *end;
            errno = 0;
            float v = strtof(argv[++i], &end);
            if (*end || end == argv[i] || errno || !isfinite(v) || v == 0.0f)
                return err_set(err, "--scale expects a finite non-zero number, got '%s'", argv[i]);
            opt.scale = v;
        } else if (strcmp(a, "--allow-nonfinite") == 0) {
            opt.allow_nonfinite = true;
        } else if (a[0] == '-' && a[1]) {
            return err_set(err, "unknown option '%s'; usage: %s", a, cmd_data.usage);
        } else if (path) {
            return err_set(err, "more than one file given ('%s' and '%s'); usage: %s", path, a,
                           cmd_data.usage);
        } else {
            path = a;
        }
    }
    if (!path)
        return err_set(err, "usage: %s", cmd_data.usage);
    if (session_load_data(c->s, path, &opt, have_shape ? &shape : NULL, err) < 0)
        return -1;
    const struct dataset *d = c->s->data;
    char sb[96];
    shape_format(&c->s->row_shape, sb, sizeof sb);
    out_printf(c->o, "loaded %s: %zu rows, %zu features as %s per row, label column %zu (%s)", path,
               d->rows, d->n_features, sb, d->label_column, d->label_name);
    if (d->kind == LABEL_CLASS)
        out_printf(c->o, ", %zu classes\n", d->n_classes);
    else
        out_printf(c->o, ", regression targets\n");
    out_set(c->o, "path", json_string(path));
    out_set(c->o, "rows", json_integer((json_int_t)d->rows));
    out_set(c->o, "features", json_integer((json_int_t)d->n_features));
    json_t *rs = json_array();
    for (int i = 0; i < c->s->row_shape.ndim; i++)
        json_array_append_new(rs, json_integer(c->s->row_shape.dims[i]));
    out_set(c->o, "shape", rs);
    out_set(c->o, "label", json_string(d->label_name));
    out_set(c->o, "label_column", json_integer((json_int_t)d->label_column));
    out_set(c->o, "header", json_boolean(d->has_header));
    out_set(c->o, "scale", json_real(opt.scale));
    out_set(c->o, "task", json_string(d->kind == LABEL_CLASS ? "classes" : "values"));
    out_set(c->o, "classes", json_integer((json_int_t)d->n_classes));
    if (d->class_names) {
        json_t *names = json_array();
        out_printf(c->o, "classes:");
        for (size_t k = 0; k < d->n_classes; k++) {
            const char *n = d->class_names[k];
            bool plain = n[0] && strpbrk(n, " ,\t\"'") == NULL;
            out_printf(c->o, plain ? " %zu=%s" : " %zu=\"%s\"", k, n);
            json_array_append_new(names, json_string(d->class_names[k]));
        }
        out_printf(c->o, "\n");
        out_set(c->o, "class_names", names);
    }
    return 0;
}

const struct cmd_def cmd_data = {
    .name = "data",
    .usage = "data FILE.csv [--label COL] [--shape D,D,...] [--scale X] [--allow-nonfinite]",
    .summary = "load a labelled CSV validation set (plain or .gz) for the model",
    .help = "The first row is a header when it has more non-numeric cells than the second.\n"
            "--label names the label column by header name or 1-based number; by default a\n"
            "column named label, target, class or y, else the last one. Integer labels are\n"
            "class indices; string labels become classes in sorted order (the mapping is\n"
            "shown); other numbers are regression targets. Features are reshaped to the\n"
            "model's input (--shape gives the per-row shape when the model leaves it open)\n"
            "and multiplied by --scale. NaN and infinite cells are refused unless\n"
            "--allow-nonfinite. A model must be loaded first.",
    .complete = CMD_COMPLETE_FILE,
    .run = data_run,
};
