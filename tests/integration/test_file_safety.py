#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Nothing a file does can stall the air or read what it should not
(issue 8, items 2 and 6): a FIFO given as audio or transcript is refused at
once (it used to block the loop thread in open() until someone wrote to it:
a dead control socket and dropped cues); devices, directories and /proc
files are refused too; a story playing meanwhile keeps its cues. Files
must resolve (after symlinks) under media_roots: `add story.mp3
/etc/shadow` used to put shadow's lines into the caption feed; a missing
file, an unreadable one and one outside the roots get the same reply. A
dropbox refuses symlinks, hard links and files of other users."""
import os
import shutil
import tempfile
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

    def test_media_roots(self):
        fx = nt.fixture("pier")
        d = self.daemon()
        inside = os.path.join(d.tmp, "media")
        os.makedirs(inside)
        link = os.path.join(inside, "story.txt")
        os.symlink("/etc/passwd", link)            # readable: refused for where it points
        audio = os.path.join(inside, "story.mp3")
        shutil.copy(fx["audio"], audio)
        replies = {}
        for transcript in ("/etc/shadow", "/etc/passwd", "/etc/no-such-file", "/proc/self/environ", link,
                           os.path.join(inside, "missing.txt")):
            r = d.request({"cmd": "add", "audio": audio, "transcript": transcript})
            self.assertFalse(r["ok"], (transcript, r))
            replies[transcript] = r["error"].replace(transcript, "PATH")
        self.assertEqual(set(replies.values()), {"transcript 'PATH': not found or not readable"}, replies)
        self.assertNotIn("root:", d.stderr())
        # A story under the roots is taken; captions.jsonl is not world-readable.
        shutil.copy(fx["transcript"], os.path.join(inside, "ok.txt"))
        sid = d.add({"audio": audio, "transcript": os.path.join(inside, "ok.txt")})["id"]
        nt.wait_for(lambda: d.cues_of(sid), 30, "a cue", d.describe)
        self.assertEqual(os.stat(d.jsonl).st_mode & 0o777, 0o640)
        self.assertStops(d)

    def test_default_roots_are_the_configs_folders(self):
        fx, other = nt.fixture("pier"), nt.fixture("library")
        d = self.daemon(start=False, media_roots="default", startup=[fx])
        d.start()
        r = d.request({"cmd": "add", "audio": other["audio"], "transcript": fx["transcript"]})
        if os.path.dirname(other["audio"]) != os.path.dirname(fx["audio"]):
            self.assertFalse(r["ok"], r)
        # The startup item's folder is a root: its story was queued.
        lst = d.request({"cmd": "list"})
        self.assertTrue(any(s["audio"] == os.path.realpath(fx["audio"])
                            for s in ([lst["on_air"]] if lst.get("on_air") else []) + lst["queue"]),
                        "%r\n%s" % (lst, d.describe()))
        self.assertStops(d)

    def test_dropbox_refuses_links(self):
        fx = nt.fixture("pier")
        box = os.path.join(self.tmp, "box")
        os.makedirs(box)
        d = self.daemon(dropboxes=[{"path": box, "settle_ms": 300}])
        nt.wait_for(lambda: "Dropbox '%s': watching" % box in d.stderr(), 5, "the watch", d.describe)
        staging = os.path.join(self.tmp, "staging")
        os.makedirs(staging)
        # A symlink to a secret, moved in (IN_MOVED_TO), with real audio.
        shutil.copy(fx["audio"], os.path.join(staging, "sym.mp3"))
        os.symlink("/etc/passwd", os.path.join(staging, "sym.txt"))
        os.rename(os.path.join(staging, "sym.txt"), os.path.join(box, "sym.txt"))
        os.rename(os.path.join(staging, "sym.mp3"), os.path.join(box, "sym.mp3"))
        # A hard link to a file elsewhere.
        shutil.copy(fx["transcript"], os.path.join(staging, "hard.txt"))
        shutil.copy(fx["audio"], os.path.join(staging, "hard.mp3"))
        os.link(os.path.join(staging, "hard.txt"), os.path.join(staging, "hard2.txt"))
        os.rename(os.path.join(staging, "hard2.txt"), os.path.join(box, "hard.txt"))
        os.rename(os.path.join(staging, "hard.mp3"), os.path.join(box, "hard.mp3"))
        q = os.path.join(box, "quarantine")
        nt.wait_for(lambda: os.path.exists(os.path.join(q, "sym.error")) and
                    os.path.exists(os.path.join(q, "hard.error")), 10, "both quarantined", d.describe)
        with open(os.path.join(q, "sym.error")) as f:
            self.assertIn("sym.txt: a symbolic link, refused", f.read())
        with open(os.path.join(q, "hard.error")) as f:
            self.assertIn("hard.txt: has other hard links, refused", f.read())
        self.assertEqual(d.request({"cmd": "list"})["queue"], [])
        self.assertIsNone(d.status().get("on_air"))
        self.assertNotIn("root:", open(d.jsonl).read() if os.path.exists(d.jsonl) else "")
        self.assertStops(d)

    def test_dropbox_cross_fs_quarantine_off_the_loop(self):
        """A quarantine on another file system is a copy + fsync: done on the
        worker, the loop keeps answering (fsync made 300 ms slow there)."""
        shm = "/dev/shm"
        if not os.path.isdir(shm) or os.stat(shm).st_dev == os.stat(self.tmp).st_dev:
            self.skipTest("no second file system for the quarantine")
        fx = nt.fixture("pier")
        box = os.path.join(self.tmp, "box")
        os.makedirs(box)
        q = tempfile.mkdtemp(prefix="nextup-q.", dir=shm)
        self.addCleanup(shutil.rmtree, q, True)
        d = self.daemon(start=False, dropboxes=[{"path": box, "settle_ms": 200, "quarantine": q}])
        d.start(env=nt.slow_fsync_env(q, 300))
        nt.wait_for(lambda: "Dropbox '%s': watching" % box in d.stderr(), 5, "the watch", d.describe)
        with open(os.path.join(box, "bad.mp3"), "wb") as f:
            f.write(b"not an mp3 " * 100000)
        shutil.copy(fx["transcript"], os.path.join(box, "bad.txt"))
        worst, t_end = 0.0, time.monotonic() + 15
        while time.monotonic() < t_end and not os.path.exists(os.path.join(q, "bad.error")):
            t0 = time.monotonic()
            self.assertTrue(d.status())
            worst = max(worst, time.monotonic() - t0)
            time.sleep(0.01)
        nt.wait_for(lambda: not os.path.exists(os.path.join(box, "bad.mp3")), 5, "originals removed",
                    d.describe)
        self.assertIn("slowfsync: delaying", d.stderr())
        self.assertEqual(sorted(os.listdir(q)), ["bad.error", "bad.mp3", "bad.txt"])
        self.assertLess(worst, 0.15, "a status request waited %.0f ms during the quarantine" % (worst * 1000))
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
