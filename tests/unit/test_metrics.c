/* Metrics against hand calculations: argmax with ties, top-k, cross-entropy from logits,
 * probabilities and log-probabilities, binary threshold, regression errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/metrics.h"

static struct dataset classes(const int64_t *labels, size_t rows)
{
    static size_t lines[16];
    for (size_t i = 0; i < 16; i++)
        lines[i] = i + 2;
    struct dataset d = {.path = "t.csv",
                        .rows = rows,
                        .kind = LABEL_CLASS,
                        .labels = (int64_t *)labels,
                        .row_line = lines};
    return d;
}

Test(metrics, accuracy_cross_entropy_and_ties_from_logits)
{
    /* Row 0: logits (2,1,0), label 0: right; loss ln(1 + e^-1 + e^-2).
     * Row 1: (1,1,0) tie between 0 and 1 goes to 0; label 1: wrong; loss ln(2 + e^-1).
     * Row 2: (0,0,3), label 2: right; loss ln(1 + 2e^-3). */
    const float out[] = {2, 1, 0, 1, 1, 0, 0, 0, 3};
    const int64_t labels[] = {0, 1, 2};
    struct dataset d = classes(labels, 3);
    struct metrics m;
    struct err err;
    cr_assert_eq(metrics_compute(out, 3, 3, OUTPUT_LOGITS, &d, 2, &m, &err), 0, "%s", err.msg);
    cr_expect_eq(m.task, TASK_CLASSIFY);
    cr_expect_eq(m.correct, 2);
    cr_expect_float_eq(m.accuracy, 2.0 / 3.0, 1e-12);
    double want = (log(1 + exp(-1) + exp(-2)) + log(2 + exp(-1)) + log(1 + 2 * exp(-3))) / 3;
    cr_expect_float_eq(m.loss, want, 1e-9);
    /* Top-2: row 1's label 1 is second (after index 0 at the same value): all three. */
    cr_expect_eq(m.correct_k, 3);
}

Test(metrics, probabilities_and_log_probabilities)
{
    const float probs[] = {0.7f, 0.3f, 0.4f, 0.6f};
    const int64_t labels[] = {0, 0};
    struct dataset d = classes(labels, 2);
    struct metrics m;
    struct err err;
    cr_assert_eq(metrics_compute(probs, 2, 2, OUTPUT_PROBS, &d, 0, &m, &err), 0);
    cr_expect_eq(m.correct, 1);
    cr_expect_float_eq(m.loss, -(log(0.7f) + log(0.4f)) / 2, 1e-7);
    const float logp[] = {logf(0.7f), logf(0.3f), logf(0.4f), logf(0.6f)};
    cr_assert_eq(metrics_compute(logp, 2, 2, OUTPUT_LOGPROBS, &d, 0, &m, &err), 0);
    cr_expect_float_eq(m.loss, -(log(0.7f) + log(0.4f)) / 2, 1e-6);
}

Test(metrics, one_output_with_0_1_labels_is_binary)
{
    /* Logits 0 -> p 0.5 -> positive; -2 -> negative; 3 -> positive. Labels 1, 1, 0. */
    const float out[] = {0, -2, 3};
    const int64_t labels[] = {1, 1, 0};
    struct dataset d = classes(labels, 3);
    struct metrics m;
    struct err err;
    cr_assert_eq(metrics_compute(out, 3, 1, OUTPUT_LOGITS, &d, 0, &m, &err), 0, "%s", err.msg);
    cr_expect_eq(m.task, TASK_BINARY);
    cr_expect_eq(m.correct, 1);
    double s = 1 / (1 + exp(2.0)), t = 1 / (1 + exp(-3.0));
    cr_expect_float_eq(m.loss, (log(2.0) - log(s) - log(1 - t)) / 3, 1e-9);
}

Test(metrics, one_output_with_values_is_regression)
{
    const float out[] = {1.0f, 2.0f, 4.0f};
    const float values[] = {1.5f, 2.0f, 1.0f};
    struct dataset d = {.path = "t.csv", .rows = 3, .kind = LABEL_VALUE, .values = (float *)values};
    struct metrics m;
    struct err err;
    cr_assert_eq(metrics_compute(out, 3, 1, OUTPUT_LOGITS, &d, 0, &m, &err), 0, "%s", err.msg);
    cr_expect_eq(m.task, TASK_REGRESS);
    cr_expect_float_eq(m.mse, (0.25 + 0 + 9) / 3, 1e-9);
    cr_expect_float_eq(m.mae, (0.5 + 0 + 3) / 3, 1e-9);
}

Test(metrics, refuses_what_cannot_be_measured)
{
    const float out[] = {1, 2, 3, 4};
    const int64_t labels[] = {0, 1};
    struct dataset d = classes(labels, 2);
    struct metrics m;
    struct err err;
    cr_expect_eq(metrics_compute(out, 2, 2, OUTPUT_LOGITS, &d, 3, &m, &err), -1);
    cr_expect(strstr(err.msg, "top-3"), "%s", err.msg);
    const float values[] = {0.5f, 1.5f};
    struct dataset r = {.path = "t.csv", .rows = 2, .kind = LABEL_VALUE, .values = (float *)values};
    cr_expect_eq(metrics_compute(out, 2, 2, OUTPUT_LOGITS, &r, 0, &m, &err), -1);
    cr_expect(strstr(err.msg, "regression labels need a model with one output"), "%s", err.msg);
    const int64_t big[] = {0, 5};
    struct dataset b = classes(big, 2);
    cr_expect_eq(metrics_compute(out, 2, 2, OUTPUT_LOGITS, &b, 0, &m, &err), -1);
    cr_expect(strstr(err.msg, "t.csv:3") && strstr(err.msg, "label 5"), "%s", err.msg);
}
