"""The HTTP sink tests' shared steps: tcpship with one http output from a
config file, the trigger programs' events as the collector got them, and
tcpship's exit counters held against the collector's books."""
import json
import os
import subprocess
import tempfile

from collector import Collector
from tslib import Tcpship, at_cleanup, require_root

EVENTS = "connect,accept,close"


def tmpdir():
    d = tempfile.mkdtemp(prefix="tcpship-http-")
    at_cleanup(lambda: subprocess.run(["rm", "-rf", d]))
    return d


def start(coll=None, extra=None, others=(), url=None, fmt=None, env=None, args=(),
          events=EVENTS):
    """tcpship with one http output (plus `others`) from a config file."""
    entry = {"type": "http", "url": url or coll.url(), "format": fmt or coll.fmt,
             "batch": {"max_delay": "100ms"}}
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(entry.get(k), dict):
            entry[k] = {**entry[k], **v}
        else:
            entry[k] = v
    path = os.path.join(tmpdir(), "tcpship.json")
    with open(path, "w") as f:
        json.dump({"outputs": [entry, *others]}, f)
    e = None
    if env:
        e = {**os.environ, **env}
    return Tcpship("-c", path, "-e", events, *args, env=e)


def stub_and_tcpship(fmt, extra=None, faults=(), sticky=None, events=EVENTS, **coll_kw):
    """A stub collector of format fmt with faults planned (and a sticky
    one), and tcpship shipping to it (extra: more keys of its entry)."""
    require_root()
    coll = Collector(fmt, **coll_kw)
    at_cleanup(coll.stop)
    coll.push(*faults)
    coll.sticky = sticky
    return coll, start(coll, extra, events=events)


def pids(*gts):
    return {g[k] for g in gts for k in ("client_pid", "server_pid")}


def mine(coll, *gts):
    """seqs of the trigger programs' events the collector received"""
    p = pids(*gts)
    return coll.seqs_of(lambda e: e.get("pid") in p)


def wait_mine(coll, gts, n_each=4, timeout=20, settled=True):
    """Until the collector received n_each events per trigger and every one
    of them is settled (accepted, or refused for good)."""
    want = n_each * len(gts)

    def ok():
        s = mine(coll, *gts)
        if len(s) < want:
            return None
        if settled and not s <= set(coll.accepted) | set(coll.refused):
            return None
        return s
    return coll.wait(ok, timeout, f"{want} trigger events settled")


def sink_of(ts):
    total, sinks = ts.exit_line()
    names = [n for n in sinks if n.startswith("http")]
    assert len(names) == 1, sinks
    raw = [l for l in ts.stderr_lines if l.startswith("tcpship: exit: ")][-1]
    return total, sinks[names[0]], raw


def books(ts, coll, unseen_requests=0):
    """tcpship's counters against the collector's books, after ts.stop()."""
    coll.check_books()
    total, s, raw = sink_of(ts)
    with coll.lock:
        accepted, refused = len(coll.accepted), len(coll.refused)
        reqs = len(coll.requests)
    assert s["out"] == accepted, (s, accepted)
    assert s["dropped_error"] == refused, (s, refused)
    assert s["drop_status"] + s["drop_items"] == refused, (s, refused)
    assert s["requests"] == reqs + unseen_requests, (s, reqs, unseen_requests)
    assert s["retries"] == s["retried"], s
    assert s["queued"] == 0, s
    assert s["out"] + s["dropped_full"] + s["dropped_error"] + s["dropped_exit"] == \
        total["events"], (s, total)
    return total, s, raw


def gzip_books(coll, s):
    """Every request gzipped, the byte counters those of the requests, and
    the big ones more than 4x smaller."""
    assert all(r["headers"].get("Content-Encoding") == "gzip" for r in coll.requests)
    assert s["sent_bytes"] == sum(r["raw_len"] for r in coll.requests), s
    assert s["body_bytes"] == sum(r["body_len"] for r in coll.requests), s
    big = [r for r in coll.requests if len(r["seqs"]) >= 20]
    assert big, [len(r["seqs"]) for r in coll.requests]
    for r in big:
        assert r["body_len"] > 4 * r["raw_len"], (r["body_len"], r["raw_len"])


def log_lines(ts, word):
    return [l for l in ts.stderr_lines if word in l and not l.startswith("tcpship: exit")]
