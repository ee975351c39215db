"""The data directory against a local attacker (issue 13, item 1; docs/architecture.md,
"Threat model"). A daemon (or a direct write) running as root must never write through a link
planted in the data directory, and refuses a data directory, or snapshots/, that another uid
owns or that group or others can write, naming the directory, its owner and mode and the fix.
Runs as root (as CI does): the links point at files root could write.

Also item 6: processes of another uid can neither connect to the daemon nor open its snapshot
files (the daemon trusts its own uid only; why in the threat model)."""
import json
import os
import socket
import struct
import subprocess

import pytest

from daemon_util import wait_for

CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
PRECIOUS = b"precious\n"
NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the attacks are on a root daemon")


def victim(tmp_path):
    p = tmp_path / "victim"
    p.write_bytes(PRECIOUS)
    return p


def plant(d, name, target):
    os.makedirs(os.path.dirname(d.p(name)), exist_ok=True)
    os.symlink(str(target), d.p(name))


def start(d):
    return d.ik("daemon", "start", "--timeout", "20", binary=d.binary, timeout=60)


# ---- links planted where the daemon writes ------------------------------------------------

def test_daemon_start_refuses_a_planted_log_link(daemons, tmp_path):
    d = daemons(start=False)
    v = victim(tmp_path)
    plant(d, "daemon.log", v)
    r = start(d)
    assert r.returncode == 78, (r.stdout, r.stderr)
    assert "daemon.log is a symbolic link" in r.stderr.decode()
    assert v.read_bytes() == PRECIOUS
    assert not d.lock_held()


@pytest.mark.parametrize("name", ["daemon.lock", "pins.db"])
@pytest.mark.parametrize("how", ["daemon", "direct"])
def test_a_planted_lock_or_store_link_creates_nothing(daemons, tmp_path, name, how):
    d = daemons(start=False)
    target = tmp_path / "created-by-root"
    plant(d, name, target)
    # no daemon: the CLI takes the lock and opens the store itself
    r = start(d) if how == "daemon" else d.ik("pin", "add", CID)
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert f"{name} is a symbolic link" in r.stderr.decode()
    assert not target.exists()


@pytest.mark.parametrize("name", ["pins.db-wal", "pins.db-shm"])
def test_planted_wal_and_shm_links_are_not_followed(daemons, tmp_path, name):
    """SQLite opens its -wal and -shm with O_NOFOLLOW itself: the write fails, nothing is made."""
    d = daemons(start=False)
    target = tmp_path / "created-by-root"
    plant(d, name, target)
    r = d.ik("pin", "add", CID)
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert not target.exists()


@pytest.mark.parametrize("table", ["pin_index", "vfs_stats"])
def test_a_planted_synced_mark_temp_link_is_replaced_not_followed(daemons, tmp_path, table):
    d = daemons(start=False)
    v = victim(tmp_path)
    plant(d, f"snapshots-synced.{table}.tmp", v)
    d.start()
    d.ok("pin", "add", CID)  # another build, another mark
    assert v.read_bytes() == PRECIOUS
    assert not os.path.islink(d.p(f"snapshots-synced.{table}"))
    assert d.count() == 1


def test_a_planted_snapshot_link_is_rebuilt_not_served(daemons, tmp_path):
    d = daemons(start=False)
    d.ok("pin", "add", CID)  # direct: generation 1, no snapshot yet
    v = victim(tmp_path)
    plant(d, "snapshots/pin_index.1.arrow", v)
    d.start()
    assert v.read_bytes() == PRECIOUS
    assert "pin_index.1.arrow is a symbolic link" in d.log()
    assert not os.path.islink(d.p("snapshots", "pin_index.1.arrow"))
    assert d.cids() == {CID}


def test_a_planted_socket_link_is_removed_not_followed(daemons, tmp_path):
    d = daemons(start=False)
    v = victim(tmp_path)
    plant(d, "daemon.sock", v)
    d.start()
    assert v.read_bytes() == PRECIOUS
    assert os.stat(v).st_mode & 0o777 == 0o644
    st = os.lstat(d.sock)
    assert (st.st_mode & 0o777) == 0o600 and not os.path.islink(d.sock)
    assert d.count() == 0


def test_a_planted_config_link_is_refused(daemons, tmp_path):
    d = daemons(start=False)
    cfg = tmp_path / "config.json"
    cfg.write_text('{"arrow_ipc": {"timeout": 5}}')
    plant(d, "config.json", cfg)
    r = d.ik("pin", "list")
    assert r.returncode != 0
    assert "config.json is a symbolic link" in r.stderr.decode()


# ---- the directory's owner and mode -----------------------------------------------------

@pytest.mark.parametrize("mode", [0o777, 0o770, 0o720, 0o702])
def test_daemon_refuses_a_directory_others_can_write(daemons, mode):
    d = daemons(start=False)
    os.chmod(d.path, mode)
    r = start(d)
    err = r.stderr.decode()
    assert r.returncode == 78, (r.stdout, err)
    assert f"{d.path} is owned by uid 0 (root) with mode {mode:04o}" in err
    assert f"chmod go-w '{d.path}'" in err
    assert not os.path.exists(d.p("daemon.log")) and not os.path.exists(d.p("pins.db"))
    r = d.ik("pin", "add", CID)  # no daemon: the CLI would be the writer
    assert r.returncode == 78 and "chmod go-w" in r.stderr.decode()


def test_daemon_refuses_a_directory_another_uid_owns(daemons):
    d = daemons(start=False)
    os.chown(d.path, NOBODY, NOBODY)
    r = d.ik("daemon", "run", timeout=30)  # the foreground daemon checks it too
    err = r.stderr.decode()
    assert r.returncode == 78, (r.stdout, err)
    assert f"{d.path} is owned by uid {NOBODY}" in err and "mode 0700" in err
    assert f"chown 0 '{d.path}'" in err
    assert not os.path.exists(d.p("pins.db"))


def test_daemon_refuses_writable_or_linked_snapshots_dir(daemons, tmp_path):
    d = daemons(start=False)
    os.mkdir(d.p("snapshots"), 0o700)
    os.chmod(d.p("snapshots"), 0o777)
    r = start(d)
    assert r.returncode == 78
    assert f"{d.p('snapshots')} is owned by uid 0 (root) with mode 0777" in r.stderr.decode()
    os.rmdir(d.p("snapshots"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    os.symlink(elsewhere, d.p("snapshots"))
    r = start(d)
    assert r.returncode == 78
    assert "snapshots is a symbolic link" in r.stderr.decode()
    assert os.listdir(elsewhere) == []


def test_a_directory_only_its_owner_writes_is_fine(daemons):
    d = daemons(start=False)
    os.chmod(d.path, 0o755)  # readable by others is not a risk to us
    d.start()
    d.ok("pin", "add", CID)
    assert d.cids() == {CID}


# ---- item 6: another uid gets nothing ------------------------------------------------------

PROBE = r"""
import json, os, socket, struct, sys
sock, snap = sys.argv[1], sys.argv[2]
out = {}
try:
    open(snap, "rb").close()
    out["open"] = "opened"
except PermissionError:
    out["open"] = "EACCES"
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(sock)
    # a refused peer is told at once and hung up on: read before sending anything
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    out["connect"] = json.loads(data[4:]) if len(data) > 4 else "closed"
except PermissionError:
    out["connect"] = "EACCES"
print(json.dumps(out))
"""


def probe_as_nobody(d, snap):
    def drop():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    r = subprocess.run(["/usr/bin/python3", "-c", PROBE, d.sock, snap], capture_output=True,
                       timeout=30, preexec_fn=drop)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def test_another_uid_can_neither_connect_nor_open_a_snapshot(daemons):
    d = daemons()
    d.ok("pin", "add", CID)
    snap = d.p("snapshots", [f for f in d.snapshot_files() if f.startswith("pin_index.")][-1])
    # the usual 0700 directory: nothing in it can even be reached
    assert probe_as_nobody(d, snap) == {"open": "EACCES", "connect": "EACCES"}
    # a directory others may traverse: the files' own modes (socket 0600, snapshots 0400)
    os.chmod(d.path, 0o711)
    os.chmod(d.p("snapshots"), 0o711)
    assert probe_as_nobody(d, snap) == {"open": "EACCES", "connect": "EACCES"}
    # and were the socket opened up by hand, the daemon checks the peer's uid
    os.chmod(d.sock, 0o666)
    got = probe_as_nobody(d, snap)
    assert got["open"] == "EACCES"
    assert got["connect"]["ok"] is False
    assert got["connect"]["error"]["code"] == "forbidden"
    assert d.count() == 1  # and it still serves its own uid
