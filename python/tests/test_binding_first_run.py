"""The first thing a new user meets: no store where the client looks (say where, and how to get
one), and `python -m ipfs_kit_arrow` showing the daemon's status and a few pins."""
import os
import subprocess
import sys

import pytest

import ipfs_kit_arrow as ika


def run_main(args, env):
    return subprocess.run([sys.executable, "-m", "ipfs_kit_arrow", *args], capture_output=True,
                          text=True, timeout=60, env=env)


def test_no_store_says_where_it_looked_and_how_to_start_one(tmp_path, monkeypatch):
    monkeypatch.delenv("IPFS_KIT_PATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with ika.connect() as c:
        with pytest.raises(ika.NotFound) as e:
            c.pins(limit=1)
    msg, home = str(e.value), str(tmp_path / ".ipfs_kit")
    assert f"no ipfs-kit store at {home}" in msg
    assert "no pins.db there" in msg
    assert "IPFS_KIT_PATH is not set, so this is the default" in msg
    assert f"ipfs-kit --path {home} daemon start" in msg
    assert "make demo" in msg and "build/demo/ipfs_kit" in msg


def test_no_store_at_an_explicit_path_does_not_blame_the_default(tmp_path):
    with ika.connect(str(tmp_path / "kit")) as c:
        with pytest.raises(ika.NotFound) as e:
            c.pins(limit=1)
    assert "no ipfs-kit store at" in str(e.value)
    assert "this is the default" not in str(e.value)


def test_main_prints_status_and_pins(pin_daemon):
    env = dict(os.environ, IPFS_KIT_PATH=pin_daemon.path)
    r = run_main(["--limit", "3"], env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"data directory: {pin_daemon.path}"
    assert lines[1].startswith("daemon: running, PID ") and "20000 pins" in lines[1]
    assert lines[2] == "pins: 20000 in the index; the first 3:"
    assert len([ln for ln in lines if ln.startswith("  Qm") or ln.startswith("  baf")]) == 3
    assert lines[-1].startswith("path: zero_copy via arrow_ipc_daemon")


def test_main_without_a_daemon_and_without_a_store(fresh_daemon, tmp_path):
    fresh_daemon.stop()
    r = run_main(["--path", fresh_daemon.path, "--limit", "2"], dict(os.environ))
    assert r.returncode == 0, r.stderr
    assert "daemon: not running" in r.stdout and "path: direct via direct_pin_index" in r.stdout
    r = run_main(["--path", str(tmp_path / "none")], dict(os.environ))
    assert r.returncode == 66
    assert "no ipfs-kit store at" in r.stderr and "Traceback" not in r.stderr
