"""A source's prior for the sampler: its checkpoints (one per level, or one noise-conditional
model for every level), checked before any compute, and the module that scores windows with it."""
import sys

import torch
from torch import nn

from ..checkpoints import check_checkpoints, load_model, require_checkpoints, trained_sigma_range
from ..fast_log_prob import FastLogProb
from ..quantize import quantize


class Prior:
    """One source's prior: a root folder of checkpoints and their preset.

    Per-level priors hold one checkpoint folder per level; a noise-conditional prior
    (preset key ``noise_conditional``) holds one checkpoint that serves any level, which
    is loaded and folded once and then only told each level's sigma.
    """

    def __init__(self, root, hparams, device="cpu"):
        self.root, self.hparams, self.device = root, hparams, torch.device(device)
        self._shared = None                 # noise-conditional: (model, {precision: evaluator})

    @property
    def noise_conditional(self):
        """Whether one checkpoint serves every level."""
        return bool(self.hparams.noise_conditional)

    def require(self, sigmas):
        """Raise naming every level of ``sigmas`` whose checkpoint is missing, and then the first that
        cannot be read or does not fit the preset (every file is read once here, before any compute,
        so that a bad file at a late level fails now, not hours into the schedule).

        For a noise-conditional prior, also say (stderr) which levels lie outside the range
        of sigma it was trained over: the model extrapolates there.
        """
        paths = require_checkpoints(self.root, self.hparams, sigmas)
        check_checkpoints(paths, self.hparams)
        if self.noise_conditional:
            trained = trained_sigma_range(paths[0])
            outside = [s for s in sigmas if trained and not trained[0] * 0.999 <= s <= trained[1] * 1.001]
            if outside:
                print(f"note: {len(outside)} of {len(sigmas)} levels ({', '.join(f'{s:g}' for s in outside[:4])}"
                      f"{', ...' if len(outside) > 4 else ''}) lie outside the sigma range {trained[0]:g}..{trained[1]:g} "
                      f"the prior in {self.root} was trained over: it extrapolates there", file=sys.stderr)

    def load(self, sigma):
        """The WaveNet of level ``sigma`` on the device, eval mode, gradients off for its weights.

        A noise-conditional prior returns its one model (loaded on the first call).
        """
        if self.noise_conditional and self._shared is not None:
            return self._shared[0]
        (path,) = require_checkpoints(self.root, self.hparams, [sigma])
        model = load_model(path, self.hparams, self.device)
        for p in model.parameters():
            p.requires_grad_(False)
        if self.noise_conditional:
            self._shared = (model, {})
        return model

    def level(self, sigma, precision):
        """(model, scorer) of level ``sigma``: the WaveNet (see :meth:`load`) and the module that
        scores windows with it (see :func:`log_prob_module`).

        Per-level priors build the scorer from the level's model; a noise-conditional prior
        builds it once per precision and only sets its level.
        """
        model = self.load(sigma)
        if not self.noise_conditional:
            return model, log_prob_module(model, precision, self.device)
        scorers = self._shared[1]
        if precision not in scorers:
            scorers[precision] = log_prob_module(model, precision, self.device)
        scorer = scorers[precision]
        if isinstance(scorer, FastLogProb):
            scorer.set_level(sigma)
        return model, scorer


#: How the sampler computes log p_sigma and its gradient (``--precision``): "fp32" (the fast folded
#: path on a CPU, the plain convolutions in full float32 on a GPU), "bf16" (the folded path with
#: bfloat16 products), or "reference", the plain model through autograd.
SAMPLER_PRECISIONS = ("fp32", "bf16", "reference")


class WindowLogProb(nn.Module):
    """The plain formulation: per-target log-likelihoods of spans through the model and autograd.

    forward(spans (B, 1, L), sigma, c (B, cin, L - 1) at sample rate or None, first_term)
    -> (B, L - 1 - first_term): the terms of targets spans[:, 0, first_term + 1:].  Every
    term is computed (weight norm applied on every call), as the published code does.

    It is also the sampler's float32 path on a GPU, where its few large cuDNN convolutions beat
    the folded path's many small products (benchmarks/speed.py: 4.6x on an H200); the engine runs
    it there inside :func:`~wavenet_vocoder.pnf.langevin.full_float32`, so that cuDNN computes in
    full float32 rather than TF32.  (bfloat16 autocast of the whole model is no option for "bf16":
    it rounds the input samples themselves to 8 significant bits, whole quantised units near full
    scale, and put the gradient about 45% away from float32 in a one-off check on a tiny model;
    "bf16" keeps the folded path, which keeps the input in float32.)
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, spans, sigma, c=None, first_term=0):
        return self.model.smoothed_log_prob(spans, sigma, c, c_at_sample_rate=True)[:, first_term:]


def log_prob_module(model, precision, device="cpu"):
    """The module the engine scores windows with on ``device``: for 'fp32' the folded fast path
    (:class:`FastLogProb`) on a CPU and the plain module (:class:`WindowLogProb`) on a GPU,
    whichever is the faster there; for 'bf16' the folded path with bfloat16 products; for
    'reference' the plain module."""
    if precision not in SAMPLER_PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(SAMPLER_PRECISIONS)}")
    if precision == "reference" or (precision == "fp32" and torch.device(device).type == "cuda"):
        return WindowLogProb(model)
    return FastLogProb(model, precision)


def mean_log_prob(model, audio, hparams, sigma, generator, c=None):
    """How likely ``audio`` is under ``model`` at level ``sigma``: the mean over samples of
    ``log p_sigma(x_t | x_<t)``, in nats per sample, where x is ``audio`` (T,) in [-1, 1]
    quantised with the preset's quantiser plus ``sigma`` (quantised units) times standard
    normal noise drawn from ``generator`` (the input a level's model was trained on).
    ``c``: a mel-conditioned model's frames, (num_mels, frames + 2 cin_pad) with
    ``T = frames * hop_size + 1``."""
    x = torch.as_tensor(quantize(audio, hparams.input_type, hparams.quantize_channels), dtype=torch.float32)
    x = x + sigma * torch.randn(x.shape, generator=generator)
    c = None if c is None else torch.as_tensor(c, dtype=torch.float32)[None]
    with torch.no_grad():
        return float(model.smoothed_log_prob(x.view(1, 1, -1), sigma, c).mean())
