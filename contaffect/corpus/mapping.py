"""Apply a category mapping to a corpus: emotion categories -> arousal / valence classes.

The mapping tables are data (:mod:`contaffect.labels.mapping`); this is the
corpus-level step that adds the class labels to every recording.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace

from contaffect.corpus.model import Corpus
from contaffect.errors import ConfigError
from contaffect.labels.mapping import CategoryMapping
from contaffect.registry import Registry

log = logging.getLogger(__name__)

#: Categories a mapping does not list.
UNMAPPED = Registry("unmapped policy")
UNMAPPED.add("error", doc="refuse, naming the categories")
UNMAPPED.add("drop", doc="leave those recordings out, counted in a warning")


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
    """
    UNMAPPED.entry(unmapped)
    dims = list(dimensions) if dimensions else mapping.dimensions
    key = corpus_key or corpus.name
    missing_label = [r.id for r in corpus if category not in r.labels]
    if missing_label:
        raise ConfigError(f"corpus {corpus.name!r}: {len(missing_label)} recording(s) have "
                          f"no {category!r} label (e.g. {missing_label[0]})")
    recs, unknown = [], Counter()
    for r in corpus:
        classes = {d: mapping.lookup(r.labels[category], d, key) for d in dims}
        if any(v is None for v in classes.values()):
            unknown[str(r.labels[category])] += 1
            continue
        recs.append(replace(r, labels={**r.labels, **classes}))
    if unknown:
        listed = ", ".join(f"{k} ({v})" for k, v in sorted(unknown.items()))
        if unmapped == "error":
            raise ConfigError(
                f"mapping {mapping.name!r} has no {'/'.join(dims)} class for categories of "
                f"corpus {corpus.name!r}: {listed}. Use another mapping, add the categories "
                f"to a copy of {mapping.name}.csv, or drop them (unmapped='drop')")
        log.warning("mapping %s: dropped %d recording(s) of unmapped categories: %s",
                    mapping.name, sum(unknown.values()), listed)
    if not recs:
        raise ConfigError(f"mapping {mapping.name!r} maps no recording of corpus {corpus.name!r}")
    return Corpus(corpus.name, recs, corpus.root)
