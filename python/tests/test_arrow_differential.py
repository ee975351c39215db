"""Differential fuzzing: mutants of valid IPC files (every conformance case as stream and
file, compressed bodies, one file near 1 MB) must get the same verdict from `ipfs-kit arrow
validate` as from pyarrow (read everything, then validate(full=True)): valid exactly when
pyarrow says valid. The differences docs/arrow.md lists, each with its reason, are recognised
by KNOWN and allowed; anything else fails.

Bounded in `make test` (ARROW_DIFF_EXAMPLES, default 300, derandomized so every run replays
the same mutants); for a long run:
    ARROW_DIFF_EXAMPLES=20000 ARROW_DIFF_RANDOM=1 .venv/bin/python -m pytest -q \\
        python/tests/test_arrow_differential.py
pyarrow runs in a worker process, so a crash in pyarrow cannot take the test down (a mutant
that crashes it has no verdict and is counted, not compared)."""
import json
import os
import random
import subprocess
import sys

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_arrow_conformance as conf

EXAMPLES = int(os.environ.get("ARROW_DIFF_EXAMPLES", "300"))
RANDOM = os.environ.get("ARROW_DIFF_RANDOM") == "1"

WORKER = r"""
import sys, json
import pyarrow as pa, pyarrow.ipc as ipc
for line in sys.stdin:
    path = line.strip()
    try:
        with open(path, "rb") as f:
            data = f.read()
        buf = pa.py_buffer(data)
        if data[:6] == b"ARROW1":
            rd = ipc.open_file(buf)
            t = pa.Table.from_batches([rd.get_batch(i) for i in range(rd.num_record_batches)],
                                      schema=rd.schema)
        else:
            t = ipc.open_stream(buf).read_all()
        t.validate(full=True)
        out = {"ok": True}
    except Exception as e:  # any refusal is a verdict
        out = {"ok": False, "err": type(e).__name__ + ": " + str(e)[:300]}
    print(json.dumps(out), flush=True)
"""


class Pyarrow:
    def __init__(self):
        self.p = None

    def verdict(self, path):
        for _ in range(2):
            if self.p is None or self.p.poll() is not None:
                self.p = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True)
            try:
                self.p.stdin.write(str(path) + "\n")
                self.p.stdin.flush()
                line = self.p.stdout.readline()
            except BrokenPipeError:
                line = ""
            if line:
                return json.loads(line)
            self.p = None  # crashed on this input: no verdict
            return None
        return None

    def close(self):
        if self.p is not None:
            self.p.stdin.close()
            self.p.wait(timeout=30)


def seeds():
    out = []
    for name in sorted(conf.CASES):
        if name in conf.UNSUPPORTED:
            continue
        for fmt in ("stream", "file"):
            if name == "shared_dict":
                if fmt == "stream":
                    out.append(conf.shared_dict_stream()[0])
                continue
            schema, batches = conf.CASES[name]()
            for comp in (None, "zstd", "lz4") if name in ("primitive", "nested") else (None,):
                sink = pa.BufferOutputStream()
                opts = ipc.IpcWriteOptions(compression=comp)
                with (ipc.new_file if fmt == "file" else ipc.new_stream)(sink, schema,
                                                                          options=opts) as w:
                    for b in batches:
                        w.write_batch(b)
                out.append(sink.getvalue().to_pybytes())
    # near 1 MB, compressed and not
    rng = random.Random(7)
    big = pa.table({"i": pa.array(range(40000)),
                    "s": pa.array([str(rng.random())[:rng.randrange(1, 18)] for _ in range(40000)]),
                    "d": pa.array([["a", "b", "c"][i % 3] for i in range(40000)]).dictionary_encode()})
    for comp, fmt in ((None, "stream"), ("zstd", "file"), ("lz4", "stream")):
        sink = pa.BufferOutputStream()
        with (ipc.new_file if fmt == "file" else ipc.new_stream)(
                sink, big.schema, options=ipc.IpcWriteOptions(compression=comp)) as w:
            w.write_table(big, max_chunksize=15000)
        out.append(sink.getvalue().to_pybytes())
    assert max(len(s) for s in out) <= 1 << 20
    return out


SEEDS = seeds()

INTERESTING = [0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
               0xFFFFFFFF, 2**63 - 1, 2**64 - 1]


@st.composite
def mutants(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "byte", "int", "cut", "dup", "drop"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "int":
            width = draw(st.sampled_from([2, 4, 8]))
            v = draw(st.sampled_from(INTERESTING)) % (1 << (8 * width))
            data[pos:pos + width] = v.to_bytes(width, "little")
        elif kind == "cut":
            del data[pos:]
        elif kind == "dup":
            n = draw(st.integers(1, 64))
            data[pos:pos] = data[pos:pos + n]
        elif kind == "drop":
            del data[pos:pos + draw(st.integers(1, 64))]
    return bytes(data[: 1 << 20])


def known(ours_err, theirs_err):
    """The reason for a differing verdict that docs/arrow.md lists, or None."""
    if ours_err is None:  # we accept, pyarrow refuses
        if "aligned" in theirs_err:
            return "misaligned buffer: we copy it, pyarrow refuses"
        if "Verification" in theirs_err or "verif" in theirs_err:
            return "pyarrow's flatbuffer verifier refuses fields we never read"
        if "UnicodeDecodeError" in theirs_err or "utf-8" in theirs_err.lower():
            return "non-UTF-8 field names: Python cannot decode them"
        return None
    if "past table end" in ours_err or "vtable" in ours_err:
        return "our flatbuffer accessors refuse a table that does not fit the buffer"
    if ("buffer extends past body end" in ours_err or "more buffers needed" in ours_err
            or "buffer too small" in ours_err):
        return ("Arrow C++ skips some buffer descriptors it does not need and reads file "
                "buffers past the block's body; we check every descriptor against the body")
    if "invalid field node" in ours_err and "null count" in ours_err:
        return ("a null count above the length: Arrow C++ does not check it for null-typed "
                "fields")
    if "type table missing" in ours_err:
        return "Arrow C++ reads some types whose parameter table is missing"
    if "unknown floating point precision" in ours_err:
        return "Arrow C++ reads an unknown float precision without complaint"
    return None


@pytest.fixture(scope="module")
def judge():
    j = Pyarrow()
    yield j
    j.close()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=mutants())
def test_validate_verdict_equals_pyarrow(ik, tmp_path, judge, data):
    path = tmp_path / "m.arrow"
    path.write_bytes(data)
    theirs = judge.verdict(path)
    r = ik(["arrow", "validate", path])
    assert r.returncode in (0, 65), (r.returncode, r.stderr.decode())
    if theirs is None:
        return
    ours_ok = r.returncode == 0
    if ours_ok == theirs["ok"]:
        return
    why = known(None if ours_ok else r.stderr.decode(), theirs.get("err", ""))
    if not why and os.environ.get("ARROW_DIFF_COLLECT"):  # exploring: list them all
        with open(os.environ["ARROW_DIFF_COLLECT"], "a") as f:
            f.write(json.dumps([r.stderr.decode().split(": ", 2)[-1][:200], theirs,
                                data.hex()]) + "\n")
        return
    assert why, ("verdicts differ", r.stderr.decode(), theirs)
