#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A queue that survives anything: after kill -9 and a restart the queue is
exactly as it was (order, files, ids, id counter) and the interrupted story
resumes by its policy (at its position by the audio clock, from the top,
or not at all, also when stale); kill -9 in the middle of queue writes
never loses an acknowledged change; with the state directory full (a small
tmpfs) the audio goes on, the error is logged once, changes are refused
with the documented error, and the state catches up when space returns."""
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

import nextuptest as nt

CHECKPOINT_MARGIN_MS = 1500      # checkpoint period (1 s) + margin


def queue_view(listing):
    """What must survive: ids, files and titles, in order."""
    return [(s["id"], s["audio"], s["transcript"], s["title"]) for s in listing["queue"]]


class Persist(nt.NextupTestCase):
    # ---------------------------------------------------------------- helpers
    def start_with(self, playout="", start=True, **kw):
        d = self.daemon(start=False, **kw)
        d.write_config(text=d.config_text(**d.opts) + playout)
        d.runs = 0
        if start:
            d.start()
        return d

    def crash_and_restart(self, d, wait_before=0.0):
        """kill -9, then start again on the same state; returns seconds to READY."""
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.notify.close()
        os.unlink(d.notify.path)
        d.out_f.close()
        d.err_f.close()
        d.runs += 1
        os.rename(d.stderr_path, "%s.%d" % (d.stderr_path, d.runs))
        time.sleep(wait_before)
        t0 = time.monotonic()
        d.start()
        return time.monotonic() - t0

    def all_logs(self, d):
        text = ""
        for p in ["%s.%d" % (d.stderr_path, i) for i in range(1, d.runs + 1)] + [d.stderr_path]:
            with open(p, encoding="utf-8", errors="replace") as f:
                text += f.read()
        return text

    def listing(self, d):
        r = d.ctl("list", json_out=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def add(self, d, fx):
        return d.add(fx)["id"]

    def wait_position(self, d, sid, ms, timeout=30):
        return nt.wait_for(lambda: (lambda s: s if s.get("on_air") and s["on_air"]["id"] == sid
                                    and s["position_ms"] >= ms else None)(d.status()),
                           timeout, "story %d at %d ms" % (sid, ms), d.describe)

    def state_file(self, d):
        with open(os.path.join(d.state_dir, "state.json"), encoding="utf-8") as f:
            return json.load(f)

    def make_queue(self, d):
        """Market on air; a queue built with add, insert, move and remove."""
        a, b, c, w = (nt.fixture(n) for n in ("market", "pier", "library", "weather"))
        on_air = self.add(d, a)
        ids = [self.add(d, fx) for fx in (b, c, w, b)]
        r = d.request({"cmd": "insert", "audio": w["audio"], "transcript": w["transcript"], "position": 1})
        self.assertTrue(r["ok"], r)
        self.assertTrue(d.request({"cmd": "remove", "id": ids[1]})["ok"])
        self.assertTrue(d.request({"cmd": "move", "id": ids[3], "position": 0})["ok"])
        return on_air

    # ------------------------------------------------------------------ tests
    def test_kill_during_playout_resumes_at_position(self):
        d = self.start_with('playout = { resume = "position"; };\n')
        sid = self.make_queue(d)
        self.wait_position(d, sid, 5000)
        before = self.listing(d)
        self.assertEqual(before["on_air"]["id"], sid)
        pos_before = d.status()["position_ms"]
        to_ready = self.crash_and_restart(d)
        t0 = time.monotonic()
        d.wait_on_air(sid, 5)
        to_air = to_ready + time.monotonic() - t0

        after = self.listing(d)
        self.assertEqual(queue_view(after), queue_view(before), "queue changed across kill -9")
        self.assertEqual(after["on_air"]["id"], sid, "the interrupted story is not back on air")
        self.assertEqual(after["on_air"]["audio"], before["on_air"]["audio"])
        m = re.search(r"Resuming #%d .* at (\d+) ms" % sid, d.stderr())
        self.assertTrue(m, "no resume line\n" + d.describe())
        resumed_at = int(m.group(1))
        print("killed at %d ms, resumed at %d ms; restart to READY %.0f ms, to audio %.0f ms"
              % (pos_before, resumed_at, to_ready * 1000, to_air * 1000))
        self.assertLessEqual(resumed_at, pos_before + 100)
        self.assertGreaterEqual(resumed_at, pos_before - CHECKPOINT_MARGIN_MS)
        # The audio clock counts from the resume point.
        st = d.status()
        self.assertEqual(st["on_air"]["id"], sid)
        self.assertGreaterEqual(st["position_ms"], resumed_at - 50, "did not start at its position: %r" % st)
        self.assertLess(st["position_ms"], resumed_at + 3000, "position not from the resume point: %r" % st)
        # Captions: nothing said before the resume point is emitted again late.
        nt.wait_for(lambda: [c for c in d.cues_of(sid) if c["on_air_mono_us"] > 0 and
                             c["emitted_mono_us"] > d.started_at * 1e6], 15,
                    "a cue of the resumed story", d.describe)
        # The id counter survived: no id is handed out twice.
        new_id = self.add(d, nt.fixture("weather"))
        self.assertGreater(new_id, max([sid] + [s[0] for s in queue_view(before)]))
        self.assertStops(d)

    def test_restart_and_drop_policies(self):
        for policy, extra, wait_before in (("restart", "", 0), ("drop", "", 0),
                                           ("position", "stale_s = 1;", 2.5),
                                           ("auto", "resume_min_s = 30;", 0)):
            with self.subTest(policy=policy, extra=extra):
                d = self.start_with('playout = { resume = "%s"; %s };\n' % (policy, extra))
                sid = self.make_queue(d)
                self.wait_position(d, sid, 3000)
                before = self.listing(d)
                self.crash_and_restart(d, wait_before)
                nt.wait_for(lambda: self.listing(d)["on_air"], 10, "a story on air", d.describe)
                after = self.listing(d)
                if policy in ("restart", "auto"):      # auto: 21 s < resume_min_s
                    self.assertEqual(after["on_air"]["id"], sid)
                    self.assertEqual(queue_view(after), queue_view(before))
                    self.assertRegex(d.stderr(), r"Resuming #%d .* from the top" % sid)
                    self.assertLess(d.status()["position_ms"], 2500, "not restarted from the top")
                else:
                    # Dropped: the next story is on air, the rest as it was.
                    nt.wait_for(lambda: self.listing(d)["on_air"], 10, "next story on air", d.describe)
                    after = self.listing(d)
                    self.assertNotEqual(after["on_air"]["id"], sid)
                    self.assertEqual(queue_view(before)[0][0], after["on_air"]["id"])
                    self.assertEqual(queue_view(after), queue_view(before)[1:])
                    self.assertRegex(d.stderr(), r"Not resuming #%d .*(resume = drop|more than stale_s)" % sid)
                self.assertStops(d)

    def test_corrupt_state_starts_empty(self):
        fx = nt.fixture("weather")
        d = self.start_with(start=False, startup=[fx])
        with open(os.path.join(d.state_dir, "state.json"), "w") as f:
            f.write('{\n  "version": 1,\n  "queue": [ {"id": 1,')
        d.start()
        err = d.stderr()
        self.assertRegex(err, r"state\.json':3:\d+ \(offset \d+\): .*moved it to '.*state\.json\.corrupt-\d+'")
        self.assertEqual(self.listing(d)["queue"], [], "startup items queued over a saved (corrupt) state")
        self.assertIsNone(self.listing(d)["on_air"])
        self.assertEqual(len([n for n in os.listdir(d.state_dir) if n.startswith("state.json.corrupt-")]), 1)
        self.assertTrue(d.add(fx)["ok"])
        self.assertStops(d)

    def test_kill_during_queue_writes(self):
        stories = [nt.fixture(n) for n in ("pier", "library", "weather", "market")]
        d = self.start_with()
        rng = random.Random(4)
        present, removed, unknown = set(), set(), set()
        for round_ in range(10):
            lock = threading.Lock()
            stop = threading.Event()
            acked = []

            def writer():
                while not stop.is_set():
                    with lock:
                        victims = sorted(present - removed)
                    if victims and rng.random() < 0.3:
                        req = {"cmd": "remove", "id": rng.choice(victims)}
                    else:
                        fx = rng.choice(stories)
                        req = {"cmd": "add", "audio": fx["audio"], "transcript": fx["transcript"]}
                    try:
                        r = d.request(req, timeout=2)
                    except (OSError, ValueError):
                        r = None
                    if r is None:
                        # Killed mid-request: not acknowledged, so either
                        # outcome is right (it may have been saved).
                        if req["cmd"] == "remove":
                            with lock:
                                unknown.add(req["id"])
                        return
                    if r and r.get("ok"):
                        with lock:
                            acked.append((req["cmd"], r.get("id", req.get("id"))))
                            (present.add if req["cmd"] == "add" else removed.add)(r.get("id", req.get("id")))

            t = threading.Thread(target=writer)
            t.start()
            time.sleep(rng.uniform(0.05, 0.4))
            self.crash_and_restart(d)
            stop.set()
            t.join(5)
            state = self.state_file(d)           # parses
            self.assertEqual(state["version"], 1)
            listing = self.listing(d)
            restored = {s["id"] for s in listing["queue"]}
            if listing["on_air"]:
                restored.add(listing["on_air"]["id"])
            aired = {int(x) for x in re.findall(r"Off air: #(\d+)", self.all_logs(d))}
            missing = (present - removed - aired - unknown) - restored
            back = removed & restored
            self.assertFalse(missing, "round %d: acknowledged adds lost: %s\n%s" % (
                round_, sorted(missing), "\n".join(l for l in self.all_logs(d).split("\n")
                                                   if any("#%d " % i in l for i in missing))))
            self.assertFalse(back, "round %d: acknowledged removes undone: %s" % (round_, sorted(back)))
            print("round %d: %d changes acknowledged, %d stories restored" % (round_, len(acked), len(restored)))
        self.assertStops(d)

    def test_state_dir_full(self):
        d = self.start_with('playout = { resume = "position"; };\n', start=False)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", d.state_dir],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs (needs root): %s" % r.stderr.strip())
        try:
            self.full_disk(d)
        finally:
            d.cleanup()
            subprocess.run(["umount", "-l", d.state_dir])

    def full_disk(self, d):
        d.start()
        sid = self.make_queue(d)
        fx = nt.fixture("weather")
        tomorrow = time.strftime("%Y-%m-%dT12:00", time.localtime(time.time() + 86400))
        ev = d.request({"cmd": "at", "time": tomorrow, "audio": fx["audio"], "transcript": fx["transcript"]})
        self.assertTrue(ev["ok"], ev)
        self.wait_position(d, sid, 1000)
        before = self.listing(d)
        filler = os.path.join(d.state_dir, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        t_full = time.monotonic()
        # A change asked for now is refused, with the documented error.
        r = d.request({"cmd": "add", "audio": nt.fixture("weather")["audio"],
                       "transcript": nt.fixture("weather")["transcript"]})
        self.assertFalse(r["ok"], r)
        self.assertRegex(r["error"], r"cannot save the state in '.*state\.json': No space left on device; "
                                     r"nothing was changed")
        last = queue_view(before)[-1][0]
        for req in ({"cmd": "remove", "id": last}, {"cmd": "clear"}, {"cmd": "move", "id": last, "position": 0},
                    {"cmd": "skip"}, {"cmd": "remove", "id": sid}, {"cmd": "unschedule", "event": ev["event"]}):
            r = d.request(req)
            self.assertFalse(r["ok"], (req, r))
            self.assertRegex(r["error"], r"cannot save the state in '.*state\.json': No space left on device; "
                                         r"nothing was changed")
        self.assertEqual(queue_view(self.listing(d)), queue_view(before), "a refused change was applied")
        self.assertEqual(d.status()["on_air"]["id"], sid, "a refused skip was applied")
        self.assertEqual([e["event"] for e in d.request({"cmd": "schedule"})["events"]], [ev["event"]],
                         "a refused unschedule was applied")
        # The audio goes on: the clock runs, cues keep coming.
        n_cues = len(d.cues())
        p0 = d.status()["position_ms"]
        nt.wait_for(lambda: len(d.cues()) > n_cues and d.status()["position_ms"] > p0 + 2500, 20,
                    "audio going on with the state dir full", d.describe)
        errors = re.findall(r"Cannot save the state", d.stderr())
        self.assertEqual(len(errors), 1, "the error is logged once per episode:\n" + d.describe())
        # Space returns: the state catches up within a checkpoint.
        os.unlink(filler)
        nt.wait_for(lambda: "State saved in '" in d.stderr(), 3, "the state catching up", d.describe)
        print("state dir full for %.1f s; caught up" % (time.monotonic() - t_full))
        st = self.state_file(d)
        self.assertEqual(st["on_air"]["id"], sid, "a refused skip left the story saved as gone")
        self.assertGreaterEqual(st["on_air"]["frames"], (p0 + 2000) * 44100 // 1000,
                                "the checkpoint did not catch up")
        self.assertTrue(d.add(nt.fixture("weather"))["ok"])
        before = self.listing(d)
        self.crash_and_restart(d)
        d.wait_on_air(sid, 5)           # resumed: it leaves the queue when it starts
        self.assertEqual(queue_view(self.listing(d)), queue_view(before))
        self.assertEqual([e["event"] for e in d.request({"cmd": "schedule"})["events"]], [ev["event"]])
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
