#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The jsonl sink for logrotate: every record carries the wall-clock time
beside the monotonic one (cues: due_wall_us / heard_at, events: wall_us /
time), a story gives an on_air and an off_air record around its cues, and
after the file is moved away `nextupctl reopen` (and SIGHUP) make the
daemon write to a new file at the old path, mid-story, with nothing lost
or written twice. A reopen that cannot create the file is an error reply
naming the sink, and the old file goes on. The shipped logrotate snippet,
run by the real logrotate, rotates the file mid-story."""
import os
import shutil
import signal
import subprocess
import time
import unittest

import nextuptest as nt


def records(path):
    import json
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f.read().split("\n")[:-1] if l.strip()]


LOGROTATE = shutil.which("logrotate") or ("/usr/sbin/logrotate" if os.path.exists("/usr/sbin/logrotate") else None)


class JsonlReopen(nt.NextupTestCase):
    def test_wall_clock_and_air_records(self):
        a = nt.fixture("weather")
        d = self.daemon()
        t0 = time.time()
        ia = d.add(a)["id"]
        d.wait_on_air(ia, 10)
        nt.wait_for(lambda: any(e["event"] == "off_air" for e in d.jsonl_events()), 30, "off_air", d.describe)
        t1 = time.time()
        recs = [r for r in records(d.jsonl) if r.get("story_id") == ia and r.get("event") != "next_up"]
        kinds = [r.get("event", "cue") for r in recs]
        self.assertEqual(kinds[0], "on_air", kinds)
        self.assertEqual(kinds[-1], "off_air", kinds)
        self.assertGreater(kinds.count("cue"), 1, kinds)
        for r in recs:
            wall = r["due_wall_us"] if "cue_index" in r else r["wall_us"]
            stamp = r["heard_at"] if "cue_index" in r else r["time"]
            self.assertGreaterEqual(wall / 1e6, t0 - 1)
            self.assertLessEqual(wall / 1e6, t1 + 1)
            # the string is the same instant in UTC
            parsed = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            self.assertAlmostEqual(parsed + int(stamp[20:23]) / 1000, wall / 1e6, delta=0.0015)
            self.assertTrue(stamp.endswith("Z"), stamp)
        on, off = recs[0], recs[-1]
        cues = [r for r in recs if "cue_index" in r]
        # wall and mono agree on intervals (same offset, within 2 ms of drift)
        for c in cues:
            self.assertAlmostEqual(c["due_wall_us"] - on["wall_us"], c["due_mono_us"] - on["mono_us"], delta=2000)
        self.assertLessEqual(on["mono_us"], cues[0]["emitted_mono_us"])
        self.assertGreaterEqual(off["mono_us"], cues[-1]["emitted_mono_us"])

    def test_reopen(self):
        a = nt.fixture("market")            # the longest: rotations happen mid-story
        d = self.daemon()
        ia = d.add(a)["id"]
        d.wait_on_air(ia, 10)
        nt.wait_for(lambda: len(d.cues()) >= 1, 10, "a first cue", d.describe)
        rotated1 = d.jsonl + ".1"
        os.rename(d.jsonl, rotated1)
        r = d.ctl("reopen")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(d.jsonl))
        nt.wait_for(lambda: len(d.cues()) >= 1, 20, "a cue in the new file", d.describe)
        rotated2 = d.jsonl + ".2"
        os.rename(d.jsonl, rotated2)
        d.signal(signal.SIGHUP)
        nt.wait_for(lambda: any(e["event"] == "off_air" for e in d.jsonl_events()), 40, "off_air", d.describe)
        all_recs = records(rotated1) + records(rotated2) + records(d.jsonl)
        idx = [r["cue_index"] for r in all_recs if "cue_index" in r and r["story_id"] == ia]
        self.assertEqual(idx, list(range(len(idx))), "each cue once, in order, across three files")
        self.assertGreater(len(records(rotated2)), 0)
        self.assertIn("Caption files reopened", d.stderr())

        # A path that cannot be created: error reply, the old file goes on.
        os.rename(d.jsonl, d.jsonl + ".3")
        os.mkdir(d.jsonl)
        r = d.ctl("reopen")
        self.assertEqual(r.returncode, 1)
        self.assertIn("could not reopen", r.stderr)
        self.assertIn("jsonl:'%s': cannot reopen" % d.jsonl, d.stderr())
        ib = d.add(nt.fixture("weather"))["id"]
        d.wait_on_air(ib, 10)
        nt.wait_for(lambda: any(x.get("story_id") == ib for x in records(d.jsonl + ".3")), 20,
                    "records in the old file", d.describe)
        os.rmdir(d.jsonl)


    @unittest.skipUnless(LOGROTATE, "logrotate is not installed (scripts/install-deps installs it)")
    def test_logrotate_snippet(self):
        """The shipped config/logrotate.d/nextup, pointed at this daemon's
        file and socket, rotates it mid-story: the daemon goes on in a new
        file, the rotated one is complete, nothing is lost."""
        a = nt.fixture("market")
        d = self.daemon()
        with open(os.path.join(nt.SOURCE_DIR, "config", "logrotate.d", "nextup")) as f:
            snippet = f.read()
        self.assertIn("/var/lib/nextup/captions.jsonl {", snippet)
        snippet = (snippet.replace("/var/lib/nextup/captions.jsonl", d.jsonl)
                   .replace("/usr/bin/nextupctl", nt.binary("nextupctl"))
                   .replace("/run/nextup/control.sock", d.socket))
        conf = os.path.join(d.tmp, "logrotate.conf")
        with open(conf, "w") as f:
            f.write(snippet)
        ia = d.add(a)["id"]
        d.wait_on_air(ia, 10)
        nt.wait_for(lambda: len(d.cues()) >= 2, 10, "two cues", d.describe)
        r = subprocess.run([LOGROTATE, "-f", "-s", os.path.join(d.tmp, "logrotate.state"), conf],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(d.jsonl + ".1"), os.listdir(d.tmp))   # delaycompress: .1 plain
        nt.wait_for(lambda: any(e["event"] == "off_air" for e in d.jsonl_events()), 40, "off_air", d.describe)
        idx = [x["cue_index"] for x in records(d.jsonl + ".1") + records(d.jsonl)
               if "cue_index" in x and x["story_id"] == ia]
        self.assertEqual(idx, list(range(len(idx))))
        self.assertGreater(len(records(d.jsonl)), 0, "the daemon writes the new file")


if __name__ == "__main__":
    nt.main()
