/* libFuzzer harness of the ONNX reader, as deep as `prunescope MODEL` goes with a file:
 * read from memory, plan (engine_new: shape inference, constant folding, the batch probe),
 * then one evaluation of a zero input of the planned shape for one row. Not a check of the
 * outputs: only that nothing crashes, leaks or trips a sanitizer. */
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/tensor.h"
#include "engine/engine.h"
#include "engine/plan.h"
#include "model/graph.h"
#include "model/onnx_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Models whose one-row run would take more than these are refused rather than run: a
 * 100-byte file can ask for a gigabyte of activations or a minute of convolution, which
 * the program then does (or fails to allocate, with a message), and the fuzzer would
 * report as out of memory or a timeout. */
#define FUZZ_MAX_BYTES (64u << 20)
#define FUZZ_MAX_MACS  2e7

/* One run of a zero input per graph input, shaped as the one-row plan has it. */
static void run_once(struct engine *e)
{
    struct err err;
    const struct graph *g = engine_graph(e);
    const struct plan *p = engine_plan_rows(e, 1, &err);
    if (!p || g->n_inputs > 64 || g->n_outputs > 64 || p->activation_bytes > FUZZ_MAX_BYTES ||
        p->max_scratch_bytes > FUZZ_MAX_BYTES || engine_macs_per_row(e) > FUZZ_MAX_MACS)
        return;
    struct tensor *ins[64] = {0}, *outs[64] = {0};
    size_t in_bytes = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        const struct tensor *v = &p->values[g->inputs[i]];
        in_bytes += shape_numel(&p->input_shapes[i]) * dtype_size(v->dtype);
        if (in_bytes > FUZZ_MAX_BYTES ||
            !(ins[i] = tensor_new(v->dtype, &p->input_shapes[i], &err)))
            goto done;
    }
    if (engine_run(e, (const struct tensor *const *)ins, outs, &err) == 0)
        for (int k = 0; k < g->n_outputs; k++)
            tensor_free(outs[k]);
done:
    for (int i = 0; i < g->n_inputs; i++)
        tensor_free(ins[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err err;
    struct graph *g = onnx_read_model(data, size, "fuzz.onnx", &err);
    if (!g)
        return 0;
    struct engine *e = engine_new(g, 1, &err);
    if (!e)
        return 0;
    run_once(e);
    engine_free(e);
    return 0;
}
