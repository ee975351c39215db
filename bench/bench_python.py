#!/usr/bin/env python3
"""Python binding benchmark (standalone; not a test, asserts no time).

Starts a daemon on a temporary data directory with 1,000,000 sample pins, then measures:
  1. Client.pins(limit=100) -> pa.table(...): p50/p90/p99 (target p50 <= 30 us)
  2. Client.pins() of all 1M pins -> pa.table(...): p50 (target <= 150 us)
  3. the same rows at 100, 10k and 1M pins against IPFS-Kit's path: an Arrow IPC file read
     with ordinary reads (RecordBatchFileReader over open()) + Table.to_pylist(), which is
     what its arrow_ipc_daemon_interface did with the file its daemon wrote (that write is
     not counted here, in IPFS-Kit's favour); printed as ratios.
  4. writes and fork: Client.import_pins of 100,000 sample pins from a pyarrow Table into a
     fresh data directory with its daemon running (target <= 0.2 s) beside `ipfs-kit pin
     import` of the same pins as an Arrow file, each with its wall time and the CPU seconds it
     cost (daemon + CLI; load changes them less than wall time), one CLI import of 1,000,000
     pins with no daemon (not with --quick); and fork-then-query: a child forked from a
     process whose Client is in use runs pa.table(c.pins(limit=100)) — from fork() to the
     child's rows, and the child's first query alone (it reconnects).
Results go to bench/results/python.md (and stdout).

Usage: python bench/bench_python.py [--pins N] [--out PATH] [--only writes]
Needs: build/ipfs-kit (make all) and ipfs_kit_arrow installed (pip install ./python).

`--suite DIR --pins N --json OUT [--jsonl F] [--quick]` is the mode bench/run.py (make bench)
uses: against the daemon already running on DIR (N pins), it measures each of the Python paths
and alternatives below with min/p50/p99 and writes one JSON object to OUT:
  zero-copy pa.table(c.pins(limit=100)) (the first on a new Client labelled cold) and of the
  whole table; the whole table into pyarrow, polars and DuckDB, and
  `group by backend, sum(size_bytes)` in each; the same query in SQLite (python sqlite3 on
  DIR/pins.db, read-only); SQLite `select * ... limit 100` and the whole table; JSON parsing of
  the same rows (a jsonl file, json.loads and orjson.loads per line); IPFS-Kit's path (IPC file
  read with ordinary reads + to_pylist).
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


def proc_cpu(pid):
    """User + system CPU seconds of a running process (its /proc stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def daemon_pid(path):
    with open(os.path.join(path, "daemon.lock")) as f:
        return int(f.read().split()[0])


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


def measure(fn, n, max_s, warmup=1):
    """Runs fn up to n times within about max_s seconds (at least 3 times, or once when one
    call alone takes over max_s / 3): {'min','p50','p99','n'} in microseconds."""
    out = []
    t0 = time.perf_counter_ns()
    for _ in range(max(warmup, 1)):
        fn()
    first = (time.perf_counter_ns() - t0) / 1e9 / max(warmup, 1)
    if warmup == 0:  # the one call was a sample
        out.append(first * 1e6)
    least = 1 if first * 3 > max_s else 3
    deadline = time.perf_counter() + max_s
    while len(out) < n and (len(out) < least or time.perf_counter() < deadline):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1000.0)
    out.sort()
    return {"min": out[0], "p50": out[len(out) // 2],
            "p99": out[min(len(out) - 1, int((len(out) - 1) * 0.99))], "n": len(out)}


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def suite(a):
    """One store's Python measurements for bench/run.py (see the module docstring)."""
    import json
    import sqlite3
    import duckdb
    import polars as pl
    try:
        import orjson
    except ImportError:
        orjson = None
    n = a.pins
    big = n >= 1_000_000
    S = 0.6 if a.quick else 2.0          # seconds per measurement, small results
    L = 3.0 if a.quick else 8.0          # seconds per measurement, whole-table alternatives
    res = {"pins": n}

    class Wrap:  # pyarrow's own first-use costs (imports, capsule machinery) are not ours
        def __arrow_c_stream__(self, requested_schema=None):
            return pa.table({"x": [1]}).__arrow_c_stream__(requested_schema)
    pa.table(Wrap())

    # cold: the first query of a new Client (new connection, new mapping)
    c = ika.connect(a.suite)
    t0 = time.perf_counter_ns()
    pa.table(c.pins(limit=100))
    res["zc_limit100_cold_us"] = (time.perf_counter_ns() - t0) / 1000.0
    r = c.pins(limit=100)
    assert r.method == "zero_copy", r.method
    res["zc_limit100"] = measure(lambda: pa.table(c.pins(limit=100)), 3000, S, warmup=50)
    res["zc_limit100_detail"] = c.pins(limit=100).detail  # "page": no round trip
    # the same with a round trip to the daemon on every query (watch=False)
    rt = ika.connect(a.suite, watch=False)
    res["zc_limit100_rt"] = measure(lambda: pa.table(rt.pins(limit=100)), 3000, S, warmup=50)
    res["zc_limit100_rt_detail"] = rt.pins(limit=100).detail
    res["zc_all_rt"] = measure(lambda: pa.table(rt.pins()), 1000, S, warmup=5)
    rt.close()
    res["zc_all"] = measure(lambda: pa.table(c.pins()), 1000, S, warmup=5)
    rss0 = rss_kib()
    held = pa.table(c.pins())
    res["zc_all_rss_growth_kib"] = rss_kib() - rss0
    del held

    # into each frame library, then the group-by in each (all including c.pins())
    def into_polars():
        return pl.DataFrame(c.pins())

    def into_duckdb():
        r = c.pins()
        return duckdb.sql("select count(*) from r").fetchall()

    def gb_pyarrow():
        return pa.table(c.pins()).group_by("backend").aggregate([("size_bytes", "sum")])

    def gb_polars():
        return pl.DataFrame(c.pins()).group_by("backend").agg(pl.col("size_bytes").sum())

    def gb_duckdb():
        r = c.pins()
        return duckdb.sql("select backend, sum(size_bytes) from r group by backend").fetchall()

    res["into_polars"] = measure(into_polars, 200, L if big else S)
    res["into_duckdb"] = measure(into_duckdb, 200, L if big else S)
    res["groupby_pyarrow"] = measure(gb_pyarrow, 200, L if big else S)
    res["groupby_polars"] = measure(gb_polars, 200, L if big else S)
    res["groupby_duckdb"] = measure(gb_duckdb, 200, L if big else S)

    # SQLite, read-only, on the same pins
    db = sqlite3.connect(f"file:{os.path.join(a.suite, 'pins.db')}?mode=ro", uri=True)
    res["sqlite_limit100"] = measure(
        lambda: db.execute("select * from pins limit 100").fetchall(), 3000, S)
    if n <= 1_000_000:  # 10M rows as Python tuples: minutes and ~10 GB
        res["sqlite_all"] = measure(lambda: db.execute("select * from pins").fetchall(), 50, L)
    res["groupby_sqlite"] = measure(lambda: db.execute(
        "select backend, sum(size_bytes) from pins group by backend").fetchall(), 50, L)
    db.close()

    # JSON parse of the same rows (jsonl of the same seed)
    if a.jsonl:
        with open(a.jsonl, "rb") as f:
            lines = f.read().splitlines()
        assert len(lines) == n, (len(lines), n)
        head = lines[:100]
        res["json_limit100"] = measure(lambda: [json.loads(x) for x in head], 3000, S)
        res["json_all"] = measure(lambda: [json.loads(x) for x in lines], 20, L)
        if orjson:
            res["orjson_limit100"] = measure(lambda: [orjson.loads(x) for x in head], 3000, S)
            res["orjson_all"] = measure(lambda: [orjson.loads(x) for x in lines], 20, L)
        del lines, head

    # IPFS-Kit's path: an IPC file of the same rows read with ordinary reads + to_pylist
    tmp = tempfile.mkdtemp(prefix="ikbench", dir="/tmp")
    try:
        for lim, key in ((100, "limit100"), (None, "all")):
            if key == "all" and (big and a.quick or n > 1_000_000):
                continue  # ~10-20 s a call at 1M pins, minutes and ~10 GB at 10M
            f = os.path.join(tmp, f"ipfskit-{key}.arrow")
            t = pa.table(c.pins(limit=lim))
            with ipc.new_file(f, t.schema) as w:
                w.write_table(t)
            del t

            def theirs(f=f):
                with open(f, "rb") as fh:
                    return ipc.RecordBatchFileReader(fh).read_all().to_pylist()
            res[f"ipfskit_{key}"] = measure(theirs, 2000, S if key == "limit100" else L,
                                            warmup=0 if big and key == "all" else 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.close()
    with open(a.json, "w") as f:
        json.dump(res, f, indent=1)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pins", type=int, default=1_000_000)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "python.md"))
    ap.add_argument("--suite", metavar="DIR", help="measure against the daemon on DIR")
    ap.add_argument("--json", help="--suite: where to write the results")
    ap.add_argument("--jsonl", help="--suite: the same pins as JSON lines")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["writes"], help="run only section 4")
    ap.add_argument("--import-pins", type=int, default=100_000, help="section 4's import size")
    ap.add_argument("--rounds", type=int, default=3, help="section 4: rounds of imports")
    ap.add_argument("--settle", type=float, default=0.0,
                    help="section 4: seconds between the daemon's start and the import (its "
                    "start-up work, e.g. filling its spare files, then falls outside)")
    ap.add_argument("--against", metavar="BIN",
                    help="section 4: also another build's ipfs-kit (its daemon), alternated "
                    "round by round with this one")
    ap.add_argument("--import-pins-large", type=int, default=1_000_000,
                    help="section 4: one CLI import of this many pins with no daemon (0: none; "
                    "not with --quick)")
    a = ap.parse_args()
    if a.suite:
        return suite(a)
    path = tempfile.mkdtemp(prefix="ikbench", dir="/tmp")
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    try:
        if a.only == "writes":
            say("# Python binding benchmark: writes and fork")
            say()
            say(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; "
                f"{machine()}; `python bench/bench_python.py --only writes` (fork-then-query "
                f"on {min(a.pins, 10_000):,} pins).")
            src = os.path.join(path, "sample.arrow")
            cli(path, "arrow", "sample-pins", src, "--rows", min(a.pins, 10_000), "--to", "file")
            cli(path, "daemon", "start")
            cli(path, "pin", "import", src, "--format", "arrow")
            os.unlink(src)
            writes_and_fork(a, path, say)
            return write_out(a, lines)
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
        say(f"| `pa.table(c.pins(limit=100))` (detail `{c.pins(limit=100).detail}`) | "
            f"{fmt_us(pct(s, .5))} | {fmt_us(pct(s, .9))} | {fmt_us(pct(s, .99))} | "
            f"p50 ≤ 30 µs |")
        rt = ika.connect(path, watch=False)
        s1 = samples(lambda: pa.table(rt.pins(limit=100)), 5000, warmup=200)
        say(f"| the same, `connect(watch=False)`: a round trip every query (detail "
            f"`{rt.pins(limit=100).detail}`) | {fmt_us(pct(s1, .5))} | {fmt_us(pct(s1, .9))} | "
            f"{fmt_us(pct(s1, .99))} | |")
        rt.close()
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
        say("Ours: `pa.table(c.pins(limit=n))`, asking the daemon every query "
            "(`connect(watch=False)`; the version page, the default for repeated queries, in "
            "brackets). IPFS-Kit's: `RecordBatchFileReader(open(f)).read_all()"
            ".to_pylist()` on an IPC file of the same n rows (the daemon's write of that file "
            "not counted). Median of the runs shown; the ratio is to the round-trip number.")
        say()
        say("| pins | ours | IPFS-Kit's path | ratio |")
        say("|---|---|---|---|")
        rt = ika.connect(path, watch=False)
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
            ours_s = samples(lambda: pa.table(rt.pins(limit=n)), max(reps, 200), warmup=20)
            page_s = samples(lambda: pa.table(c.pins(limit=n)), max(reps, 200), warmup=20)
            theirs_s = samples(theirs, reps, warmup=1 if n > 10_000 else 5)
            o, t_ = pct(ours_s, .5), pct(theirs_s, .5)
            say(f"| {n:,} | {fmt_us(o)} ({fmt_us(pct(page_s, .5))}) | {fmt_us(t_)} ({reps} runs) "
                f"| {t_ / o:,.0f}× faster |")
        rt.close()
        c.close()
        writes_and_fork(a, path, say)
    finally:
        subprocess.run([BIN, "--path", path, "daemon", "stop"], capture_output=True)
        shutil.rmtree(path, ignore_errors=True)
    write_out(a, lines)


def write_out(a, lines):
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"\nwritten to {os.path.relpath(a.out, ROOT)}")


def writes_and_fork(a, path, say):
    """Section 4: import_pins from a Table into fresh directories, and fork-then-query on
    the daemon of `path`."""
    n = a.import_pins
    src = os.path.join(path, "import.arrow")
    cli(path, "arrow", "sample-pins", src, "--rows", n, "--seed", 5, "--to", "file")
    with open(src, "rb") as fh:
        table = ipc.RecordBatchFileReader(fh).read_all()
    # each binary's rows: wall, daemon CPU at the reply, the time from the reply until the
    # import is applied to pins.db (its journal removed; 0 for a binary that applies before
    # replying) and the daemon CPU by then; the CLI import: wall and CPU (daemon + CLI)
    bins = [("this build", BIN)] + ([("against", a.against)] if a.against else [])
    res = {name: {"wall": [], "cpu": [], "apply": [], "cpu_all": [], "cli": [], "cli_cpu": [],
                  "after": []}
           for name, _ in bins}
    loads = []
    for i in range(a.rounds):
        for name, binary in bins:
            for which in ("table", "cli", "write-after"):
                r = res[name]
                d = tempfile.mkdtemp(prefix="ikbenchw", dir="/tmp")
                try:
                    subprocess.run([binary, "--path", d, "daemon", "start"], check=True,
                                   capture_output=True)
                    time.sleep(a.settle)
                    pid, kids = daemon_pid(d), children_cpu()
                    loads.append(os.getloadavg()[0])
                    cpu0 = proc_cpu(pid)
                    t0 = time.perf_counter_ns()
                    if which == "table":
                        with ika.connect(d) as c:
                            assert c.import_pins(table)["imported"] == n
                        t1 = time.perf_counter_ns()
                        r["wall"].append(t1 - t0)
                        r["cpu"].append(proc_cpu(pid) - cpu0)
                        jdir = os.path.join(d, "journal")
                        deadline = time.monotonic() + 60
                        while (os.path.isdir(jdir) and os.listdir(jdir)
                               and time.monotonic() < deadline):
                            time.sleep(0.001)
                        r["apply"].append(time.perf_counter_ns() - t1)
                        r["cpu_all"].append(proc_cpu(pid) - cpu0)
                    elif which == "write-after":  # a pin add at once: waits for the apply
                        with ika.connect(d) as c:
                            assert c.import_pins(table)["imported"] == n
                            t1 = time.perf_counter_ns()
                            c.add("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
                            r["after"].append(time.perf_counter_ns() - t1)
                    else:
                        subprocess.run([binary, "--path", d, "pin", "import", src], check=True,
                                       capture_output=True)
                        r["cli"].append(time.perf_counter_ns() - t0)
                        r["cli_cpu"].append(proc_cpu(pid) - cpu0 + children_cpu() - kids)
                finally:
                    subprocess.run([binary, "--path", d, "daemon", "stop"], capture_output=True)
                    shutil.rmtree(d, ignore_errors=True)
    os.unlink(src)
    for r in res.values():
        for k in ("wall", "apply", "cli", "after"):
            r[k].sort()
    say()
    say("## Writes and fork")
    say()
    say("Imports: wall times on this machine (shared: other processes take CPU), and the CPU "
        "seconds spent (daemon, plus the CLI's own) at the median, which load changes less. "
        "An import acknowledged from its journal is applied to pins.db after the reply: "
        "'applied' is the time from the reply until then, and the daemon CPU by then. "
        f"{a.rounds} rounds"
        + (f", the daemon idle {a.settle:g} s after its start" if a.settle else "")
        + (", the binaries alternated round by round, each on a fresh store" if a.against
           else "")
        + f"; load average {min(loads):.1f}-{max(loads):.1f}.")
    say()
    say("| operation | binary | min | p50 | max | daemon CPU at reply p50 | applied after "
        "reply p50 | daemon CPU to applied p50 | target |")
    say("|---|---|---|---|---|---|---|---|---|")
    for name, binary in bins:
        r = res[name]
        say(f"| `c.import_pins(table)`, {n:,} pins from a pyarrow Table into a fresh store "
            f"(daemon running) | {name} | {fmt_us(pct(r['wall'], 0))} | "
            f"{fmt_us(pct(r['wall'], .5))} | {fmt_us(pct(r['wall'], 1))} | "
            f"{statistics.median(r['cpu']):.2f} s | {fmt_us(pct(r['apply'], .5))} | "
            f"{statistics.median(r['cpu_all']):.2f} s | ≤ 0.2 s at 100k |")
    for name, binary in bins:
        r = res[name]
        say(f"| `c.add(cid)` sent right after the import's reply (ordered after its apply) | "
            f"{name} | {fmt_us(pct(r['after'], 0))} | {fmt_us(pct(r['after'], .5))} | "
            f"{fmt_us(pct(r['after'], 1))} | | | | |")
    for name, binary in bins:
        r = res[name]
        say(f"| `ipfs-kit pin import` of the same pins as an Arrow file | {name} | "
            f"{fmt_us(pct(r['cli'], 0))} | {fmt_us(pct(r['cli'], .5))} | "
            f"{fmt_us(pct(r['cli'], 1))} | {statistics.median(r['cli_cpu']):.2f} s (with the "
            f"CLI's) | | | |")
    if not a.quick and a.import_pins_large > 0:
        big = a.import_pins_large
        src = os.path.join(path, "import-large.arrow")
        cli(path, "arrow", "sample-pins", src, "--rows", big, "--seed", 5, "--to", "file")
        d = tempfile.mkdtemp(prefix="ikbenchw", dir="/tmp")
        try:
            kids = children_cpu()
            t0 = time.perf_counter_ns()
            cli(d, "pin", "import", src)  # no daemon: the CLI writes the store itself
            wall = (time.perf_counter_ns() - t0) / 1000.0
            say(f"| `ipfs-kit pin import` of {big:,} pins as an Arrow file, no daemon (1 run) "
                f"| this build | | {fmt_us(wall)} | | {children_cpu() - kids:.2f} s | | | |")
        finally:
            shutil.rmtree(d, ignore_errors=True)
            os.unlink(src)
    c = ika.connect(path)
    for _ in range(3):
        pa.table(c.pins(limit=100))
    total, first = [], []
    for _ in range(100 if not a.quick else 20):
        r, w = os.pipe()
        t0 = time.perf_counter_ns()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            t1 = time.perf_counter_ns()
            ok = pa.table(c.pins(limit=100)).num_rows == 100
            t2 = time.perf_counter_ns()
            os.write(w, f"{int(ok)} {t2 - t0} {t2 - t1}".encode())
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as fh:
            ok, tot, fst = fh.read().split()
        os.waitpid(pid, 0)
        assert ok == "1"
        total.append(int(tot))
        first.append(int(fst))
    c.close()
    total.sort()
    first.sort()
    say()
    say("| operation | min | p50 | max | | |")
    say("|---|---|---|---|---|---|")
    say(f"| fork, then `pa.table(c.pins(limit=100))` in the child: fork() to rows "
        f"({len(total)} forks) | {fmt_us(pct(total, 0))} | {fmt_us(pct(total, .5))} | "
        f"{fmt_us(pct(total, 1))} | | |")
    say(f"| the child's first query alone (reconnects: its parent's connections are not "
        f"shared) | {fmt_us(pct(first, 0))} | {fmt_us(pct(first, .5))} | {fmt_us(pct(first, 1))} | | |")


if __name__ == "__main__":
    sys.exit(main())
