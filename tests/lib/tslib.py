"""Helpers for tcpship's integration tests.

tcpship sees every TCP connection of the machine, so tests never count
events globally: they match what tcpship printed against the ground truth
a trigger program prints about itself (pid, ports, comm). Every wait is on
a condition with a deadline; nothing sleeps for a fixed time.
"""
import json
import os
import signal
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TCPSHIP = os.path.join(ROOT, "tcpship")
TRIG = os.path.join(ROOT, ".output", "trig")
SCHEMA = os.path.join(ROOT, "schemas", "event.schema.json")

_validator = None
_cleanups = []


class Skip(Exception):
    """The test cannot run here; the reason says why."""


def at_cleanup(fn):
    _cleanups.append(fn)


def cleanup():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:  # noqa: BLE001 - cleanup must go on
            pass


def tmpdir():
    """A private folder, removed when the test ends."""
    d = tempfile.mkdtemp(prefix="tcpship-test-")
    at_cleanup(lambda: subprocess.run(["rm", "-rf", d]))
    return d


def require_root():
    if os.geteuid() != 0:
        raise Skip("needs root (BPF)")


def validator():
    global _validator
    if _validator is None:
        import jsonschema
        with open(SCHEMA) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        _validator = jsonschema.Draft202012Validator(schema)
    return _validator


def check_schema(ev):
    errs = sorted(validator().iter_errors(ev), key=lambda e: list(e.path))
    if errs:
        raise AssertionError(f"schema: {errs[0].message} in {json.dumps(ev)[:400]}")


def wait_until(pred, timeout, what, interval=0.02):
    """Poll pred() until it returns something true or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Tcpship:
    """A running tcpship: stdout lines parsed and schema-checked as they come."""

    def __init__(self, *args, env=None, ready=True, timeout=20, stdout=None, user=None,
                 umask=None, caps=None):
        self.args = [TCPSHIP, *args]
        self.lines = []         # raw stdout lines
        self.events = []        # parsed JSON objects
        self.bad = []           # lines that were not valid JSON or failed the schema
        self.stderr_lines = []
        self.lock = threading.Condition()
        cmd = self.args
        if user:
            # caps: ambient capabilities (names like CAP_BPF), the way
            # systemd's AmbientCapabilities= with NoNewPrivileges= starts it
            amb = ",".join("+" + c.lower().removeprefix("cap_") for c in caps or ())
            given = [f"--inh-caps={amb}", f"--ambient-caps={amb}", "--no-new-privs"] \
                if caps else []
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *given,
                   *cmd]
        self.proc = subprocess.Popen(cmd, stdout=stdout or subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     env=env, umask=-1 if umask is None else umask)
        at_cleanup(self.kill)
        self.json_mode = "--format" not in args and "-f" not in args
        self._t_out = None
        if stdout is None:
            self._t_out = threading.Thread(target=self._read_out, daemon=True)
            self._t_out.start()
        self._t_err = threading.Thread(target=self._read_err, daemon=True)
        self._t_err.start()
        if ready:
            self.wait_ready(timeout)

    def _read_out(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", errors="surrogateescape")
            with self.lock:
                self.lines.append(line)
                if self.json_mode:
                    try:
                        ev = json.loads(raw)
                        check_schema(ev)
                        self.events.append(ev)
                    except Exception as e:  # noqa: BLE001
                        self.bad.append((line, str(e)))
                self.lock.notify_all()

    def _read_err(self):
        for raw in self.proc.stderr:
            with self.lock:
                self.stderr_lines.append(raw.decode("utf-8", errors="replace").rstrip("\n"))
                self.lock.notify_all()

    @property
    def stderr(self):
        with self.lock:
            return "\n".join(self.stderr_lines)

    def wait_ready(self, timeout=20):
        def ready():
            with self.lock:
                if any(l.startswith("tcpship: ready") for l in self.stderr_lines):
                    return True
            if self.proc.poll() is not None:
                self._t_err.join(2)
                raise AssertionError(f"tcpship exited {self.proc.returncode} before ready: "
                                     f"{self.stderr[-1500:]}")
            return False
        wait_until(ready, timeout, "tcpship's ready line")

    def wait_events(self, pred, count=1, timeout=15, what="events"):
        """Wait until at least `count` events satisfy pred; return them."""
        def got():
            with self.lock:
                m = [e for e in self.events if pred(e)]
            return m if len(m) >= count else None
        try:
            return wait_until(got, timeout, what)
        except AssertionError:
            with self.lock:
                m = [e for e in self.events if pred(e)]
                total = len(self.events)
            self.stop()
            raise AssertionError(f"wanted {count} {what}, got {len(m)}: {m[:4]}; "
                                 f"{total} events in all; bad lines: {self.bad[:2]}; "
                                 f"stderr: {self.stderr[-700:]}")

    def matching(self, pred):
        with self.lock:
            return [e for e in self.events if pred(e)]

    def assert_clean(self):
        with self.lock:
            if self.bad:
                raise AssertionError(f"{len(self.bad)} bad lines, first: {self.bad[0]}")

    def stop(self, sig=signal.SIGINT, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"tcpship did not exit within {timeout}s of {sig}")
        if self._t_out:
            self._t_out.join(5)
        self._t_err.join(5)
        return self.proc.returncode

    def exit_line(self):
        """The counters of the `tcpship: exit:` line: the totals, and per output."""
        import re
        line = [l for l in self.stderr_lines if l.startswith("tcpship: exit: ")]
        if not line:
            raise AssertionError(f"no exit line: {self.stderr[-500:]}")
        parts = line[-1][len("tcpship: exit: "):].split(" | ")
        total = dict(re.findall(r"(\w+)=(\d+)", parts[0]))
        sinks = {}
        for p in parts[1:]:
            name, _, rest = p.partition(": ")
            sinks[name] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", rest)}
        return {k: int(v) for k, v in total.items()}, sinks

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def run_tcpship(*args, timeout=30, user=None):
    """Run tcpship to completion (bad-input cases); returns CompletedProcess."""
    cmd = [TCPSHIP, *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def trig(name, *args, netns=None, timeout=30, check=True):
    """Run a trigger program; it prints its ground truth as the last JSON line."""
    cmd = [os.path.join(TRIG, name), *map(str, args)]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{name} {args} exited {p.returncode}: {p.stderr[-800:]}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise AssertionError(f"{name} printed no ground truth: {p.stdout!r} {p.stderr!r}")
    return json.loads(lines[-1])


def sh(*cmd, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


def netns(name):
    """A network namespace of our own with loopback up, removed at cleanup."""
    sh("ip", "netns", "del", name, check=False)
    sh("ip", "netns", "add", name)
    at_cleanup(lambda: sh("ip", "netns", "del", name, check=False))
    sh("ip", "-n", name, "link", "set", "lo", "up")
    return name


def by(**kv):
    """Predicate: event has all these key/values."""
    return lambda e: all(e.get(k) == v for k, v in kv.items())
