#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dropbox: stories dropped into watched folders are queued by the real
daemon once both files are complete and quiet for settle_ms.

- a story copied in slowly (transcript, then the MP3 in chunks, each chunk
  closed) is not taken while being written, and is taken whole, no sooner
  than settle_ms after its last write; a story renamed in is taken too;
  both move to accepted/ and air with captions;
- a broken transcript and a garbage MP3 go to quarantine with NAME.error
  naming the file (and line) and the problem; a lone file waits;
- files present at start-up are taken; position 0 puts the story next up,
  ahead of the queue; after a restart nothing is taken twice."""
import os
import re
import shutil
import signal
import time

import nextuptest as nt


class Dropbox(nt.NextupTestCase):
    def folder(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        return d

    def stories(self, d):
        """Every story the daemon holds (on air and queued), by audio path."""
        r = d.request({"cmd": "list"})
        self.assertTrue(r["ok"], r)
        out = [r["on_air"]] if r.get("on_air") else []
        return {s["audio"]: s for s in out + r["queue"]}

    def wait_story(self, d, audio, timeout=10):
        """Waits until AUDIO is queued and its audio scan has come back (so
        a stop right after does not race the ingest worker)."""
        return nt.wait_for(lambda: (lambda s: s if s and s["timing"] != "none" else None)(self.stories(d).get(audio)),
                           timeout, "story %s queued and scanned" % audio, d.describe)

    def test_slow_copy_and_rename(self):
        box = self.folder("box")
        fx, fx2 = nt.fixture("weather"), nt.fixture("library")
        d = self.daemon(dropboxes=[{"path": box, "settle_ms": 1000}])
        nt.wait_for(lambda: "Dropbox '%s': watching" % box in d.stderr(), 5, "the watch", d.describe)

        mp3, txt = os.path.join(box, "rain.mp3"), os.path.join(box, "rain.txt")
        shutil.copy(fx["transcript"], txt)
        # Each chunk closes the file (complete, as far as inotify can tell);
        # only the settle time keeps the half-written MP3 from being taken.
        with open(fx["audio"], "rb") as f:
            data = f.read()
        step = (len(data) + 5) // 6
        last = None
        for i in range(0, len(data), step):
            if last is not None:
                time.sleep(0.4)
                self.assertTrue(os.path.exists(mp3) and os.path.exists(txt),
                                "taken while still being written\n" + d.describe())
            with open(mp3, "ab") as f:
                f.write(data[i:i + step])
            last = time.monotonic()
        accepted = os.path.join(box, "accepted")
        nt.wait_for(lambda: not os.path.exists(mp3), 10, "the story to leave the folder", d.describe)
        taken_after = time.monotonic() - last
        self.assertGreaterEqual(taken_after, 0.95, "taken before the settle time")
        with open(os.path.join(accepted, "rain.mp3"), "rb") as f:
            self.assertEqual(f.read(), data, "the accepted MP3 is not the whole file")
        self.assertTrue(os.path.exists(os.path.join(accepted, "rain.txt")))
        print("slow copy taken %.2f s after its last write (settle 1.0 s)" % taken_after)

        # Renamed in from elsewhere on the same file system: IN_MOVED_TO.
        stage = self.folder("stage")
        shutil.copy(fx2["transcript"], os.path.join(stage, "lib.txt"))
        shutil.copy(fx2["audio"], os.path.join(stage, "lib.mp3"))
        os.rename(os.path.join(stage, "lib.txt"), os.path.join(box, "lib.txt"))
        os.rename(os.path.join(stage, "lib.mp3"), os.path.join(box, "lib.mp3"))

        # Both air, in drop order, with their captions.
        ids = []
        for name, f in (("rain", fx), ("lib", fx2)):
            audio = os.path.join(accepted, name + ".mp3")
            s = self.wait_story(d, audio)
            self.assertEqual(s["title"], f["title"])
            ids.append(s["id"])
        self.assertLess(ids[0], ids[1])
        for sid, f in zip(ids, (fx, fx2)):
            nt.wait_for(lambda: len(d.cues_of(sid)) >= len(f["truth"]["sentences"]),
                        f["truth"]["duration_ms"] / 1000.0 * 2 + 20, "captions of #%d" % sid, d.describe)
        self.assertEqual(" ".join(nt.normalise(c["text"]) for c in d.cues_of(ids[1])), nt.spoken_text(fx2))
        self.assertRegex(d.stderr(), r"Dropbox '%s': taking 'rain.mp3' \+ 'rain.txt'" % re.escape(box))
        self.assertEqual(os.listdir(box), ["accepted"])
        self.assertStops(d)

    def test_quarantine_and_lone_file(self):
        box = self.folder("box")
        fx = nt.fixture("weather")
        d = self.daemon(dropboxes=[{"path": box, "settle_ms": 300}])
        nt.wait_for(lambda: "Dropbox '%s': watching" % box in d.stderr(), 5, "the watch", d.describe)

        shutil.copy(fx["audio"], os.path.join(box, "badtext.mp3"))
        with open(os.path.join(box, "badtext.vtt"), "w") as f:
            f.write("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nFine.\n\n00:00:03.000 --> soon\nBroken.\n")
        with open(os.path.join(box, "garbage.mp3"), "wb") as f:
            f.write(b"This is not an MP3 file at all.\n" * 100)
        shutil.copy(fx["transcript"], os.path.join(box, "garbage.txt"))
        shutil.copy(fx["audio"], os.path.join(box, "lonely.mp3"))

        q = os.path.join(box, "quarantine")
        nt.wait_for(lambda: os.path.exists(os.path.join(q, "badtext.error"))
                    and os.path.exists(os.path.join(q, "garbage.error")), 10, "two .error files", d.describe)
        with open(os.path.join(q, "badtext.error")) as f:
            err = f.read()
        self.assertTrue(err.startswith("badtext.vtt:6:"), err)        # file:line of the bad cue
        with open(os.path.join(q, "garbage.error")) as f:
            err = f.read()
        self.assertTrue(err.startswith("garbage.mp3: not decodable:"), err)
        self.assertEqual(sorted(os.listdir(q)), ["badtext.error", "badtext.mp3", "badtext.vtt",
                                                 "garbage.error", "garbage.mp3", "garbage.txt"])
        log = d.stderr()
        self.assertIn("quarantined 'badtext'", log)
        self.assertIn("quarantined 'garbage'", log)

        # The lone MP3 waits (well past its settle time), nothing was queued.
        nt.wait_for(lambda: "'lonely.mp3' waits for its transcript" in d.stderr(), 5, "the lone file", d.describe)
        time.sleep(0.5)
        self.assertTrue(os.path.exists(os.path.join(box, "lonely.mp3")))
        self.assertEqual(self.stories(d), {})
        # Its transcript arrives: the pair is taken.
        shutil.copy(fx["transcript"], os.path.join(box, "lonely.txt"))
        s = self.wait_story(d, os.path.join(box, "accepted", "lonely.mp3"))
        self.assertEqual(s["title"], fx["title"])
        self.assertTrue(d.running())
        self.assertStops(d)

    def test_checked_with_the_caption_settings(self):
        """The dropbox segments a transcript with the config's caption
        settings, as `add` does, so both refuse a story for the same
        reason: 10500 words make more than 10000 captions at 10 characters
        on one line (and under 1000 at the default 37 x 2). Before, the
        dropbox's check used the defaults, found it only too long for its
        audio, and a story `add` would take could be refused (or the other
        way round)."""
        box = self.folder("box")
        fx = nt.fixture("weather")
        d = self.daemon(max_chars=10, max_lines=1, dropboxes=[{"path": box, "settle_ms": 200}])
        nt.wait_for(lambda: "Dropbox '%s': watching" % box in d.stderr(), 5, "the watch", d.describe)
        text = "".join(" ".join(["alpha"] * 500) + ".\n\n" for _ in range(21))
        src = os.path.join(self.tmp, "long.txt")
        with open(src, "w") as f:
            f.write(text)
        r = d.request({"cmd": "add", "audio": fx["audio"], "transcript": src}, timeout=30)
        self.assertFalse(r["ok"], r)
        self.assertIn("more than 10000 captions", r["error"])
        shutil.copy(fx["audio"], os.path.join(box, "long.mp3"))
        shutil.copy(src, os.path.join(box, "long.txt"))
        q = os.path.join(box, "quarantine")
        nt.wait_for(lambda: os.path.exists(os.path.join(q, "long.error")), 20, "long.error", d.describe)
        with open(os.path.join(q, "long.error")) as f:
            err = f.read()
        self.assertEqual(err.strip(), "long.txt: more than 10000 captions (SEGMENT_CUES_MAX): too long for one story")
        self.assertEqual(self.stories(d), {})
        self.assertStops(d)

    def test_startup_files_go_next(self):
        box = self.folder("next")
        a, b, c, fx = nt.fixture("market"), nt.fixture("pier"), nt.fixture("library"), nt.fixture("weather")
        shutil.copy(fx["audio"], os.path.join(box, "flash.mp3"))
        shutil.copy(fx["transcript"], os.path.join(box, "flash.txt"))
        # A story of the same name was taken before: the new one gets a suffix.
        os.makedirs(os.path.join(box, "accepted"))
        with open(os.path.join(box, "accepted", "flash.txt"), "w") as f:
            f.write("an older flash\n")
        d = self.daemon(startup=[a, b, c], dropboxes=[{"path": box, "position": 0, "settle_ms": 300}])
        audio = os.path.join(box, "accepted", "flash-1.mp3")
        self.wait_story(d, audio)
        r = d.request({"cmd": "list"})
        self.assertEqual(r["on_air"]["audio"], a["audio"], r)
        self.assertEqual([s["audio"] for s in r["queue"]], [audio, b["audio"], c["audio"]])
        self.assertEqual(sorted(os.listdir(box)), ["accepted"])
        self.assertStops(d)

        # After a restart the folder holds nothing new: nothing is taken again.
        d.notify.close()
        os.unlink(d.notify.path)
        d.out_f.close()
        d.err_f.close()
        d.start()
        time.sleep(1.0)
        self.assertNotIn("taking", d.stderr())
        self.assertStops(d)

    def test_reload_adds_a_folder(self):
        box = self.folder("late")
        fx = nt.fixture("weather")
        d = self.daemon()
        d.write_config(dropboxes=[{"path": box, "settle_ms": 200}])
        d.signal(signal.SIGHUP)
        nt.wait_for(lambda: "Dropbox '%s': watching" % box in d.stderr(), 5, "the watch after reload", d.describe)
        shutil.copy(fx["transcript"], os.path.join(box, "late.txt"))
        shutil.copy(fx["audio"], os.path.join(box, "late.mp3"))
        self.wait_story(d, os.path.join(box, "accepted", "late.mp3"))
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
