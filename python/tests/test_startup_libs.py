"""Process start stays cheap: `ipfs-kit` loads neither libcurl (with its TLS, Kerberos, LDAP and
SSH libraries: ~4.7 ms of CPU per command) until a sync makes its first request
(lib/sync/curl_lazy.c), nor libmicrohttpd (GnuTLS and its initialisation: ~3 ms) until the
HTTP server starts (daemon/http/mhd_lazy.c). Syncs and the HTTP server still work
(test_sync_mock.py, test_http_*.py)."""
import subprocess

import pytest

from conftest import BIN


@pytest.mark.parametrize("lib", ["libcurl", "libmicrohttpd", "libgnutls"])
def test_cli_does_not_link(lib):
    out = subprocess.run(["ldd", BIN], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert lib not in out.stdout, out.stdout


def test_a_command_loads_neither():
    r = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=60,
                       env={"LD_DEBUG": "libs", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    for lib in ("libcurl", "libmicrohttpd", "libgnutls"):
        assert lib not in r.stderr, lib
