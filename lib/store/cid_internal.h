/* Internal to the CID code and its tests: multibase decoding on its own, so the multibase
 * project's test vectors (arbitrary bytes, not CIDs) can be checked directly. */
#ifndef IK_STORE_CID_INTERNAL_H
#define IK_STORE_CID_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfskit/error.h"

/* Decodes multibase text `s` (prefix b/B, z, k/K, f/F) into out[0..cap). Sets *out_len.
 * Returns 0, or IK_EFORMAT naming the bad prefix, character and position (0-based in `s`),
 * or that the result exceeds `cap`. */
int ik__multibase_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                         struct ik_error *err);

/* False when the CID text s[0..len) (valid) is already in canonical form: CIDv0, or base32
 * with no upper-case letter. A cheap test for the upsert of every imported row. */
bool ik__cid_needs_canonical(const char *s, size_t len);

#endif
