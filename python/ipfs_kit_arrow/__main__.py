"""python -m ipfs_kit_arrow [--path DIR] [--limit N]: the data directory, whether its daemon
runs (and its status), and the first pins, with the path the query took. Exits 66 when there is
no store (the message says where it looked and how to start one), 69 on other errors."""
import argparse
import sys

from . import NotFound, connect


def _cell(v, width):
    s = "" if v is None else str(v)
    return s if len(s) <= width else s[:width - 1] + "…"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m ipfs_kit_arrow", description=__doc__)
    ap.add_argument("--path", help="data directory (default $IPFS_KIT_PATH, else ~/.ipfs_kit)")
    ap.add_argument("--limit", type=int, default=5, help="pins to show (default 5)")
    a = ap.parse_args(argv)
    try:
        with connect(a.path) as c:
            print(f"data directory: {c.path}")
            st = c.status()
            if st.get("running"):
                print(f"daemon: running, PID {st.get('pid')}, version {st.get('version')}, "
                      f"{st.get('pins')} pins, snapshot version {st.get('snapshot_version')}, "
                      f"up {st.get('uptime_s', 0):.0f} s")
            else:
                print("daemon: not running (reading the store directly; start it with "
                      f"'ipfs-kit --path {c.path} daemon start')")
            cols = ["cid", "name", "size_bytes", "pin_type", "backend"]
            r = c.pins(limit=max(a.limit, 0), columns=cols)
            total = r.matched if r.matched is not None else r.table_rows
            print(f"pins: {total if total is not None and total >= 0 else '?'} in the index; "
                  f"the first {r.rows}:")
            try:
                rows = r.to_pyarrow().to_pylist()
            except ImportError:
                rows = []
                print("  (install pyarrow to see them)")
            widths = [46, 24, 12, 10, 10]
            if rows:
                print("  " + "  ".join(f"{n:<{w}}" for n, w in zip(cols, widths)))
            for row in rows:
                print("  " + "  ".join(f"{_cell(row[n], w):<{w}}" for n, w in zip(cols, widths)))
            print(f"path: {r.method} via {r.source} ({r.detail}), snapshot version {r.version}, "
                  f"{r.timings['total']:.2f} ms")
    except NotFound as e:
        print(f"ipfs_kit_arrow: {e}", file=sys.stderr)
        return 66
    except Exception as e:  # one line, not a traceback, for a status command
        print(f"ipfs_kit_arrow: {type(e).__name__}: {e}", file=sys.stderr)
        return 69
    return 0


if __name__ == "__main__":
    sys.exit(main())
