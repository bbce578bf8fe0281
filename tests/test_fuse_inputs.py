"""Score fusion refuses bad inputs with one-line ConfigErrors instead of fitting on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contaffect.cli import main
from contaffect.errors import ConfigError
from contaffect.experiment.fuse import fuse, read_score_table

CLASSES = ["l", "m", "h"]
DEV = [f"devel_{i:02d}" for i in range(12)]
TEST = [f"test_{i:02d}" for i in range(6)]


def score_table(seed: int) -> pd.DataFrame:
    """12 devel + 6 test rows of random scores for three classes."""
    rng = np.random.default_rng(seed)
    ids = DEV + TEST
    frame = pd.DataFrame({"id": ids, "partition": ["devel"] * len(DEV) + ["test"] * len(TEST)})
    for c, col in zip(CLASSES, rng.normal(size=(len(CLASSES), len(ids)))):
        frame[c] = col
    return frame


def devel_labels() -> pd.Series:
    return pd.Series([CLASSES[i % 3] for i in range(len(DEV))], index=DEV)


def components() -> dict[str, pd.DataFrame]:
    return {"a": score_table(0), "b": score_table(1)}


def test_valid_tables_fuse():
    res = fuse(components(), devel_labels(), CLASSES, n_candidates=50)
    assert list(res.weights.index) == ["a", "b"]
    assert res.predictions["id"].tolist() == DEV + TEST
    assert res.table["devel_uar"].between(0, 1).all()


def _set(frame, row, col, value):
    frame[col] = frame[col].astype(object) if isinstance(value, str) else frame[col]
    frame.loc[row, col] = value


def nan(c):
    _set(c["b"], 3, "m", np.nan)


def pos_inf(c):
    _set(c["b"], 14, "h", np.inf)


def text_value(c):
    _set(c["b"], 5, "l", "abc")


def renamed_column(c):
    c["b"] = c["b"].rename(columns={"h": "high"})


def duplicate_id(c):
    c["b"].loc[7, "id"] = "devel_02"


def unknown_partition(c):
    c["b"].loc[4, "partition"] = "dev"


def missing_devel_id(c):
    c["b"] = c["b"].drop(index=9)


def extra_unknown_id(c):
    extra = c["b"].iloc[[0]].assign(id="devel_99")
    c["b"] = pd.concat([c["b"], extra], ignore_index=True)


def mismatched_test_ids(c):
    c["b"].loc[len(DEV) + 2, "id"] = "test_99"


def missing_test_id(c):
    c["b"] = c["b"].drop(index=len(DEV) + 5)


@pytest.mark.parametrize("spoil,needles", [
    (nan, ["'b'", "NaN", "['m']", "devel_03", "1 row"]),
    (pos_inf, ["'b'", "inf", "['h']", "test_02"]),
    (text_value, ["'b'", "'l'", "non-numeric", "'abc'", "devel_05"]),
    (renamed_column, ["'b'", "['h']", "high", "expected classes ['l', 'm', 'h']"]),
    (duplicate_id, ["'b'", "listed twice", "devel_02"]),
    (unknown_partition, ["'b'", "'partition'", "'dev'", "devel_04"]),
    (missing_devel_id, ["'b'", "no devel scores", "devel_09"]),
    (extra_unknown_id, ["'b'", "unknown", "devel_99"]),
    (mismatched_test_ids, ["'b'", "test ids", "test_02", "test_99", "same test ids"]),
    (missing_test_id, ["'b'", "test ids", "test_05", "same test ids"]),
])
def test_bad_component_is_refused_in_one_line(spoil, needles):
    comps = components()
    spoil(comps)
    with pytest.raises(ConfigError) as info:
        fuse(comps, devel_labels(), CLASSES, n_candidates=50)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("component 'b'")
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_first_component_is_checked_too():
    comps = components()
    comps["a"].loc[0, "l"] = np.nan
    with pytest.raises(ConfigError, match=r"^component 'a': .*NaN.*devel_00"):
        fuse(comps, devel_labels(), CLASSES, n_candidates=50)


@pytest.mark.parametrize("labels,needle", [
    (devel_labels().drop("devel_04"), "devel_04"),           # component's devel id unknown
    (pd.concat([devel_labels(), pd.Series({"devel_77": "l"})]), "devel_77"),
    (devel_labels().replace({"m": "x"}), "['x']"),            # label not among the classes
])
def test_devel_labels_must_match_the_components(labels, needle):
    with pytest.raises(ConfigError) as info:
        fuse(components(), labels, CLASSES, n_candidates=50)
    assert "\n" not in str(info.value) and needle in str(info.value)


def write(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def edit_cell(text: str, rid: str, col: str, value: str) -> str:
    """Replace one cell of a CSV text, as a person editing the file would."""
    lines = text.splitlines()
    j = lines[0].split(",").index(col)
    for k, line in enumerate(lines):
        cells = line.split(",")
        if cells[0] == rid:
            cells[j] = value
            lines[k] = ",".join(cells)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("edit,needles", [
    (lambda t: edit_cell(t, "devel_03", "m", "nan"), ["NaN", "['m']", "devel_03"]),
    (lambda t: edit_cell(t, "devel_03", "m", ""), ["NaN", "['m']", "devel_03"]),
    (lambda t: edit_cell(t, "test_01", "h", "-inf"), ["inf", "['h']", "test_01"]),
    (lambda t: edit_cell(t, "devel_05", "l", "abc"), ["'l'", "non-numeric", "'abc'", "devel_05"]),
    (lambda t: t.replace("id,partition,l,m,h", "id,partition,l,m,high", 1),
     ["['h']", "'high'", "expected classes ['l', 'm', 'h']"]),
    (lambda t: edit_cell(t, "devel_07", "id", "devel_02"), ["listed twice", "devel_02"]),
    (lambda t: edit_cell(t, "test_04", "partition", "tset"), ["'tset'", "test_04"]),
    (lambda t: edit_cell(t, "test_04", "partition", ""), ["'partition'", "missing", "test_04"]),
])
def test_read_score_table_names_the_file(tmp_path, edit, needles):
    path = tmp_path / "sys__a.csv"
    path.write_text(edit(score_table(0).to_csv(index=False)))
    with pytest.raises(ConfigError) as info:
        read_score_table(path, CLASSES)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path))
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_read_score_table_accepts_a_valid_file(tmp_path):
    path = write(score_table(0), tmp_path / "ok.csv")
    frame = read_score_table(path, CLASSES)
    assert frame["id"].tolist() == DEV + TEST and frame.attrs["path"] == path


def test_read_score_table_checks_every_score_column_without_classes(tmp_path):
    frame = score_table(0)
    frame["h"] = frame["h"].astype(object)
    frame.loc[2, "h"] = "0.5x"
    path = write(frame, tmp_path / "x.csv")
    with pytest.raises(ConfigError, match=r"x\.csv: column 'h' .*non-numeric.*devel_02"):
        read_score_table(path)


def test_tables_read_from_files_name_their_file_in_fuse(tmp_path):
    a = read_score_table(write(score_table(0), tmp_path / "a.csv"), CLASSES)
    b_frame = score_table(1)
    b_frame.loc[len(DEV) + 1, "id"] = "test_99"
    b = read_score_table(write(b_frame, tmp_path / "b.csv"), CLASSES)
    assert fuse({"a": a, "a2": a}, devel_labels(), CLASSES, n_candidates=20).weights.shape == (2, 3)
    with pytest.raises(ConfigError) as info:
        fuse({"a": a, "b": b}, devel_labels(), CLASSES, n_candidates=20)
    msg = str(info.value)
    assert "\n" not in msg and str(tmp_path / "b.csv") in msg and "test_99" in msg


@pytest.fixture
def corpus(tmp_path):
    """A folder corpus whose devel recordings are DEV (empty audio: fuse never reads it)."""
    root = tmp_path / "corpus"
    root.mkdir()
    rows = []
    for rid in [f"train_{i:02d}" for i in range(3)] + DEV + TEST:
        (root / f"{rid}.wav").write_bytes(b"")
        part = rid.split("_")[0]
        rows.append(dict(file=f"{rid}.wav", speaker=rid, partition=part,
                         valence=CLASSES[int(rid[-2:]) % 3]))
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    return root


def test_fuse_command_prints_one_error_line(tmp_path, corpus, capsys):
    a, b = score_table(0), score_table(1)
    b.loc[3, "m"] = np.inf
    args = ["fuse", write(a, tmp_path / "a.csv"), None, "--corpus", str(corpus),
            "--label", "valence", "--candidates", "20", "--out", str(tmp_path / "out")]
    args[2] = write(score_table(1), tmp_path / "b.csv")
    assert main(args) == 0
    capsys.readouterr()
    args[2] = write(b, tmp_path / "b_bad.csv")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("contaffect: error: ")
    assert str(tmp_path / "b_bad.csv") in err and "devel_03" in err and "inf" in err
