"""Long files as independent segments: where the cuts fall (``--segment``).

With ``--segment SECONDS`` a task script cuts its input into segments and samples each one
exactly as a run on a file holding only that segment's samples would (same seed, same
windows, silence before its first sample), so memory and every per-segment result are those
of a short run, whatever the file's length.
"""


def segment_bounds(length, segment, align=1, keep_clear=()):
    """[(start, end), ...] in samples: consecutive segments covering ``[0, length)``.

    Each segment has ``segment`` samples (rounded down to a multiple of ``align``, at
    least ``align``), so cuts fall at its multiples, except that a cut inside one of the
    ``keep_clear`` spans ``(start, end)`` moves to that span's end (rounded up to a
    multiple of ``align``), and the next cut comes a segment after it: an inpainting gap
    keeps the receptive field of context on both sides.  A last piece
    shorter than ``MIN_SEGMENT`` samples joins the segment before it.  ``segment`` None or
    at least ``length``: one segment, the whole signal.
    """
    if segment is None or segment >= length:
        return [(0, length)]
    align = max(1, int(align))
    step = max(align, int(segment) // align * align)
    cuts = []
    cut = step
    while cut < length:
        moved = cut
        for a, b in sorted(keep_clear):
            if a < moved < b:
                moved = -(-b // align) * align
        if moved >= length:
            break
        cuts.append(moved)
        cut = moved + step
    if cuts and length - cuts[-1] < MIN_SEGMENT:
        cuts.pop()
    edges = [0] + cuts + [length]
    return list(zip(edges[:-1], edges[1:]))


#: The fewest samples a segment may have (a run needs 16; a shorter tail joins the segment before it).
MIN_SEGMENT = 16
