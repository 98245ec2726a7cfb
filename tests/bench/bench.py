#!/usr/bin/python3
"""tcpship's benchmark: what tracing costs a connection-heavy workload.

Runs the loopback load generator (.output/bench/loadgen) alone and under
each tracer configuration, interleaved (A B A B ...) so that drift of the
machine hits every configuration alike, and reports medians:

  conn/s        connections per second the workload made (median)
  ratio         per repetition, conn/s under the tracer / conn/s of the
                adjacent `load alone` run; median of those
  events/s      events the tracer shipped, per second of load
  lost k+u      lost as the tracer itself reports them (kernel + user space)
  missing       expected events (ground truth from loadgen: 4 per connection,
                connect + accept + 2 close) minus the lines carrying the
                loadgen's pid
  no-pid        lines of the workload's connections (matched by the server
                port) that carry no pid: shipped, but not attributable
  absent        expected events not shipped at all, with or without a pid
                (worst run); the kernel's BPF recursion misses are printed
                beside it, as nothing in the tracer can count those
  CPU us/conn   utime + stime of the tracer process (all threads) read from
                /proc/PID/stat just before it is stopped (start-up
                included), per connection; the JSON also has the load window
                alone and the total at exit (drain and flush included)
  BPF ns/conn   run_time_ns of the tracer's BPF programs over the load, per
                connection (this time is charged to the workload, not to the
                tracer process); per program ns/run and runs/conn follow
  peak RSS      VmHWM of the tracer just before it is stopped

With --mode pingpong the unit is a round trip (msg/s, us/msg) instead of a
connection: the two connections stay open and only messages flow.

Then the user-space micro-benchmarks (.output/bench/encbench), and the HTTP
output's throughput to a local discard server, plain and gzip, with the
compression ratio and the CPU it takes (.output/bench/httpbench; target:
>= 300k events/s with gzip while CPU stays below one core).

More configurations: add one Tracer(...) to CONFIGS below: a name, the
command (None: no tracer), how to tell it is ready, how to count what it
shipped, and how many events the workload should give it.

Usage: bench.py [--duration S] [--reps N] [--workers N] [--mode M] [--quick]
                [--configs a,b] [--tcpship-args "ARGS"] [--loadgen-args "ARGS"]
                [--json FILE]

The expected event count assumes tcpship's default events (connect, accept,
close, ...): with --tcpship-args "-e ..." the `missing` column means little.
"""
import argparse
import json
import os
import platform
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TCPSHIP = os.path.join(ROOT, "tcpship")
LOADGEN = os.path.join(ROOT, ".output", "bench", "loadgen")
ENCBENCH = os.path.join(ROOT, ".output", "bench", "encbench")
HTTPBENCH = os.path.join(ROOT, ".output", "bench", "httpbench")
HTTP_TARGET = {"events_per_s": 300000, "cpu_cores": 1.0}
BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled"
CLK_TCK = os.sysconf("SC_CLK_TCK")

READY_TIMEOUT = 60      # BPF load + verifier; seconds
STOP_TIMEOUT = 60       # tcpship flushes with a 5 s deadline; this is a backstop
LOAD_SLACK = 30         # loadgen may take this long past its duration

TARGETS = {"ratio": 0.75, "rss_mib": 40.0}
REFERENCES = [
    ("load alone, 2 workers", "~68k conn/s"),
    ("bpftrace", "ratio 0.49"),
    ("bcc tcplife", "ratio 0.59"),
    ("libbpf-tools tcplife", "ratio 0.55, 7.8 us tracer CPU/conn"),
]


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- children

_children = []  # Popen objects still to be ended on the way out


def spawn(argv, **kw):
    p = subprocess.Popen(argv, **kw)
    _children.append(p)
    return p


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
        self.ready = threading.Event()
        self.closed = threading.Event()
        self.t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.t.start()

    def _run(self, stream):
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if self.ready_re and self.ready_re.search(line):
                self.ready.set()
        self.closed.set()
        self.ready.set()  # wake a waiter: the process is gone

    def text(self):
        return "\n".join(self.lines)


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
    never reaches the ring buffer, so no counter of the tracer's sees it."""
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
    """The exit line as {key: n}, the sinks' counters as {sink: {key: n}}."""
    for line in reversed(stderr_lines):
        m = EXIT_RE.match(line)
        if not m:
            continue
        parts = m.group(1).split(" | ")
        main = {k: int(v) for k, v in KV_RE.findall(parts[0])}
        sinks = {}
        for p in parts[1:]:
            name, _, rest = p.partition(":")
            sinks[name.strip()] = {k: int(v) for k, v in KV_RE.findall(rest)}
        return main, sinks
    return None, None


def scan_ndjson(path, pid, port):
    """Counts the lines of the workload per type: those with the loadgen's
    pid, and every line of its connections (matched by the server port,
    with or without a pid)."""
    pid_key = f'"pid":{pid},'.encode()
    port_keys = (f'"sport":{port},'.encode(), f'"dport":{port},'.encode())
    by_pid, by_port, no_pid = {}, {}, {}

    def add(d, t):
        d[t] = d.get(t, 0) + 1

    with open(path, "rb") as f:
        for line in f:
            mine = pid_key in line
            ours = port_keys[0] in line or port_keys[1] in line
            if not mine and not ours:
                continue
            # `{"time":"<30 chars>","type":"` is 49 bytes: the type follows
            t = line[49:line.find(b'"', 49)].decode("ascii", "replace")
            if mine:
                add(by_pid, t)
            if ours:
                add(by_port, t)
                if b'"pid":' not in line:
                    add(no_pid, t)
    return {"by_pid": by_pid, "by_port": by_port, "no_pid": no_pid}


def shortfall(expected, got):
    """Events expected but not seen, summed over the expected types (extra
    events of other types, e.g. a loopback retransmit, hide nothing)."""
    return sum(max(0, n - got.get(t, 0)) for t, n in expected.items())


def count_tcpship(run):
    """What tcpship shipped and lost, and the lines that belong to the load."""
    main, sinks = parse_tcpship_exit(run["stderr"])
    res = {"exit_line": main, "sinks": sinks}
    if main is not None:
        shipped = sum(s.get("out", 0) for s in sinks.values())
        user = main.get("malformed", 0) + main.get("nomem", 0)
        # hook runs the kernel skipped (recursion): tcpship counts them
        res["missed_runs"] = main.get("missed_runs", 0)
        for s in sinks.values():
            user += s.get("dropped_full", 0) + s.get("dropped_error", 0) + \
                s.get("dropped_exit", 0)
        res.update(events_total=main.get("events"), shipped=shipped,
                   lost_kernel=main.get("lost_kernel", 0), lost_user=user,
                   flow_table_full=main.get("flow_table_full", 0))
    truth = run["truth"]
    res.update(scan_ndjson(run["out_path"], truth["pid"], truth["port"]))
    return res


# ---------------------------------------------------------------- configs

class Tracer:
    """One configuration of the benchmark.

    name:     label in the table
    argv:     fn(opts) -> the command to start, or None for `load alone`
    ready:    regex a line matches once the tracer is attached
    ready_on: "stderr" (default) or "stdout" (the line is looked for in the
              output file, e.g. bpftrace's "Attaching N probes...")
    count:    fn(run) -> dict with at least shipped, lost_kernel, lost_user
              (None if it cannot tell), and by_pid, by_port, no_pid: lines
              per event type, with the pid / of the workload's connections /
              of those without a pid
    expected: fn(truth) -> {event type: count} the workload should give it
    bpf:      collect per-program BPF run time (kernel.bpf_stats_enabled)
    stop:     the signal that stops it cleanly
    """

    def __init__(self, name, argv=None, ready=None, ready_on="stderr", count=None,
                 expected=None, bpf=False, stop=signal.SIGINT):
        self.name, self.argv, self.ready, self.ready_on = name, argv, ready, ready_on
        self.count, self.expected, self.bpf, self.stop = count, expected, bpf, stop


def four_per_opection(truth):
    n = truth["connections"]
    return {"connect": n, "accept": n, "close": 2 * n}


TCPSHIP_READY = re.compile(r"^tcpship: ready")

CONFIGS = [
    Tracer("load alone"),
    Tracer("tcpship",
           argv=lambda o: [TCPSHIP, *o.tcpship_args],
           ready=TCPSHIP_READY, count=count_tcpship, expected=four_per_opection,
           bpf=True),
    # not run by default: --configs "load alone,tcpship,tcpship wakeup256k"
    Tracer("tcpship wakeup256k",
           argv=lambda o: [TCPSHIP, "--wakeup-bytes", "256KiB", *o.tcpship_args],
           ready=TCPSHIP_READY, count=count_tcpship, expected=four_per_opection,
           bpf=True),
]
DEFAULT_CONFIGS = ["load alone", "tcpship"]


# ---------------------------------------------------------------- one run

def run_loadgen(o):
    argv = [LOADGEN, "--mode", o.mode, "--workers", str(o.workers),
            "--duration", str(o.duration), *o.loadgen_args]
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=o.duration + LOAD_SLACK)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise RuntimeError("loadgen did not finish in time")
    # on any other way out (Ctrl-C) it stays listed and end_children() ends it
    _children.remove(p)
    lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"loadgen failed (status {p.returncode}): {err.decode().strip()}")
    return json.loads(lines[-1])


def wait_file_line(path, regex, p, timeout):
    """Until a line of the file matches (True), the process exits or the
    deadline passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and p.poll() is None:
        with open(path, "rb") as f:
            for line in f:
                if regex.search(line.decode("utf-8", "replace")):
                    return True
        time.sleep(0.05)
    return False


def wait_exit(p, timeout):
    """wait4() with a deadline: the exit status and the rusage of the whole
    process, drain and flush after the stop included."""
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
    raise RuntimeError(f"tracer did not exit within {timeout}s of the stop signal; killed")


def run_one(cfg, o, stats):
    """One run of the workload under cfg; every figure of it as a dict."""
    run = {"config": cfg.name}
    if cfg.argv is None:
        run["foreign_progs"] = foreign_tracing_progs(set())
        run["truth"] = run_loadgen(o)
        return run

    fd, out_path = tempfile.mkstemp(prefix="tcpship-bench-", suffix=".ndjson", dir="/tmp")
    run["out_path"] = out_path
    bpf_on = cfg.bpf and o.bpf_stats and stats.on()
    p = None
    try:
        with os.fdopen(fd, "wb") as out:
            p = spawn(cfg.argv(o), stdout=out, stderr=subprocess.PIPE, cwd=ROOT)
        watch = StderrWatch(p.stderr, cfg.ready if cfg.ready_on == "stderr" else None)
        if cfg.ready_on == "stderr":
            ok = watch.ready.wait(READY_TIMEOUT) and not watch.closed.is_set()
        else:
            ok = wait_file_line(out_path, cfg.ready, p, READY_TIMEOUT)
        if not ok:
            raise RuntimeError(f"{cfg.name} not ready within {READY_TIMEOUT}s:\n"
                               f"{watch.text()[-2000:]}")
        ids = prog_ids_of(p.pid)
        run["foreign_progs"] = foreign_tracing_progs(ids)
        bpf0 = bpf_snapshot(ids) if bpf_on else None
        cpu0 = proc_cpu_us(p.pid)

        run["truth"] = run_loadgen(o)

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
        p.send_signal(cfg.stop)
        ru = wait_exit(p, STOP_TIMEOUT)
        _children.remove(p)
        watch.closed.wait(10)
        run["cpu_us_exit"] = (ru.ru_utime + ru.ru_stime) * 1e6
        run["exit_status"] = p.returncode
        run["stderr"] = list(watch.lines)
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
        if not o.keep:
            try:
                os.unlink(out_path)
            except OSError:
                pass


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
    return {"name": "connection", "label": "conn", "rate": "conn_per_s", "ops": "connections"}


def summarize(cfg, runs, alone_runs, u):
    """Medians over the repetitions of one configuration."""
    s = {"config": cfg.name, "reps": len(runs)}
    s["unit"] = u["name"]
    s["rate"] = med([r["truth"][u["rate"]] for r in runs])
    s["failed_connects"] = sum(r["truth"]["failed_connects"] for r in runs)
    ratios = []
    for r, a in zip(runs, alone_runs):
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
        x = {
            "events_per_s": (c.get("shipped") or 0) / t["duration_s"],
            "lost_reported": (c.get("lost_kernel") or 0) + (c.get("lost_user") or 0),
            "lost_kernel": c.get("lost_kernel"),
            "lost_user": c.get("lost_user"),
            "expected": sum(exp.values()) if exp else None,
            "missing_pid": shortfall(exp, c["by_pid"]) if exp else None,
            "missing_any": shortfall(exp, c["by_port"]) if exp else None,
            "no_pid": sum(c["no_pid"].get(t, 0) for t in exp) if exp else None,
            "cpu_us_per_op": r["cpu_us"] / ops,
            "cpu_load_us_per_op": (r["cpu_us"] - r["cpu_us_ready"]) / ops,
            "cpu_exit_us_per_op": r["cpu_us_exit"] / ops,
            "cpu_drain_ms": (r["cpu_us_exit"] - r["cpu_us"]) / 1000,
            "rss_mib": r["vmhwm_kib"] / 1024 if r.get("vmhwm_kib") else None,
            "rss_anon_mib": r["rss_anon_kib"] / 1024 if r.get("rss_anon_kib") else None,
            "rss_file_mib": r["rss_file_kib"] / 1024 if r.get("rss_file_kib") else None,
            "flow_table_full": c.get("flow_table_full"),
        }
        if "bpf" in r:
            x["bpf_ns_per_op"] = sum(b["run_time_ns"] for b in r["bpf"].values()) / ops
            x["recursion_misses"] = sum(b["recursion_misses"] for b in r["bpf"].values())
            x["bpf"] = {n: {"ns_per_run": b["run_time_ns"] / b["run_cnt"] if b["run_cnt"] else 0,
                            "runs_per_op": b["run_cnt"] / ops}
                        for n, b in r["bpf"].items()}
        per.append(x)
    for k in ("events_per_s", "lost_reported", "lost_kernel", "lost_user", "expected",
              "missing_pid", "missing_any", "no_pid", "cpu_us_per_op",
              "cpu_load_us_per_op", "cpu_exit_us_per_op", "cpu_drain_ms", "rss_mib",
              "bpf_ns_per_op", "flow_table_full", "rss_anon_mib", "rss_file_mib"):
        s[k] = med([x.get(k) for x in per])
    # losses and memory: the worst run is the figure that matters
    s["lost_reported_max"] = max((x["lost_reported"] for x in per), default=None)
    worst = max(per, key=lambda x: x["missing_pid"] or 0) if per else {}
    s["missing_pid_max"] = worst.get("missing_pid")
    s["missing_any_worst"] = max((x["missing_any"] or 0 for x in per), default=None)
    s["no_pid_worst"] = worst.get("no_pid")
    s["recursion_misses_max"] = max((x.get("recursion_misses") or 0 for x in per),
                                    default=None)
    s["rss_mib_max"] = max((x["rss_mib"] or 0 for x in per), default=None)
    progs = {}
    for x in per:
        for n, b in x.get("bpf", {}).items():
            progs.setdefault(n, []).append(b)
    s["bpf"] = {n: {"ns_per_run": med([b["ns_per_run"] for b in bs]),
                    "runs_per_op": med([b["runs_per_op"] for b in bs])}
                for n, bs in sorted(progs.items())}
    s["per_rep"] = per
    return s


def fmt(v, spec="{:,.0f}", none="-"):
    return none if v is None else spec.format(v)


def table(rows, header):
    """Aligned text table: first column left, the rest right."""
    cells = [header] + rows
    w = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = []
    for n, r in enumerate(cells):
        out.append("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i])
                             for i, c in enumerate(r)).rstrip())
        if n == 0:
            out.append("  ".join("-" * x for x in w))
    return "\n".join(out)


def main_table(sums, u):
    rows = []
    for s in sums:
        tr = "events_per_s" in s
        rows.append([
            s["config"],
            fmt(s["rate"]),
            fmt(s["ratio"], "{:.2f}"),
            fmt(s.get("events_per_s")) if tr else "-",
            fmt(s.get("lost_reported_max")) if tr else "-",
            fmt(s.get("missing_pid_max")) if tr else "-",
            fmt(s.get("no_pid_worst")) if tr else "-",
            fmt(s.get("missing_any_worst")) if tr else "-",
            fmt(s.get("cpu_us_per_op"), "{:.2f}") if tr else "-",
            fmt(s.get("bpf_ns_per_op"), "{:,.0f}") if tr else "-",
            fmt(s.get("rss_mib_max"), "{:.1f} MiB") if tr else "-",
        ])
    op = u["label"]
    return table(rows, ["config", f"{op}/s", "ratio", "events/s", "lost k+u", "missing",
                        "no-pid", "absent", f"CPU us/{op}", f"BPF ns/{op}", "peak RSS"])


def bpf_table(sums, u):
    rows = []
    for s in sums:
        for n, b in s.get("bpf", {}).items():
            if b["runs_per_op"] < 0.0001:
                continue  # attached, but the workload never ran it
            rows.append([s["config"], n, fmt(b["ns_per_run"], "{:,.0f}"),
                         fmt(b["runs_per_op"], "{:.2f}"),
                         fmt(b["ns_per_run"] * b["runs_per_op"], "{:,.0f}")])
    if not rows:
        return None
    op = u["label"]
    return table(rows, ["config", "BPF program", "ns/run", f"runs/{op}", f"ns/{op}"])


def targets(sums):
    out = []
    for s in sums:
        if "events_per_s" not in s:
            continue
        lost = (s["lost_reported_max"] or 0) + max(s["missing_pid_max"] or 0, 0)
        out.append((s["config"], "zero lost events", lost == 0,
                    f"lost k+u {s['lost_reported_max']}, missing vs truth {s['missing_pid_max']}:"
                    f" shipped without pid {fmt(s.get('no_pid_worst'))},"
                    f" absent {fmt(s.get('missing_any_worst'))}"))
        out.append((s["config"], f"throughput ratio >= {TARGETS['ratio']}",
                    s["ratio"] is not None and s["ratio"] >= TARGETS["ratio"],
                    f"ratio {fmt(s['ratio'], '{:.2f}')}"))
        out.append((s["config"], f"peak RSS <= {TARGETS['rss_mib']:.0f} MiB",
                    s["rss_mib_max"] is not None and s["rss_mib_max"] <= TARGETS["rss_mib"],
                    f"peak RSS {fmt(s['rss_mib_max'], '{:.1f}')} MiB"))
    return out


# ---------------------------------------------------------------- encbench

def run_encbench(o):
    argv = [ENCBENCH] + (["--quick"] if o.quick else [])
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return None, "encbench timed out"
    _children.remove(p)
    text = out.decode()
    lines = [ln for ln in text.splitlines() if not ln.startswith("{")]
    js = [ln for ln in text.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not js:
        return None, f"encbench failed ({p.returncode}): {err.decode().strip()}"
    return {"lines": lines, "json": json.loads(js[-1])}, None


def enc_table(enc):
    rows = []
    for name, e in enc["json"]["encode"].items():
        rows.append([name, fmt(e["ours_events_per_s"]), fmt(e["jsonc_events_per_s"]),
                     fmt(e["speedup"], "{:.1f}x"), str(e["line_bytes"])])
    t1 = table(rows, ["record", "ts_encode_json ev/s", "json-c ev/s", "speedup",
                      "line bytes"])
    rows = []
    for name, r in enc["json"]["reader"].items():
        rows.append([name, fmt(r["events"]), fmt(r["events_per_s"]),
                     fmt(r["mb_per_s"], "{:,.1f}"), fmt(r["cpu_ns_per_event"]),
                     str(r["lost"])])
    t2 = table(rows, ["reader -> fanout -> stdout file", "events", "events/s", "MB/s",
                      "CPU ns/event", "lost"])
    return t1 + "\n\n" + t2


# ---------------------------------------------------------------- httpbench

def run_httpbench(o):
    argv = [HTTPBENCH] + (["--quick"] if o.quick else [])
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return None, "httpbench timed out"
    _children.remove(p)
    js = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not js:
        return None, f"httpbench failed ({p.returncode}): {err.decode().strip()}"
    return json.loads(js[-1]), None


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
    return table(rows, ["http sink -> discard server", "events/s", "cores",
                        "sink ns/event", "encode ns/event",
                        f"cores at {HTTP_TARGET['events_per_s'] // 1000}k/s", "ratio",
                        "requests"])


def http_targets(h):
    r = h["runs"].get("ndjson+gzip")
    if not r:
        return []
    ok = r["events_per_s"] >= HTTP_TARGET["events_per_s"] and \
        r["cpu_cores"] < HTTP_TARGET["cpu_cores"]
    return [("http gzip", f">= {HTTP_TARGET['events_per_s']:,} events/s below "
             f"{HTTP_TARGET['cpu_cores']:g} core", ok,
             f"{r['events_per_s']:,.0f} events/s at {r['cpu_cores']:.2f} cores, "
             f"ratio {r['compression_ratio']:.1f}x")]


# ---------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(description="tcpship benchmark (needs root)")
    ap.add_argument("--duration", type=float, default=None, help="seconds per run (8)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (3)")
    ap.add_argument("--workers", type=int, default=2, help="loadgen client threads (2)")
    ap.add_argument("--mode", default="conn", choices=["conn", "rr", "pingpong"])
    ap.add_argument("--quick", action="store_true", help="short runs: a smoke test")
    ap.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                    help="comma-separated names of: " + ", ".join(c.name for c in CONFIGS))
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
    if o.duration is None:
        o.duration = 2.0 if o.quick else 8.0
    if o.reps is None:
        o.reps = 2 if o.quick else 3
    if o.duration <= 0 or o.reps < 1 or o.workers < 1:
        ap.error("--duration, --reps and --workers must be positive")
    o.tcpship_args = shlex.split(o.tcpship_args)
    o.loadgen_args = shlex.split(o.loadgen_args)
    if o.mode == "conn" and not o.loadgen_args:
        # the client waits for the server's FIN, then resets: every
        # connection is accepted before it ends (an immediate RST often
        # lands while the socket still sits in the accept queue, and such
        # a close has no process to name), and no TIME_WAIT piles up
        o.loadgen_args = ["--wait-close"]
    names = [n.strip() for n in o.configs.split(",") if n.strip()]
    known = {c.name: c for c in CONFIGS}
    bad = [n for n in names if n not in known]
    if bad:
        ap.error(f"unknown configuration {bad[0]!r}; known: {', '.join(known)}")
    if "load alone" not in names:
        names.insert(0, "load alone")  # every ratio needs it
    o.configs = [known[n] for n in names]
    return o


def preflight():
    if os.geteuid() != 0:
        sys.exit("bench: needs root (tcpship loads BPF programs)")
    for path in (TCPSHIP, LOADGEN, ENCBENCH, HTTPBENCH):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench: {path} is missing: run `make all` first")


def environment():
    env = {"kernel": platform.release(), "cpus": os.cpu_count(),
           "python": platform.python_version()}
    try:
        env["tcpship"] = subprocess.run([TCPSHIP, "--version"], capture_output=True,
                                        timeout=10).stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return env


def on_term(sig, frame):
    raise SystemExit(128 + sig)


def main(argv):
    o = parse_args(argv)
    preflight()
    signal.signal(signal.SIGTERM, on_term)
    # started in the background by a shell, SIGINT comes in ignored: make
    # Ctrl-C and `kill -INT` stop the bench (and restore the sysctl) anyway
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stats = BpfStats()
    runs = {c.name: [] for c in o.configs}
    env = environment()
    log(f"bench: mode {o.mode}, {o.workers} workers, {o.duration:g} s per run, "
        f"{o.reps} repetitions, configurations: {', '.join(c.name for c in o.configs)}")
    log(f"bench: {env.get('tcpship', 'tcpship')}, kernel {env['kernel']}, {env['cpus']} CPUs"
        + (f", tcpship args: {' '.join(o.tcpship_args)}" if o.tcpship_args else "")
        + (f", loadgen args: {' '.join(o.loadgen_args)}" if o.loadgen_args else ""))
    t_start = time.monotonic()
    try:
        for rep in range(o.reps):
            for cfg in o.configs:
                r = run_one(cfg, o, stats)
                r["rep"] = rep
                runs[cfg.name].append(r)
                t = r["truth"]
                c = r.get("counted", {})
                extra = ""
                if c:
                    exp = cfg.expected(t) if cfg.expected else {}
                    miss = sum(b["recursion_misses"] for b in r.get("bpf", {}).values())
                    got = sum(c["by_pid"].get(k, 0) for k in exp)
                    extra = (f", shipped {fmt(c.get('shipped'))}, lost k+u "
                             f"{fmt((c.get('lost_kernel') or 0) + (c.get('lost_user') or 0))}"
                             f", pid lines {got:,}/{sum(exp.values()):,}"
                             f", no-pid {sum(c['no_pid'].get(k, 0) for k in exp):,}"
                             f", absent {shortfall(exp, c['by_port']):,}"
                             f", BPF recursion misses {miss}")
                    if r.get("exit_status"):
                        extra += f", exit status {r['exit_status']}"
                rate = f"{t['conn_per_s']:>10,.0f} conn/s"
                if o.mode == "pingpong":
                    rate = f"{t['msg_per_s']:>10,.0f} msg/s"
                log(f"  rep {rep + 1} {cfg.name:<20} {rate}"
                    f" ({t['connections']:,} conns, {t['failed_connects']} failed){extra}")
                if r.get("foreign_progs"):
                    log(f"    warning: other tracing BPF programs are loaded "
                        f"({', '.join(r['foreign_progs'][:6])}): figures are disturbed")
        enc, enc_err = (None, None) if o.no_encbench else run_encbench(o)
        hb, hb_err = (None, None) if o.no_httpbench else run_httpbench(o)
    except KeyboardInterrupt:
        log("bench: interrupted")
        return 130
    except RuntimeError as e:
        log(f"bench: {e}")
        return 1
    finally:
        end_children()
        stats.restore()

    alone = runs["load alone"]
    u = unit_of(o.mode)
    sums = [summarize(c, runs[c.name], alone, u) for c in o.configs]

    log("")
    log(f"tcpship benchmark: `{o.mode}` workload, {o.workers} client workers, "
        f"{o.duration:g} s x {o.reps} interleaved runs, medians "
        f"(lost/missing/RSS: worst run)")
    log(main_table(sums, u))
    bt = bpf_table(sums, u)
    if bt:
        log("")
        log(bt)
    log("")
    tg = targets(sums) + (http_targets(hb) if hb else [])
    for name, what, ok, detail in tg:
        log(f"{'PASS' if ok else 'MISS'}  {name}: {what}  ({detail})")
    for s in sums:
        if (s.get("cpu_drain_ms") or 0) > 50:
            log(f"note  {s['config']}: CPU including the drain after the stop is "
                f"{s['cpu_exit_us_per_op']:.2f} us/{u['label']} (the tracer was behind)")
        if s.get("flow_table_full"):
            log(f"note  {s['config']}: flow_table_full={s['flow_table_full']:.0f}")
        if s.get("recursion_misses_max"):
            log(f"note  {s['config']}: BPF recursion misses {s['recursion_misses_max']} "
                f"(runs the kernel skipped: events never made; tcpship reports them as "
                f"missed_runs)")
        if s.get("rss_file_mib"):
            log(f"note  {s['config']}: RSS at the stop {s['rss_anon_mib'] or 0:.1f} MiB anon + "
                f"{s['rss_file_mib']:.1f} MiB file-backed (mostly the ring buffer, mapped "
                f"twice)")
    log("")
    log("reference figures on this machine (measured by others, their own load):")
    for what, v in REFERENCES:
        log(f"  {what}: {v}")
    if enc:
        log("")
        log("user-space micro-benchmarks (encbench, one core):")
        log(enc_table(enc))
    elif enc_err:
        log(f"bench: {enc_err}")
    if hb:
        log("")
        log(f"HTTP output (httpbench: {hb['events']:,} synthetic events through the reader "
            f"path into one http sink, {hb['max_events']} per request, to a discard server "
            f"in another process; every event counted on arrival):")
        log(http_table(hb))
    elif hb_err:
        log(f"bench: {hb_err}")
    log(f"\nbench: done in {time.monotonic() - t_start:.0f} s")

    if o.json:
        for rs in runs.values():
            for r in rs:
                r.pop("out_path", None)
        doc = {"environment": env,
               "options": {"mode": o.mode, "workers": o.workers, "duration_s": o.duration,
                           "reps": o.reps, "tcpship_args": o.tcpship_args,
                           "loadgen_args": o.loadgen_args},
               "summary": sums, "runs": runs,
               "targets": [{"config": n, "target": w, "pass": ok, "detail": d}
                           for n, w, ok, d in tg],
               "encbench": enc["json"] if enc else None,
               "httpbench": hb}
        with open(o.json, "w") as f:
            json.dump(doc, f, indent=1)
        log(f"bench: figures written to {o.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
