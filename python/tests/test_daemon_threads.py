"""The daemon's threads are named and take the nice values docs/architecture.md ("Threads")
gives them: the write path (loop, writer, builder) 5 below the daemon's own nice when the kernel
allows it, the compactor at the daemon's own, the settler and the checkpoint thread 10 above, the vfs_stats
rebuilder 19; `daemon status` and the start message say whether the write path's raise applied,
and without CAP_SYS_NICE the daemon runs as before, the write path at its own nice."""
import json
import os
import shutil
import subprocess

import pytest


def threads(pid):
    """{name: [nice, ...]} of the process's threads, read from /proc/<pid>/task/*/stat."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        nice = int(fields[16])  # field 19 of stat(5); fields here start at field 3
        out.setdefault("<main>" if tid == str(pid) else name, []).append(nice)
    return out


def status(d):
    return json.loads(d.ok("daemon", "status", "--format", "json").stdout)


def clamp(n):
    return max(-20, min(19, n))


def check_roles(d, pid, can_raise):
    t = threads(pid)
    for name in ("ik-writer", "ik-builder", "ik-compact", "ik-settle", "ik-checkpoint", "ik-vfs",
                 "ik-reply", "ik-spare"):
        assert name in t, (name, sorted(t))
    base = t["ik-reply"][0]  # the reply workers keep the daemon's own nice
    assert set(t["ik-reply"]) == {base} and t["ik-spare"] == [base]
    write = clamp(base - 5) if can_raise else base
    assert t["ik-writer"] == [write] and t["ik-builder"] == [write] and t["<main>"] == [write]
    assert t["ik-compact"] == [base]
    assert t["ik-settle"] == [clamp(base + 10)] and t["ik-checkpoint"] == [clamp(base + 10)]
    assert t["ik-vfs"] == [19]
    st = status(d)
    assert st["write_path_nice"] == write
    assert st["write_path_raised"] is (write < base)
    return base, write


def test_threads_are_named_and_prioritised(daemons):
    d = daemons()
    can_raise = os.geteuid() == 0  # CAP_SYS_NICE; other users: the fallback below
    base, write = check_roles(d, d.pid, can_raise)
    assert f"write path at nice {write}" in d.log()
    # writes go through the writer and the builder as before
    d.ok("pin", "add", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")
    assert d.ok("pin", "list", "--format", "jsonl").stdout.count(b"\n") == 1


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_without_cap_sys_nice_the_write_path_keeps_the_daemons_nice(daemons):
    d = daemons(start=False)
    # the CLI starts the daemon; both without CAP_SYS_NICE (and RLIMIT_NICE 0)
    r = subprocess.run(["setpriv", "--inh-caps=-sys_nice", "--ambient-caps=-sys_nice",
                        "--bounding-set=-sys_nice", "prlimit", "--nice=0", d.binary, "daemon",
                        "start", "--timeout", "30"], env=d.env, capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr.decode(), d.log()[-3000:])
    pid = d.lock_pid()
    d.known_pids.add(pid)
    base, write = check_roles(d, pid, can_raise=False)
    assert write == base
    assert "(not raised: needs CAP_SYS_NICE)" in d.log()
