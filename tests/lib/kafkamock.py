"""librdkafka's mock Kafka cluster on loopback (.output/lib/kafkamock, see
tests/lib/kafkamock.c), driven over its stdin: brokers down and up,
injected produce errors and late answers, and a consumer that reads a topic
back from the start."""
import json
import os
import subprocess
import threading

from tslib import ROOT, at_cleanup

MOCK = os.path.join(ROOT, ".output", "lib", "kafkamock")


class KafkaMock:
    def __init__(self, brokers=3, topic="tcpship", partitions=6):
        self.topic = topic
        self.partitions = partitions
        self.proc = subprocess.Popen([MOCK, str(brokers), topic, str(partitions)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        at_cleanup(self.stop)
        self.lock = threading.Lock()
        first = self.proc.stdout.readline().split()
        if len(first) != 2 or first[0] != "bootstrap":
            raise AssertionError(f"kafkamock did not start: {first} "
                                 f"{self.proc.stderr.read()[-500:]}")
        self.bootstrap = first[1]

    def url(self, topic=None):
        return f"kafka://{self.bootstrap}/{topic or self.topic}"

    def cmd(self, line):
        """One command; its one-line answer ("ok", "count N")."""
        with self.lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            ans = self.proc.stdout.readline().strip()
        if not ans or ans.startswith("error"):
            raise AssertionError(f"kafkamock {line!r}: {ans!r}")
        return ans

    def count(self, topic=None):
        return int(self.cmd(f"count {topic or self.topic}").split()[1])

    def consume(self, topic=None):
        """Every message of the topic: dicts of partition, offset, timestamp
        (ms), key (bytes or None), value (bytes) and event (the JSON)."""
        out = []
        with self.lock:
            self.proc.stdin.write(f"consume {topic or self.topic}\n")
            self.proc.stdin.flush()
            for line in self.proc.stdout:
                w = line.split()
                if w[0] == "end":
                    assert int(w[1]) == len(out), (w, len(out))
                    return out
                if w[0] != "m":
                    raise AssertionError(f"kafkamock consume: {line!r}")
                value = bytes.fromhex(w[5]) if w[5] != "-" else b""
                out.append({"partition": int(w[1]), "offset": int(w[2]),
                            "timestamp": int(w[3]),
                            "key": bytes.fromhex(w[4]) if w[4] != "-" else None,
                            "value": value, "event": json.loads(value)})
        raise AssertionError("kafkamock exited while consuming")

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
