"""The compact tables of experiments/multicorpus/README.md, from a report's summary.csv.

Every figure in that README is printed by this script from the report that
``contaffect run experiments/multicorpus/<config>.toml`` writes; nothing is typed
by hand. The full tables (every system, every selection set, intervals and
McNemar p-values) are in the report's own README.md.

Usage::

    python experiments/multicorpus/tables.py runs/multicorpus/synthetic [more reports]
    python experiments/multicorpus/tables.py --plots experiments/multicorpus REPORT ...

For each report: the system chosen on the selection set (``(selected)``) under
matched, pooled and leave-one-corpus-out training, with 95 % speaker-bootstrap
intervals and McNemar p-values against matched training; train on A / test on C with
in-domain and out-of-domain selection; the target-fraction curve; and, where the
report has ablations, the pooled / loco figures of every variant.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from contaffect.experiment.report_multicorpus import format_p as _p
from contaffect.experiment.report_multicorpus import format_uar, plot_fractions

SEL = "(selected)"


def _pick(s: pd.DataFrame, **eq):
    m = s
    for k, v in eq.items():
        m = m[m[k] == v]
    return None if m.empty else m.iloc[0]


def _md(rows: list[dict]) -> str:
    if not rows:
        return ""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r.get(c, "-")) for c in cols) + " |" for r in rows]
    return "\n".join(out) + "\n"


def protocols(s: pd.DataFrame, selection: str = "in_domain") -> str:
    """Matched / pooled / loco UAR of the selected system, per label and corpus."""
    rows = []
    s = s[(s["representation"] == SEL) & (s["selection"] == selection)]
    for lab in dict.fromkeys(s["label"]):
        for c in dict.fromkeys(s.loc[s["label"] == lab, "test"]):
            m = _pick(s, label=lab, test=c, protocol="matched")
            p = _pick(s, label=lab, test=c, protocol="pooled")
            lo = _pick(s, label=lab, test=c, protocol="loco")
            row = {"label": lab, "corpus": c, "matched": format_uar(m)}
            if p is not None:
                row.update({"pooled": format_uar(p),
                            "p pooled vs matched": _p(p["p_vs_matched"])})
            if lo is not None:
                row.update({"leave-one-out (all its speakers)": format_uar(lo),
                            "p loco vs matched": _p(lo["p_vs_matched"])})
            if m is not None:
                row["test speakers (matched)"] = int(m.get("test_speakers", 0)) or "-"
            rows.append(row)
    return _md(rows)


def table3(s: pd.DataFrame, classifier: str) -> str:
    """Seed 004's Table 3 shape: matched / pooled UAR per corpus and representation."""
    s = s[(s["classifier"] == classifier) & (s["selection"] == "in_domain")]
    rows = []
    for (lab, c), g in s.groupby(["label", "test"], sort=False):
        row = {"label": lab, "evaluation corpus": c}
        for rep in dict.fromkeys(g["representation"]):
            m = _pick(g, representation=rep, protocol="matched")
            p = _pick(g, representation=rep, protocol="pooled")
            if m is not None and p is not None:
                row[f"{rep}: matched / pooled"] = (f"{format_uar(m, interval=False)} / "
                                                   f"{format_uar(p, interval=False)}")
        if len(row) > 2:
            rows.append(row)
    return _md(rows)


def transfer(s: pd.DataFrame) -> str:
    """Train on A, test on every speaker of C: the selected system per selection set."""
    s = s[(s["protocol"] == "transfer") & (s["representation"] == SEL)]
    rows, sums = [], {}
    order = {"in_domain": 0, "pooled": 1}
    for (lab, split), g in s.groupby(["label", "split"], sort=False):
        row = {"label": lab, "train -> test": split}
        g = g.assign(_o=[order.get(v, 2) for v in g["selection"]]).sort_values("_o")
        for _, r in g.iterrows():
            name = "other corpus" if r["selection"].startswith("other:") else r["selection"]
            row[name] = f"{format_uar(r, interval=False)} ({r['params'].split(' (')[0]})"
            sums.setdefault(lab, {}).setdefault(name, []).append(100 * r["test_uar"])
        rows.append(row)
    for lab, cols in sums.items():
        rows.append({"label": lab, "train -> test": "**mean over pairs**",
                     **{k: f"{np.mean(v):.1f}" for k, v in cols.items()}})
    return _md(rows)


def fractions(s: pd.DataFrame, selection: str = "in_domain") -> str:
    """UAR of the selected system against the share of target training speakers added."""
    s = s[(s["protocol"] == "target_fraction") & (s["representation"] == SEL)
          & (s["selection"] == selection)]
    rows = []
    for (lab, t), g in s.groupby(["label", "test"], sort=False):
        row = {"label": lab, "target": t}
        for _, r in g.sort_values("fraction", na_position="last").iterrows():
            key = "matched" if not np.isfinite(r["fraction"]) else f"{r['fraction']:.0%}"
            row[key] = format_uar(r, interval=False)
        rows.append(row)
    return _md(rows)


def variants(report: Path) -> str:
    """Pooled and loco UAR of the selected system (in-domain) per variant, and their mean."""
    parts = {"main": report / "multicorpus" / "summary.csv"}
    parts.update({d.name: d / "summary.csv" for d in sorted((report / "multicorpus").iterdir())
                  if d.is_dir() and (d / "summary.csv").is_file()})
    if len(parts) == 1:
        return ""
    rows = []
    for name, path in parts.items():
        s = pd.read_csv(path)
        s = s[(s["representation"] == SEL) & (s["selection"] == "in_domain")]
        row = {"variant": name}
        for proto in ("matched", "pooled", "loco"):
            g = s[s["protocol"] == proto]
            for lab in dict.fromkeys(g["label"]):
                v = g[g["label"] == lab]["test_uar"]
                row[f"{proto} {lab} (mean over corpora)"] = f"{100 * v.mean():.1f}"
        rows.append(row)
    return _md(rows)


def plots(report: Path, out: Path) -> list[Path]:
    """The report's target-fraction plots, redrawn by the package from its summary.csv
    into ``out`` as ``<report name>_<plot>.png``."""
    s = pd.read_csv(report / "multicorpus" / "summary.csv")
    counts = pd.read_csv(report / "multicorpus" / "class_counts.csv")
    classes = {}
    for lab in dict.fromkeys(s["label"]):
        row = counts[counts["label"] == lab].dropna(axis=1, how="all")
        classes[lab] = [c for c in row.columns if c not in ("label", "corpus", "unlabelled")]
    s.attrs["classes"] = classes
    made = []
    for path in plot_fractions(s, out):
        target = out / f"{report.name}_{path.name}"
        path.replace(target)
        made.append(target)
    return made


def main(paths: list[str]) -> None:
    if paths and paths[0] == "--plots":
        out = Path(paths[1])
        out.mkdir(parents=True, exist_ok=True)
        for path in paths[2:]:
            for made in plots(Path(path), out):
                print(made)
        return
    for path in paths:
        report = Path(path)
        s = pd.read_csv(report / "multicorpus" / "summary.csv")
        print(f"# {report}\n")
        for title, text in (("matched / pooled / leave-one-corpus-out (in-domain selection)",
                             protocols(s)),
                            ("the same, selected on the pooled devel speakers",
                             protocols(s, "pooled") if (s["selection"] == "pooled").any()
                             else ""),
                            *((f"matched vs pooled per representation: {clf}",
                               table3(s, clf)) for clf in dict.fromkeys(
                                   s.loc[s["protocol"] == "pooled", "classifier"]) if clf),
                            ("train on A, test on C", transfer(s)),
                            ("target fraction (in-domain selection)", fractions(s)),
                            ("variants", variants(report))):
            if text:
                print(f"## {title}\n\n{text}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["runs/multicorpus/synthetic"])
