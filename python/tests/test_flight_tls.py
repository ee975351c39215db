"""Flight over TLS (docs/flight.md "TLS"): a grpc+tls location serves with the certificate of
flight.tls_cert / flight.tls_key, or HTTP's when Flight names none (made at test time with the
openssl command line); pyarrow.flight reads it with the certificate as its root and gets what
`ipfs-kit pin list --format arrow` gives; tokens work as on grpc+tcp; a client that does not
trust the certificate, a plain-TCP client and hostile bytes on the TLS port fail without
hurting the daemon; refused files name the key and the file and leave the other locations
served. Peers over TLS: a daemon reads a grpc+tls peer with peer_tls_ca as its roots
(GetFlightInfo's fan-out, `pin list --all-peers`, `peers status`), and reports a peer whose
certificate it does not trust."""
import json
import os
import shutil
import socket
import time

import pyarrow as pa
import pyarrow.flight as fl
import pyarrow.ipc  # noqa: F401 - pa.ipc
import pytest

from daemon_util import pid_alive
from flight_util import bearer, finish, flight_daemon, refresh, start_flight, status
from http_util import (make_cert, spoil_garbage_cert, spoil_garbage_inside, spoil_key_mode,
                       spoil_link, spoil_mismatch, spoil_missing)


def tls_flight_daemon(flight=None, http=None, prepare=None, pins=0, asan=True):
    """A daemon serving Flight on grpc+unix://<dir>/flight.sock and grpc+tls://127.0.0.1:0,
    with cert.pem / key.pem made in its data directory; `flight` and `http` add config keys
    (the certificate is HTTP's unless `flight` names one); `prepare(d)` may spoil the files."""
    d = flight_daemon(asan=asan, start=False)
    try:
        make_cert(d.path)
        fconf = {"listen": [f"grpc+unix://{d.p('flight.sock')}", "grpc+tls://127.0.0.1:0"]}
        fconf.update(flight or {})
        hconf = {"listen": "127.0.0.1:0"}
        if "tls_cert" not in fconf:
            hconf.update({"tls_cert": "cert.pem", "tls_key": "key.pem"})
        hconf.update(http or {})
        d.write_config({"http": hconf, "flight": fconf})
        if prepare:
            prepare(d)
    except BaseException:
        d.cleanup()
        raise
    return start_flight(d, pins)


def tls_client(d, loc=None):
    with open(d.p("cert.pem"), "rb") as f:
        return fl.FlightClient(loc or tls_loc(d), tls_root_certs=f.read())


def tls_loc(d):
    return next(loc for loc in d.flight if loc.startswith("grpc+tls://"))


def served(d):
    """The TLS location still answers and the daemon lives."""
    cl = tls_client(d)
    try:
        return len(list(cl.list_flights())) == 4 and pid_alive(d.lock_pid())
    finally:
        cl.close()


@pytest.fixture(scope="module")
def d():
    d = tls_flight_daemon(pins=2000)
    yield d
    finish(d)


def test_status_lists_the_tls_location(d):
    st = status(d)
    loc = tls_loc(d)
    assert loc.startswith("grpc+tls://127.0.0.1:") and int(loc.rsplit(":", 1)[1]) > 0
    assert st["flight"][0].startswith("grpc+unix://") and "flight_off" not in st
    assert loc in d.ok("daemon", "status").stdout.decode()


def test_list_flights_and_do_get_over_tls_equal_the_cli(d):
    cl = tls_client(d)
    infos = {tuple(i.descriptor.path): i for i in cl.list_flights()}
    assert set(infos) == {(b"pin_index",), (b"vfs_stats",), (b"metrics",), (b"backend_health",)}
    want = d.query_arrow("pin", "list")[0]
    got = cl.do_get(infos[(b"pin_index",)].endpoints[0].ticket).read_all()
    assert got.num_rows == 2000 and got.equals(want)
    q = fl.FlightDescriptor.for_command(
        b'{"table":"pin_index","columns":["cid","size_bytes"],"limit":7,"offset":3}')
    some = cl.do_get(cl.get_flight_info(q).endpoints[0].ticket).read_all()
    assert some.equals(want.select(["cid", "size_bytes"]).slice(3, 7))
    cl.close()


def test_do_put_over_tls_takes_the_write_token(d):
    cl = tls_client(d)
    t = pa.table({"cid": ["QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"], "name": ["tls"]})
    with pytest.raises(fl.FlightUnauthenticatedError, match="http.token"):
        w, r = cl.do_put(fl.FlightDescriptor.for_path("pin_index"), t.schema)
        w.write_table(t)
        w.done_writing()
        r.read()
        w.close()  # the status may come only here
    w, r = cl.do_put(fl.FlightDescriptor.for_path("pin_index"), t.schema,
                     options=bearer(d.token))
    w.write_table(t)
    w.done_writing()
    assert b'"imported":1' in r.read().to_pybytes()
    w.close()
    cl.close()


def test_a_client_that_does_not_trust_the_certificate_fails_clearly(d):
    cl = fl.FlightClient(tls_loc(d))  # the system's roots: our self-signed certificate is not
    with pytest.raises(fl.FlightUnavailableError, match="certificate verify failed|handshake"):
        list(cl.list_flights(options=fl.FlightCallOptions(timeout=20)))
    cl.close()
    assert served(d)


def test_a_plain_tcp_client_on_the_tls_port_fails_and_others_are_served(d):
    cl = fl.FlightClient(tls_loc(d).replace("grpc+tls://", "grpc+tcp://"))
    with pytest.raises(fl.FlightUnavailableError):
        list(cl.list_flights(options=fl.FlightCallOptions(timeout=20)))
    cl.close()
    assert served(d)


@pytest.mark.parametrize("data", [
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00",  # h2c
    b"\x16\x03\x01\xff\xff" + b"\x00" * 100,
    os.urandom(4096),
])
def test_hostile_bytes_on_the_tls_port_leave_the_daemon_serving(d, data):
    host, port = tls_loc(d)[len("grpc+tls://"):].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    try:
        s.sendall(data)
        assert served(d)  # served while this connection hangs or is being refused
        try:
            got = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            got = b""
        assert b"pin_index" not in got
    finally:
        s.close()
    assert served(d)


def test_a_stalled_handshake_is_cut_and_others_are_served(d):
    host, port = tls_loc(d)[len("grpc+tls://"):].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=60)
    t0 = time.monotonic()
    try:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # then silence
        assert served(d)
        try:
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
    finally:
        s.close()
    # closed by the server after its 10 s handshake deadline (gRPC's own would be 120 s)
    assert got == b"" and time.monotonic() - t0 < 40


def test_own_certificate_while_http_stays_plain_and_the_read_token_applies():
    tok = "t" * 24

    def own(d):
        os.rename(d.p("cert.pem"), d.p("flight-cert.pem"))
        os.rename(d.p("key.pem"), d.p("flight-key.pem"))
        os.symlink("flight-cert.pem", d.p("cert.pem"))  # for tls_client; not read by the daemon

    d = tls_flight_daemon(flight={"tls_cert": "flight-cert.pem", "tls_key": "flight-key.pem"},
                          http={"read_token": tok}, prepare=own, pins=10, asan=False)
    try:
        st = status(d)
        assert st["http_scheme"] == "http" and st["flight"][1].startswith("grpc+tls://")
        cl = tls_client(d)
        with pytest.raises(fl.FlightUnauthenticatedError, match="read_token"):
            list(cl.list_flights())
        info = cl.get_flight_info(fl.FlightDescriptor.for_path("pin_index"), options=bearer(tok))
        assert cl.do_get(info.endpoints[0].ticket, options=bearer(tok)).read_all().num_rows == 10
        cl.close()
    finally:
        finish(d)


def test_tls_without_a_certificate_is_refused_with_the_reason():
    d = flight_daemon(start=False, asan=False)
    try:
        d.write_config({"http": {"listen": "127.0.0.1:0"},
                        "flight": {"listen": [f"grpc+unix://{d.p('flight.sock')}",
                                              "grpc+tls://127.0.0.1:0"]}})
        d.start()
        refresh(d)
        assert d.flight == [f"grpc+unix://{d.p('flight.sock')}"]
        assert "grpc+tls://127.0.0.1:0" in d.flight_off and "flight.tls_cert" in d.flight_off
        assert "Flight partly off" in d.log()
    finally:
        finish(d)


def test_non_loopback_tls_needs_a_read_token():
    d = flight_daemon(flight={"listen": ["grpc+tls://0.0.0.0:0"]}, asan=False)
    try:
        assert d.flight == [] and "not a loopback address" in d.flight_off
    finally:
        finish(d)


# ---- refusals: the TLS location off with the reason, the others served ----------------------


@pytest.mark.parametrize("spoil,words", [
    (spoil_missing, ["flight.tls_cert", "cert.pem", "No such file"]),
    (spoil_link, ["flight.tls_key", "key.pem", "symbolic link"]),
    (spoil_key_mode, ["flight.tls_key", "key.pem", "chmod 600"]),
    (spoil_garbage_cert, ["flight.tls_cert", "cert.pem", "no PEM certificate"]),
    (spoil_garbage_inside, ["flight.tls_cert", "refused", "GnuTLS"]),
    (spoil_mismatch, ["flight.tls_key", "refused", "GnuTLS", "do not match"]),
])
def test_bad_certificate_or_key_leaves_tls_off_with_the_reason(spoil, words):
    # the daemon starts (exit 0, as with HTTPS's files), the reason is in status and the log
    d = tls_flight_daemon(flight={"tls_cert": "cert.pem", "tls_key": "key.pem"}, prepare=spoil,
                          pins=3, asan=False)
    try:
        assert d.flight == [f"grpc+unix://{d.p('flight.sock')}"]
        for w in words:
            assert w in d.flight_off, (w, d.flight_off)
        assert "Flight partly off" in d.log() and "flight.tls_" in d.log()
        assert "flight.tls_" in d.ok("daemon", "status").stdout.decode()
        cl = fl.FlightClient(d.flight[0])
        assert cl.do_get(cl.get_flight_info(fl.FlightDescriptor.for_path("pin_index"))
                         .endpoints[0].ticket).read_all().num_rows == 3
        cl.close()
    finally:
        finish(d)


# ---- peers over TLS (docs/distributed.md): peer_tls_ca names the certificates to trust --------

@pytest.fixture(scope="module")
def fleet():
    """Daemon "a" (20 pins) serving grpc+tls only beside its unix socket; daemon "b" (10 pins)
    whose peers list a's TLS location, with a's certificate copied in as b's peer_tls_ca."""
    a = tls_flight_daemon(pins=20, asan=False)
    b = None
    try:
        a.ok("daemon", "stop")
        conf = json_conf(a)
        conf["node_name"] = "a"
        a.write_config(conf)
        a.start()
        refresh(a)
        b = flight_daemon(asan=False, start=False)
        shutil.copy(a.p("cert.pem"), b.p("a-cert.pem"))
        b.write_config({"http": {"listen": "127.0.0.1:0"}, "node_name": "b",
                        "peer_timeout_ms": 20000, "peers": [tls_loc(a)],
                        "peer_tls_ca": "a-cert.pem",
                        "flight": {"listen": [f"grpc+unix://{b.p('flight.sock')}"]}})
        b.start()
        b.ok("pin", "import", b.sample(b.p("sample.jsonl"), 10, seed=9), timeout=120)
        refresh(b)
        yield a, b
    finally:
        if b:
            finish(b)
        finish(a)


def json_conf(d):
    with open(d.p("config.json")) as f:
        return json.load(f)


def test_get_flight_info_lists_the_tls_peer_and_its_endpoint_reads(fleet):
    a, b = fleet
    cl = fl.FlightClient(b.flight[0])
    info = cl.get_flight_info(fl.FlightDescriptor.for_command(
        json.dumps({"table": "pin_index", "node": True})))
    meta = json.loads(info.app_metadata)
    assert meta["unreachable"] == [] and meta["peers"][0]["status"] == "ok", meta
    assert len(info.endpoints) == 2 and info.total_records == 30
    ep = info.endpoints[1]
    assert [loc.uri.decode() for loc in ep.locations] == [tls_loc(a)]
    t = tls_client(a, ep.locations[0].uri.decode()).do_get(ep.ticket).read_all()
    assert t.num_rows == 20 and set(t.column("node").to_pylist()) == {"a"}
    cl.close()


def test_all_peers_and_peers_status_reach_the_tls_peer(fleet):
    a, b = fleet
    r = b.ik("pin", "list", "--all-peers", "--format", "arrow", timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    t = pa.ipc.open_stream(r.stdout).read_all()
    nodes = t.column("node").to_pylist()
    assert (nodes.count("a"), nodes.count("b")) == (20, 10)
    r = b.ik("peers", "status", "--format", "json", timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    p = json.loads(r.stdout)["peers"][0]
    assert p["location"] == tls_loc(a) and p["reachable"] is True and p["pins"] == 20


def test_a_tls_peer_whose_certificate_is_not_trusted_is_reported(fleet):
    a, b = fleet
    conf = json_conf(b)
    try:
        del conf["peer_tls_ca"]  # gRPC's default roots: a's self-signed certificate is not one
        b.write_config(conf)
        r = b.ik("pin", "list", "--all-peers", "--format", "arrow", timeout=60)
        assert r.returncode == 69, r.stderr.decode()
        err = r.stderr.decode()
        assert f"peer {tls_loc(a)} not answering" in err
        assert "certificate verify failed" in err or "andshake" in err, err
        r = b.ik("peers", "status", "--format", "json", timeout=60)
        assert json.loads(r.stdout)["peers"][0]["reachable"] is False
    finally:
        conf["peer_tls_ca"] = "a-cert.pem"
        b.write_config(conf)
