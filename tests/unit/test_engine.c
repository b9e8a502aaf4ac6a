/* The engine: chunked multi-threaded execution agrees with one whole-batch run for any
 * row count, and the thread pool runs every task exactly once. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "engine/engine.h"
#include "model/onnx_reader.h"
#include "testutil.h"

static void rows_equal_whole(const char *fixture, int threads)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/%s/model.onnx", fixture);
    struct err err;
    struct engine *e = engine_open(tu_src_path(rel), threads, &err);
    cr_assert_not_null(e, "%s", err.msg);
    snprintf(rel, sizeof rel, "tests/fixtures/%s/test_data_set_0/input_0.pb", fixture);
    struct tensor *all = onnx_read_tensor_file(tu_src_path(rel), NULL, NULL, &err);
    cr_assert_not_null(all, "%s", err.msg);
    size_t row_elems = tensor_numel(all) / (size_t)all->shape.dims[0];
    /* Row counts around chunk boundaries, a single row, and everything. */
    size_t chunk = engine_chunk_rows(e);
    size_t counts[] = {1, 2, 7, chunk - 1, chunk, chunk + 1, (size_t)all->shape.dims[0]};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        size_t rows = counts[c];
        if (rows == 0 || rows > (size_t)all->shape.dims[0])
            continue;
        struct tensor view = *all;
        view.owns_data = false;
        view.shape.dims[0] = (int64_t)rows;
        const struct tensor *ins[] = {&view};
        struct tensor *whole[4], *chunked[4];
        cr_assert_eq(engine_run(e, ins, whole, &err), 0, "%s", err.msg);
        cr_assert_eq(engine_run_rows(e, &view, chunked, &err), 0, "%s", err.msg);
        struct tu_compare cmp = tu_compare(chunked[0], whole[0], 0, 1e-6);
        cr_expect(cmp.ok, "%s, %zu rows on %d threads: %s", fixture, rows, threads, cmp.why);
        tensor_free(whole[0]);
        tensor_free(chunked[0]);
    }
    (void)row_elems;
    tensor_free(all);
    engine_free(e);
}

Test(engine, chunked_rows_equal_one_whole_run_for_mlp)
{
    rows_equal_whole("mlp_gemm", 1);
    rows_equal_whole("mlp_gemm", 2);
}

Test(engine, chunked_rows_equal_one_whole_run_for_cnn_with_view_chain)
{
    rows_equal_whole("cnn_view", 2);
    rows_equal_whole("cnn_bn", 2);
}

Test(engine, input_of_the_wrong_shape_is_refused_with_both_shapes)
{
    struct err err;
    struct engine *e = engine_open(tu_src_path("tests/fixtures/mlp_gemm/model.onnx"), 1, &err);
    cr_assert_not_null(e, "%s", err.msg);
    struct shape s = {.ndim = 2, .dims = {3, 65}};
    struct tensor *x = tensor_new(DTYPE_FLOAT, &s, &err);
    const struct tensor *ins[] = {x};
    struct tensor *out[1];
    cr_expect_eq(engine_run(e, ins, out, &err), -1);
    cr_expect(strstr(err.msg, "[N,64]") && strstr(err.msg, "[3,65]"), "%s", err.msg);
    tensor_free(x);
    engine_free(e);
}

struct count_job {
    atomic_int hits[1000];
};

static void count_task(void *arg, size_t task, int worker)
{
    struct count_job *j = arg;
    atomic_fetch_add(&j->hits[task], 1);
}

Test(threadpool, runs_every_task_exactly_once_across_repeated_jobs)
{
    struct err err;
    struct threadpool *p = pool_new(2, &err);
    cr_assert_not_null(p);
    struct count_job *j = calloc(1, sizeof *j);
    for (int round = 0; round < 50; round++)
        pool_run(p, 1000, count_task, j);
    for (int i = 0; i < 1000; i++)
        cr_expect_eq(atomic_load(&j->hits[i]), 50, "task %d ran %d times", i,
                     atomic_load(&j->hits[i]));
    free(j);
    pool_free(p);
}
