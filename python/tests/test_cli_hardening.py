"""The command line when things go wrong: a stopped daemon (reads fall back to `direct` and say
why, writes give up within --timeout with exit 75), a daemon that is still starting, a data
directory of another user, out-of-range values, a full disk; `--help` on every subcommand and
`daemon status` in one form at a time. Exit codes are the ones README.md lists."""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from daemon_util import Client, cid_v0, pid_stopped, wait_for

SUBCOMMANDS = [
    ("arrow", "validate"), ("arrow", "convert"), ("arrow", "cat"), ("arrow", "schema"),
    ("arrow", "sample-pins"), ("daemon", "run"), ("daemon", "start"), ("daemon", "stop"),
    ("daemon", "status"), ("pin", "add"), ("pin", "rm"), ("pin", "touch"), ("pin", "import"),
    ("pin", "list"), ("pin", "drop-import"), ("metrics", None), ("vfs", "stats"), ("backend", "health"),
]


def test_help_on_every_subcommand(daemons):
    d = daemons(start=False)
    for cmd, sub in SUBCOMMANDS:
        words = [cmd] + ([sub] if sub else [])
        for flag in ("--help", "-h"):
            r = d.ik(*words, flag)
            out = r.stdout.decode()
            assert r.returncode == 0, (words, flag, r.stderr)
            assert r.stderr == b"", (words, flag, r.stderr)
            assert out.startswith("usage: ipfs-kit " + " ".join(words)), (words, out)
            if sub == "drop-import":  # the daemon stopped: a direct writer, no timeout
                assert "--timeout" not in out, (words, out)
            elif cmd in ("pin", "metrics", "vfs", "backend") or sub in ("start", "stop", "status"):
                assert "--timeout SECONDS" in out, (words, out)  # talks to the daemon
    for words in (["vfs"], ["metrics", "--format", "json"]):  # one usage: with its options
        r = d.ik(*words, "-h")
        assert r.returncode == 0 and b"--method" in r.stdout, (words, r.stdout)
    # after other arguments too, and for a command group
    r = d.ik("pin", "add", cid_v0(1), "--name", "x", "--help")
    assert r.returncode == 0 and b"--replication" in r.stdout and b"--timeout" in r.stdout
    r = d.ik("pin", "-h")
    assert r.returncode == 0
    assert all(f"ipfs-kit pin {s}".encode() in r.stdout
               for s in ("add", "rm", "touch", "import", "list"))
    assert not os.path.exists(d.p("pins.db"))  # help ran nothing
    assert d.ik("pin", "frob", "--help").returncode == 2  # an unknown subcommand stays an error


def test_daemon_status_prints_a_line_or_one_json_object(daemons):
    d = daemons(start=False)
    r = d.ik("daemon", "status", "--format", "json")
    assert r.returncode == 3 and json.loads(r.stdout)["state"] == "not_running"
    pid = d.start()
    r = d.ok("daemon", "status")
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"running: PID {pid},"), lines
    r = d.ok("daemon", "status", "--format", "json")
    st = json.loads(r.stdout)  # the whole output is one object
    assert st["state"] == "running" and st["pid"] == pid and "snapshot_version" in st
    assert d.ik("daemon", "status", "--format", "xml").returncode == 2


@contextlib.contextmanager
def stopped(d):
    """The daemon SIGSTOPped for the block, and continued after it whatever happens."""
    pid = d.lock_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: pid_stopped(pid), 10, what="the daemon to stop")
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


def timed(d, *args):
    t0 = time.monotonic()
    r = d.ik(*args, timeout=120)
    return r, time.monotonic() - t0


def test_a_read_from_a_stopped_daemon_falls_back_to_direct_and_says_why(daemons):
    d = daemons()
    d.ok("pin", "add", cid_v0(1), "--name", "before")
    with stopped(d) as pid:
        r, took = timed(d, "pin", "list", "--timeout", "1", "--format", "json")
        assert r.returncode == 0, r.stderr
        assert took < 10, took  # bounded by the timeout given, not 30 s
        assert [x["cid"] for x in json.loads(r.stdout)] == [cid_v0(1)]
        err = r.stderr.decode()
        assert f"the daemon (PID {pid}) did not answer within 1 s" in err, err
        assert "direct via direct_pin_index" in err, err

        with Client(d.path, timeout_ms=500) as c:  # the library says it in the result
            t0 = time.monotonic()
            meta, reader = c.query()
            assert time.monotonic() - t0 < 10
            assert reader.read_all().num_rows == 1
        assert meta["method"] == "direct", meta
        assert f"daemon (PID {pid}) did not answer within 0.5 s" in meta["reason"], meta

        import ipfs_kit_arrow as ika  # and the Python binding
        with ika.connect(d.path, timeout=0.5, watch=False) as py:
            res = py.pins()
        assert res.method == "direct" and len(res) == 1, res
        assert f"daemon (PID {pid}) did not answer within 0.5 s" in res.reason, res.reason

        # a table only the daemon has, or a method that needs it: exit 75, not a fallback
        for args in (["metrics"], ["pin", "list", "--method", "zero_copy"]):
            r, took = timed(d, *args, "--timeout", "1")
            assert r.returncode == 75 and took < 10, (args, r.returncode, took)
            assert f"daemon (PID {pid}) did not answer within 1 s" in r.stderr.decode()
        r, took = timed(d, "daemon", "status", "--timeout", "1", "--format", "json")
        assert r.returncode == 75 and took < 10
        assert json.loads(r.stdout) == {"state": "not_answering", "pid": pid, "path": d.path}
    with Client(d.path) as c:
        meta, _ = c.query()
    assert meta["method"] == "zero_copy" and meta["reason"] == ""


def test_a_write_to_a_stopped_daemon_gives_up_within_the_timeout_with_75(daemons, tmp_path):
    d = daemons()
    src = tmp_path / "p.jsonl"
    src.write_text(json.dumps({"Cid": cid_v0(9), "Name": "n", "Type": "direct"}) + "\n")
    with stopped(d) as pid:
        for args in (["pin", "add", cid_v0(1), "--name", "late"], ["pin", "rm", cid_v0(2)],
                     ["pin", "touch", cid_v0(2)], ["pin", "import", src]):
            r, took = timed(d, *args, "--timeout", "1")
            err = r.stderr.decode()
            assert r.returncode == 75, (args, r.returncode, err)
            assert took < 10, (args, took)  # not the hour a write used to wait
            assert f"daemon (PID {pid}) is not answering" in err, err
            assert "may still be applied when it resumes" in err, err
    # ...and it is: the write the daemon had received commits once it runs again
    wait_for(lambda: cid_v0(1) in d.cids(), 30, what="the timed-out pin add to land")
    r = d.ok("pin", "list", "--cid", cid_v0(1), "--format", "json")
    assert json.loads(r.stdout)[0]["name"] == "late"


def test_a_second_start_waits_for_a_starting_daemon_instead_of_saying_kill(daemons):
    d = daemons(start=False)
    env = dict(d.env, IPFS_KIT_STOP_AT="publish")  # stops at every snapshot it publishes
    first = subprocess.Popen([d.binary, "daemon", "start", "--timeout", "60"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: d.lock_pid() and pid_stopped(d.lock_pid()), 30,
                 what="the starting daemon to stop before it listens")
        pid = d.lock_pid()
        d.known_pids.add(pid)
        r, took = timed(d, "daemon", "start", "--timeout", "1")
        err = r.stderr.decode()
        assert r.returncode == 75 and took < 10, (r.returncode, took, err)
        assert f"a daemon (PID {pid}) is starting" in err, err
        assert "still starting" in err and "kill" not in err, err

        second = d.popen("daemon", "start", "--timeout", "60")

        def continued():  # let the first daemon past each stop until it answers
            if pid_stopped(pid):
                os.kill(pid, signal.SIGCONT)
            return second.poll() is not None
        wait_for(continued, 60, what="the second start to return")
        out, err = second.communicate()
        assert second.returncode == 0, err
        assert f"already running (PID {pid})".encode() in out, out
        assert b"kill" not in err, err
        wait_for(lambda: continued() or first.poll() is not None, 60, what="the first start")
        assert first.wait() == 0
    finally:
        if d.lock_pid():
            os.kill(d.lock_pid(), signal.SIGCONT)
        first.kill()
        first.communicate()


def test_another_users_data_directory_is_named_as_the_problem(daemons):
    d = daemons()
    if os.geteuid() == 0:  # as nobody against root's directory and running daemon
        bindir = tempfile.mkdtemp(prefix="ikbin", dir="/tmp")
        try:
            os.chmod(bindir, 0o755)
            binary = shutil.copy(d.binary, os.path.join(bindir, "ipfs-kit"))
            os.chmod(binary, 0o755)
            prefix, path, owner = ["setpriv", "--reuid=nobody", "--regid=nogroup",
                                   "--clear-groups", binary], d.path, "root (uid 0)"
            check_foreign(prefix, path, owner)
            check_foreign_socket(prefix, bindir)
        finally:
            shutil.rmtree(bindir)
    else:  # a directory root owns
        check_foreign([d.binary], "/", "root (uid 0)")
    d.ok("pin", "add", cid_v0(1))  # the owner is unaffected


def check_foreign(prefix, path, owner):
    env = dict(os.environ, IPFS_KIT_PATH=path)
    for args in (["pin", "list"], ["pin", "add", cid_v0(1)], ["pin", "rm", cid_v0(1)],
                 ["pin", "import", "-"], ["metrics"], ["daemon", "status"],
                 ["daemon", "start"], ["daemon", "stop"]):
        r = subprocess.run(prefix + args, env=env, capture_output=True, timeout=60, input=b"")
        err = r.stderr.decode()
        assert r.returncode == 78, (args, r.returncode, err)
        assert f"the data directory {path} belongs to {owner}, not to you" in err, (args, err)


def check_foreign_socket(prefix, parent):
    """nobody's own directory, with a daemon socket of root's in it (a root daemon started on
    it): the socket's owner is named, not "permission denied connecting"."""
    import pwd
    import socket
    mine = os.path.join(parent, "mine")
    os.mkdir(mine, 0o700)
    nobody = pwd.getpwnam("nobody")
    os.chown(mine, nobody.pw_uid, nobody.pw_gid)
    env = dict(os.environ, IPFS_KIT_PATH=mine)
    r = subprocess.run(prefix + ["pin", "add", cid_v0(1)], env=env, capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr  # a directory of one's own works
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(os.path.join(mine, "daemon.sock"))  # root's, as a root daemon's would be
        s.listen(1)
        for args in (["pin", "list"], ["pin", "add", cid_v0(2)], ["daemon", "status"]):
            r = subprocess.run(prefix + args, env=env, capture_output=True, timeout=60)
            err = r.stderr.decode()
            assert r.returncode == 78, (args, r.returncode, err)
            assert f"the daemon socket {mine}/daemon.sock belongs to root (uid 0)" in err, err
    finally:
        s.close()


def test_out_of_range_values_are_refused_with_a_message(daemons):
    d = daemons()
    for opt, bad in (("--size", "-5"), ("--replication", "-1"), ("--replication", "3000000000"),
                     ("--size", "x"), ("--timeout", "0"), ("--timeout", "-1")):
        r = d.ik("pin", "add", cid_v0(1), opt, bad)
        err = r.stderr.decode()
        assert r.returncode == 2, (opt, bad, r.returncode)
        assert opt in err and f"'{bad}'" in err, (opt, bad, err)
    assert d.cids() == set()  # nothing stored, not a null size


@contextlib.contextmanager
def small_disk():
    """A 4 MB tmpfs (needs mount rights; root here)."""
    mnt = tempfile.mkdtemp(prefix="ikfull", dir="/tmp")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt],
                       capture_output=True)
    assert r.returncode == 0, f"mounting a small tmpfs failed: {r.stderr}"
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt])
        os.rmdir(mnt)


def fill(mnt):
    with open(os.path.join(mnt, "filler"), "wb") as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
                f.flush()


def test_a_full_disk_exits_74_saying_disk_full(daemons, tmp_path):
    from daemon_util import Daemon
    src = tmp_path / "p.jsonl"
    with open(src, "w") as f:
        for i in range(20000):
            f.write(json.dumps({"Cid": cid_v0(i), "Name": f"pin {i}" * 4,
                                "Type": "recursive"}) + "\n")
    with small_disk() as mnt:
        d = Daemon(binary=daemons(start=False).binary, path=os.path.join(mnt, "d"))
        try:
            d.start()
            fill(mnt)
            for args in (["pin", "import", src], ["pin", "add", cid_v0(30000)]):
                r = d.ik(*args)
                assert r.returncode == 74, (args, r.returncode, r.stderr)
                assert "disk full" in r.stderr.decode(), r.stderr
            d.ok("daemon", "stop")
            r = d.ik("pin", "import", src)  # the same without a daemon
            assert r.returncode == 74 and "disk full" in r.stderr.decode(), r.stderr
        finally:
            d.cleanup()


def test_the_same_failure_exits_with_the_same_code_in_every_command(daemons, tmp_path):
    d = daemons(start=False)
    src = tmp_path / "p.jsonl"
    src.write_text("")
    writes = (["pin", "add", cid_v0(1)], ["pin", "rm", cid_v0(1)], ["pin", "touch", cid_v0(1)],
              ["pin", "import", src])
    d.write_config({"arrow_ipc": {"timeout": "soon"}})
    for args in writes + (["pin", "list"], ["metrics"], ["daemon", "status"],
                          ["daemon", "start"], ["daemon", "stop"]):
        r = d.ik(*args)
        assert r.returncode == 78, (args, r.returncode, r.stderr)
        assert "arrow_ipc.timeout" in r.stderr.decode(), (args, r.stderr)
    os.unlink(d.p("config.json"))
    d.ok("pin", "add", cid_v0(1))
    # a bad column: exit 2 whether the client (direct) or the daemon finds it
    assert d.ik("pin", "list", "--columns", "nope").returncode == 2
    d.start()
    for args in (["pin", "list", "--columns", "nope"], ["metrics", "--columns", "nope"]):
        r = d.ik(*args)
        assert r.returncode == 2 and "nope" in r.stderr.decode(), (args, r.returncode)


def test_a_write_the_daemon_is_working_on_outlasts_the_timeout(daemons, tmp_path):
    """The timeout bounds a daemon's silence, not a write's length: while a big import runs,
    the daemon answers the client's pings, so the import is not cut short."""
    d = daemons()
    src = d.sample(tmp_path / "big.jsonl", 150000)
    r, took = timed(d, "pin", "import", src, "--timeout", "0.5")
    assert r.returncode == 0, r.stderr
    assert b"imported 150000 pins" in r.stdout
    assert took > 1.0, f"the import took {took:.2f} s: too short to show anything"
    assert d.count() == 150000
