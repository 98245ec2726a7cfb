"""Real traffic on loopback, matched field by field against the ground truth
the trigger programs print about themselves."""
import socket

from tslib import Skip, Tcpship, by, netns, require_root, sh, trig

TCPSHIP_PROBE = None


def expected_probe():
    """The hook set `--probes auto` picks here, as --list-probes reports it."""
    global TCPSHIP_PROBE
    if TCPSHIP_PROBE is None:
        from tslib import run_tcpship
        p = run_tcpship("--list-probes")
        line = [l for l in p.stdout.splitlines() if l.startswith("auto picks:")][0]
        picks = dict(kv.split("=") for kv in line.split(":", 1)[1].split())
        TCPSHIP_PROBE = picks
    return TCPSHIP_PROBE


def comm_of(hexstr):
    """What the kernel keeps of a task name (15 bytes) as tcpship must print it."""
    raw = bytes.fromhex(hexstr)[:15].split(b"\0")[0]
    out = []
    i = 0
    # per-byte U+FFFD for every byte that does not start a valid sequence
    while i < len(raw):
        for n in (4, 3, 2, 1):
            try:
                out.append(raw[i:i + n].decode("utf-8"))
                i += n
                break
            except UnicodeDecodeError:
                continue
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out)


def check_pair(ts, gt, *, family, addr, probe):
    """connect + accept + both closes of one tcp_pair run, every field."""
    cp, sp = gt["client_port"], gt["server_port"]
    flow = lambda e: {e.get("sport"), e.get("dport")} == {cp, sp}
    conn = ts.wait_events(lambda e: e["type"] == "connect" and flow(e), what="connect")[0]
    acc = ts.wait_events(lambda e: e["type"] == "accept" and flow(e), what="accept")[0]
    closes = ts.wait_events(lambda e: e["type"] == "close" and flow(e), 2, what="2 closes")
    assert len(ts.matching(lambda e: e["type"] == "connect" and flow(e))) == 1, "one connect"
    comm = comm_of(gt["client_comm_hex"])
    for k, v in dict(pid=gt["client_pid"], tid=gt["client_tid"], uid=gt["uid"], comm=comm,
                     family=family, saddr=addr, sport=cp, daddr=addr, dport=sp,
                     probe=probe["connect"]).items():
        assert conn.get(k) == v, f"connect {k}: {conn.get(k)!r} != {v!r}"
    for k, v in dict(pid=gt["server_pid"], tid=gt["server_pid"], comm="ts-server",
                     family=family, saddr=addr, sport=sp, daddr=addr, dport=cp,
                     probe=probe["accept"]).items():
        assert acc.get(k) == v, f"accept {k}: {acc.get(k)!r} != {v!r}"
    client = [c for c in closes if c["sport"] == cp][0]
    server = [c for c in closes if c["sport"] == sp][0]
    for c, pid, direction, sent, rcvd in ((client, gt["client_pid"], "outbound", gt["sent"],
                                           gt["received"]),
                                          (server, gt["server_pid"], "inbound",
                                           gt["received"], gt["sent"])):
        want = dict(pid=pid, family=family, saddr=addr, daddr=addr, established=True,
                    direction=direction, bytes_sent=sent, bytes_received=rcvd,
                    probe=probe["state"], end_reason="fin")
        for k, v in want.items():
            assert c.get(k) == v, f"{direction} close {k}: {c.get(k)!r} != {v!r} in {c}"
        assert "error" not in c, c
        assert 0 < c["duration_ns"] < 30e9, c
        # loopback can retransmit too (a tail loss probe counts): the count
        # must agree with the retransmit events seen for this side
        rts = ts.matching(lambda e, c=c: e["type"] == "retransmit" and e["sport"] == c["sport"]
                          and e["dport"] == c["dport"])
        assert (c["retransmits"] == 0) == (not rts) and c["retransmits"] >= len(rts), (c, rts)
    assert client["comm"] == comm and server["comm"] == "ts-server"
    # the sequence numbers are unique and increasing in output order
    seqs = [e["seq"] for e in ts.matching(lambda e: True)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_ipv4_pair_exact_bytes():
    require_root()
    ts = Tcpship()
    gt = trig("tcp_pair", "-n", 12345, "-r", 54321, "-k", 3)
    check_pair(ts, gt, family="ipv4", addr="127.0.0.1", probe=expected_probe())
    assert ts.stop() == 0
    ts.assert_clean()


def test_ipv6_pair_exact_bytes():
    require_root()
    ts = Tcpship()
    gt = trig("tcp_pair", "-6", "-n", 1, "-r", 100000)
    check_pair(ts, gt, family="ipv6", addr="::1", probe=expected_probe())
    assert ts.stop() == 0
    ts.assert_clean()


def test_v4_mapped_shown_as_ipv4():
    require_root()
    ts = Tcpship("-e", "connect")
    gt = trig("tcp_pair", "-m")
    ev = ts.wait_events(by(type="connect", pid=gt["client_pid"]), what="connect")[0]
    assert ev["family"] == "ipv4" and ev["daddr"] == "127.0.0.1" and \
        ev["saddr"] == "127.0.0.1" and ev["dport"] == gt["server_port"], ev
    ts.stop()


def test_hostile_comm():
    require_root()
    ts = Tcpship()
    # quote, backslash, newline, \x01, a lone 0xff, ']', DEL, and a valid UTF-8 'é'
    name = b'a"b\\c\nd\x01\xff]\x7f\xc3\xa9'
    gt = trig("tcp_pair", "-c", name.hex())
    ev = ts.wait_events(by(type="connect", pid=gt["client_pid"]), what="connect")[0]
    assert ev["comm"] == 'a"b\\c\nd\x01\ufffd]\x7fé', repr(ev["comm"])
    raw = [l for l in ts.lines if f'"pid":{gt["client_pid"]},' in l and '"connect"' in l][0]
    assert raw.count("\n") == 1 and raw.endswith("}\n"), repr(raw)
    assert '\\u000a' in raw and '\\u0001' in raw and '\\u007f' in raw, raw
    ts.wait_events(by(type="close", pid=gt["client_pid"]), what="close")
    ts.stop()
    ts.assert_clean()


def test_hostile_comm_15_bytes_truncated():
    require_root()
    ts = Tcpship("-e", "connect")
    name = b"0123456789abcdefXYZ"
    gt = trig("tcp_pair", "-c", name.hex())
    ev = ts.wait_events(by(type="connect", pid=gt["client_pid"]), what="connect")[0]
    assert ev["comm"] == "0123456789abcde", ev["comm"]
    ts.stop()


def refused(family_flag, family, addr):
    require_root()
    ts = Tcpship()
    gt = trig("connect_fail", "refused", *family_flag)
    assert gt["errno"] == "ECONNREFUSED"
    c = ts.wait_events(by(type="close", pid=gt["pid"], dport=gt["dport"]), what="close")[0]
    for k, v in dict(established=False, error="ECONNREFUSED", bytes_sent=0, bytes_received=0,
                     family=family, daddr=addr, tid=gt["tid"], direction="outbound",
                     end_reason="refused").items():
        assert c.get(k) == v, f"close {k}: {c.get(k)!r} != {v!r}"
    conn = ts.wait_events(by(type="connect", pid=gt["pid"], dport=gt["dport"]),
                          what="connect")[0]
    assert conn["sport"] == c["sport"] and conn["sport"] > 0, (conn, c)
    assert conn["seq"] < c["seq"], "connect comes before its close"
    ts.stop()
    ts.assert_clean()


def test_refused_ipv4():
    refused([], "ipv4", "127.0.0.1")


def test_refused_ipv6():
    refused(["-6"], "ipv6", "::1")


def nft_drop(ns, port, match=""):
    sh("ip", "netns", "exec", ns, "nft", "add", "table", "inet", "tsdrop")
    sh("ip", "netns", "exec", ns, "nft", "add", "chain", "inet", "tsdrop", "in",
       "{ type filter hook input priority 0; }")
    sh("ip", "netns", "exec", ns, "nft", "add", "rule", "inet", "tsdrop", "in", "tcp", "dport",
       str(port), *match.split(), "drop")


def test_timeout_with_syn_retransmits():
    require_root()
    ns = netns("tstimeout")
    nft_drop(ns, 5002, "tcp flags syn")
    ts = Tcpship()
    gt = trig("connect_fail", "timeout", "127.0.0.1", 5002, netns=ns)
    assert gt["errno"] == "ETIMEDOUT", gt
    c = ts.wait_events(by(type="close", pid=gt["pid"], dport=5002), what="close")[0]
    assert c["established"] is False and c["error"] == "ETIMEDOUT", c
    assert c["end_reason"] == "timeout", c
    assert c["duration_ns"] >= 2.5e9, c
    rt = ts.wait_events(by(type="retransmit", pid=gt["pid"], dport=5002), what="retransmit")
    assert all(r["state"] == "SYN_SENT" and r["sport"] == c["sport"] for r in rt), rt
    conn = ts.matching(by(type="connect", pid=gt["pid"], dport=5002))
    # the connect record is out by the first SYN retransmission, ~1 s in
    assert len(conn) == 1 and conn[0]["seq"] < rt[0]["seq"], (conn, rt)
    ts.stop()
    ts.assert_clean()


def test_data_retransmits_counted():
    require_root()
    ns = netns("tsretrans")
    ts = Tcpship()
    block = ("nft add table inet tsrt; nft add chain inet tsrt in "
             "'{ type filter hook input priority 0; }'; nft add rule inet tsrt in tcp dport 5001 drop")
    gt = trig("tcp_retrans", 5001, block, "nft delete table inet tsrt", netns=ns)
    c = ts.wait_events(lambda e: e["type"] == "close" and e.get("pid") == gt["pid"] and
                       e["sport"] == gt["sport"], what="client close")[0]
    assert c["retransmits"] == gt["total_retrans"] >= 2, (c, gt)
    assert c["bytes_sent"] == gt["sent"] and c["established"], c
    rt = ts.matching(lambda e: e["type"] == "retransmit" and e["sport"] == gt["sport"])
    assert len(rt) >= 2 and all(r["state"] == "ESTABLISHED" and r["pid"] == gt["pid"]
                                for r in rt), rt
    ts.stop()
    ts.assert_clean()


def test_send_recv_bytes_and_latency():
    require_root()
    ts = Tcpship("-e", "send,recv")
    gt = trig("tcp_pair", "-n", 70000, "-r", 3000, "-d", 150)
    cp, sp = gt["client_port"], gt["server_port"]

    def total(pred):
        return sum(e["bytes"] for e in ts.matching(pred))
    client_sent = lambda e: e["type"] == "send" and e["sport"] == cp
    server_recv = lambda e: e["type"] == "recv" and e["sport"] == sp
    client_recv = lambda e: e["type"] == "recv" and e["sport"] == cp
    from tslib import wait_until
    wait_until(lambda: total(client_sent) == 70000 and total(server_recv) == 70000 and
               total(client_recv) == 3000, 15, "all bytes as send/recv events")
    assert all(e["pid"] == gt["client_pid"] for e in ts.matching(client_sent))
    assert all(e["pid"] == gt["server_pid"] for e in ts.matching(server_recv))
    # the client's first recv waited for the server's 150 ms delay
    first = ts.matching(client_recv)[0]
    assert first["latency_ns"] >= 140e6, first
    ts.stop()
    ts.assert_clean()


def test_min_latency_filters_fast_calls():
    require_root()
    ts = Tcpship("-e", "send,recv", "--min-latency", "100ms")
    gt = trig("tcp_pair", "-n", 500, "-r", 500, "-d", 300)
    cp = gt["client_port"]
    slow = ts.wait_events(lambda e: e["type"] == "recv" and e["sport"] == cp,
                          what="the slow recv")
    assert slow[0]["latency_ns"] >= 250e6, slow
    # the sends took microseconds: none of them may pass the filter
    quick = ts.matching(lambda e: e["type"] == "send" and e["sport"] in
                        (cp, gt["server_port"]))
    assert not quick, quick
    ts.stop()


def dns_expected(wire_hex):
    """Presentation form of a wire name (RFC 1035 escapes), written here
    independently of the C code under test."""
    w = bytes.fromhex(wire_hex)
    labels, i = [], 0
    while w[i]:
        n = w[i]
        lab = ""
        for b in w[i + 1:i + 1 + n]:
            c = chr(b)
            if c in '.\\";()@$':
                lab += "\\" + c
            elif b <= 0x20 or b >= 0x7f:
                lab += "\\%03d" % b
            else:
                lab += c
        labels.append(lab)
        i += n + 1
    return ".".join(labels) or "."


def dns_case(mode, server, qname, qtype="1", raw=""):
    require_root()
    ns = netns("tsdns")
    ts = Tcpship("-e", "dns")
    args = [mode, server, qname, qtype] + ([raw] if raw else [])
    gt = trig("dns_query", *args, netns=ns)
    assert gt["received"] >= 1, gt
    n = 2 if mode == "sendmmsg" else 1
    evs = ts.wait_events(by(type="dns", pid=gt["pid"]), n, what=f"{n} dns events")
    ev = evs[0]
    want_qname = dns_expected(gt["qname_wire_hex"])
    fam = "ipv6" if ":" in server else "ipv4"
    for k, v in dict(qname=want_qname, qtype={"1": "A", "28": "AAAA", "16": "TXT"}[qtype],
                     daddr=server, dport=53, family=fam, tid=gt["tid"],
                     bytes=gt["bytes"]).items():
        assert ev.get(k) == v, f"dns {k}: {ev.get(k)!r} != {v!r}"
    if mode == "sendmmsg":
        assert evs[1]["qtype"] == "AAAA" and evs[1]["qname"] == want_qname, evs[1]
    if mode in ("connect", "sendmmsg"):
        assert evs[0]["sport"] == gt["sport"], (evs[0], gt)
    ts.stop()
    ts.assert_clean()


def test_dns_sendto_ipv4():
    dns_case("sendto", "127.0.0.1", "www.example.com")


def test_dns_connected_send_ipv4():
    dns_case("connect", "127.0.0.1", "api.internal.corp", "28")


def test_dns_sendmmsg_glibc_style():
    dns_case("sendmmsg", "127.0.0.1", "db.prod.example")


def test_dns_sendmsg_ipv6():
    dns_case("sendmsg", "::1", "ipv6.example.org", "16")


def test_dns_hostile_qname():
    # a label holding '.', '\\', '"', a NUL, a newline and 0xff
    dns_case("sendto", "127.0.0.1", "evil.example", "1", b'a.b\\c"\x00\n\xff'.hex())


RESET = r"""
import json, os, socket, struct
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
c = socket.create_connection(srv.getsockname()); a, _ = srv.accept()
a.sendall(b"x" * 10)
c.recv(1)           # 9 bytes left unread: the close below sends an RST
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
cport = c.getsockname()[1]
c.close()
try:
    a.recv(10)      # the RST arrived: ECONNRESET on this end
except ConnectionResetError:
    pass
a.close()
print(json.dumps({"pid": os.getpid(), "cport": cport}))
"""


def test_end_reason_of_an_aborted_connection_is_reset_on_both_ends():
    """SO_LINGER 0 with unread data: this end sends an RST (ESTABLISHED ->
    CLOSE, no error), the other end gets it (ECONNRESET)."""
    require_root()
    import json as _json
    import subprocess as _sp
    import sys as _sys
    ts = Tcpship("-e", "connect,accept,close")
    p = _sp.run([_sys.executable, "-c", RESET], capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    g = _json.loads(p.stdout)
    closes = ts.wait_events(lambda e: e["type"] == "close" and
                            g["cport"] in (e.get("sport"), e.get("dport")), 2,
                            what="both closes")
    by_side = {e["sport"] == g["cport"]: e for e in closes}
    assert by_side[True]["end_reason"] == "reset" and "error" not in by_side[True], by_side
    assert by_side[False]["end_reason"] == "reset", by_side
    assert by_side[False]["error"] == "ECONNRESET", by_side
    ts.stop()
    ts.assert_clean()
