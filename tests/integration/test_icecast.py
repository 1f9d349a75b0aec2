#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The icecast sink against a real Icecast (Debian's icecast2, started here
with its own config on a free loopback port, fed by a tiny source client
sending an MP3 with the SOURCE method): after each story change the
server's /status-json.xsl shows the story's title. Credentials come from a
file and never appear in the log, even at debug level. A wrong password
and a server that is down each cost one clear log line; the air goes on."""
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import nextuptest as nt

ICECAST = shutil.which("icecast2")
ADMIN_PW = "nextup-Adm1n-%d" % os.getpid()
SOURCE_PW = "nextup-Src-%d" % os.getpid()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Icecast:
    def __init__(self, port):
        # its own folder: as root icecast2 drops to nobody, who cannot
        # enter the test's private temp dir
        self.port, self.dir = port, tempfile.mkdtemp(prefix="nextup-icecast.")
        os.makedirs(os.path.join(self.dir, "log"))
        os.chmod(self.dir, 0o777)
        os.chmod(os.path.join(self.dir, "log"), 0o777)
        # icecast2 refuses to run as root without changeowner
        owner = ("<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
                 if os.getuid() == 0 else "")
        conf = os.path.join(self.dir, "icecast.xml")
        with open(conf, "w") as f:
            f.write("""<icecast>
  <location>test</location><admin>test@localhost</admin>
  <limits><clients>10</clients><sources>2</sources><source-timeout>10</source-timeout></limits>
  <authentication><source-password>%s</source-password>
    <admin-user>admin</admin-user><admin-password>%s</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>%d</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>1</fileserve>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>%s</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>%s</security>
</icecast>
""" % (SOURCE_PW, ADMIN_PW, port, os.path.join(self.dir, "log"), owner))
        self.out = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.proc = subprocess.Popen([ICECAST, "-c", conf], stdout=self.out, stderr=self.out)
        nt.wait_for(self.stats, 10, "icecast2 up", self.describe)
        self.stop_source = False

    def describe(self):
        text = "--- last status-json.xsl ---\n%s\n" % getattr(self, "last_body", None)
        for name in ("stderr.log", "log/error.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    text += "--- icecast2 %s ---\n%s" % (name, f.read()[-2000:])
            except OSError:
                pass
        return text

    def stats(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/status-json.xsl" % self.port, timeout=1) as r:
                body = r.read().decode("utf-8", "replace")
            # icecast2 2.4.4 serves broken JSON while it is still starting
            self.last_body = body
            return json.loads(body)["icestats"]
        except (OSError, ValueError):
            return None

    def title(self):
        src = (self.stats() or {}).get("source")
        return src.get("title") if isinstance(src, dict) else None

    def feed(self, mp3, mount):
        """A source client: SOURCE, then the MP3 over and over, paced."""
        s = socket.create_connection(("127.0.0.1", self.port))
        auth = base64.b64encode(("source:" + SOURCE_PW).encode()).decode()
        s.sendall(("SOURCE %s HTTP/1.0\r\nAuthorization: Basic %s\r\nContent-Type: audio/mpeg\r\n"
                   "Ice-Name: nextup test\r\n\r\n" % (mount, auth)).encode())
        reply = s.recv(200)
        assert reply.startswith(b"HTTP/1.0 200"), reply
        with open(mp3, "rb") as f:
            data = f.read()

        def run():
            while not self.stop_source:
                for i in range(0, len(data), 4096):
                    if self.stop_source:
                        break
                    s.sendall(data[i:i + 4096])
                    time.sleep(0.05)
            s.close()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        nt.wait_for(lambda: (self.stats() or {}).get("source"), 10, "the mount listed")
        return t

    def close(self):
        self.stop_source = True
        self.proc.terminate()
        self.proc.wait(10)
        self.out.close()
        if not nt.KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipUnless(ICECAST, "icecast2 is not installed (scripts/install-deps installs it)")
class IcecastTitle(nt.NextupTestCase):
    def test_title_follows_air(self):
        a, b = nt.fixture("weather"), nt.fixture("library")
        port = free_port()
        d = self.daemon(start=False)
        ice = Icecast(port)
        try:
            self.run_test(d, ice, port, a, b)
        finally:
            ice.close()

    def run_test(self, d, ice, port, a, b):
        good, bad = os.path.join(d.tmp, "icecast.cred"), os.path.join(d.tmp, "wrong.cred")
        for path, pw in ((good, ADMIN_PW), (bad, "not-the-password")):
            with open(path, "w") as f:
                f.write("admin:%s\n" % pw)
            os.chmod(path, 0o600)
        down = free_port()
        d.write_config(extra_sinks=[
            '{ type = "icecast"; connect = "127.0.0.1:%d"; mount = "/live.mp3"; credentials = %s; }'
            % (port, nt.conf_str(good)),
            '{ type = "icecast"; connect = "127.0.0.1:%d"; mount = "/live.mp3"; credentials = %s; }'
            % (port, nt.conf_str(bad)),
            '{ type = "icecast"; connect = "127.0.0.1:%d"; mount = "/live.mp3"; credentials = %s; }'
            % (down, nt.conf_str(good)),
        ])
        feeder = ice.feed(a["audio"], "/live.mp3")
        d.start()
        ia = d.add(a)["id"]
        d.wait_on_air(ia, 10)
        ta, tb = nt.SPECS["weather"]["title"], nt.SPECS["library"]["title"]
        nt.wait_for(lambda: ice.title() == ta, 5, "title %r on the server" % ta, d.describe)
        ib = d.add(b)["id"]
        d.wait_on_air(ib, 30)
        t_on_air = time.monotonic()
        nt.wait_for(lambda: ice.title() == tb, 5, "title %r on the server" % tb, d.describe)
        print("title on the server %.0f ms after the status showed the story on air"
              % ((time.monotonic() - t_on_air) * 1000))
        nt.wait_for(lambda: d.status()["state"] == "idle", 30, "idle", d.describe)
        err = d.stderr()
        self.assertNotIn(ADMIN_PW, err)
        self.assertNotIn(base64.b64encode(("admin:" + ADMIN_PW).encode()).decode(), err)
        self.assertIn("icecast:'127.0.0.1:%d/live.mp3': the server answered 'HTTP/1.0 401" % port, err)
        self.assertIn("(check the credentials file)", err)
        self.assertIn("icecast:'127.0.0.1:%d/live.mp3': cannot connect to the server: Connection refused" % down,
                      err)
        self.assertEqual(err.count("(check the credentials file)"), 1, "one line per failure episode")
        # the air did not notice
        for sid in (ia, ib):
            cues = d.cues_of(sid)
            self.assertGreater(len(cues), 1)
            self.assertEqual([c["cue_index"] for c in cues], list(range(len(cues))))
            self.assertOnTime(max(c["lateness_us"] for c in cues), 50000)

    def test_bad_credentials_file(self):
        """A missing credentials file: the daemon says which file and why."""
        d = self.daemon(start=False)
        missing = os.path.join(d.tmp, "nope.cred")
        d.write_config(extra_sinks=[
            '{ type = "icecast"; connect = "127.0.0.1:9"; mount = "/live"; credentials = %s; }'
            % nt.conf_str(missing)])
        d.start(wait_ready=False)
        d.proc.wait(10)
        self.assertNotEqual(d.proc.returncode, 0)
        self.assertIn("cannot read the credentials file '%s' (one line USER:PASSWORD): No such file" % missing,
                      d.stderr())


if __name__ == "__main__":
    nt.main()
