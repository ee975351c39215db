"""HTTPS (docs/http.md "TLS"): with http.tls_cert and http.tls_key set the daemon serves TLS,
read by pyarrow and urllib over https with a certificate made at test time (openssl CLI);
refusals of missing, linked, unsafe, invalid or mismatched files name the key and the file and
leave the unix socket serving (a half TLS config is refused at start: test_http_security.py);
hostile handshakes (plain HTTP, garbage, half a ClientHello, an untrusting client) get nothing
and leave the daemon alive."""
import io
import json
import os
import socket
import ssl
import time
import urllib.request

import pyarrow.ipc as ipc
import pytest

from daemon_util import pid_alive
from http_util import (finish, http_daemon, make_cert, raw, spoil_garbage_cert,
                       spoil_garbage_inside, spoil_key_mode, spoil_link, spoil_mismatch,
                       spoil_missing, status)


def tls_daemon(prepare=None, asan=True, pins=0):
    """A daemon whose data directory holds cert.pem / key.pem (made here) and whose config
    names them (relative paths: the data directory). `prepare(d)` may spoil them first."""
    d = http_daemon({"tls_cert": "cert.pem", "tls_key": "key.pem"}, asan=asan, start=False)
    try:
        make_cert(d.path)
        if prepare:
            prepare(d)
        d.start()
        if pins:
            d.ok("pin", "import", d.sample(d.p("sample.jsonl"), pins), timeout=120)
        d.http = status(d).get("http")
    except BaseException:
        d.cleanup()
        raise
    return d


def ctx(d):
    c = ssl.create_default_context(cafile=d.p("cert.pem"))
    return c


def sget(d, path, headers=None, timeout=30):
    req = urllib.request.Request(f"https://{d.http}{path}", headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout, context=ctx(d)) as r:
        return r.status, r.headers, r.read()


def healthy_tls(d):
    return sget(d, "/health")[0] == 200


@pytest.fixture(scope="module")
def d():
    d = tls_daemon(pins=500)
    yield d
    finish(d)


def test_status_says_https_and_health_answers_over_tls(d):
    st = status(d)
    assert st["http_scheme"] == "https" and st["http"]
    assert d.ok("daemon", "status").stdout.decode().splitlines()[0].endswith(
        f", HTTP https://{st['http']}")
    code, h, body = sget(d, "/health")
    assert code == 200 and json.loads(body)["pins"] == 500


def test_pyarrow_reads_the_table_over_https(d):
    want = d.query_arrow("pin", "list")[0]
    for accept in ("application/vnd.apache.arrow.stream",
                   'application/vnd.apache.arrow.stream; codecs="zstd"'):
        req = urllib.request.Request(f"https://{d.http}/pin-index-arrow",
                                     headers={"Accept": accept})
        with urllib.request.urlopen(req, timeout=30, context=ctx(d)) as r:
            assert ipc.open_stream(r).read_all().equals(want)


def test_text_and_encoding_over_https(d):
    import gzip
    _, _, plain = sget(d, "/v1/tables/pin_index?limit=20", {"Accept": "text/csv"})
    _, h, body = sget(d, "/v1/tables/pin_index?limit=20",
                      {"Accept": "text/csv", "Accept-Encoding": "gzip"})
    assert h["Content-Encoding"] == "gzip" and gzip.decompress(body) == plain
    assert plain == d.ok("pin", "list", "--limit", "20", "--format", "csv").stdout


@pytest.mark.parametrize("data", [
    b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",  # plain HTTP to TLS
    b"\x16\x03\x01\x00\x05garbage-after-a-record-header" * 3,
    b"\x16\x03\x01\xff\xff" + b"\x00" * 100,  # a record claiming 64 KiB, then silence
    os.urandom(4096),
])
def test_hostile_handshakes_get_nothing_and_the_daemon_lives(d, data):
    got = raw(d, data, timeout=5)[1]
    assert b"HTTP/1.1 200" not in got and b'"pins"' not in got
    assert healthy_tls(d) and pid_alive(d.lock_pid())


def test_half_a_handshake_is_cut_and_others_are_served(d):
    host, port = d.http.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello's first bytes
    t0 = time.monotonic()
    assert healthy_tls(d)  # served meanwhile
    try:
        got = s.recv(100)
    except (ConnectionResetError, socket.timeout):
        got = b""
    s.close()
    assert b"HTTP/1.1" not in got and time.monotonic() - t0 < 25  # idle_timeout is 10 s


def test_a_client_that_does_not_trust_the_certificate_fails_cleanly(d):
    with pytest.raises(urllib.error.URLError) as e:
        urllib.request.urlopen(f"https://{d.http}/health", timeout=10,
                               context=ssl.create_default_context())
    assert isinstance(e.value.reason, ssl.SSLCertVerificationError)
    assert healthy_tls(d)


def test_plain_http_client_gets_no_answer(d):
    with pytest.raises(Exception):
        urllib.request.urlopen(f"http://{d.http}/health", timeout=10).read()
    assert healthy_tls(d)


# ---- refusals: HTTP off with the reason, the socket serving --------------------------------


def spoil_cert_writable(d):
    os.chmod(d.p("cert.pem"), 0o666)


def spoil_directory(d):
    os.unlink(d.p("cert.pem"))
    os.mkdir(d.p("cert.pem"))


@pytest.mark.parametrize("spoil,words", [
    (spoil_missing, ["http.tls_cert", "cert.pem", "No such file"]),
    (spoil_link, ["http.tls_key", "key.pem", "symbolic link"]),
    (spoil_key_mode, ["http.tls_key", "key.pem", "chmod 600"]),
    (spoil_cert_writable, ["http.tls_cert", "cert.pem", "writable"]),
    (spoil_garbage_cert, ["http.tls_cert", "cert.pem", "no PEM certificate"]),
    (spoil_garbage_inside, ["http.tls_cert", "refused", "GnuTLS"]),
    (spoil_mismatch, ["http.tls_key", "refused", "GnuTLS", "do not match"]),
    (spoil_directory, ["http.tls_cert", "cert.pem", "not a regular file"]),
])
def test_bad_certificate_or_key_leaves_http_off_with_the_reason(spoil, words):
    d = tls_daemon(spoil, asan=False)
    try:
        st = status(d)
        assert st["http"] is None
        for w in words:
            assert w in st["http_off"], (w, st["http_off"])
        assert d.count() == 0  # the unix socket serves regardless
        assert "HTTP off" in d.ok("daemon", "status").stdout.decode()
    finally:
        d.cleanup()
