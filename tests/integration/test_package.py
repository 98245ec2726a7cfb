"""make package: the .deb holds what it says, and what it holds runs."""
import json
import os
import re
import shutil
import subprocess
import tempfile

from tslib import ROOT, at_cleanup


def test_deb_contents_and_binary_run():
    d = tempfile.mkdtemp(prefix="tcpship-deb-")
    at_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
    p = subprocess.run([os.path.join(ROOT, "packaging", "package.sh"), d], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    deb = p.stdout.strip().splitlines()[-1]
    info = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Version", "Depends"],
                          capture_output=True, text=True, check=True).stdout
    assert "Package: tcpship" in info and "libbpf1" in info, info
    files = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                           check=True).stdout
    for f in ("./usr/sbin/tcpship", "./lib/systemd/system/tcpship.service",
              "./etc/tcpship/tcpship.json",
              "./usr/share/tcpship/event.schema.json",
              "./usr/share/tcpship/elasticsearch-template.json"):
        assert f in files, (f, files)
    # one rotation: the shipped config's own (max_size, max_files), not
    # logrotate's besides it
    assert "logrotate" not in files, files
    with open(os.path.join(ROOT, "packaging", "tcpship.json")) as f:
        shipped = json.load(f)
    assert any(o.get("max_size") and o.get("max_files") for o in shipped["outputs"]
               if o["type"] == "file"), shipped
    root = os.path.join(d, "x")
    subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    exe = os.path.join(root, "usr/sbin/tcpship")
    v = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout.startswith("tcpship "), v
    c = subprocess.run([exe, "-c", os.path.join(root, "etc/tcpship/tcpship.json"),
                        "--check-config"], capture_output=True, text=True)
    assert c.returncode == 0, c.stderr
    ctl = subprocess.run(["dpkg-deb", "--ctrl-tarfile", deb], capture_output=True).stdout
    assert b"conffiles" in ctl


def test_unit_exposure_at_most_3():
    """systemd's own rating of the shipped unit's sandbox."""
    unit = os.path.join(ROOT, "packaging", "tcpship.service")
    p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    m = re.search(r"Overall exposure level for tcpship\.service: (\d+\.\d+)", p.stdout)
    assert m, p.stdout[-500:]
    assert float(m.group(1)) <= 3.0, [l for l in p.stdout.splitlines() if "✗" in l]
