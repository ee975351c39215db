"""Helpers for the HTTP tests (test_http_*.py): a daemon serving HTTP on a free loopback port
in a temp dir, and small request helpers (urllib for well-formed requests, raw sockets for
hostile ones)."""
import json
import os
import socket
import subprocess
import urllib.error
import urllib.request

from conftest import ASAN_BIN, BIN
from daemon_util import Daemon


def http_daemon(http=None, pins=0, asan=True, start=True):
    """A Daemon whose config.json has {"http": {"listen": "127.0.0.1:0", **http}}; started and
    holding `pins` sample pins. Its bound address is `d.http` ("127.0.0.1:PORT")."""
    binary = ASAN_BIN if asan and os.access(ASAN_BIN, os.X_OK) else BIN
    d = Daemon(binary=binary)
    conf = {"listen": "127.0.0.1:0"}
    conf.update(http or {})
    d.write_config({"http": conf})
    try:
        if start:
            d.start()
            if pins:
                d.ok("pin", "import", d.sample(d.p("sample.jsonl"), pins), timeout=120)
            d.http = status(d).get("http")
    except BaseException:
        d.cleanup()  # no daemon outlives a failed setup
        raise
    return d


def finish(d):
    """Stops the daemon, checks its log is free of sanitizer reports, removes its directory."""
    try:
        d.stop()
        d.assert_clean_log()
    finally:
        d.cleanup()


def status(d):
    """The daemon's status reply (`daemon status --format json`)."""
    return json.loads(d.ok("daemon", "status", "--format", "json").stdout)


def get(d, path, headers=None, method="GET", data=None, timeout=30):
    """(status, headers, body) of one request; HTTP errors are results, not exceptions."""
    req = urllib.request.Request(f"http://{d.http}{path}", headers=headers or {},
                                 method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def raw(d, data, timeout=10, read=True):
    """Sends raw bytes on a new connection; returns everything read until the server closes
    (or the timeout): the status line's code (or None) and the bytes."""
    host, port = d.http.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while read:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    code = None
    if got.startswith(b"HTTP/1."):
        code = int(got.split(b" ", 2)[1])
    return code, got


def healthy(d):
    code, _, body = get(d, "/health")
    return code == 200 and json.loads(body)["status"] == "ok"


def make_cert(dirpath, name="cert.pem", key="key.pem", cn="127.0.0.1"):
    """A self-signed P-256 certificate for `cn` (also its subjectAltName IP) and its key (0600),
    made with the openssl command line (HTTPS and Flight's grpc+tls tests)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", os.path.join(dirpath, key),
                    "-out", os.path.join(dirpath, name), "-days", "2", "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName=IP:{cn}"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(os.path.join(dirpath, key), 0o600)
    os.chmod(os.path.join(dirpath, name), 0o644)


# Ways to spoil a data directory's TLS files (cert.pem / key.pem made by make_cert), shared by
# the HTTPS and Flight TLS refusal tests.

def spoil_missing(d):
    os.unlink(d.p("cert.pem"))


def spoil_link(d):
    os.rename(d.p("key.pem"), d.p("real-key.pem"))
    os.symlink(d.p("real-key.pem"), d.p("key.pem"))


def spoil_key_mode(d):
    os.chmod(d.p("key.pem"), 0o644)


def spoil_garbage_cert(d):
    with open(d.p("cert.pem"), "w") as f:
        f.write("not a certificate\n")


def spoil_garbage_inside(d):
    with open(d.p("cert.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n")


def spoil_mismatch(d):
    make_cert(d.path, name="other.pem", key="other-key.pem")
    os.replace(d.p("other-key.pem"), d.p("key.pem"))
