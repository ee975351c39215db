"""Zero-copy, proven from Python: the buffers pyarrow sees lie inside the mappings of the
daemon's segments (the base and the deltas of pin_index: files, or memfds for deltas published
from memory), nothing the size of the table is
allocated, and a Result stays readable after its client closes, the daemon stops and the
segment files are unlinked."""
import os
import re

import pyarrow as pa

import ipfs_kit_arrow as ika


SEGMENT = re.compile(r"pin_index\.[0-9]+(\.d[0-9]+)?\.arrow$")


def segment_files(path):
    """The pin_index segments (base and deltas) under path/snapshots."""
    d = os.path.join(path, "snapshots")
    return [os.path.join(d, f) for f in os.listdir(d) if SEGMENT.match(f)]


def snapshot_mappings(path):
    """[(start, end)] of this process's mappings of pin_index segments: files under
    path/snapshots, or the daemon's memfds of segments published from memory (named as their
    files; their files come later, from the daemon's settler)."""
    prefixes = (os.path.join(path, "snapshots") + "/", "/memfd:")
    spans = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            name = parts[5].rstrip("\n").removesuffix(" (deleted)") if len(parts) == 6 else ""
            prefix = next((p for p in prefixes if name.startswith(p)), None)
            if prefix is not None and SEGMENT.match(name[len(prefix):]):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                spans.append((lo, hi))
    return spans


def all_buffers(table):
    for col in table.columns:
        for chunk in col.chunks:
            arrays = [chunk]
            if pa.types.is_dictionary(chunk.type):
                arrays.append(chunk.dictionary)
            for a in arrays:
                for b in a.buffers():
                    if b is not None and b.size > 0:
                        yield col, b


def assert_inside(table, spans):
    assert spans, "the snapshot file is not mapped"
    n = 0
    for col, b in all_buffers(table):
        assert any(lo <= b.address and b.address + b.size <= hi for lo, hi in spans), \
            f"column {col}: buffer at {b.address:#x} (+{b.size}) is outside the snapshot mapping"
        n += 1
    assert n >= table.num_columns


def test_pyarrow_buffers_lie_in_the_mapped_snapshot(pin_daemon):
    with ika.connect(pin_daemon.path) as c:
        before = pa.total_allocated_bytes()
        r = c.pins()
        t = pa.table(r)
        grown = pa.total_allocated_bytes() - before
        assert (r.method, r.source) == ("zero_copy", "arrow_ipc_daemon")
        assert t.num_rows == r.rows == 20000
        assert t.nbytes > 2_000_000
        assert grown < t.nbytes // 100, f"pyarrow allocated {grown} bytes for a {t.nbytes}-byte table"
        assert_inside(t, snapshot_mappings(pin_daemon.path))


def test_limit_offset_and_columns_are_slices_of_the_mapping(pin_daemon):
    with ika.connect(pin_daemon.path) as c:
        full = pa.table(c.pins())
        r = c.pins(limit=100, offset=250, columns=["cid", "size_bytes", "backend"])
        t = pa.table(r)
        assert t.column_names == ["cid", "size_bytes", "backend"]
        assert t.to_pylist() == full.select(t.column_names).slice(250, 100).to_pylist()
        assert (r.rows, r.matched) == (100, 20000)
        assert_inside(t, snapshot_mappings(pin_daemon.path))


def test_every_arrow_c_stream_call_gives_a_fresh_stream(pin_daemon):
    with ika.connect(pin_daemon.path) as c:
        r = c.pins(limit=500)
    a, b = pa.table(r), pa.table(r)
    assert a.equals(b) and a.num_rows == 500
    # the same memory, not copies
    assert [x.address for _, x in all_buffers(a)] == [x.address for _, x in all_buffers(b)]
    schema = pa.Schema._import_from_c_capsule(r.__arrow_c_schema__())
    assert schema == a.schema
    # a capsule is consumed once; an unconsumed one is released by its destructor
    unused = r.__arrow_c_stream__()
    del unused
    reader = pa.RecordBatchReader._import_from_c_capsule(r.__arrow_c_stream__(None))
    assert reader.read_all().equals(a)


def test_result_outlives_client_daemon_and_snapshot_file(fresh_daemon):
    c = ika.connect(fresh_daemon.path)
    r = c.pins()
    expect = pa.table(r).to_pylist()
    assert r.method == "zero_copy" and segment_files(fresh_daemon.path)
    c.close()
    assert c.closed
    fresh_daemon.stop()
    for f in segment_files(fresh_daemon.path):
        os.unlink(f)
    assert not segment_files(fresh_daemon.path)
    t = pa.table(r)  # read after all three are gone
    assert t.to_pylist() == expect
    assert_inside(t, snapshot_mappings(fresh_daemon.path))  # still the mapping
    import polars as pl
    assert pl.DataFrame(r).height == len(expect)


def test_dropping_every_reference_unmaps_the_snapshot(fresh_daemon):
    with ika.connect(fresh_daemon.path) as c:
        r = c.pins()
    version = r.version
    t = pa.table(r)
    del r
    assert snapshot_mappings(fresh_daemon.path)  # the table still holds it
    del t
    assert snapshot_mappings(fresh_daemon.path) == []


def test_repeated_queries_come_through_the_version_page_still_zero_copy(pin_daemon):
    with ika.connect(pin_daemon.path) as c, ika.connect(pin_daemon.path, watch=False) as plain:
        details = [c.pins(limit=100, offset=7).detail for _ in range(3)]
        assert details == ["fd", "held", "page"]
        r = c.pins(limit=100, offset=7, columns=["cid", "size_bytes"])
        ref = plain.pins(limit=100, offset=7, columns=["cid", "size_bytes"])
        assert (r.method, r.source, r.detail) == ("zero_copy", "arrow_ipc_daemon", "page")
        assert ref.detail == "fd"
        assert [plain.pins(limit=1).detail for _ in range(4)] == ["held"] * 4  # never "page"
        assert (r.version, r.rows, r.matched, r.table_rows) == \
            (ref.version, 100, 20000, 20000)
        t = pa.table(r)
        assert t.equals(pa.table(ref))
        assert_inside(t, snapshot_mappings(pin_daemon.path))
