import math
import os

import librosa
import numpy as np
import pytest
import torch

from conftest import REPO
from wavenet_vocoder.audio import logmelspectrogram
from wavenet_vocoder.baselines import (declip_spline, dither_in_units, inpaint_linear, inpaint_lpc, separate_half,
                                       spectrogram_griffin_lim, superres_bandlimited, superres_cubic,
                                       superres_noise_floor)
from wavenet_vocoder.hparams import load_preset
from wavenet_vocoder import metrics
from wavenet_vocoder.metrics import lsd, mel_distance, score, si_sdr, snr
from wavenet_vocoder.quantize import to_units
from wavenet_vocoder.plots import spectrogram_db


def test_snr_by_hand():
    # signal energy 2, error energy 0.25: 10 log10(8) dB
    assert snr([1, 0, -1, 0], [1, 0, -1, 0.5]) == pytest.approx(10 * math.log10(8), abs=1e-9)  # float64


def test_si_sdr_by_hand_and_scale_invariance():
    ref, est = np.array([1.0, 1.0, 0.0, 0.0]), np.array([2.0, 2.0, 1.0, 0.0])
    # a = 4 / 2 = 2, target = (2, 2, 0, 0), distortion = (0, 0, -1, 0): 10 log10(8 / 1)
    assert si_sdr(ref, est) == pytest.approx(10 * math.log10(8), abs=1e-9)  # float64
    assert si_sdr(ref, 3 * est) == pytest.approx(si_sdr(ref, est), abs=1e-9)  # float64
    assert snr(ref, 3 * est) != pytest.approx(snr(ref, est))


def test_lsd_by_hand():
    x = np.random.default_rng(0).standard_normal(8000)
    assert lsd(x, x) == 0.0
    # Ten times the amplitude is 100 times the power: log10 differs by exactly 2 in every bin.
    assert lsd(x, 10 * x) == pytest.approx(2.0, abs=1e-6)  # the 1e-10 power floor


def test_band_lsd_and_band_level_by_hand():
    rate = 22050
    t = np.arange(30000) / rate
    low, high = np.sin(2 * np.pi * 1000 * t), 0.1 * np.sin(2 * np.pi * 9000 * t)
    above = metrics.band_bins(rate, 8000)
    below = metrics.band_bins(rate, 0, 8000)
    # 10.77 Hz per bin: bin 743 is at 7999.6 Hz, 744 the first above 8 kHz; Nyquist's (1024) the last
    assert (above.start, above.stop, below.start, below.stop) == (744, 1025, 0, 744)
    # the 9 kHz tone ten times louder: its band 20 dB up, and log10 power 2 apart in the bins it fills
    assert metrics.band_level(high, 10 * high, above) == pytest.approx(20.0, abs=1e-9)  # float64
    assert metrics.band_level(low + high, low + 10 * high, above) == pytest.approx(20.0, abs=1e-3)  # 1 kHz leakage
    assert metrics.band_level(low + high, low + high, below) == pytest.approx(0.0, abs=1e-9)
    assert metrics.band_level(low + high, low, above) < -40           # the band emptied (1 kHz leakage aside)
    assert metrics.band_level(high, 0 * high, above) == -np.inf
    assert lsd(low + high, low + high, bins=above) == 0.0
    x = np.random.default_rng(0).standard_normal(8000)
    assert lsd(x, 10 * x, bins=above) == pytest.approx(2.0, abs=1e-6)
    # the band's LSD is the formula over its bins only
    y = x + 0.3 * np.random.default_rng(1).standard_normal(8000)
    ref, est = metrics.power_spectrogram(x, 2048, 512), metrics.power_spectrogram(y, 2048, 512)
    diff = np.log10(ref + 1e-10) - np.log10(est + 1e-10)
    assert lsd(x, y, bins=above) == pytest.approx(np.mean(np.sqrt(np.mean(diff[:, 744:] ** 2, axis=1))), rel=1e-12)
    with pytest.raises(ValueError, match="no STFT bin"):
        metrics.band_bins(rate, 12000, 13000)
    with pytest.raises(ValueError, match=r"no STFT bin lies in \[12000, 11025\] Hz"):
        metrics.band_bins(rate, 12000)


def test_spectrogram_metrics_in_blocks_equal_the_whole_signal_formula():
    # 300000 samples are 586 LSD frames and 1172 mel frames: several blocks of BLOCK_FRAMES each.
    rng = np.random.default_rng(1)
    ref = 0.3 * np.sin(np.arange(300000) * 0.01) + 0.05 * rng.standard_normal(300000)
    est = ref + 0.02 * rng.standard_normal(300000)
    assert 586 > 2 * metrics.BLOCK_FRAMES

    def frames(x, n_fft, hop):       # centred, reflect-padded hann frames, all at once
        x = np.pad(x, n_fft // 2, mode="reflect")
        idx = np.arange(1 + (x.size - n_fft) // hop)[:, None] * hop + np.arange(n_fft)
        return np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft + 1)[:-1], axis=1)) ** 2

    diff = np.log10(frames(ref, 2048, 512) + 1e-10) - np.log10(frames(est, 2048, 512) + 1e-10)
    assert lsd(ref, est) == pytest.approx(np.mean(np.sqrt(np.mean(diff ** 2, axis=1))), rel=1e-12)  # float64
    bank = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0.0, fmax=11025.0)
    mels = [10 * np.log10(frames(x, 1024, 256) @ bank.T + 1e-10) for x in (ref, est)]
    direct = np.mean(np.sqrt(np.mean((mels[0] - mels[1]) ** 2, axis=1)))
    assert mel_distance(ref, est, 22050) == pytest.approx(direct, rel=1e-12)  # float64


def test_score_keys_and_length_check():
    assert set(score(np.ones(3000), np.ones(3000))) == {"snr", "si_sdr", "lsd", "mel_distance"}
    with pytest.raises(ValueError, match="samples"):
        snr(np.ones(3), np.ones(4))


def test_bandlimited_superres_recovers_a_band_limited_signal():
    sr, n = 22050, 22050
    t = np.arange(n) / sr
    x = np.sin(2 * np.pi * 300 * t) + 0.5 * np.sin(2 * np.pi * 1100 * t)   # far below sr / 8
    estimate = superres_bandlimited(x[::4], 4, n)
    assert estimate.shape == (n,)
    assert snr(x[500:-500], estimate[500:-500]) > 40


@pytest.mark.parametrize("input_type", ["mulaw-quantize", "linear-quantize"])
def test_dither_adds_noise_of_sigma_quantised_units_and_keeps_the_observed_samples(input_type):
    x = 0.5 * np.sin(np.arange(20000) * 0.013)          # inside [-1, 1]: no unit is clipped at sigma 0.39
    y = dither_in_units(x, 0.39, input_type, keep=slice(None, None, 4), seed=3)
    np.testing.assert_array_equal(y[::4], x[::4])
    units = lambda a: to_units(torch.from_numpy(a), input_type).numpy()
    moved = np.delete(units(y) - units(x), np.arange(0, x.size, 4))
    # Gaussian in units: mean 0, sd sigma (15,000 draws: sd of the sd estimate ~0.6%)
    assert abs(moved.mean()) < 0.02 and moved.std() == pytest.approx(0.39, rel=0.03)
    np.testing.assert_array_equal(dither_in_units(x, 0.39, input_type, seed=3)[1::4], y[1::4])   # seeded
    np.testing.assert_allclose(dither_in_units(x, 0.0, input_type), x, atol=1e-12)              # float64
    if input_type == "mulaw-quantize":
        # the same units are far smaller in audio near silence than near full scale (mu-law's slope)
        quiet, loud = np.full(4000, 0.01), np.full(4000, 0.9)
        spread = lambda a: np.std(dither_in_units(a, 0.39, input_type) - a)
        assert spread(loud) > 20 * spread(quiet)


def test_the_noise_floor_control_dithers_where_band_limited_interpolation_interpolated():
    x = 0.5 * np.sin(np.arange(4000) * 0.05)
    low = x[::4]
    control = superres_noise_floor(low, 4, x.size, 0.39, "mulaw-quantize", seed=2)
    bandlimited = superres_bandlimited(low, 4, x.size)
    np.testing.assert_array_equal(control, dither_in_units(bandlimited, 0.39, "mulaw-quantize",
                                                           keep=slice(None, None, 4), seed=2))
    np.testing.assert_array_equal(control[::4], bandlimited[::4])          # the kept samples untouched
    # an anti-aliased observation keeps no sample: every one is dithered
    smooth = superres_noise_floor(low, 4, x.size, 0.39, "mulaw-quantize", antialias=True, seed=2)
    np.testing.assert_array_equal(smooth, dither_in_units(bandlimited, 0.39, "mulaw-quantize", seed=2))
    assert np.all(smooth[::4] != bandlimited[::4])


def test_linear_inpainting_is_exact_on_a_line():
    x = np.linspace(-1, 1, 101)
    gapped = x.copy()
    gapped[30:60] = 0
    np.testing.assert_allclose(inpaint_linear(gapped, 30, 60), x, atol=1e-12)  # float64
    assert inpaint_linear(gapped, 30, 60)[29] == x[29]


def test_half_mixture():
    a, b = separate_half(np.array([2.0, -4.0]))
    np.testing.assert_array_equal(a, [1.0, -2.0])
    np.testing.assert_array_equal(b, [1.0, -2.0])


def test_mel_distance_of_a_scaled_signal_is_the_gain_in_db():
    x = np.random.default_rng(0).standard_normal(8000) * 0.1
    assert mel_distance(x, x) == 0.0
    assert mel_distance(x, 0.5 * x) == pytest.approx(20 * math.log10(2), abs=1e-6)  # the 1e-10 power floor
    assert mel_distance(x, x + 0.05 * np.random.default_rng(1).standard_normal(8000)) > 0.1  # noise 6 dB down


def test_cubic_superres_is_exact_on_a_cubic():
    n = 401
    t = np.arange(n) / n
    x = 2 * t ** 3 - t ** 2 + 0.3 * t - 0.1
    estimate = superres_cubic(x[::4], 4, n)
    assert estimate.shape == (n,)
    np.testing.assert_allclose(estimate, x, atol=1e-9)      # not-a-knot splines reproduce cubics
    np.testing.assert_array_equal(estimate[::4], x[::4])


def test_spline_declipping_restores_the_peaks_of_a_clipped_sinusoid_and_keeps_the_rest():
    t = np.arange(2000)
    x = 0.9 * np.sin(2 * np.pi * t / 200)                      # 200-sample period: smooth on the grid
    clipped = np.clip(x, -0.6, 0.6)
    mask = np.abs(clipped) >= 0.6
    estimate = declip_spline(clipped, mask)
    np.testing.assert_array_equal(estimate[~mask], clipped[~mask])
    assert (estimate[mask & (x > 0)] >= 0.6).all() and (estimate[mask & (x < 0)] <= -0.6).all()
    # The peaks come back close to the sinusoid's (0.9); left clipped they are 0.3 short.
    assert np.abs(estimate - x).max() < 0.05 < np.abs(clipped - x).max()
    assert snr(x, estimate) > snr(x, clipped) + 15
    # A spline that would pull a clipped sample back towards zero leaves it at its level.
    flat = np.full(10, 0.5)
    np.testing.assert_array_equal(declip_spline(flat, np.arange(10) == 4), flat)
    np.testing.assert_array_equal(declip_spline(clipped, np.ones(2000, dtype=bool)), clipped)


def test_lpc_inpainting_continues_a_sinusoid_through_a_gap():
    sr = 22050
    t = np.arange(sr // 2) / sr
    x = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1320 * t + 0.3)
    start, end = 5000, 5000 + int(0.05 * sr)                  # a 50 ms gap
    gapped = x.copy()
    gapped[start:end] = 0
    estimate = inpaint_lpc(gapped, start, end)
    np.testing.assert_array_equal(estimate[:start], x[:start])
    np.testing.assert_array_equal(estimate[end:], x[end:])
    # An AR model predicts a sum of sinusoids almost exactly; a straight line does not.
    assert snr(x[start:end], estimate[start:end]) > 25
    assert snr(x[start:end], inpaint_linear(gapped, start, end)[start:end]) < 3


def test_lpc_inpainting_at_the_edges_of_the_signal():
    x = np.sin(np.arange(2000) / 5.0)
    for start, end in ((0, 100), (1900, 2000)):
        gapped = x.copy()
        gapped[start:end] = 0
        assert snr(x[start:end], inpaint_lpc(gapped, start, end)[start:end]) > 20


def test_griffin_lim_puts_the_energy_of_a_tone_at_its_frequency():
    hp = load_preset(os.path.join(REPO, "egs", "mulaw_maxaudio_spectrogram", "config.json"))
    sr, frames = hp.sample_rate, 40
    t = np.arange(frames * hp.hop_size) / sr
    x = 0.5 * np.sin(2 * np.pi * 1000 * t)
    estimate = spectrogram_griffin_lim(logmelspectrogram(x, hp)[:frames], hp, n_iter=16)
    assert estimate.shape == x.shape
    spectrum = spectrogram_db(estimate).mean(axis=1)
    assert abs(np.argmax(spectrum) * sr / 1024 - 1000) < 50
    assert mel_distance(x[2048:-2048], estimate[2048:-2048], sr) < 6


def test_plot_spectrogram_peaks_at_the_tone():
    t = np.arange(22050) / 22050
    spec = spectrogram_db(np.sin(2 * np.pi * 2000 * t))
    assert spec.shape[0] == 513
    assert abs(np.argmax(spec.mean(axis=1)) * 22050 / 1024 - 2000) < 22050 / 1024  # one bin
    assert spec.max() == pytest.approx(0.0, abs=0.1)        # a full-scale sine is 0 dB


def test_griffin_lim_gives_the_same_audio_every_run():
    hp = load_preset(os.path.join(REPO, "egs", "mulaw_maxaudio_spectrogram", "config.json"))
    t = np.arange(20 * hp.hop_size) / hp.sample_rate
    log_mel = logmelspectrogram(0.5 * np.sin(2 * np.pi * 440 * t), hp)[:20]
    np.testing.assert_array_equal(spectrogram_griffin_lim(log_mel, hp, n_iter=4),
                                  spectrogram_griffin_lim(log_mel, hp, n_iter=4))


def _harmonic(f0, seconds=1.0, rate=22050, partials=20):
    """A unit-power sum of ``partials`` harmonics of ``f0`` Hz (amplitudes 1/k, below half the rate)."""
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * f0 * k * t + k) / k for k in range(1, partials + 1) if f0 * k < rate / 2)
    return x / np.sqrt(np.mean(x ** 2))


@pytest.mark.parametrize("f0", [97.1, 150.0, 220.7, 310.0])
@pytest.mark.parametrize("hnr", [0.0, 10.0, 20.0])
def test_hnr_of_a_harmonic_tone_plus_white_noise_is_their_power_ratio(f0, hnr):
    # Boersma's estimate: the periodic part's power over the noise's, whatever the pitch (non-integer periods too)
    rng = np.random.default_rng(0)
    tone = _harmonic(f0)
    x = tone + rng.standard_normal(tone.size) * 10 ** (-hnr / 20)
    r, power = metrics.frame_periodicity(x, 22050)
    assert len(r) == (tone.size - round(4.5 * 22050 / 75)) // round(0.01 * 22050) + 1     # 60 ms frames, 10 ms hop
    assert np.median(metrics.hnr_db(r)) == pytest.approx(hnr, abs=0.6)
    assert np.median(power) == pytest.approx(1 + 10 ** (-hnr / 10), rel=0.1)


def test_white_noise_is_not_periodic_and_hnr_is_bounded():
    r, _ = metrics.frame_periodicity(np.random.default_rng(1).standard_normal(22050), 22050)
    assert r.max() < 0.3 and np.median(metrics.hnr_db(r)) < -5
    assert metrics.hnr_db([0.0, 0.5, 1.0]) == pytest.approx([-40.0, 0.0, 40.0], abs=1e-3)
    r, power = metrics.frame_periodicity(np.zeros(1000), 22050)      # shorter than a frame: one silent frame
    assert r.tolist() == [0.0] and power.tolist() == [0.0]


def test_voiced_hnr_scores_the_estimate_on_the_references_voiced_frames_only():
    rng = np.random.default_rng(2)
    tone = _harmonic(150.0, seconds=0.5)
    silence = np.zeros(11025)
    reference = np.concatenate([silence, tone, silence])
    voiced = metrics.voiced_hnr(reference, reference + 0.01 * rng.standard_normal(reference.size))
    # 60 ms frames every 10 ms: 45 lie wholly inside the 0.5 s tone, 56 touch it
    assert 45 <= voiced["frames"] <= 56
    assert voiced["reference_hnr"] > 30 and voiced["voiced"] > 0.95     # edge frames: little tone, some noise
    # a hoarse copy: noise of 10^-0.5 + 1 times the tone's power over it (HNR -1.2 dB), and noise in the
    # reference's silence, which is not scored
    hoarse = np.concatenate([silence, tone + rng.standard_normal(tone.size) * 10 ** (-5 / 20), silence])
    hoarse += rng.standard_normal(hoarse.size)
    scored = metrics.voiced_hnr(reference, hoarse)
    assert scored["frames"] == voiced["frames"]
    assert scored["estimate_hnr"] == pytest.approx(10 * np.log10(1 / (10 ** -0.5 + 1)), abs=0.8)
    assert scored["hnr_error"] == pytest.approx(scored["reference_hnr"] - scored["estimate_hnr"], abs=1e-9)
    assert metrics.voiced_hnr(rng.standard_normal(8000), rng.standard_normal(8000))["frames"] == 0
    with pytest.raises(ValueError):
        metrics.voiced_hnr(reference, reference[:-1])


def test_mel_frame_distances_average_to_the_mel_distance_and_split_by_voicing():
    rng = np.random.default_rng(3)
    voice = 0.1 * _harmonic(150.0, seconds=0.5) + 0.01 * rng.standard_normal(11025)   # every band well above 0
    hiss = 0.003 * rng.standard_normal(voice.size)
    reference = np.concatenate([voice, hiss])
    estimate = np.concatenate([voice * 0.5, hiss])                   # the voiced half 6.02 dB quieter
    frames = metrics.mel_frame_distances(reference, estimate)
    assert frames.size == 1 + reference.size // metrics.MEL_HOP
    assert frames.mean() == pytest.approx(mel_distance(reference, estimate), abs=1e-12)
    centre = np.arange(frames.size) * metrics.MEL_HOP
    inside = (centre >= metrics.MEL_N_FFT // 2) & (centre <= voice.size - metrics.MEL_N_FFT // 2)
    beyond = centre >= voice.size + metrics.MEL_N_FFT // 2
    assert frames[inside] == pytest.approx(20 * np.log10(2), abs=1e-6) and frames[beyond].max() == 0
    voiced, other = metrics.mel_distance_by_voicing(reference, estimate)
    # the voiced frames: those inside at 6.02 dB and a few at the edge, less; the others: the hiss, and edge frames
    assert 5.0 < voiced < 6.03 and other < 1.5
    mask, r, centres = metrics.voiced_frames(reference)
    assert mask[centres < voice.size - 700].all() and not mask[centres > voice.size + 700].any()
    assert np.isnan(metrics.mel_distance_by_voicing(hiss, hiss)[0])  # nothing voiced
