"""Hostile and unlucky pin imports, through the daemon (release and ASan builds) and direct:
damaged Arrow files are refused whole with exit 65 before a row is read, strings that are not
UTF-8 are refused however they come in, a file changed or truncated under the daemon during an
import neither kills it nor commits anything but what the import reported, and an ASan daemon
survives writes after a kubo import."""
import io
import os
import signal
import struct

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from daemon_util import Daemon, cid_v0, pid_alive, pid_stopped, wait_for
from conftest import ASAN_BIN, BIN

EX_DATAERR = 65


@pytest.fixture(scope="module", params=["release", "asan"])
def daemon(request):
    binary = ASAN_BIN if request.param == "asan" else BIN
    assert os.access(binary, os.X_OK), f"build it first: {binary}"
    d = Daemon(binary=binary)
    try:
        d.start()
        yield d
    finally:
        d.cleanup()


def arrow_file(table):
    sink = io.BytesIO()
    with ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue()


def patched(data, old, new):
    at = data.find(old)
    assert at > 0, "the bytes to patch are not in the file"
    assert data.find(old, at + 1) < 0, "the bytes to patch are not unique"
    return data[:at] + new + data[at + len(old):]


def two_names(names=("aaaaaaaa", "bbbb")):
    return pa.table({"cid": [cid_v0(1), cid_v0(2)], "name": list(names)})


def offsets(*v):
    return struct.pack(f"<{len(v)}i", *v)


def hostile_files():
    """(label, bytes, words the refusal names) for damaged Arrow files."""
    base = arrow_file(two_names())
    dict_names = pa.DictionaryArray.from_arrays(pa.array([7, 3], pa.int32()),
                                                pa.array([f"n{i}" for i in range(8)]))
    dict_file = arrow_file(pa.table({"cid": [cid_v0(1), cid_v0(2)], "name": dict_names}))
    return [
        ("offsets going backwards", patched(base, offsets(0, 8, 12), offsets(0, 8, 4)),
         ["'name'", "offset"]),
        ("offsets far past the data", patched(base, offsets(0, 8, 12), offsets(0, 8, 1 << 30)),
         ["'name'"]),
        ("negative offsets", patched(base, offsets(0, 8, 12), offsets(-(1 << 20), 8, 12)),
         ["'name'"]),
        ("dictionary index out of range",
         patched(dict_file, offsets(7, 3), offsets(7, 100000)), ["'name'", "dictionary index"]),
    ]


def not_utf8_arrow():
    # pyarrow will not build an invalid utf8 array: write placeholders, then patch them
    t = pa.table({"cid": [cid_v0(1), cid_v0(2)], "name": ["fine", "bad \x01\x02 name"]})
    return patched(arrow_file(t), b"bad \x01\x02 name", b"bad \xff\xfe name")


def stored(d):
    """The pins in d's store (0 before a direct command created it)."""
    return d.count() if os.path.exists(d.p("pins.db")) else 0


def refused(d, name, data, words, binary=None):
    """Imports `data` (written to `name` in d's directory): exit 65 with each of `words` in
    the message, no pin added; returns the message."""
    path = d.p(name)
    with open(path, "wb") as f:
        f.write(data)
    before = stored(d)
    r = d.ik("pin", "import", path, binary=binary)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == EX_DATAERR, (name, r.returncode, r.stdout, err)
    for w in words:
        assert w in err, (name, err)
    assert stored(d) == before
    return err


@pytest.mark.parametrize("case", range(4))
def test_damaged_arrow_is_refused_through_the_daemon(daemon, case):
    label, data, words = hostile_files()[case]
    refused(daemon, f"hostile{case}.arrow", data, words)
    assert pid_alive(daemon.pid), daemon.log()[-3000:]
    daemon.assert_clean_log()


def test_not_utf8_arrow_is_refused_through_the_daemon(daemon):
    refused(daemon, "not-utf8.arrow", not_utf8_arrow(), ["UTF-8"])
    assert pid_alive(daemon.pid)
    daemon.assert_clean_log()


@pytest.mark.parametrize("case", range(4))
def test_damaged_arrow_is_refused_direct(case):
    label, data, words = hostile_files()[case]
    d = Daemon(binary=ASAN_BIN)
    try:
        err = refused(d, "hostile.arrow", data, words, binary=ASAN_BIN)
        assert "Sanitizer" not in err and "runtime error" not in err, err
    finally:
        d.cleanup()


# ---- strings that are not UTF-8, whichever way they come in ---------------------------------

NOT_UTF8 = b"caf\xe9"  # latin-1, as a spreadsheet might save it


def not_utf8_inputs():
    c = cid_v0(7).encode()
    return [
        ("csv name", b"cid,name\n" + c + b"," + NOT_UTF8 + b"\n", "name"),
        ("csv backend", b"cid,backend\n" + c + b"," + NOT_UTF8 + b"\n", "backend"),
        ("csv vfs_path", b"cid,vfs_path\n" + c + b",/a/" + NOT_UTF8 + b"\n", "vfs_path"),
        ("jsonl name", b'{"cid":"' + c + b'","name":"' + NOT_UTF8 + b'"}\n', ""),
        ("kubo name", b'{"Keys":{"' + c + b'":{"Type":"recursive","Name":"' + NOT_UTF8 +
         b'"}}}', ""),
    ]


@pytest.mark.parametrize("case", range(5))
def test_import_refuses_strings_that_are_not_utf8(daemon, case):
    label, data, word = not_utf8_inputs()[case]
    refused(daemon, f"not-utf8-{case}", data, ["UTF-8", word])
    # the published snapshot is still valid Arrow, in every output format
    for fmt in ("json", "table"):
        daemon.ok("pin", "list", "--format", fmt)


def test_direct_import_refuses_strings_that_are_not_utf8():
    d = Daemon()
    try:
        for i, (label, data, word) in enumerate(not_utf8_inputs()):
            refused(d, f"in{i}", data, ["UTF-8", word])
    finally:
        d.cleanup()


# ---- item 14: an ASan daemon after a kubo import ------------------------------------------

def test_asan_daemon_survives_writes_after_a_kubo_import(daemons):
    """A kubo import leaves metadata and vfs_path all null; the next snapshot builds read the
    table in parts and appended an empty string buffer with memcpy(NULL, NULL, 0)."""
    d = daemons(asan=True)
    d.ok("arrow", "sample-pins", d.p("k.json"), "--rows", 10000, "--format", "kubo")
    d.ok("pin", "import", d.p("k.json"))
    for i in range(3):
        d.ok("pin", "add", cid_v0(900000 + i))
    assert pid_alive(d.pid), d.log()[-3000:]
    assert d.count() == 10003
    d.assert_clean_log()


# ---- item 3: files the client changes under the daemon -------------------------------------

def import_paused_between_passes(d, path, change):
    """Runs `pin import path` against a daemon that stops itself between the two passes
    (IPFS_KIT_STOP_AT=import-pass2), calls change(path) while it is stopped, lets it go on,
    and returns the import's CompletedProcess-like result (returncode, stdout, stderr)."""
    p = d.popen("pin", "import", path)
    try:
        wait_for(lambda: pid_stopped(d.pid), 60, what="the daemon to stop between the passes")
        change(path)
    finally:
        os.kill(d.pid, signal.SIGCONT)
    out, err = p.communicate(timeout=120)
    return p.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("asan", [False, True])
def test_truncating_the_import_file_during_an_import(daemons, asan):
    d = daemons(asan=asan, start=False)
    path = d.sample(d.p("p.jsonl"), 2000, seed=5)
    d.start(env={"IPFS_KIT_STOP_AT": "import-pass2"})
    rc, out, err = import_paused_between_passes(d, path, lambda p: os.truncate(p, 0))
    assert pid_alive(d.pid), ("the daemon died", d.log()[-3000:])
    assert rc == 0, (rc, out, err)
    assert "imported 2000 pins" in out, out
    assert d.count() == 2000
    d.assert_clean_log()


def test_rewriting_the_import_file_between_the_passes(daemons):
    d = daemons(start=False)
    path = d.sample(d.p("p.jsonl"), 2000, seed=6)
    with open(path, "rb") as f:
        original = f.read()
    want = {line.split(b'"cid":"')[1].split(b'"')[0].decode()
            for line in original.splitlines() if line}

    def rewrite(p):
        # the same length, every tenth line's CID made invalid
        lines = original.split(b"\n")
        for i in range(0, len(lines) - 1, 10):
            lines[i] = lines[i].replace(b'"cid":"Qm', b'"cid":"Q0', 1)
        with open(p, "r+b") as f:
            f.write(b"\n".join(lines))

    d.start(env={"IPFS_KIT_STOP_AT": "import-pass2"})
    rc, out, err = import_paused_between_passes(d, path, rewrite)
    assert pid_alive(d.pid), d.log()[-3000:]
    assert rc == 0, (rc, out, err)
    assert "imported 2000 pins" in out, out
    # what was reported is what was committed: the rows pass 1 checked, none other
    assert d.cids() == want


# ---- item 12: one pin per CID, whatever multibase or case it is written in -----------------

LOWER = "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
FORMS = [LOWER.upper(), "mAXASIOOwxEKY/BwUmvv0yJlvuSQnrkHkZJuTTKSVmRt4UrhV",
         "uAXASIOOwxEKY_BwUmvv0yJlvuSQnrkHkZJuTTKSVmRt4UrhV",
         "k2jmtxx1epa2wl096hsbpuhrz9xhppklonehzwkmskc9rmeb51kwn4ut",
         "F01701220E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"]


def cid_rows(d, *args):
    t, _ = d.query_arrow("pin", "list", "--columns", "cid,name", *args)
    return t.to_pylist()


@pytest.mark.parametrize("direct", [False, True])
def test_cid_forms_are_one_pin(daemons, direct):
    d = daemons(asan=True, start=not direct)
    d.ok("pin", "add", LOWER, "--name", "first")
    for i, form in enumerate(FORMS):
        d.ok("pin", "add", form, "--name", f"form{i}")
        rows = cid_rows(d)
        assert rows == [{"cid": LOWER, "name": f"form{i}"}], (form, rows)
        for method in (["--method", "direct"], []):
            assert cid_rows(d, "--cid", form, *method) == rows, (form, method)
    d.ok("pin", "touch", FORMS[1])
    d.ok("pin", "rm", FORMS[0])
    assert cid_rows(d) == []
    path = d.p("forms.csv")
    with open(path, "w") as f:
        f.write("cid,name\n" + "".join(f"{form},n{i}\n" for i, form in enumerate(FORMS)))
    r = d.ok("pin", "import", path)
    assert b"imported 5 pins" in r.stdout, r.stdout
    assert cid_rows(d) == [{"cid": LOWER, "name": "n4"}]  # the last row wins
    if not direct:
        d.assert_clean_log()
