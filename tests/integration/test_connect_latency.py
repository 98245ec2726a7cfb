"""connect_latency_ns: how long the handshake made each side wait. The
machine has no netem (CONFIG_NET_SCH_NETEM is off), so the delay is made
the way a lossy network makes it: nftables in a namespace of our own
drops one handshake packet and the kernel sends it again after its
initial RTO (1 s). A dropped SYN slows the client's side; a dropped final
ACK slows the server's (its SYN-ACK goes out again), while the other side
of each stays fast."""
import subprocess

from tslib import Tcpship, netns, require_root, trig

SEC = 1_000_000_000
EVENTS = "connect,accept,close"


def drop_first(ns, match):
    """One packet that matches is dropped, once (a token bucket of one)."""
    rules = ("table inet tslat {\n chain in {\n  type filter hook input priority 0;\n"
             f"  {match} limit rate 1/hour burst 1 packets drop\n }}\n}}\n")
    p = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr


def sides(ts, g):
    """The pair's events by side: the client's connect and close, the
    server's accept and close."""
    ports = {g["client_port"], g["server_port"]}
    flow = ts.wait_events(lambda e: {e.get("sport"), e.get("dport")} == ports and
                          e.get("pid") in (g["client_pid"], g["server_pid"]), 4,
                          what="the pair's four events")
    out = {}
    for e in flow:
        side = "client" if e["pid"] == g["client_pid"] else "server"
        out[(side, e["type"])] = e
    assert set(out) == {("client", "connect"), ("client", "close"), ("server", "accept"),
                        ("server", "close")}, flow
    return out


def lat(e):
    assert "connect_latency_ns" in e, e
    return e["connect_latency_ns"]


def test_loopback_handshakes_are_measured_and_fast():
    require_root()
    ts = Tcpship("-e", EVENTS)
    for args in ((), ("-6",)):
        g = trig("tcp_pair", *args)
        s = sides(ts, g)
        for k, e in s.items():
            assert 0 < lat(e) < SEC // 10, (k, e)
        # one measurement per side, carried by both of its events
        assert lat(s["client", "connect"]) == lat(s["client", "close"]), s
        assert lat(s["server", "accept"]) == lat(s["server", "close"]), s
    ts.stop()


def test_dropped_syn_slows_the_client_side():
    """SYN lost: the client waits one RTO for the handshake; the server's
    handshake starts at the SYN sent again and is as fast as ever."""
    require_root()
    ts = Tcpship("-e", EVENTS)
    for args in ((), ("-6",)):
        ns = netns("tslatsyn")
        drop_first(ns, "tcp flags & (syn | ack) == syn")
        s = sides(ts, trig("tcp_pair", *args, netns=ns))
        for k in (("client", "connect"), ("client", "close")):
            assert SEC <= lat(s[k]) < 2 * SEC, (args, k, s[k])
        for k in (("server", "accept"), ("server", "close")):
            assert lat(s[k]) < SEC // 10, (args, k, s[k])
        assert s["client", "close"]["retransmits"] >= 1, s
    ts.stop()


def test_dropped_ack_slows_the_server_side():
    """The handshake's last ACK lost (the client sends no data, so nothing
    else acks the SYN-ACK): the server waits until its SYN-ACK sent again is
    answered; the client was established at once."""
    require_root()
    ts = Tcpship("-e", EVENTS)
    for args in ((), ("-6",)):
        ns = netns("tslatack")
        drop_first(ns, "tcp flags & (syn | ack | fin | rst | psh) == ack")
        s = sides(ts, trig("tcp_pair", "-n", "0", "-r", "10", *args, netns=ns))
        for k in (("server", "accept"), ("server", "close")):
            assert SEC <= lat(s[k]) < 2 * SEC, (args, k, s[k])
        for k in (("client", "connect"), ("client", "close")):
            assert lat(s[k]) < SEC // 10, (args, k, s[k])
        assert s["server", "close"]["retransmits"] >= 1, s     # the SYN-ACK again
    ts.stop()
