/* finetune.h: torch.optim's SGD and Adam on flat arrays, and the epoch loop over shuffled
 * mini-batches: a batch's rows copied out, the gradients of its mean loss from
 * engine_gradients, a step for every trainable parameter, the masks, the engine told. */
#include "analysis/finetune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "engine/backward.h"

double ft_schedule(double s0, double s1, size_t k, size_t steps, bool cubic)
{
    double left = 1.0 - (double)k / (double)(steps ? steps : 1);
    return s1 + (s0 - s1) * (cubic ? left * left * left : left);
}

void ft_options_default(struct ft_options *o)
{
    *o = (struct ft_options){
        .epochs = 1,
        .batch = 32,
        .optimizer = FT_SGD,
        .lr = 0.01,
        .momentum = 0.9,
        .beta1 = 0.9,
        .beta2 = 0.999,
        .eps = 1e-8,
    };
}

/* torch.optim.SGD, dampening 0, not Nesterov: d = g + wd w; buf = d on the first step,
 * else momentum buf + d; w -= lr buf. */
void ft_sgd_step(float *w, const float *g, float *state, size_t n, const struct ft_options *o,
                 size_t step, const uint8_t *keep)
{
    const float wd = (float)o->weight_decay, mom = (float)o->momentum, lr = (float)o->lr;
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * w[i];
        if (mom != 0.0f) {
            state[i] = step <= 1 ? d : mom * state[i] + d;
            d = state[i];
        }
        w[i] -= lr * d;
        if (keep && !keep[i])
            w[i] = 0.0f;
    }
}

/* torch.optim.Adam (not AMSGrad): d = g + wd w; m = b1 m + (1 - b1) d;
 * v = b2 v + (1 - b2) d^2; w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
void ft_adam_step(float *w, const float *g, float *state, size_t n, const struct ft_options *o,
                  size_t step, const uint8_t *keep)
{
    const float wd = (float)o->weight_decay, b1 = (float)o->beta1, b2 = (float)o->beta2;
    const double c1 = 1.0 - pow(o->beta1, (double)step), c2 = 1.0 - pow(o->beta2, (double)step);
    const float step_size = (float)(o->lr / c1), c2_sqrt = (float)sqrt(c2), eps = (float)o->eps;
    float *m = state, *v = state + n;
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * d;
        v[i] = b2 * v[i] + (1.0f - b2) * d * d;
        float denom = sqrtf(v[i]) / c2_sqrt + eps;
        w[i] -= step_size * (m[i] / denom);
        if (keep && !keep[i])
            w[i] = 0.0f;
    }
}

/* The batch being trained on: its rows as a dataset of their own. */
struct batch_ctx {
    struct dataset d;
    size_t n_out;
    enum output_kind kind;
    double loss_sum; /* loss x rows over the chunks of the batch */
};

static int batch_loss(const struct tensor *output, size_t row0, struct tensor *dout, void *opaque,
                      struct err *err)
{
    struct batch_ctx *b = opaque;
    size_t rows = (size_t)output->shape.dims[0];
    struct dataset part = b->d;
    part.rows = rows;
    if (part.labels)
        part.labels += row0;
    if (part.values)
        part.values += row0;
    if (part.row_line)
        part.row_line += row0;
    struct metrics m;
    if (metrics_compute(tensor_f32(output), rows, b->n_out, b->kind, &part, 0, &m, err) < 0)
        return -1;
    b->loss_sum += m.loss * (double)rows;
    return metrics_loss_gradient(tensor_f32(output), rows, b->n_out, b->kind, &b->d, row0,
                                 b->d.rows, tensor_f32(dout), err);
}

/* A permutation of 0..n-1 from seed (splitmix64 and Fisher-Yates). */
static void shuffle(size_t *order, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    uint64_t x = seed;
    for (size_t i = n; i > 1; i--) {
        x += 0x9E3779B97F4A7C15ull;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        size_t j = (size_t)(z % i);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

int ft_run(struct engine *e, const struct dataset *train, const struct shape *row_shape,
           enum output_kind kind, const bool *trainable, uint8_t *const *keep,
           const struct ft_options *o, const volatile sig_atomic_t *cancel, ft_epoch_fn on_epoch,
           ft_progress_fn progress, void *ctx, struct ft_result *r, struct err *err)
{
    memset(r, 0, sizeof *r);
    const struct graph *g = engine_graph(e);
    const int nv = g->n_values;
    if (o->epochs == 0 || o->batch == 0 || !(o->lr > 0))
        return err_set(err, "fine-tuning needs epochs, a batch and a learning rate above 0");
    if (train->rows == 0)
        return err_set(err, "%s: no rows to train on", train->path ? train->path : "training data");
    if (train->kind != LABEL_CLASS)
        return err_set(err, "fine-tuning trains classifiers: %s has no class labels",
                       train->path ? train->path : "the training data");
    const size_t rows = train->rows, nf = train->n_features, bmax = o->batch;
    float **state = calloc((size_t)nv + 1, sizeof *state);
    float **saved = calloc((size_t)nv + 1, sizeof *saved);
    struct tensor **grads = calloc((size_t)nv + 1, sizeof *grads);
    bool *want = calloc((size_t)nv + 1, sizeof *want);
    size_t *order = malloc(rows * sizeof *order);
    float *feats = malloc(bmax * nf * sizeof *feats);
    int64_t *labels = malloc(bmax * sizeof *labels);
    size_t *lines = malloc(bmax * sizeof *lines);
    int rc = -1;
    if (!state || !saved || !grads || !want || !order || !feats || !labels || !lines) {
        err_oom(err, "fine-tuning", rows * sizeof *order);
        goto done;
    }
    for (int v = 0; v < nv; v++) {
        const struct tensor *t = g->values[v].constant;
        if (!trainable[v] || !t || t->dtype != DTYPE_FLOAT)
            continue;
        size_t n = tensor_numel(t);
        want[v] = true;
        state[v] = calloc(2 * n + 1, sizeof **state);
        saved[v] = malloc((n + 1) * sizeof **saved);
        if (!state[v] || !saved[v]) {
            err_oom(err, "optimizer state", 2 * n * sizeof **state);
            goto done;
        }
    }
    struct tensor input = {.dtype = DTYPE_FLOAT, .data = feats};
    input.shape.ndim = row_shape->ndim + 1;
    for (int d = 0; d < row_shape->ndim; d++)
        input.shape.dims[d + 1] = row_shape->dims[d];
    double t0 = timer_now_s();
    size_t batches = (rows + bmax - 1) / bmax;
    char blocked[256] = "";
    for (size_t ep = 0; ep < o->epochs; ep++) {
        for (int v = 0; v < nv; v++)
            if (want[v])
                memcpy(saved[v], tensor_f32(g->values[v].constant),
                       tensor_numel(g->values[v].constant) * sizeof **saved);
        if (o->order)
            memcpy(order, o->order + ep * rows, rows * sizeof *order);
        else
            shuffle(order, rows, o->seed * 0x100000001B3ull + o->first_epoch + ep);
        double loss_sum = 0;
        bool stopped = false;
        for (size_t b = 0; b < batches; b++) {
            size_t first = b * bmax, n = rows - first < bmax ? rows - first : bmax;
            for (size_t i = 0; i < n; i++) {
                size_t row = order[first + i];
                if (row >= rows) {
                    err_set(err, "row %zu of the order is past the %zu rows", row, rows);
                    goto done;
                }
                memcpy(feats + i * nf, train->features + row * nf, nf * sizeof *feats);
                labels[i] = train->labels[row];
                lines[i] = train->row_line ? train->row_line[row] : row + 1;
            }
            struct batch_ctx bc = {.d = *train, .kind = kind};
            bc.d.rows = n;
            bc.d.features = feats;
            bc.d.labels = labels;
            bc.d.values = NULL;
            bc.d.row_line = lines;
            size_t n_out = 0;
            for (int k = 0; k < g->n_outputs && k < 1; k++) {
                struct shape os;
                if (engine_value_shape(e, g->outputs[0], (int64_t)n, &os, err) < 0)
                    goto done;
                n_out = 1;
                for (int d = 1; d < os.ndim; d++)
                    n_out *= (size_t)os.dims[d];
            }
            bc.n_out = n_out;
            input.shape.dims[0] = (int64_t)n;
            for (int v = 0; v < nv; v++)
                if (grads[v])
                    memset(tensor_f32(grads[v]), 0, tensor_numel(grads[v]) * sizeof(float));
            if (engine_gradients(e, &input, batch_loss, &bc, want, grads, blocked, sizeof blocked,
                                 err) < 0)
                goto done;
            loss_sum += bc.loss_sum;
            r->steps++;
            for (int v = 0; v < nv; v++) {
                if (!want[v] || !grads[v])
                    continue;
                struct tensor *t = g->values[v].constant;
                size_t cnt = tensor_numel(t);
                if (o->optimizer == FT_ADAM)
                    ft_adam_step(tensor_f32(t), tensor_f32(grads[v]), state[v], cnt, o, r->steps,
                                 keep ? keep[v] : NULL);
                else
                    ft_sgd_step(tensor_f32(t), tensor_f32(grads[v]), state[v], cnt, o, r->steps,
                                keep ? keep[v] : NULL);
            }
            engine_weights_changed(e, want);
            if (progress)
                progress(ctx, ep + 1, b + 1, batches, timer_now_s() - t0);
            if (cancel && *cancel && b + 1 < batches) {
                stopped = true;
                break;
            }
        }
        if (stopped) {
            /* Back to the weights of the last completed epoch. */
            for (int v = 0; v < nv; v++)
                if (want[v])
                    memcpy(tensor_f32(g->values[v].constant), saved[v],
                           tensor_numel(g->values[v].constant) * sizeof **saved);
            engine_weights_changed(e, want);
            r->cancelled = true;
            break;
        }
        r->epochs_done = ep + 1;
        r->last_loss = loss_sum / (double)rows;
        int verdict = on_epoch ? on_epoch(ctx, ep + 1, r->last_loss, err) : 0;
        if (verdict < 0)
            goto done;
        if (verdict > 0)
            break;
        if (cancel && *cancel) {
            r->cancelled = ep + 1 < o->epochs;
            break;
        }
    }
    r->elapsed_s = timer_now_s() - t0;
    rc = 0;
done:
    for (int v = 0; v < nv; v++) {
        if (state)
            free(state[v]);
        if (saved)
            free(saved[v]);
        if (grads)
            tensor_free(grads[v]);
    }
    free(state), free(saved), free(grads), free(want), free(order), free(feats), free(labels),
        free(lines);
    return rc;
}
