"""The change feed end to end (docs/protocol.md "changes"): `pin changes` with and without a
daemon, the "gone" error for a since the log no longer reaches, --follow seeing a write made by
another process, and the Python binding's changes() and follow_changes()."""
import io
import json
import os
import select
import signal
import subprocess
import threading
import time

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from conftest import BIN
from daemon_util import Daemon, cid_v0, raw_request, wait_for

ika = pytest.importorskip("ipfs_kit_arrow")


def jsonl(r):
    return [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]


def changes(d, since, *more):
    return jsonl(d.ok("pin", "changes", "--since", since, "--format", "jsonl", *more))


def make_history(d):
    """v1 add a, v2 add b, v3 touch a, v4 rm b, v5 add c: since 2 gives a (upsert at 3),
    b (delete at 4), c (upsert at 5); since 1 leaves b out (it came and went after 1)."""
    a, b, c = cid_v0(1), cid_v0(2), cid_v0(3)
    d.ok("pin", "add", a, "--name", "first")
    d.ok("pin", "add", b)
    d.ok("pin", "touch", a)
    d.ok("pin", "rm", b)
    d.ok("pin", "add", c, "--vfs-path", "/x/y")
    return a, b, c


def check_history(rows, a, b, c):
    assert [(r["op"], r["version"], r["cid"]) for r in rows] == [
        ("upsert", 3, a), ("delete", 4, b), ("upsert", 5, c)]
    assert list(rows[0])[:3] == ["op", "version", "cid"]
    assert rows[0]["name"] == "first" and rows[0]["access_count"] == 1
    assert set(rows[1]) == {"op", "version", "cid"}  # a delete carries its key only
    assert rows[2]["vfs_path"] == "/x/y"


def test_changes_direct_without_daemon(daemons):
    d = daemons(start=False)
    a, b, c = make_history(d)
    check_history(changes(d, 2), a, b, c)
    assert [r["cid"] for r in changes(d, 1)] == [a, c]
    r = d.ok("pin", "changes", "--since", "2")
    assert b"3 changes since version 2, up to version 5" in r.stdout
    assert b"direct via direct_pin_index" in r.stdout
    assert changes(d, 5) == []
    # arrow: the table's columns, then op and version
    t = ipc.open_stream(io.BytesIO(
        d.ok("pin", "changes", "--since", "0", "--format", "arrow").stdout)).read_all()
    assert t.column_names[-2:] == ["op", "version"] and t.column_names[0] == "cid"
    assert t.schema.field("version").type == pa.int64()
    assert t.schema.field("op").type == pa.dictionary(pa.int8(), pa.utf8())
    assert t.num_rows == 2  # b was added and removed after 0: no difference


def test_changes_through_daemon_equal_direct(daemons):
    d = daemons(start=False)
    a, b, c = make_history(d)
    direct = changes(d, 2)
    check_history(direct, a, b, c)
    d.start()
    r = d.ok("pin", "changes", "--since", "2")
    assert b"ipc_stream via arrow_ipc_daemon" in r.stdout
    assert changes(d, 2) == direct
    assert changes(d, 2, "--method", "traditional") == direct
    hdr, _ = raw_request(d.path, {"v": 1, "op": "changes", "table": "pin_index", "since": 99})
    assert hdr["ok"] is False and hdr["error"]["code"] == "bad_request"
    assert "newer than the newest version, 5" in hdr["error"]["message"]
    hdr, _ = raw_request(d.path, {"v": 1, "op": "changes", "table": "metrics", "since": 0})
    assert hdr["error"]["code"] == "unsupported"
    hdr, _ = raw_request(d.path, {"v": 1, "op": "changes", "table": "pin_index"})
    assert hdr["error"]["code"] == "bad_request" and "since" in hdr["error"]["message"]


@pytest.mark.parametrize("with_daemon", [False, True])
def test_too_old_since_is_gone_naming_oldest_version(daemons, with_daemon):
    d = daemons(start=False)
    d.write_config({"changes": {"retain_versions": 3, "retain_seconds": 3600}})
    if with_daemon:
        d.start()
    for n in range(8):
        d.ok("pin", "add", cid_v0(100 + n))
    # the direct writer trims after each write; the daemon's writer when idle, after the
    # write's reply (a query right after the last reply may still see the window of the one
    # before it: wait for the trim that follows the last write)
    def gone():
        r = d.ik("pin", "changes", "--since", "0")
        return r if r.returncode != 0 and b"still available is 5" in r.stderr else None
    r = wait_for(gone, what="the daemon's writer to trim the change log")
    msg = r.stderr.decode()
    assert r.returncode == 65, msg
    assert "changes since version 0 are gone" in msg
    assert "the oldest version still available is 5" in msg and "re-read the table" in msg
    assert len(changes(d, 5)) == 3
    if with_daemon:
        hdr, _ = raw_request(d.path, {"v": 1, "op": "changes", "table": "pin_index", "since": 1})
        assert hdr["error"]["code"] == "gone"
    with ika.connect(d.path) as c:
        with pytest.raises(ika.ChangesGone, match="oldest version still available is 5"):
            c.changes(2)


def test_bad_retention_config_names_the_key(daemons):
    d = daemons(start=False)
    d.write_config({"changes": {"retain_seconds": 0}})
    r = d.ik("pin", "changes", "--since", "0")
    assert r.returncode != 0 and b"changes.retain_seconds" in r.stderr


def read_line(p, timeout):
    """One line of p's stdout within `timeout` seconds, else None."""
    ready, _, _ = select.select([p.stdout], [], [], timeout)
    return p.stdout.readline() if ready else None


@pytest.mark.parametrize("with_daemon", [False, True])
def test_follow_sees_a_write_from_another_process(daemons, with_daemon):
    d = daemons(start=False)
    d.ok("pin", "add", cid_v0(1))
    if with_daemon:
        d.start()
    p = d.popen("pin", "changes", "--since", "1", "--follow", "--format", "jsonl")
    try:
        time.sleep(0.05)  # not needed for correctness: the write may come before the wait
        d.ok("pin", "add", cid_v0(2), "--name", "late")
        line = read_line(p, 10)
        assert line, "no change printed within 10 s"
        row = json.loads(line)
        assert (row["op"], row["version"], row["cid"], row["name"]) == (
            "upsert", 2, cid_v0(2), "late")
        d.ok("pin", "rm", cid_v0(1))
        row = json.loads(read_line(p, 10))
        assert (row["op"], row["version"], row["cid"]) == ("delete", 3, cid_v0(1))
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=10) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_python_changes_and_follow(daemons):
    d = daemons()
    d.ok("pin", "add", cid_v0(1))
    with ika.connect(d.path) as c:
        r = c.changes(0)
        assert r.method == "ipc_stream" and r.version == 1 and r.rows == 1
        t = pa.table(r)
        assert t.column("op").to_pylist() == ["upsert"]
        assert t.column("cid").to_pylist() == [cid_v0(1)]
        assert c.changes(0, method="direct").to_pyarrow().to_pylist() == t.to_pylist()
        assert c.wait_version(1, 0.05) is None  # nothing newer: times out
        seen = []

        def follow():
            for res in c.follow_changes(since=1, timeout=10):
                seen.extend(pa.table(res).to_pylist())
                if len(seen) >= 2:
                    return
        th = threading.Thread(target=follow)
        th.start()
        d.ok("pin", "add", cid_v0(2))
        d.ok("pin", "rm", cid_v0(1))
        th.join(30)
        assert not th.is_alive()
        assert [(x["op"], x["cid"]) for x in seen] == [
            ("upsert", cid_v0(2)), ("delete", cid_v0(1))] or \
            sorted((x["op"], x["cid"]) for x in seen) == sorted(
                [("upsert", cid_v0(2)), ("delete", cid_v0(1))])
        # a follow with nothing new ends after its timeout
        t0 = time.monotonic()
        assert list(c.follow_changes(since=3, timeout=0.2)) == []
        assert time.monotonic() - t0 < 5
