"""The daemon's Arrow Flight server (docs/flight.md) read by pyarrow.flight over grpc+unix and
grpc+tcp: ListFlights, GetFlightInfo, GetSchema, DoGet of every table with filters, limits and
columns equal to `ipfs-kit ... --format arrow`, tickets that keep their snapshot version, DoPut
as `pin import` (token, validation, all or nothing), DoAction/ListActions, Handshake and the
token rules, status codes with messages, and where status says Flight is (or why not)."""
import json
import os
import socket

import pyarrow as pa
import pyarrow.flight as fl
import pyarrow.ipc as ipc
import pytest

from daemon_util import cid_v0
from flight_util import bearer, client, finish, flight_daemon, metric, refresh, status


@pytest.fixture(scope="module")
def d():
    d = flight_daemon(pins=3000)
    yield d
    finish(d)


@pytest.fixture(params=["unix", "tcp"])
def c(request, d):
    loc = d.flight[0] if request.param == "unix" else d.flight[1]
    assert loc.startswith("grpc+unix://" if request.param == "unix" else "grpc+tcp://127.0.0.1:")
    cl = client(loc)
    yield cl
    cl.close()


def cmd(**q):
    q.setdefault("table", "pin_index")
    return fl.FlightDescriptor.for_command(json.dumps(q))


def read(cl, desc):
    info = cl.get_flight_info(desc)
    assert len(info.endpoints) == 1
    return info, cl.do_get(info.endpoints[0].ticket).read_all()


def test_status_lists_the_served_locations(d):
    st = status(d)
    assert st["flight"] == d.flight and "flight_off" not in st
    assert st["flight"][0] == f"grpc+unix://{d.p('flight.sock')}"
    assert int(st["flight"][1].rsplit(":", 1)[1]) > 0  # port 0 asked: the bound one
    assert metric(d, "flight_up") == 1


def test_list_flights_has_every_table(d, c):
    infos = {tuple(i.descriptor.path): i for i in c.list_flights()}
    assert set(infos) == {(b"pin_index",), (b"vfs_stats",), (b"metrics",), (b"backend_health",)}
    pins = infos[(b"pin_index",)]
    assert pins.total_records == 3000
    assert pins.schema.equals(d.query_arrow("pin", "list", "--limit", "0")[0].schema)
    assert c.do_get(pins.endpoints[0].ticket).read_all().num_rows == 3000


@pytest.mark.parametrize("table,cli", [("pin_index", ["pin", "list"]),
                                       ("vfs_stats", ["vfs", "stats"])])
def test_do_get_of_a_table_equals_the_cli(d, c, table, cli):
    info, t = read(c, fl.FlightDescriptor.for_path(table))
    want = d.query_arrow(*cli)[0]
    assert t.equals(want)
    assert info.total_records == want.num_rows
    assert c.get_schema(fl.FlightDescriptor.for_path(table)).schema.equals(want.schema)


@pytest.mark.parametrize("table,cli", [("metrics", ["metrics"]),
                                       ("backend_health", ["backend", "health"])])
def test_do_get_of_the_live_tables(d, c, table, cli):
    _, t = read(c, fl.FlightDescriptor.for_path(table))
    want = d.query_arrow(*cli)[0]
    assert t.schema.equals(want.schema)
    assert t.num_rows == want.num_rows > 0


@pytest.mark.parametrize("query,args", [
    ({"limit": 10, "offset": 5}, ["--limit", "10", "--offset", "5"]),
    ({"columns": ["cid", "size_bytes"]}, ["--columns", "cid,size_bytes"]),
    ({"filter": {"pin_type": "recursive"}}, ["--type", "recursive"]),
    ({"filter": {"backend": "ipfs"}, "columns": ["cid", "size_bytes", "backend"], "limit": 50},
     ["--backend", "ipfs", "--columns", "cid,size_bytes,backend", "--limit", "50"]),
])
def test_commands_filter_limit_and_project_like_the_cli(d, c, query, args):
    info, t = read(c, cmd(**query))
    want = d.query_arrow("pin", "list", *args)[0]
    assert t.equals(want)
    assert info.total_records == want.num_rows
    assert c.get_schema(cmd(**query)).schema.equals(want.schema)


def test_range_filters_select_the_rows_pyarrow_selects(d, c):
    import pyarrow.compute as pc
    whole = d.query_arrow("pin", "list")[0]
    _, t = read(c, cmd(filter={"size_bytes": {"gte": 100000, "lt": 5000000}}))
    sb = whole.column("size_bytes")
    want = whole.filter(pc.and_(pc.greater_equal(sb, 100000), pc.less(sb, 5000000)))
    assert t.num_rows > 0 and t.equals(want)


def test_a_ticket_reads_its_version_after_a_write(d):
    cl = client(d.flight[0])
    info = cl.get_flight_info(fl.FlightDescriptor.for_path("pin_index"))
    before = cl.do_get(info.endpoints[0].ticket).read_all()
    d.ok("pin", "add", cid_v0(777001), "--name", "later")
    again = cl.do_get(info.endpoints[0].ticket).read_all()
    assert again.equals(before)  # the ticket's snapshot version, retained
    now = read(cl, fl.FlightDescriptor.for_path("pin_index"))[1]
    assert now.num_rows == before.num_rows + 1
    assert json.loads(info.endpoints[0].ticket.ticket)["version"] < \
        status(d)["snapshot_version"]
    d.ok("pin", "rm", cid_v0(777001))


def test_unknown_path_is_not_found(c):
    with pytest.raises(pa.ArrowKeyError, match="no flight at that path"):
        c.get_flight_info(fl.FlightDescriptor.for_path("nope"))
    with pytest.raises(pa.ArrowKeyError, match="no table 'nope'"):
        c.get_flight_info(cmd(table="nope"))


@pytest.mark.parametrize("ticket,match", [
    (b"garbage", "Ticket: expected a JSON query object"),
    (b'{"table":"pin_index","filter":{"nocol":1}}', "nocol"),
    (b'{"table":"pin_index","limit":"x"}', "limit"),
    (b'{"table":"pin_index","version":-3}', "version"),
    (b'{"limit":3}', "table"),
])
def test_bad_tickets_are_invalid_argument_naming_the_field(c, ticket, match):
    with pytest.raises(pa.ArrowInvalid, match=match):
        c.do_get(fl.Ticket(ticket)).read_all()


def test_a_version_no_longer_retained_is_not_found(c):
    with pytest.raises(pa.ArrowKeyError, match="no longer retained"):
        c.do_get(fl.Ticket(b'{"table":"pin_index","version":999999}')).read_all()


def test_bad_command_names_the_key(c):
    with pytest.raises(pa.ArrowInvalid, match="columns"):
        c.get_flight_info(cmd(columns=[""]))
    with pytest.raises(pa.ArrowInvalid, match="FlightDescriptor.cmd"):
        c.get_flight_info(fl.FlightDescriptor.for_command(b"[1,2"))


def test_do_exchange_is_unimplemented(c):
    with pytest.raises(pa.ArrowNotImplementedError):
        w, r = c.do_exchange(fl.FlightDescriptor.for_path("pin_index"))
        r.read_all()


# ---- writes and actions ---------------------------------------------------------------------

def pins_table(lo, n):
    return pa.table({"cid": [cid_v0(lo + i) for i in range(n)],
                     "name": [f"put-{lo + i}" for i in range(n)],
                     "size_bytes": pa.array(range(n), pa.int64())})


def put(cl, table, options=None, desc=None):
    w, r = cl.do_put(desc or fl.FlightDescriptor.for_path("pin_index"), table.schema,
                     options=options)
    w.write_table(table, max_chunksize=7)
    w.done_writing()
    meta = r.read()
    w.close()
    return json.loads(meta.to_pybytes())


def test_do_put_needs_the_write_token(d, c):
    with pytest.raises(fl.FlightUnauthenticatedError, match="http.token"):
        put(c, pins_table(800000, 3))
    with pytest.raises(fl.FlightUnauthenticatedError):
        put(c, pins_table(800000, 3), options=bearer("0" * 64))
    assert d.query_arrow("pin", "list", "--cid", cid_v0(800000))[0].num_rows == 0


def test_do_put_imports_and_the_next_read_sees_it(d, c):
    n0 = d.count()
    lo = 810000 + 100 * n0  # new CIDs for each location's run
    res = put(c, pins_table(lo, 20), options=bearer(d.token))
    assert res["imported"] == 20 and res["skipped"] == 0
    assert res["snapshot_version"] == status(d)["snapshot_version"]
    _, t = read(c, cmd(filter={"name": {"prefix": f"put-{lo // 100}"}}, columns=["cid", "name"]))
    assert sorted(t.column("cid").to_pylist()) == sorted(cid_v0(lo + i) for i in range(20))
    assert d.count() == n0 + 20


def test_do_put_is_all_or_nothing(d, c):
    n0 = d.count()
    bad = pa.table({"cid": [cid_v0(820000), "QmNotACid", cid_v0(820001)]})
    with pytest.raises(pa.ArrowInvalid, match="row 1: invalid CID 'QmNotACid'"):
        put(c, bad, options=bearer(d.token))
    assert d.count() == n0


def test_do_put_into_another_path_is_refused(d, c):
    with pytest.raises(pa.ArrowInvalid, match="pin_index"):
        put(c, pins_table(830000, 2), options=bearer(d.token),
            desc=fl.FlightDescriptor.for_path("metrics"))


def test_actions(d, c):
    kinds = {a.type for a in c.list_actions()}
    assert kinds == {"changes", "health"}
    h = json.loads(next(iter(c.do_action(fl.Action("health", b"")))).body.to_pybytes())
    assert h["status"] == "ok" and h["pins"] == d.count()
    v = status(d)["snapshot_version"]
    d.ok("pin", "add", cid_v0(840000), "--name", "changed")
    res = list(c.do_action(fl.Action("changes", json.dumps({"since": v}).encode())))
    summary = json.loads(res[0].body.to_pybytes())
    assert summary["since"] == v and summary["version"] == v + 1 and summary["rows"] == 1
    rows = ipc.open_stream(res[1].body).read_all()
    want = d.query_arrow("pin", "changes", "--since", v)[0]
    assert rows.equals(want)
    with pytest.raises(pa.ArrowInvalid, match="since"):
        list(c.do_action(fl.Action("changes", b"{}")))
    with pytest.raises(pa.ArrowInvalid, match="unknown action 'drop'"):
        list(c.do_action(fl.Action("drop", b"")))


def test_handshake_basic_token_gives_a_bearer_header(d, c):
    name, value = c.authenticate_basic_token(b"anyone", d.token.encode())
    assert name.lower() == b"authorization" and value == b"Bearer " + d.token.encode()
    with pytest.raises(fl.FlightUnauthenticatedError):
        c.authenticate_basic_token(b"anyone", b"wrong")


def test_bytes_copied_counter_shows_no_row_copied(d):
    cl = client(d.flight[0])
    ref0 = metric(d, "flight_body_bytes_referenced_total")
    cop0 = metric(d, "flight_body_bytes_copied_total")
    t = read(cl, fl.FlightDescriptor.for_path("vfs_stats"))[1]  # one base segment, no delta
    ref = metric(d, "flight_body_bytes_referenced_total") - ref0
    cop = metric(d, "flight_body_bytes_copied_total") - cop0
    assert ref > 0.9 * t.nbytes  # the rows went out as slices of the mapping
    assert cop < 0.01 * t.nbytes + 4096  # only padding between buffers



def test_a_batch_cut_into_pieces_is_still_referenced_not_copied(d):
    # 3,000 pins: more than the first pieces of a DoGet, so the base's batch is cut; a cut
    # piece must still go out as slices of the mapping (it was copied whole once the query's
    # batches became views of the segments: 64 concurrent reads then grew the daemon by 100 MB)
    cl = client(d.flight[0])
    ref0 = metric(d, "flight_body_bytes_referenced_total")
    cop0 = metric(d, "flight_body_bytes_copied_total")
    t = read(cl, fl.FlightDescriptor.for_path("pin_index"))[1]
    assert t.num_rows >= 3000
    ref = metric(d, "flight_body_bytes_referenced_total") - ref0
    cop = metric(d, "flight_body_bytes_copied_total") - cop0
    # copied: padding and the rebased offsets of the cut pieces (4 bytes a row per string column)
    assert ref > 0.75 * t.nbytes, (ref, cop, t.nbytes)
    assert cop < 0.2 * t.nbytes, (ref, cop, t.nbytes)

# ---- configuration: tokens, ports taken, off -------------------------------------------------

def test_read_token_makes_reads_need_it():
    tok = "r" * 24
    d = flight_daemon(http={"read_token": tok}, pins=10)
    try:
        cl = client(d.flight[1])
        with pytest.raises(fl.FlightUnauthenticatedError, match="read_token"):
            list(cl.list_flights())
        infos = list(cl.list_flights(options=bearer(tok)))
        assert len(infos) == 4
        t = cl.do_get(infos[0].endpoints[0].ticket, options=bearer(d.token)).read_all()
        assert t.num_rows in (10, 0) or t.num_rows > 0
        # the read token does not write
        with pytest.raises(fl.FlightUnauthenticatedError):
            put(cl, pins_table(850000, 1), options=bearer(tok))
        assert cl.authenticate_basic_token(b"u", tok.encode())[1] == b"Bearer " + tok.encode()
    finally:
        finish(d)


def test_a_taken_port_leaves_the_daemon_serving_and_says_why():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        d = flight_daemon(flight={"listen": [f"grpc+tcp://127.0.0.1:{port}"]}, pins=5)
        try:
            assert d.flight == [] and "Address already in use" in d.flight_off
            assert d.count() == 5  # the unix socket serves
            assert "Flight off" in d.log()
            assert metric(d, "flight_up") == 0
            human = d.ok("daemon", "status").stdout.decode()
            assert "Flight off" in human
        finally:
            finish(d)
    finally:
        s.close()


def test_one_location_taken_the_other_served():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        d = flight_daemon(flight={"listen": [f"grpc+tcp://127.0.0.1:{port}",
                                             "grpc+tcp://127.0.0.1:0"]}, pins=5)
        try:
            assert len(d.flight) == 1 and str(port) in d.flight_off
            assert len(list(client(d.flight[0]).list_flights())) == 4
        finally:
            finish(d)
    finally:
        s.close()


def test_non_loopback_needs_a_read_token():
    d = flight_daemon(flight={"listen": ["grpc+tcp://0.0.0.0:0"]}, start=True)
    try:
        assert d.flight == [] and "not a loopback address" in d.flight_off
        assert "read_token" in d.flight_off
    finally:
        finish(d)


def test_flight_alone_creates_the_write_token():
    d = flight_daemon(http={"listen": None}, pins=1)
    try:
        assert os.path.exists(d.p("http.token")) and len(d.token) == 64
        assert put(client(d.flight[0]), pins_table(860000, 1),
                   options=bearer(d.token))["imported"] == 1
    finally:
        finish(d)


def test_flight_null_turns_it_off():
    d = flight_daemon(start=False)
    d.write_config({"http": {"listen": "127.0.0.1:0"}, "flight": None})
    try:
        d.start()
        refresh(d)
        assert d.flight == [] and "off in config.json" in d.flight_off
        assert not os.path.exists(d.p("flight.sock"))
    finally:
        finish(d)


@pytest.mark.parametrize("conf,key", [
    ({"listen": "grpc+tcp://127.0.0.1:1"}, "flight.listen"),
    ({"listen": ["http://x:1"]}, "flight.listen[0]"),
    ({"listen": ["grpc+unix://relative.sock"]}, "flight.listen[0]"),
    ({"batch_rows": -1}, "flight.batch_rows"),
    ({"max_message_bytes": "big"}, "flight.max_message_bytes"),
])
def test_bad_flight_config_is_refused_naming_the_key(conf, key):
    d = flight_daemon(start=False)
    d.write_config({"flight": conf})
    try:
        r = d.ik("daemon", "start", "--timeout", "30", timeout=60)
        assert r.returncode != 0
        assert key in r.stderr.decode()
    finally:
        d.cleanup()


def test_the_unix_socket_goes_with_the_daemon():
    d = flight_daemon(pins=1)
    assert os.path.exists(d.p("flight.sock"))
    finish_dir = d.path
    d.stop()
    assert not os.path.exists(os.path.join(finish_dir, "flight.sock"))
    d.assert_clean_log()
    d.cleanup()
