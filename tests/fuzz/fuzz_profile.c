/* libFuzzer harness of the hardware profile reader: JSON text from memory through jansson
 * (with profile_read's flags) into profile_from_json, the checks every profile file passes.
 * Not the file-name rule of profile_read, nor the estimate made with a profile. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/profile.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return 0;
    struct profile p = {0};
    struct err err;
    if (profile_from_json("fuzz.json", root, &p, &err) == 0)
        profile_fini(&p);
    json_decref(root);
    return 0;
}
