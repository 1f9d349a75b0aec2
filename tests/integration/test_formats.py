#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""WAV and FLAC stories: an MP3, a WAV (44.1 kHz, the output's rate) and a
FLAC at 48 kHz (resampled by libsoxr) played back to back into libao's
"wav" driver leave exactly the sum of their lengths at 44.1 kHz in the
file: gapless, nothing padded. The MP3 and WAV parts are the stories'
samples; the FLAC part is the story again within resampling error; every
story's captions land."""
import math
import os
import subprocess

import nextuptest as nt
from test_wav_gapless import samples, wav_data

RATE = 44100


def convert(src_mp3, dst, rate=None):
    """MP3 -> WAV with mpg123 (its own rate), then to DST (any format sox
    writes, at RATE when given)."""
    wav = dst + ".tmp.wav"
    subprocess.run(["mpg123", "-q", "-w", wav, src_mp3], check=True)
    if dst.endswith(".wav") and not rate:
        os.rename(wav, dst)
        return
    cmd = ["sox", wav, dst] + (["rate", "-v", str(rate)] if rate else [])
    subprocess.run(cmd, check=True)
    os.remove(wav)


def frames_of(path):
    out = subprocess.run(["soxi", "-s", path], capture_output=True, text=True, check=True)
    return int(out.stdout)


class Formats(nt.NextupTestCase):
    def test_mp3_wav_flac_back_to_back(self):
        mp3, w, f = (nt.fixture(n) for n in ("weather", "library", "pier"))
        wav = dict(w, audio=os.path.join(self.tmp, "library.wav"))
        flac = dict(f, audio=os.path.join(self.tmp, "pier-48k.flac"))
        convert(w["audio"], wav["audio"])
        convert(f["audio"], flac["audio"], 48000)
        flac_frames = frames_of(flac["audio"])
        stories = [mp3, wav, flac]

        d = self.daemon(output="wav", rate=RATE, channels=1, webvtt=False, startup=stories)
        total_s = sum(s["truth"]["duration_ms"] for s in stories) / 1000.0
        nt.wait_for(lambda: len({c["story_id"] for c in d.cues()}) == 3 and d.status()["state"] == "idle",
                    total_s + 20, "three stories aired", d.describe)
        self.assertStops(d)
        self.assertNotIn("error", d.stderr().lower().replace("errors", ""), d.stderr()[-2000:])

        channels, rate, bits, data = wav_data(d.wav)
        self.assertEqual((channels, rate, bits), (1, RATE, 16))
        parts = [nt.decoded_samples(s["audio"])[1] for s in (mp3, w, f)]
        want_flac = (flac_frames * RATE + 24000) // 48000
        want = len(parts[0]) // 2 + len(parts[1]) // 2 + want_flac
        got = samples(data)
        print("wav: %d frames, stories: %d frames (%+d)" % (len(got), want, len(got) - want))
        self.assertEqual(len(got), want, "gapless: frames in the wav vs the stories' lengths at 44.1 kHz")

        # MP3 then WAV: the same samples in the same places.
        exact = samples(parts[0] + parts[1])
        bad = next((i for i in range(len(exact)) if abs(got[i] - exact[i]) > 2), None)
        self.assertIsNone(bad, "wav differs from the MP3/WAV stories from frame %s" % bad)

        # The FLAC (44.1 -> 48 kHz by sox, back by soxr): the original story
        # within resampling error, in the same place.
        orig, start = samples(parts[2]), len(exact)
        n = min(len(orig), len(got) - start)
        err = sum((got[start + i] - orig[i]) ** 2 for i in range(n))
        sig = sum(orig[i] ** 2 for i in range(n))
        snr = 10 * math.log10(sig / max(err, 1))
        print("flac part: %.1f dB signal to error after two resamplings" % snr)
        self.assertGreater(snr, 30, "the resampled FLAC does not match its story")

        cues = d.cues()
        for sid in (1, 2, 3):
            self.assertTrue([c for c in cues if c["story_id"] == sid], "no captions for story %d" % sid)


if __name__ == "__main__":
    nt.main()
