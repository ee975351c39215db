"""GET /metrics: the daemon's and the HTTP server's metrics in Prometheus text format, read by
prometheus_client's parser (a real one, not ours)."""
import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from http_util import get, http_daemon


@pytest.fixture(scope="module")
def d():
    d = http_daemon(pins=20, asan=False)
    yield d
    d.cleanup()


def families(d):
    code, h, body = get(d, "/metrics")
    assert code == 200 and h["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def value(fams, name, **labels):
    for fam in fams.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise KeyError((name, labels))


def test_metrics_parse_and_name_the_daemon_and_http_parts(d):
    fams = families(d)
    for name in ("ipfs_kit_requests", "ipfs_kit_bytes_served", "ipfs_kit_snapshot_builds",
                 "ipfs_kit_request_duration_seconds", "ipfs_kit_http_requests",
                 "ipfs_kit_http_request_duration_seconds", "ipfs_kit_http_connections",
                 "ipfs_kit_http_response_bytes", "ipfs_kit_pins", "ipfs_kit_errors"):
        assert name in fams, name
    assert fams["ipfs_kit_http_request_duration_seconds"].type == "histogram"
    assert value(fams, "ipfs_kit_pins") == 20
    assert value(fams, "ipfs_kit_http_up") == 1
    assert value(fams, "ipfs_kit_snapshot_builds_total") >= 1


def test_the_metrics_table_says_http_is_up(d):
    rows = json.loads(get(d, "/v1/tables/metrics?metric_name=http_up",
                          {"Accept": "application/json"})[2])
    assert [r["metric_value"] for r in rows] == [1]


def test_metrics_count_requests_bytes_and_statuses(d):
    before = families(d)
    body = get(d, "/pin-index-arrow")[2]
    get(d, "/v1/tables/nope")
    get(d, "/pin-index-arrow", {"Accept": "text/csv"})
    after = families(d)
    assert (value(after, "ipfs_kit_http_requests_total", endpoint="table") -
            value(before, "ipfs_kit_http_requests_total", endpoint="table")) == 2
    assert (value(after, "ipfs_kit_http_response_bytes_total", endpoint="table", format="arrow") -
            value(before, "ipfs_kit_http_response_bytes_total", endpoint="table",
                  format="arrow")) == len(body)
    assert (value(after, "ipfs_kit_http_responses_total", **{"class": "4xx"}) -
            value(before, "ipfs_kit_http_responses_total", **{"class": "4xx"})) == 1
    inf = value(after, "ipfs_kit_http_request_duration_seconds_bucket", le="+Inf")
    assert inf == value(after, "ipfs_kit_http_request_duration_seconds_count") and inf >= 4
    assert value(after, "ipfs_kit_http_connections_total") >= 4
