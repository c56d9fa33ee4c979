"""Window-by-window mel conditioning equals upsampling the whole signal at once."""
import pytest
import torch

from conftest import preset_path, tiny_hparams
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.pnf.conditioning import WindowConditioning
from wavenet_vocoder.wavenet import WaveNet


def conditional_model(hp, seed=0):
    torch.manual_seed(seed)
    model = WaveNet.from_hparams(hp).double().eval()
    with torch.no_grad():                       # not the box-filter initialisation: every tap differs
        for name, p in model.upsample_net.named_parameters():
            p.copy_(torch.randn_like(p).abs() + 0.1 if name.endswith("weight_g") else torch.randn_like(p))
    return model


@pytest.mark.parametrize("published", [False, True])
def test_every_span_equals_the_whole_signal_upsampling(published):
    if published:                               # hop 256, four x4 stages, cin_pad 2, 80 bands
        hp = load_preset(preset_path("mulaw_maxaudio_spectrogram"),
                         "layers=2,stacks=1,residual_channels=4,gate_channels=8,skip_out_channels=4")
    else:
        hp = tiny_hparams(conditional=True)     # hop 4, two x2 stages
    model = conditional_model(hp)
    n_frames = 12
    frames = torch.randn(hp.cin_channels, n_frames + 2 * hp.cin_pad, dtype=torch.float64)
    length = n_frames * model.hop_size
    with torch.no_grad():
        whole = model.upsample_conditioning(frames.unsqueeze(0))[0]
    assert whole.shape == (hp.cin_channels, length)
    cond = WindowConditioning(model, frames, length)
    hop = model.hop_size
    for start, stop in [(0, length), (0, 1), (3, 2 * hop + 5), (5 * hop - 1, 9 * hop + 2), (length - 7, length),
                        (-20, 3 * hop), (length - hop, length + 30), (-5, length + 5)]:
        expected = whole[:, torch.arange(start, stop).clamp(0, length - 1)]
        torch.testing.assert_close(cond.span(start, stop), expected, rtol=0, atol=1e-12)  # float64


def test_frames_that_do_not_cover_the_signal_are_refused():
    hp = tiny_hparams(conditional=True)
    model = conditional_model(hp)
    frames = torch.zeros(hp.cin_channels, 10 + 2 * hp.cin_pad, dtype=torch.float64)
    with pytest.raises(ValueError, match="cover 40 samples but the signal has 41"):
        WindowConditioning(model, frames, 41)
