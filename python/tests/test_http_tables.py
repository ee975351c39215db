"""HTTP tables (docs/http.md): /pin-index-arrow and /v1/tables/{table} as Arrow (plain, lz4,
zstd; Content-Length), JSON, JSON lines and CSV, equal to what the CLI prints for the same query;
filters as query parameters; ETag and 304; /health, /v1/summary and the dashboard page."""
import io
import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pytest

from http_util import finish, get, http_daemon, status


@pytest.fixture(scope="module")
def d():
    d = http_daemon(pins=2000)
    yield d
    finish(d)


def arrow(body):
    return ipc.open_stream(io.BytesIO(body)).read_all()


def cli_arrow(d, *args):
    return d.query_arrow(*args)[0]


def test_status_and_health_report_the_bound_address(d):
    st = status(d)
    host, port = st["http"].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0  # port 0 asked: the bound one is reported
    human = d.ok("daemon", "status").stdout.decode()
    assert human.splitlines()[0].endswith(f", HTTP http://{st['http']}")
    code, h, body = get(d, "/health")
    assert code == 200 and h["Content-Type"] == "application/json"
    health = json.loads(body)
    assert health["status"] == "ok" and health["pins"] == 2000
    assert health["snapshot_version"] == st["snapshot_version"]
    assert health["version"] == st["version"]


@pytest.mark.parametrize("path", ["/pin-index-arrow", "/v1/tables/pin_index"])
@pytest.mark.parametrize("codec", [None, "lz4", "zstd"])
def test_arrow_equals_cli(d, path, codec):
    accept = "application/vnd.apache.arrow.stream"
    if codec:
        accept += f'; codecs="{codec}"'
    code, h, body = get(d, path, {"Accept": accept})
    assert code == 200
    assert h["Content-Type"] == accept
    # the whole stream is known before its first byte: Content-Length, sent from the mappings
    assert int(h["Content-Length"]) == len(body) and "Transfer-Encoding" not in h
    assert "Content-Encoding" not in h
    assert arrow(body).equals(cli_arrow(d, "pin", "list"))
    if codec:  # buffers really are compressed: smaller than the plain stream
        assert len(body) < len(get(d, path)[2])


def test_arrow_is_the_default_and_codecs_pick_the_first_known(d):
    code, h, body = get(d, "/pin-index-arrow")
    assert h["Content-Type"] == "application/vnd.apache.arrow.stream"
    code, h, body = get(d, "/pin-index-arrow",
                        {"Accept": 'application/vnd.apache.arrow.stream; codecs="br, zstd, lz4"'})
    assert h["Content-Type"] == 'application/vnd.apache.arrow.stream; codecs="zstd"'
    assert arrow(body).num_rows == 2000


@pytest.mark.parametrize("table,cmd", [("vfs_stats", ["vfs", "stats"])])
def test_other_snapshot_tables_equal_cli(d, table, cmd):
    code, h, body = get(d, f"/v1/tables/{table}")
    assert code == 200 and "ETag" in h
    assert arrow(body).equals(cli_arrow(d, *cmd))


@pytest.mark.parametrize("table,cmd", [("metrics", ["metrics"]),
                                       ("backend_health", ["backend", "health"])])
def test_built_tables_have_the_cli_schema(d, table, cmd):
    code, h, body = get(d, f"/v1/tables/{table}")
    assert code == 200 and "ETag" not in h  # built per request: nothing to cache
    assert arrow(body).schema.equals(cli_arrow(d, *cmd).schema, check_metadata=False)


@pytest.mark.parametrize("query,args", [
    ("type=recursive", ["--type", "recursive"]),
    ("backend=s3&limit=7&offset=3", ["--backend", "s3", "--limit", "7", "--offset", "3"]),
    ("name_contains=00001", ["--name-contains", "00001"]),
    ("vfs_prefix=/datasets/set-01", ["--vfs-prefix", "/datasets/set-01"]),
    ("columns=cid,size_bytes&limit=10", ["--columns", "cid,size_bytes", "--limit", "10"]),
])
def test_filters_equal_cli(d, query, args):
    code, _, body = get(d, f"/v1/tables/pin_index?{query}")
    assert code == 200
    want = cli_arrow(d, "pin", "list", *args)
    assert want.num_rows > 0
    assert arrow(body).equals(want)


def test_cid_filter_and_ranges(d):
    full = cli_arrow(d, "pin", "list")
    cid = full.column("cid")[5].as_py()
    assert arrow(get(d, f"/v1/tables/pin_index?cid={cid}")[2]).equals(
        cli_arrow(d, "pin", "list", "--cid", cid))
    got = arrow(get(d, "/v1/tables/pin_index?size_bytes=gte:10000000&size_bytes=lt:20000000")[2])
    sizes = full.column("size_bytes")
    want = full.filter(pc.and_(pc.greater_equal(sizes, 10000000), pc.less(sizes, 20000000)))
    assert want.num_rows > 0 and got.equals(want)
    got = arrow(get(d, "/v1/tables/pin_index?backend=in:s3,ipfs&verified=true")[2])
    want = full.filter(pc.and_(pc.is_in(pc.cast(full.column("backend"), pa.string()),
                                        pa.array(["s3", "ipfs"])), full.column("verified")))
    assert want.num_rows > 0 and got.equals(want)


@pytest.mark.parametrize("accept,fmt", [("application/json", "json"),
                                        ("application/x-ndjson", "jsonl"),
                                        ("text/csv", "csv")])
def test_text_formats_equal_cli(d, accept, fmt):
    code, h, body = get(d, "/v1/tables/pin_index?type=direct&limit=50", {"Accept": accept})
    assert code == 200 and h["Content-Type"].startswith(accept)
    want = d.ok("pin", "list", "--type", "direct", "--limit", "50", "--format", fmt).stdout
    assert body == want


def test_polars_and_duckdb_read_the_same_bytes(d):
    import duckdb
    import polars as pl
    body = get(d, "/pin-index-arrow?columns=cid,size_bytes,pin_type")[2]
    t = arrow(body)
    df = pl.read_ipc_stream(io.BytesIO(body))
    assert df.height == 2000 and df["cid"].to_list() == t.column("cid").to_pylist()
    reader = ipc.open_stream(io.BytesIO(body))
    con = duckdb.connect()
    total = con.execute("select sum(size_bytes) from reader").fetchone()[0]
    assert total == pc.sum(t.column("size_bytes")).as_py()


def test_etag_is_the_snapshot_version_and_if_none_match_answers_304(d):
    code, h, _ = get(d, "/pin-index-arrow?limit=1")
    etag = h["ETag"]
    assert etag == f'"{status(d)["snapshot_version"]}"'
    code, h2, body = get(d, "/pin-index-arrow?limit=1", {"If-None-Match": etag})
    assert code == 304 and body == b"" and h2["ETag"] == etag
    assert get(d, "/pin-index-arrow?limit=1", {"If-None-Match": '"0", ' + etag})[0] == 304
    assert get(d, "/pin-index-arrow?limit=1", {"If-None-Match": '"12345678"'})[0] == 200
    d.ok("pin", "add", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "--name", "etag")
    code, h3, _ = get(d, "/pin-index-arrow?limit=1", {"If-None-Match": etag})
    assert code == 200 and h3["ETag"] != etag
    d.ok("pin", "rm", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")


@pytest.mark.parametrize("query,param", [
    ("limit=x", "limit"), ("offset=-1", "offset"), ("columns=cid,nope", "columns"),
    ("size_bytes=gte:abc", "size_bytes"), ("nope=1", "nope"),
    ("size_bytes=contains:1", "filter"), ("verified=maybe", "verified"),
])
def test_bad_parameters_are_400_naming_them(d, query, param):
    code, h, body = get(d, f"/v1/tables/pin_index?{query}")
    assert code == 400 and h["Content-Type"] == "application/json"
    e = json.loads(body)["error"]
    assert e["code"] in ("bad_parameter",) and e["parameter"] == param and e["message"]


@pytest.mark.parametrize("path", ["/v1/tables/nope", "/v1/tables/", "/v1/tables/pin_index/x",
                                  "/v1/nothing", "/index.html", "/pin-index-arrow/"])
def test_unknown_paths_are_404(d, path):
    code, h, body = get(d, path)
    assert code == 404 and json.loads(body)["error"]["code"] == "not_found"


def test_unacceptable_accept_is_406(d):
    code, _, body = get(d, "/pin-index-arrow", {"Accept": "image/png"})
    assert code == 406 and json.loads(body)["error"]["parameter"] == "Accept"


def test_head_has_headers_and_no_body(d):
    code, h, body = get(d, "/pin-index-arrow", method="HEAD")
    assert code == 200 and body == b"" and h["ETag"]


def test_summary_counts_match_the_table(d):
    code, _, body = get(d, "/v1/summary")
    s = json.loads(body)
    full = cli_arrow(d, "pin", "list")
    assert s["pins"] == full.num_rows
    for col, key in (("pin_type", "by_type"), ("backend", "by_backend")):
        g = pa.table({"k": pc.cast(full.column(col), pa.string()),
                      "s": full.column("size_bytes")}).group_by("k").aggregate(
            [("k", "count"), ("s", "sum")])
        want = {r["k"]: {"pins": r["k_count"], "bytes": r["s_sum"]} for r in g.to_pylist()}
        assert s[key] == want


def test_dashboard_is_one_self_contained_page(d):
    code, h, body = get(d, "/")
    assert code == 200 and h["Content-Type"].startswith("text/html")
    page = body.decode()
    assert "<script>" in page and "src=" not in page and "https://" not in page
    for source in ("/health", "/v1/summary", "/v1/tables/backend_health", "/v1/tables/metrics"):
        assert f"'{source}'" in page
        assert get(d, source, {"Accept": "application/json"})[0] == 200
