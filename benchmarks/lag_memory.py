"""Peak memory of lag estimation on wide inputs: the block budget against MAX_BLOCKS blocks.

The lag estimator's bootstrap keeps each block's d x d moments
(``contaffect.labels.lag``). For the default 130 LLDs that is small; for SSL features
(768 per frame, twice that through ``lag_inputs = "means_sd"``) one block per
recording, up to ``MAX_BLOCKS``, would hold gigabytes. This script estimates one lag
on random wide features twice in one run, with the default block budget
(``BLOCK_BYTES``) and with it lifted (``MAX_BLOCKS`` blocks), and prints peak traced
memory, wall time, their ratios and the two estimates (which must agree: pooling
changes only the bootstrap's units).

    python benchmarks/lag_memory.py [--dim 768] [--recordings 200] [--seconds 20] [--inputs means_sd]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

import contaffect.labels.lag as lag


def measure(features: dict, gold: dict, inputs: str, budget: int) -> tuple[float, float, float]:
    """Peak traced MiB, seconds and the estimate with ``BLOCK_BYTES = budget``."""
    saved, lag.BLOCK_BYTES = lag.BLOCK_BYTES, budget
    try:
        tracemalloc.start()
        t0 = time.perf_counter()
        est = lag.estimate_lag(features, gold, 25.0, inputs=inputs, n_boot=50)
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
        lag.BLOCK_BYTES = saved
    return peak, seconds, est.lag_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=768, help="features per frame")
    ap.add_argument("--recordings", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each recording")
    ap.add_argument("--inputs", default="means_sd", choices=lag.LAG_INPUTS.names())
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = int(args.seconds * 25)
    features = {f"r{i}": rng.standard_normal((n, args.dim)).astype(np.float32)
                for i in range(args.recordings)}
    gold = {k: rng.standard_normal(n) for k in features}
    d = lag.LAG_INPUTS.get(args.inputs)(np.zeros((2, args.dim)), 1).shape[1]
    blocks = lag._n_blocks(args.recordings, d, 151, lag.DEFAULT_LAG_FOLDS)
    lifted = measure(features, gold, args.inputs, 2**62)
    budget = measure(features, gold, args.inputs, lag.BLOCK_BYTES)
    print(f"{args.recordings} recordings x {args.seconds:g} s, {args.dim} features "
          f"({args.inputs}: d = {d})")
    print(f"  {lag.MAX_BLOCKS} blocks: peak {lifted[0]:.0f} MiB, {lifted[1]:.1f} s, "
          f"lag {lifted[2]:.2f} s")
    print(f"  {blocks} blocks (budget {lag.BLOCK_BYTES / 2**20:.0f} MiB): "
          f"peak {budget[0]:.0f} MiB, {budget[1]:.1f} s, lag {budget[2]:.2f} s")
    print(f"  ratio budget / {lag.MAX_BLOCKS} blocks: memory {budget[0] / lifted[0]:.2f}, "
          f"time {budget[1] / lifted[1]:.2f}; same estimate: {budget[2] == lifted[2]}")


if __name__ == "__main__":
    main()
