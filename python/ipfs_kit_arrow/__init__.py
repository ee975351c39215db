"""ipfs_kit_arrow: IPFS pin metadata from the ipfs-kit daemon as zero-copy Apache Arrow.

    import ipfs_kit_arrow as ika
    with ika.connect() as c:                      # $IPFS_KIT_PATH or ~/.ipfs_kit
        r = c.pins(limit=100, filters={"backend": "s3", "size_bytes": {"gt": 1000}})
        pa.table(r); pl.DataFrame(r); duckdb.sql("select * from r")   # no copy
        r.method, r.source, r.version, r.timings

The Client is the C library (libipfskit) compiled into the _ipfs_kit_arrow extension; a Result
implements the Arrow PyCapsule interface (__arrow_c_stream__, __arrow_c_schema__). This module
adds what is easier in Python: the *_async forms, import_pins from a path or a list of dicts,
and (compat.py) the names of IPFS-Kit's arrow_ipc_daemon_interface and vfs_manager.
"""
import asyncio
import json
import os
import time
from typing import Any, Iterator, Mapping, Sequence, Union

from . import _ipfs_kit_arrow as _ext
from ._ipfs_kit_arrow import (ChangesGone, DaemonNotRunning, Error, FormatError, InvalidQuery,
                              LockedError, NotFound, ProtocolError, RemoteError, RequestTimeout,
                              Result, methods)

__all__ = [
    "connect", "Client", "Result", "Error", "DaemonNotRunning", "InvalidQuery", "LockedError",
    "ChangesGone",
    "ProtocolError", "RemoteError", "RequestTimeout", "NotFound", "FormatError", "methods",
    "get_global_arrow_ipc_interface", "get_global_vfs_manager", "get_pin_index_zero_copy",
    "get_pin_index_zero_copy_sync", "get_metrics_zero_copy", "get_metrics_zero_copy_sync",
]

__version__ = "0.1.0"


_Filters = Mapping[str, Any]
_Columns = Union[Sequence[str], str, None]


def _rows_to_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    """A list of pin dicts as a pyarrow Table (metadata dicts become JSON text; columns that
    are None in every row are left out, so their type need not be guessed)."""
    import pyarrow as pa
    if not rows:
        raise InvalidQuery("import_pins: the list has no rows")
    fixed = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TypeError(f"import_pins: row {i} is a {type(row).__name__}, not a dict")
        if isinstance(row.get("metadata"), (dict, list)):
            row = dict(row, metadata=json.dumps(row["metadata"]))
        fixed.append(row)
    names = list(dict.fromkeys(k for row in fixed for k in row))  # every row's keys, in order
    try:
        table = pa.table({k: [row.get(k) for row in fixed] for k in names})
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise InvalidQuery(f"import_pins: the rows do not form a table: {e}") from None
    keep = [i for i, f in enumerate(table.schema) if not pa.types.is_null(f.type)]
    return table.select(keep)


class Client(_ext.Client):
    """Client(path=None, method=None, timeout=None, watch=True): the ipfs-kit daemon on the data
    directory path ($IPFS_KIT_PATH, else ~/.ipfs_kit), falling back to reading its snapshot or
    SQLite store directly when no daemon runs. See connect()."""

    __slots__ = ()

    def __init__(self, path: Union[str, "os.PathLike[str]", None] = None,
                 method: Union[str, None] = None, timeout: Union[float, None] = None,
                 watch: bool = True) -> None:
        super().__init__(path, method, timeout, watch)

    def import_pins(self, data: Any, skip_invalid: bool = False,
                    default_backend: Union[str, None] = None) -> dict[str, Any]:
        """Imports pins in one transaction, through the daemon when it runs (else straight into
        the store), from: a path (JSON lines, kubo JSON, CSV or Arrow, as `ipfs-kit pin
        import`), anything with __arrow_c_stream__ (a pyarrow Table or RecordBatchReader, a
        polars DataFrame, a Result), or a list of dicts. Columns must be pin_index's.
        Returns {'imported', 'skipped', 'generation', 'first_skip'}."""
        if isinstance(data, (str, bytes, os.PathLike)):
            return self._import_file(os.fsdecode(data), bool(skip_invalid), default_backend)
        if isinstance(data, (list, tuple)):
            data = _rows_to_table(data)
        elif not hasattr(data, "__arrow_c_stream__"):
            raise TypeError(
                "import_pins takes a path, a list of dicts, or an object with "
                "__arrow_c_stream__ (a pyarrow Table or RecordBatchReader, a polars DataFrame, "
                f"...), not {type(data).__name__}")
        return super().import_pins(data, skip_invalid=skip_invalid,
                                   default_backend=default_backend)

    # The blocking calls release the GIL, so a worker thread runs them without holding up the
    # event loop.
    async def pins_async(self, limit: Union[int, None] = None, offset: int = 0,
                         filters: Union[_Filters, None] = None, columns: _Columns = None,
                         method: Union[str, None] = None) -> Result:
        """pins(...) without blocking the event loop (runs in a worker thread)."""
        return await asyncio.to_thread(self.pins, limit, offset, filters, columns, method)

    async def metrics_async(self, limit: Union[int, None] = None, offset: int = 0,
                            filters: Union[_Filters, None] = None, columns: _Columns = None,
                            method: Union[str, None] = None) -> Result:
        """metrics(...) without blocking the event loop."""
        return await asyncio.to_thread(self.metrics, limit, offset, filters, columns, method)

    async def vfs_stats_async(self, limit: Union[int, None] = None, offset: int = 0,
                              filters: Union[_Filters, None] = None, columns: _Columns = None,
                              method: Union[str, None] = None) -> Result:
        """vfs_stats(...) without blocking the event loop."""
        return await asyncio.to_thread(self.vfs_stats, limit, offset, filters, columns, method)

    async def backend_health_async(self, limit: Union[int, None] = None, offset: int = 0,
                                   filters: Union[_Filters, None] = None, columns: _Columns = None,
                                   method: Union[str, None] = None) -> Result:
        """backend_health(...) without blocking the event loop."""
        return await asyncio.to_thread(self.backend_health, limit, offset, filters, columns,
                                       method)

    async def import_pins_async(self, data: Any, skip_invalid: bool = False,
                                default_backend: Union[str, None] = None) -> dict[str, Any]:
        """import_pins(...) without blocking the event loop."""
        return await asyncio.to_thread(self.import_pins, data, skip_invalid, default_backend)

    async def status_async(self) -> dict[str, Any]:
        """status() without blocking the event loop."""
        return await asyncio.to_thread(self.status)


    def follow_changes(self, since: int, timeout: Union[float, None] = None,
                       table: str = "pin_index") -> Iterator[Result]:
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

def connect(path: Union[str, "os.PathLike[str]", None] = None, method: Union[str, None] = None,
            timeout: Union[float, None] = None, watch: bool = True) -> Client:
    """A Client on the data directory `path` (default $IPFS_KIT_PATH, else ~/.ipfs_kit).

    `method` forces one path for every query ("zero_copy", "ipc_stream", "direct",
    "traditional"); the default takes the best that works and each Result says which.
    `timeout` is per request, in seconds (default: config.json arrow_ipc.timeout, 30 s).
    `watch=False` asks the daemon on every query; by default a repeated query is answered
    from the snapshot the client holds while the daemon's version page says it is current
    (Result.detail "page")."""
    return Client(path, method, timeout, watch)


from .compat import (get_global_arrow_ipc_interface, get_global_vfs_manager,  # noqa: E402
                     get_metrics_zero_copy, get_metrics_zero_copy_sync, get_pin_index_zero_copy,
                     get_pin_index_zero_copy_sync)
