"""make package: debhelper builds a .deb lintian accepts, whose files are
what the README says, whose binary is stripped (its symbols in the
-dbgsym), whose unit runs as the user the package creates, and whose
man page renders and documents every option."""
import atexit
import configparser
import gzip
import os
import re
import shutil
import subprocess
import tempfile

import yaml

from tslib import ROOT, TCPSHIP

_built = {}


def built():
    """Build once per run: the .changes, and the two packages unpacked."""
    if _built:
        return _built
    d = tempfile.mkdtemp(prefix="tcpship-deb-")
    # kept for the module's later tests (at_cleanup runs after each test)
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    p = subprocess.run([os.path.join(ROOT, "packaging", "package.sh"), d], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    changes = p.stdout.strip().splitlines()[-1]
    debs = {}
    for name in os.listdir(os.path.dirname(changes)):
        m = re.match(r"(tcpship(?:-dbgsym)?)_.*\.deb$", name)
        if m:
            debs[m.group(1)] = os.path.join(os.path.dirname(changes), name)
    assert set(debs) == {"tcpship", "tcpship-dbgsym"}, os.listdir(os.path.dirname(changes))
    roots = {}
    for pkg, deb in debs.items():
        roots[pkg] = os.path.join(d, "x-" + pkg)
        subprocess.run(["dpkg-deb", "-x", deb, roots[pkg]], check=True)
    ctl = os.path.join(d, "control")
    subprocess.run(["dpkg-deb", "-e", debs["tcpship"], ctl], check=True)
    _built.update(changes=changes, debs=debs, roots=roots, control=ctl, dir=d)
    return _built


def field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True,
                          check=True).stdout.strip()


def unit(root):
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    with open(os.path.join(root, "lib/systemd/system/tcpship.service")) as f:
        cp.read_file(f)
    return cp


def test_lintian_no_errors_or_warnings():
    b = built()
    p = subprocess.run(["lintian", "--fail-on", "error,warning", b["changes"]],
                       capture_output=True, text=True, timeout=300)
    tags = [l for l in p.stdout.splitlines() if re.match(r"[EW]: ", l)]
    assert p.returncode == 0 and not tags, (p.returncode, tags, p.stderr[-500:])


def test_files_depends_and_conffiles():
    b = built()
    deb, root = b["debs"]["tcpship"], b["roots"]["tcpship"]
    dep = field(deb, "Depends")
    # dh_shlibdeps: every library the binary links, libc too; sysusers
    for lib in ("libc6", "libbpf1", "libjson-c5", "libyaml-0-2", "librdkafka1",
                "libmicrohttpd12", "libcap-ng0", "systemd-sysusers"):
        assert lib in dep, (lib, dep)
    for f in ("usr/sbin/tcpship", "lib/systemd/system/tcpship.service",
              "etc/tcpship/tcpship.yaml", "usr/share/man/man8/tcpship.8.gz",
              "usr/share/doc/tcpship/copyright", "usr/share/doc/tcpship/changelog.gz",
              "usr/lib/sysusers.d/tcpship.conf", "usr/share/tcpship/event.schema.json",
              "usr/share/tcpship/clickhouse.sql", "usr/share/tcpship/clickhouse-kafka.sql",
              "usr/share/tcpship/elasticsearch-template.json"):
        assert os.path.exists(os.path.join(root, f)), f
    with open(os.path.join(b["control"], "conffiles")) as f:
        assert f.read().split() == ["/etc/tcpship/tcpship.yaml"]
    # one rotation: the shipped config's own (max_size, max_files), and no
    # logrotate file besides it
    assert not os.path.exists(os.path.join(root, "etc/logrotate.d"))
    with open(os.path.join(root, "etc/tcpship/tcpship.yaml")) as f:
        shipped = yaml.safe_load(f)
    assert any(o.get("max_size") and o.get("max_files") for o in shipped["outputs"]
               if o["type"] == "file"), shipped
    exe = os.path.join(root, "usr/sbin/tcpship")
    v = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.split()[1] == field(deb, "Version"), (v, deb)
    c = subprocess.run([exe, "-c", os.path.join(root, "etc/tcpship/tcpship.yaml"),
                        "--check-config"], capture_output=True, text=True)
    assert c.returncode == 0, c.stderr


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True,
                         check=True).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", out).group(1)


def test_stripped_binary_and_its_symbols_in_the_dbgsym():
    b = built()
    exe = os.path.join(b["roots"]["tcpship"], "usr/sbin/tcpship")
    sections = subprocess.run(["readelf", "-S", exe], capture_output=True, text=True,
                              check=True).stdout
    assert ".debug_info" not in sections and ".symtab" not in sections, "not stripped"
    bid = build_id(exe)
    dbg = os.path.join(b["roots"]["tcpship-dbgsym"], "usr/lib/debug/.build-id", bid[:2],
                       bid[2:] + ".debug")
    assert os.path.exists(dbg), (bid, os.listdir(b["roots"]["tcpship-dbgsym"]))
    sections = subprocess.run(["readelf", "-S", dbg], capture_output=True, text=True,
                              check=True).stdout
    assert ".debug_info" in sections and ".symtab" in sections


def test_user_created_and_unit_installed_not_enabled():
    b = built()
    root = b["roots"]["tcpship"]
    u = unit(root)["Service"]
    # the unit's user is the one the package creates, and its files are the package's
    sysroot = os.path.join(b["dir"], "sysroot")
    os.makedirs(os.path.join(sysroot, "etc"))
    with open(os.path.join(root, "usr/lib/sysusers.d/tcpship.conf")) as f:
        conf = "\n".join(l for l in f if not l.startswith("#"))
    subprocess.run(["systemd-sysusers", f"--root={sysroot}", "--inline", conf], check=True,
                   capture_output=True)
    with open(os.path.join(sysroot, "etc/passwd")) as f:
        users = {l.split(":")[0]: l.split(":") for l in f}
    assert u["User"] in users and users[u["User"]][6].strip() == "/usr/sbin/nologin", users
    with open(os.path.join(sysroot, "etc/group")) as f:
        assert u["Group"] in {l.split(":")[0] for l in f}
    argv = u["ExecStart"].split()
    assert os.path.exists(root + argv[0]), argv
    assert os.path.exists(root + argv[argv.index("-c") + 1]), argv
    assert argv[argv.index("--user") + 1] == u["User"], argv
    # postinst: the user first; the unit enabled only where it was before
    with open(os.path.join(b["control"], "postinst")) as f:
        post = f.read()
    assert post.index("systemd-sysusers") < post.index("chgrp"), post
    lines = [l.strip() for l in post.splitlines() if l.strip() and not l.strip().startswith("#")]
    for i, l in enumerate(lines):
        if "deb-systemd-helper enable" in l:
            assert "was-enabled" in lines[i - 1], lines[i - 1:i + 1]
    assert "systemctl enable" not in post


def test_man_page_renders_and_has_every_option():
    b = built()
    page = os.path.join(b["roots"]["tcpship"], "usr/share/man/man8/tcpship.8.gz")
    p = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                       env={**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0"},
                       timeout=60)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr
    text = re.sub(r".\x08", "", p.stdout)     # grotty's overstrikes for bold
    for sec in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "EXIT STATUS",
                "FILES"):
        assert re.search(rf"^{sec}$", text, re.M), sec
    helptext = subprocess.run([TCPSHIP, "--help"], capture_output=True, text=True).stdout
    with gzip.open(page, "rt") as f:
        src = f.read().replace("\\-", "-")
    opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", helptext))
    assert len(opts) > 25, opts
    missing = sorted(o for o in opts if o not in src)
    assert not missing, missing


def test_unit_exposure_at_most_3():
    """systemd's own rating of the shipped unit's sandbox."""
    unitfile = os.path.join(ROOT, "packaging", "tcpship.service")
    p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", unitfile],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    m = re.search(r"Overall exposure level for tcpship\.service: (\d+\.\d+)", p.stdout)
    assert m, p.stdout[-500:]
    assert float(m.group(1)) <= 3.0, [l for l in p.stdout.splitlines() if "✗" in l]
