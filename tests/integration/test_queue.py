"""Per-output disk queues: what was published to a disk-queued output
survives kill -9, a collector that is down, torn and corrupted segments, a
lost position file and a full disk, and is delivered at least once, with the
dedup key (agent_id, seq) of the run that made it.

Ground truth is an output beside the queued one (a file, listed first in
the config: the fan-out appends a batch to the disk queues before any other
output sees it, so a line in the file is on the disk queue, which the tests
check) and the queue's own segment files, read here with their frame format
(shipper/dqueue.h):

  frame:   u32 magic "TSSQ", u32 payload len, u64 qid, u32 crc32(len, qid, payload)
  payload: 84 fixed bytes (seq at 12, type/key lengths), type, keys, the line

Every queue lives under a private tmpdir (--queue-dir is always given)."""
import hashlib
import json
import os
import random
import re
import struct
import subprocess
import threading
import time
import zlib

from clickhouse import ClickHouse
from collector import Collector, free_port
from tslib import (ROOT, Tcpship, at_cleanup, require_root, run_tcpship, sh, tmpdir, trig,
                   wait_until)

EVENTS = "connect,accept,close"
HDR = struct.Struct("<IIQI")
MAGIC = 0x51535354
FIX_LEN = 84
SEG_RE = re.compile(r"^([0-9a-f]{16})-([0-9a-f-]+)\.seg$")


# ------------------------------------------------------------ helpers

def config(d, outputs, name="tcpship.json", top=None):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        json.dump({**(top or {}), "outputs": outputs}, f)
    return path


def http_out(url, fmt, name=None, qpath=None, batch=None, **queue):
    """An http output with a disk queue."""
    q = {"type": "disk", **queue}
    if qpath:
        q["path"] = qpath
    o = {"type": "http", "url": url, "format": fmt, "batch": batch or {"max_delay": "100ms"},
         "queue": q}
    if name:
        o["name"] = name
    if fmt == "elasticsearch":
        # native documents, so the queue's and the file output's lines are
        # the same bytes ("index": no data stream, which wants @timestamp)
        o |= {"schema": "native", "action": "index"}
    return o


def start(cfg, qdir, *args, ready=True):
    """qdir None: the config file names the queue dir (always a tmpdir)."""
    qargs = ("--queue-dir", qdir) if qdir else ()
    return Tcpship("-c", cfg, "-e", EVENTS, *qargs, *args, ready=ready)


def agent_of(ts):
    for l in ts.stderr_lines:
        m = re.match(r"tcpship: ready: pid \d+, agent_id ([0-9a-f-]+),", l)
        if m:
            return m.group(1)
    raise AssertionError(f"no ready line: {ts.stderr[-500:]}")


def kill9(ts):
    ts.proc.kill()
    ts.proc.wait(10)
    ts._t_err.join(5)


def pids(gts):
    return {g[k] for g in gts for k in ("client_pid", "server_pid")}


def file_lines(path, repair=False):
    """[(key, line bytes, event)] of a file output; repair: cut a partial
    last line (the writer was killed in a write) and say how long it was."""
    if not os.path.exists(path):
        return ([], 0) if repair else []
    with open(path, "rb") as f:
        data = f.read()
    cut = 0
    if data and not data.endswith(b"\n"):
        assert repair, f"{path} ends in a partial line"
        keep = data.rfind(b"\n") + 1
        cut = len(data) - keep
        with open(path, "r+b") as f:
            f.truncate(keep)
        data = data[:keep]
    out = []
    for line in data.splitlines():
        ev = json.loads(line)
        out.append(((ev["agent_id"], ev["seq"]), line, ev))
    return (out, cut) if repair else out


def mine(lines, gts):
    p = pids(gts)
    return [x for x in lines if x[2].get("pid") in p]


def segments(qdir):
    """The .seg files of a queue folder, in qid order: (path, first, agent)."""
    segs = []
    for n in os.listdir(qdir):
        m = SEG_RE.match(n)
        if m:
            segs.append((os.path.join(qdir, n), int(m.group(1), 16), m.group(2)))
    return sorted(segs, key=lambda s: s[1])


def frames(path, agent, strict=True):
    """The frames of one segment: dicts with off, size, qid, seq, key, line.
    strict: every byte must be a valid frame; else stop at the first that
    is not (a segment being written)."""
    with open(path, "rb") as f:
        data = f.read()
    out, i = [], 0
    while i < len(data):
        if i + HDR.size > len(data):
            assert not strict, f"{path}: {len(data) - i} bytes of a header at {i}"
            break
        magic, ln, qid, c = HDR.unpack_from(data, i)
        end = i + HDR.size + ln
        if magic != MAGIC or end > len(data) or \
                zlib.crc32(data[i + 4:i + 16] + data[i + HDR.size:end]) != c:
            assert not strict, f"{path}: no valid frame at {i}"
            break
        p = data[i + HDR.size:end]
        tl = p[1]
        kl = struct.unpack_from("<3H", p, 76)
        seq = struct.unpack_from("<Q", p, 12)[0]
        line = p[FIX_LEN + tl + sum(kl):]
        out.append({"off": i, "size": end - i, "qid": qid, "seq": seq, "key": (agent, seq),
                    "line": line.rstrip(b"\n"), "type": p[FIX_LEN:FIX_LEN + tl].decode()})
        i = end
    return out


def queue_frames(qdir, strict=True):
    return [fr for path, _, agent in segments(qdir) for fr in frames(path, agent, strict)]


def position(qdir):
    """The delivered position of a queue folder (the newer valid slot), or
    None."""
    try:
        with open(os.path.join(qdir, "position"), "rb") as f:
            data = f.read(64)
    except FileNotFoundError:
        return None
    best = None
    for i in range(0, len(data) - 31, 32):
        slot = data[i:i + 32]
        magic, gen, nxt, c = struct.unpack_from("<I4xQQI", slot)
        if magic == 0x50515354 and c == zlib.crc32(slot[:24]) and (not best or gen > best[0]):
            best = (gen, nxt)
    return best and best[1]


def seg_bytes(qdir):
    return sum(os.path.getsize(p) for p, _, _ in segments(qdir))


def counters(line):
    """{output name: {counter: n}} of a `tcpship: exit:` or `stats:` line."""
    parts = line.split(" | ")
    out = {}
    for p in parts[1:]:
        name, _, rest = p.partition(": ")
        out[name] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", rest)}
    return out


def last_stats(ts, name):
    lines = [l for l in ts.stderr_lines if l.startswith("tcpship: stats: ")]
    return counters(lines[-1]).get(name) if lines else None


def sink(ts, name):
    _, sinks = ts.exit_line()
    assert name in sinks, (name, list(sinks))
    return sinks[name]


def total(ts):
    return ts.exit_line()[0]


def said(ts, text):
    return [l for l in ts.stderr_lines if text in l]


def replay_message(ts, name, qdir):
    pat = re.compile(rf"^tcpship: {re.escape(name)}: queue {re.escape(qdir)}: (\d+) records "
                     rf"\((\d+) bytes\) from an earlier run are sent first$")
    got = [pat.match(l) for l in ts.stderr_lines]
    got = [m for m in got if m]
    assert len(got) == 1, (name, qdir, ts.stderr[-1200:])
    return int(got[0].group(1)), int(got[0].group(2))


def accepted_all(colls):
    """The accepted keys of several collectors (one port, started again)."""
    acc = {}
    for c in colls:
        with c.lock:
            for k, n in c.accepted_keys.items():
                acc[k] = acc.get(k, 0) + n
    return acc


def wait_file(path, gts, n_each=4, timeout=15):
    want = n_each * len(gts)
    return wait_until(lambda: (lambda m: m if len(m) >= want else None)(
        mine(file_lines(path), gts)), timeout, f"{want} trigger events in {path}")


def stub_books(coll):
    """The elasticsearch stub validates each action line's _id against the
    source line's agent_id-seq: no violation means every _id was right."""
    with coll.lock:
        assert not coll.violations, f"violations: {coll.violations[:3]}"


# ------------------------------------------------------------ 1. ClickHouse, kill -9

def test_clickhouse_at_least_once_across_kill_9():
    require_root()
    d = tmpdir()
    qdir = os.path.join(d, "q", "ch")
    out = os.path.join(d, "events.jsonl")
    ch = ClickHouse(data_dir=os.path.join(d, "clickhouse"))
    with open(os.path.join(ROOT, "schemas", "clickhouse.sql")) as f:
        sql = "\n".join(l for l in f.read().splitlines() if not l.startswith("--"))
    assert "ReplacingMergeTree" in sql
    for stmt in [s for s in sql.split(";") if s.strip()]:
        ch.query(stmt)
    ch.stop()               # down: the port is ClickHouse's, nothing answers
    cfg = config(d, [{"type": "file", "path": out},
                      http_out(ch.insert_url("tcp_events"), "ndjson", "ch", qdir,
                               sync="batch")])
    ts = start(cfg, os.path.join(d, "q"))
    a1 = agent_of(ts)
    gts = [trig("tcp_pair") for _ in range(100)]
    wait_file(out, gts)
    kill9(ts)
    seen = {k for k, _, _ in file_lines(out) if k[0] == a1}
    on_disk = {fr["key"] for fr in queue_frames(qdir)}
    assert {k for k, _, _ in mine(file_lines(out), gts)} <= on_disk
    # what the file got went to the queue first
    assert seen <= on_disk, sorted(seen - on_disk)[:5]

    ch.start()
    ts = start(cfg, os.path.join(d, "q"))
    n_msg, _ = replay_message(ts, "ch", qdir)
    assert n_msg == len(on_disk), (n_msg, len(on_disk))

    def stored():
        (r,) = ch.rows(f"SELECT uniqExact(seq) AS u FROM tcp_events WHERE agent_id = '{a1}'")
        return r["u"] >= len(on_disk)
    wait_until(stored, 30, f"{len(on_disk)} rows of the first run in ClickHouse", interval=0.2)
    ts.stop()
    in_ch = {(a1, r["seq"]) for r in
             ch.rows(f"SELECT seq FROM tcp_events FINAL WHERE agent_id = '{a1}'")}
    assert in_ch == on_disk, (sorted(on_disk - in_ch)[:5], sorted(in_ch - on_disk)[:5])
    (cnt,) = ch.rows(f"SELECT count() AS n, uniqExact(seq) AS u FROM tcp_events "
                     f"WHERE agent_id = '{a1}'")
    # nothing of the first run was delivered before the kill: once each now
    assert cnt["n"] == cnt["u"] == len(on_disk), cnt
    s = sink(ts, "ch")
    assert s["replayed"] == len(on_disk) >= 400, (s, len(on_disk))
    assert s["corrupt"] == 0 and s["position_lost"] == 0, s
    assert s["out"] >= s["replayed"], s


# ------------------------------------------------------------ 2. elasticsearch, kill -9

def test_elasticsearch_at_least_once_across_kill_9_ids_of_their_run():
    require_root()
    d = tmpdir()
    qd = os.path.join(d, "q")
    out = os.path.join(d, "events.jsonl")
    port = free_port()      # reserved: nothing listens
    cfg = config(d, [{"type": "file", "path": out},
                      http_out(f"http://127.0.0.1:{port}/", "elasticsearch", "es", sync="none")])
    ts = start(cfg, qd)
    a1 = agent_of(ts)
    gts = [trig("tcp_pair") for _ in range(50)]
    wait_file(out, gts)
    wait_until(lambda: said(ts, "es: request failed (connect)"), 10, "a refused request")
    kill9(ts)
    qdir = os.path.join(qd, "es")       # the output's name is its folder's
    recs = queue_frames(qdir)
    on_disk = {fr["key"]: fr["line"] for fr in recs}
    assert len(on_disk) == len(recs), "a key twice on disk"
    lines = {k: l for k, l, _ in file_lines(out)}
    assert set(lines) <= set(on_disk), sorted(set(lines) - set(on_disk))[:5]
    assert all(lines[k] == on_disk[k] for k in lines), "a queued line differs from the file's"

    coll = Collector("elasticsearch", action="index", port=port)
    at_cleanup(coll.stop)
    coll.push({"status": 503}, {"status": 503}, {"status": 429})   # still starting up
    ts = start(cfg, qd)
    a2 = agent_of(ts)
    assert a2 != a1
    n_msg, _ = replay_message(ts, "es", qdir)
    assert n_msg == len(on_disk), (n_msg, len(on_disk))
    coll.wait(lambda: all(coll.accepted_keys[k] for k in on_disk), 30,
              f"the {len(on_disk)} records of the first run accepted")
    g2 = trig("tcp_pair")
    coll.wait(lambda: len([k for k, e in coll.events_by_key.items()
                           if e.get("pid") in pids([g2]) and coll.accepted_keys[k]]) == 4,
              15, "the second run's own events")
    ts.stop()
    stub_books(coll)
    with coll.lock:
        first = {k: n for k, n in coll.accepted_keys.items() if k[0] == a1}
        assert set(first) == set(on_disk), sorted(set(on_disk) ^ set(first))[:5]
        assert set(first.values()) == {1}, "a replayed record accepted twice"
        # replayed lines byte for byte, under the first run's agent_id
        bad = [k for k in on_disk if coll.lines_by_key[k] != on_disk[k]]
        assert not bad, bad[:3]
        assert {e["agent_id"] for e in coll.events_by_key.values()} == {a1, a2}
    s = sink(ts, "es")
    assert s["replayed"] == len(on_disk) >= 200, (s, len(on_disk))
    assert s["retries"] >= 3 and s["corrupt"] == 0 and s["dropped_exit"] == 0, s


# ------------------------------------------------------------ 3. torn and flipped

def test_torn_tail_and_flipped_bytes_skipped_counted_rest_exact():
    require_root()
    d = tmpdir()
    qd = os.path.join(d, "q")
    port = free_port()
    out = os.path.join(d, "events.jsonl")
    cfg = config(d, [{"type": "file", "path": out},
                      http_out(f"http://127.0.0.1:{port}/", "elasticsearch", "es")])
    ts = start(cfg, qd)
    a1 = agent_of(ts)
    gts = [trig("tcp_pair") for _ in range(30)]
    wait_file(out, gts)
    assert ts.stop() == 0
    s = sink(ts, "es")
    qdir = os.path.join(qd, "es")
    (seg,) = segments(qdir)
    recs = frames(seg[0], seg[2])
    # a clean exit keeps the undelivered on disk, and does not count them lost
    assert s["out"] == 0 and s["dropped_exit"] == 0, s
    assert s["queued"] == s["disk_records"] == len(recs) >= 120, (s, len(recs))
    assert s["disk_bytes"] == os.path.getsize(seg[0]), s

    # (b) bytes flipped in the middle of a record's line; (a) the last
    # record torn in its middle
    flip, torn = recs[len(recs) // 2], recs[-1]
    with open(seg[0], "r+b") as f:
        mid = flip["off"] + flip["size"] // 2 + 20
        f.seek(mid)
        b = f.read(8)
        f.seek(mid)
        f.write(bytes(x ^ 0x5a for x in b))
        f.truncate(torn["off"] + torn["size"] // 2)
    partial = torn["size"] // 2
    want = {r["key"]: r["line"] for r in recs if r is not flip and r is not torn}

    coll = Collector("elasticsearch", action="index", port=port)
    at_cleanup(coll.stop)
    ts = start(cfg, qd)
    coll.wait(lambda: all(coll.accepted_keys[k] for k in want), 20,
              f"the {len(want)} undamaged records")
    wait_until(lambda: said(ts, "corrupt records skipped"), 5, "the corrupt-records line")
    assert ts.proc.poll() is None, "tcpship died"
    assert ts.stop() == 0
    stub_books(coll)
    with coll.lock:
        got = {k: n for k, n in coll.received_keys.items() if k[0] == a1}
        assert set(got) == set(want), (sorted(set(got) - set(want))[:5],
                                       sorted(set(want) - set(got))[:5])
        assert set(got.values()) == {1}, "an undamaged record sent twice"
        assert all(coll.lines_by_key[k] == want[k] for k in want)
    s = sink(ts, "es")
    msgs = said(ts, "corrupt records skipped")
    assert all(re.search(rf"tcpship: es: queue {re.escape(qdir)}: \d+ corrupt records "
                         rf"skipped \(\d+ bytes\)$", m) for m in msgs), msgs
    assert s["corrupt"] >= 1 and s["corrupt_bytes"] > 0, s
    # exactly: one record flipped, one torn; every byte of both skipped
    assert (s["corrupt"], s["corrupt_bytes"]) == (2, flip["size"] + partial), \
        (s, flip["size"], partial, msgs)
    assert s["replayed"] == len(want), (s, len(want))


# ------------------------------------------------------------ 4. the position lost

def test_missing_or_garbled_position_sends_everything_again():
    require_root()
    d = tmpdir()
    qd = os.path.join(d, "q")
    coll = Collector("elasticsearch", action="index")
    at_cleanup(coll.stop)
    cfg = config(d, [http_out(coll.url(), "elasticsearch", "es")])
    qdir = os.path.join(qd, "es")
    ts = start(cfg, qd)
    a1 = agent_of(ts)
    g1 = [trig("tcp_pair") for _ in range(10)]
    coll.wait(lambda: len([k for k, e in coll.events_by_key.items()
                           if e.get("pid") in pids(g1) and coll.accepted_keys[k]]) == 40,
              15, "the first events delivered")
    coll.sticky = {"status": 503}
    n = len(coll.requests)
    g2 = [trig("tcp_pair") for _ in range(10)]
    coll.wait(lambda: len(coll.requests) > n + 1, 10, "refused requests")
    kill9(ts)
    coll.sticky = None
    recs = queue_frames(qdir)
    on_disk = {r["key"] for r in recs}
    with coll.lock:
        delivered = {k for k, n in coll.accepted_keys.items() if k[0] == a1}
        g2_keys = {k for k, e in coll.events_by_key.items() if e.get("pid") in pids(g2)}
    assert delivered and delivered <= on_disk and g2_keys <= on_disk
    assert not g2_keys & delivered
    os.unlink(os.path.join(qdir, "position"))

    ts = start(cfg, qd)
    a2 = agent_of(ts)
    assert said(ts, f"tcpship: es: queue {qdir}: no position: every record on disk is sent "
                    "again"), ts.stderr
    n_msg, _ = replay_message(ts, "es", qdir)
    assert n_msg == len(on_disk), (n_msg, len(on_disk))
    coll.wait(lambda: all(coll.accepted_keys[k] for k in on_disk), 20, "every record on disk")
    # the ones delivered before are sent again: at least once, not at most
    coll.wait(lambda: all(coll.accepted_keys[k] >= 2 for k in delivered), 10,
              "the delivered ones once more")
    g3 = trig("tcp_pair")
    coll.wait(lambda: len([k for k, e in coll.events_by_key.items()
                           if e.get("pid") in pids([g3]) and coll.accepted_keys[k]]) == 4,
              10, "new events after the replay")
    assert ts.stop() == 0
    s = sink(ts, "es")
    assert s["position_lost"] == 1 and s["replayed"] == len(on_disk), s
    stub_books(coll)

    # a position file that is there but holds nothing valid: the same
    segs = segments(qdir)
    own = [fr["key"] for p, _, ag in segs if ag == a2 for fr in frames(p, ag)]
    assert own, segs
    with open(os.path.join(qdir, "position"), "r+b") as f:
        f.write(os.urandom(64))
    before = dict(coll.accepted_keys)
    ts = start(cfg, qd)
    assert said(ts, f"tcpship: es: queue {qdir}: no valid position: every record on disk is "
                    "sent again"), ts.stderr
    coll.wait(lambda: all(coll.accepted_keys[k] > before.get(k, 0) for k in own), 20,
              "the second run's records again")
    assert ts.stop() == 0
    s = sink(ts, "es")
    assert s["position_lost"] == 1 and s["replayed"] == len(own), (s, len(own))
    stub_books(coll)


# ------------------------------------------------------------ 5. a full disk

def tmpfs(d, size):
    sh("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tcpship-test", d)
    at_cleanup(lambda: sh("umount", "-l", d, check=False))
    return d


def test_disk_full_drops_counted_others_ship_then_delivers_and_recovers():
    require_root()
    d = tmpdir()
    small = os.path.join(d, "small")
    os.mkdir(small)
    tmpfs(small, "512k")
    qdir = os.path.join(small, "es")
    port = free_port()
    out = os.path.join(d, "events.jsonl")
    cfg = config(d, [{"type": "file", "path": out},
                      http_out(f"http://127.0.0.1:{port}/", "elasticsearch", "es", qdir,
                               when_full="drop")])
    ts = start(cfg, os.path.join(d, "q"), "--stats=300ms")
    gts = [trig("tcp_pair") for _ in range(300)]
    # the other output ships every event meanwhile
    wait_file(out, gts, timeout=20)
    msg = "tcpship: es: disk queue cannot write: No space left on device; dropping events " \
          "(counted) until it can"
    wait_until(lambda: said(ts, msg), 5, "the disk-full line")
    # said once per stretch of failures (a small batch may fit between two)
    assert len(said(ts, "disk queue cannot write")) <= \
        len(said(ts, "disk queue writes again")) + 1, said(ts, "disk queue")
    assert ts.proc.poll() is None, "tcpship died on a full disk"
    wait_until(lambda: (last_stats(ts, "es") or {}).get("dropped_disk"), 5,
               "dropped_disk counted")
    st = last_stats(ts, "es")
    assert st["disk_write_errors"] > 0 and st["dropped_full"] == 0, st
    queued = {fr["key"] for fr in queue_frames(qdir, strict=False)}
    assert len(queued) > 100, len(queued)

    # the collector comes: what was queued arrives
    coll = Collector("elasticsearch", action="index", port=port)
    at_cleanup(coll.stop)
    coll.wait(lambda: all(coll.accepted_keys[k] for k in queued), 40,
              f"the {len(queued)} queued records")
    # and once delivered, the disk has room again: new events are queued
    # and delivered, as "until it can" promises
    late = []

    def late_delivered():
        late.append(trig("tcp_pair"))
        p = pids(late)
        with coll.lock:
            return [k for k, e in coll.events_by_key.items()
                    if e.get("pid") in p and coll.accepted_keys[k]]
    try:
        wait_until(late_delivered, 10, "events after the backlog went out delivered",
                   interval=0.5)
    except AssertionError as e:
        segs = [(os.path.basename(p), os.path.getsize(p)) for p, _, _ in segments(qdir)]
        raise AssertionError(f"{e}: the queue {last_stats(ts, 'es')}; on the tmpfs: {segs}; "
                             f"{os.statvfs(small).f_bfree} blocks free") from None
    finally:
        ts.stop()
    t, s = total(ts), sink(ts, "es")
    assert s["dropped_disk"] > 0 and s["disk_write_errors"] > 0, s
    assert said(ts, "tcpship: es: disk queue writes again"), ts.stderr[-1500:]
    # every event in exactly one place
    assert s["out"] + s["queued"] + s["dropped_disk"] + s["dropped_full"] + \
        s["dropped_error"] + s["dropped_exit"] == t["events"], (s, t)
    assert sink(ts, f"file:{out}")["out"] == t["events"]
    stub_books(coll)


# ------------------------------------------------------------ 6. max_size: drop, block

def test_max_size_drop_counts_and_stays_responsive():
    require_root()
    d = tmpdir()
    qd = os.path.join(d, "q")
    port = free_port()
    out = os.path.join(d, "events.jsonl")
    # no when_full: a network output drops by default
    cfg = config(d, [{"type": "file", "path": out},
                      http_out(f"http://127.0.0.1:{port}/", "elasticsearch", "es",
                               max_size="256KiB")])
    ts = start(cfg, qd, "--stats=300ms")
    gts = [trig("tcp_pair") for _ in range(300)]
    wait_file(out, gts, timeout=20)     # the reader never waited for the queue
    wait_until(lambda: (last_stats(ts, "es") or {}).get("dropped_full"), 5, "dropped_full")
    qdir = os.path.join(qd, "es")
    assert seg_bytes(qdir) <= 256 * 1024, seg_bytes(qdir)
    queued = {fr["key"] for fr in queue_frames(qdir, strict=False)}
    coll = Collector("elasticsearch", action="index", port=port)
    at_cleanup(coll.stop)
    coll.wait(lambda: all(coll.accepted_keys[k] for k in queued), 40,
              f"the {len(queued)} queued records")
    g2 = [trig("tcp_pair") for _ in range(5)]
    coll.wait(lambda: len([k for k, e in coll.events_by_key.items()
                           if e.get("pid") in pids(g2) and coll.accepted_keys[k]]) == 20,
              15, "new events once there is room")
    ts.stop()
    t, s = total(ts), sink(ts, "es")
    assert s["dropped_full"] > 0 and s["dropped_disk"] == 0, s
    assert s["disk_bytes"] <= 256 * 1024 and t["lost_kernel"] == 0, (s, t)
    assert s["out"] + s["queued"] + s["dropped_full"] + s["dropped_error"] + s["dropped_exit"] == \
        t["events"], (s, t)
    assert sink(ts, f"file:{out}")["out"] == t["events"]
    stub_books(coll)


def test_max_size_block_waits_loses_nothing():
    require_root()
    d = tmpdir()
    qd = os.path.join(d, "q")
    port = free_port()
    out = os.path.join(d, "events.jsonl")
    cfg = config(d, [{"type": "file", "path": out},
                      http_out(f"http://127.0.0.1:{port}/", "elasticsearch", "es",
                               max_size="256KiB", when_full="block")])
    ts = start(cfg, qd, "--stats=300ms")
    qdir = os.path.join(qd, "es")
    gts = [trig("tcp_pair") for _ in range(300)]
    # full: the reader waits, so the file output stalls too
    wait_until(lambda: seg_bytes(qdir) > 200 * 1024, 10, "the queue filled")
    time.sleep(1.0)     # a stall is the absence of progress: give it time to show
    stalled = len(mine(file_lines(out), gts))
    assert stalled < 4 * len(gts), "the file output got everything: the reader did not wait"
    assert seg_bytes(qdir) <= 256 * 1024, seg_bytes(qdir)
    # no --stats line is sure to exist here: the reader prints them and it
    # may have been held before its first one; the exit line says the same

    coll = Collector("elasticsearch", action="index", port=port)
    at_cleanup(coll.stop)
    wait_file(out, gts, timeout=40)
    mine_keys = {k for k, _, _ in mine(file_lines(out), gts)}
    coll.wait(lambda: all(coll.accepted_keys[k] for k in mine_keys), 20,
              "every trigger event delivered")
    ts.stop()
    t, s = total(ts), sink(ts, "es")
    assert s["dropped_full"] == 0 and s["dropped_disk"] == 0, s
    assert t["lost_kernel"] == 0, t      # the 8 MiB ring held what waited
    assert s["disk_bytes"] <= 256 * 1024, s
    assert s["out"] + s["queued"] == t["events"], (s, t)
    stub_books(coll)


def test_sigint_while_blocked_on_a_full_queue_exits_queue_kept():
    """when_full block, the collector down, the queue full: the reader waits
    in the fan-out; SIGINT must still end tcpship (the blocked reader gives
    up at the exit deadline, then the outputs get theirs), the queue kept on
    disk and delivered by the next run."""
    require_root()
    d = tmpdir()
    qd = os.path.join(d, "q")
    port = free_port()
    cfg = config(d, [http_out(f"http://127.0.0.1:{port}/", "elasticsearch", "es",
                              max_size="256KiB", when_full="block")])
    ts = start(cfg, qd, "--stats=200ms")
    qdir = os.path.join(qd, "es")
    for _ in range(150):        # 600 events, some 380 KB of frames
        trig("tcp_pair")
    wait_until(lambda: seg_bytes(qdir) > 200 * 1024, 10, "the queue filled")
    t0 = time.monotonic()
    ts.stop(timeout=15)         # two 5 s deadlines: the blocked reader's, the outputs'
    took = time.monotonic() - t0
    t, s = total(ts), sink(ts, "es")
    assert s["dropped_full"] == 0 and s["out"] == 0, s
    assert s["queued"] == s["disk_records"] == len(queue_frames(qdir)) > 0, s
    # what never reached the disk is lost at exit, and counted
    assert s["dropped_exit"] > 0 and s["queued"] + s["dropped_exit"] == t["events"], (s, t)
    on_disk = {fr["key"] for fr in queue_frames(qdir)}

    coll = Collector("elasticsearch", action="index", port=port)
    at_cleanup(coll.stop)
    ts = start(cfg, qd)
    coll.wait(lambda: all(coll.accepted_keys[k] for k in on_disk), 15,
              f"the {len(on_disk)} records kept (the exit took {took:.1f}s)")
    ts.stop()
    stub_books(coll)


# ------------------------------------------------------------ 7. one folder, one tcpship

def test_second_instance_on_the_folder_exits_1_first_unaffected():
    require_root()
    d = tmpdir()
    qd = os.path.join(d, "q")
    coll = Collector("elasticsearch", action="index")
    at_cleanup(coll.stop)
    cfg = config(d, [http_out(coll.url(), "elasticsearch", "es")])
    ts = start(cfg, qd)
    qdir = os.path.join(qd, "es")
    with open(os.path.join(qdir, "lock")) as f:
        assert f.read().strip() == str(ts.proc.pid)
    before = sorted(os.listdir(qdir))
    p = run_tcpship("-c", cfg, "-e", EVENTS, "--queue-dir", qd)
    lines = [l for l in p.stderr.splitlines() if l]
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert len(lines) == 1 and "is in use by another tcpship" in lines[0], lines
    assert qdir in lines[0] and f"pid {ts.proc.pid}" in lines[0], lines
    assert sorted(os.listdir(qdir)) == before, "the second one left a segment"
    with open(os.path.join(qdir, "lock")) as f:
        assert f.read().strip() == str(ts.proc.pid), "the second one took the lock file"
    # two outputs of one tcpship on one folder (the same name): refused too
    cfg2 = config(d, [http_out(coll.url(), "elasticsearch", "twin"),
                      http_out(coll.url(), "ndjson", "twin")], name="twins.json")
    p = run_tcpship("-c", cfg2, "-e", EVENTS, "--queue-dir", qd)
    lines = [l for l in p.stderr.splitlines() if l]
    assert p.returncode == 1 and len(lines) == 1 and "is in use" in lines[0], p.stderr
    # the first ships on
    g = trig("tcp_pair")
    coll.wait(lambda: len([k for k, e in coll.events_by_key.items()
                           if e.get("pid") in pids([g]) and coll.accepted_keys[k]]) == 4,
              10, "the first tcpship's events")
    assert ts.stop() == 0
    stub_books(coll)


# ------------------------------------------------------------ 8. an output removed

def dir_name(name):
    """fanout.c's folder name of an output without "name"."""
    out = ""
    for c in name:
        ok = c.isascii() and (c.isalnum() or c in "._-")
        if not ok and out.endswith("_"):
            continue
        out += c if ok else "_"
    out = out.rstrip("_.")
    return out or "output"


def tree(d):
    res = {}
    for n in sorted(os.listdir(d)):
        with open(os.path.join(d, n), "rb") as f:
            res[n] = hashlib.sha256(f.read()).hexdigest()
    return res


def test_output_removed_its_queue_reported_and_left_in_place():
    require_root()
    d = tmpdir()
    qd = os.path.join(d, "q")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    a = http_out(url, "elasticsearch", "a")
    b = http_out(url + "?x=1", "ndjson")       # no name: a folder named after the url
    cfg = config(d, [a, b])
    ts = start(cfg, qd)
    for _ in range(10):
        trig("tcp_pair")
    bdir = os.path.join(qd, dir_name(url))
    assert os.path.isdir(bdir) and os.path.isdir(os.path.join(qd, "a")), os.listdir(qd)
    wait_until(lambda: len(queue_frames(bdir, strict=False)) >= 40, 10, "records queued for b")
    kill9(ts)       # its lock file stays; the flock went with the process
    assert len(queue_frames(bdir)) >= 40
    os.mkdir(os.path.join(qd, "empty"))           # no segments: nothing to say
    kept = tree(bdir)
    nbytes, nsegs = seg_bytes(bdir), len(segments(bdir))
    assert nsegs >= 1

    coll = Collector("elasticsearch", action="index", port=port)
    at_cleanup(coll.stop)
    # the queue dir from the config this time
    ts = start(config(d, [a], name="only-a.json", top={"queue": {"dir": qd}}), None)
    line = f"tcpship: queue {bdir}: {nbytes} bytes in {nsegs} segments of an output not " \
           "configured now; left in place"
    assert said(ts, line), ts.stderr
    assert len(said(ts, "not configured now")) == 1, said(ts, "not configured now")
    replay_message(ts, "a", os.path.join(qd, "a"))
    assert ts.stop() == 0
    assert tree(bdir) == kept, "the folder of the removed output changed"


# ------------------------------------------------------------ an empty segment of a killed run

def test_empty_segment_of_a_killed_run_loses_nothing():
    """A run killed before it appended anything leaves an empty segment
    named with the qid the next run starts at too; the two sort as equals.
    Whatever readdir's order, the next run's records must be delivered.
    (The bad order, the full segment listed first, is half the folders:
    tried until it comes.)"""
    require_root()
    port = free_port()      # the collector is down until the last run
    for attempt in range(10):
        d = tmpdir()
        qd = os.path.join(d, "q")
        qdir = os.path.join(qd, "es")
        out = os.path.join(d, "events.jsonl")
        cfg = config(d, [{"type": "file", "path": out},
                      http_out(f"http://127.0.0.1:{port}/", "elasticsearch", "es")])
        # B: nothing passes its filter; killed with its segment empty
        tb = start(cfg, qd, "--comm", "no-such-task")
        kill9(tb)
        # C: its segment starts at the same qid as B's
        tc = start(cfg, qd)
        listing = [n for n in os.listdir(qdir) if n.endswith(".seg")]
        b_name = [n for n in listing if agent_of(tb) in n]
        c_name = [n for n in listing if agent_of(tc) in n]
        assert len(c_name) == 1, listing
        if not b_name:
            break       # C's start removed the empty segment: no tie to sort
        assert os.path.getsize(os.path.join(qdir, b_name[0])) == 0
        if listing.index(c_name[0]) < listing.index(b_name[0]) or attempt == 9:
            break       # readdir lists C's segment before the empty one
        kill9(tc)
    gts = [trig("tcp_pair") for _ in range(10)]
    wait_file(out, gts)
    kill9(tc)
    c_keys = {fr["key"] for fr in frames(os.path.join(qdir, c_name[0]), agent_of(tc))}
    assert len(c_keys) >= 40
    coll = Collector("elasticsearch", action="index", port=port)
    at_cleanup(coll.stop)
    td = start(cfg, qd)
    try:
        coll.wait(lambda: all(coll.accepted_keys[k] for k in c_keys), 10,
                  f"C's {len(c_keys)} records (readdir order {listing}, attempt {attempt})")
    except AssertionError as e:
        left = sorted(os.listdir(qdir))
        raise AssertionError(f"{e}; C's segment {'still there' if c_name[0] in left else 'gone'}"
                             f"; the folder now: {left}; D said: "
                             f"{[l for l in td.stderr_lines if 'queue' in l]}") from None
    finally:
        td.stop()
    stub_books(coll)


# ------------------------------------------------------------ 9. a crash loop

def test_crash_loop_every_published_event_delivered():
    require_root()
    seed = int(os.environ.get("TS_SEED", random.randrange(1 << 30)))
    rnd = random.Random(seed)
    d = tmpdir()
    qd = os.path.join(d, "q")
    qdir = os.path.join(qd, "es")
    out = os.path.join(d, "events.jsonl")
    port = free_port()
    cfg = config(d, [{"type": "file", "path": out},
                      http_out(f"http://127.0.0.1:{port}/", "elasticsearch", "es",
                               batch={"max_delay": "50ms", "max_events": 64})
                      | {"in_flight": 2}])
    colls = []
    coll = None
    gts = []
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            try:
                gts.append(trig("tcp_pair"))
            except AssertionError:
                pass
            stop.wait(0.01)
    th = threading.Thread(target=traffic, daemon=True)
    th.start()
    at_cleanup(stop.set)
    agents, cuts, states, history = [], 0, [], []
    keep = os.environ.get("TS_QUEUE_KEEP")      # a folder: copies of the queue, for a post mortem
    try:
        for i in range(20):
            state = rnd.choice(["up", "up", "503", "down"])
            states.append(state)
            if state == "down" and coll:
                coll.stop()
                coll = None
            elif state != "down":
                if coll is None:
                    coll = Collector("elasticsearch", action="index", port=port)
                    colls.append(coll)
                coll.sticky = {"status": 503} if state == "503" else None
            ts = start(cfg, qd, ready=False)
            time.sleep(rnd.uniform(0.05, 0.9))     # a kill at a random moment
            if coll and rnd.random() < 0.3:         # it comes or goes meanwhile
                coll.sticky = None if coll.sticky else {"status": 503}
                time.sleep(rnd.uniform(0.05, 0.5))
            assert ts.proc.poll() is None, (i, ts.proc.returncode, ts.stderr[-800:])
            kill9(ts)
            a = [l for l in ts.stderr_lines if l.startswith("tcpship: ready:")]
            agents.append(bool(a))
            history.append((i, state, agent_of(ts) if a else None, position(qdir),
                            [(os.path.basename(p)[:24], os.path.getsize(p))
                             for p, _, _ in segments(qdir)] if os.path.isdir(qdir) else [],
                            [l for l in ts.stderr_lines if "queue" in l]))
            if keep:
                subprocess.run(["cp", "-a", qdir, os.path.join(keep, f"after-{i:02d}")])
            _, cut = file_lines(out, repair=True)
            cuts += bool(cut)
            bad = [l for l in ts.stderr_lines if "cannot" in l or "in use" in l]
            assert not bad, (i, bad)
    finally:
        stop.set()
        th.join(30)
    truth = file_lines(out)
    keys = {k for k, _, _ in truth}
    my = {k for k, _, _ in mine(truth, gts)}
    assert len(my) >= 200 and sum(agents) >= 10, (len(my), agents)
    if coll is None:
        coll = Collector("elasticsearch", action="index", port=port)
        colls.append(coll)
    for c in colls:
        at_cleanup(c.stop)
    coll.sticky = None
    acc = accepted_all(colls)
    pending = [k for k in keys if not acc.get(k)]   # the last run's to deliver
    ts = start(cfg, qd)
    what = f"seed {seed}, states {states}, {cuts} partial file lines cut after kills"

    def missing():
        acc = accepted_all(colls)
        return [k for k in keys if not acc.get(k)]
    try:
        wait_until(lambda: not missing(), 25, f"every event the file saw delivered ({what})",
                   interval=0.2)
    except AssertionError as e:
        m = missing()
        runs = {k[0] for k in m}
        at = [n for n, h in enumerate(history) if h[2] in runs]
        story = [h for h in history if at and at[0] <= h[0] <= at[-1] + 2]
        firsts = [(h[0], [n[:16] for n, _ in h[4]]) for h in history]
        tied = [i for i, f in firsts if len(f) != len(set(f))]
        raise AssertionError(f"{e}: {len(m)} of {len(keys)} missing ({len(my & set(m))} of "
                             f"{len(my)} of the triggers'), e.g. {sorted(m)[:5]}; "
                             f"segments sharing a first qid after runs {tied}; "
                             f"runs (i, state, agent, position after, segments after, said): "
                             f"{story}; the last run said: "
                             f"{[l for l in ts.stderr_lines if 'queue' in l]}") from None
    finally:
        ts.stop()
    for c in colls:
        stub_books(c)
    lines = {k: l for k, l, _ in truth}
    for c in colls:
        with c.lock:
            diff = [k for k, l in c.lines_by_key.items() if k in lines and l != lines[k]]
        assert not diff, (what, diff[:3])
    s = sink(ts, "es")
    # what was still undelivered came from the disk (a seed whose runs
    # delivered everything before the last leaves it nothing to replay)
    assert s["replayed"] > 0 or not pending, (what, len(pending), s)


# ------------------------------------------------------------ start-up errors

def test_queue_config_mistakes_exit_2_one_line():
    d = tmpdir()
    url = "http://127.0.0.1:9/"
    cases = [
        ({"type": "memory", "path": "/tmp/x"}, "outputs[0].queue: path, max_size, sync and "
         "sync_interval are for \"type\": \"disk\" queues"),
        ({"type": "memory", "max_size": "1MiB"}, "outputs[0].queue"),
        ({"type": "disk", "max_size": "100KiB"}, "outputs[0].queue.max_size"),
        ({"type": "disk", "max_size": "lots"}, "outputs[0].queue.max_size"),
        ({"type": "disk", "sync": "sometimes"}, "outputs[0].queue.sync"),
        ({"type": "disk", "sync_interval": "0s"}, "outputs[0].queue.sync_interval"),
        ({"type": "disk", "when_full": "maybe"}, "outputs[0].queue.when_full"),
        ({"type": "tape"}, "outputs[0].queue.type"),
        ({"type": "disk", "path": ""}, "outputs[0].queue.path"),
        ({"type": "disk", "size": "1MiB"}, "outputs[0].queue.size"),
    ]
    for q, want in cases:
        cfg = config(d, [{"type": "http", "url": url, "format": "ndjson", "queue": q}])
        p = run_tcpship("-c", cfg, "--queue-dir", os.path.join(d, "q"))
        lines = [l for l in p.stderr.splitlines() if l]
        assert p.returncode == 2, (q, p.returncode, p.stderr)
        assert len(lines) == 1 and lines[0].startswith("tcpship: "), (q, lines)
        assert want in lines[0], (q, want, lines[0])
    for name, want in (("a/b", "outputs[0].name"), ("..", "outputs[0].name"),
                       (7, "outputs[0].name: must be a string")):
        cfg = config(d, [{"type": "stdout", "name": name}])
        p = run_tcpship("-c", cfg, "--queue-dir", os.path.join(d, "q"))
        lines = [l for l in p.stderr.splitlines() if l]
        assert p.returncode == 2 and len(lines) == 1 and want in lines[0], (name, p.stderr)
    assert not os.path.exists(os.path.join(d, "q")), "a config mistake created the queue dir"


def test_unusable_queue_folder_exits_1_naming_it():
    require_root()
    d = tmpdir()
    url = "http://127.0.0.1:9/"
    afile = os.path.join(d, "a-file")
    with open(afile, "w") as f:
        f.write("not a folder\n")
    ro = os.path.join(d, "ro")
    os.mkdir(ro)
    sh("mount", "-t", "tmpfs", "-o", "ro,size=64k", "tcpship-ro", ro)
    at_cleanup(lambda: sh("umount", "-l", ro, check=False))
    cases = [
        (afile, "Not a directory"),
        (os.path.join(afile, "q"), "Not a directory"),
        (ro, "Read-only file system"),
        (os.path.join(ro, "q"), "Read-only file system"),
    ]
    for path, why in cases:
        cfg = config(d, [http_out(url, "ndjson", "x", path)])
        p = run_tcpship("-c", cfg, "-e", EVENTS, "--queue-dir", os.path.join(d, "q"))
        lines = [l for l in p.stderr.splitlines() if l]
        assert p.returncode == 1, (path, p.returncode, p.stderr)
        assert len(lines) == 1 and path in lines[0] and why in lines[0], (path, lines)
        assert not said_ready(p), p.stderr
    with open(afile) as f:
        assert f.read() == "not a folder\n"


def said_ready(p):
    return "tcpship: ready" in p.stderr
