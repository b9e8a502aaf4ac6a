/* Placeholder: filled in by the operator work (see the op table in ops.c). */
typedef int prunescope_op_cast_placeholder;
