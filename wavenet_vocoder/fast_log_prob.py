"""The smoothed log-likelihood and its input gradient, computed the fast way.

The Langevin engine needs, many times per level, ``log p_sigma(x_t | x_<t)`` of a batch
of spans and its gradient with respect to the span samples, with the model's weights
fixed.  :class:`FastLogProb` computes exactly the function of
:meth:`WaveNet.smoothed_log_prob <wavenet_vocoder.wavenet.WaveNet.smoothed_log_prob>`
with a hand-written backward pass:

- the weights come folded (:class:`~wavenet_vocoder.folded.FoldedWaveNet`: weight norm
  applied once per model; a noise-conditional model's level is a gate bias, written by
  :meth:`FastLogProb.set_level`), and every convolution is a matrix product in a (time, channel) layout
  (float32: one product per tap accumulated in place; bfloat16: the k taps gathered side
  by side and multiplied once);
- no weight gradients and no autograd graph: the forward keeps only each layer's gate
  derivatives (``d gate / d a`` and ``d gate / d b``, in the place of the pre-activations)
  and the head's ``posterior - softmax``; the backward is one elementwise product and a
  few matrix products per layer;
- the residual stream is split into the part that is linear in the input,
  ``q^l first_conv(x)`` with ``q = sqrt(1/2)``, and the rest.  The first part carries
  the input itself (0..255 quantised units) and is applied to each layer as a small
  float32 product with the input samples (and a constant channel, zero before the
  signal, that carries the biases); only the rest goes through the matrix products at the
  chosen precision, kept rescaled (``r~``) so that the residual sums need no scaling;
- both gate halves come from one sigmoid, ``tanh(a) = 2 sigmoid(2a) - 1`` (the a half's
  weights are doubled), cheaper than tanh on CPUs;
- each layer runs over chunks of positions (``chunk_rows``, about 2 MiB of gate
  activations each), so that the elementwise work between its products happens in cache
  rather than in passes over the whole window;
- only the positions the requested terms depend on are computed (``first_term``):
  the engine scores a window's targets, not its left context, so each layer stops
  where the layers above it stop needing it.

``precision='fp32'`` does every product in float32 (equal to the float64 model to about
1e-5 in relative gradient error, as the plain formulation is); ``'bf16'`` does the dilated
and 1x1 layer products in bfloat16 (products rounded to bfloat16), the input part, gates,
residual sums, head and likelihood in float32.  Rounding the weights and activations to
bfloat16's 8 bits moves the gradient by percents (1-8% measured, see benchmarks/speed.py),
so it is not the default.
"""
import math

import torch
from torch import nn

from .folded import folded, output_head

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}
CHUNK_BYTES = 2 << 20


class FastLogProb(nn.Module):
    """``log p_sigma`` terms of spans and their input gradient, for a model with fixed weights.

    Built from a :class:`~wavenet_vocoder.folded.FoldedWaveNet` (or a WaveNet module, folded
    here).  ``forward(spans (B, 1, L), sigma, c=None, first_term=0)`` returns (B, L - 1 -
    first_term): the terms of targets ``spans[:, 0, first_term + 1:]``, i.e. column j is
    ``log p_sigma(x_{first_term + j + 1} | x_<...)``.  ``c``: for a mel-conditioned model,
    the conditioning at sample rate for ``spans[..., :-1]``, (B, cin, L - 1).  The result
    is differentiable with respect to ``spans`` only (the weights are constants).

    A noise-conditional model's level enters only biases, of the gates and (``noise_head``)
    of the head's hidden layer: :meth:`set_level` writes them for a sigma (forward calls it
    when sigma changes), so one object serves every level of a schedule.  The folded
    weights are buffers, so the module moves with ``.to(device)`` and replicates under
    :class:`torch.nn.DataParallel` (call :meth:`set_level` before the DataParallel forward).
    """

    def __init__(self, model, precision="fp32"):
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        net = folded(model)
        self.folded = net
        self.precision = precision
        dtype = PRECISIONS[precision]
        self.kernel_size = net.kernel_size
        self.dilations = list(net.dilations)
        self.max_lag = (self.kernel_size - 1) * max(self.dilations)
        self.conditional = net.conditional
        self.noise_conditional = net.noise_conditional
        k = self.kernel_size
        first_w, first_b = net.first_w, net.first_b                   # (R,)
        self.residual_channels = net.residual_channels
        self.skip_channels = net.skip_channels
        self.gate_half = half = net.gate_half
        # Rows (positions) per chunk of a layer: its gate activations, about 2 MiB, stay in cache.
        self.chunk_rows = max(256, CHUNK_BYTES // (4 * 2 * half))
        self.skip_scale = net.skip_scale
        # Weight layout (see the module docstring).  With q = sqrt(1/2), the block input is
        # h_l = q^l first_conv(x) + q^l r~_l where r~_{l+1} = r~_l + out_l / q^l, so
        # the residual sums need no scaling: q^l goes into the conv weights that read r~,
        # 1 / q^l into the out weights.  The out biases accumulate into the constant
        # C_l of r~_l, which, like first_conv's bias, exists only at positions >= 0 and is
        # applied through the input part's constant channel.  The a half of each gate is
        # computed doubled, so that one sigmoid gives both halves: tanh(a) = 2 sigmoid(2a) - 1.
        q = math.sqrt(0.5)
        double = torch.ones(2 * half, dtype=first_w.dtype, device=first_w.device)
        double[:half] = 2.0
        self.register_buffer("gate_scale", double.float(), persistent=False)
        fwd = dict(x=[], r=[], os=[], c=[])
        bwd = dict(x=[], r=[], os=[])
        skip_bias = 0.0
        cumulative_out_bias = torch.zeros_like(first_b)
        for l, w in enumerate(net.conv_w):                            # w: (G, R, k)
            scale = q ** l
            constant = first_b + cumulative_out_bias                  # r-part constant, per tap
            x_rows = torch.stack([scale * (w[:, :, j] @ first_w) for j in range(k)])       # (k, G)
            one_rows = torch.stack([scale * (w[:, :, j] @ constant) for j in range(k)])    # (k, G)
            x_part = torch.stack([x_rows, one_rows], dim=1).reshape(2 * k, -1)             # rows (tap, [x, 1])
            r_part = scale * w.permute(2, 1, 0)                                            # (k, R, G)
            fwd["x"].append(x_part * double)
            fwd["r"].append(r_part * double)
            bwd["x"].append(x_rows.t())                              # (G, k)
            bwd["r"].append(r_part.transpose(1, 2))                  # (k, G, R)
            os_w = torch.cat([net.out_w[l] / q ** l, net.skip_w[l]])  # (R + S, H)
            fwd["os"].append(os_w.t())
            bwd["os"].append(os_w)
            cumulative_out_bias = cumulative_out_bias + net.out_b[l] / q ** l
            skip_bias = skip_bias + net.skip_b[l]
            if net.cond_w[l] is not None:
                fwd["c"].append(net.cond_w[l].t() * double)          # (cin, G)
        self.register_buffer("x_weights", torch.stack(fwd["x"]).float())            # (L, 2k, G)
        self.register_buffer("r_weights", torch.stack(fwd["r"]).to(dtype))          # (L, k, R, G)
        self.register_buffer("biases", torch.stack(net.conv_b).float() * self.gate_scale)   # (L, G), see set_level
        self.register_buffer("os_weights", torch.stack(fwd["os"]).to(dtype))        # (L, H, R + S)
        self.register_buffer("x_weights_t", torch.stack(bwd["x"]).float())          # (L, G, k)
        self.register_buffer("r_weights_t", torch.stack(bwd["r"]).contiguous().to(dtype))  # (L, k, G, R)
        self.register_buffer("os_weights_t", torch.stack(bwd["os"]).to(dtype))      # (L, R + S, H)
        self.register_buffer("skip_bias", torch.as_tensor(skip_bias).float())
        if fwd["c"]:
            self.register_buffer("c_weights", torch.stack(fwd["c"]).float())        # (L, cin, G)
        else:
            self.c_weights = None
        self.register_buffer("head1_w", net.head1_w.float())
        self.register_buffer("head1_b", net.head1_b.float().clone())    # a copy: set_level writes it
        self.register_buffer("head2_w", net.head2_w.float())
        self.register_buffer("head2_b", net.head2_b.float())
        self.level = None

    def set_level(self, sigma):
        """Write the gate (and head) biases of noise level ``sigma`` (a noise-conditional model; else nothing to do)."""
        if self.noise_conditional and self.level != float(sigma):
            biases = torch.stack(self.folded.gate_biases(float(sigma))).float()
            self.biases.copy_(biases.to(self.biases.device) * self.gate_scale)
            self.head1_b.copy_(self.folded.head_bias(float(sigma)).float().to(self.head1_b.device))
            self.level = float(sigma)
        return self

    def forward(self, spans, sigma, c=None, first_term=0):
        if spans.dim() != 3 or spans.size(1) != 1:
            raise ValueError(f"spans must have shape (B, 1, L), got {tuple(spans.shape)}")
        if self.conditional != (c is not None):
            raise ValueError("pass c exactly when the model is mel-conditioned")
        if not 0 <= first_term < spans.size(-1) - 1:
            raise ValueError(f"first_term={first_term} leaves no term of a span of {spans.size(-1)} samples")
        self.set_level(sigma)
        return _SmoothedLogProb.apply(spans[:, 0, :], c, self, float(sigma), int(first_term))

    # The two passes, called by the autograd function.

    def _layer_starts(self, first_term):
        """First position each layer must compute so that positions >= first_term are exact at the top."""
        starts, need = [], first_term
        for d in reversed(self.dilations):
            starts.append(need)
            need = max(0, need - (self.kernel_size - 1) * d)
        return starts[::-1]

    def _forward(self, x, c, sigma, first_term):
        """Terms (B, T - first_term) and what the backward needs.  x: (B, L) float32, T = L - 1."""
        batch, length = x.shape
        steps = length - 1
        k, R, H, pad = self.kernel_size, self.residual_channels, self.gate_half, self.max_lag
        starts = self._layer_starts(first_term)
        n_top = steps - first_term
        # u: the input samples and a constant 1, zero before the signal: (B, pad + T, 2).
        u = x.new_zeros(batch, pad + steps, 2)
        u[:, pad:, 0] = x[:, :-1]
        u[:, pad:, 1] = 1.0
        # r~ in float32 and, for bf16, a copy at matmul precision; zero before the signal.
        r_acc = x.new_zeros(batch, pad + steps, R)
        r_buf = r_acc if self.r_weights.dtype == torch.float32 else torch.zeros_like(r_acc, dtype=self.r_weights.dtype)
        skips = x.new_zeros(batch, n_top, self.skip_channels)
        saved = []
        if c is not None:
            c = c.transpose(1, 2)                                    # (B, T, cin)
        last = len(self.dilations) - 1
        chunk = self.chunk_rows
        for l, d in enumerate(self.dilations):
            s0 = starts[l]                                           # this layer computes [s0, T)
            lags = [(k - 1 - j) * d for j in range(k)]
            z_all = x.new_empty(batch, steps - s0, 2 * H)
            for i in range(batch):
                # Right to left, so that updating r~ in place never feeds a chunk still to come.
                for c1 in range(steps, s0, -chunk):
                    c0 = max(s0, c1 - chunk)
                    z = z_all[i, c0 - s0:c1 - s0]                    # (m, G)
                    u_taps = torch.cat([u[i, pad + c0 - lag:pad + c1 - lag] for lag in lags], dim=1)
                    torch.addmm(self.biases[l], u_taps, self.x_weights[l], out=z)
                    if l > 0:
                        _add_conv(z, r_buf[i], self.r_weights[l], [pad + c0 - lag for lag in lags])
                    if c is not None:
                        z.addmm_(c[i, c0:c1], self.c_weights[l])
                    torch.sigmoid_(z)
                    s_a, s_b = z.split(H, dim=1)
                    t_a = s_a.mul_(2).sub_(1)                        # tanh(a)
                    gate = t_a * s_b
                    # keep d gate / d a = s_b (1 - t_a^2) and d gate / d b = gate (1 - s_b) in z's place
                    torch.addcmul(s_b, gate, t_a, value=-1, out=t_a)
                    torch.addcmul(gate, gate, s_b, value=-1, out=s_b)
                    os = torch.mm(gate.to(self.os_weights.dtype), self.os_weights[l])
                    lo = max(c0, first_term)
                    if lo < c1:
                        skips[i, lo - first_term:c1 - first_term].add_(os[lo - c0:, R:])
                    if l < last:
                        r_acc[i, pad + c0:pad + c1].add_(os[:, :R])
                        if r_buf is not r_acc:
                            r_buf[i, pad + c0:pad + c1].copy_(r_acc[i, pad + c0:pad + c1])
            saved.append(z_all)
        hidden_in = skips.add_(self.skip_bias).mul_(self.skip_scale)
        hidden, logits = output_head(hidden_in.view(-1, self.skip_channels), self.head1_w, self.head1_b,
                               self.head2_w, self.head2_b)
        logits = logits.view(batch, n_top, -1)
        targets = x[:, first_term + 1:]
        classes = torch.arange(logits.size(-1), device=x.device, dtype=logits.dtype)
        diff = (targets.unsqueeze(-1) - classes).div_(sigma)
        joint = logits - 0.5 * diff * diff
        log_norm = torch.logsumexp(logits, dim=-1)
        log_joint = torch.logsumexp(joint, dim=-1)
        terms = log_joint - log_norm - math.log(sigma) - 0.5 * math.log(2 * math.pi)
        # d terms / d logits = posterior - softmax; d terms / d target = E_post[k - x] / sigma^2
        posterior = joint.sub_(log_joint.unsqueeze(-1)).exp_()
        d_target = -(posterior * diff).sum(-1) / sigma
        d_logits = posterior.sub_(logits.sub_(log_norm.unsqueeze(-1)).exp_())
        state = dict(saved=saved, starts=starts, hidden_in=hidden_in, hidden=hidden,
                     d_logits=d_logits, d_target=d_target, shape=(batch, length), first_term=first_term)
        return terms, state

    def _backward(self, grad_terms, state):
        """Gradient (B, L) of sum(grad_terms * terms) with respect to the span samples."""
        batch, length = state["shape"]
        steps = length - 1
        first_term = state["first_term"]
        k, R, H, pad = self.kernel_size, self.residual_channels, self.gate_half, self.max_lag
        starts = state["starts"]
        n_top = steps - first_term
        d_logits = state["d_logits"].mul_(grad_terms.unsqueeze(-1)).view(-1, self.head2_w.size(1))
        d_hidden = (d_logits @ self.head2_w.t()).mul_(state["hidden"] > 0)
        d_skip = (d_hidden @ self.head1_w.t()).view(batch, n_top, -1)
        d_skip.mul_(state["hidden_in"] > 0).mul_(self.skip_scale)
        chunk = self.chunk_rows
        # d_os: gradient of a chunk's [out, skip] products; the skip part is the same for all layers
        d_os = d_logits.new_empty(min(chunk, steps), R + self.skip_channels, dtype=self.os_weights_t.dtype)
        d_u = d_logits.new_zeros(batch, pad + steps)                 # gradient of the x channel
        d_r = d_logits.new_zeros(batch, pad + steps, R)              # gradient of r~ (zero where unused)
        for l in range(len(self.dilations) - 1, -1, -1):
            s0 = starts[l]
            lags = [(k - 1 - j) * self.dilations[l] for j in range(k)]
            saved = state["saved"][l]
            for i in range(batch):
                # Left to right: a chunk reads d r~_{l+1} on its own rows before any chunk
                # writes d r~_l there (writes go to its own rows and to the left).
                for c0 in range(s0, steps, chunk):
                    c1 = min(steps, c0 + chunk)
                    m = c1 - c0
                    buf = d_os[:m]
                    if l < len(self.dilations) - 1:
                        buf[:, :R] = d_r[i, pad + c0:pad + c1]       # r~_{l+1} = r~_l + out_l (scaled)
                    else:
                        buf[:, :R] = 0
                    lo = min(max(c0, first_term), c1)               # skip terms exist from first_term
                    buf[:lo - c0, R:] = 0
                    buf[lo - c0:, R:] = d_skip[i, lo - first_term:c1 - first_term]
                    d_gate = torch.mm(buf, self.os_weights_t[l])
                    d_z = saved[i, c0 - s0:c1 - s0].view(m, 2, H).mul_(d_gate.unsqueeze(1)).view(m, 2 * H)
                    d_taps_u = torch.mm(d_z, self.x_weights_t[l])               # x channel of each tap
                    for j, lag in enumerate(lags):
                        d_u[i, pad + c0 - lag:pad + c1 - lag] += d_taps_u[:, j]
                    if l > 0:
                        d_z = d_z.to(self.r_weights_t.dtype)
                        for j, lag in enumerate(lags):
                            _add_product(d_r[i, pad + c0 - lag:pad + c1 - lag], d_z, self.r_weights_t[l, j])
            state["saved"][l] = None
        d_x = d_logits.new_zeros(batch, length)
        d_x[:, :-1] = d_u[:, pad:]
        d_x[:, first_term + 1:] += state["d_target"] * grad_terms
        return d_x


def _add_conv(z, source, weight, offsets):
    """z (m, G) += the k-tap convolution of source (P + T, R), tap j reading rows offsets[j]..+m.

    In float32, one product per tap accumulated in place; in bfloat16 the taps are
    gathered side by side and multiplied once (one rounding of the product).
    """
    m = z.size(0)
    if source.dtype == torch.float32:
        for j, offset in enumerate(offsets):
            z.addmm_(source[offset:offset + m], weight[j])
    else:
        taps = torch.cat([source[offset:offset + m] for offset in offsets], dim=1)
        z += torch.mm(taps, weight.reshape(-1, weight.size(-1)))


def _add_product(out, a, w):
    """out += a @ w for 2-D float32 out; a and w may be bfloat16 (the product is then added to out)."""
    if a.dtype == out.dtype:
        out.addmm_(a, w)
    else:
        out += torch.mm(a, w)


class _SmoothedLogProb(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, c, module, sigma, first_term):
        with torch.no_grad():
            terms, state = module._forward(x.float(), None if c is None else c.float(), sigma, first_term)
        ctx.module, ctx.state = module, state
        return terms

    @staticmethod
    def backward(ctx, grad_terms):
        with torch.no_grad():
            d_x = ctx.module._backward(grad_terms.float().contiguous(), ctx.state)
        ctx.state = None
        return d_x, None, None, None, None
