"""Render the pieces of a rendered folder again with another piano: a soundfont through fluidsynth.

Usage: python render_soundfont.py <like-dir> <out-dir> <composers> <seed>
                                  [--soundfont SF2] [--seconds S] [--sample-rate HZ]

For every `<composer>-<name>.wav` in <like-dir> (what render_piano.py wrote), the music21
corpus score of that name (among <composers>, a comma-separated list of corpus folders) is
played again on the soundfont's acoustic grand (General MIDI program 0) and written as
`<out-dir>/<composer>-<name>.wav` (mono, 16-bit, peak 0.9, at most <seconds> seconds). The same
file names put both versions of a piece on the same side of pnf-preprocess's train/dev split.

Tempo (60..132 quarter notes per minute), transposition (-3..3 semitones), loudness (MIDI
velocity around a level drawn per piece) and sustain (1 to 1.6 times the written length) are
drawn from <seed> per piece, as render_piano.py draws them, but independently of its draws; a
note ends where its key is struck again. fluidsynth's default reverb and chorus stay on.
"""
import argparse
import glob
import math
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly


def midi_file(notes, bpm, path):
    """Write ``notes`` (onset, length in quarter notes, MIDI pitch, velocity 1..127) as a MIDI file
    at ``bpm`` quarter notes per minute, all on General MIDI program 0 (acoustic grand)."""
    from music21 import instrument, note, stream, tempo
    piece = stream.Stream()
    piece.insert(0, instrument.Piano())
    piece.insert(0, tempo.MetronomeMark(number=bpm))
    for onset, length, pitch, velocity in notes:
        n = note.Note(pitch, quarterLength=length)
        n.volume.velocity = velocity
        piece.insert(onset, n)
    piece.write("midi", fp=path)


def one_key_at_a_time(notes):
    """``notes`` (onset, length, pitch, velocity) with each note ending where its key is struck again.

    A piano key sounds one note at a time; in MIDI the earlier note's note-off, if it came after
    the re-strike, would silence the new note instead.  Of notes struck together on one key the
    shortest is kept.
    """
    by_key = {}
    for n in sorted(notes):
        by_key.setdefault(n[2], []).append(n)
    out = []
    for key_notes in by_key.values():
        for i, (onset, length, pitch, velocity) in enumerate(key_notes):
            if i and onset == key_notes[i - 1][0]:
                continue
            later = [n[0] for n in key_notes[i + 1:] if n[0] > onset]
            out.append((onset, min(length, later[0] - onset) if later else length, pitch, velocity))
    return sorted(out)


def corpus_paths(composers):
    """{"<composer>-<name>": score path} over the corpus folders, named as render_piano.py names them."""
    from music21 import corpus
    from render_piano import piece_name                      # the names render_piano.py gives its files
    found = {}
    for c in composers.split(","):
        for p in corpus.getComposer(c):
            found[piece_name(str(p))] = str(p)
    return found


def pieces_like(like, composers):
    """[(name, score path)] for every ``<composer>-<name>.wav`` in the folder ``like`` whose score is
    among ``composers`` (the others are reported and left out), sorted by name; exits when ``like``
    holds no .wav files."""
    names = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(like, "*.wav")))
    if not names:
        sys.exit(f"error: no .wav files in {like}: render the Salamander pieces first (run.sh stage 1)")
    paths = corpus_paths(composers)
    for name in names:
        if name not in paths:
            print(f"skipped {name}: no score of that name among {composers}")
    return [(name, paths[name]) for name in names if name in paths]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("like")
    parser.add_argument("out")
    parser.add_argument("composers")
    parser.add_argument("seed", type=int)
    parser.add_argument("--soundfont", default="/usr/share/sounds/sf2/FluidR3_GM.sf2")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sample-rate", type=int, default=22050)
    args = parser.parse_args()
    from render_piano import score_notes, write_piece        # the Salamander renderer's score reader and writer
    if not os.path.isfile(args.soundfont):
        sys.exit(f"error: soundfont {args.soundfont} is missing: apt-get install fluid-soundfont-gm fluidsynth")
    pieces = pieces_like(args.like, args.composers)
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in pieces:
            bpm = rng.uniform(60, 132)
            level = rng.uniform(45, 105)
            sustain = rng.uniform(1.0, 1.6)
            last = args.seconds * bpm / 60                 # quarter notes that fit in the excerpt
            notes = one_key_at_a_time(
                [(onset, length * sustain, pitch, int(np.clip(round(rng.gauss(level, 12)), 1, 127)))
                 for onset, length, pitch in score_notes(path, rng.randint(-3, 3)) if onset < last])
            midi = os.path.join(tmp, "piece.mid")
            midi_file(notes, bpm, midi)
            wav = os.path.join(tmp, "piece.wav")
            subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.4", "-F", wav, "-r", "44100", args.soundfont, midi],
                           check=True)
            audio, rate = sf.read(wav, dtype="float32", always_2d=True)
            g = math.gcd(args.sample_rate, rate)
            audio = resample_poly(audio.mean(axis=1), args.sample_rate // g, rate // g).astype(np.float32)
            write_piece(os.path.join(args.out, name + ".wav"), audio[:int(args.seconds * args.sample_rate)],
                        args.sample_rate)


if __name__ == "__main__":
    main()
