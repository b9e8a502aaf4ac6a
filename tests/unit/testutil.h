/* Helpers shared by the test suites: where fixtures live, tensor comparison, running an
 * ONNX-style test folder. Not assertions themselves (each test states its own). */
#ifndef PRUNESCOPE_TESTUTIL_H
#define PRUNESCOPE_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/tensor.h"

/* Absolute path of a file under the source tree (PRUNESCOPE_SRCDIR, else "."). Static
 * buffer rotated over 8 calls. */
const char *tu_src_path(const char *rel);
/* The ONNX node test folder beside the project, or NULL when absent. */
const char *tu_node_tests_dir(void);

struct tu_compare {
    bool ok;
    size_t worst_index;
    double worst_abs;  /* largest |got - want| */
    char why[256];     /* when !ok */
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
#endif
