/* Gemm: Y = alpha * A' * B' + beta * C through CBLAS, with C broadcast to [M, N].
 * Not for batched products (op_matmul.c). */
#include <stdlib.h>
#include <string.h>

#include "kernels/blas.h"
#include "kernels/op.h"
#include "kernels/sparse.h"

/* The kernel a constant B (A not transposed) runs with: dense, CSR or block-sparse. */
static enum sparse_kernel gemm_kernel(const struct op_io *io)
{
    const struct tensor *b = io->in[1];
    if (!b->data || b->shape.ndim != 2 || node_attr_int(io->node, "transA", 0) != 0)
        return SPARSE_DENSE;
    bool tb = node_attr_int(io->node, "transB", 0) != 0;
    size_t r = (size_t)b->shape.dims[0], c = (size_t)b->shape.dims[1];
    return tb ? sparse_choose(tensor_f32(b), r, c, c, 1) : sparse_choose(tensor_f32(b), c, r, 1, c);
}

/* What prepare makes: one sparse copy of B. */
struct gemm_sparse {
    enum sparse_kernel kind;
    struct csr *csr;
    struct bsr *bsr;
};

static int gemm_shape(struct op_io *io, struct err *err)
{
    if (op_check_arity(io, 2, 3, err) < 0)
        return -1;
    for (int i = 0; i < io->n_in; i++)
        if (op_has_in(io, i) && op_check_input(io, i, DTYPE_FLOAT, err) < 0)
            return -1;
    const struct shape *a = &io->in[0]->shape, *b = &io->in[1]->shape;
    if (a->ndim != 2 || b->ndim != 2) {
        char sa[96], sb[96];
        return op_fail(io, err, "A and B must be 2-D, got %s and %s",
                       shape_format(a, sa, sizeof sa), shape_format(b, sb, sizeof sb));
    }
    int ta = node_attr_int(io->node, "transA", 0) != 0;
    int tb = node_attr_int(io->node, "transB", 0) != 0;
    int64_t m = ta ? a->dims[1] : a->dims[0], ka = ta ? a->dims[0] : a->dims[1];
    int64_t kb = tb ? b->dims[1] : b->dims[0], n = tb ? b->dims[0] : b->dims[1];
    if (ka != kb) {
        char sa[96], sb[96];
        return op_fail(io, err, "inner dimensions differ: A%s%s has K=%lld, B%s%s has K=%lld",
                       shape_format(a, sa, sizeof sa), ta ? "ᵀ" : "", (long long)ka,
                       shape_format(b, sb, sizeof sb), tb ? "ᵀ" : "", (long long)kb);
    }
    struct shape out = {.ndim = 2, .dims = {m, n}};
    if (op_has_in(io, 2)) {
        struct shape bc;
        if (op_broadcast_shape(&out, &io->in[2]->shape, &bc) < 0 || !shape_equal(&bc, &out)) {
            char sc[96], so[96];
            return op_fail(io, err, "C of shape %s does not broadcast to the output %s",
                           shape_format(&io->in[2]->shape, sc, sizeof sc),
                           shape_format(&out, so, sizeof so));
        }
    }
    op_set_out(io, 0, DTYPE_FLOAT, &out);
    if (gemm_kernel(io) != SPARSE_DENSE)
        io->scratch_bytes = (size_t)ka * CSR_TILE * sizeof(float);
    return 0;
}

static void gemm_release(void *prepared)
{
    struct gemm_sparse *g = prepared;
    if (!g)
        return;
    csr_free(g->csr);
    bsr_free(g->bsr);
    free(g);
}

static int gemm_prepare(const struct op_io *io, void **out, struct err *err)
{
    *out = NULL;
    enum sparse_kernel k = gemm_kernel(io);
    if (k == SPARSE_DENSE)
        return 0;
    const struct tensor *b = io->in[1];
    bool tb = node_attr_int(io->node, "transB", 0) != 0;
    size_t r = (size_t)b->shape.dims[0], c = (size_t)b->shape.dims[1];
    /* Units are the output columns: rows of B when transposed, else its columns. */
    size_t units = tb ? r : c, inputs = tb ? c : r, us = tb ? c : 1, is = tb ? 1 : c;
    struct gemm_sparse *g = calloc(1, sizeof *g);
    if (!g)
        return err_oom(err, "sparse weights", sizeof *g);
    g->kind = k;
    if (k == SPARSE_CSR)
        g->csr = csr_from_dense(tensor_f32(b), units, inputs, us, is, err);
    else
        g->bsr =
            bsr_from_dense(tensor_f32(b), units, inputs, us, is, k == SPARSE_BSR4 ? 4 : 1, err);
    if (!g->csr && !g->bsr) {
        free(g);
        return -1;
    }
    *out = g;
    return 0;
}

/* Writes beta * C broadcast over [m, n] into y. */
static void fill_bias(float *y, const struct tensor *c, int64_t m, int64_t n, float beta)
{
    const float *cv = tensor_f32(c);
    const struct shape *s = &c->shape;
    int64_t cr = 1, cc = 1;
    if (s->ndim == 1) {
        cc = s->dims[0];
    } else if (s->ndim == 2) {
        cr = s->dims[0];
        cc = s->dims[1];
    }
    for (int64_t i = 0; i < m; i++) {
        const float *row = cv + (cr == 1 ? 0 : i) * cc;
        float *yr = y + i * n;
        if (cc == 1) {
            for (int64_t j = 0; j < n; j++)
                yr[j] = beta * row[0];
        } else if (beta == 1.0f) {
            memcpy(yr, row, (size_t)n * sizeof *yr);
        } else {
            for (int64_t j = 0; j < n; j++)
                yr[j] = beta * row[j];
        }
    }
}

static int gemm_run(struct op_io *io, struct err *err)
{
    const struct tensor *a = io->in[0], *b = io->in[1];
    int ta = node_attr_int(io->node, "transA", 0) != 0;
    int tb = node_attr_int(io->node, "transB", 0) != 0;
    float alpha = node_attr_float(io->node, "alpha", 1.0f);
    float beta = node_attr_float(io->node, "beta", 1.0f);
    float *y = tensor_f32(io->out[0]);
    int64_t m = io->out[0]->shape.dims[0], n = io->out[0]->shape.dims[1];
    int64_t k = ta ? a->shape.dims[0] : a->shape.dims[1];
    float blas_beta = 0.0f;
    if (op_has_in(io, 2) && beta != 0.0f) {
        fill_bias(y, io->in[2], m, n, beta);
        blas_beta = 1.0f;
    }
    if (m == 0 || n == 0)
        return 0;
    if (io->prepared) {
        const struct gemm_sparse *g = io->prepared;
        if (g->csr)
            csr_gemm(g->csr, tensor_f32(a), (size_t)m, (size_t)a->shape.dims[1], alpha, y,
                     (size_t)n, blas_beta != 0.0f, io->scratch);
        else
            bsr_gemm(g->bsr, tensor_f32(a), (size_t)m, (size_t)a->shape.dims[1], alpha, y,
                     (size_t)n, blas_beta != 0.0f, io->scratch);
        return 0;
    }
    if (k == 0) {
        if (blas_beta == 0.0f)
            memset(y, 0, (size_t)(m * n) * sizeof *y);
        return 0;
    }
    blas_sgemm(ta, tb, (int)m, (int)n, (int)k, alpha, tensor_f32(a), (int)a->shape.dims[1],
               tensor_f32(b), (int)b->shape.dims[1], blas_beta, y, (int)n);
    return 0;
}

/* Y = alpha A B' + beta C with A not transposed: dA = alpha dY op(B)^T, dB from alpha
 * A^T dY (laid out as B is), dC = beta dY summed over C's broadcast dims. */
static int gemm_backward(const struct op_io *io, const struct tensor *const *dout,
                         struct tensor *const *din, struct err *err)
{
    if (node_attr_int(io->node, "transA", 0) != 0)
        return op_unsupported(io, err, "the gradient of Gemm with transA = 1");
    const struct tensor *a = io->in[0], *b = io->in[1];
    int tb = node_attr_int(io->node, "transB", 0) != 0;
    float alpha = node_attr_float(io->node, "alpha", 1.0f);
    float beta = node_attr_float(io->node, "beta", 1.0f);
    const float *dy = tensor_f32(dout[0]);
    int m = (int)io->out[0]->shape.dims[0], n = (int)io->out[0]->shape.dims[1];
    int k = (int)a->shape.dims[1];
    if (m == 0 || n == 0 || k == 0)
        return 0;
    if (din[0]) /* dA[m,k] += alpha dY[m,n] op(B)^T: B [n,k] as is, or B [k,n] transposed */
        blas_sgemm(false, !tb, m, k, n, alpha, dy, n, tensor_f32(b), tb ? k : n, 1.0f,
                   tensor_f32(din[0]), k);
    if (din[1]) {
        if (tb) /* dB[n,k] += alpha dY^T A */
            blas_sgemm(true, false, n, k, m, alpha, dy, n, tensor_f32(a), k, 1.0f,
                       tensor_f32(din[1]), k);
        else /* dB[k,n] += alpha A^T dY */
            blas_sgemm(true, false, k, n, m, alpha, tensor_f32(a), k, dy, n, 1.0f,
                       tensor_f32(din[1]), n);
    }
    if (op_has_in(io, 2) && io->n_in > 2 && din[2]) {
        const struct shape *cs = &io->in[2]->shape;
        int64_t cr = cs->ndim == 2 ? cs->dims[0] : 1;
        int64_t cc = cs->ndim >= 1 ? cs->dims[cs->ndim - 1] : 1;
        float *dc = tensor_f32(din[2]);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                dc[(cr == 1 ? 0 : i) * cc + (cc == 1 ? 0 : j)] += beta * dy[i * n + j];
    }
    return 0;
}

static double gemm_macs(const struct op_io *io)
{
    const struct shape *a = &io->in[0]->shape;
    int ta = node_attr_int(io->node, "transA", 0) != 0;
    double k = (double)(ta ? a->dims[0] : a->dims[1]);
    return (double)shape_numel(&io->out[0]->shape) * k;
}

const struct op_def op_gemm = {.name = "Gemm",
                               .shape = gemm_shape,
                               .run = gemm_run,
                               .macs = gemm_macs,
                               .prepare = gemm_prepare,
                               .release = gemm_release,
                               .backward = gemm_backward};
