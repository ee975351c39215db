"""Writes over HTTP (docs/http.md "Writes"): POST /v1/pins imports a body in any `pin import`
format as one transaction, DELETE /v1/pins/{cid} removes a pin; both need the write token, and
a following read sees the write (the reply waits for the snapshot, as on the socket)."""
import io
import json

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from daemon_util import wait_for
from http_util import finish, get, healthy, http_daemon


@pytest.fixture(scope="module")
def d():
    d = http_daemon({"max_body_bytes": 200000})
    try:
        d.token = open(d.p("http.token")).read().strip()
        d.sample(d.p("s.jsonl"), 300)
        d.sample(d.p("s.arrow"), 300, fmt="arrow", seed=2)
        rows = [json.loads(line) for line in open(d.sample(d.p("c.jsonl"), 50, seed=3))]
        with open(d.p("s.csv"), "w") as f:
            f.write("cid,name,pin_type\n")
            f.writelines(f"{r['cid']},{r['name']},{r['pin_type']}\n" for r in rows)
    except BaseException:
        d.cleanup()
        raise
    yield d
    finish(d)


def post(d, body, ctype="application/x-ndjson", token=None):
    headers = {"Content-Type": ctype, "Authorization": "Bearer " + (token or d.token)}
    code, _, out = get(d, "/v1/pins", headers, "POST", body)
    return code, json.loads(out)


def pins(d):
    return ipc.open_stream(io.BytesIO(get(d, "/pin-index-arrow?columns=cid")[2])).read_all()


def test_post_json_lines_then_read_them(d):
    lines = open(d.p("s.jsonl"), "rb").read().splitlines()
    before = pins(d).num_rows
    code, r = post(d, b"\n".join(lines[:10]) + b"\n")
    assert code == 200 and r["imported"] == 10 and r["skipped"] == 0
    after = pins(d)  # no wait: the reply came once the snapshot was published
    assert after.num_rows == before + 10
    assert json.loads(lines[3])["cid"] in after.column("cid").to_pylist()
    assert r["snapshot_version"] == int(get(d, "/pin-index-arrow?limit=0")[1]["ETag"].strip('"'))


def test_post_arrow_and_csv_bodies(d):
    before = pins(d).num_rows
    code, r = post(d, open(d.p("s.arrow"), "rb").read(), "application/vnd.apache.arrow.stream")
    assert code == 200 and r["imported"] == 300
    code, r = post(d, open(d.p("s.csv"), "rb").read(), "text/csv")
    assert code == 200 and r["imported"] == 50
    assert pins(d).num_rows == before + 350
    assert d.count() == before + 350  # the CLI agrees


def test_a_bad_row_rejects_the_whole_body(d):
    lines = open(d.p("s.jsonl"), "rb").read().splitlines()[100:110]
    bad = json.loads(lines[4])
    bad["cid"] = "Qmnotacid"
    lines[4] = json.dumps(bad).encode()
    before = pins(d).num_rows
    code, r = post(d, b"\n".join(lines))
    assert code == 400 and r["error"]["code"] == "bad_body"
    assert "line 5" in r["error"]["message"] and "Qmnotacid" in r["error"]["message"]
    assert pins(d).num_rows == before  # all or nothing


@pytest.mark.parametrize("body", [b"", b"not json at all\n", b"\x00\x01\x02"])
def test_bad_bodies_are_400(d, body):
    code, r = post(d, body, "application/octet-stream")
    assert code == 400 and r["error"]["message"]
    assert healthy(d)


def test_a_body_over_the_limit_is_413_and_nothing_is_written(d):
    before = pins(d).num_rows
    big = open(d.p("s.jsonl"), "rb").read() * 3  # > max_body_bytes (200000)
    code, r = post(d, big)
    assert code == 413 and "max_body_bytes" in r["error"]["message"]
    assert pins(d).num_rows == before and healthy(d)


def test_delete_removes_a_pin(d):
    cid = json.loads(open(d.p("s.jsonl"), "rb").read().splitlines()[0])["cid"]
    auth = {"Authorization": "Bearer " + d.token}
    post(d, open(d.p("s.jsonl"), "rb").read().splitlines()[0])
    code, _, body = get(d, f"/v1/pins/{cid}", auth, "DELETE")
    assert code == 200 and json.loads(body)["removed"] == cid
    assert cid not in pins(d).column("cid").to_pylist()
    code, _, body = get(d, f"/v1/pins/{cid}", auth, "DELETE")
    assert code == 404 and json.loads(body)["error"]["code"] == "not_found"
    assert get(d, "/v1/pins/Qmnotacid", auth, "DELETE")[0] == 404  # as `pin rm` says
    assert get(d, f"/v1/pins/{cid}", {"Authorization": "Bearer x"}, "DELETE")[0] == 401


def test_writes_need_the_token(d):
    code, r = post(d, b"{}\n", token="wrong")
    assert code == 401 and r["error"]["parameter"] == "Authorization"
    code, _, _ = get(d, "/v1/pins", {}, "POST", b"x")
    assert code == 401


def test_other_methods_and_paths_are_405(d):
    auth = {"Authorization": "Bearer " + d.token}
    assert get(d, "/v1/pins", auth, "PUT", b"x")[0] == 405
    assert get(d, "/v1/pins", auth, "DELETE")[0] == 405
    assert get(d, "/health", auth, "POST", b"x")[0] == 405


def test_write_requests_are_counted(d):
    from prometheus_client.parser import text_string_to_metric_families
    text = get(d, "/metrics")[2].decode()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == "ipfs_kit_http_requests_total" and s.labels["endpoint"] == "write":
                assert s.value >= 5
                return
    raise AssertionError("no write endpoint counter")


def test_stop_during_a_write_does_not_hang():
    """A daemon told to stop while an HTTP import waits on its socket stops promptly; the
    POST gets its result or a 503 (or a closed connection), never a hang."""
    import threading
    import time
    w = http_daemon(asan=False)
    try:
        token = open(w.p("http.token")).read().strip()
        body = open(w.sample(w.p("big.jsonl"), 20000), "rb").read()
        result = {}

        def send():
            try:
                result["code"] = get(w, "/v1/pins", {"Authorization": "Bearer " + token,
                                                     "Content-Type": "application/x-ndjson"},
                                     "POST", body, timeout=60)[0]
            except OSError as e:  # the server hung up mid-request
                result["error"] = e

        def unix_connections():
            text = get(w, "/metrics")[2].decode()
            return int(float(text.split("\nipfs_kit_connections_total ", 1)[1].split()[0]))

        before = unix_connections()
        t = threading.Thread(target=send)
        t.start()
        # the import is on its way once the HTTP side has connected to the daemon's socket
        wait_for(lambda: unix_connections() > before, timeout=30, interval=0.001,
                 what="the HTTP write to reach the socket")
        t0 = time.monotonic()
        r = w.stop()
        assert r.returncode == 0
        t.join(60)
        assert not t.is_alive()
        assert time.monotonic() - t0 < 30
        assert result.get("code") in (200, 503) or "error" in result, result
    finally:
        w.cleanup()
