"""Report of the ``[multicorpus]`` part: harmonisation, protocol tables, curves, statistics.

Files (in ``<report>/multicorpus/``): ``results.csv`` (every fold and
system), ``summary.csv`` (over folds, with bootstrap intervals and McNemar
p-values), ``predictions.csv``, ``class_counts.csv``, ``mapping.csv``,
``speaker_coverage.csv`` and ``target_fraction_<label>.png``. Tables in the
report give UAR in % with the 95 % speaker-bootstrap interval, the shape of
seed 004's Table 3 (matched vs pooled), seed 003's leave-one-corpus-out and
target-fraction figures, and in-domain vs out-of-domain selection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from contaffect.experiment.report import markdown_table, write_table


#: a speaker bootstrap over fewer test speakers than this is marked: it says little
FEW_SPEAKERS = 5


def format_uar(r, interval: bool = True) -> str:
    """UAR in % (± sd over folds) of a summary row, with its bootstrap interval.

    An interval resampled from fewer than :data:`FEW_SPEAKERS` test speakers is
    marked ``*``: with two or three speakers there are only a handful of distinct
    resamples, and the interval is far too narrow.
    """
    if r is None or not np.isfinite(r["test_uar"]):
        return "-"
    text = f"{100 * r['test_uar']:.1f}"
    if r.get("folds", 1) > 1 and np.isfinite(r.get("test_uar_sd", np.nan)):
        text += f" ± {100 * r['test_uar_sd']:.1f}"
    if interval and "ci_low" in r and np.isfinite(r["ci_low"]):
        text += f" [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]"
        if r.get("test_speakers", FEW_SPEAKERS) < FEW_SPEAKERS:
            text += "*"
    return text


def format_p(v) -> str:
    """A p-value for a table (``<0.001`` below that, ``-`` when missing)."""
    return "-" if v is None or not np.isfinite(v) else ("<0.001" if v < 0.001 else f"{v:.3f}")


def _system(r) -> str:
    return r["representation"] if r["representation"] == "(selected)" \
        else f"{r['representation']}/{r['classifier']}"


def _one(frame: pd.DataFrame, **eq):
    m = frame
    for k, v in eq.items():
        m = m[m[k] == v]
    return None if m.empty else m.iloc[0].to_dict()


def matched_vs_pooled(summary: pd.DataFrame) -> pd.DataFrame:
    """Seed 004's Table 3: per test corpus and system, matched vs pooled training."""
    rows = []
    s = summary
    for (lab, sel), g in s[s["protocol"].isin(["matched", "pooled"])].groupby(
            ["label", "selection"], sort=False):
        if "pooled" in set(s["protocol"]) and not (g["protocol"] == "pooled").any():
            continue          # a selection set of matched training only (`other:<B>`)
        for (test, rep, clf), h in g.groupby(["test", "representation", "classifier"],
                                              sort=False):
            m = _one(h, protocol="matched")
            p = _one(h, protocol="pooled")
            rows.append({"label": lab, "selection": sel, "evaluation corpus": test,
                         "system": _system((m or p)), "matched UAR %": format_uar(m),
                         "pooled UAR %": format_uar(p),
                         "p (pooled vs matched)": format_p(p["p_vs_matched"]) if p else "-",
                         "p (vs best matched)": format_p(p["p_vs_best_matched"]) if p else "-"})
    return pd.DataFrame(rows)


def loco_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Seed 003's leave-one-corpus-out: every speaker of the held-out corpus."""
    s = summary[summary["protocol"] == "loco"]
    return pd.DataFrame([{"label": r["label"], "selection": r["selection"],
                          "held-out corpus": r["test"], "trained on": r["train_corpora"],
                          "system": _system(r), "UAR %": format_uar(r), "n": r["n"],
                          "p vs matched": format_p(r["p_vs_matched"])}
                         for _, r in s.iterrows()])


def transfer_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Train on A, test on C: the same systems selected in-domain and out of domain."""
    s = summary[summary["protocol"] == "transfer"]
    rows = []
    for (lab, split, rep, clf), g in s.groupby(["label", "split", "representation",
                                                 "classifier"], sort=False):
        row = {"label": lab, "train -> test": split, "system": _system(g.iloc[0])}
        for _, r in g.iterrows():
            row[f"{r['selection']} UAR %"] = format_uar(r)
        rows.append(row)
    return pd.DataFrame(rows).fillna("-")


def reference_table(summary: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Every system against the reference under matched training (seed 001's Table 4).

    One row per protocol, split, test corpus and system: its UAR, the reference's
    matched UAR on the same test corpus and selection set, and McNemar's p; a mark
    ``+`` / ``-`` where p < 0.05 and the system is better / worse.
    """
    if "p_vs_reference" not in summary or not reference:
        return pd.DataFrame()
    rep, _, clf = reference.rpartition("/")
    s = summary[summary["representation"] != "(selected)"]
    ref = s[(s["protocol"] == "matched") & (s["representation"] == rep)
            & (s["classifier"] == clf)]
    rows = []
    for _, r in s.iterrows():
        m = _one(ref, label=r["label"], test=r["test"], selection=r["selection"])
        if m is None or (r["protocol"] == "matched" and _system(r) == reference):
            continue
        p = r["p_vs_reference"]
        mark = ""
        if np.isfinite(p) and p < 0.05:
            mark = " +" if r["test_uar"] > m["test_uar"] else " -"
        rows.append({"label": r["label"], "selection": r["selection"],
                     "protocol": r["protocol"], "split": r["split"], "test": r["test"],
                     "system": _system(r), "UAR %": format_uar(r, interval=False),
                     f"{reference} matched %": format_uar(m, interval=False),
                     "p": format_p(p) + mark})
    return pd.DataFrame(rows)


def _fraction_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """Target-fraction rows of the (label, selection, target) groups that have a curve.

    A selection set can exist for the matched reference alone (``other:<B>``:
    with every corpus but the target in training, no third corpus is left for
    the fractions); such groups have no curve and are left out.
    """
    s = summary[summary["protocol"] == "target_fraction"]
    if s.empty:
        return s
    finite = np.isfinite(s["fraction"].astype(float))
    keys = ["label", "selection", "test"]
    curved = set(map(tuple, s.loc[finite, keys].drop_duplicates().to_numpy().tolist()))
    return s[[tuple(k) in curved for k in s[keys].to_numpy().tolist()]]


def fraction_table(summary: pd.DataFrame) -> pd.DataFrame:
    """UAR (%) against the target fraction, per target and system, matched beside it."""
    s = _fraction_rows(summary)
    rows = []
    for (lab, sel, test, rep, clf), g in s.groupby(["label", "selection", "test",
                                                     "representation", "classifier"],
                                                    sort=False):
        row = {"label": lab, "selection": sel, "target": test, "system": _system(g.iloc[0])}
        for _, r in g.sort_values("fraction", na_position="last").iterrows():
            key = "matched" if not np.isfinite(r["fraction"]) else f"{r['fraction']:.0%}"
            row[key] = f"{100 * r['test_uar']:.1f}"
        rows.append(row)
    return pd.DataFrame(rows)


def plot_fractions(summary: pd.DataFrame, out: Path) -> list[Path]:
    """UAR against the share of target training speakers added; matched training dashed.

    The system chosen on the selection set at each point is drawn bold in black with
    its speaker-bootstrap band; every system's own curve is drawn thin behind it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = _fraction_rows(summary)
    paths = []
    for (lab, sel), g in s.groupby(["label", "selection"], sort=False):
        targets = list(dict.fromkeys(g["test"]))
        fig, axes = plt.subplots(1, len(targets), figsize=(5 * len(targets), 3.8), squeeze=False)
        for ax, t in zip(axes[0], targets):
            h = g[g["test"] == t]
            systems = [k for k in dict.fromkeys(zip(h["representation"], h["classifier"]))
                       if k[0] != "(selected)"] + [("(selected)", "")]
            for i, (rep, clf) in enumerate(systems):
                chosen = rep == "(selected)"
                k = h[(h["representation"] == rep) & ((h["classifier"] == clf) | chosen)]
                color = "black" if chosen else f"C{i % 10}"
                curve = k[np.isfinite(k["fraction"].astype(float))].sort_values("fraction")
                x = 100 * curve["fraction"].astype(float)
                ax.plot(x, 100 * curve["test_uar"], "o-" if chosen else ".-", color=color,
                        lw=2.2 if chosen else 0.9, alpha=1.0 if chosen else 0.7, ms=4,
                        label="chosen on the selection set" if chosen else f"{rep}/{clf}",
                        zorder=3 if chosen else 2)
                if chosen and "ci_low" in curve:
                    ax.fill_between(x, 100 * curve["ci_low"], 100 * curve["ci_high"],
                                    color="black", alpha=0.12, lw=0)
                m = k[~np.isfinite(k["fraction"].astype(float))]
                if len(m):
                    ax.axhline(100 * m["test_uar"].iloc[0], color=color, ls="--",
                               lw=1.6 if chosen else 0.7, alpha=1.0 if chosen else 0.6)
            chance = 100 / max(1, len(summary.attrs.get("classes", {}).get(lab, [])) or 2)
            ax.axhline(chance, color="grey", ls=":", lw=1)
            ax.set(title=f"target {t} ({lab}; dashed: matched)", xlabel="target training "
                   "speakers added (%)", ylabel="test UAR (%)")
            ax.legend(fontsize=7)
        fig.tight_layout()
        suffix = "" if sel == "in_domain" else "_" + sel.replace(":", "-")
        path = out / f"target_fraction_{lab}{suffix}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_embeddings(emb: pd.DataFrame, out: Path) -> list[Path]:
    """Seed 000's Fig. 2: per network, t-SNE coloured by corpus (left) and by class (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    if emb.empty:
        return paths
    for (lab, rep, clf), g in emb.groupby(["label", "representation", "classifier"],
                                          sort=False):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
        for ax, col, title in ((axes[0], "corpus", "by corpus"), (axes[1], "cls",
                                                                 f"by {lab} class")):
            for i, (v, h) in enumerate(g.groupby(col, sort=True)):
                ax.scatter(h["x"], h["y"], s=9, alpha=0.75, color=f"C{i % 10}", label=str(v),
                           lw=0)
            sil = g["silhouette_corpus" if col == "corpus" else "silhouette_class"].iloc[0]
            ax.set(title=f"{clf} on {rep}: {title} (silhouette {sil:.2f})", xticks=[],
                   yticks=[])
            ax.legend(fontsize=7, markerscale=1.5)
        fig.suptitle("t-SNE of the pooled embeddings, pooled training, test speakers of "
                     "every corpus", fontsize=9)
        fig.tight_layout()
        path = out / f"tsne_{lab}_{rep}_{clf}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def embeddings_table(emb: pd.DataFrame) -> pd.DataFrame:
    """Silhouette of each network's embedding by corpus and by class (higher: tighter)."""
    if emb.empty:
        return pd.DataFrame()
    g = emb.groupby(["label", "representation", "classifier"], sort=False)
    return g.agg(utterances=("index", "size"), silhouette_by_corpus=("silhouette_corpus",
                                                                       "first"),
                 silhouette_by_class=("silhouette_class", "first")).reset_index()


def variants_table(parts) -> pd.DataFrame:
    """The system chosen on each selection set, per variant side by side (UAR %)."""
    rows: dict = {}
    for part in parts:
        s = part.summary
        for _, r in s[s["representation"] == "(selected)"].iterrows():
            key = (r["label"], r["protocol"], r["split"], r["selection"], r["test"])
            rows.setdefault(key, dict(zip(["label", "protocol", "split", "selection", "test"],
                                          key)))[part.variant] = format_uar(r)
    return pd.DataFrame(list(rows.values()))


def write_multicorpus(out: Path, parts) -> list[str]:
    """Every file of the main part (and of each ablation in ``multicorpus/<name>/``), and the
    report's Markdown: full tables for the main configuration, the selected systems of every
    variant side by side."""
    parts = parts if isinstance(parts, (list, tuple)) else [parts]
    md = _write_part(out, parts[0])
    for part in parts[1:]:
        d = out / "multicorpus" / part.variant
        d.mkdir(parents=True, exist_ok=True)
        write_table(part.results, d, "results")
        write_table(part.summary, d, "summary")
    if len(parts) > 1:
        md += ["\n### Ablations: the system chosen on the selection set, per variant (UAR %)\n",
               markdown_table(variants_table(parts))]
    return md


def _counts_tables(counts: pd.DataFrame) -> list[str]:
    """One Markdown table per label, with that label's classes only, as integers."""
    out = []
    for lab, g in counts.groupby("label", sort=False):
        g = g.dropna(axis=1, how="all").drop(columns="label")
        num = [c for c in g.columns if c != "corpus"]
        out += [f"\n`{lab}`\n\n", markdown_table(g.astype({c: int for c in num}))]
    return out


def _write_part(out: Path, part) -> list[str]:
    d = out / "multicorpus"
    d.mkdir(parents=True, exist_ok=True)
    part.summary.attrs["classes"] = part.classes
    write_table(part.results, d, "results")
    write_table(part.summary, d, "summary")
    part.predictions.to_csv(d / "predictions.csv", index=False)
    write_table(part.class_counts, d, "class_counts")
    write_table(part.coverage, d, "speaker_coverage")
    if not part.mapping.empty:
        write_table(part.mapping, d, "mapping")
    md = ["\n## Multi-corpus protocols\n",
          "UAR in % on the test speakers, with the 95 % speaker-bootstrap interval "
          "(or mean ± sd over folds, then the interval of all folds' predictions). p: "
          "McNemar's exact test on the utterances both systems predicted. "
          "`(selected)`: the system chosen on the selection set. Files: `multicorpus/`.\n",
          f"`*`: interval from fewer than {FEW_SPEAKERS} test speakers (too few for a "
          "speaker bootstrap to mean much).\n",
          "\n### Harmonised labels: utterances per corpus and class\n",
          *_counts_tables(part.class_counts)]
    if not part.mapping.empty:
        dropped = part.mapping[part.mapping["reason"].astype(str) != ""] \
            if "reason" in part.mapping else pd.DataFrame()
        if len(dropped):
            md += ["\nCategories left out of a label, and why:\n", markdown_table(dropped)]
    cov = part.coverage.groupby(["label", "corpus"], sort=False).agg(
        speakers=("speaker", "size"), one_class_speakers=("classes", lambda c: int((c < 2).sum())),
        median_classes=("classes", "median")).reset_index()
    md += ["\n### Speaker class coverage (speaker z-norm assumes each speaker shows a range)\n",
           markdown_table(cov, "{:.1f}")]
    md += [f"\n> {w}\n" for w in part.warnings]
    for title, table in (("Matched vs pooled training (the shape of seed 004's Table 3)",
                          matched_vs_pooled(part.summary)),
                         ("Leave one corpus out (seed 003)", loco_table(part.summary)),
                         ("Train on A, test on C: selection in-domain vs out of domain",
                          transfer_table(part.summary)),
                         ("Target fraction (seed 003): UAR % against the share of the "
                          "target's training speakers added", fraction_table(part.summary)),
                         (f"Against the reference {part.reference} trained from scratch on "
                          "the test corpus (McNemar; +/-: better / worse at p < 0.05, the "
                          "shape of seed 001's Table 4)",
                          reference_table(part.summary, part.reference))):
        if len(table):
            md += [f"\n### {title}\n", markdown_table(table)]
    for path in plot_fractions(part.summary, d):
        md.append(f"\n![{path.stem}](multicorpus/{path.name})\n")
    if not part.embeddings.empty:
        part.embeddings.to_csv(d / "embeddings_tsne.csv", index=False)
        md += ["\n### Pooled embeddings (seed 000, Fig. 2)\n",
               "Silhouette of each network's embedding of the test utterances, grouped by "
               "corpus and by class (-1 .. 1; higher: the embedding clusters that way). "
               "Seed 000 found its LSTM clustering by corpus, its CNNs less so.\n",
               markdown_table(embeddings_table(part.embeddings), "{:.3f}")]
        for path in plot_embeddings(part.embeddings, d):
            md.append(f"\n![{path.stem}](multicorpus/{path.name})\n")
    return md
