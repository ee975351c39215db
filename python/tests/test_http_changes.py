"""The change feed over HTTP and WebSocket (docs/http.md "Change feed"): GET /v1/changes equal
to `pin changes` in every format, its errors (400 naming the parameter, 410 gone naming the
oldest version); GET /v1/changes/ws sending the changes after `since` and then each new
version's as it is published, in JSON text frames or one Arrow IPC message per binary frame
(read by pyarrow equal to `pin changes --format arrow`), across a daemon restart without a loss,
with pings, close codes, the read token and the connection cap."""
import asyncio
import io
import json
import time

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
import websockets

from daemon_util import cid_v0, pid_alive, wait_for
from http_util import finish, get, healthy, http_daemon, status
from ws_util import close_of, handshake, ik_async, newest_version, read_frames, recv_json, run

JSONL = {"Accept": "application/x-ndjson"}


@pytest.fixture(scope="module")
def d():
    d = http_daemon(pins=200)
    d.ok("pin", "add", cid_v0(1), "--name", "first")
    d.ok("pin", "add", cid_v0(2))
    d.ok("pin", "rm", cid_v0(2))
    yield d
    finish(d)


def url(d, query):
    return f"ws://{d.http}/v1/changes/ws?{query}"


def alive(d):
    assert pid_alive(d.lock_pid()) and healthy(d)


# ---- GET /v1/changes -------------------------------------------------------------------------

@pytest.mark.parametrize("since", [0, 1, 2])
def test_ndjson_and_json_equal_the_cli(d, since):
    code, h, body = get(d, f"/v1/changes?since={since}", JSONL)
    assert code == 200 and h["Content-Type"] == "application/x-ndjson"
    assert body == d.ok("pin", "changes", "--since", since, "--format", "jsonl").stdout
    assert int(h["X-Ipfs-Kit-Version"]) == status(d)["snapshot_version"]
    code, h, body = get(d, f"/v1/changes?since={since}", {"Accept": "application/json"})
    assert code == 200 and h["Content-Type"] == "application/json"
    assert body == d.ok("pin", "changes", "--since", since, "--format", "json").stdout


def test_arrow_and_csv_equal_the_cli(d):
    code, h, body = get(d, "/v1/changes?since=1")
    assert code == 200 and h["Content-Type"] == "application/vnd.apache.arrow.stream"
    cli = ipc.open_stream(io.BytesIO(
        d.ok("pin", "changes", "--since", 1, "--format", "arrow").stdout)).read_all()
    got = ipc.open_stream(io.BytesIO(body)).read_all()
    assert got.num_rows == 1 and got.equals(cli)  # cid 2 came and went after 1
    code, h, body = get(d, "/v1/changes?since=1", {"Accept": "text/csv"})
    assert code == 200
    assert body == d.ok("pin", "changes", "--since", 1, "--format", "csv").stdout


@pytest.mark.parametrize("accept,fmt", [("application/json", "json"),
                                        ("application/x-ndjson", "jsonl"), ("text/csv", "csv")])
@pytest.mark.parametrize("ae", ["gzip", "zstd"])
def test_text_changes_are_content_encoded_as_asked(d, accept, fmt, ae):
    from test_http_bodies import decode
    code, h, body = get(d, "/v1/changes?since=0", {"Accept": accept, "Accept-Encoding": ae})
    assert code == 200 and h["Content-Encoding"] == ae
    assert "Accept-Encoding" in h["Vary"]
    cli = d.ok("pin", "changes", "--since", 0, "--format", fmt).stdout
    assert body != cli and decode(ae, body) == cli
    # Arrow keeps IPC buffer compression: never a Content-Encoding
    code, h, body = get(d, "/v1/changes?since=0", {"Accept-Encoding": ae})
    assert code == 200 and "Content-Encoding" not in h
    assert ipc.open_stream(io.BytesIO(body)).read_all().num_rows > 0


@pytest.mark.parametrize("query,param", [
    ("", "since"), ("since=", "since"), ("since=-1", "since"), ("since=abc", "since"),
    ("since=1x", "since"), ("since=99999999999999999999", "since"),
    ("since=999999", "since"),  # newer than the newest version
    ("since=0&limit=3", "limit"), ("since=0&format=json", "format"),
])
def test_bad_arguments_are_400_naming_the_parameter(d, query, param):
    code, h, body = get(d, f"/v1/changes?{query}")
    err = json.loads(body)["error"]
    assert code == 400 and err["parameter"] == param, err
    assert err["message"]
    alive(d)


def test_unacceptable_type_is_406(d):
    code, _, body = get(d, "/v1/changes?since=0", {"Accept": "text/html"})
    assert code == 406 and json.loads(body)["error"]["parameter"] == "Accept"


def test_too_old_since_is_410_and_ws_close_4410_naming_the_oldest_version():
    d = http_daemon({}, start=False)
    d.write_config({"http": {"listen": "127.0.0.1:0"},
                    "changes": {"retain_versions": 3, "retain_seconds": 3600}})
    try:
        d.start()
        d.http = status(d)["http"]
        for n in range(8):
            d.ok("pin", "add", cid_v0(100 + n))
        # the writer trims after writes, so a 410 may first name an older floor (4) while the
        # last write's trim is still to come: wait for the one the retention of 3 leaves
        r = wait_for(lambda: (lambda g: g if g[0] == 410 and b"available is 5" in g[2] else None)(
            get(d, "/v1/changes?since=0")),
            timeout=30, what="the daemon's writer to trim the change log to version 5")
        err = json.loads(r[2])["error"]
        assert err["code"] == "gone" and err["parameter"] == "since"
        assert "oldest version still available is 5" in err["message"]
        assert "re-read the table" in err["message"]

        async def ws():
            async with websockets.connect(url(d, "since=0&format=json")) as w:
                with pytest.raises(websockets.ConnectionClosed) as e:
                    await asyncio.wait_for(w.recv(), 10)
                return e.value.rcvd
        rcvd = run(ws())
        assert rcvd.code == 4410, rcvd
        assert "since 0 is gone" in rcvd.reason and "oldest version kept is 5" in rcvd.reason
        assert get(d, "/v1/changes?since=5", JSONL)[0] == 200
        alive(d)
        finish(d)
    finally:
        d.cleanup()


# ---- the WebSocket: JSON frames --------------------------------------------------------------

def test_ws_json_backlog_equals_the_cli_then_a_pin_add_from_another_process_arrives(d):
    expected = [json.loads(line) for line in
                d.ok("pin", "changes", "--since", 0, "--format", "jsonl").stdout.splitlines()]
    cid = cid_v0(500)

    async def go():
        async with websockets.connect(url(d, "since=0&format=json")) as ws:
            backlog = await recv_json(ws, len(expected))
            t0 = time.monotonic()
            p = await ik_async(d, "pin", "add", cid, "--name", "live")
            assert await asyncio.wait_for(p.wait(), 30) == 0
            t_cli = time.monotonic()
            (change,) = await recv_json(ws, 1, timeout=10)  # generous: the target is in the bench
            return backlog, change, time.monotonic() - t_cli, time.monotonic() - t0
    backlog, change, after_cli, total = run(go())
    assert backlog == expected
    assert change["op"] == "upsert" and change["cid"] == cid and change["name"] == "live"
    assert change["version"] == newest_version(d)
    print(f"pin add -> subscriber: {after_cli * 1000:.1f} ms after the CLI returned, "
          f"{total * 1000:.1f} ms including the CLI process")


def test_ws_fans_out_one_version_to_many_subscribers_and_deletes_carry_only_the_key(d):
    v = newest_version(d)

    async def go():
        subs = [await websockets.connect(url(d, f"since={v}&format=json")) for _ in range(20)]
        try:
            p = await ik_async(d, "pin", "rm", cid_v0(500))
            assert await asyncio.wait_for(p.wait(), 30) == 0
            return [(await recv_json(ws, 1))[0] for ws in subs]
        finally:
            for ws in subs:
                await ws.close()
    got = run(go())
    assert all(g == {"op": "delete", "version": v + 1, "cid": cid_v0(500)} for g in got), got


def fanout_metrics(d):
    """ipfs_kit_ws_fanout_seconds: ([(le, cumulative count)], count)."""
    buckets, count = [], None
    for line in get(d, "/metrics")[2].decode().splitlines():
        if line.startswith("ipfs_kit_ws_fanout_seconds_bucket{"):
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le),
                            int(line.rsplit(" ", 1)[1])))
        elif line.startswith("ipfs_kit_ws_fanout_seconds_count "):
            count = int(line.rsplit(" ", 1)[1])
    return buckets, count


def test_ws_fan_out_time_is_in_metrics_once_per_version_sent(d):
    """The hub times each version from its publish to its frames written to every subscriber
    at the head: one observation per version fanned out, none without a subscriber."""
    v = newest_version(d)
    _, before = fanout_metrics(d)

    async def go():
        subs = [await websockets.connect(url(d, f"since={v}&format=json")) for _ in range(3)]
        try:
            for i, cid in enumerate((cid_v0(600), cid_v0(601))):
                p = await ik_async(d, "pin", "add", cid)
                assert await asyncio.wait_for(p.wait(), 30) == 0
                for ws in subs:  # each version reaches all three before the next is made
                    assert (await recv_json(ws, 1))[0]["version"] == v + 1 + i
        finally:
            for ws in subs:
                await ws.close()
    run(go())
    buckets, after = wait_for(lambda: (lambda b, c: (b, c) if c >= before + 2 else None)(
        *fanout_metrics(d)), 10)
    assert after == before + 2
    counts = [c for _, c in buckets]
    assert counts == sorted(counts) and buckets[-1] == (float("inf"), after)
    d.ok("pin", "add", cid_v0(602))  # nobody at the head: no fan-out timed

    async def one_more():
        async with websockets.connect(url(d, f"since={v + 3}&format=json")) as ws:
            p = await ik_async(d, "pin", "add", cid_v0(603))
            assert await asyncio.wait_for(p.wait(), 30) == 0
            assert (await recv_json(ws, 1))[0]["version"] == v + 4
    run(one_more())
    # the hub handles versions in order: once v+4's fan-out is counted, v+3 would have been
    wait_for(lambda: fanout_metrics(d)[1] >= after + 1, 10)
    assert fanout_metrics(d)[1] == after + 1


# ---- the WebSocket: Arrow frames -------------------------------------------------------------

def stream_of(frames):
    """The frames read as one IPC stream (schema, dictionaries, batches; no end marker yet)."""
    return ipc.open_stream(io.BytesIO(b"".join(frames))).read_all()


def test_ws_arrow_frames_are_one_ipc_message_each_and_equal_the_cli(d):
    cli = ipc.open_stream(io.BytesIO(
        d.ok("pin", "changes", "--since", 0, "--format", "arrow").stdout)).read_all()

    async def go():
        frames, rows = [], 0
        async with websockets.connect(url(d, "since=0"), max_size=None) as ws:
            while rows < cli.num_rows:
                f = await asyncio.wait_for(ws.recv(), 20)
                assert isinstance(f, bytes)
                buf = pa.BufferReader(f)
                msg = ipc.read_message(buf)
                assert buf.tell() == len(f), "one IPC message per frame, nothing after it"
                frames.append(f)
                if msg.type == "record batch":
                    rows = stream_of(frames).num_rows
        return frames
    frames = run(go())
    assert ipc.read_message(frames[0]).type == "schema"
    got = stream_of(frames)
    assert got.schema.equals(cli.schema, check_metadata=False)
    key = lambda t: sorted(t.to_pylist(), key=lambda r: (r["version"], r["cid"]))
    assert key(got) == key(cli)


# ---- reconnecting ----------------------------------------------------------------------------

def test_reconnect_with_since_across_a_daemon_restart_loses_nothing():
    d = http_daemon()
    try:
        added = [cid_v0(700 + n) for n in range(6)]

        async def follow(since, n):
            async with websockets.connect(url(d, f"since={since}&format=json")) as ws:
                return await recv_json(ws, n)
        v0 = newest_version(d)
        d.ok("pin", "add", added[0])
        d.ok("pin", "add", added[1])
        first = run(follow(v0, 2))
        last = first[-1]["version"]
        d.ok("pin", "add", added[2])  # after the subscriber left, before the restart
        assert d.stop().returncode == 0
        d.ok("pin", "add", added[3])  # while the daemon is down (the direct writer)
        d.start()
        d.http = status(d)["http"]
        d.ok("pin", "add", added[4])
        d.ok("pin", "rm", added[0])

        async def resume():
            async with websockets.connect(url(d, f"since={last}&format=json")) as ws:
                got = await recv_json(ws, 4)  # the backlog: 2, 3, 4 and the delete of 0
                p = await ik_async(d, "pin", "add", added[5])
                assert await asyncio.wait_for(p.wait(), 30) == 0
                return got + await recv_json(ws, 1)  # then live again
        second = run(resume())
        seen = {(c["op"], c["cid"]) for c in first + second}
        assert seen == {("upsert", c) for c in added} | {("delete", added[0])}
        versions = [c["version"] for c in first + second]
        assert versions == sorted(versions) and len(set(versions)) == len(versions)
        alive(d)
        finish(d)
    finally:
        d.cleanup()
