"""Experiment reports: tables (Markdown, CSV, JSON), versions, seeds, plots."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from contaffect.experiment.predictions import write_prediction_tables


def versions() -> dict[str, str]:
    """Versions of contaffect, Python and the libraries that change numbers."""
    import h5py
    import opensmile
    import scipy
    import sklearn
    import torch

    from contaffect import __version__

    return {"contaffect": __version__, "python": sys.version.split()[0],
            "platform": platform.platform(), "numpy": np.__version__, "scipy": scipy.__version__,
            "torch": torch.__version__, "opensmile": opensmile.__version__,
            "scikit-learn": sklearn.__version__, "h5py": h5py.__version__,
            "pandas": pd.__version__, **hardware()}


def hardware() -> dict[str, str]:
    """Where torch ran: CUDA devices (or none), CPU cores available, DDP processes."""
    import torch

    from contaffect.models import distributed
    from contaffect.threads import available_cores

    cuda = (", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
            if torch.cuda.is_available() else "none")
    return {"cuda_devices": cuda, "cpu_cores_available": f"{available_cores():g}",
            "ddp_processes": str(distributed.world_size())}


def markdown_table(frame: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    """A GitHub Markdown table (no extra dependency)."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(str(c) for c in cols) + " |",
             "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = [floatfmt.format(v) if isinstance(v, (float, np.floating)) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(frame: pd.DataFrame, out: Path, stem: str, title: str = "") -> None:
    """``stem.csv``, ``stem.json`` and ``stem.md``."""
    frame.to_csv(out / f"{stem}.csv", index=False)
    (out / f"{stem}.json").write_text(frame.to_json(orient="records", indent=2))
    (out / f"{stem}.md").write_text((f"## {title}\n\n" if title else "") + markdown_table(frame))


#: How the two CCC conventions are named in every table (see :func:`contaffect.metrics.trace_scores`).
CONVENTIONS = (
    "Columns without a suffix are computed on the **concatenation** of all test recordings "
    "(the paper's and AVEC 2016's convention); `_rec` columns are the **mean over test "
    "recordings** of each recording's CC or CCC (the per-session convention). Frames "
    "without a label are left out of both.\n")


def table1(rows: pd.DataFrame) -> pd.DataFrame:
    """Table 1 of Kaya, Fedotov et al. (2018): mean (and std) over seeds per assignment."""
    keys = ["train", "val", "test", "dimension"]
    metrics = ["val_cc_epoch1", "test_cc_epoch1", "val_cc_best", "test_cc_best", "test_ccc_best",
               "test_cc_best_rec", "test_ccc_best_rec"]
    metrics = [m for m in metrics if m in rows] + [c for c in rows if c.startswith("test_")
                                                   and c.endswith("_pp")] + ["best_epoch"]
    grouped = rows.groupby(keys, sort=False)[metrics]
    mean = grouped.mean().reset_index()
    if rows["seed"].nunique() == 1:
        mean["best_epoch"] = mean["best_epoch"].astype(int)
    else:
        std = grouped.std().reset_index()
        for m in metrics[:-1]:
            mean[f"{m}_std"] = std[m]
    return mean


#: The measures of the ablation table, in both CCC conventions (see CONVENTIONS).
ABLATION_MEASURES = ("test_cc_best", "test_ccc_best", "test_cc_best_rec", "test_ccc_best_rec")


def ablation_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean over assignments and seeds of every test measure, per variant and dimension.

    Both conventions (concatenation and ``_rec``) and, where the run
    post-processed, their ``_pp`` counterparts; variants in configuration order.
    """
    measures = [m for m in ABLATION_MEASURES if m in rows]
    measures += [f"{m}_pp" for m in measures if f"{m}_pp" in rows]
    ab = rows.groupby(["variant", "dimension"], sort=False)[measures].mean().reset_index()
    order = {v: i for i, v in enumerate(dict.fromkeys(rows["variant"]))}
    return ab.sort_values("variant", key=lambda v: v.map(order), kind="stable").reset_index(
        drop=True)


def plot_predictions(result, out: Path, n_recordings: int = 3) -> list[Path]:
    """Predicted (best epoch) vs gold traces for a few test recordings, and CC per recording."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    tag = f"{result.train}-{result.val}-{result.test}"
    for j, dim in enumerate(result.dims):
        gold = result.gold[dim]
        ids = list(gold)[:n_recordings]
        fig, axes = plt.subplots(len(ids), 1, figsize=(11, 2.4 * len(ids)), squeeze=False)
        for ax, rid in zip(axes[:, 0], ids):
            g = gold[rid]
            p = np.asarray(result.predictions["best"][rid])
            p = p[:, j] if p.ndim == 2 else p
            t = np.arange(g.size) / result.rate
            ax.plot(t, g, color="tab:red", lw=1.3, label="gold (test corpus)")
            ax.plot(t, p, color="tab:blue", lw=1.0, label="prediction (best epoch)")
            cc = result.scores["best"][dim]["cc_per_recording"][rid]
            ax.set_title(f"{rid}: CC {cc:.3f}", fontsize=9)
            ax.set_ylabel(dim)
            ax.grid(alpha=0.3)
        axes[0, 0].legend(fontsize=8, loc="upper right")
        axes[-1, 0].set_xlabel("time (s)")
        fig.suptitle(f"train {result.train}, epoch by {result.val}, test {result.test}")
        fig.tight_layout()
        path = out / f"traces_{tag}_{dim}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)

        per = result.scores["best"][dim]["cc_per_recording"]
        fig, ax = plt.subplots(figsize=(max(5, 0.35 * len(per)), 3))
        ax.bar(range(len(per)), list(per.values()), color="tab:blue")
        ax.axhline(result.scores["best"][dim]["cc"], color="k", ls="--", lw=1, label="pooled CC")
        ax.set_xticks(range(len(per)), list(per), rotation=90, fontsize=6)
        ax.set_ylabel(f"{dim} CC")
        ax.set_title(f"CC per test recording: {tag}", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"cc_per_recording_{tag}_{dim}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, default=str))


def table4(rows: pd.DataFrame) -> pd.DataFrame:
    """Table 4 of Kaya, Fedotov et al. (2018): WAR / UAR (%) per source and model, per partition.

    ``rows`` has one row per seed, label, source, model and partition (the
    output of the cross-task runner); the result has one row per label,
    source and model, with ``<partition> WAR`` / ``<partition> UAR`` columns
    (means over seeds, in percent) and the chance UAR.
    """
    keys = ["label", "source", "val", "model"]
    parts = list(dict.fromkeys(rows["partition"]))
    mean = rows.groupby(keys + ["partition"], sort=False)[["war", "uar"]].mean() * 100
    wide = mean.unstack("partition")
    out = pd.DataFrame(index=wide.index)
    for p in parts:
        out[f"{p} WAR"] = wide[("war", p)]
        out[f"{p} UAR"] = wide[("uar", p)]
    chance = rows.groupby(keys, sort=False)["chance_uar"].first() * 100
    out["chance UAR"] = chance
    if rows["seed"].nunique() > 1:
        sd = rows.groupby(keys + ["partition"], sort=False)["uar"].std().unstack("partition") * 100
        for p in parts:
            out[f"{p} UAR sd"] = sd[p]
    return out.reset_index()


def plot_confusions(confusions: dict[tuple, np.ndarray], classes: list[str], path: Path,
                    title: str) -> Path:
    """A grid of row-normalised confusion matrices (recall %, counts in brackets).

    ``confusions`` maps ``(row label, column label)`` -> counts; rows of the grid
    are the first key, columns the second.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(dict.fromkeys(k[0] for k in confusions))
    cols = list(dict.fromkeys(k[1] for k in confusions))
    k = len(classes)
    size = max(2.6, 1.0 + 0.55 * k)         # room for the titles with two classes
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(size * len(cols) + 1, size * len(rows)),
                             squeeze=False)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            ax = axes[i, j]
            m = confusions.get((r, c))
            if m is None:
                ax.axis("off")
                continue
            rec = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
            ax.imshow(rec, vmin=0, vmax=1, cmap="Blues")
            for a in range(k):
                for b in range(k):
                    ax.text(b, a, f"{100 * rec[a, b]:.0f}\n({m[a, b]})", ha="center",
                            va="center", fontsize=7,
                            color="white" if rec[a, b] > 0.6 else "black")
            uar_ = np.mean([rec[a, a] for a in range(k) if m[a].sum() > 0])
            ax.set_xticks(range(k), classes, fontsize=7)
            ax.set_yticks(range(k), classes, fontsize=7)
            ax.set_title(f"{r}\n{c}: UAR {100 * uar_:.1f}%", fontsize=8)
            if i == len(rows) - 1:
                ax.set_xlabel("predicted", fontsize=7)
            if j == 0:
                ax.set_ylabel("true", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def postprocess_table(steps: pd.DataFrame) -> pd.DataFrame:
    """Mean test CC / CCC over assignments and seeds after each prefix of the chain."""
    main = steps[steps["variant"] == "main"]
    cols = ["test_cc", "test_ccc", "test_cc_rec", "test_ccc_rec"]
    out = main.groupby(["dimension", "steps"], sort=False)[cols].mean().reset_index()
    for c in ("test_cc", "test_ccc"):
        out[f"gain_{c[5:]}"] = out.groupby("dimension")[c].diff()
    return out


def write_postprocess(out: Path, steps: pd.DataFrame, rows: pd.DataFrame) -> list[str]:
    """The per-step ablation of the post-processing and the settings chosen on validation."""
    steps.to_csv(out / "postprocess_runs.csv", index=False)
    table = postprocess_table(steps)
    write_table(table, out, "postprocess", "Test CC / CCC after each post-processing step")
    chosen = [c for c in ("train", "val", "test", "dimension", "seed", "pp_window_s", "pp_centre",
                          "pp_scale", "pp_shift_s", "val_score_before_pp", "val_score_after_pp")
              if c in rows]
    main = rows[rows["variant"] == "main"][chosen]
    write_table(main, out, "postprocess_settings",
                "Post-processing chosen on the validation corpus")
    return ["\n## Post-processing (AVEC 2016 chain, chosen on the validation corpus)\n",
            "Mean over assignments and seeds; each row adds one step, its parameters chosen on "
            "the validation corpus (a step is kept only if it raises the validation CCC). "
            "`gain_*` is the change from the row above. Settings per model: "
            "`postprocess_settings.csv`.\n", markdown_table(table)]


def ceiling_distance(rows: pd.DataFrame, ceilings: dict) -> pd.DataFrame:
    """CC of the test corpus' gold standard with the latent truth, minus the model's test CC."""
    main = rows[rows["variant"] == "main"]
    have = [c for c in ("test_cc_best", "test_cc_best_pp") if c in main]
    out = main.groupby(["test", "dimension"], sort=False)[have].mean().reset_index()
    out = out[out["test"].isin(ceilings)]
    out.insert(2, "ceiling", [ceilings[t][d]["pooled"] for t, d in zip(out["test"],
                                                                        out["dimension"])])
    for c in have:
        out[f"distance{c[12:]}"] = out["ceiling"] - out[c]
    return out


def write_agreement(out: Path, agreement: pd.DataFrame) -> list[str]:
    """``rater_agreement.csv/json`` (per recording) and a per-corpus summary."""
    cols = ["corpus"] + [c for c in agreement if c != "corpus"]
    write_table(agreement[cols], out, "rater_agreement", "Inter-rater agreement per recording")
    summary = (agreement.groupby(["corpus", "dimension"], sort=False)
               .agg(recordings=("recording", "size"), raters=("n_raters", "median"),
                    alpha=("alpha", "mean"), mean_pairwise_cc=("mean_pairwise_cc", "mean"),
                    mean_pairwise_ccc=("mean_pairwise_ccc", "mean")).reset_index())
    return ["\n## Inter-rater agreement\n",
            "Means over recordings of Cronbach's alpha (raters as items) and of the mean "
            "pairwise CC / CCC between raters, on traces resampled to the label rate; every "
            "recording in `rater_agreement.csv`.\n", markdown_table(summary)]


def lag_table(lags: dict, generated: dict) -> pd.DataFrame:
    """Configured, estimated and used lags per corpus and dimension (and the generator's)."""
    rows = []
    for v in lags.values():
        row = {k: v[k] for k in ("corpus", "dimension", "configured", "estimated_s", "used_s",
                                 "recordings", "best_cc")}
        row.update({k: v.get(k, float("nan")) for k in ("ci_low_s", "ci_high_s")})
        row["pinned"] = v["pinned"] if v.get("pinned") is not None else float("nan")
        row["method"] = v.get("method", "")
        row["inputs"] = v.get("inputs", "")
        row["folds"] = v.get("folds", float("nan"))
        report = generated.get(v["corpus"]) or {}
        for key, col, err in (("true_lag_s", "true_s", "error_s"),
                              ("realised_lag_s", "realised_s", "realised_error_s")):
            true = report.get(key) or {}
            if v["dimension"] in true:
                row[col] = true[v["dimension"]]
                row[err] = round(v["estimated_s"] - row[col], 3)
        rows.append(row)
    return pd.DataFrame(rows)


def write_lags(out: Path, lags: dict, generated: dict) -> list[str]:
    """``lags.csv/json/md`` and the report's section."""
    from contaffect.labels.lag import PINNED_INTERVAL_S

    table = lag_table(lags, generated)
    write_table(table, out, "lags", "Annotator lag: configured and estimated")
    return ["\n## Annotator lag: configured and estimated\n",
            "Estimated for every corpus the run trains or validates on (test-only corpora are "
            "not estimated: their labels are test labels), over all its recordings, as the "
            "shift that maximises the held-out CC of features and labels by the estimator in "
            "the `method` column (`[labels] lag_method`, `contaffect.labels.lag`) on the "
            "`inputs` column's view of the features (`[labels] lag_inputs`), cross-fitted "
            "over the `folds` column's folds of the recordings (`[labels] lag_folds`); used only "
            "where `lag_s = \"auto\"`, which a corpus may not have if it is a test corpus "
            "anywhere in the run. `best_cc` is that held-out CC (of smoothed derivatives, so "
            "lower than a CC of levels). `ci_low_s` - `ci_high_s` is a 95 % bootstrap "
            "interval over the recordings (`[labels] lag_bootstrap`): where it spans more "
            f"than {PINNED_INTERVAL_S:g} s (`pinned` false; empty without a bootstrap), the "
            "data do not pin the lag down "
            "and a configured prior is the safer choice (`experiments/lag/README.md`)."
            + (" `true_s` is the synthetic generator's nominal mean rater lag; `realised_s` "
               "the lag its mean traces really have (each rater's drawn lag, weighted by "
               "gain, averaged over the recordings), what an estimate can recover."
               if "realised_s" in table else
               " `true_s` is the synthetic generator's mean rater lag." if "true_s" in table
               else "") + "\n", markdown_table(table)]


# ---------------------------------------------------------------- one writer for a run
def write_cross_corpus(out: Path, part) -> list[str]:
    """Table 1 and ablation tables, runs.csv, histories and trace plots; Markdown lines."""
    rows = part.rows
    for res in part.shown:
        plot_predictions(res, out)
        history = pd.DataFrame(res.history)
        if res.runtime:                      # device, threads, processes, precision, seconds
            history = history.merge(pd.DataFrame(res.runtime), on="epoch", how="left")
        history.assign(
            train=res.train, val=res.val, test=res.test, dims="+".join(res.dims)
        ).to_csv(out / f"history_{res.train}-{res.val}-{res.test}_{'+'.join(res.dims)}.csv",
                 index=False)
    if rows.empty:
        return []
    rows.to_csv(out / "runs.csv", index=False)
    main = rows[rows["variant"] == "main"]
    seeds = sorted(main["seed"].unique().tolist())
    t1 = table1(main)
    name = part.name
    write_table(t1, out, "table1", f"{name}: cross-corpus CC (mean over seeds {seeds})\n\n"
                + CONVENTIONS)
    md = ["## Cross-corpus CC (Table 1 shape)\n", CONVENTIONS, markdown_table(t1)]
    if not part.recordings.empty:
        write_table(part.recordings, out, "per_recording",
                    "CC and CCC of every test recording (best epoch; `postprocessed`: "
                    "after the chain chosen on validation)")
        masked = rows.groupby(["test", "dimension"], sort=False)[["test_frames", "test_masked"]]
        masked = masked.first().reset_index()
        if masked["test_masked"].sum():
            md += ["\nTest frames without a label (masked: not scored): "
                   + ", ".join(f"{r.test} {r.dimension} {int(r.test_masked)} of "
                               f"{int(r.test_frames + r.test_masked)}"
                               for r in masked.itertuples()) + ".\n"]
        md += ["\nEvery test recording's CC and CCC: `per_recording.csv` / `.json`.\n"]
    if not part.postprocess.empty:
        md += write_postprocess(out, part.postprocess, rows)
    written = write_prediction_tables(part.shown, part.files, out, part.predictions)
    if written:
        md += [f"\nTest frame predictions ({part.predictions}; seed {seeds[0]}, main "
               "configuration): " + ", ".join(f"`{p.name}`" for p in written) + ".\n"]
    order = list(dict.fromkeys(rows["variant"]))
    if len(order) > 1:
        ab = ablation_table(rows)
        write_table(ab, out, "ablations",
                    "Mean test CC / CCC (best epoch) over all assignments\n\n" + CONVENTIONS)
        md += ["\n## Ablations: mean test CC / CCC over all assignments\n", CONVENTIONS,
               markdown_table(ab)]
    return md


def write_crosstask(out: Path, result) -> list[str]:
    """Cross-task CSV / JSON / Markdown tables, scores, predictions, thresholds, confusions."""
    out.mkdir(parents=True, exist_ok=True)
    result.rows.to_csv(out / "crosstask_runs.csv", index=False)
    result.scores.to_csv(out / "crosstask_scores.csv", index=False)
    result.predictions.to_csv(out / "crosstask_predictions.csv", index=False)
    write_json(out / "crosstask_thresholds.json", result.thresholds)
    table = table4(result.rows)
    write_table(table, out, "table4",
                f"Cross-task on {result.target}: WAR / UAR (%), thresholds fit on train")
    seed0 = result.rows["seed"].iloc[0]
    for label, classes in result.classes.items():
        conf = {(f"source {src}", f"{model} model, {part}"): m
                for (seed, lab, src, model, part), m in result.confusions.items()
                if seed == seed0 and lab == label}
        plot_confusions(conf, list(classes), out / f"confusions_{label}.png",
                        f"{result.target}: {label} classes from dimensional models (seed {seed0})")
    return ["\n## Cross-task (Table 4 shape): WAR / UAR in %\n",
            markdown_table(table, floatfmt="{:.1f}"),
            "Confusion matrices: " + ", ".join(f"confusions_{lab}.png"
                                               for lab in result.classes) + "\n"]


def _wide(table: pd.DataFrame, value: str = "devel_uar") -> pd.DataFrame:
    wide = table.pivot(index="representation", columns="classifier", values=value)
    wide = wide.loc[list(dict.fromkeys(table["representation"])),
                    list(dict.fromkeys(table["classifier"]))].reset_index()
    wide.columns.name = None
    return wide


def write_utterance(out: Path, part) -> list[str]:
    """Score files, grids, Table 3, transfers and fusion of the utterance part; Markdown lines."""
    scores_dir, grids_dir = out / "scores", out / "grids"
    scores_dir.mkdir(parents=True, exist_ok=True)
    grids_dir.mkdir(parents=True, exist_ok=True)
    md: list[str] = []
    for ls in part.labels:
        for s in ls.systems:
            stem = f"{s.name.replace('/', '__')}{ls.suffix}"
            s.scores.to_csv(scores_dir / f"{stem}.csv", index=False)
            s.grid.to_csv(grids_dir / f"{stem}.csv", index=False)
        write_table(ls.table, out, f"table3{ls.suffix}",
                    f"{part.target}: {ls.label}, devel UAR / WAR (%) per representation and "
                    "classifier, selected on devel")
        md += [f"\n## Utterance-level systems on {part.target}, {ls.label} ({len(ls.classes)} "
               f"classes, chance UAR {100 / len(ls.classes):.1f} %): devel UAR in %\n",
               f"Fit on train, selected on devel (`table3{ls.suffix}.csv` lists the chosen "
               f"hyper-parameters, `grids/` every grid point); utterance normalisation: "
               f"{part.normalise}.\n",
               markdown_table(_wide(ls.table), floatfmt="{:.1f}")]
        if ls.held_test:
            md += ["\nThe same systems on the test speakers (scored once, after selection), "
                   "UAR in %:\n", markdown_table(_wide(ls.table, "test_uar"), floatfmt="{:.1f}")]
        md += _write_transfer(out, ls)
    if part.fusion:
        md += [f"\n## Score-level fusion on {part.target}\n",
               "Weights fit on devel only; components and fusion scored on test once.\n"]
        md += write_fusion(out, part.fusion, part.fusion_classes, part.target)
    return md


def _write_transfer(out: Path, ls) -> list[str]:
    if ls.transfer is None:
        return ([f"\nNo cross-corpus test for {ls.label}: " + "; ".join(ls.transfer_skipped)
                 + "\n"] if ls.transfer_skipped else [])
    table, label, classes = ls.transfer, ls.label, ls.classes
    write_table(table, out, f"transfer{ls.suffix}", f"{label}: systems selected on the source, "
                                                     "applied whole to other corpora")
    best = table.loc[table.groupby("test")["source_devel_uar"].idxmax()]
    for name in ls.transfer_corpora:
        keep = {k: v for k, v in ls.transfer_confusions.items() if k[0] == f"test {name}"}
        plot_confusions(keep, classes, out / f"transfer_{name}{ls.suffix}_confusions.png",
                        f"{label}: trained on the source, tested on {name}")
    md = [f"\n### Cross-corpus ({label}): trained on the source's train, selected on its devel, "
          f"tested on every utterance of the other corpus; UAR in %, chance "
          f"{100 / len(classes):.1f}\n"]
    for name, g in table.groupby("test", sort=False):
        md += [f"\nTest corpus {name}:\n", markdown_table(_wide(g, "test_uar"), floatfmt="{:.1f}")]
    md.append("System with the best source devel UAR, per test corpus: " + "; ".join(
        f"{r.test}: {r.representation}/{r.classifier} {r.test_uar:.1f}"
        for r in best.itertuples()) + "\n")
    if ls.transfer_skipped:
        md.append("Not tested: " + "; ".join(ls.transfer_skipped) + "\n")
    return md


def write_fusion(out: Path, outcomes, classes: list, target: str) -> list[str]:
    """Tables (%), weights, predictions and confusion plots of each fusion method."""
    out.mkdir(parents=True, exist_ok=True)
    md = []
    for o in outcomes:
        res, method = o.result, o.method
        write_table(o.table, out, f"fusion_{method}", f"{method} fusion ({o.scores} scores)")
        res.weights.to_csv(out / f"fusion_{method}_weights.csv")
        res.predictions.to_csv(out / f"fusion_{method}_predictions.csv", index=False)
        plot_confusions({(k[0], k[1]): v for k, v in res.confusions.items()}, list(classes),
                        out / f"fusion_{method}_confusions.png",
                        f"{target}: fusion components and {method} fusion")
        best_single = res.table["devel_uar"].iloc[:-1].max()
        fused = res.table["devel_uar"].iloc[-1]
        md += [f"\n### {method} fusion ({o.scores} scores), in %\n",
               markdown_table(o.table, floatfmt="{:.1f}"),
               f"Fused devel UAR {100 * fused:.1f} vs best component {100 * best_single:.1f}"
               f" ({'better' if fused > best_single + 1e-12 else 'not better'}). Weights: "
               f"`fusion_{method}_weights.csv`; confusions: `fusion_{method}_confusions.png`.\n"]
    return md


def write_report(out: Path, cfg, *, cross_corpus=None, crosstask=None, utterance=None,
                 multicorpus=None, generated: dict | None = None, lags: dict | None = None,
                 agreement: pd.DataFrame | None = None,
                 seconds_per_part: dict | None = None, seconds: float = 0.0) -> Path:
    """Every file of a run's report folder: config, versions, timings, tables, plots, README."""
    from contaffect.experiment import timing

    generated = generated or {}
    out.mkdir(parents=True, exist_ok=True)
    md = [f"# {cfg.name}\n", f"Seeds: {list(cfg.seeds)}. Run time: {seconds / 60:.1f} min.\n"]
    if cross_corpus is not None:
        cross_corpus.name = cfg.name
        md += write_cross_corpus(out, cross_corpus)
    if crosstask is not None:
        md += write_crosstask(out, crosstask)
    if utterance is not None:
        md += write_utterance(out, utterance)
    if multicorpus is not None:
        from contaffect.experiment.report_multicorpus import write_multicorpus

        md += write_multicorpus(out, multicorpus)
    ceilings = {k: v.get("ceiling") for k, v in generated.items()
                if v and isinstance(v.get("ceiling"), dict)}
    categorical = {k: v["ceiling"] for k, v in generated.items()
                   if v and isinstance(v.get("ceiling"), (int, float))}
    if categorical:
        md += ["\n## Ceiling of the synthetic categorical corpora: UAR of the nearest "
               "category to each utterance's latent truth\n",
               markdown_table(pd.DataFrame([dict(corpus=k, ceiling_uar=v)
                                            for k, v in categorical.items()]))]
    if ceilings:
        ct = pd.DataFrame([dict(corpus=k, arousal=v["arousal"]["pooled"],
                                valence=v["valence"]["pooled"]) for k, v in ceilings.items()])
        md += ["\n## Ceiling of the synthetic corpora: CC(gold standard, latent truth)\n",
               markdown_table(ct)]
        if cross_corpus is not None and not cross_corpus.rows.empty:
            dist = ceiling_distance(cross_corpus.rows, ceilings)
            if not dist.empty:
                write_table(dist, out, "ceiling_distance", "Distance to the ceiling")
                md += ["\nDistance to the ceiling (ceiling minus mean test CC of the best epoch"
                       + (", before and after post-processing" if "distance_pp" in dist else "")
                       + "):\n", markdown_table(dist)]
    if lags:
        md += write_lags(out, lags, generated)
    if agreement is not None and not agreement.empty:
        md += write_agreement(out, agreement)
    write_json(out / "config.json", cfg.to_dict())
    write_json(out / "versions.json", versions())
    totals = timing.totals()
    write_json(out / "run.json", dict(
        seeds=list(cfg.seeds), seconds=round(seconds, 1), seconds_per_part=seconds_per_part or {},
        seconds_per_stage={**totals, "evaluation, reports and the rest": round(
            seconds - sum(totals.values()), 1)},
        synthetic={k: dict(ceiling=v.get("ceiling"), seed=v.get("seed"), scale=v.get("scale"))
                   for k, v in generated.items() if v.get("synth_version")},
        pseudo_continuous={k: {x: v[x] for x in ("sessions", "utterances", "hours",
                                                 "duplicates_skipped", "clipped_files")}
                           for k, v in generated.items() if v.get("build_key")}))
    (out / "README.md").write_text("\n".join(md))
    return out
