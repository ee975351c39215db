"""pyarrow, polars, DuckDB and pandas read a Result straight from a real daemon, and their
answers equal the same computation on the rows read back from SQLite directly."""
import datetime

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import ipfs_kit_arrow as ika


@pytest.fixture(scope="module")
def expected(pin_daemon):
    with pin_daemon.sqlite() as db:
        sums = dict(db.execute("select backend, sum(size_bytes) from pins group by backend"))
        rows = db.execute("select count(*) from pins").fetchone()[0]
    assert rows == 20000 and len(sums) > 1
    return sums


@pytest.fixture(scope="module")
def result(pin_daemon):
    with ika.connect(pin_daemon.path) as c:
        r = c.pins()
    assert r.method == "zero_copy"
    return r


def test_pyarrow_group_by(result, expected):
    t = pa.table(result).group_by("backend").aggregate([("size_bytes", "sum")])
    got = {str(b): s for b, s in zip(t["backend"].to_pylist(), t["size_bytes_sum"].to_pylist())}
    assert got == expected


def test_polars_group_by(result, expected):
    df = pl.DataFrame(result)
    assert df.height == 20000
    g = df.group_by("backend").agg(pl.col("size_bytes").sum())
    assert {str(b): s for b, s in g.iter_rows()} == expected
    # from_arrow on a PyCapsule stream gives polars' struct Series; unnest is the frame
    s = pl.from_arrow(result)
    assert s.struct.unnest().equals(df)


def test_duckdb_group_by_over_the_result(result, expected):
    r = result  # noqa: F841  (DuckDB finds it by name)
    got = dict(duckdb.sql("select backend::varchar, sum(size_bytes)::bigint from r "
                          "group by backend").fetchall())
    assert got == expected
    # and again: DuckDB takes a fresh stream each scan
    assert duckdb.sql("select count(*) from r").fetchall() == [(20000,)]


def test_pandas_group_by(result, expected):
    df = result.to_pandas()
    got = df.groupby("backend", observed=True)["size_bytes"].sum()
    assert {str(k): int(v) for k, v in got.items()} == expected


def test_row_values_equal_sqlite(result, pin_daemon):
    cols = ["cid", "name", "size_bytes", "pin_type", "backend", "replication_factor", "verified",
            "vfs_path", "access_count", "metadata"]
    with pin_daemon.sqlite() as db:
        want = db.execute(f"select {', '.join(cols)} from pins order by cid").fetchall()
    t = pa.table(result).select(cols).sort_by("cid")
    got = [tuple(r[c] for c in cols) for r in t.to_pylist()]
    want = [tuple(bool(v) if c == "verified" else v for c, v in zip(cols, row)) for row in want]
    assert got == want


def epoch_us(dt):
    return int(dt.timestamp() * 1_000_000)


FILTERS = [
    ({"pin_type": "recursive"}, "pin_type = 'recursive'"),
    ({"size_bytes": {"gt": 100_000_000}}, "size_bytes > 100000000"),
    ({"size_bytes": {"gte": 1000, "lt": 5_000_000}}, "size_bytes >= 1000 and size_bytes < 5000000"),
    ({"backend": {"in": ["s3", "filecoin"]}}, "backend in ('s3', 'filecoin')"),
    ({"backend": ["ipfs"]}, "backend = 'ipfs'"),
    ({"name": {"contains": "0001"}}, "instr(name, '0001') > 0"),
    ({"vfs_path": {"prefix": "/datasets/set-03/"}}, "substr(vfs_path, 1, 17) = '/datasets/set-03/'"),
    ({"backend": {"ne": "ipfs"}, "verified": True}, "backend != 'ipfs' and verified = 1"),
    ({"name": None}, "name is null"),
    ({"last_access": {"lte": datetime.datetime(2026, 1, 1, 6, 0)}},
     f"last_access <= {epoch_us(datetime.datetime(2026, 1, 1, 6, 0, tzinfo=datetime.timezone.utc))}"),
    ({"timestamp": {"gt": datetime.datetime(2026, 1, 1, 3, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))}},
     f"timestamp > {epoch_us(datetime.datetime(2026, 1, 1, 1, 0, tzinfo=datetime.timezone.utc))}"),
]


@pytest.mark.parametrize("filters,where", FILTERS, ids=[w for _, w in FILTERS])
def test_filters_select_what_sqlite_selects(pin_daemon, filters, where):
    with pin_daemon.sqlite() as db:
        want = sorted(c for (c,) in db.execute(f"select cid from pins where {where}"))
    with ika.connect(pin_daemon.path) as c:
        r = c.pins(filters=filters, columns=["cid"])
    assert r.matched == r.rows == len(want)
    assert sorted(pa.table(r)["cid"].to_pylist()) == want
    assert 0 < len(want) < 20000 or where == "name is null"


def test_bad_queries_raise_invalid_query_naming_the_problem(pin_daemon):
    with ika.connect(pin_daemon.path) as c:
        cases = [
            ({"filters": {"nope": 1}}, "nope"),
            ({"filters": {"size_bytes": {"contains": "x"}}}, "contains"),
            ({"filters": {"size_bytes": {"between": 1}}}, "between"),
            ({"filters": {"size_bytes": "big"}}, "size_bytes"),
            ({"columns": ["cid", "bogus"]}, "bogus"),
            ({"limit": -1}, "limit"),
            ({"method": "carrier_pigeon"}, "carrier_pigeon"),
        ]
        for kwargs, word in cases:
            with pytest.raises(ika.InvalidQuery, match=word) as e:
                c.pins(**kwargs)
            assert isinstance(e.value, ValueError) and isinstance(e.value, ika.Error)


def test_vfs_stats_metrics_and_backend_health(pin_daemon):
    with ika.connect(pin_daemon.path) as c:
        v = pa.table(c.vfs_stats(filters={"path": "/"}))
        assert v.to_pylist()[0]["file_count"] == 20000
        m = c.metrics(filters={"metric_name": "pins"})
        assert m.method == "zero_copy"
        assert pa.table(m)["metric_value"].to_pylist() == [20000.0]
        h = pl.DataFrame(c.backend_health())
        assert "backend_name" in h.columns and h.height >= 1
        caps = c.capabilities()
        assert caps["daemon_running"] is True and caps["arrow_ipc"] is True
        assert caps["daemon"]["fd_passing"] is True


def test_sum_matches_pyarrow_compute(result, expected):
    assert pc.sum(pa.table(result)["size_bytes"]).as_py() == sum(expected.values())
