#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Queue-time checks (issue 10 item 7, issue 8 item 3): `add`, `insert`
and `at` reply only after the worker has checked the story's files (a
regular file under media_roots, a transcript with spoken text within the
caps, audio that decodes, a transcript plausible for the audio's length).
A refusal names the reason and leaves the queue as it was; a good story
gets "ok" and airs; the loop answers other clients while a slow check
runs, and a client that leaves before its answer harms nothing."""
import os
import select
import shutil
import socket
import json
import time

import nextuptest as nt


def send_line(sock, obj):
    sock.sendall((json.dumps(obj) + "\n").encode())


def read_line(sock, timeout):
    sock.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return json.loads(buf.decode()) if buf else None


class QueueChecks(nt.NextupTestCase):
    def story(self, name, audio=None, transcript=None):
        """A story dir NAME with AUDIO bytes (None: the fixture's) and
        TRANSCRIPT text (None: the fixture's)."""
        fx = nt.fixture("pier")
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        a, t = os.path.join(d, "audio.mp3"), os.path.join(d, "transcript.txt")
        if audio is None:
            shutil.copy(fx["audio"], a)
        else:
            with open(a, "wb") as f:
                f.write(audio)
        if transcript is None:
            shutil.copy(fx["transcript"], t)
        else:
            with open(t, "w", encoding="utf-8") as f:
                f.write(transcript)
        return a, t

    def assertRefused(self, d, cmd, audio, transcript, reason, **extra):
        before = d.request({"cmd": "list"})
        req = dict(cmd=cmd, audio=audio, transcript=transcript, **extra)
        r = d.request(req, timeout=30)
        self.assertIsNotNone(r, "no reply to %r\n%s" % (req, d.describe()))
        self.assertFalse(r["ok"], "%s of a bad story was accepted: %r" % (cmd, r))
        self.assertIn(reason, r["error"], "refusal of %s does not say why" % audio)
        after = d.request({"cmd": "list"})
        self.assertEqual(before["queue"], after["queue"], "a refused %s changed the queue" % cmd)
        return r["error"]

    def test_refusals_name_the_reason(self):
        fx = nt.fixture("pier")
        d = self.daemon()
        good_a, good_t = self.story("good")
        with open(fx["audio"], "rb") as f:
            mp3 = f.read()
        # ASCII text has no MPEG sync word: nothing decodes.
        broken_a, broken_t = self.story("broken", audio=b"This is not an MP3 file at all.\n" * 3000)
        empty_a, empty_t = self.story("empty", transcript="")
        fifo_dir = os.path.join(self.tmp, "fifo")
        os.makedirs(fifo_dir)
        fifo_a, fifo_t = os.path.join(fifo_dir, "audio.mp3"), os.path.join(fifo_dir, "transcript.txt")
        os.mkfifo(fifo_a)
        os.mkfifo(fifo_t)
        # Some 29,000 characters for a few seconds of speech.
        long_a, long_t = self.story("too-long", transcript="The council met again today. " * 1000)
        # More cues than one story may have (SEGMENT_CUES_MAX), within the size cap.
        cues_a, cues_t = self.story("too-many-cues", audio=mp3,
                                    transcript="".join("Sentence number %d is here to fill one whole caption.\n" % i
                                                               for i in range(12000)))

        for cmd, extra in (("add", {}), ("insert", {"position": 0}), ("at", {"time": "23:59"})):
            print(cmd, "broken:", self.assertRefused(d, cmd, broken_a, broken_t, "not decodable", **extra))
            print(cmd, "empty:", self.assertRefused(d, cmd, empty_a, empty_t, "no spoken text", **extra))
            print(cmd, "fifo audio:", self.assertRefused(d, cmd, fifo_a, good_t, "not a regular file", **extra))
            print(cmd, "fifo text:", self.assertRefused(d, cmd, good_a, fifo_t, "not a regular file", **extra))
            print(cmd, "too long:", self.assertRefused(d, cmd, long_a, long_t, "too long for its audio", **extra))
            print(cmd, "cues:", self.assertRefused(d, cmd, cues_a, cues_t, "10000", **extra))
        self.assertEqual(d.request({"cmd": "schedule"}).get("events", []), [])

        # The CLI shows the reason and fails.
        r = d.ctl("add", broken_a, broken_t)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("not decodable", r.stderr)

        # A good story: ok with its id, and it airs with its captions.
        r = d.request({"cmd": "add", "audio": good_a, "transcript": good_t}, timeout=30)
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["position"], 0)
        sid = r["id"]
        listed = d.request({"cmd": "list"})
        self.assertIn(sid, [s["id"] for s in listed["queue"]] + ([listed["on_air"]["id"]] if listed["on_air"] else []))
        nt.wait_for(lambda: d.status()["state"] == "idle" and d.cues_of(sid), 60, "the good story aired",
                    d.describe)
        cues = d.cues_of(sid)
        self.assertEqual([c["cue_index"] for c in cues], list(range(len(cues))))
        self.assertGreaterEqual(len(cues), len(fx["truth"]["sentences"]))
        self.assertIn("Control: 'add' #%d by user" % sid, d.stderr())
        self.assertTrue(d.running())
        self.assertStops(d)

    def long_story(self, minutes):
        """The fixture's MP3 repeated to about MINUTES minutes: its full
        decode (the check) takes a while."""
        fx = nt.fixture("pier")
        with open(fx["audio"], "rb") as f:
            mp3 = f.read()
        reps = max(1, int(minutes * 60000 / fx["truth"]["duration_ms"]))
        return self.story("long", audio=mp3 * reps)

    def test_loop_answers_during_a_slow_check(self):
        d = self.daemon()
        a, t = self.long_story(90)
        adder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        adder.connect(d.socket)
        t0 = time.monotonic()
        send_line(adder, {"cmd": "add", "audio": a, "transcript": t})
        # Another client is answered while the check runs...
        s = d.request({"cmd": "status"}, timeout=2)
        t_status = time.monotonic() - t0
        self.assertTrue(s["ok"])
        ready, _, _ = select.select([adder], [], [], 0)
        self.assertEqual(ready, [], "the add was answered before the status: the check was not slow "
                         "enough to show anything (status after %.3f s)" % t_status)
        # ...and the add is answered once it is done.
        r = read_line(adder, 120)
        t_add = time.monotonic() - t0
        adder.close()
        print("status answered after %.1f ms, add after %.1f ms" % (t_status * 1000, t_add * 1000))
        self.assertTrue(r and r["ok"], r)
        # The reply came after the whole decode: the story's length is known.
        listed = d.request({"cmd": "list"})
        story = [s for s in listed["queue"] + [listed["on_air"] or {}] if s.get("id") == r["id"]][0]
        self.assertGreater(story["duration_ms"], 80 * 60000)
        self.assertStops(d)

    def test_client_leaves_before_the_reply(self):
        d = self.daemon()
        a, t = self.long_story(30)
        for _ in range(3):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(d.socket)
            send_line(c, {"cmd": "add", "audio": a, "transcript": t})
            c.close()
        # The checks finish with nobody to tell; the daemon goes on.
        nt.wait_for(lambda: len(d.request({"cmd": "list"})["queue"]) + (1 if d.status()["on_air"] else 0) == 3,
                    120, "the three checked stories queued", d.describe)
        self.assertTrue(d.status()["ok"])
        self.assertTrue(d.running())
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
