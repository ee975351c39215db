"""Backend health: the daemon probes each backend of config.json over TCP or HTTP and the
backend_health table reports what it saw (status, response time, errors, success rate)."""
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BIN


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        code = 200 if self.path == "/health" else 500
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        try:
            self.wfile.write(b"ok")
        except ConnectionResetError:
            pass  # the prober reads the status line and hangs up

    def log_message(self, *args):
        pass


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture()
def services():
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield {"web": web.server_address[1], "tcp": listener.getsockname()[1],
           "closed": _free_port()}
    web.shutdown()
    web.server_close()
    listener.close()


def _ik(env, *args, timeout=30):
    return subprocess.run([BIN, *args], env=env, capture_output=True, timeout=timeout)


def _health(env):
    r = _ik(env, "backend", "health", "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    return {row["backend_name"]: row for row in map(json.loads, r.stdout.decode().splitlines())}


@pytest.fixture
def home():
    """A short data directory under /tmp (a socket path must stay under 108 bytes), removed
    afterwards."""
    d = tempfile.mkdtemp(prefix="ikh", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_backend_health_reports_each_configured_backend(services, home):
    env = dict(os.environ, IPFS_KIT_PATH=home)
    with open(os.path.join(home, "config.json"), "w") as f:
        json.dump({"health_interval": 1, "backends": {
            "web": {"url": f"http://127.0.0.1:{services['web']}/health"},
            "web_failing": {"url": f"http://127.0.0.1:{services['web']}/fail"},
            "tcp": {"tcp": f"127.0.0.1:{services['tcp']}", "timeout_ms": 500},
            "tcp_closed": {"tcp": f"127.0.0.1:{services['closed']}", "timeout_ms": 500},
        }}, f)
    r = _ik(env, "daemon", "start")
    assert r.returncode == 0, r.stderr
    try:
        deadline = time.monotonic() + 15
        rows = _health(env)
        while any(row["last_check"] is None for row in rows.values()):
            assert time.monotonic() < deadline, f"backends never probed: {rows}"
            time.sleep(0.05)
            rows = _health(env)
        assert set(rows) == {"web", "web_failing", "tcp", "tcp_closed"}
        assert rows["web"]["status"] == "ok"
        assert rows["tcp"]["status"] == "ok"
        assert rows["web_failing"]["status"] == "degraded"  # answers, with HTTP 500
        assert rows["tcp_closed"]["status"] == "down"
        for name, timeout in (("web", 2000), ("tcp", 500)):  # web: the default timeout
            assert rows[name]["error_count"] == 0 and rows[name]["success_rate"] == 1.0
            # a success came back within the probe's timeout (no tighter: a busy runner is slow)
            assert 0 <= rows[name]["response_time_ms"] < timeout
        for name in ("web_failing", "tcp_closed"):
            assert rows[name]["error_count"] >= 1 and rows[name]["success_rate"] == 0.0
        # Probes repeat on the interval: the counts keep growing.
        first = rows["tcp_closed"]["error_count"]
        while _health(env)["tcp_closed"]["error_count"] <= first:
            assert time.monotonic() < deadline + 10, "the prober stopped probing"
            time.sleep(0.05)
    finally:
        _ik(env, "daemon", "stop")


def test_backend_health_without_config_lists_the_default_backend(home):
    env = dict(os.environ, IPFS_KIT_PATH=home)
    assert _ik(env, "daemon", "start").returncode == 0
    try:
        rows = _health(env)
        assert list(rows) == ["ipfs"]
        assert rows["ipfs"]["status"] == "unknown"
    finally:
        _ik(env, "daemon", "stop")


def test_backend_health_needs_the_daemon(home):
    r = _ik(dict(os.environ, IPFS_KIT_PATH=home), "backend", "health")
    assert r.returncode == 69
    assert b"daemon" in r.stderr and b"start it" in r.stderr
