"""Noise-conditional priors: one model for every level, in the module, the folded form, the engine and training."""
import json
import math

import numpy as np
import pytest
import torch

from conftest import reference_smoothed_log_prob, run_settings, tiny_hparams, training_hparams
from wavenet_vocoder import checkpoints, train as training
from wavenet_vocoder.checkpoints import checkpoint_dir_name, load_model, require_checkpoints, save_checkpoint
from wavenet_vocoder.errors import CheckpointError, MissingCheckpointError, PnfError, PresetError
from wavenet_vocoder.fast_log_prob import FastLogProb
from wavenet_vocoder.folded import FoldedWaveNet
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.incremental import IncrementalWaveNet
from wavenet_vocoder.pnf.tasks.superres import SuperResolution
from wavenet_vocoder.pnf.langevin import SamplerConfig, anneal
from wavenet_vocoder.pnf.priors import Prior
from wavenet_vocoder.pnf.noise_schedule import AnnealingSchedule
from wavenet_vocoder.wavenet import WaveNet

SIGMAS = (40.0, 8.0, 2.0, 0.5)


def noise_model(conditional=False, seed=0, dtype=torch.float64, head=False):
    """A tiny noise-conditional WaveNet whose noise projections are non-zero (they start at zero);
    ``head``: its head reads sigma too (preset key ``noise_head``)."""
    hp = tiny_hparams(conditional=conditional).replace(noise_conditional=True, noise_embedding_channels=6,
                                                       noise_head=head)
    torch.manual_seed(seed)
    model = WaveNet.from_hparams(hp).to(dtype).eval()
    with torch.no_grad():
        for layer in model.conv_layers:
            layer.conv1x1n.weight.normal_(0, 0.5)
        if head:
            model.noise_head.weight.normal_(0, 0.5)
    return hp, model


def as_per_level_state(model, sigma):
    """The state dict of a plain (published-format) WaveNet computing ``model`` at level ``sigma``:
    the noise projections are constant biases at one level, so they fold into each block's conv
    bias and (a head that reads sigma) the bias of the head's first 1x1 convolution."""
    state = {k: v.clone() for k, v in model.state_dict().items()
             if not k.startswith(("noise_embedding.", "noise_head.")) and ".conv1x1n." not in k}
    with torch.no_grad():
        for i, bias in enumerate(model.noise_biases(sigma)):
            state[f"conv_layers.{i}.conv.bias"] += bias[0]
        if model.noise_head is not None:
            state["last_conv_layers.1.bias"] += model.head_noise_bias(sigma)[0]
    return state


def test_published_presets_gain_no_parameters():
    hp = tiny_hparams()
    keys = WaveNet.from_hparams(hp).state_dict().keys()
    assert not [k for k in keys if "noise" in k or "conv1x1n" in k]
    nc_keys = WaveNet.from_hparams(hp.replace(noise_conditional=True)).state_dict().keys()
    assert [k for k in nc_keys if k in keys] == list(keys)      # published names unchanged, in order
    assert {k for k in nc_keys if k not in keys} >= {"noise_embedding.mlp.0.weight", "conv_layers.0.conv1x1n.weight"}
    assert not [k for k in nc_keys if k.startswith("noise_head.")]      # only with the preset key noise_head
    head_keys = WaveNet.from_hparams(hp.replace(noise_conditional=True, noise_head=True)).state_dict().keys()
    assert [k for k in head_keys if k not in nc_keys] == ["noise_head.weight"]


def test_a_head_that_reads_sigma_needs_a_noise_conditional_preset():
    with pytest.raises(PresetError, match="noise_head=true needs noise_conditional=true"):
        tiny_hparams().replace(noise_head=True)


def test_the_level_is_an_input_and_each_crop_has_its_own():
    hp, model = noise_model()
    x = torch.rand(3, 1, 40, dtype=torch.float64) * 255
    sigmas = torch.tensor([40.0, 2.0, 0.5], dtype=torch.float64)
    together = model(x, sigma=sigmas)
    for b in range(3):
        torch.testing.assert_close(together[b:b + 1], model(x[b:b + 1], sigma=float(sigmas[b])))
    assert (model(x, sigma=40.0) - model(x, sigma=0.5)).abs().max() > 1e-3
    with pytest.raises(ValueError, match="pass sigma"):
        model(x)


@pytest.mark.parametrize("head", [False, True])
def test_zero_projections_compute_the_unconditional_model(tmp_path, head):
    """A noise-conditional model initialised from a per-level checkpoint starts as that model, at any sigma."""
    hp = tiny_hparams()
    torch.manual_seed(0)
    plain = WaveNet.from_hparams(hp).double().eval()
    nc = WaveNet.from_hparams(hp.replace(noise_conditional=True, noise_head=head)).double().eval()
    save_checkpoint(tmp_path / "plain.pth", plain)
    state = training.initial_state(nc, str(tmp_path / "plain.pth"))
    nc.load_state_dict(state)
    x = torch.rand(2, 1, 30, dtype=torch.float64) * 255
    for sigma in SIGMAS:
        torch.testing.assert_close(nc(x, sigma=sigma), plain(x), rtol=0, atol=0)


@pytest.mark.parametrize("conditional,head", [(False, False), (True, False), (False, True), (True, True)])
def test_smoothed_log_prob_at_each_level_equals_the_folded_per_level_model(conditional, head):
    """The module at level sigma is the published-format model with the level's biases folded in,
    checked against the independent functional reading of ALGORITHM.md."""
    hp, model = noise_model(conditional, head=head)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, 25, generator=gen, dtype=torch.float64) * 255
    c = torch.randn(2, hp.cin_channels, 6 + 2 * hp.cin_pad, generator=gen, dtype=torch.float64) if conditional else None
    for sigma in SIGMAS:
        expected = reference_smoothed_log_prob(as_per_level_state(model, sigma), hp, x, sigma, c)
        got = model.smoothed_log_prob(x, sigma, c)
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)      # float64 both


@pytest.mark.parametrize("conditional,head", [(False, False), (True, False), (True, True)])
def test_one_fast_evaluator_serves_every_level(conditional, head):
    """FastLogProb (float32) against the float64 module: terms and input gradients, level after level."""
    hp, model = noise_model(conditional, head=head)
    fast = FastLogProb(FoldedWaveNet(model.float()), "fp32")
    model = model.double()
    gen = torch.Generator().manual_seed(2)
    spans = torch.rand(2, 1, 60, generator=gen) * 255
    c = torch.randn(2, hp.cin_channels, 59, generator=gen) if conditional else None
    for sigma in SIGMAS + (SIGMAS[0],):                       # back to the first: the biases are rewritten
        x = spans.clone().requires_grad_(True)
        terms = fast(x, sigma, c, first_term=12)
        (grad,) = torch.autograd.grad(terms.sum(), x)
        x64 = spans.double().requires_grad_(True)
        c64 = None if c is None else c.double()
        expected = model.smoothed_log_prob(x64, sigma, c64, c_at_sample_rate=True)[:, 12:]
        (grad64,) = torch.autograd.grad(expected.sum(), x64)
        # float32 against float64: rounding of sums over a few hundred products, values of order 1-10
        torch.testing.assert_close(terms.double(), expected, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(grad.double(), grad64, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("head", [False, True])
def test_incremental_step_at_a_level_equals_the_full_forward(head):
    hp, model = noise_model(head=head)
    x = torch.rand(1, 1, 50, dtype=torch.float64) * 255
    for sigma in (40.0, 0.5):
        net = IncrementalWaveNet(model, sigma)
        net.reset(1)
        steps = torch.stack([net.step(x[:, 0, t]) for t in range(x.size(-1))], dim=-1)
        torch.testing.assert_close(steps, model(x, sigma=sigma), rtol=1e-9, atol=1e-9)  # float64
    with pytest.raises(ValueError, match="noise-conditional"):
        IncrementalWaveNet(model)


def _nc_prior(tmp_path, model, hp):
    root = tmp_path / "nc"
    save_checkpoint(root / "checkpoint_latest_ema.pth", model.float())
    return root


@pytest.mark.parametrize("precision,head", [("fp32", False), ("reference", False), ("fp32", True)])
def test_engine_with_one_checkpoint_equals_per_level_checkpoints(tmp_path, monkeypatch, precision, head):
    """The same run with the noise-conditional prior and with per-level folders made from it
    (each level's biases folded in): same samples; the one checkpoint is loaded once."""
    hp, model = noise_model(head=head)
    hp = hp.replace(sigmas=list(SIGMAS))
    root = _nc_prior(tmp_path, model, hp)
    per_level_hp = hp.replace(noise_conditional=False, noise_head=False)
    for sigma in SIGMAS:
        plain = WaveNet.from_hparams(per_level_hp)
        plain.load_state_dict({k: v.float() for k, v in as_per_level_state(model.double(), sigma).items()})
        save_checkpoint(tmp_path / "levels" / checkpoint_dir_name(sigma) / "checkpoint_latest_ema.pth", plain)
    loads = []
    import wavenet_vocoder.pnf.priors as priors

    original = priors.load_model
    monkeypatch.setattr(priors, "load_model", lambda *a, **k: loads.append(a[0]) or original(*a, **k))
    observed = torch.rand(600, generator=torch.Generator().manual_seed(3)) * 255
    schedule = AnnealingSchedule(SIGMAS, 0.05)
    settings = SamplerConfig(n_steps=3, window=200, windows_per_step=2, schedule="tiled", progress=False,
                             precision=precision)
    x_nc, _ = anneal(SuperResolution(observed, 4), [Prior(root, hp)], schedule, settings)
    assert len(loads) == 1
    x_levels, _ = anneal(SuperResolution(observed, 4), [Prior(tmp_path / "levels", per_level_hp)], schedule, settings)
    assert len(loads) == 1 + len(SIGMAS)
    # float32 evaluation of two arrangements of the same function: gradient rounding (~1e-5
    # relative) times steps of eta = 0.05 * 40^2 = 80 units^2 at the first level
    torch.testing.assert_close(x_nc, x_levels, rtol=2e-4, atol=1e-3)


def test_any_schedule_runs_with_one_checkpoint(tmp_path):
    hp, model = noise_model()
    root = _nc_prior(tmp_path, model, hp)
    sigmas = tuple(float(s) for s in np.geomspace(175.9, 0.1, 100))
    assert require_checkpoints(root, hp.replace(sigmas=list(sigmas)), sigmas) == [str(root / "checkpoint_latest_ema.pth")] * 100
    observed = torch.rand(300, generator=torch.Generator().manual_seed(4)) * 255
    x, reports = anneal(SuperResolution(observed, 2), [Prior(root, hp)], AnnealingSchedule(sigmas, 0.05),
                        SamplerConfig(n_steps=1, window=300, windows_per_step=1, schedule="tiled", progress=False))
    assert [r.sigma for r in reports] == list(sigmas) and bool(torch.isfinite(x).all())


def test_missing_or_mismatched_checkpoints_are_named(tmp_path):
    hp, model = noise_model()
    with pytest.raises(MissingCheckpointError, match="noise-conditional.*pnf-train"):
        require_checkpoints(tmp_path / "empty", hp, SIGMAS)
    root = _nc_prior(tmp_path, model, hp)
    with pytest.raises(MissingCheckpointError, match="holds a noise-conditional prior.*noise_conditional=true"):
        require_checkpoints(root, hp.replace(noise_conditional=False), SIGMAS)
    with pytest.raises(CheckpointError, match="does not fit the preset"):
        load_model(root / "checkpoint_latest_ema.pth", hp.replace(noise_conditional=False))


def test_sigma_sampling():
    gen = torch.Generator().manual_seed(0)
    draws = training.sigma_sampler(SIGMAS, "levels")(4000, gen)
    assert set(draws.tolist()) == set(SIGMAS)
    logs = torch.log(training.sigma_sampler(SIGMAS, "loguniform")(4000, gen))
    assert math.log(0.5) <= float(logs.min()) and float(logs.max()) <= math.log(40.0)
    # uniform in log sigma: mean at the middle of the range (standard error 0.03 for 4000 draws)
    assert abs(float(logs.mean()) - 0.5 * (math.log(0.5) + math.log(40.0))) < 0.12
    with pytest.raises(PnfError, match="--sigma-sampling"):
        training.sigma_sampler(SIGMAS, "uniform")
    # --top-fraction: that share of the crops exactly at the top level, the rest log-uniform as before
    draws = training.sigma_sampler(SIGMAS, "loguniform", 0.3)(8000, gen)
    top = draws == max(SIGMAS)
    assert abs(float(top.float().mean()) - 0.3) < 0.03        # standard error 0.005
    rest = torch.log(draws[~top])
    assert math.log(0.5) <= float(rest.min()) and float(rest.max()) < math.log(40.0)
    assert abs(float(rest.mean()) - 0.5 * (math.log(0.5) + math.log(40.0))) < 0.12
    for bad in (-0.1, 1.0):
        with pytest.raises(PnfError, match="--top-fraction"):
            training.sigma_sampler(SIGMAS, "loguniform", bad)


def test_noise_conditional_training(tmp_path, dump):
    hp = training_hparams().replace(sigmas=[8.0, 2.0, 0.5])
    root = tmp_path / "nc"
    record = training.train_noise_conditional(hp, str(dump / "dump"), str(root),
                                              run_settings(steps=120, eval_interval=60), log=lambda line: None)
    assert [level["sigma"] for level in record["levels"]] == [8.0, 2.0, 0.5]
    # From scratch the loss is about log(256) = 5.55 nats/sample or more; the tones are learnt at every level.
    assert all(level["dev_loss"] < 5.3 for level in record["levels"])
    assert [point["step"] for point in record["curve"]] == [60, 120]
    saved = json.loads((root / "training.json").read_text())
    assert saved["steps"] == 120 and saved["seconds"] > 0 and len(saved["curve"][0]["dev_loss"]) == 3
    config = json.loads((root / "config.json").read_text())
    assert config["noise_conditional"] is True
    model = load_model(root, hp.replace(noise_conditional=True))
    assert model.is_noise_conditional
    # Resumes: 30 more steps start from step 120.
    more = training.train_noise_conditional(hp, str(dump / "dump"), str(root), run_settings(steps=150, eval_interval=30),
                                            log=lambda line: None)
    assert more["steps"] == 150 and [p["step"] for p in more["curve"]] == [60, 120, 150]


def test_noise_conditional_training_from_a_per_level_checkpoint(tmp_path, dump):
    hp = training_hparams()
    training.train_schedule(hp, str(dump / "dump"), str(tmp_path / "levels"), [8.0], 3, 3, run_settings(),
                            log=lambda line: None)
    level = tmp_path / "levels" / "checkpoints8pt0"
    nc_hp = hp.replace(noise_conditional=True)
    trainer = training.Trainer(nc_hp, str(tmp_path / "nc"), "cpu",
                               init_state=training.initial_state(training.seeded_model(nc_hp, 0), str(level)))
    plain = load_model(level, hp)
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(trainer.model.state_dict()[key], value, rtol=0, atol=0)
    with pytest.raises(CheckpointError, match="--init"):
        training.initial_state(WaveNet.from_hparams(nc_hp.replace(residual_channels=4)), str(level))


def test_train_command_flags(tmp_path, dump, capsys):
    preset = tmp_path / "p.json"
    preset.write_text(json.dumps(training_hparams().to_dict()))
    base = [str(dump / "dump"), str(tmp_path / "root"), f"--preset={preset}", "--no-progress"]
    with pytest.raises(PnfError, match="--sigma trains one level"):
        training.main(base + ["--noise-conditional", "--sigma=2.0"])
    with pytest.raises(PnfError, match="--precision"):
        training.main(base + ["--precision=fp16"])
    with pytest.raises(PnfError, match="--sigma-sampling"):
        training.main(base + ["--noise-conditional", "--sigma-sampling=uniform"])
    with pytest.raises(PnfError, match="--top-fraction"):
        training.main(base + ["--noise-conditional", "--top-fraction=1.5"])
    assert not (tmp_path / "root").exists()                  # refused before writing anything
    assert training.main(base + ["--noise-conditional", "--steps=4", "--eval-interval=2",
                                 "--sigma-sampling=levels", "--top-fraction=0.25"]) == 0
    record = json.loads((tmp_path / "root" / "training.json").read_text())
    assert (record["sigma_sampling"], record["top_fraction"]) == ("levels", 0.25)
    # --noise-conditional counts before --hparams: a head that reads sigma may be asked for beside it.
    head_root = tmp_path / "head"
    assert training.main([str(dump / "dump"), str(head_root), f"--preset={preset}", "--no-progress",
                          "--noise-conditional", "--hparams=noise_head=true", "--steps=2", "--eval-interval=2"]) == 0
    assert json.loads((head_root / "config.json").read_text())["noise_head"] is True
    # ... and the flag wins over noise_conditional=false there.
    flag_root = tmp_path / "flag"
    assert training.main([str(dump / "dump"), str(flag_root), f"--preset={preset}", "--no-progress",
                          "--noise-conditional", "--hparams=noise_conditional=false", "--steps=2",
                          "--eval-interval=2"]) == 0
    assert json.loads((flag_root / "config.json").read_text())["noise_conditional"] is True
    assert load_model(head_root, load_preset(str(head_root / "config.json"))).noise_head is not None
    # The noise-conditional model in the root cannot be resumed as a per-level model of another shape.
    with pytest.raises(CheckpointError, match="cannot resume"):
        training.Trainer(training_hparams().replace(noise_conditional=True, residual_channels=4),
                         str(tmp_path / "root"), "cpu")
    assert training.resolve_precision("auto", "cpu") == ("bf16" if training.native_bf16("cpu") else "fp32")
    assert training.resolve_precision("auto", "cuda") == "fp32"     # measured slower in bf16 on an H200
    assert training.resolve_precision("fp32", "cpu") == "fp32"


def test_training_continues_a_prior_that_ships_without_its_optimiser_state(tmp_path, dump):
    import shutil

    preset = tmp_path / "p.json"
    preset.write_text(json.dumps(training_hparams().replace(noise_conditional=True).to_dict()))
    common = [f"--preset={preset}", "--no-progress", "--eval-interval=3"]

    def train(root, *flags):
        return training.main([str(dump / "dump"), str(root)] + common + list(flags))
    assert train(tmp_path / "trained", "--steps=6") == 0
    bundled = tmp_path / "bundled"              # what a bundled prior holds: EMA weights and its records
    bundled.mkdir()
    for name in ("checkpoint_latest_ema.pth", "training.json", "config.json"):
        shutil.copy(tmp_path / "trained" / name, bundled / name)
    np.save(bundled / "meanvar.npy", np.zeros((2, 3)))
    ema = torch.load(bundled / "checkpoint_latest_ema.pth", weights_only=True)

    # Laid out, the new root resumes at the bundled step from the EMA weights (model and EMA), with a fresh Adam.
    hp = load_preset(str(preset))
    laid = tmp_path / "laid"
    assert checkpoints.continue_training_from(str(bundled), str(laid), hp) == [str(laid)]
    trainer = training.Trainer(hp, str(laid), "cpu")
    assert trainer.step == 6 and trainer.seconds == ema["train_seconds"] > 0 and not trainer.optimizer.state
    for key, value in ema["state_dict"].items():
        torch.testing.assert_close(trainer.model.state_dict()[key], value, rtol=0, atol=0)
        torch.testing.assert_close(trainer.ema.state_dict()[key], value, rtol=0, atol=0)
    assert (laid / "meanvar.npy").is_file() and (laid / "training.json").read_text() == (
        bundled / "training.json").read_text()

    # The command: the step count and the dev-loss curve carry on, and the bundled folder is left as it was.
    root = tmp_path / "more"
    assert train(root, "--steps=9", f"--continue-from={bundled}") == 0
    record = json.loads((root / "training.json").read_text())
    assert record["steps"] == 9 and [p["step"] for p in record["curve"]] == [3, 6, 9]
    assert {p["dev_set"] for p in record["curve"]} == {record["dev_set"]} == {training.DEV_SET}
    assert sorted(p.name for p in bundled.iterdir()) == ["checkpoint_latest_ema.pth", "config.json", "meanvar.npy",
                                                          "training.json"]
    # Run again, the root's own run resumes (the flag is ignored) ...
    assert train(root, "--steps=12", f"--continue-from={bundled}") == 0
    assert torch.load(root / "checkpoint_latest.pth", weights_only=True)["global_step"] == 12
    # ... and a per-level prior continues level by level, each from its own Adam state where it has one.
    levels = tmp_path / "levels"
    training.train_schedule(training_hparams(), str(dump / "dump"), str(levels), [8.0], 3, 3, run_settings(),
                            log=lambda line: None)
    copied = checkpoints.continue_training_from(str(levels), str(tmp_path / "levels2"), training_hparams())
    assert copied == [str(tmp_path / "levels2" / "checkpoints8pt0")]
    saved = torch.load(tmp_path / "levels2" / "checkpoints8pt0" / "checkpoint_latest.pth", weights_only=True)
    assert saved["global_step"] == 3 and saved["optimizer"] is not None

    with pytest.raises(CheckpointError, match="holds a per-level .* prior but the preset is noise-conditional"):
        train(tmp_path / "x", f"--continue-from={levels}")
    with pytest.raises(CheckpointError, match="holds no trained model"):
        train(tmp_path / "x", f"--continue-from={tmp_path / 'trained' / 'nothing'}")
    with pytest.raises(CheckpointError, match="does not fit"):           # checked before anything is written
        train(tmp_path / "x", f"--continue-from={bundled}", "--hparams=residual_channels=4")
    with pytest.raises(PnfError, match="--continue-from and --init"):
        train(tmp_path / "x", f"--continue-from={bundled}", f"--init={bundled}")
    assert not (tmp_path / "x").exists()


def test_a_task_script_runs_the_published_schedule_on_one_checkpoint(tmp_path, capsys):
    """pnf-superres with a noise-conditional prior trained over 40..0.5 and the published
    24-level schedule given by --hparams: every level runs, and the levels outside the
    trained range are named."""
    from conftest import FAST, tone
    from wavenet_vocoder.hparams import PUBLISHED_SIGMAS
    from wavenet_vocoder.pnf import sgld_superres

    hp, model = noise_model()
    hp = hp.replace(sigmas=list(SIGMAS))
    root = tmp_path / "nc"
    save_checkpoint(root / "checkpoint_latest_ema.pth", model.float(), hparams=hp)
    preset = root / "config.json"
    preset.write_text(json.dumps(hp.to_dict()))
    out = tmp_path / "out"
    sigmas = "[" + ",".join(str(s) for s in PUBLISHED_SIGMAS) + "]"
    assert sgld_superres.main([str(root), tone(tmp_path / "in.wav", seconds=0.05), str(out), f"--preset={preset}",
                               f"--hparams=sigmas={sigmas}", "--downsample_interval", "4"] + FAST) == 0
    report = json.loads((out / "run.json").read_text())
    assert [level["sigma"] for level in report["levels"]] == list(PUBLISHED_SIGMAS)
    err = capsys.readouterr().err
    # 175.9 .. 42.9 lie above 40 (5 levels) and 0.39 .. 0.1 below 0.5 (4 levels)
    assert "9 of 24 levels (175.9, 110, 68.7, 54.3, ...) lie outside the sigma range 0.5..40" in err


def test_a_run_says_when_its_curve_holds_points_measured_on_another_dev_set(tmp_path, dump, capsys):
    preset = tmp_path / "p.json"
    preset.write_text(json.dumps(training_hparams().replace(noise_conditional=True).to_dict()))
    argv = [str(dump / "dump"), str(tmp_path / "root"), f"--preset={preset}", "--no-progress", "--eval-interval=3"]
    assert training.main(argv + ["--steps=3"]) == 0
    assert "another dev set" not in capsys.readouterr().err
    path = tmp_path / "root" / "training.json"
    record = json.loads(path.read_text())
    del record["curve"][0]["dev_set"]                  # as a run before the fixed dev set wrote it
    path.write_text(json.dumps(record))
    assert training.main(argv + ["--steps=6"]) == 0
    assert "the curve's points up to step 3 were measured on another dev set" in capsys.readouterr().err
