"""Check a document against ECS (tests/ref/ecs.json, from ecs_flat.yml).

    ecs_errors(doc) -> list of messages, empty when the document is valid
    ecs_version()   -> the ECS version of the reference ("9.4.0")

Every leaf, nested ({"source": {"ip": ...}}) or dotted ({"source.ip": ...}),
must be an ECS field of the right type; anything under the custom
namespace "tcpship." is allowed. Allowed and expected values are enforced
(event.kind, event.category, event.type, event.outcome, network.direction,
...), every event.type must be expected for one of the event.category
values, and null, "", [] and {} are errors anywhere: tcpship leaves an
unknown value out, it never sends it empty.
"""
import ipaddress
import json
import os
import re

REF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ref",
                   "ecs.json")
CUSTOM = "tcpship"

_ref = None
_prefixes = None

_STR = {"keyword", "constant_keyword", "wildcard", "text", "match_only_text"}
_INT = {"long": (-2**63, 2**63 - 1), "integer": (-2**31, 2**31 - 1),
        "short": (-2**15, 2**15 - 1), "byte": (-2**7, 2**7 - 1),
        "unsigned_long": (0, 2**64 - 1)}
_FLOAT = {"float", "double", "scaled_float", "half_float"}
_OBJ = {"object", "flattened", "nested"}
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?"
                   r"([Zz]|[+-](\d{2}):(\d{2}))")
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _load():
    global _ref, _prefixes
    if _ref is None:
        with open(REF, encoding="utf-8") as f:
            _ref = json.load(f)
        _prefixes = set()
        for name in _ref["fields"]:
            parts = name.split(".")
            for i in range(1, len(parts)):
                _prefixes.add(".".join(parts[:i]))
    return _ref["fields"]


def ecs_version():
    _load()
    return _ref["version"]


def is_rfc3339(s):
    """An RFC 3339 date-time, fractions to nanoseconds, a valid calendar
    date and clock time (no leap second: Elasticsearch refuses :60)."""
    m = _DATE.fullmatch(s)
    if not m:
        return False
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    if not 1 <= mo <= 12 or not 1 <= d <= _DAYS[mo - 1] or h > 23 or mi > 59 or sec > 59:
        return False
    if mo == 2 and d == 29 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        return False
    if m.group(9) and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


def _is_ip(v):
    try:
        ipaddress.ip_address(v)
        return True
    except ValueError:
        return False


def _empty(path, v, errs):
    """null, "", [] or {} anywhere under path."""
    if v is None:
        errs.append(f"{path}: null (leave an unknown value out)")
    elif isinstance(v, str) and v == "":
        errs.append(f"{path}: empty string (leave an unknown value out)")
    elif isinstance(v, (list, dict)) and not v:
        errs.append(f"{path}: empty {'list' if isinstance(v, list) else 'object'}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _empty(f"{path}[{i}]", x, errs)
    elif isinstance(v, dict):
        for k, x in v.items():
            _empty(f"{path}.{k}" if path else str(k), x, errs)


def _type_error(path, f, v):
    """None when v is a valid single value of field f, else the message."""
    t = f["type"]
    bad = f"{path}: {json.dumps(v)[:80]} is not a valid ECS {t}"
    if t in _STR:
        if not isinstance(v, str):
            return bad
        if "pattern" in f and not re.search(f["pattern"], v):
            return f"{path}: {v!r} does not match the ECS pattern {f['pattern']}"
        return None
    if t in _INT:
        lo, hi = _INT[t]
        return None if isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi \
            else bad
    if t in _FLOAT:
        return None if isinstance(v, (int, float)) and not isinstance(v, bool) else bad
    if t == "boolean":
        return None if isinstance(v, bool) else bad
    if t == "ip":
        return None if isinstance(v, str) and _is_ip(v) else bad
    if t == "date":
        return None if isinstance(v, str) and is_rfc3339(v) else bad + " (RFC 3339)"
    if t == "geo_point":
        if isinstance(v, dict) and set(v) == {"lat", "lon"} and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in v.values()):
            return None if -90 <= v["lat"] <= 90 and -180 <= v["lon"] <= 180 else bad
        return bad + ' ({"lat": .., "lon": ..})'
    return f"{path}: ECS type {t} is not handled by ecs_check"


def _values(path, f, v, errs):
    for key, what in (("allowed", "allowed"), ("expected", "expected")):
        if key in f and isinstance(v, str) and v not in f[key]:
            errs.append(f"{path}: {v!r} is not an {what} value ({', '.join(f[key])})")


def _walk(path, v, fields, errs, seen):
    """Check value v at dotted path (path may be a namespace or a field)."""
    if path == CUSTOM or path.startswith(CUSTOM + "."):
        if path == CUSTOM and not isinstance(v, dict):
            errs.append(f"{path}: the custom namespace must be an object")
        return
    f = fields.get(path)
    if f is None:
        if isinstance(v, dict) and path in _prefixes:
            _walk_obj(path, v, fields, errs, seen)
        elif path in _prefixes:
            errs.append(f"{path}: a namespace of ECS fields, not a value "
                        f"({json.dumps(v)[:60]})")
        else:
            errs.append(f"{path}: not an ECS field")
        return
    if path in seen:
        errs.append(f"{path}: given twice (nested and dotted)")
        return
    seen.add(path)
    arr = "array" in f.get("normalize", ())
    if isinstance(v, list):
        if not arr and f["type"] != "nested":
            errs.append(f"{path}: a list, but the field is not an array field")
            return
        items = v
    else:
        items = [v]
    for i, x in enumerate(items):
        p = f"{path}[{i}]" if isinstance(v, list) else path
        if x is None or isinstance(x, (list, dict)) and not x or x == "":
            continue  # _empty reports it
        if f["type"] in _OBJ:
            if not isinstance(x, dict):
                errs.append(f"{p}: {json.dumps(x)[:60]} is not an object (ECS {f['type']})")
            elif "object_type" in f:
                for k, y in x.items():
                    e = _type_error(f"{p}.{k}", {"type": f["object_type"]}, y)
                    if e:
                        errs.append(e)
            elif f["type"] != "flattened" and path in _prefixes:
                _walk_obj(path, x, fields, errs, seen if not isinstance(v, list) else set())
            continue
        if isinstance(x, list):
            errs.append(f"{p}: a list inside a list")
            continue
        e = _type_error(p, f, x)
        if e:
            errs.append(e)
        else:
            _values(p, f, x, errs)


def _walk_obj(prefix, obj, fields, errs, seen):
    for k, v in obj.items():
        if not isinstance(k, str) or not k or any(not p for p in k.split(".")):
            errs.append(f"{prefix + '.' if prefix else ''}{k!r}: not a field name")
            continue
        _walk(f"{prefix}.{k}" if prefix else k, v, fields, errs, seen)


def _as_list(v):
    return v if isinstance(v, list) else [v]


def _lookup(doc, name):
    """The value of a dotted field from a nested and/or dotted document."""
    if name in doc:
        return doc[name]
    for i in range(len(name) - 1, 0, -1):
        if name[i] == "." and isinstance(doc.get(name[:i]), dict):
            v = _lookup(doc[name[:i]], name[i + 1:])
            if v is not None:
                return v
    return None


def ecs_errors(doc):
    fields = _load()
    if not isinstance(doc, dict):
        return ["the document is not a JSON object"]
    if not doc:
        return ["the document is empty"]
    errs = []
    _empty("", doc, errs)
    _walk_obj("", doc, fields, errs, set())
    for name, f in fields.items():
        if f.get("required") and _lookup(doc, name) is None:
            errs.append(f"{name}: required by ECS, missing")
    cats = _lookup(doc, "event.category")
    types = _lookup(doc, "event.type")
    if types is not None:
        eet = fields["event.category"]["expected_event_types"]
        cats = [c for c in _as_list(cats) if isinstance(c, str) and c in eet] \
            if cats is not None else []
        for t in _as_list(types):
            if not isinstance(t, str):
                continue
            if not cats:
                errs.append(f"event.type: {t!r} without an event.category it is expected for")
            elif not any(t in eet[c] for c in cats):
                errs.append(f"event.type: {t!r} is not an expected event type of "
                            f"event.category {', '.join(cats)}")
    return errs
