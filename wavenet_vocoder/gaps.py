"""Where to inpaint: gaps given in seconds, read from a file, or found as digital silence.

Every function returns gaps as (start, end) sample indices, end exclusive.
"""
import math

import numpy as np

from .errors import PnfError


def parse_gap(text, length, sample_rate, source="--gap"):
    """``"start,end"`` in seconds (or a pair) -> (start, end) samples inside a signal of ``length``."""
    try:
        values = text.replace(",", " ").split() if isinstance(text, str) else list(text)
        start, end = (float(v) for v in values)
    except ValueError:
        hint = "; a file of gaps goes to --gaps-file" if source == "--gap" else ""
        raise PnfError(f"{source}={text}: expected two numbers of seconds, start,end (e.g. 1.1,1.3){hint}") from None
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
