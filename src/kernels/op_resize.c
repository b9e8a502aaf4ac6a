/* Resize (opsets 10 to 19: scales or sizes, axes, keep_aspect_ratio_policy; nearest and
 * N-linear modes with every coordinate transformation) and Upsample (opset 7's scales
 * attribute, opset 9's scales input). Not cubic interpolation or antialiased downscaling,
 * which are refused as unsupported. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/op.h"

enum rs_mode { RS_NEAREST, RS_LINEAR };

enum rs_coord {
    RS_HALF_PIXEL,
    RS_HALF_PIXEL_SYMMETRIC,
    RS_PYTORCH_HALF_PIXEL,
    RS_ALIGN_CORNERS,
    RS_ASYMMETRIC,
    RS_TF_HALF_PIXEL_FOR_NEAREST,
    RS_TF_CROP_AND_RESIZE,
};

/* RS_NEAREST_SIMPLE is the rounding of Upsample and Resize-10, which name none: the floor
 * when enlarging and the ceiling when shrinking (as onnxruntime does). */
enum rs_nearest {
    RS_ROUND_PREFER_FLOOR,
    RS_ROUND_PREFER_CEIL,
    RS_FLOOR,
    RS_CEIL,
    RS_NEAREST_SIMPLE,
};

struct rs_params {
    enum rs_mode mode;
    enum rs_coord coord;
    enum rs_nearest nearest;
    float extrapolation;
    int rank;
    int64_t in[TENSOR_MAX_DIMS], out[TENSOR_MAX_DIMS];
    /* The scale of each axis as the coordinate transformations use it, and the "output
     * width" in_len * scale they divide by (the requested size when sizes were given). */
    double scale[TENSOR_MAX_DIMS], out_len[TENSOR_MAX_DIMS];
};

/* One output position along one axis: input index i0 weighted 1 - w and i1 weighted w, or
 * the extrapolation value when outside is set (tf_crop_and_resize). */
struct rs_tap {
    int64_t i0, i1;
    float w;
    bool outside;
};

struct name_code {
    const char *name;
    int code;
};

static int pick(const struct op_io *io, const char *attr, const char *dflt,
                const struct name_code *table, size_t n, int *out, struct err *err)
{
    const char *v = node_attr_string(io->node, attr, dflt);
    char list[256];
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v, table[i].name) == 0) {
            *out = table[i].code;
            return 0;
        }
        used +=
            (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", table[i].name);
        if (used >= sizeof list)
            used = sizeof list - 1;
    }
    return op_fail(io, err, "attribute %s is '%s'; expected one of %s", attr, v, list);
}

/* The resized axes (attribute axes of opset 18, else all), each once. */
static int rs_axes(const struct op_io *io, int rank, int *axes, int *n_axes, struct err *err)
{
    size_t n = 0;
    const int64_t *a = io->opset >= 18 ? node_attr_ints(io->node, "axes", &n) : NULL;
    if (!a) {
        for (int d = 0; d < rank; d++)
            axes[d] = d;
        *n_axes = rank;
        return 0;
    }
    if (n > (size_t)rank)
        return op_fail(io, err, "attribute axes has %zu values for an input of rank %d", n, rank);
    bool seen[TENSOR_MAX_DIMS] = {false};
    for (size_t i = 0; i < n; i++) {
        int64_t d = a[i] < 0 ? a[i] + rank : a[i];
        if (d < 0 || d >= rank)
            return op_fail(io, err, "axes[%zu] = %lld is out of range for rank %d", i,
                           (long long)a[i], rank);
        if (seen[d])
            return op_fail(io, err, "attribute axes names axis %lld twice", (long long)d);
        seen[d] = true;
        axes[i] = (int)d;
    }
    *n_axes = (int)n;
    return 0;
}

/* The scales as floats: from Upsample-7's attribute or from input i. NULL count 0 when the
 * input is omitted or empty. Fails (unsupported) when the input is not known at planning. */
static int rs_scales(const struct op_io *io, int i, const float **vals, size_t *count,
                     struct err *err)
{
    *vals = NULL;
    *count = 0;
    if (i < 0) {
        const struct attr *a = node_attr(io->node, "scales");
        if (!a || a->type != ATTR_FLOATS)
            return op_fail(io, err, "the scales attribute (floats) is required");
        *vals = a->floats;
        *count = a->n;
        return 0;
    }
    if (!op_has_in(io, i))
        return 0;
    const struct tensor *t = io->in[i];
    if (t->dtype != DTYPE_FLOAT)
        return op_fail(io, err, "input %d (scales) must be float32, is %s", i,
                       dtype_name(t->dtype));
    if (tensor_numel(t) == 0)
        return 0;
    if (!t->data)
        return op_unsupported(io, err,
                              "input %d (scales) computed while running (prunescope plans "
                              "output shapes before running, so scales must be a constant "
                              "or come from shapes only)",
                              i);
    *vals = tensor_f32(t);
    *count = tensor_numel(t);
    return 0;
}

static int rs_params(const struct op_io *io, struct rs_params *p, struct err *err)
{
    bool upsample = strcmp(io->node->op_type, "Upsample") == 0;
    bool modern = !upsample && io->opset >= 11;
    int scales_in = upsample ? (io->opset >= 9 ? 1 : -1) : (io->opset >= 11 ? 2 : 1);
    int sizes_in = modern ? 3 : -1;
    int max_in = upsample ? (io->opset >= 9 ? 2 : 1) : (io->opset >= 11 ? 4 : 2);
    /* Resize-11 lists roi and scales as required, but exporters omit them when sizes is
     * given; which of scales and sizes is present is checked below. */
    if (op_check_arity(io, (upsample && io->opset < 9) || modern ? 1 : 2, max_in, err) < 0 ||
        op_check_input(io, 0, DTYPE_FLOAT, err) < 0)
        return -1;
    const struct shape *x = &io->in[0]->shape;
    char sx[96];
    memset(p, 0, sizeof *p);
    p->rank = x->ndim;
    if (x->ndim < 1)
        return op_fail(io, err, "input X must have at least one dim");

    static const struct name_code modes[] = {
        {"nearest", RS_NEAREST}, {"linear", RS_LINEAR}, {"bilinear", RS_LINEAR}, {"cubic", -1}};
    int code;
    /* "bilinear" is Upsample-7's older spelling; Resize knows only the other three. */
    if (pick(io, "mode", "nearest", modes, upsample ? 3 : 4, &code, err) < 0)
        return -1;
    if (code < 0)
        return op_unsupported(io, err, "mode 'cubic'");
    if (!upsample && strcmp(node_attr_string(io->node, "mode", "nearest"), "bilinear") == 0)
        return op_fail(io, err, "attribute mode is 'bilinear'; expected nearest, linear or cubic");
    p->mode = (enum rs_mode)code;
    p->coord = RS_ASYMMETRIC;
    p->nearest = RS_NEAREST_SIMPLE;
    if (modern) {
        static const struct name_code coords[] = {
            {"half_pixel", RS_HALF_PIXEL},
            {"half_pixel_symmetric", RS_HALF_PIXEL_SYMMETRIC},
            {"pytorch_half_pixel", RS_PYTORCH_HALF_PIXEL},
            {"align_corners", RS_ALIGN_CORNERS},
            {"asymmetric", RS_ASYMMETRIC},
            {"tf_half_pixel_for_nearest", RS_TF_HALF_PIXEL_FOR_NEAREST},
            {"tf_crop_and_resize", RS_TF_CROP_AND_RESIZE},
        };
        static const struct name_code nearests[] = {
            {"round_prefer_floor", RS_ROUND_PREFER_FLOOR},
            {"round_prefer_ceil", RS_ROUND_PREFER_CEIL},
            {"floor", RS_FLOOR},
            {"ceil", RS_CEIL},
        };
        if (pick(io, "coordinate_transformation_mode", "half_pixel", coords, 7, &code, err) < 0)
            return -1;
        if (code == RS_HALF_PIXEL_SYMMETRIC && io->opset < 19)
            return op_fail(io, err,
                           "coordinate_transformation_mode 'half_pixel_symmetric' "
                           "needs opset 19");
        p->coord = (enum rs_coord)code;
        if (pick(io, "nearest_mode", "round_prefer_floor", nearests, 4, &code, err) < 0)
            return -1;
        p->nearest = (enum rs_nearest)code;
        p->extrapolation = node_attr_float(io->node, "extrapolation_value", 0.0f);
    }

    int axes[TENSOR_MAX_DIMS], n_axes;
    if (rs_axes(io, x->ndim, axes, &n_axes, err) < 0)
        return -1;
    for (int d = 0; d < x->ndim; d++) {
        p->in[d] = p->out[d] = x->dims[d];
        p->scale[d] = 1.0;
        p->out_len[d] = (double)x->dims[d];
    }
    const float *scales;
    size_t n_scales;
    if (rs_scales(io, scales_in, &scales, &n_scales, err) < 0)
        return -1;
    const int64_t *sizes = NULL;
    size_t n_sizes = 0;
    struct op_ints keep;
    if (sizes_in >= 0 && op_has_in(io, sizes_in)) {
        if (op_const_ints(io, sizes_in, &keep, &sizes, &n_sizes, err) < 0)
            return -1;
        if (n_sizes == 0)
            sizes = NULL;
    }
    if (scales && sizes)
        return op_fail(io, err, "inputs scales and sizes are both given; only one may be");
    if (!scales && !sizes)
        return op_fail(io, err, "one of the inputs scales and sizes must be given (and not empty)");
    size_t want = (size_t)n_axes;
    if ((scales ? n_scales : n_sizes) != want)
        return op_fail(io, err, "input %s has %zu values; the input X %s needs %zu%s",
                       scales ? "scales" : "sizes", scales ? n_scales : n_sizes,
                       shape_format(x, sx, sizeof sx), want,
                       want == (size_t)x->ndim ? " (one per dim)" : " (one per axis in axes)");
    if (scales) {
        for (int i = 0; i < n_axes; i++) {
            int d = axes[i];
            if (!(scales[i] > 0.0f))
                return op_fail(io, err, "scales[%d] = %g must be positive", i, (double)scales[i]);
            p->scale[d] = (double)scales[i];
            p->out_len[d] = p->scale[d] * (double)x->dims[d];
            p->out[d] = (int64_t)floor(p->out_len[d]);
        }
    } else {
        static const struct name_code policies[] = {
            {"stretch", 0}, {"not_larger", 1}, {"not_smaller", 2}};
        int policy = 0;
        if (io->opset >= 18 &&
            pick(io, "keep_aspect_ratio_policy", "stretch", policies, 3, &policy, err) < 0)
            return -1;
        double common = 0.0;
        for (int i = 0; i < n_axes; i++) {
            int d = axes[i];
            if (sizes[i] < 0)
                return op_fail(io, err, "sizes[%d] = %lld must not be negative", i,
                               (long long)sizes[i]);
            if (x->dims[d] == 0)
                return op_fail(io, err, "sizes asks to resize axis %d, which has size 0 in X %s", d,
                               shape_format(x, sx, sizeof sx));
            double s = (double)sizes[i] / (double)x->dims[d];
            if (i == 0 || (policy == 1 && s < common) || (policy == 2 && s > common))
                common = s;
            p->scale[d] = s;
            p->out[d] = sizes[i];
            p->out_len[d] = (double)sizes[i];
        }
        for (int i = 0; i < n_axes && policy != 0; i++) {
            int d = axes[i];
            p->scale[d] = common;
            p->out_len[d] = common * (double)x->dims[d];
            p->out[d] = (int64_t)(p->out_len[d] + 0.5);
        }
    }
    /* Antialiasing changes nothing unless an axis shrinks. */
    if (modern && io->opset >= 18 && node_attr_int(io->node, "antialias", 0) != 0 &&
        p->mode == RS_LINEAR)
        for (int d = 0; d < x->ndim; d++)
            if (p->scale[d] < 1.0)
                return op_unsupported(io, err, "antialias = 1 when downscaling (axis %d)", d);
    if (p->coord == RS_TF_CROP_AND_RESIZE && scales)
        return op_unsupported(io, err,
                              "coordinate_transformation_mode 'tf_crop_and_resize' with "
                              "scales (only with sizes)");
    return 0;
}

/* Scratch of a run: the taps of every axis, then two buffers of the largest intermediate
 * (the axes from k on resized, the others not yet) of *n_buf floats each. */
static size_t rs_scratch_bytes(const struct rs_params *p, size_t *n_buf)
{
    size_t n_taps = 0;
    *n_buf = 0;
    for (int d = 0; d < p->rank; d++)
        n_taps += (size_t)p->out[d];
    for (int k = 1; k < p->rank; k++) {
        size_t v = 1;
        for (int d = 0; d < p->rank; d++)
            v *= (size_t)(d >= k ? p->out[d] : p->in[d]);
        if (v > *n_buf)
            *n_buf = v;
    }
    return n_taps * sizeof(struct rs_tap) + 2 * *n_buf * sizeof(float);
}

static int rs_shape(struct op_io *io, struct err *err)
{
    struct rs_params p;
    if (rs_params(io, &p, err) < 0)
        return -1;
    struct shape out = {.ndim = p.rank};
    memcpy(out.dims, p.out, sizeof out.dims);
    op_set_out(io, 0, DTYPE_FLOAT, &out);
    size_t n_buf;
    io->scratch_bytes = rs_scratch_bytes(&p, &n_buf);
    return 0;
}

/* The input coordinate of output index x along axis d, by the transformation's formula.
 * roi_start / roi_end are only read by tf_crop_and_resize. */
static double rs_source(const struct rs_params *p, int d, double x, double roi_start,
                        double roi_end)
{
    double in = (double)p->in[d], s = p->scale[d], len = p->out_len[d];
    switch (p->coord) {
    case RS_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case RS_HALF_PIXEL_SYMMETRIC: {
        double adjustment = (double)p->out[d] / len, center = in / 2.0;
        return center * (1.0 - adjustment) + (x + 0.5) / s - 0.5;
    }
    case RS_PYTORCH_HALF_PIXEL: return len == 1.0 ? -0.5 : (x + 0.5) / s - 0.5;
    case RS_ALIGN_CORNERS: return len == 1.0 ? 0.0 : x * (in - 1.0) / (len - 1.0);
    case RS_ASYMMETRIC: return x / s;
    case RS_TF_HALF_PIXEL_FOR_NEAREST: return (x + 0.5) / s;
    case RS_TF_CROP_AND_RESIZE:
        if (len == 1.0)
            return (roi_end - roi_start) * (in - 1.0) / 2.0 + roi_start * (in - 1.0);
        return x * (roi_end - roi_start) * (in - 1.0) / (len - 1.0) + roi_start * (in - 1.0);
    }
    return x;
}

static inline int64_t clamp_index(double v, int64_t n)
{
    if (v < 0.0)
        return 0;
    if (v > (double)(n - 1))
        return n - 1;
    return (int64_t)v;
}

/* The taps of every output index of axis d. Returns whether the axis maps each index onto
 * itself (nothing to do along it). */
static bool rs_taps(const struct rs_params *p, int d, double roi_start, double roi_end,
                    struct rs_tap *taps)
{
    bool identity = p->out[d] == p->in[d];
    int64_t n = p->in[d];
    for (int64_t o = 0; o < p->out[d]; o++) {
        struct rs_tap *t = &taps[o];
        double x = rs_source(p, d, (double)o, roi_start, roi_end);
        t->outside = p->coord == RS_TF_CROP_AND_RESIZE && (x < 0.0 || x > (double)(n - 1));
        double f = floor(x), r = x - f;
        t->w = 0.0f;
        if (p->mode == RS_LINEAR) {
            t->i0 = clamp_index(f, n);
            t->i1 = clamp_index(f + 1.0, n);
            t->w = (float)r;
            if (t->i0 == t->i1)
                t->w = 0.0f;
        } else {
            double pickv = f;
            if (r != 0.0) {
                switch (p->nearest) {
                case RS_ROUND_PREFER_FLOOR: pickv = r <= 0.5 ? f : f + 1.0; break;
                case RS_ROUND_PREFER_CEIL: pickv = r < 0.5 ? f : f + 1.0; break;
                case RS_FLOOR: pickv = f; break;
                case RS_CEIL: pickv = f + 1.0; break;
                case RS_NEAREST_SIMPLE: pickv = p->scale[d] < 1.0 ? f + 1.0 : f; break;
                }
            }
            t->i0 = clamp_index(pickv, n);
        }
        t->i1 = t->w != 0.0f ? t->i1 : t->i0;
        if (t->outside || t->i0 != o || t->w != 0.0f)
            identity = false;
    }
    return identity;
}

/* One axis: src [outer, n_in, inner] to dst [outer, n_out, inner]. */
static void rs_pass(const float *src, float *dst, int64_t outer, int64_t n_in, int64_t n_out,
                    int64_t inner, const struct rs_tap *taps, float extrapolation)
{
    for (int64_t o = 0; o < outer; o++) {
        const float *s = src + o * n_in * inner;
        float *dd = dst + o * n_out * inner;
        for (int64_t j = 0; j < n_out; j++, dd += inner) {
            const struct rs_tap *t = &taps[j];
            if (t->outside) {
                for (int64_t k = 0; k < inner; k++)
                    dd[k] = extrapolation;
            } else if (t->w == 0.0f) {
                const float *a = s + t->i0 * inner;
                for (int64_t k = 0; k < inner; k++)
                    dd[k] = a[k];
            } else {
                const float *a = s + t->i0 * inner, *b = s + t->i1 * inner;
                float w1 = t->w, w0 = 1.0f - t->w;
                for (int64_t k = 0; k < inner; k++)
                    dd[k] = w0 * a[k] + w1 * b[k];
            }
        }
    }
}

/* The resize is separable: one pass per axis that changes, from the last axis to the first
 * (the order of the ONNX reference's recursion, which matters only for where
 * tf_crop_and_resize's extrapolation value enters), between two buffers. */
static int rs_run(struct op_io *io, struct err *err)
{
    struct rs_params p;
    if (rs_params(io, &p, err) < 0)
        return -1;
    const float *x = tensor_f32(io->in[0]);
    float *y = tensor_f32(io->out[0]);
    size_t n_out = tensor_numel(io->out[0]);
    if (n_out == 0)
        return 0;
    const float *roi = NULL;
    size_t n_roi = 0;
    int axes[TENSOR_MAX_DIMS], n_axes = p.rank;
    if (p.coord == RS_TF_CROP_AND_RESIZE) {
        if (!op_has_in(io, 1) || io->in[1]->dtype != DTYPE_FLOAT)
            return op_fail(io, err, "tf_crop_and_resize needs the roi input (float32)");
        roi = tensor_f32(io->in[1]);
        n_roi = tensor_numel(io->in[1]);
        if (rs_axes(io, p.rank, axes, &n_axes, err) < 0)
            return -1;
        if (n_roi != 2 * (size_t)n_axes)
            return op_fail(io, err, "input roi has %zu values, expected %d (starts, then ends)",
                           n_roi, 2 * n_axes);
    }
    double roi_start[TENSOR_MAX_DIMS], roi_end[TENSOR_MAX_DIMS];
    for (int d = 0; d < p.rank; d++) {
        roi_start[d] = 0.0;
        roi_end[d] = 1.0;
    }
    for (int i = 0; roi && i < n_axes; i++) {
        roi_start[axes[i]] = roi[i];
        roi_end[axes[i]] = roi[n_axes + i];
    }

    size_t n_buf, bytes = rs_scratch_bytes(&p, &n_buf);
    char *mem = io->scratch, *owned = NULL;
    if (!mem || io->scratch_bytes < bytes) {
        if (!(mem = owned = malloc(bytes ? bytes : 1)))
            return err_oom(err, "resize buffers", bytes);
    }
    struct rs_tap *taps[TENSOR_MAX_DIMS];
    bool active[TENSOR_MAX_DIMS];
    struct rs_tap *next = (struct rs_tap *)mem;
    int last = -1;
    for (int d = 0; d < p.rank; d++) {
        taps[d] = next;
        next += p.out[d];
        active[d] = !rs_taps(&p, d, roi_start[d], roi_end[d], taps[d]);
        if (active[d] && last < 0)
            last = d;
    }
    float *buf[2] = {(float *)next, (float *)next + n_buf};
    int64_t dims[TENSOR_MAX_DIMS];
    memcpy(dims, p.in, sizeof dims);
    const float *src = x;
    int flip = 0;
    for (int d = p.rank - 1; d >= 0; d--) {
        if (!active[d])
            continue;
        int64_t outer = 1, inner = 1;
        for (int k = 0; k < d; k++)
            outer *= dims[k];
        for (int k = d + 1; k < p.rank; k++)
            inner *= dims[k];
        float *dst = d == last ? y : buf[flip];
        rs_pass(src, dst, outer, dims[d], p.out[d], inner, taps[d], p.extrapolation);
        dims[d] = p.out[d];
        src = dst;
        flip ^= 1;
    }
    if (last < 0)
        memcpy(y, x, n_out * sizeof *y);
    free(owned);
    return 0;
}

const struct op_def op_resize = {.name = "Resize", .shape = rs_shape, .run = rs_run};
const struct op_def op_upsample = {.name = "Upsample", .shape = rs_shape, .run = rs_run};
