"""How a set of recordings spreads its energy over frequency bands: is the training audio as bright as the audio a
prior will restore?

Usage:
  band_levels.py [options] <path>...

Each <path> (an audio file, a folder searched recursively as pnf-preprocess searches it, or a quoted pattern such
as 'voice/en-*.wav') is one row: the share of the energy (power spectrum, Hann-windowed frames of --n-fft
samples) that falls in each band between --edges, in dB of the total, averaged over the path's files (each file
weighs the same, whatever its level or length; the first --seconds of each, mono, at --sample-rate). With the
default edges at 22.05 kHz the first band is what 4x super-resolution keeps (below 22050 / 8 = 2756 Hz) and the
others are what a prior must paint in: a prior trained on audio whose upper bands sit 10 dB higher than the
recording's paints them 10 dB too loud.

Options:
  --edges=<hz>           Band edges in Hz, comma-separated, increasing, the last at most half the sample rate
                         [default: 0,2756,5512,8000,11025].
  --sample-rate=<hz>     Rate every file is resampled to [default: 22050].
  --seconds=<s>          Seconds of each file to use, -1 for all [default: 30].
  --max-files=<n>        At most this many files of each folder or pattern, evenly spaced in sorted order;
                         0 for all [default: 0].
  --n-fft=<n>            Frame length in samples [default: 2048].
  -h, --help             Show this help.
"""

import numpy as np

from wavenet_vocoder.audio import load_audio
from wavenet_vocoder.cli import parse_args, parse_float, parse_int, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.preprocess import audio_files, audio_label


def band_shares(audio, sample_rate, edges, n_fft):
    """The fraction of ``audio``'s power in each band [edges[i], edges[i+1]) Hz (the last band includes its top)."""
    if audio.size < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.size))
    hop = n_fft // 4
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop] * np.hanning(n_fft)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(axis=0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    band = np.searchsorted(edges, freqs, side="right") - 1
    band[freqs == edges[-1]] = len(edges) - 2
    energy = np.array([power[band == i].sum() for i in range(len(edges) - 1)])
    return energy / energy.sum()


def main(argv=None):
    args = parse_args(__doc__, argv)
    rate = parse_int(args["--sample-rate"], "--sample-rate", 1)
    n_fft = parse_int(args["--n-fft"], "--n-fft", 16)
    seconds = parse_float(args["--seconds"], "--seconds", positive=False)
    max_files = parse_int(args["--max-files"], "--max-files", 0)
    try:
        edges = np.array([float(v) for v in args["--edges"].split(",") if v.strip()])
    except ValueError:
        raise PnfError(f"--edges={args['--edges']}: give band edges in Hz, e.g. 0,2756,5512,11025") from None
    if edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] < 0 or edges[-1] > rate / 2:
        raise PnfError(f"--edges={args['--edges']}: give at least two increasing edges from 0 Hz to at most half "
                       f"of --sample-rate ({rate / 2:g} Hz)")
    length = int(seconds * rate) if seconds > 0 else None
    sets = [(path, audio_files(path, max_files)) for path in args["<path>"]]   # every path checked first
    rows = []
    for path, files in sets:
        shares = np.mean([band_shares(load_audio(f, rate)[:length], rate, edges, n_fft) for f in files], axis=0)
        rows.append(f"| {audio_label(path)} | {len(files)} | "
                    + " | ".join(f"{10 * np.log10(max(s, 1e-30)):.1f}" for s in shares) + " |")
    names = [f"{a:g}-{b:g} Hz" for a, b in zip(edges[:-1], edges[1:])]
    print("\n".join(["| audio | files | " + " | ".join(names) + " |", "| --- | --- |" + " --- |" * len(names)] + rows))
    return 0


if __name__ == "__main__":
    run(main)
