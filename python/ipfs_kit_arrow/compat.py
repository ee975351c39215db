"""IPFS-Kit's names for code written against ipfs_kit_py's arrow_ipc_daemon_interface and
vfs_manager (also importable as ipfs_kit_arrow.arrow_ipc_daemon_interface and
ipfs_kit_arrow.vfs_manager, so that changing the package name in the import is the whole port).

- get_global_arrow_ipc_interface(path=None, timeout=None): an ArrowIPCDaemonInterface — a
  Client with IPFS-Kit's async get_pin_index_arrow / get_metrics_arrow / get_vfs_stats_arrow /
  get_backend_health_arrow (pyarrow Tables, None on failure) and table_to_dict /
  table_to_pandas / filter_arrow_table.
- get_global_vfs_manager(path=None, timeout=None): get_pin_index_zero_copy(_sync) and
  get_metrics_zero_copy(_sync), returning IPFS-Kit's dicts: success, pins (or metrics) as a
  list of dicts (as_arrow=True: a pyarrow Table), method ('zero_copy', or 'traditional' when
  the daemon is down or hung and the store was read directly), source, timestamp.

One shared client per data directory (and timeout): $IPFS_KIT_PATH is read on every call, so
changing it switches directories. A daemon that does not answer within the timeout is left
for the store itself (method 'traditional', with a 'warning').
"""
import asyncio
import logging
import os
import threading
import time
from typing import Any, Optional

from . import Client, RequestTimeout

log = logging.getLogger("ipfs_kit_arrow")

_lock = threading.Lock()
_interfaces: "dict[tuple[str, Optional[float]], ArrowIPCDaemonInterface]" = {}
_managers: "dict[tuple[str, Optional[float]], VFSManager]" = {}


def _data_dir(path):
    if path is None:
        path = os.environ.get("IPFS_KIT_PATH") or os.path.join(os.path.expanduser("~"),
                                                               ".ipfs_kit")
    return os.path.abspath(os.fspath(path))


def _method(r):
    # IPFS-Kit named every non-Arrow-daemon path "traditional"
    return "traditional" if r.method in ("direct", "traditional") else r.method


def _jsonable(table):
    """table.to_pylist() with points in time as float seconds since the epoch (IPFS-Kit's
    unit), so that json.dumps of the reply works."""
    import pyarrow as pa
    import pyarrow.compute as pc
    cols = []
    for f, col in zip(table.schema, table.columns):
        if pa.types.is_timestamp(f.type):
            us = pc.cast(col, pa.timestamp("us", f.type.tz)).cast(pa.int64())
            col = pc.divide(us.cast(pa.float64()), 1e6)
        cols.append(col)
    return pa.table(cols, names=table.column_names).to_pylist()


class ArrowIPCDaemonInterface(Client):
    """IPFS-Kit's ArrowIPCDaemonInterface on a Client: every Client method works too.
    ArrowIPCDaemonInterface(path=None, timeout=None); IPFS-Kit's daemon_url (an HTTP address
    its daemon client used) is accepted and not needed."""

    __slots__ = ()

    def __init__(self, path=None, timeout=None, *, daemon_url=None, method=None, watch=True):
        if isinstance(path, str) and "://" in path:  # IPFS-Kit's positional daemon_url
            path = None
        super().__init__(path, method, timeout, watch)

    def _query(self, fn, **kw):
        """Runs one query; a daemon that does not answer in time is left for the snapshot or
        store itself (pins and vfs_stats). Returns (Result, warning or None)."""
        try:
            r = fn(**kw)
            # the client itself answers from the store when the daemon does not in time, and
            # says why in reason (C library, ik_result.reason)
            if r.method == "direct" and r.reason:
                return r, f"the daemon did not answer in time ({r.reason}); read the store directly"
            return r, None
        except RequestTimeout as e:
            if fn.__name__ not in ("pins", "vfs_stats"):
                raise
            r = fn(method="direct", **kw)
            return r, f"the daemon did not answer in time ({e}); read the store directly"

    def _table(self, fn, **kw):
        try:
            return self._query(fn, **kw)[0].to_pyarrow()
        except Exception as e:  # IPFS-Kit's contract: None, and the reason in the log
            log.error("%s failed: %s", fn.__name__, e)
            return None

    async def get_pin_index_arrow(self, limit=None, filters=None):
        """The pin index as a pyarrow Table (None on failure)."""
        return await asyncio.to_thread(self._table, self.pins, limit=limit, filters=filters)

    async def get_metrics_arrow(self, metric_types=None):
        """The daemon's metrics as a pyarrow Table, rows of the given metric_types only."""
        filters = {"metric_type": list(metric_types)} if metric_types else None
        return await asyncio.to_thread(self._table, self.metrics, filters=filters)

    async def get_vfs_stats_arrow(self, paths=None):
        """Per-directory statistics as a pyarrow Table, of the given paths only."""
        filters = {"path": list(paths)} if paths else None
        return await asyncio.to_thread(self._table, self.vfs_stats, filters=filters)

    async def get_backend_health_arrow(self, backend_names=None):
        """Backend health as a pyarrow Table, of the given backends only."""
        filters = {"backend_name": list(backend_names)} if backend_names else None
        return await asyncio.to_thread(self._table, self.backend_health, filters=filters)

    @staticmethod
    def table_to_dict(table):
        """table.to_pylist() ([] for None)."""
        return [] if table is None else table.to_pylist()

    @staticmethod
    def table_to_pandas(table):
        """table.to_pandas() (None for None)."""
        return None if table is None else table.to_pandas()

    @staticmethod
    def filter_arrow_table(table, filters):
        """Filters a pyarrow Table in memory: {'col': value} or {'col': {'gt'|'lt'|'gte'|'lte'|
        'eq'|'ne'|'in': v}}, ANDed; columns the table lacks are skipped, as IPFS-Kit did."""
        import pyarrow as pa
        import pyarrow.compute as pc
        ops = {"gt": pc.greater, "lt": pc.less, "gte": pc.greater_equal,
               "lte": pc.less_equal, "eq": pc.equal, "ne": pc.not_equal}
        mask = None
        for col, spec in (filters or {}).items():
            if table is None or col not in table.column_names:
                continue
            for op, v in (spec.items() if isinstance(spec, dict) else [("eq", spec)]):
                if op == "in":
                    m = pc.is_in(table[col], value_set=pa.array(v))
                elif op in ops:
                    m = ops[op](table[col], v)
                else:
                    raise ValueError(f"filter on '{col}': unknown op '{op}'")
                mask = m if mask is None else pc.and_(mask, m)
        return table if mask is None else table.filter(mask)


class VFSManager:
    """IPFS-Kit's VFSManager, its zero-copy part: dicts with success, pins / metrics, method,
    source, timestamp (and warning after a fallback), or success False and error."""

    def __init__(self, path=None, timeout=None):
        self.path = path
        self.timeout = timeout

    def _interface(self):
        return get_global_arrow_ipc_interface(self.path, self.timeout)

    def _reply(self, key, run, as_arrow):
        try:
            r, warning = run(self._interface())
            table = r.to_pyarrow()
            d = {"success": True, key: table if as_arrow else _jsonable(table),
                 "source": r.source, "method": _method(r), "timestamp": time.time()}
            if warning:
                d["warning"] = warning
            return d
        except Exception as e:  # IPFS-Kit's contract: failures come back as a dict
            return {"success": False, "error": str(e)}

    def get_pin_index_zero_copy_sync(self, limit=None, filters=None, *, as_arrow=False):
        """{'success': True, 'pins': [dict, ...] (as_arrow: a pyarrow Table), 'method',
        'source', 'timestamp'} or {'success': False, 'error'}. Safe from any thread."""
        return self._reply("pins", lambda i: i._query(i.pins, limit=limit, filters=filters),
                           as_arrow)

    def get_metrics_zero_copy_sync(self, metric_types=None, *, as_arrow=False):
        """{'success': True, 'metrics': [dict, ...], ...}; metric_types selects rows by
        metric_type (e.g. ['counter', 'gauge'])."""
        filters = {"metric_type": list(metric_types)} if metric_types else None
        return self._reply("metrics", lambda i: i._query(i.metrics, filters=filters), as_arrow)

    async def get_pin_index_zero_copy(self, limit=None, filters=None, *, as_arrow=False):
        """The coroutine form (runs in a worker thread: the event loop is not held up)."""
        return await asyncio.to_thread(lambda: self.get_pin_index_zero_copy_sync(
            limit, filters, as_arrow=as_arrow))

    async def get_metrics_zero_copy(self, metric_types=None, *, as_arrow=False):
        """The coroutine form of get_metrics_zero_copy_sync."""
        return await asyncio.to_thread(lambda: self.get_metrics_zero_copy_sync(
            metric_types, as_arrow=as_arrow))


def get_global_arrow_ipc_interface(path=None, timeout=None):
    """The shared ArrowIPCDaemonInterface (a Client) of the data directory `path` (default
    $IPFS_KIT_PATH, read on every call, else ~/.ipfs_kit); a closed one is replaced."""
    key = (_data_dir(path), timeout)
    with _lock:
        c = _interfaces.get(key)
        if c is None or c.closed:
            c = _interfaces[key] = ArrowIPCDaemonInterface(key[0], timeout)
        return c


def get_global_vfs_manager(path=None, timeout=None):
    """The shared VFSManager of the data directory `path` (default $IPFS_KIT_PATH, else
    ~/.ipfs_kit)."""
    key = (_data_dir(path), timeout)
    with _lock:
        m = _managers.get(key)
        if m is None:
            m = _managers[key] = VFSManager(key[0], timeout)
        return m


def get_pin_index_zero_copy_sync(limit=None, filters=None, *, as_arrow=False, timeout=None,
                                 path=None):
    """The global VFS manager's get_pin_index_zero_copy_sync: a dict with success, pins (a
    list of dicts; as_arrow=True: a pyarrow Table), method, source, timestamp."""
    return get_global_vfs_manager(path, timeout).get_pin_index_zero_copy_sync(
        limit, filters, as_arrow=as_arrow)


def get_metrics_zero_copy_sync(metric_types=None, *, as_arrow=False, timeout=None, path=None):
    """The global VFS manager's get_metrics_zero_copy_sync (key 'metrics')."""
    return get_global_vfs_manager(path, timeout).get_metrics_zero_copy_sync(
        metric_types, as_arrow=as_arrow)


async def get_pin_index_zero_copy(limit=None, filters=None, *, as_arrow=False, timeout=None,
                                  path=None):
    """The coroutine form of get_pin_index_zero_copy_sync (runs in a worker thread)."""
    return await get_global_vfs_manager(path, timeout).get_pin_index_zero_copy(
        limit, filters, as_arrow=as_arrow)


async def get_metrics_zero_copy(metric_types=None, *, as_arrow=False, timeout=None, path=None):
    """The coroutine form of get_metrics_zero_copy_sync (runs in a worker thread)."""
    return await get_global_vfs_manager(path, timeout).get_metrics_zero_copy(
        metric_types, as_arrow=as_arrow)


def _close_all():
    """Closes every shared client (tests; a later call opens new ones)."""
    with _lock:
        for c in _interfaces.values():
            c.close()
        _interfaces.clear()
        _managers.clear()
