#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The README's first command, as a new user runs it: `scripts/demo` puts
the bundled story on air and prints its captions in the terminal, each
when it is heard, and exits 0 once the story has played. The printed
times are the cue times on the story's clock: each sentence of
demo/story.truth.json is printed once, in order, within 250 ms of where
it is spoken. Runs the normal build only (the demo builds and runs
build/)."""
import json
import os
import re
import subprocess
import unittest

import nextuptest as nt

LINE = re.compile(r"^\[(\d\d):(\d\d)\.(\d\d\d)\] (.*)$")
SPEAKER = re.compile(r"^[A-Z][A-Z .'-]+: ")     # show_speaker: "ROSA DIAZ: " at a change


@unittest.skipUnless(nt.SANITIZER in ("OFF", ""), "the demo runs the normal build")
class Demo(unittest.TestCase):
    def test_demo(self):
        with open(os.path.join(nt.SOURCE_DIR, "demo", "story.truth.json"), encoding="utf-8") as f:
            truth = json.load(f)
        env = dict(os.environ)
        env.pop("NEXTUP_SOCKET", None)
        r = subprocess.run([os.path.join(nt.SOURCE_DIR, "scripts", "demo")], cwd=nt.SOURCE_DIR, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=280)
        out = r.stdout
        self.assertEqual(r.returncode, 0, out + r.stderr)
        self.assertIn("=== On air: %s ===" % truth["title"], out)
        self.assertNotIn("alignment not ready", out)
        cues = []
        for line in out.splitlines():
            m = LINE.match(line)
            if m:
                cues.append(((int(m[1]) * 60 + int(m[2])) * 1000 + int(m[3]), SPEAKER.sub("", m[4])))
        self.assertTrue(cues, out)
        starts = [t for t, _ in cues]
        self.assertEqual(starts, sorted(starts), "captions out of order")
        # every sentence printed once, in order, the cue that opens it on time
        text = " ".join(nt.normalise(t) for _, t in cues)
        self.assertEqual(text, " ".join(nt.normalise(s["text"]) for s in truth["sentences"]))
        pos = 0
        for s in truth["sentences"]:
            first = nt.normalise(s["text"]).split()[0]
            while pos < len(cues) and not nt.normalise(cues[pos][1]).startswith(first):
                pos += 1
            self.assertLess(pos, len(cues), "no cue opens %r" % s["text"])
            self.assertLessEqual(abs(cues[pos][0] - s["start_ms"]), 250, (s["text"], cues[pos]))
            pos += 1


if __name__ == "__main__":
    unittest.main(verbosity=2)
