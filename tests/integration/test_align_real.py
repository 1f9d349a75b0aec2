#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Alignment on real recorded speech (issue 7): nextup-caption on
../shared/stories/real-prompts (one human voice) and
real-prompts-phone-bed (telephone band, chord intro, noise bed) is within
issue 7's targets for real speech, scored like bench/align (every cue by
the true start of its first word): median <= 20 ms, p95 <= 100 ms, max <=
250 ms, and the story is aligned, not estimated; every cue carries word
times inside it.  Another story's transcript over the same audio falls back
whole: JSON timing source "estimate", and with --require-aligned exit
status 3 and nothing printed.  A transcript with one sentence that is not
in the audio keeps every other sentence aligned (region fallback).  Skips
without the shared stories or the acoustic model.  Slow."""
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import tempfile
import unittest

import nextuptest as nt

SHARED = os.path.join(nt.SOURCE_DIR, "..", "shared", "stories")
MODEL = os.environ.get("NEXTUP_ASR_MODEL") or "/usr/share/pocketsphinx/model/en-us"


def bench_module():
    path = os.path.join(nt.SOURCE_DIR, "bench", "align")
    loader = importlib.machinery.SourceFileLoader("bench_align", path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def caption(audio, transcript, *extra):
    return subprocess.run([nt.binary("nextup-caption"), audio, transcript, "-f", "json"] + list(extra),
                          capture_output=True, text=True, timeout=120)


@unittest.skipUnless(os.path.isdir(os.path.join(SHARED, "real-prompts")) and
                     os.path.isdir(os.path.join(MODEL, "en-us")), "no real-speech stories or no acoustic model")
class AlignReal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bench = bench_module()

    def story(self, name):
        d = os.path.join(SHARED, name)
        return os.path.join(d, "audio.mp3"), os.path.join(d, "transcript.txt"), os.path.join(d, "truth.json")

    def check_story(self, name):
        audio, transcript, truth_path = self.story(name)
        r = caption(audio, transcript)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["timing"]["source"], "aligned", doc["timing"])
        self.assertEqual(doc["timing"]["engine"], "acoustic")
        with open(truth_path) as f:
            st = self.bench.stats(self.bench.score(doc["cues"], json.load(f)))
        self.assertGreaterEqual(st["cues"], 30)
        self.assertLessEqual(st["median_ms"], 20, st)
        self.assertLessEqual(st["p95_ms"], 100, st)
        self.assertLessEqual(st["max_ms"], 250, st)
        for c in doc["cues"]:
            self.assertTrue(c["words"], c)
            self.assertEqual(c["words"][0]["start_ms"], c["start_ms"])
            for w in c["words"]:
                self.assertLessEqual(c["start_ms"], w["start_ms"])
                self.assertLessEqual(w["end_ms"], max(c["end_ms"], w["start_ms"] + 1))

    def test_real_prompts(self):
        self.check_story("real-prompts")

    def test_real_prompts_phone_bed(self):
        self.check_story("real-prompts-phone-bed")

    def test_other_story_falls_back_whole(self):
        audio, _, _ = self.story("real-prompts")
        other = os.path.join(SHARED, "tillerson-putin", "transcript.txt")
        r = caption(audio, other)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["timing"]["source"], "estimate")
        self.assertIn("disagree", r.stderr)
        r = caption(audio, other, "--require-aligned")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stdout, "")

    def test_one_bad_passage_keeps_neighbours(self):
        # A sentence the audio does not hold, put into the page: its cues are
        # placed between neighbours, every other sentence stays aligned.
        audio, transcript, truth_path = self.story("real-prompts")
        with open(transcript, encoding="utf-8") as f:
            page = f.read()
        with open(truth_path) as f:
            truth = json.load(f)
        s = truth["sentences"][10]
        extra = " The harbor ferry leaves at noon from the old stone pier every Sunday."
        page = page.replace(s["text"], s["text"] + extra, 1)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
            f.write(page)
        try:
            r = caption(audio, f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["timing"]["source"], "aligned")
        self.assertGreaterEqual(doc["timing"]["interpolated_cues"], 1, doc["timing"])
        self.assertTrue(any(c["confidence"] < 0.25 for c in doc["cues"] if "harbor ferry" in c["text"]))
        st = self.bench.stats(self.bench.score(doc["cues"], truth))
        self.assertGreaterEqual(st["cues"], 30)
        self.assertLessEqual(st["median_ms"], 20, st)
        self.assertLessEqual(st["p95_ms"], 100, st)
        starts = [c["start_ms"] for c in doc["cues"]]
        self.assertEqual(starts, sorted(starts))


if __name__ == "__main__":
    unittest.main()
