"""Fetch the published PnF checkpoints into this folder (see `--help`; `--dry-run` needs no network).

Run from anywhere: files land under the folder of this script unless --dest says otherwise.
"""
import os
import sys

from wavenet_vocoder.cli import run
from wavenet_vocoder.download import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if not any(a == "--dest" or a.startswith("--dest=") for a in argv):
        argv.append("--dest=" + os.path.relpath(os.path.dirname(os.path.abspath(__file__))))
    run(main, argv)
