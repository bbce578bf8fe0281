"""Corpora: the data model and loaders for corpus layouts on disk."""

from __future__ import annotations

from pathlib import Path

from contaffect.corpus.folder import load_folder, read_trace_csv
from contaffect.corpus.model import Corpus, Recording
from contaffect.errors import CorpusError


def load_corpus(path: str | Path, *, format: str = "auto", **options) -> Corpus:
    """Load a corpus folder, detecting its layout.

    Parameters
    ----------
    path
        The corpus folder.
    format
        ``"auto"`` (detect) or ``"folder"`` (a ``labels.csv`` with optional
        ``traces/``; see :func:`load_folder`).
    **options
        Passed to the loader (``name``, ``on_missing_audio``, ...).
    """
    path = Path(path)
    if not path.is_dir():
        raise CorpusError(f"corpus folder {path} does not exist")
    if format in ("auto", "folder"):
        if format == "folder" or (path / "labels.csv").is_file():
            options = {k: v for k, v in options.items() if v is not None}
            return load_folder(path, **options)
        raise CorpusError(
            f"{path}: layout not recognised: expected a labels.csv (generic folder); "
            "see the README section on corpus layouts"
        )
    raise CorpusError(f"unknown corpus format {format!r}; known: auto, folder")


__all__ = ["Corpus", "Recording", "load_corpus", "load_folder", "read_trace_csv"]
