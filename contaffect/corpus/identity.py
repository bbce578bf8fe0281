"""Which recordings two corpora share, by audio content (not by name or path).

The protocol guard uses it: a test corpus must not contain audio that the
model was trained or validated on, whatever the corpus is called and
however its folder is reached (a second name, a symlink, a copy).
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from pathlib import Path

from contaffect.corpus.model import Corpus

_DIGESTS: dict[tuple, str] = {}


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, cached in the process by (resolved path, size, mtime)."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def shared_audio(a: Corpus, b: Corpus) -> list[tuple[str, str]]:
    """``(id in a, id in b)`` pairs whose audio files have identical bytes.

    Files are grouped by size first; only same-size files are hashed (SHA-256,
    cached by path, size and mtime), so disjoint corpora cost one ``stat``
    per file.
    """
    by_size: dict[int, list[tuple[str, Path]]] = defaultdict(list)
    for r in b:
        if r.audio is not None and Path(r.audio).is_file():
            by_size[os.stat(r.audio).st_size].append((r.id, Path(r.audio)))
    out = []
    for r in a:
        if r.audio is None or not Path(r.audio).is_file():
            continue
        cands = by_size.get(os.stat(r.audio).st_size)
        if not cands:
            continue
        d = file_digest(Path(r.audio))
        out += [(r.id, rid) for rid, p in cands if file_digest(p) == d]
    return out
