/* Dependency groups found by following labelled channels through a one-row plan; zeroing
 * what removed units reach. Not ranking units (prune.c) and not export (export/model.c). */
#include "prune/groups.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "prune/prune.h"

/* A label is slot + 1; 0 marks data that carries no tracked channel. */
typedef int32_t label;

struct ctx {
    const struct graph *g;
    const struct plan *p;
    const struct layer_list *layers;
    struct group_set *gs;
    struct err *err;
    label **lab;      /* per value: labels of its elements on the plan's shape, or NULL */
    int *parent;      /* union-find over slots */
    int *slot_reason; /* per slot: index into reasons, or -1 */
    char **reasons;
    size_t n_reasons, cap_reasons;
    int *node_layer; /* per node: layer index, or -1 */
    struct group_const *consts;
    size_t n_consts, cap_consts;
    struct group_shape_edit *edits;
    size_t n_edits, cap_edits;
    bool oom;
};

/* ---- union-find over slots ---- */

static int uf_find(int *parent, int x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void uf_union(int *parent, int a, int b)
{
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a == b)
        return;
    /* The smaller slot stays the root: units then order by their first channel. */
    if (a < b)
        parent[b] = a;
    else
        parent[a] = b;
}

static void unite_labels(struct ctx *c, label a, label b)
{
    if (a > 0 && b > 0 && a != b)
        uf_union(c->parent, a - 1, b - 1);
}

/* ---- shapes and indices ---- */

static const struct shape *vshape(const struct ctx *c, int v)
{
    return &c->p->values[v].shape;
}

static size_t vnumel(const struct ctx *c, int v)
{
    return shape_numel(vshape(c, v));
}

static void strides_of(const struct shape *s, size_t *st)
{
    size_t acc = 1;
    for (int d = s->ndim - 1; d >= 0; d--) {
        st[d] = acc;
        acc *= (size_t)s->dims[d];
    }
}

/* Bit d set when the labels change along axis d (some element differs from the one with
 * coordinate d set to 0). */
static unsigned label_axes(const label *l, const struct shape *s)
{
    size_t st[TENSOR_MAX_DIMS], n = shape_numel(s);
    strides_of(s, st);
    unsigned axes = 0;
    for (int d = 0; d < s->ndim; d++) {
        size_t dim = (size_t)s->dims[d];
        for (size_t i = 0; i < n && !(axes >> d & 1u); i++) {
            size_t coord = (i / st[d]) % dim;
            if (coord && l[i] != l[i - coord * st[d]])
                axes |= 1u << d;
        }
    }
    return axes;
}

static bool any_label(const label *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (l[i])
            return true;
    return false;
}

/* ---- reasons and blocking ---- */

static int add_reason(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_reason(struct ctx *c, const char *fmt, ...)
{
    if (c->n_reasons == c->cap_reasons) {
        size_t cap = c->cap_reasons ? 2 * c->cap_reasons : 16;
        char **r = realloc(c->reasons, cap * sizeof *r);
        if (!r) {
            c->oom = true;
            return -1;
        }
        c->reasons = r;
        c->cap_reasons = cap;
    }
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!(c->reasons[c->n_reasons] = strdup(buf))) {
        c->oom = true;
        return -1;
    }
    return (int)c->n_reasons++;
}

/* Blocks every slot whose label appears in l (n elements) with reason r. */
static void block_labels(struct ctx *c, const label *l, size_t n, int r)
{
    if (r < 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (l[i] && c->slot_reason[l[i] - 1] < 0)
            c->slot_reason[l[i] - 1] = r;
}

static const char *node_desc(const struct node *nd, char *buf, size_t size)
{
    snprintf(buf, size, "node '%s' (%s)", nd->name && *nd->name ? nd->name : "?", nd->op_type);
    return buf;
}

/* Blocks the channels of every labelled input of node nd. */
static void block_inputs(struct ctx *c, const struct node *nd, const char *what)
{
    char d[200];
    int r = -1;
    for (int k = 0; k < nd->n_inputs; k++) {
        int v = nd->inputs[k];
        if (v < 0 || !c->lab[v])
            continue;
        if (r < 0)
            r = add_reason(c, "%s %s", node_desc(nd, d, sizeof d), what);
        block_labels(c, c->lab[v], vnumel(c, v), r);
    }
}

static label *new_labels(struct ctx *c, int v)
{
    size_t n = vnumel(c, v);
    label *l = calloc(n ? n : 1, sizeof *l);
    if (!l)
        c->oom = true;
    return l;
}

/* Output v takes labels l (owned) when they carry any channel. */
static void set_labels(struct ctx *c, int v, label *l)
{
    if (v < 0 || !l || !any_label(l, vnumel(c, v))) {
        free(l);
        return;
    }
    free(c->lab[v]);
    c->lab[v] = l;
}

/* out[i] = in[map(i)], where output axis d takes input coordinate from axis amap[d] (-1: 0).
 * Used for ops that keep each element's channel (pooling, normalization, reductions). */
static label *project(struct ctx *c, const label *in, const struct shape *is, int out_v,
                      const int *amap)
{
    const struct shape *os = vshape(c, out_v);
    label *out = new_labels(c, out_v);
    if (!out)
        return NULL;
    size_t ist[TENSOR_MAX_DIMS], ost[TENSOR_MAX_DIMS], n = shape_numel(os);
    strides_of(is, ist);
    strides_of(os, ost);
    for (size_t i = 0; i < n; i++) {
        size_t src = 0;
        for (int d = 0; d < os->ndim; d++)
            if (amap[d] >= 0) {
                size_t coord = (i / ost[d]) % (size_t)os->dims[d];
                if (coord >= (size_t)is->dims[amap[d]])
                    coord = (size_t)is->dims[amap[d]] - 1;
                src += coord * ist[amap[d]];
            }
        out[i] = in[src];
    }
    return out;
}

/* ---- constants that follow channels ---- */

static int add_const(struct ctx *c, int v, int node, int axis, bool zeroable, size_t len,
                     struct group_const **out)
{
    for (size_t i = 0; i < c->n_consts; i++)
        if (c->consts[i].value == v) {
            /* Read by two nodes: both must see the same channels. */
            *out = &c->consts[i];
            return c->consts[i].axis == axis && c->consts[i].len == len ? 0 : 1;
        }
    if (c->n_consts == c->cap_consts) {
        size_t cap = c->cap_consts ? 2 * c->cap_consts : 32;
        struct group_const *r = realloc(c->consts, cap * sizeof *r);
        if (!r)
            return c->oom = true, -1;
        c->consts = r;
        c->cap_consts = cap;
    }
    struct group_const *k = &c->consts[c->n_consts];
    memset(k, 0, sizeof *k);
    k->value = v;
    k->node = node;
    k->axis = axis;
    k->zeroable = zeroable;
    k->len = len;
    k->unit = malloc((len ? len : 1) * sizeof *k->unit);
    if (!k->unit)
        return c->oom = true, -1;
    for (size_t i = 0; i < len; i++)
        k->unit[i] = -1; /* holds labels until units are known */
    c->n_consts++;
    *out = k;
    return 0;
}

/* Initializer v (read by node nd) combines element-wise with output labels ol (shape os,
 * broadcasting from the right). When v is larger than 1 along an axis where the channels
 * change, its entries there follow the channels and are attached; otherwise it broadcasts
 * over them and needs nothing. */
static void attach_broadcast(struct ctx *c, const struct node *nd, int node, int v, const label *ol,
                             const struct shape *os, bool zeroable)
{
    const struct tensor *t = c->g->values[v].constant;
    if (!t)
        return;
    unsigned axes = label_axes(ol, os);
    int off = os->ndim - t->shape.ndim;
    int follow = -1, n_follow = 0;
    for (int d = 0; d < t->shape.ndim; d++)
        if (t->shape.dims[d] > 1 && d + off >= 0 && (axes >> (d + off) & 1u)) {
            follow = d;
            n_follow++;
        }
    if (n_follow == 0)
        return;
    char desc[200];
    if (n_follow > 1 || off < 0) {
        int r = add_reason(c, "%s reads constant '%s', whose entries follow the channels along "
                              "more than one axis",
                           node_desc(nd, desc, sizeof desc), c->g->values[v].name);
        block_labels(c, ol, shape_numel(os), r);
        return;
    }
    int oaxis = follow + off;
    size_t len = (size_t)t->shape.dims[follow];
    /* Every other axis of the constant must be 1: otherwise its entries vary with more
     * than the channel and cannot be cut by channel. */
    for (int d = 0; d < t->shape.ndim; d++)
        if (d != follow && t->shape.dims[d] > 1) {
            int r = add_reason(c, "%s reads constant '%s', which varies along more than the "
                                  "channel axis",
                               node_desc(nd, desc, sizeof desc), c->g->values[v].name);
            block_labels(c, ol, shape_numel(os), r);
            return;
        }
    struct group_const *k;
    int rc = add_const(c, v, node, follow, zeroable, len, &k);
    if (rc < 0)
        return;
    if (rc > 0) {
        int r = add_reason(c, "constant '%s' is read by several nodes along different axes",
                           c->g->values[v].name);
        block_labels(c, ol, shape_numel(os), r);
        return;
    }
    size_t st[TENSOR_MAX_DIMS], n = shape_numel(os);
    strides_of(os, st);
    for (size_t i = 0; i < n; i++) {
        size_t idx = (i / st[oaxis]) % (size_t)os->dims[oaxis];
        if (idx >= len || !ol[i])
            continue;
        if (k->unit[idx] < 0)
            k->unit[idx] = ol[i];
        else
            unite_labels(c, k->unit[idx], ol[i]);
    }
}

/* ---- op classes ---- */

static bool in_list(const char *op, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(op, *list) == 0)
            return true;
    return false;
}

/* One input, same shape, element by element. */
static const char *const UNARY[] = {
    "Relu",  "LeakyRelu", "Sigmoid", "Tanh",  "HardSigmoid", "HardSwish", "Clip",     "Identity",
    "Sqrt",  "Exp",       "Log",     "Neg",   "Abs",         "Erf",       "Gelu",     "Elu",
    "Selu",  "Celu",      "Softplus", "Softsign", "Cast",    "Floor",     "Ceil",     "Round",
    "Sign",  "Reciprocal", "Not",    "ThresholdedRelu", "Mish", "Dropout", "Sin", "Cos", NULL};

/* Element-wise with broadcasting over all inputs. */
static const char *const ELEMENTWISE[] = {
    "Add", "Sub",  "Mul",     "Div",  "Pow",  "Max",  "Min",         "Sum",
    "Mean", "Where", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And",
    "Or",  "Xor",  "PRelu",   "Mod",  NULL};

/* Ops whose outputs are computed by running them on the labels. */
static const char *const MOVEMENT[] = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
                                       "Slice",   "Split",   "Gather",    "Concat",  NULL};

static const char *const POOLS[] = {"MaxPool",       "AveragePool",   "LpPool",
                                    "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool",
                                    "Resize",        "Upsample",      "Pad", NULL};

static const char *const REDUCES[] = {"ReduceMean", "ReduceMax",  "ReduceMin", "ReduceSum",
                                      "ReduceL1",   "ReduceL2",   "ReduceSumSquare",
                                      "ReduceProd", "ReduceLogSumExp", "ReduceLogSum", NULL};

/* Reads only the input's shape. */
static const char *const SHAPE_ONLY[] = {"Shape", "Size", NULL};

/* ---- propagation through one node ---- */

static void do_unary(struct ctx *c, const struct node *nd, int in_v)
{
    int out = nd->outputs[0];
    if (out < 0)
        return;
    if (vnumel(c, out) != vnumel(c, in_v)) {
        block_inputs(c, nd, "changes the shape of its input");
        return;
    }
    label *l = new_labels(c, out);
    if (l)
        memcpy(l, c->lab[in_v], vnumel(c, out) * sizeof *l);
    set_labels(c, out, l);
}

static bool zeroable_operand(const char *op, int k)
{
    /* Bias and scale operands; never a divisor, an exponent or a bound. */
    if (strcmp(op, "Add") == 0 || strcmp(op, "Mul") == 0 || strcmp(op, "PRelu") == 0)
        return true;
    if (strcmp(op, "Sub") == 0 || strcmp(op, "Div") == 0)
        return k == 0;
    return false;
}

static void do_elementwise(struct ctx *c, int node, const struct node *nd)
{
    int out = nd->outputs[0];
    if (out < 0)
        return;
    const struct shape *os = vshape(c, out);
    size_t n = shape_numel(os), ost[TENSOR_MAX_DIMS];
    strides_of(os, ost);
    label *l = new_labels(c, out);
    if (!l)
        return;
    /* Labels of every labelled input, broadcast to the output. */
    for (int k = 0; k < nd->n_inputs; k++) {
        int v = nd->inputs[k];
        if (v < 0 || !c->lab[v])
            continue;
        const struct shape *is = vshape(c, v);
        size_t ist[TENSOR_MAX_DIMS];
        strides_of(is, ist);
        int off = os->ndim - is->ndim;
        for (size_t i = 0; i < n; i++) {
            size_t src = 0;
            for (int d = 0; d < is->ndim; d++)
                if (is->dims[d] > 1)
                    src += ((i / ost[d + off]) % (size_t)os->dims[d + off]) * ist[d];
            label x = c->lab[v][src];
            if (!x)
                continue;
            if (!l[i])
                l[i] = x;
            else
                unite_labels(c, l[i], x);
        }
    }
    /* Constant operands that follow the channels. */
    for (int k = 0; k < nd->n_inputs; k++) {
        int v = nd->inputs[k];
        if (v >= 0 && !c->lab[v] && c->g->values[v].constant)
            attach_broadcast(c, nd, node, v, l, os, zeroable_operand(nd->op_type, k));
        else if (v >= 0 && !c->lab[v] && c->p->known[v] && !c->g->values[v].constant) {
            /* Folded at planning time: cannot be cut in the file if it follows channels. */
            const struct shape *ks = vshape(c, v);
            unsigned axes = label_axes(l, os);
            int off = os->ndim - ks->ndim;
            for (int d = 0; d < ks->ndim; d++)
                if (ks->dims[d] > 1 && d + off >= 0 && (axes >> (d + off) & 1u)) {
                    char desc[200];
                    int r = add_reason(c, "%s reads a per-channel constant computed by another "
                                          "node",
                                       node_desc(nd, desc, sizeof desc));
                    block_labels(c, l, n, r);
                    break;
                }
        }
    }
    set_labels(c, out, l);
}

/* BatchNormalization / InstanceNormalization: per-channel constants along axis 1. */
static void do_channel_norm(struct ctx *c, int node, const struct node *nd, int in_v)
{
    const struct shape *is = vshape(c, in_v);
    unsigned axes = label_axes(c->lab[in_v], is);
    if (axes & ~2u) {
        block_inputs(c, nd, "normalizes channels that vary across positions");
        return;
    }
    for (int k = 1; k < nd->n_inputs; k++) {
        int v = nd->inputs[k];
        if (v < 0)
            continue;
        const struct tensor *t = c->g->values[v].constant;
        if (!t || t->shape.ndim != 1 || is->ndim < 2 || t->shape.dims[0] != is->dims[1]) {
            block_inputs(c, nd, "has per-channel parameters that are not initializers");
            return;
        }
        struct group_const *gc;
        int rc = add_const(c, v, node, 0, k == 1 || k == 2, (size_t)is->dims[1], &gc);
        if (rc < 0)
            return;
        if (rc > 0) {
            block_inputs(c, nd, "shares its parameters with another node");
            return;
        }
        size_t inner = shape_numel(is) / (size_t)is->dims[0] / (size_t)is->dims[1];
        for (size_t ch = 0; ch < (size_t)is->dims[1]; ch++) {
            label x = c->lab[in_v][ch * inner];
            if (gc->unit[ch] < 0)
                gc->unit[ch] = x ? x : -1;
            else
                unite_labels(c, gc->unit[ch], x);
        }
    }
    int amap[TENSOR_MAX_DIMS];
    for (int d = 0; d < is->ndim; d++)
        amap[d] = d;
    if (nd->outputs[0] >= 0)
        set_labels(c, nd->outputs[0], project(c, c->lab[in_v], is, nd->outputs[0], amap));
}

/* Ops that keep the channel axis 1 and work within each channel. */
static void do_pool(struct ctx *c, const struct node *nd, int in_v)
{
    const struct shape *is = vshape(c, in_v);
    unsigned axes = label_axes(c->lab[in_v], is);
    int out = nd->outputs[0];
    if (axes & ~2u) {
        block_inputs(c, nd, "works across positions whose channels differ");
        return;
    }
    if (out < 0)
        return;
    const struct shape *os = vshape(c, out);
    if (os->ndim != is->ndim || (is->ndim > 1 && os->dims[1] != is->dims[1])) {
        block_inputs(c, nd, "changes the number of channels");
        return;
    }
    int amap[TENSOR_MAX_DIMS];
    for (int d = 0; d < os->ndim; d++)
        amap[d] = d == 1 ? 1 : -1;
    set_labels(c, out, project(c, c->lab[in_v], is, out, amap));
}

/* The axes a reduction node removes (a bit per axis of a rank-r input). */
static unsigned reduce_axes(const struct ctx *c, const struct node *nd, int rank)
{
    size_t n = 0;
    const int64_t *ax = node_attr_ints(nd, "axes", &n);
    if (!ax && nd->n_inputs > 1 && nd->inputs[1] >= 0 && c->p->known[nd->inputs[1]]) {
        const struct tensor *t = &c->p->values[nd->inputs[1]];
        if (t->dtype == DTYPE_INT64) {
            ax = tensor_i64(t);
            n = tensor_numel(t);
        }
    }
    if (!ax || n == 0)
        return node_attr_int(nd, "noop_with_empty_axes", 0) ? 0 : (1u << rank) - 1;
    unsigned m = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + rank : ax[i];
        if (a >= 0 && a < rank)
            m |= 1u << a;
    }
    return m;
}

static void do_reduce(struct ctx *c, const struct node *nd, int in_v)
{
    const struct shape *is = vshape(c, in_v);
    unsigned axes = label_axes(c->lab[in_v], is);
    unsigned red = reduce_axes(c, nd, is->ndim);
    int out = nd->outputs[0];
    if (axes & red) {
        block_inputs(c, nd, "reduces over the channels");
        return;
    }
    if (out < 0)
        return;
    bool keep = node_attr_int(nd, "keepdims", 1) != 0;
    int amap[TENSOR_MAX_DIMS], o = 0;
    for (int d = 0; d < is->ndim; d++) {
        if (red >> d & 1u) {
            if (keep)
                amap[o++] = -1;
        } else {
            amap[o++] = d;
        }
    }
    if (o != vshape(c, out)->ndim) {
        block_inputs(c, nd, "has an output rank the analysis does not follow");
        return;
    }
    set_labels(c, out, project(c, c->lab[in_v], is, out, amap));
}

/* Softmax-like ops normalize along axes; the channels must not be among them. */
static void do_normalize(struct ctx *c, const struct node *nd, int in_v)
{
    const struct shape *is = vshape(c, in_v);
    int rank = is->ndim;
    bool layernorm = strcmp(nd->op_type, "LayerNormalization") == 0;
    int64_t axis = node_attr_int(nd, "axis", layernorm || c->p->opset >= 13 ? -1 : 1);
    if (axis < 0)
        axis += rank;
    unsigned norm = 0;
    if (layernorm || c->p->opset < 13) {
        for (int d = (int)axis; d < rank; d++)
            norm |= 1u << d;
    } else {
        norm = 1u << axis;
    }
    if (label_axes(c->lab[in_v], is) & norm) {
        block_inputs(c, nd, "normalizes over the channels");
        return;
    }
    do_unary(c, nd, in_v);
}

/* Which elements of 1-D int64 value v (n entries) are written in the file (initializers,
 * Constant nodes, and Concat/Unsqueeze/Squeeze/Cast of them); the rest are computed, for
 * example from the input's shape. */
static void literal_mask(const struct ctx *c, int v, bool *mask, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mask[i] = false;
    if (v < 0)
        return;
    const struct value *val = &c->g->values[v];
    if (val->constant) {
        for (size_t i = 0; i < n; i++)
            mask[i] = true;
        return;
    }
    if (val->producer < 0)
        return;
    const struct node *nd = &c->g->nodes[val->producer];
    if (strcmp(nd->op_type, "Constant") == 0) {
        for (size_t i = 0; i < n; i++)
            mask[i] = true;
    } else if (strcmp(nd->op_type, "Concat") == 0) {
        size_t at = 0;
        for (int k = 0; k < nd->n_inputs && at < n; k++) {
            int iv = nd->inputs[k];
            if (iv < 0)
                continue;
            size_t m = vnumel(c, iv);
            if (at + m > n)
                m = n - at;
            literal_mask(c, iv, mask + at, m);
            at += m;
        }
    } else if (strcmp(nd->op_type, "Unsqueeze") == 0 || strcmp(nd->op_type, "Squeeze") == 0 ||
               strcmp(nd->op_type, "Cast") == 0 || strcmp(nd->op_type, "Identity") == 0) {
        if (nd->inputs[0] >= 0 && vnumel(c, nd->inputs[0]) == n)
            literal_mask(c, nd->inputs[0], mask, n);
    }
}

/* Couples, in labels l of shape s, the elements whose coordinate along axis differs by a
 * multiple of period: the same position in every equal piece keeps the pieces equal. */
static void couple_periodic(struct ctx *c, const label *l, const struct shape *s, int axis,
                            size_t period)
{
    size_t st[TENSOR_MAX_DIMS], n = shape_numel(s);
    strides_of(s, st);
    for (size_t i = 0; i < n; i++) {
        size_t coord = (i / st[axis]) % (size_t)s->dims[axis];
        if (coord >= period)
            unite_labels(c, l[i], l[i - (coord - coord % period) * st[axis]]);
    }
}

/* Runs a data-movement node on float copies of its inputs' labels; outputs[k] receive
 * labels (NULL when none). Returns -1 when the op cannot run. */
static int run_on_labels(struct ctx *c, const struct node *nd, label **outs)
{
    const struct op_def *op = ops_find(nd->op_type);
    int nin = nd->n_inputs, nout = nd->n_outputs;
    const struct tensor **ins = calloc((size_t)nin + 1, sizeof *ins);
    struct tensor **owned = calloc((size_t)nin + 1, sizeof *owned);
    struct tensor **o = calloc((size_t)nout + 1, sizeof *o);
    int rc = -1;
    void *scratch = NULL;
    struct err e;
    if (!op || !ins || !owned || !o)
        goto done;
    for (int k = 0; k < nin; k++) {
        int v = nd->inputs[k];
        if (v < 0)
            continue;
        const struct tensor *pv = &c->p->values[v];
        if (c->lab[v] || !c->p->known[v]) {
            enum dtype t = c->lab[v] ? DTYPE_FLOAT : pv->dtype;
            if (!(owned[k] = tensor_new(t, &pv->shape, &e)))
                goto done;
            if (c->lab[v]) {
                float *f = tensor_f32(owned[k]);
                for (size_t i = 0; i < tensor_numel(owned[k]); i++)
                    f[i] = (float)c->lab[v][i];
            }
            ins[k] = owned[k];
        } else {
            ins[k] = pv;
        }
    }
    struct shape empty = {0};
    for (int k = 0; k < nout; k++) {
        if (!(o[k] = tensor_new(DTYPE_FLOAT, &empty, &e)))
            goto done;
        o[k]->dtype = DTYPE_UNDEFINED;
    }
    struct op_io io = {.node = nd, .opset = c->p->opset, .n_in = nin, .in = ins, .n_out = nout,
                       .out = o};
    if (op->shape(&io, &e) < 0)
        goto done;
    for (int k = 0; k < nout; k++) {
        struct shape s = o[k]->shape;
        if (tensor_reshape_alloc(o[k], o[k]->dtype, &s, &e) < 0)
            goto done;
    }
    if (io.scratch_bytes && !(scratch = malloc(io.scratch_bytes)))
        goto done;
    io.scratch = scratch;
    if (op->run(&io, &e) < 0)
        goto done;
    for (int k = 0; k < nout; k++) {
        outs[k] = NULL;
        int v = nd->outputs[k];
        if (v < 0 || o[k]->dtype != DTYPE_FLOAT || tensor_numel(o[k]) != vnumel(c, v))
            continue;
        label *l = new_labels(c, v);
        if (!l)
            goto done;
        const float *f = tensor_f32(o[k]);
        for (size_t i = 0; i < tensor_numel(o[k]); i++)
            l[i] = (label)lrintf(f[i]);
        outs[k] = l;
    }
    rc = 0;
done:
    free(scratch);
    for (int k = 0; o && k < nout; k++)
        tensor_free(o[k]);
    for (int k = 0; owned && k < nin; k++)
        tensor_free(owned[k]);
    free(o);
    free(owned);
    free(ins);
    return rc;
}

static int64_t known_int(const struct ctx *c, int v, size_t i, int64_t dflt)
{
    if (v < 0 || !c->p->known[v] || c->p->values[v].dtype != DTYPE_INT64 ||
        i >= tensor_numel(&c->p->values[v]))
        return dflt;
    return tensor_i64(&c->p->values[v])[i];
}

/* The nodes reading value v. */
static int consumers_of(const struct graph *g, int v)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            n += g->nodes[i].inputs[k] == v;
    return n;
}

/* Whether int64 constant sv can be rewritten in the file: an initializer or a Constant
 * node's output, read by this node only. */
static bool rewritable(const struct ctx *c, int sv)
{
    if (sv < 0)
        return false;
    const struct value *val = &c->g->values[sv];
    bool constant = val->constant ||
                    (val->producer >= 0 &&
                     strcmp(c->g->nodes[val->producer].op_type, "Constant") == 0);
    return constant && consumers_of(c->g, sv) == 1;
}

/* Records that entry `index` of constant sv (read by nd) counts the positions [from, upto)
 * of an axis whose len positions carry labels axis_labels[i * stride]. */
static int add_count_edit(struct ctx *c, const struct node *nd, int sv, size_t index,
                          const label *axis_labels, size_t stride, size_t len, size_t from,
                          size_t upto)
{
    if (!rewritable(c, sv))
        return -1;
    if (c->n_edits == c->cap_edits) {
        size_t cap = c->cap_edits ? 2 * c->cap_edits : 8;
        struct group_shape_edit *r = realloc(c->edits, cap * sizeof *r);
        if (!r)
            return c->oom = true, -1;
        c->edits = r;
        c->cap_edits = cap;
    }
    struct group_shape_edit *e = &c->edits[c->n_edits];
    e->value = sv;
    e->node = (int)(nd - c->g->nodes);
    e->index = index;
    e->len = len;
    e->from = from;
    e->upto = upto;
    if (!(e->unit = malloc((len ? len : 1) * sizeof *e->unit)))
        return c->oom = true, -1;
    for (size_t i = 0; i < len; i++) /* labels until finish */
        e->unit[i] = axis_labels[i * stride] ? axis_labels[i * stride] : -1;
    c->n_edits++;
    return 0;
}

/* Entry `index` of Reshape nd's target sv sizes axis `index` of its output (labels ol,
 * shape os): on export, the kept count. */
static int add_shape_edit(struct ctx *c, const struct node *nd, int sv, size_t index,
                          const label *ol, const struct shape *os)
{
    size_t st[TENSOR_MAX_DIMS];
    strides_of(os, st);
    size_t len = (size_t)os->dims[index];
    return add_count_edit(c, nd, sv, index, ol, st[index], len, 0, len);
}

/* A Slice along channel axis d whose start and end are written in the file (step 1): the
 * bounds become the kept counts before them on export, and nothing else is needed. False
 * when the bounds are not both literal or cannot be rewritten. */
static bool slice_literal(struct ctx *c, const struct node *nd, int in_v, int d)
{
    const struct shape *is = vshape(c, in_v);
    int axes_v = nd->n_inputs > 3 ? nd->inputs[3] : -1;
    size_t na = vnumel(c, nd->inputs[1]);
    if (na > TENSOR_MAX_DIMS)
        return false;
    bool ms[TENSOR_MAX_DIMS] = {0}, me[TENSOR_MAX_DIMS] = {0};
    literal_mask(c, nd->inputs[1], ms, na);
    literal_mask(c, nd->inputs[2], me, na);
    size_t st[TENSOR_MAX_DIMS], total = (size_t)is->dims[d];
    strides_of(is, st);
    for (size_t i = 0; i < na; i++) {
        int64_t a = axes_v >= 0 ? known_int(c, axes_v, i, -99) : (int64_t)i;
        if (a < 0)
            a += is->ndim;
        if (a != d)
            continue;
        int64_t s0 = known_int(c, nd->inputs[1], i, -1), e0 = known_int(c, nd->inputs[2], i, -1);
        int64_t stp = nd->n_inputs > 4 ? known_int(c, nd->inputs[4], i, 1) : 1;
        if (!ms[i] || !me[i] || stp != 1)
            return false;
        int64_t t = (int64_t)total;
        int64_t s1 = s0 < 0 ? s0 + t : s0, e1 = e0 < 0 ? e0 + t : e0;
        s1 = s1 < 0 ? 0 : s1 > t ? t : s1;
        e1 = e1 < 0 ? 0 : e1 > t ? t : e1;
        bool start_fixed = s0 == 0, end_fixed = e0 >= t;
        if ((!start_fixed && !rewritable(c, nd->inputs[1])) ||
            (!end_fixed && !rewritable(c, nd->inputs[2])))
            return false;
        if (!start_fixed && add_count_edit(c, nd, nd->inputs[1], i, c->lab[in_v], st[d], total, 0,
                                           (size_t)s1) < 0)
            return false;
        if (!end_fixed && add_count_edit(c, nd, nd->inputs[2], i, c->lab[in_v], st[d], total, 0,
                                         (size_t)e1) < 0)
            return false;
        return true;
    }
    return false;
}

/* Checks and couplings after a data-movement node; blocks what its export could not keep
 * consistent. */
static void check_movement(struct ctx *c, const struct node *nd, int in_v, label **outs)
{
    const struct shape *is = vshape(c, in_v);
    unsigned in_axes = label_axes(c->lab[in_v], is);
    char desc[200];
    const char *op = nd->op_type;
    if (in_axes & 1u) {
        block_inputs(c, nd, "moves channels into the batch dimension");
        return;
    }
    if (strcmp(op, "Reshape") == 0 && outs[0]) {
        const struct shape *os = vshape(c, nd->outputs[0]);
        unsigned oa = label_axes(outs[0], os);
        bool lit[TENSOR_MAX_DIMS];
        int sv = nd->n_inputs > 1 ? nd->inputs[1] : -1;
        if (sv >= 0)
            literal_mask(c, sv, lit, (size_t)os->ndim);
        else
            for (int d = 0; d < os->ndim; d++)
                lit[d] = true;
        int first = -1, count = 0;
        for (int d = 0; d < os->ndim; d++)
            if (oa >> d & 1u) {
                if (first < 0)
                    first = d;
                count++;
            }
        bool ok = true;
        if (oa & 1u) {
            ok = false;
        } else if (count == 1) {
            int64_t t = known_int(c, sv, (size_t)first, -2);
            /* A written size other than -1 (or 0 copying the same axis) holds the old
             * channel count: it is rewritten on export when the file lets it be. */
            ok = !lit[first] || t == -1 || (t == 0 && (in_axes >> first & 1u));
            if (!ok && t == os->dims[first])
                ok = add_shape_edit(c, nd, sv, (size_t)first, outs[0], os) == 0;
        } else if (count == 2 && (oa >> (first + 1) & 1u)) {
            int64_t t2 = known_int(c, sv, (size_t)first + 1, -2);
            ok = lit[first] && (!lit[first + 1] || t2 == -1);
            if (ok) /* (groups, channels per group): the same position in every group */
                couple_periodic(c, outs[0], os, first, 1);
        } else if (count > 1) {
            ok = false;
        }
        if (!ok) {
            int r = add_reason(c, "%s writes the channel count in its target shape",
                               node_desc(nd, desc, sizeof desc));
            block_labels(c, c->lab[in_v], vnumel(c, in_v), r);
        }
        return;
    }
    if (strcmp(op, "Slice") == 0 && outs[0]) {
        const struct shape *os = vshape(c, nd->outputs[0]);
        for (int d = 0; d < is->ndim; d++) {
            if (!(in_axes >> d & 1u) || os->dims[d] == is->dims[d])
                continue;
            /* A cut along the channels. Fine when its bounds come from the shape (or are
             * 0 and the end) and it is one of equal pieces: the pieces then lose the same
             * positions. Bounds written in the file would hold the old channel counts. */
            size_t len = (size_t)os->dims[d], total = (size_t)is->dims[d];
            bool ok = c->p->opset >= 10 && nd->n_inputs > 2;
            int64_t start = 0;
            if (ok && slice_literal(c, nd, in_v, d))
                continue;
            if (ok) {
                int axes_v = nd->n_inputs > 3 ? nd->inputs[3] : -1;
                size_t na = vnumel(c, nd->inputs[1]);
                bool ms[TENSOR_MAX_DIMS] = {0}, me[TENSOR_MAX_DIMS] = {0};
                if (na > TENSOR_MAX_DIMS)
                    na = TENSOR_MAX_DIMS;
                literal_mask(c, nd->inputs[1], ms, na);
                literal_mask(c, nd->inputs[2], me, na);
                for (size_t i = 0; i < na; i++) {
                    int64_t a = axes_v >= 0 ? known_int(c, axes_v, i, -99) : (int64_t)i;
                    if (a < 0)
                        a += is->ndim;
                    if (a != d)
                        continue;
                    int64_t s0 = known_int(c, nd->inputs[1], i, -1);
                    int64_t e0 = known_int(c, nd->inputs[2], i, -1);
                    int64_t stp = nd->n_inputs > 4 ? known_int(c, nd->inputs[4], i, 1) : 1;
                    start = s0 < 0 ? s0 + (int64_t)total : s0;
                    ok = stp == 1 && (!ms[i] || s0 == 0) && (!me[i] || e0 >= (int64_t)total);
                }
            }
            if (!ok || len == 0 || total % len || start < 0 || (size_t)start % len) {
                int r = add_reason(c, "%s cuts the channels at positions written in the file",
                                   node_desc(nd, desc, sizeof desc));
                block_labels(c, c->lab[in_v], vnumel(c, in_v), r);
                return;
            }
            couple_periodic(c, c->lab[in_v], is, d, len);
        }
        return;
    }
    if (strcmp(op, "Split") == 0) {
        int64_t axis = node_attr_int(nd, "axis", 0);
        if (axis < 0)
            axis += is->ndim;
        if (!(in_axes >> axis & 1u))
            return;
        size_t n_split = 0;
        bool literal = node_attr_ints(nd, "split", &n_split) != NULL;
        if (!literal && nd->n_inputs > 1 && nd->inputs[1] >= 0) {
            bool m[TENSOR_MAX_DIMS * 8];
            size_t n = vnumel(c, nd->inputs[1]);
            literal_mask(c, nd->inputs[1], m, n < sizeof m ? n : sizeof m);
            literal = n && m[0];
        }
        size_t total = (size_t)is->dims[axis], parts = (size_t)nd->n_outputs;
        int sv = nd->n_inputs > 1 ? nd->inputs[1] : -1;
        if (literal && sv >= 0 && rewritable(c, sv) && vnumel(c, sv) == parts) {
            /* Sizes written in the file become the kept counts of their parts. */
            size_t st[TENSOR_MAX_DIMS], from = 0;
            strides_of(is, st);
            for (size_t k = 0; k < parts; k++) {
                size_t size = (size_t)known_int(c, sv, k, 0);
                if (add_count_edit(c, nd, sv, k, c->lab[in_v], st[axis], total, from,
                                   from + size) < 0)
                    break;
                from += size;
            }
            return;
        }
        if (literal || parts == 0 || total % parts) {
            int r = add_reason(c, "%s splits the channels at sizes written in the file",
                               node_desc(nd, desc, sizeof desc));
            block_labels(c, c->lab[in_v], vnumel(c, in_v), r);
            return;
        }
        couple_periodic(c, c->lab[in_v], is, (int)axis, total / parts);
        return;
    }
    if (strcmp(op, "Gather") == 0) {
        int64_t axis = node_attr_int(nd, "axis", 0);
        if (axis < 0)
            axis += is->ndim;
        if (in_axes >> axis & 1u) {
            int r = add_reason(c, "%s picks channels by index", node_desc(nd, desc, sizeof desc));
            block_labels(c, c->lab[in_v], vnumel(c, in_v), r);
        }
    }
}

static void do_movement(struct ctx *c, const struct node *nd)
{
    label **outs = calloc((size_t)nd->n_outputs + 1, sizeof *outs);
    if (!outs) {
        c->oom = true;
        return;
    }
    int in_v = -1;
    for (int k = 0; k < nd->n_inputs && in_v < 0; k++)
        if (nd->inputs[k] >= 0 && c->lab[nd->inputs[k]])
            in_v = nd->inputs[k];
    if (run_on_labels(c, nd, outs) < 0) {
        block_inputs(c, nd, "could not be followed by the dependency analysis");
    } else {
        if (strcmp(nd->op_type, "Concat") != 0)
            check_movement(c, nd, in_v, outs);
        for (int k = 0; k < nd->n_outputs; k++)
            set_labels(c, nd->outputs[k], outs[k]);
    }
    free(outs);
}

/* A prunable layer: its input columns read labels; its outputs get slots of their own. */
static void do_layer(struct ctx *c, int node, const struct node *nd, size_t li)
{
    struct group_set *gs = c->gs;
    const struct layer *l = &c->layers->items[li];
    bool conv = strcmp(l->op, "Conv") == 0;
    int64_t groups = conv ? node_attr_int(nd, "group", 1) : 1;
    size_t outs = gs->out_count[li];
    int in_v = nd->inputs[0], out_v = nd->outputs[0];
    char desc[200];
    size_t cols = 0;
    struct weight_view v;
    struct err ignored;
    bool have_view = prune_view(c->g, l, &v, &ignored) == 0;
    if (have_view)
        cols = conv ? v.channels * (size_t)groups : v.inputs;

    /* Input columns. */
    if (in_v >= 0 && c->lab[in_v] && have_view) {
        const struct shape *is = vshape(c, in_v);
        unsigned axes = label_axes(c->lab[in_v], is);
        int ch_axis = conv ? 1 : is->ndim - 1;
        bool trans_a = !conv && strcmp(l->op, "Gemm") == 0 && node_attr_int(nd, "transA", 0);
        if ((axes & ~(1u << ch_axis)) || trans_a || (size_t)is->dims[ch_axis] != cols) {
            int r = add_reason(c, "%s reads its input channels in a layout the analysis does "
                                  "not follow",
                               node_desc(nd, desc, sizeof desc));
            block_labels(c, c->lab[in_v], vnumel(c, in_v), r);
        } else {
            size_t st[TENSOR_MAX_DIMS];
            strides_of(is, st);
            int *cu = malloc((cols ? cols : 1) * sizeof *cu);
            if (!cu) {
                c->oom = true;
                return;
            }
            for (size_t j = 0; j < cols; j++)
                cu[j] = c->lab[in_v][j * st[ch_axis]]; /* a label for now */
            gs->in_unit[li] = cu;
            gs->in_count[li] = cols;
            size_t cpg = cols / (size_t)groups;
            if (groups > 1 && cpg > 1) /* the same position in every group */
                for (size_t j = cpg; j < cols; j++)
                    unite_labels(c, cu[j], cu[j % cpg]);
        }
    }

    /* Output channels: fresh slots on the channel axis (1 for Conv and Gemm, the last for
     * MatMul). */
    if (out_v < 0 || outs == 0)
        return;
    const struct shape *os = vshape(c, out_v);
    int oaxis = conv ? 1 : os->ndim - 1;
    if (os->ndim < 2 || (size_t)os->dims[oaxis] != outs)
        return;
    label *ol = new_labels(c, out_v);
    if (!ol)
        return;
    size_t st[TENSOR_MAX_DIMS], n = shape_numel(os);
    strides_of(os, st);
    for (size_t i = 0; i < n; i++)
        ol[i] = (label)(gs->slot_base[li] + (i / st[oaxis]) % outs + 1);
    size_t opg = outs / (size_t)groups;
    if (conv && groups > 1) {
        size_t cpg = cols / (size_t)groups;
        if (cpg == 1) {
            /* Depthwise: filters [i*m, (i+1)*m) read input channel i only, and go with it. */
            gs->depthwise[li] = true;
            for (size_t o = 0; o < outs; o++) {
                label in_l = gs->in_unit[li] ? gs->in_unit[li][o / opg] : 0;
                label mine = (label)(gs->slot_base[li] + o + 1);
                if (in_l) {
                    unite_labels(c, mine, in_l);
                } else if (c->slot_reason[mine - 1] < 0) {
                    c->slot_reason[mine - 1] =
                        add_reason(c, "%s is depthwise over channels that cannot be removed",
                                   node_desc(nd, desc, sizeof desc));
                }
            }
        } else if (opg == 1) {
            int r = add_reason(c, "%s has one filter per group", node_desc(nd, desc, sizeof desc));
            block_labels(c, ol, n, r);
        } else {
            for (size_t o = opg; o < outs; o++)
                unite_labels(c, (label)(gs->slot_base[li] + o + 1),
                             (label)(gs->slot_base[li] + o % opg + 1));
        }
    }
    /* The layer's own bias follows its outputs: Conv's B along the channel axis, Gemm's C
     * broadcast against the output. */
    int bv = nd->n_inputs > 2 ? nd->inputs[2] : -1;
    if (bv >= 0 && c->g->values[bv].constant && conv) {
        struct group_const *gc;
        int rc = add_const(c, bv, node, 0, true, outs, &gc);
        if (rc < 0)
            return;
        for (size_t o = 0; rc == 0 && o < outs; o++)
            gc->unit[o] = (int)(gs->slot_base[li] + o + 1);
    } else if (bv >= 0 && c->g->values[bv].constant) {
        attach_broadcast(c, nd, node, bv, ol, os, true);
    }
    set_labels(c, out_v, ol);
}

/* The labels of values no later node reads (the model's outputs excepted) are dropped
 * as the walk goes, so memory follows the live activations. */
static void drop_dead(struct ctx *c, int n, const int *last_use)
{
    const struct node *nd = &c->g->nodes[n];
    for (int k = 0; k < nd->n_inputs + nd->n_outputs; k++) {
        int v = k < nd->n_inputs ? nd->inputs[k] : nd->outputs[k - nd->n_inputs];
        if (v >= 0 && c->lab[v] && last_use[v] <= n) {
            free(c->lab[v]);
            c->lab[v] = NULL;
        }
    }
}

static void propagate_node(struct ctx *c, int n);
static void finish_outputs(struct ctx *c);

static void propagate(struct ctx *c)
{
    const struct graph *g = c->g;
    int *last_use = malloc(((size_t)g->n_values + 1) * sizeof *last_use);
    if (!last_use) {
        c->oom = true;
        return;
    }
    for (int v = 0; v < g->n_values; v++)
        last_use[v] = -1;
    for (int n = 0; n < g->n_nodes; n++)
        for (int k = 0; k < g->nodes[n].n_inputs; k++)
            if (g->nodes[n].inputs[k] >= 0)
                last_use[g->nodes[n].inputs[k]] = n;
    for (int o = 0; o < g->n_outputs; o++)
        if (g->outputs[o] >= 0)
            last_use[g->outputs[o]] = g->n_nodes;
    for (int n = 0; n < g->n_nodes && !c->oom; n++) {
        propagate_node(c, n);
        drop_dead(c, n, last_use);
    }
    free(last_use);
    finish_outputs(c);
}

/* One node: a prunable layer gets slots of its own; any other node that reads labels
 * passes them on by its op class, or blocks them when the analysis cannot follow it. */
static void propagate_node(struct ctx *c, int n)
{
    const struct node *nd = &c->g->nodes[n];
    int li = c->node_layer[n];
    if (li >= 0) {
        do_layer(c, n, nd, (size_t)li);
        return;
    }
    int in_v = -1, labelled = 0;
    for (int k = 0; k < nd->n_inputs; k++)
        if (nd->inputs[k] >= 0 && c->lab[nd->inputs[k]]) {
            if (in_v < 0)
                in_v = nd->inputs[k];
            labelled++;
        }
    const char *op = nd->op_type;
    if (labelled == 0 || in_list(op, SHAPE_ONLY))
        return;
    if (in_list(op, ELEMENTWISE) || (labelled > 1 && in_list(op, UNARY)))
        do_elementwise(c, n, nd);
    else if (in_list(op, UNARY))
        do_unary(c, nd, in_v);
    else if (strcmp(op, "BatchNormalization") == 0 || strcmp(op, "InstanceNormalization") == 0)
        do_channel_norm(c, n, nd, in_v);
    else if (in_list(op, POOLS))
        do_pool(c, nd, in_v);
    else if (in_list(op, REDUCES))
        do_reduce(c, nd, in_v);
    else if (strcmp(op, "Softmax") == 0 || strcmp(op, "LogSoftmax") == 0 ||
             strcmp(op, "Hardmax") == 0 || strcmp(op, "LayerNormalization") == 0)
        do_normalize(c, nd, in_v);
    else if (in_list(op, MOVEMENT))
        do_movement(c, nd);
    else
        block_inputs(c, nd, "mixes channels (the analysis cannot follow them through it)");
}

static void finish_outputs(struct ctx *c)
{
    const struct graph *g = c->g;
    /* The model's outputs keep every channel. */
    for (int o = 0; o < g->n_outputs; o++) {
        int v = g->outputs[o];
        if (v >= 0 && c->lab[v]) {
            int r = add_reason(c, "its channels are outputs of the model ('%s')", g->values[v].name);
            block_labels(c, c->lab[v], vnumel(c, v), r);
        }
    }
}

/* ---- units and groups ---- */

static int finish(struct ctx *c)
{
    struct group_set *gs = c->gs;
    size_t ns = gs->n_slots, nl = gs->n_layers;
    int *unit_of_root = malloc((ns ? ns : 1) * sizeof *unit_of_root);
    gs->slot_unit = malloc((ns ? ns : 1) * sizeof *gs->slot_unit);
    int *lparent = malloc((nl ? nl : 1) * sizeof *lparent);
    if (!unit_of_root || !gs->slot_unit || !lparent) {
        free(unit_of_root);
        free(lparent);
        return err_oom(c->err, "dependency groups", ns);
    }
    for (size_t s = 0; s < ns; s++)
        unit_of_root[s] = -1;
    gs->n_units = 0;
    for (size_t s = 0; s < ns; s++) { /* roots are the smallest slots: units in slot order */
        int r = uf_find(c->parent, (int)s);
        if (unit_of_root[r] < 0)
            unit_of_root[r] = (int)gs->n_units++;
        gs->slot_unit[s] = unit_of_root[r];
    }
    /* Layers sharing a unit form a group. */
    for (size_t i = 0; i < nl; i++)
        lparent[i] = (int)i;
    int *unit_layer = malloc((gs->n_units + 1) * sizeof *unit_layer);
    if (!unit_layer) {
        free(unit_of_root);
        free(lparent);
        return err_oom(c->err, "dependency groups", gs->n_units);
    }
    for (size_t u = 0; u < gs->n_units; u++)
        unit_layer[u] = -1;
    for (size_t li = 0; li < nl; li++)
        for (size_t ch = 0; ch < gs->out_count[li]; ch++) {
            int u = groups_unit_of(gs, li, ch);
            if (unit_layer[u] < 0)
                unit_layer[u] = (int)li;
            else
                uf_union(lparent, unit_layer[u], (int)li);
        }
    int *group_of_root = malloc((nl ? nl : 1) * sizeof *group_of_root);
    gs->layer_group = malloc((nl ? nl : 1) * sizeof *gs->layer_group);
    gs->unit_group = malloc((gs->n_units + 1) * sizeof *gs->unit_group);
    gs->groups = calloc(nl + 1, sizeof *gs->groups);
    int rc = -1;
    if (!group_of_root || !gs->layer_group || !gs->unit_group || !gs->groups) {
        err_oom(c->err, "dependency groups", nl);
        goto done;
    }
    for (size_t i = 0; i < nl; i++)
        group_of_root[i] = -1;
    gs->n_groups = 0;
    for (size_t li = 0; li < nl; li++) {
        gs->layer_group[li] = -1;
        if (gs->out_count[li] == 0)
            continue;
        int r = uf_find(lparent, (int)li);
        if (group_of_root[r] < 0)
            group_of_root[r] = (int)gs->n_groups++;
        gs->layer_group[li] = group_of_root[r];
    }
    for (size_t u = 0; u < gs->n_units; u++)
        gs->unit_group[u] = unit_layer[u] >= 0 ? gs->layer_group[unit_layer[u]] : -1;
    /* Members and units of each group. */
    for (size_t li = 0; li < nl; li++) {
        int gi = gs->layer_group[li];
        if (gi >= 0)
            gs->groups[gi].n_members++;
    }
    for (size_t u = 0; u < gs->n_units; u++)
        if (gs->unit_group[u] >= 0)
            gs->groups[gs->unit_group[u]].n_units++;
    for (size_t gi = 0; gi < gs->n_groups; gi++) {
        struct prune_group *pg = &gs->groups[gi];
        pg->members = malloc((pg->n_members + 1) * sizeof *pg->members);
        pg->units = malloc((pg->n_units + 1) * sizeof *pg->units);
        if (!pg->members || !pg->units) {
            err_oom(c->err, "dependency groups", pg->n_units);
            goto done;
        }
        pg->n_members = pg->n_units = 0;
    }
    for (size_t li = 0; li < nl; li++) {
        int gi = gs->layer_group[li];
        if (gi >= 0)
            gs->groups[gi].members[gs->groups[gi].n_members++] = li;
    }
    for (size_t u = 0; u < gs->n_units; u++) {
        int gi = gs->unit_group[u];
        if (gi >= 0)
            gs->groups[gi].units[gs->groups[gi].n_units++] = u;
    }
    /* A group is blocked by the first reason found on any of its channels. */
    for (size_t s = 0; s < ns; s++) {
        int r = c->slot_reason[s];
        int gi = gs->unit_group[gs->slot_unit[s]];
        if (r < 0 || gi < 0 || gs->groups[gi].blocked)
            continue;
        gs->groups[gi].blocked = true;
        snprintf(gs->groups[gi].why, sizeof gs->groups[gi].why, "%s", c->reasons[r]);
    }
    /* Columns and constants hold labels so far: turn them into units. */
    for (size_t li = 0; li < nl; li++)
        for (size_t j = 0; gs->in_unit[li] && j < gs->in_count[li]; j++) {
            int lab = gs->in_unit[li][j];
            gs->in_unit[li][j] = lab > 0 ? gs->slot_unit[lab - 1] : -1;
        }
    for (size_t k = 0; k < c->n_consts; k++)
        for (size_t i = 0; i < c->consts[k].len; i++) {
            int lab = c->consts[k].unit[i];
            c->consts[k].unit[i] = lab > 0 ? gs->slot_unit[lab - 1] : -1;
        }
    for (size_t k = 0; k < c->n_edits; k++)
        for (size_t i = 0; i < c->edits[k].len; i++) {
            int lab = c->edits[k].unit[i];
            c->edits[k].unit[i] = lab > 0 ? gs->slot_unit[lab - 1] : -1;
        }
    gs->consts = c->consts;
    gs->n_consts = c->n_consts;
    c->consts = NULL;
    c->n_consts = 0;
    gs->edits = c->edits;
    gs->n_edits = c->n_edits;
    c->edits = NULL;
    c->n_edits = 0;
    rc = 0;
done:
    free(group_of_root);
    free(unit_layer);
    free(unit_of_root);
    free(lparent);
    return rc;
}

int groups_find(const struct graph *g, const struct plan *p, const struct layer_list *layers,
                struct group_set *gs, struct err *err)
{
    memset(gs, 0, sizeof *gs);
    struct ctx c = {.g = g, .p = p, .layers = layers, .gs = gs, .err = err};
    size_t nl = layers->count;
    gs->n_layers = nl;
    gs->out_count = calloc(nl + 1, sizeof *gs->out_count);
    gs->slot_base = calloc(nl + 1, sizeof *gs->slot_base);
    gs->in_unit = calloc(nl + 1, sizeof *gs->in_unit);
    gs->in_count = calloc(nl + 1, sizeof *gs->in_count);
    gs->depthwise = calloc(nl + 1, sizeof *gs->depthwise);
    c.lab = calloc((size_t)g->n_values + 1, sizeof *c.lab);
    c.node_layer = malloc(((size_t)g->n_nodes + 1) * sizeof *c.node_layer);
    int rc = -1;
    if (!gs->out_count || !gs->slot_base || !gs->in_unit || !gs->in_count || !gs->depthwise ||
        !c.lab || !c.node_layer) {
        err_oom(err, "dependency groups", nl);
        goto done;
    }
    for (int n = 0; n < g->n_nodes; n++)
        c.node_layer[n] = -1;
    for (size_t li = 0; li < nl; li++) {
        const struct layer *l = &layers->items[li];
        struct weight_view v;
        struct err ignored;
        c.node_layer[l->node] = (int)li;
        gs->slot_base[li] = gs->n_slots;
        if (prune_view(g, l, &v, &ignored) == 0)
            gs->out_count[li] = v.units;
        gs->n_slots += gs->out_count[li];
    }
    c.parent = malloc((gs->n_slots + 1) * sizeof *c.parent);
    c.slot_reason = malloc((gs->n_slots + 1) * sizeof *c.slot_reason);
    if (!c.parent || !c.slot_reason) {
        err_oom(err, "dependency groups", gs->n_slots);
        goto done;
    }
    for (size_t s = 0; s < gs->n_slots; s++) {
        c.parent[s] = (int)s;
        c.slot_reason[s] = -1;
    }
    propagate(&c);
    if (c.oom) {
        err_oom(err, "dependency groups", gs->n_slots);
        goto done;
    }
    rc = finish(&c);
done:
    for (int v = 0; c.lab && v < g->n_values; v++)
        free(c.lab[v]);
    free(c.lab);
    free(c.node_layer);
    free(c.parent);
    free(c.slot_reason);
    for (size_t i = 0; i < c.n_reasons; i++)
        free(c.reasons[i]);
    free(c.reasons);
    for (size_t k = 0; k < c.n_consts; k++)
        free(c.consts[k].unit);
    free(c.consts);
    for (size_t k = 0; k < c.n_edits; k++)
        free(c.edits[k].unit);
    free(c.edits);
    if (rc < 0)
        groups_fini(gs);
    return rc;
}

void groups_fini(struct group_set *gs)
{
    if (!gs)
        return;
    for (size_t li = 0; gs->in_unit && li < gs->n_layers; li++)
        free(gs->in_unit[li]);
    free(gs->in_unit);
    free(gs->in_count);
    free(gs->out_count);
    free(gs->slot_base);
    free(gs->slot_unit);
    free(gs->unit_group);
    free(gs->layer_group);
    free(gs->depthwise);
    for (size_t k = 0; k < gs->n_consts; k++)
        free(gs->consts[k].unit);
    free(gs->consts);
    for (size_t k = 0; k < gs->n_edits; k++)
        free(gs->edits[k].unit);
    free(gs->edits);
    for (size_t gi = 0; gs->groups && gi < gs->n_groups; gi++) {
        free(gs->groups[gi].members);
        free(gs->groups[gi].units);
    }
    free(gs->groups);
    memset(gs, 0, sizeof *gs);
}

void groups_zero(const struct group_set *gs, struct graph *g, const struct layer_list *layers,
                 const bool *removed)
{
    for (size_t li = 0; li < gs->n_layers; li++) {
        const struct layer *l = &layers->items[li];
        struct weight_view v;
        struct err ignored;
        if (prune_view(g, l, &v, &ignored) < 0)
            continue;
        float *w = tensor_f32(g->values[l->weight].constant);
        /* Own outputs: whole filters or neurons. */
        for (size_t u = 0; u < gs->out_count[li] && u < v.units; u++)
            if (removed[groups_unit_of(gs, li, u)])
                for (size_t i = 0; i < v.inputs; i++)
                    w[u * v.unit_stride + i * v.in_stride] = 0.0f;
        /* Input columns. A Conv with groups reads input channel j in the filters of group
         * j / (channels per group), at position j % (channels per group). */
        if (!gs->in_unit[li])
            continue;
        size_t cols = gs->in_count[li];
        bool conv = strcmp(l->op, "Conv") == 0;
        size_t cpg = conv ? v.channels : cols;
        size_t groups = cols / (cpg ? cpg : 1), opg = v.units / (groups ? groups : 1);
        for (size_t j = 0; j < cols; j++) {
            int u = gs->in_unit[li][j];
            if (u < 0 || !removed[u])
                continue;
            size_t grp = j / cpg, local = j % cpg;
            for (size_t o = grp * opg; o < (grp + 1) * opg && o < v.units; o++)
                for (size_t k = 0; k < v.kvol; k++)
                    w[o * v.unit_stride + (local * v.kvol + k) * v.in_stride] = 0.0f;
        }
    }
    for (size_t k = 0; k < gs->n_consts; k++) {
        const struct group_const *gc = &gs->consts[k];
        if (!gc->zeroable)
            continue;
        struct tensor *t = g->values[gc->value].constant;
        if (!t || t->dtype != DTYPE_FLOAT)
            continue;
        size_t st[TENSOR_MAX_DIMS], n = tensor_numel(t);
        strides_of(&t->shape, st);
        float *d = tensor_f32(t);
        for (size_t i = 0; i < n; i++) {
            size_t idx = (i / st[gc->axis]) % (size_t)t->shape.dims[gc->axis];
            if (idx < gc->len && gc->unit[idx] >= 0 && removed[gc->unit[idx]])
                d[i] = 0.0f;
        }
    }
}

const struct prune_group *groups_layer_group(const struct group_set *gs, size_t li)
{
    if (!gs || li >= gs->n_layers || gs->layer_group[li] < 0)
        return NULL;
    return &gs->groups[gs->layer_group[li]];
}

int groups_check_structured(const struct group_set *gs, const char *unavailable,
                            const struct layer_list *layers, size_t li, struct err *err)
{
    const struct layer *l = &layers->items[li];
    if (!gs)
        return err_set(err, "layer '%s': filters and neurons cannot be removed (%s)", l->display,
                       unavailable);
    const struct prune_group *pg = groups_layer_group(gs, li);
    if (!pg)
        return err_set(err, "layer '%s' has no output channels of its own to remove", l->display);
    if (pg->blocked)
        return err_set(err, "layer '%s': its %s cannot be removed: %s", l->display,
                       strcmp(l->op, "Conv") == 0 ? "filters" : "neurons", pg->why);
    return 0;
}
