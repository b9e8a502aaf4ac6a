/* Placeholder: filled in by the operator work (see the op table in ops.c). */
typedef int prunescope_op_norm_placeholder;
