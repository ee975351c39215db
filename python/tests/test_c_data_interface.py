"""The C Data / C Stream Interface against pyarrow as a foreign producer and consumer.

Export: our reader hands an ArrowArrayStream to pyarrow (RecordBatchReader._import_from_c);
pyarrow reads every batch, then releases through our callbacks, and the mapping is freed.
Import: pyarrow exports an ArrowArrayStream and our writer consumes it. ctypes is used only
here, to reach libipfskit.so from a test."""
import ctypes
import os

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from conftest import ROOT
from test_arrow_roundtrip import CASES, make_table

LIB = os.environ.get("IPFS_KIT_LIB", os.path.join(ROOT, "build", "libipfskit.so"))


class Stream(ctypes.Structure):
    _fields_ = [("get_schema", ctypes.c_void_p), ("get_next", ctypes.c_void_p),
                ("get_last_error", ctypes.c_void_p), ("release", ctypes.c_void_p),
                ("private_data", ctypes.c_void_p)]


class Err(ctypes.Structure):
    _fields_ = [("message", ctypes.c_char * 512)]


@pytest.fixture(scope="module")
def lib():
    lib = ctypes.CDLL(LIB)
    lib.ik_buffer_map_file.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                       ctypes.POINTER(Err)]
    lib.ik_ipc_open_stream.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(Stream),
                                       ctypes.c_void_p, ctypes.POINTER(Err)]
    lib.ik_buffer_unref.argtypes = [ctypes.c_void_p]
    lib.ik_buffer_live_count.restype = ctypes.c_int64
    lib.ik_ipc_write_stream_to_path.argtypes = [ctypes.POINTER(Stream), ctypes.c_char_p,
                                                ctypes.c_void_p, ctypes.POINTER(Err)]
    return lib


NAMES = ["int64", "string", "list", "struct", "dictionary_int8", "sliced_string", "map",
         "dense_union", "decimal128", "string_view", "run_end_encoded", "extension"]


@pytest.mark.parametrize("name", NAMES)
def test_pyarrow_imports_our_stream_and_releases_it(lib, tmp_path, name):
    table = make_table(name)
    path = tmp_path / "t.arrow"
    with ipc.new_file(str(path), table.schema) as w:
        w.write_table(table)
    live0 = lib.ik_buffer_live_count()
    buf, err, stream = ctypes.c_void_p(), Err(), Stream()
    assert lib.ik_buffer_map_file(str(path).encode(), ctypes.byref(buf), ctypes.byref(err)) == 0
    assert lib.ik_ipc_open_stream(buf, None, ctypes.byref(stream), None, ctypes.byref(err)) == 0, \
        err.message
    lib.ik_buffer_unref(buf)  # the stream holds its own reference
    reader = pa.RecordBatchReader._import_from_c(ctypes.addressof(stream))
    assert stream.release is None  # moved into pyarrow, as the spec requires
    got = reader.read_all()
    expect = ipc.open_file(str(path)).read_all()
    assert got.equals(expect)
    assert got.schema.equals(expect.schema, check_metadata=True)
    del reader, got
    import gc
    gc.collect()
    assert lib.ik_buffer_live_count() == live0  # last release unmapped the file


def write_pyarrow_stream(lib, reader, out):
    """Has our writer consume pyarrow's export of `reader` into the stream file `out`."""
    stream, err = Stream(), Err()
    reader._export_to_c(ctypes.addressof(stream))
    rc = lib.ik_ipc_write_stream_to_path(ctypes.byref(stream), str(out).encode(), None,
                                         ctypes.byref(err))
    assert rc == 0, err.message
    # the stream was consumed, not released: release it as its owner
    ctypes.CFUNCTYPE(None, ctypes.POINTER(Stream))(stream.release)(ctypes.byref(stream))


@pytest.mark.parametrize("name", NAMES)
def test_our_writer_consumes_a_pyarrow_stream(lib, tmp_path, name):
    table = make_table(name)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=2))
    out = tmp_path / "out.arrows"
    write_pyarrow_stream(lib, reader, out)
    assert ipc.open_stream(str(out)).read_all().equals(table)
