"""Each task script end to end on tiny random-weight models and a fraction of a second of audio."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import FAST, REPO, SR, make_dump, make_root, read, run_cli, tiny_hparams, tone
from wavenet_vocoder.audio import load_audio
from wavenet_vocoder.checkpoints import checkpoint_dir_name, save_checkpoint
from wavenet_vocoder.dump_record import write_record
from wavenet_vocoder.gaps import find_dropouts
from wavenet_vocoder.pnf import sgld_inpainting, sgld_separation, sgld_spectrogram_descent, sgld_superres
from wavenet_vocoder.wavenet import WaveNet


@pytest.fixture
def mulaw(tmp_path):
    return make_root(tmp_path / "mulaw", tiny_hparams())


def assert_metrics(metrics):
    for method in ("pnf", "baseline", "ceiling"):
        assert set(metrics[method]) >= {"snr", "si_sdr", "lsd"}
        assert all(np.isfinite(v) for v in metrics[method].values())


def test_superres_end_to_end(tmp_path, mulaw):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav")
    out = tmp_path / "out"
    assert sgld_superres.main([root, src, str(out), f"--preset={preset}", "--downsample_interval", "4"] + FAST) == 0
    files = set(os.listdir(out))
    assert {"x_original.wav", "x_modified.wav", "out_4.0.wav", "out_1.0.wav", "out.wav", "run.json"} <= files
    report = json.loads((out / "run.json").read_text())
    assert [level["sigma"] for level in report["levels"]] == [4.0, 1.0]
    assert report["seed"] == 0 and report["device"].startswith("cpu") and report["steps"] > 0
    assert report["precision"] == "fp32"
    assert all(np.isfinite(level["mean_log_p"]) for level in report["levels"])
    assert_metrics(report["metrics"])
    # The ceiling of the 8-bit mu-law quantiser on this tone is about 30-40 dB.
    assert 25 < report["metrics"]["ceiling"]["snr"] < 45
    original, estimate = read(out / "x_original.wav"), read(out / "out.wav")
    np.testing.assert_array_equal(estimate[::4], original[::4])     # the kept samples, bit for bit
    assert len(estimate) == len(original) == int(0.2 * SR)
    # the cubic spline through the kept samples, scored beside band-limited interpolation
    from wavenet_vocoder.baselines import superres_cubic
    from wavenet_vocoder.metrics import snr
    spline = superres_cubic(original[::4], 4, original.size)
    assert report["metrics"]["spline"]["snr"] == pytest.approx(snr(original, spline), abs=0.01)  # 16-bit wav
    # the noise-floor control: band-limited interpolation plus noise of the lowest sigma where it interpolated
    from wavenet_vocoder.baselines import dither_in_units, superres_bandlimited
    floor = dither_in_units(superres_bandlimited(original[::4], 4, original.size), 1.0, "mulaw-quantize",
                            keep=slice(None, None, 4))
    assert report["metrics"]["noise_floor"]["snr"] == pytest.approx(snr(original, floor), abs=0.01)


def test_superres_with_the_antialias_observation_model(tmp_path, mulaw):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav")
    out = tmp_path / "out"
    assert sgld_superres.main([root, src, str(out), f"--preset={preset}", "--downsample_interval", "4",
                               "--antialias", "--schedule", "tiled"] + FAST) == 0
    report = json.loads((out / "run.json").read_text())
    assert report["observation"] == "antialias" and report["obs_weight"] > 0
    assert_metrics(report["metrics"])
    original, estimate = read(out / "x_original.wav"), read(out / "out.wav")
    assert len(estimate) == len(original) and not np.array_equal(estimate[::4], original[::4])


@pytest.mark.parametrize("file_rate, flag, ratio, grid", [(5512, "file", 4, 5512.5), (11025, "11025", 2, 11025.0)])
def test_superres_of_a_low_rate_recording(tmp_path, mulaw, capsys, file_rate, flag, ratio, grid):
    root, preset = mulaw
    t = np.arange(int(0.15 * file_rate)) / file_rate
    sf.write(tmp_path / "low.wav", 0.5 * np.sin(2 * np.pi * 300 * t), file_rate, subtype="PCM_16")
    out = tmp_path / "out"
    assert sgld_superres.main([root, str(tmp_path / "low.wav"), str(out), f"--preset={preset}", "--input-rate", flag,
                               "--schedule", "tiled"] + FAST) == 0
    err = capsys.readouterr().err
    assert ("not an integer ratio" in err) == (grid != file_rate)
    report = json.loads((out / "run.json").read_text())
    assert "metrics" not in report and (report["ratio"], report["grid_rate"]) == (ratio, grid)
    estimate, rate = sf.read(out / "out.wav")
    assert rate == SR and len(estimate) == report["samples"] and report["samples"] % ratio == 0
    assert abs(report["samples"] / ratio - len(t) * grid / file_rate) <= 1      # the resampler may round up
    assert len(read(out / "x_modified.wav")) == len(estimate)


@pytest.mark.parametrize("case", ["weight", "rate"])
def test_low_rate_flags_explain_their_mistakes(tmp_path, mulaw, capsys, case):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav")
    if case == "weight":
        extra, expected = ["--antialias", "--obs-weight", "-1"], "--obs-weight=-1 must be a positive finite number"
    else:
        extra, expected = ["--input-rate", "20000"], "less than twice that; nothing to upsample"
    code, err = run_cli(sgld_superres.main, [root, src, str(tmp_path / "out"), f"--preset={preset}"] + extra + FAST,
                        capsys)
    assert code == 2 and len(err) == 1 and expected in err[0], err


def test_inpainting_end_to_end(tmp_path, mulaw):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav", seconds=0.3)
    out = tmp_path / "out"
    assert sgld_inpainting.main([root, src, str(out), f"--preset={preset}", "--gap", "0.1,0.15",
                                 "--schedule", "tiled"] + FAST) == 0
    report = json.loads((out / "run.json").read_text())
    assert report["gap_samples"] == [2205, 3308]
    assert_metrics(report["metrics"])
    assert "gap_snr" in report["metrics"]["pnf"]
    original, estimate = read(out / "x_original.wav"), read(out / "out.wav")
    outside = np.ones(len(original), dtype=bool)
    outside[2205:3308] = False
    np.testing.assert_array_equal(estimate[outside], original[outside])
    assert not np.array_equal(estimate[~outside], original[~outside])


def test_inpainting_of_several_gaps_from_flags_and_a_file(tmp_path, mulaw):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav", seconds=0.4)
    gaps_file = tmp_path / "gaps.txt"
    gaps_file.write_text("# start end, seconds\n0.30 0.32\n\n0.105,0.12   # overlaps the first flag\n")
    out = tmp_path / "out"
    assert sgld_inpainting.main([root, src, str(out), f"--preset={preset}", "--gap", "0.1,0.11", "--gap", "0.2,0.21",
                                 f"--gaps-file={gaps_file}", "--schedule", "tiled"] + FAST) == 0
    report = json.loads((out / "run.json").read_text())
    assert [g["samples"] for g in report["gaps"]] == [[2205, 2646], [4410, 4630], [6615, 7056]]
    assert "gap_samples" not in report and report["found_dropouts"] is False
    assert all(set(g["gap_snr"]) == {"pnf", "baseline", "ceiling"} for g in report["gaps"])
    assert_metrics(report["metrics"])
    original, estimate = read(out / "x_original.wav"), read(out / "out.wav")
    inside = np.zeros(len(original), dtype=bool)
    for a, b in ([2205, 2646], [4410, 4630], [6615, 7056]):
        inside[a:b] = True
        assert not np.array_equal(estimate[a:b], original[a:b])
    np.testing.assert_array_equal(estimate[~inside], original[~inside])


def test_inpainting_finds_dropouts_of_digital_silence(tmp_path, mulaw):
    root, preset = mulaw
    t = np.arange(int(0.3 * SR)) / SR
    audio = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.01
    audio[2000:2441] = 0.0                       # a 20 ms dropout
    audio[5000:5050] = 0.0                       # 2.3 ms: shorter than asked for, left alone
    sf.write(tmp_path / "dropouts.wav", audio, SR, subtype="FLOAT")
    out = tmp_path / "out"
    assert sgld_inpainting.main([root, str(tmp_path / "dropouts.wav"), str(out), f"--preset={preset}",
                                 "--find-dropouts", "10", "--schedule", "tiled"] + FAST) == 0
    report = json.loads((out / "run.json").read_text())
    assert report["found_dropouts"] is True and "metrics" not in report
    assert [g["samples"] for g in report["gaps"]] == [[2000, 2441]]
    estimate, original = read(out / "out.wav"), read(out / "x_original.wav")
    assert np.abs(estimate[2000:2441]).max() > 0                   # the dropout is filled
    outside = np.ones(len(original), dtype=bool)
    outside[2000:2441] = False
    np.testing.assert_array_equal(estimate[outside], original[outside])   # the short run of zeros too


def test_inpainting_finds_the_dropouts_of_a_file_at_another_rate(tmp_path, mulaw):
    # Resampling 16 kHz to the preset's 22.05 kHz smears a run of zeros into tiny values: the
    # dropouts are found in the file at its own rate and mapped onto the resampled signal.
    root, preset = mulaw
    t = np.arange(int(0.3 * 16000)) / 16000
    audio = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.01
    audio[1600:1920] = 0.0                       # 20 ms at 16 kHz: samples 2205..2646 at 22.05 kHz
    sf.write(tmp_path / "dropouts16k.wav", audio, 16000, subtype="PCM_16")
    out = tmp_path / "out"
    assert sgld_inpainting.main([root, str(tmp_path / "dropouts16k.wav"), str(out), f"--preset={preset}",
                                 "--find-dropouts", "10", "--schedule", "tiled"] + FAST) == 0
    report = json.loads((out / "run.json").read_text())
    assert [g["samples"] for g in report["gaps"]] == [[2205, 2646]] and report["fill_band_hz"] == 8000
    estimate, original = read(out / "out.wav"), read(out / "x_original.wav")
    resampled = load_audio(str(tmp_path / "dropouts16k.wav"), SR)
    assert find_dropouts(resampled, SR, 10) == []                  # at the preset's rate no run is exactly zero
    outside = np.ones(len(original), dtype=bool)
    outside[2205:2646] = False
    np.testing.assert_array_equal(estimate[outside], original[outside])


@pytest.mark.parametrize("case", ["line", "file", "none"])
def test_inpainting_gap_sources_explain_their_mistakes(tmp_path, mulaw, capsys, case):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav", seconds=0.3)
    if case == "line":
        (tmp_path / "gaps.txt").write_text("0.1 0.12\n0.2 soon\n")
        extra, expected = [f"--gaps-file={tmp_path / 'gaps.txt'}"], "gaps.txt, line 2=0.2 soon: expected two numbers"
        expected += " of seconds, start,end (e.g. 1.1,1.3)"
    elif case == "file":                                         # a gaps file given to --gap: pointed to --gaps-file
        (tmp_path / "gaps.txt").write_text("0.1 0.12\n")
        extra, expected = [f"--gap={tmp_path / 'gaps.txt'}"], "; a file of gaps goes to --gaps-file"
    else:
        extra, expected = ["--find-dropouts", "5"], "has no run of digital silence of 5 ms or more"
    code, err = run_cli(sgld_inpainting.main, [root, src, str(tmp_path / "out"), f"--preset={preset}"] + extra + FAST,
                        capsys)
    assert code == 2 and len(err) == 1 and expected in err[0], err
    assert case != "line" or err[0].endswith(expected)           # the hint is --gap's alone


def test_separation_end_to_end_with_sources_and_with_a_mixture(tmp_path):
    hp = tiny_hparams(input_type="linear-quantize")
    root0, preset = make_root(tmp_path / "piano", hp)
    root1, _ = make_root(tmp_path / "voice", hp)
    a, b = tone(tmp_path / "a.wav", 440), tone(tmp_path / "b.wav", 1250, amplitude=0.3)
    out = tmp_path / "out"
    assert sgld_separation.main([root0, root1, a, b, str(out), f"--preset={preset}"] + FAST) == 0
    assert {"mixed.wav", "out0.wav", "out1.wav", "out0_1.0.wav", "out1_4.0.wav", "run.json"} <= set(os.listdir(out))
    report = json.loads((out / "run.json").read_text())
    for source in ("source0", "source1"):
        assert_metrics(report["metrics"][source])
    # The outputs add up to the mixture, within the likelihood term's tolerance at sigma = 1.
    mixed, s0, s1 = read(out / "mixed.wav"), read(out / "out0.wav"), read(out / "out1.wav")
    assert np.sqrt(np.mean((s0 + s1 - mixed) ** 2)) < 0.02
    out2 = tmp_path / "out2"
    mixture = tmp_path / "mix.wav"
    sf.write(mixture, read(a) + read(b), SR)
    assert sgld_separation.main([root0, root1, f"--mixture={mixture}", str(out2), f"--preset={preset}"] + FAST) == 0
    assert "metrics" not in json.loads((out2 / "run.json").read_text())


def test_spectrogram_end_to_end(tmp_path):
    root, preset = make_root(tmp_path / "mel", tiny_hparams(conditional=True))
    dump = make_dump(tmp_path / "dump_norm" / "dev", frames=300)
    out = tmp_path / "out"
    assert sgld_spectrogram_descent.main([root, dump, str(out), f"--preset={preset}", "--sample-size", "800"]
                                         + FAST) == 0
    assert {"original.wav", "out_4.0.wav", "out.wav", "info.json", "run.json"} <= set(os.listdir(out))
    assert len(read(out / "out.wav")) == 800 and len(read(out / "original.wav")) == 800
    assert json.loads((out / "info.json").read_text())["seconds"] > 0


def test_scripts_run_from_the_shell_as_the_seed_readme_writes_them(tmp_path, mulaw):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav")
    out = tmp_path / "shell_out"
    cmd = [sys.executable, os.path.join(REPO, "wavenet_vocoder", "pnf", "sgld_superres.py"), root, src, str(out),
           f"--preset={preset}", "--downsample_interval", "2"] + FAST
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "sampling on cpu" in result.stderr
    assert (out / "out.wav").is_file()


def test_editing_a_constant_changes_the_default(tmp_path, mulaw, monkeypatch):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav")
    monkeypatch.setattr(sgld_superres, "N_STEPS", 1)
    monkeypatch.setattr(sgld_superres, "SGLD_WINDOW", 500)
    out = tmp_path / "out"
    sgld_superres.main([root, src, str(out), f"--preset={preset}", "--no-progress"])
    report = json.loads((out / "run.json").read_text())
    assert (report["n_steps"], report["sgld_window"]) == (1, 500)


# ---------------------------------------------------------------------------------------------
# Bad input: one clear line naming the problem, a non-zero exit, nothing written.


@pytest.mark.parametrize("case", ["missing", "silent", "unreadable", "interval", "level", "gap", "flag", "precision"])
def test_bad_input_gives_one_line_and_exit_2(tmp_path, mulaw, capsys, case):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav", seconds=0.3)
    out = tmp_path / "out"
    argv = [root, src, str(out), f"--preset={preset}"] + FAST
    main, expected = sgld_superres.main, None
    if case == "missing":
        argv[1], expected = str(tmp_path / "nope.wav"), "nope.wav does not exist"
    elif case == "silent":
        sf.write(tmp_path / "silent.wav", np.zeros(5000), SR)
        argv[1], expected = str(tmp_path / "silent.wav"), "is silent"
    elif case == "unreadable":
        (tmp_path / "bad.wav").write_text("not audio")
        argv[1], expected = str(tmp_path / "bad.wav"), "cannot read audio file"
    elif case == "interval":
        argv += ["--downsample_interval", "1"]
        expected = "--downsample_interval=1 must be at least 2"
    elif case == "level":
        argv[0], expected = str(tmp_path / "empty_root"), "checkpoints4pt0, checkpoints1pt0"
    elif case == "gap":
        main, argv, expected = sgld_inpainting.main, argv + ["--gap", "0.2,0.5"], "lies outside the input"
    elif case == "flag":
        argv += ["--batch-size", "many"]
        expected = "--batch-size=many is not an integer"
    elif case == "precision":
        argv += ["--precision", "fp16"]
        expected = "--precision=fp16: use one of fp32, bf16, reference"
    code, err = run_cli(main, argv, capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert not out.exists() or not any(name.startswith("out") for name in os.listdir(out))


def test_separation_sources_of_different_lengths(tmp_path, capsys):
    hp = tiny_hparams(input_type="linear-quantize")
    root, preset = make_root(tmp_path / "p", hp)
    a, b = tone(tmp_path / "a.wav", seconds=0.2), tone(tmp_path / "b.wav", seconds=0.25)
    out = tmp_path / "out"
    code, err = run_cli(sgld_separation.main, [root, root, a, b, str(out), f"--preset={preset}"] + FAST, capsys)
    assert code == 2 and "--trim" in err[0] and len(err) == 1
    assert sgld_separation.main([root, root, a, b, str(out), f"--preset={preset}", "--trim"] + FAST) == 0
    assert len(read(out / "out0.wav")) == int(0.2 * SR)


def test_separation_refuses_an_unstable_step_size(tmp_path, capsys):
    hp = tiny_hparams(input_type="linear-quantize")
    root, preset = make_root(tmp_path / "p", hp)
    a = tone(tmp_path / "a.wav")
    code, err = run_cli(sgld_separation.main, [root, root, a, a, str(tmp_path / "o"), f"--preset={preset}",
                                               "--step-scale", "0.1"] + FAST, capsys)
    assert code == 2 and len(err) == 1 and "below 0.067" in err[0]
    assert not (tmp_path / "o").exists()


def test_separation_refuses_a_mulaw_preset(tmp_path, mulaw, capsys):
    root, preset = mulaw
    a = tone(tmp_path / "a.wav")
    code, err = run_cli(sgld_separation.main, [root, root, a, a, str(tmp_path / "o"), f"--preset={preset}"], capsys)
    assert code == 2 and "linear-quantised" in err[0]


def test_spectrogram_dump_without_features(tmp_path, capsys):
    root, preset = make_root(tmp_path / "mel", tiny_hparams(conditional=True))
    (tmp_path / "dump").mkdir()
    np.save(tmp_path / "dump" / "utt-00001-wave.npy", np.zeros(100, dtype=np.int16))
    code, err = run_cli(sgld_spectrogram_descent.main, [root, str(tmp_path / "dump"), str(tmp_path / "o"),
                                                         f"--preset={preset}"], capsys)
    # (after the note that, without meanvar.npy, the default warm start falls back to noise)
    assert code == 2 and "no *-feats.npy" in err[-1] and "meanvar.npy is missing" in err[0]


def test_spectrogram_frames_made_with_other_mel_settings_are_refused(tmp_path, capsys):
    """Frames of another band (``fmin``) have the shape the prior takes and would condition it wrongly;
    the record pnf-preprocess leaves in dump_norm/ says so for the dev/ folder below it."""
    hp = tiny_hparams(conditional=True)
    root, preset = make_root(tmp_path / "mel", hp)
    dump = make_dump(tmp_path / "dump_norm" / "dev", frames=300)
    write_record(tmp_path / "dump_norm", hp.replace(fmin=60))
    code, err = run_cli(sgld_spectrogram_descent.main, [root, dump, str(tmp_path / "o"), f"--preset={preset}"] + FAST,
                        capsys)
    assert code == 2 and f"dump folder {dump} was made with fmin=60 (the preset: 125)" in err[-1], err
    assert not os.path.exists(tmp_path / "o")
    write_record(tmp_path / "dump_norm", hp)
    assert sgld_spectrogram_descent.main([root, dump, str(tmp_path / "o"), f"--preset={preset}", "--sample-size", "400"]
                                         + FAST) == 0


def test_spectrogram_given_an_audio_file_says_how_to_make_a_dump(tmp_path, capsys):
    root, preset = make_root(tmp_path / "mel", tiny_hparams(conditional=True))
    src = tone(tmp_path / "speech.wav")
    code, err = run_cli(sgld_spectrogram_descent.main, [root, src, str(tmp_path / "o"), f"--preset={preset}"], capsys)
    assert code == 2 and "speech.wav is a file, not a folder of *-feats.npy files" in err[-1]
    assert "pnf-preprocess <audio-dir> <out> --preset=<json> --stats=<prior>/meanvar.npy" in err[-1]
    assert not os.path.exists(tmp_path / "o")


def test_short_input_shrinks_the_window_and_says_so(tmp_path, mulaw, capsys):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav", seconds=0.02)                 # 441 samples < window 1000
    out = tmp_path / "out"
    assert sgld_superres.main([root, src, str(out), f"--preset={preset}"] + FAST) == 0
    assert "using a window of 441 samples" in capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["sgld_window"] == 441


def test_an_input_file_is_never_overwritten(tmp_path, mulaw, capsys):
    root, preset = mulaw
    folder = tmp_path / "work"
    folder.mkdir()
    src = tone(folder / "x_original.wav")
    before = (folder / "x_original.wav").read_bytes()
    code, err = run_cli(sgld_superres.main, [root, src, str(folder), f"--preset={preset}"] + FAST, capsys)
    assert code == 2 and "refusing to overwrite the input file" in err[0]
    assert (folder / "x_original.wav").read_bytes() == before


def test_divergence_stops_without_writing_nan(tmp_path, mulaw, capsys):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav")
    out = tmp_path / "out"
    code, err = run_cli(sgld_superres.main, [root, src, str(out), f"--preset={preset}", "--step-scale", "1e30"]
                        + FAST, capsys)
    assert code == 2 and err[-1].startswith("error: sampling diverged")
    assert "sigma=4" in err[-1] and "smaller step size" in err[-1]
    assert not any(name.startswith("out") for name in os.listdir(out))


@pytest.mark.parametrize("script, extra", [
    (sgld_superres, ["--downsample_interval", "2"]),
    (sgld_inpainting, ["--gap", "0.05,0.1"]),
])
def test_plot_writes_a_comparison_picture(tmp_path, mulaw, script, extra):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav")
    out = tmp_path / "out"
    assert script.main([root, src, str(out), f"--preset={preset}", "--plot"] + extra + FAST) == 0
    picture = (out / "comparison.png").read_bytes()
    assert picture[:8] == b"\x89PNG\r\n\x1a\n" and len(picture) > 10000


def test_usage_texts_define_each_option_once():
    # docopt reads any line that starts with "-" as an option: a wrapped description must not.
    from docopt import parse_defaults

    from wavenet_vocoder import preprocess, synthesis, train
    from wavenet_vocoder.pnf.settings import SHARED_CONSTANTS
    from wavenet_vocoder.pnf.tasks import inpainting, separation, spectrogram, superres
    for script, task in ((sgld_superres, superres), (sgld_inpainting, inpainting), (sgld_separation, separation),
                         (sgld_spectrogram_descent, spectrogram)):
        constants = {k: getattr(script, k) for k in list(SHARED_CONSTANTS) + list(task.COMMAND.constants)}
        names = [o.long for o in parse_defaults(task.COMMAND.usage_text(constants))]
        assert len(names) == len(set(names)), script.__name__
    for module in (synthesis, preprocess, train):
        names = [o.long for o in parse_defaults(module.__doc__)]
        assert len(names) == len(set(names)), module.__name__
    import ast
    import glob
    for path in glob.glob(os.path.join(REPO, "benchmarks", "*.py")):
        doc = ast.get_docstring(ast.parse(open(path).read())) or ""
        names = [o.long for o in parse_defaults(doc)]
        assert len(names) == len(set(names)), path


def test_separation_with_the_implicit_mixture_step(tmp_path):
    hp = tiny_hparams(input_type="linear-quantize")
    root, preset = make_root(tmp_path / "p", hp)
    a, b = tone(tmp_path / "a.wav", 440), tone(tmp_path / "b.wav", 1250, amplitude=0.3)
    out = tmp_path / "out"
    assert sgld_separation.main([root, root, a, b, str(out), f"--preset={preset}", "--step-scale", "1.0",
                                 "--implicit-mixture"] + FAST) == 0
    mixed, s0, s1 = read(out / "mixed.wav"), read(out / "out0.wav"), read(out / "out1.wav")
    assert np.sqrt(np.mean((s0 + s1 - mixed) ** 2)) < 0.02


def test_a_prior_run_with_another_kind_of_preset_is_a_one_line_error(tmp_path, capsys):
    """A linear prior passed with a mu-law preset (same shapes) stops before sampling, naming the file."""
    linear = tiny_hparams(input_type="linear-quantize")
    root = tmp_path / "linear"
    for sigma in linear.sigmas:
        save_checkpoint(root / checkpoint_dir_name(sigma) / "checkpoint_latest_ema.pth", WaveNet.from_hparams(linear),
                        hparams=linear)
    mulaw_preset = tmp_path / "mulaw.json"
    mulaw_preset.write_text(json.dumps(tiny_hparams().to_dict()))
    out = tmp_path / "out"
    code, err = run_cli(sgld_superres.main, [str(root), tone(tmp_path / "in.wav"), str(out), f"--preset={mulaw_preset}"]
                        + FAST, capsys)
    assert code == 2 and len(err) == 1, err
    assert "was trained with input_type=linear-quantize (the preset: mulaw-quantize)" in err[0]
    assert str(root) in err[0] and not out.exists()
