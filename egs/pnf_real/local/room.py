"""Put dry recordings in a room: a synthetic room response, a microphone's colouring and a noise floor.

Usage: python room.py <in-dir> <out-dir> <seed> [--suffix S]

Each `<in-dir>/*.wav` is written to `<out-dir>/<name><suffix>.wav` (mono, 16-bit, peak 0.9) as
if played in a room and recorded there, with every parameter drawn from <seed> and the file's
name (so a file always gets the same room). The suffix is empty by default: a room copy keeps its
piece's name, so that `pnf-preprocess`, which keeps files of one name on one side of its
train/dev split, never trains on a piece whose room copy it holds out, or the reverse.

- the room: the direct sound, then after a pre-delay of 3 to 20 ms a tail of Gaussian noise
  whose amplitude falls by 60 dB in RT60 = 0.25 to 1.2 s below 2 kHz and in half of that above
  (high frequencies die first in real rooms), scaled so that the direct sound is 0 to 12 dB
  above the tail's energy (the direct-to-reverberant ratio);
- the microphone: a spectral tilt of -3 to +3 dB between the band below and above 2 kHz;
- a noise floor of white noise 75 to 55 dB below the peak.

The rendered training piano (dry note samples, `render_piano.py`) has none of these; real piano
recordings have all three (docs/real_priors.md).
"""
import argparse
import glob
import os
import zlib

import numpy as np
import soundfile as sf
from scipy.signal import butter, fftconvolve, sosfilt

SPLIT_HZ = 2000.0


def bands(x, rate):
    """(low, high): ``x`` split at SPLIT_HZ by a 4th-order Butterworth low-pass and its complement."""
    low = sosfilt(butter(4, SPLIT_HZ, "low", fs=rate, output="sos"), x)
    return low, x - low


def room_response(rate, rt60, drr_db, predelay, rng):
    """A room impulse response (samples at ``rate``): a unit direct impulse, then after
    ``predelay`` seconds a noise tail decaying 60 dB in ``rt60`` seconds below SPLIT_HZ and in
    ``rt60 / 2`` above; the tail's energy is ``drr_db`` below the direct sound's."""
    length = int(rate * (predelay + 1.2 * rt60)) + 1
    start = int(round(predelay * rate))
    t = np.arange(length - start) / rate
    low, high = bands(rng.standard_normal(t.size), rate)
    tail = low * 10 ** (-3 * t / rt60) + high * 10 ** (-6 * t / rt60)    # amplitude: -60 dB at rt60
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail ** 2))
    response = np.zeros(length)
    response[0] = 1.0
    response[start:] += tail
    return response


def tilt(x, rate, db):
    """``x`` with the band above SPLIT_HZ raised by ``db / 2`` and the band below lowered by as much."""
    low, high = bands(x, rate)
    return low * 10 ** (-db / 40) + high * 10 ** (db / 40)


def draw(seed, name):
    """The room, microphone and noise floor of file ``name`` under ``seed``."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return dict(rt60=rng.uniform(0.25, 1.2), drr_db=rng.uniform(0.0, 12.0), predelay=rng.uniform(0.003, 0.02),
                tilt_db=rng.uniform(-3.0, 3.0), noise_db=rng.uniform(-75.0, -55.0)), rng


def in_room(x, rate, params, rng):
    """``x`` (mono) played in the room of ``params`` (see :func:`draw`) and recorded there, peak 0.9."""
    wet = fftconvolve(x, room_response(rate, params["rt60"], params["drr_db"], params["predelay"], rng))
    wet = tilt(wet, rate, params["tilt_db"])
    wet /= np.abs(wet).max()
    wet += 10 ** (params["noise_db"] / 20) * rng.standard_normal(wet.size)
    return 0.9 * wet / np.abs(wet).max()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("in_dir")
    parser.add_argument("out_dir")
    parser.add_argument("seed", type=int)
    parser.add_argument("--suffix", default="")
    args = parser.parse_args()
    paths = sorted(glob.glob(os.path.join(args.in_dir, "*.wav")))
    if not paths:
        parser.error(f"{args.in_dir} holds no .wav files")
    if not args.suffix and os.path.realpath(args.out_dir) == os.path.realpath(args.in_dir):
        parser.error(f"{args.out_dir} is the input folder: the room copies would overwrite the recordings there; "
                     "give another <out-dir> (e.g. <in-dir>/room) or a --suffix")
    os.makedirs(args.out_dir, exist_ok=True)
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        x, rate = sf.read(path, dtype="float64", always_2d=True)
        params, rng = draw(args.seed, name)
        sf.write(os.path.join(args.out_dir, name + args.suffix + ".wav"), in_room(x.mean(axis=1), rate, params, rng),
                 rate, subtype="PCM_16")
    print(f"{len(paths)} files in rooms -> {args.out_dir}")


if __name__ == "__main__":
    main()
