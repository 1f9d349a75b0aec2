#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""pause, resume and skip answer once the playout thread has acted: a
status read right after the reply (or pipelined behind the command on the
same connection) already shows it; a pause of a paused player answers at
once; replies keep the order of the requests."""
import json
import socket

import nextuptest as nt


class Acks(nt.NextupTestCase):
    def pipelined(self, d, *requests):
        """Sends REQUESTS in one write on one connection: -> the replies."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(d.socket)
            s.sendall(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
            buf = b""
            while buf.count(b"\n") < len(requests):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return [json.loads(line) for line in buf.split(b"\n") if line.strip()]

    def test_replies_after_the_player_acted(self):
        fx = nt.fixture("market")
        d = self.daemon()
        first, second = d.add(fx)["id"], d.add(fx)["id"]
        d.wait_on_air(first, 10)
        for _ in range(8):
            r = d.ctl("pause")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(d.status()["state"], "paused")
            r = d.ctl("resume")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(d.status()["state"], "playing")

        ok, st = self.pipelined(d, {"cmd": "pause"}, {"cmd": "status"})
        self.assertTrue(ok["ok"], ok)
        self.assertEqual(st["state"], "paused", "a status pipelined behind pause")
        self.assertEqual(d.ctl("pause").returncode, 0, "pausing a paused player answers")
        ok, st = self.pipelined(d, {"cmd": "resume"}, {"cmd": "status"})
        self.assertEqual(st["state"], "playing")

        ok, st, rec = self.pipelined(d, {"cmd": "skip"}, {"cmd": "status"}, {"cmd": "asrun"})
        self.assertTrue(ok["ok"], ok)
        self.assertNotEqual((st.get("on_air") or {}).get("id"), first, "skipped story still on air")
        ended = [x for x in rec["records"] if x["id"] == first]
        self.assertEqual([x["reason"] for x in ended], ["skipped"])
        self.assertTrue(d.ctl("status").returncode == 0)
        # a command answered later is still logged with who gave it
        for cmd in ("pause", "resume", "skip"):
            self.assertIn("Control: '%s' by user " % cmd, d.stderr())
        self.assertStops(d)


if __name__ == "__main__":
    nt.main()
