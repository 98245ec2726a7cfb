"""File output, several outputs at once, the config file."""
import json
import os
import signal
import stat
import subprocess
import tempfile

from tslib import Tcpship, at_cleanup, check_schema, require_root, run_tcpship, trig, wait_until


def tmpdir():
    d = tempfile.mkdtemp(prefix="tcpship-test-")
    at_cleanup(lambda: subprocess.run(["rm", "-rf", d]))
    return d


def read_events(*paths):
    evs = []
    for p in paths:
        if not os.path.exists(p):
            continue
        with open(p, "rb") as f:
            data = f.read()
        assert not data or data.endswith(b"\n"), f"{p} ends in a partial line"
        for line in data.splitlines():
            ev = json.loads(line)
            check_schema(ev)
            evs.append(ev)
    return evs


def mine(evs, *gts):
    pids = {g[k] for g in gts for k in ("client_pid", "server_pid")}
    return [e for e in evs if e.get("pid") in pids]


def test_file_output_mode_0640_and_content():
    require_root()
    d = tmpdir()
    path = os.path.join(d, "events.jsonl")
    ts = Tcpship("-o", f"file:{path}", umask=0o077)
    gt = trig("tcp_pair")
    wait_until(lambda: len(mine(read_events(path), gt)) == 4, 10, "4 events in the file")
    ts.stop()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640, oct(os.stat(path).st_mode)
    _, sinks = ts.exit_line()
    assert sinks[f"file:{path}"]["out"] == len(read_events(path)), sinks


def test_file_appends_to_existing():
    require_root()
    d = tmpdir()
    path = os.path.join(d, "events.jsonl")
    with open(path, "w") as f:
        f.write('{"existing":true}\n')
    os.chmod(path, 0o600)
    ts = Tcpship("-o", f"file:{path}")
    gt = trig("tcp_pair")
    ts.stop()
    lines = open(path).read().splitlines()
    assert lines[0] == '{"existing":true}', lines[:2]
    assert len(mine(read_events_skip_first(path), gt)) == 4
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, "an existing file keeps its mode"


def read_events_skip_first(path):
    with open(path) as f:
        return [json.loads(l) for l in f.read().splitlines()[1:]]


def test_sighup_reopen_loses_no_line():
    """logrotate: mv the file, SIGHUP; every event ends up in exactly one of
    the two files, whole."""
    require_root()
    d = tmpdir()
    path = os.path.join(d, "events.jsonl")
    ts = Tcpship("-o", f"file:{path}", "-e", "connect,accept,close")
    before = [trig("tcp_pair") for _ in range(30)]
    wait_until(lambda: len(mine(read_events(path), *before)) == 120, 10, "first events")
    os.rename(path, path + ".1")
    # more traffic while the signal is on its way
    during = [trig("tcp_pair") for _ in range(5)]
    ts.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: os.path.exists(path), 10, "the reopened file")
    after = [trig("tcp_pair") for _ in range(30)]
    ts.stop()
    old, new = read_events(path + ".1"), read_events(path)
    allgts = before + during + after
    seen = [(e["seq"]) for e in mine(old + new, *allgts)]
    assert len(seen) == len(set(seen)) == 4 * len(allgts), (len(seen), len(set(seen)))
    assert len(mine(old, *before)) == 120, "events before the rename stay in the old file"
    assert len(mine(new, *after)) == 120, "events after the reopen go to the new file"
    _, sinks = ts.exit_line()
    assert sinks[f"file:{path}"]["reopens"] == 1, sinks


def test_size_rotation_keeps_max_files():
    require_root()
    d = tmpdir()
    path = os.path.join(d, "events.jsonl")
    cfg = os.path.join(d, "c.json")
    json.dump({"outputs": [{"type": "file", "path": path, "max_size": "4KiB",
                            "max_files": 2}]}, open(cfg, "w"))
    ts = Tcpship("-c", cfg, "-e", "connect,accept,close")
    gts = [trig("tcp_pair") for _ in range(25)]  # ~100 lines of ~350 bytes
    ts.stop()
    assert os.path.exists(path + ".1") and os.path.exists(path + ".2")
    assert not os.path.exists(path + ".3"), os.listdir(d)
    for p in (path, path + ".1", path + ".2"):
        assert os.path.getsize(p) <= 4096, (p, os.path.getsize(p))
    evs = read_events(path + ".2", path + ".1", path)
    seqs = [e["seq"] for e in evs]
    # what is kept is the newest, in order, without a gap
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs[:5]
    total, sinks = ts.exit_line()
    assert seqs[-1] == total["events"] and sinks[f"file:{path}"]["rotations"] >= 2, sinks


def test_several_outputs_get_identical_lines():
    require_root()
    d = tmpdir()
    a, b = os.path.join(d, "a.jsonl"), os.path.join(d, "b.jsonl")
    ts = Tcpship("-o", "stdout", "-o", f"file:{a}", "-o", f"file:{b}")
    gt = trig("tcp_pair")
    ts.wait_events(lambda e: e.get("pid") == gt["server_pid"] and e["type"] == "close")
    ts.stop()
    la, lb = open(a).read(), open(b).read()
    assert la == lb == "".join(ts.lines) and la, (len(la), len(lb), len(ts.lines))


def test_full_disk_with_drop_policy_does_not_stall_others():
    """A file on a full filesystem, told to drop when its queue is full:
    stdout still gets every event and the drops are counted."""
    require_root()
    d = tmpdir()
    mnt = os.path.join(d, "small")
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt], check=True)
    at_cleanup(lambda: subprocess.run(["umount", "-l", mnt]))
    path = os.path.join(mnt, "events.jsonl")
    cfg = os.path.join(d, "c.json")
    json.dump({"outputs": [{"type": "stdout"},
                           {"type": "file", "path": path,
                            "queue": {"max_events": 20, "when_full": "drop"}}]},
              open(cfg, "w"))
    ts = Tcpship("-c", cfg, "-e", "connect,accept,close")
    gts = [trig("tcp_pair") for _ in range(60)]
    ts.wait_events(lambda e: e.get("pid") == gts[-1]["server_pid"] and e["type"] == "close",
                   what="the last close on stdout")
    ts.stop()
    assert len(mine(ts.events, *gts)) == 240, len(mine(ts.events, *gts))
    total, sinks = ts.exit_line()
    f = sinks[f"file:{path}"]
    assert f["dropped_full"] > 0 and f["retries"] > 0, f
    # every event is written, queued at exit, or counted as dropped
    assert f["out"] + f["dropped_full"] + f["dropped_exit"] + f["dropped_error"] == \
        total["events"], (f, total)
    assert sinks["stdout"]["out"] == total["events"]


CONFIG_MISTAKES = [
    ("{", "line 1", "invalid JSON"),
    ('{"events": ["connect"]} x', "invalid JSON"),
    ("[]", "top level must be an object"),
    ('{"evnets": ["connect"]}', "evnets: unknown key"),
    ('{"events": ["nosuch"]}', "events: unknown event 'nosuch'"),
    ('{"events": "connect,nosuch"}', "nosuch"),
    ('{"events": [1]}', "events[0]: must be an event name"),
    ('{"filters": {"port": [70000]}}', "filters.port[0]", "1 to 65535"),
    ('{"filters": {"pid": "12"}}', "filters.pid: must be an array"),
    ('{"filters": {"family": "ipx"}}', "filters.family"),
    ('{"filters": {"host": "x"}}', "filters.host: unknown key"),
    ('{"probes": "fentry"}', "probes: 'fentry' is not one of auto, kprobe, tracepoint"),
    ('{"ringbuf_size": "3MiB"}', "ringbuf_size: must be a power of two"),
    ('{"ringbuf_size": "1Mb"}', "ringbuf_size: '1Mb' is not a size"),
    ('{"duration": "soon"}', "duration: 'soon' is not a duration"),
    ('{"outputs": {}}', "outputs: must be an array"),
    ('{"outputs": [{"path": "/tmp/x"}]}', "outputs[0].type: missing"),
    ('{"outputs": [{"type": "amqp"}]}', "outputs[0].type: unknown output type 'amqp'"),
    ('{"outputs": [{"type": "kafka"}]}', "outputs[0]: brokers: missing"),
    ('{"outputs": [{"type": "file", "pth": "/tmp/x"}]}', "outputs[0].pth: unknown key",
     "path, max_size, max_files"),
    ('{"outputs": [{"type": "file"}]}', "outputs[0]", "path: missing"),
    ('{"outputs": [{"type": "file", "path": 5}]}', "outputs[0].path: must be a string"),
    ('{"outputs": [{"type": "file", "path": "/tmp/x", "max_size": "1Mb"}]}',
     "outputs[0].max_size: '1Mb' is not a size"),
    ('{"outputs": [{"type": "file", "path": "/tmp/x", "max_files": 0}]}',
     "outputs[0].max_files: 0 is out of range"),
    ('{"outputs": [{"type": "file", "path": "/tmp/x", "max_files": -1}]}',
     "outputs[0].max_files: must not be negative"),
    ('{"outputs": [{"type": "stdout", "queue": {"when_full": "wait"}}]}',
     "outputs[0].queue.when_full: 'wait' is not one of block, drop"),
    ('{"outputs": [{"type": "stdout", "queue": {"max": 1}}]}', "outputs[0].queue.max: unknown key"),
    ('{"outputs": [{"type": "stdout", "path": "/x"}]}', "outputs[0].path: unknown key"),
]


def test_config_mistakes_each_named_exit_2():
    d = tmpdir()
    cfg = os.path.join(d, "bad.json")
    for text, *words in CONFIG_MISTAKES:
        with open(cfg, "w") as f:
            f.write(text)
        p = run_tcpship("-c", cfg)
        lines = [l for l in p.stderr.splitlines() if l]
        assert p.returncode == 2, (text, p.returncode, p.stderr)
        assert len(lines) == 1 and lines[0].startswith(f"tcpship: {cfg}: "), (text, lines)
        for w in words:
            assert w in lines[0], (text, w, lines[0])
    p = run_tcpship("-c", os.path.join(d, "missing.json"))
    assert p.returncode == 2 and "cannot open" in p.stderr, p.stderr


def test_command_line_overrides_config():
    require_root()
    d = tmpdir()
    path = os.path.join(d, "from-config.jsonl")
    cfg = os.path.join(d, "c.json")
    json.dump({"events": ["dns"], "filters": {"port": [9]},
               "outputs": [{"type": "file", "path": path}]}, open(cfg, "w"))
    # -e, -P and -o on the command line replace the file's values
    ts = Tcpship("-c", cfg, "-e", "connect", "-P", "1,2,3", "-o", "stdout")
    gt = trig("tcp_pair")
    ts.stop()
    assert not ts.matching(lambda e: e.get("pid") == gt["client_pid"]), "-P replaced port 9"
    assert not os.path.exists(path), "-o replaced the config's outputs"
    ts = Tcpship("-c", cfg, "-e", "connect", "-o", "stdout")
    gt = trig("tcp_pair")
    ts.stop()
    # the config's port filter (9) still applies when the command line says none
    assert not ts.matching(lambda e: e.get("pid") == gt["client_pid"])
    json.dump({"events": ["close"], "outputs": [{"type": "file", "path": path}]},
              open(cfg, "w"))
    ts = Tcpship("-c", cfg, "-e", "connect")
    gt = trig("tcp_pair")
    ts.stop()
    evs = mine(read_events(path), gt)
    assert [e["type"] for e in evs] == ["connect"], evs


def test_packaged_example_config_is_valid():
    """packaging/tcpship.json, pointed at a temp dir, starts and ships."""
    require_root()
    d = tmpdir()
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cfg = json.load(open(os.path.join(here, "packaging", "tcpship.json")))
    for o in cfg["outputs"]:
        if o["type"] == "file":
            o["path"] = os.path.join(d, "events.jsonl")
    cfg["outputs"] = [o for o in cfg["outputs"] if o["type"] in ("file", "stdout")]
    p = os.path.join(d, "c.json")
    json.dump(cfg, open(p, "w"))
    ts = Tcpship("-c", p)
    gt = trig("tcp_pair")
    ts.stop()
    assert len(mine(read_events(os.path.join(d, "events.jsonl")), gt)) == 4
