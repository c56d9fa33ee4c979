"""Building blocks of the WaveNet: weight-normalised convolutions and the gated residual block.

Parameter names follow the published checkpoints: a weight-normalised layer stores
``weight_g`` (one norm per output channel, shape (out, 1, ...)) and ``weight_v``
(the direction, the shape of the convolution weight); the effective weight is
``weight_v * weight_g / ||weight_v||`` with the norm over all dims but the first.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def weight_norm_weight(weight_v, weight_g):
    """The effective convolution weight ``g * v / ||v||`` (norm over all dims but dim 0)."""
    norm = weight_v.flatten(1).norm(dim=1).view(-1, *([1] * (weight_v.dim() - 1)))
    return weight_v * (weight_g / norm)


class _WeightNormConv(nn.Module):
    """Shared parameter handling of the 1-D and 2-D weight-normalised convolutions."""

    def _init_parameters(self, weight_shape, bias, std):
        out_channels = weight_shape[0]
        # Registration order (bias, weight_g, weight_v) matches the published state dicts.
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        v = torch.randn(weight_shape) * std
        g = v.flatten(1).norm(dim=1).view(-1, *([1] * (len(weight_shape) - 1)))
        self.weight_g = nn.Parameter(g)
        self.weight_v = nn.Parameter(v)

    def weight(self):
        """The effective weight tensor, recomputed from ``weight_g`` and ``weight_v``."""
        return weight_norm_weight(self.weight_v, self.weight_g)


class WeightNormConv1d(_WeightNormConv):
    """A weight-normalised Conv1d, causal when ``causal`` (left padding (k - 1) * dilation).

    Input and output are (B, C, T) with the same T.  ``dropout`` only scales the
    initial weights (std ``sqrt(4 (1 - dropout) / (kernel_size * in_channels))``,
    the WaveNet vocoder's initialisation).
    """

    def __init__(self, in_channels, out_channels, kernel_size=1, dilation=1, bias=True,
                 causal=True, dropout=0.0):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding = (kernel_size - 1) * dilation
        if not causal and self.padding % 2:
            raise ValueError("a non-causal convolution needs an even total padding")
        self.causal = causal
        std = math.sqrt(4 * (1.0 - dropout) / (kernel_size * in_channels))
        self._init_parameters((out_channels, in_channels, kernel_size), bias, std)

    def forward(self, x):
        pad = (self.padding, 0) if self.causal else (self.padding // 2, self.padding // 2)
        if self.padding:
            x = F.pad(x, pad)
        return F.conv1d(x, self.weight(), self.bias, dilation=self.dilation)


class WeightNormConv2d(_WeightNormConv):
    """A weight-normalised Conv2d with symmetric ``padding`` (used by the mel upsampler)."""

    def __init__(self, in_channels, out_channels, kernel_size, padding, bias=False):
        super().__init__()
        self.padding = tuple(padding)
        shape = (out_channels, in_channels) + tuple(kernel_size)
        self._init_parameters(shape, bias, std=1.0)
        with torch.no_grad():
            # A box filter, normalised: the upsampler starts as a moving average.
            self.weight_v.fill_(1.0 / math.prod(kernel_size))
            self.weight_g.copy_(self.weight_v.flatten(1).norm(dim=1).view(-1, 1, 1, 1))

    def forward(self, x):
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


class ResidualConv1dGLU(nn.Module):
    """One gated residual block (``conv_layers.i``).

    ``z = conv(x) [+ conv1x1c(c)]``; ``h = tanh(z_a) * sigmoid(z_b)`` over the two
    halves of the gate channels; returns ``((x + conv1x1_out(h)) * sqrt(0.5),
    conv1x1_skip(h))``.  x is (B, residual_channels, T); c, when given, is the
    upsampled conditioning (B, cin_channels, T).  A noise-conditional block
    (``noise_channels > 0``) also adds ``conv1x1n(e)``, a projection of the noise-level
    embedding e (B, noise_channels), to z at every position, as a per-level gate bias.
    """

    def __init__(self, residual_channels, gate_channels, kernel_size, skip_out_channels,
                 cin_channels=-1, dilation=1, dropout=0.0, noise_channels=-1):
        super().__init__()
        self.dropout = dropout
        self.conv = WeightNormConv1d(residual_channels, gate_channels, kernel_size, dilation,
                                     bias=True, causal=True, dropout=dropout)
        self.conv1x1c = (WeightNormConv1d(cin_channels, gate_channels, 1, bias=False)
                         if cin_channels > 0 else None)
        half = gate_channels // 2
        self.conv1x1_out = WeightNormConv1d(half, residual_channels, 1, bias=True)
        self.conv1x1_skip = WeightNormConv1d(half, skip_out_channels, 1, bias=True)
        if noise_channels > 0:
            # Zero at first: a block initialised from an unconditional checkpoint computes what it did.
            self.conv1x1n = nn.Linear(noise_channels, gate_channels, bias=False)
            nn.init.zeros_(self.conv1x1n.weight)
        else:
            self.conv1x1n = None

    def noise_bias(self, embedding):
        """The gate bias (B, gate_channels) of a noise-level embedding (B, noise_channels)."""
        if self.conv1x1n is None:
            raise ValueError("this block is not noise-conditional (noise_channels <= 0)")
        return self.conv1x1n(embedding)

    def forward(self, x, c=None, noise=None):
        """``noise``: the noise-level embedding (B, noise_channels) of a noise-conditional block."""
        residual = x
        x = F.dropout(x, p=self.dropout, training=self.training)
        z = self.conv(x)
        if c is not None:
            if self.conv1x1c is None:
                raise ValueError("this block has no conditioning input (cin_channels <= 0)")
            z = z + self.conv1x1c(c)
        if (noise is not None) != (self.conv1x1n is not None):
            raise ValueError("pass the noise embedding exactly when the block is noise-conditional")
        if noise is not None:
            z = z + self.noise_bias(noise).unsqueeze(-1)
        return self.gated(z, residual)

    def gated(self, z, residual):
        """The block after its pre-activation: z (B, gate_channels, T) and the block input
        (B, residual_channels, T) -> (output, skip); also used by the speed benchmark's plain incremental loop."""
        a, b = z.chunk(2, dim=1)
        h = torch.tanh(a) * torch.sigmoid(b)
        skip = self.conv1x1_skip(h)
        out = (self.conv1x1_out(h) + residual) * math.sqrt(0.5)
        return out, skip


class Stretch2d(nn.Module):
    """Nearest-neighbour stretch of the last axis of (B, 1, F, N) by an integer ``scale``."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x.repeat_interleave(self.scale, dim=-1)


class UpsampleNetwork(nn.Module):
    """Stretch-then-smooth upsampling of frames, one (Stretch2d, Conv2d) pair per scale.

    Stored as ``up_layers.{0,1,2,...}``: even indices are the stretches (no
    parameters), odd ones the weight-normalised Conv2d(1, 1, (1, 2 * scale + 1)).
    """

    def __init__(self, upsample_scales):
        super().__init__()
        self.up_layers = nn.ModuleList()
        for scale in upsample_scales:
            self.up_layers.append(Stretch2d(scale))
            self.up_layers.append(WeightNormConv2d(1, 1, (1, 2 * scale + 1), padding=(0, scale)))

    def forward(self, c):
        """(B, C, N) frames -> (B, C, N * prod(scales)) samples."""
        c = c.unsqueeze(1)
        for layer in self.up_layers:
            c = layer(c)
        return c.squeeze(1)


class ConvInUpsampleNetwork(nn.Module):
    """The published conditioning network: a Conv1d over 2 * cin_pad + 1 frames, then upsampling.

    (B, cin_channels, N) frames, of which cin_pad at each end are context only,
    become (B, cin_channels, (N - 2 * cin_pad) * prod(upsample_scales)) samples.
    """

    def __init__(self, upsample_scales, cin_pad, cin_channels):
        super().__init__()
        self.cin_pad = cin_pad
        self.hop_size = math.prod(upsample_scales)
        self.conv_in = nn.Conv1d(cin_channels, cin_channels, kernel_size=2 * cin_pad + 1, bias=False)
        self.upsample = UpsampleNetwork(upsample_scales)

    def forward(self, c):
        return self.upsample(self.conv_in(c))


class NoiseLevelEmbedding(nn.Module):
    """Embedding of the noise level sigma (quantised units): sinusoids of log sigma, then a small MLP.

    ``log sigma`` is multiplied by ``features // 2`` frequencies spaced geometrically from
    1/8 to 8 (radians per unit of log sigma, i.e. per factor e of sigma), and its sines and
    cosines go through Linear-SiLU-Linear-SiLU to ``channels`` values.  The schedules in use
    span log sigma from about -2.3 (sigma 0.1) to 5.2 (sigma 175.9).
    """

    def __init__(self, channels, features=32):
        super().__init__()
        self.register_buffer("frequencies", torch.logspace(math.log10(1 / 8), math.log10(8), features // 2),
                             persistent=False)
        self.mlp = nn.Sequential(nn.Linear(features, channels), nn.SiLU(), nn.Linear(channels, channels), nn.SiLU())

    def forward(self, sigma):
        """sigma: a number or (B,) tensor of positive noise levels -> (B, channels); a number gives (1, channels)."""
        sigma = torch.as_tensor(sigma, dtype=self.frequencies.dtype, device=self.frequencies.device).reshape(-1)
        # (checked in eager runs; a compiled graph keeps no data-dependent branch)
        if not torch.compiler.is_compiling() and not bool(torch.all(sigma > 0)):
            raise ValueError("noise levels sigma must be positive")
        angles = sigma.log().unsqueeze(-1) * self.frequencies
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1))
