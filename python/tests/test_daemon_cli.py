"""The user's commands against a running daemon: daemon start, pin import (every format),
pin list, metrics, daemon stop; pin add/rm/touch with visible effects; invalid input;
output formats that agree; the "Database is locked" refusal; status codes, modes and a
harmless second start."""
import csv
import io
import json
import os
import re
import stat

import pyarrow as pa
import pyarrow.ipc as ipc

from daemon_util import cid_v0, pid_alive

SUMMARY = re.compile(r"^(\d+) of (\d+) pins · (\w+) via (\w+) · "
                     r"copied: (?:\d+ rows, \d+ bytes|every row \(decoded\)) · [0-9.]+ ms$")


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_the_five_user_commands(daemons, tmp_path):
    d = daemons()
    src = d.sample(tmp_path / "p.jsonl", 1000)
    rows = read_jsonl(src)
    recursive = sum(r["pin_type"] == "recursive" for r in rows)

    r = d.ok("pin", "import", src)
    assert b"imported 1000 pins" in r.stdout

    r = d.ok("pin", "list", "--limit", "10", "--type", "recursive")
    lines = r.stdout.decode().rstrip("\n").splitlines()
    m = SUMMARY.match(lines[-1])
    assert m, lines[-1]
    assert m.groups()[:4] == ("10", str(recursive), "zero_copy", "arrow_ipc_daemon")
    data = lines[2:-1]  # header, rule, 10 rows, summary
    assert len(data) == 10 and all("recursive" in line for line in data)

    r = d.ok("metrics", "--format", "jsonl")
    metrics = {m["metric_name"]: m for m in map(json.loads, r.stdout.decode().splitlines())}
    assert metrics["pins"]["metric_value"] == 1000
    assert metrics["snapshot_version"]["metric_value"] >= 1
    assert "zero_copy via arrow_ipc_daemon" in r.stderr.decode()

    for cmd in (["vfs", "stats", "--limit", "3"], ["backend", "health"]):
        r = d.ok(*cmd)
        assert "zero_copy via arrow_ipc_daemon" in r.stdout.decode().splitlines()[-1]

    pid = d.lock_pid()
    r = d.ok("daemon", "stop")
    assert b"daemon stopped" in r.stdout
    assert not pid_alive(pid)
    assert not os.path.exists(d.sock)
    assert d.ik("daemon", "status").returncode == 3
    d.assert_clean_log()


def test_import_every_format(daemons, tmp_path):
    d = daemons()
    # kubo `ipfs pin ls --enc=json`: one object, types including "indirect through <cid>"
    kubo = {"Keys": {cid_v0(i): {"Type": t, "Name": f"k{i}"}
                     for i, t in zip(range(0, 30), ["recursive", "direct"] * 15)}}
    kubo["Keys"][cid_v0(30)] = {"Type": f"indirect through {cid_v0(0)}", "Name": ""}
    (tmp_path / "kubo.json").write_text(json.dumps(kubo))
    # kubo `--stream`: one {"Cid","Name","Type"} per line
    d.sample(tmp_path / "stream.jsonl", 40, fmt="kubo", seed=5)
    stream_rows = read_jsonl(tmp_path / "stream.jsonl")
    assert set(stream_rows[0]) == {"Cid", "Name", "Type"}
    # CSV with a header naming pin_index columns
    with open(tmp_path / "p.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cid", "name", "pin_type", "size_bytes"])
        for i in range(100, 125):
            w.writerow([cid_v0(i), f"c{i}", "direct", i * 10])
    # an Arrow IPC file written by pyarrow
    t = pa.table({"cid": [cid_v0(i) for i in range(200, 220)],
                  "name": [f"a{i}" for i in range(200, 220)],
                  "size_bytes": pa.array(range(20), pa.int64()),
                  "pin_type": ["recursive"] * 20})
    with ipc.new_file(str(tmp_path / "p.arrow"), t.schema) as wr:
        wr.write_table(t)

    expect = 0
    for name, n in (("kubo.json", 31), ("stream.jsonl", 40), ("p.csv", 25), ("p.arrow", 20)):
        r = d.ok("pin", "import", tmp_path / name)
        assert f"imported {n} pins".encode() in r.stdout, (name, r.stdout)
        expect += n
        assert d.count() == expect, name

    got = {r["cid"]: r for r in json.loads(d.ok("pin", "list", "--format", "json").stdout)}
    assert got[cid_v0(1)]["pin_type"] == "direct" and got[cid_v0(1)]["name"] == "k1"
    assert got[cid_v0(30)]["pin_type"] == "indirect"
    s0 = stream_rows[0]
    assert got[s0["Cid"]]["pin_type"] == s0["Type"] and got[s0["Cid"]]["name"] == s0["Name"]
    assert got[cid_v0(107)]["size_bytes"] == 1070 and got[cid_v0(107)]["name"] == "c107"
    assert got[cid_v0(205)]["size_bytes"] == 5 and got[cid_v0(205)]["name"] == "a205"


def test_add_touch_rm_are_visible_at_once(daemons):
    d = daemons()
    cid = cid_v0(1)

    def show():
        return json.loads(d.ok("pin", "list", "--cid", cid, "--format", "json").stdout)

    assert show() == []
    r = d.ok("pin", "add", cid, "--name", "hello.txt", "--size", "1234", "--type", "direct",
             "--metadata", '{"k": "v"}', "--vfs-path", "/docs/hello.txt")
    gen = int(re.search(rb"generation (\d+)", r.stdout).group(1))
    [row] = show()  # the reply came only once the snapshot holding the pin was published
    assert (row["cid"], row["name"], row["size_bytes"], row["pin_type"], row["vfs_path"]) == \
        (cid, "hello.txt", 1234, "direct", "/docs/hello.txt")
    assert json.loads(row["metadata"]) == {"k": "v"}
    assert row["access_count"] == 0 and row["last_access"] is None

    r = d.ok("pin", "touch", cid)
    assert int(re.search(rb"generation (\d+)", r.stdout).group(1)) > gen
    [row] = show()
    assert row["access_count"] == 1 and row["last_access"] is not None

    d.ok("pin", "add", cid, "--name", "renamed.txt")  # an update keeps the access count
    [row] = show()
    assert row["name"] == "renamed.txt" and row["access_count"] == 1

    d.ok("pin", "rm", cid)
    assert show() == []
    r = d.ik("pin", "rm", cid)
    assert r.returncode == 65 and b"not pinned" in r.stderr
    r = d.ik("pin", "touch", cid)
    assert r.returncode == 65 and b"not pinned" in r.stderr


def test_invalid_cid_exits_65_with_the_reason(daemons):
    d = daemons()
    for bad, reason in (("Qmx", b"CIDv0 must be 46 characters"),
                        ("not-a-cid-at-all", b"invalid CID")):
        r = d.ik("pin", "add", bad)
        assert r.returncode == 65, r
        assert b"invalid CID '" + bad.encode() + b"'" in r.stderr and reason in r.stderr, r.stderr
    assert d.count() == 0


def test_import_with_a_bad_line_imports_nothing(daemons, tmp_path):
    d = daemons()
    d.ok("pin", "add", cid_v0(999))
    lines = [json.dumps({"cid": cid_v0(i), "name": f"n{i}"}) for i in range(50)]
    lines[36] = json.dumps({"cid": "QmNotACid", "name": "bad"})  # line 37
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")

    r = d.ik("pin", "import", tmp_path / "bad.jsonl")
    assert r.returncode != 0
    assert b"line 37" in r.stderr and b"QmNotACid" in r.stderr, r.stderr
    assert d.count() == 1  # all or nothing
    assert d.cids() == {cid_v0(999)}

    r = d.ok("pin", "import", tmp_path / "bad.jsonl", "--skip-invalid")
    out = r.stdout.decode()
    assert "imported 49 pins" in out and "skipped 1 invalid" in out and "line 37" in out, out
    assert d.count() == 50
    assert cid_v0(36) not in d.cids() and cid_v0(37) in d.cids()


def test_output_formats_agree(daemons, tmp_path):
    d = daemons()
    d.ok("pin", "import", d.sample(tmp_path / "p.jsonl", 300, seed=3))
    q = ["pin", "list", "--type", "recursive", "--limit", "25", "--offset", "5"]

    table, summary = d.query_arrow(*q)
    assert table.num_rows == 25
    assert SUMMARY.match(summary).group(3) == "zero_copy"
    expect = table.to_pylist()

    as_json = json.loads(d.ok(*q, "--format", "json").stdout)
    as_jsonl = [json.loads(line) for line in d.ok(*q, "--format", "jsonl").stdout.splitlines()]
    assert as_json == as_jsonl
    assert [r["cid"] for r in as_json] == [r["cid"] for r in expect]
    assert [r["size_bytes"] for r in as_json] == [r["size_bytes"] for r in expect]
    assert [r["name"] for r in as_json] == [r["name"] for r in expect]
    assert [r["timestamp"] for r in as_json] == \
        [r["timestamp"].strftime("%Y-%m-%dT%H:%M:%S.%fZ") for r in expect]

    as_csv = list(csv.DictReader(io.StringIO(d.ok(*q, "--format", "csv").stdout.decode())))
    assert [r["cid"] for r in as_csv] == [r["cid"] for r in as_json]
    assert [r["metadata"] for r in as_csv] == [r["metadata"] or "" for r in as_json]
    assert [int(r["size_bytes"]) for r in as_csv] == [r["size_bytes"] for r in as_json]

    lines = d.ok(*q).stdout.decode().splitlines()
    assert lines[0].split()[:4] == ["cid", "name", "size_bytes", "pin_type"]
    rows = lines[2:-1]
    assert len(rows) == 25
    for line, r in zip(rows, as_json):
        shown = line.split()[0]
        assert r["cid"].startswith(shown.rstrip("…")), (shown, r["cid"])
    assert SUMMARY.match(lines[-1]).groups()[:2] == ("25", SUMMARY.match(summary).group(2))


def test_database_locked_when_the_socket_is_unreachable(daemons):
    d = daemons()
    pid = d.lock_pid()
    os.rename(d.sock, d.p("hidden.sock"))
    try:
        r = d.ik("pin", "add", cid_v0(1))
        err = r.stderr.decode()
        assert r.returncode != 0
        assert f"Database is locked by daemon (PID {pid})" in err, err
        assert "ipfs-kit daemon stop" in err and "retry" in err, err
        assert d.ik("daemon", "status").returncode == 75  # holds the lock, does not answer
    finally:
        os.rename(d.p("hidden.sock"), d.sock)
    d.ok("pin", "add", cid_v0(1))
    assert d.cids() == {cid_v0(1)}


def test_without_a_daemon_writes_go_to_the_store(daemons):
    d = daemons(start=False)
    r = d.ok("pin", "add", cid_v0(5), "--name", "offline")
    assert b"pinned" in r.stdout
    assert not os.path.exists(d.sock)
    rows = json.loads(d.ok("pin", "list", "--format", "json").stdout)
    assert [(x["cid"], x["name"]) for x in rows] == [(cid_v0(5), "offline")]
    d.start()  # a later daemon serves it
    table, summary = d.query_arrow("pin", "list")
    assert table.column("cid").to_pylist() == [cid_v0(5)]
    assert "zero_copy via arrow_ipc_daemon" in summary


def test_status_codes_modes_and_a_second_start(daemons):
    d = daemons(start=False)
    assert d.ik("daemon", "status").returncode == 3
    pid = d.start()
    r = d.ik("daemon", "status")
    assert r.returncode == 0 and f"PID {pid}".encode() in r.stdout
    d.ok("pin", "add", cid_v0(1))

    assert stat.S_ISSOCK(os.stat(d.sock).st_mode)
    assert stat.S_IMODE(os.stat(d.sock).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d.path).st_mode) == 0o700
    snaps = d.snapshot_files()
    assert any(s.startswith("pin_index.") for s in snaps), snaps
    for s in snaps:
        assert stat.S_IMODE(os.stat(d.p("snapshots", s)).st_mode) == 0o400, s

    r = d.ik("daemon", "start", binary=d.binary)
    assert r.returncode == 0 and f"already running (PID {pid})".encode() in r.stdout
    assert d.lock_pid() == pid and pid_alive(pid)
    assert d.cids() == {cid_v0(1)}
    d.ok("daemon", "stop")
    assert d.ik("daemon", "status").returncode == 3
    r = d.ok("daemon", "stop")  # stopping a stopped daemon is harmless too
    assert b"no daemon running" in r.stdout


def test_import_from_standard_input(daemons):
    d = daemons()
    lines = "".join(json.dumps({"Cid": cid_v0(i), "Name": f"s{i}", "Type": "recursive"}) + "\n"
                    for i in range(12))
    r = d.ok("pin", "import", "-", input=lines.encode())  # a pipe, spooled by the CLI
    assert b"imported 12 pins" in r.stdout
    assert d.count() == 12


def test_pin_list_cid_gets_its_rows_from_the_daemon(daemons):
    """`pin list --cid X` is one query per process: in auto it asks the daemon for the rows its
    cid index finds (ipc_stream) instead of mapping every segment of the state; the same rows as
    zero_copy (and for no match); other filters stay zero_copy; with the daemon gone, the
    direct path as before."""
    d = daemons()
    for i in range(6):
        d.ok("pin", "add", cid_v0(i), "--name", f"n{i}")  # a delta each
    t, summary = d.query_arrow("pin", "list", "--cid", cid_v0(3))
    assert "1 of 1 pins · ipc_stream via arrow_ipc_daemon" in summary, summary
    z, zs = d.query_arrow("pin", "list", "--cid", cid_v0(3), "--method", "zero_copy")
    assert "zero_copy via arrow_ipc_daemon" in zs, zs
    assert t.to_pylist() == z.to_pylist() and t.column("name").to_pylist() == ["n3"]
    t, summary = d.query_arrow("pin", "list", "--cid", cid_v0(99))
    assert t.num_rows == 0 and "ipc_stream via" in summary, summary
    _, summary = d.query_arrow("pin", "list", "--name-contains", "n2")
    assert "zero_copy via arrow_ipc_daemon" in summary, summary
    d.stop()
    t, summary = d.query_arrow("pin", "list", "--cid", cid_v0(4))
    assert t.column("name").to_pylist() == ["n4"] and "direct" in summary, summary
