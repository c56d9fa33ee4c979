"""Super-resolution with a WaveNet prior: keep every r-th sample and sample the rest, or upsample a low-rate file.

Edit the constants below or pass them as flags.
"""
import sys

import librosa
import numpy as np

from wavenet_vocoder.audio import audio_rate, load_audio
from wavenet_vocoder.baselines import superres_bandlimited
from wavenet_vocoder.cli import parse_args, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.lowrate import decimate
from wavenet_vocoder.metrics import score
from wavenet_vocoder.pnf import runner
from wavenet_vocoder.pnf.inverse_problems import LowRateSuperResolution, SuperResolution
from wavenet_vocoder.pnf.langevin import Prior
from wavenet_vocoder.quantize import quantize, requantize

SAMPLE_SIZE = -1        # samples of the input to use; -1: the whole file
SGLD_WINDOW = 20000     # samples per Langevin window
BATCH_SIZE = 2          # windows per step
N_STEPS = 256           # moves of each sample per noise level
STEP_SCALE = 0.05       # eta = STEP_SCALE * sigma^2
OBS_WEIGHT = 1.0        # low-rate observation term: gamma = OBS_WEIGHT / sigma^2

USAGE = f"""Super-resolution: restore every sample of <input-file> from every r-th one, or
upsample a low-rate recording to the preset's rate.

Usage:
  sgld_superres.py <checkpoint> <input-file> <output-dir> [options]

<checkpoint> is the root folder holding one checkpoints<sigma>/ folder per level.

Three observation models. By default (the published one) the clean input is cut to every
r-th sample and those samples are kept fixed. With --antialias the clean input is
low-passed and decimated (as a resampler makes a low-rate file) and the output is pulled
towards that observation by a likelihood term (--obs-weight). With --input-rate the input
file itself is the low-rate recording: the same likelihood term, the output at the preset's
rate, and no reference to measure against (run.json has no metrics).

Options:
  --downsample_interval=<r>  Keep every r-th sample (r >= 2) [default: 4].
  --antialias                Degrade by anti-aliasing low-pass and decimation by r instead of
                             keeping every r-th sample.
  --input-rate=<hz>          The input is a low-rate recording at this rate ("file": the rate
                             its header gives); the ratio is the preset's rate over it,
                             rounded (a non-integer ratio resamples the input to the nearest
                             integer grid first, and says so).
  --obs-weight=<w>           Weight of the low-rate observation term, gamma = w / sigma^2 in
                             quantised units (OBS_WEIGHT); taken implicitly, so any weight is
                             stable, and at 1 the estimate keeps the observation closely.
{runner.COMMON_OPTIONS}
Constants: SAMPLE_SIZE={SAMPLE_SIZE} SGLD_WINDOW={SGLD_WINDOW} BATCH_SIZE={BATCH_SIZE} N_STEPS={N_STEPS} STEP_SCALE={STEP_SCALE} OBS_WEIGHT={OBS_WEIGHT}
"""


def main(argv=None):
    args = parse_args(USAGE, argv)
    settings = runner.settings_from_args(args, dict(
        SAMPLE_SIZE=SAMPLE_SIZE, SGLD_WINDOW=SGLD_WINDOW, BATCH_SIZE=BATCH_SIZE, N_STEPS=N_STEPS, STEP_SCALE=STEP_SCALE))
    hp = settings.hparams
    prior = Prior(args["<checkpoint>"], hp, settings.sampler.device)
    prior.require(hp.sigmas)
    if args["--input-rate"] is not None:
        return upsample_recording(args, settings, prior)
    interval = runner.parse_int(args["--downsample_interval"], "--downsample_interval", 2)
    clean = runner.crop(load_audio(args["<input-file>"], hp.sample_rate), settings.sample_size,
                        args["<input-file>"])
    settings = runner.fit_window(settings, clean.size)
    out = runner.OutputDir(args["<output-dir>"], hp.sample_rate, inputs=[args["<input-file>"]])
    antialias = bool(args["--antialias"])
    if antialias:
        low = decimate(clean, interval)
        described = f"input: low-passed, every {interval}th sample, band-limited interpolation"

        def make_task(start, end):
            return low_rate_task(args, settings, decimate(clean[start:end], interval), interval, end - start)
    else:
        low = clean[::interval]
        observed = quantize(clean, hp.input_type, hp.quantize_channels)
        described = f"input: every {interval}th sample, band-limited interpolation"

        def make_task(start, end):
            return SuperResolution(observed[start:end], interval)
    baseline = superres_bandlimited(low, interval, clean.size)
    out.wav("x_original.wav", clean)
    out.wav("x_modified.wav", baseline)

    def outputs(state, start, end):
        y = runner.to_audio(state[0], hp)
        if not antialias:
            # The kept samples are returned as they were in the input, not through the quantiser.
            y[::interval] = clean[start:end:interval]
        return {"out": y}

    bounds = runner.segments(settings, clean.size, align=interval)
    joined, reports, seconds, listed = runner.sample(make_task, bounds, [prior], settings, outputs, out)
    estimate = joined["out"]
    out.wav("out.wav", estimate)
    if args["--plot"]:
        out.plot("comparison.png", [("original", clean), (described, baseline), ("PnF output", estimate)],
                 cutoff_hz=hp.sample_rate / (2 * interval))
    metrics = {"pnf": score(clean, estimate, hp.sample_rate), "baseline": score(clean, baseline, hp.sample_rate),
               "ceiling": score(clean, requantize(clean, hp.input_type, hp.quantize_channels), hp.sample_rate)}
    extra = {"downsample_interval": interval, "samples": int(clean.size),
             "observation": "antialias" if antialias else "every r-th sample", "segments": listed}
    if antialias:
        extra["obs_weight"] = obs_weight(args)
    out.json("run.json", runner.run_report("superres", args, settings, reports, seconds, metrics, extra))
    return 0


def obs_weight(args):
    """The low-rate observation term's weight: --obs-weight, or OBS_WEIGHT."""
    return runner.parse_float(args["--obs-weight"] if args["--obs-weight"] is not None else OBS_WEIGHT,
                              "--obs-weight")


def low_rate_task(args, settings, low, ratio, length):
    """The low-rate observation task with the --obs-weight flag's (or OBS_WEIGHT's) weight."""
    hp = settings.hparams
    return LowRateSuperResolution(low, ratio, length, hp.input_type, hp.quantize_channels, obs_weight(args))


def upsample_recording(args, settings, prior):
    """--input-rate: the input file is the low-rate observation; write it upsampled to the preset's rate."""
    hp = settings.hparams
    path = args["<input-file>"]
    rate = audio_rate(path) if args["--input-rate"] == "file" else runner.parse_float(args["--input-rate"], "--input-rate")
    ratio = int(round(hp.sample_rate / rate))
    if ratio < 2:
        raise PnfError(f"--input-rate={rate:g} Hz: the preset's rate is {hp.sample_rate} Hz, less than twice that; "
                       "nothing to upsample")
    grid = hp.sample_rate / ratio
    low = load_audio(path, rate)
    if abs(grid - rate) > 1e-6 * rate:
        print(f"note: {hp.sample_rate} / {rate:g} Hz is not an integer ratio: resampling the input to {grid:g} Hz "
              f"first, then upsampling by {ratio}", file=sys.stderr)
        low = librosa.resample(low.astype(np.float64), orig_sr=rate, target_sr=grid, res_type="soxr_hq")
    if settings.sample_size > 0:
        low = low[:-(-settings.sample_size // ratio)]
    length = low.size * ratio
    if length < 16:
        raise PnfError(f"{path} has only {low.size} samples: too short to sample")
    settings = runner.fit_window(settings, length)
    weight = obs_weight(args)
    out = runner.OutputDir(args["<output-dir>"], hp.sample_rate, inputs=[path])
    baseline = superres_bandlimited(low, ratio, length)
    out.wav("x_modified.wav", baseline)

    def make_task(start, end):
        return low_rate_task(args, settings, low[start // ratio:-(-end // ratio)], ratio, end - start)

    def outputs(state, start, end):
        return {"out": runner.to_audio(state[0], hp)}

    bounds = runner.segments(settings, length, align=ratio)
    joined, reports, seconds, listed = runner.sample(make_task, bounds, [prior], settings, outputs, out)
    estimate = joined["out"]
    out.wav("out.wav", estimate)
    if args["--plot"]:
        out.plot("comparison.png", [(f"input at {grid:g} Hz, band-limited interpolation", baseline),
                                    ("PnF output", estimate)], cutoff_hz=grid / 2)
    out.json("run.json", runner.run_report("superres", args, settings, reports, seconds, None, {
        "observation": "low-rate recording", "input_rate": rate, "grid_rate": grid, "ratio": ratio,
        "obs_weight": weight, "samples": int(length), "segments": listed}))
    return 0


def cli():
    run(main)


if __name__ == "__main__":
    cli()
