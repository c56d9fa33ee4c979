"""The shared task command: the Task protocol, a task added as one module (declipping), and the
mistakes it refuses before any compute, each with one line."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import FAST, SR, make_root, read, run_cli, tiny_hparams, tone
from wavenet_vocoder.pnf import sgld_separation, sgld_superres
from wavenet_vocoder.pnf.task import Task
from wavenet_vocoder.pnf.tasks import declipping, inpainting, separation, spectrogram, superres
from wavenet_vocoder.mel_dumps import load_mel
from wavenet_vocoder.quantize import quantize, to_units
from wavenet_vocoder.voicing import sample_temperatures, voiced_mel_frames, voiced_normalised_frames


@pytest.fixture
def mulaw(tmp_path):
    return make_root(tmp_path / "mulaw", tiny_hparams())


def test_every_task_follows_the_public_protocol():
    observed = np.full(64, 127.0)
    tasks = [superres.SuperResolution(observed, 4), inpainting.Inpainting(observed, [(10, 20)]),
             separation.Separation(observed), spectrogram.SpectrogramConditioned(np.zeros((5, 8)), 2, 4),
             superres.LowRateSuperResolution(np.zeros(16), 4, 64, "mulaw-quantize"),
             declipping.Declipping(observed, 20.0, 230.0)]
    for task in tasks:
        assert isinstance(task, Task), type(task).__name__
        x = task.initial_state(torch.Generator().manual_seed(0))
        assert tuple(x.shape) == (task.n_sources, task.length) == tuple(task.movable().shape)


def test_declipping_moves_only_clipped_samples_and_only_beyond_the_level(tmp_path, mulaw):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav", seconds=0.3)
    out = tmp_path / "out"
    assert declipping.main([root, src, str(out), f"--preset={preset}", "--clip=0.6"] + FAST) == 0
    clean, clipped, restored = read(out / "x_original.wav"), read(out / "x_modified.wav"), read(out / "out.wav")
    level_units = quantize(np.array([-0.6, 0.6]), "mulaw-quantize")
    units = quantize(clipped, "mulaw-quantize")
    moved = (units >= level_units[1]) | (units <= level_units[0] + 1)
    # Untouched samples are the input's, bit for bit (16-bit files: equal integers).
    np.testing.assert_array_equal(restored[~moved], clipped[~moved])
    # Clipped samples stay at or beyond their level: 1/32768 is one 16-bit step of the written file.
    top = clipped >= 0.6 - 1 / 32768
    bottom = clipped <= -0.6 + 1 / 32768
    assert top.any() and bottom.any()
    assert (restored[top] >= 0.59).all() and (restored[bottom] <= -0.59).all()
    report = json.loads((out / "run.json").read_text())
    assert report["task"] == "declipping" and 0 < report["clipped_fraction"] < 1
    assert set(report["metrics"]) == {"pnf", "baseline", "spline"} and np.isfinite(report["metrics"]["pnf"]["snr"])
    assert clean.size == restored.size


def test_declipping_starts_warm_from_the_spline_across_the_clipped_samples():
    from wavenet_vocoder.baselines import declip_spline
    x = 0.9 * np.sin(2 * np.pi * np.arange(400) / 100)
    clipped = np.clip(x, -0.6, 0.6)
    observed = quantize(clipped, "mulaw-quantize").astype(np.float64)
    low, high = float(observed.min()), float(observed.max())
    moved = (observed >= high) | (observed <= low)
    spline = to_units(torch.from_numpy(declip_spline(clipped, moved)), "mulaw-quantize").float()
    task = declipping.Declipping(observed, low, high, spline)
    # The warm start's origin is the spline, beyond the clip levels where it moved; the plain task's
    # is the clipped signal.
    np.testing.assert_array_equal(task.baseline()[0].numpy(), spline.numpy())
    assert (task.baseline()[0][torch.from_numpy(observed >= high)] > high).any()
    np.testing.assert_array_equal(declipping.Declipping(observed, low, high).baseline()[0].numpy(),
                                  observed.astype(np.float32))


@pytest.mark.parametrize("argv_case, expected", [
    ("unknown", "error: unknown option --frobnicate"),
    ("mixture", "error: the arguments fit no usage line below (5 positional arguments given"),
])
def test_a_usage_mistake_is_named_on_the_first_line(tmp_path, mulaw, capsys, argv_case, expected):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav")
    if argv_case == "unknown":
        code, err = run_cli(sgld_superres.main, [root, src, str(tmp_path / "o"), "--frobnicate=1"], capsys)
    else:
        code, err = run_cli(sgld_separation.main, [root, root, src, src, f"--mixture={src}", str(tmp_path / "o")],
                            capsys)
    assert code == 2 and err[0].startswith(expected)
    assert sum(line.startswith("Usage:") for line in err) == 1          # the usage lines once, after the mistake


def test_usage_names_the_command_it_runs_as(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["/usr/local/bin/pnf-superres", "--help"])
    with pytest.raises(SystemExit):
        sgld_superres.main()
    assert "  pnf-superres <checkpoint> <input-file> <output-dir> [options]" in capsys.readouterr().out


HELP_PROBE = """
import importlib
import sys
command = importlib.import_module("{module}")
try:
    command.main(["--help"])
except SystemExit:
    pass
heavy = ("torch._C", "scipy.signal._signaltools", "scipy.interpolate._interpolate", "librosa.core",
         "nnmnkwii.preprocessing.f0", "wavenet_vocoder.wavenet")
print(",".join(name for name in heavy if name in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("module", ["wavenet_vocoder.pnf.sgld_superres", "wavenet_vocoder.pnf.sgld_inpainting",
                                    "wavenet_vocoder.pnf.sgld_separation",
                                    "wavenet_vocoder.pnf.sgld_spectrogram_descent", "wavenet_vocoder.train"])
def test_help_answers_before_torch_is_loaded(module):
    # --help (and a usage mistake) must not wait for torch, scipy.signal and librosa (2-30 s of
    # imports): in a fresh interpreter, printing the usage leaves all of them unloaded.
    done = subprocess.run([sys.executable, "-c", HELP_PROBE.format(module=module)], capture_output=True,
                          text=True, timeout=120)
    assert "Usage:" in done.stdout
    assert done.stderr.strip().splitlines()[-1:] in ([], [""]), f"loaded before parsing: {done.stderr}"


def test_help_into_a_closed_pipe_ends_quietly_with_the_sigpipe_status():
    # `pnf-train --help | head -2`: the reader has gone before the usage is written. The command
    # ends with 141 (128 + SIGPIPE, what the shell reports for a process the pipe killed) and
    # writes nothing to stderr: no traceback of the BrokenPipeError.
    read_end, write_end = os.pipe()
    os.close(read_end)                   # every write to the pipe now fails with EPIPE
    try:
        done = subprocess.run([sys.executable, "-m", "wavenet_vocoder.train", "--help"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert done.returncode == 141
    assert done.stderr == ""


def test_a_bad_checkpoint_at_a_late_level_fails_before_any_output(tmp_path, mulaw, capsys):
    root, preset = mulaw
    late = os.path.join(root, "checkpoints1pt0", "checkpoint_latest_ema.pth")
    with open(late, "r+b") as f:
        f.truncate(100)
    src = tone(tmp_path / "in.wav")
    out = tmp_path / "out"
    code, err = run_cli(sgld_superres.main, [root, src, str(out), f"--preset={preset}"] + FAST, capsys)
    assert code == 2 and len(err) == 1 and "cannot read checkpoint" in err[0] and "checkpoints1pt0" in err[0]
    assert not out.exists()


def test_an_input_among_the_outputs_is_refused_before_sampling(tmp_path, mulaw, capsys):
    root, preset = mulaw
    folder = tmp_path / "work"
    folder.mkdir()
    src = tone(folder / "out.wav")
    code, err = run_cli(sgld_superres.main, [root, src, str(folder), f"--preset={preset}"] + FAST, capsys)
    assert code == 2 and "refusing to overwrite the input file" in err[-1]
    assert sorted(os.listdir(folder)) == ["out.wav"]          # nothing sampled, nothing written


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, mulaw, capsys):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, err = run_cli(sgld_superres.main, [root, src, str(blocker / "out"), f"--preset={preset}"] + FAST, capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: output folder {blocker / 'out'} cannot be written")


def test_stereo_and_other_rates_are_converted_with_a_note(tmp_path, mulaw, capsys):
    root, preset = mulaw
    t = np.arange(int(0.2 * 48000)) / 48000
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)], axis=1)
    sf.write(tmp_path / "in.wav", stereo, 48000)
    assert sgld_superres.main([root, str(tmp_path / "in.wav"), str(tmp_path / "out"), f"--preset={preset}"]
                              + FAST) == 0
    err = capsys.readouterr().err
    assert "its 2 channels averaged to mono and resampled from 48000 Hz to the preset's 22050 Hz" in err


def test_crop_then_scale_is_the_published_order(tmp_path, mulaw):
    root, preset = mulaw
    # A quiet first half and a loud second half: cropping the first half, then scaling, gives peak 1.
    quiet, loud = 0.2 * np.sin(np.arange(2205) / 5), 0.9 * np.sin(np.arange(2205) / 5)
    sf.write(tmp_path / "in.wav", np.concatenate([quiet, loud]), SR)
    peaks = {}
    for flag in ([], ["--crop-then-scale"]):
        out = tmp_path / f"out{len(flag)}"
        assert sgld_superres.main([root, str(tmp_path / "in.wav"), str(out), f"--preset={preset}",
                                   "--sample-size=2205"] + flag + FAST) == 0
        peaks[bool(flag)] = np.abs(read(out / "x_original.wav")).max()
    assert peaks[False] == pytest.approx(0.2 / 0.9, abs=2e-3)   # the whole file at peak 1, then cropped
    assert peaks[True] == pytest.approx(1.0, abs=1e-3)          # 16-bit rounding of the written peak


def test_spectrogram_notes_features_that_are_not_normalised(tmp_path, capsys):
    from conftest import make_dump
    from wavenet_vocoder.pnf import sgld_spectrogram_descent
    root, preset = make_root(tmp_path / "mel", tiny_hparams(conditional=True))
    dump = make_dump(tmp_path / "dump", frames=300)
    argv = [root, dump, str(tmp_path / "out"), f"--preset={preset}", "--sample-size", "400"] + FAST
    assert sgld_spectrogram_descent.main(argv) == 0
    assert "do not look normalised" not in capsys.readouterr().err       # standard normal features
    feats = os.path.join(dump, "utt-00001-feats.npy")
    loud = np.load(feats)
    loud[:, :2] += 1.9                                     # a loud excerpt: low bands well above their mean
    np.save(feats, loud)
    assert sgld_spectrogram_descent.main(argv[:2] + [str(tmp_path / "out1")] + argv[3:]) == 0
    assert "do not look normalised" not in capsys.readouterr().err
    np.save(feats, np.load(feats) * 0.3 - 3.0)                          # as raw log10 magnitudes look
    assert sgld_spectrogram_descent.main(argv[:2] + [str(tmp_path / "out2")] + argv[3:]) == 0
    assert "the mel features" in capsys.readouterr().err


@pytest.mark.parametrize("task", ["superres", "antialias", "inpainting", "separation", "spectrogram", "declipping"])
def test_every_task_starts_warm_from_its_plain_estimate(tmp_path, capsys, task):
    from conftest import make_dump
    from wavenet_vocoder.pnf import sgld_inpainting, sgld_spectrogram_descent
    hp = tiny_hparams(conditional=task == "spectrogram", input_type="linear-quantize" if task == "separation" else
                      "mulaw-quantize", sigmas="[20.0,4.0,1.0]")
    root, preset = make_root(tmp_path / "prior", hp)
    src = tone(tmp_path / "in.wav", seconds=0.2)
    out = tmp_path / "out"
    warm = ["--init=baseline", "--start-sigma=5", "--level-steps=1,2,3"]
    if task == "spectrogram":
        np.save(os.path.join(root, "meanvar.npy"), np.stack([np.full(5, -2.0), np.ones(5)]))
        dump = make_dump(tmp_path / "dump", frames=200)
        argv, main = [root, dump, str(out), f"--preset={preset}", "--sample-size=400"], sgld_spectrogram_descent.main
    elif task == "separation":
        other = tone(tmp_path / "other.wav", 900, seconds=0.2)
        argv, main = [root, root, src, other, str(out), f"--preset={preset}", "--implicit-mixture"], sgld_separation.main
    elif task == "inpainting":
        argv, main = [root, src, str(out), f"--preset={preset}", "--gap=0.05,0.1"], sgld_inpainting.main
    elif task == "declipping":
        argv, main = [root, src, str(out), f"--preset={preset}", "--clip=0.5"], declipping.main
    else:
        argv, main = [root, src, str(out), f"--preset={preset}"] + (["--antialias"] if task == "antialias" else []), \
            sgld_superres.main
    assert main(argv + FAST + warm) == 0
    assert "from the plain estimate at sigma 4" in capsys.readouterr().err
    report = json.loads((out / "run.json").read_text())
    assert report["init"] == "baseline" and report["sigmas"] == [4.0, 1.0] and report["level_steps"] == [2, 3]
    assert [level["sigma"] for level in report["levels"]] == [4.0, 1.0]
    assert not (out / "out_20.0.wav").exists() and not (out / "out0_20.0.wav").exists()


@pytest.mark.parametrize("flags, init, sigmas", [
    ([], "baseline", [4.0, 1.0]),                           # the scripts' default: warm from warm_start_sigma
    (["--init=noise"], "noise", [20.0, 4.0, 1.0]),           # the published start: every level, from noise
    (["--start-sigma=25"], "baseline", [20.0, 4.0, 1.0]),    # the flag over the preset
    (["--hparams=warm_start_sigma=null"], "baseline", [20.0, 4.0, 1.0]),
])
def test_scripts_start_warm_from_the_presets_warm_start_sigma_by_default(tmp_path, flags, init, sigmas):
    hp = tiny_hparams(sigmas="[20.0,4.0,1.0]").replace(warm_start_sigma=10.0)
    root, preset = make_root(tmp_path / "prior", hp)
    out = tmp_path / "out"
    assert sgld_superres.main([root, tone(tmp_path / "in.wav"), str(out), f"--preset={preset}"] + FAST + flags) == 0
    report = json.loads((out / "run.json").read_text())
    assert report["init"] == init and report["sigmas"] == sigmas
    assert [level["sigma"] for level in report["levels"]] == sigmas


def test_a_presets_warm_start_for_one_task_leaves_the_others_at_warm_start_sigma(tmp_path):
    from wavenet_vocoder.pnf import sgld_inpainting
    hp = tiny_hparams(sigmas="[20.0,4.0,1.0]").replace(warm_start_sigma=10.0, task_warm_start_sigma={"superres": 1.0})
    root, preset = make_root(tmp_path / "prior", hp)
    src = tone(tmp_path / "in.wav")
    runs = {"superres": (sgld_superres.main, [], [1.0]), "inpainting": (sgld_inpainting.main, ["--gap=0.05,0.1"], [4.0, 1.0]),
            "flag": (sgld_superres.main, ["--start-sigma=5"], [4.0, 1.0]),             # the flag over the preset
            "noise": (sgld_superres.main, ["--init=noise"], [20.0, 4.0, 1.0])}          # the published start
    for name, (main, extra, sigmas) in runs.items():
        assert main([root, src, str(tmp_path / name), f"--preset={preset}"] + FAST + extra) == 0
        report = json.loads((tmp_path / name / "run.json").read_text())
        assert report["sigmas"] == sigmas and [level["sigma"] for level in report["levels"]] == sigmas


@pytest.mark.parametrize("per_task, message", [
    ({"superres": 0.5}, "task_warm_start_sigma.superres=0.5 lies below every level"),
    ({"super-resolution": 1.0}, "task_warm_start_sigma has an unknown task 'super-resolution': use superres, "),
    ({"superres": "low"}, "task_warm_start_sigma.superres='low' is malformed: expected a number or null"),
])
def test_a_bad_task_warm_start_is_a_preset_error(tmp_path, per_task, message):
    from wavenet_vocoder.hparams import PresetError, load_preset
    preset = tmp_path / "p.json"
    preset.write_text(json.dumps({"sigmas": [4.0, 1.0], "task_warm_start_sigma": per_task}))
    with pytest.raises(PresetError, match=re.escape(message)):
        load_preset(str(preset))


@pytest.mark.parametrize("preset_scale, flags, expected", [
    (None, [], 0.05),                    # the script's STEP_SCALE (the published value)
    (0.3, [], 0.3),                      # the preset's step_scale over the constant
    (0.3, ["--step-scale=0.7"], 0.7),    # the flag over both
])
def test_step_scale_comes_from_the_flag_then_the_preset_then_the_script(tmp_path, preset_scale, flags, expected):
    root, preset = make_root(tmp_path / "prior", tiny_hparams().replace(step_scale=preset_scale))
    out = tmp_path / "out"
    argv = [root, tone(tmp_path / "in.wav"), str(out), f"--preset={preset}", "--init=noise"]
    assert sgld_superres.main(argv + FAST + flags) == 0
    assert json.loads((out / "run.json").read_text())["step_scale"] == expected


def test_a_warm_start_sigma_below_every_level_is_a_preset_error(tmp_path):
    from wavenet_vocoder.hparams import PresetError, load_preset
    preset = tmp_path / "p.json"
    preset.write_text(json.dumps({"sigmas": [4.0, 1.0], "warm_start_sigma": 0.5}))
    with pytest.raises(PresetError, match="warm_start_sigma=0.5 lies below every level"):
        load_preset(str(preset))


def test_spectrogram_without_statistics_starts_from_noise_by_default_and_says_so(tmp_path, capsys):
    from conftest import make_dump
    from wavenet_vocoder.pnf import sgld_spectrogram_descent
    root, preset = make_root(tmp_path / "prior", tiny_hparams(conditional=True).replace(warm_start_sigma=1.0))
    argv = [root, make_dump(tmp_path / "dump", frames=50), str(tmp_path / "out"), f"--preset={preset}"] + FAST
    assert sgld_spectrogram_descent.main(argv) == 0
    assert "meanvar.npy is missing" in capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "run.json").read_text())
    assert report["init"] == "noise" and report["sigmas"] == [4.0, 1.0]
    # asked for, the warm start is refused with the reason instead
    code, err = run_cli(sgld_spectrogram_descent.main, argv[:2] + [str(tmp_path / "o2")] + argv[3:] + ["--init=baseline"],
                        capsys)
    assert code == 2 and "meanvar.npy" in err[-1]


@pytest.mark.parametrize("flag, message", [
    ("--init=warm", "--init=warm: use noise or baseline"),
    ("--start-sigma=0.1", "--start-sigma=0.1 lies below every level"),
    ("--level-steps=1,2,3", "--level-steps=1,2,3: give a positive count for each of the 2 levels"),
    ("--temperature=-0.5", "--temperature=-0.5: give 0 or more"),
    ("--temperature=warm", "--temperature=warm is not a number"),
])
def test_bad_warm_start_flags_are_one_line(tmp_path, mulaw, capsys, flag, message):
    root, preset = mulaw
    code, err = run_cli(sgld_superres.main, [root, tone(tmp_path / "in.wav"), str(tmp_path / "o"),
                                             f"--preset={preset}", flag] + FAST, capsys)
    assert code == 2 and err == [f"error: {message}" + err[0][len(f"error: {message}"):]] and message in err[0]


def test_a_preset_step_scale_too_large_for_the_explicit_mixture_is_one_line(tmp_path, capsys):
    root, preset = make_root(tmp_path / "prior", tiny_hparams(input_type="linear-quantize").replace(step_scale=1.0))
    a = tone(tmp_path / "a.wav")
    code, err = run_cli(sgld_separation.main, [root, root, a, a, str(tmp_path / "o"), f"--preset={preset}"] + FAST,
                        capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: step scale 1 (--step-scale, else the preset's step_scale") and \
        "pass --implicit-mixture, or --step-scale below 0.067" in err[0]


def test_a_preset_that_asks_for_the_implicit_mixture_step_gets_it_without_the_flag(tmp_path):
    hp = tiny_hparams(input_type="linear-quantize").replace(step_scale=1.0, implicit_mixture=True)
    root, preset = make_root(tmp_path / "prior", hp)
    a, b = tone(tmp_path / "a.wav"), tone(tmp_path / "b.wav", 300)
    assert sgld_separation.main([root, root, a, b, str(tmp_path / "o"), f"--preset={preset}"] + FAST) == 0
    report = json.loads((tmp_path / "o" / "run.json").read_text())
    assert report["mixture_step"] == "implicit" and np.isfinite(read(tmp_path / "o" / "out0.wav")).all()
    # the same run with the flag: the same function, the same output
    assert sgld_separation.main([root, root, a, b, str(tmp_path / "f"), f"--preset={preset}", "--implicit-mixture"]
                                + FAST) == 0
    assert np.array_equal(read(tmp_path / "o" / "out0.wav"), read(tmp_path / "f" / "out0.wav"))
    explicit, explicit_preset = make_root(tmp_path / "explicit", tiny_hparams(input_type="linear-quantize"))
    assert sgld_separation.main([explicit, explicit, a, b, str(tmp_path / "e"), f"--preset={explicit_preset}"] + FAST) == 0
    assert json.loads((tmp_path / "e" / "run.json").read_text())["mixture_step"] == "explicit"


def test_denoise_with_the_explicit_mixture_is_one_line_and_runs_with_the_implicit_one(tmp_path, capsys):
    root, preset = make_root(tmp_path / "prior", tiny_hparams(input_type="linear-quantize"))
    a, b = tone(tmp_path / "a.wav"), tone(tmp_path / "b.wav", 300)
    argv = [root, root, a, b, str(tmp_path / "o"), f"--preset={preset}", "--denoise"] + FAST
    code, err = run_cli(sgld_separation.main, argv, capsys)
    assert code == 2 and len(err) == 1 and "pass --implicit-mixture with it" in err[0]
    assert not (tmp_path / "o").exists()
    assert sgld_separation.main(argv + ["--implicit-mixture"]) == 0
    assert np.isfinite(read(tmp_path / "o" / "out0.wav")).all()


def test_script_constants_are_the_scripts_values_with_changes_over_them(monkeypatch):
    from wavenet_vocoder.pnf.command import script_constants
    monkeypatch.setattr(sgld_separation, "GAMMA_SCALE", 7.0)            # a user's edit of the script
    values = script_constants(sgld_separation, separation.COMMAND, INIT="noise")
    assert values["GAMMA_SCALE"] == 7.0 and values["INIT"] == "noise"
    assert values["MIX_PEAK"] == sgld_separation.MIX_PEAK and values["N_STEPS"] == sgld_separation.N_STEPS
    assert set(values) == set(script_constants(sgld_separation, separation.COMMAND))
    with pytest.raises(ValueError, match="GAP"):
        script_constants(sgld_separation, separation.COMMAND, GAP=(0, 1))    # an inpainting constant


def test_chains_write_the_mean_of_independent_chains(tmp_path, mulaw, capsys):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav", seconds=0.1)
    base = [root, src, None, f"--preset={preset}", "--downsample_interval", "4", "--init", "noise"] + FAST
    outputs = {}
    for name, extra in (("seed0", ["--seed=0"]), ("seed1000", ["--seed=1000"]), ("chains", ["--chains=2"])):
        argv = list(base)
        argv[2] = str(tmp_path / name)
        assert sgld_superres.main(argv + extra) == 0
        outputs[name] = tmp_path / name
    assert "chain 2 of 2 (seed 1000)" in capsys.readouterr().err
    mean = (read(outputs["seed0"] / "out.wav") + read(outputs["seed1000"] / "out.wav")) / 2
    np.testing.assert_allclose(read(outputs["chains"] / "out.wav"), mean, atol=1e-4)   # 16-bit files
    assert not np.allclose(read(outputs["seed0"] / "out.wav"), read(outputs["seed1000"] / "out.wav"), atol=1e-3)
    # The per-level files are the first chain's sample; run.json says what the output is.
    last = sorted(p.name for p in outputs["seed0"].glob("out_*.wav"))[-1]
    assert (outputs["chains"] / last).read_bytes() == (outputs["seed0"] / last).read_bytes()
    report = json.loads((outputs["chains"] / "run.json").read_text())
    assert report["chains"]["count"] == 2 and report["chains"]["seeds"] == [0, 1000]


def test_chains_below_one_are_a_one_line_error(tmp_path, mulaw, capsys):
    root, preset = mulaw
    code, err = run_cli(sgld_superres.main, [root, tone(tmp_path / "in.wav"), str(tmp_path / "o"),
                                             f"--preset={preset}", "--chains=0"] + FAST, capsys)
    assert code == 2 and err[0].startswith("error: --chains") and len(err) == 1


def test_denoise_flag_ends_with_the_tweedie_step_and_says_so(tmp_path, mulaw):
    root, preset = mulaw
    src = tone(tmp_path / "in.wav", seconds=0.1)
    outputs = {}
    for name, extra in (("plain", []), ("denoised", ["--denoise"])):
        out = tmp_path / name
        assert sgld_superres.main([root, src, str(out), f"--preset={preset}", "--downsample_interval", "4"]
                                  + FAST + extra) == 0
        outputs[name] = out
    last = min((p.name for p in outputs["plain"].glob("out_*.wav")), key=lambda n: float(n[4:-4]))  # lowest sigma
    # The same chain up to its last level; only the final output takes the step.
    assert (outputs["denoised"] / last).read_bytes() == (outputs["plain"] / last).read_bytes()
    assert (outputs["plain"] / "out.wav").read_bytes() == (outputs["plain"] / last).read_bytes()
    moved = read(outputs["denoised"] / "out.wav") - read(outputs["denoised"] / last)
    assert np.abs(moved).max() > 1e-3 and np.all(moved[::4] == 0)                    # kept samples stay
    assert json.loads((outputs["denoised"] / "run.json").read_text())["denoise"] is True
    assert json.loads((outputs["plain"] / "run.json").read_text())["denoise"] is False


def run_on_a_16k_recording(tmp_path, main, root, preset, runs, flags):
    """Run ``main`` (a task script's) on a 0.2 s tone recorded at 16 kHz, tmp_path/in16k.wav, once per
    (name, extra flags) of ``runs``, one of them "none" (--fill-band=none); checks that every run sampled
    the same chain and that the per-level files and "none"'s out.wav keep it as sampled. Returns ({name:
    output folder}, the name of the lowest level's per-level file)."""
    t = np.arange(int(0.2 * 16000)) / 16000
    sf.write(tmp_path / "in16k.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 16000)
    outputs = {}
    for name, extra in runs:
        outputs[name] = tmp_path / name
        assert main([root, str(tmp_path / "in16k.wav"), str(outputs[name]), f"--preset={preset}"] + flags + FAST
                    + extra) == 0
    last = min((p.name for p in outputs["none"].glob("out_*.wav")), key=lambda n: float(n[4:-4]))  # lowest sigma
    for name in outputs:
        assert (outputs[name] / last).read_bytes() == (outputs["none"] / last).read_bytes()
    assert (outputs["none"] / "out.wav").read_bytes() == (outputs["none"] / last).read_bytes()
    assert json.loads((outputs["none"] / "run.json").read_text())["fill_band_hz"] is None
    return outputs, last


def test_a_fill_from_a_lower_rate_recording_keeps_only_its_band(tmp_path, mulaw):
    from wavenet_vocoder.band import limit_fill_band
    from wavenet_vocoder.pnf import sgld_inpainting
    from wavenet_vocoder.pnf.command import run_task, script_constants
    root, preset = mulaw
    # The same chain in every run; the per-level files keep it as sampled, out.wav's fill keeps the band.
    outputs, last = run_on_a_16k_recording(tmp_path, sgld_inpainting.main, root, preset,
                                           (("auto", []), ("none", ["--fill-band=none"]), ("6k", ["--fill-band=6000"])),
                                           ["--gap=0.08,0.12", "--init=noise"])
    sampled = read(outputs["auto"] / last)
    a, b = json.loads((outputs["auto"] / "run.json").read_text())["gap_samples"]
    gap = np.zeros(sampled.size, dtype=bool)
    gap[a:b] = True
    for name, edge in (("auto", 8000.0), ("6k", 6000.0)):
        report = json.loads((outputs[name] / "run.json").read_text())
        assert report["fill_band_hz"] == edge
        np.testing.assert_allclose(read(outputs[name] / "out.wav"), limit_fill_band(sampled, gap, edge, SR),
                                   atol=1e-4)                                        # 16-bit files
    removed = read(outputs["auto"] / "out.wav") - sampled
    assert np.abs(removed[a:b]).max() > 1e-3 and not removed[:a].any() and not removed[b:].any()
    # the script's constant FILL_BAND, when no flag is given
    constants = script_constants(sgld_inpainting, inpainting.COMMAND, FILL_BAND="none")
    assert run_task(inpainting.COMMAND, constants, [root, str(tmp_path / "in16k.wav"), str(tmp_path / "constant"),
                                                    f"--preset={preset}", "--gap=0.08,0.12", "--init=noise"] + FAST) == 0
    assert (tmp_path / "constant" / "out.wav").read_bytes() == (outputs["none"] / "out.wav").read_bytes()


def test_super_resolution_of_a_lower_rate_recording_fills_in_only_its_band(tmp_path, mulaw):
    from wavenet_vocoder.band import FILL_BAND_MAX_PASSES, limit_fill_band
    root, preset = mulaw
    # The same chain in every run; the per-level files keep it as sampled, out.wav keeps the band in what was filled in.
    runs = (("auto", []), ("none", ["--fill-band=none"]), ("6k", ["--fill-band=6000"]))
    outputs, last = run_on_a_16k_recording(tmp_path, sgld_superres.main, root, preset, runs,
                                           ["--downsample_interval=4", "--init=noise"])
    sampled = read(outputs["auto"] / last)
    kept = np.zeros(sampled.size, dtype=bool)
    kept[::4] = True
    for name, edge in (("auto", 8000.0), ("6k", 6000.0)):
        report = json.loads((outputs[name] / "run.json").read_text())
        assert report["fill_band_hz"] == edge
        out = read(outputs[name] / "out.wav")
        expected = np.clip(limit_fill_band(sampled, ~kept, edge, SR, passes=FILL_BAND_MAX_PASSES), -1, 1)   # 16-bit
        np.testing.assert_allclose(out, expected, atol=1e-4)
        assert np.array_equal(out[kept], sampled[kept]) and np.abs(out - sampled).max() > 1e-3
    # the noise-floor control in run.json is limited alike: nearer the (band-limited) original than as drawn
    auto, none = (json.loads((outputs[n] / "run.json").read_text())["metrics"]["noise_floor"] for n in ("auto", "none"))
    assert auto["snr"] > none["snr"] and auto["lsd"] < none["lsd"]
    # anti-aliased observation: no sample is kept, every one is filled in and limited
    (tmp_path / "antialias").mkdir()
    antialias, last = run_on_a_16k_recording(tmp_path / "antialias", sgld_superres.main, root, preset, runs[:2],
                                             ["--downsample_interval=4", "--init=noise", "--antialias"])
    sampled = read(antialias["none"] / last)
    expected = limit_fill_band(sampled, np.ones(sampled.size, dtype=bool), 8000, SR, passes=FILL_BAND_MAX_PASSES)
    np.testing.assert_allclose(read(antialias["auto"] / "out.wav"), np.clip(expected, -1, 1), atol=1e-4)


def test_separation_limits_each_source_to_the_band_of_the_file_it_comes_from(tmp_path, capsys):
    from wavenet_vocoder.band import limit_source_bands
    from wavenet_vocoder.pnf.command import run_task, script_constants
    root, preset = make_root(tmp_path / "prior", tiny_hparams(input_type="linear-quantize"))
    piano = tone(tmp_path / "piano.wav")                                  # 22.05 kHz, the preset's rate
    t = np.arange(int(0.2 * 16000)) / 16000
    sf.write(tmp_path / "voice16k.wav", 0.4 * np.sin(2 * np.pi * 300 * t), 16000)   # made at 16 kHz
    base = [root, root, piano, str(tmp_path / "voice16k.wav")]
    flags = [f"--preset={preset}", "--implicit-mixture", "--init=noise", "--trim"] + FAST
    runs = {"auto": ([], [None, 8000.0]), "none": (["--fill-band=none"], [None, None]),
            "6k": (["--fill-band=6000"], [6000.0, 6000.0]), "each": (["--fill-band=7000,none"], [7000.0, None])}
    for name, (extra, _) in runs.items():
        assert sgld_separation.main(base + [str(tmp_path / name)] + flags + extra) == 0
    levels = sorted(p.name for p in (tmp_path / "none").glob("out0_*.wav"))
    last = [min(levels, key=lambda n: float(n[5:-4])), None]
    last[1] = "out1" + last[0][4:]
    sampled = np.stack([read(tmp_path / "none" / f) for f in last])      # the chain's state as sampled
    for name, (extra, bands) in runs.items():
        for f in last:                                                    # the same chain in every run
            assert (tmp_path / name / f).read_bytes() == (tmp_path / "none" / f).read_bytes()
        report = json.loads((tmp_path / name / "run.json").read_text())
        assert report["fill_band_hz"] == bands
        out = np.stack([read(tmp_path / name / f"out{i}.wav") for i in (0, 1)])
        np.testing.assert_allclose(out, np.clip(limit_source_bands(sampled, bands, SR), -1, 1), atol=1e-4)
        np.testing.assert_allclose(out.sum(axis=0), sampled.sum(axis=0), atol=3e-4)   # the sum unchanged
        assert (name == "none") == np.array_equal(out, sampled)
    # a mixture made at 16 kHz: both sources keep its band
    sf.write(tmp_path / "mix16k.wav", 0.4 * np.sin(2 * np.pi * 300 * t) + 0.2 * np.sin(2 * np.pi * 700 * t), 16000)
    assert sgld_separation.main([root, root, f"--mixture={tmp_path / 'mix16k.wav'}", str(tmp_path / "mix")] + flags) == 0
    assert json.loads((tmp_path / "mix" / "run.json").read_text())["fill_band_hz"] == [8000.0, 8000.0]
    # the script's constant FILL_BAND, when no flag is given
    constants = script_constants(sgld_separation, separation.COMMAND, FILL_BAND="none")
    assert run_task(separation.COMMAND, constants, base + [str(tmp_path / "constant")] + flags) == 0
    assert (tmp_path / "constant" / "out1.wav").read_bytes() == (tmp_path / "none" / "out1.wav").read_bytes()
    # edges it cannot take: one line each, nothing written
    for bad, message in (("--fill-band=11025", "--fill-band=11025 Hz is not below half the preset's sample rate"),
                         ("--fill-band=1,2,3", "--fill-band=1,2,3: give one band edge for both sources or two")):
        capsys.readouterr()                                               # the runs above
        code, err = run_cli(sgld_separation.main, base + [str(tmp_path / "refused")] + flags + [bad], capsys)
        assert code == 2 and len(err) == 1 and message in err[0]
        assert not (tmp_path / "refused").exists()


def test_upsampling_a_low_rate_recording_leaves_auto_unlimited(tmp_path, mulaw):
    root, preset = mulaw
    t = np.arange(int(0.2 * 5512.5)) / 5512.5
    sf.write(tmp_path / "low.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 5512)   # the observation itself
    for name, extra, edge in (("auto", [], None), ("4k", ["--fill-band=4000"], 4000.0)):
        assert sgld_superres.main([root, str(tmp_path / "low.wav"), str(tmp_path / name), f"--preset={preset}",
                                   "--input-rate=file", "--init=noise"] + FAST + extra) == 0
        assert json.loads((tmp_path / name / "run.json").read_text())["fill_band_hz"] == edge
    last = min((p.name for p in (tmp_path / "auto").glob("out_*.wav")), key=lambda n: float(n[4:-4]))
    assert (tmp_path / "auto" / "out.wav").read_bytes() == (tmp_path / "auto" / last).read_bytes()
    spectrum = np.abs(np.fft.rfft(read(tmp_path / "4k" / "out.wav")))
    freqs = np.fft.rfftfreq((spectrum.size - 1) * 2, 1 / SR)
    above = spectrum[freqs > 4000].max() / spectrum.max()
    assert above < 1e-3                                                 # -60 dB at least (16-bit file)


def test_a_fill_band_inside_the_observed_band_is_one_line(tmp_path, mulaw, capsys):
    root, preset = mulaw
    out = tmp_path / "out"
    code, err = run_cli(sgld_superres.main, [root, tone(tmp_path / "in.wav"), str(out), f"--preset={preset}",
                                             "--downsample_interval=4", "--fill-band=2000"] + FAST, capsys)
    assert code == 2 and err == ["error: --fill-band=2000 Hz lies inside the band the observation holds (up to "
                                 "2756.25 Hz, one sample in 4): give a higher edge, or none"]
    assert not out.exists()


@pytest.mark.parametrize("value, message", [
    ("11025", "error: --fill-band=11025 Hz is not below half the preset's sample rate (11025 Hz)"),
    ("8k", "error: --fill-band=8k: expected a frequency in Hz above 0"),
])
def test_a_bad_fill_band_is_one_line_before_any_output(tmp_path, mulaw, capsys, value, message):
    from wavenet_vocoder.pnf import sgld_inpainting
    root, preset = mulaw
    for main, extra in ((sgld_inpainting.main, ["--gap=0.05,0.1"]), (sgld_superres.main, [])):
        out = tmp_path / "out"
        code, err = run_cli(main, [root, tone(tmp_path / "in.wav"), str(out), f"--preset={preset}",
                                   f"--fill-band={value}"] + extra + FAST, capsys)
        assert code == 2 and len(err) == 1 and err[0].startswith(message)
        assert not out.exists()


def test_spectrogram_voiced_temperature_reaches_each_segments_task(tmp_path, capsys):
    from conftest import make_dump
    from wavenet_vocoder.pnf import sgld_spectrogram_descent
    hp = tiny_hparams(conditional=True)
    root, preset = make_root(tmp_path / "prior", hp)
    dump = make_dump(tmp_path / "dump", frames=100)
    argv = [root, dump, str(tmp_path / "out"), f"--preset={preset}", "--init=noise"] + FAST
    # without the prior's statistics there is no telling voiced frames: one line, nothing written
    code, err = run_cli(sgld_spectrogram_descent.main, argv + ["--voiced-temperature=0.25"], capsys)
    assert code == 2 and len(err) == 1 and "--voiced-temperature needs the prior's training statistics" in err[0]
    assert not (tmp_path / "out").exists()
    for value, message in (("-1", "--voiced-temperature=-1: give 0 or more"), ("cold", "is not a number")):
        code, err = run_cli(sgld_spectrogram_descent.main, argv + [f"--voiced-temperature={value}"], capsys)
        assert code == 2 and message in err[-1]
    meanvar = np.stack([np.full(5, -2.0), np.full(5, 1.0)])
    np.save(os.path.join(root, "meanvar.npy"), meanvar)
    assert sgld_spectrogram_descent.main(argv + ["--voiced-temperature=0.25", "--temperature=0.5"]) == 0
    report = json.loads((tmp_path / "out" / "run.json").read_text())
    assert report["arguments"]["--voiced-temperature"] == "0.25" and report["temperature"] == 0.5
    feats = np.load(os.path.join(dump, "utt-00001-feats.npy"))
    assert report["voiced_frames"] == int(voiced_mel_frames(feats - 2.0, hp).sum()) and report["frames"] == 100
    assert 0 < report["voiced_frames"] < 100
    assert np.all(np.isfinite(read(tmp_path / "out" / "out.wav")))
    # each segment's task carries the temperatures of its own frames, judged against its own loudest
    mel = load_mel(os.path.join(dump, "utt-00001-feats.npy"), hp.cin_channels, -1, hp.cin_pad)
    job = spectrogram._job("o", "utt", "f", None, mel, feats.shape[0] * hp.hop_size, None, hp, None,
                           (meanvar, 0.25, 0.5))
    for start, end in ((0, 400), (120, 280)):
        expected = sample_temperatures(voiced_normalised_frames(feats[start // 4:end // 4].T, hp, meanvar), 4, 0.25, 0.5)
        assert {0.25, 0.5} <= set(expected.tolist())
        assert torch.equal(job.make_task(start, end).temperature(), torch.from_numpy(expected).reshape(1, -1))
    assert job.make_task(0, 400).temperature().shape == (1, 400)
    no_split = spectrogram._job("o", "utt", "f", None, mel, 400, None, hp)
    assert no_split.make_task(0, 400).temperature() is None
