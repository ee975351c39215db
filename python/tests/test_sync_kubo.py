"""`ipfs-kit sync` against a real kubo (kubo_util.Kubo): the index equals kubo's own listing
after a sync, follows pins, unpins, renames and directories (indirect pins), writes nothing
when nothing changed, leaves other sources' and hand-added pins alone, and says clearly when
kubo is down or answers with an error."""
import json
import pytest

from daemon_util import Daemon
from kubo_util import Kubo


@pytest.fixture
def kubo():
    k = Kubo().start()
    yield k
    k.cleanup()


@pytest.fixture
def store():
    d = Daemon()
    yield d
    d.cleanup()


def sync(store, kubo, *args, check=True):
    r = store.ik("sync", *args, env={"IPFS_PATH": kubo.repo})
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r


def indexed(store, backend="kubo"):
    """The index's rows of one backend: {cid: (pin_type, name)}, read from SQLite."""
    r = store.ik("pin", "list", "--method", "direct", "--source", "sqlite", "--backend", backend,
                 "--format", "jsonl", "--columns", "cid,pin_type,name")
    assert r.returncode == 0, r.stderr.decode()
    rows = [json.loads(line) for line in r.stdout.decode().splitlines() if line]
    return {o["cid"]: (o["pin_type"], o["name"]) for o in rows}


def generation(store):
    import sqlite3
    db = sqlite3.connect(f"file:{store.p('pins.db')}?mode=ro", uri=True)
    try:
        return db.execute("select value from meta where key='generation'").fetchone()[0]
    finally:
        db.close()


def counts(r):
    line = r.stdout.decode().strip().splitlines()[-1]
    words = line.replace(",", "").split()
    return {w: int(words[i - 1]) for i, w in enumerate(words) if w in
            ("listed", "added", "removed", "changed")}


def test_sync_equals_kubo_listing_through_pins_unpins_and_renames(kubo, store):
    a = kubo.add(b"alpha", name="alpha")
    b = kubo.add(b"bravo")
    root = kubo.add_dir({"x.txt": b"x", "sub/y.txt": b"y"})
    r = sync(store, kubo)
    assert indexed(store) == kubo.pins()
    c = counts(r)
    assert c["added"] == len(kubo.pins()) and c["removed"] == 0
    assert indexed(store)[a] == ("recursive", "alpha")
    assert sum(1 for t, _ in indexed(store).values() if t == "indirect") >= 3  # dir, sub, files

    kubo.ipfs("pin", "rm", b)               # unpin
    kubo.ipfs("pin", "rm", a)
    kubo.ipfs("pin", "add", a)              # re-pin without a name
    kubo.ipfs("pin", "rm", root)            # the directory and its indirect pins go
    r = sync(store, kubo)
    assert indexed(store) == kubo.pins()
    assert indexed(store)[a] == ("recursive", None)
    assert b not in indexed(store) and root not in indexed(store)
    c = counts(r)
    assert c["changed"] == 1 and c["removed"] >= 4


def test_sync_with_no_change_writes_nothing(kubo, store):
    kubo.add(b"one", name="one")
    sync(store, kubo)
    gen = generation(store)
    r = sync(store, kubo)
    assert "nothing to write" in r.stdout.decode()
    assert generation(store) == gen


def test_sync_leaves_hand_added_and_other_sources_alone(kubo, store):
    mine = "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"
    store.ok("pin", "add", mine, "--name", "by hand")
    other = kubo.add(b"other source")
    store.ok("pin", "add", other, "--name", "cluster's", "--backend", "cluster")
    kubo.add(b"kubo's own", name="k")
    sync(store, kubo)
    assert indexed(store, "ipfs") == {mine: ("recursive", "by hand")}
    # a CID another source holds stays that source's row
    assert indexed(store, "cluster") == {other: ("recursive", "cluster's")}
    assert other not in indexed(store)
    kubo.ipfs("pin", "rm", other)
    sync(store, kubo)
    assert indexed(store, "cluster") == {other: ("recursive", "cluster's")}
    assert indexed(store, "ipfs") == {mine: ("recursive", "by hand")}


def test_sync_of_a_stopped_kubo_names_the_url_and_keeps_the_pins(kubo, store):
    kubo.add(b"kept", name="kept")
    store.write_config({"sources": [{"name": "kubo", "kind": "kubo", "api": kubo.url,
                                     "timeout_ms": 2000}]})
    sync(store, kubo)
    before = indexed(store)
    kubo.kill()
    r = sync(store, kubo, check=False)
    assert r.returncode == 69
    err = r.stderr.decode()
    assert kubo.url + "/api/v0/pin/ls" in err and "connect" in err.lower(), err
    assert indexed(store) == before


def test_sync_of_an_unknown_source_name_is_a_usage_error(kubo, store):
    r = sync(store, kubo, "nope", check=False)
    assert r.returncode == 2 and "no source named 'nope'" in r.stderr.decode()


def test_config_sources_are_checked_with_the_key_named(kubo, store):
    store.write_config({"sources": [{"name": "k", "kind": "kubbo", "api": kubo.url}]})
    r = sync(store, kubo, check=False)
    assert r.returncode != 0
    assert "sources[0].kind" in r.stderr.decode()


def health(store, name):
    r = store.ik("backend", "health", "--format", "jsonl")
    assert r.returncode == 0, r.stderr.decode()
    rows = {o["backend_name"]: o for o in map(json.loads, r.stdout.decode().splitlines())}
    return rows.get(name)


@pytest.fixture
def asan_store():
    from conftest import ASAN_BIN
    d = Daemon(binary=ASAN_BIN)
    yield d
    d.cleanup()


def test_daemon_keeps_the_index_equal_to_kubo_and_reports_its_health(kubo, asan_store):
    from daemon_util import wait_for
    store = asan_store
    a = kubo.add(b"first", name="first")
    store.write_config({"sources": [{"name": "kubo", "kind": "kubo", "api": kubo.url,
                                     "interval_s": 1, "timeout_ms": 1000}]})
    store.start()
    wait_for(lambda: indexed_live(store) == kubo.pins(), timeout=30, what="first sync")
    wait_for(lambda: (health(store, "kubo") or {}).get("status") == "ok", timeout=30,
             what="kubo probed ok")
    st = sync_status(store)
    assert (st["name"], st["kind"], st["api"], st["status"]) == ("kubo", "kubo", kubo.url, "ok")
    assert st["last_sync"]["listed"] == len(kubo.pins()) and st["last_error"] is None
    assert st["lag_s"] >= 0 and 0 <= st["next_run_in_s"] <= 1 and st["down_since_us"] is None
    # a change on the node shows within two intervals (plus a build)
    b = kubo.add(b"second", name="second")
    kubo.ipfs("pin", "rm", a)
    wait_for(lambda: indexed_live(store) == kubo.pins(), timeout=30, what="change synced")
    assert b in indexed_live(store) and a not in indexed_live(store)
    # kubo down: health says so, the pins stay
    kubo.kill()
    wait_for(lambda: (health(store, "kubo") or {}).get("status") == "down", timeout=30,
             what="kubo reported down")
    h = health(store, "kubo")
    assert h["error_count"] >= 1 and h["success_rate"] < 1.0
    st = sync_status(store)
    assert st["status"] == "down" and st["down_since_us"] and kubo.url in st["last_error"]
    table = store.ik("sync", "status")
    assert table.returncode == 0 and b"down since" in table.stdout, table.stdout
    assert b in indexed_live(store)
    # back up on the same port: recovers (backoff from a 1 s interval stays within seconds)
    kubo.start()
    c = kubo.add(b"third")
    wait_for(lambda: c in indexed_live(store), timeout=60, what="recovery")
    wait_for(lambda: (health(store, "kubo") or {}).get("status") in ("ok", "degraded"),
             timeout=30, what="kubo probed again")
    store.stop()
    store.assert_clean_log()


def sync_status(store):
    r = store.ik("sync", "status", "--format", "json")
    assert r.returncode == 0, r.stderr.decode()
    (src,) = json.loads(r.stdout)["sources"]
    return src


def test_sync_status_needs_the_daemon(store):
    r = store.ik("sync", "status")
    assert r.returncode == 69 and b"no daemon is running" in r.stderr, r.stderr


def indexed_live(store):
    """The index as the daemon serves it (zero-copy), kubo's rows: {cid: (type, name)}."""
    r = store.ik("pin", "list", "--backend", "kubo", "--format", "jsonl",
                 "--columns", "cid,pin_type,name")
    assert r.returncode == 0, r.stderr.decode()
    return {o["cid"]: (o["pin_type"], o["name"]) for o in
            map(json.loads, r.stdout.decode().splitlines())}


def test_daemon_fills_sizes_from_files_stat(kubo, store):
    from daemon_util import wait_for
    a = kubo.add(b"x" * 5000, name="five thousand")
    root = kubo.add_dir({"one": b"1" * 100, "two/three": b"3" * 3000})
    want = {c: int(kubo.ipfs("files", "stat", "--format=<cumulsize>", "/ipfs/" + c))
            for c in (a, root)}
    store.write_config({"sources": [{"name": "kubo", "kind": "kubo", "api": kubo.url,
                                     "interval_s": 1, "sizes": True}]})
    store.start()

    def sizes():
        r = store.ik("pin", "list", "--backend", "kubo", "--format", "jsonl",
                     "--columns", "cid,size_bytes,pin_type")
        return {o["cid"]: o["size_bytes"] for o in map(json.loads, r.stdout.decode().splitlines())
                if o["pin_type"] != "indirect"}
    # every recursive pin sized (kubo's init also pins the empty directory)
    # (an index without kubo's pins yet has no null size either: wait for the pins too)
    wait_for(lambda: set(want) <= set(sizes()) and None not in sizes().values(), timeout=30,
             what="sizes filled")
    assert {c: sizes()[c] for c in want} == want
    assert want[a] > 5000  # CumulativeSize counts the DAG's encoding too
