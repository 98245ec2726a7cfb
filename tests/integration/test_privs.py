"""--user: once every hook is attached and every output and the metrics
socket are open, tcpship runs as that user, with no supplementary groups,
no capability in any set and no_new_privs, in every thread; and what it
does later still works: events flow to a file and to an HTTP collector
through a disk queue, SIGHUP reopens the file after a logrotate-style
rename, /healthz answers."""
import json
import os
import pwd
import re
import signal
import subprocess
import sys
import urllib.request

from collector import Collector, free_port
from tslib import (ROOT, TCPSHIP, Tcpship, at_cleanup, netns, require_root, run_tcpship, tmpdir,
                   trig, wait_until)

NOBODY = pwd.getpwnam("nobody")


def status(path):
    with open(path) as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def pids(gts):
    return {g[k] for g in gts for k in ("client_pid", "server_pid")}


def all_threads_unprivileged(pid, uid):
    """Every thread: the user's uid and primary group, no groups, no
    capability, no_new_privs. Returns the threads' names."""
    gid = pwd.getpwuid(uid).pw_gid
    names = []
    for t in os.listdir(f"/proc/{pid}/task"):
        st = status(f"/proc/{pid}/task/{t}/status")
        names.append(st["Name"])
        assert st["Uid"].split() == [str(uid)] * 4, (t, st["Name"], st["Uid"])
        assert st["Gid"].split() == [str(gid)] * 4, (t, st["Name"], st["Gid"])
        assert st["Groups"].strip() == "", (t, st["Name"], st["Groups"])
        for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
            assert int(st[cap], 16) == 0, (t, st["Name"], cap, st[cap])
        assert st["NoNewPrivs"] == "1", (t, st["Name"])
    return names


def setup(*more):
    """A folder the user owns, and a config with a file output and an HTTP
    collector behind a disk queue (its sync thread on), plus `more`."""
    d = tmpdir()
    os.chown(d, NOBODY.pw_uid, NOBODY.pw_gid)      # the folder the user writes to
    out = os.path.join(d, "events.jsonl")
    coll = Collector("ndjson")
    at_cleanup(coll.stop)
    cfg = os.path.join(d, "tcpship.json")
    with open(cfg, "w") as f:
        json.dump({"user": "nobody", "outputs": [
            {"type": "file", "path": out}, *more,
            {"type": "http", "url": coll.url(), "name": "coll", "batch": {"max_delay": "100ms"},
             "queue": {"type": "disk", "path": os.path.join(d, "q"), "sync": "interval"}}]}, f)
    return d, out, coll, cfg


def test_user_nobody_every_thread_unprivileged_and_everything_still_works():
    require_root()
    d, out, coll, cfg = setup()
    mport = free_port()
    ts = Tcpship("-c", cfg, "-e", "connect,accept,close", "--queue-dir", d,
                 "--metrics-address", f"127.0.0.1:{mport}")
    pid = ts.proc.pid
    assert len(all_threads_unprivileged(pid, NOBODY.pw_uid)) >= 3
    assert int(status(f"/proc/{pid}/status")["CapBnd"], 16) == 0

    gts = [trig("tcp_pair") for _ in range(5)]
    p = pids(gts)
    wait_until(lambda: len([e for e in lines(out) if e.get("pid") in p]) == 20, 15,
               "the triggers' events in the file")
    try:
        wait_until(lambda: len(coll.seqs_of(lambda e: e.get("pid") in p)) == 20, 15,
                   "the triggers' events at the collector, through the disk queue")
    except AssertionError as e:
        raise AssertionError(f"{e}: {len(coll.seqs_of(lambda e: e.get('pid') in p))} "
                             f"{ts.stderr[-1200:]}")
    # logrotate: rename, SIGHUP; the new file is the user's
    os.rename(out, out + ".1")
    ts.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: any("reopen" in l for l in ts.stderr_lines) or os.path.exists(out), 10,
               "the reopen")
    gts2 = [trig("tcp_pair") for _ in range(5)]
    p2 = pids(gts2)
    wait_until(lambda: len([e for e in lines(out) if e.get("pid") in p2]) == 20, 15,
               "events in the reopened file")
    assert os.stat(out).st_uid == NOBODY.pw_uid
    wait_until(lambda: len(coll.seqs_of(lambda e: e.get("pid") in p2)) == 20, 15,
               "later events at the collector")
    qdir = os.path.join(d, "q")
    assert all(os.stat(os.path.join(qdir, n)).st_uid == NOBODY.pw_uid
               for n in os.listdir(qdir)), os.listdir(qdir)
    with urllib.request.urlopen(f"http://127.0.0.1:{mport}/healthz", timeout=5) as r:
        assert r.status == 200
    assert ts.stop() == 0
    total, sinks = ts.exit_line()
    assert sinks["coll"]["disk_write_errors"] == 0 and sinks["coll"]["out"] >= 40, sinks["coll"]
    assert not [l for l in ts.stderr_lines if re.search(r"cannot|denied", l)], ts.stderr[-800:]


def test_user_mistakes_exit_2_before_anything():
    for user, want in (("no-such-user-here", "no such user"), ("root", "is root"),
                       ("0", "is root")):
        for args in (("--check-config",), ()):
            p = run_tcpship(*args, "--user", user, "-o", "stdout")
            err = p.stderr.strip().splitlines()
            assert p.returncode == 2, (user, args, p.returncode, p.stderr)
            assert len(err) == 1 and want in err[0] and "ready" not in p.stderr, (user, err)
    assert run_tcpship("--check-config", "--user", "nobody", "-o", "stdout").returncode == 0


# ---- the systemd unit's privileges: enough, each needed, none left ----

UNIT = os.path.join(ROOT, "packaging", "tcpship.service")


def unit_caps():
    """The unit's AmbientCapabilities=, as it ships."""
    with open(UNIT) as f:
        caps = [l.split("=", 1)[1].split() for l in f if l.startswith("AmbientCapabilities=")]
    assert len(caps) == 1 and caps[0], caps
    return caps[0]


class OldProcess:
    """A process of root's that was running before tcpship started: it makes
    one loopback connection when told to, and says its ports."""
    CODE = ("import socket, sys\n"
            "sys.stdin.readline()\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
            "c = socket.create_connection(s.getsockname()); a, _ = s.accept()\n"
            "print(c.getsockname()[1], s.getsockname()[1], flush=True)\n"
            "c.close(); a.close(); s.close()\n")

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        at_cleanup(self.proc.kill)
        self.exe = wait_until(lambda: os.readlink(f"/proc/{self.proc.pid}/exe")
                              if os.path.exists(f"/proc/{self.proc.pid}/exe") else None,
                              5, "the old process's exe")

    def connect(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        sport, dport = map(int, self.proc.stdout.readline().split())
        self.proc.wait(10)
        return sport, dport


def test_unit_capabilities_suffice_and_none_is_left_in_any_thread():
    """Started as the unit starts it (its user, its ambient capabilities,
    no_new_privs), with outputs whose libraries run threads of their own
    (librdkafka, libmicrohttpd, a disk queue's sync thread): every event
    type flows with its process, a process older than tcpship has its exe,
    and once ready no thread holds any capability."""
    require_root()
    from kafkamock import KafkaMock
    caps = unit_caps()
    mock = KafkaMock(brokers=1, partitions=1)
    d, out, coll, cfg = setup(
        {"type": "kafka", "name": "kafka", "brokers": mock.bootstrap, "topic": mock.topic,
         "batch": {"max_delay": "100ms"}})
    old = OldProcess()
    mport = free_port()
    ts = Tcpship("-c", cfg, "-e", "connect,accept,close,dns", "--queue-dir", d,
                 "--metrics-address", f"127.0.0.1:{mport}", user=NOBODY.pw_uid, caps=caps)
    names = all_threads_unprivileged(ts.proc.pid, NOBODY.pw_uid)
    assert any(n.startswith("rdk:") for n in names), names     # librdkafka's own threads
    assert not [l for l in ts.stderr_lines if "not available" in l], ts.stderr[-800:]

    gts = [trig("tcp_pair") for _ in range(3)]
    ns = netns("tsprivs")
    dns = trig("dns_query", "sendto", "127.0.0.1", "privs.example.com", netns=ns)
    sport, dport = old.connect()
    p = pids(gts)

    def mine():
        return [e for e in lines(out) if e.get("pid") in p or e.get("pid") == dns["pid"] or
                e.get("pid") == old.proc.pid]
    wait_until(lambda: len(mine()) >= 12 + 1 + 2, 15, "the triggers' events in the file")
    evs = mine()
    for e in evs:
        if e.get("pid") in p:
            assert e.get("exe", "").endswith("/tcp_pair"), e
    assert {e["type"] for e in evs if e.get("pid") in p} == {"connect", "accept", "close"}
    assert [e["type"] for e in evs if e.get("pid") == dns["pid"]] == ["dns"], evs
    olds = [e for e in evs if e.get("pid") == old.proc.pid and e["type"] in ("connect", "accept")]
    assert {(e["type"], e["sport"]) for e in olds} == {("connect", sport), ("accept", dport)}
    assert all(e.get("exe") == old.exe for e in olds), (olds, old.exe)
    wait_until(lambda: len(coll.seqs_of(lambda e: e.get("pid") in p)) == 12, 15,
               "the triggers' events at the collector")
    assert all_threads_unprivileged(ts.proc.pid, NOBODY.pw_uid)
    assert ts.stop() == 0
    total, sinks = ts.exit_line()
    assert sinks["kafka"]["out"] >= 12 and sinks["kafka"]["dropped_error"] == 0, sinks["kafka"]
    assert total["exe_unknown"] == 0, total


def test_each_unit_capability_is_needed():
    """One capability of the unit's taken away at a time: each costs
    something a user would miss."""
    require_root()
    caps = unit_caps()
    need_all = {"CAP_BPF", "CAP_PERFMON"}
    for cap in caps:
        fewer = [c for c in caps if c != cap]
        if cap in need_all:
            p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                "--inh-caps=" + ",".join("+" + c[4:].lower() for c in fewer),
                                "--ambient-caps=" + ",".join("+" + c[4:].lower() for c in fewer),
                                "--no-new-privs", TCPSHIP, "--duration", "1", "-o", "stdout"],
                               capture_output=True, text=True, timeout=30)
            assert p.returncode == 1 and "ready" not in p.stderr, (cap, p.returncode, p.stderr)
            continue
        old = OldProcess()
        ts = Tcpship("-e", "connect,accept,close", "--user", "nobody", user=NOBODY.pw_uid,
                     caps=fewer)
        if cap == "CAP_DAC_READ_SEARCH":
            # the syscall tracepoints' ids are in root's tracefs
            missing = [l for l in ts.stderr_lines if "not available" in l]
            assert any("connect events" in l and "CAP_DAC_READ_SEARCH" in l for l in missing), \
                ts.stderr[-800:]
        elif cap == "CAP_SYS_PTRACE":
            sport, _ = old.connect()
            (ev,) = ts.wait_events(lambda e: e.get("pid") == old.proc.pid and
                                   e["type"] == "connect" and e["sport"] == sport)
            assert "exe" not in ev, ev
        else:
            raise AssertionError(f"the unit holds {cap}, which no test shows to be needed")
        ts.stop()
        old.proc.kill()
