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
"""
import librosa
import numpy as np

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
    diff = np.log10(power_spectrogram(ref, n_fft, hop) + 1e-10) - np.log10(power_spectrogram(est, n_fft, hop) + 1e-10)
    return float(np.mean(np.sqrt(np.mean(diff ** 2, axis=1))))


def mel_distance(reference, estimate, sample_rate=22050):
    """Mel-spectral distance in dB (see the module docstring)."""
    ref, est = _pair(reference, estimate)
    bank = librosa.filters.mel(sr=sample_rate, n_fft=MEL_N_FFT, n_mels=MEL_BANDS, fmin=0.0, fmax=sample_rate / 2)
    diff = [10 * np.log10(power_spectrogram(x, MEL_N_FFT, MEL_HOP) @ bank.T + 1e-10) for x in (ref, est)]
    return float(np.mean(np.sqrt(np.mean((diff[0] - diff[1]) ** 2, axis=1))))


def score(reference, estimate, sample_rate=22050):
    """``{"snr": dB, "si_sdr": dB, "lsd": ..., "mel_distance": dB}`` of ``estimate`` against ``reference``."""
    return {"snr": snr(reference, estimate), "si_sdr": si_sdr(reference, estimate),
            "lsd": lsd(reference, estimate), "mel_distance": mel_distance(reference, estimate, sample_rate)}
