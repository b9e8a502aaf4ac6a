/* Reading ONNX files (ModelProto, TensorProto) into the graph IR, with protobuf-c.
 * Not for checking that ops are supported or inferring shapes (engine/ does that). */
#ifndef PRUNESCOPE_MODEL_ONNX_READER_H
#define PRUNESCOPE_MODEL_ONNX_READER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/tensor.h"
#include "model/graph.h"

/* Load a model file. NULL with err set ("PATH: what is wrong") for a missing, empty,
 * truncated, corrupt or non-ONNX file, an initializer whose data disagrees with its shape,
 * an unsupported element type, or a graph that reads or outputs values nobody produces.
 * The graph's nodes come back topologically sorted. */
struct graph *onnx_read_model_file(const char *path, struct err *err);

/* Same from memory; label names the source in messages. */
struct graph *onnx_read_model(const uint8_t *buf, size_t len, const char *label, struct err *err);

/* Load a serialized TensorProto (.pb). *name_out (may be NULL) receives a malloc'd copy of
 * the tensor's name; *elem_type_out (may be NULL) the declared ONNX element type. Tensors of
 * element types other than float32/float64/int32/int64 (and the small integer types) fail. */
struct tensor *onnx_read_tensor_file(const char *path, char **name_out, int *elem_type_out,
                                     struct err *err);

/* ONNX's name for an element type code ("FLOAT", "INT8", ...). */
const char *onnx_elem_type_name(int elem_type);

/* Read a whole file into memory (malloc'd). NULL with err naming the path on failure. */
uint8_t *onnx_slurp(const char *path, size_t *len_out, struct err *err);

#endif
