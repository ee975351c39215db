"""One Client shared by many threads: every query answered, right and zero-copy."""
import threading

import pyarrow as pa

import ipfs_kit_arrow as ika

THREADS, QUERIES = 8, 1000


def test_eight_threads_share_one_client(pin_daemon):
    c = ika.connect(pin_daemon.path)
    first = pa.table(c.pins(limit=64, columns=["cid"]))["cid"].to_pylist()
    errors, counts = [], [0] * THREADS
    start = threading.Barrier(THREADS)

    def work(i):
        try:
            start.wait()
            for q in range(QUERIES):
                off = (i * QUERIES + q) % 10000
                r = c.pins(limit=5, offset=off, columns=["cid"])
                assert r.method == "zero_copy" and r.rows == 5, (r.method, r.rows)
                if off < 60:
                    assert pa.table(r)["cid"].to_pylist() == first[off:off + 5]
                counts[i] += 1
        except BaseException as e:  # report, don't hang the barrier
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.close()
    assert not errors, errors[:3]
    assert counts == [QUERIES] * THREADS


def test_close_while_other_threads_query(pin_daemon):
    c = ika.connect(pin_daemon.path)
    started, results = threading.Barrier(5), []

    def work():
        started.wait()
        for _ in range(200):
            try:
                results.append(c.pins(limit=1).rows)
            except ika.Error as e:
                assert "closed" in str(e)
                return

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()
    c.close()
    for t in threads:
        t.join()
    assert all(n == 1 for n in results)
