"""The annealed Langevin engine: the one sampling loop every task runs through.

State: ``x`` of shape (S, T), S sources of T samples each, in quantised units.  At
each level sigma of the schedule, with the level's model(s) loaded from the priors,
every step takes

    x <- x + movable * (eta * (grad log p_sigma(x) + extra) + sqrt(2 eta) * N(0, I))

on the samples the window schedule covers, with ``eta = step_scale * sigma^2``.  The
task (the :class:`~wavenet_vocoder.pnf.task.Task` protocol) supplies the initial state, which samples may move,
extra likelihood terms and mel conditioning; the loop never branches on the task.

With ``denoise`` the last level ends with one more, noise-free step of size ``sigma^2``
(``x <- x + sigma^2 * grad log p_sigma(x | observation)``, the whole signal's gradient, tiled):
Tweedie's formula, the posterior mean of the clean signal given the state, which removes the
noise of the lowest level that the final sample carries (a departure from the published code).
With ``temperature`` T below 1 the noise term is ``sqrt(2 eta T) * N(0, I)``: the chain samples
p_sigma^(1/T) instead of p_sigma, a sharper law (T = 0: noise-free annealed gradient ascent; T = 1,
the default, is the published step). A task may give each sample its own temperature
(:meth:`~wavenet_vocoder.pnf.task.Task.temperature`), which then replaces ``temperature``.
"""
import contextlib
import time
from dataclasses import dataclass, field, replace

from tqdm import tqdm

from ..deferred import deferred_import
from ..errors import PnfError
from .conditioning import WindowConditioning
from .windows import TiledWindows, make_windows, window_length

torch = deferred_import("torch")


class SamplingDiverged(PnfError):
    """The state became NaN or infinite: the step size is too large for this model."""


@dataclass(frozen=True)
class SamplerConfig:
    """How the engine runs: moves per sample per level (``n_steps``), window length (samples),
    windows scored together in one step (``windows_per_step``; the scripts' BATCH_SIZE, not the
    preset's training batch), window schedule, seed, device, gradient precision, start, the
    ``denoise`` step and the ``temperature`` of the Langevin noise (1: as published)."""

    n_steps: int
    window: int
    windows_per_step: int
    schedule: str = "random"
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    precision: str = "fp32"
    init: str = "noise"
    denoise: bool = False
    temperature: float = 1.0


#: Where sampling starts (``--init``): the task's own initial state ("noise": uniform, or silence in
#: gaps, as published), or its plain estimate plus noise of the first level's sigma ("baseline").
INITS = ("noise", "baseline")


@dataclass(frozen=True)
class StepWindows:
    """The windows one Langevin step scores: ``batches`` (lists of LongTensor window starts, samples),
    each window ``length`` samples long and scored with ``rf`` samples of context before it;
    ``exact``: whether the gradient reaching the context flows into the samples there."""

    batches: list
    length: int
    rf: int
    exact: bool


@dataclass
class LevelReport:
    """What one noise level did, over all the tasks sampled together: steps taken, mean per-sample
    log p_sigma over the steps, the last step's (of the last task), time in seconds."""

    sigma: float
    steps: int
    mean_log_p: float
    final_log_p: float
    seconds: float
    sample_updates_per_s: float = field(default=0.0)

    def to_dict(self):
        return dict(self.__dict__)


def anneal(task, priors, schedule, config, on_level=None):
    """Run the annealed Langevin sampler; returns (final state (S, T) on the CPU, level reports).

    ``priors`` holds one :class:`Prior` per source of ``task`` (or any object with its
    ``level(sigma, precision) -> (model, scorer)``); ``schedule`` is an
    :class:`~wavenet_vocoder.pnf.noise_schedule.AnnealingSchedule`; ``on_level(sigma, x)``
    is called after each level with the state on the CPU.
    """
    hook = None if on_level is None else (lambda sigma, index, x: on_level(sigma, x))
    states, reports = anneal_segments([task], priors, schedule, config, hook)
    return states[0], reports


class _Chain:
    """One task's Langevin chain: its state and its own generators, seeded from ``seed``.

    A chain's draws depend only on its task and the seed, so a task sampled alone or
    beside others (the segments of a long file) gives the same state.
    """

    def __init__(self, task, seed, device, init="noise", first_sigma=None, temperature=1.0):
        self.task = task
        self.noise_gen = torch.Generator(device=device).manual_seed(seed)
        self.window_gen = torch.Generator().manual_seed(seed + 1)
        start_gen = torch.Generator().manual_seed(seed + 2)
        x = task.initial_state(start_gen).float()
        movable = task.movable().bool()
        if init == "baseline":
            estimate = task.baseline()
            if estimate is None:
                raise PnfError(f"--init baseline: the {type(task).__name__} task has no plain estimate to start "
                               "from: use --init noise")
            noisy = estimate.float() + first_sigma * torch.randn(x.shape, generator=start_gen)
            x = torch.where(movable, noisy, x)
        elif init != "noise":
            raise ValueError(f"unknown init {init!r}: use one of {', '.join(INITS)}")
        self.x = x.to(device, torch.float32)
        self.movable = movable.to(device, torch.float32)
        per_sample = task.temperature()      # the task's own temperatures, else the sampler's one
        self.temperature = temperature if per_sample is None else torch.as_tensor(per_sample).to(device, torch.float32)


def anneal_segments(tasks, priors, schedule, config, on_level=None):
    """Sample several independent tasks (a long file's segments), each level's models loaded once.

    Each task runs exactly as :func:`anneal` would run it alone with the same config and
    seed.  Returns (final states on the CPU, one per task; level reports summed over the
    tasks).  ``on_level(sigma, index, x)`` is called after each level for every task in turn.
    One progress bar per level counts the steps of all tasks.
    """
    tasks = list(tasks)
    for task in tasks:
        if len(priors) != task.n_sources:
            raise ValueError(f"the task has {task.n_sources} sources but {len(priors)} priors were given")
    device = torch.device(config.device)
    chains = [_Chain(task, config.seed, device, config.init, schedule.sigmas[0], config.temperature) for task in tasks]
    reports = []
    for level, sigma in enumerate(schedule):
        models, scorers = zip(*(prior.level(sigma, config.precision) for prior in priors))
        nets = [_parallel(scorer, device) for scorer in scorers]
        rf = models[0].receptive_field
        eta = schedule.step_size(sigma)
        plans = []
        for chain in chains:
            offset, span, window = window_plan(chain.task, rf, config)
            windows = make_windows(config.schedule, span, window, config.windows_per_step,
                                   schedule.moves(level, config.n_steps), chain.window_gen)
            plans.append((offset, window, windows))
        bar = tqdm(total=sum(len(w) for _, _, w in plans), desc=f"level {level + 1}/{len(schedule)} sigma={sigma:g}",
                   disable=not config.progress, leave=True, dynamic_ncols=True)
        started, log_p_sum, steps, updates, log_p = time.perf_counter(), 0.0, 0, 0, float("nan")
        for index, (chain, (offset, window, windows)) in enumerate(zip(chains, plans)):
            conds = [_conditioning(chain.task, s, m, device) for s, m in enumerate(models)]
            for step, batches in enumerate(windows):
                step_windows = StepWindows([b + offset for b in batches], window, rf, windows.exact_gradient)
                with full_float32(device):
                    log_p, targets = _step(chain, nets, conds, step_windows, sigma, eta, temperature=chain.temperature)
                if not bool(torch.isfinite(chain.x).all()):
                    raise SamplingDiverged(
                        f"sampling diverged (NaN or inf) at sigma={sigma:g}, step {step + 1}/{len(windows)}: "
                        f"use a smaller step size (--step-scale, now {schedule.step_scale:g})"
                        + ("" if config.schedule == "tiled" else " or --schedule tiled"))
                log_p_sum += log_p
                steps += 1
                updates += targets
                rate = updates / max(time.perf_counter() - started, 1e-9)
                bar.set_postfix_str(f"log p {log_p:.3f}, {rate:.3g} sample-updates/s", refresh=False)
                bar.update()
            if on_level is not None:
                on_level(sigma, index, chain.x.detach().cpu())        # the level's sample, before any denoising
            if config.denoise and level == len(schedule) - 1:
                _denoise(chain, nets, conds, rf, sigma, config)
        bar.close()
        seconds = time.perf_counter() - started
        reports.append(LevelReport(sigma=sigma, steps=steps, mean_log_p=log_p_sum / max(steps, 1),
                                   final_log_p=log_p, seconds=seconds,
                                   sample_updates_per_s=updates / max(seconds, 1e-9)))
    return [chain.x.detach().cpu() for chain in chains], reports


@contextlib.contextmanager
def full_float32(device):
    """Within: float32 convolutions on ``device`` are computed in full float32.  On a GPU, cuDNN
    may otherwise round their inputs to TF32 (PyTorch's default for convolutions), which put the
    plain path's gradient 3e-2 (relative) away from float64 on an H100; elsewhere a no-op."""
    if torch.device(device).type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = saved


def _denoise(chain, nets, conds, rf, sigma, config):
    """Tweedie's step at the last level: ``chain.x <- E[clean signal | x]``, one noise-free step of size sigma^2
    with the exact gradient of the whole signal's log p_sigma (one pass of tiles, whatever the schedule)."""
    offset, span, window = window_plan(chain.task, rf, replace(config, schedule="tiled"))
    (batches,) = TiledWindows(span, window, config.windows_per_step, 1)
    with full_float32(chain.x.device):
        _step(chain, nets, conds, StepWindows([b + offset for b in batches], window, rf, True), sigma, sigma * sigma,
              noisy=False)


def _step(chain, nets, conds, windows, sigma, eta, noisy=True, temperature=1.0):
    """One Langevin step of ``chain`` over ``windows`` (:class:`StepWindows`); returns (mean log p per term, terms).
    ``noisy=False``: the step without its noise (a gradient step of size ``eta``); ``temperature``
    (a number, or one per sample of the state's shape) scales the noise's variance."""
    x, task = chain.x, chain.task
    grad = torch.zeros_like(x)
    count = torch.zeros_like(x)
    step_log_p, step_targets = 0.0, 0
    for s, net in enumerate(nets):
        g, n, lp, targets = windows_gradient(net, x[s], conds[s], windows, sigma, task.silence, chain.noise_gen)
        grad[s], count[s] = g, n
        step_log_p += lp
        step_targets += targets
    extra = task.extra_gradient(x, sigma)
    if extra is not None:
        grad = grad + count * extra
    step = eta * grad
    if noisy and (torch.is_tensor(temperature) or temperature > 0):
        step = step + torch.sqrt(2 * eta * temperature * count) * torch.randn(x.shape, generator=chain.noise_gen, device=x.device)
    x = x + chain.movable * step
    implicit = task.implicit_update(x, eta * count, sigma)
    if implicit is not None:
        x = x + chain.movable * implicit
    chain.x = x
    return step_log_p / max(step_targets, 1), step_targets


def window_plan(task, rf, config):
    """(first target, targets scored, window length) of ``task``'s windows, in samples: the span of
    :func:`scored_span` and the window the schedule uses on it (:func:`~.windows.window_length`)."""
    offset, span = scored_span(task, rf, config.schedule)
    return offset, span, window_length(config.schedule, span, config.window)


def scored_span(task, rf, schedule):
    """(first target, number of targets) of the likelihood terms the windows cover, in samples.

    A sample x_j enters the terms of targets j..j + rf (its own and those whose receptive
    field holds it), so for a task whose movable samples lie in [a, b) the tiled schedule
    scores targets [a, b + rf) only: the gradient of every movable sample is unchanged and
    the rest of the signal costs nothing.  The random (published) schedule covers the whole
    signal.
    """
    span = task.movable_span()
    if span is None or schedule != "tiled":
        return 0, task.length
    start, end = span
    return start, min(task.length, end + rf) - start


def _parallel(net, device):
    """DataParallel over the visible GPUs for device "cuda"; the module itself on one named GPU
    ("cuda:N", as each process of a torchrun job has) or on the CPU."""
    return torch.nn.DataParallel(net) if device.type == "cuda" and device.index is None else net


def _conditioning(task, source, model, device):
    """The source's mel frames under this level's model, upsampled window by window, or None."""
    frames = task.conditioning(source)
    if frames is None:
        return None
    try:
        return WindowConditioning(model, frames.to(device, torch.float32), task.length)
    except ValueError as e:
        raise PnfError(str(e)) from None


def windows_gradient(net, x, c, windows, sigma, silence, generator):
    """Gradient of the windows' log-likelihood terms with respect to one source's samples.

    x: (T,) state; c: a :class:`WindowConditioning` or None; windows: a :class:`StepWindows`.
    Each window [s, s + W) is scored as the span of samples [s - rf, s + W): its terms
    for the targets s..s+W-1 (those inside the signal) are summed.  Samples before the
    signal are noisy silence, ``silence + sigma * N(0, 1)``.  With ``exact`` the
    gradient reaching the context flows into the samples there (tiled: the whole
    signal's gradient); otherwise only the window's own samples get a gradient.
    Returns (grad (T,), windows covering each sample (T,), sum of terms, number of terms).
    """
    batches, window, rf, exact = windows.batches, windows.length, windows.rf, windows.exact
    length = x.numel()
    device = x.device
    end = max(int(b.max()) for b in batches) + window
    right = max(0, end - length)
    left = silence + sigma * torch.randn(rf, generator=generator, device=device)
    padded = torch.cat([left, x, torch.full((right,), float(silence), device=device)])
    grad = torch.zeros_like(padded)
    count = torch.zeros_like(padded)
    offsets = torch.arange(window + rf, device=device)
    log_p, targets = 0.0, 0
    for starts in batches:
        index = starts.to(device).unsqueeze(1) + offsets             # padded coordinates
        spans = padded[index].detach().requires_grad_(True)         # (B, W + rf)
        span_c = None
        if c is not None:        # conditioning of spans[:, :-1]: signal samples s - rf .. s + W - 2
            span_c = torch.stack([c.span(int(s) - rf, int(s) + window - 1) for s in starts])
        with torch.enable_grad():
            # term j scores spans[:, rf + j], the window's sample j (context terms are not needed)
            terms = net(spans.unsqueeze(1), sigma, span_c, first_term=rf - 1)
            weight = (index[:, rf:] - rf < length).to(terms.dtype)
            total = (terms * weight).sum()
            (span_grad,) = torch.autograd.grad(total, spans)
        if not exact:
            span_grad[:, :rf] = 0
        grad.index_add_(0, index.flatten(), span_grad.flatten())
        window_index = index[:, rf:].flatten()
        count.index_add_(0, window_index, torch.ones_like(window_index, dtype=count.dtype))
        log_p += float(total.detach())
        targets += int(weight.sum())
    return grad[rf:rf + length], count[rf:rf + length], log_p, targets
