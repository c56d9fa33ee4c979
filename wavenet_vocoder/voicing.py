"""Which mel frames look voiced, judged from the frames alone, and the per-sample temperatures that
``--voiced-temperature`` gives them (pnf-spectrogram's Langevin noise, pnf-synthesis's logits).

Voiced speech puts most of its energy in its first harmonics and formant, below about 1 kHz;
unvoiced consonants put theirs higher, and pauses have little.
"""
import os

import numpy as np

from .deferred import deferred_import
from .errors import PnfError
from .mel_dumps import denormalize, statistics_path

librosa = deferred_import("librosa")

#: A frame is voiced (for --voiced-temperature) when at least VOICED_LOW_SHARE of its mel energy lies in
#: the bands centred below VOICED_LOW_HZ and it is within VOICED_RANGE_DB of the loudest frame. Against
#: the periodicity of the recordings themselves (benchmarks/fine_structure.py's voiced frames) this
#: agreed on 88% of the frames of egs/sample_voice.wav and the LibriSpeech clips of shared/eval
#: (benchmarks/voicing_rule.py).
VOICED_LOW_HZ, VOICED_LOW_SHARE, VOICED_RANGE_DB = 1000.0, 0.5, 30.0


def voicing_statistics(prior_root):
    """The prior's ``meanvar.npy`` (in ``prior_root``), which the frames are de-normalised with to judge
    their voicing; a :class:`PnfError` naming the file when it is missing."""
    stats = statistics_path(prior_root)
    if not os.path.isfile(stats):
        raise PnfError(f"--voiced-temperature needs the prior's training statistics {stats} to judge voicing "
                       "from the frames: put meanvar.npy there, or leave the flag out")
    return np.load(stats)


def voiced_mel_frames(log_mel, hp, low_hz=VOICED_LOW_HZ, low_share=VOICED_LOW_SHARE, range_db=VOICED_RANGE_DB):
    """(N,) bool: which frames of ``log_mel`` (N, num_mels) log10 mel magnitudes, de-normalised, look voiced:
    at least ``low_share`` of their energy in the bands centred below ``low_hz`` Hz, and within ``range_db``
    dB of the loudest frame (a frame with no energy is not voiced). The defaults are --voiced-temperature's."""
    centres = librosa.mel_frequencies(n_mels=hp.num_mels + 2, fmin=hp.fmin, fmax=hp.fmax)[1:-1]
    power = np.power(10.0, 2 * np.asarray(log_mel, dtype=np.float64))
    total = power.sum(axis=1)
    low = power[:, centres < low_hz].sum(axis=1)
    loud = total >= total.max() * 10 ** (-range_db / 10)
    return (low >= low_share * total) & loud & (total > 0)


def voiced_normalised_frames(frames, hp, meanvar):
    """:func:`voiced_mel_frames` of normalised features ``frames`` (cin, N), de-normalised with ``meanvar``."""
    return voiced_mel_frames(denormalize(np.asarray(frames).T, meanvar), hp)


def sample_temperatures(voiced, hop_size, voiced_temperature, temperature):
    """(N * hop_size,) float32: ``voiced_temperature`` on the ``hop_size`` samples of each frame where
    ``voiced`` (N,) is true, ``temperature`` on the others."""
    return np.repeat(np.where(voiced, voiced_temperature, temperature), hop_size).astype(np.float32)
