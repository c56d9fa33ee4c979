"""Several processes, as torchrun runs them (gloo on the CPU): training with DistributedDataParallel,
and task commands over many inputs shared out among the processes."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.multiprocessing as mp

from conftest import FAST, REPO, make_root, run_cli, tiny_hparams, tone, training_hparams
from wavenet_vocoder import distributed
from wavenet_vocoder.hparams import HParams
from wavenet_vocoder.pnf import sgld_superres
from wavenet_vocoder.pnf.many import my_share
from wavenet_vocoder.train import Trainer

BATCH, LENGTH, STEPS = 2, 120, 3


def ddp_hparams():
    # eps 1.0 makes Adam's step nearly linear in the gradient: a gradient near zero whose float32 sum
    # differs in the last bit between one process and two then moves its weight by as little, where
    # eps 1e-8 would turn that bit into a full step of lr in either direction.
    hp = training_hparams()
    return hp.replace(optimizer_params={**hp.optimizer_params, "eps": 1.0})


def _worker(rank, world, store, hp_values, folder, batches, result):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    processes = distributed.from_environment()
    # The processes meet through a file, not a TCP port: a port found free here could be taken by
    # another program before gloo binds it. start() then finds the group joined and keeps it.
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    distributed.start(processes, "cpu")
    trainer = Trainer(HParams(hp_values), folder, "cpu", seed=0, processes=processes)
    for q in torch.load(batches):
        trainer.train_step(q[rank * BATCH:(rank + 1) * BATCH], None, 0.0, torch.Generator())
    if processes.main:
        torch.save(trainer.model.state_dict(), result)
    distributed.stop(processes)


def test_a_distributed_step_is_a_step_on_the_combined_batch(tmp_path):
    hp = ddp_hparams()
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, 256, (2 * BATCH, LENGTH), generator=gen) for _ in range(STEPS)]
    torch.save(batches, tmp_path / "batches.pt")
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), hp.to_dict(), str(tmp_path / "ddp"), str(tmp_path / "batches.pt"),
                            str(tmp_path / "ddp.pt")), nprocs=2)
    single = Trainer(hp, str(tmp_path / "single"), "cpu", seed=0)
    torch.set_num_threads(1)
    for q in batches:            # sigma 0: the noise draw does not enter the loss
        single.train_step(q, None, 0.0, torch.Generator())
    ddp = torch.load(tmp_path / "ddp.pt")
    for key, value in single.model.state_dict().items():
        # float32: the two halves' gradients are averaged in another order than one batch's
        torch.testing.assert_close(ddp[key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_threads_follow_the_flag_then_omp_then_the_cores(monkeypatch):
    one = distributed.Processes()
    assert distributed.choose_threads("3", one) == (3, "--threads")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert distributed.choose_threads(None, one)[0] == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert distributed.choose_threads(None, distributed.Processes(rank=1, world=4, local_rank=1, local_world=4))[0] == 2
    assert distributed.choose_threads(None, distributed.Processes(rank=0, world=16, local_rank=0, local_world=16))[0] == 1
    with pytest.raises(Exception, match="--threads=0"):
        distributed.choose_threads("0", one)


def torchrun(nproc, argv):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "wavenet_vocoder.train"] + argv
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=300)


def test_torchrun_trains_and_resumes_with_another_number_of_processes(tmp_path, dump):
    preset = tmp_path / "preset.json"
    preset.write_text(json.dumps(training_hparams().replace(sigmas=[8.0, 2.0]).to_dict()))
    root = tmp_path / "nc"
    argv = [str(dump / "dump"), str(root), f"--preset={preset}", "--noise-conditional", "--eval-interval=2",
            "--no-progress"]
    done = torchrun(2, argv + ["--steps=4"])
    assert done.returncode == 0, done.stderr
    record = json.loads((root / "training.json").read_text())
    assert record["steps"] == 4 and [p["step"] for p in record["curve"]] == [2, 4]
    assert done.stderr.count("training one noise-conditional model on 2 processes") == 1    # rank 0 logs alone
    # Resumed by a single process (and then by two again): the step count goes on.
    from wavenet_vocoder.train import main as train_main
    assert train_main(argv + ["--steps=6", "--threads=1"]) == 0
    again = torchrun(2, argv + ["--steps=8"])
    assert again.returncode == 0, again.stderr
    record = json.loads((root / "training.json").read_text())
    assert record["steps"] == 8 and [p["step"] for p in record["curve"]] == [2, 4, 6, 8]
    # Continued into a new folder by two processes: rank 0 lays it out before any process reads it.
    more = tmp_path / "more"
    continued = torchrun(2, [str(dump / "dump"), str(more)] + argv[2:] + ["--steps=10", f"--continue-from={root}"])
    assert continued.returncode == 0, continued.stderr
    assert continued.stderr.count(f"continuing the prior in {root} in {more}") == 1
    record = json.loads((more / "training.json").read_text())
    assert record["steps"] == 10 and [p["step"] for p in record["curve"]] == [2, 4, 6, 8, 10]


def many_inputs(folder, n=3):
    folder.mkdir()
    return [tone(folder / f"take{k}.wav", 300 + 150 * k, seconds=0.15) for k in range(n)]


def test_a_folder_of_inputs_one_output_folder_each_a_summary_and_skip_on_rerun(tmp_path, capsys):
    root, preset = make_root(tmp_path / "prior", tiny_hparams())
    many_inputs(tmp_path / "in")
    sf.write(tmp_path / "in" / "silent.wav", np.zeros(2000), 22050)      # fails: a silent file
    out = tmp_path / "out"
    argv = [root, str(tmp_path / "in"), str(out), f"--preset={preset}"] + FAST
    code, err = run_cli(sgld_superres.main, argv, capsys)
    assert code == 2 and err[-1].startswith("error: 1 of the 4 inputs of this process failed")
    assert any("silent.wav" in line and "is silent" in line for line in err)
    summary = json.loads((out / "summary.json").read_text())
    assert [r["status"] for r in summary] == ["failed", "done", "done", "done"]     # sorted: silent, take0..2
    assert "silent" in summary[0]["error"] and summary[1]["metrics"]["pnf"]["snr"] is not None
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert len(rows) == 4 and "pnf_snr" in rows[0] and rows[1]["status"] == "done"
    before = {k: (out / f"take{k}" / "out.wav").read_bytes() for k in range(3)}
    code, err = run_cli(sgld_superres.main, argv, capsys)
    assert sum("already done" in line for line in err) == 3              # only the failed one runs again
    assert all((out / f"take{k}" / "out.wav").read_bytes() == before[k] for k in range(3))


def test_shares_cover_every_input_exactly_once():
    inputs = list(range(11))
    for world in (1, 2, 3, 4, 11, 12):
        shares = [my_share(inputs, distributed.Processes(rank=r, world=world)) for r in range(world)]
        assert sorted(x for share in shares for x in share) == inputs


def test_two_workers_write_what_one_writes(tmp_path):
    root, preset = make_root(tmp_path / "prior", tiny_hparams())
    many_inputs(tmp_path / "in", n=3)
    listed = tmp_path / "inputs.txt"
    listed.write_text("".join(f"in/take{k}.wav\n" for k in range(3)))
    argv = [root, str(listed), None, f"--preset={preset}", "--n-steps=2", "--sgld-window=1000", "--no-progress"]
    # one thread, as each worker has: with two, float sums in another order may round a sample of the
    # 16-bit file the other way (benchmarks/workers.py measures that case)
    assert sgld_superres.main(argv[:2] + [str(tmp_path / "one")] + argv[3:] + ["--threads=1"]) == 0
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "wavenet_vocoder.pnf.sgld_superres"] + argv[:2] + [str(tmp_path / "two")] + argv[3:]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    for k in range(3):
        assert (tmp_path / "one" / f"take{k}" / "out.wav").read_bytes() == \
            (tmp_path / "two" / f"take{k}" / "out.wav").read_bytes()
    assert [r["status"] for r in json.loads((tmp_path / "two" / "summary.json").read_text())] == ["done"] * 3


def test_torchrun_trains_a_per_level_chain(tmp_path, dump):
    preset = tmp_path / "preset.json"
    preset.write_text(json.dumps(training_hparams().replace(sigmas=[8.0, 2.0]).to_dict()))
    root = tmp_path / "chain"
    done = torchrun(2, [str(dump / "dump"), str(root), f"--preset={preset}", "--steps=3", "--first-steps=4",
                        "--eval-interval=2", "--no-progress"])
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((root / "training.json").read_text())
    assert [(level["sigma"], level["steps"]) for level in record["levels"]] == [(8.0, 4), (2.0, 3)]
    assert all(os.path.isfile(root / f"checkpoints{s}" / "checkpoint_latest_ema.pth") for s in ("8pt0", "2pt0"))
