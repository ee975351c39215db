"""The Flight server under load: 64 DoGets of the whole table at once all complete with the
daemon's RSS bounded (bodies are slices of the mapping, not copies), a slow reader and a client
that vanishes mid-stream hold only their own calls, and the calls they held are let go."""
import os
import signal
import subprocess
import threading
import time

import pyarrow.flight as fl
import pytest

from daemon_util import wait_for
from flight_util import client, finish, flight_daemon, metric, raw_bin  # noqa: F401 - fixture
from test_daemon_soak import rss_kib

PINS = 50000


@pytest.fixture(scope="module")
def d():
    # the release build: RSS is what is measured (ASan's shadow memory would swamp it)
    d = flight_daemon(pins=PINS, asan=False, flight={"batch_rows": 8192})
    yield d
    finish(d)


def whole_ticket(cl):
    return cl.get_flight_info(fl.FlightDescriptor.for_path("pin_index")).endpoints[0].ticket


def test_64_concurrent_whole_table_reads_complete_with_rss_bounded(d):
    cl = client(d.flight[1])
    ticket = whole_ticket(cl)
    table_bytes = cl.do_get(ticket).read_all().nbytes
    base = rss_kib(d.pid)
    peak = [base]
    rows, errors = [], []
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(d.pid))
            time.sleep(0.01)

    def reader():
        try:
            c = client(d.flight[1])
            n = 0
            for chunk in c.do_get(ticket, options=fl.FlightCallOptions(timeout=120)):
                n += chunk.data.num_rows
            rows.append(n)
            c.close()
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    s = threading.Thread(target=sample)
    s.start()
    ts = [threading.Thread(target=reader) for _ in range(64)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(180)
    done.set()
    s.join()
    assert not errors, errors[:3]
    assert rows == [PINS] * 64
    grown = (peak[0] - base) * 1024
    # 64 copies of the table would be 64 x table_bytes; gRPC's per-stream buffers are what grows
    assert grown < 8 * table_bytes, (grown, table_bytes)
    wait_for(lambda: metric(d, "flight_calls_open") == 0, 10, what="calls to end")


def test_a_slow_reader_does_not_stall_other_calls(d, raw_bin):
    target = "unix:" + d.flight[0][len("grpc+unix://"):]
    tfile = os.path.join(d.path, "ticket.bin")
    cl = client(d.flight[0])
    t = whole_ticket(cl).ticket
    with open(tfile, "wb") as f:
        f.write(b"\x0a" + bytes([len(t)]) + t if len(t) < 128 else b"")
    slow = subprocess.Popen([raw_bin, target, "/arrow.flight.protocol.FlightService/DoGet",
                             "-s", "30000", tfile], stdout=subprocess.PIPE)
    try:
        wait_for(lambda: metric(d, "flight_calls_open") >= 1, 10, what="the slow call")
        for _ in range(5):
            t0 = time.monotonic()
            info = cl.get_flight_info(fl.FlightDescriptor.for_command(
                '{"table":"pin_index","limit":100}'))
            assert cl.do_get(info.endpoints[0].ticket).read_all().num_rows == 100
            assert time.monotonic() - t0 < 5
        assert slow.poll() is None  # still holding its call
    finally:
        slow.kill()
        slow.wait()
    wait_for(lambda: metric(d, "flight_calls_open") == 0, 15, what="the slow call to end")


def test_a_vanishing_client_lets_its_call_go(d, raw_bin):
    target = "unix:" + d.flight[0][len("grpc+unix://"):]
    tfile = os.path.join(d.path, "ticket2.bin")
    t = whole_ticket(client(d.flight[0])).ticket
    with open(tfile, "wb") as f:
        f.write(b"\x0a" + bytes([len(t)]) + t)
    # one cancels after the first message, one is killed while reading
    r = subprocess.run([raw_bin, target, "/arrow.flight.protocol.FlightService/DoGet", "-k", "1",
                        tfile], capture_output=True, timeout=60)
    assert b'"status": 1' in r.stdout  # CANCELLED
    p = subprocess.Popen([raw_bin, target, "/arrow.flight.protocol.FlightService/DoGet",
                          "-s", "30000", tfile], stdout=subprocess.PIPE)
    wait_for(lambda: metric(d, "flight_calls_open") >= 1, 10, what="the call")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    wait_for(lambda: metric(d, "flight_calls_open") == 0, 15, what="the dead client's call")
    assert len(list(client(d.flight[0]).list_flights())) == 4
