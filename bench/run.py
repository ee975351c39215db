#!/usr/bin/env python3
"""Runs the benchmarks (`make bench`), prints one table per question and saves the results as
bench/results/<timestamp>.json, bench/results/latest.md and plots bench/results/latest_*.png.

Every speed is reported next to a floor measured in the same run (memcpy bandwidth, a unix-socket
round trip, a scan of the mapped snapshot) and next to the alternatives (SQLite, JSON, IPFS-Kit's
Python path, Redis), as ratios, because these machines are noisy. Nothing here asserts a time:
`make bench-check` (bench/check.py) compares the saved ratios with the issues' targets.

Environment: BENCH_QUICK=1 (short run), BENCH_SOAK=0 (skip the soak, bench_soak.py), BENCH_PINS=100,10000,1000000,10000000 (pin counts; 10M
is measured only when memory and disk allow, see room_for()), BENCH_ITERS, BENCH_DAEMON=0 (codec
only), BENCH_ONLY=convert (only the `arrow convert` rows: printed, and written to
bench/results/convert.md and convert-<timestamp>.json, which `make bench-check` reads when newer
than the full run; BENCH_CONVERT_REPS)."""
import datetime
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bench-arrow")
WORK = os.path.join(ROOT, "build", "bench")
RESULTS = os.path.join(ROOT, "bench", "results")
SIZES_MB = [int(s) for s in os.environ.get("BENCH_SIZES_MB", "10,100,1000").split(",")]
DBIN = os.path.join(ROOT, "build", "bench-daemon")
CLI = os.path.join(ROOT, "build", "ipfs-kit")
PYBENCH = os.path.join(ROOT, "bench", "bench_python.py")
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
# Pin counts every path is measured at. The stores are built once and kept under build/bench;
# 10M (a 3 GB SQLite store and a 1.8 GB snapshot, built in ~1.5 min) only when room_for() finds
# the memory and disk it needs.
PINS_ENV = os.environ.get("BENCH_PINS", "")
PINS = [int(s) for s in (PINS_ENV or "100,10000,1000000,10000000").split(",")]
ITERS = int(os.environ.get("BENCH_ITERS", "2000" if QUICK else "20000"))
SEED = 1
STORE_FORMAT = "2"  # bump when the stores' contents change: older ones are rebuilt
# client paths: (label, method, compression, sqlite)
PATHS = [("zero_copy", "zero_copy", "none", 0), ("zero_copy (page)", "zero_copy", "none", 0),
         ("ipc_stream", "ipc_stream", "none", 0),
         ("ipc_stream lz4", "ipc_stream", "lz4", 0), ("ipc_stream zstd", "ipc_stream", "zstd", 0),
         ("direct (snapshot)", "direct", "none", 0), ("direct (SQLite)", "direct", "none", 1),
         ("traditional (JSON)", "traditional", "none", 0)]
CLIENTS = [1, 4, 16, 64]


def run(*args):
    out = subprocess.run([BIN, *map(str, args)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "ram_gb": round(meminfo_gb("MemTotal"), 1), "python": platform.python_version(),
            "loadavg_start": os.getloadavg()[0],
            "note": "shared machine: other engineers run benchmarks on it too; read ratios, "
                    "not absolute times"}


def meminfo_gb(field):
    """A /proc/meminfo field (MemTotal, MemAvailable) in GB."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1e6
    return 0.0


def pyarrow_read_validate(path, reps):
    import pyarrow as pa
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        with pa.memory_map(path) as src:
            t = pa.ipc.open_file(src).read_all()
            t.validate(full=True)
        best = min(best, time.perf_counter() - t0)
        del t
    return best


CONVERT_CODECS = ("none", "lz4", "zstd")


def bench_convert(res):
    """`ipfs-kit arrow convert` (a whole process: map, full validation, write, rename; no fsync)
    against pyarrow's read_all + write of the same file to the file format with the same codec,
    both on one thread (pyarrow: set_cpu_count(1), use_threads=False) and the codecs' default
    levels (ZSTD 1, LZ4 fast). BENCH_CONVERT_REPS runs each, alternating which goes first; the
    best and the median of wall time (the target is the best) and of CPU time (ours: the
    child's user + system; pyarrow: process_time), and the load average around the runs, as
    the shared machine's load swings wall time far more than CPU time."""
    import resource
    import statistics
    import pyarrow as pa
    import pyarrow.ipc as ipc
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    rows = 200_000 if QUICK else 1_000_000
    src = os.path.join(WORK, f"convert-{rows}.arrow")
    if not os.path.exists(src):
        subprocess.run([CLI, "arrow", "sample-pins", src, "--rows", str(rows), "--seed",
                        str(SEED)], check=True)
    reps = int(os.environ.get("BENCH_CONVERT_REPS", "3" if QUICK else "9"))
    out = {"rows": rows, "bytes": os.path.getsize(src), "threads": 1, "reps": reps,
           "load_before": os.getloadavg()[0], "codecs": {}}

    def ours(dst, codec):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([CLI, "arrow", "convert", src, dst, "--to", "file", "--compression",
                        codec], check=True)
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime

    def pyarrow(dst, codec):
        c0 = time.process_time()
        t0 = time.perf_counter()
        with pa.memory_map(src) as f:
            t = ipc.open_file(f).read_all()
        opts = ipc.IpcWriteOptions(compression=None if codec == "none" else codec,
                                   use_threads=False)
        with pa.OSFile(dst, "wb") as sink, ipc.new_file(sink, t.schema, options=opts) as w:
            w.write_table(t)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        del t
        return wall, cpu

    for codec in CONVERT_CODECS:
        dst_ours, dst_py = src + f".{codec}.ik", src + f".{codec}.pa"
        o, p = [], []
        for i in range(reps):
            if i % 2 == 0:
                o.append(ours(dst_ours, codec))
                p.append(pyarrow(dst_py, codec))
            else:
                p.append(pyarrow(dst_py, codec))
                o.append(ours(dst_ours, codec))
        c = {"ours_s": min(w for w, _ in o), "pyarrow_s": min(w for w, _ in p),
             "ours_median_s": statistics.median(w for w, _ in o),
             "pyarrow_median_s": statistics.median(w for w, _ in p),
             "ours_cpu_s": min(u for _, u in o), "pyarrow_cpu_s": min(u for _, u in p),
             "ours_cpu_median_s": statistics.median(u for _, u in o),
             "pyarrow_cpu_median_s": statistics.median(u for _, u in p),
             "ours_bytes": os.path.getsize(dst_ours), "pyarrow_bytes": os.path.getsize(dst_py)}
        c["ratio"] = c["ours_s"] / c["pyarrow_s"]
        c["ratio_median"] = c["ours_median_s"] / c["pyarrow_median_s"]
        c["cpu_ratio"] = c["ours_cpu_s"] / c["pyarrow_cpu_s"]
        c["cpu_ratio_median"] = c["ours_cpu_median_s"] / c["pyarrow_cpu_median_s"]
        out["codecs"][codec] = c
        for d in (dst_ours, dst_py):
            os.unlink(d)
    out["load_after"] = os.getloadavg()[0]
    res["convert"] = out
    lines = [f"\n## Arrow codec: `arrow convert` against pyarrow read_all + write\n",
             f"{rows:,} sample pins ({out['bytes'] >> 20} MB file) to the file format, one "
             "thread each, default levels (ZSTD 1, LZ4 fast); ours is the whole process (full "
             f"validation included), pyarrow's is in-process. {reps} runs each, alternating; "
             f"load average {out['load_before']:.1f} before, {out['load_after']:.1f} after.\n",
             "| codec | wall s ours / pyarrow (best) | ratio best | ratio median | "
             "CPU s ours / pyarrow (best) | CPU ratio best | CPU ratio median | output MB "
             "ours / pyarrow | target |",
             "|---|---|---|---|---|---|---|---|---|"]
    for codec, c in out["codecs"].items():
        lines.append(f"| {codec} | {c['ours_s']:.3f} / {c['pyarrow_s']:.3f} | "
                     f"{c['ratio']:.2f}× | {c['ratio_median']:.2f}× | "
                     f"{c['ours_cpu_s']:.3f} / {c['pyarrow_cpu_s']:.3f} | "
                     f"{c['cpu_ratio']:.2f}× | {c['cpu_ratio_median']:.2f}× | "
                     f"{c['ours_bytes'] / 1e6:.1f} / {c['pyarrow_bytes'] / 1e6:.1f} | "
                     "≤ 1.0 (best wall) |")
    return lines


def bench_value_checks(res):
    """Full validation of columns whose values Arrow C++ range-checks (time64, time32, date64,
    decimal128: 4 x 4M values, ~144 MB): `ipfs-kit arrow validate` against pyarrow's
    read_all + validate(full=True), best of 5."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.ipc as ipc
    n = 1_000_000 if QUICK else 4_000_000
    path = os.path.join(WORK, f"value-checks-{n}.arrow")
    if not os.path.exists(path):
        rng = np.random.default_rng(SEED)
        t = pa.table({
            "t64": pa.array(rng.integers(0, 86400 * 10**6, n), pa.time64("us")),
            "t32": pa.array(rng.integers(0, 86400, n).astype(np.int32), pa.time32("s")),
            "d64": pa.array(rng.integers(0, 20000, n) * 86400000, pa.date64()),
            "dec": pa.array(rng.integers(-10**9, 10**9, n)).cast(pa.decimal128(22, 2))})
        with ipc.new_file(path, t.schema) as w:
            w.write_table(t, max_chunksize=1 << 20)
    ours = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([CLI, "arrow", "validate", path], check=True, capture_output=True)
        ours = min(ours, time.perf_counter() - t0)
    py = pyarrow_read_validate(path, 5)
    res["value_checks"] = {"values": 4 * n, "bytes": os.path.getsize(path), "ours_s": ours,
                           "pyarrow_s": py}
    return ["\n## Arrow codec: full validation of range-checked values\n",
            "time64, time32, date64 and decimal128 columns (the values Arrow C++ holds to a "
            "range in full validation); ours is the whole `arrow validate` process.\n",
            "| values | MB | ours s | pyarrow s | pyarrow / ours |", "|---|---|---|---|---|",
            f"| {4 * n:,} | {os.path.getsize(path) >> 20} | {ours:.4f} | {py:.4f} | "
            f"{py / ours:.2f}× |"]


def drun(*args, watch=False):
    """bench-daemon ARGS. Its clients ask the daemon on every query unless `watch` (then they
    answer repeated queries from the daemon's version page, as clients do by default)."""
    env = dict(os.environ, BENCH_WATCH="1" if watch else "0")
    out = subprocess.run([DBIN, *map(str, args)], check=True, capture_output=True, text=True,
                         env=env)
    return json.loads(out.stdout)


def cli(path, *args, check=True):
    return subprocess.run([CLI, "--path", path, *map(str, args)], check=check,
                          capture_output=True, text=True)


def store_dir(pins):
    """A data directory holding `pins` deterministic sample pins (seed 1), built once."""
    d = os.path.join(WORK, f"store-{pins}")
    done = os.path.join(d, ".complete")
    try:
        with open(done) as f:
            if f.read().strip() == STORE_FORMAT:
                return d
    except OSError:
        pass
    subprocess.run(["rm", "-rf", d], check=True)
    os.makedirs(d)
    src = os.path.join(WORK, f"pins-{pins}.arrow")
    subprocess.run([CLI, "arrow", "sample-pins", src, "--rows", str(pins), "--seed", str(SEED)],
                   check=True, capture_output=True)
    print(f"building the {pins}-pin store (once; kept in {d})", file=sys.stderr)
    drun("store-import", d, src)
    os.unlink(src)
    with open(done, "w") as f:
        f.write(STORE_FORMAT)
    return d


def jsonl_file(pins):
    """The same `pins` sample pins (seed 1) as JSON lines, for the JSON-parse alternative."""
    f = os.path.join(WORK, f"pins-{pins}.jsonl")
    if not os.path.exists(f):
        subprocess.run([CLI, "arrow", "sample-pins", f + ".tmp", "--rows", str(pins), "--seed",
                        str(SEED), "--format", "jsonl"], check=True, capture_output=True)
        os.rename(f + ".tmp", f)
    return f


def write_results(name, title, res, lines):
    """A suite part run alone: prints its table and writes bench/results/<name>.json and .md."""
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
        json.dump(res, f, indent=2)
    with open(os.path.join(RESULTS, f"{name}.md"), "w") as f:
        f.write(f"# {title}\n" + text)


def free_gb(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / 1e9


def room_for(pins):
    """Why the machine cannot take `pins` pins now ("" when it can). Measured at 10M: building
    the store took ~7 GB of disk at its peak (the 1.8 GB Arrow input, the 3 GB pins.db and its
    WAL) and 2.4 GB resident (1.8 GB of it the mapped input); then the largest processes were
    the Python suite (2.5 GB resident), the daemon and the ipc_stream whole-table client (1.5-
    1.75 GB each, mostly the snapshot, mapped or copied), and MemAvailable fell by 2.4 GB at
    most (4.7 GB while the lz4/zstd whole-table reads, now skipped, ran). 8 GB leaves room for
    that and the 1.8 GB snapshot in the page cache. Smaller counts always fit."""
    if pins < 10_000_000:
        return ""
    built = os.path.exists(os.path.join(WORK, f"store-{pins}", ".complete"))
    scale = pins / 10_000_000
    need_disk = (4.0 if built else 10.0) * scale
    need_mem = 8.0 * scale
    disk, mem = free_gb(WORK), meminfo_gb("MemAvailable")
    if disk >= need_disk and mem >= need_mem:
        return ""
    return (f"needs {need_disk:.0f} GB free disk under build/bench"
            f"{'' if built else ' to build its store'} and {need_mem:.0f} GB available memory "
            f"({disk:.0f} GB and {mem:.0f} GB here)")


class Daemon:
    def __init__(self, path):
        self.path = path

    def __enter__(self):
        cli(self.path, "daemon", "stop", check=False)
        t0 = time.perf_counter()
        cli(self.path, "daemon", "start", "--timeout", "900")  # 10M pins: a full build
        self.start_ms = (time.perf_counter() - t0) * 1e3
        return self

    def pid(self):
        with open(os.path.join(self.path, "daemon.lock")) as f:
            return int(f.read().split()[0])

    def rss_kib(self, field="VmRSS"):
        """The daemon's resident memory now (VmRSS), or its peak so far (VmHWM)."""
        with open(f"/proc/{self.pid()}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return None

    def __exit__(self, *exc):
        cli(self.path, "daemon", "stop", check=False)


def metric(path, name):
    out = cli(path, "metrics", "--format", "jsonl").stdout
    for line in out.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if row.get("metric_name") == name:
            return row.get("metric_value")
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(*args):
    """One Redis command in RESP (the wire format), bytes."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def bench_redis(res, notes):
    """redis-server (Debian) on 127.0.0.1 and a free port, no persistence, holding the same 100
    pins as a list of JSON rows and a hash by CID; redis-benchmark's clients at CLIENTS."""
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        notes.append("skipped Redis: redis-server / redis-benchmark not installed "
                     "(scripts/bootstrap --bench installs them)")
        return
    port = free_port()
    d = os.path.join(WORK, "redis")
    os.makedirs(d, exist_ok=True)
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                            "--save", "", "--appendonly", "no", "--dir", d,
                            "--logfile", os.path.join(d, "redis.log")])
    try:
        for _ in range(200):
            try:
                sk = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                time.sleep(0.02)
        else:
            raise RuntimeError("redis-server did not answer")
        with open(jsonl_file(100), "rb") as f:
            rows = f.read().splitlines()
        cmds = [resp("DEL", "pins", "pinhash"), resp("RPUSH", "pins", *rows)]
        cmds.append(resp("HSET", "pinhash", *[x for r in rows
                                              for x in (json.loads(r)["cid"], r)]))
        sk.sendall(b"".join(cmds))
        time.sleep(0.2)
        sk.close()
        out = {"version": subprocess.run(["redis-server", "--version"], capture_output=True,
                                         text=True).stdout.split()[2]}

        def rb(clients, n, *cmd):
            o = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c",
                                str(clients), "-n", str(n), "--csv", *cmd], check=True,
                               capture_output=True, text=True).stdout.splitlines()
            head = [h.strip('"') for h in o[0].split(",")]
            vals = [v.strip('"') for v in o[-1].split(",")]
            r = dict(zip(head, vals))
            return {"qps": float(r["rps"]), "p50_us": float(r["p50_latency_ms"]) * 1e3,
                    "p99_us": float(r["p99_latency_ms"]) * 1e3,
                    "min_us": float(r["min_latency_ms"]) * 1e3}
        n = 20000 if QUICK else 60000
        out["lrange10"] = {c: rb(c, n, "LRANGE", "pins", "0", "9") for c in CLIENTS}
        out["lrange100_1client"] = rb(1, n // 2, "LRANGE", "pins", "0", "99")
        out["hgetall100_1client"] = rb(1, n // 2, "HGETALL", "pinhash")
        res["redis"] = out
    finally:
        srv.terminate()
        srv.wait(timeout=10)


def run_paths(d, pins, res_store, notes):
    """Every client path, whole table and limit 100, each in its own bench-daemon process (a
    new client: no mapping or connection carried over from another path)."""
    out = {}
    maxsec = 1.0 if QUICK else 3.0
    iters = 500 if QUICK else 3000
    for label, method, comp, sq in PATHS:
        for lim in (100, -1):
            if pins >= 10_000_000 and lim == -1 and (method == "traditional" or sq or
                                                     comp != "none"):
                cost = ("5-10 s and ~2.7 GB resident a call" if comp != "none" else
                        "minutes and several GB a call")
                notes.append(f"skipped {label} whole-table at {pins:,} pins ({cost}; its 1M "
                             f"number scales linearly)")
                continue
            key = f"{label}|{'all' if lim < 0 else lim}"
            out[key] = drun("path", d, method, comp, sq, lim, iters, maxsec,
                            watch=label.endswith("(page)"))
    res_store["paths"] = out


def rtt_floor(floor):
    """The socket round trip the queries are compared with: the faster p50 of a blocking
    ping-pong and one that waits as the client library does (it spins briefly before
    blocking), so the client's waiting strategy cannot flatter the ratio."""
    spin = floor.get("unix_rtt_spin_us", {}).get("p50")
    return min(floor["unix_rtt_us"]["p50"], spin) if spin else floor["unix_rtt_us"]["p50"]


def qps_median(d, clients, shared, watch=False):
    """Queries/s of `clients` threads for 3 s (1 s with BENCH_QUICK), three runs (one with
    BENCH_QUICK): the median run, with every run's rate in `runs_qps`."""
    reps = 1 if QUICK else 3
    runs = sorted((drun("qps", d, clients, 1000 if QUICK else 3000, 10, shared, watch=watch)
                   for _ in range(reps)), key=lambda r: r["qps"])
    return dict(runs[reps // 2], runs_qps=[r["qps"] for r in runs])


def bench_import(kubo):
    """Imports `kubo` into a fresh store three times (once with BENCH_QUICK) through the daemon
    and three times in process; reports the run with the median time of each, and every run's
    seconds (`runs_s`; through the daemon, without the snapshot build that follows)."""
    reps = 1 if QUICK else 3
    d = os.path.join(WORK, "import-daemon")
    runs = []
    for _ in range(reps):
        subprocess.run(["rm", "-rf", d], check=True)
        os.makedirs(d)
        with Daemon(d):
            r = drun("import", d, kubo)
            r["snapshot_build_ms"] = metric(d, "snapshot_build_ms")
        runs.append(r)
    sb_s = [r["snapshot_build_ms"] / 1e3 if isinstance(r["snapshot_build_ms"], (int, float))
            else 0.0 for r in runs]
    order = sorted(range(reps), key=lambda i: runs[i]["seconds"] - sb_s[i])
    imp = {"daemon": dict(runs[order[reps // 2]],
                          runs_s=[round(r["seconds"] - b, 3) for r, b in zip(runs, sb_s)])}
    runs = []
    for _ in range(reps):
        subprocess.run(["rm", "-rf", d], check=True)
        os.makedirs(d)
        runs.append(drun("store-import", d, kubo))
    runs.sort(key=lambda r: r["seconds"])
    imp["store"] = dict(runs[reps // 2], runs_s=[r["seconds"] for r in runs])
    subprocess.run(["rm", "-rf", d], check=True)
    return imp


def bench_daemon(res):
    """The daemon, client, CLI and every client path against floors and alternatives."""
    notes = []
    floor = drun("floor", ITERS)
    res["floor"] = floor
    rtt = rtt_floor(floor)
    stores = {}
    for pins in PINS:
        why = room_for(pins)
        if why:
            notes.append(f"skipped {pins:,} pins: {why}")
            print(f"skipping {pins:,} pins: {why}", file=sys.stderr, flush=True)
            continue
        t_store = time.perf_counter()
        d = store_dir(pins)
        jl = jsonl_file(pins) if pins <= 1_000_000 else None
        if not jl:
            notes.append(f"at {pins:,} pins the Python alternatives that build every row as "
                         f"Python objects (JSON, SQLite select *, IPFS-Kit's to_pylist) are "
                         f"not run: minutes and ~10 GB each; their 1M numbers scale linearly")
        st = {"build_or_reuse_s": round(time.perf_counter() - t_store, 2)}
        print(f"measuring {pins:,} pins", file=sys.stderr, flush=True)
        with Daemon(d) as dm:
            st["daemon_start_ms"] = dm.start_ms
            st["daemon_rss_kib_start"] = dm.rss_kib()
            run_paths(d, pins, st, notes)  # zero_copy first: its cold query is the daemon's first
            st["daemon_rss_kib_after_paths"] = dm.rss_kib()
            snap = sorted((f for f in os.listdir(os.path.join(d, "snapshots"))
                           if f.startswith("pin_index.") and f.endswith(".arrow")),
                          key=lambda f: int(f.split(".")[1]))[-1]
            st["snapshot_bytes"] = os.path.getsize(os.path.join(d, "snapshots", snap))
            st["scan"] = drun("scan", os.path.join(d, "snapshots", snap), 5 if QUICK else 11)
            if pins == max([p for p in PINS if p <= 1_000_000] or [0]):
                # the codec's full validation on real, string-heavy data (cid, name, paths)
                path = os.path.join(d, "snapshots", snap)
                res["validate_strings"] = {"pins": pins, "ours": run("validate", path, 5),
                                           "pyarrow_s": pyarrow_read_validate(path, 5)}
            st["groupby_c"] = drun("groupby", d, 20 if QUICK else 50)
            pj = os.path.join(WORK, f"py-{pins}.json")
            args = [sys.executable, PYBENCH, "--suite", d, "--pins", str(pins), "--json", pj]
            if jl:
                args += ["--jsonl", jl]
            if QUICK:
                args.append("--quick")
            subprocess.run(args, check=True)
            with open(pj) as f:
                st["python"] = json.load(f)
            if pins == 1_000_000:
                res["q100"] = drun("query", d, 100, ITERS)
                res["q100_page"] = drun("query", d, 100, ITERS, watch=True)
                res["exec"] = drun("exec", 50 if QUICK else 300, CLI, "--path", d, "pin", "list",
                                   "--limit", "100")
                if shutil.which("hyperfine"):
                    hj = os.path.join(WORK, "hyperfine.json")
                    subprocess.run(["hyperfine", "-N", "--warmup", "20", "--runs",
                                    "100" if QUICK else "300", "--export-json", hj, "--style",
                                    "none", f"{CLI} --path {d} pin list --limit 100"],
                                   check=True, capture_output=True)
                    with open(hj) as f:
                        h = json.load(f)["results"][0]
                    ts = sorted(h["times"])
                    res["hyperfine"] = {"mean_ms": h["mean"] * 1e3, "min_ms": h["min"] * 1e3,
                                        "p50_ms": h["median"] * 1e3,
                                        "p99_ms": ts[int((len(ts) - 1) * 0.99)] * 1e3,
                                        "runs": len(ts)}
                else:
                    notes.append("skipped hyperfine: not installed (scripts/bootstrap --bench)")
                qps = {}
                for n in CLIENTS:
                    qps[n] = qps_median(d, n, 0)
                qps["16 shared"] = qps_median(d, 16, 1)
                qps["16 page"] = qps_median(d, 16, 0, watch=True)
                res["qps"] = qps
                st["daemon_rss_kib_after_qps"] = dm.rss_kib()
            st["daemon_hwm_kib"] = dm.rss_kib("VmHWM")
        stores[pins] = st
        if pins == 1_000_000:
            # one change on a copy of the 1M store (the measured stores stay as built)
            cp = os.path.join(WORK, "pinadd-1000000")
            subprocess.run(["rm", "-rf", cp], check=True)
            shutil.copytree(d, cp, ignore=shutil.ignore_patterns("daemon.*"))
            with Daemon(cp):
                res["pinadd"] = drun("pinadd", cp, 10 if QUICK else 20)
                res["pinadd"]["snapshot_build_ms"] = metric(cp, "snapshot_build_ms")
            subprocess.run(["rm", "-rf", cp], check=True)
    res["stores"] = {str(k): v for k, v in stores.items()}
    res["handoff"] = {str(k): v["paths"]["zero_copy|all"] for k, v in stores.items()}
    bench_redis(res, notes)

    # Bulk import of kubo --stream lines into empty stores.
    n_imp = 100_000 if QUICK else 1_000_000
    kubo = os.path.join(WORK, f"kubo-{n_imp}.jsonl")
    if not os.path.exists(kubo):
        subprocess.run([CLI, "arrow", "sample-pins", kubo, "--rows", str(n_imp), "--seed",
                        str(SEED), "--format", "kubo"], check=True, capture_output=True)
    imp = bench_import(kubo)
    res["import"] = imp
    res["import_pins"] = n_imp
    res["notes"] = notes
    return report_daemon(res)


def fmt_us(us):
    if us is None:
        return "—"
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    if us >= 100:
        return f"{us:.0f} µs"
    return f"{us:.1f} µs"


def fmt_x(x):
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:,.0f}×"
    if x >= 10:
        return f"{x:.1f}×"
    if x < 0.01:
        return f"{x:.1g}×"
    return f"{x:.2f}×"


def mpp(d, f=fmt_us, scale=1):
    """The "min | p50 | p99" table cells of distribution d, each f(value * scale)."""
    return " | ".join(f(d[k] * scale) for k in ("min", "p50", "p99"))


def fixed(places):
    """A cell formatter with `places` decimals."""
    return lambda v: f"{v:.{places}f}"


def fmt_kib(k):
    if k is None:
        return "—"
    return f"{k / 1024:.1f} MiB" if abs(k) >= 1024 else f"{k} KiB"


def p50(d):
    return d["p50"] if d else None


def ratio(a, b):
    return a / b if a is not None and b else None


def report_daemon(res):
    """The markdown tables of bench_daemon's results (one per question)."""
    floor = res["floor"]
    rtt = rtt_floor(floor)
    memcpy = floor["memcpy_gb_per_s"]
    imp = res["import"]
    n_imp = res["import_pins"]
    notes = res["notes"]
    stores = {int(k): v for k, v in res["stores"].items()}
    pins_list = sorted(stores)
    big = 1_000_000 if 1_000_000 in stores else (pins_list[-1] if pins_list else None)
    L = []

    def path_p50(pins, label, lim):
        p = stores[pins]["paths"].get(f"{label}|{lim}")
        return p["us"]["p50"] if p else None

    L.append("## Floors (same run)\n")
    L.append("| floor | min | p50 | p99 |")
    L.append("|---|---|---|---|")
    for k, name in (("socketpair_rtt_us", "socketpair ping-pong round trip (64 B)"),
                    ("unix_rtt_us", "unix-socket ping-pong round trip (64 B)"),
                    ("unix_rtt_spin_us", "unix-socket round trip, pinger waiting as the client "
                     "does (yield + poll, then block)")):
        L.append(f"| {name} | {mpp(floor[k])} |")
    L.append(f"| memcpy 256 MB (best of 5) | | {memcpy:.1f} GB/s | |")
    for pins in pins_list:
        sc = stores[pins]["scan"]
        L.append(f"| {pins:,}-pin snapshot ({sc['bytes'] / 1e6:.1f} MB): map + touch every "
                 f"page ({sc['pages']:,}) | "
                 f"{mpp(sc['touch_pages_ms'], lambda v: f'{v:.0f} µs', 1e3)} |")
        L.append(f"| {pins:,}-pin snapshot: sum every 8-byte word | "
                 f"{mpp(sc['sum_words_ms'], scale=1e3)} |")

    for lim, title in (("100", "limit 100"), ("all", "the whole table")):
        L.append(f"\n## Every client path, {title}: p50 by pin count (C client, warm)\n")
        head = "| path | " + " | ".join(f"{p:,} pins" for p in pins_list)
        if lim == "100":
            head += f" | p50 / unix RTT at {big:,} | × zero_copy at {big:,} |"
        else:
            head += (f" | p50 / memcpy of the snapshot at {big:,} | × zero_copy at {big:,} |")
        L.append(head)
        L.append("|---" * (len(pins_list) + 3) + "|")
        zc = path_p50(big, "zero_copy", lim) if big else None
        for label, *_ in PATHS:
            cells = [fmt_us(path_p50(p, label, lim)) for p in pins_list]
            v = path_p50(big, label, lim) if big else None
            if lim == "100":
                fl = ratio(v, rtt)
            else:
                copy_us = stores[big]["snapshot_bytes"] / (memcpy * 1e3) if big else None
                fl = ratio(v, copy_us)
            L.append(f"| {label} | " + " | ".join(cells) + f" | {fmt_x(fl)} | "
                     f"{fmt_x(ratio(v, zc))} |")

    L.append(f"\n## Cold and warm, every path at {big:,} pins (each path in a new client "
             "process: no connection or mapping carried over)\n")
    L.append("| path | fetch | rows | cold (first query) | min | p50 | p99 | runs | "
             "client RSS growth holding the result |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for label, *_ in PATHS:
        for lim in ("100", "all"):
            p = stores[big]["paths"].get(f"{label}|{lim}")
            if not p:
                continue
            L.append(f"| {label} | {'limit 100' if lim == '100' else 'whole table'} | "
                     f"{p['rows']:,} | {fmt_us(p['cold_us'])} | {mpp(p['us'])} | {p['us']['n']} | "
                     f"{fmt_kib(p['rss_growth_kib'])} |")
    L.append("\nCold: zero_copy's limit-100 row is the first query after the daemon started; "
             "every other cold is the first query of a new client (new connection, new "
             "mapping). The page cache is warm in both (we do not drop it on a shared machine).")

    L.append("\n## From Python: zero-copy `pa.table(c.pins(...))` versus the alternatives\n")
    L.append("Ours: `pa.table(c.pins(limit=...))` through the running daemon, asking it on every "
             "query (`connect(watch=False)`; a client's repeated queries through the version "
             "page are faster still, above). SQLite: python "
             "`sqlite3` `select * from pins [limit 100]` `.fetchall()` on the same store, "
             "read-only. JSON / orjson: `loads` of each line of a jsonl file of the same rows. "
             "IPFS-Kit's path: an IPC file of the same rows read with ordinary reads + "
             "`to_pylist()` (its write not counted). p50; speedups = their p50 / ours.\n")
    L.append("| pins | fetch | ours | SQLite | × | JSON | × | orjson | × | IPFS-Kit's path | × |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for pins in pins_list:
        py = stores[pins]["python"]
        for lim, ours_k in (("limit100", "zc_limit100"), ("all", "zc_all")):
            o = p50(py.get(ours_k + "_rt")) or p50(py.get(ours_k))
            cells = []
            for alt in ("sqlite", "json", "orjson", "ipfskit"):
                v = p50(py.get(f"{alt}_{lim}"))
                cells += [fmt_us(v), fmt_x(ratio(v, o))]
            L.append(f"| {pins:,} | {'limit 100' if lim == 'limit100' else 'whole table'} | "
                     f"{fmt_us(o)} | " + " | ".join(cells) + " |")

    L.append("\n## `group by backend, sum(size_bytes)` over every pin (including `c.pins()`)\n")
    L.append("| pins | C over the mapped buffers (floor) | pyarrow | polars | DuckDB | SQLite "
             "(python sqlite3) | pyarrow / floor | SQLite / pyarrow | SQLite / polars | "
             "SQLite / DuckDB |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for pins in pins_list:
        py = stores[pins]["python"]
        c_us = stores[pins]["groupby_c"]["ms"]["p50"] * 1e3
        pa_, pl_, dk, sq = (p50(py.get(k)) for k in ("groupby_pyarrow", "groupby_polars",
                                                      "groupby_duckdb", "groupby_sqlite"))
        L.append(f"| {pins:,} | {fmt_us(c_us)} | {fmt_us(pa_)} | {fmt_us(pl_)} | {fmt_us(dk)} | "
                 f"{fmt_us(sq)} | {fmt_x(ratio(pa_, c_us))} | {fmt_x(ratio(sq, pa_))} | "
                 f"{fmt_x(ratio(sq, pl_))} | {fmt_x(ratio(sq, dk))} |")
    L.append("\n`c.pins()` into each (no query): p50\n")
    L.append("| pins | `pa.table(c.pins())` | `pl.DataFrame(c.pins())` | DuckDB `select count(*)` "
             "over it | RSS growth holding `pa.table(c.pins())` |")
    L.append("|---|---|---|---|---|")
    for pins in pins_list:
        py = stores[pins]["python"]
        L.append(f"| {pins:,} | {fmt_us(p50(py.get('zc_all')))} | "
                 f"{fmt_us(p50(py.get('into_polars')))} | {fmt_us(p50(py.get('into_duckdb')))} | "
                 f"{fmt_kib(py.get('zc_all_rss_growth_kib'))} |")
    if big:
        py = stores[big]["python"]
        L.append(f"\nPython `pa.table(c.pins(limit=100))` at {big:,} pins: cold (first query "
                 f"of a new Client) {fmt_us(py.get('zc_limit100_cold_us'))}, then min "
                 f"{fmt_us(py['zc_limit100']['min'])} / p50 {fmt_us(py['zc_limit100']['p50'])} / "
                 f"p99 {fmt_us(py['zc_limit100']['p99'])} (target p50 ≤ 30 µs; detail "
                 f"`{py.get('zc_limit100_detail', '?')}`); whole table "
                 f"p50 {fmt_us(py['zc_all']['p50'])} (target ≤ 150 µs)"
                 + (f", {fmt_us(py['zc_all_rt']['p50'])} asking the daemon"
                    if py.get("zc_all_rt") else "") + ".")
        if "zc_limit100_rt" in py:
            rt = py["zc_limit100_rt"]
            L.append(f"With a round trip to the daemon on every query (`connect(watch=False)`, "
                     f"detail `{py.get('zc_limit100_rt_detail', '?')}`): min "
                     f"{fmt_us(rt['min'])} / p50 {fmt_us(rt['p50'])} / p99 {fmt_us(rt['p99'])}.")

    if "q100" in res:
        q = res["q100"]
        L.append("\n## 100 rows through the zero-copy path (pooled connection, 1M-pin table)\n")
        L.append("| what | min µs | p50 µs | p99 µs | p50 / unix RTT | target |")
        L.append("|---|---|---|---|---|---|")
        L.append(f"| ik_client_query limit 100 + get_next + release | {mpp(q['us'], fixed(1))} | "
                 f"{q['us']['p50'] / rtt:.2f}× | ≤ 1.5× |")
        L.append(f"| of which request → header + fd | {mpp(q['request_us'], fixed(1))} | "
                 f"{q['request_us']['p50'] / rtt:.2f}× | |")
        L.append(f"| of which map / open / slice | {mpp(q['decode_us'], fixed(1))} | | |")
        if "q100_page" in res:
            q = res["q100_page"]
            L.append(f"| the same through the version page (clients' default: no round trip "
                     f"while the held snapshot is current) | {mpp(q['us'], fixed(1))} | "
                     f"{q['us']['p50'] / rtt:.2f}× | |")
    L.append("\n## Whole-table zero-copy handoff by pin count (query, get_next, release)\n")
    L.append("| pins | rows | min µs | p50 µs | p99 µs | p50 / unix RTT | p50 / 100-pin p50 | "
             "target |")
    L.append("|---|---|---|---|---|---|---|---|")
    base = path_p50(100, "zero_copy", "all") if 100 in stores else None
    for pins in pins_list:
        h = stores[pins]["paths"]["zero_copy|all"]
        L.append(f"| {pins:,} | {h['rows']:,} | {mpp(h['us'], fixed(1))} | "
                 f"{h['us']['p50'] / rtt:.2f}× | "
                 f"{fmt_x(ratio(h['us']['p50'], base))} | ≤ 100 µs, O(1) |")
    if "exec" in res:
        e = res["exec"]
        L.append("\n## `ipfs-kit pin list --limit 100` as a whole process (1M pins)\n")
        L.append("| measured by | min ms | p50 ms | p99 ms | target |")
        L.append("|---|---|---|---|---|")
        L.append(f"| bench-daemon exec (posix_spawn + wait) | {mpp(e['ms'], fixed(2))} | "
                 "p50 ≤ 2 ms |")
        if "hyperfine" in res:
            h = res["hyperfine"]
            L.append(f"| hyperfine -N ({h['runs']} runs; mean {h['mean_ms']:.2f}) | "
                     f"{h['min_ms']:.2f} | {h['p50_ms']:.2f} | {h['p99_ms']:.2f} | "
                     "p50 ≤ 2 ms |")
    if "qps" in res:
        qps = {str(k): v for k, v in res["qps"].items()}
        red = {str(k): v for k, v in res.get("redis", {}).get("lrange10", {}).items()}
        L.append("\n## Small-query throughput by concurrent clients (2 cores, client and "
                 "server on the same machine)\n")
        L.append("ipfs-kit: limit-10 zero-copy queries on the 1M-pin table for 3 s, three runs, "
                 "the median shown; each client its "
                 "own thread and ik_client, each query a round trip to the daemon (the last row: "
                 "the clients' default, repeated queries answered from the version page). Redis "
                 f"{res.get('redis', {}).get('version', '')}: `LRANGE pins 0 9` on a list of "
                 "the same 100 pins (JSON rows), redis-benchmark with the same client count.\n")
        L.append("| clients | ipfs-kit q/s | Redis q/s | ipfs-kit / Redis | target |")
        L.append("|---|---|---|---|---|")
        for k in [str(c) for c in CLIENTS] + ["16 shared", "16 page"]:
            if k not in qps:
                continue
            r = red.get(k.split()[0], {}).get("qps")
            name = {"16 shared": "16 (one shared ik_client)",
                    "16 page": "16 through the version page (no round trip)"}.get(k, k)
            tgt = "≥ 100k/s" if k in ("16", "16 shared") else ""
            L.append(f"| {name} | {qps[k]['qps']:,.0f} | "
                     f"{f'{r:,.0f}' if r else '—'} | {fmt_x(ratio(qps[k]['qps'], r))} | "
                     f"{tgt} |")
        if "redis" in res and big:
            rd = res["redis"]
            zc100 = stores[big]["paths"].get("zero_copy|100")
            L.append(f"\nOne client, 100 rows: Redis `LRANGE pins 0 99` p50 "
                     f"{fmt_us(rd['lrange100_1client']['p50_us'])}, `HGETALL` p50 "
                     f"{fmt_us(rd['hgetall100_1client']['p50_us'])} (redis-benchmark, 1 µs "
                     f"resolution, rows still JSON text) versus ipfs-kit zero_copy limit 100 p50 "
                     f"{fmt_us(zc100['us']['p50'] if zc100 else None)} (Arrow columns).")

    L.append("\n## Memory\n")
    L.append("| pins | daemon VmRSS after start | after every path | after the throughput "
             "runs | daemon peak (VmHWM, whole run) | snapshot file |")
    L.append("|---|---|---|---|---|---|")
    for pins in pins_list:
        st = stores[pins]
        L.append(f"| {pins:,} | {fmt_kib(st.get('daemon_rss_kib_start'))} | "
                 f"{fmt_kib(st.get('daemon_rss_kib_after_paths'))} | "
                 f"{fmt_kib(st.get('daemon_rss_kib_after_qps'))} | "
                 f"{fmt_kib(st.get('daemon_hwm_kib'))} | "
                 f"{st['snapshot_bytes'] / 2**20:.1f} MiB |")
    L.append("\nThe daemon's peak includes the snapshot pages it touched writing the file at start "
             "(when it had to build it) and the IPC stream replies it encoded; at rest it holds "
             "little: the snapshots are files, mapped by the clients.")
    L.append("\nClient resident growth while holding a whole-table result (first query of a new "
             "client, VmRSS after taking every batch minus before the query):\n")
    L.append("| path | " + " | ".join(f"{p:,} pins" for p in pins_list) + " |")
    L.append("|---" * (len(pins_list) + 1) + "|")
    for label, *_ in PATHS:
        cells = []
        for p in pins_list:
            x = stores[p]["paths"].get(f"{label}|all")
            cells.append(fmt_kib(x["rss_growth_kib"]) if x else "—")
        L.append(f"| {label} | " + " | ".join(cells) + " |")

    if "pinadd" in res:
        p = res["pinadd"]
        L.append("\n## One change on (a copy of) the 1M-pin store: `pin add` request → reply "
                 "(after the new snapshot is published)\n")
        L.append("| min ms | p50 ms | p99 ms | daemon snapshot_build_ms (last) | target |")
        L.append("|---|---|---|---|---|")
        sb = p.get("snapshot_build_ms")
        sbs = f"{sb:.0f}" if isinstance(sb, (int, float)) else "n/a"
        L.append(f"| {mpp(p['ms'], fixed(0))} | {sbs} | ≤ 1000 ms |")
    L.append(f"\n## Bulk import of {n_imp:,} kubo `--stream` lines into an empty store\n")
    L.append(f"Each import runs {len(imp['store'].get('runs_s', [1]))} times into a fresh store; "
             f"the run with the median time is shown (every run's seconds in the JSON: "
             f"`import.*.runs_s`).\n")
    L.append("| path | pins/s | seconds | target |")
    L.append("|---|---|---|---|")
    di = imp["daemon"]
    sb = di.get("snapshot_build_ms")
    sbs = f", of which snapshot build {sb / 1e3:.2f} s" if isinstance(sb, (int, float)) else ""
    L.append(f"| through the daemon (ik_client_import_fd, reply after the snapshot) | "
             f"{di['pins_per_s']:,.0f} | {di['seconds']:.2f}{sbs} | |")
    if isinstance(sb, (int, float)) and di["seconds"] > sb / 1e3:
        only = di["seconds"] - sb / 1e3
        L.append(f"| through the daemon, the import itself (reply time minus the snapshot "
                 f"build) | {n_imp / only:,.0f} | {only:.2f} | ≥ 500k/s |")
    L.append(f"| in process (ik_store_import) | {imp['store']['pins_per_s']:,.0f} | "
             f"{imp['store']['seconds']:.2f} | ≥ 500k/s |")
    for n in notes:
        L.append(f"\nNote: {n}.")
    return L


def plots(res):
    """latest_latency.png (p50 versus pin count per path, log-log) and latest_throughput.png
    (queries/s versus concurrent clients, ipfs-kit and Redis). Returns the files written."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        res.setdefault("notes", []).append("no plots: matplotlib is not installed "
                                           "(scripts/bootstrap --bench)")
        return []
    stores = {int(k): v for k, v in res.get("stores", {}).items()}
    if not stores:
        return []
    pins_list = sorted(stores)
    rtt = rtt_floor(res["floor"])
    out = []
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2), sharey=True)
    for ax in axes:  # 12 series: one colour each
        ax.set_prop_cycle(color=[plt.get_cmap("tab20")(i) for i in range(0, 20, 2)]
                          + ["#393b79", "#637939"])
    for ax, lim, title in ((axes[0], "100", "limit 100"), (axes[1], "all", "whole table")):
        for label, *_ in PATHS:
            xs, ys = [], []
            for p in pins_list:
                v = stores[p]["paths"].get(f"{label}|{lim}")
                if v:
                    xs.append(p)
                    ys.append(v["us"]["p50"])
            ax.plot(xs, ys, marker="o", label=f"C client: {label}")
        alts = (("zc_limit100" if lim == "100" else "zc_all", "Python: pa.table(c.pins())"),
                (f"sqlite_{'limit100' if lim == '100' else 'all'}", "Python sqlite3"),
                (f"json_{'limit100' if lim == '100' else 'all'}", "Python json.loads (jsonl)"),
                (f"orjson_{'limit100' if lim == '100' else 'all'}", "Python orjson (jsonl)"),
                (f"ipfskit_{'limit100' if lim == '100' else 'all'}",
                 "IPFS-Kit's path (IPC file + to_pylist)"))
        for key, name in alts:
            xs, ys = [], []
            for p in pins_list:
                v = stores[p].get("python", {}).get(key)
                if v:
                    xs.append(p)
                    ys.append(v["p50"])
            if xs:
                ax.plot(xs, ys, marker="s", linestyle="--", label=name)
        ax.axhline(rtt, color="black", linewidth=0.8, linestyle=":",
                   label=f"floor: unix-socket RTT {rtt:.1f} µs")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("pins in the table")
        ax.set_title(f"p50 latency, {title}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("µs (log)")
    axes[1].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"ipfs-kit: every path versus pin count ({res['machine']['cpu']}, "
                 f"{res['machine']['cores']} cores, shared machine)", fontsize=10)
    fig.tight_layout()
    f = os.path.join(RESULTS, "latest_latency.png")
    fig.savefig(f, dpi=110)
    plt.close(fig)
    out.append(f)
    if "qps" in res:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        q = {str(k): v for k, v in res["qps"].items()}
        xs = [c for c in CLIENTS if str(c) in q]
        ax.plot(xs, [q[str(c)]["qps"] for c in xs], marker="o",
                label="ipfs-kit zero_copy, limit 10 (own ik_client per thread)")
        red = {str(k): v for k, v in res.get("redis", {}).get("lrange10", {}).items()}
        if red:
            ax.plot(xs, [red[str(c)]["qps"] for c in xs], marker="s", linestyle="--",
                    label="Redis LRANGE 0 9 (redis-benchmark)")
        ax.axhline(100_000, color="gray", linestyle=":", label="issue 4 target at 16: 100k/s")
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(c) for c in xs])
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("queries / s")
        ax.set_title("Small-query throughput, 2 cores", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        f = os.path.join(RESULTS, "latest_throughput.png")
        fig.savefig(f, dpi=110)
        plt.close(fig)
        out.append(f)
    return out


def headlines(res):
    """The few numbers README quotes, as one table."""
    L = ["## Headlines\n", "| question | result | ratio |", "|---|---|---|"]
    rtt = rtt_floor(res["floor"])
    stores = {int(k): v for k, v in res.get("stores", {}).items()}
    if 1_000_000 in stores:
        st = stores[1_000_000]
        zc = st["paths"]["zero_copy|100"]["us"]["p50"]
        L.append(f"| zero_copy limit 100 at 1M pins, p50 | {fmt_us(zc)} | "
                 f"{fmt_x(zc / rtt)} the unix-socket RTT ({fmt_us(rtt)}) |")
        pg = st["paths"].get("zero_copy (page)|100")
        if pg:
            L.append(f"| the same query repeated by a client, through the version page (the "
                     f"default), p50 | {fmt_us(pg['us']['p50'])} | "
                     f"{fmt_x(pg['us']['p50'] / rtt)} the RTT: no round trip |")
        py = st.get("python", {})
        if py.get("zc_limit100"):
            rt = py.get("zc_limit100_rt")
            L.append(f"| Python `pa.table(c.pins(limit=100))` at 1M pins, p50 | "
                     f"{fmt_us(py['zc_limit100']['p50'])} (detail "
                     f"{py.get('zc_limit100_detail', '?')})"
                     + (f"; {fmt_us(rt['p50'])} with `watch=False`" if rt else "")
                     + " | target ≤ 30 µs |")
        h = st["paths"]["zero_copy|all"]["us"]["p50"]
        h100 = stores.get(100, {}).get("paths", {}).get("zero_copy|all", {}).get("us", {})
        L.append(f"| zero_copy whole table, 1M pins, p50 | {fmt_us(h)} | "
                 f"{fmt_x(ratio(h, h100.get('p50')))} the 100-pin handoff |")
        for label in ("ipc_stream", "direct (SQLite)", "traditional (JSON)"):
            v = st["paths"].get(f"{label}|all")
            if v:
                L.append(f"| {label} whole table, 1M pins, p50 | {fmt_us(v['us']['p50'])} | "
                         f"{fmt_x(v['us']['p50'] / h)} zero_copy |")
        py = st["python"]
        ours = py.get("zc_all_rt") or py["zc_all"]  # asking the daemon, when measured
        for alt, name in (("sqlite_all", "SQLite select * (python sqlite3)"),
                          ("orjson_all", "orjson of jsonl"),
                          ("ipfskit_all", "IPFS-Kit's path (IPC file + to_pylist)")):
            if py.get(alt):
                L.append(f"| 1M pins into Python: {name} | {fmt_us(py[alt]['p50'])} | "
                         f"{fmt_x(py[alt]['p50'] / ours['p50'])} slower than "
                         f"`pa.table(c.pins())` ({fmt_us(ours['p50'])}) |")
        gb = {k: p50(py.get(f"groupby_{k}")) for k in ("pyarrow", "polars", "duckdb", "sqlite")}
        best = min((v, k) for k, v in gb.items() if k != "sqlite" and v)
        L.append(f"| group by backend over 1M pins | {best[1]} {fmt_us(best[0])}, SQLite "
                 f"{fmt_us(gb['sqlite'])} | {fmt_x(ratio(gb['sqlite'], best[0]))} faster than "
                 f"SQLite; C floor {fmt_us(st['groupby_c']['ms']['p50'] * 1e3)} |")
    if "hyperfine" in res:
        L.append(f"| `ipfs-kit pin list --limit 100` (hyperfine) | "
                 f"{res['hyperfine']['p50_ms']:.2f} ms | target ≤ 2 ms |")
    if "qps" in res:
        q = {str(k): v for k, v in res["qps"].items()}
        red = {str(k): v for k, v in res.get("redis", {}).get("lrange10", {}).items()}
        r16 = red.get("16", {}).get("qps")
        L.append(f"| limit-10 queries/s, 16 clients | {q['16']['qps']:,.0f} | "
                 + (f"{fmt_x(q['16']['qps'] / r16)} Redis LRANGE ({r16:,.0f}/s)"
                    if r16 else "") + " |")
    return L


def bench_changes(res):
    """changes(since) over 10,000 changes (issue 12: ≤ 5 ms), straight from the store: single-pin
    writes, each its own version, on 100,000 pins (10,000 in a quick run), and one import of
    10,000 pins in one version."""
    base = 10000 if QUICK else 100000
    out = subprocess.run([os.path.join(ROOT, "build", "bench-changes"), "10000", str(base),
                          "9" if QUICK else "21"], check=True, capture_output=True, text=True)
    r = json.loads(out.stdout)
    res["changes"] = r
    lines = ["\n## Change feed: changes(since), the daemon's change tail and the store's SQLite read\n",
             "The daemon answers recent versions from its change tail (`ik_change_tail_changes`); "
             "versions before it started from the store (`ik_store_changes`, SQLite).\n",
             "| changes | versions | from | rows returned | min | p50 | p99 | target |",
             "|---|---|---|---|---|---|---|---|"]
    for key, what in (("one_version", "one import"), ("many_versions", "one per write")):
        for pre, src in (("tail_", "change tail"), ("", "SQLite")):
            m = r.get(pre + key)
            if m is None:
                continue
            lines.append(f"| {r['changes']:,} on {r['base_pins']:,} pins | {what} | {src} | "
                         f"{m['rows']:,} | {m['min_ms']:.2f} ms | {m['p50_ms']:.2f} ms | "
                         f"{m['p99_ms']:.2f} ms | {'≤ 5 ms' if pre else ''} |")
    return lines


def main():
    t_start = time.perf_counter()
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    res = {"machine": machine(), "when": datetime.datetime.now(datetime.timezone.utc).isoformat(),
           "quick": QUICK}
    if os.environ.get("BENCH_ONLY") == "convert":  # the `arrow convert` rows alone
        lines = bench_convert(res)
        print("\n".join(lines))
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        with open(os.path.join(RESULTS, f"convert-{stamp}.json"), "w") as f:
            json.dump(res, f, indent=2)
        m = res["machine"]
        with open(os.path.join(RESULTS, "convert.md"), "w") as f:
            f.write(f"# `arrow convert` against pyarrow\n\n{res['when']} · {m['cpu']} · "
                    f"{m['cores']} cores · Linux {m['kernel']} · `BENCH_ONLY=convert "
                    f"bench/run.py` (also part of `make bench`)\n" + "\n".join(lines) + "\n")
        print(f"wrote bench/results/convert-{stamp}.json, bench/results/convert.md")
        return
    files = {}
    if QUICK:
        SIZES_MB[:] = [mb for mb in SIZES_MB if mb <= 100]
    for mb in SIZES_MB:
        p = os.path.join(WORK, f"fixed-{mb}mb.arrow")
        if not os.path.exists(p) or os.path.getsize(p) < mb << 20:
            run("gen", p, mb)
        files[mb] = p

    opens = {mb: run("open", p, 201) for mb, p in files.items()}
    res["open"] = opens
    biggest = max(files)
    val = run("validate", files[biggest], 5)
    try:
        py = pyarrow_read_validate(files[biggest], 5)
    except ImportError:
        py = None
    res["validate"] = {"ours": val, "pyarrow_s": py, "mb": biggest}
    write = run("write", 256, 7)
    res["write"] = write

    codec = []
    codec.append("## Arrow codec: open a mapped IPC file and reach batch 0 (structural "
                 "validation)\n")
    codec.append("| file | median µs | min µs | RSS growth (first open) | target |")
    codec.append("|---|---|---|---|---|")
    for mb, o in opens.items():
        codec.append(f"| {mb} MB | {o['median_us']:.1f} | {o['min_us']:.1f} | "
                     f"{o['first_rss_growth_kib']} KiB | ≤ 100 µs, ≤ 1 MB |")
    codec.append("\n## Arrow codec: full validation (map, open, every batch, every value)\n")
    codec.append("The fixed-width file has nothing to check per value but its null counts, so "
                 "its GB/s counts bytes never read; the pin snapshot (cid, name, paths: "
                 "offsets and UTF-8 of every value) is the real cost.\n")
    codec.append("| file | ours GB/s | ours s | pyarrow read_all+validate(full) s | pyarrow/ours | "
                 "target |")
    codec.append("|---|---|---|---|---|---|")
    vratio = f"{py / val['best_s']:.2f}×" if py else "n/a"
    pys = f"{py:.4f}" if py else "n/a"
    codec.append(f"| fixed-width, {biggest} MB | {val['gb_per_s']:.2f} | {val['best_s']:.4f} | "
                 f"{pys} | {vratio} | ≥ 2 GB/s; ratio ≥ 1 |")
    codec_strings_at = len(codec)
    codec.append("\n## Arrow codec: writing an uncompressed stream into memory\n")
    codec.append("| data | writer GB/s | memcpy GB/s (floor) | writer/memcpy | target |")
    codec.append("|---|---|---|---|---|")
    codec.append(f"| {write['bytes'] >> 20} MB | {write['writer_gb_per_s']:.2f} | "
                 f"{write['memcpy_gb_per_s']:.2f} | {write['ratio']:.2f} | ≥ 0.5 |")
    try:
        codec += bench_convert(res)
        codec += bench_value_checks(res)
    except ImportError:
        pass
    lines = []
    if os.environ.get("BENCH_DAEMON", "1") != "0":
        lines += bench_daemon(res)
        import bench_segments  # issue 12's targets, on copies of the same stores
        lines += bench_segments.bench(res)
        if os.environ.get("BENCH_SOAK", "1") != "0":
            import bench_soak  # issue 12's soak: writes and lookups together
            lines += bench_soak.bench(res)
    vs = res.get("validate_strings")
    if vs:
        codec.insert(codec_strings_at,
                     f"| pin_index snapshot, {vs['pins']:,} pins, {vs['ours']['bytes'] >> 20} MB | "
                     f"{vs['ours']['gb_per_s']:.2f} | {vs['ours']['best_s']:.4f} | "
                     f"{vs['pyarrow_s']:.4f} | {vs['pyarrow_s'] / vs['ours']['best_s']:.2f}× | "
                     f"≥ 2 GB/s; ratio ≥ 1 |")
    lines += bench_changes(res)
    lines += [""] + codec
    written = plots(res)
    if "segments" in res:
        import bench_segments
        wl = bench_segments.plot(res["segments"], os.path.join(RESULTS, "write_latency.png"))
        if wl:
            written.append(wl)
    total = time.perf_counter() - t_start
    res["total_s"] = round(total, 1)
    res["machine"]["loadavg_end"] = os.getloadavg()[0]
    m = res["machine"]
    head = [f"# ipfs-kit benchmarks\n",
            f"{res['when']} · {m['cpu']} · {m['cores']} cores · {m['ram_gb']:.0f} GB RAM · "
            f"Linux {m['kernel']} · Python {m['python']}",
            f"\n`make bench`{' (BENCH_QUICK=1)' if QUICK else ''}"
            f"{f' (BENCH_PINS={PINS_ENV})' if PINS_ENV else ''}: whole suite {total / 60:.1f} min "
            f"({total:.0f} s). Load average {m['loadavg_start']:.2f} at the start, "
            f"{m['loadavg_end']:.2f} at the end: this is a shared, noisy 2-core machine "
            "(other engineers run benchmarks on it too), so read the ratios to the floors "
            "measured in the same run rather than absolute times. Each number is min / p50 / "
            "p99 over repeated runs (counts in the JSON); nothing here asserts a time "
            "(`make bench-check` compares with the targets).\n"]
    if written:
        head.append("Plots: " + ", ".join(f"[{os.path.basename(f)}]({os.path.basename(f)})"
                                          for f in written) + "\n")
    if "stores" in res:
        head += headlines(res)
    text = "\n".join(head) + "\n\n" + "\n".join(lines) + "\n"
    print(text)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    with open(os.path.join(RESULTS, f"{stamp}.json"), "w") as f:
        json.dump(res, f, indent=2)
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(text)
    print(f"total {total:.0f} s; wrote bench/results/{stamp}.json, bench/results/latest.md"
          + "".join(f", bench/results/{os.path.basename(f)}" for f in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
