/* reconstruct.h: the unfolded inputs of a chunk of rows go through cblas_dgemm into the
 * two sums; each unit's kept block of them is solved with dposv (Cholesky). */
#include "analysis/reconstruct.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK's Cholesky solver, from OpenBLAS (no LAPACKE header needed). */
extern void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda,
                   double *b, const int *ldb, int *info);

int recon_geom_of(const struct graph *g, const struct layer *l, const struct shape *in_row,
                  struct recon_geom *out, struct err *err)
{
    memset(out, 0, sizeof *out);
    const struct node *nd = &g->nodes[l->node];
    struct weight_view v;
    if (prune_view(g, l, &v, err) < 0)
        return -1;
    out->k = out->kfull = v.inputs;
    out->groups = 1;
    out->in_numel = 1;
    for (int d = 0; d < in_row->ndim; d++)
        out->in_numel *= (size_t)in_row->dims[d];
    if (strcmp(l->op, "Conv") != 0) {
        if (strcmp(l->op, "Gemm") == 0 && node_attr_int(nd, "transA", 0) != 0)
            return err_set(err, "layer '%s': a Gemm with transA is not reconstructed", l->name);
        if (out->in_numel % out->k != 0)
            return err_set(err, "layer '%s': its input (%zu per row) is not rows of %zu", l->name,
                           out->in_numel, out->k);
        return 0;
    }
    out->groups = node_attr_int(nd, "group", 1);
    if (in_row->ndim != 3 || l->shape.ndim != 4)
        return err_set(err, "layer '%s': only 2-D convolutions are reconstructed", l->name);
    size_t n;
    const int64_t *s = node_attr_ints(nd, "strides", &n), *dl = node_attr_ints(nd, "dilations", &n);
    size_t np;
    const int64_t *p = node_attr_ints(nd, "pads", &np);
    const char *autopad = node_attr_string(nd, "auto_pad", "NOTSET");
    if (strcmp(autopad, "NOTSET") != 0 && strcmp(autopad, "VALID") != 0)
        return err_set(err, "layer '%s': auto_pad %s is not reconstructed", l->name, autopad);
    out->conv = true;
    out->c = in_row->dims[0], out->h = in_row->dims[1], out->w = in_row->dims[2];
    out->kh = l->shape.dims[2], out->kw = l->shape.dims[3];
    out->sh = s ? s[0] : 1, out->sw = s ? s[1] : 1;
    out->dh = dl ? dl[0] : 1, out->dw = dl ? dl[1] : 1;
    out->pt = p && np == 4 ? p[0] : 0, out->pl = p && np == 4 ? p[1] : 0;
    int64_t pb = p && np == 4 ? p[2] : 0, pr = p && np == 4 ? p[3] : 0;
    out->oh = (out->h + out->pt + pb - out->dh * (out->kh - 1) - 1) / out->sh + 1;
    out->ow = (out->w + out->pl + pr - out->dw * (out->kw - 1) - 1) / out->sw + 1;
    out->kfull = (size_t)(out->c * out->kh * out->kw);
    if (out->oh <= 0 || out->ow <= 0 || out->groups < 1 ||
        out->kfull != out->k * (size_t)out->groups)
        return err_set(err, "layer '%s': its windows do not fit its input", l->name);
    return 0;
}

int recon_stats_init(struct recon_stats *st, size_t k, struct err *err)
{
    st->k = k;
    st->samples = 0;
    st->xx = calloc(k * k + 1, sizeof *st->xx);
    st->xd = calloc(k * k + 1, sizeof *st->xd);
    if (!st->xx || !st->xd) {
        recon_stats_fini(st);
        return err_oom(err, "reconstruction", 2 * k * k * sizeof *st->xx);
    }
    return 0;
}

void recon_stats_fini(struct recon_stats *st)
{
    free(st->xx);
    free(st->xd);
    st->xx = st->xd = NULL;
}

/* One row's samples as a matrix, samples x k, in double: the row itself (in_numel / k
 * samples) or its unfolded windows (one per output position). */
static void unfold(const struct recon_geom *gm, const float *x, double *out)
{
    if (!gm->conv) {
        for (size_t i = 0; i < gm->in_numel; i++)
            out[i] = x[i];
        return;
    }
    size_t r = 0;
    for (int64_t oy = 0; oy < gm->oh; oy++)
        for (int64_t ox = 0; ox < gm->ow; ox++, r++) {
            double *dst = out + r * gm->kfull;
            size_t j = 0;
            for (int64_t c = 0; c < gm->c; c++)
                for (int64_t ky = 0; ky < gm->kh; ky++)
                    for (int64_t kx = 0; kx < gm->kw; kx++, j++) {
                        int64_t y = oy * gm->sh - gm->pt + ky * gm->dh;
                        int64_t xx = ox * gm->sw - gm->pl + kx * gm->dw;
                        dst[j] = y < 0 || y >= gm->h || xx < 0 || xx >= gm->w
                                     ? 0.0
                                     : x[(c * gm->h + y) * gm->w + xx];
                    }
        }
}

int recon_accumulate(struct recon_stats *st, const struct recon_geom *gm, const float *x,
                     const float *xd, size_t rows, struct err *err)
{
    size_t per = gm->conv ? (size_t)(gm->oh * gm->ow) : gm->in_numel / gm->k;
    size_t k = st->k;
    double *a = malloc((per * k + 1) * sizeof *a), *b = malloc((per * k + 1) * sizeof *b);
    if (!a || !b) {
        free(a), free(b);
        return err_oom(err, "reconstruction", 2 * per * k * sizeof *a);
    }
    for (size_t r = 0; r < rows; r++) {
        unfold(gm, x + r * gm->in_numel, a);
        unfold(gm, xd + r * gm->in_numel, b);
        /* xx += a^T a, xd += a^T b (k x k, row-major) */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)k, (int)per, 1.0, a,
                    (int)k, a, (int)k, 1.0, st->xx, (int)k);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)k, (int)per, 1.0, a,
                    (int)k, b, (int)k, 1.0, st->xd, (int)k);
        st->samples += per;
    }
    free(a), free(b);
    return 0;
}

int recon_input_sq(const struct recon_geom *gm, const float *x, size_t rows, double *sq,
                   struct err *err)
{
    size_t per = gm->conv ? (size_t)(gm->oh * gm->ow) : gm->in_numel / gm->k, k = gm->kfull;
    double *a = malloc((per * k + 1) * sizeof *a);
    if (!a)
        return err_oom(err, "input norms", per * k * sizeof *a);
    for (size_t r = 0; r < rows; r++) {
        unfold(gm, x + r * gm->in_numel, a);
        for (size_t p = 0; p < per; p++)
            for (size_t j = 0; j < k; j++)
                sq[j] += a[p * k + j] * a[p * k + j];
    }
    free(a);
    return 0;
}

int recon_solve(const struct recon_stats *st, const struct weight_view *v, const float *w_dense,
                float *w, double damp, size_t *skipped, struct err *err)
{
    size_t k = st->k;
    double diag = 0;
    for (size_t i = 0; i < k; i++)
        diag += st->xx[i * k + i];
    diag /= (double)(k ? k : 1);
    double lambda = damp * diag + 1e-12;
    size_t *keep = malloc((k + 1) * sizeof *keep);
    double *a = malloc((k * k + 1) * sizeof *a), *rhs = malloc((k + 1) * sizeof *rhs);
    double *full = malloc((k + 1) * sizeof *full);
    if (!keep || !a || !rhs || !full) {
        free(keep), free(a), free(rhs), free(full);
        return err_oom(err, "reconstruction", k * k * sizeof *a);
    }
    *skipped = 0;
    for (size_t u = 0; u < v->units; u++) {
        size_t n = 0;
        for (size_t i = 0; i < v->inputs; i++)
            if (w[u * v->unit_stride + i * v->in_stride] != 0.0f)
                keep[n++] = i;
        if (n == 0)
            continue;
        /* X^T X_d w_dense: what the dense unit's output correlates with, per input. */
        for (size_t i = 0; i < k; i++) {
            double s = 0;
            for (size_t j = 0; j < k; j++)
                s += st->xd[i * k + j] * (double)w_dense[u * v->unit_stride + j * v->in_stride];
            full[i] = s;
        }
        for (size_t p = 0; p < n; p++) {
            for (size_t q = 0; q < n; q++)
                a[p * n + q] = st->xx[keep[p] * k + keep[q]];
            a[p * n + p] += lambda;
            rhs[p] = full[keep[p]];
        }
        int nn = (int)n, one = 1, info = 0;
        dposv_("U", &nn, &one, a, &nn, rhs, &nn, &info);
        if (info != 0) {
            (*skipped)++;
            continue;
        }
        for (size_t p = 0; p < n; p++) {
            float x = (float)rhs[p];
            /* A kept weight stays non-zero, so that the mask is what it was. */
            w[u * v->unit_stride + keep[p] * v->in_stride] = x != 0.0f ? x : FLT_MIN;
        }
    }
    free(keep), free(a), free(rhs), free(full);
    return 0;
}
