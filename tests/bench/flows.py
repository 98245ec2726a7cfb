"""The bench's flow-report section (issue 16): what --flow-interval costs
with many live flows. A holder process opens N loopback connections (2N
established sockets, both ends of each) once the tracer is ready, so they
are in its flow table, and keeps them idle while the pingpong load runs;
the configurations differ only in --flow-interval. Imported by bench.py."""
import re
import select
import subprocess
import sys

# N connections to listeners of its own, both ends held (by child processes
# of 4000 connections each); "ready N" once they are all established; all
# closed when stdin closes
HOLDER = r"""
import os, socket, sys
n, per = int(sys.argv[1]), 4000     # 8000 fds a process: under RLIMIT_NOFILE's usual hard limit
quit_r, quit_w = os.pipe()          # a child holds until the parent closes quit_w
ready_r, ready_w = os.pipe()
kids = []
for start in range(0, n, per):
    pid = os.fork()
    if pid == 0:
        os.close(quit_w)
        os.close(ready_r)
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(4096)
        held = []
        for _ in range(min(per, n - start)):
            held.append(socket.create_connection(ls.getsockname()))
            held.append(ls.accept()[0])
        os.write(ready_w, b"x")
        os.read(quit_r, 1)
        os._exit(0)
    kids.append(pid)
os.close(quit_r)
os.close(ready_w)
got = 0
while got < len(kids):
    b = os.read(ready_r, 64)
    if not b:
        sys.exit("a holder process failed")
    got += len(b)
print(f"ready {n}", flush=True)
sys.stdin.read()
os.close(quit_w)
for pid in kids:
    os.waitpid(pid, 0)
"""


class HolderFailed(Exception):
    pass


class Holder:
    """N idle connections, opened now, closed by stop()."""

    def __init__(self, n, timeout=60):
        self.p = subprocess.Popen([sys.executable, "-c", HOLDER, str(n)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        line = self.p.stdout.readline() if ready else ""
        m = re.match(r"ready (\d+)", line or "")
        if not m:
            self.stop()
            raise HolderFailed(f"the flow holder did not start: {line!r} "
                               f"{self.p.stderr.read()[-300:]!r}")
        self.n = int(m.group(1))

    def stop(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
                self.p.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()


def reported(out_path, n):
    """Every held flow (both ends: 2n) has had a report: the first walk that
    found them an interval old is out."""
    with open(out_path, "rb") as f:
        return f.read().count(b'"type":"flow"') >= 2 * n


# the walk's slice with the default 8 MiB ring (shipper/main.c: a quarter
# of the ring in 168-byte reports)
SLICE = (8 << 20) // 4 // 168


def walk_figures(run, held):
    """One run's flow-report figures: walks and reports over the whole run
    (the exit line), and the walk program's BPF time while the load ran;
    its runs are slices, ceil(flows / SLICE) of them a walk."""
    main = (run.get("counted") or {}).get("exit_line") or {}
    b = (run.get("bpf") or {}).get("rt_flow_walk")
    per_walk = -(-(2 * held + 4) // SLICE)
    walks_load = b["run_cnt"] / per_walk if b else None
    return {"walks": main.get("flow_walks", 0), "reports": main.get("flow", 0),
            "failed": main.get("flow_walks_failed", 0),
            "lost": main.get("lost_kernel_flow", 0),
            "walk_ns": b["run_time_ns"] / walks_load if b and walks_load else None}


def summary(sums, runs, held, med):
    """Lines saying what the reports cost, against the same load traced
    without them."""
    by = {s["config"]: s for s in sums}
    a, b = by.get("tcpship"), by.get("tcpship --flow-interval 1s")
    if not a or not b or "rate" not in a or "rate" not in b:
        return []
    figs = [walk_figures(r, held) for r in runs.get("tcpship --flow-interval 1s", [])]
    walks = med([f["walks"] for f in figs])
    reports = med([f["reports"] for f in figs])
    per_walk = med([f["reports"] / f["walks"] for f in figs if f["walks"]])
    ns_walk = med([f["walk_ns"] for f in figs])
    ns_rep = ns_walk / (2 * held) if ns_walk else None
    cpu = [(s.get("cpu_us_per_op") or 0) * s["rate"] / 1e6 for s in (a, b)]

    def f(v, spec="{:,.0f}"):
        return "-" if v is None else spec.format(v)
    return [
        f"{held:,} idle connections held ({2 * held:,} flows), pingpong load beside them:",
        f"  without reports: ratio {f(a['ratio'], '{:.2f}')}, tracer CPU "
        f"{f(cpu[0] * 100, '{:.1f}')}% of a core",
        f"  --flow-interval 1s: ratio {f(b['ratio'], '{:.2f}')}, tracer CPU "
        f"{f(cpu[1] * 100, '{:.1f}')}% of a core; {f(walks)} walks, {f(reports)} reports "
        f"({f(per_walk)} a walk; each run's whole life), lost {max((x['lost'] for x in figs), default=0)}, "
        f"failed walks {max((x['failed'] for x in figs), default=0)}",
        f"  a walk: {f(ns_walk / 1e6 if ns_walk else None, '{:.2f}')} ms of BPF time "
        f"({f(ns_rep)} ns a report), run from tcpship's reader, not charged to the workload",
    ]
