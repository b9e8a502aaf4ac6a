/* Fixture lookup, tolerant tensor comparison and the ONNX test-folder runner used by the
 * conformance and model suites. */
#include "testutil.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands/command.h"

#include "engine/engine.h"
#include "model/onnx_reader.h"

const char *tu_src_path(const char *rel)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ % 8];
    const char *root = getenv("PRUNESCOPE_SRCDIR");
    snprintf(b, 4096, "%s/%s", root && *root ? root : ".", rel);
    return b;
}

const char *tu_node_tests_dir(void)
{
    const char *p = tu_src_path("../shared/onnx-node-tests");
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode) ? p : NULL;
}

/* Element i of a float32, int64, int32 or bool tensor. */
static double elem_as_double(const struct tensor *t, size_t i)
{
    switch (t->dtype) {
    case DTYPE_FLOAT: return tensor_f32(t)[i];
    case DTYPE_INT64: return (double)tensor_i64(t)[i];
    case DTYPE_INT32: return tensor_i32(t)[i];
    case DTYPE_BOOL: return tensor_bool(t)[i];
    default: return NAN;
    }
}

struct tu_compare tu_compare(const struct tensor *got, const struct tensor *want, double rtol,
                             double atol)
{
    struct tu_compare c = {.ok = true};
    char a[128], b[128];
    if (got->dtype != want->dtype) {
        c.ok = false;
        snprintf(c.why, sizeof c.why, "dtype %s, expected %s", dtype_name(got->dtype),
                 dtype_name(want->dtype));
        return c;
    }
    if (!shape_equal(&got->shape, &want->shape)) {
        c.ok = false;
        snprintf(c.why, sizeof c.why, "shape %s, expected %s",
                 shape_format(&got->shape, a, sizeof a), shape_format(&want->shape, b, sizeof b));
        return c;
    }
    size_t n = tensor_numel(got);
    for (size_t i = 0; i < n; i++) {
        double g, w;
        g = elem_as_double(got, i);
        w = elem_as_double(want, i);
        if (isnan(g) && isnan(w))
            continue;
        double d = fabs(g - w);
        if (isnan(d) || (isinf(g) && g != w))
            d = INFINITY;
        if (d > c.worst_abs || (isinf(d) && c.ok)) {
            c.worst_abs = d;
            c.worst_index = i;
        }
        if (!(d <= atol + rtol * fabs(w)) && c.ok) {
            c.ok = false;
            snprintf(c.why, sizeof c.why, "element %zu is %.8g, expected %.8g", i, g, w);
        }
    }
    return c;
}

/* FLOAT, INT32, INT64 and BOOL: the ONNX element types with a dtype of their own. */
static bool supported_elem(int t)
{
    return t == 1 || t == 6 || t == 7 || t == 9;
}

enum tu_case_result tu_run_case(const char *dir, double rtol, double atol, bool by_rows,
                                int threads, char *msg, size_t msg_size)
{
    char path[4096];
    struct err err;
    enum tu_case_result res = TU_FAIL;
    struct tensor *ins[64] = {0}, *want[64] = {0}, *got[64] = {0};
    int n_in = 0, n_want = 0;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    struct engine *e = engine_open(path, threads, &err);
    if (!e) {
        snprintf(msg, msg_size, "%s", err.msg);
        return err.code == ERR_UNSUPPORTED ? TU_UNSUPPORTED : TU_FAIL;
    }
    const struct graph *g = engine_graph(e);
    for (int i = 0; i < g->n_outputs; i++) {
        int t = g->values[g->outputs[i]].onnx_elem_type;
        if (t && !supported_elem(t)) {
            snprintf(msg, msg_size, "output '%s' has element type %s",
                     g->values[g->outputs[i]].name, onnx_elem_type_name(t));
            res = TU_UNSUPPORTED;
            goto done;
        }
    }
    for (n_in = 0; n_in < g->n_inputs && n_in < 64; n_in++) {
        int et;
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, n_in);
        ins[n_in] = onnx_read_tensor_file(path, NULL, &et, &err);
        if (!ins[n_in]) {
            snprintf(msg, msg_size, "%s", err.msg);
            res = err.code == ERR_UNSUPPORTED ? TU_UNSUPPORTED : TU_FAIL;
            goto done;
        }
        if (!supported_elem(et)) {
            snprintf(msg, msg_size, "input %d has element type %s", n_in, onnx_elem_type_name(et));
            res = TU_UNSUPPORTED;
            n_in++;
            goto done;
        }
    }
    for (n_want = 0; n_want < g->n_outputs && n_want < 64; n_want++) {
        int et;
        snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.pb", dir, n_want);
        want[n_want] = onnx_read_tensor_file(path, NULL, &et, &err);
        if (!want[n_want]) {
            snprintf(msg, msg_size, "%s", err.msg);
            res = err.code == ERR_UNSUPPORTED ? TU_UNSUPPORTED : TU_FAIL;
            goto done;
        }
        if (!supported_elem(et)) {
            snprintf(msg, msg_size, "output %d has element type %s", n_want,
                     onnx_elem_type_name(et));
            res = TU_UNSUPPORTED;
            n_want++;
            goto done;
        }
    }
    int rc = by_rows ? engine_run_rows(e, ins[0], got, &err)
                     : engine_run(e, (const struct tensor *const *)ins, got, &err);
    if (rc < 0) {
        snprintf(msg, msg_size, "%s", err.msg);
        res = err.code == ERR_UNSUPPORTED ? TU_UNSUPPORTED : TU_FAIL;
        goto done;
    }
    res = TU_PASS;
    for (int k = 0; k < g->n_outputs; k++) {
        struct tu_compare c = tu_compare(got[k], want[k], rtol, atol);
        if (!c.ok) {
            snprintf(msg, msg_size, "output %d: %s", k, c.why);
            res = TU_FAIL;
            break;
        }
    }
    for (int k = 0; k < g->n_outputs; k++)
        tensor_free(got[k]);
done:
    for (int i = 0; i < n_in; i++)
        tensor_free(ins[i]);
    for (int i = 0; i < n_want; i++)
        tensor_free(want[i]);
    engine_free(e);
    return res;
}

char *tu_write_temp(const void *data, size_t len, const char *suffix)
{
    const char *tmp = getenv("TMPDIR");
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/prunescope-test-XXXXXX%s", tmp && *tmp ? tmp : "/tmp", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0) {
        free(path);
        return NULL;
    }
    if (len && write(fd, data, len) != (ssize_t)len) {
        close(fd);
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

int tu_run_capture(const char *cmd, char **output)
{
    char full[8192];
    snprintf(full, sizeof full, "(%s) 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = '\0';
    int status = pclose(p);
    *output = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int tu_op_run(const struct op_def *op, const struct node *nd, int64_t opset,
              const struct tensor *const *ins, int n_in, struct tensor **outs, int n_out,
              struct err *err)
{
    struct shape empty = {0};
    for (int k = 0; k < n_out; k++)
        outs[k] = tensor_new(DTYPE_FLOAT, &empty, err);
    struct op_io io = {
        .node = nd, .opset = opset, .n_in = n_in, .in = ins, .n_out = n_out, .out = outs};
    for (int k = 0; k < n_out; k++)
        outs[k]->dtype = DTYPE_UNDEFINED;
    if (op->shape(&io, err) < 0)
        return -1;
    for (int k = 0; k < n_out; k++) {
        struct shape s = outs[k]->shape;
        if (tensor_reshape_alloc(outs[k], outs[k]->dtype, &s, err) < 0)
            return -1;
    }
    /* What the op prepares from its constant inputs, as a plan does. */
    void *prepared = NULL;
    if (op->prepare && op->prepare(&io, &prepared, err) < 0)
        return -1;
    io.prepared = prepared;
    void *scratch = io.scratch_bytes ? malloc(io.scratch_bytes) : NULL;
    io.scratch = scratch;
    int rc = op->run(&io, err);
    free(scratch);
    if (prepared && op->release)
        op->release(prepared);
    return rc;
}

struct tensor *tu_f32(int ndim, const int64_t *dims, const float *vals)
{
    struct shape s = shape_make(ndim, dims);
    struct tensor *t = tensor_new(DTYPE_FLOAT, &s, NULL);
    if (vals && tensor_bytes(t))
        memcpy(t->data, vals, tensor_bytes(t));
    return t;
}

struct tensor *tu_i64(int ndim, const int64_t *dims, const int64_t *vals)
{
    struct shape s = shape_make(ndim, dims);
    struct tensor *t = tensor_new(DTYPE_INT64, &s, NULL);
    if (tensor_bytes(t))
        memcpy(t->data, vals, tensor_bytes(t));
    return t;
}

void tu_expect_shape(const struct tensor *t, int ndim, const int64_t *dims)
{
    struct shape want = shape_make(ndim, dims);
    char a[96], b[96];
    cr_expect(shape_equal(&t->shape, &want), "shape %s, expected %s",
              shape_format(&t->shape, a, sizeof a), shape_format(&want, b, sizeof b));
}

void tu_expect_floats(const struct tensor *t, const float *want, size_t n, float tol)
{
    cr_assert_eq(t->dtype, DTYPE_FLOAT);
    cr_assert_eq(tensor_numel(t), n, "numel %zu, expected %zu", tensor_numel(t), n);
    for (size_t i = 0; i < n; i++) {
        float got = tensor_f32(t)[i];
        if (isnan(want[i]))
            cr_expect(isnan(got), "element %zu: %.9g, expected NaN", i, got);
        else
            cr_expect(fabsf(got - want[i]) <= tol, "element %zu: %.9g, expected %.9g", i, got,
                      want[i]);
    }
}

void tu_expect_ints(const struct tensor *t, const int64_t *want, size_t n)
{
    cr_assert_eq(t->dtype, DTYPE_INT64);
    cr_assert_eq(tensor_numel(t), n, "numel %zu, expected %zu", tensor_numel(t), n);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(tensor_i64(t)[i], want[i], "element %zu: %lld, expected %lld", i,
                     (long long)tensor_i64(t)[i], (long long)want[i]);
}

void tu_expect_error(const struct err *err, const char *part1, const char *part2)
{
    cr_expect(strstr(err->msg, part1) != NULL, "'%s' missing from: %s", part1, err->msg);
    if (part2)
        cr_expect(strstr(err->msg, part2) != NULL, "'%s' missing from: %s", part2, err->msg);
}

static char cache_dir[64];

void tu_private_cache(void)
{
    snprintf(cache_dir, sizeof cache_dir, "/tmp/prunescope-cache-%d", (int)getpid());
    setenv("XDG_CACHE_HOME", cache_dir, 1);
}

void tu_remove_cache(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_dir);
    if (system(cmd) != 0)
        return;
}

struct tensor *tu_outputs(struct session *s)
{
    struct tensor view = {.dtype = DTYPE_FLOAT, .data = s->data->features};
    view.shape.ndim = s->row_shape.ndim + 1;
    view.shape.dims[0] = (int64_t)s->data->rows;
    for (int d = 0; d < s->row_shape.ndim; d++)
        view.shape.dims[d + 1] = s->row_shape.dims[d];
    struct tensor *out[4] = {NULL};
    struct err err;
    cr_assert_eq(engine_run_rows(s->engine, &view, out, &err), 0, "%s", err.msg);
    return out[0];
}

struct session *tu_open_session(const char *model, const char *csv, float scale, int threads)
{
    struct err err;
    struct session *s = session_new(threads, NULL, &err);
    cr_assert_not_null(s, "%s", err.msg);
    struct dataset_options opt = {.scale = scale};
    cr_assert_eq(session_load_model(s, tu_src_path(model), NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(session_load_data(s, tu_src_path(csv), &opt, NULL, &err), 0, "%s", err.msg);
    return s;
}

const struct analysis_subject *tu_subject(struct session *s)
{
    static struct analysis_subject subs[8];
    static int next;
    struct analysis_subject *sub = &subs[next++ % 8];
    session_subject(s, sub);
    return sub;
}

struct tensor *tu_tensor(enum dtype t, int ndim, const int64_t *dims, const void *vals)
{
    struct err err;
    struct shape s = shape_make(ndim, dims);
    struct tensor *x = tensor_new(t, &s, &err);
    cr_assert_not_null(x, "%s", err.msg);
    if (vals && tensor_bytes(x))
        memcpy(x->data, vals, tensor_bytes(x));
    return x;
}

int tu_run1(const struct op_def *op, const struct node *nd, int64_t opset,
            const struct tensor *const *ins, int n_in, struct tensor **y, struct err *err)
{
    struct tensor *outs[1] = {NULL};
    err_clear(err);
    int rc = tu_op_run(op, nd, opset, ins, n_in, outs, 1, err);
    *y = outs[0];
    return rc;
}

void tu_check_op(const struct op_def *op, const struct node *nd, int64_t opset,
                 const struct tensor *const *ins, int n_in, int ndim, const int64_t *dims,
                 const float *want, float tol)
{
    struct tensor *y;
    struct err err;
    cr_assert_eq(tu_run1(op, nd, opset, ins, n_in, &y, &err), 0, "%s", err.msg);
    tu_expect_shape(y, ndim, dims);
    struct shape s = shape_make(ndim, dims);
    tu_expect_floats(y, want, (size_t)shape_numel(&s), tol);
    tensor_free(y);
}

void tu_check_fails(const struct op_def *op, const struct node *nd, int64_t opset,
                    const struct tensor *const *ins, int n_in, enum err_code code, struct err *err)
{
    struct tensor *y;
    cr_expect_eq(tu_run1(op, nd, opset, ins, n_in, &y, err), -1, "the op succeeded");
    cr_expect_eq(err->code, code, "error code %d, expected %d (%s)", (int)err->code, (int)code,
                 err->msg);
    tensor_free(y);
}

void tu_expect_i32(const struct tensor *t, const int32_t *want, size_t n)
{
    cr_assert_eq(t->dtype, DTYPE_INT32, "dtype %s, expected int32", dtype_name(t->dtype));
    cr_assert_eq(tensor_numel(t), n, "numel %zu, expected %zu", tensor_numel(t), n);
    cr_expect_eq(tensor_bytes(t), n * 4);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(tensor_i32(t)[i], want[i], "element %zu: %d, expected %d", i,
                     (int)tensor_i32(t)[i], (int)want[i]);
}

void tu_expect_bools(const struct tensor *t, const uint8_t *want, size_t n)
{
    cr_assert_eq(t->dtype, DTYPE_BOOL, "dtype %s, expected bool", dtype_name(t->dtype));
    cr_assert_eq(tensor_numel(t), n, "numel %zu, expected %zu", tensor_numel(t), n);
    cr_expect_eq(tensor_bytes(t), n);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(tensor_bool(t)[i], want[i], "element %zu: %d, expected %d", i,
                     (int)tensor_bool(t)[i], (int)want[i]);
}

void tu_expect_gradient_matches_difference(const struct op_def *op, const struct node *nd, float x0)
{
    const float h = 1e-2f;
    float xs[3] = {x0, x0 - h, x0 + h}, ys[3];
    struct tensor *y0 = NULL;
    struct err err;
    for (int k = 0; k < 3; k++) {
        struct tensor *x = tu_tensor(DTYPE_FLOAT, 1, I64(1), &xs[k]), *y;
        cr_assert_eq(tu_run1(op, nd, 18, (const struct tensor *const[]){x}, 1, &y, &err), 0, "%s",
                     err.msg);
        tensor_free(x);
        ys[k] = tensor_f32(y)[0];
        if (k == 0)
            y0 = y;
        else
            tensor_free(y);
    }
    struct tensor *x = tu_tensor(DTYPE_FLOAT, 1, I64(1), &x0);
    struct tensor *dy = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(1));
    struct tensor *dx = tu_tensor(DTYPE_FLOAT, 1, I64(1), F32(0));
    const struct tensor *ins[] = {x};
    struct tensor *outs[] = {y0};
    struct op_io io = {.node = nd, .opset = 18, .n_in = 1, .in = ins, .n_out = 1, .out = outs};
    cr_assert_not_null(op->backward, "%s has no backward", op->name);
    cr_assert_eq(
        op->backward(&io, (const struct tensor *const[]){dy}, (struct tensor *const[]){dx}, &err),
        0, "%s", err.msg);
    float numeric = (ys[2] - ys[1]) / (2 * h);
    cr_expect(fabsf(tensor_f32(dx)[0] - numeric) <= 2e-3f * (1 + fabsf(numeric)),
              "%s at %g: gradient %g, central difference %g", op->name, x0, tensor_f32(dx)[0],
              numeric);
    tensor_free(x), tensor_free(dy), tensor_free(dx), tensor_free(y0);
}

int tu_run_line(struct session *s, const char *line, struct err *err)
{
    FILE *sink = fopen("/dev/null", "w");
    cr_assert(sink, "cannot open /dev/null");
    struct out o;
    out_init(&o, false, sink, sink);
    struct cmd_ctx c = {.s = s, .o = &o};
    int rc = cmd_run_line(&c, line, err);
    fclose(sink);
    return rc;
}
