"""Checked by mypy --strict (test_binding_packaging.py), never run: typical user code must
type-check against the package's stubs and annotations."""
import asyncio

import ipfs_kit_arrow as ika


def main() -> None:
    with ika.connect("/tmp/kit", timeout=2.5) as c:
        r: ika.Result = c.pins(limit=10, filters={"backend": "s3"}, columns=["cid"])
        rows: int = r.rows
        matched: int | None = r.matched
        ms: float = r.timings["total"]
        gen: int = c.add("Qm...", name="x", metadata={"a": 1})
        gen = c.rm("Qm...")
        imported: int = c.import_pins([{"cid": "Qm..."}])["imported"]
        running: bool = c.status()["running"]
        print(rows, matched, ms, gen, imported, running, r.method, len(r), r.to_batches(100))
        again: ika.Result = asyncio.run(c.pins_async(limit=3))
        print(again.version)
    try:
        ika.connect().metrics()
    except ika.DaemonNotRunning as e:
        print(e.code)
