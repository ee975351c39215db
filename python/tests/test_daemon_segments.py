"""Incremental snapshots end to end (docs/architecture.md, "Segments"):

- after random mixes of add / rm / touch / import, at every version, pin_index through
  zero_copy, ipc_stream and traditional is the same rows in the same order, direct (the state
  read from disk once it is durable) the same again, and all of them equal a from-scratch read
  of the store (direct from SQLite) — with compaction off (exact order) and with compaction
  forced (major and minor merges while writing); the seed is printed on failure;
- zero-copy on a store with deltas: every buffer of every batch lies in a mapped segment, and the
  result says nothing was copied; a repeated query after one write maps only the new delta;
- kill -9 at the stop points of a delta publish, a manifest switch, the durable mark and a
  compaction: every acknowledged write is there after a restart, every segment validates,
  versions never go back;
- 64 clients query while 8 writers add, touch and remove and compactions run, against the
  ASan+UBSan daemon: consistent versions, nothing lost, a clean log."""
import json
import mmap
import os
import random
import re
import threading

import pytest

from daemon_util import Client, cid_v0, mappings, pid_stopped, raw_request, wait_for

FORCED = {"IPFS_KIT_COMPACT_DELTAS": "3", "IPFS_KIT_COMPACT_MIN_ROWS": "20",
          "IPFS_KIT_COMPACT_SHARE": "4"}
NEVER = {"IPFS_KIT_COMPACT_DELTAS": "1000000", "IPFS_KIT_COMPACT_MIN_ROWS": "1000000000"}


def status(d):
    return json.loads(d.ok("daemon", "status", "--format", "json").stdout)


def rows_by(path, method, **kw):
    with Client(path, method=method, watch=False, **kw) as c:
        meta, r = c.query()
        return meta, r.read_all().to_pylist()


def by_cid(rows):
    return sorted(rows, key=lambda r: r["cid"])


def check_paths(d, seed, step, exact):
    """Every path's pin_index, compared; returns the version seen."""
    where = f"seed {seed}, step {step}"
    zc_meta, zc = rows_by(d.path, "zero_copy")
    assert zc_meta["method"] == "zero_copy", where
    for m in ("ipc_stream", "traditional"):
        meta, rows = rows_by(d.path, m)
        assert meta["version"] == zc_meta["version"], (where, m)
        if exact:
            assert rows == zc, (where, m)
        else:  # a compaction may republish the same version in key order meanwhile
            assert by_cid(rows) == by_cid(zc), (where, m)
    # direct reads the state on disk once it is durable (right after it is published)
    wait_for(lambda: rows_by(d.path, "direct")[0]["detail"] == "snapshot", 10,
             what=f"the state of version {zc_meta['version']} to be durable ({where})")
    meta, rows = rows_by(d.path, "direct")
    if meta["version"] == zc_meta["version"] and exact:
        assert rows == zc, (where, "direct")
    meta, rebuilt = rows_by(d.path, "direct", direct_sqlite=True)
    assert meta["detail"] == "sqlite"
    assert by_cid(rebuilt) == by_cid(zc), (where, "a from-scratch read of the store")
    return zc_meta["version"]


def random_step(d, c, rng, known, tmp_path, step):
    """One random batch of writes through the daemon."""
    kind = rng.choice(["add", "add", "rm", "touch", "import"])
    if kind == "add":
        for _ in range(rng.randint(1, 5)):
            n = rng.randrange(400)
            c.pin_add(cid_v0(n), name=f"n{n}-{step}")
            known.add(n)
    elif kind == "import":
        path = tmp_path / f"imp{step}.jsonl"
        ns = [rng.randrange(400) for _ in range(rng.randint(1, 40))]
        with open(path, "w") as f:
            for n in ns:
                f.write(json.dumps({"cid": cid_v0(n), "name": f"i{n}-{step}",
                                    "size_bytes": n * 10}) + "\n")
        d.ok("pin", "import", path)
        known.update(ns)
    elif known:
        n = rng.choice(sorted(known))
        d.ok("pin", kind, cid_v0(n))
        if kind == "rm":
            known.discard(n)


@pytest.mark.parametrize("compaction", ["off", "forced"])
def test_every_path_equals_a_rebuild_after_random_writes(daemons, tmp_path, compaction):
    seed = int(os.environ.get("IK_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    d = daemons(start=False)
    d.start(env=NEVER if compaction == "off" else FORCED)
    d.ok("pin", "import", d.sample(tmp_path / "base.jsonl", 300, seed=seed % 1000))
    known = set()
    last = 0
    with Client(d.path) as c:
        for step in range(25):
            random_step(d, c, rng, known, tmp_path, step)
            v = check_paths(d, seed, step, exact=compaction == "off")
            assert v >= last, f"seed {seed}: version went back from {last} to {v}"
            last = v
    st = status(d)
    if compaction == "off":
        assert st["segments"] > 10 and st["compactions"] == 0, st
    else:
        assert st["compactions"] > 0 and st["segments"] <= 5, st
    d.assert_clean_log()


def segment_mappings(path):
    """(start, end) of every mapping of a pin_index segment of data dir `path`: its file under
    snapshots/, or the daemon's memfd of a delta published from memory (named as its file)."""
    return mappings(re.compile("(^/memfd:|^" + re.escape(os.path.join(path, "snapshots")) +
                               r"/)pin_index\.[0-9]+(\.d[0-9]+)?\.arrow$"))


def all_buffers(arr):
    out = [b for b in arr.buffers() if b is not None]
    if hasattr(arr, "dictionary"):
        out += all_buffers(arr.dictionary)
    return out


def test_zero_copy_with_deltas_maps_only_the_new_segment(daemons, tmp_path):
    d = daemons(start=False)
    d.start(env=NEVER)
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", 2000, seed=5))
    with Client(d.path, watch=False) as c:
        for i in range(6):
            c.pin_add(cid_v0(i), name=f"d{i}")
        d.ok("pin", "rm", cid_v0(0))
        d.ok("pin", "touch", cid_v0(1))
        assert status(d)["segments"] >= 4
        res = c.query_raw()
        assert (res.copied_rows, res.copied_bytes) == (0, 0)
        import pyarrow as pa
        import ctypes
        reader = pa.RecordBatchReader._import_from_c(ctypes.addressof(res.stream))
        table = reader.read_all()
        assert table.num_rows == 2000 + 6 - 1 and table.column("cid").to_pylist().count(
            cid_v0(1)) == 1
        maps = segment_mappings(d.path)
        assert len(maps) >= 4
        n = 0
        for col in table.columns:
            for chunk in col.chunks:
                for b in all_buffers(chunk):
                    if b.size == 0:
                        continue
                    assert any(lo <= b.address and b.address + b.size <= hi for lo, hi in maps)
                    n += 1
        assert n > 0
        # one more write: the next query maps one more segment, not the whole state again
        before = len(segment_mappings(d.path))
        c.pin_add(cid_v0(99), name="late")
        meta, r = c.query(filters=[("cid", "eq", cid_v0(99))])
        assert r.read_all().column("name").to_pylist() == ["late"]
        assert len(segment_mappings(d.path)) == before + 1
        del table, reader


def wait_stopped(pid):
    wait_for(lambda: pid_stopped(pid), 60, what=f"the daemon (PID {pid}) to reach its stop point")


def restart_and_check(d, acked, removed, last_version):
    d.start(env=NEVER)
    cids = d.cids()
    assert acked <= cids, f"{len(acked - cids)} acknowledged pins lost"
    assert not (removed & cids), "an acknowledged removal came back"
    v = status(d)["snapshot_version"]
    assert v >= last_version, f"version went back from {last_version} to {v}"
    for f in d.snapshot_files():
        r = d.ik("arrow", "validate", d.p("snapshots", f))
        if r.returncode == 66 and not os.path.exists(d.p("snapshots", f)):
            continue  # pruned meanwhile
        assert r.returncode == 0, (f, r.stderr)
    assert status(d)["pins"] == len(cids)
    d.assert_clean_log()


# publish: a delta written into its memfd; manifest: the new manifest in its memfd (both
# before the write's reply, nothing on disk yet); settle-file / settle-manifest / settle-mark:
# the settler (after the reply, on its own thread, making the newest state durable) has
# written a delta's file under its temp name / written the manifest's temp file / fsynced
# it all, its durable mark not yet written; compact-read / compact-publish: a compaction has
# read the store / written its segment
@pytest.mark.parametrize("point", ["publish", "manifest", "settle-file", "settle-manifest",
                                   "settle-mark", "compact-read", "compact-publish"])
def test_kill_9_at_each_step_loses_no_acknowledged_write(daemons, tmp_path, point):
    compaction = point in ("compact-read", "compact-publish")
    d = daemons(start=False)
    d.start(env=NEVER)
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", 500, seed=8))
    acked = set(d.cids())
    removed = set()
    with Client(d.path) as c:
        for i in range(3):
            c.pin_add(cid_v0(i), name=f"a{i}")
            acked.add(cid_v0(i))
    d.ok("pin", "rm", cid_v0(2))
    acked.discard(cid_v0(2))
    removed.add(cid_v0(2))
    # vfs_stats caught up before the restart, so that the restarted daemon reaches its stop
    # point only through the writes below
    wait_for(lambda: (lambda st: st["vfs_stats_version"] == st["snapshot_version"])(status(d)),
             30, what="vfs_stats to catch up")
    st = status(d)
    last, deltas = st["snapshot_version"], st["segments"] - 1
    assert d.stop().returncode == 0
    # with compaction: a minor merge of the single-pin deltas (every delta but the import's)
    # once two more come, no major one
    env = dict(NEVER, IPFS_KIT_COMPACT_DELTAS=str(deltas + 1)) if compaction else dict(NEVER)
    pid = d.start(env=dict(env, IPFS_KIT_STOP_AT=point))
    if compaction:  # this delta stays below the threshold; the writer's reaches it
        d.ok("pin", "add", cid_v0(1001))
        acked.add(cid_v0(1001))
    writer = d.popen("pin", "add", cid_v0(1000), "--name", "late")
    wait_stopped(pid)
    d.kill9()
    writer.communicate(timeout=30)
    if writer.returncode == 0:  # acknowledged before the stop: it must survive
        acked.add(cid_v0(1000))
    restart_and_check(d, acked, removed, last)


def files(d):
    """The data directory's snapshot and manifest files (names), what the settler writes."""
    out = set(d.snapshot_files())
    if os.path.isdir(d.p("manifests")):
        out |= {"manifests/" + f for f in os.listdir(d.p("manifests"))}
    return out


# the settler held off for the test's length (its period): only the start and a clean stop
# make files
LATE_SETTLER = dict(NEVER, IPFS_KIT_SETTLE_MS="3600000")


def test_a_write_is_published_from_memory_and_its_files_come_from_the_settler(daemons,
                                                                             tmp_path):
    d = daemons(start=False)
    d.start(env=LATE_SETTLER)
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", 300, seed=3))
    before, v0 = files(d), status(d)["snapshot_version"]
    acked, removed = set(d.cids()), set()
    with Client(d.path, watch=False) as c:
        for i in range(4):
            c.pin_add(cid_v0(i), name=f"m{i}")  # replies once visible to queries
            acked.add(cid_v0(i))
            meta, r = c.query(filters=[("cid", "eq", cid_v0(i))])
            assert r.read_all().column("name").to_pylist() == [f"m{i}"]
        # the state clients get is in memory: a manifest and deltas no directory holds
        hdr, fds = raw_request(d.path, {"v": 1, "op": "query", "table": "pin_index",
                                        "transport": "fd"})
        try:
            names = [os.readlink(f"/proc/self/fd/{fd}") for fd in fds]
            assert names[0].startswith("/memfd:pin_index.") and ".manifest" in names[0], names
            assert any(n.startswith("/memfd:pin_index.") and ".d" in n for n in names[1:]), names
            # sealed: a client can neither change nor shrink what every other client maps (the
            # memfds are open read-write: the seals alone refuse it)
            for fd, name in zip(fds, names):
                if not name.startswith("/memfd:"):
                    continue  # the base: a 0400 file passed read-only
                with pytest.raises(PermissionError):
                    os.write(fd, b"x")
                with pytest.raises(PermissionError):
                    os.ftruncate(fd, 0)
                with pytest.raises(PermissionError):
                    mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            for fd in fds:
                os.close(fd)
    d.ok("pin", "rm", cid_v0(3))
    acked.discard(cid_v0(3))
    removed.add(cid_v0(3))
    d.ok("pin", "touch", cid_v0(1))
    last = status(d)["snapshot_version"]
    assert last > v0
    assert files(d) == before, sorted(files(d) ^ before)  # no file made by a write
    # the durable state on disk is older than the store: direct reads SQLite, every write there
    meta, rows = rows_by(d.path, "direct")
    assert meta["detail"] == "sqlite" and meta["version"] == last, meta
    assert {r["cid"] for r in rows} == acked
    # kill -9 before the settler wrote anything: the restart serves every acknowledged write
    d.kill9()
    meta, rows = rows_by(d.path, "direct")
    assert meta["detail"] == "sqlite" and {r["cid"] for r in rows} == acked, meta
    restart_and_check(d, acked, removed, last)
    # a clean stop writes the newest state's files: direct then reads that state from disk
    d.ok("pin", "add", cid_v0(50), "--name", "at-stop")
    acked.add(cid_v0(50))
    zc_meta, zc = rows_by(d.path, "zero_copy")
    assert d.stop().returncode == 0
    meta, rows = rows_by(d.path, "direct")
    assert meta["detail"] == "snapshot" and meta["version"] == zc_meta["version"], meta
    assert rows == zc


def test_the_settler_writes_the_newest_state_and_direct_reads_it(daemons, tmp_path):
    d = daemons(start=False)
    d.start(env=dict(NEVER, IPFS_KIT_SETTLE_MS="50"))
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", 200, seed=4))
    with Client(d.path, watch=False) as c:
        for i in range(5):
            c.pin_add(cid_v0(i), name=f"s{i}")
    zc_meta, zc = rows_by(d.path, "zero_copy")
    wait_for(lambda: rows_by(d.path, "direct")[0]["detail"] == "snapshot", 30,
             what="the settler to write the newest state")
    meta, rows = rows_by(d.path, "direct")
    assert meta["version"] == zc_meta["version"] and rows == zc
    for f in d.snapshot_files():  # every file it wrote validates
        r = d.ik("arrow", "validate", d.p("snapshots", f))
        assert r.returncode == 0 or not os.path.exists(d.p("snapshots", f)), (f, r.stderr)
    assert not [f for f in d.snapshot_files() if ".tmp." in f]
    d.assert_clean_log()


def test_64_clients_8_writers_and_compaction_under_asan(daemons, tmp_path):
    d = daemons(asan=True, start=False)
    d.start(env={"IPFS_KIT_COMPACT_DELTAS": "4", "IPFS_KIT_COMPACT_MIN_ROWS": "50",
                 "IPFS_KIT_COMPACT_SHARE": "8"})
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", 1000, seed=12))
    errors, stop = [], threading.Event()
    added = [set() for _ in range(8)]
    removed = [set() for _ in range(8)]

    def writer(w):
        rng = random.Random(w)
        try:
            with Client(d.path) as c:
                for i in range(25):
                    n = 100_000 + w * 1000 + i
                    c.pin_add(cid_v0(n), name=f"w{w}")
                    added[w].add(cid_v0(n))
                    meta, r = c.query(filters=[("cid", "eq", cid_v0(n))])
                    if r.read_all().num_rows != 1:
                        errors.append(f"writer {w} does not read its own write {n}")
                    if i % 5 == 4:
                        gone = cid_v0(100_000 + w * 1000 + rng.randrange(i))
                        if gone in added[w] and d.ik("pin", "rm", gone).returncode == 0:
                            added[w].discard(gone)
                            removed[w].add(gone)
                    else:
                        d.ik("pin", "touch", cid_v0(100_000 + w * 1000 + i))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"writer {w}: {e!r}")

    def reader(k):
        last = 0
        try:
            with Client(d.path, watch=k % 2 == 0) as c:
                while not stop.is_set():
                    res = c.query_raw(columns=["cid"])
                    rows, version = res.rows, res.version
                    if not (rows == res.matched == res.table_rows):
                        errors.append(f"reader {k}: rows {rows} matched {res.matched} "
                                      f"table_rows {res.table_rows}")
                    if res.copied_rows != 0:
                        errors.append(f"reader {k}: copied {res.copied_rows} rows")
                    if version < last:
                        errors.append(f"reader {k}: version went back {last} -> {version}")
                    last = version
                    c.reset(res)
        except Exception as e:  # noqa: BLE001
            errors.append(f"reader {k}: {e!r}")

    readers = [threading.Thread(target=reader, args=(k,)) for k in range(64)]
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(timeout=600)
    stop.set()
    for t in readers:
        t.join(timeout=120)
    assert not errors, errors[:10]
    cids = d.cids()
    for w in range(8):
        assert added[w] <= cids, f"writer {w}: {len(added[w] - cids)} pins lost"
        assert not (removed[w] & cids)
    st = status(d)
    assert st["compactions"] > 0, st
    assert st["pins"] == len(cids)
    assert d.stop().returncode == 0
    d.assert_clean_log()


def test_single_writes_leave_a_handful_of_deltas(daemons, tmp_path):
    """Minor merges are tiered (daemon/compact.c): once they settle, each delta holds more than
    twice the rows of the next newer one, so 100 single-pin writes on top of an imported delta
    leave at most 1 + 5 deltas (1, 3, 7, 15, 31, ... rows), however the writes came."""
    d = daemons(start=False)
    d.start(env={"IPFS_KIT_COMPACT_MIN_ROWS": "1000000000"})  # no major compaction
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", 1000, seed=3))
    done = 0
    with Client(d.path) as c:
        for upto in (10, 40, 100):
            for i in range(done, upto):
                c.pin_add(cid_v0(50_000 + i), name=f"w{i}")
            done = upto
            wait_for(lambda: status(d)["segments"] <= 7, 60,
                     what=f"the deltas of {upto} single writes to merge to at most 6")
            assert status(d)["pins"] == 1000 + upto
    assert status(d)["compactions"] > 0
    assert d.stop().returncode == 0


def metric(d, name):
    rows = json.loads(d.ok("metrics", "--format", "json").stdout)
    return next(r["metric_value"] for r in rows if r["metric_name"] == name)


def test_a_state_at_the_segment_limit_merges_its_deltas_instead_of_a_full_build(daemons,
                                                                              tmp_path):
    # compaction off, so every single write stays a delta of its own: at 127 segments the
    # builder merges the newer half into the next delta (at 10M pins a full build held every
    # write for ~20 s when the compactor fell behind 1,000 writes/s)
    d = daemons(start=False)
    d.start(env=NEVER)
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", 200, seed=4))
    full0 = metric(d, "snapshot_full_builds_total")
    with Client(d.path) as c:
        for i in range(140):
            c.pin_add(cid_v0(50_000 + i), name=f"s{i}")
    st = status(d)
    assert 2 <= st["segments"] < 128, st
    assert metric(d, "snapshot_segment_limit_merges_total") >= 1
    assert metric(d, "snapshot_full_builds_total") == full0
    check_paths(d, 4, "after the merges", exact=False)
    rows = rows_by(d.path, "zero_copy")[1]
    assert {cid_v0(50_000 + i) for i in range(140)} <= {r["cid"] for r in rows}
    assert len(rows) == 340
