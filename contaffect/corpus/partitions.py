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


def speaker_folds(speakers, genders=None, k: int = 5, seed: int = 0) -> list[list[str]]:
    """Speaker-independent folds, gender-balanced where genders are known (seed 004).

    Speakers are shuffled with ``seed`` within each gender, then dealt round
    robin to the ``k`` folds, women and men continuing the same rotation, so
    that fold sizes differ by at most one and each gender is spread as evenly
    as its count allows. Speakers of unknown gender form a third group.

    Parameters
    ----------
    speakers
        Speaker ids (each once).
    genders
        Optional gender per speaker (``None`` for unknown).
    k
        Number of folds, 2 <= k <= number of speakers.
    seed
        Shuffling seed: the same seed gives the same folds.

    Returns
    -------
    list of list of str
        ``k`` folds of speaker ids.
    """
    import numpy as np

    speakers = [str(s) for s in speakers]
    if len(set(speakers)) != len(speakers):
        raise ConfigError("speaker_folds: speakers must be unique")
    if not 2 <= k <= len(speakers):
        raise ConfigError(f"{k} folds need between 2 and {len(speakers)} (the number of "
                          "speakers) folds")
    genders = list(genders) if genders is not None else [None] * len(speakers)
    rng = np.random.default_rng(seed)
    groups: dict = {}
    for spk, g in zip(speakers, genders):
        groups.setdefault(str(g).lower() if g else "", []).append(spk)
    folds: list[list[str]] = [[] for _ in range(k)]
    pos = 0
    for g in sorted(groups):
        members = sorted(groups[g])
        for spk in (members[i] for i in rng.permutation(len(members))):
            folds[pos % k].append(spk)
            pos += 1
    return folds
