"""Join dumps made apart into one that pnf-train reads, keeping each dump's own train/dev split.

Usage:
  python merge_dumps.py <out-dump-dir> <dump-dir>...

Each <dump-dir> is a `pnf-preprocess` output's `dump/` (or `dump_norm/`) folder: `train/` and
`dev/` holding `<name>-<i>-wave.npy` (and `-feats.npy`) files. The merged folder links every file
of each input's `train/` into its own `train/`, and of each `dev/` into `dev/` (symbolic links,
relative where the two folders share a root, so the folder moves with its data). Preprocessing a
second corpus apart (its own `--name`) and merging keeps the first corpus's split as it was:
a prior trained on the first alone and continued on the merged dump never finds a file it trained
on in dev. Two inputs with a file of the same name are refused (give the corpora different
`--name`s), and so is an output folder that exists already, or inputs whose `dump.json` records
say they were made with different preset settings; the merged folder gets the inputs' record
when every input has one.
"""
import argparse
import glob
import os
import sys

from wavenet_vocoder.dump_record import RECORD_FILE, read_record, save_record

SPLITS = ("train", "dev")


def merge(out, dumps):
    """Link the files of ``dumps`` into ``out``; returns {split: files linked}. Raises ValueError
    (nothing written) on a missing split folder, a name in two inputs, inputs made with different
    preset settings (their ``dump.json``) or an existing ``out``."""
    if os.path.exists(out):
        raise ValueError(f"{out} exists already: merge into a new folder")
    plan = {split: {} for split in SPLITS}
    for dump in dumps:
        for split in SPLITS:
            folder = os.path.join(dump, split)
            if not os.path.isdir(folder):
                raise ValueError(f"{folder} is missing: give pnf-preprocess's dump/ (or dump_norm/) folders")
            for path in sorted(glob.glob(os.path.join(folder, "*.npy"))):
                name = os.path.basename(path)
                if name in plan[split]:
                    raise ValueError(f"{name} is in both {os.path.dirname(plan[split][name])} and {folder}: "
                                     "preprocess the corpora with different --name prefixes")
                plan[split][name] = path
    if not any(plan[split] for split in SPLITS):
        raise ValueError(f"no .npy files in {', '.join(dumps)}")
    records = {dump: read_record(dump) for dump in dumps}
    recorded = [dump for dump in dumps if records[dump] is not None]
    other = next((dump for dump in recorded if records[dump] != records[recorded[0]]), None)
    if other is not None:
        raise ValueError(f"{recorded[0]} and {other} were made with different preset settings "
                         f"({RECORD_FILE}): preprocess them with one preset")
    for split in SPLITS:
        target = os.path.join(out, split)
        os.makedirs(target)
        for name, path in plan[split].items():
            os.symlink(os.path.relpath(os.path.abspath(path), os.path.abspath(target)), os.path.join(target, name))
    if len(recorded) == len(dumps):
        save_record(out, records[dumps[0]])
    return {split: len(plan[split]) for split in SPLITS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("dumps", nargs="+")
    args = parser.parse_args(argv)
    try:
        counts = merge(args.out, args.dumps)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{counts['train']} train and {counts['dev']} dev files linked into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
