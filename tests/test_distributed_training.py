"""Data-parallel training (DDP, gloo, 2 CPU processes) gives the one-process numbers."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from contaffect.models import ModelConfig, SequenceSet, TrainConfig
from contaffect.models.train import train

MODEL = ModelConfig(units=(8, 6), n_steps=4, context_s=1.0)


def _data(masked: bool) -> tuple[SequenceSet, SequenceSet]:
    rng = np.random.default_rng(0)
    feats = {f"r{i}": rng.standard_normal((150 + 7 * i, 5)).astype(np.float32) for i in range(4)}
    ys = {k: np.column_stack([np.tanh(v[:, :2].sum(1)), v[:, 2]]).astype(np.float32)
          for k, v in feats.items()}
    if masked:                                   # unlabelled stretches (NaN) in both outputs
        ys["r0"][:30, 0] = np.nan
        ys["r2"][-40:, :] = np.nan
    tr = SequenceSet({k: feats[k] for k in ("r0", "r1", "r2")},
                     {k: ys[k] for k in ("r0", "r1", "r2")}, 25.0)
    va = SequenceSet({"r3": feats["r3"]}, {"r3": ys["r3"]}, 25.0)
    return tr, va


def _config(loss: str) -> TrainConfig:
    # 37 windows per batch: chunks of unequal length, and a last batch shorter than the rest
    return TrainConfig(epochs=2, batch_size=37, loss=loss, input_noise=0.1, seed=3, threads=1,
                       device="cpu")


def _worker(rank: int, port: int, loss: str, masked: bool, ckdir: str, out) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2",
                      RANK=str(rank), LOCAL_RANK=str(rank))
    from contaffect.models import distributed as dist

    assert dist.init_from_env()
    try:
        if rank == 0:               # the experiment: trains, and the other rank trains with it
            tr, va = _data(masked)
            res = train(MODEL, _config(loss), tr, va, checkpoint_dir=ckdir, progress=False)
            dist.shutdown()
            out.put((rank, res.history, {k: v.numpy() for k, v in res.states[2].items()},
                     res.runtime[-1]["processes"]))
        else:                       # waits for jobs until rank 0 is done
            out.put((rank, dist.serve(), None, None))
    finally:
        torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("loss,masked", [("mse", True), ("ccc", False)])
def test_two_gloo_processes_give_the_one_process_numbers(tmp_path, loss, masked):
    tr, va = _data(masked)
    one = train(MODEL, _config(loss), tr, va, progress=False)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, loss, masked, str(tmp_path / "ck"), q))
             for r in range(2)]
    for p in procs:
        p.start()
    results = sorted(q.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    (_, h0, s0, world), (_, jobs, _, _) = results
    assert world == 2 and jobs == 1          # rank 1 trained the one job with rank 0
    # the model is the one-process model up to floating-point rounding
    for k, v in one.states[2].items():
        np.testing.assert_allclose(s0[k], v.numpy(), rtol=1e-4, atol=1e-6, err_msg=k)
    for a, b in zip(h0, one.history):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        assert a["val_cc"] == pytest.approx(b["val_cc"], rel=1e-4, abs=1e-5)
    # the main process wrote the checkpoints once, and they resume in one process
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["epoch001.pt", "epoch002.pt"]


def test_a_different_split_of_the_batch_would_be_detected():
    """The comparison above can fail: other data or another seed moves the weights."""
    tr, va = _data(True)
    a = train(MODEL, _config("mse"), tr, va, progress=False)
    b = train(MODEL, TrainConfig(**{**_config("mse").__dict__, "seed": 4}), tr, va,
              progress=False)
    assert not np.allclose(a.states[2]["head.weight"], b.states[2]["head.weight"], atol=1e-5)
