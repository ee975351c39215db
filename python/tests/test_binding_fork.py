"""fork(): a Client (or the compat layer's global client) shared by a parent and the children
it forks. Each process must read its own replies (no cross-wired answers, no hang), results held
before the fork stay valid in both, and spawn-started workers work too."""
import multiprocessing as mp
import os
import threading
import time

import pyarrow as pa
import pytest

import ipfs_kit_arrow as ika

ROUNDS = 150


def _hammer(c, seed):
    """ROUNDS queries whose answers differ by limit: returns how many came back wrong."""
    bad = 0
    for j in range(ROUNDS):
        n = 1 + (seed * 7 + j) % 60
        if j % 3 == 2:  # metrics always take a round trip to the daemon
            r = c.metrics(limit=n % 4 + 1)
            n = n % 4 + 1
        else:
            r = c.pins(limit=n, filters={"size_bytes": {"gte": 0}} if j % 2 else None)
        bad += r.rows != n or pa.table(r).num_rows != n
    return bad


_shared = {}


def _child_hammer(seed):
    return _hammer(_shared["client"], seed)


def _child_read_held(_):
    t = pa.table(_shared["held"])
    return t.num_rows, t["cid"].to_pylist()


def _child_compat(seed):
    for _ in range(20):
        m = ika.get_metrics_zero_copy_sync()
        if not m["success"]:
            return m["error"]
    d = ika.get_pin_index_zero_copy_sync(limit=1 + seed)
    return len(d["pins"]) if d["success"] else d["error"]


def _spawn_worker(path):
    with ika.connect(path) as c:
        return c.pins(limit=5).rows, ika.get_pin_index_zero_copy_sync(limit=4)["success"]


@pytest.fixture(params=[True, False], ids=["watch", "no_watch"])
def shared_client(pin_daemon, request):
    # a short timeout: on a client that is not fork-safe a child waits for a reply its
    # parent read, and this turns the hang into a failure
    c = ika.connect(pin_daemon.path, timeout=10, watch=request.param)
    for _ in range(3):  # pooled connections, and the version page watch, in the parent
        c.pins(limit=10)
        c.metrics(limit=1)
    assert c.pins(limit=10).detail in (("held", "page") if request.param else ("held",))
    _shared["client"] = c
    yield c
    _shared.clear()
    c.close()


def test_forked_children_and_parent_share_a_client(shared_client):
    ctx = mp.get_context("fork")
    with ctx.Pool(4) as pool:
        job = pool.map_async(_child_hammer, range(8))
        assert _hammer(shared_client, 99) == 0  # the parent at the same time
        assert job.get(timeout=120) == [0] * 8


def test_results_held_before_fork_stay_valid(shared_client):
    held = shared_client.pins(limit=25, columns=["cid"])
    want = pa.table(held)["cid"].to_pylist()
    _shared["held"] = held
    with mp.get_context("fork").Pool(2) as pool:
        got = pool.map_async(_child_read_held, range(2)).get(timeout=60)
    assert got == [(25, want)] * 2
    assert pa.table(held)["cid"].to_pylist() == want  # and still in the parent


def test_fork_while_other_threads_query(shared_client):
    """Threads mid-query while the main thread forks: the child's client must not inherit a
    held lock or a half-used connection."""
    stop = threading.Event()
    errors = []

    def busy():
        while not stop.is_set():
            try:
                if shared_client.pins(limit=3).rows != 3:
                    errors.append("wrong rows")
            except Exception as e:  # pragma: no cover - reported below
                errors.append(repr(e))

    ts = [threading.Thread(target=busy) for _ in range(3)]
    for t in ts:
        t.start()
    try:
        for i in range(10):
            pid = os.fork()
            if pid == 0:  # the child: only this thread exists
                code = 1
                try:
                    code = _hammer(shared_client, i) if i % 3 == 0 else int(
                        shared_client.pins(limit=7).rows != 7)
                finally:
                    os._exit(min(code, 100))
            deadline = time.monotonic() + 60
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    pytest.fail(f"child {i} hung")
                time.sleep(0.01)
            assert os.waitstatus_to_exitcode(status) == 0, f"child {i}"
    finally:
        stop.set()
        for t in ts:
            t.join(timeout=60)
    assert errors == []


def test_child_can_close_and_reopen(shared_client, pin_daemon):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            shared_client.close()
            with ika.connect(pin_daemon.path) as c2:
                code = int(c2.pins(limit=4).rows != 4)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not shared_client.closed and shared_client.pins(limit=6).rows == 6


def test_compat_global_client_across_fork(pin_daemon, monkeypatch):
    monkeypatch.setenv("IPFS_KIT_PATH", pin_daemon.path)
    ika.compat._close_all()
    try:
        for _ in range(3):
            assert ika.get_pin_index_zero_copy_sync(limit=2)["success"]
            assert ika.get_metrics_zero_copy_sync()["success"]
        with mp.get_context("fork").Pool(3) as pool:
            job = pool.map_async(_child_compat, range(12))
            for i in range(50):
                assert len(ika.get_pin_index_zero_copy_sync(limit=9)["pins"]) == 9
                assert ika.get_metrics_zero_copy_sync()["success"]
            assert job.get(timeout=120) == [1 + i for i in range(12)]
    finally:
        ika.compat._close_all()


def test_spawned_workers(pin_daemon, monkeypatch):
    monkeypatch.setenv("IPFS_KIT_PATH", pin_daemon.path)
    with mp.get_context("spawn").Pool(2) as pool:
        got = pool.map_async(_spawn_worker, [pin_daemon.path] * 2).get(timeout=120)
    assert got == [(5, True)] * 2
