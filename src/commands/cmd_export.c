/* export and import: configuration files now, the pruned model and recipes through the
 * same command. Not the file formats (export/). */
#include <stdio.h>
#include <string.h>

#include "analysis/sensitivity.h"
#include "commands/command.h"
#include "export/config.h"
#include "export/model.h"
#include "export/recipe.h"

/* The figures stored with a configuration: an evaluation when data is loaded. */
static json_t *measure(struct cmd_ctx *c)
{
    struct weight_stats ws;
    session_weight_stats(c->s, &ws);
    json_t *m =
        json_pack("{s:I, s:I, s:f, s:I, s:s}", "params", (json_int_t)ws.params, "nonzero_params",
                  (json_int_t)ws.nonzero_params, "sparsity",
                  ws.prunable_params ? (double)ws.prunable_zeros / (double)ws.prunable_params : 0.0,
                  "weight_bytes", (json_int_t)session_weight_bytes(c->s), "storage",
                  storage_name(c->s->storage));
    struct metrics mt;
    double ms;
    struct err ignored;
    if (c->s->data && session_eval(c->s, 0, &mt, &ms, &ignored) == 0 && mt.task != TASK_REGRESS) {
        json_object_set_new(m, "accuracy", json_real(mt.accuracy));
        json_object_set_new(m, "correct", json_integer((json_int_t)mt.correct));
        json_object_set_new(m, "rows", json_integer((json_int_t)mt.rows));
        json_object_set_new(m, "loss", json_real(mt.loss));
    }
    return m;
}

static int export_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    bool force = false;
    const char *words[4];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (n < 4)
            words[n++] = argv[i];
        else
            return err_set(err, "usage: %s", cmd_export.usage);
    }
    if (!c->s->engine)
        return err_set(err, "no model is loaded (use: load MODEL.onnx)");
    if (n == 2 && strcmp(words[0], "config") == 0) {
        json_t *m = measure(c);
        int rc = config_write(c->s, m, words[1], force, err);
        json_decref(m);
        if (rc < 0)
            return -1;
        out_printf(c->o, "wrote %s\n", words[1]);
        out_set(c->o, "what", json_string("config"));
        out_set(c->o, "path", json_string(words[1]));
        return 0;
    }
    if (n == 2 && strcmp(words[0], "model") == 0) {
        struct model_export_summary sum;
        if (model_export(c->s, words[1], force, &sum, err) < 0)
            return -1;
        out_printf(c->o, "wrote %s: %zu bytes (the loaded model: %zu)", words[1], sum.bytes_after,
                   sum.bytes_before);
        if (sum.layers_shrunk)
            out_printf(c->o, "; %zu units cut out of %zu layers", sum.units_removed,
                       sum.layers_shrunk);
        out_printf(c->o, "\n");
        if (sum.masked_only[0])
            out_warn(c->o, "masked, not cut out: %s", sum.masked_only);
        out_set(c->o, "what", json_string("model"));
        out_set(c->o, "path", json_string(words[1]));
        out_set(c->o, "bytes", json_integer((json_int_t)sum.bytes_after));
        out_set(c->o, "bytes_before", json_integer((json_int_t)sum.bytes_before));
        out_set(c->o, "units_removed", json_integer((json_int_t)sum.units_removed));
        out_set(c->o, "layers_shrunk", json_integer((json_int_t)sum.layers_shrunk));
        return 0;
    }
    if (n == 2 && strcmp(words[0], "curve") == 0) {
        if (!c->s->sens)
            return err_set(err, "no sensitivity table yet (run: sensitivity)");
        if (sens_write_csv(c->s->sens, words[1], force, c->s->model_path, err) < 0)
            return -1;
        out_printf(c->o, "wrote %s: %zu layers x %zu levels\n", words[1], c->s->sens->layers_done,
                   c->s->sens->n_levels);
        out_set(c->o, "what", json_string("curve"));
        out_set(c->o, "path", json_string(words[1]));
        return 0;
    }
    if (n == 3 && strcmp(words[0], "recipe") == 0 &&
        (strcmp(words[1], "torch") == 0 || strcmp(words[1], "nni") == 0)) {
        struct recipe_summary sum;
        bool torch = strcmp(words[1], "torch") == 0;
        int rc = torch ? recipe_torch(c->s, words[2], force, &sum, err)
                       : recipe_nni(c->s, words[2], force, &sum, err);
        if (rc < 0)
            return -1;
        out_printf(c->o, "wrote %s: %s recipe for %zu %s\n", words[2], words[1], sum.tensors,
                   torch ? "parameters" : "layers");
        if (sum.skipped[0])
            out_warn(c->o, "left out of the recipe: %s", sum.skipped);
        out_set(c->o, "what", json_string(torch ? "recipe torch" : "recipe nni"));
        out_set(c->o, "path", json_string(words[2]));
        out_set(c->o, "entries", json_integer((json_int_t)sum.tensors));
        return 0;
    }
    return err_set(err, "usage: %s", cmd_export.usage);
}

static int import_run(struct cmd_ctx *c, int argc, char **argv, struct err *err)
{
    if (argc != 3 || strcmp(argv[1], "config") != 0)
        return err_set(err, "usage: %s", cmd_import.usage);
    if (config_read(c->s, argv[2], err) < 0)
        return -1;
    struct weight_stats ws;
    session_weight_stats(c->s, &ws);
    double sparsity =
        ws.prunable_params ? (double)ws.prunable_zeros / (double)ws.prunable_params : 0.0;
    out_printf(c->o, "imported %s: sparsity %.1f%% of %zu prunable weights\n", argv[2],
               100.0 * sparsity, ws.prunable_params);
    out_set(c->o, "path", json_string(argv[2]));
    out_set(c->o, "sparsity", json_real(sparsity));
    return 0;
}

const struct cmd_def cmd_export = {
    .name = "export",
    .usage = "export config|model|curve FILE | recipe torch|nni FILE [--force]",
    .summary = "write the configuration, the pruned model, or a torch/NNI recipe",
    .help = "export config writes JSON (\"format\": \"prunescope-config\", \"version\": 1)\n"
            "with the model's path and SHA-256, the data, each layer's name, weight,\n"
            "criterion, granularity and sparsity, the seed and storage, and the figures\n"
            "measured now. export model writes the ONNX model with its pruned weights;\n"
            "neurons and filters removed by neuron/filter pruning are cut out of their\n"
            "group (weights, biases, BatchNormalization, the next layer's inputs), so\n"
            "the tensors shrink. export recipe torch writes a Python file whose apply(model)\n"
            "puts the same masks on the PyTorch model with torch.nn.utils.prune (module\n"
            "names from the ONNX initializer names); export recipe nni writes NNI's\n"
            "config_list. export curve writes the last sensitivity table as CSV\n"
            "(layer,weight,level,accuracy,correct,rows,loss). Files are written\n"
            "atomically; an existing file needs\n"
            "--force; the loaded model is never overwritten.",
    .complete = CMD_COMPLETE_FILE,
    .run = export_run,
};

const struct cmd_def cmd_import = {
    .name = "import",
    .usage = "import config FILE.json",
    .summary = "restore a configuration saved by export config (undo takes it back)",
    .help = "Refuses, changing nothing, a file that is not a prunescope configuration, one\n"
            "made for another model (compared by SHA-256), a layer the model does not have,\n"
            "or a setting a layer cannot take.",
    .complete = CMD_COMPLETE_FILE,
    .run = import_run,
};
