"""Speaker-independent partitions for a corpus that has none (or to replace its own)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from contaffect.corpus.model import Corpus
from contaffect.errors import ConfigError


def assign_partitions(corpus: Corpus, partitions, where: str = "partitions") -> Corpus:
    """Partitions from a CSV file (``speaker`` or ``id`` column, and ``partition``) or a table.

    The table form is ``{partition: [speakers]}``. Every speaker (or id) must
    be assigned exactly once.
    """
    if isinstance(partitions, dict):
        mapping: dict[str, str] = {}
        for part, speakers in partitions.items():
            if isinstance(speakers, str) or not hasattr(speakers, "__iter__"):
                raise ConfigError(f"{where} partitions.{part} must be a list of speakers")
            for spk in speakers:
                if str(spk) in mapping:
                    raise ConfigError(f"{where} speaker {spk!r} is in partitions "
                                      f"{mapping[str(spk)]!r} and {part!r}")
                mapping[str(spk)] = str(part)
        return corpus.with_partitions(mapping, by="speaker")
    path = Path(partitions)
    if not path.is_file():
        raise ConfigError(f"{where} partition file {path} does not exist")
    table = pd.read_csv(path, dtype=str, keep_default_na=False, comment="#")
    by = "speaker" if "speaker" in table.columns else "id" if "id" in table.columns else None
    if by is None or "partition" not in table.columns:
        raise ConfigError(f"{path}: a partition file needs a 'speaker' (or 'id') column and a "
                          f"'partition' column, has {list(table.columns)}")
    dup = table[by][table[by].duplicated()].tolist()
    if dup:
        raise ConfigError(f"{path}: {by}(s) {dup[:5]} listed twice")
    return corpus.with_partitions(dict(zip(table[by], table["partition"])), by=by)
