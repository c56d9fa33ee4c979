
import pytest
import torch

from conftest import (PRESETS, preset_path, published_keys, random_published_state_dict,
                      reference_smoothed_log_prob, save_published, tiny_hparams)
from wavenet_vocoder.checkpoints import (check_checkpoints, checkpoint_dir_name, list_levels, load_model,
                                         missing_levels, require_levels, save_checkpoint, sigma_from_dir_name)
from wavenet_vocoder.errors import CheckpointError, MissingCheckpointError
from wavenet_vocoder.hparams import PUBLISHED_SIGMAS, load_preset
from wavenet_vocoder.wavenet import WaveNet


@pytest.mark.parametrize("sigma, name", [(175.9, "checkpoints175pt9"), (110.0, "checkpoints110pt0"),
                                         (8.29, "checkpoints8pt29"), (1.0, "checkpoints1pt0"),
                                         (1, "checkpoints1pt0"), (0.625, "checkpoints0pt625"),
                                         (0.1, "checkpoints0pt1")])
def test_checkpoint_dir_name(sigma, name):
    assert checkpoint_dir_name(sigma) == name
    assert sigma_from_dir_name(name) == float(sigma)


def test_every_published_level_round_trips_through_its_folder_name():
    for sigma in PUBLISHED_SIGMAS:
        assert sigma_from_dir_name(checkpoint_dir_name(sigma)) == sigma
    assert sigma_from_dir_name("checkpoints") is None
    assert sigma_from_dir_name("dump_norm") is None


@pytest.mark.parametrize("name", PRESETS)
def test_model_state_dict_matches_published_names_and_shapes(name):
    model = WaveNet.from_hparams(load_preset(preset_path(name)))
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == published_keys(name)


@pytest.mark.parametrize("name", ["mulaw_maxaudio", "mulaw_maxaudio_spectrogram"])
def test_published_format_checkpoint_loads_and_matches_independent_reference(tmp_path, name):
    hp = load_preset(preset_path(name))
    state = random_published_state_dict(name, seed=1)
    root = tmp_path / "supra_piano"
    for sigma in (175.9, 1.0):
        save_published(root / checkpoint_dir_name(sigma) / "checkpoint_latest_ema.pth", state)
    assert [level.sigma for level in list_levels(root)] == [175.9, 1.0]
    model = load_model(list_levels(root)[1].path, hp)
    assert not model.training
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    gen = torch.Generator().manual_seed(2)
    frames = 4
    x = torch.rand(2, 1, frames * hp.hop_size + 1, generator=gen) * 255
    c = (torch.randn(2, hp.num_mels, frames + 2 * hp.cin_pad, generator=gen)
         if hp.cin_channels > 0 else None)
    for sigma in (1.0, 30.0):
        with torch.no_grad():
            got = model.smoothed_log_prob(x, sigma, c)
        expected = reference_smoothed_log_prob(state, hp, x.double(), sigma, None if c is None else c.double())
        torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=0)  # float32 vs float64


def test_bare_state_dict_and_dataparallel_prefix_load(tmp_path, tiny):
    torch.manual_seed(0)
    model = WaveNet.from_hparams(tiny)
    torch.save(model.state_dict(), tmp_path / "bare.pth")
    torch.save({"state_dict": {"module." + k: v for k, v in model.state_dict().items()}},
               tmp_path / "prefixed.pth")
    for name in ("bare.pth", "prefixed.pth"):
        loaded = load_model(tmp_path / name, tiny)
        for key, value in loaded.state_dict().items():
            torch.testing.assert_close(value, model.state_dict()[key], rtol=0, atol=0)


def test_save_checkpoint_round_trips_and_writes_the_published_layout(tmp_path, tiny):
    torch.manual_seed(0)
    model = WaveNet.from_hparams(tiny)
    optimizer = torch.optim.Adam(model.parameters())
    path = tmp_path / "checkpoints4pt0" / "checkpoint_latest_ema.pth"
    save_checkpoint(path, model, optimizer, global_step=7, global_epoch=2, hparams=tiny)
    raw = torch.load(path, weights_only=True)
    assert {"state_dict", "optimizer", "global_step", "global_epoch", "global_test_step"} <= set(raw)
    assert raw["global_step"] == 7
    loaded = load_model(tmp_path / "checkpoints4pt0", tiny)   # a level folder works too
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, model.state_dict()[key], rtol=0, atol=0)
    assert [p.name for p in tmp_path.joinpath("checkpoints4pt0").iterdir()] == ["checkpoint_latest_ema.pth"]


@pytest.mark.parametrize("wrap", [torch.nn.DataParallel, torch.compile, lambda m: torch.compile(torch.nn.DataParallel(m))])
def test_a_wrapped_model_is_saved_with_the_published_keys(tmp_path, tiny, wrap):
    model = WaveNet.from_hparams(tiny)
    save_checkpoint(tmp_path / "c.pth", wrap(model))          # (torch.compile wraps at once, compiles on a call)
    saved = torch.load(tmp_path / "c.pth", weights_only=True)["state_dict"]
    assert list(saved) == list(model.state_dict())


def test_missing_levels_are_named_with_the_folder_and_a_remedy(tmp_path, tiny):
    root = tmp_path / "vctk"
    save_checkpoint(root / "checkpoints4pt0" / "checkpoint_latest.pth", WaveNet.from_hparams(tiny))
    assert missing_levels(root, [4.0, 1.0]) == [1.0]
    with pytest.raises(MissingCheckpointError) as err:
        require_levels(root, [4.0, 1.0])
    message = str(err.value)
    assert str(root) in message and "checkpoints1pt0" in message and "download_checkpoints.py" in message
    assert "checkpoints4pt0" not in message
    with pytest.raises(MissingCheckpointError, match="does not exist"):
        load_model(root / "checkpoints1pt0" / "checkpoint_latest_ema.pth", tiny)


def test_wrong_preset_and_broken_files_are_clear_errors(tmp_path, tiny):
    path = tmp_path / "published.pth"
    save_published(path, random_published_state_dict("mulaw_maxaudio"))
    with pytest.raises(CheckpointError, match=f"{path} does not fit the preset.*--preset"):
        load_model(path, tiny)
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=f"cannot read checkpoint {broken}"):
        load_model(broken, tiny)
    other = tmp_path / "other.pth"
    torch.save({"weights": [1, 2]}, other)
    with pytest.raises(CheckpointError, match="holds no state dict"):
        load_model(other, tiny)


def test_a_checkpoint_trained_with_another_preset_is_refused_by_name(tmp_path, tiny):
    """A mu-law model under a linear preset has the same shapes and would load and sample garbage:
    the preset pnf-train saved in the file says so, before any compute."""
    path = tmp_path / "mulaw.pth"
    save_checkpoint(path, WaveNet.from_hparams(tiny), hparams=tiny)
    linear = tiny_hparams(input_type="linear-quantize")
    expected = f"checkpoint {path} was trained with input_type=mulaw-quantize \\(the preset: linear-quantize\\)"
    for load in (lambda: load_model(path, linear), lambda: check_checkpoints([path], linear)):
        with pytest.raises(CheckpointError, match=expected + ".*--preset"):
            load()
    with pytest.raises(CheckpointError, match="was trained with sample_rate=22050 \\(the preset: 16000\\)"):
        load_model(path, tiny.replace(sample_rate=16000))
    assert load_model(path, tiny) is not None                       # its own preset loads
    published = tmp_path / "published.pth"                           # a file without a saved preset: nothing to compare
    save_checkpoint(published, WaveNet.from_hparams(tiny))
    assert load_model(published, linear) is not None


def test_a_checkpoint_of_another_architecture_names_the_settings_it_was_trained_with(tmp_path, tiny):
    path = tmp_path / "narrow.pth"
    save_checkpoint(path, WaveNet.from_hparams(tiny), hparams=tiny)
    with pytest.raises(CheckpointError, match=r"does not fit the preset \(missing .*; it was trained with "
                                              r"layers=4 \(the preset: 6\), residual_channels=8 \(the preset: 16\)$"):
        load_model(path, tiny.replace(layers=6, residual_channels=16))
    published = tmp_path / "published.pth"                   # no saved preset: the shapes alone
    save_checkpoint(published, WaveNet.from_hparams(tiny))
    with pytest.raises(CheckpointError, match=r"check that --preset matches the checkpoint$"):
        load_model(published, tiny.replace(layers=6))


def test_mel_settings_count_only_for_a_conditioned_model(tmp_path, tiny, tiny_conditional):
    path = tmp_path / "mel.pth"
    save_checkpoint(path, WaveNet.from_hparams(tiny_conditional), hparams=tiny_conditional)
    other_band = tiny_conditional.replace(fmin=60)
    with pytest.raises(CheckpointError, match="was trained with fmin=125 \\(the preset: 60\\)"):
        load_model(path, other_band)
    plain = tmp_path / "plain.pth"
    save_checkpoint(plain, WaveNet.from_hparams(tiny), hparams=tiny)
    assert load_model(plain, tiny.replace(fmin=60)) is not None
