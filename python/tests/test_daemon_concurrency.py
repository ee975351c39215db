"""64 concurrent clients x 1000 or more queries each while a writer adds pins: no error, every reply a
consistent snapshot (an unfiltered count: rows == matched == table_rows == the batch's
length, one row count per version across all clients), versions never go backwards for a
client, the writer reads its own writes at once, and every reader's last query (begun after the
last write was acknowledged) sees it. The readers start before the first write and stop only
after the last, however fast they are. Run twice: with every query a round trip
to the daemon (watch off: the daemon must serve every one), and with the clients' default
version page (watch on: repeated queries are answered from the held mapping while the page
says it is current, and must still see every write and never go back).

The readers are hammer.c (compiled here against build/libipfskit.so: 64 threads in C keep
the daemon busier than Python threads could); the writer adds pins from Python through
ctypes while they run."""
import json
import subprocess

import pytest

from daemon_util import Client, build_c_helper, cid_v0

CLIENTS = 64
QUERIES = 1000
BASE = 2000
WRITES = 40  # each write rebuilds the snapshot: enough to see many versions, few enough
            # to leave the two cores to the readers


@pytest.fixture(scope="module")
def hammer(tmp_path_factory):
    return build_c_helper("hammer", tmp_path_factory.mktemp("hammer"))


@pytest.mark.parametrize("watch", [0, 1], ids=["round_trips", "version_page"])
def test_64_clients_querying_while_pins_are_added(daemons, tmp_path, hammer, watch):
    d = daemons()
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", BASE, seed=6))
    readers = subprocess.Popen([hammer, d.path, str(CLIENTS), str(QUERIES), str(watch)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    writes = 0
    try:
        # every reader has its first answer (the version before any write) before the first write
        assert readers.stdout.readline() == "READY\n", readers.stderr.read()
        with Client(d.path) as c:
            while writes < WRITES:
                cid = cid_v0(10_000 + writes)
                gen = c.pin_add(cid, name=f"w{writes}")
                meta, r = c.query(filters=[("cid", "eq", cid)])
                assert meta["version"] >= gen, (meta, gen)  # reads its own write at once
                assert r.read_all().column("name").to_pylist() == [f"w{writes}"]
                writes += 1
            final = c.query()[0]["version"]
        # closing the readers' standard input tells them the writes are done: each makes at
        # least QUERIES queries, then one more that must see the last write
        out, err = readers.communicate(timeout=120)
    finally:
        if readers.poll() is None:
            readers.kill()
            readers.wait()
    lines = out.splitlines()
    assert readers.returncode == 0, ([x for x in lines if x.startswith("ERR")][:5], err)

    seen = {}  # version -> table_rows, across every client
    clients = set()
    pages = queries = 0
    for line in lines:
        tag, k, v, rows = line.split()
        if tag == "P":
            pages += int(v)
            continue
        if tag == "Q":
            assert int(v) >= QUERIES + 1, line  # QUERIES or more, then the last
            assert int(rows) == final, (line, final)  # the last query saw the last write
            queries += int(v)
            continue
        assert tag == "V"
        clients.add(int(k))
        assert seen.setdefault(int(v), int(rows)) == int(rows), (line, seen[int(v)])
    assert clients == set(range(CLIENTS))
    versions = sorted(seen)
    assert [seen[v] for v in versions] == sorted(seen.values())  # adds only: rows grow
    assert seen[versions[0]] == BASE and seen[versions[-1]] == BASE + WRITES

    assert d.count() == BASE + writes
    metrics = {}
    for line in d.ok("metrics", "--format", "jsonl").stdout.splitlines():
        m = json.loads(line)
        metrics.setdefault(m["metric_name"], m["metric_value"])
    assert metrics["errors_total"] == 0
    if watch:
        # the page answered most queries; the daemon served the rest (first queries, the first
        # query after each new version), those of the writer that went to it (at most one per
        # write) and the metrics query above
        assert pages > queries // 2
        served = metrics["zero_copy_replies_total"] + pages
        assert queries + 1 <= served <= queries + 2 * WRITES + 2
    else:
        assert pages == 0
        assert metrics["zero_copy_replies_total"] >= queries
    d.assert_clean_log()
