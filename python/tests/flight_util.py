"""Helpers for the Flight tests (test_flight_*.py): a daemon serving Flight on a unix socket in
its temp dir and on a free loopback port, clients for either location, and the tokens."""
import json
import os
import subprocess

import pyarrow.flight as fl
import pytest

from conftest import ASAN_BIN, BIN
from daemon_util import Daemon
from http_util import finish, status  # noqa: F401 - the same for Flight's daemons


def flight_daemon(flight=None, http=None, pins=0, asan=True, start=True):
    """A started Daemon whose config.json serves Flight on grpc+unix://<dir>/flight.sock and
    grpc+tcp://127.0.0.1:0 (or `flight`'s own keys), HTTP on a free port; `d.flight` lists the
    served locations (unix first), `d.token` is the write token."""
    binary = ASAN_BIN if asan and os.access(ASAN_BIN, os.X_OK) else BIN
    d = Daemon(binary=binary)
    conf = {"listen": [f"grpc+unix://{d.p('flight.sock')}", "grpc+tcp://127.0.0.1:0"]}
    conf.update(flight or {})
    hconf = {"listen": "127.0.0.1:0"}
    hconf.update(http or {})
    d.write_config({"http": hconf, "flight": conf})
    return start_flight(d, pins) if start else d


def start_flight(d, pins=0):
    """Starts `d` (its config written), imports `pins` sample pins and reads where Flight
    serves (`d.flight`); the daemon is cleaned up if any of it fails."""
    try:
        d.start()
        if pins:
            d.ok("pin", "import", d.sample(d.p("sample.jsonl"), pins), timeout=120)
        refresh(d)
    except BaseException:
        d.cleanup()
        raise
    return d


def refresh(d):
    st = status(d)
    d.flight = st.get("flight", [])
    d.flight_off = st.get("flight_off", "")
    d.http = st.get("http")  # for http_util.get
    with open(d.p("http.token")) as f:
        d.token = f.read().strip()
    return st


def bearer(token):
    return fl.FlightCallOptions(headers=[(b"authorization", b"Bearer " + token.encode())],
                                timeout=60)


def client(loc):
    return fl.FlightClient(loc)


def metric(d, name):
    """A row of the metrics table, read through the CLI."""
    t = d.query_arrow("metrics")[0].to_pylist()
    return next(r["metric_value"] for r in t if r["metric_name"] == name)


@pytest.fixture(scope="module")
def raw_bin(tmp_path_factory):
    """flight_raw.c (a raw gRPC client) built for the test module."""
    out = str(tmp_path_factory.mktemp("flight_raw") / "flight_raw")
    src = os.path.join(os.path.dirname(__file__), "flight_raw.c")
    subprocess.run(["cc", "-O1", "-std=c11", src, "-o", out, "-lgrpc", "-lgpr"], check=True,
                   capture_output=True)
    return out
