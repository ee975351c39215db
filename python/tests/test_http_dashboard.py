"""The dashboard (GET /, docs/http.md "Dashboard") in a real browser: Debian's chromium, headless,
driven through the DevTools protocol over its WebSocket (the `websockets` client). Checks
through the DOM that the pin counts of a known store render, that the live changes panel is
fed by the WebSocket change feed (a pin added after the page loaded shows up, and the counts
follow), and keeps a screenshot under build/test-artifacts/. Every wait has a deadline."""
import asyncio
import base64
import collections
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websockets

from conftest import ROOT
from daemon_util import cid_v0
from http_util import finish, http_daemon
from ws_util import ik_async, run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
ARTIFACTS = os.path.join(ROOT, "build", "test-artifacts")


class Browser:
    """A headless Chromium with a fresh profile; its DevTools port read from the
    DevToolsActivePort file it writes (port 0: it picks a free one)."""

    def __init__(self, url):
        self.profile = tempfile.mkdtemp(prefix="ik-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-dev-shm-usage", "--window-size=1200,1400", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 60
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            assert self.proc.poll() is None, self.proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "chromium wrote no DevToolsActivePort in 60 s"
            time.sleep(0.05)
        self.port = int(open(port_file).read().split()[0])

    def page_ws(self, url_prefix, timeout=30):
        """The DevTools WebSocket URL of the page whose URL starts with url_prefix."""
        deadline = time.monotonic() + timeout
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list",
                                        timeout=5) as r:
                for t in json.load(r):
                    if t.get("type") == "page" and t.get("url", "").startswith(url_prefix):
                        return t["webSocketDebuggerUrl"]
            assert time.monotonic() < deadline, "no page target for the dashboard"
            time.sleep(0.05)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    """One page's DevTools session: Runtime.evaluate and Page.captureScreenshot."""

    def __init__(self, ws):
        self.ws, self.next_id = ws, 0

    async def call(self, method, timeout=20, **params):
        self.next_id += 1
        my = self.next_id
        await self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if msg.get("id") == my:
                assert "error" not in msg, msg
                return msg["result"]

    async def eval(self, expr):
        r = await self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        assert "exceptionDetails" not in r, r
        return r["result"].get("value")

    async def wait(self, expr, what, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            value = await self.eval(expr)
            if value:
                return value
            assert time.monotonic() < deadline, f"the page never showed {what}"
            await asyncio.sleep(0.05)


COUNTS = """JSON.stringify(Object.fromEntries([...document.querySelectorAll('#by_type tr.count')]
    .map(tr => [tr.dataset.key, Number(tr.cells[1].textContent)])))"""


def test_dashboard_renders_counts_and_shows_a_live_pin_in_chromium():
    d = http_daemon(pins=300)
    browser = None
    try:
        known = d.query_arrow("pin", "list")[0].column("pin_type").to_pylist()
        want = dict(collections.Counter(str(t) for t in known))
        url = f"http://{d.http}/"
        browser = Browser(url)
        cid = cid_v0(4242)

        async def go():
            async with websockets.connect(browser.page_ws(url), max_size=None) as ws:
                page = Page(ws)
                counts = json.loads(await page.wait(
                    f"(() => {{ const c = {COUNTS}; return c === '{{}}' ? null : c; }})()",
                    "the pin counts"))
                pins = await page.eval("document.getElementById('pins').textContent")
                await page.wait("document.getElementById('live').textContent === 'live'",
                                "the change feed connected")
                p = await ik_async(d, "pin", "add", cid, "--name", "added-after-load")
                assert await asyncio.wait_for(p.wait(), 30) == 0
                row = await page.wait(
                    f"(() => {{ const r = document.querySelector('#changes tr.change'); "
                    f"return r && r.dataset.cid === '{cid}' ? "
                    f"[...r.cells].map(c => c.textContent) : null; }})()",
                    "the pin added after load in the changes panel")
                after = await page.wait(
                    "(() => { const n = document.getElementById('pins').textContent; "
                    "return n === '301' ? n : null; })()", "the counts updated by the change")
                shot = await page.call("Page.captureScreenshot", format="png")
                return counts, pins, row, after, base64.b64decode(shot["data"])
        counts, pins, row, after, png = run(go(), timeout=120)
        assert counts == want and pins == "300"
        assert row[1:4] == ["upsert", cid, "added-after-load"] and row[4] == "recursive"
        assert after == "301"
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, "dashboard.png")
        with open(path, "wb") as f:
            f.write(png)
        assert png.startswith(b"\x89PNG") and os.path.getsize(path) > 1000
        finish(d)
    finally:
        if browser:
            browser.close()
        d.cleanup()
