#!/usr/bin/env python3
"""Issue 18's Flight targets, measured on the bench stores built by run.py (build/bench/store-N)
with the daemon serving Flight on a unix socket and a free loopback port:

- DoGet of the whole table, the daemon against pyarrow's own Flight server
  (`pyarrow.flight.FlightServerBase` serving the same table from memory, in its own process, in
  batches of the same size), read by the same pyarrow client over grpc+tcp, alternating (ours
  first in odd rounds, pyarrow's in even ones), min and median of the runs (target: ≥ 1.0×
  pyarrow's throughput), with each server's CPU and the client's CPU and page faults per read;
  before the daemon starts, the table's files are dropped from the page cache, as after a
  reboot: the daemon maps them back in huge pages (docs/flight.md, "Huge pages") whichever
  build wrote them;
- the first batch of that DoGet against a gRPC unary round trip to the daemon (GetSchema of
  pin_index), p50 (target: ≤ 2×), interleaved: after an idle gap (GAP_S: the cancelled DoGet
  before has drained) one round trip wakes both ends (reported as the round trip after idle),
  then a timed round trip and, right after it, the timed first batch;
- the daemon's bytes-copied counter around one whole-table DoGet: body bytes sent as slices of
  the mapped segments against bytes copied (target: no row copied).

Environment: FLIGHT_PINS (default 1000000,10000000; BENCH_QUICK=1: 100000), BENCH_QUICK.
Writes bench/results/flight.json and flight.md. Nothing here asserts a time."""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.flight as fl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402 - the suite's helpers (stores, the CLI)

QUICK = R.QUICK
PINS = [int(s) for s in os.environ.get("FLIGHT_PINS", "100000" if QUICK else
                                       "1000000,10000000").split(",")]
REPS = 6 if QUICK else 12
BATCH_ROWS = 65536

SERVER = r'''
import sys, pyarrow as pa, pyarrow.flight as fl, pyarrow.ipc as ipc
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as f:
    data = f.read()  # the table in memory, not mapped
t = ipc.open_stream(pa.py_buffer(data)).read_all()
t = pa.Table.from_batches(t.combine_chunks().to_batches(max_chunksize=rows))
class S(fl.FlightServerBase):
    def do_get(self, context, ticket):
        return fl.RecordBatchStream(t)
    def list_actions(self, context):
        return []
s = S("grpc+tcp://127.0.0.1:0")
print(s.port, flush=True)
s.serve()
'''


def cli(path, *args):
    return R.cli(path, *args)


def status(path):
    return json.loads(cli(path, "daemon", "status", "--format", "json").stdout)


def metric(path, name):
    return R.metric(path, name)


def timed_read(cl, ticket):
    t0 = time.perf_counter()
    t = cl.do_get(ticket).read_all()
    return time.perf_counter() - t0, t


def client_usage():
    """This process's minor page faults and CPU seconds so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_minflt, r.ru_utime + r.ru_stime


def drop_cached(d):
    """Drops the store's snapshot files from the page cache (the daemon is stopped: nothing maps
    them), so the daemon faults them in as it maps them, as after a reboot."""
    sdir = os.path.join(d, "snapshots")
    for name in os.listdir(sdir):
        fd = os.open(os.path.join(sdir, name), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def huge_kb(pid):
    """kB of process `pid`'s memory mapped in huge pages: files (FilePmdMapped) and anonymous."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("FilePmdMapped", "AnonHugePages"):
                out[k] = int(v.split()[0])
    return out.get("FilePmdMapped", 0) + out.get("AnonHugePages", 0)


GAP_S = 0.02  # idle before each first-batch and round-trip sample


def first_batch(cl, ticket):
    t0 = time.perf_counter()
    r = cl.do_get(ticket)
    r.read_chunk()
    dt = time.perf_counter() - t0
    r.cancel()
    return dt


def cpu_s(pid):
    """User + system CPU seconds of process `pid` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p50(xs):
    return statistics.median(xs)


def measure(pins):
    d = R.store_dir(pins)
    conf_path = os.path.join(d, "config.json")
    saved = open(conf_path).read() if os.path.exists(conf_path) else None
    conf = json.loads(saved) if saved else {}
    conf["flight"] = {"listen": [f"grpc+unix://{d}/flight.sock", "grpc+tcp://127.0.0.1:0"],
                      "batch_rows": BATCH_ROWS}
    with open(conf_path, "w") as f:
        json.dump(conf, f)
    res = {"pins": pins, "load_start": os.getloadavg()[0]}
    server = None
    try:
        R.cli(d, "daemon", "stop", check=False)
        drop_cached(d)
        with R.Daemon(d) as daemon:
            st = status(d)
            loc = st["flight"][1]
            ours = fl.FlightClient(loc)
            info = ours.get_flight_info(fl.FlightDescriptor.for_path("pin_index"))
            ticket = info.endpoints[0].ticket
            # the bytes counters around one whole-table read
            ref0 = metric(d, "flight_body_bytes_referenced_total")
            cop0 = metric(d, "flight_body_bytes_copied_total")
            _, table = timed_read(ours, ticket)
            res["referenced_bytes"] = metric(d, "flight_body_bytes_referenced_total") - ref0
            res["copied_bytes"] = metric(d, "flight_body_bytes_copied_total") - cop0
            res["table_bytes"] = table.nbytes
            res["rows"] = table.num_rows
            # pyarrow's server, the same table from memory in its own process
            with tempfile.NamedTemporaryFile(suffix=".arrow", dir=R.WORK) as tmp:
                with pa.ipc.new_stream(tmp.name, table.schema) as w:
                    w.write_table(table)
                del table
                server = subprocess.Popen([sys.executable, "-c", SERVER, tmp.name,
                                           str(BATCH_ROWS)], stdout=subprocess.PIPE, text=True)
                port = int(server.stdout.readline())
            theirs = fl.FlightClient(f"grpc+tcp://127.0.0.1:{port}")
            t_ours, t_theirs = [], []
            cpu = {"ours": 0.0, "pyarrow": 0.0}
            client = {"ours": [], "pyarrow": []}  # (page faults, CPU ms) per read
            reads = {"ours": (ours, ticket, daemon.pid(), t_ours),
                     "pyarrow": (theirs, fl.Ticket(b"all"), server.pid, t_theirs)}
            for i in range(REPS):
                # each server goes first in every other round: the client's allocator state
                # left by one read is what the next one starts from
                for name in (("ours", "pyarrow") if i % 2 == 0 else ("pyarrow", "ours")):
                    cl, tk, pid, times = reads[name]
                    c0, (f0, u0) = cpu_s(pid), client_usage()
                    times.append(timed_read(cl, tk)[0])
                    f1, u1 = client_usage()
                    cpu[name] += cpu_s(pid) - c0
                    client[name].append((f1 - f0, (u1 - u0) * 1e3))
            # the servers' own CPU per read: what each spends, whatever the load does to the
            # client sharing the machine (2 cores here)
            res["server_cpu_ms"] = {k: v / REPS * 1e3 for k, v in cpu.items()}
            res["client_per_read"] = {
                k: {"faults_p50": p50([x[0] for x in v]), "cpu_ms_p50": p50([x[1] for x in v]),
                    "runs": v} for k, v in client.items()}
            res["huge_kb"] = {"ours": huge_kb(daemon.pid()), "pyarrow": huge_kb(server.pid)}
            res["doget_s"] = {"ours_min": min(t_ours), "ours_p50": p50(t_ours),
                              "pyarrow_min": min(t_theirs), "pyarrow_p50": p50(t_theirs),
                              "ours_runs": t_ours, "pyarrow_runs": t_theirs}
            res["throughput_ratio"] = min(t_theirs) / min(t_ours)
            res["throughput_ratio_p50"] = p50(t_theirs) / p50(t_ours)
            res["ours_mb_s"] = res["table_bytes"] / min(t_ours) / 1e6
            res["pyarrow_mb_s"] = res["table_bytes"] / min(t_theirs) / 1e6
            n = 20 if QUICK else 60
            desc = fl.FlightDescriptor.for_path("pin_index")
            fb, fb_theirs, unary, cold = [], [], [], []
            for _ in range(n):
                # after the gap (the cancelled DoGet before has drained), one untimed round
                # trip wakes both ends; then a timed round trip and the timed first batch
                time.sleep(GAP_S)
                t0 = time.perf_counter()
                ours.get_schema(desc)
                cold.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                ours.get_schema(desc)
                unary.append(time.perf_counter() - t0)
                fb.append(first_batch(ours, ticket))
                time.sleep(GAP_S)
                list(theirs.list_actions())  # the same wake-up for pyarrow's server
                fb_theirs.append(first_batch(theirs, fl.Ticket(b"all")))
            res["first_batch_p50_ms"] = p50(fb) * 1e3
            res["unary_p50_ms"] = p50(unary) * 1e3
            res["first_batch_min_ms"] = min(fb) * 1e3
            res["pyarrow_first_batch_p50_ms"] = p50(fb_theirs) * 1e3
            res["unary_min_ms"] = min(unary) * 1e3
            res["unary_cold_p50_ms"] = p50(cold) * 1e3
            res["first_batch_ratio"] = p50(fb) / p50(unary)
            ours.close()
            theirs.close()
            res["load_end"] = os.getloadavg()[0]
    finally:
        if server:
            server.kill()
            server.wait()
        if saved is None:
            os.unlink(conf_path)
        else:
            with open(conf_path, "w") as f:
                f.write(saved)
    return res


def report(results):
    lines = [f"## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; batches of "
             f"{BATCH_ROWS} rows (both servers); min (p50) of {REPS} alternating runs (each "
             "server first in every other round), one pyarrow client over grpc+tcp on loopback; "
             "the table's files dropped from the page cache before the daemon started.", "",
             "| pins (load at start / end) | DoGet whole table: daemon | pyarrow FlightServerBase "
             "(memory) | ratio (target ≥ 1.0) | first batch p50 (pyarrow's) | GetSchema round trip "
             "p50 (after idle) | ratio (target ≤ 2) "
             "| body bytes referenced / copied | server CPU per whole-table DoGet: daemon / "
             "pyarrow | client per read, p50: CPU, page faults (reading the daemon / pyarrow) "
             "| servers' memory in huge pages |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['pins']:,} | skipped: {r['skipped']} | | | | | | | | | |")
            continue
        g, c = r["doget_s"], r["client_per_read"]
        lines.append(
            f"| {r['pins']:,} ({r['load_start']:.1f} / {r['load_end']:.1f}) | "
            f"{g['ours_min'] * 1e3:.0f} ms ({g['ours_p50'] * 1e3:.0f}), "
            f"{r['ours_mb_s']:.0f} MB/s | {g['pyarrow_min'] * 1e3:.0f} ms "
            f"({g['pyarrow_p50'] * 1e3:.0f}), {r['pyarrow_mb_s']:.0f} MB/s | "
            f"{r['throughput_ratio']:.2f}× ({r['throughput_ratio_p50']:.2f}×) | "
            f"{r['first_batch_p50_ms']:.2f} ms (min {r['first_batch_min_ms']:.2f}; pyarrow "
            f"{r['pyarrow_first_batch_p50_ms']:.2f}) | "
            f"{r['unary_p50_ms']:.2f} ms (min {r['unary_min_ms']:.2f}; after idle "
            f"{r['unary_cold_p50_ms']:.2f}) | "
            f"{r['first_batch_ratio']:.2f}× | "
            f"{r['referenced_bytes'] / 1e6:.1f} MB / "
            f"{r['copied_bytes'] / 1e6:.2f} MB of a {r['table_bytes'] / 1e6:.1f} MB table | "
            f"{r['server_cpu_ms']['ours']:.0f} ms / {r['server_cpu_ms']['pyarrow']:.0f} ms | "
            f"{c['ours']['cpu_ms_p50']:.0f} ms, {c['ours']['faults_p50']:,.0f} / "
            f"{c['pyarrow']['cpu_ms_p50']:.0f} ms, {c['pyarrow']['faults_p50']:,.0f} | "
            f"{r['huge_kb']['ours'] / 1024:.0f} MB / {r['huge_kb']['pyarrow'] / 1024:.0f} MB |")
    lines += ["", "First batch: the daemon's DoGet starts with 256 rows, doubling to batch_rows, "
              "and sends the rest 1 ms after the first batch (docs/flight.md, \"First batch\"). "
              f"Each sample: {GAP_S * 1e3:.0f} ms idle (the cancelled DoGet before drains), one "
              "round trip to wake both ends (\"after idle\"), then the timed round trip and the "
              "timed first batch back to back. pyarrow's server gets the same idle and wake-up "
              "(ListActions).", "",
              "Copied bytes are the padding between buffers and the offsets of each batch "
              "after a segment's first (rebased to 0, as IPC wants); no row's values are "
              "copied (docs/flight.md, \"Zero copy\").", "",
              "Client per read: the pyarrow client copies each message into one buffer it "
              "allocates (gRPC's `grpc_byte_buffer_reader_readall`, glibc malloc) whichever "
              "server sent it; when glibc has given the last table's memory back, every page "
              "of the new one faults (~45,000 at 1M pins) and the client's CPU doubles. Which "
              "reads do is the client allocator's state, not the stream (docs/flight.md, "
              "\"Throughput\")."]
    return "\n".join(lines) + "\n"


HISTORY = 8  # earlier runs kept below the newest in flight.md


def with_history(md, path):
    """The newest run's section on top of the earlier ones already in `path` (at most
    HISTORY of them)."""
    old = ""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        pass
    parts = old.split("\n## ")[1:] if "\n## " in old else []
    if old and not parts and not old.startswith("## "):
        # a file from before sections: its body is one earlier run
        body = old.split("\n", 1)[1].lstrip("\n") if old.startswith("# ") else old
        parts = ["(earlier)\n\n" + body]
    keep = "".join("\n## " + p.rstrip("\n") + "\n" for p in parts[:HISTORY])
    return "# Arrow Flight (issue 18)\n\nNewest first.\n\n" + md + keep


def main():
    os.makedirs(R.WORK, exist_ok=True)
    results = []
    for pins in PINS:
        why = R.room_for(pins)
        if why:
            results.append({"pins": pins, "skipped": why})
            continue
        print(f"flight: {pins} pins", file=sys.stderr)
        results.append(measure(pins))
    md = report(results)
    print(md)
    os.makedirs(R.RESULTS, exist_ok=True)
    with open(os.path.join(R.RESULTS, "flight.json"), "w") as f:
        json.dump({"results": results, "machine": R.machine()}, f, indent=1)
    path = os.path.join(R.RESULTS, "flight.md")
    text = with_history(md, path)
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
