#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Nothing a file does can stall the air (issue 8, items 2 and 6): a FIFO
given as audio or transcript is refused at once (it used to block the loop
thread in open() until someone wrote to it: a dead control socket and
dropped cues); devices, directories and /proc files are refused too; a
story playing meanwhile keeps its cues."""
import os
import time

import nextuptest as nt


class FileSafety(nt.NextupTestCase):
    def test_fifo_and_special_files_refused_without_stalling(self):
        fx = nt.fixture("pier")
        d = self.daemon()
        fifo = os.path.join(d.tmp, "f.mp3")
        fifo_txt = os.path.join(d.tmp, "f.txt")
        os.mkfifo(fifo)
        os.mkfifo(fifo_txt)
        sid = d.add(fx)["id"]
        d.wait_on_air(sid, 10)
        cases = [
            (fifo, fx["transcript"]),
            (fx["audio"], fifo_txt),
            ("/dev/zero", fx["transcript"]),
            (fx["audio"], "/dev/zero"),
            (os.path.dirname(fx["audio"]), fx["transcript"]),
            (fx["audio"], "/proc/self/environ"),
            (fx["audio"], "/proc/self/status"),
        ]
        for audio, transcript in cases:
            t0 = time.monotonic()
            r = d.request({"cmd": "add", "audio": audio, "transcript": transcript}, timeout=3)
            self.assertLess(time.monotonic() - t0, 1.0, (audio, transcript))
            self.assertFalse(r["ok"], (audio, transcript, r))
            self.assertNotIn("Invalid argument", r["error"])
        # The queue holds only the story on air; the loop still answers.
        self.assertEqual(d.status()["on_air"]["id"], sid)
        self.assertEqual(d.request({"cmd": "list"})["queue"], [])
        nt.wait_for(lambda: d.status()["state"] == "idle", 60, "story played", d.describe)
        self.assertTrue(d.cues_of(sid))
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
