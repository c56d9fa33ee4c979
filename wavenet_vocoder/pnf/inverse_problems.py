"""The four tasks as constraints the Langevin engine applies: no task has a loop of its own.

A task holds its observation and answers the engine's questions:

- ``n_sources``, ``length``: the state is (n_sources, length) samples in quantised units;
- ``initial_state(generator)``: where sampling starts;
- ``movable()``: (n_sources, length) bool, the samples that may move;
- ``extra_gradient(x, sigma)``: gradient of extra log-likelihood terms, or None;
- ``implicit_update(x, step, sigma)``: a change of the state after each Langevin step that
  takes quadratic likelihood terms implicitly (``step`` = eta times the windows covering each
  sample), or None;
- ``movable_span()``: (start, end) samples enclosing every movable sample, or None for all;
  with tiled windows the engine scores only the likelihood terms these samples reach;
- ``conditioning(source)``: (cin, N) mel frames with cin_pad context frames at each end, or None;
- ``silence``: the quantised value of silence, used as context before the signal.
"""
import numpy as np
import torch

from ..baselines import superres_bandlimited
from ..lowrate import antialias_filter, decimate
from ..quantize import from_units, to_units

#: Quantised silence (nnmnkwii's mu-law maps 0.0 to 127; the published context value).
SILENCE = 127.0


class _Task:
    n_sources = 1
    silence = SILENCE

    def extra_gradient(self, x, sigma):
        return None

    def implicit_update(self, x, step, sigma):
        return None

    def movable_span(self):
        return None

    def conditioning(self, source):
        return None


class SuperResolution(_Task):
    """Every ``interval``-th sample of ``observed`` (T,) is kept fixed; the others start uniform in [0, 256)."""

    def __init__(self, observed, interval):
        if interval < 2:
            raise ValueError("the downsample interval must be at least 2")
        self.observed = torch.as_tensor(observed, dtype=torch.float32).reshape(-1)
        self.interval = int(interval)
        self.length = self.observed.numel()

    def kept(self):
        """(length,) bool: the observed low-rate samples x[::interval]."""
        mask = torch.zeros(self.length, dtype=torch.bool)
        mask[::self.interval] = True
        return mask

    def initial_state(self, generator):
        x = torch.rand(1, self.length, generator=generator) * 256
        kept = self.kept()
        x[0, kept] = self.observed[kept]
        return x

    def movable(self):
        return ~self.kept().unsqueeze(0)


class LowRateSuperResolution(_Task):
    """A high-rate signal whose low-passed, decimated version is the observed low-rate one.

    ``observed``: (N,) the low-rate audio in [-1, 1]; ``ratio``: samples per observed sample;
    the state has ``length`` samples (N * ratio for a real file).  No sample is fixed: the
    likelihood term ``-gamma / 2 * ||S (A audio(x) - observed)||^2``, with ``gamma = weight /
    sigma^2`` and ``S = (channels - 1) / 2`` (audio in the linear quantiser's units, as
    separation's mixture term), pulls the estimate towards the observation; ``A`` is
    :func:`~wavenet_vocoder.lowrate.decimate` (the anti-aliasing low-pass of ``resample_poly``,
    then every ratio-th sample) and ``audio`` the quantiser's continuous inverse.

    The term is taken implicitly, on the audio, after each Langevin step (backward Euler,
    as separation's ``--implicit-mixture``): ``a <- a - A^T k (A a - observed)`` with
    ``k = e / (1 + e c)``, ``e = eta gamma S^2`` and ``c = ||A||^2`` (``A A^T`` is close to
    ``c I`` for this filter).  On the audio its pull is the same in quiet and loud passages;
    an explicit gradient step on the mu-law state would pull quiet passages (where the
    mu-law curve is steep in audio) 250^2 times less than loud ones, and be unstable at
    the weights that hold the loud ones.  Sampling starts from the band-limited interpolation.
    """

    def __init__(self, observed, ratio, length, input_type, channels=256, weight=1.0):
        self.ratio, self.length, self.weight = int(ratio), int(length), float(weight)
        self.input_type, self.channels = input_type, channels
        self.observed = torch.as_tensor(np.asarray(observed, dtype=np.float64))
        if -(-self.length // self.ratio) != self.observed.numel():
            raise ValueError(f"{self.observed.numel()} observed samples do not decimate {self.length} by {self.ratio}")
        self.taps = antialias_filter(self.ratio)
        self.scale = (channels - 1) / 2.0
        self.norm = self._operator_norm()

    def _operator_norm(self):
        """||A||^2, the largest eigenvalue of A A^T, by power iteration (about 1 / ratio)."""
        v = torch.randn(256 * self.ratio, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        norm = 0.0
        for _ in range(100):
            v.requires_grad_(True)
            (v_next,) = torch.autograd.grad((decimate(v, self.ratio, self.taps) ** 2).sum() / 2, v)
            norm = float(v_next.norm() / v.detach().norm())
            v = (v_next / v_next.norm()).detach()
        return norm

    def initial_state(self, generator):
        start = superres_bandlimited(self.observed.numpy(), self.ratio, self.length)
        return to_units(torch.as_tensor(start), self.input_type, self.channels).float().unsqueeze(0)

    def movable(self):
        return torch.ones(1, self.length, dtype=torch.bool)

    def implicit_update(self, x, step, sigma):
        eta = step[0].double()                                       # eta times the windows covering each sample
        e = eta.max() * self.weight / sigma ** 2 * self.scale ** 2
        gain = e / (1 + e * self.norm)
        with torch.enable_grad():
            audio = from_units(x[0].double(), self.input_type, self.channels).requires_grad_(True)
            low = decimate(audio, self.ratio, self.taps)
            residual = low.detach() - self.observed.to(audio.device)
            (pull,) = torch.autograd.grad(low, audio, residual)                           # A^T residual
        moved = (audio - gain * pull * (eta > 0)).detach().clamp(-1.0, 1.0)
        return (to_units(moved, self.input_type, self.channels) - x[0].double()).to(x.dtype).unsqueeze(0)


class Inpainting(_Task):
    """Samples inside the gaps start as silence and move; everything else stays as observed.

    ``gaps``: list of (start, end) sample indices, end exclusive.
    """

    def __init__(self, observed, gaps, silence=SILENCE):
        self.observed = torch.as_tensor(observed, dtype=torch.float32).reshape(-1)
        self.length = self.observed.numel()
        self.gaps = [(int(a), int(b)) for a, b in gaps]
        self.silence = float(silence)
        for a, b in self.gaps:
            if not 0 <= a < b <= self.length:
                raise ValueError(f"gap [{a}, {b}) lies outside the signal of {self.length} samples")

    def gap_mask(self):
        """(length,) bool: True inside a gap."""
        mask = torch.zeros(self.length, dtype=torch.bool)
        for a, b in self.gaps:
            mask[a:b] = True
        return mask

    def initial_state(self, generator):
        x = self.observed.clone().unsqueeze(0)
        x[0, self.gap_mask()] = self.silence
        return x

    def movable(self):
        return self.gap_mask().unsqueeze(0)

    def movable_span(self):
        return min(a for a, _ in self.gaps), max(b for _, b in self.gaps)


class Separation(_Task):
    """Two sources whose sum should equal ``mixture`` (T,) in quantised units (offset 255).

    Linear quantisation puts each source's zero at 127.5, so the quantised mixture is
    ``127.5 * mix + 255``.  Estimates start at (mixture - 127, 127).  The mixture term
    ``-gamma / 2 * (x0 + x1 - mixture)^2``, ``gamma = gamma_scale / sigma^2``, enters each
    step either explicitly, its gradient added to both sources as the published sampler
    does (stable only while ``2 eta gamma < 2``), or, with ``implicit``, as a backward-Euler
    step: after the prior's move the residual r = x0 + x1 - mixture becomes
    ``r / (1 + 2 eta gamma)`` and each source moves by ``-eta gamma r'``, stable for any eta.
    """

    n_sources = 2

    def __init__(self, mixture, gamma_scale=15.0, implicit=False):
        self.mixture = torch.as_tensor(mixture, dtype=torch.float32).reshape(-1)
        self.length = self.mixture.numel()
        self.gamma_scale = float(gamma_scale)
        self.implicit = bool(implicit)

    def initial_state(self, generator):
        return torch.stack([self.mixture - SILENCE, torch.full_like(self.mixture, SILENCE)])

    def movable(self):
        return torch.ones(2, self.length, dtype=torch.bool)

    def extra_gradient(self, x, sigma):
        if self.implicit:
            return None
        residual = x[0] + x[1] - self.mixture.to(x.device)
        return (-self.gamma_scale / sigma ** 2 * residual).expand(2, -1)

    def implicit_update(self, x, step, sigma):
        if not self.implicit:
            return None
        gamma = self.gamma_scale / sigma ** 2
        residual = x[0] + x[1] - self.mixture.to(x.device)
        shared = step[0] * gamma                       # both sources are covered by the same windows
        after = residual / (1 + 2 * shared)
        return (-shared * after).expand(2, -1)


class SpectrogramConditioned(_Task):
    """Audio for mel frames ``mel`` (cin, N) with cin_pad context frames at each end.

    The signal has ``(N - 2 * cin_pad) * hop_size`` samples, all free, starting uniform in [0, 256).
    """

    def __init__(self, mel, cin_pad, hop_size):
        self.mel = torch.as_tensor(mel, dtype=torch.float32)
        frames = self.mel.size(1) - 2 * cin_pad
        if frames <= 0:
            raise ValueError(f"{self.mel.size(1)} mel frames leave none after {cin_pad} context frames at each end")
        self.length = frames * hop_size

    def initial_state(self, generator):
        return torch.rand(1, self.length, generator=generator) * 256

    def movable(self):
        return torch.ones(1, self.length, dtype=torch.bool)

    def conditioning(self, source):
        return self.mel
