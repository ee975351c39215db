"""Process start stays cheap: `ipfs-kit` loads libcurl (with its TLS, Kerberos, LDAP and SSH
libraries: ~4.7 ms of CPU per command) only when a sync makes its first request
(lib/sync/curl_lazy.c), and never the servers' libraries (libmicrohttpd with GnuTLS and its
~3 ms initialisation, gRPC): only the daemon program, ipfs-kitd, links them. Syncs, the HTTP
server and Flight still work (test_sync_mock.py, test_http_*.py, test_flight*.py)."""
import subprocess

import pytest

from conftest import BIN


@pytest.mark.parametrize("lib", ["libcurl", "libmicrohttpd", "libgnutls", "libgrpc"])
def test_cli_does_not_link(lib):
    out = subprocess.run(["ldd", BIN], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert lib not in out.stdout, out.stdout


def test_a_command_loads_neither():
    r = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=60,
                       env={"LD_DEBUG": "libs", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    for lib in ("libcurl", "libmicrohttpd", "libgnutls", "libgrpc"):
        assert lib not in r.stderr, lib
