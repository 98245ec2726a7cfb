"""The kprobe set on a real kprobe kernel: Debian 12's own kernel booted in
QEMU (tests/vm/vmrun.py) with tcpship and the trigger programs in a throwaway
initramfs. One boot runs everything (tests/vm/guest.sh); each check here is
one test, matched field by field against the ground truth the triggers
printed, with the host integration tests' own check code where it applies.

`make test` skips these, saying why, when the VM cannot be had (no qemu, no
busybox, Debian's kernel package not downloadable); `make test-vm` runs only
these and fails instead (TCPSHIP_VM_REQUIRED=1).
"""
import importlib.util
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
sys.path.insert(0, HERE)

import tslib  # noqa: E402
import vmrun as vm  # noqa: E402


def _host_checks():
    """tests/integration/test_events.py, for its check code (not its tests)."""
    path = os.path.join(os.path.dirname(HERE), "integration", "test_events.py")
    spec = importlib.util.spec_from_file_location("vm_host_event_checks", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


host = _host_checks()

EVENTS = ("connect", "accept", "close", "retransmit", "send", "recv", "dns")
KPROBE = dict(connect="kprobe", accept="kprobe", state="kprobe")
TRACEPOINT = dict(connect="tracepoint", accept="tracepoint", state="tracepoint")


def unavailable(reason):
    if os.environ.get("TCPSHIP_VM_REQUIRED"):
        raise AssertionError(f"the VM suite cannot run here: {reason}")
    raise tslib.Skip(f"VM suite skipped: {reason}")


class Recorded:
    """One tcpship run inside the guest, finished: the part of tslib.Tcpship
    the host checks use, over what the guest printed."""

    def __init__(self, name, secs):
        if f"{name}.err" not in secs:
            raise AssertionError(f"the guest printed nothing of tcpship run '{name}'")
        self.name = name
        self.lines = secs.get(f"{name}.out", [])
        self.stderr_lines = secs[f"{name}.err"]
        rc = secs.get(f"{name}.rc", [""])
        self.rc = int(rc[0]) if rc and rc[0].strip().isdigit() else None
        self.events, self.bad = [], []
        for line in self.lines:
            try:
                ev = json.loads(line)
                tslib.check_schema(ev)
                self.events.append(ev)
            except Exception as e:  # noqa: BLE001 - every bad line is reported
                self.bad.append((line, str(e)))

    @property
    def stderr(self):
        return "\n".join(self.stderr_lines)

    def matching(self, pred):
        return [e for e in self.events if pred(e)]

    def wait_events(self, pred, count=1, timeout=None, what="events"):
        m = self.matching(pred)
        if len(m) < count:
            raise AssertionError(f"[{self.name}] wanted {count} {what}, got {len(m)}: {m[:4]}; "
                                 f"{len(self.events)} events in all; bad lines: "
                                 f"{self.bad[:2]}; stderr: {self.stderr[-700:]}")
        return m

    def stop(self, *a, **kw):
        return self.rc

    def assert_clean(self):
        if self.bad:
            raise AssertionError(f"[{self.name}] {len(self.bad)} bad lines, first: {self.bad[0]}")

    def exit_counters(self):
        line = [l for l in self.stderr_lines if l.startswith("tcpship: exit: ")]
        if not line:
            raise AssertionError(f"[{self.name}] no exit line: {self.stderr[-500:]}")
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line[-1].split(" | ")[0])}


_state = {}


def _boot():
    vm.preflight()
    k = vm.kernel()
    vm.log(f"kernel {k['pkg']} {k['version']} ({k['how']})")
    initrd, size, t_init = vm.initramfs()
    vm.log(f"initramfs {size / 1e6:.1f} MB (busybox, tcpship, triggers, their libraries) "
           f"built in {t_init:.2f} s")
    text, secs, rc, cmd = vm.boot(k, initrd)
    s = vm.sections(text)
    r = dict(kernel=k, secs=s, boot_s=secs, qemu_rc=rc, cmd=cmd, text=text,
             initramfs_s=t_init)
    info = s["@"]
    vm.log(f"qemu ({os.environ.get('VM_ACCEL') or 'tcg'}) exit {rc} after {secs:.1f} s: "
           f"guest up at {info.get('up', '?')} s, checks took {info.get('tests_s', '?')} s "
           f"in the guest; console in {os.path.join(vm.OUT, 'console.log')}")
    return r


def run():
    """The one boot, made on first use; later calls reuse it."""
    if "r" not in _state:
        try:
            _state["r"] = _boot()
        except Exception as e:  # noqa: BLE001 - Unavailable skips, the rest fails every test
            _state["r"] = e
    r = _state["r"]
    if isinstance(r, vm.Unavailable):
        unavailable(str(r))
    if isinstance(r, Exception):
        raise AssertionError(f"no VM result: {type(r).__name__}: {r}")
    return r


def section(name):
    s = run()["secs"]
    if name not in s:
        raise AssertionError(f"the guest printed no '{name}' (it got as far as: "
                             f"{' '.join(sorted(s))[:300]}; console: .output/vm/console.log)")
    return s[name]


def ts(name):
    key = f"ts:{name}"
    if key not in _state:
        _state[key] = Recorded(name, run()["secs"])
    return _state[key]


def gt(label):
    """A trigger's ground truth, as tslib.trig returns it on the host."""
    out = section(f"trig.{label}.out")
    rc = section(f"trig.{label}.rc")
    err = run()["secs"].get(f"trig.{label}.err", [])
    if rc != ["0"]:
        raise AssertionError(f"trigger {label} exited {rc}: {' | '.join(err)[-800:]}")
    lines = [l for l in out if l.startswith("{")]
    if not lines:
        raise AssertionError(f"trigger {label} printed no ground truth: {out} {err}")
    return json.loads(lines[-1])


by = tslib.by


# ------------------------------------------------------------------ the boot

def test_boot():
    r = run()
    info = r["secs"]["@"]
    assert r["qemu_rc"] is not None, \
        f"the VM ran out of time after {r['boot_s']:.0f} s (VM_TIMEOUT): {r['text'][-1500:]}"
    assert r["qemu_rc"] == 0, f"qemu exit {r['qemu_rc']}: {r['text'][-1500:]}"
    assert "exit-code" in info, f"no exit-code line: {r['text'][-1500:]}"
    log = r["secs"].get("guest.log", [])
    assert info["exit-code"] == "0" and not [l for l in log if l], \
        f"guest exit code {info['exit-code']}: {' | '.join(log)}"
    assert info.get("kernel", "").startswith("6.1.") or r["kernel"]["how"] == "VM_KERNEL", info
    if r["kernel"].get("release"):
        assert info["kernel"] == r["kernel"]["release"], (info, r["kernel"])
    if r["kernel"].get("config"):
        with open(r["kernel"]["config"]) as f:
            config = f.read()
        for opt in ("CONFIG_KPROBES", "CONFIG_KPROBE_EVENTS", "CONFIG_DEBUG_INFO_BTF",
                    "CONFIG_BPF_SYSCALL", "CONFIG_PVH"):
            assert f"\n{opt}=y\n" in config, f"{opt} is not =y in {r['kernel']['config']}"
    tl = " ".join(section("timeline"))
    vm.log(f"guest timeline (s since boot): {tl}")


def test_list_probes_every_program_of_both_sets():
    """Every program of both sets goes through 6.1's verifier; a set that
    does not load must be one whose hook this kernel does not have."""
    out = section("list.out")
    vm.log("guest --list-probes:\n    " + "\n    ".join(out))
    rows = [l.split(None, 4) for l in out[1:] if l and not l.startswith("auto picks:")]
    seen = {(r[0], r[1]) for r in rows}
    hooks = {"state", "connect", "accept", "retransmit", "send", "recv", "dns", "process",
             "cgroup", "synack", "answers", "flow"}
    assert seen == {(h, s) for h in hooks for s in ("kprobe", "tracepoint")}, seen
    have = set(section("tracepoints"))
    unexplained = []
    for hook, s, loads, attaches, what in rows:
        if s == "kprobe":
            assert loads == "yes" and attaches == "yes", f"kprobe set, {hook}: {what}"
            continue
        if loads == "yes" and attaches == "yes":
            continue
        # tp_btf sock_{send,recv}_length came with 6.3: --list-probes must
        # say the hook is absent here (n/a), not count it as a rejection
        absent = [tp for tp in re.findall(r"tp_btf (\w+)", what) if tp not in have]
        if not absent or loads != "n/a" or "does not exist on this kernel" not in what:
            unexplained.append(f"{hook} {s}: {loads} {what}")
    assert not unexplained, f"verifier rejections on this kernel: {unexplained}"
    assert section("list.rc") == ["0"], "--list-probes failed on 6.1"


def test_auto_picks_kprobes():
    out = section("list.out")
    picks = dict(kv.split("=") for kv in
                 [l for l in out if l.startswith("auto picks:")][0].split(":", 1)[1].split())
    assert set(picks.values()) == {"kprobe"}, picks
    auto = ts("auto")
    for ev in EVENTS:
        m = re.search(rf"^tcpship: {ev} +(\w+) ", auto.stderr, re.M)
        assert m and m.group(1) == "kprobe", f"auto: {ev}: {m and m.group(0)}\n{auto.stderr}"
    vm.log("guest --probes auto -e all said:\n    " + "\n    ".join(
        l for l in auto.stderr_lines if not l.startswith(("tcpship: ready", "tcpship: exit"))))
    g = gt("auto_pair")
    flow = lambda e: {e.get("sport"), e.get("dport")} == {g["client_port"], g["server_port"]}
    evs = auto.matching(flow)
    assert {e["type"] for e in evs} == {"connect", "accept", "close", "send", "recv"}, evs
    assert all(e["probe"] == "kprobe" for e in evs), evs
    assert auto.events and all(e["probe"] == "kprobe" for e in auto.events)
    assert auto.rc == 0, auto.stderr
    auto.assert_clean()


# ----------------------------------------------------- kprobe set (forced)

def pair(name, label, family, addr, probe):
    t = ts(name)
    host.check_pair(t, gt(label), family=family, addr=addr, probe=probe)
    t.assert_clean()


def test_kprobe_set_with_kallsyms_hidden():
    """/proc/kallsyms empty (systemd's ProtectKernelTunables=): the kprobe
    targets are found in the kernel's BTF, and the set attaches and reports."""
    t = ts("nksym")
    for ev in ("connect", "accept", "close"):
        m = re.search(rf"^tcpship: {ev} +(\w+) ", t.stderr, re.M)
        assert m and m.group(1) == "kprobe", f"nksym: {ev}: {m and m.group(0)}\n{t.stderr}"
    g = gt("nksym_pair")
    evs = t.matching(lambda e: {e.get("sport"), e.get("dport")} ==
                     {g["client_port"], g["server_port"]})
    assert sorted(e["type"] for e in evs) == ["accept", "close", "close", "connect"], evs
    assert all(e["probe"] == "kprobe" for e in evs), evs
    assert t.rc == 0, t.stderr
    t.assert_clean()


def test_kprobe_connect_latency():
    """The kprobe set measures the handshake too: on the accept and both
    closes; its connect event goes out before the SYN, so without it."""
    t, g = ts("kp"), gt("pair4")
    ports = {g["client_port"], g["server_port"]}
    evs = {(e["pid"] == g["client_pid"], e["type"]): e for e in
           t.matching(lambda e: {e.get("sport"), e.get("dport")} == ports)}
    assert "connect_latency_ns" not in evs[True, "connect"], evs[True, "connect"]
    for k in ((False, "accept"), (True, "close"), (False, "close")):
        assert 0 < evs[k].get("connect_latency_ns", 0) < 1_000_000_000, (k, evs[k])
    assert evs[False, "accept"]["connect_latency_ns"] == \
        evs[False, "close"]["connect_latency_ns"], evs


def dns_answers(name):
    """Both answers the trigger's own server sent were seen as the client
    read them: matched to their query, parsed, timed."""
    t = ts(name)
    for label in ("dns_answer", "dns_answer_c"):
        g = gt(label)
        assert g["answered"] == 1, g
        evs = t.matching(lambda e: e["type"] == "dns" and e.get("pid") == g["pid"])
        a = [e for e in evs if e["direction"] == "answer"]
        assert len(a) == 1 and len(evs) == 2, (label, evs)
        a = a[0]
        assert (a["id"], a["rcode"], a["answers"][0]["data"]) == (0x1234, "NOERROR",
                                                                  "192.0.2.7"), a
        assert a["sport"] == g["sport"] and 0 < a["latency_ns"] < 10**9, (a, g)
    t.assert_clean()


def flow_reports(name, probe):
    """A flow alive 2.5 s: each end reported by a walk of the flow table,
    with the bytes moved before the server's wait, the deltas equal to the
    totals (a first report), and the close agreeing."""
    t, g = ts(name), gt("flowlong")
    ports = {g["client_port"], g["server_port"]}
    evs = t.matching(lambda e: {e.get("sport"), e.get("dport")} == ports)
    reps = [e for e in evs if e["type"] == "flow"]
    assert {e["direction"] for e in reps} == {"outbound", "inbound"}, evs
    for e in reps:
        client = e["direction"] == "outbound"
        assert e["probe"] == probe and e["state"] == "ESTABLISHED", e
        assert e["pid"] == (g["client_pid"] if client else g["server_pid"]), (e, g)
        assert e["duration_ns"] >= 1_000_000_000, e
        if e["duration_ns"] < 2_300_000_000:     # inside the server's wait
            assert (e["bytes_sent"], e["bytes_received"]) == \
                ((g["sent"], 0) if client else (0, g["sent"])), (e, g)
    for direction in ("outbound", "inbound"):
        mine = sorted((e for e in reps if e["direction"] == direction), key=lambda e: e["seq"])
        prev = {"bytes_sent": 0, "bytes_received": 0, "retransmits": 0}
        for e in mine:
            for k in ("bytes_sent", "bytes_received", "retransmits"):
                assert e[k + "_delta"] == e[k] - prev[k], (k, prev, e)
            prev = e
        close = [e for e in evs if e["type"] == "close" and e["direction"] == direction]
        assert len(close) == 1 and close[0]["community_id"] == mine[0]["community_id"], evs
    t.assert_clean()


def test_kprobe_flow_reports():
    flow_reports("kp", "kprobe")


def test_tracepoint_flow_reports():
    flow_reports("tp", "tracepoint")


def test_kprobe_dns_answers():
    dns_answers("kp")


def test_tracepoint_dns_answers():
    dns_answers("tp")


def test_kprobe_ipv4_pair_exact_bytes():
    pair("kp", "pair4", "ipv4", "127.0.0.1", KPROBE)


def test_kprobe_ipv6_pair_exact_bytes():
    pair("kp", "pair6", "ipv6", "::1", KPROBE)


def test_kprobe_v4_mapped_shown_as_ipv4():
    g = gt("mapped")
    ev = ts("kp").wait_events(by(type="connect", pid=g["client_pid"]), what="connect")[0]
    assert ev["family"] == "ipv4" and ev["daddr"] == "127.0.0.1" and \
        ev["saddr"] == "127.0.0.1" and ev["dport"] == g["server_port"], ev


CID = "5e1f00d0c0ffee5e1f00d0c0ffee5e1f00d0c0ffee5e1f00d0c0ffee5e1f0c0a"


def test_kprobe_identity_in_a_container_cgroup():
    """The kprobe set carries who: a docker-shaped cgroup gives container_id
    and the cgroup path, the exec hook the exe, the task its parent; close
    (softirq context possible) carries the owner's."""
    g = gt("container")
    t = ts("kp")
    cg = "/system.slice/docker-%s.scope" % CID
    for typ in ("connect", "close"):
        ev = t.wait_events(by(type=typ, pid=g["client_pid"]), what=typ)[0]
        assert ev["container_id"] == CID and ev["cgroup"] == cg, ev
        assert ev["container_runtime"] == "docker", ev
        assert ev["exe"] == "/trig/tcp_pair", ev
        assert isinstance(ev["ppid"], int) and 0 < ev["ppid"] != ev["pid"], ev
        assert ev["probe"] == "kprobe", ev
        assert ev["community_id"].startswith("1:"), ev
    acc = t.wait_events(by(type="accept", pid=g["server_pid"]), what="accept")[0]
    assert acc["container_id"] == CID and acc["exe"] == "/trig/tcp_pair", acc
    # the host's own triggers: no container, their exe all the same
    host_ev = t.wait_events(by(type="connect", pid=gt("pair4")["client_pid"]), what="connect")[0]
    assert "container_id" not in host_ev and host_ev["exe"] == "/trig/tcp_pair", host_ev
    assert host_ev["cgroup"] == "/", host_ev


def test_kprobe_hostile_comm():
    t = ts("kp")
    g = gt("hostile")
    ev = t.wait_events(by(type="connect", pid=g["client_pid"]), what="connect")[0]
    assert ev["comm"] == 'a"b\\c\nd\x01\ufffd]\x7fé', repr(ev["comm"])
    raw = [l for l in t.lines if f'"pid":{g["client_pid"]},' in l and '"connect"' in l][0]
    assert "\n" not in raw and raw.endswith("}"), repr(raw)
    assert '\\u000a' in raw and '\\u0001' in raw and '\\u007f' in raw, raw
    t.wait_events(by(type="close", pid=g["client_pid"]), what="close")


def test_kprobe_comm_15_bytes_truncated():
    g = gt("comm15")
    ev = ts("kp").wait_events(by(type="connect", pid=g["client_pid"]), what="connect")[0]
    assert ev["comm"] == "0123456789abcde", ev["comm"]


def test_kprobe_send_recv_bytes_and_latency():
    t = ts("kp")
    g = gt("latency")
    cp, sp = g["client_port"], g["server_port"]

    def total(pred):
        return sum(e["bytes"] for e in t.matching(pred))
    client_sent = lambda e: e["type"] == "send" and e["sport"] == cp
    server_recv = lambda e: e["type"] == "recv" and e["sport"] == sp
    client_recv = lambda e: e["type"] == "recv" and e["sport"] == cp
    got = (total(client_sent), total(server_recv), total(client_recv))
    assert got == (70000, 70000, 3000), f"bytes sent/received/answered: {got}"
    assert all(e["pid"] == g["client_pid"] for e in t.matching(client_sent))
    assert all(e["pid"] == g["server_pid"] for e in t.matching(server_recv))
    first = t.matching(client_recv)[0]
    assert first["latency_ns"] >= 140e6, first
    io = t.matching(lambda e: e["type"] in ("send", "recv") and e["sport"] in (cp, sp))
    assert all(e["probe"] == "kprobe" and "latency_ns" in e for e in io), io[:3]
    # the pair test's client sent 12345 bytes in 3 calls: 3 send events
    p4 = gt("pair4")
    sends = t.matching(lambda e: e["type"] == "send" and e["sport"] == p4["client_port"])
    assert [e["bytes"] for e in sends] == [4115, 4115, 4115], sends


def test_kprobe_min_latency_filters_fast_calls():
    t = ts("lat")
    g = gt("minlat")
    cp = g["client_port"]
    slow = t.wait_events(lambda e: e["type"] == "recv" and e["sport"] == cp,
                         what="the slow recv")
    assert slow[0]["latency_ns"] >= 250e6, slow
    quick = t.matching(lambda e: e["type"] == "send" and e["sport"] in (cp, g["server_port"]))
    assert not quick, quick
    assert all(e["latency_ns"] >= 100e6 for e in t.events), t.events
    assert t.rc == 0
    t.assert_clean()


def refused(name, label, family, addr):
    t = ts(name)
    g = gt(label)
    assert g["errno"] == "ECONNREFUSED"
    c = t.wait_events(by(type="close", pid=g["pid"], dport=g["dport"]), what="close")[0]
    for k, v in dict(established=False, error="ECONNREFUSED", bytes_sent=0, bytes_received=0,
                     family=family, daddr=addr, tid=g["tid"], direction="outbound").items():
        assert c.get(k) == v, f"close {k}: {c.get(k)!r} != {v!r}"
    conn = t.wait_events(by(type="connect", pid=g["pid"], dport=g["dport"]),
                         what="connect")[0]
    assert conn["sport"] == c["sport"] and conn["sport"] > 0, (conn, c)
    assert conn["seq"] < c["seq"], "connect comes before its close"


def test_kprobe_refused_ipv4():
    refused("kp", "refused4", "ipv4", "127.0.0.1")


def test_kprobe_refused_ipv6():
    refused("kp", "refused6", "ipv6", "::1")


def syn_timeout(name):
    """A connect nobody answers (full accept queue): SYN_SENT retransmits
    owned by the connecting process, then a close with ETIMEDOUT."""
    t = ts(name)
    g = gt("synfull")
    assert g["errno"] == "ETIMEDOUT", g
    c = t.wait_events(by(type="close", pid=g["pid"], dport=g["dport"]), what="close")[0]
    assert c["established"] is False and c["error"] == "ETIMEDOUT", c
    assert c["sport"] == g["sport"] and c["tid"] == g["tid"], (c, g)
    assert c["duration_ns"] >= 2.5e9, c
    rt = t.wait_events(by(type="retransmit", pid=g["pid"], dport=g["dport"]),
                       what="retransmit")
    assert all(r["state"] == "SYN_SENT" and r["sport"] == c["sport"] for r in rt), rt
    conn = t.matching(by(type="connect", pid=g["pid"], dport=g["dport"]))
    assert len(conn) == 1 and conn[0]["seq"] < rt[0]["seq"], (conn, rt)
    assert c["retransmits"] == len(rt) >= 1, (c, rt)


def test_kprobe_syn_retransmits_and_timeout():
    syn_timeout("kp")


def data_retransmits(name, label):
    """Segments dropped by the receiver until two retransmissions: counted
    on the close and seen one by one, owned by the sender."""
    t = ts(name)
    g = gt(label)
    c = t.wait_events(lambda e: e["type"] == "close" and e.get("pid") == g["pid"] and
                      e["sport"] == g["sport"], what="client close")[0]
    assert c["retransmits"] == g["total_retrans"] >= 2, (c, g)
    assert c["bytes_sent"] == g["sent"] == g["server_got"] and c["established"], (c, g)
    rt = t.matching(lambda e: e["type"] == "retransmit" and e["sport"] == g["sport"])
    assert len(rt) >= 2 and all(r["state"] == "ESTABLISHED" and r["pid"] == g["pid"]
                                for r in rt), rt


def test_kprobe_data_retransmits_ipv4():
    data_retransmits("kp", "stall4")


def test_kprobe_data_retransmits_ipv6():
    data_retransmits("kp", "stall6")


def dns(name, label, server, qtype="1", mode="sendto"):
    t = ts(name)
    g = gt(label)
    assert g["received"] >= 1, g
    n = 2 if mode == "sendmmsg" else 1
    evs = t.wait_events(by(type="dns", pid=g["pid"]), n, what=f"{n} dns events")
    ev = evs[0]
    want_qname = host.dns_expected(g["qname_wire_hex"])
    fam = "ipv6" if ":" in server else "ipv4"
    for k, v in dict(qname=want_qname, qtype={"1": "A", "28": "AAAA", "16": "TXT"}[qtype],
                     daddr=server, dport=53, family=fam, tid=g["tid"],
                     bytes=g["bytes"]).items():
        assert ev.get(k) == v, f"dns {k}: {ev.get(k)!r} != {v!r}"
    if mode == "sendmmsg":
        assert evs[1]["qtype"] == "AAAA" and evs[1]["qname"] == want_qname, evs[1]
    if mode in ("connect", "sendmmsg"):
        assert evs[0]["sport"] == g["sport"], (evs[0], g)


def test_kprobe_dns_sendto_ipv4():
    dns("kp", "dns_sendto", "127.0.0.1")


def test_kprobe_dns_connected_send_ipv4():
    dns("kp", "dns_connect", "127.0.0.1", "28", "connect")


def test_kprobe_dns_sendmmsg_glibc_style():
    dns("kp", "dns_sendmmsg", "127.0.0.1", mode="sendmmsg")


def test_kprobe_dns_sendmsg_ipv6():
    dns("kp", "dns_sendmsg6", "::1", "16", "sendmsg")


def test_kprobe_dns_hostile_qname():
    dns("kp", "dns_hostile", "127.0.0.1")


def test_kprobe_run_clean():
    """Every line valid against the schema, every event from the kprobe
    set, nothing lost, a clean exit."""
    t = ts("kp")
    assert t.rc == 0, f"exit {t.rc}: {t.stderr[-800:]}"
    t.assert_clean()
    for ev in (*EVENTS, "flow"):
        assert re.search(rf"^tcpship: {ev} +kprobe ", t.stderr, re.M), t.stderr
    assert t.events and all(e["probe"] == "kprobe" for e in t.events), \
        [e for e in t.events if e["probe"] != "kprobe"][:3]
    n = t.exit_counters()
    assert n.get("lost_kernel") == 0 and n.get("events") == len(t.events), (n, len(t.events))
    # -e all, and flow with --flow-interval
    assert {e["type"] for e in t.events} == set(EVENTS) | {"flow"}, \
        {e["type"] for e in t.events}
    vm.log(f"kprobe run: {n}")


# ------------------------------------- the tracepoint set on the same kernel
# (the fallback where kprobes cannot attach; default events, no send/recv)

def test_tracepoint_ipv4_pair_exact_bytes():
    pair("tp", "pair4", "ipv4", "127.0.0.1", TRACEPOINT)


def test_tracepoint_ipv6_pair_exact_bytes():
    pair("tp", "pair6", "ipv6", "::1", TRACEPOINT)


def test_tracepoint_refused_ipv4():
    refused("tp", "refused4", "ipv4", "127.0.0.1")


def test_tracepoint_refused_ipv6():
    refused("tp", "refused6", "ipv6", "::1")


def test_tracepoint_syn_retransmits_and_timeout():
    syn_timeout("tp")


def test_tracepoint_data_retransmits_ipv4():
    data_retransmits("tp", "stall4")


def test_tracepoint_dns_sendto_ipv4():
    dns("tp", "dns_sendto", "127.0.0.1")


def test_tracepoint_dns_connected_send_ipv4():
    dns("tp", "dns_connect", "127.0.0.1", "28", "connect")


def test_tracepoint_dns_sendmmsg_glibc_style():
    dns("tp", "dns_sendmmsg", "127.0.0.1", mode="sendmmsg")


def test_tracepoint_dns_sendmsg_ipv6():
    dns("tp", "dns_sendmsg6", "::1", "16", "sendmsg")


def test_tracepoint_dns_hostile_qname():
    dns("tp", "dns_hostile", "127.0.0.1")


def test_tracepoint_run_clean():
    """6.1 has no sock_{send,recv}_length (6.3+): the tracepoint set serves
    every event but send/recv there."""
    t = ts("tp")
    assert t.rc == 0, f"exit {t.rc}: {t.stderr[-800:]}"
    t.assert_clean()
    assert t.events and all(e["probe"] == "tracepoint" for e in t.events)
    n = t.exit_counters()
    assert n.get("lost_kernel") == 0 and n.get("events") == len(t.events), (n, len(t.events))
