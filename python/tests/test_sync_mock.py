"""`ipfs-kit sync` against mock servers on 127.0.0.1 that answer in the exact shapes of IPFS
Cluster's REST API (ipfs-cluster v1.1.6: api/types.go Pin and GlobalPinInfo, api/rest
/allocations and /pins, NDJSON streamed chunked with an X-Stream-Error trailer, 204 when
empty, {"code","message"} errors) and of kubo's RPC errors (HTTP 500 {"Message","Code","Type"}),
plus hostile peers: silent, endless lines, garbage."""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from daemon_util import Daemon

CID_A = "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"
CID_B = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
CID_C = "QmP6BgKVaWLEBgvX51RYzSRZ9FnjZBhfuwCvzDMvz8ymBf"
PEER1 = "12D3KooWArSKMUUeLk3z2m5LKyb9wGyFL1BtWCT7Gq7Apoo77PUR"
PEER2 = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"


def cluster_pin(cid, name, rmin, rmax, allocs, meta=None, mode="recursive"):
    # api.Pin as cluster v1.1.6 marshals it (PinOptions embedded)
    return {"replication_factor_min": rmin, "replication_factor_max": rmax, "name": name,
            "mode": mode, "shard_size": 0, "user_allocations": None, "expire_at": None,
            "metadata": meta, "pin_update": None, "origins": [], "cid": cid, "type": "pin",
            "allocations": allocs, "max_depth": -1, "reference": None,
            "timestamp": "2026-12-01T10:00:00Z"}


def cluster_status(cid, name, statuses):
    # api.GlobalPinInfo: peer_map of api.PinInfoShort
    return {"cid": cid, "name": name, "allocations": list(statuses), "origins": [],
            "created": "2026-12-01T10:00:00Z", "metadata": None,
            "peer_map": {p: {"peername": p[-6:], "ipfs_peer_id": p, "ipfs_peer_addresses": [],
                             "status": s, "timestamp": "2026-12-01T10:00:01Z", "error": "",
                             "attempt_count": 0, "priority_pin": False}
                         for p, s in statuses.items()}}


class Mock:
    """A threaded HTTP/1.1 server on a free loopback port; `routes[path]` is a function of the
    handler returning nothing (it writes the response itself)."""

    def __init__(self, routes):
        mock = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self):
                path = self.path.split("?")[0]
                mock.seen.append((self.command, self.path))
                fn = mock.routes.get(path)
                if fn is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    fn(self)

            do_GET = do_POST = handle_one

        self.routes = routes
        self.seen = []
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def ndjson(objs, trailer_error=""):
    def send(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Trailer", "X-Stream-Error")
        h.end_headers()
        for o in objs:
            b = (json.dumps(o) + "\n").encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
        h.wfile.write(b"0\r\nX-Stream-Error: %s\r\n\r\n" % trailer_error.encode())
    return send


def status(code, body):
    def send(h):
        b = json.dumps(body).encode() if body is not None else b""
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(b)))
        h.end_headers()
        h.wfile.write(b)
    return send


@pytest.fixture
def store():
    d = Daemon()
    yield d
    d.cleanup()


def rows(store, backend):
    r = store.ik("pin", "list", "--method", "direct", "--source", "sqlite", "--backend",
                 backend, "--format", "jsonl")
    assert r.returncode == 0, r.stderr.decode()
    return {o["cid"]: o for o in map(json.loads, r.stdout.decode().splitlines())}


def configure(store, url, kind="ipfs_cluster", name="cluster", timeout_ms=2000, stall_ms=2000):
    store.write_config({"sources": [{"name": name, "kind": kind, "api": url,
                                     "timeout_ms": timeout_ms, "stall_ms": stall_ms}]})


def test_cluster_pinset_and_status_map_to_rows(store):
    m = Mock({
        "/allocations": ndjson([
            cluster_pin(CID_A, "a.txt", 2, 3, [PEER1, PEER2], {"origin": "upload"}),
            cluster_pin(CID_B, "", -1, -1, [], None, mode="direct"),
            cluster_pin(CID_C, "c", 1, 1, [PEER1]),
        ]),
        "/pins": ndjson([
            cluster_status(CID_A, "a.txt", {PEER1: "pinned", PEER2: "pinned"}),
            cluster_status(CID_B, "", {PEER1: "pinned", PEER2: "pinning"}),
            cluster_status(CID_C, "c", {PEER1: "pinned", PEER2: "remote"}),
        ]),
    })
    try:
        configure(store, m.url)
        r = store.ik("sync")
        assert r.returncode == 0, r.stderr.decode()
        assert "3 listed, 3 added" in r.stdout.decode()
        got = rows(store, "cluster")
        assert set(got) == {CID_A, CID_B, CID_C}
        a, b, c = got[CID_A], got[CID_B], got[CID_C]
        assert (a["name"], a["pin_type"], a["replication_factor"], a["verified"]) == \
            ("a.txt", "recursive", 2, True)
        assert json.loads(a["metadata"]) == {"origin": "upload"}
        assert (b["name"], b["pin_type"], b["verified"]) == (None, "direct", False)
        assert b["replication_factor"] == 1  # everywhere (-1): the factor is not a count
        assert (c["verified"], c["replication_factor"]) == (True, 1)  # remote peers don't count
        assert ("GET", "/allocations?filter=pin") in m.seen
    finally:
        m.close()


def test_cluster_empty_pinset_204_removes_the_sources_rows(store):
    pins = {"/allocations": ndjson([cluster_pin(CID_A, "a", 1, 1, [PEER1])]),
            "/pins": ndjson([cluster_status(CID_A, "a", {PEER1: "pinned"})])}
    m = Mock(pins)
    try:
        configure(store, m.url)
        assert store.ik("sync").returncode == 0
        assert set(rows(store, "cluster")) == {CID_A}
        m.routes["/allocations"] = status(204, None)
        m.routes["/pins"] = status(204, None)
        r = store.ik("sync")
        assert r.returncode == 0, r.stderr.decode()
        assert "0 listed, 0 added, 1 removed" in r.stdout.decode()
        assert rows(store, "cluster") == {}
    finally:
        m.close()


def test_error_replies_show_the_sources_message_and_change_nothing(store):
    m = Mock({"/allocations": ndjson([cluster_pin(CID_A, "a", 1, 1, [PEER1])]),
              "/pins": ndjson([])})
    try:
        configure(store, m.url)
        assert store.ik("sync").returncode == 0
        m.routes["/allocations"] = status(500, {"code": 500, "message": "consensus not ready"})
        r = store.ik("sync")
        assert r.returncode == 69
        assert "HTTP 500: consensus not ready" in r.stderr.decode()
        assert set(rows(store, "cluster")) == {CID_A}
        # kubo's error shape
        m.routes["/api/v0/pin/ls"] = status(500, {"Message": "no such repo", "Code": 0,
                                                  "Type": "error"})
        configure(store, m.url, kind="kubo", name="cluster")
        r = store.ik("sync")
        assert r.returncode == 69 and "HTTP 500: no such repo" in r.stderr.decode()
        assert set(rows(store, "cluster")) == {CID_A}
    finally:
        m.close()


def test_an_error_after_the_listing_started_applies_nothing(store):
    m = Mock({"/api/v0/pin/ls": ndjson([{"Cid": CID_A, "Type": "recursive"}])})
    try:
        configure(store, m.url, kind="kubo", name="kubo")
        assert store.ik("sync").returncode == 0
        assert set(rows(store, "kubo")) == {CID_A}
        # the stream is cut by an error: the one pin listed is not the pinset
        m.routes["/api/v0/pin/ls"] = ndjson([{"Cid": CID_B, "Type": "recursive"}],
                                           trailer_error="context canceled")
        r = store.ik("sync")
        assert r.returncode == 69 and "context canceled" in r.stderr.decode()
        assert set(rows(store, "kubo")) == {CID_A}
    finally:
        m.close()


def test_garbage_and_invalid_cids_from_a_source(store):
    m = Mock({"/api/v0/pin/ls": ndjson([{"Cid": CID_A, "Type": "recursive"}, [1, 2]])})
    try:
        configure(store, m.url, kind="kubo", name="kubo")
        r = store.ik("sync")
        assert r.returncode == 65 and "line 2 is not a pin object" in r.stderr.decode()
        assert rows(store, "kubo") == {}
        m.routes["/api/v0/pin/ls"] = ndjson([{"Cid": CID_A, "Type": "recursive"},
                                             {"Cid": "Qmnotacid", "Type": "recursive"}])
        r = store.ik("sync")
        assert r.returncode == 0, r.stderr.decode()
        assert "1 listed pins refused" in r.stderr.decode()
        assert set(rows(store, "kubo")) == {CID_A}
    finally:
        m.close()


def test_a_silent_peer_times_out(store):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)  # accepts (the kernel does) and never answers
    try:
        configure(store, f"http://127.0.0.1:{srv.getsockname()[1]}", kind="kubo", name="kubo",
                  timeout_ms=500, stall_ms=500)
        r = store.ik("sync", timeout=30)
        assert r.returncode == 69
        assert "no answer within 500 ms" in r.stderr.decode()
    finally:
        srv.close()


def test_an_endless_line_is_refused(store):
    def endless(h):
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(64):  # 4 MiB without a newline, then stop
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
    m = Mock({"/api/v0/pin/ls": endless})
    try:
        configure(store, m.url, kind="kubo", name="kubo")
        r = store.ik("sync")
        assert r.returncode == 65 and "longer than 1048576 bytes" in r.stderr.decode()
    finally:
        m.close()


def test_sync_writes_are_in_the_change_feed_with_canonical_cids(store):
    upper_v1 = CID_B.upper()  # base32 upper case: the same CID, stored as its lower-case form
    m = Mock({"/api/v0/pin/ls": ndjson([{"Cid": CID_A, "Type": "recursive", "Name": "a"},
                                        {"Cid": upper_v1, "Type": "direct"}])})
    try:
        configure(store, m.url, kind="kubo", name="kubo")
        assert store.ik("sync").returncode == 0
        assert set(rows(store, "kubo")) == {CID_A, CID_B}

        def changes(since):
            r = store.ik("pin", "changes", "--since", since, "--format", "jsonl")
            assert r.returncode == 0, r.stderr.decode()
            return {(o["op"], o["cid"]) for o in map(json.loads, r.stdout.decode().splitlines())}
        assert changes(0) == {("upsert", CID_A), ("upsert", CID_B)}
        import sqlite3
        db = sqlite3.connect(f"file:{store.p('pins.db')}?mode=ro", uri=True)
        v1 = db.execute("select value from meta where key='generation'").fetchone()[0]
        db.close()
        # renamed, and one gone: an upsert and a delete
        m.routes["/api/v0/pin/ls"] = ndjson([{"Cid": CID_A, "Type": "recursive", "Name": "b"}])
        r = store.ik("sync")
        assert "0 added, 1 removed, 1 changed" in r.stdout.decode(), r.stdout.decode()
        assert changes(v1) == {("upsert", CID_A), ("delete", CID_B)}
        # the same listing again: no change, so nothing in the feed after it
        r = store.ik("sync")
        assert "nothing to write" in r.stdout.decode()
    finally:
        m.close()
