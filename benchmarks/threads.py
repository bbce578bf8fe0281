"""Training throughput alone and beside a competing process, for each thread setting.

Each measurement is one epoch of the default LSTM (80/60 units, 16 steps) on
``--windows`` windows of 130 features, in a fresh process (so that OpenMP's
environment applies), with torch's thread count set by ``[training] threads``:
``0`` (the default policy of :mod:`contaffect.threads`), a fixed count, or
``0`` with another ``thread_policy`` (``load``: re-chosen each epoch).
"Beside" means one busy Python process of equal priority spinning for the
whole measurement, the situation of issue 16 (two runs sharing a machine).

Prints windows/s per setting, and each setting's ratio beside / alone and
against the best setting alone. Target (issue 16): the default at >= 0.5x
of alone beside one competing process.

Usage::

    python benchmarks/threads.py [--windows 30000] [--settings 0 1 2 load] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

CHILD = r"""
import sys
if sys.argv[3] == "default":
    import torch                  # before contaffect: OpenMP keeps its own (spinning) waits
import time, numpy as np, torch
from contaffect.models import ModelConfig, SequenceSet, TrainConfig
from contaffect.models.train import train
n, setting = int(sys.argv[1]), sys.argv[2]
threads, policy = (0, setting) if not setting.isdigit() else (int(setting), "allocation")
rng = np.random.default_rng(0)
per = n // 10
feats = {f"r{i}": rng.standard_normal((per, 130)).astype(np.float32) for i in range(10)}
ys = {k: rng.standard_normal(per).astype(np.float32) for k in feats}
data = SequenceSet(feats, ys, 25.0)
train(ModelConfig(), TrainConfig(epochs=1, threads=max(threads, 1)), SequenceSet(
    {k: v[:2000] for k, v in list(feats.items())[:2]}, {k: ys[k][:2000] for k in list(ys)[:2]},
    25.0), None, progress=False)                                   # warm up
t = time.perf_counter()
r = train(ModelConfig(), TrainConfig(epochs=1, threads=threads, thread_policy=policy), data, None, progress=False)
print(len(data) / (time.perf_counter() - t), r.runtime[0]["threads"])
"""

USER_WAIT = "OMP_WAIT_POLICY" in os.environ      # read before contaffect is imported

SPIN = "import time\nwhile True: pass"


def measure(windows: int, setting: str, beside: bool, wait: str) -> tuple[float, int]:
    # this process imported contaffect, which set OMP_WAIT_POLICY=PASSIVE: the child gets it
    # only in the passive mode (a user's own setting of the variable is passed on as it is)
    env = dict(os.environ)
    if wait == "default" and not USER_WAIT:
        env.pop("OMP_WAIT_POLICY", None)
    spin = subprocess.Popen([sys.executable, "-c", SPIN]) if beside else None
    try:
        if spin:
            time.sleep(0.5)
        out = subprocess.run([sys.executable, "-c", CHILD, str(windows), setting, wait],
                             capture_output=True, text=True, check=True, env=env).stdout.split()
    finally:
        if spin:
            spin.kill()
            spin.wait()
    return float(out[0]), int(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=30000)
    ap.add_argument("--settings", nargs="+", default=["0", "1", "2", "load"],
                    help="[training] threads values (0: the default policy), or the name "
                         "of a thread policy (threads = 0 with that thread_policy)")
    ap.add_argument("--omp-wait", choices=("passive", "default"), default="passive",
                    help="passive: OMP_WAIT_POLICY=PASSIVE, as `import contaffect` sets it; "
                         "default: OpenMP's own (spinning), as torch imported first gets")
    ap.add_argument("--repeats", type=int, default=2, help="measurements per cell (median)")
    args = ap.parse_args()
    from contaffect.threads import THREAD_POLICIES, available_cores

    bad = [s for s in args.settings if not s.isdigit() and s not in THREAD_POLICIES.names()]
    if bad:
        ap.error(f"--settings {bad[0]!r}: give a thread count or one of "
                 f"{', '.join(THREAD_POLICIES.names())}")

    print(f"{os.cpu_count()} CPUs, {available_cores():g} available to this process, "
          f"OpenMP waiting: {args.omp_wait}")
    res = {}
    for beside in (False, True):
        for s in args.settings:
            runs = [measure(args.windows, s, beside, args.omp_wait) for _ in range(args.repeats)]
            wps = sorted(r[0] for r in runs)[len(runs) // 2]
            res[s, beside] = (wps, [r[1] for r in runs])
    best = max(res[s, False][0] for s in args.settings)
    print("| threads setting | alone (windows/s) | beside one busy process | beside / alone "
          "| beside / best alone | threads used alone / beside |")
    print("|---|---|---|---|---|---|")
    for s in args.settings:
        a, b = res[s, False], res[s, True]
        name = {"0": "0 (default policy)"}.get(s, s if s.isdigit() else f"0, thread_policy = {s}")
        print(f"| {name} | {a[0]:.0f} | {b[0]:.0f} | {b[0] / a[0]:.2f} | {b[0] / best:.2f} | "
              f"{a[1]} / {b[1]} |")


if __name__ == "__main__":
    main()
