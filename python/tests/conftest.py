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


@pytest.fixture
def daemons():
    """Makes Daemon objects (daemon_util.py) on fresh short data directories; every one is
    stopped (`daemon stop`, then kill -9 by the PID in daemon.lock) and removed afterwards.
    make(asan=True) runs the daemon from the ASan build."""
    from daemon_util import Daemon
    made = []

    def make(asan=False, start=True):
        binary = ASAN_BIN if asan else BIN
        assert os.access(binary, os.X_OK), f"build it first: {binary}"
        d = Daemon(binary=binary)
        made.append(d)
        if start:
            d.start()
        return d
    yield make
    for d in made:
        d.cleanup()
