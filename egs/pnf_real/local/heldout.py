"""The held-out samples: a piano piece and a speech clip that no prior of this recipe trained on.

Usage:
  heldout.py <out-dir> [options]

Piano: Scott Joplin's Maple Leaf Rag from the music21 corpus (no Joplin in the training
scores), rendered through fluidsynth with another piano than the training one: the MuseScore
General soundfont (Debian musescore-general-soundfont-lossless, MIT), at 22.05 kHz; its first
seconds (the flag), mono, peak 1, as 16-bit <out-dir>/sample_piano.wav (the whole rendering
is kept as maple.wav). Speech: the LibriSpeech clip 198-209-0000 (CC BY 4.0, a speaker and a
corpus not in training), resampled to 22.05 kHz; its first seconds, peak 1, as sample_voice.wav.

Options:
  --soundfont=<sf2>      The piano soundfont [default: /usr/share/sounds/sf2/MuseScore_General_Full.sf2].
  --speech=<file>        The LibriSpeech clip [default: shared/eval/198-209-0000.ogg].
  --seconds=<s>          Length of each sample [default: 4.0].
  -h, --help             Show this help.
"""
import os
import subprocess
import sys

import librosa
import numpy as np
import soundfile as sf
from docopt import docopt

RATE = 22050


def excerpt(audio, seconds):
    """The first ``seconds`` of mono ``audio`` at RATE, scaled to peak 1."""
    part = audio[:int(round(seconds * RATE))]
    return part / np.abs(part).max()


def main():
    args = docopt(__doc__)
    out, seconds = args["<out-dir>"], float(args["--seconds"])
    for path, what in ((args["--soundfont"], "apt-get install musescore-general-soundfont-lossless fluidsynth"),
                       (args["--speech"], "pass --speech=<path of 198-209-0000.ogg> (run.sh: SPEECH=<path>)")):
        if not os.path.isfile(path):
            sys.exit(f"error: {path} is missing: {what}")
    os.makedirs(out, exist_ok=True)
    from music21 import corpus
    midi = os.path.join(out, "maple.mid")
    corpus.parse("joplin/maple_leaf_rag").write("midi", fp=midi)
    rendering = os.path.join(out, "maple.wav")
    subprocess.run(["fluidsynth", "-ni", "-q", "-F", rendering, "-r", str(RATE), args["--soundfont"], midi],
                   check=True)
    piano, rate = sf.read(rendering, always_2d=True)
    assert rate == RATE, rate
    sf.write(os.path.join(out, "sample_piano.wav"), excerpt(piano.mean(axis=1), seconds), RATE, subtype="PCM_16")
    speech, rate = sf.read(args["--speech"], always_2d=True)
    speech = librosa.resample(speech.mean(axis=1), orig_sr=rate, target_sr=RATE, res_type="soxr_hq")
    sf.write(os.path.join(out, "sample_voice.wav"), excerpt(speech, seconds), RATE, subtype="PCM_16")
    print(f"wrote {out}/sample_piano.wav and {out}/sample_voice.wav ({seconds:g} s each)")


if __name__ == "__main__":
    main()
