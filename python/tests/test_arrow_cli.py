"""The command line: validate, cat (table/json/csv, --limit), schema, stdin/stdout."""
import csv
import io
import json

import pyarrow as pa
import pyarrow.ipc as ipc


def write_table(path, table, fmt="file"):
    with (ipc.new_file if fmt == "file" else ipc.new_stream)(str(path), table.schema) as w:
        w.write_table(table)


TABLE = pa.table({
    "i": pa.array([1, None, -3], pa.int64()),
    "f": pa.array([1.5, float("nan"), None], pa.float64()),
    "s": pa.array(['plain', 'with "quote", comma', None]),
    "b": pa.array([True, False, None]),
    "l": pa.array([[1, 2], None, []], pa.list_(pa.int32())),
    "st": pa.array([{"x": 1}, {"x": None}, None], pa.struct([("x", pa.int16())])),
    "d": pa.array(["a", "b", "a"]).dictionary_encode(),
    "ts": pa.array([0, 1_500_000, None], pa.timestamp("us", tz="UTC")),
})


def test_validate_good_file(ik, tmp_path):
    write_table(tmp_path / "t.arrow", TABLE)
    r = ik(["arrow", "validate", tmp_path / "t.arrow"])
    assert r.returncode == 0, r.stderr
    assert b"3 rows" in r.stdout


def test_cat_json_matches_pyarrow(ik, tmp_path):
    write_table(tmp_path / "t.arrow", TABLE)
    r = ik(["arrow", "cat", tmp_path / "t.arrow", "--format", "json"])
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert len(rows) == 3
    assert [x["i"] for x in rows] == [1, None, -3]
    assert rows[0]["f"] == 1.5 and rows[1]["f"] == "NaN" and rows[2]["f"] is None
    assert [x["s"] for x in rows] == TABLE.column("s").to_pylist()
    assert [x["b"] for x in rows] == [True, False, None]
    assert [x["l"] for x in rows] == [[1, 2], None, []]
    assert [x["st"] for x in rows] == [{"x": 1}, {"x": None}, None]
    assert [x["d"] for x in rows] == ["a", "b", "a"]
    assert rows[1]["ts"] == "1970-01-01T00:00:01.500000Z"


def test_cat_csv_is_rfc4180(ik, tmp_path):
    write_table(tmp_path / "t.arrow", TABLE)
    r = ik(["arrow", "cat", tmp_path / "t.arrow", "--format", "csv"])
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout.decode())))
    assert rows[0] == TABLE.column_names
    assert rows[2][2] == 'with "quote", comma'
    assert rows[3][0] == "-3" and rows[2][0] == ""


def test_cat_table_and_limit_across_batches(ik, tmp_path):
    t = pa.table({"n": pa.array(range(100))})
    with ipc.new_stream(str(tmp_path / "t.arrows"), t.schema) as w:
        for k in range(0, 100, 7):
            w.write_table(t.slice(k, 7))
    r = ik(["arrow", "cat", tmp_path / "t.arrows", "--limit", "10"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0].strip() == "n" and set(lines[1]) == {"-"}
    assert [int(x) for x in lines[2:]] == list(range(10))


def test_schema_in_pyarrow_notation(ik, tmp_path):
    schema = pa.schema([pa.field("cid", pa.string(), nullable=False),
                        pa.field("tags", pa.list_(pa.string())),
                        pa.field("when", pa.timestamp("us", tz="UTC"))],
                       metadata={"ipfs_kit.table": "pin_index"})
    write_table(tmp_path / "t.arrow", schema.empty_table())
    r = ik(["arrow", "schema", tmp_path / "t.arrow"])
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "cid: string not null" in out
    assert "tags: list<item: string>" in out
    assert "when: timestamp[us, tz=UTC]" in out
    assert "ipfs_kit.table: 'pin_index'" in out


def test_stdin_and_stdout(ik, tmp_path):
    write_table(tmp_path / "t.arrows", TABLE, fmt="stream")
    data = (tmp_path / "t.arrows").read_bytes()
    r = ik(["arrow", "convert", "-", "-", "--to", "file", "--compression", "zstd"], input=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout[:6] == b"ARROW1"
    got = ipc.open_file(pa.BufferReader(r.stdout)).read_all()
    assert got.drop_columns(["f"]).equals(TABLE.drop_columns(["f"]))  # NaN != NaN
    f = got.column("f").to_pylist()
    assert f[0] == 1.5 and f[1] != f[1] and f[2] is None


def test_usage_errors_exit_2(ik, tmp_path):
    assert ik(["arrow", "convert", "only-one"]).returncode == 2
    assert ik(["arrow", "cat", "x", "--format", "xml"]).returncode == 2
    assert ik(["arrow", "frobnicate"]).returncode == 2
    assert ik(["nonsense"]).returncode == 2


def test_convert_fsync_option(ik, tmp_path):
    # --fsync makes the output durable before the rename; without it the rename alone keeps
    # readers from seeing a half-written file. Both give the same bytes.
    import pyarrow as pa
    import pyarrow.ipc as ipc
    t = pa.table({"a": pa.array(range(1000)), "s": pa.array([str(i) for i in range(1000)])})
    src = tmp_path / "in.arrows"
    with ipc.new_stream(str(src), t.schema) as w:
        w.write_table(t)
    outs = []
    for extra in ([], ["--fsync"]):
        out = tmp_path / f"out{len(extra)}.arrow"
        r = ik(["arrow", "convert", src, out, "--to", "file", "--compression", "zstd", *extra])
        assert r.returncode == 0, r.stderr.decode()
        assert ipc.open_file(str(out)).read_all().equals(t)
        assert not list(tmp_path.glob("*.tmp.*"))
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert ik(["arrow", "convert", src, tmp_path / "x", "--fsync=1"]).returncode == 2
