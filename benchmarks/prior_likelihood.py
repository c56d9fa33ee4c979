"""How likely is each audio file under each prior? A table of mean smoothed log-likelihoods.

Usage:
  prior_likelihood.py --preset=<json> --prior=<dir>... [options] <audio>...
  prior_likelihood.py --pair --preset=<json> --prior=<dir> --prior=<dir> [options] <source0> <source1>

Each file is loaded as the task scripts load it (mono, the preset's rate, peak 1), cut to its
first --seconds, quantised with the preset's quantiser, and scored by the model of each
prior (a root folder of checkpoints<sigma>/ levels, or of one noise-conditional checkpoint
with a noise-conditional preset) at each sigma: the mean over samples of
log p_sigma(x_t | x_<t), in nats per sample, on the signal plus sigma * N(0, 1) (the input
the level's model was trained on), with a fixed seed. A prior that should tell two sources
apart must score its own source higher than the other one.

A mel-conditioned prior (a preset with cin_channels > 0) scores each file given its own mel
frames: the file is cut to whole frames plus one sample (as the training crops are), its log-mel
frames computed as pnf-preprocess computes them and normalised with the statistics of each prior
(<dir>/meanvar.npy): how well the prior knows the fine structure that the frames leave open.

With --pair, separation's own test: the two files are the sources of the two priors (in that
order), scaled as pnf-separation scales them (each to peak 1, their sum then to peak
--mix-peak), and the table compares the true sources, log p0(s0) + log p1(s1), with half the
mixture in each, log p0(m/2) + log p1(m/2), in nats per sample. Half the mixture is where
separation starts warm and where two priors that cannot tell the sources apart leave it: both
halves are quieter than the louder source, and a quieter signal is more likely (about log 2 =
0.69 nats per sample for each halving of a source's level). Sampling can move towards the true
sources only at levels where the margin (true minus half) is positive.

Options:
  --preset=<json>        Preset of the priors (quantiser, model size).
  --prior=<dir>          A prior's root folder; repeat for several.
  --sigmas=<list>        Levels to score at [default: 4.1,0.39].
  --seconds=<s>          Seconds of each file to use, -1 for all [default: 2.0].
  --seed=<n>             Seed of the input noise [default: 0].
  --mix-peak=<p>         With --pair: the mixture's peak, separation's MIX_PEAK [default: 1.4].
  -h, --help             Show this help.
"""
import os

import numpy as np
import torch

from wavenet_vocoder.audio import load_audio, logmelspectrogram
from wavenet_vocoder.checkpoints import check_checkpoints, load_model, require_checkpoints
from wavenet_vocoder.cli import parse_args, parse_float, parse_int, run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.mel_dumps import normalize, pad_frames, statistics_path
from wavenet_vocoder.pnf.priors import mean_log_prob
from wavenet_vocoder.pnf.tasks.separation import mixture_gain


def pair_table(models, s0, s1, hp, sigmas, mix_peak, seed):
    """Markdown rows of separation's test: each sigma's log p0(s0), log p1(s1), log p0(m/2),
    log p1(m/2) (nats per sample), the two sums and their difference; ``models`` is one
    (sigma -> model) mapping per source, ``s0`` and ``s1`` the sources at peak 1 each."""
    mixture = s0 + s1
    gain = mixture_gain(mixture, mix_peak, "the two sources")
    true, half = [gain * s0, gain * s1], gain * mixture / 2
    rows = ["| sigma | p0(source 0) | p1(source 1) | p0(half) | p1(half) | true sources | half the mixture | margin |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]

    def score(k, audio, sigma):   # the quantiser clips a source beyond its range, as the prior sees it
        return mean_log_prob(models[k][sigma], np.clip(audio, -1, 1), hp, sigma, torch.Generator().manual_seed(seed))

    for sigma in sigmas:
        t0, t1 = score(0, true[0], sigma), score(1, true[1], sigma)
        h0, h1 = score(0, half, sigma), score(1, half, sigma)
        rows.append(f"| {sigma:g} | {t0:.3f} | {t1:.3f} | {h0:.3f} | {h1:.3f} | {t0 + t1:.3f} | {h0 + h1:.3f} "
                    f"| {t0 + t1 - h0 - h1:+.3f} |")
    return rows


def whole_frames(audio, hp, path):
    """``audio`` cut to whole frames of ``hp.hop_size`` samples plus one: frames * hop_size + 1 samples."""
    frames = (audio.size - 1) // hp.hop_size
    if frames < 1:
        raise PnfError(f"{path} is shorter than one mel frame ({hp.hop_size} samples) plus one sample")
    return audio[:frames * hp.hop_size + 1]


def mel_frames(log_mel, hp, root):
    """The frames that condition a file: its log-mel frames ``log_mel`` (frames, num_mels), as
    pnf-preprocess computes them, normalised with ``root``'s statistics and edge-padded by cin_pad:
    (num_mels, frames + 2 cin_pad) float32."""
    stats = statistics_path(root)
    if not os.path.isfile(stats):
        raise PnfError(f"{stats} is missing: a mel-conditioned prior keeps the statistics its training "
                       "features were normalised with beside its checkpoints")
    return pad_frames(normalize(log_mel, np.load(stats)), hp.cin_pad)


def main(argv=None):
    args = parse_args(__doc__, argv)
    hp = load_preset(args["--preset"])
    conditional = hp.cin_channels > 0
    if conditional and args["--pair"]:
        raise PnfError("--pair: separation's priors are unconditional; --preset is mel-conditioned")
    sigmas = [parse_float(s, "--sigmas") for s in args["--sigmas"].split(",") if s.strip()]
    seconds = parse_float(args["--seconds"], "--seconds", positive=False)
    seed = parse_int(args["--seed"], "--seed", 0)
    paths = {}
    for root in args["--prior"]:
        paths[root] = require_checkpoints(root, hp, sigmas)
        check_checkpoints(paths[root], hp)          # a file that does not fit fails before the table starts
    length = int(seconds * hp.sample_rate) if seconds > 0 else None
    if args["--pair"]:
        if len(paths) != 2:
            raise PnfError("--pair needs two different --prior folders: source 0's, then source 1's")
        mix_peak = parse_float(args["--mix-peak"], "--mix-peak")
        sources = [load_audio(path, hp.sample_rate)[:length].astype(np.float64)
                   for path in (args["<source0>"], args["<source1>"])]
        n = min(s.size for s in sources)                   # separation's --trim
        models = []
        for root, files in paths.items():
            loaded = {path: load_model(path, hp) for path in set(files)}
            models.append({sigma: loaded[path] for sigma, path in zip(sigmas, files)})
        print("\n".join(pair_table(models, sources[0][:n], sources[1][:n], hp, sigmas, mix_peak, seed)))
        return 0
    audio = {path: load_audio(path, hp.sample_rate)[:length] for path in args["<audio>"]}
    frames = {root: [None] * len(audio) for root in paths}
    if conditional:
        audio = {path: whole_frames(a, hp, path) for path, a in audio.items()}
        log_mels = [logmelspectrogram(a[:-1], hp)[:(a.size - 1) // hp.hop_size] for a in audio.values()]
        frames = {root: [mel_frames(m, hp, root) for m in log_mels] for root in paths}
    header = "| prior | sigma | " + " | ".join(os.path.basename(p) for p in audio) + " |"
    print(header)
    print("| --- | --- |" + " --- |" * len(audio))
    for root, files in paths.items():
        models = {path: load_model(path, hp) for path in set(files)}    # a noise-conditional prior: one
        for sigma, checkpoint in zip(sigmas, files):
            model = models[checkpoint]
            cells = [mean_log_prob(model, a, hp, sigma, torch.Generator().manual_seed(seed), c)
                     for a, c in zip(audio.values(), frames[root])]
            print(f"| {os.path.basename(os.path.normpath(root))} | {sigma:g} | "
                  + " | ".join(f"{c:.2f}" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    run(main)
