#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""include-cycles: reads the #include "..." lines under daemon/ and fails on
any cycle between folders (daemon/<folder>, daemon/cmd/<program>) or
between modules (a .c and its .h are one module: foo.c + foo.h = foo).

A dependency A -> B means a file of A includes a header of B. Folders must
form a DAG, as their CMake libraries do; modules must too, so that each
can be read (and tested) knowing only what it uses.

Usage: include-cycles.py [SOURCE_DIR]   (default: the tree this file is in)
Exit 0 when there is no cycle, 1 with each cycle printed."""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def scan(daemon):
    """Returns {path: [included header names]} and {header name: path}."""
    files, headers = {}, {}
    for root, _, names in os.walk(daemon):
        for n in names:
            if not n.endswith((".c", ".h")):
                continue
            p = os.path.join(root, n)
            with open(p, encoding="utf-8", errors="replace") as f:
                files[p] = INCLUDE.findall(f.read())
            if n.endswith(".h"):
                if n in headers:
                    sys.exit("include-cycles: two headers named %s: %s, %s" % (n, headers[n], p))
                headers[n] = p
    return files, headers


def folder_of(daemon, path):
    rel = os.path.relpath(os.path.dirname(path), daemon).split(os.sep)
    # daemon/caption/sink/x.c belongs to caption; daemon/cmd/nextupctl to cmd/nextupctl
    return "/".join(rel[:2]) if rel[0] == "cmd" and len(rel) > 1 else rel[0]


def module_of(path):
    return os.path.splitext(path)[0]


def graph(files, headers, key):
    g = {}
    for p, incs in files.items():
        a = key(p)
        g.setdefault(a, set())
        for h in incs:
            target = headers.get(os.path.basename(h))
            if target is None:
                continue  # a system or generated header
            b = key(target)
            if b != a:
                g[a].add(b)
    return g


def cycles(g):
    """Every elementary cycle found by DFS back edges (one per back edge)."""
    found, state, stack = [], {}, []

    def visit(v):
        state[v] = 1
        stack.append(v)
        for w in sorted(g.get(v, ())):
            if state.get(w) == 1:
                found.append(stack[stack.index(w):] + [w])
            elif w not in state:
                visit(w)
        stack.pop()
        state[v] = 2

    for v in sorted(g):
        if v not in state:
            visit(v)
    return found


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    daemon = os.path.realpath(os.path.join(src, "daemon"))
    files, headers = scan(daemon)
    bad = 0
    for what, key in (("folders", lambda p: folder_of(daemon, p)),
                      ("modules", lambda p: os.path.relpath(module_of(p), daemon))):
        for c in cycles(graph(files, headers, key)):
            print("include cycle between %s: %s" % (what, " -> ".join(c)))
            bad += 1
    if bad:
        return 1
    print("no include cycle between folders or modules (%d files)" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
