/* IPC body compression: LZ4 frame and ZSTD buffers with the int64 uncompressed-length prefix
 * (-1 = stored raw). Decompressed sizes are checked against the input before any allocation. */
#include <lz4frame.h>
#include <zstd.h>

#include "arrow/internal.h"

/* Maximum expansion: an LZ4 sequence can encode at most ~255 output bytes per input byte;
 * a ZSTD RLE block turns a 3-byte block header + 1 byte into up to 128 KiB. */
#define LZ4_MAX_RATIO 256
#define ZSTD_MAX_RATIO 32768

/* LZ4 frame settings: independent 4 MiB blocks (no history carried from block to block),
 * flushed at once (so the bound follows the input, not the block size), the length declared. */
static void lz4_prefs(LZ4F_preferences_t *p, int level, size_t n)
{
    memset(p, 0, sizeof *p);
    p->compressionLevel = level;
    p->autoFlush = 1;
    p->frameInfo.contentSize = n;
    p->frameInfo.blockMode = LZ4F_blockIndependent;
    p->frameInfo.blockSizeID = LZ4F_max4MB;
}

size_t ik__compress_bound(enum ik_compression c, size_t n)
{
    LZ4F_preferences_t prefs;
    size_t b;
    lz4_prefs(&prefs, 0, n);
    b = c == IK_COMPRESSION_LZ4 ? LZ4F_compressFrameBound(n, &prefs) : ZSTD_compressBound(n);
    return 8 + (b > n ? b : n);
}

/* Buffers of LZ4_PROBE_MIN bytes or more are compressed LZ4_PROBE bytes first, then the rest
 * only if that part saved at least 1/32 of itself. */
#define LZ4_PROBE_MIN ((size_t)1 << 20)
#define LZ4_PROBE ((size_t)256 << 10)

/* One LZ4 frame of src into dst with a reused context: begin, update, end; its length, or
 * n + 1 when the frame was given up because its first LZ4_PROBE bytes hardly shrank. Data
 * that LZ4 cannot shrink (CIDs, hashes: random over their alphabet, and LZ4 has no entropy
 * coding) then costs a quarter megabyte of work instead of a whole pass that gains nothing:
 * 12 % of a 1M-pin lz4 conversion. The frame's blocks stay independent, so cutting the first
 * update short loses nothing but block-boundary matches. */
static size_t lz4_frame(LZ4F_cctx *cc, uint8_t *dst, size_t cap, const uint8_t *src, size_t n,
                        const LZ4F_preferences_t *prefs)
{
    size_t head, body = 0, first = n >= LZ4_PROBE_MIN ? LZ4_PROBE : 0, tail, r;
    head = LZ4F_compressBegin(cc, dst, cap, prefs);
    if (LZ4F_isError(head))
        return head;
    if (first) {
        body = LZ4F_compressUpdate(cc, dst + head, cap - head, src, first, NULL);
        if (LZ4F_isError(body))
            return body;
        if (body > first - first / 32)
            return n + 1;
    }
    r = LZ4F_compressUpdate(cc, dst + head + body, cap - head - body, src + first, n - first, NULL);
    if (LZ4F_isError(r))
        return r;
    body += r;
    tail = LZ4F_compressEnd(cc, dst + head + body, cap - head - body, NULL);
    if (LZ4F_isError(tail))
        return tail;
    return head + body + tail;
}

void ik__zctx_free(struct ik__zctx *z)
{
    ZSTD_freeCCtx(z->zstd);
    if (z->lz4)
        LZ4F_freeCompressionContext(z->lz4);
    z->zstd = z->lz4 = NULL;
}

int ik__compress_buffer(struct ik__zctx *z, enum ik_compression c, int level, const uint8_t *src,
                        size_t n, uint8_t *dst, size_t cap, size_t *written, bool *raw,
                        struct ik_error *err)
{
    size_t r;
    if (raw)
        *raw = false;
    if (cap < 8 + n)
        return ik_error_set(err, EINVAL, "compression buffer too small");
    if (c == IK_COMPRESSION_LZ4) {
        LZ4F_preferences_t prefs;
        LZ4F_cctx *cc = z->lz4;
        if (cc == NULL && LZ4F_isError(LZ4F_createCompressionContext(&cc, LZ4F_VERSION)))
            return ik_error_set(err, ENOMEM, "lz4: out of memory");
        z->lz4 = cc;
        lz4_prefs(&prefs, level, n);
        r = lz4_frame(cc, dst + 8, cap - 8, src, n, &prefs);
        if (LZ4F_isError(r))
            return ik_error_set(err, EIO, "lz4: %s", LZ4F_getErrorName(r));
    } else {
        if (z->zstd == NULL && (z->zstd = ZSTD_createCCtx()) == NULL)
            return ik_error_set(err, ENOMEM, "zstd: out of memory");
        r = ZSTD_compressCCtx(z->zstd, dst + 8, cap - 8, src, n, level ? level : 1);
        if (ZSTD_isError(r))
            return ik_error_set(err, EIO, "zstd: %s", ZSTD_getErrorName(r));
    }
    if (r >= n) { /* no gain: store raw */
        ik__st_u64(dst, (uint64_t)-1);
        if (raw)
            *raw = true;
        else
            memcpy(dst + 8, src, n);
        *written = 8 + n;
        return 0;
    }
    ik__st_u64(dst, (uint64_t)n);
    *written = 8 + r;
    return 0;
}

int ik__decompressed_size(enum ik_compression c, const uint8_t *src, size_t n, int64_t limit,
                          int64_t *out, struct ik_error *err)
{
    int64_t claim;
    uint64_t declared = 0;
    bool has_declared = false;
    if (n < 8)
        return ik_error_set(err, IK_EFORMAT, "compressed buffer of %zu bytes has no length prefix",
                            n);
    claim = ik__ld_i64(src);
    if (claim == -1) {
        *out = -1;
        return 0;
    }
    if (claim < 0)
        return ik_error_set(err, IK_EFORMAT, "negative uncompressed length %lld", (long long)claim);
    if (c == IK_COMPRESSION_ZSTD) {
        unsigned long long s = ZSTD_getFrameContentSize(src + 8, n - 8);
        if (s == ZSTD_CONTENTSIZE_ERROR)
            return ik_error_set(err, IK_EFORMAT, "not a zstd frame");
        if (s != ZSTD_CONTENTSIZE_UNKNOWN) {
            declared = s;
            has_declared = true;
        }
        if ((uint64_t)claim > (uint64_t)(n - 8) * ZSTD_MAX_RATIO + 64)
            return ik_error_set(err, IK_EFORMAT,
                                "uncompressed length %lld impossible for %zu zstd bytes",
                                (long long)claim, n - 8);
    } else {
        LZ4F_dctx *d;
        LZ4F_frameInfo_t info;
        size_t consumed = n - 8, r;
        if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
            return ik_error_set(err, ENOMEM, "lz4: out of memory");
        memset(&info, 0, sizeof info);
        r = LZ4F_getFrameInfo(d, &info, src + 8, &consumed);
        LZ4F_freeDecompressionContext(d);
        if (LZ4F_isError(r))
            return ik_error_set(err, IK_EFORMAT, "not an lz4 frame: %s", LZ4F_getErrorName(r));
        if (info.contentSize) {
            declared = info.contentSize;
            has_declared = true;
        }
        if ((uint64_t)claim > (uint64_t)(n - 8) * LZ4_MAX_RATIO + 64)
            return ik_error_set(err, IK_EFORMAT,
                                "uncompressed length %lld impossible for %zu lz4 bytes",
                                (long long)claim, n - 8);
    }
    if (has_declared && declared != (uint64_t)claim)
        return ik_error_set(err, IK_EFORMAT,
                            "length prefix %lld disagrees with the frame's content size %llu",
                            (long long)claim, (unsigned long long)declared);
    if (claim > limit)
        return ik_error_set(err, IK_ELIMIT, "uncompressed length %lld over the limit %lld",
                            (long long)claim, (long long)limit);
    *out = claim;
    return 0;
}

int ik__decompress_buffer(enum ik_compression c, const uint8_t *src, size_t n, uint8_t *dst,
                          size_t dst_len, struct ik_error *err)
{
    src += 8;
    n -= 8;
    if (c == IK_COMPRESSION_ZSTD) {
        size_t r = ZSTD_decompress(dst, dst_len, src, n);
        if (ZSTD_isError(r))
            return ik_error_set(err, IK_EFORMAT, "zstd: %s", ZSTD_getErrorName(r));
        if (r != dst_len)
            return ik_error_set(err, IK_EFORMAT, "zstd produced %zu bytes, expected %zu", r,
                                dst_len);
        return 0;
    } else {
        LZ4F_dctx *d;
        size_t out_pos = 0, in_pos = 0, r = 1;
        if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
            return ik_error_set(err, ENOMEM, "lz4: out of memory");
        while (in_pos < n && r != 0) {
            size_t out_sz = dst_len - out_pos, in_sz = n - in_pos;
            r = LZ4F_decompress(d, dst + out_pos, &out_sz, src + in_pos, &in_sz, NULL);
            if (LZ4F_isError(r)) {
                LZ4F_freeDecompressionContext(d);
                return ik_error_set(err, IK_EFORMAT, "lz4: %s", LZ4F_getErrorName(r));
            }
            out_pos += out_sz;
            in_pos += in_sz;
            if (out_sz == 0 && in_sz == 0)
                break;
        }
        LZ4F_freeDecompressionContext(d);
        if (out_pos != dst_len || r != 0)
            return ik_error_set(err, IK_EFORMAT, "lz4 produced %zu bytes, expected %zu%s", out_pos,
                                dst_len, r != 0 ? " (frame incomplete)" : "");
        return 0;
    }
}
