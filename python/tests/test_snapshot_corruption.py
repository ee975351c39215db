"""Damaged snapshot files (issue 13, item 4). A snapshot under snapshots/ is derived data that
nothing guards between two runs of the daemon: a bad disk, a torn copy, a stray write. Whatever
the damage, the daemon at start and the daemon-down `direct` path validate the snapshot of the
store's generation fully before they use it; the daemon rebuilds a damaged one from SQLite and
logs why, `direct` reads SQLite and says why, and no command crashes. Results always equal
SQLite's.

Each damage is tried with a daemon restart (the ASan+UBSan daemon, so a bad read is caught
even where it would not crash) and with the daemon down."""
import io
import os
import shutil

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from conftest import ASAN_BIN

ROWS = 300


def snapshot_path(d, table="pin_index"):
    """The newest snapshot of `table` (older ones may wait for their pruning)."""
    names = [f for f in d.snapshot_files() if f.startswith(table + ".") and f.endswith(".arrow")]
    assert names
    return d.p("snapshots", max(names, key=lambda f: int(f.split(".")[1])))


def buffer_span(path, column, index):
    """(file offset, size) of buffer `index` of column `column` in the snapshot at `path`."""
    with open(path, "rb") as f:
        data = f.read()
    buf = pa.py_buffer(data)
    batch = ipc.open_file(pa.BufferReader(buf)).get_batch(0)
    b = batch.column(column).buffers()[index]
    return b.address - buf.address, b.size


def patch(path, offset, data):
    os.chmod(path, 0o600)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
    os.chmod(path, 0o400)


def offsets_backwards(d, path, old):
    off, _ = buffer_span(path, "name", 1)
    with open(path, "rb") as f:
        f.seek(off + 4 * 10)
        o10 = int.from_bytes(f.read(4), "little", signed=True)
    # value 10 ends 40 bytes before it starts: a negative length
    patch(path, off + 4 * 11, (o10 - 40).to_bytes(4, "little", signed=True))


def offsets_past_end(d, path, old):
    off, _ = buffer_span(path, "cid", 1)
    patch(path, off + 4 * 7, (0x7FFFFF00).to_bytes(4, "little"))


def truncated(d, path, old):
    size = os.path.getsize(path)
    os.chmod(path, 0o600)
    os.truncate(path, size * 6 // 10)
    os.chmod(path, 0o400)


def zeroed_page(d, path, old):
    off, size = buffer_span(path, "cid", 1)
    page = (off + size // 2) // 4096 * 4096
    patch(path, page, bytes(4096))


def older_version(d, path, old):
    """An older generation's file under the current generation's name (a stray copy): valid
    Arrow, but its metadata names another version, and it lacks the newest pin."""
    os.chmod(path, 0o600)
    os.unlink(path)
    shutil.copyfile(old, path)
    os.chmod(path, 0o400)


DAMAGE = [offsets_backwards, offsets_past_end, truncated, zeroed_page, older_version]


@pytest.fixture
def store(daemons, tmp_path):
    """A daemon-made store of ROWS sample pins plus one added pin; returns (daemon, a copy of
    the snapshot before the last pin), the daemon stopped."""
    d = daemons(asan=os.access(ASAN_BIN, os.X_OK), start=True)
    src = d.sample(str(tmp_path / "pins.jsonl"), ROWS)
    d.ok("pin", "import", src)
    old = str(tmp_path / "older.arrow")
    shutil.copyfile(snapshot_path(d), old)
    d.ok("pin", "add", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
         "--name", "file-last.bin")
    assert d.stop().returncode == 0
    return d, old


def rows(d, *args, binary=None):
    r = d.ik("pin", "list", *args, "--format", "arrow", binary=binary)
    assert r.returncode == 0, (args, r.returncode, r.stderr.decode()[-3000:])
    t = ipc.open_stream(io.BytesIO(r.stdout)).read_all()
    return sorted(t.to_pylist(), key=lambda x: x["cid"]), r.stderr.decode()


def sqlite_rows(d, *args):
    return rows(d, "--method", "direct", "--source", "sqlite", *args)[0]


FILTERS = [(), ("--name-contains", "0001"), ("--name-contains", "last")]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_daemon_rebuilds_a_damaged_snapshot_at_start(store, damage):
    d, old = store
    path = snapshot_path(d)
    version = os.path.basename(path).split(".")[1]
    damage(d, path, old)
    d.start()
    log = d.log()
    assert f"snapshot of pin_index version {version} is damaged, rebuilding it from the store" \
        in log, log[-3000:]
    assert os.path.basename(path) in log
    for args in FILTERS:
        got, _ = rows(d, *args)
        assert got == sqlite_rows(d, *args), args
    assert len(rows(d)[0]) == ROWS + 1
    d.ok("pin", "list", "--name-contains", "0001")  # the text printer, on the rebuilt file
    d.assert_clean_log()


@pytest.mark.parametrize("tables", [["vfs_stats"], ["pin_index", "vfs_stats"]], ids="+".join)
def test_daemon_rebuilds_every_damaged_table(store, tables):
    d, old = store
    paths = {t: snapshot_path(d, t) for t in tables}
    for path in paths.values():
        truncated(d, path, old)
    d.start()
    log = d.log()
    for t, path in paths.items():
        assert f"snapshot of {t} version" in log and os.path.basename(path) in log, log[-3000:]
    r = d.ok("vfs", "stats", "--format", "arrow")
    want = d.ok("vfs", "stats", "--format", "arrow", "--method", "direct", "--source", "sqlite")
    got, want = (ipc.open_stream(io.BytesIO(x.stdout)).read_all() for x in (r, want))
    assert got.to_pylist() == want.to_pylist()
    assert rows(d)[0] == sqlite_rows(d)
    d.assert_clean_log()


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_direct_reads_sqlite_past_a_damaged_snapshot(store, damage):
    d, old = store
    path = snapshot_path(d)
    damage(d, path, old)
    binaries = [None] + ([ASAN_BIN] if os.access(ASAN_BIN, os.X_OK) else [])
    for binary in binaries:
        for args in FILTERS:
            got, err = rows(d, "--method", "direct", *args, binary=binary)
            assert got == sqlite_rows(d, *args), args
            assert "warning: the pin_index snapshot is damaged, read from SQLite instead" in err
            assert os.path.basename(path) in err
        # the text printer too, and the auto method (no daemon: direct)
        r = d.ik("pin", "list", "--name-contains", "0001", binary=binary)
        assert r.returncode == 0 and b"direct via direct_pin_index" in r.stdout, r.stderr
        assert b"snapshot is damaged" in r.stderr


def test_direct_uses_a_sound_snapshot_without_a_warning(store):
    d, _ = store
    got, err = rows(d, "--method", "direct")
    assert "warning" not in err and "direct via direct_pin_index" in err
    assert got == sqlite_rows(d)
