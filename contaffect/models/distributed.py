"""Data-parallel training through PyTorch's DDP: process group, rank, and exact batch gathering.

contaffect does not launch processes itself: ``torchrun`` (or SLURM's
``srun`` with torchrun's environment variables) starts one process per GPU
or per CPU slot, and :func:`init_from_env` joins them into a process group
(NCCL on CUDA, gloo on the CPU).

Only rank 0 runs the experiment: it reads corpora, extracts, writes caches
and the report, exactly as a single process would. The other ranks wait in
:func:`serve`. Each time rank 0 trains an LSTM
(:func:`~contaffect.models.train.train`), it broadcasts the training job
(configurations, data, checkpoint folder) and every rank trains together:
each batch is split into contiguous chunks, one per process, and the
network is wrapped in ``DistributedDataParallel``. Only rank 0 writes
checkpoints; every rank reads them on resume, so the workdir must be on a
file system all ranks share (as for a Dask cluster's feature store). When
rank 0 is done (or fails), :func:`shutdown` releases the others.

Why the result equals one process. Let a batch of :math:`B` windows be cut
into chunks :math:`c_1, \\dots, c_P` and the loss be any function
:math:`L(\\hat y_{c_1} \\Vert \\dots \\Vert \\hat y_{c_P})` of the
concatenated predictions (MSE or the batch CCC alike). Every process
gathers the predictions of all chunks (:func:`gather_rows`, a differentiable
all-gather, in chunk order, so the concatenation is the one-process batch)
and computes the same :math:`L`. The all-gather's backward sums, for each
chunk, the gradients that the :math:`P` identical losses send to it:
:math:`P\\,\\partial L/\\partial \\hat y_{c_p}`. DDP then averages the
parameter gradients over the processes:

.. math::

    \\frac1P \\sum_p P\\, J_p^\\top \\frac{\\partial L}{\\partial \\hat y_{c_p}}
    = \\sum_p J_p^\\top \\frac{\\partial L}{\\partial \\hat y_{c_p}}
    = \\frac{\\partial L}{\\partial \\theta},

the one-process gradient (:math:`J_p` the Jacobian of chunk :math:`p`'s
predictions). So the numbers agree up to floating-point rounding (the LSTM
runs on smaller batches); the test compares 2 gloo processes with 1.
"""

from __future__ import annotations

import datetime
import logging
import os

import numpy as np
import torch

log = logging.getLogger(__name__)

#: a rank waits this long for the others (extraction before training can take hours)
TIMEOUT = datetime.timedelta(hours=24)


def active() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return (torch.distributed.is_available() and torch.distributed.is_initialized()
            and torch.distributed.get_world_size() > 1)


def rank() -> int:
    """This process' rank (0 without a process group)."""
    return torch.distributed.get_rank() if active() else 0


def world_size() -> int:
    """Processes in the group (1 without one)."""
    return torch.distributed.get_world_size() if active() else 1


def is_main() -> bool:
    """Whether this process writes files and reports (rank 0)."""
    return rank() == 0


def barrier() -> None:
    """Wait for every process (nothing without a process group)."""
    if active():
        torch.distributed.barrier()


def init_from_env(backend: str | None = None) -> bool:
    """Join the process group that ``torchrun`` describes in the environment.

    Reads ``WORLD_SIZE``, ``RANK`` and ``MASTER_ADDR`` / ``MASTER_PORT``
    (set by torchrun). Returns False (and does nothing) when ``WORLD_SIZE``
    is unset or 1. The backend defaults to NCCL when CUDA is present, else
    gloo; on CUDA each process takes the GPU of its ``LOCAL_RANK``.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if active():
        return True
    cuda = torch.cuda.is_available()
    backend = backend or ("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    torch.distributed.init_process_group(backend=backend, timeout=TIMEOUT)
    log.info("process %d of %d (%s)", rank(), world_size(), backend)
    return True


def chunk(rows: np.ndarray) -> np.ndarray:
    """This process' contiguous share of a batch's rows (all of them without a group)."""
    if not active():
        return rows
    return np.array_split(rows, world_size())[rank()]


def chunk_slice(n: int) -> slice:
    """Positions of this process' chunk in a batch of ``n`` rows (as :func:`chunk`)."""
    if not active():
        return slice(0, n)
    bounds = np.cumsum([0] + [len(c) for c in np.array_split(np.arange(n), world_size())])
    return slice(int(bounds[rank()]), int(bounds[rank() + 1]))


def gather_rows(t: torch.Tensor) -> torch.Tensor:
    """Concatenate every process' ``t`` along dim 0, in rank order; differentiable.

    Chunks may differ in length (masked frames): lengths are exchanged first,
    each chunk is padded to the longest for the all-gather and cut back.
    """
    if not active():
        return t
    from torch.distributed.nn.functional import all_gather

    n = torch.tensor([t.shape[0]], dtype=torch.int64, device=t.device)
    sizes = [torch.zeros_like(n) for _ in range(world_size())]
    torch.distributed.all_gather(sizes, n)
    sizes = [int(s) for s in sizes]
    longest = max(sizes)
    pad = longest - t.shape[0]
    if pad:
        t = torch.cat([t, t.new_zeros((pad, *t.shape[1:]))])
    parts = all_gather(t) if t.requires_grad else _gather_plain(t)
    return torch.cat([p[:k] for p, k in zip(parts, sizes)])


def _gather_plain(t: torch.Tensor) -> list[torch.Tensor]:
    out = [torch.empty_like(t) for _ in range(world_size())]
    torch.distributed.all_gather(out, t.contiguous())
    return out


_STOP = "stop"
_SERVING = [False]


def serving() -> bool:
    """Whether this process is a non-main rank running a job received in :func:`serve`."""
    return _SERVING[0]


def broadcast_job(job: tuple | str) -> tuple | str:
    """Send a job from rank 0 to every rank (returns the job on every rank)."""
    box = [job if is_main() else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def serve() -> int:
    """Run the jobs rank 0 broadcasts until it sends stop (non-main ranks); returns jobs run.

    A job is ``(function path, args, kwargs)``; today only
    :func:`~contaffect.models.train.train` sends jobs.
    """
    from importlib import import_module

    done = 0
    while True:
        job = broadcast_job(None)
        if job == _STOP:
            return done
        target, args, kwargs = job
        module, name = target.split(":")
        _SERVING[0] = True
        try:
            getattr(import_module(module), name)(*args, **kwargs)
        finally:
            _SERVING[0] = False
        done += 1


def shutdown() -> None:
    """Rank 0: release the ranks waiting in :func:`serve` (nothing without a group)."""
    if active() and is_main():
        broadcast_job(_STOP)


def wrap(net: torch.nn.Module) -> torch.nn.Module:
    """``DistributedDataParallel(net)`` in a process group, else ``net`` itself."""
    if not active():
        return net
    from torch.nn.parallel import DistributedDataParallel

    dev = next(net.parameters()).device
    return DistributedDataParallel(net, device_ids=[dev] if dev.type == "cuda" else None)
