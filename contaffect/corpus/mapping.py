"""Apply a category mapping to a corpus: emotion categories -> arousal / valence classes.

The mapping tables are data (:mod:`contaffect.labels.mapping`); this is the
corpus-level step that adds the class labels to every recording.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace

import pandas as pd

from contaffect.corpus.model import Corpus
from contaffect.errors import ConfigError
from contaffect.labels.mapping import CategoryMapping
from contaffect.registry import Registry

log = logging.getLogger(__name__)

#: Categories a mapping does not list.
UNMAPPED = Registry("unmapped policy")
UNMAPPED.add("error", doc="refuse, naming the categories")
UNMAPPED.add("drop", doc="leave those recordings out, counted in a warning")


def _classes_of(mapping: CategoryMapping, category, dims: list[str], key: str):
    """``None`` if the mapping does not list the category, else dimension -> class or ``None``."""
    if not mapping.listed(category, key):
        return None
    return {d: mapping.lookup(category, d, key) for d in dims}


def mapping_summary(
    corpus: Corpus,
    mapping: CategoryMapping,
    *,
    category: str = "emotion",
    dimensions: list[str] | None = None,
    corpus_key: str | None = None,
) -> pd.DataFrame:
    """What a mapping does to a corpus: one row per category of the corpus.

    Columns: ``category``, ``n`` (utterances), one column per dimension (its
    class, or ``""``), and ``reason`` (``""`` when every dimension has a
    class; otherwise which labels the category leaves, and why). The ``n``
    add up to the corpus size.
    """
    dims = list(dimensions) if dimensions else mapping.dimensions
    key = corpus_key or corpus.name
    counts = Counter(str(r.labels.get(category)) for r in corpus)
    rows = []
    for cat, n in sorted(counts.items()):
        classes = _classes_of(mapping, cat, dims, key)
        row = {"category": cat, "n": n}
        if classes is None:
            row.update({d: "" for d in dims})
            row["reason"] = f"not listed in mapping {mapping.name}"
        else:
            row.update({d: classes[d] or "" for d in dims})
            empty = [d for d in dims if classes[d] is None]
            row["reason"] = ("" if not empty else
                             f"no {'/'.join(empty)} class (empty cell)"
                             + ("; left out" if len(empty) == len(dims) else ""))
        rows.append(row)
    return pd.DataFrame(rows, columns=["category", "n", *dims, "reason"])


def apply_mapping(
    corpus: Corpus,
    mapping: CategoryMapping,
    *,
    category: str = "emotion",
    dimensions: list[str] | None = None,
    corpus_key: str | None = None,
    unmapped: str = "error",
) -> Corpus:
    """Add one utterance label per dimension (e.g. ``arousal = "high"``) to every recording.

    Labels are added per dimension: a category the mapping lists with an
    empty cell for one dimension (neutral in a binary valence scheme) gets the
    labels of the other dimensions and stays in those tasks. A recording left
    with no class in any requested dimension is left out. Categories the
    mapping does not list at all follow ``unmapped``.

    Parameters
    ----------
    corpus
        A categorical corpus whose recordings carry ``labels[category]``.
    mapping
        The category mapping (:func:`~contaffect.labels.mapping.load_mapping`).
    category
        The label holding the emotion category (``emotion`` in
        ``../shared/data`` and in the generic folder layout).
    dimensions
        Which of the mapping's dimensions to add (default: all).
    corpus_key
        Name to match the mapping's ``corpus`` column (default: the corpus
        name).
    unmapped
        ``error`` (default): a category the mapping does not list is an
        error naming it; ``drop``: such recordings are left out, and
        counted in a warning.

    Returns
    -------
    Corpus
        A copy; existing labels of the same name are replaced.

    See Also
    --------
    mapping_summary : the same decisions as a table, for reports.
    """
    UNMAPPED.entry(unmapped)
    dims = list(dimensions) if dimensions else mapping.dimensions
    for d in dims:
        if d not in mapping.classes:
            raise ConfigError(f"mapping {mapping.name!r} has no dimension {d!r}; it maps "
                              f"{mapping.dimensions}")
    key = corpus_key or corpus.name
    missing_label = [r.id for r in corpus if category not in r.labels]
    if missing_label:
        raise ConfigError(f"corpus {corpus.name!r}: {len(missing_label)} recording(s) have "
                          f"no {category!r} label (e.g. {missing_label[0]})")
    recs, unknown, empty = [], Counter(), Counter()
    cache: dict = {}
    for r in corpus:
        cat = str(r.labels[category])
        if cat not in cache:
            cache[cat] = _classes_of(mapping, cat, dims, key)
        classes = cache[cat]
        if classes is None:
            unknown[cat] += 1
            continue
        given = {d: c for d, c in classes.items() if c is not None}
        if not given:
            empty[cat] += 1
            continue
        kept = {k: v for k, v in r.labels.items() if k not in dims}
        recs.append(replace(r, labels={**kept, **given}))
    if unknown:
        listed = ", ".join(f"{k} ({v})" for k, v in sorted(unknown.items()))
        if unmapped == "error":
            raise ConfigError(
                f"mapping {mapping.name!r} does not list categories of corpus {corpus.name!r}: "
                f"{listed}. Use another mapping, add them to a copy of {mapping.name}.csv, or "
                "drop them (unmapped='drop')")
        log.warning("mapping %s: dropped %d recording(s) of unlisted categories: %s",
                    mapping.name, sum(unknown.values()), listed)
    if empty:
        log.info("mapping %s: %d recording(s) have no %s class: %s", mapping.name,
                 sum(empty.values()), "/".join(dims),
                 ", ".join(f"{k} ({v})" for k, v in sorted(empty.items())))
    if not recs:
        raise ConfigError(f"mapping {mapping.name!r} maps no recording of corpus {corpus.name!r}")
    return Corpus(corpus.name, recs, corpus.root)
