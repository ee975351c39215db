"""A real kubo node for the sync tests: the binary from scripts/kubo (built once from kubo's Go
module and cached outside the clone), a repo in a temp dir (`ipfs init --profile=test`), the
API and gateway on free loopback ports, `ipfs daemon --offline`. Never skips: a missing Go or
module fails the test with scripts/kubo's message."""
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request

from conftest import ROOT
from daemon_util import wait_for

_BIN = None


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def kubo_bin():
    global _BIN
    if _BIN is None:
        r = subprocess.run([os.path.join(ROOT, "scripts", "kubo")], capture_output=True,
                           timeout=3600)
        assert r.returncode == 0, "kubo is needed for the sync tests: " + r.stderr.decode()
        _BIN = r.stdout.decode().strip()
    return _BIN


class Kubo:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ikkubo", dir="/tmp")
        self.repo = os.path.join(self.dir, "repo")
        self.env = dict(os.environ, IPFS_PATH=self.repo)
        self.proc = None
        self.ipfs("init", "--profile=test", "-e")
        # a fixed free port, so a restarted node answers where the index's source points
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ipfs("config", "Addresses.API", f"/ip4/127.0.0.1/tcp/{self.port}")
        self.ipfs("config", "Addresses.Gateway", "/ip4/127.0.0.1/tcp/0")
        self.ipfs("config", "--json", "Addresses.Swarm", "[]")

    def ipfs(self, *args, input=None, timeout=120):
        r = subprocess.run([kubo_bin(), *args], env=self.env, capture_output=True, input=input,
                           timeout=timeout)
        assert r.returncode == 0, (args, r.stderr.decode())
        return r.stdout.decode()

    def start(self):
        api = os.path.join(self.repo, "api")
        log = open(os.path.join(self.dir, "daemon.log"), "wb")
        self.proc = subprocess.Popen([kubo_bin(), "daemon", "--offline"], env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(lambda: os.path.exists(api) or self.proc.poll() is not None, timeout=60,
                 what="kubo's api file")
        assert self.proc.poll() is None, open(os.path.join(self.dir, "daemon.log")).read()
        wait_for(self.answers, timeout=60, what="kubo's API answering")
        return self

    def answers(self):
        try:
            urllib.request.urlopen(urllib.request.Request(self.url + "/api/v0/id",
                                                          method="POST"), timeout=2).read()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.proc = None

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=30)
            self.proc = None

    def add(self, data, name=None):
        """Adds bytes (a file) and returns its CID, pinned recursively (with a name if given)."""
        path = os.path.join(self.dir, "f")
        with open(path, "wb") as f:
            f.write(data)
        cid = self.ipfs("add", "-q", path).strip()
        if name is not None:
            self.ipfs("pin", "add", "--name", name, cid)
        return cid

    def add_dir(self, files):
        """Adds a directory of {relative path: bytes}; returns the root CID (its blocks become
        indirect pins)."""
        root = tempfile.mkdtemp(dir=self.dir)
        for rel, data in files.items():
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        return self.ipfs("add", "-qr", root).split()[-1]

    def pins(self):
        """kubo's own listing: {cid: (type, name or None)}."""
        out = {}
        for line in self.ipfs("pin", "ls", "--stream", "--names", "--enc=json").splitlines():
            o = json.loads(line)
            t = o["Type"]
            out[o["Cid"]] = ("indirect" if t.startswith("indirect") else t, o.get("Name") or None)
        return out

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
