"""Value-range rules of Arrow C++'s full validation (decimal precision, date64 whole days,
time32/time64 inside one day), exit codes of data errors, and dictionaries nested in
dictionaries across batches (deltas and replacements, written inner first).

pyarrow writes each file without validating; `ipfs-kit arrow validate` must give pyarrow's
validate(full=True) verdict: exit 0 when pyarrow accepts, 65 (data error) when it refuses."""
import struct

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_arrow_conformance import _deref, _field, _messages


def pyarrow_ok(arr):
    try:
        arr.validate(full=True)
        return True
    except pa.ArrowInvalid:
        return False


def write_stream(path, arrays):
    t = pa.table({f"c{i}": a for i, a in enumerate(arrays)})
    with ipc.new_stream(str(path), t.schema) as w:
        w.write_table(t)


def fixed(typ, raw_values, valid=None):
    width = typ.bit_width // 8
    data = b"".join(v.to_bytes(width, "little", signed=True) for v in raw_values)
    bitmap = None
    if valid is not None:
        bits = sum(1 << i for i, ok in enumerate(valid) if ok)
        bitmap = pa.py_buffer(bits.to_bytes((len(valid) + 7) // 8, "little"))
    return pa.Array.from_buffers(typ, len(raw_values), [bitmap, pa.py_buffer(data)],
                                 null_count=-1)


DAY_MS = 86400000
TYPES = {
    "decimal32": (pa.decimal32(5, 2), 10**5, 31),
    "decimal64": (pa.decimal64(15, 0), 10**15, 63),
    "decimal128": (pa.decimal128(20, 3), 10**20, 127),
    "decimal128_38": (pa.decimal128(38, 0), 10**38, 127),
    "decimal256": (pa.decimal256(50, 1), 10**50, 255),
    "decimal256_76": (pa.decimal256(76, 1), 10**76, 255),
    "date64": (pa.date64(), DAY_MS, 63),
    "time32s": (pa.time32("s"), 86400, 31),
    "time32ms": (pa.time32("ms"), DAY_MS, 31),
    "time64us": (pa.time64("us"), 86400 * 10**6, 63),
    "time64ns": (pa.time64("ns"), 86400 * 10**9, 63),
}


def interesting(limit, bits):
    lo, hi = -(2 ** bits), 2 ** bits - 1
    return st.one_of(
        st.sampled_from([0, 1, -1, limit - 1, limit, limit + 1, -limit + 1, -limit, -limit - 1,
                         lo, hi, limit * 3, -limit * 2, 5 * DAY_MS, DAY_MS + 1]),
        st.integers(lo, hi)).filter(lambda v: lo <= v <= hi)


@pytest.mark.parametrize("name", sorted(TYPES))
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_value_range_verdicts_equal_pyarrow(ik, tmp_path, name, data):
    typ, limit, bits = TYPES[name]
    # a run of valid zeros first, so the value checked lands in any block of 256
    vals = [0] * data.draw(st.sampled_from([0, 255, 256, 300, 600])) + data.draw(
        st.lists(interesting(limit, bits), min_size=1, max_size=8))
    valid = data.draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=len(vals),
                                                    max_size=len(vals))))
    arr = fixed(typ, vals, valid)
    off = data.draw(st.sampled_from([0, 1, 3, len(vals) - 1]))
    arr = arr.slice(off)
    path = tmp_path / "v.arrows"
    write_stream(path, [arr])
    r = ik(["arrow", "validate", path])
    want = pyarrow_ok(arr)
    assert r.returncode == (0 if want else 65), (vals, valid, off, r.stderr.decode())


@pytest.mark.parametrize("typ,raw,needle", [
    (pa.decimal128(3, 1), [999, 1000], "does not fit in precision 3"),
    (pa.date64(), [DAY_MS, 1], "date64 value 1 at index 1 is not a whole day"),
    (pa.time32("s"), [86399, 86400], "time value 86400 at index 1 outside [0, 86400)"),
    (pa.time64("ns"), [-1], "time value -1 at index 0"),
])
def test_value_errors_name_the_value(ik, tmp_path, typ, raw, needle):
    path = tmp_path / "v.arrows"
    write_stream(path, [fixed(typ, raw)])
    r = ik(["arrow", "validate", path])
    assert r.returncode == 65 and needle in r.stderr.decode(), r.stderr.decode()


def test_malformed_run_end_encoded_is_a_data_error(ik, tmp_path):
    # run ends that cover fewer rows than the array: a data error, exit 65 (it was 2, usage)
    arr = pa.RunEndEncodedArray.from_arrays(pa.array([2, 5], pa.int32()), pa.array(["a", "b"]))
    path = tmp_path / "ree.arrows"
    write_stream(path, [arr])
    data = path.read_bytes()
    ends = struct.pack("<ii", 2, 5)
    assert data.count(ends) == 1
    path.write_bytes(data.replace(ends, struct.pack("<ii", 2, 3)))
    r = ik(["arrow", "validate", path])
    assert r.returncode == 65, r.stderr.decode()
    assert "run ends cover 3 rows, need 5" in r.stderr.decode()
    with pytest.raises(pa.ArrowInvalid):
        read(path).validate(full=True)


def test_replaced_dictionary_to_file_is_a_data_error(ik, tmp_path):
    schema = pa.schema([("d", pa.dictionary(pa.int32(), pa.string()))])
    src, out = tmp_path / "r.arrows", tmp_path / "r.arrow"
    with ipc.new_stream(str(src), schema) as w:
        for vals in (["a", "b"], ["z"]):
            w.write_batch(pa.record_batch([pa.DictionaryArray.from_arrays(
                pa.array([0], pa.int32()), pa.array(vals))], schema=schema))
    r = ik(["arrow", "convert", src, out, "--to", "file"])
    assert r.returncode == 65, r.stderr.decode()
    assert "only deltas" in r.stderr.decode()
    assert not out.exists()


def test_bad_arguments_are_still_usage_errors(ik, tmp_path):
    assert ik(["arrow", "convert", "a", "b", "--to", "neither"]).returncode == 2
    assert ik(["arrow", "validate"]).returncode == 2


# ---- dictionaries inside dictionaries, across batches ------------------------------------------

def nested_batch(schema, inner_values, list_offsets, inner_idx, outer_idx):
    inner = pa.DictionaryArray.from_arrays(pa.array(inner_idx, pa.int8()), pa.array(inner_values))
    lst = pa.ListArray.from_arrays(pa.array(list_offsets, pa.int32()), inner)
    outer = pa.DictionaryArray.from_arrays(pa.array(outer_idx, pa.int8()), lst)
    return pa.record_batch([outer], schema=schema)


NESTED = pa.schema([("d", pa.dictionary(pa.int8(), pa.list_(pa.dictionary(pa.int8(),
                                                                           pa.string()))))])


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    rd = ipc.open_file(pa.py_buffer(data)) if data[:6] == b"ARROW1" else ipc.open_stream(data)
    return rd.read_all()


def test_nested_dictionaries_grow_as_deltas_inner_first(ik, tmp_path):
    # batch 2 extends both the inner and the outer dictionary. In a file our writer sends
    # deltas (the format allows nothing else), inner before outer; pyarrow 26 cannot read a
    # delta of a dictionary holding dictionaries ("unresolved nested dictionary"), so the file
    # is read back through our reader. In a stream the outer one is replaced, which pyarrow
    # reads.
    b1 = nested_batch(NESTED, ["a", "b"], [0, 1, 2], [0, 1], [0, 1, 0])
    b2 = nested_batch(NESTED, ["a", "b", "c"], [0, 1, 2, 4], [0, 1, 2, 0], [2, 0, 1])
    src = tmp_path / "n.arrows"
    with ipc.new_stream(str(src), NESTED) as w:
        w.write_batch(b1)
        w.write_batch(b2)
    want = read(src).to_pylist()
    assert want[3:] == [{"d": ["c", "a"]}, {"d": ["a"]}, {"d": ["b"]}]
    out, back = tmp_path / "n.arrow", tmp_path / "back.arrows"
    r = ik(["arrow", "convert", src, out, "--to", "file"])
    assert r.returncode == 0, r.stderr.decode()
    with pytest.raises(pa.ArrowNotImplementedError):
        read(out)
    r = ik(["arrow", "convert", out, back, "--to", "stream"])
    assert r.returncode == 0, r.stderr.decode()
    assert read(back).to_pylist() == want
    r = ik(["arrow", "convert", src, tmp_path / "n2.arrows"])
    assert r.returncode == 0, r.stderr.decode()
    assert read(tmp_path / "n2.arrows").to_pylist() == want


def test_inner_dictionary_replaced_resends_the_outer(ik, tmp_path):
    # the outer indices stay the same but the inner dictionary is replaced: a reader binds the
    # inner dictionary when it decodes the outer one, so the outer must be sent again
    b1 = nested_batch(NESTED, ["a", "b"], [0, 1, 2], [0, 1], [0, 1])
    b2 = nested_batch(NESTED, ["x", "y"], [0, 1, 2], [0, 1], [0, 1])
    src, out = tmp_path / "n.arrows", tmp_path / "o.arrows"
    with ipc.new_stream(str(src), NESTED) as w:
        w.write_batch(b1)
        w.write_batch(b2)
    r = ik(["arrow", "convert", src, out])
    assert r.returncode == 0, r.stderr.decode()
    assert read(out).to_pylist() == [{"d": ["a"]}, {"d": ["b"]}, {"d": ["x"]}, {"d": ["y"]}]
    r = ik(["arrow", "convert", src, tmp_path / "o.arrow", "--to", "file"])
    assert r.returncode == 65 and "only deltas" in r.stderr.decode()


def _schema_message(t):
    """pyarrow's stream of t, and its first (schema) message's metadata, root and Schema."""
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    data = bytearray(sink.getvalue().to_pybytes())
    _, mstart, mlen, _ = _messages(data)[0]
    meta = memoryview(data)[mstart:mstart + mlen]
    root = _deref(meta, 0)
    return data, meta, root, _deref(meta, _field(meta, root, 2))


def _vtable(meta, table):
    return table - struct.unpack_from("<i", meta, table)[0]


def test_shared_id_with_different_value_types_is_refused(ik, tmp_path):
    t = pa.table({"a": pa.DictionaryArray.from_arrays(pa.array([0], pa.int32()),
                                                      pa.array(["s"])),
                  "b": pa.DictionaryArray.from_arrays(pa.array([0], pa.int32()),
                                                      pa.array([7]))})
    data, meta, _, schema = _schema_message(t)
    b = _deref(meta, _deref(meta, _field(meta, schema, 1)) + 4 + 4)
    enc = _deref(meta, _field(meta, b, 4))
    struct.pack_into("<q", meta, _field(meta, enc, 0), 0)
    del meta
    path = tmp_path / "s.arrows"
    path.write_bytes(bytes(data))
    r = ik(["arrow", "validate", path])
    assert r.returncode == 65
    assert "fields sharing dictionary id 0 have different value types" in r.stderr.decode()


def test_dictionary_index_without_bit_width_is_refused(ik, tmp_path):
    # Int.bitWidth absent from the index type's table means 0 (the schema default), not 32:
    # pyarrow refuses it ("less than 8 bits"), and so do we (we read 32 until 2026-12-07)
    t = pa.table({"a": pa.DictionaryArray.from_arrays(pa.array([0], pa.int32()),
                                                      pa.array(["s"]))})
    data, meta, _, schema = _schema_message(t)
    field = _deref(meta, _deref(meta, _field(meta, schema, 1)) + 4)
    index_type = _deref(meta, _field(meta, _deref(meta, _field(meta, field, 4)), 1))
    vt = _vtable(meta, index_type)
    struct.pack_into("<H", meta, vt + 4, 0)  # field 0 (bitWidth) absent
    del meta
    with pytest.raises(pa.ArrowException):
        ipc.open_stream(bytes(data)).read_all()
    path = tmp_path / "d.arrows"
    path.write_bytes(bytes(data))
    r = ik(["arrow", "validate", path])
    assert r.returncode == 65 and "dictionary index bit width invalid" in r.stderr.decode()


@pytest.mark.parametrize("damage", ["schema_without_fields", "misaligned_version"])
def test_flatbuffer_damage_pyarrow_refuses_is_refused(ik, tmp_path, damage):
    # found by the differential run: a Schema without its fields vector, and a scalar field at
    # an odd offset, are refused by Arrow C++'s flatbuffer verifier; we accepted both
    data, meta, root, schema = _schema_message(pa.table({"a": pa.array([1, 2])}))
    if damage == "schema_without_fields":
        struct.pack_into("<H", meta, _vtable(meta, schema) + 4 + 2 * 1, 0)
        want = "schema without a fields vector"
    else:
        vt = _vtable(meta, root)
        off = struct.unpack_from("<H", meta, vt + 4)[0]  # Message.version, an int16
        assert off and (root + off) % 2 == 0
        struct.pack_into("<H", meta, vt + 4, off + 1)
        want = "misaligned"
    del meta
    with pytest.raises((pa.ArrowException, OSError)):
        ipc.open_stream(bytes(data)).read_all()
    path = tmp_path / "d.arrows"
    path.write_bytes(bytes(data))
    r = ik(["arrow", "validate", path])
    assert r.returncode == 65 and want in r.stderr.decode(), r.stderr.decode()
