"""Disk queues on the syslog outputs, against a real rsyslog: the same
at-least-once across kill -9 as the HTTP outputs (test_queue.py), over TCP
with octet counting and over TLS."""
import json
import os
import signal

from syslogd import Rsyslogd, make_ca, make_server_cert
from tslib import Tcpship, require_root, tmpdir, trig, wait_until


def keys_in_file(path, pids):
    out = set()
    try:
        with open(path, "rb") as f:
            for line in f:
                e = json.loads(line)
                if e.get("pid") in pids:
                    out.add((e["agent_id"], e["seq"]))
    except FileNotFoundError:
        pass
    return out


def keys_in_rsyslog(rs):
    out = {}
    for r in rs.records():
        try:
            e = json.loads(r["msg"])
        except ValueError:
            continue
        k = (e["agent_id"], e["seq"])
        out[k] = out.get(k, 0) + 1
    return out


def down_kill_up(d, rs, url, tls_ca=None):
    """rsyslog down, events queued on disk, kill -9, rsyslog up, restart:
    every event the file output saw arrives."""
    q = os.path.join(d, "queue")
    truth = os.path.join(d, "truth.jsonl")
    out = {"type": "syslog", "url": url, "name": "rsyslog",
           "queue": {"type": "disk", "path": q}}
    if tls_ca:
        out["tls"] = {"ca_file": tls_ca}
    cfg = os.path.join(d, "c.json")
    with open(cfg, "w") as f:
        json.dump({"outputs": [out, {"type": "file", "path": truth}]}, f)
    rs.stop()
    ts = Tcpship("-c", cfg, "-e", "connect,accept,close")
    gts = [trig("tcp_pair") for _ in range(20)]
    pids = {g[k] for g in gts for k in ("client_pid", "server_pid")}
    want = wait_until(lambda: (k := keys_in_file(truth, pids)) and len(k) >= 80 and k, 20,
                      "80 events in the file output")
    # on disk before any other output saw them: the queue holds them all now
    seen = wait_until(lambda: [n for n in os.listdir(q) if n.endswith(".seg")], 10,
                      "a segment")
    assert seen
    ts.proc.send_signal(signal.SIGKILL)
    ts.proc.wait(10)
    rs.start()
    ts2 = Tcpship("-c", cfg, "-e", "connect")
    got = wait_until(lambda: (g := keys_in_rsyslog(rs)) and want <= set(g) and g, 30,
                     "every queued event in rsyslog")
    ts2.stop()
    _, sinks = ts2.exit_line()
    assert sinks["rsyslog"]["replayed"] >= len(want), sinks["rsyslog"]
    assert sinks["rsyslog"]["corrupt"] == 0, sinks["rsyslog"]
    assert sinks["rsyslog"]["disk_records"] == 0, sinks["rsyslog"]
    assert "from an earlier run are sent first" in ts2.stderr, ts2.stderr[-800:]
    # nothing queued was sent twice: it never left the first run
    assert all(got[k] == 1 for k in want), [k for k in want if got[k] != 1][:5]


def test_syslog_tcp_disk_queue_survives_kill_9():
    require_root()
    d = tmpdir()
    rs = Rsyslogd(d, tcp=True)
    down_kill_up(d, rs, f"syslog+tcp://127.0.0.1:{rs.tcp_port}")


def test_syslog_tls_disk_queue_survives_kill_9():
    require_root()
    d = tmpdir()
    ca = make_ca(d, "queue-ca")
    srv = make_server_cert(d, ca)
    rs = Rsyslogd(d, tls=(ca[0], *srv))
    down_kill_up(d, rs, f"syslog+tls://127.0.0.1:{rs.tls_port}", tls_ca=ca[0])
