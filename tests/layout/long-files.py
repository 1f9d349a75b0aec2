#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""long-files: fails when a .c file under daemon/ (any depth) is over the
line limit (1,000), naming each such file and its length. A file that
long holds more than one concern: split it along a seam (see
docs/architecture.md), not by moving lines about.

Usage: long-files.py [--max N] [--allow daemon/X.c]... [SOURCE_DIR]
(default: 1000, the tree this file is in; a smaller N is for the fixture,
tests/layout/long-fixture). --allow names a file being split on another
branch; it fails the check as soon as that file is within the limit, so
the allowance goes when the split lands.
Exit 0 when every file is within the limit, 1 with each long file printed."""
import os
import sys


def lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return len(f.read().splitlines())


def main(argv):
    limit, allow, args = 1000, set(), argv[1:]
    while len(args) > 1 and args[0] in ("--max", "--allow"):
        if args[0] == "--max":
            limit = int(args[1])
        else:
            allow.add(args[1])
        args = args[2:]
    argv = argv[:1] + args
    src = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    daemon = os.path.realpath(os.path.join(src, "daemon"))
    if not os.path.isdir(daemon):
        print("long-files: no folder '%s'" % daemon)
        return 2
    long, seen, n = [], {}, 0
    for root, dirs, names in os.walk(daemon):
        dirs.sort()
        for name in sorted(names):
            if not name.endswith(".c"):
                continue
            n += 1
            p = os.path.join(root, name)
            rel = os.path.relpath(p, os.path.dirname(daemon))
            seen[rel] = lines(p)
            if seen[rel] > limit and rel not in allow:
                long.append((rel, seen[rel]))
    # An allowance outlives its reason once the file is split (or gone).
    stale = [(a, seen.get(a, 0)) for a in sorted(allow) if seen.get(a, 0) <= limit]
    for p, k in long:
        print("%s: %d lines, over %d: split it along a seam" % (p, k, limit))
    for p, k in stale:
        print("%s: %d lines, within %d now: drop its --allow (CMakeLists.txt)" % (p, k, limit))
    if long or stale:
        return 1
    print("no .c file over %d lines (%d files%s)" % (limit, n, "".join(
        "; %s allowed: being split elsewhere" % a for a in sorted(allow))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
