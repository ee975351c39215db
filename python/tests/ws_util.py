"""Helpers for the change feed tests over HTTP and WebSocket (test_http_changes.py,
test_http_ws*.py): a raw RFC 6455 client on a plain socket, to send what a good client never
sends (unmasked frames, oversized frames, garbage) and to not read; and small asyncio helpers
around the `websockets` client. Every wait has a timeout."""
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def handshake(d, query="since=0&format=json", headers=None, rcvbuf=None, timeout=10):
    """Opens /v1/changes/ws?query on a raw socket: (status, response head, socket, bytes read
    past the head). `headers` replace the default handshake headers (None drops one)."""
    host, port = d.http.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    h = {"Host": d.http, "Upgrade": "websocket", "Connection": "Upgrade",
         "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
    h.update(headers or {})
    req = f"GET /v1/changes/ws?{query} HTTP/1.1\r\n"
    req += "".join(f"{k}: {v}\r\n" for k, v in h.items() if v is not None) + "\r\n"
    s.sendall(req.encode())
    got = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in got and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    head, _, rest = got.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else None
    if status == 101:
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
        assert b"Sec-WebSocket-Accept: " + want in head, head
    return status, head.decode("latin-1"), s, rest


def frame(opcode, payload=b"", mask=True, fin=True):
    """A client frame (masked unless told otherwise)."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def parse_frames(buf, at=0):
    """The complete server frames in buf[at:]: ([(opcode, payload)], the offset after them)."""
    frames = []
    while len(buf) - at >= 2:
        n, h = buf[at + 1] & 0x7F, 2
        if n == 126:
            if len(buf) - at < 4:
                break
            n, h = struct.unpack("!H", buf[at + 2:at + 4])[0], 4
        elif n == 127:
            if len(buf) - at < 10:
                break
            n, h = struct.unpack("!Q", buf[at + 2:at + 10])[0], 10
        assert not buf[at + 1] & 0x80, "a server frame must not be masked"
        if len(buf) - at < h + n:
            break
        frames.append((buf[at] & 0x0F, bytes(buf[at + h:at + h + n])))
        at += h + n
    return frames, at


def read_frames(s, buf=b"", timeout=10, until_close=True, max_frames=None, ended=None):
    """Server frames [(opcode, payload)] read from `s` until a close frame (or EOF, a reset, the
    timeout, or max_frames). `ended` (a list) receives why reading stopped."""
    frames, at = [], 0
    buf = bytearray(buf)
    deadline = time.monotonic() + timeout
    why = "timeout"
    while time.monotonic() < deadline:
        got, at = parse_frames(buf, at)
        for f in got:
            frames.append(f)
            if (f[0] == 8 and until_close) or (max_frames and len(frames) >= max_frames):
                if ended is not None:
                    ended.append("close" if f[0] == 8 else "max_frames")
                return frames
        if at > (1 << 20):
            del buf[:at]
            at = 0
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            break
        except ConnectionResetError:
            why = "reset"
            break
        if not chunk:
            why = "eof"
            break
        buf += chunk
    if ended is not None:
        ended.append(why)
    return frames


def close_of(frames):
    """(code, reason) of the last frame when it is a close frame, else None."""
    if not frames or frames[-1][0] != 8:
        return None
    p = frames[-1][1]
    return (struct.unpack("!H", p[:2])[0], p[2:].decode()) if len(p) >= 2 else (None, "")


def newest_version(d):
    from http_util import get
    code, h, _ = get(d, "/v1/changes?since=0", {"Accept": "application/json"})
    assert code == 200
    return int(h["X-Ipfs-Kit-Version"])


def run(coro, timeout=60):
    """Runs a coroutine with an overall deadline."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def recv_json(ws, n, timeout=20):
    """The next n JSON text frames."""
    out = []
    for _ in range(n):
        msg = await asyncio.wait_for(ws.recv(), timeout)
        assert isinstance(msg, str)
        out.append(json.loads(msg))
    return out


def ik_async(d, *args):
    """Starts the CLI against `d` as another process (asyncio)."""
    from conftest import BIN
    return asyncio.create_subprocess_exec(BIN, *map(str, args), env=d.env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
