"""Hostile input to the Flight server, sent with a raw gRPC client (flight_raw.c): garbage
protobuf to every method, FlightData with broken protobuf or broken flatbuffers in DoPut,
messages over flight.max_message_bytes, unknown methods. Each gets a status code with a
message naming what was wrong; the daemon (ASan+UBSan) keeps serving and its log stays clean."""
import json
import os
import random
import subprocess

import pyarrow as pa
import pytest

from daemon_util import cid_v0
from flight_util import client, finish, flight_daemon, raw_bin  # noqa: F401 - fixture

SVC = "/arrow.flight.protocol.FlightService/"
OK, INVALID, NOT_FOUND, EXHAUSTED, UNIMPLEMENTED, UNAUTHENTICATED = 0, 3, 5, 8, 12, 16


@pytest.fixture(scope="module")
def d():
    d = flight_daemon(flight={"max_message_bytes": 1 << 20}, pins=200)
    yield d
    finish(d)


def target(d):
    return "unix:" + d.flight[0][len("grpc+unix://"):]


def call(raw_bin, d, method, *messages, headers=(), tmp=None, extra=()):
    files = []
    for i, m in enumerate(messages):
        p = os.path.join(d.path, f"msg{i}.bin")
        with open(p, "wb") as f:
            f.write(m)
        files.append(p)
    args = [raw_bin, target(d), SVC + method]
    for h in headers:
        args += ["-H", h]
    args += list(extra)
    r = subprocess.run(args + files, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def alive(d):
    assert len(list(client(d.flight[0]).list_flights())) == 4


# ---- protobuf by hand --------------------------------------------------------------------------

def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def flight_data(header, body=b"", descriptor=None):
    out = field(1, descriptor) if descriptor is not None else b""
    return out + field(2, header) + (field(1000, body) if body else b"")


def ipc_messages(table):
    """The (header flatbuffer, body) of each IPC message of `table`'s stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    buf = sink.getvalue().to_pybytes()
    out, at = [], 0
    while at < len(buf):
        assert buf[at:at + 4] == b"\xff\xff\xff\xff"
        n = int.from_bytes(buf[at + 4:at + 8], "little")
        if n == 0:
            break
        msg = pa.ipc.read_message(pa.py_buffer(buf[at:]))
        body = msg.body.to_pybytes() if msg.body is not None else b""
        out.append((buf[at + 8:at + 8 + n], body))
        at += 8 + n + len(body)
    return out


def token_header(d):
    return [f"authorization=Bearer {d.token}"]


# ---- tests --------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GetFlightInfo", "GetSchema", "DoGet", "DoAction",
                                    "Handshake"])
def test_garbage_protobuf_is_invalid_argument(raw_bin, d, method):
    rng = random.Random(method)
    for i in range(8):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        r = call(raw_bin, d, method, junk)
        # bytes that happen to parse as the message are a valid (if odd) request
        assert r["status"] in (OK, INVALID, NOT_FOUND, UNAUTHENTICATED), r
        if r["status"] == INVALID:
            assert r["details"], r
    alive(d)


def test_a_truncated_message_names_the_type(raw_bin, d):
    r = call(raw_bin, d, "GetFlightInfo", b"\x1a\x50\x01")
    assert r["status"] == INVALID and "FlightDescriptor" in r["details"]
    r = call(raw_bin, d, "DoGet", b"\x0a\x90\x01abc")
    assert r["status"] == INVALID and "Ticket" in r["details"]


def test_unknown_method_and_do_exchange_are_unimplemented(raw_bin, d):
    assert call(raw_bin, d, "Nope", b"")["status"] == UNIMPLEMENTED
    assert call(raw_bin, d, "DoExchange", b"")["status"] == UNIMPLEMENTED
    r = subprocess.run([raw_bin, target(d), "/other.Service/Call"], capture_output=True,
                       timeout=60)
    assert json.loads(r.stdout)["status"] == UNIMPLEMENTED


def test_a_message_over_the_limit_is_resource_exhausted(raw_bin, d):
    big = field(2, b"x" * (2 << 20))  # FlightDescriptor.cmd of 2 MiB; the limit is 1 MiB
    r = call(raw_bin, d, "GetFlightInfo", big)
    assert r["status"] == EXHAUSTED, r
    alive(d)


def test_do_put_garbage_protobuf(raw_bin, d):
    n0 = d.count()
    r = call(raw_bin, d, "DoPut", b"\x12\xff\xff\x01", headers=token_header(d))
    assert r["status"] == INVALID and "FlightData" in r["details"], r
    r = call(raw_bin, d, "DoPut", b"\x10\x01", headers=token_header(d))
    assert r["status"] == INVALID and "wire type" in r["details"], r
    assert d.count() == n0
    alive(d)


def test_do_put_broken_flatbuffers_commit_nothing(raw_bin, d):
    n0 = d.count()
    t = pa.table({"cid": [cid_v0(i) for i in range(900100, 900110)]})
    (schema_h, _), (batch_h, batch_b) = ipc_messages(t)
    cases = [
        [flight_data(b"\x00" * 16)],                              # no Message table
        [flight_data(schema_h[:len(schema_h) // 2])],            # a cut schema
        [flight_data(schema_h), flight_data(batch_h, batch_b[:8])],  # body shorter than said
        [flight_data(schema_h), flight_data(bytes(b ^ 0x5A for b in batch_h), batch_b)],
    ]
    for msgs in cases:
        r = call(raw_bin, d, "DoPut", *msgs, headers=token_header(d))
        assert r["status"] == INVALID, r
        assert r["details"], r
    assert d.count() == n0
    alive(d)


def test_do_put_by_hand_with_a_good_stream_works(raw_bin, d):
    n0 = d.count()
    t = pa.table({"cid": [cid_v0(i) for i in range(900200, 900205)]})
    msgs = [flight_data(h, b) for h, b in ipc_messages(t)]
    r = call(raw_bin, d, "DoPut", *msgs, headers=token_header(d))
    assert r["status"] == OK and r["messages"] == 1, r
    assert d.count() == n0 + 5


def test_do_put_without_data_is_invalid(raw_bin, d):
    r = call(raw_bin, d, "DoPut", headers=token_header(d))
    assert r["status"] == INVALID and "no Arrow data" in r["details"], r


def test_wrong_bearer_is_unauthenticated(raw_bin, d):
    r = call(raw_bin, d, "DoPut", b"", headers=["authorization=Bearer nope"])
    assert r["status"] == UNAUTHENTICATED
    r = call(raw_bin, d, "Handshake", headers=["authorization=Basic !!!notbase64"])
    assert r["status"] == UNAUTHENTICATED
    r = call(raw_bin, d, "Handshake", field(2, b"wrong-token"))
    assert r["status"] == UNAUTHENTICATED
    r = call(raw_bin, d, "Handshake", field(2, d.token.encode()))
    assert r["status"] == OK and r["messages"] == 1
