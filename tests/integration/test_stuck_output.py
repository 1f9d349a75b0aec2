#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""stdout and stderr that stop taking output (a pipe nobody reads, as a
stopped terminal or a wedged journald stream would be) never stall the
event loop: with the daemon's stdout (terminal sink) or stderr (the log)
in a full pipe that is never read, a story plays, the jsonl sink's cues
come out on time, the control socket answers, and what waited comes out
once the pipe is read again (dropping past the buffer: test-nbout)."""
import fcntl
import os
import time

import nextuptest as nt

F_SETPIPE_SZ = 1031
LATE_MAX_US = 500000   # generous: a stalled loop would be seconds late, or never emit


def full_pipe():
    """-> (read end, blocking write end) of a pipe with no room left."""
    r, w = os.pipe()
    fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
    fl = fcntl.fcntl(w, fcntl.F_GETFL)
    fcntl.fcntl(w, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    try:
        while True:
            os.write(w, b"x" * 512)
    except BlockingIOError:
        pass
    fcntl.fcntl(w, fcntl.F_SETFL, fl)    # the daemon gets it blocking, as a shell would give it
    return r, w


def read_until(fd, needle, timeout=10):
    """Reads FD (made non-blocking) until NEEDLE has come."""
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    got = b""
    deadline = time.monotonic() + timeout
    while needle not in got:
        if time.monotonic() > deadline:
            raise AssertionError("%r never came; got %r" % (needle, got[-2000:]))
        try:
            got += os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.05)
    return got


class StuckOutput(nt.NextupTestCase):
    def play_and_check(self, d):
        fx = nt.fixture("market")
        sid = d.add(fx)["id"]
        nt.wait_for(lambda: d.status()["state"] == "playing", 20, "playing")
        # the control socket answers while the story plays
        for _ in range(5):
            self.assertEqual(d.ctl("status").returncode, 0)
            time.sleep(0.2)
        nt.wait_for(lambda: d.status()["state"] == "idle" and len(d.cues_of(sid)) > 0, 60, "story played")
        cues = d.cues_of(sid)
        self.assertGreater(len(cues), 3)
        late = [c["lateness_us"] for c in cues]
        self.assertLess(max(late), LATE_MAX_US, "cue lateness with a stuck output: %r" % late)
        return cues

    def test_stdout_pipe_never_read(self):
        r, w = full_pipe()
        try:
            d = self.daemon(start=False, terminal=True)
            d.start(stdout=w)
            os.close(w)
            w = -1
            cues = self.play_and_check(d)
            # the caption lines waited (a retry timer) and come out in order
            got = read_until(r, cues[-1]["text"].split("\n")[-1].encode())
            self.assertIn(b"=== On air: Farmers Market", got)
            self.assertLess(got.index(b"=== On air"), got.index(cues[-1]["text"].split("\n")[-1].encode()))
            self.assertStops(d)
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)

    def test_stderr_pipe_never_read(self):
        r, w = full_pipe()
        try:
            d = self.daemon(start=False, log_level="debug")
            d.start(stderr=w)
            os.close(w)
            w = -1
            self.play_and_check(d)
            # read the pipe again: the lines that waited come out, in order
            got = read_until(r, b"Off air: #")
            self.assertLess(got.index(b"On air: #"), got.index(b"Off air: #"))
            self.assertStops(d)
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)


if __name__ == "__main__":
    nt.main()
