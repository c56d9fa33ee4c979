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
  --manifest=FILE    A sha256 manifest ("<sha256>  <path under dest>" per line, as sha256sum
                     writes it): every file it lists must match, or it is fetched again
  --write-manifest=FILE  After a complete download, write the sha256 of every file to FILE
  --dry-run          Print what would be fetched and where it would go, from the presets' schedules, without network
  -h, --help         Show this help.

The Drive folder holds one folder per preset, each with one folder per dataset,
each with one folder per noise level (checkpoints175pt9, ...).  They land in
<dest>/<preset>/<dataset>/checkpoints<sigma>/, where the task scripts look.

Every file, present or fetched, is verified: not empty, the manifest's sha256 if one is
given, and a checkpoint that loads into the preset's model (<dest>/<preset>/config.json;
a readable state dict when there is no preset there). A file that fails is fetched
again; gdown resumes interrupted transfers. The Drive folder is listed one folder at a
time (each selected preset, dataset and level folder on its own, with --retries), as
Google Drive's folder view shows at most 50 entries of a folder: a folder that cannot
be listed, or shows 50 entries and may be cut, is named in a warning while the others
are fetched, and levels of the presets' schedules that the listing does not hold are
named at the end, with the exit status 2.
"""
import hashlib
import os
import sys
from collections import namedtuple

from . import drive_folders
from .audio import write_atomically
from .checkpoints import CHECKPOINT_FILES, checkpoint_dir_name, load_model, read_state_dict, sigma_from_dir_name
from .cli import parse_args, run
from .errors import CheckpointError, PnfError
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


def wanted_folder(parts, presets, datasets, wrappers=2):
    """Whether the Drive folder at path ``parts`` (names below the top folder) may hold level files.

    A selected preset's folder, its selected datasets' folders and their level folders
    (``checkpoints<sigma>``); above a preset, up to ``wrappers`` folders of any name.
    Other presets and datasets, and anything below a level folder, are never listed.
    """
    for i, name in enumerate(parts):
        if name in PRESETS:
            rest = parts[i + 1:]
            if name not in presets or (rest and rest[0] not in datasets) or len(rest) > 2:
                return False
            return len(rest) < 2 or sigma_from_dir_name(rest[1]) is not None
    return len(parts) <= wrappers


def list_drive_folder(folder_id, presets, datasets, retries=3):
    """(``(file_id, remote_path)`` pairs, problems) below the Drive folder, listed folder by folder (network).

    See :func:`~wavenet_vocoder.drive_folders.walk`: each preset, dataset and level folder is
    fetched on its own, so a folder that fails or is cut at Google Drive's view limit is
    named while the others are still listed.
    """
    try:
        return drive_folders.walk(folder_id, lambda parts: wanted_folder(parts, presets, datasets),
                                  fetch=drive_folders.fetch_folder_view, retries=retries)
    except drive_folders.FolderUnavailable as e:
        raise PnfError(f"cannot list Google Drive folder {folder_id} ({e}). "
                       "Check the network, or fetch the folder in a browser and unpack it into egs/") from None


def file_sha256(path):
    """Hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path):
    """{path relative to dest (with /): sha256} from a sha256sum-style file."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise PnfError(f"--manifest={path}: cannot read it ({e.strerror})") from None
    manifest = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise PnfError(f"--manifest={path}, line {number}: expected '<sha256>  <path>', got {line!r}")
        manifest[parts[1].strip().lstrip("*").replace("\\", "/")] = parts[0].lower()
    return manifest


def problem_with(path, dest, manifest=None):
    """Why the file at ``path`` is not a good copy (a string), or None if it is.

    Not empty; the manifest's sha256 if it lists the file; for a ``.pth`` file, a checkpoint
    that loads into the model of ``<dest>/<preset>/config.json`` (a readable state dict if
    that preset is not there).
    """
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return "missing or empty"
    relative = os.path.relpath(path, dest).replace(os.sep, "/")
    if manifest and relative in manifest and file_sha256(path) != manifest[relative]:
        return "its sha256 differs from the manifest's"
    if path.endswith(".pth"):
        preset = os.path.join(dest, relative.split("/")[0], "config.json")
        try:
            if os.path.isfile(preset):
                load_model(path, load_preset(preset))
            else:
                read_state_dict(path)
        except CheckpointError as e:
            return str(e)
    return None


def fetch(transfers, dest, force=False, retries=3, manifest=None):
    """Download each transfer without a good local copy (see :func:`problem_with`); returns how many."""
    gdown = _import_gdown()
    done = 0
    for t in transfers:
        problem = "--force" if force else problem_with(t.local_path, dest, manifest)
        if problem is None:
            print(f"present  {t.local_path}")
            continue
        if os.path.exists(t.local_path):
            print(f"fetching again {t.local_path}: {problem}")
            os.remove(t.local_path)
        os.makedirs(os.path.dirname(t.local_path), exist_ok=True)
        print(f"fetching {t.remote_path} -> {t.local_path}")
        try:
            gdown.download(id=t.file_id, output=t.local_path, quiet=False, resume=True, retries=retries)
        except Exception as e:
            raise PnfError(f"download of {t.remote_path} failed: {type(e).__name__}: {e}; "
                           "run the command again to resume") from None
        problem = problem_with(t.local_path, dest, manifest)
        if problem is not None:
            raise PnfError(f"{t.local_path} was downloaded but is not usable ({problem}); Google Drive may have "
                           "sent a quota or warning page: try again later, or fetch the file in a browser")
        done += 1
    return done


def write_manifest(path, transfers, dest):
    """Write ``<sha256>  <path under dest>`` for every transfer's local file, atomically."""
    lines = [f"{file_sha256(t.local_path)}  {os.path.relpath(t.local_path, dest).replace(os.sep, '/')}\n"
             for t in transfers]
    write_atomically(path, lambda f: f.write("".join(lines)), mode="w")


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
    manifest = read_manifest(args["--manifest"]) if args["--manifest"] else None
    listing, problems = list_drive_folder(args["--folder-id"], presets, datasets, retries)
    for where, why in problems:
        print(f"warning: Drive folder {where} {why}", file=sys.stderr)
    transfers = plan_from_listing(listing, dest, presets, datasets, args["--all-files"])
    if not transfers:
        raise PnfError(f"Google Drive folder {args['--folder-id']} lists no level folders for "
                       f"{','.join(presets)} / {','.join(datasets)}{_problems_hint(problems)}")
    count = fetch(transfers, dest, force=args["--force"], retries=retries, manifest=manifest)
    print(f"{count} files downloaded, {len(transfers) - count} already present", file=sys.stderr)
    listed = {os.path.normpath(t.local_path) for t in transfers}
    unlisted = [t.local_path for t in expected_transfers(dest, presets, datasets)
                if os.path.normpath(t.local_path) not in listed]
    if unlisted:
        raise PnfError(f"{len(unlisted)} level files of the presets' schedules are not in the Drive listing, e.g. "
                       f"{unlisted[0]}{_problems_hint(problems)}: run the command again (what is present "
                       "is kept), or fetch those level folders in a browser and unpack them into the same places")
    if args["--write-manifest"]:
        write_manifest(args["--write-manifest"], transfers, dest)
    return 0


def _problems_hint(problems):
    """A clause naming the folders that could not be listed whole, or nothing."""
    if not problems:
        return ""
    names = ", ".join(where for where, _ in problems[:3]) + (", ..." if len(problems) > 3 else "")
    return f" ({len(problems)} Drive folders could not be listed whole: {names}; see the warnings above)"


def expected_transfers(dest, presets, datasets):
    """The transfers of :func:`plan_from_presets` for the presets whose config.json is under ``dest``."""
    present = [p for p in presets if os.path.isfile(os.path.join(dest, p, "config.json"))]
    return plan_from_presets(dest, present, datasets)


def cli():
    """Console entry point ``pnf-download``."""
    run(main)


if __name__ == "__main__":
    cli()
