#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A slow disk under the state directory does not make captions late
(issue 8 item 2): with every fsync there delayed by 300 ms (an LD_PRELOAD
shim), two stories play back to back and every cue is emitted once, in
order, within the on-air test's tolerance. Before, the loop thread fsync'd
the whole state every second (the position checkpoint) and at every story
start and end, so cues came up to 600 ms late. And an `add` waits on its
own save without the loop waiting with it."""
import json
import os
import threading
import time

import nextuptest as nt

SHIM = os.path.join(nt.BUILD_DIR, "slowfsync.so")


class SlowDisk(nt.NextupTestCase):
    def start_slow(self, d, ms):
        env = {"LD_PRELOAD": SHIM, "SLOWFSYNC_DIR": os.path.realpath(d.state_dir), "SLOWFSYNC_MS": str(ms),
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            d.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def test_add_waits_on_the_disk_not_the_loop(self):
        """An `add` is answered once its state is on disk (two fsyncs of
        500 ms: the file and its directory); meanwhile another client's
        `status` is answered at once and the story on air keeps its cues
        on time. Before, the loop thread made that save itself: every
        client and every cue waited a second."""
        a, b = nt.fixture("market"), nt.fixture("pier")
        d = self.daemon(start=False, startup=[a])
        self.start_slow(d, 500)
        d.wait_on_air(1, 20)
        nt.wait_for(lambda: d.cues(), 10, "the first cue", d.describe)
        time.sleep(1.5)   # the startup saves are behind us
        stop, worst = threading.Event(), []

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
            r = d.request({"cmd": "add", "audio": b["audio"], "transcript": b["transcript"]}, timeout=30)
            t_add = time.monotonic() - t
        finally:
            stop.set()
            poller.join()
        self.assertTrue(r and r["ok"], r)
        with open(os.path.join(d.state_dir, "state.json"), encoding="utf-8") as f:
            self.assertIn(r["id"], [s["id"] for s in json.load(f)["queue"]], "ok before the state was saved")
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
        self.assertLess(max(lateness), 100000, "cue lateness with a slow disk")
        self.assertStops(d)

    def test_cues_on_time_with_slow_fsync(self):
        a, b = nt.fixture("pier"), nt.fixture("library")
        d = self.daemon(start=False, startup=[a, b])
        env = {"LD_PRELOAD": SHIM, "SLOWFSYNC_DIR": os.path.realpath(d.state_dir), "SLOWFSYNC_MS": "300",
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            d.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
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
