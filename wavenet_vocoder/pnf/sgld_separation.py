"""Two-source separation with two linear-quantised WaveNet priors (mixture = source0 + source1).

Edit the constants below or pass them as flags.
"""
import numpy as np

from wavenet_vocoder.audio import load_audio
from wavenet_vocoder.baselines import separate_half
from wavenet_vocoder.cli import parse_args, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.metrics import score
from wavenet_vocoder.pnf import runner
from wavenet_vocoder.pnf.inverse_problems import Separation
from wavenet_vocoder.pnf.langevin import Prior
from wavenet_vocoder.quantize import requantize

SAMPLE_SIZE = -1        # samples of the input to use; -1: the whole file
SGLD_WINDOW = 20000     # samples per Langevin window
BATCH_SIZE = 2          # windows per step
N_STEPS = 256           # moves of each sample per noise level
STEP_SCALE = 0.05       # eta = STEP_SCALE * sigma^2
GAMMA_SCALE = 15.0      # weight of the mixture term, gamma = GAMMA_SCALE / sigma^2
MIX_PEAK = 1.4          # the mixture is scaled to this peak (keeps each source inside the quantiser)

USAGE = f"""Separation: split a mixture into two sources, one prior each.

Usage:
  sgld_separation.py <checkpoint0> <checkpoint1> <input-file1> <input-file2> <output-dir> [options]
  sgld_separation.py <checkpoint0> <checkpoint1> --mixture=<file> <output-dir> [options]

<checkpoint0>, <checkpoint1>: root folders (one checkpoints<sigma>/ per level) of the priors
of source 0 and source 1. With two input files their sum is the mixture and the outputs are
scored against them; with --mixture the file itself is separated.

Options:
  --mixture=<file>       Separate this mixture instead of summing two sources.
  --trim                 Trim two sources of different lengths to the shorter one.
  --implicit-mixture     Take the mixture term as a backward-Euler step (stable at any step
                         size) instead of the published explicit gradient (which needs a
                         step scale below 1/GAMMA_SCALE).
{runner.COMMON_OPTIONS}
Constants: SAMPLE_SIZE={SAMPLE_SIZE} SGLD_WINDOW={SGLD_WINDOW} BATCH_SIZE={BATCH_SIZE} N_STEPS={N_STEPS} STEP_SCALE={STEP_SCALE} GAMMA_SCALE={GAMMA_SCALE}
"""


def load_sources(path0, path1, sample_rate, sample_size, trim):
    """Both sources (peak 1 each), cropped to ``sample_size`` and, with ``trim``, to a common length."""
    s0 = runner.crop(load_audio(path0, sample_rate), sample_size, path0)
    s1 = runner.crop(load_audio(path1, sample_rate), sample_size, path1)
    if s0.size != s1.size:
        if not trim:
            raise PnfError(f"{path0} has {s0.size} samples and {path1} has {s1.size}: "
                           "give sources of the same length, or pass --trim to cut both to the shorter")
        n = min(s0.size, s1.size)
        s0, s1 = s0[:n], s1[:n]
    return s0.astype(np.float64), s1.astype(np.float64)


def main(argv=None):
    args = parse_args(USAGE, argv)
    settings = runner.settings_from_args(args, dict(
        SAMPLE_SIZE=SAMPLE_SIZE, SGLD_WINDOW=SGLD_WINDOW, BATCH_SIZE=BATCH_SIZE, N_STEPS=N_STEPS, STEP_SCALE=STEP_SCALE))
    hp = settings.hparams
    if hp.input_type != "linear-quantize":
        raise PnfError(f"separation needs linear-quantised priors (mixture = source0 + source1), but the "
                       f"preset says input_type={hp.input_type}: use --preset=egs/linear_quantize_max_audio/config.json")
    # Each step moves the sum x0 + x1 towards the mixture by 2 eta gamma = 2 STEP_SCALE GAMMA_SCALE times
    # the residual: from 2 on it overshoots more than it corrects and the sampler diverges.
    implicit = bool(args["--implicit-mixture"])
    if not implicit and 2 * settings.step_scale * GAMMA_SCALE >= 2:
        raise PnfError(f"--step-scale={settings.step_scale:g} is too large for separation: the mixture term "
                       f"(gamma = {GAMMA_SCALE:g} / sigma^2) needs a step scale below {1 / GAMMA_SCALE:.3f}, "
                       "or pass --implicit-mixture")
    priors = [Prior(args[f"<checkpoint{i}>"], hp, settings.sampler.device) for i in (0, 1)]
    for prior in priors:
        prior.require(hp.sigmas)
    if args["--mixture"]:
        inputs = [args["--mixture"]]
        sources = None
        mixture = runner.crop(load_audio(args["--mixture"], hp.sample_rate), settings.sample_size,
                              args["--mixture"]).astype(np.float64)
    else:
        inputs = [args["<input-file1>"], args["<input-file2>"]]
        sources = load_sources(*inputs, hp.sample_rate, settings.sample_size, args["--trim"])
        mixture = sources[0] + sources[1]
    peak = np.max(np.abs(mixture))
    if peak <= 0:
        raise PnfError(f"the mixture of {' and '.join(inputs)} is silent")
    gain = MIX_PEAK / peak
    mixture = mixture * gain
    settings = runner.fit_window(settings, mixture.size)
    quantised = 127.5 * mixture + 255.0
    out = runner.OutputDir(args["<output-dir>"], hp.sample_rate, inputs=inputs)

    def make_task(start, end):
        return Separation(quantised[start:end], gamma_scale=GAMMA_SCALE, implicit=implicit)

    def source_audio(row):
        # Linear quantised units -> audio at the mixture's scale (each source's zero is 127.5).
        return (np.asarray(row, dtype=np.float64) - 127.5) / 127.5

    def outputs(state, start, end):
        return {f"out{i}": source_audio(state[i]) / MIX_PEAK for i in (0, 1)}

    out.wav("mixed.wav", mixture / MIX_PEAK)
    joined, reports, seconds, segments = runner.sample(make_task, runner.segments(settings, mixture.size),
                                                       priors, settings, outputs, out)
    estimates = [joined[f"out{i}"] * MIX_PEAK for i in (0, 1)]
    for i in (0, 1):
        out.wav(f"out{i}.wav", joined[f"out{i}"])
    if args["--plot"]:
        panels = [("mixture", mixture / MIX_PEAK)]
        if sources is not None:
            panels += [(f"source {i} (original)", sources[i] * gain / MIX_PEAK) for i in (0, 1)]
        panels += [(f"PnF source {i}", estimates[i] / MIX_PEAK) for i in (0, 1)]
        out.plot("comparison.png", panels)
    metrics = None
    if sources is not None:
        references = [s * gain for s in sources]
        halves = separate_half(mixture)
        metrics = {f"source{i}": {
            "pnf": score(references[i], estimates[i], hp.sample_rate),
            "baseline": score(references[i], halves[i], hp.sample_rate),
            "ceiling": score(references[i], requantize(references[i], hp.input_type, hp.quantize_channels), hp.sample_rate),
        } for i in (0, 1)}
    residual = estimates[0] + estimates[1] - mixture
    extra = {"samples": int(mixture.size), "mixture_gain": gain, "segments": segments,
             "written_scale": f"wav files are the mixture's scale divided by {MIX_PEAK}",
             "mixture_residual_rms": float(np.sqrt(np.mean(residual ** 2)))}
    out.json("run.json", runner.run_report("separation", args, settings, reports, seconds, metrics, extra))
    return 0


def cli():
    run(main)


if __name__ == "__main__":
    cli()
