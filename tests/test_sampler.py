"""The Langevin engine on a model whose smoothed density is known, and the tasks' constraints."""
import math

import numpy as np
import pytest
import torch

from conftest import tiny_hparams
from wavenet_vocoder.checkpoints import checkpoint_dir_name, save_checkpoint
from wavenet_vocoder.errors import PnfError
from wavenet_vocoder.pnf.tasks.inpainting import Inpainting
from wavenet_vocoder.pnf.tasks.separation import Separation, mixture_gain
from wavenet_vocoder.pnf.tasks.spectrogram import SpectrogramConditioned
from wavenet_vocoder.pnf.tasks.superres import SuperResolution
from wavenet_vocoder.pnf.langevin import (SamplerConfig, SamplingDiverged, StepWindows, anneal, anneal_segments, scored_span,
                                         windows_gradient)
from wavenet_vocoder.pnf.priors import Prior, WindowLogProb
from wavenet_vocoder.pnf.noise_schedule import AnnealingSchedule
from wavenet_vocoder.pnf.windows import RandomWindows, TiledWindows
from wavenet_vocoder.wavenet import WaveNet

MEAN_CLASS = 100


def constant_model(hp, seed=0):
    """A WaveNet whose logits ignore the input: all mass on class MEAN_CLASS.

    Its smoothed density is then N(x_t; MEAN_CLASS, sigma^2) for every t, independently.
    """
    torch.manual_seed(seed)
    model = WaveNet.from_hparams(hp)
    head = model.last_conv_layers[3]
    with torch.no_grad():
        head.weight_g.zero_()
        head.bias.zero_()
        head.bias[MEAN_CLASS] = 60.0
    return model


def write_levels(root, hp, make=lambda hp, s: WaveNet.from_hparams(hp)):
    for i, sigma in enumerate(hp.sigmas):
        torch.manual_seed(i)
        save_checkpoint(root / checkpoint_dir_name(sigma) / "checkpoint_latest_ema.pth", make(hp, sigma))
    return Prior(root, hp)


def config(**kw):
    base = dict(n_steps=3, window=200, windows_per_step=2, schedule="random", seed=0, device="cpu", progress=False)
    base.update(kw)
    return SamplerConfig(**base)


@pytest.mark.parametrize("schedule, n_steps", [("tiled", 150), ("random", 150)])
def test_langevin_recovers_a_known_gaussian(tmp_path, schedule, n_steps):
    """Both schedules sample N(MEAN_CLASS, sigma^2 / (1 - eta / (2 sigma^2))), the discretised chain's law."""
    sigma, scale = 4.0, 0.05
    hp = tiny_hparams(sigmas=f"[{sigma}]")
    prior = write_levels(tmp_path, hp, lambda hp, s: constant_model(hp))
    task = Inpainting(torch.full((3000,), 10.0), [(0, 3000)])
    x, reports = anneal(task, [prior], AnnealingSchedule((sigma,), scale),
                        config(n_steps=n_steps, window=300, windows_per_step=4, schedule=schedule))
    eta = scale * sigma ** 2
    expected_var = sigma ** 2 / (1 - eta / (2 * sigma ** 2))
    samples = x[0].double()
    # 3000 draws: the standard error of the mean is 0.07, of the variance 2.6 %.
    assert abs(samples.mean().item() - MEAN_CLASS) < 0.35
    assert abs(samples.var().item() / expected_var - 1) < 0.1
    assert reports[0].steps == (n_steps if schedule == "tiled" else math.ceil(3000 / 1200 * n_steps))


@pytest.mark.parametrize("temperature", [0.25, 0.0])
def test_temperature_scales_the_variance_the_chain_samples(tmp_path, temperature):
    """At temperature T the chain samples p^(1/T): on the Gaussian prior, T times the variance of T = 1
    (N(MEAN_CLASS, T sigma^2 / (1 - eta / (2 sigma^2)))), the same mean; T = 0 only descends the gradient."""
    sigma, scale, n_steps = 4.0, 0.05, 150
    hp = tiny_hparams(sigmas=f"[{sigma}]")
    prior = write_levels(tmp_path, hp, lambda hp, s: constant_model(hp))
    task = Inpainting(torch.full((3000,), 10.0), [(0, 3000)])
    x, _ = anneal(task, [prior], AnnealingSchedule((sigma,), scale),
                  config(n_steps=n_steps, window=300, windows_per_step=4, schedule="tiled", temperature=temperature))
    eta = scale * sigma ** 2
    samples = x[0].double()
    assert abs(samples.mean().item() - MEAN_CLASS) < 0.35
    if temperature > 0:
        expected_var = temperature * sigma ** 2 / (1 - eta / (2 * sigma ** 2))
        assert abs(samples.var().item() / expected_var - 1) < 0.1       # 3000 draws: 2.6 % standard error
    else:
        # no noise: every sample's distance to the mean (at most 256 units at the start) shrinks by
        # (1 - eta / sigma^2) each step, to 0.12 units after 150 steps (T = 1 leaves a variance of 16)
        bound = 256 * (1 - eta / sigma ** 2) ** n_steps
        assert (samples - MEAN_CLASS).abs().max().item() <= bound


class _TemperedInpainting(Inpainting):
    """Inpainting whose samples each carry their own temperature (``temperatures``, (length,))."""

    def __init__(self, observed, gaps, temperatures):
        super().__init__(observed, gaps)
        self.temperatures = torch.as_tensor(temperatures, dtype=torch.float32).reshape(1, -1)

    def temperature(self):
        return self.temperatures


def test_a_task_gives_each_sample_its_own_temperature(tmp_path):
    """A task's per-sample temperatures replace the sampler's: on the Gaussian prior each half of the signal
    gets T times the variance of T = 1 for its own T; a map equal to the sampler's T everywhere is that T."""
    sigma, scale = 4.0, 0.05
    hp = tiny_hparams(sigmas=f"[{sigma}]")
    prior = write_levels(tmp_path, hp, lambda hp, s: constant_model(hp))
    run = lambda task, n_steps, **kw: anneal(task, [prior], AnnealingSchedule((sigma,), scale),
                                             config(n_steps=n_steps, window=300, windows_per_step=5,
                                                    schedule="tiled", **kw))[0]
    halves = torch.cat([torch.full((1500,), 1.0), torch.full((1500,), 0.25)])
    x = run(_TemperedInpainting(torch.full((3000,), 10.0), [(0, 3000)], halves), 150, temperature=0.5)
    eta = scale * sigma ** 2
    unit_var = sigma ** 2 / (1 - eta / (2 * sigma ** 2))
    for half, temperature in ((x[0, :1500], 1.0), (x[0, 1500:], 0.25)):
        samples = half.double()
        assert abs(samples.mean().item() - MEAN_CLASS) < 0.5
        assert abs(samples.var().item() / (temperature * unit_var) - 1) < 0.12   # 1500 draws: 3.7 % standard error
    same = torch.full((600,), 0.25)
    assert torch.equal(run(_TemperedInpainting(torch.full((600,), 10.0), [(0, 600)], same), 5),
                       run(Inpainting(torch.full((600,), 10.0), [(0, 600)]), 5, temperature=0.25))


def test_tiled_windows_move_every_sample_once_per_step():
    tiles = TiledWindows(length=1050, window=200, windows_per_step=2, n_steps=4)
    steps = list(tiles)
    assert len(steps) == 4
    starts = torch.cat(steps[0])
    assert starts.tolist() == [0, 200, 400, 600, 800, 1000]
    assert max(len(b) for b in steps[0]) == 2


def test_random_windows_cover_ends_as_often_as_the_middle():
    gen = torch.Generator().manual_seed(0)
    windows = RandomWindows(length=1000, window=100, windows_per_step=2, n_steps=2000, generator=gen)
    assert len(windows) == math.ceil(1000 / 200 * 2000)
    coverage = torch.zeros(1000)
    for (starts,) in windows:
        assert starts.min() >= 0 and starts.max() <= 900
        for s in starts.tolist():
            coverage[s:s + 100] += 1
    assert coverage.mean().item() == 2000                 # 10000 steps x 2 windows x 100 samples / 1000, exactly
    middle = coverage[450:550].mean().item()
    # The first and last samples move as often as the middle, none less: each count is binomial
    # with mean 1818 and std 41 (2.3 %).
    assert abs(coverage[0].item() / middle - 1) < 0.1 and abs(coverage[-1].item() / middle - 1) < 0.1
    assert coverage.min().item() > 0.9 * middle  # 4 std


@pytest.mark.parametrize("window, batch_size", [(120, 2), (500, 1), (77, 10)])
def test_tiled_gradient_is_the_whole_signal_gradient(tmp_path, window, batch_size):
    """Tiles with their context give d log p(x) / dx of the whole signal, every sample covered once."""
    hp = tiny_hparams(sigmas="[3.0]")
    model = write_levels(tmp_path, hp).load(3.0).double()
    rf = model.receptive_field
    gen = torch.Generator().manual_seed(0)
    signal = torch.rand(500, generator=gen, dtype=torch.float64) * 255
    tiles = TiledWindows(500, window, batch_size, n_steps=1)
    (batches,) = list(tiles)
    grad, count, log_p, targets = windows_gradient(
        WindowLogProb(model), signal, None, StepWindows(batches, window, rf, True), 3.0, 127.0, torch.Generator())
    assert torch.equal(count, torch.ones(500, dtype=torch.float64)) and targets == 500
    # Direct: the whole signal after rf samples of context, all 500 terms, autograd.
    x = signal.clone().requires_grad_(True)
    context = torch.full((rf,), 127.0, dtype=torch.float64)
    terms = model.smoothed_log_prob(torch.cat([context, x]).view(1, 1, -1), 3.0)[:, rf - 1:]
    terms.sum().backward()
    # The context before the signal is noisy silence in the engine: it changes only the terms
    # of the first rf targets, which depend on samples before rf alone.
    torch.testing.assert_close(grad[rf:], x.grad[rf:], rtol=1e-9, atol=1e-9)  # float64
    # With the engine's own noisy context (its draw from a fresh generator, float32 as the engine
    # draws it) the direct sum is the engine's to float64 rounding of 500 terms.
    noisy = (127.0 + 3.0 * torch.randn(rf, generator=torch.Generator())).double()
    direct = model.smoothed_log_prob(torch.cat([noisy, signal]).view(1, 1, -1), 3.0)[:, rf - 1:].sum().item()
    assert log_p == pytest.approx(direct, rel=1e-12, abs=1e-9)


def test_random_window_gradient_holds_the_context_fixed(tmp_path):
    hp = tiny_hparams(sigmas="[3.0]")
    model = write_levels(tmp_path, hp).load(3.0).double()
    rf = model.receptive_field
    signal = torch.rand(300, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 255
    grad, count, _, targets = windows_gradient(
        WindowLogProb(model), signal, None, StepWindows([torch.tensor([100])], 50, rf, False), 3.0, 127.0,
        torch.Generator())
    assert targets == 50
    assert torch.equal(count.nonzero().flatten(), torch.arange(100, 150))
    assert (grad[:100] == 0).all() and (grad[150:] == 0).all()
    # Inside the window: the gradient of the window's own 50 terms.
    x = signal.clone().requires_grad_(True)
    model.smoothed_log_prob(x[100 - rf:150].view(1, 1, -1), 3.0)[:, rf - 1:].sum().backward()
    torch.testing.assert_close(grad[100:150], x.grad[100:150], rtol=1e-9, atol=1e-9)  # float64


def test_superres_keeps_the_kept_samples(tmp_path):
    hp = tiny_hparams()
    prior = write_levels(tmp_path, hp)
    observed = torch.randint(0, 256, (800,)).float()
    task = SuperResolution(observed, 4)
    x, _ = anneal(task, [prior], AnnealingSchedule(tuple(hp.sigmas)), config())
    assert torch.equal(x[0, ::4], observed[::4])
    assert not torch.equal(x[0, 1::4], observed[1::4])


def test_inpainting_touches_only_the_gap(tmp_path):
    hp = tiny_hparams()
    prior = write_levels(tmp_path, hp)
    observed = torch.randint(0, 256, (800,)).float()
    task = Inpainting(observed, [(300, 400), (600, 610)])
    x, _ = anneal(task, [prior], AnnealingSchedule(tuple(hp.sigmas)), config(schedule="tiled"))
    outside = ~task.gap_mask()
    assert torch.equal(x[0, outside], observed[outside])
    assert (x[0, 300:400] != 127.0).all()


def test_separation_sums_to_the_mixture_within_the_likelihood_term(tmp_path):
    hp = tiny_hparams(input_type="linear-quantize", sigmas="[8.0,2.0]")
    priors = [write_levels(tmp_path / "a", hp), write_levels(tmp_path / "b", hp)]
    gen = torch.Generator().manual_seed(0)
    mixture = 127.5 * (torch.rand(1000, generator=gen) * 2.8 - 1.4) + 255
    task = Separation(mixture)
    x, _ = anneal(task, priors, AnnealingSchedule(tuple(hp.sigmas)), config(n_steps=20, schedule="tiled"))
    residual = x[0] + x[1] - mixture
    # The term is a Gaussian likelihood of the sum with std sigma / sqrt(15) = 0.52 at sigma 2.
    assert residual.pow(2).mean().sqrt().item() < 2.0  # 4 std
    assert not torch.allclose(x[1], torch.full_like(x[1], 127.0))


def test_implicit_mixture_step_solves_the_backward_euler_equation():
    mixture = torch.tensor([300.0, 200.0, 255.0])
    task = Separation(mixture, gamma_scale=15.0, implicit=True)
    assert task.extra_gradient(torch.zeros(2, 3), 2.0) is None
    x = torch.tensor([[200.0, 50.0, 127.0], [150.0, 100.0, 128.0]])
    step = torch.full((2, 3), 3.0)                       # eta * count, eta gamma = 11.25: explicit would explode
    sigma = 2.0
    gamma = 15.0 / sigma ** 2
    new = x + task.implicit_update(x, step, sigma)
    # Backward Euler: x' = x - step * gamma * (x0' + x1' - mixture) for both sources.
    residual_after = new[0] + new[1] - mixture
    torch.testing.assert_close(new, x - step * gamma * residual_after, rtol=0, atol=1e-4)  # float32
    assert residual_after.abs().max() < (x[0] + x[1] - mixture).abs().max() / 20
    # For a small step it agrees with the explicit gradient step to first order.
    explicit = Separation(mixture, gamma_scale=15.0)
    small = torch.full((2, 3), 1e-4)
    torch.testing.assert_close(task.implicit_update(x, small, sigma), small * explicit.extra_gradient(x, sigma),
                               rtol=2e-3, atol=1e-6)  # first order: 2 step gamma = 7.5e-4


def test_implicit_separation_is_stable_at_a_large_step(tmp_path):
    hp = tiny_hparams(input_type="linear-quantize", sigmas="[8.0,2.0]")
    priors = [write_levels(tmp_path / "a", hp), write_levels(tmp_path / "b", hp)]
    mixture = 127.5 * (torch.rand(1000, generator=torch.Generator().manual_seed(0)) * 2.8 - 1.4) + 255
    task = Separation(mixture, implicit=True)
    x, _ = anneal(task, priors, AnnealingSchedule(tuple(hp.sigmas), step_scale=1.0),
                  config(n_steps=10, schedule="tiled"))
    assert torch.isfinite(x).all()
    assert (x[0] + x[1] - mixture).pow(2).mean().sqrt().item() < 2.0  # as above


def test_mixture_gain_scales_the_mixture_to_its_peak():
    mixture = np.array([0.2, -0.5, 0.25])
    assert np.max(np.abs(mixture_gain(mixture, 1.4, "a and b") * mixture)) == pytest.approx(1.4)
    with pytest.raises(PnfError, match="the mixture of a and b is silent"):
        mixture_gain(np.zeros(3), 1.4, "a and b")


def test_spectrogram_task_uses_the_conditioning(tmp_path):
    hp = tiny_hparams(conditional=True)
    prior = write_levels(tmp_path, hp)
    mel = torch.randn(5, 30)
    task = SpectrogramConditioned(mel, hp.cin_pad, 4)
    assert task.length == (30 - 2 * hp.cin_pad) * 4
    x, reports = anneal(task, [prior], AnnealingSchedule(tuple(hp.sigmas), 0.1), config(window=40))
    assert x.shape == (1, task.length) and torch.isfinite(x).all()
    assert len(reports) == 2


def test_seed_makes_runs_reproducible(tmp_path):
    hp = tiny_hparams()
    prior = write_levels(tmp_path, hp)
    task = SuperResolution(torch.randint(0, 256, (600,)).float(), 2)
    runs = [anneal(task, [prior], AnnealingSchedule(tuple(hp.sigmas)), config(seed=s))[0] for s in (5, 5, 6)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_divergence_names_sigma_and_step(tmp_path):
    hp = tiny_hparams()
    prior = write_levels(tmp_path, hp)
    task = SuperResolution(torch.randint(0, 256, (600,)).float(), 2)
    with pytest.raises(SamplingDiverged, match=r"sigma=4, step \d+/\d+: use a smaller step size"):
        anneal(task, [prior], AnnealingSchedule(tuple(hp.sigmas), 1e30), config())


def test_tiled_inpainting_scores_only_the_terms_the_gap_reaches():
    hp = tiny_hparams()
    torch.manual_seed(0)
    model = WaveNet.from_hparams(hp).double().eval()
    net = WindowLogProb(model)
    rf = model.receptive_field                                  # 13 samples
    x = 127.0 + 40 * torch.randn(600, dtype=torch.float64)
    task = Inpainting(x, [(300, 340)])
    offset, span = scored_span(task, rf, "tiled")
    assert (offset, span) == (300, 40 + rf)
    assert scored_span(task, rf, "random") == (0, 600)

    def gradient(starts, window):
        g, n, _, _ = windows_gradient(net, x, None, StepWindows([starts], window, rf, True), 2.0, 127.0,
                                      torch.Generator().manual_seed(0))
        return g, n

    full, _ = gradient(torch.arange(0, 600, 100), 100)
    part, count = gradient(torch.tensor([offset]), span)
    # The gap's gradient is the whole signal's gradient, exactly; nothing outside the span is scored.
    torch.testing.assert_close(part[300:340], full[300:340], rtol=1e-12, atol=1e-12)  # float64
    assert count[300:300 + span].eq(1).all() and count[:300].eq(0).all() and count[300 + span:].eq(0).all()


def test_tiled_inpainting_near_the_end_of_the_signal(tmp_path):
    hp = tiny_hparams()
    prior = write_levels(tmp_path, hp)
    observed = 127.0 + 30 * torch.sin(torch.arange(400) / 7.0)
    task = Inpainting(observed, [(390, 400)])
    assert scored_span(task, 13, "tiled") == (390, 10)
    x, reports = anneal(task, [prior], AnnealingSchedule(tuple(hp.sigmas)), config(schedule="tiled", window=1000))
    assert torch.equal(x[0, :390], observed[:390]) and torch.isfinite(x).all()
    assert all(r.sample_updates_per_s > 0 for r in reports)


def test_tiles_are_balanced_and_random_windows_are_not():
    from wavenet_vocoder.pnf.windows import window_length
    assert window_length("tiled", 22050, 20000) == 11025
    assert window_length("tiled", 81408, 20000) == 16282            # 5 tiles, the last 2 samples over
    assert window_length("tiled", 40000, 20000) == 20000
    assert window_length("tiled", 500, 20000) == 500
    assert window_length("random", 22050, 20000) == 20000
    assert window_length("random", 500, 20000) == 500
    tiles = TiledWindows(22050, window_length("tiled", 22050, 20000), windows_per_step=2, n_steps=1)
    (batches,) = list(tiles)
    assert [b.tolist() for b in batches] == [[0, 11025]]


def test_tiled_results_do_not_depend_on_the_windows(tmp_path):
    # The tiled update is the whole signal's exact gradient and the noise is drawn for the whole
    # state, so windows chosen for a memory budget change float rounding only, not the samples.
    hp = tiny_hparams()
    prior = write_levels(tmp_path, hp)
    task = SuperResolution(torch.rand(1500, generator=torch.Generator().manual_seed(0)) * 255, 3)
    runs = [anneal(task, [prior], AnnealingSchedule(tuple(hp.sigmas), 0.1),
                   config(schedule="tiled", window=w, windows_per_step=b))[0] for w, b in ((1500, 1), (200, 2), (77, 5))]
    assert torch.allclose(runs[0], runs[1], atol=1e-3) and torch.allclose(runs[0], runs[2], atol=1e-3)  # float32


def test_tasks_sampled_together_equal_each_sampled_alone(tmp_path):
    hp = tiny_hparams()
    prior = write_levels(tmp_path, hp)
    observed = torch.rand(2000, generator=torch.Generator().manual_seed(1)) * 255
    tasks = [SuperResolution(observed[:1200], 4), Inpainting(observed[1200:], [(100, 300)])]
    schedule = AnnealingSchedule(tuple(hp.sigmas), 0.1)
    seen = []
    together, reports = anneal_segments(tasks, [prior], schedule, config(),
                                        on_level=lambda sigma, k, x: seen.append((sigma, k)))
    assert seen == [(4.0, 0), (4.0, 1), (1.0, 0), (1.0, 1)]
    assert [r.steps for r in reports] == [sum(len(RandomWindows(t.length, 200, 2, 3, None)) for t in tasks)] * 2
    for task, state in zip(tasks, together):
        alone, _ = anneal(task, [prior], schedule, config())
        assert torch.equal(alone, state)


@pytest.mark.parametrize("start", [70.0, 130.0])
def test_a_warm_start_reaches_the_cold_start_law(tmp_path, start):
    """From the plain estimate (below or above the prior's mean) plus the level's noise, the chain
    samples the same discretised Gaussian as from the published start. (The constant model is
    Gaussian within about 40 units of its mean: beyond, the e^-60 mass of the other classes makes
    the smoothed likelihood flat.)"""
    sigma, scale, n_steps = 4.0, 0.05, 150
    hp = tiny_hparams(sigmas=f"[{sigma}]")
    prior = write_levels(tmp_path, hp, lambda hp, s: constant_model(hp))
    task = Inpainting(torch.full((3000,), 10.0), [(0, 3000)], estimate=torch.full((3000,), start))
    assert torch.equal(task.baseline(), torch.full((1, 3000), start))
    x, _ = anneal(task, [prior], AnnealingSchedule((sigma,), scale),
                  config(n_steps=n_steps, window=300, windows_per_step=4, schedule="tiled", init="baseline"))
    eta = scale * sigma ** 2
    expected_var = sigma ** 2 / (1 - eta / (2 * sigma ** 2))
    samples = x[0].double()
    # as in the cold-start test: standard error of the mean 0.07, of the variance 2.6 %
    assert abs(samples.mean().item() - MEAN_CLASS) < 0.35
    assert abs(samples.var().item() / expected_var - 1) < 0.1


def test_a_warm_start_begins_at_the_estimate_plus_the_first_levels_noise():
    estimate = torch.linspace(50, 200, 2000)
    task = Inpainting(torch.full((2000,), 127.0), [(500, 1500)], estimate=estimate)
    from wavenet_vocoder.pnf.langevin import _Chain
    chain = _Chain(task, seed=0, device=torch.device("cpu"), init="baseline", first_sigma=4.0)
    inside = chain.x[0, 500:1500] - estimate[500:1500]
    assert torch.equal(chain.x[0, :500], torch.full((500,), 127.0))          # fixed samples untouched
    assert abs(inside.mean().item()) < 0.5 and abs(inside.std().item() / 4.0 - 1) < 0.1   # 1000 draws
    with pytest.raises(PnfError, match="--init baseline"):
        _Chain(Inpainting(torch.full((100,), 127.0), [(10, 20)]), 0, torch.device("cpu"), "baseline", 4.0)


def test_start_sigma_skips_exactly_the_levels_above_and_level_steps_are_honoured(tmp_path):
    hp = tiny_hparams(sigmas="[20.0,8.0,4.0,1.0]")
    prior = write_levels(tmp_path, hp)
    task = SuperResolution(torch.rand(400) * 255, 4)
    schedule = AnnealingSchedule(tuple(hp.sigmas), 0.05, level_steps=(1, 2, 3, 5))
    _, reports = anneal(task, [prior], schedule.starting_at(8.0), config(window=100, schedule="tiled"))
    assert [r.sigma for r in reports] == [8.0, 4.0, 1.0]
    assert [r.steps for r in reports] == [2, 3, 5]                 # tiled: one step moves every sample once
    assert schedule.starting_at(5.0).sigmas == (4.0, 1.0) and schedule.starting_at(100.0) == schedule
    with pytest.raises(ValueError):
        schedule.starting_at(0.5)
    with pytest.raises(ValueError):
        AnnealingSchedule((2.0, 1.0), 0.05, level_steps=(3,))


def test_denoise_lands_on_the_mean_of_a_gaussian_prior(tmp_path):
    """Tweedie's step: with p_sigma = N(MEAN_CLASS, sigma^2) per sample, x + sigma^2 d log p / dx is MEAN_CLASS
    exactly, from any state; samples that do not move stay as they were."""
    sigma = 8.0
    hp = tiny_hparams(sigmas=f"[{sigma}]")
    prior = write_levels(tmp_path, hp, lambda hp, s: constant_model(hp))
    observed = torch.full((600,), 10.0)
    task = Inpainting(observed, [(100, 400)])
    for schedule in ("random", "tiled"):
        # (within about sqrt(120) sigma of MEAN_CLASS, where the chain starts and stays, the Gaussian is the
        # density; farther out the other classes' weights of e^-60 outweigh its tail)
        x, _ = anneal(task, [prior], AnnealingSchedule((sigma,), 0.5),
                      config(n_steps=30, window=128, schedule=schedule, denoise=True))
        assert (x[0, 100:400] - MEAN_CLASS).abs().max() < 1e-3
        assert torch.equal(x[0, :100], observed[:100]) and torch.equal(x[0, 400:], observed[400:])


def test_denoise_is_one_noise_free_step_of_sigma_squared_along_the_whole_signal_gradient(tmp_path):
    hp = tiny_hparams(sigmas="[4.0,1.5]")
    prior = write_levels(tmp_path, hp)
    observed = torch.rand(700, generator=torch.Generator().manual_seed(3)) * 255
    task = SuperResolution(observed, 4)
    before = {}
    x, reports = anneal(task, [prior], AnnealingSchedule(tuple(hp.sigmas), 0.1),
                        config(n_steps=2, window=300, schedule="random", denoise=True),
                        on_level=lambda sigma, state: before.setdefault(sigma, state.clone()))
    # Without the flag the same run ends at the state the last level handed over (the step comes after it).
    plain, _ = anneal(task, [prior], AnnealingSchedule(tuple(hp.sigmas), 0.1),
                      config(n_steps=2, window=300, schedule="random"))
    torch.testing.assert_close(plain, before[1.5], rtol=0, atol=0)
    # Direct: d log p_1.5(x) / dx of the whole signal (float64, autograd) times sigma^2, on the moving samples.
    model = prior.load(1.5).double()
    rf = model.receptive_field
    state = before[1.5][0].double().requires_grad_(True)
    context = torch.full((rf,), 127.0, dtype=torch.float64)
    model.smoothed_log_prob(torch.cat([context, state]).view(1, 1, -1), 1.5)[:, rf - 1:].sum().backward()
    expected = before[1.5][0].double() + 1.5 ** 2 * state.grad
    moving = torch.ones(700, dtype=torch.bool)
    moving[::4] = False
    moving[:rf] = False              # the first rf samples' terms see the engine's own noisy context
    torch.testing.assert_close(x[0].double()[moving], expected[moving], rtol=1e-4, atol=1e-3)
    assert torch.equal(x[0, ::4], observed[::4])                        # the kept samples stay kept
    assert (x[0] - before[1.5][0]).abs().max() > 1e-2                   # and the step did move the others
