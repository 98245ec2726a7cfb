"""The HTTP output: real events from loopback traffic, shipped to a strict
stub collector that injects faults (tests/lib/collector.py), to a TLS
collector, and to a real ClickHouse (tests/lib/clickhouse.py).

After every run the collector's books must hold (Collector.check_books): no
format violation, nothing accepted twice, nothing refused sent again,
nothing retryable lost; and tcpship's own counters must match what the
collector saw (httpsink.books)."""
import json
import os
import secrets
import subprocess
import time
from email.utils import formatdate

from clickhouse import ClickHouse
from collector import Collector, basic, free_port
from httpsink import books, gzip_books, log_lines, mine, pids, sink_of, start, tmpdir, wait_mine
from tslib import ROOT, at_cleanup, require_root, run_tcpship, trig, wait_until

LOADGEN = os.path.join(ROOT, ".output", "bench", "loadgen")


# ------------------------------------------------------------ happy paths

def test_ndjson_every_event_once_over_one_connection():
    require_root()
    coll = Collector("ndjson", gzip_expected=False)
    at_cleanup(coll.stop)
    ts = start(coll, {"batch": {"max_events": 8}})
    gts = [trig("tcp_pair") for _ in range(20)]
    seqs = wait_mine(coll, gts)
    ts.stop()
    total, s, _ = books(ts, coll)
    assert len(seqs) == 80 and seqs <= set(coll.accepted)
    # batch.max_events bounds a request; Content-Length is the body
    assert max(len(r["seqs"]) for r in coll.requests) <= 8
    assert len(coll.requests) >= 10, len(coll.requests)
    assert all(int(r["headers"]["Content-Length"]) == r["raw_len"] for r in coll.requests)
    # keep-alive: one connection for every request (a second only if one died)
    assert coll.connections <= 2, (coll.connections, len(coll.requests))
    assert s["body_bytes"] == s["sent_bytes"] == sum(r["raw_len"] for r in coll.requests)
    # the events are the right ones
    for g in gts:
        (c,) = [e for e in coll.events.values()
                if e.get("pid") == g["client_pid"] and e["type"] == "connect"]
        assert (c["sport"], c["dport"], c["comm"]) == \
            (g["client_port"], g["server_port"], "ts-client"), (c, g)
        (a,) = [e for e in coll.events.values()
                if e.get("pid") == g["server_pid"] and e["type"] == "accept"]
        assert a["sport"] == g["server_port"] and a["dport"] == g["client_port"], (a, g)
    ua = [r["headers"].get("User-Agent", "") for r in coll.requests]
    assert all(u.startswith("tcpship/") for u in ua), ua[:2]


def test_gzip_bodies_and_byte_counters():
    require_root()
    coll = Collector("ndjson", gzip_expected=True)
    at_cleanup(coll.stop)
    ts = start(coll, {"compression": "gzip", "batch": {"max_delay": "300ms"}})
    gts = [trig("tcp_pair") for _ in range(30)]
    wait_mine(coll, gts)
    ts.stop()
    _, s, _ = books(ts, coll)
    gzip_books(coll, s)


def test_batch_max_bytes_cuts_requests():
    require_root()
    coll = Collector("ndjson")
    at_cleanup(coll.stop)
    ts = start(coll, {"batch": {"max_bytes": "4KiB", "max_events": 1000, "max_delay": "5s"}})
    gts = [trig("tcp_pair") for _ in range(20)]
    # 80 lines of ~330 bytes: full units go at once, long before max_delay
    t0 = time.monotonic()
    full = coll.wait(lambda: [r for r in coll.requests if r["body_len"] > 3000], 4,
                     "a request cut by max_bytes")
    assert time.monotonic() - t0 < 4.5
    ts.stop()
    books(ts, coll)
    assert all(r["body_len"] <= 4096 for r in coll.requests), \
        [r["body_len"] for r in coll.requests]
    assert full and len(mine(coll, *gts)) == 80


# ------------------------------------------------------------ retryable faults

def test_429_retry_after_seconds_and_http_date_are_honoured():
    require_root()
    coll = Collector("ndjson")
    at_cleanup(coll.stop)
    coll.push({"status": 429, "headers": {"Retry-After": "2"}, "body": b"slow down"})
    ts = start(coll)
    g1 = trig("tcp_pair")
    wait_mine(coll, [g1])
    coll.push({"status": 503, "headers": {"Retry-After": formatdate(time.time() + 3,
                                                                   usegmt=True)}})
    g2 = trig("tcp_pair")
    wait_mine(coll, [g1, g2])
    ts.stop()
    books(ts, coll)
    for st, least in ((429, 1.9), (503, 1.5)):
        (i,) = [k for k, r in enumerate(coll.requests) if r["status"] == st]
        r, nxt = coll.requests[i], coll.requests[i + 1]
        # the same unit again, not before the collector said (the backoff
        # alone would have waited under 0.1 s)
        assert nxt["seqs"] == r["seqs"], (r["seqs"], nxt["seqs"])
        assert nxt["time"] - r["time"] >= least, (st, nxt["time"] - r["time"])
    assert len(log_lines(ts, "HTTP 429, Retry-After 2; retrying")) == 1, ts.stderr
    _, s, _ = sink_of(ts)
    assert s["retried"] == 2, s


def test_5xx_retried_until_delivered_logged_once_each():
    require_root()
    coll = Collector("ndjson")
    at_cleanup(coll.stop)
    coll.push({"status": 500, "body": b"boom"}, {"status": 500, "body": b"boom"},
              {"status": 502}, {"status": 503}, {"status": 408})
    ts = start(coll)
    g = trig("tcp_pair")
    wait_mine(coll, [g])
    ts.stop()
    _, s, raw = books(ts, coll)
    first = coll.requests[0]["seqs"]
    assert [r["seqs"] for r in coll.requests[:6]] == [first] * 6
    assert [r["status"] for r in coll.requests[:6]] == [500, 500, 502, 503, 408, 200]
    assert s["retried"] == 5 and "status=200" in raw, raw
    assert len(log_lines(ts, "HTTP 500")) == 1, ts.stderr
    assert len(log_lines(ts, "answers again (after 5 failed requests)")) == 1, ts.stderr


def test_hang_past_the_timeout_is_retried():
    require_root()
    coll = Collector("ndjson", hang_s=5)
    at_cleanup(coll.stop)
    coll.push({"hang": True})
    ts = start(coll, {"timeout": "1s", "connect_timeout": "1s"})
    g = trig("tcp_pair")
    wait_mine(coll, [g])
    coll.release()
    ts.stop()
    _, s, raw = books(ts, coll)
    r0, r1 = coll.requests[0], coll.requests[1]
    assert r0["status"] == "hang" and r1["seqs"] == r0["seqs"]
    assert 0.9 <= r1["time"] - r0["time"] < 4, r1["time"] - r0["time"]
    assert "error=timeout" in raw and s["retried"] == 1, raw
    assert len(log_lines(ts, "request failed (timeout)")) == 1, ts.stderr


def test_connection_refused_until_the_collector_starts():
    require_root()
    port = free_port()
    ts = start(url=f"http://127.0.0.1:{port}/", fmt="ndjson")
    g = trig("tcp_pair")
    wait_until(lambda: log_lines(ts, "request failed (connect)"), 10, "a refused connection")
    coll = Collector("ndjson", port=port)
    at_cleanup(coll.stop)
    wait_mine(coll, [g], timeout=30)
    ts.stop()
    _, s, raw = sink_of(ts)
    assert s["retried"] >= 1 and "error=connect" in raw, raw
    # the refused attempts never reached the collector
    books(ts, coll, unseen_requests=s["retried"])


def test_garbage_answers_are_retried():
    require_root()
    coll = Collector("ndjson")
    at_cleanup(coll.stop)
    coll.push({"garbage": True})
    ts = start(coll)
    g = trig("tcp_pair")
    wait_mine(coll, [g])
    ts.stop()
    _, s, raw = books(ts, coll)
    assert coll.requests[1]["seqs"] == coll.requests[0]["seqs"]
    assert s["retried"] == 1 and "error=bad_reply" in raw, raw

    # elasticsearch: a 200 whose body is no bulk answer proves nothing stored
    coll = Collector("elasticsearch")
    at_cleanup(coll.stop)
    coll.push({"status": 200, "body": b"<html>proxy says hi</html>"})
    ts = start(coll)
    g = trig("tcp_pair")
    wait_mine(coll, [g])
    ts.stop()
    _, s, _ = books(ts, coll)
    assert s["retried"] == 1
    assert len(log_lines(ts, "not a bulk response")) == 1, ts.stderr
    assert "proxy says hi" in log_lines(ts, "not a bulk response")[0]


# ------------------------------------------------------------ permanent faults

def test_4xx_dropped_never_retried_logged_once_per_status():
    require_root()
    coll = Collector("ndjson")
    at_cleanup(coll.stop)
    coll.push({"status": 400, "body": b"mapping failed: field [pid] \x01bad"},
              {"status": 400, "body": b"the second 400"},
              {"status": 413, "body": b"too large"})
    ts = start(coll)
    gts = []
    for _ in range(3):     # each new request takes the next fault
        n = len(coll.requests)
        gts.append(trig("tcp_pair"))
        coll.wait(lambda: len(coll.requests) > n, 10, "a request")
    assert len(coll.refused_requests()) == 3, [r["status"] for r in coll.requests]
    gts.append(trig("tcp_pair"))
    wait_mine(coll, gts)
    ts.stop()
    _, s, _ = books(ts, coll)
    assert s["retried"] == 0 and s["drop_status"] == len(coll.refused) > 0, s
    l400, l413 = log_lines(ts, "HTTP 400"), log_lines(ts, "HTTP 413")
    assert len(l400) == 1 and len(l413) == 1, ts.stderr
    assert "mapping failed: field [pid] ?bad" in l400[0] and "not retried" in l400[0], l400
    # the last trigger's events went through
    assert mine(coll, gts[-1]) <= set(coll.accepted)


def test_elasticsearch_bulk_items_mixed():
    """201 and 409 delivered, 429 and 503 items sent again alone, 400 items
    dropped and counted."""
    require_root()
    coll = Collector("elasticsearch")
    at_cleanup(coll.stop)
    coll.push({"items": [201, 409, 429, 400, 503], "min_events": 10})
    ts = start(coll, {"batch": {"max_delay": "1s"}})
    gts = [trig("tcp_pair") for _ in range(4)]
    wait_mine(coll, gts)
    ts.stop()
    _, s, _ = books(ts, coll)
    (i,) = [k for k, r in enumerate(coll.requests) if r["status"] == "mixed"]
    r, nxt = coll.requests[i], coll.requests[i + 1]
    sts = r["item_statuses"]
    again = [q for q, st in zip(r["seqs"], sts) if st in (429, 503)]
    assert nxt["seqs"] == again, (nxt["seqs"], again)
    assert s["drop_items"] == sts.count(400) == len(coll.refused), (s, sts)
    assert s["conflicts"] == sts.count(409) == coll.conflicts, (s, sts)
    assert s["drop_status"] == 0 and s["retried"] >= 1, s
    assert len(log_lines(ts, "bulk item refused")) == 1, ts.stderr
    assert all(r["path"] == "/_bulk" for r in coll.requests)


def test_elasticsearch_index_action_gzip_two_in_flight():
    require_root()
    coll = Collector("elasticsearch", index="net-%Y%m%d", action="index", gzip_expected=True)
    at_cleanup(coll.stop)
    ts = start(coll, {"action": "index", "index": "net-%Y%m%d", "compression": "gzip",
                      "in_flight": 2, "batch": {"max_events": 4}})
    gts = [trig("tcp_pair") for _ in range(10)]
    wait_mine(coll, gts)
    ts.stop()
    books(ts, coll)
    assert coll.connections <= 4, coll.connections


def test_loki_push_labels_tenant_and_400():
    require_root()
    coll = Collector("loki", labels={"job": "tcpship", "env": "ci"},
                     expect_headers={"X-Scope-OrgID": "team-a"})
    at_cleanup(coll.stop)
    coll.push({"status": 400, "body": b"entry too far behind"})
    ts = start(coll, {"labels": {"job": "tcpship", "env": "ci"}, "tenant": "team-a",
                      "batch": {"max_delay": "300ms"}})
    gts = [trig("tcp_pair") for _ in range(6)]
    wait_mine(coll, gts[-1:])
    ts.stop()
    _, s, _ = books(ts, coll)
    assert coll.requests[0]["status"] == 400 and s["drop_status"] > 0, s
    assert all(r["path"] == "/loki/api/v1/push" for r in coll.requests)
    assert len(log_lines(ts, "HTTP 400")) == 1


def test_splunk_hec_token_from_env_gzip():
    require_root()
    tok = "hec-" + secrets.token_hex(12)
    coll = Collector("splunk_hec", expect_headers={"Authorization": f"Splunk {tok}"},
                     gzip_expected=True)
    at_cleanup(coll.stop)
    ts = start(coll, {"token_env": "TCPSHIP_TEST_HEC", "compression": "gzip",
                      "sourcetype": "tcpship:net"}, env={"TCPSHIP_TEST_HEC": tok})
    gts = [trig("tcp_pair") for _ in range(3)]
    wait_mine(coll, gts)
    ts.stop()
    books(ts, coll)
    assert all(r["path"] == "/services/collector/event" for r in coll.requests)
    assert tok not in ts.stderr and tok not in "".join(ts.lines)


# ------------------------------------------------------------ beside other sinks

def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def test_down_collector_other_sink_keeps_shipping_memory_bounded():
    require_root()
    coll = Collector("ndjson")
    at_cleanup(coll.stop)
    coll.sticky = {"status": 503}
    path = os.path.join(tmpdir(), "events.jsonl")
    ts = start(coll, {"queue": {"max_events": 20000}},
               others=[{"type": "file", "path": path}])
    gts = [trig("tcp_pair") for _ in range(5)]

    def in_file():
        with open(path) as f:
            evs = [json.loads(l) for l in f]
        return len([e for e in evs if e.get("pid") in pids(*gts)]) == 20
    wait_until(in_file, 10, "the file output's 20 events while the collector is down")
    # 20000 connections, 80000 events, through a sink that cannot deliver
    lg = subprocess.run([LOADGEN, "--mode", "conn", "--workers", "1", "--count", "20000",
                         "--wait-close"], capture_output=True, timeout=120)
    assert lg.returncode == 0, lg.stderr
    hwm = vm_hwm_kib(ts.proc.pid)
    ts.stop()
    total, sinks = ts.exit_line()
    s = [v for k, v in sinks.items() if k.startswith("http")][0]
    f = sinks[f"file:{path}"]
    assert total["events"] >= 80000, total
    assert f["out"] == total["events"], (f, total)
    assert s["out"] == 0 and s["dropped_full"] > 0 and s["retried"] > 0, s
    # every event is counted as lost, exactly once
    assert s["out"] + s["dropped_full"] + s["dropped_error"] + s["dropped_exit"] == \
        total["events"], (s, total)
    assert s["queued"] == 0, s
    assert hwm < 64 * 1024, f"peak RSS {hwm} KiB"
    assert len(log_lines(ts, "HTTP 503")) == 1, ts.stderr


# ------------------------------------------------------------ TLS and secrets

def make_certs(d):
    """A CA, a server certificate for 127.0.0.1 signed by it, and a second
    CA that signed nothing here."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=tcpship test CA")
    run("req", "-x509", *ec, "-keyout", "other.key", "-out", "other-ca.pem", "-days", "2",
        "-subj", "/CN=someone else's CA")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return {k: os.path.join(d, v) for k, v in
            (("ca", "ca.pem"), ("other", "other-ca.pem"), ("cert", "server.pem"),
             ("key", "server.key"))}


def test_https_right_ca_delivers_wrong_ca_fails_counted():
    require_root()
    c = make_certs(tmpdir())
    coll = Collector("ndjson", tls=(c["cert"], c["key"]))
    at_cleanup(coll.stop)
    ts = start(coll, {"tls": {"ca_file": c["ca"]}})
    g = trig("tcp_pair")
    wait_mine(coll, [g])
    ts.stop()
    books(ts, coll)

    bad = Collector("ndjson", tls=(c["cert"], c["key"]))
    at_cleanup(bad.stop)
    ts = start(bad, {"tls": {"ca_file": c["other"]}})
    trig("tcp_pair")
    wait_until(lambda: log_lines(ts, "request failed (tls_verify)"), 10, "the TLS failure")
    ts.stop()
    total, s, raw = sink_of(ts)
    assert len(log_lines(ts, "request failed (tls_verify)")) == 1, ts.stderr
    assert "certificate" in log_lines(ts, "tls_verify")[0]
    assert not bad.requests, "nothing may reach a collector that failed verification"
    assert s["out"] == 0 and s["retried"] >= 1 and "error=tls_verify" in raw, raw
    assert s["dropped_full"] + s["dropped_error"] + s["dropped_exit"] == total["events"], s

    # verify: false, for labs: delivers, and says so at start
    lab = Collector("ndjson", tls=(c["cert"], c["key"]))
    at_cleanup(lab.stop)
    ts = start(lab, {"tls": {"verify": False}})
    g = trig("tcp_pair")
    wait_mine(lab, [g])
    ts.stop()
    books(ts, lab)
    assert log_lines(ts, "tls.verify is false"), ts.stderr


def test_credentials_arrive_and_never_show():
    require_root()
    d = tmpdir()
    tok = "tok-" + secrets.token_hex(16)
    tok_file = os.path.join(d, "token")
    with open(tok_file, "w") as f:
        f.write(tok + "\n")
    coll = Collector("ndjson", expect_headers={"Authorization": f"Bearer {tok}"})
    at_cleanup(coll.stop)
    # a collector that echoes the credentials in its error page
    coll.push({"status": 401, "body": f"bad token {tok}; Authorization: Bearer {tok}".encode()})
    ts = start(coll, {"token_file": tok_file}, others=[{"type": "stdout"}])
    g = trig("tcp_pair")
    wait_mine(coll, [g])
    ts.stop()
    books(ts, coll)
    (l401,) = log_lines(ts, "HTTP 401")
    assert "bad token ****" in l401, l401
    assert tok not in ts.stderr and tok not in "".join(ts.lines)

    pw = "pw-" + secrets.token_hex(16)
    pw_file = os.path.join(d, "password")
    with open(pw_file, "w") as f:
        f.write(pw)
    cred = basic("shipper", pw)
    coll = Collector("ndjson", tls=None, expect_headers={"Authorization": cred})
    at_cleanup(coll.stop)
    coll.push({"status": 403, "body": f"denied {pw} / {cred}".encode()})
    ts = start(coll, {"auth": {"user": "shipper", "password_file": pw_file}},
               others=[{"type": "stdout"}])
    g = trig("tcp_pair")
    wait_mine(coll, [g])
    ts.stop()
    books(ts, coll)
    b64 = cred.split()[1]
    assert log_lines(ts, "HTTP 403"), ts.stderr
    for secret in (pw, b64):
        assert secret not in ts.stderr and secret not in "".join(ts.lines)


# ------------------------------------------------------------ bad config

def test_bad_config_one_line_exit_2():
    d = tmpdir()
    tdir = os.path.join(d, "adir")
    os.mkdir(tdir)
    cases = [
        (["-o", "http://"], "url: no host"),
        (["-o", "http://:8080/x"], "url: no host"),
        (["-o", "http://h:99999/"], "the port must be a number"),
        (["-o", "https://h/#frag"], "fragment"),
        # (the core echoes the -o SPEC itself in front of the message)
        (["-o", "http://user:pw@h/"], "user:password@ in the URL is refused"),
        ({"type": "http", "url": "http://h/", "format": "gelf"},
         "outputs[0].format: 'gelf' is not one of ndjson, elasticsearch, loki, splunk_hec, otlp"),
        ({"type": "http", "url": "ftp://h/"}, "url: must start with http:// or https://"),
        ({"type": "http"}, "url: missing"),
        ({"type": "http", "url": "https://h/", "tls": {"ca_file": "/nonexistent/ca.pem"}},
         "tls.ca_file: cannot read /nonexistent/ca.pem"),
        ({"type": "http", "url": "http://h/", "token_file": "/nonexistent/token"},
         "token_file: cannot read /nonexistent/token"),
        ({"type": "http", "url": "http://h/", "token_file": tdir}, "is not a regular file"),
        ({"type": "http", "url": "http://h/", "auth": {"user": "u", "password": "hunter2secret"},
          "token_env": "NOPE"}, "give one way to authenticate"),
        ({"type": "http", "url": "http://h/", "in_flight": 0}, "outputs[0].in_flight"),
        ({"type": "http", "url": "http://h/", "batch": {"max_events": "many"}},
         "outputs[0].batch.max_events: must be a whole number"),
    ]
    for args, want in cases:
        if isinstance(args, dict):
            cfg = os.path.join(d, "c.json")
            with open(cfg, "w") as f:
                json.dump({"outputs": [args]}, f)
            args = ["-c", cfg]
        p = run_tcpship(*args)
        lines = [l for l in p.stderr.splitlines() if l]
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert len(lines) == 1 and lines[0].startswith("tcpship: "), (args, lines)
        assert want in lines[0], (args, want, lines[0])
        assert "hunter2secret" not in p.stderr + p.stdout, lines


# ------------------------------------------------------------ a real ClickHouse

COLUMNS = ["time", "type", "host", "seq", "agent_id", "pid", "tid", "uid", "comm", "family",
           "saddr", "sport", "daddr", "dport", "probe", "direction", "established", "error",
           "duration_ns", "bytes_sent", "bytes_received", "retransmits", "state", "bytes",
           "latency_ns", "qname", "qtype", "end_reason", "connect_latency_ns",
           "bytes_sent_delta", "bytes_received_delta", "retransmits_delta"]


def clickhouse_roundtrip(compression):
    require_root()
    ch = ClickHouse()
    with open(os.path.join(ROOT, "schemas", "clickhouse.sql")) as f:
        sql = "\n".join(l for l in f.read().splitlines() if not l.startswith("--"))
    for stmt in [s for s in sql.split(";") if s.strip()]:
        ch.query(stmt)
    ts = start(url=ch.insert_url("tcp_events"), fmt="ndjson",
               extra={"compression": compression, "batch": {"max_delay": "200ms"}},
               others=[{"type": "stdout"}], args=("--flow-interval", "1s"))
    # alive 2.5 s: its ends' flow reports go into the table too
    gts = [trig("tcp_pair", "-d", 2500)]
    gts += [trig("tcp_pair") for _ in range(10)]
    gts.append(trig("tcp_pair", "-6"))
    # a hostile task name: quotes, a backslash, a control byte, invalid UTF-8
    gts.append(trig("tcp_pair", "-c", "22275c01ff41"))
    p = pids(*gts)
    ts.wait_events(lambda e: e.get("pid") in p and e["type"] != "flow", count=4 * len(gts),
                   what="trigger events")
    ts.stop()
    total, sinks = ts.exit_line()
    s = [v for k, v in sinks.items() if k.startswith("http")][0]
    assert s["out"] == total["events"] == sinks["stdout"]["out"], (s, total)
    if compression == "gzip":
        assert s["sent_bytes"] * 3 < s["body_bytes"], s
    agent = ts.events[0]["agent_id"]
    (cnt,) = ch.rows(f"SELECT count() AS n, uniqExact(seq) AS u, min(seq) AS lo, "
                     f"max(seq) AS hi FROM tcp_events WHERE agent_id = '{agent}'")
    # every event once: as many rows as events, no seq twice, no gap
    assert cnt["n"] == cnt["u"] == s["out"] == cnt["hi"] - cnt["lo"] + 1, (cnt, s)
    rows = {r["seq"]: r for r in ch.rows(
        f"SELECT *, toString(event_time) AS et, event_ns FROM tcp_events "
        f"WHERE agent_id = '{agent}'")}
    mine_evs = [e for e in ts.events if e.get("pid") in p]
    assert len([e for e in mine_evs if e["type"] != "flow"]) == 4 * len(gts)
    assert {e["direction"] for e in mine_evs if e["type"] == "flow"} == \
        {"inbound", "outbound"}, mine_evs
    for e in ts.events:
        r = rows[e["seq"]]
        for col in COLUMNS:
            want = e.get(col)
            if isinstance(want, bool):
                want = int(want)
            assert r[col] == want, (col, r[col], want, e)
        assert r["et"] == e["time"][:10] + " " + e["time"][11:19], (r["et"], e["time"])
        assert r["event_ns"] == int(e["time"][20:29]), (r["event_ns"], e["time"])
    hostile = [r for r in rows.values() if r["pid"] == gts[-1]["client_pid"]]
    assert hostile and hostile[0]["comm"] == '"\'\\\x01\ufffdA', hostile[0]["comm"]


def test_clickhouse_every_event_once_plain():
    clickhouse_roundtrip("none")


def test_clickhouse_every_event_once_gzip():
    clickhouse_roundtrip("gzip")
