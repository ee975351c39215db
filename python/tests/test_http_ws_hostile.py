"""Hostile and unhealthy WebSocket clients of GET /v1/changes/ws (docs/http.md "Change feed"):
bad upgrade requests get an HTTP error naming what was wrong; unmasked, oversized and garbage
frames get a close code; a silent peer is closed after the idle timeout's pings go unanswered;
a subscriber that never reads is closed (1008) once its queue overflows, without holding back
the others; WebSockets count against the connection cap and follow the read token. After each,
the daemon lives (against the ASan daemon where the suite has it)."""
import asyncio
import json
import socket
import time

import pytest
import websockets

from daemon_util import cid_v0, pid_alive, wait_for
from http_util import finish, get, healthy, http_daemon
from ws_util import (close_of, frame, handshake, ik_async, newest_version, read_frames,
                     recv_json, run)


@pytest.fixture(scope="module")
def d():
    d = http_daemon({"idle_timeout": 2, "max_connections": 8}, pins=20)
    yield d
    finish(d)


def alive(d):
    assert pid_alive(d.lock_pid()) and healthy(d)


@pytest.mark.parametrize("headers,status,param", [
    ({"Upgrade": None}, 426, None),
    ({"Connection": "keep-alive"}, 426, None),
    ({"Upgrade": "h2c"}, 426, None),
    ({"Sec-WebSocket-Version": "8"}, 426, None),
    ({"Sec-WebSocket-Version": None}, 426, None),
    ({"Sec-WebSocket-Key": None}, 400, "Sec-WebSocket-Key"),
    ({"Sec-WebSocket-Key": "short=="}, 400, "Sec-WebSocket-Key"),
    ({"Sec-WebSocket-Key": "!!!!!!!!!!!!!!!!!!!!!!=="}, 400, "Sec-WebSocket-Key"),
])
def test_bad_upgrade_requests_get_an_http_error(d, headers, status, param):
    code, head, s, rest = handshake(d, headers=headers)
    s.close()
    assert code == status, head
    if status == 426:
        assert "Sec-WebSocket-Version: 13" in head
    if param:
        assert param in rest.decode("latin-1")
    alive(d)


@pytest.mark.parametrize("query,param", [("", "since"), ("since=x", "since"),
                                         ("since=0&format=xml", "format"),
                                         ("since=0&table=metrics", "table")])
def test_bad_arguments_are_400_before_the_upgrade(d, query, param):
    code, head, s, rest = handshake(d, query=query)
    s.close()
    assert code == 400 and f'"parameter":"{param}"' in rest.decode(), (head, rest)


def test_a_plain_get_is_told_to_upgrade(d):
    code, h, body = get(d, "/v1/changes/ws?since=0")
    assert code == 426 and h["Sec-WebSocket-Version"] == "13"
    assert b"upgrade_required" in body


def current(d):
    return f"since={newest_version(d)}&format=json"


@pytest.mark.parametrize("send,code", [
    (frame(1, b"hello", mask=False), 1002),                 # unmasked client frame
    (frame(1, b"x" * 70000), 1009),                          # bigger than a client may send
    (b"\xff" * 64, None),  # garbage: a close without a status code (the peer sees 1005)
    (frame(9, b"p" * 126), None),                            # control frame over 125 bytes
    (frame(1, b"\xff\xfe", fin=True), 1007),                 # text that is no UTF-8
])
def test_bad_client_frames_get_a_close_code(d, send, code):
    status, head, s, rest = handshake(d, query=current(d))
    assert status == 101
    try:
        s.sendall(send)
        frames = read_frames(s, rest, timeout=10)
    finally:
        s.close()
    assert close_of(frames) and close_of(frames)[0] == code, frames[-3:]
    alive(d)


def test_after_a_protocol_error_the_server_hangs_up(d):
    status, head, s, rest = handshake(d, query=current(d))
    try:
        s.sendall(b"\xff" * 64)
        frames = read_frames(s, rest, timeout=10)
        assert frames and frames[-1][0] == 8
        s.settimeout(10)
        assert s.recv(10) == b""
    finally:
        s.close()
    alive(d)


def test_client_ping_gets_a_pong_and_a_clean_close_is_answered(d):
    status, head, s, rest = handshake(d, query=current(d))
    try:
        s.sendall(frame(9, b"are you there"))
        (op, payload), = read_frames(s, rest, timeout=10, until_close=False, max_frames=1)
        assert op == 10 and payload == b"are you there"
        s.sendall(frame(8, b"\x03\xe8bye"))
        frames = read_frames(s, timeout=10)
        assert close_of(frames)[0] == 1000
        s.settimeout(5)
        assert s.recv(10) == b""  # and the server hangs up
    finally:
        s.close()


def test_a_silent_peer_is_pinged_then_closed(d):
    status, head, s, rest = handshake(d, query=current(d))
    t0 = time.monotonic()
    try:
        frames = read_frames(s, rest, timeout=15)  # reads, but never answers the ping
    finally:
        s.close()
    assert any(op == 9 for op, _ in frames), frames
    code, reason = close_of(frames)
    assert code == 1008 and "no pong" in reason
    assert time.monotonic() - t0 < 10  # idle_timeout 2: a ping at 1 s, closed a second later

    async def polite():  # a client that answers pings stays past the timeout
        async with websockets.connect(f"ws://{d.http}/v1/changes/ws?{current(d)}") as ws:
            await asyncio.sleep(3.5)  # the behaviour under test is time itself: 3 pings
            assert ws.state is websockets.State.OPEN
            p = await ik_async(d, "pin", "add", cid_v0(900))
            assert await asyncio.wait_for(p.wait(), 30) == 0
            return (await recv_json(ws, 1))[0]
    assert run(polite())["cid"] == cid_v0(900)
    alive(d)


def test_websockets_count_against_the_connection_cap(d):
    socks = []
    try:
        for _ in range(8):
            status, head, s, rest = handshake(d, query=current(d))
            assert status == 101
            socks.append(s)
        with pytest.raises(OSError):  # the ninth connection is refused or cut
            code, _, _ = get(d, "/health", timeout=3)
            assert code != 200
            raise OSError("answered")
    finally:
        for s in socks:
            s.close()
    wait_for(lambda: healthy(d), timeout=10, what="health once the WebSockets are gone")
    alive(d)


def test_the_read_token_guards_the_websocket():
    d = http_daemon({"read_token": "read-token-0123456789abcdef"}, asan=False)
    try:
        status, head, s, rest = handshake(d, query="since=0")
        s.close()
        assert status == 401 and b'"parameter":"Authorization"' in rest
        status, head, s, rest = handshake(
            d, query="since=0&format=json",
            headers={"Authorization": "Bearer read-token-0123456789abcdef"})
        s.close()
        assert status == 101
    finally:
        d.cleanup()


def test_a_subscriber_that_never_reads_is_closed_and_others_keep_up():
    d = http_daemon({"idle_timeout": 120})
    try:
        v = newest_version(d)
        status, head, stuck, rest = handshake(d, query=f"since={v}&format=json", rcvbuf=4096)
        assert status == 101
        batches, per = 16, 1500

        async def go():
            async with websockets.connect(f"ws://{d.http}/v1/changes/ws?since={v}&format=json",
                                          max_queue=None) as ws:
                for n in range(batches):
                    path = d.sample(d.p(f"s{n}.jsonl"), per, seed=100 + n)
                    p = await ik_async(d, "pin", "import", path)
                    assert await asyncio.wait_for(p.wait(), 120) == 0
                return len(await recv_json(ws, batches * per, timeout=60))
        assert run(go(), timeout=600) == batches * per  # the reader got everything
        # It was closed (1008, "too slow"); the close frame waits behind what it never read,
        # so after a grace time the socket goes: it sees its frames, maybe the close, the end.
        ended = []
        frames = read_frames(stuck, rest, timeout=60, ended=ended)
        stuck.close()
        assert ended[0] in ("close", "eof", "reset"), ended
        if ended[0] == "close":
            code, reason = close_of(frames)
            assert code == 1008 and "too slow" in reason and "reconnect with since=" in reason
        metrics = get(d, "/metrics")[2].decode()
        assert 'ipfs_kit_ws_closed_total{reason="slow"} 1' in metrics
        alive(d)
        finish(d)
    finally:
        d.cleanup()


def test_frames_stay_whole_when_the_socket_takes_them_piecemeal():
    """A subscriber with a 4 KiB receive buffer, sent a burst of 3000 changes: the server's
    sends stop mid-frame (a frame's header is held and sent with its payload, and what the
    socket did not take goes first next time); every frame must still arrive whole and in
    order, equal to `pin changes`."""
    d = http_daemon({"idle_timeout": 120})
    try:
        v = newest_version(d)
        status, _, s, rest = handshake(d, query=f"since={v}&format=json", rcvbuf=4096)
        assert status == 101
        d.ok("pin", "import", d.sample(d.p("burst.jsonl"), 3000, seed=7))
        expected = [json.loads(line) for line in
                    d.ok("pin", "changes", "--since", v, "--format", "jsonl").stdout.splitlines()]
        assert len(expected) == 3000
        frames = read_frames(s, rest, timeout=120, until_close=False, max_frames=len(expected))
        s.close()
        assert [op for op, _ in frames] == [1] * len(expected)
        assert [json.loads(p) for _, p in frames] == expected
        alive(d)
        finish(d)
    finally:
        d.cleanup()
