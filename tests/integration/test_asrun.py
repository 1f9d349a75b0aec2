#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""As-run log: three stories, the second skipped mid-way, and a fourth cut
by the daemon's shutdown.  The log has one record per item with the right
end reasons, durations that match the audio, wall-clock times that join up
(gapless) and cue counts that match the jsonl sink; `nextupctl asrun`
returns them as JSON, a table and RFC 4180 CSV (parsed with Python's csv
module), and --since/--until filter by start time."""
import csv
import io
import json
import os
import pwd
import time

import nextuptest as nt


class AsRun(nt.NextupTestCase):
    def test_asrun(self):
        fxs = [nt.fixture("pier"), nt.fixture("library"), nt.fixture("weather")]
        d = self.daemon()
        t0 = time.time() * 1000
        ids = [d.add(fx)["id"] for fx in fxs]
        d.wait_on_air(ids[1], 30)
        nt.wait_for(lambda: d.cues_of(ids[1]), 10, "a cue of the second story", d.describe)
        r = d.ctl("skip")
        self.assertEqual(r.returncode, 0, r.stderr)
        nt.wait_for(lambda: d.status()["state"] == "idle" and d.cues_of(ids[2]), 40, "all aired", d.describe)
        t1 = time.time() * 1000

        r = d.ctl("asrun", json_out=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = json.loads(r.stdout)["records"]
        self.assertEqual([x["id"] for x in recs], ids, recs)
        self.assertEqual([x["reason"] for x in recs], ["complete", "skipped", "complete"])
        # Who queued each (our own requests: SO_PEERCRED says this process)
        # and who skipped the second (nextupctl, another process).
        me = {"uid": os.getuid(), "pid": os.getpid(), "user": pwd.getpwuid(os.getuid()).pw_name}
        self.assertEqual([x["queued_by"] for x in recs], [me] * 3)
        self.assertEqual([x["ended_by"] for x in recs][0::2], [None, None])
        by = recs[1]["ended_by"]
        self.assertEqual((by["uid"], by["user"]), (me["uid"], me["user"]))
        self.assertNotIn(by["pid"], (0, os.getpid()))
        for rec, fx in zip(recs, fxs):
            with self.subTest(story=fx["title"]):
                self.check_record(d, rec, fx, t0, t1)
        full = [fx["truth"]["duration_ms"] for fx in fxs]
        self.assertLessEqual(abs(recs[0]["played_ms"] - full[0]), 30)
        self.assertLessEqual(abs(recs[2]["played_ms"] - full[2]), 30)
        self.assertLess(recs[1]["played_ms"], full[1] - 500, "skipped story played whole")
        self.assertGreater(recs[1]["played_ms"], 0)
        for a, b in zip(recs, recs[1:]):
            self.assertLessEqual(abs(b["start_ms"] - a["end_ms"]), 50, "items do not join: %r %r" % (a, b))

        self.check_csv(d, recs)
        self.check_filters(d, recs)
        r = d.ctl("asrun")
        self.assertEqual(r.returncode, 0, r.stderr)
        for fx in fxs:
            self.assertIn(fx["title"], r.stdout)
        self.assertIn("skipped", r.stdout)

        # Shutdown while a story is on air: its record says so.
        sid = d.add(fxs[0])["id"]
        d.wait_on_air(sid, 10)
        nt.wait_for(lambda: d.cues_of(sid), 10, "a cue of the last story", d.describe)
        self.assertStops(d)
        with open(os.path.join(d.state_dir, "asrun.jsonl"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        last = json.loads(lines[-1])
        self.assertEqual(len(lines), 4)
        self.assertEqual(last["id"], sid)
        self.assertEqual(last["reason"], "shutdown")
        self.assertGreater(last["played_ms"], 0)
        self.assertLess(last["played_ms"], fxs[0]["truth"]["duration_ms"])
        self.assertGreaterEqual(last["cues_emitted"], 1)

    def check_record(self, d, rec, fx, t0, t1):
        self.assertEqual(rec["title"], fx["title"])
        self.assertEqual(rec["audio"], fx["audio"])
        self.assertEqual(rec["transcript"], fx["transcript"])
        self.assertEqual(rec["kind"], "story")
        self.assertIsNone(rec["scheduled_ms"])
        self.assertLessEqual(abs(rec["planned_ms"] - fx["truth"]["duration_ms"]), 30)
        self.assertTrue(t0 <= rec["start_ms"] <= rec["end_ms"] <= t1 + 1000, (t0, rec, t1))
        self.assertLessEqual(abs(rec["end_ms"] - rec["start_ms"] - rec["played_ms"]), 100, rec)
        self.assertIn(rec["timing"], ("estimate", "aligned"))
        emitted = len(d.cues_of(rec["id"]))
        self.assertEqual(rec["cues_emitted"], emitted)
        self.assertGreater(emitted, 0)
        if rec["reason"] == "complete":
            self.assertEqual(rec["cues_dropped"], 0)
        else:
            self.assertGreater(rec["cues_dropped"], 0, "a skipped story leaves cues unsaid")

    def check_csv(self, d, recs):
        r = d.ctl("asrun", "--csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.DictReader(io.StringIO(r.stdout, newline="")))
        self.assertEqual(len(rows), len(recs))
        for row, rec in zip(rows, recs):
            self.assertEqual(int(row["id"]), rec["id"])
            self.assertEqual(row["title"], rec["title"])
            self.assertEqual(row["reason"], rec["reason"])
            self.assertEqual(int(row["start_ms"]), rec["start_ms"])
            self.assertEqual(int(row["played_ms"]), rec["played_ms"])
            self.assertEqual(row["scheduled_ms"], "")
            self.assertEqual(row["audio"], rec["audio"])
            self.assertRegex(row["start"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")

    def asrun_ids(self, d, *args):
        r = d.ctl("asrun", *args, json_out=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [x["id"] for x in json.loads(r.stdout)["records"]]

    def check_filters(self, d, recs):
        ids = [x["id"] for x in recs]
        self.assertEqual(self.asrun_ids(d, "--since", str(recs[1]["start_ms"])), ids[1:])
        self.assertEqual(self.asrun_ids(d, "--since", str(recs[1]["start_ms"] + 1)), ids[2:])
        self.assertEqual(self.asrun_ids(d, "--until", str(recs[1]["start_ms"])), ids[:1])
        self.assertEqual(self.asrun_ids(d, "--since", "-1h"), ids)
        self.assertEqual(self.asrun_ids(d, "--since", "-1m", "--until", "-0s"), ids)
        self.assertEqual(self.asrun_ids(d, "--since", time.strftime("%Y-%m-%d")), ids)
        future = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() + 3600))
        self.assertEqual(self.asrun_ids(d, "--since", future), [])
        # Whole seconds: the second before story 2 began (story 1 began > 5 s earlier).
        utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(recs[1]["start_ms"] // 1000))
        self.assertEqual(self.asrun_ids(d, "--since", utc), ids[1:])
        local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(recs[1]["start_ms"] // 1000))
        self.assertEqual(self.asrun_ids(d, "--since", local), ids[1:])
        r = d.ctl("asrun", "--since", "yesterday-ish")
        self.assertEqual(r.returncode, 2)
        self.assertIn("invalid time", r.stderr)


if __name__ == "__main__":
    nt.main()
