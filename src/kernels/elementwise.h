/* The loops of float element-wise ops, shared by the op files: a run y[i] = f(x[i]) and a
 * backward dx[i] += dy[i] * f'(x[i], y[i]). Not the ops' shape checks (each op file's). */
#ifndef PRUNESCOPE_KERNELS_ELEMENTWISE_H
#define PRUNESCOPE_KERNELS_ELEMENTWISE_H

#include "kernels/op.h"

/* NAME_run: PREP once (attributes), then y[i] = EXPR of v = x[i]. */
#define DEFINE_FLOAT_RUN(NAME, PREP, EXPR)                                                         \
    static int NAME##_run(struct op_io *io, struct err *err)                                       \
    {                                                                                              \
        (void)err;                                                                                 \
        const float *restrict x = tensor_f32(io->in[0]);                                           \
        float *restrict y = tensor_f32(io->out[0]);                                                \
        size_t n = tensor_numel(io->in[0]);                                                        \
        PREP;                                                                                      \
        for (size_t i = 0; i < n; i++) {                                                           \
            float v = x[i];                                                                        \
            y[i] = EXPR;                                                                           \
        }                                                                                          \
        return 0;                                                                                  \
    }

/* NAME_backward: din += dout * DERIV of v = x[i] (the input) and o = y[i] (the output);
 * integer inputs have no gradient. */
#define DEFINE_FLOAT_BACKWARD(NAME, PREP, DERIV)                                                   \
    static int NAME##_backward(const struct op_io *io, const struct tensor *const *dout,           \
                               struct tensor *const *din, struct err *err)                         \
    {                                                                                              \
        if (!din[0])                                                                               \
            return 0;                                                                              \
        if (io->in[0]->dtype != DTYPE_FLOAT)                                                       \
            return op_unsupported(io, err, "the gradient of %s integers", io->node->op_type);      \
        const float *x = tensor_f32(io->in[0]), *y = tensor_f32(io->out[0]);                       \
        const float *dy = tensor_f32(dout[0]);                                                     \
        float *dx = tensor_f32(din[0]);                                                            \
        size_t n = tensor_numel(io->in[0]);                                                        \
        PREP;                                                                                      \
        for (size_t i = 0; i < n; i++) {                                                           \
            float v = x[i], o = y[i];                                                              \
            (void)v, (void)o;                                                                      \
            dx[i] += dy[i] * (DERIV);                                                              \
        }                                                                                          \
        return 0;                                                                                  \
    }

#endif
