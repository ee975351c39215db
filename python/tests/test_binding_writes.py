"""Writes from Python: add / rm / touch, and import_pins from a path, a Table, a
RecordBatchReader, any __arrow_c_stream__ object or a list of dicts — through the daemon, or
straight into the store when none runs. Unknown columns and unusable types are errors naming
them in words."""
import datetime as dt
import json

import pyarrow as pa
import pytest

import ipfs_kit_arrow as ika

CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
CID2 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
UTC = dt.timezone.utc


def one(c, cid):
    rows = pa.table(c.pins(filters={"cid": cid})).to_pylist()
    return rows[0] if rows else None


@pytest.mark.parametrize("daemon_up", [True, False], ids=["daemon", "direct"])
def test_add_touch_rm(fresh_daemon, daemon_up):
    if not daemon_up:
        fresh_daemon.stop()
    with ika.connect(fresh_daemon.path) as c:
        g1 = c.add(CID, name="a.txt", size_bytes=1234, pin_type="direct", backend="s3",
                   metadata={"k": "v"}, vfs_path="/w/a.txt", replication_factor=3, verified=True,
                   timestamp=dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC))
        p = one(c, CID)
        assert p["name"] == "a.txt" and p["size_bytes"] == 1234 and p["pin_type"] == "direct"
        assert p["backend"] == "s3" and json.loads(p["metadata"]) == {"k": "v"}
        assert (p["vfs_path"], p["replication_factor"], p["verified"]) == ("/w/a.txt", 3, True)
        assert p["timestamp"] == dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
        assert p["access_count"] == 0 and p["last_access"] is None
        g2 = c.touch(CID)
        assert g2 > g1 and one(c, CID)["access_count"] == 1
        assert one(c, CID)["last_access"] is not None
        g3 = c.rm(CID)
        assert g3 > g2 and one(c, CID) is None
        with pytest.raises(ika.NotFound, match=CID):
            c.rm(CID)
        with pytest.raises(ika.NotFound):
            c.touch(CID)


def test_add_rejects_bad_values_by_name(fresh_daemon):
    with ika.connect(fresh_daemon.path) as c:
        with pytest.raises(ika.InvalidQuery, match="Qm123"):
            c.add("Qm123")
        with pytest.raises(ika.InvalidQuery, match="pin_type"):
            c.add(CID, pin_type="sideways")
        with pytest.raises(ika.InvalidQuery, match="bare number"):
            c.add(CID, timestamp=1_700_000_000)
        with pytest.raises(TypeError, match="size_bytes"):
            c.add(CID, size_bytes="big")
        assert one(c, CID) is None


def test_import_from_a_path(fresh_daemon, tmp_path):
    f = tmp_path / "pins.jsonl"
    f.write_text(json.dumps({"cid": CID, "name": "p1"}) + "\n" +
                 json.dumps({"cid": CID2, "name": "p2"}) + "\n")
    with ika.connect(fresh_daemon.path) as c:
        res = c.import_pins(f)  # a PathLike; str works too
        assert (res["imported"], res["skipped"]) == (2, 0)
        assert one(c, CID2)["name"] == "p2"
        with pytest.raises(FileNotFoundError):
            c.import_pins(str(tmp_path / "missing.jsonl"))


def test_import_a_list_of_dicts(fresh_daemon):
    rows = [{"cid": CID, "name": "l1", "size_bytes": 5, "metadata": {"x": 1},
             "timestamp": dt.datetime(2026, 1, 2, tzinfo=UTC), "vfs_path": None},
            {"cid": CID2, "name": None, "backend": "ipfs", "verified": True}]
    with ika.connect(fresh_daemon.path) as c:
        assert c.import_pins(rows)["imported"] == 2
        p = one(c, CID)
        assert (p["name"], p["size_bytes"], json.loads(p["metadata"])) == ("l1", 5, {"x": 1})
        assert p["timestamp"] == dt.datetime(2026, 1, 2, tzinfo=UTC)
        assert one(c, CID2)["verified"] is True
        with pytest.raises(ika.InvalidQuery, match="no rows"):
            c.import_pins([])
        with pytest.raises(TypeError, match="row 1"):
            c.import_pins([{"cid": CID}, "nope"])


class Capsule:
    """Only the PyCapsule protocol, nothing pyarrow-specific."""

    def __init__(self, table):
        self.table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self.table.__arrow_c_stream__(requested_schema)


def test_import_a_reader_and_a_bare_capsule_object(fresh_daemon):
    t = pa.table({"cid": [CID, CID2], "name": ["r1", "r2"]})
    with ika.connect(fresh_daemon.path) as c:
        assert c.import_pins(pa.RecordBatchReader.from_batches(t.schema, t.to_batches()))[
            "imported"] == 2
        assert c.import_pins(Capsule(t.set_column(1, "name", pa.array(["c1", "c2"]))))[
            "imported"] == 2
        assert one(c, CID)["name"] == "c1"


def test_unknown_columns_are_an_error_listing_the_known_ones(fresh_daemon):
    with ika.connect(fresh_daemon.path) as c:
        n0 = c.pins(limit=0).matched
        with pytest.raises(ika.InvalidQuery) as e:
            c.import_pins(pa.table({"cid": [CID], "colour": ["red"]}))
        msg = str(e.value)
        assert "unknown column 'colour'" in msg
        assert "cid, name, size_bytes, pin_type, timestamp" in msg and "access_count" in msg
        with pytest.raises(ika.InvalidQuery, match="no 'cid' column"):
            c.import_pins(pa.table({"name": ["x"]}))
        assert c.pins(limit=0).matched == n0  # nothing imported


@pytest.mark.parametrize("col,arr,got,need", [
    ("size_bytes", pa.array(["1"]), "is string", "must be an integer"),
    ("name", pa.array([1], pa.int64()), "is int64", "must be a string"),
    ("verified", pa.array([1.5]), "is float64", "must be a bool"),
    ("timestamp", pa.array([1_700_000_000]), "is int64", "must be a timestamp"),
    ("metadata", pa.array([{"a": 1}]), "is struct", "must be a string"),
    ("pin_type", pa.array(["direct"]).dictionary_encode(), None, None),
    ("timestamp", pa.array([dt.datetime(2026, 1, 1)], pa.timestamp("s")), None, None),
    ("last_access", pa.array([dt.date(2026, 1, 1)]), "is date32", "must be a timestamp"),
])
def test_types_are_named_in_words(fresh_daemon, col, arr, got, need):
    t = pa.table({"cid": [CID], col: arr})
    with ika.connect(fresh_daemon.path) as c:
        if got is None:
            assert c.import_pins(t)["imported"] == 1
            return
        with pytest.raises(ika.InvalidQuery) as e:
            c.import_pins(t)
    msg = str(e.value)
    assert f"column '{col}' {got}" in msg and need in msg, msg
    assert "'u'" not in msg and "'+s'" not in msg and "'l'" not in msg
