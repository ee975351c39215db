#!/usr/bin/env python3
"""WebSocket change feed benchmark (issue 17's target, `make bench`): one change fanned out to
100 subscribers of GET /v1/changes/ws, and `pin add` → subscriber latency.

A daemon serves a fresh store (PINS sample pins) on a free loopback port; SUBS raw WebSocket
subscribers (plain sockets after the RFC 6455 handshake, read with epoll so the client costs
microseconds, not the `websockets` library's milliseconds) follow from the newest version.
Each round sends one `pin_add` on the daemon's unix socket and timestamps, per subscriber, the
arrival of the change's frame (CLOCK_MONOTONIC, same machine):
- fan-out: arrival at each subscriber minus the first arrival of that change (the spread the
  server adds to reach all SUBS), p50/p99 over every subscriber and round; target p99 <= 10 ms;
- pin add -> subscriber: arrival minus the moment the pin_add request was sent (commit,
  publish, the hub's store read, the send), p50/p99 over every subscriber and round, and the
  same for the last subscriber of each round; the target for one subscriber is <= 100 ms.

Usage: .venv/bin/python bench/bench_ws.py   (BENCH_QUICK=1: fewer rounds; BENCH_WS_SUBS,
BENCH_WS_ROUNDS, BENCH_WS_PINS override). Prints a markdown table and writes it to
bench/results/ws_latest.md; asserts nothing."""
import base64
import json
import os
import select
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python", "tests"))
from ws_util import parse_frames  # noqa: E402  (the tests' RFC 6455 frame parser)
BIN = os.environ.get("IPFS_KIT_BIN", os.path.join(ROOT, "build", "ipfs-kit"))
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
SUBS = int(os.environ.get("BENCH_WS_SUBS", "100"))
ROUNDS = int(os.environ.get("BENCH_WS_ROUNDS", "30" if QUICK else "200"))
PINS = int(os.environ.get("BENCH_WS_PINS", "1000" if QUICK else "100000"))


def cli(env, *args, timeout=600):
    r = subprocess.run([BIN, *map(str, args)], env=env, capture_output=True, timeout=timeout)
    if r.returncode:
        sys.exit(f"{args}: {r.stderr.decode()}")
    return r.stdout


def cid_v0(n):
    """A valid CIDv0 for n (base58btc of 0x12 0x20 + a 32-byte digest)."""
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    raw = bytes([0x12, 0x20]) + n.to_bytes(32, "big")
    v = int.from_bytes(raw, "big")
    out = ""
    while v:
        v, r = divmod(v, 58)
        out = alphabet[r] + out
    return out


def subscribe(addr, since):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /v1/changes/ws?since={since}&format=json HTTP/1.1\r\nHost: b\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(4096)
    assert got.startswith(b"HTTP/1.1 101"), got[:200]
    s.setblocking(False)
    return s, bytearray(got.split(b"\r\n\r\n", 1)[1])


def pin_add(sock_path, cid):
    body = json.dumps({"v": 1, "op": "pin_add", "pin": {"cid": cid}}).encode()
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.connect(sock_path)
    t0 = time.monotonic()
    u.sendall(struct.pack("<I", len(body)) + body)
    return u, t0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    path = tempfile.mkdtemp(prefix="ikws", dir="/tmp")
    env = dict(os.environ, IPFS_KIT_PATH=path)
    subs = []
    try:
        with open(os.path.join(path, "config.json"), "w") as f:
            json.dump({"http": {"listen": "127.0.0.1:0", "max_connections": SUBS + 16}}, f)
        cli(env, "arrow", "sample-pins", os.path.join(path, "s.jsonl"), "--rows", PINS)
        cli(env, "pin", "import", os.path.join(path, "s.jsonl"))
        cli(env, "daemon", "start", "--timeout", "60")
        st = json.loads(cli(env, "daemon", "status", "--format", "json"))
        addr, since = st["http"], st["snapshot_version"]
        subs = [subscribe(addr, since) for _ in range(SUBS)]
        ep = select.epoll()
        for i, (s, _) in enumerate(subs):
            ep.register(s.fileno(), select.EPOLLIN)
        by_fd = {s.fileno(): i for i, (s, _) in enumerate(subs)}
        fan, e2e, last = [], [], []
        for r in range(ROUNDS):
            cid = cid_v0(10_000_000 + r)
            u, t0 = pin_add(os.path.join(path, "daemon.sock"), cid)
            arrived = {}
            deadline = time.monotonic() + 10
            while len(arrived) < SUBS and time.monotonic() < deadline:
                for fd, _ in ep.poll(0.5):
                    now = time.monotonic()
                    i = by_fd[fd]
                    s, buf = subs[i]
                    buf += s.recv(1 << 16)
                    got, used = parse_frames(buf)
                    del buf[:used]
                    for op, payload in got:
                        if op == 1 and json.loads(payload)["cid"] == cid and i not in arrived:
                            arrived[i] = now
            u.close()
            if len(arrived) < SUBS:
                sys.exit(f"round {r}: {len(arrived)} of {SUBS} subscribers got the change")
            first = min(arrived.values())
            fan += [(t - first) * 1000 for t in arrived.values()]
            e2e += [(t - t0) * 1000 for t in arrived.values()]
            last.append((max(arrived.values()) - t0) * 1000)
        rows = [
            ("fan-out of one change to %d subscribers (arrival - first arrival)" % SUBS,
             statistics.median(fan), pct(fan, 99), "p99 <= 10 ms", pct(fan, 99) <= 10),
            ("pin add -> subscriber (every subscriber)", statistics.median(e2e), pct(e2e, 99),
             "<= 100 ms", pct(e2e, 99) <= 100),
            ("pin add -> last of %d subscribers" % SUBS, statistics.median(last),
             pct(last, 99), "", None),
        ]
        out = [f"WebSocket change feed: {SUBS} subscribers, {ROUNDS} rounds, {PINS} pins in "
               "the store (bench/bench_ws.py)", "",
               "| measure | p50 ms | p99 ms | target | met |", "|---|---|---|---|---|"]
        for name, p50, p99, target, met in rows:
            out.append(f"| {name} | {p50:.2f} | {p99:.2f} | {target} | "
                       f"{'' if met is None else ('yes' if met else 'no')} |")
        text = "\n".join(out) + "\n"
        print(text)
        os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
        with open(os.path.join(ROOT, "bench", "results", "ws_latest.md"), "w") as f:
            f.write(text)
    finally:
        for s, _ in subs:
            s.close()
        subprocess.run([BIN, "daemon", "stop", "--timeout", "30"], env=env, capture_output=True,
                       timeout=60)
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
