"""The WaveNet in folded form: plain weights computed once, shared by the fast evaluators.

The :class:`~wavenet_vocoder.wavenet.WaveNet` module stores weight-normalised convolutions
(``weight_g``, ``weight_v``) and, when noise-conditional, a noise-level embedding; it is what
training differentiates and the reference every other form is tested against.  Sampling
evaluates the same function with the weights fixed, so the weight norm is applied once
(:class:`FoldedWaveNet`), and the noise level enters as one more gate bias per block (and,
for a head that reads it, a bias of the head's hidden layer), evaluated once per level
(:meth:`FoldedWaveNet.gate_biases`, :meth:`FoldedWaveNet.head_bias`).  Two evaluators are built on
the folded form:

- :class:`~wavenet_vocoder.fast_log_prob.FastLogProb`: ``log p_sigma`` of spans and its
  input gradient, for the Langevin engine;
- :class:`~wavenet_vocoder.incremental.IncrementalWaveNet`: logits one sample at a time, for
  ancestral synthesis;

and both end in the one output head, :func:`output_head`.
"""
import math

import torch

from .modules import weight_norm_weight


def _plain(conv):
    """A weight-normalised convolution's effective weight (out, in, k), detached."""
    return weight_norm_weight(conv.weight_v, conv.weight_g).detach()


class FoldedWaveNet:
    """A WaveNet's weights with weight norm applied, block by block, on the model's device and dtype.

    With L blocks, R residual, G gate, H = G / 2 gate-half, S skip channels and K classes:
    ``first_w``, ``first_b`` (R,); per block ``conv_w`` (G, R, k), ``conv_b`` (G,),
    ``cond_w`` (G, cin) or None, ``out_w`` (R, H), ``out_b`` (R,), ``skip_w`` (S, H),
    ``skip_b`` (S,); the head in (in, out) layout, ``head1_w`` (S, S), ``head1_b`` (S,),
    ``head2_w`` (S, K), ``head2_b`` (K,); ``skip_scale = sqrt(1 / L)``.
    """

    def __init__(self, model):
        if model.training:
            raise ValueError("put the model in eval mode first (dropout would differ per call)")
        blocks = list(model.conv_layers)
        self.kernel_size = model.kernel_size
        self.dilations = [block.conv.dilation for block in blocks]
        self.conditional = model.is_conditional
        self.noise_conditional = model.is_noise_conditional
        self._noise_model = model if self.noise_conditional else None
        with torch.no_grad():
            self.first_w = _plain(model.first_conv)[:, 0, 0]
            self.first_b = model.first_conv.bias.detach()
            self.conv_w = [_plain(b.conv) for b in blocks]
            self.conv_b = [b.conv.bias.detach() for b in blocks]
            self.cond_w = [_plain(b.conv1x1c)[:, :, 0] if b.conv1x1c is not None else None for b in blocks]
            self.out_w = [_plain(b.conv1x1_out)[:, :, 0] for b in blocks]
            self.out_b = [b.conv1x1_out.bias.detach() for b in blocks]
            self.skip_w = [_plain(b.conv1x1_skip)[:, :, 0] for b in blocks]
            self.skip_b = [b.conv1x1_skip.bias.detach() for b in blocks]
            head1, head2 = model.last_conv_layers[1], model.last_conv_layers[3]
            self.head1_w, self.head1_b = _plain(head1)[:, :, 0].t().contiguous(), head1.bias.detach()
            self.head2_w, self.head2_b = _plain(head2)[:, :, 0].t().contiguous(), head2.bias.detach()
        self.skip_scale = math.sqrt(1.0 / len(blocks))
        self.residual_channels = self.first_w.numel()
        self.gate_half = self.out_w[0].size(1)
        self.skip_channels = self.skip_w[0].size(0)

    @torch.no_grad()
    def gate_biases(self, sigma=None):
        """Each block's gate bias (G,) at noise level ``sigma`` (quantised units).

        The convolution bias, plus for a noise-conditional model the projection of the
        level's embedding; ``sigma`` is ignored by a model without noise conditioning.
        """
        if not self.noise_conditional:
            return list(self.conv_b)
        if sigma is None:
            raise ValueError("this model is noise-conditional: give the noise level sigma")
        noise = self._noise_model.noise_biases(float(sigma))
        return [b + n[0].to(b.dtype) for b, n in zip(self.conv_b, noise)]

    @torch.no_grad()
    def head_bias(self, sigma=None):
        """The head's hidden-layer bias (S,) at noise level ``sigma``: ``head1_b``, plus the
        level's projection for a noise-conditional head (``noise_head``)."""
        if not self.noise_conditional or self._noise_model.noise_head is None:
            return self.head1_b
        if sigma is None:
            raise ValueError("this model is noise-conditional: give the noise level sigma")
        return self.head1_b + self._noise_model.head_noise_bias(float(sigma))[0].to(self.head1_b.dtype)


def folded(model_or_folded):
    """``model_or_folded`` as a :class:`FoldedWaveNet` (folding a WaveNet module once)."""
    return model_or_folded if isinstance(model_or_folded, FoldedWaveNet) else FoldedWaveNet(model_or_folded)


def output_head(hidden_in, head1_w, head1_b, head2_w, head2_b):
    """The output head: (N, S) scaled skip sum -> (hidden pre-activation (N, S), logits (N, K)).

    ``hidden_in = skip_scale * sum over blocks of (skip_w h + skip_b)``; the logits are
    ``head2(relu(head1(relu(hidden_in))))``, as the module's ``last_conv_layers``, with
    the weights in (in, out) layout.  The one head of every evaluator of the folded form.
    """
    hidden = torch.addmm(head1_b, torch.relu(hidden_in), head1_w)
    return hidden, torch.addmm(head2_b, torch.relu(hidden), head2_w)
