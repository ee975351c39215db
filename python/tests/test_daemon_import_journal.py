"""Imports acknowledged from a journal (docs/architecture.md "Imports are acknowledged from a
journal"): an Arrow import into an empty table is committed as a version whose rows are in
journal/import.<version>.arrow, published from them, replied to, and applied to pins.db after.

kill -9 at each stop point of that path (the daemon stops itself there: IPFS_KIT_STOP_AT):
after a restart every acknowledged import is there in full, every segment validates, the read
paths agree, no version goes back, and changes(since 0) has every row. Also: a damaged journal
is an error naming it and its version (never a dropped import), a link planted where the journal
goes is refused, a file size limit while writing it fails the import with nothing published, a
write right after the import is ordered after it, and a direct read after a kill before the
apply shows the import. A journal a power cut lost is given up with `pin drop-import V` (the
refusals first), after which no read path serves its rows and changes since it are gone."""
import json
import os
import resource
import signal
import subprocess

import pytest

from daemon_util import Daemon, pid_alive, pid_stopped, wait_for

N = 20_000


@pytest.fixture(scope="module")
def pins_arrow(tmp_path_factory):
    d = tmp_path_factory.mktemp("journal")
    path = str(d / "pins.arrow")
    Daemon(path=str(d)).sample(path, N, fmt="arrow", seed=11)
    return path


def status_version(d):
    r = d.ok("daemon", "status", "--format", "json")
    s = json.loads(r.stdout)
    return s.get("snapshot_version", s.get("version"))


def journals(d):
    j = d.p("journal")
    return sorted(os.listdir(j)) if os.path.isdir(j) else []


def changes_rows(d, since, method=None):
    args = ["pin", "changes", "--since", since, "--format", "arrow"]
    if method:
        args += ["--method", method]
    import io

    import pyarrow.ipc as ipc
    r = d.ok(*args)
    return ipc.open_stream(io.BytesIO(r.stdout)).read_all()


def check_store(d, want):
    """Every segment validates; zero_copy, ipc_stream and traditional agree on `want` pins."""
    for f in d.snapshot_files():
        r = d.ik("arrow", "validate", d.p("snapshots", f))
        if r.returncode == 66 and not os.path.exists(d.p("snapshots", f)):
            continue  # pruned meanwhile
        assert r.returncode == 0, (f, r.stdout, r.stderr)
    counts = {m: d.count(method=m) for m in ("zero_copy", "ipc_stream", "traditional")}
    assert set(counts.values()) == {want}, counts
    cids = {m: d.cids(method=m) for m in ("zero_copy", "traditional")}
    assert cids["zero_copy"] == cids["traditional"]
    return cids["zero_copy"]


def import_stopped_at(d, point, path):
    """Runs `pin import path` against d's daemon restarted to stop at `point`; kills it there.
    Returns (the client's result, the dead PID)."""
    assert d.stop().returncode == 0
    pid = d.start(env={"IPFS_KIT_STOP_AT": point})
    imp = d.popen("pin", "import", path)
    try:
        # the points after the reply are reached after the client has its answer
        wait_for(lambda: pid_stopped(pid) or imp.poll() not in (None, 0), 60,
                 what=f"the daemon to reach {point}")
        assert pid_stopped(pid), (point, imp.poll(), imp.communicate())
        d.kill9()
        out, err = imp.communicate(timeout=30)
    finally:
        if imp.poll() is None:
            imp.kill()
            imp.wait()
    return (imp.returncode, out, err), pid


# (stop point, whether the import is committed there)
POINTS = [
    ("import-journal", False),       # journal written, its pending record not committed
    ("commit", False),               # the pending record's transaction about to commit
    ("import-pending", True),        # committed; published or not
    ("import-apply", True),          # published (and replied), not applied
    ("import-apply-commit", True),   # applied rows written, not committed
    ("import-unlink", True),         # applied and committed, the journal file still there
]


@pytest.mark.parametrize("point,committed", POINTS, ids=[p for p, _ in POINTS])
def test_kill_9_at_each_stop_point(daemons, pins_arrow, point, committed):
    d = daemons()
    (rc, out, err), dead = import_stopped_at(d, point, pins_arrow)
    if not committed:
        assert rc != 0 and b"imported" not in out, (out, err)
    assert not pid_alive(dead)
    d.start()
    want = N if committed else 0
    cids = check_store(d, want)
    assert journals(d) == []  # applied and removed, or never committed and removed at start
    assert status_version(d) == (1 if committed else 0)
    t = changes_rows(d, 0)
    assert t.num_rows == want
    if committed:
        assert set(t.column("cid").to_pylist()) == cids
        assert set(t.column("op").to_pylist()) == {"upsert"}
    # the store takes writes again, ordered after the import
    d.ok("pin", "add", "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
    assert status_version(d) == (2 if committed else 1)
    assert d.count() == want + 1
    d.assert_clean_log()
    # after a clean stop the direct path agrees (pins.db itself)
    assert d.stop().returncode == 0
    assert d.count(method="direct") == want + 1
    assert changes_rows(d, 0, method="direct").num_rows == want + 1


def test_direct_read_after_a_kill_before_the_apply_shows_the_import(daemons, pins_arrow):
    d = daemons()
    _, dead = import_stopped_at(d, "import-apply", pins_arrow)
    assert journals(d) == ["import.1.arrow"]  # acknowledged, not applied
    # published: the journal itself is the base segment (one file, two names), read-only
    j, seg = os.stat(d.p("journal", "import.1.arrow")), os.stat(d.p("snapshots",
                                                                   "pin_index.1.arrow"))
    assert (j.st_dev, j.st_ino) == (seg.st_dev, seg.st_ino) and j.st_nlink == 2
    assert j.st_mode & 0o777 == 0o400
    # daemon down: the direct readers apply it first
    assert d.count(method="direct") == N
    assert journals(d) == []
    assert changes_rows(d, 0, method="direct").num_rows == N
    d.start()
    check_store(d, N)
    assert status_version(d) == 1


@pytest.mark.parametrize("damage", ["flip", "truncate", "remove"])
def test_damaged_journal_is_an_error_naming_it(daemons, pins_arrow, damage):
    d = daemons()
    import_stopped_at(d, "import-apply", pins_arrow)
    path = d.p("journal", "import.1.arrow")
    with open(path, "rb") as f:
        good = f.read()
    os.chmod(path, 0o600)  # read-only as written (a segment's twin); the damage is the test's
    if damage == "flip":
        bad = bytearray(good)
        bad[len(bad) // 2] ^= 0x01
        with open(path, "wb") as f:
            f.write(bad)
    elif damage == "truncate":
        os.truncate(path, len(good) - 100)
    else:
        os.unlink(path)
    r = d.ik("daemon", "start", "--timeout", "20", binary=d.binary)
    assert r.returncode != 0
    msg = r.stdout.decode() + r.stderr.decode() + d.log()
    assert "import.1.arrow" in msg and "version 1" in msg, msg[-2000:]
    r = d.ik("pin", "list", "--method", "direct", "--limit", "1")
    assert r.returncode != 0
    assert b"import.1.arrow" in r.stderr and b"version 1" in r.stderr, r.stderr
    with open(path, "wb") as f:  # put back: nothing was dropped
        f.write(good)
    d.start()
    check_store(d, N)
    assert journals(d) == []


def test_a_link_planted_where_the_journal_goes_is_refused(daemons, pins_arrow, tmp_path):
    d = daemons()
    target = tmp_path / "target"
    os.makedirs(d.p("journal"), exist_ok=True)
    os.symlink(target, d.p("journal", "import.1.arrow"))
    r = d.ik("pin", "import", pins_arrow)
    assert r.returncode != 0
    assert b"import.1.arrow" in r.stderr, r.stderr
    assert not target.exists()
    assert d.count() == 0 and status_version(d) == 0
    os.unlink(d.p("journal", "import.1.arrow"))
    d.ok("pin", "import", pins_arrow)
    assert d.count() == N


def test_file_size_limit_while_writing_the_journal(daemons, pins_arrow):
    """RLIMIT_FSIZE below the journal's size: the write fails (EFBIG; SIGXFSZ is ignored by
    the daemon), the import fails naming the cause, nothing is published or committed."""
    d = daemons(start=False)
    limit = 1 << 20  # the journal of 20k sample pins is ~3.6 MB; the empty store's files less

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = subprocess.run([d.binary, "daemon", "start", "--timeout", "30"], env=d.env,
                       capture_output=True, preexec_fn=small_files, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr, d.log())
    d.known_pids.add(d.lock_pid())
    r = d.ik("pin", "import", pins_arrow)
    assert r.returncode != 0
    assert b"import journal" in r.stderr and b"too large" in r.stderr.lower(), r.stderr
    assert d.count() == 0 and status_version(d) == 0
    assert journals(d) == []
    assert d.ik("pin", "changes", "--since", "0").returncode == 0
    # a small import still fits
    small = d.p("small.arrow")
    d.sample(small, 100, fmt="arrow", seed=3)
    d.ok("pin", "import", small)
    assert d.count() == 100 and status_version(d) == 1


def test_a_write_right_after_the_import_is_ordered_after_it(daemons, pins_arrow):
    d = daemons()
    d.ok("pin", "import", pins_arrow)
    first = sorted(d.cids())[0]
    # at once, before the apply may have finished: the writer applies it first
    d.ok("pin", "rm", first)
    d.ok("pin", "add", "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
    assert status_version(d) == 3
    assert d.count() == N
    t = changes_rows(d, 1)
    ops = dict(zip(t.column("cid").to_pylist(), t.column("op").to_pylist()))
    assert ops == {first: "delete", "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n": "upsert"}
    assert changes_rows(d, 0).num_rows == N  # N - 1 imported left, one added
    assert d.stop().returncode == 0
    assert d.count(method="direct") == N
    assert changes_rows(d, 0, method="direct").num_rows == N


def test_changes_from_the_store_right_after_the_import(daemons, pins_arrow):
    """since 0 after a journalled import is answered by the store (the tail starts at the
    import's version): it waits for the apply and has every row, never an empty answer."""
    d = daemons()
    d.ok("pin", "add", "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
    d.ok("pin", "rm", "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")  # empty again
    d.ok("pin", "import", pins_arrow)
    t = changes_rows(d, 0)
    assert t.num_rows == N
    t = changes_rows(d, 2)
    assert t.num_rows == N
    check_store(d, N)


def test_an_apply_that_fails_is_retried_without_a_new_write(daemons, pins_arrow):
    """The apply meets pins.db locked by another process past SQLite's busy timeout (5 s): it
    fails, is logged, and is retried with a backoff; once the lock goes the import is applied
    with no write to prompt it, and reads through the daemon never stopped seeing it."""
    import sqlite3
    d = daemons()
    assert d.stop().returncode == 0
    pid = d.start(env={"IPFS_KIT_STOP_AT": "import-apply"})
    imp = d.popen("pin", "import", pins_arrow)
    wait_for(lambda: pid_stopped(pid), 60, what="the daemon to reach import-apply")
    db = sqlite3.connect(d.p("pins.db"), timeout=0)
    db.execute("BEGIN IMMEDIATE")  # the write lock, held while the daemon tries to apply
    try:
        os.kill(pid, signal.SIGCONT)
        imp.communicate(timeout=60)
        assert imp.returncode == 0  # acknowledged (published) before the apply
        wait_for(lambda: "applying import version 1" in d.log(), 30,
                 what="the apply to fail on the lock")
        assert journals(d) == ["import.1.arrow"]
        assert d.count() == N  # published: readers see it meanwhile
    finally:
        db.rollback()
        db.close()
    wait_for(lambda: journals(d) == [], 30, what="the retried apply")
    assert d.stop().returncode == 0
    assert d.count(method="direct") == N



@pytest.mark.parametrize("damage,point", [("remove", "import-pending"),
                                          ("truncate", "import-apply"),
                                          ("flip", "import-apply")])
def test_drop_import(daemons, pins_arrow, damage, point):
    _drop_import(daemons, pins_arrow, damage, point)


def _drop_import(daemons, pins_arrow, damage, point):
    """A power cut kept the pending record's WAL frame but not the journal's pages (simulated:
    kill -9 at the stop point, then the journal removed, truncated or altered): the store refuses
    to open naming `pin drop-import V`; the command is refused while the daemon holds the store,
    while the journal is valid, and for another version; then it drops the import in one
    transaction: the daemon starts, every read path serves pins.db without the import (not the
    snapshot published from the journal), the version goes on (never back), changes since an
    older version are gone, and a new import works."""
    import sqlite3
    d = daemons()
    cid = "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"
    d.ok("pin", "add", cid)
    d.ok("pin", "rm", cid)  # versions 1, 2; the table empty again: the import is journalled
    assert d.stop().returncode == 0
    pid = d.start(env={"IPFS_KIT_STOP_AT": point})
    imp = d.popen("pin", "import", pins_arrow)
    try:
        wait_for(lambda: pid_stopped(pid), 60, what=f"the daemon to reach {point}")
        # the daemon holds the store (stopped, pending record committed): refused, nothing done
        r = d.ik("pin", "drop-import", "3")
        assert r.returncode == 75, (r.returncode, r.stdout, r.stderr)
        assert f"held by PID {pid}".encode() in r.stderr, r.stderr
        assert r.stdout == b""
        d.kill9()
        imp.communicate(timeout=30)
    finally:
        if imp.poll() is None:
            imp.kill()
            imp.wait()
    assert journals(d) == ["import.3.arrow"]
    # the journal is there and valid: nothing to drop (and the check applied nothing)
    r = d.ik("pin", "drop-import", "3")
    assert r.returncode == 65 and b"present and valid" in r.stderr, (r.returncode, r.stderr)
    assert journals(d) == ["import.3.arrow"]
    db = sqlite3.connect(d.p("pins.db"))
    assert db.execute("SELECT version, rows FROM pending_imports").fetchall() == [(3, N)]
    assert db.execute("SELECT count(*) FROM pins").fetchone() == (0,)
    db.close()
    # the power cut: the journal's pages lost
    path = d.p("journal", "import.3.arrow")
    os.chmod(path, 0o600)  # read-only as written; the damage is the test's
    if damage == "remove":
        os.unlink(path)
    elif damage == "truncate":
        os.truncate(path, 0)
    else:
        with open(path, "r+b") as f:
            f.seek(os.path.getsize(path) // 2)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 1]))
    segs_before = d.snapshot_files()
    # the refusal names the way out, exactly
    r = d.ik("daemon", "start", "--timeout", "20", binary=d.binary)
    assert r.returncode != 0
    msg = r.stdout.decode() + r.stderr.decode() + d.log()
    assert f"ipfs-kit --path {d.path} pin drop-import 3" in msg, msg[-2000:]
    r = d.ik("pin", "list", "--method", "direct", "--limit", "1")
    assert r.returncode != 0 and b"pin drop-import 3" in r.stderr, r.stderr
    # hostile arguments: another version, not a number, none, two
    r = d.ik("pin", "drop-import", "2")
    assert r.returncode == 65, (r.returncode, r.stderr)
    assert b"version 2 is not a pending import" in r.stderr and b"version 3" in r.stderr, r.stderr
    for bad in (["abc"], ["-1"], ["0"], ["3x"], [], ["3", "4"], ["99999999999999999999999"]):
        r = d.ik("pin", "drop-import", *bad)
        assert r.returncode == 2, (bad, r.returncode, r.stderr)
    db = sqlite3.connect(d.p("pins.db"))
    assert db.execute("SELECT version FROM pending_imports").fetchall() == [(3,)]
    db.close()
    # the drop
    r = d.ok("pin", "drop-import", "3")
    out = r.stdout.decode()
    assert f"dropped import version 3: {N} pins" in out, out
    assert "now at version 4" in out, out
    why = {"remove": "missing", "truncate": "truncated", "flip": "checksum"}[damage]
    assert why in out, out
    assert f"pin drop-import: dropped import version 3: {N} pins" in d.log(), d.log()[-2000:]
    assert journals(d) == []
    r = d.ik("pin", "drop-import", "3")  # once only
    assert r.returncode == 65 and b"no import is pending" in r.stderr, (r.returncode, r.stderr)
    db = sqlite3.connect(d.p("pins.db"))
    assert db.execute("SELECT count(*) FROM pending_imports").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM pins").fetchone() == (0,)
    assert db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone() == (4,)
    db.close()
    # the snapshot published from the lost journal is on disk still; neither the direct path
    # (daemon down) nor the daemon's start may serve it
    assert segs_before, "the import's snapshot was published before the power cut"
    assert d.count(method="direct") == 0
    d.start()
    assert status_version(d) == 4  # on, never back to 3 or before
    check_store(d, 0)
    assert cid not in d.cids()
    for since in (0, 2, 3):  # a reader who saw version 3 (or older) re-reads the table
        r = d.ik("pin", "changes", "--since", since)
        assert r.returncode == 65 and b"gone" in r.stderr, (since, r.returncode, r.stderr)
    assert changes_rows(d, 4).num_rows == 0
    # a new import works, after the drop
    d.ok("pin", "import", pins_arrow)
    assert status_version(d) == 5
    check_store(d, N)
    assert changes_rows(d, 4).num_rows == N
    d.assert_clean_log()
    assert d.stop().returncode == 0
    assert d.count(method="direct") == N
    r = d.ik("pin", "changes", "--since", "3", "--method", "direct")
    assert r.returncode == 65 and b"gone" in r.stderr, r.stderr
