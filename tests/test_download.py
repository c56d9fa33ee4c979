import hashlib
import json
import os

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


def folder_view(name, files=(), folders=()):
    """A page shaped like Google Drive's embedded folder view: a title, then one link per entry."""
    entries = [f'<div class="flip-entry"><a href="https://drive.google.com/file/d/{i}/view?usp=drive_web" '
               f'target="_blank"><div class="flip-entry-title">{n}</div></a></div>' for i, n in files]
    entries += [f'<div class="flip-entry"><a href="https://drive.google.com/drive/folders/{i}" target="_blank">'
                f'<div class="flip-entry-title">{n}</div></a></div>' for i, n in folders]
    return f"<html><head><title>{name}</title></head><body>{''.join(entries)}</body></html>"


class FakeDrive:
    """Google Drive offline: folder view pages built from a listing, and gdown downloads writing given bytes."""

    def __init__(self, listing, contents, failing=()):
        self.contents, self.calls, self.listed, self.failing = contents, [], [], set(failing)
        self.pages = {}
        tree = {(): ({}, {})}                                  # folder path -> (files, subfolders)
        for file_id, path in listing:
            *folders, name = path.split("/")
            for depth in range(len(folders)):
                parent, child = tuple(folders[:depth]), tuple(folders[:depth + 1])
                tree.setdefault(child, ({}, {}))
                tree[parent][1][folders[depth]] = "folder-" + "-".join(child).replace("/", "-")
            tree[tuple(folders)][0][file_id] = name
        for path, (files, subfolders) in tree.items():
            folder_id = "folder-" + "-".join(path) if path else "root-folder-id-0000000000"
            self.pages[folder_id] = (path, folder_view(path[-1] if path else "pnf", files.items(),
                                                       [(i, n) for n, i in subfolders.items()]))

    def fetch(self, folder_id):
        path, page = self.pages[folder_id]
        self.listed.append("/".join(path))
        if "/".join(path) in self.failing:
            raise ConnectionError("Connection reset by peer")
        return page

    def download(self, id, output, quiet, resume, retries):
        self.calls.append(id)
        with open(output, "wb") as f:
            f.write(self.contents[id])
        return output

    def install(self, monkeypatch):
        monkeypatch.setattr(download, "_import_gdown", lambda: self)
        monkeypatch.setattr(download.drive_folders, "fetch_folder_view", self.fetch)
        return self


LEVELS = [("id4", "mulaw_maxaudio/supra_piano/checkpoints4pt0/checkpoint_latest_ema.pth"),
          ("id1", "mulaw_maxaudio/supra_piano/checkpoints1pt0/checkpoint_latest_ema.pth")]
ARGS = ["--preset", "mulaw_maxaudio", "--dataset", "supra_piano", "--folder-id", "root-folder-id-0000000000"]


def test_fetch_places_verifies_and_refetches_damaged_files(tmp_path, monkeypatch):
    dest = tmp_path / "egs"
    good = tiny_egs(dest)
    listing = LEVELS + [("id2", "mulaw_maxaudio/supra_piano/checkpoints1pt0/checkpoint_latest.pth"),
                        ("id3", "mulaw_maxaudio/README.txt")]
    drive = FakeDrive(listing, {"id4": good, "id1": good})
    drive.install(monkeypatch)
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
    drive.install(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        run(download.main, ["--dest", str(dest)] + ARGS)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert "checkpoints1pt0" in err[0] and "is not usable (cannot read checkpoint" in err[0]


def test_manifest_is_written_and_then_enforced(tmp_path, monkeypatch):
    dest = tmp_path / "egs"
    good = tiny_egs(dest)
    drive = FakeDrive(LEVELS, {"id4": good, "id1": good})
    drive.install(monkeypatch)
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
    drive.install(monkeypatch)
    with pytest.raises(PnfError, match=r"1 level files .* not in the Drive listing, e.g. .*checkpoints1pt0"):
        download.main(["--dest", str(dest)] + ARGS)
    assert drive.calls == ["id4"]                                    # what is listed is still fetched


def test_bad_names_are_errors():
    with pytest.raises(PnfError, match="--preset: unknown name"):
        download.main(["--preset", "nope", "--dry-run"])


def test_folder_view_pages_are_parsed_into_files_and_folders():
    page = folder_view("checkpoints1pt0", files=[("1AbC-d_e", "checkpoint_latest_ema.pth"), ("2xYz", "log.txt")],
                       folders=[("3Fold", "old")])
    page = page.replace("</body>", '<a href="https://docs.google.com/document/d/4Doc/edit">notes</a>'
                                   '<a href="https://example.org/">elsewhere</a></body>')
    files, folders = download.drive_folders.parse_folder_view(page)
    assert files == [("1AbC-d_e", "checkpoint_latest_ema.pth"), ("2xYz", "log.txt")]
    assert folders == [("3Fold", "old")]


def test_only_the_selected_branches_are_listed_one_folder_at_a_time(tmp_path, monkeypatch):
    dest = tmp_path / "egs"
    good = tiny_egs(dest)
    others = [("x1", "mulaw_maxaudio/vctk/checkpoints1pt0/checkpoint_latest_ema.pth"),
              ("x2", "linear_quantize_max_audio/supra_piano/checkpoints1pt0/checkpoint_latest_ema.pth"),
              ("x3", "mulaw_maxaudio/supra_piano/checkpoints1pt0/old/checkpoint_latest_ema.pth"),
              ("x4", "mulaw_maxaudio/supra_piano/samples/a.wav")]
    drive = FakeDrive(LEVELS + others, {"id4": good, "id1": good}).install(monkeypatch)
    assert download.main(["--dest", str(dest)] + ARGS) == 0
    assert sorted(drive.listed) == ["", "mulaw_maxaudio", "mulaw_maxaudio/supra_piano",
                                    "mulaw_maxaudio/supra_piano/checkpoints1pt0",
                                    "mulaw_maxaudio/supra_piano/checkpoints4pt0"]
    assert drive.calls == ["id4", "id1"]


def test_a_level_folder_that_fails_to_list_is_retried_then_named(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "egs"
    good = tiny_egs(dest)
    drive = FakeDrive(LEVELS, {"id4": good, "id1": good},
                      failing=["mulaw_maxaudio/supra_piano/checkpoints1pt0"]).install(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        run(download.main, ["--dest", str(dest), "--retries", "2"] + ARGS)
    assert exit_info.value.code == 2
    assert drive.listed.count("mulaw_maxaudio/supra_piano/checkpoints1pt0") == 3
    assert drive.calls == ["id4"]                                   # the other level is still fetched
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == ("warning: Drive folder mulaw_maxaudio/supra_piano/checkpoints1pt0 could not be listed "
                      "(ConnectionError: Connection reset by peer)")
    assert "checkpoints1pt0" in err[-1] and "could not be listed whole: mulaw_maxaudio/supra_piano/checkpoints1pt0" in err[-1]


def test_a_folder_view_at_the_entry_limit_is_warned_about(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "egs"
    good = tiny_egs(dest)
    steps = [(f"s{i}", f"mulaw_maxaudio/supra_piano/checkpoints4pt0/checkpoint_step{i:09d}.pth") for i in range(49)]
    drive = FakeDrive(LEVELS + steps, {"id4": good, "id1": good}).install(monkeypatch)
    assert download.main(["--dest", str(dest)] + ARGS) == 0
    err = capsys.readouterr().err
    assert ("warning: Drive folder mulaw_maxaudio/supra_piano/checkpoints4pt0 lists 50 entries, "
            "Google Drive's limit for a folder view: later entries may be missing") in err
    assert drive.calls == ["id4", "id1"]


def test_an_unreachable_top_folder_is_one_line(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "egs"
    tiny_egs(dest)
    FakeDrive(LEVELS, {}, failing=[""]).install(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        run(download.main, ["--dest", str(dest), "--retries", "0"] + ARGS)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert err[0].startswith("error: cannot list Google Drive folder root-folder-id-0000000000 "
                             "(ConnectionError: Connection reset by peer). Check the network")
