"""Train the WaveNet prior for one noise level, or for a whole schedule as a fine-tuning chain.

Usage:
  pnf-train <dump-dir> <checkpoint-root> --preset=<json> [options]

<dump-dir> holds train/ and dev/ folders of <name>-<i>-wave.npy files (and, for a
mel-conditioned preset, the normalised -feats.npy beside them: pass the dump_norm folder).
Each level sigma is written to <checkpoint-root>/checkpoints<sigma>/ in the published layout.

Options:
  --preset=<json>        Preset file (model, quantiser, optimiser, crop length, EMA decay).
  --hparams=<params>     Preset overrides "name=value,..." [default: ].
  --sigma=<s>            Train only this level (quantised units); default: every level of the
                         preset's sigmas, high to low, each initialised from the previous one.
  --steps=<n>            Training steps per level [default: 2000].
  --first-steps=<n>      Steps of the first level of a chain (from scratch); default: --steps.
  --eval-interval=<n>    Steps between dev-loss evaluations [default: 500].
  --device=<dev>         cpu, cuda or cuda:N; default: cuda when available, else cpu.
  --seed=<n>             Random seed [default: 0].
  --no-progress          Hide the progress bar.
  -h, --help             Show this help.

Training resumes from checkpoint_latest.pth of a level folder; Ctrl-C (or SIGTERM) saves a checkpoint
first. The loss is the cross-entropy of the clean next sample given the noisy past
(input q + sigma * N(0, 1), q the clean quantised audio), in nats per sample.
"""
import copy
import glob
import json
import math
import os
import signal
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .audio import write_atomically
from .checkpoints import checkpoint_dir_name, save_checkpoint
from .cli import describe_device, parse_args, parse_float, parse_int, resolve_device, run
from .errors import PnfError
from .hparams import load_preset
from .wavenet import WaveNet


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


def level_loss(model, q, c, sigma, generator):
    """Mean cross-entropy (nats/sample) of clean q[:, 1:] from the noisy past q + sigma N(0, 1)."""
    noisy = q.to(torch.float32) + sigma * torch.randn(q.shape, generator=generator, device=q.device)
    logits = model(noisy[:, None, :-1], c)
    return F.cross_entropy(logits, q[:, 1:])


def learning_rate(hp, step):
    """The preset's learning rate at ``step`` (step decay by anneal_rate every anneal_interval)."""
    lr = hp.optimizer_params["lr"]
    if hp.lr_schedule == "step_learning_rate_decay":
        kw = hp.lr_schedule_kwargs
        lr *= kw["anneal_rate"] ** (step // kw["anneal_interval"])
    return lr


class LevelTrainer:
    """Trains one level: model, EMA copy, Adam, resuming from the level folder when it can."""

    def __init__(self, hp, folder, device, init_state=None):
        self.hp, self.folder, self.device = hp, folder, torch.device(device)
        self.model = WaveNet.from_hparams(hp).to(self.device)
        latest = os.path.join(folder, "checkpoint_latest.pth")
        self.step = 0
        if os.path.isfile(latest):
            saved = torch.load(latest, map_location=self.device, weights_only=True)
            self.model.load_state_dict(saved["state_dict"])
            self.step = int(saved.get("global_step", 0))
        elif init_state is not None:
            self.model.load_state_dict(init_state)
        params = hp.optimizer_params
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=params["lr"], eps=params["eps"],
                                          weight_decay=params["weight_decay"])
        if os.path.isfile(latest) and saved.get("optimizer") is not None:
            self.optimizer.load_state_dict(saved["optimizer"])
        self.ema = copy.deepcopy(self.model).eval()
        ema_path = os.path.join(folder, "checkpoint_latest_ema.pth")
        if os.path.isfile(latest) and os.path.isfile(ema_path):
            self.ema.load_state_dict(torch.load(ema_path, map_location=self.device, weights_only=True)["state_dict"])
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.net = torch.nn.DataParallel(self.model) if self.device.type == "cuda" else self.model

    def train_step(self, q, c, sigma, generator):
        """One Adam step on a batch; returns the loss (nats/sample)."""
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.hp, self.step)
        loss = level_loss(self.net, q.to(self.device), None if c is None else c.to(self.device), sigma, generator)
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

    @torch.no_grad()
    def dev_loss(self, batches, sigma, seed):
        """Mean loss of the EMA weights over fixed dev batches (same noise every call)."""
        gen = torch.Generator(device=self.device).manual_seed(seed)
        losses = [float(level_loss(self.ema, q.to(self.device), None if c is None else c.to(self.device), sigma, gen))
                  for q, c in batches]
        return sum(losses) / len(losses)

    def save(self, step_file=False):
        """Write checkpoint_latest.pth and checkpoint_latest_ema.pth (and the step files)."""
        names = [("checkpoint_latest.pth", self.model, self.optimizer),
                 ("checkpoint_latest_ema.pth", self.ema, None)]
        if step_file:
            names += [(f"checkpoint_step{self.step:09d}.pth", self.model, self.optimizer),
                      (f"checkpoint_step{self.step:09d}_ema.pth", self.ema, None)]
        for name, model, optimizer in names:
            save_checkpoint(os.path.join(self.folder, name), model,
                            optimizer if self.hp.save_optimizer_state else None,
                            global_step=self.step, hparams=self.hp)


def train_level(hp, train, dev, sigma, folder, steps, device, seed, eval_interval, init_state=None,
                progress=True, log=print):
    """Train level ``sigma`` up to ``steps`` steps in ``folder``; returns the EMA state dict and a summary."""
    trainer = LevelTrainer(hp, folder, device, init_state)
    conditional = hp.cin_channels > 0
    hop = hp.hop_size if conditional else None
    length = hp.max_time_steps // hop * hop if conditional else hp.max_time_steps
    gen = torch.Generator().manual_seed(seed + trainer.step)
    noise_gen = torch.Generator(device=trainer.device).manual_seed(seed + trainer.step + 1)
    dev_gen = torch.Generator().manual_seed(seed + 12345)
    dev_batches = [dev.crops(hp.batch_size, length, dev_gen, hop, hp.cin_pad) for _ in range(4)]
    summary = {"sigma": sigma, "start_step": trainer.step, "steps": steps}
    if trainer.step >= steps:
        log(f"sigma={sigma:g}: already trained for {trainer.step} steps in {folder}")
        summary.update(dev_loss=trainer.dev_loss(dev_batches, sigma, seed), seconds=0.0)
        return trainer.ema.state_dict(), summary
    started = time.perf_counter()
    bar = tqdm(total=steps, initial=trainer.step, desc=f"train sigma={sigma:g}", disable=not progress,
               dynamic_ncols=True)
    running, dev_value = None, float("nan")
    try:
        while trainer.step < steps:
            q, c = train.crops(hp.batch_size, length, gen, hop, hp.cin_pad)
            loss = trainer.train_step(q, c, sigma, noise_gen)
            if not math.isfinite(loss):
                raise PnfError(f"training diverged at sigma={sigma:g}, step {trainer.step}: lower the learning "
                               "rate (--hparams \"optimizer_params={...}\") or set clip_thresh")
            running = loss if running is None else 0.98 * running + 0.02 * loss
            if trainer.step % eval_interval == 0 or trainer.step == steps:
                dev_value = trainer.dev_loss(dev_batches, sigma, seed)
            if trainer.step % hp.checkpoint_interval == 0:
                trainer.save(step_file=True)
            bar.update(1)
            bar.set_postfix_str(f"train {running:.3f} dev {dev_value:.3f} nats", refresh=False)
    except KeyboardInterrupt:
        bar.close()
        trainer.save()
        log(f"interrupted at step {trainer.step}: checkpoint saved in {folder}; run the same command to resume")
        raise
    bar.close()
    trainer.save()
    summary.update(train_loss=running, dev_loss=dev_value, seconds=time.perf_counter() - started)
    log(f"sigma={sigma:g}: {steps} steps, train {running:.3f} dev {dev_value:.3f} nats/sample, "
        f"{summary['seconds']:.0f} s")
    return trainer.ema.state_dict(), summary


def train_schedule(hp, dump_dir, root, sigmas, steps, first_steps, device, seed, eval_interval,
                   progress=True, log=print):
    """Train each level of ``sigmas`` in order, each initialised from the previous level's EMA weights."""
    conditional = hp.cin_channels > 0
    train = DumpData(os.path.join(dump_dir, "train"), conditional)
    dev = DumpData(os.path.join(dump_dir, "dev"), conditional)
    os.makedirs(root, exist_ok=True)
    preset_text = json.dumps(hp.to_dict(), indent=2) + "\n"
    write_atomically(os.path.join(root, "config.json"), lambda f: f.write(preset_text), mode="w")
    log(f"training on {describe_device(device)}: {len(train.waves)} train and {len(dev.waves)} dev utterances")
    history = _previous_summaries(os.path.join(root, "training.json"))
    state, summaries = None, []
    for i, sigma in enumerate(sigmas):
        folder = os.path.join(root, checkpoint_dir_name(sigma))
        n = first_steps if (i == 0 and state is None) else steps
        state, summary = train_level(hp, train, dev, sigma, folder, n, device, seed + i, eval_interval,
                                     init_state=state, progress=progress, log=log)
        if "train_loss" not in summary and summary["sigma"] in history:
            summary = history[summary["sigma"]]          # trained by an earlier run: keep its record
        summaries.append(summary)
        # Written after every level, so that an interrupted schedule keeps the record of what it did.
        levels = summaries + [s for sigma_, s in history.items() if sigma_ not in {x["sigma"] for x in summaries}]
        summary_text = json.dumps({"levels": levels}, indent=2) + "\n"
        write_atomically(os.path.join(root, "training.json"), lambda f: f.write(summary_text), mode="w")
    return summaries


def _previous_summaries(path):
    """sigma -> level summary of an earlier run's training.json (empty if there is none)."""
    try:
        with open(path) as f:
            return {float(level["sigma"]): level for level in json.load(f)["levels"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    args = parse_args(__doc__, argv)
    hp = load_preset(args["--preset"], args["--hparams"])
    sigmas = [parse_float(args["--sigma"], "--sigma")] if args["--sigma"] else list(hp.sigmas)
    steps = parse_int(args["--steps"], "--steps", 1)
    first_steps = parse_int(args["--first-steps"], "--first-steps", 1) if args["--first-steps"] else steps
    device = resolve_device(args["--device"])
    # A job scheduler's SIGTERM (or kill) saves a checkpoint as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    train_schedule(hp, args["<dump-dir>"], args["<checkpoint-root>"], sigmas, steps, first_steps, device,
                   parse_int(args["--seed"], "--seed", 0), parse_int(args["--eval-interval"], "--eval-interval", 1),
                   progress=not args["--no-progress"], log=lambda line: print(line, file=sys.stderr))
    return 0


def cli():
    """Console entry point ``pnf-train``."""
    run(main)


if __name__ == "__main__":
    cli()
