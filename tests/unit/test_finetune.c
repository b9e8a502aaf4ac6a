/* Fine-tuning against PyTorch (tests/fixtures/finetune, made by make_finetune.py with
 * torch.optim): two SGD-with-momentum and two Adam steps on the digits MLP, and two epochs
 * of masked fine-tuning at 70% in the order PyTorch took the rows; then the command's
 * checks of its input, and undo. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/finetune.h"
#include "commands/command.h"
#include "engine/engine.h"
#include "testutil.h"

static json_t *fixture(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/finetune/%s", name);
    json_error_t je;
    json_t *root = json_load_file(tu_src_path(rel), 0, &je);
    cr_assert(root, "%s: %s", rel, je.text);
    return root;
}

/* values within tol of the fixture's values, relative to their largest |value|. */
static double compare_values(const char *name, const float *w, size_t n, json_t *vals, double tol)
{
    cr_assert_eq(n, json_array_size(vals), "%s: sizes differ", name);
    double scale = 0, worst = 0;
    for (size_t k = 0; k < n; k++)
        scale = fmax(scale, fabs(json_real_value(json_array_get(vals, k))));
    for (size_t k = 0; k < n; k++) {
        double want = json_real_value(json_array_get(vals, k));
        double e = fabs((double)w[k] - want) / scale;
        cr_assert(e <= tol, "%s[%zu]: %.9g, PyTorch %.9g (error %.3g of the tensor's %.3g)", name,
                  k, (double)w[k], want, e, scale);
        worst = fmax(worst, e);
    }
    return worst;
}

static int value_named(const struct graph *g, const char *name)
{
    for (int k = 0; k < g->n_values; k++)
        if (g->values[k].name && strcmp(g->values[k].name, name) == 0 && g->values[k].constant)
            return k;
    cr_assert_fail("no initializer %s", name);
    return -1;
}

/* Every parameter of g named in params (the fixture's list) within tol of PyTorch's. */
static void compare_params(const struct graph *g, json_t *params, double tol)
{
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        int v = value_named(g, name);
        compare_values(name, tensor_f32(g->values[v].constant), tensor_numel(g->values[v].constant),
                       json_object_get(p, "values"), tol);
    }
}

/* The first rows of the training split as a dataset of their own (borrowing its arrays). */
static struct dataset first_rows(const struct dataset *d, size_t rows)
{
    struct dataset part = *d;
    part.rows = rows;
    return part;
}

/* steps optimizer steps of the fixture on a fresh engine: each batch is the next 32 rows
 * of the training split in file order, so one epoch over the first 32 x steps rows in
 * order takes them. The parameters after the last are compared within tol. */
static void optimizer_steps(const char *file, enum ft_optimizer which, size_t steps, double tol)
{
    json_t *root = fixture(file);
    json_t *hyper = json_object_get(root, "hyper");
    struct err err;
    struct engine *e = engine_open(tu_src_path("data/digits_mlp.onnx"), 1, &err);
    cr_assert(e, "%s", err.msg);
    struct dataset_options dopt = {0};
    struct dataset *train = dataset_load(tu_src_path("data/digits-train.csv"), &dopt, &err);
    cr_assert(train, "%s", err.msg);
    struct ft_options o;
    ft_options_default(&o);
    o.optimizer = which;
    o.batch = 32;
    o.lr = json_real_value(json_object_get(hyper, "lr"));
    o.weight_decay = json_real_value(json_object_get(hyper, "weight_decay"));
    if (which == FT_SGD) {
        o.momentum = json_real_value(json_object_get(hyper, "momentum"));
    } else {
        json_t *betas = json_object_get(hyper, "betas");
        o.beta1 = json_real_value(json_array_get(betas, 0));
        o.beta2 = json_real_value(json_array_get(betas, 1));
        o.eps = json_real_value(json_object_get(hyper, "eps"));
    }
    json_t *fsteps = json_object_get(root, "steps");
    cr_assert(json_array_size(fsteps) >= steps);
    size_t order[64];
    for (size_t i = 0; i < 64; i++)
        order[i] = i;
    o.order = order;
    struct dataset part = first_rows(train, 32 * steps);
    const struct graph *g = engine_graph(e);
    bool *trainable = calloc((size_t)g->n_values, sizeof *trainable);
    json_t *names = json_object_get(root, "trained");
    size_t i;
    json_t *nm;
    json_array_foreach(names, i, nm)
    {
        for (int v = 0; v < g->n_values; v++)
            if (g->values[v].name && strcmp(g->values[v].name, json_string_value(nm)) == 0)
                trainable[v] = true;
    }
    struct shape row = {.ndim = 1, .dims = {64}};
    struct ft_result r;
    cr_assert_eq(ft_run(e, &part, &row, OUTPUT_LOGITS, trainable, NULL, &o, NULL, NULL, NULL, NULL,
                        &r, &err),
                 0, "%s", err.msg);
    cr_assert_eq(r.steps, steps);
    /* The losses of the forward passes, mean over the rows. */
    double want_loss = 0;
    for (size_t k = 0; k < steps; k++)
        want_loss +=
            json_real_value(json_object_get(json_array_get(fsteps, k), "loss")) / (double)steps;
    cr_expect(fabs(r.last_loss - want_loss) <= tol * fmax(1.0, want_loss),
              "mean loss %.9g, PyTorch %.9g", r.last_loss, want_loss);
    compare_params(g, json_object_get(json_array_get(fsteps, steps - 1), "params"), tol);
    free(trainable);
    dataset_free(train);
    engine_free(e);
    json_decref(root);
}

Test(finetune, one_sgd_step_equals_torch_optim)
{
    optimizer_steps("sgd_step.json", FT_SGD, 1, 1e-6);
}

/* Adam on PyTorch's own gradients of the two steps: the optimizer's arithmetic alone. */
Test(finetune, adam_on_pytorch_gradients_equals_torch_optim)
{
    json_t *root = fixture("adam_step.json");
    json_t *hyper = json_object_get(root, "hyper"), *betas = json_object_get(hyper, "betas");
    struct ft_options o;
    ft_options_default(&o);
    o.lr = json_real_value(json_object_get(hyper, "lr"));
    o.weight_decay = json_real_value(json_object_get(hyper, "weight_decay"));
    o.beta1 = json_real_value(json_array_get(betas, 0));
    o.beta2 = json_real_value(json_array_get(betas, 1));
    o.eps = json_real_value(json_object_get(hyper, "eps"));
    struct err err;
    struct engine *e = engine_open(tu_src_path("data/digits_mlp.onnx"), 1, &err);
    cr_assert(e, "%s", err.msg);
    const struct graph *g = engine_graph(e);
    json_t *steps = json_object_get(root, "steps");
    json_t *first = json_object_get(json_array_get(steps, 0), "grads");
    size_t i;
    json_t *p;
    json_array_foreach(first, i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        struct tensor *t = g->values[value_named(g, name)].constant;
        size_t n = tensor_numel(t);
        float *w = tensor_f32(t), *state = calloc(2 * n, sizeof *state), *grad = malloc(n * 4);
        for (size_t s = 0; s < 2; s++) {
            json_t *step = json_array_get(steps, s);
            json_t *gv =
                json_object_get(json_array_get(json_object_get(step, "grads"), i), "values");
            for (size_t k = 0; k < n; k++)
                grad[k] = (float)json_real_value(json_array_get(gv, k));
            ft_adam_step(w, grad, state, n, &o, s + 1, NULL);
            compare_values(
                name, w, n,
                json_object_get(json_array_get(json_object_get(step, "params"), i), "values"),
                1e-6);
        }
        free(state);
        free(grad);
    }
    engine_free(e);
    json_decref(root);
}

/* On its own gradients: Adam's first step is lr g / (|g| + eps), and this model is trained
 * (loss 7e-4): a third of fc1's gradients are below 1e-5, where the float rounding of g
 * moves the step: weights are off by up to 1.6e-5 of their tensor's largest. */
Test(finetune, one_adam_step_equals_torch_optim_within_the_rounding_of_small_gradients)
{
    optimizer_steps("adam_step.json", FT_ADAM, 1, 5e-5);
}

/* The second step uses the momentum buffer (SGD) and both moments (Adam). Adam's second
 * step comes after a first that moved every weight by about lr, and again divides by the
 * square root of small second moments: PyTorch's own float32 and float64 runs of it differ
 * by 1.5e-5 (float64_check), and ours by up to 1.9e-4 of the tensor's largest weight. */
Test(finetune, two_sgd_steps_with_momentum_and_weight_decay_equal_torch_optim)
{
    optimizer_steps("sgd_step.json", FT_SGD, 2, 1e-6);
}

Test(finetune, two_adam_steps_with_weight_decay_equal_torch_optim_within_its_float_noise)
{
    optimizer_steps("adam_step.json", FT_ADAM, 2, 3e-4);
}

/* Every layer of s at sparsity x with its method. */
static void prune_all(struct session *s, double x)
{
    struct err err;
    struct prune_config cfg;
    cr_assert_eq(session_config_copy(s, &cfg, &err), 0);
    for (size_t i = 0; i < s->layers.count; i++)
        cfg.settings[i].sparsity = x;
    cr_assert_eq(session_configure(s, &cfg, &err), 0, "%s", err.msg);
    free(cfg.settings);
}

/* Masked fine-tuning: the session at 70% unstructured has PyTorch's masks; two epochs in
 * PyTorch's row order end at its weights (1e-3 relative) and accuracy (within 0.5 points),
 * the pruned weights still 0; undo brings the weights from before. */
Test(finetune, two_masked_epochs_at_70_percent_end_where_pytorch_ends)
{
    json_t *root = fixture("masked_epochs.json");
    struct session *s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    struct err err;
    prune_all(s, 0.7);
    const struct graph *g = engine_graph(s->engine);
    json_t *masks = json_object_get(root, "masks");
    const char *name;
    json_t *zeros;
    json_object_foreach(masks, name, zeros)
    {
        const struct layer *l = layers_lookup(&s->layers, name);
        cr_assert(l, "no layer with weight %s", name);
        const float *w = tensor_f32(g->values[l->weight].constant);
        size_t i;
        json_t *z;
        json_array_foreach(zeros, i, z)
            cr_assert_eq(w[json_integer_value(z)], 0.0f, "%s[%lld] is not pruned", name,
                         (long long)json_integer_value(z));
    }
    struct metrics before;
    cr_assert_eq(session_eval(s, 0, &before, NULL, &err), 0);

    json_t *hyper = json_object_get(root, "hyper"), *perms = json_object_get(root, "permutations");
    size_t rows = json_array_size(json_array_get(perms, 0));
    size_t *order = malloc(2 * rows * sizeof *order);
    for (size_t ep = 0; ep < 2; ep++)
        for (size_t i = 0; i < rows; i++)
            order[ep * rows + i] =
                (size_t)json_integer_value(json_array_get(json_array_get(perms, ep), i));
    struct ft_options o;
    ft_options_default(&o);
    o.epochs = 2;
    o.batch = (size_t)json_integer_value(json_object_get(root, "batch"));
    o.lr = json_real_value(json_object_get(hyper, "lr"));
    o.momentum = json_real_value(json_object_get(hyper, "momentum"));
    o.order = order;
    struct ft_result r;
    cr_assert_eq(
        session_finetune(s, tu_src_path("data/digits-train.csv"), &o, NULL, NULL, NULL, &r, &err),
        0, "%s", err.msg);
    cr_assert_eq(r.epochs_done, 2);
    json_t *losses = json_object_get(root, "epoch_losses");
    cr_expect(fabs(r.last_loss - json_real_value(json_array_get(losses, 1))) < 1e-4,
              "last epoch's loss %.9g, PyTorch %.9g", r.last_loss,
              json_real_value(json_array_get(losses, 1)));
    compare_params(g, json_object_get(root, "params"), 1e-3);
    struct metrics after;
    cr_assert_eq(session_eval(s, 0, &after, NULL, &err), 0);
    double want = json_real_value(json_object_get(json_object_get(root, "after"), "accuracy"));
    cr_expect(fabs(after.accuracy - want) <= 0.005, "accuracy %.4f, PyTorch %.4f", after.accuracy,
              want);
    struct weight_stats ws;
    session_weight_stats(s, &ws);
    cr_expect_eq(ws.prunable_zeros, 1433 + 358 + 112, "the pruned weights are still 0");
    /* The trained weights are what the configuration prunes now; undo brings back the
     * weights from before. */
    cr_assert_eq(session_undo(s, &err), 0, "%s", err.msg);
    struct metrics back;
    cr_assert_eq(session_eval(s, 0, &back, NULL, &err), 0);
    cr_expect_eq(back.correct, before.correct);
    cr_expect_eq(back.loss, before.loss);
    cr_assert_eq(session_redo(s, &err), 0, "%s", err.msg);
    cr_assert_eq(session_eval(s, 0, &back, NULL, &err), 0);
    cr_expect_eq(back.correct, after.correct);
    free(order);
    session_free(s);
    json_decref(root);
}

/* Plain SGD (no momentum: no optimizer state between runs): a run of one epoch and a run of
 * one epoch from epoch 1 (as iterate's second step) end on the weights of one run of two
 * epochs, bit for bit: the second run takes the second epoch's row order. Before
 * first_epoch, every step of iterate took the first epoch's order again. */
Test(finetune, the_epochs_of_steps_continue_the_seeded_row_orders)
{
    struct err err;
    struct session *whole = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    struct session *steps = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    struct ft_options o;
    ft_options_default(&o);
    o.momentum = 0;
    o.seed = 7;
    o.epochs = 2;
    struct ft_result r;
    const char *train = tu_src_path("data/digits-train.csv");
    cr_assert_eq(session_finetune(whole, train, &o, NULL, NULL, NULL, &r, &err), 0, "%s", err.msg);
    o.epochs = 1;
    cr_assert_eq(session_finetune(steps, train, &o, NULL, NULL, NULL, &r, &err), 0, "%s", err.msg);
    struct metrics m1, m2, mw;
    cr_assert_eq(session_eval(steps, 0, &m1, NULL, &err), 0);
    o.first_epoch = 1;
    cr_assert_eq(session_finetune(steps, train, &o, NULL, NULL, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(session_eval(steps, 0, &m2, NULL, &err), 0);
    cr_assert_eq(session_eval(whole, 0, &mw, NULL, &err), 0);
    cr_expect_neq(m1.loss, m2.loss, "the second run trained");
    cr_expect_eq(m2.loss, mw.loss, "two runs %.9g, one run of two epochs %.9g", m2.loss, mw.loss);
    const struct graph *a = engine_graph(whole->engine), *b = engine_graph(steps->engine);
    for (int v = 0; v < a->n_values; v++) {
        const struct tensor *ta = a->values[v].constant, *tb = b->values[v].constant;
        if (ta && ta->dtype == DTYPE_FLOAT)
            cr_expect(memcmp(ta->data, tb->data, tensor_numel(ta) * sizeof(float)) == 0,
                      "%s differs", a->values[v].name);
    }
    session_free(whole);
    session_free(steps);
}

/* The training file is checked: the validation file itself, other features, bad numbers. */
Test(finetune, refuses_the_validation_file_other_features_and_bad_options)
{
    struct session *s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    struct err err;
    char line[4096];
    snprintf(line, sizeof line, "finetune --data %s", tu_src_path("data/digits.csv"));
    cr_assert_eq(tu_run_line(s, line, &err), -1);
    cr_expect(strstr(err.msg, "is the validation data"), "%s", err.msg);
    static const char narrow[] = "a,b,label\n1,2,0\n3,4,1\n";
    char *path = tu_write_temp(narrow, sizeof narrow - 1, ".csv");
    snprintf(line, sizeof line, "finetune --data %s", path);
    cr_assert_eq(tu_run_line(s, line, &err), -1);
    cr_expect(strstr(err.msg, path), "the file is named: %s", err.msg);
    remove(path);
    free(path);
    /* The digits' 64 features, but a class the model's 10 outputs do not have. */
    char csv[4096] = "";
    size_t used = 0;
    for (int j = 0; j < 64; j++)
        used += (size_t)snprintf(csv + used, sizeof csv - used, "p%d,", j);
    used += (size_t)snprintf(csv + used, sizeof csv - used, "label\n");
    for (int j = 0; j < 64; j++)
        used += (size_t)snprintf(csv + used, sizeof csv - used, "1,");
    snprintf(csv + used, sizeof csv - used, "12\n");
    path = tu_write_temp(csv, strlen(csv), ".csv");
    snprintf(line, sizeof line, "finetune --data %s", path);
    cr_assert_eq(tu_run_line(s, line, &err), -1);
    cr_expect(strstr(err.msg, path) && strstr(err.msg, "12"), "names the file and the class: %s",
              err.msg);
    remove(path);
    free(path);
    snprintf(line, sizeof line, "finetune --data %s --epochs 0",
             tu_src_path("data/digits-train.csv"));
    cr_assert_eq(tu_run_line(s, line, &err), -1);
    cr_expect(strstr(err.msg, "--epochs"), "%s", err.msg);
    snprintf(line, sizeof line, "finetune --data %s --lr -0.1",
             tu_src_path("data/digits-train.csv"));
    cr_assert_eq(tu_run_line(s, line, &err), -1);
    cr_expect(strstr(err.msg, "--lr expects a positive number"), "%s", err.msg);
    snprintf(line, sizeof line, "finetune --data %s --lr 0", tu_src_path("data/digits-train.csv"));
    cr_assert_eq(tu_run_line(s, line, &err), -1);
    cr_assert_eq(tu_run_line(s, "finetune --epochs 2", &err), -1);
    cr_expect(strstr(err.msg, "--data"), "%s", err.msg);
    session_free(s);
}

static volatile sig_atomic_t stop_flag;
struct stop_ctx {
    struct session *s;
    size_t stop_epoch, stop_batch;
    struct metrics after_epoch[8];
};

static int record_epoch(void *opaque, size_t epoch, double loss, struct err *err)
{
    (void)loss;
    struct stop_ctx *x = opaque;
    return session_eval(x->s, 0, &x->after_epoch[epoch], NULL, err);
}

static void stop_at(void *opaque, size_t epoch, size_t batch, size_t batches, double elapsed_s)
{
    (void)batches, (void)elapsed_s;
    struct stop_ctx *x = opaque;
    if (epoch == x->stop_epoch && batch == x->stop_batch)
        stop_flag = 1;
}

/* Ctrl-C in epoch 2: the weights of epoch 1 stay (as measured after it), and undo brings
 * back the weights from before fine-tuning. */
Test(finetune, ctrl_c_in_an_epoch_keeps_the_last_completed_one_and_undo_restores)
{
    struct session *s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    s->cancel = &stop_flag;
    stop_flag = 0;
    struct err err;
    prune_all(s, 0.7);
    struct metrics before, now;
    cr_assert_eq(session_eval(s, 0, &before, NULL, &err), 0);
    struct ft_options o;
    ft_options_default(&o);
    o.epochs = 3;
    struct stop_ctx x = {.s = s, .stop_epoch = 2, .stop_batch = 5};
    struct ft_result r;
    cr_assert_eq(session_finetune(s, tu_src_path("data/digits-train.csv"), &o, record_epoch,
                                  stop_at, &x, &r, &err),
                 0, "%s", err.msg);
    stop_flag = 0;
    cr_expect(r.cancelled);
    cr_expect_eq(r.epochs_done, 1);
    cr_assert_eq(session_eval(s, 0, &now, NULL, &err), 0);
    cr_expect_eq(now.correct, x.after_epoch[1].correct);
    cr_expect_eq(now.loss, x.after_epoch[1].loss, "the weights are epoch 1's");
    cr_expect_neq(now.correct, before.correct);
    cr_assert_eq(session_undo(s, &err), 0, "%s", err.msg);
    cr_assert_eq(session_eval(s, 0, &now, NULL, &err), 0);
    cr_expect_eq(now.loss, before.loss);
    s->cancel = NULL;
    session_free(s);
}

/* s_k = X + (s0 - X)(1 - k/K)^3: from 0 to 0.9 in 3 steps, 0.9 - 0.9 (2/3)^3 = 0.63333,
 * 0.9 - 0.9 / 27 = 0.86667, then 0.9; linear: 0.3, 0.6, 0.9. */
Test(finetune, the_cubic_schedule_is_zhu_and_guptas)
{
    cr_expect(fabs(ft_schedule(0, 0.9, 1, 3, true) - (0.9 - 0.9 * 8.0 / 27.0)) < 1e-12);
    cr_expect(fabs(ft_schedule(0, 0.9, 2, 3, true) - (0.9 - 0.9 / 27.0)) < 1e-12);
    cr_expect(fabs(ft_schedule(0, 0.9, 3, 3, true) - 0.9) < 1e-12);
    cr_expect(fabs(ft_schedule(0, 0.9, 1, 3, false) - 0.3) < 1e-12);
    cr_expect(fabs(ft_schedule(0.5, 0.9, 2, 4, true) - (0.9 - 0.4 * 0.125)) < 1e-12);
}

/* On the digits MLP at 90% with guided allocation: gradual pruning in 3 steps of 1 epoch
 * reaches the target and is at least as accurate as one-shot pruning followed by the same
 * 3 epochs. */
Test(finetune, iterate_beats_one_shot_with_the_same_epochs_on_the_digits_mlp, .timeout = 120)
{
    tu_private_cache();
    char line[4096];
    struct err err;
    struct session *a = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    snprintf(line, sizeof line, "iterate --target 90%% --steps 3 --allocation guided --data %s",
             tu_src_path("data/digits-train.csv"));
    cr_assert_eq(tu_run_line(a, line, &err), 0, "%s", err.msg);
    struct weight_stats ws;
    session_weight_stats(a, &ws);
    double sparsity = (double)ws.prunable_zeros / (double)ws.prunable_params;
    cr_expect(sparsity >= 0.9 - 1e-9, "sparsity %.4f after iterate", sparsity);
    struct metrics gradual, one_shot;
    cr_assert_eq(session_eval(a, 0, &gradual, NULL, &err), 0);

    struct session *b = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    cr_assert_eq(tu_run_line(b, "auto --params 90%", &err), 0, "%s", err.msg);
    snprintf(line, sizeof line, "finetune --epochs 3 --data %s",
             tu_src_path("data/digits-train.csv"));
    cr_assert_eq(tu_run_line(b, line, &err), 0, "%s", err.msg);
    cr_assert_eq(session_eval(b, 0, &one_shot, NULL, &err), 0);
    cr_expect(gradual.correct >= one_shot.correct, "iterate %.2f%%, one-shot and 3 epochs %.2f%%",
              100 * gradual.accuracy, 100 * one_shot.accuracy);
    session_free(a);
    session_free(b);
    tu_remove_cache();
}

/* export config after fine-tuning records the weights' digest and the command; importing it
 * on the model as loaded from the file is refused, naming why; after the same fine-tuning
 * again it is accepted. */
Test(finetune, a_fine_tuned_config_says_the_weights_must_come_with_it)
{
    struct session *s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    struct err err;
    char line[4096], *path = tu_write_temp("", 0, ".json");
    cr_assert_eq(tu_run_line(s, "set all 70%", &err), 0);
    snprintf(line, sizeof line, "finetune --data %s", tu_src_path("data/digits-train.csv"));
    cr_assert_eq(tu_run_line(s, line, &err), 0, "%s", err.msg);
    char exp[4200];
    snprintf(exp, sizeof exp, "export config %s --force", path);
    cr_assert_eq(tu_run_line(s, exp, &err), 0, "%s", err.msg);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    cr_assert(root, "%s", je.text);
    json_t *w = json_object_get(root, "weights");
    cr_assert(json_is_object(w), "the config records the weights");
    cr_expect_str_eq(json_string_value(json_object_get(w, "sha256")), s->weights_sha256);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(w, "commands"), 0)), line);
    json_decref(root);
    session_free(s);

    s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 0, 1);
    char imp[4200];
    snprintf(imp, sizeof imp, "import config %s", path);
    cr_assert_eq(tu_run_line(s, imp, &err), -1);
    cr_expect(strstr(err.msg, "fine-tuned or reconstructed"), "%s", err.msg);
    cr_assert_eq(tu_run_line(s, "set all 70%", &err), 0);
    cr_assert_eq(tu_run_line(s, line, &err), 0, "%s", err.msg);
    cr_expect_eq(tu_run_line(s, imp, &err), 0, "the same fine-tuning gives the same weights: %s",
                 err.msg);
    session_free(s);
    remove(path);
    free(path);
}
