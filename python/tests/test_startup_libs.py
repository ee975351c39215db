"""Process start stays cheap: `ipfs-kit` does not load libcurl (with its TLS, Kerberos, LDAP and
SSH libraries: ~4.7 ms of CPU per command) until a sync makes its first request
(lib/sync/curl_lazy.c); a sync still reaches its source (test_sync_mock.py)."""
import subprocess

from conftest import BIN


def test_cli_does_not_link_libcurl():
    out = subprocess.run(["ldd", BIN], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "libcurl" not in out.stdout, out.stdout


def test_a_command_loads_no_libcurl():
    r = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=60,
                       env={"LD_DEBUG": "libs", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "libcurl" not in r.stderr
