"""Quality metrics between a reference and an estimate, both (T,) audio arrays in [-1, 1].

- SNR (dB): ``10 log10(sum ref^2 / sum (ref - est)^2)``.
- SI-SDR (dB): with ``a = <est, ref> / <ref, ref>``, ``10 log10(|a ref|^2 / |a ref - est|^2)``.
- LSD (log-spectral distance, no unit): STFT power spectra P = |STFT|^2 (n_fft 2048, hop 512,
  hann window, centred), ``mean over frames of sqrt(mean over bins of
  (log10(P_ref + 1e-10) - log10(P_est + 1e-10))^2)``.  Lower is better; 0 is identical.
"""
import numpy as np

_EPS = 1e-20
LSD_N_FFT, LSD_HOP = 2048, 512


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


def _power_spectrogram(x, n_fft, hop):
    pad = n_fft // 2
    x = np.pad(x, pad, mode="reflect" if x.size > pad else "constant")
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    frames = 1 + (x.size - n_fft) // hop
    window = np.hanning(n_fft + 1)[:-1]
    stacked = np.stack([x[i * hop:i * hop + n_fft] * window for i in range(frames)])
    return np.abs(np.fft.rfft(stacked, axis=1)) ** 2


def lsd(reference, estimate, n_fft=LSD_N_FFT, hop=LSD_HOP):
    """Log-spectral distance (log10 power, averaged over frames); see the module docstring."""
    ref, est = _pair(reference, estimate)
    diff = np.log10(_power_spectrogram(ref, n_fft, hop) + 1e-10) - np.log10(_power_spectrogram(est, n_fft, hop) + 1e-10)
    return float(np.mean(np.sqrt(np.mean(diff ** 2, axis=1))))


def score(reference, estimate):
    """``{"snr": dB, "si_sdr": dB, "lsd": ...}`` of ``estimate`` against ``reference``."""
    return {"snr": snr(reference, estimate), "si_sdr": si_sdr(reference, estimate),
            "lsd": lsd(reference, estimate)}
