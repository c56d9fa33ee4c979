"""Quality metrics between a reference and an estimate, both (T,) audio arrays in [-1, 1].

- SNR (dB): ``10 log10(sum ref^2 / sum (ref - est)^2)``.
- SI-SDR (dB): with ``a = <est, ref> / <ref, ref>``, ``10 log10(|a ref|^2 / |a ref - est|^2)``.
- LSD (log-spectral distance, no unit): STFT power spectra P = |STFT|^2 (n_fft 2048, hop 512,
  hann window, centred), ``mean over frames of sqrt(mean over bins of
  (log10(P_ref + 1e-10) - log10(P_est + 1e-10))^2)``.  Lower is better; 0 is identical.
- Mel-spectral distance (dB): STFT power (n_fft 1024, hop 256, hann, centred) through 80 mel
  bands (librosa's Slaney filterbank, 0 Hz to half the sample rate), ``M = 10 log10(mel power
  + 1e-10)``; ``mean over frames of sqrt(mean over bands of (M_ref - M_est)^2)``.  Lower is
  better; scaling a signal by a changes it by exactly ``|20 log10 a|``.

Spectrogram metrics are computed ``BLOCK_FRAMES`` frames at a time, so their memory does
not grow with the signal beyond a padded copy of it (equal to the whole-signal formula).
"""
import numpy as np

from .deferred import deferred_import

librosa = deferred_import("librosa")

_EPS = 1e-20
LSD_N_FFT, LSD_HOP = 2048, 512
MEL_N_FFT, MEL_HOP, MEL_BANDS = 1024, 256, 80


def _pair(reference, estimate):
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    est = np.asarray(estimate, dtype=np.float64).reshape(-1)
    if ref.shape != est.shape:
        raise ValueError(f"reference has {ref.size} samples, estimate {est.size}")
    return ref, est


def snr(reference, estimate):
    """Signal-to-noise ratio in dB."""
    ref, est = _pair(reference, estimate)
    return float(10 * np.log10((np.sum(ref ** 2) + _EPS) / (np.sum((ref - est) ** 2) + _EPS)))


def si_sdr(reference, estimate):
    """Scale-invariant signal-to-distortion ratio in dB."""
    ref, est = _pair(reference, estimate)
    scale = np.dot(est, ref) / (np.dot(ref, ref) + _EPS)
    target = scale * ref
    return float(10 * np.log10((np.sum(target ** 2) + _EPS) / (np.sum((target - est) ** 2) + _EPS)))


def power_spectrogram(x, n_fft, hop):
    """(frames, n_fft // 2 + 1) |STFT|^2 of ``x`` (T,): hann windows, centred frames (reflect padding)."""
    return np.concatenate(list(_power_blocks(np.asarray(x, dtype=np.float64).reshape(-1), n_fft, hop)))


#: Frames of a spectrogram computed at once: metrics hold this many, whatever the signal's length.
BLOCK_FRAMES = 256


def _power_blocks(x, n_fft, hop, block=BLOCK_FRAMES):
    """The frames of :func:`power_spectrogram` in consecutive blocks of at most ``block`` frames."""
    pad = n_fft // 2
    x = np.pad(x, pad, mode="reflect" if x.size > pad else "constant")
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    frames = 1 + (x.size - n_fft) // hop
    window = np.hanning(n_fft + 1)[:-1]
    for first in range(0, frames, block):
        count = min(block, frames - first)
        index = (first + np.arange(count))[:, None] * hop + np.arange(n_fft)
        yield np.abs(np.fft.rfft(x[index] * window, axis=1)) ** 2


def _frame_mean(reference, estimate, n_fft, hop, distance):
    """Mean over frames of ``distance(P_ref block, P_est block)`` (per-frame values), block by block."""
    total, frames = 0.0, 0
    for p_ref, p_est in zip(_power_blocks(reference, n_fft, hop), _power_blocks(estimate, n_fft, hop)):
        values = distance(p_ref, p_est)
        total += float(np.sum(values))
        frames += values.size
    return total / frames


def lsd(reference, estimate, n_fft=LSD_N_FFT, hop=LSD_HOP, bins=slice(None)):
    """Log-spectral distance (log10 power, averaged over frames); see the module docstring.

    ``bins``: the STFT bins the mean over bins runs over (all by default; see :func:`band_bins`).
    """
    ref, est = _pair(reference, estimate)

    def distance(p_ref, p_est):
        diff = np.log10(p_ref[:, bins] + 1e-10) - np.log10(p_est[:, bins] + 1e-10)
        return np.sqrt(np.mean(diff ** 2, axis=1))

    return _frame_mean(ref, est, n_fft, hop, distance)


def band_bins(sample_rate, low_hz, high_hz=None, n_fft=LSD_N_FFT):
    """The STFT bins (a slice) whose centre frequencies lie in [low_hz, high_hz) at ``sample_rate``
    (``high_hz`` None: up to half the sample rate, its bin included)."""
    hz_per_bin = sample_rate / n_fft
    end = n_fft // 2 + 1 if high_hz is None else min(n_fft // 2 + 1, int(np.ceil(high_hz / hz_per_bin)))
    first = int(np.ceil(low_hz / hz_per_bin))
    if not 0 <= first < end:
        top = f"{high_hz:g})" if high_hz is not None else f"{sample_rate / 2:g}]"
        raise ValueError(f"no STFT bin lies in [{low_hz:g}, {top} Hz at {sample_rate:g} Hz")
    return slice(first, end)


def band_level(reference, estimate, bins, n_fft=LSD_N_FFT, hop=LSD_HOP):
    """The estimate's power in the STFT ``bins``, summed over all frames, over the reference's, in dB
    (0: as loud there as the reference; -inf for an estimate silent there)."""
    ref, est = _pair(reference, estimate)
    totals = np.zeros(2)
    for p_ref, p_est in zip(_power_blocks(ref, n_fft, hop), _power_blocks(est, n_fft, hop)):
        totals += p_ref[:, bins].sum(), p_est[:, bins].sum()
    with np.errstate(divide="ignore"):
        return float(10 * np.log10(totals[1] / max(totals[0], _EPS)))


def mel_distance(reference, estimate, sample_rate=22050):
    """Mel-spectral distance in dB (see the module docstring)."""
    ref, est = _pair(reference, estimate)
    bank = librosa.filters.mel(sr=sample_rate, n_fft=MEL_N_FFT, n_mels=MEL_BANDS, fmin=0.0, fmax=sample_rate / 2)

    def distance(p_ref, p_est):
        diff = 10 * np.log10(p_ref @ bank.T + 1e-10) - 10 * np.log10(p_est @ bank.T + 1e-10)
        return np.sqrt(np.mean(diff ** 2, axis=1))

    return _frame_mean(ref, est, MEL_N_FFT, MEL_HOP, distance)


def score(reference, estimate, sample_rate=22050):
    """``{"snr": dB, "si_sdr": dB, "lsd": ..., "mel_distance": dB}`` of ``estimate`` against ``reference``."""
    return {"snr": snr(reference, estimate), "si_sdr": si_sdr(reference, estimate),
            "lsd": lsd(reference, estimate), "mel_distance": mel_distance(reference, estimate, sample_rate)}
