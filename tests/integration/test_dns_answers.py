"""dns events of answers: Debian's dnsmasq answers on 127.0.0.1:53 in a
namespace of our own (A, AAAA, a CNAME chain, NXDOMAIN), a stub answers
what no real server sends (the TC bit, a reply cut short, a compression
loop, garbage), and clients in the namespace ask the way resolvers do: an
unconnected socket with sendto/recvfrom (musl), a connected one with
send/recv, and glibc's own resolver (getent, through the namespace's
resolv.conf). Every answer is matched to its query by id, process and
server; every line is checked against the schema as it comes."""
import json
import os
import shutil
import subprocess
import sys

from tslib import Skip, Tcpship, at_cleanup, netns, require_root, tmpdir, trig, wait_until

CLIENT = r"""
import json, os, socket, struct, sys
name, qtype, qid, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
q += struct.pack(">HH", qtype, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
if mode == "connected":
    s.connect(("127.0.0.1", 53)); s.send(q); r = s.recv(4096)
else:
    s.sendto(q, ("127.0.0.1", 53)); r, _ = s.recvfrom(4096)
print(json.dumps({"pid": os.getpid(), "sport": s.getsockname()[1], "len": len(r),
                  "rcode": r[3] & 15, "id": struct.unpack(">H", r[:2])[0]}))
"""

STUB = r"""
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    q, a = s.recvfrom(512)
    qid, name = q[:2], q[12:]
    label = name[1:1 + name[0]].decode()
    hdr = lambda flags, an: qid + struct.pack(">HHHHH", flags, 1, an, 0, 0)
    a_rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + bytes([192, 0, 2, 1])
    if label == "tc":            # truncated by the server: TC set, no answers
        r = hdr(0x8380, 0) + name
    elif label == "cut":         # says two answers, carries one and a half
        r = hdr(0x8180, 2) + name + a_rr + a_rr[:7]
    elif label == "loop":        # an answer whose name points at itself
        r = hdr(0x8180, 1) + name + b"\xc0" + bytes([12 + len(name)]) + a_rr[2:]
    elif label == "garbage":     # not even a response (QR clear)
        r = qid + b"\x01\x00\xff\xfe" + bytes(range(40))
    else:
        r = hdr(0x8182, 0) + name  # SERVFAIL
    s.sendto(r, a)
"""


def require_dnsmasq():
    if not shutil.which("dnsmasq"):
        raise Skip("dnsmasq is not installed (packaging/deps.sh test installs dnsmasq-base)")


def serve(ns, args):
    p = subprocess.Popen(["ip", "netns", "exec", ns, *args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    at_cleanup(lambda: (p.kill(), p.wait(5)))
    return p


def dnsmasq(ns):
    d = tmpdir()
    p = serve(ns, ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                   "--no-hosts", "--port=53", "--listen-address=127.0.0.1", "--bind-interfaces",
                   "--user=root", f"--pid-file={d}/pid", "--local=/test/",
                   "--host-record=a.test,10.1.2.3,fd00::1:2", "--host-record=b.test,10.9.9.9",
                   "--host-record=svc.test,127.0.0.1", "--cname=www.test,b.test",
                   f"--log-facility={d}/log"])
    wait_until(lambda: ask(ns, "a.test", 1, 1, check=False) is not None or p.poll() is not None,
               10, "dnsmasq answering")
    assert p.poll() is None, p.stderr.read()
    return p


def ask(ns, name, qtype, qid, mode="unconnected", check=True):
    p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, name,
                        str(qtype), str(qid), mode], capture_output=True, text=True, timeout=20)
    if p.returncode:
        if check:
            raise AssertionError(f"client {name}: {p.stderr[-400:]}")
        return None
    return json.loads(p.stdout)


def pair(ts, c):
    """The client's query and answer, by its pid and the id."""
    mine = ts.wait_events(lambda e: e["type"] == "dns" and e.get("pid") == c["pid"], 2,
                          what=f"the query and answer of pid {c['pid']}")
    q = [e for e in mine if e["direction"] == "query"]
    a = [e for e in mine if e["direction"] == "answer"]
    assert len(q) == 1 and len(a) == 1, mine
    assert q[0]["id"] == a[0]["id"] == c["id"], (q, a, c)
    assert a[0]["sport"] == c["sport"] and a[0]["dport"] == 53, a
    assert a[0]["daddr"] == "127.0.0.1" and a[0]["bytes"] == c["len"], (a, c)
    assert 0 < a[0]["latency_ns"] < 5 * 10**9, a
    assert a[0]["time"] >= q[0]["time"], (q, a)
    return q[0], a[0]


def test_answers_from_dnsmasq_matched_to_their_queries():
    require_root()
    require_dnsmasq()
    ns = netns("tsdnsa")
    dnsmasq(ns)
    ts = Tcpship("-e", "dns")
    cases = [
        ("a.test", 1, "unconnected", "NOERROR", [("a.test", "A", "10.1.2.3")]),
        ("a.test", 28, "connected", "NOERROR", [("a.test", "AAAA", "fd00::1:2")]),
        ("www.test", 1, "unconnected", "NOERROR",
         [("www.test", "CNAME", "b.test"), ("b.test", "A", "10.9.9.9")]),
        ("nx.test", 1, "connected", "NXDOMAIN", []),
    ]
    for i, (name, qtype, mode, rcode, want) in enumerate(cases):
        c = ask(ns, name, qtype, 0x4000 + i, mode)
        q, a = pair(ts, c)
        assert q["qname"] == a["qname"] == name, (q, a)
        assert a["rcode"] == rcode, a
        assert [(x["name"], x["type"], x["data"]) for x in a["answers"]] == want, a
        assert all(x["ttl"] >= 0 for x in a["answers"]) and "answers_truncated" not in a, a
    ts.stop()
    ts.assert_clean()


def test_glibc_resolver_answers():
    """getent ahosts: glibc sends A and AAAA in one sendmmsg and reads both."""
    require_root()
    require_dnsmasq()
    ns = netns("tsdnsg")
    conf = f"/etc/netns/{ns}"
    os.makedirs(conf, exist_ok=True)
    at_cleanup(lambda: shutil.rmtree(conf, ignore_errors=True))
    with open(f"{conf}/resolv.conf", "w") as f:
        f.write("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n")
    dnsmasq(ns)
    ts = Tcpship("-e", "dns")
    p = subprocess.Popen(["ip", "netns", "exec", ns, "getent", "ahosts", "a.test"],
                         stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=20)
    assert "10.1.2.3" in out, out
    evs = ts.wait_events(lambda e: e["type"] == "dns" and e.get("comm") == "getent" and
                         e["direction"] == "answer", 2, what="getent's two answers")
    got = sorted((e["qtype"], e["answers"][0]["data"]) for e in evs)
    assert got == [("A", "10.1.2.3"), ("AAAA", "fd00::1:2")], evs
    assert all(e["latency_ns"] > 0 and e["rcode"] == "NOERROR" for e in evs), evs
    ts.stop()
    ts.assert_clean()


def test_truncated_damaged_and_garbage_answers_stay_whole_lines():
    require_root()
    ns = netns("tsdnsx")
    stub = serve(ns, [sys.executable, "-c", STUB])
    assert stub.stdout.readline().strip() == "ready"
    ts = Tcpship("-e", "dns")
    seen = {}
    for i, label in enumerate(("tc", "cut", "loop", "garbage", "fail")):
        c = ask(ns, f"{label}.example", 1, 0x5000 + i)
        mine = ts.wait_events(lambda e: e.get("pid") == c["pid"] and
                              e["direction"] == "answer", what=f"the {label} answer")
        seen[label] = mine[0]
    assert seen["tc"]["tc"] is True and seen["tc"]["answers"] == [], seen["tc"]
    cut = seen["cut"]
    assert [x["data"] for x in cut["answers"]] == ["192.0.2.1"], cut
    assert cut["answers_truncated"] is True, cut
    assert seen["loop"]["answers"] == [] and seen["loop"]["answers_truncated"] is True
    g = seen["garbage"]     # not a response: only what the event itself knows
    assert "rcode" not in g and "answers" not in g and g["bytes"] == 46, g
    assert seen["fail"]["rcode"] == "SERVFAIL", seen["fail"]
    ts.stop()
    ts.assert_clean()


def test_answers_in_every_shape():
    """The same answer as ECS (checked against ECS 9.4.0's field list), OCSF
    DNS Activity 2 Response (against OCSF 1.8.0) and CEF."""
    require_root()
    require_dnsmasq()
    from cef import parse_cef
    from ecs_check import ecs_errors
    from ocsf_check import ocsf_errors
    ns = netns("tsdnss")
    dnsmasq(ns)
    d = tmpdir()
    paths = {s: os.path.join(d, s) for s in ("native", "ecs", "ocsf", "cef")}
    cfg = os.path.join(d, "c.json")
    with open(cfg, "w") as f:
        json.dump({"events": ["dns"], "outputs": [
            {"type": "file", "path": p, "schema": s} for s, p in paths.items()]}, f)
    ts = Tcpship("-c", cfg)
    c = ask(ns, "www.test", 1, 0x6001)
    nx = ask(ns, "nx.test", 1, 0x6002)

    def lines(s):
        if not os.path.exists(paths[s]):
            return []
        with open(paths[s]) as f:
            return [l for l in f if l.strip()]
    wait_until(lambda: all(len(lines(s)) >= 4 for s in paths), 10, "4 lines in each shape")
    ts.stop()
    native = [json.loads(l) for l in lines("native")]
    idx = [i for i, e in enumerate(native) if e.get("pid") in (c["pid"], nx["pid"]) and
           e["direction"] == "answer"]
    assert len(idx) == 2, native
    for i in idx:
        n = native[i]
        e = json.loads(lines("ecs")[i])
        o = json.loads(lines("ocsf")[i])
        _, x = parse_cef(lines("cef")[i])
        assert not ecs_errors(e), ecs_errors(e)
        assert not ocsf_errors(o), ocsf_errors(o)
        assert e["dns"]["type"] == "answer" and e["dns"]["id"] == str(n["id"]), e["dns"]
        assert e["dns"]["response_code"] == n["rcode"] == x["reason"], (e["dns"], x)
        assert e["event"]["duration"] == n["latency_ns"] == int(x["cn1"]), (e, x)
        assert [(a["name"], a["type"], a["data"]) for a in e["dns"].get("answers", [])] == \
            [(a["name"], a["type"], a["data"]) for a in n["answers"]], (e["dns"], n)
        ips = [a["data"] for a in n["answers"] if a["type"] in ("A", "AAAA")]
        assert e["dns"].get("resolved_ip", []) == ips, e["dns"]
        assert (o["class_uid"], o["activity_id"], o["activity_name"]) == (4003, 2, "Response")
        assert o["rcode_id"] == {"NOERROR": 0, "NXDOMAIN": 3}[n["rcode"]], o
        assert [a["rdata"] for a in o.get("answers", [])] == [a["data"] for a in n["answers"]], o
        assert o["query"]["hostname"] == n["qname"] == x["flexString1"], (o, x)


RESOLVE_AND_CONNECT = r"""
import json, os, socket, struct, sys
name = sys.argv[1]
q = struct.pack(">HHHHHH", 0x7001, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(5)
u.sendto(q, ("127.0.0.1", 53))
r, _ = u.recvfrom(4096)
addr = socket.inet_ntoa(r[-4:])          # the last answer's A
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
c = socket.create_connection((addr, srv.getsockname()[1])); a, _ = srv.accept()
print(json.dumps({"pid": os.getpid(), "addr": addr, "sport": c.getsockname()[1]}))
c.close(); a.close()
"""


def test_dns_names_name_the_connections_of_the_process_that_resolved():
    require_root()
    require_dnsmasq()
    ns = netns("tsdnsn")
    dnsmasq(ns)
    on = Tcpship("-e", "connect,close,dns", "--dns-names")
    off = Tcpship("-e", "connect,close,dns")
    p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", RESOLVE_AND_CONNECT,
                        "svc.test"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    c = json.loads(p.stdout)
    assert c["addr"] == "127.0.0.1", c
    other = trig("tcp_pair", netns=ns)        # another process, the same address
    for ts in (on, off):
        mine = ts.wait_events(lambda e: e.get("pid") == c["pid"] and
                              e["type"] in ("connect", "close") and
                              e.get("sport") == c["sport"], 2,
                              what="the resolver's connect and its close")
        out = [e for e in mine if e.get("sport") == c["sport"]]
        assert sorted(e["type"] for e in out) == ["close", "connect"], mine
        for e in out:
            if ts is on:
                assert e.get("dest_name") == "svc.test", e
            else:
                assert "dest_name" not in e, e
        theirs = ts.wait_events(lambda e: e.get("pid") == other["client_pid"] and
                                e["type"] == "connect", what="the other process's connect")
        assert "dest_name" not in theirs[0], theirs
    on.stop()
    off.stop()
    on.assert_clean()
