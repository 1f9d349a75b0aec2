#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Control socket limits against the real daemon (issue 8): a thousand
idle connections cannot lock out a fresh `nextupctl status`, and their
churn costs a few log lines, not one per client; an over-long request
line is refused and closed; a peer not on the allow-list (another user,
via setpriv, when the test runs as root) is refused with a clear error and
logged, and an allowed one is served and named in the log and in the
queue_changed event."""
import json
import os
import resource
import shutil
import socket
import subprocess

import nextuptest as nt


class ControlLimits(nt.NextupTestCase):
    def test_idle_crowd_and_long_line(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 1200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        d = self.daemon()
        crowd = []
        try:
            for _ in range(1000):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(d.socket)
                crowd.append(s)
            r = d.ctl("--json", "status", timeout=10)
            self.assertEqual(r.returncode, 0, "status with 1,000 idle clients: %r\n%s" % (r.stderr, d.describe()))
            self.assertIs(json.loads(r.stdout)["ok"], True)
            # The idle ones were closed to make room, oldest first, and told why.
            s = crowd[0]
            s.settimeout(5)
            data = s.recv(4096)
            self.assertIn(b"too many control connections", data)
        finally:
            for s in crowd:
                s.close()

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(d.socket)
            try:
                s.sendall(b'{"cmd":"status","pad":"' + b"x" * 70000 + b'"}\n')
            except (BrokenPipeError, ConnectionResetError):
                pass
            buf = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            reply = json.loads(buf.decode().splitlines()[0])
            self.assertEqual(reply, {"ok": False, "error": "request line too long (limit 65536 bytes)"})

        self.assertEqual(d.ctl("status").returncode, 0)
        log = d.stderr()
        evictions = log.count("Control connection limit")
        self.assertGreaterEqual(evictions, 1, log[-2000:])
        self.assertLessEqual(evictions + log.count("Control socket, in the last"), 4,
                             "refusals are rate-limited")
        self.assertStops(d)

    def test_numbers_and_times_at_the_edge(self):
        """Issue 8: `at 9999-12-31T23:59:59` overflowed (UBSan abort) or
        was acknowledged and then dropped as missed; ids that are not exact
        integers in range slipped through or got a vague error."""
        fx = nt.fixture("market")
        d = self.daemon()
        for when in ("9999-12-31T23:59:59", "2100-01-01T00:00", "1969-07-20T20:17"):
            r = d.ctl("at", when, fx["audio"], fx["transcript"])
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("1970..2099", r.stderr)
        self.assertEqual(d.request({"cmd": "schedule"})["events"], [])

        raw = {b"7x": "exact integer", b'"7"': "exact integer", b"1e99": "exact integer",
               b"7.5": "exact integer", b"-1": "must not be negative",
               b"18446744073709551616": "out of range", b"9007199254740992": "out of range"}
        for value, why in raw.items():
            for req in (b'{"cmd":"remove","id":%s}\n', b'{"cmd":"move","id":1,"position":%s}\n',
                        b'{"cmd":"unschedule","event":%s}\n'):
                reply = d.request(req % value)
                self.assertIs(reply["ok"], False, (req, value))
                if value != b"7x":  # not JSON at all
                    self.assertIn(why, reply["error"], (req % value, reply))
        reply = d.request({"cmd": "at", "time": "2099-01-01T00:00", "mode": "wait", "wait_s": 1e99,
                           "audio": fx["audio"], "transcript": fx["transcript"]})
        self.assertIs(reply["ok"], False)
        self.assertIn("wait_s", reply["error"])
        for bad in ("7x", "-1", "1e99", "18446744073709551616", " 7"):
            r = d.ctl("remove", bad)
            self.assertEqual(r.returncode, 2, (bad, r))
        self.assertTrue(d.running(), d.describe())
        self.assertStops(d)

    def test_text_leaving_is_valid(self):
        """Issue 8: a Latin-1 transcript put raw bytes in replies; a file
        named "x\\n<0>nextupd: FORGED.mp3" forged an emergency log line."""
        fx = nt.fixture("market")
        d = self.daemon()
        latin1 = os.path.join(self.tmp, "latin1.txt")
        with open(latin1, "wb") as f:
            f.write(b"Caf\xe9 News\n\nThe caf\xe9 opened on Saturday near the river.\n")
        r = d.ctl("add", fx["audio"], latin1)
        self.assertEqual(r.returncode, 1, r)
        # The file and line named once, not "transcript 'PATH': PATH:1: ...".
        self.assertIn("transcript %s:1: not UTF-8 text (byte 0xE9 at column 4)" % latin1, r.stderr)
        self.assertEqual(r.stderr.count(latin1), 1, r.stderr)

        # Through a dropbox, where file names come from whoever can write there.
        box = os.path.join(self.tmp, "box")
        os.makedirs(box)
        d2 = self.daemon(dropboxes=[{"path": box, "settle_ms": 300}])
        self.assertStops(d)
        d = d2
        forged = os.path.join(box, "x\n<0>nextupd: FORGED")
        odd = os.path.join(os.fsencode(box), b"caf\xe9")
        for base in (os.fsencode(forged), odd):
            shutil.copy(fx["transcript"], base + b".txt")
            shutil.copy(fx["audio"], base + b".mp3")
        nt.wait_for(lambda: d.stderr().count("FORGED") >= 1 and len(d.request({"cmd": "list"})["queue"]) +
                    (1 if d.request({"cmd": "list"})["on_air"] else 0) >= 2, 20, "both dropbox stories queued",
                    d.describe)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(d.socket)
            s.sendall(b'{"cmd":"list"}\n')
            buf = b""
            while not buf.endswith(b"\n"):
                buf += s.recv(65536)
        buf.decode("utf-8")  # strict: raises on anything that is not UTF-8
        json.loads(buf)
        log = d.stderr()
        self.assertIn("FORGED", log)
        for line in log.splitlines():
            self.assertFalse(line.startswith("<0>") or line.startswith("nextupd: FORGED"), line)
        self.assertStops(d)

    def test_peer_allow_list(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to connect as another user (setpriv)")
        if not shutil.which("setpriv"):
            self.skipTest("setpriv not installed")
        fx = nt.fixture("market")
        d = self.daemon(start=False)
        d.write_config(d.config_text(**d.opts).replace('mode = "0600";', 'mode = "0666";'))
        for p in (self.tmp, d.tmp):
            os.chmod(p, 0o755)
        d.start()
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", nt.binary("nextupctl"),
                     "-s", d.socket]
        r = subprocess.run(as_nobody + ["status"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("permission denied: user nobody (uid 65534) is not in control.allow_users", r.stderr)
        nt.wait_for(lambda: "Control connection from uid 65534 (nobody" in d.stderr(), 5, "refusal logged")

        # Allowed by uid after a reload: served, and named where the queue changed.
        d.write_config(d.config_text(**d.opts).replace(
            'mode = "0600";', 'mode = "0666"; allow_users = [ "nobody" ];'))
        d.signal(1)
        nt.wait_for(lambda: "Configuration reloaded" in d.stderr(), 10, "reload")
        sub = nt.Subscriber(d.socket)
        try:
            r = subprocess.run(as_nobody + ["--json", "add", fx["audio"], fx["transcript"]],
                               capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 0, r)
            sid = json.loads(r.stdout)["id"]
            nt.wait_for(lambda: sub.events("queue_changed"), 10, "queue_changed")
            self.assertEqual(sub.events("queue_changed")[0].get("by"), {"uid": 65534, "user": "nobody"})
        finally:
            sub.close()
        nt.wait_for(lambda: "Control: 'add' #%d by user nobody (uid 65534" % sid in d.stderr(), 5,
                    "queue change logged with its peer")
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
