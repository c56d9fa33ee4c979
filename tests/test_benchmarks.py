"""The quality benchmark end to end on tiny random-weight models and a fraction of a second of audio."""
import csv
import json
import os
import runpy
import shlex
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import REPO, make_root, preset_path, read, tiny_hparams, tone
from wavenet_vocoder.audio import load_audio
from wavenet_vocoder.band import FILL_BAND_MAX_PASSES, limit_fill_band, limit_source_bands
from wavenet_vocoder.baselines import (dither_in_units, separate_half, superres_bandlimited, superres_cubic,
                                      superres_noise_floor)
from wavenet_vocoder.checkpoints import load_model, require_checkpoints
from wavenet_vocoder.metrics import mel_distance, score
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.pnf.priors import mean_log_prob


@pytest.fixture(scope="module")
def quality():
    return runpy.run_path(os.path.join(REPO, "benchmarks", "quality.py"), run_name="quality")


def tiny_models(folder):
    for name, hp in (("mulaw_piano", tiny_hparams()), ("mulaw_voice", tiny_hparams()),
                     ("linear_piano", tiny_hparams(input_type="linear-quantize")),
                     ("linear_voice", tiny_hparams(input_type="linear-quantize")),
                     ("mel_voice", tiny_hparams(conditional=True))):
        root, preset = make_root(folder / name, hp)
        os.replace(preset, folder / f"{name}.json")
    np.save(folder / "mel_voice" / "meanvar.npy", np.stack([np.zeros(5), np.ones(5)]).astype(np.float32))
    return str(folder)


def test_quality_benchmark_measures_the_loudest_excerpt_when_asked(tmp_path, quality):
    sr = 16000
    signal = np.concatenate([np.zeros(sr), 0.5 * np.sin(np.arange(sr) / 3), 0.1 * np.sin(np.arange(sr) / 3)])
    sf.write(tmp_path / "late.wav", signal, sr, subtype="FLOAT")
    (loudest,) = quality["excerpts"]([str(tmp_path / "late.wav")], str(tmp_path / "a"), 1.0, "loudest")
    data, rate = sf.read(loudest)
    # Starts at the loud second (the 0.1 s grid hits it exactly) and runs to the file's end.
    assert rate == sr and data.size == 2 * sr and np.abs(data[:sr]).max() == pytest.approx(0.5, abs=1e-6)  # float wav
    (start,) = quality["excerpts"]([str(tmp_path / "late.wav")], str(tmp_path / "b"), 1.0, "0")
    np.testing.assert_array_equal(sf.read(start)[0], signal.astype(np.float32))


def test_a_pattern_takes_the_audio_files_it_matches_and_a_file_that_is_not_audio_is_named(tmp_path, quality):
    from wavenet_vocoder.errors import PnfError
    from wavenet_vocoder.preprocess import audio_files
    sf.write(tmp_path / "waltz.ogg", 0.1 * np.sin(np.arange(16000) / 3), 16000)
    (tmp_path / "waltz.txt").write_text("the licence of the recording beside it")
    assert audio_files(str(tmp_path / "*waltz*")) == [str(tmp_path / "waltz.ogg")]
    with pytest.raises(PnfError, match=r"\*.txt: no audio file \(.wav, .flac, .ogg, .aiff, .aif\) matches this "
                                       r"pattern \(it matches 1 other file\)"):
        audio_files(str(tmp_path / "*.txt"))
    with pytest.raises(PnfError, match="cannot read audio file .*waltz.txt"):
        quality["excerpts"]([str(tmp_path / "waltz.txt")], str(tmp_path / "x"), 1.0, "loudest")


def test_quality_benchmark_writes_tables_csv_pictures_and_the_readme_block(tmp_path, quality):
    models = tiny_models(tmp_path / "models")
    piano, voice = tone(tmp_path / "piano.wav", 440, seconds=0.3), tone(tmp_path / "voice.wav", 900, seconds=0.3)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:begin -->\nold\n<!-- results:end -->\nrest\n")
    out = tmp_path / "bench"
    assert quality["main"]([f"--piano={piano}", f"--voice={voice}", f"--models={models}", f"--out={out}",
                            "--seconds=0.2", "--factors=2,4", "--gaps-ms=10", "--gap-at=0.1", "--n-steps=1",
                            "--steps-sweep=1,2", f"--readme={readme}"]) == 0
    table = (out / "results.md").read_text()
    assert "CPU cores" not in table or " torch thread" in table     # the times say what ran them
    for source in ("piano", "voice"):
        for case in ("super-resolution 2x", "super-resolution 4x", "inpainting 10 ms"):
            assert f"**{case}, {source}**" in table
        assert f"**super-resolution 4x, {source}, anti-aliased**" in table
    for case in ("super-resolution 4x, piano: steps per level", "separation, piano", "separation, voice",
                 "mel-conditioned generation"):
        assert f"**{case}**" in table
    for method in ("PnF", "band-limited interpolation", "cubic spline", "linear interpolation",
                   "LPC extrapolation, both sides", "half the mixture", "Griffin-Lim (60 iterations)",
                   "ancestral WaveNet sampling", "PnF, 1 steps", "PnF, 2 steps"):
        assert f"| {method} |" in table
    rows = list(csv.DictReader((out / "results.csv").open()))
    # per source: 3 super-resolution cases x 4 methods, inpainting x 3; the sweep's 2 runs;
    # separation 2 sources x 2 methods; mel-conditioned generation x 3
    assert len(rows) == 2 * (3 * 4 + 3) + 2 + 2 * 2 + 3
    assert all(np.isfinite(float(r["snr"])) for r in rows)
    # The baselines' numbers are those of the run's own files: band-limited 2x on the tone is good.
    bandlimited = [r for r in rows if r["case"] == "super-resolution 2x, piano" and r["method"].startswith("band")]
    assert float(bandlimited[0]["snr"]) > 20
    # The noise-floor control: band-limited interpolation plus noise of the prior's lowest sigma (in
    # quantised units) where the samples are missing; the kept samples stay, so 2x keeps every other.
    floor = min(load_preset(os.path.join(models, "mulaw_piano.json")).sigmas)
    dithered = [r for r in rows if r["method"] == f"band-limited + noise of sigma {floor:g}"]
    assert len(dithered) == 2 * 3 and float(dithered[0]["snr"]) < float(bandlimited[0]["snr"])
    run = out / "superres_2x" / "piano" / "piano"
    clean = sf.read(run / "x_original.wav")[0]
    noisy = dither_in_units(superres_bandlimited(clean[::2], 2, clean.size), floor, "mulaw-quantize", 256,
                            slice(None, None, 2), 0)
    assert float(dithered[0]["snr"]) == pytest.approx(quality["snr"](clean, noisy), abs=1e-4)
    sweep = [r for r in rows if r["case"].endswith("steps per level")]
    assert [r["method"] for r in sweep] == ["PnF, 1 steps", "PnF, 2 steps"]
    assert (out / "superres_2x" / "piano" / "piano" / "comparison.png").is_file()
    assert (out / "superres_4x_2steps" / "piano" / "piano" / "out.wav").is_file()
    text = readme.read_text()
    assert "old" not in text and "| PnF |" in text and text.startswith("intro\n") and text.endswith("rest\n")
    # results.md ends with the targets this run measured (no 50 ms gap here); the README block has none.
    assert "Issue #14's targets" in table and "Issue #14's targets" not in text
    for target in ("super-resolution 4x piano: LSD 15% below cubic splines (PnF)",
                   "inpainting 10 ms voice: mel distance lowest of all methods",
                   "separation voice: SI-SDR at least 5 dB above", "mel-conditioned: mel distance at most 0.7x"):
        assert f"| {target}" in table
    assert "gap SNR at or above" not in table.split("Issue #14's targets")[1]
    # The priors' preference: each linear prior's log p of its source's reference at their lowest level.
    hp = load_preset(os.path.join(models, "linear_piano.json"))
    floor = min(hp.sigmas)
    references = [load_audio(out / "excerpts" / name / f"{name}.wav", hp.sample_rate)[:int(0.2 * hp.sample_rate)]
                  for name in ("piano", "voice")]
    n = min(r.size for r in references)
    priors = [load_model(require_checkpoints(os.path.join(models, name), hp, [floor])[0], hp)
              for name in ("linear_piano", "linear_voice")]
    for k, name in enumerate(("piano", "voice")):
        own, other = (mean_log_prob(priors[j], references[k][:n], hp, floor, torch.Generator().manual_seed(0))
                      for j in (k, 1 - k))
        row = next(line for line in table.splitlines() if line.startswith(f"| separation {name}: its prior prefers"))
        assert f"| {own:.2f} (own prior) | {other:.2f} (the other) |" in row
    for picture in ("superres.png", "inpainting.png"):
        assert (tmp_path / "docs" / "results" / picture).is_file() and f"(docs/results/{picture})" in text
    assert "![super-resolution 4x, piano]" in text and "![inpainting 10 ms, " in text
    json.loads((out / "separation" / "piano+voice" / "run.json").read_text())


def test_targets_of_issue_14_are_checked_against_the_plain_methods_of_the_same_run(quality):
    summary = {
        "super-resolution 4x, piano": {"PnF": dict(snr=18.5, lsd=2.0), "band-limited interpolation": dict(snr=21.0, lsd=3.5),
                                       "cubic spline": dict(snr=21.5, lsd=2.5)},
        "inpainting 50 ms, voice": {"PnF": dict(gap_snr=1.40, mel_distance=1.0),
                                    "linear interpolation": dict(gap_snr=-1.0, mel_distance=1.6),
                                    "LPC extrapolation, both sides": dict(gap_snr=1.55, mel_distance=1.2)},
        "inpainting 100 ms, voice": {"PnF": dict(gap_snr=0.0, mel_distance=5.0),
                                     "LPC extrapolation, both sides": dict(gap_snr=0.0, mel_distance=4.5)},
        "separation, piano": {"PnF": dict(si_sdr=9.0), "half the mixture": dict(si_sdr=3.0)},
        "mel-conditioned generation": {"PnF": dict(mel_distance=7.0), "Griffin-Lim (60 iterations)": dict(mel_distance=9.0),
                                       "ancestral WaveNet sampling, mean of 2": dict(mel_distance=7.5)},
        "super-resolution 2x, voice": {"PnF": dict(snr=1.0, lsd=9.0), "band-limited interpolation": dict(snr=30.0, lsd=3.0),
                                       "cubic spline": dict(snr=30.0, lsd=1.0)},
    }
    preferences = [dict(source="piano", file="a.wav", sigma=0.39, own=-2.0, other=-2.5),
                   dict(source="piano", file="b.wav", sigma=0.39, own=-2.5, other=-3.0)]
    rows = {target: (met, status) for target, _, _, met, status in quality["target_rows"](summary, preferences)}
    # own - other, means over the files: -2.25 - (-2.75) = 0.5
    assert rows["separation piano: its prior prefers it to the other prior by 0.3 nats/sample (log p at sigma 0.39)"] \
        == (True, "met (by 0.20 nats)")
    # LSD 2.0 <= 0.85 * 2.5 = 2.125; SNR 18.5 >= 21.0 - 3 = 18.0
    assert rows["super-resolution 4x piano: LSD 15% below cubic splines (PnF)"] == (True, "met (by 0.12)")
    assert rows["super-resolution 4x piano: SNR at most 3 dB below band-limited interpolation (PnF)"] == (
        True, "met (by 0.50 dB)")
    assert rows["inpainting 50 ms voice: gap SNR at or above LPC extrapolation's"] == (False, "missed by 0.15 dB")
    assert rows["inpainting 50 ms voice: mel distance lowest of all methods"] == (True, "met (by 0.20 dB)")
    assert rows["inpainting 100 ms voice: mel distance lowest of all methods"] == (False, "missed by 0.50 dB")
    assert rows["separation piano: SI-SDR at least 5 dB above half the mixture's"] == (True, "met (by 1.00 dB)")
    assert rows["mel-conditioned: mel distance at or below ancestral sampling's"] == (True, "met (by 0.50 dB)")
    # 7.0 > 0.7 * 9.0 = 6.3
    assert rows["mel-conditioned: mel distance at most 0.7x Griffin-Lim's"] == (False, "missed by 0.70 dB")
    # Only the cases the targets name: no 2x row, no gap SNR target at 100 ms, nothing for absent cases.
    assert len(rows) == 9
    table = quality["targets_markdown"](quality["target_rows"](summary))
    assert "(5 of 8 met;" in table and table.count("\n| ") == 2 + 8      # header, rule, rows
    assert "No case" in quality["targets_markdown"]([])


def test_quality_benchmark_passes_a_warm_start_to_every_pnf_run(tmp_path, quality):
    models = tiny_models(tmp_path / "models")
    piano = tone(tmp_path / "piano.wav", 440, seconds=0.3)
    out = tmp_path / "bench"
    sigmas = load_preset(os.path.join(models, "mulaw_piano.json")).sigmas
    start = sigmas[1]
    assert quality["main"]([f"--piano={piano}", f"--models={models}", f"--out={out}", "--tasks=superres,inpainting",
                            "--seconds=0.2", "--factors=2", "--antialias-factors=", "--gaps-ms=10", "--gap-at=0.1",
                            "--n-steps=1", "--init=baseline", f"--start-sigma={start}", "--chains=2",
                            "--denoise"]) == 0
    for run in ("superres_2x/piano/piano", "inpainting_10ms/piano/piano"):
        report = json.loads((out / run / "run.json").read_text())
        assert [level["sigma"] for level in report["levels"]] == list(sigmas[1:])      # the levels above skipped
        assert report["chains"]["count"] == 2 and report["denoise"] is True            # --chains, --denoise passed on
    results = (out / "results.md").read_text()
    for task in ("superres", "inpainting"):                    # how each task's runs started, named per task
        assert f"`{models}/mulaw_piano` in {task} from the plain estimate at sigma {start:g}, step scale 0.05" in results
    assert "seed 0, the mean of 2 chains, ending with the --denoise step;" in results
    with pytest.raises(quality["PnfError"], match="--init=zeros"):
        quality["main"]([f"--models={models}", f"--out={tmp_path / 'x'}", "--init=zeros"])


def test_with_several_chains_ancestral_sampling_is_the_mean_of_as_many_samples(tmp_path, quality):
    models = tiny_models(tmp_path / "models")
    voice = tone(tmp_path / "voice.wav", 900, seconds=0.3)
    out = tmp_path / "bench"
    assert quality["main"]([f"--voice={voice}", f"--models={models}", f"--out={out}", "--tasks=spectrogram",
                            "--seconds=0.2", "--n-steps=1", "--chains=2", "--seed=3"]) == 0
    rows = {r["method"]: r for r in csv.DictReader((out / "results.csv").open())}
    assert sorted(rows) == ["Griffin-Lim (60 iterations)", "PnF", "ancestral WaveNet sampling, mean of 2"]
    samples = [sf.read(out / "spectrogram_ancestral" / name / "out.wav")[0] for name in ("voice", "voice_seed1")]
    assert json.loads((out / "spectrogram_ancestral" / "voice_seed1" / "run.json").read_text())["seed"] == 4
    assert not np.allclose(samples[0], samples[1])                   # two samples, not one twice
    hp = load_preset(os.path.join(models, "mel_voice.json"))
    clean = quality["dequantize"](np.load(out / "spectrogram_dumps" / "voice" / "voice-00001-wave.npy").astype(
        np.float64), hp.input_type, hp.quantize_channels)
    expected = score(clean, np.mean(samples, axis=0), hp.sample_rate)
    row = rows["ancestral WaveNet sampling, mean of 2"]
    assert float(row["mel_distance"]) == pytest.approx(expected["mel_distance"], rel=1e-6)
    assert float(row["snr"]) == pytest.approx(expected["snr"], rel=1e-6)


def run_on_a_tone(tmp_path, quality, *flags):
    """The benchmark on tiny models and one 0.3 s tone as both the piano and the voice (0.2 s of it, one
    step per level); returns (models folder, output folder)."""
    models = tiny_models(tmp_path / "models")
    piano = tone(tmp_path / "piano.wav", 440, seconds=0.3)
    out = tmp_path / "bench"
    assert quality["main"]([f"--piano={piano}", f"--voice={piano}", f"--models={models}", f"--out={out}",
                            "--seconds=0.2", "--n-steps=1"] + list(flags)) == 0
    return models, out


def test_quality_benchmark_adds_the_mean_of_several_chains_as_a_row(tmp_path, quality):
    models, out = run_on_a_tone(tmp_path, quality, "--tasks=superres,inpainting", "--factors=2,4",
                                "--antialias-factors", "", "--gaps-ms=10", "--gap-at=0.1", "--mean-rows=2")
    rows = list(csv.DictReader((out / "results.csv").open()))
    means = [(r["case"], r["method"]) for r in rows if "mean" in r["method"]]
    # 4x only (not 2x), for both sources, once each, in the 4x case beside one chain and the baselines
    assert means == [(f"super-resolution 4x, {source}", "PnF, mean of 2 chains") for source in ("piano", "voice")]
    floor = min(load_preset(os.path.join(models, "mulaw_voice.json")).sigmas)
    assert [r["method"] for r in rows if r["case"] == "super-resolution 4x, voice"] == [
        "PnF", "band-limited interpolation", "cubic spline", f"band-limited + noise of sigma {floor:g}",
        "PnF, mean of 2 chains"]
    assert json.loads((out / "superres_4x_2chains/piano/piano/run.json").read_text())["chains"]["count"] == 2
    for run in ("superres_4x/piano/piano", "inpainting_10ms/voice/piano"):    # the other runs stay one chain
        assert "chains" not in json.loads((out / run / "run.json").read_text())
    table = (out / "results.md").read_text()
    assert "| PnF, mean of 2 chains |" in table and "the mean of 2 chains;" not in table
    # The command the block names runs as written: its empty list stays an argument.
    command = table.split("Produced by `", 1)[1].split("` on ", 1)[0]
    assert shlex.split(command)[2:] == [f"--piano={tmp_path / 'piano.wav'}", f"--voice={tmp_path / 'piano.wav'}",
                                        f"--models={models}", f"--out={out}", "--seconds=0.2", "--n-steps=1",
                                        "--tasks=superres,inpainting", "--factors=2,4", "--antialias-factors", "",
                                        "--gaps-ms=10", "--gap-at=0.1", "--mean-rows=2"]
    with pytest.raises(quality["PnfError"], match="--mean-rows=1"):
        quality["main"]([f"--models={models}", f"--out={tmp_path / 'x'}", "--mean-rows=1"])


@pytest.mark.parametrize("missing, present", [("voice", "piano"), ("piano", "voice")])
def test_quality_benchmark_notes_a_missing_mulaw_prior(tmp_path, quality, missing, present):
    models = tiny_models(tmp_path / "models")
    shutil.rmtree(os.path.join(models, f"mulaw_{missing}"))
    bench = quality["Benchmark"](quality["parse_args"](quality["__doc__"], [f"--models={models}"]))
    assert bench.mulaw_prior(missing) is None and bench.mulaw_prior(present)[0].endswith(f"mulaw_{present}")
    assert bench.notes == [f"no mulaw_{missing} prior in {models}: {missing} super-resolution and inpainting skipped"]


def test_quality_benchmark_with_no_prior_for_its_tasks_is_one_line(tmp_path, quality):
    models = tiny_models(tmp_path / "models")
    for source in ("piano", "voice"):
        shutil.rmtree(os.path.join(models, f"mulaw_{source}"))
    with pytest.raises(quality["PnfError"], match=r"nothing to measure \(no mulaw_piano prior in .*no mulaw_voice"):
        quality["main"]([f"--models={models}", f"--out={tmp_path / 'out'}", "--tasks=superres,inpainting"])
    assert not (tmp_path / "out" / "results.md").exists()


def test_quality_benchmark_takes_each_prior_from_the_first_models_folder_that_has_it(tmp_path, quality):
    models = tiny_models(tmp_path / "models")
    first = tmp_path / "first"
    first.mkdir()
    shutil.copytree(os.path.join(models, "mulaw_piano"), first / "mulaw_piano")
    shutil.copy(os.path.join(models, "mulaw_piano.json"), first / "mulaw_piano.json")
    bench = quality["Benchmark"](quality["parse_args"](quality["__doc__"], [f"--models={first},{models}"]))
    assert bench.model("mulaw_piano") == (str(first / "mulaw_piano"), str(first / "mulaw_piano.json"))
    assert bench.model("linear_voice") == (os.path.join(models, "linear_voice"), os.path.join(models, "linear_voice.json"))
    shutil.rmtree(os.path.join(models, "mel_voice"))
    with pytest.raises(quality["PnfError"], match=f"--models={first},{models} has no mel_voice/"):
        bench.model("mel_voice")


@pytest.fixture
def two_linear_priors(tmp_path):
    """prior_likelihood.py's namespace, the tiny linear preset, two priors (levels 4.0 and 1.0) and two tones."""
    likelihood = runpy.run_path(os.path.join(REPO, "benchmarks", "prior_likelihood.py"), run_name="likelihood")
    hp = tiny_hparams(input_type="linear-quantize")
    root_a, preset = make_root(tmp_path / "a", hp)
    root_b, _ = make_root(tmp_path / "b", hp)
    a, b = tone(tmp_path / "x.wav", 440, seconds=0.1), tone(tmp_path / "y.wav", 900, seconds=0.1)
    return likelihood, hp, preset, root_a, root_b, a, b


def direct_log_prob(root, hp, audio, sigma):
    """The level-``sigma`` model's own mean smoothed likelihood of ``audio`` (in [-1, 1]) plus seed-0 noise."""
    import torch
    from wavenet_vocoder.checkpoints import level_checkpoint, load_model
    from wavenet_vocoder.quantize import quantize
    model = load_model(level_checkpoint(root, sigma), hp)
    x = torch.as_tensor(quantize(audio, hp.input_type), dtype=torch.float32)
    x = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return float(model.smoothed_log_prob(x.view(1, 1, -1), sigma).mean())


def test_prior_likelihood_table(two_linear_priors, capsys):
    likelihood, hp, preset, root_a, root_b, a, b = two_linear_priors
    assert likelihood["main"]([f"--preset={preset}", f"--prior={root_a}", f"--prior={root_b}", "--sigmas=4.0,1.0",
                               "--seconds=-1", a, b]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "| prior | sigma | x.wav | y.wav |" and len(lines) == 2 + 2 * 2
    values = [float(v) for line in lines[2:] for v in line.strip("| ").split(" | ")[2:]]
    assert all(np.isfinite(values)) and all(v < 0 for v in values)
    # The same number as the model's own smoothed likelihood of that noisy input.
    from wavenet_vocoder.audio import load_audio
    expected = direct_log_prob(root_a, hp, load_audio(a, 22050), 4.0)
    assert values[0] == pytest.approx(expected, abs=0.006)  # the table's 2 decimals, float32


def test_prior_likelihood_refuses_a_prior_of_another_preset_before_its_table_starts(tmp_path, two_linear_priors, capsys):
    from wavenet_vocoder.checkpoints import checkpoint_dir_name, save_checkpoint
    from wavenet_vocoder.wavenet import WaveNet
    likelihood, hp, preset, root_a, root_b, a, b = two_linear_priors
    mulaw = tiny_hparams()
    for sigma in hp.sigmas:                    # a mu-law prior as pnf-train writes it: its preset saved inside
        save_checkpoint(tmp_path / "mulaw" / checkpoint_dir_name(sigma) / "checkpoint_latest_ema.pth",
                        WaveNet.from_hparams(mulaw), hparams=mulaw)
    with pytest.raises(likelihood["PnfError"], match=r"was trained with input_type=mulaw-quantize \(the preset: linear"):
        likelihood["main"]([f"--preset={preset}", f"--prior={root_a}", f"--prior={tmp_path / 'mulaw'}",
                            "--sigmas=4.0,1.0", a])
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("offset", ["nowhere", "-1"])
def test_quality_benchmark_names_an_offset_it_cannot_take(tmp_path, quality, offset):
    with pytest.raises(quality["PnfError"], match=f"--offset={offset}: give seconds .* or loudest"):
        quality["main"]([f"--out={tmp_path / 'out'}", f"--offset={offset}"])
    assert not (tmp_path / "out").exists()


def test_prior_likelihood_pair_compares_the_true_sources_with_half_the_mixture(two_linear_priors, capsys):
    likelihood, hp, preset, root_a, root_b, a, b = two_linear_priors
    assert likelihood["main"](["--pair", f"--preset={preset}", f"--prior={root_a}", f"--prior={root_b}",
                               "--sigmas=1.0", "--seconds=-1", "--mix-peak=1.2", a, b]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| sigma | p0(source 0) |") and len(lines) == 3
    sigma, t0, t1, h0, h1, true, half, margin = [float(v) for v in lines[2].strip("| ").split(" | ")]
    assert true == pytest.approx(t0 + t1, abs=0.002) and half == pytest.approx(h0 + h1, abs=0.002)
    assert margin == pytest.approx(true - half, abs=0.002)
    # Half the mixture, scaled as separation scales it, scored directly by source 1's model.
    from wavenet_vocoder.audio import load_audio
    s0, s1 = load_audio(a, 22050).astype(np.float64), load_audio(b, 22050).astype(np.float64)
    half_mixture = 1.2 * (s0 + s1) / np.max(np.abs(s0 + s1)) / 2
    assert h1 == pytest.approx(direct_log_prob(root_b, hp, half_mixture, 1.0), abs=0.002)
    with pytest.raises(likelihood["PnfError"], match="two different --prior"):
        likelihood["main"](["--pair", f"--preset={preset}", f"--prior={root_a}", f"--prior={root_a}", "--sigmas=1.0",
                            a, b])


def test_prior_likelihood_of_a_mel_conditioned_prior_gives_each_file_its_own_frames(tmp_path, capsys):
    likelihood = runpy.run_path(os.path.join(REPO, "benchmarks", "prior_likelihood.py"), run_name="likelihood")
    hp = tiny_hparams(conditional=True)
    root, preset = make_root(tmp_path / "mel", hp)
    path = tone(tmp_path / "x.wav", 440, seconds=0.05)
    args = [f"--preset={preset}", f"--prior={root}", "--sigmas=1.0", "--seconds=-1", path]
    with pytest.raises(likelihood["PnfError"], match="meanvar.npy is missing"):
        likelihood["main"](args)
    meanvar = np.stack([np.full(hp.num_mels, -2.0), np.full(hp.num_mels, 0.5)]).astype(np.float32)
    np.save(tmp_path / "mel" / "meanvar.npy", meanvar)
    assert likelihood["main"](args) == 0
    value = float(capsys.readouterr().out.strip().splitlines()[2].strip("| ").split(" | ")[2])
    # Directly: whole frames plus one sample, the file's own normalised log-mel frames, edge-padded.
    from wavenet_vocoder.audio import logmelspectrogram
    from wavenet_vocoder.checkpoints import level_checkpoint
    from wavenet_vocoder.mel_dumps import normalize
    from wavenet_vocoder.quantize import quantize
    audio = load_audio(path, 22050)
    frames = (audio.size - 1) // hp.hop_size
    audio = audio[:frames * hp.hop_size + 1]
    mel = normalize(logmelspectrogram(audio[:-1], hp)[:frames], meanvar)
    c = torch.from_numpy(np.pad(mel, [(hp.cin_pad, hp.cin_pad), (0, 0)], mode="edge").T.copy())[None]
    x = torch.as_tensor(quantize(audio, hp.input_type), dtype=torch.float32)
    x = x + torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model = load_model(level_checkpoint(root, 1.0), hp)
        expected = float(model.smoothed_log_prob(x.view(1, 1, -1), 1.0, c).mean())
        other = float(model.smoothed_log_prob(x.view(1, 1, -1), 1.0, torch.zeros_like(c)).mean())
    assert value == pytest.approx(expected, abs=0.006)                 # the table's 2 decimals
    assert abs(expected - other) > 0.01                                 # the frames matter to the model
    with pytest.raises(likelihood["PnfError"], match="--pair: separation's priors are unconditional"):
        likelihood["main"](["--pair", f"--preset={preset}", f"--prior={root}", f"--prior={root}", path, path])


@pytest.fixture(scope="module")
def speed():
    return runpy.run_path(os.path.join(REPO, "benchmarks", "speed.py"), run_name="speed")


def test_flop_count_of_the_published_preset(speed):
    # 30 layers x (128*3*256 dilated + 128*(128+128) out/skip) + head 128*128 + 128*256
    # multiply-adds = 3,981,312 per position; 2 FLOPs each; forward and input gradient.
    hp = load_preset(preset_path("mulaw_maxaudio"))
    assert speed["flop_per_update"](hp) == 2 * 2 * 3_981_312


def test_speed_benchmark_reports_every_key_side_by_side(tmp_path, speed, capsys):
    hp = tiny_hparams()
    root, preset = make_root(tmp_path / "tiny", hp)
    assert speed["main"]([f"--preset={preset}", "--window=64", "--batch-size=2", "--repeats=1", "--error-inputs=2", "--error-window=50",
                          "--ancestral-samples=20", "--no-memory", "--matmul-size=64", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("reference_updates_per_s", "fast_updates_per_s", "fast_grad_rel_err", "flop_per_update",
                "ancestral_reference_samples_per_s", "ancestral_fast_samples_per_s", "device"):
        assert key in report
    assert report["device"].startswith("cpu")
    assert set(report["paths"]) == {"reference", "fp32", "bf16"}
    assert report["fast_path"] == "fp32" and report["fast_grad_rel_err"] < 1e-4  # float32 vs float64
    assert report["paths"]["bf16"]["grad_rel_err"] > report["fast_grad_rel_err"]
    assert report["ancestral_max_logit_diff"] < 1e-4  # float32 rounding
    executed = {name: p["executed_positions_per_target"] for name, p in report["paths"].items()}
    assert executed["reference"] == pytest.approx((64 + 13 - 1) / 64)   # the whole span, rf 13
    assert 1 <= executed["fp32"] == executed["bf16"] < executed["reference"]
    assert all(p["updates_per_s"] > 0 and p["peak_memory_bytes"] is None for p in report["paths"].values())
    assert speed["main"]([f"--preset={preset}", "--window=64", "--repeats=1", "--error-inputs=1",
                          "--ancestral-samples=0", "--no-memory", "--precisions=fp32", "--matmul-size=64"]) == 0
    table = capsys.readouterr().out
    assert "| fast, fp32 |" in table and "| fast, bf16 |" not in table and "ancestral" not in table


@pytest.fixture(scope="module")
def train_speed():
    return runpy.run_path(os.path.join(REPO, "benchmarks", "train_speed.py"), run_name="train_speed")


def test_train_speed_benchmark_reports_every_row_and_the_loss_comparison(tmp_path, train_speed, capsys):
    hp = tiny_hparams()
    _, preset = make_root(tmp_path / "tiny", hp)
    assert train_speed["main"]([f"--presets={preset}", "--steps=1", "--repeats=1", "--loss-steps=2", "--seeds=2",
                                "--crop=64", "--batch-size=2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["device"].startswith("cpu") and report["data"] == "synthesised"
    rows = {(r["noise_conditional"], r["precision"]): r for r in report["rows"]}
    assert set(rows) == {(False, "fp32"), (False, "bf16"), (True, "fp32"), (True, "bf16")}
    assert all(r["samples_per_s"] > 0 and r["batch"] == 2 and r["crop"] == 64 for r in rows.values())
    assert rows[(False, "fp32")]["vs_fp32"] == 1.0
    loss = {r["precision"]: r for r in report["loss"]}
    assert set(loss) == {"fp32", "bf16"} and all(len(r["losses"]) == 2 for r in loss.values())
    assert report["recommended"] in ("fp32", "bf16")
    # The same seeds and crops: the two precisions start from the same weights (2 steps apart at most).
    assert abs(loss["fp32"]["mean"] - loss["bf16"]["mean"]) < 0.5


def test_train_speed_measures_each_row_compiled_beside_it(tmp_path, train_speed, capsys, compile_calls):
    compiled = compile_calls       # torch.compile's stand-in (tests/test_training.py compiles for real)
    _, preset = make_root(tmp_path / "tiny", tiny_hparams())
    assert train_speed["main"]([f"--presets={preset}", "--precisions=fp32", "--steps=1", "--repeats=1",
                                "--loss-steps=0", "--crop=64", "--batch-size=2", "--compile", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {(r["noise_conditional"], r["compiled"]): r for r in report["rows"]}
    assert set(rows) == {(False, False), (False, True), (True, False), (True, True)} and len(compiled) == 2
    assert all(r["vs_fp32"] == 1.0 for (_, c), r in rows.items() if not c)      # the ratio is to the eager row
    assert all(r["first_step_seconds"] > 0 for r in rows.values())
    assert report["recommended"] is None           # without the loss comparison it cannot tell


def test_compare_priors_reads_a_chain_and_a_noise_conditional_prior_at_equal_time(tmp_path, capsys):
    compare = runpy.run_path(os.path.join(REPO, "benchmarks", "compare_priors.py"), run_name="compare")
    (tmp_path / "chain").mkdir()
    (tmp_path / "nc").mkdir()
    (tmp_path / "chain" / "training.json").write_text(json.dumps({"levels": [
        {"sigma": 8.0, "start_step": 0, "steps": 30, "dev_loss": 5.0, "seconds": 60.0},
        {"sigma": 2.0, "start_step": 0, "steps": 10, "dev_loss": 4.0, "seconds": 20.0}]}))
    (tmp_path / "nc" / "training.json").write_text(json.dumps({
        "noise_conditional": True, "steps": 60, "seconds": 120.0,
        "levels": [{"sigma": 8.0, "dev_loss": 4.5}, {"sigma": 2.0, "dev_loss": 3.5}],
        "curve": [{"step": 20, "seconds": 40.0, "dev_loss": [4.9, 3.9]},
                  {"step": 40, "seconds": 80.0, "dev_loss": [4.7, 3.7]},
                  {"step": 60, "seconds": 120.0, "dev_loss": [4.5, 3.5]}]}))
    assert compare["main"]([str(tmp_path / "chain"), str(tmp_path / "nc")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "| sigma | chain | nc |", "| --- | --- | --- |", "| 8 | 5.000 | 4.500 |", "| 2 | 4.000 | 3.500 |",
        "| training steps | 40 | 60 |", "| training seconds | 80 | 120 |"]
    # at equal time: the chain trained 80 s, so the curve point at 80 s
    assert compare["main"](["--equal-time", str(tmp_path / "chain"), str(tmp_path / "nc")]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == "| sigma | chain | nc at 80 s |" and lines[2] == "| 8 | 5.000 | 4.700 |"
    assert lines[4] == "| training steps | 40 | 40 |"
    assert "not all measured on one named dev set" in captured.err              # neither names its dev set
    for name in ("chain", "nc"):                                                 # both on pnf-train's fixed set
        record = json.loads((tmp_path / name / "training.json").read_text())
        for item in record["levels"] + record.get("curve", []):
            item["dev_set"] = "32 crops from seed 12345"
        record["dev_set"] = "32 crops from seed 12345"
        (tmp_path / name / "training.json").write_text(json.dumps(record))
    assert compare["main"](["--equal-time", str(tmp_path / "chain"), str(tmp_path / "nc")]) == 0
    assert capsys.readouterr().err == ""


def test_workers_benchmark_prints_both_tables(tmp_path, capsys):
    workers = runpy.run_path(os.path.join(REPO, "benchmarks", "workers.py"), run_name="workers")
    hp = tiny_hparams()
    root, preset = make_root(tmp_path / "tiny", hp)
    piano = tone(tmp_path / "piano.wav", 440, seconds=0.3)
    assert workers["main"]([f"--prior={root}", f"--preset={preset}", f"--input={piano}", "--seconds=0.05",
                            "--n-steps=1", "--files=2", f"--out={tmp_path / 'w'}"]) == 0
    out = capsys.readouterr().out
    assert "| threads | alone | beside one busy process |" in out and out.count("| 1 |") == 1
    assert "| torchrun, 2 processes x 1 thread |" in out
    # one process with two threads and two with one each: float sums in another order, the same output up to
    # a step of the 16-bit file where a sample rounds the other way
    assert "wrote the same out.wav for every file, up to float rounding (at most one step of the 16-bit file apart): " \
        "True (largest difference: " in out


def test_steps_benchmark_writes_both_starts_at_every_budget(tmp_path, capsys):
    steps = runpy.run_path(os.path.join(REPO, "benchmarks", "steps.py"), run_name="steps")
    models = tiny_models(tmp_path / "models")
    piano, voice = tone(tmp_path / "piano.wav", 440, seconds=0.3), tone(tmp_path / "voice.wav", 900, seconds=0.3)
    out = tmp_path / "steps"
    assert steps["main"]([f"--models={models}", f"--piano={piano}", f"--voice={voice}", "--seconds=0.1",
                          "--budgets=2,4", "--start-sigma=1.5", "--gap-ms=20", "--threads=1", f"--out={out}"]) == 0
    rows = list(csv.DictReader((out / "steps.csv").open()))
    assert {(r["task"], r["start"], r["budget"]) for r in rows} == {
        (t, s, b) for t in ("superres", "inpainting", "separation", "spectrogram") for s in ("cold", "warm")
        for b in ("2", "4")}
    # tiny presets have levels 4.0 and 1.0: cold runs both, warm (from sigma 1.5) only the last
    assert {r["levels"] for r in rows if r["start"] == "cold"} == {"2"} and {r["levels"] for r in rows if r["start"] == "warm"} == {"1"}
    assert all(np.isfinite(float(r["value"])) for r in rows)
    assert (out / "steps.png").is_file() and "| warm |" in (out / "steps.md").read_text()


def test_fill_level_benchmark_reports_every_level_and_the_priors_continuations(tmp_path, capsys):
    fill = runpy.run_path(os.path.join(REPO, "benchmarks", "fill_level.py"), run_name="fill")
    hp = tiny_hparams()
    root, preset = make_root(tmp_path / "prior", hp)
    src = tone(tmp_path / "x.wav", 440, seconds=0.3)
    out = tmp_path / "fill"
    assert fill["main"]([str(root), src, f"--preset={preset}", "--gap=0.1,0.12", "--settings=1x1.0,2x0.5",
                         "--continuations=2", f"--out={out}"]) == 0
    table = (out / "fill_level.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| 1 x 1 |") or line.startswith("| 2 x 0.5 |")]
    assert len(rows) == 2
    cells = rows[0].strip("| ").split(" | ")
    assert len(cells) == 2 + len(hp.sigmas) + 3           # setting, seed, each level, final, gap SNR, time
    assert all(np.isfinite(float(c.strip("*"))) for c in cells[2:])
    # The final fill is the last level's (the output is the state after the last level).
    assert cells[1 + len(hp.sigmas)] == cells[2 + len(hp.sigmas)].strip("*")
    assert "LPC extrapolation from both sides" in table and "continuations of the context" in table
    assert fill["level_db"](0.5 * np.ones(10), np.ones(10)) == pytest.approx(-6.0206, abs=1e-4)   # 20 log10 0.5
    with pytest.raises(Exception, match="STEPSxSCALE"):
        fill["parse_settings"]("32")


def test_upper_band_benchmark_scores_each_band_of_each_restoration(tmp_path, capsys):
    upper = runpy.run_path(os.path.join(REPO, "benchmarks", "upper_band.py"), run_name="upper_band")
    root, preset = make_root(tmp_path / "prior", tiny_hparams())
    t = np.arange(8820) / 22050
    sf.write(tmp_path / "full.wav", 0.5 * np.sin(2 * np.pi * 500 * t) + 0.2 * np.sin(2 * np.pi * 9500 * t), 22050)
    out = tmp_path / "out"
    assert upper["main"]([root, str(tmp_path / "full.wav"), f"--preset={preset}", "--seconds=0.4", "--n-steps=1",
                          f"--out={out}", "--trim"]) == 0
    table = (out / "upper_band.md").read_text()
    assert table == capsys.readouterr().out
    rows = {line.split(" | ")[0][2:]: [float(v) for v in line.strip(" |").split(" | ")[1:]]
            for line in table.splitlines() if line.startswith("| ") and not line.startswith(("| method", "| ---"))}
    # (one file: no range after the mean level)
    assert list(rows) == list(upper["METHODS"])
    # keeping every 4th sample aliases the 9.5 kHz tone to 1525 Hz: band-limited interpolation and the
    # low-pass leave the band above 8 kHz all but empty
    assert rows["band-limited interpolation"][2] < -30 and rows["the clean file low-passed at the split"][2] < -30
    # the 8-bit quantiser keeps the loud 9.5 kHz tone's level
    assert abs(rows["the clean file through the prior's quantiser (ceiling)"][2]) < 1
    assert all((out / "00_full" / f).is_file() for f in ("clean.wav", "lowpassed.wav", "pnf/out.wav"))
    assert all(np.isfinite(v) for v in rows["PnF"])


def test_band_levels_gives_each_band_its_share_of_the_energy(tmp_path, capsys):
    bands = runpy.run_path(os.path.join(REPO, "benchmarks", "band_levels.py"), run_name="bands")
    rate = 22050
    t = np.arange(rate) / rate
    # 1 kHz at amplitude 0.8 and 4 kHz at 0.08: the 4 kHz band holds 1/101 of the power, -20.04 dB
    sf.write(tmp_path / "two.wav", 0.8 * np.sin(2 * np.pi * 1000 * t) + 0.08 * np.sin(2 * np.pi * 4000 * t), rate)
    folder = tmp_path / "set"
    folder.mkdir()
    sf.write(folder / "a.wav", 0.5 * np.sin(2 * np.pi * 1000 * t), rate)            # all below 2756 Hz
    sf.write(folder / "b.wav", 0.5 * np.sin(2 * np.pi * 9000 * t), rate)            # left out by --max-files 2,
    sf.write(folder / "c.wav", 0.5 * np.sin(2 * np.pi * 6000 * t), rate)            # which keeps the first and
                                                                                    # the last (evenly spaced);
                                                                                    # c: all in 5512-8000 Hz
    assert bands["main"]([str(tmp_path / "two.wav"), str(folder), "--max-files=2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| audio | files | 0-2756 Hz | 2756-5512 Hz | 5512-8000 Hz | 8000-11025 Hz |"
    two = [float(v) for v in lines[2].split("|")[3:-1]]
    assert two[0] == pytest.approx(10 * np.log10(100 / 101), abs=0.06)              # printed to 0.1 dB
    assert two[1] == pytest.approx(10 * np.log10(1 / 101), abs=0.05) and max(two[2:]) < -50
    # each file weighs the same: half of the set's energy below 2756 Hz, half in 5512-8000 Hz
    assert lines[3].startswith("| set | 2 |")
    half = [float(v) for v in lines[3].split("|")[3:-1]]
    assert half[0] == pytest.approx(-3.01, abs=0.02) and half[2] == pytest.approx(-3.01, abs=0.02) and half[3] < -50
    for edges in ("0,5000,3000", "0,20000", "a,b"):
        with pytest.raises(SystemExit) as raised:
            bands["run"](bands["main"], [str(folder), f"--edges={edges}"])
        assert raised.value.code != 0
    assert "--edges=" in capsys.readouterr().err


def test_quality_benchmark_passes_the_temperature_to_every_run(tmp_path, quality):
    models, out = run_on_a_tone(tmp_path, quality, "--tasks=superres", "--factors=2", "--antialias-factors=",
                                "--temperature=0.5")
    for source in ("piano", "voice"):
        assert json.loads((out / f"superres_2x/{source}/piano/run.json").read_text())["temperature"] == 0.5
    assert ", at temperature 0.5;" in (out / "results.md").read_text()
    with pytest.raises(quality["PnfError"], match="--temperature=hot is not a number"):
        quality["main"]([f"--models={models}", f"--out={out}", "--temperature=hot"])
    # a negative temperature is refused before any run, and writes nothing
    with pytest.raises(quality["PnfError"], match="--temperature=-1: give 0 or more"):
        quality["main"]([f"--models={models}", f"--out={tmp_path / 'refused'}", "--temperature=-1"])
    assert not (tmp_path / "refused").exists()


def test_quality_benchmark_passes_the_voiced_temperature_to_the_mel_conditioned_run(tmp_path, quality):
    models, out = run_on_a_tone(tmp_path, quality, "--tasks=spectrogram", "--voiced-temperature=0.25")
    report = json.loads((out / "spectrogram/piano/run.json").read_text())      # the tone is the voice too
    assert report["arguments"]["--voiced-temperature"] == "0.25" and report["temperature"] == 1
    ancestral = json.loads((out / "spectrogram_ancestral/piano/run.json").read_text())
    assert ancestral["voiced_temperature"] == 0.25 and ancestral["temperature"] == 1
    assert ", voiced frames at temperature 0.25;" in (out / "results.md").read_text()
    with pytest.raises(quality["PnfError"], match="--voiced-temperature=0: give a positive temperature"):
        quality["main"]([f"--models={models}", f"--out={tmp_path / 'refused'}", "--voiced-temperature=0"])
    assert not (tmp_path / "refused").exists()


def test_quality_benchmark_passes_the_fill_band_to_every_inpainting_super_resolution_and_separation_run(tmp_path,
                                                                                                       quality):
    models, out = run_on_a_tone(tmp_path, quality, "--tasks=superres,inpainting,separation", "--factors=2",
                                "--antialias-factors=", "--gaps-ms=10", "--gap-at=0.1", "--fill-band=6000")
    for source in ("piano", "voice"):
        for run in ("inpainting_10ms", "superres_2x"):
            assert json.loads((out / f"{run}/{source}/piano/run.json").read_text())["fill_band_hz"] == 6000
    assert json.loads((out / "separation/piano+piano/run.json").read_text())["fill_band_hz"] == [6000, 6000]
    assert ", fills low-passed at 6000 Hz;" in (out / "results.md").read_text()
    # auto (the default): half the rate of a file made at a lower rate than the prior's, none for the others
    t = np.arange(int(0.3 * 16000)) / 16000
    sf.write(tmp_path / "voice16k.wav", 0.5 * np.sin(2 * np.pi * 300 * t), 16000)
    piano, sr = sf.read(tmp_path / "piano.wav")       # the piano given a band above 8 kHz: a partial at 9 kHz
    sf.write(tmp_path / "piano.wav", piano + 0.1 * np.sin(2 * np.pi * 9000 * np.arange(piano.size) / sr), sr)
    auto = tmp_path / "auto"
    assert quality["main"]([f"--piano={tmp_path / 'piano.wav'}", f"--voice={tmp_path / 'voice16k.wav'}",
                            f"--models={models}", f"--out={auto}", "--seconds=0.2", "--n-steps=1",
                            "--tasks=inpainting,superres,separation", "--factors=2", "--antialias-factors=",
                            "--gaps-ms=10", "--gap-at=0.1"]) == 0
    for run in ("inpainting_10ms", "superres_2x"):
        assert json.loads((auto / f"{run}/piano/piano/run.json").read_text())["fill_band_hz"] is None
        assert json.loads((auto / f"{run}/voice/voice16k/run.json").read_text())["fill_band_hz"] == 8000
    assert json.loads((auto / "separation/piano+voice16k/run.json").read_text())["fill_band_hz"] == [None, 8000]
    assert "fills" not in (auto / "results.md").read_text()
    # the noise-floor control, PnF's start, is limited to the band as PnF's output is; the interpolations are not
    clean = read(auto / "superres_2x/voice/voice16k/x_original.wav")
    preset = load_preset(os.path.join(models, "mulaw_voice.json"))
    floor = min(preset.sigmas)
    control = superres_noise_floor(clean[::2], 2, clean.size, floor, preset.input_type,
                                              preset.quantize_channels, seed=0)
    filled = np.ones(clean.size, dtype=bool)
    filled[::2] = False
    rows = {r["method"]: r for r in csv.DictReader((auto / "results.csv").open())
            if r["case"] == "super-resolution 2x, voice"}
    limited = score(clean, limit_fill_band(control, filled, 8000, preset.sample_rate, passes=FILL_BAND_MAX_PASSES),
                    preset.sample_rate)
    assert float(rows[f"band-limited + noise of sigma {floor:g}"]["lsd"]) == pytest.approx(limited["lsd"])
    assert limited["lsd"] < score(clean, control, preset.sample_rate)["lsd"]
    spline = score(clean, superres_cubic(clean[::2], 2, clean.size), preset.sample_rate)
    assert float(rows["cubic spline"]["lsd"]) == pytest.approx(spline["lsd"])
    # half the mixture, separation's start, is given the sources' bands as PnF's sources are (the 16 kHz
    # voice low-passed at 8 kHz, what that takes away handed to the piano)
    sources = [load_audio(str(tmp_path / name), preset.sample_rate)[:int(0.2 * preset.sample_rate)].astype(np.float64)
               for name in ("piano.wav", "voice16k.wav")]
    n = min(x.size for x in sources)
    halves = separate_half(sources[0][:n] + sources[1][:n])
    limited = limit_source_bands(halves, [None, 8000], preset.sample_rate)
    assert np.abs(limited[1] - halves[1]).max() > 1e-3 and np.allclose(limited.sum(axis=0), halves[0] + halves[1])
    for k, case in enumerate(("separation, piano", "separation, voice")):
        half = [r for r in csv.DictReader((auto / "results.csv").open())
                if r["case"] == case and r["method"] == "half the mixture"]
        assert float(half[0]["lsd"]) == pytest.approx(score(sources[k][:n], limited[k], preset.sample_rate)["lsd"])
    with pytest.raises(quality["PnfError"], match="--fill-band=wide: expected a frequency"):
        quality["main"]([f"--models={models}", f"--out={tmp_path / 'refused'}", "--fill-band=wide"])
    assert not (tmp_path / "refused").exists()


def test_separation_starts_runs_chains_from_half_the_mixture_and_from_the_true_sources(tmp_path, capsys):
    starts = runpy.run_path(os.path.join(REPO, "benchmarks", "separation_starts.py"), run_name="starts")
    models = tiny_models(tmp_path / "models")
    piano, voice = tone(tmp_path / "piano.wav", 440, seconds=0.1), tone(tmp_path / "voice.wav", 900, seconds=0.1)
    # The true sources in units sum to the mixture in units and read back as the sources.
    sources, mixture = starts["pair"](piano, voice, 22050, 2205, 1.4)
    units = starts["mixture_units"](mixture)
    truth = starts["true_state"](sources, 256)
    assert np.allclose(truth.sum(axis=0), units)
    assert np.allclose([starts["source_audio"](row) for row in truth], sources)
    # Steps too small to move: each chain stays where it started (plus the first level's noise of 1 unit).
    out = tmp_path / "starts.md"
    assert starts["main"]([f"--models={models}", f"--piano={piano}", f"--voice={voice}", "--seconds=0.1",
                           "--sigmas=1.0,1.0", "--n-steps=1", "--step-scale=1e-6", "--threads=1", f"--out={out}"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "| start | at the start | after sigma 1 (1) | after sigma 1 (2) |"
    half_row, truth_row = (dict(zip(["start", "first", "one", "two"], line.strip("| ").split(" | "))) for line in lines[2:4])
    half = [starts["si_sdr"](sources[i], mixture / 2) for i in (0, 1)]
    assert half_row["first"] == f"{half[0]:.2f} / {half[1]:.2f}"
    for cell in (half_row["one"], half_row["two"]):
        assert np.allclose([float(v) for v in cell.split(" / ")], half, atol=0.5)
    assert min(float(v) for v in truth_row["two"].split(" / ")) > 25
    assert capsys.readouterr().out.strip() == out.read_text().strip()
    with pytest.raises(starts["PnfError"], match="--starts=both"):
        starts["main"]([f"--models={models}", "--starts=both"])


def harmonic_tone(f0, partials, rate, seconds=1.0, peak=0.3):
    """A sawtooth-like voiced sound: ``partials`` harmonics of ``f0`` Hz at amplitudes 1/k, scaled to ``peak``."""
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, partials + 1))
    return tone * (peak / np.abs(tone).max())


def test_fine_structure_scores_each_estimate_on_the_references_voiced_frames(tmp_path, capsys):
    fine = runpy.run_path(os.path.join(REPO, "benchmarks", "fine_structure.py"), run_name="fine")
    rate = 22050
    rng = np.random.default_rng(0)
    tone = harmonic_tone(150, 14, rate)
    noise = rng.standard_normal(rate) * np.sqrt(np.mean(tone ** 2))     # as loud as the tone: HNR 0 dB
    hiss = 0.003 * rng.standard_normal(rate)                            # what follows the tone: not voiced
    reference = np.concatenate([tone, hiss])
    files = {"ref": reference, "same": reference, "hoarse": np.concatenate([(tone + noise) / 2, hiss]),
             "longer": np.concatenate([reference, tone[:500]]), "loud_hiss": np.concatenate([tone, 30 * hiss])}
    for name, audio in files.items():
        sf.write(tmp_path / f"{name}.wav", audio, rate, subtype="FLOAT")
    paths = {name: str(tmp_path / f"{name}.wav") for name in files}
    assert fine["main"]([paths[n] for n in ("ref", "same", "hoarse", "longer", "loud_hiss")]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == f"reference: {paths['ref']}" and lines[1].startswith("| estimate | voiced frames |")
    rows = {line.split("|")[1].strip(): [float(v) for v in line.split("|")[2:-1]] for line in lines[3:]}
    same, hoarse, longer, loud = (rows[paths[n]] for n in ("same", "hoarse", "longer", "loud_hiss"))
    # columns: voiced frames, reference HNR, estimate HNR, HNR error, voiced too, mel distance: all, voiced, other
    assert 90 <= same[0] <= 106 and same[1] > 25                       # the tone's second: 95 frames inside it
    assert same[2] == same[1] and same[3] == 0 and same[4] == 1 and same[5:] == [0, 0, 0]
    assert hoarse[0] == same[0] and hoarse[2] == pytest.approx(0.0, abs=1.0)
    assert hoarse[3] == pytest.approx(same[1] - hoarse[2], abs=0.02)
    reference_audio = load_audio(paths["ref"], rate, normalize=False)
    hoarse_audio = load_audio(paths["hoarse"], rate, normalize=False)
    assert hoarse[5] == pytest.approx(mel_distance(reference_audio, hoarse_audio), abs=0.006)   # levels as stored
    assert hoarse[6] > 3 and hoarse[7] < 0.5 * hoarse[6]              # the difference lies in the voiced frames
    assert loud[2] == pytest.approx(same[2], abs=0.5) and loud[6] < 0.5 * loud[7]     # ... here in the others
    assert longer == same and "longer.wav has 44600 samples, the reference 44100" in captured.err
    sf.write(tmp_path / "quiet.wav", np.zeros(rate), rate)
    with pytest.raises(SystemExit) as raised:
        fine["run"](fine["main"], [str(tmp_path / "quiet.wav"), paths["same"]])
    assert raised.value.code != 0 and "quiet.wav" in capsys.readouterr().err
    sf.write(tmp_path / "noise.wav", 0.1 * rng.standard_normal(rate), rate)
    with pytest.raises(SystemExit) as raised:
        fine["run"](fine["main"], [str(tmp_path / "noise.wav"), paths["same"]])
    assert "noise.wav: no voiced frame to score" in capsys.readouterr().err


def test_fine_structure_own_averages_recordings_voicing_over_files_and_frames(tmp_path, capsys):
    fine = runpy.run_path(os.path.join(REPO, "benchmarks", "fine_structure.py"), run_name="fine")
    rate = 22050
    rng = np.random.default_rng(1)
    tone = harmonic_tone(120, 11, rate)
    folder = tmp_path / "speech"
    (folder / "sub").mkdir(parents=True)
    audio = {"clean.wav": tone[: rate // 2],                                       # short and clean
             "sub/hoarse.wav": tone + 0.5 * rng.standard_normal(rate) * np.sqrt(np.mean(tone ** 2)),
             "hiss.wav": 0.1 * rng.standard_normal(rate)}                             # no voiced frame
    for name, x in audio.items():
        sf.write(folder / name, x, rate, subtype="FLOAT")
    own = {name: fine["voiced_hnr"](x, x, rate) for name, x in audio.items()}
    assert own["hiss.wav"]["frames"] == 0 and own["clean.wav"]["frames"] < own["sub/hoarse.wav"]["frames"]
    voiced = [own["clean.wav"], own["sub/hoarse.wav"]]
    file_mean = np.mean([row["reference_hnr"] for row in voiced])
    frame_mean = sum(row["reference_hnr"] * row["frames"] for row in voiced) / sum(row["frames"] for row in voiced)
    assert abs(file_mean - frame_mean) > 0.05                  # the two means differ: each is checked below
    assert fine["main"](["--own", str(folder), str(folder / "*.wav")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| audio | files | with voiced frames |")
    rows = [line.strip("| ").split(" | ") for line in lines[2:]]
    assert rows[0] == ["speech", "3", "2", str(sum(row["frames"] for row in voiced)), f"{file_mean:.2f}",
                       f"{frame_mean:.2f}"]
    clean = own["clean.wav"]                                  # the pattern: the folder's top level only
    assert rows[1] == [str(folder / "*.wav"), "2", "1", str(clean["frames"]), f"{clean['reference_hnr']:.2f}",
                       f"{clean['reference_hnr']:.2f}"]
    assert own["sub/hoarse.wav"]["reference_hnr"] < clean["reference_hnr"] - 5
    with pytest.raises(SystemExit) as raised:
        fine["run"](fine["main"], ["--own", str(folder), str(tmp_path / "none*.wav")])
    assert raised.value.code != 0 and "none*.wav: no audio file (.wav, .flac, .ogg, .aiff, .aif) matches this pattern" in capsys.readouterr().err
