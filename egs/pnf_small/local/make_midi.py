"""Write seeded random piano pieces as Standard MIDI Files (format 0), for fluidsynth to render.

Usage: python make_midi.py <out-dir> <count> <seed> [<seconds>]

Each piece: a random major or minor key, a melody in the right hand (quarter to half notes,
occasional runs of eighths) over broken chords in the left hand, varying tempo and velocity.
"""
import os
import random
import struct
import sys

TICKS = 480                     # ticks per quarter note
MAJOR, MINOR = [0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10]
PROGRESSIONS = [[0, 3, 4, 0], [0, 5, 3, 4], [0, 4, 5, 3], [5, 3, 0, 4]]


def vlq(value):
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def smf(events, tempo_us):
    """A format-0 file from (tick, status, data1, data2) events."""
    track = bytearray(b"\x00\xff\x51\x03" + tempo_us.to_bytes(3, "big") + b"\x00\xc0\x00")
    last = 0
    for tick, status, a, b in sorted(events, key=lambda e: (e[0], e[1] & 0xF0 == 0x90)):
        track += vlq(tick - last) + bytes([status, a, b])
        last = tick
    track += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS) + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def piece(rng, seconds):
    """Events and tempo of one random piece about ``seconds`` long."""
    bpm = rng.randint(70, 130)
    tonic = rng.randint(55, 66)
    scale = rng.choice([MAJOR, MINOR])
    total = int(seconds * bpm / 60 * TICKS)
    events = []

    def note(start, length, pitch, velocity):
        events.append((start, 0x90, pitch, velocity))
        events.append((start + length, 0x80, pitch, 0))

    def pitch(degree, octave):
        return tonic + 12 * (octave + degree // 7) + scale[degree % 7]

    bar = 4 * TICKS
    progression = PROGRESSIONS[rng.randrange(len(PROGRESSIONS))]
    for b in range(total // bar + 1):
        degree = progression[b % len(progression)]
        chord = [pitch(degree, -1), pitch(degree + 2, -1), pitch(degree + 4, -1)]
        for k in range(4):
            note(b * bar + k * TICKS, TICKS, chord[k % 3] - (12 if k == 0 else 0), rng.randint(45, 70))
    t, index = 0, rng.randrange(7)
    while t < total:
        length = rng.choice([TICKS // 2, TICKS // 2, TICKS, TICKS, 2 * TICKS])
        index = max(0, min(13, index + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3])))
        note(t, int(length * 0.95), pitch(index, 0), rng.randint(60, 105))
        t += length
    return [e for e in events if e[0] <= total + 2 * TICKS], int(60_000_000 / bpm)


def main():
    out_dir, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(seed)
    for i in range(count):
        events, tempo = piece(rng, seconds)
        with open(os.path.join(out_dir, f"piece{seed}_{i:03d}.mid"), "wb") as f:
            f.write(smf(events, tempo))


if __name__ == "__main__":
    main()
