#!/usr/bin/env python3
"""Issue 12's soak target: 1,000 `pin touch`/s for 60 s on the 10M-pin store while 16 clients
look pins up by cid (zero_copy, the version page on, as clients do by default): queries
≥ 50k/s, daemon RSS ≤ 256 MB (its peak, sampled every 0.2 s, and VmHWM), write reply p99
≤ 10 ms. The writers (BENCH_SOAK_WRITERS connections, default 8, as a node's many touching
processes) are each paced by the clock (bench-soak): if replies are slow they fall behind and
the achieved rate says so.

On a copy of bench/run.py's store of BENCH_SOAK_PINS pins (default: the largest of
BENCH_PINS that this machine can hold, 10M when room_for() allows), with its own daemon.
BENCH_SOAK_SECONDS (default 60; 10 with BENCH_QUICK=1), BENCH_SOAK_CLIENTS (16),
BENCH_SOAK_RATE (1000), BENCH_SOAK_WRITERS (8). Run by run.py (`make bench`, not `make test`), or alone:
`.venv/bin/python bench/bench_soak.py` writes bench/results/soak.json and soak.md. Nothing
here asserts a time (bench/check.py reads the JSON)."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402 - the suite's helpers (stores, the CLI, the daemon)

SOAK = os.path.join(R.ROOT, "build", "bench-soak")


def pins_default():
    env = os.environ.get("BENCH_SOAK_PINS")
    if env:
        return int(env)
    fits = [p for p in R.PINS if not R.room_for(p)]
    return max(fits) if fits else 1_000_000


def status(path):
    return json.loads(R.cli(path, "daemon", "status", "--format", "json").stdout)


def bench(res):
    pins = pins_default()
    seconds = float(os.environ.get("BENCH_SOAK_SECONDS", "10" if R.QUICK else "60"))
    clients = int(os.environ.get("BENCH_SOAK_CLIENTS", "16"))
    rate = float(os.environ.get("BENCH_SOAK_RATE", "1000"))
    # touches come from many processes on a real node (one per file access): several
    # connections, each paced, so group commit can share a delta among concurrent writes
    writers = int(os.environ.get("BENCH_SOAK_WRITERS", "8"))
    src = R.store_dir(pins)
    cp = os.path.join(R.WORK, f"soak-{pins}")
    subprocess.run(["rm", "-rf", cp], check=True)
    # a hard-linked copy would share pins.db's inode with the store: copy it, reflinks when the
    # file system can
    subprocess.run(["cp", "-r", "--reflink=auto", src, cp], check=True)
    for f in os.listdir(cp):
        if f.startswith("daemon."):
            os.unlink(os.path.join(cp, f))
    load0 = os.getloadavg()
    samples = []
    with R.Daemon(cp) as d:
        pid = d.pid()
        rss_start = d.rss_kib()
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    samples.append(d.rss_kib())
                except OSError:
                    pass
                stop.wait(0.2)

        t = threading.Thread(target=sample)
        t.start()
        try:
            out = subprocess.run([SOAK, cp, str(seconds), str(clients), str(rate), str(writers)],
                                 capture_output=True, text=True, timeout=seconds + 600)
        finally:
            stop.set()
            t.join()
        hwm = d.rss_kib("VmHWM")
        st = status(cp)
    subprocess.run(["rm", "-rf", cp], check=True)
    try:
        r = json.loads(out.stdout)
    except ValueError:
        raise RuntimeError(f"bench-soak failed ({out.returncode}): {out.stderr or out.stdout}")
    r.update({"pins": pins, "daemon_pid": pid, "rss_start_mib": rss_start / 1024,
              "rss_max_mib": max(s for s in samples if s) / 1024 if samples else None,
              "rss_hwm_mib": hwm / 1024 if hwm else None, "segments_end": st.get("segments"),
              "compactions": st.get("compactions"), "loadavg_start": load0[0],
              "loadavg_end": os.getloadavg()[0], "exit": out.returncode})
    res["soak"] = r
    return report(r)


def report(r):
    w = r["write_ms"]
    return [
        "\n## Soak: writes and lookups together (issue 12)\n",
        f"{r['seconds']:.0f} s on {r['pins']:,} pins: {r.get('writers', 1)} writer connection(s) "
        f"sending `pin touch` at {r['rate']:.0f}/s between them (each paced by the clock), "
        f"{r['clients']} clients looking pins up by cid "
        f"(zero_copy, version page on). Load average {r['loadavg_start']:.1f} at the start, "
        f"{r['loadavg_end']:.1f} at the end (shared 2-core machine). {r['failures']} failures"
        f"{' (first: ' + r['first_error'] + ')' if r['failures'] else ''}; "
        f"{r['segments_end']} segments at the end, {r['compactions']} compactions.\n",
        "| measure | value | target |", "|---|---|---|",
        f"| writes done (per second) | {r['writes']:,} ({r['writes_per_s']:.0f}/s; a writer "
        f"fell up to {r['writer_late_max_ms']:.0f} ms behind) | 1,000/s sustained |",
        f"| write reply ms min / p50 / p99 / max | {w['min']:.2f} / {w['p50']:.2f} / "
        f"{w['p99']:.2f} / {w['max']:.1f} | p99 ≤ 10 ms |",
        f"| lookups per second ({r['clients']} clients) | {r['queries_per_s']:,.0f} | ≥ 50,000 |",
        f"| daemon RSS MiB: start / max sampled / VmHWM | {r['rss_start_mib']:.0f} / "
        f"{r['rss_max_mib']:.0f} / {r['rss_hwm_mib']:.0f} | ≤ 256 MB |",
    ]


def main():
    os.makedirs(R.WORK, exist_ok=True)
    res = {"machine": R.machine()}
    R.write_results("soak", "Soak", res, bench(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
