#!/usr/bin/env python3
"""Issue 12's targets (incremental snapshots), measured on copies of the bench stores built by
run.py (build/bench/store-N), each with its own daemon:

- `pin add` → reply p50 at every pin count (≤ 1 ms at 1M, ≤ 2× the 1,000-pin store);
- the limit-100 zero-copy query after 10,000 single-pin writes (minor merges only: not yet
  compacted) against the same store compacted (≤ 1.5×), and the compaction's time against the
  full build's (the daemon's `status`);
- the whole-table handoff with 100 deltas (≤ 100 µs);
- a point lookup by cid, library call, warm, with deltas present (≤ 20 µs p50), and `pin list
  --cid X` as a whole process (≤ 2 ms);
- the write-latency plot: p50 of `pin add` against pin count, before (the full rebuild of every
  snapshot; from BENCH_BEFORE_JSON, a results file of the same suite run on the old code, when
  given) and after.

10M pins are measured when room_for() allows (BENCH_PINS with 10000000). Run by run.py
(`make bench`), or alone: `BENCH_PINS=1000,1000000 .venv/bin/python
bench/bench_segments.py` writes bench/results/segments.json, segments.md and
write_latency.png; BENCH_SEGMENTS=handoff measures the whole-table handoff with 100 deltas at
the largest count alone (a section on top of segments.md, handoff.json), and
BENCH_SEGMENTS=compaction a major compaction against the full build there (compaction.json).
Nothing here asserts a time (bench/check.py reads the JSON)."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402 - the suite's helpers (stores, bench-daemon, the CLI)

NEVER_MAJOR = {"IPFS_KIT_COMPACT_MIN_ROWS": "1000000000000"}
NEVER = dict(NEVER_MAJOR, IPFS_KIT_COMPACT_DELTAS="1000000")


def status(path):
    return json.loads(R.cli(path, "daemon", "status", "--format", "json").stdout)


def copy_store(pins, tag):
    src = R.store_dir(pins)
    cp = os.path.join(R.WORK, f"seg-{tag}-{pins}")
    subprocess.run(["rm", "-rf", cp], check=True)
    shutil.copytree(src, cp, ignore=shutil.ignore_patterns("daemon.*"))
    return cp


class Daemon(R.Daemon):
    """run.py's daemon with extra environment (the compaction thresholds)."""

    def __init__(self, path, env=None):
        super().__init__(path)
        self.env = env or {}

    def __enter__(self):
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            return super().__enter__()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def wait(cond, timeout, what):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError(what)
        time.sleep(0.05)


def settle(path, quiet=1.0, timeout=120):
    """Waits until the daemon's segment count has not changed for `quiet` seconds."""
    end = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < end:
        n = status(path)["segments"]
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return n
        time.sleep(0.05)
    raise TimeoutError("the minor merges to settle")


def bench(res):
    out = {"pinadd": {}}
    pins_list = [p for p in R.PINS if p <= 1_000_000 or not R.room_for(p)] or [1000, 1_000_000]
    if 1000 not in pins_list:
        pins_list = sorted(set(pins_list) | {1000})
    iters = 50 if R.QUICK else 200
    for pins in pins_list:
        cp = copy_store(pins, "add")
        with Daemon(cp):
            full = status(cp)["build_ms_last"]  # the start's full build
            r = R.drun("pinadd", cp, iters)
            r["full_build_ms"] = full
            out["pinadd"][str(pins)] = r
        subprocess.run(["rm", "-rf", cp], check=True)
    big = max(pins_list)
    n_writes = 1000 if R.QUICK else 10_000

    # 10,000 single-pin writes (minor merges keep the deltas few), then the same store compacted
    cp = copy_store(big, "writes")
    with Daemon(cp, NEVER_MAJOR):
        out["writes"] = R.drun("pinadd", cp, n_writes)
        st = status(cp)
        out["after_writes"] = {"segments": st["segments"], "compactions": st["compactions"]}
        out["q100_uncompacted"] = R.drun("query", cp, 100, R.ITERS)
        # changes(since) of those writes through a client: the daemon's reply (its change
        # tail) against the store read by the client itself (SQLite), in the same run
        since = out["writes"]["generation"] - n_writes
        out["changes_daemon"] = R.drun("changes", cp, since, 21, "daemon")
        out["changes_direct"] = R.drun("changes", cp, since, 21, "direct")
    with Daemon(cp, {"IPFS_KIT_COMPACT_SHARE": "1000000", "IPFS_KIT_COMPACT_MIN_ROWS": "1"}):
        wait(lambda: status(cp)["segments"] == 1, 600, "the compaction")
        st = status(cp)
        out["compaction_ms"] = st["compaction_ms_last"]
        out["q100_compacted"] = R.drun("query", cp, 100, R.ITERS)
    subprocess.run(["rm", "-rf", cp], check=True)

    # 100 single writes with the default minor merges (tiered): the deltas they leave, and the
    # whole-table handoff and `pin list --cid X` on that state
    cp = copy_store(big, "merged")
    with Daemon(cp, NEVER_MAJOR):
        R.drun("pinadd", cp, 100)
        settle(cp)
        out["merged_segments"] = status(cp)["segments"]
        out["handoff_100_writes"] = R.drun("query", cp, -1, 200 if R.QUICK else 1000)
        cid = json.loads(R.cli(cp, "pin", "list", "--limit", "1", "--offset", "777",
                               "--format", "jsonl").stdout)["cid"]
        out["cli_lookup_merged"] = R.drun("exec", 50 if R.QUICK else 300, R.CLI, "--path", cp,
                                          "pin", "list", "--cid", cid)
    subprocess.run(["rm", "-rf", cp], check=True)

    # 100 deltas (no merge): the whole-table handoff, and point lookups
    cp = copy_store(big, "deltas")
    with Daemon(cp, NEVER):
        R.drun("pinadd", cp, 100)
        out["deltas_segments"] = status(cp)["segments"]
        out["handoff_100_deltas"] = R.drun("query", cp, -1, 200 if R.QUICK else 1000)
        out["lookup_page"] = R.drun("lookup", cp, R.ITERS, watch=True)
        out["lookup_round_trip"] = R.drun("lookup", cp, R.ITERS)
        cid = json.loads(R.cli(cp, "pin", "list", "--limit", "1", "--offset", "777",
                               "--format", "jsonl").stdout)["cid"]
        out["cli_lookup"] = R.drun("exec", 50 if R.QUICK else 300, R.CLI, "--path", cp, "pin",
                                   "list", "--cid", cid)
    subprocess.run(["rm", "-rf", cp], check=True)
    before = os.environ.get("BENCH_BEFORE_JSON")
    if before:
        with open(before) as f:
            out["before"] = json.load(f).get("segments", {}).get("pinadd")
    res["segments"] = out
    return report(out)


def p50(d, key="ms"):
    return d[key]["p50"]


def report(s):
    L = ["\n## Incremental snapshots (issue 12): a write costs O(change)\n",
         "`pin add` request → reply (the write visible: its delta published), "
         "`bench-daemon pinadd`, on a copy of each store; the full build is the one the daemon "
         "makes at start (what every write cost before).\n",
         "| pins | min ms | p50 ms | p99 ms | full build ms | target |", "|---|---|---|---|---|---|"]
    for pins, r in sorted(s["pinadd"].items(), key=lambda kv: int(kv[0])):
        L.append(f"| {int(pins):,} | {R.mpp(r['ms'], R.fixed(3))} | {r['full_build_ms']:.0f} | "
                 f"≤ 1 ms; ≤ 2× the 1,000-pin store |")
    w = s["writes"]
    L.append(f"\n{w['ms']['n']:,} single-pin writes on the largest store (major compaction "
             f"off): p50 {p50(w):.3f} ms, p99 {w['ms']['p99']:.3f} ms; afterwards "
             f"{s['after_writes']['segments']} segments ({s['after_writes']['compactions']} "
             f"minor merges meanwhile).\n")
    L.append("| query | min µs | p50 µs | p99 µs | target |")
    L.append("|---|---|---|---|---|")
    u, c = s["q100_uncompacted"], s["q100_compacted"]
    L.append(f"| limit 100 after 10,000 writes (not compacted) | {R.mpp(u['us'])} | "
             f"≤ 1.5× compacted ({p50(u, 'us') / p50(c, 'us'):.2f}×) |")
    L.append(f"| limit 100, compacted | {R.mpp(c['us'])} | |")
    if "changes_daemon" in s:
        cd, cs = s["changes_daemon"], s["changes_direct"]
        L.append(f"| changes(since) of the {cd['rows']:,} changed pins, client call through the "
                 f"daemon (its change tail; IPC stream) (ms) | {R.mpp(cd['ms'], R.fixed(2))} | "
                 f"≤ 5 ms; the store read (SQLite) by the client: p50 {p50(cs):.2f} ms, "
                 f"{p50(cs) / p50(cd):.1f}× |")
    h = s["handoff_100_writes"]
    L.append(f"| whole table after 100 single writes, minor merges on: {s['merged_segments']} "
             f"segments (held state: one round trip, one slice per segment) | {R.mpp(h['us'])} | "
             f"≤ 100 µs |")
    h = s["handoff_100_deltas"]
    L.append(f"| whole table, {s['deltas_segments']} segments (held state: one round trip, "
             f"one slice per segment) | {R.mpp(h['us'])} | ≤ 100 µs |")
    lp, lr = s["lookup_page"], s["lookup_round_trip"]
    L.append(f"| cid point lookup, library call, warm (version page) | {R.mpp(lp['us'])} | "
             f"≤ 20 µs |")
    L.append(f"| cid point lookup, library call, round trip | {R.mpp(lr['us'])} | |")
    e = s["cli_lookup_merged"]
    L.append(f"| `pin list --cid X`, whole process, after 100 writes, minor merges on ({s['merged_segments']} "
             f"segments) (ms) | {R.mpp(e['ms'], R.fixed(2))} | ≤ 2 ms |")
    e = s["cli_lookup"]
    L.append(f"| `pin list --cid X`, whole process, {s['deltas_segments']} segments (ms) | "
             f"{R.mpp(e['ms'], R.fixed(2))} | ≤ 2 ms |")
    L.append(f"\nCompaction of the largest store (in the background): {s['compaction_ms']:.0f} ms "
             f"(target ≤ the full build).\n")
    return L


def plot(s, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    pins = sorted(int(p) for p in s["pinadd"])
    ax.plot(pins, [s["pinadd"][str(p)]["ms"]["p50"] for p in pins], "o-",
            label="after: delta segments")
    ax.plot(pins, [s["pinadd"][str(p)]["full_build_ms"] for p in pins], "s--",
            label="full snapshot build (the write path before)")
    before = s.get("before")
    if before:
        bp = sorted(int(p) for p in before)
        ax.plot(bp, [before[str(p)]["ms"]["p50"] for p in bp], "x:",
                label="before: pin add p50 (old code)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pins in the store")
    ax.set_ylabel("pin add → reply, p50 ms")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def handoff(pins):
    """BENCH_SEGMENTS=handoff: the whole-table handoff alone at `pins` (the largest count):
    on the state the store's copy starts with (one segment: the floor, same run and daemon),
    then after 100 single writes left unmerged (101 segments), each measured ROUNDS times in
    turn (the first state's last, then the second's), each a bench-daemon run of 1000 queries."""
    rounds = int(os.environ.get("BENCH_HANDOFF_ROUNDS", "3"))
    cp = copy_store(pins, "handoff")
    out = {"pins": pins, "loadavg_start": os.getloadavg()[0], "base": [], "deltas": []}
    with Daemon(cp, NEVER) as d:
        out["base_segments"] = status(cp)["segments"]
        for _ in range(rounds):
            out["base"].append(R.drun("query", cp, -1, 1000))
        R.drun("pinadd", cp, 100)
        out["deltas_segments"] = status(cp)["segments"]
        for _ in range(rounds):
            out["deltas"].append(R.drun("query", cp, -1, 1000))
        out["rss_hwm_mib"] = d.rss_kib("VmHWM") / 1024
    out["loadavg_end"] = os.getloadavg()[0]
    subprocess.run(["rm", "-rf", cp], check=True)
    b = [r["us"]["p50"] for r in out["base"]]
    t = [r["us"]["p50"] for r in out["deltas"]]
    lines = [
        f"\n## Whole-table handoff at {pins:,} pins with 100 deltas (issue 12)\n",
        f"One daemon on a copy of the store, merges off (`IPFS_KIT_COMPACT_DELTAS` and "
        f"`_MIN_ROWS` out of reach): the held state's handoff (one round trip, one slice per "
        f"segment; bench-daemon `query -1`, 1000 queries a run, {rounds} runs each) on the "
        f"state the copy starts with, then after 100 single `pin add`s. Load average "
        f"{out['loadavg_start']:.1f} at the start, {out['loadavg_end']:.1f} at the end.\n",
        "| state | p50 µs per run | target |", "|---|---|---|",
        f"| {out['base_segments']} segment(s) (the floor) | "
        + " / ".join(f"{x:.0f}" for x in b) + " | |",
        f"| {out['deltas_segments']} segments (100 deltas) | "
        + " / ".join(f"{x:.0f}" for x in t) + f" (best {min(t):.0f}; "
        f"{min(t) / min(b):.2f}× the floor's best) | ≤ 100 µs |",
    ]
    return out, lines


def compaction(pins):
    """BENCH_SEGMENTS=compaction: a major compaction against the full build at `pins` (the
    largest count), on one copy of the store whose snapshot files are removed first, so the
    daemon's start reads every pin and writes the base (`build_ms_last`); then one write with
    the thresholds at their lowest makes the compactor merge everything into a new base in
    the background (`compaction_ms_last`), ROUNDS times."""
    rounds = int(os.environ.get("BENCH_COMPACTION_ROUNDS", "2"))
    cp = copy_store(pins, "compaction")
    out = {"pins": pins, "loadavg_start": os.getloadavg()[0], "full_build_ms": [],
           "compaction_ms": []}
    force = {"IPFS_KIT_COMPACT_SHARE": "1000000000000", "IPFS_KIT_COMPACT_MIN_ROWS": "1"}
    for _ in range(rounds):
        for name in ("snapshots", "manifests", "spares"):
            subprocess.run(["rm", "-rf", os.path.join(cp, name)], check=True)
        for name in os.listdir(cp):
            if name.startswith("manifest-synced."):
                os.unlink(os.path.join(cp, name))
        with Daemon(cp, force):
            st = status(cp)
            out["full_build_ms"].append(st["build_ms_last"])
            before = st["compactions"]
            R.drun("pinadd", cp, 1)
            wait(lambda: status(cp)["compactions"] > before, 900, "the compaction")
            out["compaction_ms"].append(status(cp)["compaction_ms_last"])
    out["loadavg_end"] = os.getloadavg()[0]
    subprocess.run(["rm", "-rf", cp], check=True)
    ratios = [c / f for c, f in zip(out["compaction_ms"], out["full_build_ms"]) if f]
    out["ratio"] = sorted(ratios)[len(ratios) // 2] if ratios else None
    lines = [
        f"\n## Major compaction against the full build at {pins:,} pins (issue 12)\n",
        f"One copy of the store, its snapshot files removed before each start: the start's full "
        f"build (`build_ms_last`), then one `pin add` with the compaction thresholds at their "
        f"lowest, the whole table merged into a new base in the background "
        f"(`compaction_ms_last`); {rounds} rounds. Load average {out['loadavg_start']:.1f} at "
        f"the start, {out['loadavg_end']:.1f} at the end.\n",
        "| round | full build ms | compaction ms | ratio | target |", "|---|---|---|---|---|",
    ] + [f"| {i + 1} | {f:,.0f} | {c:,.0f} | {c / f:.2f}× | ≤ 1.0× |"
         for i, (f, c) in enumerate(zip(out["full_build_ms"], out["compaction_ms"])) if f]
    return out, lines


def main():
    os.makedirs(R.WORK, exist_ok=True)
    res = {"machine": R.machine()}
    alone = {"compaction": compaction, "handoff": handoff}  # a section on top, the rest kept
    mode = os.environ.get("BENCH_SEGMENTS")
    if mode in alone:
        pins = max(p for p in R.PINS if p <= 1_000_000 or not R.room_for(p))
        res[mode], lines = alone[mode](pins)
        path = os.path.join(R.RESULTS, "segments.md")
        with open(path) as f:
            first, rest = f.readline(), f.read()
        with open(path, "w") as f:
            f.write(first + "\n".join(lines) + "\n" + rest)
        with open(os.path.join(R.RESULTS, f"{mode}.json"), "w") as f:
            json.dump(res, f, indent=2)
        print("\n".join(lines))
        return 0
    R.write_results("segments", "Incremental snapshots", res, bench(res))
    plot(res["segments"], os.path.join(R.RESULTS, "write_latency.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
