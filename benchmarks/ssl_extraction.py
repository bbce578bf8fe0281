"""SSL extraction on the CPU: real-time factor, peak memory against length, batching.

Random models only (nothing is downloaded): the tiny test model and a base-size
HuBERT (12 layers, 768 wide, about 95 M parameters), whose speed and memory are
those of the real architecture. Prints, measured in one run:

- the real-time factor (seconds of compute per second of audio) of each model on
  a 20 s signal, with the torch thread count used;
- peak resident memory of a fresh process that loads the model and encodes one
  recording of 10 ... 600 s, chunked (``chunk_s`` 20, ``overlap_s`` 2) and unchunked
  (``chunk_s`` >= the length; only up to ``--max-unchunked`` s: attention memory grows
  with the square of the length);
- throughput on many short utterances, batch size 1 against 8, for a model that can
  pad batches (``feat_extract_norm = "layer"``) and one that cannot (``group``).

The memory part uses ``--batch-size`` chunks per forward pass (default 1, as ``[ssl]``):
the bound is about ``batch_size x chunk_s`` seconds of attention.

Each memory point runs in its own process (peak RSS only grows within a process).

Usage::

    python benchmarks/ssl_extraction.py [--threads 2] [--lengths 10 30 60 120 300 600]
        [--batch-size 1] [--parts rtf batching memory]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _signal(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.1 * np.sin(2 * np.pi * 140 * t) + 0.01 * rng.standard_normal(t.size)
            ).astype(np.float32)


def _extractor(folder: Path, **kw):
    from contaffect.features.smile import make_extractor
    from contaffect.features.ssl import ssl_feature_set
    from contaffect.features.ssl_config import SSLConfig

    return make_extractor(ssl_feature_set(folder, SSLConfig(device="cpu", **kw)))


def rtf(models: dict, seconds: float = 20.0, repeats: int = 3) -> None:
    import torch

    x = _signal(seconds)
    print(f"real-time factor on {seconds:g} s (best of {repeats}; torch threads "
          f"{torch.get_num_threads()}):")
    for name, folder in models.items():
        ex = _extractor(folder)
        ex(x[:16000])                                              # warm-up
        best = min(_timed(lambda: ex(x)) for _ in range(repeats))
        n = sum(p.numel() for p in ex.model.parameters())
        print(f"  {name:6s} {n / 1e6:7.2f} M parameters  {best:7.3f} s  RTF {best / seconds:.4f}")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


_CHILD = r"""
import gc, json, sys, time
import numpy as np
sys.path.insert(0, {bench!r})
from ssl_extraction import _signal, _extractor
import torch
torch.set_num_threads({threads})

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

ex = _extractor({folder!r}, chunk_s={chunk}, overlap_s=2.0, batch_size={batch})
x = _signal({seconds})
gc.collect()
open("/proc/self/clear_refs", "w").write("5")     # reset the peak (VmHWM) after loading
loaded = status("VmRSS:")
t = time.perf_counter()
f = ex(x)
dt = time.perf_counter() - t
print(json.dumps(dict(peak_mb=status("VmHWM:"), loaded_mb=loaded, seconds=dt, frames=len(f))))
"""


def memory(folder: Path, lengths: list[float], max_unchunked: float, threads: int,
           batch: int) -> None:
    loaded = float("nan")
    print(f"peak RSS while encoding one recording, above the RSS with the model loaded and "
          f"the audio read (base model, {threads} threads, batch_size {batch}; a fresh "
          "process per cell):")
    print(f"  {'length s':>8s} {'chunked +MB':>11s} {'RTF':>6s} {'unchunked +MB':>13s} {'RTF':>6s}")
    for seconds in lengths:
        cells = []
        for chunk in (20.0, max(seconds + 1.0, 20.0)):
            if chunk > 20.0 and seconds > max_unchunked:
                cells.append("      (skip)       ")
                continue
            code = _CHILD.format(bench=str(Path(__file__).parent), threads=threads,
                                 folder=str(folder), chunk=chunk, seconds=seconds, batch=batch)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            if out.returncode != 0:
                cells.append(f"failed: {out.stderr.strip().splitlines()[-1][:40]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            cells.append(f"{r['peak_mb'] - r['loaded_mb']:11.0f} {r['seconds'] / seconds:6.3f}")
            loaded = r["loaded_mb"]
        print(f"  {seconds:8.0f} " + " ".join(f"{c:>18s}" for c in cells))
    print(f"  (RSS with the model loaded: {loaded:.0f} MB)")


def batching(models: dict, n: int = 32, seconds: float = 3.0) -> None:
    sigs = [_signal(seconds + 0.37 * (k % 5), seed=k) for k in range(n)]
    total = sum(s.size for s in sigs) / 16000
    print(f"{n} utterances of {seconds:g}-{seconds + 1.48:g} s ({total:.0f} s of audio):")
    for name, folder in models.items():
        rates = {}
        for b in (1, 8):
            ex = _extractor(folder, batch_size=b)
            ex.extract_batch(sigs[:2])
            rates[b] = total / _timed(lambda: ex.extract_batch(sigs))
        pads = _extractor(folder).padded_batches
        print(f"  {name:12s} ({'pads batches' if pads else 'equal lengths only'}): "
              f"{rates[1]:7.1f} s of audio/s at batch 1, {rates[8]:7.1f} at batch 8, "
              f"ratio {rates[8] / rates[1]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lengths", type=float, nargs="+", default=[10, 30, 60, 120, 300, 600])
    ap.add_argument("--max-unchunked", type=float, default=120.0)
    ap.add_argument("--batch-size", type=int, default=1,
                    help="[ssl] batch_size of the memory part (chunks per forward pass)")
    ap.add_argument("--parts", nargs="+", default=["rtf", "batching", "memory"],
                    choices=["rtf", "batching", "memory"])
    args = ap.parse_args()
    import torch

    from contaffect.features.ssl_random import save_random_model

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        tiny = save_random_model(tmp / "tiny", "hubert", "tiny")
        base = save_random_model(tmp / "base", "hubert", "base")
        base_ln = save_random_model(tmp / "base_ln", "wav2vec2", "base",
                                    feat_extract_norm="layer")
        print(f"random models written in {time.perf_counter() - t:.1f} s")
        if "rtf" in args.parts:
            rtf({"tiny": tiny, "base": base})
        if "batching" in args.parts:
            batching({"hubert base": base, "wav2vec2 base, layer norm": base_ln})
        if "memory" in args.parts:
            memory(base, args.lengths, args.max_unchunked, args.threads, args.batch_size)


if __name__ == "__main__":
    main()
