"""Quality against compute: each task at several budgets of sample-updates, from a cold and a warm start.

Usage:
  steps.py [options]

A budget is the number of moves of each sample over the whole annealing (sample-updates per
sample of audio; the published 24 levels x 256 steps are about 6,100). Each budget runs every
task twice: cold (--init noise, every level of the preset, budget / levels moves per level) and
warm (--init baseline from --start-sigma, budget / remaining levels per level), tiled windows,
the same seed. Measured: super-resolution 4x LSD and SNR, inpainting gap SNR (one gap, as
long as --gap-ms says, at the excerpt's middle), separation SI-SDR (mean of the two sources),
mel-conditioned generation mel distance. Writes <out>/steps.csv, <out>/steps.md and <out>/steps.png.

Options:
  --models=<dir>         Priors as the quality benchmark reads them [default: egs/pnf_small].
  --piano=<wav>          Clean piano [default: egs/sample_piano.wav].
  --voice=<wav>          Clean voice [default: egs/sample_voice.wav].
  --seconds=<s>          Seconds of each file [default: 1.0].
  --budgets=<list>       Sample-updates per sample [default: 48,96,192,384,768].
  --start-sigma=<s>      Where warm starts begin (quantised units) [default: 13.3].
  --tasks=<list>         Tasks [default: superres,inpainting,separation,spectrogram].
  --gap-ms=<ms>          Inpainting gap [default: 100].
  --step-scale=<c>       Step size eta = c sigma^2 [default: 1.0].
  --seed=<n>             Seed [default: 0].
  --threads=<n>          Torch threads per run [default: 2].
  --out=<dir>            Output folder [default: steps_outputs].
  -h, --help             Show this help.
"""
import csv
import io
import json
import os
import shutil
import sys

import numpy as np
import soundfile as sf
from docopt import docopt

from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.metrics import score
from wavenet_vocoder.pnf import sgld_inpainting, sgld_separation, sgld_spectrogram_descent, sgld_superres
from wavenet_vocoder.pnf.command import run_task, script_constants
from wavenet_vocoder.pnf.tasks import inpainting, separation, spectrogram, superres
from wavenet_vocoder.preprocess import features
from wavenet_vocoder.mel_dumps import normalize, statistics_path

#: The sampler settings of each task: its task script's constants (whole files; the start, steps
#: and step scale come from this benchmark's flags).
CONSTANTS = {cmd.COMMAND.name: script_constants(script, cmd.COMMAND, SAMPLE_SIZE=-1) for script, cmd in (
    (sgld_superres, superres), (sgld_inpainting, inpainting), (sgld_separation, separation),
    (sgld_spectrogram_descent, spectrogram))}
MEASURE = {"superres": "LSD (lower is better)", "inpainting": "gap SNR, dB", "separation": "SI-SDR, dB",
           "spectrogram": "mel distance, dB (lower is better)"}


def levels_from(sigmas, start):
    return [s for s in sigmas if s <= start * (1 + 1e-9)]


def run(task, constants, argv, folder):
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    run_task(task.COMMAND, constants, argv)
    with open(os.path.join(folder, "run.json")) as f:
        return json.load(f)


def main(argv=None):
    args = docopt(__doc__, argv=argv)
    out, models = args["--out"], args["--models"]
    os.makedirs(out, exist_ok=True)
    budgets = [int(b) for b in args["--budgets"].split(",")]
    tasks = [t for t in args["--tasks"].split(",") if t]
    start = float(args["--start-sigma"])
    common = ["--schedule=tiled", f"--step-scale={args['--step-scale']}", f"--seed={args['--seed']}", "--no-progress",
              f"--threads={args['--threads']}"]
    rows = []

    def preset(name):
        return os.path.join(models, f"{name}.json")

    for name in tasks:
        prior_names = {"superres": ["mulaw_piano"], "inpainting": ["mulaw_piano"],
                       "separation": ["linear_piano", "linear_voice"], "spectrogram": ["mel_voice"]}[name]
        hp = load_preset(preset(prior_names[0]))
        n = int(float(args["--seconds"]) * hp.sample_rate)
        roots = [os.path.join(models, p) for p in prior_names]
        dump = None
        if name == "spectrogram":
            dump = os.path.join(out, "dump")
            os.makedirs(dump, exist_ok=True)
            wave, mel = features(args["--voice"], hp)
            frames = n // hp.hop_size
            np.save(os.path.join(dump, "voice-00001-feats.npy"),
                    normalize(mel[:frames], np.load(statistics_path(roots[0]))))
            np.save(os.path.join(dump, "voice-00001-wave.npy"), wave[:frames * hp.hop_size])
        for budget in budgets:
            for how in ("cold", "warm"):
                levels = list(hp.sigmas) if how == "cold" else levels_from(hp.sigmas, start)
                steps = max(1, round(budget / len(levels)))
                folder = os.path.join(out, name, f"{how}_{budget}")
                flags = [f"--preset={preset(prior_names[0])}", f"--n-steps={steps}"] + common
                flags += ["--init=baseline", f"--start-sigma={start}"] if how == "warm" else ["--init=noise"]
                if name == "superres":
                    report = run(superres, CONSTANTS[name], roots + [args["--piano"], folder, "--downsample_interval=4",
                                                                     f"--sample-size={n}"] + flags, folder)
                    value, extra = report["metrics"]["pnf"]["lsd"], report["metrics"]["pnf"]["snr"]
                elif name == "inpainting":
                    middle, half = n / 2 / hp.sample_rate, float(args["--gap-ms"]) / 2000
                    report = run(inpainting, CONSTANTS[name], roots + [args["--piano"], folder,
                                                                       f"--gap={middle - half:.6f},{middle + half:.6f}",
                                                                       f"--sample-size={n}"] + flags, folder)
                    value, extra = report["metrics"]["pnf"]["gap_snr"], report["metrics"]["pnf"]["snr"]
                elif name == "separation":
                    report = run(separation, CONSTANTS[name], roots + [args["--piano"], args["--voice"], folder,
                                                                       "--trim", "--implicit-mixture",
                                                                       f"--sample-size={n}"] + flags, folder)
                    m = report["metrics"]
                    value = (m["source0"]["pnf"]["si_sdr"] + m["source1"]["pnf"]["si_sdr"]) / 2
                    extra = (m["source0"]["baseline"]["si_sdr"] + m["source1"]["baseline"]["si_sdr"]) / 2
                else:
                    report = run(spectrogram, CONSTANTS[name], roots + [dump, folder, "--sample-size=-1"] + flags,
                                 folder)
                    clean = sf.read(os.path.join(folder, "original.wav"))[0]
                    value = score(clean, sf.read(os.path.join(folder, "out.wav"))[0], hp.sample_rate)["mel_distance"]
                    extra = None
                used = sum(level["steps"] for level in report["levels"])   # tiled: one step moves each sample once
                rows.append(dict(task=name, start=how, budget=budget, levels=len(levels), steps_per_level=steps,
                                 sample_updates=used, value=value, other=extra, seconds=report["seconds"]))
                print(f"[steps] {name} {how} {budget}: {value:.3f} ({report['seconds']:.1f} s)", file=sys.stderr)

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    with open(os.path.join(out, "steps.csv"), "w") as f:
        f.write(buffer.getvalue())
    lines = []
    for name in tasks:
        lines += [f"**{name}** ({MEASURE[name]}; warm: --init baseline from sigma {start:g})", "",
                  "| sample-updates per sample | " + " | ".join(str(b) for b in budgets) + " |",
                  "| --- |" + " --- |" * len(budgets)]
        for how in ("cold", "warm"):
            values = {r["budget"]: r["value"] for r in rows if r["task"] == name and r["start"] == how}
            lines.append(f"| {how} | " + " | ".join(f"{values[b]:.2f}" for b in budgets) + " |")
        lines.append("")
    table = "\n".join(lines)
    with open(os.path.join(out, "steps.md"), "w") as f:
        f.write(table)
    print(table)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.2), squeeze=False)
    for ax, name in zip(axes[0], tasks):
        for how, style in (("cold", "o-"), ("warm", "s--")):
            points = sorted((r["sample_updates"], r["value"]) for r in rows if r["task"] == name and r["start"] == how)
            ax.plot([p[0] for p in points], [p[1] for p in points], style, label=how)
        ax.set_xscale("log")
        ax.set_xlabel("sample-updates per sample")
        ax.set_title(f"{name}: {MEASURE[name]}", fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "steps.png"), dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
