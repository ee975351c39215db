"""`ipfs-kit pin list --all-peers` and `ipfs-kit peers status` (docs/distributed.md) against
peers that are pyarrow.flight servers (flight_util.StandIn): the union carries every node's
rows with a node column, a peer that is gone or stalls is named and the others are served,
and every wait ends by its deadline."""
import io
import json
import time

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from daemon_util import wait_for
from peers_util import StandIn, free_port


@pytest.fixture
def fleet(daemons, tmp_path):
    """A running daemon ("here", 300 sample pins) whose config names two stand-in peers with
    200 and 100 pins of their own."""
    stand = []
    d = daemons(start=False)
    tables = []
    for i, rows in enumerate((200, 100)):
        out = tmp_path / f"peer{i}.arrow"
        d.ok("arrow", "sample-pins", out, "--rows", rows, "--seed", 50 + i, "--to", "stream")
        tables.append(ipc.open_stream(str(out)).read_all())
    try:
        stand = [StandIn(f"peer{i}", t) for i, t in enumerate(tables)]
        d.write_config({"node_name": "here", "peer_timeout_ms": 10000,
                        "peers": [s.location for s in stand]})
        d.start()
        d.ok("pin", "import", d.sample(d.p("sample.jsonl"), 300))
        yield d, stand
    finally:
        for s in stand:
            s.stop()


def all_peers(d, *args, timeout=60):
    r = d.ik("pin", "list", "--all-peers", "--format", "arrow", *args, timeout=timeout)
    table = ipc.open_stream(io.BytesIO(r.stdout)).read_all() if r.stdout else None
    return r, table


def by_node(table):
    nodes = table.column("node").to_pylist()
    return {n: nodes.count(n) for n in set(nodes)}


def test_all_peers_is_the_union_with_a_node_column(fleet):
    d, stand = fleet
    r, t = all_peers(d)
    assert r.returncode == 0, r.stderr.decode()
    assert by_node(t) == {"here": 300, "peer0": 200, "peer1": 100}
    assert t.schema.names[-1] == "node"
    here = d.query_arrow("pin", "list")[0]
    mine = t.filter(pa.compute.equal(t.column("node").cast(pa.string()), "here"))
    assert sorted(mine.column("cid").to_pylist()) == sorted(here.column("cid").to_pylist())
    theirs = set(t.column("cid").to_pylist()) - set(here.column("cid").to_pylist())
    assert theirs == {c for s in stand for c in s.table.column("cid").to_pylist()}
    summary = r.stderr.decode().strip().splitlines()[-1]
    assert summary.startswith("600 pins from 3 of 3 nodes"), summary
    assert "here: zero_copy via arrow_ipc_daemon" in summary
    # each peer was asked for its own rows only, with the node column
    for s in stand:
        assert s.commands[-1]["node"] is True and s.commands[-1]["peers"] is False


def test_all_peers_passes_the_query_to_every_node(fleet):
    d, stand = fleet
    r, t = all_peers(d, "--columns", "cid,backend", "--limit", "5")
    assert r.returncode == 0, r.stderr.decode()
    assert t.schema.names == ["cid", "backend", "node"]
    assert by_node(t) == {"here": 5, "peer0": 5, "peer1": 5}
    assert stand[0].commands[-1]["columns"] == ["cid", "backend"]


def test_all_peers_table_format_has_the_summary_line(fleet):
    d, _ = fleet
    r = d.ik("pin", "list", "--all-peers", "--limit", "2", "--columns", "cid")
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().strip().splitlines()
    assert lines[-1].startswith("6 pins from 3 of 3 nodes"), lines[-1]
    assert sum(" peer0" in line for line in lines) == 2


def test_a_gone_peer_is_named_and_the_others_served(fleet):
    d, stand = fleet
    gone = f"grpc+tcp://127.0.0.1:{free_port()}"
    d.write_config({"node_name": "here", "peer_timeout_ms": 10000,
                    "peers": [stand[0].location, gone]})
    r, t = all_peers(d)
    assert r.returncode == 69, r.stderr.decode()
    assert by_node(t) == {"here": 300, "peer0": 200}
    err = r.stderr.decode()
    assert f"peer {gone} not answering" in err and "UNAVAILABLE" in err, err
    assert err.strip().splitlines()[-1].startswith("500 pins from 2 of 3 nodes")


def test_a_stalled_peer_is_cut_off_by_its_deadline(fleet):
    d, stand = fleet
    d.write_config({"node_name": "here", "peer_timeout_ms": 8000,
                    "peers": [s.location for s in stand]})
    stand[1].stall.clear()  # accepts the call, never answers
    try:
        t0 = time.monotonic()
        r, t = all_peers(d, timeout=60)
        took = time.monotonic() - t0
    finally:
        stand[1].stall.set()
    assert r.returncode == 69, r.stderr.decode()
    assert by_node(t) == {"here": 300, "peer0": 200}
    err = r.stderr.decode()
    assert f"peer {stand[1].location} not answering: GetFlightInfo: DEADLINE_EXCEEDED" in err, err
    assert took < 40  # the 8 s deadline, not the subprocess's 60 s


def test_a_peer_with_other_columns_is_named_not_mixed_in(fleet):
    """A Flight server that answers with another table (not an ipfs-kit daemon, or another
    version) is reported; its rows are not printed under our columns."""
    d, stand = fleet
    other = StandIn("other", pa.table({"x": [1, 2, 3]}))
    try:
        d.write_config({"node_name": "here", "peer_timeout_ms": 10000,
                        "peers": [stand[0].location, other.location]})
        r, t = all_peers(d)
    finally:
        other.stop()
    assert r.returncode == 69, r.stderr.decode()
    assert by_node(t) == {"here": 300, "peer0": 200}
    err = r.stderr.decode()
    assert f"peer {other.location} not read: its columns differ from here's" in err, err


def test_all_peers_without_peers_is_this_node(daemons):
    d = daemons(start=False)
    d.write_config({"node_name": "solo"})
    d.start()
    d.ok("pin", "import", d.sample(d.p("s.jsonl"), 10))
    r, t = all_peers(d)
    assert r.returncode == 0, r.stderr.decode()
    assert by_node(t) == {"solo": 10}


def test_peers_status_reports_each_peer(fleet):
    d, stand = fleet
    gone = f"grpc+tcp://127.0.0.1:{free_port()}"
    d.write_config({"node_name": "here", "peer_timeout_ms": 10000,
                    "peers": [stand[0].location, gone, stand[1].location]})
    r = d.ik("peers", "status", "--format", "json")
    assert r.returncode == 69, r.stderr.decode()
    out = json.loads(r.stdout)
    assert out["node"] == "here"
    p0, p_gone, p1 = out["peers"]
    assert p0["location"] == stand[0].location and p0["reachable"] is True
    assert p0["pins"] == 200 and p0["node"] == "peer0" and p0["version"] == "stand-in"
    assert p0["latency_ms"] > 0 and p0["last_error"] is None
    assert p1["pins"] == 100
    assert p_gone["reachable"] is False and p_gone["status"] == "down"
    assert "UNAVAILABLE" in p_gone["last_error"]
    r = d.ik("peers", "status")
    text = r.stdout.decode()
    assert "2 of 3 peers reachable (this node: here)" in text, text
    assert gone in text


def test_peers_status_all_up_exits_0(fleet):
    d, _ = fleet
    r = d.ik("peers", "status", "--format", "json")
    assert r.returncode == 0, r.stderr.decode()
    assert [p["reachable"] for p in json.loads(r.stdout)["peers"]] == [True, True]


def test_peers_status_bad_usage(fleet):
    d, _ = fleet
    assert d.ik("peers", "status", "--format", "xml").returncode == 2
    assert d.ik("peers").returncode == 2
    assert d.ik("peers", "status", "--timeout", "0").returncode == 2


def test_bad_peers_config_is_named(daemons):
    d = daemons(start=False)
    d.write_config({"peers": ["grpc+tcp://127.0.0.1:0"]})
    r = d.ik("peers", "status")
    assert r.returncode == 78
    assert "peers[0]: the port must be 1 to 65535" in r.stderr.decode()


# ---- the daemon's own fan-out with a stand-in peer --------------------------------------------

def test_daemon_fanout_to_a_stalled_peer_blocks_no_other_call(daemons):
    """GetFlightInfo waiting on a peer that does not answer runs off the server's threads:
    other calls are served meanwhile; the peer is then reported, not hidden."""
    import threading

    import pyarrow.flight as fl
    from peers_util import with_node

    d = daemons(start=False)
    out = d.p("peer.arrow")
    d.ok("arrow", "sample-pins", out, "--rows", 50, "--seed", 9, "--to", "stream")
    peer = StandIn("slow", ipc.open_stream(out).read_all())
    here = f"grpc+tcp://127.0.0.1:{free_port()}"
    try:
        d.write_config({"http": {"listen": None}, "flight": {"listen": [here]},
                        "node_name": "here", "peer_timeout_ms": 60000,
                        "peers": [peer.location]})
        d.start()
        d.ok("pin", "import", d.sample(d.p("s.jsonl"), 20))
        peer.stall.clear()
        result = {}

        def fan_out():
            c = fl.connect(here)
            result["info"] = c.get_flight_info(fl.FlightDescriptor.for_command(
                json.dumps({"table": "pin_index", "node": True})),
                fl.FlightCallOptions(timeout=120))

        # more fan-outs at once than the server has completion queue threads
        threads = [threading.Thread(target=fan_out) for _ in range(3)]
        for t in threads:
            t.start()
        wait_for(lambda: peer.stall_waiters >= 3, 30, what="the daemon to ask the peer")
        c = fl.connect(here)
        # while the fan-out waits on the peer, the daemon answers other calls
        local = c.get_flight_info(fl.FlightDescriptor.for_command(
            json.dumps({"table": "pin_index", "peers": False, "node": True})),
            fl.FlightCallOptions(timeout=30))
        rows = c.do_get(local.endpoints[0].ticket).read_all()
        assert rows.num_rows == 20 and set(rows.column("node").to_pylist()) == {"here"}
        assert len(list(c.list_flights())) >= 1
        assert all(t.is_alive() for t in threads)  # still waiting on the peer
        peer.stall.set()
        for t in threads:
            t.join(120)
        info = result["info"]
        assert len(info.endpoints) == 2
        assert info.endpoints[1].locations[0].uri.decode() == peer.location
        theirs = fl.connect(peer.location).do_get(info.endpoints[1].ticket).read_all()
        assert theirs.equals(with_node(peer.table, "slow"))
    finally:
        peer.stop()
