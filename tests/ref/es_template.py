#!/usr/bin/env python3
"""Make schemas/elasticsearch-template.json, the composable index template
for tcpship's ECS documents, from the ECS extract (tests/ref/ecs.json):

    python3 tests/ref/es_template.py [--check]

Every field the ecs shape (shipper/shapes/ecs.c) writes is mapped with
ECS's own type, except that the two times are date_nanos (ECS says date,
which keeps milliseconds only; tcpship's times have nanoseconds). tcpship's
own keys (tcpship.*) have the types of the native schema. --check exits 1
when the file in schemas/ is not what this makes.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "schemas", "elasticsearch-template.json")

# what shipper/shapes/ecs.c writes, ECS's part
ECS_FIELDS = [
    "@timestamp", "ecs.version",
    "event.kind", "event.category", "event.type", "event.action", "event.outcome",
    "event.sequence", "event.duration", "event.severity", "event.module", "event.dataset",
    "error.code",
    "agent.type", "agent.version", "agent.ephemeral_id",
    "host.name", "host.hostname",
    "source.ip", "source.port", "source.bytes", "source.domain",
    "destination.ip", "destination.port", "destination.bytes", "destination.domain",
    "network.transport", "network.iana_number", "network.type", "network.direction",
    "network.protocol", "network.community_id", "network.bytes",
    "process.pid", "process.name", "process.thread.id", "process.parent.pid",
    "process.executable", "process.start",
    "user.id",
    "container.id", "container.runtime", "container.name", "container.image.name",
    "orchestrator.type", "orchestrator.namespace", "orchestrator.resource.type",
    "orchestrator.resource.name", "orchestrator.resource.id",
    "dns.type", "dns.id", "dns.question.name", "dns.question.type",
    "dns.response_code", "dns.header_flags", "dns.answers.name", "dns.answers.type",
    "dns.answers.class", "dns.answers.ttl", "dns.answers.data", "dns.resolved_ip",
]
NANOS = {"@timestamp", "process.start"}

# tcpship.*: what ECS has no field for (shipper/shapes/common.c)
OWN_FIELDS = {
    "tcpship.probe": "keyword", "tcpship.netns": "long", "tcpship.cgroup": "keyword",
    "tcpship.unit": "keyword", "tcpship.established": "boolean",
    "tcpship.retransmits": "long", "tcpship.end_reason": "keyword", "tcpship.state": "keyword",
    "tcpship.latency_ns": "long", "tcpship.connect_latency_ns": "long",
    "tcpship.dns_truncated": "boolean", "tcpship.bytes_sent_delta": "long",
    "tcpship.bytes_received_delta": "long", "tcpship.retransmits_delta": "long",
}


def mapping(ecs_type, name):
    if name in NANOS:
        return {"type": "date_nanos"}
    if ecs_type == "keyword":
        return {"type": "keyword", "ignore_above": 1024}
    return {"type": ecs_type}


def put(props, name, m):
    parts = name.split(".")
    for p in parts[:-1]:
        props = props.setdefault(p, {"properties": {}})["properties"]
    props[parts[-1]] = m


def template():
    with open(os.path.join(HERE, "ecs.json")) as f:
        ecs = json.load(f)
    props = {}
    for name in ECS_FIELDS:
        if name not in ecs["fields"]:
            sys.exit(f"es_template: {name} is no ECS {ecs['version']} field")
        put(props, name, mapping(ecs["fields"][name]["type"], name))
    for name, t in OWN_FIELDS.items():
        put(props, name, {"type": t, "ignore_above": 1024} if t == "keyword" else {"type": t})
    return {
        "index_patterns": ["logs-tcpship-*"],
        "data_stream": {},
        "priority": 200,
        "template": {
            "settings": {"index": {"codec": "best_compression"}},
            "mappings": {"dynamic": False, "date_detection": False, "properties": props},
        },
        "_meta": {"description": "tcpship's ECS documents (--schema ecs, the elasticsearch "
                                 "format's default)", "ecs_version": ecs["version"]},
    }


def main():
    text = json.dumps(template(), indent=2, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            if f.read() != text:
                sys.exit(f"{OUT} is stale: run python3 tests/ref/es_template.py")
        return
    with open(OUT, "w") as f:
        f.write(text)
    print(f"{OUT}: {len(ECS_FIELDS) + len(OWN_FIELDS)} fields")


if __name__ == "__main__":
    main()
