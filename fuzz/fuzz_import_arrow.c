/* libFuzzer target: pin import of Arrow IPC stream or file, through the import path (full
 * validation, then rows) into a real store; see fuzz_import.h for what is checked after each input.
 */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_import(data, size, IK_IMPORT_ARROW);
    return 0;
}
