/* The operator table: every op prunescope can run, found by ONNX op type.
 * Not the ops themselves (op_*.c) and not graph execution (engine/). */
#ifndef PRUNESCOPE_KERNELS_OPS_H
#define PRUNESCOPE_KERNELS_OPS_H

#include <stddef.h>

#include "kernels/op.h"

/* The op for an ONNX op type in the default domain, or NULL. */
const struct op_def *ops_find(const char *op_type);
size_t ops_count(void);
const struct op_def *ops_at(size_t i);
/* Comma-separated sorted list of supported op types into buf; returns buf. */
char *ops_supported_list(char *buf, size_t size);

/* Use one BLAS thread per caller: prunescope parallelizes over rows itself. */
void ops_blas_single_thread(void);

#endif
