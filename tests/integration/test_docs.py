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


def test_readme_json_examples_parse():
    import json
    text = open(os.path.join(ROOT, "README.md")).read()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    assert len(blocks) >= 8, len(blocks)
    for b in blocks:
        # event examples are one object per line; configs are one object
        if b.startswith('{"time"'):
            for line in b.strip().splitlines():
                json.loads(line)
        else:
            json.loads(b)


def test_readme_output_examples_are_accepted():
    """Every output example in the README passes tcpship's own config
    checks (the parse against each output's declared option table)."""
    import json
    text = open(os.path.join(ROOT, "README.md")).read()
    outs = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)
            if b.lstrip().startswith('{ "type"')]
    assert {o["type"] for o in outs} >= {"http", "syslog"}, outs
    d = tempfile.mkdtemp(prefix="tcpship-doc-")
    at_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
    for o in outs:
        cfg = os.path.join(d, "c.json")
        json.dump({"outputs": [o]}, open(cfg, "w"))
        p = subprocess.run([os.path.join(ROOT, "tcpship"), "-c", cfg, "--check-config"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, (o, p.stderr)


def test_readme_command_line_is_the_help():
    """The README's command-line block is exactly what --help prints."""
    block = readme_block("Usage: tcpship [OPTIONS]")
    p = subprocess.run([os.path.join(ROOT, "tcpship"), "--help"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    if block != p.stdout:
        import difflib
        diff = "\n".join(difflib.unified_diff(block.splitlines(), p.stdout.splitlines(),
                                              "README.md", "tcpship --help", lineterm=""))
        raise AssertionError(f"README's command line differs from --help:\n{diff}")
