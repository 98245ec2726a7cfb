"""The syslog sink against real receivers.

rsyslog from Debian (tests/lib/syslogd.py) takes tcpship's messages over
UDP, TCP with octet counting, TLS and local sockets, and writes down what it
parsed: APP-NAME, PROCID, MSGID, PRI, every SD param and MSG are compared
with what tcpship wrote to a file output at the same time. Then the faults:
a receiver restarted mid-stream, a collector that stops reading beside a file
output, messages over max_message, a TLS peer that does not verify.
"""
import datetime
import json
import os
import re
import socket
import subprocess
import tempfile

from syslogd import (Rsyslogd, StalledServer, StreamUnixServer, SyslogNg, free_port, make_ca,
                     make_server_cert)
from tslib import Tcpship, at_cleanup, require_root, run_tcpship, trig, wait_until

# a client task named  A " \ ] newline 0x01 0xff é
HOSTILE = "41225c5d0a01ffc3a9"
SD_ID = "tcpship@32473"


def tmpdir():
    d = tempfile.mkdtemp(prefix="tcpship-syslog-")
    at_cleanup(lambda: subprocess.run(["rm", "-rf", d]))
    return d


def file_lines(path):
    """{seq: (line bytes without the newline, parsed)} of a file output."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {}
    out = {}
    for line in data.split(b"\n")[:-1]:    # a partial last line waits
        ev = json.loads(line)
        out[ev["seq"]] = (line, ev)
    return out


def mine(lines, *gts):
    """The events of these tcp_pair runs (both ends of each flow)."""
    flows = [{g["client_port"], g["server_port"]} for g in gts]
    return {s: v for s, v in lines.items()
            if {v[1].get("sport"), v[1].get("dport")} in flows}


def write_config(d, outputs, **top):
    path = os.path.join(d, f"tcpship-{len(os.listdir(d))}.json")
    with open(path, "w") as f:
        json.dump({"outputs": outputs, **top}, f)
    return path


def sd_text(raw_comm):
    """comm as the SD param must carry it: control bytes and every byte that
    does not start a valid UTF-8 sequence as U+FFFD."""
    out, i = [], 0
    while i < len(raw_comm):
        for n in (4, 3, 2, 1):
            try:
                ch = raw_comm[i:i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) != 1:    # one code point at a time
                continue
            out.append("\ufffd" if ord(ch) < 0x20 or ord(ch) == 0x7f else ch)
            i += n
            break
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out)


def parse_sd(s):
    """RFC 5424 STRUCTURED-DATA, by the RFC's grammar: {SD-ID: {name: value}}.
    Raises ValueError on anything the grammar does not allow."""
    if s == "-":
        return {}
    out, i = {}, 0

    def name(i):
        j = i
        while j < len(s) and 33 <= ord(s[j]) <= 126 and s[j] not in '= ]"':
            j += 1
        if j == i or j - i > 32:
            raise ValueError(f"bad SD-NAME at {i} in {s!r}")
        return s[i:j], j
    while i < len(s):
        if s[i] != "[":
            raise ValueError(f"'[' expected at {i} in {s!r}")
        sd_id, i = name(i + 1)
        params = out.setdefault(sd_id, {})
        while s[i] == " ":
            pname, i = name(i + 1)
            if s[i:i + 2] != '="':
                raise ValueError(f"'=\"' expected at {i} in {s!r}")
            i += 2
            val = []
            while s[i] != '"':
                if s[i] == "\\" and s[i + 1] in '"\\]':
                    val.append(s[i + 1])
                    i += 2
                elif s[i] in '"]':
                    raise ValueError(f"unescaped {s[i]!r} at {i} in {s!r}")
                else:
                    val.append(s[i])
                    i += 1
            params[pname] = "".join(val)
            i += 1
        if s[i] != "]":
            raise ValueError(f"']' expected at {i} in {s!r}")
        i += 1
    return out


def want_severity(ev):
    failed = ev["type"] == "close" and (not ev["established"] or "error" in ev)
    return 5 if ev["type"] == "retransmit" or failed else 6


def want_params(ev, hexes):
    p = {}
    if "pid" in ev:
        p["pid"] = str(ev["pid"])
        # the kernel's bytes, from the trigger's own ground truth when it set them
        raw = hexes.get(ev["pid"])
        p["comm"] = sd_text(raw) if raw is not None else sd_text(ev["comm"].encode())
    if "saddr" in ev:
        p["saddr"], p["sport"] = ev["saddr"], str(ev["sport"])
    p["daddr"], p["dport"] = ev["daddr"], str(ev["dport"])
    return p


def records(rs, inp, version=None):
    return [r for r in rs.records() if r["input"] == inp and r["app"] == "tcpship"
            and (version is None or r["version"] == version)]


def by_seq(recs):
    """rsyslog records keyed by the seq of the event in MSG; every MSG must
    be one whole JSON object (no corrupted or merged frame)."""
    out = {}
    for r in recs:
        msg = r["msg"][1:] if r["version"] != "1" and r["msg"].startswith(" ") else r["msg"]
        ev = json.loads(msg)
        assert ev["seq"] not in out, f"seq {ev['seq']} received twice"
        out[ev["seq"]] = (r, msg)
    return out


def check_record(r, msg, line, ev, *, fmt, pid, hexes, host):
    """One message as rsyslog parsed it against the event in the file."""
    assert json.loads(msg) == ev and msg.encode() == line, (msg, line)
    sev = want_severity(ev)
    assert (r["pri"], r["facility"], r["severity"]) == (str(3 * 8 + sev), "3", str(sev)), \
        (r, ev)
    assert r["hostname"] == host, (r["hostname"], host)
    assert not any(ord(c) < 0x20 or ord(c) == 0x7f for c in r["raw"]), r["raw"]
    if fmt == "rfc3164":
        assert r["version"] == "0" and r["tag"] == f"tcpship[{pid}]:", r
        assert r["procid"] == str(pid), r
        return
    assert r["version"] == "1", r
    assert (r["app"], r["procid"], r["msgid"]) == ("tcpship", str(pid), ev["type"]), r
    want = {SD_ID: want_params(ev, hexes)}
    assert parse_sd(r["sd"]) == want, (r["sd"], want)
    assert r["sdp"].get("rfc5424-sd") == want, (r["sdp"], want)
    # the event's time to the microsecond
    t = datetime.datetime.fromisoformat(r["timestamp"])
    e = datetime.datetime.fromisoformat(ev["time"][:26] + "+00:00")
    assert t == e, (r["timestamp"], ev["time"])


def run_pairs():
    gts = [trig("tcp_pair"), trig("tcp_pair", "-c", HOSTILE), trig("tcp_pair", "-6")]
    hexes = {g["client_pid"]: bytes.fromhex(g["client_comm_hex"])[:15].split(b"\0")[0]
             for g in gts}
    return gts, hexes


def deliver_and_check(rs, d, entries, inputs, host=None):
    """tcpship with a file output and the syslog entries; three loopback
    connections (one with a hostile task name, one over IPv6); every event
    of them must reach rsyslog through each (input, version, format) and
    read back exactly."""
    path = os.path.join(d, "events.jsonl")
    conf = write_config(d, [{"type": "file", "path": path}, *entries])
    ts = Tcpship("-c", conf)
    gts, hexes = run_pairs()
    want = wait_until(lambda: (m := mine(file_lines(path), *gts)) and len(m) >= 12 and m, 15,
                      "12 events in the file output")
    host = host or socket.gethostname()
    for inp, version, fmt in inputs:
        got = wait_until(lambda: (b := by_seq(records(rs, inp, version))) and
                         set(want) <= set(b) and b, 20,
                         f"the events through {inp} ({fmt}) in rsyslog")
        for seq, (line, ev) in want.items():
            r, msg = got[seq]
            check_record(r, msg, line, ev, fmt=fmt, pid=ts.proc.pid, hexes=hexes, host=host)
    assert ts.stop() == 0, ts.stderr
    _, sinks = ts.exit_line()
    for e in entries:
        s = sinks[e["url"]]
        assert s["sent"] == s["out"] and s["dropped_error"] == 0, (e["url"], s)
    return ts


def test_syslog_udp_rfc5424_and_rfc3164():
    require_root()
    d = tmpdir()
    rs = Rsyslogd(d, udp=True)
    url = f"syslog://127.0.0.1:{rs.udp_port}"
    deliver_and_check(rs, d, [{"type": "syslog", "url": url},
                              {"type": "syslog", "url": url.replace("syslog:", "syslog+udp:"),
                               "format": "rfc3164"}],
                      [("udp", "1", "rfc5424"), ("udp", "0", "rfc3164")])


def test_syslog_tcp_octet_counting_rfc5424_and_rfc3164():
    require_root()
    d = tmpdir()
    rs = Rsyslogd(d, tcp=True)
    # the second by name: localhost may resolve to ::1 first, where
    # nothing listens, and 127.0.0.1 next
    deliver_and_check(rs, d, [
        {"type": "syslog", "url": f"syslog+tcp://127.0.0.1:{rs.tcp_port}"},
        {"type": "syslog", "url": f"syslog+tcp://localhost:{rs.tcp_port}", "format": "rfc3164"},
    ], [("tcp", "1", "rfc5424"), ("tcp", "0", "rfc3164")])


def test_syslog_tcp_second_receiver_syslog_ng():
    """The same TCP stream through another implementation's parser: every
    SD param as syslog-ng parsed it, APP-NAME, PROCID, MSGID, PRI, MSG."""
    require_root()
    d = tmpdir()
    ng = SyslogNg(d)
    path = os.path.join(d, "events.jsonl")
    url = f"syslog+tcp://127.0.0.1:{ng.port}"
    conf = write_config(d, [{"type": "file", "path": path}, {"type": "syslog", "url": url}])
    ts = Tcpship("-c", conf)
    gts, hexes = run_pairs()
    want = wait_until(lambda: (m := mine(file_lines(path), *gts)) and len(m) >= 12 and m, 15,
                      "12 events in the file output")
    got = wait_until(lambda: (b := by_seq(ng.records())) and set(want) <= set(b) and b, 20,
                     "the events in syslog-ng")
    for seq, (line, ev) in want.items():
        r, msg = got[seq]
        assert msg.encode() == line, (msg, line)
        sev = want_severity(ev)
        assert (r["app"], r["procid"], r["msgid"]) == ("tcpship", str(ts.proc.pid), ev["type"])
        assert (r["pri"], r["facility"], r["severity"]) == (str(24 + sev), "3", str(sev)), r
        assert r["sdp"] == {SD_ID: want_params(ev, hexes)}, (r["sdp"], ev)
        assert r["hostname"] == socket.gethostname()
        assert (datetime.datetime.fromisoformat(r["timestamp"]) ==
                datetime.datetime.fromisoformat(ev["time"][:26] + "+00:00")), (r, ev["time"])
    assert ts.stop() == 0


def tls_receiver(d):
    ca = make_ca(d, "test-ca")
    srv = make_server_cert(d, ca)
    return ca, Rsyslogd(d, tls=(ca[0], *srv))


def test_syslog_tls_rfc5424_and_rfc3164():
    require_root()
    d = tmpdir()
    ca, rs = tls_receiver(d)
    # by address (checked against the IP SAN) and by name (DNS SAN, SNI)
    deliver_and_check(rs, d, [
        {"type": "syslog", "url": f"syslog+tls://127.0.0.1:{rs.tls_port}",
         "tls": {"ca_file": ca[0]}},
        {"type": "syslog", "url": f"syslog+tls://localhost:{rs.tls_port}", "format": "rfc3164",
         "tls": {"ca_file": ca[0]}},
    ], [("tls", "1", "rfc5424"), ("tls", "0", "rfc3164")])


def test_syslog_tls_client_certificate():
    """A collector that wants a client certificate signed by its CA."""
    require_root()
    d = tmpdir()
    ca = make_ca(d, "test-ca")
    srv = make_server_cert(d, ca)
    client = make_server_cert(d, ca, name="client", usage="clientAuth")
    rs = Rsyslogd(d, tls=(ca[0], *srv), tls_auth="x509/certvalid")
    deliver_and_check(rs, d, [
        {"type": "syslog", "url": f"syslog+tls://127.0.0.1:{rs.tls_port}",
         "tls": {"ca_file": ca[0], "cert": client[0], "key": client[1]}},
    ], [("tls", "1", "rfc5424")])
    # a key that is not the certificate's is a configuration mistake
    conf = write_config(d, [{"type": "syslog", "url": f"syslog+tls://127.0.0.1:{rs.tls_port}",
                             "tls": {"ca_file": ca[0], "cert": client[0], "key": srv[1]}}])
    one_line_error(run_tcpship("-c", conf), 2, "tls.key")


def test_syslog_unix_socket_rfc5424_and_local_form():
    require_root()
    d = tmpdir()
    p3164, p5424 = os.path.join(d, "log3164"), os.path.join(d, "log5424")
    rs = Rsyslogd(d, unix=p3164, unix5424=p5424)
    deliver_and_check(rs, d, [{"type": "syslog", "url": f"syslog+unix://{p5424}"},
                              {"type": "syslog", "url": f"syslog+unix://{p3164}",
                               "format": "rfc3164"}],
                      [("imuxsock", "1", "rfc5424"), ("imuxsock", "0", "rfc3164")])


def one_line_error(p, code, *words):
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert p.returncode == code, f"exit {p.returncode} != {code}: {p.stderr!r}"
    assert len(lines) == 1, f"want one line on stderr, got {lines!r}"
    for w in words:
        assert w in lines[0], f"{w!r} not in {lines[0]!r}"
    return lines[0]


def test_syslog_tls_peer_that_does_not_verify_is_fatal_at_start():
    require_root()
    d = tmpdir()
    ca, rs = tls_receiver(d)
    other = make_ca(d, "other-ca")
    url = f"syslog+tls://127.0.0.1:{rs.tls_port}"
    # a CA that did not sign the server's certificate
    conf = write_config(d, [{"type": "syslog", "url": url, "tls": {"ca_file": other[0]}}])
    # (rsyslog sends its CA along: OpenSSL calls that a self-signed
    # certificate in the chain rather than an unknown issuer)
    line = one_line_error(run_tcpship("-c", conf), 1,
                          f"TLS handshake with 127.0.0.1:{rs.tls_port} failed: "
                          "certificate verify failed (")
    assert re.search(r"\((unable to get local issuer certificate|self-signed certificate in "
                     r"certificate chain)\)$", line), line
    # the right CA, the wrong name
    conf = write_config(d, [{"type": "syslog", "url": url,
                             "tls": {"ca_file": ca[0], "server_name": "wrong.example"}}])
    one_line_error(run_tcpship("-c", conf), 1, "hostname mismatch")
    # the system's CAs (no ca_file) do not know the test CA either
    one_line_error(run_tcpship("-o", url), 1, "certificate verify failed")
    # files that cannot be read are a configuration mistake
    conf = write_config(d, [{"type": "syslog", "url": url,
                             "tls": {"ca_file": os.path.join(d, "nonexistent.pem")}}])
    one_line_error(run_tcpship("-c", conf), 2, "tls.ca_file", "nonexistent.pem",
                   "No such file")
    # verify off, when asked for explicitly: it ships. To a receiver of its
    # own: the handshakes aborted above can leave rsyslog's ossl driver with
    # sessions in a retry state that stall its other sessions (rsyslog#4859)
    d2 = os.path.join(d, "verify-off")
    os.makedirs(d2)
    _, rs = tls_receiver(d2)
    url = f"syslog+tls://127.0.0.1:{rs.tls_port}"
    path = os.path.join(d, "ev.jsonl")
    conf = write_config(d, [{"type": "file", "path": path},
                            {"type": "syslog", "url": url, "tls": {"verify": False}}])
    ts = Tcpship("-c", conf)
    gt = trig("tcp_pair")
    want = wait_until(lambda: (m := mine(file_lines(path), gt)) and len(m) == 4 and m, 15,
                      "4 events in the file")
    try:
        wait_until(lambda: set(want) <= set(by_seq(records(rs, "tls"))), 20,
                   "the events in rsyslog with verify off")
    except AssertionError as e:
        ts.stop()
        got = by_seq(records(rs, "tls"))
        raise AssertionError(f"{e}: rsyslog has {len(got)} events, {len(set(want) & set(got))} "
                             f"of the 4; tcpship: {ts.stderr[-700:]!r}; "
                             f"{rs.diag()}") from None
    ts.stop()


def test_syslog_connect_refused_at_start_is_a_warning():
    require_root()
    port = free_port()
    ts = Tcpship("-o", f"syslog+tcp://127.0.0.1:{port}")
    assert f"cannot connect to 127.0.0.1:{port}: Connection refused; will retry" in ts.stderr, \
        ts.stderr
    assert ts.stop() == 0


def test_syslog_bad_urls_exit_2():
    for spec, words in [("syslog+ftp://h", ["unknown syslog URL"]),
                        ("syslog://h:0", ["port"]),
                        ("syslog+tcp://::1:514", ["brackets"]),
                        ("syslog+tcp://no-such-host.invalid", ["cannot resolve",
                                                               "no-such-host.invalid"])]:
        one_line_error(run_tcpship("-o", spec), 2, spec.split("://")[0], *words)


def stats(ts, url):
    total, sinks = ts.exit_line()
    s = sinks[url]
    accounted = s["out"] + s["dropped_full"] + s["dropped_error"] + s["dropped_exit"]
    assert accounted == total["events"], f"{url}: {s} does not add up to {total['events']}"
    return total, s


def test_syslog_tcp_receiver_restarted_mid_stream():
    """rsyslog stops while tcpship ships and starts again on the same port:
    tcpship reconnects, every frame rsyslog got parses, nothing arrives
    twice, and the exit line accounts for every event."""
    require_root()
    d = tmpdir()
    rs = Rsyslogd(d, tcp=True)
    url = f"syslog+tcp://127.0.0.1:{rs.tcp_port}"
    path = os.path.join(d, "events.jsonl")
    conf = write_config(d, [{"type": "file", "path": path},
                            {"type": "syslog", "url": url, "timeout": "2s"}])
    ts = Tcpship("-c", conf)

    def delivered(gts, what, timeout=20):
        want = wait_until(lambda: (m := mine(file_lines(path), *gts)) and
                          len(m) == 4 * len(gts) and m, 15, f"{what} in the file")
        wait_until(lambda: set(want) <= set(by_seq(records(rs, "tcp"))), timeout,
                   f"{what} in rsyslog")

    before = [trig("tcp_pair") for _ in range(3)]
    delivered(before, "events before the restart")
    rs.stop()
    during = [trig("tcp_pair") for _ in range(3)]
    wait_until(lambda: "connection to 127.0.0.1" in ts.stderr and "lost" in ts.stderr, 15,
               "tcpship to notice the lost connection")
    rs.start()
    after = [trig("tcp_pair") for _ in range(3)]
    # the backoff is capped at 30 s: the events held meanwhile come too
    delivered(during + after, "events during and after the restart", timeout=60)
    assert ts.stop() == 0
    total, s = stats(ts, url)
    assert s["reconnects"] >= 1, s
    got = by_seq(records(rs, "tcp"))       # every frame parses, none twice
    lines = file_lines(path)
    for seq, (r, msg) in got.items():
        assert msg.encode() == lines[seq][0], (msg, lines[seq][0])
    wait_until(lambda: len(by_seq(records(rs, "tcp"))) >= s["out"] - s["maybe_lost"], 20,
               "rsyslog to have all but the maybe_lost ones")
    got = by_seq(records(rs, "tcp"))
    assert len(got) <= s["out"], (len(got), s)
    missing = set(lines) - set(got)
    assert len(missing) <= s["maybe_lost"] + s["dropped_full"] + s["dropped_exit"], \
        (sorted(missing), s)
    lost = [l for l in ts.stderr_lines if "lost (" in l]
    assert lost and all("reconnecting" in l for l in lost), lost


def octet_frames(data):
    """RFC 6587 octet-counted frames: the messages, and what is left over."""
    msgs = []
    while data:
        m = re.match(rb"([1-9][0-9]{0,5}) ", data)
        assert m, f"not an octet count at {data[:40]!r}"
        n = int(m.group(1))
        if len(data) < m.end() + n:
            break
        msgs.append(data[m.end():m.end() + n])
        data = data[m.end() + n:]
    return msgs, data


def stalled(ts, url):
    """A --stats line says a send timed out (retries) and the queue dropped."""
    return re.search(rf"{re.escape(url)}: .* dropped_full=[1-9].* retries=[1-9]", ts.stderr)


def stall(ts, url, rounds=5):
    """Wait until the stalled sink has timed out and dropped; while it has
    not (the kernel's send buffer may still hold all there was), make more
    traffic, so the wait ends on the condition and never on the amount of
    buffering the kernel chose."""
    for i in range(rounds):
        try:
            return wait_until(lambda: stalled(ts, url), 5,
                              "the stalled sink to time out and drop")
        except AssertionError:
            if i == rounds - 1:
                raise
            trig("tcp_pair", "-n", "100000", "-k", "300")


def sink_caught_up(ts, url):
    """The last --stats line says every event is delivered or dropped."""
    for line in reversed(ts.stderr_lines):
        if line.startswith("tcpship: stats: "):
            parts = line[len("tcpship: stats: "):].split(" | ")
            total = int(re.search(r"events=(\d+)", parts[0]).group(1))
            for p in parts[1:]:
                if p.startswith(url + ": "):
                    c = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", p)}
                    return c["queued"] == 0 and total == (c["out"] + c["dropped_full"] +
                                                          c["dropped_error"] +
                                                          c["dropped_exit"])
            return False
    return False


def test_syslog_stalled_collector_does_not_stall_others():
    """A collector that accepts and never reads: its sends time out, its
    small queue fills and drops (counted); the file output beside it gets
    every event meanwhile. When the collector reads again the sink goes on
    where it stopped, on the same connection, every frame whole."""
    require_root()
    d = tmpdir()
    srv = StalledServer()
    url = f"syslog+tcp://127.0.0.1:{srv.port}"
    path = os.path.join(d, "events.jsonl")
    conf = write_config(d, [{"type": "file", "path": path},
                            {"type": "syslog", "url": url, "timeout": "300ms",
                             "queue": {"max_events": 50}}],
                        events=["connect", "accept", "close", "send", "recv"])
    ts = Tcpship("-c", conf, "--stats=200ms")
    gts = [trig("tcp_pair", "-n", "400000", "-k", "1000") for _ in range(2)]

    def sends(lines):
        return [v for v in mine(lines, *gts).values()
                if v[1]["type"] == "send" and v[1]["pid"] in {g["client_pid"] for g in gts}]
    wait_until(lambda: len(sends(file_lines(path))) == 2000, 15,
               "every send event in the file while syslog is stalled")
    assert len(srv.conns) == 1, "tcpship did not connect to the stalled collector once"
    stall(ts, url)
    srv.resume()
    wait_until(lambda: sink_caught_up(ts, url), 45, "the sink to catch up once read again")
    assert ts.stop() == 0
    total, s = stats(ts, url)
    assert s["dropped_full"] > 0 and s["dropped_exit"] == 0 and s["reconnects"] == 0, s
    assert s["out"] < total["events"] and s["sent"] == s["out"], s
    _, sinks = ts.exit_line()
    f = sinks[f"file:{path}"]
    assert f["out"] == total["events"] and f["dropped_full"] == f["dropped_exit"] == 0, f
    lines = file_lines(path)
    assert len(lines) == total["events"]
    data = wait_until(lambda: srv.eof() and srv.received(), 15, "the collector to see EOF")
    frames, rest = octet_frames(data)
    assert rest == b"", f"a partial frame at the end: {rest[:80]!r}"
    assert len(frames) == s["sent"], (len(frames), s)
    seqs = []
    for m in frames:
        head, sep, body = m.partition(b"] {")
        assert sep and head.startswith(b"<"), m[:200]
        ev = json.loads(b"{" + body)
        assert lines[ev["seq"]][0] == b"{" + body
        seqs.append(ev["seq"])
    assert len(set(seqs)) == len(seqs) and seqs == sorted(seqs), "duplicates or reordering"


def test_syslog_tcp_reset_counts_what_may_be_lost():
    """The collector resets a stalled connection: what the kernel had not
    seen acknowledged is counted maybe_lost (exactly, for plain TCP), a
    frame cut short is sent again whole on the new connection, no frame is
    sent twice, and every event is delivered, dropped or maybe_lost."""
    require_root()
    d = tmpdir()
    srv = StalledServer()
    url = f"syslog+tcp://127.0.0.1:{srv.port}"
    path = os.path.join(d, "events.jsonl")
    conf = write_config(d, [{"type": "file", "path": path},
                            {"type": "syslog", "url": url, "timeout": "300ms",
                             "queue": {"max_events": 50}}],
                        events=["connect", "accept", "close", "send", "recv"])
    ts = Tcpship("-c", conf, "--stats=200ms")
    gt = trig("tcp_pair", "-n", "400000", "-k", "1000")
    wait_until(lambda: len([v for v in mine(file_lines(path), gt).values()
                            if v[1]["type"] == "send" and v[1]["pid"] == gt["client_pid"]])
               == 1000, 15, "the send events in the file")
    stall(ts, url)
    held = srv.reset_first_and_resume()
    wait_until(lambda: "lost (Connection reset by peer)" in ts.stderr, 15,
               "tcpship to notice the reset")
    wait_until(lambda: sink_caught_up(ts, url), 45, "the sink to catch up")
    assert ts.stop() == 0
    total, s = stats(ts, url)
    assert s["reconnects"] == 1 and s["maybe_lost"] > 0 and s["sent"] == s["out"], s
    said = re.search(r"lost \(Connection reset by peer\); (\d+) sent messages may be lost "
                     r"\((\d+) bytes unacknowledged\); reconnecting", ts.stderr)
    assert said and int(said.group(1)) == s["maybe_lost"], ts.stderr[-1500:]
    first, _ = octet_frames(held)
    data = wait_until(lambda: srv.eof() and srv.received(), 15, "the collector to see EOF")
    second, rest = octet_frames(data)
    assert rest == b"", f"a partial frame at the end: {rest[:80]!r}"

    def seqs(frames):
        out = []
        for m in frames:
            head, sep, body = m.partition(b"] {")
            assert sep and head.startswith(b"<"), m[:200]
            out.append(json.loads(b"{" + body)["seq"])
        return out
    s1, s2 = seqs(first), seqs(second)
    assert not set(s1) & set(s2), f"sent twice: {sorted(set(s1) & set(s2))[:10]}"
    assert len(set(s2)) == len(s2)
    # written whole: what the collector had, what was in flight, what came after
    assert s["sent"] == len(s1) + s["maybe_lost"] + len(s2), (s, len(s1), len(s2))
    missing = set(file_lines(path)) - set(s1) - set(s2)
    assert len(missing) == s["maybe_lost"] + s["dropped_full"], (len(missing), s)


def test_syslog_message_over_max_message_is_cut_marked_and_counted():
    require_root()
    d = tmpdir()
    rs = Rsyslogd(d, tcp=True, udp=True)
    t_url = f"syslog+tcp://127.0.0.1:{rs.tcp_port}"
    u_url = f"syslog://127.0.0.1:{rs.udp_port}"
    path = os.path.join(d, "events.jsonl")
    conf = write_config(d, [{"type": "file", "path": path},
                            {"type": "syslog", "url": t_url, "max_message": 480},
                            # a long HOSTNAME: close events do not fit in 480
                            {"type": "syslog", "url": u_url, "max_message": "480",
                             "format": "rfc3164",
                             "hostname": "a-long-host-name-for-the-truncation-test.in-a-"
                                         "long-subdomain.example.com"}])
    ts = Tcpship("-c", conf)
    gts = [trig("tcp_pair"), trig("tcp_pair", "-c", HOSTILE)]
    wait_until(lambda: len(mine(file_lines(path), *gts)) == 8, 15, "8 events in the file")
    assert ts.stop() == 0
    _, st = stats(ts, t_url)
    _, su = stats(ts, u_url)
    lines = file_lines(path)

    def seq_of(msg):
        return int(re.search(r'"seq":(\d+),', msg).group(1))

    for inp, s, version in (("tcp", st, "1"), ("udp", su, "0")):
        recs = wait_until(lambda: len(r := records(rs, inp, version)) >= s["out"] and r, 20,
                          f"all {s['out']} messages through {inp}")
        assert len(recs) == s["out"], (len(recs), s)
        cut = 0
        for r in recs:
            assert len(r["raw"].encode()) <= 480, r["raw"]
            msg = r["msg"] if version == "1" else r["msg"][1:]
            line = lines[seq_of(msg)][0]
            if version == "1":
                n = r["sdp"]["rfc5424-sd"][SD_ID].get("truncated")
                assert n == parse_sd(r["sd"])[SD_ID].get("truncated"), r
            else:
                m = re.search(r" \[truncated (\d+)\]$", msg)
                n = m and m.group(1)
                msg = msg[:m.start()] if m else msg
            if n is None:
                assert msg.encode() == line, (msg, line)
                continue
            cut += 1
            assert int(n) == len(line), (n, len(line))
            assert line.startswith(msg.encode()) and len(msg.encode()) < len(line), (msg, line)
        # close events (the longest lines) of our flows did not fit
        assert cut >= 4, f"{inp}: only {cut} messages cut"
        assert s["truncated"] == cut, (s, cut)


def test_syslog_unix_stream_socket_gets_newline_framing():
    require_root()
    d = tmpdir()
    srv = StreamUnixServer(os.path.join(d, "stream.sock"))
    path = os.path.join(d, "events.jsonl")
    conf = write_config(d, [{"type": "file", "path": path},
                            {"type": "syslog", "url": f"syslog+unix://{srv.path}",
                             "format": "rfc3164", "app_name": "tcpship"}])
    ts = Tcpship("-c", conf)
    gt = trig("tcp_pair", "-c", HOSTILE)
    want = wait_until(lambda: (m := mine(file_lines(path), gt)) and len(m) == 4 and m, 15,
                      "4 events in the file")

    def got():
        with srv.lock:
            data = srv.data
        msgs = {}
        for m in data.split(b"\n")[:-1]:
            head, _, body = m.partition(f"tcpship[{ts.proc.pid}]: ".encode())
            assert re.fullmatch(rb"<\d+>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ", head), m
            msgs[json.loads(body)["seq"]] = body
        return set(want) <= set(msgs) and msgs
    msgs = wait_until(got, 15, "the messages on the stream socket")
    for seq, (line, _) in want.items():
        assert msgs[seq] == line
    ts.stop()


def cef_expected_proc(raw):
    """A task name as CEF carries it: control bytes (CR and LF are escaped,
    so they come back) and invalid UTF-8 as U+FFFD."""
    out, i = [], 0
    while i < len(raw):
        for n in (4, 3, 2, 1):
            try:
                ch = raw[i:i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                break
        else:
            out.append("\ufffd")
            i += 1
            continue
        c = ord(ch)
        out.append("\ufffd" if (c < 0x20 and ch not in "\r\n") or c == 0x7f else ch)
        i += n
    return "".join(out)


def test_syslog_cef_is_the_msg_of_rfc5424_and_rfc3164():
    """"schema": "cef" on syslog: MSG is the CEF record (parsed back by the
    strict parser), the header stays tcpship's (MSGID the type, the SD
    params), and a hostile task name adds no key."""
    require_root()
    from cef import parse_cef
    d = tmpdir()
    rs = Rsyslogd(d, tcp=True)
    path = os.path.join(d, "events.jsonl")
    url5, url3 = (f"syslog+tcp://127.0.0.1:{rs.tcp_port}", f"syslog+tcp://localhost:{rs.tcp_port}")
    conf = write_config(d, [{"type": "file", "path": path},
                            {"type": "syslog", "url": url5, "schema": "cef"},
                            {"type": "syslog", "url": url3, "format": "rfc3164",
                             "schema": "cef"}])
    ts = Tcpship("-c", conf)
    gts, hexes = run_pairs()
    want = wait_until(lambda: (m := mine(file_lines(path), *gts)) and len(m) >= 12 and m, 15,
                      "12 events in the file output")

    def cef_by_seq(version):
        out = {}
        for r in records(rs, "tcp", version):
            msg = r["msg"][1:] if version == "0" and r["msg"].startswith(" ") else r["msg"]
            head, ext = parse_cef(msg)      # raises on anything malformed
            assert int(ext["cn3"]) not in out, f"seq {ext['cn3']} twice"
            out[int(ext["cn3"])] = (r, head, ext)
        return out
    for version in ("1", "0"):
        got = wait_until(lambda: (b := cef_by_seq(version)) and set(want) <= set(b) and b, 20,
                         f"the CEF records (syslog version {version}) in rsyslog")
        for seq, (_, ev) in want.items():
            r, head, ext = got[seq]
            assert head[:3] == ["0", "tcpship", "tcpship"] and head[3], head
            sig = ("connect-failed" if ev.get("error") and not ev.get("established") else
                   "close-error" if ev.get("error") else ev["type"])
            assert head[4] == sig and head[6] == ("7" if ev.get("error") else "3"), (head, ev)
            t = datetime.datetime.fromisoformat(ev["time"][:26] + "+00:00")
            assert ext["act"] == ev["type"], (ext, ev)
            assert int(ext["rt"]) == int(t.timestamp() * 1000 + 1e-6), (ext["rt"], ev["time"])
            server = ev["type"] == "accept" or (ev["type"] == "close" and
                                                ev.get("direction") == "inbound")
            p = "d" if server else "s"
            assert ext[p + "pid"] == str(ev["pid"]), (ext, ev)
            raw = hexes[ev["pid"]] if ev["pid"] in hexes else ev["comm"].encode()
            assert ext[p + "proc"] == cef_expected_proc(raw), (ext[p + "proc"], raw)
            lip, rip = (("src", "dst") if not server else ("dst", "src"))
            assert ext[lip] == ev["saddr"] and ext[rip] == ev["daddr"], (ext, ev)
            assert set(ext) <= CEF_KEYS, set(ext) - CEF_KEYS
            if version == "1":
                assert (r["app"], r["msgid"]) == ("tcpship", ev["type"]), r
                assert parse_sd(r["sd"]) == {SD_ID: want_params(ev, hexes)}, r["sd"]
            assert not any(ord(c) < 0x20 or ord(c) == 0x7f for c in r["raw"]), r["raw"]
    assert ts.stop() == 0, ts.stderr


CEF_KEYS = {"rt", "act", "deviceDirection", "proto", "src", "spt", "dst", "dpt", "spid", "sproc",
            "suid", "dpid", "dproc", "duid", "cs5Label", "cs5", "in", "out", "outcome", "reason",
            "start", "end", "cn1Label", "cn1", "cn2Label", "cn2", "cn3Label", "cn3", "cn4Label",
            "cn4", "flexString1Label", "flexString1", "dvchost",
            "deviceExternalId", "cs4Label", "cs4"}
