"""The recipe's helpers: seeded MIDI pieces and sentences (rendering itself needs Debian packages)."""
import os
import struct
import subprocess
import sys

from conftest import REPO

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


def test_bundled_piano_prior_loads_and_runs(tmp_path):
    """The model of README's main command: every level present, published format, sampling works."""
    import json

    from wavenet_vocoder.checkpoints import list_levels, load_model
    from wavenet_vocoder.hparams import load_preset
    from wavenet_vocoder.pnf import sgld_superres

    preset = os.path.join(REPO, "egs", "pnf_small", "mulaw_piano.json")
    root = os.path.join(REPO, "egs", "pnf_small", "mulaw_piano")
    hp = load_preset(preset)
    assert [level.sigma for level in list_levels(root)] == hp.sigmas
    assert load_model(list_levels(root)[-1].path, hp).receptive_field == 253
    out = tmp_path / "out"
    assert sgld_superres.main([root, os.path.join(REPO, "egs", "sample_piano.wav"), str(out), f"--preset={preset}",
                               "--downsample_interval", "4", "--n-steps", "1", "--sample-size", "3000",
                               "--schedule", "tiled", "--no-progress"]) == 0
    report = json.loads((out / "run.json").read_text())
    assert [level["sigma"] for level in report["levels"]] == hp.sigmas
