"""Synthetic presets at the default scale: size, generation speed, ceiling, learnability.

For each dimensional preset: generate (seed 0, scale 1), extract ComParE LLDs,
and fit leave-one-speaker-out ridge regressions from 2 s-averaged LLDs to the
lag-corrected gold standard, with speaker z-normalisation and without. Prints
one table; the claim to check is "learnable, below the ceiling, and speaker
z-norm helps across speakers".

Usage::

    python benchmarks/synth_learnability.py [--scale 1.0] [--out /tmp/contaffect-synth]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from contaffect.corpus import load_corpus
from contaffect.features import extract_corpus
from contaffect.synth.generate import generate
from contaffect.synth.presets import PRESETS
from contaffect.synth.check import loso_ridge


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/contaffect-synth-bench"))
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    print(f"| preset | rec. | min of audio | synth RTF | dim | ceiling | LOSO ridge CC, speaker z-norm "
          f"| same, no norm |")
    print("|---|---|---|---|---|---|---|---|")
    for name, preset in PRESETS.items():
        t0 = time.perf_counter()
        rep = generate(name, args.out / name, scale=args.scale, seed=0, progress=False)
        synth_s = time.perf_counter() - t0
        minutes = rep["hours"] * 60
        if preset.panel is None:
            print(f"| {name} | {rep['recordings']} | {minutes:.1f} | {synth_s / (minutes * 60):.4f} "
                  f"| classes {rep['classes']} | | | |")
            continue
        corpus = load_corpus(args.out / name)
        extract_corpus(corpus, args.out / "store", workers=2, progress=False)
        table = loso_ridge(corpus, args.out / "store", lag_s=rep["true_lag_s"])
        cc = {(r.normalisation, r.dimension): r.cc for r in table.itertuples()}
        for dim in ("arousal", "valence"):
            print(f"| {name} | {rep['recordings']} | {minutes:.1f} | "
                  f"{synth_s / (minutes * 60):.4f} | {dim} | {rep['ceiling'][dim]['pooled']:.3f} | "
                  f"{cc[('speaker', dim)]:.3f} | {cc[('none', dim)]:.3f} |")


if __name__ == "__main__":
    main()
