"""The zero-copy path, proven from Python through libipfskit.so (ctypes): a query's
ArrowArrayStream, imported into pyarrow, has every buffer inside the process's mapping of
the daemon's snapshot file snapshots/pin_index.<version>.arrow, and fetching the whole
1M-pin table grows resident memory by less than 1 MB."""
import gc
import os
import re

import pytest

from daemon_util import Client, Daemon, mappings, raw_request

ROWS = 1_000_000


@pytest.fixture(scope="module")
def big():
    d = Daemon()
    try:
        src = d.sample(os.path.join(d.path, "p.arrow"), ROWS, fmt="arrow", seed=11)
        d.ok("pin", "import", src, timeout=300)  # no daemon yet: straight into the store
        os.unlink(src)
        d.start()
        yield d
    finally:
        d.cleanup()


def snapshot_mappings(version):
    """(start, end) of every mapping of pin_index.<version>.arrow in this process."""
    return mappings(re.compile(r"/snapshots/pin_index\.%d\.arrow$" % version))


def vm_rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def all_buffers(arr):
    """Every buffer of an array: its own, its children's (buffers() covers those) and its
    dictionary's."""
    out = [b for b in arr.buffers() if b is not None]
    if hasattr(arr, "dictionary"):
        out += all_buffers(arr.dictionary)
    return out


def assert_in_mapping(batch, maps):
    n = 0
    for name, col in zip(batch.schema.names, batch.columns):
        for buf in all_buffers(col):
            if buf.size == 0:
                continue
            lo, hi = buf.address, buf.address + buf.size
            assert any(a <= lo and hi <= b for a, b in maps), \
                f"column {name}: buffer {lo:#x}+{buf.size} is outside the snapshot mapping {maps}"
            n += 1
    return n


def test_whole_table_is_zero_copy_and_costs_no_memory(big):
    with Client(big.path) as c:
        meta, reader = c.query(limit=1)  # warm up code paths and pyarrow's import machinery
        reader.read_all()
        del reader
        gc.collect()

        rss0 = vm_rss_kb()
        meta, reader = c.query()
        batch = reader.read_next_batch()
        rss1 = vm_rss_kb()

        assert meta["method"] == "zero_copy" and meta["source"] == "arrow_ipc_daemon"
        assert meta["rows"] == meta["table_rows"] == meta["matched"] == ROWS
        assert batch.num_rows == ROWS
        maps = snapshot_mappings(meta["version"])
        assert maps, "the snapshot file is not mapped"
        assert sum(b - a for a, b in maps) >= os.path.getsize(
            big.p("snapshots", f"pin_index.{meta['version']}.arrow"))
        assert assert_in_mapping(batch, maps) >= 12  # every column has data buffers
        assert rss1 - rss0 < 1024, f"RSS grew {rss1 - rss0} kB fetching {ROWS} pins"

        # the mapping lives as long as the arrays, and goes with the last of them
        col = batch.column("cid")
        del batch
        with pytest.raises(StopIteration):
            reader.read_next_batch()
        del reader
        gc.collect()
        assert snapshot_mappings(meta["version"]), "unmapped while a column is alive"
        assert col[ROWS - 1].as_py().startswith(("Qm", "b"))
        del col
        gc.collect()
    # the client keeps its last mapping of each table for the next query (it names it in
    # "have"); the mapping goes once the arrays and the client have let go
    assert snapshot_mappings(meta["version"]) == []


def test_projection_offset_and_limit_are_slices_of_the_mapping(big):
    with Client(big.path) as c:
        meta, reader = c.query(columns=["size_bytes", "cid", "pin_type"], offset=123_456,
                               limit=1000)
        batch = reader.read_next_batch()
        assert meta["method"] == "zero_copy"
        assert batch.schema.names == ["size_bytes", "cid", "pin_type"]
        assert batch.num_rows == meta["rows"] == 1000 and meta["matched"] == ROWS
        assert assert_in_mapping(batch, snapshot_mappings(meta["version"])) >= 4
        # the slice starts at the offset: its first row is row 123456 of the whole table
        whole_meta, whole = c.query(columns=["cid"], offset=123_456, limit=1)
        assert whole.read_all().column("cid")[0] == batch.column("cid")[0]
        del batch, reader, whole


def raw_query(d, have=None):
    """One query on a raw socket: (reply header, the manifest's descriptor or None). The
    segments' descriptors that follow the manifest's on the same frame are counted and closed."""
    req = {"v": 1, "op": "query", "table": "pin_index", "limit": 1}
    if have is not None:
        req["have"] = have
    hdr, fds = raw_request(d.path, req)
    if fds:
        assert len(fds) == hdr["segments"] + 1
        for f in fds[1:]:
            os.close(f)
    return hdr, (fds[0] if fds else None)


def test_have_spares_the_descriptor_when_the_client_holds_the_snapshot(big):
    hdr, fd = raw_query(big)
    assert hdr["method"] == "zero_copy" and "held" not in hdr and fd is not None
    st = os.fstat(fd)
    os.close(fd)
    have = {"version": hdr["version"], "dev": st.st_dev, "ino": st.st_ino}

    held, fd = raw_query(big, have)
    assert fd is None, "the daemon passed the snapshot the client said it holds"
    assert held["held"] is True
    keys = ("method", "transport", "table", "version", "table_rows", "segments")
    assert {k: held[k] for k in keys} == {k: hdr[k] for k in keys}

    # any other file, or another version of it: the descriptor comes as before
    for other in ({**have, "ino": have["ino"] + 1}, {**have, "version": have["version"] + 1},
                  {**have, "dev": have["dev"] + 1}):
        again, fd = raw_query(big, other)
        assert "held" not in again and fd is not None
        assert os.fstat(fd).st_ino == st.st_ino
        os.close(fd)


def test_have_is_refused_when_malformed(big):
    hdr, fd = raw_query(big, {"version": 1, "dev": 1})
    assert fd is None and hdr["ok"] is False and hdr["error"]["code"] == "bad_request"
    assert '"have.ino"' in hdr["error"]["message"]
