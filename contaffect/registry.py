"""Registries: named choices that live next to the code implementing them.

A registry maps a name (``"kelm"``, ``"speaker"``, ``"compare2016_lld"``) to
an entry and a one-line description. Config validation, the command line and
the generated config reference read the names from here, so a new system is
a new entry, not a new ``if`` in several files.

Entries may be anything: a class, a builder function, or a dotted path
(``"contaffect.features.audeep:RecurrentAutoencoder"``) resolved on first
use, so that a registry can be read without importing heavy dependencies
(torch) that only its entries need.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from contaffect.errors import ConfigError


@dataclass(frozen=True)
class Entry:
    """One registered choice."""

    name: str
    target: Any
    doc: str = ""
    extra: tuple = ()

    def load(self) -> Any:
        """The entry itself; a ``"module:attr"`` string is imported on first use."""
        if isinstance(self.target, str) and ":" in self.target:
            module, _, attr = self.target.partition(":")
            return getattr(importlib.import_module(module), attr)
        return self.target


class Registry:
    """Name -> entry, with "did you mean" errors.

    Parameters
    ----------
    kind
        What the entries are, for messages (``"classifier"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, target: Any = None, doc: str = "", **extra) -> Any:
        """Register ``target`` under ``name`` (returns ``target``)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, target if target is not None else name, doc,
                                    tuple(sorted(extra.items())))
        return target

    def register(self, name: str, doc: str = "", **extra) -> Callable[[Any], Any]:
        """Decorator form of :meth:`add`."""
        def deco(obj):
            self.add(name, obj, doc, **extra)
            return obj
        return deco

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._entries)

    def entry(self, name: str) -> Entry:
        """The entry of ``name``; unknown names give a one-line "did you mean" error."""
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}{suggest(name, self.names())}")
        return self._entries[name]

    def get(self, name: str) -> Any:
        """The loaded target of ``name``."""
        return self.entry(name).load()

    def extra(self, name: str) -> dict:
        """Extra attributes given at registration (e.g. ``kind="lld"``)."""
        return dict(self.entry(name).extra)

    def docs(self) -> dict[str, str]:
        """Name -> one-line description."""
        return {k: e.doc for k, e in self._entries.items()}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"


def suggest(word: str, known: list[str]) -> str:
    """``"; did you mean 'x'?"`` or ``"; choose from a, b, c"``."""
    same_case = [k for k in known if str(k).lower() == str(word).lower()]
    if same_case:
        return f"; did you mean {same_case[0]!r}?"
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; choose from {', '.join(map(str, known))}" if known else ""
