"""Shared fixtures and helpers: tiny models built in code, published-format checkpoints with random
values, prior folders, test tones and dumps, and running a command as the shell would."""
import json
import math
import os

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from wavenet_vocoder.checkpoints import checkpoint_dir_name, save_checkpoint
from wavenet_vocoder.cli import run
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.preprocess import preprocess
from wavenet_vocoder.quantize import quantize
from wavenet_vocoder.train import TrainingRun
from wavenet_vocoder.wavenet import WaveNet

def pytest_configure(config):
    # torch's own compiler modules (torch.compile's, loaded by the tests that compile) use a
    # deprecated torch.jit decorator when they load
    config.addinivalue_line("filterwarnings", "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")


@pytest.fixture
def compile_calls(monkeypatch):
    """torch.compile replaced by a stand-in that records each module it is given and returns it
    unchanged: the list of those modules (tests/test_training.py compiles for real)."""
    calls = []

    def record(module):
        calls.append(module)
        return module

    monkeypatch.setattr(torch, "compile", record)
    return calls


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, "tests", "data")
PRESETS = ("mulaw_maxaudio", "mulaw_maxaudio_spectrogram", "linear_quantize_max_audio")


def preset_path(name):
    return os.path.join(REPO, "egs", name, "config.json")


def tiny_hparams(conditional=False, input_type="mulaw-quantize", sigmas="[4.0,1.0]"):
    """A 4-layer, 2-stack model (receptive field 1 + 2 * (1 + 2) * 2 = 13 samples); conditional: on 5 mel
    bands of frames every 4 samples, from an STFT of 64 samples (short enough for the tests' short audio)."""
    overrides = ("layers=4,stacks=2,residual_channels=8,gate_channels=16,skip_out_channels=8,"
                 f"input_type={input_type},sigmas={sigmas}")
    if conditional:
        overrides += (",cin_channels=5,num_mels=5,hop_size=4,fft_size=64,win_length=64,upsample_conditional_features=true,"
                      "upsample_params={\"upsample_scales\":[2,2]}")
    return load_preset(preset_path("mulaw_maxaudio"), overrides)


def published_keys(name):
    """(name, shape) of every state-dict entry of a published preset, in file order."""
    keys = []
    with open(os.path.join(DATA, f"{name}_state_dict_keys.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                key, shape = line.split(" ", 1)
                keys.append((key, [int(s) for s in shape.strip()[1:-1].split(",")]))
    return keys


def random_published_state_dict(name, seed=0, dtype=torch.float32):
    """Random values for the published key list; weight_g positive, scaled so activations stay O(1)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in published_keys(name):
        value = torch.randn(shape, generator=gen, dtype=dtype)
        if key.endswith("weight_g"):
            value = value.abs() * 0.5 + 0.5
        elif key.endswith("bias"):
            value = value * 0.1
        elif key == "upsample_net.conv_in.weight":
            value = value / math.sqrt(shape[1] * shape[2])
        state[key] = value
    return state


def save_published(path, state_dict):
    """torch.save in the layout the published training code writes."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save({"state_dict": state_dict, "optimizer": None, "global_step": 1000,
                "global_epoch": 3, "global_test_step": 0}, path)


def reference_smoothed_log_prob(state, hp, x, sigma, c=None):
    """An independent, purely functional reading of ALGORITHM.md, from a state dict.

    x: (B, 1, T) float64 in quantised units; c: (B, cin, N) frames.  Returns (B, T-1).
    """
    def wn(prefix):
        v, g = state[prefix + ".weight_v"].double(), state[prefix + ".weight_g"].double()
        norm = torch.sqrt((v ** 2).sum(dim=tuple(range(1, v.dim())), keepdim=True))
        return g * v / norm

    def bias(prefix):
        b = state.get(prefix + ".bias")
        return None if b is None else b.double()

    inp = x[:, :, :-1].double()
    length = inp.size(-1)
    cond = None
    if c is not None:
        cond = F.conv1d(c.double(), state["upsample_net.conv_in.weight"].double())
        cond = cond.unsqueeze(1)
        for i, scale in enumerate(hp.upsample_params["upsample_scales"]):
            cond = torch.repeat_interleave(cond, scale, dim=3)
            cond = F.conv2d(cond, wn(f"upsample_net.upsample.up_layers.{2 * i + 1}"), padding=(0, scale))
        cond = cond.squeeze(1)
        assert cond.size(-1) == length
    h = F.conv1d(inp, wn("first_conv"), bias("first_conv"))
    skips = torch.zeros(x.size(0), hp.skip_out_channels, length, dtype=torch.float64)
    per_stack = hp.layers // hp.stacks
    for i in range(hp.layers):
        d = 2 ** (i % per_stack)
        p = f"conv_layers.{i}"
        z = F.conv1d(F.pad(h, ((hp.kernel_size - 1) * d, 0)), wn(p + ".conv"), bias(p + ".conv"), dilation=d)
        if cond is not None:
            z = z + F.conv1d(cond, wn(p + ".conv1x1c"))
        half = z.size(1) // 2
        gated = torch.tanh(z[:, :half]) * torch.sigmoid(z[:, half:])
        skips = skips + F.conv1d(gated, wn(p + ".conv1x1_skip"), bias(p + ".conv1x1_skip"))
        h = (h + F.conv1d(gated, wn(p + ".conv1x1_out"), bias(p + ".conv1x1_out"))) * math.sqrt(0.5)
    s = skips * math.sqrt(1.0 / hp.layers)
    s = F.conv1d(torch.relu(s), wn("last_conv_layers.1"), bias("last_conv_layers.1"))
    logits = F.conv1d(torch.relu(s), wn("last_conv_layers.3"), bias("last_conv_layers.3"))
    probs = torch.softmax(logits, dim=1).numpy()                       # (B, 256, T-1)
    target = x[:, 0, 1:].double().numpy()                               # (B, T-1)
    k = np.arange(probs.shape[1])[None, :, None]
    dens = np.exp(-0.5 * ((target[:, None, :] - k) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    return torch.from_numpy(np.log((probs * dens).sum(axis=1)))


@pytest.fixture
def tiny():
    return tiny_hparams()


@pytest.fixture
def tiny_conditional():
    return tiny_hparams(conditional=True)


SR = 22050


def write_corpus(folder, n=4, seconds=0.5):
    """``n`` decaying tones of ``seconds`` with 2000 samples of silence around each, as wav files."""
    folder.mkdir(parents=True)
    t = np.arange(int(SR * seconds)) / SR
    for i in range(n):
        tone = 0.6 * np.sin(2 * np.pi * (220 + 55 * i) * t) * np.exp(-2 * t)
        sf.write(folder / f"take{i}.wav", np.concatenate([np.zeros(2000), tone, np.zeros(2000)]), SR)
    return folder


def training_hparams(conditional=False, input_type="mulaw-quantize"):
    """The tiny model with a 256-sample crop, batch 4 and a fast optimiser: training tests take seconds."""
    base = tiny_hparams(conditional=conditional, input_type=input_type, sigmas="[8.0,2.0]")
    return base.replace(max_time_steps=256, batch_size=4, checkpoint_interval=1000, ema_decay=0.9,
                        optimizer_params={"lr": 3e-3, "eps": 1e-8, "weight_decay": 0.0})


def run_settings(**changes):
    """Training settings of these tests: CPU, seed 0, no progress bar (steps set per level by the schedule)."""
    return TrainingRun(**{"steps": 1, "device": "cpu", "seed": 0, "progress": False, **changes})


@pytest.fixture
def dump(tmp_path):
    """A preprocessed corpus of five tones (4 train, 1 dev): ``<dump>/dump/{train,dev}``."""
    corpus = write_corpus(tmp_path / "audio", n=5, seconds=0.6)
    preprocess(str(corpus), str(tmp_path / "data"), training_hparams(), "x", 0.2, 0, log=lambda line: None)
    return tmp_path / "data"


#: Sampler flags that make a task command take a fraction of a second on a tiny model.
FAST = ["--n-steps", "2", "--sgld-window", "1000", "--no-progress"]


def make_root(folder, hp):
    """A per-level prior of random tiny models in ``folder`` and its preset: (root, preset path)."""
    for i, sigma in enumerate(hp.sigmas):
        torch.manual_seed(i)
        save_checkpoint(folder / checkpoint_dir_name(sigma) / "checkpoint_latest_ema.pth", WaveNet.from_hparams(hp))
    preset = folder / "config.json"
    preset.write_text(json.dumps(hp.to_dict()))
    return str(folder), str(preset)


def tone(path, freq=440.0, seconds=0.2, amplitude=0.5):
    """Write a tone with its third harmonic (22.05 kHz, ``seconds`` long) to ``path``; returns the path."""
    t = np.arange(int(SR * seconds)) / SR
    sf.write(path, amplitude * np.sin(2 * np.pi * freq * t) + 0.05 * np.sin(2 * np.pi * 3 * freq * t), SR)
    return str(path)


def read(path):
    """The samples of a wav file (float64)."""
    return sf.read(path)[0]


def make_dump(folder, frames, num_mels=5, hop=4):
    """A mel dump folder of one utterance: random normalised frames and a mu-law sine as its wave."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(folder / "utt-00001-feats.npy", rng.standard_normal((frames, num_mels)).astype(np.float32))
    wave = quantize(0.3 * np.sin(np.arange(frames * hop) / 3), "mulaw-quantize").astype(np.int16)
    np.save(folder / "utt-00001-wave.npy", wave)
    return str(folder)


def run_cli(main, argv, capsys):
    """Run ``main`` as the console entry point does; returns (exit code, stderr lines)."""
    with pytest.raises(SystemExit) as exit_info:
        run(main, argv)
    err = capsys.readouterr().err.strip().splitlines()
    return exit_info.value.code, err
