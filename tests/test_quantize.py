import numpy as np
import pytest
from nnmnkwii.preprocessing import mulaw_quantize

from wavenet_vocoder.quantize import dequantize, quantize, requantize


@pytest.mark.parametrize("input_type", ["mulaw-quantize", "linear-quantize"])
def test_quantisers_invert_each_other_within_one_level(input_type):
    x = np.random.default_rng(0).uniform(-1, 1, 10000)
    q = quantize(x, input_type)
    assert q.min() >= 0 and q.max() <= 255 and q.dtype == np.int64
    # Integer classes survive the round trip within one level (nnmnkwii truncates, so a level's
    # own centre can land a rounding error below it)...
    levels = np.arange(256)
    assert np.max(np.abs(quantize(dequantize(levels, input_type), input_type) - levels)) <= 1
    # ...and audio comes back within one quantisation level.
    back = dequantize(q, input_type)
    width = np.maximum(dequantize(q + 1, input_type) - back, back - dequantize(q - 1, input_type))
    assert np.all(np.abs(back - x) <= width + 1e-12)


def test_linear_quantiser_formula():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(quantize(x, "linear-quantize"), np.round((x + 1) * 255 / 2))
    np.testing.assert_allclose(dequantize(np.array([0, 127.5, 255]), "linear-quantize"), [-1, 0, 1])  # float64


def test_mulaw_matches_nnmnkwii_and_clips_real_values():
    x = np.linspace(-1, 1, 1001)
    np.testing.assert_array_equal(quantize(x, "mulaw-quantize"), mulaw_quantize(x, 255))
    np.testing.assert_allclose(dequantize([-10.0, 300.0], "mulaw-quantize"), [-1.0, 1.0])  # float64


def test_requantize_error_is_below_one_level():
    x = np.random.default_rng(1).uniform(-1, 1, 500)
    q = quantize(x, "mulaw-quantize")
    width = dequantize(q + 1, "mulaw-quantize") - dequantize(q, "mulaw-quantize")
    error = np.abs(requantize(x, "mulaw-quantize") - x)
    assert np.all(error <= width + 1e-12)


def test_unknown_quantiser():
    with pytest.raises(ValueError, match="raw"):
        quantize(np.zeros(3), "raw")
