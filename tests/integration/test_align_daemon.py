#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Alignment in the daemon: a queued story is first timed by the estimate,
then aligned on the worker thread; the aligned times are cached by content
in the state directory, so a restart (or a second airing) takes them from
the cache without aligning again, and the cues come out at the same times."""
import re

import nextuptest as nt


class AlignDaemon(nt.NextupTestCase):
    def aired(self, d, fx):
        r = d.add(fx)
        nt.wait_for(lambda: d.status()["state"] == "idle" and len(d.cues()) > 0, 60, "story played",
                    d.describe)
        return r["id"], d.cues()

    def test_aligned_then_cached(self):
        fx = nt.fixture("market")
        d = self.daemon()
        sid, first = self.aired(d, fx)
        log = d.stderr()
        self.assertRegex(log, r"Story #%d .*timing estimate" % sid)
        self.assertRegex(log, r"Story #%d .*timing aligned\b(?! \(from cache\))" % sid)
        # The story went on air at once: cues before the alignment finished
        # use the estimate (a slow machine or a sanitizer build may see a
        # few), every one after it is aligned.
        kinds = [c["timing"] for c in first]
        self.assertEqual(kinds[-1], "aligned", kinds)
        self.assertEqual(kinds, sorted(kinds, key=lambda k: k == "aligned"), "estimate after aligned: %r" % kinds)
        self.assertStops(d)

        # Same state directory, fresh daemon: the cache answers.
        d2 = self.daemon(start=False)
        d2.state_dir = d.state_dir
        d2.write_config()
        d2.start()
        sid2, second = self.aired(d2, fx)
        log2 = d2.stderr()
        self.assertRegex(log2, r"Story #%d .*timing aligned \(from cache\)" % sid2)
        self.assertNotRegex(log2, r"timing estimate", "the restart decoded and estimated again")
        self.assertTrue(all(c["timing"] == "aligned" for c in second),
                        "cached story not aligned from its first cue: %r" % [c["timing"] for c in second])
        by_index = {c["cue_index"]: c for c in second}
        for i, a in enumerate(first):
            if a["timing"] == "aligned":
                b = by_index[a["cue_index"]]
                self.assertEqual(a["end_ms"], b["end_ms"])
                if i == 0 or first[i - 1]["timing"] == "aligned":
                    self.assertEqual(a["start_ms"], b["start_ms"])
                else:
                    # the first aligned cue after estimated ones starts no
                    # earlier than the last estimate ended (cues never overlap)
                    self.assertEqual(a["start_ms"], max(b["start_ms"], first[i - 1]["end_ms"]))
        self.assertStops(d2)

    def test_changed_transcript_is_aligned_again(self):
        fx = nt.fixture("market")
        d = self.daemon()
        self.aired(d, fx)
        # The same audio with other text: another cache key.
        other = dict(fx)
        other["transcript"] = d.tmp + "/other.txt"
        with open(fx["transcript"], encoding="utf-8") as f:
            text = f.read()
        with open(other["transcript"], "w", encoding="utf-8") as f:
            f.write(re.sub(r"\.\s", ". Indeed. ", text, count=1))
        r = d.add(other)
        nt.wait_for(lambda: re.search(r"Story #%d .*timing aligned" % r["id"], d.stderr()), 60,
                    "second story aligned", d.describe)
        self.assertNotRegex(d.stderr(), r"Story #%d .*from cache" % r["id"])
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
