"""--segment: a long input cut into independent segments, each sampled exactly as a run on it alone."""
import json
import os

import numpy as np
import pytest
import soundfile as sf

from conftest import FAST, SR, make_dump, make_root, read, run_cli, tiny_hparams
from wavenet_vocoder.pnf import sgld_inpainting, sgld_separation, sgld_spectrogram_descent, sgld_superres
from wavenet_vocoder.pnf.segments import MIN_SEGMENT, segment_bounds


def test_segments_cut_at_multiples_of_the_segment():
    assert segment_bounds(100, None) == [(0, 100)]
    assert segment_bounds(100, 100) == [(0, 100)]
    assert segment_bounds(100, 30) == [(0, 30), (30, 60), (60, 100)]          # a 10-sample tail joins
    assert segment_bounds(120, 30) == [(0, 30), (30, 60), (60, 90), (90, 120)]
    assert segment_bounds(100, 30, align=4) == [(0, 28), (28, 56), (56, 84), (84, 100)]


def test_segments_tail_and_alignment_rules():
    bounds = segment_bounds(1000, 100, align=8)
    assert all(a % 8 == 0 for a, _ in bounds)
    assert all(b - a == 96 for a, b in bounds[:-1]) and bounds[-1][1] == 1000
    assert sum(b - a for a, b in bounds) == 1000
    assert all(b - a >= MIN_SEGMENT for a, b in bounds)
    # 16 samples left over is a segment of its own; 15 joins the one before
    assert segment_bounds(116, 100)[-1] == (100, 116)
    assert segment_bounds(115, 100) == [(0, 115)]


def test_a_cut_inside_a_kept_clear_span_moves_to_its_end():
    # cuts at 100, 200, 300: 200 falls in (150, 230), so it moves to 230 and the next comes at 330
    assert segment_bounds(400, 100, keep_clear=[(150, 230)]) == [(0, 100), (100, 230), (230, 330), (330, 400)]
    # overlapping spans are cleared in turn, and the moved cut is aligned up
    assert segment_bounds(400, 100, align=4, keep_clear=[(90, 150), (140, 201)]) == [(0, 204), (204, 304), (304, 400)]
    # a span running to the end leaves no cut after it
    assert segment_bounds(400, 100, keep_clear=[(250, 400)]) == [(0, 100), (100, 200), (200, 400)]


def spiky(path, seconds, segment, seed=0):
    """16-bit audio with a full-scale sample in every ``segment`` samples: any cut of it peaks at 0.9, as the whole."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    rng = np.random.default_rng(seed)
    audio = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1375 * t) + 0.02 * rng.standard_normal(n)
    audio[7::segment] = 0.9
    sf.write(path, audio, SR, subtype="PCM_16")
    return str(path)


def cut(src, dst, start, end):
    """Samples [start, end) of a 16-bit file, written as a 16-bit file of their own (as `sox trim` would)."""
    data, rate = sf.read(src, dtype="int16")
    sf.write(dst, data[start:end], rate, subtype="PCM_16")
    return str(dst)


@pytest.fixture
def mulaw(tmp_path):
    return make_root(tmp_path / "mulaw", tiny_hparams())


@pytest.mark.parametrize("observation", [[], ["--antialias"]])
def test_superres_segments_equal_short_runs_on_each_segment(tmp_path, mulaw, observation):
    root, preset = mulaw
    src = spiky(tmp_path / "long.wav", 0.35, 2204)
    out = tmp_path / "long"
    # (from noise: a warm start would start each segment from the whole file's interpolation there)
    flags = [f"--preset={preset}", "--downsample_interval", "4", "--seed", "3", "--init", "noise"] + observation + FAST
    assert sgld_superres.main([root, src, str(out), "--segment", "0.1"] + flags) == 0
    report = json.loads((out / "run.json").read_text())
    bounds = [tuple(s["samples"]) for s in report["segments"]]
    # 0.1 s = 2205 samples, a multiple of the interval below it: 2204; the tail of 1105 stays apart
    assert bounds == [(0, 2204), (2204, 4408), (4408, 6612), (6612, 7717)]
    assert all(s["sampled"] for s in report["segments"])
    estimate = read(out / "out.wav")
    assert len(estimate) == 7717 and len(read(out / "out_4.0.wav")) == 7717
    for k in (1, 3):
        a, b = bounds[k]
        short = tmp_path / f"short{k}"
        assert sgld_superres.main([root, cut(src, tmp_path / f"seg{k}.wav", a, b), str(short)] + flags) == 0
        np.testing.assert_array_equal(estimate[a:b], read(short / "out.wav"))
        np.testing.assert_array_equal(read(out / "out_4.0.wav")[a:b], read(short / "out_4.0.wav"))
    # the segmented run is not the whole-file run: segments start from silence, not their neighbours
    whole = tmp_path / "whole"
    assert sgld_superres.main([root, src, str(whole)] + flags) == 0
    assert not np.array_equal(read(whole / "out.wav"), estimate)
    assert report["metrics"]["pnf"]["snr"] == pytest.approx(
        json.loads((whole / "run.json").read_text())["metrics"]["pnf"]["snr"], abs=6)  # another draw, same sampler


def test_inpainting_segments_pass_gapless_ones_through_and_keep_gaps_whole(tmp_path, mulaw):
    root, preset = mulaw
    src = spiky(tmp_path / "long.wav", 0.4, 2205)
    out = tmp_path / "long"
    flags = [f"--preset={preset}", "--schedule", "tiled"] + FAST
    # a gap across the cut at 2205 moves that cut past the gap and a receptive field (13 samples)
    assert sgld_inpainting.main([root, src, str(out), "--segment", "0.1", "--gap", "0.095,0.105",
                                 "--gap", "0.27,0.28"] + flags) == 0
    report = json.loads((out / "run.json").read_text())
    bounds = [tuple(s["samples"]) for s in report["segments"]]
    assert bounds == [(0, 2328), (2328, 4533), (4533, 6738), (6738, 8820)]
    assert [s["sampled"] for s in report["segments"]] == [True, False, True, False]
    original, estimate = read(out / "x_original.wav"), read(out / "out.wav")
    np.testing.assert_array_equal(estimate[2328:4533], original[2328:4533])
    np.testing.assert_array_equal(estimate[6738:], original[6738:])
    a, b = bounds[2]
    short = tmp_path / "short"
    gap = f"{(5954 - a) / SR!r},{(6174 - a) / SR!r}"            # 0.27 s and 0.28 s, in the segment's time
    assert sgld_inpainting.main([root, cut(src, tmp_path / "seg.wav", a, b), str(short), "--gap", gap] + flags) == 0
    assert json.loads((short / "run.json").read_text())["gap_samples"] == [5954 - a, 6174 - a]
    np.testing.assert_array_equal(estimate[a:b], read(short / "out.wav"))
    assert not np.array_equal(estimate[5954:6174], original[5954:6174])


def test_separation_segments_equal_short_runs(tmp_path):
    hp = tiny_hparams(input_type="linear-quantize")
    root, preset = make_root(tmp_path / "p", hp)
    mixture = spiky(tmp_path / "mix.wav", 0.25, 2205)
    flags = [f"--preset={preset}", "--implicit-mixture", "--step-scale", "0.5"] + FAST
    out = tmp_path / "long"
    assert sgld_separation.main([root, root, f"--mixture={mixture}", str(out), "--segment", "0.1"] + flags) == 0
    bounds = [tuple(s["samples"]) for s in json.loads((out / "run.json").read_text())["segments"]]
    assert bounds == [(0, 2205), (2205, 4410), (4410, 5512)]
    a, b = bounds[1]
    short = tmp_path / "short"
    segment = cut(mixture, tmp_path / "seg.wav", a, b)
    assert sgld_separation.main([root, root, f"--mixture={segment}", str(short)] + flags) == 0
    for name in ("out0.wav", "out1.wav", "out1_4.0.wav"):
        np.testing.assert_array_equal(read(out / name)[a:b], read(short / name))


def test_spectrogram_segments_equal_short_runs_on_their_frames(tmp_path):
    hp = tiny_hparams(conditional=True)
    root, preset = make_root(tmp_path / "mel", hp)
    dump = make_dump(tmp_path / "dump" / "dev", frames=300)
    flags = [f"--preset={preset}"] + FAST
    out = tmp_path / "long"
    # 0.01 s = 220.5 samples: 220, 55 frames of 4 samples, per segment
    assert sgld_spectrogram_descent.main([root, dump, str(out), "--segment", "0.01"] + flags) == 0
    bounds = [tuple(s["samples"]) for s in json.loads((out / "run.json").read_text())["segments"]]
    assert bounds[:2] == [(0, 220), (220, 440)] and bounds[-1] == (1100, 1200)
    feats = np.load(os.path.join(dump, "utt-00001-feats.npy"))
    alone = tmp_path / "alone" / "dev"
    alone.mkdir(parents=True)
    np.save(alone / "utt-00001-feats.npy", feats[55:110])
    short = tmp_path / "short"
    assert sgld_spectrogram_descent.main([root, str(alone), str(short)] + flags) == 0
    np.testing.assert_array_equal(read(out / "out.wav")[220:440], read(short / "out.wav"))


@pytest.mark.parametrize("value", ["0", "-1", "soon", "0.0001"])
def test_a_bad_segment_length_is_one_line(tmp_path, mulaw, capsys, value):
    root, preset = mulaw
    src = spiky(tmp_path / "in.wav", 0.2, 2205)
    code, err = run_cli(sgld_superres.main, [root, src, str(tmp_path / "out"), f"--preset={preset}",
                                             f"--segment={value}"] + FAST, capsys)
    assert code == 2 and len(err) == 1 and "--segment" in err[0], err
    assert not (tmp_path / "out").exists()
