"""Label files given beside a corpus (e.g. the test labels released after a challenge)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from contaffect.errors import ConfigError


def read_label_file(path: Path, label: str) -> pd.Series:
    """Labels from a CSV/TSV: first column the file or id (extension dropped), a ``label`` column."""
    if not path.is_file():
        raise ConfigError(f"test label file {path} does not exist")
    sep = "\t" if path.suffix == ".tsv" else ","
    frame = pd.read_csv(path, sep=sep, dtype=str)
    cols = {c.lower(): c for c in frame.columns}
    if label.lower() not in cols:
        raise ConfigError(f"{path} has no {label!r} column (has {list(frame.columns)})")
    ids = [Path(str(v)).stem if "." in str(v) else str(v) for v in frame.iloc[:, 0]]
    return pd.Series(frame[cols[label.lower()]].to_numpy(), index=ids)
