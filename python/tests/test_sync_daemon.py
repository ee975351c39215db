"""`ipfs-kit sync` through a running daemon (protocol op sync_now, result read from
sync_status): against a real kubo the index equals kubo's listing as soon as the command
returns, with the direct path's summary and exit codes; against a mock kubo whose listing is
held open, a sync already running is joined (one listing, not two), the progress line shows on
a terminal and not when piped, and --timeout bounds the wait."""
import json
import os
import pty
import select
import subprocess
import threading
import time

import pytest

from daemon_util import raw_request, wait_for
from test_sync_kubo import asan_store, counts, indexed_live, kubo  # noqa: F401 (fixtures)
from test_sync_kubo import sync_status as source_status
from test_sync_mock import Mock, status


@pytest.fixture
def store(asan_store):
    return asan_store  # the daemon under ASan: the syncer's threads are what changed


def started(store, sources):
    """The daemon started with `sources` (interval 1 h: only the start's run and ours), after
    its first run finished."""
    store.write_config({"sources": sources})
    store.start()
    wait_for(lambda: source_status(store)["runs_done"] >= 1, timeout=60, what="the start's sync")


def test_sync_through_the_daemon_equals_kubo_at_once(kubo, store):
    kubo.add(b"before the daemon", name="before")
    started(store, [{"name": "kubo", "kind": "kubo", "api": kubo.url, "interval_s": 3600,
                     "timeout_ms": 2000}])
    a = kubo.add(b"alpha", name="alpha")
    root = kubo.add_dir({"x.txt": b"x", "sub/y.txt": b"y"})
    r = store.ik("sync")
    assert r.returncode == 0, r.stderr.decode()
    assert b"owns the store" not in r.stderr
    c = counts(r)
    assert c["added"] == 5 and c["removed"] == 0 and c["listed"] == len(kubo.pins())
    # the reply came once the sync was published: the next query sees it, no waiting
    assert indexed_live(store) == kubo.pins()
    assert indexed_live(store)[a] == ("recursive", "alpha") and root in indexed_live(store)
    assert r.stderr == b""  # piped: no progress line

    kubo.ipfs("pin", "rm", a)
    r = store.ik("sync", "kubo", "--once")
    assert r.returncode == 0 and counts(r)["removed"] == 1, r.stderr.decode()
    assert indexed_live(store) == kubo.pins()
    r = store.ik("sync", "kubo")
    assert r.returncode == 0 and b"(nothing to write)" in r.stdout, r.stdout

    r = store.ik("sync", "nope")
    assert r.returncode == 2, r.stderr
    assert b"no source named 'nope'" in r.stderr and b"kubo" in r.stderr, r.stderr

    before = indexed_live(store)
    kubo.kill()
    r = store.ik("sync", timeout=60)
    assert r.returncode == 69, (r.returncode, r.stderr)
    assert kubo.url.encode() in r.stderr and b"connect" in r.stderr.lower(), r.stderr
    assert indexed_live(store) == before
    store.stop()
    store.assert_clean_log()


def held_listing(n_first):
    """A mock kubo whose pin/ls streams `n_first` pins, then waits for `release` before its
    last pin; `calls` counts the listings."""
    release = threading.Event()
    calls = []

    def pin_ls(h):
        calls.append(1)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def chunk(b):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
        lines = b"".join(b'{"Cid":"%s","Type":"recursive"}\n' % cid(i).encode()
                         for i in range(n_first))
        chunk(lines)
        h.wfile.flush()
        release.wait(60)
        chunk(b'{"Cid":"%s","Type":"direct","Name":"last"}\n' % cid(n_first).encode())
        h.wfile.write(b"0\r\n\r\n")

    m = Mock({"/api/v0/pin/ls": pin_ls, "/api/v0/id": status(200, {"ID": "mock"})})
    return m, release, calls


def cid(i):
    from daemon_util import cid_v0
    return cid_v0(i)


def sync_now_requests(store):
    r = store.ik("metrics", "--format", "jsonl")
    assert r.returncode == 0, r.stderr.decode()
    for o in map(json.loads, r.stdout.decode().splitlines()):
        if o.get("metric_name") == "requests_total" and '"op":"sync_now"' in (o.get("tags") or ""):
            return o["metric_value"]
    return 0


def test_a_running_sync_is_joined_not_run_twice(store):
    m, release, calls = held_listing(10)
    try:
        started_at = time.monotonic()
        store.write_config({"sources": [{"name": "kubo", "kind": "kubo", "api": m.url,
                                         "interval_s": 3600, "timeout_ms": 2000,
                                         "stall_ms": 60000}]})
        store.start()
        wait_for(lambda: len(calls) == 1, timeout=30, what="the start's listing under way")
        reply, _ = raw_request(store.path, {"v": 1, "op": "sync_now", "name": "kubo"})
        assert reply["ok"] and reply["runs"] == [{"name": "kubo", "run": 1, "joined": True}]
        p = store.popen("sync", "kubo")
        wait_for(lambda: sync_now_requests(store) >= 2, timeout=30, what="the CLI's sync_now")
        assert p.poll() is None  # it waits for the run it joined
        release.set()
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
        assert b"kubo: 11 listed, 11 added, 0 removed, 0 changed" in out, out
        assert len(calls) == 1  # joined: one listing for the start's run and both requests
        assert time.monotonic() - started_at < 60
        # not running: a request starts a new run, which the CLI waits for
        r = store.ik("sync")
        assert r.returncode == 0 and b"(nothing to write)" in r.stdout, r.stderr
        assert len(calls) == 2
    finally:
        release.set()
        m.close()
    store.stop()
    store.assert_clean_log()


def read_until(fd, want, timeout):
    got = b""
    deadline = time.monotonic() + timeout
    while want not in got and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                got += os.read(fd, 4096)
            except OSError:
                break
    return got


def test_progress_line_on_a_terminal_and_a_timeout(store):
    m, release, calls = held_listing(10000)  # progress is noted every 4096 pins
    try:
        store.write_config({"sources": [{"name": "kubo", "kind": "kubo", "api": m.url,
                                         "interval_s": 3600, "timeout_ms": 2000,
                                         "stall_ms": 60000}]})
        store.start()
        wait_for(lambda: len(calls) == 1, timeout=30, what="the start's listing under way")
        # --timeout: the wait ends with 75, the daemon goes on
        r = store.ik("sync", "--timeout", "0.5")
        assert r.returncode == 75, (r.returncode, r.stderr)
        assert b"not done after" in r.stderr and b"sync status" in r.stderr, r.stderr
        # a terminal on stderr: the count and rate while the listing is held
        master, slave = pty.openpty()
        p = subprocess.Popen([store.binary, "sync"], stdout=subprocess.PIPE, stderr=slave,
                             env=dict(os.environ, IPFS_KIT_PATH=store.path))
        os.close(slave)
        seen = read_until(master, b"8192 pins listed", 30)
        assert b"kubo: 8192 pins listed (" in seen and b"/s)" in seen, seen
        piped = store.popen("sync")
        wait_for(lambda: sync_now_requests(store) >= 3, timeout=30, what="the piped sync_now")
        release.set()
        out, _ = p.communicate(timeout=60)
        os.close(master)
        assert p.returncode == 0 and b"kubo: 10001 listed, 10001 added" in out, out
        pout, perr = piped.communicate(timeout=60)
        assert piped.returncode == 0 and b"10001 listed" in pout
        assert b"pins listed" not in perr, perr
    finally:
        release.set()
        m.close()
    store.stop()
    store.assert_clean_log()


def test_sync_now_protocol_errors(store):
    store.write_config({"sources": []})
    store.start()
    reply, _ = raw_request(store.path, {"v": 1, "op": "sync_now"})
    assert not reply["ok"] and reply["error"]["code"] == "not_found"
    assert "syncs no sources" in reply["error"]["message"]
    r = store.ik("sync")
    assert r.returncode == 69 and b"syncs no sources" in r.stderr, r.stderr
    reply, _ = raw_request(store.path, {"v": 1, "op": "sync_now", "name": 5})
    assert not reply["ok"] and reply["error"]["code"] == "bad_request"
    assert '"name" must be' in reply["error"]["message"]
    reply, _ = raw_request(store.path, {"v": 1, "op": "sync_now", "nmae": "kubo"})
    assert not reply["ok"] and 'unknown key "nmae"' in reply["error"]["message"]
    caps, _ = raw_request(store.path, {"v": 1, "op": "capabilities"})
    assert "sync_now" in caps["ops"] and "sync_status" in caps["ops"]
    store.stop()
    store.assert_clean_log()


def test_a_sync_whose_snapshot_never_builds_says_so(store):
    calls = []

    def pin_ls(h):  # one more pin each listing
        calls.append(1)
        body = b"".join(b'{"Cid":"%s","Type":"recursive"}\n' % cid(i).encode()
                        for i in range(len(calls)))
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    m = Mock({"/api/v0/pin/ls": pin_ls, "/api/v0/id": status(200, {"ID": "mock"})})
    try:
        store.write_config({"daemon": {"visible_timeout": 1},
                            "sources": [{"name": "kubo", "kind": "kubo", "api": m.url,
                                         "interval_s": 3600, "timeout_ms": 2000}]})
        store.start(env={"IPFS_KIT_FAIL_BUILDS": "1000000"})
        wait_for(lambda: source_status(store)["runs_done"] >= 1, timeout=60,
                 what="the start's sync")
        t0 = time.monotonic()
        r = store.ik("sync", timeout=60)
        assert r.returncode == 75, (r.returncode, r.stderr)
        assert b"kubo: 2 listed, 1 added, 0 removed, 0 changed" in r.stdout, r.stdout
        err = r.stderr.decode()
        assert "committed but not yet visible" in err and "No space left on device" in err, err
        assert time.monotonic() - t0 < 30
        last = source_status(store)["last_run"]
        assert last["ok"] and not last["visible"] and "No space left" in last["not_visible"]
    finally:
        m.close()
    store.stop()
