"""Weka ARFF files: AVEC gold standards and ComParE baseline feature files.

Only what those files use: ``@relation``, ``@attribute NAME numeric|real|
string|{nominal,...}``, ``@data`` with comma-separated dense rows, ``%``
comments, quoted strings and ``?`` for missing values. Reading is one
header pass and one vectorised pass over the data (a ComParE file with 6375
attributes and thousands of rows reads in seconds).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from contaffect.errors import CorpusError

_ATTR = re.compile(r"^@attribute\s+('(?:[^']|\\')*'|\"[^\"]*\"|\S+)\s+(.+?)\s*$", re.I)


@dataclass
class Arff:
    """A parsed ARFF file.

    Attributes
    ----------
    relation
        The ``@relation`` name.
    attributes
        ``(name, type)`` pairs; type is ``"numeric"``, ``"string"`` or a
        tuple of nominal values.
    data
        One column per attribute; numeric columns are float64 with NaN for ``?``.
    """

    relation: str
    attributes: list[tuple[str, object]]
    data: pd.DataFrame


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def read_arff(path: str | Path) -> Arff:
    """Read an ARFF file; malformed files raise :class:`CorpusError` with the line."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"ARFF file {path} does not exist")
    relation, attributes = None, []
    with open(path, encoding="utf-8", errors="replace") as fh:
        lineno = 0
        for line in fh:
            lineno += 1
            s = line.strip()
            if not s or s.startswith("%"):
                continue
            low = s.lower()
            if low.startswith("@relation"):
                relation = _unquote(s[len("@relation"):])
            elif low.startswith("@attribute"):
                m = _ATTR.match(s)
                if not m:
                    raise CorpusError(f"{path}, line {lineno}: cannot parse attribute {s!r}")
                name, typ = _unquote(m.group(1)), m.group(2).strip()
                if typ.startswith("{"):
                    typ = tuple(_unquote(v) for v in typ.strip("{}").split(","))
                else:
                    typ = typ.lower()
                    if typ in ("real", "integer"):
                        typ = "numeric"
                    if typ not in ("numeric", "string"):
                        raise CorpusError(f"{path}, line {lineno}: unsupported type {typ!r}")
                attributes.append((name, typ))
            elif low.startswith("@data"):
                body = fh.read()
                break
            else:
                raise CorpusError(f"{path}, line {lineno}: unexpected header line {s[:60]!r}")
        else:
            raise CorpusError(f"{path} has no @data section")
    if relation is None or not attributes:
        raise CorpusError(f"{path} lacks @relation or @attribute lines")
    if body.lstrip().startswith("{"):
        raise CorpusError(f"{path}: sparse ARFF data is not supported")
    names = [a[0] for a in attributes]
    try:
        frame = pd.read_csv(io.StringIO(body), header=None, names=names, quotechar="'",
                            na_values=["?"], keep_default_na=False, comment="%",
                            skipinitialspace=True, dtype={n: str for n, t in attributes
                                                          if t != "numeric"})
    except (pd.errors.ParserError, ValueError) as exc:
        raise CorpusError(f"{path}: malformed @data ({exc})") from None
    for name, typ in attributes:
        if typ == "numeric" and not pd.api.types.is_numeric_dtype(frame[name]):
            bad = pd.to_numeric(frame[name], errors="coerce").isna() & frame[name].notna()
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CorpusError(
                f"{path}: attribute {name!r} is numeric but data row {row + 1} holds "
                f"{frame[name].iloc[row]!r}"
            )
    return Arff(relation, attributes, frame)


def write_arff(path: str | Path, relation: str, frame: pd.DataFrame,
               types: dict[str, object] | None = None) -> None:
    """Write a data frame as a dense ARFF file (numeric unless ``types`` says otherwise)."""
    types = types or {}
    lines = [f"@relation {relation}", ""]
    for col in frame.columns:
        typ = types.get(col, "numeric")
        if isinstance(typ, (tuple, list)):
            typ = "{" + ",".join(typ) + "}"
        lines.append(f"@attribute {col} {typ}")
    lines += ["", "@data"]
    out = frame.copy()
    for col in frame.columns:
        if types.get(col) == "string":
            out[col] = "'" + out[col].astype(str) + "'"
    body = out.to_csv(header=False, index=False, na_rep="?", float_format="%.6g",
                      quoting=3)  # csv.QUOTE_NONE: strings are quoted above
    Path(path).write_text("\n".join(lines) + "\n" + body)


def read_feature_file(path: str | Path, *, id_column: str | None = None) -> pd.DataFrame:
    """Read a challenge baseline feature file (ARFF or CSV) as features indexed by file name.

    ComParE ARFF files hold ``name`` (a string), the features, and ``class``;
    the result is indexed by the name column, keeps the numeric feature columns
    and drops the class. CSV files (``;`` or ``,``) are read likewise, with
    ``id_column`` (default: the first column) as index.
    """
    path = Path(path)
    if path.suffix.lower() == ".arff":
        arff = read_arff(path)
        frame = arff.data
        strings = [n for n, t in arff.attributes if t == "string"]
        key = id_column or (strings[0] if strings else None)
        if key is None:
            raise CorpusError(f"{path}: no string attribute to use as the file name")
        numeric = [n for n, t in arff.attributes if t == "numeric"]
        return frame.set_index(key)[numeric]
    if path.suffix.lower() in (".csv", ".txt"):
        with open(path) as fh:
            sep = ";" if ";" in fh.readline() else ","
        frame = pd.read_csv(path, sep=sep)
        key = id_column or frame.columns[0]
        frame = frame.set_index(key)
        return frame.select_dtypes(include=[np.number])
    raise CorpusError(f"{path}: feature files must be .arff or .csv")
