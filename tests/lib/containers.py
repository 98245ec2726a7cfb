"""Real containers for the identity tests: runc (Debian's) running a
busybox-static rootfs, with the bundle, the runc root and the runtime's
metadata files laid out under a private fake host root exactly where
containerd, CRI-O and docker put theirs, so that tcpship --host-root ROOT
finds them as it would on a node. Every container has its own network
namespace (loopback up) and a cgroupsPath shaped like one of the cgroup
drivers' (runc's cgroupfs driver makes the path as given: PID 1 here is
not systemd). Everything is removed at cleanup, also after a failure.
"""
import json
import os
import secrets
import shutil
import subprocess
import uuid

from tslib import Skip, at_cleanup, netns, sh, tmpdir, wait_until

UNIFIED = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
PORT = 8080
BUSYBOX = "/bin/busybox"

TASKS = "run/containerd/io.containerd.runtime.v2.task"


def require_runc():
    if not shutil.which("runc"):
        raise Skip("runc is not installed (packaging/deps.sh test installs it)")
    if not os.path.exists(BUSYBOX):
        raise Skip("busybox-static is not installed")


def _rootfs(path):
    """busybox and the applets the tests use; / holds an index page."""
    os.makedirs(os.path.join(path, "bin"))
    for d in ("proc", "dev", "sys", "tmp", "www", "etc"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for app in ("sh", "httpd", "wget", "sleep", "nc", "cat"):
        os.symlink("busybox", os.path.join(path, "bin", app))
    with open(os.path.join(path, "www", "index.html"), "w") as f:
        f.write("hello from a container\n")


def _spec(bundle, args, netns_path, cgroups_path, annotations):
    subprocess.run(["runc", "spec", "--bundle", bundle], check=True, capture_output=True)
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    spec["root"] = {"path": os.path.join(bundle, "rootfs"), "readonly": False}
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["process"]["cwd"] = "/"
    spec["hostname"] = "ctr"
    ns = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
    ns.append({"type": "network", "path": netns_path})
    spec["linux"]["namespaces"] = ns
    spec["linux"]["cgroupsPath"] = cgroups_path
    spec["annotations"] = annotations
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f, indent=1)


class Container:
    """One running container. id, runtime, cgroup (its cgroup v2 path),
    netns (name), netns_ino, pid (host pid of its init), meta (what the
    runtime's files say, by event key: container_name, pod, pod_namespace,
    pod_uid, image)."""

    def __init__(self, hostroot, runtime, driver, meta=True, args=None, cid=None):
        require_runc()
        self.hostroot = hostroot
        self.runtime = runtime
        self.id = cid or secrets.token_hex(32)
        self.pod_uid = str(uuid.uuid4())
        self.meta = {}
        self.netns = netns("tsct-" + secrets.token_hex(4))
        self.netns_ino = os.stat("/run/netns/" + self.netns).st_ino
        self.cgroup = self._cgroup_path(runtime, driver)
        self.args = args or ["httpd", "-f", "-p", "127.0.0.1:%d" % PORT, "-h", "/www"]
        bundle, root, annotations = self._layout(meta)
        self.runc_root = root
        os.makedirs(root, exist_ok=True)
        _rootfs(os.path.join(bundle, "rootfs"))
        _spec(bundle, self.args, "/run/netns/" + self.netns, self.cgroup, annotations)
        at_cleanup(self.remove)
        # the container keeps runc's stdio: a file, not a pipe nobody closes
        log = os.path.join(bundle, "runc.log")
        with open(log, "w+b") as err:
            p = subprocess.run(["runc", "--root", root, "run", "-d", "--bundle", bundle,
                                self.id], stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                               timeout=30)
            err.seek(0)
            if p.returncode:
                raise AssertionError(f"runc run: {err.read().decode(errors='replace')[-600:]}")
        self.pid = self.state()["pid"]
        # the server listens once its process runs
        wait_until(lambda: self.listening(), 10, "httpd listening in the container")

    def _cgroup_path(self, runtime, driver):
        uid_ = self.pod_uid.replace("-", "_")
        if runtime == "docker":
            return f"/docker/{self.id}" if driver == "cgroupfs" else \
                f"/system.slice/docker-{self.id}.scope"
        if driver == "cgroupfs":
            # CRI-O names its cgroupfs leaf crio-<id>; containerd the bare id
            leaf = self.id if runtime == "containerd" else "crio-" + self.id
            return f"/kubepods/besteffort/pod{self.pod_uid}/{leaf}"
        prefix = "cri-containerd" if runtime == "containerd" else "crio"
        return (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/"
                f"{prefix}-{self.id}.scope")

    def _layout(self, meta):
        """The bundle folder, the runc root and the bundle's annotations, as
        the runtime makes them; its metadata file when meta."""
        hr = self.hostroot
        name = "web-" + secrets.token_hex(2)
        if self.runtime == "containerd":
            bundle = os.path.join(hr, TASKS, "k8s.io", self.id)
            root = os.path.join(hr, "run/containerd/runc/k8s.io")
            self.meta = {"container_name": name, "pod": "shop-7d4b9-x2k", "pod_namespace": "shop",
                         "pod_uid": self.pod_uid, "image": "docker.io/library/nginx:1.25"}
            ann = {"io.kubernetes.cri.container-type": "container",
                   "io.kubernetes.cri.container-name": name,
                   "io.kubernetes.cri.sandbox-id": secrets.token_hex(32),
                   "io.kubernetes.cri.sandbox-name": self.meta["pod"],
                   "io.kubernetes.cri.sandbox-namespace": self.meta["pod_namespace"],
                   "io.kubernetes.cri.sandbox-uid": self.pod_uid,
                   "io.kubernetes.cri.image-name": self.meta["image"]}
        elif self.runtime == "cri-o":
            bundle = os.path.join(hr, "run/containers/storage/overlay-containers", self.id,
                                  "userdata")
            root = os.path.join(hr, "run/runc")
            self.meta = {"container_name": name, "pod": "db-0", "pod_namespace": "data",
                         "pod_uid": self.pod_uid, "image": "quay.io/acme/postgres:16"}
            ann = {"io.kubernetes.container.name": name,
                   "io.kubernetes.pod.name": self.meta["pod"],
                   "io.kubernetes.pod.namespace": self.meta["pod_namespace"],
                   "io.kubernetes.pod.uid": self.pod_uid,
                   "io.kubernetes.cri-o.ContainerType": "container",
                   "io.kubernetes.cri-o.ContainerID": self.id,
                   "io.kubernetes.cri-o.ImageName": self.meta["image"],
                   "io.kubernetes.cri-o.Name": f"k8s_{name}_db-0_data_{self.pod_uid}_0"}
        else:   # docker: the moby task bundle, and docker's own config.v2.json
            bundle = os.path.join(hr, TASKS, "moby", self.id)
            root = os.path.join(hr, "run/docker/runtime-runc/moby")
            self.meta = {"container_name": name, "image": "acme/api:2"}
            ann = {}
            if meta:
                d = os.path.join(hr, "var/lib/docker/containers", self.id)
                os.makedirs(d)
                with open(os.path.join(d, "config.v2.json"), "w") as f:
                    json.dump({"ID": self.id, "Name": "/" + name, "Path": "httpd",
                               "Config": {"Image": self.meta["image"],
                                          "Labels": {"team": "payments"}},
                               "State": {"Running": True}}, f)
        if not meta:
            self.meta = {}
            ann = {}
        os.makedirs(bundle, exist_ok=True)
        return bundle, root, ann

    def state(self):
        p = sh("runc", "--root", self.runc_root, "state", self.id)
        return json.loads(p.stdout)

    def listening(self):
        p = sh("ip", "netns", "exec", self.netns, "ss", "-Htln", f"sport = :{PORT}", check=False)
        return str(PORT) in p.stdout

    def exec(self, *args, timeout=20):
        """A new process in the container (runc exec: it joins the cgroup
        and namespaces, then execs args at once)."""
        return subprocess.run(["runc", "--root", self.runc_root, "exec", self.id, *args],
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def fetch(self):
        """One HTTP request from a new process inside: connect, accept, two closes."""
        p = self.exec("wget", "-q", "-O", "-", f"http://127.0.0.1:{PORT}/")
        if p.returncode or "hello" not in p.stdout:
            raise AssertionError(f"wget in {self.id[:12]}: {p.returncode} {p.stderr}")

    def remove(self):
        subprocess.run(["runc", "--root", self.runc_root, "delete", "-f", self.id],
                       capture_output=True, timeout=30)
        for top in _hierarchies():
            # runc removes its own (once the last task is gone); the
            # parents (the pod's folders) are ours, and empty ones only go
            d = top + self.cgroup
            if os.path.isdir(d):
                wait_until(lambda: _rmdir(d), 5, "cgroup " + d + " removed")
            d = os.path.dirname(d)
            while (d.startswith(top + "/kubepods") or d == top + "/docker") and _rmdir(d):
                d = os.path.dirname(d)


def _rmdir(d):
    try:
        os.rmdir(d)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _hierarchies():
    tops = [UNIFIED]
    base = "/sys/fs/cgroup"
    if UNIFIED != base:
        for n in os.listdir(base):
            p = os.path.join(base, n)
            if os.path.isdir(p) and not os.path.islink(p) and n != "unified":
                tops.append(p)
    return tops


def hostroot():
    """A fake host root (tcpship's --host-root) for this test."""
    return tmpdir()


class HostService:
    """A process of the host in a cgroup shaped like a systemd service's,
    /system.slice/tsdemo-<rand>.service, running cmd."""

    def __init__(self):
        self.unit = "tsdemo-%s.service" % secrets.token_hex(3)
        self.cgroup = "/system.slice/" + self.unit
        self.dir = UNIFIED + self.cgroup
        os.makedirs(self.dir, exist_ok=True)
        at_cleanup(self.remove)

    def run(self, cmd, **kw):
        """cmd as a process of the service (moved into its cgroup before exec)."""
        return subprocess.run(["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"',
                               self.dir, *cmd], capture_output=True, text=True,
                              timeout=kw.get("timeout", 30), stdin=subprocess.DEVNULL)

    def remove(self):
        try:
            os.rmdir(self.dir)
        except OSError:
            pass
