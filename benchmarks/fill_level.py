"""How loud PnF fills a gap, against the original there, and what decides it: the prior or the sampler.

Usage:
  fill_level.py <prior> <audio> --preset=<json> [options]

Cuts one gap out of <audio> (read as the task scripts read it: mono, the preset's rate, peak 1)
and measures the level of what fills it, in dB against the original's RMS in the gap:
  - PnF inpainting at each setting of --settings (steps per level x step scale), after every
    level of the schedule and at the end, with the gap SNR;
  - the prior's own continuations: ancestral samples of the gap's length drawn after the
    context before the gap (at the lowest level of the schedule), which is the level the
    prior itself expects there, whatever the sampler does;
  - LPC extrapolation from both sides, for scale.
A fill well below the continuations' level comes from the sampler; a continuation below 0 dB
comes from the prior. Writes <out>/fill_level.md and one inpainting folder per setting and seed.

Options:
  --preset=<json>        The prior's preset.
  --gap=<a,b>            The gap, seconds [default: 0.45,0.55].
  --sample-size=<n>      Samples of the file to use, -1 for all [default: -1].
  --settings=<list>      Steps x step scale of each PnF run [default: 32x1.0,32x0.3,256x0.05].
  --seeds=<n>            PnF runs per setting (seeds 0..n-1) [default: 1].
  --continuations=<n>    Ancestral continuations (seeds 0..n-1) [default: 6].
  --threads=<n>          Torch threads [default: 1].
  --out=<dir>            Output folder [default: fill_level_outputs].
  -h, --help             Show this help.
"""
import glob
import json
import os
import shutil
import sys

import numpy as np
import soundfile as sf
import torch

from wavenet_vocoder.audio import load_audio, write_atomically
from wavenet_vocoder.baselines import inpaint_lpc
from wavenet_vocoder.cli import describe_device, parse_args, parse_int, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.metrics import snr
from wavenet_vocoder.pnf import sgld_inpainting
from wavenet_vocoder.pnf.command import run_task, script_constants
from wavenet_vocoder.pnf.priors import Prior
from wavenet_vocoder.pnf.tasks import inpainting
from wavenet_vocoder.quantize import dequantize, quantize
from wavenet_vocoder.synthesis import ancestral_sample

#: The inpainting script's constants (steps and step scale come from --settings).
INPAINTING = script_constants(sgld_inpainting, inpainting.COMMAND, SAMPLE_SIZE=-1, INIT="noise")


def level_db(estimate, reference):
    """20 log10 of the RMS of ``estimate`` over that of ``reference`` (dB; 0: as loud)."""
    return float(20 * np.log10(np.sqrt(np.mean(np.square(estimate))) / np.sqrt(np.mean(np.square(reference)))))


def parse_settings(text):
    """"32x1.0,256x0.05" -> [(32, 1.0), (256, 0.05)]: steps per level and step scale."""
    settings = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        try:
            steps, scale = item.split("x")
            settings.append((int(steps), float(scale)))
        except ValueError:
            raise PnfError(f"--settings: {item!r} is not STEPSxSCALE, e.g. 32x1.0") from None
        if settings[-1][0] < 1 or settings[-1][1] <= 0:
            raise PnfError(f"--settings: {item!r} needs at least 1 step and a positive scale")
    if not settings:
        raise PnfError("--settings is empty")
    return settings


def pnf_fill(prior, audio, preset, gap, sample_size, steps, scale, seed, folder, threads):
    """One inpainting run; returns (level after each level {sigma: dB}, final dB, gap SNR dB, seconds)."""
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    run_task(inpainting.COMMAND, INPAINTING,
             [prior, audio, folder, f"--preset={preset}", f"--gap={gap[0]},{gap[1]}", f"--sample-size={sample_size}",
              f"--n-steps={steps}", f"--step-scale={scale}", f"--seed={seed}", "--schedule=tiled", "--no-progress",
              f"--threads={threads}"])
    with open(os.path.join(folder, "run.json")) as f:
        report = json.load(f)
    a, b = report["gap_samples"]
    original = sf.read(os.path.join(folder, "x_original.wav"))[0][a:b]
    per_level = {}
    for path in glob.glob(os.path.join(folder, "out_*.wav")):
        sigma = float(os.path.basename(path)[4:-4])
        per_level[sigma] = level_db(sf.read(path)[0][a:b], original)
    out = sf.read(os.path.join(folder, "out.wav"))[0][a:b]
    return per_level, level_db(out, original), snr(original, out), report["seconds"]


def continuations(model, hp, signal, a, b, sigma, count):
    """Levels (dB) of ``count`` ancestral continuations of signal[:a], each b - a samples, at ``sigma``."""
    units = quantize(signal, hp.input_type, hp.quantize_channels).astype(np.float64)
    prime = units[max(0, a - 2 * model.receptive_field):a]
    levels = []
    for seed in range(count):
        noisy = prime + sigma * np.random.default_rng(seed).standard_normal(prime.size)
        with torch.no_grad():
            drawn = ancestral_sample(model, b - a, generator=torch.Generator().manual_seed(seed), prime=noisy,
                                     input_noise=sigma, sigma=sigma)
        levels.append(level_db(dequantize(drawn.numpy(), hp.input_type, hp.quantize_channels), signal[a:b]))
    return levels


def main(argv=None):
    args = parse_args(__doc__, argv)
    hp = load_preset(args["--preset"])
    threads = parse_int(args["--threads"], "--threads", 1)
    torch.set_num_threads(threads)
    try:
        gap = tuple(float(v) for v in args["--gap"].split(","))
    except ValueError:
        gap = ()
    if len(gap) != 2 or not 0 <= gap[0] < gap[1]:
        raise PnfError(f"--gap={args['--gap']}: expected START,END in seconds, START < END")
    settings = parse_settings(args["--settings"])
    seeds = parse_int(args["--seeds"], "--seeds", 1)
    n_continuations = parse_int(args["--continuations"], "--continuations", 0)
    sample_size = parse_int(args["--sample-size"], "--sample-size", -1)
    out = args["--out"]
    os.makedirs(out, exist_ok=True)

    signal = load_audio(args["<audio>"], hp.sample_rate).astype(np.float64)
    if sample_size > 0:
        signal = signal[:sample_size]
    a, b = (int(round(t * hp.sample_rate)) for t in gap)
    if b > signal.size:
        raise PnfError(f"--gap={args['--gap']}: {args['<audio>']} is only {signal.size / hp.sample_rate:.2f} s long")
    gapped = signal.copy()
    gapped[a:b] = 0.0
    lpc = inpaint_lpc(gapped, a, b)[a:b]

    rows = []
    for steps, scale in settings:
        for seed in range(seeds):
            folder = os.path.join(out, f"{steps}x{scale:g}_seed{seed}")
            print(f"[fill] PnF {steps} steps per level, step scale {scale:g}, seed {seed} -> {folder}", file=sys.stderr)
            rows.append((steps, scale, seed) + pnf_fill(args["<prior>"], args["<audio>"], args["--preset"], gap,
                                                        sample_size, steps, scale, seed, folder, threads))
    sigmas = sorted(rows[0][3], reverse=True)
    lines = [f"Gap {gap[0]:g}-{gap[1]:g} s of `{args['<audio>']}`; prior `{args['<prior>']}`; fill level in dB "
             "against the original's RMS in the gap (0 dB: as loud).", "",
             "| steps x step scale | seed | " + " | ".join(f"after {s:g}" for s in sigmas)
             + " | final | gap SNR (dB) | time (s) |",
             "| --- | --- |" + " --- |" * (len(sigmas) + 3)]
    for steps, scale, seed, per_level, final, gap_snr, seconds in rows:
        lines.append(f"| {steps} x {scale:g} | {seed} | " + " | ".join(f"{per_level[s]:+.1f}" for s in sigmas)
                     + f" | **{final:+.1f}** | {gap_snr:.2f} | {seconds:.0f} |")
    lines += ["", f"LPC extrapolation from both sides: {level_db(lpc, signal[a:b]):+.1f} dB "
                  f"(gap SNR {snr(signal[a:b], lpc):.2f} dB)."]
    if n_continuations:
        sigma = min(hp.sigmas)
        model = Prior(args["<prior>"], hp).load(sigma)
        print(f"[fill] {n_continuations} ancestral continuations at sigma {sigma:g} on {describe_device('cpu')}",
              file=sys.stderr)
        levels = continuations(model, hp, signal, a, b, sigma, n_continuations)
        lines.append(f"The prior's own continuations of the context before the gap (ancestral, sigma {sigma:g}, "
                     f"{n_continuations} seeds): {np.mean(levels):+.1f} dB (from {min(levels):+.1f} to "
                     f"{max(levels):+.1f}).")
    text = "\n".join(lines) + "\n"
    write_atomically(os.path.join(out, "fill_level.md"), lambda f: f.write(text), mode="w")
    print(text)
    return 0


def cli():
    run(main)


if __name__ == "__main__":
    cli()
