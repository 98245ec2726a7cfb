"""The Kafka output, against librdkafka's own mock cluster (3 brokers on
loopback, tests/lib/kafkamock.c): real events from loopback traffic,
produced by tcpship and read back by the mock program's consumer.

Ground truth is a file output beside the Kafka one: both get the same
lines, so what Kafka holds must be those lines, each once (the idempotent
producer: a retried produce never duplicates), and the trigger programs'
own events must be among them. Faults: injected produce errors, answers
that come after the client gave up (it retries a produce the broker
applied), a broker down then up, every broker down past message_timeout,
and the exit deadline with brokers down."""
import collections
import json
import os
import re
import socket
import time

from clickhouse import ClickHouse
from kafkamock import KafkaMock
from tslib import ROOT, Tcpship, require_root, run_tcpship, tmpdir, trig, wait_until

EVENTS = "connect,accept,close"


def start(d, mock, extra=None, top=None, args=(), name="kafka", file=True, topic=None):
    out = {"type": "kafka", "name": name, "brokers": mock.bootstrap,
           "topic": topic or mock.topic, "batch": {"max_delay": "100ms"}}
    out.update(extra or {})
    outputs = [out]
    if file:
        outputs.insert(0, {"type": "file", "path": os.path.join(d, "events.jsonl")})
    cfg = os.path.join(d, "tcpship.json")
    with open(cfg, "w") as f:
        json.dump({**(top or {}), "outputs": outputs}, f)
    return Tcpship("-c", cfg, "-e", EVENTS, *args)


def file_lines(d):
    with open(os.path.join(d, "events.jsonl"), "rb") as f:
        return [l for l in f.read().split(b"\n") if l]


def pids(gts):
    return {g[k] for g in gts for k in ("client_pid", "server_pid")}


def sink(ts, name="kafka"):
    total, sinks = ts.exit_line()
    return total, sinks[name]


def flow_key(ev):
    """What the key must be: both endpoints, the lower one first (as bytes
    of the address, then the port), as "addr:port addr:port"."""
    fam = socket.AF_INET6 if ev["family"] == "ipv6" else socket.AF_INET
    zero = "::" if fam == socket.AF_INET6 else "0.0.0.0"
    ends = []
    for a, p in (("saddr", "sport"), ("daddr", "dport")):
        raw = socket.inet_pton(fam, ev.get(a, zero))
        ends.append((raw, ev.get(p, 0)))
    ends.sort()
    txt = []
    for raw, port in ends:
        s = socket.inet_ntop(fam, raw)
        txt.append(f"[{s}]:{port}" if fam == socket.AF_INET6 else f"{s}:{port}")
    return " ".join(txt).encode()


def check_flows(msgs):
    """Every event of a flow under its flow key, in one partition, in seq
    order; returns the number of flows with more than one event."""
    flows = collections.defaultdict(list)
    for m in msgs:
        assert m["key"] == flow_key(m["event"]), (m["key"], m["event"])
        flows[m["key"]].append(m)
    multi = 0
    for key, ms in flows.items():
        assert len({m["partition"] for m in ms}) == 1, (key, [m["partition"] for m in ms])
        by_off = sorted(ms, key=lambda m: m["offset"])
        seqs = [m["event"]["seq"] for m in by_off]
        assert seqs == sorted(seqs), (key, seqs)
        multi += len(ms) > 1
    return multi


def exactly_once(mock, lines, topic=None):
    """Kafka holds the file's lines, each once; returns the messages."""
    msgs = mock.consume(topic)
    got = collections.Counter(m["value"] for m in msgs)
    dup = [v for v, c in got.items() if c > 1]
    assert not dup, f"{len(dup)} duplicated, first {dup[0][:200]}"
    want = set(lines)
    missing = want - set(got)
    assert not missing, f"{len(missing)} of {len(want)} lines not in Kafka: " \
        f"{sorted(missing)[:2]}"
    extra = set(got) - want
    assert not extra, f"{len(extra)} messages not in the file: {sorted(extra)[:2]}"
    return msgs


def mine(msgs, gts):
    p = pids(gts)
    return [m for m in msgs if m["event"].get("pid") in p]


def traffic(n):
    return [trig("tcp_pair") for _ in range(n)]


def wait_log(ts, text, timeout):
    return wait_until(lambda: [l for l in ts.stderr_lines if text in l] or None, timeout,
                      f"'{text}' on stderr")


# ------------------------------------------------------------ happy path

def test_every_event_once_flow_in_one_partition_in_order_timestamps():
    require_root()
    d = tmpdir()
    mock = KafkaMock(partitions=6)
    ts = start(d, mock)
    gts = traffic(40)
    ts.stop()
    total, s = sink(ts)
    lines = file_lines(d)
    msgs = exactly_once(mock, lines)
    assert s["out"] == len(msgs) == total["events"] == s["produced"] == s["acked"], (s, total)
    assert s["dropped_error"] == s["dropped_exit"] == s["dropped_full"] == 0, s
    ours = mine(msgs, gts)
    assert len(ours) == 4 * len(gts), len(ours)
    # the ground truth of each pair: its four events, one flow, one partition
    for g in gts:
        # the pair's own flow: both its ports (a later pair may reuse one)
        pair = {g["client_port"], g["server_port"]}
        evs = [m for m in ours if {m["event"]["sport"], m["event"]["dport"]} == pair and
               m["event"]["pid"] in (g["client_pid"], g["server_pid"])]
        assert sorted(m["event"]["type"] for m in evs) == \
            ["accept", "close", "close", "connect"], evs
        assert len({m["partition"] for m in evs}) == 1, evs
        conn = [m["event"] for m in evs if m["event"]["type"] == "connect"][0]
        assert conn["pid"] == g["client_pid"] and conn["dport"] == g["server_port"]
    assert check_flows(msgs) >= len(gts)
    # spread over the partitions, and the message time is the event's
    assert len({m["partition"] for m in ours}) >= 3
    for m in msgs:
        t = m["event"]["time"]
        secs = time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        assert m["timestamp"] == int(secs) * 1000 + int(t[20:23]), (m["timestamp"], t)


def test_spec_flag_topic_per_type_and_keys():
    require_root()
    d = tmpdir()
    mock = KafkaMock(partitions=4)
    for t in ("connect", "accept", "close"):
        mock.cmd(f"topic tcpship-{t} 4")
    # -o kafka://BROKERS/TOPIC, with {type}
    ts = Tcpship("-o", mock.url("tcpship-{type}"), "-o", "file:" + os.path.join(d, "events.jsonl"),
                 "-e", EVENTS)
    gts = traffic(10)
    ts.stop()
    by_type = collections.defaultdict(set)
    for line in file_lines(d):
        by_type[json.loads(line)["type"]].add(line)
    for t in ("connect", "accept", "close"):
        msgs = exactly_once(mock, by_type[t], f"tcpship-{t}")
        assert {m["event"]["type"] for m in msgs} == {t}
        assert len(mine(msgs, gts)) == (2 if t == "close" else 1) * len(gts)
    assert mock.count() == 0

    # key "host": one key, so one partition; "none": no key
    for key in ("host", "none"):
        d = tmpdir()
        mock = KafkaMock(partitions=4)
        ts = start(d, mock, {"key": key})
        traffic(8)
        ts.stop()
        msgs = exactly_once(mock, file_lines(d))
        if key == "host":
            assert {m["key"] for m in msgs} == {socket.gethostname().encode()}
            assert len({m["partition"] for m in msgs}) == 1
        else:
            assert {m["key"] for m in msgs} == {None}


def test_every_compression_codec_delivers():
    require_root()
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        d = tmpdir()
        mock = KafkaMock(partitions=3)
        ts = start(d, mock, {"compression": codec})
        gts = traffic(5)
        ts.stop()
        msgs = exactly_once(mock, file_lines(d))
        assert len(mine(msgs, gts)) == 20, codec


# ------------------------------------------------------------ faults

def test_produce_errors_and_late_answers_retried_never_duplicated():
    require_root()
    d = tmpdir()
    mock = KafkaMock(partitions=6)
    # retriable errors on every broker, then answers later than the
    # client waits for: it sends again what the broker already stored
    for b in (1, 2, 3):
        mock.cmd(f"errors {b} produce 3 NOT_LEADER_FOR_PARTITION")
        mock.cmd(f"errors {b} produce 2 REQUEST_TIMED_OUT")
    ts = start(d, mock, {"properties": {"request.timeout.ms": "800", "retry.backoff.ms": "50"}},
               args=("--stats=500ms",))
    gts = traffic(20)
    for b in (1, 2, 3):
        mock.cmd(f"slow {b} produce 2 2000")
    gts += traffic(20)

    def used():
        if all(mock.cmd(f"stack {b} produce") == "stack 0" for b in (1, 2, 3)):
            return True
        gts.append(trig("tcp_pair"))    # more produce requests
        return False
    try:
        wait_until(used, 60, "every injected answer used")
    except AssertionError as e:
        left = [mock.cmd(f"stack {b} produce") for b in (1, 2, 3)]
        raise AssertionError(f"{e}: left {left}, {stats_of(ts)}, {ts.stderr[-1500:]}")
    gts += traffic(5)
    ts.stop()
    total, s = sink(ts)
    msgs = exactly_once(mock, file_lines(d))
    assert len(mine(msgs, gts)) == 4 * len(gts)
    assert s["out"] == total["events"] == len(msgs), (s, total)
    assert s["dropped_error"] == s["failed"] == s["timed_out"] == 0, s
    check_flows(msgs)


def test_a_broker_down_then_up_loses_nothing():
    require_root()
    d = tmpdir()
    mock = KafkaMock(partitions=6)
    ts = start(d, mock, args=("--stats=200ms",))
    gts = traffic(5)
    wait_until(lambda: (stats_of(ts) or {}).get("acked", 0) >= 20, 20, "the first events acked")
    mock.cmd("down 2")
    gts += traffic(20)
    # what its partitions get waits in librdkafka, not lost, not counted
    def held():
        s = stats_of(ts)
        return s if s and s["produced"] > s["acked"] >= 20 else None
    try:
        s = wait_until(held, 20, "events for broker 2's partitions held")
    except AssertionError as e:
        raise AssertionError(f"{e}: {stats_of(ts)}, {ts.stderr[-1500:]}")
    assert s["dropped_error"] == s["timed_out"] == 0, s
    mock.cmd("up 2")
    gts += traffic(5)
    ts.stop()
    total, s = sink(ts)
    msgs = exactly_once(mock, file_lines(d))
    assert len(mine(msgs, gts)) == 4 * len(gts)
    assert s["out"] == total["events"] and s["dropped_error"] == 0, s
    check_flows(msgs)


def stats_of(ts, name="kafka"):
    """The last --stats counters of the output."""
    lines = [l for l in ts.stderr_lines if l.startswith("tcpship: stats: ")]
    if not lines:
        return None
    for part in lines[-1].split(" | ")[1:]:
        n, _, rest = part.partition(": ")
        if n == name:
            return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", rest)}
    return None


def test_every_broker_down_past_message_timeout_counted_then_recovers():
    require_root()
    d = tmpdir()
    mock = KafkaMock(partitions=3)
    ts = start(d, mock, {"message_timeout": "1500ms",
                         "properties": {"reconnect.backoff.max.ms": "300"}},
               args=("--stats=200ms",))
    early = traffic(3)
    wait_until(lambda: mock.count() >= 12, 20, "the first events in Kafka")
    for b in (1, 2, 3):
        mock.cmd(f"down {b}")
    lost = traffic(10)
    wait_log(ts, "not delivered", 20)

    def settled():
        s = stats_of(ts)
        return s if s and s["queued"] == 0 and s["timed_out"] >= 40 and \
            s["produced"] == s["acked"] + s["timed_out"] else None
    wait_until(settled, 30, "the outage's events timed out")
    for b in (1, 2, 3):
        mock.cmd(f"up {b}")

    def back():   # events until one is delivered: librdkafka reconnected
        if [l for l in ts.stderr_lines if "delivering again" in l]:
            return True
        trig("tcp_pair")
        return False
    wait_until(back, 30, "'delivering again' on stderr")
    before = stats_of(ts)["acked"]
    late = traffic(10)

    def caught_up():
        s = stats_of(ts)
        return s["queued"] == 0 and s["acked"] >= before + 40 and \
            s["produced"] == s["acked"] + s["timed_out"]
    try:
        wait_until(caught_up, 30, "the events after the outage delivered")
    except AssertionError as e:
        raise AssertionError(f"{e}: before {before}, now {stats_of(ts)}")
    ts.stop()
    total, s = sink(ts)
    msgs = mock.consume()
    got = {m["value"] for m in msgs}
    assert len(got) == len(msgs), "duplicates"
    lines = set(file_lines(d))
    assert got <= lines, sorted(got - lines)[:2]
    assert len(mine(msgs, early)) == 12, ([m["event"] for m in mine(msgs, early)], early)
    assert len(mine(msgs, late)) == 40, len(mine(msgs, late))
    assert not mine(msgs, lost), "events of the outage were delivered after their timeout"
    # every event is in one counter: delivered, or dropped_error (timed out)
    assert s["dropped_error"] == s["timed_out"] == len(lines) - len(got) >= 40, (s, len(lines))
    assert s["produced"] == s["acked"] + s["timed_out"], s
    assert s["out"] == len(got) and s["out"] + s["dropped_error"] == total["events"], (s, total)
    said = [l for l in ts.stderr_lines if "not delivered" in l]
    assert len(said) == 1 and "_MSG_TIMED_OUT" in said[0], said


def test_exit_deadline_with_brokers_down_counts_what_is_left():
    require_root()
    d = tmpdir()
    mock = KafkaMock(partitions=3)
    ts = start(d, mock, args=("--stats=100ms",))
    for b in (1, 2, 3):
        mock.cmd(f"down {b}")
    traffic(10)
    wait_until(lambda: sum(1 for _ in file_lines(d)) >= 40, 10, "events in the file")
    # a unit is in librdkafka's hands
    wait_until(lambda: (stats_of(ts) or {}).get("produced", 0) >= 1, 10, "a unit produced")
    t0 = time.monotonic()
    ts.stop()
    took = time.monotonic() - t0
    total, s = sink(ts)
    assert took < 9, took
    for b in (1, 2, 3):
        mock.cmd(f"up {b}")
    assert mock.count() == 0
    assert s["out"] == 0 and s["dropped_exit"] == total["events"] >= 40, (s, total)
    assert s["purged"] > 0, s


def test_disk_queue_keeps_an_outage_across_kill_9():
    require_root()
    d = tmpdir()
    mock = KafkaMock(partitions=3)
    for b in (1, 2, 3):
        mock.cmd(f"down {b}")
    q = {"type": "disk", "path": os.path.join(d, "q")}
    ts = start(d, mock, {"message_timeout": "1s", "queue": q},
               args=("--queue-dir", os.path.join(d, "qs")))
    gts = traffic(10)
    wait_log(ts, "kept in the disk queue", 20)
    ts.proc.kill()
    ts.proc.wait(10)
    run1 = file_lines(d)
    for b in (1, 2, 3):
        mock.cmd(f"up {b}")
    os.rename(os.path.join(d, "events.jsonl"), os.path.join(d, "run1.jsonl"))
    ts = start(d, mock, {"message_timeout": "1s", "queue": q},
               args=("--queue-dir", os.path.join(d, "qs")))
    gts2 = traffic(5)
    wait_until(lambda: mock.count() >= len(run1) + 20, 30, "run 1's events in Kafka")
    ts.stop()
    _, s = sink(ts)
    msgs = exactly_once(mock, run1 + file_lines(d))
    assert len(mine(msgs, gts)) == 40 and len(mine(msgs, gts2)) == 20
    assert s["replayed"] >= len(run1) and s["dropped_error"] == 0, s


# ------------------------------------------------------------ a fleet's path

def sql_statements(name, **subst):
    with open(os.path.join(ROOT, "schemas", name)) as f:
        sql = "\n".join(l for l in f.read().splitlines() if not l.startswith("--"))
    for k, v in subst.items():
        sql = sql.replace(k, v)
    return [s for s in sql.split(";") if s.strip()]


def test_clickhouse_kafka_engine_reads_every_event_into_tcp_events():
    """agents -> Kafka -> a real ClickHouse's Kafka engine, with the shipped
    DDL (schemas/clickhouse.sql, schemas/clickhouse-kafka.sql)."""
    require_root()
    d = tmpdir()
    mock = KafkaMock(partitions=3)
    ch = ClickHouse(data_dir=os.path.join(d, "clickhouse"),
                    extra_config="<kafka><auto_offset_reset>smallest</auto_offset_reset></kafka>")
    for stmt in sql_statements("clickhouse.sql") + sql_statements(
            "clickhouse-kafka.sql", **{"kafka1:9092,kafka2:9092,kafka3:9092": mock.bootstrap}):
        ch.query(stmt)
    ts = start(d, mock)
    gts = traffic(10)
    ts.stop()
    lines = [json.loads(l) for l in file_lines(d)]
    want = {(e["agent_id"], e["seq"]) for e in lines}

    def stored():
        (r,) = ch.rows("SELECT count() AS n FROM tcp_events")
        return int(r["n"]) >= len(want)
    wait_until(stored, 60, f"{len(want)} rows through the Kafka engine", interval=0.5)
    rows = ch.rows("SELECT agent_id, seq, type, pid, sport, dport FROM tcp_events FINAL")
    got = {(r["agent_id"], int(r["seq"])) for r in rows}
    assert got == want, (sorted(want - got)[:3], sorted(got - want)[:3])
    p = pids(gts)
    ours = [r for r in rows if r["pid"] is not None and int(r["pid"]) in p]
    assert len(ours) == 4 * len(gts), len(ours)
    for g in gts:
        (c,) = [r for r in ours if r["type"] == "connect" and int(r["pid"]) == g["client_pid"]]
        assert int(c["sport"]) == g["client_port"] and int(c["dport"]) == g["server_port"], c


# ------------------------------------------------------------ config

def test_config_mistakes_exit_2_one_line_secrets_never_shown():
    d = tmpdir()
    secret = "hunter2-" + os.urandom(6).hex()
    pw = os.path.join(d, "pw")
    with open(pw, "w") as f:
        f.write(secret + "\n")

    def check(entry, want, rc=2):
        cfg = os.path.join(d, "c.json")
        with open(cfg, "w") as f:
            json.dump({"outputs": [{"type": "kafka", "brokers": "127.0.0.1:9092",
                                    "topic": "t", **entry}]}, f)
        p = run_tcpship("--check-config", "-c", cfg)
        err = p.stderr.strip().splitlines()
        assert p.returncode == rc, (entry, p.returncode, p.stderr)
        assert secret not in p.stderr + p.stdout
        if rc:
            assert len(err) == 1 and re.search(want, err[0]), (entry, err)
        return p

    check({"brokers": ""}, r"brokers: missing")
    check({"brokers": "127.0.0.1"}, r'brokers: "127.0.0.1" is not HOST:PORT')
    check({"brokers": "a:9092,b:99999"}, r"the port is not 1..65535")
    check({"topic": "bad topic"}, r"topic \"bad topic\": Kafka takes")
    check({"topic": "x" * 250}, r"longer than Kafka's 249")
    check({"compression": "brotli"}, r"compression")
    check({"key": "pid"}, r"key")
    check({"properties": {"no.such.property": "1"}}, r"properties\.no\.such\.property")
    check({"properties": {"bootstrap.servers": "x:1"}}, r"use brokers")
    check({"properties": {"sasl.password": secret}}, r"use property_files")
    # secret files are read at start, not by --check-config (as token_file)
    check({"property_files": {"sasl.password": os.path.join(d, "none")}}, None, rc=0)
    check({"property_files": {"no.such.secret": pw}}, r"librdkafka refuses it")
    check({"properties": {"acks": "1"}}, None, rc=0)
    check({"properties": {"security.protocol": "sasl_plaintext", "sasl.mechanisms": "PLAIN",
                          "sasl.username": "u"},
           "property_files": {"sasl.password": pw}}, None, rc=0)
    p = run_tcpship("--check-config", "-o", "kafka://127.0.0.1:9092")
    assert p.returncode == 2 and "topic: missing" in p.stderr, p.stderr


def test_missing_secret_file_at_start_exit_2_nothing_started():
    require_root()
    d = tmpdir()
    cfg = os.path.join(d, "c.json")
    with open(cfg, "w") as f:
        json.dump({"outputs": [{"type": "kafka", "brokers": "127.0.0.1:9", "topic": "t",
                                "property_files": {"sasl.password": os.path.join(d, "no")}}]},
                  f)
    p = run_tcpship("-c", cfg)
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert len(err) == 1 and "property_files.sasl.password" in err[0], err
    assert "ready" not in p.stderr
