"""arrow-js as a second reader: runs tests/js/read_arrow.mjs (apache-arrow, pinned in
tests/js/package-lock.json and installed there by `scripts/bootstrap --test`) over IPC files and
builds from pyarrow's reading the same canonical JSON form of schema and values, so the two
readings compare with ==. Nothing is fetched at run time."""
import decimal
import json
import math
import os
import shutil
import subprocess

import pyarrow as pa
import pyarrow.types as pt

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "js")
SCRIPT = os.path.join(JS_DIR, "read_arrow.mjs")
with open(os.path.join(JS_DIR, "package.json"), encoding="utf-8") as _f:
    VERSION = json.load(_f)["dependencies"]["apache-arrow"]  # an exact version


def missing():
    """Why arrow-js cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed (scripts/bootstrap --test installs it)"
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "apache-arrow")):
        return "tests/js/node_modules is missing: run scripts/bootstrap --test"
    return None


def read_js(paths):
    """{path: canonical reading or {"error": message}} for each path, from one node process."""
    if not paths:
        return {}
    r = subprocess.run(["node", SCRIPT, *paths], capture_output=True, timeout=300, cwd=JS_DIR)
    assert r.returncode == 0, r.stderr.decode()
    out = {}
    for line in r.stdout.decode().splitlines():
        d = json.loads(line)
        out[d.pop("path")] = d
    return out


# ---- pyarrow's reading in the same canonical form ---------------------------------------------

# read_arrow.mjs's name of each type: (test, name) in order, the name a function of the type
_NAMES = [
    (pt.is_null, lambda t: "null"),
    (pt.is_boolean, lambda t: "bool"),
    (pt.is_integer, lambda t: f"{'int' if pt.is_signed_integer(t) else 'uint'}{t.bit_width}"),
    (pt.is_floating, lambda t: f"float{t.bit_width}"),
    (pt.is_decimal, lambda t: f"decimal{t.bit_width}({t.precision},{t.scale})"),
    (pt.is_date32, lambda t: "date32"),
    (pt.is_date64, lambda t: "date64"),
    (pt.is_time, lambda t: f"time{t.bit_width}[{t.unit}]"),
    (pt.is_timestamp, lambda t: f"timestamp[{t.unit},{t.tz or ''}]"),
    (pt.is_duration, lambda t: f"duration[{t.unit}]"),
    (lambda t: t == pa.month_day_nano_interval(), lambda t: "interval[mdn]"),
    (pt.is_fixed_size_binary, lambda t: f"fixed_size_binary[{t.byte_width}]"),
    (pt.is_fixed_size_list, lambda t: f"fixed_size_list[{t.list_size}]"),
    (pt.is_map, lambda t: f"map[{'true' if t.keys_sorted else 'false'}]"),
    (pt.is_union, lambda t: f"union[{t.mode},{','.join(map(str, t.type_codes))}]"),
] + [(getattr(pt, f"is_{name}"), lambda t, n=name: n)
     for name in ("binary", "large_binary", "binary_view", "string", "large_string",
                  "string_view", "list", "large_list", "struct", "list_view",
                  "large_list_view", "run_end_encoded")]


def _type_name(t):
    for test, name in _NAMES:
        if test(t):
            return name(t)
    raise ValueError(f"arrow_js: no canonical name for {t}")


def _children(t):
    if pt.is_map(t):
        entries = pa.field("entries", pa.struct([t.key_field, t.item_field]), nullable=False)
        return [entries]
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t) \
            or pt.is_list_view(t) or pt.is_large_list_view(t):
        return [t.value_field]
    if pt.is_run_end_encoded(t):
        return [pa.field("run_ends", t.run_end_type, nullable=False),
                pa.field("values", t.value_type)]
    if pt.is_struct(t) or pt.is_union(t):
        return [t.field(i) for i in range(t.num_fields)]
    return []


def _meta(m):
    return sorted([k.decode(), v.decode()] for k, v in (m or {}).items())


def canon_type(t):
    if pt.is_dictionary(t):
        return {"t": f"dictionary[{_type_name(t.index_type)},{'true' if t.ordered else 'false'}]",
                "c": [], "v": canon_type(t.value_type)}
    return {"t": _type_name(t), "c": [canon_field(f) for f in _children(t)]}


def canon_field(f):
    meta = dict(f.metadata or {})
    t = f.type
    if isinstance(t, pa.BaseExtensionType):
        meta[b"ARROW:extension:name"] = t.extension_name.encode()
        meta[b"ARROW:extension:metadata"] = t.__arrow_ext_serialize__()
        t = t.storage_type
    return {"name": f.name, "nullable": f.nullable, "metadata": _meta(meta), "type": canon_type(t)}


def _float(v):
    if v is None:
        return None
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0 and math.copysign(1, v) < 0:
        return "-0"
    return v


def _unscaled(d, scale):
    sign, digits, exp = d.as_tuple()
    v = int("".join(map(str, digits)) or "0") * 10 ** (exp + scale)
    return str(-v if sign else v)


def values(arr):
    """Canonical values of one pyarrow array, one entry per slot."""
    t = arr.type
    if isinstance(t, pa.BaseExtensionType):
        arr, t = arr.storage, t.storage_type
    n = len(arr)
    unions = pt.is_union(t) or pt.is_run_end_encoded(t)  # no validity of their own
    valid = [True] * n if unions else arr.is_valid().to_pylist()
    if pt.is_null(t):
        return [None] * n
    if pt.is_boolean(t) or pt.is_string(t) or pt.is_large_string(t) or pt.is_string_view(t):
        return arr.to_pylist()
    if pt.is_integer(t):
        return [None if v is None else str(v) for v in arr.to_pylist()]
    if pt.is_temporal(t) and not pt.is_interval(t):
        width = pa.int32() if t.bit_width == 32 else pa.int64()
        return [None if v is None else str(v) for v in arr.view(width).to_pylist()]
    if pt.is_floating(t):
        return [_float(v) for v in arr.to_pylist()]
    if pt.is_decimal(t):
        with decimal.localcontext(decimal.Context(prec=200)):
            return [None if v is None else _unscaled(v, t.scale) for v in arr.to_pylist()]
    if t == pa.month_day_nano_interval():
        return [None if v is None else [str(v.months), str(v.days), str(v.nanoseconds)]
                for v in arr.to_pylist()]
    if pt.is_binary(t) or pt.is_large_binary(t) or pt.is_binary_view(t) \
            or pt.is_fixed_size_binary(t):
        return [None if v is None else v.hex() for v in arr.to_pylist()]
    if pt.is_dictionary(t):
        dv = values(arr.dictionary)
        return [dv[i] if ok else None for i, ok in zip(arr.indices.to_pylist(), valid)]
    if pt.is_struct(t):
        kids = [values(c) for c in arr.flatten()]
        return [[k[i] for k in kids] if valid[i] else None for i in range(n)]
    if pt.is_run_end_encoded(t):
        ends, vals = arr.run_ends.to_pylist(), values(arr.values)
        out, run = [], 0
        for i in range(arr.offset, arr.offset + n):
            while ends[run] <= i:
                run += 1
            out.append(vals[run])
        return out
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t) or pt.is_map(t) \
            or pt.is_list_view(t) or pt.is_large_list_view(t):
        return [values(arr[i].values) if valid[i] else None for i in range(n)]
    if pt.is_union(t):
        codes = arr.type_codes.to_pylist()
        offsets = arr.offsets.to_pylist() if t.mode == "dense" else list(range(n))
        kids = [values(arr.field(i)) for i in range(t.num_fields)]
        pos = {c: i for i, c in enumerate(t.type_codes)}
        return [[str(c), kids[pos[c]][o]] for c, o in zip(codes, offsets)]
    raise ValueError(f"arrow_js: no canonical values for {t}")


def canon_table(table):
    """pyarrow's reading of a file in read_arrow.mjs's form."""
    return {"schema": {"fields": [canon_field(f) for f in table.schema],
                       "metadata": _meta(table.schema.metadata)},
            "columns": [[v for chunk in col.chunks for v in values(chunk)]
                        for col in table.columns]}
