#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Control: every nextupctl command against the real daemon, human and
--json output, exit codes (0 ok, 1 error reply, 2 usage or no daemon);
pause holds captions and the clock, resume goes on, skip moves on; bad
requests (missing files, nothing speakable, garbage, NUL bytes, a 1 MiB
line) get an error or a hang-up while the air and the socket carry on."""
import json
import os
import socket
import subprocess
import time

import nextuptest as nt

STORY_KEYS = {"id", "title", "audio", "transcript", "duration_ms", "timing", "cues"}


class Control(nt.NextupTestCase):
    def ctl_ok(self, d, *args, **kw):
        r = d.ctl(*args, json_out=True, **kw)
        self.assertEqual(r.returncode, 0, "nextupctl %s: %s" % (" ".join(map(str, args)), r.stderr))
        reply = json.loads(r.stdout)
        self.assertIs(reply["ok"], True, reply)
        return reply

    def ctl_err(self, d, *args, code=1):
        r = d.ctl(*args)
        self.assertEqual(r.returncode, code, "nextupctl %s -> %d, stderr %r"
                         % (" ".join(map(str, args)), r.returncode, r.stderr))
        self.assertTrue(r.stderr.strip(), "no message on stderr")
        return r

    def queue_ids(self, d):
        return [s["id"] for s in self.ctl_ok(d, "list")["queue"]]

    def test_queue_commands(self):
        a, b, c, p = (nt.fixture(n) for n in ("market", "weather", "library", "pier"))
        d = self.daemon()
        st = self.ctl_ok(d, "status")
        self.assertEqual((st["state"], st["on_air"], st["queue_length"], st["next"], st["output"]),
                         ("idle", None, 0, None, "null"))
        self.assertEqual(d.ctl("status").returncode, 0)

        # Relative paths: nextupctl makes them absolute.
        ra = self.ctl_ok(d, "add", "audio.mp3", "transcript.txt", cwd=a["dir"])
        self.assertEqual(ra["title"], a["title"])
        A = ra["id"]
        d.wait_on_air(A, 10)
        on_air = self.ctl_ok(d, "list")["on_air"]
        self.assertEqual(set(on_air), STORY_KEYS)
        self.assertEqual(os.path.realpath(on_air["audio"]), os.path.realpath(a["audio"]))
        self.assertTrue(os.path.isabs(on_air["transcript"]))

        B = self.ctl_ok(d, "add", b["audio"], b["transcript"])
        self.assertEqual(B["position"], 0)
        C = self.ctl_ok(d, "add", c["audio"], c["transcript"])
        self.assertEqual(C["position"], 1)
        D = self.ctl_ok(d, "insert", "--next", p["audio"], p["transcript"])
        self.assertEqual(D["position"], 0)
        E = self.ctl_ok(d, "insert", "--at", 1, b["audio"], b["transcript"])
        self.assertEqual(E["position"], 1)
        B, C, D, E = (x["id"] for x in (B, C, D, E))
        self.assertEqual(self.queue_ids(d), [D, E, B, C])
        self.ctl_ok(d, "move", C, 0)
        self.assertEqual(self.queue_ids(d), [C, D, E, B])
        self.ctl_ok(d, "remove", E)
        self.assertEqual(self.queue_ids(d), [C, D, B])
        self.ctl_err(d, "remove", 99999)
        self.ctl_err(d, "move", 99999, 0)
        self.assertEqual(self.queue_ids(d), [C, D, B])

        lst = self.ctl_ok(d, "list")
        for s in lst["queue"]:
            self.assertEqual(set(s), STORY_KEYS)
            self.assertIn(s["timing"], ("none", "given", "estimate", "aligned"))
        human = d.ctl("list")
        self.assertEqual(human.returncode, 0)
        for fx in (a, c, p, b):
            self.assertIn(fx["title"], human.stdout)
        st = self.ctl_ok(d, "status")
        self.assertEqual((st["state"], st["on_air"]["id"], st["next"]["id"], st["queue_length"]),
                         ("playing", A, C, 3))
        self.assertIn(a["title"], d.ctl("status").stdout)


        # skip: the next in line goes on air, its captions follow.
        self.ctl_ok(d, "skip")
        d.wait_on_air(C, 5)
        self.assertEqual(self.queue_ids(d), [D, B])
        nt.wait_for(lambda: d.cues_of(C), 10, "cues of the story after skip", d.describe)
        self.assertLess(len(d.cues_of(A)), on_air["cues"], "the skipped story ran to the end")

        self.ctl_ok(d, "clear")
        lst = self.ctl_ok(d, "list")
        self.assertEqual(lst["queue"], [])
        self.assertEqual(self.ctl_ok(d, "status")["queue_length"], 0)
        self.assertStops(d)

    def test_pause_resume(self):
        d = self.daemon()
        sid = d.add(nt.fixture("market"))["id"]
        nt.wait_for(lambda: d.cues_of(sid), 10, "first cue", d.describe)
        t_pause = time.monotonic()
        self.ctl_ok(d, "pause")
        # The playout thread confirms the pause; allow it a moment.
        st = d.wait_state("paused", 1)
        print("pause confirmed after %.1f ms" % ((time.monotonic() - t_pause) * 1000))
        n, pos = len(d.cues()), st["position_ms"]
        time.sleep(2.5)                          # the window in which nothing may happen
        st = self.ctl_ok(d, "status")
        self.assertEqual(st["state"], "paused")
        self.assertLessEqual(abs(st["position_ms"] - pos), 100, "position moved while paused")
        self.assertEqual(len(d.cues()), n, "cues emitted while paused")
        t_resume = time.monotonic()
        self.ctl_ok(d, "resume")
        d.wait_state("playing", 1)
        nt.wait_for(lambda: len(d.cues()) > n, 10, "a cue after resume", d.describe)
        late = [c for c in d.cues_of(sid) if c["start_ms"] > pos + 100]
        self.assertTrue(late)
        for c in late:
            self.assertGreaterEqual(c["emitted_mono_us"] / 1e6, t_pause, c)
            self.assertGreaterEqual(c["due_mono_us"] / 1e6, t_resume - 0.05,
                                    "due time not moved by the pause: %r" % c)
            self.assertOnTime(c["lateness_us"], 50000, c)
        self.assertStops(d)

    def test_exit_codes(self):
        fx = nt.fixture("weather")
        d = self.daemon()
        nowhere = os.path.join(self.tmp, "nowhere.sock")
        self.assertEqual(d.ctl("status", socket_path=nowhere).returncode, 2)
        for args in ([], ["frobnicate"], ["add", fx["audio"]], ["insert", "--at"], ["move", "1"]):
            r = d.ctl(*args)
            self.assertEqual(r.returncode, 2, "nextupctl %s -> %d" % (args, r.returncode))
        # NEXTUP_SOCKET is the default socket.
        r = subprocess.run([nt.binary("nextupctl"), "status"], capture_output=True,
                              env=dict(os.environ, NEXTUP_SOCKET=d.socket))
        self.assertEqual(r.returncode, 0, r.stderr)
        # An error reply -> 1, also with --json (the reply on stdout).
        r = d.ctl("remove", 4242, json_out=True)
        self.assertEqual(r.returncode, 1)
        self.assertIs(json.loads(r.stdout)["ok"], False)
        self.assertStops(d)

    def test_bad_requests(self):
        good, other = nt.fixture("market"), nt.fixture("weather")
        d = self.daemon()
        gid = d.add(good)["id"]
        d.wait_on_air(gid, 10)

        missing = os.path.join(self.tmp, "missing-audio.mp3")
        r = self.ctl_err(d, "add", missing, other["transcript"])
        self.assertIn("missing-audio.mp3", r.stderr)
        missing_t = os.path.join(self.tmp, "missing-transcript.txt")
        r = self.ctl_err(d, "add", other["audio"], missing_t)
        self.assertIn("missing-transcript.txt", r.stderr)
        empty = os.path.join(self.tmp, "nothing-spoken.txt")
        with open(empty, "w") as f:
            f.write("Play Live Radio\nNext Up:\nAvailable On Air Stations\n\nA Title Only\n\n\n"
                    "Transcript provided by NPR, Copyright NPR.\nJo Bloggs reports for NPR.\n")
        r = self.ctl_err(d, "insert", "--next", other["audio"], empty)
        self.assertIn("nothing-spoken.txt", r.stderr)
        self.assertEqual(self.queue_ids(d), [], "a bad add left something queued")

        for bad in (b"garbage\n", b"\x00\x01\x02 binary \x00\xff\n", b'{"cmd": "frobnicate"}\n',
                    b'{"no_cmd": 1}\n', b'[1, 2, 3]\n', b'{"cmd": "remove", "id": "seven"}\n'):
            reply = self.raw(d, bad)
            self.assertFalse(reply and reply.get("ok"), "%r -> %r" % (bad, reply))
        reply = self.raw(d, b"x" * (1 << 20) + b"\n")
        self.assertFalse(reply and reply.get("ok"), "1 MiB line -> %r" % (reply,))

        self.assertTrue(d.running(), d.describe())
        st = d.status()
        self.assertEqual((st["state"], st["on_air"]["id"]), ("playing", gid))
        n = len(d.cues())
        nt.wait_for(lambda: len(d.cues()) > n, 10, "cues go on after bad requests", d.describe)
        self.assertEqual(d.ctl("list").returncode, 0)
        self.assertStops(d)

    def raw(self, d, data):
        """-> the reply, or None when the daemon hung up without one."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(d.socket)
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            buf = b""
            try:
                while not buf.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            except ConnectionResetError:
                pass
            except socket.timeout:
                self.fail("no reply and no hang-up for %r..." % data[:40])
        if not buf:
            return None
        reply = json.loads(buf.split(b"\n")[0])
        if not reply.get("ok"):
            self.assertTrue(reply.get("error"), reply)
        return reply


if __name__ == "__main__":
    nt.main()
