#!/usr/bin/python3
"""tcpship's benchmark: what tracing costs a connection-heavy workload, side
by side with what a user would install instead (issue 6), in one run.

Runs the loopback load generator (.output/bench/loadgen) alone and under
each tracer configuration, interleaved (A B C D ... A B C D ...) so that
drift of the machine hits every configuration alike, and reports medians.
The configurations (CONFIGS below, one Tracer each):

  load alone        the workload with no tracer: every ratio is against it
  tcpship           default events, stdout to a file
  floor             tests/bench/floor: the same hooks as tcpship, programs
                    that only count in a per-CPU map and emit nothing
  tcpship http      the HTTP output (ndjson, gzip) to a local collector
                    (tests/bench/collector.c) that keeps the bodies as they
                    come and counts them only after the run
  tcpship http disk the same with a disk queue (issue 12; sync interval):
                    within 0.05 of tcpship http, zero loss
  tcpship 3 sinks   a config with three outputs: stdout (to a file), a file,
                    and the HTTP collector; its peak RSS is the 40 MiB target
  bpftrace          Debian's bpftrace -f json with a one-liner printing
                    tcpship's fields on sock:inet_sock_set_state
  tcplife-bpfcc     bcc's tcplife from Debian's bpfcc-tools, compiled against
                    Debian's 6.1 kernel headers (BCC_KERNEL_SOURCE)

Not run by default (--configs): `tcpship http nogzip` (the http row without
compression: what gzip costs) and `tcpship wakeup0` (a reader wake-up per
event). A peer that cannot run (not installed, no headers, fails to start)
is a row saying why, never dropped. Then a pingpong section (persistent
connections, send/recv events on with -e all, and with --min-latency 1ms),
then the user-space micro-benchmarks (.output/bench/encbench, the disk
queue's .output/bench/dqbench, and gzip of
request bodies by zlib and libdeflate from httpbench) and the HTTP
output's throughput to a discard server and the Kafka output's into
librdkafka's mock cluster (.output/bench/httpbench --kafka), and the
targets of issue 6 with PASS / MISS (and the measured gap) each.

Columns:
  conn/s        connections per second the workload made (median)
  ratio         per repetition, conn/s under the tracer / conn/s of the
                `load alone` run of the same repetition; median of those
  events        events of the workload's connections the tracer shipped
                (matched by the loadgen's server port), median
  expected      what the workload should give this tracer, from the
                loadgen's ground truth (tcpship: connect + accept + 2 close
                per connection; the peers: see their Tracer entries)
  lost rep.     lost as the tracer itself reports it, worst run. tcpship:
                lost_kernel + missed_runs (hook runs the kernel skipped) +
                malformed + nomem + every sink's undelivered events +
                closes_unseen (closes the kernel never showed to BPF);
                bpftrace: its "Lost N events"; bcc: "Possibly lost N
                samples"
  lost truth    expected minus shipped, per event type, worst run: lost
                against the ground truth, whatever the tracer says
  CPU us/conn   utime + stime of the tracer process (all threads, waited
                children) from ready to exit (drain and flush included,
                start-up excluded: bcc compiles for seconds), per connection
  CPU us/ev     the same per event the tracer wrote (all of its events)
  BPF ns/conn   run_time_ns of the tracer's BPF programs over the load, per
                connection (kernel.bpf_stats_enabled, on only while a tracer
                runs and restored after; this time is charged to the
                workload, not to the tracer process); per program ns/run and
                runs/conn, and ns/run against the floor's program on the
                same hook, in the table below it
  peak RSS      VmHWM of the tracer just before it is stopped

With --mode pingpong the unit is a round trip (msg/s, us/msg).

Usage: bench.py [--duration S] [--reps N] [--quick | --smoke] [--configs a,b]
                [--no-peers] [--no-pingpong] [--no-encbench] [--no-httpbench]
                [--tcpship-args "ARGS"] [--loadgen-args "ARGS"] [--json FILE]
"""
import argparse
import glob
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import flows

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TCPSHIP = os.path.join(ROOT, "tcpship")
BENCH_BIN = os.path.join(ROOT, ".output", "bench")
LOADGEN = os.path.join(BENCH_BIN, "loadgen")
ENCBENCH = os.path.join(BENCH_BIN, "encbench")
HTTPBENCH = os.path.join(BENCH_BIN, "httpbench")
DQBENCH = os.path.join(BENCH_BIN, "dqbench")
# librdkafka's mock cluster: the Kafka output's runs in httpbench
KAFKAMOCK = os.path.join(ROOT, ".output", "lib", "kafkamock")
FLOOR = os.path.join(BENCH_BIN, "floor")
DNSLOAD = os.path.join(BENCH_BIN, "dnsload")
WITNESS = os.path.join(BENCH_BIN, "witness")
COLLECTOR = os.path.join(BENCH_BIN, "collector")
BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled"
CLK_TCK = os.sysconf("SC_CLK_TCK")

READY_TIMEOUT = 60      # BPF load + verifier, bcc's compile; seconds
STOP_TIMEOUT = 60       # tcpship flushes with a 5 s deadline; this is a backstop
LOAD_SLACK = 30         # loadgen may take this long past its duration

# issue 6's targets
TARGETS = {
    "ratio": 0.80,              # throughput ratio, default events, ahead of every peer
    "cpu_us": 4.0,              # tracer CPU per connection
    "bpf_x_floor": 2.0,         # BPF ns/run against the counting floor, per hook
    "encode_eps": 2e6,          # encoder, events/s on one core
    "e2e_eps": 1e6,             # synthetic ring buffer -> encoder -> file, events/s
    "rss_mib": 40.0,            # peak RSS with three sinks
    # issue 12
    "disk_ratio_gap": 0.05,     # tcpship http disk: ratio within this of tcpship http
    "dq_eps": 500000,           # disk queue: lines in -> segments -> read back, one core
    # issue 17
    "bpf_conn_x_floor": 2.0,    # BPF ns per connection against the floor's
    "ratio_of_floor": 0.97,     # default events: ratio against the floor's ratio
    "sink_ratio": 0.85,         # tcpship http and tcpship 3 sinks
    "sink_cpu_us": 4.0,         # tcpship 3 sinks, tracer CPU per connection
}
HTTP_TARGET = {"events_per_s": 300000, "cpu_cores": 1.0}
REFERENCES = [
    ("load alone, 2 workers", "~68k conn/s"),
    ("bpftrace -f json", "ratio 0.49, ~67% of events lost"),
    ("bcc tcplife", "ratio 0.59, ~0.8% lost"),
    ("libbpf-tools tcplife", "ratio 0.55, no loss, 7.8 us tracer CPU/conn"),
    ("counting in the kernel, no output", "ratio 0.92"),
]


def log(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------- children

_children = []  # Popen objects still to be ended on the way out


def spawn(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    _children.append(p)
    return p


def forget(p):
    if p in _children:
        _children.remove(p)


def end_children():
    """Ends only the processes this script started, by their pid."""
    for p in _children:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
    _children.clear()


class StderrWatch:
    """Collects a child's stderr lines in a thread (the pipe never fills)
    and lets the caller wait, with a deadline, for a line to appear."""

    def __init__(self, stream, ready_re=None):
        self.lines = []
        self.ready_re = ready_re
        self.match = None
        self.ready = threading.Event()
        self.closed = threading.Event()
        self.t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.t.start()

    def _run(self, stream):
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if self.ready_re and not self.match:
                m = self.ready_re.search(line)
                if m:
                    self.match = m
                    self.ready.set()
        self.closed.set()
        self.ready.set()  # wake a waiter: the process is gone

    def text(self):
        return "\n".join(self.lines)


class TracerFailed(Exception):
    """A configuration that could not run (its row says why); the bench
    goes on with the others."""


# ---------------------------------------------------------------- /proc

def proc_cpu_us(pid):
    """utime + stime of the whole process (every thread), microseconds."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # comm may hold spaces and parentheses: fields start after the last ')'
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) * 1e6 / CLK_TCK


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def fd_kinds(pid):
    """{link target: count} of a process's anonymous-inode fds."""
    kinds = {}
    fddir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fddir)
    except OSError:
        return kinds
    for fd in fds:
        try:
            t = os.readlink(f"{fddir}/{fd}")
        except OSError:
            continue
        if t.startswith("anon_inode:"):
            kinds[t] = kinds.get(t, 0) + 1
    return kinds


def prog_ids_of(pid):
    """ids of the BPF programs a process holds open (from fdinfo), so other
    tracers on the machine, even other tcpship instances, are left out."""
    ids = set()
    fddir = f"/proc/{pid}/fd"
    for fd in os.listdir(fddir):
        try:
            if os.readlink(f"{fddir}/{fd}") != "anon_inode:bpf-prog":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            continue
    return ids


def bpftool_progs():
    try:
        out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True,
                             timeout=30, check=True).stdout
        return json.loads(out or b"[]")
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def bpf_snapshot(ids):
    """{id: (name, run_cnt, run_time_ns, recursion_misses)} of the given
    programs. A miss is a run the kernel skipped because the program was
    already running on that CPU (a softirq on top of it): an event that
    never reaches the ring buffer (tcpship counts these as missed_runs)."""
    progs = bpftool_progs()
    if progs is None:
        return None
    return {p["id"]: (p.get("name", "?"), p.get("run_cnt", 0), p.get("run_time_ns", 0),
                      p.get("recursion_misses", 0))
            for p in progs if p["id"] in ids}


def foreign_tracing_progs(own_ids):
    """Tracing programs loaded by someone else: they slow the workload too,
    and a benchmark run beside them should say so."""
    progs = bpftool_progs() or []
    kinds = {"kprobe", "tracepoint", "raw_tracepoint", "tracing", "perf_event"}
    return sorted({p.get("name", "?") for p in progs
                   if p.get("type") in kinds and p["id"] not in own_ids})


class BpfStats:
    """kernel.bpf_stats_enabled on for the runs that need it, and always put
    back as it was."""

    def __init__(self):
        self.old = None

    def on(self):
        try:
            with open(BPF_STATS) as f:
                cur = f.read().strip()
            if self.old is None:
                self.old = cur
            with open(BPF_STATS, "w") as f:
                f.write("1")
            return True
        except OSError as e:
            log(f"bench: cannot enable {BPF_STATS}: {e}; no per-program figures")
            return False

    def restore(self):
        if self.old is None:
            return
        try:
            with open(BPF_STATS, "w") as f:
                f.write(self.old)
        except OSError as e:
            log(f"bench: cannot restore {BPF_STATS} to {self.old}: {e}")
        self.old = None


# ---------------------------------------------------------------- counting

EXIT_RE = re.compile(r"^tcpship: exit: (.*)$")
KV_RE = re.compile(r"(\w+)=(\d+)")


def parse_tcpship_exit(stderr_lines):
    """The exit line as {key: n}, the sinks' counters as {sink: {key: n}}
    (a sink's name may hold ':', as in http://host:port/; it ends at ': ')."""
    for line in reversed(stderr_lines):
        m = EXIT_RE.match(line)
        if not m:
            continue
        parts = m.group(1).split(" | ")
        main = {k: int(v) for k, v in KV_RE.findall(parts[0])}
        sinks = {}
        for p in parts[1:]:
            name, _, rest = p.partition(": ")
            sinks[name.strip()] = {k: int(v) for k, v in KV_RE.findall(rest)}
        return main, sinks
    return None, None


def scan_ndjson(path, pid, port):
    """Counts tcpship's lines of the workload per type: those with the
    loadgen's pid, and every line of its connections (matched by the server
    port, with or without a pid); and all lines."""
    pid_key = f'"pid":{pid},'.encode()
    port_keys = (f'"sport":{port},'.encode(), f'"dport":{port},'.encode())
    by_pid, by_port, no_pid = {}, {}, {}
    total = 0

    def add(d, t):
        d[t] = d.get(t, 0) + 1

    with open(path, "rb") as f:
        for line in f:
            total += 1
            mine = pid_key in line
            ours = port_keys[0] in line or port_keys[1] in line
            if not mine and not ours:
                continue
            i = line.find(b'"type":"') + 8
            t = line[i:line.find(b'"', i)].decode("ascii", "replace")
            if mine:
                add(by_pid, t)
            if ours:
                add(by_port, t)
                if b'"pid":' not in line:
                    add(no_pid, t)
    return {"by_pid": by_pid, "by_port": by_port, "no_pid": no_pid, "lines": total}


def shortfall(expected, got):
    """Events expected but not seen, summed over the expected types (extra
    events of other types, e.g. a loopback retransmit, hide nothing)."""
    return sum(max(0, n - got.get(t, 0)) for t, n in expected.items())


def shortfall_by_type(expected, got):
    return {t: n - got.get(t, 0) for t, n in expected.items() if n > got.get(t, 0)}


def count_tcpship(run):
    """What tcpship shipped and lost, and the lines that belong to the load:
    from the stdout file, or (no stdout sink) from what the collector got."""
    main, sinks = parse_tcpship_exit(run["stderr"])
    res = {"exit_line": main, "sinks": sinks}
    if main is not None:
        events = main.get("events", 0)
        # every event ends in exactly one counter of each sink: out or a drop
        per_sink = {n: max(s.get("dropped_full", 0) + s.get("dropped_error", 0) +
                           s.get("dropped_exit", 0), events - s.get("out", 0))
                    for n, s in sinks.items()}
        res.update(events_total=events, lost_kernel=main.get("lost_kernel", 0),
                   missed_runs=main.get("missed_runs", 0),
                   lost_user=main.get("malformed", 0) + main.get("nomem", 0) +
                   sum(per_sink.values()),
                   lost_sinks=per_sink, flow_table_full=main.get("flow_table_full", 0),
                   closes_unseen=main.get("closes_unseen", 0))
        # closes_unseen: closes the kernel never showed to BPF, counted when
        # their socket's address is reused (README: "The closes the kernel hides")
        res["lost_reported"] = (res["lost_kernel"] + res["missed_runs"] + res["lost_user"] +
                                res["closes_unseen"])
        res["lost_detail"] = (f"kernel {res['lost_kernel']}, missed_runs {res['missed_runs']}, "
                              f"user {res['lost_user']}, closes_unseen {res['closes_unseen']}")
    truth = run["truth"]
    path = run["out_path"]
    if "stdout" not in (sinks or {"stdout": 1}) and run.get("collector"):
        path = run["collector"]["out_path"]  # http only: what arrived
    res.update(scan_ndjson(path, truth["pid"], truth["port"]))
    res["shipped"] = res["events_total"] if main is not None else res["lines"]
    return res


def count_floor(run):
    runs = None
    for line in run["stderr"]:
        m = re.match(r"^floor: exit: runs=(\d+)", line)
        if m:
            runs = int(m.group(1))
    return {"floor_runs": runs, "shipped": None, "lost_reported": None}


WITNESS_UNSEEN = re.compile(r"^witness: unseen sport=(\d+) dport=(\d+) age_ms=(\d+) states=([\d,]*)")
WITNESS_EXIT = re.compile(r"^witness: exit: (.*)")


def count_witness(run, lines=None):
    """Sockets of the workload (the server port at either end) whose move to
    CLOSE and whose destruction no BPF program was shown by the kernel."""
    port = run["truth"]["port"]
    unseen, totals = [], {}
    for line in run["stderr"] if lines is None else lines:
        m = WITNESS_UNSEEN.match(line)
        if m and port in (int(m.group(1)), int(m.group(2))):
            unseen.append({"side": "server" if int(m.group(1)) == port else "client",
                           "states": m.group(4), "age_ms": int(m.group(3))})
        m = WITNESS_EXIT.match(line)
        if m:
            totals = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}
    return {"shipped": None, "lost_reported": None, "witness_unseen": unseen,
            "witness_totals": totals}


def count_tcpship_witnessed(run):
    """tcpship's counts, and the witness's that ran beside it in the same run."""
    res = count_tcpship(run)
    w = count_witness(run, run.get("witness_stderr") or [])
    res["witness_unseen"], res["witness_totals"] = w["witness_unseen"], w["witness_totals"]
    return res


BPFTRACE_LINE = re.compile(rb'"type": "printf", "data": "pid=\d+ .* sport=(\d+) daddr=\S+ '
                           rb'dport=(\d+) oldstate=(\d+) newstate=(\d+)')
BPFTRACE_LOST = (re.compile(rb'"type": "lost_events", "data": \{"events": (\d+)'),
                 re.compile(rb"Lost (\d+) events"))


def count_bpftrace(run):
    """bpftrace's printf lines of the workload's connections: SYN_SENT is a
    connect, CLOSE a close (the listener's own LISTEN -> CLOSE at the end of
    the run is not a connection's and is left out)."""
    port = run["truth"]["port"]
    by_port, total, lost = {}, 0, 0
    with open(run["out_path"], "rb") as f:
        for line in f:
            m = BPFTRACE_LINE.search(line)
            if not m:
                for r in BPFTRACE_LOST:
                    x = r.search(line)
                    if x:
                        lost += int(x.group(1))
                continue
            total += 1
            sport, dport, old, new = (int(g) for g in m.groups())
            if port not in (sport, dport):
                continue
            t = "connect" if new == 2 else "close" if new == 7 and old != 10 else None
            if t:
                by_port[t] = by_port.get(t, 0) + 1
    for line in run["stderr"]:
        x = BPFTRACE_LOST[1].search(line.encode())
        if x:
            lost += int(x.group(1))
    return {"by_port": by_port, "shipped": total, "lost_reported": lost,
            "lost_detail": f"'Lost N events': {lost}"}


def count_tcplife(run):
    """tcplife's lines (one per closed connection, per end) of the
    workload's connections: LPORT or RPORT is the server port. Parsed from
    the right: COMM may hold spaces."""
    port = str(run["truth"]["port"])
    n = total = lost = 0
    with open(run["out_path"], "rb") as f:
        for raw in f:
            fs = raw.decode("utf-8", "replace").split()
            if len(fs) < 9 or fs[0] == "PID" or not fs[-6].isdigit():
                continue
            total += 1
            if port in (fs[-6], fs[-4]):
                n += 1
    for line in run["stderr"]:
        m = re.search(r"[Pp]ossibly lost (\d+) samples", line)
        if m:
            lost += int(m.group(1))
    return {"by_port": {"close": n}, "shipped": total, "lost_reported": lost,
            "lost_detail": f"'Possibly lost N samples': {lost}"}


# ---------------------------------------------------------------- configs

class Tracer:
    """One configuration of the benchmark.

    name:      label in the table
    kind:      load, tcpship, floor or peer (targets compare tcpship with
               the floor and the peers)
    argv:      fn(opts, ctx) -> the command; ctx["url"] is the collector's
               URL, ctx["dir"] a directory for this run's files
    ready:     regex a line matches once the tracer is attached
    ready_on:  "stderr", "stdout" (the line is looked for in the output
               file), or fn(pid, output file) -> True once attached
    count:     fn(run) -> dict with shipped (all its events), lost_reported
               (None if it cannot tell), by_port: lines per event type of
               the workload's connections
    expected:  fn(truth) -> {event type: count} the workload should give it
    bpf:       collect per-program BPF run time (kernel.bpf_stats_enabled)
    stop:      the signal that stops it cleanly
    env:       fn(opts) -> {name: value or None (removed)} for its environment
    collector: start the HTTP collector before it, stop it after
    witness:   start the witness before it, stop it after (its lines go to
               run["witness_stderr"])
    check:     fn(opts) -> None, or why it cannot run here
    hooks:     fn(program name) -> the hook it is attached to
    note:      fn(opts) -> a line printed under the table
    """

    def __init__(self, name, kind="tcpship", argv=None, ready=None, ready_on="stderr",
                 count=None, expected=None, bpf=True, stop=signal.SIGINT, env=None,
                 collector=False, check=None, hooks=None, note=None, witness=False,
                 settle=None):
        self.name, self.kind, self.argv, self.ready, self.ready_on = \
            name, kind, argv, ready, ready_on
        self.count, self.expected, self.bpf, self.stop, self.env = \
            count, expected, bpf, stop, env
        self.collector, self.check, self.hooks, self.note = collector, check, hooks, note
        self.witness = witness
        # with held flows: settle(out_path, n) says when the measured part may
        # begin (the flow-report row: once every held flow was reported)
        self.settle = settle


def four_per_connection(truth):
    n = truth["connections"]
    return {"connect": n, "accept": n, "close": 2 * n}


def with_send_recv(truth):
    """-e all on pingpong: one send and one recv event per call, each side."""
    e = four_per_connection(truth)
    e["send"] = truth["messages_sent"] + truth["server_messages_sent"]
    e["recv"] = truth["messages_received"] + truth["server_messages_received"]
    return e


# program name (as the kernel keeps it: 15 characters) -> hook
HOOKS = {
    "tp_state": "sock:inet_sock_set_state", "tp_state_nested": "sock:inet_sock_set_state",
    "tp_connect": "syscalls:sys_exit_connect", "tp_accept4": "syscalls:sys_exit_accept4",
    "tp_accept": "syscalls:sys_exit_accept", "tp_retransmit": "tcp:tcp_retransmit_skb",
    "tp_dns_sendto": "syscalls:sys_enter_sendto", "tp_dns_sendmsg": "syscalls:sys_enter_sendmsg",
    "tp_dns_sendmmsg": "syscalls:sys_enter_sendmmsg", "tp_sys_enter": "raw_syscalls:sys_enter",
    "tp_send": "sock:sock_send_length", "tp_recv": "sock:sock_recv_length",
    "tp_dns_recvfrom": "syscalls:sys_enter_recvfrom", "tpx_dns_recvfro": "syscalls:sys_exit_recvfrom",
    "tpx_dns_recvfrom": "syscalls:sys_exit_recvfrom",
    "tp_dns_recvmsg": "syscalls:sys_enter_recvmsg", "tpx_dns_recvmsg": "syscalls:sys_exit_recvmsg",
    "tp_synack": "tcp:tcp_retransmit_synack",
    "floor_state": "sock:inet_sock_set_state", "floor_retransmi": "tcp:tcp_retransmit_skb",
    "floor_connect": "syscalls:sys_exit_connect", "floor_accept4": "syscalls:sys_exit_accept4",
    "floor_accept": "syscalls:sys_exit_accept", "floor_sendto": "syscalls:sys_enter_sendto",
    "floor_sendmsg": "syscalls:sys_enter_sendmsg",
    "floor_sendmmsg": "syscalls:sys_enter_sendmmsg", "floor_retransmit": "tcp:tcp_retransmit_skb",
    "floor_recvfrom": "syscalls:sys_enter_recvfrom", "floorx_recvfrom": "syscalls:sys_exit_recvfrom",
    "floor_recvmsg": "syscalls:sys_enter_recvmsg", "floorx_recvmsg": "syscalls:sys_exit_recvmsg",
}


def tcpship_config(ctx, outputs):
    """A config file for tcpship with these outputs; its path."""
    path = os.path.join(ctx["dir"], "tcpship.json")
    with open(path, "w") as f:
        json.dump({"outputs": outputs}, f)
    return path


def http_output(ctx):
    # the HTTP output's defaults (batches of 1000 events / 1 MiB / 1 s,
    # in_flight 1, a queue that drops when full) with gzip, as README's
    # NDJSON example
    return {"type": "http", "url": ctx["url"], "format": "ndjson", "compression": "gzip"}


TCPSHIP_READY = re.compile(r"^tcpship: ready")

# bpftrace: tcpship's fields (pid, comm, addresses, ports, old/new state) for
# what a tcplife-like one-liner prints: a connect (new state SYN_SENT: its
# source port is still 0 then) and every close (new state CLOSE).
BPFTRACE_PROG = (
    'tracepoint:sock:inet_sock_set_state'
    ' /args->protocol == 6 && (args->newstate == 7 || args->newstate == 2)/ {'
    ' if (args->family == 2) {'
    ' printf("pid=%d comm=%s saddr=%s sport=%d daddr=%s dport=%d oldstate=%d newstate=%d\\n",'
    ' pid, comm, ntop(2, args->saddr), args->sport, ntop(2, args->daddr), args->dport,'
    ' args->oldstate, args->newstate); } else {'
    ' printf("pid=%d comm=%s saddr=%s sport=%d daddr=%s dport=%d oldstate=%d newstate=%d\\n",'
    ' pid, comm, ntop(10, args->saddr_v6), args->sport, ntop(10, args->daddr_v6), args->dport,'
    ' args->oldstate, args->newstate); } }')


def bpftrace_expected(truth):
    # 3 per connection with the loadgen's --wait-close: the client's
    # CLOSE -> SYN_SENT (connect), the client's CLOSE_WAIT -> CLOSE (its RST
    # after the server's FIN) and the server socket's FIN_WAIT -> CLOSE (on
    # that RST). The server socket's birth (-> SYN_RECV) and ESTABLISHED are
    # filtered out by the predicate; no accept: that is a syscall, not a
    # state change.
    n = truth["connections"]
    return {"connect": n, "close": 2 * n}


def tcplife_expected(truth):
    # 2 per connection: tcplife prints a line when a socket it saw born
    # (any state below FIN_WAIT1) reaches CLOSE: the client socket (born at
    # SYN_SENT) and the server's (born at SYN_RECV).
    return {"close": 2 * truth["connections"]}


def check_bpftrace(o):
    if not shutil.which("bpftrace"):
        return "not installed (Debian package bpftrace; `make bench` installs it)"
    return None


# bcc compiles its C at start-up against kernel headers. Debian 12 has
# none for this 6.18 kernel; its 6.1 headers come in two halves,
# linux-headers-V-amd64 (include/generated, include/config, arch/x86/include/
# generated) and linux-headers-V-common (everything else), which Debian joins
# through /lib/modules/V/{build,source}. BCC_KERNEL_SOURCE takes one
# directory (bcc checks for include/linux/kconfig.h in it, which only
# -common has): the bench joins the two with symlinks in its own temporary
# directory and points BCC_KERNEL_SOURCE there.
BCC = {"tree": None, "reason": None, "version": None}


def bcc_headers(o):
    if BCC["tree"] or BCC["reason"]:
        return BCC["reason"]
    amd64 = sorted(glob.glob("/usr/src/linux-headers-*-amd64"),
                   key=lambda p: [int(x) if x.isdigit() else 0
                                  for x in re.findall(r"\d+", p)])
    if not amd64:
        BCC["reason"] = ("no kernel headers in /usr/src (Debian package linux-headers-amd64; "
                         "`make bench` installs it)")
        return BCC["reason"]
    a = amd64[-1]
    c = a[:-len("-amd64")] + "-common"
    try:
        with open(os.path.join(a, "Makefile")) as f:
            m = re.search(r"include\s+(\S+)/Makefile", f.read())
            if m:
                c = m.group(1)
    except OSError:
        pass
    if not os.path.isfile(os.path.join(c, "include", "linux", "kconfig.h")):
        BCC["reason"] = f"{c} is missing (the -common half of {os.path.basename(a)})"
        return BCC["reason"]
    tree = os.path.join(o.workdir, "bcc-kernel-" + os.path.basename(a)[len("linux-headers-"):])
    os.makedirs(os.path.join(tree, "include"))
    os.makedirs(os.path.join(tree, "arch", "x86", "include"))
    for e in os.listdir(os.path.join(c, "include")):
        os.symlink(os.path.join(c, "include", e), os.path.join(tree, "include", e))
    for e in ("generated", "config"):
        os.symlink(os.path.join(a, "include", e), os.path.join(tree, "include", e))
    for e in ("asm", "uapi"):
        os.symlink(os.path.join(c, "arch", "x86", "include", e),
                   os.path.join(tree, "arch", "x86", "include", e))
    os.symlink(os.path.join(a, "arch", "x86", "include", "generated"),
               os.path.join(tree, "arch", "x86", "include", "generated"))
    os.symlink(os.path.join(a, ".config"), os.path.join(tree, ".config"))
    BCC["tree"], BCC["version"] = tree, os.path.basename(a)[len("linux-headers-"):]
    BCC["headers"] = (a, c)
    return None


def check_tcplife(o):
    if not shutil.which("tcplife-bpfcc"):
        return "not installed (Debian package bpfcc-tools; `make bench` installs it)"
    return bcc_headers(o)


def tcplife_note(o):
    if not BCC["tree"]:
        return None
    return (f"tcplife-bpfcc runs with Debian's {BCC['version']} kernel headers on kernel "
            f"{platform.release()} (BCC_KERNEL_SOURCE: {BCC['headers'][0]} and "
            f"{os.path.basename(BCC['headers'][1])} joined by symlinks): the tracepoint's "
            f"fields are right, but its TX_KB/RX_KB read struct tcp_sock at 6.1 offsets and "
            f"are garbage here; its output goes to a file block-buffered (PYTHONUNBUFFERED "
            f"unset), as `tcplife-bpfcc > file` does")


def tcplife_ready(pid, out_path):
    """Attached and polling: bcc opened the tracepoint's perf event, then a
    perf buffer per CPU for each of ipv4_events and ipv6_events (its header
    line sits in stdout's buffer until much later)."""
    return fd_kinds(pid).get("anon_inode:[perf_event]", 0) >= 1 + 2 * os.cpu_count()


BPFTRACE_READY = re.compile(r'"type": "attached_probes"')


def bpftrace_ready(pid, out_path):
    """bpftrace prints "attached_probes" as it starts attaching: wait for the
    line and for the tracepoint's perf event beside the per-CPU perf
    buffers it opened before."""
    k = fd_kinds(pid)
    return (k.get("anon_inode:bpf-prog", 0) >= 1 and
            k.get("anon_inode:[perf_event]", 0) >= 1 + os.cpu_count() and
            file_has_line(out_path, BPFTRACE_READY)())


def tcpship_argv(*extra):
    return lambda o, ctx: [TCPSHIP, *extra, *o.tcpship_args]


CONFIGS = [
    Tracer("load alone", kind="load", bpf=False),
    Tracer("tcpship", argv=tcpship_argv(), ready=TCPSHIP_READY, count=count_tcpship,
           expected=four_per_connection, hooks=HOOKS.get),
    Tracer("floor", kind="floor", argv=lambda o, ctx: [FLOOR], ready=re.compile(r"^floor: ready"),
           count=count_floor, hooks=HOOKS.get),
    # what the kernel shows to BPF at all: sockets whose CLOSE and
    # destruction no program on the hooks sees cannot be shipped by anyone
    Tracer("witness", kind="witness", argv=lambda o, ctx: [WITNESS],
           ready=re.compile(r"^witness: ready"), count=count_witness, bpf=False),
    # tcpship with the witness beside it: each close missing against the
    # ground truth set against the sockets the kernel hid from every program
    # in the same run (the witness costs throughput: not the headline row)
    Tracer("tcpship + witness", argv=tcpship_argv(), ready=TCPSHIP_READY,
           count=count_tcpship_witnessed, expected=four_per_connection, hooks=HOOKS.get,
           witness=True),
    Tracer("tcpship http", argv=lambda o, ctx: [
               TCPSHIP, "-c", tcpship_config(ctx, [http_output(ctx)]), *o.tcpship_args],
           ready=TCPSHIP_READY, count=count_tcpship, expected=four_per_connection,
           collector=True, hooks=HOOKS.get),
    # the same with its queue on disk (the default sync: interval)
    Tracer("tcpship http disk", argv=lambda o, ctx: [
               TCPSHIP, "-c", tcpship_config(ctx, [dict(
                   http_output(ctx), queue={"type": "disk",
                                            "path": os.path.join(ctx["dir"], "queue")})]),
               *o.tcpship_args],
           ready=TCPSHIP_READY, count=count_tcpship, expected=four_per_connection,
           collector=True, hooks=HOOKS.get),
    Tracer("tcpship 3 sinks", argv=lambda o, ctx: [
               TCPSHIP, "-c", tcpship_config(ctx, [
                   {"type": "stdout"},
                   {"type": "file", "path": os.path.join(ctx["dir"], "file-sink.ndjson")},
                   http_output(ctx)]), *o.tcpship_args],
           ready=TCPSHIP_READY, count=count_tcpship, expected=four_per_connection,
           collector=True, hooks=HOOKS.get),
    Tracer("bpftrace", kind="peer", argv=lambda o, ctx: ["bpftrace", "-f", "json", "-e",
                                                         BPFTRACE_PROG],
           ready_on=bpftrace_ready, count=count_bpftrace, expected=bpftrace_expected, check=check_bpftrace,
           hooks=lambda n: "sock:inet_sock_set_state"),
    Tracer("tcplife-bpfcc", kind="peer", argv=lambda o, ctx: ["tcplife-bpfcc"],
           ready_on=tcplife_ready, count=count_tcplife, expected=tcplife_expected,
           env=lambda o: {"BCC_KERNEL_SOURCE": BCC["tree"], "PYTHONUNBUFFERED": None},
           check=check_tcplife, hooks=lambda n: "sock:inet_sock_set_state", note=tcplife_note),
    # not run by default: --configs "tcpship http,tcpship http nogzip" (what
    # gzip costs the http rows)
    Tracer("tcpship http nogzip", argv=lambda o, ctx: [
               TCPSHIP, "-c", tcpship_config(ctx, [dict(http_output(ctx), compression="none")]),
               *o.tcpship_args],
           ready=TCPSHIP_READY, count=count_tcpship, expected=four_per_connection,
           collector=True, hooks=HOOKS.get),
    # not run by default: --configs "load alone,tcpship,tcpship wakeup0"
    # (a wake-up of the reader per event, what tcpship did before batching)
    Tracer("tcpship wakeup0", argv=tcpship_argv("--wakeup-bytes", "0"), ready=TCPSHIP_READY,
           count=count_tcpship, expected=four_per_connection, hooks=HOOKS.get),
]
DEFAULT_CONFIGS = ["load alone", "tcpship", "floor", "witness", "tcpship + witness",
                   "tcpship http", "tcpship http disk", "tcpship 3 sinks",
                   "bpftrace", "tcplife-bpfcc"]
SMOKE_CONFIGS = ["load alone", "tcpship", "floor", "witness"]
PEERS = [c.name for c in CONFIGS if c.kind == "peer"]

# the pingpong section: persistent connections, send/recv events on
PINGPONG_CONFIGS = [
    Tracer("load alone", kind="load", bpf=False),
    Tracer("tcpship -e all", argv=tcpship_argv("-e", "all"), ready=TCPSHIP_READY,
           count=count_tcpship, expected=with_send_recv, hooks=HOOKS.get),
    # send/recv only when the call took >= 1 ms, decided in the kernel
    # before anything is reserved: the connect/accept/close events remain
    Tracer("tcpship -e all --min-latency 1ms",
           argv=tcpship_argv("-e", "all", "--min-latency", "1ms"), ready=TCPSHIP_READY,
           count=count_tcpship, expected=four_per_connection, hooks=HOOKS.get),
]


# the DNS section: stub-resolver round trips to a server on 127.0.0.1:53
# (tests/bench/dnsload.c); tcpship without and with dns events (queries
# and the answers the asking threads read)
def two_per_query(truth):
    return {"dns": 2 * truth["messages_received"]}


DNS_CONFIGS = [
    Tracer("load alone", kind="load", bpf=False),
    Tracer("tcpship -e connect,accept,close", argv=tcpship_argv("-e", "connect,accept,close"),
           ready=TCPSHIP_READY, count=count_tcpship, hooks=HOOKS.get),
    Tracer("tcpship", argv=tcpship_argv(), ready=TCPSHIP_READY, count=count_tcpship,
           expected=two_per_query, hooks=HOOKS.get),
]


# the flow-report section: the pingpong load beside FLOWS_HELD idle
# connections opened once the tracer is ready (tests/bench/flows.py)
FLOWS_HELD = 10000
SETTLE_TIMEOUT = 20
FLOW_CONFIGS = [
    Tracer("load alone", kind="load", bpf=False),
    Tracer("tcpship", argv=tcpship_argv(), ready=TCPSHIP_READY, count=count_tcpship,
           expected=four_per_connection, hooks=HOOKS.get),
    Tracer("tcpship --flow-interval 1s", argv=tcpship_argv("--flow-interval", "1s"),
           ready=TCPSHIP_READY, count=count_tcpship, expected=four_per_connection,
           hooks=HOOKS.get, settle=flows.reported),
]


# ---------------------------------------------------------------- one run

def run_loadgen(o, ph):
    argv = [ph.get("load", LOADGEN), "--mode", ph["mode"], "--workers", str(o.workers),
            "--duration", str(ph["duration"]), *ph["loadgen_args"]]
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=ph["duration"] + LOAD_SLACK)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise RuntimeError("loadgen did not finish in time")
    # on any other way out (Ctrl-C) it stays listed and end_children() ends it
    forget(p)
    lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"loadgen failed (status {p.returncode}): {err.decode().strip()}")
    return json.loads(lines[-1])


def wait_for(pred, p, timeout, interval=0.02):
    """Until pred() (True), the process exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and p.poll() is None:
        if pred():
            return True
        time.sleep(interval)
    return False


def file_has_line(path, regex):
    def pred():
        with open(path, "rb") as f:
            return any(regex.search(line.decode("utf-8", "replace")) for line in f)
    return pred


def wait_exit(p, timeout):
    """wait4() with a deadline: the exit status and the rusage of the whole
    process, drain and flush after the stop included; None if it had to be
    killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return ru
        time.sleep(0.02)
    p.kill()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return None


def last_words(watch, n=3):
    lines = [ln for ln in watch.lines if ln.strip()]
    return " | ".join(lines[-n:]) if lines else "nothing on stderr"


class Collector:
    """The local HTTP collector of the http rows, one per run."""

    def __init__(self, run_dir):
        self.out_path = os.path.join(run_dir, "collector.ndjson")
        self.p = spawn([COLLECTOR, "--out", self.out_path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
        self.watch = StderrWatch(self.p.stderr, re.compile(r"listening on (\S+)"))
        if not self.watch.ready.wait(10) or not self.watch.match:
            self.kill()
            raise TracerFailed(f"the HTTP collector did not start: {last_words(self.watch)}")
        self.url = f"http://{self.watch.match.group(1)}/"
        self.cpu0 = proc_cpu_us(self.p.pid)

    def stop(self):
        """Its counts (it inflates and writes what it kept only now)."""
        res = {"out_path": self.out_path, "cpu_us_load": self.cpu_load}
        self.p.send_signal(signal.SIGTERM)
        ru = wait_exit(self.p, STOP_TIMEOUT)
        forget(self.p)
        self.watch.closed.wait(10)
        for line in self.watch.lines:
            m = re.match(r"^collector: exit: (.*)$", line)
            if m:
                res.update({k: int(v) for k, v in KV_RE.findall(m.group(1))})
        if ru is None or "events" not in res:
            raise TracerFailed(f"the HTTP collector failed at the stop "
                               f"(status {self.p.returncode}): {last_words(self.watch)}")
        return res

    def mark(self):
        """CPU it took while the load ran (receiving, not counting)."""
        self.cpu_load = proc_cpu_us(self.p.pid) - self.cpu0

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        forget(self.p)


class WitnessSidecar:
    """The witness beside a tracer: started before it, stopped after it."""

    def __init__(self):
        self.p = spawn([WITNESS], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.watch = StderrWatch(self.p.stderr, re.compile(r"^witness: ready"))
        if not self.watch.ready.wait(READY_TIMEOUT) or not self.watch.match:
            self.kill()
            raise TracerFailed(f"the witness did not start: {last_words(self.watch)}")

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        ru = wait_exit(self.p, STOP_TIMEOUT)
        forget(self.p)
        self.watch.closed.wait(10)
        if ru is None or not any(ln.startswith("witness: exit:") for ln in self.watch.lines):
            raise TracerFailed(f"the witness failed at the stop (status {self.p.returncode}): "
                               f"{last_words(self.watch)}")
        return list(self.watch.lines)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        forget(self.p)


def hold(ph):
    """The section's idle connections, if it has any."""
    if not ph.get("held"):
        return None
    try:
        return flows.Holder(ph["held"])
    except flows.HolderFailed as e:
        raise TracerFailed(str(e)) from e


def run_one(cfg, o, ph, stats, rep):
    """One run of the workload under cfg; every figure of it as a dict."""
    run = {"config": cfg.name, "rep": rep}
    if cfg.argv is None:
        run["foreign_progs"] = foreign_tracing_progs(set())
        held = hold(ph)
        try:
            run["truth"] = run_loadgen(o, ph)
        finally:
            if held:
                held.stop()
        return run

    run_dir = tempfile.mkdtemp(prefix=re.sub(r"\W+", "-", cfg.name) + "-", dir=o.workdir)
    out_path = os.path.join(run_dir, "stdout")
    run["out_path"] = out_path
    ctx = {"dir": run_dir}
    env = None
    if cfg.env:
        env = dict(os.environ)
        for k, v in cfg.env(o).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
    bpf_on = cfg.bpf and o.bpf_stats and stats.on()
    p = coll = wit = held = None
    try:
        if cfg.witness:
            wit = WitnessSidecar()
        if cfg.collector:
            coll = Collector(run_dir)
            ctx["url"] = coll.url
        with open(out_path, "wb") as out:
            p = spawn(cfg.argv(o, ctx), stdout=out, stderr=subprocess.PIPE, cwd=run_dir,
                      env=env)
        watch = StderrWatch(p.stderr, cfg.ready if cfg.ready_on == "stderr" else None)
        if cfg.ready_on == "stderr":
            ok = watch.ready.wait(READY_TIMEOUT) and watch.match is not None
        elif cfg.ready_on == "stdout":
            ok = wait_for(file_has_line(out_path, cfg.ready), p, READY_TIMEOUT)
        else:
            ok = wait_for(lambda: cfg.ready_on(p.pid, out_path), p, READY_TIMEOUT)
        if not ok:
            if p.poll() is None:
                why = f"not ready within {READY_TIMEOUT} s"
                p.kill()
                p.wait()
            else:
                why = f"exited with status {p.returncode} before it was ready"
            watch.closed.wait(5)
            raise TracerFailed(f"{why}: {last_words(watch)}")
        held = hold(ph)     # after ready: its flows are in the tracer's table
        if held and cfg.settle and not wait_for(lambda: cfg.settle(out_path, held.n), p,
                                                SETTLE_TIMEOUT, interval=0.2):
            raise TracerFailed(f"the held flows were not all reported within "
                               f"{SETTLE_TIMEOUT} s")
        ids = prog_ids_of(p.pid)
        run["no_progs"] = not ids
        run["foreign_progs"] = foreign_tracing_progs(ids | (prog_ids_of(wit.p.pid) if wit
                                                            else set()))
        bpf0 = bpf_snapshot(ids) if bpf_on else None
        cpu0 = proc_cpu_us(p.pid)

        run["truth"] = run_loadgen(o, ph)

        # just before the stop: what the tracer cost while the load ran
        run["cpu_us_ready"] = cpu0
        run["cpu_us"] = proc_cpu_us(p.pid)
        run["vmhwm_kib"] = proc_status_kib(p.pid, "VmHWM")
        # the BPF ring buffer's data pages are mapped twice in a row (a record
        # that wraps reads as one) and the kernel maps them all at mmap()
        # time: 2 x --ringbuf-size of RssFile from the start, before any event
        run["rss_anon_kib"] = proc_status_kib(p.pid, "RssAnon")
        run["rss_file_kib"] = proc_status_kib(p.pid, "RssFile")
        bpf1 = bpf_snapshot(ids) if bpf_on else None
        if coll:
            coll.mark()
        p.send_signal(cfg.stop)
        ru = wait_exit(p, STOP_TIMEOUT)
        forget(p)
        watch.closed.wait(10)
        run["stderr"] = list(watch.lines)
        if ru is None:
            raise TracerFailed(f"did not exit within {STOP_TIMEOUT} s of the stop signal; "
                               f"killed")
        if coll:
            run["collector"] = coll.stop()
        if wit:
            run["witness_stderr"] = wit.stop()
        run["cpu_us_exit"] = (ru.ru_utime + ru.ru_stime) * 1e6
        run["exit_status"] = p.returncode
        if bpf0 is not None and bpf1 is not None:
            run["bpf"] = {}
            for id_, (name, cnt, ns, miss) in bpf1.items():
                _, cnt0, ns0, miss0 = bpf0.get(id_, (name, 0, 0, 0))
                d = run["bpf"].setdefault(name, {"run_cnt": 0, "run_time_ns": 0,
                                                 "recursion_misses": 0})
                d["run_cnt"] += cnt - cnt0
                d["run_time_ns"] += ns - ns0
                d["recursion_misses"] += miss - miss0
        run["out_bytes"] = os.path.getsize(out_path)
        run["counted"] = cfg.count(run) if cfg.count else {}
        return run
    finally:
        if bpf_on:
            stats.restore()
        if p is not None and p.poll() is None and p.returncode is None:
            p.kill()
            p.wait()
        if coll:
            coll.kill()
        if wit:
            wit.kill()
        if held:
            held.stop()
        if not o.keep:
            shutil.rmtree(run_dir, ignore_errors=True)


# ---------------------------------------------------------------- summary

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def unit_of(mode):
    """What a workload is measured in: connections, or round trips for
    pingpong (two connections in all)."""
    if mode == "pingpong":
        return {"name": "round trip", "label": "msg", "rate": "msg_per_s",
                "ops": "messages_received"}
    if mode == "dns":
        return {"name": "query", "label": "query", "rate": "msg_per_s",
                "ops": "messages_received"}
    return {"name": "connection", "label": "conn", "rate": "conn_per_s", "ops": "connections"}


def summarize(cfg, runs, alone_runs, u, failed=None):
    """Medians over the repetitions of one configuration; losses and memory
    from the worst run."""
    s = {"config": cfg.name, "kind": cfg.kind, "reps": len(runs), "unit": u["name"]}
    if failed:
        s["failed"] = failed
    if not runs:
        return s
    s["rate"] = med([r["truth"][u["rate"]] for r in runs])
    s["failed_connects"] = sum(r["truth"]["failed_connects"] for r in runs)
    alone = {a["rep"]: a for a in alone_runs}
    ratios = []
    for r in runs:
        a = alone.get(r["rep"])
        if a and a["truth"][u["rate"]]:
            ratios.append(r["truth"][u["rate"]] / a["truth"][u["rate"]])
    s["ratios"] = ratios
    s["ratio"] = med(ratios)
    if cfg.argv is None:
        return s
    per = []
    for r in runs:
        c, t = r["counted"], r["truth"]
        ops = t[u["ops"]] or 1
        exp = cfg.expected(t) if cfg.expected else None
        cpu = r["cpu_us_exit"] - r["cpu_us_ready"]
        shipped = c.get("shipped")
        x = {
            "shipped": shipped,
            "events_per_s": shipped / t["duration_s"] if shipped is not None else None,
            "workload": sum(c.get("by_port", {}).get(k, 0) for k in exp) if exp else None,
            "expected": sum(exp.values()) if exp else None,
            "lost_reported": c.get("lost_reported"),
            "lost_detail": c.get("lost_detail"),
            "lost_truth": shortfall(exp, c.get("by_port", {})) if exp else None,
            "lost_truth_types": shortfall_by_type(exp, c.get("by_port", {})) if exp else None,
            "missing_pid": shortfall(exp, c["by_pid"]) if exp and "by_pid" in c else None,
            "no_pid": sum(c["no_pid"].get(k, 0) for k in exp) if exp and "no_pid" in c
            else None,
            "cpu_us_per_op": cpu / ops,
            # per event only where there are events to speak of
            "cpu_us_per_event": cpu / shipped if shipped and shipped >= ops / 100 else None,
            "cpu_load_us_per_op": (r["cpu_us"] - r["cpu_us_ready"]) / ops,
            "cpu_drain_ms": (r["cpu_us_exit"] - r["cpu_us"]) / 1000,
            "rss_mib": r["vmhwm_kib"] / 1024 if r.get("vmhwm_kib") else None,
            "rss_anon_mib": r["rss_anon_kib"] / 1024 if r.get("rss_anon_kib") else None,
            "rss_file_mib": r["rss_file_kib"] / 1024 if r.get("rss_file_kib") else None,
            "flow_table_full": c.get("flow_table_full"),
            "missed_runs": c.get("missed_runs"),
            "floor_runs_per_op": c["floor_runs"] / ops if c.get("floor_runs") is not None
            else None,
            "exit_status": r.get("exit_status"),
            "witness_unseen": c.get("witness_unseen"),
            "witness_totals": c.get("witness_totals"),
        }
        if "collector" in r:
            k = r["collector"]
            x["collector_events"] = k.get("events")
            x["collector_cpu_us_per_op"] = k["cpu_us_load"] / ops
            http = [v for n, v in (c.get("sinks") or {}).items() if n.startswith("http")]
            x["http_out"] = http[0].get("out") if http else None
            x["collector_ok"] = (k.get("bad") == 0 and k.get("counted_live") == 0 and
                                 x["http_out"] == k.get("events"))
        if "bpf" in r:
            x["bpf_ns_per_op"] = sum(b["run_time_ns"] for b in r["bpf"].values()) / ops
            x["recursion_misses"] = sum(b["recursion_misses"] for b in r["bpf"].values())
            x["recursion_by_prog"] = {n: b["recursion_misses"] for n, b in r["bpf"].items()
                                      if b["recursion_misses"]}
            x["bpf"] = {n: {"ns_per_run": b["run_time_ns"] / b["run_cnt"] if b["run_cnt"] else 0,
                            "runs_per_op": b["run_cnt"] / ops}
                        for n, b in r["bpf"].items()}
        per.append(x)
    for k in ("shipped", "events_per_s", "workload", "expected", "cpu_us_per_op",
              "cpu_us_per_event", "cpu_load_us_per_op", "cpu_drain_ms", "rss_mib",
              "bpf_ns_per_op", "flow_table_full", "rss_anon_mib", "rss_file_mib",
              "floor_runs_per_op", "collector_cpu_us_per_op"):
        s[k] = med([x.get(k) for x in per])

    def worst(k):
        vals = [x.get(k) for x in per if x.get(k) is not None]
        return max(vals) if vals else None
    for k in ("lost_reported", "lost_truth", "missing_pid", "no_pid", "recursion_misses",
              "missed_runs", "rss_mib"):
        s[k + "_max"] = worst(k)
    w = max(per, key=lambda x: x.get("lost_truth") or 0)
    s["lost_truth_expected"] = w.get("expected")
    s["lost_truth_types"] = w.get("lost_truth_types")
    s["lost_truth_runs"] = [x.get("lost_truth") for x in per]
    s["recursion_by_run"] = [x.get("recursion_by_prog") for x in per if "recursion_by_prog" in x]
    s["missed_runs_by_run"] = [x.get("missed_runs") for x in per]
    wr = max(per, key=lambda x: x.get("lost_reported") or 0)
    s["lost_detail"] = wr.get("lost_detail")
    if any("collector_ok" in x for x in per):
        s["collector_ok"] = all(x.get("collector_ok") for x in per)
        s["collector_vs_out"] = [(x.get("http_out"), x.get("collector_events")) for x in per]
    s["exit_statuses"] = sorted({x["exit_status"] for x in per if x["exit_status"]})
    if any(x.get("witness_unseen") is not None for x in per):
        s["witness_unseen_runs"] = [len(x.get("witness_unseen") or []) for x in per]
        s["witness_unseen"] = [u for x in per for u in x.get("witness_unseen") or []]
        s["witness_totals"] = [x.get("witness_totals") or {} for x in per]
    progs = {}
    for x in per:
        for n, b in x.get("bpf", {}).items():
            progs.setdefault(n, []).append(b)
    s["bpf"] = {n: {"ns_per_run": med([b["ns_per_run"] for b in bs]),
                    "runs_per_op": med([b["runs_per_op"] for b in bs]),
                    "hook": cfg.hooks(n) if cfg.hooks else None}
                for n, bs in sorted(progs.items())}
    s["per_rep"] = per
    return s


def fmt(v, spec="{:,.0f}", none="-"):
    return none if v is None else spec.format(v)


def table(rows, header):
    """Aligned text table: first column left, the rest right. A row of two
    cells is a configuration with a sentence instead of figures."""
    full = [r for r in rows if len(r) == len(header)]
    cells = [header] + full
    w = [max(len(r[i]) for r in cells) for i in range(len(header))]
    w[0] = max([w[0]] + [len(r[0]) for r in rows])
    out = []
    for n, r in enumerate([header] + rows):
        if len(r) != len(header):
            out.append(f"{r[0].ljust(w[0])}  {r[1]}")
        else:
            out.append("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i])
                                 for i, c in enumerate(r)).rstrip())
        if n == 0:
            out.append("  ".join("-" * x for x in w))
    return "\n".join(out)


def lost_truth_cell(s):
    v = s.get("lost_truth_max")
    if v is None:
        return "-"
    if v and s.get("lost_truth_expected"):
        return f"{v:,} ({100.0 * v / s['lost_truth_expected']:.1f}%)"
    return f"{v:,}"


def main_table(sums, u):
    rows = []
    for s in sums:
        if "rate" not in s:
            rows.append([s["config"], f"did not run: {s.get('failed', '?')}"])
            continue
        tr = s["kind"] != "load"
        fl = s["kind"] == "floor"
        rows.append([
            s["config"] + (" (failed later)" if s.get("failed") else ""),
            fmt(s["rate"]),
            fmt(s["ratio"], "{:.2f}"),
            fmt(s.get("workload")) if tr else "-",
            ("none" if fl else fmt(s.get("expected"))) if tr else "-",
            fmt(s.get("lost_reported_max")) if tr else "-",
            lost_truth_cell(s) if tr else "-",
            fmt(s.get("cpu_us_per_op"), "{:.2f}") if tr else "-",
            fmt(s.get("cpu_us_per_event"), "{:.2f}") if tr else "-",
            fmt(s.get("bpf_ns_per_op"), "{:,.0f}") if tr else "-",
            fmt(s.get("rss_mib_max"), "{:.1f} MiB") if tr else "-",
        ])
    op = u["label"]
    return table(rows, ["config", f"{op}/s", "ratio", "events", "expected", "lost rep.",
                        "lost truth", f"CPU us/{op}", "CPU us/ev", f"BPF ns/{op}",
                        "peak RSS"])


def floor_progs(sums):
    """{hook: (program, ns/run, runs/op)} of the floor's programs that ran."""
    out = {}
    for s in sums:
        if s["kind"] != "floor":
            continue
        for n, b in s.get("bpf", {}).items():
            if b["runs_per_op"] >= 0.0001 and b["hook"]:
                out[b["hook"]] = (n, b["ns_per_run"], b["runs_per_op"])
    return out


def bpf_table(sums, u):
    fl = floor_progs(sums)
    rows = []
    for s in sums:
        for n, b in s.get("bpf", {}).items():
            if b["runs_per_op"] < 0.0001:
                continue  # attached, but the workload never ran it
            f = fl.get(b["hook"]) if s["kind"] != "floor" else None
            rows.append([s["config"], n, b["hook"] or "?", fmt(b["ns_per_run"], "{:,.0f}"),
                         fmt(b["runs_per_op"], "{:.2f}"),
                         fmt(b["ns_per_run"] * b["runs_per_op"], "{:,.0f}"),
                         f"{b['ns_per_run'] / f[1]:.1f}x {f[0]}" if f and f[1] else "-"])
    if not rows:
        return None
    op = u["label"]
    return table(rows, ["config", "BPF program", "hook", "ns/run", f"runs/{op}", f"ns/{op}",
                        "ns/run vs floor"])


# ---------------------------------------------------------------- targets

def cost_targets(by, t):
    """Issue 17's: what tcpship costs against the floor in the same run, and
    the sinks' rows."""
    out = []
    main, fl = by.get("tcpship"), by.get("floor")
    if main and fl and main.get("bpf_ns_per_op") and fl.get("bpf_ns_per_op"):
        x = main["bpf_ns_per_op"] / fl["bpf_ns_per_op"]
        out.append(("PASS" if x <= t["bpf_conn_x_floor"] else "MISS", "tcpship",
                    f"BPF ns/conn within {t['bpf_conn_x_floor']:g}x the floor's",
                    f"{main['bpf_ns_per_op']:,.0f} vs {fl['bpf_ns_per_op']:,.0f} ns/conn: {x:.1f}x"))
    else:
        out.append(("SKIP", "tcpship", f"BPF ns/conn within {t['bpf_conn_x_floor']:g}x the floor's",
                    "needs the tcpship and floor rows with BPF figures"))
    if main and fl and main.get("ratio") is not None and fl.get("ratio"):
        x = main["ratio"] / fl["ratio"]
        out.append(("PASS" if x >= t["ratio_of_floor"] else "MISS", "tcpship",
                    f"ratio >= {t['ratio_of_floor']:.2f} of the floor's",
                    f"{main['ratio']:.2f} vs {fl['ratio']:.2f}: {x:.2f}"))
    for name in ("tcpship http", "tcpship 3 sinks"):
        s = by.get(name)
        if not s or s.get("ratio") is None:
            out.append(("SKIP", name, f"ratio >= {t['sink_ratio']:.2f}", "not in this run"))
            continue
        out.append(("PASS" if s["ratio"] >= t["sink_ratio"] else "MISS", name,
                    f"ratio >= {t['sink_ratio']:.2f}", f"ratio {s['ratio']:.2f}"))
    s = by.get("tcpship 3 sinks")
    c = s.get("cpu_us_per_op") if s else None
    out.append(("SKIP", "tcpship 3 sinks", f"tracer CPU <= {t['sink_cpu_us']:g} us/conn",
                "not in this run") if c is None else
               ("PASS" if c <= t["sink_cpu_us"] else "MISS", "tcpship 3 sinks",
                f"tracer CPU <= {t['sink_cpu_us']:g} us/conn", f"{c:.2f} us/conn"))
    return out


def targets(sums, enc, hb, o):
    """(status, subject, target, detail): PASS, MISS (with the gap) or SKIP
    (not measured in this run)."""
    out = []
    by = {s["config"]: s for s in sums}
    ran = [s for s in sums if "rate" in s]
    # the row with the witness beside tcpship only explains the others' losses
    ours = [s for s in ran if s["kind"] == "tcpship" and "witness_unseen_runs" not in s]
    peers = [s for s in sums if s["kind"] == "peer"]
    t = TARGETS

    for s in ours:
        rep, truth = s.get("lost_reported_max"), s.get("lost_truth_max")
        lost = (rep or 0) + (truth or 0)
        out.append(("PASS" if lost == 0 and rep is not None and truth is not None else "MISS",
                    s["config"], "zero lost events at saturation (default events)",
                    f"lost reported {fmt(rep)} ({s.get('lost_detail') or '?'}), against ground "
                    f"truth {lost_truth_cell(s)} of {fmt(s.get('lost_truth_expected'))}" +
                    (" absent: " + ", ".join(f"{k} {v:,}" for k, v in
                                             s["lost_truth_types"].items())
                     if s.get("lost_truth_types") else "") +
                    (f"; per run {s['lost_truth_runs']}" if s.get("reps", 0) > 1 and truth
                     else "") + witness_detail(sums, truth)))
    for s in ours:
        r = s.get("ratio")
        ok = r is not None and r >= t["ratio"]
        detail = f"ratio {fmt(r, '{:.2f}')}"
        if not ok and r is not None:
            detail += f": {t['ratio'] - r:.2f} short of {t['ratio']:.2f}"
        out.append(("PASS" if ok else "MISS", s["config"],
                    f"throughput ratio >= {t['ratio']:.2f}", detail))
    for s in ours:
        r = s.get("ratio")
        ran_peers = [p for p in peers if p.get("ratio") is not None]
        if not ran_peers:
            out.append(("SKIP", s["config"], "ahead of every peer in the same run",
                        "no peer ran: " + ("; ".join(f"{p['config']}: {p.get('failed')}"
                                                      for p in peers) or "none configured")))
            continue
        behind = [p for p in ran_peers if r is None or r <= p["ratio"]]
        detail = ", ".join(f"{p['config']} {p['ratio']:.2f}" for p in ran_peers)
        detail = f"ratio {fmt(r, '{:.2f}')} vs {detail}"
        if behind:
            b = max(behind, key=lambda p: p["ratio"])
            detail += f": behind {b['config']} by {b['ratio'] - (r or 0):.2f}"
        not_run = [p for p in peers if p.get("ratio") is None]
        if not_run:
            detail += "; not compared: " + "; ".join(f"{p['config']} ({p.get('failed')})"
                                                     for p in not_run)
        out.append(("MISS" if behind else "PASS", s["config"],
                    "ahead of every peer in the same run", detail))
    for s in ours:
        c = s.get("cpu_us_per_op")
        ok = c is not None and c <= t["cpu_us"]
        detail = f"{fmt(c, '{:.2f}')} us/conn ({fmt(s.get('cpu_us_per_event'), '{:.2f}')} us/event)"
        if not ok and c is not None:
            detail += f": {c - t['cpu_us']:.2f} us over"
        out.append(("PASS" if ok else "MISS", s["config"],
                    f"tracer CPU <= {t['cpu_us']:g} us/connection", detail))

    # BPF against the floor, per program, matched by hook (the plain
    # `tcpship` row: the others load the same programs)
    main = by.get("tcpship")
    fl = floor_progs(sums)
    if main and "bpf" in main and fl:
        for n, b in main["bpf"].items():
            f = fl.get(b["hook"])
            if b["runs_per_op"] < 0.0001 or not f:
                continue
            x = b["ns_per_run"] / f[1] if f[1] else None
            ok = x is not None and x <= t["bpf_x_floor"]
            detail = (f"{n} {b['ns_per_run']:,.0f} ns/run ({b['runs_per_op']:.2f} runs/conn) vs "
                      f"{f[0]} {f[1]:,.0f} ns/run ({f[2]:.2f} runs/conn) on {b['hook']}: "
                      f"{fmt(x, '{:.1f}')}x")
            if not ok and x is not None:
                detail += (f", {b['ns_per_run'] - t['bpf_x_floor'] * f[1]:,.0f} ns/run over "
                           f"{t['bpf_x_floor']:g}x the floor")
            out.append(("PASS" if ok else "MISS", "tcpship",
                        f"BPF ns/run within {t['bpf_x_floor']:g}x the floor: {n}", detail))
    else:
        why = ("no BPF figures (--no-bpf-stats?)" if main and "bpf" not in main else
               "needs the tcpship and floor rows" + (
                   f" (floor: {by['floor'].get('failed')})" if "floor" in by and
                   by["floor"].get("failed") else ""))
        out.append(("SKIP", "tcpship", f"BPF ns/run within {t['bpf_x_floor']:g}x the floor", why))

    out += cost_targets(by, t)

    if enc:
        e = enc["json"]["encode"]
        worst = min(e.items(), key=lambda kv: kv[1]["ours_events_per_s"])
        v = worst[1]["ours_events_per_s"]
        ok = v >= t["encode_eps"]
        detail = f"slowest record {worst[0]}: {v:,.0f} events/s"
        if not ok:
            detail += f": {t['encode_eps'] - v:,.0f} events/s short"
        out.append(("PASS" if ok else "MISS", "encoder",
                    f">= {t['encode_eps'] / 1e6:g}M events/s on one core", detail))
        r = enc["json"]["reader"]
        batch = max(r.items(), key=lambda kv: int(re.sub(r"\D", "", kv[0]) or 0))
        v = batch[1]["events_per_s"]
        ok = v >= t["e2e_eps"] and batch[1]["lost"] == 0
        detail = (f"{batch[0]} (a busy poll round per publish): {v:,.0f} events/s, "
                  f"{batch[1]['cpu_ns_per_event']:,.0f} ns CPU/event, lost {batch[1]['lost']}")
        if v < t["e2e_eps"]:
            detail += f": {t['e2e_eps'] - v:,.0f} events/s short"
        out.append(("PASS" if ok else "MISS", "end to end",
                    f">= {t['e2e_eps'] / 1e6:g}M events/s, synthetic ring buffer -> file",
                    detail))
    else:
        why = "micro-benchmarks not run" + (" (--smoke)" if o.smoke else "")
        out.append(("SKIP", "encoder", f">= {t['encode_eps'] / 1e6:g}M events/s on one core",
                    why))
        out.append(("SKIP", "end to end",
                    f">= {t['e2e_eps'] / 1e6:g}M events/s, synthetic ring buffer -> file", why))

    disk, http = by.get("tcpship http disk"), by.get("tcpship http")
    if disk and http and disk.get("ratio") is not None and http.get("ratio") is not None:
        gap = http["ratio"] - disk["ratio"]
        ok = gap <= t["disk_ratio_gap"]
        out.append(("PASS" if ok else "MISS", "tcpship http disk",
                    f"ratio within {t['disk_ratio_gap']:.2f} of tcpship http",
                    f"ratio {disk['ratio']:.2f} vs {http['ratio']:.2f} in the same run" +
                    ("" if ok else f": {gap - t['disk_ratio_gap']:.2f} over")))
    else:
        out.append(("SKIP", "tcpship http disk", f"ratio within {t['disk_ratio_gap']:.2f} of "
                    "tcpship http", "needs both rows"))
    dq = enc.get("dq") if enc else None
    if dq:
        r = dq["dqueue"]["interval"]
        ok = r["events_per_cpu_s"] >= t["dq_eps"]
        out.append(("PASS" if ok else "MISS", "disk queue",
                    f">= {t['dq_eps']:,} events/s on one core, lines in -> segments -> read back",
                    f"sync=interval (the default): {r['events_per_cpu_s']:,.0f} events/s per "
                    f"core, {r['events_per_s']:,.0f} wall"))
    else:
        out.append(("SKIP", "disk queue", f">= {t['dq_eps']:,} events/s on one core",
                    (enc or {}).get("dq_err") or "micro-benchmarks not run"))

    three = by.get("tcpship 3 sinks")
    if three and three.get("rss_mib_max") is not None:
        v = three["rss_mib_max"]
        ok = v <= t["rss_mib"]
        detail = (f"peak RSS {v:.1f} MiB ({fmt(three.get('rss_anon_mib'), '{:.1f}')} anon + "
                  f"{fmt(three.get('rss_file_mib'), '{:.1f}')} file-backed at the stop)")
        if not ok:
            detail += f": {v - t['rss_mib']:.1f} MiB over"
        out.append(("PASS" if ok else "MISS", "tcpship 3 sinks",
                    f"peak RSS <= {t['rss_mib']:g} MiB with three sinks", detail))
    else:
        out.append(("SKIP", "tcpship 3 sinks", f"peak RSS <= {t['rss_mib']:g} MiB with three "
                    f"sinks", three.get("failed") if three else "not in this run"))

    if hb:
        r = hb["runs"].get("ndjson+gzip")
        if r:
            ok = r["events_per_s"] >= HTTP_TARGET["events_per_s"] and \
                r["cpu_cores"] < HTTP_TARGET["cpu_cores"]
            out.append(("PASS" if ok else "MISS", "http gzip",
                        f">= {HTTP_TARGET['events_per_s']:,} events/s below "
                        f"{HTTP_TARGET['cpu_cores']:g} core",
                        f"{r['events_per_s']:,.0f} events/s at {r['cpu_cores']:.2f} cores, "
                        f"ratio {r['compression_ratio']:.1f}x"))
    return out


def witness_detail(sums, truth):
    """What the witness runs say of a shortfall: closes the kernel showed to
    no BPF program at all cannot be shipped by any tracer on these hooks."""
    if not truth:
        return ""
    out = ""
    w = [s for s in sums if s["kind"] == "witness" and "witness_unseen_runs" in s]
    if w:
        out += (f"; the witness alone found per run {w[0]['witness_unseen_runs']} sockets of "
                f"the same workload whose CLOSE and destruction the kernel showed to no BPF "
                f"program")
    tw = [s for s in sums if s["kind"] == "tcpship" and "witness_unseen_runs" in s]
    if tw:
        out += (f"; {tw[0]['config']}: closes missing per run {tw[0]['lost_truth_runs']}, "
                f"sockets hidden from every BPF program in the same runs "
                f"{tw[0]['witness_unseen_runs']}")
    return out


def notes(sums, u):
    out = []
    for s in sums:
        if "rate" not in s:
            continue
        n = s["config"]
        if s.get("failed"):
            out.append(f"{n}: failed after {s['reps']} good run(s): {s['failed']}")
        if s.get("no_pid_max"):
            out.append(f"{n}: {s['no_pid_max']:,} events of the workload shipped without a pid "
                       f"(worst run)")
        if (s.get("cpu_drain_ms") or 0) > 50:
            out.append(f"{n}: {s['cpu_drain_ms']:.0f} ms of CPU after the stop (drain, flush "
                       f"and exit), included in CPU us/{u['label']}")
        if s.get("flow_table_full"):
            out.append(f"{n}: flow_table_full={s['flow_table_full']:.0f}")
        if s.get("recursion_misses_max"):
            runs = "; ".join(", ".join(f"{p} {v}" for p, v in d.items()) or "0"
                             for d in s["recursion_by_run"])
            what = {"tcpship": f"tcpship's missed_runs per run: {s['missed_runs_by_run']} "
                               f"(tp_state's misses that tp_state_nested took over are not "
                               f"lost)",
                    "floor": "runs not counted",
                    "peer": "events never made, not reported by the tool"}.get(s["kind"], "")
            out.append(f"{n}: BPF recursion misses per run (the program was already running "
                       f"on that CPU): {runs}; {what}")
        if s.get("floor_runs_per_op") is not None:
            out.append(f"{n}: {s['floor_runs_per_op']:.2f} hook runs/{u['label']} counted in its "
                       f"map (every hook of tcpship's default events)")
        if "witness_unseen_runs" in s:
            seen = "; ".join(f"{u['side']} socket, states seen {u['states'] or '-'}"
                             for u in s["witness_unseen"][:4])
            out.append(f"{n}: sockets of the workload whose CLOSE and destruction the kernel "
                       f"showed to no BPF program, per run: {s['witness_unseen_runs']}"
                       + (f" ({seen}{', ...' if len(s['witness_unseen']) > 4 else ''}; "
                          f"TCP states: 1 ESTABLISHED, 4 FIN_WAIT1)" if seen else "")
                       + "; state changes it saw per run: "
                       + ", ".join(f"{t.get('changes', 0):,}" for t in s["witness_totals"])
                       + "; its own misses per run (state, destroy): "
                       + ", ".join(f"{t.get('state_misses', '?')}/{t.get('destroy_misses', '?')}"
                                   for t in s["witness_totals"])
                       + (f"; tcpship's closes missing against the ground truth in the same "
                          f"runs: {s['lost_truth_runs']}" if s["kind"] == "tcpship" else ""))
        if "collector_ok" in s:
            pairs = ", ".join(f"{a}/{b}" for a, b in s["collector_vs_out"])
            out.append(f"{n}: http sink out / collector count per run: {pairs}"
                       + ("" if s["collector_ok"] else "  (MISMATCH)")
                       + f"; the collector took {fmt(s.get('collector_cpu_us_per_op'), '{:.2f}')}"
                       f" us/{u['label']} of CPU while the load ran")
        if s.get("exit_statuses"):
            out.append(f"{n}: exit status {s['exit_statuses']} at the stop")
        if s["kind"] == "tcpship" and s.get("rss_file_mib") and s["config"] == "tcpship":
            out.append(f"{n}: RSS at the stop {s['rss_anon_mib'] or 0:.1f} MiB anon + "
                       f"{s['rss_file_mib']:.1f} MiB file-backed (mostly the ring buffer, "
                       f"mapped twice)")
    return out


# ---------------------------------------------------------------- encbench

def run_bin(argv, timeout):
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        forget(p)
        return None, None, f"{os.path.basename(argv[0])} timed out"
    forget(p)
    text = out.decode()
    js = [ln for ln in text.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not js:
        return None, None, (f"{os.path.basename(argv[0])} failed ({p.returncode}): "
                            f"{err.decode().strip()}")
    return text, json.loads(js[-1]), None


def run_encbench(o):
    text, js, err = run_bin([ENCBENCH] + (["--quick"] if o.quick else []), 300)
    if err:
        return None, err
    _, dq, dq_err = run_bin([DQBENCH] + (["--quick"] if o.quick else []), 300)
    return {"lines": [ln for ln in text.splitlines() if not ln.startswith("{")], "json": js,
            "dq": dq, "dq_err": dq_err}, None


def enc_table(enc):
    rows = []
    for name, e in enc["json"]["encode"].items():
        rows.append([name, fmt(e["ours_events_per_s"]), fmt(e["jsonc_events_per_s"]),
                     fmt(e["speedup"], "{:.1f}x"), str(e["line_bytes"])])
    t1 = table(rows, ["record", "ts_encode_json ev/s", "json-c ev/s", "speedup",
                      "line bytes"])
    rows = []
    for name, r in enc["json"].get("shapes", {}).items():
        rows.append([name, fmt(r["events_per_s"]), fmt(1e9 / r["events_per_s"]),
                     str(r["line_bytes"])])
    t1 += "\n\n" + table(rows, ["shape (connect, accept, 2 closes)", "events/s",
                                 "ns/event", "line bytes"])
    rows = []
    for name, r in enc["json"]["reader"].items():
        rows.append([name, fmt(r["events"]), fmt(r["events_per_s"]),
                     fmt(r["mb_per_s"], "{:,.1f}"), fmt(r["cpu_ns_per_event"]),
                     str(r["lost"])])
    t2 = table(rows, ["reader -> fanout -> stdout file", "events", "events/s", "MB/s",
                      "CPU ns/event", "lost"])
    if not enc.get("dq"):
        return t1 + "\n\n" + t2 + f"\n\ndqbench: {enc.get('dq_err')}"
    rows = []
    for name, r in enc["dq"]["dqueue"].items():
        rows.append([f"sync={name}", fmt(r["events"]), fmt(r["events_per_cpu_s"]),
                     fmt(r["events_per_s"]), fmt(r["mb_per_s"], "{:,.1f}")])
    t3 = table(rows, [f"disk queue ({enc['dq']['line_bytes']}-byte lines, /var/tmp)", "events",
                      "events/s per core", "events/s wall", "MB/s"])
    return t1 + "\n\n" + t2 + "\n\n" + t3


# ---------------------------------------------------------------- httpbench

def run_httpbench(o):
    _, js, err = run_bin([HTTPBENCH, "--kafka", KAFKAMOCK] + (["--quick"] if o.quick else []),
                         600)
    return js, err


def gzip_row(g):
    """zlib against libdeflate on the same request bodies: the sink uses
    whichever is faster for the same ratio."""
    z, d = g["zlib"], g["libdeflate"]
    return (f"gzip of a {g['body_bytes'] / 2**20:.0f} MiB request body of tcpship's lines, "
            f"level {g['level']}: zlib {z['mb_per_s']:,.0f} MB/s ({z['ratio']:.1f}x), "
            f"libdeflate {d['mb_per_s']:,.0f} MB/s ({d['ratio']:.1f}x)")


def http_table(h):
    rows = []
    for name, r in h["runs"].items():
        # the CPU the pipeline would take at the target rate
        at_target = (r["sink_cpu_ns_per_event"] + r["feed_cpu_ns_per_event"]) * \
            HTTP_TARGET["events_per_s"] / 1e9
        rows.append([name, fmt(r["events_per_s"]), fmt(r["cpu_cores"], "{:.2f}"),
                     fmt(r["sink_cpu_ns_per_event"]), fmt(r["feed_cpu_ns_per_event"]),
                     fmt(at_target, "{:.2f}"), fmt(r["compression_ratio"], "{:.1f}x"),
                     fmt(r["requests"])])
    return table(rows, ["sink -> discard server / Kafka mock", "events/s", "cores",
                        "sink ns/event", "encode ns/event",
                        f"cores at {HTTP_TARGET['events_per_s'] // 1000}k/s", "ratio",
                        "requests"])


# ---------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="tcpship benchmark, side by side with bpftrace and bcc's tcplife "
                    "(needs root)")
    ap.add_argument("--duration", type=float, default=None,
                    help="seconds per run (8; --quick 2; --smoke 1)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (3; --quick and "
                    "--smoke 1)")
    ap.add_argument("--pingpong-duration", type=float, default=None,
                    help="seconds per pingpong run (5; --quick 1.5)")
    ap.add_argument("--workers", type=int, default=2, help="loadgen client threads (2)")
    ap.add_argument("--mode", default="conn", choices=["conn", "rr", "pingpong"],
                    help="the main section's workload (conn)")
    ap.add_argument("--quick", action="store_true",
                    help="one short repetition of everything (under a minute)")
    ap.add_argument("--smoke", action="store_true",
                    help="proves the bench works: one 1 s run of load alone, tcpship and "
                         "the floor; no peers, no pingpong, no micro-benchmarks")
    ap.add_argument("--configs", default=None,
                    help="comma-separated names of: " + ", ".join(c.name for c in CONFIGS))
    ap.add_argument("--no-peers", action="store_true", help="leave out " + ", ".join(PEERS))
    ap.add_argument("--no-dns", dest="dns", action="store_false",
                    help="skip the DNS section (queries and answers traced)")
    ap.add_argument("--no-flows", dest="flows", action="store_false",
                    help="skip the flow-report section (--flow-interval with 10k flows)")
    ap.add_argument("--no-pingpong", dest="pingpong", action="store_false",
                    help="skip the pingpong (send/recv) section")
    ap.add_argument("--tcpship-args", default="", help="extra tcpship arguments, one string")
    ap.add_argument("--loadgen-args", default="",
                    help="extra loadgen arguments, one string (e.g. --wait-close)")
    ap.add_argument("--no-encbench", action="store_true", help="skip the micro-benchmarks")
    ap.add_argument("--no-httpbench", action="store_true", help="skip the HTTP output bench")
    ap.add_argument("--no-bpf-stats", dest="bpf_stats", action="store_false",
                    help="leave kernel.bpf_stats_enabled alone (it adds two clock reads "
                         "to every BPF program run)")
    ap.add_argument("--keep", action="store_true", help="keep the tracers' output files")
    ap.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    o = ap.parse_args(argv)
    if o.smoke:
        o.quick = False
        o.pingpong = o.flows = o.dns = False
        o.no_encbench = o.no_httpbench = True
    if o.duration is None:
        o.duration = 1.0 if o.smoke else 2.0 if o.quick else 8.0
    if o.pingpong_duration is None:
        o.pingpong_duration = 1.5 if o.quick else 5.0
    if o.reps is None:
        o.reps = 1 if (o.quick or o.smoke) else 3
    if o.duration <= 0 or o.pingpong_duration <= 0 or o.reps < 1 or o.workers < 1:
        ap.error("--duration, --pingpong-duration, --reps and --workers must be positive")
    o.tcpship_args = shlex.split(o.tcpship_args)
    o.loadgen_args = shlex.split(o.loadgen_args)
    if o.mode == "conn" and not o.loadgen_args:
        # the client waits for the server's FIN, then resets: every
        # connection is accepted before it ends (an immediate RST often
        # lands while the socket still sits in the accept queue, and such
        # a close has no process to name), and no TIME_WAIT piles up
        o.loadgen_args = ["--wait-close"]
    if o.configs is None:
        names = SMOKE_CONFIGS if o.smoke else DEFAULT_CONFIGS
    else:
        names = [n.strip() for n in o.configs.split(",") if n.strip()]
    if o.no_peers:
        names = [n for n in names if n not in PEERS]
    known = {c.name: c for c in CONFIGS}
    bad = [n for n in names if n not in known]
    if bad:
        ap.error(f"unknown configuration {bad[0]!r}; known: {', '.join(known)}")
    if "load alone" not in names:
        names.insert(0, "load alone")  # every ratio needs it
    o.configs = [known[n] for n in names]
    if o.mode == "pingpong":
        o.pingpong = False  # the main section is it
    return o


def preflight(o):
    if os.geteuid() != 0:
        sys.exit("bench: needs root (tcpship loads BPF programs)")
    need = [TCPSHIP, LOADGEN, FLOOR, COLLECTOR]
    need += [] if o.no_encbench else [ENCBENCH, DQBENCH]
    need += [] if o.no_httpbench else [HTTPBENCH, KAFKAMOCK]
    for path in need:
        if not os.access(path, os.X_OK):
            sys.exit(f"bench: {path} is missing: run `make all` first")


def tool_version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, timeout=10)
        return (p.stdout or p.stderr).decode().strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def environment():
    env = {"kernel": platform.release(), "cpus": os.cpu_count(),
           "python": platform.python_version(),
           "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            env["cpu"] = m.group(1) if m else None
    except OSError:
        pass
    try:
        with open("/etc/debian_version") as f:
            env["debian"] = f.read().strip()
    except OSError:
        pass
    env["tcpship"] = tool_version([TCPSHIP, "--version"])
    if shutil.which("bpftrace"):
        env["bpftrace"] = tool_version(["bpftrace", "--version"])
    try:
        p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "bpfcc-tools"],
                           capture_output=True, timeout=10)
        if p.returncode == 0:
            env["bpfcc-tools"] = p.stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return env


def on_term(sig, frame):
    raise SystemExit(128 + sig)


def run_section(ph, o, stats):
    """Interleaved repetitions of a section's configurations; {name: runs}
    and {name: why it could not run}."""
    runs = {c.name: [] for c in ph["configs"]}
    failed = {}
    for c in ph["configs"]:
        why = c.check(o) if c.check else None
        if why:
            failed[c.name] = why
            log(f"  {c.name}: cannot run: {why}")
    u = unit_of(ph["mode"])
    for rep in range(ph["reps"]):
        for cfg in ph["configs"]:
            if cfg.name in failed:
                continue
            try:
                r = run_one(cfg, o, ph, stats, rep)
            except TracerFailed as e:
                failed[cfg.name] = str(e)
                log(f"  rep {rep + 1} {cfg.name:<20} FAILED: {e}")
                continue
            runs[cfg.name].append(r)
            t = r["truth"]
            c = r.get("counted", {})
            extra = ""
            if cfg.kind == "floor":
                extra = f", floor runs {fmt(c.get('floor_runs'))}"
            elif cfg.kind == "witness":
                extra = (f", workload sockets never seen closing "
                         f"{len(c.get('witness_unseen') or [])}")
            elif c:
                exp = cfg.expected(t) if cfg.expected else {}
                extra = (f", shipped {fmt(c.get('shipped'))}, workload "
                         f"{sum(c.get('by_port', {}).get(k, 0) for k in exp):,}/"
                         f"{sum(exp.values()):,}, lost reported {fmt(c.get('lost_reported'))}"
                         f", against truth {shortfall(exp, c.get('by_port', {})):,}")
                if r.get("bpf"):
                    extra += (", BPF recursion misses "
                              f"{sum(b['recursion_misses'] for b in r['bpf'].values())}")
                if r.get("exit_status"):
                    extra += f", exit status {r['exit_status']}"
            log(f"  rep {rep + 1} {cfg.name:<20} {t[u['rate']]:>10,.0f} {u['label']}/s"
                f" ({t['connections']:,} conns, {t['failed_connects']} failed){extra}")
            if r.get("no_progs") and cfg.kind != "load":
                log("    warning: it held no BPF program when it was ready: no per-program "
                    "figures for this run")
            if r.get("foreign_progs"):
                log(f"    warning: other tracing BPF programs are loaded "
                    f"({', '.join(r['foreign_progs'][:6])}): figures are disturbed")
    if not runs["load alone"]:
        raise RuntimeError("no `load alone` run: no ratio can be computed")
    return runs, failed


def print_section(title, ph, runs, failed, o):
    u = unit_of(ph["mode"])
    sums = [summarize(c, runs[c.name], runs["load alone"], u, failed.get(c.name))
            for c in ph["configs"]]
    log("")
    log(title)
    log(main_table(sums, u))
    bt = bpf_table(sums, u)
    if bt:
        log("")
        log(bt)
    ns = notes(sums, u)
    for c in ph["configs"]:
        n = c.note(o) if c.note else None
        if n and (runs[c.name] or c.name in failed):
            ns.append(n)
    if ns:
        log("")
        for n in ns:
            log(f"note  {n}")
    return sums


def print_extra(title, ph, runs, failed, o, tail):
    """A section after the main one, if it ran: its table, then what
    tail(sums) says of it."""
    if runs is None:
        return None
    sums = print_section(title, ph, runs, failed, o)
    text = tail(sums)
    if text:
        log("")
        log(text)
    return sums


def dns_summary(sums):
    """What tracing a query and its answer costs, against the tracer there
    without dns events."""
    by = {s["config"]: s for s in sums}
    a, b = by.get("tcpship -e connect,accept,close"), by.get("tcpship")
    if not a or not b or "rate" not in a or "rate" not in b:
        return None
    return (f"dns events off: ratio {fmt(a['ratio'], '{:.2f}')}, BPF "
            f"{fmt(a.get('bpf_ns_per_op'), '{:,.0f}')} ns/query; on (query + answer): ratio "
            f"{fmt(b['ratio'], '{:.2f}')}, BPF {fmt(b.get('bpf_ns_per_op'), '{:,.0f}')} ns/query,"
            f" tracer CPU {fmt(b.get('cpu_us_per_op'), '{:.2f}')} us/query, "
            f"{fmt(b.get('events_per_s'))} events/s")


def pingpong_summary(sums):
    """send/recv on, then with --min-latency: how the cost drops."""
    by = {s["config"]: s for s in sums}
    a, b = by.get("tcpship -e all"), by.get("tcpship -e all --min-latency 1ms")
    if not a or not b or "rate" not in a or "rate" not in b:
        return None

    def desc(s):
        return (f"ratio {fmt(s['ratio'], '{:.2f}')}, tracer CPU "
                f"{fmt(s.get('cpu_us_per_op'), '{:.2f}')} us/msg, BPF "
                f"{fmt(s.get('bpf_ns_per_op'), '{:,.0f}')} ns/msg, "
                f"{fmt(s.get('events_per_s'))} events/s")
    return (f"send/recv on (-e all): {desc(a)}\n"
            f"with --min-latency 1ms (fast calls dropped in the kernel): {desc(b)}")


def main(argv):
    o = parse_args(argv)
    preflight(o)
    signal.signal(signal.SIGTERM, on_term)
    # started in the background by a shell, SIGINT comes in ignored: make
    # Ctrl-C and `kill -INT` stop the bench (and restore the sysctl) anyway
    signal.signal(signal.SIGINT, signal.default_int_handler)
    o.workdir = tempfile.mkdtemp(prefix="tcpship-bench-", dir="/tmp")
    stats = BpfStats()
    env = environment()
    main_ph = {"mode": o.mode, "duration": o.duration, "reps": o.reps,
               "loadgen_args": o.loadgen_args, "configs": o.configs}
    pp_ph = {"mode": "pingpong", "duration": o.pingpong_duration, "reps": o.reps,
             "loadgen_args": [], "configs": PINGPONG_CONFIGS}
    dns_ph = {"mode": "dns", "duration": o.pingpong_duration, "reps": o.reps,
              "loadgen_args": [], "configs": DNS_CONFIGS, "load": DNSLOAD}
    fl_ph = {"mode": "pingpong", "duration": o.pingpong_duration, "reps": o.reps,
             "loadgen_args": [], "configs": FLOW_CONFIGS, "held": FLOWS_HELD}
    log(f"bench: {env.get('tcpship') or 'tcpship'}, kernel {env['kernel']}, {env['cpus']} CPUs "
        f"({env.get('cpu') or '?'}), Debian {env.get('debian', '?')}, {env['date']}")
    log(f"bench: mode {o.mode}, {o.workers} workers, {o.duration:g} s per run, "
        f"{o.reps} repetition(s), configurations: {', '.join(c.name for c in o.configs)}"
        + (f"; then pingpong {o.pingpong_duration:g} s per run" if o.pingpong else "")
        + (f"; tcpship args: {' '.join(o.tcpship_args)}" if o.tcpship_args else "")
        + (f"; loadgen args: {' '.join(o.loadgen_args)}" if o.loadgen_args else ""))
    t_start = time.monotonic()
    enc = hb = enc_err = hb_err = None
    pp_runs = pp_failed = fl_runs = fl_failed = dns_runs = dns_failed = None
    try:
        runs, failed = run_section(main_ph, o, stats)
        if o.pingpong:
            log(f"bench: pingpong section, {o.pingpong_duration:g} s per run")
            pp_runs, pp_failed = run_section(pp_ph, o, stats)
        if o.dns:
            log(f"bench: DNS section, {o.pingpong_duration:g} s per run")
            dns_runs, dns_failed = run_section(dns_ph, o, stats)
        if o.flows:
            log(f"bench: flow-report section, {FLOWS_HELD:,} idle connections held, "
                f"{o.pingpong_duration:g} s per run")
            fl_runs, fl_failed = run_section(fl_ph, o, stats)
        if not o.no_encbench:
            enc, enc_err = run_encbench(o)
        if not o.no_httpbench:
            hb, hb_err = run_httpbench(o)
    except KeyboardInterrupt:
        log("bench: interrupted")
        return 130
    except RuntimeError as e:
        log(f"bench: {e}")
        return 1
    finally:
        end_children()
        stats.restore()
        if not o.keep:
            shutil.rmtree(o.workdir, ignore_errors=True)
        else:
            log(f"bench: the tracers' output is kept in {o.workdir}")

    u = unit_of(o.mode)
    sums = print_section(
        f"tcpship benchmark: `{o.mode}` workload, {o.workers} client workers, "
        f"{o.duration:g} s x {o.reps} interleaved runs, medians (lost, RSS: worst run); "
        f"kernel {env['kernel']}, {env['cpus']} CPUs, {env['date']}", main_ph, runs, failed, o)
    if any(c.name == "bpftrace" for c in o.configs):
        log(f"note  bpftrace runs: bpftrace -f json -e '{BPFTRACE_PROG}'")
    pp_sums = print_extra(
        f"pingpong: {o.workers} persistent connections, request/response rounds, "
        f"{o.pingpong_duration:g} s x {o.reps} interleaved runs; the unit is a round trip",
        pp_ph, pp_runs, pp_failed, o, pingpong_summary)
    dns_sums = print_extra(
        f"dns: {o.workers} stub resolvers' round trips (sendto, recvfrom) to a server on "
        f"127.0.0.1:53, {o.pingpong_duration:g} s x {o.reps} interleaved runs; the unit is a "
        f"query and its answer", dns_ph, dns_runs, dns_failed, o, dns_summary)
    fl_sums = print_extra(
        f"flow reports: pingpong beside {FLOWS_HELD:,} idle connections opened after the "
        f"tracer was ready, {o.pingpong_duration:g} s x {o.reps} interleaved runs",
        fl_ph, fl_runs, fl_failed, o,
        lambda sums: "\n".join(flows.summary(sums, fl_runs, FLOWS_HELD, med)))
    gz = hb.get("gzip") if hb else None
    if enc or gz:
        log("")
        log("user-space micro-benchmarks (encbench, httpbench's gzip; one core):")
    if enc:
        log(enc_table(enc))
    elif enc_err:
        log(f"bench: {enc_err}")
    if gz:
        log(gzip_row(gz))
    if hb:
        log("")
        log(f"HTTP output (httpbench: {hb['events']:,} synthetic events through the reader "
            f"path into one http sink, {hb['max_events']} per request, to a discard server "
            f"in another process; every event counted on arrival):")
        log(http_table(hb))
    elif hb_err:
        log(f"bench: {hb_err}")
    log("")
    log("targets (issues 6, 12, 17):")
    tg = targets(sums, enc, hb, o)
    for st, name, what, detail in tg:
        log(f"{st}  {name}: {what}  ({detail})")
    log("")
    log("reference figures on this machine (measured by others, their own load):")
    for what, v in REFERENCES:
        log(f"  {what}: {v}")
    log(f"\nbench: done in {time.monotonic() - t_start:.0f} s")

    if o.json:
        for rs in list(runs.values()) + list((pp_runs or {}).values()) + \
                list((fl_runs or {}).values()) + list((dns_runs or {}).values()):
            for r in rs:
                r.pop("out_path", None)
        doc = {"environment": env,
               "options": {"mode": o.mode, "workers": o.workers, "duration_s": o.duration,
                           "reps": o.reps, "pingpong_duration_s": o.pingpong_duration,
                           "tcpship_args": o.tcpship_args, "loadgen_args": o.loadgen_args},
               "bpftrace_program": BPFTRACE_PROG,
               "summary": sums, "runs": runs, "failed": failed,
               "pingpong": {"summary": pp_sums, "runs": pp_runs, "failed": pp_failed}
               if pp_runs is not None else None,
               "dns": {"summary": dns_sums, "runs": dns_runs, "failed": dns_failed}
               if dns_runs is not None else None,
               "flows": {"summary": fl_sums, "runs": fl_runs, "failed": fl_failed}
               if fl_runs is not None else None,
               "targets": [{"status": st, "config": n, "target": w, "detail": d}
                           for st, n, w, d in tg],
               "encbench": enc["json"] if enc else None,
               "httpbench": hb}
        with open(o.json, "w") as f:
            json.dump(doc, f, indent=1)
        log(f"bench: figures written to {o.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
