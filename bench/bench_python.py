#!/usr/bin/env python3
"""Python binding benchmark (standalone; not a test, asserts no time).

Starts a daemon on a temporary data directory with 1,000,000 sample pins, then measures:
  1. Client.pins(limit=100) -> pa.table(...): p50/p90/p99 (target p50 <= 30 us)
  2. Client.pins() of all 1M pins -> pa.table(...): p50 (target <= 150 us)
  3. the same rows at 100, 10k and 1M pins against IPFS-Kit's path: an Arrow IPC file read
     with ordinary reads (RecordBatchFileReader over open()) + Table.to_pylist(), which is
     what its arrow_ipc_daemon_interface did with the file its daemon wrote (that write is
     not counted here, in IPFS-Kit's favour); printed as ratios.
Results go to bench/results/python.md (and stdout).

Usage: python bench/bench_python.py [--pins N] [--out PATH]
Needs: build/ipfs-kit (make all) and ipfs_kit_arrow installed (pip install ./python).
"""
import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.ipc as ipc

import ipfs_kit_arrow as ika

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("IPFS_KIT_BIN", os.path.join(ROOT, "build", "ipfs-kit"))


def cli(path, *args):
    subprocess.run([BIN, "--path", path, *map(str, args)], check=True, capture_output=True)


def samples(fn, n, warmup=50):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        out.append(time.perf_counter_ns() - t0)
    out.sort()
    return out


def pct(s, p):
    return s[min(len(s) - 1, int(len(s) * p))] / 1000.0  # us


def fmt_us(us):
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    return f"{us:.1f} µs"


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python " \
           f"{platform.python_version()}, pyarrow {pa.__version__}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pins", type=int, default=1_000_000)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "python.md"))
    a = ap.parse_args()
    path = tempfile.mkdtemp(prefix="ikbench", dir="/tmp")
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    try:
        t0 = time.perf_counter()
        src = os.path.join(path, "sample.arrow")
        cli(path, "arrow", "sample-pins", src, "--rows", a.pins, "--to", "file")
        cli(path, "daemon", "start")
        cli(path, "pin", "import", src, "--format", "arrow")
        os.unlink(src)
        print(f"setup: {a.pins} pins imported in {time.perf_counter() - t0:.1f} s", flush=True)
        c = ika.connect(path)
        r = c.pins(limit=100)
        assert r.method == "zero_copy" and pa.table(r).num_rows == 100

        say("# Python binding benchmark")
        say()
        say(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; {machine()}; "
            f"`python bench/bench_python.py` (`--pins {a.pins}`). Times are wall clock per call;"
            " no assertion on time.")
        say()
        say("## Client.pins → pa.table (zero_copy from the running daemon)")
        say()
        say("| query | p50 | p90 | p99 | target |")
        say("|---|---|---|---|---|")
        s = samples(lambda: pa.table(c.pins(limit=100)), 5000, warmup=200)
        say(f"| `pa.table(c.pins(limit=100))` | {fmt_us(pct(s, .5))} | {fmt_us(pct(s, .9))} | "
            f"{fmt_us(pct(s, .99))} | p50 ≤ 30 µs |")
        s2 = samples(lambda: c.pins(limit=100), 5000, warmup=200)
        say(f"| `c.pins(limit=100)` alone | {fmt_us(pct(s2, .5))} | {fmt_us(pct(s2, .9))} | "
            f"{fmt_us(pct(s2, .99))} | |")
        rr = c.pins(limit=100)
        s3 = samples(lambda: pa.table(rr), 5000, warmup=200)
        say(f"| `pa.table(result)` alone | {fmt_us(pct(s3, .5))} | {fmt_us(pct(s3, .9))} | "
            f"{fmt_us(pct(s3, .99))} | |")
        s4 = samples(lambda: pa.table(c.pins()), 500, warmup=20)
        say(f"| `pa.table(c.pins())`, all {a.pins:,} pins | {fmt_us(pct(s4, .5))} | "
            f"{fmt_us(pct(s4, .9))} | {fmt_us(pct(s4, .99))} | p50 ≤ 150 µs |")
        tm = [c.pins(limit=100).timings for _ in range(1000)]
        med = {k: statistics.median(t[k] for t in tm) * 1000 for k in tm[0]}
        say()
        say("Inside `c.pins(limit=100)` (the C library's own timings, median): "
            + ", ".join(f"{k} {v:.1f} µs" for k, v in med.items()) + ".")

        say()
        say("## Versus IPFS-Kit's path (IPC file, ordinary reads, to_pylist)")
        say()
        say("Ours: `pa.table(c.pins(limit=n))`. IPFS-Kit's: `RecordBatchFileReader(open(f)).read_all()"
            ".to_pylist()` on an IPC file of the same n rows (the daemon's write of that file "
            "not counted). Median of the runs shown.")
        say()
        say("| pins | ours | IPFS-Kit's path | ratio |")
        say("|---|---|---|---|")
        for n in (100, 10_000, a.pins):
            if n > a.pins:
                continue
            f = os.path.join(path, f"ipfskit-{n}.arrow")
            t = pa.table(c.pins(limit=n))
            with ipc.new_file(f, t.schema) as w:
                w.write_table(t)
            reps = 2000 if n <= 100 else 200 if n <= 10_000 else 3

            def theirs():
                with open(f, "rb") as fh:
                    rows = ipc.RecordBatchFileReader(fh).read_all().to_pylist()
                assert len(rows) == n
            ours_s = samples(lambda: pa.table(c.pins(limit=n)), max(reps, 200), warmup=20)
            theirs_s = samples(theirs, reps, warmup=1 if n > 10_000 else 5)
            o, t_ = pct(ours_s, .5), pct(theirs_s, .5)
            say(f"| {n:,} | {fmt_us(o)} | {fmt_us(t_)} ({reps} runs) | {t_ / o:,.0f}× faster |")
        c.close()
    finally:
        subprocess.run([BIN, "--path", path, "daemon", "stop"], capture_output=True)
        shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"\nwritten to {os.path.relpath(a.out, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
