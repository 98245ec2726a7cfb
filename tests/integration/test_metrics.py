"""Prometheus metrics (--metrics-address): Debian's own prometheus scrapes
tcpship on loopback (a private config and data folder), and what it stored
must equal the ground truth: the file output's lines, the trigger programs'
connects. promtool checks the exposition text."""
import json
import os
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from collector import free_port
from tslib import Skip, Tcpship, at_cleanup, require_root, run_tcpship, tmpdir, trig, wait_until

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


class Prometheus:
    def __init__(self, target):
        if not os.access(PROMETHEUS, os.X_OK):
            raise Skip(f"{PROMETHEUS} missing: apt-get install prometheus")
        self.dir = tmpdir()
        self.port = free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                    "scrape_configs:\n  - job_name: tcpship\n"
                    f"    static_configs:\n      - targets: ['{target}']\n")
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={cfg}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        at_cleanup(self.stop)
        wait_until(lambda: self._ready(), 30, "prometheus ready", interval=0.2)

    def _ready(self):
        try:
            return get(f"http://127.0.0.1:{self.port}/-/ready", 1)[0] == 200
        except OSError:
            return False

    def query(self, q):
        """{labels-tuple: value} of an instant query."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        status, _, body = get(url)
        assert status == 200, (status, body)
        res = json.loads(body)["data"]["result"]
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in res}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def lines_of(path, type_=None):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        evs = [json.loads(l) for l in f if l.strip()]
    return [e for e in evs if type_ is None or e["type"] == type_]


def test_prometheus_scrapes_counters_equal_to_the_events_made():
    require_root()
    d = tmpdir()
    port = free_port()
    out = os.path.join(d, "events.jsonl")
    # only the triggers' clients (their task name): the test's own HTTP
    # to prometheus and tcpship would count too
    ts = Tcpship("--metrics-address", f"127.0.0.1:{port}", "-o", f"file:{out}",
                 "-e", "connect,accept,close", "--comm", "tsmetrics", "--flow-interval", "1s")
    base = f"http://127.0.0.1:{port}"
    status, ctype, text = get(base + "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), (status, ctype)
    # promtool: the exposition format, names and HELP/TYPE lines
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, (p.stdout, p.stderr, text[:500])
    assert 'tcpship_build_info{version="' in text and 'probes="tracepoint"' in text, text[:300]
    assert get(base + "/healthz")[0] == 200
    assert get(base + "/nope")[0] == 404

    prom = Prometheus(f"127.0.0.1:{port}")
    gts = [trig("tcp_pair", "-c", b"tsmetrics".hex()) for _ in range(15)]
    conns = {g["client_pid"] for g in gts}
    wait_until(lambda: len([e for e in lines_of(out, "connect") if e.get("pid") in conns]) == 15,
               15, "the triggers' connects in the file")

    def same():
        # machine traffic may go on: equal at one moment is the check
        got = prom.query('tcpship_events_total{type="connect"}')
        want = len(lines_of(out, "connect"))
        return got and list(got.values())[0] == want == 15
    try:
        wait_until(same, 30, "prometheus's tcpship_events_total{type=connect} = the file's "
                   "connects", interval=0.5)
    except AssertionError as e:
        raise AssertionError(f"{e}: prometheus has {prom.query('tcpship_events_total')}, "
                             f"the file {len(lines_of(out, 'connect'))}; "
                             f"targets {get(f'http://127.0.0.1:{prom.port}/api/v1/targets')[2][:600]}")

    def delivered():
        got = prom.query('tcpship_output_events_total{result="delivered"}')
        return got and list(got.values())[0] == len(lines_of(out))
    wait_until(delivered, 30, "delivered = the file's lines", interval=0.5)
    hist = prom.query("tcpship_output_write_duration_seconds_count")
    assert hist and list(hist.values())[0] >= 1, hist
    lost = prom.query("tcpship_lost_events_total")
    assert {dict(k)["reason"] for k in lost} == {"lost_kernel", "missed_runs", "malformed",
                                                 "nomem", "flow_table_full", "close_unseen"}
    assert all(v == 0 for v in lost.values()), lost

    def walked():
        got = {dict(k)["result"]: v for k, v in
               prom.query("tcpship_flow_walks_total").items()}
        return set(got) == {"done", "failed"} and got["done"] >= 1 and got["failed"] == 0
    wait_until(walked, 30, "a walk of the flow table done, none failed", interval=0.5)
    # no label of an event: pids, ports, names never show
    status, _, text = get(base + "/metrics")
    for g in gts:
        assert str(g["client_port"]) not in text
    ts.stop()
    total, _ = ts.exit_line()
    assert total["connect"] >= 15


def test_metrics_address_mistakes_and_a_port_in_use():
    for bad in ("9464", "localhost:9464", "127.0.0.1:0", "127.0.0.1:70000", "[::1:9464"):
        p = run_tcpship("--check-config", "--metrics-address", bad, "-o", "stdout")
        err = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(err) == 1 and "metrics address" in err[0], (bad, err)
    assert run_tcpship("--check-config", "--metrics-address", "[::1]:9464").returncode == 0
    require_root()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    at_cleanup(s.close)
    port = s.getsockname()[1]
    p = run_tcpship("--metrics-address", f"127.0.0.1:{port}", "-o", "stdout")
    err = p.stderr.strip().splitlines()
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert len(err) == 1 and "cannot listen" in err[0] and "in use" in err[0], err
    assert "tcpship: ready" not in p.stderr, p.stderr
