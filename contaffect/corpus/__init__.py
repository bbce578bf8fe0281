"""Corpora: the data model and the loaders for corpus layouts on disk.

=============  ===============================================  =====================
format         layout                                           loader
=============  ===============================================  =====================
``folder``     ``labels.csv`` (+ ``traces/<dim>/<id>.csv``)      :func:`load_folder`
``recola``     AVEC 2016 RECOLA                                 :func:`load_recola`
``semaine``    SEMAINE ``Sessions/<id>/``                        :func:`load_semaine`
``creativeit`` contaffect's CreativeIT schema                   :func:`load_creativeit`
``compare``    ComParE challenge package (``wav/``, ``lab/``)   :func:`load_compare`
``audformat``  audformat database (``db.yaml`` + tables)         :func:`load_audformat`
=============  ===============================================  =====================
"""

from __future__ import annotations

from pathlib import Path

from contaffect.errors import CorpusError
from contaffect.lazy import lazy_attributes
from contaffect.registry import Registry

#: Corpus layouts on disk -> loader (imported on first use; see the table above).
LOADERS = Registry("corpus format")
LOADERS.add("folder", "contaffect.corpus.folder:load_folder", "labels.csv (+ traces/<dim>/<id>.csv)")
LOADERS.add("recola", "contaffect.corpus.recola:load_recola", "AVEC 2016 RECOLA")
LOADERS.add("semaine", "contaffect.corpus.semaine:load_semaine", "SEMAINE Sessions/<id>/")
LOADERS.add("creativeit", "contaffect.corpus.creativeit:load_creativeit",
            "contaffect's CreativeIT schema")
LOADERS.add("compare", "contaffect.corpus.compare:load_compare",
            "ComParE challenge package (wav/, lab/)")
LOADERS.add("audformat", "contaffect.corpus.audformat_io:load_audformat",
            "audformat database (db.yaml)")

_WHERE = {
    "frame_table": "audformat_io", "load_audformat": "audformat_io",
    "read_predictions": "audformat_io", "write_audformat": "audformat_io",
    "write_predictions": "audformat_io",
    "read_arff": "arff", "read_feature_file": "arff", "write_arff": "arff",
    "is_compare": "compare", "load_baseline_features": "compare", "load_compare": "compare",
    "is_creativeit": "creativeit", "load_creativeit": "creativeit",
    "load_folder": "folder", "read_trace_csv": "folder",
    "Corpus": "model", "Recording": "model",
    "is_recola": "recola", "load_recola": "recola",
    "is_semaine": "semaine", "load_semaine": "semaine",
}


__getattr__ = lazy_attributes(__name__, _WHERE)


def detect_format(path: str | Path) -> str:
    """Name of the layout of a corpus folder (see the table in this module)."""
    from contaffect.corpus.compare import is_compare
    from contaffect.corpus.creativeit import is_creativeit
    from contaffect.corpus.recola import is_recola
    from contaffect.corpus.semaine import is_semaine

    path = Path(path)
    if (path / "db.yaml").is_file():
        return "audformat"
    if (path / "labels.csv").is_file():
        return "folder"
    for name, test in (("recola", is_recola), ("semaine", is_semaine),
                       ("creativeit", is_creativeit), ("compare", is_compare)):
        if test(path):
            return name
    raise CorpusError(
        f"{path}: corpus layout not recognised: expected a labels.csv (generic folder), "
        "recordings_audio/ + ratings_individual/ (RECOLA), Sessions/ (SEMAINE), "
        "actors.csv + annotations/ (CreativeIT), wav/ + lab/ (ComParE) or db.yaml "
        "(audformat); see the README"
    )


def load_corpus(path: str | Path, *, format: str = "auto", **options):
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
        return LOADERS.get(fmt)(path, **options)
    except TypeError as exc:  # an option this loader does not take
        raise CorpusError(f"{fmt} loader: {exc}") from None


__all__ = [
    "Corpus", "LOADERS", "Recording", "detect_format", "frame_table", "load_audformat",
    "load_baseline_features", "load_compare", "load_corpus", "load_creativeit", "load_folder",
    "load_recola", "load_semaine", "read_arff", "read_feature_file", "read_predictions",
    "read_trace_csv", "write_arff", "write_audformat", "write_predictions",
]
