"""packaging/k8s/daemonset.yaml's container, run by runc the way a
container runtime would run it on a node: its securityContext (uid 0, all
capabilities dropped but BPF and PERFMON, no privilege escalation, a
read-only root), hostPID, its volumes (BTF, tracefs, the host's root
read-only, the queue folder) and its args with the downward API's node
name. No Kubernetes runs here; everything below is read from the manifest,
so a change to it is what the test runs."""
import json
import os
import re
import secrets
import shutil
import subprocess
import urllib.request

import yaml

from containers import require_runc
from tslib import ROOT, TCPSHIP, at_cleanup, netns, sh, tmpdir, trig, wait_until

MANIFEST = os.path.join(ROOT, "packaging", "k8s", "daemonset.yaml")
CAP_BITS = {"CAP_BPF": 39, "CAP_PERFMON": 38}


def container_spec():
    with open(MANIFEST) as f:
        ds = yaml.safe_load(f)
    pod = ds["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    return pod, c


def bundle_for(pod, c, node, queue_dir, ns):
    """A runc bundle of the manifest's container: the image is the host's
    /usr and /etc, read-only, with tcpship at /tcpship."""
    sc = c["securityContext"]
    bundle = tmpdir()
    rootfs = os.path.join(bundle, "rootfs")
    for d in ("usr", "etc", "proc", "sys", "dev", "tmp", "host", "var/lib/tcpship"):
        os.makedirs(os.path.join(rootfs, d))
    for link in ("bin", "sbin", "lib", "lib64"):
        if os.path.islink("/" + link):
            os.symlink(os.readlink("/" + link), os.path.join(rootfs, link))
    shutil.copy(TCPSHIP, os.path.join(rootfs, "tcpship"))
    subprocess.run(["runc", "spec", "--bundle", bundle], check=True, capture_output=True)
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    env = {e["name"]: node for e in c.get("env", [])
           if e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName"}
    args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in c["args"]]
    assert sc["capabilities"]["drop"] == ["ALL"], sc
    caps = ["CAP_" + x for x in sc["capabilities"]["add"]]
    proc = spec["process"]
    proc.update(terminal=False, args=["/tcpship", *args], cwd="/",
                user={"uid": sc.get("runAsUser", 0), "gid": sc.get("runAsGroup", 0)},
                noNewPrivileges=not sc["allowPrivilegeEscalation"])
    # what containerd gives uid 0: the added set is bounding, effective
    # and permitted; nothing inheritable or ambient
    proc["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps,
                            "inheritable": [], "ambient": []}
    spec["root"] = {"path": rootfs, "readonly": sc["readOnlyRootFilesystem"]}
    spec["hostname"] = "tcpship-pod"
    nss = [n for n in spec["linux"]["namespaces"] if n["type"] not in ("network", "pid")]
    if not pod.get("hostPID"):
        nss.append({"type": "pid"})
    nss.append({"type": "network", "path": "/run/netns/" + ns})
    spec["linux"]["namespaces"] = nss
    spec["linux"]["cgroupsPath"] = "/tcpship-ds-" + secrets.token_hex(4)
    mounts = [{"destination": d, "type": "bind", "source": d, "options": ["rbind", "ro"]}
              for d in ("/usr", "/etc")]
    vols = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"]}
    for m in c["volumeMounts"]:
        src = vols[m["name"]]
        if src == "/var/lib/tcpship":
            src = queue_dir     # not the machine's own
        opts = ["rbind", "ro" if m.get("readOnly") else "rw"]
        if m.get("mountPropagation") == "HostToContainer":
            opts.append("rslave")
        mounts.append({"destination": m["mountPath"], "type": "bind", "source": src,
                       "options": opts})
    spec["mounts"] += mounts
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f, indent=1)
    return bundle, caps


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def test_daemonset_container_ships_events_with_its_security_context():
    require_runc()
    pod, c = container_spec()
    assert re.search(r":\d+\.\d+\.\d+$", c["image"]), c["image"]     # a release, not :latest
    assert c["securityContext"]["capabilities"]["add"] == ["BPF", "PERFMON"]
    node = "node-" + secrets.token_hex(3)
    ns = netns("tsds")
    queue = tmpdir()
    bundle, caps = bundle_for(pod, c, node, queue, ns)
    runc_root = os.path.join(tmpdir(), "runc")
    cid = "tcpship-ds-" + secrets.token_hex(4)
    out, err = (open(os.path.join(bundle, n), "w+b") for n in ("out", "err"))
    at_cleanup(lambda: subprocess.run(["runc", "--root", runc_root, "delete", "-f", cid],
                                      capture_output=True, timeout=30))
    p = subprocess.run(["runc", "--root", runc_root, "run", "-d", "--bundle", bundle, cid],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=60)
    assert p.returncode == 0, open(err.name, errors="replace").read()[-800:]

    def said():
        with open(err.name, errors="replace") as f:
            return f.read()
    # ("exit" alone is in the hook report: sched_process_exit)
    wait_until(lambda: "tcpship: ready" in said() or "tcpship: exit" in said() or
               subprocess.run(["runc", "--root", runc_root, "state", cid],
                              capture_output=True).returncode != 0, 30,
               f"the container's tcpship ready: {said()[-600:]}")
    assert "tcpship: ready" in said(), said()[-800:]
    assert "not available" not in said(), said()      # every hook set attached
    state = json.loads(sh("runc", "--root", runc_root, "state", cid).stdout)
    st = status(state["pid"])
    want = sum(1 << CAP_BITS[x] for x in caps)
    assert int(st["CapEff"], 16) == want and int(st["CapBnd"], 16) == want, st
    assert st["NoNewPrivs"] == "1" and st["Uid"].split()[0] == "0", st

    gts = [trig("tcp_pair") for _ in range(3)]
    pids = {g[k] for g in gts for k in ("client_pid", "server_pid")}

    def mine():
        with open(out.name, "rb") as f:
            evs = [json.loads(l) for l in f.read().split(b"\n") if l.strip()]
        return [e for e in evs if e.get("pid") in pids]
    wait_until(lambda: len(mine()) >= 12, 15, "the triggers' events on the container's stdout")
    evs = mine()
    assert {e["type"] for e in evs} == {"connect", "accept", "close"}, evs
    assert all(e["host"] == node for e in evs), {e["host"] for e in evs}
    assert all(e.get("exe", "").endswith("/tcp_pair") for e in evs), evs[0]
    # the probes' endpoint, from the pod's network namespace
    h = sh("ip", "netns", "exec", ns, "python3", "-c",
           "import urllib.request as u; print(u.urlopen('http://127.0.0.1:9464/healthz',"
           " timeout=5).status)")
    assert h.stdout.strip() == "200", (h.stdout, h.stderr)
    sh("runc", "--root", runc_root, "kill", cid, "TERM")
    wait_until(lambda: "tcpship: exit:" in said(), 20, "the exit line")
    exit_line = [l for l in said().splitlines() if l.startswith("tcpship: exit:")][0]
    assert " lost_kernel=0 " in exit_line and "dropped_error=0" in exit_line, exit_line
