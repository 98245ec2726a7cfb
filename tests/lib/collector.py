"""A strict HTTP collector for tcpship's HTTP sink tests, with faults on command.

Python's standard library only. It listens on a free loopback port (or the
one given), optionally with TLS, speaks HTTP/1.1 with keep-alive, and for
every POST:

  * checks the transport: Content-Length present, no chunked upload, gzip
    exactly when Content-Encoding says so, the Content-Type of the format,
    and any headers the test expects (credentials);
  * checks the body strictly for its format (ndjson, elasticsearch _bulk,
    loki push, splunk_hec envelopes, otlp: OTLP/HTTP JSON logs, read by
    tests/lib/otlp.py and each record held against its body); a violation
    is recorded and answered 400, and tests assert there were none;
  * answers as the next planned fault says, else as the real collector
    would on success;
  * keeps the books per event seq: how often it was received, accepted
    (answered as delivered) and refused (answered as permanently failed).

Faults (push() them; each is used by one request, in order):

  {"status": 429, "headers": {"Retry-After": "2"}, "body": b"..."}
  {"hang": True}          read the request, answer nothing, close after
                          `hang_s` seconds (past the client's timeout)
  {"close": True}         read the request, close the connection at once
  {"garbage": True}       read the request, write bytes that are not HTTP
  {"status": 200, "body": b"not json"}   a 2xx with a body that means nothing
  {"items": [201, 409, 429, 400]}        elasticsearch: per-item statuses,
                          repeated over the items of the request
  {"partial": 2, "message": "too old"}   otlp: a 200 whose partialSuccess
                          refuses the first 2 records (0: a warning only)

Which statuses are retryable is the format's: OTLP's 429, 502, 503 and
504, everyone else's 408, 429 and 5xx.

A fault with "min_events": N waits for a request of at least N events.

`sticky` is a fault used by every request while it is set (a collector
that is down for a while).
"""
import base64
import collections
import errno
import gzip
import json
import random
import re
import socket
import ssl
import threading
import time
import zlib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import otlp
from cef import parse_cef

CONTENT_TYPES = {
    "ndjson": "application/x-ndjson",
    "elasticsearch": "application/x-ndjson",
    "loki": "application/json",
    "splunk_hec": "application/json",
    "otlp": "application/json",
}

TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{9})Z$")


def event_ns(ev):
    """The nanosecond UTC time of an event's "time" string."""
    m = TIME_RE.match(ev["time"])
    if not m:
        raise ValueError(f"bad time {ev['time']!r}")
    y, mo, d, h, mi, s, ns = (int(x) for x in m.groups())
    sec = int(datetime(y, mo, d, h, mi, s, tzinfo=timezone.utc).timestamp())
    return sec * 1_000_000_000 + ns


def ecs_view(doc, what):
    """An ECS document (the elasticsearch format's default) seen with the
    native keys the tests read: time, type, seq, agent_id, host, pid, comm;
    the document itself under "_ecs". A document without ecs.version or
    whose keys are not where tcpship puts them is a violation."""
    try:
        if not isinstance(doc["ecs"]["version"], str) or not doc["ecs"]["version"]:
            raise KeyError("ecs.version")
        view = {"time": doc["@timestamp"], "type": doc["event"]["action"],
                "seq": doc["event"]["sequence"], "agent_id": doc["agent"]["ephemeral_id"],
                "host": doc["host"]["name"], "_ecs": doc}
    except (KeyError, TypeError) as e:
        raise Violation(f"{what}: an ECS document without {e}: {json.dumps(doc)[:160]}")
    proc = doc.get("process") or {}
    for k, n in (("pid", "pid"), ("comm", "name")):
        if n in proc:
            view[k] = proc[n]
    return view


class Violation(Exception):
    pass


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = map(int, f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A free loopback port outside the kernel's ephemeral range: a receiver
    the tests stop and start again keeps a port no outgoing connection can
    take meanwhile (not even tcpship's own retries, which would connect
    to themselves on a down ephemeral port and hold it)."""
    lo, hi = _ephemeral_range()
    span = (1024, lo - 1) if lo - 1024 >= 2000 else (hi + 1, 65535)
    for _ in range(200):
        port = random.randint(*span)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _bind_retrying(port, timeout=10):
    """A collector back on its old port: while it was down, a short-lived
    socket of the tests (a trigger's server, an outgoing connection's
    ephemeral port) may hold that port for a moment. Bounded retries."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _Server(("127.0.0.1", port), _Handler)
        except OSError as e:
            if e.errno != errno.EADDRINUSE or not port or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        pass  # TLS failures and hung-up clients are the tests' business


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.server.coll._connection()

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.server.coll._post(self)

    def do_GET(self):  # noqa: N802
        self.server.coll._violation(f"GET {self.path}")
        self._answer(405, b"")

    def _answer(self, status, body, headers=None, ctype="application/json"):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


class Collector:
    def __init__(self, fmt="ndjson", port=0, tls=None, expect_headers=None, gzip_expected=None,
                 labels=None, index="tcpship-%Y.%m.%d", action="create", hang_s=4.0):
        self.fmt = fmt
        self.expect_headers = expect_headers or {}
        self.gzip_expected = gzip_expected
        self.static_labels = labels or {}
        self.index = index
        self.action = action
        self.hang_s = hang_s
        self.lock = threading.Condition()
        self.plan = collections.deque()
        self.sticky = None
        self.requests = []          # one dict per POST, in arrival order
        self.violations = []
        self.connections = 0
        self.received = collections.Counter()   # seq -> times received
        self.accepted = collections.Counter()   # seq -> times answered as delivered
        self.refused = {}                       # seq -> (request number, status)
        self.conflicts = 0
        self.agents = set()
        self.events = {}                        # seq -> the event as received
        # across runs seq starts again: (agent_id, seq) is the event's key
        self.received_keys = collections.Counter()
        self.accepted_keys = collections.Counter()
        self.events_by_key = {}                 # (agent_id, seq) -> the event as received
        self.lines_by_key = {}                  # (agent_id, seq) -> its line's bytes (ndjson,
        self._raw = threading.local()           # elasticsearch), as received first
        self._released = threading.Event()
        self.srv = _bind_retrying(port)
        self.srv.coll = self
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True,
                                              do_handshake_on_connect=False)
        self.port = self.srv.server_address[1]
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    # ------------------------------------------------------------ control

    def url(self, path="/"):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def push(self, *faults):
        with self.lock:
            self.plan.extend(faults)

    def release(self):
        """End every hang now."""
        self._released.set()

    def stop(self):
        self._released.set()
        self.srv.shutdown()
        self.srv.server_close()

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"collector: timed out after {timeout}s waiting for {what}; "
                        f"{len(self.requests)} requests, {len(self.accepted)} seqs accepted, "
                        f"violations: {self.violations[:3]}")
                self.lock.wait(min(left, 0.1))

    def wait_accepted(self, seqs, timeout=20, what=None):
        seqs = set(seqs)
        return self.wait(lambda: seqs <= set(self.accepted), timeout,
                         what or f"{len(seqs)} seqs accepted")

    def wait_requests(self, n, timeout=20):
        return self.wait(lambda: len(self.requests) >= n, timeout, f"{n} requests")

    def retryable(self, status):
        if self.fmt == "otlp":
            return status in (429, 502, 503, 504)
        return status in (408, 429) or 500 <= status < 600

    def refused_requests(self):
        with self.lock:
            return [r for r in self.requests if isinstance(r["status"], int) and
                    not 200 <= r["status"] < 300 and not self.retryable(r["status"])]

    def seqs_of(self, pred):
        with self.lock:
            return {s for s, e in self.events.items() if pred(e)}

    # ------------------------------------------------------------ the books

    def check_books(self):
        """What must hold after any run: no format violations; nothing
        accepted twice; nothing refused was sent again; everything else
        received was accepted in the end."""
        with self.lock:
            assert not self.violations, f"violations: {self.violations[:3]}"
            twice = [s for s, n in self.accepted.items() if n > 1]
            assert not twice, f"accepted more than once: {twice[:10]}"
            again = [s for s in self.refused if self.received[s] > 1]
            assert not again, f"refused, then sent again: {again[:10]}"
            lost = [s for s in self.received if s not in self.accepted and s not in self.refused]
            assert not lost, f"received but never accepted (retryable, lost): {sorted(lost)[:10]}"

    # ------------------------------------------------------------ serving

    def _connection(self):
        with self.lock:
            self.connections += 1

    def _violation(self, what):
        with self.lock:
            self.violations.append(what)
            self.lock.notify_all()

    def _next_fault(self, n):
        with self.lock:
            if self.plan and n >= self.plan[0].get("min_events", 0):
                return self.plan.popleft()
            return self.sticky

    def _post(self, h):
        hdr = h.headers
        req = {"path": h.path, "headers": dict(hdr.items()), "time": time.monotonic(),
               "seqs": [], "status": None}
        self._raw.lines = None
        try:
            if hdr.get("Transfer-Encoding"):
                raise Violation(f"Transfer-Encoding: {hdr.get('Transfer-Encoding')}")
            if hdr.get("Content-Length") is None:
                raise Violation("no Content-Length")
            raw = h.rfile.read(int(hdr["Content-Length"]))
            req["raw_len"] = len(raw)
            enc = hdr.get("Content-Encoding")
            if enc not in (None, "gzip"):
                raise Violation(f"Content-Encoding: {enc}")
            if self.gzip_expected is not None and (enc == "gzip") != self.gzip_expected:
                raise Violation(f"Content-Encoding {enc!r}, gzip expected: {self.gzip_expected}")
            if enc == "gzip":
                if raw[:2] != b"\x1f\x8b":
                    raise Violation("Content-Encoding: gzip, but not a gzip body")
                body = gzip.decompress(raw)
            else:
                body = raw
            req["body_len"] = len(body)
            ctype = hdr.get("Content-Type", "")
            if ctype.split(";")[0].strip() != CONTENT_TYPES[self.fmt]:
                raise Violation(f"Content-Type {ctype!r} for {self.fmt}")
            for k, v in self.expect_headers.items():
                if hdr.get(k) != v:
                    raise Violation(f"header {k}: {hdr.get(k)!r}, expected {v!r}")
            events = getattr(self, "_parse_" + self.fmt)(body, hdr)
        except (Violation, ValueError, KeyError, TypeError, OSError, EOFError,
                zlib.error) as e:
            req["violation"] = str(e)
            with self.lock:
                self.requests.append(req)
                self.violations.append(f"request {len(self.requests)}: {e}")
                self.lock.notify_all()
            h.close_connection = True
            h._answer(400, b'{"error":"violation"}')
            return
        req["seqs"] = [e["seq"] for e in events]
        fault = self._next_fault(len(events))
        with self.lock:
            self.requests.append(req)
            req["n"] = len(self.requests)
            for e in events:
                self.received[e["seq"]] += 1
                self.received_keys[(e["agent_id"], e["seq"])] += 1
                self.events.setdefault(e["seq"], e)
                self.events_by_key.setdefault((e["agent_id"], e["seq"]), e)
                self.agents.add(e["agent_id"])
            for e, line in zip(events, getattr(self._raw, "lines", None) or ()):
                self.lines_by_key.setdefault((e["agent_id"], e["seq"]), line)
            self._raw.lines = None
            self.lock.notify_all()
        self._respond(h, req, events, fault or {})

    def _settle(self, req, events, statuses):
        """Book the answer: per event, delivered (2xx, 409), refused (other
        4xx) or neither (retryable)."""
        with self.lock:
            req["status"] = statuses[0] if len(set(statuses)) == 1 else "mixed"
            req["item_statuses"] = statuses
            for e, st in zip(events, statuses):
                if 200 <= st < 300 or st == 409:
                    self.accepted[e["seq"]] += 1
                    self.accepted_keys[(e["agent_id"], e["seq"])] += 1
                    if st == 409:
                        self.conflicts += 1
                elif not self.retryable(st):
                    self.refused[e["seq"]] = (req["n"], st)
            self.lock.notify_all()

    def _respond(self, h, req, events, fault):
        n = len(events)
        if fault.get("hang"):
            with self.lock:
                req["status"] = "hang"
            self._released.wait(self.hang_s)
            h.close_connection = True
            return
        if fault.get("close"):
            with self.lock:
                req["status"] = "closed"
            h.close_connection = True
            return
        if fault.get("garbage"):
            with self.lock:
                req["status"] = "garbage"
            h.wfile.write(b"\x00\x01garbage, not HTTP at all\r\n\r\n")
            h.close_connection = True
            return
        if "items" in fault:
            pat = fault["items"]
            sts = [pat[i % len(pat)] for i in range(n)]
            self._settle(req, events, sts)
            h._answer(200, self._bulk_body(events, sts))
            return
        if "partial" in fault:
            k = min(fault["partial"], n)
            self._settle(req, events, [400] * k + [200] * (n - k))
            with self.lock:
                req["partial"] = k
            h._answer(200, otlp.response(k, fault.get("message")))
            return
        status = fault.get("status", 204 if self.fmt == "loki" else 200)
        body = fault.get("body")
        if body is None:
            body = self._ok_body(events) if 200 <= status < 300 else b""
        if 200 <= status < 300 and "body" in fault and not self._readable_2xx(body):
            # a 2xx body that is no answer of the format: nothing is known stored
            sts = [503] * n
        else:
            sts = [status] * n
        self._settle(req, events, sts)
        h._answer(status, body, fault.get("headers"))

    def _readable_2xx(self, body):
        """Would the format take this 2xx answer for a whole success?"""
        if self.fmt == "elasticsearch":
            return False    # no bulk answer
        if self.fmt == "otlp" and body.strip():
            try:
                return isinstance(json.loads(body), dict)
            except ValueError:
                return False
        return True

    def _ok_body(self, events):
        if self.fmt == "otlp":
            return otlp.response()
        if self.fmt == "elasticsearch":
            return self._bulk_body(events, [201] * len(events))
        if self.fmt == "splunk_hec":
            return b'{"text":"Success","code":0}'
        return b""

    def _bulk_body(self, events, statuses):
        items = []
        for e, st in zip(events, statuses):
            r = {"_index": "x", "_id": f"{e['agent_id']}-{e['seq']}", "status": st}
            if st >= 300:
                r["error"] = {"type": "test_exception", "reason": f"status {st} by plan"}
            items.append({self.action: r})
        return json.dumps({"took": 1, "errors": any(s >= 300 for s in statuses),
                           "items": items}).encode()

    # ------------------------------------------------------------ formats

    @staticmethod
    def _event(text, what):
        ev = json.loads(text)
        if isinstance(ev, dict) and "@timestamp" in ev:
            ev = ecs_view(ev, what)
        if not isinstance(ev, dict) or not isinstance(ev.get("seq"), int) or \
                not isinstance(ev.get("agent_id"), str) or "time" not in ev:
            raise Violation(f"{what}: not a tcpship event: {text[:120]!r}")
        event_ns(ev)
        return ev

    def _parse_ndjson(self, body, hdr):
        if not body.endswith(b"\n"):
            raise Violation("ndjson body does not end in a newline")
        lines = body[:-1].split(b"\n")
        if any(not l for l in lines):
            raise Violation("empty line in ndjson body")
        events = [self._event(l, f"line {i}") for i, l in enumerate(lines)]
        self._raw.lines = lines
        return events

    def _parse_elasticsearch(self, body, hdr):
        if not body.endswith(b"\n"):
            raise Violation("bulk body does not end in a newline")
        lines = body[:-1].split(b"\n")
        if len(lines) % 2:
            raise Violation(f"bulk body has {len(lines)} lines: action/source pairs expected")
        events = []
        for i in range(0, len(lines), 2):
            act = json.loads(lines[i])
            ev = self._event(lines[i + 1], f"source line {i + 1}")
            # a data stream (what "create" is for) takes no document
            # without @timestamp: ES answers 400 for each
            if self.action == "create" and "_ecs" not in ev:
                raise Violation(f"source line {i + 1}: no @timestamp, which a data stream "
                                f"needs: {lines[i + 1][:120]!r}")
            if not isinstance(act, dict) or list(act) != [self.action]:
                raise Violation(f"action line {i}: {lines[i][:120]!r}, '{self.action}' expected")
            meta = act[self.action]
            want_id = f"{ev['agent_id']}-{ev['seq']}"
            sec = event_ns(ev) // 1_000_000_000
            want_index = time.strftime(self.index, time.gmtime(sec))
            if meta != {"_index": want_index, "_id": want_id}:
                raise Violation(f"action line {i}: {meta}, expected index {want_index} "
                                f"id {want_id}")
            events.append(ev)
        self._raw.lines = lines[1::2]
        return events

    def _parse_loki(self, body, hdr):
        doc = json.loads(body)
        if not isinstance(doc, dict) or list(doc) != ["streams"] or \
                not isinstance(doc["streams"], list) or not doc["streams"]:
            raise Violation(f"loki body shape: {body[:120]!r}")
        events = []
        allowed = {"host", "type", *self.static_labels}
        seen_streams = set()
        for s in doc["streams"]:
            if not isinstance(s, dict) or set(s) != {"stream", "values"}:
                raise Violation(f"loki stream keys: {list(s)}")
            labels = s["stream"]
            if not isinstance(labels, dict) or set(labels) != allowed:
                raise Violation(f"loki labels {labels}, expected keys {sorted(allowed)}")
            if any(not isinstance(v, str) or not v for v in labels.values()):
                raise Violation(f"loki label values must be non-empty strings: {labels}")
            for k, v in self.static_labels.items():
                if labels[k] != v:
                    raise Violation(f"loki label {k}={labels[k]!r}, expected {v!r}")
            key = tuple(sorted(labels.items()))
            if key in seen_streams:
                raise Violation(f"loki stream {labels} twice in one push")
            seen_streams.add(key)
            last = -1
            for v in s["values"]:
                if not isinstance(v, list) or len(v) != 2 or not all(isinstance(x, str) for x in v):
                    raise Violation(f"loki value {v!r}: [\"<ns>\", \"<line>\"] expected")
                if not v[0].isdigit():
                    raise Violation(f"loki timestamp {v[0]!r} is not a string of digits")
                ts = int(v[0])
                if ts < last:
                    raise Violation(f"loki values not sorted by time: {ts} after {last}")
                last = ts
                ev = self._event(v[1], "loki line")
                if ev["type"] != labels["type"] or ev["host"] != labels["host"]:
                    raise Violation(f"loki event {ev['seq']} in stream {labels}")
                if event_ns(ev) != ts:
                    raise Violation(f"loki timestamp {ts} != event time {ev['time']}")
                events.append(ev)
        return events

    def _parse_splunk_hec(self, body, hdr):
        text = body.decode("utf-8")
        dec = json.JSONDecoder()
        i, events = 0, []
        while True:
            while i < len(text) and text[i] in " \t\r\n":
                i += 1
            if i == len(text):
                break
            env, i = dec.raw_decode(text, i)
            keys = set(env) if isinstance(env, dict) else set()
            if not {"time", "host", "sourcetype", "event"} <= keys or \
                    keys - {"time", "host", "sourcetype", "event", "index", "source"}:
                raise Violation(f"HEC envelope keys {sorted(keys)}")
            if not isinstance(env["time"], (int, float)) or isinstance(env["time"], bool):
                raise Violation(f"HEC time {env['time']!r} is not a number")
            ev = env["event"]
            if not isinstance(ev, dict):
                raise Violation("HEC event is not an object")
            ev = self._event(json.dumps(ev), "HEC event")
            if env["host"] != ev["host"]:
                raise Violation(f"HEC host {env['host']!r} != event host {ev['host']!r}")
            if abs(env["time"] - event_ns(ev) / 1e9) > 2e-6:
                raise Violation(f"HEC time {env['time']} != event time {ev['time']}")
            events.append(ev)
        if not events:
            raise Violation("empty HEC body")
        return events


    def _parse_otlp(self, body, hdr):
        events = [otlp_event(it) for it in otlp.parse_logs(body)]
        # records of one container share one resource
        res = [tuple(sorted((k, str(v)) for k, v in e["_otlp"].resource.items()))
               for e in events]
        seen = {}
        for e, r in zip(events, res):
            if seen.setdefault(r, e["_otlp"].resource_index) != e["_otlp"].resource_index:
                raise Violation(f"resource {dict(r)} twice in one request")
        return events


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ------------------------------------------------------------ otlp

RESOURCE_KEYS = {"host.name", "service.name", "container.id", "container.name",
                 "container.image.name", "k8s.pod.name", "k8s.namespace.name", "k8s.pod.uid"}
# the native line's keys beside the resource attributes tcpship makes of them
RESOURCE_OF_EVENT = {"container.id": "container_id", "container.name": "container_name",
                     "container.image.name": "image", "k8s.pod.name": "pod",
                     "k8s.namespace.name": "pod_namespace", "k8s.pod.uid": "pod_uid"}
RECORD_ATTRS = {"network.transport", "network.type", "network.local.address",
                "network.local.port", "network.peer.address", "network.peer.port",
                "process.pid", "thread.name", "tcpship.type", "tcpship.seq", "tcpship.agent_id"}
# attribute -> the native key it says, and the same value
ATTR_OF_EVENT = {"network.type": "family", "network.local.address": "saddr",
                 "network.local.port": "sport", "network.peer.address": "daddr",
                 "network.peer.port": "dport", "process.pid": "pid", "thread.name": "comm",
                 "tcpship.type": "type", "tcpship.seq": "seq", "tcpship.agent_id": "agent_id"}


def _iso(ns):
    t = datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}Z"


def _otlp_native(ev, it, notable):
    """A native line against the record's attributes and resource: the same
    facts, each said where it is known and nowhere else."""
    a, res = it.attrs, it.resource
    for k, n in ATTR_OF_EVENT.items():
        if a.get(k) != ev.get(n):
            raise Violation(f"{it.where}: attribute {k}={a.get(k)!r}, the line's {n} is "
                            f"{ev.get(n)!r}")
    if any(ev.get(n) is not None for n in ("container_id", "pod", "pod_uid", "pod_namespace")):
        for k, n in RESOURCE_OF_EVENT.items():
            if res.get(k) != ev.get(n):
                raise Violation(f"{it.where}: resource {k}={res.get(k)!r}, the line's {n} "
                                f"is {ev.get(n)!r}")
    elif set(res) - {"host.name", "service.name"}:
        raise Violation(f"{it.where}: a record without a container in resource {res}")
    if res["host.name"] != ev["host"]:
        raise Violation(f"{it.where}: host.name {res['host.name']!r}, the line's {ev['host']!r}")
    failed = ev["type"] == "close" and (ev.get("established") is False or "error" in ev)
    if notable != (ev["type"] == "retransmit" or failed):
        raise Violation(f"{it.where}: severity {it.record['severityNumber']} for {ev}")
    return ev


def _otlp_view(body, it, notable):
    """An ECS document or a CEF record seen with the native keys the tests
    read (the rest from the attributes), each held against them."""
    a = it.attrs
    ev = {"time": _iso(int(it.record["timeUnixNano"])), "type": a["tcpship.type"],
          "seq": a["tcpship.seq"], "agent_id": a["tcpship.agent_id"],
          "host": it.resource["host.name"]}
    for k in ("process.pid", "thread.name", "network.local.port", "network.peer.port"):
        if k in a:
            ev[ATTR_OF_EVENT[k]] = a[k]
    if body.startswith("CEF:"):
        hdr, ext = parse_cef(body)
        said = (hdr[4].split("-")[0], int(ext["cn3"]), ext["deviceExternalId"],
                int(hdr[6]) > 3)
        ev["_cef"] = (hdr, ext)
    else:
        doc = ecs_view(json.loads(body), it.where)
        said = (doc["type"], doc["seq"], doc["agent_id"],
                doc["_ecs"]["event"]["severity"] > 1)
        ev["_ecs"] = doc["_ecs"]
        if doc["time"] != ev["time"] or doc["host"] != ev["host"]:
            raise Violation(f"{it.where}: time/host {doc['time']} {doc['host']!r} != "
                            f"{ev['time']} {ev['host']!r}")
    if said != (ev["type"], ev["seq"], ev["agent_id"], notable):
        raise Violation(f"{it.where}: the body says {said}, the attributes "
                        f"{(ev['type'], ev['seq'], ev['agent_id'], notable)}")
    return ev


def otlp_event(it):
    """One log record of tcpship's as an event dict (the native line when the
    body is one), checked against everything tcpship promises of it."""
    rec, a, res = it.record, it.attrs, it.resource
    if set(res) - RESOURCE_KEYS or not isinstance(res.get("host.name"), str) or \
            res.get("service.name") != "tcpship":
        raise Violation(f"{it.where}: resource {res}")
    if it.scope.get("name") != "tcpship" or not it.scope.get("version"):
        raise Violation(f"{it.where}: scope {it.scope}")
    need = {"timeUnixNano", "observedTimeUnixNano", "severityNumber", "severityText",
            "eventName", "body", "attributes"}
    if set(rec) != need:
        raise Violation(f"{it.where}: record keys {sorted(rec)}, want {sorted(need)}")
    if set(a) - RECORD_ATTRS or not {"network.transport", "network.type",
                                     "network.peer.address", "network.peer.port",
                                     "tcpship.type", "tcpship.seq",
                                     "tcpship.agent_id"} <= set(a):
        raise Violation(f"{it.where}: attributes {sorted(a)}")
    if ("network.local.address" in a) != ("network.local.port" in a) or \
            ("process.pid" in a) != ("thread.name" in a):
        raise Violation(f"{it.where}: half of an end or a task: {sorted(a)}")
    if a["network.transport"] != ("udp" if a["tcpship.type"] == "dns" else "tcp"):
        raise Violation(f"{it.where}: network.transport {a['network.transport']!r}")
    sev = (rec["severityNumber"], rec["severityText"])
    if sev not in ((9, "INFO"), (13, "WARN")):
        raise Violation(f"{it.where}: severity {sev}")
    if rec["eventName"] != "tcpship." + a["tcpship.type"]:
        raise Violation(f"{it.where}: eventName {rec['eventName']!r}")
    if rec["observedTimeUnixNano"] != rec["timeUnixNano"]:
        raise Violation(f"{it.where}: observed {rec['observedTimeUnixNano']} != time "
                        f"{rec['timeUnixNano']}")
    if set(rec["body"]) != {"stringValue"}:
        raise Violation(f"{it.where}: body {rec['body']}")
    body = rec["body"]["stringValue"]
    if not body or "\n" in body:
        raise Violation(f"{it.where}: body {body[:120]!r}: one line, without its newline")
    notable = sev[0] == 13
    if body.startswith("{") and '"@timestamp"' not in body:
        ev = _otlp_native(Collector._event(body, it.where), it, notable)
    else:
        ev = _otlp_view(body, it, notable)
    if event_ns(ev) != int(rec["timeUnixNano"]):
        raise Violation(f"{it.where}: timeUnixNano {rec['timeUnixNano']} != {ev['time']}")
    ev["_otlp"] = it
    return ev
