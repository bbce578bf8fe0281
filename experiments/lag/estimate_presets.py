"""How well `lag_s = "auto"` recovers the synthetic presets' true rater lags (issue 15).

For each dimensional preset with a rater panel, generate it (or reuse it), extract the
default features (ComParE 2016 LLDs, speaker z-norm, 25 Hz), build the gold standards
without a lag shift, and run `contaffect.labels.lag.estimate_lag` with its defaults on
every recording (the corpus as training data). The generator's true lag is the panel's
mean rater lag per dimension. Prints a Markdown table and writes it to OUT/lags.md.

    python experiments/lag/estimate_presets.py OUT [--scales 1 4] [--seeds 0 2] [--methods ridge projection]

With several methods it also prints, per seed and method, how many estimates are within
0.2 s of the truth (the issue's target), the mean and the largest absolute error, and how
often the 95 % bootstrap interval over the recordings (`LagEstimate.interval_s`) holds the
truth.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import pandas as pd

from contaffect.corpus import load_corpus
from contaffect.experiment.data import prepare_corpus
from contaffect.experiment.report import markdown_table
from contaffect.labels import LabelConfig
from contaffect.labels.lag import DEFAULT_LAG_METHOD, LAG_ESTIMATORS, estimate_lag
from contaffect.synth.generate import generate
from contaffect.synth.presets import PRESETS

DIMENSIONAL = [n for n, p in PRESETS.items() if getattr(p, "panel", None) is not None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 4.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--presets", nargs="+", default=DIMENSIONAL)
    ap.add_argument("--methods", nargs="+", default=[DEFAULT_LAG_METHOD], choices=LAG_ESTIMATORS.names(),
                    help="estimators to compare on the same data (a row each)")
    args = ap.parse_args()
    rows = []
    for seed, scale, name in itertools.product(args.seeds, args.scales, args.presets):
        folder = args.out / f"{name}-scale{scale:g}-seed{seed}"
        t0 = time.perf_counter()
        if not (folder / "synth" / "report.json").is_file():
            generate(name, folder, scale=scale, seed=seed, progress=False,
                     overwrite=True, workers=2)
        corpus = load_corpus(folder)
        prep = prepare_corpus(corpus, args.out / "store", LabelConfig(lag=False),
                              dimensions=("arousal", "valence"), progress=False, workers=2)
        ready = time.perf_counter() - t0
        for j, dim in enumerate(("arousal", "valence")):
            for method in args.methods:
                t1 = time.perf_counter()
                est = estimate_lag(prep.features, prep.gold[dim], prep.rate, method=method)
                true = PRESETS[name].panel.lag_s[j]
                rows.append(dict(seed=seed, preset=name, scale=scale, recordings=len(corpus),
                                 hours=round(prep.n_frames / prep.rate / 3600, 2),
                                 dimension=dim, method=method, true_s=true,
                                 estimated_s=est.lag_s, error_s=round(est.lag_s - true, 2),
                                 held_out_cc=round(float(max(est.scores)), 3),
                                 ci_low_s=est.interval_s[0], ci_high_s=est.interval_s[1],
                                 covers=bool(est.interval_s[0] - 1e-9 <= true
                                             <= est.interval_s[1] + 1e-9),
                                 seconds=round(time.perf_counter() - t1, 1)))
        print(f"{name} scale {scale:g} seed {seed}: data ready in {ready:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    text = markdown_table(table)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lags.md").write_text(text)
    table.to_csv(args.out / "lags.csv", index=False)
    err = table.assign(abs_error_s=table["error_s"].abs())
    summary = err.groupby(["seed", "method"], sort=False)["abs_error_s"].agg(
        within_0_2_s=lambda e: f"{int((e <= 0.2 + 1e-9).sum())} / {len(e)}",
        mean_abs_error_s=lambda e: round(float(e.mean()), 3), max_abs_error_s="max")
    covered = err.groupby(["seed", "method"], sort=False)["covers"].agg(
        lambda c: f"{int(c.sum())} / {len(c)}")
    summary = summary.join(covered.rename("interval_covers_truth"))
    text = markdown_table(summary.reset_index())
    print(text)
    (args.out / "lags_summary.md").write_text(text)


if __name__ == "__main__":
    main()
