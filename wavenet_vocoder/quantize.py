"""Quantisers between audio in [-1, 1] and the model's quantised units (0..255 for 256 channels).

``mulaw-quantize`` is nnmnkwii's mu-law quantiser with mu = channels - 1 (its
integer conversion truncates); ``linear-quantize`` is ``round((x + 1) * mu / 2)``.
The inverses accept real values (the sampler's states lie between levels) and
clip them to [0, mu] first.
"""
import math

import numpy as np

from .deferred import deferred_import
from .hparams import INPUT_TYPES

torch = deferred_import("torch")
nnmnkwii_preprocessing = deferred_import("nnmnkwii.preprocessing")


def _check_type(input_type):
    if input_type not in INPUT_TYPES:
        raise ValueError(f"input_type {input_type!r} is not one of {INPUT_TYPES}")


def silence_units(channels=256):
    """The quantised value the samplers use for silence: ``(channels - 1) // 2`` (127 for 256 channels).

    It is mu-law's quantisation of 0.0 (nnmnkwii truncates 127.5 to 127) and the published
    samplers' context value for both quantisers (linear quantisation's exact zero,
    :func:`linear_zero`, lies half a unit above it).
    """
    return float((channels - 1) // 2)


def linear_zero(channels=256):
    """Linear quantisation's continuous image of 0.0 audio: ``(channels - 1) / 2`` (127.5 for 256)."""
    return (channels - 1) / 2.0


def quantize(x, input_type, channels=256):
    """Audio ``x`` in [-1, 1] (numpy) -> integer classes 0..channels-1 (int64)."""
    _check_type(input_type)
    mu = channels - 1
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    if input_type == "mulaw-quantize":
        return np.asarray(nnmnkwii_preprocessing.mulaw_quantize(x, mu), dtype=np.int64)
    return np.round((x + 1.0) * mu / 2.0).astype(np.int64)


def dequantize(q, input_type, channels=256):
    """Quantised units ``q`` (any real values, clipped to [0, channels-1]) -> audio in [-1, 1]."""
    _check_type(input_type)
    mu = channels - 1
    q = np.clip(np.asarray(q, dtype=np.float64), 0.0, mu)
    if input_type == "mulaw-quantize":
        return np.asarray(nnmnkwii_preprocessing.inv_mulaw_quantize(q, mu), dtype=np.float64)
    return q * 2.0 / mu - 1.0


def requantize(x, input_type, channels=256):
    """``x`` through the quantiser and back: the closest an 8-bit model's output can get to x."""
    return dequantize(quantize(x, input_type, channels), input_type, channels)


def to_units(audio, input_type, channels=256):
    """Audio in [-1, 1] (torch) -> continuous quantised units in [0, channels - 1], differentiable.

    The quantiser's own curve without its rounding: mu-law ``(v + 1) mu / 2`` with
    ``v = sign(a) ln(1 + mu |a|) / ln(1 + mu)``; linear ``(a + 1) mu / 2``.
    """
    _check_type(input_type)
    mu = channels - 1
    a = audio.clamp(-1.0, 1.0)
    if input_type == "mulaw-quantize":
        a = torch.sign(a) * torch.log1p(mu * a.abs()) / math.log1p(mu)
    return (a + 1.0) * mu / 2.0


def from_units(q, input_type, channels=256):
    """Continuous quantised units (torch, clipped to [0, channels - 1]) -> audio: :func:`dequantize` in torch."""
    _check_type(input_type)
    mu = channels - 1
    v = q.clamp(0.0, mu) * 2.0 / mu - 1.0
    if input_type == "mulaw-quantize":
        v = torch.sign(v) * torch.expm1(v.abs() * math.log1p(mu)) / mu
    return v
