#!/usr/bin/env python3
"""conenatctl --json output for the e2e tests (tests/e2e/ctl_lib.sh), read from stdin:
  validate KIND       checks it against doc/conenatctl.schema.json's $defs/KIND (python3-jsonschema)
  pairs               mappings: "proto internal external" per row ("udp 10.0.0.2:5001 198.51.100.254:5001"),
                      a forward's with "forward " before it
  remotes             sessions: "proto internal remote state" per row
  get DOTTED.PATH     one value (e.g. nat.udp.type), lists joined by spaces
"""
import json
import sys

import jsonschema

SCHEMA = "doc/conenatctl.schema.json"


def ep(e):
    return "%s:%d" % (e["address"], e["port"])


def main():
    cmd = sys.argv[1]
    doc = json.load(sys.stdin)
    if cmd == "validate":
        schema = json.load(open(SCHEMA))
        jsonschema.Draft202012Validator.check_schema(schema)
        sub = dict(schema)
        sub.pop("oneOf", None)
        sub["$ref"] = "#/$defs/" + sys.argv[2]
        errors = list(jsonschema.Draft202012Validator(sub).iter_errors(doc))
        for e in errors[:5]:
            print("%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message))
        return 1 if errors else 0
    if cmd == "pairs":
        for m in doc["mappings"]:
            print(*(["forward"] if m["forward"] else []), m["proto"], ep(m["internal"]), ep(m["external"]))
    elif cmd == "remotes":
        for s in doc["sessions"]:
            print(s["proto"], ep(s["internal"]), ep(s["remote"]), s["state"])
    elif cmd == "get":
        v = doc
        for k in sys.argv[2].split("."):
            v = v[k]
        print(" ".join(map(str, v)) if isinstance(v, list) else v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
