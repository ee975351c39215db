"""Filter values: timestamps as points in time (datetime, date, numpy datetime64, pyarrow
timestamp and date scalars, ISO-8601 strings), bare numbers refused for timestamp columns with a
hint, and numpy / pyarrow scalars accepted wherever a Python scalar is."""
import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import ipfs_kit_arrow as ika

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def c(pin_daemon):
    with ika.connect(pin_daemon.path) as client:
        yield client


@pytest.fixture(scope="module")
def table(c):
    return pa.table(c.pins())


@pytest.fixture(scope="module")
def mid(table):
    ts = sorted(table["timestamp"].to_pylist())
    return ts[len(ts) // 2]


def count_ge(table, col, when):
    return pc.sum(pc.greater_equal(table[col], pa.scalar(when, pa.timestamp("us", "UTC")))).as_py()


def test_every_form_of_a_point_in_time_gives_the_same_rows(c, table, mid):
    want = count_ge(table, "timestamp", mid)
    assert 0 < want < table.num_rows
    naive = mid.replace(tzinfo=None)
    forms = [
        mid, naive, mid.astimezone(dt.timezone(dt.timedelta(hours=-5))),
        np.datetime64(naive), np.datetime64(naive, "us"),
        np.datetime64(int(mid.timestamp() * 1_000_000), "us"),
        pa.scalar(mid), pa.scalar(mid, pa.timestamp("ns")), pa.scalar(mid, pa.timestamp("ms", "UTC")),
        pa.scalar(mid, pa.timestamp("s", "Asia/Tokyo")),
        mid.isoformat(), naive.isoformat(),
    ]
    for v in forms:
        got = c.pins(filters={"timestamp": {"gte": v}})
        assert got.rows == want, (v, got.rows, want)


def test_dates_mean_midnight_utc(c, table):
    day = dt.date(2026, 1, 1)
    midnight = dt.datetime(2026, 1, 1, tzinfo=UTC)
    want = count_ge(table, "timestamp", midnight)
    for v in [day, pa.scalar(day), pa.scalar(day, pa.date64()), np.datetime64("2026-01-01")]:
        assert c.pins(filters={"timestamp": {"gte": v}}).rows == want, v


def test_timestamps_in_lists_and_nulls(c, table, mid):
    exact = c.pins(filters={"timestamp": {"in": [mid, np.datetime64(mid.replace(tzinfo=None))]}})
    want = pc.sum(pc.equal(table["timestamp"], pa.scalar(mid, pa.timestamp("us", "UTC")))).as_py()
    assert exact.rows == want >= 1
    nulls = table["last_access"].null_count
    assert c.pins(filters={"last_access": np.datetime64("NaT")}).rows == nulls
    assert c.pins(filters={"last_access": pa.scalar(None, pa.timestamp("us"))}).rows == nulls


@pytest.mark.parametrize("v", [1_700_000_000, 1_700_000_000_000_000, np.int64(5), 1.5,
                               np.float64(2.0), pa.scalar(5), True])
def test_bare_numbers_are_refused_for_timestamp_columns(c, v):
    with pytest.raises(ika.InvalidQuery) as e:
        c.pins(filters={"timestamp": {"gte": v}})
    msg = str(e.value)
    assert "filter on 'timestamp'" in msg and "bare number" in msg
    assert "datetime.datetime" in msg and "numpy.datetime64" in msg
    assert "datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)" in msg


def test_bad_timestamp_values_name_the_column(c):
    for v, words in [("yesterday", "ISO-8601"), (object(), "not a point in time"),
                     ([dt.datetime(2026, 1, 1)], None)]:
        with pytest.raises((ika.InvalidQuery, TypeError)) as e:
            c.pins(filters={"last_access": {"gt": v}})
        if words:
            assert "'last_access'" in str(e.value) and words in str(e.value)


def test_numpy_and_pyarrow_scalars_stand_for_python_ones(c):
    plain = c.pins(limit=5, offset=2, filters={
        "size_bytes": {"gt": 1000}, "pin_type": "recursive", "verified": True,
        "backend": ["ipfs", "s3"], "replication_factor": {"gte": 1.0}})
    scalars = c.pins(limit=np.int64(5), offset=np.uint8(2), filters={
        "size_bytes": {"gt": np.int64(1000)}, "pin_type": np.str_("recursive"),
        "verified": np.bool_(True), "backend": [pa.scalar("ipfs"), np.str_("s3")],
        "replication_factor": {"gte": np.float32(1)}})
    assert pa.table(plain).equals(pa.table(scalars))
    assert plain.rows == 5
    arrowed = c.pins(limit=pa.scalar(5), filters={"size_bytes": {"gt": pa.scalar(1000)},
                                                  "verified": pa.scalar(True)})
    assert arrowed.rows == 5


def test_limit_refuses_bools_and_floats(c):
    for v in [True, np.bool_(True), 2.0]:
        with pytest.raises(TypeError):
            c.pins(limit=v)
