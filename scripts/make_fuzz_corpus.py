#!/usr/bin/env python3
"""Writes the fuzz seed corpus with pyarrow: small files and streams of many types, compressed
bodies, dictionary deltas, the legacy format, empty streams, and a few broken ones. Run from the
repo root with the .venv python; the output is checked in under fuzz/corpus/."""
import os
import sys

import pyarrow as pa
import pyarrow.ipc as ipc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python", "tests"))
from test_arrow_roundtrip import CASES, make_table  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus")


def encode(table, fmt, **opts):
    sink = pa.BufferOutputStream()
    w = (ipc.new_file if fmt == "file" else ipc.new_stream)(sink, table.schema,
                                                            options=ipc.IpcWriteOptions(**opts))
    w.write_table(table)
    w.close()
    return sink.getvalue().to_pybytes()


def main():
    for fmt in ("stream", "file"):
        d = os.path.join(OUT, f"fuzz_ipc_{fmt}")
        os.makedirs(d, exist_ok=True)
        seeds = {}
        for name in sorted(CASES):
            seeds[name] = encode(make_table(name), fmt)
        seeds["lz4"] = encode(make_table("string"), fmt, compression="lz4")
        seeds["zstd"] = encode(make_table("list"), fmt, compression="zstd")
        if fmt == "stream":
            seeds["legacy"] = encode(make_table("int32"), fmt, use_legacy_format=True)
            schema = pa.schema([("d", pa.dictionary(pa.int32(), pa.string()))])
            sink = pa.BufferOutputStream()
            with ipc.new_stream(sink, schema,
                                options=ipc.IpcWriteOptions(emit_dictionary_deltas=True)) as w:
                w.write_batch(pa.record_batch([pa.DictionaryArray.from_arrays(
                    pa.array([0, 1]), pa.array(["a", "b"]))], schema=schema))
                w.write_batch(pa.record_batch([pa.DictionaryArray.from_arrays(
                    pa.array([2]), pa.array(["a", "b", "c"]))], schema=schema))
            seeds["dict_delta"] = sink.getvalue().to_pybytes()
        seeds["empty"] = encode(make_table("int32").slice(0, 0), fmt)
        good = seeds["string"]
        seeds["truncated"] = good[: len(good) // 2]
        seeds["garbage"] = b"ARROW1\x00\x00" + bytes(range(256)) * 2
        for name, data in seeds.items():
            # first byte of stream seeds picks the split point in fuzz_ipc_stream
            payload = (b"\x80" + data) if fmt == "stream" else data
            with open(os.path.join(d, name), "wb") as f:
                f.write(payload)
        print(f"{d}: {len(seeds)} inputs")


if __name__ == "__main__":
    main()
