"""The fast log-likelihood path computes the plain model's terms and input gradient."""
import copy

import pytest
import torch

from conftest import preset_path, tiny_hparams
from wavenet_vocoder.fast_log_prob import FastLogProb
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.pnf.langevin import SamplerConfig, StepWindows, anneal, windows_gradient
from wavenet_vocoder.pnf.priors import WindowLogProb, log_prob_module
from wavenet_vocoder.pnf.task import Task, TaskBase
from wavenet_vocoder.pnf.noise_schedule import AnnealingSchedule
from wavenet_vocoder.wavenet import WaveNet


def model_with_biases(hp, seed=0):
    """A float32 model in eval mode with non-zero biases (the fast path folds them; a mistake must show)."""
    torch.manual_seed(seed)
    model = WaveNet.from_hparams(hp).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.requires_grad_(False)
            if name.endswith("bias"):
                p.normal_(0, 0.3)
    return model


def terms_and_gradient(net, spans, sigma, c, first_term, weights):
    spans = spans.clone().requires_grad_(True)
    terms = net(spans, sigma, c, first_term=first_term)
    (grad,) = torch.autograd.grad((terms * weights).sum(), spans)
    return terms.detach(), grad


def inputs(hp, model, batch, length, seed=1):
    gen = torch.Generator().manual_seed(seed)
    spans = torch.rand(batch, 1, length, generator=gen, dtype=torch.float64) * 255
    c = torch.randn(batch, hp.cin_channels, length - 1, generator=gen, dtype=torch.float64) if model.is_conditional else None
    return spans, c


def relative_error(a, b):
    return float((a.double() - b).norm() / b.norm())


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("first_term", [0, 5, 12, 40])
@pytest.mark.parametrize("chunk_rows", [None, 7])
def test_fp32_path_equals_the_float64_model_in_terms_and_input_gradient(conditional, first_term, chunk_rows):
    hp = tiny_hparams(conditional=conditional)                  # receptive field 13
    model = model_with_biases(hp)
    spans, c = inputs(hp, model, batch=2, length=60)
    weights = torch.randn(2, 59 - first_term, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ref_terms, ref_grad = terms_and_gradient(WindowLogProb(copy.deepcopy(model).double()), spans, 1.5, c,
                                             first_term, weights)
    fast = FastLogProb(model, "fp32")
    if chunk_rows:                              # many chunks per layer, the last one partial
        fast.chunk_rows = chunk_rows
    terms, grad = terms_and_gradient(fast, spans.float(), 1.5, None if c is None else c.float(), first_term,
                                     weights.float())
    assert terms.shape == ref_terms.shape == (2, 59 - first_term)
    torch.testing.assert_close(terms.double(), ref_terms, rtol=0, atol=1e-4)  # float32 vs float64
    assert relative_error(grad, ref_grad) < 1e-4  # float32 vs float64


def test_fp32_path_on_a_published_size_layer_stack():
    # 3 stacks of dilations up to 32 and a window shorter than the receptive field: every
    # layer starts at a different position when only the window's terms are asked for.
    hp = load_preset(preset_path("mulaw_maxaudio"),
                     "layers=18,stacks=3,residual_channels=8,gate_channels=16,skip_out_channels=8")
    model = model_with_biases(hp, seed=3)
    rf = model.receptive_field
    spans, _ = inputs(hp, model, batch=1, length=rf + 50)
    weights = torch.ones(1, 50, dtype=torch.float64)
    ref_terms, ref_grad = terms_and_gradient(WindowLogProb(copy.deepcopy(model).double()), spans, 0.5, None,
                                             rf - 1, weights)
    fast = FastLogProb(model)
    fast.chunk_rows = 16                        # chunks smaller than the largest dilations
    terms, grad = terms_and_gradient(fast, spans.float(), 0.5, None, rf - 1, weights.float())
    torch.testing.assert_close(terms.double(), ref_terms, rtol=0, atol=1e-4)  # float32 vs float64
    assert relative_error(grad, ref_grad) < 1e-4  # float32 vs float64


def test_gradient_matches_finite_differences_of_the_float64_model():
    model = model_with_biases(tiny_hparams())
    model64 = copy.deepcopy(model).double()
    spans, _ = inputs(tiny_hparams(), model, batch=1, length=30)
    _, grad = terms_and_gradient(FastLogProb(model), spans.float(), 4.0, None, 0, torch.ones(1, 29))
    h = 1e-5
    for j in (0, 7, 15, 29):
        bump = torch.zeros_like(spans)
        bump[0, 0, j] = h
        with torch.no_grad():
            up = model64.smoothed_log_prob(spans + bump, 4.0).sum()
            down = model64.smoothed_log_prob(spans - bump, 4.0).sum()
        assert float(grad[0, 0, j]) == pytest.approx(float(up - down) / (2 * h), rel=1e-4, abs=1e-6)  # O(h^2) + float32


def test_bf16_path_is_close_but_not_exact():
    model = model_with_biases(tiny_hparams())
    spans, _ = inputs(tiny_hparams(), model, batch=2, length=40)
    weights = torch.ones(2, 39, dtype=torch.float64)
    ref_terms, ref_grad = terms_and_gradient(WindowLogProb(copy.deepcopy(model).double()), spans, 2.0, None, 0, weights)
    fast = FastLogProb(model, "bf16")
    fast.chunk_rows = 9
    terms, grad = terms_and_gradient(fast, spans.float(), 2.0, None, 0, weights.float())
    assert terms.dtype == torch.float32
    error = relative_error(grad, ref_grad)
    assert 1e-5 < error < 5e-2                 # bfloat16 products: percent-level, not float32-level
    assert float((terms.double() - ref_terms).abs().mean()) < 5e-2


def test_fast_module_refuses_bad_arguments():
    model = model_with_biases(tiny_hparams())
    with pytest.raises(ValueError, match="precision"):
        FastLogProb(model, "fp16")
    fast = FastLogProb(model)
    with pytest.raises(ValueError, match="first_term"):
        fast(torch.zeros(1, 1, 10), 1.0, first_term=9)
    with pytest.raises(ValueError, match="mel-conditioned"):
        fast(torch.zeros(1, 1, 10), 1.0, c=torch.zeros(1, 5, 9))
    with pytest.raises(ValueError, match="eval mode"):
        FastLogProb(WaveNet.from_hparams(tiny_hparams()).train())
    with pytest.raises(ValueError, match="unknown precision"):
        log_prob_module(model, "fp8")


def test_the_engine_scores_with_the_folded_path_on_a_cpu_and_the_convolutions_on_a_gpu():
    model = model_with_biases(tiny_hparams())
    assert type(log_prob_module(model, "fp32", "cpu")) is FastLogProb
    assert type(log_prob_module(model, "fp32", "cuda:0")) is WindowLogProb  # built on the CPU: nothing runs on a GPU
    for device in ("cpu", "cuda"):
        bf16 = log_prob_module(model, "bf16", device)
        assert type(bf16) is FastLogProb and bf16.precision == "bf16"
        assert type(log_prob_module(model, "reference", device)) is WindowLogProb


def test_engine_scores_spans_no_longer_than_the_window_whatever_the_signal_length():
    # Memory: the activations of one call cover batch_size windows of W + rf samples, so a
    # long signal costs only its own (T,) state, never activations proportional to T.
    model = model_with_biases(tiny_hparams())
    rf = model.receptive_field
    seen = []

    class Recording(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = FastLogProb(model)

        def forward(self, spans, sigma, c=None, first_term=0):
            seen.append(tuple(spans.shape))
            return self.inner(spans, sigma, c, first_term)

    for length in (1_000, 200_000):
        seen.clear()
        x = torch.rand(length) * 255
        batches = [torch.arange(0, length, 64)[i:i + 4] for i in range(0, len(range(0, length, 64)), 4)]
        grad, count, _, targets = windows_gradient(Recording(), x, None, StepWindows(batches, 64, rf, True), 1.0, 127.5,
                                                   torch.Generator().manual_seed(0))
        assert max(shape[0] for shape in seen) <= 4 and {shape[2] for shape in seen} == {64 + rf}
        assert targets == length and bool((count == 1).all()) and bool(torch.isfinite(grad).all())


class PriorAlone(TaskBase):
    """A one-source task in which every sample moves: the prior alone (the public Task protocol)."""

    def __init__(self, length):
        self.length = length

    def initial_state(self, generator):
        return torch.rand(1, self.length, generator=generator) * 255

    def movable(self):
        return torch.ones(1, self.length, dtype=torch.bool)


class _Prior:
    """A prior of one in-memory model for every level (the engine's prior protocol: ``level``)."""

    def __init__(self, model):
        self.model = model

    def level(self, sigma, precision):
        return self.model, log_prob_module(self.model, precision)


@pytest.mark.parametrize("schedule", ["random", "tiled"])
def test_engine_gives_the_same_samples_with_the_fast_and_the_plain_gradient(schedule):
    model = model_with_biases(tiny_hparams())
    states = {}
    for precision in ("reference", "fp32"):
        config = SamplerConfig(n_steps=3, window=50, windows_per_step=2, schedule=schedule, seed=4, progress=False,
                               precision=precision)
        assert isinstance(PriorAlone(300), Task)
        states[precision], _ = anneal(PriorAlone(300), [_Prior(model)], AnnealingSchedule((4.0, 1.0), 0.05), config)
    torch.testing.assert_close(states["fp32"], states["reference"], rtol=0, atol=1e-3)  # float32 sums, 2 levels
