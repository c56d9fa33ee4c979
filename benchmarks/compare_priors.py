"""Dev loss per level of trained priors, side by side, from their training.json files.

Usage:
  compare_priors.py [options] <root>...

Each <root> is a prior's root folder as pnf-train writes it: a per-level chain (levels with
their dev loss and training seconds) or a noise-conditional prior (one model; its dev loss at
every level of its schedule, and a curve of it against steps and seconds). Prints one
markdown table: a row per level, a column per prior, and each prior's total training steps
and seconds. With --equal-time, a noise-conditional prior is read at the last point of its
curve whose training seconds do not exceed the first prior's total: the comparison at equal
(or less) training time. The losses compare only where they were measured on the same dev set
(the same dump, and pnf-train's fixed dev set, named in training.json); where they were not, or
a record does not name its dev set (one written before pnf-train fixed it), a note on stderr
says so.

Options:
  --equal-time           Read noise-conditional priors at the first prior's training time.
  -h, --help             Show this help.
"""
import json
import os
import sys

from wavenet_vocoder.cli import parse_args, run
from wavenet_vocoder.errors import PnfError


def read_record(root):
    """(name, {sigma: dev loss}, steps, seconds, curve or None, dev set name or None) of a prior's
    training.json (the dev set's name None where the record does not give one for every loss)."""
    path = os.path.join(root, "training.json")
    try:
        with open(path) as f:
            record = json.load(f)
        levels = record["levels"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PnfError(f"{path}: not a training record written by pnf-train ({type(e).__name__})") from None
    name = os.path.basename(os.path.normpath(root))
    losses = {float(level["sigma"]): level["dev_loss"] for level in levels}
    if record.get("noise_conditional"):
        return name, losses, record["steps"], record["seconds"], record.get("curve", []), record.get("dev_set")
    steps = sum(level["steps"] - level.get("start_step", 0) for level in levels)
    named = {level.get("dev_set") for level in levels}
    return name, losses, steps, sum(level["seconds"] for level in levels), None, \
        named.pop() if len(named) == 1 else None


def at_time(record, sigmas, seconds):
    """A noise-conditional record read at the last curve point within ``seconds``."""
    name, losses, steps, total, curve, _ = record
    points = [p for p in curve if p["seconds"] <= seconds * 1.0001]
    if not points:
        raise PnfError(f"{name}: no point of its curve lies within {seconds:.0f} s of training")
    point = points[-1]
    if len(point["dev_loss"]) != len(sigmas):
        raise PnfError(f"{name}: its curve does not hold a loss for each of its levels")
    return (f"{name} at {point['seconds']:.0f} s", dict(zip(sigmas, point["dev_loss"])), point["step"],
            point["seconds"], curve, point.get("dev_set"))


def table(records):
    sigmas = sorted({s for r in records for s in r[1]}, reverse=True)
    lines = ["| sigma | " + " | ".join(r[0] for r in records) + " |",
             "| --- |" + " --- |" * len(records)]
    for s in sigmas:
        cells = [f"{r[1][s]:.3f}" if s in r[1] else "-" for r in records]
        lines.append(f"| {s:g} | " + " | ".join(cells) + " |")
    lines.append("| training steps | " + " | ".join(str(r[2]) for r in records) + " |")
    lines.append("| training seconds | " + " | ".join(f"{r[3]:.0f}" for r in records) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(__doc__, argv)
    records = [read_record(root) for root in args["<root>"]]
    if args["--equal-time"]:
        budget = records[0][3]
        records = [records[0]] + [at_time(r, sorted(r[1], reverse=True), budget) if r[4] is not None else r
                                  for r in records[1:]]
    print(table(records))
    named = {r[5] for r in records}
    if None in named or len(named) > 1:
        print("note: these dev losses were not all measured on one named dev set (" +
              ", ".join(f"{r[0]}: {r[5] or 'unnamed, drawn from its run'}" for r in records) +
              "): they compare only on the same dump, seed, batch size and device", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run(main)
