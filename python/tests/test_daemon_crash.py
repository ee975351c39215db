"""kill -9 of the daemon in the middle of a large import, and in the middle of the snapshot
build that follows it: after a restart (which takes over the dead daemon's lock) the pin count
is the old one or old + all (never partial), every pin committed before is there, every file
under snapshots/ passes `ipfs-kit arrow validate`, and queries work.

The instant of the kill is not raced: the daemon runs with IPFS_KIT_STOP_AT set to a stop point
(lib/arrow/stop_point.c) and stops itself there (SIGSTOP); the test waits for that state, checks
what is on disk, and kills it."""
import os
import shutil
import subprocess
import tempfile

import pytest

from daemon_util import Daemon, pid_alive, pid_stopped, wait_for

N = 200_000
OLD = 2000


@pytest.fixture(scope="module")
def big_jsonl():
    tmp = tempfile.mkdtemp(prefix="ikd", dir="/tmp")
    path = os.path.join(tmp, "big.jsonl")
    Daemon(path=tmp).sample(path, N, seed=9)
    yield path
    shutil.rmtree(tmp, ignore_errors=True)


def loaded(daemons, tmp_path):
    d = daemons()
    d.ok("pin", "import", d.sample(tmp_path / "old.jsonl", OLD, seed=2))
    old = d.cids()
    assert len(old) == OLD
    return d, old


def restart_and_check(d, old, dead_pid, expect_counts):
    assert d.lock_pid() == dead_pid and not pid_alive(dead_pid)  # a stale lock is left
    assert d.ik("daemon", "status").returncode == 3
    pid = d.start()  # takes the stale lock over
    assert pid != dead_pid and d.lock_pid() == pid
    cids = d.cids()
    assert len(cids) in expect_counts, f"partial import: {len(cids)} pins"
    assert old <= cids, f"{len(old - cids)} committed pins lost"
    files = d.snapshot_files()
    assert any(f.startswith("pin_index.") for f in files)
    for f in files:
        r = d.ik("arrow", "validate", d.p("snapshots", f))
        if r.returncode == 66 and not os.path.exists(d.p("snapshots", f)):
            continue  # pruned meanwhile: the background vfs_stats rebuild replaced it
        assert r.returncode == 0, (f, files, r.stdout, r.stderr)
    table, summary = d.query_arrow("pin", "list", "--limit", "10", "--offset", "1")
    assert table.num_rows == min(10, len(cids) - 1)
    assert "zero_copy via arrow_ipc_daemon" in summary
    d.assert_clean_log()
    return len(cids)


def stopped_at(d, point):
    """Restarts d's daemon so that it stops itself at `point`; returns its PID."""
    assert d.stop().returncode == 0
    return d.start(env={"IPFS_KIT_STOP_AT": point})


def wait_stopped(d, pid, imp):
    wait_for(lambda: pid_stopped(pid) or imp.poll() is not None, 60,
             what=f"the daemon (PID {pid}) to reach its stop point")
    assert imp.poll() is None, (imp.returncode, imp.communicate())
    assert pid_stopped(pid)


def test_kill_9_during_a_large_import(daemons, tmp_path, big_jsonl):
    d, old = loaded(daemons, tmp_path)
    pid = stopped_at(d, "commit")
    imp = d.popen("pin", "import", big_jsonl)
    try:
        wait_stopped(d, pid, imp)  # every row inserted, the transaction about to commit
        dead = d.kill9()
        out, err = imp.communicate(timeout=30)
    finally:
        if imp.poll() is None:
            imp.kill()
            imp.wait()
    assert dead == pid
    assert imp.returncode != 0 and b"imported" not in out, (out, err)
    assert err.strip(), "the client said nothing about the failed import"
    n = restart_and_check(d, old, dead, {OLD, OLD + N})
    assert n == OLD  # killed before the commit: nothing of it
    # the store is still writable
    d.ok("pin", "add", "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
    assert d.count() == OLD + 1


def test_kill_9_while_the_snapshot_is_being_written(daemons, tmp_path, big_jsonl):
    d, old = loaded(daemons, tmp_path)
    pid = stopped_at(d, "publish")
    snaps, spares = d.p("snapshots"), d.p("spares")

    def building():  # a temp file written, or a spare file (lib/snapshot/spare.c) taken for it
        return any(".arrow.tmp." in f for f in os.listdir(snaps)) or (
            os.path.isdir(spares) and any(os.path.getsize(os.path.join(spares, f)) > 0
                                          for f in os.listdir(spares)))

    imp = d.popen("pin", "import", big_jsonl)
    try:
        wait_stopped(d, pid, imp)
        assert building(), os.listdir(snaps)  # written in full under its temp name
        dead = d.kill9()
        out, err = imp.communicate(timeout=30)
    finally:
        if imp.poll() is None:
            imp.kill()
            imp.wait()
    assert dead == pid
    # the reply waits for the snapshot: the client saw the daemon go, not a success
    assert imp.returncode != 0 and b"imported" not in out, (out, err)
    # the import had committed (the snapshot build follows the commit)
    n = restart_and_check(d, old, dead, {OLD + N})
    assert n == OLD + N
    assert not building(), d.snapshot_files()


def test_restart_after_kill_9_while_idle(daemons):
    d = daemons()
    d.ok("pin", "add", "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
    dead = d.kill9()
    assert os.path.exists(d.sock)  # left behind: nothing answers on it
    r = d.ik("pin", "list", "--limit", "1")  # the direct path serves meanwhile
    assert r.returncode == 0 and "direct via direct_pin_index" in r.stdout.decode()
    restart_and_check(d, {"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"}, dead, {1})
    # and the restarted daemon takes writes again
    r = subprocess.run([d.binary, "daemon", "status"], env=d.env, capture_output=True)
    assert r.returncode == 0
