"""The otlp HTTP format: real events from loopback traffic (tests/trig),
shipped by tcpship as OTLP/HTTP JSON logs to the strict stub collector
(tests/lib/collector.py, which reads every request with tests/lib/otlp.py
and holds each log record against its body and tcpship's promises), with
OTLP's own answers: 429/503 with Retry-After retried, 400 and 500 never,
a 200 with partialSuccess counting the records it refused.

After every run the collector's books and tcpship's exit counters must
agree (httpsink.books)."""
import socket
import time

from collector import event_ns
from httpsink import books, gzip_books, log_lines, mine, sink_of, stub_and_tcpship, wait_mine
from tslib import netns, run_tcpship, tmpdir, trig

HOSTILE_HEX = "22275c01ff41"          # "'\ 0x01 0xff A: quotes, a control byte, bad UTF-8
HOSTILE = '"\'\\\x01\ufffdA'


def by_gt(coll, gt):
    """The collector's connect and accept of one tcp_pair run, each once."""
    with coll.lock:
        evs = list(coll.events.values())
        received = dict(coll.received)
    (c,) = [e for e in evs if e.get("pid") == gt["client_pid"] and e["type"] == "connect"]
    (a,) = [e for e in evs if e.get("pid") == gt["server_pid"] and e["type"] == "accept"]
    assert received[c["seq"]] == 1 and received[a["seq"]] == 1, (c["seq"], a["seq"])
    return c, a


def test_otlp_every_connect_once_attributes_are_the_ground_truth():
    coll, ts = stub_and_tcpship("otlp", {"batch": {"max_events": 8}}, gzip_expected=False)
    gts = [trig("tcp_pair") for _ in range(8)]
    gts += [trig("tcp_pair", "-6") for _ in range(2)]
    gts.append(trig("tcp_pair", "-c", HOSTILE_HEX))
    wait_mine(coll, gts)
    ts.stop()
    _, s, _ = books(ts, coll)
    assert s["retried"] == 0 and s["dropped_error"] == 0, s
    assert all(r["path"] == "/v1/logs" for r in coll.requests), {r["path"] for r in coll.requests}
    assert max(len(r["seqs"]) for r in coll.requests) <= 8
    host = socket.gethostname()
    for g in gts:
        comm = HOSTILE if g.get("client_comm_hex") == HOSTILE_HEX else "ts-client"
        c, a = by_gt(coll, g)
        for ev, local, peer, pid, name in ((c, g["client_port"], g["server_port"],
                                            g["client_pid"], comm),
                                           (a, g["server_port"], g["client_port"],
                                            g["server_pid"], "ts-server")):
            it = ev["_otlp"]
            want = {"network.transport": "tcp", "network.type": g["family"],
                    "network.local.address": g["addr"], "network.local.port": local,
                    "network.peer.address": g["addr"], "network.peer.port": peer,
                    "process.pid": pid, "thread.name": name, "tcpship.type": ev["type"],
                    "tcpship.seq": ev["seq"], "tcpship.agent_id": ev["agent_id"]}
            assert it.attrs == want, (it.attrs, want)
            assert it.resource == {"host.name": host, "service.name": "tcpship"}, it.resource
            assert int(it.record["timeUnixNano"]) == event_ns(ev)
            assert it.record["severityNumber"] == 9 and it.record["eventName"] == \
                "tcpship." + ev["type"], it.record
        assert c["comm"] == comm, c
    # the hostile name went through the body (native JSON) and the attribute alike
    assert any(e["_otlp"].attrs.get("thread.name") == HOSTILE for e in coll.events.values())
    agents = {e["agent_id"] for e in coll.events.values()}
    assert len(agents) == 1, agents


def test_otlp_gzip_and_a_close_that_failed_is_warn():
    coll, ts = stub_and_tcpship("otlp", {"compression": "gzip", "batch": {"max_delay": "300ms"}},
                                gzip_expected=True)
    gts = [trig("tcp_pair") for _ in range(15)]
    fail = trig("connect_fail", "refused")
    wait_mine(coll, gts)
    coll.wait(lambda: coll.seqs_of(lambda e: e.get("pid") == fail["pid"] and
                                   e["type"] == "close"), 10, "the failed connect's close")
    ts.stop()
    _, s, _ = books(ts, coll)
    gzip_books(coll, s)
    (cl,) = [e for e in coll.events.values() if e.get("pid") == fail["pid"] and
             e["type"] == "close"]
    rec = cl["_otlp"].record
    assert (rec["severityNumber"], rec["severityText"]) == (13, "WARN"), rec
    assert cl["_otlp"].attrs["network.peer.port"] == fail["dport"], (cl, fail)


def test_otlp_dns_is_udp():
    coll, ts = stub_and_tcpship("otlp", events="dns")
    ns = netns("tsotlp")
    gt = trig("dns_query", "sendto", "127.0.0.1", "www.example.com", netns=ns)
    seqs = coll.wait(lambda: coll.seqs_of(lambda e: e.get("pid") == gt["pid"]), 10,
                     "the dns event")
    coll.wait_accepted(seqs)
    ts.stop()
    books(ts, coll)
    (ev,) = [coll.events[q] for q in seqs]
    a = ev["_otlp"].attrs
    assert (a["network.transport"], a["network.peer.address"], a["network.peer.port"],
            a["network.type"], a["process.pid"], a["tcpship.type"]) == \
        ("udp", "127.0.0.1", 53, "ipv4", gt["pid"], "dns"), a
    assert ev["qname"] == "www.example.com", ev


# ------------------------------------------------------------ OTLP's answers

def test_otlp_429_and_503_with_retry_after_are_retried_then_delivered():
    coll, ts = stub_and_tcpship("otlp", faults=[{"status": 429, "headers": {"Retry-After": "2"},
                                                 "body": b'{"code":8,"message":"slow down"}'}])
    g1 = trig("tcp_pair")
    wait_mine(coll, [g1])
    coll.push({"status": 503, "headers": {"Retry-After": "1"}}, {"status": 502},
              {"status": 504})
    g2 = trig("tcp_pair")
    wait_mine(coll, [g1, g2])
    ts.stop()
    _, s, raw = books(ts, coll)
    sts = [r["status"] for r in coll.requests]
    for st, least in ((429, 1.9), (503, 0.9)):
        (i,) = [k for k, v in enumerate(sts) if v == st]
        r, nxt = coll.requests[i], coll.requests[i + 1]
        assert nxt["seqs"] == r["seqs"], (r["seqs"], nxt["seqs"])
        assert nxt["time"] - r["time"] >= least, (st, nxt["time"] - r["time"])
    i503 = sts.index(503)
    assert sts[i503:i503 + 4] == [503, 502, 504, 200], sts
    assert s["retried"] == 4 and s["dropped_error"] == 0 and "status=200" in raw, raw
    assert len(log_lines(ts, "HTTP 429, Retry-After 2; retrying")) == 1, ts.stderr


def test_otlp_400_and_500_are_dropped_counted_not_retried():
    """OTLP: only 429, 502, 503 and 504 are worth a retry; a 500 (which other
    formats retry) and a 400 mean the data will never be taken."""
    coll, ts = stub_and_tcpship("otlp", faults=[
        {"status": 400, "body": b'{"code":3,"message":"bad \x01 record"}'},
        {"status": 500, "body": b'{"code":13,"message":"internal"}'}, {"status": 408}])
    gts = []
    for _ in range(3):     # each new request takes the next fault
        n = len(coll.requests)
        gts.append(trig("tcp_pair"))
        coll.wait(lambda: len(coll.requests) > n, 10, "a request")
    gts.append(trig("tcp_pair"))
    wait_mine(coll, gts)
    ts.stop()
    _, s, raw = books(ts, coll)
    assert [r["status"] for r in coll.requests[:3]] == [400, 500, 408], coll.requests[:3]
    assert len(coll.refused_requests()) == 3
    assert s["retried"] == 0 and s["drop_status"] == len(coll.refused) > 0, s
    assert s["dropped_error"] == sum(len(r["seqs"]) for r in coll.requests[:3]), s
    (l400,) = log_lines(ts, "HTTP 400")
    assert "not retried" in l400 and "bad ? record" in l400, l400
    assert len(log_lines(ts, "HTTP 500")) == 1, ts.stderr
    assert mine(coll, gts[-1]) <= set(coll.accepted)


def test_otlp_partial_success_counts_the_refused_records():
    coll, ts = stub_and_tcpship("otlp", {"batch": {"max_delay": "1s"}}, faults=[
        {"partial": 3, "message": "timestamp too old\n\x01", "min_events": 8}])
    gts = [trig("tcp_pair") for _ in range(4)]
    wait_mine(coll, gts)
    # a partialSuccess without refusals is a warning: all delivered
    coll.push({"partial": 0, "message": "ingestion is slow"})
    g = trig("tcp_pair")
    wait_mine(coll, [g])
    # Loki answers 204 without a body; a proxy's 200 page is no answer
    coll.push({"status": 204, "body": b""}, {"status": 200, "body": b"<html>hi</html>"})
    g2 = trig("tcp_pair")
    wait_mine(coll, [g2])
    g3 = trig("tcp_pair")
    wait_mine(coll, [g3])
    ts.stop()
    _, s, _ = books(ts, coll)
    (p,) = [r for r in coll.requests if r.get("partial")]
    assert s["drop_items"] == 3 == len(coll.refused) == s["dropped_error"], s
    assert s["drop_status"] == 0, s
    (line,) = log_lines(ts, "refused for good (partial success)")
    assert f"3 of {len(p['seqs'])} events" in line and "timestamp too old ?" in line, line
    assert len(log_lines(ts, "with a warning")) == 1 and \
        "ingestion is slow" in log_lines(ts, "with a warning")[0], ts.stderr
    # the proxy's page: sent again, once
    (i,) = [k for k, r in enumerate(coll.requests) if r["status"] == 503]
    assert coll.requests[i + 1]["seqs"] == coll.requests[i]["seqs"]
    assert s["retried"] == 1, s
    assert len(log_lines(ts, "is no otlp response")) == 1, ts.stderr


# ------------------------------------------------------------ shapes

def test_otlp_bodies_in_the_cef_and_ecs_shapes():
    for shape in ("cef", "ecs"):
        coll, ts = stub_and_tcpship("otlp", {"schema": shape})
        gts = [trig("tcp_pair") for _ in range(3)]
        wait_mine(coll, gts)
        ts.stop()
        books(ts, coll)
        for g in gts:
            c, a = by_gt(coll, g)
            body = c["_otlp"].record["body"]["stringValue"]
            if shape == "cef":
                assert body.startswith("CEF:0|tcpship|tcpship|") and "_cef" in c, body
                assert c["_cef"][1]["dpt"] == str(g["server_port"]), c["_cef"]
            else:
                assert c["_ecs"]["destination"]["port"] == g["server_port"], c["_ecs"]
            assert c["_otlp"].attrs["network.peer.port"] == g["server_port"]
            assert a["_otlp"].attrs["network.local.port"] == g["server_port"]


# ------------------------------------------------------------ config

def test_otlp_config_mistakes_exit_2():
    import json
    import os
    d = tmpdir()
    for extra, want in (({"index": "x"}, "index: only for formats elasticsearch and "
                                         "splunk_hec, not otlp"),
                        ({"labels": {"a": "b"}}, "labels: only for format loki, not otlp")):
        cfg = os.path.join(d, "c.json")
        with open(cfg, "w") as f:
            json.dump({"outputs": [{"type": "http", "url": "http://127.0.0.1:4318",
                                    "format": "otlp", **extra}]}, f)
        p = run_tcpship("-c", cfg)
        lines = [l for l in p.stderr.splitlines() if l]
        assert p.returncode == 2 and len(lines) == 1 and want in lines[0], (p.returncode,
                                                                            p.stderr)
    # and a right one passes the check (no root needed for --check-config)
    with open(cfg, "w") as f:
        json.dump({"outputs": [{"type": "http", "url": "http://127.0.0.1:4318",
                                "format": "otlp", "compression": "gzip",
                                "schema": "cef"}]}, f)
    p = run_tcpship("-c", cfg, "--check-config")
    assert p.returncode == 0, p.stderr


def test_otlp_exit_line_counts_a_collector_that_stays_down():
    """429 for ever: every event ends in one counter, none delivered."""
    coll, ts = stub_and_tcpship("otlp", sticky={"status": 429})
    trig("tcp_pair")
    coll.wait(lambda: len(coll.requests) >= 2, 10, "two refused requests")
    t0 = time.monotonic()
    ts.stop()
    assert time.monotonic() - t0 < 8
    total, s, _ = sink_of(ts)
    assert s["out"] == 0 and s["retried"] >= 1, s
    assert s["dropped_full"] + s["dropped_error"] + s["dropped_exit"] == total["events"], s


# ------------------------------------------------------------ the stub itself

def test_otlp_stub_refuses_what_the_mapping_does_not_allow():
    """The strict reader must be able to say no: each of these bodies breaks
    one rule of the OTLP JSON mapping (or of tcpship's promises) and is a
    violation, while the good one passes."""
    import json
    import os
    import otlp
    from collector import Violation, otlp_event

    def body(rec=None, res=None, attrs=lambda a: a, top=None):
        a = [{"key": "network.transport", "value": {"stringValue": "tcp"}},
             {"key": "network.type", "value": {"stringValue": "ipv4"}},
             {"key": "network.peer.address", "value": {"stringValue": "127.0.0.1"}},
             {"key": "network.peer.port", "value": {"intValue": "80"}},
             {"key": "tcpship.type", "value": {"stringValue": "connect"}},
             {"key": "tcpship.seq", "value": {"intValue": "7"}},
             {"key": "tcpship.agent_id", "value": {"stringValue": "ag"}}]
        line = json.dumps({"time": "2026-11-26T09:42:09.123456789Z", "type": "connect",
                           "host": "h", "seq": 7, "agent_id": "ag", "family": "ipv4",
                           "daddr": "127.0.0.1", "dport": 80, "probe": "tracepoint"})
        r = {"timeUnixNano": "1795686129123456789", "observedTimeUnixNano":
             "1795686129123456789", "severityNumber": 9, "severityText": "INFO",
             "eventName": "tcpship.connect", "body": {"stringValue": line},
             "attributes": attrs(a), **(rec or {})}
        rs = {"attributes": [{"key": "host.name", "value": {"stringValue": "h"}},
                             {"key": "service.name", "value": {"stringValue": "tcpship"}}],
              **(res or {})}
        doc = {"resourceLogs": [{"resource": rs, "scopeLogs": [{"scope": {
            "name": "tcpship", "version": "1"}, "logRecords": [r]}]}], **(top or {})}
        return json.dumps(doc).encode()

    def set_attr(a, key, value):
        return [{"key": key, "value": value} if kv["key"] == key else kv for kv in a]

    def check(b):
        return [otlp_event(it) for it in otlp.parse_logs(b)]

    (ev,) = check(body())
    assert ev["seq"] == 7 and ev["_otlp"].attrs["network.peer.port"] == 80
    bad = {
        "snake_case key": body(rec={"time_unix_nano": "1"}),
        "int64 as a number": body(rec={"timeUnixNano": 1795686129123456789}),
        "severity as a string": body(rec={"severityNumber": "9"}),
        "severity out of range": body(rec={"severityNumber": 25}),
        "enum name": body(rec={"severityNumber": "SEVERITY_NUMBER_INFO"}),
        "unknown top key": body(top={"extra": 1}),
        "unknown resource key": body(res={"labels": {}}),
        "intValue as a number": body(attrs=lambda a: set_attr(a, "tcpship.seq", {"intValue": 7})),
        "two values": body(attrs=lambda a: set_attr(a, "network.type", {
            "stringValue": "ipv4", "intValue": "4"})),
        "no value": body(attrs=lambda a: set_attr(a, "network.type", {})),
        "a key twice": body(attrs=lambda a: a + a[1:2]),
        "the seq differs from the line": body(attrs=lambda a: set_attr(
            a, "tcpship.seq", {"intValue": "8"})),
        "an unknown attribute": body(attrs=lambda a: a + [
            {"key": "net.peer.port", "value": {"intValue": "80"}}]),
        "observed differs": body(rec={"observedTimeUnixNano": "1"}),
        "eventName": body(rec={"eventName": "connect"}),
    }
    for what, b in bad.items():
        try:
            check(b)
        except (ValueError, Violation) as e:
            if os.environ.get("TS_VERBOSE"):
                print(f"{what}: {e}")
            continue
        raise AssertionError(f"the stub took a body with {what}")
