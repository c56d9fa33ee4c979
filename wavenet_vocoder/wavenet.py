"""The WaveNet prior: scalar input in quantised units, 256 logits, optional mel conditioning.

Units: the model reads the quantised signal itself (0..255 scale, any real value:
noisy or between levels) as one float channel and predicts 256 logits for the
clean quantised class of the *next* sample.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .hparams import dilations, receptive_field_size  # noqa: F401  (public here too: the model's geometry)
from .modules import ConvInUpsampleNetwork, NoiseLevelEmbedding, ResidualConv1dGLU, WeightNormConv1d

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class WaveNet(nn.Module):
    """The WaveNet of the published PnF system (see ``shared/reference/ALGORITHM.md``).

    Parameter names and shapes match the published checkpoints exactly.  With
    ``noise_channels > 0`` the model is noise-conditional (one network for every noise
    level): ``noise_embedding`` maps sigma to ``noise_channels`` values and each residual
    block adds its projection (``conv_layers.i.conv1x1n``) to its gate pre-activation;
    the published parameters keep their names and order, these are added beside them.
    With ``noise_head`` as well, the head reads sigma too: ``noise_head`` projects the
    embedding to a bias (B, skip_out_channels) on the head's hidden layer (after its first
    1x1 convolution, before the second ReLU).
    """

    def __init__(self, out_channels=256, layers=30, stacks=3, residual_channels=128,
                 gate_channels=256, skip_out_channels=128, kernel_size=3, dropout=0.0,
                 cin_channels=-1, cin_pad=2, upsample_conditional_features=False,
                 upsample_scales=(4, 4, 4, 4), noise_channels=-1, noise_head=False):
        super().__init__()
        if noise_head and noise_channels <= 0:
            raise ValueError("noise_head needs a noise-conditional model (noise_channels > 0)")
        if layers % stacks:
            raise ValueError(f"layers={layers} must be a multiple of stacks={stacks}")
        self.out_channels = out_channels
        self.layers, self.stacks, self.kernel_size = layers, stacks, kernel_size
        self.cin_channels, self.cin_pad = cin_channels, cin_pad
        self.first_conv = WeightNormConv1d(1, residual_channels, 1, bias=True)
        self.conv_layers = nn.ModuleList(
            ResidualConv1dGLU(residual_channels, gate_channels, kernel_size, skip_out_channels,
                              cin_channels=cin_channels, dilation=d, dropout=dropout,
                              noise_channels=noise_channels)
            for d in dilations(layers, stacks))
        # Registered before the head so that the state dict lists keys in the published order.
        if cin_channels > 0 and upsample_conditional_features:
            self.upsample_net = ConvInUpsampleNetwork(list(upsample_scales), cin_pad, cin_channels)
        else:
            self.upsample_net = None
        self.last_conv_layers = nn.Sequential(
            nn.ReLU(),
            WeightNormConv1d(skip_out_channels, skip_out_channels, 1, bias=True),
            nn.ReLU(),
            WeightNormConv1d(skip_out_channels, out_channels, 1, bias=True),
        )
        self.noise_embedding = NoiseLevelEmbedding(noise_channels) if noise_channels > 0 else None
        if noise_head:
            # Zero at first, as the blocks' projections: the head starts as the level-blind one.
            self.noise_head = nn.Linear(noise_channels, skip_out_channels, bias=False)
            nn.init.zeros_(self.noise_head.weight)
        else:
            self.noise_head = None

    @classmethod
    def from_hparams(cls, hp):
        """Build the model a preset describes (an :class:`~wavenet_vocoder.hparams.HParams`)."""
        return cls(out_channels=hp.out_channels, layers=hp.layers, stacks=hp.stacks,
                   residual_channels=hp.residual_channels, gate_channels=hp.gate_channels,
                   skip_out_channels=hp.skip_out_channels, kernel_size=hp.kernel_size,
                   dropout=hp.dropout, cin_channels=hp.cin_channels, cin_pad=hp.cin_pad,
                   upsample_conditional_features=hp.upsample_conditional_features,
                   upsample_scales=hp.upsample_params["upsample_scales"],
                   noise_channels=hp.noise_embedding_channels if hp.noise_conditional else -1,
                   noise_head=hp.noise_head)

    @property
    def receptive_field(self):
        """Receptive field in samples (see :func:`receptive_field_size`)."""
        return receptive_field_size(self.layers, self.stacks, self.kernel_size)

    @property
    def hop_size(self):
        """Samples per conditioning frame, or None for an unconditional model."""
        return self.upsample_net.hop_size if self.upsample_net is not None else None

    @property
    def is_conditional(self):
        """Whether the model reads mel frames."""
        return self.cin_channels > 0

    @property
    def is_noise_conditional(self):
        """Whether the model takes the noise level sigma as an input (one model for every level)."""
        return self.noise_embedding is not None

    def noise_biases(self, sigma):
        """Per-block gate biases of noise level(s) ``sigma``: a list of (B, gate_channels), one per block."""
        if not self.is_noise_conditional:
            raise ValueError("this model is not noise-conditional")
        embedding = self.noise_embedding(sigma)
        return [layer.noise_bias(embedding) for layer in self.conv_layers]

    def head_noise_bias(self, sigma):
        """The head's hidden-layer bias (B, skip_out_channels) of noise level(s) ``sigma``, or None
        for a head that does not read sigma (see ``noise_head``)."""
        if self.noise_head is None:
            return None
        return self.noise_head(self.noise_embedding(sigma))

    def upsample_conditioning(self, c):
        """(B, cin, N) frames with cin_pad context frames at each end -> (B, cin, (N - 2 cin_pad) * hop)."""
        if self.upsample_net is None:
            return c
        return self.upsample_net(c)

    def forward(self, x, c=None, c_at_sample_rate=False, sigma=None):
        """Logits (B, out_channels, T) for the class of the sample after each input position.

        x: (B, 1, T) in quantised units.  c: for a conditional model, mel frames
        (B, cin, N) with N - 2 * cin_pad = T / hop_size, or, with
        ``c_at_sample_rate``, conditioning already upsampled to (B, cin, T) (see
        :meth:`upsample_conditioning`).  sigma: for a noise-conditional model, the noise
        level of x in quantised units, a number or one per batch item (B,).  Output t
        depends on x[..., :t + 1] (and c[..., t]) and predicts x[..., t + 1].
        """
        if x.dim() != 3 or x.size(1) != 1:
            raise ValueError(f"x must have shape (B, 1, T), got {tuple(x.shape)}")
        c = self._conditioning_at_sample_rate(c, x.size(-1), c_at_sample_rate)
        if self.is_noise_conditional:
            if sigma is None:
                raise ValueError("this model is noise-conditional: pass sigma, the noise level of x")
            noise = self.noise_embedding(sigma).to(x.dtype)
            if noise.size(0) not in (1, x.size(0)):
                raise ValueError(f"sigma has {noise.size(0)} values for a batch of {x.size(0)}")
        else:
            noise = None
        h = self.first_conv(x)
        skips = 0
        for layer in self.conv_layers:
            h, skip = layer(h, c, noise)
            skips = skips + skip
        head_bias = self.noise_head(noise) if self.noise_head is not None else None
        return self.output_logits(skips, head_bias)

    def output_logits(self, skips, head_bias=None):
        """The head: the sum of the blocks' skip outputs (B, skip_out_channels, T) -> logits (B, out_channels, T).

        ``head_bias`` (B, skip_out_channels): a noise-conditional head's level bias on its hidden layer.
        """
        scaled = skips * math.sqrt(1.0 / len(self.conv_layers))
        if head_bias is None:
            return self.last_conv_layers(scaled)
        relu1, head1, relu2, head2 = self.last_conv_layers
        return head2(relu2(head1(relu1(scaled)) + head_bias.unsqueeze(-1)))

    def _conditioning_at_sample_rate(self, c, length, at_sample_rate):
        if not self.is_conditional:
            if c is not None:
                raise ValueError("this model is unconditional (cin_channels <= 0) but c was given")
            return None
        if c is None:
            raise ValueError("this model is mel-conditioned: pass c, (B, cin_channels, N) frames")
        if not at_sample_rate and self.upsample_net is not None:
            frames = c.size(-1) - 2 * self.cin_pad
            if frames * self.hop_size != length:
                raise ValueError(
                    f"c has {c.size(-1)} frames: {frames} after removing {self.cin_pad} context "
                    f"frames at each end, which cover {frames * self.hop_size} samples, not {length}")
            c = self.upsample_net(c)
        if c.size(-1) != length:
            raise ValueError(f"conditioning covers {c.size(-1)} samples, the input {length}")
        return c

    def smoothed_log_prob(self, x, sigma, c=None, c_at_sample_rate=False):
        """``log p_sigma(x_t | x_<t)`` for t = 1..T-1: a (B, T-1) tensor, differentiable in x.

        ``p_sigma(x_t | x_<t) = sum_k softmax(z_t)_k N(x_t; k, sigma^2)`` where z_t are
        the logits computed from x_<t, k runs over the quantised classes 0..255 and
        sigma is the level's noise in quantised units.  x: (B, 1, T) float in
        quantised units.  c (conditional models): (B, cin, N) mel frames with cin_pad
        context frames at each end and ``T = (N - 2 * cin_pad) * hop_size + 1``; or, with
        ``c_at_sample_rate``, upsampled conditioning (B, cin, T - 1) for x[..., :-1].
        A noise-conditional model is evaluated at the level ``sigma``.
        """
        logits = self(x[:, :, :-1], c, c_at_sample_rate,
                      sigma=float(sigma) if self.is_noise_conditional else None)
        return smoothed_log_prob_from_logits(logits, x[:, 0, 1:], sigma)


def smoothed_log_prob_from_logits(logits, targets, sigma):
    """``log sum_k softmax(logits)_k N(targets; k, sigma^2)`` over the class axis.

    logits: (B, K, T); targets: (B, T) in quantised units; returns (B, T).
    """
    classes = torch.arange(logits.size(1), device=logits.device, dtype=logits.dtype)
    log_weights = F.log_softmax(logits, dim=1)
    diff = (targets.unsqueeze(1) - classes.view(1, -1, 1)) / sigma
    log_normal = -0.5 * diff * diff - math.log(sigma) - _LOG_SQRT_2PI
    return torch.logsumexp(log_weights + log_normal, dim=1)
