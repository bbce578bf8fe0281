"""Does the recording channel bias lag estimates? A preset with and without its room.

creativeit_like's valence lag was estimated early at scale 4 on most seeds
(experiments/lag/README.md). This script renders one preset on several seeds twice, as
it is and with the reverberant tail removed (``reverb_mix = 0``; band limit, noise and
gain unchanged), estimates each dimension's lag with the defaults, and prints the error
against the realised lag per seed, with the mean and its standard error per variant and
the paired difference (room minus dry, seed by seed: the latent affect and the raters
are the same in both). As a
control it also estimates the lag with the latent truth itself as the only feature (no
voice, no channel), which isolates the labels' side.

    python experiments/lag/channel_bias.py OUT [--preset creativeit_like] [--scale 4] [--seeds 0 1 2 3 4 5 6 7 8]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from contaffect.corpus import load_corpus
from contaffect.experiment.data import prepare_corpus
from contaffect.experiment.report import markdown_table
from contaffect.labels import LabelConfig
from contaffect.labels.lag import estimate_lag
from contaffect.synth.generate import generate, is_current, load_truth, realised_lags
from contaffect.synth.presets import PRESETS

DIMS = ("arousal", "valence")


def variants(name: str) -> dict:
    """The preset as it is, and without its reverberant tail."""
    preset = PRESETS[name]
    dry = dataclasses.replace(preset, channel=dataclasses.replace(preset.channel, reverb_mix=0.0))
    return {"room": preset, "dry": dry}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--preset", default="creativeit_like",
                    choices=[n for n, p in PRESETS.items() if getattr(p, "panel", None)])
    ap.add_argument("--scale", type=float, default=4.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(9)))
    args = ap.parse_args()
    if args.scale <= 0:
        ap.error(f"--scale must be positive, got {args.scale:g}")
    rows = []
    for variant, preset in variants(args.preset).items():
        for seed in args.seeds:
            folder = args.out / f"{args.preset}-{variant}-scale{args.scale:g}-seed{seed}"
            report = folder / "synth" / "report.json"
            if not (report.is_file()
                    and is_current(json.loads(report.read_text()), preset)):
                generate(preset, folder, scale=args.scale, seed=seed, progress=False,
                         overwrite=True, workers=2)
            prep = prepare_corpus(load_corpus(folder), args.out / "store", LabelConfig(lag=False),
                                  dimensions=DIMS, progress=False, workers=2)
            realised = realised_lags(folder)
            truth = {}
            for rid, x in prep.features.items():
                t, a, v = load_truth(folder, rid)
                grid = np.arange(x.shape[0]) / prep.rate
                truth[rid] = np.column_stack([np.interp(grid, t, a), np.interp(grid, t, v)])
            for j, dim in enumerate(DIMS):
                est = estimate_lag(prep.features, prep.gold[dim], prep.rate)
                control = estimate_lag({r: f[:, [j]] for r, f in truth.items()},
                                       prep.gold[dim], prep.rate, n_boot=0)
                rows.append(dict(variant=variant, seed=seed, dimension=dim,
                                 realised_s=round(realised[dim], 3), estimated_s=est.lag_s,
                                 error_s=round(est.lag_s - realised[dim], 3),
                                 ci_low_s=est.interval_s[0], ci_high_s=est.interval_s[1],
                                 held_out_cc=round(float(max(est.scores)), 3),
                                 truth_feature_error_s=round(control.lag_s - realised[dim], 3)))
            print(f"{variant} seed {seed} done", flush=True)
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "channel_bias.csv", index=False)
    summary = table.groupby(["variant", "dimension"], sort=False).agg(
        estimates=("error_s", "size"),
        mean_error_s=("error_s", lambda e: round(float(e.mean()), 3)),
        standard_error_s=("error_s", lambda e: round(float(e.std(ddof=1) / np.sqrt(len(e))), 3)),
        within_0_2_s=("error_s", lambda e: f"{int((e.abs() <= 0.2 + 1e-9).sum())} / {len(e)}"),
        mean_held_out_cc=("held_out_cc", lambda c: round(float(c.mean()), 3)),
        truth_feature_mean_error_s=("truth_feature_error_s",
                                    lambda e: round(float(e.mean()), 3))).reset_index()
    # paired: the same seed's latent affect and raters with and without the room
    errors = table.pivot_table(index=["seed", "dimension"], columns="variant", values="error_s")
    diff = (errors["room"] - errors["dry"]).groupby(level="dimension", sort=False)
    paired = pd.DataFrame({
        "room_minus_dry_mean_s": diff.mean().round(3),
        "standard_error_s": (diff.std(ddof=1) / np.sqrt(diff.size())).round(3),
        "seeds": diff.size()}).reset_index()
    text = "\n".join(markdown_table(t) for t in (table, summary, paired))
    (args.out / "channel_bias.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
