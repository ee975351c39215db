/* Content identifiers (CIDs): parsing and validation of CIDv0 (`Qm…`, base58btc sha2-256) and
 * CIDv1 in the common multibases (base32 `b`/`B`, base58btc `z`, base36 `k`/`K`, base16
 * `f`/`F`), with the varint version, codec and multihash checked against each other. */
#ifndef IPFSKIT_CID_H
#define IPFSKIT_CID_H

#include <stddef.h>
#include <stdint.h>

#include "ipfskit/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest CID text we accept, and longest binary CID (version + codec + multihash). */
#define IK_CID_MAX_TEXT 512
#define IK_CID_MAX_BINARY 256

struct ik_cid {
    uint8_t version;  /* 0 or 1 */
    char multibase;   /* the prefix character of the text form; 0 for CIDv0 */
    uint64_t codec;   /* 0x70 dag-pb for CIDv0; otherwise as decoded */
    uint64_t hash_fn; /* multihash function code (0x12 sha2-256, 0x00 identity, ...) */
    uint32_t digest_len;
    uint32_t digest_off; /* offset of the digest inside `binary` */
    uint32_t binary_len;
    uint8_t binary[IK_CID_MAX_BINARY]; /* the binary CID (CIDv0: the bare multihash) */
};

/* Parses the CID text `s` of `len` bytes into `out`. Returns 0, or IK_EFORMAT with a message
 * naming the reason, e.g. "bad multibase prefix 'x'", "invalid base58 character '0' at 7",
 * "multihash length 31, digest says 32", "CIDv0 must be 46 characters", "unsupported CID
 * version 2", "trailing bytes after multihash". Surrounding whitespace is not accepted. */
int ik_cid_parse(const char *s, size_t len, struct ik_cid *out, struct ik_error *err);

/* Convenience: 1 when `s` (NUL-terminated) is a valid CID, else 0 (reason in err). */
int ik_cid_valid(const char *s, struct ik_error *err);

/* Fills `out` with the CIDv0 of a sha2-256 `digest` (the multihash 0x12 0x20 + 32 bytes).
 * `digest` may point into out->binary. */
void ik_cid_v0(const uint8_t digest[32], struct ik_cid *out);

/* Writes the canonical text of `cid` (CIDv0 as base58btc `Qm…`, CIDv1 as base32 lower `b…`)
 * into out (NUL-terminated). Returns the length, or 0 when cap is too small. */
size_t ik_cid_format(const struct ik_cid *cid, char *out, size_t cap);

/* Writes the canonical text of the CID text s[0..len) into out (NUL-terminated): base58btc
 * `Qm…` for v0, lower-case base32 `b…` for v1, whatever multibase and case `s` used. The pin
 * store keeps only this form, and looks pins up by it. Returns the length, or 0 when `s` is
 * not a valid CID or cap is too small. */
size_t ik_cid_canonical(const char *s, size_t len, char *out, size_t cap);

/* Name of a codec ("dag-pb", "raw", "dag-cbor", "libp2p-key", "dag-json", ...) or NULL. */
const char *ik_cid_codec_name(uint64_t codec);

#ifdef __cplusplus
}
#endif

#endif
