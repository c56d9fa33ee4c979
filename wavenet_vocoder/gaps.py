"""Where to inpaint: gaps given in seconds, read from a file, or found as digital silence; and the
band a fill may have (a recording made at a lower rate has nothing above half that rate).

Every function returns gaps as (start, end) sample indices, end exclusive.
"""
import math

import numpy as np

from .deferred import deferred_import
from .errors import PnfError

scipy_signal = deferred_import("scipy.signal")

#: The fill's low-pass (:func:`limit_fill_band`): stop-band attenuation (dB) and transition width (Hz),
#: the transition ending at the band edge.
FILL_BAND_STOP_DB = 80.0
FILL_BAND_TRANSITION_HZ = 250.0


def parse_gap(text, length, sample_rate, source="--gap"):
    """``"start,end"`` in seconds (or a pair) -> (start, end) samples inside a signal of ``length``."""
    try:
        values = text.replace(",", " ").split() if isinstance(text, str) else list(text)
        start, end = (float(v) for v in values)
    except ValueError:
        raise PnfError(f"{source}={text}: expected two numbers of seconds, start,end (e.g. 1.1,1.3)") from None
    a, b = int(round(start * sample_rate)), int(round(end * sample_rate))
    if not 0 <= a < b <= length:
        raise PnfError(f"{source}={start:g},{end:g} s lies outside the input of {length / sample_rate:.3f} s "
                       "(or is empty): choose start < end inside the file")
    return a, b


def read_gaps_file(path, length, sample_rate):
    """Gaps from a text file: one ``start end`` (or ``start,end``) in seconds per line; ``#`` starts a comment."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except OSError as e:
        raise PnfError(f"--gaps-file={path}: cannot read it ({e.strerror})") from None
    gaps = []
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if line:
            gaps.append(parse_gap(line, length, sample_rate, source=f"{path}, line {number}"))
    if not gaps:
        raise PnfError(f"--gaps-file={path} lists no gap: write one 'start end' in seconds per line")
    return gaps


def find_dropouts(x, sample_rate, min_ms):
    """Runs of exact digital silence (samples equal to 0) of at least ``min_ms`` milliseconds."""
    x = np.asarray(x)
    min_length = max(1, math.ceil(min_ms * sample_rate / 1000))
    silent = np.concatenate([[False], x == 0, [False]])
    edges = np.flatnonzero(silent[1:] != silent[:-1])
    starts, ends = edges[0::2], edges[1::2]
    return [(int(a), int(b)) for a, b in zip(starts, ends) if b - a >= min_length]


def rescale_gaps(gaps, from_rate, to_rate, length):
    """Gaps found at ``from_rate`` (Hz) as spans of a signal resampled to ``to_rate``, each widened to
    whole samples (start rounded down, end up) and cut to ``length`` samples; spans beyond it dropped."""
    ratio = to_rate / from_rate
    spans = [(math.floor(a * ratio), min(length, math.ceil(b * ratio))) for a, b in gaps]
    return [(a, b) for a, b in spans if a < b]


def merge_gaps(gaps):
    """Sorted gaps with overlapping or touching ones joined."""
    merged = []
    for a, b in sorted(gaps):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def parse_fill_band(text, flag="--fill-band"):
    """``--fill-band``'s value: "auto", None (for "none") or a frequency in Hz above 0."""
    if not isinstance(text, str):
        raise TypeError(f"{flag}: expected the flag's text, got {text!r}")
    word = text.strip().lower()
    if word in ("auto", "none"):
        return None if word == "none" else "auto"
    try:
        hz = float(word)
    except ValueError:
        hz = float("nan")
    if not math.isfinite(hz) or hz <= 0:
        raise PnfError(f"{flag}={text}: expected a frequency in Hz above 0 (e.g. 8000), auto or none")
    return hz


def fill_band_hz(setting, file_rate, sample_rate):
    """The band edge (Hz) to limit a fill to, or None for no limit.

    ``setting``: :func:`parse_fill_band`'s value; "auto" is half ``file_rate``, the input file's own
    rate (Hz), when that rate is below ``sample_rate``, the rate it is sampled at (a recording made at
    16 kHz has nothing above 8 kHz); otherwise no limit.
    """
    if setting == "auto":
        return file_rate / 2 if file_rate < sample_rate else None
    return setting


def fill_band_filter(band_hz, sample_rate):
    """The zero-phase low-pass FIR (odd length, float64) that :func:`limit_fill_band` applies: about
    -80 dB from ``band_hz`` up, -6 dB at ``band_hz`` - 125 Hz, unit gain below ``band_hz`` - 250 Hz."""
    nyquist = sample_rate / 2
    if not 0 < band_hz < nyquist:
        raise ValueError(f"the band edge {band_hz:g} Hz must lie between 0 and {nyquist:g} Hz")
    transition = min(FILL_BAND_TRANSITION_HZ, band_hz / 2)
    taps, beta = scipy_signal.kaiserord(FILL_BAND_STOP_DB, transition / nyquist)
    taps |= 1                                   # odd: a whole-sample delay, removed by centring
    return scipy_signal.firwin(taps, band_hz - transition / 2, window=("kaiser", beta), fs=sample_rate)


def limit_fill_band(audio, gaps, band_hz, sample_rate):
    """``audio`` (T,) with the samples inside ``gaps`` low-passed to ``band_hz`` (Hz), the rest unchanged.

    The whole signal is filtered (zero phase, :func:`fill_band_filter`) and only the gaps' samples
    are taken from it, so a fill joins its context as smoothly as before. For a recording without
    that band (made at a lower rate) the context passes the filter unchanged; a prior trained on
    full-band audio fills the gap with hiss above it, which this removes.
    """
    x = np.asarray(audio, dtype=np.float64)
    taps = fill_band_filter(band_hz, sample_rate)
    half = taps.size // 2
    # beyond its ends the signal is extended point-symmetrically (value and slope continue), as filtfilt does
    padded = np.pad(x, half, mode="reflect", reflect_type="odd") if x.size > 1 else np.pad(x, half, mode="edge")
    filtered = scipy_signal.oaconvolve(padded, taps, mode="valid")
    out = x.copy()
    for a, b in gaps:
        out[a:b] = filtered[a:b]
    return out
