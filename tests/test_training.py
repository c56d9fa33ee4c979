"""Preprocessing into the published dump format, and training levels that resume and chain."""
import json
import os

import numpy as np
import pytest
import torch

from conftest import SR, run_settings, training_hparams, write_corpus
from wavenet_vocoder import train as training
from wavenet_vocoder.checkpoints import list_levels, load_model
from wavenet_vocoder.errors import CheckpointError, PnfError
from wavenet_vocoder.preprocess import main as preprocess_main, preprocess
from wavenet_vocoder.wavenet import WaveNet


def test_preprocess_writes_the_published_dump(tmp_path):
    corpus = write_corpus(tmp_path / "audio")
    hp = training_hparams()
    counts = preprocess(str(corpus), str(tmp_path / "out"), hp, "piano", dev_fraction=0.25, seed=0,
                        log=lambda line: None)
    assert counts == {"train": 3, "dev": 1}
    train = sorted(os.listdir(tmp_path / "out" / "dump" / "train"))
    assert train[:2] == ["piano-00001-feats.npy", "piano-00001-wave.npy"] and len(train) == 6
    wave = np.load(tmp_path / "out" / "dump" / "train" / "piano-00001-wave.npy")
    feats = np.load(tmp_path / "out" / "dump" / "train" / "piano-00001-feats.npy")
    assert wave.dtype == np.int16 and feats.dtype == np.float32
    assert feats.shape[1] == hp.num_mels and wave.size == feats.shape[0] * hp.hop_size
    assert wave.size < 0.5 * SR + 4000 - 1000              # most of the silence around each take is trimmed
    assert 0 <= wave.min() and wave.max() <= 255
    meanvar = np.load(tmp_path / "out" / "meanvar.npy")
    assert meanvar.shape == (2, hp.num_mels)
    normed = np.concatenate([np.load(p) for p in sorted((tmp_path / "out" / "dump_norm" / "train").glob("*-feats.npy"))])
    np.testing.assert_allclose(normed.mean(axis=0), 0, atol=1e-4)  # float32 features
    np.testing.assert_allclose(normed.var(axis=0)[meanvar[1] > 1e-6], 1, atol=1e-3)  # float32 features


def test_preprocess_command_and_errors(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "voice", n=2)
    preset = tmp_path / "p.json"
    preset.write_text('{"sample_rate": 22050}')
    assert preprocess_main([str(corpus), str(tmp_path / "out"), f"--preset={preset}"]) == 0
    assert (tmp_path / "out" / "dump" / "dev" / "voice-00001-wave.npy").is_file()
    (tmp_path / "empty").mkdir()
    with pytest.raises(PnfError, match="holds no audio files"):
        preprocess_main([str(tmp_path / "empty"), str(tmp_path / "o"), f"--preset={preset}"])


def test_preprocess_with_given_statistics_sends_every_file_to_dev_or_keeps_the_split(tmp_path):
    """--stats normalises with the given statistics and writes none of its own; every file goes to
    dev/ (held-out input), or with --keep-split to the same train/dev sides as without --stats."""
    from wavenet_vocoder.mel_dumps import normalize

    corpus = write_corpus(tmp_path / "audio", n=5)
    hp = training_hparams()
    quiet = dict(log=lambda line: None)
    preprocess(str(corpus), str(tmp_path / "own"), hp, "v", 0.4, 3, **quiet)
    own = {split: sorted(os.listdir(tmp_path / "own" / "dump" / split)) for split in ("train", "dev")}
    assert own["train"] and own["dev"]
    stats = np.stack([np.linspace(-3, -1, hp.num_mels), np.linspace(0.5, 2, hp.num_mels)]).astype(np.float32)
    assert preprocess(str(corpus), str(tmp_path / "held"), hp, "v", 0.4, 3, stats=stats, **quiet) == {"train": 0, "dev": 5}
    assert preprocess(str(corpus), str(tmp_path / "kept"), hp, "v", 0.4, 3, stats=stats, keep_split=True,
                      **quiet) == {"train": len(own["train"]) // 2, "dev": len(own["dev"]) // 2}
    for out in ("held", "kept"):
        assert not (tmp_path / out / "meanvar.npy").exists()
    for split in ("train", "dev"):
        assert sorted(os.listdir(tmp_path / "kept" / "dump" / split)) == own[split]
        for name in own[split]:
            kept = np.load(tmp_path / "kept" / "dump" / split / name)
            np.testing.assert_array_equal(kept, np.load(tmp_path / "own" / "dump" / split / name))
            if name.endswith("-feats.npy"):
                np.testing.assert_allclose(np.load(tmp_path / "kept" / "dump_norm" / split / name),
                                           normalize(kept, stats), rtol=1e-6)
    preset = tmp_path / "p.json"
    preset.write_text('{"sample_rate": 22050}')
    with pytest.raises(PnfError, match="--keep-split only applies with --stats"):
        preprocess_main([str(corpus), str(tmp_path / "o"), f"--preset={preset}", "--keep-split"])
    assert not (tmp_path / "o").exists()


def test_training_lowers_the_loss_and_writes_the_published_layout(tmp_path, dump):
    hp = training_hparams()
    root = tmp_path / "root"
    summaries = training.train_schedule(hp, str(dump / "dump"), str(root), [8.0, 2.0], steps=40, first_steps=200,
                                        run=run_settings(eval_interval=20), log=lambda line: None)
    assert [s["sigma"] for s in summaries] == [8.0, 2.0]
    # From scratch the loss is about log(256) = 5.55 nats/sample; 200 steps learn the tones' shape.
    assert summaries[0]["dev_loss"] < 5.2
    assert [level.sigma for level in list_levels(root)] == [8.0, 2.0]
    files = set(os.listdir(root / "checkpoints8pt0"))
    assert {"checkpoint_latest.pth", "checkpoint_latest_ema.pth"} <= files
    raw = torch.load(root / "checkpoints8pt0" / "checkpoint_latest.pth", weights_only=True)
    assert raw["global_step"] == 200 and raw["optimizer"] is not None
    model = load_model(root / "checkpoints2pt0", hp)
    assert model.receptive_field == 13
    assert (root / "config.json").is_file() and (root / "training.json").is_file()


@pytest.mark.parametrize("given", ["missing", "audio file"])
def test_training_names_a_dump_folder_that_is_not_one_before_it_writes(tmp_path, given):
    preset = tmp_path / "p.json"
    preset.write_text('{"sample_rate": 22050}')
    path = tmp_path / "nodump" if given == "missing" else write_corpus(tmp_path / "voice", n=1) / "take0.wav"
    with pytest.raises(PnfError, match=f"dump folder {path} does not exist or is not a folder: give the dump/"):
        training.main([str(path), str(tmp_path / "root"), f"--preset={preset}", "--steps=1"])
    assert not (tmp_path / "root").exists()


def test_a_dump_records_its_settings_and_training_under_another_preset_is_refused(tmp_path, dump):
    """A mu-law dump's units read as linear ones would train a model of another signal, silently."""
    record = json.loads((dump / "dump" / "dump.json").read_text())
    assert record["input_type"] == "mulaw-quantize" and record["sample_rate"] == SR
    assert json.loads((dump / "dump_norm" / "dump.json").read_text()) == record
    linear = tmp_path / "linear.json"
    linear.write_text(json.dumps(training_hparams(input_type="linear-quantize").to_dict()))
    with pytest.raises(PnfError, match=f"dump folder {dump / 'dump'} was made with input_type=mulaw-quantize "
                                       r"\(the preset: linear-quantize\): use the preset it was made with"):
        training.main([str(dump / "dump"), str(tmp_path / "root"), f"--preset={linear}", "--steps=1"])
    assert not (tmp_path / "root").exists()
    slower = training_hparams().replace(sample_rate=16000)
    with pytest.raises(PnfError, match=r"sample_rate=22050 \(the preset: 16000\)"):
        training._load_dumps(slower, str(dump / "dump"))
    assert len(training._load_dumps(training_hparams().replace(fmin=60), str(dump / "dump"))[0].waves) == 4
    with pytest.raises(PnfError, match=r"fmin=125 \(the preset: 60\)"):      # the features count where they are read
        training._load_dumps(training_hparams(conditional=True).replace(fmin=60), str(dump / "dump_norm"))
    (dump / "dump" / "dump.json").unlink()                       # a dump made before the record: read as before
    assert len(training._load_dumps(slower, str(dump / "dump"))[0].waves) == 4


def test_a_run_resumed_under_another_preset_is_refused_naming_what_differs(tmp_path, dump):
    preset = tmp_path / "mulaw.json"
    preset.write_text(json.dumps(training_hparams().to_dict()))
    root = tmp_path / "root"
    assert training.main([str(dump / "dump"), str(root), f"--preset={preset}", "--steps=1", "--no-progress"]) == 0
    (dump / "dump" / "dump.json").unlink()                 # the dump's own record would stop it first
    linear = tmp_path / "linear.json"
    linear.write_text(json.dumps(training_hparams(input_type="linear-quantize").to_dict()))
    with pytest.raises(CheckpointError, match=f"{root} holds a run trained with input_type=mulaw-quantize "
                                              r"\(the preset: linear-quantize\): resume it with its own preset"):
        training.main([str(dump / "dump"), str(root), f"--preset={linear}", "--steps=2", "--no-progress"])
    wider = tmp_path / "wider.json"
    wider.write_text(json.dumps(training_hparams().replace(residual_channels=16).to_dict()))
    with pytest.raises(CheckpointError, match=r"trained with residual_channels=8 \(the preset: 16\)"):
        training.main([str(dump / "dump"), str(root), f"--preset={wider}", "--steps=2", "--no-progress"])
    assert json.loads((root / "config.json").read_text()) == training_hparams().to_dict()   # the run's own, kept
    # Without the run's config.json, the checkpoint itself says what it was trained with.
    (root / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"checkpoint_latest.pth was trained with input_type=mulaw-quantize "
                                              r"\(the preset: linear-quantize\), so training cannot resume"):
        training.main([str(dump / "dump"), str(root), f"--preset={linear}", "--steps=2", "--no-progress"])
    (root / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"does not fit the preset, so training cannot resume from it \(it was "
                                              r"trained with residual_channels=8 \(the preset: 16\)\)"):
        training.main([str(dump / "dump"), str(root), f"--preset={wider}", "--steps=2", "--no-progress"])


def test_training_resumes_and_chains(tmp_path, dump):
    hp = training_hparams()
    root = tmp_path / "root"
    kwargs = dict(run=run_settings(eval_interval=10), log=lambda line: None)
    training.train_schedule(hp, str(dump / "dump"), str(root), [8.0], steps=10, first_steps=10, **kwargs)
    summaries = training.train_schedule(hp, str(dump / "dump"), str(root), [8.0], steps=25, first_steps=25, **kwargs)
    assert summaries[0]["start_step"] == 10
    assert torch.load(root / "checkpoints8pt0" / "checkpoint_latest.pth", weights_only=True)["global_step"] == 25
    # A new level starts from the previous level's EMA weights.
    ema = torch.load(root / "checkpoints8pt0" / "checkpoint_latest_ema.pth", weights_only=True)["state_dict"]
    trainer = training.Trainer(hp, str(root / "checkpoints2pt0"), "cpu", init_state=ema)
    assert trainer.step == 0
    for key, value in trainer.model.state_dict().items():
        torch.testing.assert_close(value, ema[key], rtol=0, atol=0)


def test_training_json_keeps_the_record_of_levels_trained_by_an_earlier_run(tmp_path, dump):
    import json

    hp = training_hparams()
    root = tmp_path / "root"
    kwargs = dict(run=run_settings(eval_interval=10), log=lambda line: None)
    first = training.train_schedule(hp, str(dump / "dump"), str(root), [8.0], steps=10, first_steps=10, **kwargs)
    # The whole schedule later: level 8.0 is already trained, its record stays as it was.
    training.train_schedule(hp, str(dump / "dump"), str(root), [8.0, 2.0], steps=5, first_steps=10, **kwargs)
    levels = json.loads((root / "training.json").read_text())["levels"]
    assert [level["sigma"] for level in levels] == [8.0, 2.0]
    assert levels[0] == json.loads(json.dumps(first[0])) and levels[0]["seconds"] > 0
    assert levels[1]["steps"] == 5 and "train_loss" in levels[1]


def test_ctrl_c_saves_a_checkpoint(tmp_path, dump, monkeypatch):
    hp = training_hparams()
    original = training.Trainer.train_step

    def interrupted(self, *args):
        if self.step == 3:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(training.Trainer, "train_step", interrupted)
    messages = []
    with pytest.raises(KeyboardInterrupt):
        training.train_schedule(hp, str(dump / "dump"), str(tmp_path / "root"), [8.0], 50, 50,
                                run_settings(eval_interval=10), log=messages.append)
    saved = torch.load(tmp_path / "root" / "checkpoints8pt0" / "checkpoint_latest.pth", weights_only=True)
    assert saved["global_step"] == 3 and "run the same command to resume" in messages[-1]


def test_mel_conditioned_training(tmp_path):
    corpus = write_corpus(tmp_path / "audio", n=3, seconds=0.6)
    hp = training_hparams(conditional=True).replace(max_time_steps=64)
    preprocess(str(corpus), str(tmp_path / "data"), hp, "v", 0.34, 0, log=lambda line: None)
    root = tmp_path / "root"
    summaries = training.train_schedule(hp, str(tmp_path / "data" / "dump_norm"), str(root), [2.0], 5, 5,
                                        run_settings(eval_interval=5), log=lambda line: None)
    assert np.isfinite(summaries[0]["dev_loss"])
    assert load_model(root / "checkpoints2pt0", hp).is_conditional


def test_crops_align_wave_and_frames(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    wave = np.arange(40 * 4, dtype=np.int16) % 256
    np.save(folder / "u-00001-wave.npy", wave)
    np.save(folder / "u-00001-feats.npy", np.repeat(np.arange(40, dtype=np.float32)[:, None], 5, axis=1))
    data = training.DumpData(str(folder), conditional=True)
    q, c = data.crops(3, 16, torch.Generator().manual_seed(0), hop=4, cin_pad=2)
    assert q.shape == (3, 17) and c.shape == (3, 5, 4 + 4)
    for b in range(3):
        first_frame = int(q[b, 0]) // 4
        # c[:, cin_pad] is the frame holding the crop's first sample.
        assert c[b, 0, 2].item() == first_frame


def test_mel_normalisation_round_trip():
    from wavenet_vocoder.mel_dumps import denormalize, normalize

    rng = np.random.default_rng(0)
    log_mel = rng.standard_normal((40, 5)).astype(np.float32) - 3
    meanvar = np.stack([log_mel.mean(axis=0), log_mel.var(axis=0)])
    feats = normalize(log_mel, meanvar)
    assert feats.dtype == np.float32
    np.testing.assert_allclose(feats.mean(axis=0), 0, atol=1e-5)  # float32
    np.testing.assert_allclose(feats.std(axis=0), 1, atol=1e-4)  # float32
    np.testing.assert_allclose(denormalize(feats, meanvar), log_mel, atol=1e-5)  # float32


def test_the_same_command_and_seed_train_the_same_weights(tmp_path, dump):
    hp = training_hparams()
    states = []
    for name in ("a", "b"):
        training.train_schedule(hp, str(dump / "dump"), str(tmp_path / name), [8.0], 6, 6, run_settings(eval_interval=3),
                                log=lambda line: None)
        states.append(torch.load(tmp_path / name / "checkpoints8pt0" / "checkpoint_latest_ema.pth",
                                 weights_only=True)["state_dict"])
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key], rtol=0, atol=0)   # bit for bit
    other = training.seeded_model(hp, 1).state_dict()
    assert not torch.equal(other["first_conv.weight_v"], training.seeded_model(hp, 0).state_dict()["first_conv.weight_v"])


def test_the_dev_loss_is_measured_on_one_dev_set_whatever_the_seed_and_batch_size(tmp_path, dump):
    """Curves of runs with other seeds, batch sizes or devices compare: the dev crops and their noise
    come from DEV_SEED, and the loss is the mean over all DEV_CROPS crops however they are batched."""
    hp = training_hparams()
    dev = training.DumpData(str(dump / "dump" / "dev"), conditional=False)
    by4, by5 = training.dev_batches(hp, dev), training.dev_batches(hp, dev, batch=5)
    assert len(by4) == training.DEV_CROPS // 4 and by5[-1][0].size(0) == training.DEV_CROPS % 5
    for part in (0, 2):                                                    # the crops, their noise
        torch.testing.assert_close(torch.cat([b[part] for b in by4]), torch.cat([b[part] for b in by5]), rtol=0, atol=0)
    trainers = [training.Trainer(hp, str(tmp_path / f"r{seed}"), "cpu", seed=seed) for seed in (0, 1)]
    trainers[1].ema.load_state_dict(trainers[0].ema.state_dict())          # the same weights, another seed
    q = torch.cat([b[0] for b in by4])
    noise = torch.cat([b[2] for b in by4])
    with torch.no_grad():                                                  # the loss of all crops at once
        direct = float(training.level_loss(trainers[0].ema, q, None, 2.0, noise=noise))
    for trainer, batches in zip(trainers, (by4, by5)):
        assert trainer.dev_loss(batches, 2.0) == pytest.approx(direct, rel=1e-5)   # float32 sums


def test_the_dev_set_takes_another_crop_length_when_asked(dump):
    """benchmarks/train_speed.py measures its --crop on pnf-train's dev set: the same DEV_CROPS crops
    from DEV_SEED, only as long as asked (a crop holds length + 1 samples: inputs and targets)."""
    hp = training_hparams()
    dev = training.DumpData(str(dump / "dump" / "dev"), conditional=False)
    preset, short = training.dev_batches(hp, dev), training.dev_batches(hp, dev, length=64)
    assert preset[0][0].shape[1] == training.crop_length(hp)[0] + 1 and short[0][0].shape[1] == 65
    assert sum(b[0].size(0) for b in short) == training.DEV_CROPS
    again = training.dev_batches(hp, dev, length=64)
    for a, b in zip(short, again):
        assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2])


def test_a_crash_loses_at_most_the_save_interval(tmp_path, dump, monkeypatch):
    """With --save-interval 0 every step is saved: a crash (not Ctrl-C: nothing can run then) keeps them."""
    hp = training_hparams()
    original = training.Trainer.train_step

    def crashing(self, *args):
        if self.step == 4:
            raise MemoryError("killed")                        # stands for kill -9: no handler runs
        return original(self, *args)

    monkeypatch.setattr(training.Trainer, "train_step", crashing)
    with pytest.raises(MemoryError):
        training.train_schedule(hp, str(dump / "dump"), str(tmp_path / "root"), [8.0], 50, 50,
                                run_settings(eval_interval=10, save_interval=1e-9), log=lambda line: None)
    saved = torch.load(tmp_path / "root" / "checkpoints8pt0" / "checkpoint_latest.pth", weights_only=True)
    assert saved["global_step"] == 4 and saved["train_seconds"] > 0


def test_max_seconds_stops_a_run_that_counts_the_time_it_resumed(tmp_path, dump, monkeypatch):
    hp = training_hparams().replace(sigmas=[8.0, 2.0])
    root = tmp_path / "nc"
    clock = iter(range(0, 10_000, 10))        # every reading of the clock is 10 s after the last
    monkeypatch.setattr(training.time, "perf_counter", lambda: float(next(clock)))
    record = training.train_noise_conditional(hp, str(dump / "dump"), str(root),
                                              run_settings(steps=1000, eval_interval=1000, max_seconds=25.0),
                                              log=lambda line: None)
    # 3 steps of 10 s reach 25 s; the stop is evaluated and saved (the evaluation's clock readings are
    # not training time; the one reading after it adds one more 10 s tick here: 40 s in all).
    assert record["steps"] == 3 and record["curve"][-1]["step"] == 3 and record["seconds"] == pytest.approx(40.0)
    again = training.train_noise_conditional(hp, str(dump / "dump"), str(root),
                                             run_settings(steps=1000, eval_interval=1000, max_seconds=25.0),
                                             log=lambda line: None)
    assert again["steps"] == 3                 # already past its budget: nothing more
    more = training.train_noise_conditional(hp, str(dump / "dump"), str(root),
                                            run_settings(steps=1000, eval_interval=1000, max_seconds=55.0),
                                            log=lambda line: None)
    assert more["steps"] == 5                  # 40 s counted from the earlier run: 2 more steps reach 55 s


def test_a_loss_that_is_not_finite_stops_training_with_one_line(tmp_path, dump, monkeypatch):
    hp = training_hparams()
    real = training.Trainer.train_step

    def diverging(self, *args):
        loss = real(self, *args)
        return float("nan") if self.step == 2 else loss

    monkeypatch.setattr(training.Trainer, "train_step", diverging)
    with pytest.raises(PnfError, match="training diverged at step 2"):
        training.train_schedule(hp, str(dump / "dump"), str(tmp_path / "m"), [8.0], 5, 5, run_settings(),
                                log=lambda line: None)


def test_cpu_seconds_count_cpu_time_not_wall_time_and_start_where_an_old_checkpoint_stopped(tmp_path, dump,
                                                                                          monkeypatch):
    hp = training_hparams().replace(sigmas=[8.0, 2.0])
    root = tmp_path / "nc"
    wall, cpu = iter(range(0, 100_000, 10)), iter(range(0, 100_000, 3))   # each reading: +10 s wall, +3 s CPU
    monkeypatch.setattr(training.time, "perf_counter", lambda: float(next(wall)))
    monkeypatch.setattr(training.time, "process_time", lambda: float(next(cpu)))
    record = training.train_noise_conditional(hp, str(dump / "dump"), str(root),
                                              run_settings(steps=2, eval_interval=1000), log=lambda line: None)
    # Two steps, and the tick after the final evaluation: 3 ticks, each 10 s of wall time and 3 of CPU.
    assert record["seconds"] == pytest.approx(30.0) and record["cpu_seconds"] == pytest.approx(9.0)
    assert record["cpu_seconds_from_step"] == 0 and record["curve"][-1]["cpu_seconds"] == pytest.approx(6.0)
    saved = torch.load(root / "checkpoint_latest.pth", weights_only=True)
    assert saved["train_cpu_seconds"] == pytest.approx(9.0) and saved["train_cpu_from_step"] == 0
    # A checkpoint written before CPU time was kept: the count starts at its step.
    del saved["train_cpu_seconds"], saved["train_cpu_from_step"]
    torch.save(saved, root / "checkpoint_latest.pth")
    more = training.train_noise_conditional(hp, str(dump / "dump"), str(root),
                                            run_settings(steps=3, eval_interval=1000), log=lambda line: None)
    assert more["steps"] == 3 and more["cpu_seconds_from_step"] == 2 and more["cpu_seconds"] == pytest.approx(6.0)


def test_the_dev_split_keeps_versions_of_one_recording_together():
    from wavenet_vocoder.preprocess import split
    files = sorted([f"/a/piece{k}.wav" for k in range(20)] + [f"/a/room/piece{k}.wav" for k in range(20)])
    train, dev = split(files, 0.1, seed=0)
    assert len(dev) == 4 and sorted(train + dev) == files                 # 2 of 20 recordings, both versions
    names = lambda paths: {os.path.basename(p) for p in paths}
    assert not names(train) & names(dev) and all(f"/a/room/{n}" in dev for n in names(dev))
    # Unique names: the plain split over the files, as before groups were kept together.
    unique = [f"/a/take{k:02d}.wav" for k in range(30)]
    order = np.random.default_rng(5).permutation(30)
    assert split(unique, 0.1, seed=5) == (sorted(unique[i] for i in order[3:]), sorted(unique[i] for i in order[:3]))


def test_a_compiled_training_step_computes_the_eager_one(tmp_path):
    """pnf-train --compile: torch.compile (inductor) of the training step gives the eager step's losses
    and gradients, in one graph (no break that would split the kernels it fuses)."""
    from torch._dynamo.utils import counters

    hp = training_hparams().replace(noise_conditional=True)
    q = torch.randint(0, 256, (4, 257), generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([8.0, 2.0, 4.0, 1.0])
    torch._dynamo.reset()
    counters.clear()
    losses, grads = {}, {}
    for compiled in (False, True):
        trainer = training.Trainer(hp, str(tmp_path / str(compiled)), "cpu", seed=0, compile=compiled)
        noise = torch.Generator().manual_seed(1)
        losses[compiled] = [trainer.train_step(q, None, sigma, noise)]
        grads[compiled] = [p.grad.clone() for p in trainer.model.parameters() if p.grad is not None]
        losses[compiled] += [trainer.train_step(q, None, sigma, noise) for _ in range(2)]
    assert isinstance(trainer.net, torch._dynamo.eval_frame.OptimizedModule)
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-5)
    assert len(grads[True]) == len(grads[False]) > 0
    for compiled_grad, eager_grad in zip(grads[True], grads[False]):
        torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-3, atol=1e-6)
    assert not counters["graph_break"], dict(counters["graph_break"])


def test_the_compile_flag_reaches_the_training_step(tmp_path, dump, compile_calls, capsys):
    preset = tmp_path / "p.json"
    preset.write_text(json.dumps(training_hparams().to_dict()))
    compiled = compile_calls       # torch.compile's stand-in: the real one is the test above
    base = [str(dump / "dump"), str(tmp_path / "root"), f"--preset={preset}", "--no-progress", "--steps=2",
            "--noise-conditional", "--threads=1"]
    assert training.main(base) == 0 and compiled == []
    assert training.main(base[:1] + [str(tmp_path / "root2")] + base[2:] + ["--compile"]) == 0
    assert len(compiled) == 1 and isinstance(compiled[0], WaveNet)
    assert "cpu: 1 threads (torch.compile)" in capsys.readouterr().err
