import json

import pytest

from conftest import DATA, PRESETS, preset_path
from wavenet_vocoder.errors import PresetError
from wavenet_vocoder.hparams import (PUBLISHED_SIGMAS, PUBLISHED_SPECTROGRAM_SIGMAS, default_hparams,
                                     load_preset, parse_overrides)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_hold_the_published_values_plus_sigmas(name):
    with open(f"{DATA}/{name}_published_config.json") as f:
        published = json.load(f)
    with open(preset_path(name)) as f:
        ours = json.load(f)
    assert set(ours) == set(published) | {"sigmas"}
    assert {k: v for k, v in ours.items() if k != "sigmas"} == published
    expected = PUBLISHED_SPECTROGRAM_SIGMAS if name.endswith("spectrogram") else PUBLISHED_SIGMAS
    assert ours["sigmas"] == list(expected)
    hp = load_preset(preset_path(name))
    # Our extensions beyond sigmas, off unless a preset turns them on: the noise-conditional model (and
    # its head's sigma input), moves per level (empty: --n-steps at every level), where a warm start
    # begins (None: the top; per task: none), the step scale (None: the script's STEP_SCALE) and
    # separation's mixture step (the published explicit one).
    assert hp.to_dict() == {**ours, "noise_conditional": False, "noise_embedding_channels": 64, "noise_head": False,
                            "level_steps": [], "warm_start_sigma": None, "task_warm_start_sigma": {},
                            "step_scale": None, "implicit_mixture": False}


def test_published_schedules():
    assert len(PUBLISHED_SIGMAS) == 24 and len(PUBLISHED_SPECTROGRAM_SIGMAS) == 16
    assert set(PUBLISHED_SPECTROGRAM_SIGMAS) <= set(PUBLISHED_SIGMAS)


def test_overrides_apply_with_types():
    hp = load_preset(preset_path("mulaw_maxaudio"),
                     "layers=6, stacks=2,sigmas=[3,2.5,1],input_type=linear-quantize,"
                     "upsample_conditional_features=true,upsample_params={\"upsample_scales\":[16,16]},"
                     "max_time_sec=1.5,input_noise=1")
    assert hp.layers == 6 and hp.stacks == 2
    assert hp.sigmas == [3.0, 2.5, 1.0]
    assert hp.input_type == "linear-quantize"
    assert hp.upsample_conditional_features is True
    assert hp.upsample_params == {"upsample_scales": [16, 16]}
    assert hp.max_time_sec == 1.5
    assert hp.input_noise == 1.0 and isinstance(hp.input_noise, float)


def test_parse_overrides_keeps_commas_inside_brackets():
    assert parse_overrides("a=[1,2],b={\"x\":[3,4]},c=word,d=") == {
        "a": [1, 2], "b": {"x": [3, 4]}, "c": "word", "d": ""}
    assert parse_overrides("") == {}


@pytest.mark.parametrize("overrides, message", [
    ("foo=1", "unknown hyper-parameter 'foo'"),
    ("layers=abc", "layers='abc' is malformed"),
    ("layers=2.5", "layers=2.5 is malformed"),
    ("upsample_conditional_features=1", "expected true or false"),
    ("sigmas=[1,2]", "strictly decreasing"),
    ("sigmas=[]", "sigmas=[] is malformed"),
    ("sigmas=[1,-1]", "positive numbers"),
    ("input_type=raw", "input_type='raw' is not supported"),
    ("layers", "not of the form name=value"),
    ("layers=7", "multiple of stacks"),
])
def test_bad_overrides_name_the_key(overrides, message):
    with pytest.raises(PresetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_preset(preset_path("mulaw_maxaudio"), overrides)


def test_bad_preset_files(tmp_path):
    with pytest.raises(PresetError, match="does not exist"):
        load_preset(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PresetError, match=f"{bad} is not valid JSON"):
        load_preset(bad)
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"layers": 30, "nonsense": 1}))
    with pytest.raises(PresetError, match=f"preset file {unknown}: unknown hyper-parameter 'nonsense'"):
        load_preset(unknown)


def test_hparams_are_immutable():
    hp = default_hparams()
    with pytest.raises(AttributeError):
        hp.layers = 3
    changed = hp.replace(layers=6, stacks=3)
    assert (hp.layers, changed.layers) == (30, 6)
    with pytest.raises(PresetError):
        hp.replace(layers="six")
