"""Sample-by-sample WaveNet evaluation with cached layer inputs (the incremental forward).

Ancestral synthesis draws x_{t+1} from the logits at t, so the whole network has to be
evaluated once per sample.  A full forward over the growing signal would cost O(T) per
sample; instead each dilated layer keeps a ring buffer of its last ``(k - 1) * d + 1``
inputs, so a new sample costs one column of each layer.

The computation is the same function as :meth:`WaveNet.forward`: logits for position t
from x[..., :t + 1] with zero activations before the first sample (the causal padding of
the full forward).  Weight norm is folded into plain weights once, when the object is built.
"""
import math

import torch

from .modules import weight_norm_weight


def _folded(conv):
    """(weight (out, in * k) with in-major, tap-minor columns, bias or None) of a weight-normalised conv."""
    with torch.no_grad():
        weight = weight_norm_weight(conv.weight_v, conv.weight_g)
        return weight.reshape(weight.size(0), -1).clone(), (None if conv.bias is None else conv.bias.detach().clone())


def _affine(x, weight_bias):
    weight, bias = weight_bias
    y = x @ weight.t()
    return y if bias is None else y + bias


class _LayerCache:
    """Folded weights and the input ring buffer of one gated residual block."""

    def __init__(self, block):
        self.dilation = block.conv.dilation
        self.kernel_size = block.conv.kernel_size
        self.conv = _folded(block.conv)
        self.cond = _folded(block.conv1x1c) if block.conv1x1c is not None else None
        self.out = _folded(block.conv1x1_out)
        self.skip = _folded(block.conv1x1_skip)
        self.span = (self.kernel_size - 1) * self.dilation + 1
        self.buffer = None

    def reset(self, batch, channels, device, dtype):
        self.buffer = torch.zeros(batch, channels, self.span, device=device, dtype=dtype)

    def step(self, h, t, c_t):
        """Input h (B, R) at time t -> (residual output (B, R), skip (B, S))."""
        self.buffer[:, :, t % self.span] = h
        taps = [(t - (self.kernel_size - 1 - j) * self.dilation) % self.span for j in range(self.kernel_size)]
        z = _affine(self.buffer[:, :, taps].reshape(h.size(0), -1), self.conv)
        if c_t is not None:
            z = z + _affine(c_t, self.cond)
        a, b = z.chunk(2, dim=1)
        gated = torch.tanh(a) * torch.sigmoid(b)
        return (_affine(gated, self.out) + h) * math.sqrt(0.5), _affine(gated, self.skip)


class IncrementalWaveNet:
    """Evaluates a :class:`~wavenet_vocoder.wavenet.WaveNet` one sample at a time.

    ``reset(batch)`` starts a new signal; ``step(x_t, c_t)`` takes the next input sample
    x_t (B,) in quantised units and, for a conditional model, its upsampled conditioning
    c_t (B, cin) (a column of :meth:`WaveNet.upsample_conditioning`), and returns the
    logits (B, out_channels) for the class of sample t + 1.
    """

    def __init__(self, model):
        if model.training:
            raise ValueError("put the model in eval mode first (dropout would differ per call)")
        first_weight, first_bias = _folded(model.first_conv)
        self.first = (first_weight, first_bias)
        self.layers = [_LayerCache(block) for block in model.conv_layers]
        self.head = (_folded(model.last_conv_layers[1]), _folded(model.last_conv_layers[3]))
        self.residual_channels = first_weight.size(0)
        self.is_conditional = model.is_conditional
        self.device = first_weight.device
        self.dtype = first_weight.dtype
        self._skip_scale = math.sqrt(1.0 / len(self.layers))
        self.t = 0

    def reset(self, batch=1):
        """Forget the past: every layer's inputs before the next sample are zero."""
        for layer in self.layers:
            layer.reset(batch, self.residual_channels, self.device, self.dtype)
        self.t = 0

    @torch.no_grad()
    def step(self, x_t, c_t=None):
        """Logits (B, out_channels) for sample t + 1 given sample t (B,) and conditioning (B, cin)."""
        if self.layers and self.layers[0].buffer is None:
            raise RuntimeError("call reset(batch) before step()")
        if self.is_conditional and c_t is None:
            raise ValueError("this model is mel-conditioned: pass c_t, (B, cin_channels)")
        h = _affine(x_t.to(self.dtype).reshape(-1, 1), self.first)
        skips = 0
        for layer in self.layers:
            h, skip = layer.step(h, self.t, c_t)
            skips = skips + skip
        self.t += 1
        hidden = _affine(torch.relu(skips * self._skip_scale), self.head[0])
        return _affine(torch.relu(hidden), self.head[1])
