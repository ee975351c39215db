"""The daemon's change tail (docs/architecture.md "Change log"): changes(since) answered from
memory for the versions the builder read equals the store's own answer (`--method direct`,
SQLite) at every since — through the protocol op, the CLI in every format, Python and
GET /v1/changes — before and after a daemon restart (the tail starts empty: older versions come
from the store), with the same gone error once the retention window passes them, and with a
tail too small to hold anything (every answer from the store)."""
import io
import json
import random

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from daemon_util import cid_v0, wait_for
from http_util import finish, get, http_daemon, status

ika = pytest.importorskip("ipfs_kit_arrow")


def jsonl(r):
    return [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]


def via(d, since, *more):
    return jsonl(d.ok("pin", "changes", "--since", since, "--format", "jsonl", *more))


def writes(d, rng, n, keys=25):
    """n random writes through the daemon: add, touch, rm (of a pin that may be absent) and
    small imports, each its own version."""
    for i in range(n):
        op = rng.randrange(10)
        cid = cid_v0(rng.randrange(keys))
        if op < 4:
            args = ["pin", "add", cid, "--name", f"n{rng.randrange(4)}"]
            if rng.randrange(2):
                args += ["--vfs-path", f"/d{rng.randrange(3)}/f"]
            d.ok(*args)
        elif op < 6:
            d.ik("pin", "rm", cid)
        elif op < 8:
            d.ik("pin", "touch", cid)
        else:
            path = d.p(f"imp{i}.jsonl")
            with open(path, "w") as f:
                for _ in range(1 + rng.randrange(5)):
                    f.write(json.dumps({"cid": cid_v0(rng.randrange(keys)),
                                        "name": f"i{rng.randrange(3)}",
                                        "pin_type": rng.choice(["direct", "recursive"])}) + "\n")
            d.ok("pin", "import", path)


def tail(d):
    return status(d)["change_tail"]


def newest(d):
    return status(d)["snapshot_version"]


def assert_equal_at_every_since(d, lo=0):
    """The daemon's answer (its tail where it covers since) equals the store's, for every
    since from lo to the newest version, as JSON lines and as Arrow; the reply names the same
    newest version."""
    top = newest(d)
    for since in range(lo, top + 1):
        direct = via(d, since, "--method", "direct")
        assert via(d, since) == direct, f"since {since}"
    for since in (lo, (lo + top) // 2, top - 1):
        a = d.ok("pin", "changes", "--since", since, "--format", "arrow").stdout
        b = d.ok("pin", "changes", "--since", since, "--format", "arrow", "--method",
                 "direct").stdout
        assert ipc.open_stream(io.BytesIO(a)).read_all().equals(
            ipc.open_stream(io.BytesIO(b)).read_all()), f"since {since}"
    return top


@pytest.fixture()
def hd():
    d = http_daemon()
    yield d
    finish(d)


def test_tail_equals_the_store_at_every_since_and_across_a_restart(hd):
    d, rng = hd, random.Random(12)
    start = tail(d)
    assert start["records"] == 0 and start["base"] == start["head"] == newest(d)
    writes(d, rng, 60)
    t = tail(d)
    top = newest(d)
    assert t["head"] == top and t["base"] == start["base"] and t["records"] > 0
    assert_equal_at_every_since(d)
    # HTTP and Python give the same rows and the same newest version
    code, h, body = get(d, "/v1/changes?since=3", {"Accept": "application/x-ndjson"})
    assert code == 200 and int(h["X-Ipfs-Kit-Version"]) == top
    assert body == d.ok("pin", "changes", "--since", 3, "--format", "jsonl", "--method",
                        "direct").stdout
    with ika.connect(d.path) as c:
        r = c.changes(5)
        assert r.method == "ipc_stream" and r.version == top
        assert pa.table(r).equals(c.changes(5, method="direct").to_pyarrow())
    # a restart: the tail starts empty at the newest version; older since from the store
    d.stop()
    d.start()
    d.http = status(d).get("http")
    t = tail(d)
    assert t["records"] == 0 and t["base"] == t["head"] == top
    writes(d, rng, 40)
    assert tail(d)["base"] == top and tail(d)["head"] == newest(d)
    assert_equal_at_every_since(d)


def test_tail_gives_the_same_gone_error_once_trimmed():
    d = http_daemon(start=False)
    try:
        d.write_config({"http": {"listen": "127.0.0.1:0"},
                        "changes": {"retain_versions": 4, "retain_seconds": 3600}})
        d.start()
        d.http = status(d).get("http")
        for n in range(12):
            d.ok("pin", "add", cid_v0(300 + n))
        wait_for(lambda: tail(d)["floor"] > 0, what="the writer to trim and tell the tail")
        floor = tail(d)["floor"]
        r = d.ik("pin", "changes", "--since", floor - 1)
        assert r.returncode == 65
        assert f"the oldest version still available is {floor}" in r.stderr.decode()
        direct = d.ik("pin", "changes", "--since", floor - 1, "--method", "direct")
        assert direct.returncode == 65 and direct.stderr == r.stderr
        code, _, body = get(d, f"/v1/changes?since={floor - 1}")
        assert code == 410 and f"oldest version still available is {floor}" in body.decode()
        assert via(d, floor) == via(d, floor, "--method", "direct")
        assert tail(d)["base"] >= floor - 1  # what only older since needed is dropped
    finally:
        finish(d)


def test_a_tail_that_holds_nothing_answers_from_the_store(daemons):
    d = daemons(start=False)
    d.start(env={"IPFS_KIT_CHANGE_TAIL_BYTES": "0"})
    writes(d, random.Random(5), 30)
    t = tail(d)
    assert t["records"] == 0
    assert_equal_at_every_since(d)
