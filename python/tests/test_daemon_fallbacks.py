"""Every fallback, triggered for real, says which path it took, and gives the same rows as the
zero-copy path: ipc_stream (none, lz4, zstd), traditional (asked for, and Arrow disabled in
config.json), direct from the snapshot file (daemon down) and direct from SQLite (asked for,
or no snapshot on disk)."""
import json
import shutil

import pytest

from daemon_util import Client, QueryError, cid_v0

QUERIES = {
    "filtered": ["pin", "list", "--type", "recursive", "--offset", "7", "--limit", "400"],
    "prefix": ["pin", "list", "--vfs-prefix", "/datasets/set-03", "--columns",
               "vfs_path,cid,size_bytes,verified,pin_type"],
    "whole": ["pin", "list"],
}


@pytest.fixture
def loaded(daemons, tmp_path):
    d = daemons()
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", 3000, seed=4))
    ref = {}
    for name, q in QUERIES.items():
        t, summary = d.query_arrow(*q)
        assert "zero_copy via arrow_ipc_daemon" in summary, summary
        assert t.num_rows > 0
        ref[name] = t
    assert ref["filtered"].num_rows == 400 and ref["whole"].num_rows == 3000
    return d, ref


def check_same(d, ref, extra, method, source):
    for name, q in QUERIES.items():
        t, summary = d.query_arrow(*q, *extra)
        assert f" · {method} via {source} · " in summary, (name, extra, summary)
        assert t.schema.equals(ref[name].schema), (name, extra, t.schema, ref[name].schema)
        assert t.to_pylist() == ref[name].to_pylist(), (name, extra)


def test_ipc_stream_with_every_compression(loaded):
    d, ref = loaded
    for comp in ("none", "lz4", "zstd"):
        check_same(d, ref, ["--method", "ipc_stream", "--compression", comp], "ipc_stream",
                   "arrow_ipc_daemon")
        with Client(d.path, method="ipc_stream", compression=comp) as c:
            meta, reader = c.query(limit=10)
            assert (meta["method"], meta["source"], meta["detail"]) == \
                ("ipc_stream", "arrow_ipc_daemon", comp)
            assert reader.read_all().num_rows == 10 and meta["table_rows"] == 3000


def test_traditional_when_asked(loaded):
    d, ref = loaded
    check_same(d, ref, ["--method", "traditional"], "traditional", "traditional_json_fallback")


def test_traditional_when_arrow_is_disabled_in_config(loaded):
    d, ref = loaded
    d.ok("daemon", "stop")
    d.write_config({"arrow_ipc": {"enabled": False}})
    d.start()
    check_same(d, ref, [], "traditional", "traditional_json_fallback")
    # a client that insists on zero_copy is answered with JSON rows, and told so
    with Client(d.path, method="zero_copy") as c:
        meta, reader = c.query(filters=[("pin_type", "eq", "recursive")], offset=7, limit=400)
        assert (meta["method"], meta["source"]) == ("traditional", "traditional_json_fallback")
        assert reader.read_all().to_pylist() == ref["filtered"].to_pylist()


def test_direct_from_the_snapshot_then_from_sqlite(loaded):
    d, ref = loaded
    version = json.loads(d.ok("daemon", "status", "--format", "json").stdout)["snapshot_version"]
    d.ok("daemon", "stop")
    assert d.ik("daemon", "status").returncode == 3

    check_same(d, ref, [], "direct", "direct_pin_index")
    with Client(d.path) as c:
        meta, reader = c.query(limit=5)
        assert (meta["method"], meta["detail"], meta["version"]) == ("direct", "snapshot",
                                                                     version)
        assert reader.read_all().num_rows == 5
    # metrics and backend health exist only in a running daemon
    r = d.ik("metrics")
    assert r.returncode == 69 and b"daemon start" in r.stderr

    check_same(d, ref, ["--source", "sqlite"], "direct", "direct_pin_index")
    with Client(d.path, direct_sqlite=True) as c:
        meta, reader = c.query(limit=5)
        assert (meta["method"], meta["detail"]) == ("direct", "sqlite")
        assert reader.read_all().num_rows == 5

    shutil.rmtree(d.p("snapshots"))  # no snapshot at all: SQLite it is
    check_same(d, ref, [], "direct", "direct_pin_index")
    with Client(d.path) as c:
        meta, _ = c.query(limit=1)
        assert meta["detail"] == "sqlite"


def test_a_stale_snapshot_is_not_served_when_the_store_moved_on(loaded):
    d, ref = loaded
    d.ok("daemon", "stop")
    d.ok("pin", "add", cid_v0(77), "--name", "added-offline")  # store only, no new snapshot
    with Client(d.path) as c:
        meta, reader = c.query(filters=[("cid", "eq", cid_v0(77))])
        assert (meta["method"], meta["detail"]) == ("direct", "sqlite")
        assert reader.read_all().column("name").to_pylist() == ["added-offline"]


def test_forced_daemon_methods_fail_cleanly_without_a_daemon(loaded):
    d, _ = loaded
    d.ok("daemon", "stop")
    for m in ("zero_copy", "ipc_stream"):
        r = d.ik("pin", "list", "--method", m, "--limit", "1")
        assert r.returncode == 69, (m, r)
        with Client(d.path, method=m) as c, pytest.raises(QueryError) as e:
            c.query(limit=1)
        assert e.value.rc == 1006  # IK_EDAEMON
