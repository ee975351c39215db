/* libFuzzer target: CID text. Whatever parses must format to canonical text that parses back to
 * the same CID; canonical input (CIDv0, lower-case base32) must format to itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfskit/cid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_cid: %s for input \"%.*s\"\n", what, (int)size, (const char *)data);
    abort();
}

static int is_canonical_input(const uint8_t *data, size_t size)
{
    size_t i;
    if (data[0] == 'Q')
        return 1;
    if (data[0] != 'b')
        return 0;
    for (i = 1; i < size; i++)
        if (data[i] >= 'A' && data[i] <= 'Z')
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ik_cid c, back;
    struct ik_error err;
    char text[IK_CID_MAX_TEXT + 1], copy[IK_CID_MAX_TEXT + 1];
    size_t n;
    int rc = ik_cid_parse((const char *)data, size, &c, &err);
    if (size <= IK_CID_MAX_TEXT && memchr(data, 0, size) == NULL) {
        memcpy(copy, data, size);
        copy[size] = 0;
        if (ik_cid_valid(copy, &err) != (rc == 0))
            fail("ik_cid_valid disagrees with ik_cid_parse", data, size);
    }
    if (rc != 0)
        return 0;
    if (c.digest_off + c.digest_len != c.binary_len || c.binary_len > IK_CID_MAX_BINARY)
        fail("digest does not end the binary", data, size);
    n = ik_cid_format(&c, text, sizeof text);
    if (n == 0 || n != strlen(text))
        fail("format failed", data, size);
    if (ik_cid_format(&c, text, n) != 0)
        fail("format wrote into a buffer without room for the NUL", data, size);
    ik_cid_format(&c, text, sizeof text);
    if (ik_cid_parse(text, n, &back, &err) != 0)
        fail(err.message, data, size);
    if (back.version != c.version || back.codec != c.codec || back.hash_fn != c.hash_fn ||
        back.digest_len != c.digest_len || back.digest_off != c.digest_off ||
        back.binary_len != c.binary_len || memcmp(back.binary, c.binary, c.binary_len) != 0)
        fail("format -> parse changed the CID", data, size);
    if (is_canonical_input(data, size) && (n != size || memcmp(text, data, size) != 0))
        fail("canonical text did not format to itself", data, size);
    return 0;
}
