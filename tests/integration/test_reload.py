#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""SIGHUP reload: a good new config is taken (RELOADING=1 then READY=1, a
sink added by it receives the cues of the next story) without interrupting
the air; a broken one is refused with FILE:LINE on stderr, the old config stays, and
the daemon goes on playing and answering its socket."""
import os
import re
import signal
import time

import nextuptest as nt


class Reload(nt.NextupTestCase):
    def reload(self, d):
        t = time.monotonic()
        d.signal(signal.SIGHUP)
        nt.wait_for(lambda: [1 for ts, _ in d.notify.all("RELOADING=1") if ts >= t], 5, "RELOADING=1", d.describe)
        t_rel = min(ts for ts, _ in d.notify.all("RELOADING=1") if ts >= t)
        nt.wait_for(lambda: [1 for ts, _ in d.notify.all("READY=1") if ts >= t_rel], 5,
                    "READY=1 after RELOADING=1", d.describe)

    def wait_more_cues(self, d, path=None, timeout=10):
        n = len(d.cues(path))
        return nt.wait_for(lambda: len(d.cues(path)) > n, timeout, "more cues in %s" % (path or d.jsonl),
                           d.describe)

    def test_reload(self):
        fxs = [nt.fixture("market"), nt.fixture("pier"), nt.fixture("library")]
        d = self.daemon(startup=fxs)
        nt.wait_for(lambda: d.cues(), 15, "first cue", d.describe)
        queued = d.status()["queue_length"]

        # A good config that adds a second jsonl sink.
        extra = os.path.join(d.tmp, "extra.jsonl")
        d.write_config(extra_sinks=[extra])
        self.reload(d)
        self.assertTrue(d.running())
        # The story on air keeps its sinks; the new set takes over at the next.
        self.assertEqual(d.request({"cmd": "skip"})["ok"], True)
        self.wait_more_cues(d, extra)
        st = d.status()
        self.assertEqual(st["state"], "playing")
        self.assertLessEqual(st["queue_length"], queued, "reload queued the startup stories again")
        self.assertNotIn(d.conf + ":", d.stderr(), "errors reported for a good config")

        # A broken config: a syntax error on line 3 and a bad value.
        err_before = len(d.stderr())
        with open(d.conf) as f:
            good = f.read().split("\n")
        broken = good[:2] + ["  rate = ;"] + good[2:]
        with open(d.conf, "w") as f:
            f.write("\n".join(broken))
        self.reload(d)
        where = re.escape(d.conf) + r":3\b"
        nt.wait_for(lambda: re.search(where, d.stderr()[err_before:]), 5,
                    "error naming %s:3 on stderr" % d.conf, d.describe)
        print("reload error:", [l for l in d.stderr()[err_before:].split("\n") if re.search(where, l)][0])
        self.assertTrue(d.running(), "nextupd died on a bad config\n" + d.describe())
        st = d.status()
        self.assertTrue(st["ok"])
        self.assertEqual(st["state"], "playing")
        self.wait_more_cues(d)
        self.wait_more_cues(d, extra)     # the old (good) config is still in effect
        r = d.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)

        # A config that cannot be read at all.
        os.unlink(d.conf)
        self.reload(d)
        self.assertTrue(d.running())
        self.wait_more_cues(d)
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
