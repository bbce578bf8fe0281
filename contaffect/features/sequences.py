"""Variable-length utterance representations: one frame matrix per utterance.

Kernel classifiers take one vector per utterance, an ``(n, d)`` matrix. The
neural systems of the seed papers take the frames themselves (log-Mel
filterbanks, SSL layers): :class:`Sequences` holds them, together with the
corpus (domain) and speaker of each utterance, which multi-domain training
(seed 001's round-robin with per-corpus adapters) and speaker-independent
validation need. It indexes like an array (``X[rows]`` with integer or
boolean arrays), so the engines that slice feature matrices slice it too.

A frame may hold ``layers`` stacked representations side by side, e.g. the
hidden layers of a self-supervised model (HuBERT, wav2vec 2.0): columns
``[layer 0 | layer 1 | ...]``, each ``n_features / layers`` wide. Networks
that weight the layers (seed 004's heads, :mod:`contaffect.models.ssl_heads`)
read that count; every other consumer sees ordinary frames of width
``n_features``.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from contaffect.errors import ConfigError


class Sequences:
    """Frame matrices ``(T_i, d)`` of ``n`` utterances, with their domains and speakers.

    Parameters
    ----------
    arrays
        One float array ``(T_i, d)`` per utterance (same ``d``).
    domains
        The corpus of each utterance (default: all ``""``).
    speakers
        The speaker of each utterance (default: one speaker per utterance).
    rate
        Frames per second (for crops given in seconds).
    layers
        Stacked layers per frame: the columns are ``layers`` blocks of
        ``n_features / layers`` (layer 0 first); 1 for ordinary frames.

    Raises
    ------
    ConfigError
        Frames of several widths, a domain or speaker count other than ``n``,
        or a width that ``layers`` does not divide.
    """

    #: class default, so that sets pickled before ``layers`` existed read 1
    layers: int = 1

    def __init__(self, arrays: Sequence[np.ndarray], domains: Iterable[str] | None = None,
                 speakers: Iterable[str] | None = None, rate: float = 100.0,
                 layers: int = 1) -> None:
        self.arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
        dims = {a.shape[1] for a in self.arrays if a.ndim == 2}
        if any(a.ndim != 2 for a in self.arrays) or len(dims) > 1:
            raise ConfigError("Sequences need 2-D frame matrices of one width, got shapes "
                              f"{sorted({a.shape for a in self.arrays})[:4]}")
        n = len(self.arrays)
        self.domains = (np.asarray(list(domains), dtype=object) if domains is not None
                        else np.full(n, "", dtype=object))
        self.speakers = (np.asarray(list(speakers), dtype=object) if speakers is not None
                         else np.arange(n).astype(str).astype(object))
        if len(self.domains) != n or len(self.speakers) != n:
            raise ConfigError(f"{n} sequences but {len(self.domains)} domains and "
                              f"{len(self.speakers)} speakers")
        self.rate = float(rate)
        if isinstance(layers, bool) or int(layers) != layers or int(layers) < 1:
            raise ConfigError(f"Sequences need layers >= 1 (stacked layers per frame), "
                              f"got {layers!r}")
        self.layers = int(layers)
        if self.n_features % self.layers:
            raise ConfigError(f"frames of {self.n_features} features cannot hold "
                              f"{self.layers} stacked layers of one width")

    # array-like behaviour ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.arrays)

    @property
    def shape(self) -> tuple[int]:
        """``(n,)``: callers that read ``X.shape[0]`` get the number of utterances."""
        return (len(self.arrays),)

    @property
    def n_features(self) -> int:
        """Frame width ``d`` (0 for an empty set)."""
        return self.arrays[0].shape[1] if self.arrays else 0

    @property
    def layer_width(self) -> int:
        """Width of one stacked layer, ``n_features / layers``."""
        return self.n_features // self.layers

    def __getitem__(self, idx):
        if isinstance(idx, (int, np.integer)):
            return self.arrays[int(idx)]
        if isinstance(idx, slice):
            idx = np.arange(len(self))[idx]
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise IndexError(f"boolean index of {idx.shape} for {len(self)} sequences")
            idx = np.flatnonzero(idx)
        idx = idx.astype(int).ravel()
        return Sequences([self.arrays[i] for i in idx], self.domains[idx], self.speakers[idx],
                         self.rate, self.layers)

    def lengths(self) -> np.ndarray:
        """Frames per utterance."""
        return np.array([a.shape[0] for a in self.arrays], dtype=int)

    def map(self, fn, layers: int | None = None) -> "Sequences":
        """The same utterances with ``fn`` applied to each frame matrix.

        Parameters
        ----------
        fn
            Frame matrix ``(T, d)`` -> frame matrix ``(T', d')``.
        layers
            Stacked layers of the result; None keeps this set's count (``fn``
            then has to keep a width that count divides).

        Returns
        -------
        Sequences
            Same domains, speakers and rate.
        """
        return Sequences([fn(a) for a in self.arrays], self.domains, self.speakers, self.rate,
                         self.layers if layers is None else layers)

    def all_finite(self) -> bool:
        """True if no frame holds NaN or infinity."""
        return all(np.isfinite(a).all() for a in self.arrays)

    def zero_non_finite(self) -> int:
        """Set non-finite values to 0 in place; returns how many there were."""
        bad = 0
        for a in self.arrays:
            mask = ~np.isfinite(a)
            if mask.any():
                bad += int(mask.sum())
                a[mask] = 0.0
        return bad

    @classmethod
    def concat(cls, parts: Sequence["Sequences"]) -> "Sequences":
        """Stack several sets (same width, rate and stacked layers) in order.

        Raises
        ------
        ConfigError
            Parts of different frame rates or layer counts (or widths).
        """
        rates = {p.rate for p in parts}
        if len(rates) > 1:
            raise ConfigError(f"cannot stack sequences of different frame rates {sorted(rates)}")
        layers = {p.layers for p in parts}
        if len(layers) > 1:
            raise ConfigError("cannot stack sequences of different stacked layer counts "
                              f"{sorted(layers)}")
        return cls([a for p in parts for a in p.arrays],
                   np.concatenate([p.domains for p in parts]) if parts else None,
                   np.concatenate([p.speakers for p in parts]) if parts else None,
                   rates.pop() if rates else 100.0, layers.pop() if layers else 1)


def zscore_groups(X: Sequences, groups: np.ndarray, stats_rows: dict | None = None,
                  eps: float = 1e-8) -> Sequences:
    r"""Frames z-scored per group (speaker or corpus) with that group's frame statistics.

    :math:`(x_t - \mu_g) / \sigma_g`, :math:`\mu_g, \sigma_g` over every frame of
    the group's utterances (or of ``stats_rows[g]``, row indices, when given:
    e.g. a corpus' training rows). The utterance-level counterpart of the
    paper's speaker z-norm of LLDs, applied to frame sequences.
    """
    from contaffect.features.normalise import zscore_stats

    groups = np.asarray(groups, dtype=object)
    out = list(X.arrays)
    for g in dict.fromkeys(groups.tolist()):
        rows = np.flatnonzero(groups == g)
        src = rows if stats_rows is None or g not in stats_rows else stats_rows[g]
        mu, sd = zscore_stats([X.arrays[i] for i in src], eps)
        for i in rows:
            out[i] = ((X.arrays[i] - mu) / sd).astype(np.float32)
    return Sequences(out, X.domains, X.speakers, X.rate, X.layers)
