"""Results as users expect: schema, batches of a chosen size, pickling that carries the rows,
a useful repr (Client too), async methods that leave the event loop free, text signatures."""
import asyncio
import inspect
import os
import pickle
import signal
import time

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

import ipfs_kit_arrow as ika


@pytest.fixture(scope="module")
def c(pin_daemon):
    with ika.connect(pin_daemon.path) as client:
        yield client


def test_schema(c):
    r = c.pins(limit=3, columns=["cid", "size_bytes", "timestamp"])
    assert r.schema == pa.table(r).schema
    assert r.schema.names == ["cid", "size_bytes", "timestamp"]
    assert r.schema.field("timestamp").type == pa.timestamp("us", "UTC")


def test_batches_of_a_chosen_size(c):
    r = c.pins(limit=2500)
    sizes = [b.num_rows for b in r.to_batches(max_chunksize=1000)]
    assert sizes == [1000, 1000, 500]
    assert [b.num_rows for b in r.iter_batches(max_chunksize=1000)] == sizes
    assert sum(b.num_rows for b in r.to_batches()) == 2500
    assert pa.Table.from_batches(r.to_batches(700)).equals(pa.table(r))
    with pytest.raises(ika.InvalidQuery, match="max_chunksize"):
        r.to_batches(0)


def test_a_dataset_over_a_result(c):
    r = c.pins(limit=500)
    want = pa.table(r).filter(pa.compute.greater(pa.table(r)["size_bytes"], 0)).num_rows
    for d in (r.to_dataset(), ds.dataset(r.to_batches(100))):
        assert d.to_table(filter=ds.field("size_bytes") > 0).num_rows == want


def test_pickling_carries_the_rows(c):
    r = c.pins(limit=200, filters={"pin_type": "recursive"})
    back = pickle.loads(pickle.dumps(r))
    assert type(back) is ika.Result and pa.table(back).equals(pa.table(r))
    assert (back.method, back.source, back.detail, back.version, back.matched) == \
        (r.method, r.source, r.detail, r.version, r.matched)
    assert back.rows == 200 and back.timings == r.timings


def test_repr(c, pin_daemon):
    assert repr(c) == f"<ipfs_kit_arrow.Client path='{pin_daemon.path}'>"
    r = c.pins(limit=4)
    assert repr(r).startswith("<ipfs_kit_arrow.Result 4 rows, method=") and "version=" in repr(r)
    closed = ika.connect(pin_daemon.path)
    closed.close()
    assert repr(closed).endswith(" closed>")


def test_async_methods_leave_the_loop_free(fresh_daemon):
    pid = int(open(os.path.join(fresh_daemon.path, "daemon.lock")).read().split()[0])

    async def main(client):
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.create_task(ticker())
        try:
            with pytest.raises(ika.RequestTimeout):
                await client.metrics_async()  # the daemon is stopped: waits the full timeout
        finally:
            t.cancel()
        return ticks, await client.pins_async(limit=3, method="direct")

    with ika.connect(fresh_daemon.path, timeout=0.5) as client:
        os.kill(pid, signal.SIGSTOP)
        try:
            ticks, r = asyncio.run(main(client))
        finally:
            os.kill(pid, signal.SIGCONT)
        assert ticks >= 10  # ~50 in 0.5 s when the loop is free; 0 if the call blocked it
        assert r.rows == 3

        async def rest():
            return await asyncio.gather(client.pins_async(limit=2), client.vfs_stats_async(),
                                        client.backend_health_async(), client.status_async())
        pins, vfs, health, status = asyncio.run(rest())
        assert pins.rows == 2 and vfs.rows > 0 and status["running"] is True


def test_every_function_has_a_text_signature(c):
    for name in ["pins", "metrics", "vfs_stats", "backend_health", "capabilities", "close",
                 "import_pins", "add", "rm", "touch", "status", "pins_async"]:
        sig = inspect.signature(getattr(c, name))
        assert sig is not None, name
    assert list(inspect.signature(c.pins).parameters) == ["limit", "offset", "filters",
                                                          "columns", "method"]
    assert list(inspect.signature(ika.Client).parameters) == ["path", "method", "timeout", "watch"]
    r = c.pins(limit=1)
    for name in ["to_pyarrow", "to_pandas", "to_batches", "__arrow_c_stream__",
                 "__arrow_c_schema__"]:
        inspect.signature(getattr(r, name))
    inspect.signature(ika.methods)
