"""IPFS-Kit's names: get_pin_index_zero_copy(_sync), get_metrics_zero_copy(_sync) and
get_global_arrow_ipc_interface, returning IPFS-Kit's dicts."""
import asyncio
import threading
import time

import pyarrow as pa
import pytest

import ipfs_kit_arrow as ika


@pytest.fixture
def env(pin_daemon, monkeypatch):
    monkeypatch.setenv("IPFS_KIT_PATH", pin_daemon.path)
    monkeypatch.setattr(ika, "_global_client", None)
    yield pin_daemon
    ika.get_global_arrow_ipc_interface().close()


def test_global_interface_is_one_shared_client(env):
    a = ika.get_global_arrow_ipc_interface()
    assert a is ika.get_global_arrow_ipc_interface() and a.path == env.path
    a.close()
    b = ika.get_global_arrow_ipc_interface()  # a closed one is replaced
    assert b is not a and not b.closed


def test_sync_pin_index(env):
    t0 = time.time()
    d = ika.get_pin_index_zero_copy_sync(limit=10, filters={"pin_type": "recursive"})
    assert set(d) == {"success", "pins", "method", "source", "timestamp"}
    assert d["success"] is True and isinstance(d["pins"], pa.Table)
    assert d["pins"].num_rows == 10
    assert set(d["pins"]["pin_type"].to_pylist()) == {"recursive"}
    assert (d["method"], d["source"]) == ("zero_copy", "arrow_ipc_daemon")
    assert t0 <= d["timestamp"] <= time.time()


def test_sync_metrics_and_metric_types(env):
    d = ika.get_metrics_zero_copy_sync()
    assert d["success"] is True and isinstance(d["metrics"], pa.Table)
    assert d["metrics"].num_rows > 5 and d["method"] == "zero_copy"
    d = ika.get_metrics_zero_copy_sync(["counter"])
    assert set(d["metrics"]["metric_type"].to_pylist()) == {"counter"}


def test_sync_functions_work_from_any_thread(env):
    out = []
    ts = [threading.Thread(target=lambda: out.append(ika.get_pin_index_zero_copy_sync(limit=3)))
          for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert [d["pins"].num_rows for d in out] == [3] * 4


def test_async_functions(env):
    async def main():
        return await asyncio.gather(ika.get_pin_index_zero_copy(limit=5),
                                    ika.get_metrics_zero_copy(["gauge"]),
                                    *[ika.get_pin_index_zero_copy(filters={"backend": "s3"})
                                      for _ in range(8)])
    pins, metrics, *more = asyncio.run(main())
    assert pins["success"] and pins["pins"].num_rows == 5
    assert metrics["success"] and set(metrics["metrics"]["metric_type"].to_pylist()) == {"gauge"}
    assert len({d["pins"].num_rows for d in more}) == 1


def test_failures_come_back_as_dicts(env, fresh_daemon, monkeypatch):
    fresh_daemon.stop()
    monkeypatch.setenv("IPFS_KIT_PATH", fresh_daemon.path)
    monkeypatch.setattr(ika, "_global_client", None)
    d = ika.get_metrics_zero_copy_sync()
    assert d["success"] is False and "daemon" in d["error"]
    d = ika.get_pin_index_zero_copy_sync(filters={"nope": 1})
    assert d == {"success": False, "error": "filter on 'nope': no such column"}
    d = asyncio.run(ika.get_pin_index_zero_copy(limit=2))  # daemon down: the direct path
    assert d["success"] and (d["method"], d["source"]) == ("direct", "direct_pin_index")
