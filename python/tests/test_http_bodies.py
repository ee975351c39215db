"""HTTP bodies (docs/http.md "Formats", "Compression"): Arrow bodies sent from the segments'
mappings without copying rows (counted in /metrics), and Content-Encoding of the text formats
negotiated by Accept-Encoding (gzip, zstd; q-values; unknown codings ignored)."""
import gzip
import io
import json

import pyarrow.ipc as ipc
import pytest

from http_util import finish, get, healthy, http_daemon, raw


@pytest.fixture(scope="module")
def d():
    d = http_daemon(pins=3000)
    yield d
    finish(d)


def arrow_bytes(d):
    text = get(d, "/metrics")[2].decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("ipfs_kit_http_arrow_bytes_total{"):
            out[line.split('kind="')[1].split('"')[0]] = int(float(line.split()[-1]))
    return out


def counted(d, path, headers=None):
    before = arrow_bytes(d)
    code, h, body = get(d, path, headers)
    assert code == 200
    after = arrow_bytes(d)
    return body, {k: after[k] - before[k] for k in after}


@pytest.mark.parametrize("path", ["/pin-index-arrow?limit=100", "/pin-index-arrow",
                                  "/v1/tables/pin_index?columns=cid,size_bytes&limit=10",
                                  "/pin-index-arrow?limit=2000"])
def test_slices_are_sent_from_the_mapping_with_no_rows_materialised(d, path):
    body, n = counted(d, path)
    rows = ipc.open_stream(io.BytesIO(body)).read_all()
    assert rows.num_rows > 0
    assert n["copied"] == 0 and n["compressed"] == 0
    sent = n["referenced"] + n["gathered"]
    assert sent > 0 and sent + n["framing"] == len(body)


@pytest.mark.parametrize("path,rows,small", [
    ("/pin-index-arrow?limit=100&offset=3", (3, 100), True),
    ("/v1/tables/pin_index?columns=cid,backend&limit=10&offset=5", (5, 10), True),
    ("/pin-index-arrow?limit=2000&offset=3", (3, 2000), False)])
def test_small_bodies_are_gathered_and_large_ones_referenced(d, path, rows, small):
    """Up to 64 KiB a body is one buffer (sent with the headers in one sendmsg); beyond, its
    buffers are referenced where they lie in the mapping. Either way pyarrow reads the rows."""
    body, n = counted(d, path)
    assert (len(body) <= 64 << 10) == small
    if small:
        assert n["referenced"] == 0 and n["gathered"] > 0
    else:
        assert n["gathered"] == 0 and n["referenced"] > 0
    got = ipc.open_stream(io.BytesIO(body)).read_all()
    want = d.query_arrow("pin", "list")[0].slice(*rows)
    assert got.equals(want.select(got.column_names)) and got.num_rows == rows[1]


def test_materialised_rows_are_counted_as_copied(d):
    body, n = counted(d, "/v1/tables/pin_index?type=direct")  # a filter materialises rows
    assert ipc.open_stream(io.BytesIO(body)).read_all().num_rows > 0
    assert n["copied"] > 0 and n["copied"] + n["referenced"] + n["framing"] == len(body)


def test_compressed_arrow_bytes_are_counted_as_compressed(d):
    body, n = counted(d, "/pin-index-arrow",
                      {"Accept": 'application/vnd.apache.arrow.stream; codecs="zstd"'})
    assert n["compressed"] > 0 and sum(n.values()) == len(body)


# ---- Content-Encoding ----------------------------------------------------------------------

def decode(encoding, body):
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "zstd":
        return zstd_decompress(body)
    return body


def zstd_decompress(body):
    """zstd frames decoded by pyarrow's codec (the frame says its content size)."""
    import pyarrow as pa
    # ZSTD_compress writes the content size into the frame header
    return pa.Codec("zstd").decompress(body, decompressed_size=frame_size(body)).to_pybytes()


def frame_size(frame):
    """Frame_Content_Size of a zstd frame (RFC 8878 3.1.1.1)."""
    fhd = frame[4]
    fcs_flag, single = fhd >> 6, (fhd >> 5) & 1
    did = [0, 1, 2, 4][fhd & 3]
    at = 5 + (0 if single else 1) + did
    n = [1 if single else 0, 2, 4, 8][fcs_flag]
    v = int.from_bytes(frame[at:at + n], "little")
    return v + 256 if n == 2 else v


TEXT = [("application/json", "json"), ("application/x-ndjson", "jsonl"), ("text/csv", "csv")]


@pytest.mark.parametrize("accept,fmt", TEXT)
@pytest.mark.parametrize("ae,want", [("gzip", "gzip"), ("zstd", "zstd"),
                                     ("gzip, zstd", "zstd"), ("zstd;q=0.5, gzip", "gzip"),
                                     ("br, gzip;q=0.8", "gzip"), ("*", "zstd"),
                                     ("x-gzip", "gzip")])
def test_text_bodies_are_encoded_and_decode_to_the_plain_body(d, accept, fmt, ae, want):
    path = "/v1/tables/pin_index?limit=500"
    plain = get(d, path, {"Accept": accept})[2]
    code, h, body = get(d, path, {"Accept": accept, "Accept-Encoding": ae})
    assert code == 200 and h["Content-Encoding"] == want
    assert "Accept-Encoding" in h["Vary"]
    assert decode(want, body) == plain and len(body) < len(plain)
    assert plain == d.ok("pin", "list", "--limit", "500", "--format", fmt).stdout


@pytest.mark.parametrize("ae", ["gzip;q=0, zstd;q=0", "identity", "br, compress, deflate",
                                "*;q=0, identity", "gzip;q=0", "zstd;q=0, gzip;q=0",
                                "gzip;q=2", "gzip;q=abc", "gzip;q=0.0001", ";;;,,,", "",
                                "*;q=0"])
def test_q0_and_unknown_codings_leave_the_body_plain(d, ae):
    path = "/v1/tables/pin_index?limit=50"
    plain = get(d, path, {"Accept": "application/json"})[2]
    code, h, body = get(d, path, {"Accept": "application/json", "Accept-Encoding": ae})
    assert code == 200 and "Content-Encoding" not in h and body == plain


def test_q0_for_one_coding_picks_the_other(d):
    code, h, _ = get(d, "/v1/tables/pin_index?limit=5",
                     {"Accept": "text/csv", "Accept-Encoding": "zstd;q=0, gzip"})
    assert h["Content-Encoding"] == "gzip"
    code, h, _ = get(d, "/v1/tables/pin_index?limit=5",
                     {"Accept": "text/csv", "Accept-Encoding": "gzip;q=0, *"})
    assert h["Content-Encoding"] == "zstd"


def test_arrow_never_gets_a_content_encoding(d):
    code, h, body = get(d, "/pin-index-arrow?limit=10", {"Accept-Encoding": "gzip, zstd"})
    assert code == 200 and "Content-Encoding" not in h
    assert "Accept-Encoding" in h["Vary"]
    assert ipc.open_stream(io.BytesIO(body)).read_all().num_rows == 10


def test_encoded_responses_are_counted(d):
    def n(enc):
        for line in get(d, "/metrics")[2].decode().splitlines():
            if line.startswith(f'ipfs_kit_http_encoded_responses_total{{encoding="{enc}"}}'):
                return int(float(line.split()[-1]))
    before = n("gzip")
    get(d, "/v1/tables/pin_index?limit=5", {"Accept": "text/csv", "Accept-Encoding": "gzip"})
    assert n("gzip") == before + 1


def test_huge_and_hostile_accept_encoding_headers(d):
    long_ae = ", ".join(f"x-coding-{i};q=0.{i % 10}" for i in range(600)) + ", gzip"
    assert len(long_ae) < 16000  # within max_header_bytes: parsed, gzip found at the end
    code, h, body = get(d, "/v1/tables/pin_index?limit=5",
                        {"Accept": "application/json", "Accept-Encoding": long_ae})
    assert code == 200 and h["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(body))) == 5
    code, _ = raw(d, b"GET /v1/tables/pin_index?limit=5 HTTP/1.1\r\nHost: x\r\nAccept: "
                     b"text/csv\r\nAccept-Encoding: " + b"gzip;q=0.5," * 20000 +
                  b"\r\nConnection: close\r\n\r\n")
    assert code in (413, 431, 400)  # past max_header_bytes
    code, got = raw(d, b"GET /v1/tables/pin_index?limit=5 HTTP/1.1\r\nHost: x\r\nAccept: "
                       b"text/csv\r\nAccept-Encoding: \xff\xfe;q=\x00\r\nConnection: close\r\n\r\n")
    assert code in (200, 400)
    assert healthy(d)


# ---- the response cache (docs/http.md "Response cache") ------------------------------------

def cache_counts(d):
    out = {}
    for line in get(d, "/metrics")[2].decode().splitlines():
        if line.startswith("ipfs_kit_http_response_cache_total{"):
            out[line.split('result="')[1].split('"')[0]] = int(float(line.split()[-1]))
    return out


def test_a_repeated_request_is_served_from_the_cache_until_a_new_version():
    d = http_daemon(pins=100, asan=False)
    try:
        path = "/v1/tables/pin_index?columns=cid&type=recursive"
        c0 = cache_counts(d)
        first = get(d, path)
        second = get(d, path)
        c1 = cache_counts(d)
        assert c1["miss"] - c0["miss"] == 1 and c1["hit"] - c0["hit"] == 1
        assert first[2] == second[2] and first[1]["ETag"] == second[1]["ETag"]
        assert int(second[1]["Content-Length"]) == len(second[2])
        n = ipc.open_stream(io.BytesIO(second[2])).read_all().num_rows
        d.ok("pin", "add", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")
        code, h, body = get(d, path)  # a new version: built again, never the old bytes
        assert h["ETag"] != first[1]["ETag"]
        assert ipc.open_stream(io.BytesIO(body)).read_all().num_rows == n + 1
        assert cache_counts(d)["miss"] - c1["miss"] == 1
        for accept in ("text/csv", "application/json"):  # formats are cached apart
            assert get(d, path, {"Accept": accept})[1]["Content-Type"].startswith(accept)
        code, h, body = get(d, path, {"Accept": "text/csv", "Accept-Encoding": "gzip"})
        assert h["Content-Encoding"] == "gzip"
        assert "Content-Encoding" not in get(d, path, {"Accept": "text/csv"})[1]
    finally:
        d.cleanup()


def test_cors_responses_are_not_shared():
    d = http_daemon({"cors_origins": ["http://a.example"]}, pins=10, asan=False)
    try:
        for origin in ("http://a.example", None, "http://a.example", None):
            h = get(d, "/pin-index-arrow?limit=3", {"Origin": origin} if origin else {})[1]
            assert h.get_all("Access-Control-Allow-Origin") == (
                ["http://a.example"] if origin else None)
    finally:
        d.cleanup()


def test_a_whole_one_segment_table_is_the_segment_file_sent_as_is():
    d = http_daemon(pins=300, asan=False)
    try:
        body, n = counted(d, "/pin-index-arrow")
        # the segment file's messages (sendfile): nothing made for this response
        assert n["framing"] == 0 and n["referenced"] == len(body)
        t = ipc.open_stream(io.BytesIO(body)).read_all()
        assert t.equals(d.query_arrow("pin", "list")[0])
        assert t.schema.metadata[b"ipfs_kit.table"] == b"pin_index"
        _, n = counted(d, "/pin-index-arrow?limit=299")  # a slice: written per request
        assert n["framing"] > 0
        d.ok("pin", "add", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")  # a delta segment
        body, n = counted(d, "/pin-index-arrow")
        assert n["framing"] > 0 and n["copied"] == 0
        assert ipc.open_stream(io.BytesIO(body)).read_all().equals(
            d.query_arrow("pin", "list")[0])
    finally:
        d.cleanup()


def test_many_delta_segments_make_one_correct_body():
    d = http_daemon(pins=200, asan=False)
    try:
        full = d.query_arrow("pin", "list")[0]
        for cid in full.column("cid").to_pylist()[:60]:  # one delta segment per write
            d.ok("pin", "add", cid, "--name", "renamed")
        want = d.query_arrow("pin", "list")[0]
        for path in ("/pin-index-arrow", "/pin-index-arrow?columns=cid,name&offset=7",
                     "/pin-index-arrow?name=renamed"):
            body, n = counted(d, path)
            got = ipc.open_stream(io.BytesIO(body)).read_all()
            assert sum(n.values()) == len(body)
            if path == "/pin-index-arrow":
                assert got.equals(want)
            else:
                assert got.num_rows == (193 if "offset" in path else 60)
    finally:
        d.cleanup()
