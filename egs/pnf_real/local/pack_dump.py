"""Pack a quantised dump small enough to carry to a lent GPU machine, and unpack it there.

Usage:
  python pack_dump.py pack <dump-dir> <packed-file> [--train-stride N] [--train-offset K] [--dev-stride N]
  python pack_dump.py unpack <packed-file> <dump-dir>

A quantised dump (pnf-preprocess of a "mulaw-quantize" or "linear-quantize" preset) holds each
utterance as an int16 array of quantised units 0..255 (`<name>-wave.npy`; unconditional presets
need no features). `pack` stores each as its first differences modulo 256 (one byte per sample),
compressed with lzma: about 0.49 bytes per sample for the rendered piano and 0.55 for the speech
in mu-law, 0.38 and 0.42 in linear quantisation, a quarter of the int16 files or less.
`--train-stride N` keeps every N-th training utterance (sorted by name), and `--dev-stride` every
N-th dev one, to fit a size limit; `--train-offset K` (0 <= K < N) starts the training files at the
K-th, so that runs with offsets 0, 1, ... see different training files. `unpack` writes the same
int16 arrays again, exactly (cumulative sums modulo 256), into a folder that holds no dump yet, with
the dump's `dump.json` (the preset settings it was made with) when it has one. Dumps of raw
(float) waveforms are refused.
"""
import argparse
import glob
import lzma
import os
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from wavenet_vocoder.dump_record import RECORD_FILE, read_record, save_record

SPLITS = ("train", "dev")


def encode(path):
    """(file name, lzma'd bytes of the differences modulo 256) of one quantised wave file."""
    q = np.load(path)
    if q.dtype.kind not in "iu" or q.size and (q.min() < 0 or q.max() > 255):
        raise ValueError(f"{path}: not quantised units 0..255 (a mu-law or linear-quantize dump); raw waveform dumps cannot be packed")
    diff = np.diff(q.astype(np.int16), prepend=np.int16(0)).astype(np.uint8)
    return os.path.basename(path), lzma.compress(diff.tobytes(), preset=6)


def decode(blob):
    """The int16 quantised units back from :func:`encode`'s bytes."""
    diff = np.frombuffer(lzma.decompress(blob), dtype=np.uint8)
    return np.cumsum(diff, dtype=np.uint8).astype(np.int16)


def pack(dump, packed, train_stride=1, dev_stride=1, train_offset=0):
    files = {}
    for split, stride, offset in zip(SPLITS, (train_stride, dev_stride), (train_offset, 0)):
        files[split] = sorted(glob.glob(os.path.join(dump, split, "*-wave.npy")))[offset::stride]
        if not files[split]:
            raise ValueError(f"{os.path.join(dump, split)} holds no *-wave.npy files: pass a pnf-preprocess dump")
    with ProcessPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
        items = {split: list(pool.map(encode, paths)) for split, paths in files.items()}
    record = read_record(dump)
    if record is not None:
        items[RECORD_FILE] = record
    tmp = packed + ".part"
    with open(tmp, "wb") as f:
        pickle.dump(items, f, protocol=4)
    os.replace(tmp, packed)
    return {split: len(items[split]) for split in SPLITS}


def unpack(packed, dump):
    for split in SPLITS:
        if glob.glob(os.path.join(dump, split, "*-wave.npy")):
            raise ValueError(f"{os.path.join(dump, split)} already holds a dump: unpack into a new folder")
    with open(packed, "rb") as f:
        items = pickle.load(f)
    for split in SPLITS:
        os.makedirs(os.path.join(dump, split), exist_ok=True)
        for name, blob in items[split]:
            np.save(os.path.join(dump, split, name), decode(blob))
    if RECORD_FILE in items:
        save_record(dump, items[RECORD_FILE])
    return {split: len(items[split]) for split in SPLITS}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("dump")
    p.add_argument("packed")
    p.add_argument("--train-stride", type=int, default=1)
    p.add_argument("--train-offset", type=int, default=0)
    p.add_argument("--dev-stride", type=int, default=1)
    u = sub.add_parser("unpack")
    u.add_argument("packed")
    u.add_argument("dump")
    args = parser.parse_args(argv)
    try:
        if args.command == "pack":
            if args.train_stride < 1 or args.dev_stride < 1:
                raise ValueError("--train-stride and --dev-stride must be 1 or more")
            if not 0 <= args.train_offset < args.train_stride:
                raise ValueError(f"--train-offset must be from 0 to --train-stride - 1 ({args.train_stride - 1})")
            counts = pack(args.dump, args.packed, args.train_stride, args.dev_stride, args.train_offset)
            print(f"packed {counts} into {args.packed} ({os.path.getsize(args.packed) / 2 ** 20:.1f} MiB)")
        else:
            counts = unpack(args.packed, args.dump)
            print(f"unpacked {counts} into {args.dump}")
    except (OSError, ValueError, pickle.UnpicklingError, lzma.LZMAError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
