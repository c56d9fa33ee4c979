"""The low-rate observation model: the decimator, the quantiser's continuous curves, the likelihood term."""
import numpy as np
import pytest
import scipy.signal
import torch

from wavenet_vocoder.lowrate import antialias_filter, decimate
from wavenet_vocoder.pnf.inverse_problems import LowRateSuperResolution
from wavenet_vocoder.quantize import dequantize, from_units, quantize, to_units


@pytest.mark.parametrize("ratio", [2, 3, 4])
@pytest.mark.parametrize("length", [997, 1000, 1001])
def test_decimate_is_resample_polys_downsampling(ratio, length):
    x = np.random.default_rng(ratio).standard_normal(length)
    np.testing.assert_allclose(decimate(x, ratio), scipy.signal.resample_poly(x, 1, ratio), rtol=0, atol=1e-12)
    np.testing.assert_allclose(decimate(torch.as_tensor(x), ratio).numpy(), decimate(x, ratio), rtol=0, atol=1e-12)


def test_antialias_filter_passes_the_low_band_and_stops_the_aliases():
    taps = antialias_filter(4)
    freqs, response = scipy.signal.freqz(taps, worN=4096)
    gain = np.abs(response)
    assert abs(gain[0] - 1) < 1e-3
    assert gain[freqs < 0.8 * np.pi / 4].min() > 0.98                # pass band, below 80% of the new Nyquist
    assert gain[freqs > 1.25 * np.pi / 4].max() < 2e-3               # what would alias: below -54 dB
    with pytest.raises(ValueError, match="at least 2"):
        antialias_filter(1)


@pytest.mark.parametrize("input_type", ["mulaw-quantize", "linear-quantize"])
def test_continuous_quantiser_curves_match_the_quantiser(input_type):
    q = np.linspace(0, 255, 1001)
    np.testing.assert_allclose(from_units(torch.tensor(q), input_type).numpy(), dequantize(q, input_type), atol=1e-6)
    audio = np.linspace(-1, 1, 999)
    units = to_units(torch.tensor(audio), input_type).numpy()
    rounding = np.floor if input_type == "mulaw-quantize" else np.round   # nnmnkwii's mu-law truncates
    np.testing.assert_array_equal(rounding(units), quantize(audio, input_type))
    np.testing.assert_allclose(from_units(torch.tensor(units), input_type).numpy(), audio, atol=1e-12)


def test_the_observation_term_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    observed = 0.3 * rng.standard_normal(40)
    task = LowRateSuperResolution(observed, 3, 120, "mulaw-quantize", weight=0.7)
    x = torch.as_tensor(40 + 170 * rng.random((1, 120)))

    def term(state):
        low = decimate(from_units(state, "mulaw-quantize"), 3)
        return -0.5 * 0.7 / 2.0 ** 2 * float(((127.5 * (low - torch.as_tensor(observed))) ** 2).sum())

    grad = task.extra_gradient(x, 2.0)
    h = 1e-3                                    # the term is smooth; float64 rounding of the sum needs a wide step
    for j in (0, 1, 59, 119):
        bump = torch.zeros(120, dtype=torch.float64)
        bump[j] = h
        expected = (term(x[0] + bump) - term(x[0] - bump)) / (2 * h)
        assert float(grad[0, j]) == pytest.approx(expected, rel=1e-5, abs=1e-8)


def test_curvature_bound_holds_and_sampling_starts_from_the_interpolation():
    rng = np.random.default_rng(1)
    observed = np.sin(np.arange(200) * 0.3) * 0.8
    task = LowRateSuperResolution(observed, 4, 800, "mulaw-quantize", weight=1.0)
    x = task.initial_state(None)
    assert x.shape == (1, 800) and bool(task.movable().all())
    low = decimate(from_units(x[0].double(), "mulaw-quantize"), 4)
    assert float((low - torch.as_tensor(observed))[5:-5].abs().max()) < 0.05   # starts near the observation
    # The Gauss-Newton curvature S^2 J^T J of the term (J: d decimate(audio(x)) / dx) by power
    # iteration, which the stability bound must cover.
    state = x[0].double()

    def jacobian_t(w):
        xx = state.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(task.scale * decimate(from_units(xx, "mulaw-quantize"), 4), xx, w)
        return g

    def jacobian(v):
        w = torch.zeros(200, dtype=torch.float64, requires_grad=True)
        xx = state.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(task.scale * decimate(from_units(xx, "mulaw-quantize"), 4), xx, w,
                                   create_graph=True)
        (jv,) = torch.autograd.grad(g, w, v)
        return jv

    v = torch.as_tensor(rng.standard_normal(800))
    for _ in range(50):
        v = v / v.norm()
        w = jacobian_t(jacobian(v))
        curvature, v = float(w @ v), w
    assert 0 < curvature <= task.curvature_bound()
    with pytest.raises(ValueError, match="do not decimate"):
        LowRateSuperResolution(observed, 4, 700, "mulaw-quantize")
