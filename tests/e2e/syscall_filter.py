#!/usr/bin/env python3
"""The system calls a unit's SystemCallFilter= lines allow, as systemd computes them (an allow
list, then "~" lines taking groups away), printed one a line; group names are expanded with
`systemd-analyze syscall-filter`. Usage: syscall_filter.py UNIT_FILE"""
import re
import subprocess
import sys

_groups = {}


def expand(name):
    if not name.startswith("@"):
        return {name}
    if name not in _groups:
        out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True,
                             check=True).stdout
        members = set()
        for line in out.splitlines()[1:]:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            members |= expand(line.split()[0])
        _groups[name] = members
    return _groups[name]


def main():
    allowed = None
    for line in open(sys.argv[1]):
        m = re.match(r"SystemCallFilter=(.*)", line.strip())
        if not m:
            continue
        value = m.group(1).strip()
        deny = value.startswith("~")
        names = set()
        for word in value.lstrip("~").split():
            names |= expand(word)
        if deny:
            if allowed is None:
                sys.exit("a deny list first: not handled here")
            allowed -= names
        else:
            allowed = names if allowed is None else allowed | names
    for name in sorted(allowed or ()):
        print(name)


if __name__ == "__main__":
    main()
