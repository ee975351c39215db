"""Random schemas and data (hypothesis): pyarrow writes, we convert (random format and
compression, random batch splits and slices), pyarrow reads back equal."""
import pyarrow as pa
import pyarrow.ipc as ipc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PRIMS = [pa.bool_(), pa.int8(), pa.int32(), pa.uint64(), pa.int64(), pa.float32(),
         pa.float64(), pa.string(), pa.binary(), pa.large_string(), pa.date32(),
         pa.timestamp("ms"), pa.timestamp("us", tz="UTC"), pa.binary(3), pa.decimal128(12, 3),
         pa.duration("us"), pa.time64("ns")]

types = st.recursive(
    st.sampled_from(PRIMS),
    lambda kids: st.one_of(
        kids.map(pa.list_),
        kids.map(pa.large_list),
        st.tuples(kids, st.integers(1, 3)).map(lambda t: pa.list_(t[0], t[1])),
        st.lists(kids, min_size=1, max_size=3).map(
            lambda ts: pa.struct([(f"f{i}", t) for i, t in enumerate(ts)])),
    ),
    max_leaves=5)


@st.composite
def tables(draw):
    ncols = draw(st.integers(1, 4))
    n = draw(st.integers(0, 40))
    cols, names = [], []
    for c in range(ncols):
        t = draw(types)
        # pyarrow's own generator-free random data: build from python values via a strategy-free path
        seed = draw(st.integers(0, 2**31))
        arr = random_array(t, n, seed)
        cols.append(arr)
        names.append(f"c{c}")
    table = pa.table(cols, names=names)
    lo = draw(st.integers(0, n))
    hi = draw(st.integers(lo, n))
    return table.slice(lo, hi - lo), draw(st.integers(1, 5))


def random_array(t, n, seed):
    import random
    import datetime
    import decimal
    rng = random.Random(seed)

    def val(t):
        if rng.random() < 0.15:
            return None
        if pa.types.is_boolean(t):
            return rng.random() < 0.5
        if pa.types.is_integer(t):
            bits = t.bit_width
            return rng.randrange(0, 2**bits) if pa.types.is_unsigned_integer(t) else \
                rng.randrange(-2**(bits - 1), 2**(bits - 1))
        if pa.types.is_floating(t):
            return rng.uniform(-1e6, 1e6)
        if pa.types.is_fixed_size_binary(t):
            return bytes(rng.randrange(256) for _ in range(t.byte_width))
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return "".join(rng.choice("aé✓z ") for _ in range(rng.randrange(6)))
        if pa.types.is_binary(t):
            return bytes(rng.randrange(256) for _ in range(rng.randrange(6)))
        if pa.types.is_date32(t):
            return datetime.date(1900, 1, 1) + datetime.timedelta(days=rng.randrange(80000))
        if pa.types.is_timestamp(t) or pa.types.is_duration(t) or pa.types.is_time64(t):
            return rng.randrange(0, 86399999999999 if pa.types.is_time64(t) else 2**50)
        if pa.types.is_decimal(t):
            return decimal.Decimal(rng.randrange(-10**11, 10**11)).scaleb(-3)
        if pa.types.is_fixed_size_list(t):
            return [val(t.value_type) for _ in range(t.list_size)]
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return [val(t.value_type) for _ in range(rng.randrange(4))]
        if pa.types.is_struct(t):
            return {t.field(i).name: val(t.field(i).type) for i in range(t.num_fields)}
        raise AssertionError(t)
    return pa.array([val(t) for _ in range(n)], type=t)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(tables(), st.sampled_from(["stream", "file"]), st.sampled_from(["none", "lz4", "zstd"]))
def test_random_tables_round_trip(ik, tmp_path_factory, tc, to, comp):
    table, nbatches = tc
    d = tmp_path_factory.mktemp("h")
    src, out = d / "in.arrows", d / "out.arrow"
    with ipc.new_stream(str(src), table.schema) as w:
        step = max(1, table.num_rows // nbatches)
        for k in range(0, max(table.num_rows, 1), step):
            w.write_table(table.slice(k, step))
    r = ik(["arrow", "convert", src, out, "--to", to, "--compression", comp])
    assert r.returncode == 0, r.stderr.decode()
    with pa.memory_map(str(out)) as f:
        got = (ipc.open_file(f) if to == "file" else ipc.open_stream(f)).read_all()
    got.validate(full=True)
    assert got.schema.equals(table.schema)
    assert got.equals(table)
