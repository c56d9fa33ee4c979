"""``comparison.png``: spectrograms of the signals of one run, stacked, with what was missing marked.

matplotlib runs headless (the Agg backend); the figure is written atomically.
"""
import io

import numpy as np

from .audio import write_atomically
from .errors import PnfError
from .metrics import power_spectrogram

#: STFT of the pictures: 1024-point hann windows every 256 samples, power in dB.
PLOT_N_FFT, PLOT_HOP = 1024, 256


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PnfError("--plot needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def spectrogram_db(x, n_fft=PLOT_N_FFT, hop=PLOT_HOP):
    """(bins, frames) power spectrogram of ``x`` (T,) in dB relative to full scale (floor -100 dB).

    Frames are centred (those of :func:`~wavenet_vocoder.metrics.power_spectrogram`): frame i
    covers samples ``i * hop - n_fft / 2 .. i * hop + n_fft / 2``.
    """
    full_scale = (np.hanning(n_fft + 1)[:-1].sum() / 2) ** 2       # a full-scale sine's peak power
    power = power_spectrogram(np.asarray(x, dtype=np.float64), n_fft, hop) / full_scale
    return 10 * np.log10(np.maximum(power, 1e-10)).T


def comparison_figure(path, panels, sample_rate, gaps=(), cutoff_hz=None, title=None):
    """Write ``path`` (PNG): one spectrogram per ``(label, audio)`` of ``panels``, top to bottom.

    ``gaps``: (start, end) sample spans drawn as dashed vertical lines on every panel
    (inpainting); ``cutoff_hz``: a dashed horizontal line at the top of the band that
    the degraded input still holds (super-resolution: ``sample_rate / (2 r)``).
    """
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.2 * len(panels)), sharex=True, squeeze=False)
    for ax, (label, audio) in zip(axes[:, 0], panels):
        spec = spectrogram_db(audio)
        half_frame = PLOT_HOP / 2 / sample_rate
        image = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", vmin=-100, vmax=0,
                          extent=(-half_frame, (spec.shape[1] - 0.5) * PLOT_HOP / sample_rate,
                                  0, sample_rate / 2000))
        ax.set_ylabel("kHz")
        ax.set_title(label, fontsize=9, loc="left")
        for start, end in gaps:
            for edge in (start, end):
                ax.axvline(edge / sample_rate, color="cyan", linestyle="--", linewidth=1)
        if cutoff_hz is not None:
            ax.axhline(cutoff_hz / 1000, color="cyan", linestyle="--", linewidth=1)
        fig.colorbar(image, ax=ax, pad=0.01, label="dB")
    axes[-1, 0].set_xlabel("seconds")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    write_atomically(path, lambda f: f.write(buffer.getvalue()))
