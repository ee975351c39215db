"""Client.import_pins takes anything with __arrow_c_stream__ in one call, all or nothing."""
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ipfs_kit_arrow as ika

CIDS = ["QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
        "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
        "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"]


def pins_table():
    return pa.table({
        "cid": CIDS,
        "name": ["a.txt", "b.bin", None],
        "size_bytes": [10, 20_000, 3_000_000],
        "pin_type": ["recursive", "direct", "recursive"],
        "backend": ["s3", "ipfs", "filecoin"],
        "vfs_path": ["/imp/a.txt", "/imp/b.bin", "/imp/c"],
    })


def test_import_a_table_read_from_parquet(fresh_daemon, tmp_path):
    pq.write_table(pins_table(), tmp_path / "pins.parquet")
    table = pq.read_table(tmp_path / "pins.parquet")
    with ika.connect(fresh_daemon.path) as c:
        before = c.pins(limit=0).version
        res = c.import_pins(table)
        assert res["imported"] == 3 and res["skipped"] == 0
        assert res["generation"] > before
        r = c.pins(filters={"cid": {"in": CIDS}}, columns=["cid", "size_bytes", "backend"])
        assert r.version == res["generation"]  # the write is visible to the next query
        got = sorted(pa.table(r).to_pylist(), key=lambda x: x["cid"])
        want = sorted(pins_table().select(["cid", "size_bytes", "backend"]).to_pylist(),
                      key=lambda x: x["cid"])
        assert [dict(g, backend=str(g["backend"])) for g in got] == want


def test_import_a_polars_frame_and_a_record_batch_reader(fresh_daemon):
    with ika.connect(fresh_daemon.path) as c:
        n0 = c.pins(limit=0).matched
        assert c.import_pins(pl.from_arrow(pins_table()).slice(0, 2))["imported"] == 2
        reader = pa.RecordBatchReader.from_batches(pins_table().schema,
                                                   pins_table().slice(2).to_batches())
        assert c.import_pins(reader)["imported"] == 1
        assert c.pins(limit=0).matched == n0 + 3


def test_a_bad_row_imports_nothing_unless_skipped(fresh_daemon):
    bad = pa.table({"cid": [CIDS[0], "Qm123"], "name": ["ok", "bad"]})
    with ika.connect(fresh_daemon.path) as c:
        n0 = c.pins(limit=0).matched
        with pytest.raises(ika.InvalidQuery, match="Qm123"):
            c.import_pins(bad)
        assert c.pins(limit=0).matched == n0
        res = c.import_pins(bad, skip_invalid=True)
        assert (res["imported"], res["skipped"]) == (1, 1) and "Qm123" in res["first_skip"]
        with pytest.raises(TypeError, match="__arrow_c_stream__"):
            c.import_pins(42)


def test_import_without_a_daemon_writes_the_store(fresh_daemon):
    fresh_daemon.stop()
    with ika.connect(fresh_daemon.path) as c:
        # polars' strings are utf8_view: inline (<= 12 bytes) and out-of-line values
        assert c.import_pins(pl.from_arrow(pins_table()))["imported"] == 3
        r = c.pins(filters={"cid": {"in": CIDS}}, columns=["cid", "name", "vfs_path"])
        assert (r.method, r.rows) == ("direct", 3)
        want = pins_table().select(["cid", "name", "vfs_path"]).to_pylist()
        assert sorted(pa.table(r).to_pylist(), key=str) == sorted(want, key=str)


def test_import_string_views_through_the_daemon(fresh_daemon):
    t = pins_table()
    views = t.set_column(0, "cid", t["cid"].cast(pa.string_view())) \
             .set_column(1, "name", t["name"].cast(pa.string_view()))
    with ika.connect(fresh_daemon.path) as c:
        assert c.import_pins(views)["imported"] == 3
        r = c.pins(filters={"cid": {"in": CIDS}}, columns=["cid", "name"])
        assert r.method == "zero_copy"
        assert sorted(pa.table(r).to_pylist(), key=str) == \
            sorted(t.select(["cid", "name"]).to_pylist(), key=str)


def test_a_first_import_publishes_the_table_the_store_holds(daemons):
    """An import into an empty store is published from the rows the writer upserted, not read
    back from SQLite: the snapshot equals a direct read of the store value for value (defaults
    filled, a CID given twice merged over its first row, another form of a CID stored
    canonical), and after kill -9 and a restart both still hold the import."""
    import datetime

    from daemon_util import cid_v0
    d = daemons()
    n = 5000  # more than a delta takes (4,096 rows): a full build
    cids = [cid_v0(i) for i in range(n)]
    some = lambda f: [f(i) for i in range(n)]  # noqa: E731
    table = pa.table({
        "cid": cids + [cids[3], CIDS[2].upper()],
        "name": some(lambda i: f"f{i}" if i % 3 else None) + ["again", "upper"],
        "size_bytes": some(lambda i: i * 7 if i % 5 else None) + [None, 1],
        "pin_type": some(lambda i: ("direct", None, "indirect")[i % 3]) + [None, None],
        "timestamp": pa.array(
            some(lambda i: datetime.datetime(2026, 1, 1) + datetime.timedelta(seconds=i)
                 if i % 4 else None) + [None, None], pa.timestamp("ms")),
        "metadata": some(lambda i: '{"k": %d}' % i if i % 2 else None) + ['{"x": 1}', None],
        "backend": some(lambda i: "s3" if i % 7 == 0 else None) + [None, None],
        "replication_factor": pa.array(some(lambda i: i % 4 if i % 6 else None) + [9, None],
                                       pa.int32()),
        "verified": some(lambda i: (None, True, False)[i % 3]) + [True, None],
        "last_access": pa.array(some(lambda i: 1_700_000_000_000_000 + i if i % 8 else None)
                                + [None, None], pa.timestamp("us", "UTC")),
        "vfs_path": some(lambda i: f"/d{i % 10}/f{i}" if i % 9 else None) + [None, "/u"],
        "access_count": pa.array(some(lambda i: i % 11 if i % 2 else None) + [None, 4],
                                 pa.int64()),
    })
    with ika.connect(d.path) as c:
        res = c.import_pins(table, default_backend="filecoin")
        assert res["imported"] == n + 2
        snap = c.pins(method="zero_copy")
        assert snap.version == res["generation"]
        store = pa.table(c.pins(method="direct"))
        assert store.num_rows == n + 1
        assert pa.table(snap).equals(store)
        again = store.filter(pa.compute.equal(store["cid"], cids[3])).to_pylist()[0]
        assert (again["name"], again["pin_type"], again["size_bytes"]) == ("again", "direct", 21)
        assert CIDS[2] in store["cid"].to_pylist()
    d.kill9()
    d.start()
    with ika.connect(d.path) as c:
        assert pa.table(c.pins(method="zero_copy")).equals(store)
