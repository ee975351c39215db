"""IPFS-Kit's names as a drop-in: get_global_arrow_ipc_interface (ArrowIPCDaemonInterface),
get_global_vfs_manager (VFSManager) and the module functions, returning IPFS-Kit's dicts and
labels. The usage examples of IPFS-Kit's "Apache Arrow IPC Zero-Copy Implementation Summary"
run verbatim, with only the package name in the import changed."""
import asyncio
import datetime as dt
import json
import os
import signal
import threading
import time

import pandas as pd
import pyarrow as pa
import pytest

import ipfs_kit_arrow as ika


@pytest.fixture
def env(pin_daemon, monkeypatch):
    monkeypatch.setenv("IPFS_KIT_PATH", pin_daemon.path)
    ika.compat._close_all()
    yield pin_daemon
    ika.compat._close_all()


def daemon_pid(d):
    with open(os.path.join(d.path, "daemon.lock")) as f:
        return int(f.read().split()[0])


# ---- the seed's usage examples, verbatim but for the package name -------------------------

def test_seed_example_direct_arrow_interface(env):
    async def main():
        from ipfs_kit_arrow.arrow_ipc_daemon_interface import get_global_arrow_ipc_interface

        interface = get_global_arrow_ipc_interface()
        arrow_table = await interface.get_pin_index_arrow(limit=100, filters={'pin_type': 'recursive'})

        # Convert to pandas for analysis
        if arrow_table:
            df = interface.table_to_pandas(arrow_table)
            aggregated = df.groupby('backend')['size_bytes'].sum()
        return arrow_table, aggregated

    table, aggregated = asyncio.run(main())
    assert isinstance(table, pa.Table) and table.num_rows == 100
    assert set(table["pin_type"].to_pylist()) == {"recursive"}
    assert isinstance(aggregated, pd.Series) and aggregated.sum() == pa.compute.sum(
        table["size_bytes"]).as_py()


def test_seed_example_interface_usage(env):
    async def main():
        from ipfs_kit_arrow.arrow_ipc_daemon_interface import get_global_arrow_ipc_interface

        interface = get_global_arrow_ipc_interface()
        pin_table = await interface.get_pin_index_arrow(limit=100)
        return pin_table

    assert asyncio.run(main()).num_rows == 100


def test_seed_example_async_vfs_manager(env):
    async def main():
        from ipfs_kit_arrow.vfs_manager import get_global_vfs_manager

        vfs_manager = get_global_vfs_manager()
        result = await vfs_manager.get_pin_index_zero_copy(limit=50)

        if result and result.get("success"):
            pins = result.get("pins", [])
            method = result.get("method")  # "zero_copy" or "traditional"
            source = result.get("source")  # "arrow_ipc_daemon" or "direct_pin_index"
        return pins, method, source

    pins, method, source = asyncio.run(main())
    assert len(pins) == 50 and isinstance(pins[0], dict) and pins[0]["cid"].startswith(("Qm", "b"))
    assert (method, source) == ("zero_copy", "arrow_ipc_daemon")


def test_seed_example_sync_vfs_manager(env):
    from ipfs_kit_arrow.vfs_manager import get_global_vfs_manager

    vfs_manager = get_global_vfs_manager()
    result = vfs_manager.get_pin_index_zero_copy_sync(limit=50)
    assert result["success"] and len(result["pins"]) == 50
    json.dumps(result)  # a list of plain dicts, as IPFS-Kit gave


# ---- the dicts --------------------------------------------------------------------------

def test_pins_are_a_list_of_json_ready_dicts(env):
    t0 = time.time()
    d = ika.get_pin_index_zero_copy_sync(limit=10, filters={"pin_type": "recursive"})
    assert set(d) == {"success", "pins", "method", "source", "timestamp"}
    assert d["success"] is True and isinstance(d["pins"], list) and len(d["pins"]) == 10
    assert (d["method"], d["source"]) == ("zero_copy", "arrow_ipc_daemon")
    assert t0 <= d["timestamp"] <= time.time()
    first = d["pins"][0]
    assert first["pin_type"] == "recursive" and isinstance(first["cid"], str)
    assert isinstance(first["timestamp"], float)  # seconds since the epoch, IPFS-Kit's unit
    assert json.loads(json.dumps(d))["pins"][0]["cid"] == first["cid"]
    # the same rows as the table form
    t = ika.get_pin_index_zero_copy_sync(limit=10, filters={"pin_type": "recursive"},
                                         as_arrow=True)["pins"]
    assert isinstance(t, pa.Table) and t["cid"].to_pylist() == [p["cid"] for p in d["pins"]]
    when = t["timestamp"][0].as_py()
    assert first["timestamp"] == when.replace(tzinfo=dt.timezone.utc).timestamp()


def test_metrics_and_metric_types(env):
    d = ika.get_metrics_zero_copy_sync()
    assert d["success"] is True and isinstance(d["metrics"], list) and len(d["metrics"]) > 5
    assert d["method"] == "zero_copy"
    d = ika.get_metrics_zero_copy_sync(["counter"])
    assert {m["metric_type"] for m in d["metrics"]} == {"counter"}
    t = ika.get_metrics_zero_copy_sync(["counter"], as_arrow=True)["metrics"]
    assert isinstance(t, pa.Table) and t.num_rows == len(d["metrics"])
    json.dumps(d)


def test_sync_functions_work_from_any_thread(env):
    out = []
    ts = [threading.Thread(target=lambda: out.append(ika.get_pin_index_zero_copy_sync(limit=3)))
          for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert [len(d["pins"]) for d in out] == [3] * 4


def test_async_functions(env):
    async def main():
        return await asyncio.gather(ika.get_pin_index_zero_copy(limit=5),
                                    ika.get_metrics_zero_copy(["gauge"]),
                                    *[ika.get_pin_index_zero_copy(filters={"backend": "s3"})
                                      for _ in range(8)])
    pins, metrics, *more = asyncio.run(main())
    assert pins["success"] and len(pins["pins"]) == 5
    assert metrics["success"] and {m["metric_type"] for m in metrics["metrics"]} == {"gauge"}
    assert len({len(d["pins"]) for d in more}) == 1


def test_failures_come_back_as_dicts_and_daemon_down_is_traditional(fresh_daemon, monkeypatch):
    fresh_daemon.stop()
    monkeypatch.setenv("IPFS_KIT_PATH", fresh_daemon.path)
    try:
        d = ika.get_metrics_zero_copy_sync()
        assert d["success"] is False and "daemon" in d["error"]
        d = ika.get_pin_index_zero_copy_sync(filters={"nope": 1})
        assert d == {"success": False, "error": "filter on 'nope': no such column"}
        d = asyncio.run(ika.get_pin_index_zero_copy(limit=2))  # daemon down: the store itself
        assert d["success"] and (d["method"], d["source"]) == ("traditional", "direct_pin_index")
        assert len(d["pins"]) == 2
    finally:
        ika.compat._close_all()


# ---- the global clients ----------------------------------------------------------------

def test_global_interface_is_a_shared_client_per_directory(env, fresh_daemon, monkeypatch):
    a = ika.get_global_arrow_ipc_interface()
    assert a is ika.get_global_arrow_ipc_interface() and a.path == env.path
    assert isinstance(a, ika.Client) and a.pins(limit=1).rows == 1
    a.close()
    b = ika.get_global_arrow_ipc_interface()  # a closed one is replaced
    assert b is not a and not b.closed
    # not stuck to the first directory: IPFS_KIT_PATH is read on every call
    monkeypatch.setenv("IPFS_KIT_PATH", fresh_daemon.path)
    c = ika.get_global_arrow_ipc_interface()
    assert c.path == fresh_daemon.path
    assert ika.get_pin_index_zero_copy_sync(as_arrow=True)["pins"].num_rows == 1000
    monkeypatch.setenv("IPFS_KIT_PATH", env.path)
    assert ika.get_pin_index_zero_copy_sync(as_arrow=True)["pins"].num_rows == 20000
    # and a path argument wins
    assert len(ika.get_pin_index_zero_copy_sync(path=fresh_daemon.path)["pins"]) == 1000
    assert ika.get_global_arrow_ipc_interface(fresh_daemon.path) is c
    assert ika.get_global_vfs_manager(fresh_daemon.path).path == fresh_daemon.path


def test_a_hung_daemon_falls_back_to_the_store_within_the_timeout(fresh_daemon, monkeypatch):
    monkeypatch.setenv("IPFS_KIT_PATH", fresh_daemon.path)
    pid = daemon_pid(fresh_daemon)
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        d = ika.get_pin_index_zero_copy_sync(limit=4, timeout=0.3)
        took = time.monotonic() - t0
        assert d["success"] and len(d["pins"]) == 4
        assert (d["method"], d["source"]) == ("traditional", "direct_pin_index")
        assert "did not answer in time" in d["warning"]
        assert took < 10
        m = ika.get_metrics_zero_copy_sync(timeout=0.3)  # only the daemon has metrics
        assert m["success"] is False and "did not answer within 0.3 s" in m["error"]
        i = ika.get_global_arrow_ipc_interface(timeout=0.3)
        assert asyncio.run(i.get_pin_index_arrow(limit=2)).num_rows == 2
    finally:
        os.kill(pid, signal.SIGCONT)
        ika.compat._close_all()


# ---- the interface's own methods ---------------------------------------------------------

def test_interface_methods(env):
    i = ika.get_global_arrow_ipc_interface()

    async def main():
        return await asyncio.gather(i.get_metrics_arrow(["counter"]), i.get_vfs_stats_arrow(["/"]),
                                    i.get_backend_health_arrow(), i.get_pin_index_arrow(limit=30))
    metrics, vfs, health, pins = asyncio.run(main())
    assert set(metrics["metric_type"].to_pylist()) == {"counter"}
    assert vfs["path"].to_pylist() == ["/"]
    assert isinstance(health, pa.Table)
    assert i.table_to_dict(pins) == pins.to_pylist() and i.table_to_dict(None) == []
    assert i.table_to_pandas(pins).shape == (30, pins.num_columns)
    assert i.table_to_pandas(None) is None
    big = i.filter_arrow_table(pins, {"size_bytes": {"gt": 1000}, "pin_type": "recursive",
                                      "no_such_column": 1})
    assert all(r["size_bytes"] > 1000 and r["pin_type"] == "recursive" for r in big.to_pylist())
    assert i.filter_arrow_table(pins, {"backend": {"in": ["s3"]}}).num_rows == \
        sum(1 for b in pins["backend"].to_pylist() if b == "s3")
    # failures: None, as IPFS-Kit's interface returned
    assert asyncio.run(i.get_pin_index_arrow(filters={"nope": 1})) is None


def test_arrow_ipc_daemon_interface_module_functions_return_tables(env):
    from ipfs_kit_arrow import arrow_ipc_daemon_interface as m
    assert m.get_pin_index_zero_copy_sync(limit=7).num_rows == 7
    assert m.get_metrics_zero_copy_sync(["gauge"]).num_rows > 0
    assert asyncio.run(m.get_pin_index_zero_copy(limit=3)).num_rows == 3
    assert asyncio.run(m.get_metrics_zero_copy()).num_rows > 0
    assert isinstance(m.get_global_arrow_ipc_interface(), m.ArrowIPCDaemonInterface)
    # IPFS-Kit's constructor took a daemon URL first: accepted, not needed
    with m.ArrowIPCDaemonInterface("http://localhost:8899", timeout=30) as iface:
        assert iface.path == env.path and iface.pins(limit=1).rows == 1
