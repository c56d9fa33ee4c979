"""Fetch the published checkpoints from their Google Drive folder with gdown.

Usage:
  download_checkpoints.py [options]

Options:
  --preset=NAMES     Comma-separated presets to fetch
                     [default: mulaw_maxaudio,mulaw_maxaudio_spectrogram,linear_quantize_max_audio]
  --dataset=NAMES    Comma-separated datasets [default: supra_piano,vctk]
  --dest=DIR         The egs folder the preset folders go into [default: egs]
  --folder-id=ID     Google Drive folder of the published models [default: 1zC_WzbweJqd63RRoRGm8yXOkBiFp3vsZ]
  --all-files        Every file of each level folder, not only checkpoint_latest_ema.pth (the file the samplers read)
  --force            Download files that are already present again
  --retries=N        Extra attempts per file on network errors [default: 3]
  --dry-run          Print what would be fetched and where it would go, from the presets' schedules, without network
  -h, --help         Show this help.

The Drive folder holds one folder per preset, each with one folder per dataset,
each with one folder per noise level (checkpoints175pt9, ...).  They land in
<dest>/<preset>/<dataset>/checkpoints<sigma>/, where the task scripts look.
"""
import os
import sys
from collections import namedtuple

from .checkpoints import CHECKPOINT_FILES, checkpoint_dir_name, sigma_from_dir_name
from .cli import parse_args, run
from .errors import PnfError
from .hparams import load_preset

PUBLISHED_FOLDER_ID = "1zC_WzbweJqd63RRoRGm8yXOkBiFp3vsZ"
PRESETS = ("mulaw_maxaudio", "mulaw_maxaudio_spectrogram", "linear_quantize_max_audio")
DATASETS = ("supra_piano", "vctk")

Transfer = namedtuple("Transfer", ["file_id", "remote_path", "local_path"])
Transfer.__doc__ = "One file to fetch: Drive file id (None in a dry run), path inside the Drive folder, local path."


def place(remote_path, dest, presets, datasets, all_files=False):
    """Local path for a file listed at ``remote_path`` inside the Drive folder, or None to skip it.

    Only files inside ``<preset>/<dataset>/checkpoints<sigma>/`` are placed (the
    preset may sit below other folders on the Drive); with ``all_files`` False, only
    the file the samplers read.  Nothing outside a level folder is fetched, so the
    repository's own presets are never overwritten.
    """
    parts = [p for p in remote_path.replace("\\", "/").split("/") if p]
    for i in range(len(parts) - 3):
        preset, dataset, level, *rest = parts[i:]
        if preset in presets and dataset in datasets and sigma_from_dir_name(level) is not None:
            if len(rest) != 1 or (not all_files and rest[0] != CHECKPOINT_FILES[0]):
                return None
            return os.path.join(dest, preset, dataset, level, rest[0])
    return None


def plan_from_listing(listing, dest, presets, datasets, all_files=False):
    """Transfers for a Drive listing of ``(file_id, remote_path)`` pairs (what gdown lists)."""
    transfers = []
    for file_id, remote_path in listing:
        local = place(remote_path, dest, presets, datasets, all_files)
        if local is not None:
            transfers.append(Transfer(file_id, remote_path, local))
    return transfers


def plan_from_presets(dest, presets, datasets):
    """The transfers expected from the presets' schedules (``<dest>/<preset>/config.json``), offline."""
    transfers = []
    for preset in presets:
        hp = load_preset(os.path.join(dest, preset, "config.json"))
        for dataset in datasets:
            for sigma in hp.sigmas:
                remote = "/".join((preset, dataset, checkpoint_dir_name(sigma), CHECKPOINT_FILES[0]))
                transfers.append(Transfer(None, remote, os.path.join(dest, *remote.split("/"))))
    return transfers


def list_drive_folder(folder_id):
    """``(file_id, remote_path)`` for every file below the Drive folder (needs network)."""
    gdown = _import_gdown()
    try:
        files = gdown.download_folder(id=folder_id, skip_download=True, quiet=True)
    except Exception as e:  # gdown raises requests' and its own errors
        raise PnfError(f"cannot list Google Drive folder {folder_id}: {type(e).__name__}: {e}. "
                       "Check the network, or fetch the folder in a browser and unpack it into egs/") from None
    return [(f.id, f.path) for f in files]


def fetch(transfers, force=False, retries=3):
    """Download each transfer not yet present; returns the number of files downloaded."""
    gdown = _import_gdown()
    done = 0
    for t in transfers:
        if not force and os.path.isfile(t.local_path) and os.path.getsize(t.local_path) > 0:
            print(f"present  {t.local_path}")
            continue
        os.makedirs(os.path.dirname(t.local_path), exist_ok=True)
        print(f"fetching {t.remote_path} -> {t.local_path}")
        try:
            gdown.download(id=t.file_id, output=t.local_path, quiet=False, resume=True, retries=retries)
        except Exception as e:
            raise PnfError(f"download of {t.remote_path} failed: {type(e).__name__}: {e}; "
                           "run the command again to resume") from None
        done += 1
    return done


def _import_gdown():
    try:
        import gdown
    except ImportError:
        raise PnfError("gdown is not installed: pip install gdown") from None
    return gdown


def _names(text, allowed, flag):
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise PnfError(f"{flag}: unknown name(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(allowed)}")
    return names


def main(argv=None):
    args = parse_args(__doc__, argv)
    presets = _names(args["--preset"], PRESETS, "--preset")
    datasets = _names(args["--dataset"], DATASETS, "--dataset")
    dest = args["--dest"]
    try:
        retries = int(args["--retries"])
    except ValueError:
        raise PnfError(f"--retries={args['--retries']} is not an integer") from None
    if args["--dry-run"]:
        transfers = plan_from_presets(dest, presets, datasets)
        print(f"dry run: from Google Drive folder {args['--folder-id']} "
              f"({len(transfers)} files expected from the presets' schedules):")
        for t in transfers:
            print(f"  {t.remote_path} -> {t.local_path}")
        return 0
    transfers = plan_from_listing(list_drive_folder(args["--folder-id"]), dest, presets, datasets,
                                  args["--all-files"])
    if not transfers:
        raise PnfError(f"Google Drive folder {args['--folder-id']} lists no level folders for "
                       f"{','.join(presets)} / {','.join(datasets)}")
    count = fetch(transfers, force=args["--force"], retries=retries)
    print(f"{count} files downloaded, {len(transfers) - count} already present", file=sys.stderr)
    return 0


def cli():
    """Console entry point ``pnf-download``."""
    run(main)


if __name__ == "__main__":
    cli()
