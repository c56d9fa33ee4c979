"""Plain, task-specific estimates to compare PnF against: each maps the degraded input to audio.

Audio arrays are (T,) floats in [-1, 1]; positions and lengths are in samples.
"""
import numpy as np
from scipy.signal import resample_poly


def superres_bandlimited(kept, interval, length):
    """Band-limited (polyphase FIR) interpolation of ``kept = x[::interval]`` back to ``length`` samples."""
    up = resample_poly(np.asarray(kept, dtype=np.float64), interval, 1)
    if up.size < length:
        up = np.pad(up, (0, length - up.size))
    return up[:length]


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
