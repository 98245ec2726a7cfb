"""Real syslog receivers for the syslog sink's tests.

rsyslogd from Debian runs in the foreground with a private config, work
directory, pid file and sockets under a temp dir of the test; never the
system's /etc/rsyslog.conf, never the system service. Ports are picked free
at run time on loopback. Each message rsyslog accepts is written by an
rsyslog template as one JSON object of the fields rsyslog itself parsed
(app-name, procid, msgid, hostname, pri, facility, severity, the raw
structured-data, the SD params as mmpstrucdata parsed them, msg, rawmsg).

rsyslogd is looked up on PATH, then in /usr/sbin, then in TS_RSYSLOG_ROOT
(a directory where the rsyslog and rsyslog-openssl .debs were unpacked with
`dpkg-deb -x`: Debian's rsyslog and syslog-ng-core conflict, so a machine
that has syslog-ng installed can still run these tests that way).

Also: a CA and server certificates made with the openssl CLI, and a TCP
server that accepts and never reads (a stalled collector).
"""
import fcntl
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import termios
import threading
import uuid

from tslib import at_cleanup, wait_until

MODULE_DIRS = ("/usr/lib/x86_64-linux-gnu/rsyslog", "/usr/lib/aarch64-linux-gnu/rsyslog",
               "/usr/lib/rsyslog")


def find_rsyslogd():
    """(path of rsyslogd, module dir to pass with -M or None)."""
    exe = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd"
                                      if os.access("/usr/sbin/rsyslogd", os.X_OK) else None)
    if exe:
        return exe, None
    root = os.environ.get("TS_RSYSLOG_ROOT", "/var/tmp/tcpship-rsyslog")
    exe = os.path.join(root, "usr/sbin/rsyslogd")
    if os.access(exe, os.X_OK):
        for d in MODULE_DIRS:
            if os.path.isdir(root + d):
                return exe, root + d
    raise AssertionError("rsyslogd not found: apt-get install rsyslog rsyslog-openssl "
                         "(or unpack both .debs into $TS_RSYSLOG_ROOT)")


def free_port(kind=socket.SOCK_STREAM):
    """A loopback port nobody uses right now."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if p.returncode:
        raise AssertionError(f"openssl {' '.join(args)}: {p.stderr.strip()[-500:]}")


def make_ca(d, name):
    """A self-signed CA in d: (cert path, key path)."""
    crt, key = os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return crt, key


def make_server_cert(d, ca, name="server", ip="127.0.0.1", dns="localhost", usage="serverAuth"):
    """A server certificate signed by ca, with an IP SAN (names in a
    certificate for 127.0.0.1 are matched against IP SANs only);
    usage="clientAuth" makes a client certificate."""
    crt, key = os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")
    csr, ext = os.path.join(d, f"{name}.csr"), os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=IP:{ip},DNS:{dns}\nbasicConstraints=CA:FALSE\n"
                f"keyUsage=critical,digitalSignature\nextendedKeyUsage={usage}\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN={dns}", cwd=d)
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext, cwd=d)
    return crt, key


# One JSON object per message, of what rsyslog parsed. "sdp" is the
# mmpstrucdata tree ($!) as a JSON string ("" when the message had no SD).
TEMPLATE = """
template(name="tsjson" type="list") {
  constant(value="{\\"input\\":\\"") property(name="inputname" format="json")
  constant(value="\\",\\"app\\":\\"") property(name="app-name" format="json")
  constant(value="\\",\\"procid\\":\\"") property(name="procid" format="json")
  constant(value="\\",\\"msgid\\":\\"") property(name="msgid" format="json")
  constant(value="\\",\\"hostname\\":\\"") property(name="hostname" format="json")
  constant(value="\\",\\"pri\\":\\"") property(name="pri" format="json")
  constant(value="\\",\\"facility\\":\\"") property(name="syslogfacility" format="json")
  constant(value="\\",\\"severity\\":\\"") property(name="syslogseverity" format="json")
  constant(value="\\",\\"tag\\":\\"") property(name="syslogtag" format="json")
  constant(value="\\",\\"version\\":\\"") property(name="protocol-version" format="json")
  constant(value="\\",\\"timestamp\\":\\"") property(name="timereported" dateFormat="rfc3339" format="json")
  constant(value="\\",\\"sd\\":\\"") property(name="structured-data" format="json")
  constant(value="\\",\\"sdp\\":\\"") property(name="$!" format="json")
  constant(value="\\",\\"msg\\":\\"") property(name="msg" format="json")
  constant(value="\\",\\"raw\\":\\"") property(name="rawmsg" format="json")
  constant(value="\\"}\\n")
}
"""


class Rsyslogd:
    """rsyslogd -n -f PRIVATE.conf -i PRIVATE.pid, with the inputs asked for:

    udp=True, tcp=True: imudp / imtcp (octet-counted framing) on free ports
    tls=(ca, cert, key): an imtcp listener with the ossl netstream driver;
                         tls_auth="x509/certvalid" asks clients for a
                         certificate signed by ca
    unix=PATH: imuxsock on PATH, the special parser for the local BSD form
    unix5424=PATH: imuxsock on PATH with the regular parser chain and
                   hostnames parsed (RFC 5424 on a local socket)
    """

    def __init__(self, d, udp=False, tcp=False, tls=None, unix=None, unix5424=None,
                 tls_auth="anon"):
        self.dir = os.path.join(d, f"rsyslog-{uuid.uuid4().hex[:8]}")
        os.makedirs(self.dir)
        self.exe, self.moddir = find_rsyslogd()
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.pidfile = os.path.join(self.dir, "rsyslog.pid")
        self.out = os.path.join(self.dir, "messages.jsonl")
        self.internal = os.path.join(self.dir, "internal.log")
        self.udp_port = free_port(socket.SOCK_DGRAM) if udp else None
        self.tcp_port = free_port() if tcp else None
        self.tls_port = free_port() if tls else None
        self.tls = tls
        self.tls_auth = tls_auth
        self.unix, self.unix5424 = unix, unix5424
        if tls and tls_auth != "anon":
            # the readiness probe needs a client certificate of its own
            self.probe_client = make_server_cert(self.dir, (tls[0], tls[0][:-4] + ".key"),
                                                 name="probe-client", usage="clientAuth")
        self.proc = None
        self.log = None
        self._write_conf()
        at_cleanup(self.stop)
        self.start()

    def _write_conf(self):
        c = [f'global(workDirectory="{self.dir}" maxMessageSize="64k")',
             'module(load="mmpstrucdata")']
        if self.udp_port:
            c += ['module(load="imudp")',
                  f'input(type="imudp" address="127.0.0.1" port="{self.udp_port}" name="udp")']
        if self.tcp_port or self.tls_port:
            c += ['module(load="imtcp")']
        if self.tcp_port:
            c += [f'input(type="imtcp" address="127.0.0.1" port="{self.tcp_port}" name="tcp" '
                  'supportOctetCountedFraming="on")']
        if self.tls_port:
            ca, crt, key = self.tls
            c += [f'input(type="imtcp" address="127.0.0.1" port="{self.tls_port}" name="tls" '
                  'streamDriver.name="ossl" streamDriver.mode="1" '
                  f'streamDriver.authMode="{self.tls_auth}" '
                  f'streamDriver.caFile="{ca}" streamDriver.certFile="{crt}" '
                  f'streamDriver.keyFile="{key}")']
        if self.unix or self.unix5424:
            # never the system socket: SysSock.Use="off"
            c += ['module(load="imuxsock" SysSock.Use="off")']
        if self.unix:
            c += [f'input(type="imuxsock" socket="{self.unix}" ratelimit.interval="0")']
        if self.unix5424:
            c += [f'input(type="imuxsock" socket="{self.unix5424}" ratelimit.interval="0" '
                  'useSpecialParser="off" parseHostname="on" ignoreTimestamp="off")']
        c += [TEMPLATE,
              'if $inputname == "rsyslogd" then {',
              f'  action(type="omfile" file="{self.internal}")',
              '  stop', '}',
              'action(type="mmpstrucdata")',
              f'action(type="omfile" file="{self.out}" template="tsjson" flushOnTXEnd="on")']
        with open(self.conf, "w") as f:
            f.write("\n".join(c) + "\n")

    def start(self):
        cmd = [self.exe, "-n", "-f", self.conf, "-i", self.pidfile]
        if self.moddir:
            cmd += ["-M", self.moddir]
        if self.log:
            self.log.close()
        self.log = open(os.path.join(self.dir, "rsyslogd.stderr"), "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        self._wait_ready()

    def _probe(self, send, bsd=False):
        """Send one message through an input and wait for it to come out."""
        tag = uuid.uuid4().hex
        msg = (f"<14>Jan  1 00:00:00 probe[1]: {tag}" if bsd else
               f"<14>1 2026-01-01T00:00:00Z probe probe - probe - {tag}").encode()

        def arrived():
            if self.proc.poll() is not None:
                raise AssertionError(f"rsyslogd exited {self.proc.returncode}: "
                                     f"{self.stderr()[-800:]}")
            try:
                send(msg)
            except OSError:
                return False
            return any(r["msg"].strip() == tag for r in self.records(probes=True))
        wait_until(arrived, 20, f"rsyslogd to take messages ({self.conf})", interval=0.2)

    def _wait_ready(self):
        if self.udp_port:
            def udp(m):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(m, ("127.0.0.1", self.udp_port))
            self._probe(udp)
        if self.tcp_port:
            def tcp(m):
                with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=5) as s:
                    s.sendall(b"%d %s" % (len(m), m))
            self._probe(tcp)
        if self.tls_port:
            ctx = ssl.create_default_context(cafile=self.tls[0])
            if self.tls_auth != "anon":
                ctx.load_cert_chain(*self.probe_client)

            def tls(m):
                with socket.create_connection(("127.0.0.1", self.tls_port), timeout=5) as s:
                    with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                        t.sendall(b"%d %s" % (len(m), m))
            self._probe(tls)
        for path in (self.unix, self.unix5424):
            if path:
                def ux(m, path=path):
                    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                        s.sendto(m, path)
                self._probe(ux, bsd=path == self.unix)

    def stop(self):
        """SIGTERM and wait for the exit (bounded)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("rsyslogd did not stop within 15s of SIGTERM")

    def stderr(self):
        try:
            with open(os.path.join(self.dir, "rsyslogd.stderr"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def diag(self):
        """rsyslog's own messages and stderr, for a failure's message."""
        try:
            with open(self.internal, errors="replace") as f:
                internal = f.read()
        except OSError:
            internal = ""
        return f"rsyslog internal: {internal[-800:]!r} stderr: {self.stderr()[-300:]!r}"

    def records(self, probes=False):
        """Every message rsyslog wrote out, parsed; the readiness probes left
        out unless asked for."""
        try:
            with open(self.out, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        recs = []
        for line in data.split(b"\n"):
            if not line:
                continue
            r = json.loads(line)    # a line we cannot parse is a test failure
            r["sdp"] = json.loads(r["sdp"]) if r["sdp"] else {}
            if probes or r["app"] != "probe":
                recs.append(r)
        return recs


class SyslogNg:
    """syslog-ng -F with a private config: a syslog() source (RFC 5424 over
    TCP with octet counting) on a free loopback port, each message written
    as JSON by format-json (SD params parsed by syslog-ng)."""

    def __init__(self, d):
        self.env = None
        self.modules = []
        self.exe = shutil.which("syslog-ng") or (
            "/usr/sbin/syslog-ng" if os.access("/usr/sbin/syslog-ng", os.X_OK) else None)
        if not self.exe:
            self.unpacked()
        self.dir = os.path.join(d, f"syslog-ng-{uuid.uuid4().hex[:8]}")
        os.makedirs(self.dir)
        self.port = free_port()
        self.out = os.path.join(self.dir, "messages.jsonl")
        self.conf = os.path.join(self.dir, "syslog-ng.conf")
        with open(self.conf, "w") as f:
            f.write(f"""@version: 3.38
options {{ keep-hostname(yes); keep-timestamp(yes); frac-digits(6); }};
source s_net {{ syslog(transport("tcp") ip("127.0.0.1") port({self.port})
                       max-connections(10) log-msg-size(65536)); }};
destination d_out {{ file("{self.out}" template("$(format-json --scope rfc5424 --scope sdata
    --key ISODATE --pair PRI=$PRI --pair FACILITY_NUM=$FACILITY_NUM
    --pair SEVERITY_NUM=$LEVEL_NUM)\\n")); }};
log {{ source(s_net); destination(d_out); }};
""")
        self.proc = None
        at_cleanup(self.stop)
        self.start()

    def unpacked(self):
        """Debian's syslog-ng-core conflicts with rsyslog: where rsyslog is
        installed, run syslog-ng from its own .deb unpacked into
        TS_SYSLOG_NG_ROOT (fetched with apt-get download once, then kept);
        its libraries (libivykis0, libnet1, libwrap0) install beside rsyslog."""
        from tslib import Skip
        root = os.environ.get("TS_SYSLOG_NG_ROOT", "/var/tmp/tcpship-syslog-ng")
        exe = os.path.join(root, "usr/sbin/syslog-ng")
        if not os.access(exe, os.X_OK):
            os.makedirs(root, exist_ok=True)
            p = subprocess.run(["apt-get", "download", "syslog-ng-core"], cwd=root,
                               capture_output=True, text=True, timeout=300)
            debs = [f for f in os.listdir(root) if f.startswith("syslog-ng-core_")]
            if p.returncode or not debs:
                raise Skip(f"syslog-ng not installed and its package cannot be fetched: "
                           f"{p.stderr.strip()[-200:]}")
            subprocess.run(["dpkg-deb", "-x", os.path.join(root, debs[0]), root], check=True)
        lib = os.path.join(root, "usr/lib/syslog-ng")
        mods = [os.path.join(lib, v) for v in os.listdir(lib) if v[0].isdigit()]
        self.exe = exe
        self.env = dict(os.environ, LD_LIBRARY_PATH=lib)
        self.modules = ["--module-path", mods[0]] if mods else []

    def start(self):
        d = self.dir
        self.log = open(os.path.join(d, "syslog-ng.stderr"), "ab")
        self.proc = subprocess.Popen(
            [self.exe, "-F", "--no-caps", *self.modules, "-f", self.conf, "-p", f"{d}/pid",
             "-R", f"{d}/persist", "-c", f"{d}/ctl"], stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT, cwd=d, env=self.env)
        tag = uuid.uuid4().hex

        def arrived():
            if self.proc.poll() is not None:
                with open(os.path.join(d, "syslog-ng.stderr"), errors="replace") as f:
                    raise AssertionError(f"syslog-ng exited {self.proc.returncode}: "
                                         f"{f.read()[-800:]}")
            m = f"<14>1 2026-01-01T00:00:00Z probe probe - probe - {tag}".encode()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as c:
                    c.sendall(b"%d %s" % (len(m), m))
            except OSError:
                return False
            return any(r["msg"] == tag for r in self.records(probes=True))
        wait_until(arrived, 20, "syslog-ng to take messages", interval=0.2)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def records(self, probes=False):
        """The messages in the same shape as Rsyslogd.records()."""
        try:
            with open(self.out, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        recs = []
        for line in data.split(b"\n"):
            if not line:
                continue
            j = json.loads(line)
            r = {"input": "tcp", "app": j.get("PROGRAM", ""), "procid": j.get("PID", "-"),
                 "msgid": j.get("MSGID", "-"), "hostname": j.get("HOST", ""),
                 "pri": j.get("PRI", ""), "facility": j.get("FACILITY_NUM", ""),
                 "severity": j.get("SEVERITY_NUM", ""), "timestamp": j.get("ISODATE", ""),
                 "sdp": j.get("_SDATA", {}), "msg": j.get("MESSAGE", ""), "version": "1"}
            if probes or r["app"] != "probe":
                recs.append(r)
        return recs


class StalledServer:
    """Accepts TCP connections and does not read from them until resume():
    a collector that hangs, then recovers. Buffers and segments are kept
    small so the sender's fill soon."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # loopback's 64 KiB MSS would let the sender's buffer grow to MiBs
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.data = b""
        self.eofs = 0
        self.lock = threading.Lock()
        self.reading = threading.Event()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()
        at_cleanup(self.close)

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._read, args=(c,), daemon=True).start()

    def _read(self, c):
        self.reading.wait()
        while True:
            try:
                b = c.recv(65536)
            except OSError:
                b = b""
            with self.lock:
                if not b:
                    self.eofs += 1
                    return
                self.data += b

    def resume(self):
        self.reading.set()

    def reset_first_and_resume(self):
        """Reset the first connection (SO_LINGER 0: an RST) without reading
        it, then read every later one. Returns what its receive buffer held
        at the reset: bytes the sender's kernel saw acknowledged, so the
        sender cannot know they were thrown away. (The buffer is full, the
        window zero: nothing more arrives between the peek and the reset.)"""
        c = self.conns[0]
        n = struct.unpack("i", fcntl.ioctl(c, termios.FIONREAD, b"\0" * 4))[0]
        held = c.recv(n, socket.MSG_PEEK) if n else b""
        assert len(held) == n, (len(held), n)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        self.reading.set()
        return held

    def received(self):
        with self.lock:
            return self.data

    def eof(self):
        """Every connection was closed by the sender (or reset by us)."""
        with self.lock:
            return self.eofs == len(self.conns)

    def close(self):
        self.closed = True
        self.reading.set()
        for c in self.conns:
            c.close()
        self.sock.close()


class StreamUnixServer:
    """A local stream socket that collects what it is sent (the fallback of
    the local socket sinks when the socket is not a datagram one)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.data = b""
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._serve, daemon=True).start()
        at_cleanup(self.close)

    def _serve(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(c,), daemon=True).start()

    def _read(self, c):
        while True:
            try:
                b = c.recv(65536)
            except OSError:
                return
            if not b:
                return
            with self.lock:
                self.data += b

    def close(self):
        self.closed = True
        self.sock.close()
