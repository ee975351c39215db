/* libFuzzer target: pin import of JSON lines (kubo's stream, IPFS Cluster's export, our own
 * columns) into a real store; see fuzz_import.h for what is checked after each input. */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_import(data, size, IK_IMPORT_JSONL);
    return 0;
}
