"""Wall time per pipeline stage (corpora, features, training, evaluation, ...).

Stages nest; each is charged only its own time (a stage's children are
subtracted), so the totals add up to the time spent inside any stage.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

_totals: dict[str, float] = defaultdict(float)
_stack: list[list[float]] = []          # [start, time spent in children]


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Charge the time inside the block (minus nested stages) to ``name``."""
    _stack.append([time.perf_counter(), 0.0])
    try:
        yield
    finally:
        start, children = _stack.pop()
        elapsed = time.perf_counter() - start
        _totals[name] += elapsed - children
        if _stack:
            _stack[-1][1] += elapsed


def totals() -> dict[str, float]:
    """Seconds per stage so far, rounded."""
    return {k: round(v, 1) for k, v in _totals.items()}


def reset() -> None:
    """Forget the totals (at the start of a run)."""
    _totals.clear()
