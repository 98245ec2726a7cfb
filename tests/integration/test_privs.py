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
import urllib.request

from collector import Collector, free_port
from tslib import Tcpship, at_cleanup, require_root, run_tcpship, tmpdir, trig, wait_until

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


def test_user_nobody_every_thread_unprivileged_and_everything_still_works():
    require_root()
    d = tmpdir()
    os.chown(d, NOBODY.pw_uid, NOBODY.pw_gid)      # the folder the user writes to
    out = os.path.join(d, "events.jsonl")
    coll = Collector("ndjson")
    at_cleanup(coll.stop)
    cfg = os.path.join(d, "tcpship.json")
    with open(cfg, "w") as f:
        json.dump({"user": "nobody", "outputs": [
            {"type": "file", "path": out},
            {"type": "http", "url": coll.url(), "name": "coll", "batch": {"max_delay": "100ms"},
             "queue": {"type": "disk", "path": os.path.join(d, "q")}}]}, f)
    mport = free_port()
    ts = Tcpship("-c", cfg, "-e", "connect,accept,close", "--queue-dir", d,
                 "--metrics-address", f"127.0.0.1:{mport}")
    pid = ts.proc.pid
    tasks = os.listdir(f"/proc/{pid}/task")
    assert len(tasks) >= 3, tasks
    for t in tasks:
        st = status(f"/proc/{pid}/task/{t}/status")
        assert st["Uid"].split() == [str(NOBODY.pw_uid)] * 4, (t, st["Uid"])
        assert st["Gid"].split() == [str(NOBODY.pw_gid)] * 4, (t, st["Gid"])
        assert st["Groups"].strip() == "", (t, st["Groups"])
        for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
            assert int(st[cap], 16) == 0, (t, cap, st[cap])
        assert st["NoNewPrivs"] == "1", (t, st["NoNewPrivs"])
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
