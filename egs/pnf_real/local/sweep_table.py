"""Print the architecture sweep's table: per candidate, its size, steps, seconds and dev loss per level.

Usage: python sweep_table.py <run-folder>...   (each holding a noise-conditional training.json)
"""
import json
import os
import sys

from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder.wavenet import WaveNet, receptive_field_size


def main(folders):
    rows = []
    for folder in folders:
        record = json.load(open(os.path.join(folder, "training.json")))
        hp = load_preset(os.path.join(folder, "config.json"))
        params = sum(p.numel() for p in WaveNet.from_hparams(hp).parameters())
        last = record["curve"][-1]
        rf = receptive_field_size(hp.layers, hp.stacks, hp.kernel_size)
        rows.append((os.path.basename(os.path.normpath(folder)), rf, params, last["step"], last["seconds"],
                     last["dev_loss"], hp.sigmas))
    sigmas = rows[0][-1]
    print("| candidate | receptive field (samples) | parameters | steps | seconds | "
          + " | ".join(f"dev loss at {s:g}" for s in sigmas) + " | mean |")
    print("|" + " --- |" * (6 + len(sigmas)))
    for name, rf, params, step, seconds, losses, _ in rows:
        print(f"| {name} | {rf} | {params:,} | {step} | {seconds:.0f} | "
              + " | ".join(f"{v:.3f}" for v in losses) + f" | {sum(losses) / len(losses):.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
