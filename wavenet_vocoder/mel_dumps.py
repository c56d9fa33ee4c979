"""Mel-feature dump folders: ``<name>-<i>-feats.npy`` (frames x num_mels) beside ``<name>-<i>-wave.npy``.

The features of a ``dump_norm`` folder are log10 mel magnitudes normalised per band with
the training statistics (``meanvar.npy``); see :mod:`wavenet_vocoder.preprocess`.
"""
import glob
import os

import numpy as np

from .errors import AudioError


#: File name of a mel prior's training statistics (per-band mean and variance, 2 x num_mels).
STATISTICS_FILE = "meanvar.npy"


def statistics_path(prior_root):
    """Where a mel-conditioned prior keeps the statistics its training features were normalised with."""
    return os.path.join(prior_root, STATISTICS_FILE)


def find_utterances(dump_root):
    """Sorted (name, feats path, wave path or None) for every ``*-feats.npy`` under ``dump_root``."""
    if os.path.isfile(dump_root):
        raise AudioError(f"dump folder {dump_root} is a file, not a folder of *-feats.npy files: make one from a "
                         "folder of audio with pnf-preprocess <audio-dir> <out> --preset=<json> "
                         "--stats=<prior>/meanvar.npy and give <out>/dump_norm/dev")
    if not os.path.isdir(dump_root):
        raise AudioError(f"dump folder {dump_root} does not exist")
    feats = sorted(glob.glob(os.path.join(dump_root, "*-feats.npy")))
    if not feats:
        raise AudioError(f"dump folder {dump_root} holds no *-feats.npy files: create them as README.md "
                         "describes (mel features normalised with the training statistics)")
    utterances = []
    for path in feats:
        name = os.path.basename(path)[:-len("-feats.npy")]
        wave = path[:-len("-feats.npy")] + "-wave.npy"
        utterances.append((name, path, wave if os.path.isfile(wave) else None))
    return utterances


def load_mel(path, num_mels, frames, cin_pad):
    """(num_mels, frames + 2 cin_pad) float32: the first ``frames`` frames (-1: all), edge-padded."""
    try:
        mel = np.load(path)
    except (OSError, ValueError) as e:
        raise AudioError(f"cannot read mel features {path}: {e}") from None
    if mel.ndim != 2 or mel.shape[1] != num_mels:
        raise AudioError(f"mel features {path} have shape {mel.shape}; expected (frames, {num_mels})")
    if not np.all(np.isfinite(mel)):
        raise AudioError(f"mel features {path} contain NaN or infinite values")
    if frames > 0:
        mel = mel[:frames]
    if mel.shape[0] == 0:
        raise AudioError(f"mel features {path} hold no frames")
    return pad_frames(mel, cin_pad)


def pad_frames(feats, cin_pad):
    """Features (frames, num_mels) -> the model's conditioning (num_mels, frames + 2 cin_pad) float32,
    the first and last frame repeated cin_pad times as context."""
    return np.pad(feats, [(cin_pad, cin_pad), (0, 0)], mode="edge").T.astype(np.float32)


def _mean_and_scale(meanvar):
    meanvar = np.asarray(meanvar)
    return meanvar[0], np.sqrt(np.maximum(meanvar[1], 1e-8))


def normalize(log_mel, meanvar):
    """Log10 mel magnitudes (frames, num_mels) -> float32 features normalised per band with ``meanvar`` (2, num_mels)."""
    mean, scale = _mean_and_scale(meanvar)
    return ((np.asarray(log_mel) - mean) / scale).astype(np.float32)


def denormalize(feats, meanvar):
    """Inverse of :func:`normalize`: normalised features -> log10 mel magnitudes (float64)."""
    mean, scale = _mean_and_scale(meanvar)
    return np.asarray(feats, dtype=np.float64) * scale + mean
