"""Who did it, with real containers: runc runs busybox-static containers
whose bundles, runc roots and metadata files sit where containerd, CRI-O
and docker put theirs (under a fake host root given as --host-root), in
cgroups shaped like both cgroup drivers' paths, each in its own network
namespace. The events of their traffic are matched by the container's
netns and port; the keys are checked against what the harness made."""
import base64
import hashlib
import ipaddress
import json
import os
import re
import secrets
import struct

import containers
from containers import PORT, Container, HostService
from tslib import TRIG, Tcpship, at_cleanup, require_root, run_tcpship, tmpdir, wait_until

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def community_id(saddr, daddr, sport, dport, proto=6, seed=0):
    """Community ID v1, from the spec (not from tcpship's code)."""
    a, b = ipaddress.ip_address(saddr).packed, ipaddress.ip_address(daddr).packed
    if (a, sport) > (b, dport):
        a, b, sport, dport = b, a, dport, sport
    data = struct.pack("!H", seed) + a + b + struct.pack("!BBHH", proto, 0, sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def setup():
    require_root()
    containers.require_runc()
    return containers.hostroot()


def flow_events(ts, c):
    """The events of the container's HTTP flows: its netns, its port."""
    return ts.matching(lambda e: e.get("netns") == c.netns_ino and
                       PORT in (e.get("sport"), e.get("dport")))


def fetch_until_known(ts, c, timeout=15):
    """Fetch until a fetch's four events all carry the runtime's metadata
    (read off the reader's path: the first ones may carry the id alone)."""
    def one():
        before = {id(e) for e in flow_events(ts, c)}
        c.fetch()
        ts.wait_events(lambda e: e.get("netns") == c.netns_ino and e["type"] == "close" and
                       id(e) not in before, 2, what="the fetch's two closes")
        new = [e for e in flow_events(ts, c) if id(e) not in before]
        if len(new) >= 4 and all(all(k in e for k in c.meta) for e in new):
            return new
        return None
    return wait_until(one, timeout, "events with the container's metadata", interval=0.2)


def check_container_events(evs, c, runtime):
    types = sorted(e["type"] for e in evs)
    assert types == ["accept", "close", "close", "connect"], types
    for e in evs:
        assert e["container_id"] == c.id, e
        assert e["container_runtime"] == runtime, e
        assert e["cgroup"] == c.cgroup, e
        assert "unit" not in e, e
        assert e["exe"] == "/bin/busybox", e     # as the container sees it
        assert RFC3339.match(e["process_start"]), e
        assert isinstance(e["ppid"], int) and e["ppid"] > 0, e
        assert e["netns"] == c.netns_ino, e
        for k, v in c.meta.items():
            assert e[k] == v, (k, e)
        if runtime == "docker":
            assert not any(k in e for k in ("pod", "pod_namespace")), e
    # one flow, one id, the spec's
    conn = [e for e in evs if e["type"] == "connect"][0]
    want = community_id(conn["saddr"], conn["daddr"], conn["sport"], conn["dport"])
    assert all(e["community_id"] == want for e in evs), (want, evs)
    # the server is the container's init (httpd), a host pid
    acc = [e for e in evs if e["type"] == "accept"][0]
    assert acc["pid"] == c.pid, (acc, c.pid)
    with open(f"/proc/{c.pid}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    assert acc["ppid"] == ppid, (acc, ppid)


def run_case(runtime, driver):
    hr = setup()
    ts = Tcpship("--host-root", hr, "-e", "connect,accept,close")
    c = Container(hr, runtime, driver)
    evs = fetch_until_known(ts, c)
    check_container_events(evs, c, runtime)
    ts.assert_clean()
    ts.stop()


def test_containerd_cgroupfs_driver():
    run_case("containerd", "cgroupfs")


def test_containerd_systemd_driver():
    run_case("containerd", "systemd")


def test_crio_systemd_driver():
    run_case("cri-o", "systemd")


def test_crio_cgroupfs_driver():
    run_case("cri-o", "cgroupfs")


def test_docker_systemd_driver():
    run_case("docker", "systemd")


def test_docker_cgroupfs_driver():
    run_case("docker", "cgroupfs")


def test_unknown_metadata_is_absent_not_empty():
    """No runtime file for the container: the id from the path, nothing else."""
    hr = setup()
    ts = Tcpship("--host-root", hr, "-e", "connect,accept,close")
    c = Container(hr, "docker", "cgroupfs", meta=False)
    c.fetch()
    evs = ts.wait_events(lambda e: e.get("netns") == c.netns_ino, 4, what="4 events")
    for e in evs:
        assert e["container_id"] == c.id and e["container_runtime"] == "docker", e
        for k in ("container_name", "image", "pod", "pod_namespace", "pod_uid"):
            assert k not in e, (k, e)
    ts.stop()


def test_host_service_unit_and_exec_then_connect():
    """A host process in a systemd-shaped service cgroup: its unit, no
    container; it execs and connects at once, and still has its exe."""
    require_root()
    svc = HostService()
    ts = Tcpship("-e", "connect,accept,close")
    p = svc.run([os.path.join(TRIG, "tcp_pair")])
    assert p.returncode == 0, p.stderr
    gt = json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][-1])
    evs = ts.wait_events(lambda e: e.get("pid") in (gt["client_pid"], gt["server_pid"]) and
                         e["type"] in ("connect", "accept"), 2, what="connect and accept")
    for e in evs:
        assert e["unit"] == svc.unit and e["cgroup"] == svc.cgroup, e
        assert not any(k.startswith(("container", "pod")) or k == "image" for k in e), e
        assert e["exe"] == os.path.realpath(os.path.join(TRIG, "tcp_pair")), e
    ts.stop()


def host_and_container_traffic(ts, hr, svc, *ctrs):
    """Host traffic first, then each container's; returns the host pids."""
    p = svc.run([os.path.join(TRIG, "tcp_pair")])
    assert p.returncode == 0, p.stderr
    gt = json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][-1])
    for c in ctrs:
        c.fetch()
    return {gt["client_pid"], gt["server_pid"]}


def test_container_filter_prefix_full_and_repeated():
    hr = setup()
    svc = HostService()
    a = Container(hr, "containerd", "cgroupfs")
    b = Container(hr, "cri-o", "systemd")
    other = Container(hr, "docker", "systemd")
    for args, want in (((a.id[:12],), [a]), ((b.id,), [b]), ((a.id[:20], b.id[:12]), [a, b])):
        flags = [x for i in args for x in ("--container", i)]
        ts = Tcpship("--host-root", hr, "-e", "connect,accept,close", *flags)
        host = host_and_container_traffic(ts, hr, svc, a, b, other)
        for c in want:
            # the closes too: softirq context, the flow's owner decides
            ts.wait_events(lambda e, c=c: e.get("container_id") == c.id and
                           e["type"] == "close", 2, what=f"{c.runtime} closes")
        ts.stop()
        ids = {e.get("container_id") for e in ts.events}
        assert ids == {c.id for c in want}, (args, ids)
        assert not ts.matching(lambda e: e.get("pid") in host), args


def test_cgroup_filter_subtree():
    hr = setup()
    svc = HostService()
    a = Container(hr, "containerd", "cgroupfs")     # under /kubepods
    b = Container(hr, "docker", "cgroupfs")         # under /docker
    ts = Tcpship("--host-root", hr, "-e", "connect,accept,close", "--cgroup", "/kubepods")
    host = host_and_container_traffic(ts, hr, svc, a, b)
    ts.wait_events(lambda e: e.get("container_id") == a.id and e["type"] == "close", 2,
                   what="the kubepods container's closes")
    ts.stop()
    assert {e.get("container_id") for e in ts.events} == {a.id}
    assert all(e["cgroup"].startswith("/kubepods/") for e in ts.events)
    assert not ts.matching(lambda e: e.get("pid") in host)


def test_container_started_after_the_filter():
    """A container whose cgroup is made while tcpship runs: the kernel's
    cgroup_mkdir hook lets it in."""
    hr = setup()
    pre = Container(hr, "docker", "systemd")
    top = containers.UNIFIED + "/kubepods.slice"
    made = not os.path.isdir(top)
    os.makedirs(top, exist_ok=True)
    if made:
        at_cleanup(lambda: os.rmdir(top))
    ts = Tcpship("--host-root", hr, "-e", "connect,accept,close", "--cgroup", "/kubepods.slice")
    late = Container(hr, "cri-o", "systemd")
    pre.fetch()
    late.fetch()
    ts.wait_events(lambda e: e.get("container_id") == late.id, 4, what="the late container")
    ts.stop()
    assert {e.get("container_id") for e in ts.events} == {late.id}


def test_container_filter_matches_a_cgroup_made_later():
    """--container for a container that does not exist yet: the kernel's
    cgroup_mkdir hook knows the runtimes' names (here CRI-O's cgroupfs
    leaf, crio-<id> without .scope) and lets its cgroup in."""
    hr = setup()
    cid = secrets.token_hex(32)
    other = Container(hr, "containerd", "cgroupfs")
    ts = Tcpship("--host-root", hr, "-e", "connect,accept,close", "--container", cid[:12])
    late = Container(hr, "cri-o", "cgroupfs", cid=cid)
    other.fetch()
    late.fetch()
    ts.wait_events(lambda e: e.get("container_id") == cid and e["type"] == "close", 2,
                   what="the late container's closes")
    ts.stop()
    assert {e.get("container_id") for e in ts.events} == {cid}
    assert late.cgroup.endswith("/crio-" + cid)


def test_filters_from_the_config_file():
    hr = setup()
    a = Container(hr, "containerd", "systemd")
    b = Container(hr, "docker", "systemd")
    cfg = os.path.join(tmpdir(), "tcpship.json")
    with open(cfg, "w") as f:
        json.dump({"host_root": hr, "events": ["connect", "accept", "close"],
                   "filters": {"container": [a.id[:16]]}}, f)
    ts = Tcpship("-c", cfg)
    a.fetch()
    b.fetch()
    evs = ts.wait_events(lambda e: e.get("container_id") == a.id, 4, what="a's events")
    assert evs[0].get("pod") in (None, a.meta["pod"]), evs[0]
    ts.stop()
    assert {e.get("container_id") for e in ts.events} == {a.id}


def test_filter_mistakes_are_one_line_and_exit_2():
    require_root()
    for args, words in ((("--cgroup", "/does/not/exist"), "no such cgroup"),
                        (("--container", "xyz"), "not a container id"),
                        (("--container", "0123456789a"), "not a container id"),
                        (("--cgroup", "kubepods"), "not a cgroup path")):
        p = run_tcpship(*args, "--duration", "1")
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and words in lines[0], (args, p.stderr)


def test_text_format_container_column():
    hr = setup()
    c = Container(hr, "containerd", "cgroupfs")
    ts = Tcpship("--host-root", hr, "--format", "text", "-e", "connect,accept,close")
    want = f"{c.meta['pod_namespace']}/{c.meta['pod']}"

    def row():
        c.fetch()
        return [l for l in ts.lines if want in l and f":{PORT}" in l]
    wait_until(row, 15, "a row naming the pod", interval=0.3)
    assert ts.lines[0].split()[5] == "CONTAINER", ts.lines[0]
    ts.stop()
