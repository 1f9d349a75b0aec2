#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Clock events with the real daemon (paced null output): a hard event cuts
the story on air and its first frame is handed to the device at its time
(20 events, 1 s apart: the hard-start error figure, from on_air_mono_us vs
the event time converted to CLOCK_MONOTONIC); a soft event becomes Next Up
at its time and waits for the end of the story on air; wait-N takes both
branches; a time in the past is refused; two hard events in the same second
play in schedule order (the second follows as next up); an unscheduled
hard event is withdrawn from the playout thread and the next one takes its
place; wait-N's soft branch starts hard when still not on air N s late;
one-off events survive kill -9; the config's recurring events are listed
and fire.
A clock step cannot be made safely here: the cancel-on-set path is
unit-tested (test-schedule)."""
import datetime
import json
import os
import signal
import statistics
import time
import unittest

import nextuptest as nt

HARD_ERROR_MS = 5.0          # "on the exact frame": paced output, 20 ms buffers


def at_string(t, dated=True):
    """Local time string of epoch second T for `at`."""
    d = datetime.datetime.fromtimestamp(t)
    return d.strftime("%Y-%m-%dT%H:%M:%S" if dated else "%H:%M:%S")


def mono_offset_ns():
    """CLOCK_MONOTONIC - CLOCK_REALTIME, read back to back (best of 5)."""
    best = None
    for _ in range(5):
        a = time.time_ns()
        m = time.monotonic_ns()
        b = time.time_ns()
        if best is None or b - a < best[0]:
            best = (b - a, m - (a + b) // 2)
    return best[1]


class Schedule(nt.NextupTestCase):
    def start(self, extra=""):
        d = self.daemon(start=False)
        d.write_config(text=d.config_text(**d.opts) + extra)
        d.start()
        d.wait_ready()
        return d

    def at(self, d, t, mode, fx, wait_s=None, dated=True):
        req = {"cmd": "at", "time": at_string(t, dated), "mode": mode,
               "audio": fx["audio"], "transcript": fx["transcript"]}
        if wait_s is not None:
            req["wait_s"] = wait_s
        r = d.request(req)
        self.assertTrue(r and r.get("ok"), "at failed: %r\n%s" % (r, d.describe()))
        self.assertEqual(r["at_ms"], int(t) * 1000)
        return r

    def asrun(self, d):
        r = d.request({"cmd": "asrun"})
        self.assertTrue(r["ok"], r)
        return r["records"]

    def play_and_wait_duration(self, d, fx):
        sid = d.add(fx)["id"]
        nt.wait_for(lambda: (lambda s: s if s.get("on_air") and s["on_air"]["id"] == sid
                             and s["on_air"]["duration_ms"] >= 0 else None)(d.status()),
                    10, "story %d on air with its length" % sid, d.describe)
        return sid

    def next_second(self, ahead):
        return int(time.time()) + ahead

    # ------------------------------------------------------------------ hard
    def test_hard_events_start_on_time(self):
        d = self.start()
        long_fx, short_fx = nt.fixture("market"), nt.fixture("pier")
        self.play_and_wait_duration(d, long_fx)
        n = 20
        # Each `at` is answered once its story has been decoded whole (the
        # queue-time checks): some 0.1 s each, more under ASan. The long
        # story (21 s) is still on air at t0.
        t0 = self.next_second(10)
        events = [self.at(d, t0 + i, "hard", short_fx) for i in range(n)]
        self.assertLess(time.time(), t0, "the `at` requests took longer than their lead")
        offset = mono_offset_ns()
        # Poll the story on air until the last event has had its turn.
        seen = {}
        deadline = time.time() + (t0 + n - time.time()) + 3
        while time.time() < deadline:
            s = d.status()
            if s.get("on_air") and s.get("on_air_mono_us", -1) > 0:
                seen.setdefault(s["on_air"]["id"], s["on_air_mono_us"])
            time.sleep(0.05)
        recs = {r["id"]: r for r in self.asrun(d)}
        errors = []
        for ev in recs.values():
            if ev.get("scheduled_ms"):
                target_us = (ev["scheduled_ms"] * 1000000 + offset) / 1000
                self.assertIn(ev["id"], seen, "scheduled story #%d never seen on air\n%s" % (ev["id"], d.describe()))
                errors.append((seen[ev["id"]] - target_us) / 1000.0)
        self.assertEqual(len(errors), n - 1, "every event but the last has left the air:\n%s" % d.describe())
        on_air_last = d.status()["on_air"]
        self.assertIsNotNone(on_air_last)
        target_us = ((t0 + n - 1) * 1000000000 + offset) / 1000
        errors.append((d.status()["on_air_mono_us"] - target_us) / 1000.0)
        print("\nhard-start error over %d events (ms): mean %+.3f, max |err| %.3f, all: %s"
              % (len(errors), statistics.mean(errors), max(abs(e) for e in errors),
                 " ".join("%+.2f" % e for e in errors)))
        for e in errors:
            self.assertLess(abs(e), HARD_ERROR_MS, "hard start error %.3f ms\n%s" % (e, d.describe()))
        # Each event cut the one before (and the first cut the long story).
        cut = [r for r in recs.values() if r["reason"] == "cut"]
        self.assertEqual(len(cut), n, [(r["id"], r["reason"]) for r in recs.values()])
        self.assertEqual(sorted(r["scheduled_ms"] for r in recs.values() if r.get("scheduled_ms")),
                         [(t0 + i) * 1000 for i in range(n - 1)])
        self.assertTrue(all(r["kind"] == "scheduled" for r in recs.values() if r.get("scheduled_ms")))
        self.assertStops(d)

    def test_same_second_hard_events(self):
        d = self.start()
        self.play_and_wait_duration(d, nt.fixture("market"))
        t = self.next_second(3)
        first = self.at(d, t, "hard", nt.fixture("weather"))
        second = self.at(d, t, "hard", nt.fixture("library"))
        self.assertLess(first["event"], second["event"])
        # The first in schedule order plays at T; the other is next up.
        s = nt.wait_for(lambda: (lambda s: s if s.get("on_air") and s["on_air"]["title"] == nt.fixture("weather")["title"]
                                 else None)(d.status()), t - time.time() + 3, "first event on air", d.describe)
        self.assertIsNotNone(s["next"], d.describe())
        self.assertEqual(s["next"]["title"], nt.fixture("library")["title"])
        self.assertIn("follows it as next up", d.stderr())
        self.assertStops(d)

    def test_unscheduled_hard_start_is_withdrawn(self):
        """The playout thread holds the first hard start; unscheduling it
        withdraws it (nothing is cut at its time) and the next hard event
        is handed in its place and starts at its own time."""
        d = self.start()
        market, weather, library = nt.fixture("market"), nt.fixture("weather"), nt.fixture("library")
        first = self.play_and_wait_duration(d, market)        # 21 s
        t = self.next_second(4)
        withdrawn = self.at(d, t, "hard", weather)
        self.at(d, t + 3, "hard", library)
        self.assertLess(time.time(), t - 1, "the `at` requests took longer than their lead")
        r = d.request({"cmd": "unschedule", "event": withdrawn["event"]})
        self.assertTrue(r.get("ok"), r)
        time.sleep(max(0, t - time.time()) + 0.8)
        s = d.status()
        self.assertEqual(s["on_air"]["id"], first, "a withdrawn hard start cut the air:\n%s" % d.describe())
        s = nt.wait_for(lambda: (lambda s: s if s.get("on_air") and s["on_air"]["title"] == library["title"]
                                 else None)(d.status()), t + 3 - time.time() + 3, "the next hard event on air",
                        d.describe)
        self.assertLess(time.time(), t + 4.5, "the next hard event started at its time")
        recs = self.asrun(d)
        self.assertEqual((recs[0]["id"], recs[0]["reason"]), (first, "cut"), d.describe())
        self.assertNotIn(weather["title"], [r["title"] for r in recs])
        self.assertStops(d)

    # ------------------------------------------------------------------ soft
    def test_soft_event_waits_for_the_end(self):
        d = self.start()
        weather, library = nt.fixture("weather"), nt.fixture("library")
        first = self.play_and_wait_duration(d, weather)
        t = self.next_second(2)
        self.at(d, t, "soft", library, dated=False)
        time.sleep(max(0, t - time.time()) + 0.3)
        s = d.status()
        self.assertEqual(s["on_air"]["id"], first, "a soft event does not cut:\n%s" % d.describe())
        self.assertEqual(s["next"]["title"], library["title"])
        nt.wait_for(lambda: (lambda s: s if s.get("on_air") and s["on_air"]["title"] == library["title"]
                             else None)(d.status()), 12, "soft event on air", d.describe)
        recs = self.asrun(d)
        self.assertEqual(recs[0]["id"], first)
        self.assertEqual(recs[0]["reason"], "complete")
        self.assertStops(d)

    def test_wait_soft_branch(self):
        d = self.start()
        weather, library = nt.fixture("weather"), nt.fixture("library")
        first = self.play_and_wait_duration(d, weather)      # 6 s: ends well within 30 s
        t = self.next_second(2)
        self.at(d, t, "wait", library, wait_s=30)
        nt.wait_for(lambda: (lambda s: s if s.get("on_air") and s["on_air"]["title"] == library["title"]
                             else None)(d.status()), 12, "event on air", d.describe)
        recs = self.asrun(d)
        self.assertEqual((recs[0]["id"], recs[0]["reason"]), (first, "complete"), d.describe())
        self.assertStops(d)

    def test_wait_hard_branch(self):
        d = self.start()
        market, weather = nt.fixture("market"), nt.fixture("weather")
        first = self.play_and_wait_duration(d, market)       # 21 s: ends far more than 2 s late
        t = self.next_second(3)
        self.at(d, t, "wait", weather, wait_s=2)
        sched = d.request({"cmd": "schedule"})["events"]
        self.assertEqual(sched[0]["decided"], "hard", sched)
        nt.wait_for(lambda: (lambda s: s if s.get("on_air") and s["on_air"]["title"] == weather["title"]
                             else None)(d.status()), t - time.time() + 3, "event on air", d.describe)
        self.assertLess(time.time(), t + 1.5, "cut at its time, not at the end of the story")
        recs = self.asrun(d)
        self.assertEqual((recs[0]["id"], recs[0]["reason"]), (first, "cut"), d.describe())
        self.assertStops(d)

    def test_wait_soft_branch_falls_back_to_hard(self):
        """Decided soft (nothing on air when prepared), but a long story went
        on air since: still not on air N s after its time, it starts hard."""
        d = self.start()
        market, weather = nt.fixture("market"), nt.fixture("weather")
        t = self.next_second(4)
        self.at(d, t, "wait", weather, wait_s=2)
        sched = d.request({"cmd": "schedule"})["events"]
        self.assertEqual(sched[0]["decided"], "soft", sched)
        first = self.play_and_wait_duration(d, market)        # 21 s: still on air at T + 2
        self.assertLess(time.time(), t, "market went on air after the event's time")
        nt.wait_for(lambda: (lambda s: s if s.get("next") and s["next"]["title"] == weather["title"]
                             else None)(d.status()), t - time.time() + 2, "the event next up", d.describe)
        s = nt.wait_for(lambda: (lambda s: s if s.get("on_air") and s["on_air"]["title"] == weather["title"]
                                 else None)(d.status()), t + 2 - time.time() + 3, "the event on air", d.describe)
        self.assertGreater(time.time(), t + 2, "started hard only after its wait")
        self.assertIn("still not on air, starting it hard", d.stderr())
        recs = self.asrun(d)
        self.assertEqual((recs[0]["id"], recs[0]["reason"]), (first, "cut"), d.describe())
        self.assertStops(d)

    # ------------------------------------------------------------- refusals
    def test_past_and_bad_times_are_refused(self):
        d = self.start()
        fx = nt.fixture("weather")
        now = time.time()
        r = d.ctl("at", at_string(now - 3600), "--hard", fx["audio"], fx["transcript"])
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("is in the past", r.stderr)
        if datetime.datetime.fromtimestamp(now).hour >= 1:
            r = d.ctl("at", at_string(now - 3600, dated=False), fx["audio"], fx["transcript"])
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("has passed today; give a date", r.stderr)
        for bad in ("25:00", "9:00", "tomorrow", "2026-02-30T10:00"):
            r = d.ctl("at", bad, fx["audio"], fx["transcript"])
            self.assertEqual(r.returncode, 1, (bad, r))
        r = d.ctl("at", at_string(now + 60), "--wait", "x", fx["audio"], fx["transcript"])
        self.assertEqual(r.returncode, 2, r)
        r = d.request({"cmd": "at", "time": at_string(now + 60), "mode": "hard", "audio": "/nonexistent.mp3",
                       "transcript": fx["transcript"]})
        self.assertFalse(r["ok"])
        self.assertIn("/nonexistent.mp3", r["error"])
        self.assertEqual(d.request({"cmd": "schedule"})["events"], [])
        self.assertStops(d)

    # ---------------------------------------------------- list and persist
    def test_one_off_events_survive_kill_9(self):
        d = self.start()
        fx = nt.fixture("weather")
        t = self.next_second(3600)
        r = d.ctl("at", at_string(t), "--wait", "45", "--name", "evening", fx["audio"], fx["transcript"])
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("Scheduled event #1 'evening' (wait)", r.stdout)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.notify.close()
        os.unlink(d.notify.path)
        d.out_f.close()
        d.err_f.close()
        d.start()
        d.wait_ready()
        events = d.request({"cmd": "schedule"})["events"]
        self.assertEqual([(e["event"], e["name"], e["at_ms"], e["mode"], e["wait_s"], e["audio"]) for e in events],
                         [(1, "evening", t * 1000, "wait", 45, fx["audio"])])
        r = d.ctl("schedule")
        self.assertIn("evening", r.stdout)
        self.assertIn("wait 45s", r.stdout)
        self.assertEqual(d.ctl("unschedule", "1").returncode, 0)
        r = d.ctl("unschedule", "1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no event #1", r.stderr)
        # A new event gets a new id, never 1 again.
        r = d.request({"cmd": "at", "time": at_string(t), "audio": fx["audio"], "transcript": fx["transcript"]})
        self.assertEqual(r["event"], 2)
        self.assertStops(d)

    def test_recurring_config_event(self):
        d = self.daemon(start=False)
        fx = nt.fixture("weather")
        t = self.next_second(6)
        hms = datetime.datetime.fromtimestamp(t).strftime("%H:%M:%S")
        extra = ('schedule = ( { name = "news"; time = "%s"; mode = "soft"; audio = %s; transcript = %s; } );\n'
                 % (hms, nt.conf_str(fx["audio"]), nt.conf_str(fx["transcript"])))
        d.write_config(text=d.config_text(**d.opts) + extra)
        d.start()
        d.wait_ready()
        events = d.request({"cmd": "schedule"})["events"]
        if t - time.time() < 1:
            self.skipTest("the daemon took too long to start")
        self.assertEqual(len(events), 1, events)
        self.assertEqual((events[0]["name"], events[0]["at_ms"], events[0]["recurring"], events[0]["days"]),
                         ("news", t * 1000, True, "daily"))
        r = d.ctl("unschedule", str(events[0]["event"]))
        self.assertEqual(r.returncode, 1)
        self.assertIn("config", r.stderr)
        s = nt.wait_for(lambda: (lambda s: s if s.get("on_air") else None)(d.status()),
                        t - time.time() + 3, "the news on air", d.describe)
        self.assertEqual(s["on_air"]["title"], fx["title"])
        events = d.request({"cmd": "schedule"})["events"]
        self.assertGreater(events[0]["at_ms"], t * 1000 + 82800000)    # tomorrow (23-25 h with DST)
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
