"""The paths other than zero_copy, from Python: each Result names the one really taken."""
import fcntl
import json
import os
import struct

import pyarrow as pa
import pytest

import ipfs_kit_arrow as ika


def cids(r):
    return sorted(pa.table(r)["cid"].to_pylist())


def test_daemon_down_reads_the_snapshot_then_sqlite_directly(fresh_daemon):
    with ika.connect(fresh_daemon.path) as c:
        live = c.pins(columns=["cid"])
        assert (live.method, live.source) == ("zero_copy", "arrow_ipc_daemon")
        fresh_daemon.stop()
        r = c.pins(columns=["cid"])  # the same client, its pooled connection now dead
        assert (r.method, r.source, r.detail) == ("direct", "direct_pin_index", "snapshot")
        assert cids(r) == cids(live) and r.version == live.version
        for f in os.listdir(os.path.join(fresh_daemon.path, "snapshots")):
            os.unlink(os.path.join(fresh_daemon.path, "snapshots", f))
        r = c.pins(columns=["cid"], filters={"pin_type": "direct"})
        assert (r.method, r.source, r.detail) == ("direct", "direct_pin_index", "sqlite")
        with fresh_daemon.sqlite() as db:
            want = sorted(x for (x,) in db.execute("select cid from pins where pin_type='direct'"))
        assert cids(r) == want and r.matched is None  # SQL LIMIT/OFFSET does not count
        with pytest.raises(ika.DaemonNotRunning, match="daemon"):
            c.metrics()
        with pytest.raises(ika.DaemonNotRunning):
            c.pins(method="zero_copy")
        assert c.capabilities()["daemon_running"] is False


def test_arrow_disabled_in_config_takes_the_json_path(fresh_daemon):
    with open(os.path.join(fresh_daemon.path, "config.json"), "w") as f:
        json.dump({"arrow_ipc": {"enabled": False}}, f)
    with ika.connect(fresh_daemon.path) as c:
        r = c.pins(limit=50, filters={"backend": "s3"})
        assert (r.method, r.source, r.detail) == ("traditional", "traditional_json_fallback", "json")
        t = pa.table(r)
        assert t.num_rows == 50 and set(t["backend"].to_pylist()) == {"s3"}
        assert c.capabilities()["arrow_ipc"] is False
        zc = c.pins(limit=50, filters={"backend": "s3"}, method="zero_copy")
        assert zc.method == "zero_copy"
        assert pa.table(zc).to_pylist() == t.to_pylist()


@pytest.mark.parametrize("method,source", [("ipc_stream", "arrow_ipc_daemon"),
                                           ("traditional", "traditional_json_fallback"),
                                           ("direct", "direct_pin_index")])
def test_forced_methods_give_the_same_rows(pin_daemon, method, source):
    with ika.connect(pin_daemon.path) as c:
        want = pa.table(c.pins(limit=300, offset=7, filters={"verified": True}))
        r = c.pins(limit=300, offset=7, filters={"verified": True}, method=method)
        assert (r.method, r.source) == (method, source)
        assert pa.table(r).to_pylist() == want.to_pylist()
    with ika.connect(pin_daemon.path, method=method) as c:  # or for every query of a client
        assert c.pins(limit=1).method == method


def test_write_refused_while_a_silent_daemon_holds_the_lock(fresh_daemon):
    fresh_daemon.stop()
    lock = os.path.join(fresh_daemon.path, "daemon.lock")
    with open(lock, "r+") as f:  # hold the lock as a hung daemon would, with our PID inside
        fcntl.fcntl(f, fcntl.F_OFD_SETLK, struct.pack("=hh4xqqi4x", fcntl.F_WRLCK, os.SEEK_SET,
                                                      0, 0, 0))
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        with ika.connect(fresh_daemon.path) as c:
            table = pa.table(c.pins(limit=1))
            with pytest.raises(ika.LockedError, match=f"locked by daemon \\(PID {os.getpid()}\\)"):
                c.import_pins(table)


def test_closed_client_refuses_calls(pin_daemon):
    c = ika.connect(pin_daemon.path)
    c.close()
    c.close()  # twice is fine
    with pytest.raises(ika.Error, match="closed"):
        c.pins()


def test_connect_reads_ipfs_kit_path(pin_daemon, monkeypatch):
    monkeypatch.setenv("IPFS_KIT_PATH", pin_daemon.path)
    with ika.connect() as c:
        assert c.path == pin_daemon.path
        assert c.pins(limit=3).rows == 3
