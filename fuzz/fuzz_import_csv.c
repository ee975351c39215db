/* libFuzzer target: pin import of CSV into a real store; see fuzz_import.h for what is
 * checked after each input. */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_import(data, size, IK_IMPORT_CSV);
    return 0;
}
