#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The caption page in a real browser: headless chromium opens
http://.../ while a story with speaker changes plays; a MutationObserver
in the page records when each caption line appears (Date.now()). Every
line of every cue must show within 100 ms of the cue's emission (the
emission's wall-clock time as the daemon's tcp feed reports it: time_ms
is the due time, plus lateness_us), at most three lines stay, a speaker
change shows the speaker's name, the title and Next Up are shown, and the
region is aria-live. Screenshots (dark, light, larger text) go to
$NEXTUP_BUILD_DIR/test-output/test_caption_page/."""
import os
import shutil
import time
import unittest

import cdp
import feedclient as fc
import nextuptest as nt

SHOW_MAX_MS = 100

OBSERVER = r"""
(function () {
  window.__seen = [];
  var caps = document.getElementById("captions");
  new MutationObserver(function (muts) {
    var t = Date.now();
    muts.forEach(function (m) {
      m.addedNodes.forEach(function (n) {
        if (n.classList && n.classList.contains("line"))
          window.__seen.push({t: t, text: n.textContent, story: n.dataset.story, cue: n.dataset.cue});
      });
    });
  }).observe(caps, {childList: true});
  return true;
})()
"""


@unittest.skipUnless(cdp.CHROMIUM, "chromium not installed")
class CaptionPage(nt.NextupTestCase):
    def test_page_shows_cues_in_time(self):
        outdir = os.path.join(nt.BUILD_DIR, "test-output", "test_caption_page")
        shutil.rmtree(outdir, ignore_errors=True)
        os.makedirs(outdir)
        hp, tp = nt.free_port(), nt.free_port()
        d = self.daemon(sink_text=['{ type = "tcp"; listen = "127.0.0.1:%d"; }' % tp],
                        extra_text='http = { listen = "127.0.0.1:%d"; };' % hp)
        browser = cdp.Browser(outdir)
        tcp = fc.TCPClient(tp)
        try:
            browser.call("Page.enable")
            browser.call("Page.navigate", url="http://127.0.0.1:%d/" % hp)
            nt.wait_for(lambda: browser.evaluate("document.readyState") == "complete", 20, "page loaded")
            nt.wait_for(lambda: browser.evaluate("document.getElementById('state').textContent") == "live",
                        10, "EventSource open")
            self.assertTrue(browser.evaluate(OBSERVER))
            a, b = nt.fixture("pier"), nt.fixture("weather")
            sid = d.add(a)["id"]
            bid = d.add(b)["id"]
            nt.wait_for(lambda: len(tcp.of("cue")) >= 3, 30, "three cues", d.describe)
            self.assertEqual(browser.evaluate("document.getElementById('title').textContent"), a["title"])
            self.assertEqual(browser.evaluate("document.getElementById('next').textContent"),
                             "Next up: " + b["title"])
            browser.screenshot(os.path.join(outdir, "caption-page-dark.png"))
            # with nothing after it, the page keeps the story's last lines
            self.assertTrue(d.request({"cmd": "remove", "id": bid})["ok"])
            nt.wait_for(lambda: browser.evaluate("document.getElementById('next').textContent")
                        == "Next up: \u2013", 5, "Next Up cleared")
            browser.evaluate("document.getElementById('theme').click(); "
                             "document.getElementById('larger').click(); true")
            browser.screenshot(os.path.join(outdir, "caption-page-light-larger.png"))
            self.assertTrue(browser.evaluate("document.body.classList.contains('light')"))
            nt.wait_for(lambda: [e for e in tcp.of("off_air") if e["story_id"] == sid], 60, "story off air",
                        d.describe)
            seen = browser.evaluate("window.__seen")
            lines_now = browser.evaluate("Array.from(document.querySelectorAll('#captions .line'))"
                                         ".map(function (e) { return e.textContent; })")
            speakers = browser.evaluate("Array.from(document.querySelectorAll('#captions .speaker'))"
                                        ".map(function (e) { return e.textContent; })")
            live = browser.evaluate("document.getElementById('captions').getAttribute('aria-live')")
        finally:
            tcp.close()
            browser.close()
        cues = [e for e in tcp.of("cue") if e["story_id"] == sid]
        self.assertEqual(len(cues), len(d.cues_of(sid)))
        delays = []
        for c in cues:
            emitted_ms = c["time_ms"] + c["lateness_us"] / 1000.0
            for line in c["text"].split("\n"):
                shown = [s for s in seen if s["text"] == line and s["cue"] == str(c["cue_index"])]
                self.assertTrue(shown, "cue %d line %r never shown" % (c["cue_index"], line))
                delay = shown[0]["t"] - emitted_ms
                delays.append(delay)
                # the 100 ms in the normal build; ASan's daemon
                # and page server run ~3x slower (TSan: not run, label slow)
                self.assertOnTime(delay, SHOW_MAX_MS, "line %r shown %.0f ms after emission" % (line, delay))
                self.assertGreater(delay, -20, "line %r shown before its emission" % line)
        self.assertLessEqual(len(lines_now), 3)
        last = cues[-1]["text"].split("\n")
        self.assertEqual(lines_now[-len(last):], last)
        self.assertEqual(live, "polite")
        changes = [c for c in cues if c["speaker_change"] and c["speaker"]]
        self.assertTrue(changes)
        if changes[-1]["cue_index"] == cues[-1]["cue_index"]:
            self.assertIn(changes[-1]["speaker"], speakers)
        with open(os.path.join(outdir, "delays.txt"), "w") as f:
            f.write("line shown after emission, ms: %s\n" % " ".join("%.1f" % x for x in delays))
        self.assertTrue(os.path.getsize(os.path.join(outdir, "caption-page-dark.png")) > 10000)
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
