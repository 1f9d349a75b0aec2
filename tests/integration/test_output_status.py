#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Honest air status: a device that cannot be opened is an error at start
unless output.fallback = "null"; `nextupd -n` refuses driver names libao
does not know; libasound's messages stay out of stderr (debug log only);
a device that disappears on air (a PulseAudio server killed mid-story)
raises an output_down alert, an "OUTPUT DOWN" STATUS= and an output
state "down" in status, is reopened when the server returns (output_up),
and the story's as-run record says how long nobody heard it."""
import json
import os
import subprocess
import time

import nextuptest as nt
from test_airchain import PulseServer

# An ALSA device that exists on no machine: the open fails everywhere.
NO_DEVICE = '  driver = "alsa";\n  options = { dev = "hw:97,0"; };\n'


class OutputStatus(nt.NextupTestCase):
    def no_device_config(self, d, fallback=None):
        text = d.config_text(**d.opts).replace('  driver = "null";\n', NO_DEVICE)
        if fallback:
            text = text.replace(NO_DEVICE, NO_DEVICE + '  fallback = "%s";\n' % fallback)
        d.write_config(text)

    def test_missing_device_is_an_error(self):
        d = self.daemon(start=False)
        self.no_device_config(d)
        r = subprocess.run([nt.binary("nextupd"), "-c", d.conf], capture_output=True, text=True,
                           timeout=20, env=dict(os.environ, NOTIFY_SOCKET=""))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("Cannot open the audio output 'alsa'", r.stderr)
        self.assertNotIn("null", r.stderr)
        self.assertNotIn("ALSA lib", r.stderr)

    def test_fallback_null_says_so(self):
        d = self.daemon(start=False)
        self.no_device_config(d, "null")
        with open(d.conf) as f:
            d.write_config(f.read().replace('log_level = "debug"', 'log_level = "info"'))
        d.start()
        self.assertIn("using a paced 'null' output instead (output.fallback)", d.stderr())
        self.assertNotIn("ALSA lib", d.stderr())
        self.assertStops(d)

    def test_alsa_messages_go_to_the_debug_log(self):
        d = self.daemon(start=False)
        self.no_device_config(d, "null")
        d.start()       # log_level debug
        self.assertNotIn("ALSA lib", d.stderr())
        self.assertIn("<7>ALSA: ", d.stderr())
        self.assertStops(d)

    def test_check_refuses_unknown_driver(self):
        d = self.daemon(start=False)
        d.write_config(d.config_text(**d.opts).replace('driver = "null";', 'driver = "alsaa";'))
        r = subprocess.run([nt.binary("nextupd"), "-n", "-c", d.conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"nextupd\.conf:2: output\.driver: \"alsaa\" is not an output driver libao knows")
        d.write_config(d.config_text(**d.opts).replace('  driver = "null";\n', '  driver = "null";\n  fallback = "maybe";\n'))
        r = subprocess.run([nt.binary("nextupd"), "-n", "-c", d.conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("output.fallback", r.stderr)

    def test_device_lost_on_air(self):
        pulse = PulseServer(os.path.join(self.tmp))
        why = pulse.start()
        if why:
            pulse.stop()
            self.skipTest("PulseAudio cannot run here: " + why)
        try:
            self.device_lost(pulse)
        finally:
            pulse.stop()

    def device_lost(self, pulse):
        fx = nt.fixture("market")
        d = self.daemon(start=False, output="pulse")
        opts = '  options = { server = %s; sink = "air"; };\n' % nt.conf_str(pulse.server)
        d.write_config(d.config_text(**d.opts).replace('  driver = "pulse";\n', '  driver = "pulse";\n' + opts))
        d.start()
        sub = nt.Subscriber(d.socket)
        sid = d.add(fx)["id"]
        d.wait_on_air(sid, 10)
        time.sleep(1.0)
        pulse.stop()
        nt.wait_for(lambda: [e for e in sub.events("alert") if e["what"] == "output_down"], 5,
                    "an output_down alert", d.describe)
        down_at = time.monotonic()
        st = d.status()
        self.assertEqual(st["state"], "playing", "the programme keeps its clock while the output is down")
        self.assertEqual(st["output_state"], "down", st)
        r = d.ctl("status")
        self.assertIn("Output: pulse (DOWN: not on air)\n", r.stdout)
        nt.wait_for(lambda: d.notify.all("STATUS=OUTPUT DOWN (pulse)"),
                    3, "STATUS=OUTPUT DOWN", d.describe)
        time.sleep(1.5)
        self.assertIsNone(pulse.start(), "pulseaudio restarts")
        nt.wait_for(lambda: [e for e in sub.events("alert") if e["what"] == "output_up"], 5,
                    "an output_up alert after the server came back", d.describe)
        down_s = time.monotonic() - down_at
        self.assertEqual(d.status()["output_state"], "up")
        nt.wait_for(lambda: d.status()["state"] == "idle", fx["truth"]["duration_ms"] / 1000 + 20,
                    "the story to end", d.describe)
        with open(os.path.join(d.state_dir, "asrun.jsonl")) as f:
            rec = [json.loads(line) for line in f if json.loads(line)["id"] == sid][0]
        self.assertEqual(rec["reason"], "complete")
        self.assertGreater(rec["output_down_ms"], 1500, rec)
        self.assertLess(rec["output_down_ms"], down_s * 1000 + 1200, rec)
        self.assertLess(rec["output_down_ms"], rec["played_ms"], rec)
        sub.close()
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
