import hashlib
import json
import os
import types

import pytest
import torch

from conftest import tiny_hparams
from wavenet_vocoder import download
from wavenet_vocoder.checkpoints import save_checkpoint
from wavenet_vocoder.cli import run
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.wavenet import WaveNet

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


def tiny_egs(dest):
    """A dest folder holding a tiny mulaw_maxaudio preset (levels 4.0 and 1.0) and the bytes of a good checkpoint."""
    hp = tiny_hparams()
    (dest / "mulaw_maxaudio").mkdir(parents=True)
    (dest / "mulaw_maxaudio" / "config.json").write_text(json.dumps(hp.to_dict()))
    good = dest.parent / "good.pth"
    save_checkpoint(good, WaveNet.from_hparams(hp))
    return good.read_bytes()


class FakeDrive:
    """gdown's two calls, offline: a folder listing and downloads that write the given bytes per file id."""

    def __init__(self, listing, contents):
        self.listing, self.contents, self.calls = listing, contents, []

    def download_folder(self, **kw):
        return [types.SimpleNamespace(id=i, path=p) for i, p in self.listing]

    def download(self, id, output, quiet, resume, retries):
        self.calls.append(id)
        with open(output, "wb") as f:
            f.write(self.contents[id])
        return output


LEVELS = [("id4", "mulaw_maxaudio/supra_piano/checkpoints4pt0/checkpoint_latest_ema.pth"),
          ("id1", "mulaw_maxaudio/supra_piano/checkpoints1pt0/checkpoint_latest_ema.pth")]
ARGS = ["--preset", "mulaw_maxaudio", "--dataset", "supra_piano"]


def test_fetch_places_verifies_and_refetches_damaged_files(tmp_path, monkeypatch):
    dest = tmp_path / "egs"
    good = tiny_egs(dest)
    listing = LEVELS + [("id2", "mulaw_maxaudio/supra_piano/checkpoints1pt0/checkpoint_latest.pth"),
                        ("id3", "mulaw_maxaudio/README.txt")]
    drive = FakeDrive(listing, {"id4": good, "id1": good})
    monkeypatch.setattr(download, "_import_gdown", lambda: drive)
    assert download.main(["--dest", str(dest)] + ARGS) == 0
    assert drive.calls == ["id4", "id1"]
    level = dest / "mulaw_maxaudio/supra_piano/checkpoints1pt0/checkpoint_latest_ema.pth"
    assert level.read_bytes() == good
    drive.calls.clear()
    assert download.main(["--dest", str(dest)] + ARGS) == 0         # good present files are kept
    assert drive.calls == []
    level.write_bytes(good[: len(good) // 2])                        # an interrupted copy
    assert download.main(["--dest", str(dest)] + ARGS) == 0
    assert drive.calls == ["id1"] and level.read_bytes() == good


def test_a_quota_page_instead_of_a_checkpoint_is_an_error(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "egs"
    good = tiny_egs(dest)
    drive = FakeDrive(LEVELS, {"id4": good, "id1": b"<html>Google Drive - Quota exceeded</html>"})
    monkeypatch.setattr(download, "_import_gdown", lambda: drive)
    with pytest.raises(SystemExit) as exit_info:
        run(download.main, ["--dest", str(dest)] + ARGS)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert "checkpoints1pt0" in err[0] and "is not usable (cannot read checkpoint" in err[0]


def test_manifest_is_written_and_then_enforced(tmp_path, monkeypatch):
    dest = tmp_path / "egs"
    good = tiny_egs(dest)
    drive = FakeDrive(LEVELS, {"id4": good, "id1": good})
    monkeypatch.setattr(download, "_import_gdown", lambda: drive)
    manifest = tmp_path / "checkpoints.sha256"
    assert download.main(["--dest", str(dest), f"--write-manifest={manifest}"] + ARGS) == 0
    lines = manifest.read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == [p for _, p in LEVELS]
    assert all(line.split("  ")[0] == hashlib.sha256(good).hexdigest() for line in lines)
    # A different but loadable checkpoint is caught by its hash and fetched again.
    other = tmp_path / "other.pth"
    torch.manual_seed(5)
    save_checkpoint(other, WaveNet.from_hparams(tiny_hparams()))
    level = dest / LEVELS[1][1]
    level.write_bytes(other.read_bytes())
    drive.calls.clear()
    assert download.main(["--dest", str(dest), f"--manifest={manifest}"] + ARGS) == 0
    assert drive.calls == ["id1"] and level.read_bytes() == good
    # If the Drive itself serves other bytes than the manifest says, that is an error.
    drive.contents["id1"] = other.read_bytes()
    level.write_bytes(b"")
    with pytest.raises(PnfError, match="sha256 differs from the manifest"):
        download.main(["--dest", str(dest), f"--manifest={manifest}"] + ARGS)


def test_levels_missing_from_the_listing_are_named(tmp_path, monkeypatch):
    dest = tmp_path / "egs"
    good = tiny_egs(dest)
    drive = FakeDrive(LEVELS[:1], {"id4": good})
    monkeypatch.setattr(download, "_import_gdown", lambda: drive)
    with pytest.raises(PnfError, match=r"1 level files .* not in the Drive listing, e.g. .*checkpoints1pt0"):
        download.main(["--dest", str(dest)] + ARGS)
    assert drive.calls == ["id4"]                                    # what is listed is still fetched


def test_bad_names_are_errors():
    with pytest.raises(PnfError, match="--preset: unknown name"):
        download.main(["--preset", "nope", "--dry-run"])
