"""A ten-minute file runs with memory that grows with the signal only, never with activations over it."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import REPO, make_root, tiny_hparams

SR = 22050
RUN_AND_REPORT_PEAK = """
import sys
from wavenet_vocoder.pnf import sgld_superres
assert sgld_superres.main(sys.argv[1:]) == 0
with open("/proc/self/status") as f:
    print([int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:")][0])
"""


def peak_bytes(argv):
    """Peak resident bytes of a fresh process running pnf-superres (VmHWM starts anew at exec)."""
    done = subprocess.run([sys.executable, "-c", RUN_AND_REPORT_PEAK] + argv, capture_output=True, text=True,
                          cwd=REPO, check=True)
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("segment", [[], ["--segment", "20"]], ids=["whole", "segments"])
def test_ten_minutes_of_audio_in_bounded_memory(tmp_path, segment):
    if not os.path.exists("/proc/self/status"):
        pytest.skip("the peak is read from Linux's /proc")
    root, preset = make_root(tmp_path / "tiny", tiny_hparams(sigmas="[1.0]"))
    peaks = {}
    for minutes in (1, 10):
        t = np.arange(minutes * 60 * SR) / SR
        path = tmp_path / f"{minutes}min.wav"
        sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 0.3 * t), SR, subtype="PCM_16")
        out = tmp_path / f"out{minutes}"
        peaks[minutes] = peak_bytes([root, str(path), str(out), f"--preset={preset}", "--n-steps", "1",
                                     "--schedule", "tiled", "--no-progress"] + segment)
        report = json.loads((out / "run.json").read_text())
        assert report["samples"] == len(t) == sf.info(out / "out.wav").frames == sf.info(out / "out_1.0.wav").frames
        assert len(report["segments"]) == (1 if not segment else minutes * 3)
    # Activations over the whole signal would cost about a kilobyte per sample even for this
    # tiny model; the signal's own arrays (input, state, outputs) cost tens of bytes per sample
    # (56 measured whole, 71 in segments), the metrics' spectrograms nothing more (computed in blocks
    # of frames).
    extra_samples = 9 * 60 * SR
    print(f"peak resident: 1 min {peaks[1] / 2 ** 20:.0f} MiB, 10 min {peaks[10] / 2 ** 20:.0f} MiB")
    assert (peaks[10] - peaks[1]) / extra_samples < 150, peaks
