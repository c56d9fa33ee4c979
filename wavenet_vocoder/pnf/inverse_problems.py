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
import torch

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
