#!/usr/bin/env python3
"""`make bench-check`: reads the newest bench/results/<timestamp>.json (written by `make bench`)
and says which of the issues' speed targets hold in it. A report, not a test: exit 0 whatever
it finds, unless STRICT=1 (then 1 when a measured target misses). Targets not measured in that
run (e.g. 10M pins on a machine without the memory or disk for them) are listed as not
measured."""
import glob
import json
import os
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def get(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or str(k) not in d:
            return None
        d = d[str(k)]
    return d


def main():
    files = sorted(f for f in glob.glob(os.path.join(RESULTS, "*.json"))
                   if os.path.basename(f)[0].isdigit())
    if not files:
        print("bench-check: no bench/results/<timestamp>.json; run `make bench` first")
        return 1 if os.environ.get("STRICT") == "1" else 0
    path = files[-1]
    with open(path) as f:
        r = json.load(f)
    rtt = get(r, "floor", "unix_rtt_us", "p50")
    spin = get(r, "floor", "unix_rtt_spin_us", "p50")
    if rtt is not None and spin is not None:
        rtt = min(rtt, spin)  # the faster of a blocking and a spin-then-block round trip
    rows = []  # (issue, target, measured text, ok: True/False/None)

    def add(issue, target, value, ok, fmt="{:.2f}"):
        rows.append((issue, target, "not measured" if value is None else
                     (fmt.format(value) if isinstance(value, (int, float)) else str(value)),
                     None if value is None else bool(ok)))

    # issue 12: the change feed, as the daemon answers it (from its change tail; the store's
    # own SQLite read, the path for versions before the daemon started, is in the table too)
    v = get(r, "changes", "tail_one_version", "p50_ms")
    add(12, "changes(since) of 10,000 changes ≤ 5 ms (one version, daemon's change tail)", v,
        v is not None and v <= 5, "{:.2f} ms")
    v = get(r, "changes", "tail_many_versions", "p50_ms")
    n = get(r, "changes", "tail_many_versions", "rows")
    add(12, f"changes(since) over 10,000 single-pin versions ≤ 5 ms ({n} rows, change tail)", v,
        v is not None and v <= 5, "{:.2f} ms")
    # issue 3: the Arrow codec
    for mb, o in sorted((get(r, "open") or {}).items(), key=lambda kv: int(kv[0])):
        add(3, f"mapped open of a {mb} MB file ≤ 100 µs", o["median_us"], o["median_us"] <= 100,
            "{:.1f} µs")
        add(3, f"mapped open of a {mb} MB file ≤ 1 MB RSS", o["first_rss_growth_kib"],
            o["first_rss_growth_kib"] <= 1024, "{} KiB")
    v = get(r, "validate", "ours", "gb_per_s")
    add(3, "full validation ≥ 2 GB/s", v, v is not None and v >= 2, "{:.2f} GB/s")
    py, ours = get(r, "validate", "pyarrow_s"), get(r, "validate", "ours", "best_s")
    vr = py / ours if py and ours else None
    add(3, "full validation no slower than pyarrow (pyarrow time / ours ≥ 1)", vr,
        vr is not None and vr >= 1, "{:.2f}×")
    v = get(r, "validate_strings", "ours", "gb_per_s")
    add(3, "full validation of the pin snapshot (strings) ≥ 2 GB/s", v,
        v is not None and v >= 2, "{:.2f} GB/s")
    py, ours = get(r, "validate_strings", "pyarrow_s"), get(r, "validate_strings", "ours",
                                                            "best_s")
    vr = py / ours if py and ours else None
    add(3, "full validation of the pin snapshot no slower than pyarrow", vr,
        vr is not None and vr >= 1, "{:.2f}×")
    w = get(r, "write", "ratio")
    add(3, "stream writer ≥ 0.5× memcpy", w, w is not None and w >= 0.5, "{:.2f}×")
    # `BENCH_ONLY=convert` runs write convert-<timestamp>.json: the newest of those wins when
    # it is newer than the full run
    conv = sorted(glob.glob(os.path.join(RESULTS, "convert-*.json")))
    if conv and os.path.basename(conv[-1])[len("convert-"):] > os.path.basename(path):
        with open(conv[-1]) as f:
            r = dict(r, convert=json.load(f).get("convert"))
        print(f"bench-check: `arrow convert` rows from {os.path.basename(conv[-1])}")
    for codec in ("none", "lz4", "zstd"):
        c = get(r, "convert", "codecs", codec, "ratio")
        add(14, f"`arrow convert` {codec} ≤ 1.0× pyarrow read_all + write (1 thread)", c,
            c is not None and c <= 1.0, "{:.2f}×")
        for key, what in (("ratio_median", "median wall"), ("cpu_ratio_median", "median CPU")):
            c = get(r, "convert", "codecs", codec, key)
            add(14, f"`arrow convert` {codec} {what} ≤ 1.0× pyarrow", c,
                c is not None and c <= 1.0, "{:.2f}×")

    # issue 4: daemon, client, CLI
    q = get(r, "q100", "us", "p50")
    x = q / rtt if q and rtt else None
    add(4, "100-row zero-copy p50 ≤ 1.5× unix-socket RTT", x, x is not None and x <= 1.5,
        "{:.2f}×" + (f" ({q:.1f} µs / {rtt:.1f} µs)" if x else ""))
    base = get(r, "stores", 100, "paths", "zero_copy|all", "us", "p50")
    for pins in (1_000_000, 10_000_000):
        h = get(r, "stores", pins, "paths", "zero_copy|all", "us", "p50")
        add(4, f"whole-table handoff at {pins:,} pins ≤ 100 µs", h, h is not None and h <= 100,
            "{:.1f} µs")
        x = h / base if h and base else None
        add(4, f"handoff at {pins:,} ≈ the 100-pin time (≤ 1.5×)", x,
            x is not None and x <= 1.5, "{:.2f}×")
    e = get(r, "hyperfine", "p50_ms") or get(r, "exec", "ms", "p50")
    add(4, "`pin list --limit 100` whole process p50 ≤ 2 ms", e, e is not None and e <= 2,
        "{:.2f} ms")
    p = get(r, "pinadd", "ms", "p50")
    add(4, "one change at 1M: pin add → new snapshot published ≤ 1 s", p,
        p is not None and p <= 1000, "{:.0f} ms")
    sb = get(r, "pinadd", "snapshot_build_ms")
    add(4, "snapshot build after one change at 1M ≤ 1 s (daemon metric)", sb,
        sb is not None and sb <= 1000, "{:.0f} ms")
    qp = get(r, "qps", 16, "qps")
    add(4, "≥ 100k limit-10 queries/s at 16 clients", qp, qp is not None and qp >= 100_000,
        "{:,.0f}/s")
    ip = get(r, "import", "store", "pins_per_s")
    add(4, "import ≥ 500k pins/s into the store (ik_store_import)", ip,
        ip is not None and ip >= 500_000, "{:,.0f} pins/s")
    ds, sb = get(r, "import", "daemon", "seconds"), get(r, "import", "daemon", "snapshot_build_ms")
    n = get(r, "import_pins")
    ip = n / (ds - sb / 1e3) if None not in (ds, sb, n) and ds > sb / 1e3 else None
    add(4, "import ≥ 500k pins/s through the daemon (before the snapshot build that follows)",
        ip, ip is not None and ip >= 500_000, "{:,.0f} pins/s")

    # issue 5: Python
    z = get(r, "stores", 1_000_000, "python", "zc_limit100", "p50")
    how = get(r, "stores", 1_000_000, "python", "zc_limit100_detail") or "?"
    add(5, f"Python pa.table(c.pins(limit=100)) p50 ≤ 30 µs (client default; detail {how})", z,
        z is not None and z <= 30, "{:.1f} µs")
    z = get(r, "stores", 1_000_000, "python", "zc_all_rt", "p50")
    how = "asking the daemon every query"
    if z is None:
        z, how = get(r, "stores", 1_000_000, "python", "zc_all", "p50"), "client default"
    add(5, f"Python pa.table(c.pins()) at 1M pins p50 ≤ 150 µs ({how})", z,
        z is not None and z <= 150, "{:.1f} µs")

    # issue 16: sync from a real kubo (bench/bench_sync.py writes its own sync-<ts>.json)
    sy = sorted(glob.glob(os.path.join(RESULTS, "sync-*.json")))
    s = json.load(open(sy[-1])) if sy else {}
    v = s.get("first_ratio")
    add(16, f"first sync of {s.get('pins', '100k')} pins ≤ 1.5× `ipfs pin ls --stream`", v,
        v is not None and v <= 1.5, "{:.2f}×")
    v = s.get("resync_100_changes_ratio")
    add(16, "re-sync of 100 changes ≤ 2× pin ls, one new generation", v,
        v is not None and v <= 2 and s.get("resync_100_generations_used") == 1, "{:.2f}×")
    v = s.get("resync_nochange_generations_used")
    add(16, "re-sync with no change: no new version", v, v == 0, "{} generations")
    # issue 17: HTTP (bench/bench_http.py writes its own http-<ts>.json)
    hf = sorted(glob.glob(os.path.join(RESULTS, "http-*.json")))
    hr = json.load(open(hf[-1])) if hf else {}
    hp = hr.get("pins", "1M")
    v = get(hr, "latency", "ratio")
    add(17, "GET /pin-index-arrow?limit=100 p50 ≤ 2× GET /health (same run; cached)", v,
        v is not None and v <= 2, "{:.2f}×")
    v = get(hr, "latency", "uncached_ratio")
    add(17, "the same at a new offset each time (never cached) ≤ 2× GET /health", v,
        v is not None and v <= 2, "{:.2f}×")
    v = get(hr, "throughput", "none", "mb_per_s")
    add(17, f"whole table over HTTP ({hp} pins) ≥ 1 GB/s uncompressed", v,
        v is not None and v >= 1000, "{:,.0f} MB/s")
    v = get(hr, "throughput", "vs_pyarrow")
    add(17, "whole table ≥ 2× a pyarrow http.server from memory (same client)", v,
        v is not None and v >= 2, "{:.2f}×")
    v = get(hr, "health_load", "rps")
    add(17, "GET /health ≥ 10k/s with 64 keep-alive clients", v, v is not None and v >= 10000,
        "{:,.0f}/s")
    v = get(hr, "copies", "whole", "copied")
    add(17, "whole-table Arrow body: 0 bytes copied", v, v == 0, "{} bytes")
    # issue 12: incremental snapshots (bench/bench_segments.py; from the suite's results, or
    # from bench/results/segments.json when it ran alone)
    seg = r.get("segments")
    if seg is None and os.path.exists(os.path.join(RESULTS, "segments.json")):
        with open(os.path.join(RESULTS, "segments.json")) as f:
            seg = json.load(f).get("segments")
    seg = seg or {}
    small = get(seg, "pinadd", 1000, "ms", "p50")
    for pins in (1_000_000, 10_000_000):
        a = get(seg, "pinadd", pins, "ms", "p50")
        add(12, f"pin add → reply p50 ≤ 1 ms at {pins:,} pins", a, a is not None and a <= 1,
            "{:.3f} ms")
        x = a / small if a and small else None
        add(12, f"pin add at {pins:,} ≤ 2× the 1,000-pin store", x, x is not None and x <= 2,
            "{:.2f}×")
    u, c = get(seg, "q100_uncompacted", "us", "p50"), get(seg, "q100_compacted", "us", "p50")
    x = u / c if u and c else None
    add(12, "limit-100 query after 10,000 writes ≤ 1.5× compacted", x,
        x is not None and x <= 1.5, "{:.2f}×")
    h = get(seg, "handoff_100_deltas", "us", "p50")
    add(12, "whole-table handoff with 100 deltas ≤ 100 µs", h, h is not None and h <= 100,
        "{:.1f} µs")
    # the same at the largest count, measured alone (BENCH_SEGMENTS=handoff → handoff.json):
    # the median of its runs' p50s
    ho = {}
    if os.path.exists(os.path.join(RESULTS, "handoff.json")):
        with open(os.path.join(RESULTS, "handoff.json")) as f:
            ho = json.load(f).get("handoff") or {}
    runs = sorted(x["us"]["p50"] for x in ho.get("deltas", []) if "us" in x)
    h = runs[len(runs) // 2] if runs else None
    add(12, f"whole-table handoff at {ho.get('pins', 0):,} pins with 100 deltas ≤ 100 µs "
        f"(median of {len(runs)} runs)", h, h is not None and h <= 100, "{:.1f} µs")
    lk = get(seg, "lookup_page", "us", "p50")
    add(12, "cid point lookup (library, warm) p50 ≤ 20 µs", lk, lk is not None and lk <= 20,
        "{:.1f} µs")
    h = get(seg, "handoff_100_writes", "us", "p50")
    add(12, "whole-table handoff after 100 writes (minor merges on) ≤ 100 µs", h,
        h is not None and h <= 100, "{:.1f} µs")
    e = get(seg, "cli_lookup", "ms", "p50")
    add(12, "`pin list --cid X` whole process ≤ 2 ms", e, e is not None and e <= 2, "{:.2f} ms")
    e = get(seg, "cli_lookup_merged", "ms", "p50")
    add(12, "`pin list --cid X` after 100 writes (merges on) ≤ 2 ms", e, e is not None and e <= 2,
        "{:.2f} ms")
    big = max((int(p) for p in seg.get("pinadd", {})), default=1_000_000)
    cm, fb = get(seg, "compaction_ms"), get(seg, "pinadd", big, "full_build_ms")
    x = cm / fb if cm and fb else None
    co = {}  # measured alone at the largest count (BENCH_SEGMENTS=compaction)
    if os.path.exists(os.path.join(RESULTS, "compaction.json")):
        with open(os.path.join(RESULTS, "compaction.json")) as f:
            co = json.load(f).get("compaction") or {}
    if co.get("ratio") is not None and co.get("pins", 0) >= big:
        big, x = co["pins"], co["ratio"]
    add(12, f"compaction at {big:,} pins ≤ the full build", x, x is not None and x <= 1,
        "{:.2f}×")

    # issue 12's soak (bench/bench_soak.py; from the suite's results or soak.json)
    so = r.get("soak")
    if so is None and os.path.exists(os.path.join(RESULTS, "soak.json")):
        with open(os.path.join(RESULTS, "soak.json")) as f:
            so = json.load(f).get("soak")
    so = so or {}
    v = so.get("queries_per_s")
    add(12, "soak: lookups ≥ 50,000/s during 1,000 touches/s", v, v is not None and v >= 50000,
        "{:,.0f}/s")
    v = so.get("writes_per_s")
    add(12, "soak: 1,000 touches/s sustained", v, v is not None and v >= 990, "{:.0f}/s")
    v = get(so, "write_ms", "p99")
    add(12, "soak: write reply p99 ≤ 10 ms", v, v is not None and v <= 10, "{:.2f} ms")
    v = max((x for x in (so.get("rss_max_mib"), so.get("rss_hwm_mib")) if x is not None),
            default=None)  # the peak (VmHWM, the daemon's start included) when measured
    add(12, "soak: daemon RSS ≤ 256 MB", v, v is not None and v * 1.048576 <= 256, "{:.0f} MiB")

    m = r.get("machine", {})
    print(f"bench-check: {os.path.relpath(path)} ({r.get('when', '?')}, {m.get('cpu', '?')}, "
          f"{m.get('cores', '?')} cores{', BENCH_QUICK' if r.get('quick') else ''})\n")
    w = max(len(t) for _, t, _, _ in rows)
    for issue, target, val, ok in rows:
        mark = "holds" if ok else "MISSES" if ok is False else "n/a"
        print(f"  issue {issue}  {target:<{w}}  {val:<32}  {mark}")
    held = sum(1 for *_, ok in rows if ok)
    missed = sum(1 for *_, ok in rows if ok is False)
    na = sum(1 for *_, ok in rows if ok is None)
    print(f"\n{held} hold, {missed} miss, {na} not measured"
          + ("" if os.environ.get("STRICT") == "1" else " (a report: exit 0; STRICT=1 to fail "
             "on a miss)"))
    return 1 if os.environ.get("STRICT") == "1" and missed else 0


if __name__ == "__main__":
    sys.exit(main())
