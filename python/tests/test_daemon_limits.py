"""The daemon's limits and timeouts (docs/protocol.md, "Limits and timeouts"), a snapshot build
that fails, and `daemon stop`, each against the ASan+UBSan build of the daemon with its log
checked for sanitizer reports: a connection cap, EMFILE without spinning, header and idle
timeouts, a send deadline for clients that read slowly or not at all, the import size limit,
builds retried with the failure reported, and a stop that drains committed replies and never
signals a process that is not a daemon."""
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import ASAN_BIN, BIN
from daemon_util import Client, cid_v0, pid_alive, pid_stopped, wait_for


@pytest.fixture
def make(daemons):
    """make(config, env=None, pins=0): an ASan daemon with `config` in its config.json."""
    def go(config=None, env=None, pins=0, start=True):
        d = daemons(asan=True, start=False)
        if config:
            d.write_config(config)
        if pins:
            d.ok("pin", "import", d.sample(d.p("p.jsonl"), pins, seed=3))
        if start:
            d.start(env=env)
        return d
    yield go


def connect(d, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(d.sock)
    return s


def frame(obj):
    body = json.dumps(obj).encode()
    return struct.pack("<I", len(body)) + body


def recv_header(s):
    """The next reply header as a dict, or None when the daemon closed the connection."""
    buf = b""
    try:
        while len(buf) < 4 or len(buf) < 4 + struct.unpack("<I", buf[:4])[0]:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
    except ConnectionResetError:
        return None
    return json.loads(buf[4:4 + struct.unpack("<I", buf[:4])[0]])


def closed_by_peer(s):
    """True once the daemon has closed `s` (EOF or reset), reading and dropping any bytes."""
    try:
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (BlockingIOError, socket.timeout):
        return False


def metric(d, name):
    """A row of the metrics table, through the CLI (JSON lines)."""
    r = d.ok("metrics", "--format", "jsonl")
    for line in r.stdout.decode().splitlines():
        row = json.loads(line)
        if row["metric_name"] == name:
            return row["metric_value"]
    raise AssertionError(f"no metric {name!r} in:\n{r.stdout.decode()}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def normal_query(d, rows=None):
    with Client(d.path, timeout_ms=10000) as c:
        meta, reader = c.query(limit=3)
        reader.read_all()
        if rows is not None:
            assert meta["table_rows"] == rows, meta


# ---- connections ------------------------------------------------------------------------

def test_connection_cap_refuses_the_next_client_with_busy(make):
    d = make({"daemon": {"max_connections": 4}})
    held = []
    for _ in range(4):
        s = connect(d)
        s.sendall(frame({"v": 1, "op": "ping"}))
        assert recv_header(s)["pong"] is True
        held.append(s)
    extra = connect(d)
    h = recv_header(extra)  # refused at accept, before any request
    assert h and h["ok"] is False and h["error"]["code"] == "busy", h
    assert "daemon.max_connections is 4" in h["error"]["message"], h
    assert closed_by_peer(extra)
    held.pop().close()
    s = wait_for(lambda: _ping_ok(d), 10, what="a connection slot to free")
    s.close()
    assert metric(d, "connections_refused_total") >= 1
    for s in held:
        s.close()
    d.assert_clean_log()


def _ping_ok(d):
    s = connect(d)
    s.sendall(frame({"v": 1, "op": "ping"}))
    h = recv_header(s)
    if h and h.get("pong"):
        return s
    s.close()
    return None


def test_out_of_descriptors_refuses_clients_without_spinning(daemons):
    """At EMFILE, accept() fails and the waiting client keeps the listener readable: today's
    loop spun at ~50% CPU. Now the spare descriptor refuses the client with a reason."""
    d = daemons(asan=True, start=False)
    limit = 64

    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    r = subprocess.run([ASAN_BIN, "daemon", "start", "--timeout", "30"], env=d.env,
                       capture_output=True, timeout=60, preexec_fn=low_nofile)
    assert r.returncode == 0, (r.stdout, r.stderr, d.log()[-3000:])
    pid = d.lock_pid()
    d.known_pids.add(pid)
    held, refused = [], None
    for _ in range(limit + 8):  # more clients than descriptors
        s = connect(d)
        s.sendall(frame({"v": 1, "op": "ping"}))
        h = recv_header(s)
        if h is None or h.get("ok") is False:
            refused = h
            s.close()
            break
        held.append(s)
    assert refused is not None, "every client was served: the limit was never reached"
    assert refused["error"]["code"] == "busy", refused
    assert "out of file descriptors" in refused["error"]["message"], refused
    # more clients waiting in the backlog: the daemon must not spin on them
    waiting = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(8)]
    for s in waiting:
        s.settimeout(5)
        s.connect(d.sock)
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(1.5)  # measuring CPU over an interval: nothing to wait for
    used = cpu_seconds(pid) - c0
    assert used < 0.3 * (time.monotonic() - t0), f"daemon used {used:.2f} s of CPU idle at EMFILE"
    for s in waiting + held:
        s.close()
    wait_for(lambda: _ping_ok(d), 10, what="the daemon to serve again").close()
    assert pid_alive(pid)
    d.assert_clean_log()


def test_half_sent_request_is_answered_timeout_and_closed(make):
    d = make({"daemon": {"header_timeout": 1}})
    s = connect(d)
    s.sendall(b"\x20\x00")  # two of the four length bytes, then nothing
    t0 = time.monotonic()
    h = recv_header(s)
    assert h and h["error"]["code"] == "timeout", h
    assert "daemon.header_timeout" in h["error"]["message"], h
    assert closed_by_peer(s)
    assert time.monotonic() - t0 < 5
    s2 = connect(d)  # a body that stops half way: the same
    body = json.dumps({"v": 1, "op": "ping"}).encode()
    s2.sendall(struct.pack("<I", len(body)) + body[:5])
    h = recv_header(s2)
    assert h and h["error"]["code"] == "timeout", h
    normal_query(d)
    d.assert_clean_log()


def test_idle_connection_is_closed_but_a_watch_connection_stays(make):
    d = make({"daemon": {"idle_timeout": 1}}, pins=10)
    idle = connect(d)
    idle.sendall(frame({"v": 1, "op": "ping"}))
    assert recv_header(idle)["pong"] is True
    watch = connect(d)
    watch.sendall(frame({"v": 1, "op": "watch"}))
    assert recv_header(watch)["watch"] is True
    idle.settimeout(6)
    t0 = time.monotonic()
    assert closed_by_peer(idle), "the idle connection was not closed"
    assert time.monotonic() - t0 < 5
    watch.setblocking(False)
    assert not closed_by_peer(watch), "a watch connection must stay open while idle"
    assert metric(d, "connections_timed_out_total") >= 1
    normal_query(d, rows=10)
    d.assert_clean_log()


def test_client_that_never_reads_is_dropped_at_the_send_deadline(make):
    """A client pipelining requests without reading held ~330 KB of the daemon for ever."""
    d = make({"daemon": {"send_timeout": 2}})
    s = connect(d)
    s.setblocking(False)
    req = frame({"v": 1, "op": "status"})
    sent = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until the daemon stops reading us
        try:
            sent += s.send(req * 64)
        except BlockingIOError:
            break
    assert sent > 0
    wait_for(lambda: metric(d, "connections_timed_out_total") >= 1, 15,
             interval=0.2, what="the never-reading client to be dropped")
    s.settimeout(5)
    assert closed_by_peer(s)
    normal_query(d)
    d.assert_clean_log()


def test_slow_readers_release_the_reply_workers_at_the_send_deadline(make):
    """Four slow readers of a large JSON reply (~6 MB) held all four reply workers for as long as
    they kept reading (a stall of 10 s was the only limit); with daemon.send_timeout each loses
    its reply after 2 s and a normal stream query is served."""
    d = make({"daemon": {"send_timeout": 2}}, pins=20000)
    stop = threading.Event()
    readers = []

    def slow(s):  # ~160 KB/s: progress well within any stall timeout, yet ~40 s per reply
        while not stop.is_set():
            try:
                if not s.recv(16384):
                    return
            except OSError:
                return
            time.sleep(0.1)

    for _ in range(4):
        s = connect(d)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(frame({"v": 1, "op": "query", "table": "pin_index", "transport": "json"}))
        t = threading.Thread(target=slow, args=(s,), daemon=True)
        t.start()
        readers.append((s, t))
    try:
        t0 = time.monotonic()
        with Client(d.path, method="ipc_stream", timeout_ms=15000) as c:
            meta, reader = c.query(limit=5)
            assert reader.read_all().num_rows == 5
            assert meta["method"] == "ipc_stream"
        assert time.monotonic() - t0 < 10
    finally:
        stop.set()
        for s, t in readers:
            s.close()
            t.join(5)
    assert metric(d, "errors_total") >= 4
    d.assert_clean_log()


# ---- imports ----------------------------------------------------------------------------

def test_import_over_the_size_limit_is_refused_before_reading(make, tmp_path):
    d = make({"daemon": {"max_import_size": "1KB"}})
    src = d.sample(str(tmp_path / "p.jsonl"), 100)
    r = d.ik("pin", "import", src)
    err = r.stderr.decode()
    assert r.returncode == 65, (r.returncode, err)
    assert "daemon.max_import_size" in err and "over the limit of 1000" in err, err
    assert d.count() == 0
    d.assert_clean_log()


def test_huge_sparse_import_is_refused_at_once_with_the_default_limit(make, tmp_path):
    d = make()
    big = str(tmp_path / "sparse.jsonl")
    with open(big, "wb") as f:
        f.truncate(20 * 1000 * 1000 * 1000)  # 20 GB of holes: no disk used
    t0 = time.monotonic()
    r = d.ik("pin", "import", big, timeout=30)
    assert r.returncode == 65, (r.returncode, r.stderr.decode())
    assert "daemon.max_import_size" in r.stderr.decode()
    assert time.monotonic() - t0 < 10
    normal_query(d)
    d.assert_clean_log()


# ---- snapshot builds that fail ----------------------------------------------------------

def test_failed_builds_are_retried_and_the_write_answered_once_visible(make):
    d = make(env={"IPFS_KIT_FAIL_BUILDS": "3"})
    cid = cid_v0(1)
    r = d.ok("pin", "add", cid)
    assert "warning" not in r.stderr.decode().lower(), r.stderr.decode()
    assert cid in d.cids()  # acknowledged means visible
    assert metric(d, "snapshot_build_failures_total") == 3
    assert metric(d, "snapshot_build_failing") == 0
    st = json.loads(d.ok("daemon", "status", "--format", "json").stdout)
    assert st["snapshot_build"] == {"ok": True}, st
    assert "injected by IPFS_KIT_FAIL_BUILDS" in d.log()
    d.assert_clean_log()


def test_a_write_never_visible_gets_an_error_and_status_says_why(make):
    d = make({"daemon": {"visible_timeout": 1}}, env={"IPFS_KIT_FAIL_BUILDS": "1000000"})
    cid = cid_v0(2)
    t0 = time.monotonic()
    r = d.ik("pin", "add", cid, timeout=30)
    err = r.stderr.decode()
    assert r.returncode != 0, (r.stdout, err)
    assert "committed (generation" in err and "not yet visible" in err, err
    assert "No space left on device" in err, err
    assert time.monotonic() - t0 < 15
    s = d.ik("daemon", "status")
    st = json.loads(d.ik("daemon", "status", "--format", "json").stdout)
    b = st["snapshot_build"]
    assert b["ok"] is False and b["retries"] >= 1 and "No space left" in b["error"], st
    assert "snapshot builds are failing" in s.stderr.decode()
    assert metric(d, "snapshot_build_failing") == 1
    assert metric(d, "writes_not_visible_total") == 1
    assert cid not in d.cids()  # not visible, as the error said
    d.ok("daemon", "stop")
    d.start()  # without the fault: the committed write is there
    assert cid in d.cids()
    d.assert_clean_log()


# ---- daemon stop ------------------------------------------------------------------------

def test_stop_drains_a_write_in_flight(make, tmp_path):
    """A shutdown while an import is in the writer: the import commits, so its reply must
    arrive (today the connection was closed without one, the write committed all the same)."""
    d = make(env={"IPFS_KIT_STOP_AT": "commit"})
    src = d.sample(str(tmp_path / "p.jsonl"), 20000)
    imp = d.popen("pin", "import", src)
    try:
        wait_for(lambda: pid_stopped(d.pid), 60, what="the daemon to reach its commit point")
        # the shutdown request is in the daemon's socket before it goes on (the kernel accepts
        # the connection and buffers the frame while the daemon is stopped)
        stopper = connect(d)
        stopper.sendall(frame({"v": 1, "op": "shutdown"}))
        os.kill(d.pid, signal.SIGCONT)
        out, err = imp.communicate(timeout=60)
        assert imp.returncode == 0, (out, err.decode(), d.log()[-3000:])
        assert b"imported 20000" in out + err, (out, err)
        assert recv_header(stopper) == {"ok": True, "stopping": True}
        stopper.close()
    finally:
        if imp.poll() is None:
            imp.kill()
    wait_for(lambda: not pid_alive(d.pid), 60, what="the daemon to exit")
    assert d.count(method="direct") == 20000
    d.assert_clean_log()


def test_stop_with_no_daemon_never_signals_a_direct_import(daemons, tmp_path):
    """The lock file names the PID of whoever holds the lock; a direct import holds it too and
    must not get the SIGTERM meant for a hung daemon."""
    d = daemons(start=False)
    src = d.sample(str(tmp_path / "p.jsonl"), 2000)
    imp = subprocess.Popen([BIN, "pin", "import", src],  # no daemon: a direct import
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=dict(d.env, IPFS_KIT_STOP_AT="commit"))
    try:
        wait_for(lambda: pid_stopped(imp.pid), 60, what="the import to reach its commit point")
        assert d.lock_held() and d.lock_pid() == imp.pid
        r = d.ik("daemon", "stop", "--timeout", "2")
        assert r.returncode == 0, (r.stdout, r.stderr.decode())
        assert b"no daemon running" in r.stdout, r.stdout
        assert b"direct write" in r.stdout, r.stdout
        os.kill(imp.pid, signal.SIGCONT)
        out, err = imp.communicate(timeout=60)
        assert imp.returncode == 0, (imp.returncode, out, err.decode())
    finally:
        if imp.poll() is None:
            imp.kill()
            imp.wait()
    assert d.count(method="direct") == 2000


def test_stop_still_signals_a_daemon_that_does_not_answer(make):
    """The other side of the rule above: a lock holder marked as a daemon whose socket does
    not answer gets SIGTERM, and stops."""
    d = make()
    with open(d.p("daemon.lock")) as f:
        assert f.read() == f"{d.pid} daemon\n"
    os.rename(d.sock, d.p("hidden.sock"))
    r = d.ik("daemon", "stop", "--timeout", "30")
    assert r.returncode == 0, (r.stdout, r.stderr.decode())
    assert f"daemon (PID {d.pid}) does not answer; sending SIGTERM" in r.stderr.decode()
    assert b"daemon stopped" in r.stdout
    assert not pid_alive(d.pid)  # stop waits for the exit, not only the lock
    d.assert_clean_log()
