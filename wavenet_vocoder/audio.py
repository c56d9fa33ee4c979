"""Audio in and out, and the log-mel features of the published system.

Audio arrays are float in [-1, 1], mono, shape (T,) in samples at the preset's
``sample_rate`` (22050 Hz for the published presets).
"""
import os
import tempfile

import numpy as np
import soundfile as sf

from .deferred import deferred_import
from .errors import AudioError

librosa = deferred_import("librosa")


def load_audio(path, sample_rate, normalize=True):
    """Read any audio file soundfile can decode: mono (channel mean), resampled to ``sample_rate`` Hz.

    With ``normalize`` the result is scaled to peak 1.  Raises :class:`AudioError`
    naming the file when it is missing, unreadable, empty, not finite or silent.
    """
    path = os.fspath(path)
    data, rate = read_audio(path)
    if data.size == 0:
        raise AudioError(f"audio file {path} is empty")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"audio file {path} contains NaN or infinite samples")
    x = data.mean(axis=1)
    if rate != sample_rate:
        x = librosa.resample(x, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
    peak = np.max(np.abs(x)) if x.size else 0.0
    if peak <= 0.0:
        raise AudioError(f"audio file {path} is silent (all samples are zero)")
    if normalize:
        x = x / peak
    return x.astype(np.float32)


def read_audio(path):
    """(samples, channels) float64 array and rate (Hz) of an audio file, as the file stores them;
    :class:`AudioError` naming the file if missing or unreadable."""
    path = os.fspath(path)
    return _read(path, lambda: sf.read(path, dtype="float64", always_2d=True))


def audio_rate(path):
    """The sample rate (Hz) an audio file's header gives; :class:`AudioError` naming the file if unreadable."""
    path = os.fspath(path)
    return float(_read(path, lambda: sf.info(path)).samplerate)


def audio_channels(path):
    """The number of channels an audio file's header gives; :class:`AudioError` naming the file if unreadable."""
    path = os.fspath(path)
    return int(_read(path, lambda: sf.info(path)).channels)


def _read(path, read):
    """``read()`` of the audio file ``path``, or :class:`AudioError` naming it when missing or unreadable."""
    if not os.path.isfile(path):
        raise AudioError(f"audio file {path} does not exist")
    try:
        return read()
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioError(f"cannot read audio file {path}: {e}") from None


def save_wav(path, x, sample_rate):
    """Write ``x`` (T,) in [-1, 1] as 16-bit PCM, atomically: the file appears complete or not at all.

    Values are clipped to [-1, 1]; NaN or infinite samples raise ValueError and write nothing.
    """
    stream = WavStream(path, sample_rate)
    try:
        stream.write(x)
        stream.close()
    except BaseException:
        stream.discard()
        raise


class WavStream:
    """A 16-bit PCM WAV file written block by block, appearing complete or not at all.

    Blocks go to a temporary file beside ``path``; :meth:`close` renames it onto ``path``,
    :meth:`discard` (or an error in :meth:`write`) removes it.  Blocks are (n,) audio in
    [-1, 1], clipped; NaN or infinite samples raise ValueError and leave nothing behind.
    """

    def __init__(self, path, sample_rate):
        self.path = os.fspath(path)
        fd, self._tmp = _temporary_beside(self.path)
        os.close(fd)
        self._file = sf.SoundFile(self._tmp, mode="w", samplerate=int(sample_rate), channels=1,
                                  subtype="PCM_16", format="WAV")

    def write(self, block):
        block = np.asarray(block, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(block)):
            self.discard()
            raise ValueError(f"refusing to write {self.path}: the audio contains NaN or infinite samples")
        self._file.write(np.clip(block, -1.0, 1.0))

    def close(self):
        self._file.close()
        _publish(self._tmp, self.path)

    def discard(self):
        if not self._file.closed:
            self._file.close()
        if os.path.exists(self._tmp):
            os.remove(self._tmp)


def write_atomically(path, write, mode="wb"):
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it onto ``path``."""
    path = os.fspath(path)
    fd, tmp = _temporary_beside(path)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
        _publish(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _temporary_beside(path):
    """(fd, name) of a new temporary file in ``path``'s folder (created if needed)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    return tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))


def _publish(tmp, path):
    """Give the finished temporary file ``tmp`` the usual permissions (mkstemp makes 0600) and rename it onto ``path``."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def trim_silence(x, top_db=60):
    """``x`` without leading and trailing parts quieter than ``top_db`` dB below its peak."""
    trimmed, _ = librosa.effects.trim(x, top_db=top_db)
    return trimmed


def logmelspectrogram(x, hp):
    """Log10 mel magnitudes of ``x`` (T,): a (frames, num_mels) float32 array, frames = 1 + T // hop.

    librosa STFT (``fft_size``, ``hop_size``, ``win_length``, ``window``, centred with
    reflect padding), magnitude, mel filterbank (``num_mels`` bands, ``fmin``..``fmax``
    Hz), then ``log10(max(S, 1e-10))``.
    """
    stft = librosa.stft(np.asarray(x, dtype=np.float32), n_fft=hp.fft_size, hop_length=hp.hop_size,
                        win_length=hp.win_length, window=hp.window, center=True, pad_mode="reflect")
    mel_basis = librosa.filters.mel(sr=hp.sample_rate, n_fft=hp.fft_size, n_mels=hp.num_mels,
                                    fmin=hp.fmin, fmax=hp.fmax)
    mel = mel_basis @ np.abs(stft)
    return np.log10(np.maximum(mel, 1e-10)).T.astype(np.float32)
