/* The background worker: a measurement started on another thread gives PyTorch's
 * correct-row counts for the digits MLP (data/reference.json: 351; all layers at 90% L1:
 * 51, tests/fixtures/prune/digits_prune.json), cancelling stops a Fashion-MNIST
 * evaluation and leaves the worker usable, a restart replaces the running measurement,
 * and the session can be read while it runs. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "analysis/allocate.h"
#include "session/worker.h"
#include "testutil.h"

static void set_all(struct session *s, double sparsity)
{
    struct err err;
    struct prune_config cfg;
    cr_assert_eq(session_config_copy(s, &cfg, &err), 0);
    for (size_t i = 0; i < s->layers.count; i++)
        cfg.settings[i].sparsity = sparsity;
    cr_assert_eq(session_configure(s, &cfg, &err), 0, "%s", err.msg);
    free(cfg.settings);
}

Test(worker, measures_in_the_background)
{
    struct err err;
    struct session *s = tu_open_session("data/digits_mlp.onnx", "data/digits.csv", 1.0f, 2);
    struct worker *w = worker_new(s, &err);
    cr_assert_not_null(w, "%s", err.msg);
    struct worker_result r;
    cr_expect_eq(worker_poll(w, &r), WORKER_IDLE);
    cr_assert_eq(worker_start(w, 7, &err), 0, "%s", err.msg);
    cr_expect_eq(worker_wait(w, &r), WORKER_DONE, "%s", r.err.msg);
    cr_expect_eq(r.tag, 7);
    cr_expect_eq(r.m.correct, 351);
    cr_expect_eq(r.m.rows, 360);
    cr_expect_eq(worker_poll(w, &r), WORKER_IDLE, "a result is handed over once");

    set_all(s, 0.9);
    cr_assert_eq(worker_start(w, 8, &err), 0);
    /* Reading the session while it runs. */
    double sp[3];
    alloc_config_sparsity(tu_subject(s), sp);
    cr_expect_float_eq(sp[2], 0.9, 1e-12);
    enum worker_state st;
    while ((st = worker_poll(w, &r)) == WORKER_RUNNING)
        ;
    cr_expect_eq(st, WORKER_DONE);
    cr_expect_eq(r.tag, 8);
    cr_expect_eq(r.m.correct, 51);
    worker_free(w);
    session_free(s);
}

Test(worker, cancel_and_restart)
{
    struct err err;
    struct session *s = tu_open_session("data/fashion_cnn.onnx", "data/fashion-mnist-test.csv.gz",
                                        0.00392156862745098f, 2);
    struct worker *w = worker_new(s, &err);
    cr_assert_not_null(w, "%s", err.msg);
    struct worker_result r;
    cr_expect_eq(worker_cancel(w), WORKER_IDLE, "nothing to cancel");
    /* Cancelled right after the start: a 10,000-row evaluation (about 0.1 s) cannot have
     * finished, so it is stopped at its next chunk or before it began. */
    cr_assert_eq(worker_start(w, 1, &err), 0);
    cr_expect_eq(worker_cancel(w), WORKER_CANCELLED);
    cr_expect_eq(worker_poll(w, &r), WORKER_IDLE, "a cancelled result is dropped");
    /* Started twice: the first is replaced, only the second reports. */
    cr_assert_eq(worker_start(w, 2, &err), 0);
    cr_assert_eq(worker_start(w, 3, &err), 0);
    cr_expect_eq(worker_wait(w, &r), WORKER_DONE, "%s", r.err.msg);
    cr_expect_eq(r.tag, 3);
    cr_expect_eq(r.m.correct, 8899);
    /* The engine's own cancel flag is back: a plain evaluation works. */
    struct metrics m;
    cr_expect_eq(session_eval(s, 0, &m, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(m.correct, 8899);
    /* Freed while running. */
    cr_assert_eq(worker_start(w, 4, &err), 0);
    worker_free(w);
    session_free(s);
}

Test(worker, refuses_without_data)
{
    struct err err;
    struct session *s = session_new(1, NULL, &err);
    struct worker *w = worker_new(s, &err);
    cr_expect_eq(worker_start(w, 1, &err), -1);
    tu_expect_error(&err, "load a model and data", "");
    cr_expect_str_eq(worker_state_name(WORKER_CANCELLED), "cancelled");
    worker_free(w);
    session_free(s);
}
