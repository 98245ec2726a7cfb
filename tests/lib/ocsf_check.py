"""Check an event against OCSF (tests/ref/ocsf.json, from the OCSF schema).

    ocsf_errors(doc) -> list of messages, empty when the event is valid
    ocsf_version()   -> the OCSF version of the reference ("1.8.0")
    OCSF_CLASSES     -> the class_uids the reference holds (4001, 4003)

The rules of the OCSF server's validator, as errors (its warnings too):
every attribute is defined for the class or object, or for a profile the
event lists in metadata.profiles (the event's profiles hold inside objects
too); values have their data type (with its base type, range, max_len and
regex; ip_t a real IP address), objects are checked against their
definition, arrays are lists and scalars are not; enum values are defined
and an enum's sibling caption (activity_name for activity_id, ...) is the
value's caption (anything for 99 Other); required attributes are present
in the class and in every object; at_least_one / just_one constraints
hold; type_uid = class_uid * 100 + activity_id; metadata.version is the
reference's version. And tcpship's rule: no null, "", [] or {} anywhere
(inside "unmapped" and other free-form objects anything goes).

Stricter than the OCSF server where it only warns or is lenient:
float_t must be a JSON number with a fraction (as the server has it: 3 is
an integer), timestamp_t must look like epoch milliseconds (10^11..10^14,
1973..5138: seconds, microseconds and nanoseconds all fall outside), a
regex must match the whole value.
"""
import ipaddress
import json
import os
import re

REF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ref",
                   "ocsf.json")

_ref = None
_regex = {}
INT64 = (-2**63, 2**63 - 1)
MS_RANGE = (10**11, 10**14)
OCSF_CLASSES = (4001, 4003)  # what tests/ref/extract.py extracts


def _load():
    global _ref
    if _ref is None:
        with open(REF, encoding="utf-8") as f:
            _ref = json.load(f)
    return _ref


def ocsf_version():
    return _load()["version"]


def _join(path, key):
    return f"{path}.{key}" if path else key


def _show(v):
    return json.dumps(v)[:80]


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _constraint(tname, key):
    """A data type's constraint, the type's own or else its base type's."""
    types = _load()["types"]
    t = types[tname]
    if key in t:
        return t[key]
    return types.get(t.get("base", ""), {}).get(key)


def _type_errors(path, v, tname):
    types = _load()["types"]
    if tname not in types:
        return [f"{path}: data type {tname} is not in the reference"]
    base = types[tname].get("base", tname)
    what = f"{tname}" + (f" ({base})" if base != tname else "")
    bad = [f"{path}: {_show(v)} is not a valid {what}"]
    if base == "boolean_t":
        if not isinstance(v, bool):
            return bad
    elif base in ("integer_t", "long_t"):
        if not isinstance(v, int) or isinstance(v, bool) or not INT64[0] <= v <= INT64[1]:
            return bad
    elif base == "float_t":
        if _is_num(v) and not isinstance(v, float):
            return [f"{path}: {v} is an integer; float_t wants a fraction (3.0, not 3)"]
        if not isinstance(v, float):
            return bad
    elif base == "string_t":
        if not isinstance(v, str):
            return bad
        if v == "":
            return [f"{path}: empty string (leave an unknown value out)"]
    elif base == "json_t":
        return []
    else:
        return [f"{path}: base type {base} of {tname} is not handled by ocsf_check"]
    errs = []
    rng = _constraint(tname, "range")
    if rng and _is_num(v) and not rng[0] <= v <= rng[1]:
        errs.append(f"{path}: {v} is outside {tname}'s range {rng[0]}..{rng[1]}")
    values = _constraint(tname, "values")
    if values is not None and v not in values:
        errs.append(f"{path}: {_show(v)} is not one of {tname}'s values {values}")
    if isinstance(v, str):
        max_len = _constraint(tname, "max_len")
        if max_len is not None and len(v) > max_len:
            errs.append(f"{path}: {len(v)} characters, over {tname}'s max_len {max_len}")
        if tname == "ip_t":
            try:
                ipaddress.ip_address(v)
            except ValueError:
                errs.append(f"{path}: {v!r} is not an IP address (ip_t)")
        else:
            rx = _constraint(tname, "regex")
            if rx is not None:
                if rx not in _regex:
                    _regex[rx] = re.compile(rx)
                if not _regex[rx].fullmatch(v):
                    errs.append(f"{path}: {v!r} does not match {tname}'s regex")
    if tname == "timestamp_t" and not errs and not MS_RANGE[0] <= v < MS_RANGE[1]:
        errs.append(f"{path}: {v} does not look like epoch milliseconds (timestamp_t)")
    return errs


def _attributes(defn, profiles):
    attrs = dict(defn["attributes"])
    for p in sorted(profiles):
        attrs.update(defn["profiles"].get(p, {}))
    return attrs


def _single(path, v, a, profiles, errs):
    if v is None:
        errs.append(f"{path}: null (leave an unknown value out)")
        return
    if a["type"] == "object_t":
        obj = _load()["objects"][a["object_type"]]
        if not isinstance(v, dict):
            errs.append(f"{path}: {_show(v)} is not an object ({a['object_type']})")
        elif not v:
            errs.append(f"{path}: empty object (leave an unknown value out)")
        elif obj["attributes"] or obj["profiles"]:
            _object(path, v, obj, f"object {a['object_type']}", profiles, errs)
        return
    e = _type_errors(path, v, a["type"])
    errs.extend(e)
    if not e and "enum" in a and str(v) not in a["enum"]:
        errs.append(f"{path}: {_show(v)} is not a defined value of the enum "
                    f"({', '.join(a['enum'])})")


def _value(path, v, a, profiles, errs):
    if v is None:
        errs.append(f"{path}: null (leave an unknown value out)")
    elif a.get("is_array"):
        if not isinstance(v, list):
            errs.append(f"{path}: {_show(v)} is not a list (an array of "
                        f"{a.get('object_type', a['type'])})")
        elif not v:
            errs.append(f"{path}: empty list (leave an unknown value out)")
        else:
            for i, x in enumerate(v):
                _single(f"{path}[{i}]", x, a, profiles, errs)
    elif isinstance(v, list):
        errs.append(f"{path}: a list, but the attribute is not an array")
    else:
        _single(path, v, a, profiles, errs)


def _sibling(path, obj, name, a, errs):
    sib = a.get("sibling")
    if "enum" not in a or not sib or name not in obj or sib not in obj:
        return
    vals, caps = obj[name], obj[sib]
    if a.get("is_array"):
        if not isinstance(vals, list) or not isinstance(caps, list):
            return
        if len(vals) != len(caps):
            errs.append(f"{_join(path, sib)}: {len(caps)} captions for {len(vals)} "
                        f"values of {_join(path, name)}")
            return
        pairs = [(f"[{i}]", v, c) for i, (v, c) in enumerate(zip(vals, caps))]
    else:
        pairs = [("", vals, caps)]
    for ix, v, c in pairs:
        if isinstance(v, bool) or str(v) not in a["enum"] or v == 99:
            continue  # an undefined value is reported already; 99 Other: any caption
        want = a["enum"][str(v)]
        if c != want:
            errs.append(f"{_join(path, sib)}{ix}: {_show(c)} is not the caption {want!r} of "
                        f"{_join(path, name)}{ix} = {v}")


def _object(path, obj, defn, desc, profiles, errs):
    attrs = _attributes(defn, profiles)
    for k, v in obj.items():
        p = _join(path, k)
        if k not in attrs:
            need = [n for n, pa in defn["profiles"].items() if k in pa]
            if need:
                errs.append(f"{p}: defined for {desc} only with profile "
                            f"{' or '.join(need)}, which metadata.profiles does not list")
            else:
                errs.append(f"{p}: not an attribute of {desc}")
            continue
        _value(p, v, attrs[k], profiles, errs)
    for k, a in attrs.items():
        if a["requirement"] == "required" and k not in obj:
            errs.append(f"{_join(path, k)}: required by {desc}, missing")
        _sibling(path, obj, k, a, errs)
    where = f"{path}: " if path else ""
    for kind, keys in defn.get("constraints", {}).items():
        n = sum(1 for k in keys if k in obj)
        if kind == "at_least_one" and n == 0:
            errs.append(f"{where}{desc} wants at least one of {', '.join(keys)} "
                        f"(at_least_one), got none")
        elif kind == "just_one" and n != 1:
            errs.append(f"{where}{desc} wants exactly one of {', '.join(keys)} "
                        f"(just_one), got {n}")
        elif kind not in ("at_least_one", "just_one"):
            errs.append(f"{where}constraint {kind} of {desc} is not handled by ocsf_check")


def ocsf_errors(doc):
    ref = _load()
    if not isinstance(doc, dict):
        return ["the event is not a JSON object"]
    cu = doc.get("class_uid")
    if isinstance(cu, bool) or not isinstance(cu, int) or str(cu) not in ref["classes"]:
        return [f"class_uid: {_show(cu)} is not a class in the reference "
                f"({', '.join(ref['classes'])})"]
    cls = ref["classes"][str(cu)]
    errs = []
    profiles = set()
    md = doc.get("metadata")
    if isinstance(md, dict) and isinstance(md.get("profiles"), list):
        for i, p in enumerate(md["profiles"]):
            if isinstance(p, str) and p not in ref["profiles"]:
                errs.append(f"metadata.profiles[{i}]: {p!r} is not an OCSF profile")
            elif isinstance(p, str):
                profiles.add(p)
        if len(set(map(str, md["profiles"]))) != len(md["profiles"]):
            errs.append("metadata.profiles: a profile listed twice")
    if isinstance(md, dict) and isinstance(md.get("version"), str) \
            and md["version"] != ref["version"]:
        errs.append(f"metadata.version: {md['version']!r}, but the reference is OCSF "
                    f"{ref['version']}")
    _object("", doc, cls, f"class {cls['name']} ({cu})", profiles, errs)
    act, tu = doc.get("activity_id"), doc.get("type_uid")
    if all(isinstance(x, int) and not isinstance(x, bool) for x in (act, tu)) \
            and tu != cu * 100 + act:
        errs.append(f"type_uid: {tu}, but class_uid {cu} * 100 + activity_id {act} "
                    f"= {cu * 100 + act}")
    cat = doc.get("category_uid")
    if isinstance(cat, int) and not isinstance(cat, bool) and cat != cls["category_uid"]:
        errs.append(f"category_uid: {cat}, but class {cu} is in category "
                    f"{cls['category_uid']} ({cls['category_name']})")
    return errs
