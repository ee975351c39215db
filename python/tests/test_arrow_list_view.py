"""List view and large list view (`+vl`, `+vL`): hostile views, printing, and the C Data /
C Stream Interface both ways with pyarrow. Reading, validating and converting every layout is
in test_arrow_conformance.py (case list_view)."""
import ctypes
import struct

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from test_arrow_conformance import list_views
from test_c_data_interface import Err, Stream, lib, write_pyarrow_stream  # noqa: F401


def table():
    lv, llv = list_views()
    return pa.table({"lv": lv, "llv": llv})


def test_view_outside_the_child_is_refused(ik, tmp_path):
    # one view's offset moved past the child: pyarrow's full validation refuses it, and so do
    # we, at the default level already (the decoder checks every view)
    child = pa.array([1, 2, 3], pa.int32())
    arr = pa.ListViewArray.from_arrays(pa.array([0, 1], pa.int32()), pa.array([1, 2], pa.int32()),
                                       child)
    path = tmp_path / "lv.arrows"
    with ipc.new_stream(str(path), pa.schema([("lv", arr.type)])) as w:
        w.write_batch(pa.record_batch([arr], names=["lv"]))
    data = path.read_bytes()
    # the sizes buffer [1, 2] comes before the child [1, 2, 3] in the body: its size 2 -> 7
    bad = data.replace(struct.pack("<ii", 1, 2), struct.pack("<ii", 1, 7), 1)
    assert bad != data
    path.write_bytes(bad)
    with pytest.raises(pa.ArrowInvalid):
        ipc.open_stream(bad).read_all().validate(full=True)
    r = ik(["arrow", "validate", path])
    assert r.returncode == 65, r.stderr.decode()
    assert "list view outside its child" in r.stderr.decode()


def test_cat_prints_views_as_lists(ik, tmp_path):
    t = table()
    path = tmp_path / "lv.arrow"
    with ipc.new_file(str(path), t.schema) as w:
        w.write_table(t)
    r = ik(["arrow", "cat", path, "--format", "json"])
    assert r.returncode == 0, r.stderr.decode()
    import json
    rows = [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]
    rows = rows[0] if len(rows) == 1 and isinstance(rows[0], list) else rows
    assert rows == t.to_pylist()
    r = ik(["arrow", "schema", path])
    assert r.returncode == 0 and "list_view" in r.stdout.decode(), r.stdout.decode()


def test_pyarrow_imports_our_list_views(lib, tmp_path):  # noqa: F811
    t = table()
    path = tmp_path / "lv.arrow"
    with ipc.new_file(str(path), t.schema) as w:
        w.write_table(t)
    buf, err, stream = ctypes.c_void_p(), Err(), Stream()
    assert lib.ik_buffer_map_file(str(path).encode(), ctypes.byref(buf), ctypes.byref(err)) == 0
    assert lib.ik_ipc_open_stream(buf, None, ctypes.byref(stream), None,
                                  ctypes.byref(err)) == 0, err.message
    lib.ik_buffer_unref(buf)
    got = pa.RecordBatchReader._import_from_c(ctypes.addressof(stream)).read_all()
    assert got.schema.field("lv").type == pa.list_view(pa.int32())
    assert got.schema.field("llv").type == pa.large_list_view(pa.string())
    assert got.equals(t)


def test_our_writer_consumes_pyarrow_list_views(lib, tmp_path):  # noqa: F811
    t = table()
    lv = t.column("lv").chunk(0)
    sliced = pa.table({"lv": lv.slice(1, 4), "llv": t.column("llv").chunk(0).slice(2, 4)})
    for src in (t, sliced):
        out = tmp_path / "out.arrows"
        write_pyarrow_stream(lib, pa.RecordBatchReader.from_batches(src.schema,
                                                                    src.to_batches()), out)
        got = ipc.open_stream(str(out)).read_all()
        got.validate(full=True)
        assert got.to_pylist() == src.to_pylist()
