"""The version page ("watch", docs/protocol.md): a client that repeats a query answers it from
the snapshot it holds while the daemon's page says that snapshot is still the published one,
and only then. Every write, every restart, a clean stop and a kill -9 send it back to the
daemon; the page itself is read-only to clients and says what the daemon publishes."""
import json
import mmap
import os
import struct
import time

import pytest

from daemon_util import Client, cid_v0, raw_request, wait_for

PINS = 500
# no minor merges: right after a write one republishes its version as new files, which a client
# holding the old ones then fetches again (correct, but these tests watch the page)
NO_MERGES = {"IPFS_KIT_COMPACT_DELTAS": "1000000"}
MAGIC = 0x3165676170766B69
W_STATE, W_PID, W_SEQ, W_TABLES = 1, 2, 3, 8
SERVING, STOPPING = 1, 2
PIN_INDEX, VFS_STATS = 0, 2


@pytest.fixture
def loaded(daemons, tmp_path):
    d = daemons(start=False)
    d.start(env=NO_MERGES)
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", PINS, seed=9))
    return d


def rows(c, **kw):
    meta, reader = c.query(**kw)
    return meta, reader.read_all().to_pylist()


def until_page(c, **kw):
    """Queries until the answer comes through the page: by the third query at the latest
    (fd, then held, which sets the page up, then page). Returns the (meta, rows) of each."""
    seen = []
    while not seen or seen[-1][0]["detail"] != "page":
        assert len(seen) < 3, [m for m, _ in seen]
        seen.append(rows(c, **kw))
    return seen


def test_repeated_queries_skip_the_round_trip_and_give_the_same_rows(loaded):
    with Client(loaded.path) as c:
        seen = until_page(c, limit=50, columns=["cid", "size_bytes"])
        assert [m["detail"] for m, _ in seen] == ["fd", "held", "page"]
        assert all(m["method"] == "zero_copy" and m["source"] == "arrow_ipc_daemon"
                   for m, _ in seen)
        assert seen[0][1] == seen[1][1] == seen[2][1] and len(seen[0][1]) == 50
        assert seen[2][0]["version"] == seen[0][0]["version"]
        assert seen[2][0]["table_rows"] == PINS and seen[2][0]["matched"] == PINS
        # other queries on the same table come through the page at once, filters too
        meta, got = rows(c, filters=[("size_bytes", "gt", 0)], offset=3, limit=7)
        with Client(loaded.path, watch=False) as plain:
            ref_meta, ref = rows(plain, filters=[("size_bytes", "gt", 0)], offset=3, limit=7)
        assert meta["detail"] == "page" and ref_meta["detail"] == "fd"
        assert got == ref and (meta["matched"], meta["rows"]) == (ref_meta["matched"], 7)
        # vfs_stats has its own word: its first query takes the descriptor, the next ones
        # read the page this client already watches
        assert [rows(c, table="vfs_stats")[0]["detail"] for _ in range(3)] == \
            ["fd", "page", "page"]
    metrics = {}
    for line in loaded.ok("metrics", "--format", "jsonl").stdout.splitlines():
        m = json.loads(line)
        if m["metric_name"] == "requests_total" and json.loads(m["tags"])["op"] == "watch":
            metrics["watch"] = m["metric_value"]
    assert metrics["watch"] == 1  # one page per client, set up once


def test_without_watch_every_query_asks_the_daemon(loaded):
    with Client(loaded.path, watch=False) as c:
        details = [rows(c, limit=5)[0]["detail"] for _ in range(6)]
    assert details == ["fd"] + ["held"] * 5


def test_a_write_from_another_process_is_seen_at_once(loaded):
    with Client(loaded.path) as c:
        until_page(c, limit=1)
        v0 = rows(c, limit=1)[0]["version"]
        for n in range(3):
            cid = cid_v0(90_000 + n)
            loaded.ok("pin", "add", cid, "--name", f"late{n}")  # returns once published
            meta, got = rows(c, filters=[("cid", "eq", cid)])
            assert meta["detail"] == "fd" and meta["version"] > v0, meta
            assert [r["name"] for r in got] == [f"late{n}"]
            assert meta["table_rows"] == PINS + n + 1
            v0 = meta["version"]
            # and the new snapshot is trusted through the page from the next query on
            meta, got = rows(c, filters=[("cid", "eq", cid)])
            assert meta["detail"] == "page" and meta["version"] == v0 and len(got) == 1


def query_requests(d):
    """The daemon's count of "query" requests so far."""
    for line in d.ok("metrics", "--format", "jsonl").stdout.splitlines():
        m = json.loads(line)
        if m["metric_name"] == "requests_total" and json.loads(m["tags"])["op"] == "query":
            return m["metric_value"]
    return 0


def test_clients_of_one_process_map_a_new_version_once(loaded):
    """The process's registry of mapped states (lib/client/segcache.c): after a write, the first
    client asks the daemon and maps the new version; another client of the same process whose
    page names that version answers from it with no round trip, the same rows."""
    with Client(loaded.path) as a, Client(loaded.path) as b, \
            Client(loaded.path, watch=False) as plain:
        until_page(a, limit=1)
        until_page(b, limit=1)
        cid = cid_v0(91_000)
        loaded.ok("pin", "add", cid, "--name", "shared")
        meta_a, got_a = rows(a, filters=[("cid", "eq", cid)])
        assert meta_a["detail"] == "fd" and [r["name"] for r in got_a] == ["shared"]
        before = query_requests(loaded)
        own = query_requests(loaded) - before  # the metrics query itself counts
        before += own
        meta_b, got_b = rows(b, filters=[("cid", "eq", cid)])
        assert meta_b["detail"] == "page" and meta_b["version"] == meta_a["version"], meta_b
        assert got_b == got_a and meta_b["table_rows"] == meta_a["table_rows"] == PINS + 1
        meta_b, whole = rows(b)
        assert meta_b["detail"] == "page" and len(whole) == PINS + 1
        assert query_requests(loaded) == before + own  # b never asked the daemon
        # a client without the page asks, is passed the same state, and reads the same rows
        meta_p, got_p = rows(plain, filters=[("cid", "eq", cid)])
        assert meta_p["detail"] == "fd" and got_p == got_a
        assert rows(plain)[1] == whole
    # a client that validates what it maps trusts no other client's mapping: it asks and maps
    with Client(loaded.path) as a, Client(loaded.path, validate=True) as v:
        until_page(a, limit=1)
        until_page(v, limit=1)
        cid2 = cid_v0(91_001)
        loaded.ok("pin", "add", cid2, "--name", "shared2")
        meta_a, got_a2 = rows(a, filters=[("cid", "eq", cid2)])
        assert meta_a["detail"] == "fd"
        meta_v, got_v = rows(v, filters=[("cid", "eq", cid2)])
        assert meta_v["detail"] == "fd" and got_v == got_a2, meta_v
        meta_v, _ = rows(v, filters=[("cid", "eq", cid2)])
        assert meta_v["detail"] == "page"  # its own mapping, through the page
    with Client(loaded.path) as c:
        meta, got = rows(c, filters=[("cid", "eq", cid)])
        assert meta["detail"] == "fd" and got == got_a


def test_a_killed_daemon_is_not_trusted(loaded):
    with Client(loaded.path) as c:
        until_page(c, limit=10)
        loaded.kill9()
        meta, got = rows(c, limit=10)
        assert (meta["method"], meta["source"]) == ("direct", "direct_pin_index"), meta
        assert len(got) == 10
        # a write made while the daemon is down, then a new daemon: the client follows
        loaded.ok("pin", "add", cid_v0(77_777), "--name", "offline")
        assert rows(c, filters=[("name", "eq", "offline")])[0]["method"] == "direct"
        loaded.start()
        meta, got = rows(c, filters=[("name", "eq", "offline")])
        assert meta["method"] == "zero_copy" and meta["detail"] != "page", meta
        assert [r["name"] for r in got] == ["offline"]
        until_page(c, limit=2)


def test_a_restarted_daemon_is_asked_again(loaded):
    with Client(loaded.path) as c:
        until_page(c, limit=3)
        r = loaded.stop()
        assert r.returncode == 0
        assert rows(c, limit=3)[0]["method"] == "direct"
        loaded.start()
        meta, got = rows(c, limit=3)
        assert meta["method"] == "zero_copy" and meta["detail"] in ("fd", "held"), meta
        assert len(got) == 3


def watch(d):
    """A raw "watch" request: (reply header, passed descriptor, the open socket)."""
    hdr, fds, s = raw_request(d.path, {"v": 1, "op": "watch"}, keep_open=True)
    assert len(fds) == 1, fds
    return hdr, fds[0], s


def word(page, i):
    return struct.unpack_from("=Q", page, 8 * i)[0]


def table_words(page, t):
    """(version, st_dev, st_ino, rows) the page names for table t."""
    return struct.unpack_from("=4Q", page, 8 * (W_TABLES + 4 * t))


def snapshot_id(d, table, version):
    """(st_dev, st_ino) of the table's published state: the manifest a zero_copy query passes
    (a sealed memfd once a write published it, the file found at start otherwise), which must
    be of `version` (the manifest's second word)."""
    hdr, fds = raw_request(d.path, {"v": 1, "op": "query", "table": table, "transport": "fd"})
    try:
        assert hdr["version"] == version and len(fds) == hdr["segments"] + 1, hdr
        assert struct.unpack_from("<Q", os.pread(fds[0], 16, 0), 8)[0] == version
        st = os.fstat(fds[0])
        return st.st_dev, st.st_ino
    finally:
        for fd in fds:
            os.close(fd)


def wait_vfs(page, version):
    """vfs_stats is rebuilt off the write path: wait (bounded) until the page names `version`."""
    deadline = time.monotonic() + 30
    while table_words(page, VFS_STATS)[0] != version:
        assert time.monotonic() < deadline, "vfs_stats never caught up with pin_index"
        time.sleep(0.01)


def status_version(d):
    return json.loads(d.ok("daemon", "status", "--format", "json").stdout)["snapshot_version"]


def test_the_page_says_what_the_daemon_publishes_and_cannot_be_written(loaded):
    hdr, fd, s = watch(loaded)
    try:
        assert hdr == {"ok": True, "watch": True, "page_size": 4096, "pid": loaded.pid}
        page = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ)
        with pytest.raises(PermissionError):
            mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        with pytest.raises(OSError):
            os.ftruncate(fd, 8192)
        assert word(page, 0) == MAGIC and word(page, W_PID) == loaded.pid
        assert word(page, W_STATE) == SERVING
        seq = word(page, W_SEQ)
        assert seq % 2 == 0 and seq > 0
        v = status_version(loaded)
        assert table_words(page, PIN_INDEX) == (v, *snapshot_id(loaded, "pin_index", v), PINS)
        wait_vfs(page, v)
        vfs = table_words(page, VFS_STATS)
        assert vfs[:3] == (v, *snapshot_id(loaded, "vfs_stats", v)) and vfs[3] > 1
        assert table_words(page, 1) == table_words(page, 3) == (0, 0, 0, 0)  # no files
        loaded.ok("pin", "add", cid_v0(55_555))
        v2 = status_version(loaded)
        assert v2 > v and word(page, W_SEQ) > seq and word(page, W_SEQ) % 2 == 0
        assert table_words(page, PIN_INDEX) == (v2, *snapshot_id(loaded, "pin_index", v2),
                                                 PINS + 1)
        # the watch connection stays open and quiet; a clean stop says so in the page first
        loaded.stop()
        assert word(page, W_STATE) == STOPPING
        assert s.recv(1) == b""  # and then hangs up
        page.close()
    finally:
        os.close(fd)
        s.close()


def test_watchers_against_the_sanitized_daemon(daemons, tmp_path):
    """Under ASan+UBSan: many watch connections, garbage on one, a client that watches and
    queries while pins are written, hangs up, and a clean stop: no sanitizer report."""
    d = daemons(asan=True, start=False)
    d.start(env=NO_MERGES)
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", 200, seed=3))
    socks = []
    for _ in range(20):
        hdr, fd, s = watch(d)
        assert hdr["watch"] is True
        os.close(fd)
        socks.append(s)
    s = socks.pop()
    s.sendall(struct.pack("<I", 5) + b"nope!")
    head = s.recv(4)
    assert len(head) == 4
    body = json.loads(s.recv(65536))
    assert body["ok"] is False and "invalid JSON" in body["error"]["message"]
    assert s.recv(1) == b""  # and closed, as for any request that does not parse
    s.close()
    with Client(d.path) as c:
        until_page(c, limit=20)
        for n in range(5):
            d.ok("pin", "add", cid_v0(40_000 + n))
            meta, got = rows(c, filters=[("cid", "eq", cid_v0(40_000 + n))])
            assert len(got) == 1 and meta["detail"] == "fd"
            assert rows(c, limit=1)[0]["detail"] == "page"
    for s in socks:
        s.close()
    wait_for(lambda: d.ok("daemon", "status").returncode == 0, what="the daemon to answer")
    assert d.stop().returncode == 0
    d.assert_clean_log()
