/* Helpers shared by the op files: arity and type checks, axes, broadcasting, messages.
 * Not any one op's arithmetic. */
#include "kernels/op.h"

#include <stdarg.h>
#include <stdio.h>

int op_fail(const struct op_io *io, struct err *err, const char *fmt, ...)
{
    char detail[ERR_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return err_set(err, "node '%s' (%s): %s", io->node->name, io->node->op_type, detail);
}

int op_unsupported(const struct op_io *io, struct err *err, const char *fmt, ...)
{
    char detail[ERR_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return err_unsupported(err, "node '%s' (%s): %s is not supported", io->node->name,
                           io->node->op_type, detail);
}

int op_check_arity(const struct op_io *io, int lo, int hi, struct err *err)
{
    if (io->n_in < lo || io->n_in > hi) {
        if (lo == hi)
            return op_fail(io, err, "expects %d input(s), has %d", lo, io->n_in);
        return op_fail(io, err, "expects %d to %d inputs, has %d", lo, hi, io->n_in);
    }
    for (int i = 0; i < lo; i++)
        if (!io->in[i])
            return op_fail(io, err, "required input %d is missing", i);
    return 0;
}

int op_check_input(const struct op_io *io, int i, enum dtype t, struct err *err)
{
    if (!op_has_in(io, i))
        return op_fail(io, err, "input %d is missing", i);
    if (io->in[i]->dtype != t)
        return op_fail(io, err, "input %d has element type %s, expected %s", i,
                       dtype_name(io->in[i]->dtype), dtype_name(t));
    return 0;
}

int op_axis(const struct op_io *io, int64_t axis, int rank, int64_t *out, struct err *err)
{
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
        return op_fail(io, err, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = a;
    return 0;
}

void op_set_out(struct op_io *io, int i, enum dtype t, const struct shape *s)
{
    if (i < io->n_out && io->out[i]) {
        io->out[i]->dtype = t;
        io->out[i]->shape = *s;
    }
}

int op_broadcast_shape(const struct shape *a, const struct shape *b, struct shape *out)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    out->ndim = n;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        if (da == db || db == 1)
            out->dims[i] = da;
        else if (da == 1)
            out->dims[i] = db;
        else
            return -1;
    }
    return 0;
}

/* int32 lists are widened into one of these per-thread slots: op.h's contract hands the caller a
 * pointer it does not free, and int32 values have nowhere else to live as int64. Shape-like
 * lists (a rank's worth of dims, pads, axes, starts) are at most 2 x TENSOR_MAX_DIMS long, and an
 * op reads at most a few of them in one call, so a slot is never reused while its values are
 * still being read. */

int op_const_ints(const struct op_io *io, int i, struct op_ints *keep, const int64_t **vals,
                  size_t *count, struct err *err)
{
    if (!op_has_in(io, i))
        return op_fail(io, err, "input %d is missing", i);
    const struct tensor *t = io->in[i];
    if (t->dtype != DTYPE_INT64 && t->dtype != DTYPE_INT32)
        return op_fail(io, err, "input %d must be int64 or int32, is %s", i, dtype_name(t->dtype));
    size_t n = tensor_numel(t);
    if (!t->data && n > 0)
        return op_fail(io, err,
                       "input %d must be known when the model is loaded (a constant "
                       "or computed from shapes only)",
                       i);
    if (t->dtype == DTYPE_INT32 && n > 0) {
        if (n > OP_INTS_MAX)
            return op_unsupported(io, err, "an int32 input %d of %zu values (more than %d)", i, n,
                                  OP_INTS_MAX);
        for (size_t k = 0; k < n; k++)
            keep->v[k] = tensor_i32(t)[k];
        *vals = keep->v;
    } else {
        *vals = tensor_i64(t);
    }
    *count = n;
    return 0;
}

int op_broadcast_inputs(const struct op_io *io, struct shape *out, struct err *err)
{
    const struct tensor *a = io->in[0], *b = io->in[1];
    if (op_broadcast_shape(&a->shape, &b->shape, out) < 0) {
        char sa[96], sb[96];
        return op_fail(io, err, "shapes %s and %s cannot be broadcast together",
                       shape_format(&a->shape, sa, sizeof sa),
                       shape_format(&b->shape, sb, sizeof sb));
    }
    return 0;
}
