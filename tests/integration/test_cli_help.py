#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""CLI: every nextupctl command takes --help (exit 0, its own usage) and
`nextupctl help COMMAND` prints the same; an unknown command is a usage
error (2); every program takes --version and -V; `nextupctl status` shows
the version, uptime, queue length and end time, output state and the last
alert."""
import os
import re
import struct
import subprocess
import time
import wave

import nextuptest as nt

COMMANDS = ("add", "insert", "remove", "move", "list", "status", "skip", "pause", "resume", "clear", "reopen",
            "asrun", "subscribe", "events", "at", "schedule", "unschedule", "calibrate", "help")


def run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=10)


class CliHelp(nt.NextupTestCase):
    def test_every_command_has_help(self):
        ctl = nt.binary("nextupctl")
        for c in COMMANDS:
            r = run(ctl, c, "--help")
            self.assertEqual(r.returncode, 0, "%s --help: %r" % (c, r.stderr))
            self.assertRegex(r.stdout, r"^Usage: nextupctl .*\b%s\b" % c, c)
            self.assertEqual(r.stderr, "", c)
            h = run(ctl, "help", c)
            self.assertEqual((h.returncode, h.stdout), (0, r.stdout), "help %s" % c)
        # -h too, and the socket option before the command does not matter
        self.assertEqual(run(ctl, "-s", "/nonexistent", "remove", "-h").returncode, 0)
        r = run(ctl, "help", "bogus")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'bogus'", r.stderr)
        r = run(ctl, "help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("help [COMMAND]", r.stdout)

    def test_versions(self):
        for prog in ("nextupd", "nextupctl", "nextup-caption"):
            for flag in ("--version", "-V"):
                r = run(nt.binary(prog), flag)
                self.assertEqual(r.returncode, 0, "%s %s: %r" % (prog, flag, r.stderr))
                self.assertRegex(r.stdout, r"^%s \d+\.\d+\.\d+\n$" % re.escape(prog))

    def test_usage_errors(self):
        """A usage error exits 2 with a hint to --help, in all three
        programs (nextupd's man page and --help say so)."""
        for prog, args in (("nextupd", ["--bogus"]), ("nextupd", ["-n", "extra"]),
                           ("nextupctl", ["bogus"]), ("nextup-caption", ["--bogus"])):
            r = run(nt.binary(prog), *args)
            self.assertEqual(r.returncode, 2, "%s %s: %r" % (prog, args, r.stderr))
            self.assertIn("Try '%s --help'" % prog, r.stderr, prog)
        self.assertIn("2 usage error", run(nt.binary("nextupd"), "--help").stdout)

    def test_status_fields(self):
        silent = os.path.join(self.tmp, "silent.wav")
        with wave.open(silent, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(44100)
            w.writeframes(struct.pack("<h", 0) * 44100 * 3)
        fx = nt.fixture("weather")
        d = self.daemon(start=False)
        d.write_config(d.config_text(**d.opts) + "silence = { ms = 500; };\n")
        d.start()
        st = d.status()
        self.assertRegex(st["version"], r"^\d+\.\d+\.\d+$")
        self.assertGreaterEqual(st["uptime_ms"], 0)
        self.assertEqual(st["output_state"], "up")
        self.assertIsNone(st["last_alert"])

        # A silent story: the detector's alert is the last alert.
        sid = d.add({"audio": silent, "transcript": fx["transcript"]})["id"]
        nt.wait_for(lambda: d.status()["last_alert"], 10, "the silence alert", d.describe)
        first = d.add(fx)["id"]
        d.add(fx)
        d.wait_on_air(first, 10)
        nt.wait_for(lambda: d.status()["queue_end_ms"], 10, "every length known (queue_end_ms)", d.describe)
        st = d.status()
        self.assertIn("silence", st["last_alert"]["message"])
        self.assertEqual(st["queue_length"], 1)   # one on air, one queued
        on_air = st["on_air"]
        left = on_air["duration_ms"] - st["position_ms"] + fx["truth"]["duration_ms"]
        self.assertLess(abs(st["queue_end_ms"] - (time.time() * 1000 + left)), 1500, st)

        r = d.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"Queue: 1 story, ends at \d\d:\d\d:\d\d\n")
        self.assertIn("Output: null (up)\n", r.stdout)
        self.assertRegex(r.stdout, r"Last alert: \d\d:\d\d:\d\d silence: #%d" % sid)
        self.assertRegex(r.stdout, r"Daemon: nextupd \d+\.\d+\.\d+, up \d+s\n")
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
