/* Placeholder suite. */
#include <criterion/criterion.h>
