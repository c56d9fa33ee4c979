import math

import numpy as np
import pytest

from wavenet_vocoder.baselines import inpaint_linear, separate_half, superres_bandlimited
from wavenet_vocoder.metrics import lsd, score, si_sdr, snr


def test_snr_by_hand():
    # signal energy 2, error energy 0.25: 10 log10(8) dB
    assert snr([1, 0, -1, 0], [1, 0, -1, 0.5]) == pytest.approx(10 * math.log10(8), abs=1e-9)


def test_si_sdr_by_hand_and_scale_invariance():
    ref, est = np.array([1.0, 1.0, 0.0, 0.0]), np.array([2.0, 2.0, 1.0, 0.0])
    # a = 4 / 2 = 2, target = (2, 2, 0, 0), distortion = (0, 0, -1, 0): 10 log10(8 / 1)
    assert si_sdr(ref, est) == pytest.approx(10 * math.log10(8), abs=1e-9)
    assert si_sdr(ref, 3 * est) == pytest.approx(si_sdr(ref, est), abs=1e-9)
    assert snr(ref, 3 * est) != pytest.approx(snr(ref, est))


def test_lsd_by_hand():
    x = np.random.default_rng(0).standard_normal(8000)
    assert lsd(x, x) == 0.0
    # Ten times the amplitude is 100 times the power: log10 differs by exactly 2 in every bin.
    assert lsd(x, 10 * x) == pytest.approx(2.0, abs=1e-6)


def test_score_keys_and_length_check():
    assert set(score(np.ones(3000), np.ones(3000))) == {"snr", "si_sdr", "lsd"}
    with pytest.raises(ValueError, match="samples"):
        snr(np.ones(3), np.ones(4))


def test_bandlimited_superres_recovers_a_band_limited_signal():
    sr, n = 22050, 22050
    t = np.arange(n) / sr
    x = np.sin(2 * np.pi * 300 * t) + 0.5 * np.sin(2 * np.pi * 1100 * t)   # far below sr / 8
    estimate = superres_bandlimited(x[::4], 4, n)
    assert estimate.shape == (n,)
    assert snr(x[500:-500], estimate[500:-500]) > 40


def test_linear_inpainting_is_exact_on_a_line():
    x = np.linspace(-1, 1, 101)
    gapped = x.copy()
    gapped[30:60] = 0
    np.testing.assert_allclose(inpaint_linear(gapped, 30, 60), x, atol=1e-12)
    assert inpaint_linear(gapped, 30, 60)[29] == x[29]


def test_half_mixture():
    a, b = separate_half(np.array([2.0, -4.0]))
    np.testing.assert_array_equal(a, [1.0, -2.0])
    np.testing.assert_array_equal(b, [1.0, -2.0])
