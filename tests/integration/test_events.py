#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Next Up events: a raw-socket subscriber and `nextupctl subscribe` see
next_up on add, move and remove, queue_changed, on_air and off_air with
the reason, and a decode_error alert for an unplayable file; the jsonl
sink gets {"event":"next_up"} lines (cue readers skip them) and the
terminal sink "--- Next up:" lines, in the same order; a connection that
did not subscribe gets nothing but its replies."""
import json
import os
import shutil
import socket
import subprocess
import threading

import nextuptest as nt


def next_up_ids(events):
    return [e["story"]["id"] if e["story"] else None for e in events]


class Events(nt.NextupTestCase):
    def test_events(self):
        a, b, c = nt.fixture("pier"), nt.fixture("library"), nt.fixture("weather")
        d = self.daemon(terminal=True)
        sub = nt.Subscriber(d.socket)
        nt.wait_for(sub.first, 5, "subscribe reply", d.describe)
        self.assertEqual(sub.first(), {"ok": True})
        ctl = subprocess.Popen([nt.binary("nextupctl"), "-s", d.socket, "subscribe"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ctl_json = subprocess.Popen([nt.binary("nextupctl"), "-s", d.socket, "events", "--json"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for p in (ctl, ctl_json):   # subscribed once they say so
                self.assertIn("Listening for events", p.stderr.readline())
            self.run_events(d, sub, a, b, c)
        finally:
            ctl.terminate()
            ctl_json.terminate()
            out, err = ctl.communicate(5)
            out_json, _ = ctl_json.communicate(5)
            sub.close()
        self.check_nextupctl(out, out_json, a, b)

    def run_events(self, d, sub, a, b, c):
        ia = d.add(a)["id"]
        d.wait_on_air(ia, 10)
        ib = d.add(b)["id"]
        ic = d.add(c)["id"]
        self.assertTrue(d.request({"cmd": "move", "id": ic, "position": 0})["ok"])
        self.assertTrue(d.request({"cmd": "remove", "id": ic})["ok"])
        bad = self.garbage(c)
        r = d.request({"cmd": "add", "audio": bad["audio"], "transcript": bad["transcript"]})
        self.assertTrue(r["ok"], r)
        ibad = r["id"]
        self.spoil(bad)
        self.assertTrue(d.request({"cmd": "skip"})["ok"])
        d.wait_on_air(ib, 10)
        self.assertTrue(d.request({"cmd": "skip"})["ok"])
        nt.wait_for(lambda: len(sub.events("off_air")) >= 3 and d.status()["state"] == "idle", 20,
                    "the air to go idle", d.describe)

        # add a (on air at once), add b, add c, move c first, remove c, add
        # the bad one (after b), skip a (b on air), the bad one fails.
        expect = [ia, None, ib, ic, ib, ibad, None]
        self.assertEqual(next_up_ids(sub.events("next_up")), expect, sub.events("next_up"))
        self.assertGreaterEqual(len(sub.events("queue_changed")), 6)
        on_air = [e["story"]["id"] for e in sub.events("on_air")]
        self.assertEqual(on_air, [ia, ib])
        off = [(e["story"]["id"], e["reason"]) for e in sub.events("off_air")]
        self.assertIn((ia, "skipped"), off)
        self.assertIn((ib, "skipped"), off)
        self.assertIn((ibad, "decode_error"), off)
        alerts = sub.events("alert")
        self.assertTrue(any(al["what"] == "decode_error" and ("#%d" % ibad) in al["message"] for al in alerts), alerts)
        for e in sub.events():
            self.assertIsInstance(e["time_ms"], int)
        for e in sub.events("on_air"):
            self.assertEqual(e["story"]["title"], a["title"] if e["story"]["id"] == ia else b["title"])

        # The caption sinks learnt the same next-up changes.
        jl = [e for e in d.jsonl_events() if e["event"] == "next_up"]
        self.assertEqual([e["story_id"] for e in jl], expect)
        titles = {ia: a["title"], ib: b["title"], ic: c["title"], ibad: c["title"], None: None}
        self.assertEqual([e["title"] for e in jl], [titles[i] for i in expect])
        for e in jl:
            self.assertIsInstance(e["mono_us"], int)
        self.assertTrue(all("cue_index" in x for x in d.cues()))
        term = [l[len("--- Next up: "):] for l in d.stdout().splitlines() if l.startswith("--- Next up: ")]
        self.assertEqual(term, [titles[i] or "nothing" for i in expect])

        # A plain request connection hears no events: its one line is the reply.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(d.socket)
            s.sendall(json.dumps({"cmd": "add", "audio": a["audio"], "transcript": a["transcript"]}).encode() + b"\n")
            buf = b""
            while buf.count(b"\n") < 1:
                buf += s.recv(65536)
            s.settimeout(0.5)
            try:
                buf += s.recv(65536)
            except socket.timeout:
                pass
        lines = buf.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(json.loads(lines[0])["ok"])

    def garbage(self, fx):
        dd = os.path.join(self.tmp, "garbage")
        os.makedirs(dd, exist_ok=True)
        audio = os.path.join(dd, "garbage.mp3")
        shutil.copy(fx["audio"], audio)
        shutil.copy(fx["transcript"], os.path.join(dd, "transcript.txt"))
        return {"audio": audio, "transcript": os.path.join(dd, "transcript.txt")}

    def spoil(self, story):
        """`add` decodes a story whole and refuses garbage: the file is
        spoilt after it was queued, as a file changed on disk would be."""
        with open(story["audio"] + ".new", "wb") as f:
            f.write(b"This is not an MP3 file at all.\n" * 3000)
        os.replace(story["audio"] + ".new", story["audio"])

    def check_nextupctl(self, out, out_json, a, b):
        self.assertIn("Next up: #1 %s" % a["title"], out)
        self.assertIn("On air: #1 %s" % a["title"], out)
        self.assertIn("Next up: nothing", out)
        self.assertRegex(out, r"Off air: #1 %s \(skipped, \d\d:\d\d played\)" % a["title"])
        self.assertIn("ALERT decode_error", out)
        evs = [json.loads(l) for l in out_json.splitlines() if l.strip()]
        self.assertTrue(evs)
        self.assertTrue(all("event" in e for e in evs), evs[:3])
        self.assertIn("on_air", {e["event"] for e in evs})


if __name__ == "__main__":
    nt.main()
