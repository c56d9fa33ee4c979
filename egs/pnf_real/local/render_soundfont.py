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
drawn from <seed> per piece, as render_piano.py draws them, but independently of its draws.
fluidsynth's default reverb and chorus stay on.
"""
import argparse
import glob
import math
import os
import random
import struct
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from render_piano import score_notes

TICKS_PER_QUARTER = 480


def variable_length(value):
    """A MIDI variable-length quantity (7 bits per byte, high bit set on all but the last)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_file(notes, bpm):
    """A type-0 MIDI file of ``notes``: (onset, length in quarter notes, MIDI pitch, velocity 1..127)."""
    events = []                                            # (tick, order, bytes): note-offs first
    for onset, length, pitch, velocity in notes:
        start = int(round(onset * TICKS_PER_QUARTER))
        stop = max(start + 1, int(round((onset + length) * TICKS_PER_QUARTER)))
        events.append((start, 1, bytes([0x90, pitch, velocity])))
        events.append((stop, 0, bytes([0x80, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    tempo = int(round(60_000_000 / bpm))                   # microseconds per quarter note
    track = bytearray(b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big") + b"\x00\xc0\x00")
    tick = 0
    for when, _, data in events:
        track += variable_length(when - tick) + data
        tick = when
    track += b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
            + b"MTrk" + struct.pack(">I", len(track)) + bytes(track))


def corpus_paths(composers):
    """{"<composer>-<name>": score path} over the corpus folders, named as render_piano.py names them."""
    from music21 import corpus
    found = {}
    for c in composers.split(","):
        for p in corpus.getComposer(c):
            p = str(p)
            label = os.path.relpath(p, os.path.dirname(os.path.dirname(p))).split(os.sep)[0]
            found[f"{label}-{os.path.splitext(os.path.basename(p))[0]}"] = p
    return found


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
    if not os.path.isfile(args.soundfont):
        sys.exit(f"error: soundfont {args.soundfont} is missing: apt-get install fluid-soundfont-gm fluidsynth")
    names = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(args.like, "*.wav")))
    if not names:
        sys.exit(f"error: no .wav files in {args.like}: render the Salamander pieces first (run.sh stage 1)")
    paths = corpus_paths(args.composers)
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if name not in paths:
                print(f"skipped {name}: no score of that name among {args.composers}")
                continue
            bpm = rng.uniform(60, 132)
            level = rng.uniform(45, 105)
            sustain = rng.uniform(1.0, 1.6)
            last = args.seconds * bpm / 60                 # quarter notes that fit in the excerpt
            notes = [(onset, length * sustain, pitch, int(np.clip(round(rng.gauss(level, 12)), 1, 127)))
                     for onset, length, pitch in score_notes(paths[name], rng.randint(-3, 3)) if onset < last]
            midi = os.path.join(tmp, "piece.mid")
            with open(midi, "wb") as f:
                f.write(midi_file(notes, bpm))
            wav = os.path.join(tmp, "piece.wav")
            subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.4", "-F", wav, "-r", "44100", args.soundfont, midi],
                           check=True)
            audio, rate = sf.read(wav, dtype="float32", always_2d=True)
            g = math.gcd(args.sample_rate, rate)
            audio = resample_poly(audio.mean(axis=1), args.sample_rate // g, rate // g).astype(np.float32)
            audio = audio[:int(args.seconds * args.sample_rate)]
            peak = float(np.abs(audio).max())
            if peak == 0:
                continue
            target = os.path.join(args.out, name + ".wav")
            sf.write(target + ".part.wav", 0.9 * audio / peak, args.sample_rate, subtype="PCM_16")
            os.replace(target + ".part.wav", target)
            print(f"{target}: {audio.size / args.sample_rate:.1f} s")


if __name__ == "__main__":
    main()
