"""Bag-of-audio-words over frame-level LLDs, in the manner of openXBOW (Schmitt & Schuller 2017).

The ComParE 2017-2018 baselines quantise the 130 ComParE LLDs (65 + deltas)
with openXBOW: standardise the frames, learn one codebook for the LLDs and one
for their deltas, assign each frame to its ``a`` nearest codewords (multiple
assignment), count per utterance, and take the logarithm of the term
frequencies. This implementation behaves the same way and is seeded: the same
``random_state`` gives the same codebook and the same bags (Kaya, Fedotov et
al. 2018, Sec. 4.1, note that the official bags could not be reproduced).

Codebooks (``init``):

- ``random``: codewords are training frames drawn at random (openXBOW ``-c random``);
- ``random++``: k-means++ seeding only (openXBOW ``-c random++``);
- ``kmeans`` / ``kmeans++``: Lloyd's k-means from random / k-means++ seeds.

Codebooks are learnt on the training partition only; :meth:`save` and
:meth:`load` keep them for reuse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans, kmeans_plusplus

from contaffect.errors import ConfigError, FeatureError

_INITS = ("random", "random++", "kmeans", "kmeans++")


def delta_blocks(names: Sequence[str]) -> list[np.ndarray]:
    """Column indices of the LLDs and of their deltas (names ending in ``_de``)."""
    de = np.array([n.endswith("_de") or "_de[" in n for n in names])
    blocks = [np.flatnonzero(~de), np.flatnonzero(de)]
    return [b for b in blocks if b.size]


class BagOfAudioWords(TransformerMixin, BaseEstimator):
    r"""Quantise frame sequences into one histogram of audio words per utterance.

    For utterance :math:`u` with standardised frames :math:`z_t` and codebook
    :math:`\{c_k\}`, :math:`\mathrm{tf}_k = \#\{t : c_k \in \mathrm{NN}_a(z_t)\}`
    (the ``a`` nearest codewords in Euclidean distance), and the feature is
    :math:`\log_{10}(1 + \mathrm{tf}_k)`; one histogram per block (LLDs,
    deltas), concatenated.

    Parameters
    ----------
    codebook_size
        Words per block (ComParE baselines: 125 to 2000).
    n_assign
        Nearest words each frame counts for (ComParE: 10).
    init
        ``random``, ``random++``, ``kmeans`` or ``kmeans++``.
    split_deltas
        Separate codebooks for LLDs and deltas (needs ``names`` in :meth:`fit`).
    log_tf
        Logarithmic term frequency.
    max_frames
        Training frames used to learn a codebook (seeded subsample; all if fewer).
    kmeans_iter
        Lloyd iterations for the k-means codebooks.
    random_state
        Seed of sampling and clustering.

    Attributes
    ----------
    mean_, scale_
        Input standardisation (training frames).
    blocks_
        Column indices per block.
    codebooks_
        One ``(codebook_size, block width)`` array per block.
    """

    def __init__(self, codebook_size: int = 500, n_assign: int = 10, init: str = "random",
                 split_deltas: bool = True, log_tf: bool = True, max_frames: int = 200_000,
                 kmeans_iter: int = 20, random_state: int = 0) -> None:
        self.codebook_size = codebook_size
        self.n_assign = n_assign
        self.init = init
        self.split_deltas = split_deltas
        self.log_tf = log_tf
        self.max_frames = max_frames
        self.kmeans_iter = kmeans_iter
        self.random_state = random_state

    @staticmethod
    def _frames(sequences) -> list[np.ndarray]:
        seqs = [np.asarray(s, dtype=np.float64) for s in sequences]
        if not seqs:
            raise FeatureError("no frame sequences given")
        widths = {s.shape[1] if s.ndim == 2 else -1 for s in seqs}
        if len(widths) != 1 or -1 in widths:
            raise FeatureError(f"frame sequences must be 2-D with one width, got {sorted(widths)}")
        for s in seqs:
            if not np.all(np.isfinite(s)):
                raise FeatureError("frames contain NaN or infinite values")
        return seqs

    def fit(self, sequences: Sequence[np.ndarray], y=None,
            names: Sequence[str] | None = None) -> "BagOfAudioWords":
        """Learn standardisation and codebooks from training utterances' frames."""
        if self.init not in _INITS:
            raise ConfigError(f"init must be one of {_INITS}, got {self.init!r}")
        if self.codebook_size < 1 or not 1 <= self.n_assign <= self.codebook_size:
            raise ConfigError(f"need 1 <= n_assign ({self.n_assign}) <= codebook_size "
                              f"({self.codebook_size})")
        seqs = self._frames(sequences)
        X = np.vstack(seqs)
        if X.shape[0] < self.codebook_size:
            raise FeatureError(f"{X.shape[0]} training frames cannot make a codebook of "
                               f"{self.codebook_size} words")
        self.n_features_in_ = X.shape[1]
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        Z = (X - self.mean_) / self.scale_
        rng = np.random.default_rng(self.random_state)
        if Z.shape[0] > self.max_frames:
            Z = Z[np.sort(rng.choice(Z.shape[0], self.max_frames, replace=False))]
        if self.split_deltas:
            if names is None:
                raise ConfigError("split_deltas needs the feature names (to find the deltas)")
            if len(names) != X.shape[1]:
                raise ConfigError(f"{len(names)} names for {X.shape[1]} columns")
            self.blocks_ = delta_blocks(names)
        else:
            self.blocks_ = [np.arange(X.shape[1])]
        self.codebooks_ = []
        for i, cols in enumerate(self.blocks_):
            Zb = Z[:, cols]
            seed = int(rng.integers(2**31 - 1))
            if self.init == "random":
                words = Zb[np.sort(np.random.default_rng(seed).choice(
                    Zb.shape[0], self.codebook_size, replace=False))]
            elif self.init == "random++":
                words, _ = kmeans_plusplus(Zb, self.codebook_size, random_state=seed)
            else:
                km = KMeans(self.codebook_size, init="k-means++" if self.init == "kmeans++"
                            else "random", n_init=1, max_iter=self.kmeans_iter,
                            random_state=seed).fit(Zb)
                words = km.cluster_centers_
            self.codebooks_.append(np.ascontiguousarray(words))
        return self

    def _counts(self, Z: np.ndarray, words: np.ndarray, chunk: int = 16384) -> np.ndarray:
        tf = np.zeros(words.shape[0])
        wn = (words * words).sum(1)
        a = self.n_assign
        for start in range(0, Z.shape[0], chunk):
            z = Z[start:start + chunk]
            d = wn[None, :] - 2 * z @ words.T            # + |z|^2, constant per row
            if a < words.shape[0]:
                near = np.argpartition(d, a - 1, axis=1)[:, :a]
            else:
                near = np.broadcast_to(np.arange(words.shape[0]), d.shape)
            tf += np.bincount(near.ravel(), minlength=words.shape[0])
        return tf

    def transform(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """``(n_utterances, n_blocks * codebook_size)`` bags."""
        if not hasattr(self, "codebooks_"):
            raise ConfigError("BagOfAudioWords is not fitted; call fit on training frames first")
        seqs = self._frames(sequences)
        if seqs[0].shape[1] != self.n_features_in_:
            raise FeatureError(f"fitted on {self.n_features_in_} features, got {seqs[0].shape[1]}")
        out = np.zeros((len(seqs), len(self.codebooks_) * self.codebook_size))
        for i, s in enumerate(seqs):
            Z = (s - self.mean_) / self.scale_
            hist = [self._counts(Z[:, cols], words)
                    for cols, words in zip(self.blocks_, self.codebooks_)]
            out[i] = np.concatenate(hist)
        return np.log10(1.0 + out) if self.log_tf else out

    def save(self, path: str | Path) -> Path:
        """Write the codebooks and standardisation (``.npz``, no pickles) for reuse."""
        import json

        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"mean": self.mean_, "scale": self.scale_,
                  "params": np.array(json.dumps(self.get_params()))}
        for i, (cols, words) in enumerate(zip(self.blocks_, self.codebooks_)):
            arrays[f"block{i}"] = cols
            arrays[f"codebook{i}"] = words
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "BagOfAudioWords":
        """Read codebooks written by :meth:`save`."""
        import json

        try:
            data = np.load(path, allow_pickle=False)
            est = cls(**json.loads(str(data["params"])))
            est.mean_, est.scale_ = data["mean"], data["scale"]
            n = sum(1 for k in data.files if k.startswith("codebook"))
            est.blocks_ = [data[f"block{i}"] for i in range(n)]
            est.codebooks_ = [data[f"codebook{i}"] for i in range(n)]
        except (OSError, ValueError, KeyError) as exc:
            raise FeatureError(f"cannot read a BoAW codebook from {path}: {exc}") from None
        est.n_features_in_ = est.mean_.size
        return est
