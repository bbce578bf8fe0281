"""Corpora: the data model and the loaders for corpus layouts on disk.

=============  ===============================================  =====================
format         layout                                           loader
=============  ===============================================  =====================
``folder``     ``labels.csv`` (+ ``traces/<dim>/<id>.csv``)      :func:`load_folder`
``recola``     AVEC 2016 RECOLA                                 :func:`load_recola`
``semaine``    SEMAINE ``Sessions/<id>/``                        :func:`load_semaine`
``creativeit`` contaffect's CreativeIT schema                   :func:`load_creativeit`
``compare``    ComParE challenge package (``wav/``, ``lab/``)   :func:`load_compare`
=============  ===============================================  =====================
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from contaffect.corpus.arff import read_arff, read_feature_file, write_arff
from contaffect.corpus.compare import is_compare, load_baseline_features, load_compare
from contaffect.corpus.creativeit import is_creativeit, load_creativeit
from contaffect.corpus.folder import load_folder, read_trace_csv
from contaffect.corpus.model import Corpus, Recording
from contaffect.corpus.recola import is_recola, load_recola
from contaffect.corpus.semaine import is_semaine, load_semaine
from contaffect.errors import CorpusError

LOADERS: dict[str, Callable[..., Corpus]] = {
    "folder": load_folder,
    "recola": load_recola,
    "semaine": load_semaine,
    "creativeit": load_creativeit,
    "compare": load_compare,
}


def detect_format(path: str | Path) -> str:
    """Name of the layout of a corpus folder (see the table in this module)."""
    path = Path(path)
    if (path / "labels.csv").is_file():
        return "folder"
    for name, test in (("recola", is_recola), ("semaine", is_semaine),
                       ("creativeit", is_creativeit), ("compare", is_compare)):
        if test(path):
            return name
    raise CorpusError(
        f"{path}: corpus layout not recognised: expected a labels.csv (generic folder), "
        "recordings_audio/ + ratings_individual/ (RECOLA), Sessions/ (SEMAINE), "
        "actors.csv + annotations/ (CreativeIT) or wav/ + lab/ (ComParE); see the README"
    )


def load_corpus(path: str | Path, *, format: str = "auto", **options) -> Corpus:
    """Load a corpus folder in any supported layout.

    Parameters
    ----------
    path
        The corpus folder.
    format
        ``"auto"`` (detect, see :func:`detect_format`) or a key of :data:`LOADERS`.
    **options
        Passed to the loader (``name``, ``on_missing_audio``, ...); ``None``
        values are dropped so callers can pass optional settings through.
    """
    path = Path(path)
    if not path.is_dir():
        raise CorpusError(f"corpus folder {path} does not exist")
    fmt = detect_format(path) if format == "auto" else format
    if fmt not in LOADERS:
        raise CorpusError(f"unknown corpus format {format!r}; known: auto, {', '.join(LOADERS)}")
    options = {k: v for k, v in options.items() if v is not None}
    try:
        return LOADERS[fmt](path, **options)
    except TypeError as exc:  # an option this loader does not take
        raise CorpusError(f"{fmt} loader: {exc}") from None


__all__ = [
    "Corpus", "LOADERS", "Recording", "detect_format", "load_baseline_features", "load_compare",
    "load_corpus", "load_creativeit", "load_folder", "load_recola", "load_semaine", "read_arff",
    "read_feature_file", "read_trace_csv", "write_arff",
]
