"""Running as one of several processes under ``torchrun``: rank, world, device, and the few
collective decisions training needs (DistributedDataParallel does the gradients).

``torchrun`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` (and the rendezvous); without them a
command is a single process and nothing here talks to anyone. NCCL joins CUDA processes, gloo
CPU ones. Threads per process: :func:`choose_threads`.
"""
import gc
import os
from dataclasses import dataclass


from .deferred import deferred_import
from .errors import PnfError

torch = deferred_import("torch")


@dataclass(frozen=True)
class Processes:
    """This process's place among the processes of one job: ``rank`` of ``world`` (``local_rank``
    and ``local_world`` on this machine). A single process is rank 0 of 1."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self):
        """Whether this process writes checkpoints, records and logs (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self):
        return self.world > 1


def from_environment():
    """The :class:`Processes` that ``torchrun``'s environment describes (a single process without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Processes()
    return Processes(rank=int(os.environ["RANK"]), world=world, local_rank=int(os.environ.get("LOCAL_RANK", "0")),
                     local_world=int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def start(processes, device):
    """Join the job's process group (NCCL for CUDA, gloo for the CPU); returns this process's device
    (``cuda:<local rank>`` on CUDA). A single process joins nothing and keeps ``device``."""
    if not processes.distributed:
        return device
    if torch.device(device).type == "cuda":
        device = f"cuda:{processes.local_rank}"
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend)
    return device


def stop(processes):
    """Wait for every process, then leave the process group: a process that left while another was
    still writing its last checkpoint could abort at exit (gloo's threads torn down under it).

    Garbage is collected first: a training ``Trainer`` sits in a reference cycle, so its
    DistributedDataParallel model, which holds the group, is freed by the cycle collector, not when
    training returns; left to a collection during interpreter exit, after the group was destroyed,
    gloo's teardown aborted a rank ("terminate called without an active exception") after its run
    was done, now and then."""
    if processes.distributed and torch.distributed.is_initialized():
        gc.collect()
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def any_process(processes, flags, device="cpu"):
    """For each of ``flags`` (booleans), whether it is true in any process: one all-reduce that every
    process must call at the same point. A single process gets its own flags back."""
    if not processes.distributed:
        return [bool(f) for f in flags]
    value = torch.tensor([1.0 if f else 0.0 for f in flags], device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return [bool(v > 0) for v in value.tolist()]


def barrier(processes):
    """Wait until every process reaches this point."""
    if processes.distributed:
        torch.distributed.barrier()


def choose_threads(flag, processes):
    """Torch threads for this process: ``--threads`` when given, else ``OMP_NUM_THREADS`` when set,
    else the cores this process may run on divided among the job's processes on this machine
    (at least 1). Returns (threads, where the number came from)."""
    if flag not in (None, ""):
        try:
            threads = int(flag)
        except ValueError:
            threads = 0
        if threads < 1:
            raise PnfError(f"--threads={flag}: give a positive number of threads")
        return threads, "--threads"
    if os.environ.get("OMP_NUM_THREADS", "").strip().isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        return int(os.environ["OMP_NUM_THREADS"]), "OMP_NUM_THREADS"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    share = max(1, cores // max(1, processes.local_world))
    return share, f"{cores} cores / {processes.local_world} process(es) on this machine"
