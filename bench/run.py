#!/usr/bin/env python3
"""Runs the benchmarks (`make bench`), prints one table per question and saves the results as
bench/results/<timestamp>.json and bench/results/latest.md.

Every speed is reported next to a floor measured in the same run (memcpy bandwidth, pyarrow on
the same file), as a ratio, because these machines are noisy. Nothing here asserts a time."""
import datetime
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bench-arrow")
WORK = os.path.join(ROOT, "build", "bench")
RESULTS = os.path.join(ROOT, "bench", "results")
SIZES_MB = [int(s) for s in os.environ.get("BENCH_SIZES_MB", "10,100,1000").split(",")]


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
            "python": platform.python_version()}


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


def main():
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    res = {"machine": machine(), "when": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    files = {}
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
    res["validate"] = {"ours": val, "pyarrow_s": py}
    write = run("write", 256, 7)
    res["write"] = write

    lines = []
    lines.append("## Open a mapped IPC file and reach batch 0 (structural validation)\n")
    lines.append("| file | median µs | min µs | RSS growth (first open) | target |")
    lines.append("|---|---|---|---|---|")
    for mb, o in opens.items():
        lines.append(f"| {mb} MB | {o['median_us']:.1f} | {o['min_us']:.1f} | "
                     f"{o['first_rss_growth_kib']} KiB | ≤ 100 µs, ≤ 1 MB |")
    lines.append("\n## Full validation of a fixed-width-heavy file\n")
    lines.append("| file | ours GB/s | ours s | pyarrow read_all+validate(full) s | pyarrow/ours | target |")
    lines.append("|---|---|---|---|---|---|")
    ratio = f"{py / val['best_s']:.2f}×" if py else "n/a"
    pys = f"{py:.4f}" if py else "n/a"
    lines.append(f"| {biggest} MB | {val['gb_per_s']:.2f} | {val['best_s']:.4f} | {pys} | {ratio} | "
                 "≥ 2 GB/s; ratio ≥ 1 |")
    lines.append("\n## Writing an uncompressed stream into memory\n")
    lines.append("| data | writer GB/s | memcpy GB/s (floor) | writer/memcpy | target |")
    lines.append("|---|---|---|---|---|")
    lines.append(f"| {write['bytes'] >> 20} MB | {write['writer_gb_per_s']:.2f} | "
                 f"{write['memcpy_gb_per_s']:.2f} | {write['ratio']:.2f} | ≥ 0.5 |")
    m = res["machine"]
    header = (f"# ipfs-kit benchmarks\n\n{res['when']} · {m['cpu']} · {m['cores']} cores · "
              f"Linux {m['kernel']}\n")
    text = header + "\n" + "\n".join(lines) + "\n"
    print(text)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    with open(os.path.join(RESULTS, f"{stamp}.json"), "w") as f:
        json.dump(res, f, indent=2)
    with open(os.path.join(RESULTS, "latest.md"), "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
