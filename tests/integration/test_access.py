#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Access model: with control.group the socket nextupd makes is given to
that group (mode 0660), a user in the group can drive the station and a
user outside it cannot connect (nextupctl exit 2). Other users are played
by setpriv with their own uid and groups; needs root (skipped otherwise)."""
import grp
import os
import shutil
import signal
import stat
import subprocess
import unittest

import nextuptest as nt

OUTSIDER = 65534  # nobody


@unittest.skipUnless(os.geteuid() == 0, "needs root to run nextupctl as other users (setpriv)")
@unittest.skipUnless(shutil.which("setpriv") and shutil.which("groupadd"), "needs setpriv and groupadd")
class Access(nt.NextupTestCase):
    def setUp(self):
        super().setUp()
        self.group = "nextup-test-%d" % os.getpid()
        subprocess.run(["groupadd", "--system", self.group], check=True)
        self.gid = grp.getgrnam(self.group).gr_gid

    def tearDown(self):
        super().tearDown()
        subprocess.run(["groupdel", self.group], check=False)

    def as_user(self, d, groups, *args):
        cmd = ["setpriv", "--reuid=%d" % OUTSIDER, "--regid=%d" % OUTSIDER]
        cmd += ["--groups=" + ",".join(map(str, groups))] if groups else ["--clear-groups"]
        cmd += [nt.binary("nextupctl"), "-s", d.socket] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10)

    def test_group_members_only(self):
        d = self.daemon(start=False)
        text = d.config_text(**d.opts).replace(
            'mode = "0600";', 'mode = "0660";\n  group = %s;' % nt.conf_str(self.group))
        d.write_config(text)
        for p in (self.tmp, d.tmp):          # mkdtemp's 0700 would hide the socket from anyone
            os.chmod(p, 0o755)
        d.start()
        st = os.stat(d.socket)
        self.assertEqual(st.st_gid, self.gid, "socket group")
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660, "socket mode")

        probe = subprocess.run(["setpriv", "--reuid=%d" % OUTSIDER, "--regid=%d" % OUTSIDER,
                                "--clear-groups", nt.binary("nextupctl"), "--version"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            self.skipTest("nextupctl in %s is not executable by uid %d" % (nt.BUILD_DIR, OUTSIDER))

        r = self.as_user(d, [], "status")
        self.assertEqual(r.returncode, 2, "outsider: %r %r" % (r.stdout, r.stderr))
        self.assertIn("Permission denied", r.stderr)
        r = self.as_user(d, [self.gid], "--json", "status")
        self.assertEqual(r.returncode, 0, "member: %r" % r.stderr)
        self.assertIn('"ok":true', r.stdout.replace(" ", ""))
        r = self.as_user(d, [self.gid], "pause")
        self.assertEqual(r.returncode, 0, "member pause: %r" % r.stderr)
        self.assertEqual(d.status()["state"], "paused")
        self.assertStops(d)

    def test_group_follows_a_reload(self):
        """control.group changed in the config and SIGHUP: the socket the
        daemon made is given to the new group at once (no restart), and
        back to the daemon's own group when the key is left out."""
        d = self.daemon(start=False)
        plain = d.config_text(**d.opts).replace('mode = "0600";', 'mode = "0660";')
        d.write_config(plain)
        d.start()
        self.assertEqual(os.stat(d.socket).st_gid, os.getegid())
        d.write_config(plain.replace('mode = "0660";', 'mode = "0660";\n  group = %s;' % nt.conf_str(self.group)))
        d.signal(signal.SIGHUP)
        nt.wait_for(lambda: os.stat(d.socket).st_gid == self.gid, 10, "the socket in the new group", d.describe)
        self.assertEqual(stat.S_IMODE(os.stat(d.socket).st_mode), 0o660)
        self.assertIn("given to group %d" % self.gid, d.stderr())
        self.assertTrue(d.status()["ok"])
        d.write_config(plain)
        d.signal(signal.SIGHUP)
        nt.wait_for(lambda: os.stat(d.socket).st_gid == os.getegid(), 10, "the socket back in our group",
                    d.describe)
        self.assertStops(d)

    def test_unknown_group_is_a_config_error(self):
        d = self.daemon(start=False)
        d.write_config(d.config_text(**d.opts).replace(
            'mode = "0600";', 'mode = "0660";\n  group = "no-such-group-here";'))
        r = subprocess.run([nt.binary("nextupd"), "-n", "-c", d.conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"nextupd\.conf:\d+: .*group.*no such group \"no-such-group-here\"")


if __name__ == "__main__":
    nt.main()
