#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""man-coverage SOURCE_DIR BUILD_DIR: the man pages keep up with what they
describe. man-lint checks that they format; this checks what they say:
  - every long option in the --help of nextupd, nextupctl (and of each
    nextupctl command) and nextup-caption is in that program's page, and
    every nextupctl command is a term there;
  - every exit status a --help names ("Exit status: 0 ..., 4 ...") is in
    the page's EXIT STATUS section;
  - every key the config parser accepts (the keys[] lists of
    daemon/config/*.c, and the sink types) is named, in bold, in
    nextupd.conf(5) and appears in config/nextupd.conf;
  - every key a term of nextupd.conf(5) names (*output.driver*,
    *dropbox*) is one the parser accepts: a page must not send a station
    to a key that nextupd -n refuses.
Prints each gap; exits 1 when there is one."""
import glob
import os
import re
import subprocess
import sys

src, build = sys.argv[1], sys.argv[2]
gaps = []

PAGES = {"nextupd": "nextupd.8", "nextupctl": "nextupctl.1", "nextup-caption": "nextup-caption.1"}


def page(name):
    with open(os.path.join(src, "man", name + ".scd"), encoding="utf-8") as f:
        return f.read()


def run_help(prog, *args):
    r = subprocess.run([os.path.join(build, prog), *args, "--help"], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        gaps.append("%s %s --help: exit %d" % (prog, " ".join(args), r.returncode))
    return r.stdout


def long_options(text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", text))


def section(text, title):
    m = re.search(r"^# %s\n(.*?)(?=^# |\Z)" % re.escape(title), text, re.S | re.M)
    return m.group(1) if m else ""


def help_statuses(text):
    """The statuses of an "Exit status: 0 done, 1 error, ..." paragraph."""
    m = re.search(r"Exit status:(.*?)(?:\n\n|\Z)", text, re.S)
    return set(re.findall(r"(?<![\w.-])(\d+) (?=[a-z(])", m.group(1))) if m else set()


def bold_words(text):
    """Every word inside *...* (scdoc bold)."""
    return {w for span in re.findall(r"\*([^*\n]+)\*", text) for w in re.findall(r"[a-z_]+", span)}


def check_program(prog, helps):
    man = page(PAGES[prog])
    status = section(man, "EXIT STATUS")
    for where, text in helps:
        for opt in sorted(long_options(text)):
            if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt), man):
                gaps.append("%s(%s): %s of '%s' is not in the page" % (prog, PAGES[prog][-1], opt, where))
        for st in sorted(help_statuses(text)):
            if not re.search(r"\b%s\b" % st, status):
                gaps.append("%s(%s): exit status %s of '%s' is not in EXIT STATUS" %
                            (prog, PAGES[prog][-1], st, where))


def nextupctl_commands(text):
    m = re.search(r"^Commands:\n(.*?)\n\n", text, re.S | re.M)
    cmds = []
    for line in m.group(1).splitlines() if m else []:
        head = re.match(r"^  ([a-z]+(?: \| [a-z]+)*)(?: |$)", line)
        if head:
            cmds += head.group(1).split(" | ")
    return cmds


# The programs.
check_program("nextupd", [("nextupd", run_help("nextupd"))])
check_program("nextup-caption", [("nextup-caption", run_help("nextup-caption"))])
ctl = run_help("nextupctl")
cmds = nextupctl_commands(ctl)
if len(cmds) < 10:
    gaps.append("nextupctl --help: found only %r as commands" % cmds)
ctl_man = page("nextupctl.1")
for c in cmds:
    if not re.search(r"^\*%s\*" % c, ctl_man, re.M) and not re.search(r"^\*[a-z]+\*(, \*[a-z]+\*)*, \*%s\*" % c,
                                                                      ctl_man, re.M):
        gaps.append("nextupctl(1): command %s is not a term of the page" % c)
check_program("nextupctl", [("nextupctl", ctl)] + [("nextupctl " + c, run_help("nextupctl", c)) for c in cmds])

# The configuration.
keys = set()
for f in glob.glob(os.path.join(src, "daemon", "config", "*.c")):
    with open(f, encoding="utf-8") as fh:
        code = fh.read()
    for block in re.findall(r"static const char \*const \w*(?:keys|types)\[\](?:\[\d+\])? = \{(.*?)\};", code, re.S):
        keys |= set(re.findall(r'"([a-z_]+)"', block))
if len(keys) < 40:
    gaps.append("found only %d config keys in daemon/config/*.c: has the keys[] form changed?" % len(keys))
conf_man = page("nextupd.conf.5")
with open(os.path.join(src, "config", "nextupd.conf"), encoding="utf-8") as f:
    conf_words = set(re.findall(r"[a-z_]+", f.read()))
in_bold = bold_words(conf_man)
for k in sorted(keys):
    if k not in in_bold:
        gaps.append("nextupd.conf(5): key %s is not named (in bold) in the page" % k)
    if k not in conf_words:
        gaps.append("config/nextupd.conf: key %s is not documented" % k)
# Terms: a line of bold keys followed by a tab-indented description.
for term in re.findall(r"^(\*.*)\n\t", conf_man, re.M):
    for span in re.findall(r"\*([^*]+)\*", term):
        if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", span):
            continue
        for part in span.split("."):
            if part not in keys:
                gaps.append("nextupd.conf(5): term *%s* names '%s', which is no config key" % (span, part))

for g in gaps:
    print("GAP: " + g)
print("man-coverage: %s (%d config keys, %d nextupctl commands)" % ("OK" if not gaps else "%d gaps" % len(gaps),
                                                                     len(keys), len(cmds)))
sys.exit(1 if gaps else 0)
