"""Bad traces are refused before any feature is extracted: raters too few for the fusion,
a lag not shorter than a recording (issue 15's bad input), each in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_folder_corpus
from contaffect.cli import main
from contaffect.errors import TraceError
from contaffect.labels.processing import (RATER_FUSION, LabelConfig, check_traces, fuse_raters,
                                          min_raters)
from contaffect.labels.trace import Trace


def _one_rater(root: Path) -> None:
    """Keep only the first rater of every trace file."""
    for p in (root / "traces").rglob("*.csv"):
        lines = p.read_text().splitlines()
        p.write_text("\n".join(",".join(line.split(",")[:2]) for line in lines) + "\n")


def _config(tmp_path: Path, labels: str, lag: str = "0.0", one_rater: bool = False) -> str:
    parts = []
    for name in ("a", "b", "c"):
        root = make_folder_corpus(tmp_path / name, traces=True)
        if one_rater and name == "b":
            _one_rater(root)
        parts.append(f'[corpora.{name}]\npath = "{root}"\nlag_s = {lag}\n')
    cfg = tmp_path / "exp.toml"
    cfg.write_text(f'workdir = "{tmp_path / "work"}"\n' + "".join(parts)
                   + f'[labels]\n{labels}\n[protocol]\ncorpora = ["a", "b", "c"]\n')
    return str(cfg)


def _fails_in_one_line(cfg: str, capsys, expected: str, workdir: Path) -> None:
    assert main(["-q", "run", cfg]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not (workdir / "store").exists()           # refused before any extraction


@pytest.mark.parametrize("fusion", ["ewe", "dba", "raaw"])
def test_one_rater_with_a_fusion_that_needs_two_is_refused_before_extraction(
        tmp_path, capsys, fusion):
    cfg = _config(tmp_path, f'fusion = "{fusion}"', one_rater=True)
    _fails_in_one_line(cfg, capsys, f"[corpora.b] fusion = '{fusion}' needs at least 2 raters",
                       tmp_path / "work")


def test_a_lag_longer_than_a_recording_is_refused_before_extraction(tmp_path, capsys):
    cfg = _config(tmp_path, "lag = true", lag="1.5")       # the recordings last 1 s
    _fails_in_one_line(cfg, capsys, "lag_s = 1.5 s (arousal) is not shorter than the trace",
                       tmp_path / "work")


def test_the_rater_minimum_comes_from_the_registry():
    assert min_raters("mean") == 1
    assert {n: min_raters(n) for n in RATER_FUSION.names()} == {
        "mean": 1, "ewe": 2, "dba": 2, "raaw": 2}
    one = Trace([0.0, 0.04, 0.08], [0.1, 0.2, 0.3], ("r1",))
    with pytest.raises(TraceError, match="EWE needs at least 2 raters; .* has 1"):
        fuse_raters(one, "ewe")
    check_traces({"x": one}, LabelConfig(fusion="mean"), "arousal")      # passes
    with pytest.raises(TraceError, match="recording 'x' has 1 for arousal"):
        check_traces({"x": one}, LabelConfig(fusion="raaw"), "arousal")
    # a lag exactly as long as the trace (3 rows at 25 Hz: 0.12 s) leaves nothing
    with pytest.raises(TraceError, match="not shorter than the trace of recording 'x'"):
        check_traces({"x": one}, LabelConfig(lag_s=0.12), "arousal")
    check_traces({"x": one}, LabelConfig(lag_s=0.08), "arousal")
    check_traces({"x": one}, LabelConfig(lag_s=0.12, lag=False), "arousal")   # lag off
