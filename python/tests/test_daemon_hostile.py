"""Hostile clients on a raw socket to daemon.sock, against the ASan build of the daemon: each
gets an error reply or a closed connection, never a crash or a stuck daemon; a normal query
right after succeeds, and the daemon's log stays clean."""
import array
import json
import os
import random
import socket
import struct
import time

import pytest

from daemon_util import Client, Daemon, pid_alive, wait_for
from conftest import ASAN_BIN


@pytest.fixture(scope="module")
def asan_daemon():
    assert os.access(ASAN_BIN, os.X_OK), f"build it first: {ASAN_BIN}"
    d = Daemon(binary=ASAN_BIN)
    try:
        d.ok("pin", "import", d.sample(d.p("p.jsonl"), 1000, seed=8))
        d.start()
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def d(asan_daemon):
    yield asan_daemon
    # after every hostile client: still alive, clean log, and a normal query works
    assert pid_alive(asan_daemon.pid), asan_daemon.log()[-3000:]
    normal_query(asan_daemon)
    asan_daemon.assert_clean_log()


def normal_query(d, method="auto"):
    with Client(d.path, method=method, timeout_ms=5000) as c:
        meta, reader = c.query(limit=5)
        assert reader.read_all().num_rows == 5
        assert meta["method"] == ("zero_copy" if method == "auto" else method), meta
        assert meta["table_rows"] == 1000


def connect(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(d.sock)
    return s


def frame(payload):
    return struct.pack("<I", len(payload)) + payload


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_reply(s):
    """The next reply header (a dict), or None when the daemon closed the connection."""
    try:
        head = recv_exact(s, 4)
        if head is None:
            return None
        body = recv_exact(s, struct.unpack("<I", head)[0])
    except ConnectionResetError:
        return None
    return None if body is None else json.loads(body)


def expect_error_or_close(s, *words):
    """An error reply naming `words`, or a closed connection; then nothing but EOF or more
    error replies (the daemon may keep a connection whose framing is intact)."""
    h = recv_reply(s)
    if h is not None:
        assert h["ok"] is False, h
        assert h["error"]["code"] and h["error"]["message"], h
        for w in words:
            assert w in h["error"]["message"], h
    return h


def test_random_bytes(d):
    rnd = random.Random(1)
    for n in (1, 3, 4, 100, 4096, 70000):
        s = connect(d)
        s.sendall(rnd.randbytes(n))
        s.shutdown(socket.SHUT_WR)
        # whatever came of it, the daemon answers or closes, and then closes on our EOF
        while recv_reply(s) is not None:
            pass
        s.close()


def test_random_payloads_in_valid_frames(d):
    rnd = random.Random(2)
    for _ in range(20):
        s = connect(d)
        s.sendall(frame(rnd.randbytes(rnd.randrange(1, 300))))
        h = expect_error_or_close(s)
        assert h is None or h["error"]["code"] == "bad_request", h
        assert recv_reply(s) is None  # a malformed request ends the connection
        s.close()


def test_truncated_frame_then_close(d):
    s = connect(d)
    s.sendall(struct.pack("<I", 100) + b'{"v":1,"op":"pi')
    s.close()
    s = connect(d)
    s.sendall(b"\x10\x00")  # half a length
    s.close()


def test_oversized_frame_header(d):
    s = connect(d)
    s.sendall(struct.pack("<I", 100 << 20) + b"x" * 1000)
    h = expect_error_or_close(s, "exceeds the limit")
    assert h is not None, "no reply to an oversized frame: it is refused before its payload"
    assert h["error"]["code"] == "too_large", h
    assert recv_reply(s) is None  # and the connection is closed
    s.close()


def test_invalid_json_unknown_op_missing_v_bad_version(d):
    # (payload, code of docs/protocol.md, words of the message, connection closed after)
    cases = [(b'{"v":1,"op":', "bad_request", "invalid JSON", True),
             (b"[1,2,3]", "bad_request", "", True), (b"", "bad_request", "", True),
             (b'{"v":1,"op":"frob"}', "bad_request", "unknown op", True),
             (b'{"op":"ping"}', "bad_request", '"v"', True),
             (b'{"v":2,"op":"ping"}', "unsupported", "unsupported version 2", True),
             (b'{"v":1,"op":"query","table":"pin_index","limt":5}', "bad_request",
              'unknown key "limt"', True),
             (b'{"v":1,"op":"query","table":"nope"}', "not_found", "nope", False),
             (b'{"v":1,"op":"query","table":"pin_index","filter":{"size_bytes":'
              b'{"contains":"x"}}}', "bad_request", "size_bytes", False),
             (b'{"v":1,"op":"pin_add","pin":{"cid":"Qmx"}}', "bad_request", "invalid CID", False),
             (b'{"v":1,"op":"pin_rm","cid":"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"}',
              "not_found", "", False),
             (b'{"v":1,"op":"import"}', "bad_request", "carries no file", False)]
    for payload, code, words, closed in cases:
        s = connect(d)
        s.sendall(frame(payload))
        h = expect_error_or_close(s, *([words] if words else []))
        assert h is not None, payload  # every one of these is answered
        assert h["error"]["code"] == code, (payload, h)
        if closed:
            assert recv_reply(s) is None, payload
        else:  # a well-formed request that failed: the connection goes on
            s.sendall(frame(b'{"v":1,"op":"ping"}'))
            assert recv_reply(s)["ok"] is True, payload
        s.close()


def test_several_descriptors_on_one_frame(d):
    s = connect(d)
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(3)]
    try:
        req = frame(b'{"v":1,"op":"query","table":"pin_index","limit":1,"transport":"json"}')
        s.sendmsg([req], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        h = recv_reply(s)  # refused, or answered with the extra descriptors dropped
        assert h is None or h["ok"] in (True, False)
    finally:
        for fd in fds:
            os.close(fd)
        s.close()


def test_import_of_a_pipe_that_never_ends_does_not_hang_the_writer(d):
    r, w = os.pipe()
    s = connect(d)
    try:
        req = frame(b'{"v":1,"op":"import","format":"jsonl"}')
        s.sendmsg([req], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))])
        os.write(w, b'{"cid":"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"}\n')
        # the write end stays open: an import that waits for its end would wait forever and
        # hold every other write behind it
        h = expect_error_or_close(s, "regular file")
        assert h is not None and h["error"]["code"] == "bad_request", h
        # other writes still go through
        r2 = d.ik("pin", "add", "QmYRo92hnpFzLwgHhxJ2QpPaSFK4FqsFUKbgWfrnjn95kZ", timeout=20)
        assert r2.returncode == 0, r2.stderr
        d.ok("pin", "rm", "QmYRo92hnpFzLwgHhxJ2QpPaSFK4FqsFUKbgWfrnjn95kZ")
    finally:
        os.close(r)
        os.close(w)
        s.close()


def test_a_client_that_never_reads_does_not_block_others(d):
    hog = connect(d)
    hog.setblocking(False)
    zero = frame(b'{"v":1,"op":"query","table":"pin_index"}')
    stream = frame(b'{"v":1,"op":"query","table":"pin_index","transport":"stream"}')
    sent = 0
    try:
        # pipeline requests and never read a reply, until the daemon stops taking them
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                hog.send(stream if sent % 10 == 0 else zero)
                sent += 1
            except BlockingIOError:
                break
        assert sent > 10
        # meanwhile everyone else is served, on every path
        for method in ("auto", "ipc_stream", "traditional"):
            normal_query(d, method)
        r = d.ik("pin", "list", "--limit", "3", timeout=20)
        assert r.returncode == 0 and "zero_copy" in r.stdout.decode()
    finally:
        hog.close()


def test_idle_connections_do_not_block_others(d):
    idle = [connect(d) for _ in range(50)]
    try:
        normal_query(d)
        normal_query(d, "ipc_stream")
        half = connect(d)
        half.sendall(struct.pack("<I", 40) + b'{"v":1')  # a request that never finishes
        normal_query(d)
        half.close()
    finally:
        for s in idle:
            s.close()


def test_clean_shutdown_after_all_that(daemons):
    """A fresh ASan daemon fed the same abuse stops cleanly, with no leak reported."""
    dd = daemons(asan=True)
    dd.ok("pin", "add", "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
    for payload in (b"garbage", b'{"v":1,"op":"frob"}', b'{"v":1,"op":"query","table":"x"}'):
        s = connect(dd)
        s.sendall(frame(payload))
        expect_error_or_close(s)
        s.close()
    s = connect(dd)
    s.sendall(struct.pack("<I", 100 << 20))
    expect_error_or_close(s)
    s.close()
    pid = dd.lock_pid()
    dd.ok("daemon", "stop")
    wait_for(lambda: not pid_alive(pid), 10, what="the daemon to exit")
    dd.assert_clean_log()
    assert "stopped" in dd.log()
