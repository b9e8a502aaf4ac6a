/* Element-wise math over float arrays, eight at a time with AVX2/FMA when the CPU has
 * them (chosen at run time; PRUNESCOPE_SIMD=0 keeps the portable loop). Not the ops
 * themselves (op_activation.c calls these). */
#ifndef PRUNESCOPE_KERNELS_VMATH_H
#define PRUNESCOPE_KERNELS_VMATH_H

#include <stddef.h>

/* y[i] = 1 / (1 + exp(-x[i])), within 3e-7 relative (2.5 float ulps) of the libm formula where the result
 * is a normal float, and within a few denormal steps below (exp of -|x| from a degree-7 polynomial after
 * reduction by ln 2); NaN passes through. y may equal x. */
void vmath_sigmoid(const float *x, float *y, size_t n);

#endif
