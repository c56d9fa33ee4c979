"""What a prior does with a band it never heard: super-resolution of full-band audio, measured
below and above a frequency.

Usage:
  upper_band.py <prior> <audio>... --preset=<json> [options]

Each clean file (mono, the preset's rate, peak 1, its first --seconds) is degraded by keeping
every --factor-th sample and restored by the super-resolution script as a user runs it (its
defaults: a warm start where the preset asks for one), and by band-limited interpolation and a
cubic spline. For each estimate it reports the log-spectral distance below and above --split-hz
and the estimate's level above --split-hz against the clean file's (dB; 0 is as loud as the
original there; the mean over files, then the range), beside "the clean file low-passed at
--split-hz", what a restoration that leaves that band empty scores, and the clean file through
the prior's 8-bit quantiser, which no output of the prior can beat. Priors trained on 16 kHz speech (nothing above 8 kHz) meet full-band
speech this way. Writes <out>/upper_band.md (means over files) and each run's folder.

Options:
  --preset=<json>        Preset of the prior.
  --split-hz=<f>         The frequency the bands meet at [default: 8000].
  --factor=<r>           Keep every r-th sample [default: 4].
  --seconds=<s>          Seconds of each file, from its start [default: 2.0].
  --trim                 Cut each file's leading and trailing silence (40 dB below its peak)
                         first: isolated words are mostly silence.
  --n-steps=<n>          Moves of each sample per level [default: 32].
  --seed=<n>             Seed of every run [default: 0].
  --out=<dir>            Output folder [default: upper_band_outputs].
  -h, --help             Show this help.
"""
import os

import numpy as np
import scipy.signal

from wavenet_vocoder.audio import load_audio, save_wav, trim_silence, write_atomically
from wavenet_vocoder.baselines import superres_bandlimited, superres_cubic
from wavenet_vocoder.cli import parse_args, parse_float, parse_int, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.metrics import band_bins, band_level, lsd
from wavenet_vocoder.pnf import sgld_superres
from wavenet_vocoder.quantize import requantize

METHODS = ("PnF", "band-limited interpolation", "cubic spline", "the clean file low-passed at the split",
           "the clean file through the prior's quantiser (ceiling)")


def lowpass(x, rate, cutoff_hz):
    """``x`` through a zero-phase 8th-order Butterworth low-pass at ``cutoff_hz``."""
    sos = scipy.signal.butter(8, cutoff_hz, fs=rate, output="sos")
    return scipy.signal.sosfiltfilt(sos, x)


def band_scores(clean, estimate, rate, split_hz):
    """{"lsd below", "lsd above", "level above (dB)"} of ``estimate`` against ``clean`` (both (T,))."""
    below, above = band_bins(rate, 0, split_hz), band_bins(rate, split_hz)
    return {"lsd below": lsd(clean, estimate, bins=below), "lsd above": lsd(clean, estimate, bins=above),
            "level above (dB)": band_level(clean, estimate, above)}


def restore(prior, preset, source, factor, folder, n_steps, seed, rate):
    """PnF's restoration of the file ``source`` from every ``factor``-th sample: the task script run on
    it, into ``folder``; returns its out.wav (at ``rate``, the preset's)."""
    sgld_superres.main([prior, source, folder, f"--preset={preset}", f"--downsample_interval={factor}",
                        f"--n-steps={n_steps}", "--schedule=tiled", f"--seed={seed}", "--no-progress"])
    return load_audio(os.path.join(folder, "out.wav"), rate, normalize=False)


def main(argv=None):
    args = parse_args(__doc__, argv)
    hp = load_preset(args["--preset"])
    rate = hp.sample_rate
    split = parse_float(args["--split-hz"], "--split-hz")
    if split >= rate / 2:
        raise PnfError(f"--split-hz={split:g} must lie below half the preset's rate ({rate / 2:g} Hz)")
    factor = parse_int(args["--factor"], "--factor", 2)
    seconds = parse_float(args["--seconds"], "--seconds")
    n_steps, seed = parse_int(args["--n-steps"], "--n-steps", 1), parse_int(args["--seed"], "--seed", 0)
    rows = {method: [] for method in METHODS}
    for k, path in enumerate(args["<audio>"]):
        folder = os.path.join(args["--out"], f"{k:02d}_{os.path.splitext(os.path.basename(path))[0]}")
        os.makedirs(folder, exist_ok=True)
        clean = load_audio(path, rate)
        clean = (trim_silence(clean, top_db=40) if args["--trim"] else clean)[:int(round(seconds * rate))]
        clean = clean[:clean.size // factor * factor]
        # what is scored is what the script reads: the excerpt as 16-bit PCM (and its low-pass, to listen)
        save_wav(os.path.join(folder, "clean.wav"), clean, rate)
        clean = load_audio(os.path.join(folder, "clean.wav"), rate, normalize=False)
        lowpassed = lowpass(clean, rate, split)
        save_wav(os.path.join(folder, "lowpassed.wav"), lowpassed, rate)
        kept = clean[::factor]
        estimates = {
            "PnF": restore(args["<prior>"], args["--preset"], os.path.join(folder, "clean.wav"), factor,
                           os.path.join(folder, "pnf"), n_steps, seed, rate)[:clean.size],
            "band-limited interpolation": superres_bandlimited(kept, factor, clean.size),
            "cubic spline": superres_cubic(kept, factor, clean.size),
            "the clean file low-passed at the split": lowpassed,
            "the clean file through the prior's quantiser (ceiling)": requantize(clean, hp.input_type,
                                                                                  hp.quantize_channels),
        }
        for method, estimate in estimates.items():
            rows[method].append(band_scores(clean, estimate, rate, split))
    keys = ("lsd below", "lsd above")
    lines = [f"{factor}x super-resolution, {len(args['<audio>'])} file(s) of up to {seconds:g} s, "
             f"bands below and above {split:g} Hz (means over files):", "",
             "| method | LSD below | LSD above | level above (dB) |", "| --- | --- | --- | --- |"]
    for method, scores in rows.items():
        levels = [s["level above (dB)"] for s in scores]
        spread = f" ({min(levels):.1f} to {max(levels):.1f})" if len(levels) > 1 else ""
        lines.append(f"| {method} | " + " | ".join(f"{np.mean([s[key] for s in scores]):.2f}" for key in keys)
                     + f" | {np.mean(levels):.2f}{spread} |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    os.makedirs(args["--out"], exist_ok=True)
    write_atomically(os.path.join(args["--out"], "upper_band.md"), lambda f: f.write(text), mode="w")
    return 0


if __name__ == "__main__":
    run(main)
