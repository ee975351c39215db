"""Many daemons as one (docs/distributed.md): three daemons on loopback ports, each with pins of
its own (and some shared), each listing the other two as peers. One get_flight_info yields
three endpoints; the union read from them equals the three stores; the code blocks of
docs/distributed.md run as written (pyarrow.flight, DataFusion, Spark, DuckDB) and agree with
sums computed from the stores; a daemon killed is reported and the others are served."""
import io
import json
import os
import re
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as fl
import pyarrow.ipc as ipc
import pytest

from conftest import ASAN_BIN, BIN, DAEMON_ASAN, ROOT
from daemon_util import Daemon
from peers_util import free_port

DOC = os.path.join(ROOT, "docs", "distributed.md")
ROWS = (300, 200, 100)  # each node's own sample pins
SHARED = 40  # node1's first 40 pins are pinned on node2 too


def doc_blocks():
    with open(DOC) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Three started daemons (node1..node3) that are each other's peers."""
    binary = ASAN_BIN if DAEMON_ASAN else BIN
    nodes = [Daemon(binary=binary) for _ in ROWS]
    locs = [f"grpc+tcp://127.0.0.1:{free_port()}" for _ in nodes]
    tmp = tmp_path_factory.mktemp("samples")
    try:
        for i, d in enumerate(nodes):
            d.location, d.name = locs[i], f"node{i + 1}"
            d.write_config({"http": {"listen": None}, "flight": {"listen": [locs[i]]},
                            "node_name": d.name, "peer_timeout_ms": 10000,
                            "peers": [loc for j, loc in enumerate(locs) if j != i]})
            d.start()
            src = d.sample(str(tmp / f"n{i}.jsonl"), ROWS[i], seed=100 + i)
            d.ok("pin", "import", src)
        with open(tmp / "n0.jsonl") as f:
            shared = "".join(f.readlines()[:SHARED])
        (tmp / "shared.jsonl").write_text(shared)
        nodes[1].ok("pin", "import", str(tmp / "shared.jsonl"))
        yield nodes
    finally:
        for d in nodes:
            log = d.log() if d.binary == ASAN_BIN else ""
            d.cleanup()
            for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                assert bad not in log, f"{d.name}'s log has {bad!r}:\n{log[-4000:]}"


@pytest.fixture(scope="module")
def spark():
    """One small Spark session for the module (docs' getOrCreate() finds it)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    s = (SparkSession.builder.master("local[2]").appName("ipfs-kit test")
         .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
         .config("spark.driver.memory", "512m").getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def doc_ns(cluster):
    """The namespace the doc's blocks run in, with IPFS_KIT_FLIGHT naming node1."""
    os.environ["IPFS_KIT_FLIGHT"] = cluster[0].location
    yield {}
    os.environ.pop("IPFS_KIT_FLIGHT", None)


def run_block(i, ns):
    exec(compile(doc_blocks()[i], f"{DOC} block {i + 1}", "exec"), ns)


def store(d):
    """A node's pins as its own CLI reads them."""
    return d.query_arrow("pin", "list", "--columns", "cid,size_bytes,backend")[0]


def strings(col):
    return col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col


def test_docs_have_the_four_examples():
    assert len(doc_blocks()) == 4


def test_one_flight_info_lists_every_node(cluster):
    info = fl.connect(cluster[1].location).get_flight_info(
        fl.FlightDescriptor.for_command(json.dumps({"table": "pin_index", "node": True})))
    assert len(info.endpoints) == 3
    assert info.endpoints[0].locations == []  # node2 itself: where we asked
    others = [e.locations[0].uri.decode() for e in info.endpoints[1:]]
    assert others == [cluster[0].location, cluster[2].location]
    assert info.total_records == sum(ROWS) + SHARED
    meta = json.loads(info.app_metadata)
    assert meta["node"] == "node2" and meta["unreachable"] == []
    assert [p["status"] for p in meta["peers"]] == ["ok", "ok"]
    assert info.schema.names[-1] == "node"
    # a path descriptor fans out too; "peers": false asks for one node alone
    c = fl.connect(cluster[0].location)
    assert len(c.get_flight_info(fl.FlightDescriptor.for_path("pin_index")).endpoints) == 3
    alone = c.get_flight_info(fl.FlightDescriptor.for_command(
        json.dumps({"table": "pin_index", "peers": False})))
    assert len(alone.endpoints) == 1 and alone.total_records == ROWS[0]


def test_the_node_column_only_when_asked(cluster):
    c = fl.connect(cluster[0].location)
    asked = {"table": "pin_index", "columns": ["cid"], "peers": False, "node": True}
    schema = c.get_schema(fl.FlightDescriptor.for_command(json.dumps(asked))).schema
    assert schema.names == ["cid", "node"]
    assert schema.field("node").type == pa.dictionary(pa.int8(), pa.string())
    assert not schema.field("node").nullable
    info = c.get_flight_info(fl.FlightDescriptor.for_command(json.dumps(asked)))
    rows = c.do_get(info.endpoints[0].ticket).read_all()
    assert rows.schema.names == ["cid", "node"] and rows.num_rows == ROWS[0]
    assert set(rows.column("node").to_pylist()) == {"node1"}
    plain = dict(asked, node=False)
    info = c.get_flight_info(fl.FlightDescriptor.for_command(json.dumps(plain)))
    assert c.do_get(info.endpoints[0].ticket).read_all().schema.names == ["cid"]


def test_the_union_equals_the_three_stores(cluster, doc_ns):
    run_block(0, doc_ns)
    pins = doc_ns["pins"]
    assert pins.num_rows == sum(ROWS) + SHARED
    for d in cluster:
        mine = pins.filter(pc.equal(strings(pins.column("node")), d.name))
        assert sorted(mine.column("cid").to_pylist()) == \
            sorted(store(d).column("cid").to_pylist()), d.name


def expected_per_backend(cluster):
    """(pins, bytes) per backend, summed from the three stores."""
    out = {}
    for d in cluster:
        t = store(d)
        for b, size in zip(strings(t.column("backend")).to_pylist(),
                           t.column("size_bytes").to_pylist()):
            n, s = out.get(b, (0, 0))
            out[b] = (n + 1, s + (size or 0))
    return out


def test_datafusion_group_by_backend_equals_the_stores(cluster, doc_ns):
    if "parts" not in doc_ns:
        run_block(0, doc_ns)
    run_block(1, doc_ns)
    got = doc_ns["per_backend"].to_pylist()
    assert {str(r["backend"]): (r["pins"], r["bytes"]) for r in got} == \
        expected_per_backend(cluster)
    once = doc_ns["fewer_than_two"]
    assert once.num_rows == sum(ROWS)  - SHARED  # the shared pins are on two nodes
    assert set(once.column("nodes").to_pylist()) == {1}


def test_spark_reads_the_endpoints_as_partitions(cluster, doc_ns, spark):
    if "info" not in doc_ns:
        run_block(0, doc_ns)
    run_block(2, doc_ns)
    got = {r["node"]: (r["count(cid)"], r["sum(size_bytes)"]) for r in doc_ns["by_node"]}
    want = {}
    for d in cluster:
        t = store(d)
        want[d.name] = (t.num_rows, pc.sum(t.column("size_bytes")).as_py())
    assert got == want


def test_duckdb_reads_a_reader_over_the_endpoints(cluster, doc_ns):
    if "info" not in doc_ns:
        run_block(0, doc_ns)
    run_block(3, doc_ns)
    got = {r["node"]: (r["pins"], int(r["bytes"])) for r in doc_ns["bytes_per_node"].to_pylist()}
    assert got == {d.name: (store(d).num_rows, pc.sum(store(d).column("size_bytes")).as_py())
                   for d in cluster}


def test_cli_all_peers_is_the_union(cluster):
    r = cluster[2].ik("pin", "list", "--all-peers", "--columns", "cid", "--format", "arrow")
    assert r.returncode == 0, r.stderr.decode()
    t = ipc.open_stream(io.BytesIO(r.stdout)).read_all()
    nodes = strings(t.column("node")).to_pylist()
    assert {n: nodes.count(n) for n in set(nodes)} == \
        {"node1": ROWS[0], "node2": ROWS[1] + SHARED, "node3": ROWS[2]}
    r = cluster[0].ik("peers", "status", "--format", "json")
    assert r.returncode == 0, r.stderr.decode()
    peers = json.loads(r.stdout)["peers"]
    assert [p["pins"] for p in peers] == [ROWS[1] + SHARED, ROWS[2]]
    assert [p["node"] for p in peers] == ["node2", "node3"]
    assert all(p["reachable"] and p["version"] and p["status"] == "ok" for p in peers)


# last: it kills node3
def test_a_killed_daemon_is_reported_and_the_others_served(cluster, doc_ns):
    dead = cluster[2]
    dead.kill9()
    info = fl.connect(cluster[0].location).get_flight_info(
        fl.FlightDescriptor.for_command(json.dumps({"table": "pin_index", "node": True})))
    assert len(info.endpoints) == 2
    meta = json.loads(info.app_metadata)
    assert [u["location"] for u in meta["unreachable"]] == [dead.location]
    assert "UNAVAILABLE" in meta["unreachable"][0]["error"]
    assert info.total_records == ROWS[0] + ROWS[1] + SHARED
    run_block(0, doc_ns)  # the doc's reader: the two others, in full
    nodes = strings(doc_ns["pins"].column("node")).to_pylist()
    assert {n: nodes.count(n) for n in set(nodes)} == \
        {"node1": ROWS[0], "node2": ROWS[1] + SHARED}
    r = cluster[0].ik("pin", "list", "--all-peers", "--columns", "cid")
    assert r.returncode == 69
    assert f"peer {dead.location} not answering" in r.stderr.decode()
    assert r.stdout.decode().strip().splitlines()[-1].startswith(
        f"{ROWS[0] + ROWS[1] + SHARED} pins from 2 of 3 nodes")
    r = cluster[0].ik("peers", "status", "--format", "json")
    assert r.returncode == 69
    assert [p["reachable"] for p in json.loads(r.stdout)["peers"]] == [True, False]
