"""Gold standards against the latent truth: mean, EWE, DBA and RAAW on the synthetic presets.

Generates every synthetic preset that has a rater panel (``recola_like``,
``semaine_like``, ``creativeit_like``) into ``FOLDER/<preset>`` (or reuses it when
it already holds that preset at this scale and seed), fuses every recording's
raters with each method exactly as an experiment does (resample to 25 Hz -> fuse
-> shift by the panel's true mean lag), and prints the CC of each gold standard
with the latent truth (mean over recordings, and on the concatenation), then the
inter-rater agreement of each preset (Cronbach's alpha, mean pairwise CC / CCC).
Nothing is fit or tuned: band and iterations are the ``[labels]`` defaults.

Usage::

    python experiments/raters/gold_vs_truth.py FOLDER [--scale 1.0] [--seed 0]

Writes ``FOLDER/gold_vs_truth.md`` (the tables printed), ``FOLDER/gold_vs_truth.csv``
and ``FOLDER/agreement.csv``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from contaffect.corpus import load_corpus
from contaffect.labels.agreement import agreement_table
from contaffect.labels.processing import LabelConfig
from contaffect.synth.gold_check import METHODS, gold_vs_truth
from contaffect.synth.presets import PRESETS

PANELLED = [name for name, p in PRESETS.items() if getattr(p, "panel", None) is not None]


def _cc_table(df: pd.DataFrame, column: str, methods: list[str]) -> str:
    head = "| preset | dimension | " + " | ".join(methods) + " |"
    lines = [head, "|---|---|" + "---|" * len(methods)]
    for (preset, dim), g in df.groupby(["preset", "dimension"], sort=False):
        vals = g.set_index("method")[column]
        best = vals.max()
        cells = [f"**{vals[m]:.3f}**" if vals[m] == best else f"{vals[m]:.3f}" for m in methods]
        lines.append(f"| {preset} | {dim} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _agreement_summary(table: pd.DataFrame, preset: str) -> list[str]:
    lines = []
    for dim, g in table.groupby("dimension", sort=False):
        lines.append(f"| {preset} | {dim} | {len(g)} | {int(g.n_raters.median())} | "
                     f"{g.alpha.mean():.3f} ({g.alpha.min():.3f}-{g.alpha.max():.3f}) | "
                     f"{g.mean_pairwise_cc.mean():.3f} | {g.mean_pairwise_ccc.mean():.3f} |")
    return lines


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="where the presets are generated (or reused)")
    ap.add_argument("--scale", type=float, default=1.0, help="preset size (1 = the demo's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--presets", nargs="+", default=PANELLED, choices=PANELLED)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    cfg = LabelConfig()
    frames, agreements, agree_lines = [], [], []
    for name in args.presets:
        folder = args.folder / name
        frames.append(gold_vs_truth(name, folder, scale=args.scale, seed=args.seed,
                                    methods=args.methods, progress=True))
        table = agreement_table(load_corpus(folder), ("arousal", "valence"))
        table.insert(0, "preset", name)
        agreements.append(table)
        agree_lines += _agreement_summary(table, name)
    df = pd.concat(frames, ignore_index=True)
    seconds = time.perf_counter() - t0
    timing = df.groupby("method", sort=False)["seconds"].sum()
    md = "\n".join([
        f"Gold standard vs latent truth: Pearson CC, scale {args.scale:g}, seed {args.seed}, "
        f"25 Hz, lag = the panel's true mean lag, dtw_band_s = {cfg.dtw_band_s:g}, "
        f"dba_iterations = {cfg.dba_iterations} (best of a row in bold).",
        "",
        "CC per recording (mean over recordings):",
        "",
        _cc_table(df, "cc_mean_rec", args.methods),
        "",
        "CC on the concatenation of all recordings:",
        "",
        _cc_table(df, "cc_concat", args.methods),
        "",
        "Inter-rater agreement (per recording, on the raters resampled to 25 Hz; alpha as "
        "mean (min-max) over recordings):",
        "",
        "| preset | dimension | recordings | raters | Cronbach's alpha | mean pairwise CC "
        "| mean pairwise CCC |",
        "|---|---|---|---|---|---|---|",
        *agree_lines,
        "",
        "Time spent making gold standards (all presets, both dimensions): "
        + ", ".join(f"{m} {timing[m]:.1f} s" for m in args.methods)
        + f"; whole run {seconds / 60:.1f} min (generation included).",
    ])
    args.folder.mkdir(parents=True, exist_ok=True)
    (args.folder / "gold_vs_truth.md").write_text(md + "\n")
    df.to_csv(args.folder / "gold_vs_truth.csv", index=False)
    pd.concat(agreements, ignore_index=True).to_csv(args.folder / "agreement.csv", index=False)
    print(md)
    return md


if __name__ == "__main__":
    main()
