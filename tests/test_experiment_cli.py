"""contaffect demo / run / cross-corpus end to end on tiny synthetic corpora."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from contaffect.cli import main

TINY = 0.1


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("exp")


def test_demo_writes_a_table1_report(workdir, capsys):
    assert main(["-q", "demo", "--workdir", str(workdir / "demo"), "--scale", str(TINY),
                 "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "Cross-corpus CC (Table 1 shape)" in out
    report = workdir / "demo" / "report"
    t1 = pd.read_csv(report / "table1.csv")
    assert len(t1) == 12                                   # 6 assignments x 2 dimensions
    assert set(t1.columns) >= {"val_cc_epoch1", "test_cc_epoch1", "val_cc_best", "test_cc_best",
                               "test_ccc_best", "best_epoch"}
    assert t1["test_cc_best"].notna().all()
    for name in ("config.json", "versions.json", "run.json", "table1.md", "table1.json",
                 "README.md"):
        assert (report / name).is_file(), name
    assert json.loads((report / "versions.json").read_text())["torch"]
    assert len(list(report.glob("traces_*.png"))) == 12
    assert len(list(report.glob("cc_per_recording_*.png"))) == 12


def test_rerun_reads_caches_and_gives_the_same_numbers(workdir):
    first = pd.read_csv(workdir / "demo" / "report" / "table1.csv")
    assert main(["-q", "demo", "--workdir", str(workdir / "demo"), "--scale", str(TINY),
                 "--epochs", "2", "--out", str(workdir / "again")]) == 0
    second = pd.read_csv(workdir / "again" / "table1.csv")
    pd.testing.assert_frame_equal(first, second)
    run = json.loads((workdir / "again" / "run.json").read_text())
    assert run["seconds"] < 120


def test_run_config_with_seeds_and_an_ablation(workdir, tmp_path, capsys):
    cfg = tmp_path / "exp.toml"
    cfg.write_text(f"""
name = "tiny"
seeds = [0, 1]
workdir = "{workdir / 'demo'}"
[corpora.r]
synthetic = "recola_like"
scale = {TINY}
[corpora.s]
synthetic = "semaine_like"
scale = {TINY}
on_mismatch = "trim"
[corpora.c]
synthetic = "creativeit_like"
scale = {TINY}
[model]
units = [16]
joint = true
[training]
epochs = 1
[protocol]
assignments = [["r", "s", "c"]]
[[ablations]]
name = "no norm"
seeds = [0]
"features.normalisation" = "none"
""")
    assert main(["-q", "run", str(cfg), "--out", str(tmp_path / "rep")]) == 0
    runs = pd.read_csv(tmp_path / "rep" / "runs.csv")
    assert set(runs["variant"]) == {"main", "no norm"}
    assert len(runs[runs.variant == "main"]) == 4 and len(runs[runs.variant == "no norm"]) == 2
    t1 = pd.read_csv(tmp_path / "rep" / "table1.csv")
    assert "test_cc_best_std" in t1.columns                # two seeds: mean and std
    # the ablation table has both CCC conventions, named as such
    ab = pd.read_csv(tmp_path / "rep" / "ablations.csv")
    assert list(ab["variant"].drop_duplicates()) == ["main", "no norm"]
    assert {"test_cc_best", "test_ccc_best", "test_cc_best_rec", "test_ccc_best_rec"} <= set(ab)
    main_rows = runs[runs.variant == "main"]
    got = ab.set_index(["variant", "dimension"]).loc[("main", "arousal"), "test_ccc_best_rec"]
    assert got == pytest.approx(main_rows[main_rows.dimension == "arousal"]["test_ccc_best_rec"]
                                .mean())
    assert "**concatenation**" in (tmp_path / "rep" / "ablations.md").read_text()



@pytest.mark.parametrize("fmt", ["csv", "audformat"])
def test_test_frame_predictions_are_written_and_give_the_reported_scores(workdir, tmp_path, fmt):
    if fmt == "audformat":
        pytest.importorskip("audformat")
    cfg = tmp_path / "exp.toml"
    cfg.write_text(f"""
workdir = "{workdir / 'demo'}"
predictions = "{fmt}"
[corpora.r]
synthetic = "recola_like"
scale = {TINY}
[corpora.s]
synthetic = "semaine_like"
scale = {TINY}
[corpora.c]
synthetic = "creativeit_like"
scale = {TINY}
[model]
units = [16]
joint = true
[training]
epochs = 1
[protocol]
assignments = [["r", "s", "c"]]
""")
    out = tmp_path / "rep"
    assert main(["-q", "run", str(cfg), "--out", str(out)]) == 0
    stem = "predictions_r-s-c_arousal+valence"
    if fmt == "csv":
        table = pd.read_csv(out / f"{stem}.csv")
    else:
        from contaffect.corpus.audformat_io import read_predictions

        table = read_predictions(out / stem).reset_index()
        table["start"] = table["start"].dt.total_seconds()
        table["recording"] = table["file"].map(
            {v: k for k, v in _files(workdir / "demo", "creativeit_like").items()})
    assert {"arousal", "valence", "arousal_pp", "valence_gold", "start", "file"} <= set(table)
    rec = pd.read_csv(out / "per_recording.csv")
    rec = rec[~rec["postprocessed"]].set_index(["dimension", "recording"])
    assert set(table["recording"]) == set(rec.loc["arousal"].index)
    for (dim, rid), row in rec.iloc[:4].iterrows():
        frames = table[table["recording"] == rid].sort_values("start")
        ok = frames[f"{dim}_gold"].notna()
        assert ok.sum() == row["frames"] and (~ok).sum() == row["masked"]
        cc = np.corrcoef(frames.loc[ok, dim], frames.loc[ok, f"{dim}_gold"])[0, 1]
        assert cc == pytest.approx(row["cc"], abs=1e-6)


def _files(workdir, preset):
    from contaffect.corpus import load_corpus

    (folder,) = (workdir / "data").glob(f"{preset}-*")
    return {r.id: str(r.audio) for r in load_corpus(folder)}


def test_cross_corpus_command(workdir, capsys):
    assert main(["-q", "cross-corpus", "--train", "semaine_like", "--val", "recola_like",
                 "--test", "creativeit_like", "--dims", "arousal", "--epochs", "1",
                 "--scale", str(TINY), "--workdir", str(workdir / "demo"),
                 "--out", str(workdir / "cc")]) == 0
    t1 = pd.read_csv(workdir / "cc" / "table1.csv")
    assert list(t1["dimension"]) == ["arousal"] and t1.loc[0, "train"] == "semaine_like"


def test_bad_config_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[training]\nepoch = 3\n")
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean 'epochs'" in err[0]
    cfg.write_text("name = [unclosed\n")
    assert main(["run", str(cfg)]) == 2
    assert "invalid TOML" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "none.toml")]) == 2


def test_cross_task_command_writes_table4_without_touching_test_labels(workdir, capsys):
    out = workdir / "ct"
    assert main(["-q", "cross-task", "--sources", "recola_like:semaine_like", "--epochs", "1",
                 "--scale", str(TINY), "--workdir", str(workdir / "demo"),
                 "--out", str(out)]) == 0
    assert "Cross-task (Table 4 shape)" in capsys.readouterr().out
    t4 = pd.read_csv(out / "table4.csv")
    # each model as it is, then with the post-processing chosen on its validation corpus
    assert list(t4["model"]) == ["arousal", "valence", "arousal+valence", "arousal_pp",
                                 "valence_pp", "arousal+valence_pp"]
    assert {"train WAR", "train UAR", "devel WAR", "devel UAR", "chance UAR"} <= set(t4.columns)
    assert t4[["train UAR", "devel UAR"]].notna().all().all()
    runs = pd.read_csv(out / "crosstask_runs.csv")
    assert set(runs["partition"]) == {"train", "devel"}
    # every target recording gets a score and a class, test included (for fusion and
    # submission), but thresholds were fit on train only
    scores = pd.read_csv(out / "crosstask_scores.csv")
    assert "test" in set(scores["partition"])
    raw, post = (scores[scores["postprocessed"] == v].set_index("id") for v in (False, True))
    assert len(raw) == len(post) and not np.allclose(raw["arousal"], post.loc[raw.index, "arousal"])
    preds = pd.read_csv(out / "crosstask_predictions.csv")
    assert set(preds["predicted"]) <= {"l", "m", "h"}
    thr = json.loads((out / "crosstask_thresholds.json").read_text())
    assert len(thr) == 6 and all(len(t["thresholds"]) == 2 for t in thr)
    assert (out / "confusions_valence.png").stat().st_size > 10_000


def test_cross_task_command_errors_are_one_line(workdir, capsys):
    assert main(["cross-task", "--sources", "recola_like"]) == 2
    assert "TRAIN:VAL" in capsys.readouterr().err
    assert main(["cross-task", "--target", str(workdir), "--sources",
                 "recola_like:semaine_like"]) == 2
    assert "--classes" in capsys.readouterr().err
