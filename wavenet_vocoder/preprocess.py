"""Turn a folder of audio files into a training dump in the published format.

Usage:
  pnf-preprocess <in-dir> <out-dir> --preset=<json> [options]

Options:
  --preset=<json>        Preset file (sample rate, quantiser, mel parameters).
  --hparams=<params>     Preset overrides "name=value,..." [default: ].
  --name=<prefix>        File name prefix of the dump [default: the name of <in-dir>].
  --dev-fraction=<f>     Fraction of the files held out for dev; files of the same name in
                         different folders (versions of one recording) go together [default: 0.1].
  --seed=<n>             Seed of the train/dev split [default: 0].
  --stats=<npy>          Normalise with this meanvar.npy (from a training dump) instead of
                         computing statistics; every file then goes to dev/ (held-out input
                         for the spectrogram task), unless --keep-split is given.
  --keep-split           With --stats, split the files into train/ and dev/ as without it: new
                         audio for training a mel prior further, normalised with the prior's
                         own statistics.
  -h, --help             Show this help.

Writes <out-dir>/dump/{train,dev}/<name>-<i>-wave.npy (int16 quantised samples, length
frames * hop_size) and <name>-<i>-feats.npy (float32 log-mel, frames x num_mels), the
per-band mean and variance of the training features in <out-dir>/meanvar.npy (2 x num_mels),
and <out-dir>/dump_norm/{train,dev}/ with the features normalised by them (what the
spectrogram task and mel-conditioned training read). With --stats no meanvar.npy is written:
dump_norm/ holds the features normalised with the given statistics. Each of dump/ and dump_norm/
also gets dump.json, the preset's settings that decide what its arrays mean (quantiser, sample
rate, mel settings), which pnf-train and pnf-spectrogram check against their own preset.
"""
import glob
import os
import sys

import numpy as np

from .audio import load_audio, logmelspectrogram, trim_silence, write_atomically
from .cli import parse_args, parse_float, parse_int, run
from .dump_record import write_record
from .errors import AudioError, PnfError
from .hparams import load_preset
from .mel_dumps import normalize, statistics_path
from .quantize import quantize

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aiff", ".aif")


def find_audio(folder):
    """Sorted audio files below ``folder`` (searched recursively)."""
    if not os.path.isdir(folder):
        raise PnfError(f"input folder {folder} does not exist")
    files = sorted(p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
                   if p.lower().endswith(AUDIO_EXTENSIONS) and os.path.isfile(p))
    if not files:
        raise PnfError(f"input folder {folder} holds no audio files ({', '.join(AUDIO_EXTENSIONS)})")
    return files


def audio_files(path, at_most=0):
    """``path`` itself, the sorted audio files below the folder ``path`` (as :func:`find_audio` finds them), or
    the sorted audio files (by their ending, as :func:`find_audio` tells them) that match ``path`` as a
    glob pattern (quoted on the shell, e.g. ``'voice/en-*.wav'``; ``'eval/*waltz*'`` leaves out the
    piece's ``.txt`` beside it); with ``at_most`` > 0, no more than that many of them, evenly spaced
    over the sorted list."""
    if os.path.isfile(path):
        return [path]
    if os.path.isdir(path):
        files = find_audio(path)
    elif glob.has_magic(path):
        matches = sorted(f for f in glob.glob(path) if os.path.isfile(f))
        files = [f for f in matches if f.lower().endswith(AUDIO_EXTENSIONS)]
        if not files:
            found = f" (it matches {len(matches)} other file{'s' if len(matches) > 1 else ''})" if matches else ""
            raise PnfError(f"{path}: no audio file ({', '.join(AUDIO_EXTENSIONS)}) matches this pattern{found}")
    else:
        raise PnfError(f"{path}: no such audio file or folder of audio files")
    if 0 < at_most < len(files):
        files = [files[i] for i in np.linspace(0, len(files) - 1, at_most).round().astype(int)]
    return files


def audio_label(path):
    """How a table names the files of ``path`` (as :func:`audio_files` reads it): a file's or a folder's own
    name, a pattern as given."""
    return os.path.basename(os.path.normpath(path)) if os.path.exists(path) else path


def features(path, hp):
    """(quantised wave (frames * hop,) int16, log-mel (frames, num_mels) float32) of one file.

    The audio is loaded mono at the preset rate, peak-normalised, trimmed of leading and
    trailing silence (60 dB below peak) and cut to whole frames.
    """
    x = trim_silence(load_audio(path, hp.sample_rate, normalize=hp.normalize_max_audio), top_db=60)
    frames = x.size // hp.hop_size
    if frames < 1:
        raise AudioError(f"audio file {path} is shorter than one frame ({hp.hop_size} samples) after trimming")
    x = x[:frames * hp.hop_size]
    mel = logmelspectrogram(x, hp)[:frames]
    wave = quantize(x, hp.input_type, hp.quantize_channels).astype(np.int16)
    return wave, mel


def split(files, dev_fraction, seed):
    """Deterministic (train, dev) split of ``files``; dev holds at least one when there are two recordings.

    Files that share a file name (e.g. ``piece.wav`` and its copy ``room/piece.wav`` played in a
    room) are versions of one recording and go to the same side, so dev never hears a version of
    what train heard; ``dev_fraction`` counts such groups. Where every name is unique the split is
    the plain one over the files.
    """
    groups = {}
    for path in files:
        groups.setdefault(os.path.splitext(os.path.basename(path))[0], []).append(path)
    groups = list(groups.values())
    order = np.random.default_rng(seed).permutation(len(groups))
    n_dev = int(round(len(groups) * dev_fraction))
    if dev_fraction > 0 and len(groups) > 1:
        n_dev = max(1, n_dev)
    n_dev = min(n_dev, len(groups) - 1)
    dev = sorted(path for i in order[:n_dev] for path in groups[i])
    train = sorted(path for i in order[n_dev:] for path in groups[i])
    return train, dev


def _save_npy(path, array):
    write_atomically(path, lambda f: np.save(f, array))


def preprocess(in_dir, out_dir, hp, name, dev_fraction=0.1, seed=0, log=print, stats=None, keep_split=False):
    """Write the dump (see the module docstring); returns {"train": n, "dev": n} files written.

    ``stats``: a (2, num_mels) mean/variance array to normalise with; then no statistics are
    computed and every file is a dev file, or, with ``keep_split``, the files are split into
    train and dev exactly as without ``stats`` (same ``dev_fraction`` and ``seed``).
    """
    files = find_audio(in_dir)
    all_dev = stats is not None and not keep_split
    train, dev = ([], files) if all_dev else split(files, dev_fraction, seed)
    mels = {}
    counts = {}
    for subset, files in (("train", train), ("dev", dev)):
        counts[subset] = 0
        for i, path in enumerate(files, start=1):
            wave, mel = features(path, hp)
            stem = os.path.join(out_dir, "dump", subset, f"{name}-{i:05d}")
            _save_npy(stem + "-wave.npy", wave)
            _save_npy(stem + "-feats.npy", mel)
            mels[(subset, i)] = (mel, wave)
            counts[subset] += 1
            log(f"{subset} {name}-{i:05d}: {path} ({wave.size / hp.sample_rate:.2f} s)")
    if stats is None:
        stacked = np.concatenate([m for (subset, _), (m, _) in mels.items() if subset == "train"]).astype(np.float64)
        stats = np.stack([stacked.mean(axis=0), stacked.var(axis=0)]).astype(np.float32)
        _save_npy(statistics_path(out_dir), stats)
    for (subset, i), (mel, wave) in mels.items():
        stem = os.path.join(out_dir, "dump_norm", subset, f"{name}-{i:05d}")
        _save_npy(stem + "-feats.npy", normalize(mel, stats))
        _save_npy(stem + "-wave.npy", wave)
    for folder in ("dump", "dump_norm"):
        write_record(os.path.join(out_dir, folder), hp)
    return counts


def main(argv=None):
    args = parse_args(__doc__, argv)
    hp = load_preset(args["--preset"], args["--hparams"])
    in_dir = args["<in-dir>"]
    name = args["--name"]
    if name == "the name of <in-dir>":
        name = os.path.basename(os.path.normpath(in_dir))
    dev_fraction = parse_float(args["--dev-fraction"], "--dev-fraction", positive=False)
    if not 0 <= dev_fraction < 1:
        raise PnfError(f"--dev-fraction={dev_fraction} must be in [0, 1)")
    seed = parse_int(args["--seed"], "--seed", 0)
    if args["--keep-split"] and not args["--stats"]:
        raise PnfError("--keep-split only applies with --stats=<npy> (without it the files are split anyway)")
    stats = None
    if args["--stats"]:
        try:
            stats = np.load(args["--stats"])
        except (OSError, ValueError) as e:
            raise PnfError(f"cannot read statistics {args['--stats']}: {e}") from None
        if stats.shape != (2, hp.num_mels):
            raise PnfError(f"statistics {args['--stats']} have shape {stats.shape}, expected (2, {hp.num_mels})")
    counts = preprocess(in_dir, args["<out-dir>"], hp, name, dev_fraction, seed,
                        log=lambda line: print(line, file=sys.stderr), stats=stats, keep_split=args["--keep-split"])
    print(f"{counts['train']} train and {counts['dev']} dev files in {args['<out-dir>']}", file=sys.stderr)
    return 0


def cli():
    """Console entry point ``pnf-preprocess``."""
    run(main)


if __name__ == "__main__":
    cli()
