"""Shared fixtures: the ipfs-kit binaries (release and ASan builds) and a runner."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("IPFS_KIT_BIN", os.path.join(ROOT, "build", "ipfs-kit"))
ASAN_BIN = os.environ.get("IPFS_KIT_ASAN_BIN", os.path.join(ROOT, "build", "asan", "ipfs-kit"))


def run(args, input=None, binary=BIN, timeout=60):
    return subprocess.run([binary, *map(str, args)], input=input, capture_output=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def ik():
    assert os.access(BIN, os.X_OK), f"build the CLI first: {BIN}"
    return run


@pytest.fixture(scope="session")
def ik_asan():
    """The ASan+UBSan build, for hostile inputs (falls back to the release build)."""
    binary = ASAN_BIN if os.access(ASAN_BIN, os.X_OK) else BIN

    def go(args, input=None, timeout=60):
        return run(args, input=input, binary=binary, timeout=timeout)
    return go


# IPFS_KIT_DAEMON_ASAN=1 (as `make test` sets it): every daemon the `daemons` fixture makes runs
# from the ASan+UBSan build, and its log is checked for sanitizer reports once it has stopped.
DAEMON_ASAN = os.environ.get("IPFS_KIT_DAEMON_ASAN") == "1"


@pytest.fixture
def daemons():
    """Makes Daemon objects (daemon_util.py) on fresh short data directories; every one is
    stopped (`daemon stop`, then kill -9 by the PID in daemon.lock) and removed afterwards.
    make(asan=True) runs the daemon from the ASan build (every one does with
    IPFS_KIT_DAEMON_ASAN=1); an ASan daemon's log must end free of sanitizer reports."""
    from daemon_util import Daemon
    made = []

    def make(asan=False, start=True):
        binary = ASAN_BIN if asan or DAEMON_ASAN else BIN
        assert os.access(binary, os.X_OK), f"build it first: {binary}"
        d = Daemon(binary=binary)
        made.append(d)
        if start:
            d.start()
        return d
    yield make
    for d in made:
        log = None
        if d.binary == ASAN_BIN:
            d.stop()
            log = d.log()  # read before cleanup removes the directory
        d.cleanup()
        if log is not None:
            for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                assert bad not in log, f"daemon log has {bad!r}:\n{log[-4000:]}"


# ---- the Python binding's tests (test_binding_*.py): real daemons in short temp dirs -------

class Daemon:
    """An ipfs-kit data directory under /tmp (short: the socket path must stay < 108 bytes)
    and the daemon serving it, driven with the CLI."""

    def __init__(self, pins=0, seed=1):
        import tempfile
        self.path = tempfile.mkdtemp(prefix="ikpy", dir="/tmp")
        self.running = False
        self.pins = pins
        if pins:
            src = os.path.join(self.path, "sample.jsonl")
            self.ok(["arrow", "sample-pins", src, "--rows", pins, "--seed", seed,
                     "--format", "jsonl"])
            self.sample = src

    def cli(self, args, check=True):
        r = run(["--path", self.path, *args])
        if check:
            assert r.returncode == 0, (args, r.stdout.decode(), r.stderr.decode())
        return r

    ok = cli

    def start(self):
        self.cli(["daemon", "start"])
        self.running = True
        return self

    def stop(self):
        if self.running:
            self.cli(["daemon", "stop"])
            self.running = False

    def import_sample(self):
        self.cli(["pin", "import", self.sample])

    def sqlite(self):
        """A read-only SQLite connection on pins.db (the store, bypassing ipfs-kit)."""
        import sqlite3
        return sqlite3.connect(f"file:{self.path}/pins.db?mode=ro", uri=True)

    def cleanup(self):
        import shutil
        self.stop()
        shutil.rmtree(self.path, ignore_errors=True)


@pytest.fixture(scope="session")
def pin_daemon():
    """One daemon for the session with 20,000 sample pins. Tests must not change its pins."""
    assert os.access(BIN, os.X_OK), f"build the CLI first: {BIN}"
    d = Daemon(pins=20000).start()
    d.import_sample()
    yield d
    d.cleanup()


@pytest.fixture
def fresh_daemon():
    """A daemon of the test's own (1,000 sample pins imported), stopped and removed after."""
    assert os.access(BIN, os.X_OK), f"build the CLI first: {BIN}"
    d = Daemon(pins=1000, seed=7).start()
    d.import_sample()
    yield d
    d.cleanup()
