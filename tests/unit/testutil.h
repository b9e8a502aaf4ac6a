/* Helpers shared by the test suites: where fixtures live, tensor comparison, running an
 * ONNX-style test folder. Not assertions themselves (each test states its own). */
#ifndef PRUNESCOPE_TESTUTIL_H
#define PRUNESCOPE_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/tensor.h"
#include "session/session.h"

/* Absolute path of a file under the source tree (PRUNESCOPE_SRCDIR, else "."). Static
 * buffer rotated over 8 calls. */
const char *tu_src_path(const char *rel);
/* The ONNX node test folder beside the project, or NULL when absent. */
const char *tu_node_tests_dir(void);

struct tu_compare {
    bool ok;
    size_t worst_index;
    double worst_abs; /* largest |got - want| */
    char why[256];    /* when !ok */
};

/* Elementwise |got - want| <= atol + rtol * |want|; shapes and dtypes must match exactly.
 * NaNs match NaNs. */
struct tu_compare tu_compare(const struct tensor *got, const struct tensor *want, double rtol,
                             double atol);

enum tu_case_result { TU_PASS, TU_FAIL, TU_UNSUPPORTED };

/* Load DIR/model.onnx, bind DIR/test_data_set_K/input_N.pb to the graph inputs, run with
 * one thread (engine_run) or over rows with `threads` threads (when by_rows), and compare
 * with output_N.pb. Sets msg on FAIL and UNSUPPORTED. */
enum tu_case_result tu_run_case(const char *dir, double rtol, double atol, bool by_rows,
                                int threads, char *msg, size_t msg_size);

/* A session on threads threads with the model and CSV under the source tree loaded (the
 * CSV's features multiplied by scale; 0 means 1); asserts on failure. */
struct session *tu_open_session(const char *model, const char *csv, float scale, int threads);

/* Run one command line on s with its output thrown away; cmd_run_line's result. */
int tu_run_line(struct session *s, const char *line, struct err *err);

/* The session's analysis subject as it stands now (session_subject). Static buffer rotated
 * over 8 calls. */
const struct analysis_subject *tu_subject(struct session *s);

/* Output 0 of the session's model on all rows of its data (caller frees); asserts on
 * failure. */
struct tensor *tu_outputs(struct session *s);

/* For .init and .fini of tests that run sensitivity sweeps: XDG_CACHE_HOME set to a
 * directory of this process under /tmp, and that directory removed. */
void tu_private_cache(void);
void tu_remove_cache(void);

/* Write len bytes to a new temporary file; returns its malloc'd path. */
char *tu_write_temp(const void *data, size_t len, const char *suffix);

/* Run a shell command; returns its exit status and captures stdout+stderr (malloc'd). */
int tu_run_capture(const char *cmd, char **output);

#include "kernels/op.h"

/* Run one op the way the engine does: shape call, output allocation, run call. outs[k]
 * receive new tensors (caller frees). */
int tu_op_run(const struct op_def *op, const struct node *nd, int64_t opset,
              const struct tensor *const *ins, int n_in, struct tensor **outs, int n_out,
              struct err *err);
/* A float32 tensor of the given shape holding vals (numel values; NULL for zeros). */
struct tensor *tu_f32(int ndim, const int64_t *dims, const float *vals);
struct tensor *tu_i64(int ndim, const int64_t *dims, const int64_t *vals);
/* A tensor of any dtype holding vals (NULL: zeros); the test stops if it cannot be made. */
struct tensor *tu_tensor(enum dtype t, int ndim, const int64_t *dims, const void *vals);
/* tu_op_run for an op with one output: *y is always set (the caller frees it), also when
 * the op fails; err is cleared first. */
int tu_run1(const struct op_def *op, const struct node *nd, int64_t opset,
            const struct tensor *const *ins, int n_in, struct tensor **y, struct err *err);
/* Runs op and expects success with a float output of this shape and these values. */
void tu_check_op(const struct op_def *op, const struct node *nd, int64_t opset,
                 const struct tensor *const *ins, int n_in, int ndim, const int64_t *dims,
                 const float *want, float tol);
/* Runs op and expects a failure with this code; err is left for further checks. */
void tu_check_fails(const struct op_def *op, const struct node *nd, int64_t opset,
                    const struct tensor *const *ins, int n_in, enum err_code code, struct err *err);
/* Literal arrays for shapes and values in tests. */
#define I64(...) ((const int64_t[]){__VA_ARGS__})
#define F32(...) ((const float[]){__VA_ARGS__})
/* Node attributes in designated initializers: A_INT("axis", 1), A_INTS("pads", 0, 1). */
#define INTS(...)                                                                                  \
    .ints = (int64_t[]){__VA_ARGS__}, .n = sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)
#define A_INTS(nm, ...)                                                                            \
    {                                                                                              \
        .name = nm, .type = ATTR_INTS, INTS(__VA_ARGS__)                                           \
    }
#define A_INT(nm, v)                                                                               \
    {                                                                                              \
        .name = nm, .type = ATTR_INT, .i = (v)                                                     \
    }
#define A_FLOAT(nm, v)                                                                             \
    {                                                                                              \
        .name = nm, .type = ATTR_FLOAT, .f = (v)                                                   \
    }
#define A_STR(nm, v)                                                                               \
    {                                                                                              \
        .name = nm, .type = ATTR_STRING, .s = (v)                                                  \
    }
#define ATTRS(a) .n_attrs = (int)(sizeof(a) / sizeof((a)[0])), .attrs = (a)

/* Criterion expectations on one tensor (they report, the test goes on). */
void tu_expect_shape(const struct tensor *t, int ndim, const int64_t *dims);
/* |got - want| <= tol elementwise; a NaN in want requires a NaN. */
void tu_expect_floats(const struct tensor *t, const float *want, size_t n, float tol);
void tu_expect_ints(const struct tensor *t, const int64_t *want, size_t n);
/* dtype int32 (bool), n elements of 4 bytes (1), equal to want. */
void tu_expect_i32(const struct tensor *t, const int32_t *want, size_t n);
void tu_expect_bools(const struct tensor *t, const uint8_t *want, size_t n);
/* The backward of a one-input float op at x0 against a central difference of its run
 * (h = 0.01): dL/dx for L = sum(y), within 2e-3 relative. */
void tu_expect_gradient_matches_difference(const struct op_def *op, const struct node *nd,
                                           float x0);
/* err's message contains part1 and (when non-NULL) part2. */
void tu_expect_error(const struct err *err, const char *part1, const char *part2);

#endif
