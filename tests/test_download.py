import os
import types

import pytest

from wavenet_vocoder import download
from wavenet_vocoder.errors import PnfError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESETS, DATASETS = download.PRESETS, download.DATASETS


def test_place_maps_level_files_into_egs():
    place = download.place
    assert place("mulaw_maxaudio/supra_piano/checkpoints175pt9/checkpoint_latest_ema.pth", "egs",
                 PRESETS, DATASETS) == os.path.join("egs", "mulaw_maxaudio", "supra_piano",
                                                    "checkpoints175pt9", "checkpoint_latest_ema.pth")
    # The preset folder may sit below another folder on the Drive.
    assert place("pnf/linear_quantize_max_audio/vctk/checkpoints0pt1/checkpoint_latest_ema.pth", "e",
                 PRESETS, DATASETS) == os.path.join("e", "linear_quantize_max_audio", "vctk",
                                                    "checkpoints0pt1", "checkpoint_latest_ema.pth")
    step_file = "mulaw_maxaudio/vctk/checkpoints1pt0/checkpoint_step000100000.pth"
    assert place(step_file, "egs", PRESETS, DATASETS) is None
    assert place(step_file, "egs", PRESETS, DATASETS, all_files=True).endswith("checkpoint_step000100000.pth")
    # Nothing outside a level folder, nothing of an unselected preset or dataset.
    assert place("mulaw_maxaudio/config.json", "egs", PRESETS, DATASETS) is None
    assert place("mulaw_maxaudio/vctk/checkpoints1pt0/checkpoint_latest_ema.pth", "egs",
                 PRESETS, ("supra_piano",)) is None
    assert place("mulaw_maxaudio/vctk/checkpoints1pt0/sub/checkpoint_latest_ema.pth", "egs",
                 PRESETS, DATASETS) is None


def test_dry_run_prints_every_level_of_the_schedules(capsys):
    egs = os.path.join(REPO, "egs")
    assert download.main(["--dry-run", "--dest", egs]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if "->" in l]
    assert len(lines) == (24 + 16 + 24) * 2
    assert any(l.strip().startswith("mulaw_maxaudio_spectrogram/vctk/checkpoints0pt244/") for l in lines)


def test_fetch_places_files_with_a_fake_gdown(tmp_path, monkeypatch):
    calls = []

    def fake_download(id, output, quiet, resume, retries):
        calls.append(id)
        with open(output, "wb") as f:
            f.write(b"weights")
        return output

    listing = [("id1", "mulaw_maxaudio/supra_piano/checkpoints175pt9/checkpoint_latest_ema.pth"),
               ("id2", "mulaw_maxaudio/supra_piano/checkpoints175pt9/checkpoint_latest.pth"),
               ("id3", "mulaw_maxaudio/supra_piano/checkpoints1pt0/checkpoint_latest_ema.pth"),
               ("id4", "mulaw_maxaudio/README.txt")]
    fake = types.SimpleNamespace(download=fake_download,
                                 download_folder=lambda **kw: [types.SimpleNamespace(id=i, path=p)
                                                               for i, p in listing])
    monkeypatch.setattr(download, "_import_gdown", lambda: fake)
    assert download.main(["--dest", str(tmp_path), "--preset", "mulaw_maxaudio"]) == 0
    assert calls == ["id1", "id3"]
    assert (tmp_path / "mulaw_maxaudio/supra_piano/checkpoints1pt0/checkpoint_latest_ema.pth").read_bytes() == b"weights"
    calls.clear()
    download.main(["--dest", str(tmp_path), "--preset", "mulaw_maxaudio"])    # present files are skipped
    assert calls == []


def test_bad_names_are_errors():
    with pytest.raises(PnfError, match="--preset: unknown name"):
        download.main(["--preset", "nope", "--dry-run"])
