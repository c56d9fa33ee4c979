"""The record a dump folder keeps of the preset settings it was made with (``dump.json``).

A dump's waves are quantised units and its features log-mel frames: nothing in the arrays says
which quantiser, sample rate or mel settings made them, and a linear dump read under a mu-law
preset trains a model on the wrong signal without a word.  ``pnf-preprocess`` therefore writes
``dump.json`` (the :func:`~wavenet_vocoder.hparams.made_with` settings of its preset) into the
``dump/`` and ``dump_norm/`` folders it makes, and the readers compare it with their preset.
Dumps made before the record existed have none and are read as before.
"""
import json
import os

from .audio import write_atomically
from .errors import PnfError
from .hparams import made_with, preset_mismatches

#: The record's file name, in a dump folder (beside its ``train/`` and ``dev/``).
RECORD_FILE = "dump.json"


def write_record(folder, hparams):
    """Write ``folder``/dump.json: the settings of ``hparams`` that decide what the dump's arrays mean."""
    save_record(folder, made_with(hparams))


def save_record(folder, record):
    """Write ``record`` (a dict of preset settings, as :func:`read_record` returns it) as ``folder``/dump.json,
    whole or not at all: how a dump copied or packed elsewhere keeps its record."""
    text = json.dumps(record, indent=2) + "\n"
    write_atomically(os.path.join(os.fspath(folder), RECORD_FILE), lambda f: f.write(text), mode="w")


def read_record(folder):
    """The settings recorded in ``folder``/dump.json, or None when the folder has no record.

    Raises :class:`PnfError` naming the file when it is there but is not a JSON object."""
    path = os.path.join(os.fspath(folder), RECORD_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError) as e:
        raise PnfError(f"cannot read {path}: {e}: delete it (the dump is then read unchecked) "
                       "or run pnf-preprocess again") from None
    if not isinstance(record, dict):
        raise PnfError(f"{path} is not a JSON object of preset settings: delete it or run pnf-preprocess again")
    return record


def check_record(folder, hparams):
    """Raise :class:`PnfError` when the dump in ``folder`` was made with settings that ``hparams``
    reads differently (see :func:`~wavenet_vocoder.hparams.preset_mismatches`).  The record is looked
    for in ``folder`` and then in its parent (a task given ``dump_norm/dev`` finds ``dump_norm/dump.json``);
    a folder without one passes."""
    folder = os.fspath(folder)
    for where in (folder, os.path.dirname(os.path.abspath(folder))):
        record = read_record(where)
        if record is not None:
            mismatches = preset_mismatches(record, hparams)
            if mismatches:
                raise PnfError(f"dump folder {folder} was made with {', '.join(mismatches)}: use the preset "
                               "it was made with, or run pnf-preprocess again with this one")
            return
