"""Checkpoints: the published layout of one folder per noise level, or one noise-conditional file.

A per-level prior (the published layout): ``<root>/checkpoints175pt9/checkpoint_latest_ema.pth``
holds the model for sigma 175.9 (quantised units).  A noise-conditional prior (preset key
``noise_conditional``) is one model for every level: ``<root>/checkpoint_latest_ema.pth``.
Each file is ``torch.save`` of a dict with ``state_dict``, ``optimizer``, ``global_step``,
``global_epoch`` and ``global_test_step``.
"""
import io
import json
import os
import re
import shutil
from collections import namedtuple

import numpy as np
import torch

from .audio import write_atomically
from .errors import CheckpointError, MissingCheckpointError
from .hparams import model_mismatches, preset_mismatches
from .wavenet import WaveNet

#: The file the samplers read in a level folder (EMA weights), then the fallback.
CHECKPOINT_FILES = ("checkpoint_latest_ema.pth", "checkpoint_latest.pth")

HOW_TO_GET = ("download the published ones with `python egs/download_checkpoints.py --preset <name>` "
              "or train your own (see README.md)")

Level = namedtuple("Level", ["sigma", "path"])
Level.__doc__ = "A noise level present under a root folder: sigma (quantised units) and its checkpoint file."

_DIR_PATTERN = re.compile(r"^checkpoints(\d+)pt(\d+)$")


def checkpoint_dir_name(sigma):
    """Folder name of a noise level: 175.9 -> ``checkpoints175pt9``, 1 -> ``checkpoints1pt0``."""
    sigma = float(sigma)
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a positive number, got {sigma}")
    return "checkpoints" + np.format_float_positional(sigma, trim="0").replace(".", "pt")


def sigma_from_dir_name(name):
    """Inverse of :func:`checkpoint_dir_name`; None for a name that is not a level folder."""
    match = _DIR_PATTERN.match(name)
    return float(f"{match.group(1)}.{match.group(2)}") if match else None


def level_checkpoint(root, sigma):
    """Path of the checkpoint file for ``sigma`` under ``root``, or None if there is none."""
    folder = os.path.join(os.fspath(root), checkpoint_dir_name(sigma))
    for name in CHECKPOINT_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def list_levels(root):
    """The levels with a checkpoint under ``root``, as :class:`Level` tuples, highest sigma first."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        return []
    levels = []
    for name in os.listdir(root):
        sigma = sigma_from_dir_name(name)
        if sigma is not None:
            path = level_checkpoint(root, sigma)
            if path is not None:
                levels.append(Level(sigma, path))
    return sorted(levels, key=lambda level: -level.sigma)


def missing_levels(root, sigmas):
    """The sigmas of ``sigmas`` that have no checkpoint under ``root``, in schedule order."""
    return [s for s in sigmas if level_checkpoint(root, s) is None]


def require_levels(root, sigmas):
    """Return the checkpoint path of every level of ``sigmas``, or raise naming all missing folders."""
    missing = missing_levels(root, sigmas)
    if missing:
        folders = ", ".join(checkpoint_dir_name(s) for s in missing)
        raise MissingCheckpointError(
            f"{len(missing)} of {len(sigmas)} noise levels have no checkpoint under {os.fspath(root)} "
            f"(looked for {'/'.join(CHECKPOINT_FILES)} in {folders}): {HOW_TO_GET}")
    return [level_checkpoint(root, s) for s in sigmas]


def noise_conditional_checkpoint(root):
    """Path of the noise-conditional model in ``root`` (EMA weights first), or None."""
    for name in CHECKPOINT_FILES:
        path = os.path.join(os.fspath(root), name)
        if os.path.isfile(path):
            return path
    return None


def require_checkpoints(root, hparams, sigmas):
    """The checkpoint file that serves each level of ``sigmas`` under ``root``, in schedule order.

    Per-level priors: each level's folder (see :func:`require_levels`).  A noise-conditional
    preset: the one file in ``root``, for every level.  Raises
    :class:`MissingCheckpointError` naming what is missing and how to get it.
    """
    root = os.fspath(root)
    if hparams.noise_conditional:
        path = noise_conditional_checkpoint(root)
        if path is None:
            hint = (" (it holds per-level folders: use a preset without noise_conditional)"
                    if list_levels(root) else "")
            raise MissingCheckpointError(
                f"the preset is noise-conditional but {root} holds no {' or '.join(CHECKPOINT_FILES)}{hint}: "
                "train one with `pnf-train <dump-dir> <root> --preset=<json> --noise-conditional`")
        return [path] * len(sigmas)
    single = noise_conditional_checkpoint(root)
    if single is not None and missing_levels(root, sigmas) and not list_levels(root):
        raise MissingCheckpointError(
            f"{root} holds a noise-conditional prior (one {os.path.basename(single)}, "
            "no level folders) but the preset is per-level: pass the preset saved beside it "
            f"(--preset={os.path.join(root, 'config.json')}) or add --hparams noise_conditional=true")
    return require_levels(root, sigmas)


#: Records beside a trained model that carry on with it: the training curve and, for a mel-conditioned
#: prior, the features' statistics.
CARRIED_RECORDS = ("training.json", "meanvar.npy")


def model_folders(root):
    """The folders under ``root`` that hold a trained model: ``root`` itself for a noise-conditional
    prior, each level folder for a per-level one (both, if it has both)."""
    root = os.fspath(root)
    folders = [root] if noise_conditional_checkpoint(root) else []
    return folders + [os.path.dirname(level.path) for level in list_levels(root)]


def continue_training_from(source, root, hparams):
    """Lay out ``root`` so that training resumes where the trained prior ``source`` left off.

    For each model folder of ``source`` (see :func:`model_folders`) the same folder under ``root``
    gets ``checkpoint_latest.pth``: the source's own when it has one (weights, Adam state, step
    count: training goes on exactly), else its EMA weights (``checkpoint_latest_ema.pth``, all a
    bundled prior ships: weights and EMA start from them and Adam starts afresh); and the EMA file
    itself.  ``training.json`` and ``meanvar.npy`` come along, so the step count, training time and
    dev-loss curve carry on.  Every file is checked against the preset ``hparams`` first (its
    kind: one noise-conditional model in the folder itself, else level folders; its shapes; finite
    weights), so a mismatch writes nothing.  Returns the model folders written (paths under ``root``).
    """
    noise_conditional = bool(hparams.noise_conditional)
    source, root = os.fspath(source), os.fspath(root)
    folders = model_folders(source)
    if not folders:
        raise CheckpointError(f"--continue-from={source} holds no trained model ({' or '.join(CHECKPOINT_FILES)}, "
                              "in the folder itself or in checkpoints<sigma>/ folders): give a prior's folder, "
                              "e.g. egs/pnf_real/mulaw_piano")
    if noise_conditional != (folders[0] == source):
        kinds = ("per-level (checkpoints<sigma>/ folders)", "noise-conditional (one model)")
        raise CheckpointError(f"--continue-from={source} holds a {kinds[folders[0] == source]} prior but the preset "
                              f"is {kinds[noise_conditional].split(' (')[0]}: pass the preset it was trained with "
                              f"({os.path.join(source, 'config.json')} or the <name>.json beside it)")
    folders = [source] if noise_conditional else [f for f in folders if f != source]
    pairs = []                      # (weights and Adam state, EMA weights) of each folder
    for folder in folders:
        latest, ema = (os.path.join(folder, name) for name in ("checkpoint_latest.pth", "checkpoint_latest_ema.pth"))
        pairs.append((latest if os.path.isfile(latest) else ema, ema if os.path.isfile(ema) else latest))
    check_checkpoints([path for pair in pairs for path in pair], hparams)
    written = []
    for folder, (weights, ema) in zip(folders, pairs):
        target = os.path.normpath(os.path.join(root, os.path.relpath(folder, source)))
        _copy(weights, os.path.join(target, "checkpoint_latest.pth"))
        _copy(ema, os.path.join(target, "checkpoint_latest_ema.pth"))
        written.append(target)
    for name in CARRIED_RECORDS:
        if os.path.isfile(os.path.join(source, name)):
            _copy(os.path.join(source, name), os.path.join(root, name))
    return written


def _copy(source, target):
    with open(source, "rb") as f:
        write_atomically(target, lambda out: shutil.copyfileobj(f, out))


def read_checkpoint(path):
    """(state dict, saved preset, path) of a checkpoint file, or of the file a level folder serves.

    The state dict is the file's ``state_dict`` (or the file itself, a bare state dict), with a
    DataParallel ``module.`` prefix taken off; the saved preset is the dict that pnf-train stores
    under ``hparams``, None for a published or foreign file (they carry none).  Raises
    :class:`CheckpointError` naming the file when it cannot be read or holds no state dict.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        found = [os.path.join(path, n) for n in CHECKPOINT_FILES if os.path.isfile(os.path.join(path, n))]
        if not found:
            raise MissingCheckpointError(f"no {' or '.join(CHECKPOINT_FILES)} in folder {path}: {HOW_TO_GET}")
        path = found[0]
    if not os.path.isfile(path):
        raise MissingCheckpointError(f"checkpoint file {path} does not exist: {HOW_TO_GET}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    saved = saved_preset(obj)
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise CheckpointError(f"checkpoint {path} holds no state dict (expected a dict with 'state_dict')")
    # Weights saved from a DataParallel wrapper carry a "module." prefix.
    state_dict = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}
    return state_dict, saved, path


def saved_preset(checkpoint):
    """The preset (a dict) that pnf-train stored in a loaded checkpoint object under ``hparams``;
    None for a published or foreign one, which carries none."""
    try:
        saved = json.loads(checkpoint["hparams"])
    except (TypeError, KeyError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def read_state_dict(path):
    """(state dict, path) of a checkpoint file or level folder: :func:`read_checkpoint` without the preset."""
    state_dict, _, path = read_checkpoint(path)
    return state_dict, path


def trained_sigma_range(path):
    """(smallest, largest) sigma a noise-conditional checkpoint was trained over, from the preset
    saved in it by pnf-train; None when the file does not say."""
    try:
        _, saved, _ = read_checkpoint(path)
        sigmas = [float(s) for s in saved["sigmas"]]
        return min(sigmas), max(sigmas)
    except (CheckpointError, KeyError, TypeError, ValueError):  # a published or foreign file: no record,
        return None                                             # which is not an error here


def fit_state_dict(state_dict, expected, what, optional=()):
    """``state_dict`` checked against a model's ``expected`` state dict and cast to its dtypes.

    Keys in ``optional`` may be missing (they keep the model's values).  Raises
    :class:`CheckpointError` starting with ``what`` (e.g. "checkpoint <path>") that names
    the first missing, unexpected or wrongly shaped key.
    """
    missing = [k for k in expected if k not in state_dict and k not in optional]
    unexpected = [k for k in state_dict if k not in expected]
    wrong_shape = [f"{k} {list(state_dict[k].shape)} (expected {list(v.shape)})"
                   for k, v in expected.items() if k in state_dict and state_dict[k].shape != v.shape]
    if missing or unexpected or wrong_shape:
        details = "; ".join(part for part in (
            f"missing {len(missing)} keys, e.g. {missing[0]}" if missing else "",
            f"{len(unexpected)} unexpected keys, e.g. {unexpected[0]}" if unexpected else "",
            f"wrong shapes: {wrong_shape[0]}" if wrong_shape else "") if part)
        raise CheckpointError(f"{what} does not fit the preset ({details}): "
                              "check that --preset matches the checkpoint")
    return {k: v.to(expected[k].dtype) for k, v in state_dict.items()}


def check_checkpoints(paths, hparams):
    """Read every checkpoint of ``paths`` and check it against the preset's model, before any compute.

    Raises :class:`CheckpointError` naming the first file that cannot be read (truncated,
    not a checkpoint, not loadable with ``weights_only``), was trained with another preset (see
    :func:`~wavenet_vocoder.hparams.preset_mismatches`: pnf-train's files say), does not fit ``hparams``, or holds
    NaN or infinite weights; returns None when all are usable. Each file is read once, however
    many levels it serves (a noise-conditional prior's one file serves all of them).
    """
    expected = WaveNet.from_hparams(hparams).state_dict()
    for path in dict.fromkeys(paths):
        fitted, path = _read_fitted(path, hparams, expected)
        bad = next((k for k, v in fitted.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)
        if bad is not None:
            raise CheckpointError(f"checkpoint {path} holds NaN or infinite weights ({bad}): retrain or download it again")


def load_model(path, hparams, device="cpu"):
    """Build the model of ``hparams`` and load the checkpoint at ``path`` (a file or a level folder).

    Returns the model on ``device`` in eval mode.  Raises :class:`CheckpointError`
    naming the file when it cannot be read, was trained with another preset or does not fit it.
    """
    model = WaveNet.from_hparams(hparams)
    model.load_state_dict(_read_fitted(path, hparams, model.state_dict())[0])
    return model.to(device).eval()


def _read_fitted(path, hparams, expected):
    """(state dict fitted to ``expected``, path) of the checkpoint at ``path``, after checking that
    it was not trained with another preset than ``hparams``
    (see :func:`~wavenet_vocoder.hparams.preset_mismatches`)."""
    state_dict, saved, path = read_checkpoint(path)
    mismatches = preset_mismatches(saved, hparams)
    if mismatches:
        raise CheckpointError(f"checkpoint {path} was trained with {', '.join(mismatches)}: "
                              "pass the preset it was trained with (--preset), and no --hparams that change these")
    try:
        return fit_state_dict(state_dict, expected, f"checkpoint {path}"), path
    except CheckpointError as e:
        differing = model_mismatches(saved, hparams)
        if not differing:
            raise
        raise CheckpointError(f"{e}; it was trained with {', '.join(differing)}") from None


def _on_cpu(value):
    """``value`` (nested dicts, lists and tensors) with every tensor moved to the CPU, so that a
    checkpoint written on a GPU loads with a plain ``torch.load`` on a machine without one."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _on_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(v) for v in value)
    return value


def unwrapped(model):
    """The WaveNet inside ``model``'s wrappers (DataParallel, DistributedDataParallel, torch.compile):
    the module whose state_dict has the published keys."""
    while True:
        inner = getattr(model, "_orig_mod", None) or getattr(model, "module", None)
        if not isinstance(inner, torch.nn.Module):
            return model
        model = inner


def save_checkpoint(path, model, optimizer=None, global_step=0, global_epoch=0, global_test_step=0,
                    hparams=None, train_seconds=None, train_cpu=None):
    """Write ``model`` in the published format, atomically.

    ``hparams``, when given, is stored as JSON under the extra key ``hparams`` so the
    file says what it is, ``train_seconds`` (wall seconds of training so far) under
    ``train_seconds``, and ``train_cpu`` = (CPU seconds, the step they were first counted
    from) under ``train_cpu_seconds`` and ``train_cpu_from_step``; loaders of the published
    format ignore them.
    """
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in unwrapped(model).state_dict().items()},
        "optimizer": _on_cpu(optimizer.state_dict()) if optimizer is not None else None,
        "global_step": int(global_step),
        "global_epoch": int(global_epoch),
        "global_test_step": int(global_test_step),
    }
    if hparams is not None:
        payload["hparams"] = json.dumps(hparams.to_dict())
    if train_seconds is not None:
        payload["train_seconds"] = float(train_seconds)
    if train_cpu is not None:
        payload["train_cpu_seconds"], payload["train_cpu_from_step"] = float(train_cpu[0]), int(train_cpu[1])
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_atomically(path, lambda f: f.write(buffer.getvalue()))
