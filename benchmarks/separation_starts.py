"""Do separation's chains travel between half the mixture and the true sources?

Usage:
  separation_starts.py [options]

Runs separation's sampler (the engine, the task's implicit mixture term, tiled windows) on one
piano + voice pair from two starts: half the mixture in each source (the task's warm start)
and the true sources themselves, an oracle start that no user has. The same levels, steps,
step size and seed follow each start, and the SI-SDR (dB) of each source is measured after
every level. A level may be repeated (--sigmas=1,1,1,1) to watch chains at one level over
time. Chains from the two starts that end in the same place are sampling the posterior the
priors define, wherever they start; chains that keep their start apart are not travelling
between the two, and the posterior near the true sources is out of reach of the task's start.
Writes the table (markdown) to stdout and, with --out, to that file.

Options:
  --models=<dir>         Folder with linear_piano/, linear_voice/ and their presets
                         (linear_piano.json, whose levels and sample rate are used) [default: egs/pnf_real].
  --piano=<wav>          Source 0 [default: egs/sample_piano.wav].
  --voice=<wav>          Source 1 [default: egs/sample_voice.wav].
  --seconds=<s>          Seconds from the start of each file [default: 1.0].
  --sigmas=<list>        Levels in order (quantised units); repeat one to stay at it [default: 1,1,1,1].
  --n-steps=<n>          Moves of each sample per level [default: 64].
  --step-scale=<c>       Step size eta = c sigma^2 [default: 1.0].
  --gamma-scale=<g>      Mixture term weight, gamma = g / sigma^2 [default: 15].
  --mix-peak=<p>         The mixture's peak, as separation's MIX_PEAK [default: 1.4].
  --starts=<list>        Starts to run: half, truth [default: half,truth].
  --seed=<n>             Seed of every chain [default: 0].
  --threads=<n>          Torch threads [default: 2].
  --out=<file>           Also write the table here.
  -h, --help             Show this help.
"""
import os
import time

import numpy as np

from wavenet_vocoder.audio import load_audio, write_atomically
from wavenet_vocoder.baselines import separate_half
from wavenet_vocoder.cli import parse_args, parse_float, parse_int, run
from wavenet_vocoder.deferred import deferred_import
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.metrics import si_sdr
from wavenet_vocoder.pnf.langevin import SamplerConfig, anneal
from wavenet_vocoder.pnf.noise_schedule import AnnealingSchedule
from wavenet_vocoder.pnf.priors import Prior
from wavenet_vocoder.pnf.tasks.separation import Separation, mixture_gain, mixture_units, source_audio
from wavenet_vocoder.quantize import linear_zero

torch = deferred_import("torch")

STARTS = ("half", "truth")


class StartedAt(Separation):
    """Separation whose warm start (``baseline``) is a given state (2, T) in quantised units."""

    def __init__(self, mixture, start, **kwargs):
        super().__init__(mixture, **kwargs)
        self.start = torch.as_tensor(start, dtype=torch.float32)

    def baseline(self):
        return self.start.clone()


def pair(piano, voice, sample_rate, samples, mix_peak):
    """The two sources (audio, peak 1 each, cut to ``samples``) scaled as separation scales them:
    returns (sources (2, T), mixture (T,)) at the mixture's peak ``mix_peak``."""
    sources = [load_audio(path, sample_rate)[:samples].astype(np.float64) for path in (piano, voice)]
    n = min(s.size for s in sources)
    sources = np.stack([s[:n] for s in sources])
    mixture = sources.sum(axis=0)
    gain = mixture_gain(mixture, mix_peak, f"{piano} and {voice}")
    return sources * gain, mixture * gain


def true_state(sources, channels):
    """The true sources (2, T) as a state in quantised units, each on its own quantiser: Z * s + Z."""
    zero = linear_zero(channels)
    return zero * sources + zero


def run_chain(start, sources, mixture, priors, hp, args):
    """One chain from ``start``; returns [(sigma, SI-SDR of source 0, of source 1)] after each level."""
    channels = hp.quantize_channels
    units = mixture_units(mixture, channels)
    kwargs = {"gamma_scale": args["gamma_scale"], "implicit": True}
    if start == "half":                             # the task's own warm start
        task = Separation(units, **kwargs)
    else:
        task = StartedAt(units, true_state(sources, channels), **kwargs)
    schedule = AnnealingSchedule(args["sigmas"], args["step_scale"])
    config = SamplerConfig(n_steps=args["n_steps"], window=mixture.size, windows_per_step=1, schedule="tiled",
                           seed=args["seed"], init="baseline", progress=False)
    after = []

    def on_level(sigma, state):
        estimates = [source_audio(state[i].numpy(), channels) for i in (0, 1)]
        after.append((sigma, *(si_sdr(sources[i], estimates[i]) for i in (0, 1))))

    anneal(task, priors, schedule, config, on_level=on_level)
    return after


def table(results, sources, mixture, sigmas):
    """Markdown: one row per start, SI-SDR piano / voice (dB) at the start and after each level."""
    half = [si_sdr(sources[i], estimate) for i, estimate in enumerate(separate_half(mixture))]
    head = "| start | at the start | " + " | ".join(f"after sigma {s:g} ({k + 1})" for k, s in enumerate(sigmas)) + " |"
    rows = [head, "| --- " * (len(sigmas) + 2) + "|"]
    for start, after in results.items():
        first = f"{half[0]:.2f} / {half[1]:.2f}" if start == "half" else "inf / inf"
        cells = [f"{p:.2f} / {v:.2f}" for _, p, v in after]
        rows.append(f"| {start} | {first} | " + " | ".join(cells) + " |")
    return rows


def parse(argv):
    args = parse_args(__doc__, argv)
    sigmas = tuple(parse_float(v, "--sigmas") for v in args["--sigmas"].split(",") if v.strip())
    starts = [s.strip() for s in args["--starts"].split(",") if s.strip()]
    if not starts or any(s not in STARTS for s in starts):
        raise PnfError(f"--starts={args['--starts']}: choose from {', '.join(STARTS)}")
    if not sigmas:
        raise PnfError(f"--sigmas={args['--sigmas']}: give at least one level, e.g. 1,1,1,1")
    values = {"sigmas": sigmas, "starts": starts, "n_steps": parse_int(args["--n-steps"], "--n-steps", minimum=1),
              "step_scale": parse_float(args["--step-scale"], "--step-scale"),
              "gamma_scale": parse_float(args["--gamma-scale"], "--gamma-scale"),
              "mix_peak": parse_float(args["--mix-peak"], "--mix-peak"),
              "seconds": parse_float(args["--seconds"], "--seconds"),
              "seed": parse_int(args["--seed"], "--seed"),
              "threads": parse_int(args["--threads"], "--threads", minimum=1)}
    return args, values


def main(argv=None):
    args, values = parse(argv)
    models = args["--models"]
    preset = os.path.join(models, "linear_piano.json")
    if not os.path.isfile(preset):
        raise PnfError(f"--models={models} has no linear_piano.json: point it at a folder with both linear priors")
    hp = load_preset(preset)
    torch.set_num_threads(values["threads"])
    priors = [Prior(os.path.join(models, name), hp) for name in ("linear_piano", "linear_voice")]
    for prior in priors:
        prior.require(sorted(set(values["sigmas"]), reverse=True))
    samples = int(round(values["seconds"] * hp.sample_rate))
    sources, mixture = pair(args["--piano"], args["--voice"], hp.sample_rate, samples, values["mix_peak"])
    started = time.perf_counter()
    results = {start: run_chain(start, sources, mixture, priors, hp, values) for start in values["starts"]}
    rows = table(results, sources, mixture, values["sigmas"])
    rows.append("")
    rows.append(f"SI-SDR piano / voice (dB); {mixture.size} samples, {values['n_steps']} steps per level at step scale "
                f"{values['step_scale']:g}, seed {values['seed']}; {time.perf_counter() - started:.0f} s")
    text = "\n".join(rows)
    print(text)
    if args["--out"]:
        write_atomically(args["--out"], lambda f: f.write(text + "\n"), mode="w")
    return 0


if __name__ == "__main__":
    run(main)
