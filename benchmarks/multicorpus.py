"""Multi-corpus benchmark: wall time of the protocols, and how it grows with the corpora.

1. ``--real``: the full RAVDESS + EMOVO experiment of
   ``experiments/multicorpus/real_arousal_valence.toml`` (every protocol, two labels,
   two representations x two classifiers, three normalisation variants), run twice in
   one process: the first pass extracts any feature missing from the store, the second
   reads them (features are extracted once per corpus and shared by every protocol and
   variant). Stage times come from the run's own timing.
2. Growth with the number of corpora: the synthetic presets ravdess_like, emovo_like,
   emodb_like and natural_like, 2, 3 and 4 of them, eGeMAPS x linear SVM, arousal,
   protocols matched, pooled, loco and transfer. Features are extracted before timing, so
   the figures are the protocols' own cost; the number of splits and of distinct
   training sets (each fit once) is printed beside the time.

Usage::

    python benchmarks/multicorpus.py [--real] [--workdir runs/bench_multicorpus]

Note what else ran on the machine when recording a figure (2 cores: a second job
slows both).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from contaffect.experiment.config import from_dict, load_config
from contaffect.experiment.runner import run_experiment

PRESETS = ["ravdess_like", "emovo_like", "emodb_like", "natural_like"]


def real(workdir: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "experiments/multicorpus/real_arousal_valence.toml",
                      {"workdir": str(workdir / "real"), "report": ""})
    for label in ("first pass (extracts what the store lacks)", "second pass (store read)"):
        t = time.perf_counter()
        out = run_experiment(cfg, workdir / "real_report", progress=False)
        wall = time.perf_counter() - t
        run = json.loads((out / "run.json").read_text())
        stages = {k: v for k, v in run["seconds_per_stage"].items() if v >= 0.5}
        print(f"RAVDESS + EMOVO, {label}: {wall:.1f} s; stages {stages}")


def growth(workdir: Path) -> None:
    from contaffect.experiment.multicorpus import preflight
    from contaffect.experiment.pipeline import Pipeline

    rows = []
    for n in (2, 3, 4):
        names = PRESETS[:n]
        data = {"name": f"{n} corpora", "workdir": str(workdir / "synth"),
                "corpora": {p: {"synthetic": p, "mapping": "acted_basic_av",
                                "dimensions": ["arousal"]} for p in names},
                "multicorpus": {"corpora": names, "label": "arousal",
                                "protocols": ["matched", "pooled", "loco", "transfer"],
                                "representations": ["egemaps"], "classifiers": ["svm"],
                                "bootstrap": 1000}}
        cfg = from_dict(data)
        run_experiment(cfg, workdir / f"warm{n}", progress=False)      # generate + extract
        pipe = Pipeline(cfg, Path(cfg.workdir), progress=False)
        _, _, splits = preflight(pipe)
        t = time.perf_counter()
        run_experiment(cfg, workdir / f"report{n}", progress=False)
        wall = time.perf_counter() - t
        utts = sum(len(pipe.corpus(c)) for c in names)
        distinct = len({tuple(s.train) for _, s in splits})
        rows.append((n, utts, len(splits), distinct, wall))
        print(f"{n} corpora, {utts} utterances: {len(splits)} splits, {distinct} distinct "
              f"training sets, {wall:.1f} s (features cached)")
    base = rows[0][-1]
    for n, utts, ns, nd, wall in rows:
        print(f"  {n} corpora: {wall / base:.2f}x the 2-corpus time, {nd / rows[0][3]:.2f}x "
              "the training sets")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", action="store_true", help="also time RAVDESS + EMOVO")
    ap.add_argument("--workdir", default="runs/bench_multicorpus")
    args = ap.parse_args()
    workdir = Path(args.workdir)
    growth(workdir)
    if args.real:
        real(workdir)


if __name__ == "__main__":
    main()
