"""The ECS, OCSF and CEF shapes on real traffic.

One tcpship run with four file outputs (native, ecs, ocsf, cef) and `-e all`
sees the traffic of the native tests: an IPv4 and an IPv6 pair with exact
byte counts, refused connects (v4, v6), a connect timed out by dropped SYNs
(a netns of our own), data retransmits (another), DNS queries to 127.0.0.1
(a third), hostile task names and hostile DNS names. The run is made once,
by the first test that needs it, and kept for the others (every wait is
bounded; the slow triggers run side by side).

Then: every line of every shape (the whole machine's, not only ours) passes
its checker (tests/lib/ecs_check.py, ocsf_check.py, cef.py); each record has
one line per shape with the same sequence number; each shape's line says
what the native line says, in its own words, with what the spec of the
shape means (the initiator is the source, in/out and bytes_out/bytes_in are
the source's, OCSF activities, CEF signature ids and severities), and our own
events say what the triggers measured. Nothing is ever empty or null. The
expected values are derived here from the native line, the ground truth and
the specs, never from the encoders' code.
"""
import base64
import calendar
import hashlib
import ipaddress
import json
import os
import stat
import struct
import subprocess
import threading
import time

from cef import parse_cef
from ecs_check import ecs_errors
from ocsf_check import ocsf_errors
from tslib import (TRIG, Skip, Tcpship, check_schema, netns, require_root, run_tcpship, sh,
                   tmpdir, trig, wait_until)

SHAPES = ("native", "ecs", "ocsf", "cef")
MISSING = object()
NS = 10**9
MS = 10**6
TIMEOUT_PORT, RETRANS_PORT = 5002, 5001

# quote, backslash, newline, \x01, a lone 0xff, ']', DEL, and a valid UTF-8 'e'
# (test_events' hostile name); and one built to forge CEF keys: a space and
# key=, a newline then key=, a trailing backslash (15 bytes, all the kernel keeps)
HOSTILE_COMMS = (b'a"b\\c\nd\x01\xff]\x7f\xc3\xa9', b"n spid=1\nact=x\\")
# test_events' hostile label ('.', '\\', '"', a NUL, a newline, 0xff); and one
# with a space, '=', '|' and CR
HOSTILE_LABELS = (b'a.b\\c"\x00\n\xff', b" act=x|y\r=")


# ------------------------------------------------------ ground truth ----

def comm_of(raw):
    """The kernel's task name (15 bytes) decoded as tcpship must show it in
    JSON: per-byte U+FFFD where a byte starts no valid UTF-8 sequence."""
    raw = raw[:15].split(b"\0")[0]
    out, i = [], 0
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


def cef_text(s):
    """What a CEF value decodes to, from the JSON-decoded text: CEF's rule
    (its header comment, README): CR and LF are kept (escaped as \\r \\n),
    any other control byte becomes U+FFFD (invalid UTF-8 already is)."""
    return "".join(c if c in "\r\n" or not (ord(c) < 0x20 or ord(c) == 0x7f) else "\ufffd"
                   for c in s)


def cef_escape(s):
    """CEF's escapes of an extension value (for text with no other control byte)."""
    return (s.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n")
            .replace("\r", "\\r"))


def dns_name(wire_hex):
    """Presentation form of a wire name (RFC 1035 escapes), as in test_events."""
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


def community_id(saddr, daddr, sport, dport, proto=6, seed=0):
    """Community ID v1 from the spec (as test_identity has it)."""
    a, b = ipaddress.ip_address(saddr).packed, ipaddress.ip_address(daddr).packed
    if (a, sport) > (b, dport):
        a, b, sport, dport = b, a, dport, sport
    data = struct.pack("!H", seed) + a + b + struct.pack("!BBHH", proto, 0, sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def time_ns(rfc3339):
    """"2026-12-07T07:56:00.507866296Z" -> epoch nanoseconds."""
    assert len(rfc3339) == 30 and rfc3339.endswith("Z"), rfc3339
    sec = calendar.timegm(time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S"))
    return sec * NS + int(rfc3339[20:29])


# ------------------------------------------------------------ the run ----

def nft_drop(ns, port, match=""):
    sh("ip", "netns", "exec", ns, "nft", "add", "table", "inet", "tsshpdrop")
    sh("ip", "netns", "exec", ns, "nft", "add", "chain", "inet", "tsshpdrop", "in",
       "{ type filter hook input priority 0; }")
    sh("ip", "netns", "exec", ns, "nft", "add", "rule", "inet", "tsshpdrop", "in", "tcp",
       "dport", str(port), *match.split(), "drop")


class NativeTail:
    """The native file read as it grows: its complete lines, parsed."""

    def __init__(self, path):
        self.path, self.pos, self.buf, self.events = path, 0, b"", []

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return self.events
        self.pos += len(data)
        self.buf += data
        *whole, self.buf = self.buf.split(b"\n")
        for raw in whole:
            try:
                self.events.append(json.loads(raw))
            except ValueError:
                pass        # reported by the tests, from the whole file
        return self.events


class Run:
    """What the shared run left: each shape's lines, the ground truth."""

    def __init__(self):
        self.raw = {}       # shape -> [line str] (surrogateescape: invalid UTF-8 shows)
        self.doc = {}       # shape -> [parsed, or None for a line that does not parse]
        self.bad = {}       # shape -> [(line, why)] for lines that did not parse
        self.by_seq = {}    # shape -> {seq: parsed}
        self.gt = {}
        self.exit_rc = None
        self.exit_totals = self.exit_sinks = None
        self.paths = {}
        self.secs = 0.0

    def native(self, pred):
        return [e for e in self.doc["native"] if e is not None and pred(e)]

    def shapes(self, n):
        """The ECS, OCSF and CEF (header, ext) of the native event n, by seq."""
        s = n["seq"]
        got = [self.by_seq[sh_].get(s) for sh_ in ("ecs", "ocsf", "cef")]
        for sh_, g in zip(("ecs", "ocsf", "cef"), got):
            assert g is not None, f"no {sh_} line with the sequence number of {n}"
        return got


RUN = None


def the_run():
    """The shared run, made once (by the first test that wants it)."""
    global RUN
    require_root()
    if RUN is None:
        try:
            RUN = make_run()
        except Exception as ex:  # noqa: BLE001 - every test reports it
            RUN = ex
    if isinstance(RUN, Exception):
        raise AssertionError(f"the shared tcpship run failed: {type(RUN).__name__}: {RUN}")
    return RUN


def in_thread(fn, *args, **kw):
    box = {}

    def go():
        try:
            box["v"] = fn(*args, **kw)
        except BaseException as ex:  # noqa: BLE001 - re-raised by the caller
            box["ex"] = ex
    t = threading.Thread(target=go, daemon=True)
    t.start()

    def result():
        t.join(60)
        if t.is_alive():
            raise AssertionError(f"{fn.__name__}{args} still running after 60 s")
        if "ex" in box:
            raise box["ex"]
        return box["v"]
    return result


def make_run():
    t0 = time.monotonic()
    r = Run()
    d = tmpdir()
    for s in SHAPES:
        r.paths[s] = os.path.join(d, s + (".cef" if s == "cef" else ".jsonl"))
    outs = [{"type": "file", "path": r.paths["native"]}]
    outs += [{"type": "file", "path": r.paths[s], "schema": s} for s in SHAPES[1:]]
    cfg = os.path.join(d, "tcpship.json")
    with open(cfg, "w") as f:
        json.dump({"outputs": outs}, f)
    ns_to = netns("tsshp-timeout")
    nft_drop(ns_to, TIMEOUT_PORT, "tcp flags syn")
    ns_rt = netns("tsshp-retrans")
    ns_dns = netns("tsshp-dns")
    ts = Tcpship("-c", cfg, "-e", "all", "--flow-interval", "1s", stdout=subprocess.DEVNULL)
    gt = r.gt
    # the slow ones side by side: ~3 s of unanswered SYNs, ~1 s of retransmits
    timeout = in_thread(trig, "connect_fail", "timeout", "127.0.0.1", TIMEOUT_PORT,
                        netns=ns_to)
    block = ("nft add table inet tsshprt; nft add chain inet tsshprt in "
             "'{ type filter hook input priority 0; }'; "
             f"nft add rule inet tsshprt in tcp dport {RETRANS_PORT} drop")
    retrans = in_thread(trig, "tcp_retrans", RETRANS_PORT, block, "nft delete table inet tsshprt",
                        netns=ns_rt)
    # a flow that outlives two walks (1 s apart): its ends are reported
    slow = in_thread(trig, "tcp_pair", "-n", 777, "-r", 888, "-d", 2500)
    gt["v4"] = trig("tcp_pair", "-n", 12345, "-r", 54321, "-k", 3)
    gt["v6"] = trig("tcp_pair", "-6", "-n", 1, "-r", 100000)
    gt["refused4"] = trig("connect_fail", "refused")
    gt["refused6"] = trig("connect_fail", "refused", "-6")
    gt["hostile"] = [trig("tcp_pair", "-c", name.hex()) for name in HOSTILE_COMMS]
    gt["dns"] = [trig("dns_query", *a, netns=ns_dns) for a in (
        ("sendto", "127.0.0.1", "www.example.com", "1"),
        ("connect", "127.0.0.1", "api.internal.corp", "28"),
        ("sendmmsg", "127.0.0.1", "db.prod.example", "1"))]
    gt["dns_hostile"] = [trig("dns_query", "sendto", "127.0.0.1", "evil.example", "1",
                              label.hex(), netns=ns_dns) for label in HOSTILE_LABELS]
    gt["timeout"] = timeout()
    gt["slow"] = slow()
    gt["retrans"] = retrans()
    for k in ("refused4", "refused6"):
        assert gt[k]["errno"] == "ECONNREFUSED", gt[k]
    assert gt["timeout"]["errno"] == "ETIMEDOUT", gt["timeout"]
    assert all(q["received"] >= 1 for q in gt["dns"] + gt["dns_hostile"]), gt["dns"]

    # everything the triggers did is out once their last events are
    tail = NativeTail(r.paths["native"])

    def have(pred, n=1):
        return len([e for e in tail.events if pred(e)]) >= n

    def flow(g):
        return lambda e: e["type"] == "close" and \
            {e.get("sport"), e.get("dport")} == {g["client_port"], g["server_port"]}
    wanted = [(flow(g), 2) for g in [gt["v4"], gt["v6"], *gt["hostile"], gt["slow"]]]
    wanted += [(lambda e, g=g: e["type"] == "close" and e.get("pid") == g["pid"] and
                e["dport"] == g["dport"], 1)
               for g in (gt["refused4"], gt["refused6"], gt["timeout"])]
    wanted.append((lambda e: e["type"] == "close" and e.get("pid") == gt["retrans"]["pid"] and
                   e.get("sport") == gt["retrans"]["sport"], 1))
    wanted += [(lambda e, g=g: e["type"] == "dns" and e.get("pid") == g["pid"],
                2 if g["mode"] == "sendmmsg" else 1) for g in gt["dns"] + gt["dns_hostile"]]

    def all_out():
        tail.poll()
        return all(have(p, n) for p, n in wanted)
    try:
        wait_until(all_out, 15, "the triggers' last events in the native file")
    except AssertionError as ex:
        missing = [i for i, (p, n) in enumerate(wanted) if not have(p, n)]
        ts.stop()
        # the runner keeps ~2 KB: what explains the miss goes first
        near = [(e["type"], e["seq"], e.get("pid"), e.get("sport"), e.get("dport"),
                 e.get("error"), e["time"][11:]) for e in tail.events
                if e.get("dport") == TIMEOUT_PORT or e.get("pid") == gt["timeout"]["pid"]]
        raise AssertionError(f"{ex}: wanted[{missing}] missing; timeout trigger "
                             f"{gt['timeout']}, its port's events {near[-8:]}; stderr: "
                             f"{ts.stderr[-500:]}")
    r.exit_rc = ts.stop()
    r.exit_totals, r.exit_sinks = ts.exit_line()
    for s in SHAPES:
        with open(r.paths[s], "rb") as f:
            data = f.read()
        assert data.endswith(b"\n"), f"{s}: the file does not end with a whole line"
        r.raw[s] = [l.decode("utf-8", errors="surrogateescape") + "\n"
                    for l in data[:-1].split(b"\n")]
        r.doc[s], r.bad[s], r.by_seq[s] = [], [], {}
        for line in r.raw[s]:
            try:
                doc = parse_cef(line) if s == "cef" else json.loads(line)
            except ValueError as ex:
                r.doc[s].append(None)
                r.bad[s].append((line, str(ex)))
                continue
            r.doc[s].append(doc)
            seq = seq_of(s, doc)
            if seq is not None:
                r.by_seq[s].setdefault(seq, doc)
    r.secs = time.monotonic() - t0
    return r


def seq_of(shape, doc):
    try:
        if shape == "native":
            return doc["seq"]
        if shape == "ecs":
            return doc["event"]["sequence"]
        if shape == "ocsf":
            return doc["metadata"]["sequence"]
        return int(doc[1]["cn3"])
    except (KeyError, TypeError, ValueError):
        return None


# ------------------------------------------ what each shape must say ----

def direction(n):
    """"out" this host initiated, "in" the remote end did, None not known."""
    t = n["type"]
    if t in ("connect", "dns"):
        return "out"
    if t == "accept":
        return "in"
    if t in ("close", "flow") and "direction" in n:
        return {"outbound": "out", "inbound": "in"}[n["direction"]]
    return None


def ends(n):
    """(source, destination), each (ip, port) or None: the initiator is the
    source; where that is not known, the local end is."""
    local = (n["saddr"], n["sport"]) if "saddr" in n else None
    remote = (n["daddr"], n["dport"])
    return (remote, local) if direction(n) == "in" else (local, remote)


def sent(n):
    """(bytes the source sent, bytes the destination sent), None where the
    event does not say."""
    t = n["type"]
    if t in ("close", "flow"):
        if direction(n) == "in":
            return n["bytes_received"], n["bytes_sent"]
        return n["bytes_sent"], n["bytes_received"]
    if t in ("send", "dns"):
        return n["bytes"], None      # the source is the local end
    if t == "recv":
        return None, n["bytes"]
    return None, None


def severity(n):
    """0 routine, 1 a retransmit, 2 a failure"""
    if n.get("error"):
        return 2
    return 1 if n["type"] == "retransmit" else 0


def opt(v, f=lambda x: x):
    return MISSING if v is None else f(v)


def ecs_expect(n):
    t, (src, dst), (src_b, dst_b) = n["type"], ends(n), sent(n)
    d = direction(n)
    known = [b for b in (src_b, dst_b) if b is not None]
    x = {
        "@timestamp": n["time"],
        "ecs.version": "9.4.0",
        "event.kind": "event", "event.category": ["network"],
        "event.type": {"connect": ["connection", "start"], "accept": ["connection", "start"],
                       "close": ["connection", "end"], "dns": ["protocol"]}.get(
                           t, ["connection", "info"]),
        "event.action": t,
        "event.outcome": ("failure" if n.get("error") else "success")
        if t in ("accept", "close") else MISSING,
        "error.code": opt(n.get("error")),
        "event.sequence": n["seq"],
        "event.duration": opt(n.get("duration_ns")),
        "event.severity": severity(n) + 1,
        "agent.ephemeral_id": n["agent_id"],
        "host.name": n["host"], "host.hostname": n["host"],
        "source.ip": opt(src, lambda e: e[0]), "source.port": opt(src, lambda e: e[1]),
        "source.bytes": opt(src_b) if src else MISSING,
        "destination.ip": opt(dst, lambda e: e[0]), "destination.port": opt(dst, lambda e: e[1]),
        "destination.bytes": opt(dst_b) if dst else MISSING,
        "network.transport": "udp" if t == "dns" else "tcp",
        "network.iana_number": "17" if t == "dns" else "6",
        "network.type": n["family"],
        "network.direction": {"out": "egress", "in": "ingress"}.get(d, MISSING),
        "network.community_id": opt(n.get("community_id")),
        "network.bytes": sum(known) if known else MISSING,
        "network.protocol": "dns" if t == "dns" else MISSING,
        "process.pid": opt(n.get("pid")),
        "process.name": opt(n.get("comm")),
        "process.thread.id": opt(n.get("tid")),
        "process.parent.pid": opt(n.get("ppid")),
        "process.executable": opt(n.get("exe")),
        "process.start": opt(n.get("process_start")),
        "user.id": opt(n.get("uid"), str),
        "container.id": opt(n.get("container_id")),
        "dns.question.name": opt(n.get("qname")),
        "dns.question.type": opt(n.get("qtype")),
        "tcpship.probe": n["probe"],
        "tcpship.netns": opt(n.get("netns")),
        "tcpship.cgroup": opt(n.get("cgroup")),
        "tcpship.established": opt(n.get("established")),
        "tcpship.retransmits": opt(n.get("retransmits")),
        "tcpship.end_reason": opt(n.get("end_reason")),
        "tcpship.state": opt(n.get("state")),
        "tcpship.latency_ns": opt(n.get("latency_ns")),
        "tcpship.connect_latency_ns": opt(n.get("connect_latency_ns")),
        "tcpship.bytes_sent_delta": opt(n.get("bytes_sent_delta")),
        "tcpship.bytes_received_delta": opt(n.get("bytes_received_delta")),
        "tcpship.retransmits_delta": opt(n.get("retransmits_delta")),
    }
    if "pid" not in n:
        x["process"] = MISSING
    return x


OCSF_ACT = {"connect": (1, "Open"), "accept": (1, "Open"), "send": (6, "Traffic"),
            "recv": (6, "Traffic"), "retransmit": (99, "Retransmit"), "dns": (1, "Query"),
            "flow": (6, "Traffic")}


def ocsf_expect(n):
    t, (src, dst), (src_b, dst_b) = n["type"], ends(n), sent(n)
    d = direction(n)
    if t == "close":
        err = n.get("error")
        act = (2, "Close") if not err else (5, "Refuse") if err == "ECONNREFUSED" \
            else (4, "Fail")
    else:
        act = OCSF_ACT[t]
    cls = 4003 if t == "dns" else 4001
    cname = "DNS Activity" if t == "dns" else "Network Activity"
    known = [b for b in (src_b, dst_b) if b is not None]
    total = (src_b, dst_b, sum(known)) if known else (MISSING,) * 3
    if t == "flow":
        # traffic: what moved since the last report; cumulative_traffic: all
        d_out, d_in = n["bytes_sent_delta"], n["bytes_received_delta"]
        src_b, dst_b = (d_in, d_out) if direction(n) == "in" else (d_out, d_in)
        known = [src_b, dst_b]
    t_ms = time_ns(n["time"]) // MS
    dur = n.get("duration_ns")
    exe = n.get("exe")
    x = {
        "time": t_ms,
        "class_uid": cls, "class_name": cname, "category_uid": 4,
        "activity_id": act[0], "activity_name": act[1],
        # type_name is type_uid's caption: "Other" for 99 (the OCSF server
        # lets only activity_name say what the Other is)
        "type_uid": cls * 100 + act[0],
        "type_name": f"{cname}: {'Other' if act[0] == 99 else act[1]}",
        "severity_id": severity(n) + 1,
        "severity": ("Informational", "Low", "Medium")[severity(n)],
        "status_id": (2 if n.get("error") else 1) if t in ("accept", "close") else MISSING,
        "status_code": opt(n.get("error")),
        "duration": opt(dur, lambda v: v // MS),
        "end_time": t_ms if dur is not None else MISSING,
        "start_time": opt(dur, lambda v: t_ms - v // MS),
        "metadata.version": "1.8.0",
        "metadata.sequence": n["seq"],
        "metadata.uid": f"{n['agent_id']}-{n['seq']}",
        "src_endpoint.ip": opt(src, lambda e: e[0]), "src_endpoint.port": opt(src, lambda e: e[1]),
        "dst_endpoint.ip": opt(dst, lambda e: e[0]), "dst_endpoint.port": opt(dst, lambda e: e[1]),
        "is_src_dst_assignment_known": MISSING if t == "dns" else d is not None,
        "connection_info.protocol_num": 17 if t == "dns" else 6,
        "connection_info.protocol_ver_id": 4 if n["family"] == "ipv4" else 6,
        "connection_info.direction_id": {"in": 1, "out": 2}.get(d, 0),
        "connection_info.community_uid": opt(n.get("community_id")),
        # OCSF 1.8.0 network_traffic: bytes_out "sent from the source to the
        # destination", bytes_in "sent from the destination to the source"
        "traffic.bytes_out": opt(src_b), "traffic.bytes_in": opt(dst_b),
        "traffic.bytes": sum(known) if known else MISSING,
        "cumulative_traffic.bytes_out": total[0] if t == "flow" else MISSING,
        "cumulative_traffic.bytes_in": total[1] if t == "flow" else MISSING,
        "cumulative_traffic.bytes": total[2] if t == "flow" else MISSING,
        "actor.process.pid": opt(n.get("pid")),
        "actor.process.name": opt(n.get("comm")),
        "actor.process.tid": opt(n.get("tid")),
        "actor.process.parent_process.pid": opt(n.get("ppid")),
        "actor.process.user.uid": opt(n.get("uid"), str),
        "actor.process.file.path": opt(exe),
        "actor.process.file.name": opt(exe, lambda p: p.rsplit("/", 1)[-1] or MISSING),
        "actor.process.created_time": opt(n.get("process_start"), lambda s: time_ns(s) // MS),
        "actor.process.container.uid": opt(n.get("container_id")),
        "device.hostname": n["host"],
        "query.hostname": opt(n.get("qname")),
        "query.type": opt(n.get("qtype")),
        "unmapped.probe": n["probe"],
        "unmapped.netns": opt(n.get("netns")),
        "unmapped.established": opt(n.get("established")),
        "unmapped.retransmits": opt(n.get("retransmits")),
        "unmapped.end_reason": opt(n.get("end_reason")),
        "unmapped.state": opt(n.get("state")),
        "unmapped.latency_ns": opt(n.get("latency_ns")),
        "unmapped.connect_latency_ns": opt(n.get("connect_latency_ns")),
        "unmapped.bytes_sent_delta": opt(n.get("bytes_sent_delta")),
        "unmapped.bytes_received_delta": opt(n.get("bytes_received_delta")),
        "unmapped.retransmits_delta": opt(n.get("retransmits_delta")),
    }
    if "pid" not in n:
        x["actor"] = MISSING
    return x


def cef_expect(n):
    """(signature id, severity, the whole extension: every key, exactly)"""
    t, (src, dst), (src_b, dst_b) = n["type"], ends(n), sent(n)
    d = direction(n)
    if t == "close" and n.get("error"):
        sig = "close-error" if n["established"] else "connect-failed"
    else:
        sig = t
    rt = time_ns(n["time"]) // MS
    x = {"rt": str(rt), "act": t}
    if d:
        x["deviceDirection"] = "1" if d == "out" else "0"
    x["proto"] = "UDP" if t == "dns" else "TCP"
    for (k_ip, k_port), end in ((("src", "spt"), src), (("dst", "dpt"), dst)):
        if end:
            x[k_ip], x[k_port] = end[0], str(end[1])
    if "pid" in n:
        p = "d" if d == "in" else "s"       # the process is on its own end
        x[p + "pid"], x[p + "proc"], x[p + "uid"] = str(n["pid"]), cef_text(n["comm"]), \
            str(n["uid"])
        if "exe" in n:
            x["cs5Label"], x["cs5"] = "executable", cef_text(n["exe"])
    # CEF: in is what the source sent, out what flowed back to it
    if src_b is not None:
        x["in"] = str(src_b)
    if dst_b is not None:
        x["out"] = str(dst_b)
    if t in ("accept", "close"):
        x["outcome"] = "failure" if n.get("error") else "success"
    if n.get("error"):
        x["reason"] = n["error"]
    if "duration_ns" in n:
        x["start"] = str(max(rt - n["duration_ns"] // MS, 0))
        x["end"] = str(rt)
        x["cn1Label"], x["cn1"] = "durationNs", str(n["duration_ns"])
    if t == "flow":
        x["cn2Label"], x["cn2"] = "retransmits", str(n["retransmits"])
        d_src, d_dst = n["bytes_sent_delta"], n["bytes_received_delta"]
        if d == "in":
            d_src, d_dst = d_dst, d_src
        x["flexNumber1Label"], x["flexNumber1"] = "inDelta", str(d_src)
        x["flexNumber2Label"], x["flexNumber2"] = "outDelta", str(d_dst)
        x["flexString2Label"], x["flexString2"] = "retransmitsDelta", \
            str(n["retransmits_delta"])
    if t == "close":
        x["cn2Label"], x["cn2"] = "retransmits", str(n["retransmits"])
        x["flexString1Label"], x["flexString1"] = "endReason", n["end_reason"]
    x["cn3Label"], x["cn3"] = "sequence", str(n["seq"])
    if "connect_latency_ns" in n:
        x["cn4Label"], x["cn4"] = "connectLatencyNs", str(n["connect_latency_ns"])
    x["dvchost"] = cef_text(n["host"])
    x["deviceExternalId"] = n["agent_id"]
    if "community_id" in n:
        x["cs4Label"], x["cs4"] = "communityId", n["community_id"]
    for k, key in (("container_id", "cs1"), ("pod", "cs2"), ("pod_namespace", "cs3"),
                   ("container_name", "cs6")):
        if k in n:
            x[key + "Label"] = {"cs1": "containerId", "cs2": "pod", "cs3": "podNamespace",
                                "cs6": "containerName"}[key]
            x[key] = cef_text(n[k])
    if "qname" in n:
        x["flexString1Label"], x["flexString1"] = "dnsQuestionName", n["qname"]
        x["flexString2Label"], x["flexString2"] = "dnsQuestionType", n["qtype"]
    return sig, str(3 + 2 * severity(n)), x


def lookup(doc, path):
    o = doc
    for p in path.split("."):
        if not isinstance(o, dict) or p not in o:
            return MISSING
        o = o[p]
    return o


def same(a, b):
    return type(a) is type(b) and a == b


def mismatches(n, ecs, ocsf, cef):
    """What the three shapes' lines of n say otherwise than n does."""
    out = []
    for shape, doc, want in (("ecs", ecs, ecs_expect(n)), ("ocsf", ocsf, ocsf_expect(n))):
        for path, v in want.items():
            got = lookup(doc, path)
            if v is MISSING:
                if got is not MISSING:
                    out.append(f"{shape} {path}: {got!r}, want it absent")
            elif not same(got, v):
                out.append(f"{shape} {path}: {'absent' if got is MISSING else repr(got)}, "
                           f"want {v!r}")
    sig, sev, ext = cef_expect(n)
    header, got = cef
    if header[4] != sig:
        out.append(f"cef signature id {header[4]!r}, want {sig!r}")
    if header[6] != sev:
        out.append(f"cef severity {header[6]!r}, want {sev!r}")
    if header[:4] != ["0", "tcpship", "tcpship", ecs["agent"]["version"]]:
        out.append(f"cef header {header[:4]}")
    for k in sorted(set(ext) | set(got)):
        if ext.get(k) != got.get(k):
            out.append(f"cef {k}: {got.get(k, 'absent')!r}, want {ext.get(k, 'absent')!r}")
    if out:
        out.insert(0, f"seq {n['seq']} {n['type']}")
    return out


def check_agree(r, n):
    ecs, ocsf, cef = r.shapes(n)
    bad = mismatches(n, ecs, ocsf, cef)
    assert not bad, "; ".join(bad[:12]) + f" | native {json.dumps(n)}"
    return ecs, ocsf, cef


def exe_path(name):
    return os.path.realpath(os.path.join(TRIG, name))


# --------------------------------------------------------------- tests ----

def test_every_line_passes_its_checker():
    r = the_run()
    errs = []
    for s in SHAPES:
        for line, why in r.bad[s][:3]:
            errs.append(f"{s} line does not parse ({why}): {line[:300]!r}")
        for line in r.raw[s]:
            if any(0xdc80 <= ord(c) <= 0xdcff for c in line):
                errs.append(f"{s} line is not UTF-8: {line[:300]!r}")
                break
    check = {"ecs": ecs_errors, "ocsf": ocsf_errors}
    for s in ("native", "ecs", "ocsf"):
        for line, doc in zip(r.raw[s], r.doc[s]):
            if doc is None:
                continue
            if s == "native":
                try:
                    check_schema(doc)
                    e = []
                except AssertionError as ex:
                    e = [str(ex)]
            else:
                e = check[s](doc)
            if e:
                errs.append(f"{s}: {e[:4]} in {line[:600]}")
    assert not errs, f"{len(errs)} bad lines, first: " + " || ".join(errs[:4])
    assert len(r.raw["ecs"]) >= 40, len(r.raw["ecs"])      # our own alone are more


def test_one_line_per_shape_per_record_same_sequence():
    r = the_run()
    assert r.exit_rc == 0, r.exit_rc
    seqs = {}
    for s in SHAPES:
        got = [seq_of(s, d) for d in r.doc[s] if d is not None]
        assert None not in got, f"{s}: a line without its sequence number"
        assert got == sorted(got) and len(set(got)) == len(got), \
            f"{s}: sequence numbers not unique and increasing"
        seqs[s] = got
        sink = r.exit_sinks[f"file:{r.paths[s]}"]
        assert sink["out"] == len(r.raw[s]) and sink["dropped_full"] == 0 and \
            sink["dropped_error"] == 0 and sink["dropped_exit"] == 0, (s, sink, len(r.raw[s]))
    for s in SHAPES[1:]:
        assert seqs[s] == seqs["native"], \
            f"{s} and native differ: {sorted(set(seqs[s]) ^ set(seqs['native']))[:10]}"
    # the agent and the host are the run's in every shape
    n = r.doc["native"][0]
    assert all(e["agent"]["ephemeral_id"] == n["agent_id"] for e in r.doc["ecs"])
    assert all(o["metadata"]["uid"].startswith(n["agent_id"] + "-") for o in r.doc["ocsf"])
    assert all(c[1]["deviceExternalId"] == n["agent_id"] for c in r.doc["cef"])


def test_unknown_is_absent_never_empty():
    r = the_run()
    errs = []

    def walk(path, v):
        if v is None:
            errs.append(f"{path}: null")
        elif isinstance(v, str) and not v:
            errs.append(f"{path}: empty string")
        elif isinstance(v, (list, dict)) and not v:
            errs.append(f"{path}: empty {type(v).__name__}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(f"{path}[{i}]", x)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(f"{path}.{k}" if path else k, x)
    for s in ("ecs", "ocsf"):       # all of it, tcpship.* and unmapped too
        for line, doc in zip(r.raw[s], r.doc[s]):
            before = len(errs)
            walk("", doc)
            if len(errs) > before:
                errs[-1] += f" in {s} {line[:400]}"
    for line, doc in zip(r.raw["cef"], r.doc["cef"]):
        if doc is None:
            continue
        header, ext = doc
        errs += [f"cef header field {i} empty in {line[:300]}" for i, h in enumerate(header)
                 if not h]
        errs += [f"cef {k}= empty in {line[:300]}" for k, v in ext.items() if v == ""]
    assert not errs, f"{len(errs)} empty values: " + " || ".join(errs[:5])


def test_every_record_says_what_native_says():
    """ECS, OCSF, CEF of every record of the run agree with its native line."""
    r = the_run()
    bad = []
    for n in r.doc["native"]:
        if n is None:
            continue
        shapes = [r.by_seq[s].get(n["seq"]) for s in ("ecs", "ocsf", "cef")]
        if None in shapes:
            continue        # the sequence test reports it
        m = mismatches(n, *shapes)
        if m:
            bad.append("; ".join(m[:8]))
    assert not bad, f"{len(bad)} of {len(r.doc['native'])} records disagree, first: " + \
        " || ".join(bad[:3])


def pair_events(r, g, family):
    cp, sp = g["client_port"], g["server_port"]
    evs = r.native(lambda e: {e.get("sport"), e.get("dport")} == {cp, sp} and
                   e["family"] == family and e["type"] in ("connect", "accept", "close"))
    types = sorted(e["type"] for e in evs)
    assert types == ["accept", "close", "close", "connect"], (types, g)
    return {("close-" + e["direction"] if e["type"] == "close" else e["type"]): e for e in evs}


def check_pair(r, g, family, addr):
    """connect, accept, both closes of one tcp_pair: the initiator (the client)
    is the source in every shape, the bytes are the ones the trigger counted."""
    cp, sp = g["client_port"], g["server_port"]
    evs = pair_events(r, g, family)
    cid = community_id(addr, addr, cp, sp)
    exe = exe_path("tcp_pair")
    client = {"pid": g["client_pid"], "comm": comm_of(bytes.fromhex(g["client_comm_hex"]))}
    server = {"pid": g["server_pid"], "comm": "ts-server"}
    for kind, n in evs.items():
        who = client if kind in ("connect", "close-outbound") else server
        assert (n["pid"], n["comm"], n["exe"], n["community_id"]) == \
            (who["pid"], who["comm"], exe, cid), (kind, n)
        ecs, ocsf, (h, cef) = check_agree(r, n)
        want_ends = ((addr, cp), (addr, sp))
        assert ((ecs["source"]["ip"], ecs["source"]["port"]),
                (ecs["destination"]["ip"], ecs["destination"]["port"])) == want_ends, (kind, ecs)
        assert ((ocsf["src_endpoint"]["ip"], ocsf["src_endpoint"]["port"]),
                (ocsf["dst_endpoint"]["ip"], ocsf["dst_endpoint"]["port"])) == want_ends, \
            (kind, ocsf)
        assert ((cef["src"], int(cef["spt"])), (cef["dst"], int(cef["dpt"]))) == want_ends, \
            (kind, cef)
        assert ecs["network"]["community_id"] == ocsf["connection_info"]["community_uid"] == \
            cef["cs4"] == cid, kind
        assert ecs["@timestamp"] == n["time"] and ocsf["time"] == time_ns(n["time"]) // MS == \
            int(cef["rt"]), kind
        # the process: the client's on the source end, the server's on the destination's
        pk = "d" if kind in ("accept", "close-inbound") else "s"
        for pid, name, path in ((ecs["process"]["pid"], ecs["process"]["name"],
                                 ecs["process"]["executable"]),
                                (ocsf["actor"]["process"]["pid"], ocsf["actor"]["process"]["name"],
                                 ocsf["actor"]["process"]["file"]["path"]),
                                (int(cef[pk + "pid"]), cef[pk + "proc"], cef["cs5"])):
            assert (pid, name, path) == (who["pid"], who["comm"], exe), (kind, pid, name, path)
        act = 2 if kind.startswith("close") else 1
        assert (ocsf["activity_id"], ocsf["type_uid"]) == (act, 400100 + act), (kind, ocsf)
        assert h[4] == ("close" if kind.startswith("close") else kind) and h[6] == "3", h
        if kind.startswith("close"):
            # exact bytes, whichever end wrote the line: the client sent g["sent"]
            assert (ecs["source"]["bytes"], ecs["destination"]["bytes"],
                    ecs["network"]["bytes"]) == (g["sent"], g["received"],
                                                 g["sent"] + g["received"]), (kind, ecs)
            assert (ocsf["traffic"]["bytes_out"], ocsf["traffic"]["bytes_in"],
                    ocsf["traffic"]["bytes"]) == (g["sent"], g["received"],
                                                  g["sent"] + g["received"]), \
                (kind, "OCSF bytes_out is what the source (src_endpoint) sent", ocsf["traffic"])
            assert (cef["in"], cef["out"]) == (str(g["sent"]), str(g["received"])), (kind, cef)
            assert ecs["event"]["outcome"] == "success" and "error" not in ecs, ecs
            assert ocsf["status_id"] == 1 and cef["outcome"] == "success", kind
        else:
            for doc in (ecs["source"], ecs["destination"], ecs["network"]):
                assert "bytes" not in doc, (kind, ecs)
            assert "traffic" not in ocsf and "in" not in cef and "out" not in cef, kind


def test_flow_reports():
    """A flow alive two walks: each end's reports, in every shape: totals
    where a close has them, the deltas beside (OCSF: traffic the deltas,
    cumulative_traffic the totals)."""
    r = the_run()
    g = r.gt["slow"]
    ends_ = {g["client_port"], g["server_port"]}
    reps = r.native(lambda e: e["type"] == "flow" and {e["sport"], e["dport"]} == ends_)
    assert {e["direction"] for e in reps} == {"outbound", "inbound"}, reps
    for n in reps:
        assert n["pid"] == (g["client_pid"] if n["direction"] == "outbound"
                            else g["server_pid"]), n
        # the server answers only after its wait: until then the client sent
        # g["sent"], the server nothing
        sent = g["sent"] if n["direction"] == "outbound" else 0
        received = 0 if n["direction"] == "outbound" else g["sent"]
        if n["duration_ns"] < 2_300_000_000:    # well inside the server's wait
            assert (n["bytes_sent"], n["bytes_received"]) == (sent, received), n
        ecs, ocsf, (h, cef) = check_agree(r, n)
        assert ecs["event"]["type"] == ["connection", "info"], ecs
        assert (ocsf["activity_id"], ocsf["type_uid"]) == (6, 400106), ocsf
        assert h[4] == "flow" and h[6] == "3", h
    # a walk comes within 2 s of the flow's start, before the answer
    first = min(reps, key=lambda e: e["seq"])
    assert first["duration_ns"] < 2_300_000_000, first
    ecs, ocsf, _ = r.shapes(first)
    assert ocsf["cumulative_traffic"]["bytes"] == ocsf["traffic"]["bytes"] == g["sent"], ocsf


def test_ipv4_pair_exact_bytes():
    r = the_run()
    check_pair(r, r.gt["v4"], "ipv4", "127.0.0.1")


def test_ipv6_pair_exact_bytes():
    r = the_run()
    check_pair(r, r.gt["v6"], "ipv6", "::1")


def check_failed_connect(r, g, errno, act, family):
    c = r.native(lambda e: e["type"] == "close" and e.get("pid") == g["pid"] and
                 e["dport"] == g["dport"])
    assert len(c) == 1, c
    n = c[0]
    assert (n["error"], n["established"], n["family"]) == (errno, False, family), n
    ecs, ocsf, (h, cef) = check_agree(r, n)
    assert ecs["event"]["outcome"] == "failure" and ecs["error"]["code"] == errno, ecs
    assert ecs["event"]["severity"] == 3, ecs
    assert (ecs["destination"]["ip"], ecs["destination"]["port"]) == (g["daddr"], g["dport"])
    assert (ecs["source"]["bytes"], ecs["destination"]["bytes"]) == (0, 0), ecs
    assert (ocsf["activity_id"], ocsf["type_uid"], ocsf["status_id"], ocsf["status_code"],
            ocsf["severity_id"]) == (act, 400100 + act, 2, errno, 3), ocsf
    assert (h[4], h[6], cef["reason"], cef["outcome"]) == ("connect-failed", "7", errno,
                                                           "failure"), (h, cef)
    assert (cef["dst"], cef["dpt"], cef["spid"]) == (g["daddr"], str(g["dport"]),
                                                     str(g["pid"])), cef
    # its connect: an Open with no outcome (a SYN sent says nothing yet)
    conn = r.native(lambda e: e["type"] == "connect" and e.get("pid") == g["pid"] and
                    e["dport"] == g["dport"])
    assert len(conn) == 1 and conn[0]["seq"] < n["seq"], conn
    ecs, ocsf, (h, cef) = check_agree(r, conn[0])
    assert "outcome" not in ecs["event"] and "status_id" not in ocsf and \
        "outcome" not in cef, (ecs, ocsf, cef)
    assert ocsf["activity_id"] == 1 and h[4] == "connect" and h[6] == "3", (ocsf, h)
    return n


def test_refused_ipv4_and_ipv6():
    r = the_run()
    check_failed_connect(r, r.gt["refused4"], "ECONNREFUSED", 5, "ipv4")
    check_failed_connect(r, r.gt["refused6"], "ECONNREFUSED", 5, "ipv6")


def test_timeout_with_syn_retransmits():
    r = the_run()
    g = r.gt["timeout"]
    n = check_failed_connect(r, g, "ETIMEDOUT", 4, "ipv4")
    assert n["duration_ns"] >= 2.5e9, n
    ecs, ocsf, (h, cef) = r.shapes(n)
    assert ecs["event"]["duration"] == n["duration_ns"] and cef["cn1"] == str(n["duration_ns"])
    assert ocsf["duration"] == n["duration_ns"] // MS >= 2500, ocsf
    rts = r.native(lambda e: e["type"] == "retransmit" and e.get("pid") == g["pid"] and
                   e["dport"] == g["dport"])
    assert rts, "no SYN retransmit"
    for rt in rts:
        ecs, ocsf, (h, cef) = check_agree(r, rt)
        assert rt["state"] == "SYN_SENT" and ecs["tcpship"]["state"] == "SYN_SENT", rt
        assert (ocsf["activity_id"], ocsf["activity_name"], ocsf["type_uid"],
                ocsf["type_name"], ocsf["severity_id"]) == \
            (99, "Retransmit", 400199, "Network Activity: Other", 2), ocsf
        assert ocsf["is_src_dst_assignment_known"] is False, ocsf
        assert (h[4], h[6]) == ("retransmit", "5") and ecs["event"]["severity"] == 2, h
        assert (ecs["source"]["port"], ecs["destination"]["port"]) == (n["sport"], g["dport"])


def test_data_retransmits():
    r = the_run()
    g = r.gt["retrans"]
    c = r.native(lambda e: e["type"] == "close" and e.get("pid") == g["pid"] and
                 e["sport"] == g["sport"])
    assert len(c) == 1, c
    n = c[0]
    assert n["retransmits"] == g["total_retrans"] >= 2 and n["established"], (n, g)
    ecs, ocsf, (h, cef) = check_agree(r, n)
    assert ecs["tcpship"]["retransmits"] == ocsf["unmapped"]["retransmits"] == \
        int(cef["cn2"]) == g["total_retrans"], (ecs, ocsf, cef)
    assert (ecs["source"]["bytes"], ecs["destination"]["bytes"]) == (g["sent"], 0), ecs
    assert (ocsf["traffic"]["bytes_out"], ocsf["traffic"]["bytes_in"]) == (g["sent"], 0), ocsf
    assert (cef["in"], cef["out"]) == (str(g["sent"]), "0"), cef
    assert ocsf["activity_id"] == 2 and (h[4], h[6]) == ("close", "3"), (ocsf, h)
    assert ecs["event"]["outcome"] == "success" and ecs["event"]["severity"] == 1, ecs
    rts = r.native(lambda e: e["type"] == "retransmit" and e.get("sport") == g["sport"] and
                   e["dport"] == g["dport"])
    assert len(rts) >= 2, rts
    for rt in rts:
        ecs, ocsf, (h, cef) = check_agree(r, rt)
        assert rt["state"] == "ESTABLISHED" and rt["pid"] == g["pid"], rt
        assert (ocsf["activity_id"], ocsf["type_uid"], ocsf["severity"]) == \
            (99, 400199, "Low"), ocsf
        assert (h[4], h[6], cef["spid"]) == ("retransmit", "5", str(g["pid"])), (h, cef)
        assert ecs["event"]["type"] == ["connection", "info"] and ecs["event"]["severity"] == 2


def test_send_recv_bytes():
    """-e all: each shape's send/recv lines of the IPv4 pair add up to the
    bytes the trigger moved, on the right end."""
    r = the_run()
    g = r.gt["v4"]
    cp, sp = g["client_port"], g["server_port"]
    sums = {}
    for side, port, pid in (("client", cp, g["client_pid"]), ("server", sp, g["server_pid"])):
        for t in ("send", "recv"):
            evs = r.native(lambda e: e["type"] == t and e.get("sport") == port and
                           e["family"] == "ipv4" and e["dport"] in (cp, sp))
            tot = {"native": 0, "ecs": 0, "ocsf": 0, "cef": 0}
            for n in evs:
                assert n["pid"] == pid, n
                ecs, ocsf, (h, cef) = check_agree(r, n)
                assert ocsf["activity_id"] == 6 and ocsf["type_uid"] == 400106 and \
                    h[4] == t and h[6] == "3", (ocsf, h)
                assert ocsf["is_src_dst_assignment_known"] is False, ocsf
                # the direction is not known: the local end is the source
                assert (ecs["source"]["port"], ocsf["src_endpoint"]["port"], cef["spt"]) == \
                    (port, port, str(port)), (ecs, ocsf, cef)
                tot["native"] += n["bytes"]
                if t == "send":
                    tot["ecs"] += ecs["source"]["bytes"]
                    tot["ocsf"] += ocsf["traffic"]["bytes_out"]
                    tot["cef"] += int(cef["in"])
                    assert "bytes" not in ecs["destination"] and "out" not in cef, (ecs, cef)
                else:
                    tot["ecs"] += ecs["destination"]["bytes"]
                    tot["ocsf"] += ocsf["traffic"]["bytes_in"]
                    tot["cef"] += int(cef["out"])
                    assert "bytes" not in ecs["source"] and "in" not in cef, (ecs, cef)
            sums[side, t] = tot
    for (side, t), want in ((("client", "send"), g["sent"]), (("server", "recv"), g["sent"]),
                            (("server", "send"), g["received"]),
                            (("client", "recv"), g["received"])):
        assert set(sums[side, t].values()) == {want}, (side, t, sums[side, t], want)


def check_dns(r, g, qtype_name, count=1):
    evs = r.native(lambda e: e["type"] == "dns" and e.get("pid") == g["pid"])
    assert len(evs) == count, evs
    want_name = dns_name(g["qname_wire_hex"])
    for i, n in enumerate(evs):
        qt = qtype_name if i == 0 else "AAAA"
        assert (n["qname"], n["qtype"], n["daddr"], n["dport"]) == \
            (want_name, qt, "127.0.0.1", 53), n
        assert n["bytes"] == g["bytes"], (n, g)
        ecs, ocsf, (h, cef) = check_agree(r, n)
        assert (ecs["dns"]["question"]["name"], ecs["dns"]["question"]["type"]) == \
            (want_name, qt), ecs
        assert (ocsf["query"]["hostname"], ocsf["query"]["type"]) == (want_name, qt), ocsf
        assert (cef["flexString1"], cef["flexString2"]) == (want_name, qt), cef
        assert (ocsf["class_uid"], ocsf["activity_id"], ocsf["type_uid"]) == \
            (4003, 1, 400301), ocsf
        assert ecs["network"]["transport"] == "udp" and cef["proto"] == "UDP", (ecs, cef)
        assert (ecs["destination"]["ip"], ecs["destination"]["port"]) == ("127.0.0.1", 53)
        assert (h[4], h[6], cef["dst"], cef["dpt"]) == ("dns", "3", "127.0.0.1", "53"), cef
        assert ecs["network"]["bytes"] == ocsf["traffic"]["bytes_out"] == int(cef["in"]) == \
            g["bytes"], (ecs, ocsf, cef)
        if "sport" in n:
            assert ecs["source"]["bytes"] == g["bytes"], ecs
            cid = community_id("127.0.0.1", "127.0.0.1", n["sport"], 53, proto=17)
            assert ecs["network"]["community_id"] == ocsf["connection_info"]["community_uid"] \
                == cef["cs4"] == n["community_id"] == cid, (ecs, n)
    return evs


def test_dns_queries():
    r = the_run()
    a, aaaa, mm = r.gt["dns"]
    check_dns(r, a, "A")
    check_dns(r, aaaa, "AAAA")
    check_dns(r, mm, "A", count=2)


def test_dns_hostile_qname():
    r = the_run()
    for g, label in zip(r.gt["dns_hostile"], HOSTILE_LABELS):
        n = check_dns(r, g, "A")[0]
        raw = [l for l in r.raw["cef"] if f" cn3={n['seq']} " in l]
        assert len(raw) == 1 and raw[0].count("\n") == 1, raw
        ecs, ocsf, (h, cef) = r.shapes(n)
        # the name has no raw space, CR, LF or control byte; '\\' and '=' are escaped
        assert set(cef) == set(cef_expect(n)[2]), (sorted(cef), raw[0])
        assert n["qname"].startswith("evil.example.") and "\\" in n["qname"], n
        assert f" flexString1={cef_escape(n['qname'])} " in raw[0], raw[0]
        if b"=" in label:
            assert "=" in n["qname"] and "\\=" in raw[0], (n["qname"], raw[0])


def test_hostile_comm():
    """A task name of quotes, backslashes, newlines, control bytes, invalid
    UTF-8 and forged key=value pairs: JSON shapes carry it as native does,
    CEF with its replacements, and it adds no CEF key and no line."""
    r = the_run()
    exe = exe_path("tcp_pair")
    for g, name in zip(r.gt["hostile"], HOSTILE_COMMS):
        assert bytes.fromhex(g["client_comm_hex"]) == name[:15], g
        want = comm_of(name)
        cp, sp = g["client_port"], g["server_port"]
        evs = r.native(lambda e: e.get("pid") == g["client_pid"] and
                       {e.get("sport"), e.get("dport")} == {cp, sp})
        kinds = sorted(e["type"] for e in evs)
        assert {"connect", "close", "send", "recv"} <= set(kinds), kinds
        for n in evs:
            assert n["comm"] == want and n["exe"] == exe, (n, want)
            ecs, ocsf, (h, cef) = check_agree(r, n)
            assert ecs["process"]["name"] == ocsf["actor"]["process"]["name"] == want, \
                (ecs["process"], ocsf["actor"]["process"])
            assert set(cef) == set(cef_expect(n)[2]), (n["type"], sorted(cef))
            assert cef["sproc"] == cef_text(want) and cef["spid"] == str(g["client_pid"]), cef
            raw = [l for l in r.raw["cef"] if f" cn3={n['seq']} " in l]
            assert len(raw) == 1 and raw[0].endswith("\n") and raw[0].count("\n") == 1, raw
        if name == HOSTILE_COMMS[0]:
            assert cef_text(want) == 'a"b\\c\nd\ufffd\ufffd]\ufffd\u00e9', repr(cef_text(want))
        else:
            assert cef_text(want) == "n spid=1\nact=x\\", repr(cef_text(want))
    # the forged keys are values: the line of the connect says spid and act once
    n = r.native(lambda e: e["type"] == "connect" and e.get("pid") == r.gt["hostile"][1]
                 ["client_pid"])[0]
    raw = [l for l in r.raw["cef"] if f" cn3={n['seq']} " in l][0]
    assert " sproc=n spid\\=1\\nact\\=x\\\\ suid=" in raw, raw
    h, cef = parse_cef(raw)
    assert cef["spid"] == str(n["pid"]) and cef["act"] == "connect", cef


# ------------------------------------------------- config (no root) ----

def check_config(cfg_obj=None, *args):
    """tcpship --check-config with this config file and arguments, as
    nobody when we are root (checking needs no privilege)."""
    argv = list(args)
    if cfg_obj is not None:
        d = tmpdir()
        os.chmod(d, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        path = os.path.join(d, "tcpship.json")
        with open(path, "w") as f:
            json.dump(cfg_obj, f)
        os.chmod(path, 0o644)
        argv = ["-c", path, *argv]
    p = run_tcpship(*argv, "--check-config", user="65534" if os.geteuid() == 0 else None)
    return p.returncode, p.stderr.strip().splitlines(), p.stdout.strip().splitlines()


def test_config_unknown_schema_in_an_output():
    rc, lines, out = check_config({"outputs": [{"type": "file", "path": "/tmp/x.jsonl",
                                           "schema": "xml"}]})
    assert rc == 2 and len(lines) == 1 and "outputs[0].schema" in lines[0], (rc, lines)
    for s in ("native", "ecs", "ocsf", "cef"):
        assert s in lines[0], lines     # it says what is allowed
    rc, lines, out = check_config({"outputs": [{"type": "file", "path": "/tmp/a.jsonl"},
                                          {"type": "file", "path": "/tmp/b.jsonl",
                                           "schema": "ECS"}]})
    assert rc == 2 and len(lines) == 1 and "outputs[1].schema" in lines[0], (rc, lines)


def test_config_bad_schema_option():
    rc, lines, out = check_config(None, "--schema", "bogus")
    assert rc == 2 and len(lines) == 1 and "--schema" in lines[0] and "bogus" in lines[0], \
        (rc, lines)


def test_config_text_format_with_a_schema():
    rc, lines, out = check_config(None, "--format", "text", "--schema", "ecs")
    assert rc == 2 and len(lines) == 1 and "--format text" in lines[0] and "ecs" in lines[0], \
        (rc, lines)


def test_config_cef_on_a_json_documents_format():
    rc, lines, out = check_config({"outputs": [{"type": "http", "url": "http://127.0.0.1:9/_bulk",
                                           "format": "elasticsearch", "schema": "cef"}]})
    assert rc == 2 and len(lines) == 1 and "takes JSON documents" in lines[0] and \
        "outputs[0]" in lines[0], (rc, lines)


def test_config_accepts_the_shapes():
    rc, lines, out = check_config({"outputs": [{"type": "file", "path": "/tmp/x.jsonl",
                                           "schema": "ocsf"}]})
    assert rc == 0 and not lines and out == ["tcpship: configuration OK: 1 output"], \
        (rc, lines, out)
    rc, lines, out = check_config({"outputs": [
        {"type": "file", "path": "/tmp/n.jsonl"},
        {"type": "file", "path": "/tmp/e.jsonl", "schema": "ecs"},
        {"type": "file", "path": "/tmp/o.jsonl", "schema": "ocsf"},
        {"type": "file", "path": "/tmp/c.cef", "schema": "cef"},
        {"type": "http", "url": "http://127.0.0.1:9/_bulk", "format": "elasticsearch",
         "schema": "ocsf"}]}, "--schema", "cef")
    assert rc == 0 and not lines and out == ["tcpship: configuration OK: 5 outputs"], \
        (rc, lines, out)
