/* ModelProto and TensorProto to the graph IR: values, initializers, nodes, attributes.
 * Not for writing ONNX (a later exporter) or for validating op semantics. */
#include "model/onnx_reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnx.pb-c.h"

const char *onnx_elem_type_name(int t)
{
    static const char *const names[] = {
        "UNDEFINED", "FLOAT",  "UINT8",     "INT8",       "UINT16",   "INT16",
        "INT32",     "INT64",  "STRING",    "BOOL",       "FLOAT16",  "DOUBLE",
        "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
    };
    if (t >= 0 && (size_t)t < sizeof names / sizeof names[0])
        return names[t];
    return "an unknown element type";
}

uint8_t *onnx_slurp(const char *path, size_t *len_out, struct err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        err_set(err, "%s: not a regular file", path);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        fclose(f);
        err_oom(err, path, len);
        return NULL;
    }
    if (len && fread(buf, 1, len, f) != len) {
        err_set(err, "%s: read error: %s", path, strerror(errno));
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len_out = len;
    return buf;
}

/* Element size in the source representation, and how typed data is stored: float32, int64,
 * int32 and bool keep their type; double narrows to float32 and the small integer types
 * widen to int64. */
static int elem_info(int t, enum dtype *dt, size_t *raw_size)
{
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        *dt = DTYPE_FLOAT;
        *raw_size = 4;
        return 0;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        *dt = DTYPE_FLOAT;
        *raw_size = 8;
        return 0;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        *dt = DTYPE_INT64;
        *raw_size = 8;
        return 0;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        *dt = DTYPE_INT32;
        *raw_size = 4;
        return 0;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
        *dt = DTYPE_INT64;
        *raw_size = 2;
        return 0;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
        *dt = DTYPE_INT64;
        *raw_size = 2;
        return 0;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
        *dt = DTYPE_INT64;
        *raw_size = 1;
        return 0;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
        *dt = DTYPE_INT64;
        *raw_size = 1;
        return 0;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        *dt = DTYPE_BOOL;
        *raw_size = 1;
        return 0;
    default: return -1;
    }
}

static int64_t raw_int(int t, const uint8_t *p)
{
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: {
        int16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return (int8_t)p[0];
    default: return p[0];
    }
}

/* `what` names the tensor in messages, e.g. "initializer 'fc.weight'". */
static struct tensor *tensor_from_proto(const Onnx__TensorProto *tp, const char *what,
                                        struct err *err)
{
    int et = tp->has_data_type ? tp->data_type : 0;
    enum dtype dt;
    size_t raw_size;
    if (elem_info(et, &dt, &raw_size) < 0) {
        err_unsupported(err, "%s has element type %s, which prunescope does not support", what,
                        onnx_elem_type_name(et));
        return NULL;
    }
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        err_unsupported(err,
                        "%s keeps its data in an external file, which prunescope does "
                        "not support yet",
                        what);
        return NULL;
    }
    if (tp->segment) {
        err_set(err, "%s is segmented, which prunescope does not support", what);
        return NULL;
    }
    if (tp->n_dims > TENSOR_MAX_DIMS) {
        err_set(err, "%s has rank %zu; at most %d is supported", what, tp->n_dims, TENSOR_MAX_DIMS);
        return NULL;
    }
    struct shape s = {.ndim = (int)tp->n_dims};
    size_t numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0 || tp->dims[i] > (int64_t)1 << 40) {
            err_set(err, "%s has an invalid dimension %lld", what, (long long)tp->dims[i]);
            return NULL;
        }
        s.dims[i] = tp->dims[i];
        numel *= (size_t)tp->dims[i];
        if (numel > (size_t)1 << 40) {
            err_set(err, "%s is too large", what);
            return NULL;
        }
    }
    char sbuf[128];
    shape_format(&s, sbuf, sizeof sbuf);
    size_t typed_count;
    switch (et) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: typed_count = tp->n_float_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: typed_count = tp->n_double_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: typed_count = tp->n_int64_data; break;
    default: typed_count = tp->n_int32_data; break;
    }
    bool raw = tp->has_raw_data;
    if (raw && tp->raw_data.len != numel * raw_size) {
        err_set(err,
                "%s declares shape %s (%zu %s values, %zu bytes) but its raw_data holds "
                "%zu bytes",
                what, sbuf, numel, onnx_elem_type_name(et), numel * raw_size, tp->raw_data.len);
        return NULL;
    }
    if (!raw && typed_count != numel) {
        err_set(err, "%s declares shape %s (%zu values) but holds %zu %s values", what, sbuf, numel,
                typed_count, onnx_elem_type_name(et));
        return NULL;
    }
    struct tensor *t = tensor_new(dt, &s, err);
    if (!t)
        return NULL;
    for (size_t i = 0; i < numel; i++) {
        if (raw) {
            const uint8_t *p = tp->raw_data.data + i * raw_size;
            if (et == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
                memcpy(&tensor_f32(t)[i], p, 4);
            } else if (et == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
                double d;
                memcpy(&d, p, 8);
                tensor_f32(t)[i] = (float)d;
            } else if (et == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
                memcpy(&tensor_i64(t)[i], p, 8);
            } else if (et == ONNX__TENSOR_PROTO__DATA_TYPE__INT32) {
                memcpy(&tensor_i32(t)[i], p, 4);
            } else if (et == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL) {
                tensor_bool(t)[i] = p[0] != 0;
            } else {
                tensor_i64(t)[i] = raw_int(et, p);
            }
        } else {
            switch (et) {
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: tensor_f32(t)[i] = tp->float_data[i]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
                tensor_f32(t)[i] = (float)tp->double_data[i];
                break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: tensor_i64(t)[i] = tp->int64_data[i]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: tensor_i32(t)[i] = tp->int32_data[i]; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
                tensor_bool(t)[i] = tp->int32_data[i] != 0;
                break;
            default: tensor_i64(t)[i] = tp->int32_data[i]; break;
            }
        }
    }
    return t;
}

static char *dup_or(const char *s, const char *dflt)
{
    return strdup(s && *s ? s : dflt);
}

static int convert_attr(const Onnx__AttributeProto *ap, struct attr *a, const char *node_name,
                        struct err *err)
{
    memset(a, 0, sizeof *a);
    a->name = dup_or(ap->name, "");
    if (!a->name)
        return err_oom(err, "attribute name", 0);
    int type = ap->has_type ? (int)ap->type : 0;
    switch (type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->type = ATTR_FLOAT;
        a->f = ap->f;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->type = ATTR_INT;
        a->i = ap->i;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        a->type = ATTR_STRING;
        a->s = malloc(ap->s.len + 1);
        if (!a->s)
            return err_oom(err, "attribute string", ap->s.len + 1);
        if (ap->s.len)
            memcpy(a->s, ap->s.data, ap->s.len);
        a->s[ap->s.len] = '\0';
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        a->type = ATTR_TENSOR;
        if (!ap->t)
            return err_set(err, "node '%s': attribute '%s' has no tensor", node_name, a->name);
        char what[256];
        snprintf(what, sizeof what, "attribute '%s' of node '%s'", a->name, node_name);
        a->t = tensor_from_proto(ap->t, what, err);
        if (!a->t)
            return -1;
        break;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        a->type = ATTR_FLOATS;
        a->n = ap->n_floats;
        a->floats = malloc((a->n ? a->n : 1) * sizeof *a->floats);
        if (!a->floats)
            return err_oom(err, "attribute floats", a->n * sizeof *a->floats);
        if (a->n)
            memcpy(a->floats, ap->floats, a->n * sizeof *a->floats);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        a->type = ATTR_INTS;
        a->n = ap->n_ints;
        a->ints = malloc((a->n ? a->n : 1) * sizeof *a->ints);
        if (!a->ints)
            return err_oom(err, "attribute ints", a->n * sizeof *a->ints);
        if (a->n)
            memcpy(a->ints, ap->ints, a->n * sizeof *a->ints);
        break;
    default: a->type = ATTR_OTHER; break;
    }
    return 0;
}

static int convert_value_info(struct graph *g, const Onnx__ValueInfoProto *vi, int *id_out,
                              struct err *err)
{
    if (!vi->name || !*vi->name)
        return err_set(err, "a graph input or output has no name");
    int id = graph_intern_value(g, vi->name, err);
    if (id < 0)
        return -1;
    struct value *v = &g->values[id];
    *id_out = id;
    if (!vi->type)
        return 0;
    if (vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type) {
        static const char *const kinds[] = {
            "", "a tensor",        "",           "", "a sequence", "a map", "",
            "", "a sparse tensor", "an optional"};
        int k = (int)vi->type->value_case;
        const char *kind = k >= 0 && k < 10 && *kinds[k] ? kinds[k] : "not a tensor";
        return err_unsupported(err,
                               "graph input or output '%s' is %s; prunescope supports "
                               "dense tensors only",
                               vi->name, kind);
    }
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    v->onnx_elem_type = tt->has_elem_type ? tt->elem_type : 0;
    switch (v->onnx_elem_type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: v->dtype = DTYPE_FLOAT; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: v->dtype = DTYPE_INT64; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: v->dtype = DTYPE_INT32; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: v->dtype = DTYPE_BOOL; break;
    default: v->dtype = DTYPE_UNDEFINED; break;
    }
    if (!tt->shape)
        return 0;
    if (tt->shape->n_dim > TENSOR_MAX_DIMS)
        return err_set(err, "'%s' has rank %zu; at most %d is supported", vi->name,
                       tt->shape->n_dim, TENSOR_MAX_DIMS);
    /* A value declared again (an input that is also an output, or one listed twice) takes
     * the last declaration's shape: the names of the earlier one's dims go. */
    for (int i = 0; i < TENSOR_MAX_DIMS; i++) {
        free(v->dim_param[i]);
        v->dim_param[i] = NULL;
    }
    v->has_shape = true;
    v->shape.ndim = (int)tt->shape->n_dim;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        v->shape.dims[i] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            v->shape.dims[i] = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
            v->dim_param[i] = strdup(d->dim_param ? d->dim_param : "?");
            if (!v->dim_param[i])
                return err_oom(err, "dimension name", 0);
        }
    }
    return 0;
}

static int convert_node(struct graph *g, const Onnx__NodeProto *np, int index, struct err *err)
{
    struct node n = {0};
    char fallback[96];
    snprintf(fallback, sizeof fallback, "%s_%d", np->op_type ? np->op_type : "node", index);
    n.name = dup_or(np->name, fallback);
    n.op_type = dup_or(np->op_type, "");
    n.domain = dup_or(np->domain, "");
    n.inputs = malloc((np->n_input ? np->n_input : 1) * sizeof *n.inputs);
    n.outputs = malloc((np->n_output ? np->n_output : 1) * sizeof *n.outputs);
    n.attrs = calloc(np->n_attribute ? np->n_attribute : 1, sizeof *n.attrs);
    if (!n.name || !n.op_type || !n.domain || !n.inputs || !n.outputs || !n.attrs) {
        node_fini(&n);
        return err_oom(err, "node", 0);
    }
    for (size_t i = 0; i < np->n_input; i++) {
        const char *nm = np->input[i];
        n.inputs[n.n_inputs] = -1;
        if (nm && *nm && (n.inputs[n.n_inputs] = graph_intern_value(g, nm, err)) < 0) {
            node_fini(&n);
            return -1;
        }
        n.n_inputs++;
    }
    for (size_t i = 0; i < np->n_output; i++) {
        const char *nm = np->output[i];
        n.outputs[n.n_outputs] = -1;
        if (nm && *nm && (n.outputs[n.n_outputs] = graph_intern_value(g, nm, err)) < 0) {
            node_fini(&n);
            return -1;
        }
        n.n_outputs++;
    }
    for (size_t i = 0; i < np->n_attribute; i++) {
        if (convert_attr(np->attribute[i], &n.attrs[n.n_attrs], n.name, err) < 0) {
            n.n_attrs++;
            node_fini(&n);
            return -1;
        }
        n.n_attrs++;
    }
    if (graph_add_node(g, &n, err) < 0) {
        node_fini(&n);
        return -1;
    }
    return 0;
}

static int convert_graph(struct graph *g, const Onnx__ModelProto *mp, struct err *err)
{
    const Onnx__GraphProto *gp = mp->graph;
    g->name = dup_or(gp->name, "graph");
    char prod[256];
    snprintf(prod, sizeof prod, "%s%s%s", mp->producer_name ? mp->producer_name : "",
             mp->producer_version && *mp->producer_version ? " " : "",
             mp->producer_version ? mp->producer_version : "");
    g->producer = strdup(prod);
    if (!g->name || !g->producer)
        return err_oom(err, "graph name", 0);
    g->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    g->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *op = mp->opset_import[i];
        if ((!op->domain || !*op->domain || strcmp(op->domain, "ai.onnx") == 0) && op->has_version)
            g->opset = op->version;
    }
    if (g->opset < 0) {
        /* A valid model may use only other domains (ai.onnx.ml, training): not ours. */
        if (mp->n_opset_import && mp->opset_import[0]->domain)
            return err_unsupported(err,
                                   "the model imports only the '%s' operator domain, not the "
                                   "default ONNX domain prunescope runs",
                                   mp->opset_import[0]->domain);
        return err_set(err, "the model imports no opset of the default ONNX domain");
    }

    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name)
            return err_set(err, "initializer %zu has no name", i);
        char what[256];
        snprintf(what, sizeof what, "initializer '%s'", tp->name);
        int id = graph_intern_value(g, tp->name, err);
        if (id < 0)
            return -1;
        if (g->values[id].constant)
            return err_set(err, "initializer '%s' appears twice", tp->name);
        struct tensor *t = tensor_from_proto(tp, what, err);
        if (!t)
            return -1;
        g->values[id].constant = t;
        g->values[id].dtype = t->dtype;
        g->values[id].onnx_elem_type = tp->data_type;
    }
    if (gp->n_sparse_initializer)
        return err_set(err, "the model has sparse initializers, which prunescope does not "
                            "support");
    g->inputs = malloc((gp->n_input ? gp->n_input : 1) * sizeof *g->inputs);
    g->outputs = malloc((gp->n_output ? gp->n_output : 1) * sizeof *g->outputs);
    if (!g->inputs || !g->outputs)
        return err_oom(err, "graph inputs", 0);
    for (size_t i = 0; i < gp->n_input; i++) {
        int id;
        /* Older exporters list initializers among the inputs too; those are constants. */
        if (gp->input[i]->name && graph_find_value(g, gp->input[i]->name) >= 0 &&
            g->values[graph_find_value(g, gp->input[i]->name)].constant)
            continue;
        if (convert_value_info(g, gp->input[i], &id, err) < 0)
            return -1;
        g->inputs[g->n_inputs++] = id;
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        int id;
        if (convert_value_info(g, gp->output[i], &id, err) < 0)
            return -1;
        g->outputs[g->n_outputs++] = id;
    }
    if (g->n_outputs == 0)
        return err_set(err, "the graph declares no outputs");
    for (size_t i = 0; i < gp->n_node; i++)
        if (convert_node(g, gp->node[i], (int)i, err) < 0)
            return -1;
    return graph_sort(g, err);
}

struct graph *onnx_read_model(const uint8_t *buf, size_t len, const char *label, struct err *err)
{
    if (len == 0) {
        err_set(err, "%s: the file is empty; expected an ONNX model", label);
        return NULL;
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp) {
        err_set(err,
                "%s: not a valid ONNX model: the protobuf data is truncated or corrupt "
                "(%zu bytes read)",
                label, len);
        return NULL;
    }
    if (!mp->graph || !mp->has_ir_version) {
        err_set(err, "%s: not an ONNX model (no %s)", label, mp->graph ? "IR version" : "graph");
        onnx__model_proto__free_unpacked(mp, NULL);
        return NULL;
    }
    struct graph *g = graph_new(err);
    if (g && convert_graph(g, mp, err) < 0) {
        graph_free(g);
        g = NULL;
        err_prefix(err, "%s: ", label);
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return g;
}

struct graph *onnx_read_model_file(const char *path, struct err *err)
{
    size_t len;
    uint8_t *buf = onnx_slurp(path, &len, err);
    if (!buf)
        return NULL;
    struct graph *g = onnx_read_model(buf, len, path, err);
    free(buf);
    return g;
}

struct tensor *onnx_read_tensor_file(const char *path, char **name_out, int *elem_type_out,
                                     struct err *err)
{
    size_t len;
    uint8_t *buf = onnx_slurp(path, &len, err);
    if (!buf)
        return NULL;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp) {
        err_set(err, "%s: not a valid serialized ONNX TensorProto", path);
        return NULL;
    }
    if (elem_type_out)
        *elem_type_out = tp->has_data_type ? tp->data_type : 0;
    char what[512];
    snprintf(what, sizeof what, "%s: tensor '%s'", path, tp->name ? tp->name : "");
    struct tensor *t = tensor_from_proto(tp, what, err);
    if (t && name_out) {
        *name_out = strdup(tp->name ? tp->name : "");
        if (!*name_out) {
            tensor_free(t);
            t = NULL;
            err_oom(err, "tensor name", 0);
        }
    }
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return t;
}
