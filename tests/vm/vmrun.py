#!/usr/bin/python3
"""Boot Debian 12's own kernel in QEMU with a throwaway initramfs holding
tcpship and the trigger programs, run tests/vm/guest.sh in it, and hand back
what it printed on the serial console. Standard library only.

    tests/vm/vmrun.py kernel      fetch + unpack the kernel (cached), print paths
    tests/vm/vmrun.py initramfs   build .output/vm/initramfs.cpio, print its path
    tests/vm/vmrun.py run         both, boot, print the console (exit 1 on failure)

The kernel package is whatever `linux-image-amd64` depends on right now
(apt-cache), fetched with `apt-get download` (never installed), and only
boot/vmlinuz-* and boot/config-* are taken out of it. The bzImage's payload
is uncompressed into a plain ELF vmlinux, which QEMU boots directly through
its PVH entry point (Xen ELF note PHYS32_ENTRY). Everything lives under
.output/vm/ and /tmp.

Environment: VM_ACCEL (tcg; kvm only where /dev/kvm is real VT-x/AMD-V),
VM_TIMEOUT (seconds for the whole boot, default 180), VM_KERNEL (a vmlinuz
or vmlinux to boot instead of Debian's current one), VM_INIT (another /init
script, for poking at the guest by hand), VM_QEMU (the QEMU binary).
"""
import bz2
import glob
import hashlib
import lzma
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, ".output", "vm")
KCACHE = os.path.join(OUT, "kernel")
META_PACKAGE = "linux-image-amd64"
QEMU = os.environ.get("VM_QEMU") or "qemu-system-x86_64"
MARK = "@@TSVM"


class Unavailable(Exception):
    """The VM cannot be had on this machine (no qemu, no kernel, ...)."""


def log(msg):
    print(f"  vm: {msg}", flush=True)


def run(cmd, timeout=300, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


# ---------------------------------------------------------------- kernel

def resolve_package():
    """The kernel package linux-image-amd64 depends on, and its version,
    from the local apt lists."""
    if not shutil.which("apt-cache"):
        raise Unavailable("apt-cache not found: the kernel comes from Debian's archive")
    p = run(["apt-cache", "depends", META_PACKAGE])
    m = re.search(r"^\s*Depends:\s*(linux-image-\S+)", p.stdout, re.M)
    if p.returncode or not m:
        raise Unavailable(f"apt-cache cannot resolve {META_PACKAGE} "
                          f"({(p.stderr or p.stdout).strip()[:200] or 'no linux-image dependency'})"
                          f"; run apt-get update")
    pkg = m.group(1)
    p = run(["apt-cache", "policy", pkg])
    m = re.search(r"^\s*Candidate:\s*(\S+)", p.stdout, re.M)
    if p.returncode or not m or m.group(1) == "(none)":
        raise Unavailable(f"apt-cache knows no candidate version of {pkg}")
    return pkg, m.group(1)


def cache_dir(pkg, version):
    safe = re.sub(r"[^A-Za-z0-9.+~_-]", "_", f"{pkg}_{version}")
    return os.path.join(KCACHE, safe)


def cached_kernels():
    """Complete kernel cache entries, newest first."""
    dirs = [d for d in glob.glob(os.path.join(KCACHE, "*"))
            if os.path.exists(os.path.join(d, "vmlinux"))]
    return sorted(dirs, key=lambda d: os.path.getmtime(os.path.join(d, "vmlinux")),
                  reverse=True)


def download(pkg, version, dest):
    """apt-get download the package into a /tmp folder and unpack what we
    need into dest; returns (download s, extract s, uncompress s, bytes)."""
    tmp = tempfile.mkdtemp(prefix="tcpship-vm-deb-")
    try:
        if os.geteuid() == 0:
            try:
                shutil.chown(tmp, user="_apt")	# apt downloads as _apt when it can
            except (LookupError, OSError):
                pass
        t0 = time.monotonic()
        p = run(["apt-get", "download", "-q", f"{pkg}={version}"], cwd=tmp, timeout=600)
        debs = glob.glob(os.path.join(tmp, "*.deb"))
        if p.returncode or len(debs) != 1:
            err = [l for l in (p.stderr + p.stdout).splitlines() if l.startswith("E:")]
            err = err[0] if err else (p.stderr or p.stdout).strip()
            raise Unavailable(f"apt-get download {pkg}={version} failed (no network to "
                              f"Debian's archive, or stale lists: apt-get update): "
                              f"{err[:300] or p.returncode}")
        t_dl = time.monotonic() - t0
        t_x, t_z = extract(debs[0], dest)
        return t_dl, t_x, t_z, os.path.getsize(debs[0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def extract(deb, dest):
    """boot/vmlinuz-* and boot/config-* out of the package, nothing else,
    and the vmlinux inside the vmlinuz. Returns (extract s, uncompress s)."""
    tmp = tempfile.mkdtemp(prefix="tcpship-vm-x-")
    t0 = time.monotonic()
    try:
        dpkg = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-x", "-C", tmp, "--wildcards", "./boot/vmlinuz-*",
                              "./boot/config-*"], stdin=dpkg.stdout, capture_output=True,
                             text=True, timeout=300)
        dpkg.stdout.close()
        if dpkg.wait(60) or tar.returncode:
            raise RuntimeError(f"extracting {deb}: {tar.stderr.strip()[:300]}")
        vmlinuz = glob.glob(os.path.join(tmp, "boot", "vmlinuz-*"))
        config = glob.glob(os.path.join(tmp, "boot", "config-*"))
        if len(vmlinuz) != 1 or len(config) != 1:
            raise RuntimeError(f"{deb}: expected one vmlinuz and one config, got "
                               f"{vmlinuz} {config}")
        os.makedirs(dest, exist_ok=True)
        shutil.copyfile(config[0], os.path.join(dest, "config"))
        with open(os.path.join(dest, "release"), "w") as f:
            f.write(os.path.basename(vmlinuz[0])[len("vmlinuz-"):] + "\n")
        shutil.copyfile(vmlinuz[0], os.path.join(dest, "vmlinuz"))
        t_x = time.monotonic() - t0
        t0 = time.monotonic()
        to_vmlinux(os.path.join(dest, "vmlinuz"), os.path.join(dest, "vmlinux"))
        return t_x, time.monotonic() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Compression formats of the bzImage payload, by their magic bytes.
def _xz(data):
    d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    return d.decompress(data)


def _lzma(data):
    d = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    return d.decompress(data)


def _gzip(data):
    return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(data)


def _bzip2(data):
    return bz2.BZ2Decompressor().decompress(data)


def _zstd(data):
    if not shutil.which("zstd"):
        raise RuntimeError("the kernel payload is zstd: install zstd to unpack it")
    p = subprocess.run(["zstd", "-dc"], input=data, capture_output=True, timeout=120)
    if not p.stdout.startswith(b"\x7fELF"):
        raise RuntimeError(f"zstd: {p.stderr[:200]!r}")
    return p.stdout


PAYLOAD_FORMATS = [
    (b"\xfd7zXZ\x00", "xz", _xz),
    (b"\x1f\x8b", "gzip", _gzip),
    (b"\x28\xb5\x2f\xfd", "zstd", _zstd),
    (b"BZh", "bzip2", _bzip2),
    (b"\x5d\x00\x00", "lzma", _lzma),
]


def bzimage_payload(img):
    """(compressed payload, format name, decompressor) of a bzImage.

    The x86 boot protocol (Documentation/arch/x86/boot.rst) puts the setup
    header at 0x1f1: setup_sects (1 byte, 0 means 4) at 0x1f1, "HdrS" at
    0x202, the protocol version at 0x206, and since 2.08 payload_offset and
    payload_length (4 bytes each) at 0x248/0x24c. The protected-mode part
    starts after the boot sector and the setup sectors; payload_offset is
    relative to it."""
    if len(img) < 0x250 or img[0x202:0x206] != b"HdrS":
        raise RuntimeError("not a bzImage (no HdrS setup header)")
    version = struct.unpack_from("<H", img, 0x206)[0]
    if version < 0x208:
        raise RuntimeError(f"boot protocol {version >> 8}.{version & 0xff} has no payload fields")
    setup_sects = img[0x1f1] or 4
    off, length = struct.unpack_from("<II", img, 0x248)
    start = (setup_sects + 1) * 512 + off
    payload = img[start:start + length]
    for magic, name, fn in PAYLOAD_FORMATS:
        if payload.startswith(magic):
            return payload, name, fn
    raise RuntimeError(f"unknown payload compression (starts {payload[:6].hex()})")


def to_vmlinux(vmlinuz, vmlinux):
    """Uncompress a bzImage's payload into the ELF vmlinux it holds."""
    with open(vmlinuz, "rb") as f:
        img = f.read()
    payload, name, fn = bzimage_payload(img)
    elf = fn(payload)
    if not elf.startswith(b"\x7fELF"):
        raise RuntimeError(f"{name} payload did not uncompress to an ELF file")
    tmp = vmlinux + ".tmp"
    with open(tmp, "wb") as f:
        f.write(elf)
    os.replace(tmp, vmlinux)
    return name


def kernel():
    """A dict: vmlinux, config, pkg, version, release, how it was had."""
    custom = os.environ.get("VM_KERNEL")
    if custom:
        with open(custom, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        d = os.path.join(KCACHE, f"custom-{digest}")
        vmlinux = os.path.join(d, "vmlinux")
        if not os.path.exists(vmlinux):
            os.makedirs(d, exist_ok=True)
            with open(custom, "rb") as f:
                head = f.read(4)
            if head == b"\x7fELF":
                shutil.copyfile(custom, vmlinux)
            else:
                to_vmlinux(custom, vmlinux)
        return dict(vmlinux=vmlinux, config=None, pkg=custom, version="custom", how="VM_KERNEL")
    try:
        pkg, version = resolve_package()
    except Unavailable as e:
        have = cached_kernels()
        if not have:
            raise
        log(f"{e}; using the cached {os.path.basename(have[0])}")
        return from_cache(have[0], "cached (apt-cache unusable)")
    d = cache_dir(pkg, version)
    if os.path.exists(os.path.join(d, "vmlinux")):
        return from_cache(d, "cached", pkg, version)
    try:
        t_dl, t_x, t_z, size = download(pkg, version, d)
    except Unavailable as e:
        shutil.rmtree(d, ignore_errors=True)
        have = cached_kernels()
        if not have:
            raise
        log(f"{e}; using the cached {os.path.basename(have[0])}")
        return from_cache(have[0], "cached (download failed)")
    except Exception:
        shutil.rmtree(d, ignore_errors=True)
        raise
    k = from_cache(d, f"downloaded {size / 1e6:.1f} MB in {t_dl:.1f} s, vmlinuz and config "
                      f"extracted in {t_x:.1f} s, vmlinux uncompressed in {t_z:.1f} s",
                   pkg, version)
    return k


def from_cache(d, how, pkg=None, version=None):
    if pkg is None:
        pkg, _, version = os.path.basename(d).partition("_")
    release = ""
    if os.path.exists(os.path.join(d, "release")):
        with open(os.path.join(d, "release")) as f:
            release = f.read().strip()
    return dict(vmlinux=os.path.join(d, "vmlinux"), config=os.path.join(d, "config"),
                pkg=pkg, version=version, release=release, how=how)


# ------------------------------------------------------------- initramfs

class Cpio:
    """A cpio archive in the "newc" format the kernel unpacks (070701)."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.ino = 1
        self.names = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name = name.lstrip("/")
        if name in self.names:
            return
        self.names.add(name)
        nb = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1 if not stat.S_ISDIR(mode) else 2, 0, len(data),
                  0, 0, rdev[0], rdev[1], len(nb), 0]
        self.ino += 1
        hdr = b"070701" + b"".join(b"%08X" % v for v in fields)
        self.f.write(hdr + nb)
        self.f.write(b"\0" * (-(len(hdr) + len(nb)) % 4))
        self.f.write(data)
        self.f.write(b"\0" * (-len(data) % 4))

    def dir(self, name):
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self._entry("/".join(parts[:i]), stat.S_IFDIR | 0o755)

    def file(self, name, src=None, data=None, mode=0o755):
        if data is None:
            with open(src, "rb") as f:
                data = f.read()
        parent = os.path.dirname(name.strip("/"))
        if parent:
            self.dir(parent)
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        parent = os.path.dirname(name.strip("/"))
        if parent:
            self.dir(parent)
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor):
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def close(self):
        self.ino = 0
        self._entry("TRAILER!!!", 0)
        self.f.close()


def shared_libs(binary):
    """What ldd says the binary loads (the dynamic loader included)."""
    p = run(["ldd", binary])
    if p.returncode and ("not a dynamic" in p.stdout + p.stderr or
                         "statically linked" in p.stdout + p.stderr):
        return []
    if p.returncode:
        raise RuntimeError(f"ldd {binary}: {p.stderr.strip()}")
    libs = []
    for line in p.stdout.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            libs.append(m.group(1))
        elif "=>" in line and "not found" in line:
            raise RuntimeError(f"ldd {binary}: {line.strip()}")
    return libs


def busybox():
    bb = shutil.which("busybox") or ("/bin/busybox" if os.path.exists("/bin/busybox") else None)
    if not bb:
        raise Unavailable("busybox not found (apt-get install busybox-static)")
    return bb


def initramfs(path=None):
    """The guest's root: busybox, tcpship, the triggers, their libraries,
    and tests/vm/guest.sh as /init. Returns (path, size, seconds)."""
    t0 = time.monotonic()
    path = path or os.path.join(OUT, "initramfs.cpio")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tcpship = os.path.join(ROOT, "tcpship")
    trig_dir = os.path.join(ROOT, ".output", "trig")
    if not os.access(tcpship, os.X_OK):
        raise RuntimeError(f"{tcpship} missing: run make")
    trigs = sorted(glob.glob(os.path.join(trig_dir, "*")))
    if not trigs:
        raise RuntimeError(f"no trigger programs in {trig_dir}: run make")
    bb = busybox()
    tmp = path + ".tmp"
    c = Cpio(tmp)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "run",
              "etc", "trig"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.file("bin/busybox", bb)
    c.symlink("bin/sh", "busybox")
    c.file("init", os.environ.get("VM_INIT") or os.path.join(HERE, "guest.sh"))
    c.file("bin/tcpship", tcpship)
    for t in trigs:
        c.file(f"trig/{os.path.basename(t)}", t)
    c.file("etc/passwd", data=b"root:x:0:0:root:/:/bin/sh\n", mode=0o644)
    c.file("etc/group", data=b"root:x:0:\n", mode=0o644)
    libs = set()
    for b in [bb, tcpship, *trigs]:
        libs.update(shared_libs(b))
    for lib in sorted(libs):
        c.file(lib, os.path.realpath(lib))
    c.close()
    os.replace(tmp, path)
    return path, os.path.getsize(path), time.monotonic() - t0


# ------------------------------------------------------------------ boot

def qemu_cmd(vmlinux, initrd, accel):
    cmd = [QEMU, "-accel", accel, "-m", "512", "-smp", "1", "-nodefaults",
           "-display", "none", "-serial", "stdio", "-no-reboot",
           "-kernel", vmlinux, "-initrd", initrd,
           "-append", "console=ttyS0 panic=-1 quiet"]
    if accel == "kvm":
        cmd[3:3] = ["-cpu", "host"]
    return cmd


def preflight():
    """What the VM needs on this machine, checked before any download."""
    if os.uname().machine != "x86_64":
        raise Unavailable(f"the VM test boots x86-64 kernels; this is {os.uname().machine}")
    if not shutil.which(QEMU):
        raise Unavailable(f"{QEMU} not found (apt-get install qemu-system-x86)")
    busybox()
    for tool in ("ldd", "dpkg-deb", "tar"):
        if not shutil.which(tool):
            raise Unavailable(f"{tool} not found")


def boot(k, initrd, timeout=None):
    """Boot; returns (console text, seconds, qemu exit status or None when
    it ran out of time and was killed, the command line). What the guest
    printed is kept either way, also in .output/vm/console.log."""
    accel = os.environ.get("VM_ACCEL") or "tcg"
    timeout = timeout or float(os.environ.get("VM_TIMEOUT") or 180)
    cmd = qemu_cmd(k["vmlinux"], initrd, accel)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        rc = None
    secs = time.monotonic() - t0
    text = out.decode("utf-8", errors="surrogateescape").replace("\r\n", "\n")
    with open(os.path.join(OUT, "console.log"), "w", errors="surrogateescape") as f:
        f.write(" ".join(cmd) + "\n" + text)
    return text, secs, rc, " ".join(cmd)


def sections(text):
    """{name: [lines]} of everything the guest printed between
    `@@TSVM begin NAME` and `@@TSVM end NAME`, plus its single-line
    `@@TSVM key=value` reports under '@'."""
    out, cur, name = {"@": {}}, None, None
    for line in text.split("\n"):
        if line.startswith(MARK + " begin "):
            name, cur = line[len(MARK) + 7:].strip(), []
        elif line.startswith(MARK + " end ") and cur is not None:
            out[name] = cur
            name, cur = None, None
        elif cur is not None:
            cur.append(line)
        elif line.startswith(MARK + " "):
            k, _, v = line[len(MARK) + 1:].partition("=")
            out["@"][k.strip()] = v.strip()
    return out


def main(argv):
    what = argv[1] if len(argv) > 1 else "run"
    try:
        preflight()
        k = kernel()
        log(f"kernel {k['pkg']} {k['version']} ({k['how']}): {k['vmlinux']}")
        if what == "kernel":
            return 0
        path, size, secs = initramfs()
        log(f"initramfs {path}: {size / 1e6:.1f} MB in {secs:.2f} s")
        if what == "initramfs":
            return 0
        text, secs, rc, cmd = boot(k, path)
        sys.stdout.write(text)
        s = sections(text)
        log(f"{cmd}\n  vm: qemu exit {rc} after {secs:.1f} s; guest: {s['@']}")
        return 0 if rc == 0 and s["@"].get("exit-code") == "0" else 1
    except Unavailable as e:
        print(f"tcpship-vm: unavailable: {e}", file=sys.stderr)
        return 77


if __name__ == "__main__":
    sys.exit(main(sys.argv))
