"""End-to-end benchmark: wall time and peak memory of a whole experiment, by stage.

Runs ``contaffect run CONFIG`` in a child process with a fresh (or given)
workdir, so nothing is cached unless you say so, and prints the wall time, the
child's peak resident memory, and the seconds per stage that the run records
in ``run.json`` (corpora, features, LSTM training, utterance features and
classifier sweeps, evaluation and reports).

Usage::

    python benchmarks/end_to_end.py experiments/real/sessions_ravdess_to_emovo.toml
    python benchmarks/end_to_end.py CONFIG --workdir runs/synthetic   # warm caches
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--workdir", help="reuse this workdir (default: a fresh temporary one)")
    args = ap.parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="contaffect-e2e-")
    out = Path(tempfile.mkdtemp(prefix="contaffect-e2e-report-"))
    cmd = [sys.executable, "-m", "contaffect.cli", "-q", "run", args.config, "--workdir",
           workdir, "--out", str(out)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(proc.stderr[-2000:])
        sys.exit(proc.returncode)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    run = json.loads((out / "run.json").read_text())
    print(f"config: {args.config}")
    print(f"workdir: {workdir} ({'fresh' if not args.workdir else 'given'})")
    print(f"wall time: {wall / 60:.1f} min; peak RSS of the run: {peak:.0f} MiB")
    print("seconds per stage:")
    for k, v in sorted(run.get("seconds_per_stage", {}).items(), key=lambda kv: -kv[1]):
        print(f"  {k:48s} {v:8.1f}  ({100 * v / max(run['seconds'], 1e-9):4.1f} %)")


if __name__ == "__main__":
    main()
