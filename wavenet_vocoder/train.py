"""Train the WaveNet prior: one model per noise level (a fine-tuning chain), or one noise-conditional model.

Usage:
  pnf-train <dump-dir> <checkpoint-root> --preset=<json> [options]

<dump-dir> holds train/ and dev/ folders of <name>-<i>-wave.npy files (and, for a
mel-conditioned preset, the normalised -feats.npy beside them: pass the dump_norm folder).
Per-level training writes each level sigma to <checkpoint-root>/checkpoints<sigma>/ in the
published layout.  Noise-conditional training (--noise-conditional, or the preset key
noise_conditional) writes one model for every level into <checkpoint-root> itself.

Options:
  --preset=<json>        Preset file (model, quantiser, optimiser, crop length, EMA decay).
  --hparams=<params>     Preset overrides "name=value,..." [default: ].
  --sigma=<s>            Per-level: train only this level (quantised units); default: every level of
                         the preset's sigmas, high to low, each initialised from the previous one.
  --steps=<n>            Training steps per level; noise-conditional: in all [default: 2000].
  --first-steps=<n>      Steps of the first level of a chain (from scratch); default: --steps.
  --noise-conditional    Train one model that takes sigma as an input, for every level at once.
  --sigma-sampling=<how> Noise-conditional: each crop's sigma, "loguniform" over the range of the
                         preset's sigmas or "levels" (one of them, uniformly) [default: loguniform].
  --top-fraction=<f>     Noise-conditional: this fraction of the crops at the largest of the preset's
                         sigmas, the others drawn by --sigma-sampling (more training where the
                         top level is hardest to learn) [default: 0].
  --continue-from=<dir>  Train on a trained prior (e.g. a bundled one, egs/pnf_real/mel_voice): its
                         weights, step count, training time and training.json carry on into
                         <checkpoint-root> (Adam afresh where it ships without its optimiser
                         state); ignored when <checkpoint-root> already holds a run to resume.
  --init=<checkpoint>    Initialise from this checkpoint (a file or a level folder), e.g. a per-level
                         or clean model for a noise-conditional one; ignored when resuming.
  --eval-interval=<n>    Steps between dev-loss evaluations [default: 500].
  --save-interval=<s>    Also save a checkpoint every this many seconds of training [default: 300].
  --max-seconds=<s>      Stop (evaluate and save) once a model has trained this many seconds in all,
                         counting earlier runs it resumed from; per level for a chain. Default: no limit.
  --precision=<p>        fp32, bf16 (autocast: bfloat16 products and convolutions), or auto: bf16 on a
                         CPU that multiplies bfloat16 natively (AVX-512 BF16 or AMX), else fp32 (on
                         a GPU too, where bf16 measured slower) [default: auto].
  --compile              Compile the model's training step with torch.compile: the same function,
                         fused kernels; the first step compiles (up to minutes on a CPU). What it buys:
                         docs/performance.md, "Compiled training".
  --device=<dev>         cpu, cuda or cuda:N; default: cuda when available, else cpu.
  --seed=<n>             Random seed of the initial weights, crops and noise [default: 0].
  --threads=<n>          Torch threads of this process; default: OMP_NUM_THREADS when set, else the
                         cores this process may use divided among the job's processes on this machine.
  --no-progress          Hide the progress bar.
  -h, --help             Show this help.

Under torchrun (e.g. `torchrun --nproc_per_node 2 -m wavenet_vocoder.train ...`) each process trains
on its own crops with DistributedDataParallel (NCCL on CUDA, one GPU per process; gloo on the
CPU): a step's batch is --preset's batch_size crops per process, the gradients averaged. Rank 0
alone writes checkpoints, training.json and logs; a run resumes from a checkpoint written with
any number of processes.

Training resumes from checkpoint_latest.pth; Ctrl-C (or SIGTERM) saves a checkpoint first, and a
checkpoint is also saved every --save-interval seconds, so a crash loses at most that.  The loss
is the cross-entropy of the clean next sample given the noisy past (input q + sigma * N(0, 1),
q the clean quantised audio), in nats per sample.  training.json and the checkpoints count
seconds of training (wall time, evaluation excluded) and cpu_seconds (the CPU time of the
process, rank 0 under torchrun, over all its threads: a paused run or one sharing its cores
spends wall time but no CPU time).  The same command and seed train the same
weights (on the same device and thread count).
"""
import copy
import glob
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from .audio import write_atomically
from .cli import describe_device, parse_args, parse_float, parse_int, resolve_device, run
from .deferred import deferred_import
from .dump_record import check_record
from . import distributed
from .distributed import Processes, any_process, barrier
from .errors import CheckpointError, PnfError
from .hparams import load_preset, model_mismatches, preset_mismatches

# torch and the model are read on first use, so that --help and a usage mistake answer at once.
torch = deferred_import("torch")
F = deferred_import("torch.nn.functional")
checkpoints = deferred_import("wavenet_vocoder.checkpoints")
wavenet = deferred_import("wavenet_vocoder.wavenet")


class DumpData:
    """All utterances of one dump folder in memory: quantised waves and, optionally, mel frames."""

    def __init__(self, folder, conditional):
        self.folder = folder
        waves = sorted(glob.glob(os.path.join(folder, "*-wave.npy")))
        if not waves:
            raise PnfError(f"dump folder {folder} holds no *-wave.npy files: run pnf-preprocess first")
        self.waves, self.feats = [], []
        for path in waves:
            self.waves.append(np.load(path).astype(np.int64))
            if conditional:
                feats = path[:-len("-wave.npy")] + "-feats.npy"
                if not os.path.isfile(feats):
                    raise PnfError(f"{feats} is missing: a mel-conditioned preset needs the dump_norm folder")
                self.feats.append(np.load(feats).astype(np.float32))

    def crops(self, batch, length, generator, hop=None, cin_pad=0):
        """A batch of random crops: (q (B, length + 1) int64, c (B, cin, frames + 2 cin_pad) or None).

        For conditional data ``length`` is a multiple of ``hop``, crops start on frame
        boundaries and c holds their frames with cin_pad edge-padded context at each end.
        """
        need = length + 1
        usable = [i for i, w in enumerate(self.waves) if w.size >= need + (hop or 0)]
        if not usable:
            longest = max(w.size for w in self.waves)
            raise PnfError(f"no utterance in {self.folder} is longer than the crop of {length} samples "
                           f"(longest: {longest}): lower max_time_steps with --hparams")
        sizes = np.array([self.waves[i].size for i in usable], dtype=np.float64)
        rng = np.random.default_rng(int(torch.randint(0, 2 ** 31 - 1, (1,), generator=generator)))
        picks = rng.choice(usable, size=batch, p=sizes / sizes.sum())
        qs, cs = [], []
        for i in picks:
            wave = self.waves[i]
            if hop is None:
                start = rng.integers(0, wave.size - need + 1)
                qs.append(wave[start:start + need])
                continue
            frames = length // hop
            first = rng.integers(0, wave.size // hop - frames)   # keeps one sample after the crop
            qs.append(wave[first * hop:first * hop + need])
            padded = np.pad(self.feats[i], [(cin_pad, cin_pad), (0, 0)], mode="edge")
            cs.append(padded[first:first + frames + 2 * cin_pad].T)
        q = torch.from_numpy(np.stack(qs))
        c = torch.from_numpy(np.stack(cs)) if cs else None
        return q, c


def level_loss(model, q, c, sigma, generator=None, noise=None):
    """Mean cross-entropy (nats/sample) of clean q[:, 1:] from the noisy past q + sigma N(0, 1).

    sigma: a number (one level) or a (B,) tensor, one level per crop; a noise-conditional
    model is told each crop's sigma. The N(0, 1) draws come from ``generator`` (on q's device),
    or are ``noise`` itself (q's shape) when given.
    """
    sigma_t = torch.as_tensor(sigma, dtype=torch.float32, device=q.device).reshape(-1, 1)
    if noise is None:
        noise = torch.randn(q.shape, generator=generator, device=q.device)
    noisy = q.to(torch.float32) + sigma_t * noise.to(q.device)
    noise_conditional = checkpoints.unwrapped(model).is_noise_conditional
    kwargs = {"sigma": sigma_t[:, 0].expand(q.size(0)).contiguous()} if noise_conditional else {}
    logits = model(noisy[:, None, :-1], c, **kwargs)
    return F.cross_entropy(logits.float(), q[:, 1:])


def learning_rate(hp, step):
    """The preset's learning rate at ``step`` (step decay by anneal_rate every anneal_interval)."""
    lr = hp.optimizer_params["lr"]
    if hp.lr_schedule == "step_learning_rate_decay":
        kw = hp.lr_schedule_kwargs
        lr *= kw["anneal_rate"] ** (step // kw["anneal_interval"])
    return lr


#: Training precisions (``--precision``): plain float32, or autocast to bfloat16 matrix products.
TRAIN_PRECISIONS = ("fp32", "bf16")


def native_bf16(device):
    """Whether ``device`` multiplies bfloat16 matrices natively (CUDA with bf16 support; a CPU
    with AVX-512 BF16 or AMX): elsewhere bfloat16 is emulated and slower than float32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(flag, device):
    """The training precision of ``--precision``: "auto" is bf16 on a CPU with native bfloat16
    products (benchmarks/train_speed.py: the same loss, 1.5x faster) and fp32 elsewhere, a GPU
    included: there PyTorch's float32 convolutions already run on TF32 tensor cores, and bfloat16
    autocast trained at 0.84x to 0.90x of float32's rate on an H200 (docs/performance.md, "Training throughput")."""
    if flag == "auto":
        return "bf16" if torch.device(device).type == "cpu" and native_bf16(device) else "fp32"
    if flag not in TRAIN_PRECISIONS:
        raise PnfError(f"--precision={flag}: use auto or one of {', '.join(TRAIN_PRECISIONS)}")
    return flag


def seeded_model(hp, seed):
    """The preset's model with initial weights drawn from ``seed`` (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return wavenet.WaveNet.from_hparams(hp)


def initial_state(model, path):
    """The state dict at ``path`` for ``model``: a noise-conditional model may start from an
    unconditional checkpoint (its noise parameters keep their initial values)."""
    state, path = checkpoints.read_state_dict(path)
    expected = model.state_dict()
    optional = {k for k in expected if k.startswith(("noise_embedding.", "noise_head.")) or ".conv1x1n." in k}
    return {**expected, **checkpoints.fit_state_dict(state, expected, f"--init={path}", optional)}


class Trainer:
    """One model in training: weights, EMA copy, Adam, resuming from ``folder`` when it can."""

    def __init__(self, hp, folder, device, seed=0, init_state=None, precision="fp32", processes=Processes(),
                 compile=False):
        if precision not in TRAIN_PRECISIONS:
            raise PnfError(f"--precision={precision}: use one of {', '.join(TRAIN_PRECISIONS)}")
        self.hp, self.folder, self.device, self.precision = hp, folder, torch.device(device), precision
        self.processes = processes
        self.model = seeded_model(hp, seed).to(self.device)
        latest = os.path.join(folder, "checkpoint_latest.pth")
        # Wall seconds of training (evaluation excluded), and this process's CPU seconds over all its
        # threads (a run paused, or sharing its cores, spends wall time but no CPU time), counted from
        # cpu_from_step: checkpoints written before CPU time was kept start counting at their step.
        self.step, self.seconds, self.cpu_seconds, self.cpu_from_step = 0, 0.0, 0.0, 0
        saved = None
        if os.path.isfile(latest):
            saved = torch.load(latest, map_location=self.device, weights_only=True)
            trained_with = checkpoints.saved_preset(saved)
            mismatches = preset_mismatches(trained_with, hp)
            if mismatches:
                raise CheckpointError(f"{latest} was trained with {', '.join(mismatches)}, so training cannot resume "
                                      "from it under this preset: pass the preset it was trained with (the run's "
                                      "config.json), and no --hparams that change these, or another folder")
            try:
                self.model.load_state_dict(saved["state_dict"])
            except RuntimeError:
                differing = model_mismatches(trained_with, hp)
                raise CheckpointError(f"{latest} does not fit the preset, so training cannot resume from it"
                                      + (f" (it was trained with {', '.join(differing)})" if differing else "")
                                      + ": pass the preset it was trained with, or another checkpoint folder") from None
            self.step = int(saved.get("global_step", 0))
            self.seconds = float(saved.get("train_seconds", 0.0))
            self.cpu_seconds = float(saved.get("train_cpu_seconds", 0.0))
            self.cpu_from_step = int(saved.get("train_cpu_from_step", self.step))
        elif init_state is not None:
            self.model.load_state_dict(init_state)
        params = hp.optimizer_params
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=params["lr"], eps=params["eps"],
                                          weight_decay=params["weight_decay"])
        if saved is not None and saved.get("optimizer") is not None:
            self.optimizer.load_state_dict(saved["optimizer"])
        self.ema = copy.deepcopy(self.model).eval()
        ema_path = os.path.join(folder, "checkpoint_latest_ema.pth")
        if saved is not None and os.path.isfile(ema_path):
            self.ema.load_state_dict(torch.load(ema_path, map_location=self.device, weights_only=True)["state_dict"])
        for p in self.ema.parameters():
            p.requires_grad_(False)
        if processes.distributed:          # one process per device: gradients averaged over the processes
            # find_unused_parameters: the last block's residual output feeds nothing (only its skip does).
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True)
        elif self.device.type == "cuda" and not compile:
            self.net = torch.nn.DataParallel(self.model)
        elif self.device.type == "cuda" and self.device.index is None and torch.cuda.device_count() > 1:
            raise PnfError(f"--compile trains on one GPU per process, and this process sees {torch.cuda.device_count()}: "
                           "run one process per GPU with torchrun, or pick one with --device cuda:N")
        else:
            self.net = self.model
        if compile:      # the same function, traced once and compiled (inductor); dev losses stay eager
            self.net = torch.compile(self.net)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def train_step(self, q, c, sigma, generator):
        """One Adam step on a batch at noise level(s) ``sigma``; returns the loss (nats/sample)."""
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.hp, self.step)
        with self._autocast():
            loss = level_loss(self.net, q.to(self.device), None if c is None else c.to(self.device), sigma,
                              generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.hp.clip_thresh > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.hp.clip_thresh)
        self.optimizer.step()
        if self.hp.exponential_moving_average:
            decay = self.hp.ema_decay
            with torch.no_grad():
                for e, p in zip(self.ema.parameters(), self.model.parameters()):
                    e.mul_(decay).add_(p.detach(), alpha=1 - decay)
        else:
            self.ema.load_state_dict(self.model.state_dict())
        self.step += 1
        return float(loss.detach())

    def dev_loss(self, batches, sigma):
        """Mean loss (nats/sample) of the EMA weights at level ``sigma`` over the dev set of
        :func:`dev_batches` (its crops with their own noise: the same every call)."""
        total, crops = 0.0, 0
        with torch.no_grad(), self._autocast():
            for q, c, noise in batches:
                loss = level_loss(self.ema, q.to(self.device), None if c is None else c.to(self.device), sigma,
                                  noise=noise)
                total, crops = total + float(loss) * q.size(0), crops + q.size(0)
        return total / crops

    def save(self, step_file=False):
        """Write checkpoint_latest.pth and checkpoint_latest_ema.pth (and the step files); only the main
        process of a distributed run writes."""
        if not self.processes.main:
            return
        names = [("checkpoint_latest.pth", self.model, self.optimizer),
                 ("checkpoint_latest_ema.pth", self.ema, None)]
        if step_file:
            names += [(f"checkpoint_step{self.step:09d}.pth", self.model, self.optimizer),
                      (f"checkpoint_step{self.step:09d}_ema.pth", self.ema, None)]
        for name, model, optimizer in names:
            checkpoints.save_checkpoint(os.path.join(self.folder, name), model,
                            optimizer if self.hp.save_optimizer_state else None,
                            global_step=self.step, hparams=self.hp, train_seconds=self.seconds,
                            train_cpu=(self.cpu_seconds, self.cpu_from_step))


@dataclass(frozen=True)
class TrainingRun:
    """How a command trains: steps, evaluation and save cadence, seed, device, precision, output."""

    steps: int
    device: str = "cpu"
    seed: int = 0
    eval_interval: int = 500
    save_interval: float = 300.0
    precision: str = "fp32"
    progress: bool = True
    max_seconds: float = None      # stop once the model has trained this long in all (seconds)
    processes: Processes = Processes()
    compile: bool = False          # torch.compile the training step
    stop: object = None            # a StopRequest that SIGTERM/SIGINT set (checked after every step)


class StopRequest:
    """Set by a signal handler; training checks it after each step (all processes at once), saves and stops."""

    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame):
        self.requested = True


#: Crops, noise and sigma draws of rank r are seeded this far apart from rank 0's (no two ranks alike).
RANK_SEED_STRIDE = 1_000_003


def describe_run(run):
    """Where training runs, e.g. ``cpu: 1 threads`` or ``2 processes (DistributedDataParallel), each cpu: 1 threads``."""
    where = describe_device(run.device) + (" (torch.compile)" if run.compile else "")
    if run.processes.distributed:
        return f"{run.processes.world} processes (DistributedDataParallel), rank 0 on {where}"
    return where


def crop_length(hp):
    """Training crop length in samples (a multiple of the hop for a mel-conditioned preset), and the hop."""
    if hp.cin_channels > 0:
        return hp.max_time_steps // hp.hop_size * hp.hop_size, hp.hop_size
    return hp.max_time_steps, None


def finished(trainer, run):
    """Whether ``trainer`` has trained ``run.steps`` steps or ``run.max_seconds`` seconds."""
    return trainer.step >= run.steps or (run.max_seconds is not None and trainer.seconds >= run.max_seconds)


def step_generators(trainer, base):
    """The generators of a run's training steps, seeded from ``base``: crops (CPU), the input noise
    (on the trainer's device: a CUDA draw needs a CUDA generator) and the crops' sigmas (CPU)."""
    return (torch.Generator().manual_seed(base), torch.Generator(device=trainer.device).manual_seed(base + 1),
            torch.Generator().manual_seed(base + 2))


def _fit(trainer, train, run, draw_sigma, evaluate, desc, log):
    """Train ``trainer`` up to ``run.steps`` steps, or until it has trained ``run.max_seconds``
    seconds in all; returns (running train loss, last evaluation).

    ``draw_sigma(batch, generator)`` gives the noise level(s) of a batch; ``evaluate()``
    returns the dev loss (a number, or sigma -> number).  Saves every ``run.save_interval``
    seconds and at the end; Ctrl-C or SIGTERM saves, then re-raises KeyboardInterrupt.
    """
    hp, processes = trainer.hp, run.processes
    length, hop = crop_length(hp)
    gen, noise_gen, sigma_gen = step_generators(trainer, run.seed + trainer.step + RANK_SEED_STRIDE * processes.rank)
    bar = tqdm(total=run.steps, initial=trainer.step, desc=desc, disable=not run.progress or not processes.main,
               dynamic_ncols=True)
    running, evaluation, evaluated_at = None, None, None
    clock, cpu_clock = time.perf_counter(), time.process_time()
    last_save = clock

    def tick():
        nonlocal clock, cpu_clock
        now, cpu_now = time.perf_counter(), time.process_time()
        trainer.seconds += now - clock
        trainer.cpu_seconds += cpu_now - cpu_clock
        clock, cpu_clock = now, cpu_now
        return now

    def out_of_time():
        return run.max_seconds is not None and trainer.seconds >= run.max_seconds

    loss = 0.0
    try:
        while True:
            # Decided by all processes together (one all-reduce): stop asked, budget reached, a loss not finite.
            interrupted, done, diverged = any_process(
                processes, [run.stop is not None and run.stop.requested, finished(trainer, run),
                            not math.isfinite(loss)], trainer.device)
            if diverged:
                raise PnfError(f"training diverged at step {trainer.step} ({desc}): lower the learning "
                               "rate (--hparams \"optimizer_params={...}\") or set clip_thresh")
            if interrupted:
                raise KeyboardInterrupt
            if done:
                break
            q, c = train.crops(hp.batch_size, length, gen, hop, hp.cin_pad)
            loss = trainer.train_step(q, c, draw_sigma(hp.batch_size, sigma_gen), noise_gen)
            if not math.isfinite(loss):
                continue                                 # raised above, by every process at once
            running = loss if running is None else 0.98 * running + 0.02 * loss
            now = tick()
            if processes.main and (trainer.step % run.eval_interval == 0 or trainer.step == run.steps
                                   or out_of_time()):
                evaluation, evaluated_at = evaluate(), trainer.step
                clock, cpu_clock = time.perf_counter(), time.process_time()   # evaluation is not training time
            if trainer.step % hp.checkpoint_interval == 0:
                trainer.save(step_file=True)
            if now - last_save >= run.save_interval:
                trainer.save()
                last_save = time.perf_counter()
            bar.update(1)
            shown = evaluation if not isinstance(evaluation, dict) else sum(evaluation.values()) / len(evaluation)
            bar.set_postfix_str(f"train {running:.3f} dev {float('nan') if shown is None else shown:.3f} nats",
                                refresh=False)
    except KeyboardInterrupt:
        bar.close()
        tick()
        trainer.save()
        log(f"interrupted at step {trainer.step}: checkpoint saved in {trainer.folder}; "
            "run the same command to resume")
        raise
    bar.close()
    tick()
    if processes.main and evaluated_at != trainer.step:    # another process ran out of time first
        evaluation = evaluate()
    trainer.save()
    return running, evaluation


#: The dev set every curve is measured on: DEV_CROPS crops of the preset's crop size and their
#: N(0, 1) noise, drawn on the CPU from DEV_SEED whatever the run's --seed, batch size and
#: device, so that the dev losses of any two runs on the same dump and preset compare.
DEV_CROPS = 32
DEV_SEED = 12345
#: How training.json names that dev set (beside each dev loss measured on it; earlier runs drew
#: theirs from --seed, batch size and device, and their points carry no name).
DEV_SET = f"{DEV_CROPS} crops from seed {DEV_SEED}"


def dev_batches(hp, dev, batch=None, length=None):
    """The dev set (see DEV_CROPS) as (q, c, noise) batches of ``batch`` crops (default: the preset's),
    each crop ``length`` samples long (default: the preset's training crop, :func:`crop_length`)."""
    preset_length, hop = crop_length(hp)
    length = length or preset_length
    gen = torch.Generator().manual_seed(DEV_SEED)
    q, c = dev.crops(DEV_CROPS, length, gen, hop, hp.cin_pad)
    noise = torch.randn(q.shape, generator=gen)
    size = batch or hp.batch_size
    return [(q[i:i + size], None if c is None else c[i:i + size], noise[i:i + size])
            for i in range(0, DEV_CROPS, size)]


def train_level(hp, train, dev, sigma, folder, run, init_state=None, log=print):
    """Train level ``sigma`` up to ``run.steps`` steps in ``folder``; returns the EMA state dict and a summary."""
    trainer = Trainer(hp, folder, run.device, run.seed, init_state, run.precision, run.processes, run.compile)
    batches = dev_batches(hp, dev)
    summary = {"sigma": sigma, "start_step": trainer.step, "steps": run.steps, "precision": run.precision,
               "dev_set": DEV_SET}
    if finished(trainer, run):             # the same in every process: they resumed the same checkpoint
        if run.processes.main:
            log(f"sigma={sigma:g}: already trained for {trainer.step} steps ({trainer.seconds:.0f} s) in {folder}")
            summary.update(dev_loss=trainer.dev_loss(batches, sigma), seconds=0.0, cpu_seconds=0.0)
        return trainer.ema.state_dict(), summary
    seconds_before, cpu_before = trainer.seconds, trainer.cpu_seconds
    running, dev_value = _fit(trainer, train, run, lambda batch, gen: sigma,
                              lambda: trainer.dev_loss(batches, sigma), f"train sigma={sigma:g}", log)
    if not run.processes.main:
        return trainer.ema.state_dict(), summary
    summary.update(train_loss=running, dev_loss=dev_value, seconds=trainer.seconds - seconds_before,
                   cpu_seconds=trainer.cpu_seconds - cpu_before)
    log(f"sigma={sigma:g}: {trainer.step} steps, train {running:.3f} dev {dev_value:.3f} nats/sample, "
        f"{summary['seconds']:.0f} s")
    return trainer.ema.state_dict(), summary


def _load_dumps(hp, dump_dir):
    """(train, dev) :class:`DumpData` of the dump folder ``dump_dir``; a :class:`PnfError` naming it when it is
    not a folder (a user's usual slip: the audio folder or the preprocess output root given instead), or
    when its ``dump.json`` says it was made with a preset that ``hp`` reads differently."""
    if not os.path.isdir(dump_dir):
        raise PnfError(f"dump folder {dump_dir} does not exist or is not a folder: give the dump/ (or, for a "
                       "mel-conditioned preset, dump_norm/) folder that pnf-preprocess wrote")
    check_record(dump_dir, hp)
    conditional = hp.cin_channels > 0
    return (DumpData(os.path.join(dump_dir, "train"), conditional),
            DumpData(os.path.join(dump_dir, "dev"), conditional))


def _start(hp, dump_dir, root, run):
    """Load the dumps (train, dev); the main process makes ``root`` and writes the resolved preset there
    (``config.json``), and every process waits for it."""
    train, dev = _load_dumps(hp, dump_dir)
    _check_run_preset(hp, root)
    if run.processes.main:
        os.makedirs(root, exist_ok=True)
        _write_json(os.path.join(root, "config.json"), hp.to_dict())
    barrier(run.processes)
    return train, dev


def _check_run_preset(hp, root):
    """Refuse to go on with the run in ``root`` under a preset whose model or meaning differs from its
    own (``config.json``), before that file is written again: the run's preset stays as it was."""
    path = os.path.join(root, "config.json")
    if not os.path.isfile(path):
        return
    try:
        with open(path, encoding="utf-8") as f:
            own = json.load(f)
    except (OSError, ValueError):
        return                              # unreadable: the checkpoints are checked when they load
    differing = preset_mismatches(own, hp) + model_mismatches(own, hp)
    if differing:
        raise CheckpointError(f"{root} holds a run trained with {', '.join(differing)}: resume it with its own "
                              f"preset (--preset={path}), or train into another folder")


def _write_json(path, value):
    text = json.dumps(value, indent=2) + "\n"
    write_atomically(path, lambda f: f.write(text), mode="w")


def train_schedule(hp, dump_dir, root, sigmas, steps, first_steps, run, init=None, log=print):
    """Train each level of ``sigmas`` in order, each initialised from the previous level's EMA weights.

    ``init``: a checkpoint to start the first level from (when it has no checkpoint yet).
    ``run.steps`` is ignored: ``first_steps`` for the first level, ``steps`` for the others.
    """
    train, dev = _start(hp, dump_dir, root, run)
    main = run.processes.main
    log(f"training on {describe_run(run)}, {run.precision}: {len(train.waves)} train and "
        f"{len(dev.waves)} dev utterances")
    history = _previous_summaries(os.path.join(root, "training.json"))
    state = initial_state(seeded_model(hp, run.seed), init) if init else None
    summaries = []
    for i, sigma in enumerate(sigmas):
        folder = os.path.join(root, checkpoints.checkpoint_dir_name(sigma))
        n = first_steps if i == 0 else steps
        level_run = replace(run, steps=n, seed=run.seed + i)
        state, summary = train_level(hp, train, dev, sigma, folder, level_run, init_state=state, log=log)
        if "train_loss" not in summary and summary["sigma"] in history:
            summary = history[summary["sigma"]]          # trained by an earlier run: keep its record
        summaries.append(summary)
        if not main:
            continue
        # Written after every level, so that an interrupted schedule keeps the record of what it did.
        levels = summaries + [s for sigma_, s in history.items() if sigma_ not in {x["sigma"] for x in summaries}]
        _write_json(os.path.join(root, "training.json"), {"levels": levels})
    return summaries


def sigma_sampler(sigmas, how, top_fraction=0.0):
    """``draw(batch, generator)`` -> (batch,) noise levels (quantised units) for noise-conditional training.

    "loguniform": log sigma uniform between the smallest and largest of ``sigmas``;
    "levels": each crop one of ``sigmas``, uniformly.  With ``top_fraction`` > 0 each crop is
    instead, with that probability, at the largest of ``sigmas``.
    """
    sigmas = torch.tensor(sorted(float(s) for s in sigmas))
    if not 0.0 <= top_fraction < 1.0:
        raise PnfError(f"--top-fraction={top_fraction:g}: use a fraction of the crops, 0 <= f < 1")
    if how == "loguniform":
        low, high = math.log(float(sigmas[0])), math.log(float(sigmas[-1]))
        draw = lambda batch, gen: torch.exp(low + (high - low) * torch.rand(batch, generator=gen))  # noqa: E731
    elif how == "levels":
        draw = lambda batch, gen: sigmas[torch.randint(0, len(sigmas), (batch,), generator=gen)]  # noqa: E731
    else:
        raise PnfError(f"--sigma-sampling={how}: use loguniform or levels")
    if top_fraction == 0.0:
        return draw

    def draw_with_top(batch, gen):
        top = torch.rand(batch, generator=gen) < top_fraction
        return torch.where(top, sigmas[-1], draw(batch, gen))
    return draw_with_top


def train_noise_conditional(hp, dump_dir, root, run, sampling="loguniform", init=None, log=print, top_fraction=0.0):
    """Train one noise-conditional model for every level of ``hp.sigmas`` into ``root``.

    Each crop draws its own sigma (see :func:`sigma_sampler`).  The dev loss is evaluated
    at every level of the schedule; ``training.json`` holds it per level, the curve (dev
    loss per level against step and seconds) and the run's settings.  Returns that record.
    """
    if not hp.noise_conditional:
        hp = hp.replace(noise_conditional=True)
    draw_sigma = sigma_sampler(hp.sigmas, sampling, top_fraction)  # a bad --sigma-sampling fails before any output
    train, dev = _start(hp, dump_dir, root, run)
    main = run.processes.main
    log(f"training one noise-conditional model on {describe_run(run)}, {run.precision}: {len(train.waves)} train and "
        f"{len(dev.waves)} dev utterances, sigma {min(hp.sigmas):g}..{max(hp.sigmas):g} ({sampling}"
        + (f", {top_fraction:g} of the crops at {max(hp.sigmas):g})" if top_fraction else ")"))
    init_state = initial_state(seeded_model(hp, run.seed), init) if init else None
    trainer = Trainer(hp, root, run.device, run.seed, init_state, run.precision, run.processes, run.compile)
    batches = dev_batches(hp, dev)
    record_path = os.path.join(root, "training.json")
    record = _previous_record(record_path)
    curve = [point for point in record.get("curve", []) if point["step"] <= trainer.step]
    other = [point["step"] for point in curve if point.get("dev_set") != DEV_SET]
    if other and main:
        log(f"note: the curve's points up to step {max(other)} were measured on another dev set than "
            f"this run's ({DEV_SET}): compare its later points with each other")

    def evaluate():
        losses = {float(s): trainer.dev_loss(batches, float(s)) for s in hp.sigmas}
        curve.append({"step": trainer.step, "seconds": round(trainer.seconds, 1),
                      "cpu_seconds": round(trainer.cpu_seconds, 1),
                      "dev_loss": [losses[float(s)] for s in hp.sigmas], "dev_set": DEV_SET})
        _write_json(record_path, _noise_record(hp, sampling, top_fraction, trainer, None, losses, curve, run))
        return losses

    if finished(trainer, run):
        if not main:
            return None
        log(f"already trained for {trainer.step} steps ({trainer.seconds:.0f} s) in {root}")
        losses = evaluate()
        running = record.get("train_loss")
    else:
        running, losses = _fit(trainer, train, run, draw_sigma, evaluate, "train noise-conditional", log)
        if not main:
            return None
    result = _noise_record(hp, sampling, top_fraction, trainer, running, losses, curve, run)
    _write_json(record_path, result)
    log(f"{trainer.step} steps, {trainer.seconds:.0f} s; dev loss per level: " +
        ", ".join(f"{s:g}: {losses[float(s)]:.3f}" for s in hp.sigmas))
    return result


def _noise_record(hp, sampling, top_fraction, trainer, running, losses, curve, run):
    return {"noise_conditional": True, "sigma_sampling": sampling, "top_fraction": top_fraction, "steps": trainer.step,
            "seconds": round(trainer.seconds, 1), "cpu_seconds": round(trainer.cpu_seconds, 1),
            "cpu_seconds_from_step": trainer.cpu_from_step, "train_loss": running, "precision": run.precision,
            "levels": [{"sigma": float(s), "dev_loss": losses[float(s)]} for s in hp.sigmas], "dev_set": DEV_SET,
            "curve": curve}


def _previous_record(path):
    try:
        with open(path) as f:
            record = json.load(f)
        return record if isinstance(record, dict) else {}
    except (OSError, ValueError):
        return {}


def _previous_summaries(path):
    """sigma -> level summary of an earlier run's training.json (empty if there is none)."""
    try:
        with open(path) as f:
            return {float(level["sigma"]): level for level in json.load(f)["levels"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def continue_from(source, root, hp, init, processes, log):
    """--continue-from: lay out ``root`` to resume from the trained prior ``source`` (see
    :func:`~wavenet_vocoder.checkpoints.continue_training_from`), unless it holds a run of its own."""
    if init:
        raise PnfError("--continue-from and --init both say where training starts: give one of them")
    if not processes.main:
        return                          # the main process lays it out; _start's barrier waits for it
    if any(os.path.isfile(os.path.join(folder, "checkpoint_latest.pth")) for folder in checkpoints.model_folders(root)):
        log(f"--continue-from={source} ignored: {root} holds a run of its own, which resumes")
        return
    folders = checkpoints.continue_training_from(source, root, hp)
    log(f"continuing the prior in {source} in {root} ({len(folders)} model folder{'s' * (len(folders) > 1)})")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    args = parse_args(__doc__, argv)
    # --noise-conditional is one more override, checked with the others: --hparams may then set keys
    # that need it (noise_head), and the flag wins over a noise_conditional=false among them.
    overrides = ",".join(o for o in (args["--hparams"], "noise_conditional=true" if args["--noise-conditional"] else "")
                         if o)
    hp = load_preset(args["--preset"], overrides)
    noise_conditional = hp.noise_conditional
    if noise_conditional and args["--sigma"]:
        raise PnfError("--sigma trains one level of a per-level prior; a noise-conditional model trains every "
                       "level of the preset's sigmas (drop --sigma, or set sigmas with --hparams)")
    steps = parse_int(args["--steps"], "--steps", 1)
    processes = distributed.from_environment()
    threads, source = distributed.choose_threads(args["--threads"], processes)
    torch.set_num_threads(threads)
    device = distributed.start(processes, resolve_device(args["--device"]))
    stop_request = StopRequest()
    run_settings = TrainingRun(
        steps=steps, device=device, seed=parse_int(args["--seed"], "--seed", 0),
        eval_interval=parse_int(args["--eval-interval"], "--eval-interval", 1),
        save_interval=parse_float(args["--save-interval"], "--save-interval"),
        precision=resolve_precision(args["--precision"], device), progress=not args["--no-progress"],
        max_seconds=parse_float(args["--max-seconds"], "--max-seconds") if args["--max-seconds"] else None,
        processes=processes, compile=args["--compile"], stop=stop_request)
    log = (lambda line: print(line, file=sys.stderr)) if processes.main else (lambda line: None)  # noqa: E731
    log(f"{threads} torch threads per process ({source})")
    # A job scheduler's SIGTERM (or kill) saves a checkpoint as Ctrl-C does: a single process stops at
    # once; the processes of a distributed run finish their step together first.
    signal.signal(signal.SIGTERM, stop_request if processes.distributed else _interrupt)
    if processes.distributed:
        signal.signal(signal.SIGINT, stop_request)
    try:
        if args["--continue-from"]:
            continue_from(args["--continue-from"], args["<checkpoint-root>"], hp, args["--init"], processes, log)
        if noise_conditional:
            train_noise_conditional(hp, args["<dump-dir>"], args["<checkpoint-root>"], run_settings,
                                    args["--sigma-sampling"], args["--init"], log=log,
                                    top_fraction=parse_float(args["--top-fraction"], "--top-fraction", positive=False))
            return 0
        sigmas = [parse_float(args["--sigma"], "--sigma")] if args["--sigma"] else list(hp.sigmas)
        first_steps = parse_int(args["--first-steps"], "--first-steps", 1) if args["--first-steps"] else steps
        train_schedule(hp, args["<dump-dir>"], args["<checkpoint-root>"], sigmas, steps, first_steps, run_settings,
                       init=args["--init"], log=log)
        return 0
    finally:
        distributed.stop(processes)


def cli():
    """Console entry point ``pnf-train``."""
    run(main)


if __name__ == "__main__":
    cli()
