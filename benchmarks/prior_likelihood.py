"""How likely is each audio file under each prior? A table of mean smoothed log-likelihoods.

Usage:
  prior_likelihood.py --preset=<json> --prior=<dir>... [options] <audio>...

Each file is loaded as the task scripts load it (mono, the preset's rate, peak 1), cut to its
first --seconds, quantised with the preset's quantiser, and scored by the model of each
prior (a root folder of checkpoints<sigma>/ levels, or of one noise-conditional checkpoint
with a noise-conditional preset) at each sigma: the mean over samples of
log p_sigma(x_t | x_<t), in nats per sample, on the signal plus sigma * N(0, 1) (the input
the level's model was trained on), with a fixed seed. A prior that should tell two sources
apart must score its own source higher than the other one.

Options:
  --preset=<json>        Preset of the priors (quantiser, model size).
  --prior=<dir>          A prior's root folder; repeat for several.
  --sigmas=<list>        Levels to score at [default: 4.1,0.39].
  --seconds=<s>          Seconds of each file to use, -1 for all [default: 2.0].
  --seed=<n>             Seed of the input noise [default: 0].
  -h, --help             Show this help.
"""
import os

import torch

from wavenet_vocoder.audio import load_audio
from wavenet_vocoder.checkpoints import load_model, require_checkpoints
from wavenet_vocoder.cli import parse_args, parse_float, parse_int, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.quantize import quantize


def mean_log_prob(model, audio, hp, sigma, generator):
    """Mean ``log p_sigma`` (nats/sample) of ``audio`` (T,) in [-1, 1] under ``model``."""
    x = torch.as_tensor(quantize(audio, hp.input_type, hp.quantize_channels), dtype=torch.float32)
    x = x + sigma * torch.randn(x.shape, generator=generator)
    with torch.no_grad():
        return float(model.smoothed_log_prob(x.view(1, 1, -1), sigma).mean())


def main(argv=None):
    args = parse_args(__doc__, argv)
    hp = load_preset(args["--preset"])
    if hp.cin_channels > 0:
        raise PnfError("--preset: mel-conditioned priors need their mel frames; score unconditional priors")
    sigmas = [parse_float(s, "--sigmas") for s in args["--sigmas"].split(",") if s.strip()]
    seconds = parse_float(args["--seconds"], "--seconds", positive=False)
    seed = parse_int(args["--seed"], "--seed", 0)
    paths = {}
    for root in args["--prior"]:
        paths[root] = require_checkpoints(root, hp, sigmas)
    length = int(seconds * hp.sample_rate) if seconds > 0 else None
    audio = {path: load_audio(path, hp.sample_rate)[:length] for path in args["<audio>"]}
    header = "| prior | sigma | " + " | ".join(os.path.basename(p) for p in audio) + " |"
    print(header)
    print("| --- | --- |" + " --- |" * len(audio))
    for root, files in paths.items():
        models = {path: load_model(path, hp) for path in set(files)}    # a noise-conditional prior: one
        for sigma, checkpoint in zip(sigmas, files):
            model = models[checkpoint]
            cells = [mean_log_prob(model, a, hp, sigma, torch.Generator().manual_seed(seed)) for a in audio.values()]
            print(f"| {os.path.basename(os.path.normpath(root))} | {sigma:g} | "
                  + " | ".join(f"{c:.2f}" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    run(main)
