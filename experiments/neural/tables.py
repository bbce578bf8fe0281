"""The compact tables of experiments/neural/README.md, from the reports' summary.csv.

Every figure in that README is printed by this script from the reports that
``contaffect run experiments/neural/<config>.toml`` writes; nothing is typed by
hand. The full tables (every selection set, intervals, McNemar p-values) are in
each report's own README.md.

Usage::

    python experiments/neural/tables.py runs/neural/seed000_synthetic [more reports]
    python experiments/neural/tables.py --plots experiments/neural REPORT ...

Per report, by what it holds: each system under matched training (in-domain), its
transfer to every other corpus (out of domain) and pooled training (seed 000's
Tables 2-3); systems against the reference (seed 001's Table 4); leave one corpus
out (seed 003); the embeddings' silhouettes (seed 000's Fig. 2); the fusion table.
``--plots DIR`` copies the t-SNE pictures into DIR.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from contaffect.experiment.report import markdown_table
from contaffect.experiment.report_multicorpus import format_uar, reference_table

SEL = "(selected)"


def _md(rows: list[dict]) -> str:
    return markdown_table(pd.DataFrame(rows).fillna("-")) if rows else ""


def _system(r) -> str:
    return f"{r['representation']}/{r['classifier']}"


def seed000(s: pd.DataFrame) -> str:
    """Per system and test corpus: matched (in-domain), mean transfer from each other corpus
    (out of domain), pooled; UAR % with the speaker-bootstrap interval where one run."""
    s = s[(s["representation"] != SEL) & (s["selection"] == "in_domain")]
    rows = []
    for (lab, rep, clf), g in s.groupby(["label", "representation", "classifier"], sort=False):
        for test in dict.fromkeys(g["test"]):
            h = g[g["test"] == test]
            m = h[h["protocol"] == "matched"]
            p = h[h["protocol"] == "pooled"]
            t = h[h["protocol"] == "transfer"]
            row = {"label": lab, "system": f"{rep}/{clf}", "test": test,
                   "in-domain (matched)": format_uar(m.iloc[0]) if len(m) else "-"}
            for _, r in t.iterrows():
                row[f"from {r['train_corpora']}"] = format_uar(r, interval=False)
            row["pooled"] = format_uar(p.iloc[0]) if len(p) else "-"
            rows.append(row)
    return _md(rows)


def averages(s: pd.DataFrame) -> str:
    """Seed 000's averages: per system, mean UAR in-domain, out of domain, pooled."""
    s = s[(s["representation"] != SEL) & (s["selection"] == "in_domain")]
    rows = []
    for (lab, rep, clf), g in s.groupby(["label", "representation", "classifier"], sort=False):
        row = {"label": lab, "system": f"{rep}/{clf}"}
        for proto, name in (("matched", "in-domain"), ("transfer", "out of domain"),
                            ("pooled", "pooled")):
            v = g.loc[g["protocol"] == proto, "test_uar"]
            row[f"{name} mean UAR %"] = f"{100 * v.mean():.1f}" if len(v) else "-"
        rows.append(row)
    return _md(rows)


def reference(report: Path, s: pd.DataFrame) -> str:
    """Every system against the reference's matched training (McNemar)."""
    import json

    ref = ""
    cfg = report / "config.json"
    if cfg.is_file():
        ref = (json.loads(cfg.read_text()).get("multicorpus") or {}).get("reference", "")
    if not ref or "p_vs_reference" not in s:
        return ""
    t = reference_table(s, ref)
    # target_fraction's own "matched <t>" splits repeat the matched protocol's rows
    t = t[(t["selection"] == "in_domain") & ~((t["protocol"] == "target_fraction")
                                             & t["split"].str.startswith("matched"))]
    t = t.drop(columns=["selection"])
    return _md(t.to_dict("records"))


def loco(s: pd.DataFrame) -> str:
    """Leave one corpus out beside matched training, per system (seed 003)."""
    s = s[(s["representation"] != SEL) & (s["selection"] == "in_domain")]
    rows = []
    for (lab, rep, clf), g in s.groupby(["label", "representation", "classifier"], sort=False):
        for test in dict.fromkeys(g["test"]):
            h = g[g["test"] == test]
            m, lo = h[h["protocol"] == "matched"], h[h["protocol"] == "loco"]
            if not len(lo):
                continue
            rows.append({"label": lab, "held-out corpus": test, "system": f"{rep}/{clf}",
                         "trained on": lo.iloc[0]["train_corpora"],
                         "loco UAR %": format_uar(lo.iloc[0]),
                         "matched UAR %": format_uar(m.iloc[0]) if len(m) else "-"})
    return _md(rows)


def silhouettes(report: Path) -> str:
    path = report / "multicorpus" / "embeddings_tsne.csv"
    if not path.is_file():
        return ""
    e = pd.read_csv(path)
    rows = [{"label": lab, "network": f"{rep}/{clf}", "test utterances": len(g),
             "silhouette by corpus": f"{g['silhouette_corpus'].iloc[0]:.3f}",
             "silhouette by class": f"{g['silhouette_class'].iloc[0]:.3f}"}
            for (lab, rep, clf), g in e.groupby(["label", "representation", "classifier"],
                                                sort=False)]
    return _md(rows)


def fusion(report: Path) -> str:
    """The fusion table and the components' devel / test UAR, from the report's CSVs."""
    out = []
    for path in sorted(report.glob("fusion_*.csv")):
        if path.stem.endswith(("_predictions", "_weights")):
            continue
        t = pd.read_csv(path)
        keep = [c for c in t.columns if c in ("system", "devel_uar", "test_uar")]
        rows = [{k: (f"{v:.1f}" if isinstance(v, float) and np.isfinite(v) else v)
                 for k, v in r.items()} for _, r in t[keep].iterrows()]
        out.append(f"`{path.name}`\n\n" + _md(rows))
    return "\n".join(out)


def main(argv: list[str]) -> None:
    plots = None
    if argv[:1] == ["--plots"]:
        plots, argv = Path(argv[1]), argv[2:]
    for arg in argv:
        report = Path(arg)
        print(f"## {report}\n")
        path = report / "multicorpus" / "summary.csv"
        if path.is_file():
            s = pd.read_csv(path)
            protos = set(s["protocol"])
            if "transfer" in protos or "pooled" in protos:
                print(averages(s))
                print(seed000(s))
            print(reference(report, s))
            if "loco" in protos:
                print(loco(s))
            print(silhouettes(report))
            if plots is not None:
                for png in sorted((report / "multicorpus").glob("tsne_*.png")):
                    shutil.copy(png, plots / f"{report.name}_{png.name}")
        print(fusion(report))


if __name__ == "__main__":
    main(sys.argv[1:])
