"""ipfs_kit_arrow: IPFS pin metadata from the ipfs-kit daemon as zero-copy Apache Arrow.

    import ipfs_kit_arrow as ika
    with ika.connect() as c:                      # $IPFS_KIT_PATH or ~/.ipfs_kit
        r = c.pins(limit=100, filters={"backend": "s3", "size_bytes": {"gt": 1000}})
        pa.table(r); pl.DataFrame(r); duckdb.sql("select * from r")   # no copy
        r.method, r.source, r.version, r.timings

The Client is the C library (libipfskit) compiled into the _ipfs_kit_arrow extension; a Result
implements the Arrow PyCapsule interface (__arrow_c_stream__, __arrow_c_schema__). The
IPFS-Kit compatibility functions at the bottom return the dicts IPFS-Kit's
arrow_ipc_daemon_interface returned, with a pyarrow Table inside.
"""
import asyncio
import threading
import time

from ._ipfs_kit_arrow import Client as _Client
from ._ipfs_kit_arrow import (ChangesGone, DaemonNotRunning, Error, FormatError, InvalidQuery,
                              LockedError, NotFound, ProtocolError, RemoteError, RequestTimeout,
                              Result, methods)

__all__ = [
    "connect", "Client", "Result", "Error", "DaemonNotRunning", "InvalidQuery", "LockedError",
    "ChangesGone",
    "ProtocolError", "RemoteError", "RequestTimeout", "NotFound", "FormatError", "methods",
    "get_global_arrow_ipc_interface", "get_pin_index_zero_copy", "get_pin_index_zero_copy_sync",
    "get_metrics_zero_copy", "get_metrics_zero_copy_sync",
]

__version__ = "0.1.0"


class Client(_Client):
    __doc__ = _Client.__doc__

    def follow_changes(self, since, timeout=None, table="pin_index"):
        """Yields a Result for each new set of changes after version `since`: first what
        changed since then (when anything did), then the changes of every newer version as it
        is committed. Blocks in between (no polling). Ends when no new version arrives within
        `timeout` seconds (None: never). Each Result's version is where the next one starts;
        a `since` the log no longer reaches raises ChangesGone."""
        r = self.changes(since, table)
        while True:
            if r.rows:
                yield r
            since = r.version
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = 1.0 if deadline is None else max(0.0, deadline - time.monotonic())
                v = self.wait_version(since, min(left, 1.0))
                if v is not None:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    return
            r = self.changes(since, table)


def connect(path=None, method=None, timeout=None, watch=True):
    """A Client on the data directory `path` (default $IPFS_KIT_PATH, else ~/.ipfs_kit).

    `method` forces one path for every query ("zero_copy", "ipc_stream", "direct",
    "traditional"); the default takes the best that works and each Result says which.
    `timeout` is per request, in seconds (default: config.json arrow_ipc.timeout, 30 s).
    `watch=False` asks the daemon on every query; by default a repeated query is answered
    from the snapshot the client holds while the daemon's version page says it is current
    (Result.detail "page")."""
    return Client(path, method, timeout, watch)


# ---- IPFS-Kit compatibility ---------------------------------------------------------------

_global_lock = threading.Lock()
_global_client = None


def get_global_arrow_ipc_interface():
    """The process-wide shared Client (created on first use; recreated if it was closed)."""
    global _global_client
    with _global_lock:
        if _global_client is None or _global_client.closed:
            _global_client = connect()
        return _global_client


def _reply(key, fetch):
    try:
        r = fetch(get_global_arrow_ipc_interface())
        return {"success": True, key: r.to_pyarrow(), "method": r.method, "source": r.source,
                "timestamp": time.time()}
    except Exception as e:  # IPFS-Kit's contract: failures come back as a dict
        return {"success": False, "error": str(e)}


def get_pin_index_zero_copy_sync(limit=None, filters=None):
    """{'success': True, 'pins': pyarrow.Table, 'method', 'source', 'timestamp'}, or
    {'success': False, 'error': message}. Safe from any thread."""
    return _reply("pins", lambda c: c.pins(limit=limit, filters=filters))


def get_metrics_zero_copy_sync(metric_types=None):
    """{'success': True, 'metrics': pyarrow.Table, ...}; metric_types selects rows by
    metric_type (e.g. ['counter', 'gauge'])."""
    filters = {"metric_type": {"in": list(metric_types)}} if metric_types else None
    return _reply("metrics", lambda c: c.metrics(filters=filters))


async def get_pin_index_zero_copy(limit=None, filters=None):
    """The coroutine form of get_pin_index_zero_copy_sync (runs in a worker thread)."""
    return await asyncio.to_thread(get_pin_index_zero_copy_sync, limit, filters)


async def get_metrics_zero_copy(metric_types=None):
    """The coroutine form of get_metrics_zero_copy_sync (runs in a worker thread)."""
    return await asyncio.to_thread(get_metrics_zero_copy_sync, metric_types)
