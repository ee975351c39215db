"""A second, independent reader: nanoarrow (its own C IPC reader) must read the streams we
write and see the same values pyarrow sees."""
import nanoarrow as na
import nanoarrow.ipc as naipc
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from test_arrow_roundtrip import CASES, make_table, read, write

# types nanoarrow 0.9's IPC reader and Python conversion handle
SUPPORTED = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint32", "uint64", "float32",
             "float64", "string", "binary", "large_string", "list", "struct", "fixed_size_list",
             "sliced_string", "sliced_list", "date32", "dictionary_int8", "empty_int"]


@pytest.mark.parametrize("name", SUPPORTED)
def test_nanoarrow_reads_what_we_write(ik, tmp_path, name):
    table = make_table(name)
    src, out = tmp_path / "in.arrow", tmp_path / "out.arrows"
    write(table, src, "file")
    r = ik(["arrow", "convert", src, out, "--to", "stream"])
    assert r.returncode == 0, r.stderr.decode()
    stream = naipc.InputStream.from_path(str(out))
    got = na.ArrayStream(stream).read_all()
    expect = read(src)
    # compare through pyarrow's import of nanoarrow's arrays (a C Data Interface round trip)
    got_pa = pa.table(got) if hasattr(got, "__arrow_c_stream__") else pa.record_batch(got)
    assert got_pa.to_pylist() == expect.to_pylist()
