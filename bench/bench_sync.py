#!/usr/bin/env python3
"""`make bench` (sync part): a real kubo with N pins (default 100,000: BENCH_SYNC_PINS) and
ipfs-kit syncing it, against the floor of kubo's own `ipfs pin ls --stream` on the same node in
the same run:

- the first full sync (`ipfs-kit sync`, straight into an empty store);
- a re-sync after 100 changes (50 unpinned, 50 new pins): only those are written;
- a re-sync with no change: nothing written, no new store generation.

Prints a table and writes bench/results/sync.md and bench/results/sync-<timestamp>.json
(bench/check.py holds them to issue 16's targets). Pins are single-block files added with
--pin=false and then pinned 1,000 at a time through the RPC API, so building the node is not
timed."""
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python", "tests"))
os.environ.setdefault("IPFS_KIT_BIN", os.path.join(ROOT, "build", "ipfs-kit"))
from kubo_util import Kubo, kubo_bin  # noqa: E402

BIN = os.environ["IPFS_KIT_BIN"]
RESULTS = os.path.join(ROOT, "bench", "results")


def post(url):
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=600) as r:
        return r.read()


def timed(args, env=None, runs=3):
    times = []
    out = None
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(args, env=env, capture_output=True, timeout=1800)
        times.append(time.perf_counter() - t0)
        assert r.returncode == 0, (args, r.stderr.decode()[-2000:])
        out = r.stdout
    return min(times), times, out


def main():
    n = int(os.environ.get("BENCH_SYNC_PINS", "100000"))
    kubo_bin()
    k = Kubo().start()
    store = tempfile.mkdtemp(prefix="ikbsync", dir="/tmp")
    try:
        files = os.path.join(k.dir, "files")
        os.makedirs(files)
        for i in range(n):
            with open(os.path.join(files, f"{i:07d}"), "w") as f:
                f.write(f"ipfs-kit bench pin {i}\n")
        t0 = time.perf_counter()
        print(f"bench_sync: adding {n:,} files to kubo (not timed)", flush=True)
        cids = k.ipfs("add", "-r", "-q", "--pin=false", files,
                      timeout=3600).split()[:-1]  # the last line is the directory
        assert len(cids) == n, len(cids)
        for i in range(0, n, 1000):
            post(k.url + "/api/v0/pin/add?" + "&".join("arg=" + c for c in cids[i:i + 1000]))
        build_s = time.perf_counter() - t0
        print(f"bench_sync: node built in {build_s:.0f} s; timing", flush=True)
        env = dict(os.environ, IPFS_PATH=k.repo, IPFS_KIT_PATH=store)
        pin_ls, pin_ls_runs, out = timed([kubo_bin(), "pin", "ls", "--stream", "--names"],
                                         env=env)
        listed = len(out.splitlines())

        def fresh_sync():
            shutil.rmtree(store, ignore_errors=True)
            os.makedirs(store, mode=0o700)
            with open(os.path.join(store, "config.json"), "w") as f:  # a node under load may
                json.dump({"sources": [{"name": "kubo", "kind": "kubo", "api": k.url,  # think
                                        "stall_ms": 1800000}]}, f)  # long before its first byte
            t = time.perf_counter()
            r = subprocess.run([BIN, "sync"], env=env, capture_output=True, timeout=1800)
            assert r.returncode == 0, r.stderr.decode()
            return time.perf_counter() - t
        first_runs = [fresh_sync() for _ in range(3)]
        first = min(first_runs)
        # 100 changes: 50 unpinned, 50 new
        extra = k.ipfs("add", "-q", "--pin=false", *[
            _write(k.dir, f"extra{i}", f"extra {i}\n") for i in range(50)]).split()
        post(k.url + "/api/v0/pin/rm?" + "&".join("arg=" + c for c in cids[:50]))
        post(k.url + "/api/v0/pin/add?" + "&".join("arg=" + c for c in extra))
        gen0 = _generation(store)
        t = time.perf_counter()
        r = subprocess.run([BIN, "sync"], env=env, capture_output=True, timeout=1800)
        t_changes = time.perf_counter() - t
        assert r.returncode == 0, r.stderr.decode()
        changes_line = r.stdout.decode().strip()
        gen1 = _generation(store)
        nochange, nochange_runs, out = timed([BIN, "sync"], env=env)
        gen2 = _generation(store)
        res = {
            "when": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "pins": n, "listed_by_kubo": listed, "node_build_s": build_s,
            "pin_ls_stream_s": pin_ls, "pin_ls_stream_runs": pin_ls_runs,
            "first_sync_s": first, "first_sync_runs": first_runs,
            "first_ratio": first / pin_ls,
            "resync_100_changes_s": t_changes, "resync_100_changes_line": changes_line,
            "resync_100_changes_ratio": t_changes / pin_ls,
            "resync_100_generations_used": gen1 - gen0,
            "resync_nochange_s": nochange, "resync_nochange_runs": nochange_runs,
            "resync_nochange_generations_used": gen2 - gen1,
            "nproc": os.cpu_count(), "loadavg": os.getloadavg(),
        }
    finally:
        k.cleanup()
        shutil.rmtree(store, ignore_errors=True)
    rows = [
        ("kubo `ipfs pin ls --stream --names` (floor)", f"{pin_ls:.2f} s", "1.00×", ""),
        (f"first sync of {n:,} pins", f"{first:.2f} s", f"{res['first_ratio']:.2f}×", "≤ 1.5×"),
        ("re-sync after 100 changes", f"{t_changes:.2f} s",
         f"{res['resync_100_changes_ratio']:.2f}×",
         f"≤ 2× (one generation: {res['resync_100_generations_used']})"),
        ("re-sync, no change", f"{nochange:.2f} s", f"{nochange / pin_ls:.2f}×",
         f"no new version (generations used: {res['resync_nochange_generations_used']})"),
    ]
    md = ["# Sync from a real kubo (`make bench`, bench/bench_sync.py)", "",
          f"{res['when']}, {os.cpu_count()} cores, load average "
          f"{res['loadavg'][0]:.1f} at the end. pin ls and the first sync: the fastest of 3 runs "
          "each (on a shared machine the slower runs measure the neighbours); every run is in "
          "the JSON.", "",
          "| what | time | vs pin ls | target |", "|---|---|---|---|"]
    md += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    text = "\n".join(md) + "\n"
    print(text)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "sync.md"), "w") as f:
        f.write(text)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    with open(os.path.join(RESULTS, f"sync-{stamp}.json"), "w") as f:
        json.dump(res, f, indent=1)


def _write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def _generation(store):
    import sqlite3
    db = sqlite3.connect(f"file:{store}/pins.db?mode=ro", uri=True)
    try:
        return db.execute("select value from meta where key='generation'").fetchone()[0]
    finally:
        db.close()


if __name__ == "__main__":
    main()
