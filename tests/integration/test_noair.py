#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""No dead air.  Filler plays while the queue is empty (status, STATUS=,
the as-run log and the event stream say so; it is not in the queue) and
fades out for a story as soon as one is queued; the silence detector
skips a silent story and raises an alert on the event stream; a story
whose file was deleted after it was queued, one that fails to decode
mid-way and one truncated mid-way each give way to the next within
100 ms (as-run times); with gap_ms the wav holds exactly the gap's
frames of silence between the stories."""
import json
import os
import shutil
import socket
import threading

import nextuptest as nt
from test_wav_gapless import samples, wav_data

TONE = os.path.join(nt.SOURCE_DIR, "tests", "fixtures", "tone-1s.mp3")
SILENCE = os.path.join(nt.SOURCE_DIR, "tests", "fixtures", "silence-2s.mp3")


def asrun(d):
    try:
        with open(os.path.join(d.state_dir, "asrun.jsonl"), encoding="utf-8") as f:
            return [json.loads(l) for l in f.read().split("\n")[:-1] if l.strip()]
    except FileNotFoundError:
        return []


class NoDeadAir(nt.NextupTestCase):
    def start(self, extra, **kw):
        d = self.daemon(start=False, **kw)
        d.write_config(text=d.config_text(**d.opts) + extra)
        d.start()
        return d

    def copy(self, src, name):
        dst = os.path.join(self.tmp, name)
        shutil.copyfile(src, dst)
        return dst

    def test_filler(self):
        filler_dir = os.path.join(self.tmp, "filler")
        os.makedirs(filler_dir)
        shutil.copyfile(nt.fixture("pier")["audio"], os.path.join(filler_dir, "bed.mp3"))
        d = self.start('filler = { path = %s; mode = "loop"; };\nplayout = { fade_ms = 200; };\n'
                       % nt.conf_str(filler_dir))
        sub = nt.Subscriber(d.socket)
        st = nt.wait_for(lambda: (lambda s: s if s.get("on_air") else None)(d.status()), 5,
                         "filler on air", d.describe)
        self.assertTrue(st["on_air"].get("filler"), st)
        self.assertEqual(st["on_air"]["title"], "bed.mp3")
        self.assertIsNone(st["on_air"]["transcript"])
        filler_id = st["on_air"]["id"]
        nt.wait_for(lambda: any("Filler: bed.mp3" in m for _, m in d.notify.all("STATUS=")), 5,
                    "STATUS= Filler", d.describe)
        r = d.request({"cmd": "list"})
        self.assertEqual(r.get("queue"), [], r)         # filler is not Next Up

        fx = nt.fixture("weather")
        sid = d.add(fx)["id"]
        d.wait_on_air(sid, 3)
        nt.wait_for(lambda: any(x["id"] == filler_id for x in asrun(d)), 3, "filler as-run", d.describe)
        rec = {x["id"]: x for x in asrun(d)}
        self.assertEqual(rec[filler_id]["kind"], "filler")
        self.assertEqual(rec[filler_id]["reason"], "faded")
        # It gave way at once: the fade, then the story in the same buffer.
        self.assertLess(rec[filler_id]["played_ms"], rec[filler_id]["planned_ms"])
        # the status reply can overtake the event on the subscriber's socket
        nt.wait_for(lambda: [e for e in sub.events("on_air") if e["story"]["id"] == sid], 3,
                    "on_air event", d.describe)
        on_air = [e for e in sub.events("on_air") if e["story"]["id"] == sid]
        self.assertEqual(len(on_air), 1)
        self.assertLessEqual(abs(on_air[0]["start_ms"] - rec[filler_id]["end_ms"]), 30)
        filler_off = [e for e in sub.events("off_air") if e["story"]["id"] == filler_id]
        self.assertEqual([e["reason"] for e in filler_off], ["faded"])
        self.assertTrue(filler_off[0]["story"].get("filler"))
        self.assertFalse(any(e["story"] and e["story"].get("filler") for e in sub.events("next_up")))

        # When the story ends, filler again, joined gaplessly.
        st = nt.wait_for(lambda: (lambda s: s if s.get("on_air") and s["on_air"].get("filler") else None)(
            d.status()), fx["truth"]["duration_ms"] / 1000.0 + 5, "filler after the story", d.describe)
        nt.wait_for(lambda: any(x["id"] == sid for x in asrun(d)), 3, "story as-run", d.describe)
        story = next(x for x in asrun(d) if x["id"] == sid)
        self.assertEqual(story["reason"], "complete")
        after = [e for e in sub.events("on_air") if e["story"]["id"] == st["on_air"]["id"]]
        self.assertLessEqual(abs(after[0]["start_ms"] - story["end_ms"]), 30)
        sub.close()
        self.assertStops(d)

    def test_silence(self):
        fx = nt.fixture("weather")
        silent_txt = os.path.join(self.tmp, "silent.txt")
        shutil.copyfile(fx["transcript"], silent_txt)
        d = self.start("silence = { enabled = true; dbfs = -50; ms = 1000; };\n")
        sub = nt.Subscriber(d.socket)
        nt.wait_for(lambda: sub.lines, 5, "subscribed", d.describe)
        silent = d.request({"cmd": "add", "audio": SILENCE, "transcript": silent_txt})["id"]
        sid = d.add(fx)["id"]
        d.wait_on_air(sid, 5)
        # the silent story's alignment may raise its own alert first
        silence_alerts = lambda: [a for a in sub.events("alert") if a["what"] == "silence"]
        nt.wait_for(silence_alerts, 2, "silence alert", d.describe)
        alert = silence_alerts()[0]
        self.assertIn("#%d" % silent, alert["message"])
        nt.wait_for(lambda: any(x["id"] == silent for x in asrun(d)), 3, "as-run", d.describe)
        rec = {x["id"]: x for x in asrun(d)}[silent]
        self.assertEqual(rec["reason"], "silence")
        self.assertGreaterEqual(rec["played_ms"], 1000)
        self.assertLess(rec["played_ms"], 1200)        # skipped, not played to its end (2 s)
        self.assertIn("Silence on air", d.stderr())
        sub.close()
        self.assertStops(d)

    def test_failed_items_give_way(self):
        pier, library, market, weather = (nt.fixture(n) for n in ("pier", "library", "market", "weather"))
        deleted = self.copy(library["audio"], "deleted.mp3")
        with open(pier["audio"], "rb") as f:
            blob = f.read()
        # Good head, then junk mpg123 gives up on. `add` decodes a story
        # whole before it answers and would refuse it: queued whole, it is
        # damaged afterwards, as a file changed on disk would be.
        corrupt = self.copy(pier["audio"], "corrupt.mp3")
        corrupt_blob = blob[:len(blob) // 4] + b"x" * 40000
        with open(market["audio"], "rb") as f:
            blob = f.read()
        truncated = os.path.join(self.tmp, "truncated.mp3")
        with open(truncated, "wb") as f:
            f.write(blob[:len(blob) // 3])

        d = self.start("")
        ids = [d.add(weather)["id"]]
        d.wait_on_air(ids[0], 5)
        ids.append(d.add(library)["id"])       # cued (opened) now
        for path, fx in ((deleted, library), (corrupt, pier), (truncated, market)):
            ids.append(d.request({"cmd": "add", "audio": path, "transcript": fx["transcript"]})["id"])
        os.unlink(deleted)                     # not opened yet: it fails when its turn comes
        with open(corrupt + ".new", "wb") as f:
            f.write(corrupt_blob)
        os.replace(corrupt + ".new", corrupt)
        ids.append(d.add(weather)["id"])
        total = (weather["truth"]["duration_ms"] * 2 + library["truth"]["duration_ms"]
                 + pier["truth"]["duration_ms"] / 4 + market["truth"]["duration_ms"] / 3) / 1000.0
        nt.wait_for(lambda: len(asrun(d)) == len(ids), total + 15, "all items in the as-run log", d.describe)
        recs = {x["id"]: x for x in asrun(d)}
        self.assertEqual([recs[i]["reason"] for i in ids],
                         ["complete", "complete", "decode_error", "decode_error", "complete", "complete"])
        self.assertEqual(recs[ids[2]]["played_ms"], 0)
        self.assertGreater(recs[ids[3]]["played_ms"], 500)  # it played its good part
        aired = [recs[i] for i in ids if recs[i]["played_ms"] > 0]
        for a, b in zip(aired, aired[1:]):
            gap = b["start_ms"] - a["end_ms"]
            print("%s (%s) -> %s: %d ms" % (a["title"], a["reason"], b["title"], gap))
            self.assertLess(abs(gap), 100, "%r -> %r" % (a, b))
        self.assertStops(d)

    def test_gap_frames(self):
        fxs = [nt.fixture(n) for n in ("weather", "library")]
        d = self.daemon(start=False, output="wav", rate=44100, channels=1, webvtt=False, startup=fxs)
        d.write_config(text=d.config_text(**d.opts) + "playout = { gap_ms = 250; };\n")
        d.start()
        total_s = sum(f["truth"]["duration_ms"] for f in fxs) / 1000.0
        nt.wait_for(lambda: len(asrun(d)) == 2 and d.status()["state"] == "idle", total_s + 15,
                    "both aired", d.describe)
        self.assertStops(d)
        _, _, _, data = wav_data(d.wav)
        got = samples(data)
        first = fxs[0]["truth"]["frames"]
        gap = 250 * 44100 // 1000
        self.assertEqual(len(got), first + gap + fxs[1]["truth"]["frames"])
        self.assertEqual(max(abs(x) for x in got[first:first + gap]), 0)
        _, pcm = nt.decoded_samples(fxs[1]["audio"])
        want = samples(pcm)
        bad = next((i for i in range(len(want)) if abs(got[first + gap + i] - want[i]) > 2), None)
        self.assertIsNone(bad, "second story misplaced after the gap")


if __name__ == "__main__":
    nt.main()
