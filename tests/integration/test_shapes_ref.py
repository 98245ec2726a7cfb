"""The reference extracts (tests/ref/ecs.json, ocsf.json) and the checkers
built on them (tests/lib/ecs_check.py, ocsf_check.py, cef.py): the
extracts hold what the standards say, extract.py still makes them from
../shared/ref, and each checker accepts a valid document and rejects each
kind of mistake, naming the field. No root, no tcpship: fast."""
import copy
import json
import os
import subprocess
import sys

import ecs_check
import ocsf_check
from cef import parse_cef
from ecs_check import ecs_errors
from ocsf_check import ocsf_errors
from tslib import ROOT, Skip, tmpdir

REF_DIR = os.path.join(ROOT, "tests", "ref")
SHARED_REF = os.path.join(ROOT, "..", "shared", "ref")
DELETE = object()


def load(name):
    with open(os.path.join(REF_DIR, name), encoding="utf-8") as f:
        return json.load(f)


def edit(doc, **changes):
    """A copy of doc with dotted paths (as keyword names with __ for '.')
    set, or removed when the value is DELETE."""
    d = copy.deepcopy(doc)
    for key, v in changes.items():
        parts = key.split("__")
        o = d
        for p in parts[:-1]:
            o = o.setdefault(p, {})
        if v is DELETE:
            del o[parts[-1]]
        else:
            o[parts[-1]] = v
    return d


def rejects(check, doc, field, *words):
    errs = check(doc)
    assert errs, f"no error for a document with a mistake at {field}"
    hits = [e for e in errs if e.startswith(field) or f"{field}:" in e or f" {field}" in e]
    assert hits, f"no error names {field}: {errs}"
    for w in words:
        assert any(w in e for e in hits), f"no error on {field} says {w!r}: {hits}"


def accepts(check, doc):
    errs = check(doc)
    assert errs == [], errs


# ------------------------------------------------------------ extracts ----

def test_ecs_extract_holds_the_fields():
    ref = load("ecs.json")
    f = ref["fields"]
    assert ref["version"] == "9.4.0" == ecs_check.ecs_version()
    assert len(f) > 2000, len(f)
    assert f["source.ip"] == {"type": "ip"}, f["source.ip"]
    assert f["source.port"]["type"] == "long" and f["process.pid"]["type"] == "long"
    assert f["@timestamp"] == {"type": "date", "required": True}, f["@timestamp"]
    assert f["event.type"]["normalize"] == ["array"]
    assert {"connection", "start", "end", "info", "protocol"} <= set(f["event.type"]["allowed"])
    assert set(f["event.kind"]["allowed"]) >= {"event", "alert", "metric", "state"}
    assert f["event.outcome"]["allowed"] == ["failure", "success", "unknown"]
    eet = f["event.category"]["expected_event_types"]
    assert "connection" in eet["network"] and "connection" not in eet["process"], eet
    assert set(eet) == set(f["event.category"]["allowed"])
    assert "egress" in f["network.direction"]["expected"]
    assert f["labels"]["object_type"] == "keyword"
    assert "normalize" not in f["network.transport"]
    assert not any("description" in v for v in f.values())


def test_ocsf_extract_holds_the_classes():
    ref = load("ocsf.json")
    assert ref["version"] == "1.8.0" == ocsf_check.ocsf_version()
    assert sorted(ref["classes"]) == ["4001", "4003"] == [str(c) for c in ocsf_check.OCSF_CLASSES]
    na = ref["classes"]["4001"]
    assert (na["class_uid"], na["category_uid"], na["name"]) == (4001, 4, "network_activity")
    act = na["attributes"]["activity_id"]
    assert act["requirement"] == "required" and act["sibling"] == "activity_name"
    assert {str(i) for i in range(1, 8)} | {"99"} <= set(act["enum"]), act["enum"]
    assert act["enum"]["1"] == "Open" and act["enum"]["99"] == "Other"
    assert na["attributes"]["type_uid"]["enum"]["400101"] == "Network Activity: Open"
    assert na["attributes"]["class_uid"]["enum"] == {"4001": "Network Activity"}
    dst = na["attributes"]["dst_endpoint"]
    assert (dst["type"], dst["object_type"]) == ("object_t", "network_endpoint"), dst
    assert na["attributes"]["time"] == {"type": "timestamp_t", "requirement": "required"}
    assert na["constraints"] == {"at_least_one": ["dst_endpoint", "src_endpoint"]}
    # base_event's profiles: host adds actor and device, datetime the *_dt
    assert set(na["profiles"]["host"]) == {"actor", "device"}, na["profiles"]["host"]
    assert "actor" not in na["attributes"] and "device" not in na["attributes"]
    assert na["profiles"]["datetime"]["time_dt"]["type"] == "datetime_t"
    assert "is_src_dst_assignment_known" in na["attributes"]
    dns = ref["classes"]["4003"]
    assert "is_src_dst_assignment_known" not in dns["attributes"]
    assert set(dns["attributes"]["activity_id"]["enum"]) == {"0", "1", "2", "6", "99"}
    assert dns["attributes"]["query"]["object_type"] == "dns_query"
    assert dns["attributes"]["connection_info"]["requirement"] == "optional"
    objs = ref["objects"]
    assert objs["dns_query"]["attributes"]["hostname"]["requirement"] == "required"
    ne = objs["network_endpoint"]
    assert ne["attributes"]["port"]["type"] == "port_t" and "svc_name" in ne["attributes"]
    assert "hostname" in ne["attributes"], "endpoint's attributes reach network_endpoint"
    assert "container" in ne["profiles"]["container"]
    assert set(objs["process"]["profiles"]["container"]) == {"container", "namespace_pid"}
    assert objs["process"]["constraints"] == {"at_least_one": ["pid", "uid", "cpid"]}
    assert objs["network_connection_info"]["attributes"]["direction_id"]["requirement"] \
        == "required"
    assert objs["object"] == {"caption": "Object", "constraints": {}, "attributes": {},
                              "profiles": {}}
    assert not any(k.startswith("_") for k in objs)
    t = ref["types"]
    assert t["port_t"] == {"base": "integer_t", "range": [0, 65535]}
    assert t["timestamp_t"] == {"base": "long_t"} and t["string_t"] == {}
    assert t["ip_t"]["max_len"] == 40 and "regex" in t["uuid_t"]
    assert {"host", "container", "datetime", "cloud"} <= set(ref["profiles"])


def test_extract_reproduces_the_committed_files():
    if not os.path.isdir(SHARED_REF):
        raise Skip(f"{os.path.normpath(SHARED_REF)} is not here (a clone has none)")
    try:
        import yaml  # noqa: F401
    except ImportError:
        raise Skip("extract.py needs python3-yaml")
    out = tmpdir()
    p = subprocess.run([sys.executable, os.path.join(REF_DIR, "extract.py"), SHARED_REF,
                        "--out", out], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    for name in ("community_id.json", "ecs.json", "ocsf.json"):
        with open(os.path.join(out, name), "rb") as f:
            made = f.read()
        with open(os.path.join(REF_DIR, name), "rb") as f:
            assert f.read() == made, f"tests/ref/{name} differs from what extract.py makes"


# ----------------------------------------------------------------- ECS ----

ECS_DOC = {
    "@timestamp": "2026-11-26T09:42:09.123456789Z",
    "ecs": {"version": "9.4.0"},
    "event": {"kind": "event", "category": ["network"], "type": ["connection", "start"],
              "action": "connect", "outcome": "success", "duration": 1200000,
              "sequence": 7, "dataset": "tcpship.connection"},
    "source": {"ip": "10.0.0.2", "port": 51234, "bytes": 512, "packets": 4},
    "destination": {"ip": "2001:db8::99", "port": 443, "bytes": 4096},
    "network": {"transport": "tcp", "type": "ipv6", "iana_number": "6",
                "direction": "egress", "community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
    "process": {"pid": 4242, "name": "curl", "executable": "/usr/bin/curl",
                "parent": {"pid": 4200}, "user": {"id": "1000"}, "thread": {"id": 4243}},
    "user": {"id": "1000"},
    "host": {"name": "h1", "hostname": "h1", "id": "0f8e2a3c1d2b4c5d8e9f0a1b2c3d4e5f"},
    "agent": {"type": "tcpship", "version": "0.9.0"},
    "container": {"id": "a" * 64, "runtime": "containerd", "image": {"name": "nginx:1.27"}},
    "related.ip": ["10.0.0.2", "2001:db8::99"],
    "tcpship": {"probe": "tracepoint", "state": "ESTABLISHED", "retransmits": 0,
                "flags": {"any": ["thing"]}},
}


def test_ecs_accepts_a_network_connection_event():
    accepts(ecs_errors, ECS_DOC)
    # the same, flattened to dotted keys
    flat = {}

    def walk(prefix, v):
        if isinstance(v, dict) and prefix != "tcpship":
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else k, x)
        else:
            flat[prefix] = v
    walk("", ECS_DOC)
    assert "source.ip" in flat and "event.category" in flat
    accepts(ecs_errors, flat)
    accepts(ecs_errors, edit(ECS_DOC, event__type=["end"], event__outcome="failure",
                             network__direction="unknown",
                             **{"@timestamp": "2026-11-26T10:42:09+01:00"}))
    accepts(ecs_errors, edit(ECS_DOC, labels={"team": "net"},
                             dns={"answers": [{"name": "a.example", "type": "A",
                                               "data": "192.0.2.1", "ttl": 60}],
                                  "question": {"name": "a.example"}}))


def test_ecs_rejects_each_mistake():
    rejects(ecs_errors, edit(ECS_DOC, source__ipaddr="10.0.0.2"), "source.ipaddr",
            "not an ECS field")
    rejects(ecs_errors, edit(ECS_DOC, bogus={"x": 1}), "bogus")
    rejects(ecs_errors, edit(ECS_DOC, source__port="51234"), "source.port", "long")
    rejects(ecs_errors, edit(ECS_DOC, source__bytes=True), "source.bytes")
    rejects(ecs_errors, edit(ECS_DOC, destination__port=2**63), "destination.port")
    rejects(ecs_errors, edit(ECS_DOC, source__ip="10.0.0.256"), "source.ip", "ip")
    rejects(ecs_errors, edit(ECS_DOC, event__kind="connection"), "event.kind", "allowed")
    rejects(ecs_errors, edit(ECS_DOC, event__category=["net"]), "event.category[0]")
    rejects(ecs_errors, edit(ECS_DOC, event__type=["connection", "opened"]), "event.type[1]")
    rejects(ecs_errors, edit(ECS_DOC, event__outcome="ok"), "event.outcome")
    rejects(ecs_errors, edit(ECS_DOC, network__direction="outgoing"), "network.direction",
            "expected")
    rejects(ecs_errors, edit(ECS_DOC, event__type=["creation"]), "event.type",
            "not an expected event type")
    rejects(ecs_errors, edit(ECS_DOC, event__category=DELETE), "event.type", "without")
    rejects(ecs_errors, edit(ECS_DOC, host__name=""), "host.name", "empty string")
    rejects(ecs_errors, edit(ECS_DOC, process__name=None), "process.name", "null")
    rejects(ecs_errors, edit(ECS_DOC, event__type=[]), "event.type", "empty list")
    rejects(ecs_errors, edit(ECS_DOC, user={}), "user", "empty object")
    rejects(ecs_errors, edit(ECS_DOC, tcpship__state=""), "tcpship.state", "empty")
    rejects(ecs_errors, edit(ECS_DOC, source__ip=["10.0.0.2"]), "source.ip", "not an array")
    rejects(ecs_errors, edit(ECS_DOC, network__transport={"name": "tcp"}), "network.transport")
    rejects(ecs_errors, edit(ECS_DOC, source=12), "source", "namespace")
    rejects(ecs_errors, edit(ECS_DOC, **{"@timestamp": DELETE}), "@timestamp", "required")
    for bad in ("2026-11-26 09:42:09Z", "2026-02-30T09:42:09Z", "2026-11-26T24:00:00Z",
                "2026-11-26T09:42:09.1234567891Z", "2026-11-26T09:42:09", "1795686129123"):
        rejects(ecs_errors, edit(ECS_DOC, **{"@timestamp": bad}), "@timestamp", "RFC 3339")
    rejects(ecs_errors, edit(ECS_DOC, **{"@timestamp": 1795686129123}), "@timestamp")
    rejects(ecs_errors, edit(ECS_DOC, **{"source.ip": "10.0.0.3"}), "source.ip", "twice")
    rejects(ecs_errors, edit(ECS_DOC, labels={"team": 7}), "labels.team")
    rejects(ecs_errors, edit(ECS_DOC, host__mac=["aa:bb:cc:dd:ee:ff"]), "host.mac[0]",
            "pattern")
    rejects(ecs_errors, edit(ECS_DOC, dns={"answers": [{"nam": "x"}]}), "dns.answers.nam")
    rejects(ecs_errors, edit(ECS_DOC, tcpship="x"), "tcpship", "custom namespace")


# ---------------------------------------------------------------- OCSF ----

T_MS = 1795686129123
METADATA = {"product": {"name": "tcpship", "vendor_name": "tcpship", "version": "0.9.0"},
            "version": "1.8.0", "uid": "8c5c0c43-4f7e-4bbd-9b7e-2a4c1d6f0e11",
            "sequence": 7, "profiles": ["host", "container"]}
ACTOR = {"process": {"pid": 4242, "tid": 4243, "name": "curl",
                     "file": {"path": "/usr/bin/curl", "name": "curl", "type_id": 1},
                     "user": {"uid": "1000"},
                     "container": {"uid": "a" * 64, "name": "web",
                                   "image": {"uid": "sha256:" + "b" * 64, "name": "nginx"}}}}
DEVICE = {"hostname": "h1", "uid": "0f8e2a3c1d2b4c5d8e9f0a1b2c3d4e5f", "type_id": 1,
          "type": "Server"}

OCSF_OPEN = {
    "activity_id": 1, "activity_name": "Open",
    "category_uid": 4, "category_name": "Network Activity",
    "class_uid": 4001, "class_name": "Network Activity",
    "type_uid": 400101, "type_name": "Network Activity: Open",
    "severity_id": 1, "severity": "Informational",
    "status_id": 1, "status": "Success",
    "time": T_MS, "start_time": T_MS,
    "metadata": METADATA,
    "src_endpoint": {"ip": "10.0.0.2", "port": 51234},
    "dst_endpoint": {"ip": "93.184.216.34", "port": 443},
    "connection_info": {"protocol_num": 6, "protocol_name": "tcp", "direction_id": 2,
                        "direction": "Outbound", "protocol_ver_id": 4,
                        "community_uid": "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
    "traffic": {"bytes_out": 512, "bytes_in": 4096, "packets_out": 4},
    "actor": ACTOR,
    "device": DEVICE,
    "unmapped": {"tcpship": {"probe": "tracepoint", "odd": [None, "", {}]}},
}

OCSF_QUERY = {
    "activity_id": 1, "activity_name": "Query",
    "category_uid": 4, "class_uid": 4003, "type_uid": 400301,
    "type_name": "DNS Activity: Query",
    "severity_id": 1, "time": T_MS,
    "metadata": dict(METADATA, profiles=["host"]),
    "query": {"hostname": "www.example.com", "type": "AAAA", "class": "IN",
              "packet_uid": 48879, "opcode_id": 0, "opcode": "Query"},
    "dst_endpoint": {"ip": "10.0.0.53", "port": 53},
    "connection_info": {"protocol_num": 17, "protocol_name": "udp", "direction_id": 2},
    "traffic": {"bytes_out": 33},
    "actor": {"process": {"pid": 4242, "name": "curl"}},
    "device": {"hostname": "h1", "type_id": 0},
}


def test_ocsf_accepts_network_and_dns_activity():
    accepts(ocsf_errors, OCSF_OPEN)
    accepts(ocsf_errors, OCSF_QUERY)
    # 99 Other: any caption; datetime siblings with their profile
    accepts(ocsf_errors, edit(OCSF_OPEN, activity_id=99, activity_name="Retransmit",
                              type_uid=400199, type_name="Network Activity: Other"))
    accepts(ocsf_errors, edit(OCSF_OPEN, time_dt="2026-11-26T09:42:09.123Z",
                              metadata=dict(METADATA, profiles=["host", "container",
                                                                "datetime"])))
    accepts(ocsf_errors, edit(OCSF_OPEN, actor__process__cpid=METADATA["uid"]))
    accepts(ocsf_errors, edit(OCSF_OPEN, src_endpoint=DELETE))   # at_least_one holds
    accepts(ocsf_errors, edit(OCSF_QUERY, query__hostname="x.example", answers=[
        {"rdata": "2001:db8::1", "type": "AAAA", "ttl": 60}], rcode_id=0, rcode="NoError"))


def test_ocsf_rejects_each_mistake():
    r = rejects
    r(ocsf_errors, edit(OCSF_OPEN, class_uid=4002), "class_uid", "not a class")
    r(ocsf_errors, edit(OCSF_OPEN, bogus=1), "bogus", "not an attribute")
    r(ocsf_errors, edit(OCSF_OPEN, src_endpoint__portnum=1), "src_endpoint.portnum",
      "network_endpoint")
    r(ocsf_errors, edit(OCSF_QUERY, is_src_dst_assignment_known=True),
      "is_src_dst_assignment_known", "dns_activity")
    r(ocsf_errors, edit(OCSF_OPEN, dst_endpoint__port="443"), "dst_endpoint.port", "port_t")
    r(ocsf_errors, edit(OCSF_OPEN, dst_endpoint__port=70000), "dst_endpoint.port", "range")
    r(ocsf_errors, edit(OCSF_OPEN, src_endpoint__ip="10.0.0.256"), "src_endpoint.ip")
    r(ocsf_errors, edit(OCSF_OPEN, actor__process__pid=True), "actor.process.pid")
    r(ocsf_errors, edit(OCSF_OPEN, actor__process__cpid="not-a-uuid"), "actor.process.cpid",
      "regex")
    r(ocsf_errors, edit(OCSF_OPEN, time=T_MS // 1000), "time", "milliseconds")
    r(ocsf_errors, edit(OCSF_OPEN, time=T_MS * 1000000), "time", "milliseconds")
    r(ocsf_errors, edit(OCSF_OPEN, time=str(T_MS)), "time", "timestamp_t")
    r(ocsf_errors, edit(OCSF_OPEN, activity_id=8, type_uid=400108), "activity_id", "enum")
    r(ocsf_errors, edit(OCSF_OPEN, connection_info__direction_id=9),
      "connection_info.direction_id", "enum")
    r(ocsf_errors, edit(OCSF_OPEN, activity_name="Close"), "activity_name", "'Open'")
    r(ocsf_errors, edit(OCSF_OPEN, severity="Low"), "severity", "'Informational'")
    r(ocsf_errors, edit(OCSF_OPEN, type_name="Open"), "type_name")
    r(ocsf_errors, edit(OCSF_OPEN, time=DELETE), "time", "required")
    r(ocsf_errors, edit(OCSF_OPEN, metadata__product=DELETE), "metadata.product", "required")
    r(ocsf_errors, edit(OCSF_OPEN, connection_info__direction_id=DELETE,
                        connection_info__direction=DELETE),
      "connection_info.direction_id", "required")
    r(ocsf_errors, edit(OCSF_QUERY, query__hostname=DELETE), "query.hostname", "required")
    r(ocsf_errors, edit(OCSF_OPEN, actor__process__container__image__uid=DELETE),
      "actor.process.container.image.uid", "required")
    r(ocsf_errors, edit(OCSF_OPEN, src_endpoint=DELETE, dst_endpoint=DELETE),
      "class network_activity", "at_least_one")
    r(ocsf_errors, edit(OCSF_OPEN, dst_endpoint={"port": 443}), "dst_endpoint",
      "at_least_one")
    r(ocsf_errors, edit(OCSF_OPEN, actor={"process": {"name": "curl"}}), "actor.process",
      "at_least_one")
    r(ocsf_errors, edit(OCSF_OPEN, type_uid=400102), "type_uid", "class_uid 4001 * 100")
    r(ocsf_errors, edit(OCSF_OPEN, category_uid=3, category_name=DELETE), "category_uid")
    r(ocsf_errors, edit(OCSF_OPEN, device__hostname=""), "device.hostname", "empty string")
    r(ocsf_errors, edit(OCSF_OPEN, message=None), "message", "null")
    r(ocsf_errors, edit(OCSF_OPEN, traffic={}), "traffic", "empty object")
    r(ocsf_errors, edit(OCSF_QUERY, answers=[]), "answers", "empty list")
    r(ocsf_errors, edit(OCSF_OPEN, src_endpoint__ip=["10.0.0.2"]), "src_endpoint.ip",
      "not an array")
    r(ocsf_errors, edit(OCSF_QUERY, answers={"rdata": "x"}), "answers", "not a list")
    r(ocsf_errors, edit(OCSF_OPEN, connection_info="tcp"), "connection_info", "not an object")
    r(ocsf_errors, edit(OCSF_OPEN, metadata__version="1.7.0"), "metadata.version")
    r(ocsf_errors, edit(OCSF_OPEN, metadata__profiles=["host", "contaner"]),
      "metadata.profiles[1]", "not an OCSF profile")
    # profile-gated attributes need their profile listed
    r(ocsf_errors, edit(OCSF_OPEN, metadata__profiles=["container"]), "device",
      "profile host")
    r(ocsf_errors, edit(OCSF_OPEN, metadata__profiles=["host"]), "actor.process.container",
      "profile container")
    r(ocsf_errors, edit(OCSF_OPEN, time_dt="2026-11-26T09:42:09Z"), "time_dt",
      "profile datetime")


# ----------------------------------------------------------------- CEF ----

def esc_header(s):
    return s.replace("\\", "\\\\").replace("|", "\\|")


def esc_ext(s):
    return (s.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n")
            .replace("\r", "\\r"))


def test_cef_round_trips_escaped_values():
    header = ["0", "tcp|ship", "back\\slash", "1.0 = one", "connect-failed",
              "TCP connect failed", "7"]
    ext = {"rt": "1795686129123", "act": "close", "msg": "a=b c\\d\ne\rf | g x=y",
           "sproc": "x suid=0\nCEF:\\", "cs1Label": "container id", "cs1": "a" * 64,
           "cn1": "0", "custom_key.v2": "odd = yes", "trail": "ends with \\"}
    line = "CEF:" + "|".join(esc_header(h) for h in header) + "|" + \
        " ".join(f"{k}={esc_ext(v)}" for k, v in ext.items()) + "\n"
    h, e = parse_cef(line)
    assert h == header, h
    assert e == ext, e
    assert list(e) == list(ext)
    h, e = parse_cef("CEF:0|v|p|1|sig|name|Very-High|")
    assert h[6] == "Very-High" and e == {}
    h, e = parse_cef("CEF:1|v|p|1|sig|name|10|src=10.0.0.2 dst=2001:db8::1 msg=")
    assert e == {"src": "10.0.0.2", "dst": "2001:db8::1", "msg": ""}, e


def test_cef_rejects_malformed_lines():
    ok = "CEF:0|tcpship|tcpship|1.0|connect|TCP connect|3|"
    bad = {
        "CEF:0|tcpship|tcpship|1.0|connect|TCP connect": "7",
        "CEF:0|tcpship|tcpship|1.0|connect|3|src=1": "7",
        "CEF:0|tcp\\ship|tcpship|1.0|connect|TCP connect|3|": "backslash",
        "CEF:0|tcpship|tcpship|1.0|connect|TCP connect\\|3|": "7",
        ok + "msg=a\\tb": "backslash",
        ok + "msg=a\\|b": "backslash",
        ok + "msg=a\\": "backslash",
        ok + "msg=a\nb": "LF",
        ok + "msg=a\rb": "CR",
        "CEF:0|tcpship|tcp\nship|1.0|connect|TCP connect|3|": "LF",
        ok + "src=10.0.0.2\n\n": "LF",
        ok + "msg=a=b": "unescaped '='",
        ok + "msg=x y:z=w": "unescaped '='",
        ok + "src=1 dst=2 src=3": "twice",
        ok + " src=1": "no key=",
        ok + "=1": "no key=",
        "<134>" + ok + "src=1": "CEF:",
        "CEF:2|tcpship|tcpship|1.0|connect|TCP connect|3|": "version",
        "CEF:0|tcpship|tcpship|1.0|connect|TCP connect|11|": "severity",
        "CEF:0|tcpship|tcpship|1.0|connect|TCP connect|high|": "severity",
        "CEF:0|tcpship|tcpship|1.0|connect|TCP connect||": "severity",
    }
    parse_cef(ok + "src=1")
    for line, word in bad.items():
        try:
            got = parse_cef(line)
        except ValueError as e:
            assert word in str(e), f"{line!r}: {e} does not say {word!r}"
        else:
            raise AssertionError(f"{line!r} parsed: {got}")
