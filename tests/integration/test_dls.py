#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The DAB+ DLS sink writes the file ODR-PadEnc reads: the parameter block
with DL Plus tags (ITEM.TITLE on the title, PROGRAMME.NEXT on what is next,
the item toggle flipping per story, running while on air) and a label of at
most 128 characters whose tags point at the right characters. The file is
replaced, never rewritten in place: a reader polling it (as ODR-PadEnc
does) sees the old label or the new one, always a whole one. A reload
(SIGHUP) leaves the label of the story on air alone."""
import os
import signal
import threading
import time

import nextuptest as nt

LONG = ("A very long title that goes on and on about the harbor, the pier, the boats, the weather "
        "and the café où l'on mange, and then some more words to pass the limit")


def parse(text):
    """-> (params dict, tags [(type, start, len)], label) of a DLS file."""
    lines = text.split("\n")
    params, tags, i = {}, [], 0
    if lines[0] == "##### parameters { #####":
        i = lines.index("##### parameters } #####")
        for l in lines[1:i]:
            k, v = l.split("=", 1)
            if k == "DL_PLUS_TAG":
                t, s, n = map(int, v.split())
                tags.append((t, s, n + 1))
            else:
                params[k] = v
        i += 1
    assert lines[-1] == "", "the file ends with a newline"
    assert len(lines) == i + 2, "one label line"
    return params, tags, lines[i]


class Dls(nt.NextupTestCase):
    def test_dls(self):
        a, b = nt.fixture("weather"), nt.fixture("library")
        d = self.daemon(start=False)
        path = os.path.join(d.tmp, "dls.txt")
        d.write_config(extra_sinks=['{ type = "dls"; path = %s; }' % nt.conf_str(path)])
        seen, stop = [], False

        def poll():     # as ODR-PadEnc does: read the whole file, again and again
            while not stop:
                try:
                    with open(path, encoding="utf-8") as f:
                        t = f.read()
                except FileNotFoundError:
                    continue
                if not seen or seen[-1] != t:
                    seen.append(t)
                time.sleep(0.001)
        d.start()
        th = threading.Thread(target=poll, daemon=True)
        th.start()
        try:
            ia = d.add(a)["id"]
            d.wait_on_air(ia, 10)
            ib = d.add(b)["id"]
            nt.wait_for(lambda: any(" - Next: " in s for s in seen), 5, "next up in the label", d.describe)
            # the label settles (b's own ingest may rewrite it once more)
            n_seen = -1
            while n_seen != len(seen):
                n_seen = len(seen)
                time.sleep(0.3)
            self.assertIn(" - Next: ", seen[-1])
            # a reload makes new sinks; the label on air stays as it is
            d.signal(signal.SIGHUP)
            nt.wait_for(lambda: "Configuration reloaded" in d.stderr(), 5, "reload", d.describe)
            time.sleep(0.1)
            self.assertEqual(len(seen), n_seen, seen[n_seen - 1:])
            d.wait_on_air(ib, 30)
            nt.wait_for(lambda: d.status()["state"] == "idle", 30, "idle", d.describe)
            time.sleep(0.2)
        finally:
            stop = True
            th.join()
        ta, tb = nt.SPECS["weather"]["title"], nt.SPECS["library"]["title"]
        labels = []
        for text in seen:
            params, tags, label = parse(text)      # every read is a whole file
            self.assertEqual(params.get("DL_PLUS"), "1")
            self.assertLessEqual(len(label.encode("utf-8")), 128)
            for t, s, n in tags:
                self.assertLessEqual(s + n, len(label))
            labels.append((params, tags, label))
        # the title alone, then with what is next, then the next story
        want_a = (ta, [(1, 0, len(ta))])
        want_a_next = (ta + " - Next: " + tb, [(1, 0, len(ta)), (34, len(ta) + 9, len(tb))])
        got = [(l, t) for _, t, l in labels]
        self.assertIn(want_a, got)
        self.assertIn(want_a_next, got)
        self.assertIn((tb, [(1, 0, len(tb))]), got)
        # the tags cut out exactly the titles
        for p, tags, label in labels:
            for t, s, n in tags:
                self.assertIn(label[s:s + n], (ta, tb))
        # running while on air, off after; the toggle differs between stories
        on_a = [p for p, _, l in labels if l.startswith(ta)]
        on_b = [p for p, _, l in labels if l == tb]
        self.assertEqual(on_a[0]["DL_PLUS_ITEM_RUNNING"], "1")
        self.assertNotEqual(on_a[0]["DL_PLUS_ITEM_TOGGLE"], on_b[0]["DL_PLUS_ITEM_TOGGLE"])
        self.assertEqual(labels[-1][0]["DL_PLUS_ITEM_RUNNING"], "0")
        self.assertFalse(os.path.exists(path + ".tmp"))

    def test_long_and_accented(self):
        """A title past 128 characters is cut on a word boundary; accents
        the DAB set has stay, and the tag covers what is left."""
        fx = nt.fixture("weather")
        d = self.daemon(start=False)
        path = os.path.join(d.tmp, "dls.txt")
        d.write_config(extra_sinks=['{ type = "dls"; path = %s; }' % nt.conf_str(path)])
        tdir = os.path.join(d.tmp, "story")
        os.makedirs(tdir)
        # same audio, a transcript whose title is long and accented
        with open(fx["transcript"], encoding="utf-8") as f:
            text = f.read()
        self.assertGreater(len(LONG), 128)
        tr = os.path.join(tdir, "long.txt")
        with open(tr, "w", encoding="utf-8") as f:
            f.write(text.replace(nt.SPECS["weather"]["title"], LONG + " 🎉"))
        d.start()
        r = d.request({"cmd": "add", "audio": fx["audio"], "transcript": tr})
        self.assertTrue(r["ok"], r)
        d.wait_on_air(r["id"], 10)
        title = d.status()["on_air"]["title"]
        def read():
            with open(path, encoding="utf-8") as f:
                return parse(f.read())
        nt.wait_for(lambda: os.path.exists(path) and read()[2], 5, "label", d.describe)
        params, tags, label = read()
        self.assertLessEqual(len(label), 128)
        self.assertTrue(title.startswith(label), (title, label))
        self.assertTrue(title[len(label)] == " ", "cut at a word boundary")
        self.assertEqual(tags, [(1, 0, len(label))])
        self.assertIn("café où", label)       # é, ù: in the DAB/RDS set, kept


if __name__ == "__main__":
    nt.main()
