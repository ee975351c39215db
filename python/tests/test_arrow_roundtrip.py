"""pyarrow writes every type; `ipfs-kit arrow convert` rewrites it with our reader and writer;
pyarrow must read back an equal table (schema metadata included)."""
import datetime
import decimal

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest


class UuidType(pa.ExtensionType):
    def __init__(self):
        super().__init__(pa.binary(16), "ipfs_kit.test_uuid")

    def __arrow_ext_serialize__(self):
        return b"v1"

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type, serialized):
        return cls()


pa.register_extension_type(UuidType())


def column(typ, values):
    return pa.array(values, type=typ)


D = decimal.Decimal
T0 = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456)

CASES = {
    "null": pa.array([None, None, None], type=pa.null()),
    "bool": column(pa.bool_(), [True, None, False, True]),
    "int8": column(pa.int8(), [-128, None, 127]),
    "int16": column(pa.int16(), [-32768, 0, None]),
    "int32": column(pa.int32(), [1, None, -7]),
    "int64": column(pa.int64(), [2**62, None, -(2**63)]),
    "uint8": column(pa.uint8(), [0, 255, None]),
    "uint16": column(pa.uint16(), [0, 65535, None]),
    "uint32": column(pa.uint32(), [0, 2**32 - 1, None]),
    "uint64": column(pa.uint64(), [0, 2**64 - 1, None]),
    "float16": pa.array([1.5, None, -2.0], type=pa.float16()),
    "float32": column(pa.float32(), [1.5, None, float("inf")]),
    "float64": column(pa.float64(), [1.25, None, float("-inf")]),
    "decimal128": column(pa.decimal128(10, 2), [D("12.34"), None, D("-99999999.99")]),
    "decimal32": column(pa.decimal32(7, 2), [D("12.34"), None, D("-99999.99")]),
    "decimal64": column(pa.decimal64(18, 4), [D("1.0001"), None, D("-3")]),
    "decimal256": column(pa.decimal256(40, 5), [D("1.00001"), None, D("-3")]),
    "date32": column(pa.date32(), [datetime.date(1969, 12, 31), None, datetime.date(2024, 1, 1)]),
    "date64": column(pa.date64(), [datetime.date(2000, 2, 29), None]),
    "time32s": column(pa.time32("s"), [datetime.time(1, 2, 3), None]),
    "time32ms": column(pa.time32("ms"), [datetime.time(1, 2, 3, 4000), None]),
    "time64us": column(pa.time64("us"), [datetime.time(23, 59, 59, 999999), None]),
    "time64ns": pa.array([1, None, 86399999999999], type=pa.time64("ns")),
    "ts_s": column(pa.timestamp("s"), [T0, None]),
    "ts_ms_utc": column(pa.timestamp("ms", tz="UTC"), [T0, None]),
    "ts_us_zone": column(pa.timestamp("us", tz="Europe/Paris"), [T0, None]),
    "ts_ns": column(pa.timestamp("ns"), [T0, None]),
    "duration_s": pa.array([1, None, -5], type=pa.duration("s")),
    "duration_ns": pa.array([1, None, -5], type=pa.duration("ns")),
    "month_day_nano": pa.array([pa.MonthDayNano([1, 2, 3]), None],
                               type=pa.month_day_nano_interval()),
    "binary": column(pa.binary(), [b"\x00\xff", None, b""]),
    "string": column(pa.string(), ["héllo", None, "", "ünïcödé ✓"]),
    "large_binary": column(pa.large_binary(), [b"abc", None]),
    "large_string": column(pa.large_string(), ["abc", None, "x" * 100]),
    "fixed_size_binary": column(pa.binary(4), [b"abcd", None, b"\x00\x00\x00\x01"]),
    "list": column(pa.list_(pa.int64()), [[1, 2], None, [], [None, 4]]),
    "large_list": column(pa.large_list(pa.string()), [["a"], None, []]),
    "fixed_size_list": column(pa.list_(pa.int16(), 2), [[1, 2], None, [3, None]]),
    "struct": column(pa.struct([("x", pa.int32()), ("y", pa.string())]),
                     [{"x": 1, "y": "a"}, None, {"x": None, "y": "c"}]),
    "map": column(pa.map_(pa.string(), pa.int64()), [[("a", 1), ("b", None)], None, []]),
    "sparse_union": pa.UnionArray.from_sparse(
        pa.array([0, 1, 0], type=pa.int8()),
        [pa.array([1, 2, 3]), pa.array(["a", "b", "c"])], ["i", "s"]),
    "dense_union": pa.UnionArray.from_dense(
        pa.array([0, 1, 0, 1], type=pa.int8()), pa.array([0, 0, 1, 1], type=pa.int32()),
        [pa.array([1, 2]), pa.array(["a", None])], ["i", "s"]),
    "dictionary_int8": pa.array(["x", "y", None, "x"]).dictionary_encode().cast(
        pa.dictionary(pa.int8(), pa.string())),
    "dictionary_uint16_ordered": pa.DictionaryArray.from_arrays(
        pa.array([1, 0, None, 1], type=pa.uint16()), pa.array(["lo", "hi"]), ordered=True),
    "dictionary_int64_ints": pa.DictionaryArray.from_arrays(
        pa.array([0, 1, 1], type=pa.int64()), pa.array([10, 20])),
    "extension": pa.ExtensionArray.from_storage(
        UuidType(), pa.array([b"0123456789abcdef", None], type=pa.binary(16))),
    "sliced_string": pa.array(["a", "bb", None, "dddd", "eeeee"])[1:4],
    "sliced_bool": pa.array([True, False, None, True, False, True, True, None, False, True])[3:9],
    "sliced_list": pa.array([[1], [2, 3], None, [4, 5, 6]], type=pa.list_(pa.int32()))[1:],
    "empty_int": pa.array([], type=pa.int32()),
    "binary_view": pa.array([b"short", None, b"a much longer value than twelve"],
                            type=pa.binary_view()),
    "string_view": pa.array(["tiny", None, "a string that is longer than twelve bytes"],
                            type=pa.string_view()),
    "run_end_encoded": pa.RunEndEncodedArray.from_arrays(
        pa.array([2, 5, 6], type=pa.int32()), pa.array(["a", None, "c"])),
}


def make_table(name):
    arr = CASES[name]
    field = pa.field("col", arr.type, metadata={"field_key": "field value"})
    schema = pa.schema([field, pa.field("n", pa.int32(), nullable=False)],
                       metadata={"schema_key": "schema value", "ipfs_kit.table": "test"})
    n = pa.array(range(len(arr)), type=pa.int32())
    return pa.Table.from_arrays([arr, n], schema=schema)


def write(table, path, fmt, **opts):
    options = ipc.IpcWriteOptions(**opts)
    sink = pa.OSFile(str(path), "wb")
    writer = (ipc.new_file if fmt == "file" else ipc.new_stream)(sink, table.schema,
                                                                 options=options)
    # two batches: the table, then its second half, so several batches are exercised
    writer.write_table(table)
    if table.num_rows > 1:
        writer.write_table(table.slice(table.num_rows // 2))
    writer.close()
    sink.close()


def read(path):
    with pa.memory_map(str(path)) as src:
        head = src.read(6)
        src.seek(0)
        reader = ipc.open_file(src) if head == b"ARROW1" else ipc.open_stream(src)
        return reader.read_all()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("fmt", ["stream", "file"])
def test_convert_round_trip_is_equal(ik, tmp_path, name, fmt):
    table = make_table(name)
    src, out = tmp_path / "in.arrow", tmp_path / "out.arrow"
    write(table, src, fmt)
    expect = read(src)
    r = ik(["arrow", "convert", src, out])
    assert r.returncode == 0, r.stderr.decode()
    got = read(out)
    assert got.schema.equals(expect.schema, check_metadata=True), (got.schema, expect.schema)
    assert got.equals(expect), (got, expect)
    got.validate(full=True)


@pytest.mark.parametrize("name", ["int64", "string", "list", "struct", "dictionary_int8",
                                  "sliced_string", "decimal128", "map", "dense_union"])
@pytest.mark.parametrize("to,comp", [("stream", "lz4"), ("file", "zstd"), ("file", "none"),
                                     ("stream", "zstd")])
def test_convert_with_compression_and_format_change(ik, tmp_path, name, to, comp):
    table = make_table(name)
    src, out = tmp_path / "in.arrow", tmp_path / "out.arrow"
    write(table, src, "stream")
    r = ik(["arrow", "convert", src, out, "--to", to, "--compression", comp])
    assert r.returncode == 0, r.stderr.decode()
    with open(out, "rb") as f:
        assert (f.read(6) == b"ARROW1") == (to == "file")
    assert read(out).equals(read(src))


@pytest.mark.parametrize("codec", ["lz4", "zstd"])
def test_reads_pyarrow_compressed_bodies(ik, tmp_path, codec):
    table = pa.table({"a": pa.array(range(10000)), "s": pa.array([str(i % 7) for i in range(10000)])})
    src, out = tmp_path / "in.arrows", tmp_path / "out.arrows"
    write(table, src, "stream", compression=codec)
    r = ik(["arrow", "convert", src, out])
    assert r.returncode == 0, r.stderr.decode()
    assert read(out).equals(read(src))


def test_reads_legacy_stream_format(ik, tmp_path):
    table = make_table("string")
    src, out = tmp_path / "in.arrows", tmp_path / "out.arrows"
    write(table, src, "stream", use_legacy_format=True)
    with open(src, "rb") as f:
        assert f.read(4) != b"\xff\xff\xff\xff"  # really the pre-0.15 framing
    r = ik(["arrow", "convert", src, out])
    assert r.returncode == 0, r.stderr.decode()
    assert read(out).equals(read(src))


def test_dictionary_deltas_and_replacement_in_streams(ik, tmp_path):
    schema = pa.schema([("d", pa.dictionary(pa.int32(), pa.string()))])
    b1 = pa.record_batch([pa.DictionaryArray.from_arrays(pa.array([0, 1]), pa.array(["a", "b"]))], schema=schema)
    b2 = pa.record_batch([pa.DictionaryArray.from_arrays(pa.array([2, 0]), pa.array(["a", "b", "c"]))], schema=schema)
    b3 = pa.record_batch([pa.DictionaryArray.from_arrays(pa.array([0]), pa.array(["z"]))], schema=schema)
    for deltas in (True, False):
        src, out = tmp_path / f"d{deltas}.arrows", tmp_path / f"o{deltas}.arrows"
        with ipc.new_stream(str(src), schema,
                            options=ipc.IpcWriteOptions(emit_dictionary_deltas=deltas)) as w:
            for b in (b1, b2, b3):
                w.write_batch(b)
        r = ik(["arrow", "convert", src, out])
        assert r.returncode == 0, r.stderr.decode()
        got = read(out)
        assert got.to_pylist() == read(src).to_pylist() == [
            {"d": "a"}, {"d": "b"}, {"d": "c"}, {"d": "a"}, {"d": "z"}]


def test_zero_length_batches(ik, tmp_path):
    table = make_table("int32").slice(0, 0)
    src, out = tmp_path / "in.arrow", tmp_path / "out.arrow"
    with ipc.new_file(str(src), table.schema) as w:
        w.write_table(table)
        w.write_batch(pa.record_batch([pa.array([], pa.int32()), pa.array([], pa.int32())],
                                      schema=table.schema))
    r = ik(["arrow", "convert", src, out])
    assert r.returncode == 0, r.stderr.decode()
    assert read(out).num_rows == 0
    assert read(out).schema.equals(table.schema, check_metadata=True)


def test_our_sample_pins_read_by_pyarrow(ik, tmp_path):
    out = tmp_path / "pins.arrow"
    r = ik(["arrow", "sample-pins", out, "--rows", "70000"])
    assert r.returncode == 0, r.stderr.decode()
    t = read(out)
    t.validate(full=True)
    assert t.num_rows == 70000
    assert t.schema.metadata[b"ipfs_kit.table"] == b"pin_index"
    assert t.schema.field("pin_type").type == pa.dictionary(pa.int8(), pa.string())
    assert t.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert not t.schema.field("cid").nullable
    cids = t.column("cid").to_pylist()
    assert all(len(c) == 46 and c.startswith("Qm") for c in cids[:1000])
    assert len(set(cids)) == len(cids)
    # every buffer we wrote is 64-byte aligned in the file
    with pa.memory_map(str(out)) as src:
        base = src.address if hasattr(src, "address") else None
        batch = ipc.open_file(src).get_batch(0)
        for col in batch.columns:
            for buf in col.buffers():
                if buf is not None and buf.size:
                    assert buf.address % 64 == 0


@pytest.mark.parametrize("values", [
    [[1, 2], [3], None, [4, 5, 6]],
    [{"x": 1, "y": "a"}, {"x": 2, "y": None}, None, {"x": 4, "y": "d"}],
    ["a", "bb", None, "dddd"],
], ids=["list", "struct", "string"])
def test_dictionary_deltas_of_nested_values(ik, tmp_path, values):
    dict_values = pa.array(values)
    vt = dict_values.type if not pa.types.is_string(dict_values.type) else pa.large_string()
    dict_values = dict_values.cast(vt)
    schema = pa.schema([("d", pa.dictionary(pa.int16(), vt))])
    batches = [
        pa.record_batch([pa.DictionaryArray.from_arrays(pa.array([0, 1], pa.int16()),
                                                        dict_values[:2])], schema=schema),
        pa.record_batch([pa.DictionaryArray.from_arrays(pa.array([3, 2, 0], pa.int16()),
                                                        dict_values)], schema=schema),
    ]
    src, out = tmp_path / "d.arrows", tmp_path / "o.arrows"
    with ipc.new_stream(str(src), schema,
                        options=ipc.IpcWriteOptions(emit_dictionary_deltas=True)) as w:
        for b in batches:
            w.write_batch(b)
    for to in ("stream", "file"):
        r = ik(["arrow", "convert", src, out, "--to", to])
        assert r.returncode == 0, r.stderr.decode()
        got = read(out)
        assert got.to_pylist() == read(src).to_pylist()
        assert got.column("d").chunk(1).dictionary.to_pylist() == dict_values.to_pylist()
