#!/usr/bin/env python3
"""Make tests/ref/*.json, the compact extracts of ../shared/ref/ the tests
check against (a clone has no ../shared). Run from anywhere:

    python3 tests/ref/extract.py [SHARED_REF_DIR]

community_id.json: the Community ID spec's baseline vectors for the
protocols tcpship hashes (TCP 6, UDP 17, SCTP 132), in its three settings
(defaults, seed 1, no base64).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REF = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "ref")

SETTINGS = [("baseline_deflt.json", 0, True), ("baseline_seed1.json", 1, True),
            ("baseline_nob64.json", 0, False)]


def community_id():
    out = []
    for name, seed, b64 in SETTINGS:
        with open(os.path.join(REF, "community-id", "baseline", name)) as f:
            for v in json.load(f):
                if v.get("proto") not in (6, 17, 132) or "sport" not in v:
                    continue
                out.append({"proto": v["proto"], "saddr": v["saddr"], "daddr": v["daddr"],
                            "sport": v["sport"], "dport": v["dport"], "seed": seed,
                            "base64": b64, "id": v["communityid"]})
    if not out:
        sys.exit("extract: no Community ID vectors found under " + REF)
    return out


def main():
    vectors = community_id()
    with open(os.path.join(HERE, "community_id.json"), "w") as f:
        json.dump({"source": "community-id-spec baseline/ (" +
                   ", ".join(s[0] for s in SETTINGS) + ")", "vectors": vectors}, f, indent=1)
        f.write("\n")
    print("tests/ref/community_id.json: %d vectors" % len(vectors))


if __name__ == "__main__":
    main()
