#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""nextup-caption: -f json matches its schema exactly, cues ordered and
inside the audio, the spoken text in full, duration exact; -f vtt and -f srt
are well formed and hold the same cues; missing input -> exit 1 naming the
file.  Also runs on ../shared/stories when present."""
import json
import os
import re
import subprocess

import nextuptest as nt

TS_VTT = r"(?:(\d+):)?(\d\d):(\d\d)\.(\d{3})"
TS_SRT = r"(\d\d):(\d\d):(\d\d),(\d{3})"


def caption(fx, fmt=None):
    cmd = [nt.binary("nextup-caption"), fx["audio"], fx["transcript"]]
    if fmt:
        cmd += ["-f", fmt]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def ms(h, m, s, f):
    return ((int(h or 0) * 60 + int(m)) * 60 + int(s)) * 1000 + int(f)


class CaptionCli(nt.NextupTestCase):
    def check_json(self, fx):
        r = caption(fx, "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(set(doc), {"title", "duration_ms", "timing", "cues"})
        self.assertIn(doc["timing"]["source"], ("aligned", "estimate"))
        self.assertIsInstance(doc["title"], str)
        self.assertEqual(doc["title"], fx["title"])
        self.assertIsInstance(doc["duration_ms"], int)
        self.assertLessEqual(abs(doc["duration_ms"] - fx["truth"]["duration_ms"]), 1)
        self.assertTrue(doc["cues"])
        prev = 0
        for c in doc["cues"]:
            self.assertLessEqual({"start_ms", "end_ms", "speaker", "text"}, set(c), c)
            wprev = c["start_ms"]
            for w in c.get("words", []):
                # Word times: inside the cue, in order, each a word of its text.
                self.assertLessEqual(wprev, w["start_ms"], (c, w))
                self.assertLess(w["start_ms"], w["end_ms"], w)
                self.assertLessEqual(w["end_ms"], max(c["end_ms"], w["start_ms"] + 1), (c, w))
                self.assertIn(w["text"], c["text"].replace("\n", " "))
                wprev = w["start_ms"]
            self.assertIsInstance(c["start_ms"], int)
            self.assertIsInstance(c["end_ms"], int)
            self.assertIsInstance(c["text"], str)
            self.assertTrue(c["speaker"] is None or isinstance(c["speaker"], str), c)
            self.assertLessEqual(prev, c["start_ms"], "cues out of order")
            self.assertLessEqual(c["start_ms"], c["end_ms"])
            self.assertLessEqual(c["end_ms"], doc["duration_ms"])
            prev = c["start_ms"]
        text = " ".join(nt.normalise(c["text"]) for c in doc["cues"])
        self.assertEqual(text, nt.spoken_text(fx))
        labelled = {s["speaker"] for s in fx["truth"]["sentences"]} - {None}
        self.assertEqual({c["speaker"] for c in doc["cues"]} - {None}, labelled)
        return doc

    def check_vtt(self, fx, doc):
        for r in (caption(fx, "vtt"), caption(fx)):      # vtt is the default
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith("WEBVTT"), r.stdout[:40])
            times = re.findall(TS_VTT + " --> " + TS_VTT, r.stdout)
            self.assertEqual(len(times), len(doc["cues"]))
            for t, c in zip(times, doc["cues"]):
                self.assertEqual((ms(*t[:4]), ms(*t[4:])), (c["start_ms"], c["end_ms"]))

    def check_srt(self, fx, doc):
        r = caption(fx, "srt")
        self.assertEqual(r.returncode, 0, r.stderr)
        blocks = [b for b in re.split(r"\n\s*\n", r.stdout.strip()) if b.strip()]
        self.assertEqual(len(blocks), len(doc["cues"]))
        for i, (b, c) in enumerate(zip(blocks, doc["cues"]), 1):
            lines = b.split("\n")
            self.assertEqual(lines[0].strip(), str(i))
            m = re.fullmatch(TS_SRT + " --> " + TS_SRT, lines[1].strip())
            self.assertTrue(m, lines[1])
            self.assertEqual((ms(*m.groups()[:4]), ms(*m.groups()[4:])), (c["start_ms"], c["end_ms"]))
            self.assertEqual(nt.normalise(" ".join(lines[2:])), nt.normalise(c["text"]))

    def test_fixtures(self):
        for name in ("pier", "market"):
            with self.subTest(story=name):
                fx = nt.fixture(name)
                doc = self.check_json(fx)
                self.check_vtt(fx, doc)
                self.check_srt(fx, doc)

    def test_shared_stories(self):
        stories = nt.shared_stories()
        if not stories:
            self.skipTest("no ../shared/stories")
        for fx in stories:
            with self.subTest(story=fx["dir"]):
                self.check_json(fx)

    def test_bad_input(self):
        fx = nt.fixture("weather")
        missing = os.path.join(self.tmp, "absent.mp3")
        for audio, transcript, name in ((missing, fx["transcript"], "absent.mp3"),
                                        (fx["audio"], os.path.join(self.tmp, "absent.txt"), "absent.txt")):
            r = subprocess.run([nt.binary("nextup-caption"), audio, transcript, "-f", "json"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(name, r.stderr)
        r = subprocess.run([nt.binary("nextup-caption"), fx["audio"], fx["transcript"], "-f", "pdf"],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    nt.main()
