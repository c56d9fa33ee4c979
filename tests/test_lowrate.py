"""The low-rate observation model: the decimator, the quantiser's continuous curves, the likelihood term."""
import numpy as np
import pytest
import scipy.signal
import torch

from wavenet_vocoder.lowrate import antialias_filter, decimate
from wavenet_vocoder.pnf.tasks.superres import LowRateSuperResolution
from wavenet_vocoder.quantize import dequantize, from_units, quantize, to_units


@pytest.mark.parametrize("ratio", [2, 3, 4])
@pytest.mark.parametrize("length", [997, 1000, 1001])
def test_decimate_is_resample_polys_downsampling(ratio, length):
    x = np.random.default_rng(ratio).standard_normal(length)
    # float64
    np.testing.assert_allclose(decimate(x, ratio), scipy.signal.resample_poly(x, 1, ratio), rtol=0, atol=1e-12)
    # float64
    np.testing.assert_allclose(decimate(torch.as_tensor(x), ratio).numpy(), decimate(x, ratio), rtol=0, atol=1e-12)


def test_antialias_filter_passes_the_low_band_and_stops_the_aliases():
    taps = antialias_filter(4)
    freqs, response = scipy.signal.freqz(taps, worN=4096)
    gain = np.abs(response)
    assert abs(gain[0] - 1) < 1e-3  # firwin scales DC to 1; 1e-3 of slack
    assert gain[freqs < 0.8 * np.pi / 4].min() > 0.98                # pass band, below 80% of the new Nyquist
    assert gain[freqs > 1.25 * np.pi / 4].max() < 2e-3               # what would alias: below -54 dB
    with pytest.raises(ValueError, match="at least 2"):
        antialias_filter(1)


@pytest.mark.parametrize("input_type", ["mulaw-quantize", "linear-quantize"])
def test_continuous_quantiser_curves_match_the_quantiser(input_type):
    q = np.linspace(0, 255, 1001)
    # nnmnkwii's inverse mu-law rounds in float32 (5e-7 here)
    np.testing.assert_allclose(from_units(torch.tensor(q), input_type).numpy(), dequantize(q, input_type), atol=1e-6)
    audio = np.linspace(-1, 1, 999)
    units = to_units(torch.tensor(audio), input_type).numpy()
    rounding = np.floor if input_type == "mulaw-quantize" else np.round   # nnmnkwii's mu-law truncates
    np.testing.assert_array_equal(rounding(units), quantize(audio, input_type))
    np.testing.assert_allclose(from_units(torch.tensor(units), input_type).numpy(), audio, atol=1e-12)  # float64


def observation_setup(weight):
    rng = np.random.default_rng(0)
    observed = 0.3 * np.sin(np.arange(60) * 0.4) + 0.05 * rng.standard_normal(60)
    task = LowRateSuperResolution(observed, 3, 180, "mulaw-quantize", weight=weight)
    x = torch.as_tensor(60 + 130 * rng.random((1, 180)))
    return task, x, torch.as_tensor(observed)


def residual(task, x, observed):
    return decimate(from_units(x[0], "mulaw-quantize"), 3) - observed


def test_the_implicit_step_solves_the_backward_euler_equation_on_the_audio():
    # a' = a - A^T k (A a - y), k = e / (1 + e c): with A A^T ~ c I this is the backward-Euler
    # step of the term, so A a' - y = (A a - y) / (1 + e c) up to A A^T's departure from c I.
    task, x, observed = observation_setup(weight=0.01)
    eta, sigma = 0.3, 2.0
    step = torch.full((1, 180), eta, dtype=torch.float64)
    moved = x + task.implicit_update(x, step, sigma)
    e = eta * 0.01 / sigma ** 2 * 127.5 ** 2
    before, after = residual(task, x, observed), residual(task, moved, observed)
    inner = slice(10, -10)                                          # away from the filter's zero padding
    ratio = float(after[inner].norm() / before[inner].norm())
    assert ratio == pytest.approx(1 / (1 + e * task.norm), rel=0.05)  # A A^T only near c I
    assert task.norm == pytest.approx(1 / 3, rel=0.02)              # ||A||^2 of the ratio-3 decimator


def test_a_small_implicit_step_is_the_explicit_gradient_step_on_the_audio():
    task, x, observed = observation_setup(weight=1e-6)
    eta, sigma = 0.05, 1.0
    step = torch.full((1, 180), eta, dtype=torch.float64)
    audio = from_units(x[0], "mulaw-quantize").requires_grad_(True)
    term = -0.5 * 1e-6 / sigma ** 2 * 127.5 ** 2 * (residual(task, to_units(audio, "mulaw-quantize").unsqueeze(0),
                                                             observed) ** 2).sum()
    (grad,) = torch.autograd.grad(term, audio)
    moved_audio = from_units((x + task.implicit_update(x, step, sigma))[0], "mulaw-quantize")
    expected = audio.detach() + eta * grad
    # first order in e c = 3e-4
    torch.testing.assert_close(moved_audio - audio.detach(), expected - audio.detach(), rtol=1e-3, atol=1e-12)


def test_the_step_moves_only_samples_the_windows_covered_and_keeps_the_observation():
    task, x, observed = observation_setup(weight=1.0)
    step = torch.full((1, 180), 0.5, dtype=torch.float64)
    step[0, :30] = 0                                                # not covered this step
    update = task.implicit_update(x, step, 1.0)
    assert float(update[0, :30].abs().max()) < 1e-9                 # units -> audio -> units rounding only
    moved = x + task.implicit_update(x, torch.full((1, 180), 0.5, dtype=torch.float64), 1.0)
    assert float(residual(task, moved, observed)[10:-10].abs().max()) < 0.05 * float(  # A A^T only near c I
        residual(task, x, observed)[10:-10].abs().max())


def test_sampling_starts_from_the_interpolation_and_checks_lengths():
    observed = np.sin(np.arange(200) * 0.3) * 0.8
    task = LowRateSuperResolution(observed, 4, 800, "mulaw-quantize", weight=1.0)
    x = task.initial_state(None)
    assert x.shape == (1, 800) and bool(task.movable().all())
    low = decimate(from_units(x[0].double(), "mulaw-quantize"), 4)
    assert float((low - torch.as_tensor(observed))[5:-5].abs().max()) < 0.05   # starts near the observation
    with pytest.raises(ValueError, match="do not decimate"):
        LowRateSuperResolution(observed, 4, 700, "mulaw-quantize")
