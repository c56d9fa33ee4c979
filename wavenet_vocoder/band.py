"""The band a restored signal may have: a recording made at a lower rate has nothing above half
that rate, so what a prior writes there (its hiss) is removed from the samples it filled in.

Shared by the tasks that fill samples in (inpainting's gaps, super-resolution's missing samples,
separation's two sources); ``--fill-band`` (script constant ``FILL_BAND``) sets the edge: a
frequency in Hz, "auto" or "none" (separation: one for both sources, or one each).
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
#: :func:`limit_fill_band`'s passes stop when no filled sample moves by more than this (full scale 1,
#: a third of a 16-bit step); super-resolution allows this many.
FILL_BAND_TOLERANCE = 1e-5
FILL_BAND_MAX_PASSES = 100


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


def parse_source_bands(text, flag="--fill-band"):
    """Separation's ``--fill-band``: one value for both sources, or two separated by a comma (source 0,
    source 1); a pair of :func:`parse_fill_band`'s values."""
    if not isinstance(text, str):
        raise TypeError(f"{flag}: expected the flag's text, got {text!r}")
    parts = text.split(",")
    if len(parts) > 2:
        raise PnfError(f"{flag}={text}: give one band edge for both sources or two separated by a comma "
                       "(source 0, source 1), each a frequency in Hz, auto or none")
    if len(parts) == 1:
        return (parse_fill_band(text, flag),) * 2
    values = []
    for part in parts:
        try:
            values.append(parse_fill_band(part, flag))
        except PnfError:
            raise PnfError(f"{flag}={text}: {part.strip()!r} is not a frequency in Hz above 0 (e.g. 8000), "
                           "auto or none") from None
    return tuple(values)


def check_fill_band(setting, sample_rate, flag="--fill-band"):
    """Refuse (:class:`PnfError`) an edge in Hz at or above half ``sample_rate``, the rate sampled at:
    there is no band above it to remove."""
    nyquist = sample_rate / 2
    if isinstance(setting, float) and setting >= nyquist:
        raise PnfError(f"{flag}={setting:g} Hz is not below half the preset's sample rate ({nyquist:g} Hz): "
                       "there is no band above it to remove; give a lower frequency, or none")


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


def limit_fill_band(audio, filled, band_hz, sample_rate, passes=1, tolerance=FILL_BAND_TOLERANCE):
    """``audio`` (T,) with the samples where ``filled`` (a (T,) bool mask: the samples the prior filled
    in) is True low-passed to ``band_hz`` (Hz); the others (the observation) unchanged.

    The whole signal is filtered (zero phase, :func:`fill_band_filter`) and only the filled samples
    are taken from it, so a fill joins its context as smoothly as before. For a gap in a recording
    without that band (made at a lower rate) the context passes the filter unchanged and one pass is
    all it takes. Where observed samples are interleaved with filled ones (super-resolution's every
    r-th sample), the filter moves the observed samples too (the fill's hiss leaks into them), and
    putting them back leaves a spike train of that leak above the edge: up to ``passes`` passes
    (alternating projections: low-pass, put the observed samples back) spread it into the fill,
    stopping once no filled sample moves by more than ``tolerance`` (full scale 1) in a pass. Their
    fixed point keeps the observed samples and nothing above the edge, when the observation has
    nothing above it itself (a recording made at a lower rate) or is too sparse to hold it.
    """
    x = np.asarray(audio, dtype=np.float64)
    filled = np.asarray(filled, dtype=bool)
    if filled.shape != x.shape:
        raise ValueError(f"the mask of filled samples has shape {filled.shape}, the audio {x.shape}")
    taps = fill_band_filter(band_hz, sample_rate)
    out = x.copy()
    for _ in range(passes):
        filtered = _filter(out, taps)
        moved = np.abs(filtered[filled] - out[filled]).max(initial=0.0)
        out[filled] = filtered[filled]
        if moved <= tolerance:
            break
    return out


def low_pass(audio, band_hz, sample_rate):
    """``audio`` (T,) low-passed to ``band_hz`` (Hz) with :func:`fill_band_filter` (zero phase), float64."""
    return _filter(np.asarray(audio, dtype=np.float64), fill_band_filter(band_hz, sample_rate))


def _filter(x, taps):
    """``x`` (T,) convolved with the odd-length, centred ``taps``; beyond its ends the signal is
    extended point-symmetrically (value and slope continue), as filtfilt does."""
    half = taps.size // 2
    padded = np.pad(x, half, mode="reflect", reflect_type="odd") if x.size > 1 else np.pad(x, half, mode="edge")
    return scipy_signal.oaconvolve(padded, taps, mode="valid")


def limit_source_bands(sources, bands, sample_rate):
    """Two separated sources, each low-passed to its own band edge, their sum unchanged.

    ``sources``: (2, T) audio; ``bands``: each source's edge in Hz, or None for no limit. Each
    source keeps its own low-passed part; what the low-passes took away (the part of the sum
    above the edges) is handed back where a source may hold it, so that the two still add up to
    what they did (the mixture, as far as the sampler met it): all of it to a source without a
    limit; with two edges, the part below the lower edge in halves, the rest to the source with the
    higher edge (to both in halves when the edges are equal: a part of the mixture above both
    edges stays, shared). Returns (2, T) float64.
    """
    x = np.asarray(sources, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != 2 or len(bands) != 2:
        raise ValueError(f"expected two sources (2, T) and two band edges, got {x.shape} and {bands!r}")
    out = np.stack([x[i] if bands[i] is None else low_pass(x[i], bands[i], sample_rate) for i in (0, 1)])
    removed = x.sum(axis=0) - out.sum(axis=0)
    if bands[0] is None or bands[1] is None:
        out[0 if bands[0] is None else 1] += removed
        return out
    lower = 0 if bands[0] <= bands[1] else 1
    shared = low_pass(removed, bands[lower], sample_rate) if bands[0] != bands[1] else removed
    out += shared / 2
    out[1 - lower] += removed - shared
    return out
