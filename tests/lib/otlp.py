"""A strict reader of OTLP/HTTP logs requests in the JSON encoding.

    parse_logs(body) -> [LogItem, ...]

body: the bytes of an ExportLogsServiceRequest (after any gzip). Each log
record comes back with its resource's and scope's attributes, all as plain
Python values. OtlpError (a ValueError), saying what and where, for
anything the OTLP JSON mapping of opentelemetry-proto does not allow, or
allows but no careful writer sends:

- keys are the proto fields' lowerCamelCase JSON names, each message only
  its own (snake_case or an unknown key is an error), no key twice;
- 64-bit integers (times, intValue) are JSON strings of decimal digits in
  range, as the mapping says; enums (severityNumber) are JSON numbers,
  severityNumber 1..24; traceId/spanId hex of 32/16 digits;
- an AnyValue has exactly one of stringValue, boolValue, intValue,
  doubleValue, arrayValue, kvlistValue, bytesValue, of its type;
- attribute lists are lists of {"key","value"} with non-empty keys, each
  key once per list;
- at least one resourceLogs, scopeLogs and logRecords where there is one
  at all (an empty list means the writer sent nothing for nothing).
"""
import base64
import binascii
import json
import re
from collections import namedtuple

LogItem = namedtuple("LogItem", "resource scope record attrs where resource_index")

REQUEST = {"resourceLogs"}
RESOURCE_LOGS = {"resource", "scopeLogs", "schemaUrl"}
RESOURCE = {"attributes", "droppedAttributesCount", "entityRefs"}
SCOPE_LOGS = {"scope", "logRecords", "schemaUrl"}
SCOPE = {"name", "version", "attributes", "droppedAttributesCount"}
LOG_RECORD = {"timeUnixNano", "observedTimeUnixNano", "severityNumber", "severityText", "body",
              "attributes", "droppedAttributesCount", "flags", "traceId", "spanId",
              "eventName"}
ANY_VALUE = {"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue",
             "kvlistValue", "bytesValue"}

_UINT = re.compile(r"(0|[1-9][0-9]*)\Z")
_INT = re.compile(r"-?(0|[1-9][0-9]*)\Z")
_HEX = re.compile(r"[0-9a-f]*\Z")


class OtlpError(ValueError):
    pass


def _no_twice(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise OtlpError(f"key {k!r} twice in one object")
        d[k] = v
    return d


def _obj(v, allowed, where, need=()):
    if not isinstance(v, dict):
        raise OtlpError(f"{where}: an object expected, got {type(v).__name__}")
    extra = set(v) - allowed
    if extra:
        raise OtlpError(f"{where}: unknown keys {sorted(extra)} (allowed: {sorted(allowed)})")
    missing = [k for k in need if k not in v]
    if missing:
        raise OtlpError(f"{where}: missing {missing}")
    return v


def _list(v, where, nonempty=True):
    if not isinstance(v, list):
        raise OtlpError(f"{where}: a list expected, got {type(v).__name__}")
    if nonempty and not v:
        raise OtlpError(f"{where}: an empty list")
    return v


def _u64(v, where):
    """fixed64/uint64: a string of decimal digits, 0..2^64-1"""
    if not isinstance(v, str) or not _UINT.match(v) or int(v) >= 1 << 64:
        raise OtlpError(f"{where}: {v!r} is not a uint64 as a JSON string of digits")
    return int(v)


def _int(v, where, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise OtlpError(f"{where}: {v!r} is not a JSON number in {lo}..{hi}")
    return v


def _str(v, where):
    if not isinstance(v, str):
        raise OtlpError(f"{where}: {v!r} is not a string")
    return v


def any_value(v, where):
    """An AnyValue as a Python value (int for intValue, bytes for bytesValue,
    list, dict)."""
    _obj(v, ANY_VALUE, where)
    if len(v) != 1:
        raise OtlpError(f"{where}: an AnyValue holds exactly one value, has {sorted(v)}")
    (kind, x), = v.items()
    w = f"{where}.{kind}"
    if kind == "stringValue":
        return _str(x, w)
    if kind == "boolValue":
        if not isinstance(x, bool):
            raise OtlpError(f"{w}: {x!r} is not a boolean")
        return x
    if kind == "intValue":
        if not isinstance(x, str) or not _INT.match(x) or not -(1 << 63) <= int(x) < 1 << 63:
            raise OtlpError(f"{w}: {x!r} is not an int64 as a JSON string of digits")
        return int(x)
    if kind == "doubleValue":
        if isinstance(x, bool) or not isinstance(x, (int, float)) and \
                x not in ("NaN", "Infinity", "-Infinity"):
            raise OtlpError(f"{w}: {x!r} is not a double")
        return float(x)
    if kind == "bytesValue":
        try:
            return base64.b64decode(_str(x, w), validate=True)
        except binascii.Error:
            raise OtlpError(f"{w}: {x!r} is not base64") from None
    inner = _obj(x, {"values"}, w)
    vals = _list(inner.get("values", []), f"{w}.values", nonempty=False)
    if kind == "arrayValue":
        return [any_value(e, f"{w}.values[{i}]") for i, e in enumerate(vals)]
    return key_values(vals, f"{w}.values")


def key_values(lst, where):
    """A list of KeyValue as a dict; each key once."""
    out = {}
    for i, kv in enumerate(_list(lst, where, nonempty=False)):
        w = f"{where}[{i}]"
        _obj(kv, {"key", "value"}, w, need=("key", "value"))
        k = _str(kv["key"], f"{w}.key")
        if not k:
            raise OtlpError(f"{w}.key: empty")
        if k in out:
            raise OtlpError(f"{where}: attribute {k!r} twice")
        out[k] = any_value(kv["value"], f"{w}.value({k})")
    return out


def _record(rec, where):
    _obj(rec, LOG_RECORD, where)
    for k in ("timeUnixNano", "observedTimeUnixNano"):
        if k in rec:
            _u64(rec[k], f"{where}.{k}")
    if "severityNumber" in rec:
        _int(rec["severityNumber"], f"{where}.severityNumber", 1, 24)
    for k in ("severityText", "eventName"):
        if k in rec:
            _str(rec[k], f"{where}.{k}")
    if "body" in rec:
        any_value(rec["body"], f"{where}.body")
    if "droppedAttributesCount" in rec:
        _int(rec["droppedAttributesCount"], f"{where}.droppedAttributesCount", 0, 2**32 - 1)
    if "flags" in rec:
        _int(rec["flags"], f"{where}.flags", 0, 2**32 - 1)
    for k, n in (("traceId", 32), ("spanId", 16)):
        if k in rec and (not isinstance(rec[k], str) or len(rec[k]) != n or
                         not _HEX.match(rec[k])):
            raise OtlpError(f"{where}.{k}: {rec[k]!r} is not {n} lower-case hex digits")
    return key_values(rec.get("attributes", []), f"{where}.attributes")


def parse_logs(body):
    """Every log record of an ExportLogsServiceRequest, in order."""
    try:
        doc = json.loads(body, object_pairs_hook=_no_twice)
    except json.JSONDecodeError as e:
        raise OtlpError(f"not JSON: {e}") from None
    _obj(doc, REQUEST, "request", need=("resourceLogs",))
    items = []
    for r, rl in enumerate(_list(doc["resourceLogs"], "resourceLogs")):
        w = f"resourceLogs[{r}]"
        _obj(rl, RESOURCE_LOGS, w, need=("resource", "scopeLogs"))
        res = _obj(rl["resource"], RESOURCE, f"{w}.resource")
        rattrs = key_values(res.get("attributes", []), f"{w}.resource.attributes")
        for s, sl in enumerate(_list(rl["scopeLogs"], f"{w}.scopeLogs")):
            ws = f"{w}.scopeLogs[{s}]"
            _obj(sl, SCOPE_LOGS, ws, need=("logRecords",))
            scope = _obj(sl.get("scope", {}), SCOPE, f"{ws}.scope")
            for k in ("name", "version"):
                if k in scope:
                    _str(scope[k], f"{ws}.scope.{k}")
            key_values(scope.get("attributes", []), f"{ws}.scope.attributes")
            for i, rec in enumerate(_list(sl["logRecords"], f"{ws}.logRecords")):
                wr = f"{ws}.logRecords[{i}]"
                items.append(LogItem(rattrs, scope, rec, _record(rec, wr), wr, r))
    return items


def response(rejected=0, message=None):
    """An ExportLogsServiceResponse as the collector's otlp receiver writes it."""
    ps = {}
    if rejected:
        ps["rejectedLogRecords"] = str(rejected)
    if message:
        ps["errorMessage"] = message
    return json.dumps({"partialSuccess": ps}).encode()
