"""Several categorical corpora side by side: the unit the multi-corpus protocols split.

A :class:`Pool` is one table with a row per utterance of every corpus
(``corpus``, ``id``, ``speaker``, ``gender``, ``partition`` and the
harmonised labels). Speakers are qualified by their corpus
(``ravdess/01``), so two corpora's speaker ``01`` never merge. Protocols
(:mod:`contaffect.experiment.splits`) select rows of it by integer index;
features are extracted once per corpus and stacked in pool order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from contaffect.corpus.model import Corpus
from contaffect.corpus.partitions import speaker_folds
from contaffect.errors import ConfigError


@dataclass
class Pool:
    """Utterances of several corpora, one row each, in corpus order.

    Attributes
    ----------
    table
        ``corpus``, ``id``, ``speaker`` (corpus-qualified), ``gender``,
        ``partition`` (the corpus' own), then one column per label (``None``
        where an utterance has no class of that label).
    corpora
        Corpus names in pool order.
    labels
        Label -> its classes (ascending).
    """

    table: pd.DataFrame
    corpora: list[str]
    labels: dict[str, list]
    selection_only: list[str] = field(default_factory=list)
    _rows: dict = field(default_factory=dict, repr=False)

    @property
    def protocol_corpora(self) -> list[str]:
        """The corpora the protocols train and test on (all but the selection-only ones)."""
        return [c for c in self.corpora if c not in self.selection_only]

    @classmethod
    def build(cls, corpora: dict[str, Corpus], labels: dict[str, Sequence],
              selection_only: Sequence[str] = ()) -> "Pool":
        """Stack the corpora (names as given) with the given labels and classes.

        ``selection_only`` corpora are in the pool (features, labels) but only
        ever serve as selection sets, whole; they need no partitions.
        """
        rows = []
        for name, corpus in corpora.items():
            for r in corpus:
                row = dict(corpus=name, id=r.id, speaker=f"{name}/{r.speaker}",
                           gender=(r.gender or None), partition=r.partition)
                for lab in labels:
                    row[lab] = r.labels.get(lab)
                rows.append(row)
        table = pd.DataFrame(rows, columns=["corpus", "id", "speaker", "gender", "partition",
                                            *labels])
        return cls(table, list(corpora), {k: list(v) for k, v in labels.items()},
                   list(selection_only))

    def __len__(self) -> int:
        return len(self.table)

    def rows(self, corpus: str) -> np.ndarray:
        """Indices of one corpus' utterances."""
        if corpus not in self._rows:
            self._rows[corpus] = np.flatnonzero(self.table["corpus"].to_numpy() == corpus)
        return self._rows[corpus]

    def has(self, label: str) -> np.ndarray:
        """Mask of utterances with a class of ``label``."""
        return self.table[label].notna().to_numpy()

    def y(self, label: str) -> np.ndarray:
        """The label of every utterance (``None`` where missing), as objects."""
        return self.table[label].to_numpy(dtype=object)

    # ------------------------------------------------------------ partitions
    def given_partitions(self) -> np.ndarray:
        """The corpora's own partitions; every corpus must have train, devel and test."""
        part = self.table["partition"].to_numpy(dtype=object).copy()
        for name in self.selection_only:
            part[self.rows(name)] = None
        for name in self.protocol_corpora:
            have = set(part[self.rows(name)]) - {None}
            missing = [p for p in ("train", "devel", "test") if p not in have]
            if missing:
                raise ConfigError(
                    f"[corpora.{name}] has no {missing} partition(s) (it has "
                    f"{sorted(map(str, have)) or 'none'}); give speaker-independent "
                    "`partitions` for it, or set [multicorpus] folds = k")
        return part

    def fold_partitions(self, k: int, seed: int, devel_share: float) -> list[np.ndarray]:
        """``k`` speaker-independent assignments: fold f's speakers are ``test``, a seeded
        ``devel_share`` of the others (one speaker at least) ``devel``, the rest ``train``.

        Folds are gender-balanced where genders are known (seed 004); each corpus is
        folded on its own, so every corpus is in every fold.
        """
        out = [np.empty(len(self), dtype=object) for _ in range(k)]
        spk = self.table["speaker"].to_numpy(dtype=object)
        for ci, name in enumerate(self.corpora):
            if name in self.selection_only:
                continue                      # selection sets whole: no folds
            idx = self.rows(name)
            first = self.table.iloc[idx].drop_duplicates("speaker")
            speakers, genders = first["speaker"].tolist(), first["gender"].tolist()
            if len(speakers) < max(k, 3):
                raise ConfigError(f"[corpora.{name}] has {len(speakers)} speakers; {k} "
                                  "speaker-independent folds with a devel speaker need at "
                                  f"least {max(k, 3)}")
            gender_of = dict(zip(speakers, genders))
            folds = speaker_folds(speakers, genders, k, seed + ci)
            rng = np.random.default_rng([seed, ci, 7])
            for f, test in enumerate(folds):
                rest = [s for s in speakers if s not in set(test)]
                n_dev = max(1, int(round(devel_share * len(rest))))
                n_dev = min(n_dev, len(rest) - 1)
                # the devel speakers: a seeded, gender-alternating draw from the rest
                by_g: dict = {}
                for s in rest:
                    by_g.setdefault(str(gender_of[s]), []).append(s)
                queues = [[g[i] for i in rng.permutation(len(g))] for _, g in sorted(by_g.items())]
                dev: list = []
                while len(dev) < n_dev:
                    for q in queues:
                        if q and len(dev) < n_dev:
                            dev.append(q.pop(0))
                role = {s: "train" for s in rest}
                role.update({s: "devel" for s in dev})
                role.update({s: "test" for s in test})
                out[f][idx] = [role[s] for s in spk[idx]]
        return out

    # ------------------------------------------------------------ reports
    def class_counts(self) -> pd.DataFrame:
        """Utterances per corpus, label and class (the harmonisation report)."""
        rows = []
        for lab, classes in self.labels.items():
            for name in self.corpora:
                y = self.y(lab)[self.rows(name)]
                row = dict(label=lab, corpus=name)
                row.update({str(c): int(np.sum(y == c)) for c in classes})
                row["unlabelled"] = int(sum(v is None for v in y))
                rows.append(row)
        return pd.DataFrame(rows)

    def speaker_coverage(self) -> pd.DataFrame:
        """Per speaker and label: utterances and classes shown (speaker z-norm assumes a range)."""
        rows = []
        t = self.table
        for lab in self.labels:
            for spk, g in t[t[lab].notna()].groupby("speaker", sort=False):
                rows.append(dict(label=lab, corpus=g["corpus"].iloc[0], speaker=spk,
                                 utterances=len(g), classes=int(g[lab].nunique())))
        return pd.DataFrame(rows, columns=["label", "corpus", "speaker", "utterances", "classes"])
