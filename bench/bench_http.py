#!/usr/bin/env python3
"""HTTP benchmark (`make bench`; issue 17's targets): on a daemon holding PINS pins,
- `GET /pin-index-arrow?limit=100` p50 against a bare `GET /health` round trip: cached (the
  same request again: the response cache) and uncached (a new offset every request, so the
  query, the IPC stream and the response are made each time), the three requests alternating
  one by one on one keep-alive connection (bench-http-load alt) so they share the machine's
  load; the ratio per round, then its median;
- whole-table throughput over loopback, uncompressed and with lz4 / zstd IPC buffer compression,
  and the same table served from memory by a pyarrow-based HTTP server in the shape of Arrow's
  Arrow-over-HTTP examples (bench/pyarrow_http_server.py), read by the same client;
- `GET /health` per second with 64 keep-alive clients;
- the bytes the server copied for those Arrow bodies (/metrics, ipfs_kit_http_arrow_bytes_total).
The client is build/bench-http-load (C, epoll, reads responses by their framing into a reused
buffer). Results: bench/results/http-<timestamp>.json and bench/results/http-latest.md, read
by `make bench-check`. Asserts nothing.

Usage: .venv/bin/python bench/bench_http.py [PINS] (default 1,000,000; 100,000 with
BENCH_QUICK=1); bench/bench_http.py --report RESULTS.json prints a saved run's tables."""
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "build", "ipfs-kit")
LOAD = os.path.join(ROOT, "build", "bench-http-load")
RESULTS = os.path.join(ROOT, "bench", "results")
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
ARROW = "application/vnd.apache.arrow.stream"


def cli(path, *args):
    r = subprocess.run([CLI, "--path", path, *map(str, args)], capture_output=True, timeout=900)
    if r.returncode:
        sys.exit(f"{args}: {r.stderr.decode()}")
    return r.stdout


def load(*args):
    r = subprocess.run([LOAD, *map(str, args)], capture_output=True, text=True, timeout=600)
    if r.returncode:
        sys.exit(f"bench-http-load {args}: {r.stderr}")
    return json.loads(r.stdout)


def arrow_bytes(addr):
    """ipfs_kit_http_arrow_bytes_total by kind, from /metrics."""
    import urllib.request
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=30) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("ipfs_kit_http_arrow_bytes_total{"):
            kind = line.split('kind="', 1)[1].split('"', 1)[0]
            out[kind] = int(float(line.rsplit(" ", 1)[1]))
    return out


def copied_by(addr, path, accept=ARROW):
    """Bytes referenced / copied for one request of `path`."""
    before = arrow_bytes(addr)
    load("get", addr, path, 1, accept)
    after = arrow_bytes(addr)
    return {k: after[k] - before.get(k, 0) for k in after}


def latency(addr, res, rounds, n):
    """Rounds of /health, the cached limit=100 and an uncached one (a new offset each request,
    so never the response cache), alternating request by request on one connection: the three
    are timed under the same load. The ratio is taken per round, then its median."""
    h, q, u, ratios, uratios = [], [], [], [], []
    for _ in range(rounds):
        a, b, c = (x["p50_us"] for x in load("alt", addr, n, "/health",
                                               "/pin-index-arrow?limit=100",
                                               "/pin-index-arrow?limit=100&offset={i}"))
        h.append(a)
        q.append(b)
        u.append(c)
        ratios.append(b / a)
        uratios.append(c / a)
    res["latency"] = {"health_p50_us": statistics.median(h), "q100_p50_us": statistics.median(q),
                      "ratio": statistics.median(ratios), "ratios": ratios, "rounds": rounds,
                      "q100_uncached_p50_us": statistics.median(u),
                      "uncached_ratio": statistics.median(uratios), "uncached_ratios": uratios,
                      "requests_per_round": n, "method": "alt"}


def pyarrow_server(stream_file, tmp):
    portfile = os.path.join(tmp, "port")
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "pyarrow_http_server.py"),
                          stream_file, portfile])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if os.path.exists(portfile) and open(portfile).read().strip():
            return p, "127.0.0.1:" + open(portfile).read().strip()
        if p.poll() is not None:
            sys.exit("pyarrow_http_server.py exited")
        time.sleep(0.1)
    p.kill()
    sys.exit("pyarrow_http_server.py did not start in 120 s")


def throughput(addr, res, tmp, reps):
    out = {}
    for codec in ("lz4", "zstd"):
        out[codec] = load("get", addr, "/pin-index-arrow", reps, ARROW + f'; codecs="{codec}"')
    stream_file = os.path.join(tmp, "table.arrows")
    import urllib.request
    with urllib.request.urlopen(f"http://{addr}/pin-index-arrow", timeout=300) as r, \
            open(stream_file, "wb") as f:
        shutil.copyfileobj(r, f, 1 << 20)
    # ours and pyarrow's server alternately, one download each per round, so that both meet
    # the same moments of a shared machine; the ratio is also taken per round
    p, paddr = pyarrow_server(stream_file, tmp)
    ours, theirs = [], []
    try:
        for _ in range(reps):
            ours.append(load("get", addr, "/pin-index-arrow", 1, ARROW))
            theirs.append(load("get", paddr, "/", 1))
    finally:
        p.kill()
        p.wait()

    def summary(runs):
        times = sorted(r["best_s"] for r in runs)
        return {"reps": len(runs), "bytes": runs[0]["bytes"], "best_s": times[0],
                "p50_s": statistics.median(times), "mb_per_s": runs[0]["bytes"] / times[0] / 1e6,
                "times_s": [r["best_s"] for r in runs]}
    out["none"], out["pyarrow_server"] = summary(ours), summary(theirs)
    out["vs_pyarrow_rounds"] = [b["best_s"] / a["best_s"] for a, b in zip(ours, theirs)]
    import pyarrow as pa
    with pa.memory_map(stream_file) as f:
        out["rows"] = pa.ipc.open_stream(f).read_all().num_rows
    out["vs_pyarrow"] = out["none"]["best_s"] and out["pyarrow_server"]["best_s"] / \
        out["none"]["best_s"]
    res["throughput"] = out


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--report":  # the markdown of a saved run
        with open(sys.argv[2]) as f:
            print(report(json.load(f)))
        return
    pins = int(sys.argv[1]) if len(sys.argv) > 1 else (100_000 if QUICK else 1_000_000)
    res = {"when": datetime.datetime.now(datetime.timezone.utc).isoformat(), "pins": pins,
           "quick": QUICK, "loadavg_start": os.getloadavg(), "cores": os.cpu_count(),
           "client": "build/bench-http-load (C, epoll, keep-alive)"}
    tmp = tempfile.mkdtemp(prefix="ikbh", dir="/tmp")
    path = os.path.join(tmp, "d")
    os.mkdir(path, 0o700)
    try:
        with open(os.path.join(path, "config.json"), "w") as f:
            json.dump({"http": {"listen": "127.0.0.1:0", "max_connections": 128}}, f)
        cli(path, "arrow", "sample-pins", os.path.join(tmp, "s.arrow"), "--rows", pins)
        cli(path, "daemon", "start")
        cli(path, "pin", "import", os.path.join(tmp, "s.arrow"))
        addr = json.loads(cli(path, "daemon", "status", "--format", "json"))["http"]
        load("lat", addr, "/pin-index-arrow?limit=100", 500)  # warm up
        latency(addr, res, 5 if QUICK else 9, 500 if QUICK else 2000)
        res["copies"] = {"limit100": copied_by(addr, "/pin-index-arrow?limit=100"),
                         "limit100_offset": copied_by(addr,
                                                      "/pin-index-arrow?limit=100&offset=12345"),
                         "whole": copied_by(addr, "/pin-index-arrow")}
        throughput(addr, res, tmp, 3 if QUICK else 7)
        res["health_load"] = load("load", addr, "/health", 64, 3 if QUICK else 8)
    finally:
        subprocess.run([CLI, "--path", path, "daemon", "stop"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    res["loadavg_end"] = os.getloadavg()
    text = report(res)
    print(text)
    os.makedirs(RESULTS, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    with open(os.path.join(RESULTS, f"http-{stamp}.json"), "w") as f:
        json.dump(res, f, indent=2)
    with open(os.path.join(RESULTS, "http-latest.md"), "w") as f:
        f.write(text)


def report(res):
    lat, th, hl = res["latency"], res["throughput"], res["health_load"]
    la0, la1 = res["loadavg_start"][0], res["loadavg_end"][0]
    def met(r):
        return "yes" if r <= 2 else "no"

    def spread(rs):
        return f"{min(rs):.2f}–{max(rs):.2f}" if rs else ""

    lines = [f"## HTTP ({res['pins']:,} pins; load average {la0:.2f} → {la1:.2f} on "
             f"{res['cores']} shared cores; client {res['client']})\n",
             f"{lat['rounds']} rounds of {lat['requests_per_round']} × 3 requests on one "
             "keep-alive connection, alternating request by request: /health, the same "
             "limit=100 query (served from the response cache), and limit=100 at a new offset "
             "every time (never cached: the query, the IPC stream and the response are made "
             "for it). The ratio is taken per round against that round's /health p50, then "
             "its median.\n",
             "| request | p50 µs | ratio to /health (median; min–max of rounds) | target | met |",
             "|---|---|---|---|---|",
             f"| GET /health | {lat['health_p50_us']:.1f} | 1.00 | | |",
             f"| GET /pin-index-arrow?limit=100, cached (the same request repeated) | "
             f"{lat['q100_p50_us']:.1f} | {lat['ratio']:.2f}× ({spread(lat['ratios'])}) | ≤ 2× | "
             f"{met(lat['ratio'])} |",
             f"| **GET /pin-index-arrow?limit=100&offset=i, uncached (a new query each time)** | "
             f"{lat['q100_uncached_p50_us']:.1f} | **{lat['uncached_ratio']:.2f}×** "
             f"({spread(lat.get('uncached_ratios', []))}) | ≤ 2× | "
             f"{met(lat['uncached_ratio'])} |",
             "", "| whole table | MB | best s | MB/s (best) | MB/s (p50) | target |",
             "|---|---|---|---|---|---|"]
    for k, label in (("none", "uncompressed"), ("lz4", "lz4"), ("zstd", "zstd"),
                     ("pyarrow_server", "pyarrow http.server (from memory)")):
        t = th[k]
        target = {"none": "≥ 1000 MB/s; ≥ 2× pyarrow"}.get(k, "")
        lines.append(f"| {label} | {t['bytes'] / 1e6:.1f} | {t['best_s']:.4f} | "
                     f"{t['mb_per_s']:.0f} | {t['bytes'] / 1e6 / t['p50_s']:.0f} | {target} |")
    p50x = th["pyarrow_server"]["p50_s"] / th["none"]["p50_s"]
    rounds = th.get("vs_pyarrow_rounds")
    per_round = (f"; per round (alternating downloads) median {statistics.median(rounds):.2f}×, "
                 f"{min(rounds):.2f}–{max(rounds):.2f}×" if rounds else "")
    lines += ["", f"ipfs-kit / pyarrow server: {th['vs_pyarrow']:.2f}× best to best, {p50x:.2f}× "
              f"p50 to p50{per_round} ({th['rows']:,} rows)",
              "", f"GET /health with {hl['conns']} keep-alive clients: {hl['rps']:,.0f}/s "
              f"(p50 {hl['p50_us']:.0f} µs, p99 {hl['p99_us']:.0f} µs, {hl['errors']} errors; "
              "target ≥ 10,000/s)", "",
              "Arrow body bytes per request (/metrics ipfs_kit_http_arrow_bytes_total):", "",
              "| request | referenced | gathered | copied | framing |", "|---|---|---|---|---|"]
    for k in ("limit100", "limit100_offset", "whole"):
        c = res["copies"].get(k)
        if c is None:
            continue
        lines.append(f"| {k} | {c.get('referenced', 0):,} | {c.get('gathered', 0):,} | "
                     f"{c.get('copied', 0):,} | {c.get('framing', 0):,} |")
    lines += ["", "gathered: a body of 64 KiB or less is one buffer sent with its headers in one "
              "sendmsg (docs/http.md); copied: rows made for the response (rebased offsets, "
              "shifted bitmaps of a slice that starts inside a byte)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
