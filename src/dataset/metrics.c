/* Accuracy, top-k, cross-entropy, binary and regression metrics of model outputs against a
 * dataset's labels. Not running the model. */
#include "dataset/metrics.h"

#include "config.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(HAVE_LIBMVEC) && defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define METRICS_MVEC 1
/* glibc's libmvec: exp and log of 4 doubles (AVX2), within 4 ulp of exp and log. They take
 * and return their vectors in ymm registers, so they are declared with the same target as
 * their caller: clang refuses an AVX vector passed across a function without AVX. */
__attribute__((target("avx2,fma"))) __m256d _ZGVdN4v_exp(__m256d x);

__attribute__((target("avx2,fma"))) __m256d _ZGVdN4v_log(__m256d x);

__attribute__((target("avx2,fma"))) static void exp_avx2(double *x, size_t n, bool log_instead)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d v = _mm256_loadu_pd(x + i);
        _mm256_storeu_pd(x + i, log_instead ? _ZGVdN4v_log(v) : _ZGVdN4v_exp(v));
    }
    for (; i < n; i++)
        x[i] = log_instead ? log(x[i]) : exp(x[i]);
}

static pthread_once_t simd_once = PTHREAD_ONCE_INIT;
static bool simd_avx2;

/* Whether to use the AVX2 functions: the CPU has them and PRUNESCOPE_SIMD is not 0. Once,
 * as metrics run on several threads at a time. */
static void simd_check(void)
{
    const char *env = getenv("PRUNESCOPE_SIMD");
    __builtin_cpu_init();
    simd_avx2 = !(env && strcmp(env, "0") == 0) && __builtin_cpu_supports("avx2") &&
                __builtin_cpu_supports("fma");
}
#endif

/* x[i] = exp(x[i]) (or log) for n doubles: four at a time with libmvec when the CPU has
 * AVX2 (the softmax of a whole evaluation costs about as much as a small model's run
 * otherwise). */
static void exp_all(double *x, size_t n, bool log_instead)
{
#ifdef METRICS_MVEC
    pthread_once(&simd_once, simd_check);
    if (simd_avx2) {
        exp_avx2(x, n, log_instead);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        x[i] = log_instead ? log(x[i]) : exp(x[i]);
}

/* -log p for the true class of one row given probabilities or log-probabilities. */
static double row_nll(const float *o, size_t label, enum output_kind kind)
{
    if (kind == OUTPUT_LOGPROBS)
        return -(double)o[label];
    double p = o[label];
    return -log(p > FLT_MIN ? p : FLT_MIN);
}

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static bool binary_labels(const struct dataset *d)
{
    if (d->kind != LABEL_CLASS || d->class_names)
        return false;
    for (size_t i = 0; i < d->rows; i++)
        if (d->labels[i] != 0 && d->labels[i] != 1)
            return false;
    return true;
}

int metrics_compute(const float *out, size_t rows, size_t n_out, enum output_kind kind,
                    const struct dataset *d, int top_k, struct metrics *m, struct err *err)
{
    memset(m, 0, sizeof *m);
    if (rows != d->rows)
        return err_set(err, "the model produced %zu rows of output for %zu rows of data", rows,
                       d->rows);
    if (rows == 0)
        return err_set(err, "no rows to evaluate");
    if (n_out == 0)
        return err_set(err, "the model's output has no values per row");
    if (top_k < 0 || (size_t)top_k > n_out)
        return err_set(err, "top-%d accuracy needs at least %d outputs; the model has %zu", top_k,
                       top_k, n_out);
    m->rows = rows;
    m->top_k = top_k;
    if (n_out == 1 && binary_labels(d)) {
        m->task = TASK_BINARY;
        double loss = 0.0;
        for (size_t i = 0; i < rows; i++) {
            double p = kind == OUTPUT_PROBS ? (double)out[i] : sigmoid((double)out[i]);
            bool positive = p >= 0.5;
            m->correct += positive == (d->labels[i] == 1);
            double q = d->labels[i] == 1 ? p : 1.0 - p;
            loss += -log(q > FLT_MIN ? q : FLT_MIN);
        }
        m->correct_k = m->correct;
        m->loss = loss / (double)rows;
    } else if (n_out == 1) {
        m->task = TASK_REGRESS;
        double se = 0.0, ae = 0.0;
        for (size_t i = 0; i < rows; i++) {
            double y = d->kind == LABEL_VALUE ? (double)d->values[i] : (double)d->labels[i];
            double e = (double)out[i] - y;
            se += e * e;
            ae += fabs(e);
        }
        m->mse = se / (double)rows;
        m->mae = ae / (double)rows;
        m->loss = m->mse;
        return 0;
    } else {
        if (d->kind != LABEL_CLASS)
            return err_set(err,
                           "regression labels need a model with one output, this one has "
                           "%zu",
                           n_out);
        m->task = TASK_CLASSIFY;
        /* Rows in blocks, so the exponentials and logarithms of the softmax go through
         * the vector functions many at a time. */
        enum { BLOCK = 64 };
        double loss = 0.0, lse[BLOCK], shift[BLOCK];
        float top[BLOCK];
        unsigned arg[BLOCK];
        bool logits = kind != OUTPUT_LOGPROBS && kind != OUTPUT_PROBS;
        double *z = malloc(BLOCK * n_out * sizeof *z);
        if (!z)
            return err_oom(err, "metrics", BLOCK * n_out * sizeof *z);
        for (size_t i0 = 0; i0 < rows; i0 += BLOCK) {
            size_t nb = rows - i0 < BLOCK ? rows - i0 : BLOCK;
            /* Row maxima and their places without branches, the rows of a block side by
             * side: a branch per value, or one chain of dependent operations per row,
             * costs more than the rest of the row. */
            for (size_t r = 0; r < nb; r++) {
                top[r] = out[(i0 + r) * n_out];
                arg[r] = 0;
            }
            for (size_t k = 1; k < n_out; k++)
                for (size_t r = 0; r < nb; r++) {
                    float v = out[(i0 + r) * n_out + k];
                    unsigned more = -(unsigned)(v > top[r]); /* all ones or zero */
                    arg[r] ^= (arg[r] ^ (unsigned)k) & more;
                    top[r] = v > top[r] ? v : top[r];
                }
            for (size_t r = 0; r < nb; r++) {
                size_t i = i0 + r;
                const float *o = out + i * n_out;
                size_t label = (size_t)d->labels[i];
                if (label >= n_out) {
                    free(z);
                    return err_set(err,
                                   "%s:%zu: the label %zu is out of range for a model with "
                                   "%zu outputs",
                                   d->path, d->row_line[i], label, n_out);
                }
                /* Argmax with ties to the lowest index (a NaN first value wins, as no
                 * value compares larger). */
                float max = top[r];
                size_t best = arg[r];
                m->correct += best == label;
                if (top_k > 0) {
                    /* The rank of the label: outputs larger, or equal at a lower index. */
                    size_t rank = 0;
                    for (size_t k = 0; k < n_out; k++)
                        rank += o[k] > o[label] || (o[k] == o[label] && k < label);
                    m->correct_k += rank < (size_t)top_k;
                }
                if (!logits) {
                    loss += row_nll(o, label, kind);
                    continue;
                }
                /* log-softmax = (o - max) - log(sum(exp(o - max))), in double. */
                for (size_t k = 0; k < n_out; k++)
                    z[r * n_out + k] = (double)o[k] - (double)max;
                shift[r] = (double)o[label] - (double)max;
            }
            if (!logits)
                continue;
            exp_all(z, nb * n_out, false);
            for (size_t r = 0; r < nb; r++)
                lse[r] = 0.0;
            for (size_t k = 0; k < n_out; k++)
                for (size_t r = 0; r < nb; r++)
                    lse[r] += z[r * n_out + k];
            exp_all(lse, nb, true);
            for (size_t r = 0; r < nb; r++)
                loss += lse[r] - shift[r];
        }
        free(z);
        m->loss = loss / (double)rows;
    }
    m->accuracy = (double)m->correct / (double)rows;
    m->accuracy_k = (double)m->correct_k / (double)rows;
    return 0;
}

int metrics_loss_gradient(const float *out, size_t rows, size_t n_out, enum output_kind kind,
                          const struct dataset *d, size_t row0, size_t total_rows, float *dout,
                          struct err *err)
{
    if (row0 + rows > d->rows || total_rows == 0)
        return err_set(err, "rows %zu to %zu are outside the data's %zu", row0, row0 + rows,
                       d->rows);
    double inv = 1.0 / (double)total_rows;
    memset(dout, 0, rows * n_out * sizeof *dout);
    bool binary = n_out == 1 && binary_labels(d);
    for (size_t i = 0; i < rows; i++) {
        const float *o = out + i * n_out;
        float *g = dout + i * n_out;
        size_t r = row0 + i;
        if (binary) {
            /* Mean binary cross-entropy: through a sigmoid for logits. */
            double y = (double)d->labels[r], p;
            if (kind == OUTPUT_PROBS) {
                p = o[0] > FLT_MIN ? (double)o[0] : FLT_MIN;
                double q = 1.0 - p > FLT_MIN ? 1.0 - p : FLT_MIN;
                g[0] = (float)(inv * (y > 0.5 ? -1.0 / p : 1.0 / q));
            } else {
                p = sigmoid((double)o[0]);
                g[0] = (float)(inv * (p - y));
            }
        } else if (n_out == 1) {
            double y = d->kind == LABEL_VALUE ? (double)d->values[r] : (double)d->labels[r];
            g[0] = (float)(inv * 2.0 * ((double)o[0] - y)); /* mean squared error */
        } else {
            if (d->kind != LABEL_CLASS)
                return err_set(err, "regression labels need a model with one output");
            size_t label = (size_t)d->labels[r];
            if (label >= n_out)
                return err_set(err, "%s:%zu: the label %zu is out of range for %zu outputs",
                               d->path, d->row_line[r], label, n_out);
            if (kind == OUTPUT_LOGPROBS) {
                g[label] = (float)-inv;
            } else if (kind == OUTPUT_PROBS) {
                double p = o[label] > FLT_MIN ? (double)o[label] : FLT_MIN;
                g[label] = (float)(-inv / p);
            } else {
                /* Softmax cross-entropy: (softmax(o) - onehot) / N. */
                double max = o[0], sum = 0.0;
                for (size_t k = 1; k < n_out; k++)
                    if (o[k] > max)
                        max = o[k];
                for (size_t k = 0; k < n_out; k++)
                    sum += exp((double)o[k] - max);
                for (size_t k = 0; k < n_out; k++)
                    g[k] = (float)(inv * (exp((double)o[k] - max) / sum - (k == label)));
            }
        }
    }
    return 0;
}
