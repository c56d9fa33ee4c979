"""Ancestral synthesis: the incremental forward computes the full forward's logits, and draws follow them."""
import json
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import make_dump, make_root, preset_path, tiny_hparams
from wavenet_vocoder import synthesis
from wavenet_vocoder.cli import run
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.incremental import IncrementalWaveNet
from wavenet_vocoder.wavenet import WaveNet


def double_model(hp, seed=0):
    torch.manual_seed(seed)
    model = WaveNet.from_hparams(hp).double().eval()
    with torch.no_grad():                       # non-zero biases, so that a bias mistake shows
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.3)
    return model


@pytest.mark.parametrize("conditional", [False, True])
def test_incremental_forward_matches_the_full_forward_on_teacher_forced_input(conditional):
    hp = tiny_hparams(conditional=conditional)
    model = double_model(hp)
    T = 64                                      # several receptive fields (13 samples), so buffers wrap
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(3, 1, T, generator=gen, dtype=torch.float64) * 255
    c = torch.randn(3, hp.cin_channels, T, generator=gen, dtype=torch.float64) if conditional else None
    full = model(x, c, c_at_sample_rate=True)                    # (3, 256, T)
    net = IncrementalWaveNet(model)
    net.reset(3)
    steps = torch.stack([net.step(x[:, 0, t], None if c is None else c[:, :, t]) for t in range(T)], dim=-1)
    torch.testing.assert_close(steps, full, rtol=0, atol=1e-10)  # float64


def test_incremental_forward_on_a_published_size_layer_stack():
    # 3 stacks of dilations up to 32: the ring buffers of every size are exercised.
    hp = load_preset(preset_path("mulaw_maxaudio"),
                     "layers=18,stacks=3,residual_channels=4,gate_channels=8,skip_out_channels=4")
    model = double_model(hp, seed=3)
    T = 2 * model.receptive_field
    x = torch.rand(1, 1, T, dtype=torch.float64) * 255
    net = IncrementalWaveNet(model)
    net.reset(1)
    steps = torch.stack([net.step(x[:, 0, t]) for t in range(T)], dim=-1)
    torch.testing.assert_close(steps, model(x), rtol=0, atol=1e-10)  # float64


def test_reset_forgets_the_past():
    model = double_model(tiny_hparams())
    net = IncrementalWaveNet(model)
    x = torch.rand(20, dtype=torch.float64) * 255
    net.reset(1)
    first = [net.step(v.view(1)) for v in x]
    net.reset(1)
    again = [net.step(v.view(1)) for v in x]
    torch.testing.assert_close(torch.stack(first), torch.stack(again), rtol=0, atol=0)


def test_incremental_needs_eval_mode_and_conditioning():
    hp = tiny_hparams(conditional=True)
    with pytest.raises(ValueError, match="eval"):
        IncrementalWaveNet(WaveNet.from_hparams(hp).train())
    net = IncrementalWaveNet(WaveNet.from_hparams(hp).eval())
    net.reset(1)
    with pytest.raises(ValueError, match="c_t"):
        net.step(torch.zeros(1))


def test_draws_follow_the_model_distribution():
    hp = tiny_hparams()
    model = double_model(hp, seed=5)
    with torch.no_grad():
        model.last_conv_layers[3].weight_g.mul_(0.2)     # a broad distribution: many classes drawn
    prime = [127.0] * 5
    net = IncrementalWaveNet(model)
    net.reset(1)
    for v in prime[:-1]:
        net.step(torch.tensor([v], dtype=torch.float64))
    probs = torch.softmax(net.step(torch.tensor([prime[-1]], dtype=torch.float64))[0], 0).numpy()
    n = 3000
    draws = np.array([int(synthesis.ancestral_sample(model, 1, generator=torch.Generator().manual_seed(s),
                                                     prime=prime)[0]) for s in range(n)])
    counts = np.bincount(draws, minlength=256)
    top = np.argsort(probs)[-5:]
    for k in top:                                # within 5 standard deviations of a binomial
        assert abs(counts[k] - n * probs[k]) < 5 * np.sqrt(n * probs[k] * (1 - probs[k])) + 1
    # A low temperature concentrates the draws on the most likely class.
    cold = [int(synthesis.ancestral_sample(model, 1, temperature=1e-3, generator=torch.Generator().manual_seed(s),
                                           prime=prime)[0]) for s in range(20)]
    assert set(cold) == {int(np.argmax(probs))}


def test_ancestral_sample_is_reproducible_and_conditional_lengths_match():
    hp = tiny_hparams(conditional=True)
    model = WaveNet.from_hparams(hp).eval()
    frames = 10
    c = torch.randn(1, hp.cin_channels, frames + 2 * hp.cin_pad)
    a = synthesis.ancestral_sample(model, frames * hp.hop_size, c, generator=torch.Generator().manual_seed(0))
    b = synthesis.ancestral_sample(model, frames * hp.hop_size, c, generator=torch.Generator().manual_seed(0))
    assert a.shape == (frames * hp.hop_size,) and torch.equal(a, b)
    assert 0 <= int(a.min()) and int(a.max()) <= 255
    with pytest.raises(ValueError, match="cover"):
        synthesis.ancestral_sample(model, frames * hp.hop_size + 1, c)


def test_synthesis_command_unconditional_and_from_a_dump(tmp_path):
    root, preset = make_root(tmp_path / "mulaw", tiny_hparams())
    out = tmp_path / "out"
    assert synthesis.main([root, str(out), f"--preset={preset}", "--length", "300", "--no-progress"]) == 0
    audio, sr = sf.read(out / "out.wav")
    assert sr == 22050 and audio.shape == (300,) and np.all(np.abs(audio) <= 1)
    report = json.loads((out / "run.json").read_text())
    assert report["sigma"] == 1.0 and report["input_noise"] == 1.0 and report["samples_per_second"] > 0
    mel_root, mel_preset = make_root(tmp_path / "mel", tiny_hparams(conditional=True))
    dump = make_dump(tmp_path / "dump_norm" / "dev", frames=30)
    out2 = tmp_path / "out2"
    assert synthesis.main([mel_root, str(out2), f"--preset={mel_preset}", f"--conditioning={dump}",
                           "--max-frames", "20", "--sigma", "4.0", "--no-progress"]) == 0
    assert sf.read(out2 / "out.wav")[0].shape == (20 * 4,)


@pytest.mark.parametrize("flags, message", [
    (["--length", "0"], "--length"),
    (["--temperature", "0"], "--temperature"),
    (["--sigma", "3.0"], "checkpoints3pt0"),
])
def test_synthesis_bad_input(tmp_path, capsys, flags, message):
    root, preset = make_root(tmp_path / "mulaw", tiny_hparams())
    with pytest.raises(SystemExit) as exit_info:
        run(synthesis.main, [root, str(tmp_path / "out"), f"--preset={preset}", "--no-progress"] + flags)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_ancestral_sample_takes_one_temperature_per_sample():
    hp = tiny_hparams(conditional=True)
    model = WaveNet.from_hparams(hp).eval()
    with torch.no_grad():
        model.last_conv_layers[3].weight_g.mul_(0.2)     # a broad distribution
    frames = 20
    length = frames * hp.hop_size
    c = torch.randn(1, hp.cin_channels, frames + 2 * hp.cin_pad)
    draw = lambda temperature: synthesis.ancestral_sample(model, length, c, temperature,
                                                          generator=torch.Generator().manual_seed(3))
    # a map of one value is that value, draw for draw; a cold second half draws nearly one class there
    assert torch.equal(draw(np.full(length, 0.7)), draw(0.7))
    split = np.concatenate([np.ones(length // 2), np.full(length - length // 2, 1e-4)])
    mixed, warm = draw(split), draw(1.0)
    assert torch.equal(mixed[:length // 2], warm[:length // 2])        # the first half: the same draws
    assert not torch.equal(mixed, warm)
    for bad in (0.0, np.ones(length - 1), np.r_[np.ones(length - 1), -1.0]):
        with pytest.raises(ValueError, match="temperature must be positive"):
            draw(bad)


def test_synthesis_voiced_temperature_needs_the_statistics_and_is_recorded(tmp_path, capsys):
    mel_root, mel_preset = make_root(tmp_path / "mel", tiny_hparams(conditional=True))
    dump = make_dump(tmp_path / "dump_norm" / "dev", frames=30)
    argv = [mel_root, str(tmp_path / "out"), f"--preset={mel_preset}", f"--conditioning={dump}", "--no-progress",
            "--voiced-temperature", "0.25"]
    with pytest.raises(SystemExit) as exit_info:
        run(synthesis.main, argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "meanvar.npy" in err[0]
    assert not (tmp_path / "out").exists()
    np.save(os.path.join(mel_root, "meanvar.npy"), np.stack([np.full(5, -2.0), np.ones(5)]))
    assert synthesis.main(argv) == 0
    report = json.loads((tmp_path / "out" / "run.json").read_text())
    assert report["voiced_temperature"] == 0.25 and report["temperature"] == 1.0
    with pytest.raises(SystemExit) as exit_info:
        run(synthesis.main, argv[:-1] + ["0"])
    assert exit_info.value.code == 2 and "--voiced-temperature" in capsys.readouterr().err
