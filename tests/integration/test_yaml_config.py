"""The YAML config: the same checks and messages as the same config in JSON,
plus the line of the key; libyaml's syntax errors in one line; the package's
YAML config equal to its JSON one; and a real run from a YAML file.

No YAML library in Python here (python3-yaml is not a test dependency): the
YAML of each config is written by to_yaml() below, which also notes the line
it put each key on; those lines are what the messages must name."""
import json
import os
import re

from tslib import ROOT, Tcpship, check_schema, require_root, run_tcpship, tmpdir, trig, \
    wait_until

# what YAML 1.2's core schema would read as something other than a string
NOT_PLAIN = re.compile(r"(?i:true|false|null)|~|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)"
                       r"([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(inf|Inf|INF)"
                       r"|\.(nan|NaN|NAN)|")
PLAIN_SAFE = re.compile(r"[A-Za-z0-9/_][A-Za-z0-9_./+-]*")


def scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if PLAIN_SAFE.fullmatch(v) and not NOT_PLAIN.fullmatch(v):
        return v        # plain, as an operator writes it
    return json.dumps(v)  # a JSON string is a YAML double-quoted scalar


def flow(v):
    if isinstance(v, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(flow(x) for x in v) + "]"
    return scalar(v)


def to_yaml(obj):
    """(text, lines): block YAML of a JSON object, with a comment and a blank
    line first, and the line of each key path: ("outputs", 1, "path") -> 9."""
    out = ["# written by test_yaml_config.py", ""]
    lines = {}

    def block(d, indent, path, lead=None):
        for i, (k, v) in enumerate(d.items()):
            head = lead if i == 0 and lead is not None else " " * indent
            p = path + (k,)
            if isinstance(v, dict) and v:
                out.append(f"{head}{scalar(k)}:")
                lines[p] = len(out)
                block(v, indent + 2, p)
            elif isinstance(v, list) and any(isinstance(x, dict) for x in v):
                out.append(f"{head}{scalar(k)}:")
                lines[p] = len(out)
                for j, x in enumerate(v):
                    lines[p + (j,)] = len(out) + 1
                    if isinstance(x, dict) and x:
                        block(x, indent + 4, p + (j,), lead=" " * (indent + 2) + "- ")
                    else:
                        out.append(" " * (indent + 2) + "- " + flow(x))
            else:
                out.append(f"{head}{scalar(k)}: {flow(v)}")
                lines[p] = len(out)
                if isinstance(v, list):
                    for j in range(len(v)):
                        lines[p + (j,)] = len(out)

    block(obj, 0, ())
    return "\n".join(out) + "\n", lines


def path_text(path):
    s = ""
    for k in path:
        s += f"[{k}]" if isinstance(k, int) else (f".{k}" if s else k)
    return s


def check(d, name, text):
    cfg = os.path.join(d, name)
    with open(cfg, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    p = run_tcpship("--check-config", "-c", cfg)
    err = [l for l in p.stderr.splitlines() if l.strip()]
    return p, cfg, err


def message(cfg, err):
    """The one line of error without "tcpship: FILE: ", and its line number."""
    assert len(err) == 1, err
    prefix = f"tcpship: {cfg}: "
    assert err[0].startswith(prefix), (prefix, err)
    m = re.match(r"line (\d+): (.*)", err[0][len(prefix):])
    return (m.group(2), int(m.group(1))) if m else (err[0][len(prefix):], None)


KAFKA = {"type": "kafka", "brokers": "127.0.0.1:9092", "topic": "tcp-events"}
VALID = [
    {"events": ["connect", "close", "send"], "filters": {"port": [443, 8443], "comm": "curl"},
     "min_latency": "10ms", "queue": {"max_events": 1000},
     "outputs": [{"type": "stdout"},
                 {"type": "file", "path": "/tmp/x.jsonl", "max_size": "100MiB", "max_files": 5,
                  "queue": {"max_events": 100, "when_full": "block"}}]},
    # the Norway problem: "no" is a name, not false
    {"filters": {"comm": "no", "family": "ipv4"}, "stats": True, "summary": 3},
    {"outputs": [dict(KAFKA, properties={"linger.ms": "5", "acks": "all"}, name="kafka-1")]},
    {"outputs": [{"type": "syslog", "url": "syslog+tcp://127.0.0.1:514", "format": "rfc5424",
                  "facility": "daemon", "severity": "info",
                  "queue": {"max_events": 100000, "when_full": "drop"}}]},
]
# (config, the key path the message names first, words it holds)
INVALID = [
    ({"evnts": ["connect"]}, ("evnts",), "unknown key"),
    ({"events": ["connect", "nosuch"]}, ("events",), "nosuch"),
    ({"filters": {"pid": [1], "ports": [1]}}, ("filters", "ports"), "unknown key"),
    ({"filters": {"pid": "12"}}, ("filters", "pid"), "must be an array"),
    ({"filters": {"port": [443, 70000]}}, ("filters", "port", 1), "1 to 65535"),
    ({"min_latency": None}, ("min_latency",), "not null"),
    ({"ringbuf_size": "3MiB"}, ("ringbuf_size",), "power of two"),
    ({"queue": {"max_events": "many"}}, ("queue", "max_events"), "whole number"),
    ({"outputs": [{"type": "stdout"}, {"type": "file", "path": 5}]},
     ("outputs", 1, "path"), "must be a string, not a number"),
    ({"outputs": [{"type": "stdout"}, {"type": "file", "path": "/tmp/x", "max_files": "5"}]},
     ("outputs", 1, "max_files"), "must be a whole number, not a string"),
    ({"outputs": [{"type": "stdout"}, {"type": "file", "path": "/tmp/x", "max_size": "100Mb"}]},
     ("outputs", 1, "max_size"), "'100Mb' is not a size"),
    ({"outputs": [{"type": "stdout"}, {"type": "stdout", "batch": 5}]},
     ("outputs", 1, "batch"), "unknown key (known for stdout outputs"),
    ({"outputs": [{"type": "stdout"},
                  {"type": "file", "path": "/tmp/x", "queue": {"max_events": 5, "max": 1}}]},
     ("outputs", 1, "queue", "max"), "unknown key"),
    ({"outputs": [{"type": "stdout"},
                  {"type": "file", "path": "/tmp/x", "queue": {"when_full": "wait"}}]},
     ("outputs", 1, "queue", "when_full"), "'wait' is not one of block, drop"),
    ({"outputs": [{"type": "stdout"}, dict(KAFKA, properties={"acks": "x"})]},
     ("outputs", 1, "properties", "acks"), "Invalid value"),
    ({"outputs": [{"type": "stdout"}, dict(KAFKA, properties={"linger.ms": "soon"})]},
     ("outputs", 1, "properties", "linger.ms"), "Invalid value"),
    ({"outputs": [{"type": "kafka", "topic": "t"}]}, ("outputs", 0), "brokers: missing"),
    ({"outputs": [{"path": "/tmp/x"}]}, ("outputs", 0), "type: missing"),
]


def test_same_config_same_verdict_as_json():
    """Each config as JSON and as YAML: the same exit status, the same
    message but for the file's name and YAML's "line N: "."""
    d = tmpdir()
    for cfg in VALID:
        yaml, _ = to_yaml(cfg)
        pj, _, _ = check(d, "c.json", json.dumps(cfg, indent=2))
        py, _, _ = check(d, "c.yaml", yaml)
        assert pj.returncode == 0, (cfg, pj.stderr)
        assert (py.returncode, py.stdout, py.stderr) == (0, pj.stdout, pj.stderr), (yaml, py)
    for cfg, path, word in INVALID:
        yaml, _ = to_yaml(cfg)
        pj, jf, jerr = check(d, "c.json", json.dumps(cfg, indent=2))
        py, yf, yerr = check(d, "c.yaml", yaml)
        assert pj.returncode == 2 and py.returncode == 2, (cfg, pj.stderr, py.stderr)
        jmsg, jline = message(jf, jerr)
        ymsg, yline = message(yf, yerr)
        assert jline is None, ("a JSON message names no line", jerr)
        assert yline is not None, ("a YAML message names its line", yerr)
        assert ymsg == jmsg, (yaml, ymsg, jmsg)
        assert word in jmsg, (word, jmsg)


def test_yaml_mistake_names_path_and_line():
    d = tmpdir()
    for cfg, path, word in INVALID:
        yaml, lines = to_yaml(cfg)
        p, f, err = check(d, "c.yaml", yaml)
        msg, line = message(f, err)
        where = path_text(path)
        # a sink's own path goes on after the output's: "outputs[1]: properties.acks: "
        assert any(m.startswith(where + ": ") or m.startswith(where + ".")
                   for m in (msg, msg.replace(": ", ".", 1))), (where, msg)
        assert line == lines[path], (f"{where}: line {line}, want {lines[path]}", yaml)


# written by hand: flow and block styles, comments, anchors
HANDWRITTEN = """\
# a hand-written config
events:
  - connect
  - close
defaults: &q {max_events: 10, when_full: drop}
outputs:
  - {type: stdout}
  -   type: file      # the second output
      path: /tmp/x.jsonl
      queue:
        <<: *q
"""

ALIASES = """\
outputs:
  - type: kafka
    brokers: 127.0.0.1:9092
    topic: t
    properties: &p
      linger.ms: "5"
  - type: file
    path: &f /tmp/x.jsonl
    max_size: *f
"""


def test_yaml_lines_by_hand():
    d = tmpdir()
    no_defaults = HANDWRITTEN.replace("defaults: &q {max_events: 10, when_full: drop}\n", "")
    cases = [
        (HANDWRITTEN, 5, "defaults: unknown key"),
        # YAML 1.1's merge key is not in 1.2: a key like any other
        (no_defaults.replace("*q", "x"), 10, "outputs[1].queue.<<: unknown key"),
        (no_defaults.replace("<<: *q", "max_events: 5\n        max_size: 1Mb"), 11,
         "outputs[1].queue.max_size: '1Mb' is not a size"),
        # an alias is the anchored node: a scalar's line is the alias's key's,
        # the keys of an aliased mapping are on the anchor's lines
        (ALIASES, 9, "outputs[1].max_size: '/tmp/x.jsonl' is not a size"),
        (ALIASES.replace("max_size: *f", "queue: *p"), 6,
         "outputs[1].queue.linger.ms: unknown key"),
        ("events: [connect,\n  close,\n\n  nosuch]\n", 1, "events: unknown event 'nosuch'"),
        ("filters:\n  port:\n    - 443\n    - 99999\n", 4, "filters.port[1]: must be a number"),
        ("outputs:\n- type: file\n  path: /tmp/x\n  max_files: yes\n", 4,
         "outputs[0].max_files: must be a whole number, not a string"),
        ("outputs:\n- type: file\n  path: /tmp/x\n  max_files: !!str 5\n", 4,
         "outputs[0].max_files: must be a whole number, not a string"),
    ]
    for text, want, words in cases:
        p, f, err = check(d, "c.yaml", text)
        assert p.returncode == 2, (text, p.returncode, p.stderr)
        msg, line = message(f, err)
        assert msg.startswith(words), (text, words, msg)
        assert line == want, (text, f"line {line}, want {want}: {msg}")


def test_yaml_syntax_and_structure_errors_one_line_exit_2():
    d = tmpdir()
    cases = [
        ("events: [connect,\nfilters: {}\n", r"line 3, column 1: invalid YAML: did not find "
         r"expected ',' or '\]' \(while parsing a flow sequence\)"),
        ("queue:\n\tmax_events: 5\n", r"line 2, column 1: invalid YAML: found character that "
         r"cannot start any token \(while scanning for the next token\)"),
        ("queue:\n  max_events: 5\n   when_full: drop\n", r"line 3, column 13: invalid YAML: "
         r"mapping values are not allowed in this context"),
        ("host: 'web1\n", r"line 2, column 1: invalid YAML: found unexpected end of stream "
         r"\(while scanning a quoted scalar\)"),
        ("host: \"\\q\"\n", r"line 1, column 8: invalid YAML: found unknown escape character "
         r"\(while parsing a quoted scalar\)"),
        ("host: w\x01\n", r"line 1, column 8: invalid YAML: control characters are not allowed"),
        (b"host: \"\xc3\x28\"\n", r"line 1, column 9: invalid YAML: invalid trailing UTF-8 octet"),
        ("host: web1\nhost: web2\n", r"line 2: duplicate key 'host' \(first at line 1\)"),
        ("host: web1\n---\nhost: web2\n", r"line 2: a second YAML document"),
        ("host: !hostname web1\n", r"line 1: unknown tag !hostname"),
        ("host: *name\n", r"line 1: alias \*name names no anchor"),
        ("- connect\n", r"line 1: the top level must be a mapping, not a sequence"),
        ("# nothing\n", r"no YAML document"),
        ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
         "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
         "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
         r"line 5: more than 100000 nodes, aliases expanded"),
    ]
    for text, pattern in cases:
        p, f, err = check(d, "c.yaml", text)
        assert p.returncode == 2, (text, p.returncode, p.stderr)
        assert len(err) == 1 and p.stdout == "", (text, p.stderr, p.stdout)
        assert re.fullmatch(re.escape(f"tcpship: {f}: ") + pattern + ".*", err[0]), \
            (text, pattern, err[0])


def test_format_by_name_then_first_byte():
    d = tmpdir()
    flow_yaml = '{events: [connect], filters: {comm: curl}}\n'
    for name, text, ok in [("c.yaml", flow_yaml, True), ("c.yml", "events: [connect]\n", True),
                           ("c.json", flow_yaml, False), ("c.conf", "  \n" + flow_yaml, False),
                           ("c.conf", "events: [connect]\n", True),
                           ("c.conf", '\n\n{"events": ["connect"]}', True)]:
        p, f, err = check(d, name, text)
        assert (p.returncode == 0) == ok, (name, text, p.stderr)
        if not ok:
            assert "invalid JSON" in p.stderr, p.stderr


def packaged(d):
    """packaging/tcpship.{json,yaml} with the file output's path in d"""
    path = os.path.join(d, "events.jsonl")
    text = {}
    for ext in ("json", "yaml"):
        with open(os.path.join(ROOT, "packaging", f"tcpship.{ext}")) as f:
            text[ext] = f.read()
        assert text[ext].count("/var/log/tcpship/events.jsonl") >= 1, ext
        text[ext] = text[ext].replace("/var/log/tcpship/events.jsonl", path)
    return text, path


def test_packaged_yaml_is_the_packaged_json():
    d = tmpdir()
    text, _ = packaged(d)
    pj, _, _ = check(d, "c.json", text["json"])
    py, _, _ = check(d, "c.yaml", text["yaml"])
    assert pj.returncode == 0 and py.returncode == 0, (pj.stderr, py.stderr)
    assert py.stdout == pj.stdout and "2 outputs" in py.stdout, (py.stdout, pj.stdout)
    # the tree itself: the unit test compares them with json_object_equal
    # (unit/yaml_packaged_config_equals_json); here, each key of the JSON
    # is where the checks find it in the YAML: one mistake made in both at
    # that key gives one message, and the YAML's line is that key's
    for json_old, json_new, yaml_old, yaml_new in [
            ('"max_files": 5', '"max_files": "5x"', "max_files: 5", "max_files: 5x"),
            ('"facility": "daemon"', '"facility": "daemonx"', "facility: daemon",
             "facility: daemonx"),
            ('"when_full": "drop"', '"when_full": "dropx"', "when_full: drop",
             "when_full: dropx"),
            ('"max_events": 65536', '"max_events": "65536x"', "max_events: 65536",
             "max_events: 65536x"),
            ('"filters": {}', '"filters": []', "filters: {}", "filters: []")]:
        assert text["json"].count(json_old) == 1 and text["yaml"].count(yaml_old) == 1, \
            (json_old, yaml_old)
        pj, jf, jerr = check(d, "c.json", text["json"].replace(json_old, json_new))
        py, yf, yerr = check(d, "c.yaml", text["yaml"].replace(yaml_old, yaml_new))
        assert pj.returncode == py.returncode == 2, (json_old, pj.stderr, py.stderr)
        jmsg, _ = message(jf, jerr)
        ymsg, yline = message(yf, yerr)
        assert jmsg == ymsg, (jmsg, ymsg)
        assert yaml_new in text["yaml"].replace(yaml_old, yaml_new).splitlines()[yline - 1], \
            (yaml_new, yline)
    # the line its header comment promises for a mistake in max_size
    m = re.search(r"line (\d+): outputs\[0\]\.max_size:", text["yaml"])
    assert m, "the header's example error"
    assert text["yaml"].splitlines()[int(m.group(1)) - 1].strip().startswith("max_size:"), m[0]
    py, yf, yerr = check(d, "c.yaml", text["yaml"].replace("max_size: 100MiB", "max_size: 100Mb"))
    assert message(yf, yerr) == ("outputs[0].max_size: '100Mb' is not a size "
                                 "(like 4096, 64KiB, 100MiB)", int(m.group(1))), yerr


def read_events(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    evs = []
    for line in data.splitlines(keepends=True):
        if line.endswith(b"\n"):
            ev = json.loads(line)
            check_schema(ev)
            evs.append(ev)
    return evs


def test_real_run_from_yaml_config():
    """A YAML config's filters, events and file output take effect."""
    require_root()
    d = tmpdir()
    path = os.path.join(d, "events.jsonl")
    cfg = os.path.join(d, "tcpship.yaml")
    with open(cfg, "w") as f:
        f.write(f"""\
# only the server side of tcp_pair, and not its connect
events: [connect, accept, close]
filters:
  comm: ts-server
outputs:
  - type: file
    path: {path}
    queue: {{when_full: block}}
""")
    ts = Tcpship("-c", cfg)
    gt = trig("tcp_pair")
    srv = lambda e: e.get("pid") == gt["server_pid"] and gt["server_port"] in (e.get("sport"),
                                                                             e.get("dport"))
    wait_until(lambda: {e["type"] for e in read_events(path) if srv(e)} >= {"accept", "close"},
               15, "the server's accept and close in the file")
    assert ts.stop() == 0
    evs = read_events(path)
    assert all(e.get("comm") == "ts-server" for e in evs), [e for e in evs
                                                            if e.get("comm") != "ts-server"]
    assert not [e for e in evs if e.get("pid") == gt["client_pid"]], "the comm filter"
    assert ts.lines == [], "the config's outputs replace stdout"


def test_readme_yaml_example_and_its_messages():
    """The README's YAML example is its JSON example, and the messages it
    shows are the ones tcpship prints for the mistakes they name."""
    text = open(os.path.join(ROOT, "README.md")).read()
    section = text[text.index("### The config file"):text.index("### Disk queues")]
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", section, re.S | re.M)
    yaml = [b for lang, b in blocks if lang == "yaml"][0]
    jsn = [b for lang, b in blocks if lang == "json" and '"outputs"' in b][0]
    errors = [b for lang, b in blocks if not lang and "tcpship: " in b]
    shown = errors[0].splitlines() + errors[1].splitlines()
    d = tmpdir()
    pj, _, _ = check(d, "tcpship.json", jsn)
    py, _, _ = check(d, "tcpship.yaml", yaml)
    assert pj.returncode == py.returncode == 0 and pj.stdout == py.stdout, (pj.stderr, py.stderr)
    mistakes = [("tcpship.yaml", yaml.replace("max_size: 100MiB", "max_size: 100Mb")),
                ("tcpship.json", jsn.replace('"max_size": "100MiB"', '"max_size": "100Mb"')),
                ("tcpship.yaml", yaml.replace("\n    max_files: 5", "\n   max_files: 5"))]
    for (name, bad), want in zip(mistakes, shown):
        assert bad not in (yaml, jsn), name
        p, f, err = check(d, name, bad)
        assert p.returncode == 2 and err == [want.replace("/etc/tcpship/" + name, f)], (err, want)
