#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Forced alignment accuracy through nextup-caption -f json on the
project's own generated fixture (demo/story.spec.json read by
scripts/make-fixture with a 6 s music intro and a music bed 22 dB under the
speech), scored like bench/align: every cue by the true start of its first
word; median <= 30 ms and none off by more than 300 ms.  Then the
robustness cases of issue 3, made from the same fixture (bench/align's
make_cases): a sentence missing from the audio, 6 s of music inserted
mid-story (neighbouring cues within 300 ms), silent audio (a clear error or
the estimate), an empty file (an error naming it), another language's
transcript (no crash, in bounded time; it falls back to the estimate
with a low-confidence warning).  Slow: synthesizes several
fixtures."""
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import tempfile
import unittest

import nextuptest as nt


def bench_module():
    path = os.path.join(nt.SOURCE_DIR, "bench", "align")
    loader = importlib.machinery.SourceFileLoader("bench_align", path)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


class AlignAccuracy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bench = bench_module()
        cls.tmp = tempfile.TemporaryDirectory(prefix="nextup-align-acc.")
        cls.cases = cls.bench.make_cases(cls.tmp.name)
        cls.base = os.path.join(cls.tmp.name, "robust-cases", "base")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def caption(self, audio, transcript, timeout=120):
        return subprocess.run([nt.binary("nextup-caption"), audio, transcript, "-f", "json"],
                              capture_output=True, text=True, timeout=timeout)

    def errors(self, audio, transcript, truth_path):
        r = self.caption(audio, transcript)
        self.assertEqual(r.returncode, 0, r.stderr)
        cues = json.loads(r.stdout)["cues"]
        with open(truth_path) as f:
            errs = self.bench.score(cues, json.load(f))
        self.assertGreaterEqual(len(errs), 10, "too few cues scored")
        return errs

    def test_fixture_accuracy(self):
        b = self.base
        errs = self.errors(os.path.join(b, "audio.mp3"), os.path.join(b, "transcript.txt"),
                           os.path.join(b, "truth.json"))
        st = self.bench.stats(errs)
        self.assertLessEqual(st["median_ms"], 30, st)
        self.assertLessEqual(st["max_ms"], 300, st)

    def check_neighbours(self, name):
        audio, transcript, truth = self.cases[name]
        errs = self.errors(audio, transcript, truth)
        st = self.bench.stats(errs)
        self.assertLessEqual(st["median_ms"], 30, (name, st))
        self.assertLessEqual(st["max_ms"], 300, (name, st))

    def test_missing_sentence(self):
        self.check_neighbours("missing-sentence")

    def test_extra_audio(self):
        self.check_neighbours("extra-audio")

    def test_silent_audio(self):
        audio, transcript, _ = self.cases["silent-audio"]
        r = self.caption(audio, transcript, timeout=30)
        if r.returncode == 0:        # the estimate: every cue still inside the audio
            doc = json.loads(r.stdout)
            self.assertTrue(doc["cues"])
            self.assertLessEqual(doc["cues"][-1]["end_ms"], doc["duration_ms"])
        else:
            self.assertEqual(r.returncode, 1)
            self.assertIn(audio, r.stderr)
            self.assertIn("silent", r.stderr)

    def test_empty_file(self):
        audio, transcript, _ = self.cases["empty-file"]
        r = self.caption(audio, transcript, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(audio, r.stderr)
        self.assertEqual(r.stdout, "")

    def test_other_language(self):
        audio, transcript, _ = self.cases["other-language"]
        r = self.caption(audio, transcript, timeout=30)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        self.assertNotIn("Sanitizer", r.stderr)
        if r.returncode == 0:
            doc = json.loads(r.stdout)
            starts = [c["start_ms"] for c in doc["cues"]]
            self.assertEqual(starts, sorted(starts))
            self.assertLessEqual(doc["cues"][-1]["end_ms"], doc["duration_ms"])
        # Nothing matches: the aligner refuses it and the estimate is used, with a warning.
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["timing"]["source"], "estimate")
        self.assertIn("proportional estimate", r.stderr)
        # --require-aligned turns that fallback into exit status 3.
        r = subprocess.run([nt.binary("nextup-caption"), audio, transcript, "-f", "json", "--require-aligned"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 3, r.stderr)


if __name__ == "__main__":
    unittest.main()
