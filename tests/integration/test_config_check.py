#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""nextupd -n: the shipped config and a minimal one pass ("configuration OK",
exit 0); broken ones fail with exit 1 and every error as FILE:LINE: message
on stderr, one line per error, at the right lines."""
import os
import re
import subprocess

import nextuptest as nt

GOOD = """\
output = { driver = "null"; rate = 48000; channels = 2; };
control = { socket = "/tmp/nextup-test-unused.sock"; mode = "0660"; };
state_dir = "/tmp";
log_level = "notice";
captions = {
  max_chars = 32;
  max_lines = 3;
  speaker_mark = "--";
  sinks = ( { type = "terminal"; latency_ms = 120; show_speaker = false; },
            { type = "jsonl"; path = "/tmp/nextup-test-unused.jsonl"; latency_ms = 0; } );
};
"""

# name -> (config text, [lines that must be reported])
BROKEN = {
    "syntax": ('output = { driver = "null"; };\nlog_level = "info";\ncaptions = { max_chars = ; };\n', [3]),
    "two_ranges": ('output = {\n  driver = "null";\n  rate = 5;\n  channels = 7;\n};\n', [3, 4]),
    "unknown_key": ('output = { driver = "null"; };\nbogus_setting = 1;\n', [2]),
    "wrong_type": ('output = { driver = "null"; };\ncaptions = {\n  max_chars = "many";\n};\n', [3]),
    "bad_level": ('log_level = "chatty";\n', [1]),
    "file_driver_without_file": ('output = {\n  driver = "wav";\n  rate = 44100;\n};\n', [None]),
    "bad_sinks": ('captions = {\n  sinks = (\n    { type = "pigeon"; },\n'
                  '    { type = "jsonl"; latency_ms = 0; },\n    { type = "terminal"; latency_ms = -5; }\n  );\n};\n',
                  [3, 4, 5]),
    "bad_mode": ('control = { socket = "/tmp/x.sock"; mode = "rwx"; };\n', [1]),
}


def check(path):
    return subprocess.run([nt.binary("nextupd"), "-n", "-c", path], capture_output=True, text=True, timeout=20)


class ConfigCheck(nt.NextupTestCase):
    def write(self, name, text):
        path = os.path.join(self.tmp, name + ".conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_shipped_config(self):
        r = check(os.path.join(nt.SOURCE_DIR, "config", "nextupd.conf"))
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "configuration OK"), r.stderr)

    def test_good_config(self):
        r = check(self.write("good", GOOD))
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "configuration OK"), r.stderr)
        self.assertEqual(r.stderr, "")

    def test_broken_configs(self):
        for name, (text, lines) in BROKEN.items():
            with self.subTest(config=name):
                path = self.write(name, text)
                r = check(path)
                self.assertEqual(r.returncode, 1, "%s: exit %d, stdout %r" % (name, r.returncode, r.stdout))
                self.assertNotIn("configuration OK", r.stdout)
                errors = [l for l in r.stderr.splitlines() if l.strip()]
                pat = re.compile(re.escape(path) + r":(\d+): \S")
                reported = [pat.match(l) for l in errors]
                self.assertTrue(errors and all(reported),
                                "%s: every stderr line must be FILE:LINE: message:\n%s" % (name, r.stderr))
                got = [int(m.group(1)) for m in reported]
                if None in lines:
                    self.assertEqual(len(got), len(lines), r.stderr)
                else:
                    self.assertEqual(sorted(set(got)), lines, "%s: lines reported\n%s" % (name, r.stderr))
                    self.assertEqual(len(got), len(lines), "%s: one line per error\n%s" % (name, r.stderr))

    def test_missing_file(self):
        path = os.path.join(self.tmp, "no-such.conf")
        r = check(path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(path, r.stderr)


if __name__ == "__main__":
    nt.main()
