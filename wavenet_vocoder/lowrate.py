"""How a low-rate recording is made from a high-rate one: an anti-aliasing low-pass, then decimation.

The filter is the one ``scipy.signal.resample_poly(x, 1, r)`` designs (a Kaiser-windowed
sinc, beta 5, cutoff at the low rate's Nyquist frequency, 20 r + 1 taps), applied centred
with zeros beyond the ends, so that :func:`decimate` equals that call.  Real files were
made by other resamplers (sox, ffmpeg): their filters differ in detail, not in kind.
"""
import numpy as np

from .deferred import deferred_import

torch = deferred_import("torch")
scipy_signal = deferred_import("scipy.signal")


def antialias_filter(ratio):
    """The low-pass FIR (numpy float64, 20 * ratio + 1 taps, unit gain at 0 Hz) for decimation by ``ratio``."""
    if ratio < 2:
        raise ValueError(f"the decimation ratio must be at least 2, got {ratio}")
    return scipy_signal.firwin(20 * ratio + 1, 1.0 / ratio, window=("kaiser", 5.0))


def decimate(x, ratio, taps=None):
    """Low-pass then keep every ``ratio``-th sample: (T,) -> (ceil(T / ratio),), torch or numpy.

    Differentiable for torch input (the likelihood of a low-rate observation uses it).
    """
    as_numpy = not torch.is_tensor(x)
    signal = torch.as_tensor(np.asarray(x, dtype=np.float64)) if as_numpy else x
    taps = antialias_filter(ratio) if taps is None else taps
    kernel = torch.as_tensor(taps, dtype=signal.dtype, device=signal.device).view(1, 1, -1)
    half = (kernel.size(-1) - 1) // 2
    low = torch.nn.functional.conv1d(signal.view(1, 1, -1), kernel, padding=half, stride=ratio).view(-1)
    return low.numpy() if as_numpy else low
