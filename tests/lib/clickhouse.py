"""A private ClickHouse server for the tests: Debian's clickhouse-server
binary started as a plain process on a free loopback port, with its own
config.xml, users.xml and data directory in a temp dir, and stopped (by its
pid) at cleanup. Queries go over its HTTP port with urllib.

The profile sets nothing beyond the defaults on purpose: what tcpship needs
(input_format_skip_unknown_fields) travels in the insert URL, as the README
tells users to do, and gzip request bodies need no setting at all.
"""
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from collector import free_port
from tslib import Skip, at_cleanup, wait_until

SERVER = "/usr/sbin/clickhouse-server"

CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>{d}/server.log</log>
    <errorlog>{d}/server.err.log</errorlog>
  </logger>
  <http_port>{port}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <timezone>UTC</timezone>
</yandex>
"""

USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
"""


class ClickHouse:
    """port= and data_dir= fixed: a server that can be killed (kill()) or
    stopped (stop()) and started again (start()) on the same port and data,
    as a collector that goes away and comes back. start=False: nothing runs
    yet (the port is only reserved in this object)."""

    def __init__(self, timeout=60, port=None, data_dir=None, start=True, extra_config=""):
        if not os.access(SERVER, os.X_OK):
            raise Skip(f"{SERVER} missing: apt-get install clickhouse-server")
        if data_dir is None:
            self.dir = tempfile.mkdtemp(prefix="tcpship-clickhouse-")
            at_cleanup(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        else:
            os.makedirs(data_dir, exist_ok=True)
            self.dir = data_dir
        self.port = port or free_port()
        self.timeout = timeout
        self.proc = None
        self.out = None
        with open(os.path.join(self.dir, "config.xml"), "w") as f:
            f.write(CONFIG.format(d=self.dir, port=self.port).replace(
                "</yandex>", extra_config + "\n</yandex>"))
        with open(os.path.join(self.dir, "users.xml"), "w") as f:
            f.write(USERS)
        at_cleanup(self.stop)
        if start:
            self.start()

    def start(self, timeout=None):
        """Start the server (again) on the same port and data."""
        if self.proc is not None and self.proc.poll() is None:
            return
        if self.out:
            self.out.close()
        self.out = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen([SERVER, f"--config-file={self.dir}/config.xml"],
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        try:
            wait_until(self._answers, timeout or self.timeout,
                       "clickhouse-server to answer /ping", interval=0.05)
        except AssertionError as e:
            raise AssertionError(f"{e}: {self._logs()}") from None

    def kill(self):
        """SIGKILL, as a crash: the port is free at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"clickhouse-server exited {self.proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=2) as r:
                return r.read().strip() == b"Ok."
        except OSError:
            return False

    def _logs(self):
        text = ""
        for name in ("stdout.log", "server.err.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    text += f.read()[-800:].decode("utf-8", "replace")
        return text

    def query(self, sql, data=None):
        """Run one statement; returns the answer's text."""
        params = {"output_format_json_quote_64bit_integers": "0"}
        if data is not None:
            params["query"] = sql
            body = data
        else:
            body = sql.encode()
        url = f"http://127.0.0.1:{self.port}/?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            raise AssertionError(f"clickhouse: {sql[:200]}: {e.code} {e.read()[:500]!r}")

    def rows(self, sql):
        text = self.query(sql + " FORMAT JSONEachRow")
        return [json.loads(l) for l in text.splitlines() if l]

    def insert_url(self, table):
        q = urllib.parse.quote(f"INSERT INTO {table} FORMAT JSONEachRow")
        return (f"http://127.0.0.1:{self.port}/?query={q}"
                "&input_format_skip_unknown_fields=1")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.out:
            self.out.close()
            self.out = None
