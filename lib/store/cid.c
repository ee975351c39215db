/* Content identifiers: CIDv0 (46-character base58btc `Qm…`) and CIDv1 in every multibase the
 * multibase table lists with an alphabet (base2, base8, base10, base16, the base32 family,
 * base36, base58btc/flickr, base64 and base64url with or without padding), decoded into a
 * caller's struct ik_cid and checked (minimal varints, version 1, exact multihash length,
 * sha2-256 = 32 bytes); and the canonical text back (base58btc for v0, lower-case base32 for
 * v1), which is the only form the pin store keeps. Nothing allocates: bulk pin import parses
 * hundreds of thousands of CIDs a second. */
#include <inttypes.h>
#include <string.h>

#include "ipfskit/cid.h"
#include "store/cid_internal.h"

enum { NOT_A_DIGIT = 0xff };
#define X NOT_A_DIGIT
/* Character value tables (X = not in the alphabet). base32, base36 and base16 are case
 * insensitive, as the multibase spec's case_insensitivity tests expect; base58 is not. */
/* clang-format off */
static const uint8_t b58_value[128] = {
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, X, X, X, X, X, X,
    X, 9, 10, 11, 12, 13, 14, 15, 16, X, 17, 18, 19, 20, 21, X,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, X, X, X, X, X,
    X, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, X, 44, 45, 46,
    47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, X, X, X, X, X,
};
static const uint8_t b32_value[128] = {
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, 26, 27, 28, 29, 30, 31, X, X, X, X, X, X, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
};
static const uint8_t b36_value[128] = {
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, X, X, X, X, X, X,
    X, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
    25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, X, X, X, X, X,
    X, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
    25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, X, X, X, X, X,
};
static const uint8_t b16_value[128] = {
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, X, X, X, X, X, X,
    X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
/* clang-format on */
#undef X

static const char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

#define MH_IDENTITY 0x00
#define MH_SHA2_256 0x12
#define IDENTITY_MAX 128
#define CIDV0_TEXT_LEN 46
#define CIDV0_BINARY_LEN 34

/* A big-endian positional base (base58btc, base36): leading zero digits stand for zero bytes,
 * the rest is one big number. Digits are taken `group` at a time (radix^group < 2^32). */
struct radix {
    const char *name;
    const uint8_t *value;
    uint32_t radix;
    unsigned group;
};

static const struct radix base58btc = {"base58", b58_value, 58, 5};
static const struct radix base36 = {"base36", b36_value, 36, 6};

/* Writes a character for a message: itself when printable, else \xNN. */
static const char *show(char c, char buf[8])
{
    unsigned char u = (unsigned char)c;
    if (u >= 0x20 && u < 0x7f) {
        buf[0] = c;
        buf[1] = 0;
    } else {
        static const char hex[] = "0123456789abcdef";
        buf[0] = '\\';
        buf[1] = 'x';
        buf[2] = hex[u >> 4];
        buf[3] = hex[u & 15];
        buf[4] = 0;
    }
    return buf;
}

static int bad_char(struct ik_error *err, const char *base, char c, size_t pos)
{
    char b[8];
    return ik_error_set(err, IK_EFORMAT, "invalid %s character '%s' at %zu", base, show(c, b), pos);
}

static int too_long(struct ik_error *err, const char *base, size_t cap)
{
    return ik_error_set(err, IK_EFORMAT, "%s text decodes to more than %zu bytes", base, cap);
}

static inline unsigned digit(const uint8_t *value, char c)
{
    unsigned char u = (unsigned char)c;
    return u < 128 ? value[u] : NOT_A_DIGIT;
}

/* s[0..len) in base `r` to bytes; `pos0` is the offset of s[0] in the caller's text. */
static int radix_decode(const struct radix *r, const char *s, size_t len, size_t pos0, uint8_t *out,
                        size_t cap, size_t *out_len, struct ik_error *err)
{
    /* The number in little-endian 32-bit limbs; one spare limb so overflow shows before the
     * byte count is checked. */
    uint32_t limbs[IK_CID_MAX_BINARY / 4 + 2];
    const size_t max_limbs = sizeof limbs / sizeof limbs[0];
    size_t nl = 0, zeros = 0, i, nbytes, k;
    while (zeros < len && digit(r->value, s[zeros]) == 0)
        zeros++;
    for (i = zeros; i < len;) {
        uint64_t acc = 0, mul = 1, carry;
        size_t end = i + r->group < len ? i + r->group : len;
        for (; i < end; i++) {
            unsigned v = digit(r->value, s[i]);
            if (v == NOT_A_DIGIT)
                return bad_char(err, r->name, s[i], pos0 + i);
            acc = acc * r->radix + v;
            mul *= r->radix;
        }
        carry = acc;
        for (k = 0; k < nl; k++) {
            uint64_t t = (uint64_t)limbs[k] * mul + carry;
            limbs[k] = (uint32_t)t;
            carry = t >> 32;
        }
        while (carry != 0) {
            if (nl == max_limbs)
                return too_long(err, r->name, cap);
            limbs[nl++] = (uint32_t)carry;
            carry >>= 32;
        }
    }
    nbytes = nl * 4;
    /* cppcheck-suppress uninitvar ; limbs[0..nl) were all written above */
    while (nbytes > 0 && (limbs[(nbytes - 1) / 4] >> (8 * ((nbytes - 1) % 4))) == 0)
        nbytes--;
    if (zeros > cap || nbytes > cap - zeros)
        return too_long(err, r->name, cap);
    memset(out, 0, zeros);
    for (k = 0; k < nbytes; k++) {
        size_t b = nbytes - 1 - k; /* byte index from the least significant end */
        out[zeros + k] = (uint8_t)(limbs[b / 4] >> (8 * (b % 4)));
    }
    *out_len = zeros + nbytes;
    return 0;
}

/* RFC 4648 base32 without padding; the unused low bits of the last character must be zero. */
static int base32_decode(const char *s, size_t len, size_t pos0, uint8_t *out, size_t cap,
                         size_t *out_len, struct ik_error *err)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t i, n = 0;
    for (i = 0; i < len; i++) {
        unsigned v = digit(b32_value, s[i]);
        if (v == NOT_A_DIGIT)
            return bad_char(err, "base32", s[i], pos0 + i);
        acc = (acc << 5) | v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return too_long(err, "base32", cap);
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (bits >= 5)
        return ik_error_set(err, IK_EFORMAT, "base32 text of %zu characters is truncated", len);
    if (acc != 0)
        return ik_error_set(err, IK_EFORMAT, "base32 text has non-zero padding bits at %zu",
                            pos0 + len - 1);
    *out_len = n;
    return 0;
}

static int base16_decode(const char *s, size_t len, size_t pos0, uint8_t *out, size_t cap,
                         size_t *out_len, struct ik_error *err)
{
    size_t i;
    if (len % 2 != 0)
        return ik_error_set(err, IK_EFORMAT, "odd number of base16 digits (%zu)", len);
    if (len / 2 > cap)
        return too_long(err, "base16", cap);
    for (i = 0; i < len; i += 2) {
        unsigned hi = digit(b16_value, s[i]), lo = digit(b16_value, s[i + 1]);
        if (hi == NOT_A_DIGIT)
            return bad_char(err, "base16", s[i], pos0 + i);
        if (lo == NOT_A_DIGIT)
            return bad_char(err, "base16", s[i + 1], pos0 + i + 1);
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = len / 2;
    return 0;
}

/* Multibase prefixes we know but do not accept for CIDs, so the message can name them. */
static const char *unsupported_base(char c)
{
    switch (c) {
    case 'p':
        return "proquint";
    case 'R':
        return "base45";
    case '\xf0': /* the first byte of U+1F680, base256emoji's prefix */
        return "base256emoji";
    default:
        return NULL;
    }
}

/* ---- the other multibases: alphabets given as text, tables made when one is used ---------- */

/* Fills value[] from an alphabet; `fold` also maps the other case of each letter. */
static void make_table(const char *alphabet, bool fold, uint8_t value[128])
{
    unsigned i;
    memset(value, NOT_A_DIGIT, 128);
    for (i = 0; alphabet[i]; i++) {
        unsigned char c = (unsigned char)alphabet[i];
        value[c] = (uint8_t)i;
        if (fold && c >= 'a' && c <= 'z')
            value[c - 'a' + 'A'] = (uint8_t)i;
        if (fold && c >= 'A' && c <= 'Z')
            value[c - 'A' + 'a'] = (uint8_t)i;
    }
}

/* RFC 4648 style: `bits` per character, packed from the most significant end, the unused low
 * bits of the last character zero. With `pad`, '=' may follow the text, as many as make the
 * whole a multiple of `group` characters (none at all is accepted too). */
static int rfc4648_decode(const char *name, const char *alphabet, bool fold, unsigned bits,
                          bool pad, size_t group, const char *s, size_t len, size_t pos0,
                          uint8_t *out, size_t cap, size_t *out_len, struct ik_error *err)
{
    uint8_t value[128];
    uint32_t acc = 0;
    unsigned have = 0;
    size_t i, n = 0, text = len;
    if (pad) {
        while (text > 0 && s[text - 1] == '=')
            text--;
        if (text < len && len % group != 0)
            return ik_error_set(err, IK_EFORMAT, "%s text of %zu characters is not padded to %zu",
                                name, len, group);
    }
    make_table(alphabet, fold, value);
    for (i = 0; i < text; i++) {
        unsigned v = digit(value, s[i]);
        if (v == NOT_A_DIGIT)
            return bad_char(err, name, s[i], pos0 + i);
        acc = (acc << bits) | v;
        have += bits;
        if (have >= 8) {
            have -= 8;
            if (n == cap)
                return too_long(err, name, cap);
            out[n++] = (uint8_t)(acc >> have);
            acc &= (1u << have) - 1;
        }
    }
    if (have >= bits)
        return ik_error_set(err, IK_EFORMAT, "%s text of %zu characters is truncated", name, text);
    if (acc != 0)
        return ik_error_set(err, IK_EFORMAT, "%s text has non-zero padding bits at %zu", name,
                            pos0 + text - 1);
    *out_len = n;
    return 0;
}

/* base2 and base8 as multibase writes them: the bytes' bits as one number, zero-filled at the
 * front to a whole number of digits. The filler bits must be zero and fewer than 8. */
static int aligned_right_decode(const char *name, unsigned bits, const char *s, size_t len,
                                size_t pos0, uint8_t *out, size_t cap, size_t *out_len,
                                struct ik_error *err)
{
    size_t total = len * bits, fill = total % 8, i, n = 0;
    uint32_t acc = 0;
    unsigned have = 0;
    if (total / 8 > cap)
        return too_long(err, name, cap);
    for (i = 0; i < len; i++) {
        unsigned v = (unsigned)(unsigned char)s[i] - '0';
        if (v >= (1u << bits))
            return bad_char(err, name, s[i], pos0 + i);
        acc = (acc << bits) | v;
        have += bits;
        if (fill > 0 && have >= fill) { /* the filler, all in the first digits */
            if ((acc >> (have - fill)) != 0)
                return ik_error_set(err, IK_EFORMAT, "%s text has non-zero leading bits", name);
            have -= (unsigned)fill;
            acc &= (1u << have) - 1;
            fill = 0;
        }
        if (fill == 0 && have >= 8) {
            have -= 8;
            out[n++] = (uint8_t)(acc >> have);
            acc &= (1u << have) - 1;
        }
    }
    *out_len = n;
    return 0;
}

static const char b58flickr_alphabet[] =
    "123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/* The positional bases made at first use (radix_decode takes a value table). */
static int radix_other(char prefix, const char *s, size_t len, uint8_t *out, size_t cap,
                       size_t *out_len, struct ik_error *err)
{
    uint8_t value[128];
    struct radix r = {"base10", value, 10, 9};
    if (prefix == 'Z') {
        r = (struct radix){"base58flickr", value, 58, 5};
        make_table(b58flickr_alphabet, false, value);
    } else {
        make_table("0123456789", false, value);
    }
    return radix_decode(&r, s, len, 1, out, cap, out_len, err);
}

static int other_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                        struct ik_error *err)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    static const char b32hex[] = "0123456789abcdefghijklmnopqrstuv";
    static const char b32z[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *t = s + 1;
    size_t n = len - 1;
    switch (s[0]) {
    case '0':
        return aligned_right_decode("base2", 1, t, n, 1, out, cap, out_len, err);
    case '7':
        return aligned_right_decode("base8", 3, t, n, 1, out, cap, out_len, err);
    case '9':
    case 'Z':
        return radix_other(s[0], t, n, out, cap, out_len, err);
    case 'c':
    case 'C':
        return rfc4648_decode("base32pad", b32, true, 5, true, 8, t, n, 1, out, cap, out_len, err);
    case 'v':
    case 'V':
        return rfc4648_decode("base32hex", b32hex, true, 5, false, 8, t, n, 1, out, cap, out_len,
                              err);
    case 't':
    case 'T':
        return rfc4648_decode("base32hexpad", b32hex, true, 5, true, 8, t, n, 1, out, cap, out_len,
                              err);
    case 'h':
        return rfc4648_decode("base32z", b32z, false, 5, false, 8, t, n, 1, out, cap, out_len, err);
    case 'm':
        return rfc4648_decode("base64", b64, false, 6, false, 4, t, n, 1, out, cap, out_len, err);
    case 'M':
        return rfc4648_decode("base64pad", b64, false, 6, true, 4, t, n, 1, out, cap, out_len, err);
    case 'u':
        return rfc4648_decode("base64url", b64url, false, 6, false, 4, t, n, 1, out, cap, out_len,
                              err);
    case 'U':
        return rfc4648_decode("base64urlpad", b64url, false, 6, true, 4, t, n, 1, out, cap, out_len,
                              err);
    default:
        return -1;
    }
}

int ik__multibase_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                         struct ik_error *err)
{
    const char *name;
    char b[8];
    int rc;
    if (len == 0)
        return ik_error_set(err, IK_EFORMAT, "empty multibase text");
    switch (s[0]) {
    case 'b':
    case 'B':
        return base32_decode(s + 1, len - 1, 1, out, cap, out_len, err);
    case 'z':
        return radix_decode(&base58btc, s + 1, len - 1, 1, out, cap, out_len, err);
    case 'k':
    case 'K':
        return radix_decode(&base36, s + 1, len - 1, 1, out, cap, out_len, err);
    case 'f':
    case 'F':
        return base16_decode(s + 1, len - 1, 1, out, cap, out_len, err);
    }
    if ((rc = other_decode(s, len, out, cap, out_len, err)) >= 0)
        return rc;
    name = unsupported_base(s[0]);
    if (name != NULL)
        return ik_error_set(err, IK_EFORMAT, "unsupported multibase '%c' (%s)", s[0], name);
    return ik_error_set(err, IK_EFORMAT, "bad multibase prefix '%s'", show(s[0], b));
}

/* Unsigned LEB128 as multiformats restrict it: at most 9 bytes, minimal (no trailing 0x00
 * continuation group). `what` names the field for the message. */
static int read_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v, const char *what,
                       struct ik_error *err)
{
    uint64_t x = 0;
    size_t start = *pos;
    unsigned i;
    for (i = 0; i < 9; i++) {
        uint8_t byte;
        if (start + i >= n)
            return ik_error_set(err, IK_EFORMAT, "truncated varint (%s) at byte %zu", what, start);
        byte = p[start + i];
        x |= (uint64_t)(byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0) {
            if (byte == 0 && i > 0)
                return ik_error_set(err, IK_EFORMAT, "non-minimal varint (%s) at byte %zu", what,
                                    start);
            *pos = start + i + 1;
            *v = x;
            return 0;
        }
    }
    return ik_error_set(err, IK_EFORMAT, "varint (%s) at byte %zu is longer than 9 bytes", what,
                        start);
}

/* Checks the multihash at c->binary[pos..binary_len) and fills the hash fields. */
static int parse_multihash(struct ik_cid *c, size_t pos, struct ik_error *err)
{
    uint64_t fn, dlen;
    size_t rest;
    int rc;
    if ((rc = read_varint(c->binary, c->binary_len, &pos, &fn, "hash function", err)) != 0 ||
        (rc = read_varint(c->binary, c->binary_len, &pos, &dlen, "digest length", err)) != 0)
        return rc;
    rest = c->binary_len - pos;
    if (dlen > rest)
        return ik_error_set(err, IK_EFORMAT, "multihash length %zu, digest says %" PRIu64, rest,
                            dlen);
    if (dlen < rest)
        return ik_error_set(err, IK_EFORMAT,
                            "trailing bytes after multihash (%zu after a %" PRIu64 "-byte digest)",
                            rest - (size_t)dlen, dlen);
    if (fn == MH_SHA2_256 && dlen != 32)
        return ik_error_set(err, IK_EFORMAT, "sha2-256 digest must be 32 bytes, not %" PRIu64,
                            dlen);
    if (fn == MH_IDENTITY && dlen > IDENTITY_MAX)
        return ik_error_set(err, IK_EFORMAT, "identity digest of %" PRIu64 " bytes exceeds %d",
                            dlen, IDENTITY_MAX);
    c->hash_fn = fn;
    c->digest_len = (uint32_t)dlen;
    c->digest_off = (uint32_t)pos;
    return 0;
}

static int parse_v0(const char *s, size_t len, struct ik_cid *out, struct ik_error *err)
{
    size_t n;
    int rc;
    if (len != CIDV0_TEXT_LEN)
        return ik_error_set(err, IK_EFORMAT, "CIDv0 must be 46 characters, not %zu", len);
    rc = radix_decode(&base58btc, s, len, 0, out->binary, sizeof out->binary, &n, err);
    if (rc != 0)
        return rc;
    if (n != CIDV0_BINARY_LEN || out->binary[0] != MH_SHA2_256 || out->binary[1] != 32)
        return ik_error_set(err, IK_EFORMAT,
                            "CIDv0 must be a sha2-256 multihash (0x12 0x20 + 32 bytes)");
    ik_cid_v0(out->binary + 2, out);
    return 0;
}

void ik_cid_v0(const uint8_t digest[32], struct ik_cid *out)
{
    /* out is only written (cppcheck takes the address arithmetic for a read) */
    // cppcheck-suppress ctuuninitvar
    memmove(out->binary + 2, digest, 32);
    out->binary[0] = MH_SHA2_256;
    out->binary[1] = 32;
    out->version = 0;
    out->multibase = 0;
    out->codec = 0x70;
    out->hash_fn = MH_SHA2_256;
    out->digest_len = 32;
    out->digest_off = 2;
    out->binary_len = CIDV0_BINARY_LEN;
}

static int parse_v1(const char *s, size_t len, struct ik_cid *out, struct ik_error *err)
{
    uint64_t version;
    size_t n, pos = 0;
    int rc = ik__multibase_decode(s, len, out->binary, sizeof out->binary, &n, err);
    if (rc != 0)
        return rc;
    if (n == 0)
        return ik_error_set(err, IK_EFORMAT, "empty CID after multibase prefix '%c'", s[0]);
    out->binary_len = (uint32_t)n;
    if (out->binary[0] == MH_SHA2_256)
        return ik_error_set(err, IK_EFORMAT,
                            "CIDv0 must not carry a multibase prefix (binary starts with 0x12)");
    if ((rc = read_varint(out->binary, n, &pos, &version, "version", err)) != 0)
        return rc;
    if (version != 1)
        return ik_error_set(err, IK_EFORMAT, "unsupported CID version %" PRIu64, version);
    if ((rc = read_varint(out->binary, n, &pos, &out->codec, "codec", err)) != 0)
        return rc;
    out->version = 1;
    out->multibase = s[0];
    return parse_multihash(out, pos, err);
}

int ik_cid_parse(const char *s, size_t len, struct ik_cid *out, struct ik_error *err)
{
    if (len == 0)
        return ik_error_set(err, IK_EFORMAT, "empty CID");
    if (len > IK_CID_MAX_TEXT)
        return ik_error_set(err, IK_EFORMAT, "CID text of %zu characters exceeds %d", len,
                            IK_CID_MAX_TEXT);
    if (s[0] == 'Q')
        return parse_v0(s, len, out, err);
    return parse_v1(s, len, out, err);
}

int ik_cid_valid(const char *s, struct ik_error *err)
{
    struct ik_cid c;
    return ik_cid_parse(s, strlen(s), &c, err) == 0;
}

/* ---- text out ------------------------------------------------------------------------- */

/* base58btc of p[0..n) into out (no NUL); returns the length, 0 when cap is too small. */
static size_t base58_encode(const uint8_t *p, size_t n, char *out, size_t cap)
{
    uint32_t limbs[IK_CID_MAX_BINARY / 4 + 1];      /* big-endian */
    char digits[IK_CID_MAX_BINARY * 138 / 100 + 8]; /* least significant first */
    size_t zeros = 0, nl, top = 0, nd = 0, i, len;
    while (zeros < n && p[zeros] == 0)
        zeros++;
    nl = (n - zeros + 3) / 4;
    memset(limbs, 0, sizeof limbs);
    for (i = zeros; i < n; i++) {
        size_t b = n - 1 - i; /* byte index from the least significant end */
        limbs[nl - 1 - b / 4] |= (uint32_t)p[i] << (8 * (b % 4));
    }
    while (top < nl) {
        uint64_t rem = 0;
        unsigned k;
        for (i = top; i < nl; i++) {
            uint64_t cur = rem << 32 | limbs[i];
            limbs[i] = (uint32_t)(cur / 656356768u); /* 58^5 */
            rem = cur % 656356768u;
        }
        while (top < nl && limbs[top] == 0)
            top++;
        for (k = 0; k < 5; k++) {
            digits[nd++] = b58_alphabet[rem % 58];
            rem /= 58;
        }
    }
    /* cppcheck-suppress uninitvar ; digits[0..nd) were all written above */
    while (nd > 0 && digits[nd - 1] == '1')
        nd--;
    len = zeros + nd;
    if (len >= cap)
        return 0;
    memset(out, '1', zeros);
    for (i = 0; i < nd; i++)
        out[zeros + i] = digits[nd - 1 - i];
    return len;
}

static size_t base32_encode(const uint8_t *p, size_t n, char *out, size_t cap)
{
    size_t len = (n * 8 + 4) / 5, i, k = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    if (len >= cap)
        return 0;
    for (i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[k++] = b32_alphabet[(acc >> bits) & 31];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0)
        out[k++] = b32_alphabet[(acc << (5 - bits)) & 31];
    return k;
}

size_t ik_cid_format(const struct ik_cid *cid, char *out, size_t cap)
{
    size_t n;
    if (cid->binary_len > IK_CID_MAX_BINARY || cap == 0)
        return 0;
    if (cid->version == 0) {
        n = base58_encode(cid->binary, cid->binary_len, out, cap);
    } else if (cap > 1 && (n = base32_encode(cid->binary, cid->binary_len, out + 1, cap - 1)) > 0) {
        out[0] = 'b';
        n++;
    } else {
        n = 0;
    }
    if (n == 0)
        return 0;
    out[n] = 0;
    return n;
}

/* Whether a CID text that parses is already canonical, without formatting it again: CIDv0
 * text has one form (base58 of a number with no leading zero byte), and base32 decoding
 * refuses non-zero padding bits, so lower-case `b…` text is the only base32 form of its
 * binary. */
static bool looks_canonical(const char *s, size_t len)
{
    size_t i;
    if (len > 0 && s[0] == 'Q')
        return true;
    if (len == 0 || s[0] != 'b')
        return false;
    for (i = 1; i < len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            return false;
    return true;
}

size_t ik_cid_canonical(const char *s, size_t len, char *out, size_t cap)
{
    struct ik_cid c;
    if (ik_cid_parse(s, len, &c, NULL) != 0)
        return 0;
    if (!looks_canonical(s, len))
        return ik_cid_format(&c, out, cap);
    if (len >= cap)
        return 0;
    memcpy(out, s, len);
    out[len] = 0;
    return len;
}

bool ik__cid_needs_canonical(const char *s, size_t len)
{
    return !looks_canonical(s, len);
}

const char *ik_cid_codec_name(uint64_t codec)
{
    switch (codec) {
    case 0x51:
        return "cbor";
    case 0x55:
        return "raw";
    case 0x70:
        return "dag-pb";
    case 0x71:
        return "dag-cbor";
    case 0x72:
        return "libp2p-key";
    case 0x78:
        return "git-raw";
    case 0x85:
        return "dag-jose";
    case 0x86:
        return "dag-cose";
    case 0x0129:
        return "dag-json";
    case 0x0200:
        return "json";
    default:
        return NULL;
    }
}
