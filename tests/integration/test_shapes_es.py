"""The elasticsearch format and ECS: documents tcpship sends by default
carry @timestamp and ecs.version and pass the ECS 9.4 definitions (the
strict stub refuses, as a data stream does, a document without
@timestamp under "create"); the index template in schemas/ maps every
field those documents hold, with ECS's types."""
import json
import os
import subprocess
import sys

from collector import Collector
from ecs_check import ecs_errors
from tslib import ROOT, Tcpship, at_cleanup, require_root, trig, wait_until

sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import es_template  # noqa: E402

TEMPLATE = os.path.join(ROOT, "schemas", "elasticsearch-template.json")


def load_template():
    with open(TEMPLATE) as f:
        return json.load(f)


def mapped_types(props, prefix=""):
    """flat field name -> mapping type of a template's properties"""
    out = {}
    for k, v in props.items():
        if "properties" in v:
            out.update(mapped_types(v["properties"], prefix + k + "."))
        else:
            out[prefix + k] = v["type"]
    return out


def leaves(doc, prefix=""):
    for k, v in doc.items():
        if isinstance(v, dict):
            yield from leaves(v, prefix + k + ".")
        else:
            yield prefix + k, v


def ecs_fields():
    with open(os.path.join(ROOT, "tests", "ref", "ecs.json")) as f:
        return json.load(f)["fields"]


def start(coll, entry_extra=None):
    entry = {"type": "http", "url": coll.url(), "format": "elasticsearch",
             "batch": {"max_delay": "100ms"}, **(entry_extra or {})}
    path = os.path.join(coll_dir(), "tcpship.json")
    with open(path, "w") as f:
        json.dump({"outputs": [entry]}, f)
    return Tcpship("-c", path, "-e", "connect,accept,close,dns")


def coll_dir():
    import tempfile
    d = tempfile.mkdtemp(prefix="tcpship-es-")
    at_cleanup(lambda: subprocess.run(["rm", "-rf", d]))
    return d


def my_docs(coll, gts):
    pids = {g[k] for g in gts for k in ("client_pid", "server_pid")}
    return [e["_ecs"] for e in coll.events_by_key.values()
            if "_ecs" in e and e.get("pid") in pids]


def test_elasticsearch_default_is_ecs_with_timestamp_and_template_maps_it():
    require_root()
    coll = Collector("elasticsearch")           # action "create": @timestamp required
    at_cleanup(coll.stop)
    ts = start(coll)
    gts = [trig("tcp_pair") for _ in range(3)]
    coll.wait(lambda: len(my_docs(coll, gts)) >= 12, 20, "the trigger's 12 documents")
    ts.stop()
    assert not coll.violations, coll.violations[:3]
    docs = [e["_ecs"] for e in coll.events_by_key.values()]
    assert all("_ecs" in e for e in coll.events_by_key.values())
    bad = [(d, ecs_errors(d)) for d in docs if ecs_errors(d)]
    assert not bad, bad[:2]
    mine = my_docs(coll, gts)
    assert {d["event"]["action"] for d in mine} == {"connect", "accept", "close"}
    for d in mine:
        assert d["ecs"]["version"] == "9.4.0" and d["@timestamp"].endswith("Z"), d
    # every field of every document is in the template, as the type it has there
    types = mapped_types(load_template()["template"]["mappings"]["properties"])
    fields = ecs_fields()
    for d in docs:
        for name, v in leaves(d):
            assert name in types, f"{name} is not in {TEMPLATE}"
            if name.startswith("tcpship."):
                continue
            want = "date_nanos" if fields[name]["type"] == "date" else fields[name]["type"]
            assert types[name] == want, (name, types[name], want)


def test_elasticsearch_native_schema_on_request():
    """"schema": "native" keeps tcpship's own documents (with "index": a
    data stream would refuse them: no @timestamp)"""
    require_root()
    coll = Collector("elasticsearch", action="index")
    at_cleanup(coll.stop)
    ts = start(coll, {"schema": "native", "action": "index"})
    gts = [trig("tcp_pair")]
    pids = {gts[0]["client_pid"], gts[0]["server_pid"]}
    coll.wait(lambda: len([e for e in coll.events_by_key.values() if e.get("pid") in pids])
              >= 4, 20, "the trigger's 4 documents")
    ts.stop()
    assert not coll.violations, coll.violations[:3]
    assert not any("_ecs" in e for e in coll.events_by_key.values())
    assert all("@timestamp" not in e and "seq" in e for e in coll.events_by_key.values())


def test_elasticsearch_create_refuses_documents_without_timestamp():
    """the stub is as strict as a data stream: native documents under
    "create" are a violation, so the test above would catch a default that
    went back to native"""
    require_root()
    coll = Collector("elasticsearch")
    at_cleanup(coll.stop)
    ts = start(coll, {"schema": "native"})
    trig("tcp_pair")
    wait_until(lambda: coll.violations, 20, "the stub's violation")
    ts.stop()
    assert "no @timestamp" in coll.violations[0], coll.violations[0]


def test_template_is_composable_and_typed_as_ecs():
    t = load_template()
    assert set(t) >= {"index_patterns", "template", "data_stream", "priority"}, list(t)
    assert t["priority"] > 100      # above Elasticsearch's built-in logs-*-*
    assert all(p.startswith("logs-tcpship-") for p in t["index_patterns"])
    types = mapped_types(t["template"]["mappings"]["properties"])
    fields = ecs_fields()
    for name, typ in types.items():
        if name.startswith("tcpship."):
            continue
        assert name in fields, f"{name}: no ECS field"
        want = fields[name]["type"]
        assert typ == want or (want == "date" and typ == "date_nanos"), (name, typ, want)
    assert types["@timestamp"] == "date_nanos" and types["source.ip"] == "ip"
    assert types["destination.ip"] == "ip" and types["event.sequence"] == "long"
    # the file is what the generator makes from the extract
    assert json.loads(json.dumps(es_template.template(), sort_keys=True)) == t
