"""The cross-task tables of experiments/real/README.md from a report's crosstask_runs.csv.

    python experiments/real/crosstask_table.py runs/real/crosstask_ravdess/crosstask_runs.csv

One row per label, source and model: train UAR and devel UAR (mean and sd over seeds, %),
each as it is and after the post-processing chosen on the source's validation corpus (pp).
"""

import sys

import pandas as pd

CHANCE = {"arousal": "50 %", "valence": "33 %"}
ORDER = {"arousal": 0, "valence": 1, "arousal+valence": 2}


def main(path: str) -> str:
    r = pd.read_csv(path)
    r["base"] = r["model"].str.replace(r"_pp$", "", regex=True)
    out = ["| label (chance) | source | model | train UAR | devel UAR (± sd over seeds) | "
           "train UAR pp | devel UAR pp (± sd) |", "|---|---|---|---|---|---|---|"]
    keys = sorted(r.groupby(["label", "source", "base"]).groups,
                  key=lambda k: (k[0], k[1], ORDER.get(k[2], len(ORDER))))
    for label, src, model in keys:
        g = r[(r.label == label) & (r.source == src) & (r.base == model)]
        cells = []
        for pp in (False, True):
            h = g[g.postprocessed == pp]
            train = h[h.partition == "train"].uar.mean() * 100
            devel = h[h.partition == "devel"].uar * 100
            cells += [f"{train:.1f}", f"{devel.mean():.1f} ± {devel.std():.1f}"]
        out.append(f"| {label} ({CHANCE.get(label, '?')}) | {src} | {model} | "
                   + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    print(main(sys.argv[1]))
