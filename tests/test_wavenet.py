import math

import pytest
import torch

from conftest import PRESETS, preset_path, reference_smoothed_log_prob, tiny_hparams
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.wavenet import WaveNet, receptive_field_size, smoothed_log_prob_from_logits


def make_model(hp, seed=0):
    torch.manual_seed(seed)
    return WaveNet.from_hparams(hp).double().eval()


def random_signal(batch, length, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 1, length, generator=gen, dtype=torch.float64) * 255


def test_receptive_field_of_published_presets():
    assert receptive_field_size(30, 3, 3) == 6139
    for name in PRESETS:
        hp = load_preset(preset_path(name))
        assert receptive_field_size(hp.layers, hp.stacks, hp.kernel_size) == 6139


def test_smoothed_log_prob_equals_direct_computation_from_logits(tiny):
    model = make_model(tiny)
    x = random_signal(2, 50)
    sigma = 3.0
    got = model.smoothed_log_prob(x, sigma)
    assert got.shape == (2, 49)
    logits = model(x)[:, :, :-1]                          # logits at t predict x[t + 1]
    probs = torch.softmax(logits, dim=1)
    expected = torch.empty(2, 49, dtype=torch.float64)
    for b in range(2):
        for t in range(49):
            target = x[b, 0, t + 1].item()
            total = sum(probs[b, k, t].item() * math.exp(-0.5 * ((target - k) / sigma) ** 2)
                        / (sigma * math.sqrt(2 * math.pi)) for k in range(256))
            expected[b, t] = math.log(total)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)  # float64


def test_smoothed_density_integrates_to_one(tiny):
    """For a fixed past, p_sigma(x_t | x_<t) is a density in x_t: trapezoid over a wide grid."""
    model = make_model(tiny)
    past = random_signal(1, 20)
    sigma = 1.5
    grid = torch.arange(-12 * sigma, 255 + 12 * sigma, 0.05, dtype=torch.float64)
    x = past.repeat(len(grid), 1, 1)
    x = torch.cat([x, grid.view(-1, 1, 1)], dim=2)
    with torch.no_grad():
        density = model.smoothed_log_prob(x, sigma)[:, -1].exp()
    assert abs(torch.trapezoid(density, grid).item() - 1.0) < 1e-6  # trapezoid error


def test_gradient_matches_finite_differences(tiny):
    model = make_model(tiny)
    x = random_signal(1, 30).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: model.smoothed_log_prob(v, 2.0).sum(), (x,),
                                    eps=1e-6, atol=1e-6, rtol=1e-4)  # gradcheck's float64 defaults


def test_conditional_gradient_matches_finite_differences(tiny_conditional):
    model = make_model(tiny_conditional)
    hop, pad = 4, tiny_conditional.cin_pad
    frames = 5
    c = torch.randn(1, 5, frames + 2 * pad, dtype=torch.float64)
    x = random_signal(1, frames * hop + 1).requires_grad_(True)
    assert model.smoothed_log_prob(x, 2.0, c).shape == (1, frames * hop)
    assert torch.autograd.gradcheck(lambda v: model.smoothed_log_prob(v, 2.0, c).sum(), (x,),
                                     eps=1e-6, atol=1e-6, rtol=1e-4)  # gradcheck's float64 defaults


def test_causality_and_receptive_field_by_gradient(tiny):
    """Output t depends on exactly x[t - RF + 1 .. t]: the support of d logits_t / d x."""
    model = make_model(tiny)
    rf = model.receptive_field
    assert rf == 13
    x = random_signal(1, 60).requires_grad_(True)
    t = 40
    model(x)[0, :, t].sum().backward()
    support = torch.nonzero(x.grad[0, 0]).flatten().tolist()
    assert support == list(range(t - rf + 1, t + 1))


def test_changing_a_sample_leaves_earlier_predictions_unchanged(tiny):
    model = make_model(tiny)
    x = random_signal(1, 60)
    t = 30
    y = x.clone()
    y[0, 0, t] += 17.0
    with torch.no_grad():
        a, b = model.smoothed_log_prob(x, 2.0), model.smoothed_log_prob(y, 2.0)
    # Entry j scores x[j + 1] under logits from x[:j + 1].
    torch.testing.assert_close(a[:, :t - 1], b[:, :t - 1], rtol=0, atol=0)
    assert (a[:, t - 1] != b[:, t - 1]).all()            # the changed sample itself is scored anew
    # Later entries inside the receptive field may change (a ReLU can hide a change at some t).
    assert (a[:, t:t + model.receptive_field] != b[:, t:t + model.receptive_field]).any()
    torch.testing.assert_close(a[:, t + model.receptive_field:], b[:, t + model.receptive_field:],
                               rtol=0, atol=0)


def test_conditioning_is_causal_in_frames(tiny_conditional):
    """Changing one mel frame changes the conditioning only near that frame's samples."""
    model = make_model(tiny_conditional)
    pad, hop = tiny_conditional.cin_pad, 4
    c = torch.randn(1, 5, 12, dtype=torch.float64)
    with torch.no_grad():
        up = model.upsample_conditioning(c)
        assert up.shape == (1, 5, (12 - 2 * pad) * hop)
        c2 = c.clone()
        c2[0, :, -1] += 1.0                                # the last context frame
        up2 = model.upsample_conditioning(c2)
    changed = torch.nonzero((up - up2).abs().sum(dim=1)[0]).flatten()
    assert changed.min().item() >= (12 - 2 * pad - pad) * hop - 3   # conv_in reach + smoothing


def test_wrong_conditioning_length_is_a_clear_error(tiny_conditional):
    model = make_model(tiny_conditional)
    with pytest.raises(ValueError, match="frames"):
        model.smoothed_log_prob(random_signal(1, 22), 1.0, torch.randn(1, 5, 9, dtype=torch.float64))
    with pytest.raises(ValueError, match="mel-conditioned"):
        model.smoothed_log_prob(random_signal(1, 21), 1.0)


def test_head_matches_logsumexp_identity():
    """Large sigma: the class weights barely matter; the density is ~ N(x; mean class, sigma^2)."""
    logits = torch.zeros(1, 256, 1, dtype=torch.float64)
    logits[0, 100, 0] = 50.0                              # all mass on class 100
    got = smoothed_log_prob_from_logits(logits, torch.tensor([[103.0]], dtype=torch.float64), 2.0)
    expected = -0.5 * (3.0 / 2.0) ** 2 - math.log(2.0 * math.sqrt(2 * math.pi))
    torch.testing.assert_close(got, torch.tensor([[expected]], dtype=torch.float64), rtol=1e-9, atol=1e-9)  # float64


@pytest.mark.parametrize("conditional", [False, True])
def test_model_matches_independent_reference(conditional):
    hp = tiny_hparams(conditional=conditional)
    model = make_model(hp, seed=3)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    frames = 6
    x = random_signal(2, frames * 4 + 1, seed=5)
    c = torch.randn(2, 5, frames + 2 * hp.cin_pad, dtype=torch.float64) if conditional else None
    with torch.no_grad():
        got = model.smoothed_log_prob(x, 2.5, c)
    torch.testing.assert_close(got, reference_smoothed_log_prob(state, hp, x, 2.5, c), rtol=1e-9, atol=1e-9)  # float64
