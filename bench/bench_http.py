#!/usr/bin/env python3
"""HTTP benchmark (issue 17's targets, small): the p50 of `GET /pin-index-arrow?limit=100`
against a bare `GET /health` round trip on the same keep-alive connection, and whole-table
throughput (uncompressed, lz4, zstd) over loopback. The client is a raw socket reading the
response by its framing, so Python's http.client does not dominate the times.

Usage: .venv/bin/python bench/bench_http.py [PINS] (default 100000; the table is imported
from `arrow sample-pins`). Prints a markdown table; asserts nothing."""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "build", "ipfs-kit")


def cli(path, *args):
    r = subprocess.run([CLI, "--path", path, *map(str, args)], capture_output=True, timeout=600)
    if r.returncode:
        sys.exit(f"{args}: {r.stderr.decode()}")
    return r.stdout


class Conn:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def get(self, path, accept="application/vnd.apache.arrow.stream"):
        self.s.sendall(f"GET {path} HTTP/1.1\r\nHost: b\r\nAccept: {accept}\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        headers = head.decode().lower()
        if "transfer-encoding: chunked" in headers:
            body = bytearray()
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                line, rest = self.buf.split(b"\r\n", 1)
                n = int(line, 16)
                while len(rest) < n + 2:
                    self._fill()
                    line, rest = self.buf.split(b"\r\n", 1)
                body += rest[:n]
                self.buf = rest[n + 2:]
                if n == 0:
                    return bytes(body)
        n = int(headers.split("content-length: ", 1)[1].split("\r\n", 1)[0])
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return body


def p50_us(conn, path, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        conn.get(path)
        times.append((time.perf_counter() - t) * 1e6)
    return statistics.median(times)


def main():
    pins = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    path = tempfile.mkdtemp(prefix="ikbh", dir="/tmp")
    try:
        with open(os.path.join(path, "config.json"), "w") as f:
            json.dump({"http": {"listen": "127.0.0.1:0"}}, f)
        cli(path, "arrow", "sample-pins", os.path.join(path, "s.arrow"), "--rows", pins)
        cli(path, "daemon", "start")
        cli(path, "pin", "import", os.path.join(path, "s.arrow"))
        st = json.loads(cli(path, "daemon", "status").decode().strip().splitlines()[-1])
        c = Conn(st["http"])
        for _ in range(200):
            c.get("/health")
            c.get("/pin-index-arrow?limit=100")
        health = p50_us(c, "/health", 2000)
        q100 = p50_us(c, "/pin-index-arrow?limit=100", 2000)
        print(f"| {pins} pins | p50 µs | ratio to /health |\n|---|---|---|")
        print(f"| GET /health | {health:.1f} | 1.00 |")
        print(f"| GET /pin-index-arrow?limit=100 | {q100:.1f} | {q100 / health:.2f} |")
        print("\n| whole table | MB | s (best of 5) | MB/s |\n|---|---|---|---|")
        for codec in (None, "lz4", "zstd"):
            accept = "application/vnd.apache.arrow.stream"
            if codec:
                accept += f'; codecs="{codec}"'
            best, size = 1e9, 0
            for _ in range(5):
                t = time.perf_counter()
                size = len(c.get("/pin-index-arrow", accept))
                best = min(best, time.perf_counter() - t)
            print(f"| {codec or 'uncompressed'} | {size / 1e6:.1f} | {best:.4f} | "
                  f"{size / 1e6 / best:.0f} |")
    finally:
        subprocess.run([CLI, "--path", path, "daemon", "stop"], capture_output=True)
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
