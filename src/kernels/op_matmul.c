/* MatMul with numpy semantics: 1-D operands promoted, batch dimensions broadcast, one CBLAS
 * call when B is a plain matrix. Not for Gemm's alpha/beta/bias (op_gemm.c). */
#include <string.h>

#include "kernels/blas.h"
#include "kernels/op.h"

/* The operands viewed as batches of matrices after 1-D promotion. */
struct mm_dims {
    struct shape batch; /* broadcast batch shape */
    struct shape a_batch, b_batch;
    int64_t m, k, n;
};

static int mm_plan(const struct shape *a, const struct shape *b, struct mm_dims *d,
                   struct shape *out)
{
    if (a->ndim < 1 || b->ndim < 1)
        return -1;
    int64_t ka, kb;
    d->m = a->ndim == 1 ? 1 : a->dims[a->ndim - 2];
    ka = a->dims[a->ndim - 1];
    kb = b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2];
    d->n = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
    if (ka != kb)
        return -2;
    d->k = ka;
    d->a_batch = shape_make(a->ndim > 2 ? a->ndim - 2 : 0, a->dims);
    d->b_batch = shape_make(b->ndim > 2 ? b->ndim - 2 : 0, b->dims);
    if (op_broadcast_shape(&d->a_batch, &d->b_batch, &d->batch) < 0)
        return -3;
    *out = d->batch;
    if (a->ndim > 1)
        out->dims[out->ndim++] = d->m;
    if (b->ndim > 1)
        out->dims[out->ndim++] = d->n;
    return 0;
}

static int matmul_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 2, err) < 0 || op_check_input(io, 0, DTYPE_FLOAT, err) < 0 ||
        op_check_input(io, 1, DTYPE_FLOAT, err) < 0)
        return -1;
    struct mm_dims d;
    struct shape out;
    int rc = mm_plan(&io->in[0]->shape, &io->in[1]->shape, &d, &out);
    if (rc < 0) {
        char sa[96], sb[96];
        shape_format(&io->in[0]->shape, sa, sizeof sa);
        shape_format(&io->in[1]->shape, sb, sizeof sb);
        if (rc == -1)
            return op_fail(io, err, "operands must have rank >= 1, got %s and %s", sa, sb);
        if (rc == -2)
            return op_fail(io, err, "inner dimensions of %s and %s differ", sa, sb);
        return op_fail(io, err, "batch dimensions of %s and %s cannot be broadcast", sa, sb);
    }
    if (out.ndim > TENSOR_MAX_DIMS)
        return op_fail(io, err, "result rank exceeds %d", TENSOR_MAX_DIMS);
    op_set_out(io, 0, DTYPE_FLOAT, &out);
    return 0;
}

/* Offset of the matrix at broadcast batch index `flat` inside an operand whose own batch
 * shape is `own` (right-aligned against `full`). */
static size_t batch_offset(const struct shape *full, const struct shape *own, size_t flat,
                           size_t matrix_elems)
{
    size_t off = 0, stride = 1;
    for (int i = full->ndim - 1; i >= 0; i--) {
        size_t idx = flat % (size_t)full->dims[i];
        flat /= (size_t)full->dims[i];
        int j = i - (full->ndim - own->ndim);
        if (j >= 0) {
            size_t dim = (size_t)own->dims[j];
            if (dim != 1)
                off += idx * stride;
            stride *= dim;
        }
    }
    return off * matrix_elems;
}

static int matmul_run(struct op_io *io, struct err *err)
{
    const struct tensor *a = io->in[0], *b = io->in[1];
    struct mm_dims d;
    struct shape out;
    mm_plan(&a->shape, &b->shape, &d, &out);
    float *y = tensor_f32(io->out[0]);
    if (tensor_numel(io->out[0]) == 0)
        return 0;
    if (d.k == 0) {
        memset(y, 0, tensor_bytes(io->out[0]));
        return 0;
    }
    size_t nbatch = shape_numel(&d.batch);
    /* B shared by every batch and A contiguous: one product of [batch*m, k] x [k, n]. */
    if (shape_numel(&d.b_batch) == 1 && shape_numel(&d.a_batch) == nbatch) {
        int64_t rows = (int64_t)nbatch * d.m;
        blas_sgemm(false, false, (int)rows, (int)d.n, (int)d.k, 1.0f, tensor_f32(a), (int)d.k,
                   tensor_f32(b), (int)d.n, 0.0f, y, (int)d.n);
        return 0;
    }
    for (size_t i = 0; i < nbatch; i++) {
        const float *am =
            tensor_f32(a) + batch_offset(&d.batch, &d.a_batch, i, (size_t)(d.m * d.k));
        const float *bm =
            tensor_f32(b) + batch_offset(&d.batch, &d.b_batch, i, (size_t)(d.k * d.n));
        blas_sgemm(false, false, (int)d.m, (int)d.n, (int)d.k, 1.0f, am, (int)d.k, bm, (int)d.n,
                   0.0f, y + i * (size_t)(d.m * d.n), (int)d.n);
    }
    return 0;
}

static double matmul_macs(const struct op_io *io)
{
    const struct shape *a = &io->in[0]->shape;
    return (double)shape_numel(&io->out[0]->shape) * (double)a->dims[a->ndim - 1];
}

/* The common case of a 2-D B shared by every row of A: with A seen as [rows, k],
 * dA = dY B^T and dB = A^T dY. Other layouts have no backward yet. */
static int matmul_backward(const struct op_io *io, const struct tensor *const *dout,
                           struct tensor *const *din, struct err *err)
{
    const struct tensor *a = io->in[0], *b = io->in[1];
    struct mm_dims d;
    struct shape out;
    mm_plan(&a->shape, &b->shape, &d, &out);
    size_t nbatch = shape_numel(&d.batch);
    if (b->shape.ndim != 2 || shape_numel(&d.a_batch) != nbatch || a->shape.ndim < 2)
        return op_unsupported(io, err, "the gradient of a batched MatMul with a batched B");
    int rows = (int)(nbatch * (size_t)d.m), k = (int)d.k, n = (int)d.n;
    const float *dy = tensor_f32(dout[0]);
    if (rows == 0 || k == 0 || n == 0)
        return 0;
    if (din[0])
        blas_sgemm(false, true, rows, k, n, 1.0f, dy, n, tensor_f32(b), n, 1.0f, tensor_f32(din[0]),
                   k);
    if (din[1])
        blas_sgemm(true, false, k, n, rows, 1.0f, tensor_f32(a), k, dy, n, 1.0f, tensor_f32(din[1]),
                   n);
    return 0;
}

const struct op_def op_matmul = {.name = "MatMul",
                                 .shape = matmul_shape,
                                 .run = matmul_run,
                                 .macs = matmul_macs,
                                 .backward = matmul_backward};
