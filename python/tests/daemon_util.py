"""Shared helpers for the daemon end-to-end tests (test_daemon_*.py).

- `Daemon`: one data directory (a short path under /tmp: unix socket paths must stay under
  108 bytes) with the CLI run against it, `start`/`stop`, the daemon's PID, log and pin count.
  The `daemon` fixture of conftest.py stops every daemon it made (`daemon stop`, then kill -9
  by the PID in daemon.lock) and removes its directory.
- ctypes bindings of libipfskit.so's client API (include/ipfskit/client.h, query.h,
  store.h), mirrored field for field, with `Client.query` returning the result's metadata and
  a pyarrow RecordBatchReader imported from the result's ArrowArrayStream.
- `wait_for(cond, timeout)`: poll a condition with a deadline (never a bare sleep).
"""
import ctypes
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pyarrow as pa
import pyarrow.ipc as ipc

from conftest import ASAN_BIN, BIN, ROOT

LIB = os.environ.get("IPFS_KIT_LIB", os.path.join(ROOT, "build", "libipfskit.so"))


def raw_request(path, req, keep_open=False):
    """Sends one request (a dict) on a new raw connection to the daemon of data dir `path` and
    reads its reply header frame with the descriptors passed on it: (header dict, [fds]), and
    the open socket too when `keep_open`. Asserts that nothing follows the header."""
    import array
    import socket
    import struct
    body = json.dumps(req).encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(10)
        s.connect(os.path.join(path, "daemon.sock"))
        s.sendall(struct.pack("<I", len(body)) + body)
        data, fds = b"", []
        while len(data) < 4 or len(data) < 4 + struct.unpack("<I", data[:4])[0]:
            msg, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(4 * 132))
            assert msg, "connection closed before the reply header"
            data += msg
            for level, kind, raw in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    a = array.array("i")
                    a.frombytes(raw[: len(raw) - len(raw) % a.itemsize])
                    fds += list(a)
        n = struct.unpack("<I", data[:4])[0]
        assert len(data) == 4 + n, "nothing may follow the reply header"
    except BaseException:
        s.close()
        raise
    if keep_open:
        return json.loads(data[4:]), fds, s
    s.close()
    return json.loads(data[4:]), fds


def build_c_helper(name, out_dir):
    """Compiles python/tests/<name>.c (a load generator: hammer.c, soak.c) against
    build/libipfskit.so into out_dir; returns the binary's path."""
    out = os.path.join(str(out_dir), name)
    build = os.path.join(ROOT, "build")
    subprocess.run(["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-I", os.path.join(ROOT, "include"),
                    os.path.join(os.path.dirname(__file__), name + ".c"), "-o", out,
                    "-L", build, "-lipfskit", "-Wl,-rpath," + build, "-lpthread"],
                   check=True, capture_output=True)
    return out


def mappings(pattern):
    """(start, end) of every mapping of this process whose file name (" (deleted)" or not)
    matches the compiled regex `pattern` (re.search)."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and pattern.search(parts[5].rstrip("\n").removesuffix(" (deleted)")):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi))
    return out


def wait_for(cond, timeout=10.0, interval=0.005, what="condition"):
    """Polls `cond()` until it returns a truthy value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def pid_state(pid):
    """The process's state letter from /proc/PID/stat (R, S, T, Z, ...), or None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = pid_state(pid)  # a zombie still answers kill(0)
    return state is not None and state != "Z"


def pid_stopped(pid):
    """True when the process is stopped by a signal (state T): where an IPFS_KIT_STOP_AT stop
    point leaves it."""
    return pid_state(pid) == "T"


class Daemon:
    """A data directory and the daemon serving it."""

    def __init__(self, binary=BIN, path=None):
        self.path = path or tempfile.mkdtemp(prefix="ik", dir="/tmp")
        self.binary = binary  # the daemon's binary (the release or the ASan build)
        self.env = dict(os.environ, IPFS_KIT_PATH=self.path)
        self.known_pids = set()

    # ---- files ------------------------------------------------------------------------
    def p(self, *names):
        return os.path.join(self.path, *names)

    @property
    def sock(self):
        return self.p("daemon.sock")

    def lock_pid(self):
        try:
            with open(self.p("daemon.lock")) as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        word = text.split()[0] if text else ""  # "PID daemon" from a daemon, "PID" otherwise
        return int(word) if word.isdigit() else None

    def log(self):
        try:
            with open(self.p("daemon.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def assert_clean_log(self):
        log = self.log()
        for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert bad not in log, f"daemon log has {bad!r}:\n{log[-4000:]}"

    def snapshot_files(self):
        d = self.p("snapshots")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def write_config(self, obj):
        with open(self.p("config.json"), "w") as f:
            json.dump(obj, f)

    # ---- the CLI ----------------------------------------------------------------------
    def ik(self, *args, input=None, timeout=60, binary=None, env=None):
        return subprocess.run([binary or BIN, *map(str, args)], input=input,
                              capture_output=True, timeout=timeout,
                              env=dict(self.env, **env) if env else self.env)

    def ok(self, *args, **kw):
        r = self.ik(*args, **kw)
        assert r.returncode == 0, (args, r.returncode, r.stdout[-2000:], r.stderr.decode())
        return r

    def popen(self, *args):
        return subprocess.Popen([BIN, *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env)

    # ---- lifecycle --------------------------------------------------------------------
    def start(self, env=None):
        """Starts the daemon (env: variables added to its environment) and returns its PID."""
        r = self.ik("daemon", "start", "--timeout", "30", binary=self.binary, timeout=60,
                    env=env)
        assert r.returncode == 0, (r.stdout, r.stderr.decode(), self.log()[-3000:])
        pid = self.lock_pid()
        assert pid and pid_alive(pid), f"no live PID in daemon.lock: {pid}"
        self.known_pids.add(pid)
        self.pid = pid
        return pid

    def stop(self):
        r = self.ik("daemon", "stop", "--timeout", "30", timeout=60)
        return r

    def lock_held(self):
        """Whether some process holds daemon.lock, asked as the daemon's peers ask it
        (F_OFD_GETLK on a write lock of the whole file: it takes nothing)."""
        import fcntl
        import struct
        try:
            fd = os.open(self.p("daemon.lock"), os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            want = struct.pack("=hh4xqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
            got = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, want)
            return struct.unpack("=hh4xqqi4x", got)[0] != fcntl.F_UNLCK
        finally:
            os.close(fd)

    def kill9(self):
        pid = self.lock_pid()
        assert pid and pid_alive(pid)
        os.kill(pid, signal.SIGKILL)
        # the leader turns zombie before its other threads have closed the files: wait for
        # the lock itself to be let go
        wait_for(lambda: not pid_alive(pid) and not self.lock_held(), 10,
                 what=f"PID {pid} to die and release its lock")
        return pid

    def cleanup(self):
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - the kill below is the backstop
            pass
        pids = set(self.known_pids)
        pid = self.lock_pid()
        if pid:
            pids.add(pid)
        for pid in pids:
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.path, ignore_errors=True)

    # ---- queries ----------------------------------------------------------------------
    def query_arrow(self, *args):
        """Runs a query command with --format arrow: (pyarrow table, summary line)."""
        r = self.ok(*args, "--format", "arrow")
        table = ipc.open_stream(io.BytesIO(r.stdout)).read_all()
        return table, r.stderr.decode().strip().splitlines()[-1]

    def count(self, method=None):
        args = ["pin", "list", "--columns", "cid"]
        if method:
            args += ["--method", method]
        return self.query_arrow(*args)[0].num_rows

    def cids(self, method=None):
        args = ["pin", "list", "--columns", "cid"]
        if method:
            args += ["--method", method]
        return set(self.query_arrow(*args)[0].column("cid").to_pylist())

    def sample(self, dest, rows, fmt="jsonl", seed=1):
        self.ok("arrow", "sample-pins", dest, "--rows", rows, "--format", fmt, "--seed", seed,
                timeout=120)
        return dest


# ---- ctypes bindings -----------------------------------------------------------------------

class Err(ctypes.Structure):
    _fields_ = [("message", ctypes.c_char * 512)]


class Stream(ctypes.Structure):
    _fields_ = [("get_schema", ctypes.c_void_p), ("get_next", ctypes.c_void_p),
                ("get_last_error", ctypes.c_void_p), ("release", ctypes.c_void_p),
                ("private_data", ctypes.c_void_p)]


class ClientOptions(ctypes.Structure):  # struct ik_client_options
    _fields_ = [("path", ctypes.c_char_p), ("timeout_ms", ctypes.c_int),
                ("method", ctypes.c_int), ("compression", ctypes.c_int),
                ("direct_sqlite", ctypes.c_bool), ("validate", ctypes.c_bool),
                ("no_watch", ctypes.c_bool)]


class Timings(ctypes.Structure):  # struct ik_timings
    _fields_ = [("connect_ms", ctypes.c_double), ("request_ms", ctypes.c_double),
                ("decode_ms", ctypes.c_double), ("total_ms", ctypes.c_double)]


class Result(ctypes.Structure):  # struct ik_result
    _fields_ = [("stream", Stream), ("method", ctypes.c_int), ("method_name", ctypes.c_char_p),
                ("source", ctypes.c_char_p), ("detail", ctypes.c_char_p),
                ("version", ctypes.c_uint64), ("rows", ctypes.c_int64),
                ("matched", ctypes.c_int64), ("table_rows", ctypes.c_int64),
                ("timings", Timings), ("reason", ctypes.c_char * 256),
                ("copied_rows", ctypes.c_int64), ("copied_bytes", ctypes.c_int64)]


class Query(ctypes.Structure):  # struct ik_query
    _fields_ = [("table", ctypes.c_char * 64), ("columns", ctypes.POINTER(ctypes.c_char_p)),
                ("n_columns", ctypes.c_size_t), ("preds", ctypes.c_void_p),
                ("n_preds", ctypes.c_size_t), ("offset", ctypes.c_int64),
                ("limit", ctypes.c_int64)]


class Pin(ctypes.Structure):  # struct ik_pin
    _fields_ = [("cid", ctypes.c_char_p), ("name", ctypes.c_char_p),
                ("size_bytes", ctypes.c_int64), ("pin_type", ctypes.c_char_p),
                ("timestamp_us", ctypes.c_int64), ("metadata", ctypes.c_char_p),
                ("backend", ctypes.c_char_p), ("replication_factor", ctypes.c_int32),
                ("verified", ctypes.c_bool), ("last_access_us", ctypes.c_int64),
                ("vfs_path", ctypes.c_char_p), ("access_count", ctypes.c_int64)]


METHODS = {"auto": 0, "zero_copy": 1, "ipc_stream": 2, "direct": 3, "traditional": 4}
COMPRESSION = {"none": 0, "lz4": 1, "zstd": 2}
OPS = {"eq": 0, "ne": 1, "gt": 2, "gte": 3, "lt": 4, "lte": 5, "in": 6, "contains": 7,
       "prefix": 8, "path_prefix": 9, "is_null": 10, "not_null": 11}

_lib = None


def lib():
    global _lib
    if _lib is None:
        L = ctypes.CDLL(LIB)
        P = ctypes.POINTER
        L.ik_client_options_init.argtypes = [P(ClientOptions)]
        L.ik_client_open.argtypes = [P(ClientOptions), P(ctypes.c_void_p), P(Err)]
        L.ik_client_close.argtypes = [ctypes.c_void_p]
        L.ik_query_init.argtypes = [P(Query), ctypes.c_char_p]
        L.ik_query_reset.argtypes = [P(Query)]
        L.ik_query_add_column.argtypes = [P(Query), ctypes.c_char_p, P(Err)]
        L.ik_query_filter_str.argtypes = [P(Query), ctypes.c_char_p, ctypes.c_int,
                                          ctypes.c_char_p, P(Err)]
        L.ik_query_filter_int.argtypes = [P(Query), ctypes.c_char_p, ctypes.c_int,
                                          ctypes.c_int64, P(Err)]
        L.ik_client_query.argtypes = [ctypes.c_void_p, P(Query), P(Result), P(Err)]
        L.ik_result_init.argtypes = [P(Result)]
        L.ik_result_reset.argtypes = [P(Result)]
        L.ik_pin_init.argtypes = [P(Pin)]
        L.ik_client_pin_add.argtypes = [ctypes.c_void_p, P(Pin), P(ctypes.c_uint64), P(Err)]
        _lib = L
    return _lib


class QueryError(Exception):
    def __init__(self, rc, message):
        super().__init__(f"rc={rc}: {message}")
        self.rc = rc
        self.message = message


class Client:
    """An ik_client on a data directory (one per thread, or shared: the C client is
    thread-safe). ctypes releases the GIL during each C call."""

    def __init__(self, path, method="auto", compression="none", direct_sqlite=False,
                 timeout_ms=0, watch=True, validate=False):
        L = lib()
        self.L = L
        o = ClientOptions()
        L.ik_client_options_init(ctypes.byref(o))
        self._path = path.encode()
        o.path = self._path
        o.method = METHODS[method]
        o.compression = COMPRESSION[compression]
        o.direct_sqlite = direct_sqlite
        o.no_watch = not watch
        o.validate = validate
        o.timeout_ms = timeout_ms
        self.c = ctypes.c_void_p()
        err = Err()
        rc = L.ik_client_open(ctypes.byref(o), ctypes.byref(self.c), ctypes.byref(err))
        assert rc == 0, err.message.decode()

    def close(self):
        if self.c:
            self.L.ik_client_close(self.c)
            self.c = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _query(self, table, limit, offset, columns, filters):
        q = Query()
        err = Err()
        self.L.ik_query_init(ctypes.byref(q), table.encode())
        q.limit = limit
        q.offset = offset
        for c in columns or ():
            assert self.L.ik_query_add_column(ctypes.byref(q), c.encode(), ctypes.byref(err)) == 0
        for col, op, v in filters or ():
            if isinstance(v, int):
                rc = self.L.ik_query_filter_int(ctypes.byref(q), col.encode(), OPS[op], v,
                                                ctypes.byref(err))
            else:
                rc = self.L.ik_query_filter_str(ctypes.byref(q), col.encode(), OPS[op],
                                                v.encode(), ctypes.byref(err))
            assert rc == 0, err.message.decode()
        return q

    def query_raw(self, table="pin_index", limit=-1, offset=0, columns=None, filters=None):
        """Runs one query; returns the ik_result (stream still owned by it: the caller
        imports it or calls reset). Raises QueryError."""
        q = self._query(table, limit, offset, columns, filters)
        res, err = Result(), Err()
        try:
            rc = self.L.ik_client_query(self.c, ctypes.byref(q), ctypes.byref(res),
                                        ctypes.byref(err))
        finally:
            self.L.ik_query_reset(ctypes.byref(q))
        if rc != 0:
            raise QueryError(rc, err.message.decode())
        return res

    @staticmethod
    def meta(res):
        return {"method": res.method_name.decode(), "source": res.source.decode(),
                "detail": res.detail.decode(), "version": res.version, "rows": res.rows,
                "matched": res.matched, "table_rows": res.table_rows,
                "reason": res.reason.decode()}

    def query(self, **kw):
        """Runs one query: (metadata dict, pyarrow RecordBatchReader owning the stream)."""
        res = self.query_raw(**kw)
        meta = self.meta(res)
        reader = pa.RecordBatchReader._import_from_c(ctypes.addressof(res.stream))
        assert res.stream.release is None  # moved into pyarrow
        return meta, reader

    def reset(self, res):
        self.L.ik_result_reset(ctypes.byref(res))

    def pin_add(self, cid, name=None):
        p = Pin()
        self.L.ik_pin_init(ctypes.byref(p))
        p.cid = cid.encode()
        if name:
            p.name = name.encode()
        gen, err = ctypes.c_uint64(), Err()
        rc = self.L.ik_client_pin_add(self.c, ctypes.byref(p), ctypes.byref(gen),
                                      ctypes.byref(err))
        if rc != 0:
            raise QueryError(rc, err.message.decode())
        return gen.value


# ---- CIDs ----------------------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def cid_v0(n):
    """A valid CIDv0 (base58btc of 0x12 0x20 + a 32-byte digest derived from n)."""
    import hashlib
    raw = b"\x12\x20" + hashlib.sha256(b"ik-e2e-%d" % n).digest()
    num = int.from_bytes(raw, "big")
    out = ""
    while num:
        num, r = divmod(num, 58)
        out = _B58[r] + out
    return out  # raw starts with 0x12, so there are no leading-zero '1's
