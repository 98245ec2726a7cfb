#!/usr/bin/env python3
"""Make tests/ref/*.json, the compact extracts of ../shared/ref/ the tests
check against (a clone has no ../shared). Run from anywhere:

    python3 tests/ref/extract.py [SHARED_REF_DIR] [--out DIR]

(--out: write there instead of tests/ref/, e.g. to compare.) Needs PyYAML
(python3-yaml) for ecs.json; the tests read only the JSON it writes.

community_id.json: the Community ID spec's baseline vectors for the
protocols tcpship hashes (TCP 6, UDP 17, SCTP 132), in its three settings
(defaults, seed 1, no base64).

ecs.json: every field of ECS's ecs_flat.yml by flat name: type, normalize
(when "array"), allowed values (names), expected values, pattern,
object_type, required, and for event.category each value's expected event
types. No descriptions.

ocsf.json: what validating OCSF Network Activity (4001) and DNS Activity
(4003) events needs: each class's attributes resolved the way OCSF's schema
compiler (ocsf-schema-compiler, which the OCSF server runs on) resolves
them, every object reachable from them, and the dictionary's data types.
"""
import argparse
import copy
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_REF = os.path.join(HERE, "..", "..", "..", "shared", "ref")

SETTINGS = [("baseline_deflt.json", 0, True), ("baseline_seed1.json", 1, True),
            ("baseline_nob64.json", 0, False)]

OCSF_CLASSES = (4001, 4003)


def die(msg):
    sys.exit("extract: " + msg)


def community_id(ref):
    out = []
    for name, seed, b64 in SETTINGS:
        with open(os.path.join(ref, "community-id", "baseline", name)) as f:
            for v in json.load(f):
                if v.get("proto") not in (6, 17, 132) or "sport" not in v:
                    continue
                out.append({"proto": v["proto"], "saddr": v["saddr"], "daddr": v["daddr"],
                            "sport": v["sport"], "dport": v["dport"], "seed": seed,
                            "base64": b64, "id": v["communityid"]})
    if not out:
        die("no Community ID vectors found under " + ref)
    return out


def one_dir(ref, pattern):
    found = sorted(d for d in glob.glob(os.path.join(ref, pattern)) if os.path.isdir(d))
    if len(found) != 1:
        die(f"want exactly one {pattern} under {ref}, found {found}")
    return found[0]


# ---------------------------------------------------------------- ECS ----

def ecs(ref):
    try:
        import yaml
    except ImportError:
        die("ecs.json needs PyYAML (apt-get install python3-yaml)")
    d = one_dir(ref, "ecs-*")
    version = os.path.basename(d)[len("ecs-"):]
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(os.path.join(d, "ecs_flat.yml")) as f:
        flat = yaml.load(f, Loader=loader)
    fields = {}
    for name in sorted(flat):
        v = flat[name]
        if v.get("flat_name", name) != name:
            die(f"ecs: {name} has flat_name {v.get('flat_name')}")
        out = {"type": v["type"]}
        if v.get("normalize"):
            if v["normalize"] != ["array"]:
                die(f"ecs: {name}: unknown normalize {v['normalize']}")
            out["normalize"] = ["array"]
        if "object_type" in v:
            out["object_type"] = v["object_type"]
        if v.get("required"):
            out["required"] = True
        if "pattern" in v:
            out["pattern"] = v["pattern"]
        if "allowed_values" in v:
            out["allowed"] = [a["name"] for a in v["allowed_values"]]
            eet = {a["name"]: a["expected_event_types"] for a in v["allowed_values"]
                   if "expected_event_types" in a}
            if eet:
                out["expected_event_types"] = eet
        if "expected_values" in v:
            out["expected"] = list(v["expected_values"])
        fields[name] = out
    if "event.category" not in fields or "expected_event_types" not in fields["event.category"]:
        die("ecs: event.category has no expected_event_types")
    return {"version": version,
            "source": f"elastic/ecs v{version} generated/ecs/ecs_flat.yml",
            "fields": fields}


# --------------------------------------------------------------- OCSF ----
#
# The OCSF schema compiler's resolution, step by step (the order matters):
#  1. read: an attribute's "profile": P becomes "profiles": [P] ("profile":
#     null becomes "profiles": null: never gated by a profile);
#  2. "$include" in "attributes" (profiles, mostly): a copy of the included
#     file's attributes, each marked "profiles": [its name] when the file is
#     a profile and given the profile's "annotations" it lacks, with the
#     item's own attribute details merged on top (the item's win, except
#     "profiles", which are unioned: an attribute the item also defines
#     stays in the profile unless it says "profile": null); "$include" in
#     one attribute: the included details under the attribute's own;
#  3. "extends": a copy of the parent (itself resolved first) with the
#     item merged on top the same way; "profiles" lists unioned, any other
#     key replaced; classes without a uid (but base_event) and objects
#     named _* are hidden, used only as parents;
#  4. leaf classes: uid = category uid * 1000 + uid; class_uid,
#     category_uid and type_uid enums made for the class;
#  5. the "datetime" profile: each timestamp_t attribute gets a datetime_t
#     sibling NAME_dt, optional, in profile "datetime";
#  6. a missing requirement is "optional";
#  7. each attribute is the dictionary's attribute with the item's details
#     deep-merged on top (so class enum values add to and override the
#     dictionary's); a dictionary type that is not a data type is an object.
# An attribute with profiles [P, ...] exists in an event only when one of
# them is in the event's metadata.profiles, also inside objects (the OCSF
# server validator passes the event's profiles down to every object).

REQ_RANK = {"optional": 0, "recommended": 1, "required": 2}


def read_json(path):
    with open(path) as f:
        return json.load(f)


def deep_merge(dest, src):
    for k, v in src.items():
        if k in dest and isinstance(dest[k], dict) and isinstance(v, dict):
            deep_merge(dest[k], v)
        else:
            dest[k] = v


def merge_attribute(dest, src):
    for k, v in src.items():
        if k not in dest:
            dest[k] = v
        elif dest[k] == v:
            pass
        elif k == "profiles":
            if v is None or dest[k] is None:
                dest[k] = None
            else:
                dest[k] = sorted(set(dest[k]) | set(v))
        elif k == "requirement" and src.get("profiles") is not None and "profiles" in dest:
            dest[k] = max(dest[k], v, key=lambda r: REQ_RANK.get(r, 0))
        elif isinstance(dest[k], dict) and isinstance(v, dict):
            deep_merge(dest[k], v)
        else:
            dest[k] = v


def merge_attributes(dest, src):
    for name, a in src.items():
        if name in dest:
            merge_attribute(dest[name], a)
        else:
            dest[name] = a


def upgrade_profile_key(item, where):
    for name, a in item.get("attributes", {}).items():
        if isinstance(a, dict) and "profile" in a:
            if "profiles" in a:
                die(f"ocsf: {where} attribute {name} has both profile and profiles")
            p = a.pop("profile")
            a["profiles"] = None if p is None else [p]


def resolve_includes(item, root, where):
    attrs = item.setdefault("attributes", {})
    inc = attrs.pop("$include", None)
    if inc is not None:
        for rel in [inc] if isinstance(inc, str) else inc:
            included = read_json(os.path.join(root, rel))
            if "$include" in included.get("attributes", {}):
                die(f"ocsf: {rel} (included by {where}) has its own $include")
            merged = copy.deepcopy(included.get("attributes", {}))
            if included.get("meta") == "profile":
                for name, a in merged.items():
                    if "profile" in a or "profiles" in a:
                        die(f"ocsf: profile {rel} attribute {name} names a profile")
                    a["profiles"] = [included["name"]]
            for a in merged.values():
                for k, v in included.get("annotations", {}).items():
                    a.setdefault(k, v)
            merge_attributes(merged, item["attributes"])
            item["attributes"] = merged
    for name, a in list(item["attributes"].items()):
        if isinstance(a, dict) and "$include" in a:
            rel = a.pop("$include")
            new = copy.deepcopy(read_json(os.path.join(root, rel)))
            deep_merge(new, a)
            item["attributes"][name] = new


def resolve_extends(items, name, done, kind):
    if name in done:
        return items[name]
    item = items[name]
    parent = item.get("extends")
    if parent:
        if parent not in items:
            die(f"ocsf: {kind} {name} extends unknown {parent}")
        new = copy.deepcopy(resolve_extends(items, parent, done, kind))
        for k, v in item.items():
            if k == "attributes":
                merge_attributes(new.setdefault("attributes", {}), v)
            elif k == "profiles":
                new["profiles"] = sorted(set(new.get("profiles", [])) | set(v))
            else:
                new[k] = v
        items[name] = new
    done.add(name)
    return items[name]


def read_items(root, sub):
    items = {}
    for path in sorted(glob.glob(os.path.join(root, sub, "**", "*.json"), recursive=True)):
        item = read_json(path)
        where = os.path.relpath(path, root)
        if item.get("name") in items:
            die(f"ocsf: two {sub} named {item.get('name')}")
        upgrade_profile_key(item, where)
        resolve_includes(item, root, where)
        items[item["name"]] = item
    return items


def ocsf_schema(ref):
    root = one_dir(ref, "ocsf-*")
    version = read_json(os.path.join(root, "version.json"))["version"]
    dictionary = read_json(os.path.join(root, "dictionary.json"))
    dattrs = dictionary["attributes"]
    types = dictionary["types"]["attributes"]
    categories = read_json(os.path.join(root, "categories.json"))["attributes"]
    profile_names = sorted(read_json(p)["name"]
                           for p in glob.glob(os.path.join(root, "profiles", "*.json")))
    classes = read_items(root, "events")
    objects = read_items(root, "objects")
    observables = observable_type_ids(dictionary, classes, objects)
    done = set()
    for n in list(classes):
        resolve_extends(classes, n, done, "class")
    done = set()
    for n in list(objects):
        resolve_extends(objects, n, done, "object")
    if "observable" in objects:
        tid = objects["observable"]["attributes"].setdefault("type_id", {})
        tid.setdefault("enum", {}).update(observables)
    return version, dattrs, types, categories, profile_names, classes, objects


def observable_type_ids(dictionary, classes, objects):
    """The observable object's type_id values: every "observable" number in
    the dictionary, the objects and the classes (before "extends" copies
    them into children), captioned as the compiler does."""
    ids = {}

    def add(num, caption):
        if str(num) in ids:
            die(f"ocsf: observable type_id {num} twice: {ids[str(num)]['caption']}, {caption}")
        ids[str(num)] = {"caption": caption}

    def caption(items, item):
        while "caption" not in item and item.get("extends") in items:
            item = items[item["extends"]]
        return item.get("caption", item.get("name"))

    for t in ("types", None):
        src = dictionary["types"]["attributes"] if t else dictionary["attributes"]
        for v in src.values():
            if "observable" in v:
                add(v["observable"], v.get("caption", ""))
    for items, kind in ((objects, "Object"), (classes, "Class")):
        for item in items.values():
            cap = caption(items, item)
            if "observable" in item:
                add(item["observable"], cap)
            for aname, a in item.get("attributes", {}).items():
                if "observable" in a:
                    add(a["observable"], f"{cap} {kind}: {aname}")
            for path, num in item.get("observables", {}).items():
                add(num, f"{cap} {kind}: {path}")
    return ids


def finish_attributes(item, dattrs, types, where, datetime_on):
    attrs = item.get("attributes", {})
    for name, a in list(attrs.items()):
        if datetime_on and (a.get("type") or dattrs.get(name, {}).get("type")) == "timestamp_t":
            dt = copy.deepcopy(a)
            dt["profiles"] = ["datetime"]
            dt["requirement"] = "optional"
            attrs[name + "_dt"] = dt
    out = {}
    for name, a in attrs.items():
        if name in dattrs:
            full = copy.deepcopy(dattrs[name])
        elif name.endswith("_dt") and name[:-3] in dattrs:
            full = copy.deepcopy(dattrs[name[:-3]])
            full["type"] = "datetime_t"
        else:
            die(f"ocsf: {where}: attribute {name} is not in the dictionary")
        deep_merge(full, a)
        full.setdefault("requirement", "optional")
        out[name] = full
    return out


def compact_attribute(a, types, objects, where, name):
    t = a["type"]
    c = {}
    if t in types:
        c["type"] = t
    elif t in objects:
        c["type"] = "object_t"
        c["object_type"] = t
    else:
        die(f"ocsf: {where}.{name}: type {t} is neither a data type nor an object")
    if a.get("is_array"):
        c["is_array"] = True
    c["requirement"] = a["requirement"]
    if a["requirement"] not in REQ_RANK:
        die(f"ocsf: {where}.{name}: requirement {a['requirement']}")
    if "enum" in a:
        keys = sorted(a["enum"], key=lambda k: (0, int(k), "") if k.lstrip("-").isdigit()
                      else (1, 0, k))
        c["enum"] = {k: a["enum"][k].get("caption", "") for k in keys}
    if "sibling" in a:
        c["sibling"] = a["sibling"]
    return c


def split_by_profile(attrs, types, objects, where):
    base, by_profile = {}, {}
    for name in sorted(attrs):
        a = attrs[name]
        c = compact_attribute(a, types, objects, where, name)
        if a.get("profiles"):
            for p in a["profiles"]:
                by_profile.setdefault(p, {})[name] = c
        else:
            base[name] = c
    return base, {p: by_profile[p] for p in sorted(by_profile)}


def ocsf(ref):
    version, dattrs, types, categories, profile_names, classes, objects = ocsf_schema(ref)
    datetime_on = "datetime" in profile_names and "datetime_t" in types
    out_classes, wanted = {}, []
    by_uid = {}
    for name, cls in classes.items():
        if name == "base_event" or "uid" not in cls:
            continue
        cat = categories.get(cls.get("category"))
        if not cat:
            die(f"ocsf: class {name}: unknown category {cls.get('category')}")
        by_uid[cat["uid"] * 1000 + cls["uid"]] = (name, cls, cat)
    for uid in OCSF_CLASSES:
        if uid not in by_uid:
            die(f"ocsf: no class {uid}")
        name, cls, cat = by_uid[uid]
        attrs = cls.setdefault("attributes", {})
        acts = attrs.get("activity_id", {})
        # the compiler's enums: this class, this category, its type_uids
        attrs.setdefault("class_uid", {})["enum"] = {str(uid): {"caption": cls["caption"]}}
        attrs.setdefault("category_uid", {})["enum"] = {
            str(cat["uid"]): {"caption": cat["caption"]}}
        # type_uid: from the class's activity_id enum (base_event's 0 and 99
        # with the class's own), before the dictionary's is merged in
        tu = {str(uid * 100 + int(k)): {"caption": f"{cls['caption']}: {v.get('caption', '')}"}
              for k, v in acts.get("enum", {}).items()}
        tu[str(uid * 100)] = {"caption": f"{cls['caption']}: Unknown"}
        attrs.setdefault("type_uid", {})["enum"] = tu
        full = finish_attributes(cls, dattrs, types, f"class {name}", datetime_on)
        base, prof = split_by_profile(full, types, objects, f"class {name}")
        out_classes[str(uid)] = {
            "name": name, "caption": cls["caption"], "class_uid": uid,
            "category_uid": cat["uid"], "category_name": cat["caption"],
            "constraints": cls.get("constraints", {}),
            "attributes": base, "profiles": prof}
        wanted += [a["type"] for a in full.values() if a["type"] not in types]
    out_objects = {}
    while wanted:
        oname = wanted.pop()
        if oname in out_objects:
            continue
        if oname not in objects or oname.startswith("_"):
            die(f"ocsf: object {oname} is not defined")
        obj = objects[oname]
        full = finish_attributes(obj, dattrs, types, f"object {oname}", datetime_on)
        base, prof = split_by_profile(full, types, objects, f"object {oname}")
        out_objects[oname] = {"caption": obj.get("caption", ""),
                              "constraints": obj.get("constraints", {}),
                              "attributes": base, "profiles": prof}
        wanted += [a["type"] for a in full.values() if a["type"] not in types]
    out_types = {}
    for tname in sorted(types):
        t = types[tname]
        c = {}
        if "type" in t:
            c["base"] = t["type"]
        for k in ("range", "max_len", "regex", "values"):
            if k in t:
                c[k] = t[k]
        out_types[tname] = c
    for t in out_types.values():
        if "base" in t and t["base"] not in out_types:
            die(f"ocsf: data type base {t['base']} is not a data type")
    return {"version": version,
            "source": f"ocsf/ocsf-schema v{version}, resolved as ocsf-schema-compiler does",
            "profiles": profile_names,
            "types": out_types,
            "classes": out_classes,
            "objects": {k: out_objects[k] for k in sorted(out_objects)}}


# ------------------------------------------------------------- output ----

def dump(obj, levels):
    """JSON with the first `levels` levels of objects one member a line,
    deeper ones on one line: small files that diff well."""
    if levels <= 0 or not isinstance(obj, dict) or not obj:
        return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
    inner = [json.dumps(k, ensure_ascii=False) + ": " + dump(v, levels - 1)
             for k, v in obj.items()]
    return "{\n" + ",\n".join(inner) + "\n}"


def write(out_dir, name, text):
    with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
        f.write(text + "\n")


def main():
    ap = argparse.ArgumentParser(description="make tests/ref/*.json")
    ap.add_argument("ref", nargs="?", default=DEFAULT_REF, help="the shared/ref folder")
    ap.add_argument("--out", default=HERE, help="write here (default: tests/ref/)")
    args = ap.parse_args()

    vectors = community_id(args.ref)
    write(args.out, "community_id.json",
          json.dumps({"source": "community-id-spec baseline/ (" +
                      ", ".join(s[0] for s in SETTINGS) + ")", "vectors": vectors}, indent=1))
    print("community_id.json: %d vectors" % len(vectors))

    e = ecs(args.ref)
    write(args.out, "ecs.json", dump(e, 2))
    print("ecs.json: ECS %s, %d fields" % (e["version"], len(e["fields"])))

    o = ocsf(args.ref)
    write(args.out, "ocsf.json", dump(o, 4))
    print("ocsf.json: OCSF %s, classes %s, %d objects, %d data types" % (
        o["version"], ", ".join(o["classes"]), len(o["objects"]), len(o["types"])))


if __name__ == "__main__":
    main()
