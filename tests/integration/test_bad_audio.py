#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad audio on air: a zero-byte MP3 and text garbage named .mp3 (each with a
good transcript) are refused at add (an error naming the file) or queued
and then skipped on air with a log line naming the file; a truncated MP3
plays what there is; either way the good story after them airs in full."""
import json
import os
import shutil

import nextuptest as nt


class BadAudio(nt.NextupTestCase):
    def bad_story(self, name, data, fx):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        audio = os.path.join(d, name + ".mp3")
        with open(audio, "wb") as f:
            f.write(data)
        shutil.copy(fx["transcript"], os.path.join(d, "transcript.txt"))
        return {"audio": audio, "transcript": os.path.join(d, "transcript.txt"), "title": fx["title"]}

    def test_bad_then_good(self):
        src, good = nt.fixture("weather"), nt.fixture("library")
        with open(src["audio"], "rb") as f:
            mp3 = f.read()
        # ASCII holds no 0xff byte, so no MPEG sync word for a decoder to latch on to.
        zero = self.bad_story("zero-bytes", b"", src)
        garbage = self.bad_story("text-garbage", b"This is not an MP3 file at all.\n" * 3000, src)
        half = self.bad_story("truncated-half", mp3[:len(mp3) // 2], src)

        d = self.daemon()
        ids, refused = {}, []
        for st in (zero, garbage, half, good):
            r = d.ctl("add", st["audio"], st["transcript"], json_out=True)
            if r.returncode == 0:
                ids[st["audio"]] = json.loads(r.stdout)["id"]
            else:
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(os.path.basename(st["audio"]), r.stderr)
                refused.append(st["audio"])
        self.assertNotIn(half["audio"], refused, "a truncated but decodable MP3 was refused")
        self.assertNotIn(good["audio"], refused)
        print("refused at add:", [os.path.basename(x) for x in refused])

        gid = ids[good["audio"]]
        want = len(good["truth"]["sentences"])
        timeout = (src["truth"]["duration_ms"] + good["truth"]["duration_ms"]) / 1000.0 + 20
        nt.wait_for(lambda: d.status()["state"] == "idle" and d.cues_of(gid), timeout,
                    "the good story aired", d.describe)
        text = " ".join(nt.normalise(c["text"]) for c in d.cues_of(gid))
        self.assertEqual(text, nt.spoken_text(good), "the good story was not captioned in full")
        self.assertGreaterEqual(len(d.cues_of(gid)), want)

        err = d.stderr()
        for st in (zero, garbage):
            if st["audio"] in ids:
                self.assertEqual(d.cues_of(ids[st["audio"]]), [], "cues emitted for unplayable %s" % st["audio"])
                self.assertIn(os.path.basename(st["audio"]), err, "no log line naming %s" % st["audio"])
        # The truncated file: whatever played was captioned from its start.
        hc = d.cues_of(ids[half["audio"]])
        self.assertEqual([c["cue_index"] for c in hc], list(range(len(hc))))
        self.assertTrue(d.running())
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
