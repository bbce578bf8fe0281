"""Emotion category -> arousal / valence class mappings, kept as data files with sources.

A mapping is a CSV file with ``#`` header lines (``name``, ``source``,
``note``, and ``classes.<dimension>: c1, c2, ...`` giving each dimension's
classes in ascending order), then a table with a ``category`` column, one
column per dimension, and optionally a ``corpus`` column for mappings that
differ per corpus (seed 003's Table 1). Shipped mappings (see
:func:`available_mappings`):

- ``seed000_table4_valence``: negative / neutral / positive (seed 000, Table 4);
- ``seed003_table1_valence``: negative / positive per corpus (seed 003, Table 1);
- ``emonet_table2``: EmoNet's Table 2, all six arousal x valence cells (seed 001);
- ``seed004_four_class``: neutral / happiness / anger / sadness as one label,
  ``emotion4`` (seed 004, Sec. 3.1);
- ``seed003_binary_valence``: seed 003's Table 1 as one row per category, for
  any corpus (negative / positive valence, neutral positive);
- ``acted_basic_av``: arousal low / high and valence negative / neutral /
  positive for the basic categories of RAVDESS, EMOVO and EMO-DB, each row
  naming the table it follows.

Users add their own by passing a path. Word forms (``happy``, ``fearful``)
are resolved through ``aliases.csv`` when the category itself is not listed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import pandas as pd

from contaffect.errors import ConfigError

log = logging.getLogger(__name__)

_PACKAGED = "data/mappings"


def _packaged(name: str) -> Path | None:
    p = files("contaffect").joinpath(f"{_PACKAGED}/{name}.csv")
    return Path(str(p)) if p.is_file() else None


def available_mappings() -> list[str]:
    """Names of the mappings shipped with contaffect."""
    folder = files("contaffect").joinpath(_PACKAGED)
    return sorted(p.name[:-4] for p in folder.iterdir()
                  if p.name.endswith(".csv") and p.name != "aliases.csv")


def _read(path: Path) -> tuple[dict[str, str], pd.DataFrame]:
    meta: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    body = []
    for line in lines:
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                meta[key.strip()] = value.strip()
        elif line.strip():
            body.append(line)
    if not body:
        raise ConfigError(f"mapping file {path} has no table")
    from io import StringIO

    table = pd.read_csv(StringIO("\n".join(body)), dtype=str, keep_default_na=False)
    table.columns = [c.strip() for c in table.columns]
    for c in table.columns:
        table[c] = table[c].str.strip()
    return meta, table


def _aliases() -> dict[str, str]:
    path = _packaged("aliases")
    if path is None:  # pragma: no cover - packaging error
        return {}
    _, table = _read(path)
    return dict(zip(table["alias"].str.lower(), table["category"].str.lower()))


@dataclass(frozen=True)
class CategoryMapping:
    """Categories onto ordinal classes of one or more dimensions.

    Attributes
    ----------
    name, source, note
        From the file header; ``source`` cites where the mapping comes from.
    classes
        Dimension -> its classes in ascending order.
    table
        ``(corpus, category) -> {dimension: class}``; ``corpus`` is ``""``
        for rows that hold for every corpus.
    """

    name: str
    source: str
    note: str
    classes: dict[str, list[str]]
    table: dict[tuple[str, str], dict[str, str]] = field(repr=False)

    @property
    def dimensions(self) -> list[str]:
        """The dimensions this mapping assigns classes for."""
        return list(self.classes)

    def categories(self, corpus: str | None = None) -> list[str]:
        """Categories listed for ``corpus`` (and for every corpus)."""
        c = (corpus or "").lower()
        return sorted({cat for (k, cat) in self.table if k in ("", c)})

    def _rows(self, category: str, corpus: str | None) -> list[dict[str, str]]:
        """The rows that may answer for a category: its own name, then its alias; the
        corpus' rows before the rows for every corpus."""
        cat = str(category).strip().lower()
        keys = [cat]
        alias = _aliases().get(cat)
        if alias:
            keys.append(alias)
        c = (corpus or "").lower()
        return [row for k in keys for corp in (c, "")
                if (row := self.table.get((corp, k))) is not None]

    def listed(self, category: str, corpus: str | None = None) -> bool:
        """True if the mapping has a row for the category (aliases included), even one
        with empty cells."""
        return bool(self._rows(category, corpus))

    def lookup(self, category: str, dimension: str, corpus: str | None = None) -> str | None:
        """The class of one category, or ``None`` (not listed, or an empty cell)."""
        if dimension not in self.classes:
            raise ConfigError(f"mapping {self.name!r} has no dimension {dimension!r}; it maps "
                              f"{self.dimensions}")
        for row in self._rows(category, corpus):
            if row.get(dimension):
                return row[dimension]
        return None


def load_mapping(name_or_path: str | Path) -> CategoryMapping:
    """Read a mapping by packaged name (see :func:`available_mappings`) or CSV path."""
    path = Path(name_or_path)
    if not path.is_file():
        packaged = _packaged(str(name_or_path))
        if packaged is None:
            raise ConfigError(f"no mapping file {name_or_path!r}; packaged mappings: "
                              f"{available_mappings()}")
        path = packaged
    meta, table = _read(path)
    classes = {k.split(".", 1)[1]: [c.strip() for c in v.split(",") if c.strip()]
               for k, v in meta.items() if k.startswith("classes.")}
    if "category" not in table.columns:
        raise ConfigError(f"mapping {path} needs a 'category' column, has {list(table.columns)}")
    if not classes:
        raise ConfigError(f"mapping {path} declares no classes; add a header line such as "
                          "'# classes.valence: negative, neutral, positive'")
    for dim in classes:
        if dim not in table.columns:
            raise ConfigError(f"mapping {path} declares classes.{dim} but has no {dim!r} column")
        bad = sorted(set(table[dim]) - set(classes[dim]) - {""})
        if bad:
            raise ConfigError(f"mapping {path}: {dim} values {bad} are not among the declared "
                              f"classes {classes[dim]}")
    out: dict[tuple[str, str], dict[str, str]] = {}
    corpus_col = table["corpus"] if "corpus" in table.columns else pd.Series([""] * len(table))
    for corp, (_, row) in zip(corpus_col, table.iterrows()):
        key = (str(corp).lower(), row["category"].lower())
        if key in out:
            raise ConfigError(f"mapping {path}: category {key[1]!r} listed twice"
                              + (f" for corpus {key[0]!r}" if key[0] else ""))
        out[key] = {d: row[d] for d in classes}
    return CategoryMapping(meta.get("name", path.stem), meta.get("source", ""),
                           meta.get("note", ""), classes, out)
