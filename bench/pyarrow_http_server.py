#!/usr/bin/env python3
"""The comparison server of bench/bench_http.py: a pyarrow-based HTTP server in the shape of
Arrow's Arrow-over-HTTP examples (apache/arrow-experiments, http/get_simple/python): Python's
http.server, HTTP/1.1, the table held in memory as record batches, each GET answered with an
IPC stream written batch by batch with pyarrow and sent as one HTTP chunk per batch.

Usage: pyarrow_http_server.py TABLE.arrows PORTFILE — reads the IPC stream file, listens on
127.0.0.1 on a free port, writes the port to PORTFILE, serves until killed."""
import http.server
import io
import sys

import pyarrow as pa


def main():
    with pa.memory_map(sys.argv[1]) as src:
        table = pa.ipc.open_stream(src).read_all()
    # copied into memory (the mapping closes): the server serves from memory, as the examples do
    batches = [pa.RecordBatch.from_arrays([pa.concat_arrays([c]) for c in b.columns],
                                          schema=b.schema) for b in table.to_batches()]
    schema = table.schema

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.apache.arrow.stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for view in stream_buffers():
                self.wfile.write(b"%X\r\n" % view.nbytes)
                self.wfile.write(view)
                self.wfile.write(b"\r\n")
                view.release()
            self.wfile.write(b"0\r\n\r\n")

    def stream_buffers():
        """The IPC stream, one buffer per batch (the schema and dictionaries go with the first),
        written by pyarrow into a BytesIO that is emptied after each."""
        with io.BytesIO() as sink, pa.ipc.new_stream(sink, schema) as writer:
            for batch in batches:
                sink.seek(0)
                sink.truncate(0)
                writer.write_batch(batch)
                yield sink.getbuffer()
            sink.seek(0)
            sink.truncate(0)
            writer.close()
            yield sink.getbuffer()

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[2], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
