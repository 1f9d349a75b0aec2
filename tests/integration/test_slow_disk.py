#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A slow disk under the state directory does not make captions late
(issue 8 item 2): with every fsync there delayed by 300 ms (an LD_PRELOAD
shim), two stories play back to back and every cue is emitted once, in
order, within the on-air test's tolerance. Before, the loop thread fsync'd
the whole state every second (the position checkpoint) and at every story
start and end, so cues came up to 600 ms late. And a change a client waits
on (add, move, remove, skip, clear) waits on its own save without the loop
waiting with it."""
import datetime
import json
import os
import threading
import time

import nextuptest as nt


class SlowDisk(nt.NextupTestCase):
    def state(self, d):
        with open(os.path.join(d.state_dir, "state.json"), encoding="utf-8") as f:
            return json.load(f)

    def timed(self, d, req, worst):
        """REQ's reply and how long it took; meanwhile another client asks
        for the status every 20 ms and the slowest answer goes into WORST."""
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                t = time.monotonic()
                self.assertTrue(d.request({"cmd": "status"}, timeout=5)["ok"])
                worst.append(time.monotonic() - t)
                time.sleep(0.02)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            t = time.monotonic()
            r = d.request(req, timeout=30)
            return r, time.monotonic() - t
        finally:
            stop.set()
            poller.join()

    def test_add_waits_on_the_disk_not_the_loop(self):
        """An `add` is answered once its state is on disk (two fsyncs of
        500 ms: the file and its directory); meanwhile another client's
        `status` is answered at once and the story on air keeps its cues
        on time. Before, the loop thread made that save itself: every
        client and every cue waited a second."""
        a, b = nt.fixture("market"), nt.fixture("pier")
        d = self.daemon(start=False, startup=[a])
        d.start(env=nt.slow_fsync_env(d.state_dir, 500))
        d.wait_on_air(1, 20)
        nt.wait_for(lambda: d.cues(), 10, "the first cue", d.describe)
        time.sleep(1.5)   # the startup saves are behind us
        worst = []
        r, t_add = self.timed(d, {"cmd": "add", "audio": b["audio"], "transcript": b["transcript"]}, worst)
        self.assertTrue(r and r["ok"], r)
        self.assertIn(r["id"], [s["id"] for s in self.state(d)["queue"]], "ok before the state was saved")
        print("add answered after %.0f ms; %d status replies meanwhile, slowest %.1f ms"
              % (t_add * 1000, len(worst), max(worst) * 1000))
        self.assertGreaterEqual(t_add, 0.9, "the add did not wait for its fsyncs (was the shim active?)")
        # on the loop, the save would hold every status for its two fsyncs (1 s)
        self.assertLess(max(worst), 0.4, "a status waited on the add's fsync")
        nt.wait_for(lambda: d.status()["state"] == "idle" and len({c["story_id"] for c in d.cues()}) == 2,
                    120, "both stories played", d.describe)
        lateness = [c["lateness_us"] for c in d.cues()]
        print("lateness over %d cues: p99 %d us, max %d us"
              % (len(lateness), nt.percentile(lateness, 99), max(lateness)))
        # as below: an fsync on the loop would make a cue up to 1 s late
        self.assertOnTime(max(lateness), 100000, "cue lateness with a slow disk")
        self.assertStops(d)

    def test_queue_changes_wait_on_the_disk_not_the_loop(self):
        """move, remove, skip and clear are each answered once their state
        is on disk (two fsyncs of 300 ms: the file and its directory), and
        the disk then holds the change; meanwhile the story on air keeps
        its cues on time and another client's status is answered at once.
        Before, the loop thread made each of these saves itself: eight
        moves and three more changes held the loop for 600 ms each, over
        the 21 s of the story on air."""
        names = ("market", "pier", "library", "weather")
        d = self.daemon(start=False, startup=[nt.fixture(n) for n in names])
        d.start(env=nt.slow_fsync_env(d.state_dir, 300))
        first = nt.wait_for(lambda: d.status().get("on_air"), 20, "the first story on air", d.describe)["id"]
        nt.wait_for(lambda: d.cues(), 10, "the first cue", d.describe)
        time.sleep(1.5)   # the startup saves are behind us
        queue = [s["id"] for s in d.request({"cmd": "list"})["queue"]]
        self.assertEqual(len(queue), 3)
        worst, took = [], {}

        def change(req, expect_queue):
            r, t = self.timed(d, req, worst)
            self.assertTrue(r and r["ok"], (req, r))
            took.setdefault(req["cmd"], []).append(t)
            # (skip: the story after it may have started and been saved since)
            self.assertIn([s["id"] for s in self.state(d)["queue"]], expect_queue,
                          "%s answered before the state was saved" % req["cmd"])

        last = queue[-1]
        for i in range(8):   # to the front and back again
            queue.remove(last)
            queue.insert(0 if i % 2 == 0 else len(queue), last)
            change({"cmd": "move", "id": last, "position": queue.index(last)}, [queue])
        gone = queue.pop(1)
        change({"cmd": "remove", "id": gone}, [queue])
        self.assertNotIn(gone, [s["id"] for s in d.request({"cmd": "list"})["queue"]])
        change({"cmd": "skip"}, [queue, queue[1:]])
        on_air = self.state(d).get("on_air")
        self.assertTrue(on_air is None or on_air["id"] != first, "a skipped story saved as on air")
        self.assertNotEqual((d.status().get("on_air") or {}).get("id"), first, "ok before the skip took effect")
        change({"cmd": "clear"}, [[]])
        self.assertIn("slowfsync: delaying", d.stderr(), "the shim was not active")
        for cmd, ts in sorted(took.items()):
            print("%s answered after %s ms" % (cmd, ", ".join("%.0f" % (t * 1000) for t in ts)))
            # the file's fsync and the directory's: never answered before both
            self.assertGreaterEqual(min(ts), 0.55, "%s did not wait for its fsyncs" % cmd)
        print("%d status replies meanwhile, slowest %.1f ms" % (len(worst), max(worst) * 1000))
        self.assertLess(max(worst), 0.4, "a status waited on a change's fsync")
        nt.wait_for(lambda: d.status()["state"] == "idle", 60, "the last story played", d.describe)
        cues = d.cues()
        # the one after the skipped story, if it started before the clear
        self.assertIn(first, {c["story_id"] for c in cues})
        self.assertLessEqual({c["story_id"] for c in cues}, {first, queue[0]})
        lateness = [c["lateness_us"] for c in cues]
        print("lateness over %d cues: p50 %d us, p99 %d us, max %d us"
              % (len(lateness), nt.percentile(lateness, 50), nt.percentile(lateness, 99), max(lateness)))
        # a save on the loop would make a cue up to 600 ms late
        self.assertOnTime(max(lateness), 100000, "cue lateness with queue changes on a slow disk")
        self.assertStops(d)

    def test_unschedule_withdraws_the_hard_start_at_once(self):
        """An unschedule is answered once saved, but the hard start of the
        event's prepared story is withdrawn at once: with each fsync taking
        1 s, a save asked for 1.2 s before the event's time ends after it,
        and the story still never goes on air (nor after the reply)."""
        fx = nt.fixture("weather")
        d = self.daemon(start=False)
        d.start(env=nt.slow_fsync_env(d.state_dir, 1000))
        time.sleep(2.5)   # the startup save is behind us
        t = int(time.time()) + 12
        r = d.request({"cmd": "at", "time": datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%S"),
                       "mode": "hard", "audio": fx["audio"], "transcript": fx["transcript"]}, timeout=30)
        self.assertTrue(r["ok"], r)
        ev = r["event"]
        nt.wait_for(lambda: [e["state"] for e in d.request({"cmd": "schedule"})["events"]] == ["prepared"],
                    8, "the event prepared", d.describe)
        wait = t - 1.2 - time.time()
        if wait < 0:
            self.skipTest("too slow to unschedule before the event's time")
        time.sleep(wait)
        worst = []
        r, took = self.timed(d, {"cmd": "unschedule", "event": ev}, worst)
        self.assertTrue(r["ok"], r)
        print("unschedule answered after %.0f ms, %.1f s after the event's time; slowest status %.1f ms"
              % (took * 1000, time.time() - t, max(worst) * 1000))
        self.assertGreaterEqual(took, 1.8, "unschedule did not wait for its fsyncs")
        self.assertGreater(time.time(), t, "the save ended before the event's time: nothing shown")
        self.assertLess(max(worst), 0.4, "a status waited on the unschedule's fsync")
        self.assertEqual(self.state(d)["schedule"]["events"], [], "ok before the state was saved")
        time.sleep(1)
        self.assertEqual(d.request({"cmd": "schedule"})["events"], [])
        self.assertIsNone(d.status().get("on_air"))
        self.assertNotIn("On air:", d.stderr(), "the unscheduled story went on air")
        self.assertStops(d)

    def test_cues_on_time_with_slow_fsync(self):
        a, b = nt.fixture("pier"), nt.fixture("library")
        d = self.daemon(start=False, startup=[a, b])
        d.start(env=nt.slow_fsync_env(d.state_dir, 300))
        nt.wait_for(lambda: d.status()["state"] == "idle" and len({c["story_id"] for c in d.cues()}) == 2,
                    120, "both stories played", d.describe)
        self.assertIn("slowfsync: delaying", d.stderr(), "the shim was not active")
        cues = d.cues()
        lateness = [c["lateness_us"] for c in cues]
        print("slow fsync: lateness over %d cues: p50 %d us, p99 %d us, max %d us"
              % (len(lateness), nt.percentile(lateness, 50), nt.percentile(lateness, 99), max(lateness)))
        # an fsync on the loop would make cues 300 ms late; below 100 ms is
        # "not waiting on the disk" with room for a loaded CI machine
        # (bench/abuse measures the p99 against the quiet baseline)
        self.assertOnTime(max(lateness), 100000, "cue lateness with a slow disk")
        for sid in sorted({c["story_id"] for c in cues}):
            idx = [c["cue_index"] for c in cues if c["story_id"] == sid]
            self.assertEqual(idx, list(range(len(idx))), "cues of #%d dropped or repeated" % sid)
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
