#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The aligner runs only in a contained child (issue 8 item 1, issue 7
item 4). A helper that crashes, hangs or finds no match costs its story the
alignment (estimate + an `alert` event), never the daemon; the failure is
remembered by content so a restart does not run the helper on it again; a
helper still running at SIGTERM is killed and the daemon exits within a
second; the real helper gets the daemon's cue list (speaker mark and a
digest it checks) and refuses another one with status 4."""
import os
import signal
import subprocess
import time

import nextuptest as nt

# U+1199 crashed espeak-ng inside the helper; the daemon then aligned the
# same text in-process and died at every restart.
U1199 = b"The town opened a park on Saturday \xe1\x86\x99 near the river.\n"


def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def group_members(pgid):
    """Live processes in process group PGID."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
                found.append(int(name))
    return found


class AlignChild(nt.NextupTestCase):
    def fake_helper(self, body):
        """A stand-in for nextup-caption: counts its runs, records its pid
        and arguments, then runs BODY (shell)."""
        path = os.path.join(self.tmp, "helper.sh")
        self.runs = os.path.join(self.tmp, "helper.runs")
        write(path, ('#!/bin/sh\necho "$$ $*" >> %s\n%s\n' % (self.runs, body)).encode(), 0o755)
        return path

    def helper_runs(self):
        try:
            with open(self.runs) as f:
                return [l.split() for l in f.read().splitlines()]
        except FileNotFoundError:
            return []

    def daemon_with_helper(self, helper, state_dir=None):
        os.environ["NEXTUP_CAPTION_HELPER"] = helper
        try:
            d = self.daemon(start=False)
            if state_dir:
                d.state_dir = state_dir
                d.write_config()
            d.start()
        finally:
            del os.environ["NEXTUP_CAPTION_HELPER"]
        return d

    def test_u1199_story_airs_and_restarts(self):
        fx = dict(nt.fixture("pier"))
        d = self.daemon(start=False)
        fx["transcript"] = os.path.join(d.tmp, "u1199.txt")
        write(fx["transcript"], U1199)
        d.start()
        sub = nt.Subscriber(d.socket)
        nt.wait_for(sub.first, 5, "subscribe reply", d.describe)
        sid = d.add(fx)["id"]
        nt.wait_for(lambda: d.status()["state"] == "idle" and d.cues_of(sid), 60, "story played", d.describe)
        self.assertTrue(d.running(), d.describe())
        self.assertNotRegex(d.stderr(), r"aligning in the daemon")
        sub.close()
        self.assertStops(d)

    def test_crash_costs_the_alignment_only_once(self):
        fx = nt.fixture("pier")
        helper = self.fake_helper("kill -SEGV $$")
        d = self.daemon_with_helper(helper)
        sub = nt.Subscriber(d.socket)
        nt.wait_for(sub.first, 5, "subscribe reply", d.describe)
        sid = d.add(fx)["id"]
        nt.wait_for(lambda: sub.events("alert"), 30, "alignment alert", d.describe)
        alert = sub.events("alert")[0]
        self.assertEqual(alert["what"], "alignment")
        self.assertIn("#%d" % sid, alert["message"])
        self.assertIn("killed", alert["message"])
        # ...and in STATUS= (issue 7 item 2: not just a log line).
        nt.wait_for(lambda: any("Alert: story #%d" % sid in m for _, m in d.notify.all("STATUS=")), 5,
                    "the alert in STATUS=", d.describe)
        nt.wait_for(lambda: d.status()["state"] == "idle" and d.cues_of(sid), 60, "story played", d.describe)
        self.assertTrue(all(c["timing"] == "estimate" for c in d.cues_of(sid)))
        self.assertEqual(len(self.helper_runs()), 1)
        # The helper got the daemon's segmentation, speaker mark and digest.
        args = self.helper_runs()[0]
        for opt in ("--require-aligned", "--speaker-mark", "--cues-digest", "--max-chars", "--max-lines"):
            self.assertIn(opt, args)
        self.assertEqual(args[args.index("--speaker-mark") + 1], ">>")
        sub.close()
        self.assertStops(d)

        # Same content after a restart: taken from the cache, helper not run.
        d2 = self.daemon_with_helper(helper, state_dir=d.state_dir)
        sid2 = d2.add(fx)["id"]
        nt.wait_for(lambda: d2.status()["state"] == "idle" and d2.cues_of(sid2), 60, "story played again",
                    d2.describe)
        self.assertRegex(d2.stderr(), r"Story #%d .*timing estimate \(from cache\)" % sid2)
        self.assertEqual(len(self.helper_runs()), 1, "the crashed alignment was retried")
        self.assertStops(d2)

    def test_whole_story_fallback_alerts(self):
        fx = nt.fixture("pier")
        d = self.daemon_with_helper(self.fake_helper("exit 3"))
        sub = nt.Subscriber(d.socket)
        nt.wait_for(sub.first, 5, "subscribe reply", d.describe)
        sid = d.add(fx)["id"]
        nt.wait_for(lambda: sub.events("alert"), 30, "fallback alert", d.describe)
        self.assertIn("no match for the whole story", sub.events("alert")[0]["message"])
        self.assertIn("#%d" % sid, sub.events("alert")[0]["message"])
        sub.close()
        self.assertStops(d)

    def test_shutdown_kills_a_running_helper(self):
        fx = nt.fixture("pier")
        # The helper ignores SIGTERM and has a child of its own.
        d = self.daemon_with_helper(self.fake_helper("trap '' TERM; sleep 300 & wait; wait"))
        d.add(fx)
        nt.wait_for(self.helper_runs, 30, "helper started", d.describe)
        pid = int(self.helper_runs()[0][0])
        self.assertTrue(pid_alive(pid))
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        d.proc.wait(10)
        self.assertLess(time.monotonic() - t0, 1.0, d.describe())
        self.assertEqual(d.proc.returncode, 0, d.describe())
        nt.wait_for(lambda: not pid_alive(pid), 2, "helper gone")
        nt.wait_for(lambda: not group_members(pid), 2, "helper's process group gone")

    def test_helper_refuses_other_cues(self):
        fx = nt.fixture("pier")
        r = subprocess.run([nt.binary("nextup-caption"), "--estimate", "-f", "json", "--cues-digest",
                            "0" * 32, fx["audio"], fx["transcript"]], capture_output=True, text=True)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertIn("differ from the caller's", r.stderr)


if __name__ == "__main__":
    nt.main()
