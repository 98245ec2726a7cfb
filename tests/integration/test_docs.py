"""What the README tells users to paste must work."""
import os
import re
import shutil
import subprocess
import tempfile

from tslib import ROOT, Skip, at_cleanup


def readme_block(marker):
    text = open(os.path.join(ROOT, "README.md")).read()
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        if marker in block:
            return block
    raise AssertionError(f"no README block with {marker!r}")


def test_readme_rsyslog_relay_config_is_valid():
    if not shutil.which("rsyslogd"):
        raise Skip("rsyslog is not installed")
    d = tempfile.mkdtemp(prefix="tcpship-doc-")
    at_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
    ca = os.path.join(d, "ca.pem")
    open(ca, "w").close()
    conf = readme_block("/etc/rsyslog.d/60-tcpship.conf")
    conf = conf.replace("/etc/ssl/certs/siem-ca.pem", ca)
    conf = f'global(workDirectory="{d}")\n' + conf
    path = os.path.join(d, "rsyslog.conf")
    open(path, "w").write(conf)
    p = subprocess.run(["rsyslogd", "-N1", "-f", path], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0 and "error" not in p.stderr.lower(), p.stderr
