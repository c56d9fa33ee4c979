"""Plain, task-specific estimates to compare PnF against: each maps the degraded input to audio.

Audio arrays are (T,) floats in [-1, 1]; positions and lengths are in samples.
"""
import numpy as np

from .deferred import deferred_import
from .quantize import from_units, to_units

librosa = deferred_import("librosa")
torch = deferred_import("torch")
scipy_interpolate = deferred_import("scipy.interpolate")
scipy_signal = deferred_import("scipy.signal")


def superres_bandlimited(kept, interval, length):
    """Band-limited (polyphase FIR) interpolation of ``kept = x[::interval]`` back to ``length`` samples."""
    up = scipy_signal.resample_poly(np.asarray(kept, dtype=np.float64), interval, 1)
    if up.size < length:
        up = np.pad(up, (0, length - up.size))
    return up[:length]


def dither_in_units(x, sigma, input_type, channels=256, keep=None, seed=0):
    """``x`` plus Gaussian noise of ``sigma`` quantised units, added where a WaveNet prior's levels live
    (on the quantiser's curve: mu-law or linear units 0..channels-1), then back to audio in [-1, 1].

    With ``x`` a plain estimate and ``sigma`` a prior's lowest level, this is the state PnF's warm
    start reaches before any Langevin step: what a noise floor alone does to the measures, the
    control for what the prior's steps add. ``keep`` (an index or slice, e.g. ``slice(None, None,
    4)``: the observed samples) stays as it is; ``seed`` fixes the noise.
    """
    x = np.asarray(x, dtype=np.float64)
    units = to_units(torch.from_numpy(x.copy()), input_type, channels)
    noise = torch.randn(units.shape, generator=torch.Generator().manual_seed(seed), dtype=units.dtype)
    out = from_units(units + sigma * noise, input_type, channels).numpy()
    if keep is not None:
        out[keep] = x[keep]
    return out


def superres_noise_floor(low, interval, length, sigma, input_type, channels=256, antialias=False, seed=0):
    """The noise-floor control of super-resolution: band-limited interpolation of ``low`` (every
    ``interval``-th sample, or with ``antialias`` the low-passed and decimated signal) to ``length``
    samples, plus noise of ``sigma`` quantised units (a prior's lowest level) where it interpolated:
    every sample but the kept ones, or with ``antialias`` every sample (see :func:`dither_in_units`)."""
    return dither_in_units(superres_bandlimited(low, interval, length), sigma, input_type, channels,
                           None if antialias else slice(None, None, interval), seed)


def inpaint_linear(x, start, end):
    """``x`` with samples [start, end) replaced by the straight line between their neighbours."""
    y = np.array(x, dtype=np.float64)
    left = y[start - 1] if start > 0 else (y[end] if end < y.size else 0.0)
    right = y[end] if end < y.size else left
    y[start:end] = np.linspace(left, right, end - start + 2)[1:-1]
    return y


def separate_half(mixture):
    """Half the mixture for each of two sources."""
    half = 0.5 * np.asarray(mixture, dtype=np.float64)
    return half, half.copy()


def superres_cubic(kept, interval, length):
    """Cubic-spline interpolation through ``kept = x[::interval]`` (positions 0, r, 2r, ...) to ``length`` samples.

    Past the last kept sample the spline is extrapolated.
    """
    kept = np.asarray(kept, dtype=np.float64)
    if kept.size < 2:
        return np.full(length, kept[0] if kept.size else 0.0)
    spline = scipy_interpolate.CubicSpline(np.arange(kept.size) * interval, kept, bc_type="not-a-knot")
    return spline(np.arange(length, dtype=np.float64))


def declip_spline(x, clipped):
    """``x`` with its ``clipped`` samples (a boolean mask) replaced by a cubic spline through the others.

    A clipped sample was at least as loud as it reads, so each keeps the spline's value only
    where that is further from zero on the sample's own side (positive clips up, negative clips
    down), and at most full scale. With fewer than two unclipped samples ``x`` is returned as is.
    """
    x = np.asarray(x, dtype=np.float64)
    clipped = np.asarray(clipped, dtype=bool)
    y = x.copy()
    kept = np.flatnonzero(~clipped)
    if kept.size < 2 or not clipped.any():
        return y
    spline = scipy_interpolate.CubicSpline(kept, x[kept], bc_type="not-a-knot")
    filled = np.clip(spline(np.flatnonzero(clipped)), -1.0, 1.0)
    y[clipped] = np.where(x[clipped] >= 0, np.maximum(filled, x[clipped]), np.minimum(filled, x[clipped]))
    return y


def _ar_extrapolate(context, count, order):
    """Continue ``context`` by ``count`` samples with an order-``order`` AR (LPC, Burg) model fitted to it."""
    context = np.asarray(context, dtype=np.float64)
    order = min(order, context.size - 1)
    if order < 1 or not np.any(context):
        return np.zeros(count)
    a = librosa.lpc(context, order=order)            # x[n] + a1 x[n-1] + ... + ap x[n-p] = e[n]
    if not np.all(np.isfinite(a)):
        return np.zeros(count)
    poles = np.roots(a)
    outside = np.abs(poles) > 1.0
    if np.any(outside):                                # reflect into the unit circle: a stable filter
        poles[outside] = 1.0 / np.conj(poles[outside])
        a = np.real(np.poly(poles))
    state = scipy_signal.lfiltic([1.0], a, y=context[::-1][:order])
    continued, _ = scipy_signal.lfilter([1.0], a, np.zeros(count), zi=state)
    return continued


def inpaint_lpc(x, start, end, order=32, context=None):
    """``x`` with samples [start, end) filled by AR (LPC) extrapolation from both sides, cross-faded.

    An order-``order`` AR model is fitted (Burg's method) to the ``context`` samples before the
    gap (default ``max(4 * order, 2 * (end - start))``) and run forward into it, another to
    the samples after the gap, run backward; the two are blended with a linear cross-fade
    (weight 1 on the forward prediction at the left edge, 0 at the right).
    """
    y = np.array(x, dtype=np.float64)
    n = end - start
    context = context or max(4 * order, 2 * n)
    left = y[max(0, start - context):start]
    right = y[end:end + context]
    forward = _ar_extrapolate(left, n, order) if left.size > 1 else np.zeros(n)
    backward = _ar_extrapolate(right[::-1], n, order)[::-1] if right.size > 1 else np.zeros(n)
    if left.size <= 1:
        forward = backward
    if right.size <= 1:
        backward = forward
    fade = np.linspace(1.0, 0.0, n + 2)[1:-1]
    y[start:end] = fade * forward + (1.0 - fade) * backward
    return y


def spectrogram_griffin_lim(log_mel, hp, n_iter=60):
    """Audio from log10 mel magnitudes (frames, num_mels) by Griffin-Lim (librosa), ``frames * hop_size`` samples.

    The mel filterbank is inverted by non-negative least squares, the phase found by
    ``n_iter`` Griffin-Lim iterations with the preset's STFT (``fft_size``, ``hop_size``,
    ``win_length``, ``window``) from a random phase with a fixed seed (the same audio every run).
    """
    mel = np.power(10.0, np.asarray(log_mel, dtype=np.float64)).T
    magnitude = librosa.feature.inverse.mel_to_stft(mel, sr=hp.sample_rate, n_fft=hp.fft_size, power=1.0,
                                                    fmin=hp.fmin, fmax=hp.fmax)
    audio = librosa.griffinlim(magnitude, n_iter=n_iter, hop_length=hp.hop_size, win_length=hp.win_length,
                               n_fft=hp.fft_size, window=hp.window, center=True, pad_mode="reflect",
                               random_state=0)
    length = mel.shape[1] * hp.hop_size                # the dumps' convention: frames * hop samples
    return np.pad(audio, (0, max(0, length - audio.size)))[:length]
