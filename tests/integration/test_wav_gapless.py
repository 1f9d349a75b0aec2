#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Gapless: three stories played into libao's "wav" driver (44.1 kHz mono,
the fixtures' own format, so no resampling) leave exactly the sum of their
decoded lengths in the file, sample for sample: no gap, no padding, no
encoder delay."""
import array
import struct
import sys

import nextuptest as nt


def wav_data(path):
    """-> (channels, rate, data bytes).  The data chunk runs to the end of
    the file: the size field is not trusted (libao fixes it on close)."""
    with open(path, "rb") as f:
        blob = f.read()
    assert blob[:4] == b"RIFF" and blob[8:12] == b"WAVE", "not a RIFF/WAVE file"
    pos, fmt = 12, None
    while pos + 8 <= len(blob):
        cid, size = blob[pos:pos + 4], struct.unpack("<I", blob[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", blob[pos + 8:pos + 24])
        if cid == b"data":
            return fmt[1], fmt[2], fmt[5], blob[pos + 8:]
        pos += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


def samples(data):
    a = array.array("h", data)
    if sys.byteorder == "big":
        a.byteswap()
    return a


class WavGapless(nt.NextupTestCase):
    def test_three_stories(self):
        fxs = [nt.fixture(n) for n in ("weather", "library", "pier")]
        d = self.daemon(output="wav", rate=44100, channels=1, webvtt=False, startup=fxs)
        total_s = sum(f["truth"]["duration_ms"] for f in fxs) / 1000.0
        nt.wait_for(lambda: len({c["story_id"] for c in d.cues()}) == 3 and d.status()["state"] == "idle",
                    total_s + 15, "three stories aired", d.describe)
        self.assertStops(d)

        channels, rate, bits, data = wav_data(d.wav)
        self.assertEqual((channels, rate, bits), (1, 44100, 16))
        expect = b""
        for f in fxs:
            ch, pcm = nt.decoded_samples(f["audio"])
            self.assertEqual(ch, 1)
            self.assertEqual(len(pcm) // 2, f["truth"]["frames"])
            expect += pcm
        got_frames, want_frames = len(data) // 2, len(expect) // 2
        print("wav: %d frames, stories: %d frames (%+d)" % (got_frames, want_frames, got_frames - want_frames))
        self.assertEqual(got_frames, want_frames, "frames in the wav vs the stories' decoded lengths")

        # Same samples in the same places (allow rounding differences of a
        # couple of LSB between decoder set-ups).
        got, want = samples(data), samples(expect)
        bad = next((i for i in range(len(want)) if abs(got[i] - want[i]) > 2), None)
        self.assertIsNone(bad, "wav differs from the stories from frame %s (%.3f s)"
                          % (bad, (bad or 0) / 44100.0))


if __name__ == "__main__":
    nt.main()
