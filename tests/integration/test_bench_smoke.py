"""`make bench` works: bench.py --smoke (one 1 s run of the load alone,
tcpship, the floor and the witness; no peers, no pingpong, no
micro-benchmarks) prints the table, a tcpship row with a ratio and its
losses counted against the load generator's ground truth, the witness's
count of the workload's sockets whose close the kernel showed to no BPF
program, and puts kernel.bpf_stats_enabled back. It proves the benchmark
runs; it does not gate on speed (CI machines are too noisy), nor on those
few closes the kernel hides from every BPF program under saturation (~1 per
500k connections, see the README), which a 1 s run meets now and then."""
import os
import re
import subprocess
import sys

from tslib import ROOT, Skip, require_root

BENCH = os.path.join(ROOT, "tests", "bench", "bench.py")
BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled"


def read_stats():
    with open(BPF_STATS) as f:
        return f.read().strip()


def test_bench_smoke():
    require_root()
    for b in ("loadgen", "floor", "witness", "collector"):
        if not os.access(os.path.join(ROOT, ".output", "bench", b), os.X_OK):
            raise Skip(f".output/bench/{b} is missing: run make")
    before = read_stats()
    try:
        p = subprocess.run([sys.executable, BENCH, "--smoke"], capture_output=True, text=True,
                           timeout=60, cwd=ROOT)
    finally:
        after = read_stats()
        if after != before:  # put it back for the tests that follow, then fail
            with open(BPF_STATS, "w") as f:
                f.write(before)
    out = p.stdout
    assert p.returncode == 0, f"exit {p.returncode}: {out[-1500:]} {p.stderr[-1500:]}"
    assert after == before, f"kernel.bpf_stats_enabled left at {after} (was {before})"

    head = [l for l in out.splitlines() if l.startswith("config ") and "ratio" in l]
    assert head, f"no table: {out[-2000:]}"
    cols = head[0].split()
    rows = {}
    for l in out.splitlines():
        m = re.match(r"^(load alone|tcpship|floor|witness)\s+(\d[\d,]*)\s+(\d+\.\d\d)\s", l)
        if m:
            rows.setdefault(m.group(1), l.split())
    assert set(rows) == {"load alone", "tcpship", "floor", "witness"}, \
        f"rows {sorted(rows)}: {out[-2000:]}"

    ts = rows["tcpship"]
    # config conn/s ratio events expected lost-rep lost-truth ...
    assert cols[:7] == ["config", "conn/s", "ratio", "events", "expected", "lost",
                        "rep."], cols
    ratio = float(ts[2])
    assert 0 < ratio < 2, ts
    events, expected = int(ts[3].replace(",", "")), int(ts[4].replace(",", ""))
    assert expected > 0 and events >= expected - 5, f"tcpship shipped {events} of {expected}: {ts}"
    # nothing lost that tcpship reports; against the ground truth, at most
    # the closes the kernel hides from BPF under saturation (a few per million)
    assert ts[5] == "0", f"tcpship reported losses: {ts}"
    assert int(ts[6].split()[0].replace(",", "")) <= 5, f"lost against ground truth: {ts}"

    # every target of issue 6 is printed, each PASS, MISS or SKIP
    tg = [l for l in out.splitlines() if re.match(r"^(PASS|MISS|SKIP)  ", l)]
    for what in ("zero lost events", "throughput ratio", "tracer CPU", "the floor",
                 "encoder", "end to end", "three sinks"):
        assert any(what in l for l in tg), f"target {what!r} not printed: {tg}"
    # the floor row has its per-program figures beside tcpship's
    assert re.search(r"^tcpship\s+tp_state\s.*x floor_state", out, re.M), out[-2000:]

    # the witness saw the workload's state changes and says how many of its
    # sockets closed unseen by any BPF program
    m = re.search(r"^note  witness: sockets of the workload whose CLOSE and destruction the "
                  r"kernel showed to no BPF program, per run: \[(\d+)\].*state changes it saw "
                  r"per run: ([\d,]+);", out, re.M)
    assert m, f"no witness note: {out[-2000:]}"
    assert int(m.group(1)) <= 5, m.group(0)
    assert int(m.group(2).replace(",", "")) >= 4 * int(rows["witness"][1].replace(",", "")) // 2, \
        f"the witness saw too few state changes for the connections made: {m.group(0)}"
