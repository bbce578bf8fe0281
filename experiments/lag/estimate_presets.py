"""How well `lag_s = "auto"` recovers the synthetic presets' true rater lags (issue 15).

For each dimensional preset with a rater panel, generate it (or reuse it), extract the
default features (ComParE 2016 LLDs, speaker z-norm, 25 Hz), build the gold standards
without a lag shift, and run `contaffect.labels.lag.estimate_lag` with its defaults on
every recording (the corpus as training data). Two truths per dimension: the panel's
nominal mean lag (`lag_s` of the preset's `RaterPanel`), and the realised lag of the
sample, the lag each recording's mean trace really has (its raters' drawn lags weighted by
their gains), averaged over the recordings weighted by duration
(`contaffect.synth.generate.realised_lags`, as in the generator's report). Prints a Markdown table and writes it to OUT/lags.md.

    python experiments/lag/estimate_presets.py OUT [--scales 1 4] [--seeds 0 2] [--methods ridge projection] [--inputs means means_sd] [--folds 2 5]

It also prints (OUT/lags_summary.md), per seed, per scale and per preset, for each method,
inputs and folds, how many estimates are within 0.2 s of each truth (the issue's
target), the mean and the largest absolute error, and how often the 95 % bootstrap
interval over the recordings (`LagEstimate.interval_s`) holds it; OUT/lags_wide.md has
every estimate, one column pair per setting.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import pandas as pd

from contaffect.corpus import load_corpus
from contaffect.experiment.data import prepare_corpus
from contaffect.experiment.report import markdown_table
from contaffect.labels import LabelConfig
from contaffect.labels.lag import (DEFAULT_LAG_FOLDS, DEFAULT_LAG_INPUTS, DEFAULT_LAG_METHOD,
                                   LAG_ESTIMATORS, LAG_INPUTS, PINNED_INTERVAL_S,
                                   estimate_lag)
from contaffect.synth.generate import generate, is_current, realised_lags
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
    ap.add_argument("--inputs", nargs="+", default=[DEFAULT_LAG_INPUTS],
                    choices=LAG_INPUTS.names(),
                    help="first-model inputs to compare (a row each, with every method)")
    ap.add_argument("--folds", type=_folds, nargs="+", default=[DEFAULT_LAG_FOLDS],
                    help="cross-fitting folds to compare (a row each, with every method and "
                         "inputs)")
    ap.add_argument("--summary-only", action="store_true",
                    help="only summarise OUT/lags.csv again (no generation, no estimation)")
    args = ap.parse_args()
    if args.summary_only:
        if not (args.out / "lags.csv").is_file():
            ap.error(f"--summary-only needs {args.out / 'lags.csv'}, which does not exist")
        summarise(pd.read_csv(args.out / "lags.csv"), args.out)
        return
    rows = []
    for seed, scale, name in itertools.product(args.seeds, args.scales, args.presets):
        folder = args.out / f"{name}-scale{scale:g}-seed{seed}"
        t0 = time.perf_counter()
        report = folder / "synth" / "report.json"
        if not (report.is_file() and is_current(json.loads(report.read_text()), name)):
            generate(name, folder, scale=scale, seed=seed, progress=False,
                     overwrite=True, workers=2)
        corpus = load_corpus(folder)
        prep = prepare_corpus(corpus, args.out / "store", LabelConfig(lag=False),
                              dimensions=("arousal", "valence"), progress=False, workers=2)
        ready = time.perf_counter() - t0
        realised_all = realised_lags(folder)
        for j, dim in enumerate(("arousal", "valence")):
            realised = realised_all[dim]
            for method, inputs, folds in itertools.product(args.methods, args.inputs,
                                                           args.folds):
                t1 = time.perf_counter()
                est = estimate_lag(prep.features, prep.gold[dim], prep.rate, method=method,
                                   inputs=inputs, folds=folds)
                true = PRESETS[name].panel.lag_s[j]
                rows.append(dict(seed=seed, preset=name, scale=scale, recordings=len(corpus),
                                 hours=round(prep.n_frames / prep.rate / 3600, 2),
                                 dimension=dim, method=method, inputs=inputs, folds=folds,
                                 folds_used=est.folds, true_s=true,
                                 realised_s=round(realised, 3), estimated_s=est.lag_s,
                                 error_s=round(est.lag_s - true, 2),
                                 realised_error_s=round(est.lag_s - realised, 2),
                                 held_out_cc=round(float(max(est.scores)), 3),
                                 ci_low_s=est.interval_s[0], ci_high_s=est.interval_s[1],
                                 covers=_inside(true, est.interval_s),
                                 covers_realised=_inside(realised, est.interval_s),
                                 seconds=round(time.perf_counter() - t1, 1)))
        print(f"{name} scale {scale:g} seed {seed}: data ready in {ready:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    text = markdown_table(table)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lags.md").write_text(text)
    table.to_csv(args.out / "lags.csv", index=False)
    summarise(table, args.out)


def side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    """One row per estimate target, one column pair per setting: OUT/lags_wide.md.

    Errors are against the realised lag; ``(misses)`` marks an interval without it.
    """
    keys = ["seed", "preset", "scale", "recordings", "hours", "dimension"]
    out = None
    for (method, inputs, folds), g in table.groupby(["method", "inputs", "folds"], sort=False):
        name = f"{method}, {inputs}, {folds} folds"
        cols = g[keys].assign(**{"nominal (s)": g["true_s"], "realised (s)": g["realised_s"]})
        cols[f"{name}: estimate (error)"] = [f"{e:.2f} ({r:+.2f})" for e, r in
                                             zip(g["estimated_s"], g["realised_error_s"])]
        cols[f"{name}: 95 % interval"] = [
            f"{lo:.2f}-{hi:.2f}" + ("" if ok else " (misses)")
            for lo, hi, ok in zip(g["ci_low_s"], g["ci_high_s"], g["covers_realised"])]
        cols = cols.set_index(keys + ["nominal (s)", "realised (s)"])
        out = cols if out is None else out.join(cols)
    return out.reset_index()


def summarise(table: pd.DataFrame, out: Path) -> None:
    """Per seed, per scale and per preset, against both truths: OUT/lags_summary.md;
    every estimate side by side: OUT/lags_wide.md."""
    if "folds" not in table:                          # a lags.csv from before --folds
        table = table.assign(folds=2)
    (out / "lags_wide.md").write_text(markdown_table(side_by_side(table)))
    table = table.assign(narrow=table["ci_high_s"] - table["ci_low_s"]
                         <= PINNED_INTERVAL_S + 1e-9)
    texts = []
    setting = ["method", "inputs", "folds"]
    truths = (("nominal", "error_s", "covers"), ("realised", "realised_error_s", "covers_realised"))
    # per seed and per scale against both truths; per preset (the issue's "error per
    # preset", seeds and scales pooled) against the realised lag
    for by, against in ((["seed"], truths), (["scale"], truths),
                        (["preset", "dimension"], truths[1:])):
        by = by + setting
        parts = []
        for target, error, covers in against:
            err = table.assign(abs_error_s=table[error].abs(),
                               ok=table[error].abs() <= 0.2 + 1e-9)
            groups = err.groupby(by, sort=False)
            summary = groups["abs_error_s"].agg(
                within_0_2_s=lambda e: f"{int((e <= 0.2 + 1e-9).sum())} / {len(e)}",
                mean_abs_error_s=lambda e: round(float(e.mean()), 3), max_abs_error_s="max")
            summary["interval_covers_truth"] = groups[covers].agg(
                lambda c: f"{int(c.sum())} / {len(c)}")
            summary["within_0_2_s_if_pinned"] = groups[["ok", "narrow"]].apply(
                lambda g: f"{int((g.ok & g.narrow).sum())} / {int(g.narrow.sum())}")
            parts.append(summary.reset_index().assign(truth=target))
        texts.append(markdown_table(pd.concat(parts, ignore_index=True)))
    text = "\n".join(texts)
    print(text)
    (out / "lags_summary.md").write_text(text)


def _folds(text: str) -> int:
    """``--folds`` values: integers of 2 or more, refused before any work."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"folds must be 2 or more, got {value}")
    return value


def _inside(value: float, interval: tuple[float, float]) -> bool:
    return bool(interval[0] - 1e-9 <= value <= interval[1] + 1e-9)


if __name__ == "__main__":
    main()
