"""The recipe's helpers: seeded MIDI pieces and sentences (rendering itself needs Debian packages)."""
import glob
import os
import runpy
import struct
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, write_corpus

LOCAL = os.path.join(REPO, "egs", "pnf_small", "local")


def read_events(path):
    """(delta, status) of every channel event of a format-0 MIDI file, parsed independently."""
    data = open(path, "rb").read()
    assert data[:4] == b"MThd"
    length, fmt, tracks, division = struct.unpack(">IHHH", data[4:14])
    assert (length, fmt, tracks, division) == (6, 0, 1, 480)
    assert data[14:18] == b"MTrk"
    (size,) = struct.unpack(">I", data[18:22])
    track = data[22:22 + size]
    assert len(track) == size and 22 + size == len(data)
    events, i = [], 0
    while i < len(track):
        delta = 0
        while True:
            byte = track[i]
            i += 1
            delta = (delta << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        status = track[i]
        if status == 0xFF:
            meta_length = track[i + 2]
            i += 3 + meta_length
            continue
        i += 2 if status & 0xF0 == 0xC0 else 3
        events.append((delta, status))
    return events


def test_make_midi_writes_valid_seeded_files(tmp_path):
    for folder in ("a", "b"):
        subprocess.run([sys.executable, os.path.join(LOCAL, "make_midi.py"), str(tmp_path / folder), "2", "7", "5"],
                       check=True)
    files = sorted(os.listdir(tmp_path / "a"))
    assert files == ["piece7_000.mid", "piece7_001.mid"]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        events = read_events(tmp_path / "a" / name)
        ons = sum(1 for _, status in events if status == 0x90)
        offs = sum(1 for _, status in events if status == 0x80)
        assert ons == offs > 10
        ticks = sum(delta for delta, _ in events)
        assert 4 * 480 < ticks < 30 * 480                 # about 5 s at 70-130 beats per minute


def test_make_sentences_is_seeded():
    def sentences(seed):
        out = subprocess.run([sys.executable, os.path.join(LOCAL, "make_sentences.py"), "5", str(seed)],
                             check=True, capture_output=True, text=True).stdout
        return out.strip().splitlines()
    assert sentences(1) == sentences(1) and len(sentences(1)) == 5
    assert sentences(1) != sentences(1000)


BUNDLED = ("mulaw_piano", "linear_piano", "linear_voice", "mel_voice")


def test_bundled_models_have_every_level_and_fit_the_size_budget():
    from wavenet_vocoder.checkpoints import list_levels, load_model
    from wavenet_vocoder.hparams import load_preset

    total = 0
    for name in BUNDLED:
        hp = load_preset(os.path.join(REPO, "egs", "pnf_small", f"{name}.json"))
        levels = list_levels(os.path.join(REPO, "egs", "pnf_small", name))
        assert [level.sigma for level in levels] == hp.sigmas, name
        for level in levels:
            assert os.path.basename(level.path) == "checkpoint_latest_ema.pth"
            assert load_model(level.path, hp).receptive_field == 253
            total += os.path.getsize(level.path)
    assert total < 30e6


def _one_step(script, argv, out):
    import json

    assert script.main(argv + [str(out), "--n-steps", "1", "--sample-size", "3000", "--schedule", "tiled",
                               "--no-progress"]) == 0
    return json.loads((out / "run.json").read_text())


def test_bundled_models_run_their_tasks(tmp_path):
    """Every bundled prior through its task script, one step per level (the README's commands)."""
    from wavenet_vocoder.pnf import sgld_separation, sgld_spectrogram_descent, sgld_superres

    small = os.path.join(REPO, "egs", "pnf_small")
    piano, voice = (os.path.join(REPO, "egs", f"sample_{n}.wav") for n in ("piano", "voice"))
    report = _one_step(sgld_superres, [f"{small}/mulaw_piano", piano, f"--preset={small}/mulaw_piano.json",
                                       "--downsample_interval", "4"], tmp_path / "superres")
    # the preset's warm start: from band-limited interpolation at sigma 13.3, step scale 1
    assert [level["sigma"] for level in report["levels"]] == [13.3, 4.1, 1.0, 0.39]
    assert report["init"] == "baseline" and report["step_scale"] == 1.0
    report = _one_step(sgld_separation, [f"{small}/linear_piano", f"{small}/linear_voice", piano, voice,
                                         f"--preset={small}/linear_piano.json", "--implicit-mixture"],
                       tmp_path / "separation")
    assert set(report["metrics"]) == {"source0", "source1"}
    report = _one_step(sgld_spectrogram_descent, [f"{small}/mel_voice", f"{small}/mel_voice/dump_norm/dev",
                                                  f"--preset={small}/mel_voice.json"], tmp_path / "spectrogram")
    assert report["samples"] == 3000 // 256 * 256


def test_bundled_real_audio_priors_are_one_noise_conditional_checkpoint_each_and_run_warm(tmp_path):
    """The five real-audio priors (egs/pnf_real/<name>/ beside <name>.json): one checkpoint for every
    level with its training.json, 4093-sample receptive field, and their tasks by default (their
    presets') from the baseline at sigma 4.1, step scale 0.3, as the step curves and the
    separation runs recommend (separation with the implicit mixture step that scale needs),
    super-resolution from the lowest level, 0.39 (where the noise-floor control says the priors help
    most), the mel prior from 13.3 at 1 (one step per level); each checkpoint loads under its preset,
    so the settings saved in it are the preset's."""
    import json

    from wavenet_vocoder.checkpoints import load_model
    from wavenet_vocoder.hparams import load_preset
    from wavenet_vocoder.pnf import sgld_separation, sgld_spectrogram_descent, sgld_superres

    real = os.path.join(REPO, "egs", "pnf_real")
    for name in ("mulaw_piano", "mulaw_voice", "linear_piano", "linear_voice", "mel_voice"):
        hp = load_preset(os.path.join(real, f"{name}.json"))
        assert hp.task_warm_start_sigma == ({"superres": 0.39} if name.startswith("mulaw") else {})
        path = os.path.join(real, name, "checkpoint_latest_ema.pth")
        assert hp.noise_conditional and load_model(path, hp).receptive_field == 4093
        assert os.path.getsize(path) < 2e6
        with open(os.path.join(real, name, "training.json")) as f:
            assert json.load(f)["noise_conditional"]
    piano, voice = os.path.join(REPO, "egs", "sample_piano.wav"), os.path.join(REPO, "egs", "sample_voice.wav")
    runs = [(sgld_superres, "mulaw_piano", [os.path.join(real, "mulaw_piano"), piano, "--downsample_interval", "4"]),
            (sgld_superres, "mulaw_voice", [os.path.join(real, "mulaw_voice"), voice, "--downsample_interval", "4"]),
            (sgld_separation, "linear_piano", [os.path.join(real, "linear_piano"), os.path.join(real, "linear_voice"),
                                               piano, voice]),         # the preset asks for the implicit step
            (sgld_spectrogram_descent, "mel_voice", [os.path.join(real, "mel_voice"),
                                                     os.path.join(real, "mel_voice", "dump_norm", "dev")])]
    for script, name, argv in runs:
        report = _one_step(script, argv + [f"--preset={real}/{name}.json"], tmp_path / name)
        if script is sgld_spectrogram_descent:       # the frames' own audio is not in run.json
            assert [level["sigma"] for level in report["levels"]] == [13.3, 4.1, 1.0, 0.39]
            assert report["init"] == "baseline" and report["step_scale"] == 1.0
            continue
        levels = [0.39] if script is sgld_superres else [4.1, 1.0, 0.39]
        assert [level["sigma"] for level in report["levels"]] == levels
        assert report["init"] == "baseline" and report["step_scale"] == 0.3
        if script is sgld_separation:
            assert report["mixture_step"] == "implicit"
        scores = report["metrics"].values() if script is sgld_separation else [report["metrics"]]
        assert all(np.isfinite(v) for metrics in scores for v in metrics["pnf"].values())


ROOM = os.path.join(REPO, "egs", "pnf_real", "local", "room.py")


def test_room_response_has_its_direct_to_reverberant_ratio_and_decay():
    room = runpy.run_path(ROOM, run_name="room")
    rate, rt60 = 22050, 0.8
    response = room["room_response"](rate, rt60, 6.0, 0.01, np.random.default_rng(0))
    assert response[0] == 1.0 and not response[1:int(0.01 * rate)].any()      # direct, then the pre-delay
    tail = response[int(round(0.01 * rate)):]
    assert 10 * np.log10(1.0 / np.sum(tail ** 2)) == pytest.approx(6.0, abs=1e-9)   # the DRR, by construction; float64
    low, _ = room["bands"](tail, rate)

    def energy_db(x, at):                                                    # 50 ms window at ``at`` s
        a = int(at * rate)
        return 10 * np.log10(np.mean(x[a:a + rate // 20] ** 2))
    # below 2 kHz: -60 dB per rt60, so -30 dB over rt60 / 2 (noise: ~0.2 dB per window of 1100 samples)
    assert abs(energy_db(low, 0.1) - energy_db(low, 0.1 + rt60 / 2) - 30) < 2
    # above: twice as fast (measured above 5 kHz, where the slower low band does not leak in)
    from scipy.signal import butter, sosfilt
    top = sosfilt(butter(8, 5000, "high", fs=rate, output="sos"), tail)
    assert abs(energy_db(top, 0.05) - energy_db(top, 0.05 + rt60 / 4) - 30) < 2


def test_room_parameters_follow_the_seed_and_the_file():
    room = runpy.run_path(ROOM, run_name="room")
    assert room["draw"](1, "bach-a")[0] == room["draw"](1, "bach-a")[0]
    assert room["draw"](1, "bach-a")[0] != room["draw"](1, "bach-b")[0] != room["draw"](2, "bach-b")[0]
    params, rng = room["draw"](1, "bach-a")
    x = np.sin(np.arange(4000) / 5.0)
    wet = room["in_room"](x, 22050, params, rng)
    assert wet.size > x.size and np.isfinite(wet).all() and abs(np.abs(wet).max() - 0.9) < 1e-12   # float64


def test_room_copies_keep_their_names_so_the_split_keeps_a_piece_and_its_copy_together(tmp_path):
    import soundfile as sf
    from wavenet_vocoder.preprocess import split
    dry = tmp_path / "piano"
    dry.mkdir()
    for k in range(6):
        sf.write(str(dry / f"piece{k}.wav"), 0.5 * np.sin(np.arange(2000) * (k + 1) / 50.0), 22050)
    subprocess.run([sys.executable, ROOM, str(dry), str(dry / "room"), "1"], check=True, capture_output=True)
    assert sorted(os.listdir(dry / "room")) == [f"piece{k}.wav" for k in range(6)]
    files = sorted(glob.glob(str(dry / "*.wav")) + glob.glob(str(dry / "room" / "*.wav")))
    train, dev = split(files, 0.2, seed=0)
    names = lambda paths: {os.path.basename(p) for p in paths}
    assert dev and not names(train) & names(dev) and len(dev) == 2 * len(names(dev))
    # Same names: a copy into the input folder itself would overwrite the recordings, and is refused.
    before = (dry / "piece0.wav").read_bytes()
    refused = subprocess.run([sys.executable, ROOM, str(dry), str(dry), "1"], capture_output=True, text=True)
    assert refused.returncode != 0 and "overwrite" in refused.stderr and (dry / "piece0.wav").read_bytes() == before


RENDER_SOUNDFONT = os.path.join(REPO, "egs", "pnf_real", "local", "render_soundfont.py")


def test_a_rendered_piano_key_sounds_one_note_at_a_time():
    one_key = runpy.run_path(RENDER_SOUNDFONT, run_name="render_soundfont")["one_key_at_a_time"]
    # (onset, length in quarter notes, MIDI pitch, velocity): C4 struck again at 1.0 while it still sounds
    notes = [(1.0, 1.3, 60, 80), (0.0, 1.3, 60, 70), (0.0, 2.0, 64, 50), (1.0, 0.5, 60, 90), (2.5, 1.0, 60, 60)]
    assert one_key(notes) == [(0.0, 1.0, 60, 70), (0.0, 2.0, 64, 50), (1.0, 0.5, 60, 90), (2.5, 1.0, 60, 60)]


def test_a_rendered_piece_is_written_as_midi_on_the_piano(tmp_path):
    pytest.importorskip("music21")                            # the recipe installs it (stage 0)
    from music21 import converter
    midi = tmp_path / "piece.mid"
    runpy.run_path(RENDER_SOUNDFONT, run_name="render_soundfont")["midi_file"](
        [(0.0, 1.0, 60, 70), (0.5, 2.0, 67, 100)], 120.0, str(midi))
    score = converter.parse(str(midi))
    played = sorted((float(n.offset), float(n.quarterLength), n.pitch.midi, n.volume.velocity)
                    for n in score.flatten().notes)
    assert played == [(0.0, 1.0, 60, 70), (0.5, 2.0, 67, 100)]
    assert score.flatten().getElementsByClass("MetronomeMark")[0].number == 120
    assert all(i.midiProgram in (0, None) for i in score.flatten().getElementsByClass("Instrument"))


RENDER_PIANO = os.path.join(REPO, "egs", "pnf_real", "local", "render_piano.py")


def dominant_hz(x, rate):
    """The frequency (Hz) of the largest peak of ``x``'s spectrum, refined between bins."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / x.size


def test_a_one_recording_per_key_library_plays_each_key_at_its_pitch(tmp_path):
    import soundfile as sf
    render_piano = runpy.run_path(RENDER_PIANO, run_name="render_piano")
    rate = 44100
    t = np.arange(rate) / rate
    for name, midi in (("C4", 60), ("Ds4", 63)):                # sharps written "s", as the npm package has them
        sf.write(tmp_path / f"{name}.ogg", 0.5 * np.sin(2 * np.pi * 440 * 2 ** ((midi - 69) / 12) * t), rate)
    library = render_piano["ChromaticSamples"](str(tmp_path))
    assert library.pitches == [60, 63] and library.rate == rate
    for pitch in (60, 61, 62, 63, 64):        # 61 from C4 a semitone up; 62 from D#4 a semitone down
        audio = library.note(pitch, 1, 0.5)
        assert audio.size == pytest.approx(0.5 * rate, abs=1)
        assert dominant_hz(audio, rate) == pytest.approx(440 * 2 ** ((pitch - 69) / 12), rel=2e-3)
    assert np.array_equal(library.note(62, 1, 0.5), library.note(62, 16, 0.5))     # one dynamic layer
    # the renderer takes the library's own rate and writes the piece at the rate asked for
    import random
    piece = render_piano["render"](library, [(0.0, 1.0, 61)], random.Random(0), 2.0, 22050)
    assert 0 < piece.size <= 2 * 22050 and np.isfinite(piece).all()
    assert dominant_hz(piece[:4096], 22050) == pytest.approx(440 * 2 ** ((61 - 69) / 12), rel=5e-3)
    with pytest.raises(SystemExit, match="holds no <note><octave>.ogg samples"):
        render_piano["ChromaticSamples"](str(tmp_path / "missing"))


PACK_DUMP = os.path.join(REPO, "egs", "pnf_real", "local", "pack_dump.py")


def pack_dump(*args):
    """Run pack_dump.py as a user does (its worker processes import it as a script)."""
    return subprocess.run([sys.executable, PACK_DUMP, *map(str, args)], capture_output=True, text=True)


def test_a_packed_mulaw_dump_unpacks_to_the_same_arrays(tmp_path):
    rng = np.random.default_rng(0)
    waves = {}
    for split, count in (("train", 5), ("dev", 2)):
        os.makedirs(tmp_path / "dump" / split)
        for i in range(count):
            # a mu-law-like walk that wraps through 0 and 255 (the differences are taken modulo 256)
            q = (np.cumsum(rng.integers(-40, 41, 3000)) % 256).astype(np.int16)
            q[:3] = [0, 255, 0]
            np.save(tmp_path / "dump" / split / f"x-{i:05d}-wave.npy", q)
            waves[split, f"x-{i:05d}-wave.npy"] = q
    assert pack_dump("pack", tmp_path / "dump", tmp_path / "p.pkl", "--train-stride", 2).returncode == 0
    assert pack_dump("unpack", tmp_path / "p.pkl", tmp_path / "out").returncode == 0
    got = {(s, os.path.basename(f)) for s in ("train", "dev") for f in glob.glob(str(tmp_path / "out" / s / "*.npy"))}
    assert got == {("train", "x-00000-wave.npy"), ("train", "x-00002-wave.npy"), ("train", "x-00004-wave.npy"),
                   ("dev", "x-00000-wave.npy"), ("dev", "x-00001-wave.npy")}      # every 2nd training file
    for split, name in got:
        out = np.load(tmp_path / "out" / split / name)
        assert out.dtype == np.int16 and np.array_equal(out, waves[split, name])
    again = pack_dump("unpack", tmp_path / "p.pkl", tmp_path / "dump")      # never over an existing dump
    assert again.returncode == 2 and "already holds a dump" in again.stderr
    assert np.array_equal(np.load(tmp_path / "dump" / "train" / "x-00001-wave.npy"), waves["train", "x-00001-wave.npy"])
    # --train-offset takes the stride's other files: the training files the first pack left out
    assert pack_dump("pack", tmp_path / "dump", tmp_path / "q.pkl", "--train-stride", 2, "--train-offset", 1).returncode == 0
    assert pack_dump("unpack", tmp_path / "q.pkl", tmp_path / "out1").returncode == 0
    assert sorted(os.listdir(tmp_path / "out1" / "train")) == ["x-00001-wave.npy", "x-00003-wave.npy"]
    assert sorted(os.listdir(tmp_path / "out1" / "dev")) == ["x-00000-wave.npy", "x-00001-wave.npy"]
    bad = pack_dump("pack", tmp_path / "dump", tmp_path / "r.pkl", "--train-stride", 2, "--train-offset", 2)
    assert bad.returncode == 2 and "--train-offset must be from 0 to" in bad.stderr and not os.path.exists(tmp_path / "r.pkl")


def test_packing_refuses_a_raw_waveform_dump(tmp_path):
    for split in ("train", "dev"):
        os.makedirs(tmp_path / split)
        np.save(tmp_path / split / "x-00000-wave.npy", np.array([0.5, -0.25], dtype=np.float32))
    result = pack_dump("pack", tmp_path, tmp_path / "p.pkl")
    assert result.returncode == 2 and "raw waveform dumps cannot be packed" in result.stderr
    assert not os.path.exists(tmp_path / "p.pkl")


MERGE_DUMPS = os.path.join(REPO, "egs", "pnf_real", "local", "merge_dumps.py")


def test_merged_dumps_keep_each_split_and_move_with_their_data(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for corpus, counts in (("voice", (3, 1)), ("more", (2, 2))):
        for split, count in zip(("train", "dev"), counts):
            os.makedirs(tmp_path / "data" / corpus / "dump" / split)
            for i in range(count):
                q = rng.integers(0, 256, 500).astype(np.int16)
                np.save(tmp_path / "data" / corpus / "dump" / split / f"{corpus}-{i:05d}-wave.npy", q)
                arrays[split, f"{corpus}-{i:05d}-wave.npy"] = q
    run = lambda *args: subprocess.run([sys.executable, MERGE_DUMPS, *map(str, args)], capture_output=True, text=True)
    data = tmp_path / "data"
    done = run(data / "merged", data / "voice" / "dump", data / "more" / "dump")
    assert done.returncode == 0 and "5 train and 3 dev files linked" in done.stdout
    os.rename(tmp_path / "data", tmp_path / "moved")             # relative links: the folder moves with its data
    for split in ("train", "dev"):
        names = sorted(os.listdir(tmp_path / "moved" / "merged" / split))
        assert names == sorted(name for s, name in arrays if s == split)      # each corpus's own split, unchanged
        for name in names:
            assert np.array_equal(np.load(tmp_path / "moved" / "merged" / split / name), arrays[split, name])
    data = tmp_path / "moved"
    again = run(data / "merged", data / "voice" / "dump")
    assert again.returncode == 2 and "exists already" in again.stderr
    twice = run(data / "twice", data / "voice" / "dump", data / "voice" / "dump")
    assert twice.returncode == 2 and "different --name prefixes" in twice.stderr and not os.path.exists(data / "twice")


def test_merging_and_packing_keep_the_record_of_the_preset_a_dump_was_made_with(tmp_path):
    from conftest import tiny_hparams
    from wavenet_vocoder.dump_record import read_record, write_record
    mulaw, linear = tiny_hparams(), tiny_hparams(input_type="linear-quantize")
    for corpus, hp in (("a", mulaw), ("b", mulaw), ("c", linear)):
        for split in ("train", "dev"):
            os.makedirs(tmp_path / corpus / split)
            np.save(tmp_path / corpus / split / f"{corpus}-00001-wave.npy", np.arange(300, dtype=np.int16) % 256)
        write_record(tmp_path / corpus, hp)
    merge = lambda *args: subprocess.run([sys.executable, MERGE_DUMPS, *map(str, args)], capture_output=True, text=True)
    assert merge(tmp_path / "ab", tmp_path / "a", tmp_path / "b").returncode == 0
    assert read_record(tmp_path / "ab") == read_record(tmp_path / "a")
    mixed = merge(tmp_path / "ac", tmp_path / "a", tmp_path / "c")
    assert mixed.returncode == 2 and "were made with different preset settings" in mixed.stderr
    assert not os.path.exists(tmp_path / "ac")
    (tmp_path / "b" / "dump.json").unlink()          # a dump made before the record: merged, the result unrecorded
    for first, second in (("a", "b"), ("b", "a")):
        assert merge(tmp_path / f"{first}{second}2", tmp_path / first, tmp_path / second).returncode == 0
        assert read_record(tmp_path / f"{first}{second}2") is None
    mixed = merge(tmp_path / "bac", tmp_path / "b", tmp_path / "a", tmp_path / "c")
    assert mixed.returncode == 2 and f"{tmp_path / 'a'} and {tmp_path / 'c'} were made with different" in mixed.stderr
    assert pack_dump("pack", tmp_path / "c", tmp_path / "c.pkl").returncode == 0
    assert pack_dump("unpack", tmp_path / "c.pkl", tmp_path / "c2").returncode == 0
    assert read_record(tmp_path / "c2")["input_type"] == "linear-quantize"


GPU_CONTINUE = os.path.join(REPO, "egs", "pnf_real", "local", "gpu_continue.sh")


def gpu_continue(seconds, packed, out, priors, *names):
    """Run gpu_continue.sh from the repository's root as on a lent machine, but on the CPU (DEVICE=cpu)."""
    env = dict(os.environ, OUT=str(out), PRIORS=str(priors), DEVICE="cpu",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    return subprocess.run(["bash", GPU_CONTINUE, str(seconds), str(packed), *names], cwd=REPO, env=env,
                          capture_output=True, text=True)


def test_gpu_continue_trains_a_bundled_prior_for_its_time_and_resumes_from_the_tar_it_wrote(tmp_path, dump):
    import json
    import shutil
    import tarfile

    import torch

    from conftest import training_hparams
    from wavenet_vocoder import train as training

    # A bundled prior as egs/pnf_real holds one: EMA weights, training.json and config.json beside NAME.json.
    priors = tmp_path / "priors"
    priors.mkdir()
    (priors / "tiny.json").write_text(json.dumps(training_hparams().replace(noise_conditional=True).to_dict()))
    assert training.main([str(dump / "dump"), str(tmp_path / "trained"), f"--preset={priors / 'tiny.json'}",
                          "--no-progress", "--steps=4", "--eval-interval=2"]) == 0
    (priors / "tiny").mkdir()
    for name in ("checkpoint_latest_ema.pth", "training.json", "config.json"):
        shutil.copy(tmp_path / "trained" / name, priors / "tiny" / name)
    packed = tmp_path / "packed"
    packed.mkdir()
    assert pack_dump("pack", dump / "dump", packed / "tiny.pkl").returncode == 0

    def steps_in(tar_path, into):
        with tarfile.open(tar_path) as tar:
            assert sorted(os.path.basename(n) for n in tar.getnames() if n != "tiny") == [
                "checkpoint_latest.pth", "checkpoint_latest_ema.pth", "config.json", "training.json"]
            tar.extractall(into, filter="data")
        state = torch.load(into / "tiny" / "checkpoint_latest.pth", weights_only=True)
        assert state["optimizer"] is not None                     # the Adam state travels back
        return state["global_step"]

    first = gpu_continue(8, packed, tmp_path / "out1", priors, "tiny")
    assert first.returncode == 0, first.stderr
    reached = steps_in(tmp_path / "out1" / "tiny.tar", tmp_path / "x1")
    assert reached > 4 and "continuing the prior" in (tmp_path / "out1" / "train_tiny.log").read_text()
    # Carried back beside the packed dump, the tar resumes where it stopped (its Adam state too).
    shutil.copy(tmp_path / "out1" / "tiny.tar", packed / "tiny.tar")
    second = gpu_continue(8, packed, tmp_path / "out2", priors, "tiny")
    assert second.returncode == 0, second.stderr
    assert steps_in(tmp_path / "out2" / "tiny.tar", tmp_path / "x2") > reached
    assert "holds a run of its own, which resumes" in (tmp_path / "out2" / "train_tiny.log").read_text()

    missing = gpu_continue(8, packed, tmp_path / "out3", priors, "other")
    assert missing.returncode == 2 and f"{packed}/other.pkl or {priors}/other.json is missing" in missing.stderr
    # A run that fails before its time is up (here a preset the bundled weights do not fit) fails the script.
    (priors / "wide.json").write_text(json.dumps(
        training_hparams().replace(noise_conditional=True, residual_channels=6).to_dict()))
    shutil.copytree(priors / "tiny", priors / "wide")
    shutil.copy(packed / "tiny.pkl", packed / "wide.pkl")
    failed = gpu_continue(8, packed, tmp_path / "out4", priors, "wide")
    assert failed.returncode == 1 and "a training run failed" in failed.stderr
    assert "does not fit" in (tmp_path / "out4" / "train_wide.log").read_text()


RECIPE = os.path.join(REPO, "egs", "pnf_real", "run.sh")


def test_recipe_trains_the_priors_it_is_given_with_the_preset_overrides_it_is_given(tmp_path, dump):
    """Stage 3 with --priors and --hparams (a cooldown's learning rate): only that prior trains, on its
    own preset with the override, and its NAME.json lands beside it for the quality benchmark."""
    import json

    import torch

    work = tmp_path / "work"
    (work / "data" / "mulaw_voice").mkdir(parents=True)
    os.symlink(dump / "dump", work / "data" / "mulaw_voice" / "dump")
    env = dict(os.environ, WORK=str(work), PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    lr = '{"lr":0.0005,"eps":1e-08,"weight_decay":0.0}'
    run = subprocess.run(["bash", RECIPE, "--stage", "3", "--priors", "mulaw_voice", "--hours", "0.0003",
                          "--hparams", f"optimizer_params={lr}"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "stage 3: train mulaw_voice, 0.0003 h each" in run.stdout
    assert sorted(os.listdir(work / "models")) == ["mulaw_voice", "mulaw_voice.json"]
    config = json.loads((work / "models" / "mulaw_voice.json").read_text())
    bundled = json.loads(open(os.path.join(REPO, "egs", "pnf_real", "mulaw_voice.json")).read())
    assert config["optimizer_params"] == json.loads(lr) and bundled["optimizer_params"]["lr"] == 0.002
    assert {k: config[k] for k in ("layers", "residual_channels")} == {k: bundled[k] for k in ("layers", "residual_channels")}
    state = torch.load(work / "models" / "mulaw_voice" / "checkpoint_latest.pth", weights_only=True)
    assert state["global_step"] >= 1
    assert state["optimizer"]["param_groups"][0]["lr"] == 0.0005       # the rate it trained at (below 20,000 steps)
    # A name that is not one of the five priors is refused before anything runs.
    wrong = subprocess.run(["bash", RECIPE, "--stage", "3", "--priors", "mulaw_voice,cello"], env=env,
                           capture_output=True, text=True)
    assert wrong.returncode == 2 and "--priors: no prior named cello" in wrong.stderr and not wrong.stdout


def test_recipe_joins_the_five_speakers_into_every_voice_dump_and_keeps_the_two_speakers_split(tmp_path):
    """Stage 2 on a few short files: the mu-law, the linear and the mel voice dumps each hold the
    two speakers' files (voice-*) exactly as split when preprocessed alone, the bundled priors'
    split, and the three more speakers' (more-*) in both splits; the mel dump's features of the
    more speakers are normalised with the two speakers' statistics (the bundled mel prior's), not
    their own; run again, it rebuilds them the same."""
    from wavenet_vocoder.mel_dumps import normalize

    work = tmp_path / "work"
    for folder in ("piano", "piano_both", "voice"):
        write_corpus(work / "audio" / folder, n=3, seconds=0.25)
    write_corpus(work / "audio" / "voice_more", n=4, seconds=0.4)     # other tones: other statistics
    env = dict(os.environ, WORK=str(work), PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    data = work / "data"

    def listing(dump):
        return {split: sorted(os.listdir(dump / split)) for split in ("train", "dev")}

    for _ in range(2):
        run = subprocess.run(["bash", RECIPE, "--stage", "2", "--stop-stage", "2"], env=env,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        for name, dump in (("mulaw_voice", "dump"), ("linear_voice", "dump"), ("mel_voice", "dump"),
                           ("mel_voice", "dump_norm")):
            joined = listing(data / name / dump)
            two = listing(data / f"{name}_two" / dump)
            assert two["train"] and two["dev"]
            for split in ("train", "dev"):
                assert [f for f in joined[split] if f.startswith("voice-")] == two[split]
                assert any(f.startswith("more-") for f in joined[split])
                for f in joined[split]:
                    corpus = "two" if f.startswith("voice-") else "more"
                    original = data / f"{name}_{corpus}" / dump / split / f
                    np.testing.assert_array_equal(np.load(data / name / dump / split / f), np.load(original))
        stats = np.load(data / "mel_voice_two" / "meanvar.npy")
        np.testing.assert_array_equal(np.load(data / "mel_voice" / "meanvar.npy"), stats)
        assert not (data / "mel_voice_more" / "meanvar.npy").exists()
        more = data / "mel_voice" / "dump"
        own = np.concatenate([np.load(p) for p in sorted((more / "train").glob("more-*-feats.npy"))])
        assert np.abs(own.mean(axis=0) - stats[0]).max() > 0.1        # their own statistics would differ
        for path in sorted(more.glob("*/more-*-feats.npy")):
            normed = np.load(data / "mel_voice" / "dump_norm" / path.parent.name / path.name)
            np.testing.assert_allclose(normed, normalize(np.load(path), stats), rtol=1e-6)
