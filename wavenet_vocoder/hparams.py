"""Hyper-parameters: the published preset keys, loaded from JSON and validated.

A preset is a JSON object whose keys are the model's, the features' and the
sampler's parameters (``egs/*/config.json``).  ``load_preset`` reads one, applies
an ``--hparams "name=value,..."`` override string, checks every key and value
against the table below and returns an immutable :class:`HParams`.
"""
import ast
import difflib
import json
import math
from types import MappingProxyType

from .errors import PresetError

#: The 24-level annealing schedule of the published system (quantised units).
PUBLISHED_SIGMAS = (
    175.9, 110.0, 68.7, 54.3, 42.9, 34.0, 26.8, 21.2, 16.8, 13.3, 10.5, 8.29,
    6.55, 5.18, 4.1, 3.24, 2.56, 1.6, 1.0, 0.625, 0.39, 0.244, 0.15, 0.1,
)

#: The 16-level schedule the published spectrogram-conditioned sampler uses.
PUBLISHED_SPECTROGRAM_SIGMAS = (
    175.9, 110.0, 68.7, 42.9, 26.8, 16.8, 10.5, 6.55, 4.1, 2.56, 1.6, 1.0,
    0.625, 0.39, 0.244, 0.1,
)

# Every key a preset may hold, with its default: the published `mulaw_maxaudio`
# preset plus `sigmas`.  The type of each default is the type a value must have
# (an int is accepted where a float is expected; None marks "number or null").
_DEFAULTS = {
    "name": "wavenet_vocoder",
    "input_type": "mulaw-quantize",
    "manual_scalar_input": True,
    "quantize_channels": 256,
    "input_noise": 0.0,
    "preprocess": "",
    "postprocess": "",
    "global_gain_scale": 1.0,
    "normalize_max_audio": True,
    "sample_rate": 22050,
    "silence_threshold": 2,
    "num_mels": 80,
    "fmin": 125,
    "fmax": 7600,
    "fft_size": 1024,
    "hop_size": 256,
    "frame_shift_ms": None,
    "win_length": 1024,
    "win_length_ms": -1.0,
    "window": "hann",
    "highpass_cutoff": -1.0,
    "output_distribution": "Logistic",
    "log_scale_min": -9.0,
    "out_channels": 256,
    "layers": 30,
    "stacks": 3,
    "residual_channels": 128,
    "gate_channels": 256,
    "skip_out_channels": 128,
    "dropout": 0.0,
    "kernel_size": 3,
    "cin_channels": -1,
    "cin_pad": 2,
    "upsample_conditional_features": False,
    "upsample_net": "ConvInUpsampleNetwork",
    "upsample_params": {"upsample_scales": [4, 4, 4, 4]},
    "gin_channels": -1,
    "n_speakers": 7,
    "pin_memory": True,
    "num_workers": 8,
    "batch_size": 1,
    "optimizer": "Adam",
    "optimizer_params": {"lr": 0.001, "eps": 1e-08, "weight_decay": 0.0},
    "lr_schedule": "step_learning_rate_decay",
    "lr_schedule_kwargs": {"anneal_rate": 0.5, "anneal_interval": 200000},
    "max_train_steps": 500000,
    "nepochs": 2000,
    "clip_thresh": -1,
    "max_time_sec": None,
    "max_time_steps": 10240,
    "exponential_moving_average": True,
    "ema_decay": 0.9999,
    "checkpoint_interval": 30000,
    "train_eval_interval": 30000,
    "test_eval_epoch_interval": 50,
    "save_optimizer_state": True,
    "sigmas": list(PUBLISHED_SIGMAS),
    # Not in the published presets: one noise-conditional model for every level (see wavenet.py).
    "noise_conditional": False,
    "noise_embedding_channels": 64,
    # Not in the published presets: a noise-conditional model's head also reads sigma (a per-level
    # bias on its hidden layer, beside the gate biases of every block).
    "noise_head": False,
    # Not in the published presets: moves per sample at each level of sigmas (empty: --n-steps at all).
    "level_steps": [],
    # Not in the published presets: where a warm start (--init baseline) begins the schedule, in
    # quantised units (its first level at or below it); None: the schedule's first level.
    "warm_start_sigma": None,
    # Not in the published presets: warm_start_sigma for one task, by the task's name (superres,
    # inpainting, separation, spectrogram, declipping), e.g. {"superres": 0.39}; the others keep
    # warm_start_sigma.
    "task_warm_start_sigma": {},
    # Not in the published presets: the Langevin step size eta = step_scale * sigma^2 that suits this
    # prior (None: the task script's STEP_SCALE, the published 0.05 or 0.1); --step-scale comes first.
    "step_scale": None,
    # Not in the published presets: separation takes its mixture term as a backward-Euler step (as
    # pnf-separation --implicit-mixture does), which a step_scale of 1/15 or more needs; False: the
    # published explicit step.
    "implicit_mixture": False,
}

INPUT_TYPES = ("mulaw-quantize", "linear-quantize")

#: The task commands' names, the keys of ``task_warm_start_sigma``.
TASK_NAMES = ("superres", "inpainting", "separation", "spectrogram", "declipping")


def dilations(layers, stacks):
    """Dilation of each residual block: ``2 ** (i % (layers // stacks))``."""
    per_stack = layers // stacks
    return [2 ** (i % per_stack) for i in range(layers)]


def receptive_field_size(layers, stacks, kernel_size):
    """Number of input samples (including the current one) that one output depends on.

    ``(kernel_size - 1) * sum(dilations) + 1``: 6139 samples for 30 layers, 3 stacks, kernel 3.
    """
    return (kernel_size - 1) * sum(dilations(layers, stacks)) + 1


class HParams:
    """Immutable set of hyper-parameters with attribute access (``hp.layers``).

    Use :meth:`replace` to derive a modified copy and :meth:`to_dict` to save it.
    """

    __slots__ = ("_values",)

    def __init__(self, values):
        object.__setattr__(self, "_values", MappingProxyType(json.loads(json.dumps(values))))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no hyper-parameter named {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError("HParams is immutable: use hp.replace(name=value)")

    def __getitem__(self, name):
        return self._values[name]

    def __contains__(self, name):
        return name in self._values

    def __eq__(self, other):
        return isinstance(other, HParams) and dict(self._values) == dict(other._values)

    def __repr__(self):
        return f"HParams({dict(self._values)!r})"

    @property
    def receptive_field(self):
        """The model's receptive field in samples (:func:`receptive_field_size` of its layers)."""
        return receptive_field_size(self.layers, self.stacks, self.kernel_size)

    def to_dict(self):
        """A plain (deep-copied) dict of all values, suitable for ``json.dump``."""
        return json.loads(json.dumps(dict(self._values)))

    def replace(self, **changes):
        """A copy with ``changes`` applied; the changes are validated like a preset."""
        values = self.to_dict()
        for key, value in changes.items():
            values[key] = _check_value(key, value, "replace()")
        return HParams(_check_consistency(values, "replace()"))


#: Preset keys that change what quantised samples (and so a model's weights, or a dump's waves)
#: mean without changing any shape: a model or dump made with other values loads, and is wrong.
MEANING_KEYS = ("input_type", "quantize_channels", "sample_rate")

#: The mel features' keys: they count too where the preset is mel-conditioned (``cin_channels`` > 0).
FEATURE_KEYS = ("num_mels", "fmin", "fmax", "fft_size", "hop_size", "win_length")


#: Preset keys that shape the model: a checkpoint trained with other values does not load, and its
#: preset (where the file carries one) says which of them differ.
MODEL_KEYS = ("layers", "stacks", "kernel_size", "residual_channels", "gate_channels", "skip_out_channels",
              "out_channels", "cin_channels", "cin_pad", "upsample_conditional_features", "upsample_params",
              "noise_conditional", "noise_embedding_channels", "noise_head")


def made_with(hparams):
    """{key: value} of :data:`MEANING_KEYS` and :data:`FEATURE_KEYS` in ``hparams``: what a file made
    with this preset records, so that a later reader can tell whether its own preset agrees."""
    return {key: getattr(hparams, key) for key in MEANING_KEYS + FEATURE_KEYS}


def preset_mismatches(saved, hparams):
    """The settings in which ``saved`` (a dict of preset values that a file was made with) differs from
    ``hparams``, as "key=saved (the preset: value)" strings: the keys of :data:`MEANING_KEYS` and, for a
    mel-conditioned ``hparams``, of :data:`FEATURE_KEYS`.  Empty when they agree or ``saved`` is None."""
    if not saved:
        return []
    return _differing(saved, hparams, MEANING_KEYS + (FEATURE_KEYS if (hparams.cin_channels or 0) > 0 else ()))


def model_mismatches(saved, hparams):
    """The keys of :data:`MODEL_KEYS` in which ``saved`` differs from ``hparams``, as
    :func:`preset_mismatches` gives them: why a checkpoint's shapes do not fit the preset."""
    return _differing(saved or {}, hparams, MODEL_KEYS)


def _differing(saved, hparams, keys):
    return [f"{key}={saved[key]} (the preset: {getattr(hparams, key)})" for key in keys
            if key in saved and saved[key] != getattr(hparams, key)]


def default_hparams():
    """The published `mulaw_maxaudio` hyper-parameters with the 24-level schedule."""
    return HParams(_check_consistency(dict(_DEFAULTS), "defaults"))


def load_preset(path=None, overrides=""):
    """Read the JSON preset at ``path`` (None: the defaults) and apply ``overrides``.

    ``overrides`` is the ``--hparams`` string: ``"name=value,name=value"``, where a
    value is JSON or a Python literal (``sigmas=[1.0,0.5]``, ``cin_channels=80``,
    ``upsample_conditional_features=true``) or else a bare string
    (``input_type=linear-quantize``).  Raises :class:`PresetError` naming the file,
    key or value that is wrong.
    """
    values = dict(_DEFAULTS)
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            with open(path, encoding="utf-8") as f:
                loaded = json.load(f)
        except FileNotFoundError:
            raise PresetError(f"preset file {path} does not exist: pass --preset=egs/<name>/config.json") from None
        except (OSError, UnicodeDecodeError) as e:
            raise PresetError(f"cannot read preset file {path}: {e}") from None
        except json.JSONDecodeError as e:
            raise PresetError(f"preset file {path} is not valid JSON: {e}") from None
        if not isinstance(loaded, dict):
            raise PresetError(f"preset file {path} must hold a JSON object of name: value pairs")
        for key, value in loaded.items():
            values[key] = _check_value(key, value, f"preset file {path}")
    for key, value in parse_overrides(overrides).items():
        values[key] = _check_value(key, value, "--hparams")
        source += f" + --hparams {key}"
    return HParams(_check_consistency(values, source))


def parse_overrides(text):
    """Parse ``"a=1,b=[1,2],c=word"`` into ``{"a": 1, "b": [1, 2], "c": "word"}``.

    Commas inside brackets or braces do not split; values are JSON, then Python
    literals, then bare strings.
    """
    result = {}
    if text is None or not text.strip():
        return result
    for item in _split_top_level(text):
        if not item.strip():
            continue
        if "=" not in item:
            raise PresetError(f"--hparams item {item.strip()!r} is not of the form name=value")
        name, raw = item.split("=", 1)
        name = name.strip()
        if not name:
            raise PresetError(f"--hparams item {item.strip()!r} has no name before '='")
        result[name] = _parse_value(raw.strip())
    return result


def _split_top_level(text):
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return items


def _parse_value(raw):
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw
    return list(value) if isinstance(value, tuple) else value


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_value(key, value, where):
    """Return ``value`` converted to the type of the default of ``key``, or raise."""
    if key not in _DEFAULTS:
        close = difflib.get_close_matches(key, list(_DEFAULTS), n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else "the known keys are those of any preset's JSON file"
        raise PresetError(f"{where}: unknown hyper-parameter {key!r} ({hint})")
    default = _DEFAULTS[key]
    bad = PresetError(f"{where}: {key}={value!r} is malformed: expected {_type_name(default)}")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad
    elif isinstance(default, int):
        if not (isinstance(value, int) and not isinstance(value, bool)):
            if _is_number(value) and float(value).is_integer():
                value = int(value)
            else:
                raise bad
    elif isinstance(default, float) or default is None:
        if value is None and default is None:
            return None
        if not _is_number(value) or not math.isfinite(value):
            raise bad
        value = float(value) if isinstance(default, float) else value
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise bad
    elif isinstance(default, list):
        if not isinstance(value, list):
            raise bad
    elif isinstance(default, dict):
        if not isinstance(value, dict):
            raise bad
    if key == "sigmas":
        value = _check_sigmas(value, where)
    if key == "level_steps" and not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value):
        raise PresetError(f"{where}: level_steps={value!r} must be a list of positive integers, one per level")
    if key == "input_type" and value not in INPUT_TYPES:
        raise PresetError(f"{where}: input_type={value!r} is not supported: use one of {', '.join(INPUT_TYPES)}")
    return value


def _check_sigmas(value, where):
    if not value or not all(_is_number(s) and math.isfinite(s) and s > 0 for s in value):
        raise PresetError(f"{where}: sigmas={value!r} is malformed: expected a non-empty list of positive numbers")
    sigmas = [float(s) for s in value]
    if any(b >= a for a, b in zip(sigmas, sigmas[1:])):
        raise PresetError(f"{where}: sigmas={value!r} must be strictly decreasing (the annealing goes from high to low noise)")
    return sigmas


def _check_consistency(values, where):
    """Checks that involve several keys; returns ``values``."""
    for key in ("layers", "stacks", "residual_channels", "gate_channels", "skip_out_channels",
                "kernel_size", "out_channels", "sample_rate", "hop_size", "num_mels", "noise_embedding_channels"):
        if values[key] <= 0:
            raise PresetError(f"{where}: {key}={values[key]} must be positive")
    if values["level_steps"] and len(values["level_steps"]) != len(values["sigmas"]):
        raise PresetError(f"{where}: level_steps has {len(values['level_steps'])} counts for {len(values['sigmas'])} "
                          "levels of sigmas: give one per level, or none")
    if values["step_scale"] is not None and not values["step_scale"] > 0:
        raise PresetError(f"{where}: step_scale={values['step_scale']} must be positive, or null for the task "
                          "script's STEP_SCALE")
    starts = [("warm_start_sigma", values["warm_start_sigma"])]
    for task, start in values["task_warm_start_sigma"].items():
        if task not in TASK_NAMES:
            raise PresetError(f"{where}: task_warm_start_sigma has an unknown task {task!r}: use "
                              f"{', '.join(TASK_NAMES)}")
        if not (_is_number(start) or start is None):
            raise PresetError(f"{where}: task_warm_start_sigma.{task}={start!r} is malformed: expected a number or null")
        starts.append((f"task_warm_start_sigma.{task}", start))
    for key, start in starts:
        if start is not None and not (start > 0 and start * (1 + 1e-9) >= min(values["sigmas"])):
            raise PresetError(f"{where}: {key}={start} lies below every level of sigmas (the lowest is "
                              f"{min(values['sigmas']):g}): give one at or above the lowest, or null")
    if values["noise_head"] and not values["noise_conditional"]:
        raise PresetError(f"{where}: noise_head=true needs noise_conditional=true (only a noise-conditional "
                          "model has a sigma input for its head)")
    if values["layers"] % values["stacks"] != 0:
        raise PresetError(f"{where}: layers={values['layers']} must be a multiple of stacks={values['stacks']}")
    if values["gate_channels"] % 2 != 0:
        raise PresetError(f"{where}: gate_channels={values['gate_channels']} must be even (it is split into tanh and sigmoid halves)")
    if values["cin_channels"] > 0 and values["upsample_conditional_features"]:
        scales = values["upsample_params"].get("upsample_scales")
        if not isinstance(scales, list) or not scales or not all(isinstance(s, int) and s > 0 for s in scales):
            raise PresetError(f"{where}: upsample_params.upsample_scales must be a list of positive integers")
        if math.prod(scales) != values["hop_size"]:
            raise PresetError(f"{where}: the product of upsample_scales {scales} must equal hop_size={values['hop_size']}")
    return values


def _type_name(default):
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if default is None:
        return "a number or null"
    if isinstance(default, str):
        return "a string"
    if isinstance(default, list):
        return "a list"
    return "an object"
