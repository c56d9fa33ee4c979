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


def _mel_frame_distance(sample_rate):
    """The per-frame mel-spectral distance (dB) of two power-spectrogram blocks, at ``sample_rate``."""
    bank = librosa.filters.mel(sr=sample_rate, n_fft=MEL_N_FFT, n_mels=MEL_BANDS, fmin=0.0, fmax=sample_rate / 2)

    def distance(p_ref, p_est):
        diff = 10 * np.log10(p_ref @ bank.T + 1e-10) - 10 * np.log10(p_est @ bank.T + 1e-10)
        return np.sqrt(np.mean(diff ** 2, axis=1))

    return distance


def mel_distance(reference, estimate, sample_rate=22050):
    """Mel-spectral distance in dB (see the module docstring)."""
    ref, est = _pair(reference, estimate)
    return _frame_mean(ref, est, MEL_N_FFT, MEL_HOP, _mel_frame_distance(sample_rate))


def mel_frame_distances(reference, estimate, sample_rate=22050):
    """(F,) the mel-spectral distance of each frame in dB, frame f centred on sample ``f * MEL_HOP``:
    the values :func:`mel_distance` averages."""
    ref, est = _pair(reference, estimate)
    distance = _mel_frame_distance(sample_rate)
    return np.concatenate([distance(p_ref, p_est) for p_ref, p_est in
                           zip(_power_blocks(ref, MEL_N_FFT, MEL_HOP), _power_blocks(est, MEL_N_FFT, MEL_HOP))])


def score(reference, estimate, sample_rate=22050):
    """``{"snr": dB, "si_sdr": dB, "lsd": ..., "mel_distance": dB}`` of ``estimate`` against ``reference``."""
    return {"snr": snr(reference, estimate), "si_sdr": si_sdr(reference, estimate),
            "lsd": lsd(reference, estimate), "mel_distance": mel_distance(reference, estimate, sample_rate)}


HNR_FMIN, HNR_FMAX = 75.0, 500.0        # pitch range searched, Hz
HNR_PERIODS = 4.5                       # frame length in periods of HNR_FMIN (Praat's default for HNR)
HNR_HOP_S = 0.01                        # frame hop, seconds
VOICED_R, VOICED_RANGE_DB = 0.45, 30.0  # voiced: periodicity >= 0.45, within 30 dB of the loudest frame


def frame_periodicity(x, sample_rate, fmin=HNR_FMIN, fmax=HNR_FMAX):
    """Per frame of ``x``: its periodicity ``r`` in [0, 1] and its power (mean square), as two (F,) arrays.

    Frames are ``HNR_PERIODS / fmin`` seconds long, every ``HNR_HOP_S`` seconds, mean removed,
    Hann-windowed. ``r`` is the highest peak of the frame's normalised autocorrelation divided by
    the window's (Boersma 1993) at lags of 1/fmax..1/fmin seconds, refined by a parabola through
    the peak and its neighbours: a periodic frame gives 1, a periodic part of power P plus white
    noise of power N gives about P / (P + N), white noise alone a value near 0.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    n = int(round(HNR_PERIODS * sample_rate / fmin))
    hop = max(1, int(round(HNR_HOP_S * sample_rate)))
    if x.size < n:
        x = np.pad(x, (0, n - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop]
    frames = frames - frames.mean(axis=1, keepdims=True)
    power = np.mean(frames ** 2, axis=1)
    window = np.hanning(n)
    n_fft = 1 << int(np.ceil(np.log2(2 * n)))

    def autocorrelation(a):
        spectrum = np.fft.rfft(a, n_fft, axis=-1)
        return np.fft.irfft(np.abs(spectrum) ** 2, n_fft, axis=-1)[..., :n]

    ac_window = autocorrelation(window)
    ac = autocorrelation(frames * window)
    lo, hi = max(2, int(np.floor(sample_rate / fmax))), min(n - 2, int(np.ceil(sample_rate / fmin)))
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = ac[:, lo - 1:hi + 2] / np.maximum(ac[:, :1], _EPS) / (ac_window[lo - 1:hi + 2] / ac_window[0])
    inner = norm[:, 1:-1]
    k = np.argmax(inner, axis=1)
    rows = np.arange(len(inner))
    left, mid, right = norm[rows, k], norm[rows, k + 1], norm[rows, k + 2]
    curvature = left - 2 * mid + right
    shift = np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1.0), 0.0)
    peak = mid - 0.25 * (left - right) * shift
    r = np.clip(np.where(power > _EPS, peak, 0.0), 0.0, 1.0)
    return r, power


def hnr_db(r):
    """Harmonic-to-noise ratio in dB of periodicity ``r``: ``10 log10(r / (1 - r))``, kept within +-40 dB."""
    r = np.clip(np.asarray(r, dtype=np.float64), 1e-4, 1 - 1e-4)
    return 10 * np.log10(r / (1 - r))


def voiced_frames(reference, sample_rate=22050):
    """(voiced, periodicity, centres): per frame of :func:`frame_periodicity`, whether ``reference`` is
    voiced there (periodicity at least ``VOICED_R``, power within ``VOICED_RANGE_DB`` of the loudest
    frame), its periodicity, and the frame's centre in samples."""
    r, power = frame_periodicity(reference, sample_rate)
    voiced = (r >= VOICED_R) & (power >= power.max() * 10 ** (-VOICED_RANGE_DB / 10)) & (power > 0)
    n = int(round(HNR_PERIODS * sample_rate / HNR_FMIN))
    centres = np.arange(r.size) * max(1, int(round(HNR_HOP_S * sample_rate))) + n // 2
    return voiced, r, centres


def voiced_hnr(reference, estimate, sample_rate=22050):
    """How periodic ``estimate`` is where ``reference`` is voiced (a measure of fine structure, which the
    mel spectrogram leaves open).

    On the reference's voiced frames (:func:`voiced_frames`) returns ``{"frames": count,
    "reference_hnr": dB, "estimate_hnr": dB, "hnr_error": dB, "voiced": fraction}``: the mean HNR of
    each, the mean absolute frame-by-frame difference, and the share of those frames voiced in the
    estimate too. NaN means where the reference has no voiced frame.
    """
    ref, est = _pair(reference, estimate)
    voiced, r_ref, _ = voiced_frames(ref, sample_rate)
    r_est, _ = frame_periodicity(est, sample_rate)
    if not voiced.any():
        nan = float("nan")
        return {"frames": 0, "reference_hnr": nan, "estimate_hnr": nan, "hnr_error": nan, "voiced": nan}
    h_ref, h_est = hnr_db(r_ref[voiced]), hnr_db(r_est[voiced])
    return {"frames": int(voiced.sum()), "reference_hnr": float(h_ref.mean()), "estimate_hnr": float(h_est.mean()),
            "hnr_error": float(np.abs(h_ref - h_est).mean()), "voiced": float(np.mean(r_est[voiced] >= VOICED_R))}


def voiced_at(reference, positions, sample_rate=22050):
    """(P,) bool: whether ``reference`` is voiced (:func:`voiced_frames`) at each of ``positions`` (samples),
    judged by the periodicity frame whose centre is nearest."""
    voiced, _, centres = voiced_frames(reference, sample_rate)
    spacing = centres[1] - centres[0] if centres.size > 1 else 1          # the periodicity frames' hop
    nearest = np.rint((np.asarray(positions, dtype=np.float64) - centres[0]) / spacing).astype(int)
    return voiced[np.clip(nearest, 0, centres.size - 1)]


def mel_distance_by_voicing(reference, estimate, sample_rate=22050):
    """``(voiced, other)``: the mean mel-spectral distance in dB over the mel frames where ``reference`` is
    voiced (:func:`voiced_at` each frame's centre) and over the rest; NaN for a set with no frame."""
    ref, est = _pair(reference, estimate)
    distances = mel_frame_distances(ref, est, sample_rate)
    mask = voiced_at(ref, np.arange(distances.size) * MEL_HOP, sample_rate)
    mean = lambda values: float(values.mean()) if values.size else float("nan")
    return mean(distances[mask]), mean(distances[~mask])
