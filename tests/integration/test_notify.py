#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""sd_notify: READY=1 once serving; STATUS= names the story on air and the
one next up; WATCHDOG=1 keeps coming (WATCHDOG_USEC=500 ms, so at least
every 500 ms); STOPPING=1 on SIGTERM and exit 0."""
import signal
import time

import nextuptest as nt


class Notify(nt.NextupTestCase):
    def test_lifecycle(self):
        a, b = nt.fixture("market"), nt.fixture("weather")
        d = self.daemon(start=False, startup=[a, b])
        d.start(wait_ready=False)
        ready_s = d.wait_ready()
        print("start to READY=1: %.1f ms" % (ready_s * 1000))
        self.assertEqual(len(d.notify.all("READY=1")), 1, "READY=1 sent more than once")
        # READY means serving: the control socket answers right away.
        self.assertTrue(d.status()["ok"])

        want = ("On air: %s" % a["title"], "Next up: %s" % b["title"])
        st = nt.wait_for(lambda: [m for _, m in d.notify.all("STATUS=") if all(w in m for w in want)],
                         15, "STATUS= with on air and next up",
                         lambda: "\n".join(m for _, m in d.notify.all("STATUS=")) + "\n" + d.describe())
        print("status line:", st[-1])

        # Watchdog pings while the audio runs, repeatedly and in time.
        t0 = time.monotonic()
        nt.wait_for(lambda: time.monotonic() - t0 > 2.0 or not d.running(), 3, "2 s of air")
        pings = [t for t, _ in d.notify.all("WATCHDOG=1") if t >= t0]
        self.assertGreaterEqual(len(pings), 4, "WATCHDOG=1 pings in 2 s")
        gaps = [y - x for x, y in zip([t0] + pings, pings + [time.monotonic()])]
        self.assertLess(max(gaps), nt.WATCHDOG_USEC / 1e6, "longest gap between WATCHDOG=1: %.3f s" % max(gaps))

        self.assertEqual(d.status()["state"], "playing")
        t_term = time.monotonic()
        d.signal(signal.SIGTERM)
        d.proc.wait(10)
        exit_ms = (time.monotonic() - t_term) * 1000
        self.assertEqual(d.proc.returncode, 0, d.describe())
        nt.wait_for(lambda: d.notify.all("STOPPING=1"), 2, "STOPPING=1", d.describe)
        stopping = [t for t, _ in d.notify.all("STOPPING=1")]
        self.assertGreaterEqual(stopping[0], t_term)
        print("SIGTERM to exit: %.1f ms" % exit_ms)


if __name__ == "__main__":
    nt.main()
