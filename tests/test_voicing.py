"""Voiced frames judged from the mel frames alone, and the per-sample temperatures of --voiced-temperature."""
import numpy as np
import pytest

from conftest import tiny_hparams
from wavenet_vocoder.voicing import sample_temperatures, voiced_mel_frames, voiced_normalised_frames


def test_voiced_frames_are_loud_frames_with_most_of_their_energy_below_1_khz():
    hp = tiny_hparams(conditional=True)                 # 5 mel bands, 125..7600 Hz: one centred below 1 kHz
    log_mel = np.full((5, 5), -3.0)                     # log10 magnitudes, frames x bands
    log_mel[0, 0] = 0.0                                 # a loud low frame: voiced
    log_mel[1, 4] = 0.0                                 # a loud high frame (a fricative): not voiced
    log_mel[2, 0] = -1.0                                # low, 20 dB below the loudest: voiced
    log_mel[3, 0] = -2.0                                # low, but 40 dB below the loudest: not voiced
    log_mel[4, :] = -0.5                                # loud but spread evenly: most energy above 1 kHz
    assert voiced_mel_frames(log_mel, hp).tolist() == [True, False, True, False, False]
    assert not voiced_mel_frames(np.full((2, 5), -np.inf), hp).any()        # silence
    # each frame's temperature on its hop_size samples; the features are normalised with meanvar
    meanvar = np.stack([np.full(5, -1.0), np.full(5, 4.0)])                      # mean -1, scale 2
    normalised = ((log_mel + 1.0) / 2.0).T
    voiced = voiced_normalised_frames(normalised, hp, meanvar)
    assert voiced.tolist() == [True, False, True, False, False]
    temperatures = sample_temperatures(voiced, hp.hop_size, 0.25, 0.8)
    assert temperatures.dtype == np.float32
    assert temperatures.tolist() == pytest.approx(np.repeat([0.25, 0.8, 0.25, 0.8, 0.8], hp.hop_size).tolist())
