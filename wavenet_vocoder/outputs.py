"""A command's output folder: wavs (whole or streamed block by block), pictures and JSON, each written
completely or not at all, never over an input."""
import fnmatch
import json
import os

import numpy as np

from .audio import WavStream, save_wav, write_atomically
from .errors import PnfError
from .plots import comparison_figure


class OutputDir:
    """The output folder of one run.

    ``inputs``: files the run reads, never overwritten; ``names``: glob patterns of every file
    the run will write (e.g. ``out_*.wav``), checked against the inputs here, before any
    compute. A write that fails (disk full, read-only folder) raises a :class:`PnfError`
    naming the file, and leaves no partial file behind.
    """

    def __init__(self, path, sample_rate, inputs=(), names=()):
        self.path, self.sample_rate = os.fspath(path), sample_rate
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise PnfError(f"output folder {self.path} exists and is not a folder")
        self._inputs = {os.path.realpath(p) for p in inputs}
        folder = os.path.realpath(self.path)
        for p in sorted(self._inputs):
            if os.path.dirname(p) == folder and any(fnmatch.fnmatch(os.path.basename(p), n) for n in names):
                raise PnfError(f"refusing to overwrite the input file {p} with this run's outputs: choose another output folder")
        self.written = []

    def _target(self, name):
        path = os.path.join(self.path, name)
        if os.path.realpath(path) in self._inputs:
            raise PnfError(f"refusing to overwrite the input file {path}: choose another output folder")
        return path

    def _write(self, name, write):
        path = self._target(name)
        try:
            os.makedirs(self.path, exist_ok=True)
            result = write(path)
        except OSError as e:
            raise PnfError(f"cannot write {path}: {e.strerror or e}") from None
        self.written.append(name)
        return result

    def wav(self, name, audio):
        """Write (T,) audio in [-1, 1] as ``name`` (16-bit PCM)."""
        self._write(name, lambda path: save_wav(path, audio, self.sample_rate))

    def stream(self, name):
        """A :class:`~wavenet_vocoder.audio.WavStream` for ``name``: written block by block, renamed when closed."""
        return self._write(name, lambda path: WavStream(path, self.sample_rate))

    def plot(self, name, panels, **marks):
        """Write the spectrograms of ``panels`` ((label, audio) pairs) as ``name`` (see :mod:`~wavenet_vocoder.plots`)."""
        self._write(name, lambda path: comparison_figure(path, panels, self.sample_rate, **marks))

    def json(self, name, obj):
        """Write ``obj`` as indented JSON."""
        text = json.dumps(obj, indent=2, default=_json_default) + "\n"
        self._write(name, lambda path: write_atomically(path, lambda f: f.write(text), mode="w"))


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
