#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""build-deps SOURCE_DIR: every library CMakeLists.txt looks for
(pkg_check_modules, find_library) comes from a Debian package that is in
debian/control's Build-Depends and in scripts/install-deps. The owning
package is asked of dpkg on this machine (the .pc file, or the lib*.so
find_library would link), so a library added to the build without its
-dev package in debian/control fails here, not on a station's fresh
machine (dpkg-buildpackage: "Package 'libmicrohttpd' ... not found").
Exits 77 (skipped) without dpkg-query."""
import os
import re
import shutil
import subprocess
import sys

src = sys.argv[1]
if not shutil.which("dpkg-query") or not shutil.which("pkg-config"):
    print("SKIPPED: needs dpkg-query and pkg-config")
    sys.exit(77)

with open(os.path.join(src, "CMakeLists.txt"), encoding="utf-8") as f:
    cmake = f.read()
with open(os.path.join(src, "debian", "control"), encoding="utf-8") as f:
    control = f.read()
with open(os.path.join(src, "scripts", "install-deps"), encoding="utf-8") as f:
    install_deps = set(re.findall(r"[a-z0-9][a-z0-9+.-]+", f.read()))

m = re.search(r"^Build-Depends:(.*?)^\S", control, re.S | re.M)
build_depends = set(re.findall(r"(?:^|,)\s*([a-z0-9][a-z0-9+.-]+)", m.group(1))) if m else set()

KEYWORDS = {"REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL", "NO_CMAKE_PATH", "NO_CMAKE_ENVIRONMENT_PATH"}
wanted = []  # (what CMake asks for, a path pattern dpkg-query -S finds)
for args in re.findall(r"pkg_check_modules\(([^)]*)\)", cmake):
    words = args.split()[1:]
    for mod in [w for w in words if w not in KEYWORDS]:
        mod = re.split(r"[<>=]", mod)[0]
        r = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], capture_output=True, text=True)
        if r.returncode != 0:
            print("FAIL: pkg-config does not know '%s' here (scripts/install-deps not run?)" % mod)
            sys.exit(1)
        wanted.append(("pkg-config " + mod, os.path.join(r.stdout.strip(), mod + ".pc")))
for args in re.findall(r"find_library\(([^)]*)\)", cmake):
    names = re.search(r"NAMES\s+(.*)", args)
    for lib in (names.group(1) if names else args.split()[1]).split():
        if lib not in KEYWORDS:
            wanted.append(("library " + lib, "*/lib%s.so" % lib))
            break

fail = 0
for what, path in wanted:
    r = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL: %s: no Debian package owns '%s' here" % (what, path))
        fail = 1
        continue
    # "libasound2-dev:amd64: /usr/lib/.../alsa.pc" (first match; "a, b: path" when shared)
    owners = r.stdout.split("\n")[0].rsplit(": ", 1)[0]
    pkgs = {p.strip().split(":")[0] for p in owners.split(",")}
    gap = False
    for missing, where in ((pkgs - build_depends, "debian/control Build-Depends"),
                           (pkgs - install_deps, "scripts/install-deps")):
        if missing:
            print("FAIL: %s comes from %s, not in %s" % (what, ", ".join(sorted(missing)), where))
            gap = True
    if gap:
        fail = 1
    else:
        print("ok: %s from %s" % (what, ", ".join(sorted(pkgs))))
print("build-deps: %s (%d libraries)" % ("FAILED" if fail else "OK", len(wanted)))
sys.exit(fail)
