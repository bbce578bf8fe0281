"""Training benchmark: our data path vs a bare PyTorch loop, and peak memory.

1. Throughput (windows per second) of ``contaffect.models.train`` for one epoch
   against a bare PyTorch loop over pre-built window tensors, same model, batch
   size and thread count, in one run. Target: ratio >= 0.9 (the sparse-window
   data path costs little). Then the same training on the frames as row views of one
   packed block (what ``grid_features`` gives; the ``SequenceSet``'s matrix is a
   view, not a copy) against the stacked copy: expected ratio 1.00.
2. Peak RSS of a fresh process that generates, extracts, prepares and trains one epoch on the
   largest synthetic preset (semaine_like) at ``--scale``.

Usage::

    python benchmarks/training.py [--frames 60000] [--scale 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import contaffect  # noqa: F401  (first: makes OpenMP's waiting threads passive before torch starts)
import numpy as np
import torch

from contaffect.features.packed import pack
from contaffect.models import ModelConfig, SequenceSet, TrainConfig
from contaffect.models.train import train
from contaffect.models.train import make_model

MEMORY_CHILD = r"""
import resource, sys, tempfile
from pathlib import Path
from contaffect.experiment.data import prepare_corpus
from contaffect.labels import LabelConfig
from contaffect.models import ModelConfig, SequenceSet, TrainConfig
from contaffect.models.train import train
from contaffect.corpus import load_corpus
from contaffect.synth.generate import generate
tmp = Path(tempfile.mkdtemp())
generate("semaine_like", tmp / "s", scale=float(sys.argv[1]), seed=0, progress=False)
c = load_corpus(tmp / "s")
p = prepare_corpus(c, tmp / "store", LabelConfig(lag_s=2.0), on_mismatch="trim", workers=2,
                   progress=False)
y = {k: v for k, v in p.gold["arousal"].items()}
ts = SequenceSet(p.features, y, 25.0)
train(ModelConfig(), TrainConfig(epochs=1), ts, None, progress=False)
print(len(ts), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def bare_loop(xw: torch.Tensor, yw: torch.Tensor, batch: int) -> float:
    torch.manual_seed(0)
    net = make_model(ModelConfig(), xw.shape[2], 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    perm = torch.randperm(xw.shape[0])
    t = time.perf_counter()
    for s in range(0, xw.shape[0], batch):
        idx = perm[s:s + batch]
        loss = torch.mean((net(xw[idx]) - yw[idx]) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60000, help="training frames (windows)")
    ap.add_argument("--scale", type=float, default=2.0, help="semaine_like scale for memory")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    rng = np.random.default_rng(0)
    n_rec = 10
    per = args.frames // n_rec
    feats = {f"r{i}": rng.standard_normal((per, 130)).astype(np.float32) for i in range(n_rec)}
    ys = {k: rng.standard_normal(per).astype(np.float32) for k in feats}
    data = SequenceSet(feats, ys, 25.0)
    model = ModelConfig()
    index = data.windows(model)
    xw = torch.from_numpy(data.X[index.indices(np.arange(len(index)))])   # pre-built: a copy
    yw = torch.from_numpy(data.Y[index.indices(np.arange(len(index)))])
    print(f"{len(index)} windows of {model.n_steps} x 130; pre-built tensor "
          f"{xw.numel() * 4 / 2**20:.0f} MiB vs frame matrix {data.X.nbytes / 2**20:.0f} MiB")
    bare_loop(xw[:2048], yw[:2048], 256)                                   # warm up
    t_bare = bare_loop(xw, yw, 256)
    # the same frames as row views of one packed block (what grid_features gives): the
    # SequenceSet's matrix is then a view, not a copy; alternated, best of two each
    packed = pack(dict(feats))
    view = SequenceSet(packed, ys, 25.0)
    assert np.shares_memory(view.X, packed["r0"]) and not np.shares_memory(data.X, feats["r0"])
    times = {"stacked": [], "view": []}
    for _ in range(2):
        for name, d in (("stacked", data), ("view", view)):
            t = time.perf_counter()
            train(model, TrainConfig(epochs=1, batch_size=256), d, None, progress=False)
            times[name].append(time.perf_counter() - t)
    t_ours, t_view = min(times["stacked"]), min(times["view"])
    print(f"bare PyTorch loop over pre-built windows: {len(index) / t_bare:8.0f} windows/s")
    print(f"contaffect train (sparse index views):    {len(index) / t_ours:8.0f} windows/s")
    print(f"throughput ratio ours / bare: {t_bare / t_ours:.2f}  (target >= 0.9)")
    print(f"contaffect train on packed views (the frame matrix a view, no copy): "
          f"{len(index) / t_view:8.0f} windows/s; ratio view / stacked copy "
          f"{t_ours / t_view:.2f} (expected 1.00: the same memory layout)")
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(args.scale)],
                         capture_output=True, text=True, check=True).stdout.split()
    print(f"peak RSS generating, extracting, preparing and training one epoch on semaine_like x{args.scale:g} "
          f"({int(out[0])} frames): {float(out[1]):.0f} MiB")


if __name__ == "__main__":
    main()
