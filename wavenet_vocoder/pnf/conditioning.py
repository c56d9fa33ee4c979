"""Mel conditioning at sample rate, computed for one window at a time.

A mel-conditioned level's model turns frames into conditioning at sample rate (cin values
per sample).  Upsampling a whole signal at once would hold ``cin`` floats per sample, 80
times the signal itself; :class:`WindowConditioning` keeps only the frames and upsamples
the frames each window needs, with a margin wide enough that the result equals the
whole-signal upsampling exactly (tested).
"""
import math

from ..deferred import deferred_import


torch = deferred_import("torch")


class WindowConditioning:
    """Sample-rate conditioning of one signal under one model, by span of samples.

    ``frames``: (cin, N) mel frames with ``model.cin_pad`` context frames at each end
    (N - 2 cin_pad frames cover ``length`` samples), or, for a model without an
    upsampling network, (cin, length) values already at sample rate.
    """

    def __init__(self, model, frames, length):
        self.model, self.length = model, length
        self.frames = frames.unsqueeze(0)                                        # (1, cin, N)
        net = model.upsample_net
        if net is None:
            self.hop, self.pad, self.margin = 1, 0, 0
            covered = frames.size(-1)
        else:
            self.hop, self.pad = model.hop_size, model.cin_pad
            covered = (frames.size(-1) - 2 * self.pad) * self.hop
            # Each smoothing stage reaches `scale` samples at its own rate, scale / rate frames.
            reach, rate = 0.0, 1
            for layer in net.upsample.up_layers[0::2]:
                rate *= layer.scale
                reach += layer.scale / rate
            self.margin = math.ceil(reach) + 1
        if covered != length:
            raise ValueError(f"the mel frames cover {covered} samples but the signal has {length}")

    def span(self, start, stop):
        """(cin, stop - start) conditioning of samples start..stop-1; outside the signal, the nearest end's."""
        positions = torch.arange(start, stop).clamp_(0, self.length - 1)
        first, last = int(positions[0]), int(positions[-1]) + 1
        return self._upsample(first, last)[:, positions - first]

    def _upsample(self, first, last):
        """(cin, last - first) conditioning of samples first..last-1 (inside the signal)."""
        if self.model.upsample_net is None:
            return self.frames[0, :, first:last]
        frames_total = self.frames.size(-1) - 2 * self.pad
        f0 = max(0, first // self.hop - self.margin)
        f1 = min(frames_total, -(-last // self.hop) + self.margin)
        with torch.no_grad():
            up = self.model.upsample_conditioning(self.frames[:, :, f0:f1 + 2 * self.pad])[0]
        offset = f0 * self.hop
        return up[:, first - offset:last - offset]
