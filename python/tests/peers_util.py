"""Helpers for the Flight fan-out tests (test_peers_*.py, test_distributed.py;
docs/distributed.md): free loopback ports, and `StandIn`, a pyarrow.flight server that speaks
the fan-out's side of the protocol (a command's "node" adds the node column, "peers": false is
accepted, health as an action) for a table held in memory, so our Flight client is checked
against a Flight implementation other than our own."""
import json
import socket
import threading

import pyarrow as pa
import pyarrow.flight as flight


def free_port():
    """A TCP port on 127.0.0.1 that nobody listened on a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_node(table, node):
    """`table` with the node column appended as our daemon sends it:
    dictionary<int8, utf8> not null, one dictionary value."""
    col = pa.DictionaryArray.from_arrays(pa.array([0] * table.num_rows, pa.int8()),
                                         pa.array([node]))
    return table.append_column(pa.field("node", col.type, nullable=False), col)


class StandIn(flight.FlightServerBase):
    """A Flight server for one node's table. `stall` (a threading.Event) makes every call wait
    until it is set: a node that accepts connections but does not answer."""

    def __init__(self, node, table):
        super().__init__("grpc+tcp://127.0.0.1:0")
        self.node, self.table = node, table
        self.location = f"grpc+tcp://127.0.0.1:{self.port}"
        self.stall = threading.Event()
        self.stall.set()
        self.stall_waiters = 0  # calls waiting on `stall`
        self.commands = []
        self._thread = threading.Thread(target=self.serve, daemon=True)
        self._thread.start()

    def _wait(self):
        self.stall_waiters += 1
        try:
            assert self.stall.wait(60), "a stalled stand-in was never released"
        finally:
            self.stall_waiters -= 1

    def _rows(self, query):
        t = self.table
        if query.get("columns"):
            t = t.select(query["columns"])
        if query.get("limit") is not None:
            t = t.slice(query.get("offset", 0), query["limit"])
        return with_node(t, self.node) if query.get("node") else t

    def get_flight_info(self, context, descriptor):
        self._wait()
        query = json.loads(descriptor.command)
        self.commands.append(query)
        t = self._rows(query)
        ep = flight.FlightEndpoint(json.dumps(query).encode(), [])
        return flight.FlightInfo(t.schema, descriptor, [ep], t.num_rows, -1)

    def do_get(self, context, ticket):
        self._wait()
        return flight.RecordBatchStream(self._rows(json.loads(ticket.ticket)))

    def do_action(self, context, action):
        self._wait()
        if action.type != "health":
            raise flight.FlightServerError(f"unknown action {action.type}")
        body = {"status": "ok", "node": self.node, "pins": self.table.num_rows,
                "snapshot_version": 7, "version": "stand-in"}
        yield flight.Result(json.dumps(body).encode())

    def stop(self):
        self.stall.set()
        self.shutdown()
        self._thread.join(30)
