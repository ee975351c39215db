"""Full validation agrees with pyarrow's where values, not structure, are wrong.

UTF-8 of string columns, value by value: random values built
from ASCII runs (short and long, so the word-at-a-time skips end at every alignment), valid
multi-byte characters, their fragments (a character split across two values is two invalid
values although the bytes together are valid), overlongs, surrogates, code points past U+10FFFF
and random bytes; sometimes a slice, sometimes more than one 256-value block. pyarrow writes
the file without validating; `ipfs-kit arrow validate` must call it valid exactly when
pyarrow's validate(full=True) does, and name the same first bad value.

String views: an inline value's padding must be zeros and an out-of-line value's 4-byte prefix
must equal its first bytes (the spec's layout; pyarrow refuses both)."""
import re
import struct

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PIECES = [b"a", b"xyz", b"a" * 7, b"b" * 31, b"c" * 33, "é".encode(), "€".encode(),
          "😀".encode(), b"\xc3", b"\xa9", b"\xe2\x82", b"\xac", b"\xf0\x9f", b"\x98\x80",
          b"\xed\xa0\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf4\x90\x80\x80", b"\xff", b"\x80"]

values = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=6)), max_size=5).map(
    b"".join)
# a valid character cut in two, the halves ending one value and starting the next, maybe with
# empty values between them: valid bytes in a row, invalid values
split = st.tuples(st.sampled_from(["é", "€", "😀"]), st.integers(1, 3), st.integers(0, 2),
                  st.sampled_from([b"", b"a", b"b" * 33])).map(
    lambda t: [t[3] + t[0].encode()[:min(t[1], len(t[0].encode()) - 1)]] + [b""] * t[2] +
              [t[0].encode()[min(t[1], len(t[0].encode()) - 1):] + t[3]])
# mostly valid values, so the first bad one lands anywhere, also past the first block of 256
columns = st.tuples(
    st.lists(st.sampled_from([b"", b"QmYwAPJzv5CZsnA", "naïve €".encode(), b"x" * 40]),
             max_size=600),
    st.one_of(st.lists(values, min_size=1, max_size=4), split),
    st.integers(0, 600))


def string_array(typ, vals):
    offs, pos = [0], 0
    for v in vals:
        pos += len(v)
        offs.append(pos)
    fmt = "<%d%s" % (len(offs), "i" if typ == pa.string() else "q")
    return pa.Array.from_buffers(typ, len(vals), [None, pa.py_buffer(struct.pack(fmt, *offs)),
                                                  pa.py_buffer(b"".join(vals))])


def pyarrow_verdict(arr):
    try:
        arr.validate(full=True)
        return None
    except pa.ArrowInvalid as e:
        m = re.search(r"string index (\d+)", str(e))
        assert m, str(e)
        return int(m.group(1))


@pytest.mark.parametrize("typ", [pa.string(), pa.large_string()], ids=["utf8", "large_utf8"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(col=columns, data=st.data())
def test_utf8_verdicts_equal_pyarrow(ik, tmp_path, typ, col, data):
    good, odd, at = col
    at = min(at, len(good))
    vals = good[:at] + odd + good[at:]
    arr = string_array(typ, vals)
    lo = data.draw(st.integers(0, len(vals)))
    hi = data.draw(st.integers(lo, len(vals)))
    arr = arr.slice(lo, hi - lo)
    want = pyarrow_verdict(arr)
    path = tmp_path / "s.arrow"
    table = pa.table({"s": arr})
    with ipc.new_file(str(path), table.schema) as w:
        w.write_table(table)
    r = ik(["arrow", "validate", path])
    err = r.stderr.decode(errors="replace")
    if want is None:
        assert r.returncode == 0, err
    else:
        assert r.returncode == 65, (want, r.stdout, err)
        assert f"field 's': invalid UTF-8 at index {want} " in err, (want, err)


def test_a_character_split_across_two_values_is_invalid(ik, tmp_path):
    arr = string_array(pa.string(), [b"\xc3", b"\xa9"])
    assert pyarrow_verdict(arr) == 0
    path = tmp_path / "split.arrow"
    with ipc.new_file(str(path), pa.schema([("s", pa.string())])) as w:
        w.write_table(pa.table({"s": arr}))
    r = ik(["arrow", "validate", path])
    assert r.returncode == 65
    assert "field 's': invalid UTF-8 at index 0 (byte 0 of the value)" in r.stderr.decode()


def view_inline(s, pad=b""):
    return struct.pack("<i", len(s)) + s + pad + b"\0" * (12 - len(s) - len(pad))


def view_out(n, prefix, buf, off):
    return struct.pack("<i", n) + prefix + struct.pack("<ii", buf, off)


@pytest.mark.parametrize("case,views,want", [
    ("valid", [view_inline(b"ab"), view_inline(b""), view_out(13, b"hell", 0, 0)], None),
    ("padding", [view_inline(b"ab"), view_inline(b"ab", b"x")],
     "view at index 1: inline value of 2 bytes has nonzero padding"),
    ("empty padding", [view_inline(b"", b"\x01")],
     "view at index 0: inline value of 0 bytes has nonzero padding"),
    ("prefix", [view_inline(b"ok"), view_out(13, b"HELL", 0, 0)],
     "view at index 1: prefix differs from the value's first bytes"),
])
def test_string_view_padding_and_prefix(ik, tmp_path, case, views, want):
    arr = pa.Array.from_buffers(pa.string_view(), len(views),
                                [None, pa.py_buffer(b"".join(views)),
                                 pa.py_buffer(b"hello world!!")])
    try:
        arr.validate(full=True)
        py_ok = True
    except pa.ArrowInvalid:
        py_ok = False
    assert py_ok == (want is None)
    path = tmp_path / "v.arrow"
    table = pa.table({"v": arr})
    with ipc.new_file(str(path), table.schema) as w:
        w.write_table(table)
    r = ik(["arrow", "validate", path])
    if want is None:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 65 and f"field 'v': {want}" in r.stderr.decode(), r.stderr
