/* Content-Encoding of the text bodies (JSON, JSON lines, CSV): the coding is chosen from the
 * request's Accept-Encoding (RFC 9110 12.5.3: q-values, `*`, `identity`, q=0 excludes) among
 * zstd (libzstd) and gzip (zlib), and the rendered body is encoded in one pass at a fast level.
 * Arrow bodies never get a Content-Encoding: they use IPC buffer compression instead (body.c
 * and docs/http.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "http_internal.h"

#define GZIP_LEVEL 1
#define ZSTD_LEVEL 1

static const char *const names[IK_ENC_COUNT] = {"identity", "gzip", "zstd"};

const char *ik__http_encoding_name(int encoding)
{
    return names[encoding];
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* A qvalue ("0", "0.5", "1", "1.000") into thousandths; -1 when malformed. */
static int qvalue(const char *b, const char *e)
{
    int v, scale = 100;
    if (b >= e || (*b != '0' && *b != '1'))
        return -1;
    v = (*b++ - '0') * 1000;
    if (b == e)
        return v;
    if (*b++ != '.')
        return -1;
    for (int digits = 0; b < e; b++, digits++) {
        if (digits == 3 || *b < '0' || *b > '9')
            return -1;
        v += (*b - '0') * scale;
        scale /= 10;
    }
    return v > 1000 ? -1 : v;
}

/* The coding named by [b, e): IK_ENC_*, IK_ENC_COUNT for `*`, -1 for anything else. */
static int coding(const char *b, const char *e)
{
    size_t n = (size_t)(e - b);
    if (n == 1 && *b == '*')
        return IK_ENC_COUNT;
    if ((n == 4 && strncasecmp(b, "gzip", 4) == 0) || (n == 6 && strncasecmp(b, "x-gzip", 6) == 0))
        return IK_ENC_GZIP;
    if (n == 4 && strncasecmp(b, "zstd", 4) == 0)
        return IK_ENC_ZSTD;
    if (n == 8 && strncasecmp(b, "identity", 8) == 0)
        return IK_ENC_IDENTITY;
    return -1;
}

int ik__http_pick_encoding(const char *ae)
{
    /* q in thousandths per coding; -1 = not named. `star` applies to codings not named. */
    int q[IK_ENC_COUNT] = {-1, -1, -1}, star = -1, best = IK_ENC_IDENTITY, best_q;
    if (!ae)
        return IK_ENC_IDENTITY;
    for (const char *s = ae; *s;) {
        const char *end = strchr(s, ','), *b = s, *e, *semi;
        int c, v = 1000;
        end = end ? end : s + strlen(s);
        semi = memchr(s, ';', (size_t)(end - s));
        e = semi ? semi : end;
        while (b < e && is_space(*b))
            b++;
        while (e > b && is_space(e[-1]))
            e--;
        if (semi) { /* only a q parameter is defined for codings */
            const char *pb = semi + 1, *pe = end;
            while (pb < pe && is_space(*pb))
                pb++;
            while (pe > pb && is_space(pe[-1]))
                pe--;
            v = pe - pb > 2 && (pb[0] == 'q' || pb[0] == 'Q') && pb[1] == '=' ? qvalue(pb + 2, pe)
                                                                              : -1;
        }
        c = coding(b, e);
        if (c == IK_ENC_COUNT && v >= 0)
            star = v;
        else if (c >= 0 && v >= 0)
            q[c] = v;
        s = *end ? end + 1 : end;
    }
    /* A coding not named takes the q of `*` (none: not acceptable). identity ranks by its
     * own q only when named: otherwise any acceptable coding is preferred to it. */
    for (int c = IK_ENC_GZIP; c < IK_ENC_COUNT; c++)
        if (q[c] < 0)
            q[c] = star >= 0 ? star : 0;
    /* Highest q wins; on a tie the server prefers zstd, then gzip, then identity. When even
     * identity is refused (q=0) and nothing else is acceptable, identity is sent anyway
     * (RFC 9110 allows answering without regard to the header). */
    best_q = q[IK_ENC_IDENTITY] > 0 ? q[IK_ENC_IDENTITY] : 0;
    for (int c = IK_ENC_ZSTD; c > IK_ENC_IDENTITY; c--)
        if (q[c] > 0 && (best == IK_ENC_IDENTITY ? q[c] >= best_q : q[c] > best_q)) {
            best = c;
            best_q = q[c];
        }
    return best;
}

static int gzip(const void *in, size_t len, void **out, size_t *out_len, struct ik_error *err)
{
    z_stream z;
    const uint8_t *src = in;
    uint8_t *buf;
    size_t cap, left = len;
    int zr;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return ik_error_set(err, ENOMEM, "gzip: cannot start");
    cap = deflateBound(&z, (uLong)len) + 32;
    if (!(buf = malloc(cap))) {
        deflateEnd(&z);
        return ik_error_set(err, ENOMEM, "out of memory");
    }
    /* in steps of at most 1 GiB: zlib's counts are 32-bit */
    z.next_out = buf;
    do {
        size_t room = cap - (size_t)(z.next_out - buf);
        if (z.avail_in == 0 && left) {
            size_t step = left < (1u << 30) ? left : (1u << 30);
            z.next_in = (Bytef *)(uintptr_t)src;
            z.avail_in = (uInt)step;
            src += step;
            left -= step;
        }
        z.avail_out = (uInt)(room < (1u << 30) ? room : (1u << 30));
        zr = room ? deflate(&z, left ? Z_NO_FLUSH : Z_FINISH) : Z_BUF_ERROR;
    } while (zr == Z_OK);
    if (zr != Z_STREAM_END) {
        free(buf);
        deflateEnd(&z);
        return ik_error_set(err, EIO, "gzip: %s", z.msg ? z.msg : "deflate failed");
    }
    *out_len = (size_t)(z.next_out - buf);
    *out = buf;
    deflateEnd(&z);
    return 0;
}

static int zstd(const void *in, size_t len, void **out, size_t *out_len, struct ik_error *err)
{
    size_t cap = ZSTD_compressBound(len), n;
    void *buf = malloc(cap ? cap : 1);
    if (!buf)
        return ik_error_set(err, ENOMEM, "out of memory");
    n = ZSTD_compress(buf, cap, in, len, ZSTD_LEVEL);
    if (ZSTD_isError(n)) {
        free(buf);
        return ik_error_set(err, EIO, "zstd: %s", ZSTD_getErrorName(n));
    }
    *out = buf;
    *out_len = n;
    return 0;
}

int ik__http_encode(int encoding, const void *in, size_t len, void **out, size_t *out_len,
                    struct ik_error *err)
{
    return encoding == IK_ENC_GZIP ? gzip(in, len, out, out_len, err)
                                   : zstd(in, len, out, out_len, err);
}
