"""HTTP security and hostile input (docs/http.md "Security"): tokens for reads and writes, the
token file, refusing non-loopback addresses without a token, CORS, port taken, malformed
requests, huge headers, slowloris, request smuggling, path traversal and the connection cap.
After each, the daemon still answers /health and its unix socket."""
import json
import os
import socket
import stat
import time

import pytest

from daemon_util import pid_alive, wait_for
from http_util import finish, get, healthy, http_daemon, raw, status

TOKEN = "read-token-0123456789abcdef"


@pytest.fixture(scope="module")
def d():
    d = http_daemon({"idle_timeout": 2, "max_connections": 8, "max_header_bytes": 4096},
                    pins=50)
    yield d
    finish(d)


def alive(d):
    assert pid_alive(d.lock_pid()) and healthy(d)
    assert d.count() == 50


# ---- hostile requests ------------------------------------------------------------------------

@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /health HTTP/9.9\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    b"\x00\xff\xfe binary \r\n\r\n",
])
def test_malformed_requests_get_400_and_the_daemon_lives(d, request_bytes):
    code, got = raw(d, request_bytes)
    # libmicrohttpd answers 400/505 where it can parse a request line at all, and otherwise
    # hangs up without a reply; either way nothing is served
    assert code in (400, 505) or (code is None and got == b"")
    alive(d)


def test_huge_headers_are_refused(d):
    big = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"
    code, _ = raw(d, big)
    assert code in (413, 431, 400)
    alive(d)


def test_slowloris_is_cut_at_the_idle_timeout_and_others_are_served(d):
    host, port = d.http.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the end of the headers
    t0 = time.monotonic()
    assert healthy(d)  # served meanwhile
    s.settimeout(10)
    try:
        got = s.recv(100)
    except ConnectionResetError:
        got = b""
    s.close()
    assert got == b"" or b" 408 " in got
    assert time.monotonic() - t0 < 8  # idle_timeout is 2 s
    alive(d)


@pytest.mark.parametrize("method", [b"GET", b"POST"])
def test_content_length_with_transfer_encoding_is_not_smuggled(d, method):
    smuggled = (method + b" /health HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    code, got = raw(d, smuggled)
    assert code in (400, 401)
    assert got.count(b"HTTP/1.1 ") == 1 and b"ipfs_kit_" not in got  # nothing smuggled through
    alive(d)


@pytest.mark.parametrize("path", [b"/v1/tables/../x", b"/v1/tables/../../etc/passwd",
                                  b"/v1/tables/%2e%2e/pin_index", b"/../health",
                                  b"/v1/tables/pin_index/../../../etc/passwd",
                                  b"/v1/tables/pin_index%00"])
def test_path_traversal_is_404_or_400_never_a_file(d, path):
    code, got = raw(d, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert code in (400, 404)
    assert b"root:" not in got
    alive(d)


def test_connection_cap_holds_and_recovers(d):
    host, port = d.http.rsplit(":", 1)
    socks = [socket.create_connection((host, int(port)), timeout=5) for _ in range(20)]
    try:
        open_ = wait_for(lambda: [l for l in get_metrics_text(d, socks).splitlines()
                                  if l.startswith("ipfs_kit_http_connections_open ")] or None,
                         timeout=10, what="metrics")
        assert 0 < float(open_[0].split()[1]) <= 8
    finally:
        for s in socks:
            s.close()
    wait_for(lambda: healthy(d), timeout=10, what="health after the flood")
    alive(d)


def get_metrics_text(d, socks):
    """/metrics, possibly refused while the cap is full (then None)."""
    try:
        code, _, body = get(d, "/metrics", timeout=3)
    except OSError:
        return ""
    return body.decode() if code == 200 else ""


# ---- tokens ------------------------------------------------------------------------------

def test_token_file_is_0600_and_writes_need_it(d):
    path = d.p("http.token")
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    token = open(path).read().strip()
    assert len(token) == 64
    assert get(d, "/v1/pins", method="POST", data=b"{}")[0] == 401
    assert get(d, "/v1/pins", {"Authorization": "Bearer wrong"}, "POST", b"{}")[0] == 401
    assert get(d, "/v1/pins", {"Authorization": "Bearer " + token[:-1]}, "POST", b"{}")[0] == 401
    code, _, body = get(d, "/v1/tables/pin_index", {"Authorization": "Bearer " + token}, "POST",
                        b"{}")
    assert code == 405 and json.loads(body)["error"]["code"] == "method_not_allowed"
    assert get(d, "/health", method="DELETE")[0] == 401
    alive(d)


def test_read_token_guards_reads():
    d = http_daemon({"read_token": TOKEN}, asan=False)
    try:
        assert get(d, "/health")[0] == 401
        code, h, body = get(d, "/pin-index-arrow", {"Authorization": "Bearer nope"})
        assert code == 401 and json.loads(body)["error"]["parameter"] == "Authorization"
        assert get(d, "/health", {"Authorization": "Bearer " + TOKEN})[0] == 200
        token = open(d.p("http.token")).read().strip()  # the write token reads too
        assert get(d, "/metrics", {"Authorization": "Bearer " + token})[0] == 200
    finally:
        d.cleanup()


def test_a_planted_token_link_is_not_followed():
    d = http_daemon(asan=False, start=False)
    try:
        target = d.p("elsewhere")
        with open(target, "w") as f:
            f.write("x" * 64)
        os.symlink(target, d.p("http.token"))
        d.start()
        st = status(d)
        assert st["http"] is None and "http.token" in st["http_off"]
        assert d.count() == 0  # the socket serves regardless
    finally:
        d.cleanup()


def test_non_loopback_without_token_is_refused_at_start():
    d = http_daemon({"listen": "0.0.0.0:0"}, asan=False, start=False)
    try:
        r = d.ik("daemon", "run")
        assert r.returncode != 0
        err = r.stderr.decode()
        assert "http.listen" in err and "read_token" in err
    finally:
        d.cleanup()


@pytest.mark.parametrize("conf,key", [({"listen": "nohost"}, "http.listen"),
                                      ({"listen": "127.0.0.1:70000"}, "http.listen"),
                                      ({"listen": 5}, "http.listen"),
                                      ({"read_token": "short"}, "http.read_token"),
                                      ({"max_connections": 0}, "http.max_connections"),
                                      ({"cors_origins": "x"}, "http.cors_origins")])
def test_bad_http_config_is_named(conf, key):
    d = http_daemon(conf, asan=False, start=False)
    try:
        r = d.ik("daemon", "run")
        assert r.returncode != 0 and key in r.stderr.decode()
    finally:
        d.cleanup()


# ---- where HTTP is off -------------------------------------------------------------------

def test_port_taken_leaves_the_socket_serving():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    d = http_daemon({"listen": f"127.0.0.1:{port}"}, asan=False)
    try:
        st = status(d)
        assert st["http"] is None and "Address already in use" in st["http_off"]
        human = d.ok("daemon", "status").stdout.decode()
        assert ", HTTP off (cannot listen on 127.0.0.1:" in human.splitlines()[0]
        assert "HTTP off" in d.log()
        assert d.count() == 0
        m = [json.loads(line) for line in d.ok("metrics", "--format", "jsonl").stdout.splitlines()]
        assert [x["metric_value"] for x in m if x["metric_name"] == "http_up"] == [0]
    finally:
        d.cleanup()
        s.close()


def test_listen_null_turns_http_off():
    d = http_daemon({"listen": None}, asan=False, start=False)
    d.write_config({"http": {"listen": None}, "flight": None})  # Flight shares the token
    try:
        d.start()
        st = status(d)
        assert st["http"] is None and "null" in st["http_off"]
        assert not os.path.exists(d.p("http.token"))
    finally:
        d.cleanup()


# ---- CORS --------------------------------------------------------------------------------

def test_cors_is_off_by_default(d):
    _, h, _ = get(d, "/health", {"Origin": "http://evil.test"})
    assert "Access-Control-Allow-Origin" not in h


def test_cors_allow_list():
    d = http_daemon({"cors_origins": ["http://app.test"]}, asan=False)
    try:
        _, h, _ = get(d, "/health", {"Origin": "http://app.test"})
        assert h["Access-Control-Allow-Origin"] == "http://app.test"
        _, h, _ = get(d, "/health", {"Origin": "http://evil.test"})
        assert "Access-Control-Allow-Origin" not in h
    finally:
        d.cleanup()
