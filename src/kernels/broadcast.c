/* Odometer over all dimensions but the last, for numpy-style broadcasting.
 * Not for unidirectional checks: callers validate shapes first. */
#include "kernels/broadcast.h"

#include <stdbool.h>

void bcast_init(struct bcast *bc, const struct shape *a, const struct shape *b,
                const struct shape *out)
{
    int n = out->ndim;
    bc->ndim = n;
    int64_t stride_a = 1, stride_b = 1;
    for (int i = n - 1; i >= 0; i--) {
        int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        bc->dims[i] = out->dims[i];
        bc->sa[i] = da == 1 ? 0 : stride_a;
        bc->sb[i] = db == 1 ? 0 : stride_b;
        stride_a *= da;
        stride_b *= db;
    }
}

/* Merges each dim into the one inside it where both operands step through the pair as
 * through one dim (or a dim has one entry): same-shape operands become one run, and a
 * per-channel operand [N,C,1,1] runs over whole planes, instead of runs of a few elements
 * when the innermost dims are small. The element order is unchanged. */
static void coalesce(struct bcast *bc)
{
    int n = bc->ndim, m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0) {
            int j = m - 1; /* the merged dim so far, outside dim i */
            bool fits = bc->dims[j] == 1 || bc->dims[i] == 1 ||
                        (bc->sa[j] == bc->sa[i] * bc->dims[i] && bc->sb[j] == bc->sb[i] * bc->dims[i]);
            if (fits) {
                if (bc->dims[i] == 1) {
                    /* nothing to add */
                } else if (bc->dims[j] == 1) {
                    bc->sa[j] = bc->sa[i];
                    bc->sb[j] = bc->sb[i];
                    bc->dims[j] = bc->dims[i];
                } else {
                    bc->dims[j] *= bc->dims[i];
                    bc->sa[j] = bc->sa[i];
                    bc->sb[j] = bc->sb[i];
                }
                continue;
            }
        }
        bc->dims[m] = bc->dims[i];
        bc->sa[m] = bc->sa[i];
        bc->sb[m] = bc->sb[i];
        m++;
    }
    bc->ndim = m;
}

void bcast_for_each(const struct bcast *orig, bcast_inner_fn inner, void *ctx)
{
    struct bcast merged = *orig, *bc = &merged;
    coalesce(bc);
    int n = bc->ndim;
    if (n == 0) {
        inner(ctx, 0, 0, 0, 1, 0, 0);
        return;
    }
    size_t last = (size_t)bc->dims[n - 1];
    size_t total = 1;
    for (int i = 0; i < n; i++)
        total *= (size_t)bc->dims[i];
    if (total == 0)
        return;
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    size_t oa = 0, ob = 0, oo = 0;
    size_t runs = total / last;
    for (size_t r = 0; r < runs; r++) {
        inner(ctx, oa, ob, oo, last, (size_t)bc->sa[n - 1], (size_t)bc->sb[n - 1]);
        oo += last;
        for (int d = n - 2; d >= 0; d--) {
            idx[d]++;
            oa += (size_t)bc->sa[d];
            ob += (size_t)bc->sb[d];
            if (idx[d] < bc->dims[d])
                break;
            oa -= (size_t)(bc->sa[d] * bc->dims[d]);
            ob -= (size_t)(bc->sb[d] * bc->dims[d]);
            idx[d] = 0;
        }
    }
}
