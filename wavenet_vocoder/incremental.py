"""Sample-by-sample WaveNet evaluation with cached layer inputs (the incremental forward).

Ancestral synthesis draws x_{t+1} from the logits at t, so the whole network has to be
evaluated once per sample.  A full forward over the growing signal would cost O(T) per
sample; instead each dilated layer keeps a ring buffer of its last ``(k - 1) * d + 1``
inputs, so a new sample costs one column of each layer.

The computation is the same function as :meth:`WaveNet.forward`: logits for position t
from x[..., :t + 1] with zero activations before the first sample (the causal padding of
the full forward).  At batch size 1 a step is a chain of matrix-vector products, so its
cost is reading the weights and launching the operations; the step is arranged to do
few of both:

- the weights come folded (:class:`~wavenet_vocoder.folded.FoldedWaveNet`), arranged into
  (in, out) matrices once, when the object is built;
- each layer's input taps staged side by side: when h(t) is computed it is written to the
  rows of times t, t + d, ..., t + (k - 1) d of the layer's staging ring, so the dilated
  convolution at time t is one product of one contiguous row;
- the residual stream kept rescaled, ``h_l = q^l (h~_l + C_l)`` with ``q = sqrt(1/2)``:
  ``h~_{l+1} = h~_l + gate_l @ (W_out / q^l)`` is one ``addmm`` written straight into the
  next layer's ring buffer, and the biases (first_conv's and the out convolutions', summed
  into ``C_l``) are folded into each layer's constant; the rings start at ``-C_l``, which
  is the zero activation before the first sample;
- the gates of all layers are written side by side and the skip connections computed
  with one product after the last layer.
"""
import math

import torch

from .folded import folded, output_head


class IncrementalWaveNet:
    """Evaluates a :class:`~wavenet_vocoder.wavenet.WaveNet` one sample at a time.

    Built from a :class:`~wavenet_vocoder.folded.FoldedWaveNet` (or a WaveNet module,
    folded here); a noise-conditional model is evaluated at level ``sigma``.
    ``reset(batch)`` starts a new signal; ``step(x_t, c_t)`` takes the next input sample
    x_t (B,) in quantised units and, for a conditional model, its upsampled conditioning
    c_t (B, cin) (a column of :meth:`WaveNet.upsample_conditioning`), and returns the
    logits (B, out_channels) for the class of sample t + 1.
    """

    def __init__(self, model, sigma=None):
        net = folded(model)
        q = math.sqrt(0.5)
        first_w = net.first_w
        self.dtype, self.device = first_w.dtype, first_w.device
        self.first_w = first_w.unsqueeze(0)                                   # (1, R)
        self.kernel_size = net.kernel_size
        self.dilations = list(net.dilations)
        self.spans = [(self.kernel_size - 1) * d + 1 for d in self.dilations]
        self.residual_channels = net.residual_channels
        self.half = net.gate_half
        self.is_conditional = net.conditional
        skip_scale = net.skip_scale
        constant = net.first_b.clone()                                        # C_l
        self.constants, self.taps, self.conv_biases, self.outs, self.conds = [], [], [], [], []
        skip_weights, skip_bias = [], 0.0
        for l, (conv_w, gate_b) in enumerate(zip(net.conv_w, net.gate_biases(sigma))):
            w = conv_w * q ** l                                                # (G, R, k) reads h~ + C
            self.constants.append(constant.clone())
            self.taps.append(w.permute(2, 1, 0).reshape(-1, w.size(0)).contiguous())   # (k R, G): rows (tap, channel)
            self.conv_biases.append((gate_b + w.sum(2) @ constant).unsqueeze(0))
            self.outs.append((net.out_w[l] / q ** l).t().contiguous())         # (H, R)
            constant = constant + net.out_b[l] / q ** l
            skip_weights.append(net.skip_w[l].t() * skip_scale)
            skip_bias = skip_bias + net.skip_b[l] * skip_scale
            self.conds.append(net.cond_w[l].t().contiguous() if net.cond_w[l] is not None else None)
        self.skip_w = torch.cat(skip_weights).contiguous()                     # (L H, S)
        self.skip_b = skip_bias.unsqueeze(0)
        self.head = (net.head1_w, net.head_bias(sigma), net.head2_w, net.head2_b)
        self.rings = None
        self.t = 0

    def reset(self, batch=1):
        """Forget the past: every layer's inputs before the next sample are zero."""
        # ring l, row t mod span: the taps [h~_l(t - (k-1) d), ..., h~_l(t)] of time t, where
        # h~_l = h_l / q^l - C_l; the zero activation before the signal is -C_l.
        self.rings = [(-constant).repeat(self.kernel_size).expand(span, batch, -1).clone()
                      for constant, span in zip(self.constants, self.spans)]
        self.gates = torch.empty(batch, len(self.spans) * self.half, dtype=self.dtype, device=self.device)
        self.t = 0

    def _stage(self, l, current):
        """Copy h~_l(t) (already in row t, last tap) to the rows of times t + d, ..., t + (k - 1) d."""
        t, k, R, d, span = self.t, self.kernel_size, self.residual_channels, self.dilations[l], self.spans[l]
        ring = self.rings[l]
        for j in range(k - 1):
            ring[(t + (k - 1 - j) * d) % span, :, j * R:(j + 1) * R].copy_(current)

    @torch.no_grad()
    def step(self, x_t, c_t=None):
        """Logits (B, out_channels) for sample t + 1 given sample t (B,) and conditioning (B, cin)."""
        if self.rings is None:
            raise RuntimeError("call reset(batch) before step()")
        if self.is_conditional and c_t is None:
            raise ValueError("this model is mel-conditioned: pass c_t, (B, cin_channels)")
        t, k, R, H = self.t, self.kernel_size, self.residual_channels, self.half
        last = len(self.spans) - 1
        current = self.rings[0][t % self.spans[0], :, (k - 1) * R:]
        torch.mul(x_t.to(self.dtype).reshape(-1, 1), self.first_w, out=current)     # h~_0(t) = first_w x_t
        self._stage(0, current)
        for l in range(last + 1):
            row = self.rings[l][t % self.spans[l]]
            z = torch.addmm(self.conv_biases[l], row, self.taps[l])
            if c_t is not None:
                z.addmm_(c_t, self.conds[l])
            gate = self.gates[:, l * H:(l + 1) * H]
            torch.mul(torch.tanh(z[:, :H]), torch.sigmoid(z[:, H:]), out=gate)
            if l < last:
                current = self.rings[l + 1][t % self.spans[l + 1], :, (k - 1) * R:]
                torch.addmm(row[:, (k - 1) * R:], gate, self.outs[l], out=current)  # h~_{l+1}(t)
                self._stage(l + 1, current)
        self.t += 1
        skips = torch.addmm(self.skip_b, self.gates, self.skip_w)
        return output_head(skips, *self.head)[1]
